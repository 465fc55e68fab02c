//! The operator's own Deployment (`operator`, with its logging, metrics and the container
//! runtime choice) and the operator validator (`validator`).
//!
//! Input: the `operator` and `validator` blocks of the checked values. Output: typed structs
//! that the config resolver reads and schemars turns into the matching part of the values schema.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kube::{EnvVar, FreeForm, PullPolicy, Resources, StringMap, Toleration};
use super::patterns;

/// The operator Deployment, which runs gpuplan's operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Operator {
    /// Registry and path of the operator image. Default `ghcr.io/gpuplan`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the operator image within `repository`. Default `gpuplan`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the operator image. Unset or empty means the version of the
    /// gpuplan release that compiles the plan, so the operator always matches the compiler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(patterns::VERSION))]
    pub version: Option<String>,
    /// When the kubelet pulls the operator image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the operator
    /// image; also used by the CRD hook Jobs, which run the same image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Extra environment variables for the operator container, after the built-in ones.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// PriorityClass of the operator pod; empty sets none. Default `system-node-critical`.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN_OR_EMPTY),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub priority_class_name: String,
    /// Container runtime of the GPU nodes: which configuration the toolkit stage edits
    /// (containerd's `config.toml`, a CRI-O drop-in or Docker's `daemon.json`) and how it is
    /// reloaded. NVIDIA's operator guesses the runtime from node status at run time; gpuplan
    /// computes the plan ahead of time, so the runtime is stated here. New in gpuplan (charts
    /// up to v24.9 had this key, but the operator ignored it). Default `containerd`.
    pub default_runtime: DefaultRuntime,
    /// Name of the RuntimeClass, and of the runtime handler the toolkit registers in the
    /// container runtime, that runs GPU containers. The operands that use GPUs run with it.
    /// Empty means `nvidia`. Default `nvidia`.
    #[schemars(
        pattern(patterns::DNS_LABEL_OR_EMPTY),
        length(max = patterns::DNS_LABEL_MAX)
    )]
    pub runtime_class: String,
    /// Node labels the operator pod must match (and the CRD hook Jobs too). Default
    /// `kubernetes.io/os: linux`.
    #[serde(default)]
    pub node_selector: StringMap,
    /// On OpenShift, build the driver on each node with the Driver Toolkit image of that node's
    /// OpenShift release, instead of a prebuilt driver image. Default `false`.
    #[serde(rename = "use_ocp_driver_toolkit")]
    pub use_ocp_driver_toolkit: bool,
    /// On uninstall, delete the operator's CRDs, and with them every ClusterPolicy and
    /// NVIDIADriver object. Default `false`: the CRDs and their objects stay.
    #[serde(rename = "cleanupCRD")]
    pub cleanup_crd: bool,
    /// On upgrade, re-apply the operator's CRDs first, so new fields reach the cluster (Helm
    /// never updates CRDs after installing them). Default `true`.
    #[serde(rename = "upgradeCRD")]
    pub upgrade_crd: bool,
    /// Tolerations of the operator pod and the CRD hook Jobs. The default tolerates the
    /// control-plane taint, so the operator may run on control-plane nodes.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// Annotations on the operator pod. The default selects OpenShift's `restricted-readonly`
    /// SecurityContextConstraints; it is inert elsewhere.
    #[serde(default)]
    pub annotations: StringMap,
    /// Kubernetes affinity of the operator pod (a `v1.Affinity` object). The default prefers
    /// control-plane nodes, keeping the operator off the GPU nodes it manages.
    #[serde(default)]
    pub affinity: FreeForm,
    /// Log output of the operator.
    pub logging: Logging,
    /// CPU and memory requests and limits of the operator container. Default: requests 200m CPU
    /// and 100Mi memory, limits 500m CPU and 350Mi memory.
    #[serde(default)]
    pub resources: Resources,
    /// Prometheus scraping of the operator's own metrics. Unset leaves the operator's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<OperatorMetrics>,
    /// Extra labels on every object rendered for the operator itself (Deployment and pod, RBAC,
    /// ServiceAccount, ClusterPolicy, ConfigMaps, hook Jobs). Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<StringMap>,
}

/// The container runtime the GPU nodes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DefaultRuntime {
    /// containerd (1.x and 2.x), including k3s, RKE2, MicroK8s and k0s when `toolkit.env` points
    /// at their paths.
    #[default]
    Containerd,
    /// CRI-O; the runtime handlers go into a drop-in under `/etc/crio/crio.conf.d`.
    Crio,
    /// Docker Engine; the runtime goes into `/etc/docker/daemon.json`.
    Docker,
}

