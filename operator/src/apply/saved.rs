//! A saved plan, checked against the cluster before it is applied: `gpuplan install | upgrade
//! --plan FILE` applies exactly the plan that was reviewed, or nothing.
//!
//! Input: a plan read back from a file (already verified against its own content digest, which
//! needs no cluster: [`gpuplan_compiler::plan::Plan::verify`]), the engine and client of the
//! cluster, and whether to force. Output: nothing, or the refusal — made before anything is
//! written — and warnings to print.
//!
//! Refused, like Terraform refuses a stale saved plan:
//! - a plan made against another revision of the release than the live one (or against a
//!   release that is gone, or against none when one exists now): applying it would undo what
//!   came since, unseen by the reviewer. `--force` does not override this; planning again is
//!   cheap and shows the reviewer what the plan really changes.
//! - a plan made for other cluster facts than the live cluster's (nodes, their OS and runtime,
//!   served APIs): its objects were resolved for another cluster. `--force` overrides this, for
//!   facts that changed in ways the operator knows do not matter (a node added).
//!
//! A plan made without facts was resolved for no particular cluster (as `install -f values`
//! without `--facts`): it is not compared, and a warning says so.

use anyhow::bail;
use gpuplan_compiler::plan::Plan;

use super::engine::Engine;
use super::record;

/// Refuse a plan that does not fit the live release and cluster; the warnings otherwise.
pub async fn check(engine: &Engine, client: &kube::Client, plan: &Plan, force: bool) -> anyhow::Result<Vec<String>> {
    let (name, namespace) = (&plan.release.name, &plan.release.namespace);
    let live = record::read(engine, name, namespace).await?.map(|r| r.revision);
    if live != plan.release_revision {
        let made = match plan.release_revision {
            Some(r) => format!("made against revision {r}"),
            None => "made for a new install (no release)".into(),
        };
        let now = match live {
            Some(r) => format!("the release is at {r}"),
            None => format!("release {name} does not exist in {namespace}"),
        };
        bail!("stale plan: {made}, {now}; plan again (`gpuplan plan --cluster`)");
    }
    let mut warnings = Vec::new();
    match &plan.facts_digest {
        None => warnings.push(
            "the plan was made without cluster facts, so it is not checked against the live cluster's (plan with --cluster or --facts to have it checked)"
                .to_owned(),
        ),
        Some(planned) => {
            let live = crate::facts::read(client).await?.digest().unwrap_or_default();
            if *planned != live {
                let what = format!("the plan was made for other cluster facts ({planned}) than the live cluster's ({live})");
                if !force {
                    bail!("{what}; plan again (`gpuplan plan --cluster`), or apply it anyway with --force");
                }
                warnings.push(format!("{what}; applied anyway (--force)"));
            }
        }
    }
    Ok(warnings)
}
