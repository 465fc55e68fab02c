//! A supervised private containerd for tests, standing in for systemd's `Restart=always`, and
//! the CRI client the tests read it back with.
//!
//! Input: a containerd build ([`Containerd`]), a config that keeps root, state, socket (and for
//! 2.x temp) inside a temp dir ([`private_config`]), and a log file. Output: a background thread
//! that starts containerd as a plain child in its own process group (never under `nohup`, so
//! SIGHUP keeps its default action: containerd exits with status 129), counts and records its
//! exits, and starts it again [`RESTART_DELAY`] after each exit until told to [`hold`] or
//! [`stop`]. Every daemon is killed when the [`Supervisor`] is dropped, also when a test fails.
//! [`cri_status`] runs `tests/e2e/cri_status.py` and returns the runtimes containerd serves.
//!
//! [`hold`]: Supervisor::hold
//! [`stop`]: Supervisor::stop

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::real::Containerd;

/// How long the supervisor waits after an exit before starting containerd again (systemd's
/// `RestartSec`, 5 s in Debian's unit, shortened for tests).
pub const RESTART_DELAY: Duration = Duration::from_millis(200);

/// How often the supervisor thread looks at the child when nothing wakes it.
const POLL: Duration = Duration::from_millis(5);

/// A private containerd config for `dir`: root, state, socket (`<dir>/containerd.sock`) and opt
/// path inside it; for version 3 (containerd 2.x) also temp, and NRI off (it would open a
/// socket under /var/run). No CRI runtimes: containerd's defaults (`runc`, the default).
pub fn private_config(dir: &Path, version: i64) -> String {
    let d = dir.display();
    let mut text = format!("version = {version}\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n");
    if version >= 3 {
        text.push_str(&format!("temp = \"{d}/tmp\"\n"));
    }
    text.push_str(&format!(
        "\n[grpc]\n  address = \"{d}/containerd.sock\"\n\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{d}/opt\"\n"
    ));
    if version >= 3 {
        text.push_str("\n[plugins.\"io.containerd.nri.v1.nri\"]\n  disable = true\n");
    }
    text
}

#[derive(Default)]
struct State {
    /// The running daemon, if any. Only the supervisor thread reaps it (under the lock), so
    /// its PID cannot be reused while it is here.
    child: Option<Child>,
    /// How many daemons were started.
    starts: u32,
    /// How each daemon that is gone ended, in order.
    exits: Vec<ExitStatus>,
    /// When the last one ended.
    exited_at: Option<Instant>,
    /// Start it again after an exit.
    restart: bool,
    /// The supervisor is being dropped: kill and leave.
    quit: bool,
    /// Why the last start failed.
    spawn_error: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock does not make the state unusable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A containerd kept running by a background thread.
pub struct Supervisor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The socket it serves (`grpc.address` of the config).
    pub socket: PathBuf,
    /// Its log: every run appends, after a `=== start N` line.
    pub log: PathBuf,
    /// Which containerd line (`1.6`, `1.7`, `2`).
    pub line: &'static str,
}

