//! The `worker` block: the nfd-worker DaemonSet, which inspects every node's hardware and
//! kernel and reports what it finds as a NodeFeature object for nfd-master to label.
//!
//! Input: `node-feature-discovery.worker` of the checked values. Output: [`Worker`], from which
//! the worker DaemonSet, its ConfigMap, ServiceAccount, RBAC and optional NetworkPolicy are
//! rendered.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DNS_SUBDOMAIN;
use super::pod::{DnsPolicy, ExtraEnvVar, NetworkPolicy, ProbeTiming, Rbac, ReadinessProbeTiming, ServiceAccount};
use crate::config::kube::{FreeForm, IntOrPercent, Resources, StringMap, Toleration};

/// Settings of the nfd-worker DaemonSet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdWorker")]
pub struct Worker {
    /// Whether to deploy nfd-worker. Without it no hardware features are discovered.
    pub enable: bool,
    /// Objects that own each worker's NodeFeature object, so Kubernetes deletes it with them.
    /// Passed as `-owner-refs`, which wins over `core.ownerRefs` in `config`; an empty list
    /// leaves the objects unowned. Listing `node` also grants the worker read access to nodes.
    #[schemars(extend("uniqueItems" = true))]
    #[serde(default)]
    pub owner_refs: Vec<OwnerRef>,
    /// Extra command-line flags for nfd-worker, appended after the ones this block produces.
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// Extra environment variables for the nfd-worker container.
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
    /// Contents of nfd-worker's configuration file (`nfd-worker.conf`), written as-is into the
    /// worker's ConfigMap. Free-form because its layout follows the NFD release; see NFD's
    /// worker configuration reference (`core` for the discovery interval, enabled sources and
    /// label filtering; `sources` for per-source settings and `custom` rules). gpuplan's default limits PCI labels to network
    /// (`02`, `0200`, `0207`) and display (`0300`, `0302`) device classes, labelled by vendor:
    /// the `feature.node.kubernetes.io/pci-10de.present` label the GPU Operator selects GPU
    /// nodes by. PCI class codes are hex strings: quote them in YAML.
    #[serde(default)]
    pub config: FreeForm,
    /// Port serving metrics and the `/healthz` endpoint.
    #[schemars(range(min = 1))]
    pub port: u16,
    /// Annotations added to the DaemonSet object itself.
    #[serde(default)]
    pub daemonset_annotations: StringMap,
    /// Pod-level security context (a Kubernetes `PodSecurityContext`).
    #[serde(default)]
    pub pod_security_context: FreeForm,
    /// Init containers run before nfd-worker starts (Kubernetes `Container` objects).
    #[serde(default)]
    pub init_containers: Vec<FreeForm>,
    /// Security context of the nfd-worker container (a Kubernetes `SecurityContext`). The
    /// default drops all capabilities and runs as a non-root user on a read-only root
    /// filesystem; the host paths the worker reads are mounted read-only.
    #[serde(default)]
    pub security_context: FreeForm,
    /// Timing of the liveness probe.
    pub liveness_probe: ProbeTiming,
    /// Timing of the readiness probe.
    pub readiness_probe: ReadinessProbeTiming,
    /// The ServiceAccount nfd-worker runs as. gpuplan reuses the master's
    /// `node-feature-discovery` account instead of creating a second one.
    pub service_account: ServiceAccount,
    /// Old revisions the DaemonSet keeps for rollback. Unset keeps the Kubernetes default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<u32>,
    /// RBAC for nfd-worker (it writes NodeFeature objects in its namespace).
    pub rbac: Rbac,
    /// Also mount the node's `/usr/src` read-only, for kernel configuration that only lives
    /// there (such as RHCOS on s390x). Pods fail to start on nodes that have no `/usr/src` and a
    /// read-only `/usr` (such as Talos).
    pub mount_usr_src: bool,
    /// CPU and memory of the nfd-worker container.
    #[serde(default)]
    pub resources: Resources,
    /// Node labels the pods must match to be scheduled.
    #[serde(default)]
    pub node_selector: StringMap,
    /// Taints the pods tolerate. gpuplan's default lets the worker run on control-plane nodes
    /// and on nodes tainted `nvidia.com/gpu`.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// Annotations added to the nfd-worker pods.
    #[serde(default)]
    pub annotations: StringMap,
    /// Labels added to the nfd-worker pods.
    #[serde(default)]
    pub labels: StringMap,
    /// Pod affinity rules (a Kubernetes `Affinity`).
    #[serde(default)]
    pub affinity: FreeForm,
    /// PriorityClass for the worker pods only, in place of the top-level `priorityClassName`.
    /// Unset uses the top-level one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DNS_SUBDOMAIN), length(max = 253))]
    pub priority_class_name: Option<String>,
    /// How the DaemonSet replaces worker pods when they change.
    pub update_strategy: UpdateStrategy,
    /// NetworkPolicy for the nfd-worker pods.
    pub network_policy: NetworkPolicy,
}

/// A kind of object that can own a worker's NodeFeature object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "NfdOwnerRef")]
pub enum OwnerRef {
    /// The Node the worker runs on: the object goes away when the node is deleted.
    #[serde(rename = "node")]
    Node,
    /// The worker pod: the object goes away when the pod is deleted.
    #[serde(rename = "pod")]
    Pod,
    /// The worker DaemonSet: the object goes away when NFD is uninstalled.
    #[serde(rename = "ds")]
    DaemonSet,
}

/// The DaemonSet's update strategy (a Kubernetes `DaemonSetUpdateStrategy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdUpdateStrategy")]
pub struct UpdateStrategy {
    /// How pods are replaced. Unset means `RollingUpdate`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<UpdateStrategyType>,
    /// Pace of a rolling update. Kubernetes ignores it when `type` is `OnDelete`.
    pub rolling_update: RollingUpdate,
}

/// How a DaemonSet replaces its pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "NfdUpdateStrategyType")]
pub enum UpdateStrategyType {
    /// Replace pods automatically, a bounded number of nodes at a time.
    RollingUpdate,
    /// Replace a pod only when someone deletes it.
    OnDelete,
}

/// Pace of a DaemonSet rolling update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdRollingUpdate")]
pub struct RollingUpdate {
    /// Nodes (a count, or a percentage of the nodes such as `10%`) whose worker may be down at
    /// once. The gpuplan default, `10%`, finishes an upgrade in about ten waves however large
    /// the cluster; `1` updates one node at a time. May be 0 only when `maxSurge` is not.
    pub max_unavailable: IntOrPercent,
    /// Nodes (a count or a percentage) that may briefly run an old and a new worker pod side
    /// by side. Unset keeps the Kubernetes default (0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrPercent>,
}
