//! The changes of one run in one environment: its problems against what
//! alerting knew of it before. Pure: the state and the observations in, the new
//! state and the changes out, so every rule is tested without a server. Each
//! environment's worker runs it on its own.
//!
//! - A problem not open before goes **down**; one open before and no longer seen,
//!   where it can be seen, has **recovered**. A host that did not report, or an
//!   environment that could not be judged, says nothing of its containers: their
//!   problems stay open, neither recovered nor repeated.
//! - A known issue or maintenance window silences a problem; if it is still open
//!   when the window ends, it goes down then. A recovery is sent only for a
//!   problem whose going down was.
//! - A subject that changes [`Policy::flap_changes`] times within the flap
//!   window is **flapping**: one message with the count, then nothing until it
//!   holds still for a whole window, when its final state is sent once.
//! - The first run (no state at all) sends one summary of what is **open**,
//!   not a line per container ever seen.

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::alert::state::{EnvAlerts, Incident, Open};
use crate::alert::{Problem, Seen, Subject};
use crate::settings::Severity;

/// What kind of news a change is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Became a problem.
    Down,
    /// Is fine again.
    Recovered,
    /// Still a problem: a reminder (`remind_every`).
    StillDown,
    /// Changed state again and again.
    Flapping,
    /// Open when envdash started watching (the first run's summary).
    Open,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Down => "down",
            ChangeKind::Recovered => "recovered",
            ChangeKind::StillDown => "still_down",
            ChangeKind::Flapping => "flapping",
            ChangeKind::Open => "open",
        }
    }

    /// Whether the subject is a problem after this change (firing, in
    /// Alertmanager's words).
    pub fn firing(self) -> bool {
        !matches!(self, ChangeKind::Recovered)
    }
}

/// One change, with what a message says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub at: Timestamp,
    pub change: ChangeKind,
    pub subject: Subject,
    pub page: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub problem: String,
    pub severity: Severity,
    /// The state in words (for a recovery: what it was).
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_meaning: Option<String>,
    pub since: Timestamp,
    /// A recovery: how long it was a problem, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_seconds: Option<i64>,
    /// Flapping: its changes within the flap window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flips: Option<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
}

/// The rules of one run.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub now: Timestamp,
    pub flap_window: SignedDuration,
    pub flap_changes: usize,
    /// There was no alert state at all: problems are the summary of what is open.
    pub first_run: bool,
    /// A notifier's reminder is due: say what is still down.
    pub remind: bool,
}

/// Compares what this run saw of one environment with what was known before;
/// returns its changes (with reminders, when due) and leaves the new state in
/// `st`.
pub fn advance(st: &mut EnvAlerts, seen: &Seen, policy: &Policy) -> Vec<Change> {
    st.prune(policy.now, policy.flap_window);
    let current: BTreeMap<String, &Problem> = seen.problems.iter().map(|p| (p.subject.key(), p)).collect();
    let mut run = Run { st, changes: Vec::new(), policy, incident_at: None };
    if policy.remind {
        // What was open and announced before this run, and still is.
        run.changes.extend(still_down(run.st, policy.now, |o| current.contains_key(&o.subject.key())));
    }
    for (key, p) in &current {
        run.seen_problem(key, seen, p);
    }
    let gone: Vec<String> = run.st.open.keys().filter(|k| !current.contains_key(*k)).cloned().collect();
    for key in gone {
        if observable(seen, &run.st.open[&key].subject) {
            run.close(&key, "fine again", true);
        }
    }
    run.settle_flapping();
    run.changes
}

/// The worst severity of the open problems of `st` that were announced: whether
/// (and for which notifiers) there is anything to remind of.
pub fn announced(st: &EnvAlerts) -> Option<Severity> {
    st.open.values().filter(|o| o.notified && o.known.is_none()).map(|o| o.severity).max()
}

/// Whether this run could see `subject` at all: a container only on a host
/// that reported, anything below the environment only when it was judged.
fn observable(env: &Seen, subject: &Subject) -> bool {
    match (&subject.host, &subject.container) {
        (None, _) => true,
        (Some(_), None) => env.judged,
        (Some(host), Some(_)) => env.judged && env.listed_hosts.contains(host),
    }
}

struct Run<'a> {
    st: &'a mut EnvAlerts,
    changes: Vec<Change>,
    policy: &'a Policy,
    /// Where each incident is in `st.incidents`, by id (the last of an id wins),
    /// made at the first lookup: an environment with thousands of open problems
    /// would otherwise search its incidents once per problem.
    incident_at: Option<HashMap<String, usize>>,
}

