//! Making the container runtime load its new configuration.
//!
//! Input: the restart mode, the runtime's socket, the systemd unit and host root, a timeout.
//! Output: the runtime restarted and answering again, or an error saying what happened.
//!
//! - `signal`: the PID behind the socket (SO_PEERCRED on a fresh connection) gets SIGHUP.
//!   containerd has no reload: it exits, and its supervisor (systemd's `Restart=always`, or
//!   k3s/RKE2) starts it again. dockerd reloads `daemon.json` and keeps its PID. The PID is
//!   checked first — it must be the runtime's own process by `/proc/<pid>/comm`, never 0, 1 or
//!   the agent's process group — so a wrong socket never gets a process killed.
//! - `systemd`: `systemctl restart <unit>` in the host's root (through `chroot`).
//! - `none`: nothing.
//!
//! Then the agent waits until the runtime is back *with the new config* ([`health`]): a new
//! live process on the socket (dockerd: the same one) that reports ready and, where the
//! runtime says which runtimes it loaded, gpuplan's (or, after a revert, not gpuplan's).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gpuplan_compiler::node::{RestartMode, RuntimeKind};

use super::health::{self, Expect};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, getsockopt, sockopt::PeerCredentials};
use nix::unistd::{Pid, getpgid, getpgrp};

/// How to restart one runtime.
#[derive(Debug, Clone)]
pub struct Restarter {
    /// The mode.
    pub mode: RestartMode,
    /// Which runtime (decides the process name the socket's peer must have).
    pub runtime: RuntimeKind,
    /// The runtime's socket.
    pub socket: PathBuf,
    /// The systemd unit (`systemd` mode).
    pub unit: String,
    /// The host's root as mounted here (`systemd` mode chroots into it).
    pub host_root: String,
    /// How long the runtime may take to answer again.
    pub timeout: Duration,
}

/// The process serving the socket now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Its PID.
    pub pid: i32,
}

fn process_names(runtime: RuntimeKind) -> &'static [&'static str] {
    match runtime {
        RuntimeKind::Containerd => &["containerd"],
        RuntimeKind::Docker => &["dockerd"],
        RuntimeKind::Crio => &["crio"],
    }
}

/// How long one connection attempt may wait on a full listen backlog.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The PID of the process serving a unix socket.
pub fn peer(socket: &Path) -> anyhow::Result<Peer> {
    let stream = connect(socket, CONNECT_TIMEOUT).with_context(|| format!("cannot connect to {}", socket.display()))?;
    let creds = getsockopt(&stream, PeerCredentials)
        .with_context(|| format!("cannot read the peer of {}", socket.display()))?;
    Ok(Peer { pid: creds.pid() })
}

/// Connect without blocking for longer than `timeout`: a wedged runtime whose backlog is full
/// makes a blocking connect hang, so the socket is non-blocking and `EAGAIN` is retried.
fn connect(socket: &Path, timeout: Duration) -> nix::Result<OwnedFd> {
    let fd = nix::sys::socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let address = UnixAddr::new(socket)?;
    let start = Instant::now();
    loop {
        match nix::sys::socket::connect(fd.as_raw_fd(), &address) {
            Ok(()) => return Ok(fd),
            Err(Errno::EAGAIN) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e),
        }
    }
}

/// The command name of a process (`/proc/<pid>/comm`).
fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim().to_owned())
}

impl Restarter {
    /// The process that a restart would signal, after every safety check; an error says why
    /// it may not be signalled. Run before changing anything, so a wrong socket costs nothing.
    pub fn check(&self) -> anyhow::Result<Option<Peer>> {
        if self.mode != RestartMode::Signal {
            return Ok(None);
        }
        let peer = peer(&self.socket)?;
        let pid = peer.pid;
        let name = comm(pid).unwrap_or_else(|| "?".into());
        let refuse = |why: &str| -> anyhow::Result<Option<Peer>> {
            bail!("refusing to signal PID {pid} ({name}) behind {}: {why}", self.socket.display())
        };
        if pid <= 1 {
            return refuse(
                "PID 0 and 1 are never signalled (is the agent in the host's PID namespace? it needs hostPID)",
            );
        }
        if pid == std::process::id() as i32 || getpgid(Some(Pid::from_raw(pid))).ok() == Some(getpgrp()) {
            return refuse("it is the agent's own process group");
        }
        let expected = process_names(self.runtime);
        if !expected.contains(&name.as_str()) {
            return refuse(&format!("it is not {}", expected.join(" or ")));
        }
        Ok(Some(peer))
    }

    /// Restart the runtime (or make it reload) and wait until it is back as `expect` says.
    pub fn restart(&self, expect: &Expect) -> anyhow::Result<Duration> {
        let start = Instant::now();
        match self.mode {
            RestartMode::None => return Ok(Duration::ZERO),
            RestartMode::Signal => {
                let Some(old) = self.check()? else { return Ok(Duration::ZERO) };
                kill(Pid::from_raw(old.pid), Signal::SIGHUP)
                    .with_context(|| format!("cannot signal PID {}", old.pid))?;
                tracing::info!(pid = old.pid, socket = %self.socket.display(), "sent SIGHUP to the runtime");
                self.wait(Some(old), expect, start)?;
            }
            RestartMode::Systemd => {
                let old = peer(&self.socket).ok();
                self.systemctl()?;
                self.wait(old, expect, start)?;
            }
        }
        Ok(start.elapsed())
    }

