//! The CRI-O engine: a generated drop-in, `crio.conf` edited in place, or the OCI hook file.
//!
//! Given CRI-O configs as nodes have them (a `crio.conf` whose default is `crun`, CRI-O's own
//! commented template, none at all), applying produces the exact text written out below,
//! reverting gives back the original bytes (or the original absence), applying twice changes
//! nothing, and malformed TOML is an error with line and column.

use gpuplan_compiler::Error;
use gpuplan_compiler::node::runtime::CrioMode;
use gpuplan_compiler::node::{self, Change, Files, NodeRuntime, RestartMode, RuntimeKind};
use proptest::prelude::*;

const CONFIG: &str = "/etc/crio/crio.conf";
const DROP_IN: &str = "/etc/crio/crio.conf.d/99-nvidia.toml";
const HOOK: &str = "/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json";
const RECORD: &str = "/etc/crio/.crio.conf.gpuplan";

/// A CRI-O node as the defaults resolve it with CDI on: three runtimes in the drop-in.
fn node() -> NodeRuntime {
    NodeRuntime {
        runtime: RuntimeKind::Crio,
        config: CONFIG.into(),
        drop_in: Some(DROP_IN.into()),
        socket: "/var/run/crio/crio.sock".into(),
        set_as_default: true,
        cdi: true,
        restart_mode: RestartMode::Systemd,
        systemd_unit: "crio".into(),
        ..super::fixtures::containerd()
    }
}

/// One runtime only, to keep expected texts short.
fn one_runtime() -> NodeRuntime {
    NodeRuntime { runtimes: node().runtimes[..1].to_vec(), ..node() }
}

fn in_place(node: NodeRuntime) -> NodeRuntime {
    NodeRuntime { drop_in: None, ..node }
}

use super::fixtures::{files, patch};

/// The files as they are after `change` (its transaction made on the files it started from).
fn apply(change: &Change) -> Files {
    let start = change.files.iter().chain([&change.record]).map(|f| (f.path.clone(), f.before.clone())).collect();
    super::fixtures::applied(start, change)
}

fn after(change: &Change, path: &str) -> Option<String> {
    change.files.iter().find(|f| f.path == path).and_then(|f| f.after.clone())
}

const MAIN: &str = r#"# CRI-O configuration, managed by the node image.
[crio]
log_dir = "/var/log/crio/pods"

[crio.runtime]
default_runtime = 'crun' # crun is faster here
conmon_cgroup = "pod"

  [crio.runtime.runtimes.crun]
    runtime_path = "/usr/bin/crun"
    runtime_type = "oci"
    runtime_root = "/run/crun"
    monitor_path = "/usr/libexec/crio/conmon"
    allowed_annotations = [
        "io.containers.trace-syscall",
    ]

  [crio.runtime.runtimes.runc]
    runtime_path = "/usr/bin/runc"
    runtime_root = "/run/runc"

[crio.image]
pause_image = "registry.k8s.io/pause:3.10"
"#;

/// CRI-O's generated template: every key commented out, no runtime table.
const TEMPLATE: &str = "# The CRI-O configuration file.\n\n[crio]\n\n# root = \"/var/lib/containers/storage\"\n\n[crio.runtime]\n\n# default_runtime = \"crun\"\n\n# conmon = \"\"\n\n[crio.image]\n\n# pause_image = \"registry.k8s.io/pause:3.10\"\n";

#[test]
fn given_a_main_config_writes_a_drop_in_copying_the_default_runtimes_options() {
    let change = patch(&files(&[(CONFIG, Some(MAIN))]), &one_runtime()).unwrap();
    let expected = r#"# Managed by gpuplan: NVIDIA runtimes for CRI-O. A revert gives back what was here before.
[crio.runtime]
default_runtime = "nvidia"

[crio.runtime.runtimes.nvidia]
runtime_root = "/run/crun"
monitor_path = "/usr/libexec/crio/conmon"
allowed_annotations = ["io.containers.trace-syscall"]
runtime_path = "/usr/local/nvidia/toolkit/nvidia-container-runtime"
runtime_type = "oci"
"#;
    assert_eq!(after(&change, DROP_IN).as_deref(), Some(expected));
    assert_eq!(after(&change, CONFIG).as_deref(), Some(MAIN), "the main config is only read");
    assert!(change.notes.iter().any(|n| n.contains("copied from `crun`")), "{:?}", change.notes);
}

