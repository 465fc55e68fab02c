//! The `driver` and `operator-validation` stages, through the real pipeline: `--set` flags in,
//! the plan's objects out, read as a reviewer reads them.

use serde_json::{Value as J, json};

const DRIVER_DS: &str = "nvidia-driver-daemonset";
const VALIDATOR: &str = "nvidia-operator-validator";

/// Every object of the plan for `--set` flags over the defaults.
fn objects(sets: &[&str]) -> Vec<J> {
    super::fixtures::objects(sets)
}

fn find<'a>(objects: &'a [J], kind: &str, name: &str) -> Option<&'a J> {
    objects.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn get<'a>(objects: &'a [J], kind: &str, name: &str) -> &'a J {
    find(objects, kind, name).unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn pod(ds: &J) -> &J {
    &ds["spec"]["template"]["spec"]
}

/// A container or init container of a DaemonSet by name.
fn container<'a>(ds: &'a J, name: &str) -> &'a J {
    let spec = pod(ds);
    spec["initContainers"]
        .as_array()
        .into_iter()
        .chain(spec["containers"].as_array())
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn names(list: &J) -> Vec<&str> {
    list.as_array().map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect()).unwrap_or_default()
}

/// The env of a container as `(name, literal value or "<from:...>")`, in order.
fn env(c: &J) -> Vec<(String, String)> {
    let entries = c["env"].as_array().cloned().unwrap_or_default();
    entries
        .iter()
        .map(|e| {
            let value = match e.get("value") {
                Some(v) => v.as_str().unwrap_or_default().to_owned(),
                None => format!("<from:{}>", e["valueFrom"]["fieldRef"]["fieldPath"].as_str().unwrap_or("?")),
            };
            (e["name"].as_str().unwrap_or_default().to_owned(), value)
        })
        .collect()
}

fn env_value(c: &J, name: &str) -> Option<String> {
    env(c).into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn env_names(c: &J) -> Vec<String> {
    env(c).into_iter().map(|(n, _)| n).collect()
}

fn mount<'a>(c: &'a J, path: &str) -> Option<&'a J> {
    c["volumeMounts"].as_array()?.iter().find(|m| m["mountPath"] == path)
}

fn volume<'a>(ds: &'a J, name: &str) -> Option<&'a J> {
    pod(ds)["volumes"].as_array()?.iter().find(|v| v["name"] == name)
}

