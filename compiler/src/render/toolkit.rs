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
use super::{Context, Out, Shared, VERSION};
use crate::error::Error;
use crate::facts::RUNTIME_LABEL;
use crate::node::runtime::{CrioMode, RESTART_TIMEOUT_SECONDS};
use crate::node::{NodeRuntime, RuntimeKind, env};

/// The DaemonSet's name.
pub const NAME: &str = "nvidia-container-toolkit-daemonset";
/// Where the host's root is mounted in the pod.
const HOST_ROOT: &str = "/host";
/// The lock the installer and the agent take on the node.
const PID_FILE: &str = env::DEFAULT_PID_FILE;
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
    // One node agent per container runtime among the GPU nodes, each selecting its nodes by the
    // runtime label the operator keeps; one for all nodes when there is one runtime.
    // The account, role and entrypoint ConfigMap are shared by the node agents' DaemonSets,
    // and show only the agent's names: they render the same whatever its env and image.
    let names = Names {
        managed_by: MANAGED_BY,
        op: OperandNames { name: &op.name, namespace: &op.namespace, service_account: &op.service_account },
    };
    let shared = Shared::new(&names);
    for kind in ["serviceaccount", "role", "rolebinding", "configmap"] {
        out.emit_shared(&format!("container-toolkit/{kind}.yaml"), &shared)?;
    }
    let several = ctx.agents.len() > 1;
    for node in ctx.agents {
        let mut op = op.clone();
        if several {
            op.rename(&format!("{NAME}-{}", node.runtime.name()));
            op.node_selector.insert(RUNTIME_LABEL.into(), node.runtime.name().into());
        }
        out.emit("container-toolkit/daemonset.yaml", &view(ctx, node, op))?;
    }
    Ok(())
}

/// What the account, role and entrypoint ConfigMap templates see of the node agent.
#[derive(Serialize)]
struct Names<'a> {
    managed_by: (&'static str, &'static str),
    op: OperandNames<'a>,
}

/// The names of the node agent's operand.
#[derive(Serialize)]
struct OperandNames<'a> {
    name: &'a str,
    namespace: &'a str,
    service_account: &'a str,
}

/// The template's view of the node agent for one node change.
fn view(ctx: &Context<'_>, node: &NodeRuntime, op: Operand) -> View {
    let config = ctx.config;
    let toolkit = &config.toolkit;
    let operator = &config.operator;
    let agent_version = operator.version.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| VERSION.to_owned());
    let (agent_mounts, runtime_volumes) = runtime_mounts(node);
    View {
        managed_by: MANAGED_BY,
        toolkit_image: op.image.clone(),
        toolkit_pull_policy: pull_policy(toolkit.image_pull_policy),
        agent_image: reference(&operator.repository, &operator.image, &agent_version),
        agent_pull_policy: pull_policy(operator.image_pull_policy),
        install_env: install_env(ctx, node),
        agent_env: agent_env(node),
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
    }
}

