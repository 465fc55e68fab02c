//! The `--set` family, with Helm v3's strvals grammar, type inference, limits and error texts.
//!
//! Input: one flag's argument (`toolkit.env[0].name=CONTAINERD_CONFIG,toolkit.env[0].value=x`),
//! its [`FlagKind`] and position, and the map built so far. Output: the map with the flag's
//! assignments written in, or Helm's error (`key "a" has no value`, `list must terminate with
//! '}'`, `index of 65537 is greater than maximum supported index of 65536`, ...).
//!
//! The rules, as Helm has them (`pkg/strvals`):
//! - keys stop at `=`, `[`, `,`, `.`; a backslash makes the next character literal, in keys and
//!   values; an empty key is dropped silently;
//! - a value runs to the next unescaped `,`; `{a,b}` as the *whole* value is a list;
//! - `--set` infers `true`/`false`/`null` (any case), and base-10 int64 unless the text starts
//!   with `0`; everything else is a string — never a float;
//! - `--set-string` keeps strings; `--set-file` reads each value as a path; `--set-json` reads
//!   one JSON value per key; `--set-literal` takes the rest of the line verbatim, no escapes;
//! - list indexes are 0..=65536, map nesting is at most 30 dots; writing a map or list path
//!   through an existing scalar fails with Go's `interface conversion` text.
//!
//! Beyond Helm, so that no flag costs more than its size says ([`crate::limits`]): a flag's text
//! is at most 1 MiB and a `--set-file` file at most 64 MiB; key path and value together nest at
//! most 64 levels (Helm does not limit `[i]` levels); every value made, list padding included,
//! counts into the run's [`Budget`] — `a[65536]=1` makes 65,537 values, so a few thousand of
//! those would otherwise fill any memory. Assignments edit the tree in place, so a flag of many
//! assignments under one key takes time in proportion to its length.
//!
//! `--set-file` paths are read through a callback, so this module does no I/O.

use super::{FlagKind, Map, Node, Origin, Source, Value, json};
use crate::error::Error;
use crate::limits::{self, Budget};

/// Largest list index a flag may set.
pub const MAX_INDEX: i64 = 65536;
/// Most `.`-separated map levels a key path may have.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// Reads a `--set-file` path (`-` is standard input) and returns its contents or an error text.
pub type FileReader<'r> = dyn FnMut(&str) -> Result<String, String> + 'r;

/// Apply one `--set*` flag to `values`. `index` is the flag's 1-based position among the flags
/// of its kind; `read_file` is used only by `--set-file`.
pub fn apply(
    values: &mut Map,
    kind: FlagKind,
    index: usize,
    text: &str,
    read_file: &mut FileReader<'_>,
) -> Result<(), Error> {
    apply_counted(values, kind, index, text, read_file, &mut Budget::default())
}

/// [`apply`], counting the values it makes into `budget`, which the other inputs of the same
/// run share.
pub fn apply_counted(
    values: &mut Map,
    kind: FlagKind,
    index: usize,
    text: &str,
    read_file: &mut FileReader<'_>,
    budget: &mut Budget,
) -> Result<(), Error> {
    if text.len() > limits::MAX_FLAG_BYTES {
        let message = format!(
            "the flag is {}, larger than gpuplan's limit of {} for one flag",
            limits::bytes(text.len()),
            limits::bytes(limits::MAX_FLAG_BYTES)
        );
        return Err(Error::Flag { kind, index, text: text.to_owned(), message });
    }
    let origin = Origin::new(Source::Flag { kind, index, text: text.into() });
    let chars = text.char_indices().collect();
    let mut parser = Parser { text, chars, pos: 0, depth: 0, kind, origin, read_file, budget };
    loop {
        match parser.key(values, 0) {
            Ok(()) => continue,
            Err(Stop::Eof) => return Ok(()),
            Err(stop) => {
                let message = match stop {
                    Stop::Msg(message) => message,
                    // Consumed where it is produced; kept total rather than panicking.
                    _ => "parse error: unexpected value".to_owned(),
                };
                return Err(Error::Flag { kind, index, text: text.to_owned(), message });
            }
        }
    }
}

/// Why the parser stopped: Go's `io.EOF` (the normal end, sometimes), its `ErrNotList`
/// sentinel, or a real error.
#[derive(Debug)]
enum Stop {
    Eof,
    NotList,
    Msg(String),
}

fn msg(text: impl Into<String>) -> Stop {
    Stop::Msg(text.into())
}

