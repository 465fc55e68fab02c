//! The monitoring operands: the standalone DCGM host engine (`dcgm`), the DCGM exporter
//! (`dcgmExporter`, with its Service, ServiceMonitor and metrics list) and the node status
//! exporter (`nodeStatusExporter`).
//!
//! Input: the matching blocks of the checked values. Output: typed structs that the config
//! resolver reads and schemars turns into the matching part of the values schema.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kube::{EnvVar, FreeForm, PullPolicy, Resources, StringMap};
use super::patterns;

/// The standalone DCGM host engine DaemonSet (`nv-hostengine`). Not needed by default: the DCGM
/// exporter embeds its own engine. Turn it on to share one engine between the exporter and other
/// DCGM clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Dcgm {
    /// Deploy the standalone host engine. Default `false`.
    pub enabled: bool,
    /// Registry and path of the DCGM image. Default `nvcr.io/nvidia/cloud-native`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the DCGM image within `repository`. Default `dcgm`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the DCGM image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the DCGM image.
    pub image_pull_policy: PullPolicy,
    /// Extra command-line arguments for the host engine container.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables for the host engine container; an entry replaces a built-in
    /// variable of the same name.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the host engine containers.
    #[serde(default)]
    pub resources: Resources,
    /// Run the host engine pods in the host's network namespace. Default `false`.
    pub host_network: bool,
    /// Names of Secrets in the operator's namespace with credentials for pulling the DCGM image.
    /// Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    pub image_pull_secrets: Option<Vec<String>>,
}

/// The DCGM exporter DaemonSet, which publishes GPU metrics (utilisation, memory, temperature,
/// power, errors) for Prometheus, with a Service and a ServiceMonitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DcgmExporter {
    /// Deploy the DCGM exporter. Default `true`.
    pub enabled: bool,
    /// Extra annotations on the exporter pods.
    #[serde(default)]
    pub annotations: StringMap,
    /// Registry and path of the exporter image. Default `nvcr.io/nvidia/k8s`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the exporter image within `repository`. Default `dcgm-exporter`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the exporter image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the exporter image.
    pub image_pull_policy: PullPolicy,
    /// Extra environment variables for the exporter container; an entry replaces a built-in
    /// variable of the same name.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the exporter containers.
    #[serde(default)]
    pub resources: Resources,
    /// Run the exporter pods in the host's PID namespace, so they see the processes that use the
    /// GPUs. Default `false`.
    #[serde(rename = "hostPID")]
    pub host_pid: bool,
    /// Run the exporter pods in the host's network namespace, so the metrics port is open on
    /// the node's own address. Default `false`.
    pub host_network: bool,
    /// Labelling of metrics with the HPC jobs (Slurm and similar) that use each GPU. Unset: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpc_job_mapping: Option<HpcJobMapping>,
    /// Add the labels of the pod using a GPU to that GPU's metrics. Creates a ClusterRole that
    /// lets the exporter read pods in all namespaces. Default `false`.
    pub enable_pod_labels: bool,
    /// Add the UID of the pod using a GPU to that GPU's metrics. Creates the same ClusterRole as
    /// `enablePodLabels`. Default `false`.
    #[serde(rename = "enablePodUID")]
    pub enable_pod_uid: bool,
    /// With `enablePodLabels`, add only the pod labels whose key matches one of these regular
    /// expressions (such as `^app$`), to keep the number of series down. Unset or empty: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_label_allowlist_regex: Option<Vec<String>>,
    /// The Service in front of the exporter pods.
    pub service: DcgmExporterService,
    /// The Prometheus Operator ServiceMonitor for the exporter. It is only created when the
    /// cluster serves the ServiceMonitor CRD.
    pub service_monitor: DcgmExporterServiceMonitor,
    /// A custom list of metrics to collect. Unset: the exporter's built-in list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<DcgmExporterConfig>,
    /// Extra command-line arguments for the exporter container. Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Names of Secrets in the operator's namespace with credentials for pulling the exporter
    /// image. Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    pub image_pull_secrets: Option<Vec<String>>,
}

/// HPC job mapping of the DCGM exporter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HpcJobMapping {
    /// Read the job files the workload manager writes, and label metrics with the job IDs.
    /// Default `false`.
    #[serde(default)]
    pub enabled: bool,
    /// Host directory of the job files. Unset: `/var/lib/dcgm-exporter/job-mapping`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(patterns::ABSOLUTE_PATH))]
    pub directory: Option<String>,
}

