//! Printing values the way Helm prints them: YAML, JSON, and Go's `%v`.
//!
//! Input: a [`Value`] tree. Output: text. Numbers follow Go: integers print as integers, floats
//! through `encoding/json`'s rules in JSON and YAML (`1` for an integral float, `1e+21` past
//! 1e21) and through `%v`'s shortest `%g` in warnings (`1e+06`). YAML output quotes every string
//! a YAML 1.1 reader (kubectl, Helm) would read back as something else (`yes`, `010`, `1e3`,
//! `~`, `1:20`), so what is printed reads back identically.

use std::fmt::Write;

use super::{Map, Value};

/// Go's `%v` of a value: `map[a:1 b:[x y]]`, `<nil>`, floats in shortest `%g`.
pub fn go_v(value: &Value) -> String {
    let mut out = String::new();
    write_go_v(&mut out, value);
    out
}

fn write_go_v(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&go_g(*f)),
        Value::Str(s) => out.push_str(s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go_v(out, &item.value);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push_str("map[");
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_go_v(out, &v.value);
            }
            out.push(']');
        }
    }
}

/// The shortest decimal digits of `f` and its decimal exponent, from Rust's shortest
/// round-trip formatting: `1234567.0` gives `("1234567", 6)`.
fn shortest_digits(sci: &str) -> (String, i32) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    (digits.to_owned(), exp.parse().unwrap_or(0))
}

fn format_e(neg: bool, digits: &str, exp: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(&digits[..1]);
    if digits.len() > 1 {
        s.push('.');
        s.push_str(&digits[1..]);
    }
    let _ = write!(s, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    s
}

fn format_f(neg: bool, digits: &str, exp: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        s.push_str("0.");
        for _ in 0..-point {
            s.push('0');
        }
        s.push_str(digits);
    } else if (point as usize) >= digits.len() {
        s.push_str(digits);
        for _ in 0..(point as usize - digits.len()) {
            s.push('0');
        }
    } else {
        s.push_str(&digits[..point as usize]);
        s.push('.');
        s.push_str(&digits[point as usize..]);
    }
    s
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which is also `%v`: exponent form when the
/// exponent is below -4 or at least 6 (`1e+06`, `1.234567e+06`), plain digits otherwise.
pub fn go_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let (digits, exp) = shortest_digits(&format!("{:e}", f.abs()));
    g_from_digits(f < 0.0, &digits, exp)
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: the same rule on float32's shortest digits.
pub fn go_g32(f: f32) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let (digits, exp) = shortest_digits(&format!("{:e}", f.abs()));
    g_from_digits(f < 0.0, &digits, exp)
}

fn g_from_digits(neg: bool, digits: &str, exp: i32) -> String {
    if !(-4..6).contains(&exp) { format_e(neg, digits, exp) } else { format_f(neg, digits, exp) }
}

/// A float as Go's `encoding/json` writes it: plain digits between 1e-6 and 1e21, exponent
/// form outside (`1e+21`, `1e-7`).
pub fn json_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let (digits, exp) = shortest_digits(&format!("{:e}", f.abs()));
    let abs = f.abs();
    if (1e-6..1e21).contains(&abs) {
        format_f(f < 0.0, &digits, exp)
    } else {
        let mut s = String::new();
        if f < 0.0 {
            s.push('-');
        }
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        // encoding/json trims `e-07` to `e-7` but keeps `e+21`.
        let _ = if exp < 0 { write!(s, "e-{}", -exp) } else { write!(s, "e+{exp:02}") };
        s
    }
}

/// JSON text of a value, indented by two spaces, keys sorted, with a trailing newline.
pub fn to_json(map: &Map) -> String {
    let mut out = String::new();
    write_json_map(&mut out, map, 0);
    out.push('\n');
    out
}

/// JSON text of one value, indented as if nested `depth` levels deep.
pub fn value_to_json(value: &Value, depth: usize) -> String {
    let mut out = String::new();
    write_json(&mut out, value, depth);
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_json_map(out: &mut String, map: &Map, depth: usize) {
    if map.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{\n");
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        indent(out, depth + 1);
        write_json_string(out, k);
        out.push_str(": ");
        write_json(out, &v.value, depth + 1);
    }
    out.push('\n');
    indent(out, depth);
    out.push('}');
}

fn write_json(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)),
        Value::Str(s) => write_json_string(out, s),
        Value::List(items) if items.is_empty() => out.push_str("[]"),
        Value::List(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, depth + 1);
                write_json(out, &item.value, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push(']');
        }
        Value::Map(map) => write_json_map(out, map, depth),
    }
}

