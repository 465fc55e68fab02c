//! `gpuplan node-agent [status|revert]`: the node agent's command line.
//!
//! Input: the toolkit container's env contract from the process environment, and flags that
//! override single variables. Output: the agent run until SIGTERM/SIGINT (or once), which
//! leaves the node configured; `revert`, which gives the node back and restarts the runtime
//! once; or the `status` exit code (0 configured — or, with `--reverted`, nothing of gpuplan's
//! left —, 1 not, 2 error) for a readiness probe.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use clap::Subcommand;
use gpuplan_compiler::node::runtime::RESTART_TIMEOUT_SECONDS;
use gpuplan_compiler::node::{Foreign, env};
use gpuplan_compiler::values::Origin;
use gpuplan_compiler::{Diagnostic, Severity, Source};

use super::{EXIT_ERROR, EXIT_OK};
use crate::agent::{self, Options};

/// `node-agent` subcommands.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Exit 0 when the runtime config on disk has gpuplan's runtimes, 1 when not.
    Status {
        /// Exit 0 when nothing of gpuplan's is left on the node instead (the revert's probe).
        #[arg(long)]
        reverted: bool,
    },
    /// Give the node back as gpuplan's record says it was, restart the runtime once, exit 0
    /// (also when there was nothing to revert).
    Revert {
        /// Then stay running until SIGTERM (the uninstall flow's DaemonSet pods).
        #[arg(long)]
        hold: bool,
    },
}

/// The node agent.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// `status` instead of running the agent.
    #[command(subcommand)]
    pub command: Option<AgentCommand>,
    /// The container runtime (RUNTIME): containerd, crio or docker.
    #[arg(long, global = true)]
    pub runtime: Option<String>,
    /// The runtime's top-level config file (RUNTIME_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<String>,
    /// The drop-in file (RUNTIME_DROP_IN_CONFIG); empty edits the config in place.
    #[arg(long, global = true, value_name = "FILE")]
    pub drop_in: Option<String>,
    /// The runtime's socket (RUNTIME_SOCKET).
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<String>,
    /// The main runtime's name (NVIDIA_RUNTIME_NAME).
    #[arg(long, global = true)]
    pub runtime_name: Option<String>,
    /// Make it the default runtime (NVIDIA_RUNTIME_SET_AS_DEFAULT).
    #[arg(long, global = true, value_name = "BOOL")]
    pub set_as_default: Option<bool>,
    /// signal, systemd or none (RUNTIME_RESTART_MODE).
    #[arg(long, global = true)]
    pub restart_mode: Option<String>,
    /// The systemd unit restarted in systemd mode (RUNTIME_SYSTEMD_UNIT).
    #[arg(long, global = true)]
    pub systemd_unit: Option<String>,
    /// The toolkit's install directory (ROOT).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<String>,
    /// The lock file (TOOLKIT_PID_FILE).
    #[arg(long, global = true, value_name = "FILE")]
    pub pid_file: Option<String>,
    /// Where the host's root is mounted (HOST_ROOT_MOUNT).
    #[arg(long, global = true, value_name = "DIR")]
    pub host_root: Option<String>,
    /// Apply and restart, then exit (also NO_DAEMON=true).
    #[arg(long)]
    pub once: bool,
    /// Replace a file at the drop-in (or hook) path that gpuplan did not write, and put it
    /// back on revert (also GPUPLAN_TAKE_OVER=true); without it the agent refuses to touch it.
    #[arg(long, global = true)]
    pub take_over: bool,
    /// Seconds the runtime may take to be back with the new config after a restart.
    #[arg(long, global = true, value_name = "SECS", default_value_t = RESTART_TIMEOUT_SECONDS as f64)]
    pub restart_timeout: f64,
    /// Seconds between checks of the runtime config while running.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub watch_interval: f64,
    /// Least seconds between two re-applies.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub reapply_interval: f64,
}

fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value.max(0.0))
}

