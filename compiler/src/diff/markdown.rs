//! A plan diff as a pull-request comment: what a reviewer reads where the values change is
//! reviewed.
//!
//! Input: a [`Report`] (Secrets already redacted when it was made, as for every format) and
//! the lines of context. Output: Markdown — first the summary line (`Plan: A to add, C to
//! change, D to destroy.` and the node change in words), then per object a collapsed
//! `<details>` block whose summary is `Kind namespace/name` and the change, holding the line
//! diff of its YAML in a fenced `diff` block; then a node's files, each in its own block.
//!
//! The whole text stays within [`LIMIT`] characters, below the 65,536 a GitHub comment holds
//! (GitLab's notes hold more), so that posting it never fails: the summary line always
//! prints, blocks follow in report order until the next one would not fit, and a last line
//! says the limit and how many blocks were left out.

use super::body::body;
use super::{Change, ObjectDiff, Report};

/// The most characters the comment holds. GitHub refuses a comment over 65,536; the margin
/// leaves room for a header a CI job puts above it (a title, a link to the pipeline).
pub const LIMIT: usize = 60_000;

/// GitHub's own limit, said in the cut line so a reader knows why the margin.
const GITHUB_LIMIT: usize = 65_536;

/// The report as a comment; `context: None` keeps every line of each object.
pub fn render(report: &Report, context: Option<usize>) -> String {
    let mut out = summary(report);
    let mut blocks: Vec<String> = report.objects.iter().map(|o| object(o, context)).collect();
    blocks.extend(report.node_files.iter().map(|f| {
        let title = format!("node file {}", escape(&f.path));
        details(&title, &f.diff)
    }));
    let total = blocks.len();
    for (shown, block) in blocks.into_iter().enumerate() {
        // The cut line must still fit after the blocks shown, whatever follows.
        let cut = cut_line(total - shown, total);
        if chars(&out) + chars(&block) + chars(&cut) > LIMIT {
            out.push_str(&cut);
            return out;
        }
        out.push_str(&block);
    }
    out
}

/// `Plan: ...` and the node change, one line; the node changes as a list below when there are.
fn summary(report: &Report) -> String {
    let (add, change, destroy) = report.counts();
    let mut out = format!("Plan: {add} to add, {change} to change, {destroy} to destroy.");
    match report.node.len() {
        0 => out.push_str(" GPU nodes: no change to the container runtime config.\n"),
        1 => out.push_str(&format!(" GPU nodes: {}.\n", report.node[0].message)),
        n => {
            out.push_str(&format!(" GPU nodes: {n} changes to the container runtime config:\n\n"));
            for c in &report.node {
                out.push_str(&format!("- {}\n", c.message));
            }
        }
    }
    out
}

fn object(o: &ObjectDiff, context: Option<usize>) -> String {
    let name = match o.key.namespace.as_str() {
        "" => o.key.name.clone(),
        namespace => format!("{namespace}/{}", o.key.name),
    };
    let what = match o.change {
        Change::Modify => "changed",
        Change::Add => "added",
        Change::Remove => "removed",
    };
    let title = format!("{} {} ({what})", escape(&o.key.kind), escape(&name));
    details(&title, &body(&o.old, &o.new, context, false))
}

fn details(title: &str, diff: &str) -> String {
    // A fence longer than any run of backticks inside, so no YAML string can close it early.
    let fence = "`".repeat(longest_backtick_run(diff).max(2) + 1);
    format!("\n<details><summary>{title}</summary>\n\n{fence}diff\n{diff}{fence}\n\n</details>\n")
}

fn cut_line(left_out: usize, total: usize) -> String {
    format!(
        "\n_Cut to stay within {LIMIT} characters (a GitHub comment holds {GITHUB_LIMIT}): {left_out} of {total} \
         blocks left out. Run `gpuplan diff` for the whole diff._\n"
    )
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// Kinds, names and paths go into HTML; names are DNS labels today, but a path is not.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::yaml::lines;
    use super::super::{Key, NodeChange};
    use super::*;

    fn modified(name: &str, old: serde_json::Value, new: serde_json::Value) -> ObjectDiff {
        ObjectDiff {
            key: Key { group: "apps".into(), kind: "DaemonSet".into(), namespace: "gpu".into(), name: name.into() },
            api_version: "apps/v1".into(),
            change: Change::Modify,
            stage: None,
            fields: Vec::new(),
            old: lines(&old),
            new: lines(&new),
        }
    }

    #[test]
    fn given_one_changed_object_the_comment_is_a_summary_and_one_block() {
        let report = Report { objects: vec![modified("a", json!({"x": 1}), json!({"x": 2}))], ..Report::default() };
        assert_eq!(
            render(&report, Some(3)),
            "Plan: 0 to add, 1 to change, 0 to destroy. GPU nodes: no change to the container runtime config.\n\
             \n<details><summary>DaemonSet gpu/a (changed)</summary>\n\n```diff\n- x: 1\n+ x: 2\n```\n\n</details>\n"
        );
    }

    #[test]
    fn given_node_changes_the_summary_says_them_in_words() {
        let change = |m: &str| NodeChange { field: "f".into(), message: m.into(), old: json!(1), new: json!(2) };
        let one = Report { node: vec![change("the socket moves")], ..Report::default() };
        assert_eq!(render(&one, Some(3)), "Plan: 0 to add, 0 to change, 0 to destroy. GPU nodes: the socket moves.\n");
        let two = Report { node: vec![change("a"), change("b")], ..Report::default() };
        assert!(render(&two, Some(3)).ends_with("GPU nodes: 2 changes to the container runtime config:\n\n- a\n- b\n"));
    }

    #[test]
    fn given_backticks_in_a_value_the_fence_is_longer_than_them() {
        let report =
            Report { objects: vec![modified("a", json!({"x": "```"}), json!({"x": "````"}))], ..Report::default() };
        let text = render(&report, Some(3));
        assert!(text.contains("\n`````diff\n") && text.contains("\n`````\n"), "{text}");
    }

    #[test]
    fn given_more_than_fits_the_comment_is_cut_with_a_count_within_the_limit() {
        let big = |i: usize| json!({"data": (0..200).map(|j| format!("line {i} {j} {}", "x".repeat(20))).collect::<Vec<_>>()});
        let objects: Vec<ObjectDiff> = (0..40).map(|i| modified(&format!("o{i}"), json!({}), big(i))).collect();
        let report = Report { objects, ..Report::default() };
        let text = render(&report, None);
        assert!(chars(&text) <= LIMIT, "{}", chars(&text));
        let shown = text.matches("<details>").count();
        assert!(shown > 0 && shown < 40, "{shown}");
        assert!(text.starts_with("Plan: 0 to add, 40 to change, 0 to destroy."), "the summary counts everything");
        assert!(
            text.ends_with(&format!(
                "_Cut to stay within 60000 characters (a GitHub comment holds 65536): {} of 40 blocks left out. \
                 Run `gpuplan diff` for the whole diff._\n",
                40 - shown
            )),
            "{}",
            &text[text.len() - 300..]
        );
        assert_eq!(text.matches("</details>").count(), shown, "no block is cut in the middle");
    }
}
