//! The node agent: keeps one GPU node's container runtime configured with gpuplan's runtimes.
//!
//! Input: the resolved [`NodeRuntime`] (from the toolkit container's env contract, the same
//! resolution the compiler uses), the lock file, and [`Options`]. Output: the node's runtime
//! config changed and the runtime restarted — only when something changes — then kept that
//! way, and reverted on SIGTERM/SIGINT.
//!
//! Order of events: signals are caught first (so a SIGTERM during setup still reverts); the
//! lock; the change computed by the compiler's node engine; the restart checked before
//! anything is written (a socket served by something other than the runtime costs nothing);
//! files written atomically; the runtime restarted and awaited; on failure the previous files
//! are restored and the runtime restarted again. While running, the config is re-checked and
//! re-applied (rate-limited) when someone else rewrote it.
//!
//! A marker next to the lock file (`<pid file>.restart-pending`) exists from the moment files
//! are written until the runtime has been restarted with them. An agent killed in between
//! (node drain, OOM, SIGKILL) leaves it behind, so the next run restarts the runtime even though
//! the files already hold the change — otherwise the node would keep running the old config.

pub mod lock;
pub mod restart;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use gpuplan_compiler::node::{self, Change, Files, Foreign, NodeRuntime, RuntimeBinary};
use restart::Restarter;

use crate::{file, transaction};

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Apply, restart, exit (no watching, no revert).
    pub once: bool,
    /// Exit on SIGTERM/SIGINT without reverting.
    pub no_cleanup: bool,
    /// How long the runtime may take to answer after a restart.
    pub restart_timeout: Duration,
    /// How often the config is re-checked while running.
    pub watch_interval: Duration,
    /// The least time between two re-applies.
    pub reapply_interval: Duration,
    /// The lock (pid) file.
    pub pid_file: PathBuf,
    /// What to do with a file gpuplan did not write where it writes its drop-in or hook.
    pub foreign: Foreign,
}

/// Set when SIGTERM or SIGINT arrives.
pub fn shutdown_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&flag)).context("cannot catch termination signals")?;
    }
    Ok(flag)
}

fn restarter(node: &NodeRuntime, options: &Options) -> Restarter {
    Restarter {
        mode: node.restart_mode,
        runtime: node.runtime,
        socket: PathBuf::from(&node.socket),
        unit: node.systemd_unit.clone(),
        host_root: node.host_root.clone(),
        timeout: options.restart_timeout,
    }
}

/// The marker saying files were written and the runtime not yet restarted with them.
pub fn pending_marker(pid_file: &Path) -> PathBuf {
    let mut name = pid_file.file_name().unwrap_or_default().to_os_string();
    name.push(".restart-pending");
    pid_file.with_file_name(name)
}

/// What one apply or revert needs besides the node change.
struct Node<'a> {
    runtime: &'a NodeRuntime,
    restarter: Restarter,
    marker: PathBuf,
    foreign: Foreign,
}

/// Run the agent until told to stop (or once).
pub fn run(node: &NodeRuntime, options: &Options, stop: &AtomicBool) -> anyhow::Result<()> {
    let _lock = lock::acquire(&options.pid_file)?;
    warn_missing_binaries(&node.runtimes);
    let node = Node {
        runtime: node,
        restarter: restarter(node, options),
        marker: pending_marker(&options.pid_file),
        foreign: options.foreign,
    };
    apply(&node, stop)?;
    if options.once && !stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    let mut last_apply = Instant::now();
    tracing::info!(interval_ms = options.watch_interval.as_millis() as u64, "watching the runtime config");
    while !sleep(options.watch_interval, stop) {
        let change = node::apply(&read(node.runtime)?, node.runtime, node.foreign)?;
        if change.is_unchanged() {
            continue;
        }
        tracing::warn!(files = ?changed_paths(&change), "gpuplan's runtimes are missing from the config again");
        if last_apply.elapsed() < options.reapply_interval {
            continue;
        }
        if let Err(e) = apply(&node, stop) {
            tracing::error!(error = %format!("{e:#}"), "re-applying failed");
        }
        last_apply = Instant::now();
    }
    tracing::info!("termination signal received");
    if options.no_cleanup {
        tracing::info!("--no-cleanup: leaving the runtime configured");
        return Ok(());
    }
    revert(&node)
}

/// Exit code for `node-agent status`: 0 when the config on disk has gpuplan's change.
pub fn status(node: &NodeRuntime) -> anyhow::Result<u8> {
    let change = node::apply(&read(node)?, node, Foreign::TakeOver)?;
    if change.changed().next().is_none() {
        println!("configured: {} has gpuplan's runtimes", node.config);
        Ok(0)
    } else {
        println!("not configured: {} would change", changed_paths(&change).join(", "));
        Ok(1)
    }
}

