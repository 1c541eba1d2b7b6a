//! Reading Docker's and Podman's human STATUS column (`Up 3 weeks (healthy)`,
//! `Exited (137) 2 hours ago`, …) into a container state, health and exit code.
//!
//! The forms come from moby's `State.String()` and Podman's equivalent; see
//! `docker-status.md` in the team notes. Anything not recognised is `Unknown`,
//! never a panic: the raw string is always kept for display.

use serde::Serialize;

/// What the engine says the container is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Running,
    Exited,
    Restarting,
    Paused,
    Created,
    Dead,
    Removing,
    Unknown,
    /// Expected by the configuration but not reported at all.
    Missing,
}

impl State {
    /// The word used in pages, JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Exited => "exited",
            State::Restarting => "restarting",
            State::Paused => "paused",
            State::Created => "created",
            State::Dead => "dead",
            State::Removing => "removing",
            State::Unknown => "unknown",
            State::Missing => "missing",
        }
    }

    /// Reads Docker's `State` field (`docker ps --format '{{.State}}'`).
    pub fn from_engine_word(word: &str) -> Option<State> {
        lookup_ci(
            word.trim(),
            &[
                ("running", State::Running),
                ("up", State::Running),
                ("exited", State::Exited),
                ("stopped", State::Exited),
                ("restarting", State::Restarting),
                ("paused", State::Paused),
                ("created", State::Created),
                ("configured", State::Created),
                ("initialized", State::Created),
                ("dead", State::Dead),
                ("removing", State::Removing),
            ],
        )
    }
}

/// The health check's verdict, when the container has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Unhealthy,
    Starting,
    None,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Starting => "starting",
            Health::None => "none",
        }
    }
}

/// The value of the first word in `table` equal to `word`, ignoring ASCII case.
/// Lower-casing a copy first cost an allocation per row.
pub fn lookup_ci<T: Copy>(word: &str, table: &[(&str, T)]) -> Option<T> {
    table.iter().find(|(w, _)| w.eq_ignore_ascii_case(word)).map(|&(_, value)| value)
}

/// Everything the STATUS column tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedStatus {
    pub state: State,
    pub health: Health,
    /// The exit code of an exited container, or the last one of a restarting container.
    pub exit_code: Option<i32>,
}

/// Parses one STATUS string. Never fails: unknown text gives `State::Unknown`.
pub fn parse_status(raw: &str) -> ParsedStatus {
    let s = raw.trim();
    let mut out = ParsedStatus { state: State::Unknown, health: Health::None, exit_code: None };
    if let Some(rest) = strip_prefix_ci(s, "Up ").or_else(|| (s.eq_ignore_ascii_case("up")).then_some("")) {
        out.state = State::Running;
        // The suffix in parentheses carries pause and health: `(Paused)`, `(healthy)`,
        // `(unhealthy)`, `(health: starting)` (Docker) or `(starting)` (Podman).
        for group in paren_groups(rest) {
            if group.eq_ignore_ascii_case("paused") {
                out.state = State::Paused;
            } else if let Some(health) = lookup_ci(
                group,
                &[
                    ("healthy", Health::Healthy),
                    ("unhealthy", Health::Unhealthy),
                    ("health: starting", Health::Starting),
                    ("starting", Health::Starting),
                ],
            ) {
                out.health = health;
            }
        }
    } else if let Some(rest) = strip_prefix_ci(s, "Exited") {
        out.state = State::Exited;
        out.exit_code = first_code(rest);
    } else if let Some(rest) = strip_prefix_ci(s, "Restarting") {
        out.state = State::Restarting;
        out.exit_code = first_code(rest);
    } else if s.eq_ignore_ascii_case("Paused") {
        out.state = State::Paused;
    } else if s.eq_ignore_ascii_case("Created") || s.eq_ignore_ascii_case("Initialized") {
        out.state = State::Created;
    } else if s.eq_ignore_ascii_case("Dead") {
        out.state = State::Dead;
    } else if s.eq_ignore_ascii_case("Removal In Progress") || s.eq_ignore_ascii_case("Removing") {
        out.state = State::Removing;
    } else if s.eq_ignore_ascii_case("Stopped") {
        // Podman's word for a container stopped without an exit code shown.
        out.state = State::Exited;
    }
    out
}

