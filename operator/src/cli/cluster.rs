//! `gpuplan install | upgrade | uninstall`: a plan taken to a cluster, and taken away.
//!
//! Input: the values flags, the release, the cluster connection (`--kubeconfig`,
//! `--kube-context`: Helm's names, the same on every command that talks to a cluster), and how
//! to apply (`--wait`, `--timeout`, `--concurrency`, `--force-conflicts`, `--take-ownership`).
//! Output: the cluster changed stage by stage with progress on stderr (a spinner line per stage
//! on a terminal, plain lines otherwise), a summary line, or with `-o json` the whole outcome on
//! stdout. Exit 0 on success, 2 on any error (which names the object or stage at fault).
//!
//! With `--plan FILE` the values are not compiled: the saved plan (`gpuplan plan` output) is
//! applied exactly, its release is the plan's, and its content digest is kept in the release
//! record. It is refused (exit 2) before anything is written when its content is not what it
//! was sealed with — checked before the cluster is even reached — when it was made against
//! another revision of the release, or for other cluster facts unless `--force`
//! ([`crate::apply::saved`]).
//!
//! A plan that deploys gpuplan's operator brings the `GPUPlan` CRD with it (applied when missing
//! or different, owned by no release, never uninstalled: `gpuplan crd` prints it).

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::ValueEnum;
use gpuplan_compiler::plan::Plan;
use gpuplan_compiler::plan::read::{Document, read};

use super::input::{Stdin, ValuesArgs, read_path};
use super::kube::{KubeArgs, runtime};
use super::template::{ReleaseArgs, compile_with_values};
use super::{EXIT_ERROR, EXIT_OK, print_out};
use crate::apply::engine::{Engine, Options};
use crate::apply::progress::{Plain, Progress, Silent, Terminal};
use crate::apply::release::{self, Desired, Mode, Outcome, Waiting};
use crate::apply::saved;

/// How to apply.
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// Wait for each stage to be ready before the next (and, when deleting, until objects are gone).
    #[arg(long)]
    pub wait: bool,
    /// The bound on the whole run: `300s`, `5m`, `1h30m`.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Objects applied at the same time.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// Take over fields another field manager owns (kubectl, Helm) instead of failing.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Adopt objects that exist but belong to another release or to none, instead of refusing
    /// them (the release they came from then leaves them in place).
    #[arg(long)]
    pub take_ownership: bool,
    /// Output: progress and a summary, or the outcome as JSON.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Progress on stderr and a summary line.
    Text,
    /// The outcome as JSON on stdout.
    Json,
}

/// `install` and `upgrade`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Release name.
    #[arg(default_value = "gpu-operator", value_parser = super::template::release_name)]
    pub name: String,
    /// The values.
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Release settings.
    #[command(flatten)]
    pub release: ReleaseArgs,
    /// The cluster.
    #[command(flatten)]
    pub kube: KubeArgs,
    /// How to apply.
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// `upgrade` only: install when the release does not exist yet.
    #[arg(long)]
    pub install: bool,
    /// Apply this saved plan (`gpuplan plan` output, YAML or JSON; `-` is standard input)
    /// instead of compiling values: exactly its objects, as its release.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<String>,
    /// With --plan: apply it although it was made for other cluster facts than the live ones.
    #[arg(long, requires = "plan")]
    pub force: bool,
}

/// `uninstall`.
#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// Release name.
    #[arg(default_value = "gpu-operator", value_parser = super::template::release_name)]
    pub name: String,
    /// Release namespace.
    #[arg(short = 'n', long, default_value = "gpu-operator", value_parser = super::template::namespace)]
    pub namespace: String,
    /// The cluster.
    #[command(flatten)]
    pub kube: KubeArgs,
    /// How to delete.
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// `300s`, `5m`, `1h30m`, `90` (seconds), like Helm's `--timeout`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?}: expected e.g. 300s, 5m, 1h30m");
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let (mut total, mut number) = (0f64, String::new());
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number.parse().map_err(|_| bad())?;
        total += value
            * match c {
                'h' => 3600.0,
                'm' => 60.0,
                's' => 1.0,
                _ => return Err(bad()),
            };
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

fn progress(output: Output) -> Box<dyn Progress + Send> {
    match output {
        Output::Json => Box::new(Silent),
        Output::Text if std::io::stderr().is_terminal() => Box::new(Terminal::default()),
        Output::Text => Box::new(Plain),
    }
}

fn options(args: &ApplyArgs) -> Options {
    Options {
        force_conflicts: args.force_conflicts,
        take_ownership: args.take_ownership,
        concurrency: args.concurrency,
        ..Options::default()
    }
}

