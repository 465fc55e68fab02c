//! The apply engine: server-side apply of objects, with retries, a bound on concurrency, no
//! write when nothing would change, and no object taken from another release.
//!
//! Input: a kube client, [`Options`], and objects (JSON). Output: what happened to each object
//! ([`Applied`]), or an error naming the object and the API server's message. The objects
//! given to [`Engine::apply_all`] are applied concurrently (at most `concurrency` at a time);
//! the order of kinds and every wait are the release's (`release.rs`), so the engine never
//! waits. Every request is counted ([`Stats`]) so a no-op re-apply can show that it only read.
//!
//! Every apply uses one field manager, [`FIELD_MANAGER`]. Which release an object belongs to is
//! not the field manager's business but its release label and annotation (`object.rs`): an
//! object that exists and belongs to another release, or to no release, is refused as Helm
//! refuses it ("exists and cannot be imported into the current release"), unless
//! `take_ownership` says to adopt it.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail};
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt, TryStreamExt};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::Value as J;

use super::FIELD_MANAGER;
use super::object;
use super::resource::{Resolver, Target};

/// How the engine applies.
#[derive(Debug, Clone)]
pub struct Options {
    /// Take over fields another manager owns (`--force-conflicts`).
    pub force_conflicts: bool,
    /// Adopt objects that exist but belong to another release or to none (`--take-ownership`).
    pub take_ownership: bool,
    /// Objects applied at the same time.
    pub concurrency: usize,
    /// Retries of a request that failed for a transient reason.
    pub retries: u32,
    /// The first retry's delay; each next one doubles it.
    pub backoff: Duration,
    /// How often readiness is polled.
    pub poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            force_conflicts: false,
            take_ownership: false,
            concurrency: 8,
            retries: 5,
            backoff: Duration::from_millis(200),
            poll: Duration::from_secs(1),
        }
    }
}

/// What an apply did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// It did not exist.
    Created,
    /// It existed and was changed.
    Configured,
    /// It was already as planned: nothing was written.
    Unchanged,
    /// It was deleted.
    Deleted,
    /// It was to be deleted but was already gone.
    Absent,
    /// It was to be deleted but belongs to another release now (taken with `--take-ownership`):
    /// it stays.
    Kept,
}

impl Action {
    /// The past participle, for progress lines and summaries.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Deleted => "deleted",
            Action::Absent => "already gone",
            Action::Kept => "kept (another release owns it now)",
        }
    }
}

/// An object, by kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// The reference of an object.
    pub fn of(object: &J) -> ObjectRef {
        let text = |v: &J| v.as_str().unwrap_or_default().to_owned();
        ObjectRef {
            api_version: text(&object["apiVersion"]),
            kind: text(&object["kind"]),
            namespace: text(&object["metadata"]["namespace"]),
            name: text(&object["metadata"]["name"]),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// One object's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Which object.
    #[serde(flatten)]
    pub object: ObjectRef,
    /// What happened.
    pub action: Action,
}

/// API requests made, by verb.
#[derive(Debug, Default)]
pub struct Stats {
    /// GET requests.
    pub get: AtomicU64,
    /// LIST requests.
    pub list: AtomicU64,
    /// PATCH requests (server-side apply, dry runs included).
    pub patch: AtomicU64,
    /// DELETE requests.
    pub delete: AtomicU64,
    /// Objects written (server-side applies that were not dry runs).
    pub written: AtomicU64,
}

/// The counts, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// GET requests.
    pub get: u64,
    /// LIST requests.
    pub list: u64,
    /// PATCH requests.
    pub patch: u64,
    /// DELETE requests.
    pub delete: u64,
    /// Objects written.
    #[serde(skip)]
    pub written: u64,
}

impl Stats {
    /// A snapshot.
    pub fn counts(&self) -> Counts {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counts {
            get: n(&self.get),
            list: n(&self.list),
            patch: n(&self.patch),
            delete: n(&self.delete),
            written: n(&self.written),
        }
    }
}

/// Whether an error is worth another try: throttling, server errors, connection failures, and
/// conflicts that are not about field ownership (a concurrent update).
pub fn retryable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => match status.code {
            // The API server answers a server-side apply whose fields do not fit the schema with a
            // 500 ("failed to create typed patch object"): that is the object's fault, not the
            // server's, and another try gives the same answer.
            500 => !status.message.contains("typed patch object") && !status.message.contains("not declared in schema"),
            429 | 502 | 503 | 504 => true,
            409 => !field_conflict(status),
            _ => false,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// A server-side apply conflict: another field manager owns fields this apply sets.
pub fn field_conflict(status: &kube::core::Status) -> bool {
    status.code == 409
        && (status.message.starts_with("Apply failed")
            || status.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "FieldManagerConflict")))
}

