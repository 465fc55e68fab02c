//! The node agent: keeps one GPU node's container runtime configured with gpuplan's runtimes.
//!
//! Input: the resolved [`NodeRuntime`] (from the toolkit container's env contract, the same
//! resolution the compiler uses), the lock file, and [`Options`]. Output: the node's runtime
//! config changed and the runtime restarted — only when something changes — then kept that
//! way; or, with [`revert`], the node given back as it was, the runtime restarted once.
//!
//! **At most one runtime restart per node per rollout.** SIGTERM (a rolling update, an
//! eviction, a drain, the node shutting down) never reverts: the agent finishes — or rolls
//! back — a restart in progress and exits 0, the node still configured, and the next agent
//! finds nothing to write and restarts nothing. Reverting is explicit: `gpuplan node-agent
//! revert`, which the uninstall flow runs on every GPU node.
//!
//! Order of events: the lock; the change computed by the compiler's node engine; the restart
//! checked before anything is written (a socket served by something other than the runtime
//! costs nothing); the files written as one transaction; the runtime restarted and awaited
//! until it runs the new config ([`health`]); on failure the previous files are restored and
//! the runtime restarted again. While running, the config is re-checked and re-applied
//! (rate-limited) when someone else rewrote it.
//!
//! A marker next to the lock file (`<pid file>.restart-pending`) exists from the moment files
//! are written until the runtime has been restarted with them. An agent killed in between
//! (OOM, SIGKILL) leaves it behind, so the next run restarts the runtime even though the files
//! already hold the change — otherwise the node would keep running the old config.

pub mod cri;
pub mod docker;
pub mod health;
pub mod lock;
pub mod restart;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use gpuplan_compiler::node::{self, Change, Files, Foreign, NodeRuntime, RestartMode, RuntimeBinary, RuntimeKind};
use health::Expect;
use restart::Restarter;

use crate::{file, transaction};

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Apply, restart, exit (no watching).
    pub once: bool,
    /// How long the runtime may take to be back after a restart.
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

