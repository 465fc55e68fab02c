//! The parser of [`super::Document`]: JSON text to a tree of spans, or Go's error.
//!
//! Input: JSON text. Output: the root [`Node`], every member and value with its byte span, or
//! a [`JsonError`] at the first character that breaks the grammar of Go's `encoding/json`, with
//! Go's message (`invalid character '}' looking for beginning of object key string`). Go's
//! leniencies are kept: duplicate keys (the last counts, see [`Node::member`]) and lone
//! surrogate escapes (read as U+FFFD).

use super::{JsonError, Kind, Member, Node, position};

/// Deeper nesting is refused: daemon.json is shallow, and the parser recurses.
const MAX_DEPTH: usize = 256;

/// The value that is the whole of `text`.
pub fn parse(text: &str) -> Result<Node, JsonError> {
    let mut parser = Parser { text, pos: 0, depth: 0 };
    let root = parser.value()?;
    parser.ws();
    if parser.pos < text.len() {
        return Err(parser.unexpected("after top-level value"));
    }
    Ok(root)
}

/// A recursive-descent parser over the text; `pos` is a byte offset.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn ws(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn eat(&mut self, c: char) -> bool {
        let yes = self.peek() == Some(c);
        if yes {
            self.pos += c.len_utf8();
        }
        yes
    }

    fn error(&self, message: String) -> JsonError {
        JsonError { span: position(self.text, self.pos), message }
    }

    /// Go's message for the character at `pos` (or for the end of the input).
    fn unexpected(&self, context: &str) -> JsonError {
        match self.peek() {
            Some(c) => self.error(format!("invalid character {c:?} {context}")),
            None => self.error("unexpected end of JSON input".into()),
        }
    }

    fn value(&mut self) -> Result<Node, JsonError> {
        self.ws();
        let start = self.pos;
        let kind = match self.peek() {
            Some('{') => self.nested(Parser::object)?,
            Some('[') => self.nested(Parser::array)?,
            Some('"') => Kind::String(self.string()?),
            Some('t') => self.literal("true", Kind::Bool(true))?,
            Some('f') => self.literal("false", Kind::Bool(false))?,
            Some('n') => self.literal("null", Kind::Null)?,
            Some('-' | '0'..='9') => self.number()?,
            _ => return Err(self.unexpected("looking for beginning of value")),
        };
        Ok(Node { span: start..self.pos, kind })
    }

    fn nested(&mut self, parse: fn(&mut Self) -> Result<Kind, JsonError>) -> Result<Kind, JsonError> {
        if self.depth == MAX_DEPTH {
            return Err(self.error(format!("exceeded max depth ({MAX_DEPTH})")));
        }
        self.depth += 1;
        self.pos += 1; // the opening bracket
        let kind = parse(self);
        self.depth -= 1;
        kind
    }

    fn object(&mut self) -> Result<Kind, JsonError> {
        let mut members = Vec::new();
        self.ws();
        if self.eat('}') {
            return Ok(Kind::Object(members));
        }
        loop {
            self.ws();
            if self.peek() != Some('"') {
                return Err(self.unexpected("looking for beginning of object key string"));
            }
            let start = self.pos;
            let key = self.string()?;
            let key_span = start..self.pos;
            self.ws();
            if !self.eat(':') {
                return Err(self.unexpected("after object key"));
            }
            members.push(Member { key, key_span, value: self.value()? });
            self.ws();
            if self.eat('}') {
                return Ok(Kind::Object(members));
            }
            if !self.eat(',') {
                return Err(self.unexpected("after object key:value pair"));
            }
        }
    }

    fn array(&mut self) -> Result<Kind, JsonError> {
        let mut items = Vec::new();
        self.ws();
        if self.eat(']') {
            return Ok(Kind::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            if self.eat(']') {
                return Ok(Kind::Array(items));
            }
            if !self.eat(',') {
                return Err(self.unexpected("after array element"));
            }
        }
    }

    fn literal(&mut self, word: &str, kind: Kind) -> Result<Kind, JsonError> {
        for expected in word.chars() {
            if !self.eat(expected) {
                return Err(self.unexpected(&format!("in literal {word} (expecting {expected:?})")));
            }
        }
        Ok(kind)
    }

    fn digits(&mut self) -> usize {
        let rest = &self.text[self.pos..];
        let n = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        self.pos += n;
        n
    }

    fn number(&mut self) -> Result<Kind, JsonError> {
        self.eat('-');
        if !self.eat('0') && self.digits() == 0 {
            return Err(self.unexpected("in numeric literal"));
        }
        if self.eat('.') && self.digits() == 0 {
            return Err(self.unexpected("after decimal point in numeric literal"));
        }
        if self.eat('e') || self.eat('E') {
            let _sign = self.eat('+') || self.eat('-');
            if self.digits() == 0 {
                return Err(self.unexpected("in exponent of numeric literal"));
            }
        }
        Ok(Kind::Number)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // the opening quote
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else { return Err(self.unexpected("")) };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                c if u32::from(c) < 0x20 => return Err(self.unexpected("in string literal")),
                c => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char, JsonError> {
        let simple = match self.peek() {
            Some(c @ ('"' | '\\' | '/')) => c,
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                self.pos += 1;
                let high = self.hex4()?;
                // A surrogate pair is two escapes; a lone surrogate reads as U+FFFD, as in Go.
                if (0xD800..0xDC00).contains(&high) && self.text[self.pos..].starts_with("\\u") {
                    let save = self.pos;
                    self.pos += 2;
                    let low = self.hex4()?;
                    if (0xDC00..0xE000).contains(&low) {
                        return Ok(
                            char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)).unwrap_or('\u{FFFD}')
                        );
                    }
                    self.pos = save;
                }
                return Ok(char::from_u32(high).unwrap_or('\u{FFFD}'));
            }
            _ => return Err(self.unexpected("in string escape code")),
        };
        self.pos += 1;
        Ok(simple)
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut n = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|c| c.to_digit(16));
            let Some(d) = digit else { return Err(self.unexpected("in \\u hexadecimal character escape")) };
            n = n * 16 + d;
            self.pos += 1;
        }
        Ok(n)
    }
}
