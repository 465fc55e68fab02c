//! The release record: what a release put in the cluster, kept in the cluster.
//!
//! Input: the engine, the release name and namespace. Output: a `PlanRelease` custom resource
//! (`gpuplan.dev/v1alpha1`, in the release namespace, named after the release) holding the
//! revision, the phase, the plan digest (and a saved plan's content digest), the effective values and the inventory of applied
//! objects — read, written (server-side apply) and deleted here; and its CRD, which every
//! install and upgrade applies (`release.rs`) and no release owns. A custom resource rather than a Secret: it is typed and validated by the API
//! server, `kubectl get planreleases` lists releases, and it does not need the core API.

use serde::{Deserialize, Serialize};
use serde_json::{Value as J, json};

use super::engine::{Engine, ObjectRef, describe};
use super::object::prepare;

/// The record's API group.
pub const GROUP: &str = "gpuplan.dev";
/// The record's version.
pub const VERSION: &str = "v1alpha1";
/// The record's kind.
pub const KIND: &str = "PlanRelease";

/// Where a release stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// An install or upgrade is applying; the inventory holds old and new objects.
    Applying,
    /// The last apply succeeded; the inventory is the plan's.
    Deployed,
    /// The last apply failed; the inventory holds everything that may exist.
    Failed,
}

/// One object of the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The plan stage it belongs to.
    pub stage: String,
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl Entry {
    /// The object it names.
    pub fn object(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// The same object, whatever its API version.
    pub fn same(&self, other: &Entry) -> bool {
        let group = |v: &str| super::resource::group_version(v).0.to_owned();
        (group(&self.api_version), &self.kind, &self.namespace, &self.name)
            == (group(&other.api_version), &other.kind, &other.namespace, &other.name)
    }
}

/// The record's spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// 1 for the install, +1 per upgrade.
    pub revision: u64,
    /// Where it stands.
    pub phase: Phase,
    /// The plan digest (of the effective values).
    pub digest: String,
    /// The digest of the saved plan applied (`--plan FILE`): which reviewed plan this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<String>,
    /// The gpuplan that applied it.
    pub gpuplan_version: String,
    /// The Kubernetes version the plan was rendered for.
    pub kube_version: String,
    /// The effective values.
    pub values: J,
    /// Every object the release owns, in apply order.
    pub inventory: Vec<Entry>,
}

/// The record's CRD.
pub fn crd() -> J {
    let string = json!({"type": "string"});
    let mut crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("planreleases.{GROUP}"), "labels": {"app.kubernetes.io/managed-by": "gpuplan"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": KIND, "plural": "planreleases", "singular": "planrelease", "listKind": "PlanReleaseList", "shortNames": ["gpr"]},
            "versions": [{
                "name": VERSION, "served": true, "storage": true,
                "additionalPrinterColumns": [
                    {"name": "Revision", "type": "integer", "jsonPath": ".spec.revision"},
                    {"name": "Phase", "type": "string", "jsonPath": ".spec.phase"},
                    {"name": "Digest", "type": "string", "jsonPath": ".spec.digest"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["revision", "phase", "digest", "inventory"], "properties": {
                        "revision": {"type": "integer", "minimum": 1},
                        "phase": {"type": "string", "enum": ["applying", "deployed", "failed"]},
                        "digest": string, "gpuplanVersion": string, "kubeVersion": string,
                        "values": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "inventory": {"type": "array", "items": {"type": "object", "required": ["stage", "apiVersion", "kind", "name"], "properties": {
                            "stage": string, "apiVersion": string, "kind": string, "namespace": string, "name": string
                        }}}
                    }}
                }}}
            }]
        }
    });
    // Added apart: one more key in the literal above is past `json!`'s recursion limit.
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["planDigest"] = string;
    crd
}

fn object(name: &str, namespace: &str) -> J {
    json!({"apiVersion": format!("{GROUP}/{VERSION}"), "kind": KIND, "metadata": {"name": name, "namespace": namespace}})
}

/// The record of a release, if there is one.
pub async fn read(engine: &Engine, name: &str, namespace: &str) -> anyhow::Result<Option<Record>> {
    let target = engine.target(&object(name, namespace)).await?;
    let Some(live) = engine.get(&target, namespace, name).await? else { return Ok(None) };
    let record = serde_json::from_value(live["spec"].clone())
        .map_err(|e| anyhow::anyhow!("the release record {namespace}/{name} is not readable: {e}"))?;
    Ok(Some(record))
}

/// Write the record (server-side apply: the whole spec is gpuplan's).
pub async fn write(engine: &Engine, name: &str, namespace: &str, record: &Record) -> anyhow::Result<()> {
    let mut cr = object(name, namespace);
    cr["spec"] = serde_json::to_value(record)?;
    let target = engine.target(&cr).await?;
    let cr = prepare(&cr, name, namespace, true);
    engine
        .patch(&target, &cr, false)
        .await
        .map_err(|e| anyhow::anyhow!("cannot write the release record {namespace}/{name}: {}", describe(&e)))?;
    Ok(())
}

/// Delete the record.
pub async fn delete(engine: &Engine, name: &str, namespace: &str) -> anyhow::Result<()> {
    let r = ObjectRef::of(&object(name, namespace));
    engine.delete(&r, false).await.map(|_| ())
}
