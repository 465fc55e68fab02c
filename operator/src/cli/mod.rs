//! The command line: parse flags, run a command, turn its outcome into an exit code.
//!
//! Input: `std::env::args`. Output: text on stdout/stderr and the process exit code
//! (0 ok, 1 differences found for diff commands, 2 error). Commands live in their own modules;
//! the values flags every command shares, and the file and stdin reading behind them, are in
//! [`input`].

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use deferred::Deferred;

mod agent;
mod cluster;
pub mod crd;
mod deferred;
mod diff;
mod explain;
mod facts;
pub mod input;
mod kube;
mod lint;
mod node;
mod operator;
mod output_dir;
mod schema;
mod template;
mod values;

/// Exit code: everything went as asked.
pub const EXIT_OK: u8 = 0;
/// Exit code: a diff command found differences.
pub const EXIT_DIFFERENCES: u8 = 1;
/// Exit code: an error.
pub const EXIT_ERROR: u8 = 2;

/// gpuplan compiles Helm-style values for the NVIDIA GPU Operator into a fully resolved plan:
/// every Kubernetes object and every node runtime change, before anything touches a cluster.
#[derive(Debug, Parser)]
#[command(name = "gpuplan", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every Kubernetes object of the install, as `helm template` prints a chart.
    Template(Deferred<template::TemplateArgs>),
    /// Print the whole plan: stages and objects in apply order, the node change, the digest.
    Plan(Deferred<template::PlanArgs>),
    /// Apply the plan to a cluster as a new release (server-side apply, stage by stage).
    Install(Deferred<cluster::InstallArgs>),
    /// Apply the plan to an existing release; prune what left the plan.
    Upgrade(Deferred<cluster::InstallArgs>),
    /// Delete everything a release applied, in reverse stage order.
    Uninstall(Deferred<cluster::UninstallArgs>),
    /// Show what changes between two plans, or between a plan and the values flags.
    Diff(Deferred<diff::Args>),
    /// Print the effective values: the built-in defaults with files and flags applied.
    Values(Deferred<values::Args>),
    /// Check values against the schema and gpuplan's rules; print every problem.
    Lint(Deferred<lint::Args>),
    /// Say where a field of a rendered object came from: values, origins, rules, conditions.
    Explain(Deferred<explain::Args>),
    /// Print the values JSON Schema.
    Schema(Deferred<schema::Args>),
    /// Print what gpuplan reads of a live cluster (nodes, their OS and runtime, served APIs),
    /// as a file for `--facts`.
    Facts(Deferred<facts::Args>),
    /// Print the GPUPlan CustomResourceDefinition (with `--all`, also PlanRelease's).
    Crd(Deferred<crd::Args>),
    /// Preview, apply or revert the change to a GPU node's container runtime config.
    #[command(subcommand)]
    Node(Deferred<node::Command>),
    /// Run on a GPU node: configure its container runtime, keep it so, revert on SIGTERM.
    NodeAgent(Deferred<agent::Args>),
    /// Run in the cluster: keep it at the plan its GPUPlan describes, and label GPU nodes.
    Operator(Deferred<operator::Args>),
}

/// Run the command line and return the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Template(args) => template::run_template(&args),
        Command::Plan(args) => template::run_plan(&args),
        Command::Install(args) => cluster::run_install(&args, false),
        Command::Upgrade(args) => cluster::run_install(&args, true),
        Command::Uninstall(args) => cluster::run_uninstall(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Values(args) => values::run(&args),
        Command::Lint(args) => lint::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Facts(args) => facts::run(&args),
        Command::Crd(args) => crd::run(&args),
        Command::Node(command) => node::run(&command),
        Command::NodeAgent(args) => agent::run(&args),
        Command::Operator(args) => operator::run(&args),
    };
    ExitCode::from(code.unwrap_or_else(|e| report(&e)))
}

/// Leave what a one-shot command holds until it ends to the process's exit, which gives the
/// memory back at once, rather than freeing it one allocation at a time: for `template`'s plan
/// and values that was 1.6 M instructions, a tenth of the command. Not for what the long-running
/// commands (`operator`, `node-agent`) hold.
pub fn leave<T>(data: T) {
    std::mem::forget(data);
}

/// Print an error to stderr and give the error exit code.
pub fn report(error: &anyhow::Error) -> u8 {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "Error: {error}");
    for cause in error.chain().skip(1) {
        let _ = writeln!(stderr, "  caused by: {cause}");
    }
    if let Some(detail) = error.downcast_ref::<gpuplan_compiler::Error>().and_then(gpuplan_compiler::Error::detail) {
        let _ = writeln!(stderr, "  {detail}");
    }
    EXIT_ERROR
}

/// Write text to stdout; a closed pipe (`gpuplan values | head`) is not an error.
pub fn print_out(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn every_command_line_definition_is_consistent() {
        // clap checks names, aliases and conflicts of every subcommand only when it is parsed;
        // this checks them all at once.
        Cli::command().debug_assert();
    }
}
