//! The real API server behaves as the apply engine will rely on.
//!
//! Given the shared test server (`apiserver.rs`) and a CRD-defined stand-in `DaemonSet`
//! (`stand_in.rs`: group `stand-in.gpuplan.dev`, with a status subresource), each test runs
//! kube-rs 5 in its own namespace and asserts what the server did: CRDs become Established and
//! serve their kind; server-side apply records gpuplan as field manager, is a no-op when nothing
//! changed and prunes what gpuplan stops applying; a second manager's apply of a gpuplan field is
//! a 409 Conflict until forced; a dry-run apply returns the merged object and stores nothing;
//! list and delete work by label selector; a watch sees an apply; a schema violation is rejected
//! with the API's message, every field named; status changes only through the status
//! subresource; the kubeconfig authenticates as admin.
//!
//! Some answers are surprising and are pinned here because the apply engine must handle them:
//! a mistyped or undeclared field is a 500 with no reason (not a 422), an applied empty map is
//! owned and conflicts, and an anonymous request is a 500 (not a 403).

use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

use super::apiserver::ApiServer;
use super::stand_in::{STAND_IN_GROUP, install_crd, stand_in_crd};

/// gpuplan's field manager (the one the apply engine will use).
const FIELD_MANAGER: &str = "gpuplan";

/// The stand-in DaemonSets of `namespace`, or `None` when the server is not installed (skipped).
async fn daemon_sets(namespace: &str) -> Option<Api<DynamicObject>> {
    let client = ApiServer::shared()?.client().await;
    let resource = install_crd(&client, &stand_in_crd("DaemonSet")).await;
    Some(Api::namespaced_with(client, namespace, &resource))
}

/// A stand-in DaemonSet to apply. Empty `labels` are left out: an applied empty map is a field
/// of its own, which a second manager applying the same empty map conflicts with (see
/// `an_applied_empty_map_is_owned_and_conflicts`).
fn daemon_set(name: &str, labels: Value, spec: Value) -> Value {
    let mut object = json!({
        "apiVersion": format!("{STAND_IN_GROUP}/v1"),
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": spec,
    });
    if labels.as_object().is_some_and(|l| !l.is_empty()) {
        object["metadata"]["labels"] = labels;
    }
    object
}

async fn apply(api: &Api<DynamicObject>, manager: &str, object: &Value) -> Result<DynamicObject, kube::Error> {
    let name = object["metadata"]["name"].as_str().expect("the object has a name");
    api.patch(name, &PatchParams::apply(manager), &Patch::Apply(object)).await
}

/// The fields `manager` owns through `operation`, as the server's `fieldsV1` JSON.
fn owned_fields(object: &DynamicObject, manager: &str, operation: &str) -> Option<Value> {
    object.metadata.managed_fields.as_ref()?.iter().find_map(|entry| {
        (entry.manager.as_deref() == Some(manager) && entry.operation.as_deref() == Some(operation))
            .then(|| entry.fields_v1.as_ref().map(|f| f.0.clone()))
            .flatten()
    })
}

/// The status of a failed API call.
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_crd_becomes_established_and_its_kind_is_served() {
    let Some(server) = ApiServer::shared() else { return };
    let client = server.client().await;

    // The version the server reports comes from the -X ldflags of scripts/install-apiserver.
    let version = client.apiserver_version().await.expect("GET /version");
    assert_eq!(version.major, "1");
    assert!(
        version.git_version.starts_with(&format!("v1.{}.", version.minor)),
        "gitVersion {:?} does not match minor {:?}",
        version.git_version,
        version.minor
    );

    let crd = stand_in_crd("SmokeWidget");
    let resource = install_crd(&client, &crd).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let stored = crds.get("smokewidgets.stand-in.gpuplan.dev").await.expect("the CRD is stored");
    let conditions = stored.status.and_then(|s| s.conditions).unwrap_or_default();
    for wanted in ["NamesAccepted", "Established"] {
        let condition = conditions.iter().find(|c| c.type_ == wanted);
        assert_eq!(condition.map(|c| c.status.as_str()), Some("True"), "{wanted} in {conditions:?}");
    }
    assert_eq!((resource.group.as_str(), resource.plural.as_str()), (STAND_IN_GROUP, "smokewidgets"));

    let widgets: Api<DynamicObject> = Api::namespaced_with(client, "smoke-crd", &resource);
    assert!(widgets.list(&ListParams::default()).await.expect("the new kind is served").items.is_empty());
}

