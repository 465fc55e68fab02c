//! Pod-level settings the NFD components share: DNS policy, extra environment, service account,
//! RBAC switch, probe timings, network policy and disruption budget.
//!
//! Input: the sub-blocks that `master`, `worker`, `topologyUpdater` and `gc` repeat with the same
//! shape. Output: one type per shape, so the four component structs and the schema describe each
//! of them once.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DNS_SUBDOMAIN;
use crate::config::kube::{FreeForm, IntOrPercent, StringMap};

/// How a pod resolves DNS names (the pod's `dnsPolicy`). Kubernetes' `None` is not offered: it
/// requires a pod `dnsConfig`, which the NFD pods do not set, so the API server would reject
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "NfdDnsPolicy")]
pub enum DnsPolicy {
    /// Use the cluster DNS; with `hostNetwork: true` this falls back to the node's resolver.
    ClusterFirst,
    /// Use the cluster DNS even when the pod runs in the host network (the NFD default).
    ClusterFirstWithHostNet,
    /// Use the node's resolver configuration.
    Default,
}

/// An extra environment variable for an NFD container, as a Kubernetes `EnvVar`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdExtraEnvVar")]
pub struct ExtraEnvVar {
    /// Variable name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Literal value. Leave unset when `valueFrom` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where to read the value from (a Kubernetes `EnvVarSource`: `fieldRef`,
    /// `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<FreeForm>,
}

/// The ServiceAccount a component's pods run as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdServiceAccount")]
pub struct ServiceAccount {
    /// Whether to create the ServiceAccount. When false, an existing one named `name` is used
    /// (`default` if `name` is unset).
    pub create: bool,
    /// Annotations added to the created ServiceAccount.
    #[serde(default)]
    pub annotations: StringMap,
    /// ServiceAccount name. Unset derives one from the release name and the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DNS_SUBDOMAIN), length(max = 253))]
    pub name: Option<String>,
}

/// Whether to create the RBAC objects a component needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdRbac")]
pub struct Rbac {
    /// Create the component's ClusterRole, Role and bindings. Turn off only when they are
    /// managed elsewhere.
    pub create: bool,
}

/// Timing of a liveness or startup probe. The probe itself is fixed: an HTTP GET of
/// `/healthz` on the component's port. Each unset or zero field keeps the Kubernetes default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdProbeTiming")]
pub struct ProbeTiming {
    /// Seconds to wait after the container starts before the first probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u32>,
    /// Seconds after which one probe attempt counts as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<u32>,
    /// Seconds between probe attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub period_seconds: Option<u32>,
    /// Consecutive failures after which the kubelet restarts the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub failure_threshold: Option<u32>,
}

/// Timing of a readiness probe (an HTTP GET of `/healthz` on the component's port). Each unset
/// or zero field keeps the Kubernetes default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdReadinessProbeTiming")]
pub struct ReadinessProbeTiming {
    /// Seconds to wait after the container starts before the first probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u32>,
    /// Seconds after which one probe attempt counts as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<u32>,
    /// Seconds between probe attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub period_seconds: Option<u32>,
    /// Consecutive successes after which a not-ready pod counts as ready again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub success_threshold: Option<u32>,
    /// Consecutive failures after which the pod is marked not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub failure_threshold: Option<u32>,
}

/// A NetworkPolicy that limits the traffic of a component's pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdNetworkPolicy")]
pub struct NetworkPolicy {
    /// Whether to create the NetworkPolicy.
    pub enabled: bool,
    /// Allowed outgoing traffic, as Kubernetes `NetworkPolicyEgressRule` objects. The pods need
    /// at least DNS (53/TCP and 53/UDP) and the API server (443/TCP, or 6443/TCP on OpenShift).
    #[serde(default)]
    pub egress: Vec<FreeForm>,
    /// Allowed incoming traffic, as Kubernetes `NetworkPolicyIngressRule` objects. The default
    /// admits the `http` port that serves metrics and health checks.
    #[serde(default)]
    pub ingress: Vec<FreeForm>,
}

/// A PodDisruptionBudget for a component's Deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("not" = { "required": ["minAvailable", "maxUnavailable"] }))]
#[schemars(rename = "NfdPodDisruptionBudget")]
pub struct PodDisruptionBudget {
    /// Whether to create the PodDisruptionBudget.
    pub enable: bool,
    /// Pods (a count, or a percentage such as `50%`) that must stay available during a
    /// voluntary disruption. Do not set together with `maxUnavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrPercent>,
    /// Pods (a count or a percentage) that may be unavailable during a voluntary disruption.
    /// Do not set together with `minAvailable`: set that to null to use this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrPercent>,
    /// When running but not-ready pods may be evicted.
    pub unhealthy_pod_eviction_policy: UnhealthyPodEvictionPolicy,
}

/// When a PodDisruptionBudget lets running but not-ready pods be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "NfdUnhealthyPodEvictionPolicy")]
pub enum UnhealthyPodEvictionPolicy {
    /// Only while the budget is met, like healthy pods.
    IfHealthyBudget,
    /// Always: a pod that is not ready does not hold a node drain up.
    AlwaysAllow,
}
