//! [`NodeRuntime`]: the resolved change to every GPU node's container runtime, from the values.
//!
//! Input: the typed [`Config`] — `operator.defaultRuntime`, `operator.runtimeClass`,
//! `cdi.*`, `toolkit.installDir` and the toolkit container's environment in `toolkit.env`.
//! Output: one [`NodeRuntime`] (paths, socket, runtime names and binaries, set-as-default, CDI,
//! runtime type, annotation prefixes, restart mode and unit) and diagnostics.
//!
//! The toolkit's env contract is honoured with its defaults ([`super::env`]). Where upstream's
//! operator and the user disagree, **what the user wrote wins**, and gpuplan says so: the
//! operator's `NVIDIA_RUNTIME_SET_AS_DEFAULT=false` under CDI silently defeats a user's
//! `CONTAINERD_SET_AS_DEFAULT=true` (rancher/rke2#8752); gpuplan makes the runtime the default
//! and warns. A contradiction gpuplan cannot settle (a runtime name other than the
//! RuntimeClass's handler) is an error with the fix.

use serde::{Deserialize, Serialize};

use super::env::{self, Env};
use crate::config::Config;
use crate::config::operator::DefaultRuntime;
use crate::error::Diagnostic;

/// Which container runtime the GPU nodes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// containerd 1.x or 2.x.
    Containerd,
    /// CRI-O.
    Crio,
    /// Docker (dockerd).
    Docker,
}

impl RuntimeKind {
    /// The prefix of the toolkit's variables that only this runtime reads (`CONTAINERD_`).
    pub fn env_prefix(self) -> &'static str {
        match self {
            RuntimeKind::Containerd => "CONTAINERD_",
            RuntimeKind::Crio => "CRIO_",
            RuntimeKind::Docker => "DOCKER_",
        }
    }

    /// The name the toolkit's `RUNTIME` variable uses.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Containerd => "containerd",
            RuntimeKind::Crio => "crio",
            RuntimeKind::Docker => "docker",
        }
    }
}

/// How the runtime is made to load the new configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestartMode {
    /// SIGHUP to the process behind the socket; containerd exits and its supervisor restarts it.
    Signal,
    /// `systemctl restart <unit>` in the host root.
    Systemd,
    /// Nothing; someone else restarts the runtime.
    None,
}

/// How CRI-O gets the NVIDIA runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrioMode {
    /// Runtime handlers in a drop-in config.
    Config,
    /// An OCI prestart hook (deprecated upstream; used when CDI is off).
    Hook,
}

/// One runtime gpuplan registers: its handler name and its binary on the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeBinary {
    /// Handler name (`nvidia`, `nvidia-cdi`, `nvidia-legacy`).
    pub name: String,
    /// Absolute path of the runtime binary on the node.
    pub path: String,
}

/// The resolved node change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRuntime {
    /// The runtime.
    pub runtime: RuntimeKind,
    /// Top-level config file on the host.
    pub config: String,
    /// Drop-in file on the host; `None` edits `config` in place.
    pub drop_in: Option<String>,
    /// The drop-in's host path when `drop_in` is a path inside a container (for `imports`).
    pub drop_in_host_path: Option<String>,
    /// A file to read runtime options from instead of `config` (`RUNTIME_CONFIG_SOURCE=file=...`).
    pub source: Option<String>,
    /// The runtime's socket on the host.
    pub socket: String,
    /// The main runtime's name; equals the RuntimeClass handler.
    pub runtime_name: String,
    /// Every runtime registered, the main one first.
    pub runtimes: Vec<RuntimeBinary>,
    /// Whether the main runtime becomes the default runtime.
    pub set_as_default: bool,
    /// Whether CDI is on for the toolkit.
    pub cdi: bool,
    /// Whether CDI is switched on in the runtime's own config (`enable_cdi`, `features.cdi`).
    pub enable_cdi: bool,
    /// `runtime_type` for entries with none to copy.
    pub runtime_type: String,
    /// CDI annotation prefixes, written as `container_annotations = ["<prefix>*"]`.
    pub annotation_prefixes: Vec<String>,
    /// Version-1 containerd configs get a `default_runtime` table.
    pub use_legacy_config: bool,
    /// How the runtime is restarted.
    pub restart_mode: RestartMode,
    /// The systemd unit restarted in `systemd` mode.
    pub systemd_unit: String,
    /// Where the toolkit installs its files on the host.
    pub install_dir: String,
    /// Where the host's root is mounted in the node agent's container.
    pub host_root: String,
    /// False when the runtime config must be left alone (NRI plugin, `NO_RUNTIME_CONFIG`).
    pub configure: bool,
    /// CRI-O only: drop-in runtimes or an OCI hook.
    pub crio_mode: CrioMode,
    /// CRI-O hook mode: where the hook file goes.
    pub crio_hooks_dir: String,
    /// CRI-O hook mode: the hook file's name.
    pub crio_hook_filename: String,
}

