//! Install, upgrade and uninstall: a plan taken to a cluster stage by stage, and the release
//! record that lets the next run prune what left the plan.
//!
//! Input: the engine, a [`Desired`] release (stages of objects, digest, values), what to do
//! and a [`Progress`]. Output: an [`Outcome`] — per stage what happened to each object, the
//! pruned objects, the requests made — or an error that names the object or stage at fault,
//! with the record saying `failed` and still listing every object that may exist.
//!
//! Like Helm: `install` refuses an existing release, `upgrade` refuses a missing one (unless
//! asked to install), `uninstall` removes everything the record lists, in reverse stage order.
//! Unlike Helm: objects are server-side applied (field manager `gpuplan`), unchanged objects are
//! not written, every GPU node's runtime config is reverted before the node agents are removed
//! (by uninstall, or by a prune that removes them: [`revert`]), and uninstall waits until
//! workloads are gone with their pods.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt, TryStreamExt};
use gpuplan_compiler::plan::Plan;
use serde::Serialize;
use serde_json::Value as J;

use super::engine::{Applied, Counts, Engine, ObjectRef};
use super::progress::Progress;
use super::record::{self, Entry, Phase, Record};
use super::{revert, wait};

/// The stage whose DaemonSets are gpuplan's node agents.
const NODE_AGENT_STAGE: &str = "container-toolkit";

/// A release as it should be.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// The plan digest.
    pub digest: String,
    /// The Kubernetes version it was rendered for.
    pub kube_version: String,
    /// The effective values (kept in the record).
    pub values: J,
    /// Stages in apply order, each with its objects in apply order.
    pub stages: Vec<(String, Vec<J>)>,
}

impl Desired {
    /// A plan's release; `crds` (the CRDs the plan's custom resources need) go first.
    pub fn from_plan(plan: &Plan, values: J, crds: Vec<J>) -> Desired {
        let mut stages: Vec<(String, Vec<J>)> = Vec::new();
        if !crds.is_empty() {
            stages.push(("crds".into(), crds));
        }
        stages
            .extend(plan.stages.iter().map(|s| (s.name.clone(), s.objects.iter().map(|m| m.object.clone()).collect())));
        Desired {
            name: plan.release.name.clone(),
            namespace: plan.release.namespace.clone(),
            digest: plan.digest.clone(),
            kube_version: plan.release.kube_version.clone(),
            values,
            stages,
        }
    }

    /// Every object.
    pub fn objects(&self) -> impl Iterator<Item = &J> {
        self.stages.iter().flat_map(|(_, o)| o.iter())
    }
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A new release.
    Install,
    /// An existing release (`install_missing`: or a new one).
    Upgrade {
        /// Install when there is no release yet (`upgrade --install`).
        install_missing: bool,
    },
}

/// How long and whether to wait.
#[derive(Debug, Clone, Copy)]
pub struct Waiting {
    /// Wait for each stage to be ready before the next, and for deleted objects to be gone.
    pub wait: bool,
    /// The bound on the whole run.
    pub timeout: Duration,
    /// Instead of waiting, look once: stop before the first stage that is not ready yet and say
    /// why ([`Outcome::pending`]); the next run continues. The operator's reconcile does this,
    /// so it never blocks while a DaemonSet rolls out.
    pub once: bool,
}

/// A stage that is applied but not ready yet (with [`Waiting::once`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    /// The stage.
    pub stage: String,
    /// What it waits for.
    pub reason: String,
}

/// One stage's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StageOutcome {
    /// The stage.
    pub name: String,
    /// Each object.
    pub objects: Vec<Applied>,
    /// Seconds spent, waiting included.
    pub seconds: f64,
}

/// A run's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Release name.
    pub release: String,
    /// Release namespace.
    pub namespace: String,
    /// The revision written.
    pub revision: u64,
    /// The plan digest.
    pub digest: String,
    /// Stages, in order.
    pub stages: Vec<StageOutcome>,
    /// Objects removed because they left the plan (or, for uninstall, all of them).
    pub pruned: Vec<Applied>,
    /// The stage that is not ready yet (with [`Waiting::once`]); later stages were not applied
    /// and nothing was pruned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// API requests made.
    pub requests: Counts,
}

/// The inventory of a release: each object with its stage and the namespace the engine applies
/// it in (a namespaced object without one goes to the release namespace; a cluster-scoped one
/// carries none).
pub async fn inventory(engine: &Engine, desired: &Desired) -> anyhow::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (stage, objects) in &desired.stages {
        for object in objects {
            let r = ObjectRef::of(object);
            let namespace = match engine.target(object).await?.namespaced {
                true if r.namespace.is_empty() => desired.namespace.clone(),
                true => r.namespace,
                false => String::new(),
            };
            out.push(Entry { stage: stage.clone(), api_version: r.api_version, kind: r.kind, namespace, name: r.name });
        }
    }
    Ok(out)
}

