//! `gpuplan template` and `gpuplan plan`: the fully resolved plan, as manifests or whole.
//!
//! Input: the values flags, the release name and namespace, the Kubernetes version; for
//! `plan`, optionally a node's config file. Output: `template` prints the manifests in
//! `helm template`'s format (`---` / `# Source: gpuplan/<stage>/<kind>.yaml`), or writes them
//! under `--output-dir` with a `kustomization.yaml`, removing the files it wrote there before
//! that left the plan (never through a symbolic link, see [`super::output_dir`]); `plan`
//! prints the whole plan (stages, node change, digest) as YAML or JSON, sealed with the digest of
//! its own content for `install | upgrade --plan`; with `--cluster`, made against the live
//! release's revision and the live cluster's facts. The same inputs give
//! the same bytes. Release names and namespaces are checked as Helm and Kubernetes check them
//! before anything is read ([`release_name`], [`namespace`]).

use std::path::Path;

use gpuplan_compiler::plan::{Plan, Release, name};

use super::facts::FactsArgs;
use super::input::{Compiled, ValuesArgs};
use super::kube::KubeArgs;
use super::values::Format;
use super::{EXIT_ERROR, EXIT_OK, print_out};
use crate::apply::engine::{Engine, Options};
use crate::apply::record;

/// A release name argument, checked as Helm checks it (clap reports a bad one, exit 2).
pub fn release_name(value: &str) -> Result<String, String> {
    name::release_name(value).map(|()| value.to_owned()).map_err(|e| e.to_string())
}

/// A namespace argument, checked as Kubernetes checks a DNS-1123 label.
pub fn namespace(value: &str) -> Result<String, String> {
    name::namespace(value).map(|()| value.to_owned()).map_err(|e| e.to_string())
}

/// The release the plan is for, and the cluster it is for.
#[derive(Debug, Clone, clap::Args)]
pub struct ReleaseArgs {
    /// Namespace of the namespaced objects.
    #[arg(short = 'n', long, default_value = "gpu-operator", value_parser = namespace)]
    pub namespace: String,
    /// Kubernetes version to render for.
    #[arg(long, value_name = "VERSION", default_value = "1.31")]
    pub kube_version: String,
    /// The cluster's facts.
    #[command(flatten)]
    pub facts: FactsArgs,
}

/// Print the manifests, as `helm template` does.
#[derive(Debug, clap::Args)]
pub struct TemplateArgs {
    /// Release name (names the NFD objects, like a Helm release).
    #[arg(default_value = "gpu-operator", value_parser = release_name)]
    pub name: String,
    /// The values.
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Release settings.
    #[command(flatten)]
    pub release: ReleaseArgs,
    /// Print only the objects whose source matches (`container-toolkit/*.yaml`); repeatable.
    #[arg(short = 's', long, value_name = "PATTERN")]
    pub show_only: Vec<String>,
    /// Write each object to DIR/<source> instead of stdout, with DIR/kustomization.yaml listing
    /// them in apply order; files gpuplan wrote there before that left the plan are removed
    /// (never a file it did not write, never through a symbolic link).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<String>,
    /// Also print the CustomResourceDefinitions the install needs, first.
    #[arg(long)]
    pub include_crds: bool,
}

/// Print the whole plan.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Release name.
    #[arg(default_value = "gpu-operator", value_parser = release_name)]
    pub name: String,
    /// The values.
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Release settings.
    #[command(flatten)]
    pub release: ReleaseArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
    /// A node's runtime config file: the plan then carries its concrete change as a diff.
    #[arg(long, value_name = "FILE")]
    pub node_config: Option<String>,
    /// Plan against the live cluster, for `install | upgrade --plan`: record the release's
    /// revision (or that there is none), and resolve for the live cluster's facts unless
    /// --facts or --api-versions give them.
    #[arg(long)]
    pub cluster: bool,
    /// The cluster, with --cluster.
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Compile the plan; `None` after printing errors.
pub fn compile(values: &ValuesArgs, name: &str, release: &ReleaseArgs) -> anyhow::Result<Option<Plan>> {
    Ok(compile_with_values(values, name, release)?.map(|(plan, _)| plan))
}

