//! `gpuplan node-agent` in `systemd` restart mode, against a real containerd. No systemd runs on
//! these machines, so a stand-in plays it: a host root (a directory with `sh`, `sleep` and their
//! libraries copied in) whose `/usr/bin/systemctl` is a small script that writes the unit it is
//! asked to restart into `<root>/run/restart-request` and waits until the request is served;
//! the test serves it like systemd would — stopping the supervised containerd, which its
//! supervisor (`Restart=always`) starts again — or, to test the rollback, not at all.
//!
//! This proves what the agent does in systemd mode: it runs `systemctl` inside the host root
//! (`chroot $HOST_ROOT_MOUNT`: the script exists nowhere else), restarts the unit it is told
//! (`RUNTIME_SYSTEMD_UNIT`), waits for a *new* containerd that reports ready and serves gpuplan's
//! runtime over CRI, and, when the runtime does not come back, restores the previous config and
//! restarts the unit again. It does not prove anything about systemd itself.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::real::{self, Containerd};
use super::supervisor::{Supervisor, cri_status, private_config};

const UNIT: &str = "k3s-agent";
const SYSTEMCTL: &str = r#"#!/bin/sh
# A stand-in for systemctl: asks the test (playing systemd) to restart a unit, waits for it.
echo "$*" >> /var/log/systemctl.log
[ "$1" = restart ] || exit 0
echo "$2" > /run/restart-request
i=0
while [ -e /run/restart-request ]; do
  sleep 0.05
  i=$((i + 1))
  [ "$i" -gt 1200 ] && { echo "timed out" >&2; exit 1; }
done
exit 0
"#;

/// Copy `binary` and the shared libraries it loads into `root`, at the same paths.
fn copy_with_libraries(binary: &str, root: &Path) {
    let out = Command::new("ldd").arg(binary).output().expect("ldd runs");
    let listing = String::from_utf8_lossy(&out.stdout);
    let libraries = listing.lines().filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')));
    for path in std::iter::once(binary).chain(libraries) {
        let target = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().expect("a directory")).expect("mkdir");
        std::fs::copy(path, &target).unwrap_or_else(|e| panic!("copy {path}: {e}"));
    }
}