#[test]
fn given_defaults_the_driver_stage_renders_upstreams_objects() {
    let objects = objects(&[]);
    for kind in ["ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"] {
        let o = get(&objects, kind, "nvidia-driver");
        assert_eq!(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "gpuplan", "{kind}");
    }
    assert_eq!(get(&objects, "Role", "nvidia-driver")["metadata"]["namespace"], "gpu-operator");
    assert!(get(&objects, "ClusterRole", "nvidia-driver")["metadata"].get("namespace").is_none());
    let binding = get(&objects, "ClusterRoleBinding", "nvidia-driver");
    assert_eq!(
        binding["subjects"][0],
        json!({ "kind": "ServiceAccount", "name": "nvidia-driver", "namespace": "gpu-operator" })
    );
    let evict = &get(&objects, "ClusterRole", "nvidia-driver")["rules"];
    assert!(evict.as_array().expect("rules").iter().any(|r| r["resources"] == json!(["pods/eviction"])));
    let probe = get(&objects, "ConfigMap", "nvidia-driver-startup-probe");
    let script = probe["data"]["startup-probe.sh"].as_str().expect("script");
    assert!(script.contains("dir=/run/nvidia/validations") && script.contains(".driver-ctr-ready"));
    assert!(script.contains("nvidia-smi"));
    assert!(find(&objects, "SecurityContextConstraints", "nvidia-driver").is_none(), "OpenShift only");

    let ds = get(&objects, "DaemonSet", DRIVER_DS);
    assert_eq!(ds["metadata"]["namespace"], "gpu-operator");
    assert_eq!(ds["metadata"]["labels"]["app.kubernetes.io/managed-by"], "gpuplan");
    assert_eq!(ds["metadata"]["labels"]["nvidia.com/precompiled"], "false");
    assert_eq!(ds["spec"]["updateStrategy"], json!({ "type": "OnDelete" }));
    assert_eq!(ds["spec"]["selector"]["matchLabels"], json!({ "app": DRIVER_DS }));
    let spec = pod(ds);
    assert_eq!(spec["hostPID"], true);
    assert_eq!(spec["nodeSelector"], json!({ "nvidia.com/gpu.deploy.driver": "true" }));
    assert_eq!(spec["tolerations"], json!([{ "key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule" }]));
    assert_eq!(spec["serviceAccountName"], "nvidia-driver");
    assert_eq!(spec["priorityClassName"], "system-node-critical");
    assert!(spec.get("runtimeClassName").is_none(), "the driver runs before the runtime handler exists");
    assert_eq!(names(&spec["initContainers"]), ["k8s-driver-manager"]);
    assert_eq!(names(&spec["containers"]), ["nvidia-driver-ctr"], "no peermem without RDMA");

    let manager = container(ds, "k8s-driver-manager");
    assert_eq!(manager["image"], "nvcr.io/nvidia/cloud-native/k8s-driver-manager:v0.12.0");
    assert_eq!(manager["args"], json!(["uninstall_driver"]));
    assert_eq!(env_value(manager, "ENABLE_GPU_POD_EVICTION").as_deref(), Some("true"));
    assert_eq!(env_value(manager, "DRAIN_TIMEOUT_SECONDS").as_deref(), Some("0s"));
    assert_eq!(env_value(manager, "OPERATOR_NAMESPACE").as_deref(), Some("<from:metadata.namespace>"));

    let driver = container(ds, "nvidia-driver-ctr");
    // The OS suffix upstream appends from NFD labels cannot be known offline: version as given.
    assert_eq!(driver["image"], "nvcr.io/nvidia/driver:595.91.07");
    assert_eq!(driver["command"], json!(["nvidia-driver"]));
    assert_eq!(driver["args"], json!(["init"]));
    assert_eq!(driver["securityContext"]["privileged"], true);
    assert_eq!(
        env_names(driver),
        ["NODE_NAME", "NODE_IP", "KERNEL_MODULE_TYPE", "DRIVER_CONFIG_DIGEST"].map(String::from).to_vec()
    );
    assert_eq!(env_value(driver, "KERNEL_MODULE_TYPE").as_deref(), Some("auto"));
    assert_eq!(env_value(driver, "DRIVER_CONFIG_DIGEST"), env_value(manager, "DRIVER_CONFIG_DIGEST"));
    assert_eq!(
        driver["startupProbe"],
        json!({
            "exec": { "command": ["sh", "/usr/local/bin/startup-probe.sh"] },
            "initialDelaySeconds": 60, "periodSeconds": 10, "timeoutSeconds": 60,
            "failureThreshold": 120, "successThreshold": 1,
        })
    );
    assert_eq!(mount(driver, "/usr/local/bin/startup-probe.sh").expect("probe script")["subPath"], "startup-probe.sh");
    assert_eq!(mount(driver, "/run/nvidia").expect("run-nvidia")["mountPropagation"], "Bidirectional");
    assert!(driver.get("resources").is_none() && driver.get("envFrom").is_none());
    assert_eq!(volume(ds, "host-root").expect("host-root")["hostPath"]["path"], "/");
    assert_eq!(volume(ds, "driver-startup-probe-script").expect("probe")["configMap"]["defaultMode"], 0o755);
    assert_eq!(spec["hostNetwork"], false);
    assert!(spec.get("dnsPolicy").is_none());
}

