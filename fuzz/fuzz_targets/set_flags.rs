//! Fuzz target `set_flags`: see `fuzz/src/lib.rs` for the input it builds and the properties it checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gpuplan_fuzz::set_flags(data));
