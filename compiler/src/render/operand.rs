//! What every operand DaemonSet shares, decided as the upstream operator decides it.
//!
//! Input: the [`Context`] and a stage's [`Spec`] of its operand (name, deploy label, image
//! settings, resources, whether it runs with the NVIDIA RuntimeClass). Output: an [`Operand`]
//! view for the stage's DaemonSet template, and [`Env`], the set-or-append-by-name env list.
//!
//! The operator's common pipeline, in order: the update strategy (`daemonsets.updateStrategy`;
//! the driver is always `OnDelete`), `daemonsets.priorityClassName`, `daemonsets.tolerations`
//! (which replace the built-in toleration when not empty), the image and its pull policy and
//! secrets, the component's resources on every container, `runtimeClassName` (not when CRI-O
//! runs without CDI, nor in NRI mode), `hostNetwork` with `ClusterFirstWithHostNet`, and
//! `daemonsets.labels`/`annotations` on the DaemonSet and its pods (never overriding `app` or
//! `app.kubernetes.io/part-of`). Every operand is scheduled on `nvidia.com/gpu.deploy.<component>=true`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value as J, json};

use super::Context;
use super::Rule;
use super::image::reference;
use crate::config::cluster::UpdateStrategy;
use crate::config::kube::{EnvVar, IntOrPercent, PullPolicy, Resources};
use crate::node::RuntimeKind;

/// How the shared operand settings are transformed, for `gpuplan explain` (every stage).
pub const RULES: &[Rule] = &[Rule {
    stage: "*",
    kind: "DaemonSet",
    field: "spec.updateStrategy.rollingUpdate.maxUnavailable",
    text: "`daemonsets.rollingUpdate.maxUnavailable` parsed as Kubernetes' intstr.Parse: text that is \
        a whole number (`\"1\"`) becomes that integer; anything else (`25%`) stays text.",
}];

/// Labels a user's `daemonsets.labels` may not override.
const PROTECTED_LABELS: [&str; 2] = ["app", "app.kubernetes.io/part-of"];

/// The label gpuplan puts on everything it renders.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "gpuplan");

/// What a stage says about its operand.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    /// The DaemonSet's name (also its `app` label).
    pub name: &'a str,
    /// The node label suffix: scheduled on `nvidia.com/gpu.deploy.<component>=true`.
    pub component: &'a str,
    /// The ServiceAccount its pods run as.
    pub service_account: &'a str,
    /// Image repository.
    pub repository: &'a str,
    /// Image name.
    pub image: &'a str,
    /// Image version (tag or `sha256:` digest).
    pub version: &'a str,
    /// When the kubelet pulls the image.
    pub pull_policy: PullPolicy,
    /// Pull secret names.
    pub pull_secrets: &'a [String],
    /// Resources for every container.
    pub resources: &'a Resources,
    /// Run in the host's network namespace.
    pub host_network: bool,
    /// Runs GPU workloads through the NVIDIA RuntimeClass (where upstream sets it).
    pub runtime_class: bool,
    /// Annotations of the upstream asset on the DaemonSet (e.g. `openshift.io/scc`).
    pub annotations: &'a [(&'a str, &'a str)],
}

/// The shared part of an operand DaemonSet's view.
#[derive(Debug, Clone, Serialize)]
pub struct Operand {
    /// DaemonSet name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// DaemonSet labels.
    pub labels: BTreeMap<String, String>,
    /// DaemonSet annotations.
    pub annotations: BTreeMap<String, String>,
    /// Selector labels (`app`).
    pub selector: BTreeMap<String, String>,
    /// Pod labels.
    pub pod_labels: BTreeMap<String, String>,
    /// Pod annotations.
    pub pod_annotations: BTreeMap<String, String>,
    /// Node selector.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations.
    pub tolerations: J,
    /// Priority class.
    pub priority_class_name: String,
    /// `spec.updateStrategy`.
    pub update_strategy: J,
    /// ServiceAccount.
    pub service_account: String,
    /// Image reference.
    pub image: String,
    /// Pull policy.
    pub image_pull_policy: String,
    /// `imagePullSecrets` entries.
    pub image_pull_secrets: Vec<J>,
    /// Resources for every container, when set.
    pub resources: Option<J>,
    /// `runtimeClassName`, when the operand runs with it.
    pub runtime_class_name: Option<String>,
    /// NRI mode: GPU containers get their devices through annotations, not a RuntimeClass.
    pub nri: bool,
    /// `hostNetwork`.
    pub host_network: bool,
    /// `dnsPolicy` (with the host network).
    pub dns_policy: Option<String>,
    /// The validator image, for the `*-validation` init containers.
    pub validator_image: String,
    /// The validator's pull policy.
    pub validator_pull_policy: String,
    /// The host's root filesystem (`hostPaths.rootFS`).
    pub host_root: String,
    /// Where the driver's files are on the host (`hostPaths.driverInstallDir`).
    pub driver_install_dir: String,
}

