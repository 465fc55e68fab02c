//! The cluster's facts: what the upstream GPU Operator reads from the cluster at run time, given
//! to the pure compiler as an input so that the plan stays deterministic and reviewable.
//!
//! Input: a facts file's text ([`read`]: `kubectl get nodes -o yaml|json`, or gpuplan's own
//! snapshot, `kind: Facts`), `--api-versions` and `--kube-version`, or what the operator sees
//! live. Output: [`Facts`] — the Kubernetes version, the served API group/versions, and per node
//! its name, the labels that matter and `status.nodeInfo` — with what the plan asks of them: the
//! GPU nodes (as upstream counts them), their operating systems and container runtimes, whether
//! an optional API is served, and a digest the plan records.
//!
//! Only the labels gpuplan reads are kept (NFD's PCI, OS release and kernel labels, `nvidia.com/`
//! and `gpuplan.dev/` labels, the architecture), so a snapshot is short enough to review and a
//! label unrelated to GPUs changes neither the plan nor its digest. Nodes are kept sorted by name:
//! the order of a file never matters.

mod check;
mod read;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use check::{HOW, check};
pub use read::{node, read};

use crate::node::RuntimeKind;

/// The snapshot format's `apiVersion` and `kind`.
pub const API_VERSION: &str = "gpuplan.dev/v1alpha1";
/// See [`API_VERSION`].
pub const KIND: &str = "Facts";

/// NFD's label for the OS release ID (`ubuntu`, `rhel`, `rhcos`).
pub const OS_ID: &str = "feature.node.kubernetes.io/system-os_release.ID";
/// NFD's label for the OS release version (`22.04`, `9.4`).
pub const OS_VERSION_ID: &str = "feature.node.kubernetes.io/system-os_release.VERSION_ID";
/// NFD's label for the full kernel version (`5.15.0-91-generic`).
pub const KERNEL: &str = "feature.node.kubernetes.io/kernel-version.full";
/// The label the operator keeps from a node's `containerRuntimeVersion` (`containerd`,
/// `crio`, `docker`), which the per-runtime node-agent DaemonSets select on.
pub const RUNTIME_LABEL: &str = "gpuplan.dev/container-runtime";
/// The label upstream sets on GPU nodes.
pub const GPU_PRESENT: &str = "nvidia.com/gpu.present";
/// NFD's PCI labels for NVIDIA's vendor ID on any device, display controllers and 3D
/// controllers: a node with one of them is a GPU node.
pub const NVIDIA_PCI: [&str; 3] = [
    "feature.node.kubernetes.io/pci-10de.present",
    "feature.node.kubernetes.io/pci-0300_10de.present",
    "feature.node.kubernetes.io/pci-0302_10de.present",
];

/// The prefix of the deploy labels the operator sets on GPU nodes from the plan: not facts (a
/// plan that changed them would be compiled again for having changed them).
const DEPLOY_PREFIX: &str = "nvidia.com/gpu.deploy.";

/// The label prefixes (and names) a snapshot keeps; of them, the labels the operator derives
/// from the plan or from `nodeInfo` ([`DEPLOY_PREFIX`], [`RUNTIME_LABEL`]) go.
const KEPT_LABELS: [&str; 6] = [
    "feature.node.kubernetes.io/pci-",
    "feature.node.kubernetes.io/system-os_release.",
    "feature.node.kubernetes.io/kernel-version.",
    "nvidia.com/",
    "gpuplan.dev/",
    "kubernetes.io/arch",
];

/// What gpuplan knows about a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    /// The Kubernetes version (`v1.31.2`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// The API group/versions the cluster serves (`apps/v1`, `monitoring.coreos.com/v1`), when
    /// known; `None`: not given (a `kubectl get nodes` file carries no discovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_versions: Option<BTreeSet<String>>,
    /// The nodes, sorted by name; `None`: not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<NodeFacts>>,
}

/// API groups a cluster may not serve, whose objects the plan leaves out where the facts say
/// so (as upstream skips ServiceMonitors without the Prometheus Operator's CRD): the only
/// served APIs the plan depends on.
pub const OPTIONAL_APIS: [&str; 1] = ["monitoring.coreos.com/"];

