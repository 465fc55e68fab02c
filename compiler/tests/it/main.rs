//! The compiler's integration tests: one binary, one module per area.

mod defaults;
mod helm_conformance;
mod robustness;
mod schema;
