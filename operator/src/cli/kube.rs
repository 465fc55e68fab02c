//! Where the cluster is, on every command that talks to one: the connection flags, and the
//! async runtime a command's requests run on.
//!
//! Input: `--kubeconfig`, `--kube-context`. Output: a [`Connection`] (which makes the client)
//! and a tokio runtime for one command.

use anyhow::Context;

use crate::apply::client::Connection;

/// Where the cluster is: the same two flags on `install`, `upgrade`, `uninstall`,
/// `diff --cluster`, `facts` and `operator` (Helm's spelling: `diff`'s `--context` is helm-diff's lines of
/// context).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KubeArgs {
    /// The kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<String>,
    /// The kubeconfig context (default: its current context).
    #[arg(long, value_name = "NAME")]
    pub kube_context: Option<String>,
}

impl KubeArgs {
    /// The connection these flags describe.
    pub fn connection(&self) -> Connection {
        Connection { kubeconfig: self.kubeconfig.clone(), context: self.kube_context.clone() }
    }
}

/// A tokio runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
