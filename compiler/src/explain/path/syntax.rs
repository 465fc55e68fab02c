//! The text form of field paths: parsing what the user wrote and printing paths back.
//!
//! Input: text — dotted keys, `[N]`, `[key=value]` (the value may be quoted: `[k="a]b"]`),
//! `["key.with.dots"]`, and in rule patterns `*` and `[*]`. Output: a [`FieldPath`], or the
//! 1-based character position and what is wrong there; and [`FieldPath`]'s `Display`, which
//! writes what `parse` reads.

use std::fmt;

use super::{FieldPath, Segment};

impl FieldPath {
    /// Parse a path; the error is the 1-based character position and what is wrong there.
    pub fn parse(text: &str) -> Result<FieldPath, (usize, String)> {
        let chars: Vec<char> = text.chars().collect();
        let mut segments = Vec::new();
        let mut i = usize::from(chars.first() == Some(&'.'));
        if i >= chars.len() {
            return Err((1, "the path is empty".into()));
        }
        let mut expect_key = chars[i] != '[';
        while i < chars.len() {
            if chars[i] == '[' {
                let (segment, next) = bracket(&chars, i)?;
                segments.push(segment);
                i = next;
                expect_key = false;
            } else if expect_key {
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                if i == start {
                    return Err((i + 1, "expected a key".into()));
                }
                segments.push(Segment::Key(chars[start..i].iter().collect()));
                expect_key = false;
            } else if chars[i] == '.' {
                i += 1;
                if i >= chars.len() {
                    return Err((i, "the path ends with `.`".into()));
                }
                expect_key = chars[i] != '[';
                if !expect_key {
                    return Err((i + 1, "expected a key after `.`".into()));
                }
            } else {
                return Err((i + 1, format!("expected `.` or `[`, found `{}`", chars[i])));
            }
        }
        Ok(FieldPath(segments))
    }
}

/// A key as a path writes it: quoted when it holds `.`, `[`, `]`, `"` or `\`.
pub(super) fn show_key(key: &str) -> String {
    if key.is_empty() || key.contains(['.', '[', ']', '"', '\\']) {
        let escaped = key.replace('\\', "\\\\").replace('"', "\\\"");
        format!("[\"{escaped}\"]")
    } else {
        key.to_owned()
    }
}

/// One `[...]` at `chars[start]`: the segment and the position after `]`.
fn bracket(chars: &[char], start: usize) -> Result<(Segment, usize), (usize, String)> {
    let mut i = start + 1;
    if chars.get(i) == Some(&'"') {
        let (text, next) = quoted(chars, i)?;
        return match chars.get(next) {
            Some(']') => Ok((Segment::Key(text), next + 1)),
            _ => Err((next + 1, "expected `]` after the quoted key".into())),
        };
    }
    let body_start = i;
    while i < chars.len() && chars[i] != ']' && chars[i] != '=' {
        i += 1;
    }
    let head: String = chars[body_start..i].iter().collect();
    match chars.get(i) {
        None => Err((start + 1, "`[` is not closed".into())),
        Some(']') if head == "*" => Ok((Segment::Any, i + 1)),
        Some(']') => head
            .parse::<usize>()
            .map(|n| (Segment::Index(n), i + 1))
            .map_err(|_| (body_start + 1, format!("`[{head}]` is neither an index nor `[key=value]`"))),
        Some(_) => {
            if head.is_empty() {
                return Err((i + 1, "expected a key before `=`".into()));
            }
            let (value, next) = if chars.get(i + 1) == Some(&'"') {
                quoted(chars, i + 1)?
            } else {
                let from = i + 1;
                let mut j = from;
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                (chars[from..j].iter().collect(), j)
            };
            match chars.get(next) {
                Some(']') => Ok((Segment::Select { key: head, value }, next + 1)),
                _ => Err((start + 1, "`[` is not closed".into())),
            }
        }
    }
}

/// A `"..."` string at `chars[start]` with `\"` and `\\` escapes: the text and the position
/// after the closing quote.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), (usize, String)> {
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '"' => return Ok((text, i + 1)),
            '\\' if i + 1 < chars.len() => {
                text.push(chars[i + 1]);
                i += 2;
            }
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    Err((start + 1, "the quote is not closed".into()))
}

impl fmt::Display for FieldPath {
    /// The path as `explain` takes it: `spec.containers[name=ctr].env[0]`, `metadata.labels["a.b/c"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) => {
                    let shown = show_key(k);
                    if n > 0 && !shown.starts_with('[') {
                        f.write_str(".")?;
                    }
                    f.write_str(&shown)?;
                }
                Segment::Index(i) => write!(f, "[{i}]")?,
                Segment::Select { key, value } if value.contains([']', '"']) => {
                    write!(f, "[{key}=\"{}\"]", value.replace('\\', "\\\\").replace('"', "\\\""))?
                }
                Segment::Select { key, value } => write!(f, "[{key}={value}]")?,
                Segment::Any => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> FieldPath {
        FieldPath::parse(text).expect("parses")
    }

    #[test]
    fn given_each_form_parse_and_display_round_trip() {
        for text in ["a.b[0].c", "spec.containers[name=ctr].env[name=X].value", "metadata.labels[\"a.b/c\"]", "x[*]"] {
            assert_eq!(parse(text).to_string(), text);
        }
        assert_eq!(parse(".a").to_string(), "a");
        assert_eq!(parse("a[k=\"v]\"]").0[1], Segment::Select { key: "k".into(), value: "v]".into() });
    }

    #[test]
    fn given_bad_paths_parse_says_where() {
        assert_eq!(FieldPath::parse("a..b").map_err(|e| e.0), Err(3));
        assert_eq!(FieldPath::parse("a[").map_err(|e| e.0), Err(2));
        assert_eq!(FieldPath::parse("a[x]").map_err(|e| e.0), Err(3));
        assert_eq!(FieldPath::parse("a.").map_err(|e| e.0), Err(2));
        assert!(FieldPath::parse("").is_err());
    }
}
