//! Syncing a rendered site to S3: list the objects under the prefix, upload only the
//! files whose MD5 differs from the object's ETag (what pages load first, then pages
//! and data, `index.html` files last), then, when asked, delete what the site no
//! longer has. The tokio runtime lives here and nowhere else.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use aws_config::BehaviorVersion;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::SharedHttpClient;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{ConnectorBuilder, tls};
use aws_smithy_types::timeout::TimeoutConfig;
use futures::{StreamExt, stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use md5::{Digest, Md5};
use rayon::prelude::*;

use crate::config::{Checksums, PublishConfig};

/// What a publish did (or, on a dry run, would do).
#[derive(Debug, Default)]
pub struct PublishReport {
    pub uploaded: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub seconds: f64,
    /// Nothing was changed: `uploaded` and `deleted` are what a real run would do.
    pub dry_run: bool,
}

impl PublishReport {
    /// One line for people: `uploaded 3, unchanged 1021, deleted 0 in 0.12 s`.
    pub fn summary_line(&self) -> String {
        if self.dry_run {
            format!(
                "dry run: would upload {}, unchanged {}, would delete {} in {:.2} s",
                self.uploaded, self.unchanged, self.deleted, self.seconds
            )
        } else {
            format!(
                "uploaded {}, unchanged {}, deleted {} in {:.2} s",
                self.uploaded, self.unchanged, self.deleted, self.seconds
            )
        }
    }
}

/// Region used when neither the command line nor the AWS chain names one, as the
/// AWS CLI does for S3; a bucket elsewhere answers with a redirect we explain.
const FALLBACK_REGION: &str = "us-east-1";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Failed keys named in an error message; the rest are counted.
const KEYS_SHOWN: usize = 5;

/// Syncs `cfg.site` to `s3://bucket/prefix/`.
pub fn publish(cfg: &PublishConfig) -> Result<PublishReport> {
    let started = Instant::now();
    let local = scan_site(&cfg.site)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime for S3")?;
    let mut report = runtime.block_on(sync(cfg, local))?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// When the site folder has no history (a new Jenkins agent, a wiped
/// workspace), fetches `history/` back from the bucket into it, so that the run
/// that follows neither re-alerts everything nor forgets since when things are
/// down. Returns what it did, in a line; `None` when the local history is there.
pub fn restore_history(cfg: &PublishConfig) -> Result<Option<String>> {
    let local = cfg.site.join("history");
    if std::fs::read_dir(&local).is_ok_and(|mut d| d.next().is_some()) {
        return Ok(None);
    }
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime for S3")?;
    let fetched = runtime.block_on(fetch_history(cfg, &local))?;
    Ok(Some(if fetched == 0 {
        format!("no history in s3://{}/{}: starting afresh", cfg.bucket, key_for(&cfg.prefix, "history/"))
    } else {
        format!(
            "restored {fetched} history files from s3://{}/{} in {:.2} s",
            cfg.bucket,
            key_for(&cfg.prefix, "history/"),
            started.elapsed().as_secs_f64()
        )
    }))
}

async fn fetch_history(cfg: &PublishConfig, local: &Path) -> Result<usize> {
    let (client, endpoint, custom, attempts) = client(cfg).await;
    let target = Target::new(cfg, client, endpoint, custom, attempts, None);
    let prefix = key_for(&cfg.prefix, "history");
    let started = Instant::now();
    let remote =
        list_remote(&target, &prefix).await.map_err(|e| anyhow!(explain(&e, &target, started.elapsed()).message))?;
    let keys: Vec<String> = remote.keys().filter(|k| k.ends_with(".json")).cloned().collect();
    std::fs::create_dir_all(local).with_context(|| format!("cannot create {}", local.display()))?;
    let target = &target;
    let results: Vec<Result<()>> = stream::iter(keys.iter())
        .map(|key| async move {
            let name = key.rsplit('/').next().unwrap_or(key);
            if name.starts_with('.') || name.contains('\\') {
                return Ok(());
            }
            let started = Instant::now();
            let got = target.client.get_object().bucket(&target.bucket).key(key).send().await;
            let object = got.map_err(|e| anyhow!(explain(&e, target, started.elapsed()).message))?;
            let bytes =
                object.body.collect().await.with_context(|| format!("cannot read s3://{}/{key}", target.bucket))?;
            crate::output::write_bytes_atomic(&local.join(name), &bytes.into_bytes())
        })
        .buffer_unordered(cfg.concurrency.max(1))
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(keys.len())
}

// ---------------------------------------------------------------------------
// The local side.

/// A file of the site, with its path relative to the site folder (`/`-separated).
#[derive(Debug, Clone)]
struct LocalFile {
    rel: String,
    path: PathBuf,
    md5: String,
}

/// Lists the files of the site, skipping hidden ones (`.envdash-manifest`, the
/// `.envdash-*.tmp` files of a render in progress, `.git`, …), and hashes them.
fn scan_site(site: &Path) -> Result<Vec<LocalFile>> {
    let meta = std::fs::metadata(site).with_context(|| {
        format!("cannot read the site folder {}: render it first or pass --site DIR", site.display())
    })?;
    if !meta.is_dir() {
        bail!("{} is not a folder: pass the rendered site folder with --site DIR", site.display());
    }
    let mut found = Vec::new();
    let walk = walkdir::WalkDir::new(site).min_depth(1).follow_links(true).sort_by_file_name();
    for entry in walk.into_iter().filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.')) {
        let entry = entry.with_context(|| format!("cannot read the site folder {}", site.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(site).unwrap_or(entry.path());
        let rel = rel
            .iter()
            .map(|part| part.to_str())
            .collect::<Option<Vec<_>>>()
            .with_context(|| format!("{}: S3 keys must be UTF-8; rename the file", entry.path().display()))?
            .join("/");
        found.push((rel, entry.into_path()));
    }
    if found.is_empty() {
        bail!("the site folder {} has no files: nothing to publish (render it first)", site.display());
    }
    found
        .into_par_iter()
        .map(|(rel, path)| {
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok(LocalFile { rel, md5: md5_hex(&bytes), path })
        })
        .collect()
}

fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

/// Lowercase hex of `digest` (an ETag's MD5, the assets' version in `render`).
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().fold(String::with_capacity(2 * digest.len()), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// The object key of a site file: `prefix/rel`, or `rel` when there is no prefix.
fn key_for(prefix: &str, rel: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() { rel.to_owned() } else { format!("{prefix}/{rel}") }
}

/// What to list and what `--delete` may touch: `prefix/`, so that prefix `dash`
/// never reaches `dashboard/…`; `None` (the whole bucket) without a prefix.
fn list_prefix(prefix: &str) -> Option<String> {
    let prefix = prefix.trim_matches('/');
    (!prefix.is_empty()).then(|| format!("{prefix}/"))
}

/// Whether the object's ETag is the MD5 of the file. Multipart ETags (`md5-N`)
/// cannot be compared and count as changed.
fn etag_matches(etag: Option<&str>, md5: &str) -> bool {
    etag.map(|e| e.trim_matches('"')).is_some_and(|e| !e.contains('-') && e.eq_ignore_ascii_case(md5))
}

fn extension(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default()
}

/// Content-Type from the extension; text types carry `charset=utf-8`.
fn content_type(key: &str) -> &'static str {
    match extension(key).as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "json" | "map" => "application/json; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml; charset=utf-8",
        "xml" => "application/xml; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "webmanifest" => "application/manifest+json; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// HTML and JSON say what is running now, so browsers and CloudFront must not keep
/// them long; other files get the server's default.
fn cache_control<'a>(key: &str, configured: &'a str) -> Option<&'a str> {
    matches!(extension(key).as_str(), "html" | "htm" | "json").then_some(configured).filter(|c| !c.is_empty())
}

fn is_index(rel: &str) -> bool {
    rel.rsplit('/').next() == Some("index.html")
}

/// Whether pages load the file (a stylesheet, script, image or font), rather than
/// link to it.
fn is_page_asset(rel: &str) -> bool {
    matches!(
        extension(rel).as_str(),
        "css" | "js" | "mjs" | "svg" | "png" | "jpg" | "jpeg" | "gif" | "webp" | "ico" | "woff" | "woff2"
    )
}

// ---------------------------------------------------------------------------
// The plan: pure, so it is tested without a server.

#[derive(Debug, Clone)]
struct Upload {
    key: String,
    rel: String,
    path: PathBuf,
    new: bool,
}

#[derive(Debug, Default)]
struct Plan {
    /// In upload order: see [`tiers`].
    uploads: Vec<Upload>,
    unchanged: usize,
    /// Objects under the prefix that the site no longer has; empty without `--delete`.
    deletes: Vec<String>,
    /// Such objects left alone because `--delete` was not given.
    stale_kept: usize,
}

/// Compares the site with the objects under the prefix (key → ETag).
fn make_plan(local: &[LocalFile], remote: &BTreeMap<String, Option<String>>, prefix: &str, delete: bool) -> Plan {
    let mut plan = Plan::default();
    let mut keys = HashSet::with_capacity(local.len());
    for file in local {
        let key = key_for(prefix, &file.rel);
        match remote.get(&key) {
            Some(etag) if etag_matches(etag.as_deref(), &file.md5) => plan.unchanged += 1,
            found => plan.uploads.push(Upload {
                key: key.clone(),
                rel: file.rel.clone(),
                path: file.path.clone(),
                new: found.is_none(),
            }),
        }
        keys.insert(key);
    }
    plan.uploads.sort_by(|a, b| upload_rank(&a.rel).cmp(&upload_rank(&b.rel)).then_with(|| a.key.cmp(&b.key)));
    let scope = list_prefix(prefix);
    let stale = remote.keys().filter(|k| {
        // Folder markers (`dash/badges/`) made by consoles are not site files.
        !keys.contains(*k) && !k.ends_with('/') && scope.as_deref().is_none_or(|p| k.starts_with(p))
    });
    if delete {
        plan.deletes = stale.cloned().collect();
    } else {
        plan.stale_kept = stale.count();
    }
    plan
}

/// What pages load first (`assets/envdash.css` and the like), so that no page is
/// served without its stylesheet; then the other files; then `index.html` files
/// from the deepest to the site's own, so that no index page links to a page that
/// is not there yet.
fn upload_rank(rel: &str) -> (u8, std::cmp::Reverse<usize>) {
    if is_index(rel) {
        (2, std::cmp::Reverse(rel.matches('/').count()))
    } else {
        (u8::from(!is_page_asset(rel)), std::cmp::Reverse(0))
    }
}

/// The uploads cut into groups that run one after the other, each only when every
/// upload of the groups before it succeeded.
fn tiers(uploads: Vec<Upload>) -> Vec<Vec<Upload>> {
    let mut tiers: Vec<Vec<Upload>> = Vec::new();
    for up in uploads {
        match tiers.last_mut() {
            Some(tier) if upload_rank(&tier[0].rel) == upload_rank(&up.rel) => tier.push(up),
            _ => tiers.push(vec![up]),
        }
    }
    tiers
}

// ---------------------------------------------------------------------------
// The S3 side.

/// What every request needs; shared by the upload tasks.
struct Target {
    client: Client,
    bucket: String,
    /// For messages: the custom endpoint, or `AWS S3 (region)`.
    endpoint: String,
    /// What to check when the endpoint cannot be reached.
    reach_hint: &'static str,
    cache_control: String,
    /// Set when the endpoint is gone or refuses us: uploads not yet started are skipped.
    stop: AtomicBool,
    /// Set once we have warned that the server's ETags are not MD5s.
    etag_warned: AtomicBool,
    /// How long one attempt of a request may wait for its answer, and how many
    /// attempts a request gets (the SDK's retry setting), for messages.
    attempt_timeout: Duration,
    attempts: u32,
    progress: Option<ProgressBar>,
}

/// The one HTTP client of every request, the credential providers' (SSO, STS,
/// instance metadata) among them: hyper 1 with rustls on ring, trusting the
/// system's certificates and following `HTTPS_PROXY` / `NO_PROXY` like the SDK's
/// own default client (which would bring aws-lc, a second crypto library, to build).
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

fn timeouts(cfg: &PublishConfig) -> TimeoutConfig {
    TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).operation_attempt_timeout(cfg.timeout).build()
}

/// The S3 client, the endpoint for messages, whether it is a custom one, and
/// the attempts a request gets.
async fn client(cfg: &PublishConfig) -> (Client, String, bool, u32) {
    // The timeouts hold for the credential providers' requests (SSO, STS) too.
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(http_client()).timeout_config(timeouts(cfg));
    if let Some(region) = &cfg.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &cfg.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    // Credentials, region, AWS_ENDPOINT_URL and the retry settings (standard mode,
    // 3 attempts with jittered exponential backoff unless AWS_MAX_ATTEMPTS or the
    // profile say otherwise) all come from the standard chain, as for the AWS CLI.
    let shared = loader.load().await;
    let region = shared.region().map_or(FALLBACK_REGION.to_owned(), |r| r.to_string());
    let custom = cfg
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok().filter(|u| !u.is_empty()))
        .or_else(|| shared.endpoint_url().map(str::to_owned));
    let is_custom = custom.is_some();
    let endpoint = custom.unwrap_or_else(|| format!("AWS S3 ({region})"));
    let checksums = match cfg.checksums {
        Checksums::WhenSupported => {
            (RequestChecksumCalculation::WhenSupported, ResponseChecksumValidation::WhenSupported)
        }
        Checksums::WhenRequired => (RequestChecksumCalculation::WhenRequired, ResponseChecksumValidation::WhenRequired),
    };
    let mut s3 = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(cfg.path_style)
        .request_checksum_calculation(checksums.0)
        .response_checksum_validation(checksums.1)
        .timeout_config(timeouts(cfg));
    if shared.region().is_none() {
        log::debug!("no AWS region configured; using {FALLBACK_REGION}");
        s3 = s3.region(Region::new(FALLBACK_REGION));
    }
    log::debug!("S3 endpoint {endpoint}, path-style {}, checksums {:?}", cfg.path_style, cfg.checksums);
    let attempts = shared.retry_config().map_or(1, |r| r.max_attempts());
    (Client::from_conf(s3.build()), endpoint, is_custom, attempts)
}

