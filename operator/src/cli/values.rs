//! `gpuplan values`: print the effective values, or only what the user supplied.
//!
//! Input: the values flags. Output: YAML (default) or JSON on stdout; diagnostics on stderr.
//! With errors nothing is printed and the exit code is 2, as `helm template` refuses values
//! that break the schema.

use clap::ValueEnum;
use gpuplan_compiler::values::print;

use super::input::ValuesArgs;
use super::{EXIT_ERROR, EXIT_OK, print_out};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// YAML, keys sorted.
    #[default]
    Yaml,
    /// JSON, indented, keys sorted; numbers printed as Helm prints them.
    Json,
}

/// Print the effective values.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The values.
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
    /// Print only what the files and flags supplied, merged, before the defaults (nulls kept),
    /// like `helm get values` without `--all`.
    #[arg(long)]
    pub user_supplied: bool,
}

/// Run `gpuplan values`.
pub fn run(args: &Args) -> anyhow::Result<u8> {
    let compiled = args.values.compile()?;
    if compiled.print_diagnostics() {
        return Ok(EXIT_ERROR);
    }
    let effective = &compiled.effective;
    let values = if args.user_supplied { &effective.user } else { &effective.values };
    let text = match args.output {
        Format::Yaml => print::to_yaml(&values.0),
        Format::Json => print::to_json(&values.0),
    };
    print_out(&text)?;
    Ok(EXIT_OK)
}
