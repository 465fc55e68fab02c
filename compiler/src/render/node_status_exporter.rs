//! Stage `node-status-exporter`: the operator validator's per-node results (driver, toolkit,
//! CUDA and device plugin ready or not) as Prometheus metrics on port 8000.
//!
//! Input: `nodeStatusExporter.*`, `hostPaths.rootFS`, `daemonsets.*`, `platform.openshift`.
//! Output, only when `nodeStatusExporter.enabled` (default off, as upstream's state
//! `state-node-status-exporter`): ServiceAccount, Role and RoleBinding, ClusterRole and
//! ClusterRoleBinding (reading nodes) `nvidia-node-status-exporter`, its Service and
//! ServiceMonitor, and the DaemonSet `nvidia-node-status-exporter`, which runs
//! `nvidia-validator` in its `metrics` mode from NVIDIA's operator image, as root, reading the
//! validation marker files under `/run/nvidia`. On OpenShift also its SecurityContextConstraints
//! and the `GPUOperatorNodeDeployment*` alerts. No RuntimeClass: it needs no GPU
//! (`NVIDIA_VISIBLE_DEVICES=void`), and upstream does not set one.

use serde::Serialize;

use super::dcgm::Scc;
use super::operand::{Env, MANAGED_BY, Operand, Spec};
use super::{Context, Out, Shared};
use crate::error::Error;

/// The name of the DaemonSet, its ServiceAccount, RBAC, Service and ServiceMonitor.
pub const NAME: &str = "nvidia-node-status-exporter";
/// The metrics port.
const PORT: u16 = 8000;

#[derive(Serialize)]
struct View {
    op: Operand,
    managed_by: (&'static str, &'static str),
    port: u16,
    env: Env,
    args: Vec<String>,
    scc: Scc,
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    let exporter = &ctx.config.node_status_exporter;
    if !exporter.enabled {
        return Ok(());
    }
    let spec = Spec {
        name: NAME,
        component: "node-status-exporter",
        service_account: NAME,
        repository: &exporter.repository,
        image: &exporter.image,
        version: &exporter.version,
        pull_policy: exporter.image_pull_policy,
        pull_secrets: &exporter.image_pull_secrets,
        resources: &exporter.resources,
        host_network: exporter.host_network,
        runtime_class: false,
        annotations: &[("openshift.io/scc", NAME)],
    };
    let op = Operand::new(ctx, &spec);
    let mut env = Env::new();
    env.set("NVIDIA_VISIBLE_DEVICES", "void")
        .set("COMPONENT", "metrics")
        .set("METRICS_PORT", PORT.to_string())
        .field("NODE_NAME", "spec.nodeName")
        .field("OPERATOR_NAMESPACE", "metadata.namespace")
        .apply(exporter.env.as_deref().unwrap_or_default());
    let view = View {
        op,
        managed_by: MANAGED_BY,
        port: PORT,
        env,
        args: exporter.args.clone().unwrap_or_default(),
        scc: Scc::new(ctx, NAME, false, false),
    };
    let view = Shared::new(&view);
    for kind in ["serviceaccount", "role", "rolebinding", "clusterrole", "clusterrolebinding", "service"] {
        out.emit_shared(&format!("node-status-exporter/{kind}.yaml"), &view)?;
    }
    out.emit_shared("node-status-exporter/servicemonitor.yaml", &view)?;
    if ctx.config.platform.openshift {
        out.emit_shared("node-status-exporter/scc.yaml", &view)?;
        out.emit_shared("node-status-exporter/prometheusrule.yaml", &view)?;
    }
    out.emit_shared("node-status-exporter/daemonset.yaml", &view)
}
