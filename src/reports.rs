//! Outputs for the tools around envdash: JUnit XML for Jenkins' `junit` step
//! (`--junit`), a Prometheus node_exporter textfile-collector file
//! (`--prometheus`) and shields.io endpoint badges (`--badges`).
//!
//! The render's parallel loop makes each environment's part with
//! [`Parts::fragments`] (from [`Reports::parts`]) and hands them back in name order to
//! [`Reports::append`]; [`Reports::finish`] then writes each file atomically.
//!
//! JUnit: one `testsuite` per environment; in it one `testcase` for the input
//! file (an `error` when it could not be used), one per host (a `failure` when it
//! did not report) and one per container (a `failure` when it is a problem), a
//! problem that a known issue explains being `skipped` instead. The output is
//! valid against the strict Windy Road `JUnit.xsd` (`tests/data/junit.xsd`), which
//! is why `testsuites` has no attributes and timestamps have no time zone.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::alert::NotifierStatus;
use crate::config::RenderConfig;
use crate::model::{Container, EnvStatus, Environment, Host, Reach};
use crate::output::{write_atomic, write_bytes_atomic};
use crate::render::Totals;
use crate::status::{Health, State, exit_code_meaning};

/// The folder of the site that holds `<page>.json` badges.
pub const BADGES_DIR: &str = "badges";

/// The reports a render writes besides the site, and what they have collected.
pub struct Reports {
    junit: Option<Spooled>,
    prometheus: Option<Spooled>,
    /// The badges folder, when badges are on.
    badges: Option<PathBuf>,
    /// Badge files written this run, so that the others can be removed.
    badge_files: HashSet<String>,
    run: Run,
    junit_totals: JunitTotals,
}

/// What every environment's part shares.
#[derive(Clone)]
struct Run {
    /// `2026-11-25T16:30:00`: UTC, without a zone, as the JUnit schema wants it.
    junit_timestamp: String,
    /// The same time in seconds since the epoch, for Prometheus.
    epoch_seconds: i64,
    /// The machine envdash runs on, as JUnit's `hostname`.
    hostname: String,
}

