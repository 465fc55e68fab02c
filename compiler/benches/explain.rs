//! `explain` of the toolkit's rewritten `CONTAINERD_SOCKET` on the default stack: the plan
//! compiled once, then every value of the defaults changed in turn and the toolkit stage
//! rendered again.
//!
//! Run: `cargo bench -p gpuplan-compiler --bench explain`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gpuplan_compiler::Inputs;
use gpuplan_compiler::plan::Release;

const OBJECT: &str = "daemonset/nvidia-container-toolkit-daemonset";
const FIELD: &str = "spec.template.spec.containers[name=node-agent].env[name=CONTAINERD_SOCKET].value";

fn bench(c: &mut Criterion) {
    let user = gpuplan_compiler::load(&Inputs::default(), &mut |_| Err("no files".into())).expect("loads");
    let effective = gpuplan_compiler::coalesce(user).expect("coalesces");
    let release =
        Release { name: "gpu-operator".into(), namespace: "gpu-operator".into(), kube_version: "1.31".into() };
    let facts = gpuplan_compiler::Facts::default();
    let explanation = gpuplan_compiler::explain(&effective.values, &release, &facts, OBJECT, FIELD).expect("explains");
    println!("{}", explanation.to_text());
    let mut group = c.benchmark_group("explain");
    group.sample_size(10);
    group.bench_function("toolkit CONTAINERD_SOCKET on the defaults", |b| {
        b.iter(|| {
            black_box(gpuplan_compiler::explain(&effective.values, &release, &facts, OBJECT, FIELD).expect("explains"))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
