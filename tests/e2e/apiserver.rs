//! A real Kubernetes API server for the end-to-end tests: the upstream
//! `k8s.io/apiextensions-apiserver` on a private etcd, both installed by
//! `scripts/install-apiserver` and named by `GPUPLAN_APISERVER` and `GPUPLAN_ETCD`.
//!
//! Given those two binaries, [`ApiServer::shared`] starts one server per test binary on first
//! use (free ports, a private temp dir, certificates made here with rcgen) and every test of the
//! binary shares it, each in its own namespace and names. [`ApiServer::kubeconfig`] is an admin
//! kubeconfig (client certificate in `O=system:masters`) for kube-rs and for
//! `gpuplan --kubeconfig`. Workload kinds the server does not have are stood in for by CRDs
//! (`stand_in.rs`).
//!
//! Limitations, all of the server (it serves CRDs and custom resources only):
//! - no core or apps API: no Namespace, ConfigMap or DaemonSet objects. Namespaces need not exist
//!   either (the NamespaceLifecycle admission plugin is off), so any namespace name works.
//! - no discovery (`/apis` is 404): kube-rs `Discovery`, `kubectl apply` and `kubectl get <kind>`
//!   fail; `Api<K>` and `Api<DynamicObject>` with a known `ApiResource` work.
//! - `/readyz` never says ready: it answered 500 (`[-]informer-sync failed`: informers for
//!   core kinds wait for an API this server does not have) for the two minutes measured, while
//!   the CRD list answered 0.2 to 0.9 s after start. So readiness is "the CRD list answers".
//!
//! The server and etcd must not outlive the test process, and a static is never dropped: a
//! watchdog (`sh`, in its own process group so that Ctrl-C does not stop it first) holds the
//! read end of a pipe whose write end only this process has. When the process ends, however it
//! ends (exit, panic, SIGKILL), the pipe closes and the watchdog kills both and removes the temp
//! dir. Under cargo-nextest, which runs every test in its own process, "one per test binary"
//! becomes one per test.

use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

use super::real::component;

/// How long the server may take to answer its first CRD list. It usually takes 1 to 2 s; a
/// loaded 2-core machine has been seen to need several times that.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How many times a start is tried when a child could not bind its port (the free ports are found
/// by binding port 0, and another process can take one before the child binds it).
const START_ATTEMPTS: usize = 3;

