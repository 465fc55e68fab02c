//! Provenance by experiment: change one value, re-render the object's stage, see what moved.
//!
//! Input: the effective values, the original [`Config`], the traced [`Target`] (stage, object
//! identity, canonical field and its value) and one [`Leaf`] of the values. Output: the
//! leaf's [`Effect`] on the field — it is a source (its perturbed text shows up in the field),
//! the field depends on it (the field changes otherwise, or goes), the object exists only with
//! it (the object goes), or nothing (or the perturbed values do not compile: ignored).
//!
//! Perturbations: a string gets [`MARKER`] appended (and, for an absolute path, also after its
//! leading `/`, so the directory part of a path carries it too), unless the schema allows only
//! a set of strings there, which gives another allowed string; a boolean flips; a number gets
//! one added. Only `explain` runs this; compiling a plan never pays for it.

use serde_json::Value as J;

use super::path::{self, FieldPath, Segment, scalar_text};
use crate::config::Config;
use crate::facts::Facts;
use crate::plan::{Manifest, Release};
use crate::render::{Context, Memo, Recall, render_stage};
use crate::values::{Node, Value, Values};

/// The text perturbed strings carry: plain lowercase letters, which every renderer keeps.
pub const MARKER: &str = "gpuplanexplainmark";

/// One scalar of the values.
#[derive(Debug, Clone, Copy)]
pub struct Leaf<'a> {
    /// Its JSON pointer.
    pub pointer: &'a str,
    /// The node.
    pub node: &'a Node,
}

/// The object and field being traced.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The stage that renders the object.
    pub stage: &'a str,
    /// The object as originally rendered.
    pub object: &'a Manifest,
    /// The canonical field path.
    pub field: &'a FieldPath,
    /// The field's value in the original object.
    pub value: &'a J,
}

/// What one leaf does to the field.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Nothing: the field is the same.
    None,
    /// The perturbed values do not resolve or render; the leaf is not judged.
    Ignored,
    /// The object is not rendered without the leaf's value.
    Condition,
    /// The leaf's value shows up in the field, at these places below it.
    Source(Vec<Hit>),
    /// The field changes (or goes) otherwise.
    Depends,
}

/// One place below the field where a source shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The path below the field, canonical.
    pub at: FieldPath,
    /// Whether the place holds the leaf's text exactly.
    pub verbatim: bool,
}

/// How a leaf was perturbed.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    /// A string with the marker in it.
    Marked(Value),
    /// Another scalar: its text before and after.
    Exact { value: Value, from: String, to: String },
}

/// Every scalar of the values with its pointer (nulls and empty lists and maps have nothing
/// to perturb).
pub fn leaves(values: &Values) -> Vec<(String, &Node)> {
    let mut out = Vec::new();
    values.walk(&mut |pointer, node| {
        if matches!(node.value, Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_)) {
            out.push((pointer.to_owned(), node));
        }
    });
    out
}

/// A scalar as text, as it would appear in an object.
pub fn text_of(value: &Value) -> Option<String> {
    scalar_text(&value.to_json())
}

/// The perturbations to try for a value, in order: the next is tried when the values do not
/// compile with the one before.
fn perturb(pointer: &str, value: &Value) -> Vec<Change> {
    let exact = |to: Value| {
        let (from, to_text) = (text_of(value)?, text_of(&to)?);
        Some(Change::Exact { value: to, from, to: to_text })
    };
    match value {
        Value::Bool(b) => exact(Value::Bool(!b)).into_iter().collect(),
        Value::Int(i) => i.checked_add(1).and_then(|i| exact(Value::Int(i))).into_iter().collect(),
        Value::Float(f) => exact(Value::Float(f + 1.0)).into_iter().collect(),
        Value::Str(s) => {
            let allowed: Vec<&str> = crate::schema::subschemas(pointer)
                .iter()
                .filter_map(|schema| schema.get("enum").and_then(J::as_array))
                .flatten()
                .filter_map(J::as_str)
                .collect();
            if !allowed.is_empty() {
                return allowed
                    .into_iter()
                    .find(|a| a != s)
                    .and_then(|a| exact(Value::Str(a.to_owned())))
                    .into_iter()
                    .collect();
            }
            // Before trailing whitespace, so a block of YAML text stays YAML.
            let body = s.trim_end();
            let tail = &s[body.len()..];
            let end = match body.strip_prefix('/') {
                Some(rest) => format!("/{MARKER}{rest}{MARKER}{tail}"),
                None => format!("{body}{MARKER}{tail}"),
            };
            let mut changes = Vec::new();
            if body.contains('\n') {
                // Text of several lines (YAML for `extraObjects`, a config file): every line that
                // ends in a word, so each scalar of block YAML is traced, not just the last.
                let every: String = s
                    .split_inclusive('\n')
                    .map(|line| {
                        let content = line.trim_end();
                        match content.chars().last() {
                            Some(c) if c.is_alphanumeric() => format!("{content}{MARKER}{}", &line[content.len()..]),
                            _ => line.to_owned(),
                        }
                    })
                    .collect();
                changes.push(Change::Marked(Value::Str(every)));
            }
            changes.push(Change::Marked(Value::Str(end)));
            changes
        }
        _ => Vec::new(),
    }
}

