//! Reading a plan back: what `gpuplan diff` compares.
//!
//! Input: the text of a file and its name. Output: a [`Document`] — a whole [`Plan`] (as
//! `gpuplan plan` prints it, YAML or JSON), or the objects of a manifest stream (as
//! `gpuplan template` or `helm template` print them, `---` separated, `# Source:` comments
//! kept), so a reviewer can compare against manifests committed for GitOps as well.
//! Errors name the file, the line:column where known, and the key path of a plan that does not
//! have the plan's shape. A file nested deeper than [`limits::MAX_DOCUMENT_DEPTH`] levels, or
//! larger than [`limits::MAX_INPUT_BYTES`], is refused whether it is YAML or JSON; every plan
//! gpuplan writes is well within both.

use std::sync::Arc;

use serde_json::Value as J;

use super::{API_VERSION, Manifest, Plan};
use crate::error::Error;
use crate::limits;
use crate::values::{Source, Span, Values, load::load_document};

/// What a file held.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// A whole plan.
    Plan(Box<Plan>),
    /// Kubernetes objects, in the order written.
    Manifests(Vec<Manifest>),
}

/// Read a plan or a manifest stream.
pub fn read(text: &str, file: &str) -> Result<Document, Error> {
    let fail = |span: Option<Span>, message: String| Error::Plan { file: Arc::from(file), span, message };
    if text.trim_start().starts_with('{') {
        if text.len() > limits::MAX_INPUT_BYTES {
            let message = format!(
                "it is {}, larger than gpuplan's limit of {} for one input",
                limits::bytes(text.len()),
                limits::bytes(limits::MAX_INPUT_BYTES)
            );
            return Err(fail(None, message));
        }
        if let Some(span) = too_deep(text) {
            let message = format!(
                "collections nest deeper than {} levels (gpuplan's limit for plans and objects)",
                limits::MAX_DOCUMENT_DEPTH
            );
            return Err(fail(Some(span), message));
        }
        let json: J = serde_json::from_str(text).map_err(|e| {
            let span = Span { line: e.line() as u32, col: e.column() as u32 };
            fail(Some(span), format!("not valid JSON: {e}"))
        })?;
        return from_json(json, None, file);
    }
    let docs = documents(text);
    let source = Source::File(Arc::from(file));
    let mut manifests = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let values = load_document(doc.text, &source).map_err(|e| shifted(e, doc.line, file))?;
        if values.0.is_empty() {
            continue;
        }
        let json = values.to_json();
        if json.get("kind").and_then(J::as_str) == Some("Plan") {
            let content =
                |d: &Doc<'_>| d.text.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
            if docs.iter().filter(|d| content(d)).count() > 1 {
                return Err(fail(
                    Some(Span { line: doc.line, col: 1 }),
                    "a plan file holds one plan and nothing else".into(),
                ));
            }
            return from_json(json, Some((&values, doc.line)), file);
        }
        for key in ["apiVersion", "kind"] {
            if json.get(key).and_then(J::as_str).is_none_or(str::is_empty) {
                let span = Some(Span { line: doc.line, col: 1 });
                return Err(fail(span, format!("document {} is not a Kubernetes object: it has no `{key}`", i + 1)));
            }
        }
        let source = doc.source.map_or_else(|| format!("{file}#{}", i + 1), str::to_owned);
        manifests.push(Manifest { source, object: json });
    }
    Ok(Document::Manifests(manifests))
}

/// Where JSON text first opens more than [`limits::MAX_DOCUMENT_DEPTH`] arrays and objects, if
/// it does (strings skipped); serde_json would stop at 128 with a message naming no limit.
fn too_deep(text: &str) -> Option<Span> {
    let (mut depth, mut line, mut col) = (0usize, 1u32, 0u32);
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        col += 1;
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth > limits::MAX_DOCUMENT_DEPTH {
                    return Some(Span { line, col });
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            '\n' => {
                line += 1;
                col = 0;
            }
            _ => {}
        }
    }
    None
}

/// One `---` separated document: its text, the line it starts on, its `# Source:` comment.
struct Doc<'a> {
    text: &'a str,
    line: u32,
    source: Option<&'a str>,
}

