//! Stage `node-feature-discovery`: what the NFD subchart vendored by the GPU Operator chart
//! (node-feature-discovery 0.19.0) renders, and the chart's own `nvidia-kernel-modules`
//! NodeFeatureRule.
//!
//! Input: `nfd.enabled`, `nfd.nodefeaturerules`, the `node-feature-discovery` values and the
//! release name, which names the objects as the subchart's helpers do: `<release>-<chart>`
//! (the release alone when it already contains the chart name), `nameOverride` and
//! `fullnameOverride`, cut to 63 characters; labels `helm.sh/chart`, `app.kubernetes.io/name`,
//! `instance` and `version` as the helpers write them, with `app.kubernetes.io/managed-by:
//! gpuplan` where Helm writes `Helm`. Output, when `nfd.enabled`: ConfigMaps
//! `<fullname>-master-conf` and `-worker-conf` (the `config` values as YAML text), Deployment
//! `<fullname>-master`, DaemonSet `<fullname>-worker`, Deployment `<fullname>-gc`, the
//! ServiceAccounts `serviceAccount.create` asks for, ClusterRoles and bindings for master, gc
//! (and worker with `ownerRefs: [node]`), Role and RoleBinding for the worker; when enabled,
//! the topology updater (with its NodeResourceTopology CRD under `createCRDs`), the
//! PodDisruptionBudgets, NetworkPolicies and the Prometheus PodMonitor. The NodeFeatureRule
//! follows `nfd.nodefeaturerules` alone, as in the chart.
//!
//! Not rendered: the subchart's post-delete prune hook (ServiceAccount, ClusterRole, binding
//! and Job `<fullname>-prune` under `postDeleteCleanup`): gpuplan's uninstall removes NFD's
//! node labels itself, and a plan has no hooks.
//!
//! Differences that follow from gpuplan rendering the objects rather than Helm: the
//! `checksum/config` pod annotation hashes gpuplan's rendering of the ConfigMap (with
//! `checksumValuesOnly`, the `config` value's YAML), so it changes when the chart's does but is
//! not the same string; the PodMonitor gets the NFD namespace, which Helm leaves to the
//! install; values the chart prints as empty (`revisionHistoryLimit`, `imagePullSecrets`) are
//! left out rather than written as `null`.
//!
//! [`crds`] gives NFD's own CRDs for `gpuplan template --include-crds`.

mod workload;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value as J, json};
use sha2::{Digest, Sha256};

use super::Rule;
use super::operand::{MANAGED_BY, pull_policy};
use super::{Context, Out, Shared};
use crate::config::nfd::NodeFeatureDiscovery;
use crate::config::nfd::pod::{NetworkPolicy, PodDisruptionBudget, ServiceAccount};
use crate::config::nfd::worker::OwnerRef;
use crate::error::Error;
use crate::plan::Manifest;
use crate::values::print::json_to_yaml;

/// How this stage builds its images, for `gpuplan explain` (before the shared image rule).
pub const RULES: &[Rule] = &[
    Rule {
        stage: "node-feature-discovery",
        kind: "*",
        field: "spec.template.spec.containers[*].image",
        text: NFD_IMAGE,
    },
    Rule {
        stage: "node-feature-discovery",
        kind: "*",
        field: "spec.template.spec.initContainers[*].image",
        text: NFD_IMAGE,
    },
];
/// The sub-chart builds its image reference its own way (see `Common`).
const NFD_IMAGE: &str = "the sub-chart's image: `<image.repository>:<image.tag>`, the tag defaulting to the \
    chart's appVersion when empty.";

/// The subchart's name, `version` and `appVersion` (its `Chart.yaml`).
const CHART: &str = "node-feature-discovery";
const CHART_VERSION: &str = "0.19.0";
const APP_VERSION: &str = "v0.19.0";

/// What every NFD template shares: names, labels, image.
#[derive(Debug, Serialize)]
struct Common {
    /// The chart name, or `nameOverride` (`app.kubernetes.io/name`).
    name: String,
    /// The prefix of every object name.
    fullname: String,
    namespace: String,
    release: String,
    /// The subchart's common labels.
    labels: BTreeMap<String, String>,
    /// Its selector labels (name and instance).
    selector: BTreeMap<String, String>,
    image: String,
    pull_policy: &'static str,
    /// Omitted when empty.
    pull_secrets: Vec<J>,
    priority_class_name: Option<String>,
    feature_gates: BTreeMap<String, bool>,
    managed_by: (&'static str, &'static str),
}

