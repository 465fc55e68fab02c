//! The compiler's integration tests: one binary, one module per area.

mod crd;
mod defaults;
mod explain;
mod facts;
mod fixtures;
mod fuzz;
mod golden_node;
mod helm_conformance;
mod hostile_inputs;
mod node_agent_env;
mod node_conformance;
mod node_containerd;
mod node_crio;
mod node_docker;
mod node_ownership;
mod node_roundtrip;
mod render_dcgm;
mod render_device_plugin_gfd_mig;
mod render_driver_validation;
mod render_operator_nfd;
mod render_toolkit;
mod rendered;
mod robustness;
mod schema;
mod snapshot;
mod values_de;
