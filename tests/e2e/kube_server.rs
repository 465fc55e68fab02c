//! The test Kubernetes API server for the built-in kinds (`tests/kube-test-server`, built by
//! `scripts/install-kube-test-server`, named by `GPUPLAN_KUBE_TEST_SERVER`, with etcd from
//! `GPUPLAN_ETCD`) behaves as a real cluster where gpuplan relies on it.
//!
//! Given the server started by `scripts/kube-test-server start DIR` (one per test binary,
//! shared, each test in its own namespace and names), kube-rs 5 finds every kind the plan and the
//! operator use through discovery, legacy and aggregated; server-side apply merges a second
//! manager's env entry into `env` by name, replaces an atomic map whole, and reports a
//! conflict until forced; a DaemonSet's status changes only through `/status`; a watch sees an
//! apply; `dryRun=All` writes nothing; a CRD becomes Established and a custom resource of it can
//! be applied; a Lease is created and renewed under optimistic concurrency; and
//! `scripts/kube-test-server stop DIR` leaves nothing running.
//!
//! A test that owns cluster-scoped objects or watches the whole cluster takes a server of its
//! own ([`KubeServer::private`], stopped when dropped).
//!
//! The server and etcd must not outlive the test process, and a static is never dropped: a
//! watchdog (`sh`, in its own process group so that Ctrl-C does not stop it first) reads a pipe
//! whose write end only this process holds, and runs `scripts/kube-test-server stop DIR` when it
//! closes, however the process ends.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, PodSpec, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{Discovery, Scope};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::{Value, json};

use super::real::component;

/// gpuplan's field manager, and another manager's.
const GPUPLAN: &str = gpuplan::apply::FIELD_MANAGER;
const OTHER: &str = "other-tool";

/// The watchdog (see the module doc): waits for EOF on stdin, then stops the server in `$2`
/// with the script `$1` and removes the directory.
const WATCHDOG: &str = r#"cat >/dev/null
"$1" stop "$2" >/dev/null 2>&1
rm -rf "$2"
"#;

/// A test server started by `scripts/kube-test-server` in a temp dir, and its watchdog.
pub struct KubeServer {
    dir: PathBuf,
    /// Stops the server when dropped ([`KubeServer::private`]) or, for the shared server (a
    /// static, never dropped), when the process ends.
    _watchdog: Watchdog,
}

/// The watchdog of a server directory (see the module doc). Dropping it stops the server, removes
/// the directory and waits for both.
struct Watchdog {
    stdin: Option<ChildStdin>,
    child: Child,
}

impl Watchdog {
    fn spawn(dir: &Path, server: &Path, etcd: &Path) -> Result<Watchdog, String> {
        let mut child = Command::new("sh")
            .args(["-c", WATCHDOG, "gpuplan-kube-test-server-watchdog"])
            .arg(script())
            .arg(dir)
            .env("GPUPLAN_KUBE_TEST_SERVER", server)
            .env("GPUPLAN_ETCD", etcd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("watchdog (sh): {e}"))?;
        Ok(Watchdog { stdin: child.stdin.take(), child })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

static SHARED: OnceLock<Result<KubeServer, String>> = OnceLock::new();

impl KubeServer {
    /// The server of this test binary, started on first use. When it is not installed, the test
    /// fails, or is skipped with `GPUPLAN_SKIP_REAL=1` (`None`; see `real::component`).
    pub fn shared() -> Option<&'static KubeServer> {
        let installed = "from `scripts/install-test-deps`, named by target/test-deps/env";
        let server = component("GPUPLAN_KUBE_TEST_SERVER", &format!("the test Kubernetes API server ({installed})"))?;
        let etcd = component("GPUPLAN_ETCD", &format!("etcd ({installed})"))?;
        match SHARED.get_or_init(|| KubeServer::start(&server, &etcd)) {
            Ok(server) => Some(server),
            Err(message) => panic!("{message}"),
        }
    }

    /// A server of this test's own, stopped (and its directory removed) when dropped: for a test
    /// that owns cluster-scoped objects (RuntimeClasses, ClusterRoles, CRDs, Nodes, GPUPlans)
    /// or watches the whole cluster. Starting one takes about a second. Not installed: as
    /// [`KubeServer::shared`].
    pub fn private() -> Option<KubeServer> {
        let installed = "from `scripts/install-test-deps`, named by target/test-deps/env";
        let server = component("GPUPLAN_KUBE_TEST_SERVER", &format!("the test Kubernetes API server ({installed})"))?;
        let etcd = component("GPUPLAN_ETCD", &format!("etcd ({installed})"))?;
        Some(KubeServer::start(&server, &etcd).unwrap_or_else(|message| panic!("{message}")))
    }

    /// The admin kubeconfig `scripts/kube-test-server start` wrote (for `gpuplan --kubeconfig`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// `scripts/kube-test-server start` in a new temp dir, watched.
    fn start(server: &Path, etcd: &Path) -> Result<KubeServer, String> {
        let dir = temp_dir()?;
        // The watchdog first: from here on, nothing outlives this process.
        let watchdog = Watchdog::spawn(&dir, server, etcd)?;
        run_script("start", &dir, server, etcd)?;
        Ok(KubeServer { dir, _watchdog: watchdog })
    }

    /// A kube-rs client for this server. Make one per test: a client belongs to the tokio
    /// runtime it was made on.
    pub async fn client(&self) -> kube::Client {
        client_from(&self.dir.join("kubeconfig")).await
    }
}

/// A new directory for a server, removed by its watchdog.
fn temp_dir() -> Result<PathBuf, String> {
    let dir = tempfile::Builder::new().prefix("gpuplan-kube-test-server.").tempdir();
    Ok(dir.map_err(|e| format!("temp dir: {e}"))?.keep())
}

/// `scripts/kube-test-server`.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kube-test-server")
}

