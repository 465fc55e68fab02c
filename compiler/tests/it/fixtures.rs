//! Builders that keep node tests to a few lines.

use gpuplan_compiler::Error;
use gpuplan_compiler::node::runtime::{CrioMode, RestartMode};
use gpuplan_compiler::node::{self, Change, Files, Foreign, NodeRuntime, RuntimeBinary, RuntimeKind};

/// The top-level containerd config path the fixtures use.
pub const CONFIG: &str = "/etc/containerd/config.toml";
/// The drop-in path the fixtures use.
pub const DROP_IN: &str = "/etc/containerd/conf.d/99-nvidia.toml";

/// gpuplan's default node change for containerd: three runtimes under /usr/local/nvidia,
/// a drop-in, CDI off in the runtime, not the default.
pub fn containerd() -> NodeRuntime {
    let bin = "/usr/local/nvidia/toolkit/nvidia-container-runtime";
    NodeRuntime {
        runtime: RuntimeKind::Containerd,
        config: CONFIG.into(),
        drop_in: Some(DROP_IN.into()),
        drop_in_host_path: None,
        source: None,
        socket: "/run/containerd/containerd.sock".into(),
        runtime_name: "nvidia".into(),
        runtimes: vec![
            RuntimeBinary { name: "nvidia".into(), path: bin.into() },
            RuntimeBinary { name: "nvidia-cdi".into(), path: format!("{bin}.cdi") },
            RuntimeBinary { name: "nvidia-legacy".into(), path: format!("{bin}.legacy") },
        ],
        set_as_default: false,
        cdi: false,
        enable_cdi: false,
        runtime_type: "io.containerd.runc.v2".into(),
        annotation_prefixes: Vec::new(),
        use_legacy_config: false,
        restart_mode: RestartMode::Signal,
        systemd_unit: "containerd".into(),
        install_dir: "/usr/local/nvidia".into(),
        host_root: "/host".into(),
        configure: true,
        crio_mode: CrioMode::Config,
        crio_hooks_dir: "/usr/share/containers/oci/hooks.d".into(),
        crio_hook_filename: "oci-nvidia-hook.json".into(),
    }
}

/// Files with the given texts (`None`: absent).
pub fn files(entries: &[(&str, Option<&str>)]) -> Files {
    entries.iter().map(|(p, t)| ((*p).to_owned(), t.map(str::to_owned))).collect()
}

/// The text a change leaves at a path.
pub fn after(change: &Change, path: &str) -> Option<String> {
    change.files.iter().find(|f| f.path == path).and_then(|f| f.after.clone())
}

/// `node::apply` refusing files gpuplan did not write, as the CLI does by default.
pub fn patch(files: &Files, node: &NodeRuntime) -> Result<Change, Error> {
    node::apply(files, node, Foreign::Refuse)
}

/// The files after a change: every step of its transaction made, the record included.
pub fn applied(mut files: Files, change: &Change) -> Files {
    for step in &change.steps {
        files.insert(step.path.clone(), step.text.clone());
    }
    files
}

/// The plan for value flags over the defaults, through the whole pipeline; the values must
/// pass `check` (warnings are fine).
pub fn plan_with(flags: &[(gpuplan_compiler::FlagKind, &str)]) -> gpuplan_compiler::plan::Plan {
    use gpuplan_compiler::{InputFlag, Inputs, Severity, Target};
    let flags = flags.iter().map(|(kind, text)| InputFlag { kind: *kind, text: (*text).into() }).collect();
    let inputs = Inputs { files: Vec::new(), flags };
    let compiled =
        gpuplan_compiler::compile(&inputs, &mut |_| Err("no files".into()), &Target::default()).expect("compiles");
    let errors: Vec<String> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{}: {}", d.pointer, d.message))
        .collect();
    assert!(errors.is_empty(), "the test's values are invalid: {errors:?}");
    compiled.plan.expect("a plan")
}

/// The plan for `--set` flags over the defaults.
pub fn plan(sets: &[&str]) -> gpuplan_compiler::plan::Plan {
    let flags: Vec<(gpuplan_compiler::FlagKind, &str)> =
        sets.iter().map(|s| (gpuplan_compiler::FlagKind::Set, *s)).collect();
    plan_with(&flags)
}

/// Every object of the plan for `--set` flags over the defaults.
pub fn objects(sets: &[&str]) -> Vec<serde_json::Value> {
    plan(sets).manifests().map(|m| m.object.clone()).collect()
}
