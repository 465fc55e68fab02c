//! The operator's steady state with many GPU nodes, against the scenario mock API server: the
//! GPUPlan reconciled again, every node's labels looked at again, and one look of the facts
//! watch — with nothing changed since the last pass. It must write nothing; this measures its
//! CPU time and the process's peak memory, and how both grow with the number of nodes.
//!
//! Run: `cargo bench -p gpuplan --bench nodes` (500, 1,000, 2,000 and 5,000 nodes, each in a
//! fresh process, so that peak memory is that of one size). Under `cargo test` it runs once
//! with 50 nodes and checks that the steady pass writes nothing.

#![allow(missing_docs)] // A bench binary's items are not a library's.

#[path = "../tests/apply/mock.rs"]
#[allow(dead_code)] // The bench uses a part of the scenario server.
mod mock;

use std::process::Command;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gpuplan::controller::facts::Live;
use gpuplan::controller::kind::GPUPlan;
use gpuplan::controller::metrics::Metrics;
use gpuplan::controller::reconcile::{self, Context, Settings};
use k8s_openapi::api::core::v1::Node;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher::Event;
use mock::Server;
use serde_json::json;

const SIZES: [usize; 4] = [500, 1_000, 2_000, 5_000];

fn node(i: usize) -> Node {
    // Three OS images and two runtimes, as a cluster in the middle of a migration has them.
    let (os, version) = [("ubuntu", "22.04"), ("ubuntu", "24.04"), ("rhel", "9.4")][i % 3];
    let runtime = ["containerd://1.7.24", "cri-o://1.30.6"][i % 2];
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": format!("gpu-{i:05}"), "labels": {
            "feature.node.kubernetes.io/pci-10de.present": "true",
            "feature.node.kubernetes.io/system-os_release.ID": os,
            "feature.node.kubernetes.io/system-os_release.VERSION_ID": version,
            "kubernetes.io/hostname": format!("gpu-{i:05}"),
        }},
        "status": {"nodeInfo": {"containerRuntimeVersion": runtime, "osImage": "Linux", "kernelVersion": "6.1.0",
            "architecture": "amd64", "bootID": "b", "kubeProxyVersion": "v1.31.0", "kubeletVersion": "v1.31.0",
            "machineID": "m", "operatingSystem": "linux", "systemUUID": "s"}},
    }))
    .expect("a Node")
}

fn context(server: &Server, nodes: &[Node]) -> Arc<Context> {
    let client = server.client();
    let (relabel, _) = futures::channel::mpsc::unbounded();
    let (promote, _) = futures::channel::mpsc::unbounded();
    let mut writer = Writer::<Node>::default();
    writer.apply_watcher_event(&Event::Init);
    for node in nodes {
        writer.apply_watcher_event(&Event::InitApply(node.clone()));
    }
    writer.apply_watcher_event(&Event::InitDone);
    let settings = Settings {
        namespace: "gpu-operator".into(),
        kube_version: "1.31".into(),
        requeue_ready: Duration::from_secs(300),
        requeue_progressing: Duration::from_secs(10),
        requeue_failed: Duration::from_secs(15),
        uninstall_step: Duration::from_secs(5),
    };
    Arc::new(Context {
        client: client.clone(),
        settings,
        metrics: Arc::new(Metrics::default()),
        recorder: Recorder::new(client, Reporter { controller: "gpuplan-operator".into(), instance: None }),
        deploy: RwLock::new(None),
        relabel,
        promote,
        nodes: writer.as_reader(),
        live: Live::default(),
    })
}

