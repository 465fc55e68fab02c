//! containerd's drop-in: gpuplan's runtimes in a file of their own, which the top-level config
//! imports.
//!
//! Input: the CRI section of the config runtimes are copied from (taken out of its document),
//! its version, the runtime settings to inherit and the [`NodeRuntime`]. Output: the drop-in's
//! text. For version 2 it repeats the whole CRI section (containerd 1.x replaces plugin
//! sections from imports), with gpuplan's runtimes, default and CDI switch in it; for version 3
//! and later it holds only gpuplan's entries (containerd 2.x merges imports deeply). gpuplan
//! writes the file whole, so none of the config's formatting is kept: every value is printed in
//! its default form ([`emit`]).

use toml_edit::{DocumentMut, Item, Table, value};

use super::super::NodeRuntime;
use super::super::toml::{emit, ensure_table, reset, table, table_mut};
use super::{DROP_IN_HEADER, RUNC_TYPE, Version, cri_plugin, entry, is_our_name, main_name};
use crate::error::Error;

/// The drop-in's text, generated whole from the source's CRI section (`source`).
pub fn text(
    source: Option<Table>,
    version: Version,
    inherited: &Table,
    node: &NodeRuntime,
    notes: &mut Vec<String>,
) -> Result<String, Error> {
    let file = node.drop_in.as_deref().unwrap_or_default();
    let plugin = cri_plugin(version);
    let source_containerd = source.as_ref().and_then(|s| table(s, &["containerd"]));
    for binary in &node.runtimes {
        if source_containerd.and_then(|c| table(c, &["runtimes", &binary.name])).is_some() {
            notes.push(format!(
                "the config already defines a `{}` runtime: gpuplan's in the drop-in takes its place while applied",
                binary.name
            ));
        }
    }
    let default_name = source_containerd.and_then(|c| c.get("default_runtime_name")).and_then(Item::as_str);
    let kept_default = default_name.filter(|n| !node.set_as_default && is_our_name(n, node)).map(str::to_owned);
    // The drop-in is printed with every value in its default form (see `print`): only the
    // copied section's structure is reset here.
    let mut cri = match (version, source) {
        (2, Some(mut section)) => {
            emit::reset_structure(&mut section);
            section
        }
        _ => Table::new(),
    };
    cri.set_implicit(true);
    {
        let containerd = ensure_table(&mut cri, &["containerd"], file)?;
        if node.set_as_default {
            containerd.insert("default_runtime_name", value(main_name(node)));
        } else if let Some(name) = kept_default {
            notes.push(format!(
                "the config makes `{name}` the default runtime; set-as-default is off, so gpuplan leaves the default as it is"
            ));
        }
        let runtimes = ensure_table(containerd, &["runtimes"], file)?;
        if version == 2 && !runtimes.contains_key("runc") {
            notes.push("the drop-in defines `runc` as containerd does by default: the config defines no `runc`, and containerd 1.x takes the drop-in's CRI section whole".into());
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
    hide_headers(&mut cri);
    let mut doc = DocumentMut::new();
    doc.insert("version", value(version));
    let mut plugins = Table::new();
    plugins.set_implicit(true);
    plugins.insert(plugin, Item::Table(cri));
    doc.insert("plugins", Item::Table(plugins));
    Ok(print(doc, plugin))
}

/// Tables holding only sub-tables print no header of their own.
fn hide_headers(cri: &mut Table) {
    if let Some(containerd) = table_mut(cri, &["containerd"]) {
        let only_tables = containerd.iter().all(|(_, i)| !i.is_value());
        containerd.set_implicit(only_tables);
        if let Some(runtimes) = table_mut(containerd, &["runtimes"]) {
            runtimes.set_implicit(true);
        }
    }
    let only_tables = cri.iter().all(|(_, i)| !i.is_value());
    cri.set_implicit(only_tables);
}

/// The drop-in's text: its header line, then the document with every value in its default
/// form, no comments, tables in the order they nest ([`emit::fresh`]). An array of tables
/// copied from the config (containerd's CRI section has none) is printed by toml_edit instead,
/// from the section with its formatting reset whole.
fn print(mut doc: DocumentMut, plugin: &str) -> String {
    let mut text = String::with_capacity(4096);
    text.push_str(DROP_IN_HEADER);
    text.push('\n');
    if emit::fresh(&mut text, doc.as_table_mut()) {
        return text;
    }
    if let Some(cri) = table_mut(doc.as_table_mut(), &["plugins", plugin]) {
        reset(cri);
        hide_headers(cri);
    }
    text.push_str(&doc.to_string());
    text
}
