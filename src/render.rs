//! The page templates and the files the pages load (`assets/`): built in with
//! `include_str!`, overridable from a folder, templates always HTML-autoescaped;
//! and the contexts they are rendered with.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use std::sync::Arc;

use md5::{Digest, Md5};
use minijinja::{AutoEscape, Environment as Jinja, Value, context};
use serde::Serialize;

use jiff::Timestamp;

use crate::alert::NotifierStatus;
use crate::alert::feed::IncidentView;
use crate::history::Run;
use crate::model::{Counts, EnvStatus, Environment};
use crate::monitor::{Monitor, Notices};
use crate::site::display_time;
use crate::view::{EnvView, HostList, MatrixPages, Plan};

/// The built-in templates, by name.
const BUILTIN: [(&str, &str); 5] = [
    ("base.html", include_str!("../templates/base.html")),
    ("index.html", include_str!("../templates/index.html")),
    ("env.html", include_str!("../templates/env.html")),
    ("versions.html", include_str!("../templates/versions.html")),
    ("incidents.html", include_str!("../templates/incidents.html")),
];

/// The files every page loads, by their path in the site. Same-origin files, never
/// inline: Jenkins serves archived pages under a Content-Security-Policy that
/// refuses inline styles, scripts and `data:` images.
pub const ASSETS: [(&str, &str); 3] = [
    ("assets/envdash.css", include_str!("../templates/assets/envdash.css")),
    ("assets/envdash.js", include_str!("../templates/assets/envdash.js")),
    ("assets/favicon.svg", include_str!("../templates/assets/favicon.svg")),
];

/// The `utc` filter: an RFC 3339 time as `<time datetime="…">2026-11-25 16:31 UTC</time>`.
/// Text that is not such a time is shown as it is (escaped). A filter, not a
/// template macro: a macro call cost microseconds per problem row.
fn utc(text: &str) -> Value {
    match text.parse::<Timestamp>() {
        Ok(t) => {
            let (iso, shown) = display_time(t);
            Value::from_safe_string(format!("<time datetime=\"{iso}\">{shown}</time>"))
        }
        Err(_) => Value::from(text),
    }
}

/// The compiled templates a run uses, and the assets it writes beside the pages.
pub struct Templates {
    jinja: Jinja<'static>,
    /// `(path in the site, text)`, as [`ASSETS`] or their overrides.
    assets: Vec<(&'static str, String)>,
    /// Eight hex digits of the assets' MD5: pages ask for `assets/…?v=<this>`, so
    /// that a browser or CDN holding an older copy fetches the new one.
    assets_version: String,
}

impl Templates {
    /// Compiles the built-in templates, each replaced by the file of the same name in
    /// `overrides` when there is one. Other `*.html` files there are added too, for
    /// templates to include. The assets are replaced the same way by the files of the
    /// same path (`assets/envdash.css`, …) under `overrides`. Fails on the first
    /// template that does not compile.
    pub fn load(overrides: Option<&Path>) -> Result<Templates> {
        let mut jinja = Jinja::new();
        jinja.set_debug(true);
        // Every value is escaped, whatever the file name; `|safe` is never used on input.
        jinja.set_auto_escape_callback(|_| AutoEscape::Html);
        jinja.add_filter("utc", utc);
        // `99.3 %` from a share; `–` when nothing was counted.
        jinja.add_filter("percent", |v: Option<f64>| crate::uptime::percent(v));
        // `1 h` from seconds.
        jinja.add_filter("span", |s: i64| crate::reason::span(jiff::SignedDuration::from_secs(s)));
        let mut sources: Vec<(String, String, String)> =
            BUILTIN.iter().map(|(n, s)| (n.to_string(), s.to_string(), format!("built-in {n}"))).collect();
        if let Some(dir) = overrides {
            let entries = std::fs::read_dir(dir)
                .with_context(|| format!("cannot read the templates folder {}", dir.display()))?;
            for entry in entries {
                let path = entry.with_context(|| format!("cannot read the templates folder {}", dir.display()))?.path();
                let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
                if !name.ends_with(".html") {
                    continue;
                }
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read the template {}", path.display()))?;
                log::info!("template {name} from {}", path.display());
                let origin = path.display().to_string();
                match sources.iter_mut().find(|(n, _, _)| *n == name) {
                    Some(slot) => *slot = (name, text, origin),
                    None => sources.push((name, text, origin)),
                }
            }
        }
        for (name, text, origin) in sources {
            jinja
                .add_template_owned(name, text)
                .map_err(|e| anyhow!("{e:#}"))
                .with_context(|| format!("the template {origin} does not compile"))?;
        }
        let mut assets = Vec::with_capacity(ASSETS.len());
        let mut md5 = Md5::new();
        for (rel, builtin) in ASSETS {
            let text = match overrides.map(|dir| dir.join(rel)).filter(|p| p.exists()) {
                Some(path) => {
                    log::info!("{rel} from {}", path.display());
                    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?
                }
                None => builtin.to_owned(),
            };
            md5.update(rel.as_bytes());
            md5.update(text.as_bytes());
            assets.push((rel, text));
        }
        let assets_version = crate::publish::hex(&md5.finalize()[..4]);
        Ok(Templates { jinja, assets, assets_version })
    }

