//! A saved plan taken to the test API server by the binary, as a GitOps pipeline does it:
//! `gpuplan plan --cluster > FILE`, `gpuplan diff --cluster --plan FILE`, then
//! `gpuplan install | upgrade --plan FILE`, each run as a process with `--kubeconfig` (a server
//! of this test's own, `kube_server.rs`).
//!
//! What is applied is the reviewed plan's objects, and the release records the plan's digest;
//! a plan made before the release moved on (stale) and a plan edited after it was made
//! (tampered) are refused with exit 2, and then nothing in the release's namespace or its record
//! has changed (every object's `resourceVersion` is as before).
//!
//! The README's CI recipe apply job (`plan --cluster` with the committed facts snapshot, `diff
//! --cluster --plan`, `upgrade --install --plan`) runs here too, as `sh -ec` with `KUBECONFIG`:
//! it installs, upgrades with the snapshot taken before the install (the APIs the release's
//! own CRDs add are not facts the plan depends on), and stops with exit 2, writing nothing,
//! when the snapshot no longer matches the cluster (a GPU node joined).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};

use super::cli_cluster::{args, ok, records};
use super::cluster::{gpuplan, install_crd, kubeconfig_elsewhere, seed_flags, service_monitor_crd};
use super::kube_server::KubeServer;

const NAMESPACE: &str = "gpu-operator";
const DEVICE_PLUGIN: &str = "nvidia-device-plugin-daemonset";

/// `gpuplan plan --cluster` with the seed's values and `more`, written to `dir/file`.
async fn plan(kubeconfig: &Path, dir: &Path, file: &str, more: &[&str]) -> PathBuf {
    let run = gpuplan(args(&["plan", "--cluster"], kubeconfig, seed_flags(more))).await;
    ok(&run);
    let path = dir.join(file);
    std::fs::write(&path, &run.stdout).expect("write the plan");
    path
}

/// The `planDigest` a saved plan was sealed with.
fn sealed_digest(plan: &Path) -> String {
    let text = std::fs::read_to_string(plan).expect("read the plan");
    let line = text.lines().find_map(|l| l.strip_prefix("planDigest: ")).expect("a sealed plan");
    line.trim().to_owned()
}

/// The resourceVersion of every workload and ConfigMap in the release's namespace and of its
/// record: any write to them changes it.
async fn versions(client: &kube::Client) -> BTreeMap<String, String> {
    let all = ListParams::default();
    let mut out = BTreeMap::new();
    let mut keep = |kind: &str, meta: &kube::api::ObjectMeta| {
        let name = meta.name.clone().unwrap_or_default();
        out.insert(format!("{kind}/{name}"), meta.resource_version.clone().unwrap_or_default());
    };
    for o in Api::<DaemonSet>::namespaced(client.clone(), NAMESPACE).list(&all).await.expect("lists") {
        keep("DaemonSet", &o.metadata);
    }
    for o in Api::<Deployment>::namespaced(client.clone(), NAMESPACE).list(&all).await.expect("lists") {
        keep("Deployment", &o.metadata);
    }
    for o in Api::<ConfigMap>::namespaced(client.clone(), NAMESPACE).list(&all).await.expect("lists") {
        keep("ConfigMap", &o.metadata);
    }
    for o in records(client, NAMESPACE).list(&all).await.expect("lists") {
        keep("PlanRelease", &o.metadata);
    }
    out
}

/// The device plugin's env value of `name`, as live.
async fn device_plugin_env(client: &kube::Client, name: &str) -> Option<String> {
    let ds = Api::<DaemonSet>::namespaced(client.clone(), NAMESPACE).get(DEVICE_PLUGIN).await.expect("the plugin");
    let pod = ds.spec.template.spec.expect("a pod");
    let container = pod.containers.iter().find(|c| c.name == "nvidia-device-plugin").expect("the plugin container");
    container.env.iter().flatten().find(|e| e.name == name).and_then(|e| e.value.clone())
}

