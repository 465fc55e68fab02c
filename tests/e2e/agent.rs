//! `gpuplan node-agent` against a real, supervised containerd.
//!
//! Given, for each available (containerd line, config version) pair — 1.6 + v2, 1.7 + v2,
//! 2.x + v3 — a private containerd in its own temp dir, on its own socket, kept running by a
//! [`Supervisor`] (systemd's `Restart=always`), and fake toolkit binaries under `$ROOT/toolkit/`;
//! running the agent binary as a child with the toolkit container's env contract; the tests
//! check what containerd then *serves* over CRI (`cri_status.py`, not the file), how often it
//! was restarted and how, and the config bytes on disk:
//! - a rollout: the agent makes containerd serve `nvidia` as the default after exactly one
//!   restart (by SIGHUP) and writes what `gpuplan node apply` writes; SIGTERM (the rolling
//!   update) changes no file and restarts nothing; the next agent restarts nothing; `node-agent
//!   revert` gives back the original bytes with exactly one more restart, and containerd serves
//!   without `nvidia`;
//! - a second run on a configured node restarts nothing;
//! - SIGKILL right after the write (`GPUPLAN_FAULT_PAUSE_AFTER_WRITE`) leaves every file
//!   exactly old or new, never partial, no temp file, containerd untouched; and the agent's next
//!   run (the DaemonSet restarting it) brings containerd to serve `nvidia`;
//! - a socket served by something that is not containerd is never signalled;
//! - a containerd that does not come back is answered by restoring the original config;
//! - a config rewritten under the running agent is re-applied within seconds;
//! - a second agent on the same pid file refuses to run.
//!
//! The agent's time to serving, CPU time and peak memory are printed (`--nocapture` shows
//! them; `GPUPLAN_AGENT_BIN=target/release/gpuplan` measures a release build). The tests take
//! one lock: they run one at a time, so timings are not skewed by each other and two cores are
//! not oversubscribed. Every daemon, agent and listener is killed on drop, also when a test
//! fails.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gpuplan_compiler::diff::unified;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::real::{self, Containerd};
use super::supervisor::{CriStatus, Supervisor, cri_status, exited_on_sighup, private_config};

/// The containerd lines and the config version each is tested with.
const PAIRS: [(&str, i64); 3] = [("1.6", 2), ("1.7", 2), ("2", 3)];

/// Generous bounds: a loaded CI machine is slow, a healthy run takes a fraction.
const SERVE_TIMEOUT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The toolkit binaries the agent points containerd at, under `$ROOT/toolkit/`.
const TOOLKIT_BINARIES: [&str; 3] =
    ["nvidia-container-runtime", "nvidia-container-runtime.cdi", "nvidia-container-runtime.legacy"];

/// The agent binary: cargo's `gpuplan`, or `GPUPLAN_AGENT_BIN` (to measure a release build).
fn agent_bin() -> PathBuf {
    std::env::var_os("GPUPLAN_AGENT_BIN").map_or_else(|| assert_cmd::cargo::cargo_bin("gpuplan"), PathBuf::from)
}

/// One agent test at a time (see the module docs).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The available (containerd, version) pairs, and the Python that runs `cri_status.py`;
/// empty (after saying so) when a component is missing (see [`real::component`]).
fn pairs() -> Vec<(Containerd, i64, PathBuf)> {
    let Some(python) = real::python() else { return Vec::new() };
    PAIRS.iter().filter_map(|&(line, version)| Some((real::containerd(line)?, version, python.clone()))).collect()
}

/// A node: a temp dir with containerd's config, the toolkit's binaries, the agent's pid file
/// and logs, and (usually) a supervised containerd on `<dir>/containerd.sock`.
struct Node {
    /// Dropped first: no daemon outlives the test, also when it fails.
    containerd: Option<Supervisor>,
    config: PathBuf,
    drop_in: PathBuf,
    socket: PathBuf,
    pid_file: PathBuf,
    root: PathBuf,
    logs: PathBuf,
    /// The config as the node had it.
    original: String,
    /// What `gpuplan node apply` makes of it, with the agent's settings: (config, drop-in).
    applied: (String, String),
    python: PathBuf,
    label: String,
    agents: std::cell::Cell<u32>,
    dir: tempfile::TempDir,
}

