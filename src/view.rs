//! What environment pages see of the model: lazy template objects over one
//! shared `Arc<Environment>`.
//!
//! Converting a whole environment into template values up front (serde) cost
//! more than rendering it; these views hand out each field only when a template
//! asks for it. Field names are the same as in `status.json`, plus a few
//! derived ones documented on each view.

use std::collections::HashSet;
use std::sync::Arc;

use std::fmt::Write;

use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use crate::model::{Container, Environment, Host};
use crate::status::{Health, State, exit_code_meaning};
use crate::versions::{Cell, Matrix};

/// An environment. Fields as in `status.json`, plus `summarised` (the page lists
/// only containers that need a look); `hosts` in file order.
#[derive(Debug)]
pub struct EnvView(pub Arc<Environment>);

/// Hosts of an environment, in a chosen order.
#[derive(Debug)]
pub struct HostList {
    env: Arc<Environment>,
    plan: Arc<Plan>,
    order: Vec<usize>,
}

/// What an environment's page lists, chosen once per page so that the page
/// stays small whatever the environment holds: a phone on call opens it.
#[derive(Debug)]
pub struct Plan {
    /// The page lists only what needs a look (see [`summarised`]).
    summarised: bool,
    /// On a summarised page, each host's listed containers, in file order.
    listed: Vec<Vec<usize>>,
    /// The containers, as (host, index), whose log tails the page shows.
    logs: HashSet<(usize, usize)>,
    /// The hosts given a section, those that need attention first.
    order: Vec<usize>,
}

/// At most this many container rows on a summarised page (problems first).
pub const PAGE_ROWS: usize = 1_500;
/// At most this many host sections on a page (hosts with problems first).
pub const PAGE_HOSTS: usize = 1_000;
/// At most this many bytes of escaped log lines on a page; the rest are in status.json.
pub const PAGE_LOG_BYTES: usize = 400_000;

/// A host. Fields as in `status.json`, plus `problems` (how many of its containers
/// are problems), `has_problem` (unreachable or any problem container),
/// `unlisted` (containers left off a page summarised for its size), and for fast
/// tables `problem_containers` (the listed containers that are problems) and
/// `other_rows` (the escaped `<tr>` rows of all the other listed containers).
#[derive(Debug)]
pub struct HostView {
    env: Arc<Environment>,
    plan: Arc<Plan>,
    host: usize,
}

/// The containers of a host a page lists: all of them, or on a page summarised
/// for its size only those that need a look.
#[derive(Debug)]
struct ContainerList {
    env: Arc<Environment>,
    plan: Arc<Plan>,
    host: usize,
    listed: Option<Vec<usize>>,
}

/// Above this many containers an environment page lists only the containers
/// that need a look (problems, known issues, restarts); the rest are
/// counted per host. status.json always has every container.
pub const FULL_PAGE_CONTAINERS: usize = 5_000;

/// Whether `env`'s page is summarised for its size: more containers than
/// [`FULL_PAGE_CONTAINERS`], or more problems than a page lists.
pub fn summarised(env: &Environment) -> bool {
    env.counts.containers > FULL_PAGE_CONTAINERS || env.counts.problems > PAGE_ROWS
}

impl Plan {
    pub fn of(env: &Environment) -> Plan {
        let summarised = summarised(env);
        let mut order: Vec<usize> = (0..env.hosts.len()).collect();
        order.sort_by_key(|&i| !env.hosts[i].has_problem());
        order.truncate(PAGE_HOSTS);
        let mut listed = vec![Vec::new(); env.hosts.len()];
        if summarised {
            // Problems first, then the others that need a look, host by host in page order.
            let mut left = PAGE_ROWS;
            for problems in [true, false] {
                for &h in &order {
                    let wanted = env.hosts[h]
                        .containers
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| if problems { c.problem } else { !c.problem && needs_a_look(c) });
                    for (i, _) in wanted.take(left) {
                        listed[h].push(i);
                        left -= 1;
                    }
                }
            }
            for l in &mut listed {
                l.sort_unstable();
            }
        }
        let mut logs = HashSet::new();
        let mut left = PAGE_LOG_BYTES;
        for &h in &order {
            let containers = &env.hosts[h].containers;
            let indexes: Box<dyn Iterator<Item = usize>> =
                if summarised { Box::new(listed[h].iter().copied()) } else { Box::new(0..containers.len()) };
            for i in indexes.filter(|&i| containers[i].problem) {
                let size = escaped_len(containers[i].detail().logs.as_str());
                if size > 0 && size <= left {
                    left -= size;
                    logs.insert((h, i));
                }
            }
        }
        Plan { summarised, listed, logs, order }
    }

    /// Hosts without a section of their own.
    pub fn hosts_unlisted(&self) -> usize {
        self.listed.len() - self.order.len()
    }
}

