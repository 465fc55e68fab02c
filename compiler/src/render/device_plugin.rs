//! Stage `device-plugin`: the device plugin that advertises `nvidia.com/gpu` to the kubelet, and
//! the MPS control daemon that lets pods share a GPU through CUDA MPS (upstream's
//! `state-device-plugin` and `state-mps-control-daemon`, both enabled by `devicePlugin.enabled`).
//!
//! Input: `devicePlugin.*`, `mig.strategy`, `cdi.*`, `toolkit.installDir`, `gds`/`gdrcopy`, the
//! shared DaemonSet settings. Output: ServiceAccount, Role, ClusterRole and their bindings for
//! `nvidia-device-plugin` and `nvidia-device-plugin-mps-control-daemon`; the entrypoint ConfigMap
//! `nvidia-device-plugin-entrypoint`; the DaemonSets `nvidia-device-plugin-daemonset` and
//! `nvidia-device-plugin-mps-control-daemon` (the latter only on nodes labelled
//! `nvidia.com/mps.capable=true`); and, with `devicePlugin.config.create`, the ConfigMap of
//! plugin configuration files the chart creates.
//!
//! With `devicePlugin.config.name` set, the plugin, the MPS daemon and GPU feature discovery
//! each get a config manager (an init container and a sidecar) that copies the file a node's
//! `nvidia.com/device-plugin.config` label names into `/config/config.yaml`; without it they run
//! with their built-in settings. [`config_manager`] and [`mig_env`] are shared with the `gfd`
//! stage, which reads the same configuration.

use serde::Serialize;

use super::Rule;
use super::operand::{Env, MANAGED_BY, Operand, Spec};
use super::{Context, Out, Shared};
use crate::config::cluster::MigStrategy;
use crate::config::kube::StringMap;
use crate::error::Error;

/// How `NVIDIA_CDI_HOOK_PATH` is made from `toolkit.installDir` (here and in the MIG manager).
pub(super) const CDI_HOOK_RULE: &str = "`<toolkit.installDir>/toolkit/nvidia-cdi-hook` (trailing `/` of \
    the install directory dropped), set when CDI and the toolkit are enabled.";

/// How this stage transforms values on their way into its objects, for `gpuplan explain`.
pub const RULES: &[Rule] = &[Rule {
    stage: "device-plugin",
    kind: "DaemonSet",
    field: "spec.template.spec.containers[*].env[name=NVIDIA_CDI_HOOK_PATH].value",
    text: CDI_HOOK_RULE,
}];

/// The device plugin DaemonSet.
const PLUGIN: &str = "nvidia-device-plugin-daemonset";
/// The MPS control daemon DaemonSet (and its ServiceAccount).
const MPS: &str = "nvidia-device-plugin-mps-control-daemon";
/// The device plugin's ServiceAccount. Upstream runs the MPS daemon under it too; the MPS
/// daemon's own account is created but unused.
const SERVICE_ACCOUNT: &str = "nvidia-device-plugin";
/// The MPS root the upstream assets mount.
const DEFAULT_MPS_ROOT: &str = "/run/nvidia/mps";
/// Where the config manager writes the selected configuration file.
const CONFIG_FILE: &str = "/config/config.yaml";

/// The config manager's containers for one pod, when a plugin configuration is named.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ConfigManager {
    /// The ConfigMap with the configuration files (also the name of its volume, as upstream).
    name: String,
    /// The device plugin image, which ships `config-manager`.
    image: String,
    /// The device plugin's pull policy.
    pull_policy: String,
    /// Env of `config-manager-init` (selects the file once, before the main container).
    init_env: Env,
    /// Env of the `config-manager` sidecar (follows the node label, signals the main process).
    sidecar_env: Env,
}

#[derive(Serialize)]
struct PluginView {
    op: Operand,
    managed_by: (&'static str, &'static str),
    args: Vec<String>,
    env: Env,
    /// Env every other container gets: `HOST_ROOT` when the host root is not `/`.
    host_root_env: Env,
    config_manager: Option<ConfigManager>,
    mps_root: String,
    mps_shm: String,
}

#[derive(Serialize)]
struct MpsView {
    op: Operand,
    env: Env,
    config_manager: Option<ConfigManager>,
    mps_root: String,
    mps_shm: String,
}

