//! The values flags every command takes, and the I/O behind them.
//!
//! Input: `-f/--values` (repeatable; `a.yaml,b.yaml` is two files; `-` is stdin), `--set`,
//! `--set-string`, `--set-json`, `--set-file`, `--set-literal`, `--skip-schema-validation`.
//! Output: the compiler's [`Inputs`] (file texts read here, so the compiler stays pure) and a
//! file reader for `--set-file`. Standard input is read once: a second `-` reads nothing, as
//! in Helm.
//!
//! Every input is read with a cap ([`limits`]): 64 MiB per file, standard input or
//! `--set-file` file, 128 MiB for all of them, so `-f /dev/zero` is an error rather than the
//! machine's memory. A path that is not a regular file (a FIFO, `<(command)`, a device) is
//! opened and read on a helper thread and given [`READ_TIMEOUT`] seconds to reach its end
//! (`GPUPLAN_READ_TIMEOUT` sets another), so a FIFO nobody writes to cannot hang a run;
//! standard input (`-`) is waited for as long as it takes, as every Unix tool does.
//!
//! Diagnostics are printed with the line they point at, from an index of each file's lines
//! built once, and only the first [`limits::MAX_DIAGNOSTICS_SHOWN`] in full, then a count: a
//! file of a million unknown keys costs time in proportion to its size.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use gpuplan_compiler::error::{Lines, not_shown};
use gpuplan_compiler::limits;
use gpuplan_compiler::node::NodeRuntime;
use gpuplan_compiler::plan::{Plan, Release};
use gpuplan_compiler::{
    Diagnostic, Effective, Facts, FlagKind, InputFile, InputFlag, Inputs, Severity, Source, Target,
};

/// Seconds a path that is not a regular file gets to reach its end.
pub const READ_TIMEOUT: u64 = 60;

/// The values flags, shared by every command that compiles values.
#[derive(Debug, Clone, Default, Args)]
pub struct ValuesArgs {
    /// Values file (YAML); repeat, or separate with commas; `-` reads standard input.
    #[arg(short = 'f', long = "values", value_name = "FILE", value_delimiter = ',')]
    pub files: Vec<String>,
    /// Set values: `a.b=v,c[0]=w` (types inferred as Helm does, then typed by the schema).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Set string values: every value stays a string.
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    pub set_string: Vec<String>,
    /// Set JSON values: `a={"b":1},c=[1,2]`.
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    pub set_json: Vec<String>,
    /// Set values from files: `a=path` stores the file's contents as a string; `-` reads stdin.
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    pub set_file: Vec<String>,
    /// Set one literal string value: everything after the first `=` is the value.
    #[arg(long = "set-literal", value_name = "KEY=VALUE")]
    pub set_literal: Vec<String>,
    /// Do not check the values against the schema (as in Helm); unknown keys are ignored.
    #[arg(long)]
    pub skip_schema_validation: bool,
}

/// Standard input, readable once; and the bytes the run has read, against the limit for all
/// inputs together.
#[derive(Debug, Default)]
pub struct Stdin {
    used: bool,
    total: usize,
}

impl Stdin {
    /// All of standard input the first time; nothing afterwards.
    pub fn read(&mut self) -> anyhow::Result<String> {
        if std::mem::replace(&mut self.used, true) {
            return Ok(String::new());
        }
        let bytes = read_capped(std::io::stdin().lock(), "standard input").context("cannot read standard input")?;
        String::from_utf8(bytes).context("standard input is not UTF-8 text")
    }

    fn count(&mut self, bytes: usize) -> anyhow::Result<()> {
        self.total += bytes;
        if self.total > limits::MAX_TOTAL_INPUT_BYTES {
            bail!(
                "the inputs together are larger than {}, gpuplan's limit for one run",
                limits::bytes(limits::MAX_TOTAL_INPUT_BYTES)
            );
        }
        Ok(())
    }
}

/// Read a values file or a `--set-file` path as Helm's `readFile` does: `-` (after trimming
/// spaces) is standard input; anything else is a local path. Capped as the module says.
pub fn read_path(path: &str, stdin: &mut Stdin) -> anyhow::Result<String> {
    let text = if path.trim() == "-" {
        stdin.read()?
    } else {
        if let Some((scheme, _)) = path.split_once("://")
            && matches!(scheme, "http" | "https" | "oci")
        {
            bail!(
                "cannot read `{path}`: gpuplan does not fetch values over the network; download the file and pass its path"
            );
        }
        let bytes = read_file(Path::new(path)).with_context(|| format!("cannot read `{path}`"))?;
        String::from_utf8(bytes).with_context(|| format!("`{path}` is not UTF-8 text"))?
    };
    stdin.count(text.len())?;
    Ok(text)
}

/// At most [`limits::MAX_INPUT_BYTES`] bytes from a reader; more is an error naming `what`.
fn read_capped(reader: impl Read, what: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limits::MAX_INPUT_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > limits::MAX_INPUT_BYTES {
        bail!("{what} is larger than {}, gpuplan's limit for one input", limits::bytes(limits::MAX_INPUT_BYTES));
    }
    Ok(bytes)
}

