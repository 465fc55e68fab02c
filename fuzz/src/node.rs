//! The node targets: containerd and CRI-O TOML, Docker JSON, and the ownership round trip.

use std::sync::OnceLock;

use gpuplan_compiler::Error;
use gpuplan_compiler::node::runtime::CrioMode;
use gpuplan_compiler::node::{self, Change, Files, Foreign, NodeRuntime, RuntimeBinary, RuntimeKind};

use super::Gen;

/// gpuplan's default node change (containerd), resolved once as the node agent resolves it.
fn base() -> &'static NodeRuntime {
    static BASE: OnceLock<NodeRuntime> = OnceLock::new();
    BASE.get_or_init(|| match gpuplan_compiler::node_runtime_from_env(&Default::default()) {
        Ok((node, _)) => node,
        Err(e) => panic!("the defaults resolve to a node change: {e}"),
    })
}

/// Lines joined with the given line end, byte-order mark and final newline.
fn layout(g: &mut Gen<'_>, lines: &[String]) -> String {
    let crlf = g.below(4) == 0;
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut text = lines.join(nl);
    if g.below(4) > 0 && !text.is_empty() {
        text.push_str(nl);
    }
    if g.below(8) == 0 { format!("\u{feff}{text}") } else { text }
}

/// Text no engine expects: random bytes, or a line of TOML or JSON syntax out of place.
fn noise(g: &mut Gen<'_>) -> String {
    match g.below(3) {
        0 => g.text(24).replace(['\n', '\r'], " "),
        _ => g
            .pick(&[
                "[plugins]",
                "[[plugins.x]]",
                "a = ",
                "a = [1, \"b\"]",
                "a = { b = 1 }",
                "'quoted key' = 1",
                "x.y.z = true",
                "# gpuplan",
                "# BEGIN gpuplan",
                "\"\"\"multi",
                "{{ template \"base\" . }}",
                "{",
                "}",
                "\"a\": ,",
                "version = 2",
                "imports = []",
            ])
            .to_string(),
    }
}

const RUNTIME_NAMES: [&str; 6] = ["runc", "crun", "nvidia", "nvidia-cdi", "kata", "runsc"];

/// A containerd config: any version (1 to 4, none, or a wrong one), its CRI plugin tables,
/// runtimes (someone else's `nvidia` among them), a default, imports, comments, and noise.
fn containerd_text(g: &mut Gen<'_>) -> String {
    let version = g.pick(&[None, Some("1"), Some("2"), Some("3"), Some("4"), Some("0"), Some("\"2\""), Some("2.5")]);
    let plugin = match (version, g.below(8)) {
        (_, 0) => g.pick(&[
            "cri",
            "\"io.containerd.grpc.v1.cri\"",
            "\"io.containerd.cri.v1.runtime\"",
            "\"io.containerd.cri.v1.images\"",
        ]),
        (None | Some("1"), _) => "cri",
        (Some("2"), _) => "\"io.containerd.grpc.v1.cri\"",
        _ => "\"io.containerd.cri.v1.runtime\"",
    };
    let mut lines = Vec::new();
    if g.bool() {
        lines.push("# Written by the node image; keep this comment.".to_owned());
    }
    if let Some(v) = version {
        lines.push(format!("version = {v}"));
    }
    match g.below(5) {
        1 => lines.push("imports = [\"/etc/containerd/conf.d/*.toml\"]".into()),
        2 => lines
            .push("imports = [\"/etc/containerd/other.d/*.toml\", \"/etc/containerd/conf.d/99-nvidia.toml\"]".into()),
        3 => lines.push("imports = \"not a list\"".into()),
        _ => {}
    }
    lines.push("root = \"/var/lib/containerd\"".into());
    for _ in 0..g.below(5) {
        match g.below(8) {
            0 => lines.push(noise(g)),
            1 => {
                lines.push(format!("[plugins.{plugin}]"));
                lines.push(format!("  enable_cdi = {}", g.bool()));
            }
            2 => {
                lines.push(format!("[plugins.{plugin}.containerd]"));
                lines.push(format!("  default_runtime_name = \"{}\"", g.pick(&RUNTIME_NAMES)));
            }
            3 => lines.push(format!(
                "plugins.{plugin}.containerd.runtimes.{} = {{ runtime_type = \"io.containerd.runc.v2\" }}",
                g.pick(&RUNTIME_NAMES)
            )),
            _ => {
                let name = g.pick(&RUNTIME_NAMES);
                if g.bool() {
                    lines.push(format!("  # {name}: keep this comment"));
                }
                lines.push(format!("  [plugins.{plugin}.containerd.runtimes.{name}]"));
                lines.push(format!(
                    "    runtime_type = \"{}\"",
                    g.pick(&["io.containerd.runc.v2", "io.containerd.runsc.v1", ""])
                ));
                if g.bool() {
                    lines.push(format!("    [plugins.{plugin}.containerd.runtimes.{name}.options]"));
                    lines.push(format!("      BinaryName = \"/opt/vendor/bin/{name}\""));
                    if g.bool() {
                        lines.push("      SystemdCgroup = true".into());
                    }
                }
            }
        }
    }
    layout(g, &lines)
}