/// A JSON string literal.
pub fn write_json_string(out: &mut String, s: &str) {
    write_quoted(out, s, |c| (c as u32) < 0x20);
}

/// `s` in double quotes with JSON's escapes: `\"`, `\\`, `\n`, `\r`, `\t`, and `\uXXXX` for the
/// other characters `escape` picks (JSON and YAML differ only there).
fn write_quoted(out: &mut String, s: &str, escape: fn(char) -> bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if escape(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// YAML text of a JSON value (a map at the top) in block style: integers stay integers.
/// Printed straight from the JSON: building a values tree first was a third of the cost.
pub fn json_to_yaml(json: &serde_json::Value) -> String {
    document(json.shape())
}

/// [`json_to_yaml`], written at the end of `out` (a stream of many objects is one string).
pub fn write_json_yaml(out: &mut String, json: &serde_json::Value) {
    write_document(out, json.shape());
}

/// YAML text of a tree's top: a map in block style, an empty map as `{}`, anything else on
/// one line; with a trailing newline.
fn document<T: Tree>(top: Shape<'_, T>) -> String {
    let mut out = String::new();
    write_document(&mut out, top);
    out
}

fn write_document<T: Tree>(out: &mut String, top: Shape<'_, T>) {
    match top {
        Shape::Map(entries) if !entries.is_empty() => write_yaml_map(out, entries, 0),
        Shape::Map(_) => out.push_str("{}\n"),
        shape => {
            write_flat(out, shape, 0);
            out.push('\n');
        }
    }
}

/// What the YAML printer needs to know of a tree: the values tree and JSON both print.
trait Tree: Sized {
    fn shape(&self) -> Shape<'_, Self>;
}

/// One node of a [`Tree`]: its entries, its items, or a scalar.
enum Shape<'a, T> {
    Map(Vec<(&'a str, &'a T)>),
    List(Vec<&'a T>),
    Scalar(Scalar<'a>),
}

/// A scalar to print.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Tree for Value {
    fn shape(&self) -> Shape<'_, Self> {
        match self {
            Value::Map(map) => Shape::Map(entries(map)),
            Value::List(items) => Shape::List(items.iter().map(|n| &n.value).collect()),
            Value::Null => Shape::Scalar(Scalar::Null),
            Value::Bool(b) => Shape::Scalar(Scalar::Bool(*b)),
            Value::Int(i) => Shape::Scalar(Scalar::Int(*i)),
            Value::Float(f) => Shape::Scalar(Scalar::Float(*f)),
            Value::Str(s) => Shape::Scalar(Scalar::Str(s)),
        }
    }
}

impl Tree for serde_json::Value {
    fn shape(&self) -> Shape<'_, Self> {
        use serde_json::Value as J;
        match self {
            J::Object(map) => Shape::Map(map.iter().map(|(k, v)| (k.as_str(), v)).collect()),
            J::Array(items) => Shape::List(items.iter().collect()),
            J::Null => Shape::Scalar(Scalar::Null),
            J::Bool(b) => Shape::Scalar(Scalar::Bool(*b)),
            // As the values loader reads JSON numbers: integers stay integers.
            J::Number(n) => Shape::Scalar(match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Scalar::Int(i),
                (None, Some(f)) => Scalar::Float(f),
                (None, None) => Scalar::Null,
            }),
            J::String(s) => Shape::Scalar(Scalar::Str(s)),
        }
    }
}

/// YAML text of a map in block style (go-yaml's layout: list items at their key's
/// indentation), keys sorted, with a trailing newline. An empty map prints `{}`.
pub fn to_yaml(map: &Map) -> String {
    document(Shape::<Value>::Map(entries(map)))
}

/// A values map's entries as the printer walks them.
fn entries(map: &Map) -> Vec<(&str, &Value)> {
    map.iter().map(|(k, n)| (k.as_str(), &n.value)).collect()
}

fn write_yaml_map<T: Tree>(out: &mut String, entries: Vec<(&str, &T)>, depth: usize) {
    for (k, v) in entries {
        indent(out, depth);
        write_block_key(out, k, depth);
        out.push(':');
        write_yaml_child(out, v, depth, false);
    }
}

