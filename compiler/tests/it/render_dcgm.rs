//! The monitoring stages through the whole pipeline: `dcgm` (the standalone host engine),
//! `dcgm-exporter` and `node-status-exporter`, each against what upstream's operator creates
//! for the same values.

use gpuplan_compiler::FlagKind;
use serde_json::{Value, json};

/// Every object of the plan for these flags over the defaults (the values must pass `check`).
fn objects_with(flags: &[(FlagKind, &str)]) -> Vec<Value> {
    super::fixtures::plan_with(flags).manifests().map(|m| m.object.clone()).collect()
}

/// Every object of the plan for these `--set` flags.
fn objects(sets: &[&str]) -> Vec<Value> {
    let flags: Vec<(FlagKind, &str)> = sets.iter().map(|s| (FlagKind::Set, *s)).collect();
    objects_with(&flags)
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn get<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    find(objects, kind, name).unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// `(kind, name)` of every object named `name` or carrying `app: <name>`.
fn kinds_of(objects: &[Value], name: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = objects
        .iter()
        .filter(|o| o["metadata"]["name"] == name || o["metadata"]["labels"]["app"] == name)
        .map(|o| (o["kind"].as_str().unwrap_or("").to_owned(), o["metadata"]["name"].as_str().unwrap_or("").to_owned()))
        .collect();
    found.sort();
    found
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = list.iter().map(|(k, n)| ((*k).to_owned(), (*n).to_owned())).collect();
    pairs.sort();
    pairs
}

fn pod(ds: &Value) -> &Value {
    &ds["spec"]["template"]["spec"]
}

fn container<'a>(ds: &'a Value, name: &str) -> &'a Value {
    let spec = pod(ds);
    spec["containers"]
        .as_array()
        .into_iter()
        .chain(spec["initContainers"].as_array())
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

/// A container's env as `(name, value-or-fieldPath)`, in order.
fn env(c: &Value) -> Vec<(String, String)> {
    c["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let value = e["value"].as_str().or_else(|| e["valueFrom"]["fieldRef"]["fieldPath"].as_str());
            (e["name"].as_str().unwrap_or("").to_owned(), value.unwrap_or("").to_owned())
        })
        .collect()
}

fn env_value(c: &Value, name: &str) -> Option<String> {
    env(c).into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn volume<'a>(ds: &'a Value, name: &str) -> &'a Value {
    pod(ds)["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no volume {name}"))
}

fn mount<'a>(c: &'a Value, name: &str) -> Option<&'a Value> {
    c["volumeMounts"].as_array().into_iter().flatten().find(|m| m["name"] == name)
}

const DCGM: &str = "nvidia-dcgm";
const EXPORTER: &str = "nvidia-dcgm-exporter";
const STATUS: &str = "nvidia-node-status-exporter";
const GPU_TOLERATION: [(&str, &str); 3] = [("effect", "NoSchedule"), ("key", "nvidia.com/gpu"), ("operator", "Exists")];

fn gpu_toleration() -> Value {
    Value::Object(GPU_TOLERATION.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect())
}

// --- dcgm-exporter ---

