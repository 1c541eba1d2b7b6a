//! What makes envdash never silently wrong: expected hosts and containers,
//! stale data, known issues, and memory across runs (problem since, restarts,
//! crash loops). Applied to each environment after parsing, before its verdict.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::history::{EnvHistory, HostTracks, Run, Track, Tracks, stopped_ago, uptime};
use crate::model::{Container, EnvStatus, Environment, Host, Reach};
use crate::settings::{Known, Settings, matches};
use crate::status::State;
use crate::uptime::Segments;

/// A run's verdict for the uptime figures: a problem a known issue explains is maintenance.
fn uptime_seen(problem: bool, known: bool) -> crate::uptime::Seen {
    use crate::uptime::Seen;
    match (problem, known) {
        (false, _) => Seen::Ok,
        (true, true) => Seen::Maintenance,
        (true, false) => Seen::Problem,
    }
}

/// Restarts within the history window that make a running container a crash loop.
pub const CRASH_LOOP_RESTARTS: usize = 3;
/// Docker's durations are coarse; an uptime must fall short by more than this to count as a restart.
const UPTIME_SLACK_SECONDS: u64 = 90;
/// A container first seen with at least [`CRASH_LOOP_RESTARTS`] restarts and
/// started less than this long ago is crash-looping (no history to compare with).
pub const CRASH_LOOP_FRESH_SECONDS: i64 = 600;
/// Restart times kept per container: enough to judge, never growing with a loop.
const RESTARTS_KEPT: usize = 100;

/// Known issues in force now, and maintenance announced for later.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Notices {
    pub active: Vec<Known>,
    pub upcoming: Vec<Known>,
}

/// The settings of one run, ready to apply to each environment.
#[derive(Debug)]
pub struct Monitor {
    settings: Settings,
    now: Timestamp,
    stale_after: Option<SignedDuration>,
    pub notices: Notices,
}

