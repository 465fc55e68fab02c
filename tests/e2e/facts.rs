//! `gpuplan facts` against the test API server (`kube_server.rs`, a server of its own: Nodes
//! and CRDs are cluster-scoped): given GPU nodes on two operating systems and a node without a
//! GPU, the snapshot names every node with the labels and runtime gpuplan reads, the server's
//! version and the APIs it serves — a ServiceMonitor's API once its CRD is installed — and a
//! plan rendered offline from the snapshot is the plan for that cluster: one driver DaemonSet
//! per GPU node OS, the ServiceMonitor only when its API is served.

use std::path::Path;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use super::cluster::{Run, gpuplan, install_crd, service_monitor_crd};
use super::kube_server::KubeServer;

/// A Node with these labels, and a status saying which runtime and OS image it runs.
async fn add_node(client: &kube::Client, name: &str, labels: serde_json::Value, runtime: &str) {
    let api: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
    }))
    .expect("a Node");
    api.create(&PostParams::default(), &node).await.expect("create the Node");
    let status = json!({
        "apiVersion": "v1", "kind": "Node",
        "status": {"nodeInfo": {
            "containerRuntimeVersion": runtime, "osImage": "Linux", "kernelVersion": "6.1.0",
            "architecture": "amd64", "machineID": "m", "systemUUID": "s", "bootID": "b",
            "kubeletVersion": "v1.31.0", "kubeProxyVersion": "v1.31.0", "operatingSystem": "linux",
        }},
    });
    api.patch_status(name, &PatchParams::apply("test").force(), &Patch::Apply(&status)).await.expect("node status");
}

async fn facts(kubeconfig: &Path) -> Run {
    let run = gpuplan(vec!["facts".into(), "--kubeconfig".into(), kubeconfig.display().to_string()]).await;
    assert_eq!(run.code, Some(0), "{run}");
    run
}

async fn template(snapshot: &Path) -> String {
    let run = gpuplan(vec!["template".into(), "--facts".into(), snapshot.display().to_string()]).await;
    assert_eq!(run.code, Some(0), "{run}");
    run.stdout
}

#[tokio::test]
async fn given_a_live_cluster_facts_snapshots_it_and_the_offline_plan_is_for_that_cluster() {
    let Some(server) = KubeServer::private() else { return };
    let client = server.client().await;
    let gpu = |os: &str, version: &str| {
        json!({
            "feature.node.kubernetes.io/pci-10de.present": "true",
            "feature.node.kubernetes.io/system-os_release.ID": os,
            "feature.node.kubernetes.io/system-os_release.VERSION_ID": version,
            "team": "ml",
        })
    };
    add_node(&client, "gpu-b", gpu("ubuntu", "22.04"), "containerd://1.7.24").await;
    add_node(&client, "gpu-a", gpu("rhel", "9.4"), "containerd://1.7.24").await;
    add_node(&client, "cpu-1", json!({"kubernetes.io/arch": "amd64"}), "cri-o://1.30.6").await;

    let run = facts(&server.kubeconfig()).await;
    let snapshot: serde_json::Value = parsed(&run.stdout);
    assert_eq!(snapshot["kind"], "Facts", "{run}");
    let names: Vec<&str> =
        snapshot["nodes"].as_array().expect("nodes").iter().map(|n| n["name"].as_str().expect("name")).collect();
    assert_eq!(names, ["cpu-1", "gpu-a", "gpu-b"], "every node, sorted");
    let gpu_b = &snapshot["nodes"][2];
    assert_eq!(gpu_b["containerRuntimeVersion"], "containerd://1.7.24");
    assert_eq!(gpu_b["labels"]["feature.node.kubernetes.io/system-os_release.VERSION_ID"], "22.04");
    assert!(gpu_b["labels"].get("team").is_none(), "labels gpuplan does not read are left out: {gpu_b}");
    assert!(snapshot["kubeVersion"].as_str().is_some_and(|v| v.starts_with("v1.")), "{run}");
    let served = |snapshot: &serde_json::Value, gv: &str| {
        snapshot["apiVersions"].as_array().expect("apiVersions").iter().any(|v| v == gv)
    };
    assert!(served(&snapshot, "v1") && served(&snapshot, "apps/v1"), "{run}");
    assert!(!served(&snapshot, "monitoring.coreos.com/v1"), "{run}");

    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("facts.yaml");
    std::fs::write(&file, &run.stdout).expect("write the snapshot");
    let plan = template(&file).await;
    assert!(plan.contains("name: nvidia-driver-daemonset-rhel9.4\n"), "one driver DaemonSet per GPU node OS");
    assert!(plan.contains("name: nvidia-driver-daemonset-ubuntu22.04\n"));
    assert!(!plan.contains("kind: ServiceMonitor"), "monitoring.coreos.com/v1 is not served");

    // The Prometheus operator's CRD makes its API served, and the snapshot says so.
    install_crd(&client, &service_monitor_crd()).await;
    let run = facts(&server.kubeconfig()).await;
    assert!(served(&parsed(&run.stdout), "monitoring.coreos.com/v1"), "{run}");
    std::fs::write(&file, &run.stdout).expect("write the snapshot");
    assert!(template(&file).await.contains("kind: ServiceMonitor"));
}

#[tokio::test]
async fn given_no_cluster_facts_fails_naming_the_connection() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:9\n\
         contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n",
    )
    .expect("write the kubeconfig");
    let run = gpuplan(vec!["facts".into(), "--kubeconfig".into(), kubeconfig.display().to_string()]).await;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("version"), "{run}");
    assert!(run.stdout.is_empty(), "{run}");
}

/// The snapshot as JSON, read back as `--facts` reads it.
fn parsed(text: &str) -> serde_json::Value {
    let facts = gpuplan_compiler::facts::read("snapshot", text).expect("the snapshot reads back");
    serde_json::from_str(&facts.to_json()).expect("JSON")
}
