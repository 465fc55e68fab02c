//! Differences between texts, as unified diffs.
//!
//! Input: a file's text before and after (`None`: the file does not exist). Output: a unified
//! diff with `---`/`+++` headers (`/dev/null` for a file created or deleted) and three lines
//! of context, or nothing when the texts are equal.

use similar::TextDiff;

/// The unified diff of one file, empty when nothing changes.
pub fn unified(path: &str, before: Option<&str>, after: Option<&str>) -> String {
    if before == after {
        return String::new();
    }
    let old_name = if before.is_some() { format!("a{path}") } else { "/dev/null".to_owned() };
    let new_name = if after.is_some() { format!("b{path}") } else { "/dev/null".to_owned() };
    let diff = TextDiff::from_lines(before.unwrap_or_default(), after.unwrap_or_default());
    diff.unified_diff().context_radius(3).header(&old_name, &new_name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_one_changed_line_shows_only_that_line_with_context() {
        let diff = unified("/etc/x.toml", Some("a = 1\nb = 2\nc = 3\n"), Some("a = 1\nb = 9\nc = 3\n"));
        assert_eq!(diff, "--- a/etc/x.toml\n+++ b/etc/x.toml\n@@ -1,3 +1,3 @@\n a = 1\n-b = 2\n+b = 9\n c = 3\n");
    }

    #[test]
    fn given_a_new_file_diffs_against_dev_null() {
        assert!(unified("/x", None, Some("a\n")).starts_with("--- /dev/null\n+++ b/x\n"));
        assert_eq!(unified("/x", Some("a\n"), Some("a\n")), "");
    }
}
