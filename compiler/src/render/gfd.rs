//! Stage `gpu-feature-discovery`: GPU feature discovery, which labels every GPU node with its
//! GPUs' properties (`nvidia.com/gpu.product`, `nvidia.com/gpu.memory`, `nvidia.com/mig.capable`,
//! `nvidia.com/mps.capable`, ...) through NFD's feature files.
//!
//! Input: `gfd.*`, `mig.strategy`, the device plugin configuration (`devicePlugin.config`, which
//! GFD reads too) and the shared DaemonSet settings. Output: ServiceAccount, Role, ClusterRole and
//! their bindings `nvidia-gpu-feature-discovery`, the DaemonSet `gpu-feature-discovery` on nodes
//! labelled `nvidia.com/gpu.deploy.gpu-feature-discovery=true`, and on OpenShift its
//! SecurityContextConstraints.

use serde::Serialize;

use super::device_plugin::{ConfigManager, config_manager, mig_env};
use super::operand::{Env, MANAGED_BY, Operand, Spec};
use super::{Context, Out, Shared};
use crate::error::Error;

/// The DaemonSet's name.
const NAME: &str = "gpu-feature-discovery";
/// Its ServiceAccount, Roles, bindings and SCC.
const SERVICE_ACCOUNT: &str = "nvidia-gpu-feature-discovery";
/// The upstream asset's second selector label, which `daemonsets.labels` may not override.
const PART_OF: (&str, &str) = ("app.kubernetes.io/part-of", "nvidia-gpu");

#[derive(Serialize)]
struct View {
    op: Operand,
    managed_by: (&'static str, &'static str),
    args: Option<Vec<String>>,
    env: Env,
    config_manager: Option<ConfigManager>,
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    let config = ctx.config;
    let gfd = &config.gfd;
    if !gfd.enabled {
        return Ok(());
    }
    let spec = Spec {
        name: NAME,
        component: "gpu-feature-discovery",
        service_account: SERVICE_ACCOUNT,
        repository: &gfd.repository,
        image: &gfd.image,
        version: &gfd.version,
        pull_policy: gfd.image_pull_policy,
        pull_secrets: &gfd.image_pull_secrets,
        resources: &gfd.resources,
        host_network: gfd.host_network,
        runtime_class: true,
        annotations: &[],
    };
    let mut op = Operand::new(ctx, &spec);
    op.gpu_container(NAME);
    for labels in [&mut op.labels, &mut op.pod_labels, &mut op.selector] {
        labels.insert(PART_OF.0.into(), PART_OF.1.into());
    }
    let config_manager = config_manager(ctx, NAME, false);
    // The operator's order: the asset's env, `gfd.env`, then the config file and MIG settings,
    // which therefore win over a user entry of the same name.
    let mut env = Env::new();
    env.set("GFD_SLEEP_INTERVAL", "60s")
        .set("GFD_FAIL_ON_INIT_ERROR", "true")
        .field("NAMESPACE", "metadata.namespace")
        .field("NODE_NAME", "spec.nodeName")
        .field("POD_NAME", "metadata.name")
        .apply(&gfd.env);
    if config_manager.is_some() {
        env.set("CONFIG_FILE", "/config/config.yaml");
    }
    mig_env(&mut env, config.mig.strategy);
    let view =
        View { op, managed_by: MANAGED_BY, args: gfd.args.clone().filter(|a| !a.is_empty()), env, config_manager };
    let view = Shared::new(&view);
    out.emit_shared("gpu-feature-discovery/rbac.yaml", &view)?;
    if config.platform.openshift {
        out.emit_shared("gpu-feature-discovery/scc.yaml", &view)?;
    }
    out.emit_shared("gpu-feature-discovery/daemonset.yaml", &view)
}
