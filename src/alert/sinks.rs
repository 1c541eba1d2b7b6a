//! The bodies each kind of notifier is sent: a generic JSON webhook (modelled on
//! Alertmanager's), Slack's incoming-webhook payload (also Mattermost and
//! Rocket.Chat), and a Teams (Power Automate workflow) Adaptive Card. Every value
//! from input is escaped for the markup that kind reads.

use serde_json::{Value, json};

use crate::alert::changes::Change;
use crate::alert::message::{Message, headline, line, since};

/// Version of the generic webhook's JSON, in its `version` field.
pub const WEBHOOK_VERSION: &str = "1";
/// Changes written out in full in one chat message; the rest are counted.
const CHAT_CHANGES: usize = 40;

/// The generic webhook body; the README documents its schema.
pub fn webhook(m: &Message) -> Value {
    let changes: Vec<Value> = m
        .environments
        .iter()
        .flat_map(|e| {
            e.changes.iter().map(move |c| {
                let mut v = json!({
                    "change": c.change.as_str(),
                    "status": if c.change.firing() { "firing" } else { "resolved" },
                    "subject": c.subject.what(),
                    "environment": c.subject.env,
                    "problem": c.problem,
                    "severity": c.severity.as_str(),
                    "state": c.state,
                    "since": c.since.to_string(),
                    "at": c.at.to_string(),
                    "page": e.link,
                });
                let o = v.as_object_mut().expect("an object");
                if let Some(h) = &c.subject.host {
                    o.insert("host".into(), json!(h));
                }
                if let Some(n) = &c.subject.container {
                    o.insert("container".into(), json!(n));
                }
                if let Some(g) = &c.group {
                    o.insert("group".into(), json!(g));
                }
                if let Some(meaning) = &c.exit_meaning {
                    o.insert("exit_meaning".into(), json!(meaning));
                }
                if let Some(s) = c.down_seconds {
                    o.insert("down_seconds".into(), json!(s));
                }
                if let Some(n) = c.flips {
                    o.insert("flips".into(), json!(n));
                }
                if !c.logs.is_empty() {
                    o.insert("logs".into(), json!(c.logs));
                }
                v
            })
        })
        .collect();
    json!({
        "version": WEBHOOK_VERSION,
        "generator": concat!("envdash ", env!("CARGO_PKG_VERSION")),
        "notifier": m.notifier,
        "status": if m.counts.firing() { "firing" } else { "resolved" },
        "title": m.title,
        "first_run": m.first_run,
        "test": m.test,
        "generated_at": m.generated_at.to_string(),
        "dashboard": m.dashboard,
        "counts": m.counts,
        "changes": changes,
    })
}

/// Slack's `mrkdwn` gives `&`, `<` and `>` a meaning (links, mentions): escaped
/// as Slack asks, so input cannot make a link or ping a channel.
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A link in Slack's markup: `<url|text>`, the text escaped; a relative page
/// (no `site_url`) is plain text.
fn slack_link(url: &str, text: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        format!("<{}|{}>", url.replace('|', "%7C").replace('>', "%3E"), slack_escape(text))
    } else {
        slack_escape(text)
    }
}

/// Slack's incoming-webhook body: `text` (the fallback, and all that Mattermost
/// and Rocket.Chat show) and Block Kit sections, one per environment.
pub fn slack(m: &Message) -> Value {
    let mut text = format!("*{}*", slack_escape(&m.title));
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": text.clone()}})];
    let mut shown = 0;
    for e in &m.environments {
        let mut section = format!("*{}*", slack_link(&e.link, &e.env));
        for c in &e.changes {
            shown += 1;
            if shown > CHAT_CHANGES {
                continue;
            }
            section.push_str(&format!("\n{} {}", headline(c), slack_escape(&line(c))));
            if !c.logs.is_empty() {
                // Inside a code block Slack shows text as it is; only its fence must not occur.
                section.push_str(&format!("\n```{}```", slack_escape(&c.logs.join("\n")).replace("```", "ˋˋˋ")));
            }
        }
        text.push('\n');
        text.push_str(&section);
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&section, 2900)}}));
    }
    if shown > CHAT_CHANGES {
        let more = format!("… and {} more changes: see the dashboard", shown - CHAT_CHANGES);
        text.push('\n');
        text.push_str(&more);
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_link(&m.dashboard, "All environments")}]}));
    blocks.truncate(50);
    json!({"text": text, "blocks": blocks})
}

