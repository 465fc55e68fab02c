//! Three-way merge of lines: take gpuplan's change out of a file someone edited since.
//!
//! Input: three texts — `base`, what gpuplan wrote; `ours`, the file as it is now; `theirs`,
//! the file as it was before gpuplan. Output: `ours` with the change from `base` to `theirs`
//! made in it — the edits made since gpuplan wrote the file stay, gpuplan's change goes — or
//! the place where both changed the same lines.
//!
//! Lines keep their terminators (`\n`, `\r\n`, none on a last line) and a byte-order mark
//! stays part of the first line, so a merge gives back bytes, not a normalised text.
//! Conflicts are strict, as git's: two changes conflict when they overlap *or touch* (a line
//! inserted right after a line the other side changed). In a TOML or JSON file the line after
//! a header belongs to that header, so two changes side by side cannot be told apart safely;
//! the same change made on both sides (both removed gpuplan's table) is not a conflict.

use std::ops::Range;

use similar::{Algorithm, capture_diff_slices};

/// Where both sides changed the same lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// First line of the conflicting region in `ours`, 1-based.
    pub line: usize,
    /// How many lines of `ours` the region spans (0: an insertion point).
    pub lines: usize,
}

/// The lines of a text, each with its terminator.
pub fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// One change from `base` to another text: the base lines `base` are replaced by the other
/// text's lines `new`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hunk {
    base: Range<usize>,
    new: Range<usize>,
}

/// The changes from `base` to `other`, neighbouring changes joined into one.
fn hunks(base: &[&str], other: &[&str]) -> Vec<Hunk> {
    let mut out: Vec<Hunk> = Vec::new();
    for op in capture_diff_slices(Algorithm::Myers, base, other) {
        let (tag, old, new) = op.as_tag_tuple();
        if tag == similar::DiffTag::Equal {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.base.end == old.start && last.new.end == new.start => {
                last.base.end = old.end;
                last.new.end = new.end;
            }
            _ => out.push(Hunk { base: old, new }),
        }
    }
    out
}

/// `ours` with the change from `base` to `theirs` in it.
pub fn merge(base: &str, ours: &str, theirs: &str) -> Result<String, Conflict> {
    let (base, ours, theirs) = (lines(base), lines(ours), lines(theirs));
    let (a, b) = (hunks(&base, &ours), hunks(&base, &theirs));
    let mut out = String::new();
    let (mut i, mut j, mut pos) = (0, 0, 0);
    // How far `ours` is ahead of `base` in lines, for reporting conflicts in `ours`' numbering.
    let mut shift: isize = 0;
    while i < a.len() || j < b.len() {
        // A cluster: the next hunk and every hunk of either side that overlaps or touches it.
        let start = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.base.start.min(y.base.start),
            (Some(x), None) => x.base.start,
            (None, Some(y)) => y.base.start,
            (None, None) => break,
        };
        let (i0, j0) = (i, j);
        let mut end = start;
        loop {
            if let Some(h) = a.get(i).filter(|h| h.base.start <= end) {
                end = end.max(h.base.end);
                i += 1;
            } else if let Some(h) = b.get(j).filter(|h| h.base.start <= end) {
                end = end.max(h.base.end);
                j += 1;
            } else {
                break;
            }
        }
        out.extend(base[pos..start].iter().copied());
        let (ours_side, theirs_side) = (&a[i0..i], &b[j0..j]);
        let ours_start = start.saturating_add_signed(shift);
        let ours_len = ours_side.iter().map(|h| h.new.len()).sum::<usize>()
            + (end - start - ours_side.iter().map(|h| h.base.len()).sum::<usize>());
        let same = ours_side.len() == theirs_side.len()
            && ours_side
                .iter()
                .zip(theirs_side)
                .all(|(x, y)| x.base == y.base && ours[x.new.clone()] == theirs[y.new.clone()]);
        if theirs_side.is_empty() || same {
            replay(&mut out, &base, &ours, ours_side, start, end);
        } else if ours_side.is_empty() {
            replay(&mut out, &base, &theirs, theirs_side, start, end);
        } else {
            return Err(Conflict { line: ours_start + 1, lines: ours_len });
        }
        shift += ours_len as isize - (end - start) as isize;
        pos = end;
    }
    out.extend(base[pos..].iter().copied());
    Ok(out)
}

/// The base lines `start..end` with one side's hunks made in them.
fn replay(out: &mut String, base: &[&str], side: &[&str], hunks: &[Hunk], start: usize, end: usize) {
    let mut pos = start;
    for h in hunks {
        out.extend(base[pos..h.base.start].iter().copied());
        out.extend(side[h.new.clone()].iter().copied());
        pos = h.base.end;
    }
    out.extend(base[pos..end].iter().copied());
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "a\nb\nc\nd\ne\nf\n";

    #[test]
    fn given_edits_apart_both_are_kept() {
        let ours = "a\nB\nc\nd\ne\nf\n";
        let theirs = "a\nb\nc\nd\ne\nF\n";
        assert_eq!(merge(BASE, ours, theirs), Ok("a\nB\nc\nd\ne\nF\n".to_owned()));
    }

    #[test]
    fn given_the_same_change_on_both_sides_it_is_made_once() {
        let both = "a\nb\nd\ne\nf\n";
        assert_eq!(merge(BASE, both, both), Ok(both.to_owned()));
    }

    #[test]
    fn given_changes_that_touch_it_is_a_conflict_in_ours_numbering() {
        let ours = "x\ny\na\nb\nC\nd\ne\nf\n";
        let theirs = "a\nb\nc\nD\ne\nf\n";
        assert_eq!(merge(BASE, ours, theirs), Err(Conflict { line: 5, lines: 2 }));
    }

    #[test]
    fn given_an_insertion_next_to_a_change_it_is_a_conflict() {
        let ours = "a\nb\nc\nnew\nd\ne\nf\n";
        let theirs = "a\nb\nC\nd\ne\nf\n";
        assert!(merge(BASE, ours, theirs).is_err());
    }

    #[test]
    fn given_crlf_a_bom_and_no_final_newline_the_bytes_stay() {
        let base = "\u{feff}a\r\nb\r\nc";
        let ours = "\u{feff}a\r\nb\r\nc\r\nd";
        let theirs = "\u{feff}A\r\nb\r\nc";
        // `c` became `c\r\n` on our side and `a` changed on theirs: apart, both kept.
        assert_eq!(merge(base, ours, theirs), Ok("\u{feff}A\r\nb\r\nc\r\nd".to_owned()));
    }

    #[test]
    fn given_no_edit_since_the_result_is_theirs() {
        assert_eq!(merge(BASE, BASE, "a\n"), Ok("a\n".to_owned()));
        assert_eq!(merge("x\n", "x\n", ""), Ok(String::new()));
    }
}
