//! Stage `container-toolkit`: NVIDIA's toolkit installed on every GPU node, and gpuplan's node
//! agent keeping the node's container runtime configured.
//!
//! Input: `toolkit.*`, the [`NodeRuntime`], `cdi.*`, the validator and operator images.
//! Output: ServiceAccount, Role, RoleBinding, the install script ConfigMap and the DaemonSet
//! `nvidia-container-toolkit-daemonset`, whose pod runs
//! - `driver-validation` (the validator image): waits until the driver is ready, as upstream;
//! - `toolkit-install` (NVIDIA's toolkit image): installs the runtime binaries into
//!   `toolkit.installDir` and the CDI spec, then exits (`NO_RUNTIME_CONFIG`, `NO_DAEMON`);
//! - `node-agent` (gpuplan's image): `gpuplan node-agent` with the resolved env contract, and
//!   the host directories of the runtime's config, drop-in and socket mounted where upstream
//!   mounts them (`/runtime/config-dir/`, `/runtime/config-dir.d/`, `/runtime/sock-dir/`), the
//!   env rewritten to those container paths.
//!
//! In NRI plugin mode the runtime config is not touched: the main container is NVIDIA's
//! toolkit running its NRI plugin, as upstream.

use serde::Serialize;
use serde_json::{Value as J, json};

use super::Rule;
use super::image::reference;
use super::operand::{Env, MANAGED_BY, Operand, Spec, pull_policy, update_strategy};
use super::{Context, Out, VERSION};
use crate::error::Error;
use crate::node::runtime::{CrioMode, RESTART_TIMEOUT_SECONDS};
use crate::node::{NodeRuntime, RestartMode, RuntimeKind};

/// The DaemonSet's name.
pub const NAME: &str = "nvidia-container-toolkit-daemonset";
/// Where the host's root is mounted in the pod.
const HOST_ROOT: &str = "/host";
/// The lock the installer and the agent take on the node.
const PID_FILE: &str = "/run/nvidia/toolkit/toolkit.pid";
/// Where the runtime's config directory, drop-in directory and socket directory are mounted.
pub const CONFIG_DIR: &str = "/runtime/config-dir";
/// See [`CONFIG_DIR`].
pub const DROP_IN_DIR: &str = "/runtime/config-dir.d";
/// See [`CONFIG_DIR`].
pub const SOCKET_DIR: &str = "/runtime/sock-dir";
/// Where the CRI-O hooks directory is mounted.
const HOOKS_DIR: &str = "/runtime/hooks.d";

/// The rewrite of the runtime socket (see [`agent_env`] and [`runtime_mounts`]).
const SOCKET_RULE: &str = "socket directory mounted at /runtime/sock-dir, env rewritten: the host \
    directory of the runtime socket (its path up to the last `/`) is mounted into the node-agent \
    container at /runtime/sock-dir (volume `<runtime>-socket`), and RUNTIME_SOCKET and \
    <RUNTIME>_SOCKET are set to /runtime/sock-dir/<the socket's file name, after the last `/`>. \
    The socket is the first of RUNTIME_SOCKET, CONTAINERD_SOCKET, DOCKER_SOCKET set in \
    toolkit.env, else the runtime's default.";
/// The rewrite of the runtime's config file.
const CONFIG_RULE: &str = "config directory mounted at /runtime/config-dir, env rewritten: the host \
    directory of the runtime's config file (its path up to the last `/`) is mounted into the \
    node-agent container at /runtime/config-dir (volume `<runtime>-config`), and RUNTIME_CONFIG \
    and <RUNTIME>_CONFIG are set to /runtime/config-dir/<the file's name, after the last `/`>.";
/// The rewrite of the drop-in file.
const DROP_IN_RULE: &str = "drop-in directory mounted at /runtime/config-dir.d, env rewritten: the \
    host directory of the drop-in file is mounted into the node-agent container at \
    /runtime/config-dir.d (volume `<runtime>-drop-in-config`), and RUNTIME_DROP_IN_CONFIG is set \
    to /runtime/config-dir.d/<the file's name>; RUNTIME_DROP_IN_CONFIG_HOST_PATH keeps the host \
    path for the `imports` line.";