/// The length of `text` once HTML-escaped.
fn escaped_len(text: &str) -> usize {
    text.len()
        + text
            .bytes()
            .map(|b| match b {
                b'&' => 4,
                b'<' | b'>' => 3,
                b'"' | b'\'' | b'/' => 5,
                _ => 0,
            })
            .sum::<usize>()
}

/// Worth a row even on a summarised page.
fn needs_a_look(c: &Container) -> bool {
    c.problem || c.detail().known.is_some() || c.detail().restarts > 0
}

/// A container. Fields as in `status.json`, plus `exit_meaning` (what its exit
/// code usually means, or none).
#[derive(Debug)]
struct ContainerView {
    env: Arc<Environment>,
    plan: Arc<Plan>,
    host: usize,
    index: usize,
}

impl HostList {
    /// All hosts of `env`, those that need attention first, otherwise in file order.
    /// The hosts a page gives a section: those that need attention first,
    /// otherwise in file order, at most [`PAGE_HOSTS`].
    pub fn problems_first(env: &Arc<Environment>, plan: &Arc<Plan>) -> HostList {
        HostList { env: env.clone(), plan: plan.clone(), order: plan.order.clone() }
    }
}

impl HostView {
    fn host(&self) -> &Host {
        &self.env.hosts[self.host]
    }

    fn containers(&self) -> ContainerList {
        let listed = self.plan.summarised.then(|| self.listed().collect());
        self.list(listed)
    }

    fn list(&self, listed: Option<Vec<usize>>) -> ContainerList {
        ContainerList { env: self.env.clone(), plan: self.plan.clone(), host: self.host, listed }
    }

    /// The indexes of the listed containers, in file order.
    fn listed(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        if self.plan.summarised {
            Box::new(self.plan.listed[self.host].iter().copied())
        } else {
            Box::new(0..self.host().containers.len())
        }
    }

    /// The listed containers that are problems, in file order.
    fn problem_containers(&self) -> ContainerList {
        let containers = &self.host().containers;
        self.list(Some(self.listed().filter(|&i| containers[i].problem).collect()))
    }

    /// Problem containers of this host that the page does not list.
    fn unlisted_problems(&self) -> usize {
        let containers = &self.host().containers;
        containers.iter().filter(|c| c.problem).count() - self.listed().filter(|&i| containers[i].problem).count()
    }

    /// The table rows of the listed containers that are not problems, escaped
    /// as the templates escape: first those with something to say (starting,
    /// restarted, stopped with an allowed exit code), then the ones only
    /// running, each group in file order. The built-in page writes these rows
    /// in Rust: interpreting a template per row cost half a microsecond, half a
    /// second for a million rows.
    fn other_rows(&self) -> String {
        let containers = &self.host().containers;
        let mut rows = String::with_capacity(if self.plan.summarised { 4096 } else { containers.len() * 160 });
        for plain_ones in [false, true] {
            for c in self.listed().map(|i| &containers[i]).filter(|c| !c.problem && plain(c) == plain_ones) {
                other_row(&mut rows, c);
            }
        }
        rows
    }
}

/// Running, and nothing else to say.
fn plain(c: &Container) -> bool {
    c.state == State::Running && c.health != Health::Starting && c.detail().restarts == 0
}

