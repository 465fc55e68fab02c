//! The operator's reconcilers against the mock API server: a GPUPlan created, reconciled
//! again with nothing to do, updated, given an invalid spec, drifted, held up by a stage that
//! is not ready, outnumbered by an older GPUPlan; and GPU nodes labelled by the rules.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use gpuplan::controller::facts::Live;
use gpuplan::controller::kind::{GPUPlan, GPUPlanStatus};
use gpuplan::controller::metrics::Metrics;
use gpuplan::controller::reconcile::{self, Context, Settings};
use k8s_openapi::api::core::v1::Node;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher::Event;
use serde_json::{Value as J, json};

use super::mock::Server;

fn settings() -> Settings {
    Settings {
        namespace: "gpu-operator".into(),
        kube_version: "1.31".into(),
        requeue_ready: Duration::from_secs(300),
        requeue_progressing: Duration::from_secs(10),
        requeue_failed: Duration::from_secs(15),
        uninstall_step: Duration::from_secs(5),
    }
}

type Signals = futures::channel::mpsc::UnboundedReceiver<()>;

fn context(server: &Server) -> (Arc<Context>, Signals) {
    let (ctx, relabel, _promote) = context_and_signals(server);
    (ctx, relabel)
}

/// The context, and what it asks of the controllers: relabel every node, look at every GPUPlan.
fn context_and_signals(server: &Server) -> (Arc<Context>, Signals, Signals) {
    let (ctx, relabel, promote, _nodes) = context_with_nodes(server, Vec::new());
    (ctx, relabel, promote)
}

/// A context whose node watch has listed `nodes`; its writer, to add more.
fn context_with_nodes(server: &Server, nodes: Vec<Node>) -> (Arc<Context>, Signals, Signals, Writer<Node>) {
    let client = server.client();
    let (relabel, relabel_rx) = futures::channel::mpsc::unbounded();
    let (promote, promote_rx) = futures::channel::mpsc::unbounded();
    let mut writer = Writer::<Node>::default();
    writer.apply_watcher_event(&Event::Init);
    for node in nodes {
        writer.apply_watcher_event(&Event::InitApply(node));
    }
    writer.apply_watcher_event(&Event::InitDone);
    let nodes = writer.as_reader();
    let ctx = Context {
        client: client.clone(),
        settings: settings(),
        metrics: Arc::new(Metrics::default()),
        recorder: Recorder::new(
            client,
            Reporter { controller: "gpuplan-operator".into(), instance: Some("test".into()) },
        ),
        deploy: RwLock::new(None),
        relabel,
        promote,
        nodes,
        live: Live::default(),
    };
    (Arc::new(ctx), relabel_rx, promote_rx, writer)
}

const PLANS: (&str, &str, &str, &str) = ("/apis/gpuplan.dev", "gpuplans", "", "");

/// Store a GPUPlan in the mock (as `kubectl apply` would) and return it as the controller sees it.
fn put(server: &Server, name: &str, spec: J, generation: i64, created: &str) -> Arc<GPUPlan> {
    let key = (PLANS.0.into(), PLANS.1.into(), String::new(), name.to_owned());
    let stored = server.with(|s| s.objects.get(&key).cloned()).unwrap_or(J::Null);
    // What the operator keeps (status, finalizers) stays, as it does under `kubectl apply`.
    let object = json!({
        "apiVersion": "gpuplan.dev/v1alpha1", "kind": "GPUPlan",
        "metadata": {"name": name, "generation": generation, "creationTimestamp": created, "uid": format!("uid-{name}"),
                     "finalizers": stored["metadata"]["finalizers"]},
        "spec": spec, "status": stored["status"],
    });
    server.with(|s| s.objects.insert(key, object.clone()));
    Arc::new(serde_json::from_value(object).expect("a GPUPlan"))
}

/// The GPUPlan as stored now (status included).
fn get(server: &Server, name: &str) -> Arc<GPUPlan> {
    let key = (PLANS.0.into(), PLANS.1.into(), String::new(), name.to_owned());
    let object = server.with(|s| s.objects.get(&key).cloned()).expect("stored");
    Arc::new(serde_json::from_value(object).expect("a GPUPlan"))
}

fn condition<'a>(status: &'a GPUPlanStatus, type_: &str) -> (&'a str, &'a str, &'a str) {
    let c = status.conditions.iter().find(|c| c.type_ == type_).expect("condition");
    (c.status.as_str(), c.reason.as_str(), c.message.as_str())
}

