//! Stage `driver`: the NVIDIA driver, built or loaded on every GPU node by a privileged pod.
//!
//! Input: `driver.*`, `hostPaths.rootFS`, `validator.imagePullSecrets`, `daemonsets.*`,
//! `platform.openshift`. Output: ServiceAccount, Role, ClusterRole, RoleBinding and
//! ClusterRoleBinding `nvidia-driver`, the startup probe ConfigMap `nvidia-driver-startup-probe`,
//! on OpenShift the SecurityContextConstraints `nvidia-driver`, and the DaemonSet
//! `nvidia-driver-daemonset` (always `OnDelete`: a driver is replaced only when its pod is
//! deleted, by hand or by the upgrade controller; `driver.upgradePolicy` configures that
//! controller and, as upstream, adds nothing to the DaemonSet), whose pod runs
//! - `k8s-driver-manager` (init, `driver.manager.*`): evicts GPU pods and unloads the old driver;
//! - `nvidia-driver-ctr`: builds or loads the modules, with the startup probe of
//!   `driver.startupProbe` and the ConfigMaps and Secrets of `repoConfig`, `certConfig`,
//!   `licensingConfig`, `virtualTopology`, `kernelModuleConfig` and `secretEnv`;
//! - `nvidia-peermem-ctr` with `driver.rdma.enabled`: keeps `nvidia-peermem` loaded.
//!
//! Enabled as upstream: `driver.enabled` and not `driver.nvidiaDriverCRD.enabled` (NVIDIADriver
//! objects then describe the drivers; gpuplan does not render that path).
//!
//! What the upstream operator reads from the cluster at run time comes from the cluster's facts
//! ([`crate::facts`]):
//! - The image tag. Upstream appends the GPU nodes' OS, read from NFD's `os_release` labels, to
//!   `driver.version` (`595.91.07` becomes `595.91.07-ubuntu22.04`; a `sha256:` digest is
//!   kept). With facts, gpuplan renders one DaemonSet per OS among the GPU nodes,
//!   `nvidia-driver-daemonset-<ID><VERSION_ID>`, tagged so and selecting exactly those nodes by
//!   the NFD labels (as upstream's NVIDIADriver path does). Without facts, the one DaemonSet
//!   carries the version as given (and `lint` warns: NVIDIA publishes no such image).
//! - Precompiled drivers. Upstream renders one DaemonSet per kernel version found on the nodes,
//!   its name, image tag (`<branch>-<kernel>-<os>`) and node selector suffixed with that kernel;
//!   with facts, so does gpuplan (per OS and kernel). Without, the one DaemonSet, labelled
//!   `nvidia.com/precompiled: "true"`, has the version as given.
//! - ConfigMap keys. Upstream mounts each key of the `repoConfig`, `certConfig` and
//!   `kernelModuleConfig` ConfigMaps as its own file (`subPath`), listing them from the cluster,
//!   into the directory of the operator node's OS family. gpuplan mounts the files the driver
//!   container reads for kernel module parameters (`/drivers/<module>.conf`; it reads each only
//!   if it is a file, so a key the ConfigMap lacks does no harm), and the whole repository and
//!   certificate ConfigMaps as directories at both the Debian and the RHEL paths.
//! - OS-specific additions: RHEL and SLES subscription mounts, the OpenShift cluster proxy and
//!   the OpenShift Driver Toolkit sidecar are not rendered.
//!
//! Not rendered either: the GPUDirect Storage and GDRCopy sidecars (`gds`, `gdrcopy`, which the
//! compiler reports as unrendered), and `driver.livenessProbe`/`readinessProbe`: upstream's
//! driver container has no such probe for them to adjust.
//!
//! `DRIVER_CONFIG_DIGEST`, which upstream computes over the driver's install inputs so that an
//! unchanged driver is restarted rather than reinstalled, is gpuplan's SHA-256 over the same
//! inputs as rendered here: equal plans give equal digests.

use serde::Serialize;
use serde_json::{Value as J, json};
use sha2::{Digest, Sha256};

