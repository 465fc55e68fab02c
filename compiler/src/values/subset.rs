//! The YAML that gpuplan's own templates write, read by hand: block maps and lists by
//! indentation, one-line flow maps and lists (what `tojson` prints), quoted and plain scalars,
//! literal block scalars (`|`, `|-`, `|+`) and comments. Reading rendered objects through a
//! general YAML parser was most of `explain` and a fifth of `gpuplan template`.
//!
//! Input: the text of one rendered document. Output: its JSON, exactly what the saphyr-based
//! [`super::trusted`] reader and the values loader give, or `None` when the text uses anything
//! else — anchors, tags, folded or indented-indicator block scalars, multi-line flow
//! collections or scalars, tabs in the layout, keys that are not strings — and the caller falls
//! back to the general reader. Declining is always safe; every accepted form is checked against
//! the loader in the tests below and by the golden plans.

use serde_json::{Map, Value as J};

use super::Value;
use super::load::{Scalar, resolve_plain};

/// Deeper than a rendered object nests (values nest at most 64 levels).
const MAX_DEPTH: usize = 128;

/// The document's JSON, or `None` to leave it to the general reader.
pub fn read(text: &str) -> Option<J> {
    if text.contains(['\r', '\u{feff}']) {
        return None;
    }
    let lines: Vec<Line<'_>> = text.split('\n').map(Line::new).collect();
    let mut reader = Reader { lines, at: 0 };
    let Some(first) = reader.peek() else {
        return Some(J::Object(Map::new()));
    };
    if first.indent != 0 || first.is_item() {
        return None;
    }
    let root = reader.mapping(0, 1)?;
    // Everything must have been read: a line left over is one the grammar above does not know.
    reader.peek().is_none().then_some(J::Object(root))
}

/// One line: its indentation and the text after it.
#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    text: &'a str,
    raw: &'a str,
}

impl<'a> Line<'a> {
    fn new(raw: &'a str) -> Self {
        let text = raw.trim_start_matches(' ');
        Line { indent: raw.len() - text.len(), text, raw }
    }

    /// Blank or a comment: not part of the structure (outside block scalars).
    fn is_blank(&self) -> bool {
        let t = self.text.trim_start_matches([' ', '\t']);
        t.is_empty() || t.starts_with('#')
    }

    fn is_item(&self) -> bool {
        self.text == "-" || self.text.starts_with("- ")
    }
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    at: usize,
}

