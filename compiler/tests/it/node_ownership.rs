//! Issue 11: node changes own only what gpuplan wrote. One test per finding, named after it,
//! written as given / running / produces; each failed before the ownership record.

use gpuplan_compiler::Error;
use gpuplan_compiler::node::runtime::CrioMode;
use gpuplan_compiler::node::{self, Change, Files, Foreign, NodeRuntime, Record, RuntimeKind};

use super::fixtures::{CONFIG, DROP_IN, after, applied, containerd, files, patch};

const RECORD: &str = "/etc/containerd/.config.toml.gpuplan";

/// The node's files after `change`'s transaction, from the files it started with.
fn run(start: &Files, change: &Change) -> Files {
    applied(start.clone(), change)
}

/// apply, apply again, revert: the second apply writes nothing, the revert gives back every
/// file byte for byte (the record included: it goes).
fn round_trip(start: &Files, node: &NodeRuntime) -> Files {
    let first = patch(start, node).expect("applies");
    let applied = run(start, &first);
    let second = patch(&applied, node).expect("applies again");
    assert!(second.is_unchanged(), "the second apply writes {:?}", second.steps);
    let reverted = run(&applied, &node::revert(&applied, node).expect("reverts"));
    for (path, text) in &reverted {
        assert_eq!(text, start.get(path).unwrap_or(&None), "{path} after apply + revert");
    }
    applied
}

fn in_place(node: NodeRuntime) -> NodeRuntime {
    NodeRuntime { drop_in: None, ..node }
}

