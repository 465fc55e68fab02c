//! A printer for TOML documents gpuplan generates whole (containerd's drop-in): the text
//! toml_edit gives such a document once its formatting is [reset](super::reset), written
//! straight into one string.
//!
//! Input: a document's root table whose formatting gpuplan does not keep: every value is
//! printed in its default form and every table and key without decoration, as after
//! [`super::reset`], while the structure counts as it is (which tables are implicit or
//! dotted) and keys keep the quoting they were read with (`reset` keeps it too). Output: the
//! same bytes toml_edit's `Display` gives that document after `reset` — a test holds the two
//! together — or nothing, for a document with an array of tables (containerd's CRI section has
//! none), which is left to toml_edit.
//!
//! Why: toml_edit prints through `fmt::Write` and builds the default form of every value as a
//! string of its own; for the drop-in of a 2,000-line config that cost more than the reset and
//! the rest of the patch together. Here the quoting is toml_writer's, the crate toml_edit
//! quotes with, so strings and keys come out the same.

use std::fmt::Write as _;

use toml_edit::{Item, KeyMut, Table, Value};
use toml_writer::{TomlStringBuilder, WriteTomlKey as _, WriteTomlValue as _};

use super::tree;

/// Append the text of the document whose root is `root` to `out`, as toml_edit prints it
/// after [`super::reset`]; `false` (and nothing appended) when it holds an array of tables.
/// The table is borrowed mutably only to walk it with its keys (toml_edit lends a key's
/// quoting with the item only that way); nothing in it changes.
pub fn fresh(out: &mut String, root: &mut Table) -> bool {
    let start = out.len();
    let mut printer = Printer { out, path: String::new(), first: true };
    let printed = printer.table(root);
    if !printed {
        printer.out.truncate(start);
    }
    printed
}

/// Clear what [`fresh`] reads of a table's formatting: it and its sub-tables become explicit
/// (each prints its header), as [`super::reset`] makes them. The values are left as they are:
/// [`fresh`] prints them in their default form whatever they hold.
pub fn reset_structure(table: &mut Table) {
    table.set_implicit(false);
    for (_, item) in table.iter_mut() {
        if let Item::Table(t) = item {
            reset_structure(t);
        }
    }
}

struct Printer<'o> {
    out: &'o mut String,
    /// The dotted path of the table being printed, as its header shows it.
    path: String,
    /// No table header printed yet (the first one has no blank line before it).
    first: bool,
}

impl Printer<'_> {
    /// A table, then the tables under it, in the order they nest (every table's position is
    /// unset after a reset, so toml_edit's order is this one too); `false` at an array of
    /// tables.
    fn table(&mut self, t: &mut Table) -> bool {
        if !t.is_dotted() {
            let root = self.path.is_empty();
            // An implicit table shows its header only when it has key/values of its own.
            let mut pending = !root && t.is_implicit();
            if !root && !pending {
                self.header();
            }
            if self.values(t, &mut String::new(), &mut pending) && root {
                self.first = false;
            }
        }
        for (k, item) in t.iter_mut() {
            match item {
                Item::Table(sub) => {
                    let len = self.path.len();
                    if len > 0 {
                        self.path.push('.');
                    }
                    key(&mut self.path, &k);
                    let printed = self.table(sub);
                    self.path.truncate(len);
                    if !printed {
                        return false;
                    }
                }
                Item::ArrayOfTables(_) => return false,
                Item::None | Item::Value(_) => {}
            }
        }
        true
    }

    fn header(&mut self) {
        header(self.out, &mut self.first, &self.path);
    }

    /// A table's `key = value` lines, its dotted tables' as `a.b = value` (`dotted` is the
    /// prefix so far); the header first if it is `pending`. Whether any line was printed.
    fn values(&mut self, t: &mut Table, dotted: &mut String, pending: &mut bool) -> bool {
        let mut any = false;
        for (k, item) in t.iter_mut() {
            match item {
                Item::Value(v) => {
                    if std::mem::take(pending) {
                        self.header();
                    }
                    any = true;
                    self.out.push_str(dotted);
                    key(self.out, &k);
                    self.out.push_str(" = ");
                    value(self.out, v);
                    self.out.push('\n');
                }
                Item::Table(sub) if sub.is_dotted() => {
                    let len = dotted.len();
                    key(dotted, &k);
                    dotted.push('.');
                    any |= self.values(sub, dotted, pending);
                    dotted.truncate(len);
                }
                _ => {}
            }
        }
        any
    }
}

/// Append the text of the tree whose root is `root` to `out`: the bytes [`fresh`] gives for
/// the same document in toml_edit's types ([`tree::Table::to_edit`]; a test holds the two
/// together), without making it.
pub fn tree(out: &mut String, root: &tree::Table) {
    TreePrinter { out, path: String::new(), first: true }.table(root);
}

/// [`Printer`] over a tree, which has no dotted tables and no arrays of tables.
struct TreePrinter<'o> {
    out: &'o mut String,
    path: String,
    first: bool,
}