#[derive(Default)]
struct JunitTotals {
    suites: usize,
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

/// Makes one environment's part of each report (see [`Reports::parts`]).
pub struct Parts {
    junit: bool,
    prometheus: bool,
    badges: Option<PathBuf>,
    run: Run,
}

impl Parts {
    /// Makes `env`'s part of each report and writes its badge. Safe to call from
    /// many threads.
    pub fn fragments(&self, env: &Environment) -> Result<Fragments> {
        let mut out = Fragments::default();
        if self.junit {
            out.junit = Some(junit_suite(env, &self.run));
        }
        if self.prometheus {
            out.metrics = metrics(env);
        }
        if let Some(dir) = &self.badges {
            let name = format!("{}.json", env.page.strip_suffix(".html").unwrap_or(&env.page));
            write_bytes_atomic(&dir.join(&name), &badge(env))?;
            out.badge = Some(name);
        }
        Ok(out)
    }
}

/// One environment's part of every report, made in parallel with the others.
#[derive(Default)]
pub struct Fragments {
    junit: Option<(Vec<u8>, SuiteCounts)>,
    /// One buffer per entry of [`Family::PER_ENVIRONMENT`]; empty when metrics are off.
    metrics: Vec<Vec<u8>>,
    /// The badge's file name in the badges folder, when one was written.
    badge: Option<String>,
}

impl Reports {
    /// Prepares the reports `cfg` asks for. Opens their work files beside the final
    /// ones now, so that a folder that is missing or not writable fails the run
    /// before any rendering is done.
    /// Badges go into `site`, the folder the new site is built in.
    pub fn start(cfg: &RenderConfig, site: &Path) -> Result<Reports> {
        let now = cfg.now.round(jiff::Unit::Second).unwrap_or(cfg.now);
        let run = Run {
            junit_timestamp: now.to_zoned(TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            epoch_seconds: now.as_second(),
            hostname: hostname(),
        };
        let junit = cfg.junit.as_deref().map(|p| Spooled::new(p, 1)).transpose()?;
        let prometheus =
            cfg.prometheus.as_deref().map(|p| Spooled::new(p, Family::PER_ENVIRONMENT.len())).transpose()?;
        let badges = if cfg.badges {
            let dir = site.join(BADGES_DIR);
            fs::create_dir_all(&dir).with_context(|| format!("cannot create the badges folder {}", dir.display()))?;
            Some(dir)
        } else {
            None
        };
        Ok(Reports {
            junit,
            prometheus,
            badges,
            badge_files: HashSet::new(),
            run,
            junit_totals: JunitTotals::default(),
        })
    }

    /// What the workers need to make each environment's part, apart from the files
    /// the parts are appended to: so that the parts of the next environments are
    /// made while this thread appends those of the last.
    pub fn parts(&self) -> Parts {
        Parts {
            junit: self.junit.is_some(),
            prometheus: self.prometheus.is_some(),
            badges: self.badges.clone(),
            run: self.run.clone(),
        }
    }

    /// Adds one environment's part; call in the order the environments are listed.
    pub fn append(&mut self, fragments: Fragments) -> Result<()> {
        if let (Some(junit), Some((bytes, counts))) = (&mut self.junit, fragments.junit) {
            // The schema numbers the suites from 0 in document order, which only this
            // sequential step knows; the fragment carries the rest of the start tag.
            let t = &mut self.junit_totals;
            junit.write(0, format!("  <testsuite id=\"{}\"", t.suites).as_bytes())?;
            junit.write(0, &bytes)?;
            t.suites += 1;
            t.tests += counts.tests;
            t.failures += counts.failures;
            t.errors += counts.errors;
            t.skipped += counts.skipped;
        }
        if let Some(prometheus) = &mut self.prometheus {
            for (i, bytes) in fragments.metrics.iter().enumerate() {
                prometheus.write(i, bytes)?;
            }
        }
        self.badge_files.extend(fragments.badge);
        Ok(())
    }

    /// Writes the JUnit and metrics files into place and removes badges of
    /// environments that are gone.
    pub fn finish(self, totals: &Totals, notifiers: &[NotifierStatus]) -> Result<()> {
        if let Some(junit) = self.junit {
            let t = &self.junit_totals;
            let head = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- envdash {}, {}Z: {} environments, {} tests, {} failures, {} errors, {} skipped -->\n<testsuites>\n",
                env!("CARGO_PKG_VERSION"),
                self.run.junit_timestamp,
                t.suites,
                t.tests,
                t.failures,
                t.errors,
                t.skipped
            );
            junit.finish(head.as_bytes(), |_, _| Ok(()), b"</testsuites>\n")?;
        }
        if let Some(prometheus) = self.prometheus {
            let mut head = String::new();
            family_header(&mut head, Family::LastRun);
            let _ = writeln!(head, "{} {}", Family::LastRun.name(), self.run.epoch_seconds);
            family_header(&mut head, Family::Environments);
            let by_status = [
                (EnvStatus::Ok, totals.ok),
                (EnvStatus::Problem, totals.problem),
                (EnvStatus::Unknown, totals.unknown),
                (EnvStatus::Stale, totals.stale),
                (EnvStatus::Known, totals.known),
            ];
            for (status, n) in by_status.map(|(s, n)| (s.as_str(), n)) {
                let _ = writeln!(head, "{}{{status=\"{status}\"}} {n}", Family::Environments.name());
            }
            notify_metrics(&mut head, notifiers);
            prometheus.finish(
                head.as_bytes(),
                |i, w| {
                    let mut header = String::new();
                    family_header(&mut header, Family::PER_ENVIRONMENT[i]);
                    Ok(w.write_all(header.as_bytes())?)
                },
                b"",
            )?;
        }
        if let Some(dir) = &self.badges {
            remove_stale_badges(dir, &self.badge_files)?;
        }
        Ok(())
    }
}

/// A report file assembled from parts: each part collects in an anonymous
/// temporary file beside the final one, and the parts are copied in order into
/// the final file, which is written atomically.
///
/// Metrics of one family must be contiguous, but environments come one after the
/// other, so each family needs its own part until the end. Temporary files keep
/// memory flat for a big fleet (1000 environments × 1000 containers make some
/// 370 MB of metrics and 100 MB of JUnit) at the price of writing the bytes twice,
/// mostly into the page cache; buffers in memory would be simpler and hold all of
/// it at once.
struct Spooled {
    path: PathBuf,
    parts: Vec<BufWriter<File>>,
}

impl Spooled {
    fn new(path: &Path, parts: usize) -> Result<Spooled> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let parts = (0..parts)
            .map(|_| {
                let file = tempfile::tempfile_in(dir).with_context(|| {
                    format!("cannot write {}: cannot create a file in {}", path.display(), dir.display())
                })?;
                Ok(BufWriter::with_capacity(64 * 1024, file))
            })
            .collect::<Result<_>>()?;
        Ok(Spooled { path: path.to_path_buf(), parts })
    }

    fn write(&mut self, part: usize, bytes: &[u8]) -> Result<()> {
        self.parts[part].write_all(bytes).with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Writes `head`, then each part preceded by what `before` writes for it, then `tail`.
    fn finish(self, head: &[u8], before: impl Fn(usize, &mut dyn Write) -> Result<()>, tail: &[u8]) -> Result<()> {
        write_atomic(&self.path, |w| {
            w.write_all(head)?;
            for (i, part) in self.parts.into_iter().enumerate() {
                before(i, w)?;
                let mut file = part.into_inner().map_err(|e| e.into_error())?;
                file.rewind()?;
                io::copy(&mut file, w)?;
            }
            w.write_all(tail)?;
            Ok(())
        })
    }
}

/// The machine's name, or `localhost` as the JUnit schema suggests when unknown.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The word serde gives a unit enum variant (`docker_unavailable`), so that states
/// the model gains later are named without a change here.
fn word(value: impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".to_owned(),
    }
}

/// The image as Docker names it: `repo:tag` or `repo@sha256:…`.
fn image_ref(c: &Container) -> String {
    match c.version.as_str() {
        "" => c.image.to_string(),
        v if v.contains(':') => format!("{}@{v}", c.image),
        v => format!("{}:{v}", c.image),
    }
}

