//! Sending: for each notifier, the changes it wants (with what failed before
//! and any reminders due) as one message, tried up to three times with backoff
//! within the run. What still fails is kept in the state and sent with the next
//! run's changes; a failure never stops the render or the publish, and it is
//! reported on stderr, in `status.json` and in the metrics.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::alert::changes::{Change, ChangeKind};
use crate::alert::http::{Failure, Http};
use crate::alert::message::Message;
use crate::alert::state::{AlertState, NotifierState};
use crate::alert::{Subject, email, sinks};
use crate::settings::{Notifier, NotifierKind, Settings, matches, parse_duration};

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Tries {
    pub attempts: usize,
    /// Each attempt's deadline.
    pub timeout: Duration,
    /// Before the second attempt; doubled before each one after.
    pub backoff: Duration,
}

impl Default for Tries {
    fn default() -> Tries {
        Tries { attempts: 3, timeout: Duration::from_secs(10), backoff: Duration::from_secs(1) }
    }
}

impl Tries {
    /// Three attempts, each within `[alerts] timeout`.
    pub fn of(settings: &Settings) -> Tries {
        let timeout = parse_duration("[alerts] timeout", &settings.alerts.timeout)
            .ok()
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or(Duration::from_secs(10));
        Tries { timeout, ..Tries::default() }
    }
}

/// What became of one notifier's message, for people and `status.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub notifier: String,
    pub kind: NotifierKind,
    /// Changes in the message (0: nothing to send this run).
    pub changes: usize,
    pub delivered: bool,
    pub attempts: usize,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Changes kept for the next run.
    pub pending: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_delivered: Option<Timestamp>,
}

impl Delivery {
    /// One line for stdout or stderr.
    pub fn summary(&self) -> String {
        match (&self.error, self.changes) {
            (_, 0) => format!("notify {}: nothing to send", self.notifier),
            (None, n) => format!(
                "notify {}: sent {n} change{} ({} attempt{}, {:.1} s)",
                self.notifier,
                if n == 1 { "" } else { "s" },
                self.attempts,
                if self.attempts == 1 { "" } else { "s" },
                self.seconds
            ),
            (Some(e), n) => format!(
                "notify {}: {n} change{} NOT delivered after {} attempt{} ({:.1} s): {e}; kept for the next run",
                self.notifier,
                if n == 1 { "" } else { "s" },
                self.attempts,
                if self.attempts == 1 { "" } else { "s" },
                self.seconds
            ),
        }
    }
}

/// Whether notifier `n` wants to hear about a change of `env` (in `group`) of `severity`.
fn wants(n: &Notifier, env: &str, group: Option<&str>, severity: crate::settings::Severity) -> bool {
    (n.environments.is_empty() || n.environments.iter().any(|p| matches(p, env)))
        && (n.groups.is_empty() || group.is_some_and(|g| n.groups.iter().any(|w| w == g)))
        && severity >= n.min_severity
}

/// The notifier's reminder interval: its own, else `[alerts]`'s, `None` for none.
fn remind_every(settings: &Settings, n: &Notifier) -> Result<Option<SignedDuration>> {
    match n.remind_every.as_deref().or(settings.alerts.remind_every.as_deref()) {
        None | Some("off") => Ok(None),
        Some(every) => parse_duration("remind_every", every).map(Some),
    }
}

/// An environment with announced problems still open, and the worst of them.
#[derive(Debug, Clone)]
pub struct OpenEnv {
    pub env: String,
    pub group: Option<String>,
    pub severity: crate::settings::Severity,
}