impl<'a> Reader<'a> {
    /// The next structural line, skipping blanks and comments.
    fn peek(&mut self) -> Option<Line<'a>> {
        while let Some(line) = self.lines.get(self.at) {
            if !line.is_blank() {
                return Some(*line);
            }
            self.at += 1;
        }
        None
    }

    /// A block map whose keys stand at column `indent`; the first line is the next one.
    fn mapping(&mut self, indent: usize, depth: usize) -> Option<Map<String, J>> {
        let mut map = Map::new();
        while let Some(line) = self.peek() {
            if line.indent < indent {
                break;
            }
            if line.indent > indent || line.is_item() || !structural(line.text) {
                return None;
            }
            self.at += 1;
            self.entry(line.text, indent, depth, &mut map)?;
        }
        Some(map)
    }

    /// One `key: value` entry whose key starts at column `column`, appended to `map`.
    fn entry(&mut self, text: &'a str, column: usize, depth: usize, map: &mut Map<String, J>) -> Option<()> {
        let (key, rest) = split_key(text)?;
        let value = self.value_of_key(rest, column, depth)?;
        // Duplicate keys: the later one replaces the earlier one, as in the loader.
        map.insert(key, value);
        Some(())
    }

    /// The value after a key at column `column`: inline, a block scalar, or the block below.
    fn value_of_key(&mut self, rest: &'a str, column: usize, depth: usize) -> Option<J> {
        if depth > MAX_DEPTH {
            return None;
        }
        let rest = rest.trim_start_matches(' ');
        if rest.is_empty() || rest.starts_with('#') {
            return match self.peek() {
                Some(next) if next.indent > column => self.block(next, depth + 1),
                // A list may stand at its key's own column.
                Some(next) if next.indent == column && next.is_item() => self.sequence(column, depth + 1).map(J::Array),
                _ => Some(J::Null),
            };
        }
        if let Some(header) = rest.strip_prefix('|') {
            return self.literal(header, column).map(J::String);
        }
        inline(rest)
    }

    /// A nested block starting at `first`: a list or a map at its indentation.
    fn block(&mut self, first: Line<'a>, depth: usize) -> Option<J> {
        match first.is_item() {
            true => self.sequence(first.indent, depth).map(J::Array),
            false => self.mapping(first.indent, depth).map(J::Object),
        }
    }

    /// A block list whose dashes stand at column `indent`.
    fn sequence(&mut self, indent: usize, depth: usize) -> Option<Vec<J>> {
        let mut items = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent < indent {
                break;
            }
            if line.indent > indent || !line.is_item() {
                return None;
            }
            self.at += 1;
            let after = &line.text[1..];
            let rest = after.trim_start_matches(' ');
            let column = indent + 1 + (after.len() - rest.len());
            if rest.is_empty() || rest.starts_with('#') {
                items.push(match self.peek() {
                    Some(next) if next.indent > indent => self.block(next, depth + 1)?,
                    _ => J::Null,
                });
                continue;
            }
            if !structural(rest) || rest.starts_with("- ") || rest == "-" || rest.starts_with('|') {
                return None;
            }
            if split_key(rest).is_some() {
                // A map opened on the dash's line: its keys stand at the first key's column.
                let mut map = Map::new();
                self.entry(rest, column, depth + 1, &mut map)?;
                let more = self.mapping_after(column, depth + 1)?;
                map.extend(more);
                items.push(J::Object(map));
            } else {
                items.push(inline(rest)?);
            }
        }
        Some(items)
    }

    /// The rest of a map opened on a dash's line: entries at exactly `column`.
    fn mapping_after(&mut self, column: usize, depth: usize) -> Option<Map<String, J>> {
        match self.peek() {
            Some(next) if next.indent == column && !next.is_item() => self.mapping(column, depth),
            Some(next) if next.indent > column => None,
            _ => Some(Map::new()),
        }
    }

    /// A literal block scalar after `|`: `header` is the rest of that line, `parent` the
    /// column of its key. Content lines are those indented at least as deep as the first.
    fn literal(&mut self, header: &str, parent: usize) -> Option<String> {
        let (chomp, comment) = match header.as_bytes().first() {
            Some(b'-') => (Chomp::Strip, &header[1..]),
            Some(b'+') => (Chomp::Keep, &header[1..]),
            _ => (Chomp::Clip, header),
        };
        let trimmed = comment.trim_start_matches(' ');
        if !(trimmed.is_empty() || (trimmed.starts_with('#') && comment.len() > trimmed.len())) {
            return None;
        }
        // The content's indentation is the first line's; a leading blank line would need the
        // spec's auto-detection over several lines: declined.
        let first = self.lines.get(self.at)?;
        if first.text.is_empty() || first.indent <= parent || first.text.starts_with('\t') {
            return None;
        }
        let indent = first.indent;
        let mut out = String::new();
        // The text as far as the end of the last line with content, and how many blank
        // lines follow it.
        let (mut body, mut trailing) = (0, 0);
        while let Some(line) = self.lines.get(self.at) {
            let terminated = self.at + 1 < self.lines.len();
            if line.text.is_empty() && line.indent <= indent {
                // Spaces only, no deeper than the content: an empty line.
                if terminated {
                    out.push('\n');
                    trailing += 1;
                }
            } else if line.indent >= indent {
                // The end of the text ends a content line as a line break would (as the
                // loader reads it): a document cut before `---` has no final newline.
                out.push_str(&line.raw[indent..]);
                body = out.len();
                trailing = 0;
                out.push('\n');
            } else {
                break;
            }
            self.at += 1;
        }
        out.truncate(body);
        match chomp {
            Chomp::Strip => {}
            Chomp::Clip => out.push('\n'),
            Chomp::Keep => out.extend(std::iter::repeat_n('\n', 1 + trailing)),
        }
        Some(out)
    }
}

/// What a block scalar does with its final line breaks.
enum Chomp {
    /// `|-`: none kept.
    Strip,
    /// `|`: the last content line's break kept.
    Clip,
    /// `|+`: every one kept.
    Keep,
}

