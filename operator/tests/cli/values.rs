//! `gpuplan values` and `gpuplan lint` as users run them: flags, files, stdin, errors and exit
//! codes. Each test gives a command line, runs the real binary, and checks what it produces.

use std::fs;

use serde_json::{Value, json};

use super::{gpuplan, seed_args};

/// Run `gpuplan values -o json` with extra arguments and parse stdout.
fn values_json(args: &[&str]) -> Value {
    let out = gpuplan().args(["values", "-o", "json"]).args(args).output().expect("runs");
    assert!(out.status.success(), "gpuplan values failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn seed_command_line_gives_four_string_env_pairs() {
    let values = values_json(&seed_args());
    assert_eq!(
        values["toolkit"]["env"],
        json!([
            {"name": "CONTAINERD_CONFIG", "value": "/etc/containerd/config.toml"},
            {"name": "CONTAINERD_SOCKET", "value": "/run/containerd/containerd.sock"},
            {"name": "CONTAINERD_RUNTIME_CLASS", "value": "nvidia"},
            {"name": "CONTAINERD_SET_AS_DEFAULT", "value": "true"},
        ])
    );
    assert_eq!(values["operator"]["defaultRuntime"], "containerd");
}

#[test]
fn seed_command_line_passes_lint_with_the_set_as_default_warning() {
    let out = gpuplan().arg("lint").args(seed_args()).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "lint output:\n{stdout}");
    // Upstream's operator silently overrides CONTAINERD_SET_AS_DEFAULT=true when CDI is on
    // (rancher/rke2#8752); gpuplan honours it and says so.
    assert!(stdout.starts_with("warning: /toolkit/env/3/value: the NVIDIA runtime becomes the default runtime, as this variable asks\n  --> --set #9 (toolkit.env[3].value=true)\n"), "lint output:\n{stdout}");
    // Without the cluster's facts, lint also names the values that need them.
    assert!(stdout.ends_with("lint: 0 errors, 4 warnings\n"), "lint output:\n{stdout}");
    let out = gpuplan().arg("lint").args(seed_args()).args(cluster_facts()).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.ends_with("lint: 0 errors, 1 warning\n"), "lint output:\n{stdout}");
}

/// Facts of a cluster that serves the Prometheus Operator's API: lint then needs no more.
fn cluster_facts() -> Vec<String> {
    let facts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/facts/two-os.yaml");
    vec!["--facts".into(), facts.display().to_string(), "-a".into(), "monitoring.coreos.com/v1".into()]
}

#[test]
fn set_string_beats_set_whatever_the_flag_order() {
    let values = values_json(&["--set-string", "driver.version=1", "--set", "driver.version=2"]);
    assert_eq!(values["driver"]["version"], "1");
    let values = values_json(&["--set", "driver.version=2", "--set-json", r#"driver.version="3""#]);
    assert_eq!(values["driver"]["version"], "2", "--set applies after --set-json");
}

#[test]
fn schema_keeps_set_literal_text_for_strings() {
    let values =
        values_json(&["--set", "driver.version=010", "--set", "toolkit.env[0].name=X,toolkit.env[0].value=true"]);
    assert_eq!(values["driver"]["version"], "010");
    assert_eq!(values["toolkit"]["env"][0]["value"], "true");
}

#[test]
fn comma_separated_files_are_two_files_applied_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    fs::write(&a, "toolkit:\n  version: v1.0.0\n  installDir: /opt/a\n").expect("write");
    fs::write(&b, "toolkit:\n  version: v2.0.0\n").expect("write");
    let list = format!("{},{}", a.display(), b.display());
    let values = values_json(&["-f", &list]);
    assert_eq!(values["toolkit"]["version"], "v2.0.0");
    assert_eq!(values["toolkit"]["installDir"], "/opt/a");
}

#[test]
fn values_file_dash_reads_stdin() {
    let out = gpuplan()
        .args(["values", "-o", "json", "-f", "-"])
        .write_stdin("dcgm:\n  enabled: yes\n")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let values: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(values["dcgm"]["enabled"], true, "YAML 1.1: yes is true");
}

#[test]
fn set_of_one_list_index_replaces_the_default_list() {
    let path = "node-feature-discovery.worker.config.sources.pci.deviceClassWhitelist";
    let defaults = values_json(&[]);
    let default_list =
        &defaults["node-feature-discovery"]["worker"]["config"]["sources"]["pci"]["deviceClassWhitelist"];
    assert!(default_list.as_array().is_some_and(|l| l.len() > 2), "the default list has several entries");
    let values = values_json(&["--set", &format!("{path}[1]=0300")]);
    assert_eq!(
        values["node-feature-discovery"]["worker"]["config"]["sources"]["pci"]["deviceClassWhitelist"],
        json!([null, "0300"])
    );
}

#[test]
fn user_supplied_prints_only_files_and_flags_with_nulls() {
    let out = gpuplan()
        .args(["values", "--user-supplied", "--set", "dcgm.enabled=true,operator.annotations=null"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "dcgm:\n  enabled: true\noperator:\n  annotations: null\n");
}

#[test]
fn a_user_null_deletes_a_default_key() {
    let values = values_json(&["--set", "operator.annotations=null"]);
    assert!(values["operator"].get("annotations").is_none(), "deleted: {}", values["operator"]);
}

#[test]
fn integral_floats_from_yaml_print_as_helm_prints_them() {
    let out = gpuplan()
        .args(["values", "-o", "json", "--user-supplied", "-f", "-"])
        .write_stdin("driver:\n  startupProbe:\n    periodSeconds: 1e3\n")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"periodSeconds\": 1000\n"), "{stdout}");
}

