//! The typed values tree: every key of the GPU Operator chart's values (v26.7), plus gpuplan's
//! `operator.defaultRuntime`, as Rust types.
//!
//! Input: the checked effective values (defaults merged with the user's files and flags, already
//! validated against the schema) as JSON. Output: [`Config`], which the resolver turns into
//! decisions and the templates read.
//!
//! `schema/values.schema.json` is generated from these types (serde names, doc comments and
//! `schemars` attributes), so the schema and the typed config cannot drift apart. Conventions:
//! - every struct denies unknown fields, so the schema says `additionalProperties: false` and a
//!   misspelt key is reported;
//! - a scalar with a default in `values/values.yaml` is a plain field and therefore required: a
//!   user `null` that deletes it is reported. Maps and lists (labels, annotations, tolerations,
//!   env, resources, ...) default to empty, so `--set operator.annotations=null` removes the
//!   defaults as it does with Helm. Keys without a default are `Option`s;
//! - the defaults themselves live only in `values/values.yaml`, not in `Default` impls;
//! - families that gpuplan accepts but does not render carry `x-gpuplan-unrendered` in the
//!   schema, with the reason.
//!
//! [`schema`] is the one way to generate the schema: it also applies the finishing touches of
//! the private `tidy` module (reflowed descriptions, closed sets as `enum`).

use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

use crate::error::{Diagnostic, Error};
use crate::values::Values;

pub mod cluster;
pub mod driver;
pub mod kube;
pub mod monitoring;
pub mod nfd;
pub mod operands;
pub mod operator;
pub mod patterns;
pub mod rules;
pub mod sandbox;
pub mod section;
mod tidy;
pub mod unrendered;

// The reasons `x-gpuplan-unrendered` gives for the families gpuplan accepts but does not render;
// the compiler repeats them in its warning.
const WHY_SANDBOX: &str = "gpuplan plans the container stack only; the virtual machine operands are not rendered yet.";
const WHY_VM_STACK: &str = "Part of the virtual machine stack, which gpuplan does not render yet.";
const WHY_DRIVER_ADDON: &str =
    concat!("Runs as an extra container of the driver pod, ", "which gpuplan's driver stage does not render yet.");
const WHY_KATA_MANAGER: &str = concat!(
    "The upstream operator itself ignores this deprecated block; ",
    "it is accepted so that older values files still load."
);
const WHY_GPU_CLUSTER: &str =
    concat!("gpuplan plans the ClusterPolicy stack; ", "the experimental GPUCluster (DRA) stack is not rendered.");
const WHY_DRA_DRIVER: &str = "Used only by the GPUCluster (DRA) stack, which gpuplan does not render.";

/// Build the typed config from effective values. Keys the schema does not know are dropped
/// first: [`crate::schema::check`] reports them, and with the schema check skipped they are
/// ignored, as the upstream chart ignores them. A value of the wrong type fails with its
/// pointer and origin.
pub fn from_values(values: &Values) -> Result<Config, Error> {
    let mut json = values.to_json();
    crate::schema::prune_unknown(&mut json);
    from_pruned_json(json, values)
}

/// The typed config from effective values that hold no key the schema does not know (the
/// schema check passed): read from the values directly ([`crate::values::de`]); only values
/// that fail are made JSON and read again, for the failing key's path and serde_json's
/// message ([`from_pruned_json`]).
pub fn from_known_values(values: &Values) -> Result<Config, Error> {
    match crate::values::de::from_map(&values.0) {
        Ok(config) => Ok(config),
        Err(_) => from_pruned_json(values.to_json(), values),
    }
}

/// [`from_values`] after its first step: `json` is `values` as JSON with the unknown keys
/// already dropped, which `explain` does once for many variations of the same values (`values`
/// only gives an error its origin).
pub fn from_pruned_json(json: serde_json::Value, values: &Values) -> Result<Config, Error> {
    // Read plainly first; only a failed read is read again to learn the failing key's path,
    // which costs as much again on every value.
    if let Ok(config) = Config::deserialize(&json) {
        return Ok(config);
    }
    serde_path_to_error::deserialize(json).map_err(|e| {
        let pointer = pointer_of(e.path());
        let origin = values.pointer(&pointer).map(|n| n.origin.clone());
        let found = values.pointer(&pointer).map(|n| crate::schema::describe_value_at(values, &pointer, n));
        // serde's text quotes the value: left out where it may be a secret.
        let message = if crate::schema::sensitive(values, &pointer) {
            "cannot be read".to_owned()
        } else {
            format!("cannot be read: {}", crate::redact::cut(&e.inner().to_string(), 2 * crate::redact::SHOWN_CHARS))
        };
        let mut d = Diagnostic::error(pointer, message).with_origin(origin);
        d.found = found;
        Error::Invalid(vec![d])
    })
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                pointer.push('/');
                crate::values::push_pointer_token(&mut pointer, key);
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    pointer
}

/// Generates the values schema (JSON Schema draft 2020-12) from [`Config`].
pub fn schema() -> Schema {
    SchemaSettings::draft2020_12()
        .with_transform(RecursiveTransform(tidy::tidy))
        .into_generator()
        .into_root_schema_for::<Config>()
}

