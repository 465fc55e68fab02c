//! What gpuplan prints as YAML reads back identically in a YAML 1.1 reader.
//!
//! Given strings that YAML 1.1 loves to misread (`yes`, `on`, `010`, `1e3`, `~`, `null`,
//! timestamps, `0x1F`, `- a`, `: `, `#`, quotes, leading and trailing blanks, line breaks of
//! every kind, control and non-characters, any unicode) set as the toolkit's env values
//! (`toolkit.env`), as operand DaemonSet label and annotation values (`daemonsets.labels`,
//! `daemonsets.annotations`) and as annotation keys, the real binary renders them with
//! `gpuplan template`, and PyYAML (`yaml.safe_load_all`, the YAML 1.1 resolver kubectl's
//! go-yaml v2 also follows) reads the output back:
//! - every string is back, unchanged, at each of its places: the `toolkit-install` init
//!   container's env and the metadata of `nvidia-container-toolkit-daemonset` and of its pods;
//! - every document equals, value for value, the object of `gpuplan plan -o json` with the
//!   same values (nothing else in the stream is misread either).
//!
//! The strings go in with `--set-json` (JSON strings, exact: no strvals escaping). The values
//! schema takes any string here, so the generator is not restricted. A known list always runs
//! (also through `gpuplan plan -o yaml` and `gpuplan values`); a property test adds random
//! ones. A string that does not read back is a bug in `compiler/src/values/print.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::OnceLock;

use assert_cmd::Command;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::real::python;

/// Reads a YAML stream on stdin with PyYAML's `safe_load_all` and prints the documents as one
/// JSON list, keeping what JSON would blur: a non-string key, or a value JSON cannot hold (a
/// date, bytes, NaN), becomes a tagged string that can never equal a gpuplan value.
const PYYAML_TO_JSON: &str = r#"
import json, math, sys, yaml

