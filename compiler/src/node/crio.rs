//! CRI-O: gpuplan's runtime handlers in a drop-in, in `crio.conf` itself, or an OCI hook.
//!
//! Input: the text of CRI-O's main config (read only, to copy runtime options from), of the
//! drop-in or the config edited in place, or of the hook file. Output: a [`Change`] to the one
//! file gpuplan writes; the others are listed unchanged.
//!
//! Each runtime gets a `[crio.runtime.runtimes.<name>]` table holding a copy of the options of
//! the main config's default runtime (unless it is an NVIDIA one), else of `runc`, else of
//! `crun`, then `runtime_path = <binary>` and `runtime_type = "oci"`, as NVIDIA's toolkit
//! writes them. Three ways to put them on the node:
//! - **drop-in** (the default, `/etc/crio/crio.conf.d/99-nvidia.toml`): written whole and
//!   deterministically, with `[crio.runtime] default_runtime` when the runtime is the default;
//!   the file is gpuplan's, so revert deletes it.
//! - **in place** (no drop-in): `crio.conf` edited with `toml_edit`; only gpuplan's tables and
//!   the `default_runtime` line change. That line keeps what it replaced in a trailing comment
//!   (`default_runtime = "nvidia" # gpuplan: was "crun"`, or `was unset`) so that revert puts
//!   back the same bytes (the markers of [`super::toml`]); a file gpuplan created opens with a
//!   comment saying so, and goes again on revert once it holds nothing else.
//! - **hook** (deprecated upstream, without CDI): the OCI prestart hook JSON file.
//!
//! CRI-O reads CDI specs by itself, so `enable_cdi` needs no key. Limitation: options are
//! copied from one file, not from CRI-O's merged view (`crio status config`); when the runtime
//! to copy is defined in another drop-in, point the config source at that file.

use toml_edit::{DocumentMut, Item, Table, Value};

use super::json::{self, Value as Json};
use super::runtime::CrioMode;
use super::toml::{self, MARK};
use super::{Change, FileChange, Files, NodeRuntime, RuntimeBinary, current};
use crate::error::Error;

const MANAGED: &str = "# Managed by gpuplan: this file is deleted when gpuplan reverts the node's runtime config.";
const CREATED: &str =
    "# Created by gpuplan: deleted when gpuplan reverts the node's runtime config, unless it holds more.";
const RUNTIMES: [&str; 3] = ["crio", "runtime", "runtimes"];
const DEFAULT: &str = "default_runtime";

/// Hook mode: the hook file. Config mode: the main config, the config source, the drop-in.
pub fn paths(node: &NodeRuntime) -> Vec<String> {
    if node.crio_mode == CrioMode::Hook {
        return vec![hook_path(node)];
    }
    let mut paths = vec![node.config.clone()];
    for path in [&node.source, &node.drop_in].into_iter().flatten() {
        if !paths.contains(path) {
            paths.push(path.clone());
        }
    }
    paths
}

/// Register gpuplan's runtimes (or the hook).
pub fn patch(files: &Files, node: &NodeRuntime) -> Result<Change, Error> {
    let mut notes = Vec::new();
    if node.enable_cdi {
        notes.push("CDI needs no CRI-O setting: CRI-O reads CDI specs by itself".to_owned());
    }
    let (path, after) = match (node.crio_mode, &node.drop_in) {
        (CrioMode::Hook, _) => (hook_path(node), Some(hook(node))),
        (CrioMode::Config, Some(drop_in)) => (drop_in.clone(), Some(drop_in_text(files, node, &mut notes)?)),
        (CrioMode::Config, None) => (node.config.clone(), Some(patch_in_place(files, node, &mut notes)?)),
    };
    Ok(change(files, node, &path, after, notes))
}

/// Take gpuplan's runtimes (or the hook) out again.
pub fn revert(files: &Files, node: &NodeRuntime) -> Result<Change, Error> {
    let (path, after) = match (node.crio_mode, &node.drop_in) {
        (CrioMode::Hook, _) => (hook_path(node), None),
        (CrioMode::Config, Some(drop_in)) => (drop_in.clone(), None),
        (CrioMode::Config, None) => {
            (node.config.clone(), revert_in_place(&node.config, current(files, &node.config), node)?)
        }
    };
    let mut notes = Vec::new();
    if after.is_none() && current(files, &path).is_some() {
        notes.push(format!("{path} is gpuplan's: deleted"));
    }
    Ok(change(files, node, &path, after, notes))
}

/// Every path of the node, `path` becoming `after` and the others unchanged.
fn change(files: &Files, node: &NodeRuntime, path: &str, after: Option<String>, notes: Vec<String>) -> Change {
    let files = paths(node)
        .into_iter()
        .map(|p| {
            let before = current(files, &p).map(str::to_owned);
            let after = if p == path { after.clone() } else { before.clone() };
            FileChange { path: p, before, after }
        })
        .collect();
    Change { files, notes }
}