/// Write what follows `key:` or `- `: a scalar on the same line, or a nested block.
fn write_yaml_child<T: Tree>(out: &mut String, value: &T, depth: usize, in_list: bool) {
    match value.shape() {
        Shape::Map(entries) if !entries.is_empty() => {
            if in_list {
                // `- key: value`: the first entry shares the dash's line.
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        indent(out, depth + 1);
                    }
                    write_block_key(out, k, depth + 1);
                    out.push(':');
                    write_yaml_child(out, v, depth + 1, false);
                }
            } else {
                out.push('\n');
                write_yaml_map(out, entries, depth + 1);
            }
        }
        Shape::List(items) if !items.is_empty() => {
            if in_list {
                // A list directly inside a list item: `- - x`.
                write_yaml_list(out, &items, depth + 1, true);
            } else {
                out.push('\n');
                write_yaml_list(out, &items, depth, false);
            }
        }
        shape => {
            if !in_list {
                out.push(' ');
            }
            write_flat(out, shape, depth + 1);
            out.push('\n');
        }
    }
}

fn write_yaml_list<T: Tree>(out: &mut String, items: &[&T], depth: usize, first_inline: bool) {
    for (i, item) in items.iter().enumerate() {
        if !(first_inline && i == 0) {
            indent(out, depth);
        }
        out.push_str("- ");
        write_yaml_child(out, *item, depth, true);
    }
}

pub(crate) fn write_yaml_scalar(out: &mut String, value: &Value, depth: usize) {
    write_flat(out, value.shape(), depth);
}

/// A node on one line: a scalar, or an empty map or list (`{}`, `[]`; also what a non-empty
/// collection prints where only one line may stand).
fn write_flat<T>(out: &mut String, shape: Shape<'_, T>, depth: usize) {
    match shape {
        Shape::Scalar(scalar) => write_scalar(out, scalar, depth),
        Shape::Map(_) => out.push_str("{}"),
        Shape::List(_) => out.push_str("[]"),
    }
}

fn write_scalar(out: &mut String, scalar: Scalar<'_>, depth: usize) {
    match scalar {
        Scalar::Null => out.push_str("null"),
        Scalar::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Scalar::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Scalar::Float(f) => out.push_str(&json_float(f)),
        Scalar::Str(s) => write_yaml_scalar_string(out, s, depth),
    }
}

/// YAML's limit on an implicit key (`key: value`): one line of at most 1024 characters.
const MAX_IMPLICIT_KEY: usize = 1024;

/// A key of a block map at `depth`, followed by what precedes its `:`. A key longer than
/// YAML allows an implicit key to be is written explicitly (`? key`, then `:` on the next line
/// at the key's column), or no reader would take it as a key (found by fuzzing).
fn write_block_key(out: &mut String, key: &str, depth: usize) {
    let mut rendered = String::new();
    write_yaml_key(&mut rendered, key);
    if rendered.chars().count() <= MAX_IMPLICIT_KEY {
        out.push_str(&rendered);
        return;
    }
    out.push_str("? ");
    out.push_str(&rendered);
    out.push('\n');
    indent(out, depth);
}

/// A map key: plain when safe, double-quoted otherwise (a block scalar cannot be a key).
pub(crate) fn write_yaml_key(out: &mut String, key: &str) {
    if plain_is_safe(key) {
        out.push_str(key);
    } else {
        write_yaml_double_quoted(out, key);
    }
}

/// Characters a YAML reader must not see raw in a scalar: those outside YAML's printable set
/// (C0 controls but tab and line feed/carriage return, DEL, C1 controls, U+FFFE, U+FFFF), the
/// line breaks YAML 1.1 has beside `\n` and `\r` (NEL U+0085, U+2028, U+2029), and the byte
/// order mark. PyYAML rejects the first kind and folds the second; each is escaped instead.
fn needs_escape(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

/// A YAML double-quoted scalar: JSON's escapes, and `\uXXXX` for every character in
/// [`needs_escape`] (YAML 1.1 and 1.2 readers both decode it).
fn write_yaml_double_quoted(out: &mut String, s: &str) {
    write_quoted(out, s, needs_escape);
}

/// A string as a YAML scalar: plain when a YAML 1.1 reader reads it back as the same string,
/// a literal block for multi-line text, double-quoted otherwise.
pub fn write_yaml_scalar_string(out: &mut String, s: &str, depth: usize) {
    if plain_is_safe(s) {
        out.push_str(s);
    } else if literal_is_safe(s) {
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s.ends_with("\n\n") {
            "+"
        } else {
            ""
        };
        out.push('|');
        out.push_str(chomp);
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(out, depth);
                out.push_str(line);
            }
        }
    } else {
        write_yaml_double_quoted(out, s);
    }
}

