//! The built-in defaults, already parsed: a compact binary form of the values tree that
//! `values/values.yaml` loads to, origins included, so a run decodes it instead of parsing the
//! YAML again (parsing was a quarter of a `gpuplan template` run).
//!
//! Input: a [`Values`] tree whose every origin is [`Source::Defaults`] ([`encode`]), or the
//! bytes of such a snapshot and the YAML text it must belong to ([`decode`]). Output: the
//! bytes, or the same tree — equal to what [`super::load::load`] gives, `line:col` and
//! literals included, so diagnostics and `explain` point into `values.yaml` as before.
//!
//! The snapshot is committed beside `values.yaml` (`values/values.snapshot`) and rewritten by
//! the test suite with `UPDATE_GOLDEN=1`; a test fails when it no longer matches. It carries
//! the length and an FNV-1a hash of the YAML it was made from: a snapshot of another text is
//! refused, and the caller parses the YAML instead, so a stale snapshot can cost time, never
//! correctness.

use std::sync::Arc;

use super::{Map, Node, Value, Values};
use crate::origin::{Origin, Source, Span};

/// What a snapshot starts with (the format's version in its last byte).
const MAGIC: &[u8; 6] = b"GPVS1\n";

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const FLOAT: u8 = 4;
const STR: u8 = 5;
const LIST: u8 = 6;
const MAP: u8 = 7;
/// Flag: a `line:col` follows the tag.
const SPAN: u8 = 0x10;
/// Flag: the literal text follows (after the span).
const LITERAL: u8 = 0x20;

/// FNV-1a, 64 bits: cheap, and enough to tell one `values.yaml` from another.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The YAML text a snapshot is made from, as the snapshot records it: its length and
/// fingerprint. For the built-in defaults it is computed at build time (`build.rs`), so a
/// run need not read the text to know the snapshot is of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Made {
    /// The text's length in bytes.
    pub len: usize,
    /// Its FNV-1a hash.
    pub fingerprint: u64,
}

impl Made {
    /// What a snapshot of `yaml` records.
    pub fn of(yaml: &str) -> Made {
        Made { len: yaml.len(), fingerprint: fingerprint(yaml) }
    }
}

/// The snapshot of `values`, parsed from `yaml`.
pub fn encode(values: &Values, yaml: &str) -> Vec<u8> {
    let made = Made::of(yaml);
    let mut out = MAGIC.to_vec();
    varint(&mut out, made.len as u64);
    out.extend_from_slice(&made.fingerprint.to_le_bytes());
    map(&mut out, &values.0);
    out
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn string(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn map(out: &mut Vec<u8>, m: &Map) {
    varint(out, m.len() as u64);
    for (key, node) in m {
        string(out, key);
        encode_node(out, node);
    }
}

fn encode_node(out: &mut Vec<u8>, node: &Node) {
    let tag = match &node.value {
        Value::Null => NULL,
        Value::Bool(false) => FALSE,
        Value::Bool(true) => TRUE,
        Value::Int(_) => INT,
        Value::Float(_) => FLOAT,
        Value::Str(_) => STR,
        Value::List(_) => LIST,
        Value::Map(_) => MAP,
    };
    let origin = &node.origin;
    let flags = if origin.span.is_some() { SPAN } else { 0 } | if origin.literal.is_some() { LITERAL } else { 0 };
    out.push(tag | flags);
    if let Some(span) = origin.span {
        varint(out, u64::from(span.line));
        varint(out, u64::from(span.col));
    }
    if let Some(literal) = &origin.literal {
        string(out, literal);
    }
    match &node.value {
        Value::Null | Value::Bool(_) => {}
        // Zigzag, so small negative numbers stay small.
        Value::Int(i) => varint(out, ((i << 1) ^ (i >> 63)) as u64),
        Value::Float(f) => out.extend_from_slice(&f.to_bits().to_le_bytes()),
        Value::Str(s) => string(out, s),
        Value::List(items) => {
            varint(out, items.len() as u64);
            for item in items {
                encode_node(out, item);
            }
        }
        Value::Map(m) => map(out, m),
    }
}

/// The tree of a snapshot made from the text `made` describes ([`Made::of`] the YAML);
/// `None` when the bytes are not a snapshot of that text (another `values.yaml`, another
/// format version, damaged).
pub fn decode(bytes: &[u8], made: Made) -> Option<Values> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    if r.varint()? != made.len as u64 || u64::from_le_bytes(r.take(8)?.try_into().ok()?) != made.fingerprint {
        return None;
    }
    let values = r.map(0)?;
    (r.at == bytes.len()).then_some(Values(values))
}

/// Deeper than any values.yaml nests: a damaged snapshot cannot recurse without end.
const MAX_DEPTH: usize = 128;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint()?).ok()
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.varint()?).ok()?;
        std::str::from_utf8(self.take(len)?).ok()
    }

    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    fn map(&mut self, depth: usize) -> Option<Map> {
        let len = self.varint()?;
        let mut m = Map::new();
        for _ in 0..len {
            let key = self.string()?;
            let node = self.node(depth + 1)?;
            m.insert(key, node);
        }
        Some(m)
    }

    fn node(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        let tag = self.byte()?;
        let span = if tag & SPAN != 0 { Some(Span { line: self.u32()?, col: self.u32()? }) } else { None };
        // Straight into an `Arc`: through a `String` first it was two allocations.
        let literal: Option<Arc<str>> = if tag & LITERAL != 0 { Some(Arc::from(self.str()?)) } else { None };
        let value = match tag & 0x0f {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT => {
                let z = self.varint()?;
                Value::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            FLOAT => Value::Float(f64::from_bits(u64::from_le_bytes(self.take(8)?.try_into().ok()?))),
            STR => Value::Str(self.string()?),
            LIST => {
                let len = self.varint()?;
                let mut items = Vec::new();
                for _ in 0..len {
                    items.push(self.node(depth + 1)?);
                }
                Value::List(items)
            }
            MAP => Value::Map(self.map(depth)?),
            _ => return None,
        };
        Some(Node { value, origin: Origin { source: Source::Defaults, span, literal } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "a: 010\nb: [1, -2.5, \"x\", null, true, false]\nc:\n  d: {e: yes}\n";

    #[test]
    fn given_a_tree_the_snapshot_decodes_to_it_origins_and_literals_included() {
        let values = crate::values::load::load(YAML, &Source::Defaults).expect("loads");
        let bytes = encode(&values, YAML);
        assert_eq!(decode(&bytes, Made::of(YAML)), Some(values));
    }

    #[test]
    fn the_defaults_text_known_at_build_time_is_the_embedded_values_yaml() {
        assert_eq!(crate::DEFAULTS_MADE, Made::of(crate::DEFAULT_VALUES));
    }

    #[test]
    fn given_another_text_or_damaged_bytes_the_snapshot_is_refused() {
        let values = crate::values::load::load(YAML, &Source::Defaults).expect("loads");
        let bytes = encode(&values, YAML);
        assert_eq!(decode(&bytes, Made::of(&YAML.replace("010", "011"))), None, "another values.yaml");
        for cut in [0, 3, MAGIC.len() + 2, bytes.len() - 1] {
            assert_eq!(decode(&bytes[..cut], Made::of(YAML)), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer, Made::of(YAML)), None, "trailing bytes");
    }
}
