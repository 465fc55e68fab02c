//! Field paths inside a rendered object: finding a value by one, and matching rule patterns
//! (the text form, parsed and printed, is in the private `syntax` module).
//!
//! Input: a path as `explain` takes it — dotted keys (`spec.template`), `[N]` for the N-th list
//! item, `[key=value]` for the list item whose `key` is `value`, `["a.b"]` for a key holding
//! dots or brackets; rule patterns add `*` inside a key or selector value and `[*]` for any item.
//! Output: a [`FieldPath`]; [`FieldPath::find`] walks it through an object and gives the value
//! with the *canonical* path (list items that have a unique `name` are selected by it, others
//! by index), or a [`Miss`] naming the deepest prefix that exists and what is there instead.

use serde_json::Value as J;

use crate::plan::glob;
use crate::schema::closest;
use syntax::show_key;

mod syntax;

/// How many keys or items a "not found" hint lists before it says "...".
const MAX_LISTED: usize = 12;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A map key.
    Key(String),
    /// A list item by position.
    Index(usize),
    /// The list item whose `key` field equals `value`.
    Select {
        /// The item's field.
        key: String,
        /// Its value, as text.
        value: String,
    },
    /// Any list item (rule patterns only).
    Any,
}

/// A path inside an object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(pub Vec<Segment>);

/// Why a path is not in an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// The deepest prefix that exists, canonical.
    pub found: FieldPath,
    /// What is missing there.
    pub message: String,
    /// The closest key, or what exists there instead.
    pub hint: Option<String>,
}

/// A scalar as text (`true`, `8`, the string itself); `None` for null, lists and maps.
pub fn scalar_text(value: &J) -> Option<String> {
    match value {
        J::String(s) => Some(s.clone()),
        J::Bool(b) => Some(b.to_string()),
        J::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl FieldPath {
    /// Walk the path through `object`: the value there and the canonical path to it.
    pub fn find<'a>(&self, object: &'a J) -> Result<(&'a J, FieldPath), Miss> {
        let mut here = object;
        let mut canonical = FieldPath::default();
        for segment in &self.0 {
            let miss = |message: String, hint: Option<String>| Miss { found: canonical.clone(), message, hint };
            let next = match (segment, here) {
                (Segment::Key(key), J::Object(map)) => match map.get(key) {
                    Some(v) => {
                        canonical.0.push(segment.clone());
                        v
                    }
                    None => {
                        let keys = map.keys().map(String::as_str);
                        let hint = closest(key, keys.clone()).map(|c| format!("did you mean `{}`?", show_key(c)));
                        let listed = listing(map.keys().map(|k| show_key(k)));
                        return Err(miss(
                            format!("has no key `{key}`"),
                            Some(hint.unwrap_or(format!("keys: {listed}"))),
                        ));
                    }
                },
                (Segment::Index(n), J::Array(items)) => match items.get(*n) {
                    Some(v) => {
                        canonical.0.push(item_segment(items, *n));
                        v
                    }
                    None => return Err(miss(format!("has {} items, no [{n}]", items.len()), items_hint(items))),
                },
                (Segment::Select { key, value }, J::Array(items)) => {
                    let hits: Vec<usize> = (0..items.len())
                        .filter(|&i| items[i].get(key).and_then(scalar_text).as_deref() == Some(value))
                        .collect();
                    match hits.as_slice() {
                        [i] => {
                            canonical.0.push(item_segment(items, *i));
                            &items[*i]
                        }
                        [] => {
                            let values: Vec<String> =
                                items.iter().filter_map(|it| it.get(key).and_then(scalar_text)).collect();
                            let hint = closest(value, values.iter().map(String::as_str))
                                .map(|c| format!("did you mean [{key}={c}]?"))
                                .or_else(|| items_hint(items));
                            return Err(miss(format!("has no item with {key}={value}"), hint));
                        }
                        many => {
                            let at: Vec<String> = many.iter().map(|i| format!("[{i}]")).collect();
                            return Err(miss(
                                format!("has {} items with {key}={value}", many.len()),
                                Some(format!("select one by position: {}", at.join(", "))),
                            ));
                        }
                    }
                }
                (Segment::Any, _) => return Err(miss("`[*]` is for rule patterns, not fields".into(), None)),
                (Segment::Key(key), J::Array(items)) => {
                    return Err(miss(
                        format!("is a list, not a map with `{key}`"),
                        items_hint(items).or(Some("select an item with [N] or [name=...]".into())),
                    ));
                }
                (Segment::Index(_) | Segment::Select { .. }, J::Object(map)) => {
                    return Err(miss(
                        "is a map, not a list".into(),
                        Some(format!("keys: {}", listing(map.keys().cloned()))),
                    ));
                }
                (_, scalar) => return Err(miss(format!("is {}, which has no fields", kind_of(scalar)), None)),
            };
            here = next;
        }
        Ok((here, canonical))
    }

    /// The value at this (canonical) path, if there.
    pub fn get<'a>(&self, object: &'a J) -> Option<&'a J> {
        self.find(object).ok().map(|(v, _)| v)
    }

    /// This path followed by `rest`.
    pub fn join(&self, rest: &FieldPath) -> FieldPath {
        FieldPath(self.0.iter().chain(&rest.0).cloned().collect())
    }

    /// Whether this rule pattern matches a canonical path: same length, keys and selector
    /// values compared as globs, `[*]` matching any item.
    pub fn matches(&self, path: &FieldPath) -> bool {
        self.0.len() == path.0.len()
            && self.0.iter().zip(&path.0).all(|(p, s)| match (p, s) {
                (Segment::Key(p), Segment::Key(k)) => glob(p, k),
                (Segment::Index(p), Segment::Index(i)) => p == i,
                (Segment::Select { key: pk, value: pv }, Segment::Select { key, value }) => {
                    pk == key && glob(pv, value)
                }
                (Segment::Any, Segment::Index(_) | Segment::Select { .. }) => true,
                _ => false,
            })
    }

    /// Whether the path passes through `key` at its top level (`data`, `stringData`).
    pub fn starts_with_key(&self, key: &str) -> bool {
        matches!(self.0.first(), Some(Segment::Key(k)) if k == key)
    }
}

