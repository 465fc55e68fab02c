//! gpuplan's record of what it changed on a node, so that revert gives back exactly what was
//! there and nothing else.
//!
//! Input: the record file's text (next to the runtime's config: `<dir>/.<name>.gpuplan`; a
//! JSON header, then the texts as they are: see [`text`])
//! and the node's files as they are now. Output: a [`Record`] — for every file gpuplan
//! changed, its text before gpuplan and the text gpuplan wrote — and, for each of those files,
//! its text with gpuplan's change taken out ([`Record::take_out`]).
//!
//! The record, not the file's content, says what is gpuplan's. A file that is exactly as
//! gpuplan wrote it gets its former bytes back. A file someone edited since keeps their edits:
//! gpuplan's change is taken out by a strict three-way line merge ([`super::merge`]), and the
//! result must still parse. A file that no longer holds any line gpuplan added, nor any of its
//! runtime binaries, is all its editor's now (a config management tool wrote it anew) and
//! stays as it is. Anything else — edits next to gpuplan's lines, a record
//! naming other files than the settings do, a record gpuplan cannot read — is refused with the
//! file, the line and what to do, and nothing is changed.
//!
//! The record lives beside the config file, not beside the lock in `/run`: it must survive
//! node reboots, and the runtimes read neither it (its name ends in `.gpuplan`, not `.toml`
//! or `.json`) nor the directory it is in as a drop-in directory.

mod text;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::merge::{self, Conflict};
use crate::error::Error;
use crate::values::Span;

/// What the record says it is.
pub const KIND: &str = "gpuplan node record";
/// The record format's version.
pub const VERSION: u32 = 2;
const COMMENT: &str = "What gpuplan changed in this container runtime's configuration, so that a revert gives back \
    exactly what was there. Written and read by gpuplan: do not edit it, and delete it only together with \
    gpuplan's changes (`gpuplan node revert`). The texts follow this header, each after a line that names it and \
    gives its length in bytes.";

/// The record of one node's runtime configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// One entry per file gpuplan changed, in the order the engine lists them.
    pub entries: Vec<Entry>,
}

/// Which file of the node's runtime configuration an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The top-level config (containerd's `config.toml`, CRI-O's `crio.conf`, `daemon.json`).
    Config,
    /// The drop-in file.
    DropIn,
    /// CRI-O's OCI hook file.
    Hook,
}

/// One file gpuplan changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entry {
    /// Which file.
    pub role: Role,
    /// Its path as gpuplan knew it (for the drop-in, its host path, which is checked).
    pub path: String,
    /// Its text before gpuplan changed it; `None`: it did not exist.
    pub before: Option<String>,
    /// The text gpuplan wrote.
    pub after: String,
    /// While a change is being written: the text gpuplan wrote before it, which the file may
    /// still hold if the writer was stopped half-way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// A version 1 record file: the texts as JSON strings (read, no longer written).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    kind: String,
    version: u32,
    comment: String,
    files: Vec<Entry>,
}

/// How a file's former text was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The file is as gpuplan wrote it: the text is exactly the one before gpuplan.
    Exact,
    /// The file is as it was before gpuplan (its change was never written, or was undone).
    Before,
    /// None of gpuplan's lines are in the file any more: the text is the file as it is.
    Gone,
    /// The file was edited since: the text is the file with gpuplan's change taken out.
    Merged,
}

/// The syntax a file's text must have, checked after a merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// TOML (containerd, CRI-O).
    Toml,
    /// JSON (`daemon.json`, an OCI hook).
    Json,
    /// Not parsed (a Go template).
    Text,
}

impl Record {
    /// Read a record file (either version: see [`text`]).
    pub fn parse(path: &str, text: &str) -> Result<Record, Error> {
        text::parse(path, text)
    }

    /// The record file's text (deterministic: the same record gives the same bytes).
    pub fn render(&self) -> String {
        text::render(self)
    }

    /// The entry for a role.
    pub fn entry(&self, role: Role) -> Option<&Entry> {
        self.entries.iter().find(|e| e.role == role)
    }

    /// The record with no `previous` texts: a change fully written.
    pub fn settled(&self) -> Record {
        let entries = self.entries.iter().map(|e| Entry { previous: None, ..e.clone() }).collect();
        Record { entries }
    }
}

impl Entry {
    /// The file's text with gpuplan's change taken out, and how it was found. `marks` are
    /// texts only gpuplan's change has (its runtime binaries' paths): a file holding one still
    /// holds gpuplan's change, even in a line someone edited. `file` names the file in errors,
    /// `record` the record file in hints.
    pub fn take_out(
        &self,
        current: Option<&str>,
        marks: &[&str],
        syntax: Syntax,
        file: &str,
        record: &str,
    ) -> Result<(Option<String>, Found), Error> {
        self.take_out_known(current, &[], marks, syntax, file, record)
    }

