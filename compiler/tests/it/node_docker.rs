//! The Docker engine: `daemon.json` edited as text, gpuplan's record beside it.
//!
//! Given daemon.json texts as nodes have them (2-space indented, one line, `{}`, missing,
//! already holding NVIDIA's runtime), applying produces the exact text written out below,
//! reverting gives back the original bytes (or the original absence), applying twice changes
//! nothing, and malformed JSON is an error with line and column.

use gpuplan_compiler::Error;
use gpuplan_compiler::node::{self, Change, Files, NodeRuntime, Record, RuntimeBinary, RuntimeKind};
use proptest::prelude::*;

use super::fixtures::patch;

const DAEMON: &str = "/etc/docker/daemon.json";
const RECORD: &str = "/etc/docker/.daemon.json.gpuplan";

/// A Docker node as the defaults resolve it: three runtimes, `nvidia` the default, no CDI.
fn node() -> NodeRuntime {
    NodeRuntime {
        runtime: RuntimeKind::Docker,
        config: DAEMON.into(),
        drop_in: None,
        socket: "/var/run/docker.sock".into(),
        set_as_default: true,
        systemd_unit: "docker".into(),
        ..super::fixtures::containerd()
    }
}

/// One runtime only, to keep expected texts short.
fn one_runtime() -> NodeRuntime {
    NodeRuntime { runtimes: node().runtimes[..1].to_vec(), ..node() }
}

fn files(daemon: Option<&str>, record: Option<&str>) -> Files {
    [(DAEMON.to_owned(), daemon.map(str::to_owned)), (RECORD.to_owned(), record.map(str::to_owned))].into()
}

/// The files as they are after `change` (its transaction made on the files it started from).
fn apply(change: &Change) -> Files {
    let start = change.files.iter().chain([&change.record]).map(|f| (f.path.clone(), f.before.clone())).collect();
    super::fixtures::applied(start, change)
}

fn after(change: &Change, path: &str) -> Option<String> {
    change.files.iter().chain([&change.record]).find(|f| f.path == path).and_then(|f| f.after.clone())
}

/// What gpuplan's record after `change` says daemon.json was before gpuplan.
fn recorded_before(change: &Change) -> Option<String> {
    let record = Record::parse(RECORD, &change.record.after.clone().expect("a record")).expect("parses");
    record.entries[0].before.clone()
}

const TWO_SPACES: &str = r#"{
  "registry-mirrors": ["https://mirror.gcr.io"],
  "log-driver": "json-file",
  "exec-opts": ["native.cgroupdriver=systemd"]
}
"#;

const ONE_LINE: &str = r#"{"log-driver": "journald", "default-runtime": "runc"}"#;

const NVIDIA_DOCKER2: &str = r#"{
    "runtimes": {
        "nvidia": {
            "path": "nvidia-container-runtime",
            "runtimeArgs": []
        }
    }
}
"#;

#[test]
fn given_a_two_space_file_adds_runtimes_in_its_style_and_keeps_every_line() {
    let change = patch(&files(Some(TWO_SPACES), None), &one_runtime()).unwrap();
    let expected = r#"{
  "registry-mirrors": ["https://mirror.gcr.io"],
  "log-driver": "json-file",
  "exec-opts": ["native.cgroupdriver=systemd"],
  "runtimes": {
    "nvidia": {
      "path": "/usr/local/nvidia/toolkit/nvidia-container-runtime",
      "args": []
    }
  },
  "default-runtime": "nvidia"
}
"#;
    assert_eq!(after(&change, DAEMON).as_deref(), Some(expected));
    assert_eq!(recorded_before(&change).as_deref(), Some(TWO_SPACES));
    let order: Vec<_> = change.steps.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(order, [RECORD, DAEMON], "the record first, then daemon.json");
}

#[test]
fn given_a_one_line_file_writes_inline_and_records_the_default_it_replaced() {
    let change = patch(&files(Some(ONE_LINE), None), &NodeRuntime { enable_cdi: true, ..one_runtime() }).unwrap();
    let expected = concat!(
        r#"{"log-driver": "journald", "default-runtime": "nvidia", "#,
        r#""runtimes": {"nvidia": {"path": "/usr/local/nvidia/toolkit/nvidia-container-runtime", "args": []}}, "#,
        r#""features": {"cdi": true}}"#
    );
    assert_eq!(after(&change, DAEMON).as_deref(), Some(expected));
    assert!(
        change.notes.iter().any(|n| n == "/default-runtime replaced (was \"runc\"); a revert puts it back"),
        "{:?}",
        change.notes
    );
    assert_eq!(recorded_before(&change).as_deref(), Some(ONE_LINE));
}