impl Monitor {
    /// Sorts the known issues by time; expired ones are reported and dropped.
    pub fn new(settings: Settings, now: Timestamp) -> anyhow::Result<Monitor> {
        let stale_after = settings.stale_threshold()?;
        let mut notices = Notices::default();
        for k in &settings.known {
            if k.expires.is_some_and(|e| e <= now) {
                log::warn!(
                    "known issue for {} ({:?}) expired at {}; ignored: remove it from the known issues",
                    k.environment,
                    k.text,
                    k.expires.unwrap_or(now)
                );
            } else if k.start.is_some_and(|s| s > now) {
                notices.upcoming.push(k.clone());
            } else {
                notices.active.push(k.clone());
            }
        }
        Ok(Monitor { settings, now, stale_after, notices })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn stale_after(&self) -> Option<SignedDuration> {
        self.stale_after
    }

    /// Applies everything to `env`, sets its verdict, and returns its new history
    /// (when history is kept).
    pub fn apply(&self, env: &mut Environment, previous: Option<EnvHistory>) -> Option<EnvHistory> {
        let mut hosts = BTreeMap::new();
        let history = self.apply_streaming(env, previous, &mut |name, tracks| {
            hosts.insert(name, tracks);
        });
        history.map(|h| EnvHistory { hosts, ..h })
    }

    /// [`Monitor::apply`], handing each host's new tracks to `sink` as soon as
    /// they are made instead of keeping them in the history it returns: an
    /// environment of a million containers need not hold them all at once.
    pub fn apply_streaming(
        &self,
        env: &mut Environment,
        previous: Option<EnvHistory>,
        sink: &mut dyn FnMut(String, HostTracks),
    ) -> Option<EnvHistory> {
        env.group = self.settings.group_of(&env.name).map(str::to_owned);
        if let Some(t) = env.data_time {
            // Data from the future is a clock out of step, not old data: its age is 0.
            let age = self.now.duration_since(t).max(SignedDuration::ZERO);
            env.age_seconds = Some(age.as_secs());
            env.stale = self.stale_after.is_some_and(|limit| age > limit);
        }
        if env.error.is_none() {
            self.allow_exit_zero(env);
            self.expect(env);
        }
        self.mark_known(env);
        let history = self.track(env, previous, sink);
        env.finish();
        history.map(|mut h| {
            // The same run rendered again (the same time): told once, counted once.
            let replay = h.runs.last().is_some_and(|r| r.time == self.now);
            if replay {
                h.runs.pop();
            }
            h.runs.push(Run { time: self.now, status: env.status });
            let seen = uptime_seen(env.status != EnvStatus::Ok, env.status == EnvStatus::Known);
            if !replay {
                h.uptime.push(self.now, seen);
            }
            env.uptime = Some(h.uptime.figures(self.now));
            let keep = self.settings.history_runs();
            let excess = h.runs.len().saturating_sub(keep);
            h.runs.drain(..excess);
            h
        })
    }

    fn allow_exit_zero(&self, env: &mut Environment) {
        let allowed = &self.settings.allow_exit_zero;
        for c in env.hosts.iter_mut().flat_map(|h| &mut h.containers) {
            if c.state == State::Exited && c.exit_code == Some(0) && allowed.iter().any(|p| matches(p, &c.name)) {
                c.problem = false;
            }
        }
    }

    /// Adds a `missing` host or container for everything expected and not reported.
    fn expect(&self, env: &mut Environment) {
        for exp in self.settings.expect.iter().filter(|e| e.environments.iter().any(|p| matches(p, &env.name))) {
            for pattern in &exp.hosts {
                let pattern = pattern.replace("{env}", &env.name);
                let found: Vec<usize> =
                    (0..env.hosts.len()).filter(|&i| matches(&pattern, &env.hosts[i].name)).collect();
                if found.is_empty() {
                    let mut host = Host::new(&pattern);
                    host.reach = Reach::Missing;
                    host.detail = Some(if exp.containers.is_empty() {
                        "expected, not found".to_owned()
                    } else {
                        format!("expected, not found (with {})", exp.containers.join(", "))
                    });
                    env.hosts.push(host);
                    continue;
                }
                for i in found {
                    let host = &mut env.hosts[i];
                    if host.reach != Reach::Ok {
                        continue; // nothing is known of its containers
                    }
                    for name in &exp.containers {
                        if !host.containers.iter().any(|c| matches(name, &c.name)) {
                            host.containers.push(Container::missing(name));
                        }
                    }
                }
            }
        }
    }

    fn mark_known(&self, env: &mut Environment) {
        for k in self.notices.active.iter().filter(|k| matches(&k.environment, &env.name)) {
            for host in env.hosts.iter_mut().filter(|h| k.host.as_deref().is_none_or(|p| matches(p, &h.name))) {
                if host.reach != Reach::Ok && k.container.is_none() {
                    host.known = Some(k.text.clone());
                }
                for c in
                    host.containers.iter_mut().filter(|c| k.container.as_deref().is_none_or(|p| matches(p, &c.name)))
                {
                    if c.problem && c.detail().known.is_none() {
                        c.detail_mut().known = Some(k.text.clone());
                    }
                }
            }
        }
    }

    /// Problem since, restarts and crash loops, from the previous runs.
    fn track(
        &self,
        env: &mut Environment,
        previous: Option<EnvHistory>,
        sink: &mut dyn FnMut(String, HostTracks),
    ) -> Option<EnvHistory> {
        let keep_history = self.settings.history_runs() > 0;
        let mut previous = previous.filter(|_| keep_history).unwrap_or_default();
        // The window is what the history will hold after this run.
        let keep = self.settings.history_runs();
        let kept = keep.saturating_sub(1).min(previous.runs.len());
        let window_start = Some(previous.runs.get(previous.runs.len() - kept).map_or(self.now, |r| r.time));
        // How far back restarts are counted, for the reasons shown.
        let window = window_start.map_or(SignedDuration::ZERO, |w| self.now.duration_since(w));
        let runs = std::mem::take(&mut previous.runs);
        let last_run = runs.last().map(|r| r.time);
        // The same run rendered again, at the same time: nothing new was seen.
        let replay = last_run == Some(self.now);
        let env_uptime = std::mem::take(&mut previous.uptime);
        // Containers fine in every run since the environment was first watched
        // keep no segments of their own: theirs would be the environment's span.
        let watched = env_uptime.span();
        let next = EnvHistory { name: env.name.clone(), runs, uptime: env_uptime, ..EnvHistory::default() };
        for host in &mut env.hosts {
            // Taken out of the old history as they are used: the old and the new
            // history of a huge environment are never both whole in memory.
            let before_host = previous.hosts.remove(&host.name);
            if host.reach != Reach::Ok {
                // Nothing was heard of its containers: what was known of them stays.
                if let Some(before_host) = before_host.and_then(|t| t.kept(&env.name, &host.name)) {
                    sink(host.name.clone(), before_host);
                }
                continue;
            }
            let mut before_host = before_host.map(|t| t.tracks(&env.name, &host.name)).unwrap_or_default();
            let mut tracks = Tracks::default();
            for (at, c) in host.containers.iter_mut().filter(|c| c.state != State::Missing).enumerate() {
                let mut before = before_host.take(&c.name, at);
                let mut segments = match before.as_mut() {
                    Some(t) if t.uptime.is_empty() => Segments::fine_since(watched),
                    Some(t) => std::mem::take(&mut t.uptime),
                    None => Segments::default(),
                };
                let before = before.as_ref();
                let mut restarts: Vec<Timestamp> = before
                    .map(|t| t.restarts.iter().copied().filter(|r| window_start.is_none_or(|w| *r >= w)).collect())
                    .unwrap_or_default();
                let up = matches!(c.state, State::Running | State::Paused).then(|| uptime(&c.status)).flatten();
                let mut fresh_loop = false;
                let started_recently = || {
                    c.inspect().started_at.is_some_and(|s| {
                        self.now.duration_since(s) < SignedDuration::from_secs(CRASH_LOOP_FRESH_SECONDS)
                    })
                };
                match (c.inspect().restart_count, before) {
                    // The engine counts restarts: growth since the last run is exact.
                    // A crash loop that restarted again since, moments ago, is still
                    // one, however few restarts its growing back-off left room for:
                    // it ends when a run finds it has not restarted lately.
                    (Some(now_count), Some(Track { restart_count: Some(was), crash_loop: was_loop, .. })) => {
                        let grown = if replay { 0 } else { now_count.saturating_sub(*was) as usize };
                        restarts.extend(std::iter::repeat_n(self.now, grown.min(RESTARTS_KEPT)));
                        fresh_loop = *was_loop && grown > 0 && started_recently();
                    }
                    // Seen for the first time (or its count for the first time): a
                    // count that is already high and a start moments ago say it
                    // keeps coming back.
                    (Some(count), _) => {
                        fresh_loop = count as usize >= CRASH_LOOP_RESTARTS && started_recently();
                    }
                    (None, _) if replay => {}
                    // Without counts: an uptime that went backwards is a restart.
                    (None, _) => {
                        if let (Some((_, up_max)), Some(was_min), Some(seen)) =
                            (up, before.and_then(|t| t.up), last_run)
                        {
                            let elapsed = self.now.duration_since(seen).as_secs().max(0) as u64;
                            if up_max + UPTIME_SLACK_SECONDS < was_min + elapsed {
                                restarts.push(self.now);
                            }
                        }
                        if c.state == State::Restarting {
                            restarts.push(self.now);
                        }
                    }
                }
                restarts.drain(..restarts.len().saturating_sub(RESTARTS_KEPT));
                let was_looping = replay && before.is_some_and(|t| t.crash_loop);
                let crash_loop =
                    c.state == State::Restarting || restarts.len() >= CRASH_LOOP_RESTARTS || fresh_loop || was_looping;
                // Most containers have nothing to note: they get no detail box.
                if !restarts.is_empty() || crash_loop {
                    let d = c.detail_mut();
                    (d.restarts, d.crash_loop) = (restarts.len(), crash_loop);
                }
                c.problem |= crash_loop;
                if c.problem {
                    c.detail_mut().since = before.and_then(|t| t.since).or_else(|| self.problem_start(c));
                }
                if let Some(reason) = crate::reason::of(c, self.now, window) {
                    c.detail_mut().reason = Some(reason);
                }
                if keep_history {
                    if !replay {
                        segments.push(self.now, uptime_seen(c.problem, c.detail().known.is_some()));
                    }
                    let figures = segments.figures(self.now);
                    if !figures.perfect() {
                        c.detail_mut().uptime = Some(Box::new(figures));
                    }
                    if segments.fine_throughout(watched) {
                        segments = Segments::default();
                    }
                    let restart_count = c.inspect().restart_count;
                    tracks.push(
                        c.name.clone(),
                        Track {
                            up: up.map(|(min, _)| min),
                            since: c.detail().since,
                            restarts,
                            restart_count,
                            crash_loop: c.detail().crash_loop,
                            uptime: segments,
                        },
                    );
                }
            }
            if !tracks.is_empty() {
                sink(host.name.clone(), HostTracks::of(&tracks));
            }
        }
        keep_history.then_some(next)
    }

    /// When a new problem most likely began: the stop time in its status, else now.
    fn problem_start(&self, c: &Container) -> Option<Timestamp> {
        let ago = stopped_ago(&c.status).map_or(0, |(min, max)| (min + max) / 2);
        self.now.checked_sub(SignedDuration::from_secs(ago as i64)).ok().or(Some(self.now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EnvStatus;
    use crate::settings::Expect;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn env(rows: &[(&str, &str, &str)]) -> Environment {
        let mut env = Environment::new("demo", "demo.html", "demo.txt");
        for (host, name, status) in rows {
            if !env.hosts.iter().any(|h| h.name == *host) {
                env.hosts.push(Host::new(host));
            }
            let h = env.hosts.iter_mut().find(|h| h.name == *host).unwrap();
            if !name.is_empty() {
                h.containers.push(Container::from_row(name, status, "img:1", None));
            }
        }
        env
    }

    fn monitor(settings: Settings, now: &str) -> Monitor {
        Monitor::new(settings, t(now)).unwrap()
    }

    #[test]
    fn missing_hosts_and_containers_are_problems() {
        let settings = Settings {
            expect: vec![Expect {
                environments: vec!["*".into()],
                hosts: vec!["app-1.{env}.io".into(), "app-2.{env}.io".into()],
                containers: vec!["web".into(), "logspout".into()],
            }],
            ..Settings::default()
        };
        let mut e = env(&[("app-1.demo.io", "web", "Up 2 days")]);
        monitor(settings, "2026-11-25T16:30:00Z").apply(&mut e, None);
        assert_eq!(e.status, EnvStatus::Problem);
        assert_eq!(e.hosts[0].containers[1].state, State::Missing);
        assert_eq!(e.hosts[1].name, "app-2.demo.io");
        assert_eq!(e.hosts[1].reach, Reach::Missing);
        assert_eq!((e.counts.missing, e.counts.unreachable, e.counts.containers), (1, 1, 1));
    }

    #[test]
    fn nothing_expected_without_config() {
        let mut e = env(&[("h", "web", "Up 2 days")]);
        monitor(Settings::default(), "2026-11-25T16:30:00Z").apply(&mut e, None);
        assert_eq!(e.status, EnvStatus::Ok);
        assert_eq!(e.hosts.len(), 1);
    }

    #[test]
    fn staleness() {
        let mut e = env(&[("h", "web", "Up 2 days")]);
        e.data_time = Some(t("2026-11-25T16:00:00Z"));
        monitor(Settings::default(), "2026-11-25T16:30:00Z").apply(&mut e, None);
        assert_eq!((e.status, e.stale, e.age_seconds), (EnvStatus::Stale, true, Some(1800)));
        let mut e = env(&[("h", "web", "Up 2 days")]);
        e.data_time = Some(t("2026-11-25T16:20:00Z"));
        monitor(Settings::default(), "2026-11-25T16:30:00Z").apply(&mut e, None);
        assert_eq!(e.status, EnvStatus::Ok);
        let off = Settings { stale_after: Some("off".into()), ..Settings::default() };
        let mut e = env(&[("h", "web", "Up 2 days")]);
        e.data_time = Some(t("2020-01-01T00:00:00Z"));
        monitor(off, "2026-11-25T16:30:00Z").apply(&mut e, None);
        assert_eq!(e.status, EnvStatus::Ok);
    }

    #[test]
    fn known_issues_active_expired_upcoming() {
        let known = |text: &str, start: Option<&str>, expires: Option<&str>| Known {
            environment: "de*".into(),
            host: None,
            container: Some("db".into()),
            text: text.into(),
            start: start.map(t),
            expires: expires.map(t),
        };
        let settings = Settings {
            known: vec![
                known("active", Some("2026-11-25T00:00:00Z"), Some("2026-11-26T00:00:00Z")),
                known("expired", None, Some("2026-11-25T00:00:00Z")),
                known("upcoming", Some("2026-11-27T00:00:00Z"), None),
            ],
            ..Settings::default()
        };
        let m = monitor(settings, "2026-11-25T16:30:00Z");
        assert_eq!(m.notices.active.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(), ["active"]);
        assert_eq!(m.notices.upcoming.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(), ["upcoming"]);
        let mut e = env(&[("h", "db", "Exited (1) 2 hours ago"), ("h", "web", "Up 1 day")]);
        m.apply(&mut e, None);
        assert_eq!(e.hosts[0].containers[0].detail().known.as_deref(), Some("active"));
        assert_eq!((e.status, e.counts.known, e.counts.problems), (EnvStatus::Known, 1, 0));
        // The known issue does not hide a different container's problem.
        let mut e = env(&[("h", "db", "Exited (1) 2 hours ago"), ("h", "web", "Exited (1) 1 hour ago")]);
        m.apply(&mut e, None);
        assert_eq!((e.status, e.counts.known, e.counts.problems), (EnvStatus::Problem, 1, 1));
    }

    #[test]
    fn crash_loop_across_runs_and_problem_since() {
        let m1 = monitor(Settings::default(), "2026-11-25T16:30:00Z");
        let mut e = env(&[("h", "web", "Up 3 hours"), ("h", "db", "Exited (1) 2 hours ago")]);
        let h1 = m1.apply(&mut e, None).unwrap();
        assert_eq!(e.hosts[0].containers[0].detail().restarts, 0);
        assert_eq!(e.hosts[0].containers[1].detail().since, Some(t("2026-11-25T14:30:00Z")));
        // Five minutes later web has been up for seconds: it restarted.
        let m2 = monitor(Settings::default(), "2026-11-25T16:35:00Z");
        let mut e = env(&[("h", "web", "Up 20 seconds"), ("h", "db", "Exited (1) 2 hours ago")]);
        let h2 = m2.apply(&mut e, Some(h1)).unwrap();
        let web = &e.hosts[0].containers[0];
        assert_eq!((web.detail().restarts, web.detail().crash_loop, web.problem), (1, false, false));
        assert_eq!(e.hosts[0].containers[1].detail().since, Some(t("2026-11-25T14:30:00Z")), "since is kept");
        assert_eq!(h2.runs.len(), 2);
        // Uptime that grew as expected is not a restart.
        let m3 = monitor(Settings::default(), "2026-11-25T16:40:00Z");
        let mut e = env(&[("h", "web", "Up 5 minutes"), ("h", "db", "Up 1 second")]);
        let h3 = m3.apply(&mut e, Some(h2)).unwrap();
        assert_eq!(e.hosts[0].containers[0].detail().restarts, 1);
        assert_eq!(e.hosts[0].containers[1].detail().since, None, "no longer a problem");
        // Restarting twice more makes a crash loop, and a problem.
        let m4 = monitor(Settings::default(), "2026-11-25T16:45:00Z");
        let mut e = env(&[("h", "web", "Restarting (1) 3 seconds ago")]);
        let h4 = m4.apply(&mut e, Some(h3)).unwrap();
        let web = &e.hosts[0].containers[0];
        assert_eq!((web.detail().restarts, web.detail().crash_loop, web.problem), (2, true, true));
        // Coming up after Restarting is the same restart, not another one.
        let m5 = monitor(Settings::default(), "2026-11-25T16:50:00Z");
        let mut e = env(&[("h", "web", "Up 4 seconds")]);
        let h5 = m5.apply(&mut e, Some(h4)).unwrap();
        let web = &e.hosts[0].containers[0];
        assert_eq!((web.detail().restarts, web.detail().crash_loop, web.problem), (2, false, false));
        // A third restart within the window: a crash loop while it is up.
        let m6 = monitor(Settings::default(), "2026-11-25T16:55:00Z");
        let mut e = env(&[("h", "web", "Up 30 seconds")]);
        m6.apply(&mut e, Some(h5));
        let web = &e.hosts[0].containers[0];
        assert_eq!((web.detail().restarts, web.detail().crash_loop, web.problem), (3, true, true));
        assert_eq!(e.status, EnvStatus::Problem);
    }

    #[test]
    fn restart_counts_beat_the_uptime_guess() {
        let counted = |status: &str, count: u32, started: &str| {
            let mut e = env(&[("h", "api", status)]);
            let c = &mut e.hosts[0].containers[0];
            let i = c.inspect_mut();
            (i.restart_count, i.started_at) = (Some(count), Some(t(started)));
            e
        };
        // First seen: a high count and a start moments ago are a crash loop, caught
        // running or not; the same count with a start days ago is history.
        let m1 = monitor(Settings::default(), "2026-11-25T16:30:00Z");
        let mut e = counted("Up Less than a second", 7, "2026-11-25T16:29:59Z");
        let h1 = m1.apply(&mut e, None).unwrap();
        let api = &e.hosts[0].containers[0];
        assert_eq!((api.detail().crash_loop, api.problem), (true, true));
        assert_eq!(api.detail().reason.as_deref(), Some("running, but crash-looping; restarted 7 times, up 1 s"));
        let mut old = counted("Up 3 days", 7, "2026-11-22T16:00:00Z");
        m1.apply(&mut old, None);
        assert!(!old.hosts[0].containers[0].problem, "restarts long ago are not a loop");
        // Five minutes later the count grew by 3: a crash loop from the count alone,
        // though its uptime (the fallback) would say nothing.
        let m2 = monitor(Settings::default(), "2026-11-25T16:35:00Z");
        let mut e = counted("Up 4 minutes", 10, "2026-11-25T16:31:00Z");
        let h2 = m2.apply(&mut e, Some(h1)).unwrap();
        let api = &e.hosts[0].containers[0];
        assert_eq!((api.detail().restarts, api.detail().crash_loop, api.problem), (3, true, true));
        assert_eq!(api.detail().reason.as_deref(), Some("running, but crash-looping; restarted 3 times in 5 min"));
        // Uptime going backwards is not counted again when the engine counts.
        let m3 = monitor(Settings::default(), "2026-11-25T16:40:00Z");
        let mut e = counted("Up 2 seconds", 10, "2026-11-25T16:39:58Z");
        m3.apply(&mut e, Some(h2.clone())).unwrap();
        assert_eq!(e.hosts[0].containers[0].detail().restarts, 3, "no growth, no new restart");
        // A container recreated under the same name starts counting from 0 again.
        let mut e = counted("Up 1 minute", 0, "2026-11-25T16:39:00Z");
        m3.apply(&mut e, Some(h2)).unwrap();
        assert_eq!(e.hosts[0].containers[0].detail().restarts, 3, "a smaller count adds nothing");
    }

    #[test]
    fn a_crash_loop_that_restarted_again_stays_one_until_a_run_finds_it_still() {
        // The engine's back-off doubles up to a minute: between two runs a crash
        // loop may restart only once, and be caught in the moment it is up.
        let settings = Settings { history_runs: Some(2), ..Settings::default() };
        let counted = |status: &str, count: u32, started: &str| {
            let mut e = env(&[("h", "api", status)]);
            let c = &mut e.hosts[0].containers[0];
            let i = c.inspect_mut();
            (i.restart_count, i.started_at) = (Some(count), Some(t(started)));
            e
        };
        let mut e = counted("Up Less than a second", 7, "2026-11-25T16:29:59Z");
        let h1 = monitor(settings.clone(), "2026-11-25T16:30:00Z").apply(&mut e, None).unwrap();
        assert!(e.hosts[0].containers[0].detail().crash_loop);
        let mut e = counted("Up Less than a second", 8, "2026-11-25T16:34:59Z");
        let h2 = monitor(settings.clone(), "2026-11-25T16:35:00Z").apply(&mut e, Some(h1)).unwrap();
        let api = &e.hosts[0].containers[0];
        assert_eq!(
            (api.detail().restarts, api.detail().crash_loop, api.problem),
            (1, true, true),
            "restarted again: still a loop"
        );
        let mut e = counted("Up 5 minutes", 8, "2026-11-25T16:34:59Z");
        monitor(settings.clone(), "2026-11-25T16:40:00Z").apply(&mut e, Some(h2.clone())).unwrap();
        let api = &e.hosts[0].containers[0];
        assert_eq!((api.detail().crash_loop, api.problem), (false, false), "no restart since the last run: it holds");
        // After a day without runs, one restart (the policy's, long ago) is no loop.
        let mut e = counted("Up 20 hours", 9, "2026-11-25T20:00:00Z");
        monitor(settings, "2026-11-26T16:35:00Z").apply(&mut e, Some(h2)).unwrap();
        let api = &e.hosts[0].containers[0];
        assert_eq!(
            (api.detail().crash_loop, api.problem),
            (false, false),
            "a restart 20 hours ago is not a crash loop"
        );
    }

    #[test]
    fn the_same_run_rendered_again_tells_and_counts_the_same() {
        let m = monitor(Settings::default(), "2026-11-25T16:30:00Z");
        let fleet = || {
            let mut e = env(&[("h", "loop", "Up Less than a second"), ("h", "db", "Restarting (1) 2 seconds ago")]);
            let c = &mut e.hosts[0].containers[0];
            let i = c.inspect_mut();
            (i.restart_count, i.started_at) = (Some(7), Some(t("2026-11-25T16:29:59Z")));
            e
        };
        let mut first = fleet();
        let h1 = m.apply(&mut first, None).unwrap();
        let mut again = fleet();
        let h2 = m.apply(&mut again, Some(h1.clone())).unwrap();
        assert_eq!(serde_json::to_string(&first).unwrap(), serde_json::to_string(&again).unwrap());
        assert_eq!(h1, h2, "history unchanged by a replay");
        assert!(again.hosts[0].containers[0].detail().crash_loop);
    }

    #[test]
    fn history_is_bounded() {
        let settings = Settings { history_runs: Some(3), ..Settings::default() };
        let mut h = None;
        for minute in 0..5 {
            let m = monitor(settings.clone(), &format!("2026-11-25T16:{:02}:00Z", 30 + minute * 5));
            let mut e = env(&[("h", "web", "Up 3 weeks")]);
            h = m.apply(&mut e, h);
        }
        let h = h.unwrap();
        assert_eq!(h.runs.len(), 3);
        assert_eq!(h.runs[0].time, t("2026-11-25T16:40:00Z"));
        let off = Settings { history_runs: Some(0), ..Settings::default() };
        let mut e = env(&[("h", "web", "Up 3 weeks")]);
        assert!(monitor(off, "2026-11-25T16:30:00Z").apply(&mut e, None).is_none());
    }

    #[test]
    fn one_shot_jobs_may_exit_zero() {
        let settings = Settings { allow_exit_zero: vec!["db_migrate*".into()], ..Settings::default() };
        let mut e =
            env(&[("h", "db_migrate_1", "Exited (0) 3 hours ago"), ("h", "db_migrate_2", "Exited (2) 3 hours ago")]);
        monitor(settings, "2026-11-25T16:30:00Z").apply(&mut e, None);
        assert!(!e.hosts[0].containers[0].problem);
        assert!(e.hosts[0].containers[1].problem);
    }
}
