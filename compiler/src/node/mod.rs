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

mod change;
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

pub use change::{apply, paths, record_path, revert};
pub use record::{Found, Record, Role, Syntax};
pub use runtime::{NodeRuntime, RestartMode, RuntimeBinary, RuntimeKind};

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
