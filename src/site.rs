//! The render pipeline: discover input files → parse each in parallel → write its
//! page → write `status.json` → write `index.html` last, so the master page never
//! links to a page that is not there yet.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use jiff::tz::TimeZone;
use rayon::prelude::*;

use crate::config::RenderConfig;
use crate::discover::{InputFile, discover, slugs};
use crate::model::{Counts, EnvStatus, Environment};
use crate::output::{replace_manifest, write_atomic};
use crate::parse::parse_file;
use crate::render::{Common, EnvSummary, IndexPage, Templates, Totals, env_page};

/// What a render produced.
#[derive(Debug)]
pub struct RenderReport {
    pub out: PathBuf,
    /// Sorted by name.
    pub environments: Vec<EnvSummary>,
    pub totals: Totals,
}

impl RenderReport {
    /// One line for people: `rendered 10 environments (2 problem, 1 unknown) …`.
    pub fn summary_line(&self) -> String {
        let t = &self.totals;
        format!(
            "rendered {} environment{} ({} ok, {} problem, {} unknown; {} of {} containers not running) into {}",
            t.environments,
            if t.environments == 1 { "" } else { "s" },
            t.ok,
            t.problem,
            t.unknown,
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
    std::fs::create_dir_all(&cfg.out)
        .with_context(|| format!("cannot create the output folder {}", cfg.out.display()))?;
    let common = common(cfg);
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let pages: Vec<String> = slugs(&names).into_iter().map(|s| s + ".html").collect();

    // Environments are handled in chunks: parsed and rendered in parallel, then their
    // JSON appended to status.json in name order. Only one chunk's data is in memory.
    let status_path = cfg.out.join("status.json");
    let mut summaries = Vec::with_capacity(files.len());
    write_atomic(&status_path, |json| {
        write!(
            json,
            "{{\"generated_at\":\"{}\",\"generator\":\"envdash {}\",\"environments\":[",
            common.generated_at, common.version
        )?;
        let chunk = rayon::current_num_threads() * 8;
        let jobs: Vec<(&InputFile, &String)> = files.iter().zip(&pages).collect();
        for part in jobs.chunks(chunk) {
            let done: Vec<Result<(EnvSummary, Vec<u8>)>> = part
                .par_iter()
                .map(|(file, page)| {
                    let env = Arc::new(load_environment(file, page));
                    write_atomic(&cfg.out.join(&env.page), |w| {
                        templates.render("env.html", env_page(&common, &env), w)
                    })?;
                    let mut json = Vec::with_capacity(4096 + env.counts.containers * 200);
                    serde_json::to_writer(&mut json, &*env)?;
                    Ok((EnvSummary::of(&env), json))
                })
                .collect();
            for result in done {
                let (summary, bytes) = result?;
                if !summaries.is_empty() {
                    json.write_all(b",")?;
                }
                json.write_all(b"\n")?;
                json.write_all(&bytes)?;
                summaries.push(summary);
            }
        }
        let totals = Totals::of(&summaries);
        write!(json, "\n],\"totals\":{}}}\n", serde_json::to_string(&totals)?)?;
        Ok(())
    })?;
    write_atomic(&cfg.out.join("index.html"), |w| {
        templates.render("index.html", IndexPage::new(&common, &summaries), w)
    })?;
    let mut written: Vec<String> = pages;
    written.extend(["status.json".to_owned(), "index.html".to_owned()]);
    replace_manifest(&cfg.out, &written)?;
    let totals = Totals::of(&summaries);
    Ok(RenderReport { out: cfg.out.clone(), environments: summaries, totals })
}

fn common(cfg: &RenderConfig) -> Common {
    let now = cfg.now.round(jiff::Unit::Second).unwrap_or(cfg.now);
    Common {
        title: cfg.title.clone(),
        version: env!("CARGO_PKG_VERSION"),
        generated_at: now.to_string(),
        generated_display: now.to_zoned(TimeZone::UTC).strftime("%Y-%m-%d %H:%M UTC").to_string(),
        refresh_seconds: cfg.refresh_seconds,
    }
}

/// Reads and parses one file. Never fails: what goes wrong is in the environment.
pub fn load_environment(file: &InputFile, page: &str) -> Environment {
    let mut env = Environment {
        name: file.name.clone(),
        page: page.to_owned(),
        source: file.rel.clone(),
        status: EnvStatus::Unknown,
        counts: Counts::default(),
        layout: None,
        error: None,
        warnings: Vec::new(),
        hosts: Vec::new(),
    };
    match std::fs::read(&file.path) {
        Err(e) => env.error = Some(format!("cannot read {}: {e}", file.path.display())),
        Ok(bytes) => {
            let parsed = parse_file(&bytes);
            env.layout = parsed.layout;
            env.hosts = parsed.hosts;
            env.error = parsed.error;
            env.counts.warnings = parsed.warning_count;
            env.warnings = parsed.warnings.iter().map(|(line, why)| format!("{}:{line}: {why}", file.rel)).collect();
            report(&file.path, &parsed.warnings, parsed.warning_count);
        }
    }
    if let Some(e) = &env.error {
        log::warn!("{}: {e}; environment {:?} is shown as unknown", file.path.display(), env.name);
    }
    env.finish();
    env
}

/// Warnings go to stderr with the path as given, so they can be opened from there.
fn report(path: &Path, warnings: &[(usize, String)], total: usize) {
    for (line, why) in warnings {
        log::warn!("{}:{line}: {why}", path.display());
    }
    if total > warnings.len() {
        log::warn!("{}: {} more unreadable lines not listed", path.display(), total - warnings.len());
    }
}