/// `errors.Wrap(err, prefix)`: an EOF becomes the text `EOF`.
fn wrap(prefix: &str, stop: Stop) -> Stop {
    match stop {
        Stop::Eof => msg(format!("{prefix}: EOF")),
        Stop::NotList => msg(format!("{prefix}: not a list")),
        Stop::Msg(m) => msg(format!("{prefix}: {m}")),
    }
}

/// Go's `strconv.Quote`, for keys in error texts.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An index as an error quotes it: Go's `%q` of it (Helm's text) when it looks like an
/// index; cut before its first `=` or `,` otherwise. A `[` that is never closed makes the rest
/// of the flag the "index", secret values included (found by fuzzing).
fn shown_index(text: &str) -> String {
    const SHOWN: usize = 24;
    let plain = text.chars().count() <= SHOWN && !text.contains(['=', ',']) && !crate::redact::sensitive_text(text);
    if plain {
        return go_quote(text);
    }
    let head = text.split(['=', ',']).next().unwrap_or_default();
    format!(
        "{}… (an index of {} characters)",
        go_quote(&head.chars().take(SHOWN).collect::<String>()),
        text.chars().count()
    )
}

/// Whether text the parser took for a key looks like one: no quotes, braces, colons or spaces,
/// which a key hardly has and JSON or a mistyped value always has.
fn looks_like_a_key(text: &str) -> bool {
    !text.contains(['"', '{', '}', ':', ' ']) && !crate::redact::sensitive_text(text)
}

/// A key as an error quotes it: Go's `%q` (Helm's text) when it looks like a key; otherwise cut
/// before the first character that says it is not, since it may be a value taken for a key —
/// `a="...,b=[{"password":"x"}]` leaves `password":"x"` where a key should be (found by
/// fuzzing).
fn shown_key(key: &str) -> String {
    if looks_like_a_key(key) {
        return go_quote(key);
    }
    let head: String = key.chars().take_while(|c| !matches!(c, '"' | '{' | '}' | ':' | ' ' | '=')).take(24).collect();
    format!("{}… ({} characters)", go_quote(&head), key.chars().count())
}

/// Go's `%q` of a rune slice: `['n' 'a' 'm' 'e']`.
fn go_quote_runes(s: &str) -> String {
    let runes: Vec<String> = s
        .chars()
        .map(|c| match c {
            '\'' => "'\\''".to_owned(),
            '"' => "'\"'".to_owned(),
            c => {
                let q = go_quote(&c.to_string());
                format!("'{}'", &q[1..q.len() - 1])
            }
        })
        .collect();
    format!("[{}]", runes.join(" "))
}

/// Go's type name in `interface conversion` panics.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int64",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
    }
}

fn conversion(found: &Value, want: &str) -> Stop {
    let found = go_type(found);
    if found == "nil" {
        msg(format!("unable to parse key: interface conversion: interface {{}} is nil, not {want}"))
    } else {
        msg(format!("unable to parse key: interface conversion: interface {{}} is {found}, not {want}"))
    }
}

const MAP_TYPE: &str = "map[string]interface {}";
const LIST_TYPE: &str = "[]interface {}";

/// What a value reader ran into: the text up to a stop character, and that character
/// (`None` at the end of the input).
struct Until {
    text: String,
    last: Option<char>,
}

struct Parser<'t, 'r, 'f> {
    text: &'t str,
    /// Each character of `text` with its byte offset.
    chars: Vec<(usize, char)>,
    /// The next character, as an index into `chars`.
    pos: usize,
    /// Maps and lists around the current key: the root map is level 1.
    depth: usize,
    kind: FlagKind,
    origin: Origin,
    read_file: &'r mut FileReader<'f>,
    budget: &'r mut Budget,
}

