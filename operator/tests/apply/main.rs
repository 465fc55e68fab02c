//! The apply engine against a scenario-driven mock API server (`mock.rs`): install, no-op
//! re-apply, upgrade with pruning, retries and conflicts, readiness timeouts, uninstall order.
//! The default plan is compiled by the compiler, as `gpuplan install` compiles it.

mod controller;
mod mock;
mod saved;

use std::time::Duration;

use gpuplan::apply::engine::{Action, Engine, Options};
use gpuplan::apply::progress::Silent;
use gpuplan::apply::record::{self, Phase};
use gpuplan::apply::release::{self, Desired, Mode, Waiting};
use gpuplan_compiler::plan::Release;
use gpuplan_compiler::{FlagKind, InputFlag, Inputs, Target};
use mock::{Fault, Server};

fn desired(flags: &[&str]) -> Desired {
    release_of("gpu-operator", "gpu-operator", flags)
}

fn release_of(name: &str, namespace: &str, flags: &[&str]) -> Desired {
    let inputs = Inputs {
        files: Vec::new(),
        flags: flags.iter().map(|f| InputFlag { kind: FlagKind::Set, text: (*f).to_owned() }).collect(),
    };
    let release = Release { name: name.into(), namespace: namespace.into(), kube_version: "1.31".into() };
    let target = Target { release, ..Target::default() };
    let compiled = gpuplan_compiler::compile(&inputs, &mut |_| Err("no files".into()), &target).expect("compiles");
    let mut plan = compiled.plan.expect("a plan");
    // The mock serves no CustomResourceDefinitions: the release's own objects only.
    plan.crds.clear();
    Desired::from_plan(&plan, compiled.effective.values.to_json())
}

fn engine(server: &Server, desired: &Desired) -> Engine {
    let options = Options { backoff: Duration::from_millis(1), poll: Duration::from_millis(5), ..Options::default() };
    Engine::new(server.client(), options, desired.objects())
}

const NO_WAIT: Waiting = Waiting { wait: false, timeout: Duration::from_secs(10), once: false };
const WAIT: Waiting = Waiting { wait: true, timeout: Duration::from_secs(10), once: false };

async fn install(server: &Server, desired: &Desired, waiting: Waiting) -> anyhow::Result<release::Outcome> {
    release::apply(&engine(server, desired), desired, Mode::Install, waiting, &Silent).await
}

async fn upgrade(server: &Server, desired: &Desired) -> anyhow::Result<release::Outcome> {
    release::apply(&engine(server, desired), desired, Mode::Upgrade { install_missing: false }, WAIT, &Silent).await
}

/// The stage of each object write, in the order the server saw them.
fn written_stages(server: &Server, desired: &Desired) -> Vec<String> {
    server
        .calls()
        .iter()
        .filter(|c| c.method == "PATCH" && c.writes())
        .filter_map(|c| {
            desired.stages.iter().find_map(|(stage, objects)| {
                objects
                    .iter()
                    .any(|o| c.path.ends_with(&format!("/{}", o["metadata"]["name"].as_str().unwrap_or_default())))
                    .then(|| stage.clone())
            })
        })
        .collect()
}

#[tokio::test]
async fn given_an_empty_cluster_install_creates_every_object_stage_by_stage_and_records_the_release() {
    let server = Server::default();
    let desired = desired(&[]);
    let outcome = install(&server, &desired, WAIT).await.expect("installs");
    let total = desired.objects().count();
    let created = outcome.stages.iter().flat_map(|s| &s.objects).filter(|a| a.action == Action::Created).count();
    assert_eq!(created, total);
    assert_eq!(outcome.revision, 1);

    // Stages in order: every write of a stage comes after all writes of the stage before.
    let mut stages = written_stages(&server, &desired);
    stages.dedup();
    let order: Vec<String> = desired.stages.iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(stages, order, "each stage written once, in plan order");

    let record =
        record::read(&engine(&server, &desired), "gpu-operator", "gpu-operator").await.expect("reads").expect("record");
    assert_eq!((record.phase, record.revision, record.inventory.len()), (Phase::Deployed, 1, total));
    assert_eq!(record.digest, desired.digest);
    let ds = record.inventory.iter().find(|e| e.kind == "DaemonSet").expect("a DaemonSet");
    assert_eq!(ds.namespace, "gpu-operator");
    let rc = record.inventory.iter().find(|e| e.kind == "RuntimeClass").expect("a RuntimeClass");
    assert_eq!(rc.namespace, "", "cluster-scoped objects carry no namespace");
}