    /// The assets to write into the site: `(path in the site, text)`.
    pub fn assets(&self) -> &[(&'static str, String)] {
        &self.assets
    }

    /// What pages add to the assets' addresses (`?v=`): it changes with them.
    pub fn assets_version(&self) -> &str {
        &self.assets_version
    }

    /// Renders template `name` with `ctx` into `out`.
    pub fn render(&self, name: &str, ctx: impl Serialize, out: &mut dyn Write) -> Result<()> {
        let tmpl = self.jinja.get_template(name).map_err(|e| anyhow!("{e:#}"))?;
        tmpl.render_captured_to(ctx, out)
            .map_err(|e| anyhow!("{e:#}"))
            .with_context(|| format!("template {name} failed"))?;
        Ok(())
    }
}

/// What every page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Common {
    pub title: String,
    pub version: &'static str,
    /// RFC 3339, UTC.
    pub generated_at: String,
    /// `2026-11-25 16:31 UTC`.
    pub generated_display: String,
    /// Pages reload every this many seconds when script runs; 0 = never.
    pub refresh_seconds: u32,
    /// See [`Templates::assets_version`].
    pub assets_version: String,
    /// Pages warn their reader when they are older than this; 0 = never.
    pub stale_after_seconds: i64,
}

/// Runs shown in an environment's status strip on the master page.
pub const STRIP_RUNS: usize = 48;

/// One environment as the master page and the run summary need it.
#[derive(Debug, Clone, Serialize)]
pub struct EnvSummary {
    pub name: String,
    pub page: String,
    pub source: String,
    pub status: EnvStatus,
    pub counts: Counts,
    pub error: Option<String>,
    pub group: Option<String>,
    pub stale: bool,
    pub degraded: bool,
    pub data_time: Option<Timestamp>,
    pub age_seconds: Option<i64>,
    /// The last runs' verdicts, oldest first (empty without history).
    pub recent: Vec<Run>,
    /// Its uptime figures (with history).
    pub uptime: Option<crate::uptime::Uptime>,
}

impl EnvSummary {
    /// `runs`: the environment's history, oldest first (this run's last).
    pub fn of(env: &Environment, runs: &[Run]) -> EnvSummary {
        let runs = &runs[runs.len().saturating_sub(STRIP_RUNS)..];
        EnvSummary {
            name: env.name.clone(),
            page: env.page.clone(),
            source: env.source.clone(),
            status: env.status,
            counts: env.counts,
            error: env.error.clone(),
            group: env.group.clone(),
            stale: env.stale,
            degraded: env.degraded,
            data_time: env.data_time,
            age_seconds: env.age_seconds,
            recent: runs.to_vec(),
            uptime: env.uptime,
        }
    }
}

/// Totals across all environments.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Totals {
    pub environments: usize,
    pub ok: usize,
    pub problem: usize,
    pub unknown: usize,
    pub stale: usize,
    pub known: usize,
    pub hosts: usize,
    pub containers: usize,
    pub problems: usize,
    pub unreachable: usize,
    pub warnings: usize,
}

impl Totals {
    pub fn of(envs: &[EnvSummary]) -> Totals {
        let mut t = Totals { environments: envs.len(), ..Totals::default() };
        for e in envs {
            match e.status {
                EnvStatus::Ok => t.ok += 1,
                EnvStatus::Problem => t.problem += 1,
                EnvStatus::Unknown => t.unknown += 1,
                EnvStatus::Stale => t.stale += 1,
                EnvStatus::Known => t.known += 1,
            }
            t.hosts += e.counts.hosts;
            t.containers += e.counts.containers;
            t.problems += e.counts.problems;
            t.unreachable += e.counts.unreachable;
            t.warnings += e.counts.warnings;
        }
        t
    }
}

/// The context of an environment page: the common fields, `env` (see
/// [`crate::view::EnvView`]), `hosts` (those that need attention first), and
/// `page_time`: when the data was gathered. Pages carry the data's time, not
/// the run's, so an environment whose data did not change renders the same bytes
/// (and publish uploads nothing for it).
pub fn env_page(common: &Common, env: &Arc<Environment>) -> Value {
    let (page_time, page_display) = match env.data_time {
        Some(t) => display_time(t),
        None => (common.generated_at.clone(), common.generated_display.clone()),
    };
    let plan = Arc::new(Plan::of(env));
    context! {
        env => Value::from_object(EnvView(env.clone())),
        hosts => Value::from_object(HostList::problems_first(env, &plan)),
        hosts_unlisted => plan.hosts_unlisted(),
        page_rows => crate::view::PAGE_ROWS,
        page_time,
        page_display,
        ..Value::from_serialize(common)
    }
}