/// The host root: `sh`, `sleep` and the stand-in `systemctl`.
fn host_root(dir: &Path) -> PathBuf {
    let root = dir.join("host");
    for binary in ["/bin/sh", "/bin/sleep"] {
        let real = std::fs::canonicalize(binary).expect("the binary exists");
        copy_with_libraries(&real.to_string_lossy(), &root);
        if real != Path::new(binary) {
            let link = root.join(binary.trim_start_matches('/'));
            std::fs::create_dir_all(link.parent().expect("dir")).expect("mkdir");
            std::fs::copy(&real, link).expect("copy");
        }
    }
    for d in ["usr/bin", "run", "var/log"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    let systemctl = root.join("usr/bin/systemctl");
    std::fs::write(&systemctl, SYSTEMCTL).expect("write systemctl");
    std::fs::set_permissions(&systemctl, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    root
}

/// The test playing systemd: serves restart requests for [`UNIT`] while it runs.
struct Systemd {
    stop: Arc<AtomicBool>,
    /// Whether a request makes containerd come back (false: it stays down, as a failed unit).
    healthy: Arc<AtomicBool>,
    served: Arc<AtomicU32>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Systemd {
    fn start(root: &Path, supervisor: Arc<Supervisor>) -> Systemd {
        let (stop, healthy, served) =
            (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(true)), Arc::new(AtomicU32::new(0)));
        let request = root.join("run/restart-request");
        let (s, h, n) = (stop.clone(), healthy.clone(), served.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                // The shell creates the file, then writes the line: a request is complete once
                // its newline is there (an empty read was once taken for a request).
                if let Ok(unit) = std::fs::read_to_string(&request)
                    && unit.ends_with('\n')
                {
                    assert_eq!(unit.trim(), UNIT, "the agent restarts the unit it was told");
                    if h.load(Ordering::SeqCst) {
                        supervisor.resume();
                    } else {
                        supervisor.hold();
                    }
                    if let Some(pid) = supervisor.pid() {
                        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
                    }
                    let _ = std::fs::remove_file(&request);
                    n.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Systemd { stop, healthy, served, thread: Some(thread) }
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Node {
    dir: tempfile::TempDir,
    root: PathBuf,
    supervisor: Arc<Supervisor>,
    python: PathBuf,
    original: String,
}

impl Node {
    fn new(containerd: &Containerd, version: i64, python: &Path) -> Node {
        let dir = tempfile::Builder::new().prefix("gps").tempdir().expect("tempdir");
        let original = private_config(dir.path(), version);
        std::fs::write(dir.path().join("config.toml"), &original).expect("config");
        let toolkit = dir.path().join("nvidia/toolkit");
        std::fs::create_dir_all(&toolkit).expect("mkdir");
        for name in ["nvidia-container-runtime", "nvidia-container-runtime.cdi", "nvidia-container-runtime.legacy"] {
            std::fs::write(toolkit.join(name), "#!/bin/sh\nexec runc \"$@\"\n").expect("write");
            std::fs::set_permissions(toolkit.join(name), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let root = host_root(dir.path());
        let supervisor = Arc::new(Supervisor::start(
            containerd,
            &dir.path().join("config.toml"),
            &dir.path().join("containerd.sock"),
            &dir.path().join("containerd.log"),
        ));
        supervisor.wait_serving(Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
        Node { dir, root, supervisor, python: python.to_owned(), original }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn agent(&self, args: &[&str], timeout: &str) -> (std::process::ExitStatus, String) {
        let out = Command::new(assert_cmd::cargo::cargo_bin("gpuplan"))
            .arg("node-agent")
            .args(args)
            .args(["--restart-timeout", timeout])
            .env_clear()
            .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .env("RUNTIME", "containerd")
            .env("CONTAINERD_CONFIG", self.path("config.toml"))
            .env("RUNTIME_DROP_IN_CONFIG", self.path("conf.d/99-nvidia.toml"))
            .env("CONTAINERD_SOCKET", self.path("containerd.sock"))
            .env("CONTAINERD_SET_AS_DEFAULT", "true")
            .env("RUNTIME_RESTART_MODE", "systemd")
            .env("RUNTIME_SYSTEMD_UNIT", UNIT)
            .env("HOST_ROOT_MOUNT", &self.root)
            .env("TOOLKIT_PID_FILE", self.path("toolkit.pid"))
            .env("ROOT", self.path("nvidia"))
            .stdin(Stdio::null())
            .output()
            .expect("the agent runs");
        (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn serves_nvidia(&self) -> bool {
        cri_status(&self.python, &self.path("containerd.sock"))
            .is_ok_and(|s| s.default == "nvidia" && s.runtimes.contains_key("nvidia"))
    }

    fn systemctl_log(&self) -> String {
        std::fs::read_to_string(self.root.join("var/log/systemctl.log")).unwrap_or_default()
    }
}

fn containerd_and_python() -> Option<(Containerd, PathBuf)> {
    Some((real::containerd("1.7")?, real::python()?))
}

#[test]
fn systemd_mode_restarts_the_unit_in_the_host_root_and_waits_for_the_new_config() {
    let Some((containerd, python)) = containerd_and_python() else { return };
    let node = Node::new(&containerd, 2, &python);
    let systemd = Systemd::start(&node.root, node.supervisor.clone());
    let first = node.supervisor.pid();

    let started = Instant::now();
    let (exit, log) = node.agent(&["--once"], "30");
    assert!(exit.success(), "{exit}\n{log}\n{}", node.supervisor.log_tail());
    let took = started.elapsed();
    assert_eq!(node.systemctl_log(), format!("restart {UNIT}\n"), "systemctl ran in the host root, once");
    assert_eq!(systemd.served.load(Ordering::SeqCst), 1);
    assert_ne!(node.supervisor.pid(), first, "a new containerd");
    assert!(node.serves_nvidia(), "the new containerd serves gpuplan's runtime as the default");
    assert!(log.contains("the runtime is back with the config on disk"), "{log}");

    let (exit, log) = node.agent(&["revert"], "30");
    assert!(exit.success(), "{exit}\n{log}");
    assert_eq!(std::fs::read_to_string(node.path("config.toml")).ok(), Some(node.original.clone()));
    assert_eq!(node.systemctl_log().lines().count(), 2, "one restart for the revert");
    assert!(!node.serves_nvidia(), "the restarted containerd no longer serves nvidia");
    eprintln!(
        "agent, systemd mode (stand-in), containerd 1.7: serves nvidia {} ms after the agent started",
        took.as_millis()
    );
}

#[test]
fn systemd_mode_rolls_back_when_the_unit_does_not_come_back() {
    let Some((containerd, python)) = containerd_and_python() else { return };
    let node = Node::new(&containerd, 2, &python);
    let systemd = Systemd::start(&node.root, node.supervisor.clone());
    systemd.healthy.store(false, Ordering::SeqCst);
    // The first restart leaves containerd down; the rollback's restart brings it back.
    let flip = {
        let (healthy, served) = (systemd.healthy.clone(), systemd.served.clone());
        std::thread::spawn(move || {
            while served.load(Ordering::SeqCst) < 1 {
                std::thread::sleep(Duration::from_millis(20));
            }
            healthy.store(true, Ordering::SeqCst);
        })
    };
    let (exit, log) = node.agent(&[], "3");
    flip.join().expect("joined");
    assert_eq!(exit.code(), Some(2), "{log}");
    assert!(log.contains("the previous config is restored"), "{log}");
    assert_eq!(std::fs::read_to_string(node.path("config.toml")).ok(), Some(node.original.clone()));
    assert!(!node.path("conf.d/99-nvidia.toml").exists());
    assert_eq!(node.systemctl_log(), format!("restart {UNIT}\nrestart {UNIT}\n"), "restarted again for the rollback");
    node.supervisor.wait_serving(Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!node.serves_nvidia(), "containerd runs the previous config");
}