/// Split a stream at `---` lines. A `---` at the start of a line is always a separator in the
/// YAML that gpuplan and Helm print (block scalars are indented).
fn documents(text: &str) -> Vec<Doc<'_>> {
    let mut docs = Vec::new();
    let (mut start, mut line, mut start_line) = (0, 1u32, 1u32);
    let mut offset = 0;
    for l in text.split_inclusive('\n') {
        let bare = l.trim_end();
        if bare == "---" || bare.starts_with("--- ") {
            docs.push(doc(&text[start..offset], start_line));
            start = offset + l.len();
            start_line = line + 1;
        }
        offset += l.len();
        line += 1;
    }
    docs.push(doc(&text[start..], start_line));
    docs
}

fn doc(text: &str, line: u32) -> Doc<'_> {
    let source = text.lines().find_map(|l| l.strip_prefix("# Source: ")).map(str::trim);
    Doc { text, line, source }
}

/// A YAML error inside document `n` names the line in the whole file.
fn shifted(error: Error, first_line: u32, file: &str) -> Error {
    match error {
        Error::Yaml { span, message, .. } => Error::Plan {
            file: Arc::from(file),
            span: span.map(|s| Span { line: s.line + first_line - 1, col: s.col }),
            message,
        },
        other => other,
    }
}

/// A plan from its JSON form; a shape error names the key path, and the line when the plan
/// came from YAML.
fn from_json(json: J, yaml: Option<(&Values, u32)>, file: &str) -> Result<Document, Error> {
    let fail = |span: Option<Span>, message: String| Error::Plan { file: Arc::from(file), span, message };
    let version = json.get("apiVersion").and_then(J::as_str).unwrap_or_default().to_owned();
    if json.get("kind").and_then(J::as_str) == Some("Plan") && version != API_VERSION {
        return Err(fail(None, format!("unsupported plan version {version:?}: this gpuplan reads {API_VERSION}")));
    }
    if json.get("kind").and_then(J::as_str) != Some("Plan") {
        // A single JSON object that is not a plan: one manifest (`kubectl get -o json`).
        if json.get("apiVersion").is_some() && json.get("kind").is_some() {
            return Ok(Document::Manifests(vec![Manifest { source: format!("{file}#1"), object: json }]));
        }
        return Err(fail(None, "neither a gpuplan plan nor a Kubernetes object".into()));
    }
    match serde_path_to_error::deserialize::<_, Plan>(json) {
        Ok(plan) => Ok(Document::Plan(Box::new(plan))),
        Err(e) => {
            let path = e.path().to_string();
            let pointer: String = e.path().iter().map(|s| format!("/{}", segment(s))).collect();
            let span = yaml.and_then(|(values, first_line)| {
                let mut pointer = pointer.as_str();
                // A missing key has no node: point at its parent.
                loop {
                    if let Some(node) = values.pointer(pointer) {
                        return node.origin.span.map(|s| Span { line: s.line + first_line - 1, col: s.col });
                    }
                    pointer = &pointer[..pointer.rfind('/')?];
                }
            });
            Err(fail(span, format!("at `{path}`: {}", e.inner())))
        }
    }
}

fn segment(s: &serde_path_to_error::Segment) -> String {
    use serde_path_to_error::Segment;
    match s {
        Segment::Seq { index } => index.to_string(),
        Segment::Map { key } => key.replace('~', "~0").replace('/', "~1"),
        Segment::Enum { variant } => variant.clone(),
        Segment::Unknown => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_stream_each_document_keeps_its_source_and_blank_documents_are_skipped() {
        let text = "---\n# Source: gpuplan/a/x.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\n# Source: b.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n";
        let Document::Manifests(m) = read(text, "t.yaml").expect("reads") else { panic!("a stream") };
        let names: Vec<(&str, &str)> = m.iter().map(|m| (m.source.as_str(), m.name())).collect();
        assert_eq!(names, [("gpuplan/a/x.yaml", "a"), ("b.yaml", "b")]);
    }

    #[test]
    fn given_a_document_without_kind_the_error_names_its_line() {
        let err = read("apiVersion: v1\nkind: A\n---\napiVersion: v1\nmetadata: {}\n", "x.yaml").expect_err("no kind");
        assert_eq!(
            err.to_string(),
            "cannot read plan x.yaml:4:1: document 2 is not a Kubernetes object: it has no `kind`"
        );
    }

    #[test]
    fn given_bad_yaml_in_a_later_document_the_line_is_the_files() {
        let err = read("kind: A\napiVersion: v1\n---\nkind: [\n", "x.yaml").expect_err("bad YAML");
        assert!(err.to_string().starts_with("cannot read plan x.yaml:5:"), "{err}");
    }
}
