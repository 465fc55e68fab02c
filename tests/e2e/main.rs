//! End-to-end tests against real components, installed by `scripts/install-test-deps`:
//! containerd 1.6, 1.7 and 2.x, the Kubernetes JSON schemas (PyPI `kubernetes-validate`) and a
//! YAML 1.1 reader (PyYAML), and a CRI client (PyPI `container-runtime-interface-api` and
//! `grpcio`, run by `cri_status.py`) that reads back what a running containerd serves; the node
//! agent runs against supervised private containerd daemons; and a real Kubernetes API server
//! (`apiextensions-apiserver` built from Debian's Go sources, with etcd from PyPI;
//! `scripts/install-apiserver`) for server-side apply and the apply engine; the Helm chart is
//! rendered by Helm 3.6 and the Helm v4 engine (`scripts/install-helm`). A test whose
//! component is missing skips with a loud message on a developer's machine; with `GPUPLAN_REQUIRE_REAL=1` (set by `scripts/test`, so in CI) a
//! missing component fails the test instead.

mod agent;
mod apiserver;
mod apiserver_smoke;
mod apply_real;
mod chart;
mod docker;
mod kube_schema;
mod kube_server;
mod manifests;
mod node_containerd;
mod operator_real;
mod real;
mod stand_in;
mod supervisor;
mod systemd;
mod yaml_roundtrip;
