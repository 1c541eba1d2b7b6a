//! Why a container is a problem, in words an on-call engineer reads at a
//! glance: `exited 1 (application error) at 03:12 UTC after 4 min up`,
//! `killed: out of memory`, `restarted 17 times in 2 h`, `health check:
//! curl: (7) Failed to connect`. Made once per problem container, after it is
//! judged, from what the row, `docker inspect` and the history say; shown on
//! the pages and carried by `status.json`, JUnit and the alerts.

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};

use crate::model::Container;
use crate::status::{Health, State, exit_code_meaning};

/// Longest piece of health-check output or engine error in a reason.
const SNIPPET_CHARS: usize = 160;

/// The reason `c` is a problem, or `None` when it is not one. `window` is how
/// far back the restarts it counts were looked for.
pub fn of(c: &Container, now: Timestamp, window: SignedDuration) -> Option<String> {
    if !c.problem {
        return None;
    }
    let mut out = head(c);
    let finished = c.detail().finished_at;
    if matches!(c.state, State::Exited | State::Dead | State::Restarting)
        && let Some(end) = finished
    {
        let _ = write!(out, " at {}", clock(end, now));
        // A container that dies at once may show its end a moment before its
        // start; a restarting one's start is its next attempt, after the end.
        if let Some(start) = c.inspect().started_at.filter(|s| end.duration_since(*s) > -SignedDuration::from_secs(1)) {
            let _ = write!(out, " after {} up", span(end.duration_since(start)));
        }
    }
    if c.detail().crash_loop || c.state == State::Restarting {
        if c.detail().restarts > 1 && window > SignedDuration::ZERO {
            let _ = write!(out, "; restarted {} times in {}", c.detail().restarts, span(window));
        } else if let Some(count) = c.inspect().restart_count.filter(|n| *n > 0) {
            let _ = write!(out, "; restarted {count} time{}", if count == 1 { "" } else { "s" });
            if c.state == State::Running
                && let Some(start) = c.inspect().started_at
            {
                let _ = write!(out, ", up {}", span(now.duration_since(start)));
            }
        }
    }
    if c.health == Health::Unhealthy {
        match snippet(c.detail().health_output.as_str()) {
            Some(output) => {
                let _ = write!(out, "; health check: {output}");
            }
            None => out.push_str("; health check failing"),
        }
    }
    if let Some(error) = snippet(c.detail().error.as_str()) {
        let _ = write!(out, "; error: {error}");
    }
    Some(out)
}

/// What it is doing, first: the fact the rest explains.
fn head(c: &Container) -> String {
    let code = |code: Option<i32>| match code {
        Some(n) => match exit_code_meaning(n) {
            Some(meaning) => format!("{n} ({meaning})"),
            None => n.to_string(),
        },
        None => "with no exit code shown".to_owned(),
    };
    match c.state {
        _ if c.inspect().oom_killed && c.state != State::Running => "killed: out of memory".to_owned(),
        State::Exited => format!("exited {}", code(c.exit_code)),
        State::Dead => format!("dead, exit code {}", code(c.exit_code)),
        State::Restarting => format!("restarting, last exit {}", code(c.exit_code)),
        State::Created => "created, never started".to_owned(),
        State::Paused => "paused".to_owned(),
        State::Removing => "being removed".to_owned(),
        State::Missing => "expected, not found".to_owned(),
        State::Unknown => format!("state not understood ({})", c.status.trim()),
        State::Running if c.detail().crash_loop => "running, but crash-looping".to_owned(),
        State::Running if c.health == Health::Unhealthy => "running, unhealthy".to_owned(),
        State::Running => "running".to_owned(),
    }
}

/// `03:12 UTC`, with the date when it was not today (UTC).
fn clock(t: Timestamp, now: Timestamp) -> String {
    let utc = jiff::tz::TimeZone::UTC;
    let (day, today) = (t.to_zoned(utc.clone()).date(), now.to_zoned(utc.clone()).date());
    let fmt = if day == today { "%H:%M UTC" } else { "%Y-%m-%d %H:%M UTC" };
    t.to_zoned(utc).strftime(fmt).to_string()
}

