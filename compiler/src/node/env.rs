//! The environment contract of NVIDIA's toolkit container, written once: every variable it
//! reads for the runtime configuration, with its aliases in precedence order, the name gpuplan
//! writes it under, and the names it knows at all.
//!
//! Input: the `toolkit.env` list (or a process environment), or a [`NodeRuntime`]. Output, read
//! side: [`Env`], a lookup that follows the toolkit's rule (the first alias that is set wins)
//! but reports, instead of silently resolving, two aliases set to different values and names the
//! toolkit does not know (`CONTAINERD_SOCKETT`); [`values`], the values an environment stands
//! for. The node change is resolved from an [`Env`] by [`super::runtime::resolve`], and written
//! back as one by [`super::runtime::NodeRuntime::env`], both through this table.

use std::collections::BTreeMap;

use crate::config::kube::EnvVar;
use crate::error::Diagnostic;
use crate::schema::closest;
use crate::values::{Map, Node, Origin, Source, Value, Values};

/// One setting and the variables that carry it, highest precedence first (toolkit order).
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// What the setting is, for messages.
    pub what: &'static str,
    /// The variables, first wins.
    pub names: &'static [&'static str],
    /// The variable gpuplan writes it under (one of `names`).
    pub write: &'static str,
}

impl Setting {
    /// The alias of the setting with a runtime's prefix (`CONTAINERD_` gives
    /// `CONTAINERD_CONFIG`), if the toolkit has one.
    pub fn alias(self, prefix: &str) -> Option<&'static str> {
        self.names.iter().copied().find(|n| n.starts_with(prefix))
    }
}

/// Which container runtime the node runs (`containerd`, `crio`, `docker`).
pub const RUNTIME: Setting = Setting { what: "container runtime", names: &["RUNTIME"], write: "RUNTIME" };
/// Where the node's lock is unless [`PID_FILE`] says otherwise (the toolkit's own).
pub const DEFAULT_PID_FILE: &str = "/run/nvidia/toolkit/toolkit.pid";
/// The node's lock, shared by the agent, the toolkit's installer and `gpuplan node`.
pub const PID_FILE: Setting =
    Setting { what: "lock file", names: &["TOOLKIT_PID_FILE", "PID_FILE"], write: "TOOLKIT_PID_FILE" };
/// The top-level runtime config file.
pub const CONFIG: Setting = Setting {
    what: "runtime config file",
    names: &["RUNTIME_CONFIG", "CONTAINERD_CONFIG", "DOCKER_CONFIG", "CRIO_CONFIG"],
    write: "RUNTIME_CONFIG",
};
/// The drop-in file (`""` edits the top-level file in place).
pub const DROP_IN: Setting =
    Setting { what: "drop-in config file", names: &["RUNTIME_DROP_IN_CONFIG"], write: "RUNTIME_DROP_IN_CONFIG" };
/// The drop-in's path on the host, for the `imports` line.
pub const DROP_IN_HOST_PATH: Setting = Setting {
    what: "drop-in host path",
    names: &["RUNTIME_DROP_IN_CONFIG_HOST_PATH"],
    write: "RUNTIME_DROP_IN_CONFIG_HOST_PATH",
};
/// The runtime's socket.
pub const SOCKET: Setting = Setting {
    what: "runtime socket",
    names: &["RUNTIME_SOCKET", "CONTAINERD_SOCKET", "DOCKER_SOCKET"],
    write: "RUNTIME_SOCKET",
};
/// How the runtime is restarted.
pub const RESTART_MODE: Setting =
    Setting { what: "restart mode", names: &["RUNTIME_RESTART_MODE"], write: "RUNTIME_RESTART_MODE" };
/// The systemd unit restarted in `systemd` mode (a gpuplan addition).
pub const RESTART_UNIT: Setting =
    Setting { what: "systemd unit", names: &["RUNTIME_SYSTEMD_UNIT"], write: "RUNTIME_SYSTEMD_UNIT" };
/// The main runtime's name.
pub const RUNTIME_NAME: Setting = Setting {
    what: "runtime name",
    names: &["NVIDIA_RUNTIME_NAME", "CONTAINERD_RUNTIME_CLASS", "DOCKER_RUNTIME_NAME"],
    write: "NVIDIA_RUNTIME_NAME",
};
/// Whether the main runtime becomes the default.
pub const SET_AS_DEFAULT: Setting = Setting {
    what: "set-as-default",
    names: &["NVIDIA_RUNTIME_SET_AS_DEFAULT", "CONTAINERD_SET_AS_DEFAULT", "DOCKER_SET_AS_DEFAULT"],
    write: "NVIDIA_RUNTIME_SET_AS_DEFAULT",
};
/// Whether CDI is on for the toolkit.
pub const CDI_ENABLED: Setting = Setting { what: "CDI", names: &["CDI_ENABLED", "ENABLE_CDI"], write: "CDI_ENABLED" };
/// Whether CDI is switched on in the runtime (`enable_cdi`); follows CDI by default.
pub const RUNTIME_ENABLE_CDI: Setting =
    Setting { what: "enable CDI in the runtime", names: &["RUNTIME_ENABLE_CDI"], write: "RUNTIME_ENABLE_CDI" };
