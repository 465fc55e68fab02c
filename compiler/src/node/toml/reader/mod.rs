//! A quick reader for the TOML files whose formatting gpuplan does not keep: a document of
//! values only, without the spans, decorations and representations toml_edit keeps for
//! printing. Two front ends feed one [`Builder`]: [`scan`], a single pass over the lines
//! containerd's own configs are made of, and, for any file it does not take, [`events`],
//! built on toml_parser's events (the lexer and parser toml_edit reads with).
//!
//! Input: a file's text (as [`super::Text`] holds it). Output: the document's values as a
//! [`tree`](super::tree), with keys quoted as they were read, where the top-level keys are
//! ([`super::Root`]) and where each table's header begins; or nothing, and then toml_edit reads
//! the file.
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

mod events;
mod scan;

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use super::Root;
use super::tree::{Key, Node, Table, Value};

/// How deep arrays may nest and how long a header may be: below toml_edit's limit (80), so
/// nothing it refuses for depth is read here.
const LIMIT: u32 = 64;

/// What the reader gives: the values, where the top-level keys are, and where each table's
/// header begins (its `[`), in the order of the text.
pub type Reading = (Table, Option<Root>, Vec<usize>);

/// The values of `body` and where its top-level keys and table headers are; `None` when the
/// file is not one this reader takes (see the module docs).
pub fn read(body: &str) -> Option<Reading> {
    scan::read(body).or_else(|| events::read(body))
}

/// The keys of the header whose `[` is at `at` in `body`, when it is made of bare and plainly
/// quoted keys (as the quick scan reads them).
pub fn header(body: &str, at: usize) -> Option<Vec<Cow<'_, str>>> {
    scan::header(body, at)
}

/// A key as read, borrowing the text: a header's keys are made [`Key`]s only where the tree
/// keeps them (most headers repeat the path of the one before).
struct Read<'s> {
    name: Cow<'s, str>,
    /// The key as written, when that is not its default form.
    raw: Option<&'s str>,
}

impl Read<'_> {
    fn owned(&self) -> Key {
        Key { name: self.name.as_ref().into(), raw: self.raw.map(Box::from) }
    }
}

/// The tree and the top-level keys' places, built as a front end reads headers and
/// `key = value` lines in the order of the text.
struct Builder<'s> {
    body: &'s str,
    root: Table,
    /// The top-level keys and where their values are.
    root_values: Vec<(String, Range<usize>)>,
    /// The first top-level key's indentation.
    indent: Option<String>,
    /// Where each header's `[` is.
    headers: Vec<usize>,
    /// The table being read: its header's path and its values.
    current: Option<(Vec<Read<'s>>, Table)>,
    /// The path of the last header, its vector used again for the next.
    spare: Vec<Read<'s>>,
    siblings: Siblings,
}

impl<'s> Builder<'s> {
    fn new(body: &'s str) -> Builder<'s> {
        Builder {
            body,
            root: Table::new(false),
            root_values: Vec::new(),
            indent: None,
            headers: Vec::new(),
            current: None,
            spare: Vec::new(),
            siblings: Siblings::default(),
        }
    }

    /// A header begins at `at` (its `[`): the table before it is done. The vector to read its
    /// path into.
    fn header(&mut self, at: usize) -> Option<Vec<Read<'s>>> {
        self.headers.push(at);
        match self.current.take() {
            Some((path, table)) => {
                self.siblings.push(&mut self.root, &path, table)?;
                self.spare = path;
            }
            // The top-level keys are all read.
            None => unique(&self.root)?,
        }
        let mut path = std::mem::take(&mut self.spare);
        path.clear();
        Some(path)
    }

    /// A header's path is read: its table begins.
    fn table(&mut self, path: Vec<Read<'s>>) {
        self.current = Some((path, Table::new(false)));
    }

    /// A `key = value` line: the key starting at `start`, the value at `span`. A key repeated
    /// is looked for once the table is read ([`unique`]).
    fn value(&mut self, key: &Read<'_>, start: usize, value: Value, span: Range<usize>) {
        let key = key.owned();
        match &mut self.current {
            Some((_, table)) => table.push(key, Node::Value(value)),
            None => {
                if self.indent.is_none() {
                    let line = self.body[..start].rfind('\n').map_or(0, |i| i + 1);
                    self.indent = Some(self.body[line..start].to_owned());
                }
                self.root_values.push((key.name.to_string(), span));
                self.root.push(key, Node::Value(value));
            }
        }
    }

    /// The text is read: the tree, and where the top-level keys and the headers are.
    fn finish(mut self) -> Option<Reading> {
        match self.current.take() {
            Some((path, table)) => self.siblings.push(&mut self.root, &path, table)?,
            None => unique(&self.root)?,
        }
        self.siblings.place(&mut self.root)?;
        let body = self.body;
        let root = match (self.root_values.last(), self.indent) {
            (Some((_, last)), Some(indent)) => {
                // The rest of the last value's line is its trailing comment at most.
                let end = body[last.end..].find('\n').map_or(body.len(), |i| last.end + i + 1);
                Some(Root { values: self.root_values, end, indent })
            }
            _ => None,
        };
        Some((self.root, root, self.headers))
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
            at = at.table_at(index)?;
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
            let defined = at.table_at(index).filter(|t| t.implicit)?;
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
