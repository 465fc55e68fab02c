//! The changes inside one object, field by field: what `--output json` reports.
//!
//! Input: the old and new (normalized, redacted) object. Output: one [`FieldChange`] per
//! changed place, named by its path (`spec.template.spec.containers[name=ctr].env[name=A]
//! .value`). Items of set-like lists are matched by their key, so a change inside one env
//! entry is that entry's change, never a shift of every entry after it; an added or removed
//! item, map key or whole value is one change.

use serde::Serialize;
use serde_json::Value as J;

use super::normalize::{list_key, push_item, push_key};

/// What happened at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Change {
    /// Only in the new object.
    Add,
    /// Only in the old object.
    Remove,
    /// In both, different.
    Modify,
}

/// One changed place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Where, in `gpuplan explain`'s path syntax.
    pub path: String,
    /// What happened.
    pub change: Change,
    /// The old value (absent for an addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<J>,
    /// The new value (absent for a removal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<J>,
}

/// Every changed place between two objects.
pub fn changes(old: &J, new: &J) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk(&mut String::new(), "", old, new, &mut out);
    out
}

fn record(out: &mut Vec<FieldChange>, path: &str, old: Option<&J>, new: Option<&J>) {
    let change = match (old, new) {
        (None, _) => Change::Add,
        (_, None) => Change::Remove,
        _ => Change::Modify,
    };
    out.push(FieldChange { path: path.to_owned(), change, old: old.cloned(), new: new.cloned() });
}

fn walk(path: &mut String, field: &str, old: &J, new: &J, out: &mut Vec<FieldChange>) {
    if old == new {
        return;
    }
    let len = path.len();
    match (old, new) {
        (J::Object(a), J::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))).collect();
            keys.sort();
            for key in keys {
                push_key(path, key);
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(path, key, x, y, out),
                    (x, y) => record(out, path, x, y),
                }
                path.truncate(len);
            }
        }
        (J::Array(a), J::Array(b)) => match (list_key(field, a), list_key(field, b)) {
            (Some(ka), Some(kb)) if ka == kb => {
                for (i, x) in a.iter().enumerate() {
                    push_item(path, Some(ka), x, i);
                    match b.iter().find(|y| y[ka] == x[ka]) {
                        Some(y) => walk(path, field, x, y, out),
                        None => record(out, path, Some(x), None),
                    }
                    path.truncate(len);
                }
                for (i, y) in b.iter().enumerate().filter(|(_, y)| !a.iter().any(|x| x[ka] == y[ka])) {
                    push_item(path, Some(ka), y, i);
                    record(out, path, None, Some(y));
                    path.truncate(len);
                }
            }
            _ if a.len() == b.len() => {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    push_item(path, None, x, i);
                    walk(path, field, x, y, out);
                    path.truncate(len);
                }
            }
            _ => record(out, path, Some(old), Some(new)),
        },
        _ => record(out, path, Some(old), Some(new)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_a_changed_env_entry_the_change_is_that_entry() {
        let old = json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]});
        let new = json!({"env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]});
        let paths: Vec<(String, Change)> = changes(&old, &new).into_iter().map(|c| (c.path, c.change)).collect();
        assert_eq!(
            paths,
            [
                ("env[name=A]".to_owned(), Change::Remove),
                ("env[name=B].value".to_owned(), Change::Modify),
                ("env[name=C]".to_owned(), Change::Add)
            ]
        );
    }

    #[test]
    fn given_lists_of_other_lengths_the_whole_list_changes() {
        let c = changes(&json!({"args": ["a"]}), &json!({"args": ["a", "b"]}));
        assert_eq!((c[0].path.as_str(), c[0].change, c.len()), ("args", Change::Modify, 1));
        assert_eq!(changes(&json!({"a": {"b": 1}}), &json!({"a": {"b": 1}})), []);
    }
}
