//! Final touches to the generated values schema, for the people who read it.
//!
//! Input: a schema as schemars derives it. Output: the same constraints, phrased for users:
//! - descriptions are reflowed: a doc comment's line breaks inside a paragraph become spaces,
//!   so an error message does not break mid-sentence;
//! - a closed set of strings (a unit enum with documented variants, which schemars writes as a
//!   `oneOf` of `const` schemas) becomes one `enum` keyword, and the variants' docs become a
//!   list in the description. A wrong value then gets one error that lists the allowed values,
//!   rather than one error per variant.
//!
//! Applied to every subschema by [`super::schema`], including the shared Kubernetes shapes in `kube`.

use schemars::Schema;
use serde_json::Value;

/// Tidies one schema object (not its subschemas).
pub(crate) fn tidy(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::String(description)) = object.get_mut("description") {
        *description = reflow(description);
    }
    let Some(Value::Array(variants)) = object.get("oneOf") else {
        return;
    };
    let mut values = Vec::with_capacity(variants.len());
    let mut lines = Vec::with_capacity(variants.len());
    for variant in variants {
        let Some(value) = variant.get("const") else {
            return; // Not a closed set of constants: leave the oneOf alone.
        };
        if let Some(text) = variant.get("description").and_then(Value::as_str) {
            lines.push(format!("- {}: {}", show(value), reflow(text)));
        }
        values.push(value.clone());
    }
    object.remove("oneOf");
    object.insert("enum".into(), Value::Array(values));
    if !lines.is_empty() {
        let list = lines.join("\n");
        let description = match object.get("description").and_then(Value::as_str) {
            Some(text) if !text.is_empty() => format!("{text}\n\n{list}"),
            _ => list,
        };
        object.insert("description".into(), Value::String(description));
    }
}

/// Joins the lines of each paragraph with spaces; paragraphs stay separated by a blank line.
fn reflow(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| paragraph.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" "))
        .filter(|paragraph| !paragraph.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A constant as a reader would type it: `on`, or `""` for the empty string.
fn show(value: &Value) -> String {
    match value {
        Value::String(text) if !text.is_empty() => format!("`{text}`"),
        other => format!("`{other}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::json_schema;

    #[test]
    fn reflows_lines_and_keeps_paragraphs() {
        assert_eq!(reflow("one\ntwo\n\nthree"), "one two\n\nthree");
    }

    #[test]
    fn documented_constants_become_an_enum() {
        let mut schema = json_schema!({
            "description": "A mode.",
            "oneOf": [
                { "type": "string", "const": "on", "description": "On." },
                { "type": "string", "const": "", "description": "Left\nalone." }
            ]
        });
        tidy(&mut schema);
        assert_eq!(
            schema,
            json_schema!({
                "description": "A mode.\n\n- `on`: On.\n- `\"\"`: Left alone.",
                "enum": ["on", ""]
            })
        );
    }

    #[test]
    fn other_one_ofs_are_left_alone() {
        let original = json_schema!({ "oneOf": [{ "type": "string" }, { "const": 1 }] });
        let mut schema = original.clone();
        tidy(&mut schema);
        assert_eq!(schema, original);
    }
}
