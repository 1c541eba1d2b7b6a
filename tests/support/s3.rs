//! A real S3 server for tests: s3s-fs over HTTP on 127.0.0.1, run in this process
//! on its own thread and runtime. It checks SigV4 like S3 (wrong keys fail), logs
//! every request it receives in order, and can stop itself in the middle of a
//! publish: listener closed, open connections dropped, as when the process dies.
#![allow(dead_code)] // each test file uses a different part of it

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use futures::future::BoxFuture;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::sync::watch;

pub const ACCESS_KEY: &str = "envdash-test-key";
pub const SECRET_KEY: &str = "envdash-test-secret";
pub const REGION: &str = "us-east-1";

/// One request as the server received it (path-style: `/bucket/key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
}

impl Request {
    /// `Some(key)` when this is a request on an object of `bucket`.
    pub fn key_in(&self, bucket: &str) -> Option<String> {
        let rest = self.path.strip_prefix('/')?.strip_prefix(bucket)?.strip_prefix('/')?;
        (!rest.is_empty()).then(|| percent_decode(rest))
    }
}

pub struct S3Server {
    data: tempfile::TempDir,
    port: u16,
    log: Arc<Mutex<Vec<Request>>>,
    fault: Arc<Fault>,
    running: Option<Running>,
    client_runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
}

struct Running {
    shutdown: Arc<watch::Sender<bool>>,
    thread: JoinHandle<()>,
}

impl S3Server {
    pub fn start() -> Self {
        let data = tempfile::tempdir().expect("temp dir for the S3 data");
        let log = Arc::new(Mutex::new(Vec::new()));
        let fault = Arc::new(Fault::default());
        let (running, port) = spawn_server(data.path(), Arc::clone(&log), Arc::clone(&fault));
        let client_runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");
        Self { data, port, log, fault, running: Some(running), client_runtime, client: client(port) }
    }

    /// From now on, the server stops itself when an object PUT arrives after `puts`
    /// more of them: that request never gets an answer, nor does any other in flight.
    pub fn stop_after_puts(&self, puts: usize) {
        self.fault.seen.store(0, Ordering::SeqCst);
        self.fault.limit.store(puts, Ordering::SeqCst);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether the server stopped (by itself or not) within `timeout`.
    pub fn stops_within(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.running.as_ref().is_some_and(|r| !r.thread.is_finished()) {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        true
    }

    /// Stops the server (if it has not stopped itself) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.shutdown.send(true);
            running.thread.join().expect("S3 server thread panicked");
        }
    }

    /// Starts again with the same data, without a planned fault, on a port the
    /// system picks (its old one may have gone to another test meanwhile): take
    /// [`S3Server::endpoint`] again after it.
    pub fn restart(&mut self) {
        self.stop();
        self.fault.limit.store(usize::MAX, Ordering::SeqCst);
        let (running, port) = spawn_server(self.data.path(), Arc::clone(&self.log), Arc::clone(&self.fault));
        (self.running, self.port, self.client) = (Some(running), port, client(port));
    }

