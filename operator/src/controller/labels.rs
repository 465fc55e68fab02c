//! GPU node labels, as the upstream operator's NodeLabeling controller sets them.
//!
//! Input: a node's labels and the deploy labels the plan's DaemonSets select on
//! (`nvidia.com/gpu.deploy.<component>`). Output: the label changes for that node (set or
//! remove), empty when it is labelled right — so an unchanged node costs no write.
//! - `nvidia.com/gpu.present=true` when NFD found an NVIDIA PCI device (vendor 10de), `false`
//!   when it no longer does (only if the label was there);
//! - each deploy label of the plan `true` on GPU nodes — except a value someone set (`false`
//!   pauses a component on a node, as k8s-driver-manager does during driver reloads), and
//!   `mig-manager` only on MIG-capable nodes;
//! - `nvidia.com/gpu.deploy.operands=false` strips every deploy label from the node;
//! - a deploy label gpuplan would have set (`true`) for a component the plan no longer has, or
//!   on a node without a GPU, is removed;
//! - [`RUNTIME`] (`gpuplan.dev/container-runtime`) names the container runtime a GPU node runs,
//!   from its `nodeInfo.containerRuntimeVersion`: a plan for GPU nodes on several runtimes
//!   selects each runtime's node agent by it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as J;

/// Set on nodes with an NVIDIA GPU.
pub const GPU_PRESENT: &str = "nvidia.com/gpu.present";
/// The container runtime of a GPU node (`containerd`, `crio`, `docker`).
pub const RUNTIME: &str = gpuplan_compiler::facts::RUNTIME_LABEL;
/// The prefix of the per-component deploy labels.
pub const DEPLOY_PREFIX: &str = "nvidia.com/gpu.deploy.";
/// `false` strips all deploy labels.
pub const OPERANDS: &str = "nvidia.com/gpu.deploy.operands";
/// NFD's labels for an NVIDIA PCI device (any class, 3D controller, VGA controller).
const NFD_NVIDIA: [&str; 3] = [
    "feature.node.kubernetes.io/pci-10de.present",
    "feature.node.kubernetes.io/pci-0302_10de.present",
    "feature.node.kubernetes.io/pci-0300_10de.present",
];
const MIG_MANAGER: &str = "nvidia.com/gpu.deploy.mig-manager";
const MIG_CAPABLE: &str = "nvidia.com/mig.capable";
const PRODUCT: &str = "nvidia.com/gpu.product";
/// GPUs that support MIG, by product name.
const MIG_PRODUCTS: [&str; 6] = ["A100", "A30", "H100", "H200", "H20", "B200"];

/// The deploy labels the DaemonSets among `objects` select nodes by.
pub fn deploy_labels<'a>(objects: impl IntoIterator<Item = &'a J>) -> BTreeSet<String> {
    objects
        .into_iter()
        .filter(|o| o["kind"] == "DaemonSet")
        .flat_map(|o| o["spec"]["template"]["spec"]["nodeSelector"].as_object().into_iter().flatten())
        .map(|(k, _)| k)
        .filter(|k| k.starts_with(DEPLOY_PREFIX) && *k != OPERANDS)
        .cloned()
        .collect()
}

/// Whether NFD found an NVIDIA GPU on the node.
pub fn has_gpu(labels: &BTreeMap<String, String>) -> bool {
    NFD_NVIDIA.iter().any(|l| labels.get(*l).is_some_and(|v| v == "true"))
}

fn mig_capable(labels: &BTreeMap<String, String>) -> bool {
    labels.get(MIG_CAPABLE).is_some_and(|v| v == "true")
        || labels.get(PRODUCT).is_some_and(|p| MIG_PRODUCTS.iter().any(|m| p.contains(m)))
}

/// The changes to one node's labels: `Some(value)` sets, `None` removes.
pub fn changes(labels: &BTreeMap<String, String>, deploy: &BTreeSet<String>) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    let gpu = has_gpu(labels);
    match labels.get(GPU_PRESENT).map(String::as_str) {
        Some("true") if !gpu => {
            out.insert(GPU_PRESENT.into(), Some("false".into()));
        }
        Some("true") => {}
        _ if gpu => {
            out.insert(GPU_PRESENT.into(), Some("true".into()));
        }
        _ => {}
    }
    let operands_off = labels.get(OPERANDS).is_some_and(|v| v == "false");
    let existing = labels.keys().filter(|k| k.starts_with(DEPLOY_PREFIX) && *k != OPERANDS);
    for key in existing.chain(deploy).collect::<BTreeSet<_>>() {
        let current = labels.get(key).map(String::as_str);
        let wanted = gpu && deploy.contains(key) && (key != MIG_MANAGER || mig_capable(labels));
        if operands_off {
            if current.is_some() {
                out.insert(key.clone(), None);
            }
        } else if wanted {
            if current.is_none_or(str::is_empty) {
                out.insert(key.clone(), Some("true".into()));
            }
        } else if current == Some("true") {
            out.insert(key.clone(), None);
        }
    }
    out
}

/// The change to a node's [`RUNTIME`] label for the runtime it reports
/// (`containerd://1.7.24`): set on a GPU node to the runtime's name; removed when the runtime is
/// one gpuplan does not know; left alone on other nodes.
pub fn runtime(labels: &BTreeMap<String, String>, container_runtime_version: &str) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    if !has_gpu(labels) {
        return out;
    }
    let wanted = gpuplan_compiler::facts::runtime_of(container_runtime_version).map(|r| r.name().to_owned());
    if labels.get(RUNTIME) != wanted.as_ref() && (wanted.is_some() || labels.contains_key(RUNTIME)) {
        out.insert(RUNTIME.to_owned(), wanted);
    }
    out
}