/// `runtime_type` for runtime entries not copied from an existing one.
pub const RUNTIME_TYPE: Setting =
    Setting { what: "runtime type", names: &["CONTAINERD_RUNTIME_TYPE"], write: "CONTAINERD_RUNTIME_TYPE" };
/// Version-1 configs with a `default_runtime` table.
pub const USE_LEGACY_CONFIG: Setting =
    Setting { what: "legacy config", names: &["CONTAINERD_USE_LEGACY_CONFIG"], write: "CONTAINERD_USE_LEGACY_CONFIG" };
/// CDI annotation prefixes for `container_annotations`.
pub const ANNOTATION_PREFIXES: Setting = Setting {
    what: "CDI annotation prefixes",
    names: &["NVIDIA_CONTAINER_RUNTIME_MODES_CDI_ANNOTATION_PREFIXES"],
    write: "NVIDIA_CONTAINER_RUNTIME_MODES_CDI_ANNOTATION_PREFIXES",
};
/// Where the runtime's current config is read from (`file`, `file=<path>`, `command`).
pub const CONFIG_SOURCE: Setting = Setting {
    what: "config source",
    names: &["RUNTIME_CONFIG_SOURCES", "RUNTIME_CONFIG_SOURCE"],
    write: "RUNTIME_CONFIG_SOURCE",
};
/// The toolkit's install directory.
pub const INSTALL_DIR: Setting =
    Setting { what: "install directory", names: &["TOOLKIT_INSTALL_DIR", "ROOT"], write: "ROOT" };
/// The host root inside the toolkit container.
pub const HOST_ROOT: Setting =
    Setting { what: "host root mount", names: &["HOST_ROOT_MOUNT"], write: "HOST_ROOT_MOUNT" };
/// Install only; leave the runtime config alone.
pub const NO_RUNTIME_CONFIG: Setting =
    Setting { what: "no runtime config", names: &["NO_RUNTIME_CONFIG"], write: "NO_RUNTIME_CONFIG" };
/// The NRI plugin instead of runtime config edits.
pub const NRI_PLUGIN: Setting =
    Setting { what: "NRI plugin", names: &["ENABLE_NRI_PLUGIN"], write: "ENABLE_NRI_PLUGIN" };
/// CRI-O: drop-in runtimes (`config`) or an OCI hook (`hook`).
pub const CRIO_CONFIG_MODE: Setting =
    Setting { what: "CRI-O config mode", names: &["CRIO_CONFIG_MODE"], write: "CRIO_CONFIG_MODE" };
/// CRI-O: the OCI hooks directory.
pub const CRIO_HOOKS_DIR: Setting =
    Setting { what: "CRI-O hooks directory", names: &["CRIO_HOOKS_DIR"], write: "CRIO_HOOKS_DIR" };
/// CRI-O: the OCI hook file name.
pub const CRIO_HOOK_FILENAME: Setting =
    Setting { what: "CRI-O hook file name", names: &["CRIO_HOOK_FILENAME"], write: "CRIO_HOOK_FILENAME" };

/// Every setting gpuplan resolves.
pub const SETTINGS: &[Setting] = &[
    RUNTIME,
    PID_FILE,
    CONFIG,
    DROP_IN,
    DROP_IN_HOST_PATH,
    SOCKET,
    RESTART_MODE,
    RESTART_UNIT,
    RUNTIME_NAME,
    SET_AS_DEFAULT,
    CDI_ENABLED,
    RUNTIME_ENABLE_CDI,
    RUNTIME_TYPE,
    USE_LEGACY_CONFIG,
    ANNOTATION_PREFIXES,
    CONFIG_SOURCE,
    INSTALL_DIR,
    HOST_ROOT,
    NO_RUNTIME_CONFIG,
    NRI_PLUGIN,
    CRIO_CONFIG_MODE,
    CRIO_HOOKS_DIR,
    CRIO_HOOK_FILENAME,
];

