//! The incident log and its feed, both static files of the site: `incidents.html`
//! (the last 30 days, newest first: what went down, when, for how long, when
//! it recovered, whether a known issue covered it) and `feed.xml`, an Atom feed
//! (RFC 4287) with one entry per change, so people can subscribe without a server.

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::alert::message::{headline_for, link};
use crate::alert::state::Incident;
use crate::reason::span;
use crate::reports::{xml_attr, xml_text};

pub const INCIDENTS_PAGE: &str = "incidents.html";
pub const FEED: &str = "feed.xml";
/// Incidents listed on the page and changes in the feed, newest first: enough
/// for anyone scrolling or subscribing, and the page stays small on a large
/// fleet's bad day (`status.json` counts what is open).
pub const LISTED: usize = 500;

/// One incident as `incidents.html` shows it.
#[derive(Debug, Serialize)]
pub struct IncidentView {
    pub subject: String,
    pub what: &'static str,
    pub env: String,
    pub page: String,
    pub problem: String,
    pub severity: &'static str,
    pub state: String,
    pub started: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// `12 min`, or how long so far when still open.
    pub lasted: String,
    pub open: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known: Option<String>,
    pub notified: bool,
}

/// When an incident last changed: its end, or its start while it is open.
fn latest(i: &Incident) -> Timestamp {
    i.ended.unwrap_or(i.started).max(i.started)
}

/// Sorts incidents by their latest change, newest first (ties by id).
pub fn newest_first(incidents: &mut [Incident]) {
    incidents.sort_by(newer);
}

/// The order of [`newest_first`]: `a` before `b` when it changed later.
pub fn newer(a: &Incident, b: &Incident) -> std::cmp::Ordering {
    latest(b).cmp(&latest(a)).then_with(|| a.id.cmp(&b.id))
}

/// The page's view of `incidents` (the newest, in order).
pub fn views(incidents: &[Incident], now: Timestamp) -> Vec<IncidentView> {
    incidents
        .iter()
        .map(|i| IncidentView {
            subject: i.subject.words(),
            what: i.subject.what(),
            env: i.subject.env.clone(),
            page: i.page.clone(),
            problem: i.problem.clone(),
            severity: i.severity.as_str(),
            state: i.state.clone(),
            started: i.started.to_string(),
            ended: i.ended.map(|e| e.to_string()),
            lasted: span(i.ended.unwrap_or(now).duration_since(i.started).max(SignedDuration::ZERO)),
            open: i.ended.is_none(),
            known: i.known.clone(),
            notified: i.notified,
        })
        .collect()
}

/// A tag URI (RFC 4151) for an incident's change: stable, never reused.
fn entry_id(incident: &Incident, what: &str) -> String {
    let mut id = String::from("tag:envdash,2026:incident:");
    for b in incident.id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            id.push(b as char);
        } else {
            let _ = write!(id, "%{b:02X}");
        }
    }
    id.push(':');
    id.push_str(what);
    id
}

