//! A node change built on gpuplan's record: [`apply`] and [`revert`] (see [`super`] for what
//! they promise).
//!
//! Input: the node's files and gpuplan's record among them, and the [`NodeRuntime`]. Output: a
//! [`Change`] — each file's text before and after, the record's, and the writes in the order
//! that keeps the node consistent after any of them. The engines only say what gpuplan writes,
//! from the text before gpuplan; this module decides what that text is (the record), what is
//! gpuplan's to replace (a file it did not write is refused or taken over), and in which order
//! the writes go.

use std::borrow::Cow;
use std::sync::Arc;

use super::record::{self, Found, Record, Role, Syntax};
use super::runtime::CrioMode;
use super::{
    Change, Edit, FileChange, Files, Foreign, NodeRuntime, RuntimeKind, Step, containerd, crio, current, docker,
};
use crate::error::Error;

/// Where gpuplan keeps its record for a node: beside the top-level config, `<dir>/.<name>.gpuplan`.
pub fn record_path(node: &NodeRuntime) -> String {
    match node.config.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/.{name}.gpuplan"),
        None => format!(".{}.gpuplan", node.config),
    }
}

/// The paths whose current text [`apply`] and [`revert`] need, for the caller to read: the
/// engine's files, then the record.
pub fn paths(node: &NodeRuntime) -> Vec<String> {
    let mut paths = match node.runtime {
        RuntimeKind::Containerd => containerd::paths(node),
        RuntimeKind::Crio => crio::paths(node),
        RuntimeKind::Docker => docker::paths(node),
    };
    paths.push(record_path(node));
    paths
}

/// Add gpuplan's runtimes to the node's configuration, building on the text before gpuplan.
pub fn apply(files: &Files, node: &NodeRuntime, foreign: Foreign) -> Result<Change, Error> {
    let record_file = record_path(node);
    let old = read_record(files, node)?;
    if !node.configure {
        let mut change = unchanged(files, node);
        change.notes.push("the runtime configuration is left alone (NRI plugin mode or NO_RUNTIME_CONFIG)".into());
        if old.is_some() {
            change.notes.push(format!("gpuplan's earlier change stays until it is reverted ({record_file})"));
        }
        return Ok(change);
    }
    // The text gpuplan builds on: the files as they are, unless its record says otherwise.
    let mut base = Cow::Borrowed(files);
    let mut notes = Vec::new();
    let mut owned = Vec::new();
    for entry in old.iter().flat_map(|r| &r.entries) {
        let path = local_path(node, entry.role).unwrap_or_default();
        let current = current(files, &path);
        let (text, found) =
            entry.take_out(current, &marks(node), syntax(node, entry.role, current), &path, &record_file)?;
        match found {
            Found::Exact => owned.push(entry.role),
            Found::Before => {}
            Found::Merged => {
                owned.push(entry.role);
                notes.push(format!("{path} was edited since gpuplan wrote it: the edits are kept"));
            }
            Found::Gone => notes.push(format!(
                "{path} no longer holds gpuplan's change: it is taken as it is now, as the text gpuplan builds on"
            )),
        }
        base.to_mut().insert(path, text);
    }
    let edit = engine(&base, node)?;
    notes.extend(edit.notes);
    let mut journal = Vec::new();
    let mut changes = Vec::new();
    for f in edit.files {
        let Some(role) = role_of(node, &f.path) else { continue };
        let now = current(files, &f.path).map(str::to_owned);
        if f.before != f.after {
            if matches!(role, Role::DropIn | Role::Hook) && f.before.is_some() && !owned.contains(&role) {
                match foreign {
                    Foreign::TakeOver => notes.push(format!(
                        "{} was not written by gpuplan: it is taken over, and a revert puts it back as it is now",
                        f.path
                    )),
                    Foreign::Refuse => return Err(foreign_file(&f.path, f.before.as_deref(), &record_file)),
                }
            }
            let Some(after) = f.after.clone() else {
                return Err(Error::NodeConfig {
                    file: Arc::from(f.path.as_str()),
                    span: None,
                    message: "the engine would delete a file while adding gpuplan's runtimes".into(),
                });
            };
            // While the change is written, the file may still hold what it holds now.
            let previous = now.as_ref().filter(|t| Some(*t) != f.before.as_ref() && **t != after).cloned();
            journal.push(record::Entry {
                role,
                path: host_path(node, role),
                before: f.before.clone(),
                after,
                previous,
            });
        }
        changes.push(FileChange { before: now, ..f });
    }
    let journal = Record { entries: journal };
    let record_now = current(files, &record_file).map(str::to_owned);
    if changes.iter().all(FileChange::is_unchanged) {
        // Nothing to write. A record that still describes gpuplan's change stays as it is; one
        // a stopped writer left with its in-flight texts is settled.
        let after = match &old {
            _ if journal.entries.is_empty() => None,
            Some(old) if old.entries.iter().any(|e| e.previous.is_some()) => Some(old.settled().render()),
            _ => record_now.clone(),
        };
        let record = FileChange { path: record_file, before: record_now, after };
        let steps = step(&record).into_iter().collect();
        return Ok(Change { files: changes, record, notes, steps });
    }
    let (steps, record_after) = if journal.entries.is_empty() {
        (revert_steps(&changes, &node.config, &record_file, record_now.as_deref()), None)
    } else {
        // The record holds every file's text before and after: rendered once each way.
        let journal_text = journal.render();
        let settled = match journal.entries.iter().any(|e| e.previous.is_some()) {
            true => journal.settled().render(),
            false => journal_text.clone(),
        };
        let steps =
            apply_steps(&changes, &node.config, journal_text, settled.clone(), &record_file, record_now.as_deref());
        (steps, Some(settled))
    };
    Ok(Change {
        files: changes,
        record: FileChange { path: record_file, before: record_now, after: record_after },
        notes,
        steps,
    })
}

