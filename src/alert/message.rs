//! One message for one notifier: the changes it wants, grouped by environment,
//! with the words every sink shares (title, one line per change, links).

use jiff::Timestamp;

use crate::alert::changes::{Change, ChangeKind};
use crate::reason::span;

/// What one notifier is told in one run.
#[derive(Debug, Clone)]
pub struct Message {
    pub notifier: String,
    pub title: String,
    /// The first run's summary of what is open.
    pub first_run: bool,
    /// A sample from `envdash notify --test`.
    pub test: bool,
    pub generated_at: Timestamp,
    /// The master page, absolute when `site_url` is set.
    pub dashboard: String,
    /// By environment, in the order of the environments' names.
    pub environments: Vec<EnvChanges>,
    pub counts: Counts,
}

/// The changes of one environment.
#[derive(Debug, Clone)]
pub struct EnvChanges {
    pub env: String,
    /// Its page, absolute when `site_url` is set.
    pub link: String,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub down: usize,
    pub recovered: usize,
    pub still_down: usize,
    pub flapping: usize,
    pub open: usize,
}

impl Counts {
    fn add(&mut self, kind: ChangeKind) {
        match kind {
            ChangeKind::Down => self.down += 1,
            ChangeKind::Recovered => self.recovered += 1,
            ChangeKind::StillDown => self.still_down += 1,
            ChangeKind::Flapping => self.flapping += 1,
            ChangeKind::Open => self.open += 1,
        }
    }

    /// Anything still a problem after these changes.
    pub fn firing(&self) -> bool {
        self.down + self.still_down + self.flapping + self.open > 0
    }
}

/// `site_url` joined with a page of the site; the page alone without one.
pub fn link(site_url: Option<&str>, page: &str) -> String {
    match site_url {
        Some(base) => format!("{}/{page}", base.trim_end_matches('/')),
        None => page.to_owned(),
    }
}

impl Message {
    /// Groups `changes` (already the notifier's) by environment.
    pub fn new(
        notifier: &str,
        changes: Vec<Change>,
        first_run: bool,
        now: Timestamp,
        site_url: Option<&str>,
    ) -> Message {
        let mut counts = Counts::default();
        let mut environments: Vec<EnvChanges> = Vec::new();
        let mut sorted = changes;
        sorted.sort_by(|a, b| a.subject.env.cmp(&b.subject.env).then(a.at.cmp(&b.at)).then(a.subject.cmp(&b.subject)));
        for change in sorted {
            counts.add(change.change);
            match environments.last_mut() {
                Some(group) if group.env == change.subject.env => group.changes.push(change),
                _ => environments.push(EnvChanges {
                    env: change.subject.env.clone(),
                    link: link(site_url, &change.page),
                    changes: vec![change],
                }),
            }
        }
        let title = title(&counts, &environments, first_run);
        Message {
            notifier: notifier.to_owned(),
            title,
            first_run,
            test: false,
            generated_at: now,
            dashboard: link(site_url, "index.html"),
            environments,
            counts,
        }
    }

    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.environments.iter().flat_map(|e| &e.changes)
    }
}

/// `envdash: 2 down, 1 recovered (prod, qa)`; plain text, one line.
fn title(c: &Counts, envs: &[EnvChanges], first_run: bool) -> String {
    let mut parts = Vec::new();
    for (n, word) in [
        (c.open, "open"),
        (c.down, "down"),
        (c.flapping, "flapping"),
        (c.still_down, "still down"),
        (c.recovered, "recovered"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    const NAMED: usize = 3;
    let mut names: Vec<&str> = envs.iter().take(NAMED).map(|e| e.env.as_str()).collect();
    let more = envs.len().saturating_sub(NAMED);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    names.dedup();
    let lead = if first_run { "envdash is watching: " } else { "envdash: " };
    one_line(&format!("{lead}{} ({}{more})", parts.join(", "), names.join(", ")))
}

/// What happened, in a word or two, with a symbol that is not colour alone.
pub fn headline(change: &Change) -> &'static str {
    match change.change {
        ChangeKind::Down => "✖ DOWN",
        ChangeKind::Recovered => "✔ RECOVERED",
        ChangeKind::StillDown => "⏰ STILL DOWN",
        ChangeKind::Flapping => "↯ FLAPPING",
        ChangeKind::Open => "✖ OPEN",
    }
}

/// The headline of an incident's two changes, for the feed.
pub fn headline_for(down: bool) -> &'static str {
    if down { "✖ DOWN" } else { "✔ RECOVERED" }
}

