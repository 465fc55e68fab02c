//! The values schema: checking values against it, and letting it type `--set` scalars.
//!
//! Input: values trees. Output: [`Diagnostic`]s for every way the effective values break
//! `schema/values.schema.json` — unknown keys with a "did you mean", wrong types, values
//! outside an enum or pattern, deleted required keys — each with JSON pointer, source,
//! `line:col` and expected-versus-found; warnings for keys gpuplan accepts but does not render;
//! and [`retype`], which gives a `--set` scalar back its literal text where the schema wants a
//! string (`--set toolkit.env[3].value=true` is the string `"true"`, not a boolean).
//!
//! The schema is not compiled: the `validate` module evaluates its keywords as it walks the
//! values. Only the top-level sections the user set are walked (with the top level itself):
//! the others are the built-in defaults, which a test validates against the whole schema.
//!
//! The schema is generated from the typed config ([`crate::config::schema_text`]) and
//! committed; a test fails when the committed copy drifts, so schema and config agree.
//! [`crd()`] turns it into the `GPUPlan` CustomResourceDefinition (see [`mod@crd`]).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::Value as J;

use crate::error::{Diagnostic, Severity};
use crate::values::{FlagKind, Node, Source, Value, Values, print};
use document::Document;

pub mod crd;
mod diagnostic;
mod document;
mod validate;

pub use crd::crd;
pub use diagnostic::closest;

/// The committed schema, as shipped (also in the Helm chart).
pub const SCHEMA: &str = include_str!("../../../schema/values.schema.json");

/// The extension keyword marking top-level keys gpuplan accepts but does not render.
pub const UNRENDERED: &str = "x-gpuplan-unrendered";

/// Where each part of [`SCHEMA`] is, found at build time (`build.rs`).
mod index {
    include!(concat!(env!("OUT_DIR"), "/schema_index.rs"));
}

/// [`SCHEMA`] without the annotations no check evaluates (`description`, `title`,
/// `examples`, `$comment`), made at build time (`build.rs`): what checking reads, a third of
/// the text to parse. The test suite holds it to the committed schema.
const CHECKED: &str = include_str!(concat!(env!("OUT_DIR"), "/schema_check.json"));

/// The schema as checking reads it ([`CHECKED`]).
fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| read(CHECKED, index::CHECK_LEN, index::CHECK_ROOT, index::CHECK_DEFS))
}

/// The schema with its annotations ([`SCHEMA`]): for the descriptions a diagnostic quotes.
fn described() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| read(SCHEMA, index::LEN, index::ROOT, index::DEFS))
}

fn read(
    text: &'static str,
    len: usize,
    root: &[(&str, usize, usize)],
    defs: &'static [(&'static str, usize, usize)],
) -> Document {
    // The committed schema is checked by the test suite, so reading it cannot fail at run time.
    match (len == text.len()).then(|| Document::indexed(text, root, defs)) {
        Some(Ok(document)) => document,
        _ => Document::new(text).unwrap_or_else(|_| Document::unreadable()),
    }
}

/// The root schema, without its `$defs` (see [`def`]).
fn schema() -> &'static J {
    document().root()
}

/// Drop the keys of objects the schema closes (`additionalProperties: false`) but does not
/// list, so typed deserialisation ignores them as the upstream chart would.
pub fn prune_unknown(json: &mut J) {
    prune_at(json, "");
}

fn prune_at(json: &mut J, pointer: &str) {
    match json {
        J::Object(map) => {
            let schemas = subschemas(pointer);
            let closed = !schemas.is_empty()
                && schemas
                    .iter()
                    .all(|s| s.get("additionalProperties") == Some(&J::Bool(false)) || s.get("properties").is_none());
            let known: BTreeSet<&str> = schemas
                .iter()
                .filter_map(|s| s.get("properties").and_then(J::as_object))
                .flat_map(|p| p.keys().map(String::as_str))
                .collect();
            if closed && !known.is_empty() {
                map.retain(|k, _| known.contains(k.as_str()));
            }
            for (key, child) in map.iter_mut() {
                let mut p = pointer.to_owned();
                p.push('/');
                crate::values::push_pointer_token(&mut p, key);
                prune_at(child, &p);
            }
        }
        J::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                prune_at(child, &format!("{pointer}/{i}"));
            }
        }
        _ => {}
    }
}

/// The schema's `$defs` entry of a name, parsed when first asked for.
fn def(name: &str) -> Option<&'static J> {
    document().def(name)
}

/// Follow `$ref`s to `#/$defs/...` of `document` until a schema without one.
fn deref(document: &'static Document, mut s: &'static J) -> &'static J {
    for _ in 0..32 {
        let Some(target) = s.get("$ref").and_then(J::as_str) else {
            return s;
        };
        let Some(name) = target.strip_prefix("#/$defs/") else {
            return s;
        };
        match document.def(name) {
            Some(next) => s = next,
            None => return s,
        }
    }
    s
}

