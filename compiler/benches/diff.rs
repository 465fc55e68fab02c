//! Diffing two plans of the full default stack: the defaults against the defaults with the
//! runtime switched to CRI-O, one env value changed and DCGM exporter off — reading both plan
//! files (YAML), comparing, and printing the report.
//!
//! Run: `cargo bench -p gpuplan-compiler --bench diff`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gpuplan_compiler::diff::Side;
use gpuplan_compiler::diff::report::{Format, Style, render};
use gpuplan_compiler::plan::Plan;
use gpuplan_compiler::plan::read::read;
use gpuplan_compiler::{FlagKind, InputFlag, Inputs, Target};

fn compile(flags: &[&str]) -> Plan {
    let inputs = Inputs {
        files: Vec::new(),
        flags: flags.iter().map(|f| InputFlag { kind: FlagKind::Set, text: (*f).to_owned() }).collect(),
    };
    let compiled =
        gpuplan_compiler::compile(&inputs, &mut |_| Err("no files".into()), &Target::default()).expect("compiles");
    compiled.plan.unwrap_or_else(|| panic!("{:?}", compiled.diagnostics))
}

fn bench(c: &mut Criterion) {
    let old = compile(&[]);
    let new = compile(&[
        "operator.defaultRuntime=crio",
        "devicePlugin.env[0].name=FOO,devicePlugin.env[0].value=bar",
        "dcgmExporter.enabled=false",
    ]);
    let (old_text, new_text) = (old.to_yaml(), new.to_yaml());
    let (a, b) = (Side::plan(&old), Side::plan(&new));
    let report = gpuplan_compiler::diff(&a, &b);
    let (add, change, destroy) = report.counts();
    println!(
        "{} vs {} objects: {add} to add, {change} to change, {destroy} to destroy, {} node changes",
        a.objects.len(),
        b.objects.len(),
        report.node.len()
    );
    let style = Style { context: Some(3), color: false };
    c.bench_function("compare two default-stack plans", |bench| {
        bench.iter(|| black_box(gpuplan_compiler::diff(&a, &b)))
    });
    c.bench_function("compare and print (diff format)", |bench| {
        bench.iter(|| black_box(render(&gpuplan_compiler::diff(&a, &b), Format::Diff, style)))
    });
    c.bench_function("read both plan files (YAML), compare, print", |bench| {
        bench.iter(|| {
            let a = Side::document(&read(&old_text, "old.yaml").expect("reads"));
            let b = Side::document(&read(&new_text, "new.yaml").expect("reads"));
            black_box(render(&gpuplan_compiler::diff(&a, &b), Format::Diff, style))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
