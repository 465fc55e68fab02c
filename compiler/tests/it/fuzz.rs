//! The fuzz targets of `fuzz/` in the normal test run, on the stable toolchain: each runs on
//! a few thousand inputs from a seeded generator (the same on every machine), after every input
//! the coverage-guided fuzzer once found failing (`fuzz/regressions/<target>/`). The inputs are
//! built by the targets' own structure-aware generators (`fuzz/src/lib.rs`), so these are the
//! same properties `scripts/fuzz` checks a million times per target.
//!
//! `GPUPLAN_FUZZ_CASES` sets the number of inputs per target (2,000 by default).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

#[path = "../../../fuzz/src/lib.rs"]
mod harness;

fn cases() -> u64 {
    std::env::var("GPUPLAN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

/// Run one target on its regressions, then on seeded inputs; a failure names the input.
fn run(name: &str) {
    let Some((_, target)) = harness::TARGETS.iter().find(|(n, _)| *n == name) else {
        panic!("no fuzz target {name}");
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions").join(name);
    let mut found: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    found.sort();
    for path in found {
        let input = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            panic!("{name}: the regression input {} fails again:\n{}", path.display(), harness::describe(name, &input));
        }
    }
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let mut inputs = harness::Seeded::new(seed);
    for case in 0..cases() {
        let input = inputs.input(768);
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
            panic!(
                "{name}: case {case} fails on\n{}\nits bytes, to keep as fuzz/regressions/{name}/<name> \
                 (`xxd -r -p`): {hex}",
                harness::describe(name, &input)
            );
        }
    }
}

#[test]
fn fuzz_set_flags() {
    run("set_flags");
}

#[test]
fn fuzz_yaml() {
    run("yaml");
}

#[test]
fn fuzz_node_containerd() {
    run("node_containerd");
}

#[test]
fn fuzz_node_crio() {
    run("node_crio");
}

#[test]
fn fuzz_node_docker() {
    run("node_docker");
}
