//! What a GPU node's container runtime configuration becomes: pure functions on text.
//!
//! Input: a [`NodeRuntime`] (the resolved node change, from the values) and the current text
//! of every file it concerns ([`Files`]: `None` for a missing file). Output: a [`Change`] —
//! for each file its text before and after (`None` after = delete), and notes on what was
//! decided. [`patch`] adds gpuplan's runtimes; [`revert`] takes them out again.
//!
//! The properties every engine keeps (each has its own test):
//! - only the lines that must change, change: comments, order, quoting and blank lines stay;
//! - [`revert`] after [`patch`] gives back the original bytes (and the original absence of a
//!   file);
//! - [`patch`] on an already-patched node changes nothing, and says so;
//! - malformed input is an error naming file, line and column, and nothing is changed.
//!
//! One engine per runtime: [`containerd`] (config versions 1, 2, 3 and the plugin path of 4;
//! drop-in or in place; Go-template configs through [`template`]), [`crio`] (a drop-in) and
//! [`docker`] (`daemon.json`).

pub mod containerd;
pub mod crio;
pub mod docker;
pub mod env;
mod json;
pub mod runtime;
pub mod template;
pub mod toml;

use std::collections::BTreeMap;

pub use runtime::{NodeRuntime, RestartMode, RuntimeBinary, RuntimeKind};

use crate::error::Error;

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
}

/// The change to a node's runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Change {
    /// Every file the engine looked at, changed or not, in a stable order.
    pub files: Vec<FileChange>,
    /// What the engine decided and why (`version 1 config: edited in place`, ...).
    pub notes: Vec<String>,
}

impl Change {
    /// Whether no file changes (nothing to write, no restart needed).
    pub fn is_unchanged(&self) -> bool {
        self.files.iter().all(FileChange::is_unchanged)
    }

    /// The files that change.
    pub fn changed(&self) -> impl Iterator<Item = &FileChange> {
        self.files.iter().filter(|f| !f.is_unchanged())
    }
}

/// The paths whose current text [`patch`] and [`revert`] need, for the caller to read.
pub fn paths(node: &NodeRuntime) -> Vec<String> {
    match node.runtime {
        RuntimeKind::Containerd => containerd::paths(node),
        RuntimeKind::Crio => crio::paths(node),
        RuntimeKind::Docker => docker::paths(node),
    }
}

/// Add gpuplan's runtimes to the node's configuration.
pub fn patch(files: &Files, node: &NodeRuntime) -> Result<Change, Error> {
    if !node.configure {
        return Ok(untouched(
            files,
            node,
            "the runtime configuration is left alone (NRI plugin mode or NO_RUNTIME_CONFIG)",
        ));
    }
    match node.runtime {
        RuntimeKind::Containerd => containerd::patch(files, node),
        RuntimeKind::Crio => crio::patch(files, node),
        RuntimeKind::Docker => docker::patch(files, node),
    }
}

/// Take gpuplan's runtimes out of the node's configuration again.
pub fn revert(files: &Files, node: &NodeRuntime) -> Result<Change, Error> {
    if !node.configure {
        return Ok(untouched(
            files,
            node,
            "the runtime configuration is left alone (NRI plugin mode or NO_RUNTIME_CONFIG)",
        ));
    }
    match node.runtime {
        RuntimeKind::Containerd => containerd::revert(files, node),
        RuntimeKind::Crio => crio::revert(files, node),
        RuntimeKind::Docker => docker::revert(files, node),
    }
}

fn untouched(files: &Files, node: &NodeRuntime, note: &str) -> Change {
    let files = paths(node)
        .into_iter()
        .map(|path| {
            let text = files.get(&path).cloned().flatten();
            FileChange { path, before: text.clone(), after: text }
        })
        .collect();
    Change { files, notes: vec![note.to_owned()] }
}

/// The current text of `path`, `None` when absent (or not given).
pub fn current<'a>(files: &'a Files, path: &str) -> Option<&'a str> {
    files.get(path).and_then(|t| t.as_deref())
}
