//! The render pipeline: discover input files → write the assets the pages load
//! (`assets/`) → parse each file in parallel → write its page → write
//! `status.json` → write `index.html` last, so the master page never links to a
//! page that is not there yet.

use std::collections::HashSet;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rayon::prelude::*;

use crate::alert::{self, feed::FEED, feed::INCIDENTS_PAGE, state::STATE_FILE};
use crate::config::RenderConfig;
use crate::discover::{InputFile, discover, slugs};
use crate::history::{EnvHistory, HistoryWriter};
use crate::model::Environment;
use crate::monitor::Monitor;
use crate::output::{MANIFEST, SiteLock, Staging, carry_foreign_files, write_file, write_manifest};
use crate::parse::parse_blocks;
use crate::readfile::read_input;
use crate::render::{Common, EnvSummary, IndexPage, Templates, Totals, env_page, incidents_page, versions_page};
use crate::reports::{BADGES_DIR, Fragments, Parts, Reports};
use crate::uptime::Segments;
use crate::versions::{self, EnvVersions};
use crate::view::MatrixPages;

/// What a render produced.
#[derive(Debug)]
pub struct RenderReport {
    pub out: PathBuf,
    /// Sorted by name.
    pub environments: Vec<EnvSummary>,
    pub totals: Totals,
    /// The output folder stays locked while the report lives, so that `run` can
    /// publish the site it rendered before another run swaps in a newer one.
    pub lock: SiteLock,
    /// What became of this run's alerts.
    pub deliveries: Vec<alert::deliver::Delivery>,
}

impl RenderReport {
    /// One line for people: `rendered 10 environments (2 problem, 1 unknown) …`.
    pub fn summary_line(&self) -> String {
        let t = &self.totals;
        let mut verdicts = format!("{} ok, {} problem, {} unknown", t.ok, t.problem, t.unknown);
        for (n, word) in [(t.stale, "stale"), (t.known, "known")] {
            if n > 0 {
                verdicts.push_str(&format!(", {n} {word}"));
            }
        }
        format!(
            "rendered {} environment{} ({verdicts}; {} of {} containers not running) into {}",
            t.environments,
            if t.environments == 1 { "" } else { "s" },
            t.problems,
            t.containers,
            self.out.display()
        )
    }
}

