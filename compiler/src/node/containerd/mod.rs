//! containerd: what `config.toml` (and gpuplan's drop-in) become, and back.
//!
//! Input: the current text of the top-level config, the drop-in, and an optional source file,
//! and the [`NodeRuntime`]. Output: an [`Edit`]: what gpuplan writes.
//!
//! - **Version** comes from the file on disk: no `version` key means 1, an empty (or missing)
//!   file means 2 (1 with `CONTAINERD_USE_LEGACY_CONFIG`). Versions 1 to 4 are known; any
//!   other is refused, as containerd refuses it. The CRI plugin path per version is written
//!   once, in [`CRI_PLUGINS`].
//! - **Version 2 and later with a drop-in path**: gpuplan's runtimes go into the drop-in, and
//!   the top-level file gains `imports = ["<drop-in dir>/*.toml"]` unless it has it already.
//!   For version 2 the drop-in repeats the whole CRI section (containerd 1.x replaces plugin
//!   sections from imports); for version 3 and later it holds only gpuplan's entries
//!   (containerd 2.x merges imports deeply).
//! - **Version 1, or no drop-in path**: the top-level file is edited in place (upstream writes
//!   a version-1 drop-in that containerd never reads).
//! - **Go-template configs** (k3s/RKE2 `config.toml.tmpl`, MicroK8s `containerd-template.toml`)
//!   are never parsed as TOML: see [`template`].
//!
//! The engine builds on the text before gpuplan (see [`super`]); what it replaces there — a
//! runtime of the same name, the default runtime — is said in the notes, and gpuplan's record
//! keeps it for the revert. A byte-order mark, CRLF line ends and a missing final newline
//! stay ([`Text`]).

mod drop_in;
mod entry;
pub mod template;

pub use entry::{entry as runtime_entry, inherit};

use toml_edit::{Array, DocumentMut, Item, Table, Value};

use super::toml::{Text, ensure_table, plain, set_value, style_like, table};
use super::{Edit, FileChange, Files, NodeRuntime, current};
use crate::error::Error;

/// A containerd config version.
pub type Version = i64;

/// The CRI plugin's id by config version (each entry applies from that version on): the one
/// place containerd's plugin paths are written.
pub const CRI_PLUGINS: [(Version, &str); 3] =
    [(1, "cri"), (2, "io.containerd.grpc.v1.cri"), (3, "io.containerd.cri.v1.runtime")];

/// containerd's built-in `runc` runtime type.
const RUNC_TYPE: &str = "io.containerd.runc.v2";

/// The config versions gpuplan knows (containerd 2.3 introduced 4; it keeps version 3's
/// CRI plugin id).
pub const VERSIONS: std::ops::RangeInclusive<Version> = 1..=4;

/// First line of gpuplan's drop-in.
pub const DROP_IN_HEADER: &str =
    "# Managed by gpuplan: NVIDIA runtimes for containerd. A revert gives back what was here before.";
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

/// A file's values ([`Text::read`], quicker than parsing it for printing): the drop-in mode
/// prints none of the files it reads (the import goes into the text, the drop-in is printed
/// afresh), and an edit in place parses for printing only what it edits ([`in_place`]).
fn read(files: &Files, path: &str) -> Result<Option<Text>, Error> {
    current(files, path).map(|text| Text::read(path, text)).transpose()
}

/// The config version of a document (see the module docs).
pub fn version(doc: &DocumentMut, file: &str, node: &NodeRuntime) -> Result<Version, Error> {
    version_of(doc.as_table().is_empty(), doc.get("version"), file, node)
}

/// The config version of a file (none: empty).
fn text_version(text: Option<&Text>, file: &str, node: &NodeRuntime) -> Result<Version, Error> {
    let empty = text.is_none_or(Text::is_empty);
    version_of(empty, text.and_then(|t| t.item(&["version"])).as_deref(), file, node)
}

/// The config version of a document that is `empty` or holds `version`.
fn version_of(empty: bool, version: Option<&Item>, file: &str, node: &NodeRuntime) -> Result<Version, Error> {
    if empty {
        return Ok(if node.use_legacy_config { 1 } else { 2 });
    }
    let version = match version {
        None => return Ok(1),
        Some(item) => item.as_integer().ok_or_else(|| Error::NodeConfig {
            file: file.into(),
            span: None,
            message: format!("`version` must be an integer, found {}", item.to_string().trim()),
        })?,
    };
    if !VERSIONS.contains(&version) {
        return Err(Error::NodeConfig {
            file: file.into(),
            span: None,
            message: format!(
                "config version {version} is not one containerd knows (gpuplan knows {} to {}): the file is left as it is",
                VERSIONS.start(),
                VERSIONS.end()
            ),
        });
    }
    Ok(version)
}

