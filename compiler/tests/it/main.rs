//! The compiler's integration tests: one binary, one module per area.

mod defaults;
mod fixtures;
mod golden_node;
mod helm_conformance;
mod node_conformance;
mod node_containerd;
mod node_crio;
mod node_docker;
mod robustness;
mod schema;
