//! Blocks gpuplan accepts but does not render yet, apart from the virtual machine stack (see
//! `sandbox`): the GPUDirect Storage and GDRCopy driver add-ons (`gds`, `gdrcopy`) and the
//! experimental DRA stack (`gpuCluster`, `draDriver`).
//!
//! Input: the matching blocks of the checked values. Output: typed structs, so that values files
//! written for the upstream chart load and are checked; the compiler warns when any of them is
//! set.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kube::{EnvVar, PullPolicy, Resources};
use super::patterns;

/// An extra kernel module container in the driver pod: `nvidia-fs` for GPUDirect Storage, or
/// `gdrdrv` for GDRCopy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DriverAddon {
    /// Add the module's container to the driver pods. Default `false`.
    pub enabled: bool,
    /// Registry and path of the module's image. Default `nvcr.io/nvidia/cloud-native`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the module's image within `repository`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the module's image; the operator appends the node's OS.
    /// Always text, so `2.29.4` is not read as a number.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the module's image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Extra environment variables for the module's container.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// Extra command-line arguments for the module's container.
    #[serde(default)]
    pub args: Vec<String>,
}

/// The GPUCluster custom resource, which describes an experimental GPU stack built on Dynamic
/// Resource Allocation (DRA) instead of the device plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GpuCluster {
    /// Create the `gpu-cluster` GPUCluster. Needs `clusterPolicy.deployCR` off,
    /// `driver.nvidiaDriverCRD.enabled` on (when the driver is managed) and a cluster that serves
    /// the `resource.k8s.io` API. Default `false`.
    #[serde(rename = "deployCR")]
    pub deploy_cr: bool,
}

/// The NVIDIA DRA driver for GPUs, deployed by the GPUCluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DraDriver {
    /// Registry and path of the DRA driver image. Default `nvcr.io/nvidia`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the DRA driver image within `repository`. Default `dra-driver-nvidia-gpu`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the DRA driver image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the DRA driver image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Feature gates of the DRA driver, by name (such as `MPSSupport: true`). Empty keeps the
    /// driver's defaults.
    #[serde(default)]
    pub feature_gates: BTreeMap<String, bool>,
    /// The GPU capability (`gpu.nvidia.com`, `mig.nvidia.com`, `vfio.gpu.nvidia.com` device
    /// classes), always deployed.
    pub gpus: DraGpus,
    /// The compute domain capability, for Multi-Node NVLink systems.
    pub compute_domains: DraComputeDomains,
}

/// The GPU capability of the DRA driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DraGpus {
    /// Overrides for the `gpus` container of the kubelet plugin DaemonSet.
    pub kubelet_plugin: DraKubeletPlugin,
}

/// The compute domain capability of the DRA driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DraComputeDomains {
    /// Deploy the compute domain controller and kubelet plugin container. Default `true`.
    pub enabled: bool,
    /// Overrides for the compute domain controller Deployment.
    pub controller: DraController,
    /// Overrides for the `compute-domains` container of the kubelet plugin DaemonSet.
    pub kubelet_plugin: DraKubeletPlugin,
}

/// Overrides for one container of the DRA kubelet plugin. Scheduling is fixed; every field is
/// optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DraKubeletPlugin {
    /// Extra environment variables for the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// The container's gRPC health service and the probes that use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<DraHealthcheck>,
}

/// Health service of a DRA kubelet plugin container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DraHealthcheck {
    /// Serve health checks and probe them. Unset: on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// TCP port of the health service. Unset: 51516 for `gpus`, 51515 for `compute-domains`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
}

/// Overrides for the DRA compute domain controller. Scheduling is fixed; every field is
/// optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DraController {
    /// Extra environment variables for the controller.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}
