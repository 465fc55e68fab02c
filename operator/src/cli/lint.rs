//! `gpuplan lint`: check values and print every problem found.
//!
//! Input: the values flags and the cluster's facts. Output: one block per diagnostic and a
//! summary line on stdout — the whole pipeline runs, so what would fail to render fails here
//! too, and every value that needs a fact that was not given is named. Exit code 2 when there
//! is an error, 0 otherwise (warnings included).

use gpuplan_compiler::plan::Release;

use super::facts::FactsArgs;
use super::input::{ValuesArgs, summary};
use super::{EXIT_ERROR, EXIT_OK, print_out};

/// Check values against the schema and gpuplan's rules.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The values.
    #[command(flatten)]
    pub values: ValuesArgs,
    /// The cluster's facts.
    #[command(flatten)]
    pub facts: FactsArgs,
}

/// Run `gpuplan lint`.
pub fn run(args: &Args) -> anyhow::Result<u8> {
    let release =
        Release { name: "gpu-operator".into(), namespace: "gpu-operator".into(), kube_version: "1.31".into() };
    let compiled = args.values.compile_for(release, args.facts.facts()?, true)?;
    let mut text = compiled.render();
    text.push_str(&format!("lint: {}\n", summary(&compiled.diagnostics)));
    print_out(&text)?;
    Ok(if compiled.failed() { EXIT_ERROR } else { EXIT_OK })
}