#[test]
fn given_defaults_the_validator_runs_its_steps_in_order_with_the_runtime_class() {
    let objects = objects(&[]);
    for kind in ["ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"] {
        get(&objects, kind, VALIDATOR);
    }
    let ds = get(&objects, "DaemonSet", VALIDATOR);
    assert_eq!(
        ds["spec"]["selector"]["matchLabels"],
        json!({ "app": VALIDATOR, "app.kubernetes.io/part-of": "gpu-operator" })
    );
    assert_eq!(ds["spec"]["updateStrategy"]["type"], "RollingUpdate");
    let spec = pod(ds);
    assert_eq!(spec["runtimeClassName"], "nvidia");
    assert_eq!(spec["nodeSelector"], json!({ "nvidia.com/gpu.deploy.operator-validator": "true" }));
    assert_eq!(spec["serviceAccountName"], VALIDATOR);
    assert_eq!(
        names(&spec["initContainers"]),
        ["driver-validation", "toolkit-validation", "cuda-validation", "plugin-validation"]
    );
    assert_eq!(names(&spec["containers"]), [VALIDATOR]);
    let image = "nvcr.io/nvidia/gpu-operator:v26.7.0";
    for c in ["driver-validation", "toolkit-validation", "cuda-validation", "plugin-validation", VALIDATOR] {
        let c = container(ds, c);
        assert_eq!(c["image"], image);
        assert_eq!(c["securityContext"]["runAsUser"], 0);
        assert_eq!(mount(c, "/run/nvidia/validations").expect("markers")["mountPropagation"], "Bidirectional");
    }
    let driver = container(ds, "driver-validation");
    assert_eq!(env_value(driver, "COMPONENT").as_deref(), Some("driver"));
    assert_eq!(env_value(driver, "WITH_WAIT").as_deref(), Some("true"));
    assert_eq!(mount(driver, "/run/nvidia/driver").expect("driver root")["name"], "driver-install-dir");
    assert_eq!(env_value(container(ds, "toolkit-validation"), "NVIDIA_VISIBLE_DEVICES").as_deref(), Some("all"));
    let cuda = container(ds, "cuda-validation");
    assert_eq!(env_value(cuda, "VALIDATOR_IMAGE").as_deref(), Some(image));
    assert_eq!(env_value(cuda, "VALIDATOR_RUNTIME_CLASS").as_deref(), Some("nvidia"));
    assert_eq!(env_value(cuda, "VALIDATOR_IMAGE_PULL_SECRETS"), None);
    let plugin = container(ds, "plugin-validation");
    assert_eq!(env_value(plugin, "MIG_STRATEGY").as_deref(), Some("single"));
    assert_eq!(env_names(plugin)[..4], ["COMPONENT", "WITH_WAIT", "WITH_WORKLOAD", "MIG_STRATEGY"].map(String::from));
    let main = container(ds, VALIDATOR);
    assert_eq!(main["args"], json!(["echo all validations are successful; while true; do sleep 86400; done"]));
    assert_eq!(volume(ds, "host-dev-char").expect("dev char")["hostPath"]["path"], "/dev/char");
}

#[test]
fn given_the_driver_disabled_or_managed_by_nvidiadriver_objects_no_driver_object_is_rendered() {
    for sets in [&["driver.enabled=false"][..], &["driver.nvidiaDriverCRD.enabled=true"][..]] {
        let objects = objects(sets);
        assert!(
            !objects.iter().any(|o| {
                let name = o["metadata"]["name"].as_str().unwrap_or_default();
                name.starts_with("nvidia-driver")
            }),
            "{sets:?}"
        );
        // The validator stays, unchanged: it finds a host driver by itself.
        let ds = get(&objects, "DaemonSet", VALIDATOR);
        assert_eq!(names(&pod(ds)["initContainers"]).len(), 4, "{sets:?}");
    }
}

