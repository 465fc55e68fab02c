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
use super::super::toml::{Section, emit, ensure_table, reset, table, table_mut, tree};
use super::{DROP_IN_HEADER, RUNC_TYPE, Version, cri_plugin, entry, is_our_name, main_name};
use crate::error::Error;

/// The drop-in's text, generated whole from the source's CRI section (`source`): from the tree
/// it was read into when it was read quickly ([`Section::Tree`]), else through toml_edit's
/// types. Both give the same bytes (a test holds them together).
pub fn text(
    source: Option<Section>,
    version: Version,
    inherited: &Table,
    node: &NodeRuntime,
    notes: &mut Vec<String>,
) -> Result<String, Error> {
    let source = match source {
        Some(Section::Tree(mut section)) => match from_tree(&mut section, version, inherited, node, notes)? {
            Some(text) => return Ok(text),
            None => Some(section.to_edit()),
        },
        Some(Section::Edit(section)) => Some(section),
        None => None,
    };
    from_edit(source, version, inherited, node, notes)
}

/// The drop-in's text through toml_edit's types.
fn from_edit(
    source: Option<Table>,
    version: Version,
    inherited: &Table,
    node: &NodeRuntime,
    notes: &mut Vec<String>,
) -> Result<String, Error> {
    let file = node.drop_in.as_deref().unwrap_or_default();
    let kept_default = on_source(source.as_ref().and_then(|s| table(s, &["containerd"])), node, notes);
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
    fill(ensure_table(&mut cri, &["containerd"], file)?, version, inherited, node, kept_default, notes)?;
    Ok(finish(cri, version, node))
}

/// The drop-in's text from its CRI section filled in, through toml_edit's types.
fn finish(mut cri: Table, version: Version, node: &NodeRuntime) -> String {
    let plugin = cri_plugin(version);
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
    print(doc, plugin)
}

/// The drop-in's text from a CRI section read into a tree: only its `containerd` table, which
/// gpuplan edits, is made into toml_edit's types and back. `None`, with the section and the
/// notes as they were, when the entries to add hold what a tree does not (copied from a
/// source file only toml_edit could read).
fn from_tree(
    section: &mut tree::Table,
    version: Version,
    inherited: &Table,
    node: &NodeRuntime,
    notes: &mut Vec<String>,
) -> Result<Option<String>, Error> {
    let source_containerd = match section.get("containerd") {
        Some(tree::Node::Table(t)) => Some(t.to_edit()),
        // toml_edit's way reports it.
        Some(tree::Node::Value(_)) => return Ok(None),
        None => None,
    };
    if tree::Table::from_edit(inherited).is_none() {
        return Ok(None);
    }
    let kept_default = on_source(source_containerd.as_ref(), node, notes);
    let (mut cri, mut containerd) = match (version, source_containerd) {
        (2, containerd) => {
            let mut cri = std::mem::take(section);
            cri.reset_structure();
            let containerd = containerd.map(|mut c| {
                emit::reset_structure(&mut c);
                c
            });
            (cri, containerd.unwrap_or_else(implicit))
        }
        _ => (tree::Table::new(false), implicit()),
    };
    fill(&mut containerd, version, inherited, node, kept_default, notes)?;
    hide_headers_of(&mut containerd);
    // What `fill` adds is made of what `inherited` holds, which a tree holds (checked above);
    // were it not so, toml_edit's types print it.
    let Some(containerd) = tree::Table::from_edit(&containerd) else {
        let mut edit = cri.to_edit();
        edit.insert("containerd", Item::Table(containerd));
        return Ok(Some(finish(edit, version, node)));
    };
    cri.insert("containerd", tree::Node::Table(containerd));
    if node.enable_cdi {
        cri.insert("enable_cdi", tree::Node::Value(tree::Value::Boolean(true)));
    }
    let only_tables = cri.iter().all(|(_, n)| matches!(n, tree::Node::Table(_)));
    cri.implicit = only_tables;
    let mut plugins = tree::Table::new(true);
    plugins.push(tree::Key::new(cri_plugin(version)), tree::Node::Table(cri));
    let mut doc = tree::Table::new(false);
    doc.push(tree::Key::new("version"), tree::Node::Value(tree::Value::Integer(version)));
    doc.push(tree::Key::new("plugins"), tree::Node::Table(plugins));
    let mut text = String::with_capacity(4096);
    text.push_str(DROP_IN_HEADER);
    text.push('\n');
    emit::tree(&mut text, &doc);
    Ok(Some(text))
}

