//! Compiling the built-in defaults to a Plan, in process: values, schema check, typed config,
//! node change, every stage rendered and ordered, and the `helm template` text; and the seed's
//! values (`--set` the containerd runtime and four toolkit env entries) to that text.
//!
//! Run: `cargo bench -p gpuplan-compiler --bench plan`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gpuplan_compiler::plan::Plan;
use gpuplan_compiler::{FlagKind, InputFlag, Inputs, Target};

/// The seed's `--set` flags: containerd, and the toolkit told where its config and socket are.
const SEED: [&str; 9] = [
    "operator.defaultRuntime=containerd",
    "toolkit.env[0].name=CONTAINERD_CONFIG",
    "toolkit.env[0].value=/etc/containerd/config.toml",
    "toolkit.env[1].name=CONTAINERD_SOCKET",
    "toolkit.env[1].value=/run/containerd/containerd.sock",
    "toolkit.env[2].name=CONTAINERD_RUNTIME_CLASS",
    "toolkit.env[2].value=nvidia",
    "toolkit.env[3].name=CONTAINERD_SET_AS_DEFAULT",
    "toolkit.env[3].value=true",
];

fn compile_inputs(inputs: &Inputs) -> Plan {
    let target = Target::default();
    let compiled = gpuplan_compiler::compile(inputs, &mut |_| Err("no files".into()), &target).expect("compiles");
    compiled.plan.unwrap_or_else(|| panic!("{:?}", compiled.diagnostics))
}

fn compile() -> Plan {
    compile_inputs(&Inputs::default())
}

fn bench(c: &mut Criterion) {
    let plan = compile();
    println!("defaults: {} stages, {} objects", plan.stages.len(), plan.manifests().count());
    c.bench_function("compile the defaults to a Plan", |b| b.iter(|| black_box(compile())));
    c.bench_function("compile the defaults to `helm template` text", |b| {
        b.iter(|| black_box(compile().template_stream(&[]).expect("prints")))
    });
    let seed = Inputs {
        flags: SEED.iter().map(|text| InputFlag { kind: FlagKind::Set, text: (*text).into() }).collect(),
        ..Inputs::default()
    };
    c.bench_function("compile the seed's values to `helm template` text", |b| {
        b.iter(|| black_box(compile_inputs(&seed).template_stream(&[]).expect("prints")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
