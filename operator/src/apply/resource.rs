//! Which API endpoint serves an object: `apiVersion` + `kind` to a resource (plural name and
//! scope), without depending on discovery.
//!
//! Input: an object's `apiVersion` and `kind`; the CustomResourceDefinitions in the plan.
//! Output: a [`Target`]. Kinds gpuplan renders are known; custom kinds are found in the plan's
//! own CRDs, then in the cluster's CRDs (one list, cached), then through discovery. Discovery
//! comes last because some API servers (apiextensions-apiserver, aggregated test servers) do not
//! serve it, and because it costs requests on every run.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use serde_json::Value as J;

/// Where an object lives in the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Group, version, kind, plural.
    pub resource: ApiResource,
    /// Namespaced (true) or cluster-scoped.
    pub namespaced: bool,
}

/// Group, kind, plural, namespaced — the kinds gpuplan renders or reads.
const KNOWN: &[(&str, &str, &str, bool)] = &[
    ("", "Namespace", "namespaces", false),
    ("", "ServiceAccount", "serviceaccounts", true),
    ("", "ConfigMap", "configmaps", true),
    ("", "Secret", "secrets", true),
    ("", "Service", "services", true),
    ("", "Pod", "pods", true),
    ("", "Node", "nodes", false),
    ("", "Event", "events", true),
    ("apps", "DaemonSet", "daemonsets", true),
    ("apps", "Deployment", "deployments", true),
    ("apps", "StatefulSet", "statefulsets", true),
    ("batch", "Job", "jobs", true),
    ("policy", "PodDisruptionBudget", "poddisruptionbudgets", true),
    ("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", false),
    ("rbac.authorization.k8s.io", "Role", "roles", true),
    ("rbac.authorization.k8s.io", "RoleBinding", "rolebindings", true),
    ("node.k8s.io", "RuntimeClass", "runtimeclasses", false),
    ("scheduling.k8s.io", "PriorityClass", "priorityclasses", false),
    ("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", false),
    ("coordination.k8s.io", "Lease", "leases", true),
    ("monitoring.coreos.com", "ServiceMonitor", "servicemonitors", true),
    ("monitoring.coreos.com", "PrometheusRule", "prometheusrules", true),
    ("nfd.k8s-sigs.io", "NodeFeatureRule", "nodefeaturerules", false),
    ("nfd.k8s-sigs.io", "NodeFeature", "nodefeatures", true),
    ("nfd.k8s-sigs.io", "NodeFeatureGroup", "nodefeaturegroups", true),
    ("security.openshift.io", "SecurityContextConstraints", "securitycontextconstraints", false),
    ("gpuplan.dev", "PlanRelease", "planreleases", true),
];

/// Split `apps/v1` into group and version (`v1` is the core group).
pub fn group_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// The target of a kind gpuplan knows without asking the cluster.
pub fn known(api_version: &str, kind: &str) -> Option<Target> {
    let (group, version) = group_version(api_version);
    let (_, _, plural, namespaced) = KNOWN.iter().find(|(g, k, _, _)| *g == group && *k == kind)?;
    Some(target(&GroupVersionKind::gvk(group, version, kind), plural, *namespaced))
}

fn target(gvk: &GroupVersionKind, plural: &str, namespaced: bool) -> Target {
    Target { resource: ApiResource::from_gvk_with_plural(gvk, plural), namespaced }
}

/// Finds targets; one per engine, shared by its tasks.
#[derive(Debug, Default)]
pub struct Resolver {
    /// (group, kind) -> (plural, namespaced), from the plan's CRDs and the cluster's.
    custom: Mutex<BTreeMap<(String, String), (String, bool)>>,
    /// Whether the cluster's CRDs were listed already.
    listed: AtomicBool,
}

impl Resolver {
    /// A resolver that knows the CRDs among `objects` (so a plan's custom resources resolve
    /// before their CRDs exist in the cluster).
    pub fn new<'a>(objects: impl IntoIterator<Item = &'a J>) -> Resolver {
        let resolver = Resolver::default();
        for crd in objects.into_iter().filter(|o| o["kind"] == "CustomResourceDefinition") {
            resolver.learn(crd);
        }
        resolver
    }

    fn learn(&self, crd: &J) {
        let spec = &crd["spec"];
        let (Some(group), Some(kind), Some(plural)) =
            (spec["group"].as_str(), spec["names"]["kind"].as_str(), spec["names"]["plural"].as_str())
        else {
            return;
        };
        let namespaced = spec["scope"] != "Cluster";
        if let Ok(mut custom) = self.custom.lock() {
            custom.insert((group.to_owned(), kind.to_owned()), (plural.to_owned(), namespaced));
        }
    }

    fn custom(&self, group: &str, kind: &str) -> Option<(String, bool)> {
        self.custom.lock().ok()?.get(&(group.to_owned(), kind.to_owned())).cloned()
    }

    /// The target of `apiVersion`/`kind`.
    pub async fn resolve(&self, client: &kube::Client, api_version: &str, kind: &str) -> anyhow::Result<Target> {
        let (group, version) = group_version(api_version);
        let gvk = GroupVersionKind::gvk(group, version, kind);
        if let Some(known) = known(api_version, kind) {
            return Ok(known);
        }
        if let Some((plural, namespaced)) = self.custom(group, kind) {
            return Ok(target(&gvk, &plural, namespaced));
        }
        if !self.listed.swap(true, Ordering::SeqCst) {
            let crds = crd_resource();
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &crds.resource);
            if let Ok(list) = api.list(&ListParams::default()).await {
                for crd in list.items {
                    self.learn(&serde_json::to_value(crd).unwrap_or_default());
                }
            }
            if let Some((plural, namespaced)) = self.custom(group, kind) {
                return Ok(target(&gvk, &plural, namespaced));
            }
        }
        let (resource, caps) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .with_context(|| format!("the cluster does not serve {kind} in {api_version} (is its CRD installed?)"))?;
        if resource.plural.is_empty() {
            bail!("the cluster does not serve {kind} in {api_version}");
        }
        Ok(Target { resource, namespaced: caps.scope == Scope::Namespaced })
    }
}

/// The CustomResourceDefinition resource itself.
pub fn crd_resource() -> Target {
    let gvk = GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
    target(&gvk, "customresourcedefinitions", false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_a_plan_crd_its_kind_resolves_without_the_cluster() {
        let crd = json!({"kind": "CustomResourceDefinition", "spec": {"group": "x.dev", "scope": "Cluster", "names": {"kind": "Widget", "plural": "widgets"}}});
        let resolver = Resolver::new([&crd]);
        assert_eq!(resolver.custom("x.dev", "Widget"), Some(("widgets".into(), false)));
        assert_eq!(group_version("apps/v1"), ("apps", "v1"));
        assert_eq!(group_version("v1"), ("", "v1"));
    }
}
