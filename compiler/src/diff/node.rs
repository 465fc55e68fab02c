//! The node side of a plan diff: what changes on every GPU node, in words, and — given a
//! node's config files — in the files themselves.
//!
//! Input: the old and new [`NodeRuntime`]; for [`files`], the current text of the files both
//! need. Output: one [`NodeChange`] per changed setting ("the runtime socket moves from A to
//! B", "nvidia becomes the default runtime"), and per file a unified diff between the file as
//! the old plan would leave it and as the new plan would.

use serde::Serialize;
use serde_json::Value as J;

use crate::error::Error;
use crate::node::{self, Files, NodeRuntime};

/// One changed setting of the node change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeChange {
    /// The plan's field (`socket`, `setAsDefault`, ...).
    pub field: String,
    /// What it means, in one sentence.
    pub message: String,
    /// Old value.
    pub old: J,
    /// New value.
    pub new: J,
}

/// One node file under both plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeFileDiff {
    /// The file.
    pub path: String,
    /// Unified diff from the file as the old plan leaves it to the file as the new one does.
    pub diff: String,
}

fn show(value: &J) -> String {
    match value {
        J::Null => "(none)".into(),
        J::String(s) if s.is_empty() => "(empty)".into(),
        J::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn restart(mode: &J) -> String {
    match mode.as_str() {
        Some("signal") => "SIGHUP to the process behind its socket".into(),
        Some("systemd") => "systemctl restart".into(),
        Some("none") => "nobody (the change waits for its next restart)".into(),
        _ => show(mode),
    }
}

fn switched(value: &J) -> &'static str {
    if value == &J::Bool(true) { "on" } else { "off" }
}

/// The settings a reader looks for first; the rest follow by name.
const ORDER: &[&str] = &[
    "runtime",
    "configure",
    "config",
    "dropIn",
    "dropInHostPath",
    "socket",
    "runtimeName",
    "runtimes",
    "setAsDefault",
    "cdi",
    "enableCdi",
    "restartMode",
    "systemdUnit",
];

/// The changed settings, the most telling first.
pub fn changes(old: &NodeRuntime, new: &NodeRuntime) -> Vec<NodeChange> {
    let (J::Object(a), J::Object(b)) =
        (serde_json::to_value(old).unwrap_or_default(), serde_json::to_value(new).unwrap_or_default())
    else {
        return Vec::new();
    };
    let mut fields: Vec<(&String, &J)> = a.iter().collect();
    fields.sort_by_key(|(f, _)| (ORDER.iter().position(|o| o == f).unwrap_or(ORDER.len()), f.as_str()));
    let mut out = Vec::new();
    for (field, x) in fields {
        let y = b.get(field).unwrap_or(&J::Null);
        if x == y {
            continue;
        }
        if field == "runtimes" {
            out.extend(binaries(old, new));
            continue;
        }
        let (from, to) = (show(x), show(y));
        let message = match field.as_str() {
            "runtime" => format!("the container runtime changes from {from} to {to}"),
            "config" => format!("the runtime config file moves from {from} to {to}"),
            "dropIn" if x.is_null() => {
                format!("gpuplan's runtimes go into the drop-in {to}, no longer into the config itself")
            }
            "dropIn" if y.is_null() => {
                format!("gpuplan's runtimes are written into the config itself, no longer into the drop-in {from}")
            }
            "dropIn" => format!("the drop-in moves from {from} to {to}"),
            "dropInHostPath" => format!("the drop-in's path on the host (for `imports`) changes from {from} to {to}"),
            "socket" => format!("the runtime socket moves from {from} to {to}"),
            "runtimeName" => format!("the NVIDIA runtime is renamed from {from} to {to}"),
            "setAsDefault" if y == &J::Bool(true) => {
                format!("{} becomes the default runtime: pods without a runtimeClassName run with it", new.runtime_name)
            }
            "setAsDefault" => format!("{} is no longer the default runtime", old.runtime_name),
            "cdi" => format!("CDI is switched {}", switched(y)),
            "enableCdi" => format!("`enable_cdi` in the runtime's config is switched {}", switched(y)),
            "restartMode" => format!("the runtime is restarted by {} instead of {}", restart(y), restart(x)),
            "systemdUnit" => format!("the systemd unit restarted changes from {from} to {to}"),
            "installDir" => format!("the toolkit's install directory moves from {from} to {to}"),
            "hostRoot" => format!("the host's root is mounted at {to} instead of {from}"),
            "configure" if y == &J::Bool(false) => {
                "the node's runtime config is no longer changed (NRI plugin or NO_RUNTIME_CONFIG)".into()
            }
            "configure" => "the node's runtime config is changed again (no NRI plugin, no NO_RUNTIME_CONFIG)".into(),
            "source" => format!("the runtime's current config is read from {to} instead of {from}"),
            _ => format!("`{field}` changes from {from} to {to}"),
        };
        out.push(NodeChange { field: field.clone(), message, old: x.clone(), new: y.clone() });
    }
    out
}

/// The changed settings of every node agent's change: with one agent on each side, as
/// [`changes`]; with GPU nodes on several runtimes, each runtime's changes (in words that name
/// the runtime), and the runtimes that gain or lose a node agent.
pub fn agent_changes(old: &[&NodeRuntime], new: &[&NodeRuntime]) -> Vec<NodeChange> {
    if let ([a], [b]) = (old, new) {
        return changes(a, b);
    }
    let mut runtimes: Vec<_> = old.iter().chain(new).map(|n| n.runtime).collect();
    runtimes.sort();
    runtimes.dedup();
    let mut out = Vec::new();
    for runtime in runtimes {
        let name = runtime.name();
        let (a, b) = (old.iter().find(|n| n.runtime == runtime), new.iter().find(|n| n.runtime == runtime));
        match (a, b) {
            (Some(a), Some(b)) => out.extend(changes(a, b).into_iter().map(|c| NodeChange {
                message: format!("on {name} nodes, {}", c.message),
                field: format!("{name}.{}", c.field),
                ..c
            })),
            (None, Some(b)) => out.push(NodeChange {
                field: "agents".into(),
                message: format!("GPU nodes running {name} get a node agent of their own (it changes {})", b.config),
                old: J::Null,
                new: J::String(name.into()),
            }),
            (Some(a), None) => out.push(NodeChange {
                field: "agents".into(),
                message: format!(
                    "GPU nodes running {name} no longer have a node agent of their own ({} is given back)",
                    a.config
                ),
                old: J::String(name.into()),
                new: J::Null,
            }),
            (None, None) => {}
        }
    }
    out
}

/// Runtime binaries added, removed or moved, by runtime name.
fn binaries(old: &NodeRuntime, new: &NodeRuntime) -> Vec<NodeChange> {
    let mut out = Vec::new();
    let change = |message: String, x: Option<&str>, y: Option<&str>| NodeChange {
        field: "runtimes".into(),
        message,
        old: x.map_or(J::Null, |p| J::String(p.into())),
        new: y.map_or(J::Null, |p| J::String(p.into())),
    };
    for a in &old.runtimes {
        match new.runtimes.iter().find(|b| b.name == a.name) {
            Some(b) if b.path != a.path => out.push(change(
                format!("the {} runtime's binary moves from {} to {}", a.name, a.path, b.path),
                Some(&a.path),
                Some(&b.path),
            )),
            Some(_) => {}
            None => out.push(change(format!("the {} runtime is removed", a.name), Some(&a.path), None)),
        }
    }
    for b in new.runtimes.iter().filter(|b| !old.runtimes.iter().any(|a| a.name == b.name)) {
        out.push(change(format!("the {} runtime is added ({})", b.name, b.path), None, Some(&b.path)));
    }
    out
}

/// The node's files as each plan would leave them, diffed; `files` holds the current text of
/// every path of [`node::paths`] of both sides.
pub fn files(old: &NodeRuntime, new: &NodeRuntime, files: &Files) -> Result<Vec<NodeFileDiff>, Error> {
    let after = |node: &NodeRuntime| -> Result<Files, Error> {
        let change = node::apply(files, node, node::Foreign::Refuse)?;
        let mut out = files.clone();
        out.extend(change.files.into_iter().map(|f| (f.path, f.after)));
        Ok(out)
    };
    let (a, b) = (after(old)?, after(new)?);
    let mut paths: Vec<&String> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    Ok(paths
        .into_iter()
        .filter_map(|path| {
            let (x, y) = (a.get(path).cloned().flatten(), b.get(path).cloned().flatten());
            let diff = crate::diff::unified(path, x.as_deref(), y.as_deref());
            (!diff.is_empty()).then(|| NodeFileDiff { path: path.clone(), diff })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::RestartMode;

    fn node() -> NodeRuntime {
        let config = crate::resolve(crate::defaults().expect("defaults")).expect("config");
        crate::node_runtime(&config).0
    }

    #[test]
    fn given_the_default_flipped_and_the_restart_mode_changed_both_are_said_in_words() {
        let old = node();
        let new = NodeRuntime { set_as_default: !old.set_as_default, restart_mode: RestartMode::None, ..old.clone() };
        let messages: Vec<String> = changes(&old, &new).into_iter().map(|c| c.message).collect();
        let default = if new.set_as_default {
            "nvidia becomes the default runtime: pods without a runtimeClassName run with it"
        } else {
            "nvidia is no longer the default runtime"
        };
        assert_eq!(
            messages,
            [
                default,
                "the runtime is restarted by nobody (the change waits for its next restart) instead of SIGHUP to the process behind its socket"
            ]
        );
        assert_eq!(changes(&old, &old), []);
    }
}
