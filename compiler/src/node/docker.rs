//! Docker: gpuplan's runtimes in `daemon.json`, edited as text.
//!
//! Input: the text of `daemon.json` (missing or blank: gpuplan creates it) and of gpuplan's
//! sidecar next to it, `.daemon.json.gpuplan`. Output: a [`Change`] to both files —
//! `daemon.json` first, then the sidecar.
//!
//! [`patch`] registers each runtime as `runtimes.<name> = {"path": <binary>, "args": []}`, sets
//! `default-runtime` when the node's runtime is to be the default and `features.cdi` when CDI
//! is switched on in the runtime, as NVIDIA's toolkit does; every other byte stays (see
//! [`super::json`]). JSON has no comments to hold a marker, so the sidecar records what gpuplan
//! added or overwrote, and the former values exactly as written; a value already recorded is
//! never recorded again, so patching twice keeps the original. [`revert`] removes gpuplan's
//! runtimes, puts back what the sidecar recorded (a value someone changed since is left
//! alone), deletes a `daemon.json` gpuplan created once it is back to nothing, and deletes the
//! sidecar. Without a sidecar it falls back on upstream's cleanup: gpuplan's runtimes go, an
//! emptied `runtimes` goes, and a `default-runtime` naming one of them is removed (Docker's
//! default is `runc`).

use super::json::{self, Document, JsonError, Kind, Node, Value};
use super::{Change, FileChange, Files, NodeRuntime, RuntimeBinary, current};
use crate::error::Error;

const RUNTIMES: &str = "runtimes";
const DEFAULT: &str = "default-runtime";
const FEATURES: &str = "features";
const CDI: &str = "cdi";
const COMMENT: &str = "gpuplan's record of what it changed in daemon.json; revert puts it back and deletes this file";

/// `daemon.json`, then gpuplan's sidecar.
pub fn paths(node: &NodeRuntime) -> Vec<String> {
    vec![node.config.clone(), sidecar_path(&node.config)]
}

/// The sidecar of `config`: `<dir>/.<file name>.gpuplan`.
pub fn sidecar_path(config: &str) -> String {
    match config.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/.{name}.gpuplan"),
        None => format!(".{config}.gpuplan"),
    }
}

/// Register gpuplan's runtimes, and set or restore `default-runtime` and `features.cdi`.
pub fn patch(files: &Files, node: &NodeRuntime) -> Result<Change, Error> {
    let mut edit = Edit::open(files, node)?;
    if edit.record.created.is_none() {
        edit.record.created = edit.created.clone();
    }
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
    } else {
        edit.undo(&[DEFAULT], |n| n.as_str() == Some(name))?;
    }
    if !node.enable_cdi {
        edit.undo(&[FEATURES, CDI], is_true)?;
        edit.prune(&[FEATURES])?;
    } else if edit.doc.get(&[FEATURES]).is_none() {
        edit.put(&[FEATURES], Value::Object(vec![(CDI.into(), Value::Bool(true))]), |_| false)?;
    } else {
        edit.put(&[FEATURES, CDI], Value::Bool(true), is_true)?;
    }
    let after = Some(edit.doc.text().to_owned());
    Ok(edit.finish(node, after))
}

/// Remove gpuplan's runtimes and put back what the sidecar recorded.
pub fn revert(files: &Files, node: &NodeRuntime) -> Result<Change, Error> {
    let mut edit = Edit::open(files, node)?;
    if edit.created.is_some() {
        // Nothing to revert: the file is missing or blank. A sidecar left behind is stale.
        edit.record = Record::default();
        let after = edit.before.map(str::to_owned);
        return Ok(edit.finish(node, after));
    }
    let mut removed = false;
    for rt in &node.runtimes {
        let path = [RUNTIMES, rt.name.as_str()];
        match edit.record.was(&pointer(&path)).map(str::to_owned) {
            Some(raw) => edit.set(&path, &Value::Raw(raw))?,
            None => removed |= edit.remove(&path)?,
        }
    }
    edit.prune(&[RUNTIMES])?;
    if edit.sidecar.is_none() {
        // Upstream's cleanup: an emptied `runtimes` goes, and a default naming a gpuplan runtime.
        if removed && edit.doc.get(&[RUNTIMES]).is_some_and(|n| matches!(&n.kind, Kind::Object(m) if m.is_empty())) {
            edit.remove(&[RUNTIMES])?;
        }
        let ours = |n: &Node| node.runtimes.iter().any(|rt| n.as_str() == Some(rt.name.as_str()));
        let default = edit.doc.get(&[DEFAULT]).is_some_and(ours) && edit.remove(&[DEFAULT])?;
        if removed || default {
            edit.notes.push(format!(
                "no record of gpuplan's changes ({} is missing): its runtimes are removed{}, `{FEATURES}` is left as it is",
                sidecar_path(&node.config),
                if default { format!(" and so is `{DEFAULT}` (Docker's default is `runc`)") } else { String::new() },
            ));
        }
    } else {
        edit.undo(&[DEFAULT], |n| n.as_str() == Some(node.runtime_name.as_str()))?;
    }
    edit.undo(&[FEATURES, CDI], is_true)?;
    edit.prune(&[FEATURES])?;
    let after = match edit.record.created.clone() {
        Some(former) if edit.doc.root().members().is_empty() => former,
        Some(_) => {
            edit.notes.push(format!("{} was created by gpuplan but holds other settings now: it is kept", node.config));
            Some(edit.doc.text().to_owned())
        }
        None => Some(edit.doc.text().to_owned()),
    };
    edit.record = Record::default();
    Ok(edit.finish(node, after))
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

/// daemon.json being edited, with the record of what gpuplan changed in it.
struct Edit<'a> {
    file: &'a str,
    /// daemon.json's text as it is.
    before: Option<&'a str>,
    doc: Document,
    /// `Some` when daemon.json is missing (`None`) or blank (its text): edited from `{}`.
    created: Option<Option<String>>,
    /// The sidecar's text, if there is one.
    sidecar: Option<&'a str>,
    record: Record,
    notes: Vec<String>,
}

