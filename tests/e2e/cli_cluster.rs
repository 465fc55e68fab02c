//! The cluster commands end to end: `gpuplan install | upgrade | uninstall | diff --cluster`,
//! each run as a process with `--kubeconfig` against the test API server
//! (`kube_server.rs`; a server per test, since every release owns cluster-scoped objects), with
//! the plan's objects as they are — RuntimeClasses, RBAC, ConfigMaps, Services, DaemonSets,
//! Deployments, the NFD CRDs and a ServiceMonitor — and the test playing the DaemonSet and
//! Deployment controllers (`cluster.rs`) where readiness or the node revert needs them.
//!
//! Every command is given a kubeconfig whose current context is another cluster, and
//! `--kube-context` to reach the server: the flag is spelled and honoured alike on all of them.

use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::node::v1::RuntimeClass;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;

use super::cluster::{
    Controllers, Run, eventually, gpuplan, install_crd, kubeconfig_elsewhere, seed_flags, service_monitor_crd,
};
use super::kube_server::KubeServer;

/// `gpuplan COMMAND` with the release flags, the cluster flags and then `rest`.
pub(super) fn args(command: &[&str], kubeconfig: &std::path::Path, rest: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
    out.extend([
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
        "--kube-context".into(),
        "kube-test-server".into(),
    ]);
    out.extend(rest);
    out
}

/// The release records (`PlanRelease`) in `namespace`.
pub(super) fn records(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("gpuplan.dev", "v1alpha1", "PlanRelease");
    Api::namespaced_with(client.clone(), namespace, &ApiResource::from_gvk_with_plural(&gvk, "planreleases"))
}

/// The run succeeded.
pub(super) fn ok(run: &Run) {
    assert_eq!(run.code, Some(0), "{run}");
}

