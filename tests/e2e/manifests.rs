//! Every object gpuplan renders is a valid Kubernetes object for the versions it targets.
//!
//! Given value sets that take different paths through the renderer (defaults, CDI off, each
//! container runtime, optional operands on, NRI, operands off, k3s's containerd paths), the
//! real binary's `gpuplan plan -o json --kube-version <v>` is rendered for Kubernetes 1.31 and
//! 1.37, and each object in `stages[].objects[].object` is validated against that version's
//! strict schemas ([`super::kube_schema`]): unknown fields, wrong types, missing required
//! fields and API versions the version does not serve all fail. Custom resources have no
//! schema; the kinds in [`CUSTOM_RESOURCES`] are skipped on purpose (only their metadata is
//! checked), any other kind without a schema fails. New stages and objects are covered as
//! soon as they render. Every failure is listed with case, version, object and schema error.

use std::collections::BTreeSet;
use std::sync::Arc;

use assert_cmd::Command;
use serde_json::Value;

use super::kube_schema::Schemas;
use super::real::k8s_schemas;

/// Kubernetes versions validated against: the default `--kube-version` and the newest schemas.
const VERSIONS: [&str; 2] = ["1.31", "1.37"];

/// Custom resources the operator may create: no Kubernetes schema exists for them, so only
/// their metadata is validated. (group, kind).
pub const CUSTOM_RESOURCES: [(&str, &str); 7] = [
    ("monitoring.coreos.com", "ServiceMonitor"),
    ("monitoring.coreos.com", "PodMonitor"),
    ("monitoring.coreos.com", "PrometheusRule"),
    ("nfd.k8s-sigs.io", "NodeFeatureRule"),
    ("nvidia.com", "ClusterPolicy"),
    ("nvidia.com", "NVIDIADriver"),
    ("security.openshift.io", "SecurityContextConstraints"),
];

/// Value sets beyond the golden plan cases: a name and `gpuplan plan` arguments.
const CASES: &[(&str, &[&str])] = &[
    ("defaults", &[]),
    ("cdi-off", &["--set", "cdi.enabled=false"]),
    ("crio", &["--set", "operator.defaultRuntime=crio"]),
    ("docker", &["--set", "operator.defaultRuntime=docker"]),
    ("dcgm-and-node-status-exporter", &["--set", "dcgm.enabled=true,nodeStatusExporter.enabled=true"]),
    ("nri-plugin", &["--set", "cdi.nriPluginEnabled=true"]),
    ("toolkit-driver-nfd-off", &["--set", "toolkit.enabled=false,driver.enabled=false,nfd.enabled=false"]),
    (
        "k3s",
        &[
            "--set",
            "toolkit.env[0].name=CONTAINERD_CONFIG,toolkit.env[0].value=/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl,toolkit.env[1].name=CONTAINERD_SOCKET,toolkit.env[1].value=/run/k3s/containerd/containerd.sock",
        ],
    ),
];

/// The objects of `gpuplan plan -o json --kube-version <version> <args>`.
fn render(version: &str, args: &[&str]) -> Vec<Value> {
    let out = Command::cargo_bin("gpuplan")
        .expect("binary")
        .args(["plan", "-o", "json", "--kube-version", version])
        .args(args)
        .output()
        .expect("gpuplan runs");
    assert!(
        out.status.success(),
        "gpuplan plan --kube-version {version} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).expect("the plan is JSON");
    let stages = plan["stages"].as_array().expect("stages");
    stages
        .iter()
        .flat_map(|stage| stage["objects"].as_array().expect("objects"))
        .map(|object| object["object"].clone())
        .collect()
}

fn describe(object: &Value) -> String {
    let meta = |key: &str| object["metadata"][key].as_str().unwrap_or_default().to_owned();
    let namespace = meta("namespace");
    format!(
        "{} {} {}{}",
        object["apiVersion"].as_str().unwrap_or("?"),
        object["kind"].as_str().unwrap_or("?"),
        if namespace.is_empty() { String::new() } else { format!("{namespace}/") },
        meta("name")
    )
}

fn is_custom_resource(object: &Value) -> bool {
    let group = object["apiVersion"].as_str().and_then(|v| v.split_once('/')).map_or("", |(g, _)| g);
    let kind = object["kind"].as_str().unwrap_or_default();
    CUSTOM_RESOURCES.contains(&(group, kind))
}

fn schemas(version: &str) -> Option<Arc<Schemas>> {
    let root = k8s_schemas()?;
    Some(Schemas::shared(&root, version).unwrap_or_else(|e| panic!("{e}")))
}

/// Every golden plan case that renders (`golden/plan/<case>/args` with an `expected.yaml`;
/// `{facts}` is `golden/facts`), then [`CASES`].
fn cases() -> Vec<(String, Vec<String>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/plan");
    let mut dirs: Vec<_> =
        std::fs::read_dir(&root).expect("golden/plan").filter_map(Result::ok).map(|e| e.path()).collect();
    dirs.sort();
    let golden = dirs.into_iter().filter(|d| d.join("expected.yaml").exists()).map(|d| {
        let args = std::fs::read_to_string(d.join("args"))
            .expect("args")
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.replace("{facts}", &root.join("../facts").display().to_string()))
            .collect();
        (format!("golden/{}", d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()), args)
    });
    golden
        .chain(CASES.iter().map(|(name, args)| ((*name).to_owned(), args.iter().map(|a| (*a).to_owned()).collect())))
        .collect()
}