/// What each notifier is sent this run, with the notifiers' state brought up to
/// date as if every message were delivered (a failed send puts its changes back).
/// Reminders (`still_down` changes, made when one was due) go only to notifiers
/// whose own reminder is due.
pub fn plan(
    settings: &Settings,
    state: &mut AlertState,
    changes: &[Change],
    open: &[OpenEnv],
    first_run: bool,
    now: Timestamp,
) -> Vec<(usize, Message)> {
    let mut plans = Vec::new();
    for (i, n) in settings.notifiers.iter().enumerate() {
        let name = settings.notifier_name(i);
        let every = remind_every(settings, n).unwrap_or(None);
        let ns = state.notifiers.entry(name.clone()).or_default();
        let due = every.is_some() && ns.remind_at.is_some_and(|at| at <= now);
        let fresh: Vec<Change> = changes
            .iter()
            .filter(|c| wants(n, &c.subject.env, c.group.as_deref(), c.severity))
            .filter(|c| c.change != ChangeKind::StillDown || due)
            .cloned()
            .collect();
        let open_now = open.iter().any(|o| wants(n, &o.env, o.group.as_deref(), o.severity));
        ns.remind_at = match every {
            Some(every) if open_now => match ns.remind_at {
                Some(_) if due => Some(now + every),
                None => Some(now + every),
                kept => kept,
            },
            _ => None,
        };
        let mut all = std::mem::take(&mut ns.pending);
        all.extend(fresh);
        if all.is_empty() {
            continue;
        }
        let firing = all.iter().any(|c| c.change.firing());
        if let (Some(every), true) = (every, firing) {
            ns.remind_at = Some(now + every);
        }
        let summary = first_run && all.iter().all(|c| c.change == ChangeKind::Open);
        plans.push((i, Message::new(&name, all, summary, now, settings.site_url.as_deref())));
    }
    plans
}

/// Sends the planned messages, all notifiers at once, and records the outcome in
/// `state`. With `dry_run`, prints them instead and touches nothing.
pub fn send_all(
    settings: &Settings,
    state: &mut AlertState,
    plans: Vec<(usize, Message)>,
    tries: Tries,
    dry_run: bool,
) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    if dry_run {
        for (i, m) in &plans {
            let n = &settings.notifiers[*i];
            println!("notify {} ({}): would send\n{}", m.notifier, kind_word(n.kind), sinks::plain(m));
        }
        return deliveries;
    }
    if plans.is_empty() {
        return deliveries;
    }
    let outcomes = send_messages(settings, &plans, tries);
    for ((i, m), (result, attempts, seconds)) in plans.into_iter().zip(outcomes) {
        let n = &settings.notifiers[i];
        let ns: &mut NotifierState = state.notifiers.entry(m.notifier.clone()).or_default();
        ns.last_attempt = Some(m.generated_at);
        let changes: Vec<Change> = m.changes().cloned().collect();
        let delivery = Delivery {
            notifier: m.notifier.clone(),
            kind: n.kind,
            changes: changes.len(),
            delivered: result.is_ok(),
            attempts,
            seconds,
            error: result.as_ref().err().cloned(),
            pending: if result.is_ok() { 0 } else { changes.len() },
            last_delivered: if result.is_ok() { Some(m.generated_at) } else { ns.last_delivered },
        };
        match result {
            Ok(()) => {
                ns.last_delivered = Some(m.generated_at);
                ns.last_error = None;
                ns.failures = 0;
            }
            Err(e) => {
                // Back in the queue, in front of whatever comes next.
                ns.pending = changes;
                ns.last_error = Some(e);
                ns.failures += 1;
            }
        }
        deliveries.push(delivery);
    }
    deliveries
}

fn kind_word(kind: NotifierKind) -> &'static str {
    match kind {
        NotifierKind::Webhook => "webhook",
        NotifierKind::Slack => "slack",
        NotifierKind::Teams => "teams",
        NotifierKind::Email => "email",
    }
}

/// Each message sent, all at once: (result, attempts made, seconds taken).
fn send_messages(
    settings: &Settings,
    plans: &[(usize, Message)],
    tries: Tries,
) -> Vec<(Result<(), String>, usize, f64)> {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let e = format!("cannot start the async runtime for notifications: {e}");
            return plans.iter().map(|_| (Err(e.clone()), 0, 0.0)).collect();
        }
    };
    runtime.block_on(async {
        let http = Http::new(tries.timeout).map_err(|e| format!("{e:#}"));
        let http = &http;
        let sends = plans.iter().map(|(i, m)| async move {
            let started = Instant::now();
            let n = &settings.notifiers[*i];
            let (result, attempts) = send_with_retries(n, m, http, tries).await;
            (result, attempts, started.elapsed().as_secs_f64())
        });
        futures::future::join_all(sends).await
    })
}

