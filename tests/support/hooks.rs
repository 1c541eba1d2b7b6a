//! A real HTTP server on 127.0.0.1 that receives webhooks: it records every
//! request (path, headers, body) and answers each path as the test says — 200,
//! an error status, or never at all.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, mpsc};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

/// How a path answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// Accepts the request and never answers.
    Never,
}

#[derive(Debug, Clone)]
pub struct Received {
    /// When the request's body had arrived.
    pub at: std::time::Instant,
    pub path: String,
    pub content_type: String,
    pub body: serde_json::Value,
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    answers: HashMap<String, Answer>,
}

pub struct Hooks {
    port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl Hooks {
    /// Listens on a port of its own (bound to 0: no other process can race for it).
    pub fn start() -> Hooks {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, rx) = mpsc::channel();
        let state = shared.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap().port()).unwrap();
                loop {
                    let Ok((socket, _)) = listener.accept().await else { continue };
                    let state = state.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| handle(req, state.clone()));
                        let _ = ConnBuilder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(socket), service)
                            .await;
                    });
                }
            });
        });
        Hooks { port: rx.recv().unwrap(), shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn answer(&self, path: &str, answer: Answer) {
        self.shared.lock().unwrap().answers.insert(path.to_owned(), answer);
    }

    /// Everything received at `path`, in order.
    pub fn at(&self, path: &str) -> Vec<Received> {
        self.shared.lock().unwrap().received.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Forgets what was received so far.
    pub fn clear(&self) {
        self.shared.lock().unwrap().received.clear();
    }

    pub fn count(&self) -> usize {
        self.shared.lock().unwrap().received.len()
    }
}

async fn handle(req: Request<Incoming>, state: Arc<Mutex<Shared>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bytes = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body =
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    let answer = {
        let mut s = state.lock().unwrap();
        s.received.push(Received { at: std::time::Instant::now(), path: path.clone(), content_type, body });
        s.answers.get(&path).copied().unwrap_or(Answer::Status(200))
    };
    match answer {
        Answer::Status(code) => {
            Ok(Response::builder().status(code).body(Full::new(Bytes::from_static(b"ok"))).unwrap())
        }
        Answer::Never => std::future::pending().await,
    }
}
