//! Memory across runs: each environment's recent verdicts, and per container
//! when its problem started, its last uptime and the restarts seen. Kept in one
//! small JSON file per environment (`history/<page>.json` in the site), read
//! and written by the worker that renders that environment.
//!
//! Each host's containers stay JSON text ([`HostTracks`]) from the file read to
//! the file written, and become [`Tracks`] only while that host is tracked: an
//! environment of a million containers holds one host's tracks as structures at
//! a time, not two million.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use jiff::Timestamp;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::alert::state::EnvAlerts;
use crate::model::{EnvStatus, Text};
use crate::output::SiteFile;
use crate::status::lookup_ci;
use crate::uptime::Segments;

/// One past run of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    #[serde(rename = "t")]
    pub time: Timestamp,
    #[serde(rename = "s")]
    pub status: EnvStatus,
}

/// What was last seen of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Track {
    /// Least uptime (seconds) its status allowed when last seen running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<u64>,
    /// Since when it has been a problem, if it was one when last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// When restarts were seen, oldest first, within the history window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restarts: Vec<Timestamp>,
    /// The engine's restart count when last seen, when the input has it.
    #[serde(default, rename = "rc", skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<u32>,
    /// It was crash-looping when last seen (so that the same run rendered again says so too).
    #[serde(default, rename = "cl", skip_serializing_if = "std::ops::Not::not")]
    pub crash_loop: bool,
    /// Fine or not, run after run, as transitions (the last 30 days).
    #[serde(default, rename = "u", skip_serializing_if = "Segments::is_empty")]
    pub uptime: Segments,
}

/// The history file of one environment. Containers were last seen at the
/// time of the last run. `H` is how a host's tracks are held: [`HostTracks`],
/// or the text of the file being read ([`EnvHistory::load`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvHistory<H = HostTracks> {
    pub name: String,
    /// By host, then container name. Written before the runs, so that the file
    /// can be written host by host as they are tracked ([`HistoryWriter`]).
    pub hosts: BTreeMap<String, H>,
    /// Oldest first, at most the configured number of runs.
    pub runs: Vec<Run>,
    /// The environment fine or not, run after run (the last 30 days).
    #[serde(default, skip_serializing_if = "Segments::is_empty")]
    pub uptime: Segments,
    /// What alerting knows of it: open problems, flips, incidents.
    #[serde(default, skip_serializing_if = "EnvAlerts::is_empty")]
    pub alerts: EnvAlerts,
}

impl Default for EnvHistory {
    fn default() -> EnvHistory {
        EnvHistory {
            name: String::new(),
            hosts: BTreeMap::new(),
            runs: Vec::new(),
            uptime: Segments::default(),
            alerts: EnvAlerts::default(),
        }
    }
}

/// The containers of one host, in the order last seen: a JSON object from
/// container name to [`Track`]. Kept as a list, not a map, because a host's
/// containers come back in the same order run after run, so each is found at
/// its old place without a search; from the first container that is not,
/// the rest are found through an index. Duplicate names each keep their own
/// entry, matched in order: the second `web` of this run gets the track of
/// the second `web` of the last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracks {
    list: Vec<(Text, Track)>,
    /// Name → positions in `list`, built on the first miss.
    index: Option<HashMap<Text, Vec<usize>>>,
}

