//! `gpuplan explain`: where one field of one rendered object came from.
//!
//! Input: the object (`KIND/NAME`), the field path, the values flags, the release and the
//! cluster's facts (`--facts`, `--api-versions`). Output: on
//! stdout, the field's value, the values it came from with their origins (built-in
//! `values.yaml` or a file with `line:col`, or the n-th `--set` flag), the rule that
//! transformed them, what it depends on and what the object exists by — as text or JSON.
//! Diagnostics about the values go to stderr. Exit code 0, or 2 on any error.

use clap::ValueEnum;
use gpuplan_compiler::plan::Release;

use super::input::ValuesArgs;
use super::template::ReleaseArgs;
use super::{EXIT_ERROR, EXIT_OK, print_out};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Text for people.
    #[default]
    Text,
    /// JSON, indented, for machines.
    Json,
}

/// Say where a field of a rendered object came from.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The object: `KIND/NAME` or `KIND.GROUP/NAME`; the kind in any case, singular, plural or
    /// short (`ds`, `deploy`, `sa`, `cm`, `svc`, `crd`), e.g.
    /// `ds/nvidia-container-toolkit-daemonset`.
    pub object: String,
    /// The field: dotted keys, `[N]` for a list item, `[key=value]` for the item whose `key` is
    /// `value`, `["a.b"]` for a key with dots, e.g.
    /// `spec.template.spec.containers[name=node-agent].env[name=CONTAINERD_SOCKET].value`.
    pub field: String,
    /// The values.
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Release settings.
    #[command(flatten)]
    pub release: ReleaseArgs,
    /// Release name (names the NFD objects, as `gpuplan template NAME` does).
    #[arg(long, value_name = "NAME", default_value = "gpu-operator", value_parser = super::template::release_name)]
    pub release_name: String,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// Run `gpuplan explain`.
pub fn run(args: &Args) -> anyhow::Result<u8> {
    let release = Release {
        name: args.release_name.clone(),
        namespace: args.release.namespace.clone(),
        kube_version: args.release.kube_version.clone(),
    };
    let facts = args.release.facts.facts()?;
    // The whole pipeline first: explaining a field of a plan that has errors explains nothing.
    let compiled = args.values.compile_for(release.clone(), facts.clone(), false)?;
    if compiled.print_diagnostics() {
        return Ok(EXIT_ERROR);
    }
    let explanation =
        gpuplan_compiler::explain(&compiled.effective.values, &release, &facts, &args.object, &args.field)?;
    let text = match args.output {
        Format::Text => explanation.to_text(),
        Format::Json => explanation.to_json(),
    };
    print_out(&text)?;
    Ok(EXIT_OK)
}
