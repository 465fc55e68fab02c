//! Errors and diagnostics of the compiler.
//!
//! Input: failures found by any stage. Output: [`Error`] for what stops the pipeline, and
//! [`Diagnostic`] for each problem or warning a stage reports. Every diagnostic says where:
//! the source (file or `--set` number), the key path, `line:col` when known, what was expected,
//! what was found, and a hint — so one run can report every problem at once.

use std::fmt;
use std::sync::Arc;

use crate::origin::{FlagKind, Origin, Span};

/// Why the compiler could not go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A values file is not valid YAML, or not a map at the top level.
    #[error("failed to parse {file}{}: {message}", at(span))]
    Yaml {
        /// The file as named on the command line (`-` is standard input).
        file: Arc<str>,
        /// Where in the file, when the parser knows.
        span: Option<Span>,
        /// What is wrong.
        message: String,
    },
    /// A `--set*` flag could not be parsed. The text is Helm's: `failed parsing --set data: ...`,
    /// and for `--set-json` Helm's `failed parsing --set-json data <value>` (Helm drops the
    /// cause; [`Error::detail`] gives it back). Unlike Helm, the flag is shown with secret
    /// values hidden and long ones cut ([`FlagKind::shown`]).
    #[error("{}", flag_message(*kind, text, message))]
    Flag {
        /// Which flag.
        kind: FlagKind,
        /// 1-based position among the flags of its kind.
        index: usize,
        /// The flag's argument.
        text: String,
        /// The parser's message.
        message: String,
    },
    /// A subchart's values are not a map (Helm's text, quirk included).
    #[error("type mismatch on {chart}: %!t(string={found})")]
    TypeMismatch {
        /// The subchart.
        chart: String,
        /// The value found in its place.
        found: String,
    },
    /// A node's runtime config file (TOML or JSON) cannot be read; nothing was changed.
    #[error("cannot read {file}{}: {message}", at(span))]
    NodeConfig {
        /// The file.
        file: Arc<str>,
        /// Where in the file, when known.
        span: Option<Span>,
        /// What is wrong.
        message: String,
    },
    /// A node change gpuplan refuses to make because it could lose what is not its own (a file
    /// it did not write, edits it cannot tell from its own, a record that does not match);
    /// nothing was changed.
    #[error("refusing to change {file}{}: {message}{}", at(span), hint_line(hint))]
    NodeOwnership {
        /// The file.
        file: Arc<str>,
        /// Where in the file, when known.
        span: Option<Span>,
        /// What is wrong.
        message: String,
        /// How to go on.
        hint: Option<String>,
    },
    /// A facts file (`--facts`) cannot be read or is not node facts.
    #[error("cannot read facts {file}: {message}")]
    Facts {
        /// The file as named on the command line.
        file: Arc<str>,
        /// What is wrong.
        message: String,
    },
    /// A plan file (for `gpuplan diff`) cannot be read or does not have a plan's shape.
    #[error("cannot read plan {file}{}: {message}", at(span))]
    Plan {
        /// The file (`-` is standard input).
        file: Arc<str>,
        /// Where in the file, when known.
        span: Option<Span>,
        /// What is wrong, with the key path when the shape is wrong.
        message: String,
    },
    /// A saved plan whose content is not what its `planDigest` says (or that has none): it was
    /// edited after `gpuplan plan` made it, so it is not the plan that was reviewed.
    #[error(
        "the plan was changed after `gpuplan plan` made it: its content is {found}, {}; make the plan again",
        match sealed { Some(s) => format!("it says {s}"), None => "and it carries no planDigest".into() }
    )]
    PlanDigest {
        /// The digest the plan carries, if any.
        sealed: Option<String>,
        /// The digest of its content.
        found: String,
    },
    /// A template failed to render, or rendered something that is not a YAML map (a gpuplan
    /// defect: the message says which template and why).
    #[error("rendering {template}: {message}")]
    Render {
        /// The template.
        template: String,
        /// What went wrong.
        message: String,
    },
    /// A release name or namespace that Helm or Kubernetes would refuse (`what` says which);
    /// the message is theirs.
    #[error("{what} {}: {message}", quoted_name(name))]
    Name {
        /// `release name` or `namespace`.
        what: &'static str,
        /// The name as given.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// `--show-only` named a pattern no object matches (Helm's text).
    #[error("could not find template {pattern} in chart")]
    ShowOnly {
        /// The pattern.
        pattern: String,
    },
    /// `explain` was asked for an object the plan does not hold.
    #[error("no object `{object}` in the plan: {reason}{}", hint_line(hint))]
    UnknownObject {
        /// The object as asked (`daemonset/nvidia-driver`).
        object: String,
        /// Why nothing matched.
        reason: String,
        /// A suggestion and what the plan holds instead.
        hint: Option<String>,
    },
    /// `explain` was asked for an object that names more than one in the plan.
    #[error("`{object}` names {} objects: {}; give the kind's group (`kind.group/name`) or `-n`", candidates.len(), candidates.join(", "))]
    AmbiguousObject {
        /// The object as asked.
        object: String,
        /// The objects it could mean, as `Kind.group/name (namespace)`.
        candidates: Vec<String>,
    },
    /// An `explain` field path is not well formed.
    #[error("cannot read field path `{field}` at character {at}: {message}")]
    FieldSyntax {
        /// The field path as given.
        field: String,
        /// 1-based character position of the problem.
        at: usize,
        /// What is wrong.
        message: String,
    },
    /// An `explain` field path does not exist in the object.
    #[error("field `{field}` is not in {object}: {found} {message}{}", hint_line(hint))]
    UnknownField {
        /// The field path as given.
        field: String,
        /// The object, as `Kind namespace/name`.
        object: String,
        /// The deepest prefix of the path that exists (`the object` when none does).
        found: String,
        /// What is missing there.
        message: String,
        /// The closest key, or the items or keys that exist there.
        hint: Option<String>,
    },
    /// The values break the schema or a semantic rule; every problem is listed.
    #[error("{}", invalid_message(.0))]
    Invalid(Vec<Diagnostic>),
}

