//! `gpuplan diff`: what a values change will do, before anything touches a cluster or a node.
//!
//! Input: two plan files (`gpuplan plan` output, YAML or JSON, or a manifest stream such as
//! `gpuplan template` output; `-` is standard input), or one plan file and the values flags
//! (`--against PLAN`), which compile the new side, or the live cluster and the values flags or a
//! saved plan (`--cluster [--plan FILE]`); optionally a node's runtime config file.
//! Output: the differences in helm-diff's layout (`--output diff`), one line each
//! (`simple`), as JSON, or as a pull-request comment (`markdown`); with
//! `--detailed-exitcode`, exit 1 when anything differs.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, bail};
use clap::ValueEnum;
use gpuplan_compiler::diff::report::{self, Format, Style};
use gpuplan_compiler::diff::{self, Side};
use gpuplan_compiler::node::{self, Files, NodeRuntime};
use gpuplan_compiler::plan::read::{Document, read};

use super::cluster::desired;
use super::facts::FactsArgs;
use super::input::{Stdin, ValuesArgs, read_path};
use super::kube::{KubeArgs, runtime};
use super::template::{ReleaseArgs, compile};
use super::{EXIT_DIFFERENCES, EXIT_ERROR, EXIT_OK, print_out};
use crate::apply::engine::{Engine, Options};
use crate::apply::live;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Per object a header and a line diff of its YAML (helm-diff's layout).
    Diff,
    /// One line per change, then `Plan: A to add, C to change, D to destroy.`
    Simple,
    /// JSON: objects with their changed fields, node changes, a summary.
    Json,
    /// A pull-request comment: the summary line, then each object's diff in a collapsed
    /// block; cut, with a count, to stay within what a GitHub comment holds.
    Markdown,
}

/// Compare two plans.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The old plan (or manifest stream); `-` is standard input.
    #[arg(value_name = "OLD")]
    pub old: Option<String>,
    /// The new plan (or manifest stream); `-` is standard input.
    #[arg(value_name = "NEW")]
    pub new: Option<String>,
    /// Compare this plan with the one the values flags give.
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["old", "new"])]
    pub against: Option<String>,
    /// Compare what is live in the cluster with what the values flags would make of it (a
    /// server-side dry-run apply of each object), and list what an upgrade would prune.
    #[arg(long, conflicts_with_all = ["old", "new", "against"])]
    pub cluster: bool,
    /// With --cluster: what applying this saved plan (`gpuplan plan` output) would change,
    /// instead of the values flags.
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub plan: Option<String>,
    /// The cluster, with --cluster (`--kubeconfig`, `--kube-context`, as every cluster command
    /// spells them; `--context` is helm-diff's lines of context here).
    #[command(flatten)]
    pub kube: KubeArgs,
    /// The values (with --against).
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Release name of the compiled side (default: the --against plan's).
    #[arg(long, value_parser = super::template::release_name)]
    pub name: Option<String>,
    /// Namespace of the compiled side (default: the --against plan's).
    #[arg(short = 'n', long, value_parser = super::template::namespace)]
    pub namespace: Option<String>,
    /// Kubernetes version of the compiled side (default: the --against plan's).
    #[arg(long, value_name = "VERSION")]
    pub kube_version: Option<String>,
    /// The cluster's facts for the new side (the old side is a plan, made for its own).
    #[command(flatten)]
    pub facts: FactsArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Diff)]
    pub output: Output,
    /// Unchanged lines shown around each change; -1 shows whole objects.
    #[arg(short = 'C', long, value_name = "N", default_value_t = 3, allow_negative_numbers = true)]
    pub context: i64,
    /// Never colour (colour is on only when stdout is a terminal, TERM is not `dumb` and
    /// NO_COLOR is unset).
    #[arg(long)]
    pub no_color: bool,
    /// Always colour.
    #[arg(long, conflicts_with = "no_color")]
    pub color: bool,
    /// Exit 1 when anything differs, 0 when nothing does (2 is an error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// A node's runtime config file: show it as OLD and as NEW would leave it.
    #[arg(long, value_name = "FILE")]
    pub node_config: Option<String>,
}

impl ValuesArgs {
    /// Whether any values flag is given.
    pub(super) fn given(&self) -> bool {
        !(self.files.is_empty()
            && self.set.is_empty()
            && self.set_string.is_empty()
            && self.set_json.is_empty()
            && self.set_file.is_empty()
            && self.set_literal.is_empty())
    }
}

fn read_side(path: &str, stdin: &mut Stdin) -> anyhow::Result<Document> {
    let text = read_path(path, stdin).with_context(|| format!("plan `{path}`"))?;
    Ok(read(&text, path)?)
}

