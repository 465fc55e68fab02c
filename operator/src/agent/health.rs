//! When a restarted runtime is back: it answers, reports ready, and runs the config on disk.
//!
//! Input: the runtime's kind and socket, and what it must report ([`Expect`]). Output: the
//! runtime's own account of itself ([`View`]: CRI `RuntimeService/Status` for containerd and
//! CRI-O, `GET /info` for dockerd) and whether it meets the expectation — or why not, in words
//! a log line can carry.
//!
//! A new PID on the socket only says that some process restarted. containerd reports the
//! runtimes its CRI plugin loaded, and dockerd those it reloaded, so for them "back" means
//! gpuplan's runtimes are there with gpuplan's binaries (or, after a revert, are not). CRI-O's
//! status carries no config: for it, "back" is `RuntimeReady` from a new process.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use gpuplan_compiler::node::{RuntimeBinary, RuntimeKind};

use super::{cri, docker};

/// What the runtime must report once it runs the new config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Only that it is ready (after a rollback: whatever the old files say).
    Ready,
    /// gpuplan's runtimes with their binaries, and the default when it was asked for.
    Configured {
        /// The runtimes.
        runtimes: Vec<RuntimeBinary>,
        /// The default runtime, when gpuplan sets it.
        default: Option<String>,
    },
    /// None of gpuplan's runtimes with gpuplan's binary (the names may be someone else's).
    Reverted {
        /// The runtimes.
        runtimes: Vec<RuntimeBinary>,
    },
}

/// What the runtime says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Ready to run containers.
    pub ready: bool,
    /// Why not, when not.
    pub why_not: String,
    /// Whether it reports its runtimes at all (CRI-O does not).
    pub reports_runtimes: bool,
    /// Its runtimes, by name, with their binaries.
    pub runtimes: BTreeMap<String, Option<String>>,
    /// Its default runtime.
    pub default: Option<String>,
}

/// Ask the runtime behind `socket` (each call within `timeout`).
pub fn view(kind: RuntimeKind, socket: &Path, timeout: Duration) -> anyhow::Result<View> {
    Ok(match kind {
        RuntimeKind::Docker => {
            let info = docker::info(socket, timeout)?;
            View {
                ready: true,
                why_not: String::new(),
                reports_runtimes: true,
                runtimes: info.runtimes,
                default: info.default,
            }
        }
        RuntimeKind::Containerd | RuntimeKind::Crio => {
            let status = cri::status(socket, timeout)?;
            View {
                ready: status.ready,
                why_not: status.why_not,
                reports_runtimes: !status.runtimes.is_empty(),
                runtimes: status.runtimes,
                default: status.default,
            }
        }
    })
}

impl Expect {
    /// `Ok` when `view` meets the expectation, else why not.
    pub fn check(&self, view: &View) -> Result<(), String> {
        if !view.ready {
            return Err(format!("the runtime is not ready ({})", view.why_not));
        }
        if !view.reports_runtimes {
            return Ok(());
        }
        match self {
            Expect::Ready => Ok(()),
            Expect::Configured { runtimes, default } => {
                for rt in runtimes {
                    match view.runtimes.get(&rt.name) {
                        Some(Some(binary)) if *binary == rt.path => {}
                        Some(other) => {
                            return Err(format!("its `{}` runtime runs {other:?}, not {}", rt.name, rt.path));
                        }
                        None => return Err(format!("it has no `{}` runtime ({})", rt.name, names(view))),
                    }
                }
                match default {
                    Some(name) if view.default.as_ref() != Some(name) => Err(format!(
                        "its default runtime is {:?}, not `{name}`",
                        view.default.as_deref().unwrap_or("unset")
                    )),
                    _ => Ok(()),
                }
            }
            Expect::Reverted { runtimes } => match runtimes
                .iter()
                .find(|rt| view.runtimes.get(&rt.name).is_some_and(|b| b.as_deref() == Some(rt.path.as_str())))
            {
                Some(rt) => Err(format!("it still runs gpuplan's `{}` runtime ({})", rt.name, rt.path)),
                None => Ok(()),
            },
        }
    }
}

fn names(view: &View) -> String {
    let names: Vec<&str> = view.runtimes.keys().map(String::as_str).collect();
    format!("it has {}", if names.is_empty() { "none".into() } else { names.join(", ") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nvidia() -> Vec<RuntimeBinary> {
        vec![RuntimeBinary { name: "nvidia".into(), path: "/usr/local/nvidia/toolkit/nvidia-container-runtime".into() }]
    }

    fn view(runtimes: &[(&str, &str)], default: &str) -> View {
        View {
            ready: true,
            why_not: String::new(),
            reports_runtimes: true,
            runtimes: runtimes.iter().map(|(n, b)| ((*n).to_owned(), Some((*b).to_owned()))).collect(),
            default: Some(default.into()),
        }
    }

    #[test]
    fn given_views_each_expectation_says_what_is_missing() {
        let configured = Expect::Configured { runtimes: nvidia(), default: Some("nvidia".into()) };
        let old = view(&[("runc", "runc")], "runc");
        assert_eq!(configured.check(&old), Err("it has no `nvidia` runtime (it has runc)".into()));
        let new = view(&[("runc", "runc"), ("nvidia", "/usr/local/nvidia/toolkit/nvidia-container-runtime")], "nvidia");
        assert_eq!(configured.check(&new), Ok(()));
        let reverted = Expect::Reverted { runtimes: nvidia() };
        assert!(reverted.check(&new).is_err());
        assert_eq!(reverted.check(&old), Ok(()));
        let vendors = view(&[("nvidia", "/usr/bin/nvidia-container-runtime")], "nvidia");
        assert_eq!(reverted.check(&vendors), Ok(()), "a vendor's runtime of the same name is not gpuplan's");
        let not_ready = View { ready: false, why_not: "starting".into(), ..new };
        assert_eq!(Expect::Ready.check(&not_ready), Err("the runtime is not ready (starting)".into()));
    }
}
