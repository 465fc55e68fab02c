//! Stage `dcgm-exporter`: NVIDIA's DCGM exporter, GPU metrics for Prometheus on port 9400.
//!
//! Input: `dcgmExporter.*`, `dcgm.enabled`, `hostPaths.kubeletRootDir`, `daemonsets.*`,
//! `cdi.*`, the validator image, `platform.openshift`. Output, when `dcgmExporter.enabled`
//! (upstream's state `state-dcgm-exporter`): ServiceAccount, Role and RoleBinding
//! `nvidia-dcgm-exporter`; the ClusterRole and ClusterRoleBinding
//! `nvidia-dcgm-exporter-read-pods` when metrics carry pod labels or UIDs (the exporter then
//! reads pods cluster-wide, with its token mounted); the Service and, when
//! `serviceMonitor.enabled`, the ServiceMonitor `nvidia-dcgm-exporter`; the DaemonSet
//! `nvidia-dcgm-exporter`; on OpenShift also its SecurityContextConstraints and the
//! `accelerator_*` recording rules. The chart's metrics ConfigMap (`config.create` with `data`)
//! is rendered whenever asked for, like the chart does, even with the exporter off.
//!
//! The exporter embeds its own host engine unless `dcgm.enabled`, in which case it is pointed
//! at the `nvidia-dcgm` Service. Limitation: upstream only creates the ServiceMonitor when the
//! cluster serves its CRD; a plan is compiled offline, so it carries the ServiceMonitor whenever
//! it is enabled (turn `serviceMonitor.enabled` off for clusters without the Prometheus
//! Operator).

use std::collections::BTreeMap;

use serde::Serialize;

use super::dcgm::{self, Scc};
use super::operand::{Env, MANAGED_BY, Operand, Spec};
use super::{Context, Out, Shared};
use crate::config::kube::FreeForm;
use crate::config::monitoring::{DcgmExporter, InternalTrafficPolicy, ServiceType};
use crate::error::Error;

/// The DaemonSet's, Service's and ServiceAccount's name.
pub const NAME: &str = "nvidia-dcgm-exporter";
/// The ClusterRole and ClusterRoleBinding that let the exporter read pods.
const READ_PODS: &str = "nvidia-dcgm-exporter-read-pods";
/// The exporter container, which gets the GPUs.
const CONTAINER: &str = "nvidia-dcgm-exporter";
/// The metrics port.
const PORT: u16 = 9400;
/// The exporter's built-in metrics list.
const DEFAULT_COLLECTORS: &str = "/etc/dcgm-exporter/dcp-metrics-included.csv";
/// The ConfigMap key of a custom metrics list, and where it is mounted.
const METRICS_FILE: &str = "dcgm-metrics.csv";
/// See [`METRICS_FILE`].
const METRICS_PATH: &str = "/etc/dcgm-exporter/dcgm-metrics.csv";
/// Where the workload manager writes its job files when `hpcJobMapping.directory` is unset.
const DEFAULT_JOB_MAPPING_DIR: &str = "/var/lib/dcgm-exporter/job-mapping";
/// The kubelet's root when `hostPaths.kubeletRootDir` is unset.
const DEFAULT_KUBELET_ROOT: &str = "/var/lib/kubelet";

#[derive(Serialize)]
struct View {
    op: Operand,
    managed_by: (&'static str, &'static str),
    container: &'static str,
    port: u16,
    env: Env,
    args: Vec<String>,
    host_pid: bool,
    /// The exporter reads pods (pod labels or UIDs on the metrics): it needs its token.
    read_pods: bool,
    read_pods_name: &'static str,
    /// The kubelet's pod-resources directory on the host.
    pod_resources_dir: String,
    /// The ConfigMap holding a custom metrics list.
    metrics_config: Option<String>,
    metrics_file: &'static str,
    metrics_path: &'static str,
    /// The host directory of the HPC job files.
    job_mapping_dir: Option<String>,
    service: ServiceView,
    monitor: MonitorView,
    scc: Scc,
}

#[derive(Serialize)]
struct ServiceView {
    internal_traffic_policy: &'static str,
    service_type: Option<&'static str>,
}

