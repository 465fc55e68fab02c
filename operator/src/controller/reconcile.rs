//! The reconcilers: a GPUPlan to the cluster, and GPU nodes to their labels.
//!
//! Input: a [`GPUPlan`] (or a Node) and the shared [`Context`]. Output: the cluster at the
//! plan — compiled from the spec, applied by the apply engine stage by stage without blocking
//! (a stage not ready yet ends the pass; the next pass continues), pruned — and the status
//! saying so; or, for a spec the compiler rejects, a `Degraded` condition with the
//! diagnostics while the last good plan stays applied. Nothing is written when nothing
//! changed: objects carry the digest of what was applied, the release record and the status
//! are written only when they differ (a failing retry writes nothing), nodes are patched only
//! when a label must change.
//!
//! **Deleting a GPUPlan uninstalls what it deployed**, as upstream's operator garbage-collects
//! its operands when its ClusterPolicy goes. The active GPUPlan carries the finalizer
//! [`FINALIZER`]; once it is deleted, each pass uninstalls its release as `gpuplan uninstall`
//! does — reverse stage order, every GPU node's runtime config reverted before the node agents
//! go (`apply::revert`) — for at most `uninstall_step`, then looks again, so a slow node revert
//! never blocks the operator; the status says what it waits for. When the release is gone, the
//! GPU nodes lose the plan's deploy labels, the finalizer is removed, and every other GPUPlan
//! is looked at again: the oldest left becomes the active one. Ignored GPUPlans carry no
//! finalizer (they deployed nothing).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gpuplan_compiler::plan::Release;
use gpuplan_compiler::values::{Origin, Source, Value, Values};
use gpuplan_compiler::{Diagnostic, Facts, Severity, Target};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use serde_json::{Value as J, json};

use super::kind::{GPUPlan, GPUPlanStatus};
use super::labels;
use super::metrics::Metrics;
use super::status::{self, Shape, Verdict};
use crate::apply::engine::{Action as Done, Engine, Options};
use crate::apply::progress::Silent;
use crate::apply::record;
use crate::apply::release::{self, Desired, Mode, Waiting};

/// How the operator reconciles.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the operands go (the release namespace).
    pub namespace: String,
    /// The Kubernetes version plans are rendered for.
    pub kube_version: String,
    /// The next look at a ready plan (drift is also caught by watches).
    pub requeue_ready: Duration,
    /// The next look while a stage rolls out.
    pub requeue_progressing: Duration,
    /// The next try after a failure.
    pub requeue_failed: Duration,
    /// How long one pass of a deleted GPUPlan's uninstall may take (a node revert that is not
    /// done by then is looked at again in the next pass).
    pub uninstall_step: Duration,
}

/// The finalizer of the active GPUPlan: its release is uninstalled before it goes.
pub const FINALIZER: &str = "gpuplan.dev/uninstall";

/// What every reconcile shares.
pub struct Context {
    /// The client.
    pub client: kube::Client,
    /// Settings.
    pub settings: Settings,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Kubernetes events.
    pub recorder: Recorder,
    /// The deploy labels of the plan applied last (`None` before the first).
    pub deploy: RwLock<Option<BTreeSet<String>>>,
    /// Asks the node reconciler to look at every node again.
    pub relabel: futures::channel::mpsc::UnboundedSender<()>,
    /// Asks the GPUPlan reconciler to look at every GPUPlan again (the active one is gone).
    pub promote: futures::channel::mpsc::UnboundedSender<()>,
    /// The nodes, as the node controller sees them.
    pub nodes: Store<Node>,
    /// The rest of the cluster's facts.
    pub live: super::facts::Live,
}

/// A failed reconcile (kube's controller wants a `std::error::Error`).
#[derive(Debug)]
pub struct Failure(pub anyhow::Error);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for Failure {}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure(e)
    }
}

impl From<kube::Error> for Failure {
    fn from(e: kube::Error) -> Self {
        Failure(e.into())
    }
}

/// The release a spec describes for the cluster's facts: [`gpuplan_compiler::compile_effective`]
/// of the spec's values; a spec with errors is [`gpuplan_compiler::Error::Invalid`] with them.
pub fn compile(
    spec: &serde_json::Map<String, J>,
    name: &str,
    settings: &Settings,
    facts: Facts,
) -> Result<Desired, gpuplan_compiler::Error> {
    let origin = Origin::new(Source::File(format!("GPUPlan {name} spec").into()));
    let Value::Map(map) = Value::from_json(&J::Object(spec.clone()), &origin) else {
        return Err(gpuplan_compiler::Error::Invalid(vec![Diagnostic::error("", "the spec is not a map")]));
    };
    let effective = gpuplan_compiler::coalesce(Values(map))?;
    let release = Release {
        name: name.into(),
        namespace: settings.namespace.clone(),
        kube_version: settings.kube_version.clone(),
    };
    let target = Target { release, facts, ..Target::default() };
    let compiled = gpuplan_compiler::compile_effective(effective, &target)?;
    match compiled.plan {
        Some(plan) => Ok(Desired::from_plan(&plan, compiled.effective.values.to_json())),
        None => Err(gpuplan_compiler::Error::Invalid(
            compiled.diagnostics.into_iter().filter(|d| d.severity == Severity::Error).collect(),
        )),
    }
}

