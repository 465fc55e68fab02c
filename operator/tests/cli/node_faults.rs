//! Issue 11, finding 5: a two-file node change is one transaction. `gpuplan node apply` and
//! `revert` are killed (SIGKILL) at every point of every write — a temporary file written but
//! not renamed, each step made — through the test-only `GPUPLAN_FAULT_PAUSE` hook. After each
//! kill: no file is partial, no config imports a missing drop-in; the next run cleans up the
//! killed writer's temporary file and finishes the change exactly as an uninterrupted run
//! does; a revert then gives back the original bytes.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ORIGINAL: &str = "# the node's own config\r\nversion = 2\r\n\r\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\r\n  default_runtime_name = \"runc\"\r\n";
const CONFIG: &str = "etc/containerd/config.toml";
const DROP_IN: &str = "etc/containerd/conf.d/99-nvidia.toml";
const RECORD: &str = "etc/containerd/.config.toml.gpuplan";
/// Values that change the drop-in, for an update transaction (its record holds a journal).
const OTHER: &str = "toolkit.env[0].name=CONTAINERD_SET_AS_DEFAULT,toolkit.env[0].value=true";

struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("etc/containerd")).expect("mkdir");
        fs::write(dir.path().join(CONFIG), ORIGINAL).expect("write");
        Node { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn command(&self, action: &str, set: Option<&str>) -> Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("gpuplan"));
        command.args(["node", action, "--config"]).arg(self.path(CONFIG));
        command.arg("--drop-in").arg(self.path(DROP_IN)).arg("--lock").arg(self.path("toolkit.pid"));
        if let Some(set) = set {
            command.args(["--set", set]);
        }
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        command
    }

    fn run(&self, action: &str, set: Option<&str>) {
        let out = self.command(action, set).output().expect("runs");
        assert!(out.status.success(), "gpuplan node {action}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Run `action`, stopped by SIGKILL at `point`; false when the run never got there.
    fn kill_at(&self, action: &str, set: Option<&str>, point: &str) -> bool {
        let marker = self.path("paused");
        let _ = fs::remove_file(&marker);
        let mut child = self
            .command(action, set)
            .env("GPUPLAN_FAULT_PAUSE", format!("{}:{point}", marker.display()))
            .spawn()
            .expect("spawns");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !marker.exists() {
            if child.try_wait().expect("waits").is_some() {
                return false;
            }
            assert!(Instant::now() < deadline, "{action} never reached {point}");
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        true
    }

    /// The three files' texts, this node's directory written `<dir>` (so nodes compare).
    fn files(&self) -> [Option<String>; 3] {
        let dir = self.dir.path().display().to_string();
        [CONFIG, DROP_IN, RECORD].map(|rel| fs::read_to_string(self.path(rel)).ok().map(|t| t.replace(&dir, "<dir>")))
    }

    fn temporaries(&self) -> Vec<String> {
        let mut found = Vec::new();
        for dir in ["etc/containerd", "etc/containerd/conf.d"] {
            for entry in fs::read_dir(self.path(dir)).into_iter().flatten().filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.contains(".gpuplan-") {
                    found.push(name);
                }
            }
        }
        found
    }
}

/// The files an uninterrupted run leaves: after `apply`, after `apply` of OTHER on top.
fn clean_results() -> ([Option<String>; 3], [Option<String>; 3]) {
    let node = Node::new();
    node.run("apply", None);
    let first = node.files();
    node.run("apply", Some(OTHER));
    (first, node.files())
}

fn points(steps: usize) -> Vec<String> {
    (0..steps).flat_map(|n| [format!("step-{n}-temp"), format!("step-{n}-done")]).collect()
}

/// No partial file: each is one of the texts a whole run leaves; no import of a missing drop-in.
fn consistent(node: &Node, allowed: &[&[Option<String>; 3]], at: &str) {
    let now = node.files();
    for (i, rel) in [CONFIG, DROP_IN].iter().enumerate() {
        assert!(allowed.iter().any(|a| a[i] == now[i]), "{at}: {rel} is none of the whole texts: {:?}", now[i]);
    }
    let imports = now[0].as_deref().is_some_and(|t| t.contains("conf.d/*.toml"));
    assert!(!imports || now[1].is_some(), "{at}: the config imports a missing drop-in");
}

#[test]
fn killed_at_any_write_the_next_apply_finishes_and_revert_gives_the_bytes_back() {
    let (first, second) = clean_results();
    let original = [Some(ORIGINAL.to_owned()), None, None];
    let mut reached = 0;
    // The first apply: record, drop-in, config.
    for point in points(3) {
        let node = Node::new();
        if !node.kill_at("apply", None, &point) {
            continue;
        }
        reached += 1;
        consistent(&node, &[&original, &first], &point);
        node.run("apply", None);
        assert_eq!(node.files(), first, "apply after a kill at {point}");
        assert!(node.temporaries().is_empty(), "{point}: left {:?}", node.temporaries());
        node.run("revert", None);
        assert_eq!(node.files(), original, "revert after a kill at {point}");
    }
    // An update with other values: record (journal), drop-in, record (settled); the config
    // already imports the drop-in.
    for point in points(3) {
        let node = Node::new();
        node.run("apply", None);
        if !node.kill_at("apply", Some(OTHER), &point) {
            continue;
        }
        reached += 1;
        consistent(&node, &[&first, &second], &point);
        node.run("apply", Some(OTHER));
        assert_eq!(node.files(), second, "update after a kill at {point}");
        node.run("revert", None);
        assert_eq!(node.files(), original, "revert after a kill in the update at {point}");
    }
    // Revert: config, drop-in (deleted), record (deleted).
    for point in points(3) {
        let node = Node::new();
        node.run("apply", None);
        if !node.kill_at("revert", None, &point) {
            continue;
        }
        reached += 1;
        consistent(&node, &[&first, &original], &point);
        node.run("revert", None);
        assert_eq!(node.files(), original, "revert after a kill at {point}");
        assert!(node.temporaries().is_empty(), "{point}: left {:?}", node.temporaries());
    }
    // Every write point of the three transactions (deletions have no temporary file).
    assert_eq!(reached, 6 + 6 + 4, "kill points reached");
}

/// The CLI takes the node agent's lock: while an agent holds it, nothing is written.
#[test]
fn a_held_lock_stops_the_cli_and_nothing_is_written() {
    let node = Node::new();
    let file = fs::File::create(node.path("toolkit.pid")).expect("create");
    let _held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, errno)| errno)
        .expect("locks");
    let out = node.command("apply", None).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another node agent"), "{stderr}");
    assert_eq!(node.files(), [Some(ORIGINAL.to_owned()), None, None]);
}
