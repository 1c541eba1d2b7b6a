//! The data model every output is made from: environment → hosts → containers,
//! with the verdicts (problem, environment status) derived in one place.

use jiff::Timestamp;
use serde::Serialize;

use crate::status::{Health, State, parse_status};

/// One container as one `docker ps -a` row reported it.
///
/// What every row has is kept inline; what only some containers have (what
/// `docker inspect` said, and what a problem carries: its reason, since when,
/// its logs) is boxed apart. A container is 128 bytes, not 264: an environment
/// of a million containers holds 130 MB of them, not 270.
#[derive(Debug, Clone)]
pub struct Container {
    pub name: Text,
    /// Image repository, without tag or digest (`registry.example.io/intake_app`).
    pub image: Text,
    /// Image tag or digest (`1.3.4_601-RC`); `latest` when the row named no tag.
    pub version: Text,
    /// The raw STATUS text, kept for display.
    pub status: Text,
    pub state: State,
    pub health: Health,
    /// Not running, or running but unhealthy, or missing, or crash-looping.
    pub problem: bool,
    pub exit_code: Option<i32>,
    inspect: Option<Box<Inspect>>,
    detail: Option<Box<Detail>>,
}

/// What `docker inspect` said of a container, when the gathering step sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspect {
    /// The engine's count of restarts by the restart policy (`RestartCount`).
    pub restart_count: Option<u32>,
    /// The kernel killed it for want of memory (`State.OOMKilled`).
    pub oom_killed: bool,
    /// When it was last started (`State.StartedAt`).
    pub started_at: Option<Timestamp>,
    /// `no`, `always`, `unless-stopped` or `on-failure`.
    pub restart_policy: Text,
}

/// What few containers have: what the history and the known issues say of a
/// problem, why it is one, and what `docker inspect` and `docker logs` said of
/// it beyond its state (redacted on the host).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detail {
    /// The known issue that explains this problem (shown amber, not red).
    pub known: Option<String>,
    /// Since when it has been a problem (from history, or from its status text).
    pub since: Option<Timestamp>,
    /// Restarts seen within the history window (uptime going backwards, or `Restarting`).
    pub restarts: usize,
    /// Restarting now, or restarted again and again within the history window.
    pub crash_loop: bool,
    /// When it last stopped (`State.FinishedAt`), for a container that is not running.
    pub finished_at: Option<Timestamp>,
    /// The engine's error (`State.Error`: `OCI runtime create failed …`).
    pub error: String,
    /// The last health-check output, when unhealthy.
    pub health_output: String,
    /// The last lines of `docker logs`, for a container that looked like a problem.
    pub logs: String,
    /// Why it is a problem, in words (`killed: out of memory after 4 min up`).
    pub reason: Option<String>,
    /// Its uptime figures, when it was not fine in every run of the last 30 days.
    pub uptime: Option<Box<crate::uptime::Uptime>>,
}

static NO_INSPECT: Inspect =
    Inspect { restart_count: None, oom_killed: false, started_at: None, restart_policy: Text::const_new("") };

static NO_DETAIL: Detail = Detail {
    known: None,
    since: None,
    restarts: 0,
    crash_loop: false,
    finished_at: None,
    error: String::new(),
    health_output: String::new(),
    logs: String::new(),
    reason: None,
    uptime: None,
};

/// Equal when everything is: an empty box is the same as none.
impl PartialEq for Container {
    fn eq(&self, other: &Container) -> bool {
        (&self.name, &self.image, &self.version, &self.status)
            == (&other.name, &other.image, &other.version, &other.status)
            && (self.state, self.health, self.problem, self.exit_code)
                == (other.state, other.health, other.problem, other.exit_code)
            && self.inspect() == other.inspect()
            && self.detail() == other.detail()
    }
}

/// `status.json` and the templates see one flat object per container, its
/// keys in this order, each optional one only when it has a value.
impl Serialize for Container {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (i, d) = (self.inspect(), self.detail());
        let mut m = s.serialize_struct("Container", 22)?;
        m.serialize_field("name", &self.name)?;
        m.serialize_field("image", &self.image)?;
        m.serialize_field("version", &self.version)?;
        m.serialize_field("status", &self.status)?;
        m.serialize_field("state", &self.state)?;
        m.serialize_field("health", &self.health)?;
        m.serialize_field("exit_code", &self.exit_code)?;
        m.serialize_field("problem", &self.problem)?;
        if let Some(known) = &d.known {
            m.serialize_field("known", known)?;
        }
        if let Some(since) = &d.since {
            m.serialize_field("since", since)?;
        }
        if d.restarts != 0 {
            m.serialize_field("restarts", &d.restarts)?;
        }
        if d.crash_loop {
            m.serialize_field("crash_loop", &true)?;
        }
        if let Some(n) = &i.restart_count {
            m.serialize_field("restart_count", n)?;
        }
        if i.oom_killed {
            m.serialize_field("oom_killed", &true)?;
        }
        if let Some(t) = &i.started_at {
            m.serialize_field("started_at", t)?;
        }
        if !i.restart_policy.is_empty() {
            m.serialize_field("restart_policy", &i.restart_policy)?;
        }
        if let Some(t) = &d.finished_at {
            m.serialize_field("finished_at", t)?;
        }
        for (key, text) in [("error", &d.error), ("health_output", &d.health_output), ("logs", &d.logs)] {
            if !text.is_empty() {
                m.serialize_field(key, text)?;
            }
        }
        if let Some(reason) = &d.reason {
            m.serialize_field("reason", reason)?;
        }
        if let Some(uptime) = &d.uptime {
            m.serialize_field("uptime", uptime)?;
        }
        m.end()
    }
}