#[tokio::test]
async fn given_an_installed_release_re_applying_the_same_plan_only_reads() {
    let server = Server::default();
    let desired = desired(&[]);
    install(&server, &desired, WAIT).await.expect("installs");
    server.reset_calls();
    let outcome = upgrade(&server, &desired).await.expect("re-applies");
    let writes: Vec<String> =
        server.calls().iter().filter(|c| c.writes()).map(|c| format!("{} {}", c.method, c.path)).collect();
    assert_eq!(writes, Vec::<String>::new(), "no writes");
    assert!(outcome.stages.iter().flat_map(|s| &s.objects).all(|a| a.action == Action::Unchanged));
    assert_eq!(outcome.revision, 1, "a no-op does not bump the revision");
    let r = outcome.requests;
    assert_eq!((r.patch, r.delete), (0, 0));
    eprintln!(
        "no-op re-apply of the default plan ({} objects): {} GET + {} LIST requests",
        desired.objects().count(),
        r.get,
        r.list
    );
}

#[tokio::test]
async fn given_drift_the_re_apply_writes_only_the_drifted_object() {
    let server = Server::default();
    let desired = desired(&[]);
    install(&server, &desired, NO_WAIT).await.expect("installs");
    server.with(|s| {
        let (_, ds) = s
            .objects
            .iter_mut()
            .find(|(k, _)| k.1 == "daemonsets" && k.3 == "nvidia-device-plugin-daemonset")
            .expect("ds");
        ds["spec"]["template"]["spec"]["containers"][0]["image"] = serde_json::json!("someone/else:latest");
    });
    server.reset_calls();
    let outcome = upgrade(&server, &desired).await.expect("re-applies");
    let writes: Vec<String> = server.calls().iter().filter(|c| c.writes()).map(|c| c.path.clone()).collect();
    assert_eq!(writes, ["/apis/apps/v1/namespaces/gpu-operator/daemonsets/nvidia-device-plugin-daemonset"]);
    let configured: Vec<&str> = outcome
        .stages
        .iter()
        .flat_map(|s| &s.objects)
        .filter(|a| a.action == Action::Configured)
        .map(|a| a.object.name.as_str())
        .collect();
    assert_eq!(configured, ["nvidia-device-plugin-daemonset"]);
}

#[tokio::test]
async fn given_a_stage_removed_the_upgrade_prunes_its_objects_and_nothing_else() {
    let server = Server::default();
    let before = desired(&[]);
    install(&server, &before, NO_WAIT).await.expect("installs");
    let after = desired(&["dcgmExporter.enabled=false"]);
    let gone: Vec<String> = before
        .stages
        .iter()
        .find(|(s, _)| s == "dcgm-exporter")
        .expect("stage")
        .1
        .iter()
        .map(|o| {
            format!("{}/{}", o["kind"].as_str().unwrap_or_default(), o["metadata"]["name"].as_str().unwrap_or_default())
        })
        .collect();
    let outcome = upgrade(&server, &after).await.expect("upgrades");
    let mut pruned: Vec<String> =
        outcome.pruned.iter().map(|a| format!("{}/{}", a.object.kind, a.object.name)).collect();
    pruned.sort();
    let mut expected = gone.clone();
    expected.sort();
    assert_eq!(pruned, expected);
    assert!(outcome.pruned.iter().all(|a| a.action == Action::Deleted));
    let record =
        record::read(&engine(&server, &after), "gpu-operator", "gpu-operator").await.expect("reads").expect("record");
    assert_eq!((record.revision, record.inventory.len()), (2, after.objects().count()));
    let left = server.with(|s| s.objects.keys().filter(|k| k.3.contains("dcgm-exporter")).count());
    assert_eq!(left, 0, "nothing of the stage is left");
    assert!(server.with(|s| s.objects.keys().any(|k| k.3 == "nvidia-device-plugin-daemonset")), "others stay");
}