/// What is wrong with a problem container, in a word (`exited`, `unhealthy`,
/// `crash_loop`) and in a line (`exited, exit code 137: killed (SIGKILL), often
/// out of memory`).
fn container_problem(c: &Container) -> (&'static str, String) {
    // A `Restarting` container is crash-looping by definition; say so only of one
    // that looks up but keeps coming back.
    if c.inspect().oom_killed && c.state != State::Running {
        let code = c.exit_code.map(|n| format!(" (exit code {n})")).unwrap_or_default();
        return ("oom_killed", format!("{}, killed: out of memory{code}", c.state.as_str()));
    }
    let (kind, mut line) = if c.detail().crash_loop && c.state != State::Restarting {
        (
            "crash_loop",
            format!("{}, but crash-looping: restarted {} times recently", c.state.as_str(), c.detail().restarts),
        )
    } else if c.state == State::Running && c.health == Health::Unhealthy {
        ("unhealthy", "running but unhealthy".to_owned())
    } else if c.state == State::Missing {
        ("missing", "expected but not reported".to_owned())
    } else {
        (c.state.as_str(), c.state.as_str().to_owned())
    };
    if let Some(code) = c.exit_code {
        let _ = write!(line, ", exit code {code}");
        if let Some(meaning) = exit_code_meaning(code) {
            let _ = write!(line, ": {meaning}");
        }
    }
    (kind, line)
}

// ---------------------------------------------------------------------------
// JUnit XML

/// Whether `ch` may appear in an XML 1.0 document at all.
fn xml_char_allowed(ch: char) -> bool {
    matches!(ch, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes `s` as XML character data. Characters XML 1.0 forbids (most control
/// characters) become U+FFFD; a carriage return is kept as `&#13;`, which a parser
/// would otherwise turn into a newline.
pub fn xml_text(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if !xml_char_allowed(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Escapes `s` as a double-quoted XML attribute value. Tabs and line breaks become
/// character references, as a parser would otherwise read them as spaces.
pub fn xml_attr(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c => xml_text(out, c.encode_utf8(&mut [0; 4])),
        }
    }
}

/// Tests in one suite, by outcome.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct SuiteCounts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

/// How a test case did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The check was made and failed: a problem.
    Failure,
    /// The check could not be made: the input file could not be used.
    Error,
    /// A problem explained by a known issue: Jenkins shows it, without failing the build.
    Skipped,
}

struct Verdict {
    outcome: Outcome,
    kind: String,
    message: String,
    details: String,
}

impl Verdict {
    /// A failure, or a skip when a known issue explains it.
    fn problem(known: Option<&str>, kind: String, message: String, details: String) -> Verdict {
        match known {
            None => Verdict { outcome: Outcome::Failure, kind, message, details },
            Some(text) => Verdict {
                outcome: Outcome::Skipped,
                message: format!("known issue: {text}"),
                details: format!("{message}\n{details}"),
                kind,
            },
        }
    }
}

/// Names in the schema are tokens of at least one character once whitespace is
/// collapsed; an environment named by a blank file stem falls back to its file.
fn suite_name(env: &Environment) -> &str {
    let blank = |s: &str| s.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    [env.name.as_str(), env.source.as_str()].into_iter().find(|s| !blank(s)).unwrap_or(&env.page)
}

fn attr(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, " {name}=\"");
    xml_attr(out, value);
    out.push('"');
}

fn testcase(out: &mut String, counts: &mut SuiteCounts, classname: &str, name: &str, verdict: Option<Verdict>) {
    counts.tests += 1;
    out.push_str("    <testcase");
    attr(out, "classname", classname);
    attr(out, "name", name);
    out.push_str(" time=\"0\"");
    let Some(v) = verdict else {
        out.push_str("/>\n");
        return;
    };
    let element = match v.outcome {
        Outcome::Failure => {
            counts.failures += 1;
            "failure"
        }
        Outcome::Error => {
            counts.errors += 1;
            "error"
        }
        Outcome::Skipped => {
            counts.skipped += 1;
            "skipped"
        }
    };
    let _ = write!(out, ">\n      <{element}");
    attr(out, "type", &v.kind);
    attr(out, "message", &v.message);
    out.push('>');
    xml_text(out, &v.details);
    let _ = write!(out, "</{element}>\n    </testcase>\n");
}

/// One environment as a `testsuite` (all but its leading `<testsuite id="N"`),
/// with its counts.
///
/// Jenkins groups tests by `classname` split at its last dot, so the class is
/// `<environment>.<host>` with the host's dots written as `_`: otherwise
/// `app-1.qa.example.io` would make a class `io`. The real names are in the messages.
fn junit_suite(env: &Environment, run: &Run) -> (Vec<u8>, SuiteCounts) {
    let suite = suite_name(env);
    let mut counts = SuiteCounts::default();
    let mut cases = String::with_capacity(1024 + env.counts.containers * 160);

    testcase(&mut cases, &mut counts, &format!("{suite}.(input)"), &env.source, input_verdict(env));
    for host in &env.hosts {
        let class = format!("{suite}.{}", host.name.replace('.', "_"));
        testcase(&mut cases, &mut counts, &class, "(host reachable)", host_verdict(env, host));
        for c in &host.containers {
            let verdict = c.problem.then(|| {
                let (kind, message) = container_problem(c);
                let mut details = format!("status: {}\nimage: {}\nhost: {}\n", c.status, image_ref(c), host.name);
                if let Some(reason) = &c.detail().reason {
                    let _ = writeln!(details, "reason: {reason}");
                }
                if let Some(since) = c.detail().since {
                    let _ = writeln!(details, "since: {since}");
                }
                forensics(&mut details, c);
                let _ = write!(details, "environment: {}\npage: {}", env.name, env.page);
                Verdict::problem(c.detail().known.as_deref(), kind.to_owned(), message, details)
            });
            testcase(&mut cases, &mut counts, &class, &c.name, verdict);
        }
    }

    let mut out = String::with_capacity(cases.len() + 1024);
    attr(&mut out, "name", suite);
    attr(&mut out, "package", suite);
    attr(&mut out, "timestamp", &run.junit_timestamp);
    attr(&mut out, "hostname", &run.hostname);
    let _ = write!(
        out,
        " tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"0\">\n    <properties>\n",
        counts.tests, counts.failures, counts.errors, counts.skipped
    );
    let layout = env.layout.map(word);
    let data_time = env.data_time.map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string());
    let properties = [
        ("source", Some(env.source.as_str())),
        ("status", Some(env.status.as_str())),
        ("page", Some(&env.page)),
        ("layout", layout.as_deref()),
        ("group", env.group.as_deref()),
        ("data_time", data_time.as_deref()),
    ];
    for (name, value) in properties {
        if let Some(value) = value {
            let _ = write!(out, "      <property name=\"{name}\"");
            attr(&mut out, "value", value);
            out.push_str("/>\n");
        }
    }
    out.push_str("    </properties>\n");
    out.push_str(&cases);
    let c = &env.counts;
    out.push_str("    <system-out>");
    xml_text(
        &mut out,
        &format!(
            "{} hosts, {} containers, {} problems, {} hosts not reporting, {} known issues, {} unreadable lines",
            c.hosts, c.containers, c.problems, c.unreachable, c.known, c.warnings
        ),
    );
    out.push_str("</system-out>\n    <system-err>");
    let mut warnings = env.warnings.join("\n");
    if c.warnings > env.warnings.len() {
        let _ = write!(warnings, "\n… and {} more unreadable lines", c.warnings - env.warnings.len());
    }
    xml_text(&mut out, &warnings);
    out.push_str("</system-err>\n  </testsuite>\n");
    (out.into_bytes(), counts)
}

