//! The apply engine against the real API server (`apiserver.rs`): the whole default plan,
//! each object's kind served by a CRD-defined stand-in (group `plan.stand-in.gpuplan.dev`,
//! same kind and scope as the real one, any fields), goes through install, a no-op re-apply,
//! drift, the cluster diff, an upgrade that prunes a stage, a field owned by another manager,
//! and uninstall — with the release record as a real `PlanRelease` custom resource. A pretend
//! controller marks stand-in DaemonSets and Deployments ready through the status subresource.

use std::time::{Duration, Instant};

use gpuplan::apply::engine::{Action, Engine, Options};
use gpuplan::apply::live;
use gpuplan::apply::progress::Silent;
use gpuplan::apply::record::{self, Phase};
use gpuplan::apply::release::{self, Desired, Mode, Waiting};
use gpuplan_compiler::plan::Release;
use gpuplan_compiler::{FlagKind, InputFlag, Inputs};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::{Value as J, json};

use super::apiserver::ApiServer;

const GROUP: &str = "plan.stand-in.gpuplan.dev";

/// The default plan (with `flags`), every object moved to its stand-in kind.
fn desired(name: &str, namespace: &str, flags: &[&str]) -> Desired {
    let inputs = Inputs {
        files: Vec::new(),
        flags: flags.iter().map(|f| InputFlag { kind: FlagKind::Set, text: (*f).to_owned() }).collect(),
    };
    let user = gpuplan_compiler::load(&inputs, &mut |_| Err("no files".into())).expect("loads");
    let effective = gpuplan_compiler::coalesce(user).expect("coalesces");
    let config = gpuplan_compiler::resolve(&effective.values).expect("resolves");
    let (node, _) = gpuplan_compiler::node_runtime(&config);
    let release = Release { name: name.into(), namespace: namespace.into(), kube_version: "1.36".into() };
    let plan = gpuplan_compiler::plan(&config, node, release, &effective.values).expect("plans");
    let mut desired = Desired::from_plan(&plan, effective.values.to_json(), Vec::new());
    for (_, objects) in &mut desired.stages {
        for o in objects {
            o["apiVersion"] = json!(format!("{GROUP}/v1"));
        }
    }
    desired
}

