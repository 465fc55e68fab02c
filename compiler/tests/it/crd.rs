//! The `GPUPlan` CRD generated from the values schema: structural as the API server requires,
//! and accepting what the values schema accepts.
//!
//! Given the generated CRD, the structural rules are checked node by node (the ones
//! apiextensions-apiserver enforces when it creates a CRD); then the generated
//! `openAPIV3Schema` is run over values with the `jsonschema` crate. That crate knows JSON
//! Schema, not the API server's OpenAPI dialect, so [`as_json_schema`] first says in JSON
//! Schema what the API server does: `nullable` admits null, and under strict field validation
//! (kubectl's default) a field no `properties` declare is an error where the schema does not
//! preserve unknown fields (without strict validation it is silently pruned).

use gpuplan_compiler::{FlagKind, InputFlag, Inputs, schema};
use serde_json::{Map, Value, json};

/// Keywords of `JSONSchemaProps` that a generated schema may hold.
const JSON_SCHEMA_PROPS: &[&str] = &[
    "additionalProperties",
    "anyOf",
    "description",
    "enum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "format",
    "items",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "multipleOf",
    "not",
    "nullable",
    "pattern",
    "properties",
    "required",
    "title",
    "type",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
    "x-kubernetes-preserve-unknown-fields",
];

fn open_api_schema() -> Value {
    schema::crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Every structural-schema violation under `node`, each with its path.
fn violations(node: &Value, path: &str, out: &mut Vec<String>) {
    let Some(map) = node.as_object() else {
        out.push(format!("{path}: not a schema object"));
        return;
    };
    for key in map.keys().filter(|k| !JSON_SCHEMA_PROPS.contains(&k.as_str())) {
        out.push(format!("{path}: `{key}` is not a JSONSchemaProps field"));
    }
    let flag = |k: &str| map.get(k) == Some(&Value::Bool(true));
    let int_or_string = flag("x-kubernetes-int-or-string");
    if map.get("type").is_none() && !int_or_string && !flag("x-kubernetes-preserve-unknown-fields") {
        out.push(format!("{path}: no type"));
    }
    if int_or_string && map.get("anyOf") != Some(&json!([{"type": "integer"}, {"type": "string"}])) {
        out.push(format!("{path}: int-or-string without the two bare types"));
    }
    if let Some(branches) = map.get("anyOf").filter(|_| !int_or_string) {
        out.push(format!("{path}: anyOf outside int-or-string: {branches}"));
    }
    if let Some(not) = map.get("not").and_then(Value::as_object)
        && let Some(key) = not.keys().find(|k| *k != "required")
    {
        out.push(format!("{path}: `{key}` inside `not`"));
    }
    if map.contains_key("properties") && map.contains_key("additionalProperties") {
        out.push(format!("{path}: properties and additionalProperties together"));
    }
    if map.get("additionalProperties").is_some_and(Value::is_boolean) {
        out.push(format!("{path}: additionalProperties is a boolean"));
    }
    if map.get("type") == Some(&json!("array")) && !map.contains_key("items") {
        out.push(format!("{path}: array without items"));
    }
    if map.get("x-kubernetes-list-type") == Some(&json!("set"))
        && !matches!(map["items"]["type"].as_str(), Some("string" | "integer" | "number" | "boolean"))
    {
        out.push(format!("{path}: a set of non-scalars"));
    }
    for (name, child) in map.get("properties").and_then(Value::as_object).into_iter().flatten() {
        violations(child, &format!("{path}.{name}"), out);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child @ Value::Object(_)) = map.get(key) {
            violations(child, &format!("{path}.{key}"), out);
        }
    }
}

/// The API server's reading of an OpenAPI schema, in JSON Schema (see the module docs).
fn as_json_schema(node: &Value) -> Value {
    let Value::Object(map) = node else { return node.clone() };
    let mut out: Map<String, Value> = Map::new();
    for (key, value) in map {
        let converted = match key.as_str() {
            "properties" => Value::Object(
                value.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), as_json_schema(v))).collect(),
            ),
            "items" | "additionalProperties" if value.is_object() => as_json_schema(value),
            "nullable" | "x-kubernetes-int-or-string" | "x-kubernetes-list-type" | "x-kubernetes-list-map-keys" => {
                continue;
            }
            "x-kubernetes-preserve-unknown-fields" => continue,
            // OpenAPI v3.0's boolean exclusive bounds have no JSON Schema 2020-12 spelling.
            "exclusiveMinimum" | "exclusiveMaximum" => continue,
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if map.contains_key("properties") && !preserve {
        // Strict field validation: an undeclared field is an error.
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if map.get("nullable") == Some(&Value::Bool(true))
        && let Some(Value::String(t)) = map.get("type")
    {
        out.insert("type".into(), json!([t, "null"]));
    }
    if map.get("nullable") == Some(&Value::Bool(true)) && map.contains_key("anyOf") {
        out.insert("anyOf".into(), json!([{"type": "integer"}, {"type": "string"}, {"type": "null"}]));
    }
    Value::Object(out)
}

