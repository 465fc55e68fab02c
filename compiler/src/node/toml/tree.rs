//! A plain tree of TOML values: what the quick reader (`node::toml::reader`) builds from a file
//! whose formatting gpuplan does not keep, and what containerd's drop-in is printed from.
//!
//! Input: the reader's keys and values, gpuplan's own entries (converted from toml_edit, where
//! they are built), edits by key. Output: the tree's values, toml_edit tables of any part of it
//! ([`Table::to_edit`]), and (through [`super::emit::tree`]) its text.
//!
//! Why: toml_edit's types carry a representation and decoration for every key and value, and
//! a hashed index per table, to print a file back as it was. A file read for its values only
//! (a 2,000-line config's hundreds of registry mirrors, repeated whole in the drop-in) spent
//! more on building, moving and dropping those than on everything else. The tree holds what
//! the drop-in needs and no more: tables in order, keys with the quoting they were read with
//! where it is not the default one, and strings, integers, floats, booleans and arrays — the
//! forms the reader takes. Tables are explicit or implicit; none is dotted.

use toml_edit::{Array, Item, Key as EditKey};

/// A table: its entries in order, and whether it shows a header of its own.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// A table with no header of its own (made on the way to a deeper one).
    pub implicit: bool,
    entries: Vec<(Key, Node)>,
}

/// A key: its name, and how it was written where that is not the default form.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key's name, unquoted.
    pub name: Box<str>,
    /// The key as it was written, when that is not how it is written by default.
    pub raw: Option<Box<str>>,
}

/// What a key holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A `[table]`.
    Table(Table),
    /// A value.
    Value(Value),
}

/// A value of one of the forms the quick reader takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    String(Box<str>),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Boolean(bool),
    /// An array.
    Array(Vec<Value>),
}

impl Key {
    /// A key written in its default form.
    pub fn new(name: &str) -> Key {
        Key { name: name.into(), raw: None }
    }
}

impl Table {
    /// An empty table.
    pub fn new(implicit: bool) -> Table {
        Table { implicit, entries: Vec::new() }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, (Key, Node)> {
        self.entries.iter()
    }

    /// Where the entry named `name` is.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| *k.name == *name)
    }

    /// What `name` holds.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.entries.iter().find(|(k, _)| *k.name == *name).map(|(_, n)| n)
    }

    /// What `name` holds, for editing.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.entries.iter_mut().find(|(k, _)| *k.name == *name).map(|(_, n)| n)
    }

    /// The sub-table `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        match self.get(name)? {
            Node::Table(t) => Some(t),
            Node::Value(_) => None,
        }
    }

    /// The sub-table `name`, for editing.
    pub fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.position(name).and_then(|index| self.table_at(index))
    }

    /// The sub-table at `index`, for editing.
    pub fn table_at(&mut self, index: usize) -> Option<&mut Table> {
        match self.entries.get_mut(index)? {
            (_, Node::Table(t)) => Some(t),
            (_, Node::Value(_)) => None,
        }
    }

    /// The sub-table `name`, taken out; `None`, and nothing taken, when `name` holds a value.
    pub fn take_table(&mut self, name: &str) -> Option<Table> {
        let index = self.position(name)?;
        if let Node::Value(_) = self.entries[index].1 {
            return None;
        }
        match self.entries.remove(index).1 {
            Node::Table(t) => Some(t),
            Node::Value(_) => None,
        }
    }

    /// The entries, taken out.
    pub fn into_entries(self) -> Vec<(Key, Node)> {
        self.entries
    }

    /// Add an entry at the end, whatever the table holds already (the reader checks for
    /// repeats itself).
    pub fn push(&mut self, key: Key, node: Node) {
        self.entries.push((key, node));
    }

    /// Set `name` to `node`: in its place when the table has it (the key as it was written
    /// is kept, as toml_edit keeps it), else at the end.
    pub fn insert(&mut self, name: &str, node: Node) {
        match self.get_mut(name) {
            Some(old) => *old = node,
            None => self.entries.push((Key::new(name), node)),
        }
    }

    /// Make this table and every one under it explicit, as [`super::emit::reset_structure`]
    /// does a toml_edit table's.
    pub fn reset_structure(&mut self) {
        self.implicit = false;
        for (_, node) in &mut self.entries {
            if let Node::Table(t) = node {
                t.reset_structure();
            }
        }
    }

    /// The table as toml_edit holds it: the same keys (quoted as they were written), values
    /// in their default form, the same implicit tables.
    pub fn to_edit(&self) -> toml_edit::Table {
        let mut table = toml_edit::Table::new();
        table.set_implicit(self.implicit);
        for (key, node) in &self.entries {
            let item = match node {
                Node::Table(t) => Item::Table(t.to_edit()),
                Node::Value(v) => Item::Value(v.to_edit()),
            };
            table.extend([(key.to_edit(), item)]);
        }
        table
    }

    /// A toml_edit table as a tree: `None` when it holds what a tree does not (an inline
    /// table, a date-time, an array of tables, a dotted table).
    pub fn from_edit(table: &toml_edit::Table) -> Option<Table> {
        let mut tree = Table { implicit: table.is_implicit(), entries: Vec::with_capacity(table.len()) };
        for (name, item) in table.iter() {
            let node = match item {
                Item::Table(t) if !t.is_dotted() => Node::Table(Table::from_edit(t)?),
                Item::Value(v) => Node::Value(Value::from_edit(v)?),
                _ => return None,
            };
            let raw = table.key(name)?.as_repr().and_then(|r| r.as_raw().as_str()).map(Box::from);
            tree.entries.push((Key { name: name.into(), raw }, node));
        }
        Some(tree)
    }
}

impl Key {
    fn to_edit(&self) -> EditKey {
        match &self.raw {
            // A key read as written parses back to itself (the reader made it from that text).
            Some(raw) => {
                EditKey::parse(raw).ok().and_then(|mut keys| keys.pop()).unwrap_or_else(|| EditKey::new(&*self.name))
            }
            None => EditKey::new(&*self.name),
        }
    }
}

impl Value {
    /// The value as toml_edit holds it, in its default form.
    pub fn to_edit(&self) -> toml_edit::Value {
        match self {
            Value::String(s) => toml_edit::Value::from(&**s),
            Value::Integer(i) => toml_edit::Value::from(*i),
            Value::Float(f) => toml_edit::Value::from(*f),
            Value::Boolean(b) => toml_edit::Value::from(*b),
            Value::Array(a) => {
                let mut array = Array::new();
                for v in a {
                    array.push_formatted(v.to_edit());
                }
                toml_edit::Value::Array(array)
            }
        }
    }

    /// A toml_edit value as a tree's: `None` for an inline table or a date-time.
    pub fn from_edit(value: &toml_edit::Value) -> Option<Value> {
        Some(match value {
            toml_edit::Value::String(s) => Value::String(s.value().as_str().into()),
            toml_edit::Value::Integer(i) => Value::Integer(*i.value()),
            toml_edit::Value::Float(f) => Value::Float(*f.value()),
            toml_edit::Value::Boolean(b) => Value::Boolean(*b.value()),
            toml_edit::Value::Array(a) => Value::Array(a.iter().map(Value::from_edit).collect::<Option<_>>()?),
            toml_edit::Value::Datetime(_) | toml_edit::Value::InlineTable(_) => return None,
        })
    }
}
