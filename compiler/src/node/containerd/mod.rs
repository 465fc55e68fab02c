//! containerd: what `config.toml` (and gpuplan's drop-in) become, and back.
//!
//! Input: the current text of the top-level config, the drop-in, and an optional source file,
//! and the [`NodeRuntime`]. Output: a [`Change`].
//!
//! - **Version** comes from the file on disk: no `version` key means 1, an empty (or missing)
//!   file means 2 (1 with `CONTAINERD_USE_LEGACY_CONFIG`). The CRI plugin path per version is
//!   written once, in [`CRI_PLUGINS`].
//! - **Version 2 and later with a drop-in path**: gpuplan's runtimes go into the drop-in, and
//!   the top-level file gains `imports = ["<drop-in dir>/*.toml"]` unless it has it already.
//!   For version 2 the drop-in repeats the whole CRI section (containerd 1.x replaces plugin
//!   sections from imports); for version 3 and later it holds only gpuplan's entries
//!   (containerd 2.x merges imports deeply).
//! - **Version 1, or no drop-in path**: the top-level file is edited in place (upstream writes
//!   a version-1 drop-in that containerd never reads).
//! - **Go-template configs** (k3s/RKE2 `config.toml.tmpl`, MicroK8s `containerd-template.toml`)
//!   are never parsed as TOML: see [`super::template`].
//!
//! Everything gpuplan sets in an existing file is a marked assignment ([`super::toml`]), so
//! [`revert`] restores the previous `default_runtime_name`, `enable_cdi` and `imports`
//! exactly; runtime tables gpuplan added are removed; files gpuplan created are deleted.

mod entry;

pub use entry::{entry as runtime_entry, inherit};

use toml_edit::{Array, DocumentMut, Item, Table, Value, value};

use super::template;
use super::toml::{ensure_table, parse, plain, restore_marked, set_marked, style_like, table, table_mut};
use super::{Change, FileChange, Files, NodeRuntime, current};
use crate::error::Error;

/// A containerd config version.
pub type Version = i64;

/// The CRI plugin's id by config version (each entry applies from that version on): the one
/// place containerd's plugin paths are written.
pub const CRI_PLUGINS: [(Version, &str); 3] =
    [(1, "cri"), (2, "io.containerd.grpc.v1.cri"), (3, "io.containerd.cri.v1.runtime")];

/// containerd's built-in `runc` runtime type.
const RUNC_TYPE: &str = "io.containerd.runc.v2";

/// Runtime names earlier toolkits added, removed on revert too.
const RETIRED_RUNTIMES: [&str; 1] = ["nvidia-experimental"];

/// First line of gpuplan's drop-in.
pub const DROP_IN_HEADER: &str = "# Managed by gpuplan: NVIDIA runtimes for containerd. Deleted when gpuplan reverts.";
/// First line of a top-level file gpuplan had to create.
pub const CREATED_HEADER: &str = "# Created by gpuplan for its NVIDIA runtimes. Deleted when gpuplan reverts.";

/// The CRI plugin id for a config version (3 and later, 4 included, share one).
pub fn cri_plugin(version: Version) -> &'static str {
    CRI_PLUGINS.iter().rev().find(|(from, _)| version >= *from).map_or(CRI_PLUGINS[0].1, |(_, id)| id)
}

/// Where containerd reads `enable_cdi`: the CRI plugin's own table, for every version
/// (upstream writes it one level too deep for version 1, where containerd ignores it).
fn cdi_path(version: Version) -> [&'static str; 2] {
    ["plugins", cri_plugin(version)]
}

/// The files read: the top-level config, the source (or a template's rendered sibling) and
/// the drop-in.
pub fn paths(node: &NodeRuntime) -> Vec<String> {
    let mut paths = vec![node.config.clone()];
    paths.extend(source_path(node));
    paths.extend(node.drop_in.clone());
    paths.dedup();
    paths
}

fn source_path(node: &NodeRuntime) -> Option<String> {
    node.source.clone().or_else(|| template::rendered_sibling(&node.config))
}

fn read(files: &Files, path: &str) -> Result<Option<DocumentMut>, Error> {
    current(files, path).map(|text| parse(text, path)).transpose()
}

