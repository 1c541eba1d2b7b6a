//! The command line: clap derive types, turned once into the plain configs of
//! `config.rs`, then dispatched. Exit codes are defined here, in one place.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::Timestamp;

use crate::alert::NotifyMode;
use crate::config::{Checksums, PublishConfig, RenderConfig};
use crate::model::EnvStatus;
use crate::render::EnvSummary;
use crate::settings::Settings;

/// The run went fine (problems in the environments do not change that unless asked).
pub const EXIT_OK: u8 = 0;
/// `--fail-on` was given and an environment has one of the statuses it names.
/// Everything was written (and, for `run`, published) all the same.
pub const EXIT_PROBLEMS: u8 = 1;
/// The tool itself failed: bad arguments, unreadable input folder, S3 errors, ….
pub const EXIT_FAILURE: u8 = 2;

const AFTER_HELP: &str = "\
Exit codes:
  0  ran fine (environments with problems are shown on the pages, not in the exit code,
     unless --fail-on asks for it)
  1  --fail-on: an environment has one of the statuses it names; everything was still
     written (and, for run, published)
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
    /// Render, send the alerts, then publish when a bucket is given: the job Jenkins and Ansible run
    Run(RunArgs),
    /// Notifications: `--test` sends a sample message to every notifier of the config
    Notify(NotifyArgs),
}

#[derive(Debug, Args)]
struct NotifyArgs {
    /// Configuration with the `[[notify]]` entries
    #[arg(short, long, value_name = "FILE", env = "ENVDASH_CONFIG")]
    config: PathBuf,
    /// Send a sample message to every notifier and say which ones worked (exit code 2 when one failed)
    #[arg(long, required = true)]
    test: bool,
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// Folder with one `<environment>.txt` file per environment (searched recursively)
    #[arg(short, long, value_name = "DIR")]
    input: PathBuf,
    /// Folder to write the site into; created when missing
    #[arg(short, long, value_name = "DIR", default_value = "site")]
    out: PathBuf,
    /// Folder of templates (index.html, env.html, versions.html, base.html) and assets (assets/envdash.css, …) that replace the built-in ones
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// Configuration: expected hosts and containers, staleness, known issues, groups (see README)
    #[arg(short, long, value_name = "FILE", env = "ENVDASH_CONFIG")]
    config: Option<PathBuf>,
    /// Title of the master page [default: from the config, else "Environment dashboard"]
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
    /// Seconds after which pages reload themselves (by script; not where script cannot run, as in Jenkins); 0 turns it off [default: from the config, else 300]
    #[arg(long, value_name = "SECONDS")]
    refresh: Option<u32>,
    /// Also write JUnit XML for Jenkins' `junit` step: a suite per environment, a test per container and host
    #[arg(long, value_name = "FILE", help_heading = "Jenkins and Prometheus")]
    junit: Option<PathBuf>,
    /// Also write metrics for node_exporter's textfile collector (give the file a `.prom` name)
    #[arg(long, value_name = "FILE", help_heading = "Jenkins and Prometheus")]
    prometheus: Option<PathBuf>,
    /// Also write a shields.io endpoint badge per environment, `badges/<page>.json` in the site
    #[arg(long, help_heading = "Jenkins and Prometheus")]
    badges: bool,
    /// Exit with code 1 when an environment has one of these statuses (comma-separated), after
    /// everything was written and published
    #[arg(long, value_enum, value_name = "STATUS", value_delimiter = ',', help_heading = "Jenkins and Prometheus")]
    fail_on: Vec<FailOn>,
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

#[derive(Debug, Clone, Args)]
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
    /// Show what would be uploaded and deleted (for run: and the alerts that would be sent); change nothing
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
    /// Seconds one attempt of an S3 request may wait for its answer; a request gets the
    /// attempts of the AWS retry settings (AWS_MAX_ATTEMPTS, 3 by default)
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=3600))]
    timeout: u16,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ChecksumArg {
    WhenSupported,
    WhenRequired,
}

/// The environment statuses `--fail-on` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOn {
    /// A problem no known issue explains
    Problem,
    /// Its file could not be used
    Unknown,
    /// Its data is older than the staleness threshold
    Stale,
    /// Every problem is explained by a known issue
    Known,
    /// Anything but ok
    Any,
}

impl FailOn {
    fn matches(self, status: EnvStatus) -> bool {
        match self {
            FailOn::Problem => status == EnvStatus::Problem,
            FailOn::Unknown => status == EnvStatus::Unknown,
            FailOn::Stale => status == EnvStatus::Stale,
            FailOn::Known => status == EnvStatus::Known,
            FailOn::Any => status != EnvStatus::Ok,
        }
    }
}