#[tokio::test]
async fn install_diff_upgrade_and_uninstall_run_as_commands_with_the_seed_values() {
    let Some(server) = KubeServer::private() else { return };
    let client = server.client().await;
    install_crd(&client, &service_monitor_crd()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = kubeconfig_elsewhere(&server, dir.path());

    // install: every object as planned, the release recorded, the GPUPlan CRD brought along.
    let run = gpuplan(args(&["install"], &kubeconfig, seed_flags(&[]))).await;
    ok(&run);
    assert!(run.stderr.contains("installed gpu-operator in gpu-operator (revision 1)"), "{run}");
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), "gpu-operator");
    let toolkit = daemon_sets.get("nvidia-container-toolkit-daemonset").await.expect("the node agents");
    let agent = toolkit.spec.template.spec.expect("a pod").containers;
    let agent = agent.iter().find(|c| c.name == "node-agent").expect("the node-agent container");
    let env = |name: &str| agent.env.iter().flatten().find(|e| e.name == name).and_then(|e| e.value.clone());
    // The seed's `--set ...value=true` is the string the schema says (Helm would send a boolean).
    assert_eq!(env("NVIDIA_RUNTIME_SET_AS_DEFAULT").as_deref(), Some("true"), "the seed's values reached the agents");
    assert_eq!(env("CONTAINERD_SOCKET").as_deref(), Some("/runtime/sock-dir/containerd.sock"), "mounted as planned");
    let managers: Vec<String> =
        toolkit.metadata.managed_fields.iter().flatten().filter_map(|m| m.manager.clone()).collect();
    assert_eq!(managers, ["gpuplan"], "server-side applied by gpuplan alone");
    Api::<RuntimeClass>::all(client.clone()).get("nvidia").await.expect("the RuntimeClass");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.get("gpuplans.gpuplan.dev").await.expect("install brings the GPUPlan CRD for the operator it deploys");
    let record = records(&client, "gpu-operator").get("gpu-operator").await.expect("the release record");
    assert_eq!(
        (record.data["spec"]["revision"].as_i64(), record.data["spec"]["phase"].as_str()),
        (Some(1), Some("deployed"))
    );

    // diff --cluster: nothing differs right after the install; a values change does.
    let run = gpuplan(args(&["diff", "--cluster", "--detailed-exitcode"], &kubeconfig, seed_flags(&[]))).await;
    assert_eq!(run.code, Some(0), "nothing differs after the install: {run}");
    let change = seed_flags(&["devicePlugin.env[0].name=FOO", "devicePlugin.env[0].value=bar"]);
    let run = gpuplan(args(&["diff", "--cluster", "--detailed-exitcode"], &kubeconfig, change)).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout.contains("gpu-operator, nvidia-device-plugin-daemonset, DaemonSet (apps) has changed:"),
        "{run}"
    );
    assert!(run.stdout.contains("+ ") && run.stdout.contains("FOO"), "{run}");
    assert!(!run.stdout.contains("nvidia-container-toolkit-daemonset"), "only the changed object: {run}");

    // upgrade: a stage turned off is pruned; the rest stays.
    let run = gpuplan(args(&["upgrade"], &kubeconfig, seed_flags(&["dcgmExporter.enabled=false"]))).await;
    ok(&run);
    assert!(run.stderr.contains("upgraded gpu-operator in gpu-operator (revision 2)"), "{run}");
    assert!(daemon_sets.get_opt("nvidia-dcgm-exporter").await.expect("reads").is_none(), "pruned: {run}");
    let monitors = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        "gpu-operator",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"),
            "servicemonitors",
        ),
    );
    assert!(monitors.get_opt("nvidia-dcgm-exporter").await.expect("reads").is_none(), "its ServiceMonitor too");
    assert!(daemon_sets.get_opt("nvidia-device-plugin-daemonset").await.expect("reads").is_some());

    // uninstall: the nodes are reverted (the test plays the DaemonSet controller for the revert
    // DaemonSet), then everything goes; gpuplan's CRDs stay, as a chart's crds/ do.
    let controllers = Controllers::start(&client);
    let run = gpuplan(args(&["uninstall"], &kubeconfig, vec!["--timeout".into(), "2m".into()])).await;
    ok(&run);
    assert!(run.stderr.contains("node revert nvidia-container-toolkit-daemonset"), "{run}");
    assert!(run.stderr.contains("nvidia-container-toolkit-daemonset-revert deleted"), "{run}");
    drop(controllers);
    let left = Api::<DaemonSet>::all(client.clone()).list(&ListParams::default()).await.expect("lists").items;
    assert!(
        left.is_empty(),
        "no DaemonSet left: {:?}",
        left.iter().map(|d| d.metadata.name.clone()).collect::<Vec<_>>()
    );
    assert!(Api::<RuntimeClass>::all(client.clone()).get_opt("nvidia").await.expect("reads").is_none());
    assert!(
        Api::<ServiceAccount>::namespaced(client.clone(), "gpu-operator")
            .list(&ListParams::default())
            .await
            .expect("lists")
            .items
            .is_empty()
    );
    assert!(
        records(&client, "gpu-operator").get_opt("gpu-operator").await.expect("reads").is_none(),
        "the record goes"
    );
    // Deleting a CRD is finished by the API server in the background (its custom resources
    // go first), and `uninstall` without `--wait` does not wait for it: under load the CRD
    // was still there a moment after the command returned.
    eventually(Duration::from_secs(30), "the plan's CRDs go with it", || async {
        crds.get_opt("nodefeatures.nfd.k8s-sigs.io").await.expect("reads").is_none().then_some(())
    })
    .await;
    for name in ["gpuplans.gpuplan.dev", "planreleases.gpuplan.dev"] {
        assert!(crds.get_opt(name).await.expect("reads").is_some(), "{name} belongs to no release and stays");
    }
}