/// Command-line logging settings of the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Logging {
    /// How timestamps are written in log lines. Ignored when `develMode` is on. Default `epoch`.
    pub time_encoding: TimeEncoding,
    /// Lowest level that is logged: `debug`, `info` or `error`, or a positive number for
    /// increasingly verbose debug output (`5` logs more than `1`). Ignored when `develMode` is on.
    /// Default `info`.
    pub level: LogLevel,
    /// Development logging: human-readable console lines, debug level, stack traces from
    /// warnings up. Overrides `timeEncoding` and `level`. Default `false` (JSON lines, info
    /// level, stack traces on errors).
    pub devel_mode: bool,
}

/// How a log line's timestamp is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TimeEncoding {
    /// Seconds since the Unix epoch, as a floating-point number.
    Epoch,
    /// Milliseconds since the Unix epoch.
    Millis,
    /// Nanoseconds since the Unix epoch.
    Nano,
    /// ISO 8601 text with millisecond precision.
    Iso8601,
    /// RFC 3339 text with second precision.
    Rfc3339,
    /// RFC 3339 text with nanosecond precision.
    Rfc3339nano,
}

/// The operator's log level: a level name, or a verbosity number as a number or as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LogLevel {
    /// A debug verbosity (1 or more; higher logs more).
    Verbosity(#[schemars(range(min = 1))] u32),
    /// `debug`, `info` or `error`, or a debug verbosity written as text (`"5"`).
    Name(#[schemars(pattern(patterns::LOG_LEVEL))] String),
}

/// Metrics settings of the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OperatorMetrics {
    /// The Prometheus Operator ServiceMonitor for the operator's metrics endpoint. It is only
    /// created when the cluster serves the ServiceMonitor CRD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_monitor: Option<OperatorServiceMonitor>,
}

/// Prometheus Operator ServiceMonitor for the operator's metrics. Every field is optional;
/// unset fields keep Prometheus' own defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OperatorServiceMonitor {
    /// Create the ServiceMonitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// How often Prometheus scrapes the operator, as a Prometheus duration (`15s`, `1m30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(patterns::PROMETHEUS_DURATION))]
    pub interval: Option<String>,
    /// How long one scrape may take, as a Prometheus duration; at most `interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(patterns::PROMETHEUS_DURATION))]
    pub scrape_timeout: Option<String>,
    /// Keep the labels of scraped metrics when they clash with the target's labels, instead of
    /// renaming them to `exported_<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_labels: Option<bool>,
    /// Extra labels on the ServiceMonitor, for example the one a Prometheus selects monitors by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_labels: Option<StringMap>,
    /// Prometheus relabeling rules applied to the targets before scraping, each a
    /// `RelabelConfig` object (`sourceLabels`, `regex`, `targetLabel`, `replacement`, `action`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relabelings: Option<Vec<FreeForm>>,
}

/// The operator-validator DaemonSet. On each GPU node it checks, step by step, that the driver,
/// the container toolkit, CUDA and the device plugin work, and leaves marker files that the
/// other operands wait for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Validator {
    /// Registry and path of the validator image. Default `nvcr.io/nvidia`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the validator image within `repository`. The validator ships in NVIDIA's operator
    /// image. Default `gpu-operator`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the validator image. Pinned to the NVIDIA operator release
    /// these defaults follow (`v26.7.0`), since gpuplan's own version is not a tag of that image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the validator image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the validator
    /// image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Extra environment variables for the validator containers; an entry replaces a built-in
    /// variable of the same name.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// Extra command-line arguments for the validator container.
    #[serde(default)]
    pub args: Vec<String>,
    /// CPU and memory requests and limits of the validator containers.
    #[serde(default)]
    pub resources: Resources,
    /// Run the validator pods in the host's network namespace. Default `false`.
    pub host_network: bool,
    /// The device-plugin step, which runs a pod that requests a GPU through the device plugin.
    pub plugin: ValidatorPlugin,
    /// The CUDA step, which runs a small CUDA sample in a pod. Unset adds nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda: Option<ValidatorStep>,
    /// The driver step, which waits until the driver is loaded and usable. Unset adds nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<ValidatorStep>,
    /// The toolkit step, which runs `nvidia-smi` through the container runtime. Unset adds
    /// nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolkit: Option<ValidatorStep>,
    /// The VFIO-PCI step on nodes that pass GPUs through to virtual machines. Unset adds nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "vfioPCI")]
    pub vfio_pci: Option<ValidatorStep>,
    /// The vGPU manager step on vGPU host nodes. Unset adds nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vgpu_manager: Option<ValidatorStep>,
    /// The vGPU devices step on vGPU host nodes. Unset adds nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vgpu_devices: Option<ValidatorStep>,
}

/// Settings of the validator's device-plugin step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValidatorPlugin {
    /// Extra environment variables for this step, for example `WITH_WORKLOAD=false` to check the
    /// GPU resource is advertised without running a test pod.
    #[serde(default)]
    pub env: Vec<EnvVar>,
}

/// Settings of one optional validator step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValidatorStep {
    /// Extra environment variables for this step. Default: none.
    #[serde(default)]
    pub env: Vec<EnvVar>,
}