impl Node {
    /// A node whose containerd runs and answers, serving only its default runtimes.
    fn new(containerd: &Containerd, version: i64, python: &Path) -> Node {
        let mut node = Node::without_containerd(version, python, &format!("containerd {}", containerd.line));
        let supervisor = Supervisor::start(containerd, &node.config, &node.socket, &node.logs.join("containerd.log"));
        supervisor.wait_serving(SERVE_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        node.containerd = Some(supervisor);
        let status = node.cri().unwrap_or_else(|e| panic!("{}: CRI status: {e}", node.label));
        assert!(serves_original(&status), "{}: before the agent, containerd serves {status:?}", node.label);
        node
    }

    /// The files alone: something else (or nothing) serves the socket.
    fn without_containerd(version: i64, python: &Path, label: &str) -> Node {
        let dir = tempfile::Builder::new().prefix("gpa").tempdir().expect("tempdir");
        let d = dir.path();
        let original = private_config(d, version);
        let config = d.join("config.toml");
        std::fs::write(&config, &original).expect("write config");
        let root = d.join("nvidia");
        std::fs::create_dir_all(root.join("toolkit")).expect("mkdir toolkit");
        for name in TOOLKIT_BINARIES {
            let bin = root.join("toolkit").join(name);
            std::fs::write(&bin, "#!/bin/sh\nexec runc \"$@\"\n").expect("write runtime binary");
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let logs = d.join("logs");
        std::fs::create_dir_all(&logs).expect("mkdir logs");
        std::fs::create_dir_all(d.join("run")).expect("mkdir run");
        let mut node = Node {
            containerd: None,
            drop_in: d.join("conf.d/99-nvidia.toml"),
            socket: d.join("containerd.sock"),
            pid_file: d.join("run/toolkit.pid"),
            config,
            root,
            logs,
            original,
            applied: (String::new(), String::new()),
            python: python.to_owned(),
            label: format!("{label}, config version {version}"),
            agents: std::cell::Cell::new(0),
            dir,
        };
        node.applied = node.node_apply();
        node
    }

    /// The daemon's supervisor.
    fn supervisor(&self) -> &Supervisor {
        self.containerd.as_ref().expect("this node runs containerd")
    }

    /// `gpuplan node apply` with the agent's settings, on the node's own paths before anything
    /// runs, then `gpuplan node revert` (which must give the original back): the texts the
    /// agent is expected to write. The agent's env has no `CDI_ENABLED`, so CDI is off there
    /// (the values default it on).
    fn node_apply(&self) -> (String, String) {
        let values = format!(
            "toolkit.installDir={},toolkit.env[0].name=CONTAINERD_RUNTIME_CLASS,toolkit.env[0].value=nvidia,\
             toolkit.env[1].name=CONTAINERD_SET_AS_DEFAULT,toolkit.env[1].value=true,cdi.enabled=false",
            self.root.display()
        );
        let node = |command: &str| {
            let out = Command::new(assert_cmd::cargo::cargo_bin("gpuplan"))
                .args(["node", command, "--set", &values, "--config"])
                .arg(&self.config)
                .arg("--drop-in")
                .arg(&self.drop_in)
                .arg("--lock")
                .arg(&self.pid_file)
                .output()
                .expect("gpuplan runs");
            assert!(out.status.success(), "gpuplan node {command}:\n{}", String::from_utf8_lossy(&out.stderr));
        };
        node("apply");
        let applied = (read(&self.config).expect("applied config"), read(&self.drop_in).expect("applied drop-in"));
        node("revert");
        assert_eq!(read(&self.config).as_deref(), Some(self.original.as_str()), "revert gives the original back");
        assert_eq!(read(&self.drop_in), None, "revert removes the drop-in");
        applied
    }

    /// The agent command with the toolkit container's env contract (and nothing else from the
    /// test's environment); `args` go after the defaults (a flag given there replaces its
    /// default).
    fn agent_command(&self, args: &[&str], env: &[(&str, &Path)]) -> (Command, PathBuf) {
        let n = self.agents.get() + 1;
        self.agents.set(n);
        let log = self.logs.join(format!("agent-{n}.log"));
        let mut command = Command::new(agent_bin());
        command.arg("node-agent");
        let defaults = [("--restart-timeout", "20"), ("--watch-interval", "0.2"), ("--reapply-interval", "0.5")];
        // A subcommand comes first; `status` takes none of the defaults, `revert` the timeout.
        let subcommand = args.first().filter(|a| ["status", "revert"].contains(a)).copied();
        if let Some(subcommand) = subcommand {
            command.arg(subcommand);
        }
        for (flag, default) in defaults {
            let wanted = match subcommand {
                None => true,
                Some("revert") => flag == "--restart-timeout",
                Some(_) => false,
            };
            if wanted && !args.contains(&flag) {
                command.args([flag, default]);
            }
        }
        let args = if subcommand.is_some() { &args[1..] } else { args };
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUNTIME", "containerd")
            .env("CONTAINERD_CONFIG", &self.config)
            .env("RUNTIME_DROP_IN_CONFIG", &self.drop_in)
            .env("CONTAINERD_SOCKET", &self.socket)
            .env("CONTAINERD_RUNTIME_CLASS", "nvidia")
            .env("CONTAINERD_SET_AS_DEFAULT", "true")
            .env("TOOLKIT_PID_FILE", &self.pid_file)
            .env("ROOT", &self.root)
            .stdin(Stdio::null());
        // One file for both, in append mode, so neither overwrites the other.
        let out = std::fs::File::options().create(true).append(true).open(&log).expect("agent log");
        command.stdout(out.try_clone().expect("agent log")).stderr(out);
        for (name, value) in env {
            command.env(name, value);
        }
        (command, log)
    }

    /// Start the agent.
    fn spawn_agent(&self, args: &[&str], env: &[(&str, &Path)]) -> Agent {
        let (mut command, log) = self.agent_command(args, env);
        let started = Instant::now();
        let child = command.spawn().expect("the agent starts");
        Agent { child, log, started, label: self.label.clone() }
    }

    /// Run the agent to its end: its exit status and log.
    fn run_agent(&self, args: &[&str]) -> (ExitStatus, String) {
        let mut agent = self.spawn_agent(args, &[]);
        let status = agent.wait(EXIT_TIMEOUT).unwrap_or_else(|| panic!("{}: the agent did not exit", agent.context()));
        (status, agent.log())
    }

    /// What containerd serves over CRI now.
    fn cri(&self) -> Result<CriStatus, String> {
        cri_status(&self.python, &self.socket)
    }

    /// Wait until containerd was restarted `restarts` times in all and the new daemon answers;
    /// then what it serves, right away (a restarted containerd has read its config when it
    /// answers). The time is from `since`.
    fn wait_restarted(&self, restarts: u32, since: Instant, agent: Option<&Agent>) -> (CriStatus, Duration) {
        let supervisor = self.supervisor();
        let deadline = since + SERVE_TIMEOUT;
        while supervisor.restarts() < restarts && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let context = || agent.map(Agent::context).unwrap_or_default();
        assert!(
            supervisor.restarts() >= restarts,
            "{}: containerd was restarted {} times, not {restarts}, in {SERVE_TIMEOUT:?}\n{}",
            self.label,
            supervisor.restarts(),
            context()
        );
        supervisor
            .wait_serving(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|e| panic!("{e}\n{}", context()));
        let elapsed = since.elapsed();
        let status = self.cri().unwrap_or_else(|e| panic!("{}: CRI status: {e}\n{}", self.label, context()));
        (status, elapsed)
    }

    /// The nvidia runtime as the agent should make containerd serve it.
    fn serves_nvidia(&self, status: &CriStatus) -> bool {
        let binary = self.root.join("toolkit/nvidia-container-runtime");
        status.default == "nvidia"
            && status.runtimes.get("nvidia").is_some_and(|r| {
                r.runtime_type == "io.containerd.runc.v2" && r.binary.as_deref() == Some(&*binary.to_string_lossy())
            })
            && status.runtimes.contains_key("runc")
    }

    /// The node's files now: (config, drop-in).
    fn files(&self) -> (Option<String>, Option<String>) {
        (read(&self.config), read(&self.drop_in))
    }

    /// Assert the node's files are the original ones.
    fn assert_original(&self, when: &str) {
        let (config, drop_in) = self.files();
        self.assert_file(when, &self.config, config.as_deref(), Some(&self.original));
        self.assert_file(when, &self.drop_in, drop_in.as_deref(), None);
    }

    /// Assert the node's files are what `gpuplan node apply` writes.
    fn assert_applied(&self, when: &str) {
        let (config, drop_in) = self.files();
        self.assert_file(when, &self.config, config.as_deref(), Some(&self.applied.0));
        self.assert_file(when, &self.drop_in, drop_in.as_deref(), Some(&self.applied.1));
    }

    /// Assert a file's text (`None`: absent), showing a diff from the expected text when not.
    fn assert_file(&self, when: &str, path: &Path, actual: Option<&str>, expected: Option<&str>) {
        assert!(
            actual == expected,
            "{}: {when}: {} differs from what is expected (- expected, + on disk):\n{}",
            self.label,
            path.display(),
            unified(&path.to_string_lossy(), expected, actual)
        );
    }
}

/// The entries of a directory, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Whether containerd serves its defaults only: `runc`, as the default, and no `nvidia`.
fn serves_original(status: &CriStatus) -> bool {
    status.default == "runc" && status.runtimes.contains_key("runc") && !status.runtimes.contains_key("nvidia")
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// A running agent; killed when dropped.
struct Agent {
    child: Child,
    log: PathBuf,
    started: Instant,
    label: String,
}

/// What the agent process used, from `/proc/<pid>` while it runs.
#[derive(Debug, Clone, Copy)]
struct Usage {
    /// User + system CPU time.
    cpu: Duration,
    /// Peak resident set (`VmHWM`), in KiB.
    peak_kib: u64,
}

impl Agent {
    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// For failure messages: the agent's log.
    fn context(&self) -> String {
        format!("{}: agent log ({}):\n{}", self.label, self.log.display(), self.log())
    }

    /// Its exit status, if it exits within `timeout`.
    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).unwrap_or_else(|e| panic!("{}: cannot send {signal}: {e}", self.label));
    }

    /// SIGTERM, then its exit status.
    fn terminate(&mut self) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        self.wait(EXIT_TIMEOUT).unwrap_or_else(|| panic!("the agent ignores SIGTERM\n{}", self.context()))
    }

