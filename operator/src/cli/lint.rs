//! `gpuplan lint`: check values and print every problem found.
//!
//! Input: the values flags. Output: one block per diagnostic and a summary line on stdout.
//! Exit code 2 when there is an error, 0 otherwise (warnings included).

use super::input::{ValuesArgs, summary};
use super::{EXIT_ERROR, EXIT_OK, print_out};

/// Check values against the schema and gpuplan's rules.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The values.
    #[command(flatten)]
    pub values: ValuesArgs,
}

/// Run `gpuplan lint`.
pub fn run(args: &Args) -> anyhow::Result<u8> {
    let compiled = args.values.compile()?;
    let mut text = compiled.render();
    text.push_str(&format!("lint: {}\n", summary(&compiled.diagnostics)));
    print_out(&text)?;
    Ok(if compiled.failed() { EXIT_ERROR } else { EXIT_OK })
}
