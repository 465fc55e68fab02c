//! Stage `gpuplan-operator`: gpuplan's own operator, in the place of the upstream chart's
//! operator objects (`gpu-operator` Deployment and RBAC) and of the `state-operator-metrics`
//! Service.
//!
//! Input: the `operator` block (image, env, resources, scheduling, logging, labels, metrics),
//! `platform.openshift`, `psa.enabled` and the NFD settings that decide which kinds the plan
//! holds. Output, always: ServiceAccount, Role and RoleBinding (in the operator's namespace, and
//! in NFD's when `namespaceOverride` moves it elsewhere), ClusterRole and ClusterRoleBinding, all
//! named `gpuplan-operator`; the Deployment `gpuplan-operator` running `gpuplan operator`; the
//! metrics Service `gpuplan-operator-metrics`. With `operator.metrics.serviceMonitor.enabled`,
//! the ServiceMonitor `gpuplan-operator` (opt-in: unlike NVIDIA's operator, a plan cannot look
//! for the CRD first). On OpenShift also the `restricted-readonly` SecurityContextConstraints
//! the pod's default annotation selects, and the `prometheus-k8s` Role and RoleBinding that let
//! cluster monitoring scrape the namespace.
//!
//! The RBAC is what an operator needs to server-side-apply every object of the plan, derived
//! from the kinds gpuplan renders (see [`namespaced_rules`] and [`cluster_rules`]); `escalate`
//! and `bind` let it apply the operands' RBAC. Objects of other kinds in `extraObjects` need
//! their permissions granted separately.
//!
//! Logging: upstream passes `--zap-*` flags to its Go binary; gpuplan's operator reads
//! `GPUPLAN_LOG` instead: `operator.logging.level` as given (`info`, `debug`, `error`, or a
//! verbosity number), `debug` when `develMode` is on. `timeEncoding` has no equivalent: gpuplan
//! writes RFC 3339 timestamps.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value as J, json};

use super::image::reference;
use super::operand::{Env, MANAGED_BY, pull_policy, pull_secrets, resources};
use super::{Context, Out, Shared, VERSION};
use crate::config::kube::{FreeForm, StringMap};
use crate::config::operator::LogLevel;
use crate::error::Error;

/// The name of every object of the stage.
pub const NAME: &str = "gpuplan-operator";
/// Where the operator serves Prometheus metrics.
const METRICS_PORT: u16 = 8080;

#[derive(Serialize)]
struct View {
    name: &'static str,
    namespace: String,
    /// Every namespace the plan puts namespaced objects in: one Role and RoleBinding each.
    namespaces: Vec<String>,
    labels: BTreeMap<String, String>,
    selector: BTreeMap<String, String>,
    pod_labels: BTreeMap<String, String>,
    pod_annotations: StringMap,
    image: String,
    image_pull_policy: &'static str,
    image_pull_secrets: Vec<J>,
    priority_class_name: String,
    env: Env,
    resources: Option<J>,
    node_selector: StringMap,
    affinity: FreeForm,
    tolerations: J,
    metrics_port: u16,
    namespaced_rules: Vec<J>,
    cluster_rules: Vec<J>,
    service_monitor: Option<ServiceMonitor>,
    openshift: bool,
}

#[derive(Serialize)]
struct ServiceMonitor {
    labels: BTreeMap<String, String>,
    endpoint: J,
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    let operator = &ctx.config.operator;
    let version = operator.version.as_deref().filter(|v| !v.is_empty()).unwrap_or(VERSION);
    let labels = labels(ctx);
    let selector = BTreeMap::from([("app".to_owned(), NAME.to_owned())]);
    let mut pod_labels = labels.clone();
    // NVIDIA's driver manager skips pods with this label when it drains a node for a driver
    // upgrade: the operator must keep running while the driver it manages is replaced.
    pod_labels.insert("nvidia.com/gpu-driver-upgrade-drain.skip".into(), "true".into());
    let mut env = Env::new();
    env.field("OPERATOR_NAMESPACE", "metadata.namespace").set("GPUPLAN_LOG", log_level(ctx));
    env.apply(&operator.env);
    let view = View {
        name: NAME,
        namespace: ctx.namespace().to_owned(),
        namespaces: namespaces(ctx),
        labels: labels.clone(),
        selector,
        pod_labels,
        pod_annotations: operator.annotations.clone(),
        image: reference(&operator.repository, &operator.image, version),
        image_pull_policy: pull_policy(operator.image_pull_policy),
        image_pull_secrets: pull_secrets(&operator.image_pull_secrets),
        priority_class_name: operator.priority_class_name.clone(),
        env,
        resources: resources(&operator.resources),
        node_selector: operator.node_selector.clone(),
        affinity: operator.affinity.clone(),
        tolerations: serde_json::to_value(&operator.tolerations).unwrap_or(J::Null),
        metrics_port: METRICS_PORT,
        namespaced_rules: namespaced_rules(),
        cluster_rules: cluster_rules(ctx),
        service_monitor: service_monitor(ctx, &labels),
        openshift: ctx.config.platform.openshift,
    };
    let view = Shared::new(&view);
    for kind in ["serviceaccount", "role", "rolebinding", "clusterrole", "clusterrolebinding", "deployment", "service"]
    {
        out.emit_shared(&format!("gpuplan-operator/{kind}.yaml"), &view)?;
    }
    if view.service_monitor.is_some() {
        out.emit_shared("gpuplan-operator/servicemonitor.yaml", &view)?;
    }
    if view.openshift {
        out.emit_shared("gpuplan-operator/openshift.yaml", &view)?;
    }
    Ok(())
}

