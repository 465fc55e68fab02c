//! The plan: every Kubernetes object the install creates, in apply order, the node runtime
//! change, and a digest of the values that produced them.
//!
//! Input: the rendered stages ([`crate::render`]), the [`NodeRuntime`] and the effective values.
//! Output: a [`Plan`], and its text forms — `helm template`'s stream (`---` / `# Source:`) and
//! the whole plan as YAML or JSON. A plan saved to be applied later is sealed ([`Plan::sealed`]):
//! it carries the digest of its own content, so that what is applied can be proven to be what
//! was reviewed ([`Plan::verify`]). Stages keep their order (the upstream operator's states);
//! within a stage, objects follow Helm's InstallOrder by kind, then namespace and name, so the
//! same inputs always print the same bytes.

use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::node::{FileChange, NodeRuntime};
use crate::values::{Values, print};

pub mod name;
pub mod read;

/// The plan format's `apiVersion`.
pub const API_VERSION: &str = "gpuplan.dev/v1alpha1";

/// Helm's InstallOrder: kinds in the order Helm installs them; unknown kinds come after all of
/// these, ordered by kind name.
pub const INSTALL_ORDER: [&str; 36] = [
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// Where and as what the objects are installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// Release name (`gpuplan template NAME`); names the NFD objects and labels.
    pub name: String,
    /// Namespace of the namespaced objects.
    pub namespace: String,
    /// The Kubernetes version to render for (`--kube-version`), e.g. `1.31`.
    pub kube_version: String,
}

impl Default for Release {
    /// The CLI's defaults, as the upstream chart is installed: release and namespace
    /// `gpu-operator`, Kubernetes 1.31.
    fn default() -> Release {
        Release { name: "gpu-operator".into(), namespace: "gpu-operator".into(), kube_version: "1.31".into() }
    }
}

impl Release {
    /// Check the name and the namespace as Helm and Kubernetes would ([`name`]).
    pub fn validate(&self) -> Result<(), Error> {
        name::release_name(&self.name)?;
        name::namespace(&self.namespace)
    }
}

/// One object, as rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The template it came from, as Helm names sources: `gpuplan/<stage>/<kind>.yaml`.
    pub source: String,
    /// The object.
    pub object: J,
}

impl Manifest {
    fn text(&self, key: &str) -> &str {
        self.object.get(key).and_then(J::as_str).unwrap_or_default()
    }

    fn meta(&self, key: &str) -> &str {
        self.object.get("metadata").and_then(|m| m.get(key)).and_then(J::as_str).unwrap_or_default()
    }

    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.text("apiVersion")
    }

    /// `kind`.
    pub fn kind(&self) -> &str {
        self.text("kind")
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.meta("name")
    }

    /// `metadata.namespace` (empty for cluster-scoped objects).
    pub fn namespace(&self) -> &str {
        self.meta("namespace")
    }

    /// The object as YAML, keys sorted, strings quoted where YAML 1.1 would misread them.
    pub fn to_yaml(&self) -> String {
        print::json_to_yaml(&self.object)
    }
}

/// One stage: the objects of one upstream operator state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// The stage's name (`container-toolkit`).
    pub name: String,
    /// Its objects, in apply order.
    pub objects: Vec<Manifest>,
    /// Objects left out because the cluster's facts say their API is not served, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<String>,
}

/// The concrete change to one node's config file, when the plan was made for one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFile {
    /// The file.
    pub path: String,
    /// A unified diff of the change (empty: unchanged).
    pub diff: String,
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// [`API_VERSION`].
    pub api_version: String,
    /// `Plan`.
    pub kind: String,
    /// Release name, namespace and Kubernetes version.
    pub release: Release,
    /// `sha256:` of the effective values (canonical JSON).
    pub digest: String,
    /// What every GPU node's container runtime config becomes.
    pub node: NodeRuntime,
    /// With facts of GPU nodes on several container runtimes: the change for each runtime, in
    /// runtime order (`node` is among them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtimes: Vec<NodeRuntime>,
    /// `sha256:` of the cluster facts the plan was made for; none without facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts_digest: Option<String>,
    /// The revision of the release the plan was made against (`gpuplan plan --cluster`); none
    /// (`null`) when there was no release, or no cluster was asked — a plan for a new install.
    /// Applying it refuses a release at another revision: the plan would undo what came since.
    #[serde(default)]
    pub release_revision: Option<u64>,
    /// `sha256:` of the plan's own content (this field left out), as `gpuplan plan` printed it;
    /// none on a plan not sealed ([`Plan::sealed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<String>,
    /// With `--node-config`: the concrete change to that node's files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_files: Vec<NodeFile>,
    /// The stages, in order, each with its objects.
    pub stages: Vec<Stage>,
    /// The CustomResourceDefinitions the stages' custom resources need, which Helm would install
    /// from a chart's `crds/` before anything else. Not printed (Helm keeps a chart's CRDs apart
    /// from its templates too), so a plan read back from a file has none.
    #[serde(skip)]
    pub crds: Vec<Manifest>,
}

