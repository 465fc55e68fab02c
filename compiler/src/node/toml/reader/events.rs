//! The reader's front end for any file: toml_parser's events (the lexer and parser toml_edit
//! reads with) into the [`Builder`]. The syntax accepted and refused is toml_edit's own; of
//! what it accepts, this takes strings, booleans, integers, floats and arrays under `[table]`
//! headers, and leaves the rest to toml_edit (see the [module docs](super)).
//!
//! Input: a file's text. Output: its tree and top-level keys' places, or nothing.

use std::borrow::Cow;
use std::ops::Range;

use toml_parser::decoder::{Encoding, ScalarKind};
use toml_parser::parser::{Event, EventKind, RecursionGuard, ValidateWhitespace, parse_document};
use toml_parser::{ParseError, Source};

use super::super::emit::{bare, default_key, plain_quotable};
use super::super::tree::Value;
use super::{Builder, LIMIT, Read, Reading};

/// The values of `body` and where its top-level keys are, read from toml_parser's events.
pub fn read(body: &str) -> Option<Reading> {
    let source = Source::new(body);
    let tokens = source.lex().into_vec();
    let mut events = Vec::with_capacity(tokens.len());
    let mut errors: Option<ParseError> = None;
    {
        let mut validate = ValidateWhitespace::new(&mut events, source);
        let mut guard = RecursionGuard::new(&mut validate, LIMIT);
        parse_document(&tokens, &mut guard, &mut errors);
    }
    if errors.is_some() {
        return None;
    }
    let mut reader = Reader { source, events: &events, at: 0 };
    let mut builder = Builder::new(body);
    while let Some(event) = reader.next_significant() {
        match event.kind() {
            EventKind::StdTableOpen => {
                let mut path = builder.header(event.span().start())?;
                reader.header(&mut path)?;
                builder.table(path);
            }
            EventKind::SimpleKey => {
                let key = reader.key(event)?;
                let (value, span) = match reader.next_significant()?.kind() {
                    EventKind::KeyValSep => {
                        let value_event = reader.next_significant()?;
                        reader.value(value_event)?
                    }
                    _ => return None,
                };
                builder.value(&key, event.span().start(), value, span);
            }
            _ => return None,
        }
    }
    builder.finish()
}

struct Reader<'e, 's> {
    source: Source<'s>,
    events: &'e [Event],
    at: usize,
}

impl<'s> Reader<'_, 's> {
    /// The next event that is not whitespace, a comment or a line end (toml_parser has
    /// validated those).
    fn next_significant(&mut self) -> Option<Event> {
        while let Some(event) = self.events.get(self.at).copied() {
            self.at += 1;
            if !matches!(event.kind(), EventKind::Whitespace | EventKind::Comment | EventKind::Newline) {
                return Some(event);
            }
        }
        None
    }

    /// A `[table]` header's path into `path`, its opening bracket read.
    fn header(&mut self, path: &mut Vec<Read<'s>>) -> Option<()> {
        loop {
            let event = self.next_significant()?;
            if event.kind() != EventKind::SimpleKey || path.len() >= LIMIT as usize {
                return None;
            }
            path.push(self.key(event)?);
            match self.next_significant()?.kind() {
                EventKind::KeySep => {}
                EventKind::StdTableClose => return Some(()),
                _ => return None,
            }
        }
    }

    /// A key, quoted as it was read when that is not how toml_edit quotes it by default.
    fn key(&self, event: Event) -> Option<Read<'s>> {
        let raw = self.source.get(event)?;
        let mut decoded = Cow::Borrowed("");
        let mut error: Option<ParseError> = None;
        raw.decode_key(&mut decoded, &mut error);
        if error.is_some() {
            return None;
        }
        let text = raw.as_str();
        // The common cases are told without writing the default form: a bare key, and one with
        // no escape (decoded in place) that needs plain double quotes.
        let quoted_as_by_default = match event.encoding() {
            None => bare(&decoded),
            Some(Encoding::BasicString) => {
                matches!(decoded, Cow::Borrowed(_)) && !bare(&decoded) && plain_quotable(&decoded)
            }
            Some(_) => false,
        } || {
            let mut default = String::new();
            default_key(&mut default, &decoded);
            default == text
        };
        // Otherwise the key's own quoting is kept (for the drop-in, as toml_edit keeps it).
        Some(Read { name: decoded, raw: (!quoted_as_by_default).then_some(text) })
    }

    /// A value starting at `event`, and where it is in the text.
    fn value(&mut self, event: Event) -> Option<(Value, Range<usize>)> {
        match event.kind() {
            EventKind::Scalar => Some((self.scalar(event)?, event.span().start()..event.span().end())),
            EventKind::ArrayOpen => {
                let mut array = Vec::new();
                loop {
                    let next = self.next_significant()?;
                    match next.kind() {
                        EventKind::ArrayClose => {
                            return Some((Value::Array(array), event.span().start()..next.span().end()));
                        }
                        EventKind::ValueSep => {}
                        EventKind::Scalar | EventKind::ArrayOpen => array.push(self.value(next)?.0),
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    /// A string, boolean, integer or float, decoded as toml_edit decodes it; `None` for a
    /// date-time, or a number out of range.
    fn scalar(&self, event: Event) -> Option<Value> {
        let raw = self.source.get(event)?;
        let mut decoded = Cow::Borrowed("");
        let mut error: Option<ParseError> = None;
        let kind = raw.decode_scalar(&mut decoded, &mut error);
        if error.is_some() {
            return None;
        }
        match kind {
            ScalarKind::String => Some(Value::String(decoded.into())),
            ScalarKind::Boolean(b) => Some(Value::Boolean(b)),
            ScalarKind::Integer(radix) => i64::from_str_radix(&decoded, radix.value()).ok().map(Value::Integer),
            ScalarKind::Float => {
                let value = decoded.parse::<f64>().ok()?;
                // An overflow (toml_edit refuses it) parses as infinite; `inf` is spelled out.
                let spelled = decoded.trim_start_matches(['+', '-']).bytes().all(|b| b.is_ascii_alphabetic());
                (value.is_finite() || spelled).then_some(Value::Float(value))
            }
            ScalarKind::DateTime => None,
        }
    }
}
