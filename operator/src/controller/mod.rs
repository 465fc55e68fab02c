//! `gpuplan operator`: keeps a cluster at the plan its `GPUPlan` describes, without a person
//! running commands.
//!
//! Input: a kube client and [`Run`] settings. Output: until SIGTERM/SIGINT, two controllers
//! (kube-rs runtime): GPUPlans reconciled to the cluster through the apply engine — also when
//! an object they own drifts (watched by the release label), and uninstalled when deleted (a
//! finalizer, `reconcile.rs`) and compiled again when the cluster's facts change (a node with a
//! new OS or container runtime, an API served or gone: `facts.rs`) — and GPU nodes labelled
//! for the active plan and with their container runtime; plus `/healthz`,
//! `/readyz`, `/metrics`, Kubernetes Events, and a leader Lease so only one replica acts. On
//! shutdown the lease is handed over.
//!
//! Said loudly rather than waited out in silence: a cluster without the GPUPlan CRD (a warning
//! now and then, `/readyz` not ready saying why, until it is installed; nodes are labelled
//! meanwhile), and, with leader election on, a cluster that serves no Leases (an error at once:
//! `--no-leader-election` runs a single replica without one).
//!
//! ```text
//! kind       the GPUPlan custom resource (spec = values, status)
//! facts      the cluster's facts from the node store and discovery; recompile on change
//! reconcile  GPUPlan -> compile -> apply (look once per stage) -> status; Node -> labels
//! status     conditions Ready / Progressing / Degraded from what a reconcile found
//! labels     nvidia.com/gpu.present, nvidia.com/gpu.deploy.* and the runtime label
//! lease      leader election
//! metrics    counters and the Prometheus page; http serves it with the probes
//! ```

