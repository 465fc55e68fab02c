//! Where a value (and so a diagnostic) came from: the built-in defaults, a `-f` file, the n-th
//! `--set*` flag or an environment variable, with line and column where there is one.
//!
//! Input: none — these are the types every stage shares to say *where*. Output: [`Source`],
//! [`Span`], [`Origin`] and [`FlagKind`]. They stand apart from [`crate::values`], which
//! builds trees of origins, and [`crate::error`], which reports them, so that neither of the
//! two depends on the other.

use std::fmt;
use std::sync::Arc;

use crate::redact::Grammar;

/// Which value flag a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlagKind {
    /// `--set-json`.
    SetJson,
    /// `--set`.
    Set,
    /// `--set-string`.
    SetString,
    /// `--set-file`.
    SetFile,
    /// `--set-literal`.
    SetLiteral,
}

impl FlagKind {
    /// The kinds in the order Helm applies them, whatever their order on the command line.
    pub const ORDER: [FlagKind; 5] =
        [FlagKind::SetJson, FlagKind::Set, FlagKind::SetString, FlagKind::SetFile, FlagKind::SetLiteral];

    /// How the flag's text splits into assignments, for showing it in messages.
    pub fn grammar(self) -> Grammar {
        match self {
            FlagKind::SetJson => Grammar::Json,
            FlagKind::SetLiteral => Grammar::Literal,
            FlagKind::Set | FlagKind::SetString | FlagKind::SetFile => Grammar::Strvals,
        }
    }

    /// The flag's text as a message may show it: secret values hidden, long ones cut
    /// ([`crate::redact::flag`]).
    pub fn shown(self, text: &str) -> String {
        crate::redact::flag(self.grammar(), text)
    }

    /// The flag as written on the command line.
    pub fn flag(self) -> &'static str {
        match self {
            FlagKind::SetJson => "--set-json",
            FlagKind::Set => "--set",
            FlagKind::SetString => "--set-string",
            FlagKind::SetFile => "--set-file",
            FlagKind::SetLiteral => "--set-literal",
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// gpuplan's built-in defaults (`values/values.yaml`).
    Defaults,
    /// A `-f/--values` file, named as given on the command line (`-` is standard input).
    File(Arc<str>),
    /// The `index`-th (1-based) flag of its kind, counted in command-line order.
    Flag {
        /// Which flag.
        kind: FlagKind,
        /// 1-based position among the flags of this kind.
        index: usize,
        /// The flag's argument; messages show it through [`FlagKind::shown`], which hides
        /// secret values.
        text: Arc<str>,
    },
    /// A process environment variable (the node agent's configuration), by name.
    Env(Arc<str>),
    /// Values built by a test or a library caller without a named source.
    Inline,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Defaults => f.write_str("built-in values.yaml"),
            Source::File(name) if &**name == "-" => f.write_str("<stdin>"),
            Source::File(name) => f.write_str(name),
            Source::Flag { kind, index, text } => write!(f, "{} #{index} ({})", kind.flag(), kind.shown(text)),
            Source::Env(name) => write!(f, "environment variable {name}"),
            Source::Inline => f.write_str("<inline>"),
        }
    }
}

/// A position in a source: line and column, both 1-based, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// Where one node was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// The file or flag.
    pub source: Source,
    /// Line and column of the map key (or of the value, for list items and flags).
    pub span: Option<Span>,
    /// The text as written, kept for scalars whose type was inferred (`010`, `true`, `1e3`),
    /// so the schema can give a `--set` value back its text and diagnostics can quote it.
    pub literal: Option<Arc<str>>,
}

impl Origin {
    /// An origin with no position.
    pub fn new(source: Source) -> Self {
        Origin { source, span: None, literal: None }
    }

    /// An origin at a position.
    pub fn at(source: Source, span: Span) -> Self {
        Origin { source, span: Some(span), literal: None }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.source, self.span) {
            (Source::Flag { .. }, _) | (_, None) => write!(f, "{}", self.source),
            (source, Some(span)) => write!(f, "{source}:{span}"),
        }
    }
}
