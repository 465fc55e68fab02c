//! One top-level section of the typed config read again on its own: `explain` changes one
//! value at a time, hundreds of times, and reading the whole config for each change cost a
//! quarter of its run.
//!
//! Input: a [`Config`], the key of one top-level section as the values spell it, and that
//! section's JSON (unknown keys already dropped). Output: the config with that section
//! replaced, the section's read error, or `None` for a key that is not a section (a test holds
//! the sections to the schema's top-level keys, so a pruned key always is one).

use serde::Deserialize;
use serde_json::Value as J;

use super::Config;

macro_rules! sections {
    ($($key:literal => $field:ident),* $(,)?) => {
        /// `base` with the section `key` read from `json`; `None` when `key` is not a section.
        pub fn with_section(base: &Config, key: &str, json: &J) -> Option<Result<Config, serde_json::Error>> {
            let mut config = base.clone();
            let read = match key {
                $($key => Deserialize::deserialize(json).map(|v| config.$field = v),)*
                _ => return None,
            };
            Some(read.map(|()| config))
        }

        /// Every section [`with_section`] reads, as the values spell them.
        pub const SECTIONS: &[&str] = &[$($key),*];
    };
}

sections! {
    "platform" => platform,
    "nfd" => nfd,
    "psa" => psa,
    "cdi" => cdi,
    "sandboxWorkloads" => sandbox_workloads,
    "hostPaths" => host_paths,
    "daemonsets" => daemonsets,
    "validator" => validator,
    "operator" => operator,
    "mig" => mig,
    "driver" => driver,
    "toolkit" => toolkit,
    "devicePlugin" => device_plugin,
    "dcgm" => dcgm,
    "dcgmExporter" => dcgm_exporter,
    "gfd" => gfd,
    "migManager" => mig_manager,
    "nodeStatusExporter" => node_status_exporter,
    "gds" => gds,
    "gdrcopy" => gdrcopy,
    "vgpuManager" => vgpu_manager,
    "vgpuDeviceManager" => vgpu_device_manager,
    "vfioManager" => vfio_manager,
    "kataManager" => kata_manager,
    "sandboxDevicePlugin" => sandbox_device_plugin,
    "kataSandboxDevicePlugin" => kata_sandbox_device_plugin,
    "ccManager" => cc_manager,
    "clusterPolicy" => cluster_policy,
    "gpuCluster" => gpu_cluster,
    "draDriver" => dra_driver,
    "extraObjects" => extra_objects,
    "node-feature-discovery" => node_feature_discovery,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_every_section_of_the_schema_each_reads_back_into_the_same_config() {
        let values = crate::defaults().expect("the defaults load").clone();
        let mut json = values.to_json();
        crate::schema::prune_unknown(&mut json);
        let config = super::super::from_pruned_json(json.clone(), &values).expect("the defaults read");
        let schema: J = serde_json::from_str(crate::schema::SCHEMA).expect("the schema parses");
        let keys: Vec<&str> =
            schema["properties"].as_object().expect("properties").keys().map(String::as_str).collect();
        let mut sections = SECTIONS.to_vec();
        sections.sort_unstable();
        let mut expected = keys.clone();
        expected.sort_unstable();
        assert_eq!(sections, expected, "every top-level key of the schema is a section, and no other");
        for key in keys {
            let section = json.get(key).cloned().unwrap_or(J::Null);
            let again = with_section(&config, key, &section).expect("a section").expect("reads");
            assert_eq!(again, config, "{key}");
        }
        let mut changed = json["toolkit"].clone();
        changed["enabled"] = J::Bool(false);
        let again = with_section(&config, "toolkit", &changed).expect("a section").expect("reads");
        assert!(!again.toolkit.enabled && again.driver == config.driver);
        changed["enabled"] = J::String("no".into());
        assert!(with_section(&config, "toolkit", &changed).expect("a section").is_err());
        assert!(with_section(&config, "nonsense", &J::Null).is_none());
    }
}