impl Supervisor {
    /// Start `containerd --config <config>` under supervision; the config must make it serve
    /// `socket`. Returns at once (see [`Supervisor::wait_serving`]).
    pub fn start(containerd: &Containerd, config: &Path, socket: &Path, log: &Path) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State { restart: true, ..State::default() }),
            changed: Condvar::new(),
        });
        let command = (containerd.bin.clone(), config.to_owned(), log.to_owned());
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("containerd-{}-supervisor", containerd.line))
                .spawn(move || supervise(&shared, &command.0, &command.1, &command.2))
                .expect("supervisor thread starts")
        };
        Supervisor {
            shared,
            thread: Some(thread),
            socket: socket.to_owned(),
            log: log.to_owned(),
            line: containerd.line,
        }
    }

    /// How many times containerd was started again after an exit.
    pub fn restarts(&self) -> u32 {
        self.shared.lock().starts.saturating_sub(1)
    }

    /// How the daemons that are gone ended, in order.
    pub fn exits(&self) -> Vec<ExitStatus> {
        self.shared.lock().exits.clone()
    }

    /// The PID of the running daemon.
    pub fn pid(&self) -> Option<u32> {
        self.shared.lock().child.as_ref().map(Child::id)
    }

    /// Stop restarting, but leave the running daemon alone: its next exit is final (a
    /// runtime that does not come back).
    pub fn hold(&self) {
        self.shared.lock().restart = false;
        self.shared.changed.notify_all();
    }

    /// Start restarting again (and start the daemon now if it is down).
    pub fn resume(&self) {
        self.shared.lock().restart = true;
        self.shared.changed.notify_all();
    }

    /// Stop restarting and kill the daemon; returns once it is reaped.
    pub fn stop(&self) {
        let mut state = self.shared.lock();
        state.restart = false;
        if let Some(child) = state.child.as_mut() {
            let _ = child.kill();
        }
        self.shared.changed.notify_all();
        let deadline = Instant::now() + Duration::from_secs(10);
        while state.child.is_some() && Instant::now() < deadline {
            state = self.shared.changed.wait_timeout(state, POLL * 10).map_or_else(|e| e.into_inner().0, |r| r.0);
        }
    }

    /// Wait until `exits().len() >= n`; false on timeout.
    pub fn wait_exits(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.exits.len() < n {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { return false };
            state =
                self.shared.changed.wait_timeout(state, left.min(POLL * 10)).map_or_else(|e| e.into_inner().0, |r| r.0);
        }
        true
    }

    /// Wait until a daemon runs and `ctr --address <socket> version` answers; the error says
    /// why not (with the log's tail) after `timeout`.
    pub fn wait_serving(&self, timeout: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        loop {
            let running = {
                let state = self.shared.lock();
                if let Some(e) = &state.spawn_error {
                    return Err(format!("containerd {} does not start: {e}", self.line));
                }
                state.child.is_some()
            };
            if running && ctr_version(&self.socket) {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= timeout {
                return Err(format!(
                    "containerd {} does not answer on {} after {timeout:?} (running: {running}, exits: {:?}); log:\n{}",
                    self.line,
                    self.socket.display(),
                    self.exits(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last 40 lines of the log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        {
            let mut state = self.shared.lock();
            state.quit = true;
            state.restart = false;
            if let Some(child) = state.child.as_mut() {
                let _ = child.kill();
            }
        }
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether containerd answers on `socket`.
pub fn ctr_version(socket: &Path) -> bool {
    Command::new("ctr")
        .arg("--address")
        .arg(socket)
        .args(["--timeout", "2s", "version"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether an exit status is containerd's answer to SIGHUP: it has no handler for it, so Go's
/// runtime exits with status 129 (128 + SIGHUP); or killed by the signal itself.
pub fn exited_on_sighup(status: &ExitStatus) -> bool {
    status.code() == Some(129) || status.signal() == Some(nix::sys::signal::Signal::SIGHUP as i32)
}

/// The supervisor thread: start, reap, count, start again until told to stop.
fn supervise(shared: &Shared, bin: &Path, config: &Path, log: &Path) {
    let mut state = shared.lock();
    loop {
        if state.quit {
            if let Some(mut child) = state.child.take() {
                let _ = child.kill();
                if let Ok(status) = child.wait() {
                    state.exits.push(status);
                }
            }
            shared.changed.notify_all();
            return;
        }
        let reaped = match state.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => Some(status),
            Some(Err(e)) => {
                state.spawn_error = Some(format!("cannot wait for containerd: {e}"));
                None
            }
            _ => None,
        };
        if let Some(status) = reaped {
            state.child = None;
            state.exits.push(status);
            state.exited_at = Some(Instant::now());
            append_log(log, &format!("=== exit: {status}"));
            shared.changed.notify_all();
        }
        let due = state.exited_at.is_none_or(|t| t.elapsed() >= RESTART_DELAY);
        if state.child.is_none() && state.restart && due && state.spawn_error.is_none() {
            state.starts += 1;
            append_log(log, &format!("=== start {}", state.starts));
            match spawn(bin, config, log) {
                Ok(child) => state.child = Some(child),
                Err(e) => state.spawn_error = Some(e.to_string()),
            }
            shared.changed.notify_all();
        }
        state = shared.changed.wait_timeout(state, POLL).map_or_else(|e| e.into_inner().0, |r| r.0);
    }
}

fn spawn(bin: &Path, config: &Path, log: &Path) -> std::io::Result<Child> {
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    Command::new(bin)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        // Its own process group, as under systemd: the node agent refuses to signal its own.
        .process_group(0)
        .spawn()
}

fn append_log(log: &Path, line: &str) {
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(f, "{line}");
    }
}

/// One CRI runtime as containerd serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriRuntime {
    /// `runtimeType`, e.g. `io.containerd.runc.v2`.
    pub runtime_type: String,
    /// `options.BinaryName` (empty or absent: the shim's default).
    pub binary: Option<String>,
}

/// The CRI runtimes containerd serves, from `RuntimeService.Status(verbose)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriStatus {
    /// By runtime (handler) name.
    pub runtimes: BTreeMap<String, CriRuntime>,
    /// `defaultRuntimeName`.
    pub default: String,
}

/// `tests/e2e/cri_status.py <socket>` with `python`: what containerd serves over CRI, or why
/// it does not answer.
pub fn cri_status(python: &Path, socket: &Path) -> Result<CriStatus, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/cri_status.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(socket)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        let hint = if stderr.contains("ModuleNotFoundError") {
            "\n(the venv has no CRI client: run scripts/install-test-deps and `source target/test-deps/env`)"
        } else {
            ""
        };
        return Err(format!("{stderr}{hint}"));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cri_status.py printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))?;
    let runtimes = json["runtimes"]
        .as_object()
        .ok_or_else(|| format!("no runtimes in {json}"))?
        .iter()
        .map(|(name, r)| {
            let runtime = CriRuntime {
                runtime_type: r["runtimeType"].as_str().unwrap_or_default().to_owned(),
                binary: r["binary"].as_str().filter(|b| !b.is_empty()).map(str::to_owned),
            };
            (name.clone(), runtime)
        })
        .collect();
    Ok(CriStatus { runtimes, default: json["default"].as_str().unwrap_or_default().to_owned() })
}

/// The harness itself, with `gpuplan node apply` and a SIGHUP from the test standing in for
/// the agent: given a supervised containerd, SIGHUP ends it with status 129 and the supervisor
/// starts it again on the config written meanwhile (the CRI status shows the runtime); held,
/// it does not come back and the CRI client says the socket does not answer; resumed, it does;
/// stopped, it is gone.
#[test]
fn the_supervisor_restarts_containerd_after_sighup_until_held() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let Some(python) = super::real::python() else { return };
    for (line, version) in [("1.6", 2), ("1.7", 2), ("2", 3)] {
        let Some(containerd) = super::real::containerd(line) else { continue };
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = tmp.path().join("config.toml");
        std::fs::write(&config, private_config(tmp.path(), version)).expect("write config");
        let socket = tmp.path().join("containerd.sock");
        let supervisor = Supervisor::start(&containerd, &config, &socket, &tmp.path().join("containerd.log"));
        let timeout = Duration::from_secs(30);
        supervisor.wait_serving(timeout).unwrap_or_else(|e| panic!("{e}"));
        let before = cri_status(&python, &socket).expect("CRI status");
        assert_eq!(before.default, "runc", "containerd {line}: {before:?}");
        assert!(!before.runtimes.contains_key("nvidia"), "containerd {line}: {before:?}");

        let apply = assert_cmd::Command::cargo_bin("gpuplan")
            .expect("binary")
            .args(["node", "apply", "--set", "toolkit.env[0].name=CONTAINERD_SET_AS_DEFAULT,toolkit.env[0].value=true"])
            .arg("--config")
            .arg(&config)
            .arg("--drop-in")
            .arg(tmp.path().join("conf.d/99-nvidia.toml"))
            .arg("--lock")
            .arg(tmp.path().join("toolkit.pid"))
            .output()
            .expect("gpuplan runs");
        assert!(apply.status.success(), "{}", String::from_utf8_lossy(&apply.stderr));
        let hup = |s: &Supervisor| {
            let pid = s.pid().expect("a daemon runs");
            kill(Pid::from_raw(i32::try_from(pid).expect("pid")), Signal::SIGHUP).expect("SIGHUP");
        };

        let first = supervisor.pid();
        hup(&supervisor);
        assert!(supervisor.wait_exits(1, timeout), "containerd {line} exits on SIGHUP");
        assert!(exited_on_sighup(&supervisor.exits()[0]), "containerd {line}: {:?}", supervisor.exits());
        supervisor.wait_serving(timeout).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(supervisor.restarts(), 1, "containerd {line}");
        assert_ne!(supervisor.pid(), first, "containerd {line}: a new daemon");
        let after = cri_status(&python, &socket).expect("CRI status");
        assert_eq!(after.default, "nvidia", "containerd {line}: {after:?}");
        assert_eq!(
            after.runtimes.get("nvidia").and_then(|r| r.binary.as_deref()),
            Some("/usr/local/nvidia/toolkit/nvidia-container-runtime"),
            "containerd {line}: {after:?}"
        );

        supervisor.hold();
        hup(&supervisor);
        assert!(supervisor.wait_exits(2, timeout), "containerd {line} exits on SIGHUP");
        std::thread::sleep(RESTART_DELAY * 3);
        assert_eq!((supervisor.restarts(), supervisor.pid()), (1, None), "containerd {line}: held, not restarted");
        assert!(!ctr_version(&socket), "containerd {line}: nothing answers");
        let down = cri_status(&python, &socket).expect_err("no CRI status from a stopped containerd");
        assert!(down.contains("does not answer"), "containerd {line}: {down}");

        supervisor.resume();
        supervisor.wait_serving(timeout).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(supervisor.restarts(), 2, "containerd {line}: resumed");
        supervisor.stop();
        assert_eq!(supervisor.pid(), None, "containerd {line}: stopped");
        assert!(!ctr_version(&socket), "containerd {line}: stopped, nothing answers");
    }
}