#[derive(Serialize)]
struct RbacView<'a> {
    namespace: &'a str,
    accounts: [&'static str; 2],
    managed_by: (&'static str, &'static str),
}

#[derive(Serialize)]
struct PluginConfigView<'a> {
    name: &'a str,
    namespace: &'a str,
    data: &'a StringMap,
    managed_by: (&'static str, &'static str),
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    let config = ctx.config;
    let plugin = &config.device_plugin;
    if !plugin.enabled {
        return Ok(());
    }
    let namespace = ctx.namespace();
    out.emit(
        "device-plugin/rbac.yaml",
        &RbacView { namespace, accounts: [SERVICE_ACCOUNT, MPS], managed_by: MANAGED_BY },
    )?;
    let files = &plugin.config;
    // The chart's plugin_config.yaml: only with `create`, a name and at least one file.
    if files.create && !files.name.is_empty() && !files.data.is_empty() {
        out.emit(
            "device-plugin/plugin-config.yaml",
            &PluginConfigView { name: &files.name, namespace, data: &files.data, managed_by: MANAGED_BY },
        )?;
    }
    let mps_root = plugin.mps.root.clone();
    let mps_shm = join(&mps_root, "shm");

    let mut op = Operand::new(ctx, &spec(ctx, PLUGIN));
    op.gpu_container("nvidia-device-plugin");
    let view = PluginView {
        args: if plugin.args.is_empty() { vec!["/bin/entrypoint.sh".into()] } else { plugin.args.clone() },
        env: plugin_env(ctx),
        host_root_env: host_root_env(ctx),
        config_manager: config_manager(ctx, "nvidia-device-plugin", true),
        mps_root: mps_root.clone(),
        mps_shm: mps_shm.clone(),
        managed_by: MANAGED_BY,
        op,
    };
    let view = Shared::new(&view);
    out.emit_shared("device-plugin/configmap.yaml", &view)?;
    out.emit_shared("device-plugin/daemonset.yaml", &view)?;

    let mut op = Operand::new(ctx, &spec(ctx, MPS));
    op.gpu_container("mps-control-daemon-ctr");
    // Besides the device plugin's label, the daemon only runs where GFD found MPS support.
    op.node_selector.insert("nvidia.com/mps.capable".into(), "true".into());
    let mut env = Env::new();
    env.field("NODE_NAME", "spec.nodeName")
        .set("NVIDIA_VISIBLE_DEVICES", "all")
        .set("NVIDIA_DRIVER_CAPABILITIES", "compute,utility");
    if files_named(ctx) {
        env.set("CONFIG_FILE", CONFIG_FILE);
    }
    mig_env(&mut env, config.mig.strategy);
    let view = MpsView {
        op,
        env,
        // The pod shares the host's PID namespace, so the sidecar can signal the daemon by path.
        config_manager: config_manager(ctx, "/usr/bin/mps-control-daemon", false),
        mps_root,
        mps_shm,
    };
    out.emit("device-plugin/mps-daemonset.yaml", &view)
}

/// The operand settings of both DaemonSets: the MPS daemon runs the device plugin's image, with
/// its pull settings, resources and host network.
fn spec<'a>(ctx: &'a Context<'_>, name: &'a str) -> Spec<'a> {
    let plugin = &ctx.config.device_plugin;
    Spec {
        name,
        component: "device-plugin",
        service_account: SERVICE_ACCOUNT,
        repository: &plugin.repository,
        image: &plugin.image,
        version: &plugin.version,
        pull_policy: plugin.image_pull_policy,
        pull_secrets: &plugin.image_pull_secrets,
        resources: &plugin.resources,
        host_network: plugin.host_network,
        runtime_class: true,
        annotations: &[("openshift.io/scc", "hostmount-anyuid")],
    }
}