/// The config version of a document (see the module docs).
pub fn version(doc: &DocumentMut, file: &str, node: &NodeRuntime) -> Result<Version, Error> {
    if doc.as_table().is_empty() {
        return Ok(if node.use_legacy_config { 1 } else { 2 });
    }
    match doc.get("version") {
        None => Ok(1),
        Some(item) => item.as_integer().ok_or_else(|| Error::NodeConfig {
            file: file.into(),
            span: None,
            message: format!("`version` must be an integer, found {}", item.to_string().trim()),
        }),
    }
}

/// The version and the document runtime options are copied from.
fn source(files: &Files, node: &NodeRuntime, top: Option<&DocumentMut>) -> Result<(DocumentMut, Version), Error> {
    let (doc, file) = match &node.source {
        Some(path) => (read(files, path)?.unwrap_or_default(), path.as_str()),
        None => (top.cloned().unwrap_or_default(), node.config.as_str()),
    };
    let version = version(&doc, file, node)?;
    Ok((doc, version))
}

/// Add gpuplan's runtimes.
pub fn patch(files: &Files, node: &NodeRuntime) -> Result<Change, Error> {
    if template::is_template(&node.config, current(files, &node.config)) {
        return template::patch(files, node);
    }
    let top = read(files, &node.config)?;
    let (source, version) = source(files, node, top.as_ref())?;
    let inherited = entry::inherit(&source, version, node);
    let mut notes = vec![match &inherited.from {
        Some(name) => format!("config version {version}; runtime settings copied from `{name}`"),
        None => format!("config version {version}; no runc/crun runtime to copy, using the toolkit's defaults"),
    }];
    match &node.drop_in {
        Some(drop_in) if version >= 2 => {
            let text = drop_in_text(&source, version, &inherited.table, node)?;
            let top_after = ensure_import(
                &node.config,
                current(files, &node.config),
                top,
                &import_pattern(node, drop_in),
                version,
            )?;
            notes.push(if version == 2 {
                format!("drop-in {drop_in} repeats the whole CRI section: containerd 1.x replaces plugin sections from imports")
            } else {
                format!("drop-in {drop_in} holds only gpuplan's entries: containerd 2.x merges imports deeply")
            });
            Ok(Change {
                files: vec![change(files, &node.config, top_after), change(files, drop_in, Some(text))],
                notes,
            })
        }
        drop_in => {
            if let (Some(path), 1) = (drop_in, version) {
                notes.push(format!(
                    "version 1 config: edited in place; containerd 1.x would not read {path} (upstream writes it anyway)"
                ));
            }
            let after = in_place(top, version, &inherited.table, node, &mut notes)?;
            Ok(Change { files: vec![change(files, &node.config, Some(after))], notes })
        }
    }
}

/// Take gpuplan's runtimes out again.
pub fn revert(files: &Files, node: &NodeRuntime) -> Result<Change, Error> {
    if template::is_template(&node.config, current(files, &node.config)) {
        return template::revert(files, node);
    }
    let top = read(files, &node.config)?;
    let (_, version) = source(files, node, top.as_ref())?;
    let mut notes = Vec::new();
    let mut changes = Vec::new();
    let created = current(files, &node.config).is_some_and(|t| t.starts_with(CREATED_HEADER));
    let top_after = match top {
        None => None,
        Some(mut doc) => {
            restore_marked(doc.as_table_mut(), "imports");
            // In drop-in mode the top-level file only ever got the import.
            if node.drop_in.is_none() || version < 2 {
                remove_in_place(&mut doc, version, node);
            }
            restore_marked(doc.as_table_mut(), "version");
            let text = doc.to_string();
            // A file gpuplan created goes once nothing but its header is left.
            if created && (text.trim().is_empty() || text.trim() == CREATED_HEADER) { None } else { Some(text) }
        }
    };
    changes.push(change(files, &node.config, top_after));
    if let Some(drop_in) = &node.drop_in
        && drop_in != &node.config
    {
        if current(files, drop_in).is_some() {
            notes.push(format!("drop-in {drop_in} deleted"));
        }
        changes.push(change(files, drop_in, None));
    }
    Ok(Change { files: changes, notes })
}

