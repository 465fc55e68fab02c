//! `explain`: given values and an object's field, running explain produces the field's value,
//! the values it came from with their origins, the rule that transformed them, and what the
//! field and the object depend on — or an error that says what exists instead.

use gpuplan_compiler::explain::{Explanation, LeafInfo, Transform};
use gpuplan_compiler::{DEFAULT_VALUES, Error, Facts, FlagKind, InputFile, InputFlag, Inputs, Severity};

const TOOLKIT: &str = "daemonset/nvidia-container-toolkit-daemonset";
const AGENT_ENV: &str = "spec.template.spec.containers[name=node-agent].env";
const INSTALL_ROOT: &str = "spec.template.spec.initContainers[name=toolkit-install].env[name=ROOT].value";

/// Explain a field of the plan for values files and `--set` flags over the defaults; the
/// values must pass `check`.
fn explain_with(files: &[(&str, &str)], sets: &[&str], object: &str, field: &str) -> Result<Explanation, Error> {
    explain_for(&Facts::default(), files, sets, object, field)
}

fn explain_for(
    facts: &Facts,
    files: &[(&str, &str)],
    sets: &[&str],
    object: &str,
    field: &str,
) -> Result<Explanation, Error> {
    let inputs = Inputs {
        files: files.iter().map(|(name, text)| InputFile { name: (*name).into(), text: (*text).into() }).collect(),
        flags: sets.iter().map(|s| InputFlag { kind: FlagKind::Set, text: (*s).into() }).collect(),
    };
    let target = gpuplan_compiler::Target { render: false, ..Default::default() };
    let compiled = gpuplan_compiler::compile(&inputs, &mut |_| Err("no files".into()), &target).expect("loads");
    let errors: Vec<String> =
        compiled.diagnostics.iter().filter(|d| d.severity == Severity::Error).map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "the test's values are invalid: {errors:?}");
    gpuplan_compiler::explain(&compiled.effective.values, &target.release, facts, object, field)
}

fn explain(sets: &[&str], object: &str, field: &str) -> Explanation {
    explain_with(&[], sets, object, field).expect("explains")
}

fn source<'a>(e: &'a Explanation, path: &str) -> &'a gpuplan_compiler::explain::SourceInfo {
    e.sources.iter().find(|s| s.leaf.path == path).unwrap_or_else(|| panic!("{path} is not a source:\n{}", e.to_text()))
}

fn has(leaves: &[LeafInfo], path: &str) -> bool {
    leaves.iter().any(|l| l.path == path)
}

/// The 1-based line of `key:` under the top-level `section:` of the built-in values.yaml.
fn defaults_line(section: &str, key: &str) -> u32 {
    let lines: Vec<&str> = DEFAULT_VALUES.lines().collect();
    let start = lines.iter().position(|l| *l == format!("{section}:")).expect("section");
    let at =
        lines[start + 1..].iter().position(|l| l.trim_start().starts_with(&format!("{key}:"))).expect("key in section");
    (start + 1 + at + 1) as u32
}

#[test]
fn given_the_defaults_explain_gives_the_built_in_line_of_a_default_value() {
    let e = explain(&[], TOOLKIT, INSTALL_ROOT);
    assert_eq!(e.value, "/usr/local/nvidia");
    let s = source(&e, "toolkit.installDir");
    assert_eq!(s.leaf.origin.source, "defaults");
    let line = defaults_line("toolkit", "installDir");
    assert_eq!((s.leaf.origin.line, s.leaf.origin.col), (Some(line), Some(3)));
    assert_eq!(s.uses[0].transform, Transform::Verbatim);
    assert!(
        e.to_text().contains(&format!("toolkit.installDir = \"/usr/local/nvidia\"   built-in values.yaml:{line}:3"))
    );
}

#[test]
fn given_a_values_file_explain_gives_its_name_line_and_column() {
    let file = "# mine\ntoolkit:\n  installDir: /opt/nvidia\n";
    let e = explain_with(&[("site.yaml", file)], &[], TOOLKIT, INSTALL_ROOT).expect("explains");
    assert_eq!(e.value, "/opt/nvidia");
    let s = source(&e, "toolkit.installDir");
    assert_eq!(s.leaf.origin.text, "site.yaml:3:3");
    assert_eq!(s.leaf.origin.name.as_deref(), Some("site.yaml"));
}

#[test]
fn given_set_flags_explain_names_the_nth_flag() {
    let e = explain(&["toolkit.enabled=true", "toolkit.installDir=/opt/x"], TOOLKIT, INSTALL_ROOT);
    let s = source(&e, "toolkit.installDir");
    assert_eq!(s.leaf.origin.index, Some(2));
    assert_eq!(s.leaf.origin.text, "--set #2 (toolkit.installDir=/opt/x)");
    assert_eq!(e.value, "/opt/x");
}