/// Sleep in short slices; true when a stop was requested.
fn sleep(total: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + total;
    while Instant::now() < until {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20).min(total));
    }
    stop.load(Ordering::SeqCst)
}

fn read(node: &NodeRuntime) -> anyhow::Result<Files> {
    let mut files = Files::new();
    for path in node::paths(node) {
        files.insert(path.clone(), file::read(Path::new(&path))?);
    }
    Ok(files)
}

fn changed_paths(change: &Change) -> Vec<String> {
    change.steps.iter().map(|s| s.path.clone()).fold(Vec::new(), |mut paths, p| {
        if !paths.contains(&p) {
            paths.push(p);
        }
        paths
    })
}

fn warn_missing_binaries(runtimes: &[RuntimeBinary]) {
    for r in runtimes.iter().filter(|r| !Path::new(&r.path).exists()) {
        tracing::warn!(runtime = %r.name, binary = %r.path, "the runtime binary is missing: pods using it will fail until the toolkit is installed");
    }
}

/// The fault-injection point for tests: with `GPUPLAN_FAULT_PAUSE_AFTER_WRITE=<file>`, pause
/// between writing the config and restarting the runtime (up to an hour, or until SIGTERM), so
/// a test can kill or stop the agent exactly there.
fn fault_pause(stop: &AtomicBool) {
    if let Some(marker) = std::env::var_os("GPUPLAN_FAULT_PAUSE_AFTER_WRITE") {
        let _ = std::fs::write(&marker, b"paused after write\n");
        sleep(Duration::from_secs(3600), stop);
    }
}

/// Add gpuplan's runtimes and restart the runtime, or change nothing when they are there (and
/// no earlier run left a restart pending).
fn apply(node: &Node<'_>, stop: &AtomicBool) -> anyhow::Result<()> {
    let change = node::apply(&read(node.runtime)?, node.runtime, node.foreign)?;
    for note in &change.notes {
        tracing::debug!(note = %note, "engine");
    }
    if change.is_unchanged() {
        if node.marker.exists() {
            tracing::warn!(marker = %node.marker.display(), "an earlier run wrote the config but was stopped before restarting the runtime: restarting it now");
            node.restarter.check()?;
            let took = node.restarter.restart()?;
            tracing::info!(took_ms = took.as_millis() as u64, "runtime restarted with the new config");
            return file::remove(&node.marker);
        }
        tracing::info!(config = %node.runtime.config, "runtime already configured: nothing to write, no restart");
        return Ok(());
    }
    node.restarter.check()?;
    write_changes(node, &change)?;
    tracing::info!(files = ?changed_paths(&change), "applied gpuplan's runtimes");
    fault_pause(stop);
    restart_or_roll_back(node, &change)
}

/// Mark the restart pending, then write the change as one transaction.
fn write_changes(node: &Node<'_>, change: &Change) -> anyhow::Result<()> {
    file::write(&node.marker, &format!("{}\n", node.runtime.socket))?;
    transaction::commit(change).inspect_err(|_| {
        let _ = file::remove(&node.marker);
    })
}

/// Take gpuplan's runtimes out and restart the runtime when anything changed.
fn revert(node: &Node<'_>) -> anyhow::Result<()> {
    let change = node::revert(&read(node.runtime)?, node.runtime)?;
    if change.is_unchanged() {
        tracing::info!("nothing to revert");
        return Ok(());
    }
    if let Err(e) = node.restarter.check() {
        // Revert the files anyway: the runtime loads them at its next start.
        transaction::commit(&change)?;
        return Err(e.context("reverted the config, but could not restart the runtime"));
    }
    write_changes(node, &change)?;
    tracing::info!(files = ?changed_paths(&change), "reverted gpuplan's runtimes");
    restart_or_roll_back(node, &change)
}

/// Restart; if the runtime does not come back, restore the previous files, restart again and
/// fail with what happened.
fn restart_or_roll_back(node: &Node<'_>, change: &Change) -> anyhow::Result<()> {
    let restarter = &node.restarter;
    match restarter.restart() {
        Ok(took) => {
            tracing::info!(took_ms = took.as_millis() as u64, "runtime restarted with the new config");
            file::remove(&node.marker)
        }
        Err(failure) => {
            tracing::error!(error = %format!("{failure:#}"), "restart failed: restoring the previous config");
            transaction::undo(change)?;
            // The files are the runtime's old ones again: whenever it starts, it runs them.
            file::remove(&node.marker)?;
            let again = match restarter.check() {
                Ok(Some(_)) => restarter.restart().map(|_| ()),
                _ => restarter.wait_back(),
            };
            let outcome = match again {
                Ok(()) => "the runtime runs the previous config again",
                Err(_) => "the runtime is still not back; it will load the previous config when it starts",
            };
            Err(failure.context(format!("the previous config is restored; {outcome}")))
        }
    }
}
