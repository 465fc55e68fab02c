//! Stage `dcgm`: the standalone DCGM host engine (`nv-hostengine`), which the DCGM exporter and
//! other DCGM clients on the node share instead of each embedding an engine.
//!
//! Input: `dcgm.*`, `daemonsets.*`, `cdi.*`, the validator image, `platform.openshift`.
//! Output, only when `dcgm.enabled` (default off, as upstream's state `state-dcgm`):
//! ServiceAccount, Role and RoleBinding `nvidia-dcgm`, the DaemonSet `nvidia-dcgm` and the
//! Service `nvidia-dcgm` in front of the engine's port 5555 (node-local traffic only); on
//! OpenShift also the SecurityContextConstraints `nvidia-dcgm`. The pod waits in its
//! `toolkit-validation` init container until the container stack is validated on the node, then
//! runs the engine with the NVIDIA RuntimeClass (so it sees the GPUs), in the host's network
//! namespace when `dcgm.hostNetwork` is set.

use serde::Serialize;

use super::operand::{Env, MANAGED_BY, Operand, Spec};
use super::{Context, Out, Shared};
use crate::error::Error;

/// The DaemonSet's, Service's and ServiceAccount's name.
pub const NAME: &str = "nvidia-dcgm";
/// The port the host engine listens on (upstream's `DCGMDefaultPort`).
pub const PORT: u16 = 5555;
/// The engine container, which gets the GPUs.
const CONTAINER: &str = "nvidia-dcgm-ctr";

#[derive(Serialize)]
struct View {
    op: Operand,
    managed_by: (&'static str, &'static str),
    container: &'static str,
    env: Env,
    args: Vec<String>,
    port: u16,
    scc: Scc,
}

/// The OpenShift SecurityContextConstraints of a monitoring operand: upstream's privileged SCC,
/// named after the operand, with the operand's ServiceAccount as its only user (the operator
/// fills in `users` that way). The dcgm, dcgm-exporter and node-status-exporter SCCs differ only
/// in whether they allow the host network and host ports.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Scc {
    name: &'static str,
    user: String,
    allow_host_network: bool,
    allow_host_ports: bool,
}

impl Scc {
    /// The SCC `name` for the ServiceAccount of the same name.
    pub(super) fn new(ctx: &Context<'_>, name: &'static str, allow_host_network: bool, allow_host_ports: bool) -> Scc {
        Scc {
            name,
            user: format!("system:serviceaccount:{}:{name}", ctx.namespace()),
            allow_host_network,
            allow_host_ports,
        }
    }
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    let dcgm = &ctx.config.dcgm;
    if !dcgm.enabled {
        return Ok(());
    }
    let spec = Spec {
        name: NAME,
        component: "dcgm",
        service_account: NAME,
        repository: &dcgm.repository,
        image: &dcgm.image,
        version: &dcgm.version,
        pull_policy: dcgm.image_pull_policy,
        pull_secrets: dcgm.image_pull_secrets.as_deref().unwrap_or_default(),
        resources: &dcgm.resources,
        host_network: dcgm.host_network,
        runtime_class: true,
        annotations: &[("openshift.io/scc", "hostmount-anyuid")],
    };
    let mut op = Operand::new(ctx, &spec);
    op.gpu_container(CONTAINER);
    // The asset's container has no env of its own: the user's list is all of it.
    let mut env = Env::new();
    env.apply(&dcgm.env);
    let view = View {
        op,
        managed_by: MANAGED_BY,
        container: CONTAINER,
        env,
        args: dcgm.args.clone(),
        port: PORT,
        scc: Scc::new(ctx, NAME, true, true),
    };
    let view = Shared::new(&view);
    for kind in ["serviceaccount", "role", "rolebinding"] {
        out.emit_shared(&format!("dcgm/{kind}.yaml"), &view)?;
    }
    if ctx.config.platform.openshift {
        out.emit_shared("dcgm/scc.yaml", &view)?;
    }
    out.emit_shared("dcgm/daemonset.yaml", &view)?;
    out.emit_shared("dcgm/service.yaml", &view)
}
