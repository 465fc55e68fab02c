//! The embedded schema, parsed only as far as a run uses it.
//!
//! Input: the schema's JSON text. Output: a [`Document`]: its root (every keyword but
//! `$defs`), parsed up front, and each `$defs` entry, parsed when first asked for. Parsing
//! the whole 170 KB schema into JSON values took ~4 M instructions a run, though a run reaches
//! only some of its definitions. Where each one starts and ends is found at build time for the
//! embedded schema ([`Document::indexed`]: `build.rs`), by one pass over the bytes that builds
//! nothing for any other text ([`Document::new`]).

use std::borrow::Cow;
use std::sync::OnceLock;

use serde_json::{Map, Value as J};

/// The schema: its root, and its definitions by name.
pub struct Document {
    root: J,
    /// Sorted by name.
    defs: Vec<Def>,
}

/// One `$defs` entry: its name, its text, and its value once parsed.
struct Def {
    name: Cow<'static, str>,
    text: &'static str,
    parsed: OnceLock<J>,
}

impl Def {
    fn new(name: Cow<'static, str>, text: &'static str) -> Def {
        Def { name, text, parsed: OnceLock::new() }
    }
}

impl Document {
    /// Index a schema document. Fails when the text is not a JSON object.
    pub fn new(text: &'static str) -> Result<Document, String> {
        let mut root = Map::new();
        let mut defs = Vec::new();
        let mut scan = Scan { text, at: 0 };
        scan.object(|scan, key| {
            if key == "$defs" {
                return scan.object(|scan, name| {
                    let start = scan.at;
                    scan.value()?;
                    defs.push(Def::new(name.into(), &text[start..scan.at]));
                    Ok(())
                });
            }
            let start = scan.at;
            scan.value()?;
            let value = serde_json::from_str(&text[start..scan.at]).map_err(|e| format!("`{key}`: {e}"))?;
            root.insert(key, value);
            Ok(())
        })?;
        Ok(Document::sorted(J::Object(root), defs))
    }

    /// A document for `text` from the byte ranges of its root keywords' values and its `$defs`
    /// entries, as `build.rs` finds them: none of the definitions is passed over. Fails when a
    /// range is not in the text or a root value is not JSON.
    pub fn indexed(
        text: &'static str,
        root: &[(&str, usize, usize)],
        defs: &'static [(&'static str, usize, usize)],
    ) -> Result<Document, String> {
        let at = |start: usize, end: usize| text.get(start..end).ok_or_else(|| format!("no text at {start}..{end}"));
        let mut map = Map::new();
        for &(key, start, end) in root {
            map.insert(key.to_owned(), serde_json::from_str(at(start, end)?).map_err(|e| format!("`{key}`: {e}"))?);
        }
        let defs = defs.iter().map(|&(name, start, end)| Ok(Def::new(name.into(), at(start, end)?)));
        Ok(Document::sorted(J::Object(map), defs.collect::<Result<_, String>>()?))
    }

    fn sorted(root: J, mut defs: Vec<Def>) -> Document {
        defs.sort_by(|a, b| a.name.cmp(&b.name));
        // A name given twice: JSON readers keep the last one (the sort is stable; reversed,
        // the last comes first, and dedup keeps the first of equal neighbours).
        defs.reverse();
        defs.dedup_by(|a, b| a.name == b.name);
        defs.reverse();
        Document { root, defs }
    }

    /// A document for a schema that cannot be read: a root that accepts everything.
    pub fn unreadable() -> Document {
        Document { root: J::Bool(true), defs: Vec::new() }
    }

    /// The root schema, without its `$defs`.
    pub fn root(&self) -> &J {
        &self.root
    }

    /// The definition of a name, parsed on first use (`false`, which accepts nothing, if its
    /// text is not JSON: the committed schema is checked by the test suite).
    pub fn def(&self, name: &str) -> Option<&J> {
        let def = &self.defs[self.defs.binary_search_by(|d| d.name.as_ref().cmp(name)).ok()?];
        Some(def.parsed.get_or_init(|| serde_json::from_str(def.text).unwrap_or(J::Bool(false))))
    }
}

/// A pass over JSON text that finds where values start and end.
struct Scan<'t> {
    text: &'t str,
    at: usize,
}