#[test]
fn given_an_empty_object_or_no_file_writes_four_space_json() {
    let expected = r#"{
    "runtimes": {
        "nvidia": {
            "path": "/usr/local/nvidia/toolkit/nvidia-container-runtime",
            "args": []
        }
    }
}
"#;
    let node = NodeRuntime { set_as_default: false, ..one_runtime() };
    for daemon in [Some("{}\n"), None] {
        let change = patch(&files(daemon, None), &node).unwrap();
        assert_eq!(after(&change, DAEMON).as_deref(), Some(expected), "from {daemon:?}");
    }
    let created = patch(&files(None, None), &node).unwrap();
    assert_eq!(recorded_before(&created), None, "recorded as missing");
}

#[test]
fn given_set_as_default_off_leaves_default_runtime_alone() {
    let node = NodeRuntime { set_as_default: false, ..node() };
    let text = after(&patch(&files(Some(ONE_LINE), None), &node).unwrap(), DAEMON).unwrap();
    assert!(text.starts_with(r#"{"log-driver": "journald", "default-runtime": "runc", "runtimes": {"#), "{text}");
    assert!(!text.contains("\"default-runtime\": \"nvidia\""));
}

#[test]
fn given_cdi_on_an_existing_features_object_sets_only_cdi() {
    let text = "{\n  \"features\": {\n    \"buildkit\": true\n  }\n}\n";
    let change = patch(&files(Some(text), None), &NodeRuntime { enable_cdi: true, ..one_runtime() }).unwrap();
    let got = after(&change, DAEMON).unwrap();
    assert!(got.starts_with("{\n  \"features\": {\n    \"buildkit\": true,\n    \"cdi\": true\n  },\n"), "{got}");
}

/// Realistic inputs, for the round-trip properties.
fn inputs() -> Vec<Option<&'static str>> {
    vec![
        Some(TWO_SPACES),
        Some(ONE_LINE),
        Some("{}"),
        Some("{}\n"),
        None,
        Some("\n"),
        Some(NVIDIA_DOCKER2),
        Some("{\r\n  \"features\": {\"cdi\": false},\r\n  \"runtimes\": {}\r\n}\r\n"),
        Some(
            "{\n\t\"default-runtime\": \"crun\",\n\t\"runtimes\": {\n\t\t\"crun\": {\"path\": \"/usr/bin/crun\"}\n\t}\n}",
        ),
    ]
}

fn variants() -> Vec<NodeRuntime> {
    let base = node();
    vec![
        base.clone(),
        NodeRuntime { set_as_default: false, ..base.clone() },
        NodeRuntime { enable_cdi: true, ..base.clone() },
        NodeRuntime { runtime_name: "nvidia-cdi".into(), enable_cdi: true, ..base },
    ]
}

#[test]
fn revert_after_patch_gives_back_the_original_bytes() {
    for input in inputs() {
        for node in variants() {
            let patched = patch(&files(input, None), &node).unwrap();
            let reverted = node::revert(&apply(&patched), &node).unwrap();
            assert_eq!(after(&reverted, DAEMON).as_deref(), input, "daemon.json from {input:?}");
            assert_eq!(after(&reverted, RECORD), None, "the record goes");
        }
    }
}

#[test]
fn patch_twice_changes_nothing_the_second_time() {
    for input in inputs() {
        for node in variants() {
            let first = patch(&files(input, None), &node).unwrap();
            let second = patch(&apply(&first), &node).unwrap();
            assert!(second.is_unchanged(), "from {input:?}: {:?}", second.changed().collect::<Vec<_>>());
        }
    }
}

#[test]
fn patch_over_a_changed_patch_keeps_the_first_record() {
    // The install directory moves: the runtimes change, the record of the original stays.
    let first = patch(&files(Some(NVIDIA_DOCKER2), None), &node()).unwrap();
    let moved = NodeRuntime {
        runtimes: node()
            .runtimes
            .into_iter()
            .map(|r| RuntimeBinary { path: r.path.replace("/usr/local", "/opt"), ..r })
            .collect(),
        ..node()
    };
    let second = patch(&apply(&first), &moved).unwrap();
    assert!(after(&second, DAEMON).unwrap().contains("/opt/nvidia/toolkit/nvidia-container-runtime\""));
    assert_eq!(recorded_before(&second), recorded_before(&first));
    let reverted = node::revert(&apply(&second), &moved).unwrap();
    assert_eq!(after(&reverted, DAEMON).as_deref(), Some(NVIDIA_DOCKER2), "nvidia-docker2's runtime is back");
}

/// A one-line daemon.json gpuplan wrote into, edited since on that same line: gpuplan cannot
/// take its runtimes out without touching the edit, and says so instead of guessing.
#[test]
fn revert_refuses_an_edit_on_a_line_gpuplan_changed() {
    let patched = patch(&files(Some(ONE_LINE), None), &one_runtime()).unwrap();
    let mut edited = apply(&patched);
    let text =
        edited[DAEMON].as_ref().unwrap().replace("\"default-runtime\": \"nvidia\"", "\"default-runtime\": \"crun\"");
    edited.insert(DAEMON.into(), Some(text));
    let err = node::revert(&edited, &one_runtime()).unwrap_err();
    assert!(matches!(&err, Error::NodeOwnership { file, .. } if &**file == DAEMON), "{err}");
    assert!(err.to_string().contains("line 1 touch lines gpuplan changed"), "{err}");
}

/// Without gpuplan's record, revert touches nothing: an `nvidia` runtime there is not provably
/// gpuplan's (nvidia-docker2 and admins add one too).
#[test]
fn revert_without_a_record_changes_nothing() {
    let nvidia_default = r#"{"default-runtime": "nvidia", "runtimes": {"nvidia": {"path": "/x", "args": []}, "runc": {"path": "runc"}}}"#;
    let reverted = node::revert(&files(Some(nvidia_default), None), &node()).unwrap();
    assert!(reverted.is_unchanged());
    assert!(reverted.notes.iter().any(|n| n.contains("no record of changing this node")), "{:?}", reverted.notes);
}

/// An edit away from gpuplan's lines stays; a created file that holds nothing else goes.
#[test]
fn revert_keeps_edits_apart_from_gpuplans_lines_and_deletes_a_created_file() {
    let patched = patch(&files(Some(TWO_SPACES), None), &node()).unwrap();
    let mut edited = apply(&patched);
    let text = edited[DAEMON].as_ref().unwrap().replacen("{\n", "{\n  \"debug\": true,\n", 1);
    edited.insert(DAEMON.into(), Some(text));
    let reverted = node::revert(&edited, &node()).unwrap();
    let expected = TWO_SPACES.replacen("{\n", "{\n  \"debug\": true,\n", 1);
    assert_eq!(after(&reverted, DAEMON).as_deref(), Some(expected.as_str()));

    let created = patch(&files(None, None), &node()).unwrap();
    let reverted = node::revert(&apply(&created), &node()).unwrap();
    assert!(reverted.files.iter().chain([&reverted.record]).all(|f| f.after.is_none()), "both files go");
}

#[test]
fn malformed_json_is_an_error_with_line_and_column() {
    let bad = "{\n  \"log-driver\": \"json-file\",\n  \"runtimes\": {,}\n}\n";
    let err = patch(&files(Some(bad), None), &node()).unwrap_err();
    let Error::NodeConfig { file, span, message } = &err else { panic!("{err}") };
    assert_eq!(&**file, DAEMON);
    assert_eq!(span.map(|s| (s.line, s.col)), Some((3, 16)));
    assert_eq!(message, "invalid character ',' looking for beginning of object key string");
    assert_eq!(err.to_string(), format!("cannot read {DAEMON}:3:16: {message}"));
    let err = patch(&files(Some("[]"), None), &node()).unwrap_err();
    assert!(matches!(err, Error::NodeConfig { span: Some(s), .. } if (s.line, s.col) == (1, 1)), "{err}");
    let err = patch(&files(Some(r#"{"runtimes": []}"#), None), &node()).unwrap_err();
    assert!(err.to_string().ends_with("1:14: `/runtimes` is not an object"), "{err}");
    let err = node::revert(&files(Some("{}"), Some("{\"added\": 1}")), &node()).unwrap_err();
    assert!(err.to_string().starts_with(&format!("cannot read {RECORD}:1:")), "{err}");
}

#[test]
fn the_record_sits_next_to_daemon_json() {
    assert_eq!(node::record_path(&node()), RECORD);
    assert_eq!(node::paths(&node()), [DAEMON, RECORD]);
}

/// A small JSON model, written out in a random but consistent layout.
#[derive(Debug, Clone)]
enum J {
    S(&'static str),
    B(bool),
    A(Vec<J>),
    O(Vec<(&'static str, J)>),
}

/// How a generated file is laid out: indentation unit (`None`: one line), key separator,
/// line end, whether nested objects stay on one line, and whether the file ends with a newline.
struct Layout {
    unit: Option<&'static str>,
    colon: &'static str,
    newline: &'static str,
    inline_nested: bool,
    final_newline: bool,
}

fn write(j: &J, layout: &Layout, depth: usize, out: &mut String) {
    let (open, close, items): (char, char, Vec<(Option<&str>, &J)>) = match j {
        J::S(s) => return out.push_str(&format!("{s:?}")),
        J::B(b) => return out.push_str(&b.to_string()),
        J::A(items) => ('[', ']', items.iter().map(|i| (None, i)).collect()),
        J::O(members) => ('{', '}', members.iter().map(|(k, v)| (Some(*k), v)).collect()),
    };
    let multiline = matches!(j, J::O(_)) && !items.is_empty() && !(depth > 0 && layout.inline_nested);
    out.push(open);
    for (i, (key, item)) in items.iter().enumerate() {
        out.push_str(if i > 0 { "," } else { "" });
        match layout.unit.filter(|_| multiline) {
            Some(unit) => out.push_str(&format!("{}{}", layout.newline, unit.repeat(depth + 1))),
            None if i > 0 => out.push(' '),
            None => {}
        }
        if let Some(key) = key {
            out.push_str(&format!("{key:?}{}", layout.colon));
        }
        write(item, layout, depth + 1, out);
    }
    if let Some(unit) = layout.unit.filter(|_| multiline) {
        out.push_str(&format!("{}{}", layout.newline, unit.repeat(depth)));
    }
    out.push(close);
}

fn daemon_json() -> impl Strategy<Value = String> {
    let members = (
        prop_oneof![Just(None), Just(Some(J::S("runc"))), Just(Some(J::S("crun")))],
        prop_oneof![
            Just(None),
            Just(Some(J::O(vec![]))),
            Just(Some(J::O(vec![("runc", J::O(vec![("path", J::S("runc"))]))]))),
            Just(Some(J::O(vec![("nvidia", J::O(vec![("path", J::S("nvidia-container-runtime"))]))]))),
        ],
        prop_oneof![
            Just(None),
            Just(Some(J::O(vec![]))),
            Just(Some(J::O(vec![("buildkit", J::B(true))]))),
            Just(Some(J::O(vec![("cdi", J::B(false))]))),
        ],
        any::<bool>(),
    );
    let layout = (
        prop::sample::select(vec![None, Some("  "), Some("    "), Some("\t")]),
        prop::sample::select(vec![":", ": ", " : "]),
        prop::sample::select(vec!["\n", "\r\n"]),
        any::<bool>(),
        any::<bool>(),
    );
    (members, layout, any::<prop::sample::Index>()).prop_map(|((default, runtimes, features, debug), l, at)| {
        let mut members = vec![("log-driver", J::S("json-file")), ("exec-opts", J::A(vec![J::S("a=b")]))];
        if debug {
            members.insert(at.index(members.len() + 1), ("debug", J::B(true)));
        }
        let optional = [("default-runtime", default), ("runtimes", runtimes), ("features", features)];
        members.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
        let layout = Layout { unit: l.0, colon: l.1, newline: l.2, inline_nested: l.3, final_newline: l.4 };
        let mut out = String::new();
        write(&J::O(members), &layout, 0, &mut out);
        if layout.final_newline {
            out.push_str(layout.newline);
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the layout, gpuplan's members are written and taken out again byte for byte.
    #[test]
    fn any_layout_round_trips(text in daemon_json(), variant in 0..4usize) {
        let node = variants().swap_remove(variant);
        let patched = patch(&files(Some(&text), None), &node).unwrap();
        let again = patch(&apply(&patched), &node).unwrap();
        prop_assert!(again.is_unchanged(), "{:?}", again.changed().collect::<Vec<_>>());
        let reverted = node::revert(&apply(&patched), &node).unwrap();
        prop_assert_eq!(after(&reverted, DAEMON), Some(text));
        prop_assert_eq!(after(&reverted, RECORD), None);
    }

    /// Any text: a change or an error naming daemon.json (or the record), never a panic.
    #[test]
    fn any_text_gives_a_change_or_a_located_error(text in r#"[{}\[\]",: \n\t\\a-z0-9.é😀-]{0,40}"#, record in any::<bool>()) {
        let files = if record { files(Some(&text), Some(&text)) } else { files(Some(&text), None) };
        for run in [patch, node::revert] {
            match run(&files, &node()) {
                Ok(change) => prop_assert_eq!(change.files.len(), 1),
                Err(Error::NodeConfig { span, .. }) => prop_assert!(span.is_some()),
                Err(other) => prop_assert!(false, "{other}"),
            }
        }
    }
}

/// dockerd's reload keeps runtimes and a default the file stops naming: the reload form of a
/// daemon.json names both (empty, `runc`) where it does not, and is not needed where it does.
#[test]
fn the_reload_form_names_runtimes_and_the_default() {
    use gpuplan_compiler::node::docker::reload_form;
    let expected = TWO_SPACES.replace(
        "\"exec-opts\": [\"native.cgroupdriver=systemd\"]\n",
        "\"exec-opts\": [\"native.cgroupdriver=systemd\"],\n  \"runtimes\": {},\n  \"default-runtime\": \"runc\"\n",
    );
    assert_eq!(reload_form(Some(TWO_SPACES)), Some(expected));
    assert_eq!(reload_form(Some(r#"{"runtimes": {}, "default-runtime": "crun"}"#)), None);
    assert_eq!(reload_form(None).as_deref(), Some("{\n    \"runtimes\": {},\n    \"default-runtime\": \"runc\"\n}\n"));
}
