//! Telling someone: from each run's verdicts to one message per change, per
//! notifier, never a storm and never lost.
//!
//! The parts, in the order a run uses them:
//! - [`observe`]: what one judged environment says that could be alerted on
//!   (its problem containers and hosts, or the environment itself when it cannot
//!   be judged), made by the worker that rendered it;
//! - [`changes`]: the observations of all environments against what was known
//!   and sent before ([`state`], kept in `history/alerts.json` with the site):
//!   what went down, what recovered, what flaps, what to remind of;
//! - [`message`]: the changes a notifier wants, grouped by environment, and the
//!   [`sinks`] that turn them into a generic webhook, Slack, Teams or an email,
//!   delivered by [`deliver`] with retries, what fails kept for the next run;
//! - [`feed`]: the incident log (`incidents.html`) and Atom feed (`feed.xml`).

pub mod changes;
pub mod deliver;
pub mod email;
pub mod feed;
pub mod http;
pub mod message;
pub mod sinks;
pub mod state;

use std::collections::HashSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::{Container, EnvStatus, Environment, Reach, unique_label as unique};
use crate::settings::Severity;
use crate::status::{Health, State, exit_code_meaning};

/// What a run does with the messages its changes make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyMode {
    /// `run`: send them now.
    Send,
    /// `render`: keep them for the next `run` to send (never lost, never sent twice).
    Queue,
    /// `run --dry-run`: print them; send nothing and keep the state as it was.
    DryRun,
}

/// What the workers need to know of the run before they judge: read once from
/// `history/alerts.json` of the previous site.
#[derive(Debug)]
pub struct Before {
    /// The state as it was (kept as it is on a dry run); `None` on the first run.
    pub previous: Option<state::AlertState>,
    pub policy: changes::Policy,
}

/// Reads the alert state and decides the run's policy: whether this is the
/// first run, and whether a reminder is due for some notifier.
pub fn before(
    settings: &crate::settings::Settings,
    previous_site: &std::path::Path,
    now: Timestamp,
) -> anyhow::Result<Before> {
    let flap_window = crate::settings::parse_duration("[alerts] flap_window", &settings.alerts.flap_window)?;
    let previous = state::AlertState::load(previous_site);
    let remind =
        previous.as_ref().is_some_and(|st| st.notifiers.values().any(|n| n.remind_at.is_some_and(|t| t <= now)));
    let policy = changes::Policy {
        now,
        flap_window,
        flap_changes: settings.alerts.flap_changes,
        first_run: previous.is_none(),
        remind,
    };
    Ok(Before { previous, policy })
}

/// What one environment's worker hands back for alerting.
#[derive(Debug, Default)]
pub struct EnvAlertsOut {
    pub env: String,
    pub group: Option<String>,
    pub changes: Vec<changes::Change>,
    /// Its open problems, and the worst severity of those announced.
    pub open: usize,
    pub announced: Option<crate::settings::Severity>,
    /// Its incidents with the latest activity, at most [`feed::LISTED`].
    pub incidents: Vec<state::Incident>,
    pub incident_count: usize,
}

/// The alerting step of one environment, in its worker: `alerts` (from its
/// history) brought up to date with what `seen` says.
pub fn step(before: &Before, alerts: &mut state::EnvAlerts, seen: &Seen) -> EnvAlertsOut {
    let changes = changes::advance(alerts, seen, &before.policy);
    let (incidents, incident_count) = listed_incidents(alerts);
    EnvAlertsOut {
        env: seen.env.clone(),
        group: seen.group.clone(),
        changes,
        open: alerts.open.len(),
        announced: changes::announced(alerts),
        incident_count,
        incidents,
    }
}

/// The incidents of `alerts` with the latest activity, at most [`feed::LISTED`],
/// and how many it has.
pub fn listed_incidents(alerts: &state::EnvAlerts) -> (Vec<state::Incident>, usize) {
    // Only the listed ones are copied: an environment with thousands of
    // incidents does not hold a second copy of them all.
    let mut newest: Vec<&state::Incident> = alerts.incidents.iter().collect();
    if newest.len() > feed::LISTED {
        newest.select_nth_unstable_by(feed::LISTED - 1, |a, b| feed::newer(a, b));
        newest.truncate(feed::LISTED);
    }
    let mut incidents: Vec<state::Incident> = newest.into_iter().cloned().collect();
    feed::newest_first(&mut incidents);
    (incidents, alerts.incidents.len())
}

/// What alerting did in one run.
#[derive(Debug)]
pub struct RunAlerts {
    /// The state to keep (the old one, unchanged, on a dry run).
    pub state: state::AlertState,
    /// Whether `state` is written: not by a dry run that found none.
    pub keep: bool,
    pub changes: usize,
    pub first_run: bool,
    pub deliveries: Vec<deliver::Delivery>,
    /// Open problems in all environments.
    pub open: usize,
    /// The incidents with the latest activity, at most [`feed::LISTED`], and how many there are.
    pub incidents: Vec<state::Incident>,
    pub incident_count: usize,
}

