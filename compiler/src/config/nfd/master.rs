//! The `master` block: the nfd-master Deployment, which reads the features the workers report
//! and writes node labels, annotations, taints and extended resources.
//!
//! Input: `node-feature-discovery.master` of the checked values. Output: [`Master`], from which
//! the master Deployment, its ConfigMap, ServiceAccount, RBAC and optional
//! PodDisruptionBudget and NetworkPolicy are rendered. The post-delete clean-up job also borrows
//! the master's image settings, security context, resources and scheduling fields.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::GO_DURATION;
use super::pod::{
    DnsPolicy, ExtraEnvVar, NetworkPolicy, PodDisruptionBudget, ProbeTiming, Rbac, ReadinessProbeTiming, ServiceAccount,
};
use crate::config::kube::{FreeForm, Resources, StringMap, Toleration};

/// Settings of the nfd-master Deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdMaster")]
pub struct Master {
    /// Whether to deploy nfd-master. Without it no feature labels reach the nodes.
    pub enable: bool,
    /// Extra command-line flags for nfd-master, appended after the ones this block produces
    /// (for example `-v=2`).
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// Extra environment variables for the nfd-master container.
    #[serde(default)]
    pub extra_envs: Vec<ExtraEnvVar>,
    /// Whether the pods use the node's network namespace.
    pub host_network: bool,
    /// Whether the pods share the node's user namespace. Unset leaves the Kubernetes default
    /// (shared). Must not be false while `hostNetwork` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_users: Option<bool>,
    /// DNS policy of the pods.
    pub dns_policy: DnsPolicy,
    /// Contents of nfd-master's configuration file (`nfd-master.conf`), written as-is into the
    /// master's ConfigMap. Free-form because its layout follows the NFD release; see NFD's
    /// master configuration reference (`extraLabelNs`, `denyLabelNs`, `labelWhiteList`,
    /// `resyncPeriod`, `leaderElection`, `restrictions`, `klog`, ...). gpuplan's default lets
    /// NFD publish labels under `nvidia.com`. The flags this block sets (`extraLabelNs`,
    /// `denyLabelNs`, `enableTaints`, `resyncPeriod`, `nfdApiParallelism`) win over the same
    /// options in this file.
    #[serde(default)]
    pub config: FreeForm,
    /// Port serving metrics and the `/healthz` endpoint.
    #[schemars(range(min = 1))]
    pub port: u16,
    /// Instance name, for running several NFD deployments side by side: it separates the node
    /// annotations each one keeps. Letters, digits, `-`, `_` and `.`, starting and ending with a
    /// letter or digit. Unset runs the default instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"))]
    pub instance: Option<String>,
    /// How often nfd-master replays every NodeFeature and NodeFeatureRule to re-sync all nodes,
    /// as a Go duration (`1h`, `2h45m`). Unset keeps NFD's default (one hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(GO_DURATION))]
    pub resync_period: Option<String>,
    /// Label namespaces nfd-master must not publish labels in (passed as `-deny-label-ns`).
    #[serde(default)]
    pub deny_label_ns: Vec<String>,
    /// Label namespaces nfd-master may publish labels in even when otherwise denied (passed as
    /// `-extra-label-ns`).
    #[serde(default)]
    pub extra_label_ns: Vec<String>,
    /// Whether nfd-master may taint nodes as NodeFeatureRules ask.
    pub enable_taints: bool,
    /// Most node updates nfd-master runs at once. Unset keeps NFD's default (10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub nfd_api_parallelism: Option<u32>,
    /// Annotations added to the Deployment object itself.
    #[serde(default)]
    pub deployment_annotations: StringMap,
    /// Number of nfd-master pods. More than one turns on leader election.
    pub replica_count: u32,
    /// Pod-level security context (a Kubernetes `PodSecurityContext`).
    #[serde(default)]
    pub pod_security_context: FreeForm,
    /// Init containers run before nfd-master starts (Kubernetes `Container` objects).
    #[serde(default)]
    pub init_containers: Vec<FreeForm>,
    /// Security context of the nfd-master container (a Kubernetes `SecurityContext`). The
    /// default drops all capabilities and runs as a non-root user on a read-only root
    /// filesystem. The post-delete clean-up job uses it too.
    #[serde(default)]
    pub security_context: FreeForm,
    /// The ServiceAccount nfd-master runs as. gpuplan names it `node-feature-discovery` and
    /// lets the worker and gc share it.
    pub service_account: ServiceAccount,
    /// Old ReplicaSets the Deployment keeps for rollback. Unset keeps the Kubernetes default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<u32>,
    /// RBAC for nfd-master (it updates Node objects cluster-wide).
    pub rbac: Rbac,
    /// CPU and memory of the nfd-master container, also used by the clean-up job.
    #[serde(default)]
    pub resources: Resources,
    /// Node labels the pods must match to be scheduled.
    #[serde(default)]
    pub node_selector: StringMap,
    /// Taints the pods tolerate. The default lets nfd-master run on control-plane nodes.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// PodDisruptionBudget for the Deployment.
    pub pod_disruption_budget: PodDisruptionBudget,
    /// NetworkPolicy for the nfd-master pods.
    pub network_policy: NetworkPolicy,
    /// Annotations added to the nfd-master pods.
    #[serde(default)]
    pub annotations: StringMap,
    /// Labels added to the nfd-master pods.
    #[serde(default)]
    pub labels: StringMap,
    /// Pod affinity rules (a Kubernetes `Affinity`). The default prefers control-plane nodes.
    #[serde(default)]
    pub affinity: FreeForm,
    /// Timing of the startup probe, which holds the other probes off until nfd-master answers.
    pub startup_probe: ProbeTiming,
    /// Timing of the liveness probe.
    pub liveness_probe: ProbeTiming,
    /// Timing of the readiness probe.
    pub readiness_probe: ReadinessProbeTiming,
}
