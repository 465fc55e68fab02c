//! The operator keeps the cluster's facts live, against the test API server (a server of the
//! test's own; the test plays the DaemonSet and Deployment controllers, `cluster.rs`).
//!
//! Given GPU nodes on Ubuntu with containerd and on RHEL with CRI-O (NFD's labels, the
//! kubelet's `nodeInfo`) and a cluster without the Prometheus Operator, a GPUPlan with the
//! seed's values is applied as a driver DaemonSet per OS and a node agent per runtime, without
//! ServiceMonitors; every GPU node is labelled with its runtime; and a node joining with a new
//! OS adds its driver DaemonSet, which the GPUPlan's status lists, with the new facts' digest.

use std::time::Duration;

use gpuplan::controller::kind::GPUPlan;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use super::cluster::{Controllers, eventually};
use super::kube_server::KubeServer;
use super::operator_real::{Operator, gpuplan_object, labels, seed_spec, until_condition};

const WITHIN: Duration = Duration::from_secs(120);

async fn add_gpu_node(nodes: &Api<Node>, name: &str, os: (&str, &str), runtime: &str) {
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {
        "feature.node.kubernetes.io/pci-10de.present": "true",
        "feature.node.kubernetes.io/system-os_release.ID": os.0,
        "feature.node.kubernetes.io/system-os_release.VERSION_ID": os.1,
    }}});
    nodes.create(&PostParams::default(), &serde_json::from_value(node).expect("a Node")).await.expect("created");
    let status = json!({"apiVersion": "v1", "kind": "Node", "status": {"nodeInfo": {
        "containerRuntimeVersion": runtime, "osImage": "Linux", "kernelVersion": "6.1.0", "architecture": "amd64",
        "machineID": "m", "systemUUID": "s", "bootID": "b", "kubeletVersion": "v1.31.0", "kubeProxyVersion": "v1.31.0",
        "operatingSystem": "linux"}}});
    nodes.patch_status(name, &PatchParams::apply("kubelet").force(), &Patch::Apply(&status)).await.expect("status");
}

#[tokio::test]
async fn the_operator_compiles_for_the_live_facts_and_again_when_a_node_with_a_new_os_joins() {
    let Some(server) = KubeServer::private() else { return };
    let client = server.client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    add_gpu_node(&nodes, "gpu-ubuntu", ("ubuntu", "22.04"), "containerd://1.7.24").await;
    add_gpu_node(&nodes, "gpu-rhel", ("rhel", "9.4"), "cri-o://1.30.6").await;
    super::cluster::install_crd(&client, &gpuplan_compiler::schema::crd()).await;

    let operator = Operator::start(&server, "operator-a");
    let controllers = Controllers::start(&client);
    let plans: Api<GPUPlan> = Api::all(client.clone());
    let apply = PatchParams::apply("gpuplan-test");
    plans.patch("cluster", &apply, &Patch::Apply(gpuplan_object("cluster", seed_spec()))).await.expect("a GPUPlan");
    let status = until_condition(&plans, "cluster", "Ready", "True", "Applied").await;
    let expected = [
        "nvidia-container-toolkit-daemonset-containerd",
        "nvidia-container-toolkit-daemonset-crio",
        "nvidia-driver-daemonset-rhel9.4",
        "nvidia-driver-daemonset-ubuntu22.04",
    ];
    for ds in expected {
        assert!(status.daemon_sets.iter().any(|d| d == ds), "{ds}: {:?}", status.daemon_sets);
    }
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), "gpu-operator");
    let crio = daemon_sets.get("nvidia-container-toolkit-daemonset-crio").await.expect("CRI-O's agent");
    let selector = crio.spec.template.spec.and_then(|s| s.node_selector).unwrap_or_default();
    assert_eq!(selector.get("gpuplan.dev/container-runtime").map(String::as_str), Some("crio"));
    assert!(daemon_sets.get_opt("nvidia-dcgm-exporter").await.expect("reads").is_some());
    let monitors = Api::<kube::api::DynamicObject>::namespaced_with(
        client.clone(),
        "gpu-operator",
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"),
            "servicemonitors",
        ),
    );
    assert!(monitors.list(&Default::default()).await.is_err(), "no ServiceMonitor API, none applied");

    // Every GPU node carries its runtime, which the agents select by.
    for (node, runtime) in [("gpu-ubuntu", "containerd"), ("gpu-rhel", "crio")] {
        eventually(WITHIN, &format!("{node} labelled {runtime}"), || async {
            let l = labels(&nodes, node).await;
            (l.get("gpuplan.dev/container-runtime").map(String::as_str) == Some(runtime)).then_some(())
        })
        .await;
    }

    // A node with a new OS joins: nothing else sets off a reconcile of the applied plan (no
    // object of its changed), so the facts watch must see it; the driver DaemonSet is added and
    // the status says so.
    // Wait until the operator is idle (no reconcile for 3 s: the test's controllers have
    // settled every status), so that only the facts watch can notice the new node.
    let mut last = (operator.metric("gpuplan_reconciles_total"), std::time::Instant::now());
    eventually(WITHIN, "the operator idle", || {
        let now = operator.metric("gpuplan_reconciles_total");
        if now != last.0 {
            last = (now, std::time::Instant::now());
        }
        let idle = last.1.elapsed() >= Duration::from_secs(3);
        async move { idle.then_some(()) }
    })
    .await;
    let before = status.facts_digest.clone();
    let changes = operator.metric("gpuplan_facts_changes_total").expect("the metrics page");
    add_gpu_node(&nodes, "gpu-rocky", ("rocky", "9.5"), "containerd://2.1.0").await;
    let status = eventually(WITHIN, "the driver DaemonSet for Rocky 9.5", || async {
        let s = plans.get("cluster").await.ok()?.status?;
        s.daemon_sets.iter().any(|d| d == "nvidia-driver-daemonset-rocky9.5").then_some(s)
    })
    .await;
    assert_ne!(status.facts_digest, before);
    eventually(WITHIN, "the facts watch counts the change", || async {
        operator.metric("gpuplan_facts_changes_total").filter(|n| *n > changes)
    })
    .await;
    eventually(WITHIN, "the DaemonSet applied", || async {
        daemon_sets.get_opt("nvidia-driver-daemonset-rocky9.5").await.ok()?.map(|_| ())
    })
    .await;
    drop(controllers);
    let (code, log) = operator.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("the cluster's facts changed: compiling the plan again"), "{log}");
}
