//! `envdash.toml`: what the team knows that the input files cannot say —
//! which hosts and containers must exist, when data is too old, known issues,
//! groups of environments. Every key is optional; without a file nothing is
//! expected and nothing is invented.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

/// Default staleness threshold: three missed five-minute runs.
pub const DEFAULT_STALE_AFTER: SignedDuration = SignedDuration::from_mins(15);
/// Default history length: one day of five-minute runs.
pub const DEFAULT_HISTORY_RUNS: usize = 288;

/// The parsed configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Title of the master page (the command line wins).
    pub title: Option<String>,
    /// Seconds after which pages reload themselves (the command line wins).
    pub refresh_seconds: Option<u32>,
    /// Data older than this (`"15m"`, `"1h"`) makes an environment `stale`; `"off"` disables.
    pub stale_after: Option<String>,
    /// How many runs of history to keep; 0 turns history off.
    pub history_runs: Option<usize>,
    /// The environment other environments' versions are compared with.
    pub reference: Option<String>,
    /// Container name patterns that may have exited with code 0 (one-shot jobs).
    #[serde(default)]
    pub allow_exit_zero: Vec<String>,
    /// Sections of the master page, in order; the first matching group wins.
    #[serde(default, rename = "group")]
    pub groups: Vec<Group>,
    /// What must exist.
    #[serde(default)]
    pub expect: Vec<Expect>,
    /// A file of `[[known]]` entries, relative to this file's folder.
    pub known_issues_file: Option<PathBuf>,
    /// Known issues and maintenance, inline.
    #[serde(default)]
    pub known: Vec<Known>,
    /// The dashboard's public address (`https://dash.example.io/`), for links in
    /// alerts and the feed; relative links without it.
    pub site_url: Option<String>,
    /// How alerts behave, for every notifier (each may override `remind_every`).
    #[serde(default)]
    pub alerts: AlertSettings,
    /// Where alerts go.
    #[serde(default, rename = "notify")]
    pub notifiers: Vec<Notifier>,
}

/// `[alerts]`: reminders and flapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Repeat open problems this often (`"4h"`); none by default.
    pub remind_every: Option<String>,
    /// Changes of one container, host or environment within `flap_window`
    /// that make it flapping: one message with a count instead of one per flip.
    #[serde(default = "default_flap_changes")]
    pub flap_changes: usize,
    #[serde(default = "default_flap_window")]
    pub flap_window: String,
    /// How long one attempt to deliver a message may take (3 attempts a run).
    #[serde(default = "default_notify_timeout")]
    pub timeout: String,
}

impl Default for AlertSettings {
    fn default() -> AlertSettings {
        AlertSettings {
            remind_every: None,
            flap_changes: default_flap_changes(),
            flap_window: default_flap_window(),
            timeout: default_notify_timeout(),
        }
    }
}

fn default_flap_changes() -> usize {
    4
}

fn default_flap_window() -> String {
    "1h".to_owned()
}

fn default_notify_timeout() -> String {
    "10s".to_owned()
}

/// One `[[notify]]` entry: a destination for alerts and what it wants to hear.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifier {
    /// How messages are sent.
    pub kind: NotifierKind,
    /// A name for messages, status.json and metrics; `<kind>` or `<kind>-<n>` by default.
    pub name: Option<String>,
    /// The webhook's address (webhook, slack, teams). Better kept out of the file: `url_env`.
    pub url: Option<String>,
    /// The environment variable that holds the webhook's address.
    pub url_env: Option<String>,
    /// Environment name patterns this notifier hears about; all by default.
    #[serde(default)]
    pub environments: Vec<String>,
    /// Master-page groups this notifier hears about; all by default.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `warning` (everything, the default) or `critical` (containers down, hosts
    /// not reporting, environments unknown).
    #[serde(default)]
    pub min_severity: Severity,
    /// Overrides `[alerts] remind_every` for this notifier (`"off"` for none).
    pub remind_every: Option<String>,
    /// email: `smtp://host:587` (STARTTLS, required), `smtps://host:465` (TLS),
    /// `smtp://host:25?tls=none` (a plain relay on a trusted network).
    pub smtp: Option<String>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    /// email: environment variables holding the SMTP login, when it needs one.
    pub username_env: Option<String>,
    pub password_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifierKind {
    Webhook,
    Slack,
    Teams,
    Email,
}

