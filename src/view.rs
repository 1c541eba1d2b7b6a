//! What environment pages see of the model: lazy template objects over one
//! shared `Arc<Environment>`.
//!
//! Converting a whole environment into template values up front (serde) cost
//! more than rendering it; these views hand out each field only when a template
//! asks for it. Field names are the same as in `status.json`, plus a few
//! derived ones documented on each view.

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
    order: Vec<usize>,
}

/// A host. Fields as in `status.json`, plus `problems` (how many of its containers
/// are problems), `has_problem` (unreachable or any problem container),
/// `unlisted` (containers left off a page summarised for its size), and for fast
/// tables `problem_containers` (the listed containers that are problems) and
/// `other_rows` (the escaped `<tr>` rows of all the other listed containers).
#[derive(Debug)]
pub struct HostView {
    env: Arc<Environment>,
    host: usize,
}

/// The containers of a host a page lists: all of them, or on a page summarised
/// for its size only those that need a look.
#[derive(Debug)]
struct ContainerList {
    env: Arc<Environment>,
    host: usize,
    listed: Option<Vec<usize>>,
}

/// Above this many containers an environment page lists only the containers
/// that need a look (problems, known issues, restarts); the rest are
/// counted per host. status.json always has every container.
pub const FULL_PAGE_CONTAINERS: usize = 5_000;

/// Whether `env`'s page is summarised for its size.
pub fn summarised(env: &Environment) -> bool {
    env.counts.containers > FULL_PAGE_CONTAINERS
}

/// Worth a row even on a summarised page.
fn needs_a_look(c: &Container) -> bool {
    c.problem || c.known.is_some() || c.restarts > 0
}

/// A container. Fields as in `status.json`, plus `exit_meaning` (what its exit
/// code usually means, or none).
#[derive(Debug)]
struct ContainerView {
    env: Arc<Environment>,
    host: usize,
    index: usize,
}

impl HostList {
    /// All hosts of `env`, those that need attention first, otherwise in file order.
    pub fn problems_first(env: &Arc<Environment>) -> HostList {
        let mut order: Vec<usize> = (0..env.hosts.len()).collect();
        order.sort_by_key(|&i| !env.hosts[i].has_problem());
        HostList { env: env.clone(), order }
    }
}

impl HostView {
    fn host(&self) -> &Host {
        &self.env.hosts[self.host]
    }

    fn containers(&self) -> ContainerList {
        let listed = summarised(&self.env).then(|| self.listed().collect());
        ContainerList { env: self.env.clone(), host: self.host, listed }
    }

    /// The indexes of the listed containers, in file order.
    fn listed(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        let containers = &self.host().containers;
        if summarised(&self.env) {
            Box::new((0..containers.len()).filter(|&i| needs_a_look(&containers[i])))
        } else {
            Box::new(0..containers.len())
        }
    }

    /// The listed containers that are problems, in file order.
    fn problem_containers(&self) -> ContainerList {
        let containers = &self.host().containers;
        let listed = self.listed().filter(|&i| containers[i].problem).collect();
        ContainerList { env: self.env.clone(), host: self.host, listed: Some(listed) }
    }

