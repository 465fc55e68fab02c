//! The operands for GPUs in virtual machines (sandbox workloads): KubeVirt or Kata passthrough,
//! vGPU, VFIO binding and confidential computing.
//!
//! Input: the `sandboxWorkloads`, `vgpuManager`, `vgpuDeviceManager`, `vfioManager`,
//! `kataManager`, `sandboxDevicePlugin`, `kataSandboxDevicePlugin` and `ccManager` blocks of the
//! checked values. Output: typed structs, so that values files written for the upstream chart
//! load and are checked. gpuplan does not render these operands yet; the compiler warns when any
//! of them is set.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::driver::{DriverManager, KernelModuleConfig};
use super::kube::{EnvVar, FreeForm, PullPolicy, Resources};
use super::patterns;

/// GPUs for virtual machines instead of containers, chosen per node with the
/// `nvidia.com/gpu.workload.config` label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SandboxWorkloads {
    /// Manage the virtual machine operands and read the nodes' workload labels. Default `false`.
    pub enabled: bool,
    /// Workload of nodes without the `nvidia.com/gpu.workload.config` label. Default `container`.
    pub default_workload: DefaultWorkload,
    /// Which virtualisation stack runs the virtual machines. Default `kubevirt`.
    pub mode: SandboxMode,
}

/// What a GPU node is set up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DefaultWorkload {
    /// Containers use the GPUs (the usual stack: driver, toolkit, device plugin, ...).
    #[serde(rename = "container")]
    Container,
    /// Whole GPUs are passed through to virtual machines with VFIO.
    #[serde(rename = "vm-passthrough")]
    VmPassthrough,
    /// GPUs are split into vGPUs for virtual machines.
    #[serde(rename = "vm-vgpu")]
    VmVgpu,
}

/// The virtualisation stack for sandbox workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// KubeVirt virtual machines; GPUs are advertised by the KubeVirt GPU device plugin.
    Kubevirt,
    /// Kata Containers; passthrough nodes get the Kata sandbox device plugin.
    Kata,
}

/// The vGPU manager DaemonSet, which installs the vGPU host driver on `vm-vgpu` nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VgpuManager {
    /// Deploy the vGPU manager on `vm-vgpu` nodes. Default `false`.
    pub enabled: bool,
    /// Registry and path of the vGPU manager image, which you build from NVIDIA's licensed vGPU
    /// software and push to a private registry. Default: empty.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the vGPU manager image within `repository`. Default `vgpu-manager`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the vGPU manager image. Default: empty.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the vGPU manager image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for the private registry.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Extra environment variables for the vGPU manager container.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the vGPU manager containers.
    #[serde(default)]
    pub resources: Resources,
    /// The driver manager init container, which prepares the node before the host driver
    /// changes.
    pub driver_manager: DriverManager,
    /// Kernel module parameters of the vGPU host driver.
    pub kernel_module_config: KernelModuleConfig,
    /// Run the vGPU manager pods in the host's network namespace. Default `false`.
    pub host_network: bool,
    /// Extra command-line arguments for the vGPU manager container. Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}

/// The vGPU device manager DaemonSet, which creates vGPU devices on `vm-vgpu` nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VgpuDeviceManager {
    /// Deploy the vGPU device manager when sandbox workloads are on. Default `true`.
    pub enabled: bool,
    /// Registry and path of the vGPU device manager image. Default `nvcr.io/nvidia/cloud-native`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the image within `repository`. Default `vgpu-device-manager`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the vGPU device manager image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the vGPU device manager image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Extra environment variables for the vGPU device manager container.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// The vGPU layouts nodes can ask for with the `nvidia.com/vgpu.config` label.
    pub config: VgpuDeviceManagerConfig,
    /// Run the vGPU device manager pods in the host's network namespace. Default `false`.
    pub host_network: bool,
    /// Extra command-line arguments for the vGPU device manager container. Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// CPU and memory requests and limits of the vGPU device manager containers. Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

