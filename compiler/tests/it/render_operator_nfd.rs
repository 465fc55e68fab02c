//! The `gpuplan-operator`, `node-feature-discovery` and `extra-objects` stages, rendered
//! through the real pipeline (`gpuplan_compiler::compile`).

use gpuplan_compiler::plan::{Manifest, Plan, Release};
use gpuplan_compiler::{Error, FlagKind, InputFile, InputFlag, Inputs, Severity, Target};
use serde_json::{Value as J, json};
use sha2::{Digest, Sha256};

const NFD: &str = "gpu-operator-node-feature-discovery";

/// The plan for `--set` flags and values files, with release `release` in `gpu-operator`.
fn try_plan(release: &str, sets: &[&str], files: &[&str]) -> Result<Plan, Error> {
    let inputs = Inputs {
        files: files
            .iter()
            .enumerate()
            .map(|(i, t)| InputFile { name: format!("f{i}.yaml"), text: (*t).into() })
            .collect(),
        flags: sets.iter().map(|s| InputFlag { kind: FlagKind::Set, text: (*s).into() }).collect(),
    };
    let release = Release { name: release.into(), ..Release::default() };
    let compiled =
        gpuplan_compiler::compile(&inputs, &mut |_| Err("no files".into()), &Target { release, ..Target::default() })?;
    let errors: Vec<String> =
        compiled.diagnostics.iter().filter(|d| d.severity == Severity::Error).map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "invalid test values: {errors:#?}");
    Ok(compiled.plan.expect("a plan"))
}

fn plan(sets: &[&str]) -> Plan {
    try_plan("gpu-operator", sets, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// The objects of one stage (empty when the stage has none).
fn stage<'p>(plan: &'p Plan, name: &str) -> Vec<&'p Manifest> {
    plan.stages.iter().filter(|s| s.name == name).flat_map(|s| s.objects.iter()).collect()
}

fn find<'p>(plan: &'p Plan, kind: &str, name: &str) -> &'p J {
    let found = plan.manifests().find(|m| m.kind() == kind && m.name() == name);
    &found.unwrap_or_else(|| panic!("no {kind} {name}")).object
}

fn has(plan: &Plan, kind: &str, name: &str) -> bool {
    plan.manifests().any(|m| m.kind() == kind && m.name() == name)
}

fn container(workload: &J) -> &J {
    &workload["spec"]["template"]["spec"]["containers"][0]
}

fn env<'o>(container: &'o J, name: &str) -> Option<&'o J> {
    container["env"].as_array()?.iter().find(|e| e["name"] == name)
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn rule<'o>(role: &'o J, group: &str, resource: &str) -> Option<&'o J> {
    role["rules"].as_array()?.iter().find(|r| {
        r["apiGroups"].as_array().is_some_and(|g| g.contains(&json!(group)))
            && r["resources"].as_array().is_some_and(|g| g.contains(&json!(resource)))
    })
}

