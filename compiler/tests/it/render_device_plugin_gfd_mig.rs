//! The `device-plugin`, `gpu-feature-discovery` and `mig-manager` stages, through the whole
//! pipeline: given `--set` values, the plan holds the objects the upstream operator creates for
//! them — names, images, env, selectors, mounts, runtimeClassName — and nothing when disabled.

use gpuplan_compiler::Source;
use gpuplan_compiler::values::load::load;
use serde_json::{Value, json};

/// `(source, object)` of every object the plan renders for `--set` flags over the defaults.
fn render(sets: &[&str]) -> Vec<(String, Value)> {
    super::fixtures::plan(sets).manifests().map(|m| (m.source.clone(), m.object.clone())).collect()
}

/// `kind/name` of every object rendered from one stage's templates.
fn stage(objects: &[(String, Value)], stage: &str) -> Vec<String> {
    let prefix = format!("gpuplan/{stage}/");
    let mut out: Vec<String> = objects
        .iter()
        .filter(|(source, _)| source.starts_with(&prefix))
        .map(|(_, o)| format!("{}/{}", o["kind"].as_str().unwrap_or(""), o["metadata"]["name"].as_str().unwrap_or("")))
        .collect();
    out.sort();
    out
}

fn find<'a>(objects: &'a [(String, Value)], kind: &str, name: &str) -> Option<&'a Value> {
    objects.iter().map(|(_, o)| o).find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn get<'a>(objects: &'a [(String, Value)], kind: &str, name: &str) -> &'a Value {
    find(objects, kind, name).unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn pod(ds: &Value) -> &Value {
    &ds["spec"]["template"]["spec"]
}

/// A container or init container of a DaemonSet, by name.
fn container<'a>(ds: &'a Value, name: &str) -> &'a Value {
    let spec = pod(ds);
    let mut all = spec["containers"].as_array().into_iter().chain(spec["initContainers"].as_array()).flatten();
    all.find(|c| c["name"] == name).unwrap_or_else(|| panic!("no container {name}"))
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect()
}

/// A container's env entry, by name.
fn env<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"].as_array().into_iter().flatten().find(|e| e["name"] == name)
}

fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    env(container, name).and_then(|e| e["value"].as_str())
}

fn volume<'a>(ds: &'a Value, name: &str) -> &'a Value {
    pod(ds)["volumes"].as_array().into_iter().flatten().find(|v| v["name"] == name).unwrap_or(&Value::Null)
}

fn mount_path<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["volumeMounts"].as_array().into_iter().flatten().find(|m| m["name"] == name)?["mountPath"].as_str()
}

const PLUGIN: &str = "nvidia-device-plugin-daemonset";
const MPS: &str = "nvidia-device-plugin-mps-control-daemon";
const GFD: &str = "gpu-feature-discovery";
const MIG: &str = "nvidia-mig-manager";
const DAEMONSETS: [&str; 4] = [PLUGIN, MPS, GFD, MIG];