/// The name of a pull policy as Kubernetes writes it.
pub fn pull_policy(p: PullPolicy) -> &'static str {
    match p {
        PullPolicy::Always => "Always",
        PullPolicy::IfNotPresent => "IfNotPresent",
        PullPolicy::Never => "Never",
    }
}

/// Resources as Kubernetes takes them; `None` when empty.
pub fn resources(r: &Resources) -> Option<J> {
    (!r.limits.is_empty() || !r.requests.is_empty() || !r.claims.is_empty())
        .then(|| serde_json::to_value(r).unwrap_or(J::Null))
}

/// The priority class of the upstream assets, kept when `daemonsets.priorityClassName` is
/// empty (the operator only sets a non-empty one).
pub const DEFAULT_PRIORITY_CLASS: &str = "system-node-critical";

/// Secret names from two lists, `first` then `second`, each once, in order.
pub fn merged_secrets(first: &[String], second: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in first.iter().chain(second) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// `imagePullSecrets` entries from secret names.
pub fn pull_secrets(names: &[String]) -> Vec<J> {
    names.iter().map(|n| json!({ "name": n })).collect()
}

impl Operand {
    /// The operand under another DaemonSet name: the `app` label of the DaemonSet, its pods and
    /// its selector follow, so two DaemonSets of one component never select each other's pods.
    /// A name longer than a label value may be (63) is cut and given a hash of the whole.
    pub fn rename(&mut self, name: &str) {
        let name = dns_name(name);
        for labels in [&mut self.labels, &mut self.pod_labels, &mut self.selector] {
            if labels.contains_key("app") {
                labels.insert("app".into(), name.clone());
            }
        }
        self.name = name;
    }

    /// The shared decisions for one operand.
    pub fn new(ctx: &Context<'_>, spec: &Spec<'_>) -> Operand {
        let config = ctx.config;
        let ds = &config.daemonsets;
        let mut labels: BTreeMap<String, String> =
            BTreeMap::from([("app".into(), spec.name.into()), (MANAGED_BY.0.into(), MANAGED_BY.1.into())]);
        for (k, v) in &ds.labels {
            if !PROTECTED_LABELS.contains(&k.as_str()) {
                labels.insert(k.clone(), v.clone());
            }
        }
        let mut annotations: BTreeMap<String, String> =
            spec.annotations.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        annotations.extend(ds.annotations.clone());
        let tolerations = if ds.tolerations.is_empty() {
            json!([{ "key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule" }])
        } else {
            serde_json::to_value(&ds.tolerations).unwrap_or(J::Null)
        };
        let nri = config.cdi.nri_plugin_enabled;
        let crio_without_cdi = ctx.node.runtime == RuntimeKind::Crio && !config.cdi.enabled;
        let runtime_class_name =
            (spec.runtime_class && !nri && !crio_without_cdi).then(|| ctx.node.runtime_name.clone());
        let validator = &config.validator;
        Operand {
            name: spec.name.into(),
            namespace: ctx.namespace().into(),
            pod_labels: labels.clone(),
            labels,
            pod_annotations: ds.annotations.clone(),
            annotations,
            selector: BTreeMap::from([("app".into(), spec.name.into())]),
            node_selector: BTreeMap::from([(format!("nvidia.com/gpu.deploy.{}", spec.component), "true".into())]),
            tolerations,
            priority_class_name: if ds.priority_class_name.is_empty() {
                DEFAULT_PRIORITY_CLASS.into()
            } else {
                ds.priority_class_name.clone()
            },
            update_strategy: update_strategy(ds.update_strategy, &ds.rolling_update.max_unavailable),
            service_account: spec.service_account.into(),
            image: reference(spec.repository, spec.image, spec.version),
            image_pull_policy: pull_policy(spec.pull_policy).into(),
            // The `*-validation` init containers run the validator's image: upstream puts its
            // pull secrets ahead of the component's.
            image_pull_secrets: pull_secrets(&merged_secrets(&validator.image_pull_secrets, spec.pull_secrets)),
            resources: resources(spec.resources),
            runtime_class_name,
            nri,
            host_network: spec.host_network,
            dns_policy: spec.host_network.then(|| "ClusterFirstWithHostNet".into()),
            validator_image: reference(&validator.repository, &validator.image, &validator.version),
            validator_pull_policy: pull_policy(validator.image_pull_policy).into(),
            host_root: config.host_paths.root_fs.clone(),
            driver_install_dir: config.host_paths.driver_install_dir.clone(),
        }
    }

    /// In NRI mode, the annotation that hands a GPU container its devices.
    pub fn gpu_container(&mut self, container: &str) {
        if self.nri {
            self.pod_annotations
                .insert(format!("nvidia.cdi.k8s.io/container.{container}"), "management.nvidia.com/gpu=all".into());
        }
    }
}

/// `spec.updateStrategy`: `maxUnavailable` parsed as Kubernetes' `intstr.Parse` does (`"1"` is
/// the integer 1, `"25%"` stays text).
pub fn update_strategy(strategy: UpdateStrategy, max_unavailable: &IntOrPercent) -> J {
    match strategy {
        UpdateStrategy::OnDelete => json!({ "type": "OnDelete" }),
        UpdateStrategy::RollingUpdate => {
            let max = match max_unavailable {
                IntOrPercent::Int(i) => json!(i),
                IntOrPercent::Text(t) => t.parse::<i64>().map_or_else(|_| json!(t), |i| json!(i)),
            };
            json!({ "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": max } })
        }
    }
}

