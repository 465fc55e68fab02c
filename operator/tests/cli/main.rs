//! End-to-end tests of the `gpuplan` binary: one test binary, one module per command.

use assert_cmd::Command;

mod agent;
mod basics;
mod chart;
mod ci_recipe;
mod diff;
mod explain;
mod facts;
mod golden_diff;
mod golden_plan;
mod hostile_inputs;
mod link_order;
mod node;
mod node_faults;
mod output_dir;
mod saved_plan;
mod values;

/// The `gpuplan` binary under test.
pub fn gpuplan() -> Command {
    Command::cargo_bin("gpuplan").expect("the gpuplan binary is built")
}

/// The case directories of `golden/<kind>/`, in name order.
pub fn golden_cases(kind: &str) -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden").join(kind);
    let mut dirs: Vec<std::path::PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The seed command line from the design (what a user runs with `helm install` today).
pub fn seed_args() -> Vec<&'static str> {
    vec![
        "--set",
        "operator.defaultRuntime=containerd",
        "--set",
        "toolkit.env[0].name=CONTAINERD_CONFIG",
        "--set",
        "toolkit.env[0].value=/etc/containerd/config.toml",
        "--set",
        "toolkit.env[1].name=CONTAINERD_SOCKET",
        "--set",
        "toolkit.env[1].value=/run/containerd/containerd.sock",
        "--set",
        "toolkit.env[2].name=CONTAINERD_RUNTIME_CLASS",
        "--set",
        "toolkit.env[2].value=nvidia",
        "--set",
        "toolkit.env[3].name=CONTAINERD_SET_AS_DEFAULT",
        "--set",
        "toolkit.env[3].value=true",
    ]
}
