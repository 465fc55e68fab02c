//! Large values files: `gpuplan values` and `gpuplan lint` on 1, 10 and 50 MB, to show that
//! time and memory grow in proportion to the input (issue 14).
//!
//! Run: `cargo bench -p gpuplan --bench inputs` (a few minutes; prints a table). Under
//! `cargo test` it runs once on 100 KB, as a smoke test.
//!
//! Each point runs in a fresh process (this binary, `--measure`), which does what the command
//! does — read the file through the CLI's reader, load, coalesce, check, then print the values
//! or render the diagnostics into a string — and reports its time and its peak resident memory
//! (`VmHWM`), so one point's memory does not hide in another's. Two shapes of file:
//!
//! - `annotations`: valid values, `daemonsets.annotations` with one entry per ~250 bytes;
//! - `unknown keys`: a top-level unknown key per ~250 bytes, so `lint` reports one error each
//!   (and prints the first 100 in full).
//!
//! The shapes hold about 4,000 values per MB: a 50 MB file stays within gpuplan's limit of a
//! million values (`compiler/src/limits.rs`); a file of tiny values reaches that limit at
//! about 10 MB and is refused.

#![allow(missing_docs)] // A bench binary: its functions are the table it prints.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use gpuplan::cli::input::{ValuesArgs, summary};
use gpuplan_compiler::values::print;

const SHAPES: [&str; 2] = ["annotations", "unknown keys"];
const COMMANDS: [&str; 2] = ["values", "lint"];

/// A values file of about `bytes` bytes in one of [`SHAPES`].
fn generate(shape: &str, bytes: usize) -> String {
    let filler = "x".repeat(200);
    let mut text = String::with_capacity(bytes + 300);
    if shape == "annotations" {
        text.push_str("daemonsets:\n  annotations:\n");
    }
    let mut i = 0;
    while text.len() < bytes {
        match shape {
            "annotations" => writeln!(text, "    example.com/annotation-{i}: \"{filler} {i}\""),
            _ => writeln!(text, "unknownKey{i}: \"{filler} {i}\""),
        }
        .expect("writing to a String");
        i += 1;
    }
    text
}

/// The child: run one command's work on one file and print `seconds peak_kib output_bytes`.
fn measure(command: &str, file: &str) {
    let start = Instant::now();
    let args = ValuesArgs { files: vec![file.to_owned()], ..ValuesArgs::default() };
    let compiled = args.compile().expect("reads and loads");
    let output = match command {
        "values" if !compiled.failed() => print::to_yaml(&compiled.effective.values.0),
        "values" => compiled.render(),
        _ => format!("{}lint: {}\n", compiled.render(), summary(&compiled.diagnostics)),
    };
    let seconds = start.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("{seconds} {peak} {} {}", output.len(), compiled.diagnostics.len());
}

fn point(command: &str, file: &Path) -> (f64, f64, usize) {
    let out = Command::new(std::env::current_exe().expect("this binary"))
        .args(["--measure", command])
        .arg(file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (number(0), number(1) / 1024.0, number(3) as usize)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, command, file] = args.as_slice()
        && flag == "--measure"
    {
        measure(command, file);
        return;
    }
    let full = args.iter().any(|a| a == "--bench");
    let sizes: &[usize] = if full { &[1, 10, 50] } else { &[0] };
    let dir = tempfile::tempdir().expect("a temporary directory");
    println!(
        "{:<13} {:>6} {:>7} {:>9} {:>9} {:>11} {:>9} {:>12}",
        "shape", "MB", "command", "seconds", "s/MB", "peak MiB", "MiB/MB", "diagnostics"
    );
    for shape in SHAPES {
        for &mb in sizes {
            let bytes = if mb == 0 { 100_000 } else { mb * 1_000_000 };
            let file = dir.path().join(format!("{}-{mb}.yaml", shape.replace(' ', "-")));
            std::fs::write(&file, generate(shape, bytes)).expect("write");
            let size = bytes as f64 / 1e6;
            for command in COMMANDS {
                let (seconds, peak, diagnostics) = point(command, &file);
                println!(
                    "{shape:<13} {size:>6.1} {command:>7} {seconds:>9.3} {:>9.3} {peak:>11.1} {:>9.1} {diagnostics:>12}",
                    seconds / size,
                    peak / size
                );
            }
        }
    }
}