#[test]
fn given_any_update_strategy_the_driver_stays_on_delete() {
    let objects = objects(&["daemonsets.updateStrategy=RollingUpdate", "daemonsets.rollingUpdate.maxUnavailable=3"]);
    assert_eq!(get(&objects, "DaemonSet", DRIVER_DS)["spec"]["updateStrategy"], json!({ "type": "OnDelete" }));
    let validator = get(&objects, "DaemonSet", VALIDATOR);
    assert_eq!(validator["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"], 3);
}

#[test]
fn given_custom_env_entries_they_replace_by_name_in_place_or_append() {
    let objects = objects(&[
        "driver.env[0].name=KERNEL_MODULE_TYPE,driver.env[0].value=open",
        "driver.env[1].name=EXTRA,driver.env[1].value=true",
        "driver.manager.env[0].name=ENABLE_GPU_POD_EVICTION,driver.manager.env[0].value=false",
        "driver.manager.env[1].name=DRAIN_TIMEOUT_SECONDS,driver.manager.env[1].value=300s",
    ]);
    let ds = get(&objects, "DaemonSet", DRIVER_DS);
    let driver = container(ds, "nvidia-driver-ctr");
    assert_eq!(
        env(driver)[..4],
        [
            ("NODE_NAME", "<from:spec.nodeName>"),
            ("NODE_IP", "<from:status.hostIP>"),
            ("KERNEL_MODULE_TYPE", "open"),
            ("EXTRA", "true")
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    let manager = container(ds, "k8s-driver-manager");
    assert_eq!(env_names(manager)[2], "ENABLE_GPU_POD_EVICTION", "replaced where the asset has it");
    assert_eq!(env_value(manager, "ENABLE_GPU_POD_EVICTION").as_deref(), Some("false"));
    assert_eq!(env_value(manager, "DRAIN_TIMEOUT_SECONDS").as_deref(), Some("300s"));
}

#[test]
fn given_a_changed_driver_setting_the_config_digest_changes() {
    let digest = |sets: &[&str]| {
        let objects = objects(sets);
        env_value(container(get(&objects, "DaemonSet", DRIVER_DS), "nvidia-driver-ctr"), "DRIVER_CONFIG_DIGEST")
            .expect("digest")
    };
    let base = digest(&[]);
    assert_eq!(base.len(), 64);
    assert_eq!(base, digest(&[]), "deterministic");
    assert_eq!(base, digest(&["driver.startupProbe.periodSeconds=20"]), "probes do not reinstall the driver");
    assert_ne!(base, digest(&["driver.version=580.95.05"]));
    assert_ne!(base, digest(&["driver.kernelModuleType=open"]));
}

#[test]
fn given_args_resources_secrets_host_network_and_a_digest_the_driver_pod_follows() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let objects = objects(&[
        "driver.args[0]=init",
        "driver.args[1]=--debug",
        "driver.resources.limits.memory=2Gi",
        "driver.resources.requests.cpu=500m",
        "driver.imagePullSecrets[0]=driver-pull",
        "validator.imagePullSecrets[0]=validator-pull",
        "driver.hostNetwork=true",
        &format!("driver.version={digest}"),
        "driver.kernelModuleType=open",
        "driver.startupProbe.initialDelaySeconds=5",
        "driver.startupProbe.failureThreshold=400",
    ]);
    let ds = get(&objects, "DaemonSet", DRIVER_DS);
    let spec = pod(ds);
    let driver = container(ds, "nvidia-driver-ctr");
    assert_eq!(driver["args"], json!(["init", "--debug"]));
    assert_eq!(driver["image"], format!("nvcr.io/nvidia/driver@{digest}"));
    assert_eq!(driver["resources"], json!({ "limits": { "memory": "2Gi" }, "requests": { "cpu": "500m" } }));
    assert!(
        container(ds, "k8s-driver-manager").get("resources").is_none(),
        "upstream sizes the driver containers only"
    );
    // The operator adds the validator's secrets to every operand first, as upstream.
    assert_eq!(spec["imagePullSecrets"], json!([{ "name": "validator-pull" }, { "name": "driver-pull" }]));
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(env_value(driver, "KERNEL_MODULE_TYPE").as_deref(), Some("open"));
    assert_eq!(env_value(driver, "OPEN_KERNEL_MODULES_ENABLED").as_deref(), Some("true"));
    let probe = &driver["startupProbe"];
    assert_eq!((probe["initialDelaySeconds"].clone(), probe["failureThreshold"].clone()), (json!(5), json!(400)));
    assert_eq!(probe["timeoutSeconds"], 60);
}

#[test]
fn given_rdma_the_peermem_container_runs_with_the_driver_image() {
    let objects = objects(&[
        "driver.rdma.enabled=true",
        "driver.rdma.useHostMofed=true",
        "driver.kernelModuleConfig.name=kmod-params",
    ]);
    let ds = get(&objects, "DaemonSet", DRIVER_DS);
    assert_eq!(names(&pod(ds)["containers"]), ["nvidia-driver-ctr", "nvidia-peermem-ctr"]);
    let peermem = container(ds, "nvidia-peermem-ctr");
    assert_eq!(peermem["image"], "nvcr.io/nvidia/driver:595.91.07");
    assert_eq!(peermem["args"], json!(["reload_nvidia_peermem"]));
    assert_eq!(env_value(peermem, "USE_HOST_MOFED").as_deref(), Some("true"));
    assert!(mount(peermem, "/drivers/nvidia-peermem.conf").is_some(), "module parameters reach peermem too");
    for name in ["k8s-driver-manager", "nvidia-driver-ctr"] {
        let c = container(ds, name);
        assert_eq!(env_value(c, "GPU_DIRECT_RDMA_ENABLED").as_deref(), Some("true"), "{name}");
        assert_eq!(env_value(c, "USE_HOST_MOFED").as_deref(), Some("true"), "{name}");
    }
    assert_eq!(volume(ds, "mlnx-ofed-usr-src").expect("ofed src")["hostPath"]["path"], "/usr/src");
}

#[test]
fn given_config_maps_and_secrets_the_driver_mounts_them() {
    let objects = objects(&[
        "driver.repoConfig.configMapName=repos",
        "driver.certConfig.name=certs",
        "driver.licensingConfig.secretName=licensing",
        "driver.virtualTopology.config=topology",
        "driver.kernelModuleConfig.name=kmod-params",
        "driver.secretEnv=driver-secrets",
    ]);
    let ds = get(&objects, "DaemonSet", DRIVER_DS);
    let driver = container(ds, "nvidia-driver-ctr");
    assert_eq!(driver["envFrom"], json!([{ "secretRef": { "name": "driver-secrets" } }]));
    for dir in ["/etc/apt/sources.list.d", "/etc/yum.repos.d"] {
        assert_eq!(mount(driver, dir).expect(dir)["name"], "repos");
    }
    for dir in ["/usr/local/share/ca-certificates", "/etc/pki/ca-trust/extracted/pem"] {
        assert_eq!(mount(driver, dir).expect(dir)["name"], "certs");
    }
    assert_eq!(volume(ds, "repos").expect("repos")["configMap"]["name"], "repos");
    let licensing = volume(ds, "licensing-config").expect("licensing");
    assert_eq!(licensing["secret"]["secretName"], "licensing");
    assert_eq!(names_of_keys(&licensing["secret"]["items"]), ["gridd.conf", "client_configuration_token.tok"]);
    assert_eq!(mount(driver, "/drivers/gridd.conf").expect("gridd")["subPath"], "gridd.conf");
    assert!(mount(driver, "/drivers/ClientConfigToken/client_configuration_token.tok").is_some(), "NLS token");
    assert_eq!(volume(ds, "topology-config").expect("topology")["configMap"]["name"], "topology");
    assert!(mount(driver, "/etc/nvidia/nvidia-topologyd.conf").is_some());
    for module in ["nvidia", "nvidia-uvm", "nvidia-modeset", "nvidia-peermem"] {
        let at = format!("/drivers/{module}.conf");
        let m = mount(driver, &at).unwrap_or_else(|| panic!("{at}"));
        assert_eq!(
            (m["name"].as_str(), m["subPath"].as_str()),
            (Some("kmod-params"), Some(&*format!("{module}.conf")))
        );
    }
}

fn names_of_keys(items: &J) -> Vec<&str> {
    items.as_array().map(|a| a.iter().filter_map(|i| i["key"].as_str()).collect()).unwrap_or_default()
}

#[test]
fn given_precompiled_drivers_repositories_certificates_and_secret_env_are_skipped() {
    let objects = objects(&[
        "driver.usePrecompiled=true",
        "driver.version=570",
        "driver.repoConfig.configMapName=repos",
        "driver.secretEnv=driver-secrets",
        "driver.licensingConfig.secretName=",
        "driver.licensingConfig.nlsEnabled=false",
    ]);
    let ds = get(&objects, "DaemonSet", DRIVER_DS);
    assert_eq!(ds["metadata"]["labels"]["nvidia.com/precompiled"], "true");
    assert_eq!(ds["spec"]["template"]["metadata"]["labels"]["nvidia.com/precompiled"], "true");
    let driver = container(ds, "nvidia-driver-ctr");
    assert!(driver.get("envFrom").is_none());
    assert!(mount(driver, "/etc/apt/sources.list.d").is_none());
    assert!(volume(ds, "repos").is_none() && volume(ds, "licensing-config").is_none());
}

#[test]
fn given_a_legacy_licensing_config_map_and_no_nls_only_gridd_conf_is_mounted() {
    let objects = objects(&["driver.licensingConfig.configMapName=legacy", "driver.licensingConfig.nlsEnabled=false"]);
    let ds = get(&objects, "DaemonSet", DRIVER_DS);
    let licensing = volume(ds, "licensing-config").expect("licensing");
    assert_eq!(licensing["configMap"]["name"], "legacy");
    assert_eq!(names_of_keys(&licensing["configMap"]["items"]), ["gridd.conf"]);
}

#[test]
fn given_custom_host_paths_host_root_and_the_driver_directory_follow() {
    let objects = objects(&["hostPaths.rootFS=/sysroot", "hostPaths.driverInstallDir=/opt/nvidia/driver"]);
    let driver_ds = get(&objects, "DaemonSet", DRIVER_DS);
    assert_eq!(volume(driver_ds, "host-root").expect("root")["hostPath"]["path"], "/sysroot");
    for name in ["k8s-driver-manager", "nvidia-driver-ctr"] {
        assert_eq!(env_value(container(driver_ds, name), "HOST_ROOT").as_deref(), Some("/sysroot"), "{name}");
    }
    let ds = get(&objects, "DaemonSet", VALIDATOR);
    assert_eq!(volume(ds, "host-root").expect("root")["hostPath"]["path"], "/sysroot");
    assert_eq!(volume(ds, "host-dev-char").expect("dev char")["hostPath"]["path"], "/sysroot/dev/char");
    assert_eq!(volume(ds, "driver-install-dir").expect("driver dir")["hostPath"]["path"], "/opt/nvidia/driver");
    let driver = container(ds, "driver-validation");
    assert_eq!(mount(driver, "/opt/nvidia/driver").expect("driver dir")["name"], "driver-install-dir");
    assert_eq!(env_value(driver, "DRIVER_INSTALL_DIR").as_deref(), Some("/opt/nvidia/driver"));
    assert_eq!(env_value(driver, "DRIVER_INSTALL_DIR_CTR_PATH").as_deref(), Some("/opt/nvidia/driver"));
    assert_eq!(env_value(container(ds, VALIDATOR), "HOST_ROOT").as_deref(), Some("/sysroot"));
}

#[test]
fn given_validator_settings_each_step_gets_its_own_env_and_the_main_container_the_rest() {
    let objects = objects(&[
        "validator.driver.env[0].name=DISABLE_DEV_CHAR_SYMLINK_CREATION,validator.driver.env[0].value=true",
        "validator.toolkit.env[0].name=WITH_WAIT,validator.toolkit.env[0].value=true",
        "validator.cuda.env[0].name=CUDA_EXTRA,validator.cuda.env[0].value=1",
        "validator.plugin.env[0].name=WITH_WORKLOAD,validator.plugin.env[0].value=true",
        "validator.env[0].name=MAIN_ONLY,validator.env[0].value=yes",
        "validator.args[0]=sleep infinity",
        "validator.resources.limits.cpu=100m",
        "validator.imagePullSecrets[0]=a",
        "validator.imagePullSecrets[1]=b",
        "validator.version=v26.7.1",
        "mig.strategy=mixed",
    ]);
    let ds = get(&objects, "DaemonSet", VALIDATOR);
    let driver = container(ds, "driver-validation");
    assert_eq!(env_value(driver, "DISABLE_DEV_CHAR_SYMLINK_CREATION").as_deref(), Some("true"));
    let toolkit = container(ds, "toolkit-validation");
    assert_eq!(env_names(toolkit), ["NVIDIA_VISIBLE_DEVICES", "WITH_WAIT", "COMPONENT"].map(String::from));
    assert_eq!(env_value(toolkit, "WITH_WAIT").as_deref(), Some("true"));
    let cuda = container(ds, "cuda-validation");
    assert_eq!(env_names(cuda).last().map(String::as_str), Some("CUDA_EXTRA"));
    assert_eq!(env_value(cuda, "VALIDATOR_IMAGE_PULL_SECRETS").as_deref(), Some("a,b"));
    assert_eq!(env_value(cuda, "VALIDATOR_IMAGE").as_deref(), Some("nvcr.io/nvidia/gpu-operator:v26.7.1"));
    let plugin = container(ds, "plugin-validation");
    assert_eq!(env_value(plugin, "WITH_WORKLOAD").as_deref(), Some("true"));
    assert_eq!(env_names(plugin)[2], "WITH_WORKLOAD", "replaced in place");
    assert_eq!(env_value(plugin, "MIG_STRATEGY").as_deref(), Some("mixed"));
    for step in ["driver-validation", "toolkit-validation", "cuda-validation", "plugin-validation"] {
        let c = container(ds, step);
        assert_eq!(env_value(c, "MAIN_ONLY"), None, "{step}");
        assert!(c.get("resources").is_none(), "{step}: upstream sizes the main container only");
    }
    let main = container(ds, VALIDATOR);
    assert_eq!(env(main), [("MAIN_ONLY".to_owned(), "yes".to_owned())]);
    assert_eq!(main["args"], json!(["sleep infinity"]));
    assert_eq!(main["resources"], json!({ "limits": { "cpu": "100m" } }));
    assert_eq!(pod(ds)["imagePullSecrets"], json!([{ "name": "a" }, { "name": "b" }]));
}

#[test]
fn given_the_device_plugin_disabled_the_plugin_step_is_left_out() {
    let objects = objects(&["devicePlugin.enabled=false"]);
    let ds = get(&objects, "DaemonSet", VALIDATOR);
    assert_eq!(names(&pod(ds)["initContainers"]), ["driver-validation", "toolkit-validation", "cuda-validation"]);
}

#[test]
fn given_the_toolkit_disabled_the_validator_is_unchanged() {
    let with = objects(&[]);
    let without = objects(&["toolkit.enabled=false"]);
    assert_eq!(get(&with, "DaemonSet", VALIDATOR), get(&without, "DaemonSet", VALIDATOR));
}

#[test]
fn given_crio_without_cdi_no_pod_runs_with_the_runtime_class() {
    let objects = objects(&["operator.defaultRuntime=crio", "cdi.enabled=false"]);
    let ds = get(&objects, "DaemonSet", VALIDATOR);
    assert!(pod(ds).get("runtimeClassName").is_none());
    assert_eq!(env_value(container(ds, "cuda-validation"), "VALIDATOR_RUNTIME_CLASS"), None);
    assert!(pod(get(&objects, "DaemonSet", DRIVER_DS)).get("runtimeClassName").is_none());
}

#[test]
fn given_crio_with_cdi_the_validator_keeps_the_runtime_class() {
    let objects = objects(&["operator.defaultRuntime=crio"]);
    assert_eq!(pod(get(&objects, "DaemonSet", VALIDATOR))["runtimeClassName"], "nvidia");
}

#[test]
fn given_the_nri_plugin_the_toolkit_step_gets_its_gpus_by_annotation() {
    let objects = objects(&["cdi.nriPluginEnabled=true"]);
    let ds = get(&objects, "DaemonSet", VALIDATOR);
    assert!(pod(ds).get("runtimeClassName").is_none());
    assert_eq!(
        ds["spec"]["template"]["metadata"]["annotations"],
        json!({ "nvidia.cdi.k8s.io/container.toolkit-validation": "management.nvidia.com/gpu=all" })
    );
    assert_eq!(env_value(container(ds, "plugin-validation"), "VALIDATOR_RUNTIME_CLASS"), None);
}

#[test]
fn given_a_custom_runtime_class_the_validator_and_its_workloads_use_it() {
    let objects = objects(&["operator.runtimeClass=nvidia-gpu"]);
    let ds = get(&objects, "DaemonSet", VALIDATOR);
    assert_eq!(pod(ds)["runtimeClassName"], "nvidia-gpu");
    assert_eq!(env_value(container(ds, "plugin-validation"), "VALIDATOR_RUNTIME_CLASS").as_deref(), Some("nvidia-gpu"));
}

#[test]
fn given_openshift_both_stages_add_their_security_context_constraints() {
    let objects = objects(&["platform.openshift=true"]);
    for name in ["nvidia-driver", VALIDATOR] {
        let scc = get(&objects, "SecurityContextConstraints", name);
        assert_eq!(scc["users"], json!([format!("system:serviceaccount:gpu-operator:{name}")]));
        assert_eq!(scc["allowPrivilegedContainer"], true);
    }
    assert_eq!(get(&objects, "DaemonSet", DRIVER_DS)["metadata"]["annotations"]["openshift.io/scc"], "nvidia-driver");
}

#[test]
fn given_daemonset_settings_both_daemonsets_carry_them() {
    let objects = objects(&[
        "daemonsets.labels.team=gpu",
        "daemonsets.labels.app=ignored",
        "daemonsets.annotations.owner=platform",
        "daemonsets.priorityClassName=",
        "daemonsets.tolerations[0].operator=Exists",
    ]);
    for name in [DRIVER_DS, VALIDATOR] {
        let ds = get(&objects, "DaemonSet", name);
        let template = &ds["spec"]["template"]["metadata"];
        assert_eq!(template["labels"]["team"], "gpu", "{name}");
        assert_eq!(template["labels"]["app"], name, "{name}: app is never overridden");
        assert_eq!(template["annotations"]["owner"], "platform", "{name}");
        assert_eq!(pod(ds)["priorityClassName"], "system-node-critical", "{name}: the asset's class stays");
        assert_eq!(pod(ds)["tolerations"], json!([{ "operator": "Exists" }]), "{name}");
    }
    let driver = get(&objects, "DaemonSet", DRIVER_DS);
    assert_eq!(
        driver["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"],
        "nvidia-driver-ctr"
    );
}
