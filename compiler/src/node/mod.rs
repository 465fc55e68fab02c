//! What a GPU node's container runtime configuration becomes, and back: pure functions on text.
//!
//! Input: a [`NodeRuntime`] (the resolved node change, from the values) and the current text
//! of every file it concerns ([`Files`], from [`paths`]: `None` for a missing file), gpuplan's
//! [record](record) among them. Output: a [`Change`] — for each file its text before and after
//! (`None` after = delete), the record's, the order to write them in, and notes on what was
//! decided. [`apply`] adds gpuplan's runtimes; [`revert`] gives back what was there.
//!
//! **gpuplan owns only what it wrote.** Every file [`apply`] changes is written down in the
//! record next to the config — its text before, and the text gpuplan wrote — and [`revert`]
//! works from that record alone: a file as gpuplan wrote it gets its former bytes back (a
//! vendor `nvidia` runtime gpuplan replaced, with its comments, a previous default, an admin's
//! file gpuplan took over), edits made since are kept, and without a record nothing is
//! touched. [`apply`] always builds on the text before gpuplan, so a second apply with the
//! same values changes nothing, whatever the file held. A file at a path gpuplan writes whole
//! (the drop-in, the hook) that gpuplan did not write is refused unless taken over
//! ([`Foreign`]); anything gpuplan cannot tell apart from its own change is refused
//! ([`record`]), never guessed.
//!
//! The properties every engine keeps (each has its own test):
//! - only the lines that must change, change: comments, order, quoting, blank lines, line
//!   ends, a byte-order mark and a missing final newline stay;
//! - [`revert`] after [`apply`] gives back the original bytes (and the original absence of a
//!   file); [`revert`] without an [`apply`] changes nothing;
//! - [`apply`] on an already-applied node changes nothing, and says so;
//! - two files are one transaction ([`Change::steps`]): the file pointed at is written before
//!   the one pointing at it, and the record before both, so a writer stopped at any step
//!   leaves a node the next run finishes or reverts;
//! - malformed input or an unknown config version is an error naming file, line and column,
//!   and nothing is changed.
//!
//! One engine per runtime: [`containerd`] (config versions 1 to 4; drop-in or in place;
//! Go-template configs through [`containerd::template`]), [`crio`] (a drop-in, in place, or a hook) and
//! [`docker`] (`daemon.json`). Engines only compute what gpuplan writes, from the text before
//! gpuplan; ownership is this module's.

pub mod containerd;
pub mod crio;
pub mod docker;
pub mod env;
mod json;
pub mod merge;
pub mod record;
pub mod runtime;
pub mod toml;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use record::{Found, Record, Role, Syntax};
pub use runtime::{NodeRuntime, RestartMode, RuntimeBinary, RuntimeKind};

use crate::error::Error;
use runtime::CrioMode;

/// The current text of files, by path; `None` for a file that does not exist.
pub type Files = BTreeMap<String, Option<String>>;

/// What happens to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Path of the file (as the engine was given it).
    pub path: String,
    /// Its text now; `None` when it does not exist.
    pub before: Option<String>,
    /// Its text afterwards; `None` when it is to be deleted (or stays absent).
    pub after: Option<String>,
}

impl FileChange {
    /// Whether the file stays exactly as it is.
    pub fn is_unchanged(&self) -> bool {
        self.before == self.after
    }

    /// The change as a unified diff (see [`unified`]).
    pub fn unified(&self) -> String {
        unified(&self.path, self.before.as_deref(), self.after.as_deref())
    }
}

/// The unified diff of one file, empty when nothing changes: `---`/`+++` headers (`/dev/null`
/// for a file created or deleted) and three lines of context.
pub fn unified(path: &str, before: Option<&str>, after: Option<&str>) -> String {
    if before == after {
        return String::new();
    }
    let old_name = if before.is_some() { format!("a{path}") } else { "/dev/null".to_owned() };
    let new_name = if after.is_some() { format!("b{path}") } else { "/dev/null".to_owned() };
    let diff = similar::TextDiff::from_lines(before.unwrap_or_default(), after.unwrap_or_default());
    diff.unified_diff().context_radius(3).header(&old_name, &new_name).to_string()
}