#[test]
fn set_json_error_names_the_flag_and_the_cause() {
    let out = gpuplan().args(["values", "--set-json", "driver={bad"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: failed parsing --set-json data driver={bad\n  --set-json #1: invalid character 'b' looking for beginning of object key string\n"
    );
}

#[test]
fn set_parse_error_uses_helms_text() {
    let out = gpuplan().args(["values", "--set", "a=1,,b=2"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("Error: failed parsing --set data: key \"\" has no value (cannot end with ,)\n"),
        "{stderr}"
    );
}

#[test]
fn schema_errors_are_all_reported_with_source_pointer_and_expectation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    fs::write(&file, "driver:\n  version: 010\noperator:\n  defaultRuntime: podman\n").expect("write");
    let out = gpuplan()
        .current_dir(dir.path())
        .args(["lint", "-f", "bad.yaml", "--set", "toolkit.enabled=maybe"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let expected = "\
error: /driver/version: wrong type: expected string
  --> bad.yaml:2:3
   |
 2 |   version: 010
   |   ^
  = expected: string
  = found: number 8 (written `010`)
  = help: YAML 1.1 reads `010` as a number; quote it (\"010\") to keep the text

error: /operator/defaultRuntime: not one of the allowed values
  --> bad.yaml:4:3
   |
 4 |   defaultRuntime: podman
   |   ^
  = expected: one of \"containerd\", \"crio\", \"docker\"
  = found: string \"podman\"

error: /toolkit/enabled: wrong type: expected boolean
  --> --set #1 (toolkit.enabled=maybe)
  = expected: boolean
  = found: string \"maybe\"

lint: 3 errors, 0 warnings
";
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

#[test]
fn a_misspelt_key_gets_a_suggestion() {
    let out = gpuplan().args(["lint", "--set", "toolkit.enviroment[0].name=X"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "error: /toolkit/enviroment: unknown key `enviroment`\n  --> --set #1 (toolkit.enviroment[0].name=X)\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("  = help: did you mean `env`?\n"), "{stdout}");
}

#[test]
fn a_yaml_syntax_error_names_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("broken.yaml"), "toolkit:\n  env: [a, b\n").expect("write");
    let out = gpuplan().current_dir(dir.path()).args(["values", "-f", "broken.yaml"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("Error: failed to parse broken.yaml:3:1: "), "{stderr}");
}

#[test]
fn a_missing_values_file_is_a_clear_error() {
    let out = gpuplan().args(["values", "-f", "no-such-file.yaml"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("Error: values file `no-such-file.yaml` (-f)\n  caused by: cannot read `no-such-file.yaml`\n  caused by: No such file or directory"), "{stderr}");
}

#[test]
fn unrendered_keys_warn_but_lint_passes() {
    let out = gpuplan().args(["lint", "--set", "gds.enabled=true"]).args(cluster_facts()).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("warning: /gds: `gds` is accepted for compatibility with the upstream chart, but gpuplan does not render it\n  --> --set #1 (gds.enabled=true)\n"), "{stdout}");
    assert!(stdout.ends_with("lint: 0 errors, 1 warning\n"), "{stdout}");
}

#[test]
fn skip_schema_validation_lets_unknown_keys_through() {
    let out = gpuplan()
        .args(["values", "--skip-schema-validation", "--set", "toolkit.enviroment=x", "-o", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn set_file_stores_the_file_contents() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("data.csv"), "DCGM_FI_DEV_SM_CLOCK, gauge, SM clock\n").expect("write");
    let out = gpuplan()
        .current_dir(dir.path())
        .args(["values", "-o", "json", "--user-supplied", "--set", "dcgmExporter.config.name=metrics"])
        .args(["--set-file", "dcgmExporter.config.data=data.csv"])
        .output()
        .expect("runs");
    let values: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(values["dcgmExporter"]["config"]["data"], "DCGM_FI_DEV_SM_CLOCK, gauge, SM clock\n");
}

#[test]
fn set_file_dash_reads_stdin_once() {
    let out = gpuplan()
        .args(["values", "-o", "json", "--user-supplied", "--set", "dcgmExporter.config.name=metrics"])
        .args(["--set-file", "dcgmExporter.config.data=-", "-f", "-"])
        .write_stdin("dcgm:\n  enabled: true\n")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let values: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(values["dcgm"]["enabled"], true, "-f - is read first and gets stdin");
    assert_eq!(values["dcgmExporter"]["config"]["data"], "", "a second `-` reads nothing, as in Helm");
}