async fn send_with_retries(
    n: &Notifier,
    m: &Message,
    http: &Result<Http, String>,
    tries: Tries,
) -> (Result<(), String>, usize) {
    let mut backoff = tries.backoff;
    let mut last = String::new();
    for attempt in 1..=tries.attempts.max(1) {
        match send_once(n, m, http, tries.timeout).await {
            Ok(()) => return (Ok(()), attempt),
            Err(Failure::Permanent(e)) => return (Err(e), attempt),
            Err(Failure::Transient(e)) => {
                log::info!("notify {}: attempt {attempt} failed: {e}", m.notifier);
                last = e;
            }
        }
        if attempt < tries.attempts {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    (Err(last), tries.attempts.max(1))
}

/// The notifier's address, from the file or its environment variable. An unset
/// variable is a failure of this notifier, never of the run.
pub fn url(n: &Notifier) -> Result<String> {
    if let Some(url) = &n.url {
        return Ok(url.clone());
    }
    let var = n.url_env.as_deref().unwrap_or_default();
    let url = std::env::var(var).with_context(|| format!("the variable {var} (url_env) is not set"))?;
    if url.trim().is_empty() {
        bail!("the variable {var} (url_env) is empty");
    }
    Ok(url)
}

async fn send_once(n: &Notifier, m: &Message, http: &Result<Http, String>, timeout: Duration) -> Result<(), Failure> {
    let body = match n.kind {
        NotifierKind::Webhook => sinks::webhook(m),
        NotifierKind::Slack => sinks::slack(m),
        NotifierKind::Teams => sinks::teams(m),
        NotifierKind::Email => {
            let (n, m) = (n.clone(), m.clone());
            let sent =
                tokio::time::timeout(timeout * 3, tokio::task::spawn_blocking(move || email::send(&m, &n, timeout)))
                    .await;
            return match sent {
                Ok(Ok(sent)) => sent,
                Ok(Err(e)) => Err(Failure::Transient(format!("the mail task failed: {e}"))),
                Err(_) => Err(Failure::Transient(format!(
                    "the SMTP server did not finish within {} s",
                    (timeout * 3).as_secs()
                ))),
            };
        }
    };
    let url = url(n).map_err(|e| Failure::Permanent(format!("{e:#}")))?;
    let http = http.as_ref().map_err(|e| Failure::Permanent(e.clone()))?;
    let bytes = serde_json::to_vec(&body).map_err(|e| Failure::Permanent(e.to_string()))?;
    http.post_json(&url, bytes, timeout).await
}

/// `envdash notify --test`: a sample message to every notifier.
pub fn test_all(settings: &Settings, now: Timestamp, tries: Tries) -> Vec<Delivery> {
    let plans: Vec<(usize, Message)> = (0..settings.notifiers.len())
        .map(|i| {
            let name = settings.notifier_name(i);
            let change = Change {
                at: now,
                change: ChangeKind::Down,
                subject: Subject {
                    env: "envdash-test".into(),
                    host: Some("example-host".into()),
                    container: Some("example-container".into()),
                },
                page: "index.html".into(),
                group: None,
                problem: "test".into(),
                severity: crate::settings::Severity::Critical,
                state: "a test message from envdash notify --test: nothing is wrong".into(),
                exit_meaning: None,
                since: now,
                down_seconds: None,
                flips: None,
                logs: vec!["this is how the last log lines of a container look".into()],
            };
            let mut m = Message::new(&name, vec![change], false, now, settings.site_url.as_deref());
            m.test = true;
            m.title = format!("envdash test message for {name}: notifications work");
            (i, m)
        })
        .collect();
    let mut scratch = AlertState::new(now);
    send_all(settings, &mut scratch, plans, tries, false)
}