/// The errors of the generated spec schema over `values`.
fn spec_errors(values: &Value) -> Vec<String> {
    let spec = as_json_schema(&open_api_schema()["properties"]["spec"]);
    let validator = jsonschema::validator_for(&spec).expect("the generated schema compiles as JSON Schema");
    validator.iter_errors(values).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

/// The effective values for `--set` flags, as `gpuplan values -o json` prints them.
fn effective(sets: &[&str]) -> Value {
    let flags = sets.iter().map(|s| InputFlag { kind: FlagKind::Set, text: (*s).into() }).collect();
    let user = gpuplan_compiler::load(&Inputs { files: Vec::new(), flags }, &mut |_| Err("no files".into()))
        .expect("the flags load");
    let effective = gpuplan_compiler::coalesce(user).expect("coalesces");
    assert!(!schema::has_errors(&gpuplan_compiler::check(&effective, false)), "{sets:?} pass gpuplan's check");
    serde_json::from_str(&gpuplan_compiler::values::print::to_json(&effective.values.0)).expect("values are JSON")
}

#[test]
fn generated_crd_is_structural() {
    let mut out = Vec::new();
    violations(&open_api_schema(), "openAPIV3Schema", &mut out);
    assert!(out.is_empty(), "the generated CRD is not structural:\n{}", out.join("\n"));
}

#[test]
fn generated_crd_declares_every_key_of_the_values_schema() {
    // Inlining and rewriting must not lose a key: walk the defaults' keys through both.
    let values = effective(&[]);
    let mut missing = Vec::new();
    fn walk(value: &Value, node: &Value, path: &str, missing: &mut Vec<String>) {
        let Some(map) = value.as_object() else { return };
        if node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            return;
        }
        for (key, child) in map {
            let here = format!("{path}.{key}");
            match node.get("properties").and_then(|p| p.get(key)).or_else(|| node.get("additionalProperties")) {
                Some(schema) => walk(child, schema, &here, missing),
                None => missing.push(here),
            }
        }
    }
    walk(&values, &open_api_schema()["properties"]["spec"], "spec", &mut missing);
    assert!(missing.is_empty(), "keys of the defaults the CRD does not declare: {missing:?}");
}

#[test]
fn generated_schema_accepts_the_default_values() {
    // Given values/values.yaml, as the chart writes it into the spec.
    let defaults = gpuplan_compiler::defaults().expect("defaults parse").to_json();
    assert_eq!(spec_errors(&defaults), Vec::<String>::new());
}

#[test]
fn generated_schema_accepts_effective_values_of_other_flag_sets() {
    for sets in [
        &["operator.defaultRuntime=crio", "toolkit.env[0].name=CONTAINERD_SET_AS_DEFAULT", "toolkit.env[0].value=true"]
            [..],
        &["driver.upgradePolicy.maxUnavailable=3", "operator.logging.level=5", "operator.resources.limits.cpu=2"],
        &["node-feature-discovery.master.podDisruptionBudget.enable=true", "extraObjects[0]=kind: ConfigMap"],
    ] {
        assert_eq!(spec_errors(&effective(sets)), Vec::<String>::new(), "{sets:?}");
    }
}

#[test]
fn generated_schema_rejects_a_typod_key_under_strict_field_validation() {
    let mut values = effective(&[]);
    values["toolkit"]["envv"] = json!([{"name": "X"}]);
    let errors = spec_errors(&values);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("/toolkit: ") && errors[0].contains("envv"), "{errors:?}");
}

#[test]
fn generated_schema_rejects_wrong_types_and_values_the_values_schema_rejects() {
    let mut values = effective(&[]);
    values["toolkit"]["env"] = json!([{"name": "CONTAINERD_SET_AS_DEFAULT", "value": true}]);
    values["operator"]["defaultRuntime"] = json!("podman");
    values["driver"]["upgradePolicy"]["maxUnavailable"] = json!("lots");
    let errors = spec_errors(&values);
    let pointers: Vec<&str> = errors.iter().map(|e| e.split(": ").next().unwrap_or_default()).collect();
    assert_eq!(
        pointers,
        ["/driver/upgradePolicy/maxUnavailable", "/operator/defaultRuntime", "/toolkit/env/0/value"],
        "{errors:?}"
    );
}