fn writes(server: &Server) -> Vec<String> {
    server.calls().iter().filter(|c| c.writes()).map(|c| format!("{} {}", c.method, c.path)).collect()
}

fn seed() -> J {
    json!({
        "operator": {"defaultRuntime": "containerd"},
        "toolkit": {"env": [
            {"name": "CONTAINERD_CONFIG", "value": "/etc/containerd/config.toml"},
            {"name": "CONTAINERD_SOCKET", "value": "/run/containerd/containerd.sock"},
            {"name": "CONTAINERD_RUNTIME_CLASS", "value": "nvidia"},
            {"name": "CONTAINERD_SET_AS_DEFAULT", "value": "true"}
        ]}
    })
}

#[tokio::test]
async fn given_a_new_gpuplan_it_is_applied_and_ready_then_a_second_pass_writes_nothing() {
    let server = Server::default();
    let (ctx, _relabel) = context(&server);
    let plan = put(&server, "cluster", seed(), 1, "2026-11-28T00:00:00Z");
    reconcile::reconcile(plan, ctx.clone()).await.expect("reconciles");
    let status = get(&server, "cluster").status.clone().expect("status written");
    let (ready, reason, message) = condition(&status, "Ready");
    assert_eq!((ready, reason), ("True", "Applied"), "{message}");
    assert_eq!(condition(&status, "Degraded").0, "False");
    assert_eq!(status.observed_generation, 1);
    assert!(status.digest.starts_with("sha256:"));
    let ds = server.with(|s| s.objects.keys().filter(|k| k.1 == "daemonsets").count());
    assert!(ds >= 8, "the operands are applied: {ds} DaemonSets");
    assert!(
        ctx.deploy
            .read()
            .expect("lock")
            .as_ref()
            .is_some_and(|d| d.contains("nvidia.com/gpu.deploy.container-toolkit"))
    );
    assert!(
        server.calls().iter().any(|c| c.method == "POST" && c.path.contains("/events")),
        "an event says it is ready"
    );

    server.reset_calls();
    let plan = get(&server, "cluster");
    reconcile::reconcile(plan, ctx).await.expect("reconciles again");
    assert_eq!(writes(&server), Vec::<String>::new(), "nothing changed: no writes, status included");
}

#[tokio::test]
async fn given_a_changed_spec_only_the_affected_objects_and_the_status_are_written() {
    let server = Server::default();
    let (ctx, _relabel) = context(&server);
    reconcile::reconcile(put(&server, "cluster", seed(), 1, "2026-11-28T00:00:00Z"), ctx.clone()).await.expect("first");
    let before = get(&server, "cluster").status.clone().expect("status").digest;
    let mut spec = seed();
    spec["devicePlugin"] = json!({"env": [{"name": "FOO", "value": "bar"}]});
    server.reset_calls();
    reconcile::reconcile(put(&server, "cluster", spec, 2, "2026-11-28T00:00:00Z"), ctx).await.expect("update");
    let written: Vec<String> = writes(&server).into_iter().filter(|w| !w.contains("/events")).collect();
    assert_eq!(
        written,
        [
            "PATCH /apis/gpuplan.dev/v1alpha1/namespaces/gpu-operator/planreleases/cluster",
            "PATCH /apis/apps/v1/namespaces/gpu-operator/daemonsets/nvidia-device-plugin-daemonset",
            "PATCH /apis/gpuplan.dev/v1alpha1/namespaces/gpu-operator/planreleases/cluster",
            "PATCH /apis/gpuplan.dev/v1alpha1/gpuplans/cluster/status",
        ]
    );
    let status = get(&server, "cluster").status.clone().expect("status");
    assert_ne!(status.digest, before);
    assert_eq!((status.observed_generation, status.revision), (2, 2));
}

