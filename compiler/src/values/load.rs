//! YAML values files, decoded exactly as Helm v3 decodes them.
//!
//! Input: the text of a values file and its [`Source`]. Output: a [`Values`] tree whose every
//! node carries `line:col`, or an [`Error::Yaml`] naming file, line and column.
//!
//! Helm reads values through `sigs.k8s.io/yaml`: go-yaml v2 (YAML 1.1) into generic values,
//! then a JSON round trip. The consequences this module reproduces:
//! - plain `y`, `yes`, `on`, `true` (and their capitalised forms) are `true`, `n`, `no`, `off`,
//!   `false` are `false` — as map keys too, which then become the strings `"true"`/`"false"`;
//! - integers follow Go's base prefixes (`0x10`, `0o10`, `010` octal, `0b101`) with `_`
//!   removed, and every number ends up a 64-bit float;
//! - `.inf` and `.nan` are errors (JSON cannot hold them); timestamps stay strings;
//! - duplicate keys: the last one wins, whole; anchors, aliases and `<<` merge keys work;
//! - only the first document counts; an empty document is an empty map; a top-level list or
//!   scalar is an error.
//!
//! Parsing is done by `saphyr-parser`, whose events carry scalar styles and positions; type
//! resolution is done here, because YAML 1.2 parsers resolve scalars differently.
//!
//! Hostile documents stop with an error naming the limit and the line ([`crate::limits`]): a
//! text over 64 MiB; nesting deeper than 64 levels (100 for plans and manifests), aliases
//! included; go-yaml's alias rule, which refuses a "billion laughs" document as Helm does
//! ("excessive aliasing"); anchors and aliases that copy more than 64 MiB of text; more than a
//! million values. Each is checked before the copy it would cost is made.

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span as YamlSpan, StrInput, Tag};

use super::{Map, Node, Origin, Source, Span, Value, Values};
use crate::error::Error;
use crate::limits::{self, Budget};

/// Decode one values file. `source` names it in origins and errors.
pub fn load(text: &str, source: &Source) -> Result<Values, Error> {
    load_counted(text, source, &mut Budget::default())
}

/// [`load`], counting the values it makes into `budget`, which the other inputs of the same
/// run share (see [`Budget`]).
pub fn load_counted(text: &str, source: &Source, budget: &mut Budget) -> Result<Values, Error> {
    Loader::new(text, source, limits::MAX_DEPTH, "values", budget).document(text)
}

/// Decode a plan or a Kubernetes object (what `gpuplan diff` reads, and each rendered object):
/// as [`load`], nesting up to [`limits::MAX_DOCUMENT_DEPTH`] levels, since an object puts the
/// values it holds a few levels deeper.
pub fn load_document(text: &str, source: &Source) -> Result<Values, Error> {
    Loader::new(text, source, limits::MAX_DOCUMENT_DEPTH, "plans and objects", &mut Budget::default()).document(text)
}

/// What a node costs: values (map keys included), bytes of text (keys and scalars), and the
/// collections nested in it (0 for a scalar).
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: usize,
    bytes: usize,
    height: usize,
}

impl Size {
    fn add(&mut self, child: Size) {
        self.nodes += child.nodes;
        self.bytes += child.bytes;
        self.height = self.height.max(child.height + 1);
    }
}

struct Loader<'a, 'b> {
    parser: Parser<'a, StrInput<'a>>,
    source: Source,
    anchors: HashMap<usize, (Node, Size)>,
    /// Collections open around the current event.
    depth: usize,
    max_depth: usize,
    /// Whose depth limit applies, for the message.
    what: &'static str,
    budget: &'b mut Budget,
    /// go-yaml's `decodeCount` and `aliasCount`.
    decoded: usize,
    aliased: usize,
    /// Bytes of text copied for anchors and aliases.
    copied: usize,
}

/// A resolved scalar, before it becomes a value or a map key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