def conv(v):
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else "!non-string key " + repr(k)): conv(x) for k, x in v.items()}
    if isinstance(v, list):
        return [conv(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return "!python " + repr(v)
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    return "!python " + repr(v)

text = sys.stdin.buffer.read().decode("utf-8")
docs = [conv(d) for d in yaml.safe_load_all(text) if d is not None]
sys.stdout.write(json.dumps(docs, ensure_ascii=True))
"#;

const DAEMONSET: &str = "nvidia-container-toolkit-daemonset";
const INIT_CONTAINER: &str = "toolkit-install";
/// What each annotation keyed by a test string holds.
const KEY_MARK: &str = "gpuplan-roundtrip-key";

/// The strings every run checks.
const KNOWN: &[&str] = &[
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n",
    "a\n",
    "a\n\n",
    " a\nb",
    "a\nb",
    "a \nb",
    "a\n b",
    "a\r\nb",
    "\r",
    "yes",
    "Yes",
    "YES",
    "no",
    "on",
    "On",
    "off",
    "OFF",
    "y",
    "Y",
    "n",
    "N",
    "true",
    "False",
    "null",
    "Null",
    "NULL",
    "~",
    "<<",
    "=",
    "010",
    "0o17",
    "0x1F",
    "0b101",
    "1e3",
    "1E3",
    "1.5",
    ".5",
    "-.5",
    "+1",
    "-1",
    "1_000",
    "1:20",
    "190:20:30",
    ".inf",
    "-.Inf",
    ".NaN",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "- a",
    "-",
    "--",
    "---",
    "...",
    "? a",
    "?",
    ": ",
    "a: b",
    "a:",
    ":a",
    "a:b",
    "#",
    "#c",
    "a #c",
    "a#c",
    "'",
    "\"",
    "'a'",
    "\"a\"",
    "\\",
    "\\n",
    "a\\",
    "[a]",
    "{a: b}",
    "a, b",
    ",",
    "&a",
    "*a",
    "!a",
    "!!str",
    "|",
    ">",
    "|-",
    "%a",
    "@a",
    "`a",
    " a",
    "a ",
    "a\t",
    "\ta",
    "é",
    "😀",
    "日本",
    "\u{0}",
    "\u{7}",
    "\u{1b}",
    "\u{7f}",
    "\u{80}",
    "\u{85}",
    "a\u{85}b",
    "\u{a0}",
    "a\u{a0}",
    "\u{2028}",
    "a\u{2028}b",
    "a\u{2029}b",
    "\u{feff}",
    "a\u{feff}",
    "\u{fffe}",
    "\u{ffff}",
    "\u{e000}",
    "\u{10ffff}",
    "a\n\u{85}b",
    "a\n\u{2028}",
];

/// One `gpuplan` run with the test strings set; its stdout.
fn gpuplan(args: &[&str], strings: &[String]) -> Vec<u8> {
    let env: Vec<Value> =
        strings.iter().enumerate().map(|(i, s)| json!({"name": format!("GPUPLAN_RT_{i}"), "value": s})).collect();
    let labels: serde_json::Map<String, Value> =
        strings.iter().enumerate().map(|(i, s)| (format!("gpuplan.dev/rt-{i}"), json!(s))).collect();
    let mut annotations = labels.clone();
    for s in strings {
        annotations.insert(s.clone(), json!(KEY_MARK));
    }
    let out = Command::cargo_bin("gpuplan")
        .expect("binary")
        .args(args)
        .arg("--set-json")
        .arg(format!("toolkit.env={}", Value::Array(env)))
        .arg("--set-json")
        .arg(format!("daemonsets.labels={}", Value::Object(labels)))
        .arg("--set-json")
        .arg(format!("daemonsets.annotations={}", Value::Object(annotations)))
        .output()
        .expect("gpuplan runs");
    assert!(out.status.success(), "gpuplan {args:?} failed for {strings:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The documents PyYAML reads from `yaml`.
fn pyyaml(python: &Path, yaml: &[u8]) -> Result<Vec<Value>, String> {
    let mut child = StdCommand::new(python)
        .args(["-c", PYYAML_TO_JSON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().expect("stdin").write_all(yaml).expect("write to python");
    let out = child.wait_with_output().expect("python runs");
    let text = String::from_utf8_lossy(yaml);
    if !out.status.success() {
        return Err(format!("PyYAML cannot read the output:\n{}\n{text}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("python printed no JSON ({e})"))
}

/// JSON equality with numbers compared as numbers (PyYAML and serde may differ in int/float).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        (x, y) => x == y,
    }
}

/// Every string is at each of its places in the toolkit DaemonSet PyYAML read.
fn check_places(daemonset: &Value, strings: &[String]) -> Result<(), String> {
    let mut problems = Vec::new();
    let init = daemonset["spec"]["template"]["spec"]["initContainers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == INIT_CONTAINER))
        .ok_or(format!("no init container {INIT_CONTAINER}"))?;
    let metas = [("metadata", &daemonset["metadata"]), ("pod metadata", &daemonset["spec"]["template"]["metadata"])];
    let mut check = |place: String, got: Option<&Value>, want: &str| {
        if got != Some(&json!(want)) {
            problems.push(format!("{place}: want {want:?}, read {got:?}"));
        }
    };
    for (i, s) in strings.iter().enumerate() {
        let name = format!("GPUPLAN_RT_{i}");
        let env = init["env"].as_array().and_then(|env| env.iter().find(|e| e["name"] == name.as_str()));
        check(format!("{INIT_CONTAINER} env {name}"), env.map(|e| &e["value"]), s);
        for (which, meta) in metas {
            let key = format!("gpuplan.dev/rt-{i}");
            check(format!("{which} label {key}"), meta["labels"].get(&key), s);
            check(format!("{which} annotation {key}"), meta["annotations"].get(&key), s);
            check(format!("{which} annotation keyed {s:?}"), meta["annotations"].get(s), KEY_MARK);
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

/// `gpuplan template` with `strings` set, read by PyYAML: the strings at their places, and
/// every document the object `gpuplan plan -o json` holds.
fn template_reads_back(python: &Path, strings: &[String]) -> Result<(), String> {
    let yaml = gpuplan(&["template"], strings);
    let text = String::from_utf8_lossy(&yaml);
    let docs = pyyaml(python, &yaml)?;
    let plan: Value = serde_json::from_slice(&gpuplan(&["plan", "-o", "json"], strings)).expect("the plan is JSON");
    let objects: Vec<&Value> = plan["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .flat_map(|s| s["objects"].as_array().expect("objects").iter().map(|o| &o["object"]))
        .collect();
    if docs.len() != objects.len() {
        return Err(format!("PyYAML read {} documents, the plan has {} objects:\n{text}", docs.len(), objects.len()));
    }
    for (doc, object) in docs.iter().zip(&objects) {
        if !json_eq(doc, object) {
            return Err(format!(
                "PyYAML read a document unlike the plan's object\nread: {doc:#}\nplan: {object:#}\nfrom:\n{text}"
            ));
        }
    }
    let daemonset = docs
        .iter()
        .find(|d| d["kind"] == "DaemonSet" && d["metadata"]["name"] == DAEMONSET)
        .ok_or(format!("no DaemonSet {DAEMONSET} in:\n{text}"))?;
    check_places(daemonset, strings).map_err(|e| format!("{e}\nin:\n{text}"))
}

/// The whole of a printed YAML (`gpuplan plan`, `gpuplan values`) reads back as its `-o json`.
fn yaml_equals_json(python: &Path, command: &str, strings: &[String]) -> Result<(), String> {
    let yaml = gpuplan(&[command, "-o", "yaml"], strings);
    let docs = pyyaml(python, &yaml)?;
    let json: Value = serde_json::from_slice(&gpuplan(&[command, "-o", "json"], strings)).expect("JSON");
    match docs.as_slice() {
        [doc] if json_eq(doc, &json) => Ok(()),
        _ => Err(format!(
            "PyYAML read gpuplan {command} -o yaml unlike -o json\nread: {docs:#?}\njson: {json:#}\nfrom:\n{}",
            String::from_utf8_lossy(&yaml)
        )),
    }
}

#[test]
fn known_tricky_strings_read_back_identically() {
    let Some(python) = python() else { return };
    let strings: Vec<String> = KNOWN.iter().map(|s| (*s).to_owned()).collect();
    let mut failures = Vec::new();
    if let Err(e) = template_reads_back(&python, &strings) {
        failures.push(format!("gpuplan template: {e}"));
    }
    for command in ["plan", "values"] {
        if let Err(e) = yaml_equals_json(&python, command, &strings) {
            failures.push(format!("gpuplan {command}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Pieces of text that YAML 1.1 treats specially, glued together at random with any character.
fn tricky_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(KNOWN).prop_map(str::to_owned),
        2 => prop::sample::select(vec![
            ' ', '\t', '\n', '\r', ':', '#', '-', '?', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%',
            '@', '`', '\\', '~', '=', '.', '+', '0', '1', '9', 'e', 'x', 'o', 'b', 'y', 'n', 'T', 'Z', 'a',
            '\u{85}', '\u{a0}', '\u{2028}', '\u{2029}', '\u{feff}', '\u{fffe}', 'é', '😀',
        ])
        .prop_map(String::from),
        1 => any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
}

/// The Python to run, looked up (and a skip announced) once for all cases.
fn python_once() -> Option<&'static Path> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON.get_or_init(python).as_deref()
}

proptest! {
    // Each case renders twice and starts Python once (~0.25 s in a debug build), so a case
    // carries many strings: 32 cases of up to 16.
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_strings_read_back_identically(strings in proptest::collection::vec(tricky_string(), 1..16)) {
        let Some(python) = python_once() else { return Ok(()) };
        template_reads_back(python, &strings).map_err(TestCaseError::fail)?;
    }
}