fn hook_path(node: &NodeRuntime) -> String {
    format!("{}/{}", node.crio_hooks_dir.trim_end_matches('/'), node.crio_hook_filename)
}

/// The OCI hook that runs NVIDIA's prestart hook in every container.
fn hook(node: &NodeRuntime) -> String {
    let s = |text: &str| Json::String(text.to_owned());
    let binary = format!("{}/toolkit/nvidia-container-runtime-hook", node.install_dir.trim_end_matches('/'));
    let args = Json::Array(vec![s("nvidia-container-runtime-hook"), s("prestart")]);
    json::pretty(
        &Json::Object(vec![
            ("version".into(), s("1.0.0")),
            ("hook".into(), Json::Object(vec![("path".into(), s(&binary)), ("args".into(), args)])),
            ("when".into(), Json::Object(vec![("always".into(), Json::Bool(true))])),
            ("stages".into(), Json::Array(vec![s("prestart")])),
        ]),
        "  ",
    )
}

/// The drop-in, generated whole from the main config.
fn drop_in_text(files: &Files, node: &NodeRuntime, notes: &mut Vec<String>) -> Result<String, Error> {
    let main = node.source.as_ref().unwrap_or(&node.config);
    let template = template(&Text::parse(main, current(files, main).unwrap_or_default())?.doc, main, notes);
    let mut runtimes = implicit();
    for rt in &node.runtimes {
        runtimes.insert(&rt.name, Item::Table(entry(&template, rt)));
    }
    let mut runtime = implicit();
    if node.set_as_default {
        runtime.set_implicit(false);
        runtime.insert(DEFAULT, toml_edit::value(node.runtime_name.as_str()));
    }
    runtime.insert("runtimes", Item::Table(runtimes));
    let mut crio = implicit();
    crio.insert("runtime", Item::Table(runtime));
    let mut doc = DocumentMut::new();
    doc.insert("crio", Item::Table(crio));
    Ok(format!("{MANAGED}\n{doc}"))
}

/// `crio.conf` with gpuplan's tables and default, edited in place.
fn patch_in_place(files: &Files, node: &NodeRuntime, notes: &mut Vec<String>) -> Result<String, Error> {
    let file = node.config.as_str();
    let (created, text) = split_created(current(files, file));
    let mut text = Text::parse(file, text)?;
    if !text.exact {
        notes.push(format!("{file} cannot be reproduced byte for byte (mixed line ends?): other lines may change"));
    }
    let template = match node.source.as_deref().filter(|source| *source != file) {
        Some(source) => template(&Text::parse(source, current(files, source).unwrap_or_default())?.doc, source, notes),
        None => template(&text.doc, file, notes),
    };
    let runtimes = toml::ensure_table(text.doc.as_table_mut(), &RUNTIMES, file)?;
    let ours = |name: &str| node.runtimes.iter().any(|rt| rt.name == name);
    let tables = || runtimes.iter().filter_map(|(name, item)| Some((name, item.as_table()?)));
    let sibling = tables().find(|(name, _)| !ours(name)).or_else(|| tables().next()).map(|(_, t)| t.clone());
    for rt in &node.runtimes {
        let mut wanted = entry(&template, rt);
        match runtimes.get_mut(&rt.name) {
            Some(existing) if toml::plain(existing) == toml::plain(&Item::Table(wanted.clone())) => {}
            Some(Item::Table(existing)) => {
                notes.push(format!("[crio.runtime.runtimes.{}] rewritten; revert removes it", rt.name));
                toml::style_like(&mut wanted, existing);
                *wanted.decor_mut() = existing.decor().clone();
                wanted.set_position(existing.position());
                *existing = wanted;
            }
            _ => {
                if let Some(sibling) = &sibling {
                    toml::style_like(&mut wanted, sibling);
                }
                runtimes.insert(&rt.name, Item::Table(wanted));
            }
        }
    }
    let root = text.doc.as_table_mut();
    if node.set_as_default {
        let runtime = toml::ensure_table(root, &RUNTIMES[..2], file)?;
        if runtime.get(DEFAULT).is_some_and(|item| item.as_str().is_none()) {
            let message = format!("`crio.runtime.{DEFAULT}` is not a string");
            return Err(Error::NodeConfig { file: file.into(), span: None, message });
        }
        toml::set_marked(runtime, DEFAULT, Value::from(node.runtime_name.as_str()));
    } else if let Some(runtime) = toml::table_mut(root, &RUNTIMES[..2]) {
        toml::restore_marked(runtime, DEFAULT);
    }
    let text = text.render();
    let patched = if created { format!("{CREATED}\n{text}") } else { text };
    // Revert must be able to take gpuplan's lines out again. Where toml_edit would move other
    // lines instead (tables under dotted keys), refuse rather than rewrite the user's file.
    if revert_in_place(file, Some(&patched), node)? != revert_in_place(file, current(files, file), node)? {
        let message = "gpuplan cannot add its tables here and take them out again without moving other lines (dotted keys under `crio`?): use a drop-in";
        return Err(Error::NodeConfig { file: file.into(), span: None, message: message.into() });
    }
    Ok(patched)
}

