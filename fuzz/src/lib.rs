//! gpuplan's fuzz targets: structure-aware inputs built from bytes, and the properties every
//! input must keep. Shared by two harnesses:
//!
//! - coverage-guided, with libFuzzer (`fuzz/fuzz_targets/*.rs`, `cargo fuzz`; `scripts/fuzz` runs
//!   a million inputs per target);
//! - stable, in the normal test run: `compiler/tests/it/fuzz.rs` includes this file and runs a
//!   few thousand inputs per target from a seeded generator.
//!
//! Each target reads its bytes through [`Gen`], which turns them into choices (`below`, `pick`,
//! `bool`): the first bytes choose between a structured input and the raw bytes as text, so
//! libFuzzer's mutations move through real shapes — key paths from the schema, YAML anchors,
//! containerd plugin tables — rather than mostly through syntax errors. A target panics when a
//! property fails; that is what both harnesses report.
//!
//! | target | input | properties |
//! |---|---|---|
//! | [`set_flags`] | 1–4 `--set`, `--set-string`, `--set-json`, `--set-file`, `--set-literal` flags | no panic; loaded values within the depth and size limits; errors never show a secret value; checking and rendering diagnostics never panic |
//! | [`yaml`] | a YAML document (anchors, aliases, merge keys, tags, YAML 1.1 scalars, flow and block) | no panic; within the limits; what gpuplan prints reads back as the same values; the plan reader never panics |
//! | [`node_containerd`], [`node_crio`], [`node_docker`] | a node's config files and a node change | no panic; apply then apply again changes nothing; revert gives every file back byte for byte; a transaction stopped after any step is finished by the next apply and undone by revert |

mod node;
mod values;

pub use node::{node_containerd, node_crio, node_docker};
pub use values::{set_flags, yaml};

/// A fuzz target: it panics when a property fails.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, as `scripts/fuzz` and the stable harness run them.
pub const TARGETS: [(&str, Target); 5] = [
    ("set_flags", set_flags),
    ("yaml", yaml),
    ("node_containerd", node_containerd),
    ("node_crio", node_crio),
    ("node_docker", node_docker),
];

/// The input a target builds from `data`, for a person to read when it fails.
pub fn describe(target: &str, data: &[u8]) -> String {
    match target {
        "set_flags" => format!("{:#?}", values::set_flags_input(data).0.flags),
        "yaml" => values::yaml_input(data),
        "node_containerd" => node::describe(data, gpuplan_compiler::node::RuntimeKind::Containerd),
        "node_crio" => node::describe(data, gpuplan_compiler::node::RuntimeKind::Crio),
        "node_docker" => node::describe(data, gpuplan_compiler::node::RuntimeKind::Docker),
        _ => String::new(),
    }
}

/// Choices read from fuzz bytes. Past the end every byte reads as 0, so the first choice of
/// every list (the shortest input) is what an exhausted input makes.
pub struct Gen<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Gen<'a> {
    /// Choices from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Gen { data, pos: 0 }
    }

    /// The next byte.
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number in `0..n` (`n` at least 1; 0 when it is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let raw =
            if n <= 256 { usize::from(self.byte()) } else { usize::from(self.byte()) << 8 | usize::from(self.byte()) };
        raw % n
    }

    /// A coin.
    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// One of `items` (which must not be empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// The rest of the bytes as text (invalid UTF-8 replaced).
    pub fn rest(&mut self) -> String {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        self.pos = self.data.len();
        String::from_utf8_lossy(rest).into_owned()
    }

    /// Up to `max` bytes as text.
    pub fn text(&mut self, max: usize) -> String {
        let n = self.below(max + 1);
        let end = (self.pos + n).min(self.data.len());
        let text = String::from_utf8_lossy(self.data.get(self.pos..end).unwrap_or_default()).into_owned();
        self.pos = end.max(self.pos);
        text
    }
}

/// A deterministic pseudo-random byte source for the stable harness (xorshift64*): the same
/// seed gives the same inputs on every machine.
pub struct Seeded(u64);

impl Seeded {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Seeded(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// An input of up to `max` bytes.
    pub fn input(&mut self, max: usize) -> Vec<u8> {
        let len = (self.next() % (max as u64 + 1)) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }
}
