//! The README's CI recipe, run: given a git repository with a base commit of values and a facts
//! snapshot and a head commit that changes the values, running the review job's commands in
//! order (`sh -c` each, `gpuplan` on `PATH`, `BASE_SHA` set as both CI systems set it) produces
//! a lint verdict, two sealed plans and the pull-request comment, each step with the exit code
//! the jobs rely on.
//!
//! The commands are not copied from the README by hand: the GitHub Actions and the GitLab CI
//! job in its "CI recipe" section must hold exactly [`REVIEW`] then [`APPLY`], in that order, so
//! the README and this test cannot drift apart. The apply commands need a cluster and are run
//! as such by `tests/e2e/cli_saved_plan.rs`; here they are only held to the README.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The review job's commands (a pull request; no cluster).
const REVIEW: &[&str] = &[
    "gpuplan lint -f gpu/values.yaml --facts gpu/facts.yaml",
    "git worktree add --detach ../gpuplan-base \"$BASE_SHA\"",
    "gpuplan plan -f ../gpuplan-base/gpu/values.yaml --facts ../gpuplan-base/gpu/facts.yaml > base-plan.yaml",
    "gpuplan plan -f gpu/values.yaml --facts gpu/facts.yaml > plan.yaml",
    "gpuplan diff base-plan.yaml plan.yaml -o markdown > plan-diff.md",
];

/// The apply job's commands (on merge; the cluster's kubeconfig in `KUBECONFIG`).
const APPLY: &[&str] = &[
    "gpuplan plan --cluster -f gpu/values.yaml --facts gpu/facts.yaml > plan.yaml",
    "gpuplan diff --cluster --plan plan.yaml",
    "gpuplan upgrade --install --plan plan.yaml",
];

/// A `gpuplan facts` snapshot of a cluster with one GPU node on containerd, which serves the
/// Prometheus Operator's API (so that lint has nothing to warn about).
const FACTS: &str = "apiVersion: gpuplan.dev/v1alpha1
kind: Facts
kubeVersion: v1.31.2
apiVersions:
- apps/v1
- monitoring.coreos.com/v1
- node.k8s.io/v1
- v1
nodes:
- name: gpu-1
  labels:
    feature.node.kubernetes.io/pci-10de.present: \"true\"
    feature.node.kubernetes.io/system-os_release.ID: ubuntu
    feature.node.kubernetes.io/system-os_release.VERSION_ID: \"22.04\"
  containerRuntimeVersion: containerd://1.7.24
  osImage: Ubuntu 22.04.4 LTS
  kernelVersion: 5.15.0-91-generic
  architecture: amd64
";

const BASE_VALUES: &str = "operator:\n  defaultRuntime: containerd\n";

/// The head: an env entry for the device plugin, and the DCGM exporter turned off.
const HEAD_VALUES: &str = "operator:\n  defaultRuntime: containerd\ndevicePlugin:\n  env:\n  - name: FOO\n    value: bar\ndcgmExporter:\n  enabled: false\n";

/// The yaml blocks of the README's "CI recipe" section.
fn recipe_blocks() -> Vec<String> {
    let readme = fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md")).expect("README");
    let start = readme.find("\n### CI recipe").expect("a CI recipe section");
    let section = &readme[start + 1..];
    // Up to the next heading, of either level.
    let end = ["\n## ", "\n### "].iter().filter_map(|h| section[4..].find(h)).min().map_or(section.len(), |e| e + 4);
    let section = &section[..end];
    section.split("```yaml\n").skip(1).map(|b| b.split("```").next().unwrap_or_default().to_owned()).collect()
}

