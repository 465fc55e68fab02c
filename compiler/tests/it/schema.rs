//! The values schema: generated from the typed config and committed, so the two cannot drift;
//! the defaults pass it; and what users get wrong is caught at the right key.

use gpuplan_compiler::{Config, Diagnostic, FlagKind, InputFlag, Inputs, Severity, schema};
use serde_json::Value;

/// The families gpuplan accepts but does not render.
const UNRENDERED: [&str; 12] = [
    "ccManager",
    "draDriver",
    "gdrcopy",
    "gds",
    "gpuCluster",
    "kataManager",
    "kataSandboxDevicePlugin",
    "sandboxDevicePlugin",
    "sandboxWorkloads",
    "vfioManager",
    "vgpuDeviceManager",
    "vgpuManager",
];

fn committed() -> Value {
    serde_json::from_str(schema::SCHEMA).expect("the committed schema is JSON")
}

/// Every diagnostic of the pipeline for one `--set-json` flag over the defaults.
fn diagnostics(set_json: &str) -> Vec<Diagnostic> {
    let inputs =
        Inputs { files: Vec::new(), flags: vec![InputFlag { kind: FlagKind::SetJson, text: set_json.into() }] };
    let user = gpuplan_compiler::load(&inputs, &mut |_| Err("no files".into())).expect("loads");
    let effective = gpuplan_compiler::coalesce(user).expect("coalesces");
    gpuplan_compiler::check(&effective, false)
}

fn errors_at(set_json: &str) -> Vec<String> {
    diagnostics(set_json).into_iter().filter(|d| d.severity == Severity::Error).map(|d| d.pointer).collect()
}

#[test]
fn committed_schema_matches_the_typed_config() {
    let generated = gpuplan_compiler::config::schema_text();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/values.schema.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &generated).expect("write the schema");
        return;
    }
    assert!(
        schema::SCHEMA == generated,
        "schema/values.schema.json is out of date with the typed config; run `UPDATE_GOLDEN=1 cargo test` and review the diff"
    );
}

#[test]
fn committed_schema_compiles() {
    jsonschema::validator_for(&committed()).expect("the schema compiles");
}

#[test]
fn defaults_pass_every_check_and_round_trip_through_config() {
    let defaults = gpuplan_compiler::defaults().expect("defaults parse");
    let effective = gpuplan_compiler::coalesce(Default::default()).expect("coalesces");
    assert_eq!(gpuplan_compiler::check(&effective, false), Vec::<Diagnostic>::new());
    // `check` validates only the sections the user set, trusting the defaults of the others:
    // here the defaults are checked against the whole schema.
    let whole = jsonschema::validator_for(&committed()).expect("the schema compiles");
    let errors: Vec<String> = whole.iter_errors(&defaults.to_json()).map(|e| e.to_string()).collect();
    assert_eq!(errors, Vec::<String>::new(), "the built-in defaults break the schema");
    let config: Config = gpuplan_compiler::resolve(defaults).expect("defaults resolve");
    let mut back = serde_json::to_value(&config).expect("config serialises");
    let mut values = defaults.to_json();
    strip_nulls(&mut back);
    strip_nulls(&mut values);
    assert_eq!(back, values, "a default was lost or changed on the way through Config");
}

fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

#[test]
fn exactly_the_unrendered_families_are_marked() {
    let schema = committed();
    let marked: Vec<&str> = schema["properties"]
        .as_object()
        .expect("root properties")
        .iter()
        .filter(|(_, p)| p.get(schema::UNRENDERED).is_some())
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(marked, UNRENDERED);
}

#[test]
fn every_property_and_definition_is_described() {
    fn walk(schema: &Value, at: &str, missing: &mut Vec<String>) {
        for (key, property) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
            let path = format!("{at}/{key}");
            if property.get("description").is_none() {
                missing.push(path.clone());
            }
            walk(property, &path, missing);
        }
    }
    let schema = committed();
    let mut missing = Vec::new();
    walk(&schema, "", &mut missing);
    for (name, definition) in schema["$defs"].as_object().expect("$defs") {
        if definition.get("description").is_none() {
            missing.push(format!("$defs/{name}"));
        }
        walk(definition, &format!("$defs/{name}"), &mut missing);
    }
    assert_eq!(missing, Vec::<String>::new());
}