/// What `docker inspect` and `docker logs` told of a problem container, for a
/// failure's body: the facts behind its reason, then its last log lines.
fn forensics(out: &mut String, c: &Container) {
    if let Some(count) = c.inspect().restart_count {
        let _ = writeln!(out, "restart count: {count}");
    }
    if !c.inspect().restart_policy.is_empty() {
        let _ = writeln!(out, "restart policy: {}", c.inspect().restart_policy);
    }
    if c.inspect().oom_killed {
        out.push_str("out of memory: killed by the kernel\n");
    }
    if let Some(t) = c.inspect().started_at {
        let _ = writeln!(out, "started at: {t}");
    }
    if let Some(t) = c.detail().finished_at {
        let _ = writeln!(out, "finished at: {t}");
    }
    for (what, text) in
        [("engine error", c.detail().error.as_str()), ("health check", c.detail().health_output.as_str())]
    {
        if !text.is_empty() {
            let _ = writeln!(out, "{what}: {}", text.trim());
        }
    }
    if !c.detail().logs.is_empty() {
        let _ = writeln!(out, "last log lines:\n{}", c.detail().logs.as_str().trim_end());
    }
}

/// The input file's test: an error when it could not be used, a failure when its
/// data is stale.
fn input_verdict(env: &Environment) -> Option<Verdict> {
    let details = format!("environment: {}\nfile: {}\nstatus: {}", env.name, env.source, env.status.as_str());
    if let Some(why) = &env.error {
        return Some(Verdict { outcome: Outcome::Error, kind: "unreadable".to_owned(), message: why.clone(), details });
    }
    env.stale.then(|| {
        let mut message = "the data is stale".to_owned();
        if let Some(t) = env.data_time {
            let _ = write!(message, ": gathered at {t}");
        }
        if let Some(age) = env.age_seconds {
            let _ = write!(message, ", {} minutes before this run", age / 60);
        }
        Verdict { outcome: Outcome::Failure, kind: "stale".to_owned(), message, details }
    })
}

fn host_verdict(env: &Environment, host: &Host) -> Option<Verdict> {
    if host.reach == Reach::Ok {
        return None;
    }
    let kind = word(host.reach);
    let mut message = format!("host {}", kind.replace('_', " "));
    if let Some(detail) = &host.detail {
        let _ = write!(message, ": {detail}");
    }
    let details = format!("host: {}\nenvironment: {}\npage: {}", host.name, env.name, env.page);
    Some(Verdict::problem(host.known.as_deref(), kind, message, details))
}

// ---------------------------------------------------------------------------
// Prometheus

/// The metric families, all gauges. Each is written once, with all its samples together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    LastRun,
    Environments,
    ContainerUp,
    ContainerProblem,
    ContainerKnownIssue,
    ContainerState,
    ContainerExitCode,
    ContainerRestarts,
    ContainerOomKilled,
    HostUp,
    EnvironmentStatus,
    EnvironmentHosts,
    EnvironmentContainers,
    EnvironmentProblems,
    EnvironmentUnreachable,
    EnvironmentMissing,
    EnvironmentKnownIssues,
    EnvironmentDataTime,
    ParseWarnings,
    NotifyOk,
    NotifyPending,
    NotifyFailures,
    NotifyLastDelivered,
}

