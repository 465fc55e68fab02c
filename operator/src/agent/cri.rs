//! A client for one call of the Container Runtime Interface: `RuntimeService/Status`.
//!
//! Input: a containerd or CRI-O socket and a timeout. Output: [`Status`] — whether the runtime
//! reports `RuntimeReady`, and, for containerd, the runtimes and default runtime its CRI plugin
//! loaded (the verbose status' `config`). This is how the node agent knows that a restarted
//! runtime really runs the new config, not merely that a new process owns the socket.
//!
//! gRPC is spoken by hand over HTTP/2 (hyper): one unary call, a 5-byte length-prefixed frame
//! each way and `grpc-status` in the trailers (or, for an error without a body, in the
//! headers). The messages are the few fields of `k8s.io/cri-api` v1 the call needs, declared
//! below with their field numbers (prost encodes them); other fields of the response are
//! skipped as protobuf skips unknown fields.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;

/// `runtime.v1.StatusRequest`.
#[derive(Clone, PartialEq, Message)]
struct StatusRequest {
    #[prost(bool, tag = "1")]
    verbose: bool,
}

/// `runtime.v1.StatusResponse` (fields 1 and 2 of it).
#[derive(Clone, PartialEq, Message)]
struct StatusResponse {
    #[prost(message, optional, tag = "1")]
    status: Option<RuntimeStatus>,
    #[prost(map = "string, string", tag = "2")]
    info: HashMap<String, String>,
}

/// `runtime.v1.RuntimeStatus`.
#[derive(Clone, PartialEq, Message)]
struct RuntimeStatus {
    #[prost(message, repeated, tag = "1")]
    conditions: Vec<RuntimeCondition>,
}

/// `runtime.v1.RuntimeCondition`.
#[derive(Clone, PartialEq, Message)]
struct RuntimeCondition {
    #[prost(string, tag = "1")]
    r#type: String,
    #[prost(bool, tag = "2")]
    status: bool,
    #[prost(string, tag = "3")]
    reason: String,
    #[prost(string, tag = "4")]
    message: String,
}

/// What a CRI runtime says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The `RuntimeReady` condition is true.
    pub ready: bool,
    /// Why not, when it is not (the condition's reason and message).
    pub why_not: String,
    /// The runtimes the CRI plugin loaded, by name, with their `options.BinaryName` (containerd;
    /// empty when the runtime does not report its config).
    pub runtimes: BTreeMap<String, Option<String>>,
    /// The default runtime it loaded, if it says.
    pub default: Option<String>,
}

/// `RuntimeService/Status(verbose)` on `socket`, within `timeout`.
pub fn status(socket: &Path, timeout: Duration) -> anyhow::Result<Status> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let reply = runtime
        .block_on(async { tokio::time::timeout(timeout, call(socket)).await })
        .map_err(|_| anyhow::anyhow!("no CRI status from {} within {timeout:?}", socket.display()))??;
    Ok(read(reply))
}

async fn call(socket: &Path) -> anyhow::Result<StatusResponse> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .with_context(|| format!("cannot connect to {}", socket.display()))?;
    let (mut sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .with_context(|| format!("{} does not speak HTTP/2 (not a CRI socket?)", socket.display()))?;
    tokio::spawn(connection);
    let message = StatusRequest { verbose: true }.encode_to_vec();
    let mut frame = Vec::with_capacity(message.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
    frame.extend_from_slice(&message);
    let request = http::Request::post("http://localhost/runtime.v1.RuntimeService/Status")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(frame)))?;
    let response = sender.send_request(request).await.context("the CRI Status call failed")?;
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.context("reading the CRI Status reply")?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let grpc = |name: &str| {
        trailers.get(name).or_else(|| parts.headers.get(name)).and_then(|v| v.to_str().ok()).map(str::to_owned)
    };
    if !parts.status.is_success() {
        bail!("the CRI Status call answered HTTP {}", parts.status);
    }
    match grpc("grpc-status").as_deref() {
        Some("0") => {}
        Some(code) => {
            bail!("the CRI Status call failed: gRPC status {code}: {}", grpc("grpc-message").unwrap_or_default())
        }
        None => bail!("the CRI Status reply has no gRPC status"),
    }
    let body = collected.to_bytes();
    let Some(payload) = body.get(5..) else { bail!("the CRI Status reply is {} bytes, too short", body.len()) };
    if body[0] != 0 {
        bail!("the CRI Status reply is compressed, which gpuplan did not ask for");
    }
    StatusResponse::decode(payload).context("the CRI Status reply is not a StatusResponse")
}

/// The parts of a reply the agent uses.
fn read(reply: StatusResponse) -> Status {
    let mut status = Status::default();
    let condition = reply.status.iter().flat_map(|s| &s.conditions).find(|c| c.r#type == "RuntimeReady");
    match condition {
        Some(c) if c.status => status.ready = true,
        Some(c) => status.why_not = format!("{}: {}", c.reason, c.message),
        None => status.why_not = "no RuntimeReady condition".into(),
    }
    // containerd's verbose status carries its CRI config as JSON; CRI-O's does not.
    let config = reply.info.get("config").and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok());
    if let Some(containerd) = config.as_ref().and_then(|c| c.get("containerd")) {
        status.default = containerd.get("defaultRuntimeName").and_then(|d| d.as_str()).map(str::to_owned);
        for (name, runtime) in containerd.get("runtimes").and_then(|r| r.as_object()).into_iter().flatten() {
            let binary = runtime.pointer("/options/BinaryName").and_then(|b| b.as_str()).map(str::to_owned);
            status.runtimes.insert(name.clone(), binary);
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_containerds_verbose_status_the_runtimes_and_readiness_are_read() {
        let config = r#"{"containerd": {"defaultRuntimeName": "nvidia", "runtimes": {
            "runc": {"runtimeType": "io.containerd.runc.v2", "options": {"SystemdCgroup": true}},
            "nvidia": {"options": {"BinaryName": "/usr/local/nvidia/toolkit/nvidia-container-runtime"}}}}}"#;
        let reply = StatusResponse {
            status: Some(RuntimeStatus {
                conditions: vec![
                    RuntimeCondition { r#type: "RuntimeReady".into(), status: true, ..Default::default() },
                    RuntimeCondition { r#type: "NetworkReady".into(), status: false, ..Default::default() },
                ],
            }),
            info: [("config".to_owned(), config.to_owned())].into(),
        };
        // Through the wire format, as the runtime sends it.
        let status = read(StatusResponse::decode(reply.encode_to_vec().as_slice()).expect("decodes"));
        assert!(status.ready);
        assert_eq!(status.default.as_deref(), Some("nvidia"));
        assert_eq!(status.runtimes["runc"], None);
        assert_eq!(status.runtimes["nvidia"].as_deref(), Some("/usr/local/nvidia/toolkit/nvidia-container-runtime"));
    }

    #[test]
    fn given_no_server_the_error_names_the_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("absent.sock");
        let err = status(&socket, Duration::from_secs(1)).expect_err("nothing there");
        assert!(format!("{err:#}").contains(&format!("cannot connect to {}", socket.display())), "{err:#}");
    }
}
