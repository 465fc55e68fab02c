//! A GPUPlan's status from what a reconcile found: conditions `Ready`, `Progressing` and
//! `Degraded` with a reason and a message a person can act on.
//!
//! Input: the previous status, the object's generation, and the [`Verdict`] of the reconcile.
//! Output: the new status. A condition keeps its `lastTransitionTime` while its status stays
//! the same, so an unchanged outcome gives an identical status — and no status write. Pure but
//! for the clock, which the caller passes in.

use super::kind::{Condition, GPUPlanStatus, StageStatus};

/// What the cluster's facts made of the plan applied: what a person looks for when a node
/// with a new OS or runtime joins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shape {
    /// `sha256:` of the facts the plan was compiled for.
    pub facts_digest: String,
    /// The plan's DaemonSets (a driver per GPU node OS, a node agent per runtime), sorted.
    pub daemon_sets: Vec<String>,
}

/// What a reconcile found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every stage applied and ready; `objects` objects, `pruned` removed.
    Applied {
        /// Plan digest.
        digest: String,
        /// Release revision.
        revision: u64,
        /// Stage names.
        stages: Vec<String>,
        /// Objects in the plan.
        objects: usize,
        /// What the facts made of it.
        shape: Shape,
    },
    /// Stages up to `stage` applied; `stage` is not ready yet.
    Progressing {
        /// Plan digest.
        digest: String,
        /// Release revision.
        revision: u64,
        /// Stages applied and ready before it.
        ready: Vec<String>,
        /// The stage waited for.
        stage: String,
        /// What it waits for.
        reason: String,
        /// What the facts made of it.
        shape: Shape,
    },
    /// The spec does not compile; the last good plan stays applied.
    InvalidSpec {
        /// The diagnostics, one per line.
        diagnostics: String,
    },
    /// Applying failed (an API error, a conflict).
    ApplyFailed {
        /// The error.
        error: String,
    },
    /// Another GPUPlan is the active one.
    Ignored {
        /// Its name.
        active: String,
    },
    /// The GPUPlan is deleted and its release is being uninstalled.
    Uninstalling {
        /// What it waits for.
        reason: String,
    },
}

fn condition(type_: &str, on: bool, reason: &str, message: String, generation: i64, now: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status: if on { "True" } else { "False" }.into(),
        reason: reason.into(),
        message,
        last_transition_time: now.into(),
        observed_generation: generation,
    }
}

