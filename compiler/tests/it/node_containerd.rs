//! gpuplan's deliberate differences from NVIDIA's toolkit (design.md section 6), one test each,
//! written as given / running / produces.

use gpuplan_compiler::Error;
use gpuplan_compiler::node::{self, containerd::template};

use super::fixtures::{CONFIG, DROP_IN, after, applied, containerd, files, patch};

const COMMENTED: &str = "# Node config; keep these comments.\nversion = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = 'runc'   # ours\n\n  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n    runtime_type = \"io.containerd.runc.v2\"\n    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n      SystemdCgroup = true\n";

/// 6.1: only the lines that must change, change; the top-level file is touched only for
/// `imports`.
#[test]
fn given_a_commented_config_patching_changes_only_the_import_line() {
    let change = patch(&files(&[(CONFIG, Some(COMMENTED)), (DROP_IN, None)]), &containerd()).expect("patches");
    let before: Vec<&str> = COMMENTED.lines().collect();
    let after_text = after(&change, CONFIG).expect("kept");
    let added: Vec<&str> = after_text.lines().filter(|l| !before.contains(l)).collect();
    assert_eq!(added, ["imports = [\"/etc/containerd/conf.d/*.toml\"]"]);
    assert_eq!(after_text.lines().filter(|l| before.contains(l)).count(), before.len(), "every original line stays");
}

/// 6.2: apply then revert gives back the original bytes, and the previous default runtime
/// (upstream deletes it), here edited in place with single quotes and a comment.
#[test]
fn given_an_in_place_default_revert_restores_the_exact_previous_line() {
    let mut node = containerd();
    node.drop_in = None;
    node.set_as_default = true;
    node.enable_cdi = true;
    let start = files(&[(CONFIG, Some(COMMENTED))]);
    let patched = patch(&start, &node).expect("patches");
    let text = after(&patched, CONFIG).expect("text");
    assert!(text.contains("  default_runtime_name = \"nvidia\"   # ours\n"), "{text}");
    let reverted = node::revert(&applied(start, &patched), &node).expect("reverts");
    assert_eq!(after(&reverted, CONFIG).as_deref(), Some(COMMENTED));
}

/// 6.3: applying to an already-applied config is a no-op, reported as unchanged.
#[test]
fn given_an_applied_config_patching_again_is_unchanged() {
    let start = files(&[(CONFIG, Some(COMMENTED)), (DROP_IN, None)]);
    let first = patch(&start, &containerd()).expect("patches");
    assert!(!first.is_unchanged());
    let second = patch(&applied(start, &first), &containerd()).expect("patches");
    assert!(second.is_unchanged(), "{:?}", second.changed().map(|f| &f.path).collect::<Vec<_>>());
}

/// 6.4: containerd 2.x merges imports deeply, so a version-3 drop-in holds only gpuplan's
/// entries — no copy of the rest of the CRI section, no `runtime_root`/`runtime_engine`.
#[test]
fn given_a_version_3_config_the_drop_in_is_minimal() {
    let v3 = "version = 3\n[plugins.\"io.containerd.cri.v1.runtime\"]\n  enable_selinux = true\n[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n  runtime_root = \"/run/runc\"\n";
    let change = patch(&files(&[(CONFIG, Some(v3)), (DROP_IN, None)]), &containerd()).expect("patches");
    let drop_in = after(&change, DROP_IN).expect("drop-in");
    assert!(!drop_in.contains("enable_selinux"), "no copy of the CRI section:\n{drop_in}");
    assert!(!drop_in.contains("runtimes.runc]"), "no copy of runc:\n{drop_in}");
    assert!(!drop_in.contains("runtime_root") && !drop_in.contains("runtime_engine"), "{drop_in}");
    assert!(drop_in.contains("[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.nvidia]\nruntime_type = \"io.containerd.runc.v2\"\n"), "{drop_in}");
}

/// 6.4 (other side): a version-2 drop-in repeats the CRI section, because containerd 1.x
/// replaces plugin sections from imports — and keeps `runc` even when the source has none.
#[test]
fn given_a_version_2_config_the_drop_in_repeats_the_cri_section_with_runc() {
    let v2 = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause:3.9\"\n";
    let change = patch(&files(&[(CONFIG, Some(v2)), (DROP_IN, None)]), &containerd()).expect("patches");
    let drop_in = after(&change, DROP_IN).expect("drop-in");
    assert!(drop_in.contains("sandbox_image = \"pause:3.9\""), "{drop_in}");
    assert!(drop_in.contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\nruntime_type = \"io.containerd.runc.v2\"\n"), "{drop_in}");
}

