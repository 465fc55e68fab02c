//! Docker: gpuplan's runtimes in `daemon.json`, edited as text.
//!
//! Input: the text before gpuplan of `daemon.json` (missing or blank: gpuplan creates it).
//! Output: an [`Edit`] to it.
//!
//! [`patch`] registers each runtime as `runtimes.<name> = {"path": <binary>, "args": []}`, sets
//! `default-runtime` when the node's runtime is to be the default and `features.cdi` when CDI
//! is switched on in the runtime, as NVIDIA's toolkit does; every other byte stays (see
//! [`super::json`]). A member gpuplan replaces is said in the notes; what it was is kept in
//! gpuplan's record ([`super::record`]), so revert gives back the file byte for byte. A
//! `default-runtime` or `features.cdi` the admin set is left alone when gpuplan is not asked to
//! set it.

use super::json::{Document, JsonError, Kind, Node, Value};
use super::{Edit, FileChange, Files, NodeRuntime, RuntimeBinary, current};
use crate::error::Error;

const RUNTIMES: &str = "runtimes";
const DEFAULT: &str = "default-runtime";
const FEATURES: &str = "features";
const CDI: &str = "cdi";

/// `daemon.json`.
pub fn paths(node: &NodeRuntime) -> Vec<String> {
    vec![node.config.clone()]
}

/// Register gpuplan's runtimes, and set `default-runtime` and `features.cdi` when asked.
pub fn patch(files: &Files, node: &NodeRuntime) -> Result<Edit, Error> {
    let mut edit = Daemon::open(files, node)?;
    match &edit.created {
        Some(None) => edit.notes.push(format!("{} does not exist: gpuplan creates it", node.config)),
        Some(Some(_)) => edit.notes.push(format!("{} is blank: gpuplan writes it from `{{}}`", node.config)),
        None => {}
    }
    if edit.doc.get(&[RUNTIMES]).is_none() {
        let all = node.runtimes.iter().map(|rt| (rt.name.clone(), entry(rt))).collect();
        edit.put(&[RUNTIMES], Value::Object(all), |_| false)?;
    } else {
        for rt in &node.runtimes {
            edit.put(&[RUNTIMES, &rt.name], entry(rt), |n| is_entry(n, rt))?;
        }
    }
    let name = node.runtime_name.as_str();
    if node.set_as_default {
        edit.put(&[DEFAULT], Value::String(name.into()), |n| n.as_str() == Some(name))?;
    } else if edit.doc.get(&[DEFAULT]).is_some_and(|n| node.runtimes.iter().any(|rt| n.as_str() == Some(&rt.name))) {
        edit.notes.push(format!(
            "{DEFAULT} names an NVIDIA runtime already; set-as-default is off, so gpuplan leaves it as it is"
        ));
    }
    if node.enable_cdi {
        if edit.doc.get(&[FEATURES]).is_none() {
            edit.put(&[FEATURES], Value::Object(vec![(CDI.into(), Value::Bool(true))]), |_| false)?;
        } else {
            edit.put(&[FEATURES, CDI], Value::Bool(true), is_true)?;
        }
    }
    let after = Some(edit.doc.text().to_owned());
    Ok(Edit {
        files: vec![FileChange { path: node.config.clone(), before: edit.before.map(str::to_owned), after }],
        notes: edit.notes,
    })
}

