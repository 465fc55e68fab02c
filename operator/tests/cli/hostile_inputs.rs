//! Issue 14: hostile and huge inputs, through the real binary. Each test gives what a hostile
//! user (or an unlucky one) would: `/dev/zero` as a values file, a FIFO nobody writes to, a
//! file of a thousand unknown keys, symbolic links planted in `--output-dir`, names Helm
//! refuses, a secret in a flag that does not parse, values nested past what a plan can hold.
//! Each checks the outcome: exit 2 with an error naming the limit or the path, or the work done.
//! Timings are a benchmark's job (`cargo bench -p gpuplan --bench inputs`), not a test's.

use std::fs;
use std::path::Path;
use std::time::Duration;

use super::gpuplan;

/// The deadline of a command that used to hang or eat the machine's memory.
const DEADLINE: Duration = Duration::from_secs(60);

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = gpuplan().args(args).timeout(DEADLINE).output().expect("runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn dev_zero_as_a_values_file_or_a_set_file_is_refused_at_64_mib() {
    for args in [&["values", "-f", "/dev/zero"][..], &["values", "--set-file", "driver.version=/dev/zero"]] {
        let (code, stderr) = stderr_of(args);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("is larger than 64 MiB, gpuplan's limit for one input"), "{stderr}");
        assert!(stderr.contains("/dev/zero"), "names the input: {stderr}");
    }
}

#[test]
fn dev_zero_as_a_node_config_is_refused_at_64_mib() {
    for args in [&["node", "diff", "--config", "/dev/zero"][..], &["plan", "--node-config", "/dev/zero"]] {
        let (code, stderr) = stderr_of(args);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains("cannot read /dev/zero: it is larger than 64 MiB, gpuplan's limit for one input"),
            "{stderr}"
        );
    }
}

fn fifo(dir: &Path) -> String {
    let path = dir.join("values.fifo");
    let made = std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo runs");
    assert!(made.success());
    path.display().to_string()
}

#[test]
fn a_fifo_nobody_writes_to_is_an_error_after_the_read_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fifo(dir.path());
    let out = gpuplan()
        .args(["values", "-f", &path])
        .env("GPUPLAN_READ_TIMEOUT", "1")
        .timeout(DEADLINE)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("cannot read `{path}`")), "{stderr}");
    assert!(stderr.contains("did not reach its end within 1 s"), "{stderr}");
}

#[test]
fn a_fifo_with_a_writer_is_read_as_a_values_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fifo(dir.path());
    let writer_path = path.clone();
    let writer = std::thread::spawn(move || fs::write(writer_path, "driver:\n  version: \"550.1\"\n"));
    let out = gpuplan().args(["values", "-o", "json", "-f", &path]).timeout(DEADLINE).output().expect("runs");
    writer.join().expect("writer").expect("written");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let values: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(values["driver"]["version"], "550.1");
}

#[test]
fn lint_prints_the_first_100_diagnostics_in_full_then_counts_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("unknown.yaml");
    let text: String = (0..1000).map(|i| format!("unknownKey{i}: value{i}\n")).collect();
    fs::write(&file, text).expect("write");
    let out = gpuplan().args(["lint", "-f"]).arg(&file).timeout(DEADLINE).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("\nerror: ").count() + usize::from(stdout.starts_with("error: ")), 100, "{stdout}");
    assert!(stdout.contains("unknown.yaml:1:1\n"), "snippets keep their line: {stdout}");
    assert!(
        stdout.ends_with("... and 900 more errors, not shown (gpuplan prints the first 100 in full)\n\nlint: 1000 errors, 0 warnings\n"),
        "{}",
        &stdout[stdout.len().saturating_sub(300)..]
    );
}

/// `template --output-dir` into `dir`: exit code and stderr.
fn template_into(dir: &Path) -> (Option<i32>, String) {
    let out = gpuplan().args(["template", "--output-dir"]).arg(dir).timeout(DEADLINE).output().expect("runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn output_dir_never_writes_through_a_symbolic_link_planted_in_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let (out, victim) = (root.path().join("out"), root.path().join("victim"));
    fs::create_dir_all(out.join("gpuplan/driver")).expect("mkdir");
    fs::create_dir_all(&victim).expect("mkdir");
    fs::write(victim.join("file"), "precious\n").expect("write");

    // A link at a file's name.
    let planted = out.join("gpuplan/driver/daemonset.yaml");
    std::os::unix::fs::symlink(victim.join("file"), &planted).expect("symlink");
    let (code, stderr) = template_into(&out);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&format!("refusing to write to {}: it is a symbolic link", planted.display())), "{stderr}");
    assert_eq!(fs::read_to_string(victim.join("file")).expect("read"), "precious\n");

    // A link at a directory's name.
    fs::remove_file(&planted).expect("rm");
    let planted = out.join("gpuplan/dcgm-exporter");
    std::os::unix::fs::symlink(&victim, &planted).expect("symlink");
    let (code, stderr) = template_into(&out);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&format!("refusing to write to {}: it is a symbolic link", planted.display())), "{stderr}");
    let names: Vec<_> = fs::read_dir(&victim).expect("ls").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(names, ["file"], "nothing written into the victim");

    // The output directory itself.
    fs::remove_file(&planted).expect("rm");
    let link = root.path().join("link");
    std::os::unix::fs::symlink(&out, &link).expect("symlink");
    let (code, stderr) = template_into(&link);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&format!("refusing to write to {}: it is a symbolic link", link.display())), "{stderr}");
}

