//! Stage `extra-objects`: the manifests the user lists in `extraObjects`, as the chart's
//! `extra-objects.yaml` passes them through.
//!
//! Input: `extraObjects`, each entry a map or a string of YAML (which may hold several
//! `---`-separated documents). Output: one object per map and per non-empty document, in
//! order, each labelled `app.kubernetes.io/managed-by: gpuplan` so the release inventory
//! tracks it.
//!
//! Helm runs every entry through `tpl`, so `{{ .Release.Namespace }}` and the like are
//! evaluated there. gpuplan has no Go template engine: an entry holding `{{` anywhere (in a
//! string, or in any string of a map, which Helm templates too) is an error naming the entry,
//! rather than an object applied with the braces in it. Namespaced objects without a
//! `metadata.namespace` are left so; as with Helm, they go into the release namespace on
//! apply.

use serde::Serialize;
use serde_json::{Value as J, json};

use super::operand::MANAGED_BY;
use super::{Context, Out};
use crate::error::Error;
use crate::values::{Source, load::load};

/// The template every object goes through (it prints the object as it is).
const TEMPLATE: &str = "extra-objects/object.yaml";

#[derive(Serialize)]
struct View<'a> {
    object: &'a J,
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    for (index, entry) in ctx.config.extra_objects.iter().enumerate() {
        for mut object in objects(index, entry)? {
            label(&mut object);
            out.emit(TEMPLATE, &View { object: &object })?;
        }
    }
    Ok(())
}

/// Add gpuplan's `managed-by` label (an empty `labels:` or `metadata:` becomes a map).
fn label(object: &mut J) {
    let Some(object) = object.as_object_mut() else { return };
    let metadata = object.entry("metadata").or_insert(J::Null);
    if metadata.is_null() {
        *metadata = json!({});
    }
    let Some(metadata) = metadata.as_object_mut() else { return };
    let labels = metadata.entry("labels").or_insert(J::Null);
    if labels.is_null() {
        *labels = json!({});
    }
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    }
}

fn fail(index: usize, message: impl std::fmt::Display) -> Error {
    Error::Render { template: TEMPLATE.into(), message: format!("extraObjects[{index}]: {message}") }
}

/// The objects of one entry: a map as it is, a string parsed as YAML documents.
fn objects(index: usize, entry: &J) -> Result<Vec<J>, Error> {
    if let Some(at) = templated(entry, String::new()) {
        return Err(fail(
            index,
            format!(
                "{at}holds Helm template syntax (`{{{{`), which gpuplan does not evaluate; \
                 write the object literally (for example the namespace's name instead of \
                 `{{{{ .Release.Namespace }}}}`)"
            ),
        ));
    }
    let objects = match entry {
        J::Object(_) => vec![entry.clone()],
        J::String(text) => {
            let mut objects = Vec::new();
            for doc in documents(text) {
                let values = load(doc, &Source::Inline).map_err(|e| fail(index, format!("is not valid YAML: {e}")))?;
                if !values.0.is_empty() {
                    objects.push(values.to_json());
                }
            }
            objects
        }
        // The value is not repeated: it may be large, or a Secret's data.
        other => {
            let found = match other {
                J::Array(_) => "a list",
                J::Number(_) => "a number",
                J::Bool(_) => "a boolean",
                _ => "null",
            };
            return Err(fail(index, format!("must be a map or a string of YAML, not {found}")));
        }
    };
    for object in &objects {
        let has = |key: &str| object.get(key).and_then(J::as_str).is_some_and(|s| !s.is_empty());
        if !has("apiVersion") || !has("kind") {
            return Err(fail(index, "is not a Kubernetes object: it needs `apiVersion` and `kind`"));
        }
    }
    Ok(objects)
}

/// Where `{{` appears in a value (`""` for the value itself, `at metadata.name: ` inside a
/// map), if anywhere.
fn templated(value: &J, path: String) -> Option<String> {
    let at = |path: &str| if path.is_empty() { String::new() } else { format!("at {path}: ") };
    match value {
        J::String(s) if s.contains("{{") => Some(at(&path)),
        J::Array(items) => items.iter().enumerate().find_map(|(i, v)| templated(v, format!("{path}[{i}]"))),
        J::Object(map) => map.iter().find_map(|(k, v)| {
            let key_path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if k.contains("{{") { Some(at(&key_path)) } else { templated(v, key_path) }
        }),
        _ => None,
    }
}

/// The documents of a YAML stream: split on `---` lines, as Helm splits a rendered file.
fn documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("---") && line[3..].trim().is_empty() {
            docs.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    docs.push(&text[start..]);
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_stream_documents_splits_on_separator_lines_only() {
        assert_eq!(documents("a: 1\n---\nb: 2\n"), ["a: 1\n", "b: 2\n"]);
        assert_eq!(documents("---\na: '---'\n"), ["", "a: '---'\n"]);
        assert_eq!(documents("a: |\n  x---\n"), ["a: |\n  x---\n"]);
    }

    #[test]
    fn given_braces_in_a_map_templated_names_the_path() {
        let value = json!({ "metadata": { "labels": ["x", "{{ .Values.x }}"] } });
        assert_eq!(templated(&value, String::new()).as_deref(), Some("at metadata.labels[1]: "));
        assert_eq!(templated(&json!({ "a": "b" }), String::new()), None);
    }
}