fn validate_every_case(version: &str) {
    let Some(schemas) = schemas(version) else { return };
    let mut failures = Vec::new();
    let (mut validated, mut skipped) = (0, BTreeSet::new());
    let cases = cases();
    for (case, args) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let objects = render(version, &args);
        assert!(!objects.is_empty(), "case {case}: no objects rendered");
        for object in &objects {
            let result = if is_custom_resource(object) {
                skipped.insert(describe(object));
                schemas.validate_metadata(object)
            } else {
                validated += 1;
                schemas.validate(object)
            };
            if let Err(errors) = result {
                for error in errors {
                    failures.push(format!("[{case}] Kubernetes {version} {}: {error}", describe(object)));
                }
            }
        }
    }
    eprintln!(
        "Kubernetes {version}: {validated} objects of {} cases valid against {}; custom resources (metadata only): {skipped:?}",
        cases.len(),
        schemas.dir().display()
    );
    assert!(failures.is_empty(), "{} schema errors:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_rendered_object_is_valid_for_kubernetes_1_31() {
    validate_every_case(VERSIONS[0]);
}

#[test]
fn every_rendered_object_is_valid_for_kubernetes_1_37() {
    validate_every_case(VERSIONS[1]);
}

/// The check is not vacuous: a rendered DaemonSet broken in three ways gives three errors, each
/// at its place; a kind the version does not serve has no schema.
#[test]
fn schemas_report_every_error_with_its_path() {
    let Some(schemas) = schemas(VERSIONS[0]) else { return };
    let objects = render(VERSIONS[0], &[]);
    let mut daemonset = objects.iter().find(|o| o["kind"] == "DaemonSet").expect("a DaemonSet renders").clone();
    schemas.validate(&daemonset).unwrap_or_else(|e| panic!("the rendered DaemonSet is valid: {e:#?}"));

    daemonset["spec"].as_object_mut().expect("spec").remove("selector");
    daemonset["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = Value::Bool(true);
    daemonset["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy "] = "Always".into();
    let errors = schemas.validate(&daemonset).expect_err("the broken DaemonSet is invalid");
    let expected = [
        "/spec: \"selector\" is a required property",
        "/spec/updateStrategy/rollingUpdate/maxUnavailable: matches none of the `oneOf` alternatives",
        "/spec/template/spec/containers/0: Additional properties are not allowed ('imagePullPolicy ' was unexpected)",
    ];
    for want in expected {
        assert!(errors.iter().any(|e| e.starts_with(want)), "no error starting {want:?} in {errors:#?}");
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");

    let mut old = serde_json::json!({"apiVersion": "node.k8s.io/v1beta1", "kind": "RuntimeClass", "metadata": {"name": "x"}, "handler": "x"});
    assert!(!schemas.has_schema("node.k8s.io/v1beta1", "RuntimeClass").expect("readable"), "served until 1.24 only");
    let errors = schemas.validate(&old).expect_err("no schema");
    assert!(errors[0].contains("no schema for node.k8s.io/v1beta1 RuntimeClass"), "{errors:?}");
    old["apiVersion"] = "monitoring.coreos.com/v1".into();
    old["kind"] = "ServiceMonitor".into();
    assert!(!schemas.has_schema("monitoring.coreos.com/v1", "ServiceMonitor").expect("readable"));
    schemas.validate_metadata(&old).expect("metadata is valid");
    old["metadata"]["labels"] = serde_json::json!({"a": 1});
    let errors = schemas.validate_metadata(&old).expect_err("a label value must be a string");
    assert!(errors.iter().any(|e| e.starts_with("/metadata/labels/a: ")), "{errors:?}");
}