/// What every leaf is traced against, computed once.
#[derive(Debug)]
pub struct Base<'a> {
    /// The values as the typed config reads them: JSON, unknown keys dropped.
    pub json: J,
    /// The original config.
    pub config: Config,
    /// The release.
    pub release: &'a Release,
    /// The cluster's facts the plan is resolved for.
    pub facts: &'a Facts,
    /// The traced stage's templates as the original config renders them.
    pub memo: Memo,
}

impl<'a> Base<'a> {
    /// The base for these values and their config, tracing the objects of `stage`.
    pub fn new(values: &'a Values, config: Config, release: &'a Release, facts: &'a Facts, stage: &str) -> Self {
        let mut json = values.to_json();
        crate::schema::prune_unknown(&mut json);
        let mut memo = Memo::default();
        let (node, agents) = crate::agents(&config, &crate::node_runtime(&config).0, facts);
        let ctx = Context { config: &config, node: &node, agents: &agents, release, facts };
        // Without the record every attempt renders in full: slower, same answer.
        let _ = render_stage(&ctx, stage, Recall::Record(&mut memo));
        Base { json, config, release, facts, memo }
    }
}

/// The leaf's effect on the target.
pub fn trace(base: &Base<'_>, target: &Target<'_>, leaf: Leaf<'_>) -> Effect {
    let mut effect = Effect::None;
    for change in perturb(leaf.pointer, &leaf.node.value) {
        effect = attempt(base, target, leaf.pointer, &change);
        if effect != Effect::Ignored {
            break;
        }
    }
    effect
}

/// The effect of one perturbation.
fn attempt(base: &Base<'_>, target: &Target<'_>, pointer: &str, change: &Change) -> Effect {
    // Only the leaf's top-level section is copied, changed and read again.
    let (key, below) = split_pointer(pointer);
    let Some(mut section) = base.json.get(&key).cloned() else {
        return Effect::None;
    };
    // Perturbing a scalar keeps its type, so the keys dropped from the original are the keys
    // dropped from the perturbed values: a leaf not in the pruned JSON cannot matter.
    let Some(slot) = section.pointer_mut(below) else {
        return Effect::None;
    };
    *slot = match change {
        Change::Marked(v) | Change::Exact { value: v, .. } => v.to_json(),
    };
    // Every key of the pruned JSON is a section: a test holds the sections to the schema's keys.
    let Some(Ok(config)) = crate::config::section::with_section(&base.config, &key, &section) else {
        return Effect::Ignored;
    };
    if config == base.config {
        return Effect::None;
    }
    let (release, facts) = (base.release, base.facts);
    let (node, agents) = crate::agents(&config, &crate::node_runtime(&config).0, facts);
    let ctx = Context { config: &config, node: &node, agents: &agents, release, facts };
    // Most values do not reach the traced stage: its templates see the views they saw first.
    if crate::render::renders_as_recorded(&ctx, target.stage, &base.memo) {
        return Effect::None;
    }
    let Ok(Some(stage)) = render_stage(&ctx, target.stage, Recall::Use(&base.memo)) else {
        return Effect::Ignored;
    };
    let Some(object) = counterpart(&stage.objects, target.object) else {
        return Effect::Condition;
    };
    let Some(value) = target.field.get(&object.object) else {
        return Effect::Depends;
    };
    if value == target.value {
        return Effect::None;
    }
    let mut found = Vec::new();
    let perturbed = match change {
        Change::Marked(v) => {
            marked(value, &mut Vec::new(), &mut found);
            text_of(v)
        }
        Change::Exact { from, to, .. } => {
            exact(target.value, value, from, to, &mut Vec::new(), &mut found);
            Some(to.clone())
        }
    };
    // A place counts only if the original field has it too: a value that shows up only when
    // changed (an env entry added for a non-default value) decides the field, it is not in it.
    let hits: Vec<Hit> = found
        .iter()
        .map(|raw| Hit {
            at: path::canonical(value, raw, MARKER),
            verbatim: at(value, raw).and_then(scalar_text).is_some_and(|t| Some(t) == perturbed),
        })
        .filter(|hit| hit.at.get(target.value).is_some())
        .collect();
    if hits.is_empty() { Effect::Depends } else { Effect::Source(hits) }
}