/// A CRI-O config or drop-in: `[crio.runtime]`, a default, runtimes, comments, noise.
fn crio_text(g: &mut Gen<'_>) -> String {
    let mut lines = Vec::new();
    if g.bool() {
        lines.push("# CRI-O configuration, managed by the node image.".to_owned());
    }
    lines.extend(["[crio]".to_owned(), "log_dir = \"/var/log/crio/pods\"".into(), String::new()]);
    if g.below(6) > 0 {
        lines.push("[crio.runtime]".into());
    }
    if g.bool() {
        lines.push(format!("default_runtime = '{}'", g.pick(&RUNTIME_NAMES)));
    }
    for _ in 0..g.below(4) {
        match g.below(5) {
            0 => lines.push(noise(g)),
            _ => {
                let name = g.pick(&RUNTIME_NAMES);
                lines.push(format!("  [crio.runtime.runtimes.{name}]"));
                lines.push(format!("    runtime_path = \"/usr/bin/{name}\""));
                if g.bool() {
                    lines.push(format!("    runtime_root = \"/run/{name}\""));
                }
            }
        }
    }
    layout(g, &lines)
}

/// A Docker `daemon.json`: members in any order and layout, runtimes, a default, features,
/// and sometimes JSON that is not (comments, trailing commas).
fn docker_text(g: &mut Gen<'_>) -> String {
    let mut members = Vec::new();
    for _ in 0..g.below(6) {
        members.push(match g.below(9) {
            0 => "\"log-driver\": \"json-file\"".to_owned(),
            1 => format!("\"default-runtime\": \"{}\"", g.pick(&RUNTIME_NAMES)),
            2 => format!(
                "\"runtimes\": {{\"{}\": {{\"path\": \"/usr/bin/nvidia-container-runtime\", \"runtimeArgs\": []}}}}",
                g.pick(&RUNTIME_NAMES)
            ),
            3 => format!("\"features\": {{\"buildkit\": true, \"cdi\": {}}}", g.bool()),
            4 => "\"exec-opts\": [\"native.cgroupdriver=systemd\"]".into(),
            5 => "\"registry-mirrors\": [\"https://m\\u00e9.example\"], \"n\": 1.5e3".into(),
            6 => "\"runtimes\": {}".into(),
            7 => noise(g),
            _ => "\"data-root\": \"/var/lib/docker\"".into(),
        });
    }
    let text = match g.below(4) {
        0 => format!("{{{}}}", members.join(", ")),
        1 => format!("{{\n  {}\n}}", members.join(",\n  ")),
        2 => format!("{{\n\t{}\n}}", members.join(",\n\t")),
        _ => format!("// comment\n{{{}, }}", members.join(",")),
    };
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    layout(g, &lines)
}

/// A node change for `kind`, varied where the values vary it.
fn node_change(g: &mut Gen<'_>, kind: RuntimeKind) -> NodeRuntime {
    let mut node = base().clone();
    node.runtime = kind;
    node.set_as_default = g.bool();
    node.enable_cdi = g.bool();
    node.cdi = g.bool();
    node.runtime_name = g.pick(&["nvidia", "nvidia", "gpu", "runc"]).to_string();
    if g.below(4) == 0 {
        let name = node.runtime_name.clone();
        node.runtimes = vec![RuntimeBinary { name, path: "/usr/local/nvidia/toolkit/nvidia-container-runtime".into() }];
    }
    match kind {
        RuntimeKind::Containerd => {
            node.config = g
                .pick(&[
                    "/etc/containerd/config.toml",
                    "/etc/containerd/config.toml",
                    "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl",
                    "/var/snap/microk8s/current/args/containerd-template.toml",
                ])
                .to_string();
            node.drop_in = match g.below(3) {
                0 => None,
                _ => Some("/etc/containerd/conf.d/99-nvidia.toml".into()),
            };
            if g.below(4) == 0 {
                node.drop_in_host_path = Some("/host/etc/containerd/conf.d/99-nvidia.toml".into());
            }
            node.use_legacy_config = g.below(4) == 0;
        }
        RuntimeKind::Crio => {
            node.config = "/etc/crio/crio.conf".into();
            node.drop_in = if g.below(3) == 0 { None } else { Some("/etc/crio/crio.conf.d/99-nvidia.toml".into()) };
            node.crio_mode = if g.below(3) == 0 { CrioMode::Hook } else { CrioMode::Config };
        }
        RuntimeKind::Docker => {
            node.config = "/etc/docker/daemon.json".into();
            node.drop_in = None;
        }
    }
    node
}