impl Tracks {
    pub fn push(&mut self, name: Text, track: Track) {
        self.list.push((name, track));
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Takes the track of `name`, the `at`-th container of the host this run.
    /// While every container so far was where it was last time, it is looked
    /// for at position `at`; that keeps duplicates in order, since everything
    /// before is the same. Each entry is taken once.
    pub fn take(&mut self, name: &str, at: usize) -> Option<Track> {
        if name.is_empty() {
            return None;
        }
        if self.index.is_none()
            && let Some((n, track)) = self.list.get_mut(at).filter(|(n, _)| n == name)
        {
            n.clear(); // taken: never a container's name
            return Some(std::mem::take(track));
        }
        let index = self.index.get_or_insert_with(|| {
            let mut index: HashMap<Text, Vec<usize>> = HashMap::new();
            for (i, (n, _)) in self.list.iter().enumerate().filter(|(_, (n, _))| !n.is_empty()) {
                index.entry(n.clone()).or_default().push(i);
            }
            index
        });
        let positions = index.get_mut(name)?;
        while let Some(i) = positions.first().copied() {
            positions.remove(0);
            let (n, track) = &mut self.list[i];
            if !n.is_empty() {
                n.clear();
                return Some(std::mem::take(track));
            }
        }
        None
    }
}

/// One host's [`Tracks`] as the history file holds them: JSON text, checked to
/// be JSON when the file is read and turned into `Tracks` only when needed.
/// The text of a large history file is left in the file, and read host by
/// host as each is tracked: a million containers' tracks are not held twice.
#[derive(Debug, Clone)]
pub struct HostTracks(Stored);

#[derive(Debug, Clone)]
enum Stored {
    Text(Box<RawValue>),
    /// `len` bytes at `at` in the previous site's history file, open.
    InFile {
        file: Arc<File>,
        at: u64,
        len: usize,
    },
}

/// History files larger than this (some 30 000 containers) leave their hosts' tracks in the file.
const IN_FILE_BYTES: usize = 1 << 20;

impl HostTracks {
    /// `tracks` as the file will hold them.
    pub fn of(tracks: &Tracks) -> HostTracks {
        HostTracks(Stored::Text(serde_json::value::to_raw_value(tracks).expect("tracks serialize to JSON")))
    }

    /// The JSON text.
    fn text(&self) -> std::io::Result<std::borrow::Cow<'_, str>> {
        match &self.0 {
            Stored::Text(raw) => Ok(raw.get().into()),
            Stored::InFile { file, at, len } => {
                use std::os::unix::fs::FileExt;
                let mut bytes = vec![0; *len];
                file.read_exact_at(&mut bytes, *at)?;
                String::from_utf8(bytes).map(Into::into).map_err(std::io::Error::other)
            }
        }
    }

    /// The same tracks, held in memory to be written again, when they can be
    /// read (as [`HostTracks::tracks`]); what cannot be read is forgotten.
    pub fn kept(self, env: &str, host: &str) -> Option<HostTracks> {
        if let Stored::Text(_) = self.0 {
            return Some(self);
        }
        self.raw().map(|raw| HostTracks(Stored::Text(raw))).map_err(|e| forget(env, host, e)).ok()
    }

    /// The text, checked to be JSON, in memory.
    fn raw(&self) -> Result<Box<RawValue>, String> {
        let text = self.text().map_err(|e| e.to_string())?;
        RawValue::from_string(text.into_owned()).map_err(|e| e.to_string())
    }

    /// The tracks of `host` in environment `env`; what cannot be read is
    /// forgotten (with a log line), as a whole unreadable history is.
    pub fn tracks(&self, env: &str, host: &str) -> Tracks {
        let tracks = self
            .text()
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()));
        tracks.unwrap_or_else(|e| {
            forget(env, host, e);
            Tracks::default()
        })
    }
}

/// Says that the history of one host could not be read.
fn forget(env: &str, host: &str, e: impl std::fmt::Display) {
    log::warn!(
        "history of environment {env:?}, host {host}: not readable ({e}); that host's history starts again and is \
         rewritten by this run"
    );
}

impl Serialize for HostTracks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Stored::Text(raw) => raw.serialize(s),
            Stored::InFile { .. } => self.raw().map_err(serde::ser::Error::custom)?.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for HostTracks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<HostTracks, D::Error> {
        Box::<RawValue>::deserialize(d).map(|raw| HostTracks(Stored::Text(raw)))
    }
}