/// The `<tr>` of a container that is not a problem: running, starting, or
/// stopped with an allowed exit code, and the restarts seen.
fn other_row(out: &mut String, c: &Container) {
    out.push_str("<tr><td>");
    push_escaped(out, &c.name);
    out.push_str("</td><td>");
    if c.state != State::Running {
        out.push_str("<b class=\"ok\">✔ ");
        out.push_str(c.state.as_str());
        out.push_str("</b>");
        if let Some(code) = c.exit_code {
            let _ = write!(out, "<small>exit code {code}, allowed</small>");
        }
    } else if c.health == Health::Starting {
        out.push_str("<b class=\"warn\">◔ starting</b>");
    } else {
        out.push_str("<b class=\"ok\">✔ running</b>");
    }
    if c.detail().restarts > 0 {
        let s = if c.detail().restarts == 1 { "" } else { "s" };
        let _ = write!(out, "<small>↻ {} restart{s} seen</small>", c.detail().restarts);
    }
    if let Some(u) = &c.detail().uptime {
        let _ = write!(out, "<small>up {} of 30 d</small>", crate::uptime::percent(u.month));
    }
    out.push_str("</td><td>");
    push_escaped(out, &c.status);
    out.push_str("</td><td>");
    push_escaped(out, &c.image);
    out.push_str("</td><td>");
    push_escaped(out, &c.version);
    out.push_str("</td></tr>\n");
}

/// Appends `text` escaped for HTML exactly as the templates' autoescape does
/// (minijinja's `HtmlEscape`), without going through `fmt` for text that
/// needs no escaping.
pub(crate) fn push_escaped(out: &mut String, text: &str) {
    let mut done = 0;
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            b'/' => "&#x2f;",
            _ => continue,
        };
        out.push_str(&text[done..i]);
        out.push_str(entity);
        done = i + 1;
    }
    out.push_str(&text[done..]);
}

impl ContainerList {
    fn len(&self) -> usize {
        self.listed.as_ref().map_or(self.env.hosts[self.host].containers.len(), Vec::len)
    }
}

impl ContainerView {
    fn container(&self) -> &Container {
        &self.env.hosts[self.host].containers[self.index]
    }
}

impl Object for EnvView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let env = &self.0;
        Some(match key.as_str()? {
            "name" => Value::from(env.name.as_str()),
            "page" => Value::from(env.page.as_str()),
            "source" => Value::from(env.source.as_str()),
            "status" => Value::from(env.status.as_str()),
            "counts" => Value::from_serialize(env.counts),
            "layout" => Value::from_serialize(env.layout),
            "error" => Value::from_serialize(&env.error),
            "warnings" => Value::from_serialize(&env.warnings),
            "data_time" => Value::from_serialize(env.data_time),
            "age_seconds" => Value::from(env.age_seconds),
            "stale" => Value::from(env.stale),
            "degraded" => Value::from(env.degraded),
            "group" => Value::from_serialize(&env.group),
            "uptime" => Value::from_serialize(env.uptime),
            "summarised" => Value::from(summarised(env)),
            "hosts" => {
                let plan = Arc::new(Plan::of(env));
                Value::from_object(HostList { env: env.clone(), plan, order: (0..env.hosts.len()).collect() })
            }
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "name",
            "page",
            "source",
            "status",
            "counts",
            "layout",
            "error",
            "warnings",
            "data_time",
            "age_seconds",
            "stale",
            "degraded",
            "group",
            "uptime",
            "summarised",
            "hosts",
        ])
    }
}

impl Object for HostList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let host = *self.order.get(key.as_usize()?)?;
        Some(Value::from_object(HostView { env: self.env.clone(), plan: self.plan.clone(), host }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.order.len())
    }
}

impl Object for HostView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let host = self.host();
        Some(match key.as_str()? {
            "name" => Value::from(host.name.as_str()),
            "reach" => Value::from_serialize(host.reach),
            "detail" => Value::from_serialize(&host.detail),
            "known" => Value::from_serialize(&host.known),
            "problems" => Value::from(host.problems()),
            "has_problem" => Value::from(host.has_problem()),
            "containers" => Value::from_object(self.containers()),
            // `notable` and `plain_rows` are the names of the first release, kept so
            // that templates written for it still list every container.
            "problem_containers" | "notable" => Value::from_object(self.problem_containers()),
            "other_rows" | "plain_rows" => Value::from_safe_string(self.other_rows()),
            "unlisted" => Value::from(self.host().containers.len() - self.containers().len()),
            "unlisted_problems" => Value::from(self.unlisted_problems()),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "name",
            "reach",
            "detail",
            "known",
            "problems",
            "has_problem",
            "containers",
            "problem_containers",
            "other_rows",
            "unlisted",
            "unlisted_problems",
        ])
    }
}