async fn sync(cfg: &PublishConfig, local: Vec<LocalFile>) -> Result<PublishReport> {
    let (client, endpoint, custom, attempts) = client(cfg).await;
    let progress = cfg.progress.then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {wide_msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("listing s3://{}/{}", cfg.bucket, cfg.prefix));
        bar
    });
    let target = Arc::new(Target::new(cfg, client, endpoint, custom, attempts, progress));
    let result = sync_with(cfg, &target, &local).await;
    if let Some(bar) = &target.progress {
        bar.finish_and_clear();
    }
    result
}

async fn sync_with(cfg: &PublishConfig, target: &Arc<Target>, local: &[LocalFile]) -> Result<PublishReport> {
    let started = Instant::now();
    let mut remote =
        list_remote(target, &cfg.prefix).await.map_err(|e| anyhow!(explain(&e, target, started.elapsed()).message))?;
    let unknown: Vec<String> = local
        .iter()
        .map(|f| key_for(&cfg.prefix, &f.rel))
        .filter(|k| remote.get(k).is_some_and(Option::is_none))
        .collect();
    if !unknown.is_empty() {
        log::info!("{} did not list ETags: asking for {} of them one by one", target.endpoint, unknown.len());
        fill_etags(target, &mut remote, unknown, cfg.concurrency.max(1)).await;
    }
    let plan = make_plan(local, &remote, &cfg.prefix, cfg.delete);
    log::debug!(
        "{} local files, {} remote objects: {} to upload, {} unchanged, {} to delete",
        local.len(),
        remote.len(),
        plan.uploads.len(),
        plan.unchanged,
        plan.deletes.len()
    );
    if plan.stale_kept > 0 {
        log::info!("{} objects under the prefix are not in the site; --delete would remove them", plan.stale_kept);
    }
    let mut report = PublishReport { unchanged: plan.unchanged, dry_run: cfg.dry_run, ..PublishReport::default() };
    if cfg.dry_run {
        if let Some(bar) = &target.progress {
            bar.finish_and_clear();
        }
        for up in &plan.uploads {
            println!("upload {} ({})", up.key, if up.new { "new" } else { "changed" });
        }
        for key in &plan.deletes {
            println!("delete {key}");
        }
        report.uploaded = plan.uploads.len();
        report.deleted = plan.deletes.len();
        return Ok(report);
    }
    if let Some(bar) = &target.progress {
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_length((plan.uploads.len() + plan.deletes.len()) as u64);
    }

    let total = plan.uploads.len();
    let uploads = upload_all(target, plan.uploads, cfg.concurrency.max(1)).await;
    report.uploaded = uploads.done;
    if !uploads.failed.is_empty() || uploads.skipped > 0 {
        let mut msg = format!(
            "{} of {total} uploads to s3://{}/{} failed — {}",
            uploads.failed.len(),
            cfg.bucket,
            cfg.prefix,
            failure_list(&uploads.failed)
        );
        if uploads.skipped > 0 {
            let _ = write!(msg, "; {} not attempted", uploads.skipped);
        }
        let _ = write!(msg, "; {} uploaded, nothing deleted: run again to finish", uploads.done);
        bail!(msg);
    }

    let failed = delete_all(target, &plan.deletes, cfg.concurrency.max(1)).await;
    report.deleted = plan.deletes.len() - failed.len();
    if !failed.is_empty() {
        bail!(
            "{} of {} deletes in s3://{}/{} failed — {}; all {} uploads succeeded",
            failed.len(),
            plan.deletes.len(),
            cfg.bucket,
            cfg.prefix,
            failure_list(&failed),
            report.uploaded
        );
    }
    Ok(report)
}

