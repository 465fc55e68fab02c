//! The golden plan cases in `golden/plan/`: given a case's arguments (`{facts}` standing for
//! `golden/facts/`, the cluster fact fixtures), `gpuplan template` prints exactly
//! `expected.yaml` (exit 0), or fails with exactly `expected.err` (exit 2).
//! `UPDATE_GOLDEN=1` rewrites them (review the diff); CI never sets it.

use std::path::Path;

use super::{golden_cases, gpuplan};

#[test]
fn golden_plan_cases() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let cases = golden_cases("plan");
    assert!(cases.len() >= 15, "golden/plan has its cases");
    let facts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/facts");
    for case in cases {
        let args: Vec<String> = std::fs::read_to_string(case.join("args"))
            .expect("args")
            .lines()
            .filter(|l| !l.is_empty())
            // `{facts}` is golden/facts, where the cluster fact fixtures are.
            .map(|l| l.replace("{facts}", &facts.display().to_string()))
            .collect();
        let out = gpuplan().arg("template").args(&args).output().expect("runs");
        let (file, actual, other) = match out.status.code() {
            Some(0) => ("expected.yaml", String::from_utf8_lossy(&out.stdout).into_owned(), "expected.err"),
            Some(2) => ("expected.err", String::from_utf8_lossy(&out.stderr).into_owned(), "expected.yaml"),
            code => {
                failures.push(format!("{}: exit {code:?}", case.display()));
                continue;
            }
        };
        if update {
            std::fs::write(case.join(file), &actual).expect("write golden");
            let _ = std::fs::remove_file(case.join(other));
            continue;
        }
        match std::fs::read_to_string(case.join(file)) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{}/{file} differs:\n{}",
                case.display(),
                gpuplan_compiler::diff::unified(file, Some(&expected), Some(&actual))
            )),
            Err(_) => failures.push(format!(
                "{}: no {file}; the command {}",
                case.display(),
                if file == "expected.err" { "failed" } else { "succeeded" }
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