impl TreePrinter<'_> {
    fn table(&mut self, t: &tree::Table) {
        let root = self.path.is_empty();
        // An implicit table shows its header only when it has key/values of its own.
        let mut pending = !root && t.implicit;
        if !root && !pending {
            self.header();
        }
        for (k, node) in t.iter() {
            if let tree::Node::Value(v) = node {
                if std::mem::take(&mut pending) {
                    self.header();
                }
                self.first &= !root;
                tree_key(self.out, k);
                self.out.push_str(" = ");
                tree_value(self.out, v);
                self.out.push('\n');
            }
        }
        for (k, node) in t.iter() {
            if let tree::Node::Table(sub) = node {
                let len = self.path.len();
                if len > 0 {
                    self.path.push('.');
                }
                tree_key(&mut self.path, k);
                self.table(sub);
                self.path.truncate(len);
            }
        }
    }

    fn header(&mut self) {
        header(self.out, &mut self.first, &self.path);
    }
}

/// A table's header line, after a blank line unless it is the first header printed.
fn header(out: &mut String, first: &mut bool, path: &str) {
    if !std::mem::take(first) {
        out.push('\n');
    }
    out.push('[');
    out.push_str(path);
    out.push_str("]\n");
}

fn tree_key(out: &mut String, k: &tree::Key) {
    match &k.raw {
        Some(raw) => out.push_str(raw),
        None => default_key(out, &k.name),
    }
}

/// A tree's value in its default form, as [`value`] prints toml_edit's.
fn tree_value(out: &mut String, v: &tree::Value) {
    // Writing into a String cannot fail.
    let _ = match v {
        tree::Value::String(s) => {
            default_string(out, s);
            Ok(())
        }
        tree::Value::Integer(i) => i.write_toml_value(out),
        tree::Value::Float(f) => f.write_toml_value(out),
        tree::Value::Boolean(b) => b.write_toml_value(out),
        tree::Value::Array(a) => {
            array(out, a, tree_value);
            Ok(())
        }
    };
}

/// An array in its default form: its elements, each printed by `element`, between brackets.
fn array<'v, V: 'v>(out: &mut String, elements: impl IntoIterator<Item = &'v V>, element: fn(&mut String, &V)) {
    out.push('[');
    for (i, v) in elements.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        element(out, v);
    }
    out.push(']');
}

/// A string in its default form, as toml_writer writes it: in plain double quotes when nothing
/// in it needs escaping or another kind of quotes (the strings of containerd configs), else as
/// toml_writer chooses.
fn default_string(out: &mut String, s: &str) {
    if plain_quotable(s) {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        let _ = TomlStringBuilder::new(s).as_default().write_toml_value(out);
    }
}

/// A key as it was read (its quoting kept), or in its default form.
fn key(out: &mut String, k: &KeyMut<'_>) {
    match k.as_repr().and_then(|r| r.as_raw().as_str()) {
        Some(raw) => out.push_str(raw),
        None => default_key(out, k.get()),
    }
}

/// A key in its default form, as toml_writer writes it: bare when it can be, else in plain
/// double quotes when it can be (the two cases containerd's keys fall in, written here
/// directly), else as toml_writer chooses.
pub fn default_key(out: &mut String, k: &str) {
    if bare(k) {
        out.push_str(k);
    } else if plain_quotable(k) {
        out.push('"');
        out.push_str(k);
        out.push('"');
    } else {
        // Writing into a String cannot fail.
        let _ = k.write_toml_key(out);
    }
}

/// Whether a key is written without quotes.
pub fn bare(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a key that needs quotes takes plain double quotes, with nothing escaped: it holds no
/// double quote, backslash or control character (a tab is left to toml_writer).
pub fn plain_quotable(k: &str) -> bool {
    k.bytes().all(|b| b >= 0x20 && b != 0x7f && b != b'"' && b != b'\\')
}

/// A value in its default form: what toml_edit prints for a value with no representation or
/// decoration of its own.
fn value(out: &mut String, v: &Value) {
    // Writing into a String cannot fail.
    let _ = match v {
        Value::String(s) => {
            default_string(out, s.value());
            Ok(())
        }
        Value::Integer(i) => i.value().write_toml_value(out),
        Value::Float(f) => f.value().write_toml_value(out),
        Value::Boolean(b) => b.value().write_toml_value(out),
        Value::Datetime(d) => write!(out, "{}", d.value()),
        Value::Array(a) => {
            array(out, a.iter(), value);
            Ok(())
        }
        Value::InlineTable(t) => {
            // A reset inline table is rebuilt: not dotted, its keys in their default form.
            out.push('{');
            let last = t.len().saturating_sub(1);
            for (i, (k, element)) in t.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { " " });
                default_key(out, k);
                out.push_str(" = ");
                value(out, element);
                if i == last {
                    out.push(' ');
                }
            }
            out.push('}');
            Ok(())
        }
    };
}