#[test]
fn given_a_toolkit_socket_explain_traces_the_rewrite_to_the_env_entry() {
    let sets = [
        "operator.defaultRuntime=containerd",
        "toolkit.env[0].name=CONTAINERD_SOCKET",
        "toolkit.env[0].value=/var/run/k3s/containerd/containerd.sock",
    ];
    let e = explain(&sets, TOOLKIT, &format!("{AGENT_ENV}[name=CONTAINERD_SOCKET].value"));
    assert_eq!(e.value, "/runtime/sock-dir/containerd.sock");
    let s = source(&e, "toolkit.env[0].value");
    assert_eq!(s.leaf.origin.text, "--set #3 (toolkit.env[0].value=/var/run/k3s/containerd/containerd.sock)");
    let Transform::Rule { stage, text } = &s.uses[0].transform else { panic!("a rule: {:?}", s.uses) };
    assert_eq!(stage, "container-toolkit");
    assert!(text.starts_with("socket directory mounted at /runtime/sock-dir, env rewritten"), "{text}");
    assert!(has(&e.exists_while, "toolkit.enabled"), "{}", e.to_text());
    assert!(has(&e.depends_on, "operator.defaultRuntime"), "{}", e.to_text());

    // The mounted directory comes from the same value, by the same rule.
    let e = explain(&sets, TOOLKIT, "spec.template.spec.volumes[name=containerd-socket].hostPath.path");
    assert_eq!(e.value, "/var/run/k3s/containerd");
    assert!(matches!(source(&e, "toolkit.env[0].value").uses[0].transform, Transform::Rule { .. }));
}

#[test]
fn given_a_whole_env_entry_explain_says_where_below_it_each_source_shows() {
    let sets = ["toolkit.env[0].name=CONTAINERD_SOCKET", "toolkit.env[0].value=/run/k3s/containerd.sock"];
    let plan = super::fixtures::plan(&sets);
    let ds = plan.manifests().find(|m| m.name() == "nvidia-container-toolkit-daemonset").expect("toolkit");
    let env = ds.object["spec"]["template"]["spec"]["containers"][0]["env"].as_array().expect("env");
    let index = env.iter().position(|e| e["name"] == "CONTAINERD_SOCKET").expect("CONTAINERD_SOCKET");
    let e = explain(&sets, TOOLKIT, &format!("{AGENT_ENV}[{index}]"));
    assert_eq!(e.field, format!("{AGENT_ENV}[name=CONTAINERD_SOCKET]"));
    assert_eq!(e.value["value"], "/runtime/sock-dir/containerd.sock");
    assert_eq!(source(&e, "toolkit.env[0].value").uses[0].at, "value");
}

#[test]
fn given_the_default_socket_explain_finds_no_source_but_the_runtime_it_depends_on() {
    let e = explain(&[], TOOLKIT, &format!("{AGENT_ENV}[name=CONTAINERD_SOCKET].value"));
    assert!(e.sources.is_empty(), "{}", e.to_text());
    assert!(has(&e.depends_on, "operator.defaultRuntime"), "{}", e.to_text());
    assert!(e.to_text().contains("no value"));
}

#[test]
fn given_an_image_explain_names_each_part_and_the_image_rule() {
    let e = explain(&[], TOOLKIT, "spec.template.spec.initContainers[name=toolkit-install].image");
    for part in ["toolkit.repository", "toolkit.image", "toolkit.version"] {
        let Transform::Rule { text, .. } = &source(&e, part).uses[0].transform else { panic!("{part}: a rule") };
        assert!(text.starts_with("image reference"), "{text}");
    }
}

#[test]
fn given_a_flag_that_decides_existence_explain_lists_it_as_a_condition() {
    let e = explain(&[], TOOLKIT, "metadata.name");
    assert!(has(&e.exists_while, "toolkit.enabled"), "{}", e.to_text());
    assert!(!has(&e.depends_on, "toolkit.enabled"));
    assert!(!e.exists_while.iter().any(|l| l.path.starts_with("driver.")), "{}", e.to_text());
}

#[test]
fn given_kind_spellings_explain_finds_the_same_object() {
    for object in ["ds/nvidia-container-toolkit-daemonset", "DaemonSets.apps/nvidia-container-toolkit-daemonset"] {
        let e = explain(&[], object, "metadata.namespace");
        assert_eq!(e.object.kind, "DaemonSet");
        assert_eq!(e.object.stage, "container-toolkit");
    }
}

