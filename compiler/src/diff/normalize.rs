//! What counts as the same object: lists Kubernetes treats as sets, and how a place in an
//! object is named.
//!
//! Input: a Kubernetes object as JSON. Output: the object with every set-like list (env,
//! containers, volumes, volumeMounts, tolerations, ...) in a canonical order, so reordering is
//! not a change; and field paths in one syntax — `spec.template.spec.containers[name=ctr]
//! .env[name=FOO].value`, `[N]` for positional items, `["app.kubernetes.io/name"]` for keys
//! that are not plain words — the syntax `gpuplan explain` reads.

use std::cmp::Ordering;

use serde_json::Value as J;

/// Lists whose items Kubernetes merges by a field (strategic merge patch keys), with the
/// fields that may identify an item, best first.
const KEYED: &[(&str, &[&str])] = &[
    ("containers", &["name"]),
    ("initContainers", &["name"]),
    ("ephemeralContainers", &["name"]),
    ("env", &["name"]),
    ("volumes", &["name"]),
    ("volumeMounts", &["mountPath"]),
    ("volumeDevices", &["devicePath"]),
    ("imagePullSecrets", &["name"]),
    ("ports", &["name", "containerPort", "port"]),
    ("tolerations", &["key"]),
    ("hostAliases", &["ip"]),
    ("resourceClaims", &["name"]),
];

/// Lists that are sets without a key: their order never matters.
const UNORDERED: &[&str] = &["tolerations"];

/// The field identifying the items of the list under `field`, when the list is one Kubernetes
/// treats as a set and every item has a distinct scalar value for it.
pub fn list_key(field: &str, items: &[J]) -> Option<&'static str> {
    let (_, candidates) = KEYED.iter().find(|(name, _)| *name == field)?;
    candidates.iter().copied().find(|key| {
        let mut seen = Vec::with_capacity(items.len());
        items.iter().all(|item| match item.get(key) {
            Some(v @ (J::String(_) | J::Number(_))) if !seen.contains(&v) => {
                seen.push(v);
                true
            }
            _ => false,
        })
    })
}

/// The object with set-like lists sorted by their key (or, for unordered lists without a
/// usable key, by their items' canonical JSON).
pub fn normalize(value: &J) -> J {
    match value {
        J::Object(map) => J::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match v {
                        J::Array(items) => J::Array(sorted(k, items.iter().map(normalize).collect())),
                        other => normalize(other),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        J::Array(items) => J::Array(items.iter().map(normalize).collect()),
        scalar => scalar.clone(),
    }
}

fn sorted(field: &str, mut items: Vec<J>) -> Vec<J> {
    if let Some(key) = list_key(field, &items) {
        items.sort_by(|a, b| compare_scalars(&a[key], &b[key]));
    } else if UNORDERED.contains(&field) {
        items.sort_by_cached_key(|item| item.to_string());
    }
    items
}

/// Numbers by value, before strings by text.
pub fn compare_scalars(a: &J, b: &J) -> Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.as_str().cmp(&b.as_str()),
    }
}

/// Whether a key can stand in a path as a plain `.word`.
fn plain(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Append a map key to a path.
pub fn push_key(path: &mut String, key: &str) {
    if plain(key) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&J::String(key.to_owned()).to_string());
        path.push(']');
    }
}

/// Append a list item, by its key when it has one.
pub fn push_item(path: &mut String, key: Option<&str>, item: &J, index: usize) {
    match key.map(|k| (k, &item[k])) {
        Some((k, J::String(v))) => path.push_str(&format!("[{k}={v}]")),
        Some((k, J::Number(v))) => path.push_str(&format!("[{k}={v}]")),
        _ => path.push_str(&format!("[{index}]")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_reordered_env_and_volumes_normalized_objects_are_equal() {
        let a = json!({"env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}], "volumes": [{"name": "x"}, {"name": "w"}]});
        let b = json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "volumes": [{"name": "w"}, {"name": "x"}]});
        assert_eq!(normalize(&a), normalize(&b));
    }

    #[test]
    fn given_args_or_duplicate_names_order_is_kept() {
        let args = json!({"args": ["b", "a"]});
        assert_eq!(normalize(&args), args);
        let dup = json!({"env": [{"name": "A", "value": "2"}, {"name": "A", "value": "1"}]});
        assert_eq!(normalize(&dup), dup, "with a duplicate name the list is not a set");
    }

    #[test]
    fn given_tolerations_without_distinct_keys_they_are_still_a_set() {
        let a = json!({"tolerations": [{"operator": "Exists"}, {"key": "k", "effect": "NoSchedule"}]});
        let b = json!({"tolerations": [{"key": "k", "effect": "NoSchedule"}, {"operator": "Exists"}]});
        assert_eq!(normalize(&a), normalize(&b));
    }

    #[test]
    fn given_keys_and_items_paths_use_one_syntax() {
        let mut path = String::new();
        push_key(&mut path, "metadata");
        push_key(&mut path, "labels");
        push_key(&mut path, "app.kubernetes.io/name");
        assert_eq!(path, r#"metadata.labels["app.kubernetes.io/name"]"#);
        let mut path = "spec".to_owned();
        push_item(&mut path, Some("containerPort"), &json!({"containerPort": 80}), 3);
        push_item(&mut path, None, &json!("x"), 3);
        assert_eq!(path, "spec[containerPort=80][3]");
    }
}