/// A schema and its `anyOf`/`oneOf`/`allOf` branches, references followed.
fn branches(document: &'static Document, s: &'static J, out: &mut Vec<&'static J>) {
    let s = deref(document, s);
    out.push(s);
    for key in ["anyOf", "oneOf", "allOf"] {
        for branch in s.get(key).and_then(J::as_array).into_iter().flatten() {
            branches(document, branch, out);
        }
    }
}

/// The subschemas that apply at an instance pointer (empty when the schema has none),
/// without their annotations.
pub fn subschemas(pointer: &str) -> Vec<&'static J> {
    subschemas_of(document(), pointer)
}

/// [`subschemas`] with their annotations (`description`), for messages.
fn described_subschemas(pointer: &str) -> Vec<&'static J> {
    subschemas_of(described(), pointer)
}

fn subschemas_of(document: &'static Document, pointer: &str) -> Vec<&'static J> {
    let mut current = Vec::new();
    branches(document, document.root(), &mut current);
    for token in pointer.split('/').skip(1) {
        let key = crate::values::unescape_pointer_token(token);
        let mut next = Vec::new();
        for s in &current {
            if let Some(child) = s.get("properties").and_then(|p| p.get(&key)) {
                branches(document, child, &mut next);
            } else if let Some(extra @ J::Object(_)) = s.get("additionalProperties") {
                branches(document, extra, &mut next);
            }
            if key.parse::<usize>().is_ok()
                && let Some(items @ J::Object(_)) = s.get("items")
            {
                branches(document, items, &mut next);
            }
        }
        current = next;
    }
    current
}

/// The JSON types the schema allows at a pointer.
fn allowed_types(pointer: &str) -> BTreeSet<&'static str> {
    let mut types = BTreeSet::new();
    for s in subschemas(pointer) {
        match s.get("type") {
            Some(J::String(t)) => {
                types.insert(type_name(t));
            }
            Some(J::Array(ts)) => types.extend(ts.iter().filter_map(J::as_str).map(type_name)),
            _ => {}
        }
        for v in s.get("enum").and_then(J::as_array).into_iter().flatten().chain(s.get("const")) {
            if v.is_string() {
                types.insert("string");
            }
        }
    }
    types
}

fn type_name(t: &str) -> &'static str {
    match t {
        "string" => "string",
        "integer" => "integer",
        "number" => "number",
        "boolean" => "boolean",
        "array" => "array",
        "object" => "object",
        "null" => "null",
        _ => "unknown",
    }
}

/// Schema-directed typing: a `--set` scalar that Helm inferred as a boolean or an integer
/// becomes its literal text again where the schema accepts a string but not that type.
/// `null` keeps its meaning (it deletes a default), and `--set-json` values are explicit.
pub fn retype(user: &mut Values) {
    let mut changes = Vec::new();
    user.walk(&mut |pointer, node| {
        let from_set = matches!(&node.origin.source, Source::Flag { kind: FlagKind::Set, .. });
        let Some(literal) = node.origin.literal.as_ref().filter(|_| from_set) else {
            return;
        };
        let inferred = match node.value {
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            _ => return,
        };
        let types = allowed_types(pointer);
        let fits = types.contains(inferred) || (inferred == "integer" && types.contains("number"));
        if types.contains("string") && !fits {
            changes.push((pointer.to_owned(), literal.to_string()));
        }
    });
    for (pointer, literal) in changes {
        if let Some(node) = pointer_mut(user, &pointer) {
            node.value = Value::Str(literal);
        }
    }
}

