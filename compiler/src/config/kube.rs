//! The Kubernetes value shapes the values tree repeats: container env entries, tolerations,
//! resource requirements, pull policies, quantities and int-or-percent fields.
//!
//! Input: the pieces of the checked values that several components repeat. Output: typed
//! structs that serde fills and schemars turns into the matching part of
//! `schema/values.schema.json`, so the schema and the typed config cannot drift apart.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A free-form object: the schema accepts any keys (Kubernetes affinity, extra config blocks).
pub type FreeForm = serde_json::Map<String, serde_json::Value>;

/// String-to-string map (labels, annotations, node selectors).
pub type StringMap = BTreeMap<String, String>;

/// An environment variable for a container, as the chart's `env` lists hold them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    /// Variable name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Variable value. Always a string: `--set env[0].value=true` keeps the text `"true"`.
    #[serde(default)]
    pub value: String,
}

/// When the kubelet pulls a container image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub enum PullPolicy {
    /// Pull on every start.
    Always,
    /// Pull only when the image is not on the node (the chart's default).
    #[default]
    IfNotPresent,
    /// Never pull; the image must already be on the node.
    Never,
}

/// A Kubernetes toleration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Toleration {
    /// Taint key to match; empty with `operator: Exists` matches every taint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// How the key is matched against the taint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<TolerationOperator>,
    /// Taint value to match when `operator` is `Equal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Taint effect to match; empty matches every effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
    /// For `NoExecute`: how long the pod stays bound after the taint appears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

/// How a toleration's key is compared with a taint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TolerationOperator {
    /// The taint must exist; its value is ignored.
    Exists,
    /// The taint's value must equal the toleration's value.
    Equal,
}

/// The effect of a taint a toleration matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TaintEffect {
    /// Pods that do not tolerate the taint are not scheduled.
    NoSchedule,
    /// The scheduler tries not to place pods that do not tolerate the taint.
    PreferNoSchedule,
    /// Running pods that do not tolerate the taint are evicted.
    NoExecute,
    /// Matches every effect.
    #[serde(rename = "")]
    Any,
}

/// Compute resource requests and limits of a container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Maximum resources the container may use, by resource name (`cpu`, `memory`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Quantity>,
    /// Resources the scheduler reserves for the container, by resource name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, Quantity>,
    /// Dynamic resource claims the container uses, by claim name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<ResourceClaim>,
}

/// A reference to one of the pod's resource claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceClaim {
    /// Name of the claim in the pod's `resourceClaims`.
    pub name: String,
    /// Request within the claim, when it has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// The text of a Kubernetes quantity pattern (`500m`, `350Mi`, `1.5`, `2e3`).
const QUANTITY_PATTERN: &str =
    r"^[+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// A Kubernetes resource quantity: a number, or a string such as `500m` or `350Mi`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    /// A plain number of units.
    Number(serde_json::Number),
    /// A quantity string with an optional suffix.
    Text(String),
}

impl JsonSchema for Quantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A Kubernetes quantity: a number, or a string such as `500m` or `350Mi`.",
            "anyOf": [
                { "type": "number" },
                { "type": "string", "pattern": QUANTITY_PATTERN }
            ]
        })
    }
}

/// An integer, or a string holding an integer or a percentage (`1`, `"1"`, `"25%"`), as
/// Kubernetes' `maxUnavailable` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrPercent {
    /// An absolute count.
    Int(i64),
    /// A count or a percentage, as text.
    Text(String),
}

impl JsonSchema for IntOrPercent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IntOrPercent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An integer, or a string holding an integer or a percentage such as `25%`.",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^[0-9]+%?$" }
            ]
        })
    }
}
