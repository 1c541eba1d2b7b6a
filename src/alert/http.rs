//! Posting a webhook: hyper 1 and rustls on ring, the same stack the S3 client
//! uses, with a deadline on the connection and on the whole request.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How a request ended that did not succeed, for the retry decision.
#[derive(Debug)]
pub enum Failure {
    /// A server error, a refused or dropped connection, a timeout: worth another try.
    Transient(String),
    /// The endpoint said no (4xx other than 408/429): the same request will fail again.
    Permanent(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Failure::Transient(s) | Failure::Permanent(s) => f.write_str(s),
        }
    }
}

pub struct Http {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Http {
    /// A client that trusts the system's certificates and speaks http:// too
    /// (webhooks on an internal network, and tests).
    pub fn new(connect_timeout: Duration) -> Result<Http> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(connect_timeout));
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .context("cannot load the system's trusted certificates")?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Http { client: Client::builder(TokioExecutor::new()).build(https) })
    }

    /// POSTs `body` as JSON to `url`; a 2xx answer within `timeout` is success.
    /// Messages name the host only, never the whole URL: a webhook's URL is its secret.
    pub async fn post_json(&self, url: &str, body: Vec<u8>, timeout: Duration) -> Result<(), Failure> {
        let uri: hyper::Uri = url.parse().map_err(|e| Failure::Permanent(format!("not a URL ({e})")))?;
        let host = uri.host().unwrap_or("?").to_owned();
        let request = hyper::Request::post(uri)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, concat!("envdash/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Failure::Permanent(format!("cannot make the request ({e})")))?;
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(timeout, async {
            let response = self.client.request(request).await.map_err(|e| anyhow!(root(&e)))?;
            let status = response.status();
            // Read the answer to its end (bounded by the same deadline), so the
            // connection is whole and a server's error text can be shown.
            let text = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            Ok::<_, anyhow::Error>((status, text))
        })
        .await;
        let waited = started.elapsed().as_secs_f64();
        match answer {
            Err(_) => Err(Failure::Transient(format!("no answer from {host} after {waited:.1} s"))),
            Ok(Err(e)) => Err(Failure::Transient(format!("cannot reach {host}: {e}"))),
            Ok(Ok((status, _))) if status.is_success() => Ok(()),
            Ok(Ok((status, text))) => {
                let said = String::from_utf8_lossy(&text[..text.len().min(200)]).trim().replace(['\r', '\n'], " ");
                let said = if said.is_empty() { String::new() } else { format!(": {said}") };
                let message = format!("{host} answered HTTP {}{said}", status.as_u16());
                if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
                    Err(Failure::Transient(message))
                } else {
                    Err(Failure::Permanent(message))
                }
            }
        }
    }
}

/// The innermost message of an error chain.
fn root(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}
