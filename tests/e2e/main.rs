//! End-to-end tests against real components, installed by `scripts/install-test-deps`:
//! containerd 1.6, 1.7 and 2.x, the Kubernetes JSON schemas (PyPI `kubernetes-validate`) and a
//! YAML 1.1 reader (PyYAML). A test whose component is missing skips with a loud message on a
//! developer's machine; with `GPUPLAN_REQUIRE_REAL=1` (set by `scripts/test`, so in CI) a
//! missing component fails the test instead.

mod apiserver;
mod apiserver_smoke;
mod kube_schema;
mod manifests;
mod node_containerd;
mod real;
mod stand_in;
mod yaml_roundtrip;
