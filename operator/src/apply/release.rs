//! Install, upgrade and uninstall: a plan taken to a cluster stage by stage, and the release
//! record that lets the next run prune what left the plan.
//!
//! Input: the engine, a [`Desired`] release (stages of objects, digest, values), what to do
//! and a [`Progress`]. Output: an [`Outcome`] — per stage what happened to each object, the
//! pruned objects, the requests made — or an error that names the object or stage at fault,
//! with the record saying `failed` and still listing every object that may exist.
//!
//! Like Helm: `install` refuses an existing release, `upgrade` refuses a missing one (unless
//! asked to install), `uninstall` removes everything the record lists, in reverse stage order,
//! and an object that exists but is not the release's own (another release's, or nobody's) is
//! refused before anything is written ("exists and cannot be imported into release ...";
//! `--take-ownership` adopts it, and the release it came from then leaves it in place). gpuplan's
//! own CRDs belong to no release and are never deleted, as a chart's `crds/`. Unlike Helm: objects are server-side applied (field manager `gpuplan`), unchanged objects are
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

use super::engine::{Action, Applied, Counts, Engine, ObjectRef};
use super::progress::Progress;
use super::record::{self, Entry, Phase, Record};
use super::{object, revert, wait};

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
    /// The digest of a saved plan's content, when a saved plan is applied (`--plan FILE`).
    pub plan_digest: Option<String>,
    /// The Kubernetes version it was rendered for.
    pub kube_version: String,
    /// The effective values (kept in the record).
    pub values: J,
    /// Stages in apply order, each with its objects in apply order.
    pub stages: Vec<(String, Vec<J>)>,
    /// CRDs of gpuplan's own that belong to no release (the GPUPlan CRD, for a plan that deploys
    /// the operator): applied when missing or different, never pruned or uninstalled — as Helm
    /// treats a chart's `crds/`. (The release record's CRD is always applied.)
    pub shared: Vec<J>,
}

