//! The node revert of an uninstall (or of a prune that removes the node agents): every GPU
//! node given back its runtime config before gpuplan's objects go.
//!
//! Input: the engine, the node-agent DaemonSet of the release (as the record lists it), a
//! deadline and a [`Progress`]. Output: every node the agents ran on reverted — or an error
//! that says how many nodes were not, leaving the revert DaemonSet in place to look at.
//!
//! The agents never revert on SIGTERM (a rolling update must not restart every runtime twice),
//! so reverting is a step of its own:
//! 1. the node-agent DaemonSet is read, then deleted in the foreground and awaited: its pods,
//!    and their hold on each node's lock, are gone;
//! 2. a revert DaemonSet `<name>-revert` is applied: the same pod — node selector, tolerations,
//!    host mounts, env contract, image — with only the node-agent container, running
//!    `gpuplan node-agent revert --hold`: it gives the node back and restarts the runtime once,
//!    then waits; its readiness probe (`node-agent status --reverted`) passes once nothing of
//!    gpuplan's is left on the node;
//! 3. once every revert pod is ready, the revert DaemonSet is deleted.
//!
//! The revert pods are built from the *live* DaemonSet, not from the values, so they see the
//! node exactly as the agents that changed it did, whichever gpuplan version rendered them.

use std::time::Instant;

use anyhow::Context;
use serde_json::{Value as J, json};

use super::engine::{Engine, ObjectRef};
use super::progress::Progress;
use super::wait;

/// What the revert DaemonSet's name adds to the node-agent DaemonSet's.
pub const SUFFIX: &str = "-revert";
/// The node-agent container's name in the toolkit DaemonSet.
const AGENT: &str = "node-agent";

/// The revert DaemonSet for a live node-agent DaemonSet; `None` when it runs no node agent
/// (NRI plugin mode: gpuplan changed no node's config).
pub fn daemonset(live: &J) -> Option<J> {
    let name = format!("{}{SUFFIX}", live["metadata"]["name"].as_str()?);
    let mut pod = live["spec"]["template"]["spec"].clone();
    let agent = pod["containers"].as_array()?.iter().find(|c| c["name"] == AGENT)?.clone();
    let mut agent = agent;
    let mut args = vec![json!("revert"), json!("--hold")];
    args.extend(agent["args"].as_array().cloned().unwrap_or_default());
    agent["args"] = J::Array(args);
    agent["readinessProbe"] = json!({
        "exec": {"command": ["gpuplan", "node-agent", "status", "--reverted"]},
        "periodSeconds": 2,
    });
    if let Some(spec) = pod.as_object_mut() {
        // The driver may be gone, and nothing is installed: only the agent runs.
        spec.remove("initContainers");
    }
    pod["containers"] = json!([agent]);
    let labels = json!({
        "app": name,
        "app.kubernetes.io/component": "node-revert",
        "app.kubernetes.io/managed-by": "gpuplan",
    });
    Some(json!({
        // As the agents' (`apps/v1`; a test's stand-in group where it has one).
        "apiVersion": live["apiVersion"].as_str().unwrap_or("apps/v1"),
        "kind": "DaemonSet",
        "metadata": {
            "name": name,
            "namespace": live["metadata"]["namespace"],
            "labels": labels,
        },
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }))
}

/// Revert every node the node-agent DaemonSet `agents` runs on (see the module docs).
pub async fn run(
    engine: &Engine,
    agents: &ObjectRef,
    release: &str,
    namespace: &str,
    deadline: Instant,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let stage = format!("node revert {}", agents.name);
    let start = Instant::now();
    let target = engine.target(&json!({"apiVersion": agents.api_version, "kind": agents.kind})).await?;
    let revert_name = format!("{}{SUFFIX}", agents.name);
    let revert = match engine.get(&target, &agents.namespace, &agents.name).await? {
        Some(live) => daemonset(&live),
        // A revert an earlier uninstall started (and did not finish) carries on.
        None => engine.get(&target, &agents.namespace, &revert_name).await?,
    };
    let Some(revert) = revert else {
        tracing::info!(daemonset = %agents, "no node agent to revert nodes after");
        return Ok(());
    };
    progress.stage(&stage, 1);
    progress.waiting(&stage, "the node agents to stop");
    progress.object(&stage, &engine.delete(agents, true).await?);
    wait::gone(engine, std::slice::from_ref(agents), deadline).await.context("waiting for the node agents to stop")?;
    progress.object(&stage, &engine.apply(&revert, release, namespace).await?);
    progress.waiting(&stage, "every GPU node to be reverted");
    wait::ready(engine, std::slice::from_ref(&revert), &agents.namespace, deadline, &|_| {}).await.with_context(
        || {
            format!(
                "not every GPU node was reverted: DaemonSet {}/{revert_name} stays so that its pods can be looked at \
             (`kubectl -n {} logs ds/{revert_name}`); run the uninstall again once they are ready",
                agents.namespace, agents.namespace
            )
        },
    )?;
    let revert_ref = ObjectRef::of(&revert);
    progress.object(&stage, &engine.delete(&revert_ref, true).await?);
    wait::gone(engine, std::slice::from_ref(&revert_ref), deadline).await?;
    progress.done(&stage, start.elapsed());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_the_toolkit_daemonset_the_revert_pod_runs_only_the_agents_revert() {
        let live = json!({
            "metadata": {"name": "nvidia-container-toolkit-daemonset", "namespace": "gpu-operator"},
            "spec": {"template": {"spec": {
                "nodeSelector": {"nvidia.com/gpu.deploy.container-toolkit": "true"},
                "hostPID": true,
                "initContainers": [{"name": "driver-validation"}],
                "containers": [{
                    "name": "node-agent", "image": "gpuplan:1", "command": ["gpuplan", "node-agent"],
                    "args": ["--restart-timeout", "60"], "env": [{"name": "RUNTIME", "value": "containerd"}],
                    "readinessProbe": {"exec": {"command": ["gpuplan", "node-agent", "status"]}},
                }],
                "volumes": [{"name": "containerd-config", "hostPath": {"path": "/etc/containerd"}}],
            }}},
        });
        let revert = daemonset(&live).expect("a revert DaemonSet");
        assert_eq!(revert["metadata"]["name"], "nvidia-container-toolkit-daemonset-revert");
        let pod = &revert["spec"]["template"]["spec"];
        assert_eq!(pod["nodeSelector"], live["spec"]["template"]["spec"]["nodeSelector"]);
        assert_eq!(pod["volumes"], live["spec"]["template"]["spec"]["volumes"]);
        assert!(pod.get("initContainers").is_none());
        let agent = &pod["containers"][0];
        assert_eq!(agent["args"], json!(["revert", "--hold", "--restart-timeout", "60"]));
        assert_eq!(
            agent["readinessProbe"]["exec"]["command"],
            json!(["gpuplan", "node-agent", "status", "--reverted"])
        );
        assert_eq!(agent["env"], json!([{"name": "RUNTIME", "value": "containerd"}]));
        assert_eq!(revert["spec"]["selector"]["matchLabels"]["app"], revert["metadata"]["name"]);

        let nri = json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {"containers": [{"name": "nvidia-container-toolkit-ctr"}]}}}});
        assert_eq!(daemonset(&nri), None, "NRI mode changes no node config");
    }
}