/// The record's (revision, planDigest).
async fn record(client: &kube::Client) -> (Option<i64>, Option<String>) {
    let record = records(client, NAMESPACE).get("gpu-operator").await.expect("the release record");
    (record.data["spec"]["revision"].as_i64(), record.data["spec"]["planDigest"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn a_reviewed_plan_is_applied_as_made_and_a_stale_or_tampered_one_is_refused() {
    let Some(server) = KubeServer::private() else { return };
    let client = server.client().await;
    install_crd(&client, &service_monitor_crd()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = kubeconfig_elsewhere(&server, dir.path());
    let cluster = |command: &[&str], rest: Vec<String>| args(command, &kubeconfig, rest);
    let file = |path: &Path| path.display().to_string();

    // A new install: the plan says so, and install --plan applies it and records its digest.
    let first = plan(&kubeconfig, dir.path(), "first.yaml", &[]).await;
    assert!(std::fs::read_to_string(&first).expect("reads").contains("\nreleaseRevision: null\n"));
    let run = gpuplan(cluster(&["install", "--plan", &file(&first)], vec![])).await;
    ok(&run);
    assert!(run.stderr.contains("installed gpu-operator in gpu-operator (revision 1)"), "{run}");
    assert_eq!(record(&client).await, (Some(1), Some(sealed_digest(&first))));
    assert_eq!(device_plugin_env(&client, "FOO").await, None);

    // A values change planned against revision 1, and another one made at the same time.
    let change = ["devicePlugin.env[0].name=FOO", "devicePlugin.env[0].value=bar"];
    let second = plan(&kubeconfig, dir.path(), "second.yaml", &change).await;
    assert!(std::fs::read_to_string(&second).expect("reads").contains("\nreleaseRevision: 1\n"));
    let other = ["devicePlugin.env[0].name=FOO", "devicePlugin.env[0].value=other"];
    let stale = plan(&kubeconfig, dir.path(), "stale.yaml", &other).await;

    // diff --cluster --plan: exactly the change, and nothing is written.
    let before = versions(&client).await;
    let run = gpuplan(cluster(&["diff", "--cluster", "--detailed-exitcode", "--plan", &file(&second)], vec![])).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stdout.contains(&format!("gpu-operator, {DEVICE_PLUGIN}, DaemonSet (apps) has changed:")), "{run}");
    let added: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("+ ")).collect();
    assert!(added.iter().any(|l| l.contains("name: FOO")) && added.iter().any(|l| l.contains("value: bar")), "{run}");
    assert!(!run.stdout.contains("nvidia-container-toolkit-daemonset"), "only the changed object: {run}");
    assert_eq!(versions(&client).await, before, "a diff writes nothing");

    // upgrade --plan applies it.
    let run = gpuplan(cluster(&["upgrade", "--plan", &file(&second)], vec![])).await;
    ok(&run);
    assert!(run.stderr.contains("upgraded gpu-operator in gpu-operator (revision 2)"), "{run}");
    assert_eq!(device_plugin_env(&client, "FOO").await.as_deref(), Some("bar"));
    assert_eq!(record(&client).await, (Some(2), Some(sealed_digest(&second))));

    // The plan made alongside is stale now: refused, even forced, and nothing is written.
    let before = versions(&client).await;
    for force in [vec![], vec!["--force".to_owned()]] {
        let run = gpuplan(cluster(&["upgrade", "--plan", &file(&stale)], force)).await;
        assert_eq!(run.code, Some(2), "{run}");
        assert!(
            run.stderr.contains(
                "stale plan: made against revision 1, the release is at 2; plan again (`gpuplan plan --cluster`)"
            ),
            "{run}"
        );
    }
    assert_eq!(versions(&client).await, before, "a refused plan writes nothing");
    assert_eq!(device_plugin_env(&client, "FOO").await.as_deref(), Some("bar"));

    // A fresh plan edited after it was made: refused, and nothing is written.
    let fresh = plan(&kubeconfig, dir.path(), "fresh.yaml", &other).await;
    let text = std::fs::read_to_string(&fresh).expect("reads");
    assert!(text.contains("value: other"), "the plan carries the change");
    let tampered = dir.path().join("tampered.yaml");
    std::fs::write(&tampered, text.replacen("value: other", "value: evil", 1)).expect("write");
    let run = gpuplan(cluster(&["upgrade", "--plan", &file(&tampered)], vec![])).await;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains(&format!("refusing plan {}", file(&tampered))), "{run}");
    assert!(run.stderr.contains("the plan was changed after `gpuplan plan` made it"), "{run}");
    assert_eq!(versions(&client).await, before, "a refused plan writes nothing");

    // The same plan as made applies.
    ok(&gpuplan(cluster(&["upgrade", "--plan", &file(&fresh)], vec![])).await);
    assert_eq!(device_plugin_env(&client, "FOO").await.as_deref(), Some("other"));
    assert_eq!(record(&client).await, (Some(3), Some(sealed_digest(&fresh))));
}

/// The apply job of the README's CI recipe, as it runs there (`operator/tests/cli/ci_recipe.rs`
/// holds the README's jobs to exactly these lines).
const APPLY_JOB: &[&str] = &[
    "gpuplan plan --cluster -f gpu/values.yaml --facts gpu/facts.yaml > plan.yaml",
    "gpuplan diff --cluster --plan plan.yaml",
    "gpuplan upgrade --install --plan plan.yaml",
];

/// `sh -ec` the apply job in `dir`, `KUBECONFIG` naming the server: exit code, stdout + stderr.
async fn apply_job(dir: &Path, kubeconfig: &Path) -> (Option<i32>, String) {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_gpuplan"));
    let path = format!("{}:{}", bin.parent().expect("a dir").display(), std::env::var("PATH").unwrap_or_default());
    let (dir, kubeconfig) = (dir.to_owned(), kubeconfig.to_owned());
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("sh")
            .args(["-ec", &APPLY_JOB.join("\n")])
            .current_dir(dir)
            .env("PATH", path)
            .env("KUBECONFIG", kubeconfig)
            .env("NO_COLOR", "1")
            .output()
            .expect("sh runs");
        (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    })
    .await
    .expect("the job finishes")
}