/// Every object under the prefix with its ETag, following continuation tokens.
async fn list_remote(
    target: &Target,
    prefix: &str,
) -> Result<
    BTreeMap<String, Option<String>>,
    SdkError<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error, HttpResponse>,
> {
    let mut pages =
        target.client.list_objects_v2().bucket(&target.bucket).set_prefix(list_prefix(prefix)).into_paginator().send();
    let mut remote = BTreeMap::new();
    while let Some(page) = pages.try_next().await? {
        for object in page.contents() {
            if let Some(key) = object.key() {
                remote.insert(key.to_owned(), object.e_tag().map(str::to_owned));
            }
        }
    }
    Ok(remote)
}

/// Some servers (s3s-fs among them) leave ETags out of listings: HEAD each object
/// instead. One that cannot be asked keeps no ETag and is uploaded again.
async fn fill_etags(
    target: &Target,
    remote: &mut BTreeMap<String, Option<String>>,
    keys: Vec<String>,
    concurrency: usize,
) {
    let found: Vec<(String, Option<String>)> = stream::iter(keys)
        .map(|key| async move {
            let head = target.client.head_object().bucket(&target.bucket).key(&key).send().await;
            match head {
                Ok(out) => (key, out.e_tag().map(str::to_owned)),
                Err(e) => {
                    log::debug!("cannot get the ETag of {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e));
                    (key, None)
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    remote.extend(found);
}

#[derive(Debug, Default)]
struct UploadResults {
    done: usize,
    /// `(key, reason)`.
    failed: Vec<(String, String)>,
    /// Not started: a failure before them held them back.
    skipped: usize,
}

enum Outcome {
    Uploaded,
    Failed(String, Problem),
    Skipped,
}

async fn upload_all(target: &Arc<Target>, uploads: Vec<Upload>, concurrency: usize) -> UploadResults {
    let mut results = UploadResults::default();
    for tier in tiers(uploads) {
        if !results.failed.is_empty() || target.stop.load(Ordering::Relaxed) {
            results.skipped += tier.len();
            continue;
        }
        // Each upload is its own task so signing, checksums and IO use every worker;
        // `buffer_unordered` spawns them lazily, which bounds how many run at once.
        let outcomes: Vec<Outcome> = stream::iter(tier)
            .map(|up| {
                let target = Arc::clone(target);
                let key = up.key.clone();
                async move {
                    tokio::spawn(upload_one(target, up)).await.unwrap_or_else(|e| {
                        Outcome::Failed(key, Problem { message: format!("upload task failed: {e}"), fatal: false })
                    })
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Outcome::Uploaded => results.done += 1,
                Outcome::Failed(key, problem) => results.failed.push((key, problem.message)),
                Outcome::Skipped => results.skipped += 1,
            }
        }
    }
    results
}

async fn upload_one(target: Arc<Target>, up: Upload) -> Outcome {
    if target.stop.load(Ordering::Relaxed) {
        return Outcome::Skipped;
    }
    let body = match tokio::fs::read(&up.path).await {
        Ok(body) => body,
        Err(e) => {
            let message = format!("cannot read {}: {e}", up.path.display());
            return Outcome::Failed(up.key, Problem { message, fatal: false });
        }
    };
    // Hashed again: the file may have been rewritten since it was planned.
    let digest = Md5::digest(&body);
    let md5 = hex(&digest);
    let mut put = target
        .client
        .put_object()
        .bucket(&target.bucket)
        .key(&up.key)
        .content_type(content_type(&up.key))
        // Lets any S3-compatible server check the body, whatever the checksum setting.
        .content_md5(aws_smithy_types::base64::encode(digest))
        .body(ByteStream::from(body));
    if let Some(value) = cache_control(&up.key, &target.cache_control) {
        put = put.cache_control(value);
    }
    let started = Instant::now();
    let result = put.send().await;
    if let Some(bar) = &target.progress {
        bar.inc(1);
        bar.set_message(up.key.clone());
    }
    match result {
        Ok(out) => {
            log::info!("uploaded {} ({})", up.key, if up.new { "new" } else { "changed" });
            if !etag_matches(out.e_tag(), &md5) && !target.etag_warned.swap(true, Ordering::Relaxed) {
                log::warn!(
                    "the ETag of {} is not the MD5 of its bytes (SSE-KMS encryption, or a server that differs \
                     from S3): every publish will upload every file again",
                    up.key
                );
            }
            Outcome::Uploaded
        }
        Err(e) => {
            let problem = explain(&e, &target, started.elapsed());
            if problem.fatal {
                target.stop.store(true, Ordering::Relaxed);
            }
            log::debug!("upload of {} failed: {}", up.key, aws_sdk_s3::error::DisplayErrorContext(&e));
            Outcome::Failed(up.key, problem)
        }
    }
}

/// Deletes one object per request: DeleteObjects needs a Content-MD5 or checksum
/// header that not every S3-compatible server accepts, and stale pages are few.
async fn delete_all(target: &Arc<Target>, keys: &[String], concurrency: usize) -> Vec<(String, String)> {
    stream::iter(keys)
        .map(|key| async move {
            let started = Instant::now();
            let result = target.client.delete_object().bucket(&target.bucket).key(key).send().await;
            if let Some(bar) = &target.progress {
                bar.inc(1);
            }
            match result {
                Ok(_) => {
                    log::info!("deleted {key}");
                    None
                }
                Err(e) => Some((key.clone(), explain(&e, target, started.elapsed()).message)),
            }
        })
        .buffer_unordered(concurrency)
        .filter_map(|failed| async move { failed })
        .collect()
        .await
}

/// `reason: key, key, … and N more; other reason: key` — failures share few reasons.
fn failure_list(failed: &[(String, String)]) -> String {
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (key, reason) in failed {
        by_reason.entry(reason).or_default().push(key);
    }
    let mut parts = Vec::new();
    for (reason, mut keys) in by_reason {
        keys.sort_unstable();
        let mut part = format!("{reason}: {}", keys.iter().take(KEYS_SHOWN).copied().collect::<Vec<_>>().join(", "));
        if keys.len() > KEYS_SHOWN {
            let _ = write!(part, " and {} more", keys.len() - KEYS_SHOWN);
        }
        parts.push(part);
    }
    parts.join("; ")
}

impl Target {
    fn new(
        cfg: &PublishConfig,
        client: Client,
        endpoint: String,
        custom: bool,
        attempts: u32,
        progress: Option<ProgressBar>,
    ) -> Target {
        Target {
            client,
            bucket: cfg.bucket.clone(),
            endpoint,
            // Without path-style addressing the bucket goes into the host name, which a
            // local or in-house server rarely resolves.
            reach_hint: if custom && !cfg.path_style {
                "check --endpoint-url / AWS_ENDPOINT_URL, --path-style (S3-compatible servers mostly need it) and the network"
            } else {
                "check --endpoint-url / AWS_ENDPOINT_URL and the network"
            },
            cache_control: cfg.cache_control.clone(),
            stop: AtomicBool::new(false),
            etag_warned: AtomicBool::new(false),
            attempt_timeout: cfg.timeout,
            attempts,
            progress,
        }
    }

    /// `after 61 s (2 attempts of up to 30 s)`: the time a failed request really
    /// took, and why it took that long.
    fn waited(&self, waited: Duration) -> String {
        let secs = waited.as_secs_f64();
        let shown = if secs < 10.0 { format!("{secs:.1}") } else { format!("{secs:.0}") };
        let limit = self.attempt_timeout.as_secs_f64();
        match self.attempts {
            0 | 1 => format!("after {shown} s (one attempt of up to {limit} s)"),
            n => format!("after {shown} s ({n} attempts of up to {limit} s each)"),
        }
    }
}

/// An S3 failure in one line that says what to check.
#[derive(Debug)]
struct Problem {
    message: String,
    /// The endpoint, bucket or credentials are wrong: no other request can succeed.
    fatal: bool,
}

/// `waited` is how long the failed request took, all its attempts together.
fn explain<E>(err: &SdkError<E, HttpResponse>, target: &Target, waited: Duration) -> Problem
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (bucket, endpoint) = (&target.bucket, &target.endpoint);
    let fatal = |message: String| Problem { message, fatal: true };
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            let status = service.raw().status().as_u16();
            match code {
                "NoSuchBucket" => {
                    fatal(format!("bucket {bucket} does not exist at {endpoint}: check --bucket / ENVDASH_BUCKET"))
                }
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "InvalidToken"
                | "ExpiredToken"
                | "TokenRefreshRequired" => fatal(format!(
                    "{endpoint} rejected the AWS credentials ({code}): check AWS_ACCESS_KEY_ID / \
                         AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the instance role"
                )),
                "AccessDenied" => Problem {
                    message: format!(
                        "access denied by {endpoint}: check that the AWS credentials may list, put and delete \
                         objects in bucket {bucket}"
                    ),
                    fatal: false,
                },
                "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException" => {
                    let region = service
                        .raw()
                        .headers()
                        .get("x-amz-bucket-region")
                        .map_or("another region".to_owned(), |r| format!("region {r}"));
                    fatal(format!("bucket {bucket} is in {region}: pass --region or set AWS_REGION"))
                }
                _ if status == 301 => {
                    fatal(format!("bucket {bucket} is in another region: pass --region or set AWS_REGION"))
                }
                "" => {
                    Problem { message: format!("{endpoint} answered HTTP {status} for bucket {bucket}"), fatal: false }
                }
                _ => {
                    let detail = service.err().message().map(|m| format!(" ({m})")).unwrap_or_default();
                    Problem { message: format!("{endpoint} answered {code}{detail} for bucket {bucket}"), fatal: false }
                }
            }
        }
        SdkError::DispatchFailure(failure) if failure.is_timeout() => fatal(format!(
            "cannot reach {endpoint} ({}) {}: {}",
            root_cause(err),
            target.waited(waited),
            target.reach_hint
        )),
        SdkError::DispatchFailure(failure) if failure.is_io() => {
            fatal(format!("cannot reach {endpoint} ({}): {}", root_cause(err), target.reach_hint))
        }
        SdkError::TimeoutError(_) => {
            fatal(format!("no answer from {endpoint} {}: {}", target.waited(waited), target.reach_hint))
        }
        SdkError::ResponseError(_) => fatal(format!(
            "{endpoint} sent an answer that is not S3's ({}): check --endpoint-url and --path-style",
            root_cause(err)
        )),
        _ => {
            let cause = root_cause(err);
            if aws_sdk_s3::error::DisplayErrorContext(err).to_string().contains("no credentials found") {
                fatal(
                    "no AWS credentials found in the environment, the AWS profile or an instance role: set \
                     AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE"
                        .to_owned(),
                )
            } else {
                fatal(format!("cannot send requests to {endpoint} ({cause}): check --endpoint-url / AWS_ENDPOINT_URL"))
            }
        }
    }
}

/// The first line of the innermost message of an error chain: the one that says
/// what happened, short enough for a one-line error.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &dyn std::error::Error = err;
    while let Some(next) = last.source() {
        last = next;
    }
    let text = last.to_string();
    text.lines().next().unwrap_or_default().trim_end_matches(['.', ':', ' ']).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str, md5: &str) -> LocalFile {
        LocalFile { rel: rel.to_owned(), path: PathBuf::from("/site").join(rel), md5: md5.to_owned() }
    }

    fn remote(objects: &[(&str, &str)]) -> BTreeMap<String, Option<String>> {
        objects.iter().map(|(k, e)| ((*k).to_owned(), Some(format!("\"{e}\"")))).collect()
    }

    fn keys(uploads: &[Upload]) -> Vec<&str> {
        uploads.iter().map(|u| u.key.as_str()).collect()
    }

    #[test]
    fn content_types_carry_utf8_for_text() {
        assert_eq!(content_type("dash/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("status.json"), "application/json; charset=utf-8");
        assert_eq!(content_type("a/b/STYLE.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("badges/ok.svg"), "image/svg+xml; charset=utf-8");
        assert_eq!(content_type("feed.xml"), "application/xml; charset=utf-8");
        assert_eq!(content_type("robots.txt"), "text/plain; charset=utf-8");
        assert_eq!(content_type("logo.png"), "image/png");
        assert_eq!(content_type("noext"), "application/octet-stream");
        assert_eq!(content_type("dir.d/noext"), "application/octet-stream");
    }

    #[test]
    fn cache_control_only_for_html_and_json() {
        let cc = "max-age=60";
        assert_eq!(cache_control("index.html", cc), Some(cc));
        assert_eq!(cache_control("badges/x.json", cc), Some(cc));
        assert_eq!(cache_control("logo.png", cc), None);
        assert_eq!(cache_control("style.css", cc), None);
        assert_eq!(cache_control("index.html", ""), None);
    }

    #[test]
    fn keys_join_prefix_without_stray_slashes() {
        assert_eq!(key_for("", "index.html"), "index.html");
        assert_eq!(key_for("dash", "badges/x.json"), "dash/badges/x.json");
        assert_eq!(key_for("/dash/", "a.html"), "dash/a.html");
        assert_eq!(key_for("team/dash", "a.html"), "team/dash/a.html");
        assert_eq!(list_prefix(""), None);
        assert_eq!(list_prefix("dash/"), Some("dash/".to_owned()));
    }

    #[test]
    fn etags_compare_as_md5_without_quotes() {
        let md5 = "9e107d9d372bb6826bd81d3542a419d6";
        assert!(etag_matches(Some("\"9e107d9d372bb6826bd81d3542a419d6\""), md5));
        assert!(etag_matches(Some("9E107D9D372BB6826BD81D3542A419D6"), md5));
        assert!(!etag_matches(Some("\"9e107d9d372bb6826bd81d3542a419d6-2\""), md5), "multipart");
        assert!(!etag_matches(Some("\"00000000000000000000000000000000\""), md5));
        assert!(!etag_matches(None, md5));
        assert_eq!(md5_hex(b"The quick brown fox jumps over the lazy dog"), md5);
    }

    #[test]
    fn plan_uploads_new_and_changed_and_skips_unchanged() {
        let local = [file("a.html", "aa"), file("b.html", "bb"), file("c.html", "cc")];
        let plan = make_plan(&local, &remote(&[("dash/a.html", "aa"), ("dash/b.html", "00")]), "dash", false);
        assert_eq!(keys(&plan.uploads), ["dash/b.html", "dash/c.html"]);
        assert!(!plan.uploads[0].new && plan.uploads[1].new);
        assert_eq!(plan.unchanged, 1);
        assert!(plan.deletes.is_empty());
    }

    #[test]
    fn plan_puts_assets_first_and_index_pages_last_deepest_first() {
        let local = [
            file("index.html", "1"),
            file("z.html", "2"),
            file("team/index.html", "3"),
            file("badges/x.json", "4"),
            file("status.json", "5"),
            file("a/b/index.html", "6"),
            file("assets/envdash.js", "7"),
            file("assets/envdash.css", "8"),
            file("img/logo.PNG", "9"),
        ];
        let plan = make_plan(&local, &BTreeMap::new(), "", false);
        assert_eq!(
            keys(&plan.uploads),
            [
                "assets/envdash.css",
                "assets/envdash.js",
                "img/logo.PNG",
                "badges/x.json",
                "status.json",
                "z.html",
                "a/b/index.html",
                "team/index.html",
                "index.html"
            ]
        );
        let tiers = tiers(plan.uploads);
        let tiers: Vec<Vec<&str>> = tiers.iter().map(|t| keys(t)).collect();
        assert_eq!(
            tiers,
            [
                vec!["assets/envdash.css", "assets/envdash.js", "img/logo.PNG"],
                vec!["badges/x.json", "status.json", "z.html"],
                vec!["a/b/index.html"],
                vec!["team/index.html"],
                vec!["index.html"]
            ]
        );
    }

    #[test]
    fn plan_deletes_only_stale_keys_inside_the_prefix() {
        let local = [file("a.html", "aa")];
        let objects = remote(&[
            ("dash/a.html", "aa"),
            ("dash/old.html", "xx"),
            ("dash/badges/", "d41d8cd98f00b204e9800998ecf8427e"),
            ("dashboard/x.html", "xx"),
            ("dash.html", "xx"),
            ("other/dash/y.html", "xx"),
        ]);
        let plan = make_plan(&local, &objects, "dash", true);
        assert_eq!(plan.deletes, ["dash/old.html"]);
        assert!(plan.uploads.is_empty());
        let kept = make_plan(&local, &objects, "dash", false);
        assert!(kept.deletes.is_empty());
        assert_eq!(kept.stale_kept, 1);
    }

    #[test]
    fn plan_without_prefix_may_delete_anything_not_in_the_site() {
        let local = [file("a.html", "aa")];
        let plan = make_plan(&local, &remote(&[("a.html", "aa"), ("old/b.html", "bb")]), "", true);
        assert_eq!(plan.deletes, ["old/b.html"]);
    }

    #[test]
    fn failures_are_grouped_by_reason() {
        let failed: Vec<(String, String)> = (0..7)
            .map(|i| (format!("k{i}"), "cannot reach X".to_owned()))
            .chain([("z".into(), "denied".into())])
            .collect();
        assert_eq!(failure_list(&failed), "cannot reach X: k0, k1, k2, k3, k4 and 2 more; denied: z");
    }

    #[test]
    fn site_scan_skips_hidden_files_and_keeps_subfolders() {
        let dir = tempfile::tempdir().unwrap();
        for (rel, body) in
            [("index.html", "i"), ("badges/x.json", "{}"), (".envdash-manifest", "m"), (".envdash-abc.tmp", "t")]
        {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        let files = scan_site(dir.path()).unwrap();
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["badges/x.json", "index.html"]);
        assert_eq!(files[1].md5, md5_hex(b"i"));
        assert!(scan_site(&dir.path().join("missing")).unwrap_err().to_string().contains("render it first"));
    }
}