impl<'a, 'b> Loader<'a, 'b> {
    fn new(text: &'a str, source: &Source, max_depth: usize, what: &'static str, budget: &'b mut Budget) -> Self {
        Loader {
            parser: Parser::new_from_str(text),
            source: source.clone(),
            anchors: HashMap::new(),
            depth: 0,
            max_depth,
            what,
            budget,
            decoded: 0,
            aliased: 0,
            copied: 0,
        }
    }

    fn error(&self, span: Option<Span>, message: impl Into<String>) -> Error {
        Error::Yaml { file: source_name(&self.source), span, message: message.into() }
    }

    fn scan_error(&self, e: &ScanError) -> Error {
        let m = e.marker();
        self.error(Some(span_of(m.line(), m.col())), e.info())
    }

    fn next(&mut self) -> Result<(Event<'a>, YamlSpan), Error> {
        match self.parser.next_event() {
            Some(Ok(event)) => Ok(event),
            Some(Err(e)) => Err(self.scan_error(&e)),
            None => Err(self.error(None, "unexpected end of input")),
        }
    }

    fn document(&mut self, text: &str) -> Result<Values, Error> {
        if text.len() > limits::MAX_INPUT_BYTES {
            return Err(self.error(
                None,
                format!(
                    "it is {}, larger than gpuplan's limit of {} for one input",
                    limits::bytes(text.len()),
                    limits::bytes(limits::MAX_INPUT_BYTES)
                ),
            ));
        }
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::Nothing => continue,
                Event::StreamEnd => return Ok(Values::new()),
                Event::DocumentStart(_) => break,
                _ => return Err(self.error(Some(start(&span)), "expected a YAML document")),
            }
        }
        let (event, span) = self.next()?;
        if matches!(event, Event::DocumentEnd) {
            return Ok(Values::new());
        }
        let at = start(&span);
        let (root, _) = self.node(event, span)?;
        // Only the first document counts, as in Helm; what follows is not even read.
        match root.value {
            Value::Map(map) => Ok(Values(map)),
            Value::Null => Ok(Values::new()),
            Value::List(_) => Err(self.error(Some(at), "a values file must be a map at the top level, found a list")),
            other => Err(self.error(
                Some(at),
                format!("a values file must be a map at the top level, found a {}", other.type_name()),
            )),
        }
    }

    fn node(&mut self, event: Event<'a>, span: YamlSpan) -> Result<(Node, Size), Error> {
        let at = start(&span);
        let origin = Origin::at(self.source.clone(), at);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let size = Size { nodes: 1, bytes: text.len(), height: 0 };
                self.count(size, false, at)?;
                let scalar = self.resolve(&text, style, tag.as_deref(), at)?;
                let literal = match (&scalar, style) {
                    (Scalar::Str(_), _) | (_, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted) => None,
                    _ => Some(Arc::from(&*text)),
                };
                let value = self.scalar_value(scalar, &text, at)?;
                let node = Node::new(value, Origin { literal, ..origin });
                self.anchor(anchor, &node, size, at)?;
                Ok((node, size))
            }
            Event::Alias(id) => {
                let Some(size) = self.anchors.get(&id).map(|(_, size)| *size) else {
                    return Err(self.error(Some(at), "alias to an unknown anchor, or to a node that contains it"));
                };
                // Checked before the copy is made: the copy is what a hostile document costs.
                if self.depth + size.height > self.max_depth {
                    return Err(self.too_deep(at));
                }
                self.count(size, true, at)?;
                let node = self.anchors.get(&id).map(|(node, _)| node.clone());
                node.map(|n| (n, size)).ok_or_else(|| self.error(Some(at), "alias to an unknown anchor"))
            }
            Event::SequenceStart(anchor, _) => {
                self.enter(at)?;
                let mut size = Size { nodes: 1, bytes: 0, height: 1 };
                self.count(size, false, at)?;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    let (item, item_size) = self.node(event, span)?;
                    size.add(item_size);
                    items.push(item);
                }
                self.depth -= 1;
                let node = Node::new(Value::List(items), origin);
                self.anchor(anchor, &node, size, at)?;
                Ok((node, size))
            }
            Event::MappingStart(anchor, _) => {
                self.enter(at)?;
                let mut size = Size { nodes: 1, bytes: 0, height: 1 };
                self.count(size, false, at)?;
                let map = self.mapping(&mut size)?;
                self.depth -= 1;
                let node = Node::new(Value::Map(map), origin);
                self.anchor(anchor, &node, size, at)?;
                Ok((node, size))
            }
            _ => Err(self.error(Some(at), "unexpected YAML event")),
        }
    }

    /// Count `size` more values decoded (from an alias when `alias`), against go-yaml's alias
    /// rule, the copy limit and the budget.
    fn count(&mut self, size: Size, alias: bool, at: Span) -> Result<(), Error> {
        self.decoded += size.nodes;
        if alias {
            self.aliased += size.nodes;
            self.copied += size.bytes;
        }
        if self.aliased > limits::ALIAS_MIN_COUNT
            && self.decoded > limits::ALIAS_MIN_DECODED
            && self.aliased as f64 / self.decoded as f64 > limits::alias_ratio(self.decoded)
        {
            return Err(self.error(
                Some(at),
                format!(
                    "document contains excessive aliasing: {} of its {} values come from aliases \
                     (go-yaml's rule, which Helm applies: at most 99% up to 400,000 values, falling to 10%)",
                    limits::count(self.aliased),
                    limits::count(self.decoded)
                ),
            ));
        }
        self.copies_fit(at)?;
        if !self.budget.take(size.nodes) {
            return Err(self.error(Some(at), limits::Budget::exhausted()));
        }
        Ok(())
    }

    fn copies_fit(&self, at: Span) -> Result<(), Error> {
        if self.copied > limits::MAX_ALIAS_BYTES {
            return Err(self.error(
                Some(at),
                format!(
                    "anchors and aliases copy more than {} of text (gpuplan's limit)",
                    limits::bytes(limits::MAX_ALIAS_BYTES)
                ),
            ));
        }
        Ok(())
    }

    /// Keep an anchored node for its aliases; the copy counts like an alias's.
    fn anchor(&mut self, anchor: usize, node: &Node, size: Size, at: Span) -> Result<(), Error> {
        if anchor == 0 {
            return Ok(());
        }
        self.copied += size.bytes;
        self.copies_fit(at)?;
        if !self.budget.take(size.nodes) {
            return Err(self.error(Some(at), limits::Budget::exhausted()));
        }
        self.anchors.insert(anchor, (node.clone(), size));
        Ok(())
    }

    fn too_deep(&self, at: Span) -> Error {
        self.error(
            Some(at),
            format!("collections nest deeper than {} levels (gpuplan's limit for {})", self.max_depth, self.what),
        )
    }

    fn enter(&mut self, at: Span) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.too_deep(at));
        }
        Ok(())
    }

    fn mapping(&mut self, size: &mut Size) -> Result<Map, Error> {
        let mut map = Map::new();
        loop {
            let (event, span) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                return Ok(map);
            }
            let at = start(&span);
            let is_merge = matches!(&event, Event::Scalar(text, ScalarStyle::Plain, _, None) if text == "<<");
            let (key_node, key_size) = self.node(event, span)?;
            let (value_event, value_span) = self.next()?;
            let (mut value, value_size) = self.node(value_event, value_span)?;
            size.add(key_size);
            size.add(value_size);
            if is_merge {
                self.merge(&mut map, value, at)?;
                continue;
            }
            let key = self.key_string(&key_node, at)?;
            value.origin.span = Some(at);
            // Duplicate keys: the later one replaces the earlier one whole.
            map.insert(key, value);
        }
    }

    /// Apply a `<<` merge: the merged maps' entries are set in place, so keys written later in
    /// the mapping override them and keys written earlier are overridden (go-yaml v2 order).
    fn merge(&self, map: &mut Map, value: Node, at: Span) -> Result<(), Error> {
        let wrong = || self.error(Some(at), "a `<<` merge key needs a map or a list of maps as its value");
        match value.value {
            Value::Map(merged) => map.extend(merged),
            Value::List(items) => {
                // Earlier maps in the list take precedence, so apply them last.
                for item in items.into_iter().rev() {
                    match item.value {
                        Value::Map(merged) => map.extend(merged),
                        _ => return Err(wrong()),
                    }
                }
            }
            _ => return Err(wrong()),
        }
        Ok(())
    }

    /// A map key as Helm ends up with it: JSON object keys are strings, so booleans, numbers
    /// and `yes`/`no` keys become their text (`yes:` is the key `"true"`).
    fn key_string(&self, key: &Node, at: Span) -> Result<String, Error> {
        match &key.value {
            Value::Str(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Float(f) => Ok(float_key(*f, key.origin.literal.as_deref())),
            Value::Int(i) => Ok(i.to_string()),
            // Helm's text goes on with the value, which may be a secret: it is left out.
            Value::Null => Err(self.error(
                Some(at),
                "a map key cannot be null (Helm: Unsupported map key of type: %!s(<nil>), key: <nil>)",
            )),
            Value::List(_) | Value::Map(_) => {
                Err(self.error(Some(at), "a map key must be a scalar, not a list or a map"))
            }
        }
    }

    fn scalar_value(&self, scalar: Scalar, text: &str, at: Span) -> Result<Value, Error> {
        Ok(match scalar {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            // Helm decodes through JSON into interface{}: every number becomes a float64.
            Scalar::Int(i) => Value::Float(i as f64),
            Scalar::Float(f) if f.is_finite() => Value::Float(f),
            Scalar::Float(f) => {
                let go = if f.is_nan() {
                    "NaN"
                } else if f > 0.0 {
                    "+Inf"
                } else {
                    "-Inf"
                };
                return Err(self.error(
                    Some(at),
                    format!("`{text}` is not a number JSON can hold (Helm: json: unsupported value: {go}); quote it to keep the text"),
                ));
            }
            Scalar::Str(s) => Value::Str(s),
        })
    }

    fn resolve(&self, text: &str, style: ScalarStyle, tag: Option<&Tag>, at: Span) -> Result<Scalar, Error> {
        let Some(tag) = tag else {
            return Ok(if style == ScalarStyle::Plain { resolve_plain(text) } else { Scalar::Str(text.to_owned()) });
        };
        if !tag.is_yaml_core_schema() {
            // Unknown tags leave the scalar as its text, as go-yaml v2 does.
            return Ok(Scalar::Str(text.to_owned()));
        }
        let resolved = resolve_plain(text);
        let ok = match tag.suffix.as_str() {
            "str" | "timestamp" => return Ok(Scalar::Str(text.to_owned())),
            "binary" => return self.binary(text, at),
            "null" => matches!(resolved, Scalar::Null),
            "bool" => matches!(resolved, Scalar::Bool(_)),
            "int" => matches!(resolved, Scalar::Int(_)),
            "float" => {
                if let Scalar::Int(i) = resolved {
                    return Ok(Scalar::Float(i as f64));
                }
                matches!(resolved, Scalar::Float(_))
            }
            _ => return Ok(Scalar::Str(text.to_owned())),
        };
        if ok {
            Ok(resolved)
        } else {
            // The text is not repeated: the line and column say where, and it may be a secret.
            Err(self.error(Some(at), format!("cannot decode the value as a !!{}", tag.suffix)))
        }
    }

    fn binary(&self, text: &str, at: Span) -> Result<Scalar, Error> {
        let bytes = base64_decode(text).ok_or_else(|| self.error(Some(at), "!!binary value is not valid base64"))?;
        Ok(Scalar::Str(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// Resolve a plain scalar with go-yaml v2's YAML 1.1 rules.
pub(crate) fn resolve_plain(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Scalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match text.as_bytes()[0] {
        b'.' => {
            if is_dot_float(text)
                && let Ok(f) = text.parse::<f64>()
            {
                return Scalar::Float(f);
            }
            Scalar::Str(text.to_owned())
        }
        b'+' | b'-' | b'0'..=b'9' => {
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(i) = parse_go_int(&plain) {
                return Scalar::Int(i);
            }
            if is_yaml_float(&plain)
                && let Ok(f) = plain.parse::<f64>()
            {
                return Scalar::Float(f);
            }
            Scalar::Str(text.to_owned())
        }
        _ => Scalar::Str(text.to_owned()),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)` as go-yaml does.
fn parse_go_int(s: &str) -> Option<i128> {
    let (negative, body, signed) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..], true),
        b'+' => (false, &s[1..], true),
        _ => (false, s, false),
    };
    let (radix, digits) = if let Some(rest) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (16, rest)
    } else if let Some(rest) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (8, rest)
    } else if let Some(rest) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (2, rest)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    let value = if negative { -(magnitude as i128) } else { magnitude as i128 };
    let fits_int64 = value >= i64::MIN as i128 && value <= i64::MAX as i128;
    // Unsigned parsing takes no sign at all.
    let fits_uint64 = !signed && value >= 0 && value <= u64::MAX as i128;
    (fits_int64 || fits_uint64).then_some(value)
}

/// go-yaml's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - from
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// What Go's `ParseFloat` accepts of a scalar that starts with a dot: `.5`, `.5e3`.
fn is_dot_float(s: &str) -> bool {
    s.len() > 1 && is_yaml_float(s)
}

/// A float map key as sigs.k8s.io/yaml writes it: `strconv.FormatFloat(f, 'g', -1, 32)`.
fn float_key(f: f64, _literal: Option<&str>) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf".into() } else { "-.inf".into() };
    }
    super::print::go_g32(f as f32)
}

fn source_name(source: &Source) -> Arc<str> {
    match source {
        Source::File(name) => name.clone(),
        other => Arc::from(other.to_string()),
    }
}

fn span_of(line: usize, col: usize) -> Span {
    Span { line: u32::try_from(line).unwrap_or(u32::MAX), col: u32::try_from(col + 1).unwrap_or(u32::MAX) }
}

fn start(span: &YamlSpan) -> Span {
    span_of(span.start.line(), span.start.col())
}

/// Standard base64 (with or without padding, whitespace ignored), as YAML's `!!binary` is.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Values {
        load(text, &Source::Inline).expect("valid YAML")
    }

    #[test]
    fn given_yaml_1_1_scalars_produces_helm_types() {
        let v = yaml("a: yes\nb: off\nc: 010\nd: 0x10\ne: 1_000\nf: 1e3\ng: '010'\nh: 2001-12-14\ni: ~\n");
        let get = |k: &str| v.0[k].value.clone();
        assert_eq!(get("a"), Value::Bool(true));
        assert_eq!(get("b"), Value::Bool(false));
        assert_eq!(get("c"), Value::Float(8.0));
        assert_eq!(get("d"), Value::Float(16.0));
        assert_eq!(get("e"), Value::Float(1000.0));
        assert_eq!(get("f"), Value::Float(1000.0));
        assert_eq!(get("g"), Value::Str("010".into()));
        assert_eq!(get("h"), Value::Str("2001-12-14".into()));
        assert_eq!(get("i"), Value::Null);
    }

    #[test]
    fn given_a_nested_leaf_keeps_its_line_and_column() {
        let v = yaml("toolkit:\n  env:\n    - name: X\n      value: \"1\"\n");
        let node = v.pointer("/toolkit/env/0/value").expect("leaf");
        assert_eq!(node.origin.span, Some(Span { line: 4, col: 7 }));
    }

    #[test]
    fn given_hostile_nesting_stops_with_an_error() {
        let deep = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(load(&deep, &Source::Inline).is_err());
    }

    #[test]
    fn given_go_integer_forms_parses_like_parse_int_base_0() {
        assert_eq!(parse_go_int("08"), None);
        assert_eq!(parse_go_int("0"), Some(0));
        assert_eq!(parse_go_int("-0x10"), Some(-16));
        assert_eq!(parse_go_int("0b101"), Some(5));
        assert_eq!(parse_go_int("18446744073709551615"), Some(u64::MAX as i128));
        assert_eq!(parse_go_int("+18446744073709551615"), None);
        assert_eq!(parse_go_int("0x"), None);
    }
}