impl Family {
    /// The families each environment adds samples to, in the order they are written.
    const PER_ENVIRONMENT: [Family; 17] = [
        Family::ContainerUp,
        Family::ContainerProblem,
        Family::ContainerKnownIssue,
        Family::ContainerState,
        Family::ContainerExitCode,
        Family::ContainerRestarts,
        Family::ContainerOomKilled,
        Family::HostUp,
        Family::EnvironmentStatus,
        Family::EnvironmentHosts,
        Family::EnvironmentContainers,
        Family::EnvironmentProblems,
        Family::EnvironmentUnreachable,
        Family::EnvironmentMissing,
        Family::EnvironmentKnownIssues,
        Family::EnvironmentDataTime,
        Family::ParseWarnings,
    ];

    fn name(self) -> &'static str {
        match self {
            Family::LastRun => "envdash_last_run_timestamp_seconds",
            Family::Environments => "envdash_environments",
            Family::ContainerUp => "envdash_container_up",
            Family::ContainerProblem => "envdash_container_problem",
            Family::ContainerKnownIssue => "envdash_container_known_issue",
            Family::ContainerState => "envdash_container_state",
            Family::ContainerExitCode => "envdash_container_exit_code",
            Family::ContainerRestarts => "envdash_container_restarts_total",
            Family::ContainerOomKilled => "envdash_container_oom_killed",
            Family::HostUp => "envdash_host_up",
            Family::EnvironmentStatus => "envdash_environment_status",
            Family::EnvironmentHosts => "envdash_environment_hosts",
            Family::EnvironmentContainers => "envdash_environment_containers",
            Family::EnvironmentProblems => "envdash_environment_problems",
            Family::EnvironmentUnreachable => "envdash_environment_unreachable_hosts",
            Family::EnvironmentMissing => "envdash_environment_missing_containers",
            Family::EnvironmentKnownIssues => "envdash_environment_known_issues",
            Family::EnvironmentDataTime => "envdash_environment_data_timestamp_seconds",
            Family::ParseWarnings => "envdash_parse_warnings",
            Family::NotifyOk => "envdash_notify_ok",
            Family::NotifyPending => "envdash_notify_pending_changes",
            Family::NotifyFailures => "envdash_notify_consecutive_failures",
            Family::NotifyLastDelivered => "envdash_notify_last_delivered_timestamp_seconds",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Family::LastRun => "When envdash last rendered the dashboard, in seconds since the epoch.",
            Family::Environments => "Environments by status.",
            Family::ContainerUp => "1 when the container is running (healthy or not), else 0.",
            Family::ContainerProblem => {
                "1 when the container is a problem no known issue explains: not running, unhealthy, missing or crash-looping."
            }
            Family::ContainerKnownIssue => {
                "1 for a problem container that a known issue explains (only those are listed)."
            }
            Family::ContainerState => "Always 1; the state and health labels say what the container is doing.",
            Family::ContainerExitCode => {
                "The exit code of an exited container, or the last one of a restarting container (only those are listed)."
            }
            Family::ContainerRestarts => {
                "Restarts by the container's restart policy, as the engine counts them (RestartCount; only containers gathered with docker inspect)."
            }
            Family::ContainerOomKilled => {
                "1 when the container's last exit was the kernel's out-of-memory kill, else 0 (only containers gathered with docker inspect)."
            }
            Family::HostUp => {
                "1 when the host answered docker ps; 0 when it was unreachable, had no Docker or was missing."
            }
            Family::EnvironmentStatus => {
                "Always 1; the status label is ok, problem, known, stale or unknown; page is the environment's page in the site."
            }
            Family::EnvironmentHosts => "Hosts listed for the environment.",
            Family::EnvironmentContainers => "Containers listed for the environment.",
            Family::EnvironmentProblems => "Problem containers of the environment that no known issue explains.",
            Family::EnvironmentUnreachable => {
                "Hosts of the environment that did not report and no known issue explains."
            }
            Family::EnvironmentMissing => "Containers the configuration expects that the environment did not report.",
            Family::EnvironmentKnownIssues => "Problems of the environment that a known issue explains.",
            Family::EnvironmentDataTime => "When the environment's listing was gathered, in seconds since the epoch.",
            Family::ParseWarnings => "Lines of the environment's file that could not be read.",
            Family::NotifyOk => {
                "1 when the notifier's last delivery worked (or it had nothing to send), 0 when it failed."
            }
            Family::NotifyPending => "Changes waiting to be delivered by the notifier on the next run.",
            Family::NotifyFailures => "Runs in a row whose delivery to the notifier failed.",
            Family::NotifyLastDelivered => "When the notifier last delivered a message, in seconds since the epoch.",
        }
    }
}

fn family_header(out: &mut String, family: Family) {
    // The engine's restart count only grows (until the container is recreated).
    let kind = if family == Family::ContainerRestarts { "counter" } else { "gauge" };
    let _ = writeln!(out, "# HELP {} {}\n# TYPE {} {kind}", family.name(), family.help(), family.name());
}

