//! A node change written as one transaction.
//!
//! Input: a [`Change`] from the compiler's node engine — its steps, in the order that keeps the
//! node consistent after any of them (the record first, the drop-in before the config that
//! imports it) — with the node's lock held by the caller. Output: every step made, each file
//! replaced atomically ([`crate::file`]); or, when a step fails, the steps already made undone
//! (each file back to its text before the change, in reverse order) and an error saying what
//! failed and what was restored. Temporary files a killed writer left next to the files are
//! removed first.
//!
//! A process killed between two steps needs no undo: the compiler reads the record and the
//! files as they are, and the next apply finishes the change (or the next revert gives back
//! the original).
//!
//! Tests stop the writer at a chosen point with `GPUPLAN_FAULT_PAUSE=<marker file>:<point>`:
//! `step-<n>-temp` (step n's temporary file written, not yet renamed over the file) or
//! `step-<n>-done` (step n made). At the point the process writes the marker file and waits
//! (up to an hour) for the test to kill it.

use std::path::Path;

use anyhow::Context;
use gpuplan_compiler::node::{Change, Step};

use crate::file;

/// Make every step of `change`, or none.
pub fn commit(change: &Change) -> anyhow::Result<()> {
    for path in paths(change) {
        for stale in file::clean_temporaries(Path::new(path))? {
            tracing::warn!(file = %stale.display(), "removed a temporary file a stopped writer left behind");
        }
    }
    let mut made: Vec<&str> = Vec::new();
    for (n, step) in change.steps.iter().enumerate() {
        if let Err(failure) = make(step, &format!("step-{n}")) {
            let undone = restore(change, &made);
            let failure = failure.context(format!("step {} of {} failed", n + 1, change.steps.len()));
            return Err(match undone {
                Ok(()) if made.is_empty() => failure.context("nothing was changed"),
                Ok(()) => failure.context(format!("the files written before were restored: {}", made.join(", "))),
                Err(e) => failure.context(format!("and restoring the files written before failed too: {e:#}")),
            });
        }
        if !made.contains(&step.path.as_str()) {
            made.push(&step.path);
        }
        fault_point(&format!("step-{n}-done"));
    }
    Ok(())
}

/// Put every file `change` writes back to its text before the change (after a restart that
/// failed, say), the files pointed at last.
pub fn undo(change: &Change) -> anyhow::Result<()> {
    restore(change, &paths(change))
}

/// The files a change writes, in the order of their first step.
fn paths(change: &Change) -> Vec<&str> {
    let mut paths: Vec<&str> = Vec::new();
    for step in &change.steps {
        if !paths.contains(&step.path.as_str()) {
            paths.push(&step.path);
        }
    }
    paths
}

/// Write each of `paths` back to its text before `change`, in reverse order.
fn restore(change: &Change, paths: &[&str]) -> anyhow::Result<()> {
    for path in paths.iter().rev() {
        let before =
            change.files.iter().chain([&change.record]).find(|f| f.path == *path).and_then(|f| f.before.clone());
        let step = Step { path: (*path).to_owned(), text: before };
        make(&step, "restore").with_context(|| format!("cannot restore {path}"))?;
    }
    Ok(())
}

/// One write; `point` names it for [`fault_point`].
fn make(step: &Step, point: &str) -> anyhow::Result<()> {
    let path = Path::new(&step.path);
    match &step.text {
        Some(text) => file::write_pausing(path, text, || fault_point(&format!("{point}-temp"))),
        None => file::remove(path),
    }
}

/// The fault-injection point of tests (see the module docs).
fn fault_point(point: &str) {
    let Some(setting) = std::env::var_os("GPUPLAN_FAULT_PAUSE") else { return };
    let setting = setting.to_string_lossy();
    let Some((marker, at)) = setting.rsplit_once(':') else { return };
    if at != point {
        return;
    }
    let _ = std::fs::write(marker, format!("{point}\n"));
    std::thread::sleep(std::time::Duration::from_secs(3600));
}