/// Install or upgrade.
pub async fn apply(
    engine: &Engine,
    desired: &Desired,
    mode: Mode,
    waiting: Waiting,
    progress: &dyn Progress,
) -> anyhow::Result<Outcome> {
    let deadline = Instant::now() + waiting.timeout;
    let (name, namespace) = (desired.name.as_str(), desired.namespace.as_str());
    record::ensure_crd(engine).await.context("installing the release record's CRD")?;
    let existing = record::read(engine, name, namespace).await?;
    match (mode, &existing) {
        (Mode::Install, Some(r)) => {
            bail!(
                "release {name} already exists in {namespace} (revision {}, {:?}); use `gpuplan upgrade`",
                r.revision,
                r.phase
            )
        }
        (Mode::Upgrade { install_missing: false }, None) => {
            bail!("release {name} not found in {namespace}; use `gpuplan install` (or `gpuplan upgrade --install`)")
        }
        _ => {}
    }
    let old: Vec<Entry> = existing.as_ref().map(|r| r.inventory.clone()).unwrap_or_default();
    let new = inventory(engine, desired).await?;
    // The record is written only when it changes: a re-apply of the same plan only reads.
    let same_plan = existing.as_ref().is_some_and(|r| {
        r.digest == desired.digest
            && r.values == desired.values
            && (r.inventory == new || r.inventory == union(&old, &new))
    });
    let mut record = Record {
        revision: existing.as_ref().map_or(1, |r| if same_plan { r.revision } else { r.revision + 1 }),
        phase: Phase::Applying,
        digest: desired.digest.clone(),
        gpuplan_version: env!("CARGO_PKG_VERSION").into(),
        kube_version: desired.kube_version.clone(),
        values: desired.values.clone(),
        inventory: union(&old, &new),
    };
    let resumed = same_plan && existing.as_ref().is_some_and(|r| r.phase != Phase::Failed);
    if !resumed {
        record::write(engine, name, namespace, &record).await?;
    }

    let result = stages(engine, desired, waiting, deadline, progress).await;
    let (stage_outcomes, pending) = match result {
        Ok(done) => done,
        Err(e) => {
            record.phase = Phase::Failed;
            if let Err(write) = record::write(engine, name, namespace, &record).await {
                tracing::error!(error = %format!("{write:#}"), "could not mark the release failed");
            }
            return Err(e);
        }
    };
    let mut outcome = Outcome {
        release: name.into(),
        namespace: namespace.into(),
        revision: record.revision,
        digest: record.digest.clone(),
        stages: stage_outcomes,
        pruned: Vec::new(),
        pending,
        requests: Default::default(),
    };
    if outcome.pending.is_none() {
        let leaving: Vec<Entry> = old.iter().filter(|o| !new.iter().any(|n| n.same(o))).cloned().collect();
        let orphans = orphans(engine, name, &old, &new).await?;
        outcome.pruned =
            delete(engine, &desired.name, &[leaving, orphans].concat(), waiting.wait, deadline, progress, "prune")
                .await?;
        record.phase = Phase::Deployed;
        record.inventory = new;
        if existing.as_ref() != Some(&record) {
            record::write(engine, name, namespace, &record).await?;
        }
    }
    outcome.requests = engine.stats.counts();
    Ok(outcome)
}

async fn stages(
    engine: &Engine,
    desired: &Desired,
    waiting: Waiting,
    deadline: Instant,
    progress: &dyn Progress,
) -> anyhow::Result<(Vec<StageOutcome>, Option<Pending>)> {
    let mut out = Vec::new();
    for (stage, objects) in &desired.stages {
        let start = Instant::now();
        progress.stage(stage, objects.len());
        let applied = engine
            .apply_all(objects, &desired.name, &desired.namespace)
            .await
            .with_context(|| format!("stage {stage}"))?;
        for a in &applied {
            progress.object(stage, a);
        }
        out.push(StageOutcome { name: stage.clone(), objects: applied, seconds: 0.0 });
        if waiting.once {
            let not_ready = wait::not_ready(engine, objects, &desired.namespace).await?;
            if let Some(reason) = not_ready.first() {
                progress.waiting(stage, reason);
                let reason = if not_ready.len() > 1 {
                    format!("{reason} (and {} more)", not_ready.len() - 1)
                } else {
                    reason.clone()
                };
                return Ok((out, Some(Pending { stage: stage.clone(), reason })));
            }
        } else if waiting.wait {
            let on_wait = |what: &str| progress.waiting(stage, what);
            wait::ready(engine, objects, &desired.namespace, deadline, &on_wait)
                .await
                .with_context(|| format!("stage {stage} is not ready"))?;
        }
        progress.done(stage, start.elapsed());
        if let Some(last) = out.last_mut() {
            last.seconds = start.elapsed().as_secs_f64();
        }
    }
    Ok((out, None))
}

