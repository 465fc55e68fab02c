//! Turning the schema validator's errors into gpuplan diagnostics.
//!
//! Input: one [`super::validate`] error, the effective values and the user values. Output: one or more
//! [`Diagnostic`]s that say which key, where it was written, what the schema expects, what was
//! found, and a hint — "did you mean `env`?" for a misspelt key or enum value, "quote it" for
//! a YAML scalar that YAML 1.1 turned into a number, the `null` that deleted a required key.
//!
//! A value that may be a secret is never quoted ([`super::sensitive`]). The work per
//! unknown key is constant (the keys a parent allows and the places a key exists are looked up
//! once), so a file of a million unknown keys costs time in proportion to its size.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value as J;

use super::validate::{Error, Kind};
use super::{describe_value_at, described_subschemas, sensitive, subschemas};
use crate::error::Diagnostic;
use crate::values::{Node, Source, Value, Values, push_pointer_token};

/// How many keys an "expected" line lists before it says "...".
const MAX_LISTED: usize = 12;

/// Append the diagnostics for one validator error.
pub fn describe(error: &Error<'_>, effective: &Values, user: &Values, out: &mut Vec<Diagnostic>) {
    let pointer = error.pointer.clone();
    let node = effective.pointer(&pointer);
    let origin = node.map(|n| n.origin.clone());
    let found = node.map(|n| describe_value_at(effective, &pointer, n));
    let base = |message: String| {
        let mut d = Diagnostic::error(pointer.clone(), message).with_origin(origin.clone());
        d.found = found.clone();
        d
    };
    match &error.kind {
        Kind::AdditionalProperties { unexpected } => {
            let parent = Parent::new(&pointer, effective);
            for key in unexpected {
                out.push(unknown_key(&parent, key, effective));
            }
        }
        Kind::Type { expected } => {
            let expected = expected.join(" or ");
            let mut d = base(format!("wrong type: expected {expected}"));
            d.expected = Some(expected.clone());
            d.hint = node.and_then(|n| type_hint(n, &expected));
            out.push(d);
        }
        Kind::Enum { options } => {
            let options: Vec<String> = options.as_array().into_iter().flatten().map(show_json).collect();
            let mut d = base("not one of the allowed values".into());
            d.expected = Some(format!("one of {}", options.join(", ")));
            if let Some(Node { value: Value::Str(s), .. }) = node {
                let names: Vec<String> = options.iter().map(|o| o.trim_matches('"').to_owned()).collect();
                d.hint = closest(s, names.iter().map(String::as_str)).map(|c| format!("did you mean \"{c}\"?"));
            }
            out.push(d);
        }
        Kind::Pattern { pattern } => {
            let mut d = base("does not match the expected format".into());
            d.expected = Some(expectation(&pointer).unwrap_or_else(|| format!("text matching `{pattern}`")));
            d.hint = Some(format!("the pattern is `{pattern}`"));
            out.push(d);
        }
        Kind::Schema { message } => {
            let message = format!("the embedded values schema cannot check this value: {message}");
            out.push(Diagnostic::error(pointer.clone(), message));
        }
        _ if sensitive(effective, &pointer) => {
            // The validator's own text quotes the value.
            let mut d = base("does not meet the schema".into());
            d.expected = expectation(&pointer);
            out.push(d);
        }
        Kind::Required { property } => {
            let key = property.as_str();
            let mut child = pointer.clone();
            child.push('/');
            push_pointer_token(&mut child, key);
            let mut d = Diagnostic::error(child.clone(), format!("missing key `{key}`")).with_origin(origin.clone());
            d.expected = Some(expectation(&child).unwrap_or_else(|| "a value".into()));
            d.found = Some("nothing: the key is absent".into());
            d.hint = Some(match user.pointer(&child) {
                Some(n) if n.is_null() => {
                    format!("a `null` from {} deleted the default; set a value instead", n.origin)
                }
                _ => "every key of the built-in defaults must keep a value".into(),
            });
            out.push(d);
        }
        Kind::AnyOf => {
            let mut d = base("not an accepted value".into());
            d.expected = expectation(&pointer);
            out.push(d);
        }
        Kind::Other { message, .. } => {
            // The validator's text quotes the whole value, which may be large.
            let mut d = base(crate::redact::cut(message, 2 * crate::redact::SHOWN_CHARS));
            d.expected = expectation(&pointer);
            out.push(d);
        }
    }
}

/// What every unknown key under one parent shares: computed once per parent.
struct Parent<'a> {
    pointer: &'a str,
    known: Vec<String>,
    expected: String,
}