#[tokio::test]
async fn given_an_invalid_spec_it_is_degraded_and_the_last_good_plan_stays() {
    let server = Server::default();
    let (ctx, _relabel) = context(&server);
    reconcile::reconcile(put(&server, "cluster", seed(), 1, "2026-11-28T00:00:00Z"), ctx.clone()).await.expect("first");
    let good = get(&server, "cluster").status.clone().expect("status").digest;
    let mut spec = seed();
    spec["toolkit"]["envv"] = json!([]);
    server.reset_calls();
    reconcile::reconcile(put(&server, "cluster", spec, 2, "2026-11-28T00:00:00Z"), ctx).await.expect("reports");
    let status = get(&server, "cluster").status.clone().expect("status");
    let (degraded, reason, message) = condition(&status, "Degraded");
    assert_eq!((degraded, reason), ("True", "InvalidSpec"));
    assert!(message.contains("/toolkit/envv") && message.contains("did you mean `env`?"), "{message}");
    assert_eq!(condition(&status, "Ready").0, "True", "the last good plan still runs");
    assert_eq!(status.digest, good);
    let written: Vec<String> = writes(&server).into_iter().filter(|w| !w.contains("/events")).collect();
    assert_eq!(written, ["PATCH /apis/gpuplan.dev/v1alpha1/gpuplans/cluster/status"], "only the status");
}

#[tokio::test]
async fn given_drift_the_reconcile_puts_back_only_the_drifted_object() {
    let server = Server::default();
    let (ctx, _relabel) = context(&server);
    reconcile::reconcile(put(&server, "cluster", seed(), 1, "2026-11-28T00:00:00Z"), ctx.clone()).await.expect("first");
    server.with(|s| {
        let (_, cm) = s
            .objects
            .iter_mut()
            .find(|(k, _)| k.1 == "configmaps" && k.3 == "nvidia-container-toolkit-entrypoint")
            .expect("cm");
        cm["data"] = json!({"entrypoint.sh": "echo someone else"});
    });
    server.reset_calls();
    reconcile::reconcile(get(&server, "cluster"), ctx).await.expect("reconciles");
    assert_eq!(
        writes(&server),
        ["PATCH /api/v1/namespaces/gpu-operator/configmaps/nvidia-container-toolkit-entrypoint"]
    );
}

#[tokio::test]
async fn given_a_stage_not_ready_it_is_progressing_and_later_stages_wait() {
    let server = Server::default();
    server.with(|s| s.never_ready.push("nvidia-container-toolkit-daemonset".into()));
    let (ctx, _relabel) = context(&server);
    let action = reconcile::reconcile(put(&server, "cluster", seed(), 1, "2026-11-28T00:00:00Z"), ctx)
        .await
        .expect("reconciles");
    assert_eq!(
        format!("{action:?}"),
        format!("{:?}", kube::runtime::controller::Action::requeue(Duration::from_secs(10)))
    );
    let status = get(&server, "cluster").status.clone().expect("status");
    let (ready, reason, message) = condition(&status, "Progressing");
    assert_eq!((ready, reason), ("True", "StageNotReady"));
    assert!(message.starts_with("stage container-toolkit is not ready: DaemonSet gpu-operator/nvidia-container-toolkit-daemonset: 0 of 2 pods updated"), "{message}");
    let applied_later = server.with(|s| s.objects.keys().any(|k| k.3 == "nvidia-device-plugin-daemonset"));
    assert!(!applied_later, "the device plugin waits for the toolkit");
}

#[tokio::test]
async fn given_two_gpuplans_the_younger_one_is_ignored() {
    let server = Server::default();
    let (ctx, _relabel) = context(&server);
    put(&server, "first", seed(), 1, "2026-11-01T00:00:00Z");
    let second = put(&server, "second", seed(), 1, "2026-11-28T00:00:00Z");
    reconcile::reconcile(second, ctx).await.expect("reconciles");
    let status = get(&server, "second").status.clone().expect("status");
    let (ready, reason, message) = condition(&status, "Ready");
    assert_eq!((ready, reason), ("False", "Ignored"));
    assert!(message.contains("GPUPlan first is the active one"), "{message}");
    assert!(server.with(|s| !s.objects.keys().any(|k| k.1 == "daemonsets")), "nothing applied for it");
}

fn node(name: &str, labels: &[(&str, &str)]) -> Arc<Node> {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    Arc::new(serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).expect("node"))
}

