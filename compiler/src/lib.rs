//! gpuplan's compiler: Helm-style values and the cluster's facts in; checked effective values,
//! every problem with them, a typed config, the node change and the fully resolved plan out.
//! Pure: no file system, no clock, no environment, no network — the binary reads files (and
//! the cluster) and hands their text in, so the same inputs always give byte-identical output.
//!
//! [`compile`] is the one entry point callers use; it runs the pipeline, one public function
//! per stage:
//!
//! ```text
//! Inputs (-f files, --set* flags)            Facts (--facts, --api-versions, the operator's
//!   -> load      -> Values     user-supplied values: files merged, flags applied in Helm's
//!                              group order, --set scalars typed by the schema
//!   -> coalesce  -> Effective  over the built-in defaults (values/values.yaml), Helm's rules
//!   -> check     -> Vec<Diagnostic>  schema, unrendered keys — all at once
//!   -> resolve   -> Config     typed; its semantic rules, and what it needs of the facts
//!   -> node_runtime -> NodeRuntime   what every GPU node's container runtime config becomes
//!        (one per runtime among the GPU nodes; node::apply / node::revert make it on the text
//!        of a node's config files, with gpuplan's record of what it replaced)
//!   -> plan      -> Plan       every object, rendered for the facts, in apply order, plus the
//!                              node change and the digests of the values and the facts
//!   -> diff      -> diff::Report   what changes between two plans (or a plan file and new values)
//! ```
//!
//! Off the pipeline, on demand: [`explain`] says where one field of one object came from.

pub mod config;
pub mod diff;
pub mod error;
pub mod explain;
pub mod facts;
pub mod limits;
pub mod node;
pub mod origin;
pub mod plan;
pub mod redact;
pub mod render;
pub mod schema;
pub mod values;

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

pub use config::Config;
pub use error::{Diagnostic, Error, Severity};
pub use facts::Facts;
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

/// The built-in defaults as parsed at build time ([`values::snapshot`], kept in step with
/// `values/values.yaml` by the test suite).
pub const DEFAULT_VALUES_SNAPSHOT: &[u8] = include_bytes!("../../values/values.snapshot");

/// What [`DEFAULT_VALUES`] is, as a snapshot records it: known at build time (`build.rs`).
const DEFAULTS_MADE: values::snapshot::Made =
    values::snapshot::Made { len: defaults_text::LEN, fingerprint: defaults_text::FINGERPRINT };

mod defaults_text {
    include!(concat!(env!("OUT_DIR"), "/defaults_text.rs"));
}

/// The built-in defaults, decoded once.
static DEFAULTS: OnceLock<Result<Values, String>> = OnceLock::new();

/// The built-in defaults, decoded once from their snapshot (parsed from the YAML when the
/// snapshot is not of this text).
pub fn defaults() -> Result<&'static Values, Error> {
    DEFAULTS
        .get_or_init(|| match values::snapshot::decode(DEFAULT_VALUES_SNAPSHOT, DEFAULTS_MADE) {
            Some(values) => Ok(values),
            None => load_yaml(DEFAULT_VALUES, &Source::Defaults).map_err(|e| e.to_string()),
        })
        .as_ref()
        .map_err(|e| Error::Yaml { file: "values/values.yaml".into(), span: None, message: e.clone() })
}

/// Stage 2: lay the user values over the built-in defaults (Helm's `CoalesceValues`).
///
/// The first coalescing of a process, before anything decoded the defaults, decodes a copy of
/// its own and moves what the user did not set into the effective values: a CLI command or the
/// node agent coalesces once, and copying the defaults cost most of what decoding them does.
/// Later ones (the operator's) copy from the defaults decoded once ([`defaults`]).
pub fn coalesce(user: Values) -> Result<Effective, Error> {
    static COALESCED: AtomicBool = AtomicBool::new(false);
    let first = !COALESCED.swap(true, Ordering::Relaxed) && DEFAULTS.get().is_none();
    let values = match first.then(|| values::snapshot::decode(DEFAULT_VALUES_SNAPSHOT, DEFAULTS_MADE)).flatten() {
        Some(own) => Cow::Owned(own.0),
        None => Cow::Borrowed(&defaults()?.0),
    };
    let chart = Chart { name: CHART_NAME.into(), values, dependencies: Vec::new() };
    let (values, warnings) = merge::coalesce_owned(chart, user.0.clone())?;
    Ok(Effective { user, values: Values(values), warnings })
}