/// Escapes a label value for the text exposition format: backslash, double quote
/// and line feed are escaped; everything else is UTF-8 as it is.
pub fn prom_label_value(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn sample(out: &mut String, family: Family, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(family.name());
    out.push('{');
    for (i, (name, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"");
        prom_label_value(out, v);
        out.push('"');
    }
    let _ = writeln!(out, "}} {value}");
}

// Series must be unique in a textfile (node_exporter rejects the whole file
// otherwise), but one listing may name a container twice.
use crate::model::unique_label as unique;

/// One environment's samples, one buffer per entry of [`Family::PER_ENVIRONMENT`].
fn metrics(env: &Environment) -> Vec<Vec<u8>> {
    let mut parts: Vec<String> = vec![String::new(); Family::PER_ENVIRONMENT.len()];
    let mut emit = |family: Family, labels: &[(&str, &str)], value: &dyn std::fmt::Display| {
        let i = Family::PER_ENVIRONMENT.iter().position(|&f| f == family).expect("a per-environment family");
        sample(&mut parts[i], family, labels, value);
    };
    let e = env.name.as_str();
    let mut hosts_seen = HashSet::new();
    for host in &env.hosts {
        let h = unique(&mut hosts_seen, &host.name);
        emit(Family::HostUp, &[("env", e), ("host", &h)], &u8::from(host.reach == Reach::Ok));
        let mut seen = HashSet::new();
        for c in &host.containers {
            let name = unique(&mut seen, &c.name);
            let id = [("env", e), ("host", h.as_str()), ("container", name.as_str())];
            let image = image_ref(c);
            let [env_label, host_label, container_label] = id;
            let with_image = [env_label, host_label, container_label, ("image", image.as_str())];
            emit(Family::ContainerUp, &with_image, &u8::from(c.state == State::Running));
            emit(Family::ContainerProblem, &id, &u8::from(c.new_problem()));
            if c.problem && c.detail().known.is_some() {
                emit(Family::ContainerKnownIssue, &id, &1);
            }
            let state =
                [env_label, host_label, container_label, ("state", c.state.as_str()), ("health", c.health.as_str())];
            emit(Family::ContainerState, &state, &1);
            if let Some(code) = c.exit_code {
                emit(Family::ContainerExitCode, &id, &code);
            }
            if let Some(count) = c.inspect().restart_count {
                emit(Family::ContainerRestarts, &id, &count);
                emit(Family::ContainerOomKilled, &id, &u8::from(c.inspect().oom_killed));
            }
        }
    }
    let c = &env.counts;
    // `page`: the environment's page in the site, for links from alerts and panels.
    emit(Family::EnvironmentStatus, &[("env", e), ("status", env.status.as_str()), ("page", &env.page)], &1);
    let per_env = [
        (Family::EnvironmentHosts, c.hosts),
        (Family::EnvironmentContainers, c.containers),
        (Family::EnvironmentProblems, c.problems),
        (Family::EnvironmentUnreachable, c.unreachable),
        (Family::EnvironmentMissing, c.missing),
        (Family::EnvironmentKnownIssues, c.known),
        (Family::ParseWarnings, c.warnings),
    ];
    for (family, value) in per_env {
        emit(family, &[("env", e)], &value);
    }
    if let Some(t) = env.data_time {
        emit(Family::EnvironmentDataTime, &[("env", e)], &t.as_second());
    }
    parts.into_iter().map(String::into_bytes).collect()
}

/// Each notifier's standing: whether its last delivery worked, what waits, and
/// when it last got a message through.
fn notify_metrics(out: &mut String, notifiers: &[NotifierStatus]) {
    if notifiers.is_empty() {
        return;
    }
    let families = [Family::NotifyOk, Family::NotifyPending, Family::NotifyFailures, Family::NotifyLastDelivered];
    for family in families {
        family_header(out, family);
        for n in notifiers {
            let kind =
                serde_json::to_value(n.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let labels = [("notifier", n.name.as_str()), ("kind", kind.as_str())];
            match family {
                Family::NotifyOk => sample(out, family, &labels, u8::from(n.ok)),
                Family::NotifyPending => sample(out, family, &labels, n.pending),
                Family::NotifyFailures => sample(out, family, &labels, n.failures),
                _ => {
                    if let Some(t) = n.last_delivered {
                        sample(out, family, &labels, t.as_second());
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Badges

/// A shields.io endpoint badge (<https://shields.io/badges/endpoint-badge>) with
/// the environment's status in the colours of the master page.
fn badge(env: &Environment) -> Vec<u8> {
    let c = &env.counts;
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let (message, color) = match env.status {
        EnvStatus::Ok => ("ok".to_owned(), "brightgreen"),
        EnvStatus::Problem => (count(c.problems + c.unreachable, "problem"), "red"),
        EnvStatus::Known => (count(c.known, "known issue"), "yellow"),
        EnvStatus::Stale => ("stale".to_owned(), "orange"),
        EnvStatus::Unknown => ("unknown".to_owned(), "lightgrey"),
    };
    let json = serde_json::json!({"schemaVersion": 1, "label": env.name, "message": message, "color": color});
    let mut bytes = serde_json::to_vec(&json).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The badges folder is envdash's own (`badges` is never a page name), so every
/// `*.json` there that this run did not write belongs to an environment that is gone.
fn remove_stale_badges(dir: &Path, written: &HashSet<String>) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = name.ends_with(".json") && !name.starts_with('.') && !written.contains(&name);
        if stale && entry.file_type().is_ok_and(|t| t.is_file()) && fs::remove_file(entry.path()).is_ok() {
            log::info!("removed {}, whose environment is gone", entry.path().display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Layout;

    fn esc(f: fn(&mut String, &str), s: &str) -> String {
        let mut out = String::new();
        f(&mut out, s);
        out
    }

    #[test]
    fn xml_text_escapes_markup_and_replaces_forbidden_characters() {
        assert_eq!(esc(xml_text, "a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(esc(xml_text, "\"quoted\" 'x'"), "\"quoted\" 'x'");
        assert_eq!(esc(xml_text, "line\nnext\ttab\r"), "line\nnext\ttab&#13;");
        assert_eq!(esc(xml_text, "nul\u{0} bell\u{7} esc\u{1b}"), "nul\u{FFFD} bell\u{FFFD} esc\u{FFFD}");
        assert_eq!(esc(xml_text, "\u{FFFE}\u{FFFF}"), "\u{FFFD}\u{FFFD}");
        assert_eq!(esc(xml_text, "é ü 日本 🐳 \u{7f}\u{85}"), "é ü 日本 🐳 \u{7f}\u{85}");
        assert_eq!(esc(xml_text, "]]>"), "]]&gt;");
    }

    #[test]
    fn xml_attr_also_escapes_quotes_and_whitespace_a_parser_would_fold() {
        assert_eq!(esc(xml_attr, "a\"b\nc<d>&é"), "a&quot;b&#10;c&lt;d&gt;&amp;é");
        assert_eq!(esc(xml_attr, "tab\there\r\n"), "tab&#9;here&#13;&#10;");
        assert_eq!(esc(xml_attr, "it's"), "it's");
        assert_eq!(esc(xml_attr, "\u{1}"), "\u{FFFD}");
    }

    #[test]
    fn prometheus_label_values_escape_backslash_quote_and_newline() {
        assert_eq!(esc(prom_label_value, r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(esc(prom_label_value, "x\ny"), "x\\ny");
        assert_eq!(esc(prom_label_value, "<é>&\t"), "<é>&\t");
    }

    fn env(hosts: Vec<Host>, error: Option<&str>) -> Environment {
        let mut env = Environment::new("qa", "qa.html", "qa.txt");
        env.layout = Some(Layout::Legacy);
        env.error = error.map(str::to_owned);
        env.hosts = hosts;
        env.finish();
        env
    }

    fn host(name: &str, containers: &[(&str, &str)]) -> Host {
        let mut h = Host::new(name);
        h.containers = containers.iter().map(|(n, s)| Container::from_row(n, s, "app:1", None)).collect();
        h
    }

    fn run() -> Run {
        Run { junit_timestamp: "2026-11-25T16:30:00".into(), epoch_seconds: 0, hostname: "ci".into() }
    }

    fn suite(e: &Environment) -> (String, SuiteCounts) {
        let (xml, counts) = junit_suite(e, &run());
        (String::from_utf8(xml).unwrap(), counts)
    }

    #[test]
    fn junit_has_one_test_per_input_host_and_container() {
        let mut down = Host::new("db.qa.example.io");
        down.reach = Reach::Unreachable;
        down.detail = Some("ssh: timed out".into());
        let app = host("app-1.qa.example.io", &[("web", "Up 2 days"), ("job", "Exited (137) 1 hour ago")]);
        let (xml, counts) = suite(&env(vec![app, down], None));
        assert_eq!(counts, SuiteCounts { tests: 5, failures: 2, errors: 0, skipped: 0 });
        assert!(xml.starts_with(r#" name="qa" package="qa" timestamp="2026-11-25T16:30:00" hostname="ci""#), "{xml}");
        assert!(xml.contains(r#"tests="5" failures="2" errors="0" skipped="0" time="0">"#), "{xml}");
        assert!(xml.contains(r#"<testcase classname="qa.app-1_qa_example_io" name="web" time="0"/>"#), "{xml}");
        let exited =
            r#"<failure type="exited" message="exited, exit code 137: killed (SIGKILL), often out of memory">"#;
        assert!(xml.contains(exited), "{xml}");
        assert!(xml.contains(r#"<failure type="unreachable" message="host unreachable: ssh: timed out">"#), "{xml}");
        assert!(xml.contains(r#"<testcase classname="qa.(input)" name="qa.txt" time="0"/>"#), "{xml}");
    }

    #[test]
    fn junit_reports_an_unreadable_file_as_an_error() {
        let (xml, counts) = suite(&env(vec![], Some("the file is empty")));
        assert_eq!(counts, SuiteCounts { tests: 1, failures: 0, errors: 1, skipped: 0 });
        assert!(xml.contains(r#"<error type="unreadable" message="the file is empty">"#), "{xml}");
    }

    #[test]
    fn junit_skips_problems_a_known_issue_explains() {
        let mut h = host("h", &[("job", "Exited (1) 1 hour ago"), ("gone", "")]);
        h.containers[0].detail_mut().known = Some("batch job, stops by design".into());
        h.containers[1] = Container::missing("gone");
        let (xml, counts) = suite(&env(vec![h], None));
        assert_eq!(counts, SuiteCounts { tests: 4, failures: 1, errors: 0, skipped: 1 });
        assert!(xml.contains(r#"<skipped type="exited" message="known issue: batch job, stops by design">"#), "{xml}");
        assert!(xml.contains(r#"<failure type="missing" message="expected but not reported">"#), "{xml}");
    }

    #[test]
    fn container_problems_in_words() {
        let c = Container::from_row("api", "Up 3 weeks (unhealthy)", "i:1", None);
        assert_eq!(container_problem(&c), ("unhealthy", "running but unhealthy".to_owned()));
        let c = Container::from_row("api", "Restarting (42) 5 seconds ago", "i:1", None);
        assert_eq!(container_problem(&c), ("restarting", "restarting, exit code 42".to_owned()));
        let mut c = Container::from_row("api", "Up 2 minutes", "i:1", None);
        (c.detail_mut().crash_loop, c.problem) = (true, true);
        c.detail_mut().restarts = 4;
        assert_eq!(
            container_problem(&c),
            ("crash_loop", "running, but crash-looping: restarted 4 times recently".to_owned())
        );
    }

    fn family(parts: &[Vec<u8>], f: Family) -> String {
        String::from_utf8(parts[Family::PER_ENVIRONMENT.iter().position(|&g| g == f).unwrap()].clone()).unwrap()
    }

    #[test]
    fn metrics_are_grouped_by_family_and_series_are_unique() {
        let parts = metrics(&env(vec![host("h", &[("web", "Up 2 days"), ("web", "Exited (1) 1 hour ago")])], None));
        assert_eq!(parts.len(), Family::PER_ENVIRONMENT.len());
        assert_eq!(
            family(&parts, Family::ContainerUp),
            "envdash_container_up{env=\"qa\",host=\"h\",container=\"web\",image=\"app:1\"} 1\n\
             envdash_container_up{env=\"qa\",host=\"h\",container=\"web (2)\",image=\"app:1\"} 0\n"
        );
        assert_eq!(
            family(&parts, Family::ContainerExitCode),
            "envdash_container_exit_code{env=\"qa\",host=\"h\",container=\"web (2)\"} 1\n"
        );
        assert_eq!(
            family(&parts, Family::ContainerState),
            "envdash_container_state{env=\"qa\",host=\"h\",container=\"web\",state=\"running\",health=\"none\"} 1\n\
             envdash_container_state{env=\"qa\",host=\"h\",container=\"web (2)\",state=\"exited\",health=\"none\"} 1\n"
        );
        assert_eq!(
            family(&parts, Family::EnvironmentStatus),
            "envdash_environment_status{env=\"qa\",status=\"problem\",page=\"qa.html\"} 1\n"
        );
        assert_eq!(family(&parts, Family::EnvironmentProblems), "envdash_environment_problems{env=\"qa\"} 1\n");
        assert_eq!(family(&parts, Family::ContainerKnownIssue), "");
    }

    #[test]
    fn every_family_is_listed_once() {
        let mut names: Vec<&str> =
            Family::PER_ENVIRONMENT.iter().chain(&[Family::LastRun, Family::Environments]).map(|f| f.name()).collect();
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all);
        assert!(names.iter().all(|n| n.starts_with("envdash_")));
        // Prometheus' conventions: counters end in `_total`, gauges never do.
        for f in Family::PER_ENVIRONMENT {
            let mut header = String::new();
            family_header(&mut header, f);
            assert_eq!(header.contains("counter"), f.name().ends_with("_total"), "{header}");
        }
    }

    #[test]
    fn badges_show_the_status_in_its_colour() {
        let json = |e: &Environment| serde_json::from_slice::<serde_json::Value>(&badge(e)).unwrap();
        let ok = env(vec![host("h", &[("web", "Up 2 days")])], None);
        assert_eq!(
            json(&ok),
            serde_json::json!({"schemaVersion": 1, "label": "qa", "message": "ok", "color": "brightgreen"})
        );
        let bad = env(vec![host("h", &[("a", "Exited (1) 1 hour ago"), ("b", "Dead")])], None);
        assert_eq!((json(&bad)["message"].as_str(), json(&bad)["color"].as_str()), (Some("2 problems"), Some("red")));
        let unknown = env(vec![], Some("empty"));
        assert_eq!(
            (json(&unknown)["message"].as_str(), json(&unknown)["color"].as_str()),
            (Some("unknown"), Some("lightgrey"))
        );
        let mut h = host("h", &[("a", "Exited (1) 1 hour ago")]);
        h.containers[0].detail_mut().known = Some("planned".into());
        let known = env(vec![h], None);
        assert_eq!(
            (json(&known)["message"].as_str(), json(&known)["color"].as_str()),
            (Some("1 known issue"), Some("yellow"))
        );
    }

    #[test]
    fn image_references_read_as_docker_writes_them() {
        let c = |image: &str| image_ref(&Container::from_row("x", "Up 1 second", image, None));
        assert_eq!(c("nginx:1.25"), "nginx:1.25");
        assert_eq!(c("registry:5000/app"), "registry:5000/app:latest");
        assert_eq!(c("app@sha256:abcd"), "app@sha256:abcd");
        assert_eq!(c("0123456789ab"), "0123456789ab");
    }
}