impl Object for ContainerList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let at = key.as_usize()?;
        let index = match &self.listed {
            Some(listed) => *listed.get(at)?,
            None => (at < self.len()).then_some(at)?,
        };
        Some(Value::from_object(ContainerView {
            env: self.env.clone(),
            plan: self.plan.clone(),
            host: self.host,
            index,
        }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.len())
    }
}

impl Object for ContainerView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let c = self.container();
        Some(match key.as_str()? {
            "name" => Value::from(c.name.as_str()),
            "image" => Value::from(c.image.as_str()),
            "version" => Value::from(c.version.as_str()),
            "status" => Value::from(c.status.as_str()),
            "state" => Value::from(c.state.as_str()),
            "health" => Value::from(c.health.as_str()),
            "exit_code" => Value::from(c.exit_code),
            "exit_meaning" => Value::from(c.exit_code.and_then(exit_code_meaning)),
            "problem" => Value::from(c.problem),
            "known" => Value::from_serialize(&c.detail().known),
            "since" => Value::from_serialize(c.detail().since),
            "restarts" => Value::from(c.detail().restarts),
            "crash_loop" => Value::from(c.detail().crash_loop),
            "restart_count" => Value::from(c.inspect().restart_count),
            "oom_killed" => Value::from(c.inspect().oom_killed),
            "started_at" => Value::from_serialize(c.inspect().started_at),
            "finished_at" => Value::from_serialize(c.detail().finished_at),
            "restart_policy" => Value::from(c.inspect().restart_policy.as_str()),
            "error" => Value::from(c.detail().error.as_str()),
            "health_output" => Value::from(c.detail().health_output.as_str()),
            // A page shows log tails up to its size; status.json has them all.
            "logs" => Value::from(if self.plan.logs.contains(&(self.host, self.index)) {
                c.detail().logs.as_str()
            } else {
                ""
            }),
            "logs_left_out" => {
                Value::from(!c.detail().logs.is_empty() && !self.plan.logs.contains(&(self.host, self.index)))
            }
            "reason" => Value::from_serialize(&c.detail().reason),
            "uptime" => Value::from_serialize(&c.detail().uptime),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "name",
            "image",
            "version",
            "status",
            "state",
            "health",
            "exit_code",
            "exit_meaning",
            "problem",
            "known",
            "since",
            "restarts",
            "crash_loop",
            "restart_count",
            "oom_killed",
            "started_at",
            "finished_at",
            "restart_policy",
            "error",
            "health_output",
            "logs",
            "logs_left_out",
            "reason",
            "uptime",
        ])
    }
}

/// The version matrix, for `versions.html`. Fields as in `status.json`'s
/// `versions`, for one page of it (see [`MatrixPages`]); each service also has
/// `cells_html`, the escaped `<td>` cells of its row in environment order,
/// written in Rust for the same reason as `other_rows` (fifty thousand cells in
/// a large fleet).
#[derive(Debug, Clone)]
pub struct MatrixView {
    matrix: Arc<Matrix>,
    /// The environments (columns) of this page.
    columns: std::ops::Range<usize>,
    /// The services (rows) shown, by index, drifting ones first.
    rows: Arc<Vec<usize>>,
}

/// A matrix page stays under this many bytes, however many environments,
/// services and versions the fleet has: a phone opens it.
pub const MATRIX_PAGE_BYTES: usize = 1_500_000;
/// At most this many services are listed (those that drift first); the rest are
/// counted, and `status.json` has them all.
pub const MATRIX_ROWS: usize = 2_000;

/// The version matrix cut into pages of whole environment columns, each under
/// [`MATRIX_PAGE_BYTES`].
#[derive(Debug)]
pub struct MatrixPages {
    pub pages: Vec<MatrixView>,
    /// Services not listed on any page.
    pub hidden_services: usize,
}

