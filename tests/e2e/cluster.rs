//! What the cluster tests share (`apply_real.rs`, `cli_cluster.rs`, `operator_real.rs`): the
//! default plan as a release, exactly as `gpuplan install` compiles it; the CRD its
//! ServiceMonitor needs; the test playing the controllers the test API server does not run; and
//! the `gpuplan` binary run as a process with `--kubeconfig`.
//!
//! The test API server runs no controllers (`tests/kube-test-server/README.md`): nothing
//! schedules pods, so a DaemonSet or a Deployment is ready only when something writes its
//! status. [`Controllers`] is that something, and it does only what the real controllers would
//! say about a rolled-out workload: every DaemonSet scheduled, updated and available on
//! [`NODES`] nodes, every Deployment's replicas updated and available, each for the generation
//! it saw. It leaves alone the workloads it is told to ([`Controllers::hold`]), so a test can
//! see a stage that never becomes ready.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gpuplan::apply::release::Desired;
use gpuplan_compiler::plan::Release;
use gpuplan_compiler::{FlagKind, InputFlag, Inputs, Target};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::{Value as J, json};

use super::kube_server::KubeServer;

/// The seed's `--set` values (a typical containerd install, as the README has it).
pub const SEED: &[&str] = &[
    "operator.defaultRuntime=containerd",
    "toolkit.env[0].name=CONTAINERD_CONFIG",
    "toolkit.env[0].value=/etc/containerd/config.toml",
    "toolkit.env[1].name=CONTAINERD_SOCKET",
    "toolkit.env[1].value=/run/containerd/containerd.sock",
    "toolkit.env[2].name=CONTAINERD_RUNTIME_CLASS",
    "toolkit.env[2].value=nvidia",
    "toolkit.env[3].name=CONTAINERD_SET_AS_DEFAULT",
    "toolkit.env[3].value=true",
];

/// The seed as command-line flags (`--set X` each), followed by `more` values.
pub fn seed_flags(more: &[&str]) -> Vec<String> {
    SEED.iter().chain(more).flat_map(|v| ["--set".to_owned(), (*v).to_owned()]).collect()
}

/// How many nodes the played DaemonSet controller schedules every DaemonSet on.
pub const NODES: i64 = 2;

/// The default plan with the seed's values and `more`, as release `name` in `namespace`,
/// compiled as `gpuplan install` compiles it (its NFD CRDs first; the GPUPlan CRD shared).
pub fn desired(name: &str, namespace: &str, more: &[&str]) -> Desired {
    let flags = SEED.iter().chain(more).map(|f| InputFlag { kind: FlagKind::Set, text: (*f).to_owned() }).collect();
    let inputs = Inputs { files: Vec::new(), flags };
    let release = Release { name: name.into(), namespace: namespace.into(), kube_version: "1.36".into() };
    let target = Target { release, ..Target::default() };
    let compiled = gpuplan_compiler::compile(&inputs, &mut |_| Err("no files".into()), &target).expect("compiles");
    let plan = compiled.plan.expect("a plan");
    let mut desired = Desired::from_plan(&plan, compiled.effective.values.to_json());
    desired.shared.push(gpuplan_compiler::schema::crd());
    desired
}

/// A stand-in for prometheus-operator's ServiceMonitor CRD, which the default plan's
/// dcgm-exporter stage needs (a cluster without it cannot take the plan, as with Helm). Same
/// group, kind, scope and names; its `spec` is left open, where the real CRD's schema is
/// thousands of lines.
pub fn service_monitor_crd() -> J {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {"kind": "ServiceMonitor", "plural": "servicemonitors", "singular": "servicemonitor",
                      "listKind": "ServiceMonitorList", "shortNames": ["smon"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                              "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}],
        },
    })
}

/// Install a CRD (field manager `gpuplan-test`) and wait until it is Established (30 s).
pub async fn install_crd(client: &kube::Client, crd: &J) {
    let name = crd["metadata"]["name"].as_str().expect("the CRD has a name").to_owned();
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    api.patch(&name, &PatchParams::apply("gpuplan-test"), &Patch::Apply(crd))
        .await
        .unwrap_or_else(|e| panic!("apply CRD {name}: {e}"));
    tokio::time::timeout(Duration::from_secs(30), await_condition(api, &name, conditions::is_crd_established()))
        .await
        .unwrap_or_else(|_| panic!("CRD {name} not Established in 30 s"))
        .unwrap_or_else(|e| panic!("watching CRD {name}: {e}"));
}