#[tokio::test]
async fn given_nodes_only_gpu_nodes_get_labels_and_only_when_they_change() {
    let server = Server::default();
    let (ctx, mut relabel) = context(&server);
    let gpu = node("gpu-1", &[("feature.node.kubernetes.io/pci-10de.present", "true")]);
    let cpu = node("cpu-1", &[("kubernetes.io/os", "linux")]);
    for n in [&gpu, &cpu] {
        let key = ("/api".to_owned(), "nodes".to_owned(), String::new(), n.metadata.name.clone().expect("name"));
        server.with(|s| s.objects.insert(key, serde_json::to_value(n.as_ref()).expect("json")));
    }
    // Before any plan: only gpu.present.
    reconcile::reconcile_node(gpu.clone(), ctx.clone()).await.expect("labels");
    let labelled = server.with(|s| {
        s.objects[&("/api".into(), "nodes".into(), String::new(), "gpu-1".into())]["metadata"]["labels"].clone()
    });
    assert_eq!(labelled["nvidia.com/gpu.present"], "true");
    assert!(labelled.get("nvidia.com/gpu.deploy.driver").is_none());

    reconcile::reconcile(put(&server, "cluster", seed(), 1, "2026-11-28T00:00:00Z"), ctx.clone()).await.expect("plan");
    assert!(relabel.try_recv().is_ok(), "the plan asks for every node to be relabelled");
    let gpu: Arc<Node> = Arc::new(
        serde_json::from_value(
            server.with(|s| s.objects[&("/api".into(), "nodes".into(), String::new(), "gpu-1".into())].clone()),
        )
        .expect("node"),
    );
    reconcile::reconcile_node(gpu, ctx.clone()).await.expect("labels");
    let labels = server.with(|s| {
        s.objects[&("/api".into(), "nodes".into(), String::new(), "gpu-1".into())]["metadata"]["labels"].clone()
    });
    for component in ["driver", "container-toolkit", "device-plugin", "dcgm-exporter", "operator-validator"] {
        assert_eq!(labels[format!("nvidia.com/gpu.deploy.{component}")], "true", "{component}: {labels}");
    }
    assert!(labels.get("nvidia.com/gpu.deploy.mig-manager").is_none(), "not MIG-capable");

    server.reset_calls();
    let gpu: Arc<Node> = Arc::new(
        serde_json::from_value(
            server.with(|s| s.objects[&("/api".into(), "nodes".into(), String::new(), "gpu-1".into())].clone()),
        )
        .expect("node"),
    );
    reconcile::reconcile_node(gpu, ctx.clone()).await.expect("nothing to do");
    reconcile::reconcile_node(cpu, ctx).await.expect("nothing to do");
    assert_eq!(writes(&server), Vec::<String>::new(), "labelled nodes and CPU nodes are not written");
}

#[tokio::test]
async fn given_two_candidates_one_leads_and_the_other_takes_over_when_the_lease_is_handed_over() {
    use gpuplan::controller::lease::Lease;
    let server = Server::default();
    let client = server.client();
    let a = Lease::new(client.clone(), "gpu-operator", "gpuplan-operator", "pod-a", Duration::from_secs(15));
    let b = Lease::new(client, "gpu-operator", "gpuplan-operator", "pod-b", Duration::from_secs(15));
    assert!(a.try_acquire().await.expect("a"), "the first candidate creates the lease");
    assert!(!b.try_acquire().await.expect("b"), "a fresh lease held by another is not taken");
    assert!(a.renew().await, "the holder renews");
    a.release().await;
    assert!(b.try_acquire().await.expect("b"), "a released lease is taken at once");
    assert!(!a.try_acquire().await.expect("a"));
    let key = (
        "/apis/coordination.k8s.io".to_owned(),
        "leases".to_owned(),
        "gpu-operator".to_owned(),
        "gpuplan-operator".to_owned(),
    );
    let lease = server.with(|s| s.objects[&key].clone());
    assert_eq!(
        (lease["spec"]["holderIdentity"].as_str(), lease["spec"]["leaseTransitions"].as_i64()),
        (Some("pod-b"), Some(1))
    );
    // An expired lease is taken over.
    server
        .with(|s| s.objects.get_mut(&key).expect("lease")["spec"]["renewTime"] = json!("2026-01-01T00:00:00.000000Z"));
    assert!(a.try_acquire().await.expect("a"), "an expired lease is free");
}

#[test]
fn the_probes_and_the_metrics_page_answer() {
    use gpuplan::controller::http::answer;
    let metrics = Metrics::default();
    assert_eq!(answer("/healthz", &metrics).0, "200 OK");
    assert_eq!(answer("/readyz", &metrics).0, "503 Service Unavailable", "not connected yet");
    metrics.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(answer("/readyz", &metrics).0, "200 OK");
    let (status, content_type, body) = answer("/metrics", &metrics);
    assert_eq!((status, content_type), ("200 OK", "text/plain; version=0.0.4; charset=utf-8"));
    assert!(body.contains("gpuplan_reconciles_total 0"));
    assert_eq!(answer("/nope", &metrics).0, "404 Not Found");
}

