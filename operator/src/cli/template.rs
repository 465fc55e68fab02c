//! `gpuplan template` and `gpuplan plan`: the fully resolved plan, as manifests or whole.
//!
//! Input: the values flags, the release name and namespace, the Kubernetes version; for
//! `plan`, optionally a node's config file. Output: `template` prints the manifests in
//! `helm template`'s format (`---` / `# Source: gpuplan/<stage>/<kind>.yaml`), or writes them
//! under `--output-dir` with a `kustomization.yaml`, removing the files it wrote there before
//! that left the plan (never through a symbolic link, see [`super::output_dir`]); `plan`
//! prints the whole plan (stages, node change, digest) as YAML or JSON. The same inputs give
//! the same bytes. Release names and namespaces are checked as Helm and Kubernetes check them
//! before anything is read ([`release_name`], [`namespace`]).

use std::path::Path;

use gpuplan_compiler::plan::{Plan, Release, name};

use super::facts::FactsArgs;
use super::input::{Compiled, ValuesArgs};
use super::values::Format;
use super::{EXIT_ERROR, EXIT_OK, print_out};

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
    let facts = release.facts.facts()?;
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
    let Some(plan) = compile(&args.values, &args.name, &args.release)? else {
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
    Ok(EXIT_OK)
}

/// Run `gpuplan plan`.
pub fn run_plan(args: &PlanArgs) -> anyhow::Result<u8> {
    let Some(mut plan) = compile(&args.values, &args.name, &args.release)? else {
        return Ok(EXIT_ERROR);
    };
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
    print_out(&match args.output {
        Format::Yaml => plan.to_yaml(),
        Format::Json => plan.to_json(),
    })?;
    Ok(EXIT_OK)
}
