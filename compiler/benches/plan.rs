//! Compiling the built-in defaults to a Plan, in process: values, schema check, typed config,
//! node change, every stage rendered and ordered, and the `helm template` text.
//!
//! Run: `cargo bench -p gpuplan-compiler --bench plan`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gpuplan_compiler::plan::Plan;
use gpuplan_compiler::{Inputs, Target};

fn compile() -> Plan {
    let target = Target::default();
    let compiled =
        gpuplan_compiler::compile(&Inputs::default(), &mut |_| Err("no files".into()), &target).expect("compiles");
    compiled.plan.unwrap_or_else(|| panic!("{:?}", compiled.diagnostics))
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