/// Run `gpuplan diff`.
pub fn run(args: &Args) -> anyhow::Result<u8> {
    let mut stdin = Stdin::default();
    let (old, new) = match (&args.against, &args.old, &args.new) {
        _ if args.cluster => {
            let release = ReleaseArgs {
                namespace: args.namespace.clone().unwrap_or_else(|| "gpu-operator".into()),
                kube_version: args.kube_version.clone().unwrap_or_else(|| "1.31".into()),
                facts: args.facts.clone(),
            };
            let name = args.name.clone().unwrap_or_else(|| "gpu-operator".into());
            let desired = match &args.plan {
                Some(file) => super::cluster::saved(file)?.1,
                None => match desired(&args.values, &name, &release)? {
                    Some(desired) => desired,
                    None => return Ok(EXIT_ERROR),
                },
            };
            let (old, new, warnings) = runtime()?.block_on(async {
                let client = args.kube.connection().client().await?;
                let engine = Engine::new(client, Options::default(), desired.objects());
                live::sides(&engine, &desired).await
            })?;
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            (old, new)
        }
        (Some(against), _, _) => {
            if against.trim() == "-" && args.values.files.iter().any(|f| f.trim() == "-") {
                bail!("--against - and -f - both want standard input; give one of them as a file");
            }
            let old = read_side(against, &mut stdin)?;
            let Some(plan) = compile(&args.values, &release_name(args, &old), &release(args, &old))? else {
                return Ok(EXIT_ERROR);
            };
            (Side::document(&old), Side::plan(&plan))
        }
        (None, Some(old), Some(new)) => {
            if args.values.given() {
                bail!("values flags describe the new side only with --against PLAN; two plan files were given");
            }
            if old.trim() == "-" && new.trim() == "-" {
                bail!("only one side can be standard input (`-`)");
            }
            (Side::document(&read_side(old, &mut stdin)?), Side::document(&read_side(new, &mut stdin)?))
        }
        _ => bail!("give two plans (gpuplan diff OLD NEW) or one and the values (gpuplan diff --against PLAN -f ...)"),
    };
    let mut report = gpuplan_compiler::diff(&old, &new);
    if let Some(file) = &args.node_config {
        report.node_files = node_files(&old, &new, file)?;
    }
    let format = match args.output {
        Output::Diff => Format::Diff,
        Output::Simple => Format::Simple,
        Output::Json => Format::Json,
        Output::Markdown => Format::Markdown,
    };
    let style = Style { context: usize::try_from(args.context).ok(), color: color(args) };
    print_out(&report::render(&report, format, style))?;
    Ok(if args.detailed_exitcode && report.has_changes() { EXIT_DIFFERENCES } else { EXIT_OK })
}

fn color(args: &Args) -> bool {
    if args.color || args.no_color {
        return args.color;
    }
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

fn release_name(args: &Args, old: &Document) -> String {
    match (&args.name, old) {
        (Some(name), _) => name.clone(),
        (None, Document::Plan(plan)) => plan.release.name.clone(),
        (None, Document::Manifests(_)) => "gpu-operator".into(),
    }
}

fn release(args: &Args, old: &Document) -> ReleaseArgs {
    let (namespace, kube_version) = match old {
        Document::Plan(plan) => (plan.release.namespace.clone(), plan.release.kube_version.clone()),
        Document::Manifests(_) => ("gpu-operator".into(), "1.31".into()),
    };
    ReleaseArgs {
        namespace: args.namespace.clone().unwrap_or(namespace),
        kube_version: args.kube_version.clone().unwrap_or(kube_version),
        facts: args.facts.clone(),
    }
}

/// The node's files as each side would leave them.
fn node_files(old: &Side, new: &Side, file: &str) -> anyhow::Result<Vec<diff::NodeFileDiff>> {
    let (Some(a), Some(b)) = (&old.node, &new.node) else {
        bail!("--node-config needs two plans: a manifest stream has no node change");
    };
    if a.runtime != b.runtime {
        bail!(
            "--node-config: OLD configures {} and NEW {}; one file cannot be both — run `gpuplan plan --node-config` for each",
            a.runtime.name(),
            b.runtime.name()
        );
    }
    let config = std::path::absolute(file)?.to_string_lossy().into_owned();
    let at = |n: &NodeRuntime| NodeRuntime { config: config.clone(), ..n.clone() };
    let (a, b) = (at(a), at(b));
    let mut files = Files::new();
    for path in node::paths(&a).into_iter().chain(node::paths(&b)) {
        if let std::collections::btree_map::Entry::Vacant(slot) = files.entry(path) {
            let text = crate::file::read(Path::new(slot.key()))?;
            slot.insert(text);
        }
    }
    Ok(diff::node::files(&a, &b, &files)?)
}
