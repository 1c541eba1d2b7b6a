//! What alerting remembers between runs, in `history/alerts.json` beside the
//! environments' history: every open problem (and whether it was announced),
//! recent changes for flap detection, each notifier's undelivered changes and
//! reminder clock, and the incidents of the last 30 days. It is published with
//! the site, so a replaced Jenkins controller reads it back from the bucket
//! and neither repeats an alert nor forgets since when something is down.

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    pub version: u32,
    /// When envdash started watching (the first run that kept this file).
    pub watching_since: Timestamp,
    /// The last run that updated it.
    pub updated: Timestamp,
    /// Every problem open now, by [`Subject::key`].
    #[serde(default)]
    pub open: BTreeMap<String, Open>,
    /// Times each subject changed state within the flap window, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flips: BTreeMap<String, Vec<Timestamp>>,
    /// Subjects announced as flapping, whose single changes are not sent.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub flapping: BTreeSet<String>,
    /// By notifier name.
    #[serde(default)]
    pub notifiers: BTreeMap<String, NotifierState>,
    /// Newest last, the last [`INCIDENT_DAYS`] days.
    #[serde(default)]
    pub incidents: Vec<Incident>,
}

/// A problem that is open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable: the subject and the start, never reused.
    pub id: String,
    pub subject: Subject,
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
        AlertState {
            version: VERSION,
            watching_since: now,
            updated: now,
            open: BTreeMap::new(),
            flips: BTreeMap::new(),
            flapping: BTreeSet::new(),
            notifiers: BTreeMap::new(),
            incidents: Vec::new(),
        }
    }

    /// Reads the state from a site folder: `None` when there is none (the first
    /// run). A file that cannot be read is reported and taken as none.
    pub fn load(site: &Path) -> Option<AlertState> {
        let path = site.join(STATE_FILE);
        let bytes = match crate::readfile::read_regular(&path) {
            Ok(snapshot) => snapshot.bytes,
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

    /// Drops what is older than it needs to be: closed incidents past
    /// [`INCIDENT_DAYS`], flips past the flap window, pending changes past
    /// [`PENDING_KEPT`] per notifier.
    pub fn prune(&mut self, now: Timestamp, flap_window: SignedDuration) {
        let horizon = now - SignedDuration::from_hours(24 * INCIDENT_DAYS);
        self.incidents.retain(|i| i.ended.is_none_or(|e| e >= horizon));
        let since = now - flap_window;
        for times in self.flips.values_mut() {
            times.retain(|t| *t > since);
        }
        self.flips.retain(|_, times| !times.is_empty());
        for n in self.notifiers.values_mut() {
            let excess = n.pending.len().saturating_sub(PENDING_KEPT);
            if excess > 0 {
                n.pending.drain(..excess);
                n.dropped += excess;
            }
        }
    }
}
