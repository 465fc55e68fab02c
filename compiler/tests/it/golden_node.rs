//! The golden node cases in `golden/node/`: given a case's values and the node's files, the
//! engine produces exactly the committed `patched/` files, `patch.diff` and `notes.txt`;
//! reverting them gives back the input bytes; applying twice changes nothing.
//! `UPDATE_GOLDEN=1` rewrites the expected files (review the diff); CI never sets it.

use std::path::{Path, PathBuf};

use gpuplan_compiler::diff::unified;
use gpuplan_compiler::node::{self, Files};
use gpuplan_compiler::{InputFile, Inputs};

use super::fixtures::{applied, patch};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/node");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("golden/node exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn read_tree(dir: &Path, paths: &[String]) -> Files {
    paths.iter().map(|p| (p.clone(), std::fs::read_to_string(dir.join(p.trim_start_matches('/'))).ok())).collect()
}

fn node_for(case: &Path) -> gpuplan_compiler::node::NodeRuntime {
    let text = std::fs::read_to_string(case.join("values.yaml")).expect("values.yaml");
    let inputs = Inputs { files: vec![InputFile { name: "values.yaml".into(), text }], flags: Vec::new() };
    let target = gpuplan_compiler::Target { render: false, ..Default::default() };
    let compiled = gpuplan_compiler::compile(&inputs, &mut |_| Err("no files".into()), &target).expect("values load");
    assert!(!compiled.failed(), "{}: {:?}", case.display(), compiled.diagnostics);
    compiled.node.expect("a node change")
}

fn expect_file(path: &Path, actual: Option<&str>, update: bool, failures: &mut Vec<String>) {
    if update {
        match actual {
            Some(text) => {
                std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
                std::fs::write(path, text).expect("write golden");
            }
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
        return;
    }
    let expected = std::fs::read_to_string(path).ok();
    if expected.as_deref() != actual {
        failures.push(format!(
            "{} differs from the engine's output:\n{}",
            path.display(),
            unified(&path.display().to_string(), expected.as_deref(), actual)
        ));
    }
}

#[test]
fn golden_node_cases() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(cases.len() >= 10, "golden/node has its cases");
    for case in cases {
        let node = node_for(&case);
        let paths = node::paths(&node);
        let before = read_tree(&case.join("in"), &paths);
        let change = patch(&before, &node).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let after = applied(before.clone(), &change);
        let mut diff = String::new();
        for f in &change.files {
            diff.push_str(&unified(&f.path, f.before.as_deref(), f.after.as_deref()));
            expect_file(
                &case.join("patched").join(f.path.trim_start_matches('/')),
                f.after.as_deref(),
                update,
                &mut failures,
            );
        }
        expect_file(&case.join("patch.diff"), Some(&diff), update, &mut failures);
        expect_file(&case.join("notes.txt"), Some(&(change.notes.join("\n") + "\n")), update, &mut failures);
        let again = patch(&after, &node).expect("patches again");
        if !again.is_unchanged() {
            failures.push(format!("{}: applying twice changed something", case.display()));
        }
        let reverted = applied(after.clone(), &node::revert(&after, &node).expect("reverts"));
        for (path, text) in &reverted {
            if text != before.get(path).unwrap_or(&None) {
                failures.push(format!("{}: revert did not give back {path} byte for byte", case.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