/// How bad a change is. Containers that stopped, hosts that stopped reporting
/// and environments that cannot be read are critical; the rest (unhealthy,
/// paused, created, stale data) are warnings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// A section of the master page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    /// Environment name patterns (`*` and `?`).
    pub environments: Vec<String>,
}

/// Hosts and containers that must exist in the environments matching `environments`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Environment name patterns; all environments when left out.
    #[serde(default = "everything")]
    pub environments: Vec<String>,
    /// Host names; `{env}` stands for the environment's name.
    pub hosts: Vec<String>,
    /// Container names that must exist on each of those hosts.
    #[serde(default)]
    pub containers: Vec<String>,
}

/// A problem the team already knows about, or planned maintenance.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Known {
    /// Environment name pattern.
    pub environment: String,
    /// Host name pattern; all hosts when left out.
    pub host: Option<String>,
    /// Container name pattern; all containers when left out.
    pub container: Option<String>,
    pub text: String,
    pub start: Option<Timestamp>,
    pub expires: Option<Timestamp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownFile {
    #[serde(default)]
    known: Vec<Known>,
}

fn everything() -> Vec<String> {
    vec!["*".to_owned()]
}

impl Settings {
    /// Reads `path`, and the known-issues file it names.
    pub fn load(path: &Path) -> Result<Settings> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the config {}", path.display()))?;
        let mut settings: Settings =
            toml::from_str(&text).with_context(|| format!("the config {} is not valid", path.display()))?;
        if let Some(file) = &settings.known_issues_file {
            let file = path.parent().unwrap_or(Path::new(".")).join(file);
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read the known-issues file {}", file.display()))?;
            let extra: KnownFile = toml::from_str(&text)
                .with_context(|| format!("the known-issues file {} is not valid", file.display()))?;
            settings.known.extend(extra.known);
        }
        settings.stale_threshold()?;
        settings.check_alerts().with_context(|| format!("the config {} is not valid", path.display()))?;
        Ok(settings)
    }

    /// Every notifier names where to send and what it needs, and every duration reads.
    fn check_alerts(&self) -> Result<()> {
        parse_duration("[alerts] flap_window", &self.alerts.flap_window)?;
        parse_duration("[alerts] timeout", &self.alerts.timeout)?;
        if let Some(every) = &self.alerts.remind_every {
            parse_duration("[alerts] remind_every", every)?;
        }
        if let Some(url) = &self.site_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!("site_url = {url:?} must be an http:// or https:// address");
        }
        let mut names = std::collections::HashSet::new();
        for (i, n) in self.notifiers.iter().enumerate() {
            let name = self.notifier_name(i);
            if !names.insert(name.clone()) {
                bail!("two [[notify]] entries are named {name:?}: give each its own `name`");
            }
            let at = format!("[[notify]] {name}");
            if let Some(every) = n.remind_every.as_deref().filter(|e| *e != "off") {
                parse_duration(&format!("{at}: remind_every"), every)?;
            }
            match n.kind {
                NotifierKind::Email => {
                    let smtp = n.smtp.as_deref().with_context(|| format!("{at}: email needs `smtp`"))?;
                    if !(smtp.starts_with("smtp://") || smtp.starts_with("smtps://")) {
                        bail!("{at}: smtp = {smtp:?} must start with smtp:// or smtps://");
                    }
                    n.from.as_deref().with_context(|| format!("{at}: email needs `from`"))?;
                    if n.to.is_empty() {
                        bail!("{at}: email needs at least one address in `to`");
                    }
                    for address in n.to.iter().chain(&n.from) {
                        if address.contains(['\r', '\n']) {
                            bail!("{at}: the address {address:?} has a line break");
                        }
                    }
                }
                _ => {
                    if n.url.is_none() == n.url_env.is_none() {
                        bail!("{at}: give exactly one of `url` and `url_env`");
                    }
                }
            }
        }
        Ok(())
    }

    /// The name of the `i`-th notifier: its own, else its kind, numbered when
    /// there are several of that kind.
    pub fn notifier_name(&self, i: usize) -> String {
        let n = &self.notifiers[i];
        if let Some(name) = &n.name {
            return name.clone();
        }
        let kind = serde_json::to_value(n.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let same: Vec<usize> = (0..self.notifiers.len())
            .filter(|&j| self.notifiers[j].kind == n.kind && self.notifiers[j].name.is_none())
            .collect();
        if same.len() > 1 { format!("{kind}-{}", same.iter().position(|&j| j == i).unwrap_or(0) + 1) } else { kind }
    }

    /// The staleness threshold, `None` when turned off.
    pub fn stale_threshold(&self) -> Result<Option<SignedDuration>> {
        match self.stale_after.as_deref().map(str::trim) {
            None => Ok(Some(DEFAULT_STALE_AFTER)),
            Some("off" | "never" | "0") => Ok(None),
            Some(text) => {
                let d: SignedDuration = text
                    .parse()
                    .with_context(|| format!("stale_after = {text:?} is not a duration such as \"15m\" or \"off\""))?;
                if d.is_negative() || d.is_zero() {
                    bail!("stale_after = {text:?} must be positive, or \"off\"");
                }
                Ok(Some(d))
            }
        }
    }

    pub fn history_runs(&self) -> usize {
        self.history_runs.unwrap_or(DEFAULT_HISTORY_RUNS)
    }

    /// The group an environment belongs to, if groups are configured.
    pub fn group_of(&self, env: &str) -> Option<&str> {
        self.groups.iter().find(|g| g.environments.iter().any(|p| matches(p, env))).map(|g| g.name.as_str())
    }
}

