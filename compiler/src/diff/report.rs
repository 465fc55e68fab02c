//! Printing a plan diff.
//!
//! Input: a [`Report`], the format and the style (context lines, colour). Output: text.
//! - `diff` (helm-diff's layout): per object a header — `<namespace>, <name>, <Kind> (<group>)
//!   has changed:` (yellow), `has been added:` (green), `has been removed:` (red) — and the
//!   line diff of its YAML; then the node change in words, then a node's files as unified
//!   diffs. Nothing at all when nothing differs.
//! - `simple`: one line per object and per node setting, then `Plan: A to add, C to change,
//!   D to destroy.`
//! - `json`: `{"objects": [...], "node": [...], "nodeFiles": [...], "summary": {...}}`, each
//!   object with helm-diff's `change` (`ADD`, `MODIFY`, `REMOVE`) and its changed fields.
//! - `markdown`: a pull-request comment ([`super::markdown`]).

use serde::Serialize;

use super::{Change, NodeChange, NodeFileDiff, ObjectDiff, Report, body::body};

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Headers and line diffs.
    Diff,
    /// One line per change and a summary.
    Simple,
    /// Machine-readable.
    Json,
    /// A pull-request comment, within the size a comment holds.
    Markdown,
}

/// How the `diff` format looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Unchanged lines kept around each change; `None` keeps all.
    pub context: Option<usize>,
    /// ANSI colours.
    pub color: bool,
}

const YELLOW: &str = "\x1b[33m";
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

fn paint(text: &str, color: &str, on: bool) -> String {
    if on { format!("{color}{text}{RESET}") } else { text.to_owned() }
}

/// The report as text.
pub fn render(report: &Report, format: Format, style: Style) -> String {
    match format {
        Format::Diff => diff(report, style),
        Format::Simple => simple(report),
        Format::Json => json(report),
        Format::Markdown => super::markdown::render(report, style.context),
    }
}

fn header(o: &ObjectDiff) -> (&'static str, &'static str) {
    match o.change {
        Change::Modify => ("has changed:", YELLOW),
        Change::Add => ("has been added:", GREEN),
        Change::Remove => ("has been removed:", RED),
    }
}

fn diff(report: &Report, style: Style) -> String {
    let mut out = String::new();
    for o in &report.objects {
        let (what, color) = header(o);
        out.push_str(&paint(&format!("{} {what}", o.key), color, style.color));
        out.push('\n');
        out.push_str(&body(&o.old, &o.new, style.context, style.color));
        out.push('\n');
    }
    if !report.node.is_empty() {
        out.push_str(&paint("GPU nodes, container runtime config has changed:", YELLOW, style.color));
        out.push('\n');
        for n in &report.node {
            out.push_str(&format!("  - {}\n", n.message));
        }
        out.push('\n');
    }
    for f in &report.node_files {
        out.push_str(&paint(&format!("node file {} has changed:", f.path), YELLOW, style.color));
        out.push('\n');
        for line in f.diff.lines() {
            let color = match line.as_bytes().first() {
                Some(b'+') if !line.starts_with("+++") => GREEN,
                Some(b'-') if !line.starts_with("---") => RED,
                Some(b'@') => CYAN,
                _ => "",
            };
            out.push_str(&if color.is_empty() { line.to_owned() } else { paint(line, color, style.color) });
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

fn simple(report: &Report) -> String {
    let mut out = String::new();
    for o in &report.objects {
        let what = match o.change {
            Change::Modify => "to be changed",
            Change::Add => "to be added",
            Change::Remove => "to be removed",
        };
        out.push_str(&format!("{} {what}.\n", o.key));
    }
    for n in &report.node {
        out.push_str(&format!("GPU nodes: {}.\n", n.message));
    }
    for f in &report.node_files {
        out.push_str(&format!("node file {} to be changed.\n", f.path));
    }
    let (add, change, destroy) = report.counts();
    out.push_str(&format!("Plan: {add} to add, {change} to change, {destroy} to destroy.\n"));
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Json<'a> {
    objects: &'a [ObjectDiff],
    node: &'a [NodeChange],
    node_files: &'a [NodeFileDiff],
    summary: Summary,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    add: usize,
    change: usize,
    destroy: usize,
    node_changes: usize,
}

fn json(report: &Report) -> String {
    let (add, change, destroy) = report.counts();
    let summary = Summary { add, change, destroy, node_changes: report.node.len() + report.node_files.len() };
    let json = Json { objects: &report.objects, node: &report.node, node_files: &report.node_files, summary };
    let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
    text.push('\n');
    text
}