pub mod facts;
pub mod http;
pub mod kind;
pub mod labels;
pub mod lease;
pub mod metrics;
pub mod reconcile;
pub mod status;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams};
use kube::runtime::controller::{Config, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;

use self::kind::GPUPlan;
use self::metrics::Metrics;
use self::reconcile::{Context, Settings};
use crate::apply::object::RELEASE_LABEL;

/// How the operator runs.
#[derive(Debug, Clone)]
pub struct Run {
    /// Reconcile settings.
    pub settings: Settings,
    /// Where `/healthz`, `/readyz` and `/metrics` listen.
    pub http_address: String,
    /// Leader election: the Lease's name, or `None` to act without one (a single replica).
    pub lease: Option<String>,
    /// This replica's name (the pod's).
    pub identity: String,
}

/// The field manager of the GPUPlan status, which only the operator writes (forced). Not
/// [`crate::apply::FIELD_MANAGER`]: that one applies objects, whoever runs it (`gpuplan install`
/// or the operator); this one says in `managedFields` that the status is the in-cluster
/// operator's report, not a person's edit.
pub const STATUS_FIELD_MANAGER: &str = "gpuplan-operator";

/// Kinds a plan owns, watched for drift when the cluster serves them.
const OWNED: &[(&str, &str)] = &[
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "Deployment"),
    ("v1", "ConfigMap"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("node.k8s.io/v1", "RuntimeClass"),
];

/// Who the operator's Kubernetes Events come from.
const REPORTER: &str = "gpuplan-operator";

/// Why `/readyz` says not ready until the GPUPlan CRD is served.
const NO_CRD: &str = "the GPUPlan CRD (gpuplans.gpuplan.dev) is not installed: nothing to reconcile until it is \
                      (`gpuplan install` installs it; or `gpuplan crd | kubectl apply -f -`)";

/// Resolves once the cluster serves GPUPlans, and marks the operator ready; until then warns
/// once a minute (and `/readyz` says why it is not ready). Errors other than "not served" are
/// retried the same way.
async fn gpuplans_served(client: &kube::Client, metrics: &Metrics) {
    let api: Api<GPUPlan> = Api::all(client.clone());
    let mut warned: Option<std::time::Instant> = None;
    loop {
        let why = match api.list(&ListParams::default().limit(1)).await {
            Ok(_) => {
                metrics.set_ready();
                return;
            }
            Err(kube::Error::Api(s)) if s.code == 404 => NO_CRD.to_owned(),
            Err(e) => format!("cannot list GPUPlans: {e}"),
        };
        metrics.set_unready(&why);
        if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            tracing::warn!("{why}");
            warned = Some(std::time::Instant::now());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Resolves when SIGTERM or SIGINT arrives.
async fn termination() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("termination signal received: finishing current reconciles");
}

/// Run the operator until told to stop.
pub async fn run(client: kube::Client, mut run: Run) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            termination().await;
            let _ = stop_tx.send(true);
        });
    }
    let server = tokio::spawn(http::serve(run.http_address.clone(), metrics.clone(), stopped()));

    let version = client.apiserver_version().await?;
    if run.settings.kube_version.is_empty() {
        let minor: String = version.minor.chars().take_while(char::is_ascii_digit).collect();
        run.settings.kube_version = format!("{}.{minor}", version.major);
    }
    tracing::info!(server = %version.git_version, kube_version = %run.settings.kube_version, namespace = %run.settings.namespace, "connected");
    // Ready (leading or standing by) once GPUPlans are served; the GPUPlan controller starts then.
    let (served_tx, mut served) = tokio::sync::watch::channel(false);
    let served_check = {
        let (client, metrics) = (client.clone(), metrics.clone());
        tokio::spawn(async move {
            gpuplans_served(&client, &metrics).await;
            let _ = served_tx.send(true);
        })
    };

    let lease = run.lease.as_ref().map(|name| {
        Arc::new(lease::Lease::new(
            client.clone(),
            &run.settings.namespace,
            name,
            &run.identity,
            Duration::from_secs(15),
        ))
    });
    if let Some(lease) = &lease {
        tokio::select! {
            acquired = lease.acquire() => acquired?,
            () = stopped() => return Ok(()),
        }
        tracing::info!(identity = %run.identity, "leading");
    }
    metrics.leader.store(true, std::sync::atomic::Ordering::Relaxed);
    let renewals = lease.clone().map(|lease| {
        let stop_tx = stop_tx.clone();
        let every = lease.renew_every();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if !lease.renew().await {
                    tracing::error!("lost the leader lease: stopping");
                    let _ = stop_tx.send(true);
                    return;
                }
            }
        })
    });

    let nodes = Controller::new(Api::<Node>::all(client.clone()), watcher::Config::default());
    let (relabel, relabel_rx) = futures::channel::mpsc::unbounded();
    let (promote, promote_rx) = futures::channel::mpsc::unbounded();
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings: run.settings.clone(),
        metrics: metrics.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter { controller: REPORTER.into(), instance: Some(run.identity.clone()) },
        ),
        deploy: RwLock::new(None),
        relabel,
        promote,
        nodes: nodes.store(),
        live: facts::Live { kube_version: Some(version.git_version.clone()), ..facts::Live::default() },
    });
    // The plans are compiled again when the cluster's facts change (a node with a new OS or
    // runtime, an API served or gone).
    let facts_watch = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let promote = ctx.promote.clone();
            facts::watch(ctx.client.clone(), &ctx.live, ctx.nodes.clone(), |digest| {
                tracing::info!(digest, "the cluster's facts changed: compiling the plan again");
                ctx.metrics.facts_changes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = promote.unbounded_send(());
            })
            .await;
        })
    };
    // Nodes are labelled for what is deployed, whoever deployed it (a GPUPlan, or `gpuplan
    // install` with no GPUPlan at all).
    let refresher = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = reconcile::refresh_deploy(&ctx).await {
                    tracing::debug!(error = %format!("{e:#}"), "cannot read the deployed DaemonSets");
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        })
    };
    let node_loop = nodes
        .reconcile_all_on(relabel_rx)
        .graceful_shutdown_on(stopped())
        .run(reconcile::reconcile_node, reconcile::node_error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "node controller");
            }
        });

    let mut plans = Controller::new(Api::<GPUPlan>::all(client.clone()), watcher::Config::default())
        .with_config(Config::default().debounce(Duration::from_secs(1)).concurrency(1));
    for (api_version, kind) in OWNED {
        let Some(target) = crate::apply::resource::known(api_version, kind) else { continue };
        let resource = target.resource;
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        if api.list(&ListParams::default().limit(1)).await.is_err() {
            tracing::info!(kind, "not served by this cluster: not watched for drift");
            continue;
        }
        let config = watcher::Config::default().labels(RELEASE_LABEL);
        plans = plans.watches_with(api, resource, config, |o| reconcile::owner_of(o.labels()));
    }
    let plan_loop = {
        let stop = stopped();
        let plans = plans
            .reconcile_all_on(promote_rx)
            .graceful_shutdown_on(stopped())
            .run(reconcile::reconcile, reconcile::error_policy, ctx)
            .for_each(|result| async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "GPUPlan controller");
                }
            });
        async move {
            tokio::select! {
                served = served.wait_for(|served| *served) => if served.is_ok() { plans.await },
                () = stop => {}
            }
        }
    };
    tracing::info!("reconciling GPUPlans and labelling GPU nodes");
    // After a stop, reconciles in flight may finish (for up to 30 s); requeues scheduled for
    // later are not waited for (the controllers would otherwise linger until they are due).
    let grace = async {
        stopped().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while metrics.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        _ = futures::future::join(node_loop, plan_loop) => {}
        () = grace => tracing::info!("stopping with reconciles still scheduled"),
    }

    refresher.abort();
    facts_watch.abort();
    served_check.abort();
    if let Some(renewals) = renewals {
        renewals.abort();
    }
    if let Some(lease) = &lease {
        lease.release().await;
    }
    let _ = stop_tx.send(true);
    let _ = server.await;
    tracing::info!("stopped");
    Ok(())
}