fn at(span: &Option<Span>) -> String {
    span.map(|s| format!(":{s}")).unwrap_or_default()
}

fn hint_line(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("\n  = help: {h}")).unwrap_or_default()
}

fn flag_message(kind: FlagKind, text: &str, message: &str) -> String {
    match kind {
        FlagKind::SetJson => format!("failed parsing --set-json data {}", kind.shown(text)),
        kind => format!("failed parsing {} data: {message}", kind.flag()),
    }
}

/// A name in an error: quoted as Go quotes it, cut when it is long.
fn quoted_name(name: &str) -> String {
    format!("{:?}", crate::redact::cut(name, crate::redact::SHOWN_CHARS))
}

fn invalid_message(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let mut out = format!(
        "values don't meet the specifications of the schema ({errors} error{}):",
        if errors == 1 { "" } else { "s" }
    );
    for d in diagnostics.iter().take(crate::limits::MAX_DIAGNOSTICS_SHOWN) {
        out.push('\n');
        out.push_str(&d.to_string());
    }
    if let Some(rest) = not_shown(diagnostics, crate::limits::MAX_DIAGNOSTICS_SHOWN) {
        out.push('\n');
        out.push_str(&rest);
    }
    out
}

/// The line that counts the diagnostics after the first `shown`: `... and 12 more errors and
/// 1 more warning, not shown`; `None` when there are none.
pub fn not_shown(diagnostics: &[Diagnostic], shown: usize) -> Option<String> {
    let rest = diagnostics.get(shown..).filter(|r| !r.is_empty())?;
    let errors = rest.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = rest.len() - errors;
    let plural =
        |n: usize, word: &str| format!("{} more {word}{}", crate::limits::count(n), if n == 1 { "" } else { "s" });
    let counted = match (errors, warnings) {
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{} and {}", plural(e, "error"), plural(w, "warning")),
    };
    Some(format!("... and {counted}, not shown (gpuplan prints the first {shown} in full)"))
}

