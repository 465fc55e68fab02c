//! Connecting to a cluster the way kubectl does.
//!
//! Input: `--kubeconfig` and `--kube-context` (either may be absent). Output: a kube client. A
//! given kubeconfig file is used as is; otherwise `KUBECONFIG` (or `~/.kube/config`) when there
//! is one; otherwise the in-cluster service account (a pod). The context is the kubeconfig's
//! current one unless `--kube-context` names another. Every error the client returns from the
//! API server is a `Status` with the answer's HTTP code ([`StatusAnswers`]).

use std::path::Path;

use anyhow::{Context, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Where to connect.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// A kubeconfig file (`--kubeconfig`).
    pub kubeconfig: Option<String>,
    /// A context of the kubeconfig (`--kube-context`).
    pub context: Option<String>,
}

fn default_kubeconfig_exists() -> bool {
    std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
        || std::env::var_os("HOME").is_some_and(|home| Path::new(&home).join(".kube/config").exists())
}

impl Connection {
    /// A client for the chosen cluster.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let options = KubeConfigOptions { context: self.context.clone(), ..Default::default() };
        let config = match &self.kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).with_context(|| format!("cannot read kubeconfig {path}"))?;
                kube::Config::from_custom_kubeconfig(file, &options)
                    .await
                    .with_context(|| format!("kubeconfig {path}"))?
            }
            None if default_kubeconfig_exists() => kube::Config::from_kubeconfig(&options)
                .await
                .context("cannot load the kubeconfig (KUBECONFIG or ~/.kube/config)")?,
            None => {
                if self.context.is_some() {
                    bail!(
                        "--kube-context needs a kubeconfig: none given, KUBECONFIG is unset and ~/.kube/config does not exist"
                    );
                }
                kube::Config::incluster()
                    .context("no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) and not running in a pod")?
            }
        };
        let builder = kube::client::ClientBuilder::try_from(config).context("cannot create the Kubernetes client")?;
        Ok(builder.with_layer(&StatusAnswers).build())
    }
}

/// Makes every error answer of the API server a `Status` that carries the HTTP code, so that a
/// `404` is "not found" however it was said. kube-rs reads an error body as a `Status` when it
/// is JSON: a JSON body that is not one (a proxy's `{}`) becomes a `Status` with code 0 and no
/// message — the `ApiError: (code 0)` a 404 used to end an uninstall with — and a plain-text
/// `404 page not found` (a kind the server does not serve) keeps its code but not the
/// `NotFound` reason that `get_opt` and deletes look for. Bodies that are a `Status` with a
/// code pass untouched, as do all answers that are not errors (watches stream through).
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusAnswers;

impl<S> tower_layer::Layer<S> for StatusAnswers {
    type Service = StatusAnswering<S>;
    fn layer(&self, inner: S) -> StatusAnswering<S> {
        StatusAnswering(inner)
    }
}

/// The service [`StatusAnswers`] wraps around kube's.
#[derive(Debug, Clone)]
pub struct StatusAnswering<S>(pub S);

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type AnswerBody<B> = http_body_util::Either<B, http_body_util::Full<bytes::Bytes>>;

impl<S, B> tower_service::Service<http::Request<kube::client::Body>> for StatusAnswering<S>
where
    S: tower_service::Service<http::Request<kube::client::Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<AnswerBody<B>>;
    type Error = BoxError;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<kube::client::Body>) -> Self::Future {
        use http_body_util::BodyExt as _;
        let answer = self.0.call(request);
        Box::pin(async move {
            let response = answer.await.map_err(Into::into)?;
            let code = response.status();
            if !(code.is_client_error() || code.is_server_error()) {
                return Ok(response.map(http_body_util::Either::Left));
            }
            let (mut parts, body) = response.into_parts();
            let bytes = body.collect().await.map_err(Into::into)?.to_bytes();
            let bytes = match status_of_error(code, &bytes) {
                Some(status) => {
                    parts
                        .headers
                        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
                    parts.headers.remove(http::header::CONTENT_LENGTH);
                    bytes::Bytes::from(status.to_string())
                }
                None => bytes,
            };
            Ok(http::Response::from_parts(parts, http_body_util::Either::Right(http_body_util::Full::new(bytes))))
        })
    }
}

/// The `Status` to answer instead of an error body that is not one (with its code); `None` when
/// the body is a `Status` with a code already.
pub fn status_of_error(code: http::StatusCode, body: &[u8]) -> Option<serde_json::Value> {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if parsed.as_ref().is_some_and(|s| s["kind"] == "Status" && s["code"].as_u64().is_some_and(|c| c != 0)) {
        return None;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = if text.is_empty() {
        format!("the server answered {code} with an empty body")
    } else {
        text.chars().take(1000).collect()
    };
    let reason = match code.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    };
    Some(serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "code": code.as_u16(), "reason": reason, "message": message,
    }))
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    #[test]
    fn given_error_bodies_each_becomes_a_status_with_the_http_code() {
        let status = |body: &str| status_of_error(StatusCode::NOT_FOUND, body.as_bytes());
        for body in ["", "{}", "{\"error\": \"gone\"}", "404 page not found", "<html>nope</html>"] {
            let s = status(body).unwrap_or_else(|| panic!("{body:?} is not a Status"));
            assert_eq!((s["code"].as_u64(), s["reason"].as_str()), (Some(404), Some("NotFound")), "{body:?}");
        }
        assert_eq!(status("404 page not found").expect("status")["message"], "404 page not found");
        assert_eq!(status("").expect("status")["message"], "the server answered 404 Not Found with an empty body");
        let real =
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"x"}"#;
        assert_eq!(status(real), None, "a real Status passes");
    }
}