#[tokio::test]
async fn the_readme_apply_job_installs_upgrades_and_stops_when_the_committed_facts_are_out_of_date() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README");
    for command in APPLY_JOB {
        assert!(readme.lines().any(|l| l.trim().trim_start_matches("- ") == *command), "README runs {command}");
    }
    let Some(server) = KubeServer::private() else { return };
    let client = server.client().await;
    install_crd(&client, &service_monitor_crd()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("gpu")).expect("mkdir");
    let values = "operator:\n  defaultRuntime: containerd\n";
    std::fs::write(dir.path().join("gpu/values.yaml"), values).expect("write");
    // The facts snapshot committed beside the values.
    let snapshot = || async {
        let run = gpuplan(vec!["facts".into(), "--kubeconfig".into(), server.kubeconfig().display().to_string()]).await;
        ok(&run);
        std::fs::write(dir.path().join("gpu/facts.yaml"), &run.stdout).expect("write");
        run.stdout
    };
    let before_install = snapshot().await;

    // The first merge installs; the plan recorded is the one the job made.
    let (code, out) = apply_job(dir.path(), &server.kubeconfig()).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("(revision 1)"), "{out}");
    assert_eq!(record(&client).await, (Some(1), Some(sealed_digest(&dir.path().join("plan.yaml")))));

    // The install serves the APIs of the CRDs the release brought (NFD's among them): a
    // snapshot taken now differs, but not in what the plan depends on, so the one committed
    // before the install still applies.
    let after_install = snapshot().await;
    let added: Vec<&str> = after_install.lines().filter(|l| !before_install.lines().any(|b| b == *l)).collect();
    assert!(added.contains(&"- nfd.k8s-sigs.io/v1alpha1"), "{added:?}");
    std::fs::write(dir.path().join("gpu/facts.yaml"), &before_install).expect("write");

    // A values change merged: the job log shows it, then it is applied.
    let changed = format!("{values}devicePlugin:\n  env:\n  - name: FOO\n    value: bar\n");
    std::fs::write(dir.path().join("gpu/values.yaml"), changed).expect("write");
    let (code, out) = apply_job(dir.path(), &server.kubeconfig()).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("gpu-operator, {DEVICE_PLUGIN}, DaemonSet (apps) has changed:")), "{out}");
    assert!(out.contains("(revision 2)"), "{out}");
    assert_eq!(device_plugin_env(&client, "FOO").await.as_deref(), Some("bar"));

    // The cluster gains a GPU node the committed facts do not know: the job stops with exit 2
    // and writes nothing until facts.yaml is refreshed.
    let node = serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gpu-new",
        "labels": {"nvidia.com/gpu.present": "true"}}});
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    nodes.create(&Default::default(), &serde_json::from_value(node).expect("a Node")).await.expect("adds a node");
    let before = versions(&client).await;
    let (code, out) = apply_job(dir.path(), &server.kubeconfig()).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("the plan was made for other cluster facts"), "{out}");
    assert_eq!(versions(&client).await, before, "a refused plan writes nothing");
}
