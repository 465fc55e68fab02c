//! Rendering: the typed config into every Kubernetes object the GPU Operator would create.
//!
//! Input: a [`Context`] — the [`Config`], the resolved [`NodeRuntime`] and the [`Release`].
//! Output: the stages of the plan, in the upstream operator's order, each with its objects.
//!
//! Each stage is a module with one `render` function. It makes every decision in Rust —
//! which objects exist, images, env merged by name, selectors, mounts — into a *view* (a
//! serializable struct), and hands the view to a template that owns the object's shape
//! (`templates/<stage>/<kind>.yaml.j2`, embedded in the binary). Templates run with strict
//! undefined (a misspelt field is an error, not an empty string) and no auto-escaping (YAML is
//! not HTML); every value a template interpolates goes through `tojson`, which YAML reads back
//! as exactly that value. Each rendered document is parsed with the YAML 1.1 loader into a
//! plain object: the plan holds data, never template text.

mod templates;

pub mod image;
pub mod operand;
pub mod prerendered;

mod dcgm;
mod dcgm_exporter;
mod device_plugin;
mod driver;
mod extra;
mod gfd;
pub mod memo;
mod mig_manager;
mod nfd;
mod node_status_exporter;
mod operator;
mod prerequisites;
pub mod rule;
mod toolkit;
mod validation;

pub use nfd::crds as nfd_crds;

use std::cell::OnceCell;
use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::config::Config;
use crate::error::Error;
use crate::facts::{Facts, OPTIONAL_APIS};
use crate::node::NodeRuntime;
use crate::plan::{Manifest, Release, Stage};
use crate::values::{Source, load::load_document, trusted};
pub use memo::{Memo, Recall};
pub use rule::Rule;

/// What every stage renders from.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The typed values.
    pub config: &'a Config,
    /// The node runtime change of `operator.defaultRuntime` (what operands run with).
    pub node: &'a NodeRuntime,
    /// The node changes the node agents carry to the nodes: one per container runtime among
    /// the GPU nodes (just [`Context::node`] when the facts do not say), in runtime order.
    pub agents: &'a [NodeRuntime],
    /// Release name, namespace and Kubernetes version.
    pub release: &'a Release,
    /// What is known of the cluster.
    pub facts: &'a Facts,
}

impl Context<'_> {
    /// The namespace every namespaced object goes into.
    pub fn namespace(&self) -> &str {
        &self.release.namespace
    }
}

/// The version of gpuplan rendering the plan: the default tag of its own image.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Collects the objects of one stage.
pub struct Out<'e> {
    facts: &'e Facts,
    /// `explain`'s memory of an earlier rendering of the same stage.
    recall: Recall<'e>,
    objects: Vec<Manifest>,
    /// Objects left out, and why.
    omitted: Vec<String>,
    /// Render every template (the table of renderings made ahead is not used), and record each
    /// rendering here: how that table is made.
    fresh: Option<&'e mut prerendered::Recorded>,
}