/// Helm's `trunc 63 | trimSuffix "-"`.
fn trunc63(s: &str) -> String {
    let cut: String = s.chars().take(63).collect();
    cut.strip_suffix('-').map(str::to_owned).unwrap_or(cut)
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

impl Common {
    fn new(ctx: &Context<'_>) -> Common {
        let v = &ctx.config.node_feature_discovery;
        let release = ctx.release.name.as_str();
        let chart_name = non_empty(&v.name_override).unwrap_or(CHART);
        let fullname = match non_empty(&v.fullname_override) {
            Some(full) => trunc63(full),
            None if release.contains(chart_name) => trunc63(release),
            None => trunc63(&format!("{release}-{chart_name}")),
        };
        let selector = BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), trunc63(chart_name)),
            ("app.kubernetes.io/instance".to_owned(), release.to_owned()),
        ]);
        let mut labels = selector.clone();
        labels.extend([
            ("helm.sh/chart".to_owned(), trunc63(&format!("{CHART}-{CHART_VERSION}").replace('+', "_"))),
            ("app.kubernetes.io/version".to_owned(), APP_VERSION.to_owned()),
            (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
        ]);
        let tag = v.image.tag.as_deref().and_then(non_empty).unwrap_or(APP_VERSION);
        Common {
            name: trunc63(chart_name),
            fullname,
            namespace: non_empty(&v.namespace_override).unwrap_or(ctx.namespace()).to_owned(),
            release: release.to_owned(),
            labels,
            selector,
            image: format!("{}:{tag}", v.image.repository),
            pull_policy: pull_policy(v.image.pull_policy),
            pull_secrets: pull_secrets(v),
            priority_class_name: non_empty(&v.priority_class_name).map(str::to_owned),
            feature_gates: v.feature_gates.clone(),
            managed_by: MANAGED_BY,
        }
    }

    /// `labels` with `role: <role>` added.
    fn with_role(labels: &BTreeMap<String, String>, role: &str) -> BTreeMap<String, String> {
        let mut labels = labels.clone();
        labels.insert("role".into(), role.into());
        labels
    }
}

/// `imagePullSecrets`, else `global.imagePullSecrets`.
fn pull_secrets(v: &NodeFeatureDiscovery) -> Vec<J> {
    if !v.image_pull_secrets.is_empty() {
        return v.image_pull_secrets.iter().map(|s| json!({ "name": s.name })).collect();
    }
    let global = v.global.as_ref().and_then(|g| g.get("imagePullSecrets")).and_then(J::as_array);
    global.cloned().unwrap_or_default()
}

/// The helpers' `<component>.serviceAccountName`: the given name, else the derived one when
/// the account is created, else `default`.
fn account(sa: &ServiceAccount, derived: String) -> String {
    match sa.name.as_deref().and_then(non_empty) {
        Some(name) => name.to_owned(),
        None if sa.create => derived,
        None => "default".to_owned(),
    }
}

#[derive(Serialize)]
struct Account {
    name: String,
    annotations: BTreeMap<String, String>,
}

/// Which RBAC objects exist, each with the account it binds.
#[derive(Serialize)]
struct Rbac<'a> {
    nfd: &'a Common,
    accounts: Vec<Account>,
    master: Option<String>,
    worker: Option<String>,
    /// The worker reads its Node to own its NodeFeature object by it.
    worker_nodes: bool,
    topology_updater: Option<String>,
    gc: Option<String>,
}

#[derive(Serialize)]
struct ConfigView<'a> {
    nfd: &'a Common,
    name: String,
    key: &'a str,
    text: &'a str,
}

#[derive(Serialize)]
struct WorkloadView<'a> {
    nfd: &'a Common,
    w: &'a workload::Workload,
}

#[derive(Serialize)]
struct PolicyView<'a> {
    nfd: &'a Common,
    name: String,
    labels: BTreeMap<String, String>,
    /// The component's pods: the selector labels and `role`.
    match_labels: BTreeMap<String, String>,
    spec: J,
}

#[derive(Serialize)]
struct MonitorView<'a> {
    nfd: &'a Common,
    labels: BTreeMap<String, String>,
    interval: &'a str,
}

