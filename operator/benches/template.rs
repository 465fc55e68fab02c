//! `gpuplan template` on the built-in defaults as a whole process (start, compile, print), the
//! way CI pipelines run it.
//!
//! Run: `cargo bench -p gpuplan --bench template`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let binary = env!("CARGO_BIN_EXE_gpuplan");
    c.bench_function("gpuplan template (whole process, defaults)", |b| {
        b.iter(|| {
            let out = Command::new(binary).arg("template").output().expect("runs");
            assert!(out.status.success());
            out.stdout.len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
