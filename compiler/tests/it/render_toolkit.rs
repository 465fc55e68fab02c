//! The container-toolkit stage against what the upstream operator's own unit tests expect for
//! the seed command line (gpu-operator.md 4.4): the same env contract and host mounts, split
//! between the toolkit installer and gpuplan's node agent — with one deliberate difference:
//! `CONTAINERD_SET_AS_DEFAULT=true` is honoured (upstream forces
//! `NVIDIA_RUNTIME_SET_AS_DEFAULT=false` under CDI, rancher/rke2#8752).

use std::collections::BTreeMap;

use gpuplan_compiler::plan::Plan;
use serde_json::Value as J;

/// The plan for `--set` flags over the defaults.
fn plan(flags: &[&str]) -> Plan {
    super::fixtures::plan(flags)
}

fn daemonset(plan: &Plan) -> &J {
    &plan
        .manifests()
        .find(|m| m.kind() == "DaemonSet" && m.name() == "nvidia-container-toolkit-daemonset")
        .expect("toolkit DaemonSet")
        .object
}

/// Every literal env value of every container (init containers included), by name.
fn env(ds: &J) -> BTreeMap<String, String> {
    let spec = &ds["spec"]["template"]["spec"];
    let containers = spec["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(spec["containers"].as_array().into_iter().flatten());
    let mut out = BTreeMap::new();
    for c in containers {
        for e in c["env"].as_array().into_iter().flatten() {
            if let (Some(n), Some(v)) = (e["name"].as_str(), e["value"].as_str()) {
                out.insert(n.to_owned(), v.to_owned());
            }
        }
    }
    out
}

const SEED: [&str; 9] = [
    "operator.defaultRuntime=containerd",
    "toolkit.env[0].name=CONTAINERD_CONFIG",
    "toolkit.env[0].value=/etc/containerd/config.toml",
    "toolkit.env[1].name=CONTAINERD_SOCKET",
    "toolkit.env[1].value=/run/containerd/containerd.sock",
    "toolkit.env[2].name=CONTAINERD_RUNTIME_CLASS",
    "toolkit.env[2].value=nvidia",
    "toolkit.env[3].name=CONTAINERD_SET_AS_DEFAULT",
    "toolkit.env[3].value=true",
];

#[test]
fn seed_command_gives_upstreams_env_contract() {
    let plan = plan(&SEED);
    let env = env(daemonset(&plan));
    let expected = [
        ("ROOT", "/usr/local/nvidia"),
        ("NVIDIA_CONTAINER_RUNTIME_MODES_CDI_DEFAULT_KIND", "management.nvidia.com/gpu"),
        ("NVIDIA_VISIBLE_DEVICES", "void"),
        ("TOOLKIT_PID_FILE", "/run/nvidia/toolkit/toolkit.pid"),
        ("CDI_ENABLED", "true"),
        ("NVIDIA_CONTAINER_RUNTIME_MODE", "cdi"),
        ("CRIO_CONFIG_MODE", "config"),
        ("RUNTIME", "containerd"),
        ("CONTAINERD_RUNTIME_CLASS", "nvidia"),
        ("RUNTIME_CONFIG", "/runtime/config-dir/config.toml"),
        ("CONTAINERD_CONFIG", "/runtime/config-dir/config.toml"),
        ("RUNTIME_DROP_IN_CONFIG", "/runtime/config-dir.d/99-nvidia.toml"),
        ("RUNTIME_DROP_IN_CONFIG_HOST_PATH", "/etc/containerd/conf.d/99-nvidia.toml"),
        ("RUNTIME_SOCKET", "/runtime/sock-dir/containerd.sock"),
        ("CONTAINERD_SOCKET", "/runtime/sock-dir/containerd.sock"),
        // Deliberate difference: upstream has "false" here, silently defeating the seed's
        // CONTAINERD_SET_AS_DEFAULT=true.
        ("NVIDIA_RUNTIME_SET_AS_DEFAULT", "true"),
    ];
    for (name, value) in expected {
        assert_eq!(env.get(name).map(String::as_str), Some(value), "{name}");
    }
}

#[test]
fn without_the_seeds_variable_set_as_default_follows_upstream() {
    let env = env(daemonset(&plan(&[])));
    assert_eq!(
        env.get("NVIDIA_RUNTIME_SET_AS_DEFAULT").map(String::as_str),
        Some("false"),
        "CDI on: not the default, as upstream"
    );
}

#[test]
fn seed_command_mounts_the_runtime_directories_as_upstream() {
    let plan = plan(&SEED);
    let spec = &daemonset(&plan)["spec"]["template"]["spec"];
    let volumes: BTreeMap<&str, &J> = spec["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .map(|v| (v["name"].as_str().unwrap_or_default(), &v["hostPath"]))
        .collect();
    assert_eq!(
        volumes["containerd-config"],
        &serde_json::json!({"path": "/etc/containerd", "type": "DirectoryOrCreate"})
    );
    assert_eq!(
        volumes["containerd-drop-in-config"],
        &serde_json::json!({"path": "/etc/containerd/conf.d", "type": "DirectoryOrCreate"})
    );
    assert_eq!(volumes["containerd-socket"], &serde_json::json!({"path": "/run/containerd"}));
    let agent = spec["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["name"] == "node-agent")
        .expect("node agent");
    let mounts: BTreeMap<&str, &str> = agent["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .map(|m| (m["name"].as_str().unwrap_or_default(), m["mountPath"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(mounts["containerd-config"], "/runtime/config-dir");
    assert_eq!(mounts["containerd-drop-in-config"], "/runtime/config-dir.d");
    assert_eq!(mounts["containerd-socket"], "/runtime/sock-dir");
    assert_eq!(spec["hostPID"], true);
}

#[test]
fn k3s_paths_are_mounted_from_the_k3s_directories() {
    let plan = plan(&[
        "toolkit.env[0].name=CONTAINERD_CONFIG",
        "toolkit.env[0].value=/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl",
        "toolkit.env[1].name=CONTAINERD_SOCKET",
        "toolkit.env[1].value=/run/k3s/containerd/containerd.sock",
    ]);
    let ds = daemonset(&plan);
    let env = env(ds);
    assert_eq!(env["CONTAINERD_CONFIG"], "/runtime/config-dir/config.toml.tmpl");
    assert_eq!(env["CONTAINERD_SOCKET"], "/runtime/sock-dir/containerd.sock");
    let text = serde_json::to_string(&ds["spec"]["template"]["spec"]["volumes"]).expect("json");
    assert!(text.contains("\"/var/lib/rancher/k3s/agent/etc/containerd\""), "{text}");
    assert!(text.contains("\"/run/k3s/containerd\""), "{text}");
}

#[test]
fn nri_mode_runs_nvidias_toolkit_and_no_runtime_classes() {
    let plan = plan(&["cdi.nriPluginEnabled=true"]);
    assert!(plan.manifests().all(|m| m.kind() != "RuntimeClass"));
    let ds = daemonset(&plan);
    let names: Vec<&str> = ds["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["nvidia-container-toolkit-ctr"]);
    assert_eq!(env(ds).get("ENABLE_NRI_PLUGIN").map(String::as_str), Some("true"));
}

#[test]
fn runtime_classes_follow_cdi_and_the_runtime_class_name() {
    let names = |plan: &Plan| {
        plan.manifests().filter(|m| m.kind() == "RuntimeClass").map(|m| m.name().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(names(&plan(&[])), ["nvidia", "nvidia-cdi", "nvidia-legacy"]);
    assert_eq!(names(&plan(&["cdi.enabled=false"])), ["nvidia"]);
    assert_eq!(names(&plan(&["operator.runtimeClass=gpu"])), ["gpu", "nvidia-cdi", "nvidia-legacy"]);
}

/// Issue 12: a rollout never takes every node's runtime down at once (one node at a time by
/// default, `toolkit.maxUnavailable` otherwise; `OnDelete` still wins), and the agent's grace
/// period covers a restart and its rollback.
#[test]
fn the_agents_rollout_is_one_node_at_a_time_with_time_to_finish_a_restart() {
    let strategy = |flags: &[&str]| daemonset(&plan(flags))["spec"]["updateStrategy"].clone();
    let one = serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}});
    assert_eq!(strategy(&[]), one);
    let quarter = strategy(&["toolkit.maxUnavailable=25%", "daemonsets.rollingUpdate.maxUnavailable=5"]);
    assert_eq!(quarter["rollingUpdate"]["maxUnavailable"], "25%");
    assert_eq!(strategy(&["daemonsets.updateStrategy=OnDelete"]), serde_json::json!({"type": "OnDelete"}));

    let plan = plan(&[]);
    let ds = daemonset(&plan);
    let pod = &ds["spec"]["template"]["spec"];
    let agent = &pod["containers"][0];
    assert_eq!(agent["args"], serde_json::json!(["--restart-timeout", "60"]));
    let grace = pod["terminationGracePeriodSeconds"].as_u64().expect("a grace period");
    assert!(grace > 2 * 60, "a restart and its rollback fit in {grace} s");
}

/// Issue 12: CRI-O nodes get the CRI-O socket directory mounted and its path passed, so the
/// agent can wait for CRI-O after `systemctl restart crio`.
#[test]
fn crio_nodes_get_the_crio_socket() {
    let plan = plan(&["operator.defaultRuntime=crio"]);
    let ds = daemonset(&plan);
    let vars = env(ds);
    assert_eq!(vars.get("RUNTIME_SOCKET").map(String::as_str), Some("/runtime/sock-dir/crio.sock"));
    assert_eq!(vars.get("RUNTIME_RESTART_MODE").map(String::as_str), Some("systemd"));
    let volumes = ds["spec"]["template"]["spec"]["volumes"].as_array().expect("volumes");
    let socket = volumes.iter().find(|v| v["name"] == "crio-socket").expect("a crio-socket volume");
    assert_eq!(socket["hostPath"]["path"], "/var/run/crio");
}
