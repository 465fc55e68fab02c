//! The cluster's facts on the command line: `--facts FILE` and `--api-versions` (with the
//! release's `--kube-version`, as Helm has them), and `gpuplan facts`, which reads them from a
//! live cluster.
//!
//! Input: the flags (and the facts file: `kubectl get nodes -o yaml|json`, or `gpuplan facts`
//! output, `-` for standard input). Output: [`Facts`] for the compiler — the file's, with the
//! flags' API versions added; for `gpuplan facts`, the snapshot on stdout.

use anyhow::Context;
use clap::ValueEnum;
use gpuplan_compiler::Facts;

use super::input::{Stdin, read_path};
use super::kube::{KubeArgs, runtime};
use super::{EXIT_OK, print_out};

/// Snapshot format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// YAML (`apiVersion: gpuplan.dev/v1alpha1`, `kind: Facts`).
    #[default]
    Yaml,
    /// The same, as JSON.
    Json,
}

/// Print what gpuplan reads of a live cluster, for `--facts` (review it, commit it with the
/// values, render offline for exactly that cluster).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The cluster.
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
}

/// Run `gpuplan facts`.
pub fn run(args: &Args) -> anyhow::Result<u8> {
    let facts = runtime()?.block_on(async {
        let client = args.kube.connection().client().await?;
        crate::facts::read(&client).await
    })?;
    let text = match args.output {
        Format::Yaml => facts.to_yaml(),
        Format::Json => facts.to_json(),
    };
    print_out(&text)?;
    Ok(EXIT_OK)
}

/// What is known of the cluster the plan is for.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FactsArgs {
    /// The cluster's facts: `kubectl get nodes -o yaml` output, or a `gpuplan facts` snapshot
    /// (driver images per GPU node OS, a node agent per container runtime, optional APIs).
    #[arg(long, value_name = "FILE")]
    pub facts: Option<String>,
    /// An API group/version the cluster serves (`monitoring.coreos.com/v1`), as Helm's
    /// `--api-versions`; repeatable, or comma-separated. Given, objects of optional APIs not
    /// listed are left out.
    #[arg(short = 'a', long = "api-versions", value_name = "GROUP/VERSION", value_delimiter = ',')]
    pub api_versions: Vec<String>,
}

impl FactsArgs {
    /// The facts these flags give (none when none are given).
    pub fn facts(&self) -> anyhow::Result<Facts> {
        let mut facts = match &self.facts {
            None => Facts::default(),
            Some(file) => {
                let text = read_path(file, &mut Stdin::default()).with_context(|| format!("facts file `{file}`"))?;
                gpuplan_compiler::facts::read(file, &text)?
            }
        };
        if !self.api_versions.is_empty() {
            let set = facts.api_versions.get_or_insert_with(Default::default);
            set.extend(self.api_versions.iter().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()));
        }
        Ok(facts)
    }
}