/// A duration as people say it: `12 s`, `4 min`, `2 h`, `3 days`.
pub fn span(d: SignedDuration) -> String {
    let s = d.as_secs().max(0);
    match s {
        0 => "less than a second".to_owned(),
        1..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..172_800 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// The first line of `text`, cut to a readable length; `None` when empty.
fn snippet(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(if line.chars().count() > SNIPPET_CHARS {
        line.chars().take(SNIPPET_CHARS - 1).chain(['…']).collect()
    } else {
        line.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn container(status: &str) -> Container {
        Container::from_row("web", status, "img:1", None)
    }

    const NOW: &str = "2026-11-25T16:30:00Z";

    #[test]
    fn exits_say_when_and_after_how_long() {
        let mut c = container("Exited (1) 2 hours ago");
        c.inspect_mut().started_at = Some(t("2026-11-25T03:08:00Z"));
        c.detail_mut().finished_at = Some(t("2026-11-25T03:12:30Z"));
        let r = of(&c, t(NOW), SignedDuration::ZERO).unwrap();
        assert_eq!(r, "exited 1 (application error) at 03:12 UTC after 4 min up");
        c.detail_mut().finished_at = Some(t("2026-11-20T03:12:30Z"));
        c.inspect_mut().started_at = None;
        assert_eq!(
            of(&c, t(NOW), SignedDuration::ZERO).unwrap(),
            "exited 1 (application error) at 2026-11-20 03:12 UTC"
        );
        assert_eq!(of(&container("Exited (42) 1 hour ago"), t(NOW), SignedDuration::ZERO).unwrap(), "exited 42");
    }

    #[test]
    fn an_oom_kill_is_its_own_reason_not_a_plain_sigkill() {
        let mut c = container("Exited (137) 5 minutes ago");
        assert_eq!(of(&c, t(NOW), SignedDuration::ZERO).unwrap(), "exited 137 (killed (SIGKILL), often out of memory)");
        c.inspect_mut().oom_killed = true;
        assert_eq!(of(&c, t(NOW), SignedDuration::ZERO).unwrap(), "killed: out of memory");
    }

    #[test]
    fn crash_loops_count_their_restarts() {
        let mut c = container("Restarting (1) 3 seconds ago");
        c.problem = true;
        (c.detail_mut().crash_loop, c.detail_mut().restarts) = (true, 17);
        let r = of(&c, t(NOW), SignedDuration::from_hours(2)).unwrap();
        assert_eq!(r, "restarting, last exit 1 (application error); restarted 17 times in 2 h");
        // First seen: the engine's own count, and how long it has been up.
        let mut c = container("Up Less than a second");
        (c.problem, c.detail_mut().crash_loop) = (true, true);
        c.inspect_mut().restart_count = Some(7);
        c.inspect_mut().started_at = Some(t("2026-11-25T16:29:58Z"));
        assert_eq!(
            of(&c, t(NOW), SignedDuration::ZERO).unwrap(),
            "running, but crash-looping; restarted 7 times, up 2 s"
        );
    }

    #[test]
    fn health_output_and_errors_are_quoted_short() {
        let mut c = container("Up 2 hours (unhealthy)");
        assert_eq!(of(&c, t(NOW), SignedDuration::ZERO).unwrap(), "running, unhealthy; health check failing");
        (c.detail_mut().health_output, c.detail_mut().error) =
            ("\n  curl: (7) Failed to connect\nmore".into(), "x".repeat(400));
        let r = of(&c, t(NOW), SignedDuration::ZERO).unwrap();
        assert!(r.starts_with("running, unhealthy; health check: curl: (7) Failed to connect; error: xxx"), "{r}");
        assert!(r.ends_with('…') && r.chars().count() < 260, "{r}");
        assert_eq!(of(&container("Up 2 hours"), t(NOW), SignedDuration::ZERO), None, "not a problem");
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(SignedDuration::from_millis(300)), "less than a second");
        assert_eq!(span(SignedDuration::from_millis(-300)), "less than a second");
        assert_eq!(span(SignedDuration::from_secs(12)), "12 s");
        assert_eq!(span(SignedDuration::from_secs(250)), "4 min");
        assert_eq!(span(SignedDuration::from_hours(2)), "2 h");
        assert_eq!(span(SignedDuration::from_hours(80)), "3 days");
    }
}