/// Whether a string can be written plain and still read back as that string by YAML 1.1
/// readers (go-yaml v2, PyYAML) and YAML 1.2 readers alike.
pub fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if starts_specially(first) && !(first == '-' && s.len() > 1 && !s[1..].starts_with(' ') && looks_textual(s)) {
        return false;
    }
    if s.ends_with([' ', ':', '\t']) || breaks_plain(s) {
        return false;
    }
    !looks_like_non_string(s)
}

/// YAML's indicators, `=` and white space: a plain scalar cannot start with them (but `-foo`).
fn starts_specially(c: char) -> bool {
    matches!(c, '-' | '?' | ':' | ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>')
        || matches!(c, '\'' | '"' | '%' | '@' | '`' | '=' | ' ' | '\t')
}

/// Whether `s` holds `: `, ` #`, a control character or one [`needs_escape`] names: then it
/// cannot be plain anywhere. One pass over the bytes (every string the plan prints is checked):
/// the characters outside ASCII it looks for are U+0080..U+009F (`C2 80..9F` in UTF-8),
/// U+2028, U+2029 (`E2 80 A8/A9`), U+FEFF (`EF BB BF`), U+FFFE and U+FFFF (`EF BF BE/BF`).
fn breaks_plain(s: &str) -> bool {
    let bytes = s.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    bytes.iter().enumerate().any(|(i, &b)| match b {
        0x00..=0x1f | 0x7f => true,
        b':' => at(i + 1) == b' ',
        b' ' => at(i + 1) == b'#',
        0xc2 => (0x80..=0x9f).contains(&at(i + 1)),
        0xe2 => at(i + 1) == 0x80 && matches!(at(i + 2), 0xa8 | 0xa9),
        0xef => matches!((at(i + 1), at(i + 2)), (0xbb, 0xbf) | (0xbf, 0xbe | 0xbf)),
        _ => false,
    })
}

/// `-foo` is a plain string, but `-1`, `-.5` and `-.inf` are not.
fn looks_textual(s: &str) -> bool {
    !s[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// Whether any YAML 1.1 or 1.2 reader could resolve this plain text to a non-string:
/// booleans of both versions, nulls, numbers in every base, sexagesimal numbers, timestamps.
fn looks_like_non_string(s: &str) -> bool {
    // The words are at most 5 bytes: longer text is not lowered (nor allocated) for them.
    let mut buf = [0u8; 5];
    let lower = match s.len() <= buf.len() {
        true => {
            buf[..s.len()].copy_from_slice(s.as_bytes());
            buf[..s.len()].make_ascii_lowercase();
            std::str::from_utf8(&buf[..s.len()]).unwrap_or_default()
        }
        false => "",
    };
    if matches!(
        lower,
        "y" | "n"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "true"
            | "false"
            | "null"
            | "~"
            | "<<"
            | ".nan"
            | ".inf"
            | "+.inf"
            | "-.inf"
    ) {
        return true;
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return false;
    }
    // Anything that starts like a number and holds only number-ish characters is quoted:
    // this covers ints, floats, hex, octal, binary, `1_000`, `1:20` and `2001-12-14`.
    // (`e` and `E` are hex digits.)
    s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().all(|b| {
            b.is_ascii_hexdigit()
                || matches!(
                    b,
                    b'+' | b'-' | b'.' | b'_' | b':' | b'o' | b'O' | b'x' | b'X' | b' ' | b'T' | b't' | b'Z' | b'z'
                )
        })
}

fn literal_is_safe(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && !s.chars().any(|c| (c.is_control() && c != '\n') || needs_escape(c))
        && s.split('\n').all(|line| !line.ends_with([' ', '\t']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_floats_prints_go_percent_v() {
        assert_eq!(go_g(1234567.0), "1.234567e+06");
        assert_eq!(go_g(100000.0), "100000");
        assert_eq!(go_g(1000000.0), "1e+06");
        assert_eq!(go_g(0.0001), "0.0001");
        assert_eq!(go_g(0.00001), "1e-05");
        assert_eq!(go_g(1.5), "1.5");
        assert_eq!(go_g(9007199254740992.0), "9.007199254740992e+15");
    }

    #[test]
    fn given_floats_prints_encoding_json() {
        assert_eq!(json_float(1.0), "1");
        assert_eq!(json_float(1000000.0), "1000000");
        assert_eq!(json_float(1e21), "1e+21");
        assert_eq!(json_float(1e-7), "1e-7");
        assert_eq!(json_float(1.2345678901234568e29), "1.2345678901234568e+29");
        assert_eq!(json_float(-2.5), "-2.5");
    }

    #[test]
    fn given_ambiguous_strings_quotes_them() {
        for s in [
            "yes",
            "On",
            "010",
            "1e3",
            "~",
            "",
            "1:20",
            "2001-12-14",
            "0x1F",
            "-1",
            "- a",
            "a: b",
            "true",
            "null",
            " x",
        ] {
            assert!(!plain_is_safe(s), "{s:?} must be quoted");
        }
        for s in ["nvidia", "v1.20.0", "/usr/local/nvidia", "IfNotPresent", "-foo", "a:b", "25%", "nvcr.io/nvidia"] {
            assert!(plain_is_safe(s), "{s:?} can be plain");
        }
    }

    #[test]
    fn breaks_plain_is_the_character_by_character_rule() {
        // The rule as first written, a character at a time.
        let rule = |s: &str| {
            s.contains(": ")
                || s.contains(" #")
                || s.contains(['\n', '\r', '\t'])
                || s.chars().any(|c| c.is_control() || needs_escape(c))
        };
        // Every character of the Basic Multilingual Plane and the first beyond it, alone and
        // around `:`, ` ` and `#`; then strings the printer meets.
        let chars = (0..=0x1_0100u32).filter_map(char::from_u32);
        for c in chars {
            for s in
                [c.to_string(), format!("a{c}"), format!("{c}:"), format!(":{c}"), format!(" {c}"), format!("{c}#")]
            {
                assert_eq!(breaks_plain(&s), rule(&s), "{s:?}");
            }
        }
        for s in
            ["a: b", "a:b", "a #b", "a#b", "x\u{2028}y", "x\u{2027}y", "\u{feff}", "\u{fefe}", "é", "\u{85}", "\u{a0}"]
        {
            assert_eq!(breaks_plain(s), rule(s), "{s:?}");
        }
    }

    #[test]
    fn given_a_key_longer_than_yaml_allows_an_implicit_key_writes_it_explicitly() {
        // Found by fuzzing: a key of more than 1024 characters printed as `key: value` read
        // back as a document that is a string.
        use crate::values::{Node, Origin, Source};
        let long = "\u{8}".repeat(300);
        let map: Map = [
            (long.clone(), Node::new(Value::Null, Origin::new(Source::Inline))),
            (
                "list".into(),
                Node::new(
                    Value::List(vec![Node::new(
                        Value::Map([(long.clone(), Node::new(Value::Bool(true), Origin::new(Source::Inline)))].into()),
                        Origin::new(Source::Inline),
                    )]),
                    Origin::new(Source::Inline),
                ),
            ),
        ]
        .into();
        let text = to_yaml(&map);
        assert!(text.starts_with("? \"\\u0008"), "{text}");
        let back = crate::values::load::load(&text, &Source::Inline).expect("reads back");
        assert!(Value::Map(back.0).same(&Value::Map(map)), "{text}");
    }

    /// PyYAML rejects DEL, C1 controls and U+FFFE/U+FFFF in a stream, and reads NEL, U+2028
    /// and U+2029 as line breaks (folding them away): such characters are escaped, in values
    /// and keys, and never printed plain or in a literal block.
    #[test]
    fn given_non_printable_characters_and_unicode_line_breaks_escapes_them() {
        let cases = [
            ("\u{7f}", "\"\\u007f\""),
            ("a\u{85}b", "\"a\\u0085b\""),
            ("\u{9f}", "\"\\u009f\""),
            ("a\u{2028}b", "\"a\\u2028b\""),
            ("a\u{2029}", "\"a\\u2029\""),
            ("\u{fffe}\u{ffff}", "\"\\ufffe\\uffff\""),
            ("a\u{feff}", "\"a\\ufeff\""),
            ("a\nb\u{2028}", "\"a\\nb\\u2028\""),
            ("\u{0}\t\u{1b}", "\"\\u0000\\t\\u001b\""),
        ];
        for (s, quoted) in cases {
            let mut out = String::new();
            write_yaml_scalar_string(&mut out, s, 0);
            assert_eq!(out, quoted, "value {s:?}");
            let mut out = String::new();
            write_yaml_key(&mut out, s);
            assert_eq!(out, quoted, "key {s:?}");
        }
        // Printable text outside ASCII stays as it is.
        for s in ["é", "日本", "😀", "a\u{a0}b", "\u{e000}", "\u{10ffff}"] {
            let mut out = String::new();
            write_yaml_scalar_string(&mut out, s, 0);
            assert_eq!(out, s);
        }
    }
}
