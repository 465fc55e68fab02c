//! What the facts say about the values, and what the values need of facts that were not given.
//!
//! Input: the typed config and the [`Facts`]. Output: diagnostics — without facts, a warning
//! for every value whose rendering depends on the cluster (the driver image tag first, then
//! the GPU nodes' container runtime, then ServiceMonitors), each naming `--facts`; with facts,
//! what in them cannot be served (a GPU node without NFD's OS labels, a runtime gpuplan does
//! not know, precompiled drivers without a driver branch).

use super::Facts;
use crate::config::Config;
use crate::error::Diagnostic;

/// How to give facts, for hints.
pub const HOW: &str = "give the cluster's facts: --facts FILE (`kubectl get nodes -o yaml` output, or `gpuplan facts`), and --api-versions / --kube-version as with Helm";

/// The diagnostics (see the module docs); those about facts that were not given only with
/// `missing` (`lint` asks for them; rendering commands stay quiet, as `helm template` does).
pub fn check(config: &Config, facts: &Facts, missing: bool) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let driver = &config.driver;
    let renders_driver = driver.enabled && !driver.nvidia_driver_crd.enabled;
    let digest = driver.version.starts_with("sha256:");
    match facts.gpu_os() {
        None if missing && renders_driver && !digest => out.push(
            Diagnostic::warning(
                "/driver/version",
                format!(
                    "the upstream operator appends the GPU nodes' OS to the driver image tag ({0}-ubuntu22.04, -rhel9.4, ...); without facts gpuplan renders {1}:{0}, which NVIDIA does not publish",
                    driver.version,
                    [driver.repository.as_str(), driver.image.as_str()]
                        .iter()
                        .filter(|p| !p.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join("/"),
                ),
            )
            .with_hint(HOW),
        ),
        Some(os) if renders_driver && os.is_empty() && facts.gpu_nodes().next().is_some() => out.push(
            Diagnostic::warning("/driver/version", "no GPU node has NFD's os_release labels: the driver image tag has no OS")
                .with_hint("deploy Node Feature Discovery (nfd.enabled) and take the facts again once it has labelled the nodes"),
        ),
        _ => {}
    }
    if renders_driver && driver.use_precompiled && !is_branch(&driver.version) && !digest {
        out.push(
            Diagnostic::error(
                "/driver/version",
                "precompiled drivers are published per driver branch: `<branch>-<kernel>-<os>` tags",
            )
            .expected_found("a driver branch such as 595 with driver.usePrecompiled", format!("{:?}", driver.version)),
        );
    }
    if facts.nodes.is_some() && facts.gpu_nodes().next().is_none() {
        out.push(
            Diagnostic::warning(
                "",
                "the facts list no GPU node (no NFD NVIDIA PCI label, no nvidia.com/gpu.present=true)",
            )
            .with_hint("GPU nodes are those NFD labels feature.node.kubernetes.io/pci-10de.present=true"),
        );
    }
    // Once, not per node: with thousands of GPU nodes, per node was quadratic.
    let os_known = facts.gpu_os().is_some_and(|os| !os.is_empty());
    for node in facts.gpu_nodes() {
        if node.runtime().is_none() {
            out.push(Diagnostic::warning(
                "",
                format!(
                    "GPU node {} runs a container runtime gpuplan does not know ({:?}): no node agent selects it",
                    node.name, node.container_runtime_version
                ),
            ));
        } else if os_known && node.os().is_none() && renders_driver {
            out.push(Diagnostic::warning(
                "",
                format!("GPU node {} has no NFD os_release labels: no driver DaemonSet selects it", node.name),
            ));
        }
    }
    if missing && facts.gpu_runtimes().is_none() && config.toolkit.enabled {
        out.push(
            Diagnostic::warning(
                "/operator/defaultRuntime",
                format!(
                    "every GPU node is taken to run {:?} (operator.defaultRuntime); a node running another runtime would get a node agent that fails there",
                    format!("{:?}", config.operator.default_runtime).to_lowercase()
                ),
            )
            .with_hint(HOW),
        );
    }
    if missing && facts.api_versions.is_none() && renders_service_monitors(config) {
        out.push(
            Diagnostic::warning("", "ServiceMonitors are rendered as if the cluster served monitoring.coreos.com/v1")
                .with_hint("without the Prometheus Operator's CRDs they fail to apply; --api-versions monitoring.coreos.com/v1 (or a gpuplan facts snapshot) says whether it does"),
        );
    }
    out
}

/// A driver branch: digits only (`595`).
fn is_branch(version: &str) -> bool {
    !version.is_empty() && version.chars().all(|c| c.is_ascii_digit())
}

/// Whether the values render a ServiceMonitor (DCGM exporter's, the node status exporter's,
/// the operator's own).
fn renders_service_monitors(config: &Config) -> bool {
    let exporter = &config.dcgm_exporter;
    let operator = config.operator.metrics.as_ref().and_then(|m| m.service_monitor.as_ref());
    (exporter.enabled && exporter.service_monitor.enabled)
        || config.node_status_exporter.enabled
        || operator.is_some_and(|sm| sm.enabled == Some(true))
}