/// The labels of every object of the stage: `operator.labels`, under gpuplan's own (which a
/// user label may not replace: the selector and the release inventory rely on them).
fn labels(ctx: &Context<'_>) -> BTreeMap<String, String> {
    let mut labels = ctx.config.operator.labels.clone().unwrap_or_default();
    labels.extend([
        ("app".to_owned(), NAME.to_owned()),
        ("app.kubernetes.io/name".to_owned(), "gpuplan".to_owned()),
        ("app.kubernetes.io/component".to_owned(), "operator".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), ctx.release.name.clone()),
        // gpuplan's version, not the image's: a `sha256:` digest is not a valid label value.
        ("app.kubernetes.io/version".to_owned(), VERSION.to_owned()),
        (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
    ]);
    labels
}

/// `GPUPLAN_LOG`: the level as the values give it; development mode means `debug`, as
/// upstream's `--zap-devel` does.
fn log_level(ctx: &Context<'_>) -> String {
    let logging = &ctx.config.operator.logging;
    if logging.devel_mode {
        return "debug".into();
    }
    match &logging.level {
        LogLevel::Verbosity(n) => n.to_string(),
        LogLevel::Name(name) => name.clone(),
    }
}

/// The namespaces holding namespaced objects of the plan: the operator's, and NFD's when it
/// is deployed elsewhere.
fn namespaces(ctx: &Context<'_>) -> Vec<String> {
    let mut namespaces = vec![ctx.namespace().to_owned()];
    let nfd = &ctx.config.node_feature_discovery.namespace_override;
    if ctx.config.nfd.enabled && !nfd.is_empty() && nfd != ctx.namespace() {
        namespaces.push(nfd.clone());
    }
    namespaces
}

/// Every verb server-side apply, pruning and watching need.
const EDIT: [&str; 7] = ["get", "list", "watch", "create", "update", "patch", "delete"];
/// Reading and watching.
const READ: [&str; 3] = ["get", "list", "watch"];

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> J {
    json!({ "apiGroups": [group], "resources": resources, "verbs": verbs })
}

/// With `escalate` and `bind`, the operator may apply the operands' Roles and bindings without
/// holding every permission they grant itself.
fn rbac_verbs() -> Vec<&'static str> {
    EDIT.iter().copied().chain(["escalate", "bind"]).collect()
}

/// Rules in each namespace of the plan: the operands' namespaced kinds.
fn namespaced_rules() -> Vec<J> {
    vec![
        rule("", &["configmaps", "secrets", "serviceaccounts", "services"], &EDIT),
        // Operand readiness; deleting pods rolls OnDelete DaemonSets (the driver).
        rule("", &["pods"], &["get", "list", "watch", "delete"]),
        rule("apps", &["daemonsets", "deployments"], &EDIT),
        // Readiness of OnDelete DaemonSets: every pod must run the latest revision.
        rule("apps", &["controllerrevisions"], &READ),
        rule("rbac.authorization.k8s.io", &["roles", "rolebindings"], &rbac_verbs()),
        // Leader election.
        rule("coordination.k8s.io", &["leases"], &EDIT),
        // ServiceMonitors (operator, DCGM exporter, node status exporter), NFD's PodMonitor,
        // OpenShift's PrometheusRules.
        rule("monitoring.coreos.com", &["podmonitors", "prometheusrules", "servicemonitors"], &EDIT),
        // NFD's optional NetworkPolicies and PodDisruptionBudgets.
        rule("networking.k8s.io", &["networkpolicies"], &EDIT),
        rule("policy", &["poddisruptionbudgets"], &EDIT),
    ]
}