fn implicit() -> Table {
    let mut t = Table::new();
    t.set_implicit(true);
    t
}

/// The notes on what the source's `containerd` table holds already, and the default runtime
/// it names that gpuplan keeps (set-as-default off).
fn on_source(source_containerd: Option<&Table>, node: &NodeRuntime, notes: &mut Vec<String>) -> Option<String> {
    for binary in &node.runtimes {
        if source_containerd.and_then(|c| table(c, &["runtimes", &binary.name])).is_some() {
            notes.push(format!(
                "the config already defines a `{}` runtime: gpuplan's in the drop-in takes its place while applied",
                binary.name
            ));
        }
    }
    let default_name = source_containerd.and_then(|c| c.get("default_runtime_name")).and_then(Item::as_str);
    default_name.filter(|n| !node.set_as_default && is_our_name(n, node)).map(str::to_owned)
}

/// gpuplan's runtimes and default into the drop-in's `containerd` table.
fn fill(
    containerd: &mut Table,
    version: Version,
    inherited: &Table,
    node: &NodeRuntime,
    kept_default: Option<String>,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let file = node.drop_in.as_deref().unwrap_or_default();
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
    Ok(())
}

/// Tables holding only sub-tables print no header of their own.
fn hide_headers(cri: &mut Table) {
    if let Some(containerd) = table_mut(cri, &["containerd"]) {
        hide_headers_of(containerd);
    }
    let only_tables = cri.iter().all(|(_, i)| !i.is_value());
    cri.set_implicit(only_tables);
}

/// [`hide_headers`] for the `containerd` table and the `runtimes` in it.
fn hide_headers_of(containerd: &mut Table) {
    let only_tables = containerd.iter().all(|(_, i)| !i.is_value());
    containerd.set_implicit(only_tables);
    if let Some(runtimes) = table_mut(containerd, &["runtimes"]) {
        runtimes.set_implicit(true);
    }
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

#[cfg(test)]
mod tests {
    use toml_edit::{InlineTable, Value};

    use super::super::super::NodeRuntime;
    use super::super::super::toml::{Text, tests::configs};
    use super::*;

    /// The defaults' containerd change, in drop-in mode, set up as asked.
    fn node(set_as_default: bool, enable_cdi: bool, annotation_prefixes: &[&str]) -> NodeRuntime {
        let config = crate::resolve(crate::defaults().expect("defaults")).expect("config");
        NodeRuntime {
            drop_in: Some("/etc/containerd/conf.d/99-nvidia.toml".into()),
            set_as_default,
            cdi: enable_cdi,
            enable_cdi,
            annotation_prefixes: annotation_prefixes.iter().map(|p| (*p).to_owned()).collect(),
            ..crate::node_runtime(&config).0
        }
    }

    /// The drop-in (or the error) and the notes, from the section as given and from the same
    /// section in toml_edit's types.
    fn both(section: tree::Table, version: Version, inherited: &Table, node: &NodeRuntime) -> [String; 2] {
        let slow = Section::Edit(section.to_edit());
        [Section::Tree(section), slow].map(|section| {
            let mut notes = Vec::new();
            let text = text(Some(section), version, inherited, node, &mut notes);
            format!("{text:?}\n{notes:?}")
        })
    }

    #[test]
    fn a_section_read_quickly_gives_the_drop_in_toml_edit_gives() {
        let mut compared = 0;
        let mut inline = Table::new();
        inline.insert("options", Item::Value(Value::InlineTable(InlineTable::from_iter([("SystemdCgroup", true)]))));
        for (name, config) in configs() {
            for version in [2, 3] {
                let Ok(mut read) = Text::read(&name, &config) else { continue };
                let containerd = read.item(&["plugins", cri_plugin(version), "containerd"]);
                let inherited = entry::inherit_from(
                    containerd.as_deref().and_then(Item::as_table),
                    version,
                    &node(true, true, &[]),
                );
                let Some(Section::Tree(section)) = read.take_table(&["plugins", cri_plugin(version)]) else { continue };
                let nodes = [node(true, true, &[]), node(false, false, &["cdi.k8s.io/"]), node(false, true, &[])];
                for node in &nodes {
                    // An inherited table a tree cannot hold (copied from a source file only
                    // toml_edit could read) goes toml_edit's way whole.
                    for inherited in [&inherited.table, &inline] {
                        let [quick, slow] = both(section.clone(), version, inherited, node);
                        assert_eq!(quick, slow, "{name}, version {version}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared >= 60, "compared {compared}");
    }
}
