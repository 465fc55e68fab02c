//! The record file's text: written as version 2, read as version 1 or 2.
//!
//! Input: a [`Record`], or a record file's text and its path (for errors). Output: the text,
//! or the record.
//!
//! Version 2 is a JSON header — each file's role and path, and the length in bytes of each
//! of its texts — followed by the texts themselves, unescaped, each after a line naming it:
//!
//! ```text
//! { "kind": "gpuplan node record", "version": 2, ..., "files": [ { "role": "config",
//!   "path": "/etc/containerd/config.toml", "before": 5341, "after": 5400 } ] }
//! === before /etc/containerd/config.toml (5341 bytes) ===
//! <the 5341 bytes>
//! === after /etc/containerd/config.toml (5400 bytes) ===
//! <the 5400 bytes>
//! ```
//!
//! The lengths, not the lines, say where a text ends: a text may hold any line. Version 1
//! held the texts as JSON strings; escaping them on every write and unescaping them on every
//! read cost more than the rest of a patch and a revert of a long config, and no one could
//! read them. Version 1 records, written by an earlier gpuplan, are still read.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{COMMENT, Entry, File, KIND, Record, Role, VERSION};
use crate::error::Error;
use crate::values::Span;

/// The record versions this gpuplan reads.
const READS: [u32; 2] = [1, 2];

/// What every version says first.
#[derive(Deserialize)]
struct Kind {
    kind: String,
    version: u32,
}

/// The version 2 header.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    kind: String,
    version: u32,
    comment: String,
    files: Vec<Lengths>,
}

/// One file of the version 2 header: its texts' lengths in bytes.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Lengths {
    role: Role,
    path: String,
    before: Option<usize>,
    after: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<usize>,
}

/// The texts of an entry in the order they follow the header, each with its name.
fn texts(entry: &Entry) -> impl Iterator<Item = (&'static str, &str)> {
    [
        ("before", entry.before.as_deref()),
        ("after", Some(entry.after.as_str())),
        ("previous", entry.previous.as_deref()),
    ]
    .into_iter()
    .filter_map(|(name, text)| text.map(|t| (name, t)))
}

/// The line before a text.
fn marker(name: &str, path: &str, len: usize) -> String {
    format!("=== {name} {path} ({len} bytes) ===\n")
}

/// The record file's text (the same record gives the same bytes).
pub fn render(record: &Record) -> String {
    let header = Header {
        kind: KIND.into(),
        version: VERSION,
        comment: COMMENT.into(),
        files: record
            .entries
            .iter()
            .map(|e| Lengths {
                role: e.role,
                path: e.path.clone(),
                before: e.before.as_ref().map(String::len),
                after: e.after.len(),
                previous: e.previous.as_ref().map(String::len),
            })
            .collect(),
    };
    // A header of plain strings and numbers always serialises.
    let mut out = serde_json::to_string_pretty(&header).unwrap_or_default();
    out.push('\n');
    let size: usize = record.entries.iter().flat_map(texts).map(|(_, t)| t.len() + 128).sum();
    out.reserve(size);
    for entry in &record.entries {
        for (name, text) in texts(entry) {
            out.push_str(&marker(name, &entry.path, text.len()));
            out.push_str(text);
            out.push('\n');
        }
    }
    out
}