/// The facts a plan is compiled for: the nodes once the node watch has listed them, and the
/// served APIs once discovery has answered (compiling before either would render a plan the
/// next look takes back: DaemonSets for no OS, ServiceMonitors of an API not served).
async fn facts(ctx: &Context) -> anyhow::Result<Facts> {
    if !super::facts::until_listed(&ctx.nodes, Duration::from_secs(30)).await {
        anyhow::bail!("the node watch has not listed the cluster's nodes within 30 s");
    }
    if ctx.live.api_versions.read().map(|a| a.is_none()).unwrap_or(true) {
        ctx.live.discover(&ctx.client).await?;
    }
    Ok(ctx.live.facts(&ctx.nodes))
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

async fn event(ctx: &Context, plan: &GPUPlan, warning: bool, reason: &str, note: String) {
    let event = Event {
        type_: if warning { EventType::Warning } else { EventType::Normal },
        reason: reason.into(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &plan.object_ref(&())).await {
        tracing::debug!(error = %e, reason, "could not record an event");
    }
}

/// Write the status when it changed; the event for a new `Ready` or `Degraded` state.
async fn report(ctx: &Context, plan: &GPUPlan, verdict: &Verdict) -> Result<(), Failure> {
    let previous = plan.status.clone().unwrap_or_default();
    let gpu_nodes =
        ctx.nodes.state().iter().filter(|n| n.labels().get(labels::GPU_PRESENT).is_some_and(|v| v == "true")).count()
            as u64;
    ctx.metrics.set_gpu_nodes(gpu_nodes);
    let next = status::next(&previous, plan.metadata.generation.unwrap_or(0), verdict, gpu_nodes, &now());
    if next == previous {
        return Ok(());
    }
    let was = |t: &str, s: &GPUPlanStatus| s.conditions.iter().find(|c| c.type_ == t).map(|c| c.status.clone());
    for (t, warning) in [("Ready", false), ("Degraded", true)] {
        if was(t, &next).as_deref() == Some("True") && was(t, &previous).as_deref() != Some("True") {
            let c = next.conditions.iter().find(|c| c.type_ == t).map(|c| (c.reason.clone(), c.message.clone()));
            if let Some((reason, message)) = c {
                event(ctx, plan, warning, &reason, message).await;
            }
        }
    }
    let api: Api<GPUPlan> = Api::all(ctx.client.clone());
    let patch = json!({"apiVersion": "gpuplan.dev/v1alpha1", "kind": "GPUPlan", "status": next});
    // Forced: the operator is the status's only writer; a stale field manager must not block it.
    let params = PatchParams::apply(super::STATUS_FIELD_MANAGER).force();
    api.patch_status(&plan.name_any(), &params, &Patch::Apply(&patch)).await?;
    Ok(())
}

/// Set this GPUPlan's finalizers to `finalizers` (a merge patch carrying the resourceVersion
/// read, so a concurrent change is a conflict, not lost).
async fn set_finalizers(ctx: &Context, plan: &GPUPlan, finalizers: Vec<String>) -> Result<(), Failure> {
    let api: Api<GPUPlan> = Api::all(ctx.client.clone());
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": plan.metadata.resource_version}});
    api.patch(&plan.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

fn finalizers(plan: &GPUPlan) -> Vec<String> {
    plan.metadata.finalizers.clone().unwrap_or_default()
}

/// A deleted GPUPlan: one bounded pass of its release's uninstall; the finalizer goes once the
/// release has (see the module docs).
async fn finalize(plan: &GPUPlan, ctx: &Context) -> Result<Action, Failure> {
    let held = finalizers(plan);
    if !held.iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let name = plan.name_any();
    let namespace = ctx.settings.namespace.as_str();
    let engine = Engine::new(ctx.client.clone(), Options::default(), []);
    if record::read(&engine, &name, namespace).await?.is_some() {
        let waiting = Waiting { wait: false, timeout: ctx.settings.uninstall_step, once: false };
        match release::uninstall(&engine, &name, namespace, waiting, &Silent).await {
            Ok(outcome) => {
                let gone = outcome.pruned.iter().filter(|p| p.action == Done::Deleted).count();
                tracing::info!(gpuplan = %name, gone, "uninstalled");
                event(ctx, plan, false, "Uninstalled", format!("the GPUPlan is deleted: {gone} objects removed")).await;
            }
            Err(e) => {
                let reason = format!("{e:#}");
                tracing::info!(gpuplan = %name, %reason, "uninstalling");
                report(ctx, plan, &Verdict::Uninstalling { reason }).await?;
                return Ok(Action::requeue(ctx.settings.requeue_progressing));
            }
        }
    }
    // The nodes keep no deploy label for a plan that is gone.
    if let Ok(mut deploy) = ctx.deploy.write() {
        *deploy = Some(BTreeSet::new());
    }
    let _ = ctx.relabel.unbounded_send(());
    set_finalizers(ctx, plan, held.into_iter().filter(|f| f != FINALIZER).collect()).await?;
    let _ = ctx.promote.unbounded_send(());
    Ok(Action::await_change())
}

/// The oldest GPUPlan is the active one (as upstream treats ClusterPolicies).
async fn active(ctx: &Context) -> Result<Option<String>, Failure> {
    let api: Api<GPUPlan> = Api::all(ctx.client.clone());
    let list = api.list(&ListParams::default()).await?;
    let oldest = list.items.iter().min_by_key(|p| (p.metadata.creation_timestamp.clone().map(|t| t.0), p.name_any()));
    Ok(oldest.map(ResourceExt::name_any))
}

/// Reconcile one GPUPlan.
pub async fn reconcile(plan: Arc<GPUPlan>, ctx: Arc<Context>) -> Result<Action, Failure> {
    let _running = super::metrics::Running::new(&ctx.metrics.in_flight);
    let started = Instant::now();
    let name = plan.name_any();
    if plan.metadata.deletion_timestamp.is_some() {
        return finalize(&plan, &ctx).await;
    }
    if let Some(active) = active(&ctx).await?.filter(|a| *a != name) {
        report(&ctx, &plan, &Verdict::Ignored { active }).await?;
        // Looked at again when the active one goes (`promote`), and now and then besides.
        return Ok(Action::requeue(ctx.settings.requeue_ready));
    }
    let held = finalizers(&plan);
    if !held.iter().any(|f| f == FINALIZER) {
        set_finalizers(&ctx, &plan, held.into_iter().chain([FINALIZER.to_owned()]).collect()).await?;
    }
    let facts = facts(&ctx).await?;
    let facts_digest = facts.digest().unwrap_or_default();
    ctx.live.compiled_for(&facts_digest);
    let desired = match compile(&plan.spec.values, &name, &ctx.settings, facts) {
        Ok(desired) => desired,
        Err(e) => {
            let diagnostics = match e {
                gpuplan_compiler::Error::Invalid(found) => {
                    found.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
                }
                other => other.to_string(),
            };
            tracing::warn!(gpuplan = %name, %diagnostics, "the spec is rejected; the last good plan stays applied");
            report(&ctx, &plan, &Verdict::InvalidSpec { diagnostics }).await?;
            ctx.metrics.reconciled(false, started.elapsed(), 0);
            return Ok(Action::await_change());
        }
    };
    // Forced: the GPUPlan is the truth for what its release owns, and an edit by hand (an
    // Update) takes the edited fields' ownership away from gpuplan; without force, drift could
    // never be put back. Objects of another release (or of none) are still refused.
    let options = Options { force_conflicts: true, ..Options::default() };
    let engine = Engine::new(ctx.client.clone(), options, desired.objects());
    let waiting = Waiting { wait: false, timeout: Duration::from_secs(120), once: true };
    let outcome =
        match release::apply(&engine, &desired, Mode::Upgrade { install_missing: true }, waiting, &Silent).await {
            Ok(outcome) => outcome,
            Err(e) => {
                let error = format!("{e:#}");
                tracing::error!(gpuplan = %name, %error, "apply failed");
                ctx.metrics.reconciled(false, started.elapsed(), engine.stats.counts().written);
                report(&ctx, &plan, &Verdict::ApplyFailed { error }).await?;
                return Err(Failure(e));
            }
        };
    let written = engine.stats.counts().written;
    if !outcome.pruned.is_empty() {
        let names: Vec<String> = outcome.pruned.iter().map(|p| p.object.to_string()).collect();
        event(&ctx, &plan, false, "Pruned", format!("removed what left the plan: {}", names.join(", "))).await;
    }
    let deploy = labels::deploy_labels(desired.objects());
    let changed = ctx.deploy.read().map(|d| d.as_ref() != Some(&deploy)).unwrap_or(true);
    if changed {
        if let Ok(mut d) = ctx.deploy.write() {
            *d = Some(deploy);
        }
        let _ = ctx.relabel.unbounded_send(());
    }
    let stages: Vec<String> = outcome.stages.iter().map(|s| s.name.clone()).collect();
    let mut daemon_sets: Vec<String> = desired
        .objects()
        .filter(|o| o["kind"] == "DaemonSet")
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    daemon_sets.sort();
    let shape = Shape { facts_digest, daemon_sets };
    let (verdict, next) = match outcome.pending {
        Some(pending) => {
            let ready = stages[..stages.len().saturating_sub(1)].to_vec();
            let v = Verdict::Progressing {
                digest: outcome.digest,
                revision: outcome.revision,
                ready,
                stage: pending.stage,
                reason: pending.reason,
                shape,
            };
            (v, ctx.settings.requeue_progressing)
        }
        None => {
            let objects = desired.objects().count();
            (
                Verdict::Applied { digest: outcome.digest, revision: outcome.revision, stages, objects, shape },
                ctx.settings.requeue_ready,
            )
        }
    };
    report(&ctx, &plan, &verdict).await?;
    ctx.metrics.reconciled(true, started.elapsed(), written);
    tracing::info!(gpuplan = %name, written, took_ms = started.elapsed().as_millis() as u64, ?verdict, "reconciled");
    Ok(Action::requeue(next))
}

/// Take the deploy labels from the DaemonSets gpuplan deployed in the namespace — those of a
/// GPUPlan, or of a release `gpuplan install` applied without one — and relabel the nodes
/// when they changed. One LIST.
pub async fn refresh_deploy(ctx: &Context) -> anyhow::Result<()> {
    let api: Api<k8s_openapi::api::apps::v1::DaemonSet> = Api::namespaced(ctx.client.clone(), &ctx.settings.namespace);
    let list = api.list(&ListParams::default().labels(crate::apply::object::RELEASE_LABEL)).await?;
    let objects: Vec<J> = list.items.iter().filter_map(|d| serde_json::to_value(d).ok()).collect();
    let deploy = labels::deploy_labels(&objects);
    if deploy.is_empty() {
        return Ok(());
    }
    let changed = ctx.deploy.read().map(|d| d.as_ref() != Some(&deploy)).unwrap_or(true);
    if changed {
        if let Ok(mut d) = ctx.deploy.write() {
            *d = Some(deploy);
        }
        let _ = ctx.relabel.unbounded_send(());
    }
    Ok(())
}

/// After a failed GPUPlan reconcile: try again later.
pub fn error_policy(_plan: Arc<GPUPlan>, failure: &Failure, ctx: Arc<Context>) -> Action {
    tracing::warn!(error = %failure, "reconcile failed; retrying");
    Action::requeue(ctx.settings.requeue_failed)
}

/// Label one node as the active plan needs.
pub async fn reconcile_node(node: Arc<Node>, ctx: Arc<Context>) -> Result<Action, Failure> {
    let _running = super::metrics::Running::new(&ctx.metrics.in_flight);
    let current: BTreeMap<String, String> = node.labels().clone();
    let deploy = ctx.deploy.read().ok().and_then(|d| d.clone());
    let mut changes = labels::changes(&current, deploy.as_ref().unwrap_or(&BTreeSet::new()));
    if deploy.is_none() {
        // No plan applied yet: only say whether there is a GPU; leave deploy labels alone.
        changes.retain(|k, _| k == labels::GPU_PRESENT);
    }
    let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
    changes.extend(labels::runtime(&current, info.map_or("", |i| i.container_runtime_version.as_str())));
    if changes.is_empty() {
        return Ok(Action::await_change());
    }
    let name = node.name_any();
    tracing::info!(node = %name, ?changes, "labelling");
    let api: Api<Node> = Api::all(ctx.client.clone());
    api.patch(&name, &PatchParams::default(), &Patch::Merge(labels::patch(&changes))).await?;
    Ok(Action::await_change())
}

/// After a failed node reconcile.
pub fn node_error_policy(_node: Arc<Node>, failure: &Failure, _ctx: Arc<Context>) -> Action {
    tracing::warn!(error = %failure, "labelling a node failed; retrying");
    Action::requeue(Duration::from_secs(10))
}

/// The GPUPlan an owned object belongs to (its release label).
pub fn owner_of(labels: &BTreeMap<String, String>) -> Option<kube::runtime::reflector::ObjectRef<GPUPlan>> {
    labels.get(crate::apply::object::RELEASE_LABEL).map(|name| kube::runtime::reflector::ObjectRef::new(name))
}
