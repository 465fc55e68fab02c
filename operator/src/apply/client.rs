//! Connecting to a cluster the way kubectl does.
//!
//! Input: `--kubeconfig` and `--context` (either may be absent). Output: a kube client. A given
//! kubeconfig file is used as is; otherwise `KUBECONFIG` (or `~/.kube/config`) when there is
//! one; otherwise the in-cluster service account (a pod). The context is the kubeconfig's
//! current one unless `--context` names another.

use std::path::Path;

use anyhow::{Context, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Where to connect.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// A kubeconfig file (`--kubeconfig`).
    pub kubeconfig: Option<String>,
    /// A context of the kubeconfig (`--context`).
    pub context: Option<String>,
}

fn default_kubeconfig_exists() -> bool {
    std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
        || std::env::var_os("HOME").is_some_and(|home| Path::new(&home).join(".kube/config").exists())
}

impl Connection {
    /// A client for the chosen cluster.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let options = KubeConfigOptions { context: self.context.clone(), ..Default::default() };
        let config = match &self.kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).with_context(|| format!("cannot read kubeconfig {path}"))?;
                kube::Config::from_custom_kubeconfig(file, &options)
                    .await
                    .with_context(|| format!("kubeconfig {path}"))?
            }
            None if default_kubeconfig_exists() => kube::Config::from_kubeconfig(&options)
                .await
                .context("cannot load the kubeconfig (KUBECONFIG or ~/.kube/config)")?,
            None => {
                if self.context.is_some() {
                    bail!(
                        "--context needs a kubeconfig: none given, KUBECONFIG is unset and ~/.kube/config does not exist"
                    );
                }
                kube::Config::incluster()
                    .context("no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) and not running in a pod")?
            }
        };
        kube::Client::try_from(config).context("cannot create the Kubernetes client")
    }
}
