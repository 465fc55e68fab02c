//! `/healthz`, `/readyz` and `/metrics` over plain HTTP, for probes and Prometheus.
//!
//! Input: a listening address and the [`Metrics`]. Output: answers to GET requests until the
//! shutdown future completes. Deliberately tiny (a request line, no keep-alive, bounded
//! reads): probes and scrapes need nothing more, and it keeps a web framework out of a binary
//! that runs on every node.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::metrics::Metrics;

/// The answer to a path: status line and body.
pub fn answer(path: &str, metrics: &Metrics) -> (&'static str, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    match path {
        "/healthz" | "/livez" => ("200 OK", TEXT, "ok\n".into()),
        "/readyz" if metrics.ready.load(Ordering::Relaxed) => ("200 OK", TEXT, "ok\n".into()),
        "/readyz" => ("503 Service Unavailable", TEXT, format!("{}\n", metrics.unready())),
        "/metrics" => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics.render()),
        _ => ("404 Not Found", TEXT, "not found\n".into()),
    }
}

async fn handle(mut stream: TcpStream, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 4096];
    let mut read = 0;
    // Up to the end of the headers, within 4 KiB and 5 s.
    let request = tokio::time::timeout(Duration::from_secs(5), async {
        while read < buffer.len() {
            let n = stream.read(&mut buffer[read..]).await?;
            read += n;
            if n == 0 || buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buffer[..read]).into_owned())
    })
    .await
    .unwrap_or_else(|_| Ok(String::new()))?;
    let mut words = request.lines().next().unwrap_or_default().split_whitespace();
    let (method, path) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let path = path.split('?').next().unwrap_or_default();
    let (status, content_type, body) = if method == "GET" {
        answer(path, &metrics)
    } else {
        ("405 Method Not Allowed", "text/plain", "GET only\n".into())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// Serve until `shutdown` completes.
pub async fn serve(address: String, metrics: Arc<Metrics>, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&address).await.with_context(|| format!("cannot listen on {address}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving /healthz, /readyz and /metrics");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => {
                let (stream, _) = accepted.context("accepting a connection")?;
                tokio::spawn(handle(stream, metrics.clone()));
            }
        }
    }
}