/// `scripts/kube-test-server COMMAND DIR`; the error carries its output (the logs on a failure).
fn run_script(command: &str, dir: &Path, server: &Path, etcd: &Path) -> Result<(), String> {
    let out = Command::new(script())
        .arg(command)
        .arg(dir)
        .env("GPUPLAN_KUBE_TEST_SERVER", server)
        .env("GPUPLAN_ETCD", etcd)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("scripts/kube-test-server {command}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "scripts/kube-test-server {command} {} failed ({}):\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    ))
}

async fn client_from(kubeconfig: &Path) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube-rs loads the kubeconfig");
    kube::Client::try_from(config).expect("a client")
}

/// A client of the shared server, or `None` when it is not installed (skipped).
async fn client() -> Option<kube::Client> {
    Some(KubeServer::shared()?.client().await)
}

async fn apply<K>(api: &Api<K>, manager: &str, object: &Value) -> Result<K, kube::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = object["metadata"]["name"].as_str().expect("the object has a name");
    api.patch(name, &PatchParams::apply(manager), &Patch::Apply(object)).await
}

/// The status of a failed API call.
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A DaemonSet of one container, `agent`, with `env` and the pod spec's `nodeSelector`.
fn daemon_set(name: &str, env: Value, node_selector: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "nodeSelector": node_selector,
                    "containers": [{"name": "agent", "image": "agent:1", "env": env}],
                },
            },
        },
    })
}

/// A partial DaemonSet another manager applies: only what it sets in the `agent` container.
fn container_patch(name: &str, container: Value) -> Value {
    let mut container = container;
    container["name"] = json!("agent");
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": [container]}}},
    })
}

fn pod_spec(ds: DaemonSet) -> PodSpec {
    ds.spec.template.spec.expect("a pod spec")
}

fn env_names(ds: DaemonSet) -> Vec<String> {
    pod_spec(ds).containers[0].env.iter().flatten().map(|e| e.name.clone()).collect()
}

