//! `gpuplan lint`: check values and print every problem found.
//!
//! Input: the values flags. Output: one block per diagnostic and a summary line on stdout.
//! Exit code 2 when there is an error, 0 otherwise (warnings included).

use gpuplan_compiler::Severity;

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
    let (_, diagnostics) = args.values.compile()?;
    let mut text = String::new();
    for d in &diagnostics {
        text.push_str(&d.to_string());
        text.push_str("\n\n");
    }
    let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
    text.push_str(&format!("lint: {}\n", summary(&diagnostics)));
    print_out(&text)?;
    Ok(if failed { EXIT_ERROR } else { EXIT_OK })
}
