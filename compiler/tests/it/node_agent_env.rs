//! The node agent's configuration: the toolkit container's process environment resolved into
//! the same `NodeRuntime` the plan uses, with the toolkit's precedence and defaults, and bad
//! variables reported by name.

use std::collections::BTreeMap;

use gpuplan_compiler::node::{RestartMode, RuntimeKind};
use gpuplan_compiler::values::{Origin, Source};
use gpuplan_compiler::{Error, Severity, node_runtime_from_env};

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn errors_of(pairs: &[(&str, &str)]) -> Vec<gpuplan_compiler::Diagnostic> {
    match node_runtime_from_env(&vars(pairs)) {
        Err(Error::Invalid(d)) => d.into_iter().filter(|d| d.severity == Severity::Error).collect(),
        other => panic!("expected invalid settings, got {other:?}"),
    }
}

fn variable(d: &gpuplan_compiler::Diagnostic) -> Option<&str> {
    match &d.origin {
        Some(Origin { source: Source::Env(name), .. }) => Some(name),
        _ => None,
    }
}

#[test]
fn given_no_variables_the_toolkit_defaults_apply() {
    let (node, diagnostics) = node_runtime_from_env(&BTreeMap::new()).expect("valid");
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(node.runtime, RuntimeKind::Containerd);
    assert_eq!(node.config, "/etc/containerd/config.toml");
    assert_eq!(node.drop_in.as_deref(), Some("/etc/containerd/conf.d/99-nvidia.toml"));
    assert_eq!(node.socket, "/run/containerd/containerd.sock");
    assert_eq!(node.runtime_name, "nvidia");
    assert!(node.set_as_default, "the toolkit makes its runtime the default unless CDI is on");
    assert_eq!(node.restart_mode, RestartMode::Signal);
    assert_eq!(node.runtimes[0].path, "/usr/local/nvidia/toolkit/nvidia-container-runtime");
}

#[test]
fn given_the_seed_variables_the_agent_configures_that_containerd() {
    let (node, _) = node_runtime_from_env(&vars(&[
        ("CONTAINERD_CONFIG", "/srv/ctr/config.toml"),
        ("CONTAINERD_SOCKET", "/srv/ctr/ctr.sock"),
        ("CONTAINERD_RUNTIME_CLASS", "nvidia-gpu"),
        ("CONTAINERD_SET_AS_DEFAULT", "true"),
        ("RUNTIME_DROP_IN_CONFIG", ""),
        ("ROOT", "/opt/nvidia"),
    ]))
    .expect("valid");
    assert_eq!((node.config.as_str(), node.drop_in.as_deref()), ("/srv/ctr/config.toml", None));
    assert_eq!(node.socket, "/srv/ctr/ctr.sock");
    assert_eq!(node.runtime_name, "nvidia-gpu");
    assert!(node.set_as_default);
    assert_eq!(node.install_dir, "/opt/nvidia");
    assert_eq!(node.runtimes[0].name, "nvidia-gpu");
    assert_eq!(node.runtimes[2].path, "/opt/nvidia/toolkit/nvidia-container-runtime.legacy");
}

#[test]
fn given_cdi_the_runtime_is_not_the_default_unless_asked() {
    let (node, _) = node_runtime_from_env(&vars(&[("CDI_ENABLED", "true")])).expect("valid");
    assert!(node.cdi && node.enable_cdi && !node.set_as_default);
    let (node, warnings) =
        node_runtime_from_env(&vars(&[("CDI_ENABLED", "true"), ("NVIDIA_RUNTIME_SET_AS_DEFAULT", "1")]))
            .expect("valid");
    assert!(node.set_as_default);
    assert_eq!(warnings.iter().filter_map(variable).collect::<Vec<_>>(), ["NVIDIA_RUNTIME_SET_AS_DEFAULT"]);
}

#[test]
fn given_a_runtime_other_than_containerd_its_own_defaults_apply() {
    let (node, _) = node_runtime_from_env(&vars(&[("RUNTIME", "crio")])).expect("valid");
    assert_eq!((node.runtime, node.socket.as_str()), (RuntimeKind::Crio, "/var/run/crio/crio.sock"));
    let (node, _) =
        node_runtime_from_env(&vars(&[("RUNTIME", "docker"), ("RUNTIME_RESTART_MODE", "systemd")])).expect("valid");
    assert_eq!((node.runtime, node.restart_mode), (RuntimeKind::Docker, RestartMode::Systemd));
    assert_eq!(node.config, "/etc/docker/daemon.json");
}

#[test]
fn given_a_generic_and_a_containerd_alias_the_generic_one_is_read_first() {
    let (node, _) = node_runtime_from_env(&vars(&[("RUNTIME_SOCKET", "/a.sock")])).expect("valid");
    assert_eq!(node.socket, "/a.sock");
    let errors = errors_of(&[("RUNTIME_SOCKET", "/a.sock"), ("CONTAINERD_SOCKET", "/b.sock")]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].message.contains("`CONTAINERD_SOCKET` and `RUNTIME_SOCKET` both set"), "{}", errors[0]);
    assert_eq!(variable(&errors[0]), Some("CONTAINERD_SOCKET"));
}

#[test]
fn given_a_misspelt_variable_the_error_names_it_and_suggests_the_real_one() {
    let errors = errors_of(&[("CONTAINERD_SOCKETT", "/run/containerd/containerd.sock")]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(variable(&errors[0]), Some("CONTAINERD_SOCKETT"));
    assert_eq!(errors[0].hint.as_deref(), Some("did you mean `CONTAINERD_SOCKET`?"));
}

#[test]
fn given_bad_values_each_error_names_its_variable() {
    let errors = errors_of(&[("RUNTIME", "podman"), ("CONTAINERD_SET_AS_DEFAULT", "yes please")]);
    let mut named: Vec<&str> = errors.iter().filter_map(variable).collect();
    named.sort_unstable();
    assert_eq!(named, ["RUNTIME"], "the schema error stops resolution: {errors:?}");
    let errors = errors_of(&[("CONTAINERD_SET_AS_DEFAULT", "yes please"), ("RUNTIME_RESTART_MODE", "reboot")]);
    let mut named: Vec<&str> = errors.iter().filter_map(variable).collect();
    named.sort_unstable();
    assert_eq!(named, ["CONTAINERD_SET_AS_DEFAULT", "RUNTIME_RESTART_MODE"], "{errors:?}");
}

#[test]
fn given_variables_outside_the_contract_they_are_ignored() {
    let (node, diagnostics) =
        node_runtime_from_env(&vars(&[("HOME", "/root"), ("KUBERNETES_SERVICE_HOST", "10.0.0.1"), ("PATH", "/bin")]))
            .expect("valid");
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(node.config, "/etc/containerd/config.toml");
}