/// The vGPU layouts of the vGPU device manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VgpuDeviceManagerConfig {
    /// ConfigMap in the operator's namespace with the vGPU layouts. Empty: the built-in layouts.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub name: String,
    /// Layout applied to nodes without an `nvidia.com/vgpu.config` label. Default `default`.
    pub default: String,
}

/// The VFIO manager DaemonSet, which binds GPUs to the `vfio-pci` driver on `vm-passthrough`
/// nodes so they can be passed through to virtual machines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VfioManager {
    /// Deploy the VFIO manager when sandbox workloads are on. Default `true`.
    pub enabled: bool,
    /// Registry and path of the VFIO manager image. Default `nvcr.io/nvidia/cloud-native`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the image within `repository`; the VFIO manager ships in the driver manager
    /// image. Default `k8s-driver-manager`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the VFIO manager image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the VFIO manager image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Extra environment variables for the VFIO manager container.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the VFIO manager containers.
    #[serde(default)]
    pub resources: Resources,
    /// The driver manager init container, which unloads the NVIDIA driver before GPUs are
    /// rebound.
    pub driver_manager: DriverManager,
    /// Run the VFIO manager pods in the host's network namespace. Default `false`.
    pub host_network: bool,
    /// Extra command-line arguments for the VFIO manager container. Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}

/// The Kata manager. Deprecated: the upstream operator no longer deploys it and ignores these
/// settings; they are accepted so that older values files still load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KataManager {
    /// Ignored. Default `false`.
    pub enabled: bool,
    /// Ignored: Kata artifacts and runtime classes (`artifactsDir`, `runtimeClasses`).
    #[serde(default)]
    pub config: FreeForm,
    /// Ignored: when the kubelet would pull the Kata manager image.
    pub image_pull_policy: PullPolicy,
    /// Ignored: Secrets for pulling the Kata manager image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Ignored: extra environment variables.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// Ignored: requests and limits.
    #[serde(default)]
    pub resources: Resources,
    /// Ignored: host network. Default `false`.
    pub host_network: bool,
    /// Ignored: image repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: Option<String>,
    /// Ignored: image name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(patterns::IMAGE))]
    pub image: Option<String>,
    /// Ignored: image tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(patterns::VERSION))]
    pub version: Option<String>,
    /// Ignored: extra command-line arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}

/// A device plugin that advertises passthrough GPUs (and vGPUs) to virtual machines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SandboxDevicePlugin {
    /// Deploy this device plugin when sandbox workloads are on and its mode is selected.
    /// Default `true`.
    pub enabled: bool,
    /// Registry and path of the device plugin image.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the device plugin image within `repository`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the device plugin image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the device plugin image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Extra command-line arguments for the device plugin container.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables for the device plugin container.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the device plugin containers.
    #[serde(default)]
    pub resources: Resources,
    /// Run the device plugin pods in the host's network namespace. Default `false`.
    pub host_network: bool,
}

/// The confidential computing manager DaemonSet, which switches GPUs' confidential computing
/// mode on Kata nodes, following the `nvidia.com/cc.mode` node label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CcManager {
    /// Deploy the manager when sandbox workloads run in `kata` mode. Default `true`.
    pub enabled: bool,
    /// Mode for nodes without the `nvidia.com/cc.mode` label. Default `"on"`.
    pub default_mode: CcMode,
    /// Registry and path of the manager image. Default `nvcr.io/nvidia/cloud-native`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the manager image within `repository`. Default `k8s-cc-manager`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the manager image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the manager image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// CPU and memory requests and limits of the manager containers.
    #[serde(default)]
    pub resources: Resources,
    /// Run the manager pods in the host's network namespace. Default `false`.
    pub host_network: bool,
    /// Extra environment variables for the manager container. Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// Extra command-line arguments for the manager container. Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}

/// Confidential computing mode of a GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CcMode {
    /// Confidential computing on. Quote it in YAML (`"on"`), or YAML 1.1 reads a boolean.
    On,
    /// Confidential computing off.
    Off,
    /// Confidential computing on with debugging tools allowed; not for production.
    Devtools,
}