impl Run<'_> {
    fn seen_problem(&mut self, key: &str, env: &Seen, p: &Problem) {
        let now = self.policy.now;
        if let Some(open) = self.st.open.get_mut(key) {
            open.state.clone_from(&p.state);
            open.problem.clone_from(&p.problem);
            open.severity = p.severity;
            let window_ended = open.known.is_some() && p.known.is_none() && !open.notified;
            open.known.clone_from(&p.known);
            if window_ended {
                // Silenced until now by a known issue or maintenance that has ended.
                open.notified = true;
                self.changes.push(change_of(open, ChangeKind::Down, now, p));
            }
            let open = open.clone();
            if let Some(i) = self.incident_mut(&open.incident) {
                // The incident says what the open problem says (it is what is kept).
                (i.state, i.problem, i.severity, i.known, i.notified) =
                    (open.state, open.problem, open.severity, open.known, open.notified);
            }
            return;
        }
        let since = p.since.unwrap_or(now).min(now);
        let incident = format!("{key}@{now}");
        let mut open = Open {
            subject: p.subject.clone(),
            page: env.page.clone(),
            group: env.group.clone(),
            problem: p.problem.clone(),
            severity: p.severity,
            state: p.state.clone(),
            since,
            known: p.known.clone(),
            notified: false,
            incident: incident.clone(),
        };
        if p.known.is_none() {
            open.notified = true;
            if self.policy.first_run {
                self.changes.push(change_of(&open, ChangeKind::Open, now, p));
            } else if !self.flipped(key, &open, p) {
                self.changes.push(change_of(&open, ChangeKind::Down, now, p));
            }
        }
        if let Some(at) = &mut self.incident_at {
            at.insert(incident.clone(), self.st.incidents.len());
        }
        self.st.incidents.push(Incident {
            id: incident,
            subject: open.subject.clone(),
            page: open.page.clone(),
            problem: open.problem.clone(),
            severity: open.severity,
            state: open.state.clone(),
            started: since,
            ended: None,
            recovered_state: None,
            known: open.known.clone(),
            notified: open.notified,
        });
        self.st.open.insert(key.to_owned(), open);
    }

    /// Ends the open problem `key`; `announce` sends its recovery when its
    /// going down was sent.
    fn close(&mut self, key: &str, how: &str, announce: bool) {
        let now = self.policy.now;
        let Some(open) = self.st.open.remove(key) else { return };
        if let Some(i) = self.incident_mut(&open.incident) {
            i.ended = Some(now);
            i.recovered_state = Some(how.to_owned());
        }
        if announce && open.notified && open.known.is_none() {
            let none = as_problem(&open, open.state.clone());
            if !self.flipped(key, &open, &none) {
                let mut change = change_of(&open, ChangeKind::Recovered, now, &none);
                change.down_seconds = Some(now.duration_since(open.since).as_secs().max(0));
                self.changes.push(change);
            }
        }
    }

    /// Counts a change of `key`'s state; true when flapping holds its message
    /// back (the one flapping message is sent when it starts).
    fn flipped(&mut self, key: &str, open: &Open, p: &Problem) -> bool {
        let now = self.policy.now;
        let times = self.st.flips.entry(key.to_owned()).or_default();
        times.push(now);
        let count = times.len();
        if self.st.flapping.contains(key) {
            return true;
        }
        if count >= self.policy.flap_changes.max(2) {
            self.st.flapping.insert(key.to_owned());
            let mut change = change_of(open, ChangeKind::Flapping, now, p);
            change.flips = Some(count);
            self.changes.push(change);
            return true;
        }
        false
    }

    /// Subjects that flapped and have held still for a whole window: their final
    /// state, once.
    fn settle_flapping(&mut self) {
        let now = self.policy.now;
        let settled: Vec<String> =
            self.st.flapping.iter().filter(|k| !self.st.flips.contains_key(*k)).cloned().collect();
        for key in settled {
            self.st.flapping.remove(&key);
            match self.st.open.get(&key) {
                Some(open) if open.known.is_none() => {
                    let p = as_problem(open, format!("{} (stopped flapping, still a problem)", open.state));
                    self.changes.push(change_of(open, ChangeKind::Down, now, &p));
                }
                Some(_) => {}
                None => {
                    // Fine since it last changed: say so, for the one who saw it flap.
                    let last = self.st.incidents.iter().rev().find(|i| i.subject.key() == key);
                    if let Some(i) = last {
                        self.changes.push(Change {
                            at: now,
                            change: ChangeKind::Recovered,
                            subject: i.subject.clone(),
                            page: i.page.clone(),
                            group: None,
                            problem: i.problem.clone(),
                            severity: i.severity,
                            state: format!("{} (stopped flapping, fine again)", i.state),
                            exit_meaning: None,
                            since: i.started,
                            down_seconds: None,
                            flips: None,
                            logs: Vec::new(),
                        });
                    }
                }
            }
        }
    }

    fn incident_mut(&mut self, id: &str) -> Option<&mut Incident> {
        let incidents = &self.st.incidents;
        let at = self
            .incident_at
            .get_or_insert_with(|| incidents.iter().enumerate().map(|(at, i)| (i.id.clone(), at)).collect());
        at.get(id).and_then(|&at| self.st.incidents.get_mut(at))
    }
}

