//! Build script of the `gpuplan` binary: it only tells cargo to link the binary again when the
//! link order changes.
//!
//! Input: `link-order.txt` (read by the linker wrapper, scripts/lib/cc-ordered, not by rustc).
//! Output: nothing but that instruction. Without it, a list written afresh by
//! `scripts/link-order` left the binary linked in the old order until some source changed, and
//! a benchmark measured the stale layout.

fn main() {
    println!("cargo:rerun-if-changed=link-order.txt");
}