/// The watchdog (see the module doc): reads the PIDs to kill from stdin until it closes, then
/// kills them and removes the directory given as `$1`. SIGKILL, because their state is thrown
/// away anyway; the pause lets the kernel finish them before their files are removed.
const WATCHDOG: &str = r#"dir=$1
pids=
while read -r pid; do pids="$pids $pid"; done
[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
sleep 0.2
rm -rf "$dir"
"#;

/// A running apiextensions-apiserver and its etcd, in a private temp dir. Dropping it (only
/// servers that are not [`ApiServer::shared`] are dropped) stops both and removes the dir.
pub struct ApiServer {
    dir: PathBuf,
    kubeconfig: PathBuf,
    url: String,
    /// The watchdog's stdin: closing it makes the watchdog stop everything (see the module doc).
    watchdog_stdin: Option<ChildStdin>,
    watchdog: Option<Child>,
    /// etcd, then the API server, with the names their logs are kept under.
    children: Vec<(&'static str, Child)>,
}

static SHARED: OnceLock<Result<ApiServer, String>> = OnceLock::new();

impl ApiServer {
    /// The server of this test binary, started on first use and shared by all its tests (each
    /// test uses its own namespace and names). `None` (after a loud SKIPPED) when the binaries
    /// are not installed, unless `GPUPLAN_REQUIRE_REAL=1` makes that a failure. Panics, with
    /// both logs, when the server does not start; every later call panics with the same message.
    pub fn shared() -> Option<&'static ApiServer> {
        let installed = "from `scripts/install-apiserver target/test-deps`, named by target/test-deps/apiserver/env";
        let apiserver = component("GPUPLAN_APISERVER", &format!("the Kubernetes API server ({installed})"))?;
        let etcd = component("GPUPLAN_ETCD", &format!("etcd ({installed})"))?;
        match SHARED.get_or_init(|| start_with_retries(&apiserver, &etcd)) {
            Ok(server) => Some(server),
            Err(message) => panic!("{message}"),
        }
    }

    /// An admin kubeconfig for this server: client certificate in `O=system:masters`, which the
    /// server authorizes for everything.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The server's URL, `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A kube-rs client from [`ApiServer::kubeconfig`]. Make one per test: a client belongs to
    /// the tokio runtime it was made on, and each `#[tokio::test]` has its own.
    pub async fn client(&self) -> kube::Client {
        client_from(&self.kubeconfig).await.unwrap_or_else(|e| panic!("kube client for {}: {e}", self.url))
    }

    /// Start etcd and the API server in a new temp dir and wait until the CRD list answers.
    /// The error carries both logs.
    fn start(apiserver: &Path, etcd: &Path) -> Result<ApiServer, String> {
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("gpuplan-apiserver.")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?
            .keep();
        let mut server = ApiServer {
            kubeconfig: dir.join("admin.kubeconfig"),
            dir,
            url: String::new(),
            watchdog_stdin: None,
            watchdog: None,
            children: Vec::new(),
        };
        // From here on, an early return drops `server`, which stops what was started.
        server.spawn_watchdog()?;
        let pki = server.dir.join("pki");
        write_certificates(&pki)?;
        let [etcd_client, etcd_peer, secure] = free_ports()?;
        server.url = format!("https://127.0.0.1:{secure}");
        write_kubeconfig(&server.kubeconfig, &server.url, &pki)?;

        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer}");
        let mut command = Command::new(etcd);
        command
            .args(["--name", "gpuplan-test", "--data-dir"])
            .arg(server.dir.join("etcd"))
            .args(["--listen-client-urls", &etcd_url, "--advertise-client-urls", &etcd_url])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("gpuplan-test={peer_url}")])
            // Test data is thrown away: do not wait for the disk of a shared machine.
            .arg("--unsafe-no-fsync");
        server.spawn("etcd", command)?;

        let kubeconfig = server.kubeconfig.as_os_str();
        let mut command = Command::new(apiserver);
        command
            .args(["--etcd-servers", &etcd_url, "--bind-address", "127.0.0.1", "--secure-port", &secure.to_string()])
            .arg("--tls-cert-file")
            .arg(pki.join("server.crt"))
            .arg("--tls-private-key-file")
            .arg(pki.join("server.key"))
            .arg("--cert-dir")
            .arg(server.dir.join("certs"))
            .arg("--client-ca-file")
            .arg(pki.join("ca.crt"))
            // Without these three it exits at once (it looks for in-cluster config). With the
            // system:masters certificate its delegated authentication and authorization
            // requests to itself are allowed without a SubjectAccessReview round trip.
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--authentication-kubeconfig")
            .arg(kubeconfig)
            .arg("--authorization-kubeconfig")
            .arg(kubeconfig)
            // There is no core API, so no extension-apiserver-authentication ConfigMap, no
            // FlowSchemas and no namespaces to look up.
            .args(["--authentication-skip-lookup", "--authentication-tolerate-lookup-failure"])
            .arg("--enable-priority-and-fairness=false")
            .args([
                "--disable-admission-plugins",
                "NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,\
                 ValidatingAdmissionPolicy,MutatingAdmissionPolicy",
            ]);
        server.spawn("apiserver", command)?;

        server.wait_ready(started + STARTUP_TIMEOUT).map_err(|e| server.failure(&e))?;
        eprintln!(
            "apiserver: ready in {:.1} s at {} (kubeconfig {})",
            started.elapsed().as_secs_f64(),
            server.url,
            server.kubeconfig.display()
        );
        Ok(server)
    }

    fn spawn_watchdog(&mut self) -> Result<(), String> {
        let mut watchdog = Command::new("sh")
            .args(["-c", WATCHDOG, "gpuplan-apiserver-watchdog"])
            .arg(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("watchdog (sh): {e}"))?;
        self.watchdog_stdin = watchdog.stdin.take();
        self.watchdog = Some(watchdog);
        Ok(())
    }

    /// Spawn a child logging to `<dir>/<name>.log` and hand its PID to the watchdog.
    fn spawn(&mut self, name: &'static str, mut command: Command) -> Result<(), String> {
        let log = std::fs::File::create(self.log(name)).map_err(|e| format!("{name}.log: {e}"))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| format!("{name}.log: {e}"))?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{name} ({}): {e}", command.get_program().to_string_lossy()))?;
        let pid = child.id();
        self.children.push((name, child));
        let stdin = self.watchdog_stdin.as_mut().ok_or("no watchdog")?;
        writeln!(stdin, "{pid}").map_err(|e| format!("watchdog: {e}"))
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// Poll the CRD list endpoint (not `/readyz`, see the module doc) until it answers, a child
    /// exits or `deadline` passes. Runs a private tokio runtime on its own thread, so that it
    /// also works when called from inside a test's runtime.
    fn wait_ready(&mut self, deadline: Instant) -> Result<(), String> {
        let kubeconfig = self.kubeconfig.clone();
        let children = &mut self.children;
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| format!("tokio runtime: {e}"))?;
                    runtime.block_on(async {
                        let client = client_from(&kubeconfig).await?;
                        let crds: Api<CustomResourceDefinition> = Api::all(client);
                        let mut last = String::from("no answer yet");
                        loop {
                            for (name, child) in children.iter_mut() {
                                if let Ok(Some(status)) = child.try_wait() {
                                    return Err(format!("{name} exited ({status})"));
                                }
                            }
                            if Instant::now() > deadline {
                                return Err(format!(
                                    "no answer from the CRD list in {} s; last: {last}",
                                    STARTUP_TIMEOUT.as_secs()
                                ));
                            }
                            let first = ListParams::default().limit(1);
                            match tokio::time::timeout(Duration::from_secs(2), crds.list(&first)).await {
                                Ok(Ok(_)) => return Ok(()),
                                Ok(Err(e)) => last = e.to_string(),
                                Err(_) => last = "timed out after 2 s".to_owned(),
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    })
                })
                .join()
                .unwrap_or_else(|_| Err("the readiness thread panicked".to_owned()))
        })
    }

    /// `what` went wrong, with the tail of every log.
    fn failure(&self, what: &str) -> String {
        let mut message = format!("the test API server did not start: {what}");
        for (name, _) in &self.children {
            let log = std::fs::read_to_string(self.log(name)).unwrap_or_else(|e| format!("(unreadable: {e})"));
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            message.push_str(&format!("\n--- {name}.log (last {} lines) ---\n{}", tail.len(), tail.join("\n")));
        }
        message
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        // EOF: the watchdog kills the children and removes the dir, exactly as when the process
        // ends. Killing them here as well covers a watchdog that failed; they are not reaped
        // before this, so their PIDs cannot have been reused.
        drop(self.watchdog_stdin.take());
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// [`ApiServer::start`], again with new ports when a child could not bind its port.
fn start_with_retries(apiserver: &Path, etcd: &Path) -> Result<ApiServer, String> {
    let mut attempt = 1;
    loop {
        match ApiServer::start(apiserver, etcd) {
            Err(e) if attempt < START_ATTEMPTS && e.contains("address already in use") => {
                eprintln!("apiserver: a port was taken meanwhile (attempt {attempt}), starting again");
                attempt += 1;
            }
            result => return result,
        }
    }
}

async fn client_from(kubeconfig: &Path) -> Result<kube::Client, String> {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).map_err(|e| e.to_string())?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

/// Three distinct free ports on 127.0.0.1 (etcd client, etcd peer, API server). All three are
/// held at once so that they differ; they are free again when this returns.
fn free_ports() -> Result<[u16; 3], String> {
    let listeners = [(); 3].map(|()| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)));
    let mut ports = [0; 3];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        let listener = listener.as_ref().map_err(|e| format!("free port: {e}"))?;
        *port = listener.local_addr().map_err(|e| format!("free port: {e}"))?.port();
    }
    Ok(ports)
}