/// The API server's answer, for a person.
pub fn describe(error: &kube::Error) -> String {
    match error {
        // A 404 that is not a Status: no endpoint for the resource at all.
        kube::Error::Api(s) if s.code == 404 && s.message.contains("page not found") => {
            "the cluster does not serve this kind (404 page not found: is its CRD installed?)".into()
        }
        kube::Error::Api(s) if !s.message.is_empty() => format!("{} (HTTP {} {})", s.message, s.code, s.reason),
        other => other.to_string(),
    }
}

/// Applies objects; one per command or reconcile.
pub struct Engine {
    client: kube::Client,
    resolver: Resolver,
    /// How it applies.
    pub options: Options,
    /// Requests made so far.
    pub stats: Stats,
}

impl Engine {
    /// An engine that knows the CRDs among `objects`.
    pub fn new<'a>(client: kube::Client, options: Options, objects: impl IntoIterator<Item = &'a J>) -> Engine {
        Engine { client, resolver: Resolver::new(objects), options, stats: Stats::default() }
    }

    /// The client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Where `object` lives.
    pub async fn target(&self, object: &J) -> anyhow::Result<Target> {
        let r = ObjectRef::of(object);
        self.resolver.resolve(&self.client, &r.api_version, &r.kind).await
    }

    /// The API of one object's resource in its namespace.
    pub fn api(&self, target: &Target, namespace: &str) -> Api<DynamicObject> {
        if target.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &target.resource)
        } else {
            Api::all_with(self.client.clone(), &target.resource)
        }
    }

    /// Run a request, retrying transient failures with exponential backoff.
    pub async fn retry<T, F, Fut>(&self, counter: &AtomicU64, mut request: F) -> Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut attempt = 0;
        loop {
            counter.fetch_add(1, Ordering::Relaxed);
            match request().await {
                Err(e) if attempt < self.options.retries && retryable(&e) => {
                    let delay = self.options.backoff * 2u32.saturating_pow(attempt);
                    tracing::debug!(error = %describe(&e), attempt, delay_ms = delay.as_millis() as u64, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The live object, if it exists.
    pub async fn get(&self, target: &Target, namespace: &str, name: &str) -> anyhow::Result<Option<J>> {
        let api = self.api(target, namespace);
        let live = self
            .retry(&self.stats.get, || api.get_opt(name))
            .await
            .map_err(|e| anyhow!("cannot read {} {name}: {}", target.resource.kind, describe(&e)))?;
        Ok(live.map(|o| serde_json::to_value(o).unwrap_or_default()))
    }

    /// Every object of a resource carrying `selector`, across namespaces for namespaced ones.
    pub async fn list(&self, target: &Target, selector: &str) -> anyhow::Result<Vec<J>> {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &target.resource);
        let params = ListParams::default().labels(selector);
        let list = self
            .retry(&self.stats.list, || api.list(&params))
            .await
            .map_err(|e| anyhow!("cannot list {}: {}", target.resource.plural, describe(&e)))?;
        Ok(list.items.into_iter().map(|o| serde_json::to_value(o).unwrap_or_default()).collect())
    }

    /// Server-side apply of one prepared object (`dry_run`: the server's answer, not stored).
    pub async fn patch(&self, target: &Target, object: &J, dry_run: bool) -> Result<J, kube::Error> {
        let r = ObjectRef::of(object);
        let api = self.api(target, &r.namespace);
        let mut params = PatchParams::apply(FIELD_MANAGER);
        // Forced only on request (`--force-conflicts`): taking fields over from another manager
        // (kubectl, Helm, another operator) must be a person's decision, not a default.
        params.force = self.options.force_conflicts;
        params.dry_run = dry_run;
        let patch = Patch::Apply(object);
        let patched = self.retry(&self.stats.patch, || api.patch(&r.name, &params, &patch)).await?;
        if !dry_run {
            self.stats.written.fetch_add(1, Ordering::Relaxed);
        }
        Ok(serde_json::to_value(patched).unwrap_or_default())
    }

    /// Apply one object of release `release` (in `namespace`); nothing is written when the live
    /// object is already as planned. An object that exists and belongs to another release (or to
    /// none) is refused, unless [`Options::take_ownership`].
    pub async fn apply(&self, object: &J, release: &str, namespace: &str) -> anyhow::Result<Applied> {
        let target = self.target(object).await?;
        let desired = object::prepare(object, release, namespace, target.namespaced);
        let r = ObjectRef::of(&desired);
        let live = self.get(&target, &r.namespace, &r.name).await?;
        if let Some(live) = &live
            && !self.options.take_ownership
            && let Some(why) = object::foreign(live, release, namespace)
        {
            bail!("cannot apply {r}: {why}");
        }
        self.write(&target, &desired, live.as_ref()).await
    }

    /// Apply an object no release owns (gpuplan's own CRDs: the release record's and the
    /// GPUPlan's), as Helm treats a chart's `crds/`: applied when missing or different, never
    /// claimed by a release, never pruned or uninstalled.
    pub async fn apply_shared(&self, object: &J) -> anyhow::Result<Applied> {
        let target = self.target(object).await?;
        let desired = object::prepare_shared(object);
        let r = ObjectRef::of(&desired);
        let live = self.get(&target, &r.namespace, &r.name).await?;
        self.write(&target, &desired, live.as_ref()).await
    }

    async fn write(&self, target: &Target, desired: &J, live: Option<&J>) -> anyhow::Result<Applied> {
        let r = ObjectRef::of(desired);
        if live.is_some_and(|live| object::up_to_date(live, desired)) {
            return Ok(Applied { object: r, action: Action::Unchanged });
        }
        self.patch(target, desired, false).await.map_err(|e| match &e {
            kube::Error::Api(s) if field_conflict(s) => anyhow!(
                "cannot apply {r}: {} — another field manager owns these fields; take them over with --force-conflicts",
                describe(&e)
            ),
            _ => anyhow!("cannot apply {r}: {}", describe(&e)),
        })?;
        let action = if live.is_some() { Action::Configured } else { Action::Created };
        tracing::debug!(object = %r, ?action, "applied");
        Ok(Applied { object: r, action })
    }

    /// Apply objects concurrently (at most `concurrency` at a time); the outcomes in the given
    /// order. The caller orders kinds and waits (`release.rs`).
    pub async fn apply_all(&self, objects: &[J], release: &str, namespace: &str) -> anyhow::Result<Vec<Applied>> {
        // Boxed so the futures have one type and no closure lifetimes (reconcile futures must be
        // Send for every lifetime).
        let applies: Vec<BoxFuture<'_, anyhow::Result<Applied>>> =
            objects.iter().map(|o| self.apply(o, release, namespace).boxed()).collect();
        stream::iter(applies).buffered(self.options.concurrency.max(1)).try_collect().await
    }

    /// Delete one object (`foreground`: its dependents first, so a DaemonSet is gone only when
    /// its pods are); absent objects are fine.
    pub async fn delete(&self, object: &ObjectRef, foreground: bool) -> anyhow::Result<Applied> {
        let target = self.resolver.resolve(&self.client, &object.api_version, &object.kind).await?;
        let api = self.api(&target, &object.namespace);
        let params = if foreground { DeleteParams::foreground() } else { DeleteParams::background() };
        let action = match self.retry(&self.stats.delete, || api.delete(&object.name, &params)).await {
            Ok(_) => Action::Deleted,
            Err(kube::Error::Api(s)) if s.code == 404 || s.is_not_found() => Action::Absent,
            Err(e) => return Err(anyhow!("cannot delete {object}: {}", describe(&e))),
        };
        Ok(Applied { object: object.clone(), action })
    }

    /// Delete one object of release `release` (in `namespace`), unless it belongs to another
    /// release now (adopted with `--take-ownership`): then it stays ([`Action::Kept`]).
    pub async fn delete_owned(
        &self,
        object: &ObjectRef,
        release: &str,
        namespace: &str,
        foreground: bool,
    ) -> anyhow::Result<Applied> {
        let target = self.resolver.resolve(&self.client, &object.api_version, &object.kind).await?;
        let Some(live) = self.get(&target, &object.namespace, &object.name).await? else {
            return Ok(Applied { object: object.clone(), action: Action::Absent });
        };
        let owner = object::owner(&live);
        if matches!(owner, object::Owner::Release { .. }) && !owner.is(release, namespace) {
            tracing::info!(%object, ?owner, "kept: another release owns it now");
            return Ok(Applied { object: object.clone(), action: Action::Kept });
        }
        self.delete(object, foreground).await
    }
}

#[cfg(test)]
mod tests {
    use kube::core::Status;

    use super::*;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Status::failure(message, reason).with_code(code).boxed())
    }

    #[test]
    fn given_api_errors_only_transient_ones_are_retried() {
        assert!(retryable(&api(503, "ServiceUnavailable", "etcd leader changed")));
        assert!(retryable(&api(429, "TooManyRequests", "slow down")));
        assert!(retryable(&api(
            409,
            "Conflict",
            "Operation cannot be fulfilled on daemonsets.apps \"x\": the object has been modified"
        )));
        assert!(!retryable(&api(409, "Conflict", "Apply failed with 1 conflict: conflict with \"kubectl\"")));
        assert!(!retryable(&api(
            500,
            "",
            "failed to create typed patch object (/x; DaemonSet): .spec.x: field not declared in schema"
        )));
        assert!(retryable(&api(500, "InternalError", "etcdserver: request timed out")));
        assert!(!retryable(&api(422, "Invalid", "spec.replicas: Invalid value")));
        assert!(!retryable(&api(404, "NotFound", "not found")));
    }
}