impl<'a> Edit<'a> {
    fn open(files: &'a Files, node: &'a NodeRuntime) -> Result<Edit<'a>, Error> {
        let file = node.config.as_str();
        let text = current(files, file);
        let created = match text {
            None => Some(None),
            Some(t) if t.trim_matches([' ', '\t', '\n', '\r']).is_empty() => Some(Some(t.to_owned())),
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
        let path = sidecar_path(file);
        let sidecar = current(files, &path);
        // A sidecar without its daemon.json is stale: gpuplan starts a new record.
        let record = match sidecar {
            Some(text) if created != Some(None) => Record::parse(&path, text)?,
            _ => Record::default(),
        };
        Ok(Edit { file, before: text, doc, created, sidecar, record, notes: Vec::new() })
    }

    fn set(&mut self, path: &[&str], value: &Value) -> Result<(), Error> {
        self.doc.set(path, value).map_err(|e| node_error(self.file, e))
    }

    fn remove(&mut self, path: &[&str]) -> Result<bool, Error> {
        self.doc.remove(path).map_err(|e| node_error(self.file, e))
    }

    /// Set `path` to `value` unless it is `ours` already, recording what was there before
    /// unless the record has it (or an enclosing member) already.
    fn put(&mut self, path: &[&str], value: Value, ours: impl Fn(&Node) -> bool) -> Result<(), Error> {
        let ptr = pointer(path);
        let former = match self.doc.get(path) {
            Some(node) if ours(node) => return Ok(()),
            Some(node) => Some(self.doc.raw(node).to_owned()),
            None => None,
        };
        self.notes.push(match &former {
            Some(raw) if raw.len() < 60 && !raw.contains('\n') => format!("{ptr} replaced (was {raw})"),
            Some(_) => format!("{ptr} replaced"),
            None => format!("{ptr} added"),
        });
        if !self.record.knows(&ptr) {
            match former {
                Some(raw) => self.record.replaced.push((ptr, raw)),
                None => self.record.added.push(ptr),
            }
        }
        self.set(path, &value)
    }

    /// Put back what gpuplan recorded for `path`, if it still holds gpuplan's value.
    fn undo(&mut self, path: &[&str], ours: impl Fn(&Node) -> bool) -> Result<(), Error> {
        let ptr = pointer(path);
        if !self.record.knows(&ptr) {
            return Ok(());
        }
        match (self.doc.get(path), self.record.was(&ptr).map(str::to_owned)) {
            (Some(node), _) if !ours(node) => {
                self.notes.push(format!("{ptr} was changed since gpuplan set it: left as it is"));
            }
            (Some(_), Some(raw)) => {
                self.set(path, &Value::Raw(raw))?;
                self.notes.push(format!("{ptr} restored"));
            }
            (Some(_), None) => {
                self.remove(path)?;
                self.notes.push(format!("{ptr} removed"));
            }
            (None, _) => {}
        }
        self.record.forget(&ptr);
        Ok(())
    }

    /// Remove the object at `path` if gpuplan added it and it is empty again.
    fn prune(&mut self, path: &[&str]) -> Result<(), Error> {
        let ptr = pointer(path);
        let empty = self.doc.get(path).is_some_and(|n| matches!(&n.kind, Kind::Object(m) if m.is_empty()));
        if empty && self.record.added.contains(&ptr) {
            self.remove(path)?;
            self.record.forget(&ptr);
        }
        Ok(())
    }