/// How this stage transforms values on their way into its objects, for `gpuplan explain`.
pub const RULES: &[Rule] = &[
    Rule { stage: "container-toolkit", kind: "DaemonSet", field: AGENT_RUNTIME_SOCKET, text: SOCKET_RULE },
    Rule { stage: "container-toolkit", kind: "DaemonSet", field: AGENT_CONTAINERD_SOCKET, text: SOCKET_RULE },
    Rule { stage: "container-toolkit", kind: "DaemonSet", field: AGENT_DOCKER_SOCKET, text: SOCKET_RULE },
    Rule { stage: "container-toolkit", kind: "DaemonSet", field: SOCKET_VOLUME, text: SOCKET_RULE },
    Rule { stage: "container-toolkit", kind: "DaemonSet", field: AGENT_DROP_IN, text: DROP_IN_RULE },
    Rule { stage: "container-toolkit", kind: "DaemonSet", field: DROP_IN_VOLUME, text: DROP_IN_RULE },
    Rule { stage: "container-toolkit", kind: "DaemonSet", field: AGENT_RUNTIME_CONFIG, text: CONFIG_RULE },
    Rule { stage: "container-toolkit", kind: "DaemonSet", field: AGENT_CONTAINERD_CONFIG, text: CONFIG_RULE },
    Rule { stage: "container-toolkit", kind: "DaemonSet", field: AGENT_CRIO_CONFIG, text: CONFIG_RULE },
    Rule { stage: "container-toolkit", kind: "DaemonSet", field: AGENT_DOCKER_CONFIG, text: CONFIG_RULE },
    Rule { stage: "container-toolkit", kind: "DaemonSet", field: CONFIG_VOLUME, text: CONFIG_RULE },
    Rule {
        stage: "container-toolkit",
        kind: "DaemonSet",
        field: "spec.template.spec.containers[name=node-agent].env[name=RUNTIME_CONFIG_SOURCE].value",
        text: "config source rewritten to the pod's view: `file=/runtime/config-dir/<file name>` when the \
            source file sits in the config file's host directory (already mounted), else \
            `file=/host<host path>` (the host root is mounted at /host).",
    },
    Rule {
        stage: "container-toolkit",
        kind: "DaemonSet",
        field: "spec.template.spec.containers[name=node-agent].env\
            [name=NVIDIA_CONTAINER_RUNTIME_MODES_CDI_ANNOTATION_PREFIXES].value",
        text: "the comma-separated annotation prefixes, each trimmed, empty ones dropped, joined with `,`.",
    },
];

const AGENT_RUNTIME_SOCKET: &str = "spec.template.spec.containers[name=node-agent].env[name=RUNTIME_SOCKET].value";
const AGENT_CONTAINERD_SOCKET: &str =
    "spec.template.spec.containers[name=node-agent].env[name=CONTAINERD_SOCKET].value";
const AGENT_DOCKER_SOCKET: &str = "spec.template.spec.containers[name=node-agent].env[name=DOCKER_SOCKET].value";
const SOCKET_VOLUME: &str = "spec.template.spec.volumes[name=*-socket].hostPath.path";
const AGENT_DROP_IN: &str = "spec.template.spec.containers[name=node-agent].env[name=RUNTIME_DROP_IN_CONFIG].value";
const DROP_IN_VOLUME: &str = "spec.template.spec.volumes[name=*-drop-in-config].hostPath.path";
const AGENT_RUNTIME_CONFIG: &str = "spec.template.spec.containers[name=node-agent].env[name=RUNTIME_CONFIG].value";
const AGENT_CONTAINERD_CONFIG: &str =
    "spec.template.spec.containers[name=node-agent].env[name=CONTAINERD_CONFIG].value";
const AGENT_CRIO_CONFIG: &str = "spec.template.spec.containers[name=node-agent].env[name=CRIO_CONFIG].value";
const AGENT_DOCKER_CONFIG: &str = "spec.template.spec.containers[name=node-agent].env[name=DOCKER_CONFIG].value";
const CONFIG_VOLUME: &str = "spec.template.spec.volumes[name=*-config].hostPath.path";