/// A regular file, capped; anything else (a FIFO, a pipe, a device) on a helper thread that
/// gets [`read_timeout`] to finish, since opening a FIFO waits for a writer and reading it
/// waits for the writer to close.
fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        bail!("it is a directory");
    }
    let what = "the file";
    if meta.is_file() {
        return read_capped(std::fs::File::open(path)?, what);
    }
    let (send, receive) = mpsc::channel();
    let owned = path.to_owned();
    std::thread::spawn(move || {
        let read = std::fs::File::open(&owned).map_err(anyhow::Error::from).and_then(|f| read_capped(f, what));
        // The receiver is gone only when the run gave up waiting; nothing is left to tell.
        let _ = send.send(read);
    });
    let timeout = read_timeout();
    match receive.recv_timeout(timeout) {
        Ok(read) => read,
        // The helper stays blocked in open() or read(); it ends with the process.
        Err(_) => bail!(
            "it is not a regular file and did not reach its end within {} s (a FIFO nobody writes to?); \
             gpuplan waits that long for such an input (GPUPLAN_READ_TIMEOUT=SECONDS)",
            timeout.as_secs()
        ),
    }
}

/// [`READ_TIMEOUT`], or `GPUPLAN_READ_TIMEOUT` seconds.
fn read_timeout() -> Duration {
    let secs = std::env::var("GPUPLAN_READ_TIMEOUT").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(READ_TIMEOUT);
    Duration::from_secs(secs)
}

impl ValuesArgs {
    /// The flags as compiler inputs, with every `-f` file read.
    pub fn inputs(&self, stdin: &mut Stdin) -> anyhow::Result<Inputs> {
        let mut files = Vec::new();
        for name in self.files.iter().filter(|n| !n.is_empty()) {
            let text = read_path(name, stdin).with_context(|| format!("values file `{name}` (-f)"))?;
            files.push(InputFile { name: name.clone(), text });
        }
        let mut flags = Vec::new();
        let groups = [
            (FlagKind::SetJson, &self.set_json),
            (FlagKind::Set, &self.set),
            (FlagKind::SetString, &self.set_string),
            (FlagKind::SetFile, &self.set_file),
            (FlagKind::SetLiteral, &self.set_literal),
        ];
        for (kind, texts) in groups {
            flags.extend(texts.iter().map(|text| InputFlag { kind, text: text.clone() }));
        }
        Ok(Inputs { files, flags })
    }

    /// The pipeline up to the node change ([`gpuplan_compiler::compile`] without rendering):
    /// the effective values, the node change, and every diagnostic about them.
    pub fn compile(&self) -> anyhow::Result<Compiled> {
        self.run(Target { skip_schema: self.skip_schema_validation, render: false, ..Target::default() })
    }

    /// The whole pipeline ([`gpuplan_compiler::compile`]) for a release and the cluster's
    /// facts: every diagnostic, and the plan when there is no error.
    pub fn compile_for(&self, release: Release, facts: Facts, missing_facts: bool) -> anyhow::Result<Compiled> {
        self.run(Target { release, facts, skip_schema: self.skip_schema_validation, missing_facts, render: true })
    }

    fn run(&self, target: Target) -> anyhow::Result<Compiled> {
        let mut stdin = Stdin::default();
        let inputs = self.inputs(&mut stdin)?;
        let mut read_file = |path: &str| read_path(path, &mut stdin).map_err(|e| format!("{e:#}"));
        let compiled = gpuplan_compiler::compile(&inputs, &mut read_file, &target)?;
        Ok(Compiled {
            inputs,
            effective: compiled.effective,
            diagnostics: compiled.diagnostics,
            node: compiled.node,
            plan: compiled.plan,
        })
    }
}

/// What compiling the values flags produced.
#[derive(Debug)]
pub struct Compiled {
    /// The files and flags, kept to quote source lines in diagnostics.
    pub inputs: Inputs,
    /// User and effective values.
    pub effective: Effective,
    /// Every problem and warning.
    pub diagnostics: Vec<Diagnostic>,
    /// The node change of `operator.defaultRuntime`, without errors.
    pub node: Option<NodeRuntime>,
    /// The plan ([`ValuesArgs::compile_for`], without errors).
    pub plan: Option<Plan>,
}

impl Compiled {
    /// Whether any diagnostic is an error.
    pub fn failed(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }

    /// Each diagnostic with the source line it points at, separated by blank lines: the
    /// first [`limits::MAX_DIAGNOSTICS_SHOWN`], then a line counting the rest.
    pub fn render(&self) -> String {
        // Each text is indexed once; of a name given twice (`-f - -f -`), the first text.
        let mut files: HashMap<&str, Lines<'_>> = HashMap::new();
        for f in &self.inputs.files {
            files.entry(f.name.as_str()).or_insert_with(|| Lines::new(&f.text));
        }
        let defaults = Lines::new(gpuplan_compiler::DEFAULT_VALUES);
        let line_of = |source: &Source, n: u32| match source {
            Source::Defaults => defaults.line(n).map(str::to_owned),
            Source::File(name) => files.get(&**name).and_then(|lines| lines.line(n)).map(str::to_owned),
            _ => None,
        };
        let mut out = String::new();
        for d in self.diagnostics.iter().take(limits::MAX_DIAGNOSTICS_SHOWN) {
            out.push_str(&d.render(&line_of));
            out.push_str("\n\n");
        }
        if let Some(rest) = not_shown(&self.diagnostics, limits::MAX_DIAGNOSTICS_SHOWN) {
            out.push_str(&rest);
            out.push_str("\n\n");
        }
        out
    }

    /// Print the diagnostics, warnings included, to stderr; true when any is an error.
    pub fn print_diagnostics(&self) -> bool {
        eprint!("{}", self.render());
        self.failed()
    }
}

/// A one-line count: `2 errors, 1 warning`.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!("{}, {}", plural(errors, "error"), plural(warnings, "warning"))
}