impl PartialEq for HostTracks {
    fn eq(&self, other: &HostTracks) -> bool {
        matches!((self.text(), other.text()), (Ok(a), Ok(b)) if a == b)
    }
}

impl Eq for HostTracks {}

impl Serialize for Tracks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.list.iter().filter(|(n, _)| !n.is_empty()).map(|(n, t)| (n, t)))
    }
}

impl<'de> Deserialize<'de> for Tracks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tracks, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Tracks;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map from container name to its track")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tracks, A::Error> {
                let mut tracks = Tracks { list: Vec::with_capacity(map.size_hint().unwrap_or(0)), index: None };
                while let Some((name, track)) = map.next_entry::<Text, Track>()? {
                    tracks.push(name, track);
                }
                Ok(tracks)
            }
        }
        d.deserialize_map(Pairs)
    }
}

impl EnvHistory {
    /// Reads the history of `name` from `path`; a missing, unreadable or foreign
    /// file is an empty history (with a log line), never an error.
    pub fn load(path: &Path, name: &str) -> EnvHistory {
        let fresh = EnvHistory { name: name.to_owned(), ..EnvHistory::default() };
        let Ok(bytes) = crate::readfile::read_regular(path).map(|s| s.into_bytes()) else { return fresh };
        match serde_json::from_slice::<EnvHistory<&RawValue>>(&bytes) {
            Ok(h) if h.name == name => {
                // A large file's tracks are read again from it, host by host,
                // when that is the file that was read: a regular file of the same
                // length (opened without blocking, as `readfile` opens it).
                let file = (bytes.len() > IN_FILE_BYTES)
                    .then(|| File::options().read(true).custom_flags(libc::O_NONBLOCK).open(path).ok())
                    .flatten()
                    .filter(|f| f.metadata().is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64))
                    .map(Arc::new);
                let start = bytes.as_ptr() as usize;
                let hosts = h
                    .hosts
                    .into_iter()
                    .map(|(host, raw)| {
                        let tracks = match &file {
                            Some(file) => Stored::InFile {
                                file: Arc::clone(file),
                                at: (raw.get().as_ptr() as usize - start) as u64,
                                len: raw.get().len(),
                            },
                            None => Stored::Text(raw.to_owned()),
                        };
                        (host, HostTracks(tracks))
                    })
                    .collect();
                EnvHistory { name: h.name, hosts, runs: h.runs, uptime: h.uptime, alerts: h.alerts }
            }
            Ok(_) => fresh,
            Err(e) => {
                log::warn!("{}: history not readable ({e}); starting a new one", path.display());
                fresh
            }
        }
    }
}

/// A history file written as it is made, in the order serde writes an
/// [`EnvHistory`]: each host's tracks as soon as the host is tracked (see
/// [`crate::monitor::Monitor::apply_streaming`]), then the runs and uptime,
/// then the alerts once they are stepped. A huge environment's tracks are
/// never all in memory, and its history is let go of before its outputs are made.
pub struct HistoryWriter {
    file: SiteFile,
    hosts: usize,
    /// The first write that failed: reported by [`HistoryWriter::rest`].
    error: Option<anyhow::Error>,
}

impl HistoryWriter {
    /// Starts the history of environment `name` at `path` (in the site being built).
    pub fn create(path: &Path, name: &str) -> anyhow::Result<HistoryWriter> {
        let mut file = SiteFile::create(path)?;
        file.write(|w| {
            w.write_all(b"{\"name\":")?;
            serde_json::to_writer(&mut *w, name)?;
            Ok(w.write_all(b",\"hosts\":{")?)
        })?;
        Ok(HistoryWriter { file, hosts: 0, error: None })
    }

    /// Writes one host's tracks.
    pub fn host(&mut self, name: &str, tracks: &HostTracks) {
        if self.error.is_some() {
            return;
        }
        let first = self.hosts == 0;
        self.hosts += 1;
        let written = self.file.write(|w| {
            if !first {
                w.write_all(b",")?;
            }
            serde_json::to_writer(&mut *w, name)?;
            w.write_all(b":")?;
            Ok(serde_json::to_writer(&mut *w, tracks)?)
        });
        self.error = written.err();
    }

