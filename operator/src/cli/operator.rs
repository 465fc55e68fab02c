//! `gpuplan operator`: run the in-cluster operator.
//!
//! Input: flags (namespace, cluster connection, HTTP address, leader election, log format) and
//! the pod's environment (`OPERATOR_NAMESPACE` as the plan sets it, or `POD_NAMESPACE`;
//! `POD_NAME`). Output: the operator running until
//! SIGTERM/SIGINT (exit 0), or an error (exit 2). Logs are structured (tracing), as text or
//! JSON lines, on stderr.

use std::io::IsTerminal;
use std::time::Duration;

use clap::ValueEnum;

use super::kube::{KubeArgs, runtime};
use super::{EXIT_ERROR, EXIT_OK};
use crate::controller::reconcile::Settings;
use crate::controller::{self, Run};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `key=value` text.
    Text,
    /// One JSON object per line.
    Json,
}

/// Run the operator.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the operands go (default: OPERATOR_NAMESPACE or POD_NAMESPACE, else gpu-operator).
    #[arg(short = 'n', long, value_parser = super::template::namespace)]
    pub namespace: Option<String>,
    /// The cluster (default: in-cluster when running in a pod).
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Where /healthz, /readyz and /metrics listen.
    #[arg(long, value_name = "ADDRESS", default_value = "0.0.0.0:8080")]
    pub http_address: String,
    /// The leader election Lease (in the namespace).
    #[arg(long, value_name = "NAME", default_value = "gpuplan-operator")]
    pub lease: String,
    /// Act without leader election (one replica only).
    #[arg(long)]
    pub no_leader_election: bool,
    /// Render plans for this Kubernetes version (default: the API server's).
    #[arg(long, value_name = "VERSION")]
    pub kube_version: Option<String>,
    /// Seconds between two looks at a ready plan (drift is also caught by watches).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub resync: u64,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

fn identity() -> String {
    std::env::var("POD_NAME").ok().filter(|n| !n.is_empty()).unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    })
}

/// Run `gpuplan operator`.
pub fn run(args: &Args) -> anyhow::Result<u8> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GPUPLAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn"));
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    let _ = match args.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
    let namespace = args
        .namespace
        .clone()
        .or_else(|| {
            ["OPERATOR_NAMESPACE", "POD_NAMESPACE"].iter().find_map(|v| std::env::var(v).ok().filter(|n| !n.is_empty()))
        })
        .unwrap_or_else(|| "gpu-operator".into());
    // The environment's namespace is checked as -n is.
    gpuplan_compiler::plan::name::namespace(&namespace)?;
    let settings = Settings {
        namespace,
        kube_version: args.kube_version.clone().unwrap_or_default(),
        requeue_ready: Duration::from_secs(args.resync),
        requeue_progressing: Duration::from_secs(10),
        requeue_failed: Duration::from_secs(15),
        uninstall_step: Duration::from_secs(30),
    };
    let run = Run {
        settings,
        http_address: args.http_address.clone(),
        lease: (!args.no_leader_election).then(|| args.lease.clone()),
        identity: identity(),
    };
    let result = runtime()?.block_on(async {
        let client = args.kube.connection().client().await?;
        controller::run(client, run).await
    });
    match result {
        Ok(()) => Ok(EXIT_OK),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "the operator stopped");
            Ok(EXIT_ERROR)
        }
    }
}
