//! A small span-preserving JSON editor, for `daemon.json` and the files next to it.
//!
//! Input: JSON text (the grammar of Go's `encoding/json`, which dockerd uses: RFC 8259, no
//! comments, no trailing commas, duplicate keys allowed with the last one counting). Output:
//! a [`Document`] whose tree records the byte span of every member and value, and the few
//! edits the engines need — set a member, remove a member — each producing new text in which
//! every byte outside the edit is kept.
//!
//! A new member is written like its siblings: the same indentation and separators, on its own
//! line in a multi-line object, inline in a one-line object; an empty object takes its
//! parent's style (the root `{}` becomes multi-line). [`Document::remove`] undoes an insertion
//! exactly. Limitation: an empty object with whitespace inside (`{ }`, `{\n}`) comes back as
//! `{}` once a member has been added to it and removed again. The parser is in `parse`.

mod parse;

use std::ops::Range;

use super::toml::position;
use crate::values::Span;

/// Indentation of new nested lines when the document shows none (upstream writes 4 spaces).
const DEFAULT_UNIT: &str = "    ";

/// Where and why the text is not JSON, or an edit does not fit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Line and column (1-based, in characters) of the offending character.
    pub span: Span,
    /// What is wrong, in Go's words where Go has them.
    pub message: String,
}

/// One value in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Its bytes in the text.
    pub span: Range<usize>,
    /// What it is.
    pub kind: Kind,
}

/// The kinds of JSON value; scalars other than strings and booleans keep only their span.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number,
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Node>),
    /// An object, members in text order.
    Object(Vec<Member>),
}

/// One `"key": value` of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The key, unescaped.
    pub key: String,
    /// The key's bytes in the text, quotes included.
    pub key_span: Range<usize>,
    /// The value.
    pub value: Node,
}

impl Node {
    /// The member `key` of an object (the last one, as Go reads duplicates).
    pub fn member(&self, key: &str) -> Option<&Member> {
        self.members().iter().rev().find(|m| m.key == key)
    }

    /// The members of an object; empty for anything else.
    pub fn members(&self) -> &[Member] {
        match &self.kind {
            Kind::Object(members) => members,
            _ => &[],
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }
}

/// A value to write: built by the engines, or raw text taken from a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `true` or `false`.
    Bool(bool),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, members in the order given.
    Object(Vec<(String, Value)>),
}

/// Parsed JSON text, ready for editing.
#[derive(Debug, Clone)]
pub struct Document {
    text: String,
    root: Node,
}

impl Document {
    /// Parse `text`; the error names the first offending character.
    pub fn parse(text: &str) -> Result<Document, JsonError> {
        Ok(Document { text: text.to_owned(), root: parse::parse(text)? })
    }

    /// The current text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The top-level value.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// The value at `path` (object keys from the root).
    pub fn get(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(&self.root, |node, key| node.member(key).map(|m| &m.value))
    }

    /// The text of `node`, exactly as written.
    pub fn raw(&self, node: &Node) -> &str {
        &self.text[node.span.clone()]
    }

    /// Line and column of byte `offset`.
    pub fn position(&self, offset: usize) -> Span {
        position(&self.text, offset)
    }

    /// Set the member at `path`: its value's text is replaced if it exists, else the member is
    /// added after the last one. Errors when the parent is not an object; `[]` does nothing.
    pub fn set(&mut self, path: &[&str], value: &Value) -> Result<(), JsonError> {
        let Some((key, parents)) = path.split_last() else { return Ok(()) };
        let style = self.style(parents)?;
        let object = self.object(parents)?;
        let (range, text) = match object.member(key) {
            Some(m) => (m.value.span.clone(), style.value(value, &line_indent(&self.text, m.key_span.start))),
            None => {
                let member = format!("{}{}{}", quote(key), style.colon, style.value(value, &style.indent));
                match object.members().last() {
                    Some(last) => (last.value.span.end..last.value.span.end, format!(",{}{member}", style.gap())),
                    None if style.multiline => {
                        let outer = line_indent(&self.text, object.span.start);
                        (inside(object), format!("{}{}{member}{}{outer}", style.newline, style.indent, style.newline))
                    }
                    None => (inside(object), member),
                }
            }
        };
        self.splice(range, &text)
    }

    fn object(&self, path: &[&str]) -> Result<&Node, JsonError> {
        let mut node = &self.root;
        for (depth, key) in path.iter().enumerate() {
            node = match node.member(key) {
                Some(m) if matches!(m.value.kind, Kind::Object(_)) => &m.value,
                found => {
                    let at = found.map_or(node.span.start, |m| m.value.span.start);
                    let pointer: String = path[..=depth].iter().map(|k| format!("/{k}")).collect();
                    return Err(JsonError {
                        span: self.position(at),
                        message: format!("`{pointer}` is not an object"),
                    });
                }
            };
        }
        match node.kind {
            Kind::Object(_) => Ok(node),
            _ => Err(JsonError { span: self.position(node.span.start), message: "expected a JSON object".into() }),
        }
    }