impl<'e> Out<'e> {
    fn new(facts: &'e Facts, recall: Recall<'e>) -> Out<'e> {
        Out { facts, recall, objects: Vec::new(), omitted: Vec::new(), fresh: None }
    }

    /// Render `template` (`<stage>/<kind>.yaml`) with `view`, and keep every non-empty document
    /// it produces (documents are separated by `---` lines): as `explain`'s memo recalls it, or
    /// as the table of renderings made ahead has it, or rendered now.
    pub fn emit<V: Serialize>(&mut self, template: &str, view: &V) -> Result<(), Error> {
        self.emit_printed(template, view, None)
    }

    /// [`Out::emit`] a view that several templates render: it is printed once to be looked up
    /// in the table of renderings made ahead, not once per template.
    pub fn emit_shared<V: Serialize>(&mut self, template: &str, view: &Shared<'_, V>) -> Result<(), Error> {
        self.emit_printed(template, view.view, Some(&view.printed))
    }

    fn emit_printed<V: Serialize>(&mut self, template: &str, view: &V, printed: Option<&Printed>) -> Result<(), Error> {
        let key = self.recall.key(template, view);
        if self.recall.probed(key.as_ref()) {
            return Ok(());
        }
        if let Some((objects, omitted)) = key.as_ref().and_then(|k| self.recall.recall(k)) {
            self.objects.extend_from_slice(objects);
            self.omitted.extend_from_slice(omitted);
            return Ok(());
        }
        let (objects_before, omitted_before) = (self.objects.len(), self.omitted.len());
        let ahead = match self.fresh {
            None => prerendered::lookup(template, view, printed),
            Some(_) => None,
        };
        let objects = match ahead {
            Some(objects) => objects,
            None => {
                let objects = render_template(template, view)?;
                if let Some(recorded) = self.fresh.as_deref_mut() {
                    prerendered::record(recorded, template, view, &objects);
                }
                objects
            }
        };
        for object in objects {
            self.keep(template, object);
        }
        if let Some(key) = key {
            self.recall.remember(key, &self.objects[objects_before..], &self.omitted[omitted_before..]);
        }
        Ok(())
    }

    /// Keep `object`, rendered by `template`, unless the cluster does not serve its API.
    fn keep(&mut self, template: &str, object: serde_json::Value) {
        let manifest = Manifest { source: format!("gpuplan/{template}"), object };
        let api = manifest.object["apiVersion"].as_str().unwrap_or_default();
        if OPTIONAL_APIS.iter().any(|g| api.starts_with(g)) && self.facts.serves(api) == Some(false) {
            self.omitted.push(format!(
                "{} {}/{}: the cluster does not serve {api}",
                manifest.kind(),
                manifest.namespace(),
                manifest.name()
            ));
            return;
        }
        self.objects.push(manifest);
    }
}

/// A view's JSON text, printed when first needed.
type Printed = OnceCell<Option<String>>;

/// A view several templates of a stage render, borrowed for as long as they render it: it
/// cannot change in between (views are plain data), so it prints as the same JSON each time.
pub struct Shared<'v, V> {
    view: &'v V,
    printed: Printed,
}

impl<'v, V> Shared<'v, V> {
    /// Share `view`.
    pub fn new(view: &'v V) -> Shared<'v, V> {
        Shared { view, printed: OnceCell::new() }
    }
}

impl<V> std::ops::Deref for Shared<'_, V> {
    type Target = V;
    fn deref(&self) -> &V {
        self.view
    }
}

/// Render `template` with `view`: its non-empty documents (separated by `---` lines), each
/// read back into an object.
fn render_template<V: Serialize>(template: &str, view: &V) -> Result<Vec<serde_json::Value>, Error> {
    let fail = |message: String| Error::Render { template: template.to_owned(), message };
    let tmpl = environment()?.get_template(template).map_err(|e| fail(format!("{e:#}")))?;
    let text =
        tmpl.render(minijinja::Value::from(minijinja::value::Serde(view))).map_err(|e| fail(format!("{e:#}")))?;
    let mut objects = Vec::new();
    for doc in text.split("\n---") {
        let doc = doc.strip_prefix("---").unwrap_or(doc);
        if doc.trim().is_empty() {
            continue;
        }
        // gpuplan's own output is read the short way; what that declines, by the loader.
        let object = match trusted::document_json(doc) {
            Some(object) => object,
            // The object is not repeated in the error: it may be large, and hold a Secret.
            None => load_document(doc, &Source::Inline).map_err(|e| fail(e.to_string()))?.to_json(),
        };
        if !object.as_object().is_some_and(serde_json::Map::is_empty) {
            objects.push(object);
        }
    }
    Ok(objects)
}

type RenderStage = fn(&Context<'_>, &mut Out<'_>) -> Result<(), Error>;