/// `"4h"`, `"90m"`, `"1d"`: a positive duration, or an error naming the setting.
pub fn parse_duration(what: &str, text: &str) -> Result<SignedDuration> {
    let d: SignedDuration = text
        .trim()
        .parse()
        .with_context(|| format!("{what} = {text:?} is not a duration such as \"4h\" or \"30m\""))?;
    if d.is_negative() || d.is_zero() {
        bail!("{what} = {text:?} must be positive");
    }
    Ok(d)
}

/// Shell-style wildcard match: `*` any run of characters, `?` one character.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", "anything"));
        assert!(matches("*", ""));
        assert!(matches("prod", "prod"));
        assert!(!matches("prod", "preprod"));
        assert!(matches("*prod", "preprod"));
        assert!(matches("app-?.*.io", "app-1.demo.io"));
        assert!(!matches("app-?.*.io", "app-12.demo.io"));
        assert!(matches("db_*", "db_migrate"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
    }

    #[test]
    fn full_example_parses() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("known.toml"),
            "[[known]]\nenvironment = \"qa\"\ntext = \"perry rebuild\"\nexpires = \"2026-12-01T00:00:00Z\"\n",
        )
        .unwrap();
        let path = dir.path().join("envdash.toml");
        std::fs::write(
            &path,
            r#"
title = "CWDS"
stale_after = "20m"
history_runs = 12
reference = "prod"
allow_exit_zero = ["db_migrate*"]
known_issues_file = "known.toml"
[[group]]
name = "Prod"
environments = ["prod", "preint"]
[[expect]]
hosts = ["app-1.{env}.example.io"]
containers = ["intake_app"]
[[known]]
environment = "dev"
container = "jenkins-agent"
text = "agent rebuilt Tuesdays"
"#,
        )
        .unwrap();
        let s = Settings::load(&path).unwrap();
        assert_eq!(s.stale_threshold().unwrap(), Some(SignedDuration::from_mins(20)));
        assert_eq!(s.history_runs(), 12);
        assert_eq!(s.group_of("preint"), Some("Prod"));
        assert_eq!(s.group_of("dev"), None);
        assert_eq!(s.expect[0].environments, ["*"]);
        assert_eq!(s.known.len(), 2);
        assert_eq!(s.known[1].environment, "qa");
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("envdash.toml");
        std::fs::write(&path, "stale_afterr = \"5m\"\n").unwrap();
        let err = format!("{:#}", Settings::load(&path).unwrap_err());
        assert!(err.contains("envdash.toml") && err.contains("stale_afterr"), "{err}");
        std::fs::write(&path, "stale_after = \"soon\"\n").unwrap();
        let err = format!("{:#}", Settings::load(&path).unwrap_err());
        assert!(err.contains("not a duration"), "{err}");
        let off = Settings { stale_after: Some("off".into()), ..Settings::default() };
        assert_eq!(off.stale_threshold().unwrap(), None);
        assert_eq!(Settings::default().stale_threshold().unwrap(), Some(DEFAULT_STALE_AFTER));
    }
}