/// Renders the whole site described by `cfg`.
pub fn render_site(cfg: &RenderConfig) -> Result<RenderReport> {
    let (files, walk_warnings) = discover(&cfg.input)?;
    for w in &walk_warnings {
        log::warn!("{w}");
    }
    if files.is_empty() {
        log::warn!("no *.txt environment files under {}: the master page will say so", cfg.input.display());
    }
    let templates = Templates::load(cfg.templates.as_deref())?;
    let monitor = Monitor::new(cfg.settings.clone(), cfg.now)?;
    // The new site is built beside the old one and swapped in at the end: a run
    // that fails or is killed leaves the previous site whole.
    let lock = SiteLock::acquire(&cfg.out)?;
    let staging = Staging::create(&cfg.out)?;
    let site = staging.path();
    // Alerting keeps its state there too, with or without environment history.
    let dir = site.join(HISTORY_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the history folder {}", dir.display()))?;
    let common = common(cfg, &monitor, &templates);
    // The files the pages load, before any page.
    let assets = write_assets(site, &templates)?;
    let mut reports = Reports::start(cfg, site)?;
    let before = alert::before(&cfg.settings, staging.target(), cfg.now)?;
    let job = Job {
        cfg,
        templates: &templates,
        monitor: &monitor,
        common: &common,
        site,
        previous: staging.target(),
        alerts: &before,
    };
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let pages: Vec<String> = slugs(&names).into_iter().map(|s| s + ".html").collect();

    // Environments are handled in chunks: parsed and rendered in parallel, then their
    // JSON appended to status.json in name order. At most three chunks' data are in
    // memory (see below).
    let status_path = site.join("status.json");
    let mut summaries = Vec::with_capacity(files.len());
    let mut versions = Vec::with_capacity(files.len());
    let mut collected = alert::Collected::default();
    let mut histories = Vec::with_capacity(files.len());
    let mut totals = Totals::default();
    let mut alerts = None;
    let mut matrix_pages = 1;
    write_file(&status_path, |json| {
        write!(
            json,
            "{{\"generated_at\":\"{}\",\"generator\":\"envdash {}\",\"stale_after_seconds\":{},\"environments\":[",
            common.generated_at, common.version, common.stale_after_seconds
        )?;
        let chunk = rayon::current_num_threads() * 8;
        let jobs: Vec<(&InputFile, &String)> = files.iter().zip(&pages).collect();
        let parts = reports.parts();
        // The workers render the next chunk while this thread appends the last one's
        // JSON and reports: at most three chunks' results are in memory at once.
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Vec<Result<Rendered>>>(1);
        std::thread::scope(|scope| -> Result<()> {
            let (job, parts) = (&job, &parts);
            scope.spawn(move || {
                for part in jobs.chunks(chunk) {
                    let done = part.par_iter().map(|(file, page)| job.render_environment(parts, file, page)).collect();
                    if done_tx.send(done).is_err() {
                        break; // the writer failed: the run is over
                    }
                }
            });
            // Returning early drops the receiver, which stops the workers after their chunk.
            let done_rx = done_rx;
            for result in done_rx.iter().flatten() {
                let rendered = result?;
                if !summaries.is_empty() {
                    json.write_all(b",")?;
                }
                json.write_all(b"\n")?;
                match rendered.json {
                    Json::Bytes(bytes) => json.write_all(&bytes)?,
                    Json::File(mut file) => {
                        std::io::copy(&mut file, json)?;
                    }
                }
                versions.push((rendered.summary.name.clone(), rendered.versions));
                collected.add(rendered.alerts);
                if rendered.history_written {
                    histories.push(history_file(&rendered.summary.page));
                }
                reports.append(rendered.reports)?;
                summaries.push(rendered.summary);
            }
            Ok(())
        })?;
        let matrix = Arc::new(versions::matrix(std::mem::take(&mut versions), cfg.settings.reference.as_deref()));
        totals = Totals::of(&summaries);
        // Alerts before the master page, which says when notifications fail.
        let started = std::time::Instant::now();
        let run = alert::finish(&cfg.settings, &before, std::mem::take(&mut collected), cfg.notify);
        log::debug!(
            "alerts: {} changes, {} open, {} deliveries in {:.1} ms",
            run.changes,
            run.open,
            run.deliveries.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        let notifiers = alert::notifier_status(&cfg.settings, &run);
        write_alert_files(cfg, &common, &templates, site, &run)?;
        // The matrix's JSON, the versions page and the master page are made at once.
        let ((matrix_json, versions_written), index_written) = rayon::join(
            || {
                rayon::join(
                    || serde_json::to_string(&*matrix),
                    || -> Result<usize> {
                        let paged = MatrixPages::new(matrix.clone());
                        for i in 0..paged.pages.len() {
                            write_file(&site.join(MatrixPages::file_name(i)), |w| {
                                templates.render(VERSIONS_PAGE, versions_page(&common, &paged, i, &summaries), w)
                            })?;
                        }
                        Ok(paged.pages.len())
                    },
                )
            },
            || {
                write_file(&site.join("index.html"), |w| {
                    let page = IndexPage::new(&common, &summaries, totals, &monitor, &notifiers);
                    templates.render("index.html", page, w)
                })
            },
        );
        matrix_pages = versions_written?;
        index_written?;
        write!(json, "\n],\"totals\":{},", serde_json::to_string(&totals)?)?;
        write!(json, "\"notices\":{},", serde_json::to_string(&monitor.notices)?)?;
        write!(json, "\"notifications\":{},", serde_json::to_string(&notifiers)?)?;
        write!(json, "\"open_problems\":{},", run.open)?;
        writeln!(json, "\"versions\":{}}}", matrix_json?)?;
        alerts = Some((run, notifiers));
        Ok(())
    })?;
    let (run, notifiers) = alerts.expect("set when status.json was written");
    reports.finish(&totals, &notifiers)?;
    let mut written: Vec<String> = Vec::with_capacity(pages.len() * 2 + 9);
    written.extend(assets);
    written.append(&mut histories);
    written.extend(pages);
    written.push("status.json".to_owned());
    written.extend((0..matrix_pages).map(MatrixPages::file_name));
    written.push("index.html".to_owned());
    if run.keep {
        written.push(STATE_FILE.to_owned());
    }
    written.extend([INCIDENTS_PAGE.to_owned(), FEED.to_owned()]);
    write_manifest(site, &written)?;
    let mut keep: HashSet<String> = written.into_iter().collect();
    keep.insert(MANIFEST.to_owned());
    keep.extend(carry_foreign_files(staging.target(), site, &[HISTORY_DIR, BADGES_DIR])?);
    // Badges are pruned by the reports, which know which they wrote.
    staging.prune(&keep, &[BADGES_DIR])?;
    staging.commit()?;
    Ok(RenderReport { out: cfg.out.clone(), environments: summaries, totals, lock, deliveries: run.deliveries })
}

/// Writes the stylesheet, script and icon the pages load; returns their paths in
/// the site, for the manifest (and so for publish, which uploads them first).
fn write_assets(site: &Path, templates: &Templates) -> Result<Vec<String>> {
    let mut written = Vec::with_capacity(templates.assets().len());
    for (rel, text) in templates.assets() {
        let path = site.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create the folder {}", dir.display()))?;
        }
        write_file(&path, |w| Ok(w.write_all(text.as_bytes())?))?;
        written.push((*rel).to_owned());
    }
    Ok(written)
}

/// The alert state, `incidents.html` and `feed.xml`.
fn write_alert_files(
    cfg: &RenderConfig,
    common: &Common,
    templates: &Templates,
    site: &Path,
    run: &alert::RunAlerts,
) -> Result<()> {
    if run.keep {
        write_file(&site.join(STATE_FILE), |w| Ok(serde_json::to_writer(w, &run.state)?))?;
    }
    let incidents = alert::feed::views(&run.incidents, cfg.now);
    write_file(&site.join(INCIDENTS_PAGE), |w| {
        templates.render(INCIDENTS_PAGE, incidents_page(common, &incidents, run.incident_count, run.open), w)
    })?;
    let feed = alert::feed::atom(&run.incidents, &cfg.title, cfg.settings.site_url.as_deref(), cfg.now);
    write_file(&site.join(FEED), |w| Ok(w.write_all(feed.as_bytes())?))
}

/// Where each environment's history is kept, inside the site.
const HISTORY_DIR: &str = "history";
const VERSIONS_PAGE: &str = "versions.html";

/// `history/<page stem>.json`, relative to the site.
fn history_file(page: &str) -> String {
    format!("{HISTORY_DIR}/{}.json", page.trim_end_matches(".html"))
}

/// Environments with more containers than this hand their JSON over in a file,
/// and make their outputs on two threads.
const SPOOL_JSON_CONTAINERS: usize = 50_000;

/// An environment's entry of `status.json`.
enum Json {
    Bytes(Vec<u8>),
    File(std::fs::File),
}

/// What one worker hands back for one environment.
struct Rendered {
    summary: EnvSummary,
    versions: EnvVersions,
    /// The environment's entry of `status.json`.
    json: Json,
    /// Its part of the JUnit and metrics files.
    reports: Fragments,
    /// What it says for alerting.
    alerts: alert::EnvAlertsOut,
    /// Its history file was written (with history on, or alerts to keep).
    history_written: bool,
}

/// What every worker shares in one run.
struct Job<'a> {
    cfg: &'a RenderConfig,
    templates: &'a Templates,
    monitor: &'a Monitor,
    common: &'a Common,
    /// The folder the new site is written to.
    site: &'a Path,
    /// The previous site, where history is read from.
    previous: &'a Path,
    /// What alerting knew before the run.
    alerts: &'a alert::Before,
}