/// The commands a job block runs: its `gpuplan` and `git` lines, as a shell sees them.
fn commands(block: &str) -> Vec<String> {
    block
        .lines()
        .map(|l| l.trim().trim_start_matches("- ").trim_matches('\''))
        .filter(|l| l.starts_with("gpuplan ") || l.starts_with("git "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_readme_jobs_hold_exactly_the_commands_this_test_runs() {
    let blocks = recipe_blocks();
    assert_eq!(blocks.len(), 2, "one GitHub Actions and one GitLab CI job");
    let expected: Vec<&str> = REVIEW.iter().chain(APPLY).copied().collect();
    for (block, comment) in blocks.iter().zip(["gh pr comment \"$PR\" --body-file plan-diff.md", "/notes\""]) {
        assert_eq!(commands(block), expected, "{block}");
        assert!(block.contains(comment), "the job posts plan-diff.md: {block}");
        assert!(block.contains("plan.yaml"), "the job keeps the plan: {block}");
    }
}

/// A temporary git repository with the base and head commits; the base commit's hash.
fn repository(root: &Path, head_values: &str) -> (PathBuf, String) {
    let repo = root.join("repo");
    fs::create_dir_all(repo.join("gpu")).expect("mkdir");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "ci")
            .env("GIT_AUTHOR_EMAIL", "ci@example.com")
            .env("GIT_COMMITTER_NAME", "ci")
            .env("GIT_COMMITTER_EMAIL", "ci@example.com")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q"]);
    fs::write(repo.join("gpu/values.yaml"), BASE_VALUES).expect("write");
    fs::write(repo.join("gpu/facts.yaml"), FACTS).expect("write");
    git(&["add", "gpu"]);
    git(&["commit", "-q", "-m", "base"]);
    let base = git(&["rev-parse", "HEAD"]);
    fs::write(repo.join("gpu/values.yaml"), head_values).expect("write");
    git(&["commit", "-q", "-a", "-m", "head"]);
    (repo, base)
}

/// `sh -c SCRIPT` in `repo` as a CI job runs it: exit code, and stdout and stderr together.
fn sh(repo: &Path, base: &str, flags: &str, script: &str) -> (Option<i32>, String) {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_gpuplan"));
    let path = format!("{}:{}", bin.parent().expect("a dir").display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("sh")
        .args([flags, script])
        .current_dir(repo)
        .env("PATH", path)
        .env("BASE_SHA", base)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("NO_COLOR", "1")
        .output()
        .expect("sh runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[test]
fn given_a_base_and_a_head_commit_the_review_steps_lint_plan_and_write_the_comment() {
    let root = tempfile::tempdir().expect("tempdir");
    let (repo, base) = repository(root.path(), HEAD_VALUES);
    let read = |name: &str| fs::read_to_string(repo.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut steps = REVIEW.iter();
    let mut step = || {
        let command = steps.next().expect("a step");
        (command, sh(&repo, &base, "-c", command))
    };

    let (command, (code, out)) = step();
    assert_eq!((code, out.trim()), (Some(0), "lint: 0 errors, 0 warnings"), "{command}");

    let (command, (code, out)) = step();
    assert_eq!(code, Some(0), "{command}: {out}");
    assert_eq!(fs::read_to_string(root.path().join("gpuplan-base/gpu/values.yaml")).expect("base"), BASE_VALUES);

    for name in ["base-plan.yaml", "plan.yaml"] {
        let (command, (code, out)) = step();
        assert_eq!((code, out.as_str()), (Some(0), ""), "{command}");
        let plan = read(name);
        for sealed in ["\nplanDigest: sha256:", "\nfactsDigest: sha256:", "\nreleaseRevision: null\n"] {
            assert!(plan.contains(sealed), "{name} has {sealed:?}");
        }
    }
    assert_ne!(read("base-plan.yaml"), read("plan.yaml"), "the head changes the plan");

    // The comment: exit 0 although something changed (no --detailed-exitcode), the summary
    // first, one block per object: the device plugin changed, the exporter's six objects gone.
    let (command, (code, out)) = step();
    assert_eq!((code, out.as_str()), (Some(0), ""), "{command}");
    let comment = read("plan-diff.md");
    assert_eq!(
        comment.lines().next(),
        Some("Plan: 0 to add, 1 to change, 6 to destroy. GPU nodes: no change to the container runtime config."),
        "{comment}"
    );
    assert_eq!(comment.matches("<details>").count(), 7, "{comment}");
    assert_eq!(comment.matches(" (removed)</summary>").count(), 6, "{comment}");
    assert!(comment.contains("<summary>DaemonSet gpu-operator/nvidia-device-plugin-daemonset (changed)</summary>"));
    assert!(comment.lines().any(|l| l.starts_with('+') && l.contains("name: FOO")), "{comment}");
    assert!(steps.next().is_none(), "every review step ran");
}

#[test]
fn given_a_head_with_a_value_lint_rejects_the_review_job_stops_there() {
    let root = tempfile::tempdir().expect("tempdir");
    let (repo, base) = repository(root.path(), "operator:\n  defaultRuntime: podman\n");
    // The whole job as CI runs it: a shell that stops at the first failing command.
    let (code, out) = sh(&repo, &base, "-ec", &REVIEW.join("\n"));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("gpu/values.yaml") && out.contains("defaultRuntime"), "says where: {out}");
    assert!(!repo.join("base-plan.yaml").exists() && !repo.join("plan-diff.md").exists(), "nothing after lint ran");
}