use std::collections::{BTreeMap, BTreeSet};

use super::image::reference;
use super::operand::{Env, MANAGED_BY, Operand, Spec, pull_policy};
use super::{Context, Out, Shared};
use crate::config::driver::{Driver, KernelModuleType, StartupProbe};
use crate::error::Error;
use crate::facts::{KERNEL, OS_ID, OS_VERSION_ID, Os};

/// The DaemonSet's name.
pub const NAME: &str = "nvidia-driver-daemonset";
/// The ServiceAccount, roles and bindings.
const ACCOUNT: &str = "nvidia-driver";
/// The startup probe script's ConfigMap.
const PROBE_CONFIG_MAP: &str = "nvidia-driver-startup-probe";
/// The kernel module parameter files the driver container reads from `/drivers`.
const MODULE_PARAMETER_FILES: [&str; 4] =
    ["nvidia.conf", "nvidia-uvm.conf", "nvidia-modeset.conf", "nvidia-peermem.conf"];
/// Where package repository files go: Debian family, RHEL family.
const REPO_DIRS: [&str; 2] = ["/etc/apt/sources.list.d", "/etc/yum.repos.d"];
/// Where extra CA certificates go: Debian family, RHEL family.
const CERT_DIRS: [&str; 2] = ["/usr/local/share/ca-certificates", "/etc/pki/ca-trust/extracted/pem"];

#[derive(Serialize)]
struct View {
    op: Operand,
    managed_by: (&'static str, &'static str),
    account: &'static str,
    probe_config_map: &'static str,
    openshift: bool,
    /// The SCC's user: the ServiceAccount.
    scc_user: String,
    manager: Container,
    driver: Container,
    /// `nvidia-peermem-ctr`, with RDMA.
    peermem: Option<Container>,
    startup_probe: J,
    /// `envFrom` of the driver container (`secretEnv`).
    env_from: Vec<J>,
    /// Host path of the `mlnx-ofed-usr-src` volume: the host's `/usr/src` with a host MOFED.
    mofed_src: &'static str,
    /// Volumes for the ConfigMaps and Secrets the driver reads.
    extra_volumes: Vec<J>,
}

/// What the template needs of one container beyond its fixed shape.
#[derive(Serialize)]
struct Container {
    image: String,
    pull_policy: &'static str,
    env: Env,
    args: Vec<String>,
    mounts: Vec<J>,
}

/// Render the stage.
pub fn render(ctx: &Context<'_>, out: &mut Out<'_>) -> Result<(), Error> {
    let config = ctx.config;
    let driver = &config.driver;
    if !driver.enabled || driver.nvidia_driver_crd.enabled {
        return Ok(());
    }
    // The operator adds the validator's pull secrets to every operand it transforms, first.
    let pull_secrets = driver.image_pull_secrets.clone();
    let spec = Spec {
        name: NAME,
        component: "driver",
        service_account: ACCOUNT,
        repository: &driver.repository,
        image: &driver.image,
        version: &driver.version,
        pull_policy: driver.image_pull_policy,
        pull_secrets: &pull_secrets,
        resources: &driver.resources,
        host_network: driver.host_network,
        runtime_class: false,
        annotations: &[("openshift.io/scc", ACCOUNT)],
    };
    let mut op = Operand::new(ctx, &spec);
    op.update_strategy = json!({ "type": "OnDelete" });
    let precompiled = if driver.use_precompiled { "true" } else { "false" };
    // Asset labels and annotations first; `daemonsets.*` (already in) win, as upstream.
    for labels in [&mut op.labels, &mut op.pod_labels] {
        labels.entry("nvidia.com/precompiled".into()).or_insert_with(|| precompiled.into());
        labels.entry("app.kubernetes.io/component".into()).or_insert_with(|| "nvidia-driver".into());
    }
    op.pod_annotations
        .entry("kubectl.kubernetes.io/default-container".into())
        .or_insert_with(|| "nvidia-driver-ctr".into());

    let mounts = Mounts::of(driver);
    // The account, roles, probe ConfigMap and SCC are the component's, shared by its DaemonSets.
    let shared = view(ctx, op.clone(), &mounts);
    let shared = Shared::new(&shared);
    for kind in ["serviceaccount", "role", "clusterrole", "rolebinding", "clusterrolebinding", "configmap", "scc"] {
        out.emit_shared(&format!("driver/{kind}.yaml"), &shared)?;
    }
    for variant in variants(ctx) {
        let mut op = op.clone();
        if let Some(suffix) = &variant.suffix {
            op.rename(&format!("{NAME}-{suffix}"));
            op.node_selector.extend(variant.selector);
            if !driver.version.starts_with("sha256:") {
                op.image = reference(&driver.repository, &driver.image, &format!("{}-{suffix}", driver.version));
            }
        }
        out.emit("driver/daemonset.yaml", &view(ctx, op, &mounts))?;
    }
    Ok(())
}

