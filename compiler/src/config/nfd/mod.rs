//! The `node-feature-discovery` (NFD) block: what gpuplan deploys so nodes carry hardware labels
//! (PCI vendor, kernel, CPU features) that the GPU Operator's node selectors rely on.
//!
//! Input: the `node-feature-discovery` key of the checked values. In Helm this block is the NFD
//! subchart's own defaults with the GPU Operator chart's overrides laid on top; gpuplan has no
//! subcharts, so its built-in values file carries that merged block directly and these types
//! cover every key of it. Output: [`NodeFeatureDiscovery`] and its parts, which serde fills and
//! schemars turns into the matching part of the values schema.
//!
//! The four NFD components each have a module: [`master`] (turns discovered features into node
//! labels), [`worker`] (discovers features on every node), [`topology_updater`] (reports per-NUMA
//! resource usage, off by default) and [`gc`] (removes feature objects of deleted nodes).
//! Pieces they share (service accounts, probe timings, network policies) live in [`pod`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kube::{FreeForm, PullPolicy, StringMap};

pub mod gc;
pub mod master;
pub mod pod;
pub mod topology_updater;
pub mod worker;

pub use gc::Gc;
pub use master::Master;
pub use topology_updater::TopologyUpdater;
pub use worker::Worker;

pub(crate) use super::patterns::{
    ABSOLUTE_PATH_OR_EMPTY, DNS_LABEL_OR_EMPTY, DNS_SUBDOMAIN, DNS_SUBDOMAIN_OR_EMPTY, GO_DURATION,
    GO_DURATION_OR_EMPTY, PROMETHEUS_DURATION, SIGNED_GO_DURATION_OR_EMPTY,
};

/// The NFD block of the values: image, naming, shared switches and the four components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeFeatureDiscovery {
    /// The NFD container image, shared by every NFD component and the clean-up job.
    pub image: Image,
    /// Secrets the kubelet uses to pull the NFD image. When empty, `global.imagePullSecrets` is
    /// used instead.
    #[serde(default)]
    pub image_pull_secrets: Vec<ImagePullSecret>,
    /// Replaces the chart name (`node-feature-discovery`) in object names and in the
    /// `app.kubernetes.io/name` label. Empty keeps the chart name.
    #[schemars(pattern(DNS_SUBDOMAIN_OR_EMPTY), length(max = 63))]
    pub name_override: String,
    /// Replaces the whole `<release>-<name>` prefix of NFD object names. Empty derives it from
    /// the release name and `nameOverride`.
    #[schemars(pattern(DNS_SUBDOMAIN_OR_EMPTY), length(max = 63))]
    pub fullname_override: String,
    /// Namespace for the namespaced NFD objects. Empty uses the release namespace.
    #[schemars(pattern(DNS_LABEL_OR_EMPTY), length(max = 63))]
    pub namespace_override: String,
    /// NFD feature gates, by gate name (for example `NodeFeatureGroupAPI: true`). Each entry is
    /// passed to the master and the workers as `-feature-gates=<name>=<value>`.
    #[schemars(extend("propertyNames" = { "pattern": "^[A-Z][A-Za-z0-9]*$" }))]
    #[serde(default)]
    pub feature_gates: BTreeMap<String, bool>,
    /// When true, the pods' `checksum/config` annotation hashes only the component's `config`
    /// value, so pods restart only when that configuration changes; when false it hashes the
    /// whole rendered ConfigMap.
    pub checksum_values_only: bool,
    /// PriorityClass for the master, worker, topology-updater and gc pods. Empty sets none.
    /// gpuplan defaults to `system-node-critical`, so NFD's pods are among the last to be
    /// evicted or preempted.
    #[schemars(pattern(DNS_SUBDOMAIN_OR_EMPTY), length(max = 253))]
    pub priority_class_name: String,
    /// Whether uninstalling runs a job that strips NFD's labels, annotations and extended
    /// resources from every node.
    pub post_delete_cleanup: bool,
    /// Values shared with a parent chart. NFD reads only `global.imagePullSecrets` (a list of
    /// `{name: ...}` objects), as the fallback when `imagePullSecrets` is empty; other keys are
    /// accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<FreeForm>,
    /// The nfd-master Deployment, which turns discovered features into node labels.
    pub master: Master,
    /// The nfd-worker DaemonSet, which discovers features on every node.
    pub worker: Worker,
    /// The nfd-topology-updater DaemonSet, which publishes per-node resource topology.
    pub topology_updater: TopologyUpdater,
    /// The nfd-gc Deployment, which deletes NFD objects left behind by removed nodes.
    pub gc: Gc,
    /// Metrics collection through a Prometheus Operator PodMonitor.
    pub prometheus: Prometheus,
}

/// Where the NFD image comes from and when the kubelet pulls it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdImage")]
pub struct Image {
    /// Registry and repository of the image, without a tag.
    #[schemars(length(min = 1))]
    pub repository: String,
    /// When the kubelet pulls the image.
    pub pull_policy: PullPolicy,
    /// Image tag. Unset uses the tag of the bundled NFD release (its chart `appVersion`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"))]
    pub tag: Option<String>,
}

/// A reference to a `kubernetes.io/dockerconfigjson` Secret in the NFD namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdImagePullSecret")]
pub struct ImagePullSecret {
    /// Name of the Secret.
    #[schemars(pattern(DNS_SUBDOMAIN), length(max = 253))]
    pub name: String,
}

/// A Prometheus Operator PodMonitor that scrapes the `/metrics` endpoint of every NFD pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "NfdPrometheus")]
pub struct Prometheus {
    /// Whether to create the PodMonitor. Needs the Prometheus Operator's CRDs in the cluster.
    pub enable: bool,
    /// How often Prometheus scrapes the pods, as a Prometheus duration (`10s`, `1m`, `1h30m`).
    #[schemars(pattern(PROMETHEUS_DURATION), length(min = 1))]
    pub scrape_interval: String,
    /// Labels added to the PodMonitor, for example to match a Prometheus `podMonitorSelector`.
    #[serde(default)]
    pub labels: StringMap,
}