#[test]
fn output_dir_replaces_what_it_wrote_and_what_sits_at_a_files_name() {
    let root = tempfile::tempdir().expect("tempdir");
    let out = root.path().join("out");
    let (code, stderr) = template_into(&out);
    assert_eq!(code, Some(0), "{stderr}");
    let file = out.join("gpuplan/driver/daemonset.yaml");
    let first = fs::read_to_string(&file).expect("written");
    assert!(first.starts_with("---\n# Source: gpuplan/driver/daemonset.yaml\n"), "{first}");

    // A hard link to another file, and a FIFO: replaced by name, never written through.
    let other = root.path().join("other");
    fs::write(&other, "precious\n").expect("write");
    fs::remove_file(&file).expect("rm");
    fs::hard_link(&other, &file).expect("link");
    let fifo_name = out.join("gpuplan/driver/serviceaccount.yaml");
    fs::remove_file(&fifo_name).expect("rm");
    assert!(std::process::Command::new("mkfifo").arg(&fifo_name).status().expect("mkfifo").success());
    let (code, stderr) = template_into(&out);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("refusing to write to {}: it is not a regular file", fifo_name.display())),
        "{stderr}"
    );
    fs::remove_file(&fifo_name).expect("rm");
    let (code, stderr) = template_into(&out);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(fs::read_to_string(&file).expect("read"), first);
    assert_eq!(fs::read_to_string(&other).expect("read"), "precious\n");
}

#[test]
fn release_names_and_namespaces_helm_refuses_are_refused_everywhere() {
    let helm = r"invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53";
    let long = "a".repeat(300);
    for args in [
        vec!["template", "UPPER space"],
        vec!["template", "../../etc"],
        vec!["template", &long],
        vec!["plan", "a_b"],
        vec!["install", "UPPER"],
        vec!["uninstall", "UPPER"],
        vec!["explain", "ds/x", "metadata.name", "--release-name", "UPPER"],
        vec!["diff", "--against", "plan.yaml", "--name", "UPPER"],
    ] {
        let (code, stderr) = stderr_of(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(helm), "{args:?}: {stderr}");
    }
    let (code, stderr) = stderr_of(&["template", &"a".repeat(53)]);
    assert_eq!(code, Some(0), "{stderr}");
    for namespace in ["", "../../etc", "Upper", "a.b", &"n".repeat(64)] {
        for command in ["template", "plan", "uninstall", "explain", "diff"] {
            let mut args = vec![command];
            if command == "explain" {
                args.extend(["ds/x", "metadata.name"]);
            }
            args.extend(["-n", namespace]);
            let (code, stderr) = stderr_of(&args);
            assert_eq!(code, Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains(&format!("namespace \"{namespace}\":")), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn a_secret_in_a_flag_is_never_echoed() {
    for args in [
        &["values", "--set-json", r#"driver.licensingConfig={"password":"hunter2""#][..],
        &["values", "--set", "driver.version=550,registry.password=hunter2,bogus[0=1"],
        &["lint", "--set", "driver.secretPassword=hunter2"],
        &["lint", "--set-string", "toolkit.env[0].name=API_TOKEN,toolkit.env[0].value=hunter2,toolkit.env[0].bogus=1"],
    ] {
        let out = gpuplan().args(args).timeout(DEADLINE).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!shown.contains("hunter2"), "{args:?}: {shown}");
        assert!(shown.contains(" #1"), "the flag is named: {shown}");
    }
}

/// A values file whose `operator.affinity` nests `depth` levels in all.
fn nested(dir: &Path, depth: usize) -> String {
    let path = dir.join(format!("deep{depth}.yaml"));
    let text = format!("operator:\n  affinity:\n    x: {}1{}\n", "{a: ".repeat(depth - 3), "}".repeat(depth - 3));
    fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[test]
fn nesting_is_judged_alike_by_lint_template_and_diff() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The deepest values gpuplan takes: every command takes them, and their plan reads back.
    let deepest = nested(dir.path(), 64);
    for command in ["lint", "template"] {
        let (code, stderr) = stderr_of(&[command, "-f", &deepest]);
        assert_eq!(code, Some(0), "{command}: {stderr}");
    }
    let plan = dir.path().join("plan.json");
    let out = gpuplan().args(["plan", "-o", "json", "-f", &deepest]).timeout(DEADLINE).output().expect("runs");
    assert!(out.status.success());
    fs::write(&plan, &out.stdout).expect("write");
    let plan = plan.display().to_string();
    let (code, stderr) = stderr_of(&["diff", &plan, &plan, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = stderr_of(&["diff", "--against", &plan, "-f", &deepest, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{stderr}");

    // One level more: refused alike, before anything is rendered.
    let deeper = nested(dir.path(), 65);
    let mut errors = Vec::new();
    for command in ["lint", "template", "values"] {
        let (code, stderr) = stderr_of(&[command, "-f", &deeper]);
        assert_eq!(code, Some(2), "{command}: {stderr}");
        assert!(stderr.contains("collections nest deeper than 64 levels (gpuplan's limit for values)"), "{stderr}");
        errors.push(stderr);
    }
    assert!(errors.windows(2).all(|w| w[0] == w[1]), "{errors:#?}");
}
