//! Every limit gpuplan puts on its input, in one place, with the reason for each figure.
//!
//! Input: nothing; these are constants and a counter. Output: the figures the loaders, the
//! `--set` parsers, the plan reader and the binary check against, so an error can name the
//! limit it hit and the README can list them.
//!
//! The rule for every figure: generous enough that a real values file never reaches it, strict
//! enough that an attack always does, and low enough that memory and time stay bounded. The
//! upstream chart's `values.yaml` is 20 KB, about 1,500 values, nested 9 levels deep; the
//! largest real values files seen are a few hundred KB.

/// Most bytes of one input: a `-f` file, standard input, a `--set-file` file. 3,000 times
/// the upstream defaults; a larger file is not a values file (`/dev/zero`, a disk image).
pub const MAX_INPUT_BYTES: usize = 64 << 20;

/// Most bytes of one `--set*` flag's text. Linux already caps one argument at 128 KiB; this
/// bounds what a library caller (the operator, a test) may hand in.
pub const MAX_FLAG_BYTES: usize = 1 << 20;

/// Most bytes of every input together (files, standard input, `--set-file` files).
pub const MAX_TOTAL_INPUT_BYTES: usize = 128 << 20;

/// Most values (maps, lists and scalars, anchors expanded, `--set` list padding included) in
/// the values of one run. Each costs up to about 1.5 KB in memory while values are loaded,
/// merged and checked (a map of two keys allocates a whole B-tree node), so this bounds memory
/// to about 1.5 GB in the worst shape and far less in real ones. The upstream defaults hold
/// about 1,500.
pub const MAX_NODES: usize = 1_000_000;

/// How deep values may nest: the top-level map is level 1. Real values nest about 10 levels;
/// Helm's `--set` allows 30 key levels. Rendering puts a value at most a few levels deeper in
/// an object, and a plan a few more, so every plan gpuplan writes stays well within
/// [`MAX_DOCUMENT_DEPTH`] and reads back.
pub const MAX_DEPTH: usize = 64;

/// How deep a plan, a manifest or a rendered object may nest (`gpuplan diff` reads these).
/// Kept below serde_json's own limit of 128 so a JSON plan fails here, with this message.
pub const MAX_DOCUMENT_DEPTH: usize = 100;

/// go-yaml's alias rule (`decode.go`), which Helm relies on: once more than
/// [`ALIAS_MIN_COUNT`] values came from aliases and more than [`ALIAS_MIN_DECODED`] were decoded,
/// at most a [`alias_ratio`] share of all decoded values may come from aliases.
pub const ALIAS_MIN_COUNT: usize = 100;
/// See [`ALIAS_MIN_COUNT`].
pub const ALIAS_MIN_DECODED: usize = 1000;

/// The share of decoded values that may come from aliases, for a document that has decoded
/// `decoded` values so far: 99% up to 400,000, 10% from 4,000,000, linear in between (go-yaml's
/// `allowedAliasRatio`).
pub fn alias_ratio(decoded: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    match decoded {
        d if d <= LOW => 0.99,
        d if d >= HIGH => 0.10,
        d => 0.99 - 0.89 * ((d - LOW) as f64 / (HIGH - LOW) as f64),
    }
}

/// Most bytes of text (keys and scalars) aliases may add to a document. go-yaml shares one
/// copy of an aliased string, so its count rule lets 1,000 aliases of a 1 MB string through;
/// gpuplan copies values, so it also counts their size, and holds an expanded document to the
/// size of the largest file it reads.
pub const MAX_ALIAS_BYTES: usize = MAX_INPUT_BYTES;

/// How many diagnostics the command line prints in full; the rest are counted. Reading more
/// than a hundred is not useful, and printing a snippet for each of a million is not linear.
pub const MAX_DIAGNOSTICS_SHOWN: usize = 100;

/// A size in bytes as people say it: `64 MiB`, `1 MiB`, `512 bytes`.
pub fn bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// A count with thousands separators: `1,000,000`.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The values made so far in one run, against [`MAX_NODES`]: the loaders and the `--set`
/// parsers count into the same budget, so many inputs cannot add up past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    left: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { left: MAX_NODES }
    }
}

impl Budget {
    /// A budget of `nodes` values.
    pub fn new(nodes: usize) -> Self {
        Budget { left: nodes }
    }

    /// Take `n` values; false (and nothing taken) when fewer are left.
    pub fn take(&mut self, n: usize) -> bool {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }

    /// The message for an input that ran out of budget.
    pub fn exhausted() -> String {
        format!("the values hold more than {} values (gpuplan's limit)", count(MAX_NODES))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_sizes_produces_figures_people_read() {
        assert_eq!(bytes(MAX_INPUT_BYTES), "64 MiB");
        assert_eq!(bytes(3 << 19), "1.5 MiB");
        assert_eq!(bytes(4096), "4 KiB");
        assert_eq!(bytes(100), "100 bytes");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(count(999), "999");
    }

    #[test]
    fn given_go_yamls_range_the_alias_ratio_falls_from_99_to_10_percent() {
        assert!((alias_ratio(1000) - 0.99).abs() < 1e-9);
        assert!((alias_ratio(2_200_000) - 0.545).abs() < 1e-9);
        assert!((alias_ratio(10_000_000) - 0.10).abs() < 1e-9);
    }

    #[test]
    fn given_a_budget_taking_past_it_fails_and_takes_nothing() {
        let mut budget = Budget::new(3);
        assert!(budget.take(2));
        assert!(!budget.take(2));
        assert!(budget.take(1));
    }
}
