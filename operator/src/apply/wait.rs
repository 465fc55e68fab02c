//! Waiting for a stage to be ready before the next one starts.
//!
//! Input: the live objects of a stage (read through the [`Engine`]) and a deadline. Output: Ok
//! when each is ready, or an error naming every object that is not and why ("DaemonSet
//! gpu-operator/nvidia-container-toolkit-daemonset: 1 of 3 pods updated, 0 available").
//! Readiness by kind, whatever the API group (test stand-ins behave like the real kinds):
//! - DaemonSet: the controller saw the latest generation, and every scheduled pod is updated and
//!   available (none scheduled counts as ready: no GPU node yet);
//! - Deployment: the latest generation observed, all replicas updated and available;
//! - CustomResourceDefinition: `Established`;
//! - anything else (RuntimeClass, RBAC, ConfigMaps, ...): that it exists.

use std::time::Instant;

use anyhow::bail;
use serde_json::Value as J;

use super::engine::{Engine, ObjectRef};

/// Whether a live object is ready; `Err` says what it waits for.
pub fn readiness(live: &J) -> Result<(), String> {
    let status = &live["status"];
    let int = |v: &J| v.as_i64().unwrap_or(0);
    let generation = int(&live["metadata"]["generation"]);
    let observed = int(&status["observedGeneration"]);
    let stale = || format!("the controller has not seen generation {generation} yet (observed {observed})");
    match live["kind"].as_str().unwrap_or_default() {
        "DaemonSet" => {
            if observed < generation {
                return Err(stale());
            }
            let desired = int(&status["desiredNumberScheduled"]);
            let updated = int(&status["updatedNumberScheduled"]);
            let available = int(&status["numberAvailable"]);
            if updated < desired || available < desired {
                return Err(format!("{updated} of {desired} pods updated, {available} available"));
            }
            Ok(())
        }
        "Deployment" => {
            if observed < generation {
                return Err(stale());
            }
            let replicas = live["spec"]["replicas"].as_i64().unwrap_or(1);
            let updated = int(&status["updatedReplicas"]);
            let available = int(&status["availableReplicas"]);
            if updated < replicas || available < replicas {
                return Err(format!("{updated} of {replicas} replicas updated, {available} available"));
            }
            Ok(())
        }
        "CustomResourceDefinition" => {
            let established = status["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Established" && c["status"] == "True");
            if established { Ok(()) } else { Err("not Established yet".into()) }
        }
        _ => Ok(()),
    }
}

/// Why one object is not ready, or `None` when it is. One read.
async fn unready(engine: &Engine, object: &J, namespace: &str) -> anyhow::Result<Option<String>> {
    let target = engine.target(object).await?;
    let mut r = ObjectRef::of(object);
    if target.namespaced && r.namespace.is_empty() {
        r.namespace = namespace.to_owned();
    }
    Ok(match engine.get(&target, &r.namespace, &r.name).await? {
        None => Some(format!("{r}: does not exist")),
        Some(live) => readiness(&live).err().map(|why| format!("{r}: {why}")),
    })
}

/// Why each object that is not ready is not (empty: all ready). One read per object.
pub async fn not_ready(engine: &Engine, objects: &[J], namespace: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for object in objects {
        out.extend(unready(engine, object, namespace).await?);
    }
    Ok(out)
}

/// Wait until every object is ready, or fail at the deadline naming those that are not.
/// `on_wait` hears which object is awaited (for progress lines).
pub async fn ready(
    engine: &Engine,
    objects: &[J],
    namespace: &str,
    deadline: Instant,
    on_wait: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<()> {
    let mut pending: Vec<&J> = objects.iter().collect();
    loop {
        let mut still = Vec::new();
        for object in pending {
            if let Some(why) = unready(engine, object, namespace).await? {
                still.push((object, why));
            }
        }
        let Some((_, first)) = still.first() else { return Ok(()) };
        on_wait(first);
        if Instant::now() >= deadline {
            let reasons: Vec<&str> = still.iter().map(|(_, why)| why.as_str()).collect();
            bail!("timed out waiting for {} object(s) to be ready: {}", still.len(), reasons.join("; "));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(engine.options.poll.min(left)).await;
        pending = still.into_iter().map(|(object, _)| object).collect();
    }
}

/// Wait until objects are gone (deleted in the foreground: their dependents first).
pub async fn gone(engine: &Engine, objects: &[ObjectRef], deadline: Instant) -> anyhow::Result<()> {
    let mut pending: Vec<&ObjectRef> = objects.iter().collect();
    loop {
        let mut still = Vec::new();
        for r in pending {
            let target = engine.target(&serde_json::json!({"apiVersion": r.api_version, "kind": r.kind})).await?;
            if engine.get(&target, &r.namespace, &r.name).await?.is_some() {
                still.push(r);
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let names: Vec<String> = still.iter().map(|r| r.to_string()).collect();
            bail!("timed out waiting for {} to be deleted", names.join(", "));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(engine.options.poll.min(left)).await;
        pending = still;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_daemonset_status_readiness_follows_the_rollout() {
        let ds = |generation: i64, observed: i64, desired: i64, updated: i64, available: i64| {
            json!({"kind": "DaemonSet", "metadata": {"generation": generation}, "status": {"observedGeneration": observed,
                   "desiredNumberScheduled": desired, "updatedNumberScheduled": updated, "numberAvailable": available}})
        };
        assert_eq!(readiness(&ds(2, 2, 3, 3, 3)), Ok(()));
        assert_eq!(readiness(&ds(2, 2, 0, 0, 0)), Ok(()), "no GPU node: nothing to wait for");
        assert_eq!(
            readiness(&ds(2, 1, 3, 3, 3)),
            Err("the controller has not seen generation 2 yet (observed 1)".into())
        );
        assert_eq!(readiness(&ds(1, 1, 3, 1, 0)), Err("1 of 3 pods updated, 0 available".into()));
    }

    #[test]
    fn given_other_kinds_readiness_is_their_own() {
        let deploy = json!({"kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 2},
                            "status": {"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 1}});
        assert_eq!(readiness(&deploy), Err("2 of 2 replicas updated, 1 available".into()));
        let crd = json!({"kind": "CustomResourceDefinition", "status": {"conditions": [{"type": "Established", "status": "True"}]}});
        assert_eq!(readiness(&crd), Ok(()));
        assert_eq!(readiness(&json!({"kind": "RuntimeClass"})), Ok(()));
    }
}