/// The stages, in the upstream operator's order.
pub const STAGES: [(&str, RenderStage); 13] = [
    ("pre-requisites", prerequisites::render),
    ("gpuplan-operator", operator::render),
    ("driver", driver::render),
    ("container-toolkit", toolkit::render),
    ("operator-validation", validation::render),
    ("device-plugin", device_plugin::render),
    ("dcgm", dcgm::render),
    ("dcgm-exporter", dcgm_exporter::render),
    ("gpu-feature-discovery", gfd::render),
    ("mig-manager", mig_manager::render),
    ("node-status-exporter", node_status_exporter::render),
    ("node-feature-discovery", nfd::render),
    ("extra-objects", extra::render),
];

/// The template environment, made once. Each template is compiled the first time it is
/// rendered: a run whose renderings all come from the table compiles none.
fn environment() -> Result<&'static Environment<'static>, Error> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    Ok(ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Templates write YAML, not HTML: nothing may be HTML-escaped.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_loader(|name| {
            Ok(templates::TEMPLATES.iter().find(|(n, _)| *n == name).map(|(_, source)| (*source).to_owned()))
        });
        env
    }))
}

/// Render one stage by name, as [`render`] renders it; `None` for a name not in [`STAGES`].
/// `explain` re-renders only the stage holding the object it traces, recalling the templates
/// whose views it has seen ([`Memo`]).
pub fn render_stage(ctx: &Context<'_>, name: &str, recall: Recall<'_>) -> Result<Option<Stage>, Error> {
    let Some((name, render_stage)) = STAGES.iter().find(|(n, _)| *n == name) else {
        return Ok(None);
    };
    let mut out = Out::new(ctx.facts, recall);
    render_stage(ctx, &mut out)?;
    Ok(Some(Stage { name: (*name).to_owned(), objects: out.objects, omitted: out.omitted }))
}

/// Whether stage `name` renders for `ctx` exactly what `memo` recorded (the same templates with
/// the same views, in the same order), found without rendering a template: `explain` then
/// knows the stage's objects are the original ones. An error counts as "not the same".
pub fn renders_as_recorded(ctx: &Context<'_>, name: &str, memo: &Memo) -> bool {
    let Some((_, render_stage)) = STAGES.iter().find(|(n, _)| *n == name) else {
        return false;
    };
    let mut out = Out::new(ctx.facts, Recall::Probe { memo, at: 0, same: true });
    render_stage(ctx, &mut out).is_ok() && out.recall.same()
}

/// Every transformation rule the stages declare, for `explain`: stage-specific rules first,
/// then the shared ones (image references, operand settings), so the most specific matches.
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    [toolkit::RULES, device_plugin::RULES, mig_manager::RULES, nfd::RULES, image::RULES, operand::RULES]
        .into_iter()
        .flatten()
}

/// The CustomResourceDefinitions the rendered stages' custom resources need, which Helm would
/// install from a chart's `crds/` before anything else: Node Feature Discovery's when there is
/// that stage.
pub fn crds(stages: &[Stage]) -> Result<Vec<Manifest>, Error> {
    if stages.iter().any(|s| s.name == "node-feature-discovery" && !s.objects.is_empty()) {
        nfd::crds()
    } else {
        Ok(Vec::new())
    }
}

/// Render every stage.
pub fn render(ctx: &Context<'_>) -> Result<Vec<Stage>, Error> {
    let mut stages = Vec::new();
    for (name, render_stage) in STAGES {
        let mut out = Out::new(ctx.facts, Recall::Off);
        render_stage(ctx, &mut out)?;
        stages.push(Stage { name: name.to_owned(), objects: out.objects, omitted: out.omitted });
    }
    Ok(stages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_compiles() {
        // They compile when first rendered: one no test renders must still be sound.
        let env = environment().expect("the environment");
        assert!(templates::TEMPLATES.len() > 80);
        for (name, _) in templates::TEMPLATES {
            if let Err(e) = env.get_template(name) {
                panic!("{name}: {e:#}");
            }
        }
        assert!(env.get_template("no-such/template.yaml").is_err());
    }
}
