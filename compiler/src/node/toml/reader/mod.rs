//! A quick reader for the TOML files whose formatting gpuplan does not keep: a document of
//! values only, built straight from toml_parser's events (the lexer and parser toml_edit reads
//! with), without the spans, decorations and representations toml_edit keeps for printing.
//!
//! Input: a file's text (as [`super::Text`] holds it). Output: the document's values as a
//! [`tree`], with keys quoted as they were read, and where the top-level keys are
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

use std::collections::HashMap;

use toml_parser::decoder::{Encoding, ScalarKind};
use toml_parser::parser::{Event, EventKind, RecursionGuard, ValidateWhitespace, parse_document};
use toml_parser::{ParseError, Source};

use super::Root;
use super::emit::{bare, default_key, plain_quotable};
use super::tree::{Key, Node, Table, Value};

/// How deep arrays may nest and how long a header may be: below toml_edit's limit (80), so
/// nothing it refuses for depth is read here.
const LIMIT: u32 = 64;

/// The values of `body` and where its top-level keys are; `None` when the file is not one
/// this reader takes (see the module docs).
pub fn read(body: &str) -> Option<(Table, Option<Root>)> {
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
        Reader { source, events: &events, at: 0, root: Table::new(false), root_values: Vec::new(), indent: None };
    let mut current: Option<(Vec<Read<'_>>, Table)> = None;
    // The path of the last header, its vector used again for the next.
    let mut spare = Vec::new();
    let mut siblings = Siblings::default();
    while let Some(event) = reader.next_significant() {
        match event.kind() {
            EventKind::StdTableOpen => {
                match current.take() {
                    Some((path, table)) => {
                        siblings.push(&mut reader.root, &path, table)?;
                        spare = path;
                    }
                    // The top-level keys are all read.
                    None => unique(&reader.root)?,
                }
                spare.clear();
                reader.header(&mut spare)?;
                current = Some((std::mem::take(&mut spare), Table::new(false)));
            }
            EventKind::SimpleKey => {
                let key = reader.key(event)?.owned();
                let start = event.span().start();
                let span = match reader.next_significant()?.kind() {
                    EventKind::KeyValSep => {
                        let value_event = reader.next_significant()?;
                        reader.value(value_event)?
                    }
                    _ => return None,
                };
                // A key repeated is looked for once the table is read ([`unique`]).
                match &mut current {
                    Some((_, table)) => table.push(key, Node::Value(span.0)),
                    None => {
                        if reader.indent.is_none() {
                            let line = body[..start].rfind('\n').map_or(0, |i| i + 1);
                            reader.indent = Some(body[line..start].to_owned());
                        }
                        reader.root_values.push((key.name.to_string(), span.1));
                        reader.root.push(key, Node::Value(span.0));
                    }
                }
            }
            _ => return None,
        }
    }
    match current.take() {
        Some((path, table)) => siblings.push(&mut reader.root, &path, table)?,
        None => unique(&reader.root)?,
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
    Some((reader.root, root))
}

/// A key as read, borrowing the text: a header's keys are made [`Key`]s only where the tree
/// keeps them (most headers repeat the path of the one before).
struct Read<'s> {
    name: Cow<'s, str>,
    raw: Option<&'s str>,
}

impl Read<'_> {
    fn owned(&self) -> Key {
        Key { name: self.name.as_ref().into(), raw: self.raw.map(Box::from) }
    }
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

impl<'s> Reader<'_, 's> {
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

    /// A `[table]` header's path into `path`, its opening bracket read.
    fn header(&mut self, path: &mut Vec<Read<'s>>) -> Option<()> {
        loop {
            let event = self.next_significant()?;
            if event.kind() != EventKind::SimpleKey || path.len() >= LIMIT as usize {
                return None;
            }
            path.push(self.key(event)?);
            match self.next_significant()?.kind() {
                EventKind::KeySep => {}
                EventKind::StdTableClose => return Some(()),
                _ => return None,
            }
        }
    }

    /// A key, quoted as it was read when that is not how toml_edit quotes it by default.
    fn key(&self, event: Event) -> Option<Read<'s>> {
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
        // Otherwise the key's own quoting is kept (for the drop-in, as toml_edit keeps it).
        Some(Read { name: decoded, raw: (!quoted_as_by_default).then_some(text) })
    }

    /// A value starting at `event`, and where it is in the text.
    fn value(&mut self, event: Event) -> Option<(Value, Range<usize>)> {
        match event.kind() {
            EventKind::Scalar => Some((self.scalar(event)?, event.span().start()..event.span().end())),
            EventKind::ArrayOpen => {
                let mut array = Vec::new();
                loop {
                    let next = self.next_significant()?;
                    match next.kind() {
                        EventKind::ArrayClose => {
                            return Some((Value::Array(array), event.span().start()..next.span().end()));
                        }
                        EventKind::ValueSep => {}
                        EventKind::Scalar | EventKind::ArrayOpen => array.push(self.value(next)?.0),
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
            ScalarKind::String => Some(Value::String(decoded.into())),
            ScalarKind::Boolean(b) => Some(Value::Boolean(b)),
            ScalarKind::Integer(radix) => i64::from_str_radix(&decoded, radix.value()).ok().map(Value::Integer),
            ScalarKind::Float => {
                let value = decoded.parse::<f64>().ok()?;
                // An overflow (toml_edit refuses it) parses as infinite; `inf` is spelled out.
                let spelled = decoded.trim_start_matches(['+', '-']).bytes().all(|b| b.is_ascii_alphabetic());
                (value.is_finite() || spelled).then_some(Value::Float(value))
            }
            ScalarKind::DateTime => None,
        }
    }
}

/// `Some` when no key of the table's repeats.
fn unique(table: &Table) -> Option<()> {
    if table.len() <= SMALL {
        let names: Vec<&str> = table.iter().map(|(k, _)| &*k.name).collect();
        return names.iter().enumerate().all(|(i, name)| !names[..i].contains(name)).then_some(());
    }
    let mut seen = std::collections::HashSet::with_capacity(table.len());
    table.iter().all(|(k, _)| seen.insert(&*k.name)).then_some(())
}

/// Up to how many entries a table is searched key by key rather than through a hash.
const SMALL: usize = 16;

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
    fn push(&mut self, root: &mut Table, path: &[Read<'_>], table: Table) -> Option<()> {
        unique(&table)?;
        let (last, path) = path.split_last()?;
        let same = path.len() == self.parents.len() && path.iter().zip(&self.parents).all(|(a, b)| *a.name == *b.name);
        if !same {
            self.place(root)?;
            self.parents = path.iter().map(Read::owned).collect();
        }
        self.tables.push((last.owned(), table));
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
            // Searched from the end: the table on the way is most often the one made last.
            let found = at.iter().rposition(|(k, _)| k.name == key.name);
            let index = match found {
                Some(index) => index,
                None => {
                    at.push(key.clone(), Node::Table(Table::new(true)));
                    at.len() - 1
                }
            };
            at = match at.iter_mut().nth(index) {
                Some((_, Node::Table(t))) => t,
                _ => return None,
            };
        }
        // Which waiting table each is already there (made on the way to a deeper one), decided
        // before any goes in; a name twice among them is a table defined twice.
        let mut existing = Vec::with_capacity(self.tables.len());
        if at.len() + self.tables.len() <= SMALL {
            for (i, (last, _)) in self.tables.iter().enumerate() {
                if self.tables[..i].iter().any(|(k, _)| k.name == last.name) {
                    return None;
                }
                existing.push(at.position(&last.name));
            }
        } else {
            let mut names: HashMap<&str, Option<usize>> = HashMap::with_capacity(at.len() + self.tables.len());
            names.extend(at.iter().enumerate().map(|(i, (k, _))| (&*k.name, Some(i))));
            for (last, _) in &self.tables {
                match names.insert(&last.name, None) {
                    None => existing.push(None),
                    Some(Some(index)) => existing.push(Some(index)),
                    Some(None) => return None,
                }
            }
        }
        for ((last, table), existing) in self.tables.drain(..).zip(existing) {
            let Some(index) = existing else {
                at.push(last, Node::Table(table));
                continue;
            };
            let defined = match at.iter_mut().nth(index) {
                Some((_, Node::Table(t))) if t.implicit => t,
                _ => return None,
            };
            defined.implicit = false;
            for (key, node) in table.into_entries() {
                if defined.position(&key.name).is_some() {
                    return None;
                }
                defined.push(key, node);
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests;
