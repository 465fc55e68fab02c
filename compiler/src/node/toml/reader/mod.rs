//! A quick reader for the TOML files whose formatting gpuplan does not keep: a document of
//! values only, built straight from toml_parser's events (the lexer and parser toml_edit reads
//! with), without the spans, decorations and representations toml_edit keeps for printing.
//!
//! Input: a file's text (as [`super::Text`] holds it). Output: the document's values, in
//! toml_edit's types, with keys quoted as they were read, and where the top-level keys are
//! ([`super::Root`]); or nothing, and then toml_edit reads the file.
//!
//! Why: containerd's drop-in mode never prints the config it reads (its import goes into the
//! text, and the drop-in is printed afresh), yet reading a long config with toml_edit cost more
//! than everything else the patch does together: half of it is building what only a printer
//! needs.
//!
//! It reads what containerd configs are made of — `[table]` headers and `key = value` lines
//! of strings, booleans, integers, floats and arrays of them — and leaves everything else to
//! toml_edit: a syntax error (toml_edit reports it), dotted keys, inline tables, arrays of
//! tables, date-times, a key defined twice, a table whose header repeats or whose
//! path crosses a value. So a file it reads is one toml_edit accepts, with the same values
//! (tests hold the two together).

use std::borrow::Cow;
use std::ops::Range;

use toml_edit::{Array, DocumentMut, Item, Key, Table, Value};
use toml_parser::decoder::{Encoding, ScalarKind};
use toml_parser::parser::{Event, EventKind, RecursionGuard, ValidateWhitespace, parse_document};
use toml_parser::{ParseError, Source};

use super::Root;
use super::emit::{bare, default_key, plain_quotable};

/// How deep arrays may nest and how long a header may be: below toml_edit's limit (80), so
/// nothing it refuses for depth is read here.
const LIMIT: u32 = 64;

/// The values of `body` and where its top-level keys are; `None` when the file is not one
/// this reader takes (see the module docs).
pub fn read(body: &str) -> Option<(DocumentMut, Option<Root>)> {
    let source = Source::new(body);
    let tokens = source.lex().into_vec();
    let mut events = Vec::with_capacity(tokens.len());
    let mut errors: Option<ParseError> = None;
    {
        let mut validate = ValidateWhitespace::new(&mut events, source);
        let mut guard = RecursionGuard::new(&mut validate, LIMIT);
        parse_document(&tokens, &mut guard, &mut errors);
    }
    if errors.is_some() {
        return None;
    }
    let mut reader =
        Reader { source, events: &events, at: 0, root: Table::new(), root_values: Vec::new(), indent: None };
    let mut current: Option<(Vec<Key>, Table)> = None;
    let mut siblings = Siblings::default();
    while let Some(event) = reader.next_significant() {
        match event.kind() {
            EventKind::StdTableOpen => {
                if let Some((path, table)) = current.take() {
                    siblings.push(&mut reader.root, path, table)?;
                }
                current = Some((reader.header()?, Table::new()));
            }
            EventKind::SimpleKey => {
                let key = reader.key(event)?;
                let start = event.span().start();
                let span = match reader.next_significant()?.kind() {
                    EventKind::KeyValSep => {
                        let value_event = reader.next_significant()?;
                        reader.value(value_event)?
                    }
                    _ => return None,
                };
                match &mut current {
                    Some((_, table)) => insert(table, key, span.0)?,
                    None => {
                        if reader.indent.is_none() {
                            let line = body[..start].rfind('\n').map_or(0, |i| i + 1);
                            reader.indent = Some(body[line..start].to_owned());
                        }
                        reader.root_values.push((key.get().to_owned(), span.1));
                        insert(&mut reader.root, key, span.0)?;
                    }
                }
            }
            _ => return None,
        }
    }
    if let Some((path, table)) = current.take() {
        siblings.push(&mut reader.root, path, table)?;
    }
    siblings.place(&mut reader.root)?;
    let root = match (reader.root_values.last(), reader.indent) {
        (Some((_, last)), Some(indent)) => {
            // The rest of the last value's line is its trailing comment at most.
            let end = body[last.end..].find('\n').map_or(body.len(), |i| last.end + i + 1);
            Some(Root { values: reader.root_values, end, indent })
        }
        _ => None,
    };
    Some((DocumentMut::from(reader.root), root))
}

struct Reader<'e, 's> {
    source: Source<'s>,
    events: &'e [Event],
    at: usize,
    root: Table,
    /// The top-level keys and where their values are.
    root_values: Vec<(String, Range<usize>)>,
    /// The first top-level key's indentation.
    indent: Option<String>,
}

impl Reader<'_, '_> {
    /// The next event that is not whitespace, a comment or a line end (toml_parser has
    /// validated those).
    fn next_significant(&mut self) -> Option<Event> {
        while let Some(event) = self.events.get(self.at).copied() {
            self.at += 1;
            if !matches!(event.kind(), EventKind::Whitespace | EventKind::Comment | EventKind::Newline) {
                return Some(event);
            }
        }
        None
    }

    /// A `[table]` header's path, its opening bracket read.
    fn header(&mut self) -> Option<Vec<Key>> {
        let mut path = Vec::new();
        loop {
            let event = self.next_significant()?;
            if event.kind() != EventKind::SimpleKey || path.len() >= LIMIT as usize {
                return None;
            }
            path.push(self.key(event)?);
            match self.next_significant()?.kind() {
                EventKind::KeySep => {}
                EventKind::StdTableClose => return Some(path),
                _ => return None,
            }
        }
    }