/// Cluster-wide rules: cluster-scoped kinds of the plan, nodes, events and gpuplan's own
/// resources.
fn cluster_rules(ctx: &Context<'_>) -> Vec<J> {
    let config = ctx.config;
    // Labelling the namespace for Pod Security Admission needs `patch` on it.
    let namespace_verbs: &[&str] = if config.psa.enabled { &["get", "patch"] } else { &["get"] };
    let mut rules = vec![
        // GPU node labels: `nvidia.com/gpu.present` and `nvidia.com/gpu.deploy.*`.
        rule("", &["nodes"], &["get", "list", "watch", "patch"]),
        rule("", &["namespaces"], namespace_verbs),
        // Events about nodes land in `default`, so recording them is cluster-wide.
        rule("", &["events"], &["create", "patch"]),
        rule("events.k8s.io", &["events"], &["create", "patch"]),
        rule("rbac.authorization.k8s.io", &["clusterroles", "clusterrolebindings"], &rbac_verbs()),
        rule("node.k8s.io", &["runtimeclasses"], &EDIT),
        // The first stage of every release: the release record's CRD and the plan's own (NFD's,
        // its topology updater's), uninstalled with the release.
        rule("apiextensions.k8s.io", &["customresourcedefinitions"], &EDIT),
        // The chart's `nvidia-kernel-modules` rule (`nfd.nodefeaturerules`).
        rule("nfd.k8s-sigs.io", &["nodefeaturerules"], &EDIT),
        // The resource whose spec is the values, and its status.
        rule("gpuplan.dev", &["gpuplans"], &["get", "list", "watch", "update", "patch"]),
        rule("gpuplan.dev", &["gpuplans/status"], &["get", "update", "patch"]),
        // The release record: written on every apply, deleted on uninstall.
        rule("gpuplan.dev", &["planreleases"], &EDIT),
    ];
    // The operator watches its objects for drift, and looks for a release's leftovers, across
    // namespaces (by the release label, which RBAC cannot narrow to): reading only, and only
    // the kinds a plan renders (secrets, pods and leases are read in its namespaces alone).
    rules.extend([
        rule("", &["configmaps", "serviceaccounts", "services"], &READ),
        rule("apps", &["daemonsets", "deployments"], &READ),
        rule("rbac.authorization.k8s.io", &["roles", "rolebindings"], &READ),
        rule("monitoring.coreos.com", &["podmonitors", "prometheusrules", "servicemonitors"], &READ),
        rule("networking.k8s.io", &["networkpolicies"], &READ),
        rule("policy", &["poddisruptionbudgets"], &READ),
    ]);
    if config.platform.openshift {
        // The operands' SecurityContextConstraints, which their Roles `use`.
        let verbs: Vec<&str> = EDIT.iter().copied().chain(["use"]).collect();
        rules.push(rule("security.openshift.io", &["securitycontextconstraints"], &verbs));
    }
    rules
}

/// The ServiceMonitor, when `operator.metrics.serviceMonitor.enabled`; unset fields are left
/// to Prometheus' defaults.
fn service_monitor(ctx: &Context<'_>, labels: &BTreeMap<String, String>) -> Option<ServiceMonitor> {
    let sm = ctx.config.operator.metrics.as_ref()?.service_monitor.as_ref()?;
    if sm.enabled != Some(true) {
        return None;
    }
    let mut endpoint = json!({ "port": "metrics", "path": "/metrics" });
    if let Some(interval) = &sm.interval {
        endpoint["interval"] = json!(interval);
    }
    if let Some(timeout) = &sm.scrape_timeout {
        endpoint["scrapeTimeout"] = json!(timeout);
    }
    if let Some(honor) = sm.honor_labels {
        endpoint["honorLabels"] = json!(honor);
    }
    if let Some(relabelings) = &sm.relabelings {
        endpoint["relabelings"] = json!(relabelings);
    }
    let mut monitor_labels = sm.additional_labels.clone().unwrap_or_default();
    monitor_labels.extend(labels.clone());
    Some(ServiceMonitor { labels: monitor_labels, endpoint })
}