/// Other variables the toolkit container reads, passed through untouched.
const PASSED_THROUGH: &[&str] = &[
    "RUNTIME_EXECUTABLE_PATH",
    "NO_DAEMON",
    "NRI_NAMESPACE",
    "NRI_SOCKET",
    "NRI_PLUGIN_INDEX",
    "NRI_MANAGEMENT_CDI_DEVICE_NAMESPACES",
    "TOOLKIT_SOURCE_ROOT",
    "TOOLKIT_PACKAGE_TYPE",
    "TOOLKIT_DEBUG",
    "CDI_OUTPUT_DIR",
    "CDI_KIND",
    "CREATE_DEVICE_NODES",
    "NVIDIA_DRIVER_ROOT",
    "DRIVER_ROOT",
    "DRIVER_ROOT_CTR_PATH",
    "NVIDIA_DEV_ROOT",
    "DEV_ROOT",
    "DEV_ROOT_CTR_PATH",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_CONTAINER_RUNTIME_RUNTIMES",
    "NVIDIA_CONTAINER_RUNTIME_MODE",
    "NVIDIA_CONTAINER_RUNTIME_DEBUG",
    "NVIDIA_CONTAINER_RUNTIME_LOG_LEVEL",
    "NVIDIA_CONTAINER_RUNTIME_MODES_CDI_DEFAULT_KIND",
    "NVIDIA_CONTAINER_RUNTIME_HOOK_SKIP_MODE_DETECTION",
    "NVIDIA_CONTAINER_CLI_DEBUG",
    "NVIDIA_CONTAINER_TOOLKIT_OPT_IN_FEATURES",
    "ACCEPT_NVIDIA_VISIBLE_DEVICES_ENVVAR_WHEN_UNPRIVILEGED",
    "ACCEPT_NVIDIA_VISIBLE_DEVICES_AS_VOLUME_MOUNTS",
];

/// Variables the toolkit no longer reads, and what to use instead.
const RETIRED: &[(&str, &str)] = &[
    ("CONTAINERD_RESTART_MODE", "it was last read by toolkit 1.16; use RUNTIME_RESTART_MODE"),
    ("CONTAINERD_RUNTIME_CONFIG_OVERRIDE", "the toolkit has not applied it since 1.17; it has no effect"),
    ("RUNTIME_CONFIG_OVERRIDE", "the toolkit has not applied it since 1.17; it has no effect"),
];

/// Prefixes of the variables that belong to the runtime configuration contract: an unknown
/// name with one of these is almost certainly a typo.
const CONTRACT_PREFIXES: &[&str] = &["CONTAINERD_", "RUNTIME_", "NVIDIA_RUNTIME_", "DOCKER_", "CRIO_", "CDI_"];

/// Whether a process environment variable belongs to the toolkit container's contract (a name
/// it reads, or one with a contract prefix — so that a misspelt one is reported).
pub fn in_contract(name: &str) -> bool {
    known_names().any(|n| n == name)
        || RETIRED.iter().any(|(n, _)| *n == name)
        || CONTRACT_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The user values a node agent's process environment stands for: `RUNTIME` as
/// `operator.defaultRuntime`, the runtime name as `operator.runtimeClass`, `CDI_ENABLED` and
/// `ENABLE_NRI_PLUGIN` as `cdi.*` (off when unset, as in the toolkit container), the install dir as `toolkit.installDir`, and every contract
/// variable (see [`in_contract`]) as `toolkit.env` — the values the plan would have set that
/// environment from. Each value's origin names its variable, so diagnostics do too.
pub fn values(vars: &BTreeMap<String, String>) -> Values {
    let first = |setting: Setting| setting.names.iter().find_map(|n| vars.get_key_value(*n));
    let leaf = |name: &str, value: Value| Node::new(value, Origin::new(Source::Env(name.into())));
    let branch = |entries: Vec<(&str, Node)>| {
        let map: Map = entries.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
        Node::new(Value::Map(map), Origin::new(Source::Inline))
    };
    // An unreadable boolean is left to the env contract, which reports it.
    let flag =
        |setting: Setting| first(setting).and_then(|(name, text)| Some(leaf(name, Value::Bool(parse_bool(text)?))));

    let mut operator = Vec::new();
    if let Some((name, runtime)) = first(RUNTIME) {
        operator.push(("defaultRuntime", leaf(name, Value::Str(runtime.clone()))));
    }
    if let Some((name, class)) = first(RUNTIME_NAME) {
        operator.push(("runtimeClass", leaf(name, Value::Str(class.clone()))));
    }
    // Unset, the toolkit container's own defaults apply (CDI and NRI off), not the chart's.
    let off = |setting: Setting| {
        let unset = !setting.names.iter().any(|n| vars.contains_key(*n));
        unset.then(|| Node::new(Value::Bool(false), Origin::new(Source::Inline)))
    };
    let mut cdi = Vec::new();
    if let Some(node) = flag(CDI_ENABLED).or_else(|| off(CDI_ENABLED)) {
        cdi.push(("enabled", node));
    }
    if let Some(node) = flag(NRI_PLUGIN).or_else(|| off(NRI_PLUGIN)) {
        cdi.push(("nriPluginEnabled", node));
    }
    let env: Vec<Node> = vars
        .iter()
        .filter(|(name, _)| in_contract(name))
        .map(|(name, value)| {
            let item = [("name", Value::Str(name.clone())), ("value", Value::Str(value.clone()))];
            let map: Map = item.into_iter().map(|(k, v)| (k.to_owned(), leaf(name, v))).collect();
            leaf(name, Value::Map(map))
        })
        .collect();
    let mut toolkit = vec![("env", Node::new(Value::List(env), Origin::new(Source::Inline)))];
    if let Some((name, dir)) = first(INSTALL_DIR) {
        toolkit.push(("installDir", leaf(name, Value::Str(dir.clone()))));
    }
    let top = [("operator", operator), ("cdi", cdi), ("toolkit", toolkit)];
    Values(top.into_iter().filter(|(_, e)| !e.is_empty()).map(|(k, e)| (k.to_owned(), branch(e))).collect())
}

/// The names the toolkit reads, for suggestions.
fn known_names() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().flat_map(|s| s.names.iter().copied()).chain(PASSED_THROUGH.iter().copied())
}

