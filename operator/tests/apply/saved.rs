//! A saved plan applied (`install | upgrade --plan`): refused before any write when it is stale
//! (made against another revision of the release) or made for other cluster facts (unless
//! forced); applied, its content digest recorded, when it fits.

use gpuplan::apply::record;
use gpuplan::apply::release::{self, Desired, Mode};
use gpuplan::apply::saved;
use gpuplan_compiler::plan::Plan;
use gpuplan_compiler::{FlagKind, InputFlag, Inputs, Target};
use serde_json::json;

use super::mock::Server;
use super::{NO_WAIT, engine};
use gpuplan::apply::progress::Silent;

/// `gpuplan plan --cluster --set FLAGS`: the plan for the live facts, against `revision`, sealed.
async fn plan(server: &Server, flags: &[&str], revision: Option<u64>, with_facts: bool) -> Plan {
    let inputs = Inputs {
        files: Vec::new(),
        flags: flags.iter().map(|f| InputFlag { kind: FlagKind::Set, text: (*f).to_owned() }).collect(),
    };
    let facts =
        if with_facts { gpuplan::facts::read(&server.client()).await.expect("facts") } else { Default::default() };
    let target = Target { facts, ..Target::default() };
    let compiled = gpuplan_compiler::compile(&inputs, &mut |_| Err("no files".into()), &target).expect("compiles");
    let mut plan = compiled.plan.expect("a plan");
    plan.release_revision = revision;
    plan.sealed()
}

fn desired(plan: &Plan) -> Desired {
    // As the other apply tests: the CRD stage left out (the mock establishes CRDs at once).
    let mut plan = plan.clone();
    plan.crds.clear();
    Desired::from_plan(&plan, json!({}))
}

/// Check the plan as `--plan` does; what it said, and whether anything was written meanwhile.
async fn check(server: &Server, plan: &Plan, force: bool) -> (Result<Vec<String>, String>, bool) {
    server.reset_calls();
    let result = saved::check(&engine(server, &desired(plan)), &server.client(), plan, force)
        .await
        .map_err(|e| format!("{e:#}"));
    (result, server.calls().iter().any(|c| c.writes()))
}

async fn apply(server: &Server, plan: &Plan, mode: Mode) -> release::Outcome {
    let desired = desired(plan);
    release::apply(&engine(server, &desired), &desired, mode, NO_WAIT, &Silent).await.expect("applies")
}

fn add_node(server: &Server, name: &str) {
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"nvidia.com/gpu.present": "true"}},
        "status": {"nodeInfo": {"containerRuntimeVersion": "containerd://1.7.24"}}});
    server.with(|s| s.objects.insert(("/api".into(), "nodes".into(), String::new(), name.into()), node));
}

#[tokio::test]
async fn given_a_plan_made_against_the_live_revision_it_applies_and_the_record_keeps_its_digest() {
    let server = Server::default();
    add_node(&server, "gpu-1");
    let first = plan(&server, &[], None, true).await;
    assert_eq!(check(&server, &first, false).await, (Ok(Vec::new()), false));
    assert_eq!(apply(&server, &first, Mode::Install).await.revision, 1);

    let second = plan(&server, &["devicePlugin.env[0].name=A,devicePlugin.env[0].value=b"], Some(1), true).await;
    assert_eq!(check(&server, &second, false).await, (Ok(Vec::new()), false));
    assert_eq!(apply(&server, &second, Mode::Upgrade { install_missing: false }).await.revision, 2);
    let engine = engine(&server, &desired(&second));
    let record = record::read(&engine, "gpu-operator", "gpu-operator").await.expect("reads").expect("a record");
    assert_eq!((record.revision, record.plan_digest.as_ref()), (2, second.plan_digest.as_ref()));
    assert!(second.plan_digest.as_ref().is_some_and(|d| d.starts_with("sha256:")));
}

#[tokio::test]
async fn given_a_stale_plan_it_is_refused_before_anything_is_written() {
    let server = Server::default();
    let first = plan(&server, &[], None, true).await;
    apply(&server, &first, Mode::Install).await;
    let second = plan(&server, &["devicePlugin.env[0].name=A,devicePlugin.env[0].value=b"], Some(1), true).await;
    apply(&server, &second, Mode::Upgrade { install_missing: false }).await;

    // Made against revision 1, which the release has left since.
    let (result, wrote) = check(&server, &second, false).await;
    assert_eq!(
        result,
        Err("stale plan: made against revision 1, the release is at 2; plan again (`gpuplan plan --cluster`)".into())
    );
    assert!(!wrote);
    // --force does not make a stale plan fresh.
    assert!(check(&server, &second, true).await.0.is_err());
    // A plan for a new install, when there is a release.
    let (result, _) = check(&server, &first, false).await;
    assert_eq!(result, Err("stale plan: made for a new install (no release), the release is at 2; plan again (`gpuplan plan --cluster`)".into()));
    // A plan against a revision, when the release is gone.
    let empty = Server::default();
    let (result, _) = check(&empty, &second, false).await;
    assert!(
        result
            .is_err_and(|e| e.contains("made against revision 1, release gpu-operator does not exist in gpu-operator"))
    );
}

#[tokio::test]
async fn given_a_plan_for_other_facts_it_is_refused_unless_forced() {
    let server = Server::default();
    add_node(&server, "gpu-1");
    let plan = plan(&server, &[], None, true).await;
    add_node(&server, "gpu-2");
    let (result, wrote) = check(&server, &plan, false).await;
    let err = result.expect_err("other facts");
    assert!(err.starts_with("the plan was made for other cluster facts (sha256:"), "{err}");
    assert!(err.ends_with("plan again (`gpuplan plan --cluster`), or apply it anyway with --force"), "{err}");
    assert!(!wrote);
    let (result, wrote) = check(&server, &plan, true).await;
    let warnings = result.expect("forced");
    assert!(warnings.len() == 1 && warnings[0].ends_with("applied anyway (--force)"), "{warnings:?}");
    assert!(!wrote, "the check itself never writes");
}

#[tokio::test]
async fn given_a_plan_made_without_facts_it_is_applied_with_a_warning() {
    let server = Server::default();
    let plan = plan(&server, &[], None, false).await;
    let (result, _) = check(&server, &plan, false).await;
    let warnings = result.expect("no facts to compare");
    assert!(warnings.len() == 1 && warnings[0].contains("made without cluster facts"), "{warnings:?}");
}
