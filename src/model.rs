//! The data model every output is made from: environment → hosts → containers,
//! with the verdicts (problem, environment status) derived in one place.

use serde::Serialize;

use crate::status::{Health, State, parse_status};

/// One container as one `docker ps -a` row reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub name: String,
    /// Image repository, without tag or digest (`registry.example.io/intake_app`).
    pub image: String,
    /// Image tag or digest (`1.3.4_601-RC`); `latest` when the row named no tag.
    pub version: String,
    /// The raw STATUS text, kept for display.
    pub status: String,
    pub state: State,
    pub health: Health,
    pub exit_code: Option<i32>,
    /// Not running, or running but unhealthy.
    pub problem: bool,
}

impl Container {
    /// Builds a container from a row. `engine_state` is Docker's `State` column when
    /// the row had one; it wins over what the STATUS text suggests.
    pub fn from_row(name: &str, status: &str, image: &str, engine_state: Option<State>) -> Container {
        let parsed = parse_status(status);
        let state = match (engine_state, parsed.state) {
            // `running` in the State column also covers `Up … (Paused)` on older engines.
            (Some(State::Running), State::Paused) => State::Paused,
            (Some(s), _) => s,
            (None, s) => s,
        };
        let (repo, version) = split_image(image);
        Container {
            name: name.to_owned(),
            image: repo.to_owned(),
            version: version.to_owned(),
            status: status.to_owned(),
            state,
            health: parsed.health,
            exit_code: parsed.exit_code,
            problem: state != State::Running || parsed.health == Health::Unhealthy,
        }
    }
}

/// Whether envdash heard from a host at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// `docker ps -a` answered (possibly with no containers).
    Ok,
    /// The gathering step could not reach the host.
    Unreachable,
    /// The host answered but Docker did not.
    DockerUnavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    pub name: String,
    pub reach: Reach,
    /// Why the host is not `ok`, as reported by the gathering step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub containers: Vec<Container>,
}

impl Host {
    pub fn new(name: &str) -> Host {
        Host { name: name.to_owned(), reach: Reach::Ok, detail: None, containers: Vec::new() }
    }

    pub fn problems(&self) -> usize {
        self.containers.iter().filter(|c| c.problem).count()
    }

    /// A host needs attention when it was not heard from or has a problem container.
    pub fn has_problem(&self) -> bool {
        self.reach != Reach::Ok || self.containers.iter().any(|c| c.problem)
    }
}

/// The verdict for one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvStatus {
    /// Listed first on the master page: something is wrong.
    Problem,
    /// The input could not be read, so nothing is known.
    Unknown,
    Ok,
}

impl EnvStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvStatus::Problem => "problem",
            EnvStatus::Unknown => "unknown",
            EnvStatus::Ok => "ok",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub hosts: usize,
    pub containers: usize,
    pub problems: usize,
    /// Hosts that were unreachable or had no Docker.
    pub unreachable: usize,
    /// Lines that could not be read (all of them, also those not listed).
    pub warnings: usize,
}

/// Which of the two input layouts a file used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Legacy,
    Csv,
}

/// One environment, ready to render.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub name: String,
    /// The page's file name, relative to the site folder.
    pub page: String,
    /// The input file, as found under the input folder.
    pub source: String,
    pub status: EnvStatus,
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// Why the whole file could not be used (the environment is then `unknown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `file:line: reason` for each line that could not be read (the first ones).
    pub warnings: Vec<String>,
    pub hosts: Vec<Host>,
}

impl Environment {
    /// Derives counts and status from hosts, error and warnings.
    pub fn finish(&mut self) {
        let containers = self.hosts.iter().map(|h| h.containers.len()).sum();
        let problems = self.hosts.iter().map(Host::problems).sum();
        let unreachable = self.hosts.iter().filter(|h| h.reach != Reach::Ok).count();
        self.counts = Counts {
            hosts: self.hosts.len(),
            containers,
            problems,
            unreachable,
            warnings: self.counts.warnings.max(self.warnings.len()),
        };
        self.status = if self.error.is_some() {
            EnvStatus::Unknown
        } else if problems > 0 || unreachable > 0 {
            EnvStatus::Problem
        } else {
            EnvStatus::Ok
        };
    }
}

/// Splits `registry:5000/team/app:1.2@sha256:…` into repository and version.
pub fn split_image(image: &str) -> (&str, &str) {
    let image = image.trim();
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo, digest);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => (&image[..last_slash + i], &image[last_slash + i + 1..]),
        None if image.is_empty() || is_image_id(image) => (image, ""),
        None => (image, "latest"),
    }
}

/// `docker ps` shows the image ID when the tag it ran from has gone.
fn is_image_id(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    (hex.len() == 12 || hex.len() == 64) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_split() {
        assert_eq!(
            split_image("registry.example.io/intake_app:1.3.4_601-RC"),
            ("registry.example.io/intake_app", "1.3.4_601-RC")
        );
        assert_eq!(split_image("gliderlabs/logspout:v3.2.6"), ("gliderlabs/logspout", "v3.2.6"));
        assert_eq!(split_image("registry:5000/app"), ("registry:5000/app", "latest"));
        assert_eq!(split_image("registry:5000/app:2"), ("registry:5000/app", "2"));
        assert_eq!(split_image("nginx"), ("nginx", "latest"));
        assert_eq!(split_image("app@sha256:abcd"), ("app", "sha256:abcd"));
        assert_eq!(split_image("0123456789ab"), ("0123456789ab", ""));
        assert_eq!(split_image(""), ("", ""));
    }

    #[test]
    fn problem_verdicts() {
        let c = |status: &str| Container::from_row("x", status, "img:1", None).problem;
        assert!(!c("Up 3 weeks"));
        assert!(!c("Up 3 weeks (healthy)"));
        assert!(!c("Up 3 seconds (health: starting)"));
        assert!(c("Up 3 weeks (unhealthy)"));
        assert!(c("Up 3 weeks (Paused)"));
        assert!(c("Exited (0) 2 hours ago"));
        assert!(c("Restarting (1) 5 seconds ago"));
        assert!(c("Created"));
        assert!(c("Dead"));
        assert!(c(""));
    }

    #[test]
    fn engine_state_wins_but_keeps_pause() {
        let c = Container::from_row("x", "Up 2 days", "i", Some(State::Exited));
        assert_eq!(c.state, State::Exited);
        let c = Container::from_row("x", "Up 2 days (Paused)", "i", Some(State::Running));
        assert_eq!(c.state, State::Paused);
    }

    #[test]
    fn environment_status() {
        let mut env = Environment {
            name: "e".into(),
            page: "e.html".into(),
            source: "e.txt".into(),
            status: EnvStatus::Unknown,
            counts: Counts::default(),
            layout: Some(Layout::Legacy),
            error: None,
            warnings: vec![],
            hosts: vec![Host::new("h")],
        };
        env.finish();
        assert_eq!(env.status, EnvStatus::Ok);
        env.hosts[0].reach = Reach::Unreachable;
        env.finish();
        assert_eq!(env.status, EnvStatus::Problem);
        assert_eq!(env.counts.unreachable, 1);
        env.error = Some("empty".into());
        env.finish();
        assert_eq!(env.status, EnvStatus::Unknown);
    }
}
