//! Applying a plan to a cluster: what `gpuplan install | upgrade | uninstall | diff --cluster`
//! do, and what the in-cluster operator reuses.
//!
//! Input: a compiled plan (as a [`release::Desired`]) and a kube client. Output: the cluster
//! at the plan — objects server-side applied (field manager `gpuplan`) stage by stage, each
//! stage ready before the next, objects that left the plan pruned, a release record kept — or
//! the differences from what is live.
//!
//! ```text
//! client     --kubeconfig/--context -> kube::Client
//! resource   apiVersion + kind -> endpoint (known kinds, plan CRDs, cluster CRDs, discovery)
//! object     prepare (namespace, release label, digest annotation), up_to_date, strip
//! engine     apply one / a stage (concurrent, retried, no write when unchanged), delete
//! wait       readiness by kind, gone
//! record     the PlanRelease custom resource: revision, phase, digest, values, inventory
//! release    install / upgrade (prune) / uninstall
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
pub mod wait;