/// The DaemonSet and Deployment controllers, played by the test until dropped (see the module
/// doc). Cluster-wide: a test that plays them has a server of its own.
pub struct Controllers {
    task: tokio::task::JoinHandle<()>,
    held: Arc<Mutex<Vec<String>>>,
}

impl Controllers {
    /// Start playing them on `client`'s cluster.
    pub fn start(client: &kube::Client) -> Controllers {
        let held = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(play(client.clone(), held.clone()));
        Controllers { task, held }
    }

    /// Leave the workloads named `name` alone from now on (they never become ready).
    pub fn hold(&self, name: &str) {
        self.held.lock().expect("held").push(name.to_owned());
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn play(client: kube::Client, held: Arc<Mutex<Vec<String>>>) {
    let daemon_sets: Api<DaemonSet> = Api::all(client.clone());
    let deployments: Api<Deployment> = Api::all(client.clone());
    let params = PatchParams::apply("test-controller").force();
    loop {
        let held = held.lock().map(|h| h.clone()).unwrap_or_default();
        let is_held = |name: &Option<String>| name.as_ref().is_some_and(|n| held.contains(n));
        if let Ok(list) = daemon_sets.list(&ListParams::default()).await {
            for ds in list.items.into_iter().filter(|d| !is_held(&d.metadata.name)) {
                let generation = ds.metadata.generation.unwrap_or(0);
                if ds.status.as_ref().and_then(|s| s.observed_generation) == Some(generation) {
                    continue;
                }
                let status = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "status": {
                    "observedGeneration": generation, "desiredNumberScheduled": NODES,
                    "currentNumberScheduled": NODES, "updatedNumberScheduled": NODES, "numberReady": NODES,
                    "numberAvailable": NODES, "numberMisscheduled": 0}});
                let api: Api<DaemonSet> = Api::namespaced(client.clone(), &ds.metadata.namespace.unwrap_or_default());
                let _ = api.patch_status(&ds.metadata.name.unwrap_or_default(), &params, &Patch::Apply(&status)).await;
            }
        }
        if let Ok(list) = deployments.list(&ListParams::default()).await {
            for d in list.items.into_iter().filter(|d| !is_held(&d.metadata.name)) {
                let generation = d.metadata.generation.unwrap_or(0);
                if d.status.as_ref().and_then(|s| s.observed_generation) == Some(generation) {
                    continue;
                }
                let replicas = d.spec.replicas.unwrap_or(1);
                let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "status": {
                    "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                    "readyReplicas": replicas, "availableReplicas": replicas}});
                let api: Api<Deployment> = Api::namespaced(client.clone(), &d.metadata.namespace.unwrap_or_default());
                let _ = api.patch_status(&d.metadata.name.unwrap_or_default(), &params, &Patch::Apply(&status)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A run of the `gpuplan` binary.
#[derive(Debug)]
pub struct Run {
    /// Its exit code.
    pub code: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Run `gpuplan ARGS...` to the end (off the async runtime's threads).
pub async fn gpuplan(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_gpuplan"))
            .args(&args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .output()
            .expect("gpuplan runs");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("the run finishes")
}

/// A copy of the server's kubeconfig whose current context is another cluster (a port nothing
/// listens on): only `--kube-context kube-test-server` reaches the server.
pub fn kubeconfig_elsewhere(server: &KubeServer, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(server.kubeconfig()).expect("the kubeconfig");
    let text = text
        .replace("current-context: kube-test-server", "current-context: elsewhere")
        .replace("contexts:\n", "contexts:\n- name: elsewhere\n  context:\n    cluster: elsewhere\n    user: admin\n");
    let text =
        text.replace("clusters:\n", "clusters:\n- name: elsewhere\n  cluster:\n    server: https://127.0.0.1:9\n");
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).expect("write the kubeconfig");
    path
}

/// Poll `probe` every 100 ms until it gives a value, or panic after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(start.elapsed() < timeout, "not within {timeout:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