#[test]
fn given_defaults_the_operator_stage_runs_gpuplan_with_upstreams_pod_settings() {
    let plan = plan(&[]);
    let kinds: Vec<(&str, &str)> = stage(&plan, "gpuplan-operator").iter().map(|m| (m.kind(), m.name())).collect();
    assert_eq!(
        kinds,
        [
            ("ServiceAccount", "gpuplan-operator"),
            ("ClusterRole", "gpuplan-operator"),
            ("ClusterRoleBinding", "gpuplan-operator"),
            ("Role", "gpuplan-operator"),
            ("RoleBinding", "gpuplan-operator"),
            ("Service", "gpuplan-operator-metrics"),
            ("Deployment", "gpuplan-operator"),
        ]
    );
    let deployment = find(&plan, "Deployment", "gpuplan-operator");
    assert_eq!(deployment["metadata"]["namespace"], "gpu-operator");
    assert_eq!(deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"], "gpuplan");
    let pod = &deployment["spec"]["template"];
    assert_eq!(pod["metadata"]["annotations"], json!({ "openshift.io/scc": "restricted-readonly" }));
    assert_eq!(pod["metadata"]["labels"]["nvidia.com/gpu-driver-upgrade-drain.skip"], "true");
    let spec = &pod["spec"];
    assert_eq!(spec["serviceAccountName"], "gpuplan-operator");
    assert_eq!(spec["priorityClassName"], "system-node-critical");
    assert_eq!(spec["nodeSelector"], json!({ "kubernetes.io/os": "linux" }));
    assert_eq!(spec["tolerations"][0]["key"], "node-role.kubernetes.io/control-plane");
    assert!(spec["affinity"]["nodeAffinity"].is_object());
    let c = container(deployment);
    let version = gpuplan_compiler::render::VERSION;
    assert_eq!(c["image"], format!("ghcr.io/gpuplan/gpuplan:{version}"));
    assert_eq!(c["command"], json!(["gpuplan", "operator"]));
    assert_eq!(env(c, "OPERATOR_NAMESPACE").unwrap()["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace");
    assert_eq!(env(c, "GPUPLAN_LOG").unwrap()["value"], "info");
    assert_eq!(c["livenessProbe"]["httpGet"], json!({ "path": "/healthz", "port": 8080 }));
    assert_eq!(c["readinessProbe"]["httpGet"], json!({ "path": "/readyz", "port": 8080 }));
    assert_eq!(c["ports"], json!([{ "name": "metrics", "containerPort": 8080 }]));
    assert_eq!(c["resources"]["limits"], json!({ "cpu": "500m", "memory": "350Mi" }));
    let service = find(&plan, "Service", "gpuplan-operator-metrics");
    assert_eq!(service["spec"]["ports"][0]["name"], "metrics");
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    assert_eq!(service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"]);
}

#[test]
fn given_operator_values_the_deployment_takes_env_version_secrets_and_labels() {
    let plan = plan(&[
        "operator.env[0].name=GPUPLAN_LOG",
        "operator.env[0].value=warn",
        "operator.env[1].name=EXTRA",
        "operator.env[1].value=1",
        "operator.version=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "operator.imagePullSecrets[0]=regcred",
        "operator.priorityClassName=",
        "operator.labels.team=gpu",
        "operator.labels.app\\.kubernetes\\.io/managed-by=helm",
    ]);
    let deployment = find(&plan, "Deployment", "gpuplan-operator");
    let c = container(deployment);
    let names: Vec<&J> = c["env"].as_array().unwrap().iter().map(|e| &e["name"]).collect();
    assert_eq!(names, [&json!("OPERATOR_NAMESPACE"), &json!("GPUPLAN_LOG"), &json!("EXTRA")]);
    assert_eq!(env(c, "GPUPLAN_LOG").unwrap()["value"], "warn");
    assert!(c["image"].as_str().unwrap().starts_with("ghcr.io/gpuplan/gpuplan@sha256:0123"));
    let spec = &deployment["spec"]["template"]["spec"];
    assert_eq!(spec["imagePullSecrets"], json!([{ "name": "regcred" }]));
    assert!(spec.get("priorityClassName").is_none());
    for m in stage(&plan, "gpuplan-operator") {
        assert_eq!(m.object["metadata"]["labels"]["team"], "gpu", "{}", m.name());
        assert_eq!(m.object["metadata"]["labels"]["app.kubernetes.io/managed-by"], "gpuplan", "{}", m.name());
    }
}

#[test]
fn given_logging_settings_gpuplan_log_carries_the_level() {
    let level = |sets: &[&str]| {
        let plan = plan(sets);
        env(container(find(&plan, "Deployment", "gpuplan-operator")), "GPUPLAN_LOG").unwrap()["value"].clone()
    };
    assert_eq!(level(&["operator.logging.level=debug"]), "debug");
    assert_eq!(level(&["operator.logging.level=5"]), "5");
    assert_eq!(level(&["operator.logging.develMode=true", "operator.logging.level=error"]), "debug");
}

#[test]
fn given_defaults_the_operator_rbac_covers_the_plans_kinds() {
    let plan = plan(&[]);
    let role = find(&plan, "Role", "gpuplan-operator");
    let cluster = find(&plan, "ClusterRole", "gpuplan-operator");
    for (group, resource) in [
        ("", "configmaps"),
        ("", "secrets"),
        ("", "services"),
        ("", "serviceaccounts"),
        ("", "pods"),
        ("apps", "daemonsets"),
        ("apps", "deployments"),
        ("rbac.authorization.k8s.io", "roles"),
        ("coordination.k8s.io", "leases"),
        ("monitoring.coreos.com", "servicemonitors"),
    ] {
        assert!(rule(role, group, resource).is_some(), "Role: {group}/{resource}");
        // Across namespaces, only what watching for drift and finding leftovers needs.
        match rule(cluster, group, resource) {
            None => assert!(matches!(resource, "secrets" | "pods" | "leases"), "ClusterRole: {group}/{resource}"),
            Some(r) => assert_eq!(r["verbs"], json!(["get", "list", "watch"]), "ClusterRole: {group}/{resource}"),
        }
    }
    for (group, resource) in [
        ("", "nodes"),
        ("", "namespaces"),
        ("", "events"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("node.k8s.io", "runtimeclasses"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("gpuplan.dev", "gpuplans"),
        ("gpuplan.dev", "gpuplans/status"),
    ] {
        assert!(rule(cluster, group, resource).is_some(), "ClusterRole: {group}/{resource}");
    }
    let verbs = |r: Option<&J>| r.unwrap()["verbs"].clone();
    assert!(
        verbs(rule(cluster, "rbac.authorization.k8s.io", "clusterrolebindings"))
            .as_array()
            .unwrap()
            .contains(&json!("escalate"))
    );
    assert!(
        verbs(rule(role, "rbac.authorization.k8s.io", "rolebindings")).as_array().unwrap().contains(&json!("bind"))
    );
    assert_eq!(verbs(rule(cluster, "", "nodes")), json!(["get", "list", "watch", "patch"]));
    // The release record and the CRDs of the first stage are written and uninstalled.
    let edit = json!(["get", "list", "watch", "create", "update", "patch", "delete"]);
    assert_eq!(verbs(rule(cluster, "gpuplan.dev", "planreleases")), edit);
    assert_eq!(verbs(rule(cluster, "apiextensions.k8s.io", "customresourcedefinitions")), edit);
    assert_eq!(verbs(rule(role, "", "pods")), json!(["get", "list", "watch", "delete"]));
    assert!(rule(cluster, "security.openshift.io", "securitycontextconstraints").is_none());
    let binding = find(&plan, "ClusterRoleBinding", "gpuplan-operator");
    assert_eq!(
        binding["subjects"],
        json!([{ "kind": "ServiceAccount", "name": "gpuplan-operator", "namespace": "gpu-operator" }])
    );
}

#[test]
fn given_openshift_and_a_moved_nfd_the_operator_gets_sccs_and_a_role_in_each_namespace() {
    let plan = plan(&["platform.openshift=true", "node-feature-discovery.namespaceOverride=nfd"]);
    let roles: Vec<&str> = plan
        .manifests()
        .filter(|m| m.kind() == "Role" && m.name() == "gpuplan-operator")
        .map(Manifest::namespace)
        .collect();
    assert_eq!(roles, ["gpu-operator", "nfd"]);
    let binding = plan.manifests().find(|m| m.kind() == "RoleBinding" && m.namespace() == "nfd").unwrap();
    assert_eq!(binding.object["subjects"][0]["namespace"], "gpu-operator");
    let cluster = find(&plan, "ClusterRole", "gpuplan-operator");
    assert!(
        rule(cluster, "security.openshift.io", "securitycontextconstraints").unwrap()["verbs"]
            .as_array()
            .unwrap()
            .contains(&json!("use"))
    );
    let scc = find(&plan, "SecurityContextConstraints", "restricted-readonly");
    assert_eq!(scc["users"], json!(["system:serviceaccount:gpu-operator:gpuplan-operator"]));
    assert!(has(&plan, "RoleBinding", "prometheus-k8s"));
    assert!(!has(&self::plan(&[]), "SecurityContextConstraints", "restricted-readonly"));
}

#[test]
fn given_an_enabled_service_monitor_it_scrapes_the_metrics_service() {
    let plan = plan(&[
        "operator.metrics.serviceMonitor.enabled=true",
        "operator.metrics.serviceMonitor.interval=30s",
        "operator.metrics.serviceMonitor.additionalLabels.release=prom",
    ]);
    let monitor = find(&plan, "ServiceMonitor", "gpuplan-operator");
    assert_eq!(monitor["spec"]["endpoints"], json!([{ "port": "metrics", "path": "/metrics", "interval": "30s" }]));
    assert_eq!(monitor["metadata"]["labels"]["release"], "prom");
    assert_eq!(monitor["spec"]["selector"]["matchLabels"], json!({ "app": "gpuplan-operator" }));
    assert!(!has(&self::plan(&[]), "ServiceMonitor", "gpuplan-operator"));
}

#[test]
fn given_defaults_nfd_renders_the_subcharts_objects_with_its_names_and_labels() {
    let plan = plan(&[]);
    let mut kinds: Vec<(&str, &str)> =
        stage(&plan, "node-feature-discovery").iter().map(|m| (m.kind(), m.name())).collect();
    kinds.sort();
    let master = format!("{NFD}-master");
    let worker = format!("{NFD}-worker");
    let gc = format!("{NFD}-gc");
    let (mconf, wconf) = (format!("{NFD}-master-conf"), format!("{NFD}-worker-conf"));
    let mut expected = vec![
        ("ClusterRole", NFD),
        ("ClusterRole", gc.as_str()),
        ("ClusterRoleBinding", NFD),
        ("ClusterRoleBinding", gc.as_str()),
        ("ConfigMap", mconf.as_str()),
        ("ConfigMap", wconf.as_str()),
        ("DaemonSet", worker.as_str()),
        ("Deployment", gc.as_str()),
        ("Deployment", master.as_str()),
        ("Role", worker.as_str()),
        ("RoleBinding", worker.as_str()),
        ("ServiceAccount", "node-feature-discovery"),
    ];
    expected.sort();
    assert_eq!(kinds, expected);
    for m in stage(&plan, "node-feature-discovery") {
        let labels = &m.object["metadata"]["labels"];
        assert_eq!(labels["helm.sh/chart"], "node-feature-discovery-0.19.0", "{}", m.name());
        assert_eq!(labels["app.kubernetes.io/name"], "node-feature-discovery");
        assert_eq!(labels["app.kubernetes.io/instance"], "gpu-operator");
        assert_eq!(labels["app.kubernetes.io/version"], "v0.19.0");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "gpuplan");
        if m.kind() != "ClusterRole" && m.kind() != "ClusterRoleBinding" {
            assert_eq!(m.namespace(), "gpu-operator", "{}", m.name());
        }
    }
    for (kind, name) in [("Deployment", &master), ("DaemonSet", &worker), ("Deployment", &gc)] {
        let w = find(&plan, kind, name);
        assert_eq!(container(w)["image"], "registry.k8s.io/nfd/node-feature-discovery:v0.19.0");
        let spec = &w["spec"]["template"]["spec"];
        assert_eq!(spec["serviceAccountName"], "node-feature-discovery");
        assert_eq!(spec["priorityClassName"], "system-node-critical");
        assert_eq!(spec["dnsPolicy"], "ClusterFirstWithHostNet");
        assert!(spec.get("imagePullSecrets").is_none());
    }
    let m = find(&plan, "Deployment", &master);
    assert_eq!(m["spec"]["replicas"], 1);
    assert_eq!(container(m)["args"], json!(["-port=8080"]));
    assert_eq!(container(m)["startupProbe"]["failureThreshold"], 30);
    assert_eq!(m["spec"]["template"]["spec"]["enableServiceLinks"], false);
    let w = find(&plan, "DaemonSet", &worker);
    assert_eq!(container(w)["args"], json!(["-owner-refs=pod,ds", "-port=8080"]));
    assert_eq!(w["spec"]["updateStrategy"], json!({ "rollingUpdate": { "maxUnavailable": "10%" } }));
    let tolerations = &w["spec"]["template"]["spec"]["tolerations"];
    assert_eq!(tolerations[1], json!({ "key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule" }));
    let mounts: Vec<&J> = container(w)["volumeMounts"].as_array().unwrap().iter().map(|m| &m["mountPath"]).collect();
    assert!(mounts.contains(&&json!("/host-sys")) && !mounts.contains(&&json!("/host-usr/src")));
    assert_eq!(container(find(&plan, "Deployment", &gc))["args"], json!(["-gc-interval=1h"]));
    let wconf_object = find(&plan, "ConfigMap", &wconf);
    let text = wconf_object["data"]["nfd-worker.conf"].as_str().unwrap();
    assert!(text.starts_with("sources:\n  pci:\n") && text.contains("- \"0300\"") && !text.ends_with('\n'));
    assert_eq!(find(&plan, "ConfigMap", &mconf)["data"]["nfd-master.conf"], "extraLabelNs:\n- nvidia.com");
    // The pods roll when their ConfigMap changes: the annotation hashes the rendered ConfigMap.
    let rendered = plan.manifests().find(|m| m.name() == wconf).unwrap().to_yaml();
    assert_eq!(w["spec"]["template"]["metadata"]["annotations"]["checksum/config"], sha256(&rendered));
}

#[test]
fn given_nfd_disabled_its_objects_go_but_the_nodefeaturerule_follows_its_own_switch() {
    let plan = plan(&["nfd.enabled=false"]);
    assert!(stage(&plan, "node-feature-discovery").is_empty());
    let plan = self::plan(&["nfd.enabled=false", "nfd.nodefeaturerules=true"]);
    let objects = stage(&plan, "node-feature-discovery");
    assert_eq!(objects.len(), 1);
    let rule = &objects[0].object;
    assert_eq!((objects[0].kind(), objects[0].name()), ("NodeFeatureRule", "nvidia-kernel-modules"));
    assert_eq!(rule["spec"]["rules"][1]["labels"], json!({ "nvidia.com/gds.capable": "true" }));
    assert_eq!(
        rule["spec"]["rules"][2]["matchFeatures"][0]["matchExpressions"],
        json!({ "nvidia_peermem": { "op": "Exists" } })
    );
}

#[test]
fn given_release_names_and_overrides_nfd_names_objects_as_the_helpers_do() {
    let names = |release: &str, sets: &[&str]| -> (String, String) {
        let plan = try_plan(release, sets, &[]).unwrap();
        let master = plan.manifests().find(|m| m.kind() == "Deployment" && m.name().ends_with("-master")).unwrap();
        let name = master.object["metadata"]["labels"]["app.kubernetes.io/name"].as_str().unwrap().to_owned();
        (master.name().to_owned(), name)
    };
    assert_eq!(names("my-node-feature-discovery", &[]).0, "my-node-feature-discovery-master");
    assert_eq!(names("gpu", &["node-feature-discovery.nameOverride=nfd"]), ("gpu-nfd-master".into(), "nfd".into()));
    assert_eq!(names("gpu", &["node-feature-discovery.fullnameOverride=labeller"]).0, "labeller-master");
    let long = "r".repeat(49);
    // `<release>-node-feature-discovery` cut to 63 characters ends on `-`, which goes too.
    assert_eq!(names(&long, &[]).0, format!("{long}-node-feature-master"));
}

#[test]
fn given_nfd_settings_the_pods_take_them_as_the_subchart_renders_them() {
    let plan = plan(&[
        "node-feature-discovery.image.tag=v0.18.3",
        "node-feature-discovery.imagePullSecrets[0].name=regcred",
        "node-feature-discovery.featureGates.NodeFeatureGroupAPI=true",
        "node-feature-discovery.master.replicaCount=2",
        "node-feature-discovery.master.extraArgs[0]=-v=2",
        "node-feature-discovery.master.extraLabelNs[0]=example.com",
        "node-feature-discovery.master.extraEnvs[0].name=FOO",
        "node-feature-discovery.master.extraEnvs[0].value=bar",
        "node-feature-discovery.master.revisionHistoryLimit=3",
        "node-feature-discovery.worker.hostNetwork=true",
        "node-feature-discovery.worker.hostUsers=true",
        "node-feature-discovery.worker.priorityClassName=worker-class",
        "node-feature-discovery.worker.mountUsrSrc=true",
        "node-feature-discovery.worker.ownerRefs[0]=node",
        "node-feature-discovery.worker.serviceAccount.create=true",
        "node-feature-discovery.worker.serviceAccount.name=null",
        "node-feature-discovery.checksumValuesOnly=true",
    ]);
    let master = find(&plan, "Deployment", &format!("{NFD}-master"));
    let c = container(master);
    assert_eq!(c["image"], "registry.k8s.io/nfd/node-feature-discovery:v0.18.3");
    assert_eq!(
        c["args"],
        json!([
            "-enable-leader-election",
            "-extra-label-ns=example.com",
            "-feature-gates=NodeFeatureGroupAPI=true",
            "-port=8080",
            "-v=2"
        ])
    );
    assert_eq!(c["env"][1], json!({ "name": "FOO", "value": "bar" }));
    assert_eq!(master["spec"]["revisionHistoryLimit"], 3);
    assert_eq!(master["spec"]["template"]["spec"]["imagePullSecrets"], json!([{ "name": "regcred" }]));
    let worker_name = format!("{NFD}-worker");
    let worker = find(&plan, "DaemonSet", &worker_name);
    let spec = &worker["spec"]["template"]["spec"];
    assert_eq!((&spec["hostNetwork"], &spec["hostUsers"]), (&json!(true), &json!(true)));
    assert_eq!(spec["priorityClassName"], "worker-class");
    assert_eq!(spec["serviceAccountName"], worker_name.as_str());
    assert!(has(&plan, "ServiceAccount", &worker_name));
    assert_eq!(
        container(worker)["args"],
        json!(["-feature-gates=NodeFeatureGroupAPI=true", "-owner-refs=node", "-port=8080"])
    );
    assert!(spec["volumes"].as_array().unwrap().iter().any(|v| v["hostPath"]["path"] == "/usr/src"));
    // ownerRefs: [node] lets the worker read its Node.
    assert_eq!(find(&plan, "ClusterRoleBinding", &worker_name)["subjects"][0]["name"], worker_name.as_str());
    // checksumValuesOnly: the hash of the `config` value's YAML, as the chart's `toYaml`.
    let checksum = &master["spec"]["template"]["metadata"]["annotations"]["checksum/config"];
    assert_eq!(checksum, &json!(sha256("extraLabelNs:\n- nvidia.com")));
}

#[test]
fn given_the_optional_nfd_parts_enabled_they_are_rendered() {
    let plan = plan(&[
        "node-feature-discovery.topologyUpdater.enable=true",
        "node-feature-discovery.topologyUpdater.createCRDs=true",
        "node-feature-discovery.master.podDisruptionBudget.enable=true",
        "node-feature-discovery.worker.networkPolicy.enabled=true",
        "node-feature-discovery.prometheus.enable=true",
        "node-feature-discovery.global.imagePullSecrets[0].name=global-cred",
    ]);
    let updater = format!("{NFD}-topology-updater");
    let ds = find(&plan, "DaemonSet", &updater);
    assert_eq!(ds["spec"]["template"]["spec"]["serviceAccountName"], updater.as_str());
    assert_eq!(ds["spec"]["template"]["spec"]["imagePullSecrets"], json!([{ "name": "global-cred" }]));
    assert_eq!(container(ds)["args"][1], "-sleep-interval=60s");
    for kind in ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"] {
        assert!(has(&plan, kind, &updater), "{kind}");
    }
    assert_eq!(find(&plan, "ConfigMap", &format!("{updater}-conf"))["data"]["nfd-topology-updater.conf"], "null");
    let crd = find(&plan, "CustomResourceDefinition", "noderesourcetopologies.topology.node.k8s.io");
    assert_eq!(crd["spec"]["versions"][1]["storage"], true);
    let pdb = find(&plan, "PodDisruptionBudget", &format!("{NFD}-master"));
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(pdb["spec"]["selector"]["matchLabels"]["role"], "master");
    assert!(pdb["spec"].get("enable").is_none());
    let policy = find(&plan, "NetworkPolicy", &format!("{NFD}-worker-network-policy"));
    assert_eq!(policy["spec"]["policyTypes"], json!(["Egress", "Ingress"]));
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], "http");
    let monitor = find(&plan, "PodMonitor", NFD);
    assert_eq!(monitor["metadata"]["namespace"], "gpu-operator");
    assert_eq!(monitor["spec"]["podMetricsEndpoints"][0]["interval"], "10s");
    // The operator may apply the CRD the plan holds.
    let cluster = find(&plan, "ClusterRole", "gpuplan-operator");
    let crds = rule(cluster, "apiextensions.k8s.io", "customresourcedefinitions").unwrap();
    assert!(crds["verbs"].as_array().unwrap().contains(&json!("patch")));
}

#[test]
fn given_include_crds_nfd_crds_are_valid_simplified_definitions() {
    let crds = gpuplan_compiler::render::nfd_crds().unwrap();
    let by_name = |name: &str| &crds.iter().find(|c| c.name() == name).unwrap().object;
    let group = by_name("nodefeaturegroups.nfd.k8s-sigs.io");
    assert_eq!(group["spec"]["names"]["shortNames"], json!(["nfg"]));
    assert_eq!(group["spec"]["scope"], "Namespaced");
    let version = &group["spec"]["versions"][0];
    assert_eq!(
        (&version["name"], &version["served"], &version["storage"]),
        (&json!("v1alpha1"), &json!(true), &json!(true))
    );
    assert_eq!(version["subresources"], json!({ "status": {} }));
    let schema = &version["schema"]["openAPIV3Schema"]["properties"];
    assert_eq!(schema["status"]["x-kubernetes-preserve-unknown-fields"], true);
    let rule = by_name("nodefeaturerules.nfd.k8s-sigs.io");
    assert_eq!(rule["spec"]["scope"], "Cluster");
    assert_eq!(rule["spec"]["names"]["kind"], "NodeFeatureRule");
    let feature = by_name("nodefeatures.nfd.k8s-sigs.io");
    assert_eq!(
        feature["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"],
        true
    );
}

#[test]
fn given_extra_objects_maps_and_yaml_strings_become_objects() {
    let values = r#"
extraObjects:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: literal, namespace: apps}
    data: {key: value}
  - |
    apiVersion: v1
    kind: Secret
    metadata:
      name: from-text
    stringData: {port: "8080"}
    ---
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata: {name: gpu-high}
    value: 1000
"#;
    let plan = try_plan("gpu-operator", &[], &[values]).unwrap();
    let objects = stage(&plan, "extra-objects");
    assert_eq!(objects.len(), 3);
    assert!(objects.iter().all(|m| m.source == "gpuplan/extra-objects/object.yaml"));
    assert_eq!(find(&plan, "ConfigMap", "literal")["data"], json!({ "key": "value" }));
    assert_eq!(find(&plan, "ConfigMap", "literal")["metadata"]["labels"]["app.kubernetes.io/managed-by"], "gpuplan");
    assert_eq!(find(&plan, "Secret", "from-text")["stringData"]["port"], "8080");
    assert_eq!(find(&plan, "PriorityClass", "gpu-high")["value"], 1000);
}

#[test]
fn given_helm_templating_in_extra_objects_rendering_fails_with_a_hint() {
    for values in [
        "extraObjects:\n  - |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: '{{ .Release.Name }}'}\n",
        "extraObjects:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: '{{ .Release.Namespace }}'}}\n",
    ] {
        let err = try_plan("gpu-operator", &[], &[values]).unwrap_err();
        let Error::Render { message, .. } = &err else { panic!("{err}") };
        assert!(message.starts_with("extraObjects[0]: "), "{message}");
        assert!(message.contains("write the object literally"), "{message}");
    }
    let err = try_plan("gpu-operator", &[], &["extraObjects:\n  - 'just: text'\n"]).unwrap_err();
    assert!(err.to_string().contains("needs `apiVersion` and `kind`"), "{err}");
}