/// The Atom feed: one entry per change of the incidents kept, newest first.
pub fn atom(incidents: &[Incident], title: &str, site_url: Option<&str>, now: Timestamp) -> String {
    struct Entry<'a> {
        at: Timestamp,
        incident: &'a Incident,
        down: bool,
    }
    let mut entries: Vec<Entry> = Vec::new();
    for i in incidents {
        entries.push(Entry { at: i.started, incident: i, down: true });
        if let Some(end) = i.ended {
            entries.push(Entry { at: end, incident: i, down: false });
        }
    }
    entries.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.incident.id.cmp(&b.incident.id)));
    entries.truncate(LISTED);
    let updated = entries.first().map_or(now, |e| e.at);
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    out.push_str("  <title>");
    xml_text(&mut out, &format!("{title}: incidents"));
    out.push_str("</title>\n  <id>");
    xml_text(
        &mut out,
        &match site_url {
            Some(base) => link(Some(base), FEED),
            None => "tag:envdash,2026:feed".to_owned(),
        },
    );
    let _ = writeln!(out, "</id>\n  <updated>{}</updated>", updated);
    out.push_str("  <author><name>envdash</name></author>\n");
    let _ = writeln!(out, "  <generator version=\"{}\">envdash</generator>", env!("CARGO_PKG_VERSION"));
    for (rel, page, kind) in [("self", FEED, "application/atom+xml"), ("alternate", INCIDENTS_PAGE, "text/html")] {
        out.push_str("  <link rel=\"");
        out.push_str(rel);
        out.push_str("\" type=\"");
        out.push_str(kind);
        out.push_str("\" href=\"");
        xml_attr(&mut out, &link(site_url, page));
        out.push_str("\"/>\n");
    }
    for e in entries {
        let i = e.incident;
        let head = headline_for(e.down);
        let mut title = format!("{head} {} {}: ", i.subject.what(), i.subject.words());
        let mut summary;
        if e.down {
            title.push_str(&i.state);
            summary = format!("{} went down at {}: {}.", i.subject.words(), i.started, i.state);
        } else {
            let lasted = span(e.at.duration_since(i.started));
            title.push_str(&format!("fine again after {lasted}"));
            summary = format!("{} is fine again at {} after {lasted} ({}).", i.subject.words(), e.at, i.state);
        }
        if let Some(known) = &i.known {
            title.push_str(" (known issue)");
            summary.push_str(&format!(" A known issue covered it: {known}; no alert was sent."));
        }
        out.push_str("  <entry>\n    <id>");
        xml_text(&mut out, &entry_id(i, if e.down { "down" } else { "recovered" }));
        out.push_str("</id>\n    <title>");
        xml_text(&mut out, &title);
        let _ = write!(
            out,
            "</title>\n    <updated>{}</updated>\n    <link rel=\"alternate\" type=\"text/html\" href=\"",
            e.at
        );
        xml_attr(&mut out, &link(site_url, &i.page));
        out.push_str("\"/>\n    <category term=\"");
        xml_attr(&mut out, i.severity.as_str());
        out.push_str("\"/>\n    <summary type=\"text\">");
        xml_text(&mut out, &summary);
        out.push_str("</summary>\n  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Subject;
    use crate::settings::Severity;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn state() -> Vec<Incident> {
        let mut st = Vec::new();
        let subject = Subject { env: "prod & co".into(), host: Some("h".into()), container: Some("web<1>".into()) };
        st.push(Incident {
            id: format!("{}@2026-11-25T12:00:00Z", subject.key()),
            subject: subject.clone(),
            page: "prod-co.html".into(),
            problem: "exited".into(),
            severity: Severity::Critical,
            state: "exited 1 <b>".into(),
            started: t("2026-11-25T12:00:00Z"),
            ended: Some(t("2026-11-25T12:25:00Z")),
            recovered_state: Some("fine again".into()),
            known: None,
            notified: true,
        });
        st.push(Incident {
            id: "x@2026-11-25T13:00:00Z".into(),
            subject: Subject { env: "qa".into(), host: None, container: None },
            page: "qa.html".into(),
            problem: "stale".into(),
            severity: Severity::Warning,
            state: "no new data".into(),
            started: t("2026-11-25T13:00:00Z"),
            ended: None,
            recovered_state: None,
            known: Some("gathering paused".into()),
            notified: false,
        });
        st
    }

    #[test]
    fn incidents_newest_first_with_how_long() {
        let mut incidents = state();
        newest_first(&mut incidents);
        let v = views(&incidents, t("2026-11-25T13:30:00Z"));
        assert_eq!(v.iter().map(|i| i.env.as_str()).collect::<Vec<_>>(), ["qa", "prod & co"]);
        assert_eq!((v[0].open, v[0].lasted.as_str()), (true, "30 min"));
        assert_eq!((v[1].open, v[1].lasted.as_str()), (false, "25 min"));
    }

    #[test]
    fn the_feed_has_an_entry_per_change_with_stable_ids_and_escaped_text() {
        let feed = atom(&state(), "CWDS", Some("https://dash.example.io/"), t("2026-11-25T13:30:00Z"));
        assert_eq!(feed.matches("<entry>").count(), 3, "down, recovered, and down again");
        assert!(feed.contains("<updated>2026-11-25T13:00:00Z</updated>\n  <author>"), "{feed}");
        assert!(feed.contains("href=\"https://dash.example.io/feed.xml\""), "{feed}");
        assert!(feed.contains("prod &amp; co / h / web&lt;1&gt;"), "{feed}");
        assert!(!feed.contains("<b>"), "{feed}");
        assert!(
            feed.contains(
                "<id>tag:envdash,2026:incident:prod%20%26%20co%1Fh%1Fweb%3C1%3E@2026-11-25T12%3A00%3A00Z:recovered</id>"
            ),
            "{feed}"
        );
        assert!(feed.contains("(known issue)"), "{feed}");
        assert_eq!(feed, atom(&state(), "CWDS", Some("https://dash.example.io/"), t("2026-11-25T13:30:00Z")));
    }
}