impl<'a> Node<'a> {
    fn new(runtime: &'a NodeRuntime, options: &Options) -> Node<'a> {
        Node {
            runtime,
            restarter: restarter(runtime, options),
            marker: pending_marker(&options.pid_file),
            foreign: options.foreign,
        }
    }

    /// What the runtime reports once it runs gpuplan's config.
    fn configured(&self) -> Expect {
        let default = self.runtime.set_as_default.then(|| self.runtime.runtime_name.clone());
        Expect::Configured { runtimes: self.runtime.runtimes.clone(), default }
    }

    /// What the runtime reports once gpuplan's config is gone.
    fn reverted(&self) -> Expect {
        Expect::Reverted { runtimes: self.runtime.runtimes.clone() }
    }
}

/// Run the agent until told to stop (or once). A stop never reverts.
pub fn run(node: &NodeRuntime, options: &Options, stop: &AtomicBool) -> anyhow::Result<()> {
    let _lock = lock::acquire(&options.pid_file)?;
    warn_missing_binaries(&node.runtimes);
    let node = Node::new(node, options);
    let start = Instant::now();
    apply(&node, stop)?;
    tracing::info!(took_ms = start.elapsed().as_millis() as u64, "the runtime serves gpuplan's runtimes");
    if options.once {
        return Ok(());
    }
    let mut last_apply = Instant::now();
    tracing::info!(interval_ms = options.watch_interval.as_millis() as u64, "watching the runtime config");
    while !sleep(options.watch_interval, stop) {
        let change = node::apply(&read(node.runtime)?, node.runtime, node.foreign)?;
        if change.changed().next().is_none() {
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
    tracing::info!("termination signal received: the node stays configured (revert is `gpuplan node-agent revert`)");
    Ok(())
}

/// Give the node back as gpuplan's record says it was, and restart the runtime once; nothing
/// (and no restart) when there is nothing to revert. With `hold`, then wait until told to stop.
pub fn revert(node: &NodeRuntime, options: &Options, hold: bool, stop: &AtomicBool) -> anyhow::Result<()> {
    {
        let _lock = lock::acquire(&options.pid_file)?;
        let node = Node::new(node, options);
        revert_node(&node)?;
    }
    if hold {
        tracing::info!("reverted; holding until told to stop");
        while !sleep(Duration::from_secs(3600), stop) {}
    }
    Ok(())
}

/// Exit code for `node-agent status`: 0 when the config on disk has gpuplan's change (or, with
/// `reverted`, when nothing of gpuplan's is left), 1 when not.
pub fn status(node: &NodeRuntime, reverted: bool) -> anyhow::Result<u8> {
    let files = read(node)?;
    if reverted {
        let change = node::revert(&files, node)?;
        return Ok(if change.is_unchanged() {
            println!("reverted: nothing of gpuplan's is left in {}", node.config);
            0
        } else {
            println!("not reverted: {} would change", changed_paths(&change).join(", "));
            1
        });
    }
    let change = node::apply(&files, node, Foreign::TakeOver)?;
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
    if change.changed().next().is_none() {
        return settle(node, &change, &node.configured(), "runtime already configured: nothing to write, no restart");
    }
    node.restarter.check()?;
    write_changes(node, &change)?;
    tracing::info!(files = ?changed_paths(&change), "applied gpuplan's runtimes");
    fault_pause(stop);
    restart_or_roll_back(node, &change, &node.configured())
}

/// No config file changes: settle a record a stopped writer left in flight, and restart the
/// runtime if that writer was stopped before it could (the pending marker says so).
fn settle(node: &Node<'_>, change: &Change, expect: &Expect, nothing: &str) -> anyhow::Result<()> {
    if !change.is_unchanged() {
        transaction::commit(change)?;
    }
    if node.marker.exists() {
        tracing::warn!(marker = %node.marker.display(), "an earlier run wrote the config but was stopped before restarting the runtime: restarting it now");
        node.restarter.check()?;
        let took = node.restarter.restart(expect)?;
        tracing::info!(took_ms = took.as_millis() as u64, "runtime restarted with the config on disk");
        return file::remove(&node.marker);
    }
    tracing::info!(config = %node.runtime.config, "{nothing}");
    Ok(())
}

/// Mark the restart pending, then write the change as one transaction.
fn write_changes(node: &Node<'_>, change: &Change) -> anyhow::Result<()> {
    file::write(&node.marker, &format!("{}\n", node.runtime.socket))?;
    transaction::commit(change).inspect_err(|_| {
        let _ = file::remove(&node.marker);
    })
}

/// Give back what gpuplan's record says and restart the runtime when anything changed.
fn revert_node(node: &Node<'_>) -> anyhow::Result<()> {
    let change = node::revert(&read(node.runtime)?, node.runtime)?;
    for note in &change.notes {
        tracing::info!(note = %note, "revert");
    }
    if change.changed().next().is_none() {
        return settle(node, &change, &node.reverted(), "nothing to revert");
    }
    if let Err(e) = node.restarter.check() {
        // Revert the files anyway: the runtime loads them at its next start.
        transaction::commit(&change)?;
        return Err(e.context("reverted the config, but could not restart the runtime"));
    }
    if let Some(form) = docker_reload_form(node, &change) {
        return revert_docker_by_reload(node, &change, &form);
    }
    write_changes(node, &change)?;
    tracing::info!(files = ?changed_paths(&change), "reverted gpuplan's runtimes");
    restart_or_roll_back(node, &change, &node.reverted())
}

/// dockerd's reload keeps runtimes and a default the file no longer names, so a Docker revert
/// by SIGHUP first reloads a form of the original that names them (empty, `runc`): the text,
/// when one is needed.
fn docker_reload_form(node: &Node<'_>, change: &Change) -> Option<String> {
    let runtime = node.runtime;
    if runtime.runtime != RuntimeKind::Docker || runtime.restart_mode != RestartMode::Signal {
        return None;
    }
    let config = change.changed().find(|f| f.path == runtime.config)?;
    node::docker::reload_form(config.after.as_deref())
}

/// Reload dockerd with `form` (the original's meaning, every option named), then write the
/// original bytes, which mean the same to dockerd's next start: gpuplan's runtimes leave the
/// running daemon, whose containers keep running. If dockerd does not take the form, the
/// applied text is put back and reloaded.
fn revert_docker_by_reload(node: &Node<'_>, change: &Change, form: &str) -> anyhow::Result<()> {
    let config = Path::new(&node.runtime.config);
    let applied = change.changed().find(|f| f.path == node.runtime.config).and_then(|f| f.before.clone());
    file::write(&node.marker, &format!("{}\n", node.runtime.socket))?;
    file::write(config, form)?;
    tracing::info!(config = %config.display(), "reloading dockerd without gpuplan's runtimes");
    if let Err(failure) = node.restarter.restart(&node.reverted()) {
        tracing::error!(error = %format!("{failure:#}"), "dockerd did not drop gpuplan's runtimes: restoring the config");
        if let Some(text) = &applied {
            file::write(config, text)?;
        }
        file::remove(&node.marker)?;
        let again = node.restarter.restart(&Expect::Ready).map(|_| ());
        let outcome = if again.is_ok() { "dockerd runs it again" } else { "dockerd did not answer the reload" };
        return Err(failure.context(format!("the config gpuplan wrote is back; {outcome}")));
    }
    transaction::commit(change)?;
    tracing::info!(files = ?changed_paths(change), "reverted gpuplan's runtimes; dockerd's live settings already match the original");
    file::remove(&node.marker)
}

/// Restart; if the runtime is not back with the new config, restore the previous files,
/// restart again and fail with what happened.
fn restart_or_roll_back(node: &Node<'_>, change: &Change, expect: &Expect) -> anyhow::Result<()> {
    let restarter = &node.restarter;
    match restarter.restart(expect) {
        Ok(took) => {
            tracing::info!(took_ms = took.as_millis() as u64, "runtime restarted with the new config");
            file::remove(&node.marker)
        }
        Err(failure) => {
            tracing::error!(error = %format!("{failure:#}"), "restart failed: restoring the previous config");
            transaction::undo(change)?;
            // The files are the runtime's old ones again: whenever it starts, it runs them.
            file::remove(&node.marker)?;
            // Make it load the old files: restart the unit again, or signal the process that
            // serves the socket now; a runtime that is down loads them when it comes back.
            let again = match (restarter.mode, restarter.check()) {
                (RestartMode::Systemd, _) | (_, Ok(Some(_))) => restarter.restart(&Expect::Ready).map(|_| ()),
                _ => restarter.wait_back(&Expect::Ready),
            };
            let outcome = match again {
                Ok(()) => "the runtime runs the previous config again",
                Err(_) => "the runtime is still not back; it will load the previous config when it starts",
            };
            Err(failure.context(format!("the previous config is restored; {outcome}")))
        }
    }
}