#[tokio::test]
async fn given_transient_errors_and_a_concurrent_update_the_requests_are_retried() {
    let server = Server::default();
    let desired = desired(&[]);
    server.with(|s| {
        s.faults.push(Fault {
            method: "PATCH",
            path: "/daemonsets/nvidia-container-toolkit-daemonset".into(),
            code: 409,
            reason: "Conflict",
            message: "Operation cannot be fulfilled on daemonsets.apps \"nvidia-container-toolkit-daemonset\": the object has been modified; please apply your changes to the latest version and try again".into(),
            times: 2,
            raw: false,
        });
        s.faults.push(Fault { method: "GET", path: "/runtimeclasses/nvidia".into(), code: 503, reason: "ServiceUnavailable", message: "etcd leader changed".into(), times: 1, raw: false });
    });
    let outcome = install(&server, &desired, NO_WAIT).await.expect("installs after retries");
    assert!(outcome.stages.iter().flat_map(|s| &s.objects).all(|a| a.action == Action::Created));
    let patches = server
        .calls()
        .iter()
        .filter(|c| c.method == "PATCH" && c.path.ends_with("/nvidia-container-toolkit-daemonset"))
        .count();
    assert_eq!(patches, 3, "two conflicts, then the apply");
}

#[tokio::test]
async fn given_a_field_owned_by_another_manager_the_error_says_so_and_the_record_says_failed() {
    let server = Server::default();
    let desired = desired(&[]);
    server.with(|s| {
        s.faults.push(Fault {
            method: "PATCH",
            path: "/daemonsets/nvidia-device-plugin-daemonset".into(),
            code: 409,
            reason: "Conflict",
            message: "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.template.spec.containers[name=\"nvidia-device-plugin\"].image".into(),
            times: 10,
            raw: false,
        });
    });
    let err = install(&server, &desired, NO_WAIT).await.expect_err("conflict");
    let text = format!("{err:#}");
    assert!(text.starts_with("stage device-plugin: cannot apply DaemonSet gpu-operator/nvidia-device-plugin-daemonset: Apply failed with 1 conflict"), "{text}");
    assert!(text.contains("--force-conflicts"), "{text}");
    let patches = server
        .calls()
        .iter()
        .filter(|c| c.method == "PATCH" && c.path.ends_with("/nvidia-device-plugin-daemonset"))
        .count();
    assert_eq!(patches, 1, "an ownership conflict is not retried");
    let record =
        record::read(&engine(&server, &desired), "gpu-operator", "gpu-operator").await.expect("reads").expect("record");
    assert_eq!(record.phase, Phase::Failed);
    assert_eq!(record.inventory.len(), desired.objects().count(), "everything that may exist is listed");
}

#[tokio::test]
async fn given_a_daemonset_that_never_becomes_ready_the_timeout_names_it_and_later_stages_wait() {
    let server = Server::default();
    let desired = desired(&[]);
    server.with(|s| s.never_ready.push("nvidia-device-plugin-daemonset".into()));
    let waiting = Waiting { wait: true, timeout: Duration::from_millis(300), once: false };
    let err = install(&server, &desired, waiting).await.expect_err("times out");
    let text = format!("{err:#}");
    assert!(text.starts_with("stage device-plugin is not ready: timed out waiting for 1 object(s) to be ready: DaemonSet gpu-operator/nvidia-device-plugin-daemonset: 0 of 2 pods updated, 0 available"), "{text}");
    let stages = written_stages(&server, &desired);
    assert!(
        !stages.iter().any(|s| s == "dcgm-exporter" || s == "gpu-feature-discovery"),
        "later stages were not applied: {stages:?}"
    );
}

