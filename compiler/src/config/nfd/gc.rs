//! The `gc` block: the nfd-gc Deployment, which periodically deletes NodeFeature and
//! NodeResourceTopology objects whose node no longer exists.
//!
//! Input: `node-feature-discovery.gc` of the checked values. Output: [`Gc`], from which the gc
//! Deployment, its ServiceAccount, RBAC and optional PodDisruptionBudget and NetworkPolicy are
//! rendered. Its container security context is fixed (no capabilities, non-root, read-only root
//! filesystem), so unlike the other components it has no `securityContext` key.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::GO_DURATION_OR_EMPTY;
use super::pod::{
    DnsPolicy, ExtraEnvVar, NetworkPolicy, PodDisruptionBudget, ProbeTiming, Rbac, ReadinessProbeTiming, ServiceAccount,
};
use crate::config::kube::{FreeForm, Resources, StringMap, Toleration};

/// Settings of the nfd-gc Deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdGc")]
pub struct Gc {
    /// Whether to deploy nfd-gc.
    pub enable: bool,
    /// Extra command-line flags for nfd-gc, appended after the ones this block produces.
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// Extra environment variables for the nfd-gc container.
    #[serde(default)]
    pub extra_envs: Vec<ExtraEnvVar>,
    /// Whether the pods use the node's network namespace.
    pub host_network: bool,
    /// Whether the pods share the node's user namespace. Unset leaves the Kubernetes default
    /// (shared). Must not be false while `hostNetwork` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_users: Option<bool>,
    /// Number of nfd-gc pods. At least 1: to run none, set `enable: false`.
    #[schemars(range(min = 1))]
    pub replica_count: u32,
    /// DNS policy of the pods.
    pub dns_policy: DnsPolicy,
    /// The ServiceAccount nfd-gc runs as. gpuplan reuses the master's `node-feature-discovery`
    /// account instead of creating another.
    pub service_account: ServiceAccount,
    /// RBAC for nfd-gc (it lists nodes and deletes NFD objects cluster-wide).
    pub rbac: Rbac,
    /// How long nfd-gc waits between clean-up passes, as a Go duration (`1h`, `30m`). Empty
    /// keeps NFD's default (one hour).
    #[schemars(pattern(GO_DURATION_OR_EMPTY))]
    pub interval: String,
    /// Pod-level security context (a Kubernetes `PodSecurityContext`).
    #[serde(default)]
    pub pod_security_context: FreeForm,
    /// Init containers run before nfd-gc starts (Kubernetes `Container` objects).
    #[serde(default)]
    pub init_containers: Vec<FreeForm>,
    /// Timing of the liveness probe.
    pub liveness_probe: ProbeTiming,
    /// Timing of the readiness probe.
    pub readiness_probe: ReadinessProbeTiming,
    /// CPU and memory of the nfd-gc container.
    #[serde(default)]
    pub resources: Resources,
    /// Port serving metrics and the `/healthz` endpoint.
    #[schemars(range(min = 1))]
    pub port: u16,
    /// Node labels the pods must match to be scheduled.
    #[serde(default)]
    pub node_selector: StringMap,
    /// Taints the pods tolerate.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// Annotations added to the nfd-gc pods.
    #[serde(default)]
    pub annotations: StringMap,
    /// Labels added to the nfd-gc pods.
    #[serde(default)]
    pub labels: StringMap,
    /// Annotations added to the Deployment object itself.
    #[serde(default)]
    pub deployment_annotations: StringMap,
    /// Pod affinity rules (a Kubernetes `Affinity`).
    #[serde(default)]
    pub affinity: FreeForm,
    /// PodDisruptionBudget for the Deployment.
    pub pod_disruption_budget: PodDisruptionBudget,
    /// Old ReplicaSets the Deployment keeps for rollback. Unset keeps the Kubernetes default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<u32>,
    /// NetworkPolicy for the nfd-gc pods.
    pub network_policy: NetworkPolicy,
}