#[derive(Serialize)]
struct View {
    op: Operand,
    /// The agent's restart timeout, passed to it, and its pod's grace period, which covers a
    /// restart and its rollback.
    restart_timeout: u64,
    grace_period: u64,
    managed_by: (&'static str, &'static str),
    toolkit_image: String,
    toolkit_pull_policy: &'static str,
    agent_image: String,
    agent_pull_policy: &'static str,
    install_env: Env,
    agent_env: Env,
    agent_mounts: Vec<J>,
    runtime_volumes: Vec<J>,
    install_dir: String,
    nri: bool,
    nri_socket_dir: String,
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    let config = ctx.config;
    let toolkit = &config.toolkit;
    if !toolkit.enabled {
        return Ok(());
    }
    let spec = Spec {
        name: NAME,
        component: "container-toolkit",
        service_account: "nvidia-container-toolkit",
        repository: &toolkit.repository,
        image: &toolkit.image,
        version: &toolkit.version,
        pull_policy: toolkit.image_pull_policy,
        pull_secrets: &toolkit.image_pull_secrets,
        resources: &toolkit.resources,
        host_network: toolkit.host_network,
        runtime_class: false,
        annotations: &[("openshift.io/scc", "hostmount-anyuid")],
    };
    let mut op = Operand::new(ctx, &spec);
    op.update_strategy = update_strategy(config.daemonsets.update_strategy, &toolkit.max_unavailable);
    let operator = &config.operator;
    let agent_version = operator.version.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| VERSION.to_owned());
    let node = ctx.node;
    let (agent_mounts, runtime_volumes) = runtime_mounts(node);
    let view = View {
        managed_by: MANAGED_BY,
        toolkit_image: op.image.clone(),
        toolkit_pull_policy: pull_policy(toolkit.image_pull_policy),
        agent_image: reference(&operator.repository, &operator.image, &agent_version),
        agent_pull_policy: pull_policy(operator.image_pull_policy),
        install_env: install_env(ctx),
        agent_env: agent_env(ctx),
        agent_mounts,
        runtime_volumes,
        install_dir: toolkit.install_dir.clone(),
        restart_timeout: RESTART_TIMEOUT_SECONDS,
        // SIGTERM during a restart lets the agent finish it or roll it back (a second
        // restart) before it exits: twice the timeout and half a minute more.
        grace_period: 2 * RESTART_TIMEOUT_SECONDS + 30,
        nri: !node.configure && config.cdi.nri_plugin_enabled,
        nri_socket_dir: "/var/run/nri".into(),
        op,
    };
    for kind in ["serviceaccount", "role", "rolebinding", "configmap", "daemonset"] {
        out.emit(&format!("container-toolkit/{kind}.yaml"), &view)?;
    }
    Ok(())
}

/// The installer's env: what NVIDIA's toolkit needs to install binaries and the CDI spec,
/// then the user's `toolkit.env`.
fn install_env(ctx: &Context<'_>) -> Env {
    let config = ctx.config;
    let mut env = Env::new();
    env.set("ROOT", &config.toolkit.install_dir)
        .set("NVIDIA_CONTAINER_RUNTIME_MODES_CDI_DEFAULT_KIND", "management.nvidia.com/gpu")
        .set("NVIDIA_VISIBLE_DEVICES", "void")
        .set("TOOLKIT_PID_FILE", PID_FILE)
        .field("NRI_NAMESPACE", "metadata.namespace");
    if config.cdi.enabled {
        env.set("CDI_ENABLED", "true").set("NVIDIA_CONTAINER_RUNTIME_MODE", "cdi").set("CRIO_CONFIG_MODE", "config");
    }
    if config.cdi.nri_plugin_enabled {
        env.set("ENABLE_NRI_PLUGIN", "true");
    }
    env.apply(&config.toolkit.env);
    env.set("RUNTIME", ctx.node.runtime.name());
    if ctx.node.configure {
        // The agent configures the runtime; the installer only installs, then exits.
        env.set("NO_RUNTIME_CONFIG", "true").set("NO_DAEMON", "true");
    }
    env
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn dir(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((dir, _)) => dir,
        None => ".",
    }
}