impl Args {
    /// The process environment with the flags written over it: a flag replaces every alias of
    /// its variable (the env contract's table, [`env`]).
    fn environment(&self) -> BTreeMap<String, String> {
        let mut vars: BTreeMap<String, String> = std::env::vars().collect();
        let set_as_default = self.set_as_default.map(|b| b.to_string());
        let flags = [
            (env::RUNTIME, &self.runtime),
            (env::CONFIG, &self.config),
            (env::DROP_IN, &self.drop_in),
            (env::SOCKET, &self.socket),
            (env::RUNTIME_NAME, &self.runtime_name),
            (env::SET_AS_DEFAULT, &set_as_default),
            (env::RESTART_MODE, &self.restart_mode),
            (env::RESTART_UNIT, &self.systemd_unit),
            (env::INSTALL_DIR, &self.root),
            (env::PID_FILE, &self.pid_file),
            (env::HOST_ROOT, &self.host_root),
        ];
        for (setting, value) in flags {
            if let Some(value) = value {
                for alias in setting.names {
                    vars.remove(*alias);
                }
                vars.insert(setting.write.to_owned(), value.clone());
            }
        }
        vars
    }
}

/// A diagnostic about a value that came from an environment variable names the variable
/// instead of the values path the variable stands for.
fn by_variable(mut d: Diagnostic) -> Diagnostic {
    if let Some(Origin { source: Source::Env(name), .. }) = &d.origin {
        d.pointer = format!("${name}");
        d.origin = None;
    }
    d
}

/// Run `gpuplan node-agent`.
pub fn run(args: &Args) -> anyhow::Result<u8> {
    // Termination signals are caught before anything else: one that arrives during setup (a
    // rolling update) lets the agent finish or roll back a restart in progress, then exit 0.
    let stop = agent::shutdown_flag()?;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GPUPLAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let vars = args.environment();
    let (node, diagnostics) = match gpuplan_compiler::node_runtime_from_env(&vars) {
        Ok(resolved) => resolved,
        Err(gpuplan_compiler::Error::Invalid(diagnostics)) => {
            let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
            let plural = if errors == 1 { "" } else { "s" };
            eprintln!("Error: the node agent's settings are invalid ({errors} error{plural}):");
            for d in diagnostics {
                eprintln!("{}", by_variable(d));
            }
            return Ok(EXIT_ERROR);
        }
        Err(e) => {
            eprintln!("Error: the node agent's settings are invalid: {e}");
            return Ok(EXIT_ERROR);
        }
    };
    for d in diagnostics {
        tracing::warn!("{}", by_variable(d));
    }
    if let Some(AgentCommand::Status { reverted }) = args.command {
        return agent::status(&node, reverted);
    }
    let flag = |name: &str| vars.get(name).is_some_and(|v| gpuplan_compiler::node::env::parse_bool(v) == Some(true));
    let once = args.once || flag("NO_DAEMON");
    let options = Options {
        once,
        restart_timeout: seconds(args.restart_timeout),
        watch_interval: seconds(args.watch_interval),
        reapply_interval: seconds(args.reapply_interval),
        pid_file: env::PID_FILE
            .names
            .iter()
            .find_map(|n| vars.get(*n))
            .cloned()
            .unwrap_or_else(|| agent::lock::PID_FILE.into())
            .into(),
        foreign: if args.take_over || flag("GPUPLAN_TAKE_OVER") { Foreign::TakeOver } else { Foreign::Refuse },
    };
    tracing::info!(runtime = node.runtime.name(), config = %node.config, drop_in = ?node.drop_in, socket = %node.socket, set_as_default = node.set_as_default, "node agent starting");
    let outcome = match args.command {
        Some(AgentCommand::Revert { hold }) => agent::revert(&node, &options, hold, &stop),
        _ => agent::run(&node, &options, &stop),
    };
    match outcome {
        Ok(()) => Ok(EXIT_OK),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "node agent failed");
            Ok(EXIT_ERROR)
        }
    }
}
