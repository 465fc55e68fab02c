//! Secrets in a diff: said to change, never shown.
//!
//! Input: the old and new version of an object (either may be absent). Output: for a
//! `Secret`, copies whose `data` holds, per key, only whether it changed and its size —
//! `REDACTED # (N bytes)` when the same, `-------- # (N bytes)` / `++++++++ # (M bytes)` when
//! not (helm-diff's markers) — with `stringData` folded into `data` as Kubernetes does. Any
//! other object is returned as it is.

use serde_json::Value as J;

use crate::values::load::base64_decode;

/// The two versions, with secret values replaced by markers.
pub fn redact(old: Option<&J>, new: Option<&J>) -> (Option<J>, Option<J>) {
    let is_secret = |o: Option<&J>| o.is_some_and(|o| o["kind"] == "Secret");
    if !is_secret(old) && !is_secret(new) {
        return (old.cloned(), new.cloned());
    }
    let old_data = old.map(contents).unwrap_or_default();
    let new_data = new.map(contents).unwrap_or_default();
    let mark = |object: Option<&J>, mine: &Vec<(String, Vec<u8>)>, theirs: &Vec<(String, Vec<u8>)>, sign: &str| {
        object.map(|o| {
            let mut o = o.clone();
            if let J::Object(map) = &mut o {
                map.remove("stringData");
                if mine.is_empty() {
                    map.remove("data");
                } else {
                    let data = mine
                        .iter()
                        .map(|(key, bytes)| {
                            let same = theirs.iter().any(|(k, b)| k == key && b == bytes);
                            let marker = if same { "REDACTED" } else { sign };
                            (key.clone(), J::String(format!("{marker} # ({})", size(bytes.len()))))
                        })
                        .collect();
                    map.insert("data".into(), J::Object(data));
                }
            }
            o
        })
    };
    (mark(old, &old_data, &new_data, "--------"), mark(new, &new_data, &old_data, "++++++++"))
}

fn size(bytes: usize) -> String {
    if bytes == 1 { "1 byte".into() } else { format!("{bytes} bytes") }
}

/// Every key of `data` (decoded) and `stringData`, the latter winning as in the API server.
fn contents(secret: &J) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for (field, decode) in [("data", true), ("stringData", false)] {
        for (key, value) in secret.get(field).and_then(J::as_object).into_iter().flatten() {
            let text = value.as_str().unwrap_or_default();
            let bytes =
                if decode { base64_decode(text).unwrap_or_else(|| text.as_bytes().to_vec()) } else { text.into() };
            out.retain(|(k, _)| k != key);
            out.push((key.clone(), bytes));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_a_changed_and_an_unchanged_key_only_markers_and_sizes_remain() {
        let old = json!({"kind": "Secret", "data": {"a": "aGVsbG8=", "b": "c2FtZQ=="}});
        let new = json!({"kind": "Secret", "data": {"b": "c2FtZQ=="}, "stringData": {"a": "hello world"}});
        let (o, n) = redact(Some(&old), Some(&new));
        assert_eq!(o.expect("old")["data"], json!({"a": "-------- # (5 bytes)", "b": "REDACTED # (4 bytes)"}));
        let n = n.expect("new");
        assert_eq!(n["data"], json!({"a": "++++++++ # (11 bytes)", "b": "REDACTED # (4 bytes)"}));
        assert!(n.get("stringData").is_none());
    }

    #[test]
    fn given_the_same_bytes_as_data_and_as_string_data_nothing_changed() {
        let old = json!({"kind": "Secret", "data": {"a": "aGVsbG8="}});
        let new = json!({"kind": "Secret", "stringData": {"a": "hello"}});
        let (o, n) = redact(Some(&old), Some(&new));
        assert_eq!(o, n);
    }

    #[test]
    fn given_another_kind_it_is_untouched() {
        let cm = json!({"kind": "ConfigMap", "data": {"a": "b"}});
        assert_eq!(redact(Some(&cm), None), (Some(cm), None));
    }
}
