//! Differences: between texts (unified diffs of node config files) and between two plans —
//! what a values change will do, in the cluster and on the nodes, before anything is applied.
//!
//! Input: two [`Side`]s (a plan, or the objects of a manifest stream). Output: a [`Report`]:
//! objects matched by API group, kind, namespace and name and reported as changed, removed or
//! added (helm-diff's order), each with its field changes and the lines of its YAML; and the
//! node change in words. Objects are compared semantically: set-like lists are ordered by
//! their key first ([`normalize`]), and Secret values are replaced by markers before anything
//! is compared or shown ([`secret`]). [`report`] prints a report; [`markdown`] as a
//! pull-request comment.

mod body;
pub mod fields;
pub mod markdown;
pub mod node;
pub mod normalize;
pub mod report;
pub mod secret;
pub mod yaml;

use std::fmt;

use serde::Serialize;
use serde_json::Value as J;

/// Unified diffs of texts: the node module's (a node file's change is its main use).
pub use crate::node::unified;
pub use fields::{Change, FieldChange};
pub use node::{NodeChange, NodeFileDiff};

use crate::node::NodeRuntime;
use crate::plan::read::Document;
use crate::plan::{Manifest, Plan};

/// One side of a diff.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Side {
    /// The objects, in apply order, each with its stage when known.
    pub objects: Vec<(Option<String>, Manifest)>,
    /// The node change, when the side is a plan.
    pub node: Option<NodeRuntime>,
    /// With GPU nodes on several container runtimes, each runtime's node change (else empty).
    pub runtimes: Vec<NodeRuntime>,
}

impl Side {
    /// A whole plan.
    pub fn plan(plan: &Plan) -> Side {
        let objects =
            plan.stages.iter().flat_map(|s| s.objects.iter().map(|m| (Some(s.name.clone()), m.clone()))).collect();
        Side { objects, node: Some(plan.node.clone()), runtimes: plan.runtimes.clone() }
    }

    /// What a plan file held.
    pub fn document(document: &Document) -> Side {
        match document {
            Document::Plan(plan) => Side::plan(plan),
            Document::Manifests(m) => {
                Side { objects: m.iter().map(|m| (None, m.clone())).collect(), node: None, runtimes: Vec::new() }
            }
        }
    }

    /// The node changes of its node agents: one per runtime, or the one node change.
    fn agents(&self) -> Vec<&NodeRuntime> {
        match self.runtimes.is_empty() {
            true => self.node.iter().collect(),
            false => self.runtimes.iter().collect(),
        }
    }
}

/// What identifies an object across plans: API group (not version), kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Key {
    /// The API group; empty for the core group.
    pub group: String,
    /// The kind.
    pub kind: String,
    /// The namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl Key {
    /// The key of an object.
    pub fn of(m: &Manifest) -> Key {
        let group = m.api_version().rsplit_once('/').map_or("", |(g, _)| g);
        Key {
            group: group.to_owned(),
            kind: m.kind().to_owned(),
            namespace: m.namespace().to_owned(),
            name: m.name().to_owned(),
        }
    }
}

impl fmt::Display for Key {
    /// helm-diff's header: `<namespace>, <name>, <Kind> (<group>)`, `v1` for the core group.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.group.is_empty() { "v1" } else { &self.group };
        if self.namespace.is_empty() {
            write!(f, "{}, {} ({})", self.name, self.kind, group)
        } else {
            write!(f, "{}, {}, {} ({})", self.namespace, self.name, self.kind, group)
        }
    }
}

/// One object that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDiff {
    /// Which object.
    #[serde(flatten)]
    pub key: Key,
    /// Its `apiVersion` (the new one when both exist).
    pub api_version: String,
    /// Added, removed or changed.
    pub change: Change,
    /// The plan stage it belongs to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The changed fields (for a changed object).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// The old object's YAML lines (normalized, redacted); empty when added.
    #[serde(skip)]
    pub old: Vec<yaml::Line>,
    /// The new object's YAML lines; empty when removed.
    #[serde(skip)]
    pub new: Vec<yaml::Line>,
}

/// Everything that differs between two sides.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Changed objects, then removed, then added.
    pub objects: Vec<ObjectDiff>,
    /// Changed node settings (both sides must be plans).
    pub node: Vec<NodeChange>,
    /// A node's files under both plans, when asked for.
    pub node_files: Vec<NodeFileDiff>,
}

impl Report {
    /// Whether anything differs.
    pub fn has_changes(&self) -> bool {
        !(self.objects.is_empty() && self.node.is_empty() && self.node_files.is_empty())
    }

    /// How many objects are added, changed and removed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |c| self.objects.iter().filter(|o| o.change == c).count();
        (count(Change::Add), count(Change::Modify), count(Change::Remove))
    }
}

/// Compare two sides.
pub fn compare(old: &Side, new: &Side) -> Report {
    let old_keys: Vec<Key> = old.objects.iter().map(|(_, m)| Key::of(m)).collect();
    let new_keys: Vec<Key> = new.objects.iter().map(|(_, m)| Key::of(m)).collect();
    let find = |keys: &[Key], key: &Key| keys.iter().position(|k| k == key);

    let mut changed = Vec::new();
    let mut removed = Vec::new();
    for (i, key) in old_keys.iter().enumerate() {
        let (stage, before) = &old.objects[i];
        match find(&new_keys, key) {
            Some(j) => {
                let (new_stage, after) = &new.objects[j];
                if let Some(d) = object_diff(key, Some(before), Some(after), new_stage.clone().or(stage.clone())) {
                    changed.push((j, d));
                }
            }
            None => removed.extend(object_diff(key, Some(before), None, stage.clone())),
        }
    }
    // Changed objects in the new plan's apply order.
    changed.sort_by_key(|(j, _)| *j);
    let added = new_keys
        .iter()
        .enumerate()
        .filter(|(_, key)| find(&old_keys, key).is_none())
        .filter_map(|(j, key)| object_diff(key, None, Some(&new.objects[j].1), new.objects[j].0.clone()));

    let mut objects: Vec<ObjectDiff> = changed.into_iter().map(|(_, d)| d).collect();
    objects.extend(removed);
    objects.extend(added);
    let node = match (old.node.is_some(), new.node.is_some()) {
        (true, true) => node::agent_changes(&old.agents(), &new.agents()),
        _ => Vec::new(),
    };
    Report { objects, node, node_files: Vec::new() }
}

/// The diff of one object, `None` when it is the same (semantically, after redaction).
fn object_diff(key: &Key, old: Option<&Manifest>, new: Option<&Manifest>, stage: Option<String>) -> Option<ObjectDiff> {
    let (a, b) = secret::redact(old.map(|m| &m.object), new.map(|m| &m.object));
    let (a, b) = (a.map(|o| normalize::normalize(&o)), b.map(|o| normalize::normalize(&o)));
    let change = match (&a, &b) {
        (Some(x), Some(y)) if x == y => return None,
        (Some(_), Some(_)) => Change::Modify,
        (None, _) => Change::Add,
        (_, None) => Change::Remove,
    };
    let fields = match (&a, &b) {
        (Some(x), Some(y)) => fields::changes(x, y),
        _ => Vec::new(),
    };
    let api_version = new.or(old).map(|m| m.api_version().to_owned()).unwrap_or_default();
    let lines = |o: &Option<J>| o.as_ref().map(yaml::lines).unwrap_or_default();
    Some(ObjectDiff { key: key.clone(), api_version, change, stage, fields, old: lines(&a), new: lines(&b) })
}
