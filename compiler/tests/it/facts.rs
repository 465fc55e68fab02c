//! Issue 13: the plan resolved for the real cluster. Given the cluster fact fixtures in
//! `golden/facts/` (the whole plans are golden cases in `golden/plan/facts-*`), compiling
//! produces one driver DaemonSet per GPU node OS, one node agent per container runtime, no
//! ServiceMonitor where the API is not served — whatever the order of the nodes — and without
//! facts the same plan as before, with `lint` naming every value that needs a fact.

use std::path::Path;

use gpuplan_compiler::facts::{self, Facts, RUNTIME_LABEL};
use gpuplan_compiler::plan::{Plan, Release};
use gpuplan_compiler::{Compiled, Inputs, Severity, Target};

fn fixture(name: &str) -> Facts {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/facts").join(name);
    facts::read(name, &std::fs::read_to_string(path).expect("fixture")).expect("reads")
}

fn compile(facts: Facts, sets: &[&str], missing_facts: bool) -> Compiled {
    let inputs = Inputs {
        files: Vec::new(),
        flags: sets
            .iter()
            .map(|s| gpuplan_compiler::InputFlag { kind: gpuplan_compiler::FlagKind::Set, text: (*s).into() })
            .collect(),
    };
    let release =
        Release { name: "gpu-operator".into(), namespace: "gpu-operator".into(), kube_version: "1.31".into() };
    let target = Target { release, facts, missing_facts, ..Target::default() };
    gpuplan_compiler::compile(&inputs, &mut |_| Err("no files".into()), &target).expect("compiles")
}

fn plan(facts: Facts) -> Plan {
    compile(facts, &[], false).plan.expect("a plan")
}

fn daemonsets<'a>(plan: &'a Plan, prefix: &str) -> Vec<&'a serde_json::Value> {
    plan.manifests().filter(|m| m.kind() == "DaemonSet" && m.name().starts_with(prefix)).map(|m| &m.object).collect()
}

#[test]
fn two_oses_give_one_driver_daemonset_each_selecting_exactly_those_nodes() {
    let plan = plan(fixture("two-os.yaml"));
    let drivers = daemonsets(&plan, "nvidia-driver-daemonset");
    let names: Vec<&str> = drivers.iter().map(|d| d["metadata"]["name"].as_str().unwrap_or_default()).collect();
    assert_eq!(names, ["nvidia-driver-daemonset-rhel9.4", "nvidia-driver-daemonset-ubuntu22.04"]);
    for (driver, (id, version)) in drivers.iter().zip([("rhel", "9.4"), ("ubuntu", "22.04")]) {
        let pod = &driver["spec"]["template"]["spec"];
        assert_eq!(pod["nodeSelector"][facts::OS_ID], id);
        assert_eq!(pod["nodeSelector"][facts::OS_VERSION_ID], version);
        let image = pod["containers"][0]["image"].as_str().unwrap_or_default();
        assert_eq!(image, format!("nvcr.io/nvidia/driver:595.91.07-{id}{version}"));
        let app = &driver["spec"]["selector"]["matchLabels"]["app"];
        assert_eq!(app, &driver["metadata"]["name"], "each DaemonSet selects only its own pods");
    }
    assert!(plan.facts_digest.as_deref().is_some_and(|d| d.starts_with("sha256:")), "the plan records its facts");
}

#[test]
fn a_mixed_runtime_cluster_gets_one_node_agent_per_runtime() {
    let plan = plan(fixture("mixed-runtimes.yaml"));
    let agents = daemonsets(&plan, "nvidia-container-toolkit-daemonset");
    let found: Vec<(&str, &str, &str)> = agents
        .iter()
        .map(|ds| {
            let pod = &ds["spec"]["template"]["spec"];
            let env = pod["containers"][0]["env"].as_array().expect("env");
            let runtime =
                env.iter().find(|e| e["name"] == "RUNTIME").and_then(|e| e["value"].as_str()).unwrap_or_default();
            (
                ds["metadata"]["name"].as_str().unwrap_or_default(),
                pod["nodeSelector"][RUNTIME_LABEL].as_str().unwrap_or_default(),
                runtime,
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("nvidia-container-toolkit-daemonset-containerd", "containerd", "containerd"),
            ("nvidia-container-toolkit-daemonset-crio", "crio", "crio"),
            ("nvidia-container-toolkit-daemonset-docker", "docker", "docker"),
        ]
    );
    assert_eq!(plan.runtimes.len(), 3, "the plan shows each runtime's node change");
    assert_eq!(
        plan.manifests().filter(|m| m.name() == "nvidia-container-toolkit").count(),
        3,
        "one account, role, binding"
    );
}

#[test]
fn without_the_prometheus_operator_service_monitors_are_left_out_and_said() {
    let compiled = compile(fixture("no-prometheus.yaml"), &[], false);
    let plan = compiled.plan.as_ref().expect("a plan");
    assert!(!plan.manifests().any(|m| m.kind() == "ServiceMonitor"));
    let omitted: Vec<&String> = plan.stages.iter().flat_map(|s| &s.omitted).collect();
    assert!(omitted.iter().any(|o| o.contains("ServiceMonitor gpu-operator/nvidia-dcgm-exporter")), "{omitted:?}");
    assert!(
        compiled
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning && d.message.starts_with("left out: ServiceMonitor"))
    );
    let with = plan_with_api(&["monitoring.coreos.com/v1"]);
    assert!(with.manifests().any(|m| m.kind() == "ServiceMonitor"), "served: rendered");
}