impl Job<'_> {
    /// Parses, judges and writes one environment: its page and its history.
    fn render_environment(&self, reports: &Parts, file: &InputFile, page: &str) -> Result<Rendered> {
        let history_file_name = history_file(page);
        // The history file also keeps the environment's alerts, with history on or off.
        // It is read before the environment, while no container is held (a large
        // one's hosts' tracks are left in the file, and read as each is tracked).
        let mut previous = EnvHistory::load(&self.previous.join(&history_file_name), &file.name);
        let mut env = load_environment(file, page);
        let mut alerts = std::mem::take(&mut previous.alerts);
        // Memory is held in turn, not all at once: each host's new tracks are
        // written as soon as it is tracked; the outputs are made from the
        // environment; the environment is let go of; then the alerts are
        // stepped, from what they need of it (`seen`), and end the history file.
        let (history_writer, runs) = if self.cfg.settings.history_runs() > 0 {
            let mut file = HistoryWriter::create(&self.site.join(&history_file_name), &env.name)?;
            let history =
                self.monitor.apply_streaming(&mut env, Some(previous), &mut |name, tracks| file.host(&name, &tracks));
            let history = history.context("internal error: no history was made although history is kept")?;
            file.rest(&history.runs, &history.uptime)?;
            (Some(file), history.runs)
        } else {
            self.monitor.apply(&mut env, None);
            (None, Vec::new())
        };
        let env = Arc::new(env);
        // The outputs only read the environment: a huge one's are made on two threads.
        let huge = env.counts.containers > SPOOL_JSON_CONTAINERS;
        let (written, (json, (reports, versions))) = join_if(
            huge,
            || {
                write_file(&self.site.join(&env.page), |w| {
                    self.templates.render("env.html", env_page(self.common, &env), w)
                })
            },
            || join_if(huge, || self.status_json(&env), || (reports.fragments(&env), versions::of(&env))),
        );
        written?;
        let (json, reports) = (json?, reports?);
        let summary = EnvSummary::of(&env, &runs);
        let seen = alert::observe(&env);
        drop(env);
        alerts.reopen(&summary.page, self.cfg.settings.group_of(&summary.name));
        let kept = (self.cfg.notify == alert::NotifyMode::DryRun).then(|| alerts.clone());
        let mut alerts_out = alert::step(self.alerts, &mut alerts, &seen);
        drop(seen);
        if let Some(kept) = kept {
            // A dry run changes no alert state, and lists no incident it would have made.
            alerts = kept;
            (alerts_out.incidents, alerts_out.incident_count) = alert::listed_incidents(&alerts);
        }
        let history_written = match history_writer {
            Some(file) => {
                file.finish(&alerts)?;
                true
            }
            None if !alerts.is_empty() => {
                // History off: the file keeps only the alerts.
                let mut file = HistoryWriter::create(&self.site.join(&history_file_name), &summary.name)?;
                file.rest(&[], &Segments::default())?;
                file.finish(&alerts)?;
                true
            }
            None => false,
        };
        Ok(Rendered { summary, versions, json, reports, alerts: alerts_out, history_written })
    }

    /// The environment's entry of `status.json`.
    fn status_json(&self, env: &Environment) -> Result<Json> {
        if env.counts.containers > SPOOL_JSON_CONTAINERS {
            // A huge environment's JSON waits in a file, not in memory.
            let mut file = tempfile::tempfile_in(self.site)
                .with_context(|| format!("cannot create a work file in {}", self.site.display()))?;
            let mut w = std::io::BufWriter::new(&mut file);
            serde_json::to_writer(&mut w, env)?;
            w.flush()?;
            drop(w);
            file.seek(std::io::SeekFrom::Start(0))?;
            Ok(Json::File(file))
        } else {
            let mut bytes = Vec::with_capacity(4096 + env.counts.containers * 200);
            serde_json::to_writer(&mut bytes, env)?;
            Ok(Json::Bytes(bytes))
        }
    }
}