/// A container's env, set or appended by name (the operator's `setContainerEnv`): setting a
/// name that is there replaces its value in place; a new name goes at the end.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct Env(pub Vec<J>);

impl Env {
    /// An empty env.
    pub fn new() -> Env {
        Env(Vec::new())
    }

    fn put(&mut self, name: &str, entry: J) {
        match self.0.iter_mut().find(|e| e.get("name").and_then(J::as_str) == Some(name)) {
            Some(existing) => *existing = entry,
            None => self.0.push(entry),
        }
    }

    /// Set `name` to a literal value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Env {
        self.put(name, json!({ "name": name, "value": value.into() }));
        self
    }

    /// Set `name` from the pod's own fields (`metadata.namespace`, `spec.nodeName`, ...).
    pub fn field(&mut self, name: &str, field_path: &str) -> &mut Env {
        self.put(name, json!({ "name": name, "valueFrom": { "fieldRef": { "fieldPath": field_path } } }));
        self
    }

    /// Apply a user's `env` list from the values, in order.
    pub fn apply(&mut self, user: &[EnvVar]) -> &mut Env {
        for var in user {
            self.set(&var.name, var.value.clone());
        }
        self
    }

    /// `HOST_ROOT`, for a container that mounts the host root, when `hostPaths.rootFS` is not
    /// `/` (the operator rewrites the `host-root` volume and tells the container).
    pub fn host_root(&mut self, ctx: &Context<'_>) -> &mut Env {
        let root = &ctx.config.host_paths.root_fs;
        if !root.is_empty() && root != "/" {
            self.set("HOST_ROOT", root.as_str());
        }
        self
    }

    /// The value set for `name`, if a literal.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.get("name").and_then(J::as_str) == Some(name))
            .and_then(|e| e.get("value"))
            .and_then(J::as_str)
    }
}

/// `name` as an object name that is also a valid label value: lowercase letters, digits, `-`
/// and `.`, at most 63 characters (longer: cut, with 8 hex digits of its SHA-256).
pub fn dns_name(name: &str) -> String {
    let clean: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' })
        .collect();
    if clean.len() <= 63 {
        return clean;
    }
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(name.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hash}", clean[..54].trim_end_matches(['-', '.']))
}