/// Where an object's kind comes in Helm's install order (unknown kinds after all of them).
fn rank(m: &Manifest) -> usize {
    INSTALL_ORDER.iter().position(|k| *k == m.kind()).unwrap_or(INSTALL_ORDER.len())
}

/// Objects of one rank: unknown kinds by kind name, then by namespace and name.
fn within_rank(m: &Manifest) -> (&str, &str, &str) {
    let unknown_kind = if rank(m) == INSTALL_ORDER.len() { m.kind() } else { "" };
    (unknown_kind, m.namespace(), m.name())
}

/// Sort `objects` into apply order: by kind in Helm's install order, then [`within_rank`].
/// Stable: objects with equal keys keep their rendering order. Each object's rank is found
/// once, not once per comparison.
fn apply_order(objects: Vec<Manifest>) -> Vec<Manifest> {
    let mut ranked: Vec<(usize, Manifest)> = objects.into_iter().map(|m| (rank(&m), m)).collect();
    ranked.sort_by(|(ra, a), (rb, b)| ra.cmp(rb).then_with(|| within_rank(a).cmp(&within_rank(b))));
    ranked.into_iter().map(|(_, m)| m).collect()
}

/// `sha256:` and the hex SHA-256 of `text`: every digest a plan carries is one.
pub fn sha256(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    format!("sha256:{}", hash.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The digest of effective values: `sha256:` of their canonical JSON.
pub fn digest(values: &Values) -> String {
    sha256(&print::to_json(&values.0))
}

/// Assemble the plan: stages in the order given, objects ordered within each, empty stages
/// dropped; the CRDs their custom resources need.
pub fn build(release: Release, stages: Vec<Stage>, crds: Vec<Manifest>, node: NodeRuntime, values: &Values) -> Plan {
    let stages = stages
        .into_iter()
        .filter(|s| !s.objects.is_empty() || !s.omitted.is_empty())
        .map(|s| Stage { objects: apply_order(s.objects), ..s })
        .collect();
    Plan {
        api_version: API_VERSION.into(),
        kind: "Plan".into(),
        release,
        digest: digest(values),
        node,
        runtimes: Vec::new(),
        facts_digest: None,
        release_revision: None,
        plan_digest: None,
        node_files: Vec::new(),
        stages,
        crds,
    }
}

impl Plan {
    /// Attach the concrete change to one node's files.
    pub fn with_node_files(mut self, files: &[FileChange]) -> Plan {
        self.node_files = files.iter().map(|f| NodeFile { path: f.path.clone(), diff: f.unified() }).collect();
        self
    }

    /// `sha256:` of the plan's content: its canonical JSON (keys sorted), `planDigest` left out.
    /// What was printed as YAML or JSON and read back gives the same digest; any edit to an
    /// object, a stage, the release or the node change gives another.
    pub fn content_digest(&self) -> String {
        let mut json = serde_json::to_value(self).unwrap_or(J::Null);
        if let J::Object(map) = &mut json {
            map.remove("planDigest");
        }
        // serde_json's maps are ordered by key (no `preserve_order`), so this text is canonical.
        sha256(&json.to_string())
    }

    /// The plan with the digest of its own content, to be saved and applied later.
    pub fn sealed(mut self) -> Plan {
        self.plan_digest = Some(self.content_digest());
        self
    }

    /// Whether the plan is as it was sealed: refused when it carries no digest of its content,
    /// or one its content does not have (it was edited after `gpuplan plan` printed it).
    pub fn verify(&self) -> Result<(), Error> {
        let found = self.content_digest();
        match &self.plan_digest {
            Some(sealed) if *sealed == found => Ok(()),
            sealed => Err(Error::PlanDigest { sealed: sealed.clone(), found }),
        }
    }

    /// Every object, stage after stage.
    pub fn manifests(&self) -> impl Iterator<Item = &Manifest> {
        self.stages.iter().flat_map(|s| s.objects.iter())
    }

    /// The whole plan as YAML.
    pub fn to_yaml(&self) -> String {
        print::json_to_yaml(&serde_json::to_value(self).unwrap_or(J::Null))
    }

    /// The whole plan as JSON (indented, keys sorted, trailing newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&serde_json::to_value(self).unwrap_or(J::Null)).unwrap_or_default();
        text.push('\n');
        text
    }

    /// `helm template`'s output: each object as `---\n# Source: <source>\n<yaml>`; with
    /// patterns (`--show-only`), only objects whose source after `gpuplan/` matches one, in
    /// pattern order, a pattern matching nothing being an error.
    pub fn template_stream(&self, show_only: &[String]) -> Result<String, Error> {
        let mut out = String::new();
        let write = |out: &mut String, m: &Manifest| {
            out.push_str("---\n# Source: ");
            out.push_str(&m.source);
            out.push('\n');
            print::write_json_yaml(out, &m.object);
        };
        if show_only.is_empty() {
            // The defaults print ~90 KB: room made once, not by a dozen doublings and copies
            // (pages not written to are never touched).
            out.reserve(128 * 1024);
            for m in self.manifests() {
                write(&mut out, m);
            }
            return Ok(out);
        }
        for pattern in show_only {
            let matched: Vec<&Manifest> = self
                .manifests()
                .filter(|m| m.source.split_once('/').is_some_and(|(_, rest)| glob(pattern, rest)))
                .collect();
            if matched.is_empty() {
                return Err(Error::ShowOnly { pattern: pattern.clone() });
            }
            for m in matched {
                write(&mut out, m);
            }
        }
        Ok(out)
    }
}

/// Go's `filepath.Match` on `/`-separated paths: `*` and `?` never cross a `/`; `[...]`
/// classes; `\` escapes.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).take_while(|&i| i == 0 || t[i - 1] != '/').any(|i| go(&p[1..], &t[i..])),
            Some('?') => t.first().is_some_and(|&c| c != '/') && go(&p[1..], &t[1..]),
            Some('[') => {
                let Some(end) = p.iter().position(|&c| c == ']') else { return false };
                let (negate, class) = match p.get(1) {
                    Some('^') => (true, &p[2..end]),
                    _ => (false, &p[1..end]),
                };
                let Some(&c) = t.first() else { return false };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != negate && c != '/' && go(&p[end + 1..], &t[1..])
            }
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
            Some(&c) => t.first() == Some(&c) && go(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default plan, as `gpuplan plan` makes it.
    fn plan() -> Plan {
        let inputs = crate::Inputs { files: Vec::new(), flags: Vec::new() };
        let user = crate::load(&inputs, &mut |_| Err("no files".into())).expect("loads");
        let effective = crate::coalesce(user).expect("coalesces");
        let config = crate::resolve(&effective.values).expect("resolves");
        let (node, _) = crate::node_runtime(&config);
        let release = Release { name: "r".into(), namespace: "ns".into(), kube_version: "1.31".into() };
        crate::plan(&config, node, release, &effective.values).expect("plans")
    }

    #[test]
    fn given_a_sealed_plan_read_back_from_yaml_or_json_it_verifies_and_an_edit_does_not() {
        let sealed = plan().sealed();
        for text in [sealed.to_yaml(), sealed.to_json()] {
            let read::Document::Plan(back) = read::read(&text, "p").expect("reads") else { panic!("a plan") };
            back.verify().expect("the same content");
            let mut edited = back.clone();
            edited.stages[0].objects[0].object["metadata"]["name"] = "another".into();
            let err = edited.verify().expect_err("edited");
            assert!(err.to_string().starts_with("the plan was changed after `gpuplan plan` made it"), "{err}");
        }
        let mut stale = sealed.clone();
        stale.release_revision = Some(3);
        assert!(stale.verify().is_err(), "the revision is sealed too");
        assert!(plan().verify().is_err(), "a plan without a digest of its content is refused");
    }

    #[test]
    fn given_go_patterns_glob_matches_like_filepath_match() {
        assert!(glob("container-toolkit/*.yaml", "container-toolkit/daemonset.yaml"));
        assert!(!glob("*.yaml", "container-toolkit/daemonset.yaml"));
        assert!(glob("*/daemonset.yaml", "driver/daemonset.yaml"));
        assert!(glob("driver/role*", "driver/rolebinding.yaml"));
        assert!(glob("d[a-z]iver/?aemonset.yaml", "driver/daemonset.yaml"));
        assert!(!glob("driver/[^d]aemonset.yaml", "driver/daemonset.yaml"));
    }
}
