//! Objects as the engine sends and compares them.
//!
//! Input: a plan object (JSON) and the live object from the API server. Output: the object to
//! apply — its namespace settled, labelled with its release and annotated with the release's
//! namespace and the digest of what gpuplan applies — and the answers the engine needs without
//! writing: is the live object already what gpuplan would apply ([`up_to_date`]), whose is it
//! ([`owner`], [`foreign`]), and what is it without the fields the server sets ([`strip`]).
//!
//! **Ownership.** A release is a name in a namespace, as in Helm. Every object a release applies
//! carries the label [`RELEASE_LABEL`] (its name; selectable, so prune finds orphans and the
//! operator watches drift) and the annotation [`RELEASE_NAMESPACE_ANNOTATION`] (its namespace:
//! two releases of one name in two namespaces are two releases). An object that exists without
//! them, or with another release's, is not taken: the apply is refused as Helm refuses it ("...
//! exists and cannot be imported into the current release"), naming the owner. Not a field
//! manager per release: field managers say who set which field, not who may delete the object;
//! a manager per release would make every re-apply by a renamed manager a conflict, and would
//! not stop an apply from adopting an object whose fields no one else set. gpuplan's own CRDs
//! (the release record's and the GPUPlan's) belong to no release ([`prepare_shared`]).
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
/// Annotation naming the namespace of the release an object belongs to.
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "gpuplan.dev/release-namespace";
/// The label of gpuplan's shared objects (its CRDs), which belong to no release.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "gpuplan");

/// Whose a live object is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A gpuplan release.
    Release {
        /// Its name.
        name: String,
        /// Its namespace; empty on objects applied before gpuplan wrote the annotation.
        namespace: String,
    },
    /// No release: another tool's or a person's (or one of gpuplan's shared CRDs).
    None,
}

impl Owner {
    /// Whether this is release `name` in `namespace` (an object without the namespace
    /// annotation is taken to be of the release its label names).
    pub fn is(&self, name: &str, namespace: &str) -> bool {
        match self {
            Owner::Release { name: n, namespace: ns } => n == name && (ns.is_empty() || ns == namespace),
            Owner::None => false,
        }
    }
}

/// The owner of a live object, by its release label and annotation.
pub fn owner(live: &J) -> Owner {
    let meta = &live["metadata"];
    match meta["labels"][RELEASE_LABEL].as_str() {
        Some(name) if !name.is_empty() => Owner::Release {
            name: name.to_owned(),
            namespace: meta["annotations"][RELEASE_NAMESPACE_ANNOTATION].as_str().unwrap_or_default().to_owned(),
        },
        _ => Owner::None,
    }
}

/// Why release `release` (in `namespace`) may not apply over the live object, or `None` when it
/// is the release's own.
pub fn foreign(live: &J, release: &str, namespace: &str) -> Option<String> {
    let into = format!("it exists and cannot be imported into release {release} (namespace {namespace})");
    match owner(live) {
        o if o.is(release, namespace) => None,
        Owner::Release { name, namespace: ns } => Some(format!(
            "{into}: it belongs to release {name} (namespace {ns}); uninstall that release first, \
             or adopt the object with --take-ownership"
        )),
        Owner::None => Some(format!(
            "{into}: it belongs to no gpuplan release (no {RELEASE_LABEL} label: made by another tool or by \
             hand); delete it first, or adopt it with --take-ownership"
        )),
    }
}

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
    let annotations = meta.entry("annotations").or_insert_with(|| J::Object(Default::default()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(RELEASE_NAMESPACE_ANNOTATION.into(), J::String(namespace.to_owned()));
    }
    with_digest(object)
}