#[tokio::test]
async fn given_daemonsets_deployed_without_a_gpuplan_their_deploy_labels_are_used() {
    let server = Server::default();
    let (ctx, mut relabel) = context(&server);
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
                    "metadata": {"name": "nvidia-device-plugin-daemonset", "namespace": "gpu-operator", "labels": {"gpuplan.dev/release": "gpu-operator"}},
                    "spec": {"template": {"spec": {"nodeSelector": {"nvidia.com/gpu.deploy.device-plugin": "true"}}}}});
    let other = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
                       "metadata": {"name": "someone-elses", "namespace": "gpu-operator"},
                       "spec": {"template": {"spec": {"nodeSelector": {"nvidia.com/gpu.deploy.driver": "true"}}}}});
    server.with(|s| {
        for o in [ds, other] {
            let name = o["metadata"]["name"].as_str().expect("name").to_owned();
            s.objects.insert(("/apis/apps".into(), "daemonsets".into(), "gpu-operator".into(), name), o);
        }
    });
    reconcile::refresh_deploy(&ctx).await.expect("reads");
    let deploy = ctx.deploy.read().expect("lock").clone().expect("set");
    assert_eq!(
        deploy.into_iter().collect::<Vec<_>>(),
        ["nvidia.com/gpu.deploy.device-plugin"],
        "only gpuplan's DaemonSets count"
    );
    assert!(relabel.try_recv().is_ok());
    reconcile::refresh_deploy(&ctx).await.expect("reads");
    assert!(relabel.try_recv().is_err(), "unchanged: no relabelling");
}

/// Mark the stored GPUPlan deleted (as `kubectl delete` does to an object with finalizers) and
/// return it as the controller sees it.
fn delete(server: &Server, name: &str) -> Arc<GPUPlan> {
    let key = (PLANS.0.into(), PLANS.1.into(), String::new(), name.to_owned());
    server.with(|s| {
        s.objects.get_mut(&key).expect("stored")["metadata"]["deletionTimestamp"] = json!("2026-11-29T00:00:00Z")
    });
    get(server, name)
}

fn stored(server: &Server, name: &str) -> bool {
    server.with(|s| s.objects.contains_key(&(PLANS.0.into(), PLANS.1.into(), String::new(), name.to_owned())))
}

/// Deleting the active GPUPlan uninstalls its release in reverse order — every GPU node
/// reverted before the node agents go — and only then lets the GPUPlan go (a finalizer).
#[tokio::test]
async fn given_the_active_gpuplan_deleted_its_release_is_uninstalled_before_it_goes() {
    let server = Server::default();
    let (ctx, _relabel) = context(&server);
    reconcile::reconcile(put(&server, "cluster", seed(), 1, "2026-11-28T00:00:00Z"), ctx.clone()).await.expect("first");
    let plan = get(&server, "cluster");
    assert_eq!(plan.metadata.finalizers.as_deref(), Some(&["gpuplan.dev/uninstall".to_owned()][..]));
    server.reset_calls();
    reconcile::reconcile(delete(&server, "cluster"), ctx.clone()).await.expect("finalizes");
    let calls = server.calls();
    let at = |method: &str, suffix: &str| {
        calls.iter().position(|c| c.method == method && c.path.ends_with(suffix) && c.writes())
    };
    let revert = at("PATCH", "/daemonsets/nvidia-container-toolkit-daemonset-revert").expect("the nodes are reverted");
    let agents_sa = at("DELETE", "/serviceaccounts/nvidia-container-toolkit").expect("the agents' objects go");
    let runtime_class = at("DELETE", "/runtimeclasses/nvidia").expect("the first stage goes last");
    let record = at("DELETE", "/planreleases/cluster").expect("the record goes");
    let finalizer = at("PATCH", "/gpuplans/cluster").expect("the finalizer is removed");
    assert!(revert < agents_sa && agents_sa < runtime_class && runtime_class < record && record < finalizer);
    assert!(!stored(&server, "cluster"), "the GPUPlan is gone once its release is");
    let left: Vec<String> = server.with(|s| {
        s.objects
            .keys()
            .filter(|k| k.1 != "customresourcedefinitions" && k.1 != "events")
            .map(|k| k.3.clone())
            .collect()
    });
    assert_eq!(left, Vec::<String>::new(), "nothing of the release stays");
}