impl MatrixPages {
    pub fn new(matrix: Arc<Matrix>) -> MatrixPages {
        Self::with_budget(matrix, MATRIX_PAGE_BYTES)
    }

    fn with_budget(matrix: Arc<Matrix>, page_bytes: usize) -> MatrixPages {
        let mut rows: Vec<usize> = (0..matrix.services.len()).collect();
        // Drifting services first, then by name (the matrix's order).
        rows.sort_by_key(|&i| !matrix.services[i].drift);
        let hidden_services = rows.len().saturating_sub(MATRIX_ROWS);
        rows.truncate(MATRIX_ROWS);
        rows.sort_unstable();
        let head: usize = rows.iter().map(|&i| matrix.services[i].name.len() + 48).sum();
        let budget = page_bytes.saturating_sub(head).max(page_bytes / 4);
        // What each environment's column costs on a page, cell by cell.
        let mut width = vec![0usize; matrix.environments.len()];
        let index: std::collections::HashMap<&str, usize> =
            matrix.environments.iter().enumerate().map(|(i, e)| (e.as_str(), i)).collect();
        for &r in &rows {
            let cells = &matrix.services[r].cells;
            for (i, w) in width.iter_mut().enumerate() {
                *w += if cells.contains_key(&matrix.environments[i]) { 0 } else { EMPTY_CELL.len() };
            }
            for (env, cell) in cells {
                if let Some(&i) = index.get(env.as_str()) {
                    width[i] += cell_bytes(cell);
                }
            }
        }
        let rows = Arc::new(rows);
        let mut pages = Vec::new();
        let mut start = 0;
        let mut used = 0;
        for (i, w) in width.iter().enumerate() {
            if i > start && used + w > budget {
                pages.push(MatrixView { matrix: matrix.clone(), columns: start..i, rows: rows.clone() });
                start = i;
                used = 0;
            }
            used += w;
        }
        pages.push(MatrixView { matrix: matrix.clone(), columns: start..width.len(), rows });
        MatrixPages { pages, hidden_services }
    }

    /// `versions.html`, `versions-2.html`, …
    pub fn file_name(page: usize) -> String {
        if page == 0 { "versions.html".to_owned() } else { format!("versions-{}.html", page + 1) }
    }

    /// The pages as the navigation shows them: file, first and last environment.
    pub fn nav(&self) -> Vec<(String, String, String)> {
        self.pages
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let envs = &p.matrix.environments[p.columns.clone()];
                let first = envs.first().cloned().unwrap_or_default();
                let last = envs.last().cloned().unwrap_or_default();
                (Self::file_name(i), first, last)
            })
            .collect()
    }
}

const EMPTY_CELL: &str = "<td class=\"muted\">–</td>";

/// The bytes a cell takes on the page, at most (escaping can only grow it by
/// the entity lengths, counted at the worst).
fn cell_bytes(c: &Cell) -> usize {
    let mut out = String::new();
    push_cell(&mut out, Some(c));
    out.len()
}

/// The services of one page, in order.
#[derive(Debug)]
struct ServiceList(MatrixView);

/// One service of the matrix, on one page.
#[derive(Debug)]
struct ServiceView {
    page: MatrixView,
    index: usize,
}

impl Object for MatrixView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let m = &self.matrix;
        Some(match key.as_str()? {
            "reference" => Value::from(m.reference.clone()),
            "environments" => Value::from_serialize(&m.environments[self.columns.clone()]),
            "services" => Value::from_object(ServiceList((**self).clone())),
            "all_environments" => Value::from(m.environments.len()),
            "all_services" => Value::from(m.services.len()),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["reference", "environments", "services", "all_environments", "all_services"])
    }
}

impl Object for ServiceList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let index = *self.0.rows.get(key.as_usize()?)?;
        Some(Value::from_object(ServiceView { page: self.0.clone(), index }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.rows.len())
    }
}

impl Object for ServiceView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let m = &self.page.matrix;
        let s = &m.services[self.index];
        let envs = &m.environments[self.page.columns.clone()];
        Some(match key.as_str()? {
            "name" => Value::from(s.name.as_str()),
            "drift" => Value::from(s.drift),
            "cells" => {
                let cells: std::collections::BTreeMap<&str, &Cell> =
                    envs.iter().filter_map(|e| s.cells.get(e).map(|c| (e.as_str(), c))).collect();
                Value::from_serialize(&cells)
            }
            "cells_html" => Value::from_safe_string(cells_html(envs, &s.cells)),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["name", "drift", "cells", "cells_html"])
    }
}