/// The new status.
pub fn next(previous: &GPUPlanStatus, generation: i64, verdict: &Verdict, gpu_nodes: u64, now: &str) -> GPUPlanStatus {
    let mut status = GPUPlanStatus {
        observed_generation: generation,
        digest: previous.digest.clone(),
        revision: previous.revision,
        conditions: Vec::new(),
        stages: previous.stages.clone(),
        gpu_nodes,
        facts_digest: previous.facts_digest.clone(),
        daemon_sets: previous.daemon_sets.clone(),
    };
    let c = |t: &str, on: bool, reason: &str, message: String| condition(t, on, reason, message, generation, now);
    let previous_ready = previous.conditions.iter().find(|c| c.type_ == "Ready").cloned();
    status.conditions = match verdict {
        Verdict::Applied { digest, revision, stages, objects, shape } => {
            status.digest = digest.clone();
            (status.facts_digest, status.daemon_sets) = (shape.facts_digest.clone(), shape.daemon_sets.clone());
            status.revision = *revision;
            status.stages =
                stages.iter().map(|s| StageStatus { name: s.clone(), ready: true, message: String::new() }).collect();
            let message = format!("{objects} objects in {} stages applied and ready", stages.len());
            vec![
                c("Ready", true, "Applied", message),
                c("Progressing", false, "Applied", "nothing to wait for".into()),
                c("Degraded", false, "Applied", "the plan applied cleanly".into()),
            ]
        }
        Verdict::Progressing { digest, revision, ready, stage, reason, shape } => {
            status.digest = digest.clone();
            (status.facts_digest, status.daemon_sets) = (shape.facts_digest.clone(), shape.daemon_sets.clone());
            status.revision = *revision;
            status.stages =
                ready.iter().map(|s| StageStatus { name: s.clone(), ready: true, message: String::new() }).collect();
            status.stages.push(StageStatus { name: stage.clone(), ready: false, message: reason.clone() });
            let message = format!("stage {stage} is not ready: {reason}");
            vec![
                c("Ready", false, "StageNotReady", message.clone()),
                c("Progressing", true, "StageNotReady", message),
                c("Degraded", false, "Applied", "the plan applied cleanly so far".into()),
            ]
        }
        Verdict::InvalidSpec { diagnostics } => {
            // The cluster still runs the last good plan: Ready stays what it was.
            let ready =
                previous_ready.unwrap_or_else(|| c("Ready", false, "InvalidSpec", "no plan applied yet".into()));
            vec![
                ready,
                c("Progressing", false, "InvalidSpec", "waiting for a valid spec".into()),
                c(
                    "Degraded",
                    true,
                    "InvalidSpec",
                    format!("the spec is rejected; the last good plan stays applied:\n{diagnostics}"),
                ),
            ]
        }
        Verdict::ApplyFailed { error } => vec![
            c("Ready", false, "ApplyFailed", error.clone()),
            c("Progressing", false, "ApplyFailed", "retrying with backoff".into()),
            c("Degraded", true, "ApplyFailed", error.clone()),
        ],
        Verdict::Uninstalling { reason } => {
            let message = format!("the GPUPlan is deleted; uninstalling its release: {reason}");
            vec![
                c("Ready", false, "Uninstalling", message.clone()),
                c("Progressing", true, "Uninstalling", message),
                c("Degraded", false, "Uninstalling", "nothing is wrong: the release is being removed".into()),
            ]
        }
        Verdict::Ignored { active } => {
            let message = format!("GPUPlan {active} is the active one (the oldest); this one is ignored");
            vec![
                c("Ready", false, "Ignored", message.clone()),
                c("Progressing", false, "Ignored", message.clone()),
                c("Degraded", true, "Ignored", message),
            ]
        }
    };
    // A condition whose status did not change keeps its transition time.
    for condition in &mut status.conditions {
        if let Some(old) = previous.conditions.iter().find(|o| o.type_ == condition.type_)
            && old.status == condition.status
        {
            condition.last_transition_time = old.last_transition_time.clone();
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied() -> Verdict {
        let daemon_sets = vec!["nvidia-driver-daemonset-ubuntu22.04".into()];
        let shape = Shape { facts_digest: "sha256:f".into(), daemon_sets };
        Verdict::Applied { digest: "sha256:a".into(), revision: 2, stages: vec!["driver".into()], objects: 5, shape }
    }

    fn ready(status: &GPUPlanStatus) -> &Condition {
        status.conditions.iter().find(|c| c.type_ == "Ready").expect("Ready")
    }

    #[test]
    fn given_the_same_outcome_twice_the_status_is_identical() {
        let first = next(&GPUPlanStatus::default(), 3, &applied(), 2, "t1");
        let second = next(&first, 3, &applied(), 2, "t2");
        assert_eq!(first, second, "no change, no write");
        assert_eq!((ready(&first).status.as_str(), ready(&first).reason.as_str()), ("True", "Applied"));
        assert_eq!(first.digest, "sha256:a");
    }

    #[test]
    fn given_an_invalid_spec_degraded_is_set_and_ready_stays() {
        let good = next(&GPUPlanStatus::default(), 3, &applied(), 0, "t1");
        let bad =
            next(&good, 4, &Verdict::InvalidSpec { diagnostics: "error: /toolkit/envv: unknown key".into() }, 0, "t2");
        assert_eq!(ready(&bad).status, "True", "the last good plan still runs");
        assert_eq!(bad.digest, "sha256:a");
        assert_eq!((bad.facts_digest.as_str(), bad.daemon_sets.len()), ("sha256:f", 1), "what still runs");
        let degraded = bad.conditions.iter().find(|c| c.type_ == "Degraded").expect("Degraded");
        assert_eq!((degraded.status.as_str(), degraded.last_transition_time.as_str()), ("True", "t2"));
        assert!(degraded.message.ends_with("error: /toolkit/envv: unknown key"));
        assert_eq!(bad.observed_generation, 4);
    }

    #[test]
    fn given_a_stage_not_ready_progressing_names_it() {
        let v = Verdict::Progressing {
            digest: "d".into(),
            revision: 1,
            ready: vec!["pre-requisites".into()],
            stage: "driver".into(),
            reason: "DaemonSet gpu-operator/nvidia-driver-daemonset: 0 of 2 pods updated, 0 available".into(),
            shape: Shape::default(),
        };
        let s = next(&GPUPlanStatus::default(), 1, &v, 2, "t");
        assert_eq!(
            ready(&s).message,
            "stage driver is not ready: DaemonSet gpu-operator/nvidia-driver-daemonset: 0 of 2 pods updated, 0 available"
        );
        assert_eq!(s.stages.iter().map(|st| st.ready).collect::<Vec<_>>(), [true, false]);
    }
}
