//! The pods of NFD's four components, as the subchart's `master.yaml`, `worker.yaml`,
//! `nfd-gc.yaml` and `topologyupdater.yaml` build them.
//!
//! Input: the [`Common`] naming and image decisions and one component's values. Output: a
//! [`Workload`] view that the component's template and the shared pod partial
//! (`templates/node-feature-discovery/_pod.yaml.j2`) turn into a Deployment or DaemonSet:
//! labels, the `checksum/config` annotation, service account, args, env, probes, mounts and
//! volumes. Everything the chart leaves out when empty (`with` blocks) is empty here too, and
//! the templates leave it out.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value as J, json};

use super::Common;
use crate::config::kube::{FreeForm, Resources, StringMap, Toleration};
use crate::config::nfd::pod::{DnsPolicy, ExtraEnvVar, ProbeTiming, ReadinessProbeTiming};
use crate::config::nfd::worker::OwnerRef;
use crate::config::nfd::{Gc, Master, TopologyUpdater, Worker};

/// One component's Deployment or DaemonSet.
#[derive(Debug, Serialize)]
pub(super) struct Workload {
    /// `<fullname>-<role>`.
    pub name: String,
    /// The `role` label: `master`, `worker`, `gc` or `topology-updater`.
    pub role: &'static str,
    /// The container's command (the container is named after the role).
    pub command: &'static str,
    /// Object labels: the chart's labels and `role`.
    pub labels: BTreeMap<String, String>,
    /// `deploymentAnnotations` / `daemonsetAnnotations`.
    pub annotations: StringMap,
    /// The selector: the chart's selector labels and `role`.
    pub match_labels: BTreeMap<String, String>,
    /// Selector labels, the component's `labels`, then `role`.
    pub pod_labels: BTreeMap<String, String>,
    /// `checksum/config` (not for gc), then the component's `annotations`.
    pub pod_annotations: StringMap,
    pub replicas: Option<u32>,
    pub revision_history_limit: Option<u32>,
    /// The worker's `updateStrategy`.
    pub update_strategy: Option<J>,
    pub service_account: String,
    pub dns_policy: DnsPolicy,
    pub priority_class_name: Option<String>,
    /// Only the master turns service links off.
    pub enable_service_links: Option<bool>,
    pub pod_security_context: FreeForm,
    pub host_network: bool,
    pub host_users: Option<bool>,
    pub init_containers: Vec<FreeForm>,
    pub security_context: J,
    pub env: Vec<J>,
    pub args: Vec<String>,
    pub port: u16,
    pub resources: J,
    pub startup_probe: Option<J>,
    pub liveness_probe: J,
    pub readiness_probe: J,
    pub mounts: Vec<J>,
    pub volumes: Vec<J>,
    pub node_selector: StringMap,
    pub affinity: FreeForm,
    pub tolerations: Vec<Toleration>,
}

/// What every component's pod takes from its values the same way.
struct Base<'a> {
    role: &'static str,
    command: &'static str,
    service_account: String,
    labels: &'a StringMap,
    annotations: &'a StringMap,
    extra_envs: &'a [ExtraEnvVar],
    extra_args: &'a [String],
    resources: &'a Resources,
    dns_policy: DnsPolicy,
    host_network: bool,
    host_users: Option<bool>,
    pod_security_context: &'a FreeForm,
    init_containers: &'a [FreeForm],
    port: u16,
    revision_history_limit: Option<u32>,
    liveness_probe: J,
    readiness_probe: J,
    node_selector: &'a StringMap,
    affinity: &'a FreeForm,
    tolerations: &'a [Toleration],
}

/// The [`Base`] of a component: the four components' values share these field names.
macro_rules! base {
    ($c:expr, $role:literal, $command:literal, $service_account:expr) => {
        Base {
            role: $role,
            command: $command,
            service_account: $service_account,
            labels: &$c.labels,
            annotations: &$c.annotations,
            extra_envs: &$c.extra_envs,
            extra_args: &$c.extra_args,
            resources: &$c.resources,
            dns_policy: $c.dns_policy,
            host_network: $c.host_network,
            host_users: $c.host_users,
            pod_security_context: &$c.pod_security_context,
            init_containers: &$c.init_containers,
            port: $c.port,
            revision_history_limit: $c.revision_history_limit,
            liveness_probe: liveness(&$c.liveness_probe),
            readiness_probe: readiness(&$c.readiness_probe),
            node_selector: &$c.node_selector,
            affinity: &$c.affinity,
            tolerations: &$c.tolerations,
        }
    };
}