/// The refusal of a file gpuplan would replace but did not write.
fn foreign_file(path: &str, text: Option<&str>, record_file: &str) -> Error {
    let looks_ours = text.is_some_and(|t| t.starts_with(containerd::DROP_IN_HEADER) || t.starts_with(crio::MANAGED));
    Error::NodeOwnership {
        file: Arc::from(path),
        span: None,
        message: "a file gpuplan did not write is where gpuplan writes its own, and gpuplan would replace it".into(),
        hint: Some(format!(
            "move it away (its settings can go in another file of the directory), or let gpuplan take it over and put it back on revert (`gpuplan node apply --take-over`, or the node agent's GPUPLAN_TAKE_OVER=true){}",
            if looks_ours {
                format!(
                    "; it looks like one gpuplan wrote, but gpuplan has no record of it ({record_file} is missing or does not name it)"
                )
            } else {
                String::new()
            }
        )),
    }
}

/// Give back what gpuplan's record says was there before it, keeping edits made since.
/// Without a record, nothing is touched.
pub fn revert(files: &Files, node: &NodeRuntime) -> Result<Change, Error> {
    let record_file = record_path(node);
    let Some(record) = read_record(files, node)? else {
        let mut change = unchanged(files, node);
        change.notes.push(format!("gpuplan has no record of changing this node ({record_file}): nothing to revert"));
        return Ok(change);
    };
    let mut notes = Vec::new();
    let mut changes = Vec::new();
    for entry in &record.entries {
        let path = local_path(node, entry.role).unwrap_or_default();
        let now = current(files, &path);
        // A Docker revert reloads dockerd with this form of the original first (see there).
        let reload = (node.runtime == RuntimeKind::Docker).then(|| docker::reload_form(entry.before.as_deref()));
        let also: Vec<&str> = reload.iter().flatten().map(String::as_str).collect();
        let syntax = syntax(node, entry.role, now);
        let (after, found) = entry.take_out_known(now, &also, &marks(node), syntax, &path, &record_file)?;
        notes.push(match (found, &after) {
            (Found::Exact, Some(_)) => format!("{path}: restored as it was before gpuplan"),
            (Found::Exact, None) => format!("{path}: deleted, gpuplan created it"),
            (Found::Before, _) => format!("{path}: already as it was before gpuplan"),
            (Found::Merged, _) => format!("{path}: gpuplan's change taken out, the edits made since kept"),
            (Found::Gone, _) => format!("{path} no longer holds gpuplan's change: left as it is"),
        });
        changes.push(FileChange { path, before: now.map(str::to_owned), after });
    }
    let record_now = current(files, &record_file).map(str::to_owned);
    let steps = revert_steps(&changes, &node.config, &record_file, record_now.as_deref());
    Ok(Change {
        files: changes,
        record: FileChange { path: record_file, before: record_now, after: None },
        notes,
        steps,
    })
}

/// Apply order: the record first (holding, while the change is written, the texts the files
/// may still have), then the files pointed at (drop-in, hook), then the top-level config that
/// points at them, then the record once more without those texts.
/// `journal` is the record's text while the change is written, `settled` once it is.
fn apply_steps(
    changes: &[FileChange],
    config: &str,
    journal: String,
    settled: String,
    record_file: &str,
    record_now: Option<&str>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let last = (settled != journal).then_some(settled);
    if record_now != Some(journal.as_str()) {
        steps.push(Step { path: record_file.to_owned(), text: Some(journal) });
    }
    let (top, others): (Vec<&FileChange>, Vec<&FileChange>) = changes.iter().partition(|f| f.path == config);
    steps.extend(others.into_iter().chain(top).filter_map(step));
    if let Some(settled) = last {
        steps.push(Step { path: record_file.to_owned(), text: Some(settled) });
    }
    steps
}

