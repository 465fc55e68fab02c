//! The cluster as one side of a diff: `gpuplan diff --cluster`.
//!
//! Input: the engine and a [`Desired`] release. Output: two diff sides — what is live now, and
//! what the API server says each object would become (a server-side dry-run apply, so defaults,
//! admission and field ownership are the server's) — with the fields the server sets removed
//! (managedFields, status, resourceVersion, uid, ...), plus every object of the release record
//! that the plan no longer has, which an upgrade would prune. Nothing is written.

use gpuplan_compiler::diff::Side;
use gpuplan_compiler::plan::Manifest;
use serde_json::Value as J;

use super::engine::{Engine, ObjectRef, describe};
use super::object::{prepare, strip};
use super::record;
use super::release::{Desired, inventory};

/// Live objects (old) and dry-run results (new); warnings for objects the server could not
/// dry-run (their planned form stands in).
pub async fn sides(engine: &Engine, desired: &Desired) -> anyhow::Result<(Side, Side, Vec<String>)> {
    let (mut old, mut new, mut warnings) = (Side::default(), Side::default(), Vec::new());
    let manifest = |stage: &str, object: J| (Some(stage.to_owned()), Manifest { source: stage.to_owned(), object });
    let planned = inventory(engine, desired).await?;
    for (stage, objects) in &desired.stages {
        for object in objects {
            let target = engine.target(object).await?;
            let prepared = prepare(object, &desired.name, &desired.namespace, target.namespaced);
            let r = ObjectRef::of(&prepared);
            if let Some(live) = engine.get(&target, &r.namespace, &r.name).await? {
                old.objects.push(manifest(stage, strip(&live)));
            }
            let after = match engine.patch(&target, &prepared, true).await {
                Ok(result) => result,
                Err(e) => {
                    warnings.push(format!(
                        "{r}: the server could not dry-run it ({}); showing it as planned",
                        describe(&e)
                    ));
                    prepared
                }
            };
            new.objects.push(manifest(stage, strip(&after)));
        }
    }
    if let Some(record) = record::read(engine, &desired.name, &desired.namespace).await.unwrap_or(None) {
        for entry in record.inventory.iter().filter(|e| !planned.iter().any(|p| p.same(e))) {
            let r = entry.object();
            let target = engine.target(&serde_json::json!({"apiVersion": r.api_version, "kind": r.kind})).await?;
            if let Some(live) = engine.get(&target, &r.namespace, &r.name).await? {
                old.objects.push(manifest(&entry.stage, strip(&live)));
            }
        }
    }
    Ok((old, new, warnings))
}