/// What [`compile`] compiles for, besides the values.
#[derive(Debug, Clone)]
pub struct Target {
    /// Release name, namespace and Kubernetes version.
    pub release: plan::Release,
    /// What is known of the cluster (nothing: [`Facts::default`]).
    pub facts: Facts,
    /// `--skip-schema-validation`: the schema is not checked (keys it does not know are ignored).
    pub skip_schema: bool,
    /// Also warn for every value whose rendering needs a fact that was not given (`lint`).
    pub missing_facts: bool,
    /// Render the plan. Without: the pipeline stops at the node change, with every diagnostic
    /// up to there — what `values`, `node` and the node agent need, at a fraction of the work.
    pub render: bool,
}

impl Default for Target {
    /// The defaults of the CLI: release and namespace `gpu-operator`, Kubernetes 1.31, no facts,
    /// the schema checked, the plan rendered.
    fn default() -> Target {
        Target {
            release: plan::Release::default(),
            facts: Facts::default(),
            skip_schema: false,
            missing_facts: false,
            render: true,
        }
    }
}

/// Everything [`compile`] gives.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// User and effective values.
    pub effective: Effective,
    /// Every problem and warning, in pipeline order.
    pub diagnostics: Vec<Diagnostic>,
    /// The typed config, when the values have no error.
    pub config: Option<Config>,
    /// The node change of `operator.defaultRuntime`, when the values have no error.
    pub node: Option<node::NodeRuntime>,
    /// The plan, when the values have no error and [`Target::render`] asked for it.
    pub plan: Option<plan::Plan>,
}