/// One driver DaemonSet: a name suffix, image tag suffix and node selector for the GPU nodes of
/// one OS (and kernel, precompiled); no suffix when the facts do not say.
struct Variant {
    suffix: Option<String>,
    selector: BTreeMap<String, String>,
}

/// The driver DaemonSets the facts call for (see the module docs).
fn variants(ctx: &Context<'_>) -> Vec<Variant> {
    let plain = || vec![Variant { suffix: None, selector: BTreeMap::new() }];
    let Some(os) = ctx.facts.gpu_os().filter(|os| !os.is_empty()) else { return plain() };
    let select = |os: &Os| {
        BTreeMap::from([(OS_ID.to_owned(), os.id.clone()), (OS_VERSION_ID.to_owned(), os.version_id.clone())])
    };
    if !ctx.config.driver.use_precompiled {
        return os.iter().map(|os| Variant { suffix: Some(os.tag()), selector: select(os) }).collect();
    }
    let kernels: BTreeSet<(Os, String)> =
        ctx.facts.gpu_nodes().filter_map(|n| Some((n.os()?, n.labels.get(KERNEL)?.clone()))).collect();
    kernels
        .into_iter()
        .map(|(os, kernel)| {
            let mut selector = select(&os);
            selector.insert(KERNEL.to_owned(), kernel.clone());
            Variant { suffix: Some(format!("{kernel}-{}", os.tag())), selector }
        })
        .collect()
}

/// The template's view of one driver DaemonSet.
fn view(ctx: &Context<'_>, op: Operand, mounts: &Mounts) -> View {
    let config = ctx.config;
    let driver = &config.driver;
    let digest = install_digest(&op.image, ctx);
    let manager = Container {
        image: reference(&driver.manager.repository, &driver.manager.image, &driver.manager.version),
        pull_policy: pull_policy(driver.manager.image_pull_policy),
        env: manager_env(ctx, &digest),
        args: vec!["uninstall_driver".into()],
        mounts: Vec::new(),
    };
    let driver_ctr = Container {
        image: op.image.clone(),
        pull_policy: pull_policy(driver.image_pull_policy),
        env: driver_env(ctx, &digest),
        // A non-empty `driver.args` replaces the asset's.
        args: driver.args.clone().filter(|a| !a.is_empty()).unwrap_or_else(|| vec!["init".into()]),
        mounts: mounts.driver.clone(),
    };
    let peermem = driver.rdma.enabled.then(|| {
        let mut env = Env::new();
        env.host_root(ctx);
        if driver.rdma.use_host_mofed {
            env.set("USE_HOST_MOFED", "true");
        }
        Container {
            image: op.image.clone(),
            pull_policy: pull_policy(driver.image_pull_policy),
            env,
            args: vec!["reload_nvidia_peermem".into()],
            mounts: mounts.peermem.clone(),
        }
    });
    // Precompiled images carry no build tool chain: upstream skips these there.
    let env_from = if driver.secret_env.is_empty() || driver.use_precompiled {
        Vec::new()
    } else {
        vec![json!({ "secretRef": { "name": driver.secret_env } })]
    };
    View {
        managed_by: MANAGED_BY,
        account: ACCOUNT,
        probe_config_map: PROBE_CONFIG_MAP,
        openshift: config.platform.openshift,
        scc_user: format!("system:serviceaccount:{}:{ACCOUNT}", ctx.namespace()),
        manager,
        driver: driver_ctr,
        peermem,
        startup_probe: startup_probe(&driver.startup_probe),
        env_from,
        mofed_src: if driver.rdma.enabled && driver.rdma.use_host_mofed {
            "/usr/src"
        } else {
            "/run/mellanox/drivers/usr/src"
        },
        extra_volumes: mounts.volumes.clone(),
        op,
    }
}