#[tokio::test]
async fn given_a_release_uninstall_deletes_in_reverse_stage_order_and_waits_for_workloads() {
    let server = Server::default();
    let desired = desired(&[]);
    install(&server, &desired, NO_WAIT).await.expect("installs");
    server.with(|s| s.linger = 3);
    server.reset_calls();
    let e = engine(&server, &desired);
    let outcome = release::uninstall(&e, "gpu-operator", "gpu-operator", WAIT, &Silent).await.expect("uninstalls");
    assert_eq!(outcome.pruned.len(), desired.objects().count());
    let calls = server.calls();
    let deletes: Vec<&str> = calls.iter().filter(|c| c.method == "DELETE").map(|c| c.path.as_str()).collect();
    // Reverse stage order: the first stage's objects (RuntimeClasses) go last, before the record.
    let stage_of = |path: &str| {
        desired.stages.iter().position(|(_, objects)| {
            objects.iter().any(|o| {
                path.ends_with(&format!("/{}", o["metadata"]["name"].as_str().unwrap_or_default()))
                    && path.contains(&o["kind"].as_str().unwrap_or_default().to_lowercase())
            })
        })
    };
    let positions: Vec<usize> = deletes.iter().filter_map(|p| stage_of(p)).collect();
    assert!(positions.windows(2).all(|w| w[0] >= w[1]), "reverse stage order: {positions:?}");
    assert!(deletes.last().expect("deletes").ends_with("/planreleases/gpu-operator"), "the record goes last");
    // Foreground deletion of the toolkit DaemonSet, then reads until it is gone.
    let toolkit = "/apis/apps/v1/namespaces/gpu-operator/daemonsets/nvidia-container-toolkit-daemonset";
    let delete_at = calls.iter().position(|c| c.method == "DELETE" && c.path == toolkit).expect("deleted");
    let options = calls[delete_at].body.as_ref().expect("DeleteOptions");
    assert_eq!(options["propagationPolicy"], "Foreground", "{:?}", calls[delete_at]);
    let reads_after = calls[delete_at..].iter().filter(|c| c.method == "GET" && c.path == toolkit).count();
    assert!(reads_after >= 4, "waited until the node agents were gone: {reads_after} reads");
    assert!(
        server.with(|s| s.objects.keys().all(|k| k.1 == "customresourcedefinitions")),
        "only the record's CRD stays"
    );
}

#[tokio::test]
async fn given_an_existing_release_install_refuses_and_upgrade_of_a_missing_one_refuses() {
    let server = Server::default();
    let desired = desired(&[]);
    let err = upgrade(&server, &desired).await.expect_err("nothing to upgrade");
    assert!(
        format!("{err:#}").contains("release gpu-operator not found in gpu-operator; use `gpuplan install`"),
        "{err:#}"
    );
    install(&server, &desired, NO_WAIT).await.expect("installs");
    server.reset_calls();
    let err = install(&server, &desired, NO_WAIT).await.expect_err("exists");
    assert!(
        format!("{err:#}").contains(
            "release gpu-operator already exists in gpu-operator (revision 1, Deployed); use `gpuplan upgrade`"
        ),
        "{err:#}"
    );
    assert!(server.calls().iter().all(|c| !c.writes()), "a refused install writes nothing");
}

const AGENTS: &str = "/apis/apps/v1/namespaces/gpu-operator/daemonsets/nvidia-container-toolkit-daemonset";
const REVERT: &str = "/apis/apps/v1/namespaces/gpu-operator/daemonsets/nvidia-container-toolkit-daemonset-revert";

