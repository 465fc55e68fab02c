//! One JSON value read from the front of a `--set-json` value, as Go's `json.Decoder` reads it.
//!
//! Input: the rest of a `--set-json` line after `key=`. Output: the decoded [`Node`] and how
//! many bytes it used, so the strvals parser can carry on after it (`a=1,b=2`), or Go's error
//! text (`invalid character 'x' looking for beginning of value`, `unexpected EOF`).
//!
//! Go semantics kept: numbers are float64; a number ends at the first character that cannot
//! continue it (`1x` decodes `1` and leaves `x`); duplicate object keys keep the last; string
//! escapes include `\u` surrogate pairs, and a lone surrogate becomes U+FFFD.
//!
//! Beyond Go: arrays and objects may nest only as deep as the caller allows (the value sits
//! under a `--set-json` key path, and values nest at most [`crate::limits::MAX_DEPTH`] levels
//! in all), and every value made counts into the run's [`Budget`].

use super::{Map, Node, Origin, Value};
use crate::limits::{self, Budget};

/// Decode one JSON value from the start of `text` (leading whitespace allowed), with at most
/// `levels` levels of arrays and objects, counting the values it makes into `budget`.
/// Returns the value and the number of bytes consumed.
pub fn decode(text: &str, origin: &Origin, levels: usize, budget: &mut Budget) -> Result<(Node, usize), String> {
    let mut reader = Reader { text: text.as_bytes(), src: text, pos: 0, origin, levels, budget };
    reader.skip_space();
    let value = reader.value(0)?;
    Ok((Node::new(value, origin.clone()), reader.pos))
}

struct Reader<'a, 'b> {
    text: &'a [u8],
    src: &'a str,
    pos: usize,
    origin: &'a Origin,
    levels: usize,
    budget: &'b mut Budget,
}

/// Go's `quoteChar`: the offending character in single quotes.
fn quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '"' => "'\"'".into(),
        c => {
            let q = format!("{c:?}");
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

impl Reader<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn current_char(&self) -> char {
        self.src[self.pos..].chars().next().unwrap_or('\u{fffd}')
    }

    fn invalid(&self, context: &str) -> String {
        match self.peek() {
            None => "unexpected EOF".into(),
            Some(_) => format!("invalid character {} {context}", quote_char(self.current_char())),
        }
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// A value inside `depth` arrays and objects.
    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if !self.budget.take(1) {
            return Err(Budget::exhausted());
        }
        let container = matches!(self.peek(), Some(b'{' | b'['));
        if container && depth >= self.levels {
            return Err(format!(
                "exceeded max depth: the value nests deeper than {} levels with the key path (gpuplan's limit)",
                limits::MAX_DEPTH
            ));
        }
        match self.peek() {
            None => Err("unexpected EOF".into()),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::Str),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.invalid("looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, String> {
        for (i, expected) in word.bytes().enumerate() {
            match self.peek() {
                Some(b) if b == expected => self.pos += 1,
                None => return Err("unexpected EOF".into()),
                Some(_) => {
                    let want = format!("'{}'", expected as char);
                    let ctx = if i == 0 {
                        "looking for beginning of value".to_string()
                    } else {
                        format!("in literal {word} (expecting {want})")
                    };
                    return Err(self.invalid(&ctx));
                }
            }
        }
        Ok(value)
    }

    fn digits(&mut self) -> usize {
        let from = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - from
    }

    fn number(&mut self) -> Result<Value, String> {
        let from = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.invalid("in numeric literal")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.invalid("after decimal point in numeric literal"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.invalid("in exponent of numeric literal"));
            }
        }
        let text = &self.src[from..self.pos];
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(format!("json: cannot unmarshal number {text} into Go value of type float64")),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(b) if b.is_ascii_hexdigit() => (b as char).to_digit(16).unwrap_or(0),
                None => return Err("unexpected EOF".into()),
                Some(_) => return Err(self.invalid("in \\u hexadecimal character escape")),
            };
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1; // the opening quote
        let mut out = String::new();
        loop {
            let Some(b) = self.peek() else {
                return Err("unexpected EOF".into());
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.pos += 1;
                    let escaped = match self.peek() {
                        None => return Err("unexpected EOF".into()),
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let first = self.hex4()?;
                            out.push(self.surrogate(first)?);
                            continue;
                        }
                        Some(_) => return Err(self.invalid("in string escape code")),
                    };
                    self.pos += 1;
                    out.push(escaped);
                }
                b if b < 0x20 => return Err(self.invalid("in string literal")),
                _ => {
                    let c = self.current_char();
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    /// Combine a `\u` escape with a following low surrogate; a lone surrogate is U+FFFD.
    fn surrogate(&mut self, first: u32) -> Result<char, String> {
        if (0xD800..0xDC00).contains(&first) && self.text[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
            }
            self.pos = save;
        }
        Ok(char::from_u32(first).unwrap_or('\u{fffd}'))
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        self.pos += 1;
        let mut map = Map::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Map(map));
        }
        loop {
            self.skip_space();
            if self.peek() != Some(b'"') {
                return Err(self.invalid("looking for beginning of object key string"));
            }
            let key = self.string()?;
            self.skip_space();
            if self.peek() != Some(b':') {
                return Err(self.invalid("after object key"));
            }
            self.pos += 1;
            self.skip_space();
            let value = self.value(depth + 1)?;
            map.insert(key, Node::new(value, self.origin.clone()));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Map(map));
                }
                _ => return Err(self.invalid("after object key:value pair")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::List(items));
        }
        loop {
            self.skip_space();
            let value = self.value(depth + 1)?;
            items.push(Node::new(value, self.origin.clone()));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::List(items));
                }
                _ => return Err(self.invalid("after array element")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Source;

    fn read(text: &str) -> Result<(Value, usize), String> {
        decode(text, &Origin::new(Source::Inline), 63, &mut Budget::default()).map(|(n, used)| (n.value, used))
    }

    #[test]
    fn given_a_number_followed_by_text_stops_after_the_number() {
        assert_eq!(read("1x"), Ok((Value::Float(1.0), 1)));
        assert_eq!(read("01"), Ok((Value::Float(0.0), 1)));
    }

    #[test]
    fn given_bad_json_produces_go_error_text() {
        assert_eq!(read("x").unwrap_err(), "invalid character 'x' looking for beginning of value");
        assert_eq!(read("{\"a\":1").unwrap_err(), "unexpected EOF");
        assert_eq!(read("{a:1}").unwrap_err(), "invalid character 'a' looking for beginning of object key string");
    }

    #[test]
    fn given_hostile_nesting_stops_with_an_error() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(read(&deep).unwrap_err().starts_with("exceeded max depth"));
        let ok = format!("{}{}", "[".repeat(63), "]".repeat(63));
        assert!(read(&ok).is_ok());
        let over = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(read(&over).is_err());
    }

    #[test]
    fn given_more_values_than_the_budget_stops_with_an_error() {
        let mut budget = Budget::new(3);
        let origin = Origin::new(Source::Inline);
        assert_eq!(decode("[1,2]", &origin, 63, &mut budget).map(|(_, used)| used), Ok(5));
        assert_eq!(decode("[1]", &origin, 63, &mut budget).map(|(_, used)| used), Err(Budget::exhausted()));
    }

    #[test]
    fn given_surrogate_pairs_decodes_them() {
        assert_eq!(read("\"\\ud83d\\ude00\"").map(|r| r.0), Ok(Value::Str("😀".into())));
        assert_eq!(read("\"\\ud83d\"").map(|r| r.0), Ok(Value::Str("\u{fffd}".into())));
    }
}
