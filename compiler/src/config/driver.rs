//! The NVIDIA driver (`driver`): its image, kernel module flavour, probes, the driver manager
//! init container, orchestrated upgrades, and the ConfigMaps and Secrets it can read.
//!
//! Input: the `driver` block of the checked values. Output: typed structs that the config
//! resolver reads and schemars turns into the matching part of the values schema.
//! [`DriverManager`] and [`KernelModuleConfig`] are shared with the vGPU and VFIO managers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kube::{EnvVar, IntOrPercent, PullPolicy, Resources, StringMap};
use super::patterns;

/// The driver DaemonSet, which builds or loads the NVIDIA kernel modules on each GPU node and
/// exposes the user-space driver to the other operands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Driver {
    /// Install the driver from a container. Turn off when the nodes already have the driver
    /// installed on the host; the operands then use the host's driver. Default `true`.
    pub enabled: bool,
    /// Deploy drivers through NVIDIADriver objects, which allow different drivers per node
    /// pool, instead of from the ClusterPolicy.
    #[serde(rename = "nvidiaDriverCRD")]
    pub nvidia_driver_crd: NvidiaDriverCrd,
    /// Which kernel modules to load: the open-source or the proprietary ones. Default `auto`.
    pub kernel_module_type: KernelModuleType,
    /// Deprecated and ignored: use `kernelModuleType` (`open` or `proprietary`) instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_open_kernel_modules: Option<bool>,
    /// Use driver images whose modules are precompiled for the node's kernel, instead of building
    /// them at start-up. `version` is then a driver branch such as `570`, and only some Ubuntu
    /// kernels have such images. Default `false`.
    pub use_precompiled: bool,
    /// Registry and path of the driver image. Default `nvcr.io/nvidia`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the driver image within `repository`. Default `driver`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Driver version: the image tag before the operator appends the node's OS (such as
    /// `-ubuntu22.04`), or a `sha256:` digest. Always text, so `010` stays `010`.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the driver image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the driver
    /// image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Startup probe of the driver container. Building and loading the modules can take minutes,
    /// so the default allows 60 s plus 120 failed checks 10 s apart.
    pub startup_probe: StartupProbe,
    /// GPUDirect RDMA between GPUs and network adapters.
    pub rdma: Rdma,
    /// Orchestrated driver upgrades, node by node.
    pub upgrade_policy: UpgradePolicy,
    /// The driver manager, an init container of the driver pod that makes the node safe for a
    /// driver change: it evicts GPU pods, drains if asked, and unloads the old modules.
    pub manager: DriverManager,
    /// Extra environment variables for the driver container; an entry replaces a built-in
    /// variable of the same name.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the driver containers.
    #[serde(default)]
    pub resources: Resources,
    /// Package repositories for the driver container, for clusters without Internet access.
    pub repo_config: RepoConfig,
    /// Extra CA certificates for the driver container.
    pub cert_config: CertConfig,
    /// vGPU guest licensing.
    pub licensing_config: LicensingConfig,
    /// vGPU virtual topology daemon.
    pub virtual_topology: VirtualTopology,
    /// Kernel module parameters.
    pub kernel_module_config: KernelModuleConfig,
    /// Name of a Secret in the operator's namespace whose entries become environment variables
    /// of the driver container, for values that must not appear in the ClusterPolicy. Empty: none.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub secret_env: String,
    /// Run the driver pods in the host's network namespace. Default `false`.
    pub host_network: bool,
    /// Extra command-line arguments for the driver container. Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Liveness probe of the driver container. Unset keeps the built-in probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    /// Readiness probe of the driver container. Unset keeps the built-in probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
}

/// Driver deployment through NVIDIADriver objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NvidiaDriverCrd {
    /// Deploy drivers from NVIDIADriver objects; the ClusterPolicy then only says whether a
    /// driver is managed at all. Default `false`.
    pub enabled: bool,
    /// With `enabled`, create an NVIDIADriver named `default` from the `driver` settings.
    /// Turn off to write NVIDIADriver objects yourself. Default `true`.
    #[serde(rename = "deployDefaultCR")]
    pub deploy_default_cr: bool,
    /// Kind of driver the default NVIDIADriver installs. Default `gpu`.
    pub driver_type: DriverType,
    /// Node labels that select the nodes of the default NVIDIADriver; empty selects every GPU
    /// node.
    #[serde(default)]
    pub node_selector: StringMap,
}

/// Kind of driver an NVIDIADriver installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DriverType {
    /// The regular data-center driver.
    #[serde(rename = "gpu")]
    Gpu,
    /// The vGPU guest driver, for virtual machines with vGPUs.
    #[serde(rename = "vgpu")]
    Vgpu,
    /// The vGPU host manager, for hosts that hand vGPUs to virtual machines.
    #[serde(rename = "vgpu-host-manager")]
    VgpuHostManager,
}

/// Which flavour of NVIDIA kernel modules the driver loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KernelModuleType {
    /// Let the driver container choose from the driver version and the GPUs (open modules where
    /// they are supported).
    Auto,
    /// The open-source kernel modules (Turing and newer GPUs).
    Open,
    /// The proprietary kernel modules.
    Proprietary,
}

/// Startup probe settings of the driver container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StartupProbe {
    /// Seconds after the container starts before the first check. Default `60`.
    pub initial_delay_seconds: u32,
    /// Seconds between checks. Default `10`.
    #[schemars(range(min = 1))]
    pub period_seconds: u32,
    /// Seconds one check may take; `nvidia-smi` can be slow on large nodes. Default `60`.
    #[schemars(range(min = 1))]
    pub timeout_seconds: u32,
    /// Failed checks in a row after which the container is restarted. Default `120`.
    #[schemars(range(min = 1))]
    pub failure_threshold: u32,
    /// Passed checks needed; Kubernetes requires 1 for a startup probe. Unset means 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1))]
    pub success_threshold: Option<u32>,
}

