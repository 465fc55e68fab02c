//! The MIG layouts of upstream's `default-mig-parted-config` (operator v26.7), as data: the MIG
//! manager falls back to them when it cannot derive the layouts from a node's hardware (older
//! drivers cannot list MIG profiles while MIG is off).
//!
//! Most layouts fill every GPU with one profile and are named after it (`all-1g.10gb` creates
//! seven `1g.10gb` devices on an A100-80GB); [`UNIFORM`] lists those as profile and count. The
//! few that differ per GPU model pick the model by PCI device ID (`device-filter`).

use std::collections::BTreeMap;

use serde::Serialize;

/// One named layout: what to do with each group of GPUs.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Layout {
    /// The name a node asks for with `nvidia.com/mig.config`.
    pub name: String,
    /// One entry per group of GPUs.
    pub parts: Vec<Part>,
}

/// The MIG setting of one group of GPUs.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Part {
    /// PCI device IDs the entry applies to; empty: every GPU.
    pub filter: &'static [&'static str],
    /// MIG mode on or off.
    pub enabled: bool,
    /// MIG devices to create, by profile.
    pub devices: BTreeMap<&'static str, u32>,
}

/// MIG devices to create: profile and count.
type Devices = &'static [(&'static str, u32)];

/// Per GPU model (its PCI device IDs), the devices to create.
type PerModel = &'static [(&'static [&'static str], Devices)];

// PCI device IDs (device and vendor) of the GPU models whose layouts differ.
// H100-80GB, H800-80GB, A100-80GB, A800-80GB
const H100_80GB_A100_80GB: &[&str] =
    &["0x233010DE", "0x233110DE", "0x232210DE", "0x20B210DE", "0x20B510DE", "0x20F310DE", "0x20F510DE", "0x232410DE"];
// A100-40GB, A800-40GB
const A100_40GB: &[&str] = &["0x20B010DE", "0x20B110DE", "0x20F110DE", "0x20F610DE"];
const A30: &[&str] = &["0x20B710DE"];
// H100-96GB, PG506-96GB, GH200, H20
const H100_96GB_GH200_H20: &[&str] = &["0x234210DE", "0x233D10DE", "0x20B610DE", "0x232910DE"];
// H100 NVL, H800 NVL
const H100_NVL: &[&str] = &["0x232110DE", "0x233A10DE"];
const H200_AND_H200_NVL: &[&str] = &["0x233510DE", "0x233B10DE"];
const H200_141GB: &[&str] = &["0x233510DE"];
const GH200_144GB: &[&str] = &["0x234810DE"];
const GB200: &[&str] = &["0x294110DE"];
const B200: &[&str] = &["0x290110DE"];
const B300: &[&str] = &["0x318210DE"];
const GB300: &[&str] = &["0x31C210DE"];
const RTX_PRO_6000: &[&str] = &["0x2BB510DE"];

/// Layouts `all-<profile>` (`+` written `.`): every GPU split into `count` devices of `profile`.
/// In upstream's order, which roughly follows the GPU models (A100-40GB first, GB300 last).
#[rustfmt::skip]
const UNIFORM: Devices = &[
    ("1g.5gb", 7), ("1g.5gb+me", 1), ("2g.10gb", 3), ("3g.20gb", 2), ("4g.20gb", 1), ("7g.40gb", 1),
    ("1g.24gb+gfx", 4), ("1g.24gb+me.all", 1), ("1g.24gb-me", 4), ("2g.48gb", 2), ("2g.48gb+gfx", 2),
    ("2g.48gb+me.all", 1), ("2g.48gb-me", 2), ("4g.96gb", 1), ("4g.96gb+gfx", 1), ("1g.10gb+me", 1),
    ("1g.20gb", 4), ("1g.23gb", 7), ("1g.23gb+me", 1), ("1g.24gb+me", 1), ("2g.20gb", 3), ("3g.40gb", 2),
    ("4g.40gb", 1), ("7g.80gb", 1), ("1g.6gb", 4), ("1g.6gb+me", 1), ("2g.12gb", 2), ("2g.12gb+me", 1),
    ("4g.24gb", 1), ("1g.12gb", 7), ("1g.12gb+me", 1), ("1g.24gb", 4), ("1g.45gb", 4), ("1g.47gb", 4),
    ("2g.24gb", 3), ("2g.45gb", 3), ("2g.47gb", 3), ("3g.47gb", 2), ("4g.47gb", 1), ("7g.94gb", 1),
    ("3g.48gb", 2), ("3g.90gb", 2), ("3g.93gb", 2), ("3g.95gb", 2), ("4g.48gb", 1), ("4g.90gb", 1),
    ("4g.93gb", 1), ("4g.95gb", 1), ("7g.96gb", 1), ("7g.180gb", 1), ("7g.186gb", 1), ("7g.189gb", 1),
    ("1g.18gb", 7), ("1g.18gb+me", 1), ("2g.35gb", 3), ("3g.71gb", 2), ("4g.71gb", 1), ("7g.141gb", 1),
    ("1g.36gb", 4), ("2g.36gb", 3), ("3g.72gb", 2), ("4g.72gb", 1), ("7g.144gb", 1), ("1g.34gb", 7),
    ("1g.34gb+me", 1), ("1g.67gb", 4), ("2g.67gb", 3), ("3g.135gb", 2), ("4g.135gb", 1), ("7g.269gb", 1),
    ("1g.35gb+me", 1), ("1g.70gb", 4), ("2g.70gb", 3), ("3g.139gb", 2), ("4g.139gb", 1), ("7g.278gb", 1),
];

/// Layouts that differ per GPU model.
const BY_MODEL: &[(&str, PerModel)] = &[
    ("all-1g.10gb", &[(H100_80GB_A100_80GB, &[("1g.10gb", 7)]), (A100_40GB, &[("1g.10gb", 4)])]),
    ("all-1g.35gb", &[(H200_141GB, &[("1g.35gb", 4)]), (GB300, &[("1g.35gb", 7)])]),
    // A mix of sizes on each GPU: two 1g devices, one 2g and, where it fits, one 3g.
    (
        "all-balanced",
        &[
            (GB200, &[("1g.23gb", 2), ("2g.47gb", 1), ("3g.93gb", 1)]),
            (RTX_PRO_6000, &[("1g.24gb", 2), ("2g.48gb", 1)]),
            (B200, &[("1g.23gb", 2), ("2g.45gb", 1), ("3g.90gb", 1)]),
            (GH200_144GB, &[("1g.18gb", 2), ("2g.36gb", 1), ("3g.72gb", 1)]),
            (H200_AND_H200_NVL, &[("1g.18gb", 2), ("2g.35gb", 1), ("3g.71gb", 1)]),
            (H100_NVL, &[("1g.12gb", 2), ("2g.24gb", 1), ("3g.47gb", 1)]),
            (H100_80GB_A100_80GB, &[("1g.10gb", 2), ("2g.20gb", 1), ("3g.40gb", 1)]),
            (A100_40GB, &[("1g.5gb", 2), ("2g.10gb", 1), ("3g.20gb", 1)]),
            (A30, &[("1g.6gb", 2), ("2g.12gb", 1)]),
            (H100_96GB_GH200_H20, &[("1g.12gb", 2), ("2g.24gb", 1), ("3g.48gb", 1)]),
            (B300, &[("1g.34gb", 2), ("2g.67gb", 1), ("3g.135gb", 1)]),
            (GB300, &[("1g.35gb", 2), ("2g.70gb", 1), ("3g.139gb", 1)]),
        ],
    ),
];

/// Every layout of the default configuration: `all-disabled`, `all-enabled` (MIG on, no
/// devices), the uniform ones, then the per-model ones.
pub(super) fn layouts() -> Vec<Layout> {
    let every_gpu = |enabled: bool, devices: &[(&'static str, u32)]| Part {
        filter: &[],
        enabled,
        devices: devices.iter().copied().collect(),
    };
    let mut out = vec![
        Layout { name: "all-disabled".into(), parts: vec![every_gpu(false, &[])] },
        Layout { name: "all-enabled".into(), parts: vec![every_gpu(true, &[])] },
    ];
    out.extend(UNIFORM.iter().map(|&(profile, count)| Layout {
        name: format!("all-{}", profile.replace('+', ".")),
        parts: vec![every_gpu(true, &[(profile, count)])],
    }));
    out.extend(BY_MODEL.iter().map(|&(name, models)| {
        Layout {
            name: name.into(),
            parts: models
                .iter()
                .map(|&(filter, devices)| Part { filter, enabled: true, devices: devices.iter().copied().collect() })
                .collect(),
        }
    }));
    out
}

/// The host services that use GPUs, stopped while a node's GPUs are repartitioned
/// (upstream's `default-gpu-clients`).
pub(super) const GPU_CLIENTS: &[&str] = &[
    "nvsm.service",
    "nvsm-mqtt.service",
    "nvsm-core.service",
    "nvsm-api-gateway.service",
    "nvsm-notifier.service",
    "nv_peer_mem.service",
    "nvidia-dcgm.service",
    "dcgm.service",
    "dcgm-exporter.service",
];
