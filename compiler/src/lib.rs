//! gpuplan's compiler: Helm-style values in, checked effective values and a typed config out.
//! Pure: no file system, no clock, no environment, no network — the binary reads files and
//! hands their text in, so the same inputs always give byte-identical output.
//!
//! The pipeline, one public function per stage:
//!
//! ```text
//! Inputs (-f files, --set* flags)
//!   -> load      -> Values     user-supplied values: files merged, flags applied in Helm's
//!                              group order, --set scalars typed by the schema
//!   -> coalesce  -> Effective  over the built-in defaults (values/values.yaml), Helm's rules
//!   -> check     -> Vec<Diagnostic>  schema, unrendered keys, semantic rules — all at once
//!   -> resolve   -> Config     typed, for the stages that render the plan
//!   -> node_runtime -> NodeRuntime   what every GPU node's container runtime config becomes
//!        (node::apply / node::revert make it on the text of a node's config files,
//!        with gpuplan's record of what it replaced)
//!   -> plan      -> Plan       every object, rendered, in apply order, plus the node change
//!   -> diff      -> diff::Report   what changes between two plans (or a plan file and new values)
//! ```
//!
//! Off the pipeline, on demand: [`explain`] says where one field of one object came from.

pub mod config;
pub mod diff;
pub mod error;
pub mod explain;
pub mod limits;
pub mod node;
pub mod origin;
pub mod plan;
pub mod redact;
pub mod render;
pub mod schema;
pub mod values;

use std::sync::OnceLock;

pub use config::Config;
pub use error::{Diagnostic, Error, Severity};
pub use values::set::FileReader;
pub use values::{FlagKind, Source, Values};

use values::merge::{self, Chart};
use values::{load::load as load_yaml, set};

/// The built-in default values, embedded in the binary.
pub const DEFAULT_VALUES: &str = include_str!("../../values/values.yaml");

/// The name warnings give the chart: gpuplan's values mirror the upstream chart's.
pub const CHART_NAME: &str = "gpu-operator";

/// Everything the user gave on the command line.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `-f/--values` files in command-line order, already read (`-` is standard input).
    pub files: Vec<InputFile>,
    /// `--set*` flags in command-line order.
    pub flags: Vec<InputFlag>,
}

/// One values file.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The name as given on the command line.
    pub name: String,
    /// Its contents.
    pub text: String,
}

/// One `--set*` flag.
#[derive(Debug, Clone)]
pub struct InputFlag {
    /// Which flag.
    pub kind: FlagKind,
    /// Its argument.
    pub text: String,
}

/// Effective values: the user's over the defaults, with Helm's coalescing warnings.
#[derive(Debug, Clone)]
pub struct Effective {
    /// What the user supplied (files and flags, merged, nulls kept).
    pub user: Values,
    /// The effective values.
    pub values: Values,
    /// Warnings from coalescing (a map over a scalar and the like).
    pub warnings: Vec<Diagnostic>,
}

/// Stage 1: the user-supplied values, as Helm's `MergeValues` builds them — files merged in
/// order, then `--set-json`, `--set`, `--set-string`, `--set-file`, `--set-literal`, each
/// group in command-line order — with `--set` scalars typed by the schema.
///
/// Every input is held to [`limits`]: its size, nesting, aliases, and one budget of values for
/// all of them together.
pub fn load(inputs: &Inputs, read_file: &mut FileReader<'_>) -> Result<Values, Error> {
    let mut user = values::Map::new();
    let mut budget = limits::Budget::default();
    for file in &inputs.files {
        let source = Source::File(file.name.as_str().into());
        user = merge::merge_maps(user, values::load::load_counted(&file.text, &source, &mut budget)?.0);
    }
    for kind in FlagKind::ORDER {
        let flags = inputs.flags.iter().filter(|f| f.kind == kind);
        for (i, flag) in flags.enumerate() {
            set::apply_counted(&mut user, kind, i + 1, &flag.text, read_file, &mut budget)?;
        }
    }
    let mut user = Values(user);
    schema::retype(&mut user);
    Ok(user)
}

/// The built-in defaults, parsed once.
pub fn defaults() -> Result<&'static Values, Error> {
    static DEFAULTS: OnceLock<Result<Values, String>> = OnceLock::new();
    DEFAULTS
        .get_or_init(|| load_yaml(DEFAULT_VALUES, &Source::Defaults).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Yaml { file: "values/values.yaml".into(), span: None, message: e.clone() })
}