/// The driver manager's env: the asset's eviction and drain defaults, RDMA, then
/// `driver.manager.env`.
fn manager_env(ctx: &Context<'_>, digest: &str) -> Env {
    let driver = &ctx.config.driver;
    let mut env = Env::new();
    env.field("NODE_NAME", "spec.nodeName")
        // Driver pods always run with runc: no GPU is injected into them.
        .set("NVIDIA_VISIBLE_DEVICES", "void")
        .set("ENABLE_GPU_POD_EVICTION", "true")
        .set("ENABLE_AUTO_DRAIN", "false")
        .set("DRAIN_USE_FORCE", "false")
        .set("DRAIN_POD_SELECTOR_LABEL", "")
        .set("DRAIN_TIMEOUT_SECONDS", "0s")
        .set("DRAIN_DELETE_EMPTYDIR_DATA", "false")
        .field("OPERATOR_NAMESPACE", "metadata.namespace");
    env.host_root(ctx);
    if driver.rdma.enabled {
        env.set("GPU_DIRECT_RDMA_ENABLED", "true");
        if driver.rdma.use_host_mofed {
            env.set("USE_HOST_MOFED", "true");
        }
    }
    env.apply(&driver.manager.env);
    env.set("DRIVER_CONFIG_DIGEST", digest);
    env
}

/// The driver container's env: the node, the kernel module type, RDMA, then `driver.env`.
fn driver_env(ctx: &Context<'_>, digest: &str) -> Env {
    let driver = &ctx.config.driver;
    let mut env = Env::new();
    env.field("NODE_NAME", "spec.nodeName").field("NODE_IP", "status.hostIP");
    env.host_root(ctx);
    env.set("KERNEL_MODULE_TYPE", kernel_module_type(driver.kernel_module_type));
    if driver.kernel_module_type == KernelModuleType::Open {
        // For driver images older than KERNEL_MODULE_TYPE.
        env.set("OPEN_KERNEL_MODULES_ENABLED", "true");
    }
    if driver.rdma.enabled {
        env.set("GPU_DIRECT_RDMA_ENABLED", "true");
        if driver.rdma.use_host_mofed {
            env.set("USE_HOST_MOFED", "true");
        }
    }
    env.apply(&driver.env);
    env.set("DRIVER_CONFIG_DIGEST", digest);
    env
}

fn kernel_module_type(t: KernelModuleType) -> &'static str {
    match t {
        KernelModuleType::Auto => "auto",
        KernelModuleType::Open => "open",
        KernelModuleType::Proprietary => "proprietary",
    }
}

/// The asset's startup probe with the non-zero `driver.startupProbe` settings over it.
fn startup_probe(p: &StartupProbe) -> J {
    let or = |value: u32, asset: u32| if value == 0 { asset } else { value };
    json!({
        "exec": { "command": ["sh", "/usr/local/bin/startup-probe.sh"] },
        "initialDelaySeconds": or(p.initial_delay_seconds, 60),
        "periodSeconds": or(p.period_seconds, 10),
        "timeoutSeconds": or(p.timeout_seconds, 60),
        "failureThreshold": or(p.failure_threshold, 120),
        "successThreshold": or(p.success_threshold.unwrap_or(0), 1),
    })
}

/// The mounts and volumes of the ConfigMaps and Secrets the driver reads.
#[derive(Default, Clone)]
struct Mounts {
    driver: Vec<J>,
    peermem: Vec<J>,
    volumes: Vec<J>,
}

