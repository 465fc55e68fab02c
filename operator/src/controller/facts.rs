//! The cluster's facts as the operator keeps them: the GPUPlan's plan is compiled for them,
//! and compiled again when they change.
//!
//! Input: the Node reflector store (the node controller's, so no second watch) and discovery
//! (the served API versions, looked up again every [`DISCOVERY_EVERY`]). Output: [`Facts`] for
//! the compiler, and a signal to reconcile every GPUPlan when the facts' digest differs from the
//! one the plans were last compiled for — checked every [`LOOK_EVERY`], so a burst of node
//! events (a node pool joining) is one recompile, and the heartbeats a node sends change
//! nothing (a digest covers only what the compiler reads: the labels it keeps and `nodeInfo`).

use std::collections::BTreeSet;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use futures::FutureExt;
use gpuplan_compiler::Facts;
use k8s_openapi::api::core::v1::Node;
use kube::runtime::reflector::Store;

/// How often the facts are compared with those the plans were compiled for.
pub const LOOK_EVERY: Duration = Duration::from_secs(2);
/// How often the served API versions are looked up again (a CRD installed, an aggregated API).
pub const DISCOVERY_EVERY: Duration = Duration::from_secs(30);

/// What the operator knows of the cluster beyond its nodes.
#[derive(Debug, Default)]
pub struct Live {
    /// The server's version (`v1.31.2`).
    pub kube_version: Option<String>,
    /// The API versions served, once discovery answered.
    pub api_versions: RwLock<Option<BTreeSet<String>>>,
    /// The digest of the facts a plan was last compiled for (none before the first compile).
    pub compiled: RwLock<Option<String>>,
}

impl Live {
    /// The facts now: every node in the store, the API versions last discovered.
    pub fn facts(&self, nodes: &Store<Node>) -> Facts {
        let nodes = nodes.state().iter().filter_map(|n| crate::facts::from_node(n).ok()).collect();
        Facts {
            kube_version: self.kube_version.clone(),
            api_versions: self.api_versions.read().ok().and_then(|a| a.clone()),
            nodes: None,
        }
        .with_nodes(nodes)
    }

    /// Look up the served API versions; whether they changed.
    pub async fn discover(&self, client: &kube::Client) -> anyhow::Result<bool> {
        let found = crate::facts::api_versions(client).await?;
        let mut known = self.api_versions.write().map_err(|_| anyhow::anyhow!("a poisoned lock"))?;
        let changed = known.as_ref() != Some(&found);
        *known = Some(found);
        Ok(changed)
    }

    /// Say that a plan was compiled for facts with this digest.
    pub fn compiled_for(&self, digest: &str) {
        if let Ok(mut compiled) = self.compiled.write() {
            *compiled = Some(digest.to_owned());
        }
    }

    /// The facts' digest now, when it differs from the one the plans were compiled for (none
    /// while no plan was compiled: there is nothing to compile again).
    fn moved(&self, nodes: &Store<Node>) -> Option<String> {
        let compiled = self.compiled.read().ok()?.clone()?;
        let now = self.facts(nodes).digest().unwrap_or_default();
        (now != compiled).then_some(now)
    }
}

/// Whether the node watch has listed the cluster's nodes once (the store is empty until then,
/// and facts from it would be wrong). Polled rather than awaited: the store's ready signal
/// wakes only the last task that waited on it, so a second waiter (a reconcile) would leave
/// this one asleep for good.
pub fn listed(nodes: &Store<Node>) -> bool {
    matches!(nodes.wait_until_ready().now_or_never(), Some(Ok(())))
}