#[test]
fn closed_sets_and_types_fail_at_their_key() {
    assert_eq!(errors_at(r#"operator.defaultRuntime="podman""#), ["/operator/defaultRuntime"]);
    assert_eq!(errors_at(r#"toolkit.env=[{"name":"A","value":true}]"#), ["/toolkit/env/0/value"]);
    assert_eq!(errors_at("ccManager.defaultMode=true"), ["/ccManager/defaultMode"], "YAML 1.1's unquoted `on`");
    assert_eq!(errors_at(r#"driver.imagePullPolicy="Sometimes""#), ["/driver/imagePullPolicy"]);
    assert_eq!(errors_at("driver.version=550"), ["/driver/version"]);
    assert_eq!(
        errors_at(r#"node-feature-discovery.worker.tolerations=[{"effect":"Sometimes"}]"#),
        ["/node-feature-discovery/worker/tolerations/0/effect"]
    );
}

#[test]
fn max_unavailable_takes_counts_and_percentages() {
    for ok in [r#""25%""#, "1", r#""1""#] {
        assert_eq!(errors_at(&format!("daemonsets.rollingUpdate.maxUnavailable={ok}")), Vec::<String>::new(), "{ok}");
    }
    for bad in [r#""25 %""#, "-1", r#""a quarter""#] {
        assert_eq!(
            errors_at(&format!("daemonsets.rollingUpdate.maxUnavailable={bad}")),
            ["/daemonsets/rollingUpdate/maxUnavailable"],
            "{bad}"
        );
    }
}

#[test]
fn log_level_takes_names_and_verbosities() {
    for ok in [r#""info""#, r#""debug""#, "5", r#""5""#] {
        assert_eq!(errors_at(&format!("operator.logging.level={ok}")), Vec::<String>::new(), "{ok}");
    }
    for bad in ["0", r#""0""#, r#""verbose""#, "-2"] {
        assert_eq!(errors_at(&format!("operator.logging.level={bad}")), ["/operator/logging/level"], "{bad}");
    }
}

#[test]
fn patterns_reject_what_kubernetes_would_and_accept_the_rest() {
    let rejected = [
        r#"daemonsets.priorityClassName="System-Node-Critical""#,
        r#"dcgmExporter.serviceMonitor.interval="15 seconds""#,
        r#"driver.image="my driver""#,
        r#"driver.repository="nvcr.io/nvidia/""#,
        r#"operator.imagePullSecrets=["Not_A_Name"]"#,
        r#"hostPaths.rootFS="host""#,
        "driver.startupProbe.periodSeconds=0",
    ];
    for flag in rejected {
        assert_eq!(errors_at(flag).len(), 1, "{flag} must be rejected once");
    }
    let accepted = [
        r#"dcgmExporter.serviceMonitor.interval="1m30s""#,
        r#"driver.version="sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef""#,
        r#"driver.repository="registry.local:5000/mirror/nvidia""#,
        r#"hostPaths.kubeletRootDir="""#,
        r#"operator.priorityClassName="""#,
    ];
    for flag in accepted {
        assert_eq!(errors_at(flag), Vec::<String>::new(), "{flag}");
    }
}

#[test]
fn a_null_that_deletes_a_required_default_says_so() {
    let found = diagnostics("toolkit.version=null");
    let d = found.iter().find(|d| d.pointer == "/toolkit/version").expect("reported at the deleted key");
    assert_eq!(d.message, "missing key `version`");
    assert_eq!(
        d.hint.as_deref(),
        Some("a `null` from --set-json #1 (toolkit.version=null) deleted the default; set a value instead")
    );
}

#[test]
fn a_key_at_the_wrong_level_points_to_where_it_belongs() {
    let found = diagnostics(r#"toolkit.runtimeClass="nvidia""#);
    let d = found.iter().find(|d| d.pointer == "/toolkit/runtimeClass").expect("reported");
    assert_eq!(d.hint.as_deref(), Some("`runtimeClass` is a key of `operator`"));
}

#[test]
fn semantic_rules_of_the_upstream_chart_are_errors() {
    assert_eq!(errors_at("cdi.enabled=false,cdi.nriPluginEnabled=true"), ["/cdi/nriPluginEnabled"]);
    assert_eq!(errors_at("devicePlugin.config.create=true"), ["/devicePlugin/config"]);
    let found = diagnostics(r#"toolkit.env=[{"name":"A","value":"1"},{"name":"A","value":"2"}]"#);
    assert!(
        found.iter().any(|d| d.severity == Severity::Warning && d.pointer == "/toolkit/env/1"),
        "duplicate env names warn: {found:?}"
    );
}
