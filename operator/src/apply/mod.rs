//! Applying a plan to a cluster: what `gpuplan install | upgrade | uninstall | diff --cluster`
//! do, and what the in-cluster operator reuses.
//!
//! Input: a compiled plan (as a [`release::Desired`]) and a kube client. Output: the cluster
//! at the plan — objects server-side applied (field manager [`FIELD_MANAGER`]) stage by stage,
//! each stage ready before the next, objects that left the plan pruned, a release record kept,
//! objects of other releases left alone — or the differences from what is live.
//!
//! ```text
//! client     --kubeconfig/--kube-context -> kube::Client (every error answer a Status)
//! resource   apiVersion + kind -> endpoint (known kinds, plan CRDs, cluster CRDs, discovery)
//! object     prepare (namespace, release label and annotation, digest), owner, up_to_date, strip
//! engine     apply (concurrent, retried, no write when unchanged, no other release's object),
//!            delete
//! wait       readiness by kind, gone (modules above: never wait)
//! record     the PlanRelease custom resource: revision, phase, digest, values, inventory
//! release    install / upgrade (prune) / uninstall
//! saved      a saved plan checked against the live release and facts before it is applied
//! revert     every GPU node's runtime config given back before the node agents go
//! live       the cluster as diff sides (server-side dry-run)
//! progress   spinner lines, plain lines, or silence
//! ```

pub mod client;
pub mod engine;
pub mod live;
pub mod object;
pub mod progress;
pub mod record;
pub mod release;
pub mod resource;
pub mod revert;
pub mod saved;
pub mod wait;

/// The field manager of every object gpuplan applies, whether `gpuplan install` or the operator
/// applies it: one manager, so that a release moves between the command line and the operator
/// (a GPUPlan named as the release) without conflicting with itself. Which release owns an
/// object is said by its release label, not by the manager (`object.rs`). The operator writes a
/// GPUPlan's status under a manager of its own (`controller::STATUS_FIELD_MANAGER`).
pub const FIELD_MANAGER: &str = "gpuplan";