fn gpuplan(server: &Server) -> Arc<GPUPlan> {
    let key = ("/apis/gpuplan.dev".to_owned(), "gpuplans".to_owned(), String::new(), "cluster".to_owned());
    let stored = server.with(|s| s.objects.get(&key).cloned()).unwrap_or_default();
    let object = json!({
        "apiVersion": "gpuplan.dev/v1alpha1", "kind": "GPUPlan",
        "metadata": {"name": "cluster", "generation": 1, "creationTimestamp": "2026-12-01T00:00:00Z", "uid": "uid-cluster",
                     "finalizers": stored["metadata"]["finalizers"]},
        "spec": {"operator": {"defaultRuntime": "containerd"}}, "status": stored["status"],
    });
    server.with(|s| s.objects.insert(key, object.clone()));
    Arc::new(serde_json::from_value(object).expect("a GPUPlan"))
}

/// The stored nodes, as the node watch delivers them.
fn stored_nodes(server: &Server) -> Vec<Arc<Node>> {
    server.with(|s| {
        s.objects
            .iter()
            .filter(|(k, _)| k.1 == "nodes")
            .map(|(_, o)| Arc::new(serde_json::from_value(o.clone()).expect("a Node")))
            .collect()
    })
}

fn cpu_seconds() -> f64 {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).expect("getrusage");
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    t(usage.user_time()) + t(usage.system_time())
}

fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// One size: install and label, then the steady pass; its figures as one line.
async fn scenario(count: usize) -> String {
    let server = Server::default();
    let nodes: Vec<Node> = (0..count).map(node).collect();
    server.with(|s| {
        for n in &nodes {
            let name = n.metadata.name.clone().unwrap_or_default();
            s.objects
                .insert(("/api".into(), "nodes".into(), String::new(), name), serde_json::to_value(n).expect("json"));
        }
    });
    let ctx = context(&server, &nodes);
    reconcile::reconcile(gpuplan(&server), ctx.clone()).await.expect("the first pass");
    reconcile::refresh_deploy(&ctx).await.expect("deploy labels");
    for n in stored_nodes(&server) {
        reconcile::reconcile_node(n, ctx.clone()).await.expect("labels");
    }
    let before_steady = peak_mib();

    // The steady state: nothing changed since.
    server.reset_calls();
    let nodes = stored_nodes(&server);
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    reconcile::reconcile(gpuplan(&server), ctx.clone()).await.expect("the GPUPlan again");
    let plan_cpu = cpu_seconds() - cpu;
    let cpu_nodes = cpu_seconds();
    for n in nodes {
        reconcile::reconcile_node(n, ctx.clone()).await.expect("labels again");
    }
    let nodes_cpu = cpu_seconds() - cpu_nodes;
    let cpu_look = cpu_seconds();
    let digest = ctx.live.facts(&ctx.nodes).digest();
    let look_cpu = cpu_seconds() - cpu_look;
    let (total, wall) = (cpu_seconds() - cpu, wall.elapsed());
    let writes: Vec<String> = server
        .calls()
        .iter()
        .filter(|c| c.writes() && !c.path.contains("/events"))
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert!(digest.is_some());
    assert_eq!(writes, Vec::<String>::new(), "{count} nodes: a steady pass writes nothing");
    format!(
        "{count:>6} nodes: steady pass {:>7.1} ms CPU ({:>6.1} wall): GPUPlan {:>6.1}, nodes {:>6.1}, one facts look {:>5.1}; peak {:>6.1} MiB ({:>6.1} before the pass); 0 writes",
        total * 1000.0,
        wall.as_secs_f64() * 1000.0,
        plan_cpu * 1000.0,
        nodes_cpu * 1000.0,
        look_cpu * 1000.0,
        peak_mib(),
        before_steady,
    )
}

fn main() {
    let runtime = || tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    if let Some(count) = std::env::var("GPUPLAN_BENCH_NODES").ok().and_then(|n| n.parse().ok()) {
        println!("{}", runtime().block_on(scenario(count)));
        return;
    }
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test` runs benches once, as a check.
        println!("{}", runtime().block_on(scenario(50)));
        return;
    }
    let me = std::env::current_exe().expect("the bench binary");
    for count in SIZES {
        let out = Command::new(&me).env("GPUPLAN_BENCH_NODES", count.to_string()).output().expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}