    /// The envdash binary with test credentials and nothing from the AWS files or
    /// variables of whoever runs the tests.
    pub fn envdash(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_envdash"));
        for var in [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_DEFAULT_REGION",
            "AWS_MAX_ATTEMPTS",
            "AWS_RETRY_MODE",
            "ENVDASH_BUCKET",
            "ENVDASH_PREFIX",
            "ENVDASH_NOW",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        let nowhere = self.data.path().join("no-aws-config");
        cmd.env("AWS_CONFIG_FILE", &nowhere)
            .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", REGION);
        cmd
    }

    /// The environment a process needs to reach this server (and nothing else).
    pub fn credentials(&self) -> Vec<(String, String)> {
        let nowhere = self.data.path().join("no-aws-config").display().to_string();
        [
            ("AWS_CONFIG_FILE", nowhere.as_str()),
            ("AWS_SHARED_CREDENTIALS_FILE", nowhere.as_str()),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", REGION),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.client_runtime.block_on(f)
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.block_on(self.client.create_bucket().bucket(bucket).send())
            .unwrap_or_else(|e| panic!("create bucket {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
    }

    pub fn put(&self, bucket: &str, key: &str, body: &str) {
        let put = self.client.put_object().bucket(bucket).key(key).body(ByteStream::from(body.as_bytes().to_vec()));
        self.block_on(put.send())
            .unwrap_or_else(|e| panic!("put {bucket}/{key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
    }

    /// The object's metadata, or `None` when it does not exist.
    pub fn head(&self, bucket: &str, key: &str) -> Option<HeadObjectOutput> {
        match self.block_on(self.client.head_object().bucket(bucket).key(key).send()) {
            Ok(out) => Some(out),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => None,
            Err(e) => panic!("head {bucket}/{key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)),
        }
    }

    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.block_on(async {
            let out = self.client.get_object().bucket(bucket).key(key).send().await.expect("get object");
            out.body.collect().await.expect("object body").into_bytes().to_vec()
        })
    }

    /// Every key in the bucket, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.block_on(async {
            let mut pages = self.client.list_objects_v2().bucket(bucket).into_paginator().send();
            let mut keys = Vec::new();
            while let Some(page) = pages.try_next().await.expect("list objects") {
                keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
            }
            keys.sort();
            keys
        })
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear_requests(&self) {
        self.log.lock().unwrap().clear();
    }

    /// Keys of the objects of `bucket` that received `method` (PUT, DELETE, …), in order.
    pub fn keys_sent(&self, method: &str, bucket: &str) -> Vec<String> {
        self.requests().iter().filter(|r| r.method == method).filter_map(|r| r.key_in(bucket)).collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds 127.0.0.1:`port` (0: any) and serves on a thread of its own.
/// The test's own S3 client, for the server on `port`.
fn client(port: u16) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(envdash::publish::http_client())
        .region(Region::new(REGION))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .force_path_style(true)
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "tests"))
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Serves the data folder on a port the system picks (bound to 0: nothing can race for it).
fn spawn_server(root: &Path, log: Arc<Mutex<Vec<Request>>>, fault: Arc<Fault>) -> (Running, u16) {
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs data folder");
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let (shutdown, watch_rx) = watch::channel(false);
    let shutdown = Arc::new(shutdown);
    let service = Recording { inner: builder.build(), log, fault, shutdown: Arc::clone(&shutdown) };
    let (bound_tx, bound_rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("server runtime");
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                Ok(listener) => listener,
                Err(e) => {
                    let _ = bound_tx.send(Err(e));
                    return;
                }
            };
            let _ = bound_tx.send(Ok(listener.local_addr().expect("local address").port()));
            serve(listener, service, watch_rx).await;
        });
    });
    let port = bound_rx.recv().expect("server thread").unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e}"));
    (Running { shutdown, thread }, port)
}

async fn serve(listener: tokio::net::TcpListener, service: Recording, mut shutdown: watch::Receiver<bool>) {
    let http = ConnBuilder::new(TokioExecutor::new());
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                connections.spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    // No graceful shutdown: requests in flight lose their connection, as when the
    // server process is killed; new connections are refused.
    drop(listener);
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// The s3s service with a request log in front, and the planned fault.
#[derive(Clone)]
struct Recording {
    inner: S3Service,
    log: Arc<Mutex<Vec<Request>>>,
    fault: Arc<Fault>,
    shutdown: Arc<watch::Sender<bool>>,
}

/// After `limit` object PUTs (counted in `seen`) the server stops; `usize::MAX`: never.
struct Fault {
    limit: AtomicUsize,
    seen: AtomicUsize,
}

impl Default for Fault {
    fn default() -> Self {
        Self { limit: AtomicUsize::new(usize::MAX), seen: AtomicUsize::new(0) }
    }
}

impl hyper::service::Service<hyper::Request<Incoming>> for Recording {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        let request = Request {
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().unwrap_or_default().to_owned(),
        };
        let object_put = request.method == "PUT" && request.path.trim_start_matches('/').contains('/');
        self.log.lock().unwrap().push(request);
        let limit = self.fault.limit.load(Ordering::SeqCst);
        if object_put && limit != usize::MAX && self.fault.seen.fetch_add(1, Ordering::SeqCst) >= limit {
            let _ = self.shutdown.send(true);
            return Box::pin(std::future::pending());
        }
        hyper::service::Service::call(&self.inner, req)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
