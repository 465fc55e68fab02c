//! End-to-end tests against real components, installed by `scripts/install-test-deps`:
//! containerd 1.6, 1.7 and 2.x, the Kubernetes JSON schemas (PyPI `kubernetes-validate`) and a
//! YAML 1.1 reader (PyYAML), and a CRI client (PyPI `container-runtime-interface-api` and
//! `grpcio`, run by `cri_status.py`) that reads back what a running containerd serves; the node
//! agent runs against supervised private containerd daemons; a Kubernetes API server for the
//! built-in kinds (`tests/kube-test-server`, built from Debian's Go sources, with etcd from PyPI;
//! `kube_server.rs`) for server-side apply, the apply engine, the cluster commands and the
//! operator; the Helm chart is rendered by Helm 3.6 and the Helm v4 engine
//! (`scripts/install-helm`); the `template --output-dir` tree is built by Debian's kustomize
//! (`scripts/install-kustomize`). A test whose component is missing fails, naming it and how to
//! install it; `GPUPLAN_SKIP_REAL=1` makes it skip instead (see `real.rs`).

mod agent;
mod apply_real;
mod chart;
mod cli_cluster;
mod cli_saved_plan;
mod cluster;
mod docker;
mod facts;
mod kube_schema;
mod kube_server;
mod kustomize;
mod manifests;
mod node_containerd;
mod operator_facts;
mod operator_real;
mod real;
mod supervisor;
mod systemd;
mod yaml_roundtrip;