#[derive(Serialize)]
struct MonitorView {
    labels: BTreeMap<String, String>,
    interval: String,
    scrape_timeout: String,
    honor_labels: bool,
    relabelings: Vec<FreeForm>,
}

#[derive(Serialize)]
struct ConfigMapView<'a> {
    name: &'a str,
    namespace: &'a str,
    data: String,
    key: &'static str,
    managed_by: (&'static str, &'static str),
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    let exporter = &ctx.config.dcgm_exporter;
    metrics_config_map(ctx, exporter, out)?;
    if !exporter.enabled {
        return Ok(());
    }
    let metrics_config = exporter.config.as_ref().map(|c| c.name.clone()).filter(|n| !n.is_empty());
    let job_mapping_dir = exporter
        .hpc_job_mapping
        .as_ref()
        .filter(|m| m.enabled)
        .map(|m| m.directory.clone().filter(|d| !d.is_empty()).unwrap_or_else(|| DEFAULT_JOB_MAPPING_DIR.into()));
    let env = env(ctx, metrics_config.is_some(), job_mapping_dir.as_deref());
    // A host engine the user points at on `localhost` (DGX OS runs one on the host) is only
    // reachable from the host's network namespace: upstream switches the pod to it then.
    let local_engine = !ctx.config.dcgm.enabled
        && env.get("DCGM_REMOTE_HOSTENGINE_INFO").is_some_and(|engine| engine.starts_with("localhost"));
    let spec = Spec {
        name: NAME,
        component: "dcgm-exporter",
        service_account: NAME,
        repository: &exporter.repository,
        image: &exporter.image,
        version: &exporter.version,
        pull_policy: exporter.image_pull_policy,
        pull_secrets: exporter.image_pull_secrets.as_deref().unwrap_or_default(),
        resources: &exporter.resources,
        host_network: exporter.host_network || local_engine,
        runtime_class: true,
        annotations: &[("openshift.io/scc", NAME)],
    };
    let mut op = Operand::new(ctx, &spec);
    op.gpu_container(CONTAINER);
    op.pod_annotations.extend(exporter.annotations.clone());
    let kubelet_root =
        ctx.config.host_paths.kubelet_root_dir.as_deref().filter(|d| !d.is_empty()).unwrap_or(DEFAULT_KUBELET_ROOT);
    let read_pods = exporter.enable_pod_labels || exporter.enable_pod_uid;
    let view = View {
        op,
        managed_by: MANAGED_BY,
        container: CONTAINER,
        port: PORT,
        env,
        args: exporter.args.clone().unwrap_or_default(),
        host_pid: exporter.host_pid,
        read_pods,
        read_pods_name: READ_PODS,
        pod_resources_dir: format!("{}/pod-resources", kubelet_root.trim_end_matches('/')),
        metrics_config,
        metrics_file: METRICS_FILE,
        metrics_path: METRICS_PATH,
        job_mapping_dir,
        service: ServiceView {
            internal_traffic_policy: match exporter.service.internal_traffic_policy {
                InternalTrafficPolicy::Cluster => "Cluster",
                InternalTrafficPolicy::Local => "Local",
            },
            service_type: exporter.service.service_type.map(service_type),
        },
        monitor: monitor(exporter),
        scc: Scc::new(ctx, NAME, false, true),
    };
    let view = Shared::new(&view);
    for kind in ["serviceaccount", "role", "rolebinding"] {
        out.emit_shared(&format!("dcgm-exporter/{kind}.yaml"), &view)?;
    }
    if read_pods {
        out.emit_shared("dcgm-exporter/clusterrole.yaml", &view)?;
        out.emit_shared("dcgm-exporter/clusterrolebinding.yaml", &view)?;
    }
    out.emit_shared("dcgm-exporter/service.yaml", &view)?;
    if exporter.service_monitor.enabled {
        out.emit_shared("dcgm-exporter/servicemonitor.yaml", &view)?;
    }
    if ctx.config.platform.openshift {
        out.emit_shared("dcgm-exporter/scc.yaml", &view)?;
        out.emit_shared("dcgm-exporter/prometheusrule.yaml", &view)?;
    }
    out.emit_shared("dcgm-exporter/daemonset.yaml", &view)
}

