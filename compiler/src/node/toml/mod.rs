//! Format-preserving TOML edits for the node engines.
//!
//! Input: TOML text. Output: documents (`toml_edit`, wrapped in [`Text`] so that a byte-order
//! mark, CRLF line ends and a missing final newline survive) and the few edits the engines
//! make to them, each made so that the rest of the file keeps its bytes: tables and keys added
//! in the style of their siblings, and a changed value keeping its line's decoration (a
//! comment after it stays). What a value was before gpuplan is kept in gpuplan's record
//! ([`super::record`]), not in the file.
//!
//! Two edits skip toml_edit's printer, which costs more than the parse on a long file, and
//! give its bytes all the same (tests hold each to it): a top-level key set in the text as
//! it is ([`Text::with_root_key`]: containerd's `imports`), and a document gpuplan generates
//! whole printed by [`emit`] (containerd's drop-in). A file that is not printed is not parsed
//! for printing either: [`Text::read`] takes its values only, quickly ([`reader`]).

pub mod emit;
mod reader;
pub mod tree;

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value as J;
use toml_edit::{DocumentMut, Item, Table, Value};

use crate::error::Error;
use crate::values::Span;

/// Parse a file, or report where it is malformed.
pub fn parse(text: &str, file: &str) -> Result<DocumentMut, Error> {
    Ok(parse_spanned(text, file)?.into_mut())
}

/// Parse a file keeping where each part of it is in the text, or report where it is malformed.
fn parse_spanned<'t>(text: &'t str, file: &str) -> Result<toml_edit::Document<&'t str>, Error> {
    toml_edit::Document::parse(text).map_err(|e| Error::NodeConfig {
        file: Arc::from(file),
        span: e.span().map(|r| position(text, r.start)),
        message: e.message().trim().to_owned(),
    })
}

/// 1-based line and column (in characters) of a byte offset.
pub fn position(text: &str, offset: usize) -> Span {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Span { line: u32::try_from(line).unwrap_or(u32::MAX), col: u32::try_from(col).unwrap_or(u32::MAX) }
}

/// The table at a dotted path of keys, if every step is a table.
pub fn table<'a>(doc: &'a Table, path: &[&str]) -> Option<&'a Table> {
    let mut t = doc;
    for key in path {
        t = t.get(key)?.as_table()?;
    }
    Some(t)
}

/// The table at a path, for editing, if every step is a table.
pub fn table_mut<'a>(doc: &'a mut Table, path: &[&str]) -> Option<&'a mut Table> {
    let mut t = doc;
    for key in path {
        t = t.get_mut(key)?.as_table_mut()?;
    }
    Some(t)
}

/// The table at a path, created (as implicit tables, which print no header of their own)
/// where missing. Fails only when a step holds something other than a table.
pub fn ensure_table<'a>(doc: &'a mut Table, path: &[&str], file: &str) -> Result<&'a mut Table, Error> {
    let mut t = doc;
    for (i, key) in path.iter().enumerate() {
        if !t.contains_key(key) {
            let mut new = Table::new();
            new.set_implicit(true);
            t.insert(key, Item::Table(new));
        }
        t = t.get_mut(key).and_then(Item::as_table_mut).ok_or_else(|| Error::NodeConfig {
            file: Arc::from(file),
            span: None,
            message: format!("`{}` is not a table", path[..=i].join(".")),
        })?;
    }
    Ok(t)
}

/// A plain, comparable form of an item (formatting ignored).
pub fn plain(item: &Item) -> J {
    match item {
        Item::None => J::Null,
        Item::Value(v) => plain_value(v),
        Item::Table(t) => J::Object(t.iter().map(|(k, v)| (k.to_owned(), plain(v))).collect()),
        Item::ArrayOfTables(a) => {
            J::Array(a.iter().map(|t| J::Object(t.iter().map(|(k, v)| (k.to_owned(), plain(v))).collect())).collect())
        }
    }
}

fn plain_value(v: &Value) -> J {
    match v {
        Value::String(s) => J::String(s.value().clone()),
        Value::Integer(i) => J::from(*i.value()),
        Value::Float(f) => serde_json::Number::from_f64(*f.value()).map_or(J::Null, J::Number),
        Value::Boolean(b) => J::Bool(*b.value()),
        Value::Datetime(d) => J::String(d.value().to_string()),
        Value::Array(a) => J::Array(a.iter().map(plain_value).collect()),
        Value::InlineTable(t) => J::Object(t.iter().map(|(k, v)| (k.to_owned(), plain_value(v))).collect()),
    }
}

/// A deep copy of a table with its formatting reset, ready to go into another document.
pub fn fresh_copy(table: &Table) -> Table {
    let mut copy = table.clone();
    reset(&mut copy);
    copy
}