/// Read a record file of any version this gpuplan reads.
pub fn parse(path: &str, text: &str) -> Result<Record, Error> {
    let mut first = serde_json::Deserializer::from_str(text).into_iter::<Kind>();
    let kind = match first.next() {
        Some(Ok(kind)) => kind,
        Some(Err(e)) => return Err(unreadable(path, &e)),
        None => return Err(malformed(path, text, 0, "it is empty")),
    };
    if kind.kind != KIND || !READS.contains(&kind.version) {
        return Err(Error::NodeOwnership {
            file: Arc::from(path),
            span: None,
            message: format!(
                "the record is a {:?} version {}, this gpuplan reads {KIND:?} versions {} and {}",
                kind.kind, kind.version, READS[0], READS[1]
            ),
            hint: Some("use the gpuplan that wrote it to revert the node".into()),
        });
    }
    if kind.version == 1 {
        let file: File = serde_json::from_str(text).map_err(|e| unreadable(path, &e))?;
        return Ok(Record { entries: file.files });
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Header>();
    let header = match stream.next() {
        Some(Ok(header)) => header,
        Some(Err(e)) => return Err(unreadable(path, &e)),
        None => return Err(malformed(path, text, 0, "it is empty")),
    };
    let mut at = stream.byte_offset();
    let expect = |what: &str, at: &mut usize| match text.get(*at..).is_some_and(|rest| rest.starts_with(what)) {
        true => {
            *at += what.len();
            Ok(())
        }
        false => Err(malformed(path, text, *at, &format!("expected {:?}", what.trim_end()))),
    };
    expect("\n", &mut at)?;
    let mut entries = Vec::with_capacity(header.files.len());
    for file in header.files {
        let take = |name: &str, len: usize, at: &mut usize| -> Result<String, Error> {
            expect(&marker(name, &file.path, len), at)?;
            let Some(body) = at.checked_add(len).and_then(|end| text.get(*at..end)) else {
                return Err(malformed(path, text, *at, &format!("the {name} text of {} is cut short", file.path)));
            };
            *at += len;
            expect("\n", at)?;
            Ok(body.to_owned())
        };
        let before = file.before.map(|len| take("before", len, &mut at)).transpose()?;
        let after = take("after", file.after, &mut at)?;
        let previous = file.previous.map(|len| take("previous", len, &mut at)).transpose()?;
        entries.push(Entry { role: file.role, path: file.path, before, after, previous });
    }
    if at != text.len() {
        return Err(malformed(path, text, at, "there is more after the last text"));
    }
    Ok(Record { entries })
}

/// A header serde_json cannot read, with its line and column.
fn unreadable(path: &str, e: &serde_json::Error) -> Error {
    Error::NodeConfig {
        file: Arc::from(path),
        span: (e.line() > 0).then(|| Span {
            line: u32::try_from(e.line()).unwrap_or(u32::MAX),
            col: u32::try_from(e.column()).unwrap_or(u32::MAX),
        }),
        message: format!("not a gpuplan node record: {e}"),
    }
}

/// Texts that do not follow their header, with where it went wrong.
fn malformed(path: &str, text: &str, at: usize, what: &str) -> Error {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    Error::NodeConfig {
        file: Arc::from(path),
        span: Some(Span { line: u32::try_from(line).unwrap_or(u32::MAX), col: 1 }),
        message: format!("not a gpuplan node record: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(role: Role, before: Option<&str>, after: &str, previous: Option<&str>) -> Entry {
        Entry {
            role,
            path: "/etc/containerd/config.toml".into(),
            before: before.map(str::to_owned),
            after: after.into(),
            previous: previous.map(str::to_owned),
        }
    }

    /// A version 1 record, as gpuplan wrote it before version 2 (serde_json, pretty).
    fn version_1(record: &Record) -> String {
        let file = File { kind: KIND.into(), version: 1, comment: COMMENT.into(), files: record.entries.clone() };
        let mut text = serde_json::to_string_pretty(&file).expect("serialises");
        text.push('\n');
        text
    }

    fn awkward() -> Record {
        let marker_like = "=== after /etc/containerd/config.toml (3 bytes) ===\nabc\n";
        Record {
            entries: vec![
                entry(Role::Config, Some("a = 1\r\n"), "a = 1\r\nb = 2", Some(marker_like)),
                entry(Role::DropIn, None, "", None),
                entry(Role::Hook, Some("\u{feff}{\"é\": \"\\n\"}\n\n"), "\n", None),
            ],
        }
    }

    #[test]
    fn given_a_record_its_text_reads_back_to_it_and_shows_each_text_as_it_is() {
        let record = awkward();
        let text = render(&record);
        assert_eq!(parse("r", &text).expect("parses"), record);
        assert!(text.contains("=== before /etc/containerd/config.toml (7 bytes) ===\na = 1\r\n\n"), "{text}");
        assert!(text.starts_with("{\n  \"kind\": \"gpuplan node record\",\n  \"version\": 2,"), "{text}");
        assert_eq!(render(&Record::default()), render(&parse("r", &render(&Record::default())).expect("parses")));
    }

    #[test]
    fn given_a_version_1_record_it_is_read_as_it_was_written() {
        let record = awkward();
        assert_eq!(parse("r", &version_1(&record)).expect("reads version 1"), record);
    }

    #[test]
    fn given_a_record_cut_short_or_added_to_it_is_refused_with_the_line() {
        let text = render(&awkward());
        for cut in [text.len() - 1, text.len() - 3, text.find("=== after").expect("marker") + 2] {
            let err = parse("r", &text[..cut]).expect_err("cut short").to_string();
            assert!(err.contains("not a gpuplan node record"), "{err}");
        }
        let err = parse("r", &format!("{text}x")).expect_err("added to").to_string();
        assert!(err.contains("there is more after the last text"), "{err}");
        let longer = text.replacen("(7 bytes)", "(8 bytes)", 1);
        assert!(parse("r", &longer).is_err());
        let huge = text.replacen("\"before\": 7", &format!("\"before\": {}", usize::MAX), 1);
        let huge = huge.replacen("(7 bytes)", &format!("({} bytes)", usize::MAX), 1);
        let err = parse("r", &huge).expect_err("a length past the end").to_string();
        assert!(err.contains("is cut short"), "{err}");
    }

    #[test]
    fn given_another_version_it_is_refused_with_a_hint() {
        let text = render(&awkward()).replacen("\"version\": 2", "\"version\": 3", 1);
        let err = parse("r", &text).expect_err("version 3").to_string();
        assert!(err.contains("version 3, this gpuplan reads \"gpuplan node record\" versions 1 and 2"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn given_any_texts_the_record_reads_back(
            before in proptest::option::of("(=== |[a\n\r\"\\\\é=])*"),
            after in "(=== |[a\n\r\"\\\\é=])*",
        ) {
            let record = Record { entries: vec![entry(Role::Config, before.as_deref(), &after, None)] };
            proptest::prop_assert_eq!(parse("r", &render(&record)).expect("parses"), record);
        }
    }
}