/// Liveness or readiness probe settings of the driver container. Unset fields keep the
/// built-in values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Probe {
    /// Seconds after the container starts before the first check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u32>,
    /// Seconds between checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub period_seconds: Option<u32>,
    /// Seconds one check may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<u32>,
    /// Failed checks in a row after which the probe counts as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub failure_threshold: Option<u32>,
    /// Passed checks in a row after which the probe counts as passed again (1 for liveness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub success_threshold: Option<u32>,
}

/// GPUDirect RDMA settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rdma {
    /// Load the `nvidia-peermem` module so network adapters can read and write GPU memory
    /// directly. Default `false`.
    pub enabled: bool,
    /// The network adapter driver (MLNX_OFED or DOCA-OFED) is installed on the host rather than
    /// by the NVIDIA Network Operator's driver container. Default `false`.
    pub use_host_mofed: bool,
}

/// How the operator upgrades drivers when the driver DaemonSet changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpgradePolicy {
    /// Upgrade node by node: cordon, wait for jobs, evict GPU pods (or drain), replace the driver
    /// pod, uncordon. When off, the other settings are ignored and a node only gets the new
    /// driver when its driver pod is deleted. Default `true`.
    pub auto_upgrade: bool,
    /// How many nodes may upgrade at the same time; `0` means no limit. Default `1`.
    pub max_parallel_upgrades: u32,
    /// How many driver nodes may be unavailable at once during upgrades: a number, or a
    /// percentage of the nodes at the start of the upgrade (rounded up). Default `25%`.
    pub max_unavailable: IntOrPercent,
    /// Waiting for running jobs before a node is upgraded.
    pub wait_for_completion: WaitForCompletion,
    /// Deletion of the pods that use GPUs before the driver is replaced.
    pub gpu_pod_deletion: GpuPodDeletion,
    /// Draining the whole node before the driver is replaced.
    pub drain: Drain,
}

/// Waiting for selected pods to finish before a node's driver is upgraded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WaitForCompletion {
    /// Seconds to wait for the selected pods to finish before upgrading anyway; `0` waits
    /// without limit. Default `0`.
    pub timeout_seconds: u32,
    /// Label selector (such as `app=training`) of the pods to wait for; empty waits for none.
    pub pod_selector: String,
}

/// Deletion of GPU pods before a driver upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GpuPodDeletion {
    /// Also delete GPU pods that no controller owns; they are not recreated. Default `false`.
    pub force: bool,
    /// Seconds to wait for the GPU pods to terminate; `0` waits without limit. Default `300`.
    pub timeout_seconds: u32,
    /// Also delete GPU pods with `emptyDir` volumes, whose data is then lost. Default `false`.
    pub delete_empty_dir: bool,
}

/// Draining a node before a driver upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Drain {
    /// Drain the node, as `kubectl drain` does, when deleting its GPU pods is not enough to
    /// unload the driver. Default `false`.
    pub enable: bool,
    /// Also evict pods that no controller owns; they are not recreated. Default `false`.
    pub force: bool,
    /// Label selector of the pods to evict; empty evicts all of them.
    pub pod_selector: String,
    /// Seconds to wait for the drain to finish; `0` waits without limit. Set a limit, so an
    /// eviction that keeps failing cannot block the upgrade for ever. Default `300`.
    pub timeout_seconds: u32,
    /// Also evict pods with `emptyDir` volumes, whose data is then lost. Default `false`.
    pub delete_empty_dir: bool,
}

/// The NVIDIA driver manager image (`k8s-driver-manager`), run as an init container before a
/// driver or VFIO change on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DriverManager {
    /// Registry and path of the driver manager image. Default `nvcr.io/nvidia/cloud-native`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the driver manager image within `repository`. Default `k8s-driver-manager`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the driver manager image. Versions before `v0.6.4` do not
    /// work with this operator. Default `v0.12.0`.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the driver manager image.
    pub image_pull_policy: PullPolicy,
    /// Extra environment variables for the driver manager (for example
    /// `ENABLE_GPU_POD_EVICTION`); an entry replaces a built-in variable of the same name.
    #[serde(default)]
    pub env: Vec<EnvVar>,
}

/// Package repository configuration for the driver container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RepoConfig {
    /// ConfigMap in the operator's namespace with package repository files (`.repo`, `.list`)
    /// that replace the distribution's mirrors in the driver container. Empty: none.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub config_map_name: String,
}

/// Extra certificates for the driver container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CertConfig {
    /// ConfigMap in the operator's namespace with CA certificates the driver container trusts,
    /// for example those of a private package mirror. Empty: none.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub name: String,
}

/// Licensing of the vGPU guest driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LicensingConfig {
    /// Secret in the operator's namespace with the licensing client configuration
    /// (`gridd.conf`) and the client token. Empty: none.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub secret_name: String,
    /// License through the NVIDIA License System; turn off only for a legacy license server.
    /// Default `true`.
    pub nls_enabled: bool,
    /// Deprecated: a ConfigMap with the licensing configuration. Use `secretName`, which keeps
    /// the token out of ConfigMaps. Used only when `secretName` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub config_map_name: Option<String>,
}

/// The vGPU virtual topology daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VirtualTopology {
    /// ConfigMap in the operator's namespace with the daemon's configuration file
    /// (`nvidia-topologyd.conf`). Empty: none.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub config: String,
}

/// Kernel module parameters for the NVIDIA modules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KernelModuleConfig {
    /// ConfigMap in the operator's namespace with one file of module parameters per module
    /// (`nvidia.conf`, `nvidia-uvm.conf`, ...). Empty: none.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub name: String,
}