/// Reset a table's formatting in place (see [`fresh_copy`]), for a table taken out of its
/// document.
pub fn reset(table: &mut Table) {
    table.decor_mut().clear();
    table.set_position(None);
    table.set_implicit(false);
    table.fmt();
    for (mut key, item) in table.iter_mut() {
        key.leaf_decor_mut().clear();
        key.dotted_decor_mut().clear();
        match item {
            Item::Table(t) => reset(t),
            Item::ArrayOfTables(a) => a.iter_mut().for_each(reset),
            Item::Value(v) => *v = fresh_value(v),
            Item::None => {}
        }
    }
}

/// A value in the default representation (double-quoted strings, plain arrays), no decoration.
fn fresh_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::from(s.value().as_str()),
        Value::Integer(i) => Value::from(*i.value()),
        Value::Float(f) => Value::from(*f.value()),
        Value::Boolean(b) => Value::from(*b.value()),
        Value::Datetime(d) => Value::from(*d.value()),
        Value::Array(a) => Value::Array(a.iter().map(fresh_value).collect()),
        Value::InlineTable(t) => Value::InlineTable(t.iter().map(|(k, v)| (k.to_owned(), fresh_value(v))).collect()),
    }
}

/// Give a new table (and its sub-tables) the header and key indentation of a sibling, so an
/// added `[...runtimes.nvidia]` looks like the `[...runtimes.runc]` next to it.
pub fn style_like(new: &mut Table, sibling: &Table) {
    new.decor_mut().set_prefix(header_spacing(sibling.decor()));
    let key_indent = sibling
        .iter()
        .find_map(|(k, item)| item.is_value().then(|| sibling.key(k)).flatten())
        .map(|k| indentation(k.leaf_decor()));
    let sub_sibling: Option<&Table> = sibling.iter().find_map(|(_, i)| i.as_table());
    for (mut key, item) in new.iter_mut() {
        match item {
            Item::Value(_) => {
                if let Some(indent) = &key_indent {
                    key.leaf_decor_mut().set_prefix(indent.clone());
                }
            }
            Item::Table(t) => match sub_sibling {
                Some(s) => style_like(t, s),
                None => t.decor_mut().set_prefix(header_spacing(sibling.decor())),
            },
            _ => {}
        }
    }
}

fn prefix(decor: &toml_edit::Decor) -> String {
    decor.prefix().and_then(|p| p.as_str()).unwrap_or_default().to_owned()
}

/// The indentation at the end of a decoration (comments and blank lines above are not style).
fn indentation(decor: &toml_edit::Decor) -> String {
    last_line_indentation(&prefix(decor))
}

/// The last line of a decoration's prefix, when it is only whitespace.
fn last_line_indentation(prefix: &str) -> String {
    let last = prefix.rsplit('\n').next().unwrap_or_default();
    if last.chars().all(char::is_whitespace) { last.to_owned() } else { String::new() }
}

/// A header's spacing: a blank line before it if the sibling has one, then its indentation.
fn header_spacing(decor: &toml_edit::Decor) -> String {
    let blank = if prefix(decor).contains('\n') { "\n" } else { "" };
    format!("{blank}{}", indentation(decor))
}

/// Insert a new key styled like the table's existing keys (their indentation).
pub fn insert_styled(table: &mut Table, key: &str, value: Value) {
    let indent = table
        .iter()
        .find_map(|(k, item)| item.is_value().then(|| table.key(k)).flatten())
        .map(|k| indentation(k.leaf_decor()));
    table.insert(key, Item::Value(value));
    if let (Some(indent), Some(mut k)) = (indent, table.key_mut(key)) {
        k.leaf_decor_mut().set_prefix(indent);
    }
}

/// Set `key` to `value`, keeping the line's decoration (indentation, a trailing comment); a
/// new key is styled like the table's others, and a table that had no header of its own gets
/// one. Returns whether anything changed.
pub fn set_value(table: &mut Table, key: &str, value: Value) -> bool {
    let Some(item) = table.get_mut(key) else {
        table.set_implicit(false);
        insert_styled(table, key, value);
        return true;
    };
    let Some(current) = item.as_value_mut() else {
        return false;
    };
    if plain_value(current) == plain_value(&value) {
        return false;
    }
    let decor = current.decor().clone();
    *current = value;
    *current.decor_mut() = decor;
    true
}

