//! `gpuplan schema`: print the values JSON Schema (the same file the Helm chart ships).

use super::{EXIT_OK, print_out};

/// Print the values JSON Schema.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `gpuplan schema`.
pub fn run(_: &Args) -> anyhow::Result<u8> {
    print_out(gpuplan_compiler::schema::SCHEMA)?;
    Ok(EXIT_OK)
}