#[tokio::test]
async fn server_side_apply_records_gpuplan_as_field_manager() {
    let Some(api) = daemon_sets("smoke-ssa").await else { return };
    let first = daemon_set("agent", json!({"app": "agent", "tier": "node"}), json!({"minReadySeconds": 5}));

    let applied = apply(&api, FIELD_MANAGER, &first).await.expect("apply");
    let stored = api.get("agent").await.expect("get");
    let managers: Vec<_> = stored.metadata.managed_fields.iter().flatten().map(|m| m.manager.clone()).collect();
    assert_eq!(managers, [Some(FIELD_MANAGER.to_owned())]);
    let owned = owned_fields(&stored, FIELD_MANAGER, "Apply").expect("gpuplan's Apply entry");
    assert_eq!(owned["f:spec"], json!({"f:minReadySeconds": {}}));
    assert_eq!(owned["f:metadata"]["f:labels"], json!({"f:app": {}, "f:tier": {}}));
    assert_eq!(stored.metadata.generation, Some(1));

    // Applying the same object again changes nothing, not even the resourceVersion.
    let again = apply(&api, FIELD_MANAGER, &first).await.expect("apply again");
    assert_eq!(again.metadata.resource_version, applied.metadata.resource_version);

    // A field gpuplan stops applying, and only gpuplan owned, is removed.
    let second = daemon_set("agent", json!({"app": "agent"}), json!({"minReadySeconds": 5}));
    let pruned = apply(&api, FIELD_MANAGER, &second).await.expect("apply without the tier label");
    let labels = pruned.metadata.labels.unwrap_or_default();
    assert_eq!(labels.keys().collect::<Vec<_>>(), ["app"]);
}