#[test]
fn given_set_as_default_off_the_drop_in_holds_only_the_runtimes() {
    let node = NodeRuntime { set_as_default: false, ..node() };
    let text = after(&patch(&files(&[(CONFIG, Some(MAIN))]), &node).unwrap(), DROP_IN).unwrap();
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
    let expected = [
        "[crio.runtime.runtimes.nvidia]",
        "[crio.runtime.runtimes.nvidia-cdi]",
        "[crio.runtime.runtimes.nvidia-legacy]",
    ];
    assert_eq!(headers, expected);
    assert!(!text.contains("default_runtime"));
    assert!(text.contains("runtime_path = \"/usr/local/nvidia/toolkit/nvidia-container-runtime.legacy\"\n"));
}

#[test]
fn given_nothing_to_copy_writes_only_path_and_type() {
    for main in [None, Some(TEMPLATE)] {
        let change = patch(&files(&[(CONFIG, main)]), &NodeRuntime { set_as_default: false, ..one_runtime() }).unwrap();
        let expected = "# Managed by gpuplan: NVIDIA runtimes for CRI-O. A revert gives back what was here before.\n[crio.runtime.runtimes.nvidia]\nruntime_path = \"/usr/local/nvidia/toolkit/nvidia-container-runtime\"\nruntime_type = \"oci\"\n";
        assert_eq!(after(&change, DROP_IN).as_deref(), Some(expected));
        assert!(change.notes.iter().any(|n| n.contains("defines no runtime to copy options from")));
    }
}

#[test]
fn given_an_nvidia_default_copies_runc_and_given_a_source_reads_it() {
    let main = MAIN.replace("'crun'", "\"nvidia\"");
    let text = after(&patch(&files(&[(CONFIG, Some(&main))]), &one_runtime()).unwrap(), DROP_IN).unwrap();
    assert!(text.contains("[crio.runtime.runtimes.nvidia]\nruntime_root = \"/run/runc\"\nruntime_path"), "{text}");

    let source = "/etc/crio/crio.conf.d/10-crio.conf";
    let node = NodeRuntime { source: Some(source.into()), ..one_runtime() };
    assert_eq!(node::paths(&node), [CONFIG, source, DROP_IN, RECORD]);
    let crun =
        "[crio.runtime]\ndefault_runtime = \"crun\"\n[crio.runtime.runtimes.crun]\nruntime_root = \"/run/k-crun\"\n";
    let change = patch(&files(&[(CONFIG, Some(MAIN)), (source, Some(crun))]), &node).unwrap();
    assert!(after(&change, DROP_IN).unwrap().contains("runtime_root = \"/run/k-crun\""));
}

#[test]
fn in_place_edits_only_the_default_line_and_adds_styled_tables() {
    let change = patch(&files(&[(CONFIG, Some(MAIN))]), &in_place(one_runtime())).unwrap();
    let expected = MAIN
        .replace(
            "default_runtime = 'crun' # crun is faster here",
            "default_runtime = \"nvidia\" # crun is faster here",
        )
        .replace(
            "    runtime_root = \"/run/runc\"\n",
            "    runtime_root = \"/run/runc\"\n\n  [crio.runtime.runtimes.nvidia]\n    runtime_root = \"/run/crun\"\n    monitor_path = \"/usr/libexec/crio/conmon\"\n    allowed_annotations = [\"io.containers.trace-syscall\"]\n    runtime_path = \"/usr/local/nvidia/toolkit/nvidia-container-runtime\"\n    runtime_type = \"oci\"\n",
        );
    assert_eq!(after(&change, CONFIG), Some(expected));
    assert_eq!(change.files.len(), 1, "no drop-in path: {:?}", change.files);
    assert!(
        change.notes.iter().any(|n| n == "the default runtime changes from `crun` to `nvidia`"),
        "{:?}",
        change.notes
    );
}