impl Workload {
    /// The workload from its [`Base`], its built-in env and args (the values' extras go after
    /// them) and its `checksum/config`.
    fn new(common: &Common, base: Base<'_>, mut env: Vec<J>, mut args: Vec<String>, checksum: Option<String>) -> Self {
        let role = base.role;
        let mut pod_labels = common.selector.clone();
        pod_labels.extend(base.labels.clone());
        let mut pod_annotations = StringMap::new();
        if let Some(checksum) = checksum {
            pod_annotations.insert("checksum/config".into(), checksum);
        }
        pod_annotations.extend(base.annotations.clone());
        env.extend(base.extra_envs.iter().map(|e| serde_json::to_value(e).unwrap_or(J::Null)));
        args.extend(base.extra_args.iter().cloned());
        Workload {
            name: format!("{}-{role}", common.fullname),
            role,
            command: base.command,
            labels: Common::with_role(&common.labels, role),
            annotations: StringMap::new(),
            match_labels: Common::with_role(&common.selector, role),
            pod_labels: Common::with_role(&pod_labels, role),
            pod_annotations,
            replicas: None,
            revision_history_limit: base.revision_history_limit,
            update_strategy: None,
            service_account: base.service_account,
            dns_policy: base.dns_policy,
            priority_class_name: common.priority_class_name.clone(),
            enable_service_links: None,
            pod_security_context: base.pod_security_context.clone(),
            host_network: base.host_network,
            host_users: base.host_users,
            init_containers: base.init_containers.to_vec(),
            security_context: json!({}),
            env,
            args,
            port: base.port,
            resources: serde_json::to_value(base.resources).unwrap_or(J::Null),
            startup_probe: None,
            liveness_probe: base.liveness_probe,
            readiness_probe: base.readiness_probe,
            mounts: Vec::new(),
            volumes: Vec::new(),
            node_selector: base.node_selector.clone(),
            affinity: base.affinity.clone(),
            tolerations: base.tolerations.to_vec(),
        }
    }
}

fn field(name: &str, path: &str) -> J {
    json!({ "name": name, "valueFrom": { "fieldRef": { "fieldPath": path } } })
}

/// `/healthz` on the `http` port, with the timings that are set and not zero (the chart's
/// `with` drops zeros too).
fn probe(timings: &[(&str, Option<u32>)]) -> J {
    let mut probe = json!({ "httpGet": { "path": "/healthz", "port": "http" } });
    for (key, value) in timings {
        if let Some(v) = value.filter(|v| *v != 0) {
            probe[*key] = json!(v);
        }
    }
    probe
}

fn liveness(t: &ProbeTiming) -> J {
    probe(&[
        ("initialDelaySeconds", t.initial_delay_seconds),
        ("failureThreshold", t.failure_threshold),
        ("periodSeconds", t.period_seconds),
        ("timeoutSeconds", t.timeout_seconds),
    ])
}

fn readiness(t: &ReadinessProbeTiming) -> J {
    probe(&[
        ("initialDelaySeconds", t.initial_delay_seconds),
        ("failureThreshold", t.failure_threshold),
        ("periodSeconds", t.period_seconds),
        ("timeoutSeconds", t.timeout_seconds),
        ("successThreshold", t.success_threshold),
    ])
}

fn host_path(name: &str, path: &str) -> J {
    json!({ "name": name, "hostPath": { "path": path } })
}

fn mount(name: &str, path: &str, read_only: bool) -> J {
    let mut m = json!({ "name": name, "mountPath": path });
    if read_only {
        m["readOnly"] = json!(true);
    }
    m
}

/// A component's ConfigMap volume, mounted where NFD reads its configuration.
fn config_volume(common: &Common, suffix: &str, key: &str) -> (J, J) {
    let name = format!("nfd-{suffix}-conf");
    let volume = json!({
        "name": name,
        "configMap": { "name": format!("{}-{suffix}-conf", common.fullname), "items": [{ "key": key, "path": key }] },
    });
    (mount(&name, "/etc/kubernetes/node-feature-discovery", true), volume)
}