impl Error {
    /// More about the error than Helm's one line: which flag, and the cause Helm drops.
    pub fn detail(&self) -> Option<String> {
        match self {
            Error::Flag { kind: FlagKind::SetJson, index, message, .. } => {
                Some(format!("{} #{index}: {message}", FlagKind::SetJson.flag()))
            }
            Error::Flag { kind, index, text, .. } => Some(format!("in {} #{index}: {}", kind.flag(), kind.shown(text))),
            _ => None,
        }
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The values cannot be used.
    Error,
    /// The values work, but probably not as the user meant.
    Warning,
}

/// One problem or warning, with everything needed to find and fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// JSON pointer of the value concerned (`/toolkit/env/3/value`); empty for the root.
    pub pointer: String,
    /// Where the value was written, when known.
    pub origin: Option<Origin>,
    /// What is wrong, in one line.
    pub message: String,
    /// What was expected.
    pub expected: Option<String>,
    /// What was found.
    pub found: Option<String>,
    /// How to fix it, e.g. "did you mean `env`?".
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error about the value at `pointer`.
    pub fn error(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            pointer: pointer.into(),
            origin: None,
            message: message.into(),
            expected: None,
            found: None,
            hint: None,
        }
    }

    /// A warning about the value at `pointer`.
    pub fn warning(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(pointer, message) }
    }

    /// Set where the value came from.
    pub fn with_origin(mut self, origin: Option<Origin>) -> Self {
        self.origin = origin;
        self
    }

    /// Set what was expected and what was found.
    pub fn expected_found(mut self, expected: impl Into<String>, found: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.found = Some(found.into());
        self
    }

    /// Set a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The diagnostic with the source line it points at and a caret under the column, when
    /// `line_of` has that line of its source (`line_of(source, n)`: line `n`, from 1, without
    /// its line end). Looking up one line, rather than handing over the whole text, keeps
    /// rendering every diagnostic of a large file linear ([`Lines`] does it by index):
    ///
    /// ```text
    /// error: /operator/defaultRuntime: not one of the allowed values
    ///   --> values.yaml:4:3
    ///    |
    ///  4 |   defaultRuntime: podman
    ///    |   ^
    ///   = expected: one of "containerd", "crio", "docker"
    /// ```
    pub fn render(&self, line_of: &dyn Fn(&crate::origin::Source, u32) -> Option<String>) -> String {
        let plain = self.to_string();
        let Some(origin) = &self.origin else {
            return plain;
        };
        let Some(span) = origin.span else {
            return plain;
        };
        let Some(line) = line_of(&origin.source, span.line) else {
            return plain;
        };
        // A line of a minified file may be megabytes long: show the part around the column.
        let (line, col) = window(&line, span.col.saturating_sub(1) as usize);
        let number = span.line.to_string();
        let pad = " ".repeat(number.len());
        let caret_at: String = line.chars().take(col).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let snippet = format!("\n {pad} |\n {number} | {line}\n {pad} | {caret_at}^");
        // The snippet goes right after the `-->` line.
        match plain.split_once('\n') {
            Some((head, rest)) => match rest.split_once('\n') {
                Some((arrow, tail)) => format!("{head}\n{arrow}{snippet}\n{tail}"),
                None => format!("{head}\n{rest}{snippet}"),
            },
            None => plain,
        }
    }
}

/// At most [`crate::redact::SHOWN_FLAG_CHARS`] characters of a line around a column (0-based):
/// the text to show and the column in it.
fn window(line: &str, col: usize) -> (String, usize) {
    let width = crate::redact::SHOWN_FLAG_CHARS;
    let len = line.chars().count();
    if len <= width {
        return (line.to_owned(), col);
    }
    let from = col.saturating_sub(width / 2).min(len.saturating_sub(width));
    let shown: String = line.chars().skip(from).take(width).collect();
    let (head, tail) = (if from > 0 { "…" } else { "" }, if from + width < len { "…" } else { "" });
    (format!("{head}{shown}{tail}"), col - from + head.chars().count())
}

/// The lines of a text, indexed once, so looking one up costs no more than its length.
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    /// Index the lines of `text` (ends: `\n`, `\r\n`).
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(at, _)| at + 1));
        Lines { text, starts }
    }

    /// Line `n` (from 1) without its line end; `None` past the end.
    pub fn line(&self, n: u32) -> Option<&'a str> {
        let i = (n as usize).checked_sub(1)?;
        let start = *self.starts.get(i)?;
        if start == self.text.len() && i > 0 {
            return None;
        }
        let end = self.starts.get(i + 1).map_or(self.text.len(), |&next| next - 1);
        let line = &self.text[start..end];
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

impl fmt::Display for Diagnostic {
    /// ```text
    /// error: /toolkit/enviroment: unknown key
    ///   --> my-values.yaml:12:3
    ///   = expected: a key of /toolkit: enabled, repository, image, ...
    ///   = found: enviroment
    ///   = help: did you mean `env`?
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let pointer = if self.pointer.is_empty() { "/" } else { &self.pointer };
        write!(f, "{level}: {pointer}: {}", self.message)?;
        if let Some(origin) = &self.origin {
            write!(f, "\n  --> {origin}")?;
        }
        if let Some(expected) = &self.expected {
            write!(f, "\n  = expected: {expected}")?;
        }
        if let Some(found) = &self.found {
            write!(f, "\n  = found: {found}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = help: {hint}")?;
        }
        Ok(())
    }
}
