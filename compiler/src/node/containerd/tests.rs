//! The in-place edit through the tables it edits alone against the edit through the whole
//! file: the same bytes and notes, or no splice at all.

use super::*;
use crate::node::toml::tests::configs;

/// The defaults' containerd change, edited in place, set up as asked.
fn node(set_as_default: bool, use_legacy_config: bool, enable_cdi: bool) -> NodeRuntime {
    let config = crate::resolve(crate::defaults().expect("defaults")).expect("config");
    NodeRuntime {
        drop_in: None,
        set_as_default,
        use_legacy_config,
        cdi: enable_cdi,
        enable_cdi,
        ..crate::node_runtime(&config).0
    }
}

/// Files where the `containerd` tables are one stretch, or are not, or where the stretch
/// starts or ends in a way the splice must get right.
const CRAFTED: &[&str] = &[
    // The last tables of the file, without a final newline.
    "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"x\"\n  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n    runtime_type = \"io.containerd.runc.v2\"",
    // Comments and blank lines before the next header, which belong to it.
    "version = 2\n\n  # before\n  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n    default_runtime_name = \"runc\"\n\n  # about the next one\n\n  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n    bin_dir = \"/opt\"\n",
    // gpuplan's runtime already there, differently written.
    "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia]\nruntime_type = \"old\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia.options]\nBinaryName = \"/old\"\n[other]\n",
    // Two stretches: no splice.
    "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n",
    // No header of its own before those under it: no splice.
    "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\nruntime_type = \"io.containerd.runc.v2\"\n",
    // Quoted differently, and a table of the same name elsewhere.
    "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd]\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'runc']\n[containerd]\n",
];

#[test]
fn the_containerd_tables_alone_are_edited_as_the_whole_file_is() {
    let mut spliced = 0;
    let inputs = configs().into_iter().chain(CRAFTED.iter().map(|t| ("crafted".to_owned(), (*t).to_owned())));
    for (name, config) in inputs {
        for version in 1..=3 {
            let nodes =
                [node(true, false, false), node(false, false, false), node(true, true, false), node(true, false, true)];
            for node in &nodes {
                let Ok(read) = Text::read(&name, &config) else { continue };
                let containerd = read.item(&["plugins", cri_plugin(version), "containerd"]);
                let inherited =
                    entry::inherit_from(containerd.as_deref().and_then(Item::as_table), version, node).table;
                let Some(section) = in_section(&read, version, &inherited, node) else { continue };
                let mut notes = Vec::new();
                let whole = in_whole(Some(read), version, &inherited, node, &mut notes).map(|text| (text, notes));
                assert_eq!(format!("{section:?}"), format!("{whole:?}"), "{name}, version {version}, {node:?}");
                spliced += 1;
            }
        }
    }
    assert!(spliced >= 40, "spliced {spliced}");
}

#[test]
fn the_splice_is_left_where_the_tables_are_not_one_stretch_or_the_cdi_switch_is_set() {
    let node = node(true, false, false);
    let splices = |text: &str, node: &NodeRuntime| {
        let read = Text::read("c.toml", text).expect("reads");
        in_section(&read, 2, &Table::new(), node).is_some()
    };
    assert!(splices(CRAFTED[1], &node));
    assert!(!splices(CRAFTED[3], &node), "two stretches");
    assert!(!splices(CRAFTED[4], &node), "no header of its own");
    // With the CDI switch, the stretch is the CRI plugin's tables, and this file has no header
    // of that table's own.
    assert!(!splices(CRAFTED[1], &super::tests::node(true, false, true)), "the CDI switch");
    let cri = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n[x]\n";
    assert!(splices(cri, &super::tests::node(true, false, true)));
    // A file only toml_edit reads (an array of tables) is parsed whole.
    assert!(!splices("version = 2\n[[a]]\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n", &node));
}