impl Mounts {
    fn of(driver: &Driver) -> Mounts {
        let mut m = Mounts::default();
        let licensing = &driver.licensing_config;
        let licensing_source = if !licensing.secret_name.is_empty() {
            Some(("secret", json!({ "secretName": licensing.secret_name })))
        } else {
            licensing.config_map_name.as_deref().filter(|n| !n.is_empty()).map(|n| ("configMap", json!({ "name": n })))
        };
        if let Some((kind, mut source)) = licensing_source {
            let mut files = vec![("gridd.conf", "/drivers/gridd.conf")];
            if licensing.nls_enabled {
                files.push((
                    "client_configuration_token.tok",
                    "/drivers/ClientConfigToken/client_configuration_token.tok",
                ));
            }
            source["items"] = files.iter().map(|(f, _)| json!({ "key": f, "path": f })).collect();
            m.volume(json!({ "name": "licensing-config", kind: source }));
            for (file, at) in files {
                m.driver
                    .push(json!({ "name": "licensing-config", "mountPath": at, "subPath": file, "readOnly": true }));
            }
        }
        let topology = &driver.virtual_topology.config;
        if !topology.is_empty() {
            let file = "nvidia-topologyd.conf";
            let items = [json!({ "key": file, "path": file })];
            m.volume(json!({ "name": "topology-config", "configMap": { "name": topology, "items": items } }));
            let at = "/etc/nvidia/nvidia-topologyd.conf";
            m.driver.push(json!({ "name": "topology-config", "mountPath": at, "subPath": file, "readOnly": true }));
        }
        let modules = &driver.kernel_module_config.name;
        if !modules.is_empty() {
            m.volume(json!({ "name": modules, "configMap": { "name": modules } }));
            for file in MODULE_PARAMETER_FILES {
                let at = format!("/drivers/{file}");
                let mount = json!({ "name": modules, "mountPath": at, "subPath": file, "readOnly": true });
                m.driver.push(mount.clone());
                m.peermem.push(mount);
            }
        }
        if driver.use_precompiled {
            return m;
        }
        for (name, dirs) in [(&driver.repo_config.config_map_name, REPO_DIRS), (&driver.cert_config.name, CERT_DIRS)] {
            if name.is_empty() {
                continue;
            }
            m.volume(json!({ "name": name, "configMap": { "name": name } }));
            for dir in dirs {
                m.driver.push(json!({ "name": name, "mountPath": dir, "readOnly": true }));
            }
        }
        m
    }

    /// Add a volume unless one of that name is there (one ConfigMap may serve two settings).
    fn volume(&mut self, volume: J) {
        if !self.volumes.iter().any(|v| v["name"] == volume["name"]) {
            self.volumes.push(volume);
        }
    }
}

/// `DRIVER_CONFIG_DIGEST`: a SHA-256 over what decides how the driver is installed (upstream's
/// list: images, module type, args, env, the ConfigMaps and Secrets, RDMA).
fn install_digest(driver_image: &str, ctx: &Context<'_>) -> String {
    let d = &ctx.config.driver;
    let state = json!({
        "driverImage": driver_image,
        "managerImage": reference(&d.manager.repository, &d.manager.image, &d.manager.version),
        "kernelModuleType": kernel_module_type(d.kernel_module_type),
        "usePrecompiled": d.use_precompiled,
        "args": d.args,
        "env": d.env,
        "managerEnv": d.manager.env,
        "secretEnv": d.secret_env,
        "licensing": [&d.licensing_config.secret_name, d.licensing_config.config_map_name.as_deref().unwrap_or("")],
        "nlsEnabled": d.licensing_config.nls_enabled,
        "virtualTopology": d.virtual_topology.config,
        "kernelModuleConfig": d.kernel_module_config.name,
        "repoConfig": d.repo_config.config_map_name,
        "certConfig": d.cert_config.name,
        "rdma": d.rdma.enabled,
        "useHostMofed": d.rdma.use_host_mofed,
    });
    let hash = Sha256::digest(state.to_string().as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}
