//! Compiling the built-in defaults to a Plan, in process: values, schema check, typed config,
//! node change, every stage rendered and ordered, and the `helm template` text.
//!
//! Run: `cargo bench -p gpuplan-compiler --bench plan`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gpuplan_compiler::Inputs;
use gpuplan_compiler::plan::{Plan, Release};

fn compile() -> Plan {
    let user = gpuplan_compiler::load(&Inputs::default(), &mut |_| Err("no files".into())).expect("loads");
    let effective = gpuplan_compiler::coalesce(user).expect("coalesces");
    let diagnostics = gpuplan_compiler::check(&effective, false);
    assert!(!gpuplan_compiler::schema::has_errors(&diagnostics), "{diagnostics:?}");
    let config = gpuplan_compiler::resolve(&effective.values).expect("resolves");
    let (node, _) = gpuplan_compiler::node_runtime(&config);
    let release =
        Release { name: "gpu-operator".into(), namespace: "gpu-operator".into(), kube_version: "1.31".into() };
    gpuplan_compiler::plan(&config, node, release, &effective.values).expect("plans")
}

fn bench(c: &mut Criterion) {
    let plan = compile();
    println!("defaults: {} stages, {} objects", plan.stages.len(), plan.manifests().count());
    c.bench_function("compile the defaults to a Plan", |b| b.iter(|| black_box(compile())));
    c.bench_function("compile the defaults to `helm template` text", |b| {
        b.iter(|| black_box(compile().template_stream(&[]).expect("prints")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