/// What an engine makes of the node's files: the text after, for every file it looked at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Edit {
    /// Every file the engine looked at, in a stable order; `before` is the text it built on.
    pub files: Vec<FileChange>,
    /// What the engine decided and why (`version 1 config: edited in place`, ...).
    pub notes: Vec<String>,
}

/// One write of a transaction: a file's new text, or its removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The file.
    pub path: String,
    /// Its new text; `None`: delete it.
    pub text: Option<String>,
}

/// The change to a node's runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The runtime's config files gpuplan writes (or would), changed or not, in a stable order.
    pub files: Vec<FileChange>,
    /// gpuplan's record of what it changed.
    pub record: FileChange,
    /// What was decided and why.
    pub notes: Vec<String>,
    /// The writes, in order, that make the change as one transaction.
    pub steps: Vec<Step>,
}

impl Change {
    /// Whether nothing is written (no restart needed).
    pub fn is_unchanged(&self) -> bool {
        self.steps.is_empty()
    }

    /// The runtime's config files that change.
    pub fn changed(&self) -> impl Iterator<Item = &FileChange> {
        self.files.iter().filter(|f| !f.is_unchanged())
    }
}

/// What [`apply`] does with a file at a path gpuplan writes whole (the drop-in, the CRI-O
/// hook) that gpuplan did not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// Refuse, changing nothing.
    Refuse,
    /// Replace it, and record it so that revert puts it back.
    TakeOver,
}

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
    let mut base = files.clone();
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
        base.insert(path, text);
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
            let previous = now.clone().filter(|t| Some(t) != f.before.as_ref() && *t != after);
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
    let record = journal.settled();
    let record_now = current(files, &record_file).map(str::to_owned);
    if changes.iter().all(FileChange::is_unchanged) {
        // Nothing to write. A record that still describes gpuplan's change stays as it is; one
        // a stopped writer left with its in-flight texts is settled.
        let after = match &old {
            _ if record.entries.is_empty() => None,
            Some(old) if old.entries.iter().any(|e| e.previous.is_some()) => Some(old.settled().render()),
            _ => record_now.clone(),
        };
        let record = FileChange { path: record_file, before: record_now, after };
        let steps = step(&record).into_iter().collect();
        return Ok(Change { files: changes, record, notes, steps });
    }
    let record_after = (!record.entries.is_empty()).then(|| record.render());
    let steps = if record.entries.is_empty() {
        revert_steps(&changes, &node.config, &record_file, record_now.as_deref())
    } else {
        apply_steps(&changes, &node.config, &journal, &record_file, record_now.as_deref())
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
fn apply_steps(
    changes: &[FileChange],
    config: &str,
    journal: &Record,
    record_file: &str,
    record_now: Option<&str>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let journal_text = journal.render();
    if record_now != Some(journal_text.as_str()) {
        steps.push(Step { path: record_file.to_owned(), text: Some(journal_text.clone()) });
    }
    let (top, others): (Vec<&FileChange>, Vec<&FileChange>) = changes.iter().partition(|f| f.path == config);
    steps.extend(others.into_iter().chain(top).filter_map(step));
    let settled = journal.settled().render();
    if settled != journal_text {
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

/// The current text of `path`, `None` when absent (or not given).
pub fn current<'a>(files: &'a Files, path: &str) -> Option<&'a str> {
    files.get(path).and_then(|t| t.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_one_changed_line_shows_only_that_line_with_context() {
        let diff = unified("/etc/x.toml", Some("a = 1\nb = 2\nc = 3\n"), Some("a = 1\nb = 9\nc = 3\n"));
        assert_eq!(diff, "--- a/etc/x.toml\n+++ b/etc/x.toml\n@@ -1,3 +1,3 @@\n a = 1\n-b = 2\n+b = 9\n c = 3\n");
    }

    #[test]
    fn given_a_new_file_diffs_against_dev_null() {
        assert!(unified("/x", None, Some("a\n")).starts_with("--- /dev/null\n+++ b/x\n"));
        assert_eq!(unified("/x", Some("a\n"), Some("a\n")), "");
    }
}
