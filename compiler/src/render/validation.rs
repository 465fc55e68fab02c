//! Stage `operator-validation`: the operator validator, which proves on every GPU node, step by
//! step, that the GPU stack works, and leaves the marker files the other operands wait for.
//!
//! Input: `validator.*` (image, env of each step, args, resources), `mig.strategy`,
//! `devicePlugin.enabled`, `hostPaths.*`, `cdi.*`, `daemonsets.*`, `platform.openshift`.
//! Output: ServiceAccount, Role, ClusterRole, RoleBinding and ClusterRoleBinding
//! `nvidia-operator-validator`, on OpenShift the SecurityContextConstraints of that name, and
//! the DaemonSet `nvidia-operator-validator` (always rendered, as upstream), whose pod runs the
//! validator image with the NVIDIA RuntimeClass and, in order, the init containers
//! - `driver-validation`: waits until the driver works (`driver-ready`), from the driver
//!   container or the host (`hostPaths.driverInstallDir`), then `validator.driver.env`;
//! - `toolkit-validation`: runs `nvidia-smi` through the runtime (`toolkit-ready`), then
//!   `validator.toolkit.env`;
//! - `cuda-validation`: runs a CUDA sample in a pod of its own (`cuda-ready`), then
//!   `validator.cuda.env`;
//! - `plugin-validation`: runs a pod that requests a GPU through the device plugin
//!   (`plugin-ready`) with `MIG_STRATEGY` from `mig.strategy`, then `validator.plugin.env`;
//!   left out with the device plugin disabled, as upstream;
//!
//! then a main container that sleeps and removes the markers when the pod stops.
//!
//! A disabled driver or toolkit stage changes nothing here, as upstream: the validator finds a
//! driver installed on the host (`/host`) and runs whatever toolkit the node has.

use serde::Serialize;

use super::operand::{Env, MANAGED_BY, Operand, Spec, pull_policy};
use super::{Context, Out, Shared};
use crate::config::cluster::MigStrategy;
use crate::config::kube::EnvVar;
use crate::error::Error;

/// The DaemonSet, its ServiceAccount, roles and bindings.
pub const NAME: &str = "nvidia-operator-validator";
/// The driver's default install directory, where the validator looks unless told otherwise.
const DEFAULT_DRIVER_INSTALL_DIR: &str = "/run/nvidia/driver";
/// The main container's command when `validator.args` is empty.
const SLEEP: &str = "echo all validations are successful; while true; do sleep 86400; done";

#[derive(Serialize)]
struct View {
    op: Operand,
    managed_by: (&'static str, &'static str),
    openshift: bool,
    /// The SCC's user: the ServiceAccount.
    scc_user: String,
    driver_env: Env,
    toolkit_env: Env,
    cuda_env: Env,
    /// `None` with the device plugin disabled: the step is left out.
    plugin_env: Option<Env>,
    main_env: Env,
    main_args: Vec<String>,
    /// Host path of `/dev/char`, under `hostPaths.rootFS`.
    host_dev_char: String,
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    let config = ctx.config;
    let validator = &config.validator;
    let spec = Spec {
        name: NAME,
        component: "operator-validator",
        service_account: NAME,
        repository: &validator.repository,
        image: &validator.image,
        version: &validator.version,
        pull_policy: validator.image_pull_policy,
        pull_secrets: &validator.image_pull_secrets,
        resources: &validator.resources,
        host_network: validator.host_network,
        runtime_class: true,
        annotations: &[],
    };
    let mut op = Operand::new(ctx, &spec);
    // The asset selects on both labels; selectors are immutable, so keep upstream's.
    for labels in [&mut op.labels, &mut op.pod_labels, &mut op.selector] {
        labels.insert("app.kubernetes.io/part-of".into(), "gpu-operator".into());
    }
    // The toolkit step runs nvidia-smi: in NRI mode it gets the GPUs through an annotation.
    op.gpu_container("toolkit-validation");

