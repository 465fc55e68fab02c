//! The runtime entries gpuplan adds to containerd, as NVIDIA's toolkit builds them.
//!
//! Input: the source config (the file on disk, or `RUNTIME_CONFIG_SOURCE=file=...`), its
//! version and the [`NodeRuntime`]. Output: one table per runtime (`nvidia`, `nvidia-cdi`,
//! `nvidia-legacy`), each a copy of an existing runtime — the default runtime unless it is
//! NVIDIA's, else `runc`, else `crun` — with `options.BinaryName` (and, for version 1,
//! `options.Runtime`) pointing at gpuplan's binary, a `runtime_type` filled in when the copy
//! has none, and CDI annotation prefixes first in `container_annotations`.
//!
//! When no runtime can be copied, the toolkit's fallback table is used; on version 3 and later
//! it leaves out `runtime_root` and `runtime_engine`, which containerd 2.x does not know.

use toml_edit::{Array, Item, Table, value};

use super::super::toml::{fresh_copy, table};
use super::super::{NodeRuntime, RuntimeBinary};
use super::{Version, cri_plugin};

/// The runtime whose settings the new entries copy, and where it came from.
pub struct Inherited {
    /// The copied table, or the fallback.
    pub table: Table,
    /// The runtime copied (`None`: the fallback table).
    pub from: Option<String>,
}

/// Pick and copy the runtime to inherit from (`GetDefaultRuntimeOptions`) in the source's
/// document whose root is `source`.
pub fn inherit(source: &Table, version: Version, node: &NodeRuntime) -> Inherited {
    inherit_from(table(source, &["plugins", cri_plugin(version), "containerd"]), version, node)
}

/// [`inherit`] from the source's CRI `containerd` table, if it has one.
pub fn inherit_from(containerd: Option<&Table>, version: Version, node: &NodeRuntime) -> Inherited {
    let default = containerd
        .and_then(|c| c.get("default_runtime_name"))
        .and_then(Item::as_str)
        .filter(|name| !name.is_empty() && !name.starts_with("nvidia"));
    let candidates = default.into_iter().chain(["runc", "crun"]);
    for name in candidates {
        if let Some(found) = containerd.and_then(|c| table(c, &["runtimes", name])) {
            let mut copy = fresh_copy(found);
            if version >= 3 {
                copy.remove("runtime_root");
                copy.remove("runtime_engine");
            }
            return Inherited { table: copy, from: Some(name.to_owned()) };
        }
    }
    let mut fallback = Table::new();
    fallback.insert("privileged_without_host_devices", value(false));
    if version < 3 {
        fallback.insert("runtime_engine", value(""));
        fallback.insert("runtime_root", value(""));
    }
    fallback.insert("runtime_type", value(node.runtime_type.as_str()));
    Inherited { table: fallback, from: None }
}

/// The entry for one runtime, built from the inherited table (`AddRuntimeWithOptions`).
pub fn entry(inherited: &Table, binary: &RuntimeBinary, version: Version, node: &NodeRuntime) -> Table {
    let mut t = inherited.clone();
    if !node.annotation_prefixes.is_empty() {
        let mut annotations: Array = node.annotation_prefixes.iter().map(|p| format!("{p}*")).collect();
        if let Some(existing) = t.get("container_annotations").and_then(Item::as_array) {
            annotations.extend(existing.iter().cloned());
        }
        annotations.fmt();
        t.insert("container_annotations", value(annotations));
    }
    let runtime_type_missing = t.get("runtime_type").and_then(Item::as_str).is_none_or(str::is_empty);
    if runtime_type_missing && !node.runtime_type.is_empty() {
        t.insert("runtime_type", value(node.runtime_type.as_str()));
    }
    let mut options = t.get("options").and_then(Item::as_table).cloned().unwrap_or_default();
    options.set_implicit(false);
    // BinaryName leads, as the key that matters.
    let mut ordered = Table::new();
    ordered.insert("BinaryName", value(binary.path.as_str()));
    if version == 1 {
        ordered.insert("Runtime", value(binary.path.as_str()));
    }
    for (k, v) in options.iter() {
        if !ordered.contains_key(k) {
            ordered.insert(k, v.clone());
        }
    }
    t.insert("options", Item::Table(ordered));
    t
}

/// The legacy version-1 `default_runtime` table (`CONTAINERD_USE_LEGACY_CONFIG` with
/// set-as-default). As upstream, it always points at the main runtime binary.
pub fn legacy_default(node: &NodeRuntime) -> Table {
    let path = node.runtimes.first().map_or("", |r| r.path.as_str());
    let mut t = Table::new();
    t.insert("privileged_without_host_devices", value(false));
    t.insert("runtime_engine", value(""));
    t.insert("runtime_root", value(""));
    t.insert("runtime_type", value(node.runtime_type.as_str()));
    let mut options = Table::new();
    options.insert("BinaryName", value(path));
    options.insert("Runtime", value(path));
    t.insert("options", Item::Table(options));
    t
}