/// Issue 12: uninstall reverts every GPU node before the node agents' other objects go: the
/// agents are stopped (foreground delete, awaited), a revert DaemonSet built from them runs
/// `node-agent revert --hold` until every pod is ready, then it is deleted.
#[tokio::test]
async fn given_a_release_uninstall_reverts_every_node_before_removing_the_node_agents() {
    let server = Server::default();
    let desired = desired(&[]);
    install(&server, &desired, NO_WAIT).await.expect("installs");
    server.reset_calls();
    let e = engine(&server, &desired);
    release::uninstall(&e, "gpu-operator", "gpu-operator", NO_WAIT, &Silent).await.expect("uninstalls");
    let calls = server.calls();
    let at = |method: &str, path: &str| calls.iter().position(|c| c.method == method && c.path == path && c.writes());
    let stopped = at("DELETE", AGENTS).expect("the node agents are deleted");
    let created = at("PATCH", REVERT).expect("the revert DaemonSet is applied");
    let removed = at("DELETE", REVERT).expect("and deleted once done");
    let account = at("DELETE", "/api/v1/namespaces/gpu-operator/serviceaccounts/nvidia-container-toolkit")
        .expect("the agents' ServiceAccount goes");
    assert!(stopped < created && created < removed && removed < account, "{stopped} {created} {removed} {account}");
    assert!(
        calls[stopped..created].iter().any(|c| c.method == "GET" && c.path == AGENTS),
        "the agents were awaited gone before the revert started"
    );
    let revert = calls[created].body.as_ref().expect("a body");
    let agent = &revert["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(agent["args"][0], "revert");
    assert_eq!(agent["args"][1], "--hold");
    assert!(calls[created..removed].iter().any(|c| c.method == "GET" && c.path == REVERT), "awaited ready");
    assert!(server.with(|s| s.objects.keys().all(|k| k.1 == "customresourcedefinitions")), "nothing else stays");
}

/// A node that is not reverted in time: uninstall fails saying so, the revert DaemonSet and the
/// release stay, and the next uninstall carries on.
#[tokio::test]
async fn given_a_node_that_does_not_revert_uninstall_fails_and_keeps_the_release() {
    let server = Server::default();
    let desired = desired(&[]);
    install(&server, &desired, NO_WAIT).await.expect("installs");
    server.with(|s| s.never_ready.push("nvidia-container-toolkit-daemonset-revert".into()));
    let e = engine(&server, &desired);
    let quick = Waiting { wait: false, timeout: Duration::from_millis(300), once: false };
    let err = release::uninstall(&e, "gpu-operator", "gpu-operator", quick, &Silent).await.expect_err("times out");
    let text = format!("{err:#}");
    assert!(text.contains("not every GPU node was reverted"), "{text}");
    assert!(text.contains("kubectl -n gpu-operator logs ds/nvidia-container-toolkit-daemonset-revert"), "{text}");
    assert!(record::read(&e, "gpu-operator", "gpu-operator").await.expect("reads").is_some(), "the release stays");
    assert!(server.with(|s| s.objects.keys().any(|k| k.3 == "nvidia-container-toolkit-daemonset-revert")));

    server.with(|s| s.never_ready.clear());
    release::uninstall(&e, "gpu-operator", "gpu-operator", NO_WAIT, &Silent).await.expect("the next one finishes");
    assert!(!server.with(|s| s.objects.keys().any(|k| k.3.starts_with("nvidia-container-toolkit-daemonset"))));
}

/// Turning the toolkit off in an upgrade prunes the node agents: the nodes are reverted first.
#[tokio::test]
async fn given_the_toolkit_turned_off_the_upgrade_reverts_the_nodes_before_pruning() {
    let server = Server::default();
    install(&server, &desired(&[]), NO_WAIT).await.expect("installs");
    server.reset_calls();
    upgrade(&server, &desired(&["toolkit.enabled=false"])).await.expect("upgrades");
    let calls = server.calls();
    assert!(calls.iter().any(|c| c.method == "PATCH" && c.path == REVERT && c.writes()), "the nodes were reverted");
    assert!(calls.iter().any(|c| c.method == "DELETE" && c.path == REVERT));
}

/// Issue 15 (3c): the wait for a CRD to be Established is the release's, bounded by
/// `--timeout` like every other wait (it was a fixed 60 s inside the engine).
#[tokio::test]
async fn given_a_crd_that_is_never_established_the_install_fails_within_its_timeout() {
    let server = Server::default();
    let mut desired = desired(&[]);
    let crd = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.x.gpuplan.dev"},
        "spec": {"group": "x.gpuplan.dev", "scope": "Cluster", "names": {"kind": "Widget", "plural": "widgets"},
                 "versions": [{"name": "v1", "served": true, "storage": true}]},
    });
    desired.stages.insert(0, ("crds".into(), vec![crd]));
    server.with(|s| s.never_ready.push("widgets.x.gpuplan.dev".into()));
    let waiting = Waiting { wait: false, timeout: Duration::from_millis(300), once: false };
    // A hang guard, not a speed test: before the fix this waited 60 s whatever the timeout.
    let result = tokio::time::timeout(Duration::from_secs(30), install(&server, &desired, waiting)).await;
    let err = result.expect("the install gives up at its own timeout").expect_err("the CRD is never Established");
    let text = format!("{err:#}");
    assert!(
        text.contains("stage crds")
            && text.contains("CustomResourceDefinition widgets.x.gpuplan.dev: not Established yet"),
        "{text}"
    );
    let stages = written_stages(&server, &desired);
    assert!(!stages.iter().any(|s| s == "pre-requisites"), "nothing after the CRD is applied: {stages:?}");
}