fn change(files: &Files, path: &str, after: Option<String>) -> FileChange {
    FileChange { path: path.to_owned(), before: current(files, path).map(str::to_owned), after }
}

/// `<directory of the drop-in on the host>/*.toml`.
fn import_pattern(node: &NodeRuntime, drop_in: &str) -> String {
    let host = node.drop_in_host_path.as_deref().unwrap_or(drop_in);
    let dir = host.rsplit_once('/').map_or("", |(dir, _)| dir);
    format!("{dir}/*.toml")
}

/// The drop-in's text, generated whole.
fn drop_in_text(
    source: &DocumentMut,
    version: Version,
    inherited: &Table,
    node: &NodeRuntime,
) -> Result<String, Error> {
    let file = node.drop_in.as_deref().unwrap_or_default();
    let plugin = cri_plugin(version);
    let mut cri = match (version, table(source.as_table(), &["plugins", plugin])) {
        (2, Some(section)) => super::toml::fresh_copy(section),
        _ => Table::new(),
    };
    cri.set_implicit(true);
    {
        let containerd = ensure_table(&mut cri, &["containerd"], file)?;
        if node.set_as_default {
            containerd.insert("default_runtime_name", value(main_name(node)));
        } else if containerd.get("default_runtime_name").and_then(Item::as_str).is_some_and(|n| is_our_name(n, node)) {
            containerd.remove("default_runtime_name");
        }
        let runtimes = ensure_table(containerd, &["runtimes"], file)?;
        if version == 2 && !runtimes.contains_key("runc") {
            // containerd 1.x replaces its whole CRI section with the drop-in's, built-in `runc`
            // included: without it here, the CRI plugin fails to start (seen on 1.6 and 1.7).
            let mut runc = Table::new();
            runc.insert("runtime_type", value(RUNC_TYPE));
            runtimes.insert("runc", Item::Table(runc));
        }
        for binary in &node.runtimes {
            runtimes.insert(&binary.name, Item::Table(entry::entry(inherited, binary, version, node)));
        }
    }
    if node.enable_cdi {
        cri.insert("enable_cdi", value(true));
    }
    // Tables holding only sub-tables print no header of their own.
    if let Some(containerd) = table_mut(&mut cri, &["containerd"]) {
        let only_tables = containerd.iter().all(|(_, i)| !i.is_value());
        containerd.set_implicit(only_tables);
        if let Some(runtimes) = table_mut(containerd, &["runtimes"]) {
            runtimes.set_implicit(true);
        }
    }
    let only_tables = cri.iter().all(|(_, i)| !i.is_value());
    cri.set_implicit(only_tables);
    let mut doc = DocumentMut::new();
    doc.insert("version", value(version));
    let mut plugins = Table::new();
    plugins.set_implicit(true);
    plugins.insert(plugin, Item::Table(cri));
    doc.insert("plugins", Item::Table(plugins));
    Ok(format!("{DROP_IN_HEADER}\n{doc}"))
}

fn main_name(node: &NodeRuntime) -> &str {
    node.runtimes.first().map_or(node.runtime_name.as_str(), |r| r.name.as_str())
}

fn is_our_name(name: &str, node: &NodeRuntime) -> bool {
    node.runtimes.iter().any(|r| r.name == name) || RETIRED_RUNTIMES.contains(&name)
}

/// The top-level file with the import in it (a marked assignment), or created for it.
fn ensure_import(
    file: &str,
    text: Option<&str>,
    top: Option<DocumentMut>,
    pattern: &str,
    version: Version,
) -> Result<Option<String>, Error> {
    let created = top.is_none();
    let mut doc = top.unwrap_or_default();
    let root = doc.as_table_mut();
    let mut imports = match root.get("imports") {
        None => Array::new(),
        Some(item) => match item.as_array() {
            Some(array) if array.iter().any(|v| v.as_str() == Some(pattern)) => return Ok(text.map(str::to_owned)),
            Some(array) => array.clone(),
            None => {
                return Err(Error::NodeConfig {
                    file: file.into(),
                    span: None,
                    message: "`imports` must be an array of file patterns".into(),
                });
            }
        },
    };
    if root.is_empty() {
        set_marked(root, "version", Value::from(version));
    }
    imports.push(pattern);
    set_marked(root, "imports", Value::Array(imports));
    let text = doc.to_string();
    Ok(Some(if created { format!("{CREATED_HEADER}\n{text}") } else { text }))
}

