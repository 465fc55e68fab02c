//! The node operands that make GPUs schedulable: the container toolkit (`toolkit`), the device
//! plugin (`devicePlugin`), GPU feature discovery (`gfd`) and the MIG manager (`migManager`).
//!
//! Input: the matching blocks of the checked values. Output: typed structs that the config
//! resolver reads and schemars turns into the matching part of the values schema.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kube::{EnvVar, IntOrPercent, PullPolicy, Resources, StringMap};
use super::patterns;

/// The container toolkit stage: NVIDIA's toolkit image installs the runtime binaries on each GPU
/// node, and gpuplan's node agent registers them with the container runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Toolkit {
    /// Install the toolkit and configure the container runtime. Turn off when the nodes are
    /// already set up, for example by their OS image; turning it off later reverts the runtime
    /// configuration. Default `true`.
    pub enabled: bool,
    /// Registry and path of NVIDIA's container toolkit image. Default `nvcr.io/nvidia/k8s`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the toolkit image within `repository`. Default `container-toolkit`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the toolkit image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the toolkit image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the toolkit
    /// image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Toolkit settings as environment variables, with the names NVIDIA's toolkit uses: where the
    /// runtime's configuration and socket are (`CONTAINERD_CONFIG`, `CONTAINERD_SOCKET`,
    /// `RUNTIME_DROP_IN_CONFIG`), whether `nvidia` becomes the default runtime
    /// (`CONTAINERD_SET_AS_DEFAULT`), how the runtime is restarted (`RUNTIME_RESTART_MODE`).
    /// gpuplan reads them to plan the node change. Values are text: `true` stays `"true"`.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the toolkit containers.
    #[serde(default)]
    pub resources: Resources,
    /// Host directory the runtime binaries are installed into; the runtime handlers point at
    /// `<installDir>/toolkit/`. Default `/usr/local/nvidia`.
    #[schemars(pattern(patterns::ABSOLUTE_PATH))]
    pub install_dir: String,
    /// Run the toolkit pods in the host's network namespace. Default `false`.
    pub host_network: bool,
    /// How many nodes (or what percentage) may have their toolkit pod replaced at once in a
    /// rolling update, when `daemonsets.updateStrategy` is `RollingUpdate`. A pod replaced with
    /// new settings restarts its node's container runtime, so the default `1` never takes the
    /// runtime of every GPU node down at once; it overrides `daemonsets.rollingUpdate` here.
    pub max_unavailable: IntOrPercent,
}

/// The device plugin DaemonSet, which advertises GPUs (or MIG devices, or shared slices of
/// them) to the kubelet as `nvidia.com/gpu` resources, plus the MPS control daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DevicePlugin {
    /// Deploy the device plugin. Default `true`.
    pub enabled: bool,
    /// Registry and path of the device plugin image. Default `nvcr.io/nvidia`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the device plugin image within `repository`. Default `k8s-device-plugin`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the device plugin image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the device plugin image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the device
    /// plugin image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Extra command-line arguments for the device plugin container.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables for the device plugin container; an entry replaces a
    /// built-in variable of the same name.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the device plugin containers.
    #[serde(default)]
    pub resources: Resources,
    /// Configuration files of the device plugin (GPU sharing by time-slicing or MPS, resource
    /// naming), shared with GPU feature discovery. A node picks one with its
    /// `nvidia.com/device-plugin.config` label.
    pub config: DevicePluginConfig,
    /// The MPS control daemon, which lets pods share a GPU through CUDA MPS.
    pub mps: Mps,
    /// Run the device plugin pods in the host's network namespace. Default `false`.
    pub host_network: bool,
}

/// The ConfigMap of device plugin configuration files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DevicePluginConfig {
    /// Create the ConfigMap `name` from `data`; both must then be non-empty. Default `false`:
    /// `name`, if set, refers to an existing ConfigMap.
    pub create: bool,
    /// ConfigMap in the operator's namespace with the configuration files. Empty: no files; the
    /// plugin runs with its built-in settings.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub name: String,
    /// Key of the file used by nodes without the `nvidia.com/device-plugin.config` label.
    /// Empty leaves the choice to the plugin's config manager.
    #[schemars(
        pattern(patterns::CONFIG_MAP_KEY_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub default: String,
    /// Files of the ConfigMap created with `create`: key to YAML text, each a device plugin
    /// configuration (`version: v1`, `flags`, `sharing`, ...).
    #[serde(default)]
    pub data: StringMap,
}

