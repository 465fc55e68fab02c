//! An object's YAML as lines that know their parents: what a diff body is made of.
//!
//! Input: a (normalized) Kubernetes object as JSON. Output: its YAML in gpuplan's layout (keys
//! sorted, list items at their key's indentation, strings quoted exactly as the plan prints
//! them), one [`Line`] per line, each with the index of the line that opened its enclosing map
//! or list item. Items of set-like lists print their key first (`- name: CONTAINERD_SOCKET`),
//! so the line that names an item is the one a change inside it hangs from, and a diff can
//! show that line however far away the change is.

use serde_json::Value as J;

use super::normalize::list_key;
use crate::values::Value;
use crate::values::print::{write_yaml_key, write_yaml_scalar};

/// One line of YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The text, without the line break.
    pub text: String,
    /// The line that opened the map or list item this line belongs to.
    pub parent: Option<usize>,
}

/// The object as lines.
pub fn lines(object: &J) -> Vec<Line> {
    let mut e = Emitter { lines: Vec::new() };
    match object {
        J::Object(map) if !map.is_empty() => e.map(map, 0, None, None),
        other => {
            e.scalar(String::new(), other, 0, None);
        }
    }
    e.lines
}

struct Emitter {
    lines: Vec<Line>,
}

fn indent(depth: usize) -> String {
    "  ".repeat(depth)
}

/// The map's entries, sorted, with `first` (an item's key field) before the others.
fn ordered<'a>(map: &'a serde_json::Map<String, J>, first: Option<&str>) -> Vec<(&'a String, &'a J)> {
    let mut entries: Vec<(&String, &J)> = map.iter().collect();
    if let Some(first) = first {
        entries.sort_by_key(|(k, _)| k.as_str() != first);
    }
    entries
}

fn scalar_value(json: &J) -> Value {
    match json {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => n.as_i64().map(Value::Int).or_else(|| n.as_f64().map(Value::Float)).unwrap_or(Value::Null),
        J::String(s) => Value::Str(s.clone()),
        J::Array(_) => Value::List(Vec::new()),
        J::Object(_) => Value::Map(Default::default()),
    }
}

impl Emitter {
    fn push(&mut self, text: String, parent: Option<usize>) -> usize {
        self.lines.push(Line { text, parent });
        self.lines.len() - 1
    }

    fn map(&mut self, map: &serde_json::Map<String, J>, depth: usize, parent: Option<usize>, first: Option<&str>) {
        for (k, v) in ordered(map, first) {
            self.entry(indent(depth), k, v, depth, parent);
        }
    }

    /// `lead` + `key:` and what follows; returns the key's line.
    fn entry(&mut self, mut text: String, key: &str, value: &J, depth: usize, parent: Option<usize>) -> usize {
        write_yaml_key(&mut text, key);
        text.push(':');
        match value {
            J::Object(map) if !map.is_empty() => {
                let me = self.push(text, parent);
                self.map(map, depth + 1, Some(me), None);
                me
            }
            J::Array(items) if !items.is_empty() => {
                let me = self.push(text, parent);
                let key = list_key(key, items);
                for item in items {
                    self.item(item, depth, Some(me), key);
                }
                me
            }
            scalar => {
                text.push(' ');
                self.scalar(text, scalar, depth + 1, parent)
            }
        }
    }

    fn item(&mut self, item: &J, depth: usize, parent: Option<usize>, key: Option<&str>) {
        let lead = format!("{}- ", indent(depth));
        match item {
            J::Object(map) if !map.is_empty() => {
                let entries = ordered(map, key);
                let (k0, v0) = entries[0];
                let me = self.entry(lead, k0, v0, depth + 1, parent);
                for (k, v) in &entries[1..] {
                    self.entry(indent(depth + 1), k, v, depth + 1, Some(me));
                }
            }
            J::Array(inner) if !inner.is_empty() => {
                let me = self.push(format!("{}-", indent(depth)), parent);
                for i in inner {
                    self.item(i, depth + 1, Some(me), None);
                }
            }
            scalar => {
                self.scalar(lead, scalar, depth + 1, parent);
            }
        }
    }

    /// A scalar after `lead`; a literal block's lines hang from the first.
    fn scalar(&mut self, lead: String, value: &J, depth: usize, parent: Option<usize>) -> usize {
        let mut text = lead;
        write_yaml_scalar(&mut text, &scalar_value(value), depth);
        let mut parts = text.split('\n');
        let me = self.push(parts.next().unwrap_or_default().to_owned(), parent);
        for part in parts {
            self.push(part.to_owned(), Some(me));
        }
        me
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(lines: &[Line]) -> String {
        lines.iter().map(|l| format!("{}\n", l.text)).collect()
    }

    #[test]
    fn given_an_object_the_text_is_the_plans_yaml_with_item_keys_first() {
        let object = json!({
            "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "y"}},
            "spec": {"containers": [{"image": "i", "name": "ctr", "env": [{"value": "v", "name": "A"}], "args": ["--x"]}]},
        });
        let lines = lines(&object);
        let expected = "metadata:\n  labels:\n    app.kubernetes.io/name: \"y\"\n  name: x\nspec:\n  containers:\n  - name: ctr\n    args:\n    - --x\n    env:\n    - name: A\n      value: v\n    image: i\n";
        assert_eq!(text(&lines), expected);
        let value = lines.iter().position(|l| l.text.ends_with("value: v")).expect("value line");
        let chain: Vec<&str> =
            std::iter::successors(lines[value].parent, |&p| lines[p].parent).map(|p| lines[p].text.trim()).collect();
        assert_eq!(chain, ["- name: A", "env:", "- name: ctr", "containers:", "spec:"]);
    }

    #[test]
    fn given_a_multi_line_string_its_lines_hang_from_the_key() {
        let lines = lines(&json!({"data": {"config.toml": "a = 1\nb = 2\n"}}));
        assert_eq!(text(&lines), "data:\n  config.toml: |\n    a = 1\n    b = 2\n");
        assert_eq!(lines[3].parent, Some(1));
    }
}
