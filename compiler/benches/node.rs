//! The containerd engine on a 2,000-line config: patch and revert, timed by criterion, and the
//! peak heap memory and allocations of one patch + revert, counted by a tracking allocator;
//! then patch + revert on containerd's default (241 lines) and on 500, 2,000 and 8,000
//! lines, to show the time grows with the file and no faster.
//!
//! Run: `cargo bench -p gpuplan-compiler --bench node` (with `GPUPLAN_BENCH_GLIBC_TRIM=1`,
//! glibc gives freed memory back as it does by default: see [`keep_freed_memory`]).

#![allow(missing_docs)] // criterion_group! generates an undocumented function.
#![allow(unsafe_code)] // GlobalAlloc is an unsafe trait (the impl only forwards to System); mallopt.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use gpuplan_compiler::node::runtime::{CrioMode, RestartMode};
use gpuplan_compiler::node::{self, Files, Foreign, NodeRuntime, RuntimeBinary, RuntimeKind};

struct Tracking;

/// Counting is on only around the one measured patch + revert: its atomic read-modify-writes
/// on every allocation would otherwise be timed by criterion too.
static COUNTING: AtomicBool = AtomicBool::new(false);
static CURRENT: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator with the same arguments; the counters
// are plain atomics and never affect the allocation itself.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            let size = layout.size() as isize;
            let now = CURRENT.fetch_add(size, Ordering::Relaxed) + size;
            PEAK.fetch_max(now, Ordering::Relaxed);
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same layout as requested, forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            // Memory allocated before counting began and freed during it counts below zero.
            CURRENT.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

unsafe extern "C" {
    /// glibc's `mallopt(3)`.
    fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
}

/// glibc's `M_TRIM_THRESHOLD`.
const M_TRIM_THRESHOLD: std::ffi::c_int = -1;

/// Keep freed heap memory in the process between iterations. glibc hands the top of its heap
/// back to the kernel once more than 128 KiB of it is free, unless a large block freed earlier
/// raised that bound. One patch + revert of the 2,000-line config allocates and frees about
/// 1.7 MiB in blocks of less than 128 KiB, so a tight loop of them faults the same heap pages
/// in again on every iteration: on this machine that doubled the time measured. That is a
/// cost of the loop, not of the engine (the node agent patches once per process), and whether
/// it shows depended on what the process had freed before. The figure is the engine's; the
/// closing notes give both.
fn keep_freed_memory() {
    if std::env::var_os("GPUPLAN_BENCH_GLIBC_TRIM").is_none() {
        // SAFETY: mallopt only sets a tuning parameter of the C allocator; it is called before
        // any thread is started, and a refusal (0) leaves glibc's default.
        unsafe { mallopt(M_TRIM_THRESHOLD, 64 << 20) };
    }
}

/// A realistic version-2 config of at least `lines` lines: containerd 1.6's defaults plus
/// registry mirrors.
fn big_config(lines: usize) -> String {
    let mut text = String::from(include_str!("../../golden/node/containerd-1.6-default/in/etc/containerd/config.toml"));
    let mut n = 0;
    while text.lines().count() < lines {
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

/// The node's files after a patch of `before`.
fn patched(before: &Files, node: &NodeRuntime) -> Files {
    let change = node::apply(before, node, Foreign::Refuse).expect("patches");
    let mut after = before.clone();
    for step in &change.steps {
        after.insert(step.path.clone(), step.text.clone());
    }
    after
}

fn bench(c: &mut Criterion) {
    keep_freed_memory();
    let config = big_config(2000);
    let node = node();
    let before = files(&config, None);
    let after = patched(&before, &node);

    COUNTING.store(true, Ordering::Relaxed);
    let change = node::apply(&before, &node, Foreign::Refuse).expect("patches");
    let undone = node::revert(&after, &node).expect("reverts");
    black_box((&change, &undone));
    COUNTING.store(false, Ordering::Relaxed);
    println!(
        "config: {} lines, {} bytes; during patch + revert: peak heap {:.1} MiB, {} allocations",
        config.lines().count(),
        config.len(),
        PEAK.load(Ordering::Relaxed) as f64 / 1048576.0,
        ALLOCATIONS.load(Ordering::Relaxed)
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

    // The first is containerd 1.6's default alone (241 lines), as `gpuplan node diff` reads it.
    let mut group = c.benchmark_group("containerd engine, patch + revert by config size");
    for lines in [0, 500, 2000, 8000] {
        let config = big_config(lines);
        let before = files(&config, None);
        let after = patched(&before, &node);
        group.bench_function(format!("{} lines", config.lines().count()), |b| {
            b.iter(|| {
                let change = node::apply(black_box(&before), &node, Foreign::Refuse).expect("patches");
                let undone = node::revert(black_box(&after), &node).expect("reverts");
                (change, undone)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
