//! `gpuplan explain` as users run it: given a command line, running the real binary produces
//! the field's value, its sources with their origins, the rule, the conditions — or exit code 2
//! with a message that says what exists instead.

use std::fs;

use serde_json::Value;

use super::{gpuplan, seed_args};

const TOOLKIT: &str = "daemonset/nvidia-container-toolkit-daemonset";
const SOCKET: &str = "spec.template.spec.containers[name=node-agent].env[name=CONTAINERD_SOCKET].value";
const INSTALL_ROOT: &str = "spec.template.spec.initContainers[name=toolkit-install].env[name=ROOT].value";
const DEFAULTS: &str = include_str!("../../../values/values.yaml");

/// Run `gpuplan explain OBJECT FIELD ARGS...`: exit code, stdout, stderr.
fn explain(object: &str, field: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = gpuplan().args(["explain", object, field]).args(args).output().expect("runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn explain_json(object: &str, field: &str, args: &[&str]) -> Value {
    let mut all = vec!["-o", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = explain(object, field, &all);
    assert_eq!(code, Some(0), "stderr:\n{stderr}");
    serde_json::from_str(&stdout).expect("JSON on stdout")
}

/// The source of the explanation at a `--set` path.
fn source<'a>(explanation: &'a Value, path: &str) -> &'a Value {
    explanation["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["path"] == path)
        .unwrap_or_else(|| panic!("{path} is not a source of {explanation:#}"))
}

/// `line:col` of `key:` under the top-level `section:` of the built-in values.yaml.
fn defaults_at(section: &str, key: &str) -> String {
    let lines: Vec<&str> = DEFAULTS.lines().collect();
    let start = lines.iter().position(|l| *l == format!("{section}:")).expect("section");
    let (n, line) = lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, l)| l.trim_start().starts_with(&format!("{key}:")))
        .expect("key");
    format!("{}:{}", n + 1, line.len() - line.trim_start().len() + 1)
}

#[test]
fn seed_socket_is_traced_to_its_set_flag_with_the_socket_dir_rule() {
    let (code, stdout, stderr) = explain(TOOLKIT, SOCKET, &seed_args());
    assert_eq!(code, Some(0), "stderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "DaemonSet gpu-operator/nvidia-container-toolkit-daemonset   (stage container-toolkit)");
    assert_eq!(lines[1], SOCKET);
    assert_eq!(lines[2], "  = \"/runtime/sock-dir/containerd.sock\"");
    assert_eq!(lines[3], "from:");
    assert_eq!(
        lines[4],
        "  toolkit.env[1].value = \"/run/containerd/containerd.sock\"   \
         --set #5 (toolkit.env[1].value=/run/containerd/containerd.sock)"
    );
    assert!(lines[5].starts_with("    rule: socket directory mounted at /runtime/sock-dir, env rewritten"), "{stdout}");
    let toolkit_enabled =
        format!("  toolkit.enabled = true   built-in values.yaml:{}", defaults_at("toolkit", "enabled"));
    assert!(stdout.contains(&format!("exists while:\n{toolkit_enabled}\n")), "{stdout}");
}

#[test]
fn json_output_gives_origins_as_fields() {
    let e = explain_json(TOOLKIT, SOCKET, &seed_args());
    let s = source(&e, "toolkit.env[1].value");
    assert_eq!(s["origin"]["source"], "flag");
    assert_eq!(s["origin"]["name"], "--set");
    assert_eq!(s["origin"]["index"], 5);
    assert_eq!(s["uses"][0]["transform"]["kind"], "rule");
    assert_eq!(e["object"]["stage"], "container-toolkit");
}

#[test]
fn a_default_value_is_traced_to_its_line_in_the_built_in_values() {
    let e = explain_json(TOOLKIT, INSTALL_ROOT, &[]);
    let s = source(&e, "toolkit.installDir");
    assert_eq!(s["origin"]["source"], "defaults");
    assert_eq!(s["origin"]["text"], format!("built-in values.yaml:{}", defaults_at("toolkit", "installDir")));
    assert_eq!(s["uses"][0]["transform"]["kind"], "verbatim");
}

#[test]
fn a_value_from_a_file_is_traced_to_its_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("site.yaml");
    fs::write(&file, "toolkit:\n  enabled: true\n  installDir: /opt/nvidia\n").expect("write");
    let file = file.to_string_lossy().into_owned();
    let (code, stdout, stderr) = explain(TOOLKIT, INSTALL_ROOT, &["-f", &file]);
    assert_eq!(code, Some(0), "stderr:\n{stderr}");
    assert!(stdout.contains(&format!("toolkit.installDir = \"/opt/nvidia\"   {file}:3:3\n")), "{stdout}");
}

#[test]
fn a_secret_from_extra_objects_is_never_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("secret.yaml");
    fs::write(
        &file,
        "extraObjects:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: creds, namespace: gpu-operator}\n  \
         stringData: {token: s3cr3t-t0ken}\n",
    )
    .expect("write");
    let file = file.to_string_lossy().into_owned();
    for output in ["text", "json"] {
        let (code, stdout, stderr) = explain("secret/creds", "stringData.token", &["-f", &file, "-o", output]);
        assert_eq!(code, Some(0), "stderr:\n{stderr}");
        assert!(!stdout.contains("s3cr3t"), "{stdout}");
        assert!(stdout.contains("<secret: 12 bytes>"), "{stdout}");
    }
}

#[test]
fn an_unknown_object_exits_2_with_a_suggestion() {
    let (code, stdout, stderr) = explain("ds/nvidia-container-toolkit", "metadata.name", &[]);
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert!(stderr.contains("did you mean `daemonset/nvidia-container-toolkit-daemonset`?"), "{stderr}");
}

#[test]
fn an_unknown_field_exits_2_naming_what_exists() {
    let (code, _, stderr) = explain(TOOLKIT, "spec.template.spec.containers[name=agent].image", &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("`spec.template.spec.containers` has no item with name=agent"), "{stderr}");
    assert!(stderr.contains("[name=node-agent]"), "{stderr}");
}
