//! `gpuplan node-agent` on files in a temp dir with `RUNTIME_RESTART_MODE=none` (the restart
//! itself is tested against a real containerd in tests/e2e): configuration from the env
//! contract, the lock, apply once, status, keeping the config right, SIGTERM leaving the node
//! configured, and the explicit revert.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const CONFIG: &str = "version = 2\n\n# the node's own runtime\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n";

struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("config.toml"), CONFIG).expect("write");
        Node { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The agent with the seed's variables and nothing else from this process's environment.
    fn agent(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gpuplan"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CONTAINERD_CONFIG", self.path("config.toml"))
            .env("CONTAINERD_SOCKET", self.path("containerd.sock"))
            .env("CONTAINERD_RUNTIME_CLASS", "nvidia")
            .env("CONTAINERD_SET_AS_DEFAULT", "true")
            .env("RUNTIME_DROP_IN_CONFIG", self.path("conf.d/99-nvidia.toml"))
            .env("RUNTIME_RESTART_MODE", "none")
            .env("TOOLKIT_PID_FILE", self.path("toolkit.pid"))
            .env("ROOT", self.path("nvidia"))
            .arg("node-agent")
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> (i32, String) {
        let out = self.agent(args).output().expect("runs");
        (out.status.code().expect("exited"), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.agent(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("starts")
    }

    fn status(&self) -> i32 {
        self.run(&["status"]).0
    }

    fn config(&self) -> String {
        fs::read_to_string(self.path("config.toml")).expect("config")
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop(child: Child, signal: Signal) -> (i32, String) {
    kill(Pid::from_raw(child.id() as i32), signal).expect("signal");
    let out = child.wait_with_output().expect("exits");
    (out.status.code().expect("exited"), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn given_the_seed_env_once_applies_and_a_second_run_changes_nothing() {
    let node = Node::new();
    assert_eq!(node.status(), 1, "not configured before");
    let (code, log) = node.run(&["--once"]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("applied gpuplan's runtimes"), "{log}");
    assert!(log.contains("the runtime binary is missing"), "binaries are checked: {log}");
    let drop_in = fs::read_to_string(node.path("conf.d/99-nvidia.toml")).expect("drop-in written");
    assert!(drop_in.contains("default_runtime_name = \"nvidia\""), "{drop_in}");
    assert!(node.config().starts_with(CONFIG.lines().next().expect("line")));
    assert_eq!(node.status(), 0, "configured after");

    let (before_config, before_drop_in) = (node.config(), drop_in);
    let (code, log) = node.run(&["--once"]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("runtime already configured: nothing to write, no restart"), "{log}");
    assert_eq!(node.config(), before_config);
    assert_eq!(fs::read_to_string(node.path("conf.d/99-nvidia.toml")).expect("kept"), before_drop_in);
}

#[test]
fn given_a_running_agent_a_rewritten_config_is_put_back_and_sigterm_leaves_it_configured() {
    let node = Node::new();
    let agent = node.spawn(&["--watch-interval", "0.05", "--reapply-interval", "0"]);
    wait_for("the agent to apply", || node.status() == 0);
    let applied = node.config();
    assert_ne!(applied, CONFIG, "the import line is added");

    // Someone (a package upgrade, config management) rewrites the file without gpuplan's line,
    // atomically as such tools do (a truncating write could be read half-done).
    fs::write(node.path("config.toml.new"), CONFIG).expect("write");
    fs::rename(node.path("config.toml.new"), node.path("config.toml")).expect("rename");
    wait_for("the agent to put its runtime back", || node.config() == applied);

    let (code, log) = stop(agent, Signal::SIGTERM);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("gpuplan's runtimes are missing from the config again"), "{log}");
    assert!(log.contains("the node stays configured"), "{log}");
    assert_eq!(node.config(), applied, "a rolling update must not revert: the next agent finds it configured");
    assert_eq!(node.status(), 0);
}

/// A rolling update's SIGTERM (here SIGINT) while the agent is between writing and restarting:
/// it finishes the restart, exits 0, and the node stays configured.
#[test]
fn given_sigterm_during_setup_the_agent_finishes_and_leaves_the_node_configured() {
    let node = Node::new();
    let marker = node.path("paused");
    let agent = node.agent(&[]).env("GPUPLAN_FAULT_PAUSE_AFTER_WRITE", &marker).stderr(Stdio::piped()).spawn();
    let agent = agent.expect("starts");
    wait_for("the agent to pause between write and restart", || marker.exists());
    assert_eq!(node.status(), 0, "written");
    let (code, log) = stop(agent, Signal::SIGINT);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("runtime restarted with the new config"), "{log}");
    assert_eq!(node.status(), 0, "still configured");
    assert!(!node.path("toolkit.pid.restart-pending").exists(), "no restart left pending");
}

/// Reverting is explicit: `node-agent revert` gives the original bytes back; a second one
/// finds nothing to do and exits 0.
#[test]
fn given_revert_the_node_is_given_back_and_a_second_revert_does_nothing() {
    let node = Node::new();
    assert_eq!(node.run(&["--once"]).0, 0);
    assert_eq!(node.run(&["status", "--reverted"]).0, 1, "gpuplan's change is there");
    let (code, log) = node.run(&["revert"]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("reverted gpuplan's runtimes"), "{log}");
    assert_eq!(node.config(), CONFIG, "the original bytes are back");
    assert!(!node.path("conf.d/99-nvidia.toml").exists(), "the drop-in is gone");
    assert!(!node.path(".config.toml.gpuplan").exists(), "and gpuplan's record");
    assert_eq!(node.run(&["status", "--reverted"]).0, 0);
    let (code, log) = node.run(&["revert"]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("nothing to revert"), "{log}");
}

/// `revert --hold`, as the uninstall flow's DaemonSet runs it: revert, then stay up (ready)
/// until SIGTERM, exit 0.
#[test]
fn given_revert_hold_it_reverts_then_waits_for_sigterm() {
    let node = Node::new();
    assert_eq!(node.run(&["--once"]).0, 0);
    let agent = node.spawn(&["revert", "--hold"]);
    wait_for("the revert", || node.config() == CONFIG);
    std::thread::sleep(Duration::from_millis(200));
    let (code, log) = stop(agent, Signal::SIGTERM);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("reverted; holding until told to stop"), "{log}");
}

#[test]
fn given_a_running_agent_a_second_one_exits_with_the_holder() {
    let node = Node::new();
    let first = node.spawn(&["--watch-interval", "0.05"]);
    wait_for("the agent to apply", || node.status() == 0);
    let (code, log) = node.run(&["--once"]);
    assert_eq!(code, 2, "{log}");
    assert!(log.contains(&format!("another node agent (PID {}) is running", first.id())), "{log}");
    let (code, _) = stop(first, Signal::SIGTERM);
    assert_eq!(code, 0);
    assert_eq!(node.status(), 0, "SIGTERM leaves the node configured");
}

#[test]
fn given_bad_variables_the_agent_names_them_and_touches_nothing() {
    let node = Node::new();
    let out =
        node.agent(&["--once"]).env("CONTAINERD_SOCKETT", "/run/x.sock").env("RUNTIME_RESTART_MODE", "reboot").output();
    let out = out.expect("runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(log.contains("settings are invalid (2 errors)"), "{log}");
    assert!(log.contains("error: $CONTAINERD_SOCKETT:") && log.contains("did you mean `CONTAINERD_SOCKET`?"), "{log}");
    assert!(log.contains("error: $RUNTIME_RESTART_MODE:"), "{log}");
    assert_eq!(node.config(), CONFIG);
    assert!(!node.path("conf.d").exists());
}

#[test]
fn given_flags_they_override_the_environment() {
    let node = Node::new();
    let elsewhere = node.path("elsewhere.toml");
    fs::write(&elsewhere, CONFIG).expect("write");
    let (code, log) = node.run(&["--once", "--config", elsewhere.to_str().expect("utf-8"), "--drop-in", ""]);
    assert_eq!(code, 0, "{log}");
    let text = fs::read_to_string(Path::new(&elsewhere)).expect("read");
    assert!(text.contains("default_runtime_name = \"nvidia\""), "edited in place: {text}");
    assert_eq!(node.config(), CONFIG, "the env's file is untouched");
}

#[test]
fn given_an_agent_killed_between_write_and_restart_the_next_run_still_restarts() {
    let node = Node::new();
    let marker = node.path("paused");
    let agent = node.agent(&[]).env("GPUPLAN_FAULT_PAUSE_AFTER_WRITE", &marker).stderr(Stdio::null()).spawn();
    let mut agent = agent.expect("starts");
    wait_for("the agent to pause between write and restart", || marker.exists());
    let pending = node.path("toolkit.pid.restart-pending");
    assert!(pending.exists(), "the restart is marked pending before the files are written");
    agent.kill().expect("SIGKILL");
    agent.wait().expect("reaped");
    assert_eq!(node.status(), 0, "the files hold the change");

    let (code, log) = node.run(&["--once"]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("an earlier run wrote the config but was stopped before restarting the runtime"), "{log}");
    assert!(!pending.exists(), "the marker is gone once the runtime was restarted");
    let (_, log) = node.run(&["--once"]);
    assert!(log.contains("runtime already configured: nothing to write, no restart"), "{log}");
}
