//! `gpuplan diff`: plans made by `gpuplan plan` from different values, compared.

use std::fs;
use std::path::PathBuf;

use serde_json::Value as J;

use super::gpuplan;

struct Plans {
    dir: tempfile::TempDir,
}

impl Plans {
    fn new() -> Plans {
        Plans { dir: tempfile::tempdir().expect("tempdir") }
    }

    /// `gpuplan plan ARGS > NAME`.
    fn plan(&self, name: &str, args: &[&str]) -> PathBuf {
        let out = gpuplan().arg("plan").args(args).output().expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let path = self.dir.path().join(name);
        fs::write(&path, &out.stdout).expect("write");
        path
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, text).expect("write");
        path
    }
}

fn diff(args: &[&str]) -> (i32, String, String) {
    let out = gpuplan().arg("diff").args(args).output().expect("runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().expect("exit code"), text(&out.stdout), text(&out.stderr))
}

fn p(path: &std::path::Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn json(args: &[&str]) -> J {
    let (code, out, err) = diff(&[args, &["-o", "json"]].concat());
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("JSON")
}

fn changed_lines(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("+ ") || l.starts_with("- ")).collect()
}

#[test]
fn given_identical_plans_nothing_prints_and_the_exit_code_is_0() {
    let plans = Plans::new();
    let a = plans.plan("a.yaml", &[]);
    let b = plans.plan("b.json", &["-o", "json"]);
    assert_eq!(diff(&[p(&a), p(&b), "--detailed-exitcode"]), (0, String::new(), String::new()));
}

#[test]
fn given_one_env_value_changed_exactly_that_line_changes_under_its_entry() {
    let plans = Plans::new();
    let a = plans.plan("a.yaml", &["--set", "devicePlugin.env[0].name=FOO,devicePlugin.env[0].value=before"]);
    let b = plans.plan("b.yaml", &["--set", "devicePlugin.env[0].name=FOO,devicePlugin.env[0].value=after"]);
    let (code, out, _) = diff(&[p(&a), p(&b), "--detailed-exitcode"]);
    assert_eq!(code, 1);
    assert_eq!(changed_lines(&out), ["-           value: before", "+           value: after"]);
    assert!(out.starts_with("gpu-operator, nvidia-device-plugin-daemonset, DaemonSet (apps) has changed:\n"), "{out}");
    assert!(out.contains("        - name: nvidia-device-plugin\n"), "the container is named: {out}");
    assert!(out.contains("          - name: FOO\n-           value: before"), "the entry is named: {out}");
    let report = json(&[p(&a), p(&b)]);
    assert_eq!(
        report["objects"][0]["fields"][0]["path"],
        "spec.template.spec.containers[name=nvidia-device-plugin].env[name=FOO].value"
    );
}

#[test]
fn given_a_stage_disabled_its_objects_are_removed_and_nothing_else() {
    let plans = Plans::new();
    let a = plans.plan("a.json", &["-o", "json"]);
    let b = plans.plan("b.yaml", &["--set", "dcgmExporter.enabled=false"]);
    let old: J = serde_json::from_str(&fs::read_to_string(&a).expect("read")).expect("plan JSON");
    let stage = old["stages"].as_array().expect("stages").iter().find(|s| s["name"] == "dcgm-exporter").expect("stage");
    let mut expected: Vec<String> = stage["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["object"]["kind"].as_str().unwrap_or_default(),
                o["object"]["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let report = json(&[p(&a), p(&b)]);
    let mut removed: Vec<String> = report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            assert_eq!((&o["change"], &o["stage"]), (&J::from("REMOVE"), &J::from("dcgm-exporter")), "{o}");
            format!("{}/{}", o["kind"].as_str().unwrap_or_default(), o["name"].as_str().unwrap_or_default())
        })
        .collect();
    expected.sort();
    removed.sort();
    assert!(expected.len() >= 4, "{expected:?}");
    assert_eq!(removed, expected);
    assert_eq!(
        report["summary"],
        serde_json::json!({"add": 0, "change": 0, "destroy": expected.len(), "nodeChanges": 0})
    );
    let (_, simple, _) = diff(&[p(&a), p(&b), "-o", "simple"]);
    assert!(simple.ends_with(&format!("Plan: 0 to add, 0 to change, {} to destroy.\n", expected.len())), "{simple}");
}

#[test]
fn given_the_runtime_switched_to_crio_objects_and_node_change_both_say_so() {
    let plans = Plans::new();
    let a = plans.plan("a.yaml", &[]);
    let (code, out, err) = diff(&["--against", p(&a), "--set", "operator.defaultRuntime=crio", "--detailed-exitcode"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("gpu-operator, nvidia-container-toolkit-daemonset, DaemonSet (apps) has changed:"), "{out}");
    assert!(out.contains("-         - name: CONTAINERD_SOCKET\n"), "the containerd variables go: {out}");
    assert!(out.contains("GPU nodes, container runtime config has changed:\n  - the container runtime changes from containerd to crio\n"), "{out}");
    assert!(
        out.contains("  - the runtime socket moves from /run/containerd/containerd.sock to /var/run/crio/crio.sock\n"),
        "{out}"
    );
    let report = json(&["--against", p(&a), "--set", "operator.defaultRuntime=crio"]);
    let runtime = report["node"].as_array().expect("node").iter().find(|n| n["field"] == "runtime").expect("runtime");
    assert_eq!((&runtime["old"], &runtime["new"]), (&J::from("containerd"), &J::from("crio")));
}

#[test]
fn given_reordered_env_entries_nothing_changes() {
    let plans = Plans::new();
    let a = plans.plan("a.json", &["-o", "json"]);
    let mut plan: J = serde_json::from_str(&fs::read_to_string(&a).expect("read")).expect("JSON");
    let mut reversed = 0;
    for stage in plan["stages"].as_array_mut().expect("stages") {
        for object in stage["objects"].as_array_mut().expect("objects") {
            let Some(spec) = object.pointer_mut("/object/spec/template/spec") else { continue };
            for container in spec.get_mut("containers").and_then(J::as_array_mut).into_iter().flatten() {
                if let Some(env) = container.get_mut("env").and_then(J::as_array_mut).filter(|e| e.len() > 1) {
                    env.reverse();
                    reversed += 1;
                }
            }
            if let Some(volumes) = spec.get_mut("volumes").and_then(J::as_array_mut) {
                volumes.reverse();
            }
        }
    }
    assert!(reversed >= 5, "env lists were reordered: {reversed}");
    let b = plans.write("b.json", &serde_json::to_string(&plan).expect("JSON"));
    assert_eq!(diff(&[p(&a), p(&b), "--detailed-exitcode"]), (0, String::new(), String::new()));
}

#[test]
fn given_a_changed_secret_no_value_is_printed_in_any_format() {
    let plans = Plans::new();
    let secret = |token: &str| {
        format!(
            r#"extraObjects=[{{"apiVersion":"v1","kind":"Secret","metadata":{{"name":"licence"}},"stringData":{{"token":"{token}","same":"unchanged-value"}}}}]"#
        )
    };
    let a = plans.plan("a.yaml", &["--set-json", &secret("first-secret-value")]);
    let b = plans.plan("b.yaml", &["--set-json", &secret("second-secret-value!")]);
    for format in ["diff", "simple", "json", "markdown"] {
        let (code, out, _) = diff(&[p(&a), p(&b), "-o", format, "--detailed-exitcode", "-C", "-1"]);
        assert_eq!(code, 1, "{format}");
        for secret in ["first-secret-value", "second-secret-value", "unchanged-value", "Zmlyc3Q"] {
            assert!(!out.contains(secret), "{format} leaks {secret}: {out}");
        }
        let named = ["licence, Secret (v1)", r#""name": "licence""#, "<summary>Secret licence (changed)"];
        assert!(named.iter().any(|n| out.contains(n)), "{format}: {out}");
    }
    let (_, out, _) = diff(&[p(&a), p(&b)]);
    assert_eq!(changed_lines(&out), [r#"-   token: "-------- # (18 bytes)""#, r#"+   token: "++++++++ # (20 bytes)""#]);
    assert!(out.contains(r#"    same: "REDACTED # (15 bytes)""#), "{out}");
}

#[test]
fn given_json_output_every_object_has_helm_diffs_fields_and_its_changes() {
    let plans = Plans::new();
    let a = plans.plan("a.yaml", &[]);
    let report = json(&["--against", p(&a), "--set", "toolkit.version=v9.9.9", "--set", "nfd.enabled=false"]);
    assert_eq!(
        report.as_object().expect("object").keys().collect::<Vec<_>>(),
        ["node", "nodeFiles", "objects", "summary"]
    );
    let objects = report["objects"].as_array().expect("objects");
    for o in objects {
        for key in ["group", "kind", "namespace", "name", "apiVersion", "change"] {
            assert!(o.get(key).is_some(), "{key} in {o}");
        }
    }
    let toolkit = objects.iter().find(|o| o["name"] == "nvidia-container-toolkit-daemonset").expect("toolkit");
    assert_eq!(toolkit["change"], "MODIFY");
    let image = toolkit["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["new"] == "nvcr.io/nvidia/k8s/container-toolkit:v9.9.9");
    let image = image.expect("the image change");
    assert_eq!(image["change"], "MODIFY");
    assert!(image["path"].as_str().expect("path").starts_with("spec.template.spec.initContainers[name="), "{image}");
    assert!(objects.iter().any(|o| o["change"] == "REMOVE" && o["stage"] == "node-feature-discovery"));
}

#[test]
fn given_a_node_config_the_file_is_shown_as_each_plan_leaves_it() {
    let plans = Plans::new();
    let a = plans.plan("a.yaml", &["--set", "cdi.enabled=false"]);
    let b = plans.plan("b.yaml", &["--set", "cdi.enabled=false", "--set", "operator.runtimeClass=nvidia-gpu"]);
    let dir = plans.dir.path().display().to_string();
    let config = plans.write("config.toml", "version = 2\n");
    let (code, out, err) = diff(&[p(&a), p(&b), "--node-config", p(&config), "--set", "x=1"]);
    assert_eq!(code, 2, "values flags need --against: {out}");
    assert!(err.contains("--against"), "{err}");
    let (code, out, err) = diff(&[p(&a), p(&b), "--node-config", p(&config)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("  - the NVIDIA runtime is renamed from nvidia to nvidia-gpu\n"), "{out}");
    assert!(out.contains("-default_runtime_name = \"nvidia\"\n+default_runtime_name = \"nvidia-gpu\"\n"), "{out}");
    assert_eq!(fs::read_to_string(&config).expect("read"), "version = 2\n", "nothing is written");
    assert!(!dir.is_empty());
}

#[test]
fn given_manifest_streams_they_compare_like_plans() {
    let template = |args: &[&str]| {
        let out = gpuplan().arg("template").args(args).output().expect("runs");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let plans = Plans::new();
    let a = plans.write("a.yaml", &template(&[]));
    let b = plans.write("b.yaml", &template(&["--set", "operator.resources.limits.cpu=2"]));
    let (code, out, _) = diff(&[p(&a), p(&b), "--detailed-exitcode", "-o", "simple"]);
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "gpu-operator, gpuplan-operator, Deployment (apps) to be changed.\nPlan: 0 to add, 1 to change, 0 to destroy.\n"
        )
    );
}

#[test]
fn given_colour_flags_colour_follows_them_and_a_pipe_gets_none() {
    let plans = Plans::new();
    let a = plans.plan("a.yaml", &[]);
    let b = plans.plan("b.yaml", &["--set", "operator.resources.limits.cpu=2"]);
    let (_, plain, _) = diff(&[p(&a), p(&b)]);
    assert!(!plain.contains('\x1b'), "{plain}");
    let (_, coloured, _) = diff(&[p(&a), p(&b), "--color"]);
    assert!(
        coloured.starts_with("\x1b[33mgpu-operator, gpuplan-operator, Deployment (apps) has changed:\x1b[0m\n"),
        "{coloured}"
    );
    assert!(coloured.contains("\x1b[32m+ "), "{coloured}");
    let (_, whole, _) = diff(&[p(&a), p(&b), "-C", "-1"]);
    assert!(whole.lines().count() > plain.lines().count() && !whole.contains("\n...\n"), "{whole}");
}

#[test]
fn given_a_broken_plan_the_error_names_file_line_and_path() {
    let plans = Plans::new();
    let good = plans.plan("good.yaml", &[]);
    let text = fs::read_to_string(&good).expect("read").replacen("kubeVersion: \"1.31\"", "kubeVersion: [1]", 1);
    let bad = plans.write("bad.yaml", &text);
    let line = text.lines().position(|l| l.contains("kubeVersion: [1]")).expect("line") + 1;
    let (code, _, err) = diff(&[p(&good), p(&bad)]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("cannot read plan {}:{line}:", p(&bad))), "{err}");
    assert!(err.contains("at `release.kubeVersion`: invalid type: sequence, expected a string"), "{err}");
    let (code, _, err) = diff(&[p(&good)]);
    assert_eq!(code, 2);
    assert!(err.contains("give two plans"), "{err}");
}

#[test]
fn given_a_diff_larger_than_a_comment_holds_the_markdown_is_cut_with_a_count() {
    let plans = Plans::new();
    let a = plans.plan("a.yaml", &[]);
    // 120 ConfigMaps of 1 KB each: about twice what a comment holds.
    let maps: Vec<J> = (0..120)
        .map(|i| serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("m{i:03}")}, "data": {"k": "x".repeat(1000)}}))
        .collect();
    let b = plans.plan("b.yaml", &["--set-json", &format!("extraObjects={}", J::Array(maps))]);
    let (code, out, err) = diff(&[p(&a), p(&b), "-o", "markdown", "--detailed-exitcode"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.chars().count() <= 60_000, "{}", out.chars().count());
    assert!(out.starts_with("Plan: 120 to add, 0 to change, 0 to destroy."), "{}", &out[..200]);
    let shown = out.matches("<details>").count();
    assert!((40..120).contains(&shown), "{shown}");
    assert!(
        out.ends_with(&format!(
            "_Cut to stay within 60000 characters (a GitHub comment holds 65536): {} of 120 blocks left out. Run `gpuplan diff` for the whole diff._\n",
            120 - shown
        )),
        "{}",
        &out[out.len() - 300..]
    );
}