impl Desired {
    /// A plan's release: the CRDs its custom resources need (`plan.crds`) first, as a stage
    /// of their own, then its stages.
    pub fn from_plan(plan: &Plan, values: J) -> Desired {
        let mut stages: Vec<(String, Vec<J>)> = Vec::new();
        if !plan.crds.is_empty() {
            stages.push(("crds".into(), plan.crds.iter().map(|m| m.object.clone()).collect()));
        }
        stages
            .extend(plan.stages.iter().map(|s| (s.name.clone(), s.objects.iter().map(|m| m.object.clone()).collect())));
        Desired {
            name: plan.release.name.clone(),
            namespace: plan.release.namespace.clone(),
            digest: plan.digest.clone(),
            plan_digest: plan.plan_digest.clone(),
            kube_version: plan.release.kube_version.clone(),
            values,
            stages,
            shared: Vec::new(),
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

/// Apply gpuplan's shared CRDs (the release record's, and those of `desired`), awaited
/// Established by `deadline`.
async fn shared_crds(engine: &Engine, desired: &Desired, deadline: Instant) -> anyhow::Result<()> {
    let crds: Vec<J> = std::iter::once(record::crd()).chain(desired.shared.iter().cloned()).collect();
    for crd in &crds {
        engine.apply_shared(crd).await?;
    }
    wait::ready(engine, &crds, "", deadline, &|_| {}).await
}

/// Refuse, before anything is written, objects new to the release that exist and belong to
/// another release or to none (one read each; objects the release already lists were checked
/// when they joined it, and the engine checks every apply again).
async fn preflight(engine: &Engine, desired: &Desired, old: &[Entry], new: &[Entry]) -> anyhow::Result<()> {
    if engine.options.take_ownership {
        return Ok(());
    }
    let mut refused = Vec::new();
    for entry in new.iter().filter(|n| !old.iter().any(|o| o.same(n))) {
        let r = entry.object();
        let target = engine.target(&serde_json::json!({"apiVersion": r.api_version, "kind": r.kind})).await?;
        if let Some(live) = engine.get(&target, &r.namespace, &r.name).await?
            && let Some(why) = object::foreign(&live, &desired.name, &desired.namespace)
        {
            refused.push(format!("{r}: {why}"));
        }
    }
    match refused.len() {
        0 => Ok(()),
        n => bail!("{n} object(s) of the plan belong to another release or to none:\n  {}", refused.join("\n  ")),
    }
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
    shared_crds(engine, desired, deadline).await.context("installing gpuplan's CRDs")?;
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
    preflight(engine, desired, &old, &new).await?;
    let same_plan = existing.as_ref().is_some_and(|r| {
        r.digest == desired.digest && r.values == desired.values && r.plan_digest == desired.plan_digest
    });
    let mut record = Record {
        revision: existing.as_ref().map_or(1, |r| if same_plan { r.revision } else { r.revision + 1 }),
        phase: Phase::Applying,
        digest: desired.digest.clone(),
        plan_digest: desired.plan_digest.clone(),
        gpuplan_version: env!("CARGO_PKG_VERSION").into(),
        kube_version: desired.kube_version.clone(),
        values: desired.values.clone(),
        inventory: union(&old, &new),
    };
    // Before anything is applied, the record lists everything that may exist — unless it does
    // already (the same plan again, or a retry): the record is written only when it changes,
    // so a re-apply of the same plan only reads and a failing retry writes nothing.
    let listed = existing.as_ref().is_some_and(|r| {
        same_plan
            && (r.inventory == new || r.inventory == record.inventory)
            && r.gpuplan_version == record.gpuplan_version
    });
    if !listed {
        record::write(engine, name, namespace, &record).await?;
    }
    let written = if listed { existing.clone() } else { Some(record.clone()) };

    let (stage_outcomes, pending) = match stages(engine, desired, waiting, deadline, progress).await {
        Ok(done) => done,
        Err(e) => {
            record.phase = Phase::Failed;
            if written.as_ref() != Some(&record)
                && let Err(write) = record::write(engine, name, namespace, &record).await
            {
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
        let orphans = orphans(engine, desired, &old, &new).await?;
        let doomed = [leaving, orphans].concat();
        outcome.pruned = delete(engine, desired, &doomed, waiting.wait, deadline, progress, "prune").await?;
        record.phase = Phase::Deployed;
        record.inventory = new;
        if written.as_ref() != Some(&record) {
            record::write(engine, name, namespace, &record).await?;
        }
    }
    outcome.requests = engine.stats.counts();
    Ok(outcome)
}

/// Apply a stage's objects: kind after kind (the plan's order: ServiceAccounts before the
/// DaemonSets that use them), the objects of a kind concurrently; CRDs Established before the
/// custom resources that follow, within the deadline.
async fn apply_stage(
    engine: &Engine,
    desired: &Desired,
    objects: &[J],
    deadline: Instant,
    on_wait: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<Vec<Applied>> {
    let mut out = Vec::new();
    for kind in objects.chunk_by(|a, b| a["kind"] == b["kind"]) {
        out.extend(engine.apply_all(kind, &desired.name, &desired.namespace).await?);
        if kind[0]["kind"] == "CustomResourceDefinition" {
            wait::ready(engine, kind, "", deadline, on_wait).await?;
        }
    }
    Ok(out)
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
        let on_wait = |what: &str| progress.waiting(stage, what);
        let applied = apply_stage(engine, desired, objects, deadline, &on_wait)
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

/// Objects of the release (by label and annotation), of the kinds it has, that neither
/// inventory lists — left by a run that was interrupted before its record was written.
async fn orphans(engine: &Engine, desired: &Desired, old: &[Entry], new: &[Entry]) -> anyhow::Result<Vec<Entry>> {
    let mut kinds: Vec<(&str, &str)> =
        old.iter().chain(new).map(|e| (e.api_version.as_str(), e.kind.as_str())).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let selector = format!("{}={}", object::RELEASE_LABEL, desired.name);
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
            if object::applied_digest(&live).is_some()
                && object::owner(&live).is(&desired.name, &desired.namespace)
                && !old.iter().chain(new).any(|e| e.same(&entry))
            {
                out.push(entry);
            }
        }
    }
    Ok(out)
}

/// Delete entries of release `release` in reverse order (stage by stage), workloads in the
/// foreground, objects another release has taken since left in place; with `wait`, until each
/// stage's objects are gone. Before the node agents go, every GPU node is reverted ([`revert`]).
async fn delete(
    engine: &Engine,
    release: &Desired,
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
                revert::run(engine, &agents.object(), &release.name, &release.namespace, deadline, progress).await?;
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
                engine.delete_owned(r, &release.name, &release.namespace, foreground).boxed()
            })
            .collect();
        let deleted: Vec<Applied> =
            stream::iter(deletes).buffer_unordered(engine.options.concurrency.max(1)).try_collect().await?;
        for d in &deleted {
            progress.object(&stage, d);
        }
        if wait {
            progress.waiting(&stage, "the objects (and their pods) to be gone");
            let gone: Vec<ObjectRef> =
                deleted.iter().filter(|d| d.action == Action::Deleted).map(|d| d.object.clone()).collect();
            wait::gone(engine, &gone, deadline).await.with_context(|| stage.clone())?;
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
    let release = Desired {
        name: name.into(),
        namespace: namespace.into(),
        digest: record.digest.clone(),
        plan_digest: record.plan_digest.clone(),
        kube_version: record.kube_version.clone(),
        values: J::Null,
        stages: Vec::new(),
        shared: Vec::new(),
    };
    let pruned = delete(engine, &release, &record.inventory, waiting.wait, deadline, progress, "uninstall").await?;
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
