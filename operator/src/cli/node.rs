//! `gpuplan node diff|apply|revert`: a GPU node's runtime config change, previewed or made.
//!
//! Input: the values flags (the seed's `--set toolkit.env[...]` lines drive it), and
//! optionally `--config FILE` / `--drop-in FILE` to work on other paths than the node
//! defaults the values resolve to. Output: `diff` prints a unified diff of every file that
//! would change and exits 1 (0 and nothing when nothing would); `apply` and `revert` take the
//! node agent's lock, write the files as one transaction with gpuplan's record beside the
//! config, and say what they wrote; `--dry-run` prints the diff instead of writing.

use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use gpuplan_compiler::node::{self, Change, Files, NodeRuntime, env};

use super::input::ValuesArgs;
use super::{EXIT_DIFFERENCES, EXIT_ERROR, EXIT_OK, print_out};
use crate::agent::lock;
use crate::{file, transaction};

/// The node config commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what `apply` would change, as a unified diff (exit 1 when something would).
    Diff(Args),
    /// Add gpuplan's runtimes to the node's runtime config.
    Apply(Args),
    /// Take gpuplan's runtimes out of the node's runtime config again.
    Revert(Args),
}

/// Where the node's config is, and how to run.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The values.
    #[command(flatten)]
    pub values: ValuesArgs,
    /// The runtime's top-level config file (default: from the values, e.g.
    /// `/etc/containerd/config.toml`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,
    /// The drop-in file (default: from the values); an empty string edits `--config` in place.
    #[arg(long, value_name = "FILE")]
    pub drop_in: Option<String>,
    /// Print the diff instead of writing (apply and revert).
    #[arg(long)]
    pub dry_run: bool,
    /// Replace a file at the drop-in (or hook) path that gpuplan did not write, and put it
    /// back on revert (without it, apply refuses to touch such a file).
    #[arg(long)]
    pub take_over: bool,
    /// The node agent's lock (default: $TOOLKIT_PID_FILE, else the toolkit's
    /// /run/nvidia/toolkit/toolkit.pid), taken while writing so that the CLI and an agent never
    /// change one node at once.
    #[arg(long, value_name = "FILE")]
    pub lock: Option<String>,
}

/// Run a `gpuplan node` command.
pub fn run(command: &Command) -> anyhow::Result<u8> {
    let (args, revert, write) = match command {
        Command::Diff(args) => (args, false, false),
        Command::Apply(args) => (args, false, !args.dry_run),
        Command::Revert(args) => (args, true, !args.dry_run),
    };
    let Some(node) = resolve(args)? else {
        return Ok(EXIT_ERROR);
    };
    // Held until the command ends: the files read are the files written.
    let lock_file = args
        .lock
        .clone()
        .or_else(|| env::PID_FILE.names.iter().find_map(|n| std::env::var(n).ok()))
        .unwrap_or(lock::PID_FILE.into());
    let _lock = if write { Some(lock::acquire(Path::new(&lock_file))?) } else { None };
    let files = read(&node)?;
    let foreign = if args.take_over { node::Foreign::TakeOver } else { node::Foreign::Refuse };
    let change = if revert { node::revert(&files, &node)? } else { node::apply(&files, &node, foreign)? };
    for note in &change.notes {
        eprintln!("note: {note}");
    }
    if !write {
        print_out(&diff(&change))?;
        let differs = change.changed().next().is_some();
        return Ok(if differs && matches!(command, Command::Diff(_)) { EXIT_DIFFERENCES } else { EXIT_OK });
    }
    if change.is_unchanged() {
        eprintln!("unchanged: nothing to write");
        return Ok(EXIT_OK);
    }
    transaction::commit(&change)?;
    for f in change.changed() {
        eprintln!("{} {}", if f.after.is_some() { "wrote" } else { "deleted" }, f.path);
    }
    let record = &change.record;
    if !record.is_unchanged() {
        let what = if record.after.is_some() { "recorded what it replaced in" } else { "removed its record" };
        eprintln!("gpuplan {what} {}", record.path);
    }
    Ok(EXIT_OK)
}

/// The node change the values resolve to, with the path overrides; `None` after printing
/// errors.
fn resolve(args: &Args) -> anyhow::Result<Option<NodeRuntime>> {
    let mut compiled = args.values.compile()?;
    if compiled.print_diagnostics() {
        return Ok(None);
    }
    let Some(mut node) = compiled.node.take() else {
        anyhow::bail!("the values resolve to no node change");
    };
    super::leave(compiled);
    if let Some(path) = &args.config {
        node.config = absolute(path)?;
    }
    match args.drop_in.as_deref() {
        Some("") => node.drop_in = None,
        Some(path) => {
            node.drop_in = Some(absolute(path)?);
            node.drop_in_host_path = None;
        }
        None => {}
    }
    Ok(Some(node))
}

fn absolute(path: &str) -> anyhow::Result<String> {
    let path = std::path::absolute(path).with_context(|| format!("cannot resolve {path}"))?;
    Ok(path.to_string_lossy().into_owned())
}

fn read(node: &NodeRuntime) -> anyhow::Result<Files> {
    let mut files = Files::new();
    for path in node::paths(node) {
        let text = file::read(Path::new(&path))?;
        files.insert(path, text);
    }
    Ok(files)
}

fn diff(change: &Change) -> String {
    change.changed().map(node::FileChange::unified).collect()
}