fn pointer_mut<'a>(values: &'a mut Values, pointer: &str) -> Option<&'a mut Node> {
    let mut tokens = pointer.strip_prefix('/')?.split('/').map(crate::values::unescape_pointer_token);
    let mut node = values.0.get_mut(&tokens.next()?)?;
    for token in tokens {
        node = match &mut node.value {
            Value::Map(map) => map.get_mut(&token)?,
            Value::List(items) => items.get_mut(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Check effective values against the schema. `user` (the values before defaults) lets a
/// diagnostic say that a required key was deleted by a user `null`.
pub fn check(effective: &Values, user: &Values) -> Vec<Diagnostic> {
    // Only what the user set is walked, so only it is made JSON: every value the user left
    // as it was stands in as `null`, a present key whose value is never looked at. What is
    // left is the built-in defaults', which a test checks against the whole schema.
    let instance =
        J::Object(effective.0.iter().map(|(key, node)| (key.clone(), touched(&node.value, user.0.get(key)))).collect());
    let walked = J::Object(user.0.iter().map(|(key, node)| (key.clone(), shape(&node.value))).collect());
    let mut out = Vec::new();
    for error in validate::validate(schema(), &instance, Some(&walked), &def) {
        diagnostic::describe(&error, effective, user, &mut out);
    }
    out.sort_by(|a, b| a.pointer.cmp(&b.pointer).then(a.message.cmp(&b.message)));
    out.dedup();
    out
}

/// An effective value as JSON where the user set something in it (`user`, the user's value
/// at the same place), `null` where not. A list is the user's whole or the defaults' whole
/// (Helm replaces lists).
fn touched(effective: &Value, user: Option<&Node>) -> J {
    match (effective, user.map(|n| &n.value)) {
        (_, None) => J::Null,
        (Value::Map(members), Some(Value::Map(set))) => {
            J::Object(members.iter().map(|(key, node)| (key.clone(), touched(&node.value, set.get(key)))).collect())
        }
        (value, Some(_)) => value.to_json(),
    }
}

/// Where the user set something, for [`validate::validate`]: the keys of their maps, `null`
/// below anything else (walked whole).
fn shape(user: &Value) -> J {
    match user {
        Value::Map(members) => J::Object(members.iter().map(|(key, node)| (key.clone(), shape(&node.value))).collect()),
        _ => J::Null,
    }
}

/// Warn about every top-level key the user set that gpuplan accepts but does not render.
pub fn unrendered(user: &Values) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let properties = schema().get("properties").and_then(J::as_object);
    for (key, node) in &user.0 {
        let Some(reason) = properties.and_then(|p| p.get(key)).and_then(|s| s.get(UNRENDERED)).and_then(J::as_str)
        else {
            continue;
        };
        let mut first = None;
        node.walk(&mut String::new(), &mut |_, n| {
            if first.is_none() && !matches!(n.value, Value::Map(_) | Value::List(_) | Value::Null) {
                first = Some(n.origin.clone());
            }
        });
        if let Some(origin) = first {
            let mut pointer = String::from("/");
            crate::values::push_pointer_token(&mut pointer, key);
            out.push(
                Diagnostic::warning(
                    pointer,
                    format!(
                        "`{key}` is accepted for compatibility with the upstream chart, but gpuplan does not render it"
                    ),
                )
                .with_origin(Some(origin))
                .with_hint(reason),
            );
        }
    }
    out
}

/// Whether the value at `pointer` may be a secret, so a message must not show it: its key
/// path says so, its text looks like one, or it is an env entry's `value` whose `name` does
/// ([`crate::redact`]).
pub fn sensitive(values: &Values, pointer: &str) -> bool {
    if crate::redact::sensitive_path(pointer) {
        return true;
    }
    if let Some(Node { value: Value::Str(s), .. }) = values.pointer(pointer)
        && crate::redact::sensitive_text(s)
    {
        return true;
    }
    pointer.strip_suffix("/value").is_some_and(|entry| {
        matches!(values.pointer(&format!("{entry}/name")), Some(Node { value: Value::Str(name), .. }) if crate::redact::sensitive_key(name))
    })
}

/// [`describe_value`] of the value at `pointer`, or only its type and size when it may be a
/// secret ([`sensitive`]).
pub fn describe_value_at(values: &Values, pointer: &str, node: &Node) -> String {
    if !sensitive(values, pointer) {
        return describe_value(node);
    }
    match &node.value {
        Value::Str(s) => format!("a string of {} characters (not shown: the key may hold a secret)", s.chars().count()),
        Value::List(_) | Value::Map(_) => describe_value(node),
        other => format!("a {} (not shown: the key may hold a secret)", other.type_name()),
    }
}

/// A short description of a value for "found:" lines: `boolean true`, `number 8 (written
/// `010`)`, `string "abc"`, `a list of 2 items`.
pub fn describe_value(node: &Node) -> String {
    let (kind, shown) = match &node.value {
        Value::Null => return "null".into(),
        Value::Bool(b) => ("boolean", b.to_string()),
        Value::Int(i) => ("integer", i.to_string()),
        Value::Float(f) => ("number", print::json_float(*f)),
        Value::Str(s) => {
            let mut quoted = String::new();
            let shown: String = s.chars().take(80).collect();
            print::write_json_string(&mut quoted, &shown);
            if shown.len() < s.len() {
                quoted.push('…');
            }
            return format!("string {quoted}");
        }
        Value::List(items) => {
            return format!("a list of {} item{}", items.len(), if items.len() == 1 { "" } else { "s" });
        }
        Value::Map(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
            return format!("a map with keys {}", keys.join(", "));
        }
    };
    match &node.origin.literal {
        Some(literal) if **literal != *shown => format!("{kind} {shown} (written `{literal}`)"),
        _ => format!("{kind} {shown}"),
    }
}

/// Whether any diagnostic is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity == Severity::Error)
}