/// Adaptive Card text is Markdown of a sort: every character that means
/// something there is escaped with a backslash, so input stays text.
pub fn teams_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '`' | '#' | '~' | '>' | '<' | '-' | '+' | '!' | '|')
        {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A Power Automate (Workflows) webhook body: a message with one Adaptive Card 1.4.
pub fn teams(m: &Message) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "text": teams_escape(&m.title), "weight": "Bolder", "size": "Medium", "wrap": true}),
    ];
    let mut shown = 0;
    for e in &m.environments {
        body.push(json!({"type": "TextBlock", "text": teams_escape(&e.env), "weight": "Bolder", "wrap": true, "spacing": "Medium"}));
        for c in &e.changes {
            shown += 1;
            if shown > CHAT_CHANGES {
                continue;
            }
            body.push(json!({"type": "TextBlock", "text": format!("{} {}", headline(c), teams_escape(&line(c))), "wrap": true}));
            if !c.logs.is_empty() {
                body.push(json!({"type": "TextBlock", "text": teams_escape(&c.logs.join("\n")), "wrap": true, "fontType": "Monospace", "isSubtle": true}));
            }
        }
    }
    if shown > CHAT_CHANGES {
        body.push(json!({"type": "TextBlock", "text": format!("… and {} more changes: see the dashboard", shown - CHAT_CHANGES), "wrap": true}));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if m.dashboard.starts_with("http") {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open the dashboard", "url": m.dashboard}]);
    }
    json!({
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}],
    })
}

/// The message as plain text: the fallback of every kind, and what a dry run prints.
pub fn plain(m: &Message) -> String {
    let mut out = format!("{}\n", m.title);
    for e in &m.environments {
        out.push_str(&format!("\n{} ({})\n", e.env, e.link));
        for c in &e.changes {
            out.push_str(&format!("  {} {}\n", headline(c), line(c)));
            for l in &c.logs {
                out.push_str(&format!("    | {l}\n"));
            }
        }
    }
    out.push_str(&format!("\nAll environments: {} (at {})\n", m.dashboard, since(m.generated_at)));
    out
}

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A change's one line for HTML (email), escaped.
pub fn html_line(c: &Change) -> String {
    html(&line(c))
}

/// Escapes text for HTML content and attributes.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    crate::view::push_escaped(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::alert::Subject;
    use crate::alert::changes::ChangeKind;
    use crate::settings::Severity;

    fn hostile() -> Message {
        let c = Change {
            at: Timestamp::from_second(1_795_624_200).unwrap(),
            change: ChangeKind::Down,
            subject: Subject {
                env: "prod<@channel>".into(),
                host: Some("app-1".into()),
                container: Some("web*[x](http://evil)*&".into()),
            },
            page: "prod.html".into(),
            group: None,
            problem: "exited".into(),
            severity: Severity::Critical,
            state: "exited 1 <script>".into(),
            exit_meaning: None,
            since: Timestamp::from_second(1_795_620_600).unwrap(),
            down_seconds: None,
            flips: None,
            logs: vec!["```<!here>```".into()],
        };
        Message::new(
            "chat",
            vec![c],
            false,
            Timestamp::from_second(1_795_624_200).unwrap(),
            Some("https://d.example.io"),
        )
    }

    #[test]
    fn slack_text_cannot_ping_or_link() {
        let body = slack(&hostile()).to_string();
        assert!(!body.contains("<@channel>") && !body.contains("<!here>"), "{body}");
        assert!(body.contains("prod&lt;@channel&gt;"), "{body}");
        assert!(body.contains("<https://d.example.io/prod.html|prod&lt;@channel&gt;>"), "{body}");
        assert!(body.contains("&amp;"), "{body}");
    }

    #[test]
    fn teams_text_is_escaped_markdown() {
        let body = teams(&hostile());
        let text = body["attachments"][0]["content"]["body"].to_string();
        assert!(text.contains(r"web\\*\\[x\\]\\(http://evil\\)\\*&"), "{text}");
        assert_eq!(body["attachments"][0]["content"]["version"], "1.4");
        assert_eq!(body["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
    }

    #[test]
    fn webhook_body_has_its_schema() {
        let body = webhook(&hostile());
        assert_eq!(body["version"], "1");
        assert_eq!(body["status"], "firing");
        let c = &body["changes"][0];
        assert_eq!(
            (&c["change"], &c["subject"], &c["container"]),
            (&json!("down"), &json!("container"), &json!("web*[x](http://evil)*&"))
        );
        assert_eq!(c["page"], "https://d.example.io/prod.html");
        assert_eq!(c["logs"][0], "```<!here>```", "JSON carries values as they are");
    }
}
