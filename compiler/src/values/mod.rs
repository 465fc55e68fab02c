//! The untyped values tree, exactly as Helm sees it, with the origin of every node.
//!
//! Input: text from the built-in defaults, `-f` files and `--set*` flags (see [`load`] and
//! [`set`]). Output: [`Values`], a map of [`Node`]s where each node knows its [`Source`] and,
//! where one exists, its line and column. [`merge`] combines trees with Helm's rules and
//! [`print`] writes them back as YAML or JSON the way Helm prints them.
//!
//! Numbers keep Helm's two types: `--set` produces 64-bit integers ([`Value::Int`]), YAML
//! and `--set-json` produce 64-bit floats ([`Value::Float`]). The difference is observable in
//! Helm's output, so it is kept here rather than normalised away.

pub mod de;
pub mod json;
pub mod load;
pub mod merge;
pub mod print;
pub mod set;
pub mod snapshot;
mod subset;
pub mod trusted;

use std::collections::BTreeMap;

pub use crate::origin::{FlagKind, Origin, Source, Span};

/// A map of values; keys sort by bytes, as Go sorts map keys when it prints them.
pub type Map = BTreeMap<String, Node>;

/// The effective or user-supplied values: the top of a values tree is always a map.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Values(pub Map);

/// One value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value itself.
    pub value: Value,
    /// Where the value was written.
    pub origin: Origin,
}

/// A value of the tree, with Helm's types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or an empty YAML value; `--set a=null`; `--set-json a=`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer: only `--set` produces these.
    Int(i64),
    /// A 64-bit float: every number from YAML or JSON.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<Node>),
    /// A map.
    Map(Map),
}

impl Node {
    /// A node with the given value and origin.
    pub fn new(value: Value, origin: Origin) -> Self {
        Node { value, origin }
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The map inside, if this is a map.
    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Visit every node below and including this one, with its JSON pointer.
    pub fn walk<'a>(&'a self, pointer: &mut String, visit: &mut dyn FnMut(&str, &'a Node)) {
        visit(pointer, self);
        let len = pointer.len();
        match &self.value {
            Value::Map(map) => {
                for (key, child) in map {
                    pointer.push('/');
                    push_pointer_token(pointer, key);
                    child.walk(pointer, visit);
                    pointer.truncate(len);
                }
            }
            Value::List(items) => {
                for (i, child) in items.iter().enumerate() {
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    child.walk(pointer, visit);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }
}

impl Value {
    /// The JSON Schema name of this value's type, as schema errors say it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::List(_) => "array",
            Value::Map(_) => "object",
        }
    }

    /// Whether two values are equal, ignoring where their nodes came from.
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.value.same(&y.value))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|((ka, x), (kb, y))| ka == kb && x.value.same(&y.value))
            }
            (a, b) => a == b,
        }
    }

    /// The value as plain JSON for the schema validator and serde. Integral floats become
    /// integers there, because JSON Schema and serde treat `1.0` and `1` alike only that way.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
                // Exact: the float is integral and within the range where f64 holds integers.
                J::from(*f as i64)
            }
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::List(items) => J::Array(items.iter().map(|n| n.value.to_json()).collect()),
            Value::Map(map) => J::Object(map.iter().map(|(k, n)| (k.clone(), n.value.to_json())).collect()),
        }
    }

    /// Build a value from plain JSON, every node with the same origin. JSON numbers become
    /// floats, as Go's `encoding/json` decodes them.
    pub fn from_json(json: &serde_json::Value, origin: &Origin) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_f64() {
                Some(f) => Value::Float(f),
                None => Value::Null,
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => {
                Value::List(items.iter().map(|j| Node::new(Value::from_json(j, origin), origin.clone())).collect())
            }
            J::Object(map) => Value::Map(
                map.iter().map(|(k, j)| (k.clone(), Node::new(Value::from_json(j, origin), origin.clone()))).collect(),
            ),
        }
    }
}

impl Values {
    /// An empty tree.
    pub fn new() -> Self {
        Values(Map::new())
    }

    /// The node at a JSON pointer (`/toolkit/env/0/value`); `""` is not a node.
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        let mut tokens = pointer.strip_prefix('/')?.split('/').map(unescape_pointer_token);
        let first = tokens.next()?;
        let mut node = self.0.get(&first)?;
        for token in tokens {
            node = match &node.value {
                Value::Map(map) => map.get(&token)?,
                Value::List(items) => items.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// Visit every node with its JSON pointer, parents before children.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&str, &'a Node)) {
        let mut pointer = String::new();
        for (key, node) in &self.0 {
            pointer.clear();
            pointer.push('/');
            push_pointer_token(&mut pointer, key);
            node.walk(&mut pointer, visit);
        }
    }

    /// The tree as plain JSON (see [`Value::to_json`]).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.iter().map(|(k, n)| (k.clone(), n.value.to_json())).collect())
    }
}

/// Append a key to a JSON pointer, escaping `~` and `/` (RFC 6901).
pub fn push_pointer_token(pointer: &mut String, key: &str) {
    for c in key.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Undo [`push_pointer_token`] for one token.
pub fn unescape_pointer_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Turn a JSON pointer into Helm's dotted key path: `/toolkit/env/0/value` becomes
/// `toolkit.env[0].value`. Keys that hold a dot are quoted with backslashes, as `--set` wants.
pub fn dotted_path(pointer: &str, values: Option<&Values>) -> String {
    let mut out = String::new();
    let mut walked = String::new();
    for token in pointer.split('/').skip(1) {
        let key = unescape_pointer_token(token);
        let parent_is_list = values.and_then(|v| v.pointer(&walked)).is_some_and(|n| matches!(n.value, Value::List(_)));
        walked.push('/');
        walked.push_str(token);
        if parent_is_list || (values.is_none() && key.bytes().all(|b| b.is_ascii_digit()) && !key.is_empty()) {
            out.push('[');
            out.push_str(&key);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            for c in key.chars() {
                if matches!(c, '.' | '[' | ']' | '=' | ',' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
        }
    }
    out
}