/// The rest of a change's line: what, state and since when, plain text.
pub fn line(change: &Change) -> String {
    let mut out = format!("{} {}", change.subject.what(), change.subject.words());
    match change.change {
        ChangeKind::Recovered => {
            let was = match change.down_seconds {
                Some(s) => format!(" after {}", span(jiff::SignedDuration::from_secs(s))),
                None => String::new(),
            };
            out.push_str(&format!(": fine again{was} (was {})", change.state));
        }
        ChangeKind::Flapping => {
            let n = change.flips.unwrap_or(0);
            out.push_str(&format!(": changed state {n} times within the flap window; now {}", change.state));
        }
        _ => {
            out.push_str(&format!(": {}", change.state));
            if let Some(meaning) = &change.exit_meaning
                && !change.state.contains(meaning.as_str())
            {
                out.push_str(&format!(" ({meaning})"));
            }
            out.push_str(&format!("; problem since {}", since(change.since)));
        }
    }
    out
}

/// `2026-11-25 16:31 UTC`.
pub fn since(t: Timestamp) -> String {
    crate::site::display_time(t).1
}

/// A value for a single-line field (subjects, titles): line breaks and other
/// control characters become spaces, so nothing can start a new header.
pub fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Subject;
    use crate::settings::Severity;

    pub fn change(env: &str, container: &str, kind: ChangeKind) -> Change {
        Change {
            at: Timestamp::from_second(1_795_624_200).unwrap(),
            change: kind,
            subject: Subject { env: env.into(), host: Some("app-1".into()), container: Some(container.into()) },
            page: format!("{env}.html"),
            group: None,
            problem: "exited".into(),
            severity: Severity::Critical,
            state: "exited 1 (application error)".into(),
            exit_meaning: Some("application error".into()),
            since: Timestamp::from_second(1_795_620_600).unwrap(),
            down_seconds: (kind == ChangeKind::Recovered).then_some(600),
            flips: None,
            logs: vec![],
        }
    }

    #[test]
    fn grouped_by_environment_with_a_title_and_links() {
        let now = Timestamp::from_second(1_795_624_200).unwrap();
        let m = Message::new(
            "oncall",
            vec![
                change("qa", "web", ChangeKind::Recovered),
                change("prod", "db", ChangeKind::Down),
                change("prod", "api", ChangeKind::Down),
            ],
            false,
            now,
            Some("https://dash.example.io/"),
        );
        assert_eq!(m.title, "envdash: 2 down, 1 recovered (prod, qa)");
        assert_eq!(m.environments.iter().map(|e| e.env.as_str()).collect::<Vec<_>>(), ["prod", "qa"]);
        assert_eq!(m.environments[0].link, "https://dash.example.io/prod.html");
        assert_eq!(m.dashboard, "https://dash.example.io/index.html");
        assert_eq!(
            line(&m.environments[0].changes[0]),
            "container prod / app-1 / api: exited 1 (application error); problem since 2026-11-25 15:30 UTC"
        );
        assert_eq!(
            line(&m.environments[1].changes[0]),
            "container qa / app-1 / web: fine again after 10 min (was exited 1 (application error))"
        );
        assert!(m.counts.firing());
        assert_eq!(link(None, "qa.html"), "qa.html");
    }

    #[test]
    fn one_line_fields_cannot_break_lines() {
        assert_eq!(one_line("prod\r\nBcc: evil@example.io"), "prod  Bcc: evil@example.io");
    }
}