impl NodeRuntime {
    /// The environment that resolves back to this node change (the write side of the env
    /// contract, [`env`]): each setting under the name gpuplan writes, in a fixed order, and the
    /// runtime's own alias too where the toolkit has one (`CONTAINERD_CONFIG` beside
    /// `RUNTIME_CONFIG`), so tooling that looks for either finds it. `pid_file` is the node's
    /// lock. Paths are taken as given: a caller that mounts the host's directories elsewhere
    /// passes the node as the container sees it.
    pub fn env(&self, pid_file: &str) -> Vec<(&'static str, String)> {
        let node = self;
        let mut out: Vec<(&'static str, String)> = Vec::new();
        let kind = node.runtime;
        let prefix = kind.env_prefix();
        let with_alias = |out: &mut Vec<_>, setting: env::Setting, value: &str| {
            out.push((setting.write, value.to_owned()));
            if let Some(alias) = setting.alias(prefix).filter(|a| *a != setting.write) {
                out.push((alias, value.to_owned()));
            }
        };
        out.push((env::RUNTIME.write, kind.name().to_owned()));
        with_alias(&mut out, env::CONFIG, &node.config);
        match &node.drop_in {
            Some(drop_in) => {
                out.push((env::DROP_IN.write, drop_in.clone()));
                let host = node.drop_in_host_path.clone().unwrap_or_else(|| drop_in.clone());
                out.push((env::DROP_IN_HOST_PATH.write, host));
            }
            None => out.push((env::DROP_IN.write, String::new())),
        }
        if let Some(source) = &node.source {
            out.push((env::CONFIG_SOURCE.write, format!("file={source}")));
        }
        with_alias(&mut out, env::SOCKET, &node.socket);
        let restart = match node.restart_mode {
            RestartMode::Signal => "signal",
            RestartMode::Systemd => "systemd",
            RestartMode::None => "none",
        };
        for (setting, value) in [
            (env::RUNTIME_NAME, node.runtime_name.clone()),
            (env::SET_AS_DEFAULT, node.set_as_default.to_string()),
            (env::CDI_ENABLED, node.cdi.to_string()),
            (env::RUNTIME_ENABLE_CDI, node.enable_cdi.to_string()),
            (env::RESTART_MODE, restart.to_owned()),
            (env::RESTART_UNIT, node.systemd_unit.clone()),
            (env::INSTALL_DIR, node.install_dir.clone()),
            (env::PID_FILE, pid_file.to_owned()),
            (env::HOST_ROOT, node.host_root.clone()),
        ] {
            out.push((setting.write, value));
        }
        if kind == RuntimeKind::Containerd {
            if let Some(alias) = env::RUNTIME_NAME.alias(prefix) {
                out.push((alias, node.runtime_name.clone()));
            }
            out.push((env::RUNTIME_TYPE.write, node.runtime_type.clone()));
            out.push((env::USE_LEGACY_CONFIG.write, node.use_legacy_config.to_string()));
        }
        if !node.annotation_prefixes.is_empty() {
            out.push((env::ANNOTATION_PREFIXES.write, node.annotation_prefixes.join(",")));
        }
        if kind == RuntimeKind::Crio {
            let mode = if node.crio_mode == CrioMode::Hook { "hook" } else { "config" };
            out.push((env::CRIO_CONFIG_MODE.write, mode.to_owned()));
            out.push((env::CRIO_HOOKS_DIR.write, node.crio_hooks_dir.clone()));
            out.push((env::CRIO_HOOK_FILENAME.write, node.crio_hook_filename.clone()));
        }
        out
    }
}

/// How long the node agent waits, after a restart, for the runtime to be back with the new
/// config (its `--restart-timeout`; its pod's grace period is derived from it).
pub const RESTART_TIMEOUT_SECONDS: u64 = 60;

/// The main runtime binary's name; `.cdi` and `.legacy` variants sit next to it.
pub const RUNTIME_BINARY: &str = "nvidia-container-runtime";
/// The runtime name used when `operator.runtimeClass` is empty.
pub const DEFAULT_RUNTIME_NAME: &str = "nvidia";

/// Resolve the node change from the config.
pub fn resolve(config: &Config) -> (NodeRuntime, Vec<Diagnostic>) {
    let runtime = match config.operator.default_runtime {
        DefaultRuntime::Containerd => RuntimeKind::Containerd,
        DefaultRuntime::Crio => RuntimeKind::Crio,
        DefaultRuntime::Docker => RuntimeKind::Docker,
    };
    resolve_for(config, runtime)
}

/// Resolve the node change for nodes running `runtime`, whatever `operator.defaultRuntime`
/// says (a cluster whose GPU node pools run several runtimes gets one per runtime).
pub fn resolve_for(config: &Config, runtime: RuntimeKind) -> (NodeRuntime, Vec<Diagnostic>) {
    let mut d = Vec::new();
    let env = Env::new(&config.toolkit.env, &mut d);
    warn_foreign_aliases(&env, runtime, &mut d);
    let text = |setting, d: &mut Vec<Diagnostic>| env.get(setting, d).map(|(v, _)| v);

    let install_dir = resolve_install_dir(config, &env, &mut d);
    let runtime_name = resolve_runtime_name(config, &env, &mut d);
    let bin = format!("{}/toolkit/{RUNTIME_BINARY}", install_dir.trim_end_matches('/'));
    let main = if runtime_name == "nvidia-cdi" || runtime_name == "nvidia-legacy" {
        DEFAULT_RUNTIME_NAME.to_owned()
    } else {
        runtime_name.clone()
    };
    let runtimes = vec![
        RuntimeBinary { name: main, path: bin.clone() },
        RuntimeBinary { name: "nvidia-cdi".into(), path: format!("{bin}.cdi") },
        RuntimeBinary { name: "nvidia-legacy".into(), path: format!("{bin}.legacy") },
    ];

    let cdi = env.flag(env::CDI_ENABLED, &mut d).map_or(config.cdi.enabled, |(b, _)| b);
    let enable_cdi = env.flag(env::RUNTIME_ENABLE_CDI, &mut d).map_or(cdi, |(b, _)| b);
    let set_as_default = resolve_set_as_default(config, &env, cdi, &mut d);
    let (config_path, drop_in) = resolve_paths(runtime, &env, &mut d);
    let socket = text(env::SOCKET, &mut d).unwrap_or_else(|| default_socket(runtime).into());
    let (restart_mode, systemd_unit) = resolve_restart(runtime, &env, &mut d);
    let source = resolve_source(&env, &mut d);
    let prefixes = text(env::ANNOTATION_PREFIXES, &mut d).unwrap_or_default();
    let nri = env.flag(env::NRI_PLUGIN, &mut d).map_or(config.cdi.nri_plugin_enabled, |(b, _)| b);
    let no_runtime_config = env.flag(env::NO_RUNTIME_CONFIG, &mut d).is_some_and(|(b, _)| b);
    let crio_mode = match text(env::CRIO_CONFIG_MODE, &mut d).as_deref() {
        Some("hook") => CrioMode::Hook,
        Some("config") => CrioMode::Config,
        Some(other) => {
            d.push(bad_choice(&env, env::CRIO_CONFIG_MODE, other, &["config", "hook"]));
            CrioMode::Config
        }
        None if cdi => CrioMode::Config,
        None => CrioMode::Hook,
    };

    let node = NodeRuntime {
        runtime,
        config: config_path,
        drop_in,
        drop_in_host_path: text(env::DROP_IN_HOST_PATH, &mut d).filter(|p| !p.is_empty()),
        source,
        socket,
        runtime_name,
        runtimes,
        set_as_default,
        cdi,
        enable_cdi,
        runtime_type: text(env::RUNTIME_TYPE, &mut d).unwrap_or_else(|| "io.containerd.runc.v2".into()),
        annotation_prefixes: prefixes.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect(),
        use_legacy_config: env.flag(env::USE_LEGACY_CONFIG, &mut d).is_some_and(|(b, _)| b),
        restart_mode,
        systemd_unit,
        install_dir,
        host_root: text(env::HOST_ROOT, &mut d).unwrap_or_else(|| "/host".into()),
        configure: !nri && !no_runtime_config,
        crio_mode,
        crio_hooks_dir: text(env::CRIO_HOOKS_DIR, &mut d).unwrap_or_else(|| "/usr/share/containers/oci/hooks.d".into()),
        crio_hook_filename: text(env::CRIO_HOOK_FILENAME, &mut d).unwrap_or_else(|| "oci-nvidia-hook.json".into()),
    };
    for path in [Some(&node.config), node.drop_in.as_ref(), node.source.as_ref()].into_iter().flatten() {
        if !path.starts_with('/') {
            d.push(
                Diagnostic::error("/toolkit/env", format!("`{path}` is not an absolute path"))
                    .with_hint("runtime config paths are host paths and start with `/`"),
            );
        }
    }
    (node, d)
}

fn env_pointer(index: usize) -> String {
    format!("/toolkit/env/{index}/value")
}

fn bad_choice(env: &Env, setting: env::Setting, found: &str, choices: &[&str]) -> Diagnostic {
    let index = env.get(setting, &mut Vec::new()).map_or(0, |(_, i)| i);
    let mut d = Diagnostic::error(env_pointer(index), format!("not a valid {}", setting.what))
        .expected_found(format!("one of {}", choices.join(", ")), format!("{found:?}"));
    d.hint = crate::schema::closest(found, choices.iter().copied()).map(|c| format!("did you mean {c:?}?"));
    d
}

/// `CONTAINERD_*`, `DOCKER_*` and `CRIO_*` aliases only mean something for their runtime.
fn warn_foreign_aliases(env: &Env, runtime: RuntimeKind, d: &mut Vec<Diagnostic>) {
    for setting in env::SETTINGS {
        for name in setting.names {
            let owner = ["CONTAINERD_", "DOCKER_", "CRIO_"].into_iter().find(|p| name.starts_with(p));
            let foreign = owner.is_some_and(|p| !p.eq_ignore_ascii_case(&format!("{}_", runtime.name())));
            if foreign && env.has(name) {
                d.push(
                    Diagnostic::warning(
                        "/toolkit/env",
                        format!("`{name}` has no effect: the runtime is {}", runtime.name()),
                    )
                    .with_hint("set operator.defaultRuntime to the runtime the nodes run, or remove the variable"),
                );
            }
        }
    }
}

fn resolve_install_dir(config: &Config, env: &Env, d: &mut Vec<Diagnostic>) -> String {
    let dir = config.toolkit.install_dir.clone();
    if let Some((value, index)) = env.get(env::INSTALL_DIR, d)
        && value.trim_end_matches('/') != dir.trim_end_matches('/')
    {
        d.push(
            Diagnostic::error(
                env_pointer(index),
                "the toolkit's install directory disagrees with `toolkit.installDir`",
            )
            .expected_found(
                format!("{dir:?} (toolkit.installDir, which is also the host directory mounted)"),
                format!("{value:?}"),
            )
            .with_hint("set toolkit.installDir instead of ROOT/TOOLKIT_INSTALL_DIR in toolkit.env"),
        );
    }
    dir
}

fn resolve_runtime_name(config: &Config, env: &Env, d: &mut Vec<Diagnostic>) -> String {
    let class = match config.operator.runtime_class.as_str() {
        "" => DEFAULT_RUNTIME_NAME.to_owned(),
        name => name.to_owned(),
    };
    if let Some((name, index)) = env.get(env::RUNTIME_NAME, d)
        && name != class
    {
        d.push(
            Diagnostic::error(env_pointer(index), "the runtime name differs from the RuntimeClass handler")
                .expected_found(
                    format!("{class:?} (operator.runtimeClass: the RuntimeClass handler pods run with)"),
                    format!("{name:?}"),
                )
                .with_hint(format!(
                    "set operator.runtimeClass={name} so the RuntimeClass and the runtime agree, and drop the variable"
                )),
        );
    }
    class
}

fn resolve_set_as_default(config: &Config, env: &Env, cdi: bool, d: &mut Vec<Diagnostic>) -> bool {
    // Upstream: the toolkit defaults to true; the operator sets NVIDIA_RUNTIME_SET_AS_DEFAULT=false
    // whenever CDI is on. An explicit user value wins in gpuplan.
    let derived = !cdi;
    match env.flag(env::SET_AS_DEFAULT, d) {
        Some((true, index)) if cdi => {
            d.push(
                Diagnostic::warning(env_pointer(index), "the NVIDIA runtime becomes the default runtime, as this variable asks")
                    .with_hint(format!(
                        "with cdi.enabled={}, the upstream operator forces NVIDIA_RUNTIME_SET_AS_DEFAULT=false and silently ignores this (rancher/rke2#8752); gpuplan honours it",
                        config.cdi.enabled
                    )),
            );
            true
        }
        Some((value, _)) => value,
        None => derived,
    }
}

fn resolve_paths(runtime: RuntimeKind, env: &Env, d: &mut Vec<Diagnostic>) -> (String, Option<String>) {
    let config = env.get(env::CONFIG, d).map(|(v, _)| v).unwrap_or_else(|| default_config(runtime).into());
    let drop_in = match env.get(env::DROP_IN, d) {
        Some((value, _)) if value.is_empty() => None,
        Some((value, index)) if runtime == RuntimeKind::Docker => {
            d.push(Diagnostic::warning(
                env_pointer(index),
                format!("Docker has no drop-in configs; {value:?} is ignored"),
            ));
            None
        }
        Some((value, _)) => Some(value),
        None => default_drop_in(runtime).map(str::to_owned),
    };
    (config, drop_in)
}

fn resolve_restart(runtime: RuntimeKind, env: &Env, d: &mut Vec<Diagnostic>) -> (RestartMode, String) {
    let default = if runtime == RuntimeKind::Crio { RestartMode::Systemd } else { RestartMode::Signal };
    let mode = match env.get(env::RESTART_MODE, d) {
        None => default,
        Some((value, index)) => match value.as_str() {
            "signal" if runtime == RuntimeKind::Crio => {
                d.push(
                    Diagnostic::error(env_pointer(index), "CRI-O cannot be restarted by signal")
                        .with_hint("use RUNTIME_RESTART_MODE=systemd (the default for CRI-O) or none"),
                );
                RestartMode::Systemd
            }
            "signal" => RestartMode::Signal,
            "systemd" => RestartMode::Systemd,
            "none" => RestartMode::None,
            other => {
                d.push(bad_choice(env, env::RESTART_MODE, other, &["signal", "systemd", "none"]));
                default
            }
        },
    };
    let unit = env.get(env::RESTART_UNIT, d).map(|(v, _)| v).unwrap_or_else(|| runtime.name().into());
    (mode, unit)
}

/// gpuplan reads the config from a file (the one on disk, or `file=<path>`), never from
/// `containerd config dump`: the dump shows the running daemon's version and defaults, not
/// what is on disk.
fn resolve_source(env: &Env, d: &mut Vec<Diagnostic>) -> Option<String> {
    let (value, index) = env.get(env::CONFIG_SOURCE, d)?;
    let mut source = None;
    let mut file = false;
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entry.split_once('=') {
            Some(("file", path)) => {
                source.get_or_insert_with(|| path.trim().to_owned());
                file = true;
            }
            None if entry == "file" => file = true,
            None if entry == "command" => {}
            _ => d.push(bad_choice(env, env::CONFIG_SOURCE, entry, &["file", "file=<path>", "command"])),
        }
    }
    if !file {
        d.push(
            Diagnostic::warning(env_pointer(index), "gpuplan reads the config file, not `containerd config dump`")
                .with_hint("the dump reports the running daemon's version and built-in defaults rather than the file on disk; add `file` to silence this"),
        );
    }
    source
}

/// The toolkit's default top-level config for each runtime.
pub fn default_config(runtime: RuntimeKind) -> &'static str {
    match runtime {
        RuntimeKind::Containerd => "/etc/containerd/config.toml",
        RuntimeKind::Crio => "/etc/crio/crio.conf",
        RuntimeKind::Docker => "/etc/docker/daemon.json",
    }
}

/// The default drop-in for each runtime (Docker has none).
pub fn default_drop_in(runtime: RuntimeKind) -> Option<&'static str> {
    match runtime {
        RuntimeKind::Containerd => Some("/etc/containerd/conf.d/99-nvidia.toml"),
        RuntimeKind::Crio => Some("/etc/crio/crio.conf.d/99-nvidia.toml"),
        RuntimeKind::Docker => None,
    }
}

/// The default socket for each runtime.
pub fn default_socket(runtime: RuntimeKind) -> &'static str {
    match runtime {
        RuntimeKind::Containerd => "/run/containerd/containerd.sock",
        RuntimeKind::Crio => "/var/run/crio/crio.sock",
        RuntimeKind::Docker => "/var/run/docker.sock",
    }
}