/// The new table follows its sibling's spacing: `crun` opens the file, so no blank line.
#[test]
fn in_place_writes_a_header_the_default_needs() {
    let config = "[crio.runtime.runtimes.crun]\nruntime_root = \"/run/crun\"\n";
    let change = patch(&files(&[(CONFIG, Some(config))]), &in_place(one_runtime())).unwrap();
    let expected = "[crio.runtime]\ndefault_runtime = \"nvidia\"\n[crio.runtime.runtimes.crun]\nruntime_root = \"/run/crun\"\n[crio.runtime.runtimes.nvidia]\nruntime_root = \"/run/crun\"\nruntime_path = \"/usr/local/nvidia/toolkit/nvidia-container-runtime\"\nruntime_type = \"oci\"\n";
    assert_eq!(after(&change, CONFIG).as_deref(), Some(expected));

    let created = patch(&files(&[]), &in_place(NodeRuntime { set_as_default: false, ..one_runtime() })).unwrap();
    let expected = "# Created by gpuplan for its NVIDIA runtimes. Deleted when gpuplan reverts.\n[crio.runtime.runtimes.nvidia]\nruntime_path = \"/usr/local/nvidia/toolkit/nvidia-container-runtime\"\nruntime_type = \"oci\"\n";
    assert_eq!(after(&created, CONFIG).as_deref(), Some(expected));
}

/// A change of values builds on the text before gpuplan, not on gpuplan's last write.
#[test]
fn in_place_apply_without_set_as_default_gives_the_former_default_back() {
    let on = patch(&files(&[(CONFIG, Some(MAIN))]), &in_place(node())).unwrap();
    let off = in_place(NodeRuntime { set_as_default: false, ..node() });
    let switched = patch(&apply(&on), &off).unwrap();
    let direct = patch(&files(&[(CONFIG, Some(MAIN))]), &off).unwrap();
    assert_eq!(after(&switched, CONFIG), after(&direct, CONFIG));
    assert!(after(&direct, CONFIG).unwrap().contains("default_runtime = 'crun' # crun is faster here\n"));
}

/// Found by `any_file_gives_a_located_error_or_an_exact_change`: toml_edit writes the dotted
/// key before `default_runtime` once the runtime tables exist. The record still gives the file
/// back byte for byte.
#[test]
fn in_place_with_dotted_keys_still_reverts_to_the_bytes() {
    let text = "[crio.image]\n[crio]\ndefault_runtime = \"crun\"\nruntime.default_runtime = \"crun\"";
    let before = files(&[(CONFIG, Some(text))]);
    let patched = patch(&before, &in_place(node())).unwrap();
    let reverted = node::revert(&apply(&patched), &in_place(node())).unwrap();
    assert_eq!(after(&reverted, CONFIG).as_deref(), Some(text));
    assert!(apply(&reverted).get(RECORD).is_some_and(Option::is_none), "the record goes with the revert");
}

#[test]
fn hook_mode_writes_the_oci_hook() {
    let node = NodeRuntime { crio_mode: CrioMode::Hook, ..node() };
    assert_eq!(node::paths(&node), [HOOK, RECORD]);
    let change = patch(&files(&[]), &node).unwrap();
    let expected = r#"{
  "version": "1.0.0",
  "hook": {
    "path": "/usr/local/nvidia/toolkit/nvidia-container-runtime-hook",
    "args": [
      "nvidia-container-runtime-hook",
      "prestart"
    ]
  },
  "when": {
    "always": true
  },
  "stages": [
    "prestart"
  ]
}
"#;
    assert_eq!(after(&change, HOOK).as_deref(), Some(expected));
    let reverted = node::revert(&apply(&change), &node).unwrap();
    assert_eq!(after(&reverted, HOOK), None);
}

#[test]
fn cdi_needs_no_key_and_says_so() {
    let change = patch(&files(&[(CONFIG, Some(MAIN))]), &NodeRuntime { enable_cdi: true, ..node() }).unwrap();
    assert!(change.notes.iter().any(|n| n.contains("CRI-O reads CDI specs by itself")), "{:?}", change.notes);
    assert!(!after(&change, DROP_IN).unwrap().contains("cdi ="));
}

/// Realistic main configs, for the round-trip properties.
fn inputs() -> Vec<Option<String>> {
    vec![
        Some(MAIN.to_owned()),
        Some(TEMPLATE.to_owned()),
        None,
        Some(String::new()),
        Some(MAIN.replace('\n', "\r\n")),
        Some(MAIN.trim_end().to_owned()),
        Some(format!("\u{feff}{MAIN}")),
        Some("[crio.runtime.runtimes.crun]\nruntime_root = \"/run/crun\"".to_owned()),
        Some("[crio]\nruntime.default_runtime = \"runc\" # dotted\n\n[crio.runtime.runtimes.runc]\n".to_owned()),
    ]
}