#[test]
fn given_defaults_renders_the_exporter_as_upstream() {
    let objs = objects(&[]);
    assert_eq!(
        kinds_of(&objs, EXPORTER),
        pairs(&[
            ("DaemonSet", EXPORTER),
            ("Role", EXPORTER),
            ("RoleBinding", EXPORTER),
            ("Service", EXPORTER),
            ("ServiceAccount", EXPORTER),
            ("ServiceMonitor", EXPORTER),
        ])
    );
    assert!(find(&objs, "ClusterRole", "nvidia-dcgm-exporter-read-pods").is_none());
    let ds = get(&objs, "DaemonSet", EXPORTER);
    assert_eq!(ds["metadata"]["namespace"], "gpu-operator");
    assert_eq!(ds["metadata"]["labels"]["app.kubernetes.io/managed-by"], "gpuplan");
    let spec = pod(ds);
    assert_eq!(spec["nodeSelector"], json!({ "nvidia.com/gpu.deploy.dcgm-exporter": "true" }));
    assert_eq!(spec["tolerations"], json!([gpu_toleration()]));
    assert_eq!(spec["serviceAccountName"], EXPORTER);
    assert_eq!(spec["runtimeClassName"], "nvidia");
    assert_eq!(spec["priorityClassName"], "system-node-critical");
    assert_eq!(spec["automountServiceAccountToken"], false);
    assert_eq!(spec["hostNetwork"], false);
    assert_eq!(spec["hostPID"], false);
    let main = container(ds, EXPORTER);
    assert_eq!(main["image"], "nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-distroless");
    assert_eq!(
        env(main),
        pairs_in_order(&[
            ("DCGM_EXPORTER_LISTEN", ":9400"),
            ("DCGM_EXPORTER_KUBERNETES", "true"),
            ("DCGM_EXPORTER_COLLECTORS", "/etc/dcgm-exporter/dcp-metrics-included.csv"),
            ("NODE_NAME", "spec.nodeName"),
        ])
    );
    assert!(main.get("args").is_none());
    assert_eq!(main["ports"], json!([{ "name": "metrics", "containerPort": 9400 }]));
    assert_eq!(main["readinessProbe"]["httpGet"], json!({ "port": 9400, "path": "/health" }));
    assert_eq!(mount(main, "pod-gpu-resources").expect("mount")["mountPath"], "/var/lib/kubelet/pod-resources");
    assert_eq!(volume(ds, "pod-gpu-resources")["hostPath"]["path"], "/var/lib/kubelet/pod-resources");
    let init = container(ds, "toolkit-validation");
    assert_eq!(init["image"], "nvcr.io/nvidia/gpu-operator:v26.7.0");
    assert_eq!(mount(init, "run-nvidia").expect("mount")["mountPath"], "/run/nvidia");

    let service = get(&objs, "Service", EXPORTER);
    assert_eq!(
        service["spec"]["ports"],
        json!([{ "name": "gpu-metrics", "port": 9400, "targetPort": 9400, "protocol": "TCP" }])
    );
    assert_eq!(service["spec"]["internalTrafficPolicy"], "Cluster");
    assert!(service["spec"].get("type").is_none());
    let monitor = get(&objs, "ServiceMonitor", EXPORTER);
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(
        monitor["spec"]["endpoints"],
        json!([{ "port": "gpu-metrics", "path": "/metrics", "honorLabels": false, "interval": "15s", "scrapeTimeout": "10s" }])
    );
    assert_eq!(monitor["spec"]["namespaceSelector"], json!({ "matchNames": ["gpu-operator"] }));
}

fn pairs_in_order(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn given_the_exporter_disabled_renders_none_of_its_objects() {
    let objs = objects(&["dcgmExporter.enabled=false"]);
    assert_eq!(kinds_of(&objs, EXPORTER), Vec::new());
}

#[test]
fn given_custom_env_sets_it_by_name_after_the_operators_own() {
    let objs = objects(&[
        "dcgmExporter.env[0].name=DCGM_EXPORTER_COLLECTORS",
        "dcgmExporter.env[0].value=/etc/mine.csv",
        "dcgmExporter.env[1].name=DCGM_EXPORTER_INTERVAL",
        "dcgmExporter.env[1].value=5000",
    ]);
    let main = container(get(&objs, "DaemonSet", EXPORTER), EXPORTER);
    let names: Vec<String> = env(main).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[2], "DCGM_EXPORTER_COLLECTORS", "replaced in place");
    assert_eq!(names.last().map(String::as_str), Some("DCGM_EXPORTER_INTERVAL"), "appended");
    assert_eq!(env_value(main, "DCGM_EXPORTER_COLLECTORS").as_deref(), Some("/etc/mine.csv"));
    assert_eq!(env_value(main, "DCGM_EXPORTER_INTERVAL").as_deref(), Some("5000"));
}

