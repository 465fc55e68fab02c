//! The golden diff cases in `golden/diff/`: given the plans `gpuplan plan` makes of a case's
//! `old.args` and `new.args`, `gpuplan diff OLD NEW -o markdown` prints exactly `expected.md`
//! (exit 0). `UPDATE_GOLDEN=1` rewrites them (review the diff); CI never sets it.

use std::path::Path;

use super::{golden_cases, gpuplan};

/// `gpuplan plan` with the arguments in `file` (one per line), written to `out`.
fn plan(file: &Path, out: &Path) {
    let args: Vec<String> =
        std::fs::read_to_string(file).expect("args").lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
    let run = gpuplan().arg("plan").args(&args).output().expect("runs");
    assert!(run.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&run.stderr));
    std::fs::write(out, &run.stdout).expect("write plan");
}

#[test]
fn golden_diff_cases() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let cases = golden_cases("diff");
    assert!(cases.len() >= 2, "golden/diff has its cases");
    let mut failures = Vec::new();
    for case in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let (old, new) = (dir.path().join("old.yaml"), dir.path().join("new.yaml"));
        plan(&case.join("old.args"), &old);
        plan(&case.join("new.args"), &new);
        let out = gpuplan().arg("diff").arg(&old).arg(&new).args(["-o", "markdown"]).output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "{}: {}", case.display(), String::from_utf8_lossy(&out.stderr));
        let actual = String::from_utf8(out.stdout).expect("utf-8");
        if update {
            std::fs::write(case.join("expected.md"), &actual).expect("write golden");
            continue;
        }
        match std::fs::read_to_string(case.join("expected.md")) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{}/expected.md differs:\n{}",
                case.display(),
                gpuplan_compiler::diff::unified("expected.md", Some(&expected), Some(&actual))
            )),
            Err(_) => failures.push(format!("{}: no expected.md", case.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
