//! `gpuplan node diff|apply|revert` on files in a temp dir, driven by the values flags.

use std::fs;

use super::gpuplan;

const CONFIG: &str = "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n";

struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new(config: Option<&str>) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        if let Some(text) = config {
            fs::write(dir.path().join("config.toml"), text).expect("write");
        }
        Node { dir }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let config = self.dir.path().join("config.toml");
        let drop_in = self.dir.path().join("conf.d/99-nvidia.toml");
        gpuplan()
            .arg("node")
            .args(args)
            .arg("--config")
            .arg(config)
            .arg("--drop-in")
            .arg(drop_in)
            .arg("--lock")
            .arg(self.dir.path().join("toolkit.pid"))
            .output()
            .expect("runs")
    }

    fn config(&self) -> Option<String> {
        fs::read_to_string(self.dir.path().join("config.toml")).ok()
    }

    fn drop_in(&self) -> Option<String> {
        fs::read_to_string(self.dir.path().join("conf.d/99-nvidia.toml")).ok()
    }
}

#[test]
fn diff_shows_both_files_and_exits_1_then_0_once_applied() {
    let node = Node::new(Some(CONFIG));
    let out = node.run(&["diff"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(diff.contains("+imports = [\""), "{diff}");
    assert!(diff.contains("--- /dev/null\n+++ b"), "the drop-in is new: {diff}");
    assert_eq!(node.config().as_deref(), Some(CONFIG), "diff writes nothing");

    let out = node.run(&["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(node.drop_in().is_some_and(|d| d.contains("runtimes.nvidia]")));

    let out = node.run(&["diff"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "nothing left to change");
}

/// The files' modification times: a second apply must not touch them.
fn mtimes(node: &Node) -> Vec<std::time::SystemTime> {
    ["config.toml", "conf.d/99-nvidia.toml", ".config.toml.gpuplan"]
        .iter()
        .map(|f| fs::metadata(node.dir.path().join(f)).and_then(|m| m.modified()).expect("written"))
        .collect()
}

#[test]
fn apply_then_revert_gives_back_the_original_bytes() {
    let node = Node::new(Some(CONFIG));
    assert!(node.run(&["apply"]).status.success());
    assert_ne!(node.config().as_deref(), Some(CONFIG));
    let written = mtimes(&node);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = node.run(&["apply"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unchanged: nothing to write"), "second apply is a no-op");
    assert_eq!(mtimes(&node), written, "a second apply leaves every file's mtime as it was");
    assert!(node.run(&["revert"]).status.success());
    assert_eq!(node.config().as_deref(), Some(CONFIG));
    assert_eq!(node.drop_in(), None);
}

#[test]
fn a_missing_config_is_created_and_deleted_again() {
    let node = Node::new(None);
    assert!(node.run(&["apply"]).status.success());
    assert!(node.config().is_some_and(|c| c.starts_with("# Created by gpuplan")));
    assert!(node.run(&["revert"]).status.success());
    assert_eq!(node.config(), None);
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let node = Node::new(Some(CONFIG));
    let out = node.run(&["apply", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("+imports"));
    assert_eq!(node.config().as_deref(), Some(CONFIG));
    assert_eq!(node.drop_in(), None);
}

#[test]
fn malformed_toml_is_an_error_with_position_and_the_file_is_untouched() {
    let broken = "version = 2\n[plugins\n";
    let node = Node::new(Some(broken));
    let out = node.run(&["apply"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("config.toml:2:9: "), "{stderr}");
    assert_eq!(node.config().as_deref(), Some(broken));
    assert_eq!(node.drop_in(), None);
}

#[test]
fn a_symlinked_config_is_refused() {
    let node = Node::new(None);
    let real = node.dir.path().join("real.toml");
    fs::write(&real, CONFIG).expect("write");
    std::os::unix::fs::symlink(&real, node.dir.path().join("config.toml")).expect("symlink");
    let out = node.run(&["apply"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    assert_eq!(fs::read_to_string(&real).expect("read"), CONFIG);
}

#[test]
fn values_flags_drive_the_change() {
    let node = Node::new(Some(CONFIG));
    let out = node.run(&["diff", "--set", "toolkit.env[0].name=CONTAINERD_SET_AS_DEFAULT,toolkit.env[0].value=true"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("+default_runtime_name = \"nvidia\""));
    let out = node.run(&["diff", "--set", "toolkit.env[0].name=CONTAINERD_SOCKETT,toolkit.env[0].value=/x"]);
    assert_eq!(out.status.code(), Some(2), "an unknown variable stops the command");
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `CONTAINERD_SOCKET`?"));
}

/// Issue 11: a file gpuplan did not write at the drop-in path is refused (exit 2, nothing
/// written); `--take-over` replaces it and revert puts it back.
#[test]
fn a_foreign_drop_in_is_refused_unless_taken_over() {
    let node = Node::new(Some(CONFIG));
    let admin = "# mine\nversion = 2\n";
    fs::create_dir_all(node.dir.path().join("conf.d")).expect("mkdir");
    fs::write(node.dir.path().join("conf.d/99-nvidia.toml"), admin).expect("write");
    let out = node.run(&["apply"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to change") && stderr.contains("99-nvidia.toml"), "{stderr}");
    assert!(stderr.contains("--take-over"), "{stderr}");
    assert_eq!((node.config().as_deref(), node.drop_in().as_deref()), (Some(CONFIG), Some(admin)));

    let out = node.run(&["apply", "--take-over"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("recorded what it replaced in"));
    assert!(node.run(&["revert"]).status.success());
    assert_eq!((node.config().as_deref(), node.drop_in().as_deref()), (Some(CONFIG), Some(admin)));
    assert!(!node.dir.path().join(".config.toml.gpuplan").exists(), "the record goes with the revert");
}
