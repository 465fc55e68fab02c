//! Stage `mig-manager`: the MIG manager, which repartitions a node's GPUs into MIG devices when
//! the node's `nvidia.com/mig.config` label changes, stopping the GPU clients around it.
//!
//! Input: `migManager.*`, `cdi.*`, `toolkit.installDir`, `hostPaths`, the shared DaemonSet
//! settings. Output: ServiceAccount, Role, ClusterRole and their bindings `nvidia-mig-manager`;
//! the ConfigMaps `default-mig-parted-config` (the built-in MIG layouts, unless
//! `migManager.config.name` names others), `default-gpu-clients` (the host services to stop,
//! unless `migManager.gpuClientsConfig.name` names others) and `nvidia-mig-manager-entrypoint`;
//! the DaemonSet `nvidia-mig-manager` on nodes labelled `nvidia.com/gpu.deploy.mig-manager=true`
//! (which the operator gives MIG-capable nodes only); with `migManager.config.create` the
//! ConfigMap of custom layouts the chart creates; on OpenShift the SecurityContextConstraints.
//!
//! Without a custom ConfigMap the MIG manager derives the layouts from each node's hardware and
//! falls back to the built-in ones (mounted as `config-default.yaml`, named by
//! `DEFAULT_CONFIG_FILE`); with one it uses exactly its `config.yaml` (`CONFIG_FILE`).
//! `migManager.config.default` is not part of these objects: the operator applies it as the
//! `nvidia.com/mig.config` label of MIG-capable nodes that have none.

mod layouts;

use serde::Serialize;

use super::Rule;
use super::device_plugin::{CDI_HOOK_RULE, host_root_env, join};
use super::operand::{Env, MANAGED_BY, Operand, Spec};
use super::{Context, Out, Shared};
use crate::config::kube::StringMap;
use crate::error::Error;
use layouts::Layout;

/// How this stage transforms values on their way into its objects, for `gpuplan explain`.
pub const RULES: &[Rule] = &[Rule {
    stage: "mig-manager",
    kind: "DaemonSet",
    field: "spec.template.spec.containers[*].env[name=NVIDIA_CDI_HOOK_PATH].value",
    text: CDI_HOOK_RULE,
}];

/// The DaemonSet's name (also its ServiceAccount, Roles, bindings and SCC).
const NAME: &str = "nvidia-mig-manager";
/// The ConfigMap of built-in MIG layouts.
const DEFAULT_LAYOUTS: &str = "default-mig-parted-config";
/// The ConfigMap of built-in GPU clients.
const DEFAULT_CLIENTS: &str = "default-gpu-clients";

#[derive(Serialize)]
struct View<'a> {
    op: Operand,
    managed_by: (&'static str, &'static str),
    args: Vec<String>,
    env: Env,
    /// Env of the validation init container: `HOST_ROOT` when the host root is not `/`.
    host_root_env: Env,
    /// The ConfigMap mounted at `/mig-parted-config`.
    layouts_config_map: &'a str,
    /// For the built-in layouts, the file name they are mounted as.
    layouts_file: Option<&'static str>,
    /// The ConfigMap mounted at `/gpu-clients`.
    clients_config_map: &'a str,
    /// The built-in layouts, for `default-mig-parted-config`.
    layouts: Vec<Layout>,
    /// The built-in GPU clients, for `default-gpu-clients`.
    gpu_clients: &'static [&'static str],
    /// `migManager.config.data`, for the chart's custom ConfigMap.
    data: &'a StringMap,
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    let config = ctx.config;
    let mig = &config.mig_manager;
    if !mig.enabled {
        return Ok(());
    }
    let spec = Spec {
        name: NAME,
        component: "mig-manager",
        service_account: NAME,
        repository: &mig.repository,
        image: &mig.image,
        version: &mig.version,
        pull_policy: mig.image_pull_policy,
        pull_secrets: &mig.image_pull_secrets,
        resources: &mig.resources,
        host_network: mig.host_network,
        runtime_class: true,
        annotations: &[],
    };
    let mut op = Operand::new(ctx, &spec);
    op.gpu_container(NAME);
    let custom_layouts = custom(&mig.config.name, DEFAULT_LAYOUTS);
    let custom_clients = custom(&mig.gpu_clients_config.name, DEFAULT_CLIENTS);

    let host_root_env = host_root_env(ctx);
    // The operator's order: the asset's env, `HOST_ROOT`, the layouts file, CDI, then
    // `migManager.env` (which therefore overrides any of them).
    let mut env = Env::new();
    env.field("NODE_NAME", "spec.nodeName")
        .field("POD_NAME", "metadata.name")
        .field("POD_NAMESPACE", "metadata.namespace")
        .set("GPU_CLIENTS_FILE", "/gpu-clients/clients.yaml")
        // GPU client pods (device plugin, GFD, DCGM, ...) to stop are looked up here.
        .field("DEFAULT_GPU_CLIENTS_NAMESPACE", "metadata.namespace");
    env.0.extend(host_root_env.0.iter().cloned());
    match custom_layouts {
        Some(_) => env.set("CONFIG_FILE", "/mig-parted-config/config.yaml"),
        None => env.set("DEFAULT_CONFIG_FILE", "/mig-parted-config/config-default.yaml"),
    };
    if config.cdi.enabled {
        // After repartitioning, the manager regenerates the CDI spec for the new devices.
        env.set("CDI_ENABLED", "true");
        if config.toolkit.enabled {
            env.set("NVIDIA_CDI_HOOK_PATH", join(&config.toolkit.install_dir, "toolkit/nvidia-cdi-hook"));
        }
    }
    env.apply(&mig.env);

    let view = View {
        op,
        managed_by: MANAGED_BY,
        args: mig.args.clone().filter(|a| !a.is_empty()).unwrap_or_else(|| vec!["/bin/entrypoint.sh".into()]),
        env,
        host_root_env,
        layouts_config_map: custom_layouts.unwrap_or(DEFAULT_LAYOUTS),
        layouts_file: custom_layouts.is_none().then_some("config-default.yaml"),
        clients_config_map: custom_clients.unwrap_or(DEFAULT_CLIENTS),
        layouts: layouts::layouts(),
        gpu_clients: layouts::GPU_CLIENTS,
        data: &mig.config.data,
    };
    let view = Shared::new(&view);
    out.emit_shared("mig-manager/rbac.yaml", &view)?;
    if config.platform.openshift {
        out.emit_shared("mig-manager/scc.yaml", &view)?;
    }
    // The operator does not create a built-in ConfigMap that a custom one replaces.
    if custom_layouts.is_none() {
        out.emit_shared("mig-manager/default-layouts.yaml", &view)?;
    }
    if custom_clients.is_none() {
        out.emit_shared("mig-manager/default-gpu-clients.yaml", &view)?;
    }
    // The chart's mig_config.yaml: only with `create`, a name and some data.
    if mig.config.create && custom_layouts.is_some() && !mig.config.data.is_empty() {
        out.emit_shared("mig-manager/custom-layouts.yaml", &view)?;
    }
    out.emit_shared("mig-manager/configmap.yaml", &view)?;
    out.emit_shared("mig-manager/daemonset.yaml", &view)
}

/// A ConfigMap name that replaces the built-in `default` one (upstream's `GetConfigMapName`):
/// set, and not the built-in name itself.
fn custom<'a>(name: &'a str, default: &str) -> Option<&'a str> {
    (!name.is_empty() && name != default).then_some(name)
}
