//! What a running dockerd says about its runtimes: `GET /info` on its API socket.
//!
//! Input: dockerd's socket and a timeout. Output: [`Info`] — the runtimes it has loaded
//! (name and binary path) and its default runtime. dockerd reloads `daemon.json` on SIGHUP and
//! keeps its PID, so this answer, not a new PID, tells the node agent that the reload took.
//!
//! HTTP/1.0 on a Unix socket, written by hand: one request, the connection closed by the
//! daemon after the answer, the body JSON.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

/// dockerd's answer, the parts the agent uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info {
    /// Runtimes by name, with their binary (`path`).
    pub runtimes: BTreeMap<String, Option<String>>,
    /// `DefaultRuntime`.
    pub default: Option<String>,
}

/// `GET /info` on `socket`.
pub fn info(socket: &Path, timeout: Duration) -> anyhow::Result<Info> {
    let mut stream = UnixStream::connect(socket).with_context(|| format!("cannot connect to {}", socket.display()))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"GET /info HTTP/1.0\r\nHost: docker\r\n\r\n")?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).with_context(|| format!("no answer to GET /info on {}", socket.display()))?;
    parse(&reply).with_context(|| format!("the answer to GET /info on {}", socket.display()))
}

fn parse(reply: &[u8]) -> anyhow::Result<Info> {
    let text = String::from_utf8_lossy(reply);
    let Some((head, body)) = text.split_once("\r\n\r\n") else { bail!("not an HTTP answer") };
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("{status}: {}", body.trim());
    }
    let json: serde_json::Value = serde_json::from_str(body).context("not JSON")?;
    let runtimes = json
        .get("Runtimes")
        .and_then(|r| r.as_object())
        .into_iter()
        .flatten()
        .map(|(name, r)| (name.clone(), r.get("path").and_then(|p| p.as_str()).map(str::to_owned)))
        .collect();
    let default = json.get("DefaultRuntime").and_then(|d| d.as_str()).map(str::to_owned);
    Ok(Info { runtimes, default })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_dockerds_answer_the_runtimes_and_default_are_read() {
        let reply = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Runtimes\":{\"nvidia\":{\"path\":\"/usr/local/nvidia/toolkit/nvidia-container-runtime\"},\"runc\":{\"path\":\"runc\"}},\"DefaultRuntime\":\"nvidia\"}";
        let info = parse(reply).expect("parses");
        assert_eq!(info.default.as_deref(), Some("nvidia"));
        assert_eq!(info.runtimes["nvidia"].as_deref(), Some("/usr/local/nvidia/toolkit/nvidia-container-runtime"));
        let err = parse(b"HTTP/1.0 500 Internal Server Error\r\n\r\n{\"message\":\"boom\"}").expect_err("500");
        assert!(err.to_string().contains("500 Internal Server Error"), "{err}");
    }
}
