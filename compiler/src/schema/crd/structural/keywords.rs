//! Which keywords a structural node keeps, and in which form.
//!
//! Input: a JSON Schema node. Output: the keywords `JSONSchemaProps` has, converted (`const` to a
//! one-value `enum`, draft 2020-12's numeric exclusive bounds to OpenAPI v3.0's boolean form,
//! only the `format`s the API server knows); and which keywords only constrain strings or
//! numbers.

use serde_json::{Map, Value as J, json};

/// Formats the API server knows (and validates); any other is dropped.
const KNOWN_FORMATS: &[&str] = &[
    "bsonobjectid",
    "byte",
    "cidr",
    "creditcard",
    "date",
    "date-time",
    "datetime",
    "double",
    "duration",
    "email",
    "float",
    "hexcolor",
    "hostname",
    "int32",
    "int64",
    "ipv4",
    "ipv6",
    "isbn",
    "isbn10",
    "isbn13",
    "mac",
    "password",
    "rgbcolor",
    "ssn",
    "uri",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
];

/// Keywords copied as they are (after their values are converted where they hold schemas).
const KEPT: &[&str] = &[
    "description",
    "title",
    "enum",
    "minimum",
    "maximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
];

/// Keywords that only constrain strings (a `pattern` never rejects a number).
pub(super) const STRING_ONLY: &[&str] = &["pattern", "minLength", "maxLength"];
/// Keywords that only constrain numbers.
pub(super) const NUMBER_ONLY: &[&str] = &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];

/// The keywords of a node that are neither its type nor its children.
pub(super) fn keywords(raw: &Map<String, J>) -> Map<String, J> {
    let mut out = Map::new();
    for key in KEPT {
        if let Some(value) = raw.get(*key) {
            out.insert((*key).to_owned(), value.clone());
        }
    }
    if let Some(J::String(format)) = raw.get("format")
        && KNOWN_FORMATS.contains(&format.as_str())
    {
        out.insert("format".into(), J::String(format.clone()));
    }
    if let Some(value) = raw.get("const") {
        out.insert("enum".into(), json!([value]));
    }
    for key in ["exclusiveMinimum", "exclusiveMaximum"] {
        if let Some(value) = raw.get(key) {
            out.insert(key.to_owned(), value.clone());
        }
    }
    exclusive_bounds(&mut out);
    out
}

/// Draft 2020-12's numeric `exclusiveMinimum: n` is OpenAPI v3.0's `minimum: n` with
/// `exclusiveMinimum: true` (likewise for the maximum).
pub(super) fn exclusive_bounds(out: &mut Map<String, J>) {
    for (exclusive, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
        if let Some(J::Number(n)) = out.get(exclusive).cloned() {
            out.insert(bound.to_owned(), J::Number(n));
            out.insert(exclusive.to_owned(), J::Bool(true));
        }
    }
}