/// Gathers what the workers handed back as they finish, keeping only what the
/// run needs: all changes (few), counts, and the newest incidents.
#[derive(Debug, Default)]
pub struct Collected {
    changes: Vec<changes::Change>,
    open: usize,
    announced: Vec<deliver::OpenEnv>,
    incidents: Vec<state::Incident>,
    incident_count: usize,
}

impl Collected {
    pub fn add(&mut self, out: EnvAlertsOut) {
        self.changes.extend(out.changes);
        self.open += out.open;
        if let Some(severity) = out.announced {
            self.announced.push(deliver::OpenEnv { env: out.env, group: out.group, severity });
        }
        self.incident_count += out.incident_count;
        self.incidents.extend(out.incidents);
        if self.incidents.len() > 2 * feed::LISTED {
            feed::newest_first(&mut self.incidents);
            self.incidents.truncate(feed::LISTED);
        }
    }
}

/// The end of the alerting step: the messages of all environments' changes,
/// and (by `mode`) their delivery.
pub fn finish(
    settings: &crate::settings::Settings,
    before: &Before,
    collected: Collected,
    mode: NotifyMode,
) -> RunAlerts {
    let now = before.policy.now;
    let first_run = before.policy.first_run;
    let Collected { changes, open, announced, mut incidents, incident_count } = collected;
    feed::newest_first(&mut incidents);
    incidents.truncate(feed::LISTED);
    let mut state = before.previous.clone().unwrap_or_else(|| state::AlertState::new(now));
    state.updated = now;
    state.prune();
    let plans = deliver::plan(settings, &mut state, &changes, &announced, first_run, now);
    let tries = deliver::Tries::of(settings);
    let mut keep = true;
    let deliveries = match mode {
        NotifyMode::Send => deliver::send_all(settings, &mut state, plans, tries, false),
        NotifyMode::DryRun => {
            if plans.is_empty() {
                println!("notify: nothing would be sent");
            }
            deliver::send_all(settings, &mut state, plans, tries, true);
            state = before.previous.clone().unwrap_or_else(|| state::AlertState::new(now));
            // With no state before, none is written: the next real run is still
            // the first, and sends its one summary.
            keep = before.previous.is_some();
            Vec::new()
        }
        NotifyMode::Queue => {
            for (_, m) in plans {
                let ns = state.notifiers.entry(m.notifier.clone()).or_default();
                ns.pending = m.changes().cloned().collect();
            }
            Vec::new()
        }
    };
    for d in &deliveries {
        if d.error.is_some() {
            log::warn!("{}", d.summary());
        } else {
            log::info!("{}", d.summary());
        }
    }
    RunAlerts { state, keep, changes: changes.len(), first_run, deliveries, open, incidents, incident_count }
}

/// Each configured notifier's standing after a run, for `status.json`, the
/// metrics and the master page.
#[derive(Debug, Clone, Serialize)]
pub struct NotifierStatus {
    pub name: String,
    pub kind: crate::settings::NotifierKind,
    /// Its last delivery worked (or it had nothing to send yet).
    pub ok: bool,
    /// Changes waiting for the next run.
    pub pending: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_delivered: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Runs in a row whose delivery failed.
    pub failures: usize,
}

pub fn notifier_status(settings: &crate::settings::Settings, alerts: &RunAlerts) -> Vec<NotifierStatus> {
    (0..settings.notifiers.len())
        .map(|i| {
            let name = settings.notifier_name(i);
            let ns = alerts.state.notifiers.get(&name).cloned().unwrap_or_default();
            NotifierStatus {
                kind: settings.notifiers[i].kind,
                ok: ns.failures == 0,
                pending: ns.pending.len(),
                last_delivered: ns.last_delivered,
                last_error: ns.last_error.clone(),
                failures: ns.failures,
                name,
            }
        })
        .collect()
}

/// Log lines an alert carries of a problem container.
pub const ALERT_LOG_LINES: usize = 5;

/// What an alert is about: an environment, one of its hosts, or a container on one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Subject {
    pub env: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `web`, or `web (2)` for a second container of that name on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

impl Subject {
    /// A key for maps and feed entry ids; the parts cannot hold U+001F.
    pub fn key(&self) -> String {
        let mut key = self.env.replace('\u{1f}', " ");
        for part in [&self.host, &self.container].into_iter().flatten() {
            key.push('\u{1f}');
            key.push_str(&part.replace('\u{1f}', " "));
        }
        key
    }