    /// The table rows of the listed containers that are not problems, escaped
    /// as the templates escape: first those with something to say (starting,
    /// restarted, stopped with an allowed exit code), then the ones only
    /// running, each group in file order. The built-in page writes these rows
    /// in Rust: interpreting a template per row cost half a microsecond, half a
    /// second for a million rows.
    fn other_rows(&self) -> String {
        let containers = &self.host().containers;
        let mut rows = String::with_capacity(if summarised(&self.env) { 4096 } else { containers.len() * 160 });
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
    c.state == State::Running && c.health != Health::Starting && c.restarts == 0
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
    if c.restarts > 0 {
        let s = if c.restarts == 1 { "" } else { "s" };
        let _ = write!(out, "<small>↻ {} restart{s} seen</small>", c.restarts);
    }
    if let Some(u) = &c.uptime {
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
            "hosts" => Value::from_object(HostList { env: env.clone(), order: (0..env.hosts.len()).collect() }),
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
        Some(Value::from_object(HostView { env: self.env.clone(), host }))
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
        Some(Value::from_object(ContainerView { env: self.env.clone(), host: self.host, index }))
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
            "known" => Value::from_serialize(&c.known),
            "since" => Value::from_serialize(c.since),
            "restarts" => Value::from(c.restarts),
            "crash_loop" => Value::from(c.crash_loop),
            "restart_count" => Value::from(c.restart_count),
            "oom_killed" => Value::from(c.oom_killed),
            "started_at" => Value::from_serialize(c.started_at),
            "finished_at" => Value::from_serialize(c.finished_at()),
            "restart_policy" => Value::from(c.restart_policy.as_str()),
            "error" => Value::from(c.error()),
            "health_output" => Value::from(c.health_output()),
            "logs" => Value::from(c.logs()),
            "reason" => Value::from_serialize(&c.reason),
            "uptime" => Value::from_serialize(&c.uptime),
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
            "reason",
            "uptime",
        ])
    }
}

/// The version matrix, for `versions.html`. Fields as in `status.json`'s
/// `versions`; each service also has `cells_html`, the escaped `<td>` cells of
/// its row in environment order, written in Rust for the same reason as
/// `other_rows` (fifty thousand cells in a large fleet).
#[derive(Debug)]
pub struct MatrixView(pub Arc<Matrix>);

/// One service of the matrix.
#[derive(Debug)]
struct ServiceView {
    matrix: Arc<Matrix>,
    index: usize,
}

/// The services of the matrix, in order.
#[derive(Debug)]
struct ServiceList(Arc<Matrix>);

impl Object for MatrixView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let m = &self.0;
        Some(match key.as_str()? {
            "reference" => Value::from(m.reference.clone()),
            "environments" => Value::from_serialize(&m.environments),
            "services" => Value::from_object(ServiceList(m.clone())),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["reference", "environments", "services"])
    }
}

impl Object for ServiceList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let index = key.as_usize().filter(|&i| i < self.0.services.len())?;
        Some(Value::from_object(ServiceView { matrix: self.0.clone(), index }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.services.len())
    }
}

impl Object for ServiceView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let s = &self.matrix.services[self.index];
        Some(match key.as_str()? {
            "name" => Value::from(s.name.as_str()),
            "drift" => Value::from(s.drift),
            "cells" => Value::from_serialize(&s.cells),
            "cells_html" => Value::from_safe_string(cells_html(&self.matrix.environments, &s.cells)),
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
    let join = |out: &mut String, items: &[String]| {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_escaped(out, item);
        }
    };
    for env in environments {
        match cells.get(env) {
            None => out.push_str("<td class=\"muted\">–</td>"),
            Some(c) if c.ha_drift => {
                out.push_str("<td class=\"drift\" title=\"");
                join(&mut out, &c.hosts);
                out.push_str("\">⚠ ");
                join(&mut out, &c.versions);
                out.push_str("</td>");
            }
            Some(c) if c.differs => {
                out.push_str("<td class=\"differs\">≠ ");
                join(&mut out, &c.versions);
                out.push_str("</td>");
            }
            Some(c) => {
                out.push_str("<td>");
                join(&mut out, &c.versions);
                out.push_str("</td>");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::HtmlEscape;

    #[test]
    fn other_rows_say_what_is_worth_saying() {
        let row = |status: &str, restarts: usize| {
            let mut c = Container::from_row("w<b>", status, "reg/img:1", None);
            c.problem = false; // as an allowed exit code leaves it
            c.restarts = restarts;
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
        let cell = |v: &str, differs| Cell { versions: vec![v.into()], hosts: vec![], ha_drift: false, differs };
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
        let view = HostView { env: Arc::new(env), host: 0 };
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
        let ctx = minijinja::context! { env => Value::from_object(EnvView(env.clone())), hosts => Value::from_object(HostList::problems_first(&env)) };
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
}