impl<'a> Parent<'a> {
    fn new(pointer: &'a str, effective: &Values) -> Self {
        let known = known_keys(pointer);
        let name = if pointer.is_empty() {
            "the top level".to_owned()
        } else {
            format!("`{}`", crate::values::dotted_path(pointer, Some(effective)))
        };
        let mut listed: Vec<&str> = known.iter().map(String::as_str).take(MAX_LISTED).collect();
        if known.len() > MAX_LISTED {
            listed.push("...");
        }
        let expected = format!("a key of {name}: {}", listed.join(", "));
        Parent { pointer, known, expected }
    }
}

/// An unknown key: where it was written, the keys that exist there, and the closest one.
fn unknown_key(parent: &Parent<'_>, key: &str, effective: &Values) -> Diagnostic {
    let mut pointer = parent.pointer.to_owned();
    pointer.push('/');
    push_pointer_token(&mut pointer, key);
    let origin = effective.pointer(&pointer).map(|n| n.origin.clone());
    let shown = crate::redact::cut(key, crate::redact::SHOWN_CHARS);
    let mut d = Diagnostic::error(pointer, format!("unknown key `{shown}`"))
        .with_origin(origin)
        .expected_found(parent.expected.clone(), format!("`{shown}`"));
    d.hint = closest(key, parent.known.iter().map(String::as_str))
        .map(|c| format!("did you mean `{c}`?"))
        .or_else(|| elsewhere(key).map(|places| format!("`{shown}` is a key of {places}")));
    d
}

/// The keys the schema allows directly under a pointer, in schema order.
fn known_keys(pointer: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for s in subschemas(pointer) {
        for k in s.get("properties").and_then(J::as_object).into_iter().flat_map(|p| p.keys()) {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// Where else in the schema a key exists (for a key written at the wrong level).
fn elsewhere(key: &str) -> Option<String> {
    static PLACES: OnceLock<HashMap<String, String>> = OnceLock::new();
    PLACES
        .get_or_init(|| {
            let mut all: HashMap<String, Vec<String>> = HashMap::new();
            find_keys(super::schema(), "", &mut all, 0);
            all.into_iter()
                .map(|(key, mut places)| {
                    places.sort();
                    places.dedup();
                    places.truncate(3);
                    (key, places.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "))
                })
                .collect()
        })
        .get(key)
        .cloned()
}

/// Every key below the top level of the schema, with the paths of the maps that have it.
fn find_keys(s: &'static J, path: &str, places: &mut HashMap<String, Vec<String>>, depth: usize) {
    if depth > 8 {
        return;
    }
    let mut all = Vec::new();
    super::branches(super::document(), s, &mut all);
    for b in all {
        for (k, child) in b.get("properties").and_then(J::as_object).into_iter().flatten() {
            let child_path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if !path.is_empty() {
                places.entry(k.clone()).or_default().push(path.to_owned());
            }
            find_keys(child, &child_path, places, depth + 1);
        }
    }
}

/// The closest candidate to a misspelt name: same letters ignoring case and separators, or a
/// Jaro-Winkler similarity of at least 0.8.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let fold = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let wanted = fold(name);
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = if fold(candidate) == wanted { 2.0 } else { strsim::jaro_winkler(&wanted, &fold(candidate)) };
        if score >= 0.8 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// What the schema says the value at a pointer should be: the first sentence of its
/// description.
fn expectation(pointer: &str) -> Option<String> {
    described_subschemas(pointer).iter().find_map(|s| s.get("description").and_then(J::as_str)).map(|d| {
        let first = d.split("\n\n").next().unwrap_or(d);
        match first.find(". ") {
            Some(end) => first[..=end].to_owned(),
            None => first.to_owned(),
        }
    })
}

/// Why a value has the wrong type, when the cause is a common one.
fn type_hint(node: &Node, expected: &str) -> Option<String> {
    let literal = node.origin.literal.as_deref();
    match (&node.origin.source, &node.value, expected.contains("string")) {
        (Source::File(_) | Source::Defaults, Value::Float(_) | Value::Bool(_) | Value::Null, true) => {
            literal.map(|l| {
                format!("YAML 1.1 reads `{l}` as a {}; quote it (\"{l}\") to keep the text", describe_kind(&node.value))
            })
        }
        (Source::Flag { kind, .. }, _, true) if *kind == crate::values::FlagKind::SetJson => {
            Some("--set-json takes JSON: write a string in double quotes, or use --set-string".into())
        }
        _ => None,
    }
}

fn describe_kind(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "boolean",
        Value::Null => "null",
        _ => "number",
    }
}

fn show_json(v: &J) -> String {
    match v {
        J::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}