const VENDOR_V1: &str = r#"# Installed by the OS image.
[plugins.cri.containerd]
  default_runtime_name = "nvidia"

  # The vendor's NVIDIA runtime; support depends on it.
  [plugins.cri.containerd.runtimes.nvidia]
    runtime_type = "io.containerd.runc.v2"
    [plugins.cri.containerd.runtimes.nvidia.options]
      BinaryName = "/opt/vendor/bin/nvidia-container-runtime"

  [plugins.cri.containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
"#;

/// Finding 1: an in-place edit replaces an `nvidia` runtime the OS image installed; revert
/// used to delete it and its comment. Now the record gives both back.
#[test]
fn issue_11_1_a_vendor_nvidia_runtime_replaced_in_place_comes_back_with_its_comment() {
    let node = NodeRuntime { set_as_default: true, ..containerd() };
    let start = files(&[(CONFIG, Some(VENDOR_V1)), (DROP_IN, None)]);
    let change = patch(&start, &node).unwrap();
    let text = after(&change, CONFIG).unwrap();
    assert!(text.contains("BinaryName = \"/usr/local/nvidia/toolkit/nvidia-container-runtime\""), "{text}");
    assert!(change.notes.iter().any(|n| n.contains("existing `nvidia` runtime is replaced")), "{:?}", change.notes);
    round_trip(&start, &node);
    // The same with containerd 1.6's version 2 and `--drop-in ''`.
    let v2 = format!("version = 2\n{}", VENDOR_V1.replace("plugins.cri", "plugins.\"io.containerd.grpc.v1.cri\""));
    round_trip(&files(&[(CONFIG, Some(&v2))]), &in_place(node));
}

/// Finding 1, CRI-O: revert used to leave `default_runtime = "nvidia"` with no runtime table.
#[test]
fn issue_11_1_crio_in_place_gives_back_the_vendor_runtime_and_default() {
    let conf = "[crio.runtime]\ndefault_runtime = \"nvidia\"\n\n# vendor\n[crio.runtime.runtimes.nvidia]\nruntime_path = \"/opt/vendor/bin/nvidia-container-runtime\"\n";
    let node = NodeRuntime {
        runtime: RuntimeKind::Crio,
        config: "/etc/crio/crio.conf".into(),
        drop_in: None,
        set_as_default: true,
        ..containerd()
    };
    let applied = round_trip(&files(&[("/etc/crio/crio.conf", Some(conf))]), &node);
    assert!(applied["/etc/crio/.crio.conf.gpuplan"].is_some(), "the record is beside crio.conf");
}

/// Finding 2: revert removed what gpuplan never created — here an admin's own drop-in, and
/// `nvidia` entries in a config gpuplan has no record of.
#[test]
fn issue_11_2_revert_without_a_record_touches_nothing() {
    let admin = "# the admin's own\nversion = 2\n";
    let start = files(&[(CONFIG, Some(VENDOR_V1)), (DROP_IN, Some(admin))]);
    for node in [containerd(), in_place(containerd())] {
        let change = node::revert(&start, &node).unwrap();
        assert!(change.is_unchanged(), "{:?}", change.steps);
        assert!(change.notes.iter().any(|n| n.contains("no record")), "{:?}", change.notes);
    }
}

/// Finding 2: apply over an admin's file at the drop-in path overwrote it silently. Now it is
/// refused, naming the file and the way out; taken over, revert puts it back.
#[test]
fn issue_11_2_a_file_gpuplan_did_not_write_at_the_drop_in_path_is_refused_or_taken_over() {
    let admin = "# the admin's own\nversion = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/certs.d\"\n";
    let start = files(&[(CONFIG, Some("version = 2\n")), (DROP_IN, Some(admin))]);
    let err = patch(&start, &containerd()).unwrap_err();
    assert!(matches!(&err, Error::NodeOwnership { file, .. } if &**file == DROP_IN), "{err}");
    assert!(err.to_string().contains("--take-over"), "{err}");

    let change = node::apply(&start, &containerd(), Foreign::TakeOver).unwrap();
    assert!(change.notes.iter().any(|n| n.contains("taken over")), "{:?}", change.notes);
    let applied = run(&start, &change);
    let reverted = run(&applied, &node::revert(&applied, &containerd()).unwrap());
    assert_eq!(reverted[DROP_IN].as_deref(), Some(admin));
    assert_eq!(reverted[CONFIG].as_deref(), Some("version = 2\n"));
}

/// Finding 3: containerd files were normalised (CRLF to LF, BOM dropped, final newline added).
#[test]
fn issue_11_3_line_ends_a_bom_and_a_missing_final_newline_stay() {
    let lf =
        "# node\nversion = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"runc\"";
    for text in [lf.replace('\n', "\r\n"), format!("\u{feff}{lf}"), format!("\u{feff}{}", lf.replace('\n', "\r\n"))] {
        for node in [containerd(), in_place(NodeRuntime { set_as_default: true, ..containerd() })] {
            let start = files(&[(CONFIG, Some(&text)), (DROP_IN, None)]);
            let change = patch(&start, &node).unwrap();
            let patched = after(&change, CONFIG).unwrap();
            assert_eq!(patched.starts_with('\u{feff}'), text.starts_with('\u{feff}'), "{patched:?}");
            let crlf = patched.matches("\r\n").count();
            assert_eq!(crlf, if text.contains('\r') { patched.matches('\n').count() } else { 0 }, "{patched:?}");
            assert!(!patched.ends_with('\n'), "no final newline added: {patched:?}");
            round_trip(&start, &node);
        }
    }
}

/// Finding 4: in place with set-as-default and `crun` the default, the second apply copied
/// settings from another runtime and rewrote the file.
#[test]
fn issue_11_4_a_second_apply_with_crun_the_default_writes_nothing() {
    let conf = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"crun\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crun]\n  runtime_type = \"io.containerd.runc.v2\"\n  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crun.options]\n    BinaryName = \"/usr/bin/crun\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n";
    let node = in_place(NodeRuntime { set_as_default: true, ..containerd() });
    let applied = round_trip(&files(&[(CONFIG, Some(conf))]), &node);
    let record = Record::parse(RECORD, applied[RECORD].as_deref().unwrap()).unwrap();
    assert_eq!(record.entries[0].before.as_deref(), Some(conf), "the record keeps the text before gpuplan");
}

/// Finding 5: two files are one transaction. Stopped after any step, no config points at a
/// missing drop-in, the next apply finishes the change, and a revert gives back the original.
#[test]
fn issue_11_5_a_writer_stopped_after_any_step_leaves_a_node_the_next_run_finishes() {
    let original = "# node config\nversion = 2\n";
    let start = files(&[(CONFIG, Some(original)), (DROP_IN, None)]);
    let node = containerd();
    let change = patch(&start, &node).unwrap();
    let order: Vec<&str> = change.steps.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(order, [RECORD, DROP_IN, CONFIG], "the record, the drop-in, then the config pointing at it");
    let complete = run(&start, &change);
    // The values change (a new install directory): a journal entry holds the old texts.
    let runtimes =
        node.runtimes.iter().map(|r| node::RuntimeBinary { path: r.path.replace("/usr/local", "/opt"), ..r.clone() });
    let moved = NodeRuntime { runtimes: runtimes.collect(), ..node.clone() };
    let update = patch(&complete, &moved).unwrap();
    for (node, from, change) in [(&node, &start, &change), (&moved, &complete, &update)] {
        let finished = run(from, change);
        for k in 0..change.steps.len() {
            let mut stopped = from.clone();
            for s in &change.steps[..k] {
                stopped.insert(s.path.clone(), s.text.clone());
            }
            let imports = stopped[CONFIG].as_deref().is_some_and(|t| t.contains("conf.d/*.toml"));
            assert!(!imports || stopped[DROP_IN].is_some(), "after {k} steps the config imports a missing drop-in");
            let next = patch(&stopped, node).unwrap_or_else(|e| panic!("after {k} steps: {e}"));
            let resumed = run(&stopped, &next);
            for path in [CONFIG, DROP_IN] {
                assert_eq!(resumed[path], finished[path], "{path}: resumed after {k} steps");
            }
            let reverted =
                run(&stopped, &node::revert(&stopped, node).unwrap_or_else(|e| panic!("after {k} steps: {e}")));
            assert_eq!(reverted[CONFIG].as_deref(), Some(original), "revert after {k} steps");
            assert_eq!(reverted[DROP_IN], None);
            assert_eq!(reverted.get(RECORD).cloned().flatten(), None);
        }
    }
}

/// Finding 6: `version = 99` or `0` was edited as if it were 3 or 1.
#[test]
fn issue_11_6_unknown_config_versions_are_refused() {
    for version in ["0", "5", "99", "-1"] {
        let text = format!("version = {version}\n");
        let err = patch(&files(&[(CONFIG, Some(&text)), (DROP_IN, None)]), &containerd()).unwrap_err();
        assert!(matches!(&err, Error::NodeConfig { file, .. } if &**file == CONFIG), "{err}");
        assert!(err.to_string().contains(&format!("config version {version} is not one containerd knows")), "{err}");
    }
    for version in 1..=4 {
        let text = format!("version = {version}\n");
        assert!(patch(&files(&[(CONFIG, Some(&text)), (DROP_IN, None)]), &containerd()).is_ok(), "{version}");
    }
}

/// Finding 6: in version-2 drop-in mode with set-as-default off, an existing
/// `default_runtime_name = "nvidia"` silently became `runc`.
#[test]
fn issue_11_6_set_as_default_off_leaves_the_default_and_says_so() {
    let conf = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"nvidia\"\n";
    let change = patch(&files(&[(CONFIG, Some(conf)), (DROP_IN, None)]), &containerd()).unwrap();
    assert!(after(&change, DROP_IN).unwrap().contains("default_runtime_name = \"nvidia\""));
    assert!(change.notes.iter().any(|n| n.contains("gpuplan leaves the default as it is")), "{:?}", change.notes);
}

/// Edits made after gpuplan's apply: kept by revert when they are apart from gpuplan's lines,
/// refused (nothing changed) when they touch them, and a file rewritten without any of
/// gpuplan's lines is its writer's.
#[test]
fn edits_since_the_apply_are_kept_refused_or_taken_as_they_are() {
    let original =
        "version = 2\nroot = \"/var/lib/containerd\"\n\n[grpc]\n  address = \"/run/containerd/containerd.sock\"\n";
    let node = containerd();
    let start = files(&[(CONFIG, Some(original)), (DROP_IN, None)]);
    let applied = run(&start, &patch(&start, &node).unwrap());
    let edit = |from: &str, to: &str| {
        let mut f = applied.clone();
        f.insert(CONFIG.into(), Some(applied[CONFIG].as_deref().unwrap().replace(from, to)));
        f
    };
    // Apart: the gRPC address changes; gpuplan's import goes, the edit stays.
    let apart = edit("containerd.sock", "other.sock");
    let reverted = run(&apart, &node::revert(&apart, &node).unwrap());
    assert_eq!(reverted[CONFIG].as_deref(), Some(original.replace("containerd.sock", "other.sock").as_str()));
    // Touching: `root` sits right under gpuplan's import.
    let touching = edit("/var/lib/containerd", "/data/containerd");
    let err = node::revert(&touching, &node).unwrap_err();
    assert!(matches!(&err, Error::NodeOwnership { file, span: Some(_), .. } if &**file == CONFIG), "{err}");
    assert!(err.to_string().contains(RECORD), "the hint names the record: {err}");
    assert!(patch(&touching, &node).is_err(), "apply refuses it too, rather than guess");
    // Rewritten by config management, without gpuplan's import: taken as the new original.
    let mut rewritten = applied.clone();
    rewritten.insert(CONFIG.into(), Some("version = 2\n# from ansible\n".into()));
    let change = patch(&rewritten, &node).unwrap();
    assert!(change.notes.iter().any(|n| n.contains("no longer holds gpuplan's change")), "{:?}", change.notes);
    let reapplied = run(&rewritten, &change);
    let back = run(&reapplied, &node::revert(&reapplied, &node).unwrap());
    assert_eq!(back[CONFIG].as_deref(), Some("version = 2\n# from ansible\n"));
}

/// A record that does not match the settings, or that is not a record, is refused.
#[test]
fn a_record_that_does_not_match_is_refused() {
    let start = files(&[(CONFIG, Some("version = 2\n")), (DROP_IN, None)]);
    let applied = run(&start, &patch(&start, &containerd()).unwrap());
    let moved = NodeRuntime { drop_in: Some("/etc/containerd/other.d/99-nvidia.toml".into()), ..containerd() };
    for result in
        [patch(&applied, &moved), node::revert(&applied, &moved), node::revert(&applied, &in_place(containerd()))]
    {
        let err = result.unwrap_err();
        assert!(matches!(&err, Error::NodeOwnership { file, .. } if &**file == RECORD), "{err}");
        assert!(err.to_string().contains(&format!("--drop-in {DROP_IN}")), "{err}");
    }
    let mut broken = applied.clone();
    broken.insert(RECORD.into(), Some("{\"kind\": \"something else\"".into()));
    let err = node::revert(&broken, &containerd()).unwrap_err();
    assert!(matches!(&err, Error::NodeConfig { file, span: Some(_), .. } if &**file == RECORD), "{err}");
}

/// CRI-O hook mode: an OCI hook file gpuplan did not write (a toolkit install's) is refused.
#[test]
fn a_hook_file_gpuplan_did_not_write_is_refused() {
    let node = NodeRuntime {
        runtime: RuntimeKind::Crio,
        config: "/etc/crio/crio.conf".into(),
        crio_mode: CrioMode::Hook,
        ..containerd()
    };
    let hook = "/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json";
    let err = patch(&files(&[(hook, Some("{\"version\": \"1.0.0\"}\n"))]), &node).unwrap_err();
    assert!(matches!(&err, Error::NodeOwnership { file, .. } if &**file == hook), "{err}");
    round_trip(&files(&[(hook, None)]), &node);
}