/// An open problem as this run would tell it, in `state`'s words.
fn as_problem(open: &Open, state: String) -> Problem {
    Problem {
        subject: open.subject.clone(),
        problem: open.problem.clone(),
        severity: open.severity,
        state,
        exit_meaning: None,
        since: Some(open.since),
        known: None,
        logs: Vec::new(),
    }
}

fn change_of(open: &Open, change: ChangeKind, now: Timestamp, p: &Problem) -> Change {
    Change {
        at: now,
        change,
        subject: open.subject.clone(),
        page: open.page.clone(),
        group: open.group.clone(),
        problem: open.problem.clone(),
        severity: open.severity,
        state: p.state.clone(),
        exit_meaning: p.exit_meaning.clone(),
        since: open.since,
        down_seconds: None,
        flips: None,
        logs: p.logs.clone(),
    }
}

/// The open, announced problems a notifier would be reminded of.
pub fn still_down(state: &EnvAlerts, now: Timestamp, wanted: impl Fn(&Open) -> bool) -> Vec<Change> {
    state
        .open
        .values()
        .filter(|o| o.notified && o.known.is_none() && wanted(o))
        .map(|o| change_of(o, ChangeKind::StillDown, now, &as_problem(o, o.state.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn t(minute: i64) -> Timestamp {
        Timestamp::from_second(1_795_624_200 + minute * 60).unwrap()
    }

    fn policy(minute: i64) -> Policy {
        Policy {
            now: t(minute),
            flap_window: SignedDuration::from_hours(1),
            flap_changes: 4,
            first_run: false,
            remind: false,
        }
    }

    /// One environment, host `h` listed, with these containers down.
    fn seen(down: &[&str]) -> Seen {
        Seen {
            env: "prod".into(),
            page: "prod.html".into(),
            group: None,
            judged: true,
            listed_hosts: HashSet::from(["h".to_owned()]),
            problems: down.iter().map(|c| problem(c, None)).collect(),
        }
    }

    fn problem(container: &str, known: Option<&str>) -> Problem {
        Problem {
            subject: Subject { env: "prod".into(), host: Some("h".into()), container: Some(container.into()) },
            problem: "exited".into(),
            severity: Severity::Critical,
            state: "exited 1 (application error)".into(),
            exit_meaning: Some("application error".into()),
            since: None,
            known: known.map(str::to_owned),
            logs: vec!["boom".into()],
        }
    }

    fn kinds(changes: &[Change]) -> Vec<(ChangeKind, String)> {
        changes.iter().map(|c| (c.change, c.subject.container.clone().unwrap_or_default())).collect()
    }

    #[test]
    fn down_once_quiet_while_down_recovered_once() {
        let mut st = EnvAlerts::default();
        assert!(advance(&mut st, &seen(&[]), &policy(0)).is_empty(), "all fine: nothing");
        let changes = advance(&mut st, &seen(&["web"]), &policy(5));
        assert_eq!(kinds(&changes), [(ChangeKind::Down, "web".into())]);
        assert_eq!(changes[0].logs, ["boom"]);
        assert!(advance(&mut st, &seen(&["web"]), &policy(10)).is_empty(), "still down: nothing");
        let changes = advance(&mut st, &seen(&[]), &policy(15));
        assert_eq!(kinds(&changes), [(ChangeKind::Recovered, "web".into())]);
        assert_eq!(changes[0].down_seconds, Some(600));
        assert_eq!(st.incidents.len(), 1);
        assert_eq!((st.incidents[0].started, st.incidents[0].ended), (t(5), Some(t(15))));
        assert!(st.open.is_empty());
    }

    #[test]
    fn the_first_run_sums_up_what_is_open_and_then_only_changes() {
        let mut st = EnvAlerts::default();
        let first = Policy { first_run: true, ..policy(0) };
        let changes = advance(&mut st, &seen(&["web", "db"]), &first);
        assert_eq!(kinds(&changes), [(ChangeKind::Open, "db".into()), (ChangeKind::Open, "web".into())]);
        let changes = advance(&mut st, &seen(&["db"]), &policy(5));
        assert_eq!(
            kinds(&changes),
            [(ChangeKind::Recovered, "web".into())],
            "announced by the summary: its recovery is sent"
        );
        assert!(advance(&mut EnvAlerts::default(), &seen(&[]), &first).is_empty(), "nothing open: nothing to sum up");
    }

    #[test]
    fn known_issues_silence_until_the_window_ends() {
        let known = || {
            let mut s = seen(&[]);
            s.problems.push(problem("db", Some("maintenance OPS-1")));
            s
        };
        let mut st = EnvAlerts::default();
        assert!(advance(&mut st, &known(), &policy(5)).is_empty(), "explained: silent");
        assert_eq!(st.incidents[0].known.as_deref(), Some("maintenance OPS-1"));
        // The window ended and it is still down: sent now, once.
        assert_eq!(kinds(&advance(&mut st, &seen(&["db"]), &policy(10))), [(ChangeKind::Down, "db".into())]);
        assert!(advance(&mut st, &seen(&["db"]), &policy(15)).is_empty());
        // A problem that recovers while still explained sends nothing at all.
        let mut st = EnvAlerts::default();
        advance(&mut st, &known(), &policy(20));
        assert!(advance(&mut st, &seen(&[]), &policy(25)).is_empty());
    }

    #[test]
    fn a_host_not_reporting_neither_recovers_nor_repeats_its_containers() {
        let mut st = EnvAlerts::default();
        advance(&mut st, &seen(&["web"]), &policy(5));
        let mut s = seen(&[]);
        s.listed_hosts.clear();
        s.problems.push(Problem {
            subject: Subject { env: "prod".into(), host: Some("h".into()), container: None },
            problem: "unreachable".into(),
            state: "ssh: Connection timed out".into(),
            ..problem("x", None)
        });
        let changes = advance(&mut st, &s, &policy(10));
        assert_eq!(changes.iter().map(|c| c.subject.what()).collect::<Vec<_>>(), ["host"]);
        assert!(st.open.keys().any(|k| k.ends_with("web")), "web stays open");
        // The environment cannot be read at all: it goes down, nothing below it changes.
        let mut s = seen(&[]);
        s.judged = false;
        s.listed_hosts.clear();
        s.problems.push(Problem {
            subject: Subject { env: "prod".into(), host: None, container: None },
            problem: "unknown".into(),
            state: "the file is empty".into(),
            ..problem("x", None)
        });
        let changes = advance(&mut st, &s, &policy(15));
        assert_eq!(
            changes.iter().map(|c| (c.change, c.subject.what())).collect::<Vec<_>>(),
            [(ChangeKind::Down, "environment")]
        );
        assert_eq!(st.open.len(), 3, "web, its host and the environment are open");
    }

    #[test]
    fn a_flapping_container_sends_one_message_with_a_count() {
        let mut st = EnvAlerts::default();
        let mut all = Vec::new();
        for (i, minute) in (5..=45).step_by(5).enumerate() {
            let down: &[&str] = if i % 2 == 0 { &["web"] } else { &[] };
            all.extend(advance(&mut st, &seen(down), &policy(minute)).iter().map(|c| (minute, c.change, c.flips)));
        }
        // Down, up, down, then the fourth change within the hour: flapping, with its count.
        assert_eq!(
            all,
            [
                (5, ChangeKind::Down, None),
                (10, ChangeKind::Recovered, None),
                (15, ChangeKind::Down, None),
                (20, ChangeKind::Flapping, Some(4))
            ]
        );
        // An hour without a change: its final state, once.
        let changes = advance(&mut st, &seen(&["web"]), &policy(105));
        assert_eq!(kinds(&changes), [(ChangeKind::Down, "web".into())]);
        assert!(changes[0].state.contains("stopped flapping"), "{}", changes[0].state);
        assert!(advance(&mut st, &seen(&["web"]), &policy(110)).is_empty());
    }

    #[test]
    fn reminders_say_what_is_still_down_and_was_announced() {
        let mut st = EnvAlerts::default();
        advance(&mut st, &seen(&["web"]), &policy(5));
        let mut s = seen(&["web", "api"]);
        s.problems.push(problem("db", Some("known")));
        let remind = Policy { remind: true, ..policy(250) };
        let changes = advance(&mut st, &s, &remind);
        assert_eq!(
            changes.iter().map(|c| (c.change, c.subject.words())).collect::<Vec<_>>(),
            [(ChangeKind::StillDown, "prod / h / web".to_owned()), (ChangeKind::Down, "prod / h / api".to_owned())],
            "api is news, db is explained"
        );
        assert_eq!(changes[0].since, t(5));
        assert_eq!(announced(&st), Some(Severity::Critical));
    }
}
