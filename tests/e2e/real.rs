//! Finding and running the real components the end-to-end tests need: containerd builds, the
//! Kubernetes JSON schemas and a Python with PyYAML, all named by `target/test-deps/env`. A
//! missing one fails the test that needs it ([`component`]): plain `cargo test` on a machine
//! without the test dependencies says so in its summary instead of counting tests that did not
//! run as passed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A containerd build to test against.
#[derive(Debug, Clone)]
pub struct Containerd {
    /// Which release line (`1.6`, `1.7`, `2`).
    pub line: &'static str,
    /// The binary.
    pub bin: PathBuf,
}

/// The path in environment variable `var` when it exists. When it does not, the test fails,
/// naming the component (`what`) and how to install it — a test that did not run must not be
/// counted as passed — unless `GPUPLAN_SKIP_REAL=1` says to skip such tests knowingly: then
/// `None`, after a `SKIPPED` line on stderr. `GPUPLAN_REQUIRE_REAL=1` (`scripts/test`) makes it
/// a failure whatever else is set.
pub fn component(var: &str, what: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var).map(PathBuf::from).filter(|p| p.exists());
    if path.is_none() {
        missing(&format!(
            "{what} not available ({var} unset or missing): run scripts/install-test-deps, then \
             `set -a; . target/test-deps/env; set +a`"
        ));
    }
    path
}

/// A real component is missing: fail saying so, or (with `GPUPLAN_SKIP_REAL=1`, and without
/// `GPUPLAN_REQUIRE_REAL=1`) say that the test skips.
pub fn missing(message: &str) {
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty() && v != "0");
    assert!(!set("GPUPLAN_REQUIRE_REAL"), "GPUPLAN_REQUIRE_REAL is set: {message}");
    assert!(
        set("GPUPLAN_SKIP_REAL"),
        "{message}\n(to skip the tests that need it instead, knowingly: GPUPLAN_SKIP_REAL=1)"
    );
    eprintln!("SKIPPED (GPUPLAN_SKIP_REAL=1): {message}");
}

/// The containerd of a release line, from `GPUPLAN_CONTAINERD_<LINE>` (see [`component`]).
pub fn containerd(line: &'static str) -> Option<Containerd> {
    let var = format!("GPUPLAN_CONTAINERD_{}", line.replace('.', "_"));
    component(&var, &format!("containerd {line}")).map(|bin| Containerd { line, bin })
}

/// The directory of the offline Kubernetes JSON schemas (`v1.31.0-local-strict/`, ...), from
/// `GPUPLAN_K8S_SCHEMAS` (see [`component`]).
pub fn k8s_schemas() -> Option<PathBuf> {
    component("GPUPLAN_K8S_SCHEMAS", "the Kubernetes JSON schemas")
}

/// A Python with PyYAML (a YAML 1.1 reader), from `GPUPLAN_PYTHON` (see [`component`]).
pub fn python() -> Option<PathBuf> {
    component("GPUPLAN_PYTHON", "Python with PyYAML")
}

impl Containerd {
    /// `containerd --config <file> config dump`, parsed.
    pub fn dump(&self, config: &Path) -> toml_edit::DocumentMut {
        let out = Command::new(&self.bin)
            .arg("--config")
            .arg(config)
            .args(["config", "dump"])
            .output()
            .expect("containerd runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "containerd {} config dump failed:\n{}",
            self.line,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout.parse().unwrap_or_else(|e| panic!("dump is TOML: {e}\n{stdout}"))
    }

    /// Start a private daemon on `config` (which must set root, state and grpc.address inside
    /// a temp dir); the log goes to `log`.
    pub fn start(&self, config: &Path, log: &Path) -> Daemon {
        let log_file = std::fs::File::create(log).expect("log file");
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .spawn()
            .expect("containerd starts");
        Daemon { child, log: log.to_owned() }
    }
}

/// A running private containerd, stopped when dropped.
pub struct Daemon {
    child: Child,
    /// Its log file.
    pub log: PathBuf,
}

impl Daemon {
    /// Wait until `ctr version` answers on the socket.
    pub fn wait_ready(&mut self, socket: &Path) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("containerd exited ({status}):\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            let ok = Command::new("ctr")
                .arg("--address")
                .arg(socket)
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("containerd did not answer in 10 s:\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
    }

    /// The status of the CRI plugin in `ctr plugins ls` (`ok`, `error`, ...).
    pub fn cri_status(&self, socket: &Path) -> String {
        let out = Command::new("ctr").arg("--address").arg(socket).args(["plugins", "ls"]).output().expect("ctr runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.get(1) == Some(&"cri")).then(|| cols.last().map(|s| (*s).to_owned())).flatten()
            })
            .unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
