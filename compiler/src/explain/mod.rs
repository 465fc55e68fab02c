//! `explain`: where one field of one rendered object came from.
//!
//! Input: the effective values, the [`Release`], an object (`kind/name`, see [`object`]) and a
//! field path (see [`path`]). Output: an [`Explanation`] — the field's value; the values it
//! came from (**sources**), each with its origin (built-in `values.yaml` or a `-f` file with
//! `line:col`, or the n-th `--set` flag) and how the renderer got from the value to the field
//! (verbatim, a named [`Rule`], or "rendered from"); the values it **depends on**; and the
//! values the object **exists while** they hold.
//!
//! Provenance is found by experiment ([`trace`]), only when asked: the plan is compiled as
//! usual, then every scalar of the values is changed in turn and the object's stage alone is
//! rendered again. Compiling a plan carries no provenance and pays nothing for this.
//! Limitation: a value only counts when changing it changes the field; a value that matters
//! only in combination with another (both must change) is not found.
//!
//! A Secret's `data` and `stringData` are never printed, only their sizes ([`secret`]).

pub mod object;
pub mod path;
pub mod rule;
pub mod secret;
mod text;
pub mod trace;

use serde::Serialize;
use serde_json::Value as J;

pub use path::FieldPath;

use crate::error::Error;
use crate::facts::Facts;
use crate::plan::Release;
use crate::render::{self, Context};
use crate::values::{Node, Origin, Source, Values, dotted_path};
use trace::{Effect, Leaf, Target};

/// How many threads trace the values (the perturbations are independent).
const THREADS: usize = 2;

/// The answer to `gpuplan explain`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The object.
    pub object: ObjectInfo,
    /// The field, canonical: list items with a unique `name` are selected by it.
    pub field: String,
    /// The field's value (a Secret's data replaced by its size).
    pub value: J,
    /// The values the field's value is made from.
    pub sources: Vec<SourceInfo>,
    /// The values that change the field when changed, without showing up in it.
    pub depends_on: Vec<LeafInfo>,
    /// The values without which the object is not rendered.
    pub exists_while: Vec<LeafInfo>,
    /// How many values were traced.
    pub traced: usize,
    /// Values whose change makes the values invalid, so their effect is unknown.
    pub skipped: Vec<String>,
}

/// The object explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectInfo {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace`, when namespaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// The stage that renders it.
    pub stage: String,
    /// Whether it is a Secret (whose data is never shown).
    pub secret: bool,
}

/// One value of the values tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeafInfo {
    /// The path as `--set` takes it: `toolkit.env[1].value`.
    pub path: String,
    /// Its effective value (a Secret's data replaced by its size).
    pub value: J,
    /// Where it was written.
    pub origin: OriginInfo,
}

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OriginInfo {
    /// As printed: `built-in values.yaml:192:3`, `my.yaml:4:5`, `--set #4 (a=b)`.
    pub text: String,
    /// `defaults`, `file`, `flag`, `env` or `inline`.
    pub source: &'static str,
    /// The file, flag (`--set`) or variable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For a flag: its 1-based position among the flags of its kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Line, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Column, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub col: Option<u32>,
}

/// A value the field is made from, and where in the field it shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    /// The value.
    #[serde(flatten)]
    pub leaf: LeafInfo,
    /// Each place it shows, below the field.
    pub uses: Vec<Use>,
}

/// One place a source value shows in the field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Use {
    /// The path below the field (`""`: the field itself).
    pub at: String,
    /// How the value got there.
    pub transform: Transform,
}

/// How a value became (part of) a field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Transform {
    /// The field holds the value as written.
    Verbatim,
    /// A stage's rule transformed it.
    Rule {
        /// The stage that applies the rule (`*`: every stage).
        stage: String,
        /// What the rule does.
        text: String,
    },
    /// The field is made from the value, and no rule says how.
    Rendered,
}

impl From<&Origin> for OriginInfo {
    fn from(origin: &Origin) -> Self {
        let (source, name, index) = match &origin.source {
            Source::Defaults => ("defaults", None, None),
            Source::File(name) => ("file", Some(name.to_string()), None),
            Source::Flag { kind, index, .. } => ("flag", Some(kind.flag().to_owned()), Some(*index)),
            Source::Env(name) => ("env", Some(name.to_string()), None),
            Source::Inline => ("inline", None, None),
        };
        let span = origin.span.filter(|_| !matches!(origin.source, Source::Flag { .. }));
        OriginInfo {
            text: origin.to_string(),
            source,
            name,
            index,
            line: span.map(|s| s.line),
            col: span.map(|s| s.col),
        }
    }
}

