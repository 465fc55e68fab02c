//! CRI-O: gpuplan's runtime handlers in a drop-in, in `crio.conf` itself, or an OCI hook.
//!
//! Input: the text before gpuplan of CRI-O's main config (read only, to copy runtime options
//! from), of the drop-in or the config edited in place, or of the hook file. Output: an
//! [`Edit`] to the one file gpuplan writes; the others are listed unchanged.
//!
//! Each runtime gets a `[crio.runtime.runtimes.<name>]` table holding a copy of the options of
//! the main config's default runtime (unless it is an NVIDIA one), else of `runc`, else of
//! `crun`, then `runtime_path = <binary>` and `runtime_type = "oci"`, as NVIDIA's toolkit
//! writes them. Three ways to put them on the node:
//! - **drop-in** (the default, `/etc/crio/crio.conf.d/99-nvidia.toml`): written whole and
//!   deterministically, with `[crio.runtime] default_runtime` when the runtime is the default.
//! - **in place** (no drop-in): `crio.conf` edited with `toml_edit`; only gpuplan's tables and
//!   the `default_runtime` line change; a file gpuplan created opens with a comment saying so.
//! - **hook** (deprecated upstream, without CDI): the OCI prestart hook JSON file.
//!
//! What was there before (a runtime table of the same name, the previous default, the file at
//! the drop-in path) is kept in gpuplan's record, so revert gives it back ([`super`]).
//!
//! CRI-O reads CDI specs by itself, so `enable_cdi` needs no key. Limitation: options are
//! copied from one file, not from CRI-O's merged view (`crio status config`); when the runtime
//! to copy is defined in another drop-in, point the config source at that file.

use toml_edit::{DocumentMut, Item, Table, Value};

use super::json::{self, Value as Json};
use super::runtime::CrioMode;
use super::toml::{self, Text};
use super::{Edit, FileChange, Files, NodeRuntime, RuntimeBinary, current};
use crate::error::Error;

/// First line of gpuplan's drop-in.
pub const MANAGED: &str = "# Managed by gpuplan: NVIDIA runtimes for CRI-O. A revert gives back what was here before.";
const CREATED: &str = "# Created by gpuplan for its NVIDIA runtimes. Deleted when gpuplan reverts.";
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

/// Register gpuplan's runtimes (or the hook) in the text before gpuplan.
pub fn patch(files: &Files, node: &NodeRuntime) -> Result<Edit, Error> {
    let mut notes = Vec::new();
    if node.enable_cdi {
        notes.push("CDI needs no CRI-O setting: CRI-O reads CDI specs by itself".to_owned());
    }
    let (path, after) = match (node.crio_mode, &node.drop_in) {
        (CrioMode::Hook, _) => (hook_path(node), Some(hook(node))),
        (CrioMode::Config, Some(drop_in)) => (drop_in.clone(), Some(drop_in_text(files, node, &mut notes)?)),
        (CrioMode::Config, None) => (node.config.clone(), Some(patch_in_place(files, node, &mut notes)?)),
    };
    let files = paths(node)
        .into_iter()
        .map(|p| {
            let before = current(files, &p).map(str::to_owned);
            let after = if p == path { after.clone() } else { before.clone() };
            FileChange { path: p, before, after }
        })
        .collect();
    Ok(Edit { files, notes })
}

/// The hook file's path.
pub fn hook_path(node: &NodeRuntime) -> String {
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
    let created = current(files, file).is_none();
    let mut text = Text::parse(file, current(files, file).unwrap_or_default())?;
    if !text.exact() {
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
                notes.push(format!(
                    "[crio.runtime.runtimes.{}] is replaced by gpuplan's; a revert puts it back as it is",
                    rt.name
                ));
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
        let former = runtime.get(DEFAULT).and_then(Item::as_str).map(str::to_owned);
        if toml::set_value(runtime, DEFAULT, Value::from(node.runtime_name.as_str())) {
            notes.push(match former {
                Some(name) => format!("the default runtime changes from `{name}` to `{}`", node.runtime_name),
                None => format!("`{}` becomes the default runtime", node.runtime_name),
            });
        }
    } else if let Some(name) =
        toml::table(root, &RUNTIMES[..2]).and_then(|r| r.get(DEFAULT)).and_then(Item::as_str).filter(|name| ours(name))
    {
        notes.push(format!(
            "the config makes `{name}` the default runtime; set-as-default is off, so gpuplan leaves the default as it is"
        ));
    }
    let text = text.render();
    Ok(if created { format!("{CREATED}\n{text}") } else { text })
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

/// `crio.runtime.default_runtime`.
fn previous_default(doc: &DocumentMut) -> Option<String> {
    toml::table(doc.as_table(), &RUNTIMES[..2])?.get(DEFAULT)?.as_str().map(str::to_owned)
}

fn implicit() -> Table {
    let mut table = Table::new();
    table.set_implicit(true);
    table
}
