//! The apply engine against the test API server (`kube_server.rs`, a server per test), with the
//! plan's objects as they are: the seed's default plan goes through install (waiting stage by
//! stage, the test playing the DaemonSet and Deployment controllers), a no-op re-apply that
//! only reads, server-side apply's merge of another manager's env entry on the real DaemonSet
//! schema, the cluster diff, an upgrade that prunes a stage, a field taken by `kubectl edit`,
//! and uninstall with the node revert — the release record a real `PlanRelease`. The request
//! counts are printed, for the record.

use std::time::{Duration, Instant};

use gpuplan::apply::engine::{Action, Engine, Options};
use gpuplan::apply::live;
use gpuplan::apply::progress::Silent;
use gpuplan::apply::record::{self, Phase};
use gpuplan::apply::release::{self, Desired, Mode, Waiting};
use k8s_openapi::api::apps::v1::DaemonSet;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

use super::cluster::{Controllers, desired, install_crd, service_monitor_crd};
use super::kube_server::KubeServer;

fn engine(client: &kube::Client, desired: &Desired, force: bool) -> Engine {
    let options = Options { force_conflicts: force, poll: Duration::from_millis(100), ..Options::default() };
    Engine::new(client.clone(), options, desired.objects())
}

fn count(outcome: &release::Outcome, action: Action) -> usize {
    outcome.stages.iter().flat_map(|s| &s.objects).filter(|a| a.action == action).count()
}

fn env_names(ds: &DaemonSet, container: &str) -> Vec<String> {
    let pod = ds.spec.template.spec.as_ref().expect("a pod");
    let c = pod.containers.iter().find(|c| c.name == container).expect("the container");
    c.env.iter().flatten().map(|e| e.name.clone()).collect()
}