/// A CA, the server's certificate (for 127.0.0.1 and localhost) and an admin client
/// certificate (`CN=admin, O=system:masters`), as PEM files in `pki`: `ca.crt`,
/// `server.{crt,key}`, `admin.{crt,key}`. rcgen writes X.509 v3 certificates with the key
/// usages set, which rustls requires (an openssl v1 certificate is rejected with
/// `UnsupportedCertVersion`).
fn write_certificates(pki: &Path) -> Result<(), String> {
    let err = |e: rcgen::Error| format!("certificates: {e}");
    let write = |name: &str, pem: String| std::fs::write(pki.join(name), pem).map_err(|e| format!("{name}: {e}"));
    std::fs::create_dir_all(pki).map_err(|e| format!("{}: {e}", pki.display()))?;

    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "gpuplan test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    write("ca.crt", ca.self_signed(&ca_key).map_err(err)?.pem())?;
    let issuer = Issuer::new(ca, ca_key);

    let leaf = |name: &str, params: CertificateParams, usage: ExtendedKeyUsagePurpose| {
        let mut params = params;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().map_err(err)?;
        write(&format!("{name}.crt"), params.signed_by(&key, &issuer).map_err(err)?.pem())?;
        write(&format!("{name}.key"), key.serialize_pem())
    };
    let mut server = CertificateParams::new(["127.0.0.1".to_owned(), "localhost".to_owned()]).map_err(err)?;
    server.distinguished_name.push(DnType::CommonName, "gpuplan test apiserver");
    leaf("server", server, ExtendedKeyUsagePurpose::ServerAuth)?;
    let mut admin = CertificateParams::default();
    admin.distinguished_name.push(DnType::CommonName, "admin");
    admin.distinguished_name.push(DnType::OrganizationName, "system:masters");
    leaf("admin", admin, ExtendedKeyUsagePurpose::ClientAuth)
}

/// An admin kubeconfig (context `gpuplan-test`) for `url`, with the certificates of `pki` by path.
fn write_kubeconfig(path: &Path, url: &str, pki: &Path) -> Result<(), String> {
    // JSON strings are YAML strings, so paths are quoted safely by serde_json.
    let quote = |p: PathBuf| serde_json::to_string(&p.to_string_lossy()).unwrap_or_default();
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: gpuplan-test
  cluster:
    server: {url}
    certificate-authority: {ca}
users:
- name: admin
  user:
    client-certificate: {crt}
    client-key: {key}
contexts:
- name: gpuplan-test
  context:
    cluster: gpuplan-test
    user: admin
current-context: gpuplan-test
",
        ca = quote(pki.join("ca.crt")),
        crt = quote(pki.join("admin.crt")),
        key = quote(pki.join("admin.key")),
    );
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