/// 6.4 (formatting): the copied CRI section is printed afresh — every value in its default
/// form, no comments — and an array of tables in it (containerd's own has none) too: it is
/// printed by toml_edit, its formatting reset like the rest, and the drop-in still reads back.
#[test]
fn given_a_version_2_cri_section_with_an_array_of_tables_the_drop_in_holds_it_afresh() {
    let v2 = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = 'pause:3.9'  # pinned\n  [[plugins.\"io.containerd.grpc.v1.cri\".hooks]]\n    # first hook\n    path = '/bin/hook'\n";
    let change = patch(&files(&[(CONFIG, Some(v2)), (DROP_IN, None)]), &containerd()).expect("patches");
    let drop_in = after(&change, DROP_IN).expect("drop-in");
    assert!(drop_in.contains("sandbox_image = \"pause:3.9\"\n"), "default form, comment gone:\n{drop_in}");
    assert!(drop_in.contains("[[plugins.\"io.containerd.grpc.v1.cri\".hooks]]\npath = \"/bin/hook\"\n"), "{drop_in}");
    let doc: toml_edit::DocumentMut = drop_in.parse().expect("the drop-in parses");
    let runtimes = &doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"];
    assert!(runtimes.get("nvidia").is_some() && runtimes.get("runc").is_some(), "{drop_in}");
}

/// 6.5: a version-1 config with a drop-in path is edited in place (upstream writes a drop-in
/// containerd 1.x never reads), and `enable_cdi` goes into the CRI plugin's own table.
#[test]
fn given_a_version_1_config_it_is_edited_in_place_with_enable_cdi_where_read() {
    let v1 = "[plugins.cri.containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v1\"\n";
    let mut node = containerd();
    node.enable_cdi = true;
    let change = patch(&files(&[(CONFIG, Some(v1)), (DROP_IN, None)]), &node).expect("patches");
    assert_eq!(after(&change, DROP_IN), None, "no drop-in");
    let text = after(&change, CONFIG).expect("in place");
    assert!(text.contains("[plugins.cri]\nenable_cdi = true\n"), "{text}");
    assert!(
        text.contains("Runtime = \"/usr/local/nvidia/toolkit/nvidia-container-runtime\""),
        "v1 also sets options.Runtime:\n{text}"
    );
    assert!(change.notes.iter().any(|n| n.contains("version 1 config: edited in place")), "{:?}", change.notes);
}

/// 6.6: a Go template is never parsed as TOML: a marked block is appended, and revert gives
/// the template back.
#[test]
fn given_a_go_template_a_marked_block_is_appended_and_removed() {
    let tmpl = "{{ template \"base\" . }}\n{{ if .NodeConfig.AgentConfig.Snapshotter }}x = 1{{ end }}";
    let mut node = containerd();
    node.config = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl".into();
    let start = files(&[(node.config.as_str(), Some(tmpl))]);
    let change = patch(&start, &node).expect("a template that is not TOML still patches");
    let text = after(&change, &node.config).expect("text");
    assert!(text.starts_with(&format!("{tmpl}\n{}\n", template::BEGIN_AFTER_NEWLINE)), "{text}");
    assert!(text.ends_with(&format!("{}\n", template::END)), "{text}");
    let reverted = node::revert(&applied(start, &change), &node).expect("reverts");
    assert_eq!(after(&reverted, &node.config).as_deref(), Some(tmpl));
}

/// 6.7: the version comes from the file on disk (an empty file is version 2; no `version`
/// key is version 1), never from what a running daemon would dump.
#[test]
fn given_files_of_each_kind_the_version_comes_from_the_file() {
    let node = containerd();
    for (text, plugin) in [
        ("", "io.containerd.grpc.v1.cri"),
        ("version = 3\n", "io.containerd.cri.v1.runtime"),
        ("[plugins.cri]\n", "plugins.cri.containerd.runtimes.nvidia"),
    ] {
        let change = patch(&files(&[(CONFIG, Some(text)), (DROP_IN, None)]), &node).expect("patches");
        let written: String = change.files.iter().filter_map(|f| f.after.clone()).collect();
        assert!(written.contains(plugin), "{text:?} → {written}");
    }
}

/// Malformed input: an error naming file, line and column; no change is produced.
#[test]
fn given_malformed_toml_the_error_names_file_line_and_column() {
    let broken = "version = 2\n[plugins\nx = 1\n";
    let err = patch(&files(&[(CONFIG, Some(broken)), (DROP_IN, None)]), &containerd()).expect_err("malformed");
    match err {
        Error::NodeConfig { file, span: Some(span), .. } => {
            assert_eq!(&*file, CONFIG);
            assert_eq!((span.line, span.col), (2, 9));
        }
        other => panic!("{other:?}"),
    }
}

/// 6.1 (the exception): a config toml_edit cannot give back byte for byte (mixed line ends) is
/// still edited in place, with a note that other lines may change; any other config is not.
#[test]
fn given_mixed_line_ends_an_in_place_edit_says_other_lines_may_change() {
    let mut node = containerd();
    node.drop_in = None;
    let says = |config: &str| {
        let change = patch(&files(&[(CONFIG, Some(config))]), &node).expect("patches");
        change.notes.iter().any(|n| n.contains("cannot be reproduced byte for byte"))
    };
    assert!(says("version = 2\r\n[plugins]\n"));
    assert!(!says(COMMENTED));
    assert!(!says(&COMMENTED.replace('\n', "\r\n")), "CRLF throughout is kept as it is");
}