/// Whether a line's text starts like something this reader reads: not an anchor, alias, tag,
/// directive, complex key, document marker or reserved indicator.
fn structural(text: &str) -> bool {
    !(text.starts_with(['&', '*', '!', '%', '@', '`', '?', '>', '\t'])
        || text.starts_with("---")
        || text.starts_with("...")
        || text.starts_with(": ")
        || text == ":")
}

/// A block map entry's key and the text after its `:`, or `None` when `text` is not an entry.
fn split_key(text: &str) -> Option<(String, &str)> {
    let (key, rest) = match text.as_bytes().first()? {
        b'"' | b'\'' => {
            let (key, used) = quoted(text)?;
            let after = text[used..].trim_start_matches(' ');
            (key, colon(after)?)
        }
        _ => {
            let end = plain_key_end(text)?;
            let key = text[..end].trim_end_matches(' ');
            if !plain_start(key) {
                return None;
            }
            match resolve_plain(key) {
                Scalar::Str(s) if s != "<<" && !s.is_empty() => (s, &text[end + 1..]),
                _ => return None,
            }
        }
    };
    if rest.contains('\t') {
        return None;
    }
    Some((key, rest))
}

/// The text after a `:` that ends a key (followed by a space or the end of the line).
fn colon(after: &str) -> Option<&str> {
    let rest = after.strip_prefix(':')?;
    (rest.is_empty() || rest.starts_with(' ')).then_some(rest)
}

/// Where a plain key's `:` is, before any comment.
fn plain_key_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b':' if bytes.get(i + 1).is_none_or(|&n| n == b' ') => return Some(i),
            b'#' if i > 0 && bytes[i - 1] == b' ' => return None,
            b'\t' => return None,
            _ => {}
        }
    }
    None
}

/// A value written on the key's (or dash's) line, with nothing after it but a comment.
fn inline(text: &str) -> Option<J> {
    let (value, used) = match text.as_bytes().first()? {
        b'{' | b'[' => flow(text, 1)?,
        b'"' | b'\'' => {
            let (s, used) = quoted(text)?;
            (J::String(s), used)
        }
        _ => {
            let end = text.find(" #").unwrap_or(text.len());
            let plain = text[..end].trim_end_matches(' ');
            if !plain_start(plain) || plain.contains(": ") || plain.contains('\t') || plain.ends_with(':') {
                return None;
            }
            (scalar_json(plain, true)?, end)
        }
    };
    let tail = text[used..].trim_start_matches(' ');
    (tail.is_empty() || (tail.starts_with('#') && text.len() - used > tail.len())).then_some(value)
}

/// Whether a plain scalar may start this way (indicators aside; `-`, `?`, `:` only when
/// followed by something other than a space).
fn plain_start(text: &str) -> bool {
    let bytes = text.as_bytes();
    match bytes.first() {
        None => false,
        Some(b'-' | b'?' | b':') => bytes.get(1).is_some_and(|&b| b != b' '),
        Some(b) => !b"[]{},#&*!|>'\"%@`".contains(b),
    }
}

/// A flow collection starting at `text[0]`: its JSON and the bytes it used.
fn flow(text: &str, depth: usize) -> Option<(J, usize)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let close = if text.starts_with('{') { b'}' } else { b']' };
    let bytes = text.as_bytes();
    let mut at = skip(text, 1);
    let mut map = Map::new();
    let mut items = Vec::new();
    if bytes.get(at) == Some(&close) {
        return Some((if close == b'}' { J::Object(map) } else { J::Array(items) }, at + 1));
    }
    loop {
        if close == b'}' {
            let (key, used) = flow_key(&text[at..])?;
            at = skip(text, at + used);
            // `{a}` and `{a, b}` (keys without values) are never written: declined.
            if bytes.get(at) != Some(&b':') {
                return None;
            }
            at = skip(text, at + 1);
            let (value, used) = flow_node(&text[at..], depth)?;
            map.insert(key, value);
            at = skip(text, at + used);
        } else {
            let (value, used) = flow_node(&text[at..], depth)?;
            items.push(value);
            at = skip(text, at + used);
        }
        match bytes.get(at)? {
            b',' => {
                at = skip(text, at + 1);
                // A trailing comma: legal YAML, but never written by the templates.
                if bytes.get(at) == Some(&close) {
                    return None;
                }
            }
            b if *b == close => {
                let value = if close == b'}' { J::Object(map) } else { J::Array(items) };
                return Some((value, at + 1));
            }
            _ => return None,
        }
    }
}