/// One node.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeFacts {
    /// `metadata.name`.
    pub name: String,
    /// The labels gpuplan reads.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `status.nodeInfo.containerRuntimeVersion` (`containerd://1.7.24`).
    #[serde(default)]
    pub container_runtime_version: String,
    /// `status.nodeInfo.osImage`.
    #[serde(default)]
    pub os_image: String,
    /// `status.nodeInfo.kernelVersion`.
    #[serde(default)]
    pub kernel_version: String,
    /// `status.nodeInfo.architecture`.
    #[serde(default)]
    pub architecture: String,
}

/// A node's operating system as upstream names driver images: NFD's `os_release` ID and
/// VERSION_ID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Os {
    /// `ubuntu`, `rhel`, `rhcos`, ...
    pub id: String,
    /// `22.04`, `9.4`, `4.16`, ...
    pub version_id: String,
}

impl Os {
    /// The driver image tag suffix: `<ID><VERSION_ID>` (`ubuntu22.04`).
    pub fn tag(&self) -> String {
        format!("{}{}", self.id, self.version_id)
    }
}

impl NodeFacts {
    /// Whether upstream counts it as a GPU node: an NFD PCI label for NVIDIA's vendor ID, or
    /// `nvidia.com/gpu.present=true`.
    pub fn is_gpu(&self) -> bool {
        let yes = |key: &str| self.labels.get(key).is_some_and(|v| v == "true");
        NVIDIA_PCI.iter().any(|k| yes(k)) || yes(GPU_PRESENT)
    }

    /// The container runtime, from `containerRuntimeVersion`'s scheme.
    pub fn runtime(&self) -> Option<RuntimeKind> {
        runtime_of(&self.container_runtime_version)
    }

    /// The OS, from NFD's labels.
    pub fn os(&self) -> Option<Os> {
        Some(Os { id: self.labels.get(OS_ID)?.clone(), version_id: self.labels.get(OS_VERSION_ID)?.clone() })
    }

    /// The full kernel version: NFD's label, else `nodeInfo.kernelVersion`.
    pub fn kernel(&self) -> Option<&str> {
        self.labels.get(KERNEL).map(String::as_str).or(Some(self.kernel_version.as_str()).filter(|k| !k.is_empty()))
    }

    /// The node with only the labels gpuplan reads.
    fn trimmed(mut self) -> NodeFacts {
        self.labels.retain(|k, _| {
            KEPT_LABELS.iter().any(|p| k.starts_with(p)) && !k.starts_with(DEPLOY_PREFIX) && k != RUNTIME_LABEL
        });
        self
    }
}

/// The runtime a `containerRuntimeVersion` names (`containerd://`, `cri-o://`, `docker://`).
pub fn runtime_of(version: &str) -> Option<RuntimeKind> {
    match version.split_once("://")?.0 {
        "containerd" => Some(RuntimeKind::Containerd),
        "cri-o" => Some(RuntimeKind::Crio),
        "docker" => Some(RuntimeKind::Docker),
        _ => None,
    }
}

impl Facts {
    /// Facts with these nodes (trimmed to the labels gpuplan reads, sorted by name).
    pub fn with_nodes(mut self, nodes: Vec<NodeFacts>) -> Facts {
        let mut nodes: Vec<NodeFacts> = nodes.into_iter().map(NodeFacts::trimmed).collect();
        nodes.sort();
        self.nodes = Some(nodes);
        self
    }

    /// Whether any fact is known.
    pub fn is_empty(&self) -> bool {
        self == &Facts::default()
    }

    /// The GPU nodes (none when nodes are not known).
    pub fn gpu_nodes(&self) -> impl Iterator<Item = &NodeFacts> {
        self.nodes.iter().flatten().filter(|n| n.is_gpu())
    }

    /// The operating systems of the GPU nodes, when nodes are known; GPU nodes NFD has not
    /// labelled yet count for none.
    pub fn gpu_os(&self) -> Option<BTreeSet<Os>> {
        self.nodes.as_ref()?;
        Some(self.gpu_nodes().filter_map(NodeFacts::os).collect())
    }

    /// The container runtimes of the GPU nodes, when nodes are known.
    pub fn gpu_runtimes(&self) -> Option<BTreeSet<RuntimeKind>> {
        self.nodes.as_ref()?;
        Some(self.gpu_nodes().filter_map(NodeFacts::runtime).collect())
    }

    /// Whether the cluster serves `group_version` (`monitoring.coreos.com/v1`); `None` when the
    /// served APIs are not known.
    pub fn serves(&self, group_version: &str) -> Option<bool> {
        self.api_versions.as_ref().map(|set| set.contains(group_version))
    }