/// The top-level file with gpuplan's runtimes, default and CDI switch in it.
fn in_place(
    top: Option<DocumentMut>,
    version: Version,
    inherited: &Table,
    node: &NodeRuntime,
    notes: &mut Vec<String>,
) -> Result<String, Error> {
    let created = top.is_none();
    let mut doc = top.unwrap_or_default();
    let file = node.config.as_str();
    if doc.as_table().is_empty() {
        set_marked(doc.as_table_mut(), "version", Value::from(version));
    }
    let plugin = cri_plugin(version);
    {
        let containerd = ensure_table(doc.as_table_mut(), &["plugins", plugin, "containerd"], file)?;
        if node.set_as_default {
            if version == 1 && node.use_legacy_config {
                containerd.insert("default_runtime", Item::Table(entry::legacy_default(node)));
            } else {
                set_marked(containerd, "default_runtime_name", Value::from(main_name(node)));
            }
        }
        let runtimes = ensure_table(containerd, &["runtimes"], file)?;
        for binary in &node.runtimes {
            let mut new = entry::entry(inherited, binary, version, node);
            match runtimes.get(&binary.name).and_then(Item::as_table) {
                Some(existing) if plain(&Item::Table(existing.clone())) == plain(&Item::Table(new.clone())) => {}
                Some(existing) => {
                    notes.push(format!("the existing `{}` runtime is replaced; revert removes it", binary.name));
                    style_like(&mut new, existing);
                    new.set_position(existing.position());
                    runtimes.insert(&binary.name, Item::Table(new));
                }
                None => {
                    if let Some(sibling) = runtimes.iter().find_map(|(_, i)| i.as_table()) {
                        style_like(&mut new, sibling);
                    }
                    runtimes.insert(&binary.name, Item::Table(new));
                }
            }
        }
    }
    if node.enable_cdi {
        let cdi = ensure_table(doc.as_table_mut(), &cdi_path(version), file)?;
        set_marked(cdi, "enable_cdi", Value::from(true));
    }
    let text = doc.to_string();
    Ok(if created { format!("{CREATED_HEADER}\n{text}") } else { text })
}

/// Remove what [`in_place`] adds.
fn remove_in_place(doc: &mut DocumentMut, version: Version, node: &NodeRuntime) {
    let plugin = cri_plugin(version);
    if let Some(containerd) = table_mut(doc.as_table_mut(), &["plugins", plugin, "containerd"]) {
        if let Some(runtimes) = containerd.get_mut("runtimes").and_then(Item::as_table_mut) {
            let ours: Vec<String> =
                runtimes.iter().map(|(k, _)| k.to_owned()).filter(|k| is_our_name(k, node)).collect();
            for name in ours {
                runtimes.remove(&name);
            }
        }
        if !restore_marked(containerd, "default_runtime_name")
            && containerd.get("default_runtime_name").and_then(Item::as_str).is_some_and(|n| is_our_name(n, node))
        {
            // Left by another installer: a default naming a removed runtime would stop
            // containerd from starting, so it goes (containerd falls back to runc).
            containerd.remove("default_runtime_name");
        }
        let legacy_ours = table(containerd, &["default_runtime", "options"]).is_some_and(|o| {
            entry::is_ours(o.get("BinaryName").and_then(Item::as_value), node)
                || entry::is_ours(o.get("Runtime").and_then(Item::as_value), node)
        });
        if legacy_ours {
            containerd.remove("default_runtime");
        }
    }
    if let Some(cdi) = table_mut(doc.as_table_mut(), &cdi_path(version)) {
        restore_marked(cdi, "enable_cdi");
    }
}

/// The binary a configured runtime runs (`options.BinaryName`); `None` when the runtime is not
/// configured, which is not an error.
pub fn binary_path(doc: &DocumentMut, version: Version, name: &str) -> Option<String> {
    table(doc.as_table(), &["plugins", cri_plugin(version), "containerd", "runtimes", name, "options"])?
        .get("BinaryName")?
        .as_str()
        .map(str::to_owned)
}