/// The node agent's env: the resolved node change, every path rewritten to where the pod
/// mounts it, so the agent resolves exactly the [`NodeRuntime`] the plan shows.
fn agent_env(ctx: &Context<'_>) -> Env {
    let node = ctx.node;
    let mut env = Env::new();
    let config = format!("{CONFIG_DIR}/{}", base(&node.config));
    env.set("RUNTIME", node.runtime.name()).set("RUNTIME_CONFIG", &config);
    let alias = match node.runtime {
        RuntimeKind::Containerd => "CONTAINERD",
        RuntimeKind::Crio => "CRIO",
        RuntimeKind::Docker => "DOCKER",
    };
    env.set(&format!("{alias}_CONFIG"), &config);
    match &node.drop_in {
        Some(drop_in) => {
            let host = node.drop_in_host_path.clone().unwrap_or_else(|| drop_in.clone());
            env.set("RUNTIME_DROP_IN_CONFIG", format!("{DROP_IN_DIR}/{}", base(drop_in)))
                .set("RUNTIME_DROP_IN_CONFIG_HOST_PATH", host);
        }
        None => {
            env.set("RUNTIME_DROP_IN_CONFIG", "");
        }
    }
    if let Some(source) = &node.source {
        let inside = if dir(source) == dir(&node.config) {
            format!("{CONFIG_DIR}/{}", base(source))
        } else {
            format!("{HOST_ROOT}{source}")
        };
        env.set("RUNTIME_CONFIG_SOURCE", format!("file={inside}"));
    }
    let socket = format!("{SOCKET_DIR}/{}", base(&node.socket));
    env.set("RUNTIME_SOCKET", &socket);
    if node.runtime != RuntimeKind::Crio {
        // The toolkit's contract has no CRIO_SOCKET.
        env.set(&format!("{alias}_SOCKET"), &socket);
    }
    env.set("NVIDIA_RUNTIME_NAME", &node.runtime_name)
        .set("NVIDIA_RUNTIME_SET_AS_DEFAULT", node.set_as_default.to_string())
        .set("CDI_ENABLED", node.cdi.to_string())
        .set("RUNTIME_ENABLE_CDI", node.enable_cdi.to_string())
        .set("RUNTIME_RESTART_MODE", restart_mode(node.restart_mode))
        .set("RUNTIME_SYSTEMD_UNIT", &node.systemd_unit)
        .set("ROOT", &node.install_dir)
        .set("TOOLKIT_PID_FILE", PID_FILE)
        .set("HOST_ROOT_MOUNT", HOST_ROOT);
    if node.runtime == RuntimeKind::Containerd {
        env.set("CONTAINERD_RUNTIME_CLASS", &node.runtime_name)
            .set("CONTAINERD_RUNTIME_TYPE", &node.runtime_type)
            .set("CONTAINERD_USE_LEGACY_CONFIG", node.use_legacy_config.to_string());
    }
    if !node.annotation_prefixes.is_empty() {
        env.set("NVIDIA_CONTAINER_RUNTIME_MODES_CDI_ANNOTATION_PREFIXES", node.annotation_prefixes.join(","));
    }
    if node.runtime == RuntimeKind::Crio {
        let mode = if node.crio_mode == CrioMode::Hook { "hook" } else { "config" };
        env.set("CRIO_CONFIG_MODE", mode)
            .set("CRIO_HOOKS_DIR", HOOKS_DIR)
            .set("CRIO_HOOK_FILENAME", &node.crio_hook_filename);
    }
    env.field("NODE_NAME", "spec.nodeName");
    env
}

fn restart_mode(mode: RestartMode) -> &'static str {
    match mode {
        RestartMode::Signal => "signal",
        RestartMode::Systemd => "systemd",
        RestartMode::None => "none",
    }
}

/// The agent's mounts of the runtime's directories, and their host volumes, named as upstream
/// names them (`containerd-config`, `containerd-drop-in-config`, `containerd-socket`, ...).
fn runtime_mounts(node: &NodeRuntime) -> (Vec<J>, Vec<J>) {
    let prefix = node.runtime.name();
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    let mut add = |name: String, host: &str, at: &str, kind: Option<&str>| {
        mounts.push(json!({ "name": name, "mountPath": at }));
        let mut host_path = json!({ "path": host });
        if let Some(kind) = kind {
            host_path["type"] = json!(kind);
        }
        volumes.push(json!({ "name": name, "hostPath": host_path }));
    };
    add(format!("{prefix}-config"), dir(&node.config), CONFIG_DIR, Some("DirectoryOrCreate"));
    if let Some(drop_in) = &node.drop_in {
        add(format!("{prefix}-drop-in-config"), dir(drop_in), DROP_IN_DIR, Some("DirectoryOrCreate"));
    }
    // Every runtime's socket: the agent waits on it after a restart (CRI-O's too, for its
    // CRI status after `systemctl restart crio`).
    add(format!("{prefix}-socket"), dir(&node.socket), SOCKET_DIR, None);
    if node.runtime == RuntimeKind::Crio && node.crio_mode == CrioMode::Hook {
        add("crio-hooks".into(), &node.crio_hooks_dir, HOOKS_DIR, Some("DirectoryOrCreate"));
    }
    (mounts, volumes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_name_the_mount_points_this_stage_uses() {
        for (text, dir) in [(SOCKET_RULE, SOCKET_DIR), (CONFIG_RULE, CONFIG_DIR), (DROP_IN_RULE, DROP_IN_DIR)] {
            assert!(text.contains(&format!("mounted at {dir},")), "{text}");
        }
    }
}