/// The text that makes a *reload* (SIGHUP) of dockerd take on what `text` means, or `None`
/// when `text` itself does. dockerd's reload only changes the options the file sets: a
/// `daemon.json` without `runtimes` keeps the runtimes loaded before, one without
/// `default-runtime` keeps the default. So to take gpuplan's runtimes out of a running daemon
/// without stopping its containers, the agent first reloads this form — the original with
/// `"runtimes": {}` and `"default-runtime": "runc"` (dockerd's built-ins) where it sets none —
/// and then writes the original bytes back, which mean the same to the next start.
pub fn reload_form(text: Option<&str>) -> Option<String> {
    let blank = text.is_none_or(|t| t.trim_matches(['\u{feff}', ' ', '\t', '\n', '\r']).is_empty());
    let mut doc = Document::parse(if blank { "{}\n" } else { text.unwrap_or_default() }).ok()?;
    let mut changed = false;
    if doc.get(&[RUNTIMES]).is_none() {
        doc.set(&[RUNTIMES], &Value::Object(Vec::new())).ok()?;
        changed = true;
    }
    if doc.get(&[DEFAULT]).is_none() {
        doc.set(&[DEFAULT], &Value::String("runc".into())).ok()?;
        changed = true;
    }
    changed.then(|| doc.text().to_owned())
}

/// `{"path": <binary>, "args": []}`.
fn entry(rt: &RuntimeBinary) -> Value {
    Value::Object(vec![("path".into(), Value::String(rt.path.clone())), ("args".into(), Value::Array(Vec::new()))])
}

/// Whether `node` is exactly the entry gpuplan writes for `rt`.
fn is_entry(node: &Node, rt: &RuntimeBinary) -> bool {
    let path = node.member("path").and_then(|m| m.value.as_str());
    let args = node.member("args").map(|m| &m.value.kind);
    node.members().len() == 2 && path == Some(rt.path.as_str()) && matches!(args, Some(Kind::Array(a)) if a.is_empty())
}

fn is_true(node: &Node) -> bool {
    node.kind == Kind::Bool(true)
}

/// RFC 6901 pointer of an object path, the sidecar's name for a member.
fn pointer(path: &[&str]) -> String {
    path.iter().map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1"))).collect()
}

/// daemon.json being edited.
struct Daemon<'a> {
    file: &'a str,
    /// daemon.json's text as it is.
    before: Option<&'a str>,
    doc: Document,
    /// `Some` when daemon.json is missing (`None`) or blank (its text): edited from `{}`.
    created: Option<Option<String>>,
    notes: Vec<String>,
}

impl<'a> Daemon<'a> {
    fn open(files: &'a Files, node: &'a NodeRuntime) -> Result<Daemon<'a>, Error> {
        let file = node.config.as_str();
        let text = current(files, file);
        let created = match text {
            None => Some(None),
            Some(t) if t.trim_matches(['\u{feff}', ' ', '\t', '\n', '\r']).is_empty() => Some(Some(t.to_owned())),
            Some(_) => None,
        };
        let doc = Document::parse(if created.is_some() { "{}\n" } else { text.unwrap_or_default() })
            .map_err(|e| node_error(file, e))?;
        if !matches!(doc.root().kind, Kind::Object(_)) {
            return Err(node_error(
                file,
                JsonError { span: doc.position(doc.root().span.start), message: "expected a JSON object".into() },
            ));
        }
        Ok(Daemon { file, before: text, doc, created, notes: Vec::new() })
    }

    fn set(&mut self, path: &[&str], value: &Value) -> Result<(), Error> {
        self.doc.set(path, value).map_err(|e| node_error(self.file, e))
    }

    /// Set `path` to `value` unless it is `ours` already, saying what it replaces.
    fn put(&mut self, path: &[&str], value: Value, ours: impl Fn(&Node) -> bool) -> Result<(), Error> {
        let ptr = pointer(path);
        let former = match self.doc.get(path) {
            Some(node) if ours(node) => return Ok(()),
            Some(node) => Some(self.doc.raw(node).to_owned()),
            None => None,
        };
        self.notes.push(match &former {
            Some(raw) if raw.len() < 60 && !raw.contains('\n') => {
                format!("{ptr} replaced (was {raw}); a revert puts it back")
            }
            Some(_) => format!("{ptr} replaced; a revert puts it back"),
            None => format!("{ptr} added"),
        });
        self.set(path, &value)
    }
}

fn node_error(file: &str, e: JsonError) -> Error {
    Error::NodeConfig { file: file.into(), span: Some(e.span), message: e.message }
}