#[derive(Serialize)]
struct Static {
    managed_by: (&'static str, &'static str),
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    let config = ctx.config;
    if config.nfd.nodefeaturerules {
        out.emit("node-feature-discovery/nodefeaturerule.yaml", &Static { managed_by: MANAGED_BY })?;
    }
    if !config.nfd.enabled {
        return Ok(());
    }
    let v = &config.node_feature_discovery;
    let nfd = Common::new(ctx);
    let full = &nfd.fullname;
    let (master, worker, updater, gc) = (&v.master, &v.worker, &v.topology_updater, &v.gc);
    let master_sa = account(&master.service_account, full.clone());
    let worker_sa = account(&worker.service_account, format!("{full}-worker"));
    let updater_sa = account(&updater.service_account, format!("{full}-topology-updater"));
    let gc_sa = account(&gc.service_account, format!("{full}-gc"));

    let mut accounts = Vec::new();
    for (enabled, sa, name) in [
        (master.enable, &master.service_account, &master_sa),
        (updater.enable, &updater.service_account, &updater_sa),
        (gc.enable, &gc.service_account, &gc_sa),
        (worker.enable, &worker.service_account, &worker_sa),
    ] {
        if enabled && sa.create {
            accounts.push(Account { name: name.clone(), annotations: sa.annotations.clone() });
        }
    }
    let when = |on: bool, sa: &String| on.then(|| sa.clone());
    let rbac = Rbac {
        nfd: &nfd,
        accounts,
        master: when(master.enable && master.rbac.create, &master_sa),
        worker: when(worker.enable && worker.rbac.create, &worker_sa),
        worker_nodes: worker.owner_refs.contains(&OwnerRef::Node),
        topology_updater: when(updater.enable && updater.rbac.create, &updater_sa),
        gc: when(gc.enable && gc.rbac.create, &gc_sa),
    };
    let rbac = Shared::new(&rbac);
    for kind in ["serviceaccount", "clusterrole", "clusterrolebinding", "role", "rolebinding"] {
        out.emit_shared(&format!("node-feature-discovery/{kind}.yaml"), &rbac)?;
    }

    let values_only = v.checksum_values_only;
    if master.enable {
        let config = J::Object(master.config.clone());
        let checksum = config_map(out, &nfd, "master", "nfd-master.conf", &config, values_only)?;
        let w = workload::master(&nfd, master, master_sa, checksum);
        out.emit("node-feature-discovery/master.yaml", &WorkloadView { nfd: &nfd, w: &w })?;
        disruption_budget(out, &nfd, "master", &master.pod_disruption_budget)?;
    }
    if worker.enable {
        let config = J::Object(worker.config.clone());
        let checksum = config_map(out, &nfd, "worker", "nfd-worker.conf", &config, values_only)?;
        let w = workload::worker(&nfd, worker, worker_sa, checksum);
        out.emit("node-feature-discovery/worker.yaml", &WorkloadView { nfd: &nfd, w: &w })?;
    }
    if updater.enable {
        let config = serde_json::to_value(&updater.config).unwrap_or(J::Null);
        let key = "nfd-topology-updater.conf";
        let checksum = config_map(out, &nfd, "topology-updater", key, &config, values_only)?;
        let w = workload::topology_updater(&nfd, updater, updater_sa, checksum);
        out.emit("node-feature-discovery/topology-updater.yaml", &WorkloadView { nfd: &nfd, w: &w })?;
        if updater.create_crds {
            out.emit("node-feature-discovery/topology-updater-crd.yaml", &Static { managed_by: MANAGED_BY })?;
        }
    }
    if gc.enable {
        let w = workload::gc(&nfd, gc, gc_sa);
        out.emit("node-feature-discovery/gc.yaml", &WorkloadView { nfd: &nfd, w: &w })?;
        disruption_budget(out, &nfd, "gc", &gc.pod_disruption_budget)?;
    }
    // As in the chart, a NetworkPolicy follows its own switch, not its component's.
    for (role, policy) in [
        ("master", &master.network_policy),
        ("worker", &worker.network_policy),
        ("topology-updater", &updater.network_policy),
        ("gc", &gc.network_policy),
    ] {
        network_policy(out, &nfd, role, policy)?;
    }
    if v.prometheus.enable {
        let mut labels = nfd.selector.clone();
        labels.extend(v.prometheus.labels.clone());
        labels.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
        let view = MonitorView { nfd: &nfd, labels, interval: &v.prometheus.scrape_interval };
        out.emit("node-feature-discovery/podmonitor.yaml", &view)?;
    }
    Ok(())
}