/// A string of a container row. Most are short (`svc_api`, `1.3.4_601-RC`, `Up 3
/// weeks`) and are kept inline, up to 24 bytes, without an allocation each:
/// four allocations and frees per row were a tenth of a large render.
pub type Text = compact_str::CompactString;

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
            name: Text::new(name),
            image: Text::new(repo),
            version: Text::new(version),
            status: Text::new(status),
            state,
            health: parsed.health,
            exit_code: parsed.exit_code,
            problem: state != State::Running || parsed.health == Health::Unhealthy,
            inspect: None,
            detail: None,
        }
    }

    /// A container the configuration expects but no row reported.
    pub fn missing(name: &str) -> Container {
        let mut c = Container::from_row(name, "expected, not found", "", None);
        (c.state, c.problem) = (State::Missing, true);
        c
    }

    /// A problem nobody has explained yet.
    pub fn new_problem(&self) -> bool {
        self.problem && self.detail().known.is_none()
    }

    /// What `docker inspect` said (all empty when not gathered).
    pub fn inspect(&self) -> &Inspect {
        self.inspect.as_deref().unwrap_or(&NO_INSPECT)
    }

    /// To set what `docker inspect` said: only when there is something to set,
    /// since the first call gives the container its box.
    pub fn inspect_mut(&mut self) -> &mut Inspect {
        self.inspect.get_or_insert_default()
    }

    /// What the history, known issues, inspect and logs say of it (empty for most).
    pub fn detail(&self) -> &Detail {
        self.detail.as_deref().unwrap_or(&NO_DETAIL)
    }

    /// To set a detail: only when there is something to set, since the first
    /// call gives the container its box.
    pub fn detail_mut(&mut self) -> &mut Detail {
        self.detail.get_or_insert_default()
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
    /// The configuration expects the host but the input did not mention it.
    Missing,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Host {
    pub name: String,
    pub reach: Reach,
    /// Why the host is not `ok`, as reported by the gathering step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The known issue that explains why the host is not reporting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known: Option<String>,
    pub containers: Vec<Container>,
}

impl Host {
    pub fn new(name: &str) -> Host {
        Host { name: name.to_owned(), reach: Reach::Ok, detail: None, known: None, containers: Vec::new() }
    }

    /// Problem containers not explained by a known issue.
    pub fn problems(&self) -> usize {
        self.containers.iter().filter(|c| c.new_problem()).count()
    }

    /// Not heard from, and not explained by a known issue.
    pub fn unreachable(&self) -> bool {
        self.reach != Reach::Ok && self.known.is_none()
    }

    /// A host needs attention when it was not heard from or has a problem container.
    pub fn has_problem(&self) -> bool {
        self.unreachable() || self.containers.iter().any(Container::new_problem)
    }
}

/// The verdict for one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvStatus {
    /// Listed first on the master page: something is wrong.
    Problem,
    /// The input could not be read, so nothing is known.
    Unknown,
    /// The data is older than the staleness threshold: whatever it says is not current.
    Stale,
    /// Every problem is explained by a known issue.
    Known,
    Ok,
}

impl EnvStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvStatus::Problem => "problem",
            EnvStatus::Unknown => "unknown",
            EnvStatus::Stale => "stale",
            EnvStatus::Known => "known",
            EnvStatus::Ok => "ok",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub hosts: usize,
    pub containers: usize,
    /// Problem containers not explained by a known issue.
    pub problems: usize,
    /// Hosts that were unreachable, had no Docker, or were expected but missing.
    pub unreachable: usize,
    /// Problems (containers and hosts) explained by a known issue.
    pub known: usize,
    /// Expected containers that were not reported.
    pub missing: usize,
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
    /// When the data was gathered: the file's `gathered_at` column, else its modification time.
    pub data_time: Option<Timestamp>,
    /// Age of the data at the time of the run, in seconds.
    pub age_seconds: Option<i64>,
    /// The data is older than the staleness threshold.
    pub stale: bool,
    /// Some hosts did not report (unreachable, no Docker, or missing).
    pub degraded: bool,
    /// The master-page section, when groups are configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Its uptime figures (with history).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<crate::uptime::Uptime>,
    pub hosts: Vec<Host>,
}