    /// `prod / app-1.prod.example.io / intake_app`.
    pub fn words(&self) -> String {
        let mut words = self.env.clone();
        for part in [&self.host, &self.container].into_iter().flatten() {
            words.push_str(" / ");
            words.push_str(part);
        }
        words
    }

    /// What it is, in a word: `container`, `host` or `environment`.
    pub fn what(&self) -> &'static str {
        match (&self.host, &self.container) {
            (_, Some(_)) => "container",
            (Some(_), None) => "host",
            _ => "environment",
        }
    }
}

/// One thing that is a problem in this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub subject: Subject,
    /// In a word: `exited`, `crash_loop`, `oom_killed`, `unhealthy`, `missing`,
    /// `unreachable`, `docker_unavailable`, `unknown`, `stale`, ….
    pub problem: String,
    pub severity: Severity,
    /// The state in words: the container's reason, the host's detail, the file's error.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_meaning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// The known issue or maintenance that explains it: nothing is sent for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<String>,
    /// The last log lines, for a container that has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
}

/// What one environment's run says for alerting.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub env: String,
    pub page: String,
    pub group: Option<String>,
    /// Its hosts and containers were judged: false when its file could not be
    /// used or its data is stale, so that nothing is taken to have recovered.
    pub judged: bool,
    /// Hosts whose containers were listed this run.
    pub listed_hosts: HashSet<String>,
    pub problems: Vec<Problem>,
}

/// What `env`, just judged, says for alerting.
pub fn observe(env: &Environment) -> Seen {
    let mut seen = Seen {
        env: env.name.clone(),
        page: env.page.clone(),
        group: env.group.clone(),
        judged: !matches!(env.status, EnvStatus::Unknown | EnvStatus::Stale),
        ..Seen::default()
    };
    let whole = Subject { env: env.name.clone(), host: None, container: None };
    match env.status {
        EnvStatus::Unknown => seen.problems.push(Problem {
            subject: whole,
            problem: "unknown".to_owned(),
            severity: Severity::Critical,
            state: env.error.clone().unwrap_or_else(|| "its file could not be used".to_owned()),
            exit_meaning: None,
            since: None,
            known: None,
            logs: Vec::new(),
        }),
        EnvStatus::Stale => seen.problems.push(Problem {
            subject: whole,
            problem: "stale".to_owned(),
            severity: Severity::Warning,
            state: match (env.data_time, env.age_seconds) {
                (Some(t), Some(age)) => format!("no new data: last gathered at {t}, {} min before this run", age / 60),
                _ => "no new data".to_owned(),
            },
            exit_meaning: None,
            since: env.data_time,
            known: None,
            logs: Vec::new(),
        }),
        _ => {}
    }
    if !seen.judged {
        return seen;
    }
    // Labels (`web (2)` for a second `web`) are made only where names repeat:
    // elsewhere a label is the name, and a host without problems needs none.
    let host_names_repeat = repeats(env.hosts.iter().map(|h| h.name.as_str()));
    let mut hosts_seen = HashSet::new();
    for host in &env.hosts {
        let name = if host_names_repeat { unique(&mut hosts_seen, &host.name) } else { host.name.clone() };
        if host.reach != Reach::Ok {
            seen.problems.push(Problem {
                subject: Subject { env: env.name.clone(), host: Some(name), container: None },
                problem: serde_json::to_value(host.reach)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                severity: Severity::Critical,
                state: host.detail.clone().unwrap_or_else(|| "not reporting".to_owned()),
                exit_meaning: None,
                since: None,
                known: host.known.clone(),
                logs: Vec::new(),
            });
            continue;
        }
        seen.listed_hosts.insert(name.clone());
        if !host.containers.iter().any(|c| c.problem) {
            continue;
        }
        let names_repeat = repeats(host.containers.iter().map(|c| c.name.as_str()));
        let mut names = HashSet::new();
        for c in &host.containers {
            if !c.problem {
                if names_repeat {
                    unique(&mut names, &c.name);
                }
                continue;
            }
            let container = if names_repeat { unique(&mut names, &c.name) } else { c.name.to_string() };
            let (problem, severity) = problem_of(c);
            seen.problems.push(Problem {
                subject: Subject { env: env.name.clone(), host: Some(name.clone()), container: Some(container) },
                problem: problem.to_owned(),
                severity,
                state: c.detail().reason.clone().unwrap_or_else(|| c.status.to_string()),
                exit_meaning: c.exit_code.and_then(exit_code_meaning).map(str::to_owned),
                since: c.detail().since,
                known: c.detail().known.clone(),
                logs: last_lines(c.detail().logs.as_str(), ALERT_LOG_LINES),
            });
        }
    }
    seen
}