fn rbac(name: &str) -> Vec<String> {
    ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"]
        .iter()
        .map(|kind| format!("{kind}/{name}"))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn given_the_defaults_each_stage_renders_upstreams_objects() {
    let objects = render(&[]);
    let mut plugin = rbac("nvidia-device-plugin");
    plugin.extend(rbac(MPS));
    plugin.extend([
        "ConfigMap/nvidia-device-plugin-entrypoint".into(),
        format!("DaemonSet/{PLUGIN}"),
        format!("DaemonSet/{MPS}"),
    ]);
    assert_eq!(stage(&objects, "device-plugin"), sorted(plugin));
    let mut gfd = rbac("nvidia-gpu-feature-discovery");
    gfd.push(format!("DaemonSet/{GFD}"));
    assert_eq!(stage(&objects, "gpu-feature-discovery"), sorted(gfd));
    let mut mig = rbac(MIG);
    mig.extend([
        "ConfigMap/default-gpu-clients".into(),
        "ConfigMap/default-mig-parted-config".into(),
        "ConfigMap/nvidia-mig-manager-entrypoint".into(),
        format!("DaemonSet/{MIG}"),
    ]);
    assert_eq!(stage(&objects, "mig-manager"), sorted(mig));

    for (source, object) in &objects {
        let ours = ["device-plugin", "gpu-feature-discovery", "mig-manager"];
        if !ours.iter().any(|s| source.starts_with(&format!("gpuplan/{s}/"))) {
            continue;
        }
        let meta = &object["metadata"];
        assert_eq!(meta["labels"]["app.kubernetes.io/managed-by"], "gpuplan", "{source}");
        let cluster_scoped = matches!(object["kind"].as_str(), Some("ClusterRole" | "ClusterRoleBinding"));
        assert_eq!(meta["namespace"].is_null(), cluster_scoped, "{source}: namespace");
    }
}

#[test]
fn given_the_defaults_the_device_plugin_runs_with_cdi_and_the_mig_strategy() {
    let objects = render(&[]);
    let ds = get(&objects, "DaemonSet", PLUGIN);
    let spec = pod(ds);
    assert_eq!(spec["nodeSelector"], json!({ "nvidia.com/gpu.deploy.device-plugin": "true" }));
    assert_eq!(spec["tolerations"], json!([{ "key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule" }]));
    assert_eq!(spec["serviceAccountName"], "nvidia-device-plugin");
    assert_eq!(spec["runtimeClassName"], "nvidia");
    assert_eq!(spec["priorityClassName"], "system-node-critical");
    assert!(spec.get("shareProcessNamespace").is_none());
    assert_eq!(names(&spec["initContainers"]), ["toolkit-validation"]);
    assert_eq!(names(&spec["containers"]), ["nvidia-device-plugin"]);
    assert_eq!(container(ds, "toolkit-validation")["image"], "nvcr.io/nvidia/gpu-operator:v26.7.0");

    let main = container(ds, "nvidia-device-plugin");
    assert_eq!(main["image"], "nvcr.io/nvidia/k8s-device-plugin:v0.20.0");
    assert_eq!(main["args"], json!(["/bin/entrypoint.sh"]));
    for (name, value) in [
        ("DEVICE_LIST_STRATEGY", "cdi-annotations,cdi-cri"),
        ("CDI_ENABLED", "true"),
        ("CDI_ANNOTATION_PREFIX", "cdi.k8s.io/"),
        ("NVIDIA_CDI_HOOK_PATH", "/usr/local/nvidia/toolkit/nvidia-cdi-hook"),
        ("MIG_STRATEGY", "single"),
        ("NVIDIA_MIG_MONITOR_DEVICES", "all"),
        ("MPS_ROOT", "/run/nvidia/mps"),
        ("PASS_DEVICE_SPECS", "true"),
    ] {
        assert_eq!(env_value(main, name), Some(value), "{name}");
    }
    assert_eq!(env(main, "CONFIG_FILE"), None);
    assert_eq!(mount_path(main, "device-plugin"), Some("/var/lib/kubelet/device-plugins"));
    assert_eq!(mount_path(main, "mps-root"), Some("/mps"));
    assert_eq!(volume(ds, "host-root")["hostPath"]["path"], "/");
    assert_eq!(volume(ds, "driver-install-dir")["hostPath"]["path"], "/run/nvidia/driver");
    assert_eq!(volume(ds, "mps-shm")["hostPath"]["path"], "/run/nvidia/mps/shm");
    assert_eq!(volume(ds, "nvidia-device-plugin-entrypoint")["configMap"]["name"], "nvidia-device-plugin-entrypoint");
    let script = &get(&objects, "ConfigMap", "nvidia-device-plugin-entrypoint")["data"]["entrypoint.sh"];
    assert!(script.as_str().is_some_and(|s| s.contains("exec nvidia-device-plugin")));
}

#[test]
fn given_the_defaults_the_mps_daemon_runs_only_on_mps_capable_nodes() {
    let objects = render(&[]);
    let ds = get(&objects, "DaemonSet", MPS);
    let spec = pod(ds);
    assert_eq!(
        spec["nodeSelector"],
        json!({ "nvidia.com/gpu.deploy.device-plugin": "true", "nvidia.com/mps.capable": "true" })
    );
    // As upstream: the daemon runs under the device plugin's account.
    assert_eq!(spec["serviceAccountName"], "nvidia-device-plugin");
    assert_eq!(spec["hostPID"], true);
    assert_eq!(spec["runtimeClassName"], "nvidia");
    assert_eq!(names(&spec["initContainers"]), ["toolkit-validation", "mps-control-daemon-mounts"]);
    let image = "nvcr.io/nvidia/k8s-device-plugin:v0.20.0";
    assert_eq!(container(ds, "mps-control-daemon-mounts")["image"], image);
    let main = container(ds, "mps-control-daemon-ctr");
    assert_eq!(main["image"], image);
    assert_eq!(env_value(main, "MIG_STRATEGY"), Some("single"));
    assert_eq!(env_value(main, "NVIDIA_DRIVER_CAPABILITIES"), Some("compute,utility"));
    assert_eq!(volume(ds, "mps-root")["hostPath"]["path"], "/run/nvidia/mps");
}

#[test]
fn given_the_defaults_gfd_labels_nodes_through_nfd_feature_files() {
    let objects = render(&[]);
    let ds = get(&objects, "DaemonSet", GFD);
    let selector = json!({ "app": GFD, "app.kubernetes.io/part-of": "nvidia-gpu" });
    assert_eq!(ds["spec"]["selector"]["matchLabels"], selector);
    assert_eq!(ds["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"], "nvidia-gpu");
    let spec = pod(ds);
    assert_eq!(spec["nodeSelector"], json!({ "nvidia.com/gpu.deploy.gpu-feature-discovery": "true" }));
    assert_eq!(spec["serviceAccountName"], "nvidia-gpu-feature-discovery");
    assert_eq!(spec["runtimeClassName"], "nvidia");
    let main = container(ds, GFD);
    assert_eq!(main["image"], "nvcr.io/nvidia/k8s-device-plugin:v0.20.0");
    assert!(main.get("args").is_none());
    assert_eq!(env_value(main, "MIG_STRATEGY"), Some("single"));
    assert_eq!(env_value(main, "GFD_SLEEP_INTERVAL"), Some("60s"));
    assert_eq!(mount_path(main, "output-dir"), Some("/etc/kubernetes/node-feature-discovery/features.d"));
    assert_eq!(volume(ds, "host-sys")["hostPath"]["path"], "/sys");
    let role = get(&objects, "Role", "nvidia-gpu-feature-discovery");
    assert!(role["rules"].as_array().into_iter().flatten().any(|r| r["resources"] == json!(["nodefeatures"])));
}

#[test]
fn given_the_defaults_the_mig_manager_falls_back_to_the_built_in_layouts() {
    let objects = render(&[]);
    let ds = get(&objects, "DaemonSet", MIG);
    let spec = pod(ds);
    assert_eq!(spec["nodeSelector"], json!({ "nvidia.com/gpu.deploy.mig-manager": "true" }));
    assert_eq!((&spec["hostPID"], &spec["hostIPC"]), (&json!(true), &json!(true)));
    assert_eq!(spec["serviceAccountName"], MIG);
    assert_eq!(spec["runtimeClassName"], "nvidia");
    let main = container(ds, MIG);
    assert_eq!(main["image"], "nvcr.io/nvidia/cloud-native/k8s-mig-manager:v0.15.0");
    assert_eq!(env_value(main, "DEFAULT_CONFIG_FILE"), Some("/mig-parted-config/config-default.yaml"));
    assert_eq!(env(main, "CONFIG_FILE"), None);
    assert_eq!(env_value(main, "GPU_CLIENTS_FILE"), Some("/gpu-clients/clients.yaml"));
    assert_eq!(
        env(main, "DEFAULT_GPU_CLIENTS_NAMESPACE").map(|e| &e["valueFrom"]),
        Some(&json!({ "fieldRef": { "fieldPath": "metadata.namespace" } }))
    );
    assert_eq!(env_value(main, "CDI_ENABLED"), Some("true"));
    assert_eq!(mount_path(main, "host-root"), Some("/host"));
    assert_eq!(volume(ds, "host-root")["hostPath"]["path"], "/");
    assert_eq!(
        volume(ds, "mig-parted-config")["configMap"],
        json!({ "name": "default-mig-parted-config", "items": [{ "key": "config.yaml", "path": "config-default.yaml" }] })
    );
    assert_eq!(volume(ds, "gpu-clients")["configMap"]["name"], "default-gpu-clients");

    let data = |name: &str, key: &str| {
        let text = get(&objects, "ConfigMap", name)["data"][key].as_str().unwrap_or_default().to_owned();
        load(&text, &Source::Inline).expect("the ConfigMap's file is YAML").to_json()
    };
    let layouts = data("default-mig-parted-config", "config.yaml");
    assert_eq!(layouts["version"], "v1");
    let configs = layouts["mig-configs"].as_object().expect("mig-configs");
    assert_eq!(configs.len(), 81);
    assert_eq!(configs["all-disabled"], json!([{ "devices": "all", "mig-enabled": false }]));
    assert_eq!(
        configs["all-1g.5gb.me"],
        json!([{ "devices": "all", "mig-enabled": true, "mig-devices": { "1g.5gb+me": 1 } }])
    );
    assert_eq!(configs["all-balanced"].as_array().map(Vec::len), Some(12));
    assert_eq!(
        configs["all-1g.10gb"][1]["device-filter"],
        json!(["0x20B010DE", "0x20B110DE", "0x20F110DE", "0x20F610DE"])
    );
    let clients = data("default-gpu-clients", "clients.yaml");
    assert_eq!(clients["systemd-services"].as_array().map(Vec::len), Some(9));
    assert_eq!(clients["systemd-services"][0], "nvsm.service");
}

#[test]
fn given_a_component_disabled_its_objects_are_gone() {
    let objects = render(&["devicePlugin.enabled=false,gfd.enabled=false,migManager.enabled=false"]);
    for s in ["device-plugin", "gpu-feature-discovery", "mig-manager"] {
        assert_eq!(stage(&objects, s), Vec::<String>::new(), "{s}");
    }
    let objects = render(&["gfd.enabled=false"]);
    assert!(find(&objects, "DaemonSet", PLUGIN).is_some() && find(&objects, "DaemonSet", MIG).is_some());
    assert!(find(&objects, "DaemonSet", GFD).is_none());
}

#[test]
fn given_a_plugin_config_the_plugin_mps_daemon_and_gfd_get_the_config_manager() {
    let objects = render(&[
        "devicePlugin.config.create=true,devicePlugin.config.name=sharing,devicePlugin.config.default=any",
        "devicePlugin.config.data.any=version: v1",
        "gfd.image=gfd-only",
    ]);
    let files = get(&objects, "ConfigMap", "sharing");
    assert_eq!(files["data"], json!({ "any": "version: v1" }));
    assert_eq!(files["metadata"]["namespace"], "gpu-operator");

    for (ds, main, process) in [
        (PLUGIN, "nvidia-device-plugin", "nvidia-device-plugin"),
        (MPS, "mps-control-daemon-ctr", "/usr/bin/mps-control-daemon"),
        (GFD, GFD, GFD),
    ] {
        let ds = get(&objects, "DaemonSet", ds);
        let init = container(ds, "config-manager-init");
        let sidecar = container(ds, "config-manager");
        // The config manager ships in the device plugin's image, also in GFD's pod.
        assert_eq!(init["image"], "nvcr.io/nvidia/k8s-device-plugin:v0.20.0");
        assert_eq!(sidecar["image"], "nvcr.io/nvidia/k8s-device-plugin:v0.20.0");
        assert_eq!(env_value(init, "ONESHOT"), Some("true"));
        assert_eq!(env_value(init, "DEFAULT_CONFIG"), Some("any"));
        assert_eq!(env_value(sidecar, "PROCESS_TO_SIGNAL"), Some(process));
        assert_eq!(env_value(sidecar, "FALLBACK_STRATEGIES"), Some("empty"));
        let main = container(ds, main);
        assert_eq!(env_value(main, "CONFIG_FILE"), Some("/config/config.yaml"));
        assert_eq!(mount_path(main, "sharing"), Some("/available-configs"));
        assert_eq!(mount_path(main, "config"), Some("/config"));
        assert_eq!(volume(ds, "sharing")["configMap"]["name"], "sharing");
        assert_eq!(volume(ds, "config")["emptyDir"], json!({}));
        // Without the host's PID namespace the sidecar needs the pod's to signal the process.
        let hostpid = pod(ds)["hostPID"] == true;
        assert_eq!(pod(ds)["shareProcessNamespace"] == true, !hostpid, "{}", ds["metadata"]["name"]);
    }
    assert_eq!(container(get(&objects, "DaemonSet", GFD), GFD)["image"], "nvcr.io/nvidia/gfd-only:v0.20.0");

    // A name without `create` refers to an existing ConfigMap: none is rendered.
    let objects = render(&["devicePlugin.config.name=existing"]);
    assert!(find(&objects, "ConfigMap", "existing").is_none());
    assert_eq!(volume(get(&objects, "DaemonSet", PLUGIN), "existing")["configMap"]["name"], "existing");
}

#[test]
fn given_a_custom_env_entry_it_is_set_by_name() {
    let objects = render(&[
        "devicePlugin.env[0].name=DEVICE_LIST_STRATEGY,devicePlugin.env[0].value=envvar",
        "devicePlugin.env[1].name=EXTRA,devicePlugin.env[1].value=1",
        "gfd.env[0].name=GFD_SLEEP_INTERVAL,gfd.env[0].value=10s",
        "gfd.env[1].name=MIG_STRATEGY,gfd.env[1].value=mixed",
        "migManager.env[0].name=GPU_CLIENTS_FILE,migManager.env[0].value=/x.yaml",
        "migManager.env[1].name=WITH_REBOOT,migManager.env[1].value=true",
    ]);
    let entries = |ds: &str, c: &str| -> Vec<String> {
        let container = container(get(&objects, "DaemonSet", ds), c);
        container["env"].as_array().into_iter().flatten().filter_map(|e| e["name"].as_str().map(String::from)).collect()
    };
    let plugin = container(get(&objects, "DaemonSet", PLUGIN), "nvidia-device-plugin");
    assert_eq!(env_value(plugin, "DEVICE_LIST_STRATEGY"), Some("envvar"), "the user's value wins over CDI's");
    let order = entries(PLUGIN, "nvidia-device-plugin");
    assert_eq!(order.iter().position(|n| n == "DEVICE_LIST_STRATEGY"), Some(2), "replaced in place");
    assert_eq!(order.last().map(String::as_str), Some("EXTRA"), "a new name is appended");

    let gfd = container(get(&objects, "DaemonSet", GFD), GFD);
    assert_eq!(env_value(gfd, "GFD_SLEEP_INTERVAL"), Some("10s"));
    // Upstream applies `gfd.env` before the MIG settings, so `mig.strategy` wins.
    assert_eq!(env_value(gfd, "MIG_STRATEGY"), Some("single"));

    let mig = container(get(&objects, "DaemonSet", MIG), MIG);
    assert_eq!(env_value(mig, "GPU_CLIENTS_FILE"), Some("/x.yaml"));
    assert_eq!(entries(MIG, MIG).last().map(String::as_str), Some("WITH_REBOOT"));
}

#[test]
fn given_args_they_replace_the_main_containers_args() {
    let objects =
        render(&["devicePlugin.args={--fail-on-init-error=false}", "gfd.args={--oneshot}", "migManager.args={-v}"]);
    let args = |ds: &str, c: &str| container(get(&objects, "DaemonSet", ds), c)["args"].clone();
    assert_eq!(args(PLUGIN, "nvidia-device-plugin"), json!(["--fail-on-init-error=false"]));
    assert_eq!(args(GFD, GFD), json!(["--oneshot"]));
    assert_eq!(args(MIG, MIG), json!(["-v"]));
    assert_eq!(args(MIG, "toolkit-validation").as_array().map(Vec::len), Some(1));
}

#[test]
fn given_resources_every_main_and_sidecar_container_gets_them() {
    let objects = render(&[
        "devicePlugin.resources.limits.memory=100Mi,gfd.resources.requests.cpu=10m",
        "migManager.resources.limits.cpu=1,devicePlugin.config.name=sharing",
    ]);
    let plugin = json!({ "limits": { "memory": "100Mi" } });
    for (ds, c, expected) in [
        (PLUGIN, "nvidia-device-plugin", &plugin),
        (PLUGIN, "config-manager", &plugin),
        (MPS, "mps-control-daemon-ctr", &plugin),
        (GFD, GFD, &json!({ "requests": { "cpu": "10m" } })),
        (GFD, "config-manager", &json!({ "requests": { "cpu": "10m" } })),
        (MIG, MIG, &json!({ "limits": { "cpu": 1 } })),
    ] {
        assert_eq!(&container(get(&objects, "DaemonSet", ds), c)["resources"], expected, "{ds}/{c}");
    }
    // As upstream: the component's resources are for its containers, not the init containers.
    for ds in DAEMONSETS {
        assert!(container(get(&objects, "DaemonSet", ds), "toolkit-validation").get("resources").is_none());
    }
}

#[test]
fn given_pull_secrets_host_network_and_a_digest_each_daemonset_takes_its_own() {
    let objects = render(&[
        "devicePlugin.imagePullSecrets={plugin-pull},gfd.imagePullSecrets={gfd-pull}",
        "migManager.imagePullSecrets={mig-pull}",
        "devicePlugin.hostNetwork=true,gfd.hostNetwork=true,migManager.hostNetwork=true",
        "migManager.version=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ]);
    for (ds, secret) in [(PLUGIN, "plugin-pull"), (MPS, "plugin-pull"), (GFD, "gfd-pull"), (MIG, "mig-pull")] {
        let spec = pod(get(&objects, "DaemonSet", ds));
        assert_eq!(spec["imagePullSecrets"], json!([{ "name": secret }]), "{ds}");
        assert_eq!((&spec["hostNetwork"], &spec["dnsPolicy"]), (&json!(true), &json!("ClusterFirstWithHostNet")));
    }
    let mig = container(get(&objects, "DaemonSet", MIG), MIG);
    assert_eq!(
        mig["image"],
        "nvcr.io/nvidia/cloud-native/k8s-mig-manager@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
}

#[test]
fn given_cri_o_without_cdi_or_nri_mode_no_daemonset_names_a_runtime_class() {
    let runtime_classes = |sets: &[&str]| {
        let objects = render(sets);
        DAEMONSETS.map(|ds| pod(get(&objects, "DaemonSet", ds))["runtimeClassName"].clone())
    };
    assert_eq!(
        runtime_classes(&["operator.defaultRuntime=crio,cdi.enabled=false"]),
        [Value::Null, Value::Null, Value::Null, Value::Null]
    );
    assert_eq!(
        runtime_classes(&["operator.defaultRuntime=crio"]),
        [json!("nvidia"), json!("nvidia"), json!("nvidia"), json!("nvidia")]
    );
    assert_eq!(runtime_classes(&["cdi.nriPluginEnabled=true"]), [Value::Null, Value::Null, Value::Null, Value::Null]);

    // In NRI mode the GPU container asks the plugin for its devices by annotation instead.
    let objects = render(&["cdi.nriPluginEnabled=true"]);
    for (ds, c) in [(PLUGIN, "nvidia-device-plugin"), (MPS, "mps-control-daemon-ctr"), (GFD, GFD), (MIG, MIG)] {
        let annotations = &get(&objects, "DaemonSet", ds)["spec"]["template"]["metadata"]["annotations"];
        assert!(annotations.get(format!("nvidia.cdi.k8s.io/container.{c}")).is_some(), "{ds}");
    }
}

#[test]
fn given_cdi_toolkit_and_mig_settings_the_gpu_env_follows() {
    let objects = render(&["cdi.enabled=false,mig.strategy=none"]);
    let plugin = container(get(&objects, "DaemonSet", PLUGIN), "nvidia-device-plugin");
    assert_eq!(env_value(plugin, "DEVICE_LIST_STRATEGY"), Some("envvar"));
    assert_eq!((env(plugin, "CDI_ENABLED"), env(plugin, "CDI_ANNOTATION_PREFIX")), (None, None));
    assert_eq!(env_value(plugin, "MIG_STRATEGY"), Some("none"));
    assert_eq!(env(plugin, "NVIDIA_MIG_MONITOR_DEVICES"), None);
    assert_eq!(env(container(get(&objects, "DaemonSet", MIG), MIG), "CDI_ENABLED"), None);

    let objects = render(&["toolkit.installDir=/opt/nvidia/,mig.strategy=mixed"]);
    let hook = Some("/opt/nvidia/toolkit/nvidia-cdi-hook");
    assert_eq!(
        env_value(container(get(&objects, "DaemonSet", PLUGIN), "nvidia-device-plugin"), "NVIDIA_CDI_HOOK_PATH"),
        hook
    );
    assert_eq!(env_value(container(get(&objects, "DaemonSet", MIG), MIG), "NVIDIA_CDI_HOOK_PATH"), hook);
    assert_eq!(env_value(container(get(&objects, "DaemonSet", GFD), GFD), "MIG_STRATEGY"), Some("mixed"));

    // The hook is only there when the operator installs the toolkit.
    let objects = render(&["toolkit.enabled=false"]);
    let plugin = container(get(&objects, "DaemonSet", PLUGIN), "nvidia-device-plugin");
    assert_eq!((env_value(plugin, "CDI_ENABLED"), env(plugin, "NVIDIA_CDI_HOOK_PATH")), (Some("true"), None));

    let objects = render(&["gds.enabled=true,gdrcopy.enabled=true"]);
    let plugin = container(get(&objects, "DaemonSet", PLUGIN), "nvidia-device-plugin");
    for name in ["GDS_ENABLED", "MOFED_ENABLED", "GDRCOPY_ENABLED"] {
        assert_eq!(env_value(plugin, name), Some("true"), "{name}");
    }
}

#[test]
fn given_host_paths_and_an_mps_root_the_mounts_follow() {
    let objects =
        render(&["hostPaths.rootFS=/host-fs,hostPaths.driverInstallDir=/opt/driver,devicePlugin.mps.root=/var/mps"]);
    let plugin = get(&objects, "DaemonSet", PLUGIN);
    assert_eq!(volume(plugin, "host-root")["hostPath"]["path"], "/host-fs");
    assert_eq!(volume(plugin, "driver-install-dir")["hostPath"]["path"], "/opt/driver");
    assert_eq!(volume(plugin, "mps-root")["hostPath"]["path"], "/var/mps");
    assert_eq!(volume(plugin, "mps-shm")["hostPath"]["path"], "/var/mps/shm");
    assert_eq!(env_value(container(plugin, "nvidia-device-plugin"), "MPS_ROOT"), Some("/var/mps"));
    // Every container of a pod that mounts the host's root learns where it is.
    assert_eq!(env_value(container(plugin, "toolkit-validation"), "HOST_ROOT"), Some("/host-fs"));
    assert_eq!(env_value(container(plugin, "nvidia-device-plugin"), "HOST_ROOT"), Some("/host-fs"));
    let mig = get(&objects, "DaemonSet", MIG);
    assert_eq!(volume(mig, "host-root")["hostPath"]["path"], "/host-fs");
    assert_eq!(env_value(container(mig, MIG), "HOST_ROOT"), Some("/host-fs"));
    let mps = get(&objects, "DaemonSet", MPS);
    assert_eq!(volume(mps, "mps-shm")["hostPath"]["path"], "/var/mps/shm");
    assert_eq!(env(container(get(&objects, "DaemonSet", GFD), GFD), "HOST_ROOT"), None);
}

#[test]
fn given_custom_mig_config_maps_the_built_in_ones_are_replaced() {
    let objects = render(&[
        "migManager.config.create=true,migManager.config.name=layouts",
        "migManager.config.data.config\\.yaml=version: v1",
        "migManager.gpuClientsConfig.name=clients",
    ]);
    assert!(find(&objects, "ConfigMap", "default-mig-parted-config").is_none());
    assert!(find(&objects, "ConfigMap", "default-gpu-clients").is_none());
    assert_eq!(get(&objects, "ConfigMap", "layouts")["data"], json!({ "config.yaml": "version: v1" }));
    let ds = get(&objects, "DaemonSet", MIG);
    assert_eq!(volume(ds, "mig-parted-config")["configMap"], json!({ "name": "layouts" }));
    assert_eq!(volume(ds, "gpu-clients")["configMap"], json!({ "name": "clients" }));
    let main = container(ds, MIG);
    assert_eq!(env_value(main, "CONFIG_FILE"), Some("/mig-parted-config/config.yaml"));
    assert_eq!(env(main, "DEFAULT_CONFIG_FILE"), None);

    // Without `create`, the named ConfigMap must already exist.
    let objects = render(&["migManager.config.name=existing"]);
    assert!(find(&objects, "ConfigMap", "existing").is_none());
    assert!(find(&objects, "ConfigMap", "default-gpu-clients").is_some());
}

#[test]
fn given_openshift_gfd_and_the_mig_manager_get_their_scc() {
    assert!(render(&[]).iter().all(|(_, o)| o["kind"] != "SecurityContextConstraints"));
    let objects = render(&["platform.openshift=true"]);
    for (name, host_ipc) in [("nvidia-gpu-feature-discovery", false), (MIG, true)] {
        let scc = get(&objects, "SecurityContextConstraints", name);
        assert_eq!(scc["users"], json!([format!("system:serviceaccount:gpu-operator:{name}")]));
        assert_eq!(scc["allowHostIPC"], host_ipc);
        assert_eq!(scc["allowPrivilegedContainer"], true);
    }
}

#[test]
fn given_daemonset_labels_they_never_replace_the_selector_labels() {
    let objects = render(&["daemonsets.labels.team=gpu,daemonsets.labels.app\\.kubernetes\\.io/part-of=mine"]);
    let ds = get(&objects, "DaemonSet", GFD);
    let labels = &ds["spec"]["template"]["metadata"]["labels"];
    assert_eq!((&labels["team"], &labels["app.kubernetes.io/part-of"]), (&json!("gpu"), &json!("nvidia-gpu")));
    assert_eq!(ds["spec"]["selector"]["matchLabels"]["app.kubernetes.io/part-of"], "nvidia-gpu");
}
