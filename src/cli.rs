//! The command line: clap derive types, turned once into the plain configs of
//! `config.rs`, then dispatched. Exit codes are defined here, in one place.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::Timestamp;

use crate::config::{Checksums, PublishConfig, RenderConfig};

/// The run went fine (problems in the environments do not change that unless asked).
pub const EXIT_OK: u8 = 0;
/// The tool itself failed: bad arguments, unreadable input folder, S3 errors, ….
pub const EXIT_FAILURE: u8 = 2;

const AFTER_HELP: &str = "\
Exit codes:
  0  ran fine (environments with problems are shown on the pages, not in the exit code)
  2  the tool failed: bad arguments, input folder missing, output not writable,
     a template that does not compile, or an upload that failed

Logging goes to stderr; set RUST_LOG (for example RUST_LOG=envdash=debug) for more.";

/// Turns `docker ps -a` listings of many environments into a static status
/// dashboard (one master page, one page per environment, status.json) and syncs
/// it to S3.
#[derive(Debug, Parser)]
#[command(name = "envdash", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Say more on stderr (-v: progress, -vv: debug)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Print only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Threads for parsing and rendering [default: one per core]
    #[arg(short = 'j', long, global = true, value_name = "N", env = "ENVDASH_JOBS")]
    jobs: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render the site from a folder of environment files
    Render(RenderArgs),
    /// Upload a rendered site to S3, sending only files whose bytes changed
    Publish(PublishArgs),
    /// Render, then publish when a bucket is given: the job Jenkins and Ansible run
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// Folder with one `<environment>.txt` file per environment (searched recursively)
    #[arg(short, long, value_name = "DIR")]
    input: PathBuf,
    /// Folder to write the site into; created when missing
    #[arg(short, long, value_name = "DIR", default_value = "site")]
    out: PathBuf,
    /// Folder of templates (index.html, env.html, base.html) that replace the built-in ones
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// Title of the master page
    #[arg(long, value_name = "TEXT", default_value = "Environment dashboard")]
    title: String,
    /// Seconds after which pages reload themselves; 0 turns it off
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    refresh: u32,
}

#[derive(Debug, Args)]
struct PublishArgs {
    /// The rendered site folder to upload
    #[arg(long, value_name = "DIR", default_value = "site")]
    site: PathBuf,
    /// Bucket to upload into
    #[arg(long, value_name = "NAME", env = "ENVDASH_BUCKET")]
    bucket: String,
    #[command(flatten)]
    s3: S3Args,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    render: RenderArgs,
    /// Bucket to upload into; without one the site is only rendered
    #[arg(long, value_name = "NAME", env = "ENVDASH_BUCKET")]
    bucket: Option<String>,
    #[command(flatten)]
    s3: S3Args,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "S3 options")]
struct S3Args {
    /// Key prefix inside the bucket (for example `dash/`)
    #[arg(long, value_name = "P", default_value = "", env = "ENVDASH_PREFIX")]
    prefix: String,
    /// AWS region [default: from the AWS config chain]
    #[arg(long, value_name = "R")]
    region: Option<String>,
    /// S3 endpoint for S3-compatible servers (MinIO, Ceph) [default: AWS_ENDPOINT_URL or AWS]
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Address buckets by path (http://host/bucket/key), as most S3-compatible servers need
    #[arg(long)]
    path_style: bool,
    /// Remove objects under the prefix that are no longer in the site (after all uploads succeed)
    #[arg(long)]
    delete: bool,
    /// Show what would be uploaded and deleted, change nothing
    #[arg(long)]
    dry_run: bool,
    /// Uploads in flight at once
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Cache-Control sent with HTML and JSON objects
    #[arg(long, value_name = "VALUE", default_value = "max-age=60, must-revalidate")]
    cache_control: String,
    /// When uploads carry checksums; `when-required` suits servers that reject the SDK's default
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ChecksumArg::WhenSupported)]
    checksums: ChecksumArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ChecksumArg {
    WhenSupported,
    WhenRequired,
}

impl RenderArgs {
    fn into_config(self) -> Result<RenderConfig> {
        Ok(RenderConfig {
            input: self.input,
            out: self.out,
            templates: self.templates,
            title: self.title,
            refresh_seconds: self.refresh,
            now: now_from_env()?,
        })
    }
}

impl S3Args {
    fn into_config(self, site: PathBuf, bucket: String, quiet: bool) -> Result<PublishConfig> {
        if bucket.trim().is_empty() {
            bail!("the bucket name is empty: pass --bucket NAME or set ENVDASH_BUCKET");
        }
        Ok(PublishConfig {
            site,
            bucket,
            prefix: self.prefix.trim_matches('/').to_owned(),
            region: self.region,
            endpoint_url: self.endpoint_url,
            path_style: self.path_style,
            delete: self.delete,
            dry_run: self.dry_run,
            concurrency: usize::from(self.concurrency),
            cache_control: self.cache_control,
            checksums: match self.checksums {
                ChecksumArg::WhenSupported => Checksums::WhenSupported,
                ChecksumArg::WhenRequired => Checksums::WhenRequired,
            },
            progress: !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        })
    }
}

/// The time of this run: `ENVDASH_NOW` (RFC 3339) when set, for reproducible
/// output and tests, else the clock.
fn now_from_env() -> Result<Timestamp> {
    match std::env::var("ENVDASH_NOW") {
        Ok(v) if !v.is_empty() => {
            v.parse().with_context(|| format!("ENVDASH_NOW={v:?} is not an RFC 3339 time such as 2026-11-25T16:30:00Z"))
        }
        _ => Ok(Timestamp::now()),
    }
}

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    // The AWS SDK is chatty below warn; RUST_LOG overrides all of this.
    let default = format!("warn,envdash={level}");
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
        .format(|buf, record| {
            use std::io::Write;
            let level = record.level().as_str().to_ascii_lowercase();
            let level = if level == "warn" { "warning".to_owned() } else { level };
            writeln!(buf, "{level}: {}", record.args())
        })
        .init();
}

fn run(cli: Cli) -> Result<u8> {
    if let Some(n) = cli.jobs {
        rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global().context("cannot start worker threads")?;
    }
    let quiet = cli.quiet;
    let say = |line: String| {
        if !quiet {
            println!("{line}");
        }
    };
    match cli.command {
        Command::Render(args) => {
            let report = crate::site::render_site(&args.into_config()?)?;
            say(report.summary_line());
            say(format!("open {}", report.out.join("index.html").display()));
        }
        Command::Publish(args) => {
            let cfg = args.s3.into_config(args.site, args.bucket, quiet)?;
            let report = crate::publish::publish(&cfg)?;
            say(report.summary_line());
        }
        Command::Run(args) => {
            let render = args.render.into_config()?;
            let report = crate::site::render_site(&render)?;
            say(report.summary_line());
            match args.bucket.filter(|b| !b.trim().is_empty()) {
                None => say(format!(
                    "no bucket given (--bucket or ENVDASH_BUCKET): the site is in {}; open {}",
                    report.out.display(),
                    report.out.join("index.html").display()
                )),
                Some(bucket) => {
                    let cfg = args.s3.into_config(render.out.clone(), bucket, quiet)?;
                    let published = crate::publish::publish(&cfg)?;
                    say(published.summary_line());
                }
            }
        }
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_command_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