/// The canonical path of a raw walk (keys and indices) through `root`: items with a unique
/// `name` selected by it, unless the name holds `avoid`.
pub fn canonical(root: &J, raw: &[Segment], avoid: &str) -> FieldPath {
    let mut here = Some(root);
    let mut out = FieldPath::default();
    for segment in raw {
        match (segment, here) {
            (Segment::Index(i), Some(J::Array(items))) if *i < items.len() => {
                out.0.push(match item_segment(items, *i) {
                    Segment::Select { value, .. } if value.contains(avoid) => Segment::Index(*i),
                    segment => segment,
                });
                here = items.get(*i);
            }
            (Segment::Key(k), Some(J::Object(map))) => {
                out.0.push(segment.clone());
                here = map.get(k);
            }
            _ => {
                out.0.push(segment.clone());
                here = None;
            }
        }
    }
    out
}

/// `[name=X]` for an item with a `name` no other item shares, else `[N]`.
fn item_segment(items: &[J], i: usize) -> Segment {
    let name_of = |item: &J| item.get("name").and_then(J::as_str).map(str::to_owned);
    match name_of(&items[i]) {
        Some(name) if items.iter().filter(|it| name_of(it).as_deref() == Some(&name)).count() == 1 => {
            Segment::Select { key: "name".into(), value: name }
        }
        _ => Segment::Index(i),
    }
}

fn items_hint(items: &[J]) -> Option<String> {
    if items.is_empty() {
        return Some("the list is empty".into());
    }
    let names: Vec<String> =
        items.iter().filter_map(|it| it.get("name").and_then(J::as_str)).map(|n| format!("[name={n}]")).collect();
    if names.is_empty() {
        Some(format!("items: [0] to [{}]", items.len() - 1))
    } else {
        Some(format!("items: {}", listing(names.into_iter())))
    }
}

fn listing(names: impl Iterator<Item = String>) -> String {
    let mut listed: Vec<String> = names.take(MAX_LISTED + 1).collect();
    if listed.len() > MAX_LISTED {
        listed.truncate(MAX_LISTED);
        listed.push("...".into());
    }
    listed.join(", ")
}

fn kind_of(value: &J) -> &'static str {
    match value {
        J::Null => "null",
        J::Bool(_) => "a boolean",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "a list",
        J::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(text: &str) -> FieldPath {
        FieldPath::parse(text).expect("parses")
    }

    #[test]
    fn given_an_index_find_gives_the_canonical_name_selector() {
        let object = json!({ "env": [{ "name": "A", "value": "1" }, { "name": "B", "value": "2" }] });
        let (value, canonical) = parse("env[1].value").find(&object).expect("found");
        assert_eq!(value, &json!("2"));
        assert_eq!(canonical.to_string(), "env[name=B].value");
    }

    #[test]
    fn given_a_missing_key_find_names_the_prefix_and_the_closest_key() {
        let object = json!({ "spec": { "template": {} } });
        let miss = parse("spec.templat.x").find(&object).expect_err("missing");
        assert_eq!(miss.found.to_string(), "spec");
        assert_eq!(miss.hint.as_deref(), Some("did you mean `template`?"));
    }

    #[test]
    fn given_patterns_matches_globs_keys_and_selectors() {
        let pattern = parse("env[name=*_SOCKET].value");
        assert!(pattern.matches(&parse("env[name=CONTAINERD_SOCKET].value")));
        assert!(!pattern.matches(&parse("env[name=CONTAINERD_CONFIG].value")));
        assert!(parse("c[*].image").matches(&parse("c[name=x].image")));
        assert!(parse("c[*].image").matches(&parse("c[3].image")));
    }
}