/// The plugin container's env, in the operator's order: the asset's, `HOST_ROOT`, the GDS and
/// GDRCopy device switches, the config file, MIG, CDI, the MPS root, then `devicePlugin.env`
/// (which therefore overrides any of them).
fn plugin_env(ctx: &Context<'_>) -> Env {
    let config = ctx.config;
    let mut env = Env::new();
    env.set("PASS_DEVICE_SPECS", "true")
        .set("FAIL_ON_INIT_ERROR", "true")
        .set("DEVICE_LIST_STRATEGY", "envvar")
        .set("DEVICE_ID_STRATEGY", "uuid")
        .set("NVIDIA_VISIBLE_DEVICES", "all")
        .set("NVIDIA_DRIVER_CAPABILITIES", "all")
        .set("MPS_ROOT", DEFAULT_MPS_ROOT);
    env.0.extend(host_root_env(ctx).0);
    if config.gds.enabled {
        // Hands /dev/nvidia-fs* and the InfiniBand devices to GPU containers.
        env.set("GDS_ENABLED", "true").set("MOFED_ENABLED", "true");
    }
    if config.gdrcopy.enabled {
        env.set("GDRCOPY_ENABLED", "true");
    }
    if files_named(ctx) {
        env.set("CONFIG_FILE", CONFIG_FILE);
    }
    mig_env(&mut env, config.mig.strategy);
    if config.cdi.enabled {
        env.set("CDI_ENABLED", "true")
            .set("DEVICE_LIST_STRATEGY", "cdi-annotations,cdi-cri")
            .set("CDI_ANNOTATION_PREFIX", "cdi.k8s.io/");
        if config.toolkit.enabled {
            env.set("NVIDIA_CDI_HOOK_PATH", join(&config.toolkit.install_dir, "toolkit/nvidia-cdi-hook"));
        }
    }
    env.set("MPS_ROOT", &config.device_plugin.mps.root);
    env.apply(&config.device_plugin.env);
    env
}

/// `HOST_ROOT` for every container of a pod that mounts the host's root, when it is not `/`
/// (the operator's host-root transform).
pub(super) fn host_root_env(ctx: &Context<'_>) -> Env {
    let mut env = Env::new();
    let root = &ctx.config.host_paths.root_fs;
    if !root.is_empty() && root != "/" {
        env.set("HOST_ROOT", root);
    }
    env
}

/// Whether a plugin configuration ConfigMap is named (upstream's `isCustomPluginConfigSet`).
fn files_named(ctx: &Context<'_>) -> bool {
    !ctx.config.device_plugin.config.name.is_empty()
}

/// The MIG env of a GPU container: `MIG_STRATEGY`, and with MIG devices exposed, monitoring of
/// every device's MIG events.
pub(super) fn mig_env(env: &mut Env, strategy: MigStrategy) {
    let name = match strategy {
        MigStrategy::None => "none",
        MigStrategy::Single => "single",
        MigStrategy::Mixed => "mixed",
    };
    env.set("MIG_STRATEGY", name);
    if strategy != MigStrategy::None {
        env.set("NVIDIA_MIG_MONITOR_DEVICES", "all");
    }
}

/// The config manager containers, when `devicePlugin.config.name` is set: both run the device
/// plugin's image; the sidecar sends SIGHUP to `process` when the node's label changes.
/// `host_root` adds `HOST_ROOT`, as the operator does in pods that mount the host's root.
pub(super) fn config_manager(ctx: &Context<'_>, process: &str, host_root: bool) -> Option<ConfigManager> {
    let plugin = &ctx.config.device_plugin;
    if !files_named(ctx) {
        return None;
    }
    let env = |oneshot: bool| {
        let mut env = Env::new();
        env.set("ONESHOT", oneshot.to_string())
            .set("KUBECONFIG", "")
            .field("NODE_NAME", "spec.nodeName")
            .set("NODE_LABEL", "nvidia.com/device-plugin.config")
            .set("CONFIG_FILE_SRCDIR", "/available-configs")
            .set("CONFIG_FILE_DST", CONFIG_FILE)
            .set("DEFAULT_CONFIG", &plugin.config.default)
            .set("SEND_SIGNAL", (!oneshot).to_string())
            .set("SIGNAL", if oneshot { "" } else { "1" })
            .set("PROCESS_TO_SIGNAL", if oneshot { "" } else { process });
        if host_root {
            env.0.extend(host_root_env(ctx).0);
        }
        // No usable file for the node: start from an empty configuration instead of failing.
        env.set("FALLBACK_STRATEGIES", "empty");
        env
    };
    Some(ConfigManager {
        name: plugin.config.name.clone(),
        image: super::image::reference(&plugin.repository, &plugin.image, &plugin.version),
        pull_policy: super::operand::pull_policy(plugin.image_pull_policy).into(),
        init_env: env(true),
        sidecar_env: env(false),
    })
}

/// `dir/name`, as Go's `filepath.Join` writes it for an absolute `dir`.
pub(super) fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}
