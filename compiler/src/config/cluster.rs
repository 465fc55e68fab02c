//! Cluster-wide switches and settings shared by every operand: the platform, NFD, Pod Security
//! Admission, CDI, host paths, the common DaemonSet settings, the MIG strategy, whether a
//! ClusterPolicy is created, and extra manifests.
//!
//! Input: the matching top-level blocks of the checked values. Output: typed structs that the
//! config resolver reads and schemars turns into the matching part of the values schema.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::kube::{IntOrPercent, StringMap, Toleration};
use super::patterns;

/// The kind of Kubernetes distribution the plan targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Platform {
    /// Set on OpenShift. Adds the `restricted-readonly` SecurityContextConstraints that the
    /// operator pod runs under. Default `false`.
    pub openshift: bool,
}

/// Node Feature Discovery (NFD), which labels nodes with their PCI devices so the operator can
/// tell which nodes have NVIDIA GPUs. Its own settings are under `node-feature-discovery`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Nfd {
    /// Deploy NFD along with the operator. Turn off when the cluster already runs NFD.
    /// Default `true`.
    pub enabled: bool,
    /// Create the `nvidia-kernel-modules` NodeFeatureRule, which labels nodes that have the
    /// `nvidia_peermem`, `nvidia_fs` or `gdrdrv` kernel modules loaded. Default `false`.
    pub nodefeaturerules: bool,
}

/// Pod Security Admission labels on the operator's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Psa {
    /// Label the operator's namespace to enforce, audit and warn at the `privileged` level, which
    /// the GPU operands need. Default `false`.
    pub enabled: bool,
}

/// Container Device Interface (CDI): how GPUs are handed to containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cdi {
    /// Inject GPUs with CDI: the toolkit generates CDI specs, turns on CDI in the container
    /// runtime and leaves the runtime's default handler alone; the `nvidia-cdi` and
    /// `nvidia-legacy` RuntimeClasses are created too. Default `true`.
    pub enabled: bool,
    /// Inject CDI devices through an NRI plugin run by the toolkit instead of editing the
    /// container runtime's configuration; no RuntimeClasses are created. Needs `cdi.enabled` and
    /// `toolkit.enabled`. Default `false`.
    pub nri_plugin_enabled: bool,
}

/// Host directories the operands mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostPaths {
    /// The host's root file system, as operands that chroot into the host see it (the toolkit and
    /// the MIG manager use it to run host tools and restart services). Default `/`.
    #[serde(rename = "rootFS")]
    #[schemars(pattern(patterns::ABSOLUTE_PATH))]
    pub root_fs: String,
    /// Where the driver's libraries, binaries and configuration appear on the host: the driver
    /// container's root for a containerised driver. Default `/run/nvidia/driver`.
    #[schemars(pattern(patterns::ABSOLUTE_PATH))]
    pub driver_install_dir: String,
    /// The kubelet's root directory, for distributions that move it (k0s, MicroK8s). Unset or
    /// empty means `/var/lib/kubelet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(patterns::ABSOLUTE_PATH_OR_EMPTY))]
    pub kubelet_root_dir: Option<String>,
}

/// Settings applied to every operand DaemonSet the operator creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Daemonsets {
    /// Labels added to every operand DaemonSet and its pods (the `app` and
    /// `app.kubernetes.io/part-of` labels of a pod are never replaced).
    #[serde(default)]
    pub labels: StringMap,
    /// Annotations added to every operand DaemonSet and its pods.
    #[serde(default)]
    pub annotations: StringMap,
    /// PriorityClass of the operand pods; empty keeps each pod's built-in class. Default
    /// `system-node-critical`, so GPU node daemons are not evicted before ordinary workloads.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub priority_class_name: String,
    /// Tolerations of the operand pods. When non-empty they replace each pod's built-in
    /// tolerations. The default tolerates the `nvidia.com/gpu` taint, so tainted GPU nodes still
    /// get their operands.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// How operand DaemonSets replace their pods after a change. The driver DaemonSet always uses
    /// `OnDelete`, whatever this says, so a driver is only replaced by an orchestrated upgrade
    /// (see `driver.upgradePolicy`). Default `RollingUpdate`.
    pub update_strategy: UpdateStrategy,
    /// Rolling update settings, used when `updateStrategy` is `RollingUpdate`.
    pub rolling_update: RollingUpdate,
}

/// How a DaemonSet replaces its pods after its template changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum UpdateStrategy {
    /// Replace pods node by node, at most `rollingUpdate.maxUnavailable` at a time.
    RollingUpdate,
    /// Replace a pod only when someone deletes it.
    OnDelete,
}

/// Pace of a rolling update of the operand DaemonSets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RollingUpdate {
    /// How many nodes may have their operand pod down at once during an update: a number of
    /// nodes (`1`, `"1"`) or a percentage of the nodes that run it (`"10%"`, rounded up).
    /// Default `"1"`.
    pub max_unavailable: IntOrPercent,
}

/// Multi-Instance GPU (MIG) settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mig {
    /// How MIG devices are advertised to Kubernetes by the device plugin and labelled by GPU
    /// feature discovery (the `MIG_STRATEGY` setting). Default `single`.
    pub strategy: MigStrategy,
}

/// How MIG devices are exposed as Kubernetes resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MigStrategy {
    /// Ignore MIG: only whole GPUs are advertised, as `nvidia.com/gpu`.
    None,
    /// Every GPU on a node is split into MIG devices of one profile, advertised as
    /// `nvidia.com/gpu`.
    Single,
    /// GPUs may mix MIG profiles; each profile gets its own resource name, such as
    /// `nvidia.com/mig-1g.10gb`.
    Mixed,
}

/// The ClusterPolicy custom resource, which describes the whole device-plugin-based GPU stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterPolicy {
    /// Create the `cluster-policy` ClusterPolicy from these values. Turn off only to manage the
    /// ClusterPolicy some other way, or with `gpuCluster.deployCR`; the two cannot both be on.
    /// Default `true`.
    #[serde(rename = "deployCR")]
    pub deploy_cr: bool,
}

/// Schema of `extraObjects`: a list of manifests, each a map or YAML text.
pub(super) fn extra_objects_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "type": ["object", "string"],
            "description": "A Kubernetes manifest, as a map or as a string of YAML."
        }
    })
}