    let step_env = |step: Option<&crate::config::operator::ValidatorStep>| -> Vec<EnvVar> {
        step.map(|s| s.env.clone()).unwrap_or_default()
    };
    let mut driver_env = Env::new();
    driver_env.set("WITH_WAIT", "true").set("COMPONENT", "driver").field("OPERATOR_NAMESPACE", "metadata.namespace");
    driver_env.host_root(ctx);
    let install_dir = &config.host_paths.driver_install_dir;
    if !install_dir.is_empty() && install_dir != DEFAULT_DRIVER_INSTALL_DIR {
        // The host directory is mounted at the same path inside the container.
        driver_env.set("DRIVER_INSTALL_DIR", install_dir).set("DRIVER_INSTALL_DIR_CTR_PATH", install_dir);
    }
    driver_env.apply(&step_env(validator.driver.as_ref()));

    let mut toolkit_env = Env::new();
    toolkit_env.set("NVIDIA_VISIBLE_DEVICES", "all").set("WITH_WAIT", "false").set("COMPONENT", "toolkit");
    toolkit_env.host_root(ctx);
    toolkit_env.apply(&step_env(validator.toolkit.as_ref()));

    let mut cuda_env = Env::new();
    cuda_env
        .set("WITH_WAIT", "false")
        .set("COMPONENT", "cuda")
        .field("NODE_NAME", "spec.nodeName")
        .field("OPERATOR_NAMESPACE", "metadata.namespace");
    cuda_env.host_root(ctx);
    workload_env(&op, ctx, &mut cuda_env);
    cuda_env.apply(&step_env(validator.cuda.as_ref()));

    let plugin_env = config.device_plugin.enabled.then(|| {
        let mut env = Env::new();
        env.set("COMPONENT", "plugin")
            .set("WITH_WAIT", "false")
            .set("WITH_WORKLOAD", "false")
            .set("MIG_STRATEGY", mig_strategy(config.mig.strategy))
            .field("NODE_NAME", "spec.nodeName")
            .field("OPERATOR_NAMESPACE", "metadata.namespace");
        env.host_root(ctx);
        workload_env(&op, ctx, &mut env);
        env.apply(&validator.plugin.env);
        env
    });

    let mut main_env = Env::new();
    main_env.host_root(ctx);
    main_env.apply(&validator.env);
    let main_args = if validator.args.is_empty() { vec![SLEEP.to_owned()] } else { validator.args.clone() };

    let root = config.host_paths.root_fs.trim_end_matches('/');
    let view = View {
        managed_by: MANAGED_BY,
        openshift: config.platform.openshift,
        scc_user: format!("system:serviceaccount:{}:{NAME}", ctx.namespace()),
        driver_env,
        toolkit_env,
        cuda_env,
        plugin_env,
        main_env,
        main_args,
        host_dev_char: format!("{root}/dev/char"),
        op,
    };
    let view = Shared::new(&view);
    for kind in ["serviceaccount", "role", "clusterrole", "rolebinding", "clusterrolebinding", "scc", "daemonset"] {
        out.emit_shared(&format!("operator-validation/{kind}.yaml"), &view)?;
    }
    Ok(())
}

/// What the CUDA and plugin steps need to start their workload pods like this one: the image,
/// its pull policy and secrets, and the RuntimeClass when the pod runs with one.
fn workload_env(op: &Operand, ctx: &Context<'_>, env: &mut Env) {
    let validator = &ctx.config.validator;
    env.set("VALIDATOR_IMAGE", &op.image).set("VALIDATOR_IMAGE_PULL_POLICY", pull_policy(validator.image_pull_policy));
    if !validator.image_pull_secrets.is_empty() {
        env.set("VALIDATOR_IMAGE_PULL_SECRETS", validator.image_pull_secrets.join(","));
    }
    if let Some(class) = &op.runtime_class_name {
        env.set("VALIDATOR_RUNTIME_CLASS", class);
    }
}

fn mig_strategy(s: MigStrategy) -> &'static str {
    match s {
        MigStrategy::None => "none",
        MigStrategy::Single => "single",
        MigStrategy::Mixed => "mixed",
    }
}