impl Compiled {
    /// Whether any diagnostic is an error (then there is no plan).
    pub fn failed(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
}

/// The pipeline: values and facts in, every problem and (without errors) the plan out. An
/// input that cannot be read at all (a values file that is not YAML, a `--set` that does not
/// parse, a release name Kubernetes refuses) is an `Err`; everything else is a diagnostic.
pub fn compile(inputs: &Inputs, read_file: &mut FileReader<'_>, target: &Target) -> Result<Compiled, Error> {
    compile_effective(coalesce(load(inputs, read_file)?)?, target)
}

/// [`compile`] from values already coalesced (the operator's GPUPlan spec).
pub fn compile_effective(effective: Effective, target: &Target) -> Result<Compiled, Error> {
    target.release.validate()?;
    let mut diagnostics = check_values(&effective, target.skip_schema);
    let mut compiled = Compiled { effective, diagnostics: Vec::new(), config: None, node: None, plan: None };
    if schema::has_errors(&diagnostics) {
        compiled.diagnostics = diagnostics;
        return Ok(compiled);
    }
    let values = &compiled.effective.values;
    // The schema passed: no object holds a key it does not know, so there is nothing for
    // `resolve` to prune (the defaults' sections are checked by the test suite).
    let resolved = match target.skip_schema {
        true => resolve(values),
        false => config::from_known_values(values),
    };
    let config = match resolved {
        Ok(config) => config,
        Err(Error::Invalid(found)) => {
            diagnostics.extend(found);
            compiled.diagnostics = diagnostics;
            return Ok(compiled);
        }
        Err(other) => return Err(other),
    };
    diagnostics.extend(config::rules::check(&config, values));
    let (node, found) = node_runtime(&config);
    diagnostics.extend(with_origins(found, values));
    let (plan_node, agents) = agents(&config, &node, &target.facts);
    if plan_node.runtime != node.runtime {
        diagnostics.push(Diagnostic::warning(
            "/operator/defaultRuntime",
            format!(
                "no GPU node runs {} (operator.defaultRuntime): the node agent is for {}, the runtime the facts say the GPU nodes run",
                node.runtime.name(),
                agents.iter().map(|a| a.runtime.name()).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    diagnostics.extend(with_origins(facts::check(&config, &target.facts, target.missing_facts), values));
    if target.render && !schema::has_errors(&diagnostics) {
        let plan = plan_for(&config, plan_node, agents, target, values)?;
        for omitted in plan.stages.iter().flat_map(|s| &s.omitted) {
            diagnostics.push(Diagnostic::warning("", format!("left out: {omitted}")));
        }
        compiled.plan = Some(plan);
    }
    compiled.diagnostics = diagnostics;
    compiled.config = Some(config);
    compiled.node = Some(node);
    Ok(compiled)
}

/// Stage 3: every problem with the effective values that needs no typed config, at once: the
/// coalescing warnings, the schema (unless skipped), keys gpuplan accepts but does not render.
pub fn check_values(effective: &Effective, skip_schema: bool) -> Vec<Diagnostic> {
    let mut out = effective.warnings.clone();
    if !skip_schema {
        out.extend(schema::check(&effective.values, &effective.user));
    }
    out.extend(schema::unrendered(&effective.user));
    out
}

/// Every problem with the effective values, the typed config's included (its semantic rules,
/// the node change), without rendering a plan: [`compile_effective`] stopped before rendering,
/// for the default release and no facts.
pub fn check(effective: &Effective, skip_schema: bool) -> Vec<Diagnostic> {
    let target = Target { skip_schema, render: false, ..Target::default() };
    match compile_effective(effective.clone(), &target) {
        Ok(compiled) => compiled.diagnostics,
        Err(e) => vec![Diagnostic::error("", e.to_string())],
    }
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

/// The plan's node change and those of the node agents, never none: an agent per container
/// runtime the facts say GPU nodes run, in runtime order (without such facts, `node`, the
/// default runtime's); the plan's is `node` when an agent has it, else the first agent's.
pub(crate) fn agents(
    config: &Config,
    node: &node::NodeRuntime,
    facts: &Facts,
) -> (node::NodeRuntime, Vec<node::NodeRuntime>) {
    let runtimes = facts.gpu_runtimes().unwrap_or_default();
    if runtimes.is_empty() {
        return (node.clone(), vec![node.clone()]);
    }
    let agents: Vec<node::NodeRuntime> = runtimes
        .into_iter()
        .map(|runtime| match runtime == node.runtime {
            true => node.clone(),
            // Its diagnostics are the default runtime's over again.
            false => node::runtime::resolve_for(config, runtime).0,
        })
        .collect();
    let main = agents.iter().find(|a| a.runtime == node.runtime).unwrap_or(&agents[0]).clone();
    (main, agents)
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
/// Kubernetes would refuse is an [`Error::Name`]. Without facts: [`compile`] is the entry
/// point that takes them.
pub fn plan(
    config: &Config,
    node: node::NodeRuntime,
    release: plan::Release,
    values: &Values,
) -> Result<plan::Plan, Error> {
    release.validate()?;
    let target = Target { release, ..Target::default() };
    plan_for(config, node.clone(), vec![node], &target, values)
}

/// The plan for the target's facts: `agents` are the node changes of the node agents, one per
/// runtime among the GPU nodes.
fn plan_for(
    config: &Config,
    node: node::NodeRuntime,
    agents: Vec<node::NodeRuntime>,
    target: &Target,
    values: &Values,
) -> Result<plan::Plan, Error> {
    let release = &target.release;
    let facts = &target.facts;
    let ctx = render::Context { config, node: &node, agents: &agents, release, facts };
    let stages = render::render(&ctx)?;
    let crds = render::crds(&stages)?;
    let mut plan = plan::build(release.clone(), stages, crds, node, values);
    plan.facts_digest = facts.digest();
    plan.runtimes = if agents.len() > 1 { agents } else { Vec::new() };
    Ok(plan)
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
    // One pass of the pipeline up to the node change: the agent starts on every node and
    // restart, so its config is resolved once, not checked and then resolved again.
    let target = Target { render: false, ..Target::default() };
    let compiled = compile_effective(effective, &target)?;
    match compiled.node {
        Some(node) if !compiled.failed() => Ok((node, compiled.diagnostics)),
        _ => Err(Error::Invalid(compiled.diagnostics)),
    }
}

/// Where one field of one object of the plan came from: its value, the values it is made from
/// (with file and `line:col`, or `--set` #n), the rule that transformed them, the values it
/// depends on and those the object exists by. Compiles and renders as [`compile`] does for
/// these facts (an object named per OS or per runtime exists only with facts that say so),
/// then traces every value by changing it and rendering the object's stage again; see
/// [`explain`](mod@explain).
pub fn explain(
    values: &Values,
    release: &plan::Release,
    facts: &Facts,
    object: &str,
    field: &str,
) -> Result<explain::Explanation, Error> {
    release.validate()?;
    explain::explain(values, release, facts, object, field)
}