impl Parser<'_, '_, '_> {
    fn literal(&self) -> bool {
        self.kind == FlagKind::SetLiteral
    }

    /// A new value; `Err` when the run's budget of values is spent.
    fn node(&mut self, value: Value) -> Result<Node, Stop> {
        self.count(1)?;
        Ok(Node::new(value, self.origin.clone()))
    }

    fn count(&mut self, nodes: usize) -> Result<(), Stop> {
        if self.budget.take(nodes) { Ok(()) } else { Err(msg(Budget::exhausted())) }
    }

    fn read(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).map(|&(_, c)| c);
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// The byte offset of the next character.
    fn byte(&self) -> usize {
        self.chars.get(self.pos).map_or(self.text.len(), |&(at, _)| at)
    }

    fn unread(&mut self) {
        self.pos -= 1;
    }

    /// Read up to one of `stop`; backslash escapes apply except for `--set-literal`.
    fn until(&mut self, stop: &[char]) -> Until {
        let mut text = String::new();
        loop {
            match self.read() {
                None => return Until { text, last: None },
                Some(c) if stop.contains(&c) => return Until { text, last: Some(c) },
                Some('\\') if !self.literal() => match self.read() {
                    None => return Until { text, last: None },
                    Some(next) => text.push(next),
                },
                Some(c) => text.push(c),
            }
        }
    }

    /// The rest of the line: `--set-literal`'s value.
    fn rest(&mut self) -> String {
        let text = self.text[self.byte()..].to_owned();
        self.pos = self.chars.len();
        text
    }

    fn key(&mut self, data: &mut Map, level: usize) -> Result<(), Stop> {
        self.depth += 1;
        let result = self.key_at(data, level);
        self.depth -= 1;
        result
    }

    fn too_deep(&self) -> Option<Stop> {
        (self.depth > limits::MAX_DEPTH)
            .then(|| msg(format!("key path nests deeper than {} levels (gpuplan's limit)", limits::MAX_DEPTH)))
    }

    fn key_at(&mut self, data: &mut Map, level: usize) -> Result<(), Stop> {
        if let Some(stop) = self.too_deep() {
            return Err(stop);
        }
        let stop: &[char] = if self.literal() { &['=', '[', '.'] } else { &['=', '[', ',', '.'] };
        let Until { text: key, last } = self.until(stop);
        match last {
            None if key.is_empty() => Err(Stop::Eof),
            None => Err(msg(format!("key {} has no value", shown_key(&key)))),
            Some('[') => {
                let index = self.key_index().map_err(|e| wrap("error parsing index", e))?;
                // The list is edited in place (taken out and put back), as Go edits it.
                let (list, origin) = match take(data, &key) {
                    None => {
                        self.count(1)?;
                        (Vec::new(), self.origin.clone())
                    }
                    Some(Node { value: Value::List(items), origin }) => (items, origin),
                    Some(other) => {
                        let stop = conversion(&other.value, LIST_TYPE);
                        set(data, &key, other);
                        return Err(stop);
                    }
                };
                let (list, result) = self.list_item(list, index, level);
                set(data, &key, Node::new(Value::List(list), origin));
                result
            }
            Some('=') => self.assign(data, &key),
            Some(',') => {
                let node = self.node(Value::Str(String::new()))?;
                set(data, &key, node);
                Err(msg(format!("key {} has no value (cannot end with ,)", shown_key(&key))))
            }
            Some(_) => {
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(msg(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    )));
                }
                // The map is edited in place (taken out and put back), as Go edits it.
                let (mut inner, origin, existed) = match take(data, &key) {
                    None => (Map::new(), self.origin.clone(), false),
                    Some(Node { value: Value::Map(m), origin }) => (m, origin, true),
                    Some(other) => {
                        let stop = conversion(&other.value, MAP_TYPE);
                        set(data, &key, other);
                        return Err(stop);
                    }
                };
                let result = self.key(&mut inner, level);
                if result.is_ok() && inner.is_empty() {
                    return Err(msg(format!("key map {} has no value", shown_key(&key))));
                }
                if !inner.is_empty() || existed {
                    if !existed {
                        self.count(1)?;
                    }
                    set(data, &key, Node::new(Value::Map(inner), origin));
                }
                result
            }
        }
    }

    /// After `key=`: read the value the way this flag kind reads values, and store it.
    fn assign(&mut self, data: &mut Map, key: &str) -> Result<(), Stop> {
        if self.literal() {
            let value = self.rest();
            let node = self.node(Value::Str(value))?;
            set(data, key, node);
            return Ok(());
        }
        if self.kind == FlagKind::SetJson {
            let (node, decoded) = self.json_value()?;
            set(data, key, node);
            if decoded {
                self.empty_value()?;
            }
            return Ok(());
        }
        match self.value_list() {
            Ok(items) => {
                let node = self.node(Value::List(items))?;
                set(data, key, node);
                Ok(())
            }
            Err(Stop::Eof) => {
                let node = self.node(Value::Str(String::new()))?;
                set(data, key, node);
                Err(Stop::Eof)
            }
            Err(Stop::NotList) => {
                let text = self.until(&[',']).text;
                let node = self.typed(&text)?;
                set(data, key, node);
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// One `--set-json` value, or `null` when the value is empty; the flag says whether a
    /// JSON value was decoded (then blanks and a comma after it are skipped by the caller).
    fn json_value(&mut self) -> Result<(Node, bool), Stop> {
        if self.empty_value()? {
            return Ok((self.node(Value::Null)?, false));
        }
        let from = self.byte();
        // The value sits inside `depth` maps and lists already.
        let levels = limits::MAX_DEPTH.saturating_sub(self.depth);
        let (node, used) = json::decode(&self.text[from..], &self.origin, levels, self.budget).map_err(Stop::Msg)?;
        let end = from + used;
        self.pos = self.chars.partition_point(|&(at, _)| at < end);
        Ok((node, true))
    }

    /// Skip blanks; true at the end of the input or after a comma (Go's `emptyVal`).
    fn empty_value(&mut self) -> Result<bool, Stop> {
        loop {
            match self.read() {
                None | Some(',') => return Ok(true),
                Some(c) if c.is_whitespace() => continue,
                Some(_) => {
                    self.unread();
                    return Ok(false);
                }
            }
        }
    }

    fn key_index(&mut self) -> Result<i64, Stop> {
        let Until { text, last } = self.until(&[']']);
        if last.is_none() {
            return Err(Stop::Eof);
        }
        text.parse::<i64>().map_err(|e| {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
                _ => "invalid syntax",
            };
            msg(format!("strconv.Atoi: parsing {}: {why}", shown_index(&text)))
        })
    }

    /// What follows `[i]`: `=value`, `.key...` or `[j]...`. Returns the list even when it
    /// fails, as Helm does (`x[0]` with nothing after it leaves `x: []`).
    fn list_item(&mut self, list: Vec<Node>, i: i64, level: usize) -> (Vec<Node>, Result<(), Stop>) {
        self.depth += 1;
        let result = match self.too_deep() {
            Some(stop) => (list, Err(stop)),
            None => self.list_item_at(list, i, level),
        };
        self.depth -= 1;
        result
    }

    fn list_item_at(&mut self, mut list: Vec<Node>, i: i64, level: usize) -> (Vec<Node>, Result<(), Stop>) {
        if i < 0 {
            return (list, Err(msg(format!("negative {i} index not allowed"))));
        }
        let Until { text, last } = self.until(&['[', '.', '=']);
        if !text.is_empty() {
            let runes = if looks_like_a_key(&text) { go_quote_runes(&text) } else { shown_key(&text) };
            return (list, Err(msg(format!("unexpected data at end of array index: {runes}"))));
        }
        let Some(last) = last else {
            return (list, Err(Stop::Eof));
        };
        match last {
            '=' => {
                let mut decoded = false;
                let value = if self.literal() {
                    let value = self.rest();
                    match self.node(Value::Str(value)) {
                        Ok(node) => node,
                        Err(e) => return (list, Err(e)),
                    }
                } else if self.kind == FlagKind::SetJson {
                    match self.json_value() {
                        Ok((node, was_decoded)) => {
                            decoded = was_decoded;
                            node
                        }
                        Err(e) => return (list, Err(e)),
                    }
                } else {
                    let node = match self.value_list() {
                        Ok(items) => self.node(Value::List(items)),
                        Err(Stop::Eof) => self.node(Value::Str(String::new())),
                        Err(other) => Err(other),
                    };
                    match node {
                        Ok(node) => node,
                        Err(Stop::NotList) => {
                            let text = self.until(&[',']).text;
                            match self.typed(&text) {
                                Ok(node) => node,
                                Err(e) => return (list, Err(e)),
                            }
                        }
                        Err(e) => return (list, Err(e)),
                    }
                };
                let result = self.set_index(&mut list, i, value);
                if result.is_ok()
                    && decoded
                    && let Err(e) = self.empty_value()
                {
                    return (list, Err(e));
                }
                (list, result)
            }
            '[' => {
                let next = match self.key_index() {
                    Ok(n) => n,
                    Err(e) => return (list, Err(wrap("error parsing index", e))),
                };
                // The inner list is taken out of its slot and put back, as Go edits it in place.
                let slot = list.get_mut(i as usize).map(|n| &mut n.value);
                let (inner, taken) = match slot {
                    None | Some(Value::Null) => (Vec::new(), false),
                    Some(Value::List(items)) => (std::mem::take(items), true),
                    Some(other) => {
                        let e = conversion(other, LIST_TYPE);
                        return (list, Err(e));
                    }
                };
                let (inner, result) = self.list_item(inner, next, level);
                if let Err(e) = result {
                    if taken && let Some(Node { value: Value::List(items), .. }) = list.get_mut(i as usize) {
                        *items = inner;
                    }
                    return (list, Err(e));
                }
                let result = match self.node(Value::List(inner)) {
                    Ok(node) => self.set_index(&mut list, i, node),
                    Err(e) => Err(e),
                };
                (list, result)
            }
            _ => {
                // A map inside a list item; a non-map there is replaced, not an error. Go edits
                // the item's map in place, so what was set stays even when the flag then fails.
                let slot = list.get_mut(i as usize).map(|n| &mut n.value);
                let mut inner = match slot {
                    Some(Value::Map(m)) => std::mem::take(m),
                    _ => Map::new(),
                };
                if let Err(e) = self.key(&mut inner, level) {
                    if let Some(node) = list.get_mut(i as usize) {
                        node.value = Value::Map(inner);
                    }
                    return (list, Err(e));
                }
                let result = match self.node(Value::Map(inner)) {
                    Ok(node) => self.set_index(&mut list, i, node),
                    Err(e) => Err(e),
                };
                (list, result)
            }
        }
    }

    /// `{a,b,c}` as a whole value: a list, each element read like a scalar.
    fn value_list(&mut self) -> Result<Vec<Node>, Stop> {
        match self.read() {
            None => return Err(Stop::Eof),
            Some('{') => {}
            Some(_) => {
                self.unread();
                return Err(Stop::NotList);
            }
        }
        let mut items = Vec::new();
        loop {
            let Until { text, last } = self.until(&[',', '}']);
            match last {
                None => return Err(msg("list must terminate with '}'")),
                Some('}') => {
                    if let Some(c) = self.read()
                        && c != ','
                    {
                        self.unread();
                    }
                    items.push(self.typed(&text)?);
                    return Ok(items);
                }
                Some(_) => items.push(self.typed(&text)?),
            }
        }
    }

    /// A scalar as this flag kind reads it: inferred (`--set`), a string (`--set-string`),
    /// or a file's contents (`--set-file`).
    fn typed(&mut self, text: &str) -> Result<Node, Stop> {
        match self.kind {
            FlagKind::SetFile => {
                let contents = (self.read_file)(text).map_err(Stop::Msg)?;
                if contents.len() > limits::MAX_INPUT_BYTES {
                    return Err(msg(format!(
                        "the file is {}, larger than gpuplan's limit of {} for one input",
                        limits::bytes(contents.len()),
                        limits::bytes(limits::MAX_INPUT_BYTES)
                    )));
                }
                self.node(Value::Str(contents))
            }
            FlagKind::Set => {
                let value = infer(text);
                let mut node = self.node(value)?;
                if !matches!(node.value, Value::Str(_)) {
                    node.origin.literal = Some(text.into());
                }
                Ok(node)
            }
            _ => self.node(Value::Str(text.to_owned())),
        }
    }

    /// [`set_index`], counting the padding it adds into the budget first.
    fn set_index(&mut self, list: &mut Vec<Node>, index: i64, value: Node) -> Result<(), Stop> {
        if (0..=MAX_INDEX).contains(&index) {
            self.count((index as usize + 1).saturating_sub(list.len()))?;
        }
        set_index(list, index, value, &self.origin).map_err(Stop::Msg)
    }
}

/// The node at `key`, taken out of `data` to be edited and put back; an empty key (which
/// [`set`] never writes) is copied instead, so what the file had there stays.
fn take(data: &mut Map, key: &str) -> Option<Node> {
    if key.is_empty() { data.get(key).cloned() } else { data.remove(key) }
}

/// `--set`'s type inference (Helm's `typedVal`).
pub fn infer(text: &str) -> Value {
    if fold_eq(text, "true") {
        return Value::Bool(true);
    }
    if fold_eq(text, "false") {
        return Value::Bool(false);
    }
    if fold_eq(text, "null") {
        return Value::Null;
    }
    if text == "0" {
        return Value::Int(0);
    }
    if !text.is_empty()
        && !text.starts_with('0')
        && let Ok(i) = text.parse::<i64>()
    {
        return Value::Int(i);
    }
    Value::Str(text.to_owned())
}

/// Go's `strings.EqualFold` against an ASCII word: simple Unicode case folding, where the
/// long s (ſ) folds to `s` and the Kelvin sign to `k`.
fn fold_eq(text: &str, word: &str) -> bool {
    let mut chars = text.chars();
    for w in word.chars() {
        let Some(c) = chars.next() else {
            return false;
        };
        let c = match c {
            'ſ' => 's',
            'K' => 'k',
            c => c.to_ascii_lowercase(),
        };
        if c != w {
            return false;
        }
    }
    chars.next().is_none()
}

/// Write `value` at `index`, padding with nulls (Helm's `setIndex`); the error is Helm's text.
pub fn set_index(list: &mut Vec<Node>, index: i64, value: Node, origin: &Origin) -> Result<(), String> {
    if index < 0 {
        return Err(format!("negative {index} index not allowed"));
    }
    if index > MAX_INDEX {
        return Err(format!("index of {index} is greater than maximum supported index of {MAX_INDEX}"));
    }
    let index = index as usize;
    while list.len() <= index {
        list.push(Node::new(Value::Null, origin.clone()));
    }
    list[index] = value;
    Ok(())
}

/// Helm's `set`: an empty key is silently dropped.
fn set(data: &mut Map, key: &str, node: Node) {
    if !key.is_empty() {
        data.insert(key.to_owned(), node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: FlagKind, text: &str) -> Result<Map, Error> {
        let mut map = Map::new();
        apply(&mut map, kind, 1, text, &mut |p: &str| Ok(format!("<{p}>")))?;
        Ok(map)
    }

    #[test]
    fn given_set_infers_helm_types() {
        let map = parse(FlagKind::Set, "a=true,b=010,c=-1,d=1.5,e=NULL,f=").expect("valid");
        assert_eq!(map["a"].value, Value::Bool(true));
        assert_eq!(map["b"].value, Value::Str("010".into()));
        assert_eq!(map["c"].value, Value::Int(-1));
        assert_eq!(map["d"].value, Value::Str("1.5".into()));
        assert_eq!(map["e"].value, Value::Null);
        assert_eq!(map["f"].value, Value::Str(String::new()));
        assert_eq!(map["a"].origin.literal.as_deref(), Some("true"));
    }

    #[test]
    fn given_a_type_conflict_produces_go_conversion_text() {
        let err = parse(FlagKind::Set, "a=1,a.b=2").expect_err("conflict");
        assert_eq!(
            err.to_string(),
            "failed parsing --set data: unable to parse key: interface conversion: interface {} is int64, not map[string]interface {}"
        );
    }

    #[test]
    fn given_hostile_nesting_stops_with_an_error() {
        let deep = format!("a{}=1", "[0]".repeat(5000));
        assert!(parse(FlagKind::Set, &deep).is_err());
        let deep = format!("a{}=1", "[0].b".repeat(5000));
        assert!(parse(FlagKind::Set, &deep).is_err());
    }

    #[test]
    fn given_an_unclosed_index_the_error_never_quotes_what_follows_it() {
        let err = parse(FlagKind::Set, "a[99999999999999999999==,b.password=hunter2,c[0]=1").expect_err("bad index");
        assert_eq!(
            err.to_string(),
            "failed parsing --set data: error parsing index: strconv.Atoi: parsing \"99999999999999999999\"… (an index of 45 characters): value out of range"
        );
        let err = parse(FlagKind::Set, "a[x]=1").expect_err("bad index");
        assert!(err.to_string().ends_with("strconv.Atoi: parsing \"x\": invalid syntax"), "{err}");
    }

    #[test]
    fn given_a_value_taken_for_a_key_the_error_never_quotes_it_whole() {
        // Found by fuzzing: an unbalanced quote makes the rest of a --set-json value a key.
        let err = parse(FlagKind::SetJson, r#"a=",b=[{"password":"hunter2"}],c=1"#).expect_err("bad key");
        assert_eq!(
            err.detail().as_deref(),
            Some("--set-json #1: key \"password\"… (21 characters) has no value (cannot end with ,)")
        );
        let err = parse(FlagKind::Set, "a.b").expect_err("no value");
        assert_eq!(err.to_string(), "failed parsing --set data: key \"b\" has no value");
    }

    #[test]
    fn given_set_file_reads_each_list_element() {
        let map = parse(FlagKind::SetFile, "a={p,q}").expect("valid");
        let Value::List(items) = &map["a"].value else { panic!("list") };
        assert_eq!(items[1].value, Value::Str("<q>".into()));
    }
}