/// A stand-in CRD: the kind's scope, any fields, a status subresource.
fn stand_in(kind: &str, namespaced: bool) -> J {
    let plural = format!("{}s", kind.to_lowercase());
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{GROUP}")},
        "spec": {"group": GROUP, "scope": if namespaced { "Namespaced" } else { "Cluster" },
                 "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase()},
                 "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    })
}

const NAMESPACED: &[&str] =
    &["ServiceAccount", "ConfigMap", "Service", "Role", "RoleBinding", "DaemonSet", "Deployment", "ServiceMonitor"];
const CLUSTER: &[&str] = &["RuntimeClass", "ClusterRole", "ClusterRoleBinding"];

fn engine(client: &kube::Client, desired: &Desired, force: bool) -> Engine {
    let options = Options { force_conflicts: force, poll: Duration::from_millis(100), ..Options::default() };
    Engine::new(client.clone(), options, desired.objects())
}

/// Install the stand-in CRDs (through the engine: they are a stage of their own).
async fn stand_ins(client: &kube::Client) {
    let crds: Vec<J> =
        NAMESPACED.iter().map(|k| stand_in(k, true)).chain(CLUSTER.iter().map(|k| stand_in(k, false))).collect();
    let setup = Desired {
        name: "stand-ins".into(),
        namespace: "default".into(),
        digest: "stand-ins".into(),
        kube_version: "1.36".into(),
        values: json!({}),
        stages: vec![("crds".into(), crds)],
        shared: Vec::new(),
    };
    let e = engine(client, &setup, false);
    let waiting = Waiting { wait: true, timeout: Duration::from_secs(60), once: false };
    release::apply(&e, &setup, Mode::Upgrade { install_missing: true }, waiting, &Silent).await.expect("stand-in CRDs");
}

/// A pretend controller manager: marks every stand-in DaemonSet and Deployment of `namespace`
/// ready (except `never`), and, as the garbage collector would once their pods are gone,
/// finishes their foreground deletion (this server runs no garbage collector). Until aborted.
fn pretend_controller(client: kube::Client, namespace: &str, never: &'static str) -> tokio::task::JoinHandle<()> {
    let namespace = namespace.to_owned();
    tokio::spawn(async move {
        loop {
            for (kind, status) in [
                ("DaemonSet", json!({"desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 2})),
                ("Deployment", json!({"updatedReplicas": 1, "availableReplicas": 1})),
            ] {
                let gvk = GroupVersionKind::gvk(GROUP, "v1", kind);
                let ar = ApiResource::from_gvk_with_plural(&gvk, &format!("{}s", kind.to_lowercase()));
                let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &ar);
                let Ok(list) = api.list(&ListParams::default()).await else { continue };
                for o in list.items {
                    let name = o.metadata.name.clone().unwrap_or_default();
                    if o.metadata.deletion_timestamp.is_some() {
                        let done = json!({"metadata": {"finalizers": null}});
                        let _ = api.patch(&name, &PatchParams::default(), &Patch::Merge(&done)).await;
                        continue;
                    }
                    let generation = o.metadata.generation.unwrap_or(0);
                    let observed = o.data["status"]["observedGeneration"].as_i64().unwrap_or(-1);
                    if name == never || observed == generation {
                        continue;
                    }
                    let mut s = status.clone();
                    s["observedGeneration"] = json!(generation);
                    let patch = json!({"apiVersion": format!("{GROUP}/v1"), "kind": kind, "status": s});
                    let _ = api
                        .patch_status(&name, &PatchParams::apply("pretend-controller").force(), &Patch::Apply(&patch))
                        .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

fn count(outcome: &release::Outcome, action: Action) -> usize {
    outcome.stages.iter().flat_map(|s| &s.objects).filter(|a| a.action == action).count()
}

#[tokio::test]
async fn the_default_plan_installs_re_applies_prunes_and_uninstalls_on_a_real_api_server() {
    let Some(server) = ApiServer::shared() else { return };
    let client = server.client().await;
    stand_ins(&client).await;
    let (name, namespace) = ("e2e", "gpu-e2e");
    let before = desired(name, namespace, &[]);
    let total = before.objects().count();
    let controller = pretend_controller(client.clone(), namespace, "");
    let wait = Waiting { wait: true, timeout: Duration::from_secs(60), once: false };

    // Install, waiting stage by stage.
    let started = Instant::now();
    let e = engine(&client, &before, false);
    let outcome = release::apply(&e, &before, Mode::Install, wait, &Silent).await.expect("installs");
    let took = started.elapsed();
    assert_eq!(count(&outcome, Action::Created), total);
    eprintln!(
        "real API server: installed {total} objects in {:.2}s ({:.0} objects/s, waits included); {:?}",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64(),
        outcome.requests
    );
    let ds_api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, "v1", "DaemonSet"), "daemonsets"),
    );
    let toolkit = ds_api.get("nvidia-container-toolkit-daemonset").await.expect("applied");
    let managers: Vec<String> =
        toolkit.metadata.managed_fields.iter().flatten().filter_map(|m| m.manager.clone()).collect();
    assert!(managers.contains(&"gpuplan".to_owned()), "server-side applied by gpuplan: {managers:?}");
    let record = record::read(&e, name, namespace).await.expect("reads").expect("the PlanRelease exists");
    assert_eq!((record.phase, record.inventory.len()), (Phase::Deployed, total));

    // A no-op re-apply only reads.
    let e = engine(&client, &before, false);
    let outcome =
        release::apply(&e, &before, Mode::Upgrade { install_missing: false }, wait, &Silent).await.expect("re-applies");
    assert_eq!(count(&outcome, Action::Unchanged), total);
    let r = outcome.requests;
    assert_eq!((r.patch, r.delete), (0, 0), "no writes: {r:?}");
    eprintln!("real API server: no-op re-apply of {total} objects: {} GET + {} LIST, no writes", r.get, r.list);

    // The cluster diff sees a values change before it is applied, and writes nothing.
    let changed = desired(name, namespace, &["devicePlugin.env[0].name=FOO,devicePlugin.env[0].value=bar"]);
    let e = engine(&client, &changed, false);
    let (old, new, warnings) = live::sides(&e, &changed).await.expect("diffs");
    assert_eq!(warnings, Vec::<String>::new());
    let report = gpuplan_compiler::diff(&old, &new);
    let names: Vec<&str> = report.objects.iter().map(|o| o.key.name.as_str()).collect();
    assert_eq!(names, ["nvidia-device-plugin-daemonset"], "only the changed object differs");
    assert_eq!(
        report.objects[0].fields[0].path,
        "spec.template.spec.containers[name=nvidia-device-plugin].env[name=FOO]"
    );
    assert_eq!(e.stats.counts().patch, total as u64, "one dry run per object");

    // Upgrade with a stage removed: its objects are pruned, by inventory and label.
    let after = desired(name, namespace, &["dcgmExporter.enabled=false"]);
    let e = engine(&client, &after, false);
    let outcome =
        release::apply(&e, &after, Mode::Upgrade { install_missing: false }, wait, &Silent).await.expect("upgrades");
    let gone = before.stages.iter().find(|(s, _)| s == "dcgm-exporter").expect("stage").1.len();
    assert_eq!(outcome.pruned.len(), gone);
    assert!(ds_api.get_opt("nvidia-dcgm-exporter").await.expect("reads").is_none(), "pruned");
    let labelled =
        ds_api.list(&ListParams::default().labels(&format!("gpuplan.dev/release={name}"))).await.expect("lists");
    assert!(labelled.items.iter().all(|o| o.metadata.name.as_deref() != Some("nvidia-dcgm-exporter")));

    // Another manager takes a field: gpuplan's apply conflicts, and --force-conflicts takes it back.
    let patch = json!({"apiVersion": format!("{GROUP}/v1"), "kind": "DaemonSet", "spec": {"updateStrategy": {"type": "OnDelete"}}});
    ds_api
        .patch("nvidia-device-plugin-daemonset", &PatchParams::apply("kubectl-edit").force(), &Patch::Apply(&patch))
        .await
        .expect("another manager applies");
    let e = engine(&client, &after, false);
    let err = release::apply(&e, &after, Mode::Upgrade { install_missing: false }, wait, &Silent)
        .await
        .expect_err("conflict");
    let text = format!("{err:#}");
    assert!(text.contains("conflict with \"kubectl-edit\"") && text.contains("--force-conflicts"), "{text}");
    let e = engine(&client, &after, true);
    release::apply(&e, &after, Mode::Upgrade { install_missing: false }, wait, &Silent).await.expect("forced");
    let ds = ds_api.get("nvidia-device-plugin-daemonset").await.expect("reads");
    assert_eq!(ds.data["spec"]["updateStrategy"]["type"], "RollingUpdate");

    // Uninstall: everything and the record go.
    let e = engine(&client, &after, false);
    let outcome = release::uninstall(&e, name, namespace, wait, &Silent).await.expect("uninstalls");
    assert_eq!(outcome.pruned.len(), after.objects().count());
    assert!(ds_api.list(&ListParams::default()).await.expect("lists").items.is_empty());
    assert!(record::read(&e, name, namespace).await.expect("reads").is_none());
    controller.abort();
}

#[tokio::test]
async fn a_stand_in_daemonset_that_never_becomes_ready_times_out_by_name() {
    let Some(server) = ApiServer::shared() else { return };
    let client = server.client().await;
    stand_ins(&client).await;
    let namespace = "gpu-e2e-timeout";
    let mut d = desired("e2e-timeout", namespace, &[]);
    // Namespaced objects only: cluster-scoped names are the other test's.
    for (_, objects) in &mut d.stages {
        objects.retain(|o| NAMESPACED.contains(&o["kind"].as_str().unwrap_or_default()));
    }
    d.stages.retain(|(_, objects)| !objects.is_empty());
    let controller = pretend_controller(client.clone(), namespace, "nvidia-device-plugin-daemonset");
    let e = engine(&client, &d, false);
    let waiting = Waiting { wait: true, timeout: Duration::from_secs(3), once: false };
    let err = release::apply(&e, &d, Mode::Install, waiting, &Silent).await.expect_err("times out");
    let text = format!("{err:#}");
    assert!(
        text.contains("stage device-plugin is not ready")
            && text
                .contains("DaemonSet gpu-e2e-timeout/nvidia-device-plugin-daemonset: 0 of 2 pods updated, 0 available")
            || text.contains("DaemonSet gpu-e2e-timeout/nvidia-device-plugin-daemonset: the controller has not seen"),
        "{text}"
    );
    let record = record::read(&e, "e2e-timeout", namespace).await.expect("reads").expect("record");
    assert_eq!(record.phase, Phase::Failed);
    controller.abort();
}