/// Compile the plan and keep the effective values; `None` after printing errors.
pub fn compile_with_values(
    values: &ValuesArgs,
    name: &str,
    release: &ReleaseArgs,
) -> anyhow::Result<Option<(Plan, Compiled)>> {
    compile_for_facts(values, name, release, release.facts.facts()?)
}

/// Compile the plan for these facts (read live, or given by the flags); `None` after printing
/// errors.
fn compile_for_facts(
    values: &ValuesArgs,
    name: &str,
    release: &ReleaseArgs,
    facts: gpuplan_compiler::Facts,
) -> anyhow::Result<Option<(Plan, Compiled)>> {
    let release = Release {
        name: name.to_owned(),
        namespace: release.namespace.clone(),
        kube_version: release.kube_version.clone(),
    };
    let mut compiled = values.compile_for(release, facts, false)?;
    if compiled.print_diagnostics() {
        return Ok(None);
    }
    let Some(plan) = compiled.plan.take() else { return Ok(None) };
    Ok(Some((plan, compiled)))
}

/// Run `gpuplan template`.
pub fn run_template(args: &TemplateArgs) -> anyhow::Result<u8> {
    let Some((plan, compiled)) = compile_with_values(&args.values, &args.name, &args.release)? else {
        return Ok(EXIT_ERROR);
    };
    let crds = if args.include_crds { plan.crds.clone() } else { Vec::new() };
    match &args.output_dir {
        None => {
            let mut text: String =
                crds.iter().map(|m| format!("---\n# Source: {}\n{}", m.source, m.to_yaml())).collect();
            text.push_str(&plan.template_stream(&args.show_only)?);
            print_out(&text)?;
        }
        Some(dir) => {
            let mut tell = |path: &Path, change| {
                let verb = if change == super::output_dir::Change::Written { "wrote" } else { "removed" };
                print_out(&format!("{verb} {}\n", path.display()))
            };
            super::output_dir::write(crds.iter().chain(plan.manifests()), Path::new(dir), &mut tell)?;
        }
    }
    super::leave((plan, compiled, crds));
    Ok(EXIT_OK)
}

/// What `plan --cluster` reads of the live cluster: the release's revision, and its facts
/// unless the flags give them.
fn live(args: &PlanArgs) -> anyhow::Result<(Option<u64>, gpuplan_compiler::Facts)> {
    let given = args.release.facts.facts.is_some() || !args.release.facts.api_versions.is_empty();
    super::kube::runtime()?.block_on(async {
        let client = args.kube.connection().client().await?;
        let engine = Engine::new(client.clone(), Options::default(), []);
        let revision = record::read(&engine, &args.name, &args.release.namespace).await?.map(|r| r.revision);
        let facts = if given { args.release.facts.facts()? } else { crate::facts::read(&client).await? };
        Ok((revision, facts))
    })
}

/// Run `gpuplan plan`.
pub fn run_plan(args: &PlanArgs) -> anyhow::Result<u8> {
    let (revision, facts) = match args.cluster {
        true => live(args)?,
        false => (None, args.release.facts.facts()?),
    };
    let Some((mut plan, _)) = compile_for_facts(&args.values, &args.name, &args.release, facts)? else {
        return Ok(EXIT_ERROR);
    };
    plan.release_revision = revision;
    if let Some(config) = &args.node_config {
        let mut node = plan.node.clone();
        node.config = std::path::absolute(config)?.to_string_lossy().into_owned();
        let mut files = gpuplan_compiler::node::Files::new();
        for path in gpuplan_compiler::node::paths(&node) {
            files.insert(path.clone(), crate::file::read(Path::new(&path))?);
        }
        let change = gpuplan_compiler::node::apply(&files, &node, gpuplan_compiler::node::Foreign::Refuse)?;
        plan = plan.with_node_files(&change.files);
    }
    // Sealed: `install | upgrade --plan` applies it only as it is printed here.
    let plan = plan.sealed();
    print_out(&match args.output {
        Format::Yaml => plan.to_yaml(),
        Format::Json => plan.to_json(),
    })?;
    Ok(EXIT_OK)
}