    /// Wait for the runtime without restarting it (after a failed restart, the supervisor may
    /// still bring it back).
    pub fn wait_back(&self, expect: &Expect) -> anyhow::Result<()> {
        self.wait(None, expect, Instant::now())
    }

    fn systemctl(&self) -> anyhow::Result<()> {
        let mut command = if self.host_root.is_empty() || self.host_root == "/" {
            Command::new("systemctl")
        } else {
            let mut c = Command::new("chroot");
            c.arg(&self.host_root).arg("systemctl");
            c
        };
        command.args(["restart", &self.unit]);
        let out = command.output().context("cannot run systemctl")?;
        if !out.status.success() {
            bail!("systemctl restart {} failed: {}", self.unit, String::from_utf8_lossy(&out.stderr).trim());
        }
        tracing::info!(unit = %self.unit, host_root = %self.host_root, "restarted the runtime through systemd");
        Ok(())
    }

    /// Wait until the runtime is back: a live process serves the socket — another one than
    /// `old`, except for dockerd, which reloads in place — and it meets `expect`.
    fn wait(&self, old: Option<Peer>, expect: &Expect, start: Instant) -> anyhow::Result<()> {
        let same_process_ok = self.runtime == RuntimeKind::Docker && self.mode == RestartMode::Signal;
        // dockerd's `/info` runs each runtime binary for its version: ask it less often.
        let poll = Duration::from_millis(if self.runtime == RuntimeKind::Docker { 250 } else { 50 });
        let mut last = format!("nothing serves {}", self.socket.display());
        while start.elapsed() < self.timeout {
            match peer(&self.socket) {
                Ok(now) if Some(now) == old && !same_process_ok => {
                    last = format!("PID {} (the old process) still serves {}", now.pid, self.socket.display());
                }
                Ok(now) if comm(now.pid).is_some() => {
                    let left = self.timeout.saturating_sub(start.elapsed()).min(Duration::from_secs(5));
                    match health::view(self.runtime, &self.socket, left).map_err(|e| format!("{e:#}")) {
                        Ok(view) => match expect.check(&view) {
                            Ok(()) => {
                                tracing::info!(
                                    pid = now.pid,
                                    after_ms = start.elapsed().as_millis() as u64,
                                    "the runtime is back with the config on disk"
                                );
                                return Ok(());
                            }
                            Err(why) => last = format!("PID {}: {why}", now.pid),
                        },
                        Err(why) => last = format!("PID {}: {why}", now.pid),
                    }
                }
                Ok(_) | Err(_) => {}
            }
            std::thread::sleep(poll);
        }
        bail!("the runtime was not back with the new config within {:?}: {last}", self.timeout)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;

    use super::*;

    fn restarter(socket: &Path, mode: RestartMode) -> Restarter {
        Restarter {
            mode,
            runtime: RuntimeKind::Containerd,
            socket: socket.to_owned(),
            unit: "containerd".into(),
            host_root: String::new(),
            timeout: Duration::from_millis(300),
        }
    }

    #[test]
    fn given_a_socket_served_by_the_agent_itself_it_refuses_to_signal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("own.sock");
        let _listener = UnixListener::bind(&socket).expect("bind");
        assert_eq!(peer(&socket).expect("peer").pid, std::process::id() as i32);
        let err = restarter(&socket, RestartMode::Signal).restart(&Expect::Ready).expect_err("refused");
        assert!(err.to_string().contains("refusing to signal"), "{err}");
        assert!(err.to_string().contains("the agent's own process group"), "{err}");
    }

    #[test]
    fn given_a_socket_served_by_another_program_it_refuses_and_the_program_lives() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("other.sock");
        let script =
            "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(8)\ntime.sleep(30)";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(&socket)
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let start = Instant::now();
        while !socket.exists() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let err = restarter(&socket, RestartMode::Signal).restart(&Expect::Ready).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains(&format!("refusing to signal PID {} (python3", child.id())), "{text}");
        assert!(text.contains("it is not containerd"), "{text}");
        assert!(child.try_wait().expect("wait").is_none(), "no signal reached the program");
        child.kill().expect("kill");
        child.wait().expect("reaped");
    }

    #[test]
    fn given_no_runtime_behind_the_socket_the_errors_say_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("absent.sock");
        let err = restarter(&socket, RestartMode::Signal).check().expect_err("nothing to connect to");
        assert!(format!("{err:#}").contains(&format!("cannot connect to {}", socket.display())), "{err:#}");
        let err = restarter(&socket, RestartMode::Signal).wait_back(&Expect::Ready).expect_err("never back");
        assert!(err.to_string().contains("was not back with the new config within 300ms: nothing serves"), "{err}");
    }

    #[test]
    fn given_restart_mode_none_nothing_is_contacted() {
        let r = restarter(Path::new("/nonexistent/containerd.sock"), RestartMode::None);
        assert_eq!(r.check().expect("no check"), None);
        assert_eq!(r.restart(&Expect::Ready).expect("no restart"), Duration::ZERO);
    }
}
