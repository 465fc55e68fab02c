//! The operator's metrics, in Prometheus' text format.
//!
//! Input: counts recorded by the reconcilers. Output: the `/metrics` page: reconciles and
//! failures, reconcile duration (a histogram), objects written, changes of the cluster's
//! facts, GPU nodes, leadership.

use std::fmt::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the reconcile duration histogram.
const BUCKETS: [f64; 8] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Counters and gauges, shared by the reconcilers and the HTTP server.
#[derive(Debug, Default)]
pub struct Metrics {
    reconciles: AtomicU64,
    failures: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    duration_micros: AtomicU64,
    objects_written: AtomicU64,
    gpu_nodes: AtomicU64,
    /// Times the cluster's facts changed (each recompiles the plans).
    pub facts_changes: AtomicU64,
    /// This process leads (and reconciles).
    pub leader: AtomicBool,
    /// The operator can reconcile GPUPlans: connected, and the GPUPlan CRD is served.
    pub ready: AtomicBool,
    /// Why it is not ready (`None`: not connected to the API server yet).
    unready: RwLock<Option<String>>,
    /// Reconciles running now (shutdown waits for them).
    pub in_flight: AtomicUsize,
}

/// Counts a reconcile as running while it lives.
pub struct Running<'a>(&'a AtomicUsize);

impl<'a> Running<'a> {
    /// Start counting.
    pub fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Running(counter)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Metrics {
    /// Ready to reconcile.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Not ready, and why (for `/readyz`).
    pub fn set_unready(&self, why: &str) {
        self.ready.store(false, Ordering::Relaxed);
        if let Ok(mut unready) = self.unready.write() {
            *unready = Some(why.to_owned());
        }
    }

    /// Why it is not ready.
    pub fn unready(&self) -> String {
        self.unready.read().ok().and_then(|u| u.clone()).unwrap_or_else(|| "not connected to the API server yet".into())
    }

    /// One reconcile, its outcome and duration, and how many objects it wrote.
    pub fn reconciled(&self, ok: bool, took: Duration, written: u64) {
        self.reconciles.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        let seconds = took.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        self.objects_written.fetch_add(written, Ordering::Relaxed);
    }

    /// The number of GPU nodes now.
    pub fn set_gpu_nodes(&self, n: u64) {
        self.gpu_nodes.store(n, Ordering::Relaxed);
    }

    /// The `/metrics` page.
    pub fn render(&self) -> String {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (suffix, value) in lines {
                let _ = writeln!(out, "{name}{suffix} {value}");
            }
        };
        metric(
            "gpuplan_reconciles_total",
            "counter",
            "GPUPlan reconciles.",
            &[(String::new(), n(&self.reconciles).to_string())],
        );
        metric(
            "gpuplan_reconcile_failures_total",
            "counter",
            "GPUPlan reconciles that failed.",
            &[(String::new(), n(&self.failures).to_string())],
        );
        let count = n(&self.reconciles);
        let mut lines: Vec<(String, String)> = BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(b, c)| (format!("_bucket{{le=\"{b}\"}}"), n(c).to_string()))
            .collect();
        lines.push(("_bucket{le=\"+Inf\"}".into(), count.to_string()));
        lines.push(("_sum".into(), format!("{}", n(&self.duration_micros) as f64 / 1e6)));
        lines.push(("_count".into(), count.to_string()));
        metric("gpuplan_reconcile_duration_seconds", "histogram", "How long a GPUPlan reconcile took.", &lines);
        metric(
            "gpuplan_objects_written_total",
            "counter",
            "Objects created or changed by server-side apply.",
            &[(String::new(), n(&self.objects_written).to_string())],
        );
        metric(
            "gpuplan_facts_changes_total",
            "counter",
            "Changes of the cluster's facts (a node's OS or container runtime, the served APIs), each compiling the plan again.",
            &[(String::new(), n(&self.facts_changes).to_string())],
        );
        metric(
            "gpuplan_gpu_nodes",
            "gauge",
            "Nodes labelled nvidia.com/gpu.present=true.",
            &[(String::new(), n(&self.gpu_nodes).to_string())],
        );
        let leader = u8::from(self.leader.load(Ordering::Relaxed));
        metric(
            "gpuplan_leader",
            "gauge",
            "1 when this operator holds the leader lease.",
            &[(String::new(), leader.to_string())],
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_reconciles_the_page_counts_them() {
        let m = Metrics::default();
        m.reconciled(true, Duration::from_millis(80), 3);
        m.reconciled(false, Duration::from_secs(3), 0);
        m.set_gpu_nodes(2);
        m.facts_changes.fetch_add(1, Ordering::Relaxed);
        let page = m.render();
        for line in [
            "gpuplan_reconciles_total 2",
            "gpuplan_reconcile_failures_total 1",
            "gpuplan_reconcile_duration_seconds_bucket{le=\"0.1\"} 1",
            "gpuplan_reconcile_duration_seconds_bucket{le=\"5\"} 2",
            "gpuplan_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2",
            "gpuplan_reconcile_duration_seconds_sum 3.08",
            "gpuplan_objects_written_total 3",
            "gpuplan_gpu_nodes 2",
            "gpuplan_facts_changes_total 1",
            "# TYPE gpuplan_reconcile_duration_seconds histogram",
        ] {
            assert!(page.lines().any(|l| l == line), "{line} in\n{page}");
        }
    }
}