/// Revert order: the top-level config first (so it stops pointing at the drop-in), then the
/// other files, then the record.
fn revert_steps(changes: &[FileChange], config: &str, record_file: &str, record_now: Option<&str>) -> Vec<Step> {
    let (top, others): (Vec<&FileChange>, Vec<&FileChange>) = changes.iter().partition(|f| f.path == config);
    let mut steps: Vec<Step> = top.into_iter().chain(others).filter_map(step).collect();
    if record_now.is_some() {
        steps.push(Step { path: record_file.to_owned(), text: None });
    }
    steps
}

fn step(f: &FileChange) -> Option<Step> {
    (!f.is_unchanged()).then(|| Step { path: f.path.clone(), text: f.after.clone() })
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The engine's files, unchanged.
fn unchanged(files: &Files, node: &NodeRuntime) -> Change {
    let record_file = record_path(node);
    let changes = paths(node)
        .into_iter()
        .filter(|p| role_of(node, p).is_some())
        .map(|path| {
            let text = current(files, &path).map(str::to_owned);
            FileChange { path, before: text.clone(), after: text }
        })
        .collect();
    let text = current(files, &record_file).map(str::to_owned);
    Change {
        files: changes,
        record: FileChange { path: record_file, before: text.clone(), after: text },
        notes: Vec::new(),
        steps: Vec::new(),
    }
}

/// The engine's edit of the text gpuplan builds on.
fn engine(base: &Files, node: &NodeRuntime) -> Result<Edit, Error> {
    match node.runtime {
        RuntimeKind::Containerd => containerd::patch(base, node),
        RuntimeKind::Crio => crio::patch(base, node),
        RuntimeKind::Docker => docker::patch(base, node),
    }
}

/// The record on the node, checked against the node's settings.
fn read_record(files: &Files, node: &NodeRuntime) -> Result<Option<Record>, Error> {
    let path = record_path(node);
    let Some(text) = current(files, &path) else { return Ok(None) };
    let record = Record::parse(&path, text)?;
    for entry in &record.entries {
        let now = local_path(node, entry.role).map(|_| host_path(node, entry.role));
        let same = match (entry.role, &now) {
            (_, None) => false,
            (Role::Config, Some(_)) => true,
            (Role::DropIn, Some(now)) => *now == entry.path,
            (Role::Hook, Some(now)) => base_name(now) == base_name(&entry.path),
        };
        if !same {
            let what = match entry.role {
                Role::Config => "config",
                Role::DropIn => "drop-in",
                Role::Hook => "hook",
            };
            return Err(Error::NodeOwnership {
                file: Arc::from(path.as_str()),
                span: None,
                message: format!(
                    "gpuplan's record says it wrote the {what} {}, but the settings now name {}",
                    entry.path,
                    now.map_or_else(|| format!("no {what}"), |p| p.clone())
                ),
                hint: Some(format!(
                    "revert with the settings that wrote it first (e.g. `gpuplan node revert --drop-in {}`), then apply the new ones",
                    if entry.role == Role::DropIn { entry.path.as_str() } else { "..." }
                )),
            });
        }
    }
    Ok(Some(record))
}

/// Which file of the node a path is, if gpuplan writes it.
fn role_of(node: &NodeRuntime, path: &str) -> Option<Role> {
    [Role::Config, Role::DropIn, Role::Hook].into_iter().find(|r| local_path(node, *r).as_deref() == Some(path))
}

/// The file a role is, as the node's settings name it here.
fn local_path(node: &NodeRuntime, role: Role) -> Option<String> {
    let hook = node.runtime == RuntimeKind::Crio && node.crio_mode == CrioMode::Hook;
    match role {
        Role::Config => Some(node.config.clone()),
        Role::DropIn if hook || node.runtime == RuntimeKind::Docker => None,
        Role::DropIn => node.drop_in.clone().filter(|d| *d != node.config),
        Role::Hook => hook.then(|| crio::hook_path(node)),
    }
}

/// A role's path on the host, as far as it is known here (the drop-in's is given apart from
/// where it is mounted).
fn host_path(node: &NodeRuntime, role: Role) -> String {
    match role {
        Role::DropIn => node.drop_in_host_path.clone().or_else(|| node.drop_in.clone()).unwrap_or_default(),
        role => local_path(node, role).unwrap_or_default(),
    }
}

/// Texts only gpuplan's change has: its runtime binaries' paths.
fn marks(node: &NodeRuntime) -> Vec<&str> {
    node.runtimes.iter().map(|r| r.path.as_str()).collect()
}

/// The syntax of a role's file, checked after a merge.
fn syntax(node: &NodeRuntime, role: Role, text: Option<&str>) -> Syntax {
    match (node.runtime, role) {
        (_, Role::Hook) | (RuntimeKind::Docker, _) => Syntax::Json,
        (RuntimeKind::Containerd, Role::Config) if containerd::template::is_template(&node.config, text) => {
            Syntax::Text
        }
        _ => Syntax::Toml,
    }
}
