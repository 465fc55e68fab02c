//! The `topologyUpdater` block: the optional nfd-topology-updater DaemonSet, which reads the
//! kubelet's pod-resources API and publishes each node's allocatable and used resources per
//! NUMA zone as a NodeResourceTopology object, for topology-aware schedulers.
//!
//! Input: `node-feature-discovery.topologyUpdater` of the checked values. Output:
//! [`TopologyUpdater`], from which the DaemonSet, its ConfigMap, ServiceAccount, RBAC, the
//! NodeResourceTopology CRD and an optional NetworkPolicy are rendered. gpuplan leaves it off.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::pod::{DnsPolicy, ExtraEnvVar, NetworkPolicy, ProbeTiming, Rbac, ReadinessProbeTiming, ServiceAccount};
use super::{ABSOLUTE_PATH_OR_EMPTY, SIGNED_GO_DURATION_OR_EMPTY};
use crate::config::kube::{FreeForm, Resources, StringMap, Toleration};

/// Settings of the nfd-topology-updater DaemonSet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdTopologyUpdater")]
pub struct TopologyUpdater {
    /// Contents of the updater's configuration file (`nfd-topology-updater.conf`). Unset leaves
    /// every setting at NFD's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<TopologyUpdaterConfig>,
    /// Whether to deploy nfd-topology-updater.
    pub enable: bool,
    /// Whether to install the NodeResourceTopology CRD with it. The updater fails without that
    /// CRD, so turn this on together with `enable` unless the CRD is installed some other way.
    #[serde(rename = "createCRDs")]
    pub create_crds: bool,
    /// Extra command-line flags for nfd-topology-updater, appended after the ones this block
    /// produces.
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// Extra environment variables for the nfd-topology-updater container.
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
    /// The ServiceAccount the updater runs as.
    pub service_account: ServiceAccount,
    /// Old revisions the DaemonSet keeps for rollback. Unset keeps the Kubernetes default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<u32>,
    /// RBAC for the updater (it reads nodes and pods and writes NodeResourceTopology objects).
    pub rbac: Rbac,
    /// Port serving metrics and the `/healthz` endpoint.
    #[schemars(range(min = 1))]
    pub port: u16,
    /// Path of the kubelet's configuration file on the node, mounted so the updater can read
    /// the kubelet's reserved resources and topology policy. Unset or empty leaves it unmounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(ABSOLUTE_PATH_OR_EMPTY))]
    pub kubelet_config_path: Option<String>,
    /// Path of the kubelet's pod-resources socket on the node. Unset or empty uses
    /// `/var/lib/kubelet/pod-resources/kubelet.sock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(ABSOLUTE_PATH_OR_EMPTY))]
    pub kubelet_pod_resources_sock_path: Option<String>,
    /// Time between NodeResourceTopology updates, as a Go duration (`60s`). Zero or negative
    /// stops the periodic updates; empty uses `3s`.
    #[schemars(pattern(SIGNED_GO_DURATION_OR_EMPTY))]
    pub update_interval: String,
    /// Namespace whose pods are counted, or `*` for all namespaces. Empty means `*`.
    #[schemars(pattern(r"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"), length(max = 63))]
    pub watch_namespace: String,
    /// The kubelet's state directory on the node; the updater watches its state and checkpoint
    /// files to notice allocation changes at once. Empty turns that watching off.
    #[schemars(pattern(ABSOLUTE_PATH_OR_EMPTY))]
    pub kubelet_state_dir: String,
    /// Pod-level security context (a Kubernetes `PodSecurityContext`).
    #[serde(default)]
    pub pod_security_context: FreeForm,
    /// Init containers run before the updater starts (Kubernetes `Container` objects).
    #[serde(default)]
    pub init_containers: Vec<FreeForm>,
    /// Security context of the updater container (a Kubernetes `SecurityContext`). The default
    /// drops all capabilities on a read-only root filesystem but runs as root (user 0), which
    /// the kubelet's pod-resources socket requires.
    #[serde(default)]
    pub security_context: FreeForm,
    /// Timing of the liveness probe.
    pub liveness_probe: ProbeTiming,
    /// Timing of the readiness probe.
    pub readiness_probe: ReadinessProbeTiming,
    /// CPU and memory of the updater container.
    #[serde(default)]
    pub resources: Resources,
    /// Node labels the pods must match to be scheduled.
    #[serde(default)]
    pub node_selector: StringMap,
    /// Taints the pods tolerate.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// Annotations added to the updater pods.
    #[serde(default)]
    pub annotations: StringMap,
    /// Labels added to the updater pods.
    #[serde(default)]
    pub labels: StringMap,
    /// Annotations added to the DaemonSet object itself.
    #[serde(default)]
    pub daemonset_annotations: StringMap,
    /// Pod affinity rules (a Kubernetes `Affinity`).
    #[serde(default)]
    pub affinity: FreeForm,
    /// Whether to compute a fingerprint of the node's pod set and publish it in the
    /// NodeResourceTopology object, so schedulers can tell when their view is stale.
    pub pod_set_fingerprint: bool,
    /// NetworkPolicy for the updater pods.
    pub network_policy: NetworkPolicy,
}

/// The topology updater's configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdTopologyUpdaterConfig")]
pub struct TopologyUpdaterConfig {
    /// Resources left out of the NodeResourceTopology objects, by node name; the key `*`
    /// applies to every node. Example: `{"*": ["hugepages-2Mi"], "node1": ["cpu"]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_list: Option<BTreeMap<String, Vec<String>>>,
}