/// The merge patch for `changes` (`null` removes a label).
pub fn patch(changes: &BTreeMap<String, Option<String>>) -> J {
    let labels: serde_json::Map<String, J> =
        changes.iter().map(|(k, v)| (k.clone(), v.as_ref().map_or(J::Null, |v| J::String(v.clone())))).collect();
    serde_json::json!({"metadata": {"labels": labels}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn deploy(components: &[&str]) -> BTreeSet<String> {
        components.iter().map(|c| format!("{DEPLOY_PREFIX}{c}")).collect()
    }

    fn set(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned))).collect()
    }

    const NVIDIA: (&str, &str) = ("feature.node.kubernetes.io/pci-10de.present", "true");

    #[test]
    fn given_a_new_gpu_node_it_gets_present_and_every_deploy_label() {
        let changes = changes(&labels(&[NVIDIA]), &deploy(&["driver", "device-plugin", "mig-manager"]));
        assert_eq!(
            changes,
            set(&[
                (GPU_PRESENT, Some("true")),
                ("nvidia.com/gpu.deploy.device-plugin", Some("true")),
                ("nvidia.com/gpu.deploy.driver", Some("true")),
            ]),
            "mig-manager only on MIG-capable nodes"
        );
    }

    #[test]
    fn given_a_labelled_node_nothing_changes_and_a_false_is_respected() {
        let node = labels(&[
            NVIDIA,
            (GPU_PRESENT, "true"),
            ("nvidia.com/gpu.deploy.driver", "false"),
            ("nvidia.com/gpu.deploy.device-plugin", "true"),
        ]);
        assert_eq!(changes(&node, &deploy(&["driver", "device-plugin"])), BTreeMap::new());
    }

    #[test]
    fn given_operands_false_every_deploy_label_goes() {
        let node = labels(&[
            NVIDIA,
            (GPU_PRESENT, "true"),
            (OPERANDS, "false"),
            ("nvidia.com/gpu.deploy.driver", "false"),
            ("nvidia.com/gpu.deploy.device-plugin", "true"),
        ]);
        let expected = set(&[("nvidia.com/gpu.deploy.device-plugin", None), ("nvidia.com/gpu.deploy.driver", None)]);
        assert_eq!(changes(&node, &deploy(&["driver", "device-plugin"])), expected);
    }

    #[test]
    fn given_a_gpu_gone_or_a_component_disabled_its_labels_go() {
        let node = labels(&[(GPU_PRESENT, "true"), ("nvidia.com/gpu.deploy.driver", "true")]);
        assert_eq!(
            changes(&node, &deploy(&["driver"])),
            set(&[(GPU_PRESENT, Some("false")), ("nvidia.com/gpu.deploy.driver", None)])
        );
        let node = labels(&[NVIDIA, (GPU_PRESENT, "true"), ("nvidia.com/gpu.deploy.dcgm-exporter", "true")]);
        assert_eq!(changes(&node, &deploy(&[])), set(&[("nvidia.com/gpu.deploy.dcgm-exporter", None)]));
        assert_eq!(changes(&labels(&[("kubernetes.io/os", "linux")]), &deploy(&["driver"])), BTreeMap::new());
    }

    #[test]
    fn given_a_mig_capable_node_mig_manager_is_deployed() {
        let node = labels(&[NVIDIA, (GPU_PRESENT, "true"), (PRODUCT, "NVIDIA-H100-80GB-HBM3")]);
        assert_eq!(changes(&node, &deploy(&["mig-manager"])), set(&[(MIG_MANAGER, Some("true"))]));
    }

    #[test]
    fn given_a_gpu_nodes_runtime_it_is_labelled_once_and_kept_right() {
        let node = labels(&[NVIDIA]);
        assert_eq!(runtime(&node, "cri-o://1.30.6"), set(&[(RUNTIME, Some("crio"))]));
        let labelled = labels(&[NVIDIA, (RUNTIME, "crio")]);
        assert_eq!(runtime(&labelled, "cri-o://1.30.6"), BTreeMap::new(), "nothing to write");
        assert_eq!(runtime(&labelled, "containerd://2.1.0"), set(&[(RUNTIME, Some("containerd"))]), "migrated");
        assert_eq!(runtime(&labelled, "rkt://1.0"), set(&[(RUNTIME, None)]), "unknown: no agent selects it");
        assert_eq!(runtime(&labels(&[NVIDIA]), ""), BTreeMap::new());
        assert_eq!(runtime(&labels(&[]), "docker://27.3.1"), BTreeMap::new(), "not a GPU node");
    }

    #[test]
    fn given_a_plan_the_deploy_labels_come_from_its_daemonsets() {
        let ds = serde_json::json!({"kind": "DaemonSet", "spec": {"template": {"spec": {"nodeSelector": {"nvidia.com/gpu.deploy.dcgm": "true", "kubernetes.io/os": "linux"}}}}});
        let cm = serde_json::json!({"kind": "ConfigMap"});
        assert_eq!(deploy_labels([&ds, &cm]), deploy(&["dcgm"]));
    }
}