/// A shared object to apply (no release's: gpuplan's own CRDs): labelled as gpuplan's, with the
/// digest annotation, cluster-scoped.
pub fn prepare_shared(object: &J) -> J {
    let mut object = object.clone();
    let Some(meta) = object.get_mut("metadata").and_then(J::as_object_mut) else { return object };
    let labels = meta.entry("labels").or_insert_with(|| J::Object(Default::default()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(MANAGED_BY.0.into(), J::String(MANAGED_BY.1.into()));
    }
    with_digest(object)
}

/// The object with the digest annotation of itself (as it is without it).
fn with_digest(mut object: J) -> J {
    let digest = digest(&object);
    let Some(meta) = object.get_mut("metadata").and_then(J::as_object_mut) else { return object };
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

/// Lists server-side apply merges item by item (`x-kubernetes-list-type: map` in the Kubernetes
/// models): an item another field manager added stays after gpuplan's apply, so it is no
/// difference. (Other lists are atomic: one manager owns all of it.)
const MERGED_LISTS: &[&str] = &[
    "containers",
    "initContainers",
    "ephemeralContainers",
    "env",
    "volumes",
    "volumeMounts",
    "volumeDevices",
    "imagePullSecrets",
    "ports",
    "hostAliases",
    "resourceClaims",
];

/// Whether every field of `want` is in `have` with the same value. Maps may have more keys
/// (server defaults); set-like lists match items by key, and lists server-side apply merges may
/// have more items (another manager's); other lists must have the same length. A field `want`
/// sets to a zero value (`false`, `0`, `""`, `[]`, `{}`) may be absent from `have`: the API server
/// stores built-in kinds through Go types that leave such fields out (`omitempty`).
pub fn contains(have: &J, want: &J, field: &str) -> bool {
    match (have, want) {
        (J::Object(h), J::Object(w)) => w.iter().all(|(k, v)| match h.get(k) {
            Some(x) => contains(x, v, k),
            None => zero(v),
        }),
        (J::Array(h), J::Array(w)) => match (list_key(field, h), list_key(field, w)) {
            (Some(kh), Some(kw)) if kh == kw => {
                (h.len() == w.len() || MERGED_LISTS.contains(&field) && h.len() > w.len())
                    && w.iter().all(|x| h.iter().find(|y| y[kw] == x[kw]).is_some_and(|y| contains(y, x, field)))
            }
            _ => h.len() == w.len() && h.iter().zip(w).all(|(x, y)| contains(x, y, field)),
        },
        (J::Number(a), J::Number(b)) => a.as_f64() == b.as_f64(),
        (h, w) => h == w,
    }
}

/// Whether a value is what Go's `omitempty` leaves out (or null).
fn zero(value: &J) -> bool {
    match value {
        J::Null => true,
        J::Bool(b) => !b,
        J::Number(n) => n.as_f64() == Some(0.0),
        J::String(s) => s.is_empty(),
        J::Array(a) => a.is_empty(),
        J::Object(o) => o.is_empty(),
    }
}

/// The object without what the server sets: status, managedFields, resourceVersion, uid,
/// creation time, generation, and gpuplan's own annotations (digest, release namespace) — for
/// showing differences.
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
            annotations.remove(RELEASE_NAMESPACE_ANNOTATION);
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
        // Another manager's env entry stays under server-side apply: no difference to gpuplan.
        live["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .expect("env")
            .push(json!({"name": "THEIRS", "value": "x"}));
        assert!(up_to_date(&live, &desired));
    }

    #[test]
    fn given_zero_values_the_server_left_out_the_live_object_is_up_to_date() {
        let mut planned = daemonset();
        planned["spec"]["template"]["spec"]["hostNetwork"] = json!(false);
        planned["spec"]["template"]["spec"]["imagePullSecrets"] = json!([]);
        planned["spec"]["template"]["metadata"] = json!({"annotations": {}});
        let desired = prepare(&planned, "r", "ns", true);
        let mut live = desired.clone();
        let pod = live["spec"]["template"]["spec"].as_object_mut().expect("pod");
        pod.remove("hostNetwork");
        pod.remove("imagePullSecrets");
        live["spec"]["template"]["metadata"] = json!({});
        assert!(up_to_date(&live, &desired), "as the API server stores it (omitempty)");
        live["spec"]["template"]["spec"]["hostNetwork"] = json!(true);
        assert!(!up_to_date(&live, &desired));
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
    fn given_live_objects_only_the_releases_own_are_not_foreign() {
        let ours = prepare(&daemonset(), "a", "ns-a", true);
        assert_eq!(owner(&ours), Owner::Release { name: "a".into(), namespace: "ns-a".into() });
        assert_eq!(foreign(&ours, "a", "ns-a"), None);
        let theirs = foreign(&ours, "b", "ns-b").expect("another release's");
        assert!(theirs.contains("cannot be imported into release b") && theirs.contains("release a (namespace ns-a)"));
        assert!(foreign(&ours, "a", "ns-b").is_some(), "the same name in another namespace is another release");
        let by_hand = foreign(&daemonset(), "a", "ns-a").expect("no release's");
        assert!(by_hand.contains("belongs to no gpuplan release"), "{by_hand}");
        let mut legacy = ours.clone();
        legacy["metadata"]["annotations"].as_object_mut().expect("annotations").remove(RELEASE_NAMESPACE_ANNOTATION);
        assert_eq!(foreign(&legacy, "a", "ns-b"), None, "before the annotation, the label alone says whose");
        let shared = prepare_shared(&json!({"kind": "CustomResourceDefinition", "metadata": {"name": "x"}}));
        assert_eq!(owner(&shared), Owner::None);
        assert_eq!(shared["metadata"]["labels"][MANAGED_BY.0], MANAGED_BY.1);
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