/// A pointer's top-level key (unescaped) and the pointer below it.
fn split_pointer(pointer: &str) -> (String, &str) {
    let rest = pointer.strip_prefix('/').unwrap_or(pointer);
    let (token, below) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    (crate::values::unescape_pointer_token(token), below)
}

/// The original object among the re-rendered ones: the one with the same identity once the
/// marker is taken out (a leaf may name the object).
fn counterpart<'a>(objects: &'a [Manifest], original: &Manifest) -> Option<&'a Manifest> {
    let same = |a: &str, b: &str| a.replace(MARKER, "") == b;
    objects.iter().find(|m| {
        same(m.kind(), original.kind())
            && same(m.api_version(), original.api_version())
            && same(m.name(), original.name())
            && same(m.namespace(), original.namespace())
    })
}

/// Every place below `value` where the marker shows (in a string, or in a map key).
fn marked(value: &J, at: &mut Vec<Segment>, found: &mut Vec<Vec<Segment>>) {
    match value {
        J::String(s) if s.contains(MARKER) => found.push(at.clone()),
        J::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(Segment::Index(i));
                marked(item, at, found);
                at.pop();
            }
        }
        J::Object(map) => {
            for (key, item) in map {
                at.push(Segment::Key(key.clone()));
                if key.contains(MARKER) {
                    found.push(at.clone());
                } else {
                    marked(item, at, found);
                }
                at.pop();
            }
        }
        _ => {}
    }
}

/// Every place where the old value read `from` and the new one reads `to`.
fn exact(old: &J, new: &J, from: &str, to: &str, at: &mut Vec<Segment>, found: &mut Vec<Vec<Segment>>) {
    match (old, new) {
        (J::Array(a), J::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                at.push(Segment::Index(i));
                exact(x, y, from, to, at, found);
                at.pop();
            }
        }
        (J::Object(a), J::Object(b)) => {
            for (key, x) in a {
                if let Some(y) = b.get(key) {
                    at.push(Segment::Key(key.clone()));
                    exact(x, y, from, to, at, found);
                    at.pop();
                }
            }
        }
        (x, y) => {
            if scalar_text(x).as_deref() == Some(from) && scalar_text(y).as_deref() == Some(to) {
                found.push(at.clone());
            }
        }
    }
}

/// The value at a raw path (keys and indices) below `value`.
pub fn at<'a>(value: &'a J, raw: &[Segment]) -> Option<&'a J> {
    raw.iter().try_fold(value, |here, segment| match (segment, here) {
        (Segment::Key(k), J::Object(map)) => map.get(k),
        (Segment::Index(i), J::Array(items)) => items.get(*i),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_paths_and_words_perturb_marks_both_ends_of_a_path() {
        let marked = |s: &str| -> Vec<String> {
            perturb("/nowhere", &Value::Str(s.into()))
                .into_iter()
                .map(|c| match c {
                    Change::Marked(Value::Str(s)) => s,
                    other => panic!("marked: {other:?}"),
                })
                .collect()
        };
        assert_eq!(marked("/run/x.sock"), [format!("/{MARKER}run/x.sock{MARKER}")]);
        assert_eq!(marked("abc"), [format!("abc{MARKER}")]);
        assert_eq!(marked("a: b\n"), [format!("a: b{MARKER}\n")]);
        assert_eq!(
            marked("a:\n  b: c\n  d: {e: f}\n"),
            [format!("a:\n  b: c{MARKER}\n  d: {{e: f}}\n"), format!("a:\n  b: c\n  d: {{e: f}}{MARKER}\n")]
        );
    }

    #[test]
    fn given_an_enum_perturb_picks_another_allowed_value() {
        let change = perturb("/operator/defaultRuntime", &Value::Str("containerd".into()));
        let [Change::Exact { from, to, .. }] = change.as_slice() else { panic!("exact") };
        assert_eq!(from, "containerd");
        assert_ne!(to, "containerd");
    }

    #[test]
    fn given_flipped_scalars_exact_finds_where_they_show() {
        let old = json!({ "a": [true, "true"], "b": false });
        let new = json!({ "a": [false, "false"], "b": false });
        let mut found = Vec::new();
        exact(&old, &new, "true", "false", &mut Vec::new(), &mut found);
        assert_eq!(found.len(), 2);
        assert_eq!(at(&old, &found[1]), Some(&json!("true")));
    }
}
