//! `gpuplan operator` end to end: the real binary, as processes with `--kubeconfig`, against the
//! test API server (`kube_server.rs`, a server of the test's own), with leader election on.
//!
//! Given GPU and CPU Node objects the test creates and the test playing the DaemonSet and
//! Deployment controllers (`cluster.rs`): an operator started before the GPUPlan CRD exists
//! warns and is not ready, saying why, until the CRD is installed; two operators elect one
//! leader through a real Lease, and SIGTERM hands it to the other; a GPUPlan with the seed's
//! values is reconciled stage by stage to `Ready`; the GPU node gets `nvidia.com/gpu.present`
//! and the plan's deploy labels, the CPU node none; an edit by hand of an owned ConfigMap is put
//! back; a spec the compiler rejects is `Degraded` while the last good plan stays `Ready`; a
//! younger GPUPlan is `Ignored` until the active one is deleted; deleting the active GPUPlan
//! uninstalls its release (the node revert DaemonSet first), after which the younger one is
//! promoted; and deleting that one leaves nothing behind.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gpuplan::controller::kind::{GPUPlan, GPUPlanStatus};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value as J, json};

use super::cluster::{Controllers, SEED, eventually, install_crd, service_monitor_crd};
use super::kube_server::KubeServer;

const NAMESPACE: &str = "gpu-operator";
const WITHIN: Duration = Duration::from_secs(120);

/// The seed's values as a GPUPlan spec.
pub fn seed_spec() -> J {
    let env: Vec<J> = SEED
        .iter()
        .filter_map(|s| s.strip_prefix("toolkit.env["))
        .collect::<Vec<_>>()
        .chunks(2)
        .map(|pair| {
            let value = |s: &str| s.split_once('=').map(|(_, v)| v.to_owned()).unwrap_or_default();
            json!({"name": value(pair[0]), "value": value(pair[1])})
        })
        .collect();
    json!({"operator": {"defaultRuntime": "containerd"}, "toolkit": {"env": env}})
}