#[tokio::test]
async fn discovery_lists_every_kind_gpuplan_uses() {
    let Some(client) = client().await else { return };
    // (group, version, kind, namespaced, has /status)
    let kinds = [
        ("", "v1", "ConfigMap", true, false),
        ("", "v1", "Secret", true, false),
        ("", "v1", "Service", true, true),
        ("", "v1", "ServiceAccount", true, false),
        ("", "v1", "Namespace", false, true),
        ("", "v1", "Node", false, true),
        ("", "v1", "Pod", true, true),
        ("", "v1", "Event", true, false),
        ("events.k8s.io", "v1", "Event", true, false),
        ("apps", "v1", "DaemonSet", true, true),
        ("apps", "v1", "Deployment", true, true),
        ("apps", "v1", "StatefulSet", true, true),
        ("batch", "v1", "Job", true, true),
        ("policy", "v1", "PodDisruptionBudget", true, true),
        ("networking.k8s.io", "v1", "NetworkPolicy", true, false),
        ("scheduling.k8s.io", "v1", "PriorityClass", false, false),
        ("rbac.authorization.k8s.io", "v1", "Role", true, false),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding", true, false),
        ("rbac.authorization.k8s.io", "v1", "ClusterRole", false, false),
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", false, false),
        ("node.k8s.io", "v1", "RuntimeClass", false, false),
        ("coordination.k8s.io", "v1", "Lease", true, false),
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", false, true),
    ];
    let legacy = Discovery::new(client.clone()).run().await.expect("legacy discovery (/api, /apis)");
    let aggregated = Discovery::new(client).run_aggregated().await.expect("aggregated discovery");
    for (how, discovery) in [("legacy", &legacy), ("aggregated", &aggregated)] {
        for (group, version, kind, namespaced, status) in kinds {
            let gvk = GroupVersionKind::gvk(group, version, kind);
            let (resource, caps) = discovery
                .resolve_gvk(&gvk)
                .unwrap_or_else(|| panic!("{how} discovery has no {group}/{version} {kind}"));
            let scope = if namespaced { Scope::Namespaced } else { Scope::Cluster };
            assert_eq!(caps.scope, scope, "{how}: scope of {kind}");
            let subresources: Vec<&str> = caps.subresources.iter().map(|(r, _)| r.plural.as_str()).collect();
            assert_eq!(
                subresources.contains(&"status"),
                status,
                "{how}: {kind} ({}) subresources {subresources:?}",
                resource.plural
            );
            assert!(caps.supports_operation("patch") && caps.supports_operation("watch"), "{how}: verbs of {kind}");
        }
    }
}

#[tokio::test]
async fn a_second_manager_adds_an_env_entry_by_name_and_an_atomic_map_is_replaced_whole() {
    let Some(client) = client().await else { return };
    let api: Api<DaemonSet> = Api::namespaced(client, "kts-merge");
    let ours =
        daemon_set("agent", json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]), json!({"gpu": "true"}));
    apply(&api, GPUPLAN, &ours).await.expect("gpuplan applies");

    // env is a list-map keyed by name: the other manager's entry joins gpuplan's two.
    let theirs = container_patch("agent", json!({"env": [{"name": "C", "value": "3"}]}));
    let merged = apply(&api, OTHER, &theirs).await.expect("the other manager applies one env entry");
    assert_eq!(env_names(merged.clone()), ["A", "B", "C"]);
    let entry = merged.metadata.managed_fields.iter().flatten().find(|m| m.manager.as_deref() == Some(OTHER));
    let owned = entry.and_then(|m| m.fields_v1.as_ref()).expect("the other manager's fields").0.clone();
    let env = &owned["f:spec"]["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"agent"}"#]["f:env"];
    let keys: Vec<&str> = env.as_object().into_iter().flat_map(|o| o.keys()).map(String::as_str).collect();
    assert_eq!(keys, [r#"k:{"name":"C"}"#]);

    // gpuplan applying its own two again leaves the other manager's entry alone.
    let again = apply(&api, GPUPLAN, &ours).await.expect("gpuplan applies again");
    assert_eq!(env_names(again), ["A", "B", "C"]);

    // nodeSelector is an atomic map: forced, the other manager's map replaces gpuplan's whole,
    // where a granular map (labels) would have merged.
    let selector = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
                          "spec": {"template": {"spec": {"nodeSelector": {"zone": "a"}}}}});
    let status = api_error(apply(&api, OTHER, &selector).await);
    assert_eq!(status.code, 409, "{status:?}");
    let forced =
        api.patch("agent", &PatchParams::apply(OTHER).force(), &Patch::Apply(&selector)).await.expect("forced");
    let pod = pod_spec(forced);
    assert_eq!(pod.node_selector, Some([("zone".to_owned(), "a".to_owned())].into()));
}