#[tokio::test]
async fn the_seed_plan_installs_re_applies_prunes_and_uninstalls_on_the_test_api_server() {
    let Some(server) = KubeServer::private() else { return };
    let client = server.client().await;
    install_crd(&client, &service_monitor_crd()).await;
    let _controllers = Controllers::start(&client);
    let (name, namespace) = ("e2e", "gpu-e2e");
    let before = desired(name, namespace, &[]);
    let total = before.objects().count();
    let wait = Waiting { wait: true, timeout: Duration::from_secs(120), once: false };

    // Install, waiting stage by stage.
    let started = Instant::now();
    let e = engine(&client, &before, false);
    let outcome = release::apply(&e, &before, Mode::Install, wait, &Silent).await.expect("installs");
    let took = started.elapsed();
    let not_created: Vec<String> = outcome
        .stages
        .iter()
        .flat_map(|s| &s.objects)
        .filter(|a| a.action != Action::Created)
        .map(|a| format!("{} {:?}", a.object, a.action))
        .collect();
    assert_eq!(not_created, Vec::<String>::new());
    eprintln!(
        "test API server: installed {total} objects in {:.2}s, waits included; {:?}",
        took.as_secs_f64(),
        outcome.requests
    );
    let record = record::read(&e, name, namespace).await.expect("reads").expect("the PlanRelease exists");
    assert_eq!((record.phase, record.inventory.len()), (Phase::Deployed, total));

    // A no-op re-apply only reads.
    let e = engine(&client, &before, false);
    let outcome =
        release::apply(&e, &before, Mode::Upgrade { install_missing: false }, wait, &Silent).await.expect("re-applies");
    assert_eq!(count(&outcome, Action::Unchanged), total);
    let r = outcome.requests;
    assert_eq!((r.patch, r.delete), (0, 0), "no writes: {r:?}");
    eprintln!("test API server: no-op re-apply of {total} objects: {} GET + {} LIST, no writes", r.get, r.list);

    // Another manager adds an env entry to a container gpuplan owns: server-side apply merges
    // `env` by name on the real schema, gpuplan's re-apply keeps it and writes nothing.
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    let theirs = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "nvidia-device-plugin-daemonset"},
        "spec": {"template": {"spec": {"containers": [{"name": "nvidia-device-plugin", "env": [{"name": "THEIRS", "value": "1"}]}]}}}});
    daemon_sets
        .patch("nvidia-device-plugin-daemonset", &PatchParams::apply("another-tool"), &Patch::Apply(&theirs))
        .await
        .expect("another manager applies one env entry");
    let e = engine(&client, &before, false);
    let outcome =
        release::apply(&e, &before, Mode::Upgrade { install_missing: false }, wait, &Silent).await.expect("re-applies");
    assert_eq!(outcome.requests.patch, 0, "another manager's entry is no difference to gpuplan");
    let ds = daemon_sets.get("nvidia-device-plugin-daemonset").await.expect("reads");
    assert!(env_names(&ds, "nvidia-device-plugin").contains(&"THEIRS".to_owned()), "merged, not replaced");

    // The cluster diff sees a values change before it is applied, and writes nothing.
    let changed = desired(name, namespace, &["devicePlugin.env[0].name=FOO", "devicePlugin.env[0].value=bar"]);
    let e = engine(&client, &changed, false);
    let (old, new, warnings) = live::sides(&e, &changed).await.expect("diffs");
    assert_eq!(warnings, Vec::<String>::new());
    let report = gpuplan_compiler::diff(&old, &new);
    let names: Vec<&str> = report.objects.iter().map(|o| o.key.name.as_str()).collect();
    assert_eq!(names, ["nvidia-device-plugin-daemonset"], "only the changed object differs");
    assert!(
        report.objects[0]
            .fields
            .iter()
            .any(|f| f.path == "spec.template.spec.containers[name=nvidia-device-plugin].env[name=FOO]"),
        "{:?}",
        report.objects[0].fields
    );
    assert_eq!(e.stats.counts().written, 0, "a diff writes nothing");

    // Upgrade with a stage removed: its objects are pruned.
    let after = desired(name, namespace, &["dcgmExporter.enabled=false"]);
    let e = engine(&client, &after, false);
    let outcome =
        release::apply(&e, &after, Mode::Upgrade { install_missing: false }, wait, &Silent).await.expect("upgrades");
    let gone = before.stages.iter().find(|(s, _)| s == "dcgm-exporter").expect("stage").1.len();
    assert_eq!(outcome.pruned.len(), gone);
    assert!(daemon_sets.get_opt("nvidia-dcgm-exporter").await.expect("reads").is_none(), "pruned");

    // `kubectl edit` (an update) takes a field from gpuplan: gpuplan's apply of a new value
    // conflicts, and --force-conflicts takes it back.
    let edit = json!({"spec": {"updateStrategy": {"type": "OnDelete"}}});
    let patch = PatchParams { field_manager: Some("kubectl-edit".into()), ..Default::default() };
    daemon_sets.patch("nvidia-device-plugin-daemonset", &patch, &Patch::Merge(&edit)).await.expect("edited");
    let e = engine(&client, &after, false);
    let err = release::apply(&e, &after, Mode::Upgrade { install_missing: false }, wait, &Silent)
        .await
        .expect_err("conflict");
    let text = format!("{err:#}");
    assert!(text.contains("conflict with \"kubectl-edit\"") && text.contains("--force-conflicts"), "{text}");
    let e = engine(&client, &after, true);
    release::apply(&e, &after, Mode::Upgrade { install_missing: false }, wait, &Silent).await.expect("forced");
    let ds = daemon_sets.get("nvidia-device-plugin-daemonset").await.expect("reads");
    assert_eq!(ds.spec.update_strategy.and_then(|u| u.type_).as_deref(), Some("RollingUpdate"));

    // Uninstall: the nodes reverted first, then everything and the record go.
    let e = engine(&client, &after, false);
    let outcome = release::uninstall(&e, name, namespace, wait, &Silent).await.expect("uninstalls");
    assert_eq!(outcome.pruned.len(), after.objects().count());
    assert!(daemon_sets.list(&ListParams::default()).await.expect("lists").items.is_empty());
    assert!(record::read(&e, name, namespace).await.expect("reads").is_none());
}

#[tokio::test]
async fn a_daemonset_that_never_becomes_ready_times_out_by_name() {
    let Some(server) = KubeServer::private() else { return };
    let client = server.client().await;
    install_crd(&client, &service_monitor_crd()).await;
    let controllers = Controllers::start(&client);
    controllers.hold("nvidia-device-plugin-daemonset");
    let namespace = "gpu-e2e-timeout";
    let d = desired("e2e-timeout", namespace, &[]);
    let e = engine(&client, &d, false);
    let waiting = Waiting { wait: true, timeout: Duration::from_secs(20), once: false };
    let err = release::apply(&e, &d, Mode::Install, waiting, &Silent).await.expect_err("times out");
    let text = format!("{err:#}");
    assert!(
        text.contains("stage device-plugin is not ready")
            && text.contains(
                "DaemonSet gpu-e2e-timeout/nvidia-device-plugin-daemonset: the controller has not seen generation 1 yet"
            ),
        "{text}"
    );
    let record = record::read(&e, "e2e-timeout", namespace).await.expect("reads").expect("record");
    assert_eq!(record.phase, Phase::Failed);
}
