//! The containerd engine on a 2,000-line config: patch and revert, timed by criterion, and the
//! peak heap memory of one patch + revert, counted by a tracking allocator.
//!
//! Run: `cargo bench -p gpuplan-compiler --bench node`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.
#![allow(unsafe_code)] // GlobalAlloc is an unsafe trait; the impl only forwards to System.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use gpuplan_compiler::node::runtime::{CrioMode, RestartMode};
use gpuplan_compiler::node::{self, Files, Foreign, NodeRuntime, RuntimeBinary, RuntimeKind};

struct Tracking;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator with the same arguments; the counters
// are plain atomics and never affect the allocation itself.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same layout as requested, forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// A realistic 2,000-line version-2 config: containerd 1.6's defaults plus registry mirrors.
fn big_config() -> String {
    let mut text = String::from(include_str!("../../golden/node/containerd-1.6-default/in/etc/containerd/config.toml"));
    let mut n = 0;
    while text.lines().count() < 2000 {
        text.push_str(&format!(
            "\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"registry-{n}.example.com\"]\n  # mirror {n}\n  endpoint = [\"https://mirror-{n}.example.com\", \"https://backup-{n}.example.com\"]\n"
        ));
        n += 1;
    }
    text
}

fn node() -> NodeRuntime {
    let bin = "/usr/local/nvidia/toolkit/nvidia-container-runtime";
    NodeRuntime {
        runtime: RuntimeKind::Containerd,
        config: "/etc/containerd/config.toml".into(),
        drop_in: Some("/etc/containerd/conf.d/99-nvidia.toml".into()),
        drop_in_host_path: None,
        source: None,
        socket: "/run/containerd/containerd.sock".into(),
        runtime_name: "nvidia".into(),
        runtimes: ["", ".cdi", ".legacy"]
            .iter()
            .zip(["nvidia", "nvidia-cdi", "nvidia-legacy"])
            .map(|(s, n)| RuntimeBinary { name: n.into(), path: format!("{bin}{s}") })
            .collect(),
        set_as_default: true,
        cdi: true,
        enable_cdi: true,
        runtime_type: "io.containerd.runc.v2".into(),
        annotation_prefixes: Vec::new(),
        use_legacy_config: false,
        restart_mode: RestartMode::Signal,
        systemd_unit: "containerd".into(),
        install_dir: "/usr/local/nvidia".into(),
        host_root: "/host".into(),
        configure: true,
        crio_mode: CrioMode::Config,
        crio_hooks_dir: String::new(),
        crio_hook_filename: String::new(),
    }
}

fn files(config: &str, drop_in: Option<&str>) -> Files {
    let mut f = Files::new();
    f.insert("/etc/containerd/config.toml".into(), Some(config.to_owned()));
    f.insert("/etc/containerd/conf.d/99-nvidia.toml".into(), drop_in.map(str::to_owned));
    f
}

fn bench(c: &mut Criterion) {
    let config = big_config();
    let node = node();
    let before = files(&config, None);
    let patched = node::apply(&before, &node, Foreign::Refuse).expect("patches");
    let mut after = before.clone();
    for step in &patched.steps {
        after.insert(step.path.clone(), step.text.clone());
    }

    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let change = node::apply(&before, &node, Foreign::Refuse).expect("patches");
    let undone = node::revert(&after, &node).expect("reverts");
    black_box((&change, &undone));
    let peak = PEAK.load(Ordering::Relaxed) - base;
    println!(
        "config: {} lines, {} bytes; peak heap during patch + revert: {:.1} MiB",
        config.lines().count(),
        config.len(),
        peak as f64 / 1048576.0
    );

    let mut group = c.benchmark_group("containerd engine, 2,000-line config");
    group.bench_function("patch (drop-in mode)", |b| {
        b.iter(|| node::apply(black_box(&before), &node, Foreign::Refuse).expect("patches"))
    });
    group.bench_function("revert", |b| b.iter(|| node::revert(black_box(&after), &node).expect("reverts")));
    let mut in_place = node.clone();
    in_place.drop_in = None;
    group.bench_function("patch (in place)", |b| {
        b.iter(|| node::apply(black_box(&before), &in_place, Foreign::Refuse).expect("patches"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