fn report(outcome: &Outcome, output: Output, verb: &str, elapsed: Duration) -> anyhow::Result<u8> {
    match output {
        Output::Json => print_out(&format!("{}\n", serde_json::to_string_pretty(outcome)?))?,
        Output::Text => {
            let mut counts = std::collections::BTreeMap::<&str, usize>::new();
            for a in outcome.stages.iter().flat_map(|s| &s.objects).chain(&outcome.pruned) {
                *counts.entry(a.action.verb()).or_default() += 1;
            }
            let parts: Vec<String> = counts.iter().map(|(w, n)| format!("{n} {w}")).collect();
            let r = outcome.requests;
            eprintln!(
                "{verb} {} in {} (revision {}): {} in {:.1}s; {} API requests ({} get, {} list, {} patch, {} delete)",
                outcome.release,
                outcome.namespace,
                outcome.revision,
                if parts.is_empty() { "nothing to do".into() } else { parts.join(", ") },
                elapsed.as_secs_f64(),
                r.get + r.list + r.patch + r.delete,
                r.get,
                r.list,
                r.patch,
                r.delete
            );
        }
    }
    Ok(EXIT_OK)
}

/// The stage that deploys gpuplan's operator, which needs the `GPUPlan` CRD.
const OPERATOR_STAGE: &str = "gpuplan-operator";

/// The release the values flags describe, with the CRDs its custom resources need and, when it
/// deploys the operator, the `GPUPlan` CRD; `None` after printing errors.
pub fn desired(values: &ValuesArgs, name: &str, release: &ReleaseArgs) -> anyhow::Result<Option<Desired>> {
    let Some((plan, compiled)) = compile_with_values(values, name, release)? else { return Ok(None) };
    Ok(Some(release_of(&plan, compiled.effective.values.to_json())))
}

/// A plan's release, with the `GPUPlan` CRD shared when the plan deploys the operator.
fn release_of(plan: &Plan, values: serde_json::Value) -> Desired {
    let mut desired = Desired::from_plan(plan, values);
    if plan.stages.iter().any(|s| s.name == OPERATOR_STAGE) {
        desired.shared.push(gpuplan_compiler::schema::crd());
    }
    desired
}

/// A saved plan's release: the plan read from `file` and verified against its own content
/// digest (no cluster needed), with the CRDs it needs as [`desired`] adds them.
pub fn saved(file: &str) -> anyhow::Result<(Plan, Desired)> {
    let text = read_path(file, &mut Stdin::default()).with_context(|| format!("plan `{file}`"))?;
    let Document::Plan(plan) = read(&text, file)? else {
        bail!("{file} is a manifest stream, not a plan: --plan takes `gpuplan plan` output");
    };
    plan.verify().with_context(|| format!("refusing plan {file}"))?;
    // The CRDs are not part of a plan's text: rendered again for its stages.
    let mut plan = plan;
    plan.crds = gpuplan_compiler::render::crds(&plan.stages)?;
    // A saved plan carries no values; the record keeps its content digest instead.
    let desired = release_of(&plan, serde_json::json!({}));
    Ok((*plan, desired))
}

/// Run `install` or `upgrade`.
pub fn run_install(args: &InstallArgs, upgrade: bool) -> anyhow::Result<u8> {
    if args.install && !upgrade {
        bail!("--install belongs to `gpuplan upgrade`");
    }
    let saved = match &args.plan {
        Some(file) => {
            if args.values.given() || args.release.facts.facts.is_some() || !args.release.facts.api_versions.is_empty()
            {
                bail!("--plan applies a plan as it was made; values and facts flags belong to `gpuplan plan`");
            }
            Some(saved(file)?)
        }
        None => None,
    };
    let (plan, desired) = match saved {
        Some((plan, desired)) => (Some(plan), desired),
        None => match desired(&args.values, &args.name, &args.release)? {
            Some(desired) => (None, desired),
            None => return Ok(EXIT_ERROR),
        },
    };
    let mode = if upgrade { Mode::Upgrade { install_missing: args.install } } else { Mode::Install };
    let waiting = Waiting { wait: args.apply.wait, timeout: args.apply.timeout, once: false };
    let start = std::time::Instant::now();
    let outcome = runtime()?.block_on(async {
        let client = args.kube.connection().client().await?;
        let engine = Engine::new(client.clone(), options(&args.apply), desired.objects());
        if let Some(plan) = &plan {
            for warning in saved::check(&engine, &client, plan, args.force).await? {
                eprintln!("warning: {warning}");
            }
        }
        release::apply(&engine, &desired, mode, waiting, progress(args.apply.output).as_ref()).await
    })?;
    report(&outcome, args.apply.output, if upgrade { "upgraded" } else { "installed" }, start.elapsed())
}

/// Run `uninstall`.
pub fn run_uninstall(args: &UninstallArgs) -> anyhow::Result<u8> {
    let waiting = Waiting { wait: args.apply.wait, timeout: args.apply.timeout, once: false };
    let start = std::time::Instant::now();
    let outcome = runtime()?.block_on(async {
        let client = args.kube.connection().client().await?;
        let engine = Engine::new(client, options(&args.apply), []);
        release::uninstall(&engine, &args.name, &args.namespace, waiting, progress(args.apply.output).as_ref()).await
    })?;
    report(&outcome, args.apply.output, "uninstalled", start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_helm_style_durations_they_parse() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m10s"), Ok(Duration::from_secs(5410)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5x").is_err() && parse_duration("m").is_err() && parse_duration("5m3").is_err());
    }
}
