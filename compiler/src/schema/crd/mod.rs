//! The `GPUPlan` CustomResourceDefinition, generated from the values schema.
//!
//! Input: the embedded values JSON Schema (`schema/values.schema.json`, draft 2020-12).
//! Output: the whole CRD `gpuplans.gpuplan.dev` as JSON ([`crd`]): a cluster-scoped
//! `gpuplan.dev/v1alpha1` `GPUPlan` whose `spec` is the values and whose `status` the
//! operator writes; and, on its own, the conversion of a JSON Schema into a *structural*
//! OpenAPI v3 schema the API server accepts ([`structural`]).
//!
//! [`structural`] keeps `required`. The CRD does not require what the operator fills in: it
//! lays the spec over the built-in defaults as Helm lays user values over a chart's
//! (`gpuplan_compiler::coalesce`), so a key a map of the defaults holds may be left out
//! (`spec: {operator: {defaultRuntime: crio}}` is a whole GPUPlan). `required` stays inside
//! list items and open maps, which coalescing does not fill (an `env` entry needs its `name`).
//! The chart writes the effective values, every key present, which passes either way.

mod structural;

use serde_json::{Value as J, json};

pub use structural::structural;

/// The resource's API group.
pub const GROUP: &str = "gpuplan.dev";
/// The resource's version.
pub const VERSION: &str = "v1alpha1";
/// The resource's kind.
pub const KIND: &str = "GPUPlan";
/// The resource's plural name.
pub const PLURAL: &str = "gpuplans";
/// The resource's singular name.
pub const SINGULAR: &str = "gpuplan";
/// The resource's short name (`kubectl get gp`).
pub const SHORT_NAME: &str = "gp";

/// The `GPUPlan` CRD: the values schema as the spec, the operator's status, printer columns.
pub fn crd() -> J {
    // The whole document, `$defs` included: the CRD inlines every definition.
    let whole = serde_json::from_str(super::SCHEMA).unwrap_or(J::Bool(true));
    let mut spec = structural(&whole);
    drop_filled_required(&mut spec);
    if let J::Object(map) = &mut spec {
        // The values' own title and description say what the object is; the spec's say
        // what the spec is.
        map.insert(
            "description".into(),
            "The values: gpuplan's settings of the NVIDIA GPU Operator, as `gpuplan values` prints \
             them and the Helm chart writes them. The operator compiles them into a plan and applies it."
                .into(),
        );
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{PLURAL}.{GROUP}"),
            "labels": {"app.kubernetes.io/managed-by": "gpuplan"}
        },
        "spec": {
            "group": GROUP,
            "scope": "Cluster",
            "names": {
                "kind": KIND,
                "listKind": format!("{KIND}List"),
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": [SHORT_NAME]
            },
            "versions": [{
                "name": VERSION,
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
                    {"name": "Digest", "type": "string", "jsonPath": ".status.digest"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
                "schema": {"openAPIV3Schema": {
                    "description": "A GPU Operator installation planned and applied by gpuplan: the spec is the values, \
                                    the status what the operator last did with them.",
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec,
                        "status": status()
                    }
                }}
            }]
        }
    })
}

/// Drop `required` where coalescing over the defaults fills keys in: on every object reached
/// from the root through `properties` alone (not inside `items` or `additionalProperties`).
fn drop_filled_required(node: &mut J) {
    let Some(map) = node.as_object_mut() else { return };
    map.remove("required");
    for child in map.get_mut("properties").and_then(J::as_object_mut).into_iter().flat_map(|p| p.values_mut()) {
        drop_filled_required(child);
    }
}

/// The status the operator writes.
fn status() -> J {
    let string = |description: &str| json!({"type": "string", "description": description});
    let integer = |description: &str| json!({"type": "integer", "format": "int64", "description": description});
    json!({
        "type": "object",
        "description": "What the operator last did with the spec.",
        "properties": {
            "observedGeneration": integer("The generation of the spec the status describes."),
            "digest": string("The digest of the plan last applied."),
            "revision": integer("The release revision last applied: 1 for the install, +1 per change."),
            "gpuNodes": integer("How many nodes the operator labelled as GPU nodes."),
            "factsDigest": string("The digest of the cluster's facts (nodes' OS and container runtime, served APIs) the plan was compiled for."),
            "daemonSets": {
                "type": "array",
                "description": "The DaemonSets of the plan last applied: a driver per GPU node OS, a node agent per container runtime, the other operands.",
                "items": {"type": "string"}
            },
            "conditions": {
                "type": "array",
                "description": "The latest observations of the plan's state (`Ready`, ...), one per type.",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {
                    "type": "object",
                    "required": ["type", "status"],
                    "properties": {
                        "type": string("The condition's type, such as `Ready`."),
                        "status": {"type": "string", "enum": ["True", "False", "Unknown"], "description": "Whether the condition holds."},
                        "reason": string("Why, in one CamelCase word."),
                        "message": string("Why, for people."),
                        "lastTransitionTime": {"type": "string", "format": "date-time", "description": "When the status last changed."},
                        "observedGeneration": integer("The generation of the spec the condition was set for.")
                    }
                }
            },
            "stages": {
                "type": "array",
                "description": "Each stage of the plan, in apply order, and whether it is ready.",
                "items": {
                    "type": "object",
                    "required": ["name", "ready"],
                    "properties": {
                        "name": string("The stage's name."),
                        "ready": {"type": "boolean", "description": "Whether every object of the stage is ready."},
                        "message": string("What the stage waits for, when it is not ready.")
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_names_a_cluster_scoped_gpuplan_with_status_and_columns() {
        let crd = crd();
        assert_eq!(crd["metadata"]["name"], "gpuplans.gpuplan.dev");
        assert_eq!(crd["spec"]["scope"], "Cluster");
        assert_eq!(crd["spec"]["names"]["shortNames"], json!(["gp"]));
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["subresources"], json!({"status": {}}));
        let columns: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(columns, ["Ready", "Digest", "Age"]);
        let root = &version["schema"]["openAPIV3Schema"];
        assert_eq!(
            root["properties"]["status"]["properties"]["conditions"]["x-kubernetes-list-map-keys"],
            json!(["type"])
        );
        assert!(root["properties"]["spec"]["properties"]["toolkit"]["properties"]["env"].is_object());
    }

    #[test]
    fn crd_requires_nothing_coalescing_fills_but_keeps_list_items_required() {
        let crd = crd();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert!(spec.get("required").is_none(), "the defaults fill top-level keys");
        assert!(spec["properties"]["operator"].get("required").is_none(), "and keys of their maps");
        assert_eq!(spec["properties"]["toolkit"]["properties"]["env"]["items"]["required"], json!(["name"]));
    }
}
