//! `gpuplan operator` against the real API server (`apiserver.rs`): the generated GPUPlan CRD
//! installs and is served; the API server's schema validation rejects invalid specs; the
//! operator (the real binary, as a process) reconciles a GPUPlan and writes its conditions
//! through the status subresource, where the test reads them back; a spec the compiler
//! rejects is reported as `Degraded`; `/healthz` and `/metrics` answer; SIGTERM stops it.
//!
//! This server serves no core or apps API, so the plan's first stage (RuntimeClasses) cannot
//! be applied: the reconcile ends `Degraded` with the API server's answer — which is exactly
//! what an operator must report on a cluster that lacks a kind. Leader election needs Leases
//! (core coordination API) and is switched off here; it is tested against the mock.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gpuplan::controller::kind::{GPUPlan, GPUPlanStatus};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;

use super::apiserver::ApiServer;

async fn install_crd(client: &kube::Client) {
    let crd: CustomResourceDefinition = serde_json::from_value(gpuplan_compiler::schema::crd()).expect("a CRD");
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    api.patch("gpuplans.gpuplan.dev", &PatchParams::apply("gpuplan-test").force(), &Patch::Apply(&crd))
        .await
        .expect("the generated CRD is accepted");
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(api, "gpuplans.gpuplan.dev", conditions::is_crd_established()),
    )
    .await
    .expect("Established in 30 s")
    .expect("watch");
}

fn plan(name: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "gpuplan.dev/v1alpha1", "kind": "GPUPlan", "metadata": {"name": name}, "spec": spec})
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The operator process; its log is drained by a thread (a full pipe would block it).
struct Operator(Child, Option<std::thread::JoinHandle<String>>);

impl Operator {
    fn start(mut child: Child) -> Operator {
        let mut stderr = child.stderr.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut log = String::new();
            let _ = stderr.read_to_string(&mut log);
            log
        });
        Operator(child, Some(reader))
    }

    fn log(&mut self) -> String {
        self.1.take().and_then(|r| r.join().ok()).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn status_of(api: &Api<GPUPlan>, name: &str, done: impl Fn(&GPUPlanStatus) -> bool) -> GPUPlanStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = api.get(name).await.expect("reads").status.filter(|s| done(s)) {
            return status;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no such status within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn condition<'a>(status: &'a GPUPlanStatus, t: &str) -> (&'a str, &'a str, &'a str) {
    let c = status.conditions.iter().find(|c| c.type_ == t).expect("condition");
    (c.status.as_str(), c.reason.as_str(), c.message.as_str())
}

#[tokio::test]
async fn the_operator_reconciles_a_gpuplan_and_writes_its_status_on_a_real_api_server() {
    let Some(server) = ApiServer::shared() else { return };
    let client = server.client().await;
    install_crd(&client).await;
    let api: Api<GPUPlan> = Api::all(client.clone());

    // The API server's own validation, from the generated schema.
    let wrong_type = plan("wrong-type", json!({"toolkit": {"enabled": "yes"}}));
    let err = api
        .create(&PostParams::default(), &serde_json::from_value(wrong_type).expect("object"))
        .await
        .expect_err("rejected");
    assert!(err.to_string().contains("spec.toolkit.enabled") && err.to_string().contains("boolean"), "{err}");
    let unknown = plan("unknown-key", json!({"toolkit": {"envv": []}}));
    let err = api
        .patch("unknown-key", &PatchParams::apply("gpuplan-test"), &Patch::Apply(&unknown))
        .await
        .expect_err("an undeclared field is refused");
    assert!(err.to_string().contains("envv"), "{err}");

    // The operator, as a process.
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_gpuplan"))
        .args(["operator", "--no-leader-election", "-n", "gpu-operator-e2e", "--kube-version", "1.31"])
        .arg("--kubeconfig")
        .arg(server.kubeconfig())
        .args(["--http-address", &format!("127.0.0.1:{port}")])
        .env("GPUPLAN_LOG", "info,kube=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gpuplan operator starts");
    let mut operator = Operator::start(child);

    let seed = json!({"operator": {"defaultRuntime": "containerd"}, "toolkit": {"env": [
        {"name": "CONTAINERD_CONFIG", "value": "/etc/containerd/config.toml"},
        {"name": "CONTAINERD_SET_AS_DEFAULT", "value": "true"}]}});
    api.patch("cluster", &PatchParams::apply("gpuplan-test"), &Patch::Apply(plan("cluster", seed.clone())))
        .await
        .expect("a GPUPlan");
    let status = status_of(&api, "cluster", |s| s.observed_generation == 1).await;
    let (degraded, reason, message) = condition(&status, "Degraded");
    assert_eq!((degraded, reason), ("True", "ApplyFailed"), "{message}");
    assert!(
        message.starts_with("stage pre-requisites: cannot read RuntimeClass nvidia")
            && message.contains("the cluster does not serve this kind"),
        "the server's answer: {message}"
    );
    assert_eq!(condition(&status, "Ready").0, "False");

    // A spec the schema accepts but the compiler rejects: Degraded, with the diagnostics.
    let mut bad = seed;
    bad["toolkit"]["env"][0]["name"] = json!("CONTAINERD_CONFIGG");
    api.patch("cluster", &PatchParams::apply("gpuplan-test"), &Patch::Apply(plan("cluster", bad)))
        .await
        .expect("updated");
    let status = status_of(&api, "cluster", |s| s.observed_generation == 2).await;
    let (degraded, reason, message) = condition(&status, "Degraded");
    assert_eq!((degraded, reason), ("True", "InvalidSpec"));
    assert!(
        message.contains("CONTAINERD_CONFIGG") && message.contains("did you mean `CONTAINERD_CONFIG`?"),
        "{message}"
    );

    // Probes and metrics.
    let health = http_get(port, "/healthz").expect("/healthz answers");
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    let metrics = http_get(port, "/metrics").expect("/metrics answers");
    let reconciles = metrics
        .lines()
        .find_map(|l| l.strip_prefix("gpuplan_reconciles_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("the counter");
    assert!(reconciles >= 2, "{metrics}");

    // SIGTERM: a clean stop.
    kill(Pid::from_raw(operator.0.id() as i32), Signal::SIGTERM).expect("signal");
    let start = Instant::now();
    let code = loop {
        if let Some(status) = operator.0.try_wait().expect("wait") {
            break status.code();
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = operator.0.kill();
            panic!("the operator did not stop on SIGTERM:\n{}", operator.log());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = operator.log();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("stopped"), "{log}");
}