/// `old` and the entries of `new` not in it.
fn union(old: &[Entry], new: &[Entry]) -> Vec<Entry> {
    let mut out = old.to_vec();
    out.extend(new.iter().filter(|n| !old.iter().any(|o| o.same(n))).cloned());
    out
}

/// Objects labelled with the release, of the kinds it has, that neither inventory lists —
/// left by a run that was interrupted before its record was written.
async fn orphans(engine: &Engine, release: &str, old: &[Entry], new: &[Entry]) -> anyhow::Result<Vec<Entry>> {
    let mut kinds: Vec<(&str, &str)> =
        old.iter().chain(new).map(|e| (e.api_version.as_str(), e.kind.as_str())).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let selector = format!("{}={release}", super::object::RELEASE_LABEL);
    let mut out = Vec::new();
    for (api_version, kind) in kinds {
        let target = engine.target(&serde_json::json!({"apiVersion": api_version, "kind": kind})).await?;
        for live in engine.list(&target, &selector).await? {
            let r = ObjectRef::of(&live);
            let entry = Entry {
                stage: "orphan".into(),
                api_version: api_version.into(),
                kind: kind.into(),
                namespace: r.namespace,
                name: r.name,
            };
            if super::object::applied_digest(&live).is_some() && !old.iter().chain(new).any(|e| e.same(&entry)) {
                out.push(entry);
            }
        }
    }
    Ok(out)
}

/// Delete entries in reverse order (stage by stage), workloads in the foreground; with `wait`,
/// until each stage's objects are gone. Before the node agents go, every GPU node is reverted
/// ([`revert`]).
async fn delete(
    engine: &Engine,
    release: &str,
    entries: &[Entry],
    wait: bool,
    deadline: Instant,
    progress: &dyn Progress,
    label: &str,
) -> anyhow::Result<Vec<Applied>> {
    let mut out = Vec::new();
    let reversed: Vec<&Entry> = entries.iter().rev().collect();
    for group in reversed.chunk_by(|a, b| a.stage == b.stage) {
        if group[0].stage == NODE_AGENT_STAGE {
            for agents in group.iter().filter(|e| e.kind == "DaemonSet") {
                revert::run(engine, &agents.object(), release, deadline, progress).await?;
            }
        }
        let stage = format!("{label} {}", group[0].stage);
        let start = Instant::now();
        progress.stage(&stage, group.len());
        let refs: Vec<ObjectRef> = group.iter().map(|e| e.object()).collect();
        let deletes: Vec<BoxFuture<'_, anyhow::Result<Applied>>> = refs
            .iter()
            .map(|r| {
                let foreground = matches!(r.kind.as_str(), "DaemonSet" | "Deployment" | "StatefulSet" | "Job");
                engine.delete(r, foreground).boxed()
            })
            .collect();
        let deleted: Vec<Applied> =
            stream::iter(deletes).buffer_unordered(engine.options.concurrency.max(1)).try_collect().await?;
        for d in &deleted {
            progress.object(&stage, d);
        }
        if wait {
            progress.waiting(&stage, "the objects (and their pods) to be gone");
            wait::gone(engine, &refs, deadline).await.with_context(|| stage.clone())?;
        }
        progress.done(&stage, start.elapsed());
        out.extend(deleted);
    }
    Ok(out)
}

/// Remove a release: every object of its record in reverse stage order, then the record.
pub async fn uninstall(
    engine: &Engine,
    name: &str,
    namespace: &str,
    waiting: Waiting,
    progress: &dyn Progress,
) -> anyhow::Result<Outcome> {
    let deadline = Instant::now() + waiting.timeout;
    let Some(record) = record::read(engine, name, namespace).await? else {
        bail!("release {name} not found in {namespace}");
    };
    let pruned = delete(engine, name, &record.inventory, waiting.wait, deadline, progress, "uninstall").await?;
    record::delete(engine, name, namespace).await?;
    Ok(Outcome {
        release: name.into(),
        namespace: namespace.into(),
        revision: record.revision,
        digest: record.digest,
        stages: Vec::new(),
        pruned,
        pending: None,
        requests: engine.stats.counts(),
    })
}
