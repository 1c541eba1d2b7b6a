//! The validated settings each command runs with. `cli.rs` builds these once from
//! the command line; nothing below the CLI sees clap types.

use std::path::PathBuf;

use jiff::Timestamp;

use crate::settings::Settings;

/// Settings for rendering the site.
#[derive(Debug, Clone)]
pub struct RenderConfig {
    /// Folder holding one `*.txt` file per environment (searched recursively).
    pub input: PathBuf,
    /// Folder the site is written to; created when missing.
    pub out: PathBuf,
    /// Folder whose `*.html` files replace the built-in templates of the same name.
    pub templates: Option<PathBuf>,
    /// Heading and title of the master page.
    pub title: String,
    /// Pages reload themselves after this many seconds; 0 turns it off.
    pub refresh_seconds: u32,
    /// The time of the run, as shown on the pages and in `status.json`.
    pub now: Timestamp,
    /// What `envdash.toml` says (defaults without one).
    pub settings: Settings,
    /// Where to write JUnit XML for Jenkins (one suite per environment), if anywhere.
    pub junit: Option<PathBuf>,
    /// Where to write a Prometheus textfile-collector file, if anywhere.
    pub prometheus: Option<PathBuf>,
    /// Write a shields.io endpoint badge per environment into `badges/` of `out`.
    pub badges: bool,
    /// What becomes of the alerts this run's changes make.
    pub notify: crate::alert::NotifyMode,
}

/// How request bodies are checksummed; some S3-compatible servers reject the
/// SDK's default of sending CRC checksums on every upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksums {
    WhenSupported,
    WhenRequired,
}

/// Settings for syncing a site folder to S3.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// The rendered site to upload.
    pub site: PathBuf,
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// Region; the standard AWS chain decides when `None`.
    pub region: Option<String>,
    /// Custom endpoint (MinIO, Ceph, a local test server); `AWS_ENDPOINT_URL` otherwise.
    pub endpoint_url: Option<String>,
    /// Path-style addressing (`http://host/bucket/key`), needed by most S3-compatible servers.
    pub path_style: bool,
    /// Remove remote objects under the prefix that are not in the site.
    pub delete: bool,
    /// Print the plan, change nothing.
    pub dry_run: bool,
    /// Uploads in flight at once.
    pub concurrency: usize,
    /// Cache-Control for HTML and JSON objects.
    pub cache_control: String,
    pub checksums: Checksums,
    /// How long one attempt of a request may wait for its answer before it is
    /// retried (attempts come from the AWS retry settings, 3 by default).
    pub timeout: std::time::Duration,
    /// Show a progress bar (only when stderr is a terminal and not quiet).
    pub progress: bool,
}