#[test]
fn given_args_resources_secrets_and_a_digest_sets_them_on_the_pod() {
    let objs = objects(&[
        "dcgmExporter.args={-f,/etc/x.csv}",
        "dcgmExporter.resources.limits.memory=1Gi",
        "dcgmExporter.imagePullSecrets={regcred}",
        "dcgmExporter.version=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ]);
    let ds = get(&objs, "DaemonSet", EXPORTER);
    let main = container(ds, EXPORTER);
    assert_eq!(main["args"], json!(["-f", "/etc/x.csv"]));
    assert_eq!(
        main["image"],
        "nvcr.io/nvidia/k8s/dcgm-exporter@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
    for name in [EXPORTER, "toolkit-validation"] {
        assert_eq!(container(ds, name)["resources"], json!({ "limits": { "memory": "1Gi" } }), "{name}");
    }
    assert_eq!(pod(ds)["imagePullSecrets"], json!([{ "name": "regcred" }]));
}

#[test]
fn given_host_network_and_host_pid_runs_the_exporter_in_the_hosts_namespaces() {
    let ds_objs = objects(&["dcgmExporter.hostNetwork=true", "dcgmExporter.hostPID=true"]);
    let spec = pod(get(&ds_objs, "DaemonSet", EXPORTER));
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(spec["hostPID"], true);
}

#[test]
fn given_a_host_engine_on_localhost_switches_to_the_host_network() {
    let objs =
        objects(&["dcgmExporter.env[0].name=DCGM_REMOTE_HOSTENGINE_INFO", "dcgmExporter.env[0].value=localhost:5555"]);
    let spec = pod(get(&objs, "DaemonSet", EXPORTER));
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["dnsPolicy"], "ClusterFirstWithHostNet");
}

#[test]
fn given_crio_without_cdi_or_nri_the_gpu_pods_have_no_runtime_class() {
    for sets in [
        &["operator.defaultRuntime=crio", "cdi.enabled=false", "dcgm.enabled=true"][..],
        &["cdi.nriPluginEnabled=true", "dcgm.enabled=true"],
    ] {
        let objs = objects(sets);
        for name in [EXPORTER, DCGM] {
            assert!(pod(get(&objs, "DaemonSet", name)).get("runtimeClassName").is_none(), "{name} with {sets:?}");
        }
    }
    let objs = objects(&["operator.defaultRuntime=crio", "dcgm.enabled=true"]);
    assert_eq!(pod(get(&objs, "DaemonSet", EXPORTER))["runtimeClassName"], "nvidia", "CRI-O with CDI keeps it");
}

#[test]
fn given_nri_the_gpu_containers_get_their_devices_by_annotation() {
    let objs = objects(&["cdi.nriPluginEnabled=true", "dcgm.enabled=true"]);
    for (ds, ctr) in [(EXPORTER, EXPORTER), (DCGM, "nvidia-dcgm-ctr")] {
        let annotations = &get(&objs, "DaemonSet", ds)["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(annotations[format!("nvidia.cdi.k8s.io/container.{ctr}")], "management.nvidia.com/gpu=all");
    }
}

#[test]
fn given_pod_labels_the_exporter_reads_pods_cluster_wide() {
    let objs = objects(&["dcgmExporter.enablePodLabels=true", "dcgmExporter.podLabelAllowlistRegex={^app$,^team$}"]);
    let role = get(&objs, "ClusterRole", "nvidia-dcgm-exporter-read-pods");
    assert_eq!(role["rules"], json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"] }]));
    let binding = get(&objs, "ClusterRoleBinding", "nvidia-dcgm-exporter-read-pods");
    assert_eq!(
        binding["subjects"],
        json!([{ "kind": "ServiceAccount", "name": EXPORTER, "namespace": "gpu-operator" }])
    );
    let ds = get(&objs, "DaemonSet", EXPORTER);
    assert_eq!(pod(ds)["automountServiceAccountToken"], true);
    let main = container(ds, EXPORTER);
    assert_eq!(env_value(main, "DCGM_EXPORTER_KUBERNETES_ENABLE_POD_LABELS").as_deref(), Some("true"));
    assert_eq!(env_value(main, "DCGM_EXPORTER_KUBERNETES_POD_LABEL_ALLOWLIST_REGEX").as_deref(), Some("^app$,^team$"));
    assert_eq!(env_value(main, "DCGM_EXPORTER_KUBERNETES_ENABLE_POD_UID"), None);

    let objs = objects(&["dcgmExporter.enablePodUID=true"]);
    assert!(find(&objs, "ClusterRole", "nvidia-dcgm-exporter-read-pods").is_some());
    let main = container(get(&objs, "DaemonSet", EXPORTER), EXPORTER);
    assert_eq!(env_value(main, "DCGM_EXPORTER_KUBERNETES_ENABLE_POD_UID").as_deref(), Some("true"));
}

#[test]
fn given_service_and_monitor_settings_renders_them() {
    let objs = objects(&[
        "dcgmExporter.service.type=NodePort",
        "dcgmExporter.service.internalTrafficPolicy=Local",
        "dcgmExporter.serviceMonitor.interval=",
        "dcgmExporter.serviceMonitor.scrapeTimeout=",
        "dcgmExporter.serviceMonitor.honorLabels=true",
        "dcgmExporter.serviceMonitor.additionalLabels.release=kube-prometheus-stack",
        "dcgmExporter.serviceMonitor.relabelings[0].targetLabel=instance",
        "dcgmExporter.serviceMonitor.relabelings[0].sourceLabels={__meta_kubernetes_pod_node_name}",
    ]);
    let service = get(&objs, "Service", EXPORTER);
    assert_eq!(service["spec"]["type"], "NodePort");
    assert_eq!(service["spec"]["internalTrafficPolicy"], "Local");
    let monitor = get(&objs, "ServiceMonitor", EXPORTER);
    assert_eq!(monitor["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(monitor["metadata"]["labels"]["app"], EXPORTER);
    assert_eq!(
        monitor["spec"]["endpoints"],
        json!([{
            "port": "gpu-metrics",
            "path": "/metrics",
            "honorLabels": true,
            "relabelings": [{ "targetLabel": "instance", "sourceLabels": ["__meta_kubernetes_pod_node_name"] }],
        }]),
        "empty durations are left to Prometheus"
    );

    let objs = objects(&["dcgmExporter.serviceMonitor.enabled=false"]);
    assert!(find(&objs, "ServiceMonitor", EXPORTER).is_none());
    assert!(find(&objs, "Service", EXPORTER).is_some());
}

#[test]
fn given_a_metrics_list_to_create_renders_the_configmap_and_mounts_it() {
    let flags = [
        (FlagKind::Set, "dcgmExporter.config.name=custom-metrics,dcgmExporter.config.create=true"),
        (FlagKind::SetLiteral, "dcgmExporter.config.data=# clocks\nDCGM_FI_DEV_SM_CLOCK, gauge, SM clock (MHz)\n\n"),
    ];
    let objs = objects_with(&flags);
    let cm = get(&objs, "ConfigMap", "custom-metrics");
    assert_eq!(cm["metadata"]["namespace"], "gpu-operator");
    assert_eq!(cm["data"], json!({ "dcgm-metrics.csv": "# clocks\nDCGM_FI_DEV_SM_CLOCK, gauge, SM clock (MHz)\n" }));
    let ds = get(&objs, "DaemonSet", EXPORTER);
    let main = container(ds, EXPORTER);
    assert_eq!(env_value(main, "DCGM_EXPORTER_COLLECTORS").as_deref(), Some("/etc/dcgm-exporter/dcgm-metrics.csv"));
    assert_eq!(
        mount(main, "metrics-config"),
        Some(&json!({
            "name": "metrics-config",
            "mountPath": "/etc/dcgm-exporter/dcgm-metrics.csv",
            "subPath": "dcgm-metrics.csv",
            "readOnly": true,
        }))
    );
    assert_eq!(
        volume(ds, "metrics-config")["configMap"],
        json!({ "name": "custom-metrics", "items": [{ "key": "dcgm-metrics.csv", "path": "dcgm-metrics.csv" }] })
    );

    // A chart object: created even with the exporter off, as the chart does.
    let mut off = flags.to_vec();
    off.push((FlagKind::Set, "dcgmExporter.enabled=false"));
    assert!(find(&objects_with(&off), "ConfigMap", "custom-metrics").is_some());
}

#[test]
fn given_an_existing_metrics_configmap_mounts_it_without_creating_one() {
    let objs = objects(&["dcgmExporter.config.name=site-metrics"]);
    assert!(find(&objs, "ConfigMap", "site-metrics").is_none());
    let ds = get(&objs, "DaemonSet", EXPORTER);
    assert_eq!(volume(ds, "metrics-config")["configMap"]["name"], "site-metrics");
}

#[test]
fn given_hpc_job_mapping_mounts_the_job_directory() {
    let objs = objects(&["dcgmExporter.hpcJobMapping.enabled=true"]);
    let ds = get(&objs, "DaemonSet", EXPORTER);
    let main = container(ds, EXPORTER);
    let dir = "/var/lib/dcgm-exporter/job-mapping";
    assert_eq!(env_value(main, "DCGM_HPC_JOB_MAPPING_DIR").as_deref(), Some(dir));
    assert_eq!(mount(main, "hpc-job-mapping").expect("mount")["mountPath"], dir);
    assert_eq!(volume(ds, "hpc-job-mapping")["hostPath"], json!({ "path": dir, "type": "DirectoryOrCreate" }));

    let objs =
        objects(&["dcgmExporter.hpcJobMapping.enabled=true", "dcgmExporter.hpcJobMapping.directory=/run/slurm/jobs"]);
    let main = container(get(&objs, "DaemonSet", EXPORTER), EXPORTER);
    assert_eq!(env_value(main, "DCGM_HPC_JOB_MAPPING_DIR").as_deref(), Some("/run/slurm/jobs"));

    let objs = objects(&["dcgmExporter.hpcJobMapping.enabled=false"]);
    assert_eq!(env_value(container(get(&objs, "DaemonSet", EXPORTER), EXPORTER), "DCGM_HPC_JOB_MAPPING_DIR"), None);
}

#[test]
fn given_pod_annotations_and_a_kubelet_root_applies_them() {
    let objs = objects(&[
        "dcgmExporter.annotations.prometheus\\.io/port=9400",
        "hostPaths.kubeletRootDir=/var/snap/microk8s/common/var/lib/kubelet",
    ]);
    let ds = get(&objs, "DaemonSet", EXPORTER);
    assert_eq!(ds["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"], "9400");
    assert_eq!(
        volume(ds, "pod-gpu-resources")["hostPath"]["path"],
        "/var/snap/microk8s/common/var/lib/kubelet/pod-resources"
    );
}

// --- dcgm ---

#[test]
fn given_defaults_renders_no_standalone_host_engine() {
    let objs = objects(&[]);
    assert_eq!(kinds_of(&objs, DCGM), Vec::new());
    let main = container(get(&objs, "DaemonSet", EXPORTER), EXPORTER);
    assert_eq!(env_value(main, "DCGM_REMOTE_HOSTENGINE_INFO"), None, "the exporter embeds its engine");
}

#[test]
fn given_dcgm_enabled_renders_the_host_engine_and_points_the_exporter_at_it() {
    let objs = objects(&["dcgm.enabled=true"]);
    assert_eq!(
        kinds_of(&objs, DCGM),
        pairs(&[
            ("DaemonSet", DCGM),
            ("Role", DCGM),
            ("RoleBinding", DCGM),
            ("Service", DCGM),
            ("ServiceAccount", DCGM)
        ])
    );
    let ds = get(&objs, "DaemonSet", DCGM);
    assert_eq!(ds["metadata"]["labels"]["app.kubernetes.io/managed-by"], "gpuplan");
    let spec = pod(ds);
    assert_eq!(spec["nodeSelector"], json!({ "nvidia.com/gpu.deploy.dcgm": "true" }));
    assert_eq!(spec["tolerations"], json!([gpu_toleration()]));
    assert_eq!(spec["serviceAccountName"], DCGM);
    assert_eq!(spec["runtimeClassName"], "nvidia");
    assert_eq!(spec["hostNetwork"], false);
    let main = container(ds, "nvidia-dcgm-ctr");
    assert_eq!(main["image"], "nvcr.io/nvidia/cloud-native/dcgm:4.6.0-1-ubuntu24.04");
    assert_eq!(main["ports"], json!([{ "name": "dcgm", "containerPort": 5555 }]));
    assert_eq!(main["livenessProbe"]["tcpSocket"], json!({ "port": 5555 }));
    assert!(main.get("env").is_none() && main.get("args").is_none());
    let init = container(ds, "toolkit-validation");
    assert_eq!(init["image"], "nvcr.io/nvidia/gpu-operator:v26.7.0");
    assert_eq!(volume(ds, "run-nvidia")["hostPath"], json!({ "path": "/run/nvidia", "type": "Directory" }));

    let service = get(&objs, "Service", DCGM);
    assert_eq!(service["spec"]["internalTrafficPolicy"], "Local");
    assert_eq!(service["spec"]["ports"], json!([{ "name": "dcgm", "port": 5555, "protocol": "TCP" }]));
    assert_eq!(service["spec"]["selector"], json!({ "app": DCGM }));

    let exporter = container(get(&objs, "DaemonSet", EXPORTER), EXPORTER);
    assert_eq!(env_value(exporter, "DCGM_REMOTE_HOSTENGINE_INFO").as_deref(), Some("nvidia-dcgm:5555"));
}

#[test]
fn given_dcgm_settings_applies_them_to_the_host_engine() {
    let objs = objects(&[
        "dcgm.enabled=true",
        "dcgm.hostNetwork=true",
        "dcgm.args={-n,-b,ALL}",
        "dcgm.env[0].name=DCGM_LOG_LEVEL",
        "dcgm.env[0].value=DEBUG",
        "dcgm.resources.requests.cpu=100m",
        "dcgm.imagePullSecrets={regcred}",
        "dcgm.version=sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
    ]);
    let ds = get(&objs, "DaemonSet", DCGM);
    let spec = pod(ds);
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(spec["imagePullSecrets"], json!([{ "name": "regcred" }]));
    let main = container(ds, "nvidia-dcgm-ctr");
    assert_eq!(main["args"], json!(["-n", "-b", "ALL"]));
    assert_eq!(env(main), pairs_in_order(&[("DCGM_LOG_LEVEL", "DEBUG")]));
    assert_eq!(main["resources"], json!({ "requests": { "cpu": "100m" } }));
    assert_eq!(
        main["image"],
        "nvcr.io/nvidia/cloud-native/dcgm@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
    );
}

// --- node-status-exporter ---

#[test]
fn given_defaults_renders_no_node_status_exporter() {
    assert_eq!(kinds_of(&objects(&[]), STATUS), Vec::new());
}

#[test]
fn given_the_node_status_exporter_enabled_renders_it_as_upstream() {
    let objs = objects(&["nodeStatusExporter.enabled=true", "hostPaths.rootFS=/host-root"]);
    assert_eq!(
        kinds_of(&objs, STATUS),
        pairs(&[
            ("ClusterRole", STATUS),
            ("ClusterRoleBinding", STATUS),
            ("DaemonSet", STATUS),
            ("Role", STATUS),
            ("RoleBinding", STATUS),
            ("Service", STATUS),
            ("ServiceAccount", STATUS),
            ("ServiceMonitor", STATUS),
        ])
    );
    let ds = get(&objs, "DaemonSet", STATUS);
    let spec = pod(ds);
    assert_eq!(spec["nodeSelector"], json!({ "nvidia.com/gpu.deploy.node-status-exporter": "true" }));
    assert_eq!(spec["tolerations"], json!([gpu_toleration()]));
    assert_eq!(spec["serviceAccountName"], STATUS);
    assert!(spec.get("runtimeClassName").is_none(), "needs no GPU");
    let main = container(ds, STATUS);
    assert_eq!(main["image"], "nvcr.io/nvidia/gpu-operator:v26.7.0");
    assert_eq!(main["command"], json!(["nvidia-validator"]));
    assert_eq!(main["securityContext"], json!({ "privileged": true, "runAsUser": 0 }));
    assert_eq!(
        env(main),
        pairs_in_order(&[
            ("NVIDIA_VISIBLE_DEVICES", "void"),
            ("COMPONENT", "metrics"),
            ("METRICS_PORT", "8000"),
            ("NODE_NAME", "spec.nodeName"),
            ("OPERATOR_NAMESPACE", "metadata.namespace"),
        ])
    );
    assert_eq!(volume(ds, "host-root")["hostPath"]["path"], "/host-root");
    assert_eq!(get(&objs, "Service", STATUS)["spec"]["ports"][0]["port"], 8000);
    assert_eq!(
        get(&objs, "ServiceMonitor", STATUS)["spec"]["endpoints"],
        json!([{ "port": "node-status", "path": "/metrics" }])
    );
}

#[test]
fn given_node_status_exporter_settings_applies_them() {
    let objs = objects(&[
        "nodeStatusExporter.enabled=true",
        "nodeStatusExporter.hostNetwork=true",
        "nodeStatusExporter.env[0].name=METRICS_PORT",
        "nodeStatusExporter.env[0].value=8001",
        "nodeStatusExporter.args={--verbose}",
        "nodeStatusExporter.resources.limits.cpu=200m",
        "nodeStatusExporter.imagePullSecrets={regcred}",
        "nodeStatusExporter.version=sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
        "cdi.nriPluginEnabled=true",
    ]);
    let ds = get(&objs, "DaemonSet", STATUS);
    let spec = pod(ds);
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(spec["imagePullSecrets"], json!([{ "name": "regcred" }]));
    let main = container(ds, STATUS);
    assert_eq!(env_value(main, "METRICS_PORT").as_deref(), Some("8001"));
    assert_eq!(main["args"], json!(["--verbose"]));
    assert_eq!(main["resources"], json!({ "limits": { "cpu": "200m" } }));
    assert_eq!(
        main["image"],
        "nvcr.io/nvidia/gpu-operator@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
    );
    assert_eq!(ds["spec"]["template"]["metadata"]["annotations"], json!({}), "no GPU container to annotate");
}

// --- OpenShift ---

#[test]
fn given_openshift_adds_the_sccs_and_prometheus_rules() {
    let all = ["dcgm.enabled=true", "nodeStatusExporter.enabled=true"];
    let objs = objects(&all);
    assert!(!objs.iter().any(|o| o["kind"] == "SecurityContextConstraints" || o["kind"] == "PrometheusRule"));

    let objs = objects(&[all[0], all[1], "platform.openshift=true"]);
    for (name, host_network, host_ports) in [(DCGM, true, true), (EXPORTER, false, true), (STATUS, false, false)] {
        let scc = get(&objs, "SecurityContextConstraints", name);
        assert_eq!(scc["users"], json!([format!("system:serviceaccount:gpu-operator:{name}")]));
        assert_eq!(scc["allowHostNetwork"], host_network, "{name}");
        assert_eq!(scc["allowHostPorts"], host_ports, "{name}");
        assert_eq!(scc["allowPrivilegedContainer"], true);
    }
    let rules = get(&objs, "PrometheusRule", EXPORTER);
    assert_eq!(rules["spec"]["groups"][0]["rules"][0]["record"], "accelerator_gpu_utilization");
    let alerts = get(&objs, "PrometheusRule", "nvidia-node-status-exporter-alerts");
    let first = &alerts["spec"]["groups"][0]["rules"][0];
    assert_eq!(first["alert"], "GPUOperatorNodeDeploymentFailed");
    assert!(first["annotations"]["description"].as_str().is_some_and(|d| d.ends_with("{{ $labels.node }}")));
}
