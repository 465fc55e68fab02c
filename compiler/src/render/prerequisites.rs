//! Stage `pre-requisites`: the RuntimeClasses GPU pods run with.
//!
//! Input: `operator.runtimeClass`, `cdi.enabled`, `cdi.nriPluginEnabled`. Output: RuntimeClass
//! `<runtimeClass>` (handler of the same name — the runtime the node agent registers), and
//! with CDI on also `nvidia-cdi` and `nvidia-legacy`. In NRI plugin mode there are none: the
//! plugin injects devices without a runtime handler. `node.k8s.io/v1beta1` up to Kubernetes
//! 1.20, as upstream.

use serde::Serialize;

use super::operand::MANAGED_BY;
use super::{Context, Out};
use crate::error::Error;

#[derive(Serialize)]
struct View<'a> {
    api_version: &'static str,
    names: Vec<&'a str>,
    managed_by: (&'static str, &'static str),
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    if ctx.config.cdi.nri_plugin_enabled {
        return Ok(());
    }
    let mut names = vec![ctx.node.runtime_name.as_str()];
    if ctx.config.cdi.enabled {
        names.extend(["nvidia-cdi", "nvidia-legacy"]);
    }
    names.dedup();
    let api_version = if minor(&ctx.release.kube_version) <= 20 { "node.k8s.io/v1beta1" } else { "node.k8s.io/v1" };
    out.emit("pre-requisites/runtimeclass.yaml", &View { api_version, names, managed_by: MANAGED_BY })
}

/// The minor version of a `1.31`/`v1.31.2` Kubernetes version (0 when unreadable).
pub fn minor(version: &str) -> u32 {
    version.trim_start_matches('v').split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(0)
}
