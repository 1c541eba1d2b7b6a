//! What alerting remembers between runs. Per environment, in its history file
//! ([`EnvAlerts`]): every open problem (and whether it was announced), recent
//! changes for flap detection, and the incidents of the last 30 days. For all,
//! in `history/alerts.json` ([`AlertState`]): each notifier's undelivered
//! changes and reminder clock. Both are published with the site, so a replaced
//! Jenkins controller reads them back from the bucket and neither repeats an
//! alert nor forgets since when something is down.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::alert::Subject;
use crate::alert::changes::Change;
use crate::settings::Severity;

/// The file's place in the site.
pub const STATE_FILE: &str = "history/alerts.json";
/// Incidents are kept this long (incidents.html, feed.xml).
pub const INCIDENT_DAYS: i64 = 30;
/// Undelivered changes kept per notifier; older ones are dropped, and counted.
pub const PENDING_KEPT: usize = 1000;
const VERSION: u32 = 1;

/// What alerting remembers across environments: `history/alerts.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    pub version: u32,
    /// When envdash started watching (the first run that kept this file).
    pub watching_since: Timestamp,
    /// The last run that updated it.
    pub updated: Timestamp,
    /// By notifier name.
    #[serde(default)]
    pub notifiers: BTreeMap<String, NotifierState>,
}

/// What alerting remembers of one environment, kept in its history file (so
/// it is read and written by the worker that renders the environment, and a
/// large fleet's alerts are never all in memory at once).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvAlerts {
    /// Every problem open now, by [`Subject::key`]: the incidents not ended,
    /// so not written down twice (see [`EnvAlerts::reopen`]).
    #[serde(skip)]
    pub open: BTreeMap<String, Open>,
    /// Times each subject changed state within the flap window, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flips: BTreeMap<String, Vec<Timestamp>>,
    /// Subjects announced as flapping, whose single changes are not sent.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub flapping: BTreeSet<String>,
    /// Oldest first, the last [`INCIDENT_DAYS`] days.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<Incident>,
}

impl EnvAlerts {
    pub fn is_empty(&self) -> bool {
        self.open.is_empty() && self.flips.is_empty() && self.flapping.is_empty() && self.incidents.is_empty()
    }

    /// After reading from history: the open problems from the incidents that
    /// have not ended, and the page and group (the environment's, not kept).
    pub fn reopen(&mut self, page: &str, group: Option<&str>) {
        self.open.clear();
        for i in &mut self.incidents {
            i.page = page.to_owned();
            if i.ended.is_none() {
                let open = Open {
                    subject: i.subject.clone(),
                    page: page.to_owned(),
                    group: group.map(str::to_owned),
                    problem: i.problem.clone(),
                    severity: i.severity,
                    state: i.state.clone(),
                    since: i.started,
                    known: i.known.clone(),
                    notified: i.notified,
                    incident: i.id.clone(),
                };
                self.open.insert(i.subject.key(), open);
            }
        }
    }

    /// Drops closed incidents past [`INCIDENT_DAYS`] and flips past the flap window.
    pub fn prune(&mut self, now: Timestamp, flap_window: SignedDuration) {
        let horizon = now - SignedDuration::from_hours(24 * INCIDENT_DAYS);
        self.incidents.retain(|i| i.ended.is_none_or(|e| e >= horizon));
        let since = now - flap_window;
        for times in self.flips.values_mut() {
            times.retain(|t| *t > since);
        }
        self.flips.retain(|_, times| !times.is_empty());
    }
}

/// A problem that is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Open {
    pub subject: Subject,
    pub page: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub problem: String,
    pub severity: Severity,
    pub state: String,
    pub since: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<String>,
    /// A message about it went out (or waits to be delivered): its recovery will too.
    pub notified: bool,
    /// The incident it belongs to.
    pub incident: String,
}

/// One notifier's memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NotifierState {
    /// Changes not delivered yet (the last attempts failed), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Change>,
    /// Pending changes dropped because too many waited.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivered: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Runs in a row whose delivery failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: usize,
    /// When open problems are next repeated, with `remind_every`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_at: Option<Timestamp>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One problem from start to end, for the incident log and the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable: the subject and the start, never reused.
    pub id: String,
    pub subject: Subject,
    /// Its environment's page (not kept: [`EnvAlerts::reopen`] sets it).
    #[serde(skip)]
    pub page: String,
    pub problem: String,
    pub severity: Severity,
    pub state: String,
    pub started: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Timestamp>,
    /// What the state was when it ended (`running`), for the feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_state: Option<String>,
    /// The known issue or maintenance that covered it (nothing was sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<String>,
    /// Whether a message went out about it.
    pub notified: bool,
}

impl AlertState {
    pub fn new(now: Timestamp) -> AlertState {
        AlertState { version: VERSION, watching_since: now, updated: now, notifiers: BTreeMap::new() }
    }

    /// Reads the state from a site folder: `None` when there is none (the first
    /// run). A file that cannot be read is reported and taken as none.
    pub fn load(site: &Path) -> Option<AlertState> {
        let path = site.join(STATE_FILE);
        let bytes = match crate::readfile::read_regular(&path) {
            Ok(snapshot) => snapshot.into_bytes(),
            Err(crate::readfile::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                log::warn!("{}: cannot read the alert state ({e}); alerts start afresh", path.display());
                return None;
            }
        };
        match serde_json::from_slice::<AlertState>(&bytes) {
            Ok(state) if state.version == VERSION => Some(state),
            Ok(state) => {
                log::warn!("{}: alert state of version {}; alerts start afresh", path.display(), state.version);
                None
            }
            Err(e) => {
                log::warn!("{}: the alert state is not readable ({e}); alerts start afresh", path.display());
                None
            }
        }
    }

    /// Keeps at most [`PENDING_KEPT`] undelivered changes per notifier.
    pub fn prune(&mut self) {
        for n in self.notifiers.values_mut() {
            let excess = n.pending.len().saturating_sub(PENDING_KEPT);
            if excess > 0 {
                n.pending.drain(..excess);
                n.dropped += excess;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::alert::changes::{Policy, advance};
    use crate::alert::{Problem, Seen};

    #[test]
    fn open_problems_are_kept_once_as_incidents_and_come_back_from_them() {
        let now = Timestamp::from_second(1_795_624_200).unwrap();
        let seen = Seen {
            env: "prod".into(),
            page: "prod.html".into(),
            group: Some("Prod".into()),
            judged: true,
            listed_hosts: HashSet::from(["h".to_owned()]),
            problems: vec![Problem {
                subject: Subject { env: "prod".into(), host: Some("h".into()), container: Some("web".into()) },
                problem: "exited".into(),
                severity: Severity::Critical,
                state: "exited 1".into(),
                exit_meaning: None,
                since: None,
                known: None,
                logs: vec![],
            }],
        };
        let policy = Policy {
            now,
            flap_window: SignedDuration::from_hours(1),
            flap_changes: 4,
            first_run: false,
            remind: false,
        };
        let mut st = EnvAlerts::default();
        advance(&mut st, &seen, &policy);
        let json = serde_json::to_string(&st).unwrap();
        assert_eq!(json.matches("exited 1").count(), 1, "written once: {json}");
        let mut back: EnvAlerts = serde_json::from_str(&json).unwrap();
        back.reopen("prod.html", Some("Prod"));
        assert_eq!(back, st);
    }
}
