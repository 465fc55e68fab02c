//! The reader's quick front end: one pass over the bytes of a file made only of what
//! containerd's configs are made of, into the [`Builder`].
//!
//! Input: a file's text. Output: its tree and top-level keys' places, or nothing, and then
//! [`super::events`] reads the file.
//!
//! It takes comments, blank lines, `[a."b".'c']` headers of bare and plainly quoted keys, and
//! `key = value` lines whose values are plain double-quoted or single-quoted strings on one
//! line, `true` and `false`, decimal integers and floats, and arrays of them over any number
//! of lines. Anything else — an escape, a multi-line string, `inf`, `_` in a number, a
//! date-time, a dotted key, an inline table, an array of tables, a character TOML does not
//! allow where it is, a carriage return — is left to toml_parser, whose events read the whole
//! file again. So every file it takes is one toml_parser reads the same way (tests hold the two
//! together), and it need not know TOML's errors: it only ever leaves a file to the parser
//! that knows them.
//!
//! Why: lexing every token into a vector and then parsing the tokens into events was the
//! larger part of reading a long config.

use super::super::emit::{bare, plain_quotable};
use super::super::tree::Value;
use super::{Builder, LIMIT, Read, Reading};

/// How deep arrays nest here at most (toml_parser takes deeper ones).
const DEPTH: usize = 16;

/// The values of `body` and where its top-level keys are, when it is made only of the lines
/// this front end takes.
pub fn read(body: &str) -> Option<Reading> {
    let mut scan = Scan { text: body, at: 0 };
    let mut builder = Builder::new(body);
    loop {
        scan.blank();
        match scan.peek() {
            None => break,
            Some(b'\n') => scan.at += 1,
            Some(b'#') => scan.comment()?,
            Some(b'[') => {
                let mut path = builder.header(scan.at)?;
                scan.header(&mut path)?;
                builder.table(path);
                scan.line_end()?;
            }
            Some(_) => {
                let start = scan.at;
                let key = scan.key()?;
                scan.blank();
                if scan.next()? != b'=' {
                    return None;
                }
                scan.blank();
                let value_start = scan.at;
                let value = scan.value(0)?;
                builder.value(&key, start, value, value_start..scan.at);
                scan.line_end()?;
            }
        }
    }
    builder.finish()
}

/// The keys of the header whose `[` is at `at`.
pub fn header(body: &str, at: usize) -> Option<Vec<std::borrow::Cow<'_, str>>> {
    let mut scan = Scan { text: body, at };
    let mut path = Vec::new();
    scan.header(&mut path)?;
    Some(path.into_iter().map(|key| key.name).collect())
}

struct Scan<'s> {
    text: &'s str,
    at: usize,
}