/// Explain one field of one object of the plan the values make.
pub fn explain(
    values: &Values,
    release: &Release,
    facts: &Facts,
    object: &str,
    field: &str,
) -> Result<Explanation, Error> {
    let path =
        FieldPath::parse(field).map_err(|(at, message)| Error::FieldSyntax { field: field.into(), at, message })?;
    let config = crate::resolve(values)?;
    let (node, agents) = crate::agents(&config, &crate::node_runtime(&config).0, facts);
    let stages = render::render(&Context { config: &config, node: &node, agents: &agents, release, facts })?;
    let found = object::find(&stages, object, &release.namespace)?;
    let manifest = found.manifest;
    let name = match manifest.namespace() {
        "" => format!("{} {}", manifest.kind(), manifest.name()),
        ns => format!("{} {ns}/{}", manifest.kind(), manifest.name()),
    };
    let (value, canonical) = path.find(&manifest.object).map_err(|miss| Error::UnknownField {
        field: field.into(),
        object: name,
        found: if miss.found.0.is_empty() { "the object".into() } else { format!("`{}`", miss.found) },
        message: miss.message,
        hint: miss.hint,
    })?;
    let target = Target { stage: found.stage, object: manifest, field: &canonical, value };
    let leaves = trace::leaves(values);
    let base = trace::Base::new(values, config.clone(), release, facts, found.stage);
    let effects = effects(&base, &target, &leaves);

    let is_secret = secret::is_secret(manifest);
    let secrets = if is_secret { secret::texts(&manifest.object) } else { Vec::new() };
    let leaf_info = |pointer: &str, node: &Node, used_in_data: bool| {
        let json = node.value.to_json();
        let text = trace::text_of(&node.value).unwrap_or_default();
        let hide = is_secret && (used_in_data || secret::gives_away(&text, &secrets));
        LeafInfo {
            path: dotted_path(pointer, Some(values)),
            value: if hide { secret::hidden(text.len()) } else { json },
            origin: OriginInfo::from(&node.origin),
        }
    };
    let mut out = Explanation {
        object: ObjectInfo {
            api_version: manifest.api_version().into(),
            kind: manifest.kind().into(),
            namespace: Some(manifest.namespace().to_owned()).filter(|n| !n.is_empty()),
            name: manifest.name().into(),
            stage: found.stage.into(),
            secret: is_secret,
        },
        field: canonical.to_string(),
        value: if is_secret { secret::redact(&canonical, value) } else { value.clone() },
        sources: Vec::new(),
        depends_on: Vec::new(),
        exists_while: Vec::new(),
        traced: leaves.len(),
        skipped: Vec::new(),
    };
    for ((pointer, node), effect) in leaves.iter().zip(effects) {
        match effect {
            Effect::None => {}
            Effect::Ignored => out.skipped.push(dotted_path(pointer, Some(values))),
            Effect::Condition => out.exists_while.push(leaf_info(pointer, node, false)),
            Effect::Depends => out.depends_on.push(leaf_info(pointer, node, false)),
            Effect::Source(hits) => {
                let placed: Vec<(Use, FieldPath)> = hits.iter().map(|hit| use_of(&target, hit)).collect();
                let in_data = placed.iter().any(|(_, full)| secret::in_data(full));
                let uses = placed.into_iter().map(|(u, _)| u).collect();
                out.sources.push(SourceInfo { leaf: leaf_info(pointer, node, in_data), uses });
            }
        }
    }
    Ok(out)
}

/// How a source got to one place below the field; with the place's full path in the object.
fn use_of(target: &Target<'_>, hit: &trace::Hit) -> (Use, FieldPath) {
    let full = target.field.join(&hit.at);
    let transform = if hit.verbatim {
        Transform::Verbatim
    } else {
        match rule::find(target.stage, target.object.kind(), &full) {
            Some(rule) => Transform::Rule { stage: rule.stage.into(), text: rule.text.into() },
            None => Transform::Rendered,
        }
    };
    (Use { at: hit.at.to_string(), transform }, full)
}

/// Every leaf's effect, traced on [`THREADS`] threads (each takes every n-th leaf).
fn effects(base: &trace::Base<'_>, target: &Target<'_>, leaves: &[(String, &Node)]) -> Vec<Effect> {
    let run = |offset: usize| -> Vec<(usize, Effect)> {
        (offset..leaves.len())
            .step_by(THREADS)
            .map(|i| {
                let leaf = Leaf { pointer: &leaves[i].0, node: leaves[i].1 };
                (i, trace::trace(base, target, leaf))
            })
            .collect()
    };
    let all: Vec<(usize, Effect)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..THREADS).map(|offset| scope.spawn(move || run(offset))).collect();
        let mut all = run(0);
        for handle in handles {
            // A panicking worker is a defect; its leaves count as skipped rather than lost silently.
            all.extend(handle.join().unwrap_or_default());
        }
        all
    });
    let mut out = vec![Effect::Ignored; leaves.len()];
    for (i, effect) in all {
        out[i] = effect;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo and the one-section read are shortcuts: with an empty memo every attempt
    /// renders in full, and the effects must be the same, leaf for leaf.
    #[test]
    fn given_every_stage_the_memo_changes_no_effect() {
        let values = crate::defaults().expect("the defaults load");
        let release =
            Release { name: "gpu-operator".into(), namespace: "gpu-operator".into(), kube_version: "1.31".into() };
        let facts = Facts::default();
        let config = crate::resolve(values).expect("resolves");
        let (node, agents) = crate::agents(&config, &crate::node_runtime(&config).0, &facts);
        let ctx = Context { config: &config, node: &node, agents: &agents, release: &release, facts: &facts };
        let stages = render::render(&ctx).expect("renders");
        let leaves = trace::leaves(values);
        let mut traced = 0;
        for name in ["container-toolkit", "device-plugin", "driver"] {
            let stage = stages.iter().find(|s| s.name == name).expect("the stage");
            let object = &stage.objects[stage.objects.len() - 1];
            let field = FieldPath::parse("spec").expect("a path");
            let Ok((value, canonical)) = field.find(&object.object) else { continue };
            let target = Target { stage: name, object, field: &canonical, value };
            let base = trace::Base::new(values, config.clone(), &release, &facts, name);
            let mut full = trace::Base::new(values, config.clone(), &release, &facts, name);
            full.memo = crate::render::Memo::default();
            let (fast, slow) = (effects(&base, &target, &leaves), effects(&full, &target, &leaves));
            assert_eq!(fast, slow, "{name}");
            traced += fast.iter().filter(|e| **e != Effect::None).count();
        }
        assert!(traced > 10, "the objects traced depend on values: {traced}");
    }
}