/// Stage 2: lay the user values over the built-in defaults (Helm's `CoalesceValues`).
pub fn coalesce(user: Values) -> Result<Effective, Error> {
    let chart = Chart { name: CHART_NAME.into(), values: defaults()?.0.clone(), dependencies: Vec::new() };
    let (values, warnings) = merge::coalesce(&chart, user.0.clone())?;
    Ok(Effective { user, values: Values(values), warnings })
}

/// Stage 3: every problem with the effective values, at once: the schema (unless skipped),
/// keys gpuplan accepts but does not render, and the semantic rules of the typed config.
pub fn check(effective: &Effective, skip_schema: bool) -> Vec<Diagnostic> {
    let mut out = effective.warnings.clone();
    let schema_errors = if skip_schema { Vec::new() } else { schema::check(&effective.values, &effective.user) };
    let schema_ok = !schema::has_errors(&schema_errors);
    out.extend(schema_errors);
    out.extend(schema::unrendered(&effective.user));
    if schema_ok {
        match resolve(&effective.values) {
            Ok(config) => {
                out.extend(config::rules::check(&config, &effective.values));
                let (_, diagnostics) = node_runtime(&config);
                out.extend(with_origins(diagnostics, &effective.values));
            }
            Err(Error::Invalid(diagnostics)) => out.extend(diagnostics),
            Err(other) => out.push(Diagnostic::error("", other.to_string())),
        }
    }
    out
}

/// Stage 4: the typed config. Keys the schema does not know are ignored here (they are
/// reported by [`check`] unless the schema check is skipped, as Helm ignores them then).
pub fn resolve(values: &Values) -> Result<Config, Error> {
    config::from_values(values)
}

/// Stage 5: the node runtime change, with what the toolkit's env contract says about it.
pub fn node_runtime(config: &Config) -> (node::NodeRuntime, Vec<Diagnostic>) {
    node::runtime::resolve(config)
}

/// Give diagnostics that name a value (by pointer) the origin of that value.
fn with_origins(diagnostics: Vec<Diagnostic>, values: &Values) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .map(|d| {
            let origin = d.origin.clone().or_else(|| values.pointer(&d.pointer).map(|n| n.origin.clone()));
            d.with_origin(origin)
        })
        .collect()
}

/// Stage 6: every object the install creates, rendered and in apply order, with the node
/// change and the digest of the effective values. A release name or namespace Helm or
/// Kubernetes would refuse is an [`Error::Name`].
pub fn plan(
    config: &Config,
    node: node::NodeRuntime,
    release: plan::Release,
    values: &Values,
) -> Result<plan::Plan, Error> {
    release.validate()?;
    let stages = render::render(&render::Context { config, node: &node, release: &release })?;
    let crds = render::crds(&stages)?;
    Ok(plan::build(release, stages, crds, node, values))
}

/// Stage 7 (review): what changes between two plans — objects added, removed and changed
/// (semantically: set-like lists by key, Secret values never shown) and the node change.
pub fn diff(old: &diff::Side, new: &diff::Side) -> diff::Report {
    diff::compare(old, new)
}

/// The node change as the node agent resolves it from its process environment (the toolkit
/// container's env contract, [`node::env::values`]): the same checks and resolution as
/// [`check`] and [`node_runtime`] over the built-in defaults, so the agent and the plan agree.
pub fn node_runtime_from_env(
    vars: &std::collections::BTreeMap<String, String>,
) -> Result<(node::NodeRuntime, Vec<Diagnostic>), Error> {
    let effective = coalesce(node::env::values(vars))?;
    let diagnostics = check(&effective, false);
    if schema::has_errors(&diagnostics) {
        return Err(Error::Invalid(diagnostics));
    }
    let config = resolve(&effective.values)?;
    let (node, _) = node_runtime(&config);
    Ok((node, diagnostics))
}

/// Where one field of one object of the plan came from: its value, the values it is made from
/// (with file and `line:col`, or `--set` #n), the rule that transformed them, the values it
/// depends on and those the object exists by. Compiles and renders as [`plan`] does, then
/// traces every value by changing it and rendering the object's stage again; see [`explain`](mod@explain).
pub fn explain(
    values: &Values,
    release: &plan::Release,
    object: &str,
    field: &str,
) -> Result<explain::Explanation, Error> {
    release.validate()?;
    explain::explain(values, release, object, field)
}