/// [`EXIT_PROBLEMS`] when an environment has a status `fail_on` names, saying which;
/// else [`EXIT_OK`].
fn fail_on_code(fail_on: &[FailOn], environments: &[EnvSummary], say: &dyn Fn(String)) -> u8 {
    let failing: Vec<String> = environments
        .iter()
        .filter(|e| fail_on.iter().any(|f| f.matches(e.status)))
        .map(|e| format!("{} ({})", e.name, e.status.as_str()))
        .collect();
    if failing.is_empty() {
        return EXIT_OK;
    }
    const SHOWN: usize = 10;
    let mut names = failing.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if failing.len() > SHOWN {
        names.push_str(&format!(" and {} more", failing.len() - SHOWN));
    }
    say(format!("exit code {EXIT_PROBLEMS} (--fail-on): {names}"));
    EXIT_PROBLEMS
}

impl RenderArgs {
    fn into_config(self, notify: NotifyMode) -> Result<RenderConfig> {
        let settings = match &self.config {
            Some(path) => Settings::load(path)?,
            None => Settings::default(),
        };
        Ok(RenderConfig {
            input: self.input,
            out: self.out,
            templates: self.templates,
            title: self.title.or_else(|| settings.title.clone()).unwrap_or_else(|| "Environment dashboard".to_owned()),
            refresh_seconds: self.refresh.or(settings.refresh_seconds).unwrap_or(300),
            now: now_from_env()?,
            settings,
            junit: self.junit,
            prometheus: self.prometheus,
            badges: self.badges,
            notify,
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
            timeout: std::time::Duration::from_secs(u64::from(self.timeout)),
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
        // Whole seconds: times in pages, history and JSON do not change with nanoseconds.
        _ => Ok(Timestamp::now().round(jiff::Unit::Second)?),
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
    // The exit code `--fail-on` asks for is decided once everything is written and published.
    let rendered = match cli.command {
        Command::Render(args) => {
            let fail_on = args.fail_on.clone();
            // A render keeps its alerts for the next `run` to send.
            let report = crate::site::render_site(&args.into_config(NotifyMode::Queue)?)?;
            say(report.summary_line());
            say(format!("open {}", report.out.join("index.html").display()));
            Some((fail_on, report))
        }
        Command::Publish(args) => {
            let cfg = args.s3.into_config(args.site, args.bucket, quiet)?;
            // A render swapping the site in the middle would make this upload half of each.
            let _lock = crate::output::SiteLock::acquire(&cfg.site)
                .map_err(|e| log::warn!("{e:#}; publishing without the lock"))
                .ok();
            let report = crate::publish::publish(&cfg)?;
            say(report.summary_line());
            None
        }
        Command::Run(args) => {
            let fail_on = args.render.fail_on.clone();
            let mode = if args.s3.dry_run { NotifyMode::DryRun } else { NotifyMode::Send };
            let render = args.render.into_config(mode)?;
            let bucket = args.bucket.filter(|b| !b.trim().is_empty());
            if let Some(bucket) = &bucket {
                // A new agent or a wiped workspace: the history and the alert state
                // come back from the bucket before anything is judged.
                let cfg = args.s3.clone().into_config(render.out.clone(), bucket.clone(), quiet)?;
                if let Some(restored) = crate::publish::restore_history(&cfg)? {
                    say(restored);
                }
            }
            let report = crate::site::render_site(&render)?;
            say(report.summary_line());
            for d in &report.deliveries {
                if d.error.is_none() {
                    say(d.summary());
                }
            }
            match bucket {
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
            Some((fail_on, report))
        }
        Command::Notify(args) => {
            let settings = Settings::load(&args.config)?;
            if settings.notifiers.is_empty() {
                bail!("{} has no [[notify]] entries: nothing to test", args.config.display());
            }
            let tries = crate::alert::deliver::Tries::of(&settings);
            let deliveries = crate::alert::deliver::test_all(&settings, now_from_env()?, tries);
            let mut failed = 0;
            for d in &deliveries {
                match &d.error {
                    None => {
                        say(format!("ok      {} ({:?}): test message delivered", d.notifier, d.kind).to_lowercase())
                    }
                    Some(e) => {
                        failed += 1;
                        eprintln!("FAILED  {}: {e}", d.notifier);
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} of {} notifiers did not take the test message", deliveries.len());
            }
            None
        }
    };
    Ok(match rendered {
        Some((fail_on, report)) => fail_on_code(&fail_on, &report.environments, &say),
        None => EXIT_OK,
    })
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
