//! The ownership properties over generated node configs (issue 11): containerd versions 1 to
//! 4, CRI-O and Docker; with and without an `nvidia` runtime someone else installed, admin
//! comments, CRLF line ends, a byte-order mark, no final newline; in place, drop-in, a file
//! gpuplan did not write at the drop-in path, the CRI-O hook. For every one:
//!
//! - revert without an apply changes nothing;
//! - apply succeeds, or refuses a file gpuplan did not write (and taken over, succeeds);
//! - applying again changes nothing; applying other values and then reverting, or reverting
//!   straight away, gives back every file byte for byte, the record gone;
//! - a writer stopped after any step of the transaction leaves a node the next apply finishes
//!   exactly, and the next revert gives back exactly.
//!
//! `GPUPLAN_NODE_CASES` sets the number of cases (a few hundred by default; the README's
//! command runs 10,000).

use gpuplan_compiler::Error;
use gpuplan_compiler::node::runtime::CrioMode;
use gpuplan_compiler::node::{self, Change, Files, Foreign, NodeRuntime, RuntimeKind};
use proptest::prelude::*;

use super::fixtures::{applied as run, containerd};

fn cases() -> u32 {
    std::env::var("GPUPLAN_NODE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

/// A text with the given line end, byte-order mark and final newline.
fn layout(lines: &[String], crlf: bool, bom: bool, final_newline: bool) -> String {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut text = lines.join(nl);
    if final_newline && !text.is_empty() {
        text.push_str(nl);
    }
    if bom { format!("\u{feff}{text}") } else { text }
}

/// One containerd runtime table, possibly with a comment above and options.
fn containerd_runtime(plugin: &str, name: &str, binary: &str, comment: bool, systemd: bool) -> Vec<String> {
    let mut lines = vec![String::new()];
    if comment {
        lines.push(format!("  # {name}: keep this comment"));
    }
    lines.push(format!("  [plugins.{plugin}.containerd.runtimes.{name}]"));
    lines.push("    runtime_type = \"io.containerd.runc.v2\"".into());
    lines.push(format!("    [plugins.{plugin}.containerd.runtimes.{name}.options]"));
    lines.push(format!("      BinaryName = \"{binary}\""));
    if systemd {
        lines.push("      SystemdCgroup = true".into());
    }
    lines
}

#[derive(Debug, Clone)]
struct Generated {
    node: NodeRuntime,
    files: Files,
    /// Another node change (other values) to apply on top before reverting.
    other: NodeRuntime,
}

fn containerd_case() -> impl Strategy<Value = Generated> {
    let content = (
        prop::sample::select(vec![None, Some(1), Some(2), Some(3), Some(4)]),
        prop::sample::select(vec!["", "runc", "crun", "nvidia"]),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        prop::sample::select(vec![0usize, 1, 2]),
    );
    let shape = (any::<bool>(), any::<bool>(), any::<bool>(), prop::sample::select(vec![0usize, 1, 2]));
    let mode = (prop::sample::select(vec![0usize, 1, 2]), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>());
    (content, shape, mode).prop_map(|(content, shape, mode)| {
        let (version, default, (comments, runc, crun, vendor), imports) = content;
        let (crlf, bom, final_newline, presence) = shape;
        let (drop_in_mode, set_as_default, enable_cdi, legacy, foreign) = mode;
        let plugin = match version {
            None | Some(1) => "cri",
            Some(2) => "\"io.containerd.grpc.v1.cri\"",
            _ => "\"io.containerd.cri.v1.runtime\"",
        };
        let mut lines = Vec::new();
        if comments {
            lines.push("# Node config written by the image; keep these comments.".to_owned());
        }
        if let Some(v) = version {
            lines.push(format!("version = {v}"));
        }
        match imports {
            1 => lines.push("imports = [\"/etc/containerd/other.d/*.toml\"]".into()),
            2 => lines.push("imports = [\"/etc/containerd/conf.d/*.toml\"]".into()),
            _ => {}
        }
        lines.push("root = \"/var/lib/containerd\"".into());
        lines.push(String::new());
        lines.push(format!("[plugins.{plugin}.containerd]"));
        if !default.is_empty() {
            lines.push(format!("  default_runtime_name = \"{default}\"{}", if comments { "  # chosen" } else { "" }));
        }
        if runc {
            lines.extend(containerd_runtime(plugin, "runc", "/usr/bin/runc", comments, true));
        }
        if crun {
            lines.extend(containerd_runtime(plugin, "crun", "/usr/bin/crun", false, false));
        }
        if vendor {
            lines.extend(containerd_runtime(
                plugin,
                "nvidia",
                "/opt/vendor/bin/nvidia-container-runtime",
                comments,
                true,
            ));
        }
        let text = match presence {
            0 => Some(layout(&lines, crlf, bom, final_newline)),
            1 => Some(if bom { "\u{feff}".to_owned() } else { String::new() }),
            _ => None,
        };
        let mut node = containerd();
        node.set_as_default = set_as_default;
        node.enable_cdi = enable_cdi;
        node.use_legacy_config = legacy && version.is_none_or(|v| v == 1);
        match drop_in_mode {
            0 => {}
            1 => node.drop_in = None,
            _ => node.drop_in_host_path = Some("/etc/containerd/conf.d/99-nvidia.toml".into()),
        }
        let mut files: Files = [(node.config.clone(), text)].into();
        if let Some(drop_in) = &node.drop_in {
            let admin = layout(&["# the admin's".into(), "version = 2".into()], crlf, false, true);
            files.insert(drop_in.clone(), foreign.then_some(admin));
        }
        let other = NodeRuntime { set_as_default: !set_as_default, enable_cdi: !enable_cdi, ..node.clone() };
        Generated { node, files, other }
    })
}

fn crio_case() -> impl Strategy<Value = Generated> {
    (
        (prop::sample::select(vec!["", "crun", "runc", "nvidia"]), any::<bool>(), any::<bool>(), any::<bool>()),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (prop::sample::select(vec![0usize, 1, 2]), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (default, comments, crun, vendor),
                (crlf, bom, final_newline, missing),
                (mode, set_as_default, foreign),
            )| {
                let mut lines = Vec::new();
                if comments {
                    lines.push("# CRI-O configuration, managed by the node image.".to_owned());
                }
                lines.extend([
                    "[crio]".into(),
                    "log_dir = \"/var/log/crio/pods\"".into(),
                    String::new(),
                    "[crio.runtime]".into(),
                ]);
                if !default.is_empty() {
                    lines.push(format!("default_runtime = '{default}'{}", if comments { " # chosen" } else { "" }));
                }
                lines.push("conmon_cgroup = \"pod\"".into());
                if crun {
                    lines.extend([
                        String::new(),
                        "  [crio.runtime.runtimes.crun]".into(),
                        "    runtime_path = \"/usr/bin/crun\"".into(),
                        "    runtime_root = \"/run/crun\"".into(),
                    ]);
                }
                if vendor {
                    if comments {
                        lines.push("  # the vendor's".into());
                    }
                    lines.extend([
                        "  [crio.runtime.runtimes.nvidia]".into(),
                        "    runtime_path = \"/opt/vendor/bin/nvidia-container-runtime\"".into(),
                    ]);
                }
                let text = (!missing).then(|| layout(&lines, crlf, bom, final_newline));
                let mut node = NodeRuntime {
                    runtime: RuntimeKind::Crio,
                    config: "/etc/crio/crio.conf".into(),
                    drop_in: Some("/etc/crio/crio.conf.d/99-nvidia.toml".into()),
                    set_as_default,
                    ..containerd()
                };
                match mode {
                    0 => {}
                    1 => node.drop_in = None,
                    _ => node.crio_mode = CrioMode::Hook,
                }
                let mut files: Files = [(node.config.clone(), text)].into();
                let whole = match mode {
                    0 => node.drop_in.clone(),
                    2 => Some(format!("{}/{}", node.crio_hooks_dir, node.crio_hook_filename)),
                    _ => None,
                };
                if let Some(path) = whole {
                    files.insert(path, foreign.then(|| "{\"version\": \"1.0.0\"}\n".to_owned()));
                }
                let other = NodeRuntime { set_as_default: !set_as_default, ..node.clone() };
                Generated { node, files, other }
            },
        )
}

fn docker_case() -> impl Strategy<Value = Generated> {
    (
        (prop::sample::select(vec!["", "runc", "nvidia"]), any::<bool>(), any::<bool>(), prop::sample::select(vec![0usize, 1, 2])),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
    )
        .prop_map(|((default, vendor, features, layout), (crlf, final_newline, missing, set_as_default, cdi))| {
            let mut members = vec!["\"log-driver\": \"json-file\"".to_owned()];
            if !default.is_empty() {
                members.push(format!("\"default-runtime\": \"{default}\""));
            }
            if vendor {
                members.push("\"runtimes\": {\"nvidia\": {\"path\": \"/usr/bin/nvidia-container-runtime\", \"runtimeArgs\": []}}".into());
            }
            if features {
                members.push("\"features\": {\"buildkit\": true}".into());
            }
            let text = match layout {
                0 => format!("{{{}}}", members.join(", ")),
                1 => format!("{{\n  {}\n}}", members.join(",\n  ")),
                _ => format!("{{\n\t{}\n}}", members.join(",\n\t")),
            };
            let text = if crlf { text.replace('\n', "\r\n") } else { text };
            let text = if final_newline { format!("{text}{}", if crlf { "\r\n" } else { "\n" }) } else { text };
            let node = NodeRuntime {
                runtime: RuntimeKind::Docker,
                config: "/etc/docker/daemon.json".into(),
                drop_in: None,
                set_as_default,
                enable_cdi: cdi,
                ..containerd()
            };
            let files: Files = [(node.config.clone(), (!missing).then_some(text))].into();
            let other = NodeRuntime { set_as_default: !set_as_default, enable_cdi: !cdi, ..node.clone() };
            Generated { node, files, other }
        })
}

fn any_case() -> impl Strategy<Value = Generated> {
    prop_oneof![3 => containerd_case(), 2 => crio_case(), 1 => docker_case()]
}

/// Every path the node reads, with the generated text or absent.
fn start(case: &Generated) -> Files {
    let mut files: Files = node::paths(&case.node).into_iter().map(|p| (p, None)).collect();
    files.extend(case.files.clone());
    files
}

/// The same files, an absent entry and a missing file being the same.
fn same(a: &Files, b: &Files, what: &str) -> Result<(), TestCaseError> {
    for path in a.keys().chain(b.keys()) {
        let (x, y) = (a.get(path).cloned().flatten(), b.get(path).cloned().flatten());
        prop_assert_eq!(x, y, "{}: {} differs", what, path);
    }
    Ok(())
}

/// A record's text read back and written again: every record gpuplan writes must read back
/// to the same bytes.
fn read_back(text: &str) -> Result<String, TestCaseError> {
    let record =
        node::record::Record::parse("record", text).map_err(|e| TestCaseError::fail(format!("not a record: {e}")))?;
    Ok(record.render())
}

fn apply_or_take_over(files: &Files, node: &NodeRuntime) -> Result<Change, TestCaseError> {
    match node::apply(files, node, Foreign::Refuse) {
        Ok(change) => Ok(change),
        Err(Error::NodeOwnership { file, .. }) => {
            prop_assert!(files.get(&*file).is_some_and(Option::is_some), "refused {} which is not there", file);
            Ok(node::apply(files, node, Foreign::TakeOver).map_err(|e| TestCaseError::fail(e.to_string()))?)
        }
        Err(e) => Err(TestCaseError::fail(format!("apply failed: {e}"))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn apply_again_changes_nothing_and_revert_gives_every_byte_back(case in any_case()) {
        let start = start(&case);
        let node = &case.node;
        prop_assert!(node::revert(&start, node).map_err(|e| TestCaseError::fail(e.to_string()))?.is_unchanged(), "revert without an apply");
        let first = apply_or_take_over(&start, node)?;
        let applied = run(start.clone(), &first);
        let again = node::apply(&applied, node, Foreign::Refuse).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(again.is_unchanged(), "the second apply writes {:?}", again.steps);
        let reverted = run(applied.clone(), &node::revert(&applied, node).map_err(|e| TestCaseError::fail(e.to_string()))?);
        same(&reverted, &start, "apply + revert")?;

        // Other values on top, then revert: still the original.
        let other = node::apply(&applied, &case.other, Foreign::Refuse).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let moved = run(applied.clone(), &other);
        let reverted = run(moved.clone(), &node::revert(&moved, &case.other).map_err(|e| TestCaseError::fail(e.to_string()))?);
        same(&reverted, &start, "apply + other values + revert")?;

        for text in first.steps.iter().chain(&other.steps).filter(|s| s.path.ends_with(".gpuplan")).filter_map(|s| s.text.as_deref()) {
            prop_assert_eq!(text, read_back(text)?, "the record does not read back to itself");
        }

        // Stopped after any step of either transaction: finished by the next run, or reverted.
        for (from, change, node) in [(&start, &first, node), (&applied, &other, &case.other)] {
            let done = run(from.clone(), change);
            for k in 0..change.steps.len() {
                let mut stopped = from.clone();
                for s in &change.steps[..k] {
                    stopped.insert(s.path.clone(), s.text.clone());
                }
                let next = apply_or_take_over(&stopped, node)?;
                same(&run(stopped.clone(), &next), &done, &format!("resumed after {k} steps"))?;
                let back = node::revert(&stopped, node).map_err(|e| TestCaseError::fail(format!("revert after {k} steps: {e}")))?;
                same(&run(stopped.clone(), &back), &start, &format!("reverted after {k} steps"))?;
            }
        }
    }
}
