//! gpuplan's built-in defaults against the upstream chart (v26.7) they mirror: every upstream
//! key is there with the upstream value, except the differences gpuplan makes on purpose; and
//! the `node-feature-discovery` block equals what Helm computes for the subchart (its own
//! defaults under the parent chart's overrides).
//!
//! The upstream files are read from `../shared/upstream/` (reference data beside the repository,
//! never committed, there for every developer and in CI). Without it the comparisons fail,
//! saying so — a comparison that did not run is not a pass — unless `GPUPLAN_SKIP_REAL=1` says
//! to skip them knowingly (never under `GPUPLAN_REQUIRE_REAL=1`, which `scripts/test` sets).

use std::path::PathBuf;

use gpuplan_compiler::values::merge::coalesce_tables;
use gpuplan_compiler::values::{Map, Source, Value, load::load, print::go_v};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/upstream/gpu-operator/deployments/gpu-operator")
}

/// Whether the upstream chart is there to compare with. When it is not: a failure, or with
/// `GPUPLAN_SKIP_REAL=1` (and not `GPUPLAN_REQUIRE_REAL=1`) false after saying so.
fn have_upstream() -> bool {
    let there = root().is_dir();
    if !there {
        let message =
            format!("the upstream chart is not at {} (reference data beside the repository)", root().display());
        let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty() && v != "0");
        assert!(!set("GPUPLAN_REQUIRE_REAL"), "GPUPLAN_REQUIRE_REAL is set: {message}");
        assert!(
            set("GPUPLAN_SKIP_REAL"),
            "{message}\n(to skip this comparison instead, knowingly: GPUPLAN_SKIP_REAL=1)"
        );
        eprintln!("SKIPPED (GPUPLAN_SKIP_REAL=1): {message}");
    }
    there
}

fn upstream(path: &str) -> Map {
    let file = root().join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    load(&text, &Source::File(path.into())).expect("upstream values parse").0
}

fn defaults() -> &'static Map {
    &gpuplan_compiler::defaults().expect("defaults parse").0
}

/// Deliberate differences from the upstream chart: the operator image is gpuplan's, and the NFD
/// block is compared with the subchart's effective values below.
const DIFFERENCES: [&str; 3] = ["/operator/repository", "/operator/image", "/node-feature-discovery"];

fn compare(ours: &Map, theirs: &Map, pointer: &str, diffs: &mut Vec<String>) {
    for (key, node) in theirs {
        let here = format!("{pointer}/{key}");
        if DIFFERENCES.contains(&here.as_str()) {
            continue;
        }
        match (ours.get(key).map(|n| &n.value), &node.value) {
            (None, _) => diffs.push(format!("{here}: missing")),
            (Some(Value::Map(a)), Value::Map(b)) => compare(a, b, &here, diffs),
            (Some(a), b) if a.same(b) => {}
            (Some(a), b) => diffs.push(format!("{here}: ours {} upstream {}", go_v(a), go_v(b))),
        }
    }
}

#[test]
fn every_upstream_key_has_the_upstream_default() {
    if !have_upstream() {
        return;
    }
    let mut diffs = Vec::new();
    compare(defaults(), &upstream("values.yaml"), "", &mut diffs);
    assert_eq!(diffs, Vec::<String>::new());
}

#[test]
fn gpuplan_additions_are_the_documented_ones() {
    let ours = defaults();
    let operator = ours["operator"].as_map().expect("operator");
    assert_eq!(operator["defaultRuntime"].value, Value::Str("containerd".into()));
    assert_eq!(operator["repository"].value, Value::Str("ghcr.io/gpuplan".into()));
    assert_eq!(operator["image"].value, Value::Str("gpuplan".into()));
    for component in ["validator", "nodeStatusExporter"] {
        let block = ours[component].as_map().expect(component);
        assert_eq!(block["version"].value, Value::Str("v26.7.0".into()), "{component} pins NVIDIA's image");
    }
}

#[test]
fn nfd_block_equals_the_subchart_defaults_under_the_parent_overrides() {
    if !have_upstream() {
        return;
    }
    let parent = upstream("values.yaml");
    let overrides = parent["node-feature-discovery"].as_map().expect("parent NFD block").clone();
    let subchart = upstream("charts/node-feature-discovery/values.yaml");
    let (mut effective, warnings) = coalesce_tables(overrides, &subchart);
    assert!(warnings.is_empty(), "{warnings:?}");
    // Helm adds `global` to every subchart; the NFD subchart defines its own already.
    effective.entry("global".into()).or_insert_with(|| subchart["global"].clone());
    let ours = defaults()["node-feature-discovery"].as_map().expect("our NFD block");
    let mut diffs = Vec::new();
    compare(ours, &effective, "/node-feature-discovery", &mut diffs);
    compare(&effective, ours, "(extra in ours)/node-feature-discovery", &mut diffs);
    assert_eq!(diffs, Vec::<String>::new());
}
