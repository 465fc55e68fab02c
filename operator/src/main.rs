//! `gpuplan`: see, check and apply what the NVIDIA GPU Operator would deploy, before it
//! happens. This file only maps the outcome of a command to an exit code: 0 ok, 1 differences
//! found (diff commands), 2 error.

use std::process::ExitCode;

fn main() -> ExitCode {
    gpuplan::cli::main()
}