/// Spaces skipped from `at`.
fn skip(text: &str, at: usize) -> usize {
    at + text.get(at..).map_or(0, |t| t.len() - t.trim_start_matches(' ').len())
}

/// A flow map key (quoted or plain, a string) and the bytes it used.
fn flow_key(text: &str) -> Option<(String, usize)> {
    if text.starts_with(['"', '\'']) {
        return quoted(text);
    }
    let end = flow_plain_end(text)?;
    match resolve_plain(&text[..end]) {
        Scalar::Str(s) if s != "<<" => Some((s, end)),
        _ => None,
    }
}

/// A value inside a flow collection and the bytes it used.
fn flow_node(text: &str, depth: usize) -> Option<(J, usize)> {
    match text.as_bytes().first()? {
        b'{' | b'[' => flow(text, depth + 1),
        b'"' | b'\'' => quoted(text).map(|(s, used)| (J::String(s), used)),
        _ => {
            let end = flow_plain_end(text)?;
            // A `key: value` pair as a list item is a one-entry map: declined.
            if text[skip(text, end)..].starts_with(':') {
                return None;
            }
            Some((scalar_json(&text[..end], true)?, end))
        }
    }
}

/// Where a plain scalar inside a flow collection ends (trailing spaces excluded).
fn flow_plain_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut end = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b',' | b'[' | b']' | b'{' | b'}' | b'\t' => break,
            b':' if bytes.get(i + 1).is_none_or(|n| b" ,[]{}".contains(n)) => break,
            b'#' if i > 0 && bytes[i - 1] == b' ' => return None,
            b' ' => {}
            _ => end = i + 1,
        }
    }
    plain_start(&text[..end]).then_some(end)
}

/// A quoted scalar at `text[0]` (`"` or `'`) on one line: its text and the bytes it used.
fn quoted(text: &str) -> Option<(String, usize)> {
    let single = text.starts_with('\'');
    let special: &[char] = if single { &['\''] } else { &['"', '\\'] };
    let mut out = String::new();
    let mut at = 1;
    loop {
        // Runs of ordinary text are copied whole.
        let run = text.get(at..)?.find(special)? + at;
        out.push_str(&text[at..run]);
        let rest = &text[run..];
        if single {
            if !rest[1..].starts_with('\'') {
                return Some((out, run + 1));
            }
            out.push('\'');
            at = run + 2;
            continue;
        }
        if rest.starts_with('"') {
            return Some((out, run + 1));
        }
        let (c, used) = escape(&rest[1..])?;
        out.push(c);
        at = run + 1 + used;
    }
}

/// The character a double-quoted escape (the text after its `\\`) stands for, and the bytes
/// it used; `None` for escapes the templates never write (the general reader has them).
fn escape(text: &str) -> Option<(char, usize)> {
    let c = match text.as_bytes().first()? {
        b'n' => '\n',
        b't' | b'\t' => '\t',
        b'r' => '\r',
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'0' => '\0',
        b' ' => ' ',
        b'u' => {
            // A lone surrogate (half of a pair) is not a character: declined.
            let hex = text.get(1..5).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
            let c = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)?;
            return Some((c, 5));
        }
        _ => return None,
    };
    Some((c, 1))
}

/// A scalar's JSON: a plain one typed by YAML 1.1 as the loader types it, another one text;
/// `None` for a number JSON cannot hold (the loader's error says so).
pub(super) fn scalar_json(text: &str, plain: bool) -> Option<J> {
    if !plain {
        return Some(J::String(text.to_owned()));
    }
    let value = match resolve_plain(text) {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::Float(i as f64),
        Scalar::Float(f) if f.is_finite() => Value::Float(f),
        // Not a number JSON holds: the loader's error says so.
        Scalar::Float(_) => return None,
        Scalar::Str(s) => return Some(J::String(s)),
    };
    Some(value.to_json())
}

#[cfg(test)]
#[path = "subset_tests.rs"]
mod tests;