impl Environment {
    /// A new environment with nothing in it yet.
    pub fn new(name: &str, page: &str, source: &str) -> Environment {
        Environment {
            name: name.to_owned(),
            page: page.to_owned(),
            source: source.to_owned(),
            status: EnvStatus::Unknown,
            counts: Counts::default(),
            layout: None,
            error: None,
            warnings: Vec::new(),
            data_time: None,
            age_seconds: None,
            stale: false,
            degraded: false,
            group: None,
            uptime: None,
            hosts: Vec::new(),
        }
    }

    /// Derives counts and status from hosts, error, staleness and warnings.
    pub fn finish(&mut self) {
        let all = || self.hosts.iter().flat_map(|h| &h.containers);
        let containers = all().filter(|c| c.state != State::Missing).count();
        let missing = all().filter(|c| c.state == State::Missing).count();
        let problems = all().filter(|c| c.new_problem()).count();
        let known = all().filter(|c| c.problem && c.detail().known.is_some()).count()
            + self.hosts.iter().filter(|h| h.reach != Reach::Ok && h.known.is_some()).count();
        let unreachable = self.hosts.iter().filter(|h| h.unreachable()).count();
        self.counts = Counts {
            hosts: self.hosts.len(),
            containers,
            problems,
            unreachable,
            known,
            missing,
            warnings: self.counts.warnings.max(self.warnings.len()),
        };
        self.degraded = unreachable > 0;
        self.status = if self.error.is_some() {
            EnvStatus::Unknown
        } else if self.stale {
            EnvStatus::Stale
        } else if problems > 0 || unreachable > 0 {
            EnvStatus::Problem
        } else if known > 0 {
            EnvStatus::Known
        } else {
            EnvStatus::Ok
        };
    }
}

/// `name`, or `name (2)`, `name (3)` for later ones of the same name: how a
/// host's second container of one name is labelled where labels must differ
/// (metrics series, alert subjects).
pub fn unique_label(seen: &mut std::collections::HashSet<String>, name: &str) -> String {
    let mut label = name.to_owned();
    let mut n = 2;
    while !seen.insert(label.clone()) {
        label = format!("{name} ({n})");
        n += 1;
    }
    label
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
    fn a_container_is_small_and_most_have_no_boxes() {
        // An environment of a million containers holds a million of these.
        assert!(std::mem::size_of::<Container>() <= 128, "{} bytes", std::mem::size_of::<Container>());
        let c = Container::from_row("web", "Up 3 weeks (healthy)", "registry.example.io/web:1.2", None);
        assert!(c.inspect.is_none() && c.detail.is_none());
        let mut boxed = c.clone();
        boxed.inspect_mut();
        boxed.detail_mut();
        assert_eq!(boxed, c, "an empty box is the same as none");
        boxed.detail_mut().restarts = 1;
        assert_ne!(boxed, c);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"name":"web","image":"registry.example.io/web","version":"1.2","status":"Up 3 weeks (healthy)","state":"running","health":"healthy","exit_code":null,"problem":false}"#
        );
        // Everything set: the keys status.json has always had, in the same order.
        let mut c = Container::from_row("api", "Exited (137) 1 minute ago", "api:2", None);
        let t: Timestamp = "2026-11-25T16:00:00Z".parse().unwrap();
        *c.inspect_mut() =
            Inspect { restart_count: Some(3), oom_killed: true, started_at: Some(t), restart_policy: "always".into() };
        *c.detail_mut() = Detail {
            known: Some("k".into()),
            since: Some(t),
            restarts: 2,
            crash_loop: true,
            finished_at: Some(t),
            error: "e".into(),
            health_output: "h".into(),
            logs: "l".into(),
            reason: Some("r".into()),
            uptime: Some(Box::default()),
        };
        let json = serde_json::to_string(&c).unwrap();
        let keys = "name image version status state health exit_code problem known since restarts crash_loop \
                    restart_count oom_killed started_at restart_policy finished_at error health_output logs reason uptime";
        let at: Vec<usize> =
            keys.split_whitespace().map(|k| json.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("{k}"))).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{json}");
    }

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
        let mut env = Environment::new("e", "e.html", "e.txt");
        env.hosts.push(Host::new("h"));
        env.finish();
        assert_eq!(env.status, EnvStatus::Ok);
        env.hosts[0].reach = Reach::Unreachable;
        env.finish();
        assert_eq!(env.status, EnvStatus::Problem);
        assert_eq!(env.counts.unreachable, 1);
        env.hosts[0].known = Some("rebuild".into());
        env.finish();
        assert_eq!((env.status, env.counts.known, env.counts.unreachable), (EnvStatus::Known, 1, 0));
        env.hosts[0].containers.push(Container::missing("web"));
        env.finish();
        assert_eq!((env.status, env.counts.missing, env.counts.containers), (EnvStatus::Problem, 1, 0));
        env.stale = true;
        env.finish();
        assert_eq!(env.status, EnvStatus::Stale);
        env.error = Some("empty".into());
        env.finish();
        assert_eq!(env.status, EnvStatus::Unknown);
    }
}