    /// How members are written in the object at `path`, learnt from the text.
    fn style(&self, path: &[&str]) -> Result<Style, JsonError> {
        let text = self.text.as_str();
        let first = self.root.members().first();
        let unit = match first {
            Some(m) if self.gap_before(&self.root, m).contains('\n') => {
                let indent = line_indent(text, m.key_span.start);
                let unit = indent.strip_prefix(&line_indent(text, self.root.span.start)).unwrap_or("");
                if unit.is_empty() { DEFAULT_UNIT.to_owned() } else { unit.to_owned() }
            }
            _ => DEFAULT_UNIT.to_owned(),
        };
        let colon = |m: &Member| text[m.key_span.end..m.value.span.start].to_owned();
        let mut style = Style {
            multiline: true,
            newline: if text.contains("\r\n") { "\r\n" } else { "\n" }.to_owned(),
            indent: String::new(),
            unit,
            colon: first.map_or_else(|| ": ".to_owned(), colon),
            space: String::new(),
        };
        let mut node = &self.root;
        for depth in 0..=path.len() {
            node = if depth == 0 { node } else { self.object(&path[..depth])? };
            let members = node.members();
            style.multiline = match members.first() {
                Some(m) => self.gap_before(node, m).contains('\n'),
                None => style.multiline || self.raw(node).contains('\n'),
            };
        }
        let members = node.members();
        style.indent = match members.first() {
            Some(m) if style.multiline => line_indent(text, m.key_span.start),
            _ => format!("{}{}", line_indent(text, node.span.start), style.unit),
        };
        if let Some(m) = members.first() {
            style.colon = colon(m);
        }
        style.space = match members {
            [a, b, ..] => text[a.value.span.end..b.key_span.start].split_once(',').map_or("", |(_, s)| s).to_owned(),
            _ if style.colon.ends_with(' ') => " ".to_owned(),
            _ => String::new(),
        };
        Ok(style)
    }

    fn gap_before<'a>(&'a self, object: &Node, first: &Member) -> &'a str {
        &self.text[object.span.start + 1..first.key_span.start]
    }

    fn splice(&mut self, range: Range<usize>, with: &str) -> Result<(), JsonError> {
        let mut text = String::with_capacity(self.text.len() + with.len());
        text.push_str(&self.text[..range.start]);
        text.push_str(with);
        text.push_str(&self.text[range.end..]);
        *self = Document::parse(&text)?;
        Ok(())
    }
}

/// The members' layout in one object.
struct Style {
    multiline: bool,
    newline: String,
    /// Indentation of the object's members (multi-line).
    indent: String,
    /// One level of indentation.
    unit: String,
    /// Between a key and its value, e.g. `": "`.
    colon: String,
    /// After a comma, in a one-line object.
    space: String,
}

impl Style {
    /// What goes between a comma and the next member.
    fn gap(&self) -> String {
        if self.multiline { format!("{}{}", self.newline, self.indent) } else { self.space.clone() }
    }

    /// `value` written at a line indented by `indent`.
    fn value(&self, value: &Value, indent: &str) -> String {
        let mut out = String::new();
        self.write(value, indent, &mut out);
        out
    }

    fn write(&self, value: &Value, indent: &str, out: &mut String) {
        let items: Vec<(Option<&str>, &Value)> = match value {
            Value::Bool(b) => return out.push_str(if *b { "true" } else { "false" }),
            Value::String(s) => return out.push_str(&quote(s)),
            Value::Array(items) => items.iter().map(|v| (None, v)).collect(),
            Value::Object(members) => members.iter().map(|(k, v)| (Some(k.as_str()), v)).collect(),
        };
        let (open, close) = if matches!(value, Value::Array(_)) { ('[', ']') } else { ('{', '}') };
        out.push(open);
        let inner = format!("{indent}{}", self.unit);
        for (i, (key, item)) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if self.multiline {
                out.push_str(&self.newline);
                out.push_str(&inner);
            } else if i > 0 {
                out.push_str(&self.space);
            }
            if let Some(key) = key {
                out.push_str(&quote(key));
                out.push_str(&self.colon);
            }
            self.write(item, &inner, out);
        }
        if self.multiline && !items.is_empty() {
            out.push_str(&self.newline);
            out.push_str(indent);
        }
        out.push(close);
    }
}

/// `value` as a whole document: multi-line, indented by `unit`, with a final newline.
pub fn pretty(value: &Value, unit: &str) -> String {
    let style = Style {
        multiline: true,
        newline: "\n".into(),
        indent: String::new(),
        unit: unit.into(),
        colon: ": ".into(),
        space: String::new(),
    };
    format!("{}\n", style.value(value, ""))
}

/// The bytes between an object's braces.
fn inside(object: &Node) -> Range<usize> {
    object.span.start + 1..object.span.end - 1
}

/// The spaces and tabs that open the line holding `offset`.
fn line_indent(text: &str, offset: usize) -> String {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    text[start..].chars().take_while(|c| *c == ' ' || *c == '\t').collect()
}

/// `s` as a JSON string.
pub fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}