/// `(a(), b())`, on two threads when `parallel`. Within the render's parallel
/// loop that only pays for a huge environment, which would otherwise keep one
/// thread busy while the other has nothing left to do.
fn join_if<A: Send, B: Send>(parallel: bool, a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    if parallel { rayon::join(a, b) } else { (a(), b()) }
}

fn common(cfg: &RenderConfig, monitor: &Monitor, templates: &Templates) -> Common {
    let (generated_at, generated_display) = display_time(cfg.now);
    Common {
        title: cfg.title.clone(),
        version: env!("CARGO_PKG_VERSION"),
        generated_at,
        generated_display,
        refresh_seconds: cfg.refresh_seconds,
        assets_version: templates.assets_version().to_owned(),
        stale_after_seconds: monitor.stale_after().map_or(0, |d| d.as_secs()),
    }
}

/// RFC 3339 and `2026-11-25 16:31 UTC`, to the second.
pub fn display_time(t: Timestamp) -> (String, String) {
    let t = t.round(jiff::Unit::Second).unwrap_or(t);
    (t.to_string(), t.to_zoned(TimeZone::UTC).strftime("%Y-%m-%d %H:%M UTC").to_string())
}

/// Reads and parses one file. Never fails: what goes wrong is in the environment.
/// Its counts and verdict are left to [`Monitor::apply`], which runs next.
pub fn load_environment(file: &InputFile, page: &str) -> Environment {
    let mut env = Environment::new(&file.name, page, &file.rel);
    match read_input(&file.path) {
        Err(e) => env.error = Some(format!("cannot read {}: {e}", file.path.display())),
        Ok(snapshot) => {
            let (len, unsettled, modified) = (snapshot.len(), snapshot.unsettled, snapshot.modified);
            let mut parsed = parse_blocks(snapshot.blocks);
            if unsettled {
                parsed.warn_file(format!(
                    "the file changed while it was read (still being written?): read as it was at {} bytes, \
                     up to its last whole line; write it elsewhere and rename it into place",
                    len
                ));
            }
            env.layout = parsed.layout;
            env.hosts = parsed.hosts;
            env.error = parsed.error;
            env.counts.warnings = parsed.warning_count;
            env.warnings =
                parsed.warnings.iter().map(|(line, why)| format!("{}: {why}", at(&file.rel, *line))).collect();
            report(&file.path, &parsed.warnings, parsed.warning_count);
            let modified = modified.and_then(|m| Timestamp::try_from(m).ok());
            env.data_time = parsed.gathered_at.or(modified);
        }
    }
    if let Some(e) = &env.error {
        log::warn!("{}: {e}; environment {:?} is shown as unknown", file.path.display(), env.name);
    }
    env
}

/// `file:line`, or `file` for a warning about the whole file (line 0).
fn at(file: &str, line: usize) -> String {
    if line == 0 { file.to_owned() } else { format!("{file}:{line}") }
}

/// Warnings go to stderr with the path as given, so they can be opened from there.
fn report(path: &Path, warnings: &[(usize, String)], total: usize) {
    for (line, why) in warnings {
        log::warn!("{}: {why}", at(&path.display().to_string(), *line));
    }
    if total > warnings.len() {
        log::warn!("{}: {} more unreadable lines not listed", path.display(), total - warnings.len());
    }
}