/// The DCGM exporter's Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DcgmExporterService {
    /// Which exporter pods receive traffic sent to the Service from inside the cluster.
    /// Default `Cluster`.
    pub internal_traffic_policy: InternalTrafficPolicy,
    /// Kind of Service. Unset: `ClusterIP`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,
}

/// How a Service routes traffic that starts inside the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum InternalTrafficPolicy {
    /// To any ready endpoint in the cluster.
    Cluster,
    /// Only to endpoints on the node the traffic starts from, so a client reads its own node.
    Local,
}

/// How a Service is exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ServiceType {
    /// A virtual IP reachable inside the cluster.
    #[serde(rename = "ClusterIP")]
    ClusterIp,
    /// `ClusterIP` plus a port on every node.
    NodePort,
    /// `NodePort` plus an external load balancer from the cloud provider.
    LoadBalancer,
    /// A DNS alias for a name outside the cluster.
    ExternalName,
}

/// Prometheus Operator ServiceMonitor for the DCGM exporter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DcgmExporterServiceMonitor {
    /// Create the ServiceMonitor. Default `true`.
    pub enabled: bool,
    /// How often Prometheus scrapes the exporter, as a Prometheus duration (`15s`, `1m30s`);
    /// empty uses Prometheus' global setting. Default `15s`.
    #[schemars(pattern(patterns::PROMETHEUS_DURATION))]
    pub interval: String,
    /// How long one scrape may take, as a Prometheus duration; at most `interval`. Default `10s`.
    #[schemars(pattern(patterns::PROMETHEUS_DURATION))]
    pub scrape_timeout: String,
    /// Keep the labels of scraped metrics when they clash with the target's labels, instead of
    /// renaming them to `exported_<name>`. Default `false`.
    pub honor_labels: bool,
    /// Extra labels on the ServiceMonitor, for example the one a Prometheus selects monitors by.
    #[serde(default)]
    pub additional_labels: StringMap,
    /// Prometheus relabeling rules applied to the targets before scraping, each a
    /// `RelabelConfig` object (`sourceLabels`, `regex`, `targetLabel`, `replacement`, `action`).
    #[serde(default)]
    pub relabelings: Vec<FreeForm>,
}

/// The DCGM exporter's list of metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DcgmExporterConfig {
    /// ConfigMap in the operator's namespace whose `dcgm-metrics.csv` key holds the list:
    /// created from `data` when `create` is on, otherwise an existing one.
    #[schemars(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    )]
    pub name: String,
    /// Create the ConfigMap `name` from `data`; nothing is created while `data` is empty.
    /// Default `false`.
    #[serde(default)]
    pub create: bool,
    /// The metrics list, one `DCGM field, Prometheus type, help text` line per metric (such as
    /// `DCGM_FI_DEV_SM_CLOCK, gauge, SM clock in MHz`); lines starting with `#` are comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// The node status exporter DaemonSet, which publishes the operator validator's per-node results
/// as Prometheus metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeStatusExporter {
    /// Deploy the node status exporter. Default `false`.
    pub enabled: bool,
    /// Registry and path of the exporter image. Default `nvcr.io/nvidia`.
    #[schemars(pattern(patterns::REPOSITORY))]
    pub repository: String,
    /// Name of the image within `repository`; the exporter ships in NVIDIA's operator image.
    /// Default `gpu-operator`.
    #[schemars(pattern(patterns::IMAGE))]
    pub image: String,
    /// Tag (or `sha256:` digest) of the exporter image. Pinned to the NVIDIA operator release
    /// these defaults follow (`v26.7.0`), since gpuplan's own version is not a tag of that image.
    #[schemars(pattern(patterns::VERSION))]
    pub version: String,
    /// When the kubelet pulls the exporter image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the operator's namespace with credentials for pulling the image.
    #[schemars(inner(
        pattern(patterns::DNS_SUBDOMAIN),
        length(max = patterns::DNS_SUBDOMAIN_MAX)
    ))]
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// CPU and memory requests and limits of the exporter containers.
    #[serde(default)]
    pub resources: Resources,
    /// Run the exporter pods in the host's network namespace. Default `false`.
    pub host_network: bool,
    /// Extra environment variables for the exporter container. Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// Extra command-line arguments for the exporter container. Unset adds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}