/// Whether a name occurs twice (or a name looks like a label, `web (2)`, that
/// numbering could collide with): then labels are made one by one.
fn repeats<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> bool {
    let mut seen = HashSet::with_capacity(names.len());
    for name in names {
        if name.ends_with(')') || !seen.insert(name) {
            return true;
        }
    }
    false
}

/// A problem container's kind and how bad it is: stopped is critical, still
/// running (unhealthy) or never started is a warning.
fn problem_of(c: &Container) -> (&'static str, Severity) {
    if c.inspect().oom_killed && c.state != State::Running {
        return ("oom_killed", Severity::Critical);
    }
    if c.detail().crash_loop {
        return ("crash_loop", Severity::Critical);
    }
    match c.state {
        State::Running if c.health == Health::Unhealthy => ("unhealthy", Severity::Warning),
        State::Paused | State::Created => (c.state.as_str(), Severity::Warning),
        s => (s.as_str(), Severity::Critical),
    }
}

/// The last `n` non-empty lines of `text`.
fn last_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| (*l).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Host;

    fn env_with(rows: &[(&str, &str)]) -> Environment {
        let mut env = Environment::new("prod", "prod.html", "prod.txt");
        let mut host = Host::new("app-1");
        for (name, status) in rows {
            host.containers.push(Container::from_row(name, status, "img:1", None));
        }
        env.hosts.push(host);
        env.finish();
        env
    }

    #[test]
    fn problems_are_observed_with_their_kind_and_severity() {
        let mut env =
            env_with(&[("web", "Up 1 day"), ("db", "Exited (1) 1 hour ago"), ("db", "Up 2 hours (unhealthy)")]);
        let mut down = Host::new("app-2");
        down.reach = Reach::Unreachable;
        down.detail = Some("ssh: connect to host app-2 port 22: Connection timed out".into());
        env.hosts.push(down);
        env.finish();
        let seen = observe(&env);
        assert!(seen.judged);
        let got: Vec<(String, &str, Severity)> =
            seen.problems.iter().map(|p| (p.subject.words(), p.problem.as_str(), p.severity)).collect();
        assert_eq!(
            got,
            [
                ("prod / app-1 / db".to_owned(), "exited", Severity::Critical),
                ("prod / app-1 / db (2)".to_owned(), "unhealthy", Severity::Warning),
                ("prod / app-2".to_owned(), "unreachable", Severity::Critical),
            ]
        );
        assert_eq!(seen.problems[0].exit_meaning.as_deref(), Some("application error"));
        assert_eq!(seen.listed_hosts, HashSet::from(["app-1".to_owned()]));
    }

    #[test]
    fn an_environment_that_cannot_be_judged_says_only_that() {
        let mut env = env_with(&[("db", "Exited (1) 1 hour ago")]);
        env.error = Some("the file is empty".into());
        env.finish();
        let seen = observe(&env);
        assert!(!seen.judged);
        assert_eq!(seen.problems.len(), 1);
        assert_eq!((seen.problems[0].subject.what(), seen.problems[0].problem.as_str()), ("environment", "unknown"));
    }

    #[test]
    fn the_listed_incidents_are_the_newest_of_many() {
        let t0: jiff::Timestamp = "2026-11-25T00:00:00Z".parse().unwrap();
        let mut alerts = state::EnvAlerts::default();
        // Scattered times, some equal (ties go by id), some ended later than others began.
        for n in 0..(feed::LISTED as i64 * 3) {
            let started = t0 + jiff::SignedDuration::from_mins((n * 7919) % 1000);
            alerts.incidents.push(state::Incident {
                id: format!("c{n}"),
                subject: Subject { env: "e".into(), host: Some("h".into()), container: Some(format!("c{n}")) },
                page: String::new(),
                problem: "exited".into(),
                severity: crate::settings::Severity::Critical,
                state: "exited 1".into(),
                started,
                ended: (n % 3 == 0).then(|| started + jiff::SignedDuration::from_mins(n % 500)),
                recovered_state: None,
                known: None,
                notified: false,
            });
        }
        let mut all = alerts.incidents.clone();
        feed::newest_first(&mut all);
        all.truncate(feed::LISTED);
        let (listed, count) = listed_incidents(&alerts);
        assert_eq!(count, feed::LISTED * 3);
        assert_eq!(listed, all, "the same as sorting them all");
    }

    #[test]
    fn keys_and_words() {
        let s = Subject { env: "a\u{1f}b".into(), host: Some("h".into()), container: Some("c".into()) };
        assert_eq!(s.key(), "a b\u{1f}h\u{1f}c");
        assert_eq!(s.words(), "a\u{1f}b / h / c");
        assert_eq!(last_lines("1\n\n2\n3\n4\n5\n6\n", 5), ["2", "3", "4", "5", "6"]);
    }
}