/// The user's `toolkit.env`, indexed, with the problems found in it.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Value and position in `toolkit.env` of each name (the last entry wins, as the operator
    /// sets env by name).
    values: BTreeMap<String, (String, usize)>,
}

impl Env {
    /// Index `toolkit.env`; report unknown and retired names.
    pub fn new(env: &[EnvVar], diagnostics: &mut Vec<Diagnostic>) -> Env {
        let mut values = BTreeMap::new();
        for (i, var) in env.iter().enumerate() {
            values.insert(var.name.clone(), (var.value.clone(), i));
            let pointer = format!("/toolkit/env/{i}/name");
            if let Some((_, why)) = RETIRED.iter().find(|(name, _)| *name == var.name) {
                diagnostics.push(
                    Diagnostic::warning(pointer, format!("`{}` is not read by the toolkit", var.name)).with_hint(*why),
                );
                continue;
            }
            let in_contract = CONTRACT_PREFIXES.iter().any(|p| var.name.starts_with(p));
            if in_contract && !known_names().any(|n| n == var.name) {
                let mut d = Diagnostic::error(pointer, format!("`{}` is not a variable the toolkit reads", var.name))
                    .expected_found(
                        "a runtime configuration variable of the NVIDIA toolkit",
                        format!("`{}`", var.name),
                    );
                d.hint = closest(&var.name, known_names()).map(|c| format!("did you mean `{c}`?"));
                diagnostics.push(d);
            }
        }
        Env { values }
    }

    /// The value of the first alias of `setting` that is set, with its position in
    /// `toolkit.env`; two aliases with different values are reported.
    pub fn get(&self, setting: Setting, diagnostics: &mut Vec<Diagnostic>) -> Option<(String, usize)> {
        let set: Vec<(&str, &(String, usize))> =
            setting.names.iter().filter_map(|n| self.values.get(*n).map(|v| (*n, v))).collect();
        let (first_name, first) = set.first()?;
        for (name, (value, index)) in &set[1..] {
            if *value != first.0 {
                diagnostics.push(
                    Diagnostic::error(
                        format!("/toolkit/env/{index}/value"),
                        format!("`{name}` and `{first_name}` both set the {} but disagree", setting.what),
                    )
                    .expected_found(format!("the same value as {first_name} ({:?})", first.0), format!("{value:?}"))
                    .with_hint(format!("the toolkit reads `{first_name}` first; remove one of the two")),
                );
            }
        }
        Some((*first).clone())
    }

    /// A boolean setting: `true`/`false` as Go's `strconv.ParseBool` reads them.
    pub fn flag(&self, setting: Setting, diagnostics: &mut Vec<Diagnostic>) -> Option<(bool, usize)> {
        let (text, index) = self.get(setting, diagnostics)?;
        match parse_bool(&text) {
            Some(b) => Some((b, index)),
            None => {
                diagnostics.push(
                    Diagnostic::error(
                        format!("/toolkit/env/{index}/value"),
                        format!("{} must be true or false", setting.what),
                    )
                    .expected_found("true or false", format!("{text:?}")),
                );
                None
            }
        }
    }

    /// Whether the variable is set.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