/// Add gpuplan's runtimes to the text before gpuplan.
pub fn patch(files: &Files, node: &NodeRuntime) -> Result<Edit, Error> {
    if template::is_template(&node.config, current(files, &node.config)) {
        return template::patch(files, node);
    }
    // Read for its values; the file edited in place (no drop-in path, or a version-1 config)
    // is parsed for printing where it is edited ([`in_place`]).
    let mut top = read(files, &node.config)?;
    // The document runtime options are copied from: the source file if there is one, else the
    // top-level file itself (borrowed, not copied: it can be most of the file).
    let mut separate = match &node.source {
        Some(path) => Some(read(files, path)?),
        None => None,
    };
    let (source, source_file) = match (&separate, &node.source) {
        (Some(text), Some(path)) => (text.as_ref(), path.as_str()),
        _ => (top.as_ref(), node.config.as_str()),
    };
    let version = text_version(source, source_file, node)?;
    let containerd = source.and_then(|t| t.item(&["plugins", cri_plugin(version), "containerd"]));
    let inherited = entry::inherit_from(containerd.as_deref().and_then(Item::as_table), version, node);
    let mut notes = vec![match &inherited.from {
        Some(name) => format!("config version {version}; runtime settings copied from `{name}`"),
        None => format!("config version {version}; no runc/crun runtime to copy, using the toolkit's defaults"),
    }];
    match &node.drop_in {
        Some(drop_in) if version >= 2 => {
            let top_after = ensure_import(
                &node.config,
                current(files, &node.config),
                top.as_mut(),
                &import_pattern(node, drop_in),
                version,
            );
            // The import touches only the top-level keys, so the CRI section can now be moved
            // out of the document it was read from rather than copied. A drop-in that cannot be
            // made is reported before an import that cannot be added, as it always was.
            let source = match (&mut separate, &mut top) {
                (Some(Some(text)), _) | (None, Some(text)) => text.take_table(&["plugins", cri_plugin(version)]),
                _ => None,
            };
            let text = drop_in::text(source, version, &inherited.table, node, &mut notes)?;
            let top_after = top_after?;
            notes.push(if version == 2 {
                format!("drop-in {drop_in} repeats the whole CRI section: containerd 1.x replaces plugin sections from imports")
            } else {
                format!("drop-in {drop_in} holds only gpuplan's entries: containerd 2.x merges imports deeply")
            });
            Ok(Edit { files: vec![change(files, &node.config, top_after), change(files, drop_in, Some(text))], notes })
        }
        drop_in => {
            if let (Some(path), 1) = (drop_in, version) {
                notes.push(format!(
                    "version 1 config: edited in place; containerd 1.x would not read {path} (upstream writes it anyway)"
                ));
            }
            let after = in_place(top, version, &inherited.table, node, &mut notes)?;
            Ok(Edit { files: vec![change(files, &node.config, Some(after))], notes })
        }
    }
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

fn main_name(node: &NodeRuntime) -> &str {
    node.runtimes.first().map_or(node.runtime_name.as_str(), |r| r.name.as_str())
}

fn is_our_name(name: &str, node: &NodeRuntime) -> bool {
    node.runtimes.iter().any(|r| r.name == name)
}

/// The top-level file with the import in it, or created for it.
fn ensure_import(
    file: &str,
    text: Option<&str>,
    top: Option<&mut Text>,
    pattern: &str,
    version: Version,
) -> Result<Option<String>, Error> {
    let created = top.is_none();
    let mut new = None;
    let top = match top {
        Some(top) => top,
        None => new.insert(Text::parse(file, "")?),
    };
    let mut imports = match top.item(&["imports"]).as_deref() {
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
    imports.push(pattern);
    let imports = Value::Array(imports);
    if let Some(text) = top.with_root_key("imports", &imports) {
        return Ok(Some(text));
    }
    top.make_printable(file)?;
    let root = top.doc.as_table_mut();
    if root.is_empty() {
        set_value(root, "version", Value::from(version));
    }
    set_value(root, "imports", imports);
    let text = top.render();
    Ok(Some(if created { format!("{CREATED_HEADER}\n{text}") } else { text }))
}

/// The top-level file with gpuplan's runtimes, default and CDI switch in it. Where the tables
/// edited are one stretch of the file, only they are parsed and printed
/// ([`Text::with_section`]); else the whole file is.
fn in_place(
    top: Option<Text>,
    version: Version,
    inherited: &Table,
    node: &NodeRuntime,
    notes: &mut Vec<String>,
) -> Result<String, Error> {
    if let Some(spliced) = top.as_ref().and_then(|top| in_section(top, version, inherited, node)) {
        let (text, found) = spliced?;
        notes.extend(found);
        return Ok(text);
    }
    in_whole(top, version, inherited, node, notes)
}

/// [`in_place`] through the tables it edits alone: the CRI plugin's `containerd` tables, or
/// with the CDI switch, which is the CRI plugin's own key, all of the plugin's tables. `None`
/// when they are not one stretch of the file.
fn in_section(
    top: &Text,
    version: Version,
    inherited: &Table,
    node: &NodeRuntime,
) -> Option<Result<(String, Vec<String>), Error>> {
    let file = node.config.as_str();
    let (cri, containerd) = (cdi_path(version), ["plugins", cri_plugin(version), "containerd"]);
    let path: &[&str] = if node.enable_cdi { &cri } else { &containerd };
    top.with_section(path, file, |doc| {
        let mut notes = Vec::new();
        edit(doc, version, inherited, node, &mut notes)?;
        Ok(notes)
    })
}

/// [`in_place`] through the whole file.
fn in_whole(
    top: Option<Text>,
    version: Version,
    inherited: &Table,
    node: &NodeRuntime,
    notes: &mut Vec<String>,
) -> Result<String, Error> {
    let file = node.config.as_str();
    let created = top.is_none();
    let mut top = match top {
        Some(mut top) => {
            top.make_printable(file)?;
            top
        }
        None => Text::parse(file, "")?,
    };
    if !top.exact() {
        notes.push(format!("{file} cannot be reproduced byte for byte (mixed line ends?): other lines may change"));
    }
    if top.doc.as_table().is_empty() {
        set_value(top.doc.as_table_mut(), "version", Value::from(version));
    }
    edit(&mut top.doc, version, inherited, node, notes)?;
    let text = top.render();
    Ok(if created { format!("{CREATED_HEADER}\n{text}") } else { text })
}

/// The edit in place: gpuplan's runtimes and default into the CRI plugin's `containerd`
/// table, then the CDI switch.
fn edit(
    doc: &mut DocumentMut,
    version: Version,
    inherited: &Table,
    node: &NodeRuntime,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let file = node.config.as_str();
    let containerd = ensure_table(doc.as_table_mut(), &["plugins", cri_plugin(version), "containerd"], file)?;
    add_runtimes(containerd, inherited, version, node, file, notes)?;
    if node.enable_cdi {
        let cdi = ensure_table(doc.as_table_mut(), &cdi_path(version), file)?;
        set_value(cdi, "enable_cdi", Value::from(true));
    }
    Ok(())
}

/// gpuplan's runtimes, and its default, into the CRI plugin's `containerd` table.
fn add_runtimes(
    containerd: &mut Table,
    inherited: &Table,
    version: Version,
    node: &NodeRuntime,
    file: &str,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    if node.set_as_default {
        if version == 1 && node.use_legacy_config {
            if containerd.contains_key("default_runtime") {
                notes.push("the `default_runtime` table is replaced by one running the NVIDIA runtime".into());
            }
            containerd.insert("default_runtime", Item::Table(entry::legacy_default(node)));
        } else {
            let former = containerd.get("default_runtime_name").and_then(Item::as_str).map(str::to_owned);
            if set_value(containerd, "default_runtime_name", Value::from(main_name(node))) {
                notes.push(match former {
                    Some(name) => format!("the default runtime changes from `{name}` to `{}`", main_name(node)),
                    None => format!("`{}` becomes the default runtime", main_name(node)),
                });
            }
        }
    } else if let Some(name) =
        containerd.get("default_runtime_name").and_then(Item::as_str).filter(|n| is_our_name(n, node))
    {
        notes.push(format!(
            "the config makes `{name}` the default runtime; set-as-default is off, so gpuplan leaves the default as it is"
        ));
    }
    let runtimes = ensure_table(containerd, &["runtimes"], file)?;
    for binary in &node.runtimes {
        let mut new = entry::entry(inherited, binary, version, node);
        match runtimes.get(&binary.name).and_then(Item::as_table) {
            Some(existing) if plain(&Item::Table(existing.clone())) == plain(&Item::Table(new.clone())) => {}
            Some(existing) => {
                notes.push(format!(
                    "the existing `{}` runtime is replaced by gpuplan's; a revert puts it back as it is",
                    binary.name
                ));
                style_like(&mut new, existing);
                *new.decor_mut() = existing.decor().clone();
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
    Ok(())
}

/// The binary a configured runtime runs (`options.BinaryName`); `None` when the runtime is not
/// configured, which is not an error.
pub fn binary_path(doc: &DocumentMut, version: Version, name: &str) -> Option<String> {
    table(doc.as_table(), &["plugins", cri_plugin(version), "containerd", "runtimes", name, "options"])?
        .get("BinaryName")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