/// A TOML file as [`parse`] reads it, with what toml_edit does not give back: a byte-order
/// mark, CRLF line ends, a missing final newline.
pub struct Text {
    /// The document.
    pub doc: DocumentMut,
    bom: bool,
    crlf: bool,
    final_newline: bool,
    /// The text parsed (without the byte-order mark, with `\n` line ends and a final newline),
    /// kept for [`Text::exact`] and [`Text::with_root_key`].
    body: String,
    /// Where the top-level keys are in `body` (see [`Text::with_root_key`]); `None` when they
    /// are not all plain lines.
    root: Option<Root>,
    /// Whether `doc` keeps the file's formatting and can be printed ([`Text::parse`]), or holds
    /// its values only ([`Text::read`]).
    formatted: bool,
    /// The values, when [`Text::read`] read them quickly (`doc` is empty then): see
    /// [`Text::item`] and [`Text::take_table`].
    tree: Option<tree::Table>,
}

/// A table taken out of a [`Text`]: a tree's, or toml_edit's.
pub enum Section {
    /// Read quickly ([`Text::read`]).
    Tree(tree::Table),
    /// Parsed by toml_edit.
    Edit(Table),
}

/// Where the top-level `key = value` lines of a file are.
#[derive(Debug)]
struct Root {
    /// Each key and where its value is in the text.
    values: Vec<(String, std::ops::Range<usize>)>,
    /// Where a new key goes: after the line of the last one.
    end: usize,
    /// The indentation a new key takes: the first key's.
    indent: String,
}

impl Text {
    /// Parse a file's text, keeping its formatting for [`Text::render`].
    pub fn parse(file: &str, text: &str) -> Result<Text, Error> {
        let mut text = Text::unparsed(text);
        text.make_printable(file)?;
        Ok(text)
    }

    /// Read a file's values, for a caller that does not print the document: its keys as they
    /// were quoted, its values without their formatting, and where its top-level keys are.
    /// Quicker than [`Text::parse`] on a long file (see [`reader`]); a file the quick reader
    /// does not take is parsed. [`Text::make_printable`] parses it for printing.
    pub fn read(file: &str, text: &str) -> Result<Text, Error> {
        let mut unparsed = Text::unparsed(text);
        match reader::read(&unparsed.body) {
            Some((tree, root)) => {
                unparsed.tree = Some(tree);
                unparsed.root = root;
                Ok(unparsed)
            }
            None => {
                unparsed.make_printable(file)?;
                Ok(unparsed)
            }
        }
    }

    /// Parse the text for printing, if it was only [read](Text::read): what [`Text::parse`]
    /// would have given. Edits made to the values read are lost.
    pub fn make_printable(&mut self, file: &str) -> Result<(), Error> {
        if !self.formatted {
            let spanned = parse_spanned(&self.body, file)?;
            self.root = root(&spanned);
            self.doc = spanned.into_mut();
            self.formatted = true;
            self.tree = None;
        }
        Ok(())
    }

    /// Whether the file holds no keys.
    pub fn is_empty(&self) -> bool {
        self.tree.as_ref().map_or_else(|| self.doc.as_table().is_empty(), tree::Table::is_empty)
    }