/// What an exit code usually means, for readers of a page at 3 a.m.
pub fn exit_code_meaning(code: i32) -> Option<&'static str> {
    Some(match code {
        0 => "finished normally",
        1 => "application error",
        2 => "misuse of a shell command or bad arguments",
        125 => "Docker could not run the container",
        126 => "the command could not be invoked",
        127 => "the command was not found",
        130 => "interrupted (SIGINT)",
        134 => "aborted (SIGABRT)",
        137 => "killed (SIGKILL), often out of memory",
        139 => "segmentation fault (SIGSEGV)",
        143 => "terminated (SIGTERM)",
        _ => return None,
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// The contents of each top-level `( … )` group, in order.
fn paren_groups(s: &str) -> impl Iterator<Item = &str> {
    s.split('(').skip(1).filter_map(|part| part.split_once(')').map(|(inside, _)| inside.trim()))
}

/// The number in the first `( … )` group, as in `Exited (137) 3 hours ago`.
fn first_code(rest: &str) -> Option<i32> {
    paren_groups(rest).next().and_then(|g| g.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, state: State, health: Health, code: Option<i32>) {
        let got = parse_status(raw);
        assert_eq!(got, ParsedStatus { state, health, exit_code: code }, "status {raw:?}");
    }

    #[test]
    fn docker_running_forms() {
        for raw in
            ["Up 3 weeks", "Up Less than a second", "Up About an hour", "Up 1 second", "Up 2 months", "Up 3 years"]
        {
            check(raw, State::Running, Health::None, None);
        }
        check("Up 41 minutes (healthy)", State::Running, Health::Healthy, None);
        check("Up 2 hours (unhealthy)", State::Running, Health::Unhealthy, None);
        check("Up 5 seconds (health: starting)", State::Running, Health::Starting, None);
    }

    #[test]
    fn docker_other_states() {
        check("Up 6 days (Paused)", State::Paused, Health::None, None);
        check("Restarting (1) 5 seconds ago", State::Restarting, Health::None, Some(1));
        check("Removal In Progress", State::Removing, Health::None, None);
        check("Dead", State::Dead, Health::None, None);
        check("Created", State::Created, Health::None, None);
        check("Exited (0) 10 minutes ago", State::Exited, Health::None, Some(0));
        check("Exited (137) 3 hours ago", State::Exited, Health::None, Some(137));
        check("Exited (-1) About a minute ago", State::Exited, Health::None, Some(-1));
    }

    #[test]
    fn podman_forms() {
        check("Up 1 second ago", State::Running, Health::None, None);
        check("Up 11 seconds ago (starting)", State::Running, Health::Starting, None);
        check("Up 11 seconds ago (healthy)", State::Running, Health::Healthy, None);
        check("Exited (3) Less than a second ago", State::Exited, Health::None, Some(3));
        check("Paused", State::Paused, Health::None, None);
        check("Stopped", State::Exited, Health::None, None);
    }

    #[test]
    fn empty_and_garbage_are_unknown() {
        for raw in ["", "   ", "Upside down", "Exited", "(((", "Restarting ()", "🙂"] {
            let got = parse_status(raw);
            assert!(matches!(got.state, State::Unknown | State::Exited | State::Restarting), "{raw:?} gave {got:?}");
            assert_eq!(got.exit_code, None, "{raw:?}");
        }
        assert_eq!(parse_status("").state, State::Unknown);
        assert_eq!(parse_status("Upside down").state, State::Unknown);
    }

    #[test]
    fn case_and_whitespace_tolerated() {
        check("  up 3 weeks (HEALTHY) ", State::Running, Health::Healthy, None);
        check("EXITED (2) 1 day ago", State::Exited, Health::None, Some(2));
    }

    #[test]
    fn engine_words() {
        assert_eq!(State::from_engine_word("running"), Some(State::Running));
        assert_eq!(State::from_engine_word(" Exited "), Some(State::Exited));
        assert_eq!(State::from_engine_word("restarting"), Some(State::Restarting));
        assert_eq!(State::from_engine_word("unreachable"), None);
    }

    #[test]
    fn exit_code_meanings() {
        assert_eq!(exit_code_meaning(137), Some("killed (SIGKILL), often out of memory"));
        assert_eq!(exit_code_meaning(0), Some("finished normally"));
        assert_eq!(exit_code_meaning(42), None);
    }
}
