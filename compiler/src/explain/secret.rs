//! Keeping Secret data out of `explain`'s output.
//!
//! Input: the traced object, the field path and the values `explain` is about to print.
//! Output: the same values with every string under a Secret's `data` or `stringData` replaced
//! by its size (`<secret: 12 bytes>`), and a test for values-file text that would give a
//! Secret's data away (an `extraObjects` entry written as one string of YAML holds it).

use serde_json::Value as J;

use super::path::FieldPath;
use crate::plan::Manifest;

/// The keys of a Secret that hold its data.
const DATA_KEYS: [&str; 2] = ["data", "stringData"];

/// Whether the object is a core Secret.
pub fn is_secret(m: &Manifest) -> bool {
    m.kind() == "Secret" && m.api_version() == "v1"
}

/// Whether a path inside a Secret lies in its data.
pub fn in_data(path: &FieldPath) -> bool {
    DATA_KEYS.iter().any(|k| path.starts_with_key(k))
}

/// What is printed instead of a secret value.
pub fn hidden(bytes: usize) -> J {
    J::String(format!("<secret: {bytes} bytes>"))
}

/// The size of a data value: decoded for `data` (base64), as written for `stringData`.
fn size(key: &str, text: &str) -> usize {
    if key != "data" {
        return text.len();
    }
    let digits = text.chars().filter(|c| !c.is_whitespace()).count();
    let padding = text.trim_end().chars().rev().take_while(|&c| c == '=').count();
    (digits / 4 * 3).saturating_sub(padding)
}

/// The field's value with every secret string replaced by its size.
pub fn redact(field: &FieldPath, value: &J) -> J {
    let Some(key) = DATA_KEYS.iter().find(|k| field.starts_with_key(k)) else {
        return value.clone();
    };
    hide_strings(key, value)
}

fn hide_strings(key: &str, value: &J) -> J {
    match value {
        J::String(s) => hidden(size(key, s)),
        J::Array(items) => J::Array(items.iter().map(|v| hide_strings(key, v)).collect()),
        J::Object(map) => J::Object(map.iter().map(|(k, v)| (k.clone(), hide_strings(key, v))).collect()),
        other => other.clone(),
    }
}

/// Every non-empty string of the Secret's data, as rendered.
pub fn texts(object: &J) -> Vec<String> {
    DATA_KEYS
        .iter()
        .filter_map(|k| object.get(k).and_then(J::as_object))
        .flat_map(|m| m.values())
        .filter_map(J::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether a value's text holds any of the Secret's data.
pub fn gives_away(text: &str, secrets: &[String]) -> bool {
    secrets.iter().any(|s| text.contains(s.as_str()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_data_and_string_data_redact_keeps_only_sizes() {
        let field = FieldPath::parse("data").expect("parses");
        assert_eq!(redact(&field, &json!({ "p": "aHVudGVyMg==" })), json!({ "p": "<secret: 7 bytes>" }));
        let field = FieldPath::parse("stringData.p").expect("parses");
        assert_eq!(redact(&field, &json!("hunter2")), json!("<secret: 7 bytes>"));
        let field = FieldPath::parse("metadata.name").expect("parses");
        assert_eq!(redact(&field, &json!("creds")), json!("creds"));
    }
}
