//! `gpuplan install | upgrade --plan FILE` before any cluster is reached: a plan edited after
//! `gpuplan plan` sealed it is refused (exit 2) on its own content, and a saved plan takes no
//! values or facts flags. What a cluster says of a plan (stale, other facts, applied) is
//! tested against the mock API server (`operator/tests/apply/saved.rs`) and the test API
//! server (`tests/e2e/cli_saved_plan.rs`).

use std::fs;
use std::path::{Path, PathBuf};

use super::gpuplan;

/// `gpuplan plan ARGS`, written to `dir/name`.
fn plan(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = gpuplan().arg("plan").args(args).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = dir.join(name);
    fs::write(&path, &out.stdout).expect("write");
    path
}

/// `gpuplan ARGS`: exit code and stderr.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = gpuplan().args(args).output().expect("runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn given_a_tampered_plan_install_and_upgrade_refuse_it_before_reaching_the_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = plan(dir.path(), "good.yaml", &[]);
    let text = fs::read_to_string(&good).expect("read");
    assert!(text.contains("\nplanDigest: sha256:") && text.contains("\nreleaseRevision: null\n"), "sealed, no release");
    let bad = dir.path().join("bad.yaml");
    let tampered = text.replacen("image: nvcr.io/nvidia/k8s/container-toolkit:", "image: evil.example/toolkit:", 1);
    assert_ne!(tampered, text, "the plan has a toolkit image to tamper with");
    fs::write(&bad, tampered).expect("write");
    // A kubeconfig that names no reachable server: a refusal must come before any connection.
    let kubeconfig = dir.path().join("kubeconfig");
    fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n").expect("write");
    for verb in ["install", "upgrade"] {
        let (code, err) = run(&[verb, "--plan", p(&bad), "--kubeconfig", p(&kubeconfig)]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(&format!("refusing plan {}", p(&bad))), "{err}");
        assert!(err.contains("the plan was changed after `gpuplan plan` made it: its content is sha256:"), "{err}");
    }
    // The good plan passes the check and only then needs the cluster.
    let (code, err) = run(&["install", "--plan", p(&good), "--kubeconfig", p(&kubeconfig)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains("refusing plan"), "{err}");
}

#[test]
fn given_a_saved_plan_values_and_facts_flags_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = plan(dir.path(), "good.yaml", &[]);
    for flags in [&["--set", "a=b"][..], &["-f", "values.yaml"], &["--facts", "facts.yaml"], &["-a", "v1"]] {
        let (code, err) = run(&[&["upgrade", "--plan", p(&good)][..], flags].concat());
        assert_eq!(code, Some(2), "{flags:?}: {err}");
        assert!(err.contains("values and facts flags belong to `gpuplan plan`"), "{flags:?}: {err}");
    }
}