/// Issue 17: an ignored GPUPlan is promoted once the active one is deleted.
#[tokio::test]
async fn given_the_active_gpuplan_deleted_the_ignored_one_is_promoted() {
    let server = Server::default();
    let (ctx, _relabel, mut promote) = context_and_signals(&server);
    reconcile::reconcile(put(&server, "first", seed(), 1, "2026-11-01T00:00:00Z"), ctx.clone()).await.expect("first");
    reconcile::reconcile(put(&server, "second", seed(), 1, "2026-11-28T00:00:00Z"), ctx.clone()).await.expect("second");
    assert_eq!(condition(get(&server, "second").status.as_ref().expect("status"), "Ready").1, "Ignored");

    reconcile::reconcile(delete(&server, "first"), ctx.clone()).await.expect("finalizes");
    assert!(!stored(&server, "first"));
    assert!(promote.try_recv().is_ok(), "every GPUPlan is looked at again once the active one is gone");
    reconcile::reconcile(get(&server, "second"), ctx).await.expect("second again");
    let status = get(&server, "second").status.clone().expect("status");
    let (ready, reason, message) = condition(&status, "Ready");
    assert_eq!((ready, reason), ("True", "Applied"), "promoted: {message}");
}

/// Issue 17: a reconcile that keeps failing the same way writes nothing more (the release
/// record said `failed` already), and counts no objects written.
#[tokio::test]
async fn given_a_failing_apply_a_retry_rewrites_nothing() {
    let server = Server::default();
    let (ctx, _relabel) = context(&server);
    server.with(|s| {
        s.faults.push(super::mock::Fault {
            method: "PATCH",
            path: "/daemonsets/nvidia-device-plugin-daemonset".into(),
            code: 409,
            reason: "Conflict",
            message: "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.template.spec.containers[name=\"nvidia-device-plugin\"].image".into(),
            times: 100,
            raw: false,
        })
    });
    let plan = put(&server, "cluster", seed(), 1, "2026-11-28T00:00:00Z");
    reconcile::reconcile(plan, ctx.clone()).await.expect_err("fails");
    let written = |ctx: &Context| {
        ctx.metrics.render().lines().find_map(|l| l.strip_prefix("gpuplan_objects_written_total ").map(str::to_owned))
    };
    let after_first = written(&ctx);
    server.reset_calls();
    reconcile::reconcile(get(&server, "cluster"), ctx.clone()).await.expect_err("fails again");
    let writes: Vec<String> = writes(&server)
        .into_iter()
        .filter(|w| !w.contains("/events") && !w.ends_with("/daemonsets/nvidia-device-plugin-daemonset"))
        .collect();
    assert_eq!(writes, Vec::<String>::new(), "the retry rewrites neither the record nor the status");
    assert_eq!(written(&ctx), after_first, "no object written by the retry");
}

/// Issue 17: with leader election on, a cluster that serves no Leases is an error at once,
/// naming the way out, not a warning every 5 s while nothing reconciles.
#[tokio::test]
async fn given_no_lease_api_leader_election_fails_at_once_saying_why() {
    use gpuplan::controller::lease::Lease;
    let server = Server::default();
    server.with(|s| {
        for method in ["GET", "POST", "PUT"] {
            s.faults.push(super::mock::Fault::raw(method, "/leases/gpuplan-operator", 404, "404 page not found", 100));
            s.faults.push(super::mock::Fault::raw(method, "/leases", 404, "404 page not found", 100));
        }
    });
    let lease = Lease::new(server.client(), "gpu-operator", "gpuplan-operator", "pod-a", Duration::from_secs(15));
    let result = tokio::time::timeout(Duration::from_secs(20), lease.acquire()).await;
    let err = result.expect("gives up at once").expect_err("no Leases");
    let text = format!("{err:#}");
    assert!(text.contains("does not serve Leases") && text.contains("--no-leader-election"), "{text}");
}

/// A GPU node as NFD labels it and the kubelet reports it.
fn gpu_node(name: &str, os: (&str, &str), runtime: &str) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {
            "feature.node.kubernetes.io/pci-10de.present": "true",
            "feature.node.kubernetes.io/system-os_release.ID": os.0,
            "feature.node.kubernetes.io/system-os_release.VERSION_ID": os.1,
        }},
        "status": {"nodeInfo": {"containerRuntimeVersion": runtime, "osImage": "", "kernelVersion": "",
            "architecture": "amd64", "bootID": "", "kubeProxyVersion": "", "kubeletVersion": "", "machineID": "",
            "operatingSystem": "linux", "systemUUID": ""}},
    }))
    .expect("a Node")
}