    fn finish(self, node: &NodeRuntime, after: Option<String>) -> Change {
        let side_path = sidecar_path(&node.config);
        // A sidecar saying what the record says is kept as it is, whatever its layout.
        let same = |text: &str| Record::parse(&side_path, text).ok().as_ref() == Some(&self.record);
        let side_after = match self.sidecar {
            _ if self.record.is_empty() => None,
            Some(text) if same(text) => Some(text.to_owned()),
            _ => Some(self.record.render()),
        };
        let file = |path: &str, before: Option<&str>, after| FileChange {
            path: path.to_owned(),
            before: before.map(str::to_owned),
            after,
        };
        Change {
            files: vec![file(&node.config, self.before, after), file(&side_path, self.sidecar, side_after)],
            notes: self.notes,
        }
    }
}

fn node_error(file: &str, e: JsonError) -> Error {
    Error::NodeConfig { file: file.into(), span: Some(e.span), message: e.message }
}

/// What gpuplan changed in daemon.json, as the sidecar holds it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Record {
    /// daemon.json was missing (`None`) or blank (its text) before gpuplan wrote it.
    created: Option<Option<String>>,
    /// Members gpuplan added, as JSON pointers.
    added: Vec<String>,
    /// Members gpuplan overwrote: pointer, and the former value's text as written.
    replaced: Vec<(String, String)>,
}

impl Record {
    fn parse(file: &str, text: &str) -> Result<Record, Error> {
        let doc = Document::parse(text).map_err(|e| node_error(file, e))?;
        let bad = |node: &Node, what: &str| Error::NodeConfig {
            file: file.into(),
            span: Some(doc.position(node.span.start)),
            message: format!("expected {what}"),
        };
        let root = doc.root();
        if !matches!(root.kind, Kind::Object(_)) {
            return Err(bad(root, "a JSON object"));
        }
        let mut record = Record::default();
        if let Some(m) = root.member("created") {
            record.created = Some(match &m.value.kind {
                Kind::Bool(true) => None,
                Kind::String(text) => Some(text.clone()),
                _ => return Err(bad(&m.value, "`true` or the former text of the file")),
            });
        }
        if let Some(m) = root.member("added") {
            let Kind::Array(items) = &m.value.kind else { return Err(bad(&m.value, "an array of JSON pointers")) };
            for item in items {
                record.added.push(item.as_str().ok_or_else(|| bad(item, "a JSON pointer"))?.to_owned());
            }
        }
        if let Some(m) = root.member("replaced") {
            if !matches!(m.value.kind, Kind::Object(_)) {
                return Err(bad(&m.value, "an object of JSON pointers and former values"));
            }
            record.replaced = m.value.members().iter().map(|r| (r.key.clone(), doc.raw(&r.value).to_owned())).collect();
        }
        Ok(record)
    }

    fn render(&self) -> String {
        let mut members = vec![("comment".to_owned(), Value::String(COMMENT.into()))];
        if let Some(created) = &self.created {
            members.push(("created".into(), created.clone().map_or(Value::Bool(true), Value::String)));
        }
        if !self.added.is_empty() {
            members.push(("added".into(), Value::Array(self.added.iter().cloned().map(Value::String).collect())));
        }
        if !self.replaced.is_empty() {
            let replaced = self.replaced.iter().map(|(p, raw)| (p.clone(), Value::Raw(raw.clone()))).collect();
            members.push(("replaced".into(), Value::Object(replaced)));
        }
        json::pretty(&Value::Object(members), "    ")
    }

    fn is_empty(&self) -> bool {
        self.created.is_none() && self.added.is_empty() && self.replaced.is_empty()
    }

    /// Whether the record covers `ptr`: it, or a member enclosing it.
    fn knows(&self, ptr: &str) -> bool {
        let covers = |p: &str| ptr == p || ptr.strip_prefix(p).is_some_and(|rest| rest.starts_with('/'));
        self.added.iter().any(|p| covers(p)) || self.replaced.iter().any(|(p, _)| covers(p))
    }

    /// The former text of `ptr`, if gpuplan overwrote it.
    fn was(&self, ptr: &str) -> Option<&str> {
        self.replaced.iter().find(|(p, _)| p == ptr).map(|(_, raw)| raw.as_str())
    }

    fn forget(&mut self, ptr: &str) {
        self.added.retain(|p| p != ptr);
        self.replaced.retain(|(p, _)| p != ptr);
    }
}
