//! Finding the object `explain` is asked about among the rendered stages.
//!
//! Input: the object as written — `kind/name` or `kind.group/name`, the kind case-insensitive
//! and in its singular, plural or short form (`ds`, `deploy`, `sa`, `cm`, `svc`, `crd`, ...) —
//! the release namespace and the rendered stages. Output: the [`Found`] object with its stage,
//! or an error: no such kind (with the closest kind and the kinds the plan holds), no such name
//! (with the closest name and every object of that kind), or several matches (each listed).

use crate::error::Error;
use crate::plan::{Manifest, Stage};
use crate::schema::closest;

/// kubectl's short names for the kinds gpuplan renders (and a few more users type).
const SHORT_NAMES: [(&str, &str); 21] = [
    ("cm", "ConfigMap"),
    ("crd", "CustomResourceDefinition"),
    ("crds", "CustomResourceDefinition"),
    ("cj", "CronJob"),
    ("cr", "ClusterRole"),
    ("crb", "ClusterRoleBinding"),
    ("deploy", "Deployment"),
    ("ds", "DaemonSet"),
    ("ing", "Ingress"),
    ("netpol", "NetworkPolicy"),
    ("no", "Node"),
    ("ns", "Namespace"),
    ("pc", "PriorityClass"),
    ("pdb", "PodDisruptionBudget"),
    ("po", "Pod"),
    ("rb", "RoleBinding"),
    ("rs", "ReplicaSet"),
    ("sa", "ServiceAccount"),
    ("sts", "StatefulSet"),
    ("svc", "Service"),
    ("sm", "ServiceMonitor"),
];

/// The object found.
#[derive(Debug, Clone)]
pub struct Found<'a> {
    /// The stage that renders it.
    pub stage: &'a str,
    /// The object.
    pub manifest: &'a Manifest,
}

/// The API group of an `apiVersion` (`apps/v1` is `apps`, `v1` is the core group, `""`).
pub fn group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Whether `wanted` (lowercase) names `kind`: the kind, its plural, or a short name.
fn names_kind(wanted: &str, kind: &str) -> bool {
    let lower = kind.to_lowercase();
    let plural = if lower.ends_with('s') || lower.ends_with("ch") || lower.ends_with('x') {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y').filter(|s| !s.ends_with(['a', 'e', 'o', 'u'])) {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    };
    wanted == lower || wanted == plural || SHORT_NAMES.iter().any(|(short, k)| *short == wanted && *k == kind)
}

/// `Kind.group/name (namespace)`, as candidates are listed.
fn describe(m: &Manifest) -> String {
    let group = group(m.api_version());
    let kind = if group.is_empty() { m.kind().to_owned() } else { format!("{}.{group}", m.kind()) };
    match m.namespace() {
        "" => format!("{kind}/{}", m.name()),
        ns => format!("{kind}/{} ({ns})", m.name()),
    }
}

/// Find `object` among the stages; namespaced objects outside `namespace` are only found when
/// no object of that kind and name is in it.
pub fn find<'a>(stages: &'a [Stage], object: &str, namespace: &str) -> Result<Found<'a>, Error> {
    let unknown = |reason: String, hint: Option<String>| Error::UnknownObject { object: object.into(), reason, hint };
    let Some((kind_part, name)) = object.split_once('/').filter(|(k, n)| !k.is_empty() && !n.is_empty()) else {
        return Err(unknown("expected `kind/name`, e.g. `daemonset/nvidia-driver-daemonset`".into(), None));
    };
    let kind_part = kind_part.to_lowercase();
    let (wanted_kind, wanted_group) = match kind_part.split_once('.') {
        Some((k, g)) => (k, Some(g)),
        None => (kind_part.as_str(), None),
    };
    let all: Vec<Found<'a>> =
        stages.iter().flat_map(|s| s.objects.iter().map(move |m| Found { stage: &s.name, manifest: m })).collect();
    let of_kind: Vec<&Found<'a>> = all
        .iter()
        .filter(|f| names_kind(wanted_kind, f.manifest.kind()))
        .filter(|f| wanted_group.is_none_or(|g| group(f.manifest.api_version()).to_lowercase() == g))
        .collect();
    if of_kind.is_empty() {
        let mut kinds: Vec<&str> = all.iter().map(|f| f.manifest.kind()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let suggestion =
            closest(wanted_kind, kinds.iter().copied()).map(|k| format!("did you mean `{}`? ", k.to_lowercase()));
        return Err(unknown(
            format!(
                "it holds no {}",
                if wanted_group.is_some() { "object of that kind and group" } else { "object of that kind" }
            ),
            Some(format!("{}kinds in the plan: {}", suggestion.unwrap_or_default(), kinds.join(", "))),
        ));
    }
    let named: Vec<&Found<'a>> = of_kind.iter().copied().filter(|f| f.manifest.name() == name).collect();
    let in_namespace: Vec<&Found<'a>> = named
        .iter()
        .copied()
        .filter(|f| f.manifest.namespace().is_empty() || f.manifest.namespace() == namespace)
        .collect();
    let chosen = if in_namespace.is_empty() { named } else { in_namespace };
    match chosen.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let kind = of_kind[0].manifest.kind();
            let mut names: Vec<&str> = of_kind.iter().map(|f| f.manifest.name()).collect();
            names.sort_unstable();
            names.dedup();
            let suggestion =
                closest(name, names.iter().copied()).map(|n| format!("did you mean `{}/{n}`? ", kind.to_lowercase()));
            Err(unknown(
                format!("no {kind} is named `{name}`"),
                Some(format!("{}{kind} objects: {}", suggestion.unwrap_or_default(), names.join(", "))),
            ))
        }
        many => Err(Error::AmbiguousObject {
            object: object.into(),
            candidates: many.iter().map(|f| describe(f.manifest)).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_kind_spellings_names_kind_accepts_singular_plural_and_short() {
        for wanted in ["daemonset", "daemonsets", "ds"] {
            assert!(names_kind(wanted, "DaemonSet"), "{wanted}");
        }
        assert!(names_kind("networkpolicies", "NetworkPolicy"));
        assert!(names_kind("ingresses", "Ingress"));
        assert!(names_kind("crd", "CustomResourceDefinition"));
        assert!(!names_kind("ds", "Deployment"));
    }

    #[test]
    fn given_api_versions_group_is_the_part_before_the_slash() {
        assert_eq!(group("apps/v1"), "apps");
        assert_eq!(group("v1"), "");
        assert_eq!(group("rbac.authorization.k8s.io/v1"), "rbac.authorization.k8s.io");
    }
}
