//! Real containerd accepts what `gpuplan node apply` writes.
//!
//! Given each golden containerd case (`golden/node/containerd-*`), the real binary applies the
//! change to a copy of the node's files; every containerd that reads that config version then
//! shows the `nvidia` runtime with gpuplan's `BinaryName` in `containerd config dump` (exit
//! status 0 alone proves nothing: 1.6 silently drops layouts it does not know); and revert
//! gives back the original files. A private daemon started on a patched config loads the CRI
//! plugin with the runtime.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use toml_edit::{DocumentMut, Item};

use super::real::{Containerd, containerd};
use super::supervisor::private_config;

const BINARY: &str = "/usr/local/nvidia/toolkit/nvidia-container-runtime";

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/node")
}

fn copy_tree(from: &Path, to: &Path) {
    if !from.exists() {
        return;
    }
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn gpuplan(args: &[&str], values: &Path, config: &Path, drop_in: &str) {
    let out = Command::cargo_bin("gpuplan")
        .expect("binary")
        .args(["node"])
        .args(args)
        .arg("-f")
        .arg(values)
        .arg("--config")
        .arg(config)
        .arg("--drop-in")
        .arg(drop_in)
        .arg("--lock")
        .arg(config.with_file_name("toolkit.pid"))
        .output()
        .expect("gpuplan runs");
    assert!(out.status.success(), "gpuplan node {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// The runtimes table of a dump, wherever this containerd keeps the CRI plugin.
fn runtimes(dump: &DocumentMut) -> Option<&toml_edit::Table> {
    ["io.containerd.cri.v1.runtime", "io.containerd.grpc.v1.cri"]
        .iter()
        .find_map(|plugin| dump.get("plugins")?.get(plugin)?.get("containerd")?.get("runtimes")?.as_table())
}

fn binary_of(runtimes: &toml_edit::Table, name: &str) -> Option<String> {
    runtimes.get(name)?.get("options")?.get("BinaryName").and_then(Item::as_str).map(str::to_owned)
}

/// The containerd lines that read a config version.
fn readers(version: i64) -> Vec<Containerd> {
    let lines: &[&'static str] = match version {
        1 => &["1.6", "1.7"],
        2 => &["1.6", "1.7", "2"],
        _ => &["2"],
    };
    lines.iter().filter_map(|l| containerd(l)).collect()
}

#[test]
fn config_dump_of_every_patched_golden_config_shows_the_runtime() {
    let mut checked = 0;
    let mut cases: Vec<PathBuf> = std::fs::read_dir(golden())
        .expect("golden/node")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("containerd-")))
        .collect();
    cases.sort();
    for case in cases {
        let tmp = tempfile::tempdir().expect("tempdir");
        copy_tree(&case.join("in"), tmp.path());
        let config = tmp.path().join("etc/containerd/config.toml");
        let drop_in = tmp.path().join("etc/containerd/conf.d/99-nvidia.toml");
        let uses_drop_in = case.join("patched/etc/containerd/conf.d/99-nvidia.toml").exists();
        let drop_in_arg = if uses_drop_in { drop_in.to_string_lossy().into_owned() } else { String::new() };
        let original = std::fs::read_to_string(&config).ok();
        let values = case.join("values.yaml");
        gpuplan(&["apply"], &values, &config, &drop_in_arg);
        let text = std::fs::read_to_string(&config).expect("patched config");
        // A byte-order mark stays where the file had one (containerd 1.x reads it; 2.x does not).
        let patched: DocumentMut = text.trim_start_matches('\u{feff}').parse().expect("TOML");
        // gpuplan writes `version` into every file it creates; without one, a file is version 1.
        let version = patched.get("version").and_then(Item::as_integer).unwrap_or(1);
        for reader in readers(version) {
            let dump = reader.dump(&config);
            let runtimes = runtimes(&dump)
                .unwrap_or_else(|| panic!("{}: containerd {} dump has no CRI runtimes", case.display(), reader.line));
            assert_eq!(
                binary_of(runtimes, "nvidia").as_deref(),
                Some(BINARY),
                "{}: containerd {} dump",
                case.display(),
                reader.line
            );
            assert!(runtimes.contains_key("runc"), "{}: containerd {} lost runc", case.display(), reader.line);
            checked += 1;
        }
        gpuplan(&["revert"], &values, &config, &drop_in_arg);
        assert_eq!(
            std::fs::read_to_string(&config).ok(),
            original,
            "{}: revert gives back the original",
            case.display()
        );
        assert!(!drop_in.exists(), "{}: revert removes the drop-in", case.display());
    }
    if checked == 0 {
        eprintln!("SKIPPED: no containerd available to check dumps");
    }
}

fn daemon_loads_the_runtime(reader: &Containerd, version: i64) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, private_config(tmp.path(), version)).expect("write config");
    let drop_in = tmp.path().join("conf.d/99-nvidia.toml");
    let values = tmp.path().join("values.yaml");
    std::fs::write(&values, "toolkit:\n  env:\n    - name: CONTAINERD_SET_AS_DEFAULT\n      value: \"true\"\n")
        .expect("values");
    gpuplan(&["apply"], &values, &config, &drop_in.to_string_lossy());
    let socket = tmp.path().join("containerd.sock");
    let mut daemon = reader.start(&config, &tmp.path().join("containerd.log"));
    daemon.wait_ready(&socket);
    let log = std::fs::read_to_string(&daemon.log).unwrap_or_default();
    assert_eq!(daemon.cri_status(&socket), "ok", "containerd {} CRI plugin:\n{log}", reader.line);
    assert!(log.contains(BINARY), "containerd {} log names the nvidia runtime binary:\n{log}", reader.line);
}

#[test]
fn a_private_containerd_loads_the_patched_runtime_with_cri_ok() {
    for (line, version) in [("1.6", 2), ("1.7", 2), ("2", 2), ("2", 3)] {
        if let Some(reader) = containerd(line) {
            daemon_loads_the_runtime(&reader, version);
        }
    }
}
