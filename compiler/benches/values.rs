//! The values pipeline, measured: parse the built-in defaults, apply the seed command line's
//! `--set` flags, coalesce, check against the schema, resolve the typed config.
//!
//! Run: `cargo bench -p gpuplan-compiler --bench values`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use criterion::{Criterion, criterion_group, criterion_main};
use gpuplan_compiler::values::load::load;
use gpuplan_compiler::values::merge::{Chart, coalesce};
use gpuplan_compiler::values::{Source, Values};
use gpuplan_compiler::{DEFAULT_VALUES, Effective, FlagKind, InputFlag, Inputs};
use std::hint::black_box;

fn seed() -> Inputs {
    let flags = [
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
    Inputs {
        files: Vec::new(),
        flags: flags.iter().map(|f| InputFlag { kind: FlagKind::Set, text: (*f).into() }).collect(),
    }
}

/// Everything from text to checked values, nothing cached but the compiled schema validator.
fn pipeline(inputs: &Inputs) -> usize {
    let defaults = load(DEFAULT_VALUES, &Source::Defaults).expect("defaults parse");
    let user = gpuplan_compiler::load(inputs, &mut |_| Err("no files".into())).expect("seed loads");
    let chart =
        Chart { name: "gpu-operator".into(), values: std::borrow::Cow::Owned(defaults.0), dependencies: Vec::new() };
    let (values, warnings) = coalesce(&chart, user.0.clone()).expect("coalesces");
    let effective = Effective { user, values: Values(values), warnings };
    let diagnostics = gpuplan_compiler::check(&effective, false);
    assert!(!gpuplan_compiler::schema::has_errors(&diagnostics), "{diagnostics:?}");
    let config = gpuplan_compiler::resolve(&effective.values).expect("resolves");
    config.toolkit.env.len()
}

fn bench(c: &mut Criterion) {
    let inputs = seed();
    c.bench_function("values pipeline: defaults + seed --set flags + schema check + config", |b| {
        b.iter(|| pipeline(black_box(&inputs)))
    });
    c.bench_function("parse built-in values.yaml", |b| {
        b.iter(|| load(black_box(DEFAULT_VALUES), &Source::Defaults).expect("parses"))
    });
    let schema: serde_json::Value = serde_json::from_str(gpuplan_compiler::schema::SCHEMA).expect("JSON");
    c.bench_function("compile the values schema (once per process)", |b| {
        b.iter(|| jsonschema::validator_for(black_box(&schema)).expect("compiles"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);