#[tokio::test]
async fn another_managers_apply_of_a_gpuplan_field_conflicts_until_forced() {
    let Some(api) = daemon_sets("smoke-conflict").await else { return };
    let ours = daemon_set("agent", json!({}), json!({"minReadySeconds": 10}));
    let theirs = daemon_set("agent", json!({}), json!({"minReadySeconds": 20}));
    apply(&api, FIELD_MANAGER, &ours).await.expect("gpuplan applies");

    // Applying the same value is not a conflict: both managers now own the field.
    apply(&api, "helm", &ours).await.expect("the same value is shared, not a conflict");

    let status = api_error(apply(&api, "helm", &theirs).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"), "{status:?}");
    assert!(status.message.contains(r#"conflict with "gpuplan""#), "{}", status.message);
    assert!(status.message.contains(".spec.minReadySeconds"), "{}", status.message);
    assert_eq!(api.get("agent").await.expect("get").data["spec"]["minReadySeconds"], 10);

    // Forcing takes the field over: helm owns it alone, and now gpuplan is the one in conflict.
    let forced =
        api.patch("agent", &PatchParams::apply("helm").force(), &Patch::Apply(&theirs)).await.expect("forced apply");
    assert_eq!(forced.data["spec"]["minReadySeconds"], 20);
    assert_eq!(
        owned_fields(&forced, "helm", "Apply").expect("helm's entry")["f:spec"],
        json!({"f:minReadySeconds": {}})
    );
    let ours_now = owned_fields(&forced, FIELD_MANAGER, "Apply").unwrap_or_default();
    assert!(ours_now.get("f:spec").is_none(), "gpuplan still owns spec fields: {ours_now}");
    let status = api_error(apply(&api, FIELD_MANAGER, &ours).await);
    assert!(status.message.contains(r#"conflict with "helm""#), "{}", status.message);
}

#[tokio::test]
async fn a_dry_run_apply_returns_the_merged_object_and_stores_nothing() {
    let Some(api) = daemon_sets("smoke-dry-run").await else { return };
    let stored = apply(&api, FIELD_MANAGER, &daemon_set("agent", json!({}), json!({"minReadySeconds": 5})))
        .await
        .expect("apply");
    // Another writer (an Update, as kubectl edit makes) adds an annotation gpuplan never applies.
    let edit = json!({"metadata": {"annotations": {"edited-by": "someone"}}});
    let edited = api
        .patch(
            "agent",
            &PatchParams { field_manager: Some("kubectl-edit".to_owned()), ..Default::default() },
            &Patch::Merge(&edit),
        )
        .await
        .expect("merge patch");
    assert_ne!(edited.metadata.resource_version, stored.metadata.resource_version);

    let change = daemon_set("agent", json!({}), json!({"minReadySeconds": 7}));
    let preview = api
        .patch("agent", &PatchParams::apply(FIELD_MANAGER).dry_run(), &Patch::Apply(&change))
        .await
        .expect("dry-run apply");
    assert_eq!(preview.data["spec"]["minReadySeconds"], 7);
    assert_eq!(preview.metadata.annotations.unwrap_or_default().get("edited-by").map(String::as_str), Some("someone"));
    assert_eq!(preview.metadata.generation, Some(2), "the preview shows the generation the change would make");

    let after = api.get("agent").await.expect("get");
    assert_eq!(after.data["spec"]["minReadySeconds"], 5);
    assert_eq!(after.metadata.resource_version, edited.metadata.resource_version);

    // A dry-run apply of a new object creates nothing.
    let new = daemon_set("not-created", json!({}), json!({}));
    let preview = api
        .patch("not-created", &PatchParams::apply(FIELD_MANAGER).dry_run(), &Patch::Apply(&new))
        .await
        .expect("dry-run apply of a new object");
    assert_eq!(preview.metadata.name.as_deref(), Some("not-created"));
    assert!(api.get_opt("not-created").await.expect("get").is_none());
}

#[tokio::test]
async fn list_and_delete_by_label_selector() {
    let Some(api) = daemon_sets("smoke-labels").await else { return };
    for (name, labels) in [
        ("driver", json!({"app.kubernetes.io/managed-by": "gpuplan", "gpuplan.dev/stage": "driver"})),
        ("toolkit", json!({"app.kubernetes.io/managed-by": "gpuplan", "gpuplan.dev/stage": "toolkit"})),
        ("other", json!({"app.kubernetes.io/managed-by": "helm"})),
    ] {
        apply(&api, FIELD_MANAGER, &daemon_set(name, labels, json!({}))).await.expect("apply");
    }
    let names = |list: kube::core::ObjectList<DynamicObject>| {
        let mut names: Vec<String> = list.items.into_iter().filter_map(|o| o.metadata.name).collect();
        names.sort();
        names
    };
    let ours = ListParams::default().labels("app.kubernetes.io/managed-by=gpuplan");
    assert_eq!(names(api.list(&ours).await.expect("list")), ["driver", "toolkit"]);
    let set_based = ListParams::default().labels("gpuplan.dev/stage in (driver),app.kubernetes.io/managed-by");
    assert_eq!(names(api.list(&set_based).await.expect("list")), ["driver"]);

    let deleted = api.delete_collection(&DeleteParams::default(), &ours).await.expect("delete by selector");
    let deleted = deleted.left().expect("the deleted objects are returned");
    assert_eq!(names(deleted), ["driver", "toolkit"]);
    assert_eq!(names(api.list(&ListParams::default()).await.expect("list")), ["other"]);
}

#[tokio::test]
async fn a_watch_sees_an_apply() {
    let Some(api) = daemon_sets("smoke-watch").await else { return };
    let version = api.list(&ListParams::default()).await.expect("list").metadata.resource_version.expect("a version");
    let params = WatchParams::default().fields("metadata.name=watched").timeout(30);
    let mut events = api.watch(&params, &version).await.expect("watch").boxed();
    let mut next = async || {
        let event = tokio::time::timeout(std::time::Duration::from_secs(20), events.try_next()).await;
        event.expect("an event within 20 s").expect("a watch event").expect("the watch is open")
    };

    apply(&api, FIELD_MANAGER, &daemon_set("watched", json!({}), json!({"minReadySeconds": 1}))).await.expect("apply");
    match next().await {
        WatchEvent::Added(o) => assert_eq!(o.data["spec"]["minReadySeconds"], 1),
        other => panic!("expected Added, got {other:?}"),
    }
    apply(&api, FIELD_MANAGER, &daemon_set("watched", json!({}), json!({"minReadySeconds": 2}))).await.expect("apply");
    match next().await {
        WatchEvent::Modified(o) => assert_eq!(o.data["spec"]["minReadySeconds"], 2),
        other => panic!("expected Modified, got {other:?}"),
    }
}

#[tokio::test]
async fn a_schema_violation_is_rejected_with_the_apis_message() {
    let Some(api) = daemon_sets("smoke-invalid").await else { return };
    let invalid =
        daemon_set("invalid", json!({}), json!({"minReadySeconds": -1, "updateStrategy": {"type": "Sometimes"}}));
    let status = api_error(apply(&api, FIELD_MANAGER, &invalid).await);
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"), "{status:?}");
    // Every violation is reported, in one message and one cause per field.
    for expected in [
        "spec.minReadySeconds: Invalid value: -1: spec.minReadySeconds in body should be greater than or equal to 0",
        r#"spec.updateStrategy.type: Unsupported value: "Sometimes": supported values: "RollingUpdate", "OnDelete""#,
    ] {
        assert!(status.message.contains(expected), "{expected}\nnot in: {}", status.message);
    }
    let mut fields: Vec<String> = status.details.into_iter().flat_map(|d| d.causes).map(|c| c.field).collect();
    fields.sort();
    assert_eq!(fields, ["spec.minReadySeconds", "spec.updateStrategy.type"]);

    // A value of the wrong type fails earlier, when the apply patch is typed, and the server
    // calls that an internal error: code 500, no reason. It is still the caller's mistake.
    let mistyped = daemon_set("mistyped", json!({}), json!({"minReadySeconds": "soon"}));
    let status = api_error(apply(&api, FIELD_MANAGER, &mistyped).await);
    assert_eq!((status.code, status.reason.as_str()), (500, ""), "{status:?}");
    assert!(
        status.message.contains(".spec.minReadySeconds: expected numeric (int or float), got string"),
        "{}",
        status.message
    );

    // A field the schema does not declare is an error too, not silently dropped.
    let unknown = daemon_set("unknown", json!({}), json!({"minReadySecond": 5}));
    let status = api_error(apply(&api, FIELD_MANAGER, &unknown).await);
    assert!(status.message.contains("minReadySecond"), "{status:?}");
    for name in ["invalid", "mistyped", "unknown"] {
        assert!(api.get_opt(name).await.expect("get").is_none(), "{name} was stored");
    }
}

#[tokio::test]
async fn an_applied_empty_map_is_owned_and_conflicts() {
    let Some(api) = daemon_sets("smoke-empty-map").await else { return };
    let with_empty_labels = json!({
        "apiVersion": format!("{STAND_IN_GROUP}/v1"),
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "labels": {}},
        "spec": {"minReadySeconds": 1},
    });
    let applied = apply(&api, FIELD_MANAGER, &with_empty_labels).await.expect("apply");
    // Nothing is stored, yet gpuplan owns the empty map ...
    assert_eq!(applied.metadata.labels, None);
    let owned = owned_fields(&applied, FIELD_MANAGER, "Apply").expect("gpuplan's entry");
    assert_eq!(owned["f:metadata"], json!({"f:labels": {}}));
    // ... so another manager applying the very same object conflicts with gpuplan.
    let status = api_error(apply(&api, "helm", &with_empty_labels).await);
    assert_eq!(status.code, 409, "{status:?}");
    let fields: Vec<_> = status.details.iter().flat_map(|d| &d.causes).map(|c| c.field.as_str()).collect();
    assert_eq!(fields, [".metadata.labels"]);
}

#[tokio::test]
async fn the_kubeconfig_authenticates_as_admin_and_nothing_else_does() {
    let Some(server) = ApiServer::shared() else { return };
    let kubeconfig = Kubeconfig::read_from(server.kubeconfig()).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &KubeConfigOptions::default())
        .await
        .expect("kube-rs loads the kubeconfig");
    assert_eq!(config.cluster_url.to_string().trim_end_matches('/'), server.url());
    let crds: Api<CustomResourceDefinition> = Api::all(kube::Client::try_from(config).expect("client"));
    crds.list(&ListParams::default()).await.expect("the admin certificate may list CRDs");

    // Without the client certificate the request is anonymous. The server then asks itself for
    // a SubjectAccessReview, an API it does not serve, and answers 500 rather than 403.
    let mut anonymous = kubeconfig;
    for user in &mut anonymous.auth_infos {
        user.auth_info = Some(Default::default());
    }
    let config = kube::Config::from_custom_kubeconfig(anonymous, &KubeConfigOptions::default()).await.expect("config");
    let crds: Api<CustomResourceDefinition> = Api::all(kube::Client::try_from(config).expect("client"));
    let status = api_error(crds.list(&ListParams::default()).await);
    assert_eq!(status.code, 500, "{status:?}");
    assert!(status.message.contains("subjectaccessreviews.authorization.k8s.io"), "{}", status.message);
}

#[tokio::test]
async fn status_changes_only_through_the_status_subresource() {
    let Some(api) = daemon_sets("smoke-status").await else { return };
    apply(&api, FIELD_MANAGER, &daemon_set("agent", json!({}), json!({"minReadySeconds": 5}))).await.expect("apply");

    let status = json!({
        "apiVersion": format!("{STAND_IN_GROUP}/v1"),
        "kind": "DaemonSet",
        "status": {"numberReady": 3, "observedGeneration": 1},
    });
    let patched = api
        .patch_status("agent", &PatchParams::apply("stand-in-controller"), &Patch::Apply(&status))
        .await
        .expect("status apply");
    assert_eq!(patched.data["status"]["numberReady"], 3);
    let stored = api.get("agent").await.expect("get");
    assert_eq!(stored.data["status"]["numberReady"], 3);
    assert_eq!(stored.data["spec"]["minReadySeconds"], 5);
    assert_eq!(stored.metadata.generation, Some(1), "a status change is not a new generation");
    let owned = owned_fields(&stored, "stand-in-controller", "Apply").expect("the controller's entry");
    assert_eq!(owned["f:status"], json!({"f:numberReady": {}, "f:observedGeneration": {}}));

    // Status in an apply to the object itself is ignored; the spec change is a new generation.
    let with_status = json!({
        "apiVersion": format!("{STAND_IN_GROUP}/v1"),
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {"minReadySeconds": 6},
        "status": {"numberReady": 99},
    });
    let applied = apply(&api, FIELD_MANAGER, &with_status).await.expect("apply with status");
    assert_eq!(applied.data["status"]["numberReady"], 3);
    assert_eq!(applied.data["spec"]["minReadySeconds"], 6);
    assert_eq!(applied.metadata.generation, Some(2));
}