/// The schema's text: what `schema/values.schema.json` must hold (checked by a test, embedded
/// and used by [`crate::schema`]).
pub fn schema_text() -> String {
    let mut json = schema().to_value();
    if let serde_json::Value::Object(map) = &mut json {
        // `$id` first after `$schema`, so the file reads top-down.
        let mut ordered = serde_json::Map::new();
        if let Some(meta) = map.remove("$schema") {
            ordered.insert("$schema".into(), meta);
        }
        ordered.insert("$id".into(), "https://gpuplan.dev/schema/values.schema.json".into());
        ordered.extend(std::mem::take(map));
        *map = ordered;
    }
    let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
    text.push('\n');
    text
}

/// gpuplan's values: the settings of the GPU Operator chart, typed. The top-level keys follow the
/// order of the upstream chart's `values.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "gpuplan values")]
pub struct Config {
    /// The Kubernetes distribution.
    pub platform: cluster::Platform,
    /// Whether Node Feature Discovery is deployed with the operator.
    pub nfd: cluster::Nfd,
    /// Pod Security Admission labels on the operator's namespace.
    pub psa: cluster::Psa,
    /// Container Device Interface settings.
    pub cdi: cluster::Cdi,
    /// GPUs for virtual machines (KubeVirt or Kata).
    #[schemars(extend("x-gpuplan-unrendered" = WHY_SANDBOX))]
    pub sandbox_workloads: sandbox::SandboxWorkloads,
    /// Host directories the operands use.
    pub host_paths: cluster::HostPaths,
    /// Settings shared by every operand DaemonSet.
    pub daemonsets: cluster::Daemonsets,
    /// The operator validator DaemonSet.
    pub validator: operator::Validator,
    /// The operator Deployment.
    pub operator: operator::Operator,
    /// Multi-Instance GPU settings.
    pub mig: cluster::Mig,
    /// The NVIDIA driver DaemonSet.
    pub driver: driver::Driver,
    /// The container toolkit and the node runtime configuration.
    pub toolkit: operands::Toolkit,
    /// The device plugin DaemonSet.
    pub device_plugin: operands::DevicePlugin,
    /// The standalone DCGM host engine.
    pub dcgm: monitoring::Dcgm,
    /// The DCGM exporter (GPU metrics).
    pub dcgm_exporter: monitoring::DcgmExporter,
    /// GPU feature discovery (GPU node labels).
    pub gfd: operands::Gfd,
    /// The MIG manager.
    pub mig_manager: operands::MigManager,
    /// The node status exporter.
    pub node_status_exporter: monitoring::NodeStatusExporter,
    /// GPUDirect Storage: the `nvidia-fs` kernel module, loaded from the driver pod.
    #[schemars(extend("x-gpuplan-unrendered" = WHY_DRIVER_ADDON))]
    pub gds: unrendered::DriverAddon,
    /// GDRCopy: the `gdrdrv` kernel module, loaded from the driver pod.
    #[schemars(extend("x-gpuplan-unrendered" = WHY_DRIVER_ADDON))]
    pub gdrcopy: unrendered::DriverAddon,
    /// The vGPU manager (vGPU host driver).
    #[schemars(extend("x-gpuplan-unrendered" = WHY_VM_STACK))]
    pub vgpu_manager: sandbox::VgpuManager,
    /// The vGPU device manager.
    #[schemars(extend("x-gpuplan-unrendered" = WHY_VM_STACK))]
    pub vgpu_device_manager: sandbox::VgpuDeviceManager,
    /// The VFIO manager (GPU passthrough).
    #[schemars(extend("x-gpuplan-unrendered" = WHY_VM_STACK))]
    pub vfio_manager: sandbox::VfioManager,
    /// The Kata manager (deprecated and ignored).
    #[schemars(extend("x-gpuplan-unrendered" = WHY_KATA_MANAGER))]
    pub kata_manager: sandbox::KataManager,
    /// The KubeVirt GPU device plugin, for `kubevirt` sandbox mode.
    #[schemars(extend("x-gpuplan-unrendered" = WHY_VM_STACK))]
    pub sandbox_device_plugin: sandbox::SandboxDevicePlugin,
    /// The Kata sandbox device plugin, for `kata` sandbox mode.
    #[schemars(extend("x-gpuplan-unrendered" = WHY_VM_STACK))]
    pub kata_sandbox_device_plugin: sandbox::SandboxDevicePlugin,
    /// The confidential computing manager, for `kata` sandbox mode.
    #[schemars(extend("x-gpuplan-unrendered" = WHY_VM_STACK))]
    pub cc_manager: sandbox::CcManager,
    /// Whether the ClusterPolicy is created.
    pub cluster_policy: cluster::ClusterPolicy,
    /// Whether the experimental GPUCluster (DRA) is created.
    #[schemars(extend("x-gpuplan-unrendered" = WHY_GPU_CLUSTER))]
    pub gpu_cluster: unrendered::GpuCluster,
    /// The NVIDIA DRA driver, used by the GPUCluster.
    #[schemars(extend("x-gpuplan-unrendered" = WHY_DRA_DRIVER))]
    pub dra_driver: unrendered::DraDriver,
    /// Extra Kubernetes manifests to apply with the release, each a map or a string of YAML.
    #[schemars(schema_with = "cluster::extra_objects_schema")]
    #[serde(default)]
    pub extra_objects: Vec<serde_json::Value>,
    /// Values of the Node Feature Discovery sub-chart.
    #[serde(rename = "node-feature-discovery")]
    pub node_feature_discovery: nfd::NodeFeatureDiscovery,
}