/// The exporter's env: the asset's, then what the operator sets from the values, then the
/// user's `dcgmExporter.env` (applied last, as upstream, so it can override any of these).
fn env(ctx: &Context<'_>, custom_metrics: bool, job_mapping_dir: Option<&str>) -> Env {
    let exporter = &ctx.config.dcgm_exporter;
    let mut env = Env::new();
    env.set("DCGM_EXPORTER_LISTEN", format!(":{PORT}"))
        .set("DCGM_EXPORTER_KUBERNETES", "true")
        .set("DCGM_EXPORTER_COLLECTORS", DEFAULT_COLLECTORS)
        .field("NODE_NAME", "spec.nodeName");
    if ctx.config.dcgm.enabled {
        // The Service is node-local, so this reaches the engine on the exporter's own node,
        // also when the engine runs in the host's network namespace.
        env.set("DCGM_REMOTE_HOSTENGINE_INFO", format!("{}:{}", dcgm::NAME, dcgm::PORT));
    }
    if let Some(dir) = job_mapping_dir {
        env.set("DCGM_HPC_JOB_MAPPING_DIR", dir);
    }
    if custom_metrics {
        env.set("DCGM_EXPORTER_COLLECTORS", METRICS_PATH);
    }
    if exporter.enable_pod_labels {
        env.set("DCGM_EXPORTER_KUBERNETES_ENABLE_POD_LABELS", "true");
    }
    if exporter.enable_pod_uid {
        env.set("DCGM_EXPORTER_KUBERNETES_ENABLE_POD_UID", "true");
    }
    if let Some(regexes) = exporter.pod_label_allowlist_regex.as_ref().filter(|r| !r.is_empty()) {
        env.set("DCGM_EXPORTER_KUBERNETES_POD_LABEL_ALLOWLIST_REGEX", regexes.join(","));
    }
    env.apply(&exporter.env);
    env
}

fn service_type(t: ServiceType) -> &'static str {
    match t {
        ServiceType::ClusterIp => "ClusterIP",
        ServiceType::NodePort => "NodePort",
        ServiceType::LoadBalancer => "LoadBalancer",
        ServiceType::ExternalName => "ExternalName",
    }
}

/// The ServiceMonitor's settings: `additionalLabels` over the asset's `app` label (gpuplan's
/// own label is kept), empty durations left to Prometheus' global settings.
fn monitor(exporter: &DcgmExporter) -> MonitorView {
    let m = &exporter.service_monitor;
    let mut labels = BTreeMap::from([("app".to_owned(), NAME.to_owned())]);
    labels.extend(m.additional_labels.clone());
    labels.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    MonitorView {
        labels,
        interval: m.interval.clone(),
        scrape_timeout: m.scrape_timeout.clone(),
        honor_labels: m.honor_labels,
        relabelings: m.relabelings.clone(),
    }
}

/// The chart's ConfigMap with a custom metrics list: rendered when `config.create` and `data`
/// is not empty, whatever `enabled` says (it is a chart object, not an operand).
fn metrics_config_map(ctx: &Context<'_>, exporter: &DcgmExporter, out: &mut Out<'_>) -> Result<(), Error> {
    let Some(config) = exporter.config.as_ref().filter(|c| c.create) else { return Ok(()) };
    let Some(data) = config.data.as_deref().filter(|d| !d.is_empty()) else { return Ok(()) };
    let view = ConfigMapView {
        name: &config.name,
        namespace: ctx.namespace(),
        data: block_scalar(data),
        key: METRICS_FILE,
        managed_by: MANAGED_BY,
    };
    out.emit("dcgm-exporter/configmap.yaml", &view)
}

/// `data` as the chart's `|` block scalar reads back: trailing blank lines dropped, one final
/// newline.
fn block_scalar(data: &str) -> String {
    let mut lines: Vec<&str> = data.lines().collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::block_scalar;

    #[test]
    fn given_metrics_data_reads_back_as_a_clipped_block_scalar() {
        assert_eq!(block_scalar("a, gauge, x\nb, gauge, y"), "a, gauge, x\nb, gauge, y\n");
        assert_eq!(block_scalar("a, gauge, x\n\n  \n"), "a, gauge, x\n");
    }
}