/// Issue 17: a second release that wants objects the first one owns is refused, as Helm refuses
/// it, before it writes anything; `--take-ownership` adopts them, and the first release's
/// uninstall then leaves them to their new owner.
#[tokio::test]
async fn given_objects_of_another_release_a_second_release_is_refused_and_writes_nothing() {
    let server = Server::default();
    let first = release_of("first", "ns-a", &[]);
    install(&server, &first, NO_WAIT).await.expect("the first release installs");
    let second = release_of("second", "ns-b", &[]);
    server.reset_calls();
    let err = install(&server, &second, NO_WAIT).await.expect_err("refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("RuntimeClass nvidia: it exists and cannot be imported into release second (namespace ns-b): it belongs to release first (namespace ns-a)"),
        "{text}"
    );
    assert!(text.contains("ClusterRole gpuplan-operator: it exists"), "every object is named: {text}");
    assert!(!text.contains("ServiceAccount"), "namespaced objects of another namespace are not the first's: {text}");
    assert!(server.calls().iter().all(|c| !c.writes()), "a refused release writes nothing, not even its record");

    // Adopted on request; the first release's uninstall then keeps what it lost.
    let options = Options { take_ownership: true, backoff: Duration::from_millis(1), ..Options::default() };
    let e = Engine::new(server.client(), options, second.objects());
    release::apply(&e, &second, Mode::Install, NO_WAIT, &Silent).await.expect("adopts");
    let e = engine(&server, &first);
    let outcome = release::uninstall(&e, "first", "ns-a", NO_WAIT, &Silent).await.expect("uninstalls");
    let kept: Vec<String> =
        outcome.pruned.iter().filter(|a| a.action == Action::Kept).map(|a| a.object.to_string()).collect();
    assert!(kept.contains(&"RuntimeClass nvidia".to_owned()), "{kept:?}");
    let key = ("/apis/node.k8s.io".to_owned(), "runtimeclasses".to_owned(), String::new(), "nvidia".to_owned());
    let label = server.with(|s| s.objects[&key]["metadata"]["labels"]["gpuplan.dev/release"].clone());
    assert_eq!(label, "second", "the adopted object stays with its new release");
}

/// Issue 17: answers of 404 whose body is not a `Status` (empty, `{}`, a proxy's text) mean the
/// object is gone; uninstall used to stop at them with `ApiError: (code 0)`.
#[tokio::test]
async fn given_404_answers_without_a_status_body_uninstall_takes_the_objects_as_gone() {
    let server = Server::default();
    let desired = desired(&[]);
    install(&server, &desired, NO_WAIT).await.expect("installs");
    server.with(|s| {
        s.faults.push(Fault::raw("DELETE", "/daemonsets/nvidia-dcgm-exporter", 404, "{}", 1));
        s.faults.push(Fault::raw("GET", "/daemonsets/nvidia-mig-manager", 404, "", 1));
        s.faults.push(Fault::raw("DELETE", "/configmaps/default-gpu-clients", 404, "404 page not found", 1));
    });
    let e = engine(&server, &desired);
    let outcome = release::uninstall(&e, "gpu-operator", "gpu-operator", NO_WAIT, &Silent).await.expect("uninstalls");
    let absent: Vec<&str> =
        outcome.pruned.iter().filter(|a| a.action == Action::Absent).map(|a| a.object.name.as_str()).collect();
    for name in ["nvidia-dcgm-exporter", "nvidia-mig-manager", "default-gpu-clients"] {
        assert!(absent.contains(&name), "{name} is taken as gone: {absent:?}");
    }
}

/// Issue 17: an error answer that is not a `Status` still says what the server said.
#[tokio::test]
async fn given_an_error_answer_without_a_status_the_error_says_what_the_server_answered() {
    let server = Server::default();
    let desired = desired(&[]);
    server.with(|s| s.faults.push(Fault::raw("PATCH", "/runtimeclasses/nvidia", 502, "<html>Bad Gateway</html>", 100)));
    let err = install(&server, &desired, NO_WAIT).await.expect_err("fails");
    let text = format!("{err:#}");
    assert!(text.contains("cannot apply RuntimeClass nvidia: <html>Bad Gateway</html> (HTTP 502"), "{text}");
}