#[tokio::test]
async fn a_conflict_names_the_owner_and_the_field_until_forced() {
    let Some(client) = client().await else { return };
    let api: Api<DaemonSet> = Api::namespaced(client, "kts-conflict");
    apply(&api, GPUPLAN, &daemon_set("agent", json!([{"name": "A", "value": "1"}]), json!({}))).await.expect("apply");

    let image = container_patch("agent", json!({"image": "agent:2"}));
    let status = api_error(apply(&api, OTHER, &image).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"), "{status:?}");
    assert!(status.message.contains(r#"conflict with "gpuplan""#), "{}", status.message);
    assert!(status.message.contains(r#".spec.template.spec.containers[name="agent"].image"#), "{}", status.message);
    let env = container_patch("agent", json!({"env": [{"name": "A", "value": "changed"}]}));
    let status = api_error(apply(&api, OTHER, &env).await);
    assert!(status.message.contains(r#".env[name="A"].value"#), "{}", status.message);

    let forced = api.patch("agent", &PatchParams::apply(OTHER).force(), &Patch::Apply(&image)).await.expect("forced");
    let pod = pod_spec(forced);
    assert_eq!(pod.containers[0].image.as_deref(), Some("agent:2"));
    // gpuplan lost the image, so its next apply of agent:1 conflicts in turn.
    let status =
        api_error(apply(&api, GPUPLAN, &daemon_set("agent", json!([{"name": "A", "value": "1"}]), json!({}))).await);
    assert!(status.message.contains(&format!(r#"conflict with "{OTHER}""#)), "{}", status.message);
}

#[tokio::test]
async fn a_daemon_sets_status_changes_only_through_its_subresource() {
    let Some(client) = client().await else { return };
    let api: Api<DaemonSet> = Api::namespaced(client, "kts-status");
    let applied = apply(&api, GPUPLAN, &daemon_set("agent", json!([]), json!({}))).await.expect("apply");
    assert_eq!(applied.metadata.generation, Some(1));

    // The test is the DaemonSet controller.
    let status = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
                        "status": {"desiredNumberScheduled": 2, "numberReady": 2, "currentNumberScheduled": 2,
                                   "numberMisscheduled": 0, "updatedNumberScheduled": 2, "observedGeneration": 1}});
    let patched = api
        .patch_status("agent", &PatchParams::apply("test-controller"), &Patch::Apply(&status))
        .await
        .expect("status apply");
    assert_eq!(patched.status.map(|s| s.number_ready), Some(2));
    assert_eq!(patched.metadata.generation, Some(1), "a status change is not a new generation");

    // Status in an apply to the object itself is ignored; a spec change is a new generation.
    let mut with_status = daemon_set("agent", json!([{"name": "A", "value": "1"}]), json!({}));
    with_status["status"] = json!({"numberReady": 99});
    let applied = apply(&api, GPUPLAN, &with_status).await.expect("apply with status");
    assert_eq!(applied.status.map(|s| s.number_ready), Some(2));
    assert_eq!(applied.metadata.generation, Some(2));
}

#[tokio::test]
async fn a_watch_sees_an_apply() {
    let Some(client) = client().await else { return };
    let api: Api<ConfigMap> = Api::namespaced(client, "kts-watch");
    let version = api.list(&Default::default()).await.expect("list").metadata.resource_version.expect("a version");
    let params = WatchParams::default().fields("metadata.name=watched").timeout(30);
    let mut events = api.watch(&params, &version).await.expect("watch").boxed();
    let config_map =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "watched"}, "data": {"k": "v"}});
    apply(&api, GPUPLAN, &config_map).await.expect("apply");
    let event = tokio::time::timeout(Duration::from_secs(20), events.try_next()).await;
    match event.expect("an event within 20 s").expect("a watch event").expect("the watch is open") {
        WatchEvent::Added(cm) => assert_eq!(cm.data.unwrap_or_default().get("k").map(String::as_str), Some("v")),
        other => panic!("expected Added, got {other:?}"),
    }
}

#[tokio::test]
async fn dry_run_all_writes_nothing() {
    let Some(client) = client().await else { return };
    let api: Api<Secret> = Api::namespaced(client, "kts-dry-run");
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token"},
                        "stringData": {"token": "s3cret"}});
    // A dry-run create answers with the object as stored: stringData merged into data.
    let object: Secret = serde_json::from_value(secret.clone()).expect("a Secret");
    let preview =
        api.create(&PostParams { dry_run: true, ..Default::default() }, &object).await.expect("dry-run create");
    assert_eq!(preview.data.unwrap_or_default().get("token").map(|b| b.0.as_slice()), Some(&b"s3cret"[..]));
    assert!(api.get_opt("token").await.expect("get").is_none(), "a dry-run create stored the Secret");

    let stored = apply(&api, GPUPLAN, &secret).await.expect("apply");
    let mut change = secret.clone();
    change["stringData"]["token"] = json!("changed");
    let preview = api
        .patch("token", &PatchParams::apply(GPUPLAN).dry_run(), &Patch::Apply(&change))
        .await
        .expect("dry-run apply");
    assert_eq!(preview.data.unwrap_or_default().get("token").map(|b| b.0.as_slice()), Some(&b"changed"[..]));
    api.delete("token", &DeleteParams { dry_run: true, ..Default::default() }).await.expect("dry-run delete");
    let after = api.get("token").await.expect("still there");
    assert_eq!(after.metadata.resource_version, stored.metadata.resource_version);
    assert_eq!(after.data.unwrap_or_default().get("token").map(|b| b.0.as_slice()), Some(&b"s3cret"[..]));
}

#[tokio::test]
async fn a_crd_becomes_established_and_a_custom_resource_of_it_applies() {
    let Some(client) = client().await else { return };
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.kts.gpuplan.dev"},
        "spec": {
            "group": "kts.gpuplan.dev",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                              "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}],
        },
    });
    apply(&crds, GPUPLAN, &crd).await.expect("apply the CRD");
    let established = await_condition(crds, "widgets.kts.gpuplan.dev", conditions::is_crd_established());
    tokio::time::timeout(Duration::from_secs(30), established).await.expect("Established in 30 s").expect("watch");

    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("kts.gpuplan.dev", "v1", "Widget"), "widgets");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "kts-crd", &resource);
    let widget =
        json!({"apiVersion": "kts.gpuplan.dev/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}});
    let applied = apply(&widgets, GPUPLAN, &widget).await.expect("apply the custom resource");
    assert_eq!(applied.data["spec"]["size"], 3);

    // Its group is listed in the legacy /apis too (the aggregator's job in a real cluster).
    let discovery = Discovery::new(client).run().await.expect("legacy discovery");
    assert!(discovery.has_group("kts.gpuplan.dev"), "kts.gpuplan.dev not in /apis");
}

#[tokio::test]
async fn a_lease_is_created_and_renewed_under_optimistic_concurrency() {
    let Some(client) = client().await else { return };
    let api: Api<Lease> = Api::namespaced(client, "kts-lease");
    let lease = |holder: &str, renew: &str| -> Lease {
        serde_json::from_value(json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "gpuplan-operator"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renew}}))
        .expect("a Lease")
    };
    let created = api.create(&PostParams::default(), &lease("a", "2026-01-01T00:00:00.000000Z")).await.expect("create");

    let mut renewed = lease("a", "2026-01-01T00:00:05.000000Z");
    renewed.metadata.resource_version = created.metadata.resource_version.clone();
    let renewed = api.replace("gpuplan-operator", &PostParams::default(), &renewed).await.expect("renew");
    assert_ne!(renewed.metadata.resource_version, created.metadata.resource_version);

    // A candidate that read the lease before the renewal loses the race.
    let mut stale = lease("b", "2026-01-01T00:00:06.000000Z");
    stale.metadata.resource_version = created.metadata.resource_version;
    let status = api_error(api.replace("gpuplan-operator", &PostParams::default(), &stale).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"), "{status:?}");
    let holder = api.get("gpuplan-operator").await.expect("get").spec.and_then(|s| s.holder_identity);
    assert_eq!(holder.as_deref(), Some("a"));
}