impl Scan<'_> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        self.space();
        if self.byte() != Some(b) {
            return Err(format!("expected `{}` at byte {}", char::from(b), self.at));
        }
        self.at += 1;
        Ok(())
    }

    /// An object: `member` is called with each key, the scan at its value, and must pass it.
    fn object(&mut self, mut member: impl FnMut(&mut Self, String) -> Result<(), String>) -> Result<(), String> {
        self.expect(b'{')?;
        self.space();
        if self.byte() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.space();
            let start = self.at;
            self.string()?;
            let raw = &self.text[start..self.at];
            let key = match raw.contains('\\') {
                true => serde_json::from_str(raw).map_err(|e| e.to_string())?,
                false => raw[1..raw.len() - 1].to_owned(),
            };
            self.expect(b':')?;
            self.space();
            member(self, key)?;
            self.space();
            match self.byte() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(format!("expected `,` or `}}` at byte {}", self.at)),
            }
        }
    }

    /// Pass a string, its quotes included.
    fn string(&mut self) -> Result<(), String> {
        if self.byte() != Some(b'"') {
            return Err(format!("expected a string at byte {}", self.at));
        }
        let bytes = self.text.as_bytes();
        let mut i = self.at + 1;
        // memchr: most of the schema is text, passed many bytes at a time.
        while let Some(found) = memchr::memchr2(b'"', b'\\', &bytes[i.min(bytes.len())..]) {
            i += found;
            if bytes[i] == b'"' {
                self.at = i + 1;
                return Ok(());
            }
            i += 2;
        }
        Err("a string is not closed".into())
    }

    /// Pass one value (not checked: the parse of the parts used does that).
    fn value(&mut self) -> Result<(), String> {
        let (open, close) = match self.byte() {
            Some(b'"') => return self.string(),
            Some(b'{') => (b'{', b'}'),
            Some(b'[') => (b'[', b']'),
            _ => {
                let rest = &self.text.as_bytes()[self.at..];
                let len = rest.iter().position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'));
                self.at += len.unwrap_or(rest.len());
                return Ok(());
            }
        };
        // Only this kind of bracket needs counting: JSON nests the other kind inside it whole.
        let mut depth = 0usize;
        let bytes = self.text.as_bytes();
        while let Some(found) = memchr::memchr3(b'"', open, close, &bytes[self.at..]) {
            self.at += found;
            match bytes[self.at] {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b if b == open => depth += 1,
                _ => depth -= 1,
            }
            self.at += 1;
            if depth == 0 {
                return Ok(());
            }
        }
        Err("an object or array is not closed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_the_schema() {
        let whole: J = serde_json::from_str(crate::schema::SCHEMA).expect("JSON");
        let document = Document::new(crate::schema::SCHEMA).expect("indexes");
        let mut root = whole.as_object().expect("an object").clone();
        let defs = root.remove("$defs").expect("$defs");
        assert_eq!(document.root(), &J::Object(root));
        let defs = defs.as_object().expect("an object");
        assert_eq!(document.defs.len(), defs.len());
        for (name, def) in defs {
            assert_eq!(document.def(name), Some(def), "{name}");
        }
        assert_eq!(document.def("Missing"), None);
    }

    #[test]
    fn the_build_time_index_gives_the_document_a_pass_over_the_text_gives() {
        let index = crate::schema::index::DEFS;
        let indexed = Document::indexed(crate::schema::SCHEMA, crate::schema::index::ROOT, index).expect("indexes");
        let scanned = Document::new(crate::schema::SCHEMA).expect("indexes");
        assert_eq!(crate::schema::index::LEN, crate::schema::SCHEMA.len());
        assert_eq!(indexed.root(), scanned.root());
        assert!(index.len() > 50);
        assert_eq!(indexed.defs.len(), scanned.defs.len());
        for def in &scanned.defs {
            assert_eq!(indexed.def(&def.name), scanned.def(&def.name), "{}", def.name);
        }
        assert!(Document::indexed("{}", &[], &[("a", 1, 9)]).is_err());
    }

    /// The annotations taken out of every object but a map of names to schemas (the members
    /// of `properties`, `$defs`) and data (`enum`, `default`): a rule said another way than
    /// `build.rs`'s, which names the keywords that hold schemas.
    fn without_annotations(value: &J, names: bool) -> J {
        match value {
            J::Object(map) => J::Object(
                map.iter()
                    .filter(|(key, _)| {
                        names || !matches!(key.as_str(), "description" | "title" | "examples" | "$comment")
                    })
                    .map(|(key, v)| match key.as_str() {
                        _ if names => (key.clone(), without_annotations(v, false)),
                        "enum" | "const" | "default" | "required" => (key.clone(), v.clone()),
                        "properties" | "$defs" | "patternProperties" => (key.clone(), without_annotations(v, true)),
                        _ => (key.clone(), without_annotations(v, false)),
                    })
                    .collect(),
            ),
            J::Array(items) => J::Array(items.iter().map(|v| without_annotations(v, false)).collect()),
            other => other.clone(),
        }
    }

    #[test]
    fn the_document_checks_read_is_the_schema_without_its_annotations() {
        use crate::schema;
        let whole: J = serde_json::from_str(schema::SCHEMA).expect("JSON");
        let checked: J = serde_json::from_str(schema::CHECKED).expect("JSON");
        assert_eq!(checked, without_annotations(&whole, false));
        assert!(schema::CHECKED.len() * 2 < schema::SCHEMA.len(), "annotations were most of the text");
        // Both documents come from their build-time index, as a run reads them.
        assert_eq!(schema::index::CHECK_LEN, schema::CHECKED.len());
        let document = Document::new(schema::CHECKED).expect("indexes");
        assert_eq!(schema::document().root(), document.root());
        for def in &document.defs {
            assert_eq!(schema::document().def(&def.name), document.def(&def.name), "{}", def.name);
            assert!(schema::described().def(&def.name).is_some(), "{}", def.name);
        }
        assert_eq!(schema::described().root(), Document::new(schema::SCHEMA).expect("indexes").root());
    }

    #[test]
    fn a_name_defined_twice_is_its_last_definition() {
        let document = Document::new(r#"{"$defs": {"a": 1, "b": 2, "a": 3}}"#).expect("indexes");
        assert_eq!(document.def("a"), Some(&serde_json::json!(3)));
        assert_eq!(document.def("b"), Some(&serde_json::json!(2)));
    }

    #[test]
    fn keys_and_strings_with_escapes_are_read() {
        let text =
            r#" { "$defs" : { "a\"b" : {"x": "}\\\"{", "y": [1, {"z": null}]}, "c": true } , "k\u0041": -1.5e3 } "#;
        let document = Document::new(text).expect("indexes");
        assert_eq!(document.root(), &serde_json::json!({"kA": -1.5e3}));
        assert_eq!(document.def("a\"b"), Some(&serde_json::json!({"x": "}\\\"{", "y": [1, {"z": null}]})));
        assert_eq!(document.def("c"), Some(&J::Bool(true)));
        for broken in ["", "[]", "{", r#"{"a" 1}"#, r#"{"a": "b}"#, r#"{"$defs": {"a": {"b": 1}"#] {
            assert!(Document::new(broken).is_err(), "{broken}");
        }
    }
}
