//! Objects as the engine sends and compares them.
//!
//! Input: a plan object (JSON) and the live object from the API server. Output: the object to
//! apply — its namespace settled, labelled with its release and annotated with the digest of
//! what gpuplan applies — and the answers the engine needs without writing: is the live object
//! already what gpuplan would apply ([`up_to_date`]), and what is it without the fields the
//! server sets ([`strip`]).
//!
//! A re-apply that changes nothing must not write. Server-side apply itself is idempotent, but a
//! request is a request: the engine reads the object and skips the apply when the live object
//! carries the digest of the same desired object *and* still holds every desired field (nobody
//! changed them since). A removed field changes the digest, so its removal is applied.

use gpuplan_compiler::diff::normalize::list_key;
use serde_json::Value as J;
use sha2::{Digest, Sha256};

/// Annotation holding the digest of the object gpuplan last applied.
pub const DIGEST_ANNOTATION: &str = "gpuplan.dev/applied-digest";
/// Label naming the release an object belongs to (prune finds orphans by it).
pub const RELEASE_LABEL: &str = "gpuplan.dev/release";

/// `sha256:` of the object's canonical JSON (keys sorted).
pub fn digest(object: &J) -> String {
    let hash = Sha256::digest(object.to_string().as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{}", &hex[..32])
}

/// The object to apply: namespaced objects without a namespace go to `namespace`, cluster-scoped
/// objects carry none; the release label and the digest annotation are added.
pub fn prepare(object: &J, release: &str, namespace: &str, namespaced: bool) -> J {
    let mut object = object.clone();
    let Some(meta) = object.get_mut("metadata").and_then(J::as_object_mut) else { return object };
    if namespaced {
        meta.entry("namespace").or_insert_with(|| J::String(namespace.to_owned()));
    } else {
        meta.remove("namespace");
    }
    let labels = meta.entry("labels").or_insert_with(|| J::Object(Default::default()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(RELEASE_LABEL.into(), J::String(release.to_owned()));
    }
    let digest = digest(&object);
    let meta = object["metadata"].as_object_mut().expect("metadata is a map");
    let annotations = meta.entry("annotations").or_insert_with(|| J::Object(Default::default()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(DIGEST_ANNOTATION.into(), J::String(digest));
    }
    object
}

/// The digest annotation of an object.
pub fn applied_digest(object: &J) -> Option<&str> {
    object["metadata"]["annotations"][DIGEST_ANNOTATION].as_str()
}

/// Whether applying `desired` (prepared) would change nothing: the live object was applied from
/// the same desired object and still holds every desired field.
pub fn up_to_date(live: &J, desired: &J) -> bool {
    applied_digest(live).is_some() && applied_digest(live) == applied_digest(desired) && contains(live, desired, "")
}

/// Whether every field of `want` is in `have` with the same value. Maps may have more keys
/// (server defaults); set-like lists match items by key; other lists must have the same length.
pub fn contains(have: &J, want: &J, field: &str) -> bool {
    match (have, want) {
        (J::Object(h), J::Object(w)) => w.iter().all(|(k, v)| match h.get(k) {
            Some(x) => contains(x, v, k),
            None => v.is_null(),
        }),
        (J::Array(h), J::Array(w)) => match (list_key(field, h), list_key(field, w)) {
            (Some(kh), Some(kw)) if kh == kw => {
                h.len() == w.len()
                    && w.iter().all(|x| h.iter().find(|y| y[kw] == x[kw]).is_some_and(|y| contains(y, x, field)))
            }
            _ => h.len() == w.len() && h.iter().zip(w).all(|(x, y)| contains(x, y, field)),
        },
        (J::Number(a), J::Number(b)) => a.as_f64() == b.as_f64(),
        (h, w) => h == w,
    }
}

/// The object without what the server sets: status, managedFields, resourceVersion, uid,
/// creation time, generation, and gpuplan's own digest annotation — for showing differences.
pub fn strip(object: &J) -> J {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = object.get_mut("metadata").and_then(J::as_object_mut) {
        for key in ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"] {
            meta.remove(key);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(J::as_object_mut) {
            annotations.remove(DIGEST_ANNOTATION);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn daemonset() -> J {
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
               "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "i", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]}}}})
    }

    #[test]
    fn given_a_namespaced_object_it_gets_the_namespace_label_and_digest() {
        let prepared = prepare(&daemonset(), "gpu-operator", "ns", true);
        assert_eq!(prepared["metadata"]["namespace"], "ns");
        assert_eq!(prepared["metadata"]["labels"][RELEASE_LABEL], "gpu-operator");
        assert!(applied_digest(&prepared).is_some_and(|d| d.starts_with("sha256:")));
        let cluster =
            prepare(&json!({"kind": "ClusterRole", "metadata": {"name": "r", "namespace": "x"}}), "r", "ns", false);
        assert!(cluster["metadata"].get("namespace").is_none());
    }

    #[test]
    fn given_server_defaults_and_reordered_env_the_live_object_is_up_to_date() {
        let desired = prepare(&daemonset(), "r", "ns", true);
        let mut live = desired.clone();
        live["metadata"]["resourceVersion"] = json!("7");
        live["spec"]["revisionHistoryLimit"] = json!(10);
        live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = json!("/dev/termination-log");
        live["spec"]["template"]["spec"]["containers"][0]["env"].as_array_mut().expect("env").reverse();
        assert!(up_to_date(&live, &desired));
    }

    #[test]
    fn given_drift_or_another_desired_object_it_is_not_up_to_date() {
        let desired = prepare(&daemonset(), "r", "ns", true);
        let mut drifted = desired.clone();
        drifted["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other");
        assert!(!up_to_date(&drifted, &desired));
        let mut changed = daemonset();
        changed["spec"]["template"]["spec"]["containers"][0]["env"].as_array_mut().expect("env").pop();
        let changed = prepare(&changed, "r", "ns", true);
        assert!(!up_to_date(&desired, &changed), "a removed field changes the digest");
        assert!(!up_to_date(&daemonset(), &prepare(&daemonset(), "r", "ns", true)), "never applied by gpuplan");
    }

    #[test]
    fn given_a_live_object_strip_leaves_what_a_person_wrote() {
        let mut live = prepare(&daemonset(), "r", "ns", true);
        live["status"] = json!({"numberReady": 1});
        live["metadata"]["managedFields"] = json!([]);
        live["metadata"]["uid"] = json!("u");
        let stripped = strip(&live);
        assert!(stripped.get("status").is_none() && stripped["metadata"].get("uid").is_none());
        assert!(stripped["metadata"].get("annotations").is_none());
    }
}