    /// A key, quoted as it was read when that is not how toml_edit quotes it by default.
    fn key(&self, event: Event) -> Option<Key> {
        let raw = self.source.get(event)?;
        let mut decoded = Cow::Borrowed("");
        let mut error: Option<ParseError> = None;
        raw.decode_key(&mut decoded, &mut error);
        if error.is_some() {
            return None;
        }
        let text = raw.as_str();
        // The common cases are told without writing the default form: a bare key, and one with
        // no escape (decoded in place) that needs plain double quotes.
        let quoted_as_by_default = match event.encoding() {
            None => bare(&decoded),
            Some(Encoding::BasicString) => {
                matches!(decoded, Cow::Borrowed(_)) && !bare(&decoded) && plain_quotable(&decoded)
            }
            Some(_) => false,
        } || {
            let mut default = String::new();
            default_key(&mut default, &decoded);
            default == text
        };
        if quoted_as_by_default {
            return Some(Key::new(decoded.into_owned()));
        }
        // The key's own quoting is kept (for the drop-in, as toml_edit keeps it).
        let mut parsed = Key::parse(text).ok()?;
        (parsed.len() == 1).then(|| parsed.pop()).flatten().filter(|k| k.get() == decoded.as_ref())
    }

    /// A value starting at `event`, and where it is in the text.
    fn value(&mut self, event: Event) -> Option<(Value, Range<usize>)> {
        match event.kind() {
            EventKind::Scalar => Some((self.scalar(event)?, event.span().start()..event.span().end())),
            EventKind::ArrayOpen => {
                let mut array = Array::new();
                loop {
                    let next = self.next_significant()?;
                    match next.kind() {
                        EventKind::ArrayClose => {
                            return Some((Value::Array(array), event.span().start()..next.span().end()));
                        }
                        EventKind::ValueSep => {}
                        EventKind::Scalar | EventKind::ArrayOpen => array.push_formatted(self.value(next)?.0),
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    /// A string, boolean, integer or float, decoded as toml_edit decodes it; `None` for a
    /// date-time, or a number out of range.
    fn scalar(&self, event: Event) -> Option<Value> {
        let raw = self.source.get(event)?;
        let mut decoded = Cow::Borrowed("");
        let mut error: Option<ParseError> = None;
        let kind = raw.decode_scalar(&mut decoded, &mut error);
        if error.is_some() {
            return None;
        }
        match kind {
            ScalarKind::String => Some(Value::from(decoded.into_owned())),
            ScalarKind::Boolean(b) => Some(Value::from(b)),
            ScalarKind::Integer(radix) => i64::from_str_radix(&decoded, radix.value()).ok().map(Value::from),
            ScalarKind::Float => {
                let value = decoded.parse::<f64>().ok()?;
                // An overflow (toml_edit refuses it) parses as infinite; `inf` is spelled out.
                let spelled = decoded.trim_start_matches(['+', '-']).bytes().all(|b| b.is_ascii_alphabetic());
                (value.is_finite() || spelled).then(|| Value::from(value))
            }
            ScalarKind::DateTime => None,
        }
    }
}

/// A key and its value into a table; `None` when the key is there already.
fn insert(table: &mut Table, key: Key, value: Value) -> Option<()> {
    if table.contains_key(key.get()) {
        return None;
    }
    // `extend` takes the key as it is; `insert_formatted` and `entry_format` copy it.
    table.extend([(key, Item::Value(value))]);
    Some(())
}

/// Tables read under headers, waiting to go into the document: consecutive ones with the same
/// parent (a config's hundreds of `[...registry.mirrors."<host>"]`) go in with one walk down.
#[derive(Default)]
struct Siblings {
    parents: Vec<Key>,
    tables: Vec<(Key, Table)>,
}

impl Siblings {
    /// A table read under the header `path`; the waiting ones go in first when their parent
    /// is another.
    fn push(&mut self, root: &mut Table, mut path: Vec<Key>, table: Table) -> Option<()> {
        let last = path.pop()?;
        let same = path.len() == self.parents.len() && path.iter().zip(&self.parents).all(|(a, b)| a.get() == b.get());
        if !same {
            self.place(root)?;
            self.parents = path;
        }
        self.tables.push((last, table));
        Some(())
    }

    /// The waiting tables into the document: the tables on the way are made (implicit) where
    /// missing; one made that way earlier is defined now. `None` where the path crosses
    /// something other than a table, or a table was defined before.
    fn place(&mut self, root: &mut Table) -> Option<()> {
        if self.tables.is_empty() {
            return Some(());
        }
        let mut at = root;
        for key in &self.parents {
            if !at.contains_key(key.get()) {
                let mut implicit = Table::new();
                implicit.set_implicit(true);
                at.extend([(key.clone(), Item::Table(implicit))]);
            }
            at = at.get_mut(key.get())?.as_table_mut()?;
        }
        for (last, table) in self.tables.drain(..) {
            if !at.contains_key(last.get()) {
                at.extend([(last, Item::Table(table))]);
                continue;
            }
            let existing = at.get_mut(last.get())?.as_table_mut().filter(|t| t.is_implicit())?;
            existing.set_implicit(false);
            for (name, item) in table.iter() {
                if existing.contains_key(name) {
                    return None;
                }
                existing.extend([(table.key(name)?.clone(), item.clone())]);
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests;