impl<'s> Scan<'s> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    /// A `[table]` header's keys into `path`, from its `[` to its `]`.
    fn header(&mut self, path: &mut Vec<Read<'s>>) -> Option<()> {
        if self.next()? != b'[' || self.peek() == Some(b'[') {
            return None;
        }
        loop {
            self.blank();
            if path.len() >= LIMIT as usize {
                return None;
            }
            path.push(self.key()?);
            self.blank();
            match self.next()? {
                b'.' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// Spaces and tabs.
    fn blank(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// A comment, up to the end of its line.
    fn comment(&mut self) -> Option<()> {
        self.at += 1;
        loop {
            match self.peek() {
                None | Some(b'\n') => return Some(()),
                Some(b) if allowed(b, b'\n') => self.at += 1,
                Some(_) => return None,
            }
        }
    }

    /// The rest of a line after a header or a value: blanks, a comment, the line's end.
    fn line_end(&mut self) -> Option<()> {
        self.blank();
        if self.peek() == Some(b'#') {
            self.comment()?;
        }
        match self.next() {
            None | Some(b'\n') => Some(()),
            Some(_) => None,
        }
    }

    /// Blanks, line ends and comments between the values of an array.
    fn gap(&mut self) -> Option<()> {
        loop {
            self.blank();
            match self.peek() {
                Some(b'\n') => self.at += 1,
                Some(b'#') => self.comment()?,
                _ => return Some(()),
            }
        }
    }

    /// A bare key, or one in plain quotes; its quoting kept where it is not the default (a
    /// key that could be bare, quoted; single quotes), as the events' reader keeps it.
    fn key(&mut self) -> Option<Read<'s>> {
        let start = self.at;
        if self.peek() == Some(b'"') {
            // A tab needs no escape in a string but is escaped in a key's default form.
            let name = self.quoted(b'"').filter(|name| plain_quotable(name))?;
            let raw = bare(name).then(|| &self.text[start..self.at]);
            return Some(Read { name: name.into(), raw });
        }
        if self.peek() == Some(b'\'') {
            // Single quotes are never a key's default form (that is bare, or double quotes
            // for what is taken here), so they are kept.
            let name = self.quoted(b'\'').filter(|name| plain_quotable(name))?;
            return Some(Read { name: name.into(), raw: Some(&self.text[start..self.at]) });
        }
        while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            self.at += 1;
        }
        (self.at > start).then(|| Read { name: self.text[start..self.at].into(), raw: None })
    }

    /// A one-line string in `quote`s, with nothing escaped: its text.
    fn quoted(&mut self, quote: u8) -> Option<&'s str> {
        self.at += 1;
        // Three quotes open a multi-line string.
        if self.peek() == Some(quote) && self.text.as_bytes().get(self.at + 1) == Some(&quote) {
            return None;
        }
        let start = self.at;
        loop {
            match self.next()? {
                b if b == quote => return Some(&self.text[start..self.at - 1]),
                // A backslash escapes in double quotes, and stands for itself in single ones.
                b if allowed(b, quote) && (b != b'\\' || quote == b'\'') => {}
                _ => return None,
            }
        }
    }

    /// A value of the forms this front end takes, `depth` arrays deep.
    fn value(&mut self, depth: usize) -> Option<Value> {
        match self.peek()? {
            quote @ (b'"' | b'\'') => Some(Value::String(self.quoted(quote)?.into())),
            b't' => self.word("true").then_some(Value::Boolean(true)),
            b'f' => self.word("false").then_some(Value::Boolean(false)),
            b'-' | b'0'..=b'9' => self.number(),
            b'[' if depth < DEPTH => {
                self.at += 1;
                let mut array = Vec::new();
                loop {
                    self.gap()?;
                    if self.peek()? == b']' {
                        self.at += 1;
                        return Some(Value::Array(array));
                    }
                    array.push(self.value(depth + 1)?);
                    self.gap()?;
                    match self.next()? {
                        b',' => {}
                        b']' => return Some(Value::Array(array)),
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    fn word(&mut self, word: &str) -> bool {
        let found = self.text[self.at..].starts_with(word);
        if found {
            self.at += word.len();
        }
        found
    }

    /// A decimal integer (`0`, or digits not starting with `0`, perhaps after `-`) or a
    /// float made of one with a fraction, an exponent or both, as Rust reads it (toml_parser's
    /// events read a float so): none of `_`, `+`, `inf` or `nan`. What follows is left to the
    /// caller, which takes only a separator there.
    fn number(&mut self) -> Option<Value> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let first = self.at;
        self.digits();
        let leading_zero = self.text.as_bytes().get(first) == Some(&b'0') && self.at > first + 1;
        if self.at == first || leading_zero {
            return None;
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            (self.digits() > 0).then_some(())?;
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            (self.digits() > 0).then_some(())?;
            float = true;
        }
        let text = &self.text[start..self.at];
        if float {
            // An overflow reads as infinite: toml_parser's events leave it (toml_edit refuses it).
            text.parse::<f64>().ok().filter(|f| f.is_finite()).map(Value::Float)
        } else {
            text.parse().ok().map(Value::Integer)
        }
    }

    /// Decimal digits; how many.
    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }
}

/// Whether a byte may stand as it is in a comment or a one-line string (`but`, its quote,
/// aside): a tab, a printable ASCII character, or part of a non-ASCII one.
fn allowed(b: u8, but: u8) -> bool {
    b != but && (b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
}