/// `-feature-gates=<gate>=<bool>` for each gate, in key order (Go templates range sorted).
fn feature_gates(common: &Common) -> Vec<String> {
    common.feature_gates.iter().map(|(gate, on)| format!("-feature-gates={gate}={on}")).collect()
}

/// The nfd-master Deployment.
pub(super) fn master(common: &Common, m: &Master, service_account: String, checksum: String) -> Workload {
    let mut args = Vec::new();
    if let Some(instance) = m.instance.as_deref().filter(|i| !i.is_empty()) {
        args.push(format!("-instance={instance}"));
    }
    if m.replica_count > 1 {
        args.push("-enable-leader-election".into());
    }
    if !m.extra_label_ns.is_empty() {
        args.push(format!("-extra-label-ns={}", m.extra_label_ns.join(",")));
    }
    if !m.deny_label_ns.is_empty() {
        args.push(format!("-deny-label-ns={}", m.deny_label_ns.join(",")));
    }
    if m.enable_taints {
        args.push("-enable-taints".into());
    }
    if let Some(period) = m.resync_period.as_deref().filter(|p| !p.is_empty()) {
        args.push(format!("-resync-period={period}"));
    }
    if let Some(n) = m.nfd_api_parallelism.filter(|n| *n != 0) {
        args.push(format!("-nfd-api-parallelism={n}"));
    }
    args.extend(feature_gates(common));
    args.push(format!("-port={}", m.port));
    let env = vec![field("NODE_NAME", "spec.nodeName")];
    let mut w = Workload::new(common, base!(m, "master", "nfd-master", service_account), env, args, Some(checksum));
    let (conf_mount, conf_volume) = config_volume(common, "master", "nfd-master.conf");
    w.annotations = m.deployment_annotations.clone();
    w.replicas = Some(m.replica_count);
    w.enable_service_links = Some(false);
    w.security_context = J::Object(m.security_context.clone());
    w.startup_probe = Some(liveness(&m.startup_probe));
    w.mounts = vec![conf_mount];
    w.volumes = vec![conf_volume];
    w
}

/// The nfd-worker DaemonSet: read-only views of the host's `/boot`, `/etc/os-release`, `/sys`,
/// `/usr/lib`, `/lib`, `/proc/swaps` (and `/usr/src` with `mountUsrSrc`) and the hooks'
/// `features.d` directory.
pub(super) fn worker(common: &Common, wk: &Worker, service_account: String, checksum: String) -> Workload {
    let owner_refs: Vec<&str> = wk
        .owner_refs
        .iter()
        .map(|r| match r {
            OwnerRef::Node => "node",
            OwnerRef::Pod => "pod",
            OwnerRef::DaemonSet => "ds",
        })
        .collect();
    let mut args = feature_gates(common);
    args.push(format!("-owner-refs={}", owner_refs.join(",")));
    args.push(format!("-port={}", wk.port));
    let env =
        vec![field("NODE_NAME", "spec.nodeName"), field("POD_NAME", "metadata.name"), field("POD_UID", "metadata.uid")];
    let mut w = Workload::new(common, base!(wk, "worker", "nfd-worker", service_account), env, args, Some(checksum));
    let mut host = vec![
        ("host-boot", "/boot", "/host-boot"),
        ("host-os-release", "/etc/os-release", "/host-etc/os-release"),
        ("host-sys", "/sys", "/host-sys"),
        ("host-usr-lib", "/usr/lib", "/host-usr/lib"),
        ("host-lib", "/lib", "/host-lib"),
        ("host-proc-swaps", "/proc/swaps", "/host-proc/swaps"),
    ];
    if wk.mount_usr_src {
        host.push(("host-usr-src", "/usr/src", "/host-usr/src"));
    }
    let features_d = "/etc/kubernetes/node-feature-discovery/features.d/";
    host.push(("features-d", features_d, features_d));
    for (name, on_host, in_pod) in host {
        w.mounts.push(mount(name, in_pod, true));
        w.volumes.push(host_path(name, on_host));
    }
    let (conf_mount, conf_volume) = config_volume(common, "worker", "nfd-worker.conf");
    w.mounts.push(conf_mount);
    w.volumes.push(conf_volume);
    w.annotations = wk.daemonset_annotations.clone();
    w.update_strategy = Some(serde_json::to_value(&wk.update_strategy).unwrap_or(J::Null));
    // The worker's own class wins over the top-level one (the chart writes both keys).
    if let Some(class) = wk.priority_class_name.as_deref().filter(|c| !c.is_empty()) {
        w.priority_class_name = Some(class.to_owned());
    }
    w.security_context = J::Object(wk.security_context.clone());
    w
}