fn plan_with_api(apis: &[&str]) -> Plan {
    let facts = Facts { api_versions: Some(apis.iter().map(|a| (*a).to_owned()).collect()), ..Facts::default() };
    plan(facts)
}

#[test]
fn the_order_of_the_nodes_in_the_file_does_not_matter() {
    let mut facts = fixture("two-os.yaml");
    let mut reversed = facts.nodes.clone().expect("nodes");
    reversed.reverse();
    let shuffled = Facts::default().with_nodes(reversed);
    facts.nodes.as_mut().expect("nodes").sort();
    assert_eq!(plan(shuffled).to_yaml(), plan(facts).to_yaml());
}

#[test]
fn without_facts_the_plan_is_as_before_and_lint_names_every_value_that_needs_a_fact() {
    let compiled = compile(Facts::default(), &[], true);
    let plan = compiled.plan.expect("a plan");
    assert_eq!(plan.facts_digest, None);
    assert_eq!(daemonsets(&plan, "nvidia-driver-daemonset").len(), 1);
    let warnings: Vec<(&str, &str)> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| (d.pointer.as_str(), d.message.as_str()))
        .collect();
    assert!(
        warnings[0].0 == "/driver/version" && warnings[0].1.contains("nvcr.io/nvidia/driver:595.91.07"),
        "the driver tag first: {warnings:?}"
    );
    assert!(warnings.iter().any(|(p, _)| *p == "/operator/defaultRuntime"), "{warnings:?}");
    assert!(warnings.iter().any(|(_, m)| m.contains("ServiceMonitors are rendered as if")), "{warnings:?}");
    let named = compiled.diagnostics.iter().filter(|d| d.hint.as_deref().is_some_and(|h| h.contains("--facts FILE")));
    assert!(named.count() >= 2, "the driver tag and the runtime warnings name --facts: {:?}", compiled.diagnostics);
    let quiet = compile(Facts::default(), &[], false);
    assert!(quiet.diagnostics.is_empty(), "template stays quiet: {:?}", quiet.diagnostics);
}

#[test]
fn a_change_of_facts_shows_in_the_diff_as_a_change_of_values_does() {
    use gpuplan_compiler::diff::Side;
    let before = plan(Facts::default());
    let after = plan(fixture("mixed-runtimes.yaml"));
    let report = gpuplan_compiler::diff(&Side::plan(&before), &Side::plan(&after));
    let messages: Vec<&str> = report.node.iter().map(|c| c.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.starts_with("GPU nodes running crio get a node agent")), "{messages:#?}");
    assert!(messages.iter().any(|m| m.starts_with("GPU nodes running docker get a node agent")), "{messages:#?}");
    let added: Vec<String> = report
        .objects
        .iter()
        .filter(|o| o.change == gpuplan_compiler::diff::Change::Add)
        .map(|o| o.key.to_string())
        .collect();
    assert!(added.iter().any(|k| k.contains("nvidia-container-toolkit-daemonset-crio")), "{added:#?}");
    // Back again: the runtimes lose their agents, and the same facts give no difference.
    let back = gpuplan_compiler::diff(&Side::plan(&after), &Side::plan(&before));
    assert!(back.node.iter().any(|c| c.message.starts_with("GPU nodes running crio no longer have")), "{back:#?}");
    assert!(!gpuplan_compiler::diff(&Side::plan(&after), &Side::plan(&after)).has_changes());
}

#[test]
fn gpu_nodes_all_on_another_runtime_get_that_runtimes_agent_and_a_warning() {
    let crio = facts::NodeFacts {
        name: "gpu-1".into(),
        labels: [("nvidia.com/gpu.present".to_owned(), "true".to_owned())].into(),
        container_runtime_version: "cri-o://1.30.6".into(),
        ..facts::NodeFacts::default()
    };
    let compiled = compile(Facts::default().with_nodes(vec![crio]), &[], false);
    let plan = compiled.plan.as_ref().expect("a plan");
    assert_eq!(plan.node.runtime, gpuplan_compiler::node::RuntimeKind::Crio, "the plan's node change is CRI-O's");
    assert!(plan.runtimes.is_empty(), "one runtime: no per-runtime list");
    let agents = daemonsets(plan, "nvidia-container-toolkit-daemonset");
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0]["metadata"]["name"], "nvidia-container-toolkit-daemonset", "the one agent keeps its name");
    assert!(agents[0]["spec"]["template"]["spec"]["nodeSelector"].get(RUNTIME_LABEL).is_none(), "every GPU node");
    let warning = compiled.diagnostics.iter().find(|d| d.pointer == "/operator/defaultRuntime").expect("a warning");
    assert_eq!(warning.severity, Severity::Warning);
    assert!(warning.message.contains("no GPU node runs containerd"), "{}", warning.message);
}