#[tokio::test]
async fn install_wait_waits_for_every_stage_and_a_failed_release_uninstalls() {
    let Some(server) = KubeServer::private() else { return };
    let client = server.client().await;
    install_crd(&client, &service_monitor_crd()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = kubeconfig_elsewhere(&server, dir.path());

    // No controller: the operator's Deployment never becomes available, the install fails at
    // its stage and the release is recorded as failed.
    let wait =
        |timeout: &str| [vec!["--wait".to_owned(), "--timeout".into(), timeout.into()], seed_flags(&[])].concat();
    let run = gpuplan(args(&["install"], &kubeconfig, wait("5s"))).await;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("stage gpuplan-operator is not ready"), "{run}");
    assert!(
        run.stderr.contains("Deployment gpu-operator/gpuplan-operator: the controller has not seen generation 1 yet"),
        "{run}"
    );
    let record = records(&client, "gpu-operator").get("gpu-operator").await.expect("the release record");
    assert_eq!(record.data["spec"]["phase"], "failed");
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), "gpu-operator");
    assert!(daemon_sets.list(&ListParams::default()).await.expect("lists").items.is_empty(), "later stages waited");

    // The failed release uninstalls.
    let run = gpuplan(args(&["uninstall"], &kubeconfig, vec![])).await;
    ok(&run);
    assert!(records(&client, "gpu-operator").get_opt("gpu-operator").await.expect("reads").is_none(), "{run}");
    assert!(Api::<RuntimeClass>::all(client.clone()).get_opt("nvidia").await.expect("reads").is_none(), "{run}");

    // With the test as the controllers, install --wait waits for each stage and succeeds.
    let _controllers = Controllers::start(&client);
    let run = gpuplan(args(&["install"], &kubeconfig, wait("2m"))).await;
    ok(&run);
    for stage in
        ["pre-requisites", "gpuplan-operator", "driver", "container-toolkit", "device-plugin", "node-feature-discovery"]
    {
        assert!(run.stderr.contains(&format!("stage {stage}: done in")), "{stage}: {run}");
    }
    for ds in daemon_sets.list(&ListParams::default()).await.expect("lists").items {
        let status = ds.status.expect("the controller's status");
        assert_eq!(status.observed_generation, ds.metadata.generation, "{:?}", ds.metadata.name);
    }
}

#[tokio::test]
async fn a_second_release_that_wants_the_first_ones_objects_is_refused() {
    let Some(server) = KubeServer::private() else { return };
    let client = server.client().await;
    install_crd(&client, &service_monitor_crd()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = kubeconfig_elsewhere(&server, dir.path());

    let first = [vec!["first".to_owned(), "-n".into(), "ns-a".into()], seed_flags(&[])].concat();
    ok(&gpuplan(args(&["install"], &kubeconfig, first)).await);
    let second = [vec!["second".to_owned(), "-n".into(), "ns-b".into()], seed_flags(&[])].concat();
    let run = gpuplan(args(&["install"], &kubeconfig, second)).await;
    assert_eq!(run.code, Some(2), "{run}");
    for object in
        ["RuntimeClass nvidia", "ClusterRole gpuplan-operator", "CustomResourceDefinition nodefeatures.nfd.k8s-sigs.io"]
    {
        let refusal = format!(
            "{object}: it exists and cannot be imported into release second (namespace ns-b): it belongs to release first (namespace ns-a)"
        );
        assert!(run.stderr.contains(&refusal), "{refusal}\n{run}");
    }
    assert!(
        records(&client, "ns-b").get_opt("second").await.expect("reads").is_none(),
        "no record of the refused release"
    );
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), "ns-b").list(&ListParams::default()).await;
    assert!(accounts.expect("lists").items.is_empty(), "nothing of the refused release is written");
    let nvidia = Api::<RuntimeClass>::all(client.clone()).get("nvidia").await.expect("reads");
    let labels = nvidia.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("gpuplan.dev/release").map(String::as_str), Some("first"), "still the first's");

    // The first release's objects are left alone by an uninstall of the second (it has none).
    let run = gpuplan(args(&["uninstall", "second", "-n", "ns-b"], &kubeconfig, vec![])).await;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("release second not found in ns-b"), "{run}");
}