    /// Ends the hosts, and writes the runs and uptime.
    pub fn rest(&mut self, runs: &[Run], uptime: &Segments) -> anyhow::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.file.write(|w| {
            w.write_all(b"},\"runs\":")?;
            serde_json::to_writer(&mut *w, runs)?;
            if !uptime.is_empty() {
                w.write_all(b",\"uptime\":")?;
                serde_json::to_writer(&mut *w, uptime)?;
            }
            Ok(())
        })
    }

    /// Ends the file with `alerts`.
    pub fn finish(mut self, alerts: &EnvAlerts) -> anyhow::Result<()> {
        self.file.write(|w| {
            if !alerts.is_empty() {
                w.write_all(b",\"alerts\":")?;
                serde_json::to_writer(&mut *w, alerts)?;
            }
            Ok(w.write_all(b"}")?)
        })?;
        self.file.finish()
    }
}

/// The range of seconds a Docker human duration stands for (moby's
/// `units.HumanDuration`): `3 weeks` is 21 to 28 days.
pub fn duration_range(text: &str) -> Option<(u64, u64)> {
    const MIN: u64 = 60;
    const HOUR: u64 = 3600;
    const DAY: u64 = 86_400;
    let text = text.trim();
    let text = text.strip_suffix(" ago").unwrap_or(text).trim_end();
    let fixed = [
        ("less than a second", (0, 1)),
        ("about a minute", (MIN, 2 * MIN)),
        ("about an hour", (HOUR, HOUR + HOUR / 2)),
    ];
    if let Some(range) = lookup_ci(text, &fixed) {
        return Some(range);
    }
    let (n, unit) = text.split_once(' ')?;
    let n: u64 = n.parse().ok()?;
    let unit = unit.strip_suffix(['s', 'S']).unwrap_or(unit);
    // (seconds per unit, rounding): hours are rounded to the nearest, the rest down.
    let (size, nearest) = lookup_ci(
        unit,
        &[
            ("second", (1, false)),
            ("minute", (MIN, false)),
            ("hour", (HOUR, true)),
            ("day", (DAY, false)),
            ("week", (7 * DAY, false)),
            ("month", (30 * DAY, false)),
            ("year", (365 * DAY, false)),
        ],
    )?;
    Some(if nearest { ((n * size).saturating_sub(size / 2), n * size + size / 2) } else { (n * size, (n + 1) * size) })
}

/// Uptime range of a running container: `Up 3 weeks (healthy)` → 21..28 days.
pub fn uptime(status: &str) -> Option<(u64, u64)> {
    let rest = status.trim().strip_prefix("Up ")?;
    let duration = rest.split('(').next()?;
    duration_range(duration)
}