/// [`listed`], waited for until `within` has passed.
pub async fn until_listed(nodes: &Store<Node>, within: Duration) -> bool {
    let started = Instant::now();
    while !listed(nodes) {
        if started.elapsed() >= within {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// Until stopped: discover now and then, and call `changed` with the new digest whenever the
/// facts differ from those the plans were compiled for — once per new digest, so a reconcile
/// that fails does not set off another every look (its own requeue retries it).
pub async fn watch(client: kube::Client, live: &Live, nodes: Store<Node>, changed: impl Fn(&str)) {
    let mut signalled: Option<String> = None;
    let mut discovered: Option<Instant> = None;
    loop {
        if discovered.is_none_or(|at| at.elapsed() >= DISCOVERY_EVERY) {
            match live.discover(&client).await {
                Ok(_) => discovered = Some(Instant::now()),
                Err(e) => tracing::debug!(error = %format!("{e:#}"), "cannot discover the served API versions"),
            }
        }
        if listed(&nodes)
            && let Some(now) = live.moved(&nodes)
            && signalled.as_ref() != Some(&now)
        {
            changed(&now);
            signalled = Some(now);
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    fn node(name: &str, os: &str, runtime: &str, heartbeat: &str) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {
                "feature.node.kubernetes.io/pci-10de.present": "true",
                "feature.node.kubernetes.io/system-os_release.ID": os,
                "feature.node.kubernetes.io/system-os_release.VERSION_ID": "22.04",
                "unrelated": heartbeat,
            }},
            "status": {
                "nodeInfo": {"containerRuntimeVersion": runtime, "osImage": "", "kernelVersion": "", "architecture": "amd64",
                    "bootID": "", "kubeProxyVersion": "", "kubeletVersion": "", "machineID": "", "operatingSystem": "linux", "systemUUID": ""},
                "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": heartbeat}],
            },
        }))
        .expect("a Node")
    }

    #[test]
    fn given_nodes_in_the_store_the_digest_moves_with_what_the_compiler_reads_only() {
        let (store, mut writer) = reflector::store::<Node>();
        let live = Live::default();
        writer.apply_watcher_event(&Event::Apply(node("a", "ubuntu", "containerd://1.7.24", "2026-12-03T10:00:00Z")));
        let first = live.facts(&store);
        assert_eq!(first.gpu_runtimes().map(|r| r.len()), Some(1));
        writer.apply_watcher_event(&Event::Apply(node("a", "ubuntu", "containerd://1.7.24", "2026-12-03T10:00:10Z")));
        assert_eq!(live.facts(&store).digest(), first.digest(), "a heartbeat changes nothing the plan uses");
        writer.apply_watcher_event(&Event::Apply(node("b", "rhel", "cri-o://1.30.6", "2026-12-03T10:00:10Z")));
        let second = live.facts(&store);
        assert_ne!(second.digest(), first.digest(), "a node with another OS and runtime joined");
        assert_eq!(second.gpu_os().map(|o| o.len()), Some(2));
        if let Ok(mut api) = live.api_versions.write() {
            *api = Some(["v1".to_owned()].into());
        }
        assert_ne!(live.facts(&store).digest(), second.digest(), "served APIs are facts too");
    }

    #[test]
    fn given_a_plan_compiled_for_the_facts_only_a_change_since_then_is_news() {
        let (store, mut writer) = reflector::store::<Node>();
        let live = Live::default();
        assert!(!listed(&store), "the node watch has not listed yet");
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(node(
            "a",
            "ubuntu",
            "containerd://1.7.24",
            "2026-12-03T10:00:00Z",
        )));
        writer.apply_watcher_event(&Event::InitDone);
        assert!(listed(&store));
        assert!(listed(&store), "polling twice is still ready");
        assert_eq!(live.moved(&store), None, "no plan compiled yet: nothing to compile again");
        live.compiled_for(&live.facts(&store).digest().unwrap_or_default());
        assert_eq!(live.moved(&store), None);
        writer.apply_watcher_event(&Event::Apply(node("b", "rhel", "cri-o://1.30.6", "2026-12-03T10:00:10Z")));
        let now = live.moved(&store).expect("a node joined since the compile");
        assert_eq!(Some(now), live.facts(&store).digest());
    }
}
