//! The cluster's facts on the command line: `--facts FILE` and `--api-versions` on `template`,
//! `plan`, `lint`, `explain` and `diff`. Given the fixtures in `golden/facts/` (whole plans
//! are golden cases), each command resolves the plan for that cluster, `diff --against` shows a
//! change of facts as it shows a change of values, and a facts file that is not one is an
//! error naming the file.

use std::path::PathBuf;

use super::gpuplan;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../golden/facts").join(name);
    path.display().to_string()
}

fn stdout(args: &[&str]) -> String {
    let out = gpuplan().args(args).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn template_and_plan_render_for_the_facts_and_the_plan_records_their_digest() {
    let facts = fixture("two-os.yaml");
    let manifests = stdout(&["template", "--facts", &facts]);
    assert!(manifests.contains("image: nvcr.io/nvidia/driver:595.91.07-ubuntu22.04\n"), "{manifests}");
    assert!(manifests.contains("image: nvcr.io/nvidia/driver:595.91.07-rhel9.4\n"));
    let plan = stdout(&["plan", "--facts", &facts]);
    assert!(plan.contains("\nfactsDigest: sha256:"), "{plan}");
    assert!(!stdout(&["plan"]).contains("factsDigest"), "no facts, no digest");
}

#[test]
fn api_versions_leave_out_what_the_cluster_does_not_serve_and_lint_says_so() {
    let monitored = ["template", "--set", "dcgmExporter.serviceMonitor.enabled=true"];
    assert!(stdout(&monitored).contains("kind: ServiceMonitor"), "no facts: rendered as today");
    let mut without = monitored.to_vec();
    without.extend(["--api-versions", "apps/v1,v1"]);
    assert!(!stdout(&without).contains("kind: ServiceMonitor"));
    let mut with = monitored.to_vec();
    with.extend(["-a", "apps/v1", "-a", "monitoring.coreos.com/v1"]);
    assert!(stdout(&with).contains("kind: ServiceMonitor"));

    let out = gpuplan()
        .args(["lint", "--set", "dcgmExporter.serviceMonitor.enabled=true", "--api-versions", "v1"])
        .output()
        .expect("runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("left out: ServiceMonitor gpu-operator/nvidia-dcgm-exporter"), "{report}");
}

#[test]
fn lint_without_facts_names_every_value_that_needs_one() {
    let out = gpuplan().args(["lint"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "warnings only");
    let report = String::from_utf8_lossy(&out.stdout);
    for needs in ["/driver/version", "/operator/defaultRuntime", "ServiceMonitors are rendered as if"] {
        assert!(report.contains(needs), "{needs}: {report}");
    }
    assert!(report.find("/driver/version") < report.find("/operator/defaultRuntime"), "the driver tag first");
    assert!(report.contains("--facts FILE"), "{report}");
    let with = gpuplan().args(["lint", "--facts", &fixture("two-os.yaml")]).output().expect("runs");
    let report = String::from_utf8_lossy(&with.stdout);
    assert!(!report.contains("NVIDIA does not publish") && !report.contains("every GPU node is taken"), "{report}");
}

#[test]
fn diff_against_a_plan_shows_a_change_of_facts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let old = dir.path().join("old.yaml");
    std::fs::write(&old, stdout(&["plan"])).expect("write");
    let old = old.display().to_string();
    let out = gpuplan()
        .args(["diff", "--against", &old, "--facts", &fixture("mixed-runtimes.yaml"), "--detailed-exitcode", "-o"])
        .arg("simple")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("nvidia-container-toolkit-daemonset-crio"), "{text}");
    assert!(text.contains("GPU nodes running docker get a node agent"), "{text}");
    let same = gpuplan().args(["diff", "--against", &old, "--detailed-exitcode"]).output().expect("runs");
    assert_eq!(same.status.code(), Some(0), "same values, no facts: no difference");
}

#[test]
fn explain_finds_an_object_only_the_facts_make() {
    let text = stdout(&[
        "explain",
        "ds/nvidia-driver-daemonset-rhel9.4",
        "spec.template.spec.containers[0].image",
        "--facts",
        &fixture("two-os.yaml"),
    ]);
    assert!(text.contains("595.91.07-rhel9.4"), "{text}");
    assert!(text.contains("driver.version"), "{text}");
}

#[test]
fn a_facts_file_that_is_not_one_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("facts.yaml");
    std::fs::write(&bad, "kind: Deployment\n").expect("write");
    let out = gpuplan().args(["template", "--facts"]).arg(&bad).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("facts.yaml") && stderr.contains("\"Deployment\""), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing rendered");
    let missing = gpuplan().args(["plan", "--facts", "/nonexistent/facts.yaml"]).output().expect("runs");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/facts.yaml"));
}
