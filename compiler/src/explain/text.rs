//! The printed forms of an [`Explanation`]: text, as `gpuplan explain` prints it by default,
//! and JSON (`-o json`).
//!
//! Input: an explanation. Output: stable text — the object and stage, the canonical field and
//! its value, then `from:`, `depends on:` and `exists while:` sections, one value a line
//! (`--set` path, effective value, origin, aligned), each source followed by how it became
//! the field. Long rule texts are wrapped.

use std::fmt::Write as _;

use serde_json::Value as J;

use super::{Explanation, LeafInfo, Transform};
use crate::values::print::json_to_yaml;

/// Where rule texts wrap.
const WIDTH: usize = 100;

impl Explanation {
    /// The explanation as JSON (indented, trailing newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The explanation as text, ending with a newline.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let o = &self.object;
        let name = match &o.namespace {
            Some(ns) => format!("{ns}/{}", o.name),
            None => o.name.clone(),
        };
        let _ = writeln!(out, "{} {name}   (stage {})", o.kind, o.stage);
        let _ = writeln!(out, "{}", self.field);
        match block(&self.value) {
            Some(yaml) => {
                out.push_str("  =\n");
                for line in yaml.lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
            None => {
                let _ = writeln!(out, "  = {}", show(&self.value));
            }
        }
        out.push_str("from:\n");
        if self.sources.is_empty() {
            out.push_str(if self.depends_on.is_empty() {
                "  no value: the stage sets it\n"
            } else {
                "  no value: the stage sets it, from what it depends on\n"
            });
        }
        let leaves: Vec<&LeafInfo> = self.sources.iter().map(|s| &s.leaf).collect();
        let width = column(&leaves);
        let mut told: Vec<&str> = Vec::new();
        for source in &self.sources {
            line(&mut out, &source.leaf, width);
            for u in &source.uses {
                let at = if u.at.is_empty() { String::new() } else { format!("at {}: ", u.at) };
                match &u.transform {
                    Transform::Verbatim if at.is_empty() => {}
                    Transform::Verbatim => {
                        let _ = writeln!(out, "    {at}verbatim");
                    }
                    Transform::Rule { text, .. } if told.contains(&text.as_str()) => {
                        let _ = writeln!(out, "    {at}rule: as above");
                    }
                    Transform::Rule { text, .. } => {
                        told.push(text);
                        wrap(&mut out, &format!("{at}rule: {text}"));
                    }
                    Transform::Rendered => {
                        let _ = writeln!(out, "    {at}rendered from this value (no rule recorded)");
                    }
                }
            }
        }
        section(&mut out, "depends on:", &self.depends_on);
        section(&mut out, "exists while:", &self.exists_while);
        let _ = write!(out, "({} values traced", self.traced);
        if !self.skipped.is_empty() {
            let _ = write!(out, "; not judged, as changing them makes the values invalid: {}", self.skipped.join(", "));
        }
        out.push_str(")\n");
        out
    }
}

/// A non-empty list or map as block YAML (list items at column 0); `None` for the rest.
fn block(value: &J) -> Option<String> {
    match value {
        J::Object(map) if !map.is_empty() => Some(json_to_yaml(value)),
        J::Array(items) if !items.is_empty() => {
            let wrapped = json_to_yaml(&J::Object([("_".to_owned(), value.clone())].into_iter().collect()));
            Some(wrapped.split_once('\n').map_or(wrapped.clone(), |(_, rest)| rest.to_owned()))
        }
        _ => None,
    }
}

/// A value as printed: JSON (strings quoted), or the secret placeholder as it is.
fn show(value: &J) -> String {
    match value {
        J::String(s) if s.starts_with("<secret: ") => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// The width of `path = value` for the longest line of a section, for aligning origins.
fn column(leaves: &[&LeafInfo]) -> usize {
    leaves.iter().map(|l| l.path.chars().count() + 3 + show(&l.value).chars().count()).max().unwrap_or(0)
}

fn line(out: &mut String, leaf: &LeafInfo, width: usize) {
    let head = format!("{} = {}", leaf.path, show(&leaf.value));
    let pad = width.saturating_sub(head.chars().count());
    let _ = writeln!(out, "  {head}{}   {}", " ".repeat(pad), leaf.origin.text);
}

fn section(out: &mut String, title: &str, leaves: &[LeafInfo]) {
    if leaves.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}");
    let refs: Vec<&LeafInfo> = leaves.iter().collect();
    let width = column(&refs);
    for leaf in leaves {
        line(out, leaf, width);
    }
}

/// Write `text` indented by four spaces, wrapped at [`WIDTH`], continuation lines by six.
fn wrap(out: &mut String, text: &str) {
    let mut current = String::from("    ");
    for word in text.split_whitespace() {
        if current.trim().is_empty() {
            current.push_str(word);
        } else if current.chars().count() + 1 + word.chars().count() > WIDTH {
            let _ = writeln!(out, "{current}");
            current = format!("      {word}");
        } else {
            current.push(' ');
            current.push_str(word);
        }
    }
    let _ = writeln!(out, "{current}");
}
