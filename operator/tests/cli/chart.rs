//! `gpuplan crd`, and the Helm chart's copies of generated and shared files.
//!
//! `charts/gpuplan/` ships copies: `values.yaml` of `values/values.yaml`, `values.schema.json`
//! of `schema/values.schema.json` (byte for byte), the CRDs `gpuplan crd --all` prints in
//! `crds/`, and the workspace version as `appVersion`. A test fails when a copy drifts from
//! its source; `UPDATE_GOLDEN=1` rewrites the copies (review the diff); CI never sets it.

use std::path::{Path, PathBuf};

use gpuplan::cli::crd;

use super::gpuplan;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chart() -> PathBuf {
    root().join("charts/gpuplan")
}

/// Compare the chart's copy with what it must hold; rewrite it under `UPDATE_GOLDEN`.
fn check_copy(copy: &Path, expected: &str, source: &str, problems: &mut Vec<String>) {
    let actual = std::fs::read_to_string(copy).unwrap_or_default();
    if actual == expected {
        return;
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(copy, expected).unwrap_or_else(|e| panic!("write {}: {e}", copy.display()));
    } else {
        problems.push(format!("{} is not {source}", copy.display()));
    }
}

/// `appVersion: "X"` in Chart.yaml, with X the workspace version.
fn chart_yaml_with_app_version(text: &str) -> String {
    let version = env!("CARGO_PKG_VERSION");
    text.lines()
        .map(|l| if l.starts_with("appVersion:") { format!("appVersion: \"{version}\"") } else { l.to_owned() })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn chart_copies_match_their_sources() {
    let mut problems = Vec::new();
    let read = |path: &str| std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    check_copy(&chart().join("values.yaml"), &read("values/values.yaml"), "values/values.yaml", &mut problems);
    check_copy(
        &chart().join("values.schema.json"),
        &read("schema/values.schema.json"),
        "schema/values.schema.json",
        &mut problems,
    );
    let [gpuplans, planreleases] = <[_; 2]>::try_from(crd::crds(true)).expect("two CRDs");
    check_copy(
        &chart().join("crds/gpuplan.dev_gpuplans.yaml"),
        &crd::to_yaml(&gpuplans),
        "the generated GPUPlan CRD (`gpuplan crd`)",
        &mut problems,
    );
    check_copy(
        &chart().join("crds/gpuplan.dev_planreleases.yaml"),
        &crd::to_yaml(&planreleases),
        "the PlanRelease CRD (`gpuplan crd --all`)",
        &mut problems,
    );
    let chart_yaml = std::fs::read_to_string(chart().join("Chart.yaml")).expect("Chart.yaml");
    check_copy(
        &chart().join("Chart.yaml"),
        &chart_yaml_with_app_version(&chart_yaml),
        "at the workspace version (appVersion)",
        &mut problems,
    );
    assert!(
        problems.is_empty(),
        "the chart is out of date:\n  {}\nrun `UPDATE_GOLDEN=1 cargo test -p gpuplan --test cli chart` and review the diff",
        problems.join("\n  ")
    );
}

#[test]
fn crd_prints_the_gpuplan_crd_and_with_all_the_plan_release_crd() {
    let out = gpuplan().arg("crd").output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(text, crd::to_yaml(&gpuplan_compiler::schema::crd()));
    assert!(text.starts_with("---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"));
    assert_eq!(text.matches("\nkind: CustomResourceDefinition\n").count(), 1);

    let out = gpuplan().args(["crd", "--all"]).output().expect("runs");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("  name: ")).collect();
    assert_eq!(names, ["gpuplans.gpuplan.dev", "planreleases.gpuplan.dev"]);
}