fn daemonsets(server: &Server) -> Vec<String> {
    server.with(|s| s.objects.keys().filter(|k| k.1 == "daemonsets").map(|k| k.3.clone()).collect())
}

#[tokio::test]
async fn given_a_node_with_a_new_os_and_runtime_joining_the_plan_is_compiled_again_for_it() {
    let server = Server::default();
    let ubuntu = gpu_node("gpu-ubuntu", ("ubuntu", "22.04"), "containerd://1.7.24");
    let (ctx, _relabel, mut promote, mut nodes) = context_with_nodes(&server, vec![ubuntu]);
    reconcile::reconcile(put(&server, "cluster", seed(), 1, "2026-11-28T00:00:00Z"), ctx.clone()).await.expect("plan");
    let status = get(&server, "cluster").status.clone().expect("status");
    assert!(status.daemon_sets.contains(&"nvidia-driver-daemonset-ubuntu22.04".to_owned()), "{status:?}");
    assert!(status.daemon_sets.contains(&"nvidia-container-toolkit-daemonset".to_owned()), "one runtime, one agent");
    assert!(status.facts_digest.starts_with("sha256:"));
    let before = status.facts_digest.clone();

    // The watch looks every LOOK_EVERY and says when the facts moved.
    let (changed_tx, mut changed) = futures::channel::mpsc::unbounded::<String>();
    let watch = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let store = ctx.nodes.clone();
            gpuplan::controller::facts::watch(ctx.client.clone(), &ctx.live, store, |d| {
                let _ = changed_tx.unbounded_send(d.to_owned());
            })
            .await;
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    nodes.apply_watcher_event(&Event::Apply(gpu_node("gpu-rhel", ("rhel", "9.4"), "cri-o://1.30.6")));
    let digest = tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::next(&mut changed))
        .await
        .expect("the facts watch sees the new node")
        .expect("a digest");
    watch.abort();
    assert_ne!(digest, before);
    let _ = promote.try_recv();

    reconcile::reconcile(get(&server, "cluster"), ctx.clone()).await.expect("plan");
    let status = get(&server, "cluster").status.clone().expect("status");
    assert_eq!(status.facts_digest, digest, "the status says which facts the plan is for");
    for ds in [
        "nvidia-driver-daemonset-rhel9.4",
        "nvidia-driver-daemonset-ubuntu22.04",
        "nvidia-container-toolkit-daemonset-containerd",
        "nvidia-container-toolkit-daemonset-crio",
    ] {
        assert!(status.daemon_sets.contains(&ds.to_owned()), "{ds} in {:?}", status.daemon_sets);
        assert!(daemonsets(&server).contains(&ds.to_owned()), "{ds} applied");
    }
    assert!(
        !daemonsets(&server).contains(&"nvidia-container-toolkit-daemonset".to_owned()),
        "the lone agent is pruned"
    );

    // Nothing changed since: a pass writes nothing.
    server.reset_calls();
    reconcile::reconcile(get(&server, "cluster"), ctx).await.expect("plan");
    assert_eq!(writes(&server), Vec::<String>::new());
}

#[tokio::test]
async fn given_a_cluster_without_the_prometheus_operator_its_service_monitors_are_left_out() {
    let spec = json!({"dcgmExporter": {"serviceMonitor": {"enabled": true}}});
    let monitors = |server: &Server| server.with(|s| s.objects.keys().filter(|k| k.1 == "servicemonitors").count());
    let with = Server::default();
    let (ctx, _relabel, _promote) = context_and_signals(&with);
    reconcile::reconcile(put(&with, "cluster", spec.clone(), 1, "2026-11-28T00:00:00Z"), ctx).await.expect("plan");
    assert!(monitors(&with) > 0, "monitoring.coreos.com/v1 served: ServiceMonitors applied");

    let without = Server::default();
    without.with(|s| s.served = Some(vec!["apps/v1".into(), "rbac.authorization.k8s.io/v1".into()]));
    let (ctx, _relabel, _promote) = context_and_signals(&without);
    reconcile::reconcile(put(&without, "cluster", spec, 1, "2026-11-28T00:00:00Z"), ctx).await.expect("plan");
    let status = get(&without, "cluster").status.clone().expect("status");
    let (ready, _, message) = condition(&status, "Ready");
    assert_eq!(ready, "True", "{message}");
    assert_eq!(monitors(&without), 0, "not served: left out, and the plan still applies");
}