/// The files of a node: every path the change concerns, generated text or absent; sometimes
/// a file gpuplan did not write at a path it writes whole, or a record that is not one.
fn node_files(g: &mut Gen<'_>, node: &NodeRuntime, text: &mut dyn FnMut(&mut Gen<'_>) -> String) -> Files {
    let mut files: Files = node::paths(node).into_iter().map(|p| (p, None)).collect();
    let config = match g.below(8) {
        0 => None,
        1 => Some(String::new()),
        2 => Some(g.text(300)),
        _ => Some(text(g)),
    };
    files.insert(node.config.clone(), config);
    for path in node::paths(node) {
        if path == node.config {
            continue;
        }
        if path == node::record_path(node) {
            if g.below(16) == 0 {
                files.insert(path, Some(g.text(40)));
            }
        } else if g.below(4) == 0 {
            files.insert(path, Some(text(g)));
        }
    }
    files
}

fn run(mut files: Files, change: &Change) -> Files {
    for step in &change.steps {
        files.insert(step.path.clone(), step.text.clone());
    }
    files
}

/// Byte for byte the same files; an absent entry and a missing file are the same.
fn same(a: &Files, b: &Files, what: &str) {
    for path in a.keys().chain(b.keys()) {
        let (x, y) = (a.get(path).cloned().flatten(), b.get(path).cloned().flatten());
        assert!(x == y, "{what}: {path} differs\n--- expected\n{y:?}\n--- found\n{x:?}");
    }
}

/// Apply, taking over a file gpuplan did not write when refused for it; `None` when the node
/// is refused for another reason (a config it cannot read), which is not a failure.
fn apply_or_take_over(files: &Files, node: &NodeRuntime) -> Option<Change> {
    match node::apply(files, node, Foreign::Refuse) {
        Ok(change) => Some(change),
        Err(Error::NodeOwnership { .. }) => node::apply(files, node, Foreign::TakeOver).ok(),
        Err(_) => None,
    }
}

fn expect<T>(result: Result<T, Error>, what: &str, files: &Files) -> T {
    result.unwrap_or_else(|e| panic!("{what} failed: {e}\nfiles: {files:#?}"))
}

/// The ownership round trip on one node.
fn round_trip(start: &Files, node: &NodeRuntime, other: &NodeRuntime) {
    let record = node::record_path(node);
    if start.get(&record).is_none_or(Option::is_none)
        && let Ok(change) = node::revert(start, node)
    {
        assert!(change.is_unchanged(), "revert without a record writes {:?}", change.steps);
    }
    let Some(first) = apply_or_take_over(start, node) else { return };
    let applied = run(start.clone(), &first);
    let again = expect(node::apply(&applied, node, Foreign::Refuse), "the second apply", &applied);
    assert!(again.is_unchanged(), "the second apply writes {:?}\nfiles: {applied:#?}", again.steps);
    let back = expect(node::revert(&applied, node), "revert", &applied);
    same(&run(applied.clone(), &back), start, "apply + revert");

    if let Ok(moved) = node::apply(&applied, other, Foreign::Refuse) {
        let moved = run(applied.clone(), &moved);
        let back = expect(node::revert(&moved, other), "revert after other values", &moved);
        same(&run(moved.clone(), &back), start, "apply + other values + revert");
    }

    let done = run(start.clone(), &first);
    for k in 0..first.steps.len() {
        let mut stopped = start.clone();
        for step in &first.steps[..k] {
            stopped.insert(step.path.clone(), step.text.clone());
        }
        let next = apply_or_take_over(&stopped, node)
            .unwrap_or_else(|| panic!("apply after a writer stopped after {k} steps is refused\nfiles: {stopped:#?}"));
        same(&run(stopped.clone(), &next), &done, &format!("resumed after {k} steps"));
        let back = expect(node::revert(&stopped, node), &format!("revert after {k} steps"), &stopped);
        same(&run(stopped.clone(), &back), start, &format!("reverted after {k} steps"));
    }
}

/// The node, the other values' node and the files a node target builds from `data`.
fn input(data: &[u8], kind: RuntimeKind) -> (NodeRuntime, NodeRuntime, Files) {
    let mut g = Gen::new(data);
    let node = node_change(&mut g, kind);
    let other = NodeRuntime { set_as_default: !node.set_as_default, enable_cdi: !node.enable_cdi, ..node.clone() };
    let text: fn(&mut Gen<'_>) -> String = match kind {
        RuntimeKind::Containerd => containerd_text,
        RuntimeKind::Crio => crio_text,
        RuntimeKind::Docker => docker_text,
    };
    let files = node_files(&mut g, &node, &mut |g| text(g));
    (node, other, files)
}

/// The input of a node target, for a person to read.
pub fn describe(data: &[u8], kind: RuntimeKind) -> String {
    let (node, _, files) = input(data, kind);
    format!("{node:#?}\n{files:#?}")
}

fn node_target(data: &[u8], kind: RuntimeKind) {
    let (node, other, files) = input(data, kind);
    round_trip(&files, &node, &other);
}

/// containerd configs (versions 1 to 4, templates, drop-ins).
pub fn node_containerd(data: &[u8]) {
    node_target(data, RuntimeKind::Containerd);
}

/// CRI-O configs (drop-in, in place, hook).
pub fn node_crio(data: &[u8]) {
    node_target(data, RuntimeKind::Crio);
}

/// Docker's `daemon.json`.
pub fn node_docker(data: &[u8]) {
    node_target(data, RuntimeKind::Docker);
}