#[test]
fn given_a_misspelt_object_explain_suggests_the_closest_and_lists_the_kind() {
    let Err(Error::UnknownObject { hint: Some(hint), .. }) =
        explain_with(&[], &[], "daemonset/nvidia-container-toolkit", "metadata.name")
    else {
        panic!("unknown object")
    };
    assert!(hint.starts_with("did you mean `daemonset/nvidia-container-toolkit-daemonset`?"), "{hint}");
    assert!(hint.contains("nvidia-device-plugin-daemonset"), "{hint}");
    let Err(Error::UnknownObject { hint: Some(hint), .. }) = explain_with(&[], &[], "deamonset/x", "metadata.name")
    else {
        panic!("unknown kind")
    };
    assert!(hint.starts_with("did you mean `daemonset`?"), "{hint}");
}

#[test]
fn given_a_missing_field_explain_names_the_deepest_prefix_and_what_is_there() {
    let err = explain_with(&[], &[], TOOLKIT, &format!("{AGENT_ENV}[name=CONTAINERD_SOCKT].value")).expect_err("fails");
    let Error::UnknownField { found, hint, .. } = &err else { panic!("unknown field: {err}") };
    assert_eq!(found, &format!("`{AGENT_ENV}`"));
    assert_eq!(hint.as_deref(), Some("did you mean [name=CONTAINERD_SOCKET]?"));
    let err = explain_with(&[], &[], TOOLKIT, "spec.templat.spec").expect_err("fails");
    assert!(err.to_string().contains("did you mean `template`?"), "{err}");
    let err = explain_with(&[], &[], TOOLKIT, "spec..template").expect_err("fails");
    assert!(matches!(err, Error::FieldSyntax { at: 6, .. }), "{err}");
}

#[test]
fn given_same_named_objects_outside_the_namespace_explain_lists_the_candidates() {
    let file = "extraObjects:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: a}}\n\
                - {apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: b}}\n";
    let err = explain_with(&[("extra.yaml", file)], &[], "cm/x", "metadata.name").expect_err("ambiguous");
    let Error::AmbiguousObject { candidates, .. } = err else { panic!("ambiguous: {err}") };
    assert_eq!(candidates, ["ConfigMap/x (a)", "ConfigMap/x (b)"]);
}

#[test]
fn given_a_secret_explain_prints_sizes_never_its_data() {
    let password = "hunter2-but-longer";
    let file = format!(
        "extraObjects:\n\
         - apiVersion: v1\n  kind: Secret\n  metadata: {{name: creds, namespace: gpu-operator}}\n  \
           stringData: {{password: {password}}}\n\
         - |\n  apiVersion: v1\n  kind: Secret\n  metadata: {{name: creds2, namespace: gpu-operator}}\n  \
           stringData:\n    password: {password}\n"
    );
    for object in ["secret/creds", "secret/creds2"] {
        let e = explain_with(&[("secrets.yaml", &file)], &[], object, "stringData.password").expect("explains");
        assert_eq!(e.value, format!("<secret: {} bytes>", password.len()));
        assert_eq!(e.sources.len(), 1, "{object}: {}", e.to_text());
        let json = serde_json::to_string(&e).expect("serialises");
        for printed in [e.to_text(), json] {
            assert!(!printed.contains(password), "{object}: {printed}");
        }
        let e = explain_with(&[("secrets.yaml", &file)], &[], object, "stringData").expect("explains");
        assert!(!e.to_text().contains(password));
    }
}

#[test]
fn given_facts_explain_finds_the_driver_daemonset_of_one_os_and_traces_its_tag() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/facts/two-os.yaml");
    let facts =
        gpuplan_compiler::facts::read("two-os.yaml", &std::fs::read_to_string(path).expect("fixture")).expect("reads");
    let object = "ds/nvidia-driver-daemonset-rhel9.4";
    let field = "spec.template.spec.containers[0].image";
    let e = explain_for(&facts, &[], &["driver.version=550.1"], object, field).expect("explains");
    assert_eq!(e.value, "nvcr.io/nvidia/driver:550.1-rhel9.4");
    assert_eq!(source(&e, "driver.version").leaf.origin.source, "flag");
    // Without facts there is one driver DaemonSet for every node, and no per-OS one to explain.
    let Err(Error::UnknownObject { hint: Some(hint), .. }) = explain_with(&[], &[], object, "metadata.name") else {
        panic!("no such object without facts")
    };
    assert!(hint.contains("nvidia-driver-daemonset"), "{hint}");
}