#[tokio::test]
async fn given_gpu_nodes_each_is_labelled_with_its_container_runtime() {
    let server = Server::default();
    let (ctx, _relabel, _promote) = context_and_signals(&server);
    let node = gpu_node("gpu-1", ("ubuntu", "22.04"), "docker://27.3.1");
    let key = ("/api".to_owned(), "nodes".to_owned(), String::new(), "gpu-1".to_owned());
    server.with(|s| s.objects.insert(key.clone(), serde_json::to_value(&node).expect("json")));
    reconcile::reconcile_node(Arc::new(node), ctx.clone()).await.expect("labels");
    let labels = server.with(|s| s.objects[&key]["metadata"]["labels"].clone());
    assert_eq!(labels["gpuplan.dev/container-runtime"], "docker", "{labels}");
    server.reset_calls();
    let node: Node = serde_json::from_value(server.with(|s| s.objects[&key].clone())).expect("node");
    reconcile::reconcile_node(Arc::new(node), ctx).await.expect("labels");
    assert_eq!(writes(&server), Vec::<String>::new(), "labelled once");
}

/// Whether RBAC rules allow a verb on a group's resource (`*` matches any group, resource or
/// verb, subresources included, as Kubernetes' authorizer has it).
fn allows(rules: &J, group: &str, resource: &str, verb: &str) -> bool {
    let has = |list: &J, want: &str| list.as_array().is_some_and(|l| l.iter().any(|v| v == want || v == "*"));
    rules.as_array().is_some_and(|rules| {
        rules.iter().any(|r| has(&r["apiGroups"], group) && has(&r["resources"], resource) && has(&r["verbs"], verb))
    })
}

/// The operator runs with the RBAC its own plan gives it (the `gpuplan-operator` ClusterRole,
/// and the Role in the release's namespace). Every request it makes to install the seed's plan,
/// label a GPU node, look again, and uninstall when its GPUPlan is deleted must be allowed by
/// them — the release record and the CRDs included — or the deployed operator fails where the
/// test server (which has no authorizer) cannot show it.
#[tokio::test]
async fn given_the_plans_own_rbac_every_request_of_the_operator_is_allowed() {
    let server = Server::default();
    let (ctx, _relabel) = context(&server);
    reconcile::reconcile(put(&server, "cluster", seed(), 1, "2026-11-28T00:00:00Z"), ctx.clone())
        .await
        .expect("install");
    let node = gpu_node("gpu-1", ("ubuntu", "22.04"), "containerd://1.7.24");
    let key = ("/api".to_owned(), "nodes".to_owned(), String::new(), "gpu-1".to_owned());
    server.with(|s| s.objects.insert(key, serde_json::to_value(&node).expect("json")));
    reconcile::reconcile_node(Arc::new(node), ctx.clone()).await.expect("labels");
    reconcile::refresh_deploy(&ctx).await.expect("reads");
    reconcile::reconcile(get(&server, "cluster"), ctx.clone()).await.expect("again");
    let role_of = |plural: &str, namespace: &str| {
        server.with(|s| {
            let key = (
                "/apis/rbac.authorization.k8s.io".to_owned(),
                plural.to_owned(),
                namespace.to_owned(),
                "gpuplan-operator".to_owned(),
            );
            s.objects.get(&key).map(|o| o["rules"].clone()).expect("the plan's operator RBAC is applied")
        })
    };
    let cluster = role_of("clusterroles", "");
    let namespaced = role_of("roles", "gpu-operator");
    reconcile::reconcile(delete(&server, "cluster"), ctx).await.expect("uninstall");

    let mut denied: Vec<String> = Vec::new();
    let mut asked = 0;
    for call in server.calls() {
        let Some(access) = call.access() else { continue };
        for verb in &access.verbs {
            asked += 1;
            let allowed = allows(&cluster, &access.group, &access.resource, verb)
                || (access.namespace == "gpu-operator" && allows(&namespaced, &access.group, &access.resource, verb));
            let what = format!("{verb} {}/{} in {:?}", access.group, access.resource, access.namespace);
            if !allowed && !denied.contains(&what) {
                denied.push(what);
            }
        }
    }
    assert!(asked > 100, "the operator asked {asked} times");
    assert_eq!(denied, Vec::<String>::new(), "requests the plan's RBAC does not allow");
}