/// `text` without gpuplan's tables and with the recorded default back.
fn revert_in_place(file: &str, text: Option<&str>, node: &NodeRuntime) -> Result<Option<String>, Error> {
    let Some(text) = text else { return Ok(None) };
    let (created, text) = split_created(Some(text));
    let mut text = Text::parse(file, text)?;
    let root = text.doc.as_table_mut();
    if let Some(runtimes) = toml::table_mut(root, &RUNTIMES) {
        for rt in &node.runtimes {
            runtimes.remove(&rt.name);
        }
    }
    if let Some(runtime) = toml::table_mut(root, &RUNTIMES[..2]) {
        toml::restore_marked(runtime, DEFAULT);
    }
    let text = text.render();
    Ok(match created {
        true if text.trim().is_empty() => None,
        true => Some(format!("{CREATED}\n{text}")),
        false => Some(text),
    })
}

/// Whether gpuplan created the file (it is missing, or opens with [`CREATED`]), and the rest.
fn split_created(text: Option<&str>) -> (bool, &str) {
    match text {
        None => (true, ""),
        Some(text) => match text.strip_prefix(CREATED).and_then(|rest| rest.strip_prefix('\n')) {
            Some(rest) => (true, rest),
            None => (false, text),
        },
    }
}

/// The options gpuplan's runtimes copy, as upstream picks them: those of the default runtime
/// unless it is an NVIDIA one, else of `runc`, else of `crun`; none if there is none of them.
fn template(doc: &DocumentMut, file: &str, notes: &mut Vec<String>) -> Table {
    let default = previous_default(doc).filter(|d| !d.is_empty() && !d.starts_with("nvidia"));
    let found = default.into_iter().chain(["runc".to_owned(), "crun".to_owned()]).find_map(|name| {
        let mut copy = toml::fresh_copy(toml::table(doc.as_table(), &[RUNTIMES[0], RUNTIMES[1], RUNTIMES[2], &name])?);
        copy.remove("runtime_path");
        copy.remove("runtime_type");
        Some((name, copy))
    });
    if let Some((name, copy)) = found {
        notes.push(format!("runtime options copied from `{name}` in {file}"));
        return copy;
    }
    notes.push(format!(
        "{file} defines no runtime to copy options from (its default, runc or crun): only runtime_path and runtime_type are written; point the config source at the file that defines it"
    ));
    Table::new()
}

/// One runtime's table: the copied options, then its binary and type.
fn entry(template: &Table, rt: &RuntimeBinary) -> Table {
    let mut table = template.clone();
    table.insert("runtime_path", toml_edit::value(rt.path.as_str()));
    table.insert("runtime_type", toml_edit::value("oci"));
    table
}

/// `crio.runtime.default_runtime` as it was before gpuplan (from its marker), or as it is.
fn previous_default(doc: &DocumentMut) -> Option<String> {
    let value = toml::table(doc.as_table(), &RUNTIMES[..2])?.get(DEFAULT)?.as_value()?;
    let suffix = value.decor().suffix().and_then(|s| s.as_str()).unwrap_or_default();
    let Some(record) = suffix.trim_start().strip_prefix(MARK) else { return value.as_str().map(str::to_owned) };
    // The record is the former value's text and the line's former comment: an assignment's
    // right-hand side. `unset` is not a value, so a default gpuplan added gives `None`.
    let line = format!("x = {record}").parse::<DocumentMut>().ok()?;
    line.get("x")?.as_str().map(str::to_owned)
}

fn implicit() -> Table {
    let mut table = Table::new();
    table.set_implicit(true);
    table
}

/// A TOML file as [`toml::parse`] reads it, with what toml_edit does not give back: a
/// byte-order mark, CRLF line ends, a missing final newline.
struct Text {
    doc: DocumentMut,
    bom: bool,
    crlf: bool,
    final_newline: bool,
    /// Whether toml_edit gives the text back exactly.
    exact: bool,
}

impl Text {
    fn parse(file: &str, text: &str) -> Result<Text, Error> {
        let (bom, text) = text.strip_prefix('\u{feff}').map_or((false, text), |rest| (true, rest));
        let crlf = text.contains("\r\n") && text.matches('\n').count() == text.matches("\r\n").count();
        let mut body = if crlf { text.replace("\r\n", "\n") } else { text.to_owned() };
        let final_newline = body.is_empty() || body.ends_with('\n');
        if !final_newline {
            body.push('\n');
        }
        let doc = toml::parse(&body, file)?;
        let exact = doc.to_string() == body;
        Ok(Text { doc, bom, crlf, final_newline, exact })
    }

    fn render(&self) -> String {
        let mut text = self.doc.to_string();
        if !self.final_newline && text.ends_with('\n') {
            text.pop();
        }
        if self.crlf {
            text = text.replace('\n', "\r\n");
        }
        if self.bom { format!("\u{feff}{text}") } else { text }
    }
}