    /// What the file holds at a path of keys, in toml_edit's types (made for the occasion from
    /// a file [read](Text::read) quickly).
    pub fn item(&self, path: &[&str]) -> Option<Cow<'_, Item>> {
        let Some(tree) = &self.tree else {
            let (last, parents) = path.split_last()?;
            return table(self.doc.as_table(), parents)?.get(last).map(Cow::Borrowed);
        };
        let (last, parents) = path.split_last()?;
        let mut at = tree;
        for key in parents {
            at = match at.get(key)? {
                tree::Node::Table(t) => t,
                tree::Node::Value(_) => return None,
            };
        }
        Some(Cow::Owned(match at.get(last)? {
            tree::Node::Table(t) => Item::Table(t.to_edit()),
            tree::Node::Value(v) => Item::Value(v.to_edit()),
        }))
    }

    /// The table at a path, taken out of the file's values; `None` unless every step is a
    /// table.
    pub fn take_table(&mut self, path: &[&str]) -> Option<Section> {
        let (last, parents) = path.split_last()?;
        let Some(tree) = &mut self.tree else {
            let parent = table_mut(self.doc.as_table_mut(), parents)?;
            parent.get(last)?.as_table()?;
            return parent.remove(last)?.into_table().ok().map(Section::Edit);
        };
        let mut at = tree;
        for key in parents {
            at = at.table_mut(key)?;
        }
        let index = at.position(last)?;
        matches!(at.iter().nth(index), Some((_, tree::Node::Table(_)))).then_some(())?;
        match at.remove_at(index) {
            (_, tree::Node::Table(t)) => Some(Section::Tree(t)),
            (_, tree::Node::Value(_)) => None,
        }
    }

    /// The text, not yet parsed.
    fn unparsed(text: &str) -> Text {
        let (bom, text) = text.strip_prefix('\u{feff}').map_or((false, text), |rest| (true, rest));
        let crlf = text.contains("\r\n") && text.matches('\n').count() == text.matches("\r\n").count();
        let mut body = if crlf { text.replace("\r\n", "\n") } else { text.to_owned() };
        let final_newline = body.is_empty() || body.ends_with('\n');
        if !final_newline {
            body.push('\n');
        }
        Text { doc: DocumentMut::new(), bom, crlf, final_newline, body, root: None, formatted: false, tree: None }
    }

    /// The file's text with the top-level `key` set to `value`, written into the text as it
    /// is rather than by printing the document again: the same bytes toml_edit gives after
    /// [`set_value`] (a test holds the two together), at a fraction of the cost on a long
    /// file. A new key goes after the last top-level one, indented like the first; a value
    /// replaced keeps the rest of its line. `None` when the top-level keys are not all plain
    /// `key = value` lines; then [`set_value`] and [`Text::render`] do it.
    pub fn with_root_key(&self, key: &str, value: &Value) -> Option<String> {
        let root = self.root.as_ref()?;
        let mut bare = value.clone();
        bare.decor_mut().clear();
        let (range, new) = match root.values.iter().find(|(k, _)| k == key) {
            Some((_, span)) => (span.clone(), bare.to_string()),
            None if self.item(&[key]).is_some() => return None,
            None => {
                let key = toml_edit::Key::new(key);
                (root.end..root.end, format!("{}{} = {bare}\n", root.indent, key.display_repr()))
            }
        };
        let mut text = String::with_capacity(self.body.len() + new.len());
        text.push_str(&self.body[..range.start]);
        text.push_str(&new);
        text.push_str(&self.body[range.end..]);
        Some(self.finish(text))
    }

    /// Whether the text comes back byte for byte when nothing is edited. toml_edit gives back
    /// all it parses but carriage returns (line ends of one kind leave none in the body: see
    /// [`Text::parse`]), so only a body holding one is printed to compare, which costs a
    /// rendering of the whole document. A test holds toml_edit to the rule.
    pub fn exact(&self) -> bool {
        debug_assert!(self.formatted, "a document read for its values only is never printed");
        !self.body.contains('\r') || self.doc.to_string() == self.body
    }

    /// The document's text, with the file's byte-order mark, line ends and final newline.
    pub fn render(&self) -> String {
        debug_assert!(self.formatted, "a document read for its values only is never printed");
        self.render_doc(&self.doc)
    }

    /// Another document's text in this file's manner.
    pub fn render_doc(&self, doc: &DocumentMut) -> String {
        self.finish(doc.to_string())
    }

    /// Text with `\n` line ends and a final newline, in this file's manner.
    fn finish(&self, mut text: String) -> String {
        if !self.final_newline && text.ends_with('\n') {
            text.pop();
        }
        if self.crlf {
            text = text.replace('\n', "\r\n");
        }
        if self.bom { format!("\u{feff}{text}") } else { text }
    }
}

/// Where a document's top-level values are, where toml_edit puts a new top-level key when it
/// prints the document — after the line of the last top-level `key = value`, before any comment
/// or blank line above the first table — and the indentation [`insert_styled`] gives it (the
/// first key's). `None` unless there is a top-level key and every one is a plain
/// `key = value` (no dotted keys, whose order toml_edit keeps in other ways).
fn root(doc: &toml_edit::Document<&str>) -> Option<Root> {
    let text = doc.raw();
    let table = doc.as_table();
    let mut values = Vec::new();
    let mut indent = None;
    for (name, item) in table.iter() {
        match item {
            Item::Value(v) if !v.as_inline_table().is_some_and(toml_edit::InlineTable::is_dotted) => {
                values.push((name.to_owned(), v.span()?));
                if indent.is_none() {
                    let key = table.key(name)?;
                    // An empty decoration has no span.
                    let prefix = match key.leaf_decor().prefix() {
                        Some(raw) => match raw.span() {
                            Some(span) => text.get(span)?,
                            None => raw.as_str().unwrap_or_default(),
                        },
                        None => "",
                    };
                    indent = Some(last_line_indentation(prefix));
                }
            }
            Item::Table(t) if !t.is_dotted() => {}
            Item::ArrayOfTables(_) => {}
            _ => return None,
        }
    }
    // The rest of the last value's line is its trailing comment at most.
    let last = values.last()?.1.end;
    let end = text[last..].find('\n').map_or(text.len(), |i| last + i + 1);
    Some(Root { values, end, indent: indent? })
}

#[cfg(test)]
pub(crate) mod tests;
