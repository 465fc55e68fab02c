//! `gpuplan node-agent` against a real `dockerd` (Debian's `docker.io`), run privately: its own
//! `daemon.json`, data and exec roots, pid file and socket, no iptables, no bridge.
//!
//! - `node-agent --once` with `RUNTIME=docker` makes the daemon serve gpuplan's runtimes, the
//!   `nvidia` one as the default — read back through its API (`GET /info`) — by a reload in
//!   place: the same PID;
//! - a second agent writes nothing and reloads nothing;
//! - `node-agent revert` gives back `daemon.json` byte for byte and the daemon no longer serves
//!   gpuplan's runtimes, again without a restart (dockerd keeps runtimes a reloaded file stops
//!   naming, so the agent reloads a form that names none first; see `node::docker::reload_form`);
//! - an admin's own `nvidia` runtime that gpuplan replaced is served again after the revert.
//!
//! The agent's time to serving, CPU time and peak memory are printed (`--nocapture`).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as J;

use super::real;

/// A private dockerd; stopped (SIGTERM, then SIGKILL) when dropped.
struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Dockerd {
    fn start(bin: &Path, daemon_json: &str) -> Dockerd {
        // Short: the exec root holds containerd's socket, and Unix socket paths are short.
        let dir = tempfile::Builder::new().prefix("gpd").tempdir_in("/tmp").expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("daemon.json"), daemon_json).expect("daemon.json");
        std::fs::create_dir_all(d.join("nvidia/toolkit")).expect("mkdir");
        for name in ["nvidia-container-runtime", "nvidia-container-runtime.cdi", "nvidia-container-runtime.legacy"] {
            let bin = d.join("nvidia/toolkit").join(name);
            std::fs::write(&bin, "#!/bin/sh\nexec runc \"$@\"\n").expect("write runtime binary");
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let log = std::fs::File::create(d.join("dockerd.log")).expect("log");
        let namespace = format!("gpuplan-{}", std::process::id());
        let child = Command::new(bin)
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("root"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .args(["--iptables=false", "--bridge=none", "--containerd-namespace"])
            .arg(&namespace)
            .arg("--containerd-plugins-namespace")
            .arg(format!("{namespace}-plugins"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            // Its own process group, as under systemd: the agent never signals its own.
            .process_group(0)
            .spawn()
            .expect("dockerd starts");
        let daemon = Dockerd { child, dir };
        let start = Instant::now();
        while daemon.info().is_none() {
            assert!(start.elapsed() < Duration::from_secs(60), "dockerd did not answer:\n{}", daemon.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        daemon
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("dockerd.log")).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET /info`, parsed; `None` while the daemon does not answer.
    fn info(&self) -> Option<J> {
        use std::io::{Read, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(self.path("docker.sock")).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        stream.write_all(b"GET /info HTTP/1.0\r\nHost: docker\r\n\r\n").ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).ok()?;
        serde_json::from_str(reply.split_once("\r\n\r\n")?.1).ok()
    }

    /// The runtimes it serves (name → path) and its default.
    fn runtimes(&self) -> (Vec<(String, String)>, String) {
        let info = self.info().unwrap_or_else(|| panic!("dockerd does not answer:\n{}", self.log()));
        let runtimes = info["Runtimes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, r)| (name.clone(), r["path"].as_str().unwrap_or_default().to_owned()))
            .collect();
        (runtimes, info["DefaultRuntime"].as_str().unwrap_or_default().to_owned())
    }

    /// `gpuplan node-agent` with the toolkit container's Docker contract, and its stderr.
    fn agent(&self, args: &[&str]) -> (std::process::ExitStatus, String, Duration) {
        let start = Instant::now();
        let out = Command::new(assert_cmd::cargo::cargo_bin("gpuplan"))
            .arg("node-agent")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUNTIME", "docker")
            .env("DOCKER_CONFIG", self.path("daemon.json"))
            .env("DOCKER_SOCKET", self.path("docker.sock"))
            .env("DOCKER_SET_AS_DEFAULT", "true")
            .env("TOOLKIT_PID_FILE", self.path("toolkit.pid"))
            .env("ROOT", self.path("nvidia"))
            .args(["--restart-timeout", "30"])
            .output()
            .expect("the agent runs");
        (out.status, String::from_utf8_lossy(&out.stderr).into_owned(), start.elapsed())
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dockerd() -> Option<PathBuf> {
    real::component("GPUPLAN_DOCKERD", "dockerd (Debian docker.io)")
}

fn serves_gpuplan(daemon: &Dockerd) -> bool {
    let (runtimes, default) = daemon.runtimes();
    let binary = daemon.path("nvidia/toolkit/nvidia-container-runtime").display().to_string();
    default == "nvidia" && runtimes.iter().any(|(n, p)| n == "nvidia" && *p == binary)
}

#[test]
fn the_agent_reloads_dockerd_in_place_and_revert_gives_daemon_json_back() {
    let Some(bin) = dockerd() else { return };
    let original = "{\n  \"max-concurrent-downloads\": 3,\n  \"live-restore\": true\n}\n";
    let daemon = Dockerd::start(&bin, original);
    let pid = daemon.pid();
    assert!(!serves_gpuplan(&daemon), "before the agent");

    let (exit, log, took) = daemon.agent(&["--once"]);
    assert!(exit.success(), "{exit}\n{log}\n{}", daemon.log());
    assert!(serves_gpuplan(&daemon), "the daemon serves gpuplan's nvidia runtime as the default\n{log}");
    assert_eq!(daemon.pid(), pid, "reloaded in place, not restarted");
    assert!(daemon.log().contains("Reloaded configuration"), "dockerd says it reloaded");
    let applied = std::fs::read_to_string(daemon.path("daemon.json")).expect("daemon.json");
    assert!(applied.contains("\"default-runtime\": \"nvidia\""), "{applied}");

    let (exit, log, _) = daemon.agent(&["--once"]);
    assert!(exit.success(), "{exit}\n{log}");
    assert!(log.contains("already configured: nothing to write, no restart"), "{log}");
    let reloads = daemon.log().matches("Reloaded configuration").count();

    let (exit, log, reverted_in) = daemon.agent(&["revert"]);
    assert!(exit.success(), "{exit}\n{log}\n{}", daemon.log());
    assert_eq!(std::fs::read_to_string(daemon.path("daemon.json")).ok().as_deref(), Some(original), "byte for byte");
    assert!(!daemon.path(".daemon.json.gpuplan").exists(), "the record goes");
    let (runtimes, default) = daemon.runtimes();
    assert_eq!(default, "runc", "{runtimes:?}");
    assert!(!runtimes.iter().any(|(n, _)| n.starts_with("nvidia")), "gpuplan's runtimes are gone: {runtimes:?}");
    assert_eq!(daemon.pid(), pid, "still the same daemon");
    assert_eq!(daemon.log().matches("Reloaded configuration").count(), reloads + 1, "one reload for the revert");
    eprintln!(
        "agent, dockerd: serves nvidia as the default {} ms after the agent started (one reload, same PID); revert {} ms",
        took.as_millis(),
        reverted_in.as_millis()
    );
}

#[test]
fn an_admins_nvidia_runtime_is_served_again_after_revert() {
    let Some(bin) = dockerd() else { return };
    let original =
        "{\"runtimes\": {\"nvidia\": {\"path\": \"/usr/bin/nvidia-container-runtime\", \"runtimeArgs\": []}}}";
    let daemon = Dockerd::start(&bin, original);
    let (exit, log, _) = daemon.agent(&["--once"]);
    assert!(exit.success(), "{exit}\n{log}\n{}", daemon.log());
    assert!(serves_gpuplan(&daemon), "{log}");
    let (exit, log, _) = daemon.agent(&["revert"]);
    assert!(exit.success(), "{exit}\n{log}\n{}", daemon.log());
    assert_eq!(std::fs::read_to_string(daemon.path("daemon.json")).ok().as_deref(), Some(original));
    let (runtimes, default) = daemon.runtimes();
    assert_eq!(default, "runc");
    assert!(runtimes.iter().any(|(n, p)| n == "nvidia" && p == "/usr/bin/nvidia-container-runtime"), "{runtimes:?}");
}