/// A master-page section.
#[derive(Serialize)]
pub struct Section<'a> {
    /// `None` when no groups are configured.
    pub name: Option<&'a str>,
    pub environments: Vec<&'a EnvSummary>,
}

#[derive(Serialize)]
pub struct IndexPage<'a> {
    #[serde(flatten)]
    pub common: &'a Common,
    /// Problem environments first, then unknown, stale, known, OK; by name within each.
    pub environments: Vec<&'a EnvSummary>,
    /// The same, in the configured groups (one unnamed section without groups).
    pub sections: Vec<Section<'a>>,
    pub notices: &'a Notices,
    pub totals: Totals,
    /// Each notifier's standing; the page warns when one fails.
    pub notifiers: &'a [NotifierStatus],
}

impl<'a> IndexPage<'a> {
    pub fn new(
        common: &'a Common,
        envs: &'a [EnvSummary],
        totals: Totals,
        monitor: &'a Monitor,
        notifiers: &'a [NotifierStatus],
    ) -> IndexPage<'a> {
        let mut environments: Vec<&EnvSummary> = envs.iter().collect();
        environments.sort_by(|a, b| a.status.cmp(&b.status).then_with(|| a.name.cmp(&b.name)));
        let groups = &monitor.settings().groups;
        let sections = if groups.is_empty() {
            vec![Section { name: None, environments: environments.clone() }]
        } else {
            let mut sections: Vec<Section> = groups
                .iter()
                .map(|g| Section {
                    name: Some(g.name.as_str()),
                    environments: environments
                        .iter()
                        .copied()
                        .filter(|e| e.group.as_deref() == Some(&g.name))
                        .collect(),
                })
                .collect();
            let other: Vec<&EnvSummary> = environments.iter().copied().filter(|e| e.group.is_none()).collect();
            if !other.is_empty() {
                sections.push(Section { name: Some("Other"), environments: other });
            }
            sections
        };
        IndexPage { common, environments, sections, notices: &monitor.notices, totals, notifiers }
    }
}

/// The context of the incident log: `incidents` newest first (see
/// [`crate::alert::feed::IncidentView`]).
pub fn incidents_page(common: &Common, incidents: &[IncidentView], total: usize, open: usize) -> Value {
    context! { incidents => Value::from_serialize(incidents), total, open, ..Value::from_serialize(common) }
}

/// One page of the matrix in the page list: its file and its first and last environment.
#[derive(Serialize)]
struct MatrixPageLink {
    file: String,
    first: String,
    last: String,
}

/// The context of page `index` of the version matrix: `matrix` (this page's
/// environments and the listed services), `matrix_pages` (every page's `file`,
/// `first` and `last` environment), `page_index`, `hidden_services`, `pages`
/// (environment name → its page).
pub fn versions_page(common: &Common, matrix: &MatrixPages, index: usize, envs: &[EnvSummary]) -> Value {
    let pages: std::collections::BTreeMap<&str, &str> =
        envs.iter().map(|e| (e.name.as_str(), e.page.as_str())).collect();
    let nav: Vec<MatrixPageLink> =
        matrix.nav().into_iter().map(|(file, first, last)| MatrixPageLink { file, first, last }).collect();
    context! {
        matrix => Value::from_object(matrix.pages[index].clone()),
        matrix_pages => Value::from_serialize(nav),
        page_index => index,
        hidden_services => matrix.hidden_services,
        pages => Value::from_serialize(pages),
        ..Value::from_serialize(common)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_compile() {
        Templates::load(None).unwrap();
    }

    #[test]
    fn values_are_escaped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.html"), "<p>{{ v }}</p>").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let mut out = Vec::new();
        t.render("x.html", minijinja::context! { v => "<script>alert(1)</script>&\"'" }, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<p>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&amp;&quot;&#x27;</p>"
        );
    }

    #[test]
    fn utc_filter_shows_times_and_escapes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.html"), "{{ t|utc }}").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let show = |v: &str| {
            let mut out = Vec::new();
            t.render("x.html", minijinja::context! { t => v }, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            show("2026-11-25T16:31:07.4Z"),
            "<time datetime=\"2026-11-25T16:31:07Z\">2026-11-25 16:31 UTC</time>"
        );
        assert_eq!(show("<b>soon</b>"), "&lt;b&gt;soon&lt;&#x2f;b&gt;");
    }

    #[test]
    fn broken_override_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "{% if %}").unwrap();
        let err = format!("{:#}", Templates::load(Some(dir.path())).err().unwrap());
        assert!(err.contains("index.html") && err.contains("does not compile"), "{err}");
    }
}