#[test]
fn start_and_stop_leave_nothing_running() {
    let installed = "from `scripts/install-test-deps`";
    let Some(server) = component("GPUPLAN_KUBE_TEST_SERVER", &format!("the test Kubernetes API server ({installed})"))
    else {
        return;
    };
    let Some(etcd) = component("GPUPLAN_ETCD", &format!("etcd ({installed})")) else { return };
    let dir = temp_dir().unwrap_or_else(|e| panic!("{e}"));
    let _watchdog = Watchdog::spawn(&dir, &server, &etcd).unwrap_or_else(|e| panic!("{e}"));
    run_script("start", &dir, &server, &etcd).unwrap_or_else(|e| panic!("{e}"));
    let pids: Vec<u32> = ["etcd", "kube-test-server"]
        .iter()
        .map(|name| {
            let file = std::fs::read_to_string(dir.join(format!("{name}.pid"))).expect("a pid file");
            file.lines().next().and_then(|l| l.parse().ok()).expect("a pid")
        })
        .collect();
    assert!(pids.iter().all(|&pid| running(pid)), "both run after start: {pids:?}");
    assert!(dir.join("kubeconfig").is_file(), "start writes the kubeconfig");

    let stopped = run_script("stop", &dir, &server, &etcd);
    let left: Vec<u32> = pids.iter().copied().filter(|&pid| running(pid)).collect();
    stopped.unwrap_or_else(|e| panic!("{e}"));
    assert!(left.is_empty(), "still running after stop: {left:?}");
    assert!(dir.join("kube-test-server.log").is_file(), "the logs stay");
}

/// Whether process `pid` exists and has not exited (a zombie waits only to be reaped).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}