/// The installer's env: what NVIDIA's toolkit needs to install binaries and the CDI spec,
/// then the user's `toolkit.env`.
fn install_env(ctx: &Context<'_>, node: &NodeRuntime) -> Env {
    let config = ctx.config;
    let mut env = Env::new();
    env.set(env::INSTALL_DIR.write, &config.toolkit.install_dir)
        .set("NVIDIA_CONTAINER_RUNTIME_MODES_CDI_DEFAULT_KIND", "management.nvidia.com/gpu")
        .set("NVIDIA_VISIBLE_DEVICES", "void")
        .set(env::PID_FILE.write, PID_FILE)
        .field("NRI_NAMESPACE", "metadata.namespace");
    if config.cdi.enabled {
        env.set(env::CDI_ENABLED.write, "true")
            .set("NVIDIA_CONTAINER_RUNTIME_MODE", "cdi")
            .set(env::CRIO_CONFIG_MODE.write, "config");
    }
    if config.cdi.nri_plugin_enabled {
        env.set(env::NRI_PLUGIN.write, "true");
    }
    env.apply(&config.toolkit.env);
    env.set(env::RUNTIME.write, node.runtime.name());
    if node.configure {
        // The agent configures the runtime; the installer only installs, then exits.
        env.set(env::NO_RUNTIME_CONFIG.write, "true").set("NO_DAEMON", "true");
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

/// The node change as the node agent's container sees it: every host path rewritten to where
/// the pod mounts it (the drop-in's host path kept for the `imports` line; a config source
/// outside the config's directory read through the host root).
pub fn agent_view(node: &NodeRuntime) -> NodeRuntime {
    let source = node.source.as_ref().map(|source| {
        if dir(source) == dir(&node.config) {
            format!("{CONFIG_DIR}/{}", base(source))
        } else {
            format!("{HOST_ROOT}{source}")
        }
    });
    NodeRuntime {
        config: format!("{CONFIG_DIR}/{}", base(&node.config)),
        drop_in: node.drop_in.as_ref().map(|d| format!("{DROP_IN_DIR}/{}", base(d))),
        drop_in_host_path: node.drop_in.as_ref().map(|d| node.drop_in_host_path.clone().unwrap_or_else(|| d.clone())),
        source,
        socket: format!("{SOCKET_DIR}/{}", base(&node.socket)),
        host_root: HOST_ROOT.into(),
        crio_hooks_dir: if node.runtime == RuntimeKind::Crio { HOOKS_DIR.into() } else { node.crio_hooks_dir.clone() },
        ..node.clone()
    }
}

/// The node agent's env: the env contract's write side ([`NodeRuntime::env`]) for the
/// node as the agent's container sees it, so the agent resolves exactly the [`NodeRuntime`] the
/// plan shows.
fn agent_env(node: &NodeRuntime) -> Env {
    let mut env = Env::new();
    for (name, value) in agent_view(node).env(PID_FILE) {
        env.set(name, value);
    }
    env.field("NODE_NAME", "spec.nodeName");
    env
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

    /// The env contract's round trip: for each of these values, the env rendered into the node
    /// agent's container, read back by the agent's resolver, is the plan's node change as the
    /// container sees it.
    #[test]
    fn every_rendered_agent_env_resolves_to_the_plans_node_change() {
        let cases: &[&[&str]] = &[
            &[],
            &[
                "operator.defaultRuntime=containerd",
                "toolkit.env[0].name=CONTAINERD_CONFIG,toolkit.env[0].value=/etc/containerd/config.toml",
                "toolkit.env[1].name=CONTAINERD_SOCKET,toolkit.env[1].value=/run/containerd/containerd.sock",
                "toolkit.env[2].name=CONTAINERD_RUNTIME_CLASS,toolkit.env[2].value=nvidia",
                "toolkit.env[3].name=CONTAINERD_SET_AS_DEFAULT,toolkit.env[3].value=true",
            ],
            &["operator.defaultRuntime=crio"],
            &["operator.defaultRuntime=crio", "cdi.enabled=false"],
            &["operator.defaultRuntime=docker", "toolkit.installDir=/opt/nvidia"],
            &[
                "toolkit.env[0].name=CONTAINERD_CONFIG,toolkit.env[0].value=/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl",
                "toolkit.env[1].name=CONTAINERD_SOCKET,toolkit.env[1].value=/run/k3s/containerd/containerd.sock",
                "toolkit.env[2].name=RUNTIME_RESTART_MODE,toolkit.env[2].value=systemd",
                "toolkit.env[3].name=RUNTIME_SYSTEMD_UNIT,toolkit.env[3].value=k3s-agent",
            ],
            &["toolkit.env[0].name=RUNTIME_DROP_IN_CONFIG,toolkit.env[0].value=", "operator.runtimeClass=nvidia-cdi"],
            &[
                "toolkit.env[0].name=RUNTIME_CONFIG_SOURCE,toolkit.env[0].value=file=/etc/containerd/base.toml",
                "toolkit.env[1].name=NVIDIA_CONTAINER_RUNTIME_MODES_CDI_ANNOTATION_PREFIXES,toolkit.env[1].value=cdi.k8s.io/",
            ],
            &[
                "toolkit.env[0].name=RUNTIME_CONFIG_SOURCE,toolkit.env[0].value=file=/opt/base.toml",
                "toolkit.env[1].name=CONTAINERD_USE_LEGACY_CONFIG,toolkit.env[1].value=true",
                "toolkit.env[2].name=RUNTIME_RESTART_MODE,toolkit.env[2].value=none",
            ],
        ];
        for flags in cases {
            let inputs = crate::Inputs {
                files: Vec::new(),
                flags: flags
                    .iter()
                    .map(|f| crate::InputFlag { kind: crate::FlagKind::Set, text: (*f).into() })
                    .collect(),
            };
            let user = crate::load(&inputs, &mut |_| Err("no files".into())).expect("loads");
            let effective = crate::coalesce(user).expect("coalesces");
            let config = crate::resolve(&effective.values).expect("resolves");
            let (node, _) = crate::node_runtime(&config);
            let view = agent_view(&node);
            let vars = view.env(PID_FILE).into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
            let (read_back, _) = crate::node_runtime_from_env(&vars).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
            assert_eq!(read_back, view, "{flags:?}");
        }
    }

    #[test]
    fn the_rules_name_the_mount_points_this_stage_uses() {
        for (text, dir) in [(SOCKET_RULE, SOCKET_DIR), (CONFIG_RULE, CONFIG_DIR), (DROP_IN_RULE, DROP_IN_DIR)] {
            assert!(text.contains(&format!("mounted at {dir},")), "{text}");
        }
    }
}
