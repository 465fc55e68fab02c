//! The body of one object's diff: a line diff of its YAML, in helm-diff's style.
//!
//! Input: the old and new lines of an object ([`super::yaml::lines`]; empty for an object
//! added or removed), how many lines of context to keep, and whether to colour. Output: the
//! lines prefixed `+ `, `- ` or two spaces; runs of unchanged lines further than the context
//! from a change become one `...` line — except the lines that open the maps and list items a
//! change sits in (`spec:`, `- name: nvidia-container-toolkit-ctr`, `- name: CONTAINERD_SOCKET`),
//! which are always shown, so every change says where it is. Their indentation already says
//! that lines were left out between them, so no `...` precedes them.

use similar::{Algorithm, DiffOp, capture_diff_slices};

use super::yaml::Line;

/// ANSI colours, only used when asked.
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const RESET: &str = "\x1b[0m";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Equal,
    Delete,
    Insert,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: Tag,
    old: Option<usize>,
    new: Option<usize>,
}

/// The body; `context: None` keeps every line.
pub fn body(old: &[Line], new: &[Line], context: Option<usize>, color: bool) -> String {
    let old_text: Vec<&str> = old.iter().map(|l| l.text.as_str()).collect();
    let new_text: Vec<&str> = new.iter().map(|l| l.text.as_str()).collect();
    let entries = entries(&capture_diff_slices(Algorithm::Myers, &old_text, &new_text));
    let shown = shown(&entries, old, new, context);

    let mut out = String::new();
    let mut gap = false;
    let mut last = Show::Hidden;
    for (e, &show) in entries.iter().zip(&shown) {
        if show == Show::Hidden {
            gap = true;
            continue;
        }
        // Within a chain of opening lines the indentation shows what was left out.
        let chain = show == Show::Ancestor && last != Show::Near;
        if std::mem::take(&mut gap) && !chain {
            out.push_str("...\n");
        }
        last = show;
        let (prefix, text, paint) = match e.tag {
            Tag::Equal => ("  ", new_text[e.new.unwrap_or_default()], ""),
            Tag::Delete => ("- ", old_text[e.old.unwrap_or_default()], RED),
            Tag::Insert => ("+ ", new_text[e.new.unwrap_or_default()], GREEN),
        };
        let line = format!("{prefix}{text}");
        let line = line.trim_end();
        if color && !paint.is_empty() {
            out.push_str(&format!("{paint}{line}{RESET}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if gap {
        out.push_str("...\n");
    }
    out
}

/// The diff as one sequence of entries, deletions before insertions within a change.
fn entries(ops: &[DiffOp]) -> Vec<Entry> {
    let mut out = Vec::new();
    for op in ops {
        match *op {
            DiffOp::Equal { old_index, new_index, len } => out.extend((0..len).map(|i| Entry {
                tag: Tag::Equal,
                old: Some(old_index + i),
                new: Some(new_index + i),
            })),
            DiffOp::Delete { old_index, old_len, .. } => {
                out.extend((0..old_len).map(|i| Entry { tag: Tag::Delete, old: Some(old_index + i), new: None }));
            }
            DiffOp::Insert { new_index, new_len, .. } => {
                out.extend((0..new_len).map(|i| Entry { tag: Tag::Insert, old: None, new: Some(new_index + i) }));
            }
            DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                out.extend((0..old_len).map(|i| Entry { tag: Tag::Delete, old: Some(old_index + i), new: None }));
                out.extend((0..new_len).map(|i| Entry { tag: Tag::Insert, old: None, new: Some(new_index + i) }));
            }
        }
    }
    out
}

/// Why a line prints, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    Hidden,
    /// It opens a map or list item a change is in.
    Ancestor,
    /// A change, or context near one.
    Near,
}

/// Which entries print: the changes, their context, and the lines their maps hang from.
fn shown(entries: &[Entry], old: &[Line], new: &[Line], context: Option<usize>) -> Vec<Show> {
    let Some(context) = context else { return vec![Show::Near; entries.len()] };
    let mut old_entry = vec![0; old.len()];
    let mut new_entry = vec![0; new.len()];
    for (i, e) in entries.iter().enumerate() {
        if let Some(o) = e.old {
            old_entry[o] = i;
        }
        if let Some(n) = e.new {
            new_entry[n] = i;
        }
    }
    let mut shown = vec![Show::Hidden; entries.len()];
    for (i, e) in entries.iter().enumerate() {
        let (lines, index, to_entry) = match e.tag {
            Tag::Equal => continue,
            Tag::Delete => (old, e.old, &old_entry),
            Tag::Insert => (new, e.new, &new_entry),
        };
        let from = i.saturating_sub(context);
        let to = (i + context).min(entries.len() - 1);
        shown[from..=to].iter_mut().for_each(|s| *s = Show::Near);
        let mut parent = index.and_then(|n| lines[n].parent);
        while let Some(p) = parent {
            let s = &mut shown[to_entry[p]];
            if *s == Show::Hidden {
                *s = Show::Ancestor;
            }
            parent = lines[p].parent;
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::yaml::lines;
    use super::*;

    #[test]
    fn given_one_changed_env_value_the_body_shows_that_line_under_its_entry() {
        let env: Vec<_> = (0..30).map(|i| json!({"name": format!("V{i:02}"), "value": format!("{i}")})).collect();
        let old = json!({"spec": {"containers": [{"name": "ctr", "env": env, "image": "i"}]}});
        let mut new = old.clone();
        new["spec"]["containers"][0]["env"][20]["value"] = json!("changed");
        let text = body(&lines(&old), &lines(&new), Some(0), false);
        assert_eq!(
            text,
            "  spec:\n    containers:\n    - name: ctr\n      env:\n      - name: V20\n-       value: \"20\"\n+       value: changed\n...\n"
        );
    }

    #[test]
    fn given_no_context_limit_every_line_prints_and_colour_only_marks_changes() {
        let text = body(&lines(&json!({"a": 1, "b": 2})), &lines(&json!({"a": 1, "b": 3})), None, true);
        assert_eq!(text, "  a: 1\n\x1b[31m- b: 2\x1b[0m\n\x1b[32m+ b: 3\x1b[0m\n");
    }

    #[test]
    fn given_an_added_object_every_line_is_an_addition() {
        assert_eq!(body(&[], &lines(&json!({"a": {"b": 1}})), Some(3), false), "+ a:\n+   b: 1\n");
    }
}