pub fn gpuplan_object(name: &str, spec: J) -> J {
    json!({"apiVersion": "gpuplan.dev/v1alpha1", "kind": "GPUPlan", "metadata": {"name": name}, "spec": spec})
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// `GET path` on the operator's HTTP port: the status line and the body.
fn http_get(port: u16, path: &str) -> Option<(String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}

/// An operator process (leader election on), its log drained by a thread (a full pipe would
/// block it).
pub struct Operator {
    child: Child,
    log: Option<std::thread::JoinHandle<String>>,
    port: u16,
}

impl Operator {
    pub fn start(server: &KubeServer, identity: &str) -> Operator {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_gpuplan"))
            .args(["operator", "-n", NAMESPACE, "--http-address", &format!("127.0.0.1:{port}")])
            .arg("--kubeconfig")
            .arg(server.kubeconfig())
            .env("POD_NAME", identity)
            .env("GPUPLAN_LOG", "info,kube=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gpuplan operator starts");
        let mut stderr = child.stderr.take().expect("piped");
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            let _ = stderr.read_to_string(&mut log);
            log
        });
        Operator { child, log: Some(log), port }
    }

    /// A gauge or counter of its `/metrics` page.
    pub fn metric(&self, name: &str) -> Option<u64> {
        let (_, page) = http_get(self.port, "/metrics")?;
        page.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// SIGTERM, then its exit code and log (20 s at most).
    pub fn stop(mut self) -> (Option<i32>, String) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).expect("signal");
        let start = Instant::now();
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status.code();
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let log = self.log.take().and_then(|r| r.join().ok()).unwrap_or_default();
        (code, log)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn condition(status: &GPUPlanStatus, t: &str) -> Option<(String, String, String)> {
    let c = status.conditions.iter().find(|c| c.type_ == t)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// The GPUPlan's condition `t` once it has `status` and `reason`.
pub async fn until_condition(api: &Api<GPUPlan>, name: &str, t: &str, status: &str, reason: &str) -> GPUPlanStatus {
    let what = format!("GPUPlan {name}: {t}={status} ({reason})");
    eventually(WITHIN, &what, || async {
        let s = api.get_opt(name).await.ok()??.status?;
        let (st, re, _) = condition(&s, t)?;
        (st == status && re == reason).then_some(s)
    })
    .await
}

pub async fn labels(nodes: &Api<Node>, name: &str) -> std::collections::BTreeMap<String, String> {
    nodes.get(name).await.expect("the node").metadata.labels.unwrap_or_default()
}

#[tokio::test]
async fn the_operator_leads_reconciles_labels_corrects_drift_and_uninstalls_a_deleted_gpuplan() {
    let Some(server) = KubeServer::private() else { return };
    let client = server.client().await;
    install_crd(&client, &service_monitor_crd()).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let gpu = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gpu-1", "labels": {
        "feature.node.kubernetes.io/pci-10de.present": "true", "kubernetes.io/os": "linux"}}});
    let cpu = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cpu-1", "labels": {"kubernetes.io/os": "linux"}}});
    for node in [gpu, cpu] {
        nodes.create(&PostParams::default(), &serde_json::from_value(node).expect("a Node")).await.expect("created");
    }

    // Without the GPUPlan CRD the operator is not ready and says why.
    let a = Operator::start(&server, "operator-a");
    // Before it has connected, /readyz is 503 for that reason: wait for the CRD's.
    let (_, body) = eventually(WITHIN, "/readyz answers 503 for the missing CRD", || async {
        http_get(a.port, "/readyz").filter(|(status, body)| status.contains("503") && body.contains("CRD"))
    })
    .await;
    assert!(body.contains("the GPUPlan CRD (gpuplans.gpuplan.dev) is not installed"), "{body}");
    let crd = gpuplan_compiler::schema::crd();
    install_crd(&client, &crd).await;
    eventually(WITHIN, "/readyz answers 200 once the CRD is served", || async {
        http_get(a.port, "/readyz").filter(|(status, _)| status.contains("200"))
    })
    .await;

    // Two operators, one leader, through a real Lease; SIGTERM hands it over.
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    let holder =
        || async { leases.get_opt("gpuplan-operator").await.ok().flatten().and_then(|l| l.spec?.holder_identity) };
    eventually(WITHIN, "operator-a holds the lease", || async { holder().await.filter(|h| h == "operator-a") }).await;
    let b = Operator::start(&server, "operator-b");
    eventually(WITHIN, "operator-b is up and stands by", || async { b.metric("gpuplan_leader").filter(|l| *l == 0) })
        .await;
    assert_eq!(a.metric("gpuplan_leader"), Some(1));
    let (code, log) = a.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("WARN") && log.contains("the GPUPlan CRD (gpuplans.gpuplan.dev) is not installed"), "{log}");
    eventually(WITHIN, "operator-b takes the lease over", || async { holder().await.filter(|h| h == "operator-b") })
        .await;
    eventually(WITHIN, "operator-b leads", || async { b.metric("gpuplan_leader").filter(|l| *l == 1) }).await;

    // The API server validates a GPUPlan by the generated schema.
    let plans: Api<GPUPlan> = Api::all(client.clone());
    let wrong = gpuplan_object("wrong-type", json!({"toolkit": {"enabled": "yes"}}));
    let err = plans.create(&PostParams::default(), &serde_json::from_value(wrong).expect("object")).await;
    let err = err.expect_err("rejected").to_string();
    assert!(err.contains("spec.toolkit.enabled") && err.contains("boolean"), "{err}");

    // A GPUPlan reconciled to Ready, stage by stage, with the test as the controllers.
    let controllers = Controllers::start(&client);
    let apply = PatchParams::apply("gpuplan-test");
    plans.patch("cluster", &apply, &Patch::Apply(gpuplan_object("cluster", seed_spec()))).await.expect("a GPUPlan");
    let status = until_condition(&plans, "cluster", "Ready", "True", "Applied").await;
    assert!(status.stages.iter().all(|s| s.ready) && status.stages.len() >= 9, "{status:?}");
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), NAMESPACE);
    let toolkit = daemon_sets.get("nvidia-container-toolkit-daemonset").await.expect("the node agents");
    let release = toolkit.metadata.labels.unwrap_or_default().get("gpuplan.dev/release").cloned();
    assert_eq!(release.as_deref(), Some("cluster"));
    let finalizers = plans.get("cluster").await.expect("reads").metadata.finalizers.unwrap_or_default();
    assert_eq!(finalizers, ["gpuplan.dev/uninstall"]);

    // The GPU node is labelled for the plan, the CPU node is not.
    let gpu_labels = eventually(WITHIN, "gpu-1 labelled", || async {
        let l = labels(&nodes, "gpu-1").await;
        l.contains_key("nvidia.com/gpu.deploy.container-toolkit").then_some(l)
    })
    .await;
    assert_eq!(gpu_labels.get("nvidia.com/gpu.present").map(String::as_str), Some("true"));
    for component in ["driver", "device-plugin", "dcgm-exporter", "operator-validator", "gpu-feature-discovery"] {
        assert_eq!(
            gpu_labels.get(&format!("nvidia.com/gpu.deploy.{component}")).map(String::as_str),
            Some("true"),
            "{component}"
        );
    }
    assert!(!gpu_labels.contains_key("nvidia.com/gpu.deploy.mig-manager"), "not MIG-capable");
    let cpu_labels = labels(&nodes, "cpu-1").await;
    assert!(cpu_labels.keys().all(|k| !k.starts_with("nvidia.com/")), "{cpu_labels:?}");

    // Drift: an edit by hand of an owned ConfigMap is put back.
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let planned = config_maps.get("nvidia-container-toolkit-entrypoint").await.expect("reads").data;
    assert!(planned.as_ref().is_some_and(|d| d.contains_key("install.sh")), "{planned:?}");
    let edit = json!({"data": {"install.sh": "echo someone else"}});
    let by_hand = PatchParams { field_manager: Some("kubectl-edit".into()), ..Default::default() };
    config_maps.patch("nvidia-container-toolkit-entrypoint", &by_hand, &Patch::Merge(&edit)).await.expect("edited");
    let start = Instant::now();
    while config_maps.get("nvidia-container-toolkit-entrypoint").await.expect("reads").data != planned {
        if start.elapsed() > WITHIN {
            let (_, log) = b.stop();
            panic!("the ConfigMap is not put back within {WITHIN:?}:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A spec the schema accepts but the compiler rejects: Degraded, the last good plan stays.
    let mut bad = seed_spec();
    bad["toolkit"]["env"][0]["name"] = json!("CONTAINERD_CONFIGG");
    plans.patch("cluster", &apply, &Patch::Apply(gpuplan_object("cluster", bad))).await.expect("updated");
    let status = until_condition(&plans, "cluster", "Degraded", "True", "InvalidSpec").await;
    let (_, _, message) = condition(&status, "Degraded").expect("Degraded");
    assert!(message.contains("did you mean `CONTAINERD_CONFIG`?"), "{message}");
    assert_eq!(condition(&status, "Ready").map(|c| c.0).as_deref(), Some("True"), "the last good plan still runs");
    plans.patch("cluster", &apply, &Patch::Apply(gpuplan_object("cluster", seed_spec()))).await.expect("fixed");
    until_condition(&plans, "cluster", "Degraded", "False", "Applied").await;

    // A younger GPUPlan is ignored while the active one lives...
    plans.patch("younger", &apply, &Patch::Apply(gpuplan_object("younger", seed_spec()))).await.expect("a second");
    until_condition(&plans, "younger", "Ready", "False", "Ignored").await;

    // ...deleting the active one uninstalls its release, then the younger one is promoted.
    plans.delete("cluster", &DeleteParams::default()).await.expect("deleted");
    eventually(WITHIN, "GPUPlan cluster is gone", || async {
        plans.get_opt("cluster").await.ok()?.is_none().then_some(())
    })
    .await;
    let status = until_condition(&plans, "younger", "Ready", "True", "Applied").await;
    assert_eq!(status.revision, 1, "a release of its own");
    let toolkit = daemon_sets.get("nvidia-container-toolkit-daemonset").await.expect("the younger's agents");
    let release = toolkit.metadata.labels.unwrap_or_default().get("gpuplan.dev/release").cloned();
    assert_eq!(release.as_deref(), Some("younger"));

    // Deleting the last one leaves nothing of gpuplan's but its CRDs.
    plans.delete("younger", &DeleteParams::default()).await.expect("deleted");
    eventually(WITHIN, "GPUPlan younger is gone", || async {
        plans.get_opt("younger").await.ok()?.is_none().then_some(())
    })
    .await;
    let left = Api::<DaemonSet>::all(client.clone()).list(&ListParams::default()).await.expect("lists").items;
    assert!(left.is_empty(), "{:?}", left.iter().map(|d| d.metadata.name.clone()).collect::<Vec<_>>());
    assert!(config_maps.list(&ListParams::default()).await.expect("lists").items.is_empty());
    let gpu_labels = eventually(WITHIN, "gpu-1 loses the deploy labels", || async {
        let l = labels(&nodes, "gpu-1").await;
        l.keys().all(|k| !k.starts_with("nvidia.com/gpu.deploy.")).then_some(l)
    })
    .await;
    assert_eq!(gpu_labels.get("nvidia.com/gpu.present").map(String::as_str), Some("true"), "it still has a GPU");
    drop(controllers);

    let (code, log) = b.stop();
    assert_eq!(code, Some(0), "{log}");
    for line in ["leading", "uninstalled", "stopped"] {
        assert!(log.contains(line), "{line}: {log}");
    }
}