/// The nfd-gc Deployment; its container security context is fixed by the chart.
pub(super) fn gc(common: &Common, g: &Gc, service_account: String) -> Workload {
    let mut args = Vec::new();
    if !g.interval.is_empty() {
        args.push(format!("-gc-interval={}", g.interval));
    }
    let env = vec![field("NODE_NAME", "spec.nodeName")];
    let mut w = Workload::new(common, base!(g, "gc", "nfd-gc", service_account), env, args, None);
    w.annotations = g.deployment_annotations.clone();
    w.replicas = Some(g.replica_count.max(1));
    w.security_context = json!({
        "allowPrivilegeEscalation": false,
        "capabilities": { "drop": ["ALL"] },
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
    });
    w
}

/// The nfd-topology-updater DaemonSet: the kubelet's pod-resources socket, `/sys`, and when
/// set the kubelet's config file and state directory.
pub(super) fn topology_updater(
    common: &Common,
    t: &TopologyUpdater,
    service_account: String,
    checksum: String,
) -> Workload {
    let non_empty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let kubelet_config = non_empty(&t.kubelet_config_path);
    let sock = "/host-var/lib/kubelet-podresources/kubelet.sock";
    let mut args = vec![format!("-podresources-socket={sock}")];
    let interval = if t.update_interval.is_empty() { "3s" } else { &t.update_interval };
    args.push(format!("-sleep-interval={interval}"));
    let watch = if t.watch_namespace.is_empty() { "*" } else { &t.watch_namespace };
    args.push(format!("-watch-namespace={watch}"));
    if !t.pod_set_fingerprint {
        args.push("-pods-fingerprint=false".into());
    }
    if kubelet_config.is_some() {
        args.push("-kubelet-config-uri=file:///host-var/kubelet-config".into());
    }
    if t.kubelet_state_dir.is_empty() {
        // An empty path turns the kubelet state tracking off.
        args.push("-kubelet-state-dir=".into());
    }
    args.push(format!("-port={}", t.port));
    let env = vec![field("NODE_NAME", "spec.nodeName"), field("NODE_ADDRESS", "status.hostIP")];
    let base = base!(t, "topology-updater", "nfd-topology-updater", service_account);
    let mut w = Workload::new(common, base, env, args, Some(checksum));
    w.volumes.push(host_path("host-sys", "/sys"));
    if let Some(path) = &kubelet_config {
        w.mounts.push(mount("kubelet-config", "/host-var/kubelet-config", false));
        w.volumes.push(host_path("kubelet-config", path));
    }
    let sock_on_host = non_empty(&t.kubelet_pod_resources_sock_path)
        .unwrap_or_else(|| "/var/lib/kubelet/pod-resources/kubelet.sock".into());
    w.mounts.push(mount("kubelet-podresources-sock", sock, false));
    w.volumes.push(host_path("kubelet-podresources-sock", &sock_on_host));
    w.mounts.push(mount("host-sys", "/host-sys", false));
    if !t.kubelet_state_dir.is_empty() {
        w.mounts.push(mount("kubelet-state-files", "/host-var/lib/kubelet", true));
        w.volumes.push(host_path("kubelet-state-files", &t.kubelet_state_dir));
    }
    let (conf_mount, conf_volume) = config_volume(common, "topology-updater", "nfd-topology-updater.conf");
    w.mounts.push(conf_mount);
    w.volumes.push(conf_volume);
    w.annotations = t.daemonset_annotations.clone();
    w.security_context = J::Object(t.security_context.clone());
    w
}