fn variants() -> Vec<NodeRuntime> {
    let hook = NodeRuntime { crio_mode: CrioMode::Hook, ..node() };
    let off = NodeRuntime { set_as_default: false, ..node() };
    let renamed = NodeRuntime { runtime_name: "nvidia-cdi".into(), ..node() };
    vec![node(), off.clone(), hook, in_place(node()), in_place(off), in_place(renamed)]
}

#[test]
fn revert_after_patch_gives_back_the_original_bytes() {
    for input in inputs() {
        for node in variants() {
            let before = files(&[(CONFIG, input.as_deref())]);
            let patched = patch(&before, &node).unwrap();
            let reverted = node::revert(&apply(&patched), &node).unwrap();
            for file in &reverted.files {
                let original = before.get(&file.path).cloned().flatten();
                assert_eq!(file.after, original, "{} from {input:?} ({:?})", file.path, node.drop_in);
            }
        }
    }
}

#[test]
fn patch_twice_changes_nothing_the_second_time() {
    for input in inputs() {
        for node in variants() {
            let first = patch(&files(&[(CONFIG, input.as_deref())]), &node).unwrap();
            let second = patch(&apply(&first), &node).unwrap();
            assert!(second.is_unchanged(), "from {input:?}: {:?}", second.changed().collect::<Vec<_>>());
        }
    }
}

#[test]
fn malformed_toml_is_an_error_with_line_and_column() {
    let bad = "[crio]\nlog_dir = \"/var/log\"\n[crio.runtime\ndefault_runtime = \"crun\"\n";
    for node in [node(), in_place(node())] {
        let err = patch(&files(&[(CONFIG, Some(bad))]), &node).unwrap_err();
        assert_eq!(err.to_string(), format!("cannot read {CONFIG}:3:14: unclosed table, expected `]`"));
        assert!(matches!(&err, Error::NodeConfig { file, .. } if &**file == CONFIG));
        // Revert works from gpuplan's record, not the file: without one there is nothing to read.
        assert!(node::revert(&files(&[(CONFIG, Some(bad))]), &node).unwrap().is_unchanged());
    }
    let node = NodeRuntime { source: Some("/etc/crio/base.conf".into()), ..node() };
    let err = patch(&files(&[("/etc/crio/base.conf", Some("a = = 1\n"))]), &node).unwrap_err();
    assert!(err.to_string().starts_with("cannot read /etc/crio/base.conf:1:5: "), "{err}");
}

/// TOML-ish files built from lines CRI-O configs have: valid more often than not, and when
/// not (a table or key twice), malformed in the ways people make them.
fn crio_conf() -> impl Strategy<Value = String> {
    let line = prop::sample::select(vec![
        "[crio]",
        "[crio.runtime]",
        "[crio.runtime.runtimes.runc]",
        "  [crio.runtime.runtimes.crun]",
        "[crio.runtime.runtimes.nvidia]",
        "[crio.image]",
        "default_runtime = \"crun\"",
        "default_runtime = 'runc' # the default",
        "    runtime_root = \"/run/crun\"",
        "monitor_path = '/usr/libexec/crio/conmon'",
        "allowed_annotations = [\n  \"io.containers.trace-syscall\",\n]",
        "runtime.default_runtime = \"crun\"",
        "# default_runtime = \"runc\"",
        "",
        "\t",
    ]);
    (prop::collection::vec(line, 0..12), any::<bool>(), any::<bool>()).prop_map(|(lines, final_newline, crlf)| {
        let mut text = lines.join("\n");
        if final_newline {
            text.push('\n');
        }
        if crlf { text.replace('\n', "\r\n") } else { text }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// Any such file: an error naming the file and where, or a change that is idempotent and
    /// reverts to the same bytes, a table gpuplan replaced included.
    #[test]
    fn any_file_gives_a_located_error_or_an_exact_change(text in crio_conf(), variant in 0..6usize) {
        let node = variants().swap_remove(variant);
        let before = files(&[(CONFIG, Some(&text))]);
        let patched = match patch(&before, &node) {
            Ok(change) => change,
            Err(err) => {
                prop_assert!(matches!(&err, Error::NodeConfig { span: Some(_), .. }), "{err}");
                return Ok(());
            }
        };
        prop_assert!(patch(&apply(&patched), &node).unwrap().is_unchanged());
        let reverted = apply(&node::revert(&apply(&patched), &node).unwrap());
        for (path, text) in &reverted {
            prop_assert_eq!(text, before.get(path).unwrap_or(&None), "{}", path);
        }
    }
}