    /// [`Entry::take_out`], where `also_before` are texts that mean exactly the text before
    /// gpuplan (dockerd's reload form of it, see [`super::docker::reload_form`]).
    pub fn take_out_known(
        &self,
        current: Option<&str>,
        also_before: &[&str],
        marks: &[&str],
        syntax: Syntax,
        file: &str,
        record: &str,
    ) -> Result<(Option<String>, Found), Error> {
        let Some(current) = current else {
            // Deleted since (or never written): nothing of gpuplan's is left, nothing else to keep.
            let found = if self.before.is_none() { Found::Before } else { Found::Gone };
            return Ok((None, found));
        };
        let written = std::iter::once(self.after.as_str()).chain(self.previous.as_deref());
        if written.clone().any(|w| w == current) {
            return Ok((self.before.clone(), Found::Exact));
        }
        let marked = marks.iter().any(|m| self.after.contains(m) && current.contains(m));
        if self.before.as_deref() == Some(current) {
            return Ok((Some(current.to_owned()), Found::Before));
        }
        if also_before.contains(&current) {
            // A revert stopped between its reload and its last write: it finishes.
            return Ok((self.before.clone(), Found::Exact));
        }
        if !marked && !self.has_any_added_line(current) {
            return Ok((Some(current.to_owned()), Found::Gone));
        }
        let theirs = self.before.as_deref().unwrap_or_default();
        let mut conflict = None;
        for base in written {
            match merge::merge(base, current, theirs) {
                Ok(merged) => {
                    check_syntax(&merged, syntax, file, record)?;
                    let gone = self.before.is_none() && merged.trim().is_empty();
                    return Ok((if gone { None } else { Some(merged) }, Found::Merged));
                }
                Err(c) => conflict = conflict.or(Some(c)),
            }
        }
        let Conflict { line, lines } = conflict.unwrap_or(Conflict { line: 1, lines: 0 });
        let region = match lines {
            0 | 1 => format!("line {line}"),
            n => format!("lines {line}-{}", line + n - 1),
        };
        Err(Error::NodeOwnership {
            file: Arc::from(file),
            span: Some(Span { line: u32::try_from(line).unwrap_or(u32::MAX), col: 1 }),
            message: format!(
                "it was edited since gpuplan wrote it, and {region} touch lines gpuplan changed: gpuplan cannot take its change out without also changing those edits"
            ),
            hint: Some(format!(
                "compare the file with what gpuplan wrote (\"after\" in {record}); put gpuplan's lines back as they were, or move the edits away from them. To keep the file exactly as it is now and make it gpuplan's starting point, delete {record}"
            )),
        })
    }

    /// Whether `text` still holds a line that gpuplan's change added (a line of what it wrote
    /// that the file did not have before; blank lines do not count).
    fn has_any_added_line(&self, text: &str) -> bool {
        let before: BTreeSet<&str> = self.before.as_deref().unwrap_or_default().lines().map(str::trim).collect();
        let added: BTreeSet<&str> =
            self.after.lines().map(str::trim).filter(|l| !l.is_empty() && !before.contains(l)).collect();
        // A change that added no line of its own cannot be recognised by its lines: only a
        // merge can take it out.
        added.is_empty() || text.lines().map(str::trim).any(|l| added.contains(l))
    }
}

/// A merged text must still be a config the runtime can read.
fn check_syntax(text: &str, syntax: Syntax, file: &str, record: &str) -> Result<(), Error> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let problem = match syntax {
        Syntax::Toml => body.parse::<toml_edit::DocumentMut>().err().map(|e| e.message().trim().to_owned()),
        Syntax::Json => super::json::Document::parse(body).err().map(|e| e.message),
        Syntax::Text => None,
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(Error::NodeOwnership {
            file: Arc::from(file),
            span: None,
            message: format!(
                "it was edited since gpuplan wrote it; taking gpuplan's change out around those edits would leave a file that does not parse ({problem})"
            ),
            hint: Some(format!(
                "compare the file with what gpuplan wrote (\"after\" in {record}) and undo the edits next to gpuplan's lines, or delete {record} to make the file as it is now gpuplan's starting point"
            )),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(before: Option<&str>, after: &str) -> Entry {
        Entry {
            role: Role::Config,
            path: "/etc/x.toml".into(),
            before: before.map(str::to_owned),
            after: after.into(),
            previous: None,
        }
    }

    #[test]
    fn given_a_record_it_renders_and_parses_back() {
        let record = Record { entries: vec![entry(Some("a = 1\r\n"), "a = 1\r\nb = 2\r\n")] };
        assert_eq!(Record::parse("r", &record.render()).expect("parses"), record);
    }

    #[test]
    fn given_a_file_as_written_the_former_bytes_come_back() {
        let e = entry(Some("\u{feff}a = 1"), "\u{feff}a = 1\nb = 2\n");
        let (text, found) = e.take_out(Some("\u{feff}a = 1\nb = 2\n"), &[], Syntax::Toml, "f", "r").expect("exact");
        assert_eq!((text.as_deref(), found), (Some("\u{feff}a = 1"), Found::Exact));
    }

    #[test]
    fn given_an_edit_elsewhere_it_stays_and_gpuplans_line_goes() {
        let e = entry(Some("a = 1\n\n[t]\nx = 1\n"), "a = 1\nb = 2\n\n[t]\nx = 1\n");
        let (text, found) =
            e.take_out(Some("a = 1\nb = 2\n\n[t]\nx = 1\ny = 3\n"), &[], Syntax::Toml, "f", "r").unwrap();
        assert_eq!((text.as_deref(), found), (Some("a = 1\n\n[t]\nx = 1\ny = 3\n"), Found::Merged));
    }

    #[test]
    fn given_an_edit_next_to_gpuplans_line_it_is_refused_with_the_line() {
        let e = entry(Some("a = 1\nc = 3\n"), "a = 1\nb = 2\nc = 3\n");
        let err = e.take_out(Some("a = 1\nb = 2\nc = 4\n"), &[], Syntax::Toml, "f", "r").unwrap_err();
        assert!(err.to_string().starts_with("refusing to change f:2:1: it was edited since"), "{err}");
    }

    #[test]
    fn given_a_rewrite_without_gpuplans_lines_it_is_the_editors() {
        let e = entry(Some("a = 1\n"), "a = 1\nimports = [\"/x/*.toml\"]\n");
        let (text, found) = e.take_out(Some("z = 9\n"), &[], Syntax::Toml, "f", "r").unwrap();
        assert_eq!((text.as_deref(), found), (Some("z = 9\n"), Found::Gone));
    }
}