/// The `<td>` cells of one service's row, one per environment in order.
fn cells_html(environments: &[String], cells: &std::collections::BTreeMap<String, Cell>) -> String {
    let mut out = String::with_capacity(environments.len() * 40);
    for env in environments {
        push_cell(&mut out, cells.get(env));
    }
    out
}

/// One cell: its versions, or how many there are and the most common when there
/// are more than a cell lists.
fn push_cell(out: &mut String, cell: Option<&Cell>) {
    let Some(c) = cell else {
        out.push_str(EMPTY_CELL);
        return;
    };
    let join = |out: &mut String, items: &[String]| {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_escaped(out, item);
        }
    };
    let versions = |out: &mut String| {
        if c.versions.len() < c.distinct {
            let _ = write!(out, "{} versions", c.distinct);
            if c.most_common > 1 {
                out.push_str(", mostly ");
                push_escaped(out, &c.versions[0]);
                let _ = write!(out, " ({} of {})", c.most_common, c.containers);
            }
        } else {
            join(out, &c.versions);
        }
    };
    if c.ha_drift {
        out.push_str("<td class=\"drift\"");
        if !c.hosts.is_empty() {
            out.push_str(" title=\"");
            join(out, &c.hosts);
            out.push('"');
        }
        out.push_str(">⚠ ");
        versions(out);
    } else if c.differs {
        out.push_str("<td class=\"differs\">≠ ");
        versions(out);
    } else {
        out.push_str("<td>");
        versions(out);
    }
    out.push_str("</td>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::HtmlEscape;

    /// A matrix of `envs` environments × `services` services, every cell many versions.
    fn big_matrix(envs: usize, services: usize) -> Arc<Matrix> {
        let mut per_env = Vec::new();
        for e in 0..envs {
            let mut env = Environment::new(&format!("env-{e:04}"), "", "");
            for h in 0..20 {
                let mut host = Host::new(&format!("host-{h}.env-{e:04}.example.io"));
                for s in 0..services {
                    let image = format!("cwds/svc{s:04}:{}.{e}.{h}-0123abcd", s * 7919 + h);
                    host.containers.push(Container::from_row(&format!("svc{s:04}"), "Up 1 day", &image, None));
                }
                env.hosts.push(host);
            }
            per_env.push((env.name.clone(), crate::versions::of(&env)));
        }
        Arc::new(crate::versions::matrix(per_env, None))
    }

    #[test]
    fn matrix_pages_stay_under_their_size_and_list_every_environment_once() {
        let m = big_matrix(300, 50);
        let budget = 100_000;
        let paged = MatrixPages::with_budget(m.clone(), budget);
        assert!(paged.pages.len() > 3, "15 000 cells of many versions are {} pages", paged.pages.len());
        let mut seen = Vec::new();
        for p in &paged.pages {
            let envs = &m.environments[p.columns.clone()];
            seen.extend(envs.iter().cloned());
            let bytes: usize = p
                .rows
                .iter()
                .map(|&r| cells_html(envs, &m.services[r].cells).len() + m.services[r].name.len() + 48)
                .sum();
            assert!(bytes < budget, "a page of {bytes} bytes");
        }
        assert_eq!(seen, m.environments);
        assert_eq!(paged.hidden_services, 0);
        let nav = paged.nav();
        assert_eq!(nav[0].0, "versions.html");
        assert_eq!(nav[1].0, "versions-2.html");
        assert_eq!(nav[0].1, "env-0000");
        // A cell of twenty versions says so.
        let row = cells_html(&m.environments[..1], &m.services[0].cells);
        assert_eq!(row, "<td class=\"drift\">⚠ 20 versions</td>");
    }

    #[test]
    fn matrix_lists_at_most_its_rows() {
        let m = big_matrix(1, MATRIX_ROWS + 5);
        let paged = MatrixPages::new(m);
        assert_eq!(paged.hidden_services, 5);
        assert_eq!(paged.pages.len(), 1);
        assert_eq!(paged.pages[0].rows.len(), MATRIX_ROWS);
    }

    #[test]
    fn other_rows_say_what_is_worth_saying() {
        let row = |status: &str, restarts: usize| {
            let mut c = Container::from_row("w<b>", status, "reg/img:1", None);
            c.problem = false; // as an allowed exit code leaves it
            c.detail_mut().restarts = restarts;
            let mut out = String::new();
            other_row(&mut out, &c);
            out
        };
        assert_eq!(
            row("Up 2 days", 0),
            "<tr><td>w&lt;b&gt;</td><td><b class=\"ok\">✔ running</b></td><td>Up 2 days</td><td>reg&#x2f;img</td><td>1</td></tr>\n"
        );
        assert!(row("Up 5 seconds (health: starting)", 0).contains("<td><b class=\"warn\">◔ starting</b></td>"));
        assert!(
            row("Exited (0) 1 hour ago", 0)
                .contains("<td><b class=\"ok\">✔ exited</b><small>exit code 0, allowed</small></td>")
        );
        assert!(row("Up 1 hour", 1).contains("✔ running</b><small>↻ 1 restart seen</small></td>"));
        assert!(row("Up 1 hour", 2).contains("<small>↻ 2 restarts seen</small>"));
    }

    #[test]
    fn matrix_cells_in_environment_order() {
        let cell = |v: &str, differs| {
            let mut env = Environment::new("x", "", "");
            let mut host = Host::new("h");
            host.containers.push(Container::from_row("s", "Up 1 day", &format!("r/s:{v}"), None));
            env.hosts.push(host);
            let mut cell = crate::versions::of(&env).remove("s").unwrap();
            cell.differs = differs;
            cell
        };
        let cells = [("a".to_string(), cell("1<2", false)), ("c".to_string(), cell("2", true))].into_iter().collect();
        let envs = ["a", "b", "c"].map(String::from);
        assert_eq!(
            cells_html(&envs, &cells),
            "<td>1&lt;2</td><td class=\"muted\">–</td><td class=\"differs\">≠ 2</td>",
            "one cell per environment, a dash where it has no such service"
        );
    }

    #[test]
    fn rows_with_something_to_say_come_before_plain_ones() {
        let mut host = Host::new("h");
        for (name, status) in
            [("a", "Up 3 weeks"), ("b", "Up 5 seconds (health: starting)"), ("c", "Exited (1) 1 hour ago")]
        {
            host.containers.push(Container::from_row(name, status, "img:1", None));
        }
        let mut env = Environment::new("e", "e.html", "e.txt");
        env.hosts.push(host);
        env.finish();
        let plan = Arc::new(Plan::of(&env));
        let view = HostView { env: Arc::new(env), plan, host: 0 };
        let rows = view.other_rows();
        let order: Vec<&str> = rows.lines().map(|r| &r[8..9]).collect();
        assert_eq!(order, ["b", "a"], "the problem (c) is the template's; starting before running");
        let ctx = minijinja::context! { host => Value::from_object(view) };
        let old_names = minijinja::Environment::new()
            .render_str("{% for c in host.notable %}{{ c.name }}{% endfor %}|{{ host.plain_rows }}", ctx)
            .unwrap();
        assert!(old_names.starts_with("c|<tr><td>b</td>"), "{old_names}");
    }

    #[test]
    fn rows_escape_as_templates_do() {
        for text in ["plain", "", "<script>alert('x')</script>", "a&b \"c\" / d", "é<ü>"] {
            let mut out = String::new();
            push_escaped(&mut out, text);
            assert_eq!(out, HtmlEscape(text).to_string(), "{text:?}");
        }
    }

    fn env() -> Arc<Environment> {
        let mut ok = Host::new("ok-host");
        ok.containers.push(Container::from_row("web", "Up 3 weeks", "nginx:1", None));
        let mut bad = Host::new("bad-host");
        bad.containers.push(Container::from_row("db", "Exited (137) 1 hour ago", "pg:15", None));
        let mut env = Environment::new("e", "e.html", "e.txt");
        env.hosts = vec![ok, bad];
        env.finish();
        Arc::new(env)
    }

    #[test]
    fn views_expose_fields_and_order() {
        let env = env();
        let jinja = minijinja::Environment::new();
        let ctx = minijinja::context! { env => Value::from_object(EnvView(env.clone())), hosts => Value::from_object(HostList::problems_first(&env, &Arc::new(Plan::of(&env)))) };
        let out = jinja
            .render_str(
                "{{ env.name }} {{ env.status }} {{ env.counts.problems }}|{% for h in hosts %}{{ h.name }}:{{ h.problems }}:{% for c in h.containers %}{{ c.name }}/{{ c.state }}/{{ c.exit_code }}/{{ c.exit_meaning }}/{{ c.problem }}{% endfor %};{% endfor %}|{{ env.hosts|map(attribute='name')|join(',') }}",
                ctx,
            )
            .unwrap();
        assert_eq!(
            out,
            "e problem 1|bad-host:1:db/exited/137/killed (SIGKILL), often out of memory/True;ok-host:0:web/running/None/None/False;|ok-host,bad-host"
        );
    }

    #[test]
    fn big_pages_list_only_what_needs_a_look() {
        let mut host = Host::new("h");
        for i in 0..=FULL_PAGE_CONTAINERS {
            let status = if i == 7 { "Exited (1) 1 hour ago" } else { "Up 2 days" };
            host.containers.push(Container::from_row(&format!("c{i}"), status, "img:1", None));
        }
        let mut env = Environment::new("big", "big.html", "big.txt");
        env.hosts.push(host);
        env.finish();
        let env = Arc::new(env);
        let ctx = minijinja::context! { env => Value::from_object(EnvView(env.clone())) };
        let out = minijinja::Environment::new()
            .render_str(
                "{{ env.summarised }}|{% for h in env.hosts %}{{ h.unlisted }}|{% for c in h.containers %}{{ c.name }},{% endfor %}{% endfor %}",
                ctx,
            )
            .unwrap();
        assert_eq!(out, format!("True|{}|c7,", FULL_PAGE_CONTAINERS));
    }

    #[test]
    fn a_page_lists_at_most_its_rows_hosts_and_log_bytes() {
        // Every container a problem, each with 15 kB of log (35 kB escaped), on more hosts than a page has sections for.
        let mut env = Environment::new("red", "red.html", "red.txt");
        for h in 0..PAGE_HOSTS + 10 {
            let mut host = Host::new(&format!("h{h}"));
            for i in 0..2 {
                let mut c = Container::from_row(&format!("c{i}"), "Exited (1) 1 hour ago", "img:1", None);
                c.detail_mut().logs = "<x>".repeat(5_000);
                host.containers.push(c);
            }
            env.hosts.push(host);
        }
        env.finish();
        let env = Arc::new(env);
        let plan = Arc::new(Plan::of(&env));
        assert!(summarised(&env), "{} problems are more than a page lists", env.counts.problems);
        assert_eq!(plan.order.len(), PAGE_HOSTS);
        assert_eq!(plan.hosts_unlisted(), 10);
        assert_eq!(plan.listed.iter().map(Vec::len).sum::<usize>(), PAGE_ROWS);
        let log_bytes: usize =
            plan.logs.iter().map(|&(h, i)| escaped_len(env.hosts[h].containers[i].detail().logs.as_str())).sum();
        assert!(log_bytes <= PAGE_LOG_BYTES && log_bytes > PAGE_LOG_BYTES / 2, "{log_bytes}");
        let hosts = HostList::problems_first(&env, &plan);
        let ctx = minijinja::context! { hosts => Value::from_object(hosts) };
        let out = minijinja::Environment::new()
            .render_str(
                "{% for h in hosts %}{% if loop.first or loop.last %}{{ h.name }}:{{ h.unlisted_problems }}:{% for c in h.problem_containers %}{{ c.logs|length > 0 }}/{{ c.logs_left_out }},{% endfor %};{% endif %}{% endfor %}",
                ctx,
            )
            .unwrap();
        assert_eq!(
            out, "h0:0:True/False,True/False,;h999:2:;",
            "the first hosts' logs shown, the last host's rows beyond the limit"
        );
    }
}
