//! Showing an apply as it happens.
//!
//! Input: events from the release flow — a stage starts, an object is applied or deleted, the
//! stage waits for something, the stage is done. Output: on a terminal, one line per stage with
//! a spinner and counts (indicatif); otherwise one plain log line per event on stderr; or
//! nothing (`--output json` prints the result at the end instead).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::engine::{Action, Applied};

/// Hears what an apply does.
pub trait Progress: Sync {
    /// A stage starts with this many objects.
    fn stage(&self, name: &str, objects: usize);
    /// An object was applied (or deleted).
    fn object(&self, stage: &str, applied: &Applied);
    /// The stage waits for this.
    fn waiting(&self, stage: &str, what: &str);
    /// The stage is done.
    fn done(&self, stage: &str, elapsed: Duration);
}

/// Says nothing.
pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _: &str, _: usize) {}
    fn object(&self, _: &str, _: &Applied) {}
    fn waiting(&self, _: &str, _: &str) {}
    fn done(&self, _: &str, _: Duration) {}
}

/// Plain lines on stderr, for logs and pipes.
pub struct Plain;

impl Progress for Plain {
    fn stage(&self, name: &str, objects: usize) {
        eprintln!("stage {name}: {objects} object(s)");
    }
    fn object(&self, stage: &str, applied: &Applied) {
        if applied.action != Action::Unchanged {
            eprintln!("stage {stage}: {} {}", applied.object, applied.action.verb());
        }
    }
    fn waiting(&self, stage: &str, what: &str) {
        eprintln!("stage {stage}: waiting for {what}");
    }
    fn done(&self, stage: &str, elapsed: Duration) {
        eprintln!("stage {stage}: done in {:.1}s", elapsed.as_secs_f64());
    }
}

/// Counts per stage, for the terminal line.
#[derive(Default)]
struct Line {
    bar: Option<ProgressBar>,
    total: usize,
    counts: BTreeMap<&'static str, usize>,
}

impl Line {
    fn summary(&self) -> String {
        let done: usize = self.counts.values().sum();
        let parts: Vec<String> = self.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!("{done}/{} ({})", self.total, parts.join(", "))
    }
}

/// A spinner line per stage.
pub struct Terminal {
    multi: MultiProgress,
    lines: Mutex<BTreeMap<String, Line>>,
}

impl Default for Terminal {
    fn default() -> Self {
        Terminal { multi: MultiProgress::new(), lines: Mutex::new(BTreeMap::new()) }
    }
}

impl Terminal {
    fn with_line(&self, stage: &str, f: impl FnOnce(&mut Line)) {
        if let Ok(mut lines) = self.lines.lock() {
            f(lines.entry(stage.to_owned()).or_default());
        }
    }
}

impl Progress for Terminal {
    fn stage(&self, name: &str, objects: usize) {
        let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = self.multi.add(ProgressBar::new_spinner().with_style(style));
        bar.set_prefix(format!("{name:<24}"));
        bar.enable_steady_tick(Duration::from_millis(120));
        self.with_line(name, |line| {
            line.total = objects;
            bar.set_message(line.summary());
            line.bar = Some(bar);
        });
    }
    fn object(&self, stage: &str, applied: &Applied) {
        self.with_line(stage, |line| {
            *line.counts.entry(applied.action.verb()).or_default() += 1;
            if let Some(bar) = &line.bar {
                bar.set_message(line.summary());
            }
        });
    }
    fn waiting(&self, stage: &str, what: &str) {
        self.with_line(stage, |line| {
            if let Some(bar) = &line.bar {
                bar.set_message(format!("{} — waiting for {what}", line.summary()));
            }
        });
    }
    fn done(&self, stage: &str, elapsed: Duration) {
        self.with_line(stage, |line| {
            if let Some(bar) = &line.bar {
                bar.finish_with_message(format!("{} in {:.1}s", line.summary(), elapsed.as_secs_f64()));
            }
        });
    }
}
