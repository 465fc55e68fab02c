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
//! for printing either: [`Text::read`] takes its values only, quickly (the `reader` module),
//! into a [`tree`] of plain values.

pub mod emit;
mod reader;
mod text;
pub mod tree;

use text::Root;
pub use text::{Section, Text};

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

#[cfg(test)]
pub(crate) mod tests;