/// A component's ConfigMap; returns its `checksum/config`: the SHA-256 of the ConfigMap as
/// rendered, or with `checksumValuesOnly` of the `config` value's YAML, as the chart hashes.
fn config_map(
    out: &mut Out<'_>,
    nfd: &Common,
    component: &str,
    key: &str,
    config: &J,
    values_only: bool,
) -> Result<String, Error> {
    // Helm's `toYaml` drops the final newline; the ConfigMap holds the text the same way.
    let yaml = json_to_yaml(config);
    let text = yaml.strip_suffix('\n').unwrap_or(&yaml);
    let name = format!("{}-{component}-conf", nfd.fullname);
    out.emit("node-feature-discovery/configmap.yaml", &ConfigView { nfd, name, key, text })?;
    let hashed =
        if values_only { text.to_owned() } else { out.objects.last().map(Manifest::to_yaml).unwrap_or_default() };
    Ok(Sha256::digest(hashed.as_bytes()).iter().map(|b| format!("{b:02x}")).collect())
}

/// `<fullname>-<role>`'s PodDisruptionBudget, when enabled: the budget's fields but `enable`.
fn disruption_budget(out: &mut Out<'_>, nfd: &Common, role: &str, pdb: &PodDisruptionBudget) -> Result<(), Error> {
    if !pdb.enable {
        return Ok(());
    }
    let mut spec = serde_json::to_value(pdb).unwrap_or(J::Null);
    if let Some(fields) = spec.as_object_mut() {
        fields.remove("enable");
    }
    let view = PolicyView {
        nfd,
        name: format!("{}-{role}", nfd.fullname),
        labels: nfd.labels.clone(),
        match_labels: Common::with_role(&nfd.selector, role),
        spec,
    };
    out.emit("node-feature-discovery/poddisruptionbudget.yaml", &view)
}

/// `<fullname>-<role>-network-policy`, when enabled.
fn network_policy(out: &mut Out<'_>, nfd: &Common, role: &str, policy: &NetworkPolicy) -> Result<(), Error> {
    if !policy.enabled {
        return Ok(());
    }
    let spec = json!({ "egress": policy.egress, "ingress": policy.ingress });
    let view = PolicyView {
        nfd,
        name: format!("{}-{role}-network-policy", nfd.fullname),
        labels: Common::with_role(&nfd.labels, role),
        match_labels: Common::with_role(&nfd.selector, role),
        spec,
    };
    out.emit("node-feature-discovery/networkpolicy.yaml", &view)
}

/// NFD's CustomResourceDefinitions (`nfd.k8s-sigs.io`: NodeFeature, NodeFeatureGroup,
/// NodeFeatureRule), for `gpuplan template --include-crds`; include them when `nfd.enabled`,
/// as Helm installs a subchart's `crds/` only when the subchart is enabled.
///
/// They are gpuplan's own, equivalent to the subchart's `crds/nfd-api-crds.yaml` in group,
/// names, scope, versions and the status subresource, with a simplified schema: `spec` and
/// `status` keep unknown fields instead of NFD's full field-by-field schema, so the API server
/// accepts the same objects but does not validate inside them.
pub fn crds() -> Result<Vec<Manifest>, Error> {
    // CRDs are cluster prerequisites, never optional: no facts leave them out.
    let none = crate::facts::Facts::default();
    let mut out = Out::new(&none, super::Recall::Off);
    emit_crds(&mut out)?;
    Ok(out.objects)
}

/// Emit NFD's CustomResourceDefinitions into `out`.
pub(super) fn emit_crds(out: &mut Out<'_>) -> Result<(), Error> {
    for kind in ["nodefeature", "nodefeaturegroup", "nodefeaturerule"] {
        out.emit(&format!("node-feature-discovery/crds/{kind}.yaml"), &Static { managed_by: MANAGED_BY })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_long_names_trunc63_cuts_and_trims_one_dash() {
        let long = format!("{}-x", "a".repeat(62));
        assert_eq!(trunc63(&long), "a".repeat(62));
        assert_eq!(trunc63("short"), "short");
    }

    #[test]
    fn given_the_embedded_templates_crds_renders_the_three_nfd_crds() {
        let crds = crds().unwrap();
        let names: Vec<&str> = crds.iter().map(Manifest::name).collect();
        assert_eq!(
            names,
            ["nodefeatures.nfd.k8s-sigs.io", "nodefeaturegroups.nfd.k8s-sigs.io", "nodefeaturerules.nfd.k8s-sigs.io"]
        );
        assert!(crds.iter().all(|c| c.kind() == "CustomResourceDefinition"));
    }
}
