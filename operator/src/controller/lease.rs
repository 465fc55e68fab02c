//! Leader election: one active operator per cluster, the others standing by.
//!
//! Input: the Lease API in the operator's namespace, this pod's identity, a lease duration.
//! Output: [`Lease::acquire`] returns once this process holds the lease (or fails at once,
//! [`NotServed`], when the cluster has no Lease API: waiting would never end); [`Lease::renew`]
//! keeps it (false when another took it over, after which the process must stop reconciling);
//! [`Lease::release`] hands it over at shutdown, so a standby takes over at once instead of
//! after the lease expires. Updates carry the resourceVersion read, so two candidates racing
//! for an expired lease cannot both win.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::coordination::v1::{Lease as LeaseObject, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};

/// The cluster serves no Leases (`coordination.k8s.io/v1`): leader election cannot work there.
#[derive(Debug)]
pub struct NotServed;

impl std::fmt::Display for NotServed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the cluster does not serve Leases (coordination.k8s.io/v1), so leader election cannot work; \
             run a single replica with --no-leader-election"
        )
    }
}

impl std::error::Error for NotServed {}

/// Whether an answer says the Lease resource does not exist at all (not: this Lease does not).
fn not_served(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 404 && (s.reason != "NotFound" || s.message.contains("page not found")))
}

/// This process's claim on the lease.
pub struct Lease {
    api: Api<LeaseObject>,
    name: String,
    identity: String,
    duration: Duration,
}

impl Lease {
    /// A candidate `identity` for lease `name` in `namespace`.
    pub fn new(client: kube::Client, namespace: &str, name: &str, identity: &str, duration: Duration) -> Lease {
        Lease { api: Api::namespaced(client, namespace), name: name.into(), identity: identity.into(), duration }
    }

    /// How often to renew: a third of the lease, so two renewals may fail before it expires.
    pub fn renew_every(&self) -> Duration {
        self.duration / 3
    }

    fn spec(&self, previous: Option<&LeaseSpec>, now: Timestamp) -> LeaseSpec {
        let ours = previous.and_then(|p| p.holder_identity.as_deref()) == Some(self.identity.as_str());
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(self.duration.as_secs().max(1) as i32),
            acquire_time: if ours { previous.and_then(|p| p.acquire_time.clone()) } else { Some(MicroTime(now)) },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(
                previous.and_then(|p| p.lease_transitions).unwrap_or(0)
                    + if ours || previous.is_none() { 0 } else { 1 },
            ),
            ..Default::default()
        }
    }

    /// Take the lease if it is free, expired or ours; true when this process holds it now.
    pub async fn try_acquire(&self) -> anyhow::Result<bool> {
        let now = Timestamp::now();
        let read = match self.api.get_opt(&self.name).await {
            Err(e) if not_served(&e) => return Err(NotServed.into()),
            read => read.context("cannot read the leader lease")?,
        };
        let Some(mut lease) = read else {
            let lease = LeaseObject {
                metadata: ObjectMeta { name: Some(self.name.clone()), ..Default::default() },
                spec: Some(self.spec(None, now)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                // Creating in a collection that exists answers anything but 404.
                Err(kube::Error::Api(s)) if s.code == 404 => Err(NotServed.into()),
                Err(e) => Err(e).context("cannot create the leader lease"),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.as_deref().unwrap_or_default();
        let expires = spec.renew_time.as_ref().map(|t| t.0).and_then(|renewed| {
            let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(15));
            renewed.checked_add(SignedDuration::from_secs(seconds)).ok()
        });
        let free = holder.is_empty() || holder == self.identity || expires.is_none_or(|e| e < now);
        if !free {
            return Ok(false);
        }
        lease.spec = Some(self.spec(Some(&spec), now));
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            // Someone else updated it first.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e).context("cannot update the leader lease"),
        }
    }

    /// Wait until this process leads.
    pub async fn acquire(&self) -> anyhow::Result<()> {
        loop {
            match self.try_acquire().await {
                Ok(true) => return Ok(()),
                Err(e) if e.is::<NotServed>() => return Err(e),
                Ok(false) => tracing::debug!(lease = %self.name, "another operator leads; standing by"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "leader election"),
            }
            tokio::time::sleep(self.renew_every()).await;
        }
    }

    /// Renew; false when the lease is lost.
    pub async fn renew(&self) -> bool {
        match self.try_acquire().await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot renew the leader lease");
                // One failed renewal is not a loss: the lease has two more renewals' time.
                true
            }
        }
    }

    /// Give the lease up (at shutdown).
    pub async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await
            && lease.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(self.identity.as_str())
        {
            if let Some(spec) = lease.spec.as_mut() {
                spec.holder_identity = None;
                spec.renew_time = None;
            }
            let _ = self.api.replace(&self.name, &PostParams::default(), &lease).await;
        }
    }
}