    /// `sha256:` of the canonical JSON of the facts the compiler reads; `None` when there are
    /// none. Of the served APIs only the [`OPTIONAL_APIS`] count: installing a release serves
    /// the APIs of its own CRDs (NFD's, gpuplan's), and the plan made before must still be the
    /// plan for the cluster after.
    pub fn digest(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let read = Facts {
            api_versions: self.api_versions.as_ref().map(|served| {
                served.iter().filter(|gv| OPTIONAL_APIS.iter().any(|g| gv.starts_with(g))).cloned().collect()
            }),
            ..self.clone()
        };
        // Serialising plain strings and maps cannot fail.
        Some(crate::plan::sha256(&serde_json::to_string(&read).unwrap_or_default()))
    }

    /// gpuplan's snapshot of the facts, as YAML: `apiVersion`, `kind`, then the facts.
    pub fn to_yaml(&self) -> String {
        crate::values::print::json_to_yaml(&self.snapshot())
    }

    /// The snapshot as indented JSON (also a facts file: JSON is YAML).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.snapshot()).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The snapshot's object: `apiVersion`, `kind`, then the facts.
    fn snapshot(&self) -> serde_json::Value {
        // Serialising plain strings and maps cannot fail.
        let json = serde_json::to_value(self).unwrap_or_default();
        let mut ordered = serde_json::Map::new();
        ordered.insert("apiVersion".into(), API_VERSION.into());
        ordered.insert("kind".into(), KIND.into());
        if let serde_json::Value::Object(map) = json {
            ordered.extend(map);
        }
        serde_json::Value::Object(ordered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, labels: &[(&str, &str)], runtime: &str) -> NodeFacts {
        NodeFacts {
            name: name.into(),
            labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            container_runtime_version: runtime.into(),
            ..NodeFacts::default()
        }
    }

    #[test]
    fn given_more_served_apis_only_the_optional_ones_move_the_digest() {
        let served = |apis: &[&str]| Facts {
            api_versions: Some(apis.iter().map(|a| (*a).to_owned()).collect()),
            ..Facts::default()
        };
        let before = served(&["v1", "apps/v1"]).digest();
        assert_eq!(served(&["v1", "apps/v1", "nfd.k8s-sigs.io/v1alpha1"]).digest(), before, "a CRD of the release");
        assert_ne!(served(&["v1", "apps/v1", "monitoring.coreos.com/v1"]).digest(), before, "ServiceMonitors served");
    }

    #[test]
    fn given_nodes_the_gpu_ones_their_os_and_runtimes_are_read() {
        let facts = Facts::default().with_nodes(vec![
            node("b", &[(NVIDIA_PCI[0], "true"), (OS_ID, "rhel"), (OS_VERSION_ID, "9.4")], "cri-o://1.30.6"),
            node("a", &[(GPU_PRESENT, "true"), (OS_ID, "ubuntu"), (OS_VERSION_ID, "22.04")], "containerd://1.7.24"),
            node(
                "c",
                &[
                    (OS_ID, "ubuntu"),
                    (OS_VERSION_ID, "24.04"),
                    ("team", "web"),
                    ("nvidia.com/gpu.deploy.driver", "true"),
                ],
                "docker://27.3.1",
            ),
        ]);
        let names: Vec<&str> = facts.gpu_nodes().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b"], "sorted by name; c has no GPU");
        let tags: Vec<String> = facts.gpu_os().expect("known").iter().map(Os::tag).collect();
        assert_eq!(tags, ["rhel9.4", "ubuntu22.04"]);
        let runtimes: Vec<RuntimeKind> = facts.gpu_runtimes().expect("known").into_iter().collect();
        assert_eq!(runtimes, [RuntimeKind::Containerd, RuntimeKind::Crio]);
        let c = &facts.nodes.as_ref().expect("nodes")[2].labels;
        assert!(!c.contains_key("team"), "unrelated labels go");
        assert!(!c.contains_key("nvidia.com/gpu.deploy.driver"), "the operator's own labels go too");
        assert!(c.contains_key(OS_ID));
        assert_eq!(facts.serves("monitoring.coreos.com/v1"), None);
        assert!(facts.digest().is_some_and(|d| d.starts_with("sha256:")));
        assert_eq!(Facts::default().digest(), None);
    }
}
