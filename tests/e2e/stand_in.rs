//! CRD-defined stand-ins for the workload kinds the test API server does not serve (it has no
//! core or apps API; see `apiserver.rs`): given a kind name, [`stand_in_crd`] makes a CRD in
//! group [`STAND_IN_GROUP`] shaped like the real kind where the tests look, and [`install_crd`]
//! installs it and waits until it is served.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;

/// The API group of the stand-ins (`stand-in.gpuplan.dev/v1 DaemonSet` for `apps/v1 DaemonSet`).
pub const STAND_IN_GROUP: &str = "stand-in.gpuplan.dev";

/// A CRD for a workload-like stand-in `kind` (`DaemonSet`, `Deployment`, ...) in
/// [`STAND_IN_GROUP`], version `v1`, namespaced, plural `<kind lowercase>s`, with a status
/// subresource. Its schema types the fields the tests rely on and keeps the rest open:
/// `spec.minReadySeconds` (integer >= 0), `spec.updateStrategy.type` (`RollingUpdate` or
/// `OnDelete`), `spec.selector` and `spec.template` (any object); `status.numberReady`,
/// `status.observedGeneration` (integers) and `status.conditions` (any list).
pub fn stand_in_crd(kind: &str) -> CustomResourceDefinition {
    let plural = format!("{}s", kind.to_lowercase());
    let open = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    let integer = json!({"type": "integer", "format": "int32", "minimum": 0});
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{STAND_IN_GROUP}")},
        "spec": {
            "group": STAND_IN_GROUP,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List")},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": {
                                "minReadySeconds": integer,
                                "revisionHistoryLimit": integer,
                                "selector": open,
                                "template": open,
                                "updateStrategy": {
                                    "type": "object",
                                    "properties": {
                                        "type": {"type": "string", "enum": ["RollingUpdate", "OnDelete"]},
                                        "rollingUpdate": open,
                                    },
                                },
                            },
                        },
                        "status": {
                            "type": "object",
                            "properties": {
                                "numberReady": integer,
                                "desiredNumberScheduled": integer,
                                "observedGeneration": {"type": "integer", "format": "int64"},
                                "conditions": {"type": "array", "items": open},
                            },
                        },
                    },
                }},
            }],
        },
    }))
    .expect("the stand-in CRD is a CustomResourceDefinition")
}

/// Install `crd` (server-side apply, field manager `gpuplan-test`; idempotent, so tests may all
/// install the same CRD) and wait up to 30 s until it is `Established`. Returns the resource of
/// its first version, for `Api::<DynamicObject>::namespaced_with`.
pub async fn install_crd(client: &kube::Client, crd: &CustomResourceDefinition) -> ApiResource {
    let name = crd.metadata.name.as_deref().expect("the CRD has a name");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(name, &PatchParams::apply("gpuplan-test"), &Patch::Apply(crd))
        .await
        .unwrap_or_else(|e| panic!("apply CRD {name}: {e}"));
    let established = await_condition(crds, name, conditions::is_crd_established());
    tokio::time::timeout(Duration::from_secs(30), established)
        .await
        .unwrap_or_else(|_| panic!("CRD {name} not Established in 30 s"))
        .unwrap_or_else(|e| panic!("watching CRD {name}: {e}"));
    let spec = &crd.spec;
    let gvk = GroupVersionKind::gvk(&spec.group, &spec.versions[0].name, &spec.names.kind);
    ApiResource::from_gvk_with_plural(&gvk, &spec.names.plural)
}