/// MPS settings of the device plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mps {
    /// Host directory where the MPS control daemon keeps its pipes, logs and shared memory,
    /// mounted into the pods that share GPUs through MPS. Default `/run/nvidia/mps`.
    #[schemars(pattern(patterns::ABSOLUTE_PATH))]
    pub root: String,
}

/// The GPU feature discovery DaemonSet, which labels each GPU node with its GPUs' properties
/// (`nvidia.com/gpu.product`, `nvidia.com/gpu.memory`, `nvidia.com/mig.capable`, driver and
/// CUDA versions, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Gfd {
    /// Deploy GPU feature discovery. Default `true`.
    pub enabled: bool,
    /// Registry and path of the GPU feature discovery image. Default `nvcr.io/nvidia`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the image within `repository`; feature discovery ships in the device plugin
    /// image. Default `k8s-device-plugin`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the GPU feature discovery image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the GPU feature discovery image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Extra environment variables for the feature discovery container; an entry replaces a
    /// built-in variable of the same name.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the feature discovery containers.
    #[serde(default)]
    pub resources: Resources,
    /// Run the feature discovery pods in the host's network namespace. Default `false`.
    pub host_network: bool,
    /// Extra command-line arguments for the feature discovery container. Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}

/// The MIG manager DaemonSet, which repartitions a node's GPUs into MIG devices when the node's
/// `nvidia.com/mig.config` label changes, stopping and restarting the GPU clients around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MigManager {
    /// Deploy the MIG manager on nodes with MIG-capable GPUs. Default `true`.
    pub enabled: bool,
    /// Registry and path of the MIG manager image. Default `nvcr.io/nvidia/cloud-native`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the MIG manager image within `repository`. Default `k8s-mig-manager`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the MIG manager image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the MIG manager image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the MIG manager
    /// image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Extra environment variables for the MIG manager container; an entry replaces a built-in
    /// variable of the same name.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the MIG manager containers.
    #[serde(default)]
    pub resources: Resources,
    /// The MIG layouts nodes can ask for. By default the MIG manager derives them from each
    /// node's hardware; give a ConfigMap only for layouts that differ from that.
    pub config: MigManagerConfig,
    /// Host services that use GPUs and must stop while GPUs are repartitioned.
    pub gpu_clients_config: GpuClientsConfig,
    /// Run the MIG manager pods in the host's network namespace. Default `false`.
    pub host_network: bool,
    /// Extra command-line arguments for the MIG manager container. Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}

/// The MIG layouts (a mig-parted configuration) of the MIG manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MigManagerConfig {
    /// Layout applied to nodes without an `nvidia.com/mig.config` label. Default `all-disabled`.
    pub default: MigConfigDefault,
    /// Create the ConfigMap `name` from `data`; nothing is created while `data` is empty.
    /// Default `false`: `name`, if set, refers to an existing ConfigMap.
    pub create: bool,
    /// ConfigMap in the operator's namespace with the layouts under the key `config.yaml`.
    /// Empty: layouts derived from each node's hardware.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub name: String,
    /// Files of the ConfigMap created with `create`: key to text. It must have `config.yaml`, a
    /// mig-parted file (`version: v1` and `mig-configs`).
    #[serde(default)]
    pub data: StringMap,
}

/// MIG layout for nodes that do not ask for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MigConfigDefault {
    /// Turn MIG off on every GPU of the node.
    #[serde(rename = "all-disabled")]
    AllDisabled,
    /// Leave the node's GPUs as they are.
    #[serde(rename = "")]
    Unset,
}

/// Host services the MIG manager stops while it repartitions GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GpuClientsConfig {
    /// ConfigMap in the operator's namespace whose `clients.yaml` lists the systemd services to
    /// stop and restart (DCGM, NVSM, ...). Empty: the built-in list.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub name: String,
}