    /// CPU time and peak memory so far.
    fn usage(&self) -> Usage {
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
        // After the `(comm)`: state is field 3, utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat.rsplit_once(')').expect("stat has a comm").1.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
        let peak_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM");
        // /proc counts in USER_HZ, 100 per second in Linux's ABI.
        Usage { cpu: Duration::from_millis(ticks * 10), peak_kib }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[test]
fn a_rollout_restarts_containerd_once_and_revert_once_more() {
    let _serial = serial();
    for (containerd, version, python) in pairs() {
        let node = Node::new(&containerd, version, &python);
        let first = node.supervisor().pid();
        let mut agent = node.spawn_agent(&[], &[]);

        let (status, serving) = node.wait_restarted(1, agent.started, Some(&agent));
        assert!(node.serves_nvidia(&status), "{}: serves {status:?}\n{}", node.label, agent.context());
        let exits = node.supervisor().exits();
        assert!(exits.len() == 1 && exited_on_sighup(&exits[0]), "{}: exits {exits:?}", node.label);
        assert_ne!(node.supervisor().pid(), first, "{}: a new daemon", node.label);
        node.assert_applied("configured by the agent");
        assert_eq!(node.run_agent(&["status"]).0.code(), Some(0), "{}: status says configured", node.label);

        // Watching for a while (7 intervals) changes nothing.
        std::thread::sleep(Duration::from_millis(1500));
        assert!(agent.running(), "{}: the agent keeps running\n{}", node.label, agent.context());
        assert_eq!(node.supervisor().restarts(), 1, "{}: restarted once\n{}", node.label, agent.context());
        node.assert_applied("after watching");
        let usage = agent.usage();

        // The rolling update: SIGTERM to the old pod, then the new pod's agent.
        let exit = agent.terminate();
        assert_eq!(exit.code(), Some(0), "{}: SIGTERM: {exit}\n{}", node.label, agent.context());
        node.assert_applied("after SIGTERM");
        let mut next = node.spawn_agent(&[], &[]);
        std::thread::sleep(Duration::from_millis(1500));
        assert!(next.running(), "{}: the next agent keeps running\n{}", node.label, next.context());
        assert_eq!(
            node.supervisor().restarts(),
            1,
            "{}: one restart in the whole rollout\n{}",
            node.label,
            next.context()
        );
        assert!(node.serves_nvidia(&node.cri().expect("CRI status")), "{}: still serves nvidia", node.label);
        assert_eq!(next.terminate().code(), Some(0));

        // Uninstall: the explicit revert, one restart more.
        let reverting = Instant::now();
        let (exit, log) = node.run_agent(&["revert"]);
        assert_eq!(exit.code(), Some(0), "{}: revert: {exit}\n{log}", node.label);
        node.assert_original("after revert");
        let (status, reverted) = node.wait_restarted(2, reverting, None);
        assert!(serves_original(&status), "{}: after revert serves {status:?}", node.label);
        assert!(exited_on_sighup(&node.supervisor().exits()[1]), "{}: revert restarts by SIGHUP", node.label);
        assert_eq!(node.run_agent(&["status"]).0.code(), Some(1), "{}: status says not configured", node.label);
        let (exit, log) = node.run_agent(&["revert"]);
        assert_eq!(exit.code(), Some(0), "{}: a second revert: {exit}\n{log}", node.label);
        assert!(log.contains("nothing to revert"), "{}: {log}", node.label);
        assert_eq!(node.supervisor().restarts(), 2, "{}: the second revert restarts nothing", node.label);
        eprintln!(
            "agent, {}: containerd serves nvidia {} ms after the agent started; revert to serving the original: \
             {} ms; agent CPU {} ms, peak RSS {} KiB (after 1.5 s watching every 0.2 s); restarts per rollout: 1",
            node.label,
            ms(serving),
            ms(reverted),
            ms(usage.cpu),
            usage.peak_kib,
        );
    }
}

#[test]
fn a_second_run_on_a_configured_node_restarts_nothing() {
    let _serial = serial();
    for (containerd, version, python) in pairs() {
        let node = Node::new(&containerd, version, &python);
        let mut first = node.spawn_agent(&[], &[]);
        let (status, _) = node.wait_restarted(1, first.started, Some(&first));
        assert!(node.serves_nvidia(&status), "{}: serves {status:?}\n{}", node.label, first.context());
        let exit = first.terminate();
        assert_eq!(exit.code(), Some(0), "{}: SIGTERM: {exit}\n{}", node.label, first.context());
        node.assert_applied("after SIGTERM");

        let (exit, log) = node.run_agent(&["--once"]);
        assert_eq!(exit.code(), Some(0), "{}: --once: {exit}\n{log}", node.label);
        assert!(log.contains("already configured"), "{}: --once says so:\n{log}", node.label);
        node.assert_applied("after --once");

        let mut second = node.spawn_agent(&[], &[]);
        std::thread::sleep(Duration::from_millis(1500));
        assert!(second.running(), "{}: the second agent keeps running\n{}", node.label, second.context());
        assert_eq!(node.supervisor().restarts(), 1, "{}: nothing restarted\n{}", node.label, second.context());
        assert!(node.serves_nvidia(&node.cri().expect("CRI status")), "{}: still serves nvidia", node.label);
        node.assert_applied("under the second agent");
    }
}

/// SIGKILL at the pause point right after the write; the files, and containerd, then.
fn kill_after_write(node: &Node) {
    let marker = node.dir.path().join("run/paused");
    let mut agent = node.spawn_agent(&[], &[("GPUPLAN_FAULT_PAUSE_AFTER_WRITE", &marker)]);
    let deadline = Instant::now() + SERVE_TIMEOUT;
    while !marker.exists() && Instant::now() < deadline && agent.running() {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(marker.exists(), "{}: the agent never paused after writing\n{}", node.label, agent.context());
    agent.signal(Signal::SIGKILL);
    let exit = agent.wait(EXIT_TIMEOUT).expect("SIGKILL ends the agent");
    assert!(exit.code().is_none(), "{}: killed, not exited: {exit}", node.label);

    let (config, drop_in) = node.files();
    if config.as_deref() != Some(node.original.as_str()) {
        node.assert_file(
            "killed after the write, neither old nor new",
            &node.config,
            config.as_deref(),
            Some(&node.applied.0),
        );
    }
    if drop_in.is_some() {
        node.assert_file(
            "killed after the write, neither absent nor new",
            &node.drop_in,
            drop_in.as_deref(),
            Some(&node.applied.1),
        );
    }
    // No temp file left beside them (gpuplan's record is written first, so it is there).
    let top = entries(node.dir.path());
    let allowed = [
        "conf.d",
        "config.toml",
        ".config.toml.gpuplan",
        "containerd.sock",
        "containerd.sock.ttrpc",
        "logs",
        "nvidia",
        "opt",
    ];
    let allowed_too = ["root", "run", "state", "tmp"];
    let stray: Vec<&String> =
        top.iter().filter(|n| !allowed.contains(&n.as_str()) && !allowed_too.contains(&n.as_str())).collect();
    assert!(stray.is_empty(), "{}: stray files beside the config: {stray:?}", node.label);
    let conf_d = entries(&node.dir.path().join("conf.d"));
    assert!(conf_d.iter().all(|n| n == "99-nvidia.toml"), "{}: stray files in conf.d: {conf_d:?}", node.label);
    // Killed before the restart: containerd was not touched.
    assert_eq!(node.supervisor().restarts(), 0, "{}: no restart before the pause", node.label);
    let status = node.cri().expect("CRI status");
    assert!(serves_original(&status), "{}: containerd still runs the old config: {status:?}", node.label);
}

#[test]
fn sigkill_right_after_the_write_leaves_each_file_old_or_new() {
    let _serial = serial();
    for (containerd, version, python) in pairs() {
        let node = Node::new(&containerd, version, &python);
        kill_after_write(&node);
    }
}

#[test]
fn after_a_crash_between_write_and_restart_the_next_run_makes_containerd_serve_nvidia() {
    let _serial = serial();
    for (containerd, version, python) in pairs() {
        let node = Node::new(&containerd, version, &python);
        kill_after_write(&node);
        // The DaemonSet starts the agent again: the node must end up serving nvidia, although
        // the files on disk may already have the change.
        let agent = node.spawn_agent(&[], &[]);
        let (status, _) = node.wait_restarted(1, agent.started, Some(&agent));
        assert!(node.serves_nvidia(&status), "{}: serves {status:?}\n{}", node.label, agent.context());
        node.assert_applied("after the second run");
    }
}

/// A Unix socket served by a Python process in its own process group that records every
/// catchable signal it gets (one name a line) in a file.
struct FakePeer {
    child: Child,
    signals: PathBuf,
}

impl FakePeer {
    fn start(python: &Path, socket: &Path, signals: &Path) -> FakePeer {
        const SCRIPT: &str = r#"
import signal, socket, sys
record = open(sys.argv[2], "a")
def note(number, frame):
    record.write(signal.Signals(number).name + "\n")
    record.flush()
for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT):
    signal.signal(s, note)
server = socket.socket(socket.AF_UNIX)
server.bind(sys.argv[1])
server.listen(64)
print("ready", flush=True)
while True:
    connection, _ = server.accept()
    connection.close()
"#;
        let mut child = Command::new(python)
            .args(["-c", SCRIPT])
            .arg(socket)
            .arg(signals)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("python starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
        assert_eq!(line.trim(), "ready", "the fake peer listens");
        FakePeer { child, signals: signals.to_owned() }
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_socket_not_served_by_containerd_is_never_signalled() {
    let _serial = serial();
    let Some(python) = real::python() else { return };
    // The peer is a Python process in its own process group.
    let node = Node::without_containerd(2, &python, "a Python listener");
    let mut peer = FakePeer::start(&python, &node.socket, &node.dir.path().join("run/signals"));
    let (exit, log) = node.run_agent(&[]);
    assert_eq!(exit.code(), Some(2), "{}: {exit}\n{log}", node.label);
    assert!(log.contains("refusing to signal"), "{}: says why:\n{log}", node.label);
    assert!(peer.child.try_wait().expect("try_wait").is_none(), "{}: the peer is alive", node.label);
    assert_eq!(read(&peer.signals).unwrap_or_default(), "", "{}: the peer got signals", node.label);
    node.assert_original("after refusing");

    // The peer is this test process: SIGHUP would end it (and every test) unless caught.
    let node = Node::without_containerd(3, &python, "the test process");
    let hangup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hangup)).expect("catch SIGHUP");
    let _listener = std::os::unix::net::UnixListener::bind(&node.socket).expect("bind");
    let (exit, log) = node.run_agent(&[]);
    assert_eq!(exit.code(), Some(2), "{}: {exit}\n{log}", node.label);
    assert!(log.contains("refusing to signal"), "{}: says why:\n{log}", node.label);
    assert!(!hangup.load(Ordering::SeqCst), "{}: the test process got SIGHUP", node.label);
    node.assert_original("after refusing");
}

#[test]
fn a_containerd_that_does_not_come_back_gets_the_original_config_back() {
    let _serial = serial();
    for (containerd, version, python) in pairs() {
        let node = Node::new(&containerd, version, &python);
        // containerd's next exit is final, as with a unit that is not restarted.
        node.supervisor().hold();
        let mut agent = node.spawn_agent(&["--restart-timeout", "2"], &[]);
        let exit =
            agent.wait(EXIT_TIMEOUT).unwrap_or_else(|| panic!("the agent does not give up\n{}", agent.context()));
        let gave_up = agent.started.elapsed();
        let log = agent.log();
        assert!(exit.code().is_some_and(|c| c != 0), "{}: {exit}\n{log}", node.label);
        assert!(log.contains("was not back with the new config"), "{}: says why:\n{log}", node.label);
        let exits = node.supervisor().exits();
        assert!(exits.len() == 1 && exited_on_sighup(&exits[0]), "{}: exits {exits:?}", node.label);
        node.assert_original("after giving up");

        // When containerd is started again, it runs on the original config.
        node.supervisor().resume();
        node.supervisor().wait_serving(SERVE_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        let status = node.cri().expect("CRI status");
        assert!(serves_original(&status), "{}: serves {status:?}", node.label);
        eprintln!("agent, {}: gave up {} ms after it started (--restart-timeout 2)", node.label, ms(gave_up));
    }
}

#[test]
fn a_config_rewritten_under_the_agent_is_reapplied() {
    let _serial = serial();
    for (containerd, version, python) in pairs() {
        let node = Node::new(&containerd, version, &python);
        let mut agent = node.spawn_agent(&[], &[]);
        let (status, _) = node.wait_restarted(1, agent.started, Some(&agent));
        assert!(node.serves_nvidia(&status), "{}: serves {status:?}\n{}", node.label, agent.context());

        // Another process (a package upgrade, an admin) writes the original back.
        let rewritten = Instant::now();
        // Atomically, as config management does: a truncating write can be read half-done.
        let staged = node.config.with_extension("toml.staged");
        std::fs::write(&staged, &node.original).expect("write config");
        std::fs::rename(&staged, &node.config).expect("rewrite config");
        let (status, reapplied) = node.wait_restarted(2, rewritten, Some(&agent));
        assert!(
            node.serves_nvidia(&status),
            "{}: after the rewrite serves {status:?}\n{}",
            node.label,
            agent.context()
        );
        node.assert_applied("re-applied");
        assert!(agent.running(), "{}: the agent keeps running\n{}", node.label, agent.context());
        std::thread::sleep(Duration::from_millis(1000));
        assert_eq!(node.supervisor().restarts(), 2, "{}: one restart per re-apply\n{}", node.label, agent.context());

        let exit = agent.terminate();
        assert_eq!(exit.code(), Some(0), "{}: SIGTERM: {exit}\n{}", node.label, agent.context());
        node.assert_applied("after SIGTERM");
        eprintln!("agent, {}: rewritten config served with nvidia again after {} ms", node.label, ms(reapplied));
    }
}

#[test]
fn a_second_agent_on_the_same_pid_file_refuses_to_run() {
    let _serial = serial();
    let Some((containerd, version, python)) = pairs().into_iter().next() else { return };
    let node = Node::new(&containerd, version, &python);
    let mut first = node.spawn_agent(&[], &[]);
    let (status, _) = node.wait_restarted(1, first.started, Some(&first));
    assert!(node.serves_nvidia(&status), "{}: serves {status:?}\n{}", node.label, first.context());

    let (exit, log) = node.run_agent(&[]);
    assert_eq!(exit.code(), Some(2), "{}: second agent: {exit}\n{log}", node.label);
    assert!(log.contains("another node agent"), "{}: says why:\n{log}", node.label);
    assert!(first.running(), "{}: the first agent runs on\n{}", node.label, first.context());
    assert_eq!(node.supervisor().restarts(), 1, "{}: the second agent restarted nothing", node.label);
    node.assert_applied("after the second agent");
    let exit = first.terminate();
    assert_eq!(exit.code(), Some(0), "{}: SIGTERM: {exit}\n{}", node.label, first.context());
    node.assert_applied("after SIGTERM");
}
