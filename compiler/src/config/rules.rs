//! The semantic rules of the values: what the schema cannot say about one key alone.
//!
//! Input: the typed [`Config`] and the effective values (for origins). Output: diagnostics —
//! the upstream chart's own `validations.yaml` rules (errors there too), and warnings for
//! settings that work but rarely do what was meant (the same env name twice).

use std::collections::BTreeMap;

use super::Config;
use super::kube::EnvVar;
use crate::error::Diagnostic;
use crate::values::Values;

/// Every rule, over the whole config.
pub fn check(config: &Config, values: &Values) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let origin = |pointer: &str| values.pointer(pointer).map(|n| n.origin.clone());
    let mut error = |pointer: &str, message: &str, hint: &str| {
        out.push(Diagnostic::error(pointer, message).with_origin(origin(pointer)).with_hint(hint));
    };
    if config.cluster_policy.deploy_cr && config.gpu_cluster.deploy_cr {
        error(
            "/gpuCluster/deployCR",
            "`clusterPolicy.deployCR` and `gpuCluster.deployCR` cannot both be true",
            "the ClusterPolicy and the GPUCluster stacks exclude each other; turn one off",
        );
    }
    if config.gpu_cluster.deploy_cr && config.driver.enabled && !config.driver.nvidia_driver_crd.enabled {
        error(
            "/driver/nvidiaDriverCRD/enabled",
            "`gpuCluster.deployCR` with a managed driver needs `driver.nvidiaDriverCRD.enabled`",
            "set driver.nvidiaDriverCRD.enabled=true, or driver.enabled=false",
        );
    }
    if config.cdi.nri_plugin_enabled && !config.cdi.enabled {
        error("/cdi/nriPluginEnabled", "`cdi.nriPluginEnabled` needs `cdi.enabled`", "set cdi.enabled=true");
    }
    if config.cdi.nri_plugin_enabled && !config.toolkit.enabled {
        error(
            "/cdi/nriPluginEnabled",
            "`cdi.nriPluginEnabled` needs `toolkit.enabled`: the NRI plugin runs in the toolkit pod",
            "set toolkit.enabled=true",
        );
    }
    let plugin = &config.device_plugin.config;
    if plugin.create && (plugin.name.is_empty() || plugin.data.is_empty()) {
        error(
            "/devicePlugin/config",
            "`devicePlugin.config.create` needs both `name` and `data`",
            "give the ConfigMap a name and at least one file under data, or set create=false",
        );
    }
    let mig = &config.mig_manager.config;
    if mig.create && mig.name.is_empty() {
        error(
            "/migManager/config/name",
            "`migManager.config.create` needs a `name` for the ConfigMap",
            "set migManager.config.name",
        );
    }
    let env_lists: [(&str, &[EnvVar]); 8] = [
        ("/toolkit/env", &config.toolkit.env),
        ("/driver/env", &config.driver.env),
        ("/devicePlugin/env", &config.device_plugin.env),
        ("/dcgm/env", &config.dcgm.env),
        ("/dcgmExporter/env", &config.dcgm_exporter.env),
        ("/gfd/env", &config.gfd.env),
        ("/migManager/env", &config.mig_manager.env),
        ("/operator/env", &config.operator.env),
    ];
    for (pointer, env) in env_lists {
        out.extend(duplicate_env(pointer, env, values));
    }
    out
}

/// The same variable twice in one env list: the operator sets env by name, so the later entry
/// silently wins.
fn duplicate_env(pointer: &str, env: &[EnvVar], values: &Values) -> Vec<Diagnostic> {
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, var) in env.iter().enumerate() {
        if let Some(&earlier) = first.get(var.name.as_str()) {
            let at = format!("{pointer}/{i}");
            out.push(
                Diagnostic::warning(&at, format!("`{}` is set twice; entry {i} overrides entry {earlier}", var.name))
                    .with_origin(values.pointer(&at).map(|n| n.origin.clone()))
                    .with_hint("remove one of the two entries"),
            );
        } else {
            first.insert(&var.name, i);
        }
    }
    out
}