/// How long ago an exited or restarting container stopped: `Exited (1) 2 hours ago`.
pub fn stopped_ago(status: &str) -> Option<(u64, u64)> {
    let (_, after) = status.split_once(')')?;
    let after = after.trim();
    after.ends_with("ago").then(|| duration_range(after)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_durations() {
        assert_eq!(duration_range("Less than a second"), Some((0, 1)));
        assert_eq!(duration_range("1 second"), Some((1, 2)));
        assert_eq!(duration_range("45 seconds"), Some((45, 46)));
        assert_eq!(duration_range("About a minute"), Some((60, 120)));
        assert_eq!(duration_range("12 minutes"), Some((720, 780)));
        assert_eq!(duration_range("About an hour"), Some((3600, 5400)));
        assert_eq!(duration_range("2 hours"), Some((5400, 9000)));
        assert_eq!(duration_range("3 days"), Some((3 * 86_400, 4 * 86_400)));
        assert_eq!(duration_range("3 weeks"), Some((21 * 86_400, 28 * 86_400)));
        assert_eq!(duration_range("2 months"), Some((60 * 86_400, 90 * 86_400)));
        assert_eq!(duration_range("1 year"), Some((365 * 86_400, 730 * 86_400)));
        assert_eq!(duration_range("11 seconds ago"), Some((11, 12)));
        assert_eq!(duration_range("soon"), None);
        assert_eq!(duration_range("x minutes"), None);
    }

    #[test]
    fn uptimes_and_stops() {
        assert_eq!(uptime("Up 12 minutes (healthy)"), Some((720, 780)));
        assert_eq!(uptime("Up 5 seconds ago (starting)"), Some((5, 6)));
        assert_eq!(uptime("Exited (0) 3 minutes ago"), None);
        assert_eq!(stopped_ago("Exited (137) 2 hours ago"), Some((5400, 9000)));
        assert_eq!(stopped_ago("Restarting (1) 5 seconds ago"), Some((5, 6)));
        assert_eq!(stopped_ago("Up 2 hours"), None);
    }

    #[test]
    fn tracks_are_found_where_they_were_or_wherever_they_moved() {
        let track = |up| Track { up: Some(up), ..Track::default() };
        let json = r#"{"web":{"up":1},"db":{"up":2},"web":{"up":3},"cache":{"up":4}}"#;
        let mut tracks: Tracks = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&tracks).unwrap(), json, "file order and duplicates are kept");
        assert_eq!(tracks.take("db", 1), Some(track(2)), "in place");
        assert_eq!(tracks.take("cache", 0), Some(track(4)), "moved");
        assert_eq!(tracks.take("web", 1), Some(track(1)), "duplicates in order");
        assert_eq!(tracks.take("web", 2), Some(track(3)));
        assert_eq!(tracks.take("web", 0), None, "each entry is taken once");
        assert_eq!(tracks.take("db", 1), None);
        assert_eq!(tracks.take("", 1), None, "a taken slot matches nothing");
        assert_eq!(serde_json::to_string(&tracks).unwrap(), "{}");
    }

    #[test]
    fn duplicates_keep_their_order_when_containers_move() {
        let track = |up| Track { up: Some(up), ..Track::default() };
        let json = r#"{"web":{"up":1},"web":{"up":2}}"#;
        let mut tracks: Tracks = serde_json::from_str(json).unwrap();
        // A new container comes first: the first `web` is now at position 1,
        // where the second `web` was.
        assert_eq!(tracks.take("new", 0), None);
        assert_eq!(tracks.take("web", 1), Some(track(1)), "the first web, not the one at position 1");
        assert_eq!(tracks.take("web", 2), Some(track(2)));
    }

    #[test]
    fn each_host_is_read_when_tracked_and_an_unreadable_one_starts_again_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.json");
        let json = r#"{"name":"a","hosts":{"bad":{"web":{"up":"soon"}},"good":{"web":{"up":5}}},"runs":[]}"#;
        std::fs::write(&p, json).unwrap();
        let h = EnvHistory::load(&p, "a");
        assert!(h.hosts["bad"].tracks("a", "bad").is_empty());
        let mut good = h.hosts["good"].tracks("a", "good");
        assert_eq!(good.take("web", 0), Some(Track { up: Some(5), ..Track::default() }));
        assert_eq!(serde_json::to_string(&h).unwrap(), json, "written back as it was read");
        let mut tracks = Tracks::default();
        tracks.push("db".into(), Track { up: Some(7), ..Track::default() });
        assert_eq!(serde_json::to_string(&HostTracks::of(&tracks)).unwrap(), r#"{"db":{"up":7}}"#);
    }

    #[test]
    fn the_file_written_host_by_host_is_the_file_serde_writes() {
        let dir = tempfile::tempdir().unwrap();
        let json = r#"{"name":"a","hosts":{"h1":{"web":{"up":5}},"h2":{}},"runs":[{"t":"2026-11-25T16:30:00Z","s":"problem"}]}"#;
        let mut h: EnvHistory = serde_json::from_str(json).unwrap();
        let streamed = |h: &EnvHistory| {
            let path = dir.path().join("h.json");
            let mut w = HistoryWriter::create(&path, &h.name).unwrap();
            for (name, tracks) in &h.hosts {
                w.host(name, tracks);
            }
            w.rest(&h.runs, &h.uptime).unwrap();
            w.finish(&h.alerts).unwrap();
            std::fs::read_to_string(&path).unwrap()
        };
        assert_eq!(streamed(&h), json);
        let t: Timestamp = "2026-11-25T16:30:00Z".parse().unwrap();
        h.uptime.push(t, crate::uptime::Seen::Problem);
        h.alerts.flapping.insert("a/h/web".into());
        assert!(!h.uptime.is_empty() && !h.alerts.is_empty());
        assert_eq!(streamed(&h), serde_json::to_string(&h).unwrap());
        h.hosts.clear();
        assert_eq!(streamed(&h), serde_json::to_string(&h).unwrap(), "no host");
    }

    #[test]
    fn a_large_history_leaves_its_tracks_in_the_file_and_reads_them_host_by_host() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.json");
        let mut h = EnvHistory { name: "a".into(), ..EnvHistory::default() };
        for i in 0..100 {
            let mut tracks = Tracks::default();
            for c in 0..3000 {
                tracks.push(format!("c{c}").into(), Track { up: Some(c), ..Track::default() });
            }
            h.hosts.insert(format!("h{i}"), HostTracks::of(&tracks));
        }
        let json = serde_json::to_string(&h).unwrap();
        assert!(json.len() > IN_FILE_BYTES);
        std::fs::write(&p, &json).unwrap();
        let loaded = EnvHistory::load(&p, "a");
        assert!(loaded.hosts.values().all(|t| matches!(t.0, Stored::InFile { .. })));
        assert_eq!(loaded, h);
        assert_eq!(serde_json::to_string(&loaded).unwrap(), json, "written back as it was read");
        let mut tracks = loaded.hosts["h7"].tracks("a", "h7");
        assert_eq!(tracks.take("c5", 5), Some(Track { up: Some(5), ..Track::default() }));
        let kept = loaded.hosts["h9"].clone().kept("a", "h9").unwrap();
        assert!(matches!(kept.0, Stored::Text(_)) && kept == h.hosts["h9"], "kept to be written again");
        // The file is cut under it: the hosts not read yet start again, nothing fails.
        std::fs::write(&p, "{}").unwrap();
        assert!(loaded.hosts["h8"].tracks("a", "h8").is_empty());
        assert!(loaded.hosts["h9"].clone().kept("a", "h9").is_none());
        // A small file's tracks are read into memory at once.
        std::fs::write(&p, r#"{"name":"a","hosts":{"h":{"web":{"up":1}}},"runs":[]}"#).unwrap();
        assert!(matches!(EnvHistory::load(&p, "a").hosts["h"].0, Stored::Text(_)));
    }

    #[test]
    fn load_is_forgiving() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.json");
        assert_eq!(EnvHistory::load(&p, "a").name, "a");
        std::fs::write(&p, "{not json").unwrap();
        assert!(EnvHistory::load(&p, "a").runs.is_empty());
        let h = EnvHistory {
            name: "b".into(),
            runs: vec![Run { time: "2026-01-01T00:00:00Z".parse().unwrap(), status: EnvStatus::Ok }],
            hosts: BTreeMap::new(),
            uptime: Segments::default(),
            alerts: EnvAlerts::default(),
        };
        std::fs::write(&p, serde_json::to_vec(&h).unwrap()).unwrap();
        assert!(EnvHistory::load(&p, "a").runs.is_empty(), "another environment's history is not used");
        assert_eq!(EnvHistory::load(&p, "b"), h);
    }
}
