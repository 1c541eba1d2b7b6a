//! Uptime figures: the share of runs in the last 24 hours, 7 days and 30 days
//! in which an environment or a container was fine, with maintenance (problems a
//! known issue explained) left out of the count and shown as such.
//!
//! History keeps transitions, not runs: a list of segments, each a state, when
//! it began and how many runs saw it. A container fine for a month is one
//! segment, whatever the number of runs; segments that ended more than 30
//! days ago are dropped.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// The longest window figured, and how long segments are kept.
pub const KEPT: SignedDuration = SignedDuration::from_hours(30 * 24);
/// The windows, in hours, and their names.
pub const WINDOWS: [(i64, &str); 3] = [(24, "24h"), (7 * 24, "7d"), (30 * 24, "30d")];

/// What one run saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Seen {
    /// Fine.
    #[serde(rename = "o")]
    Ok,
    /// A problem.
    #[serde(rename = "p")]
    Problem,
    /// A problem a known issue or maintenance window explained: not counted.
    #[serde(rename = "m")]
    Maintenance,
}

/// A run of the same state: `[start, runs, state]` in the history file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment(pub Timestamp, pub u32, pub Seen);

/// Segments, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Segments(pub Vec<Segment>);

/// The figures of one thing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Uptime {
    /// Share of counted runs in the window that were fine (0 to 1); `None` when
    /// no run in the window was counted.
    #[serde(rename = "24h")]
    pub day: Option<f64>,
    #[serde(rename = "7d")]
    pub week: Option<f64>,
    #[serde(rename = "30d")]
    pub month: Option<f64>,
    /// Seconds of the last 30 days under maintenance (not counted).
    pub maintenance_seconds: i64,
}

impl Uptime {
    /// Fine in every counted run of the last 30 days, and no maintenance:
    /// nothing worth a line (status.json leaves such containers' figures out).
    pub fn perfect(&self) -> bool {
        self.month.is_none_or(|m| m >= 1.0) && self.maintenance_seconds == 0
    }
}

impl Segments {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// When the first segment began and how many runs all of them hold: what a
    /// thing fine all along would have (see [`Segments::fine_since`]).
    pub fn span(&self) -> Option<(Timestamp, u32)> {
        let first = self.0.first()?;
        Some((first.0, self.0.iter().map(|s| s.1).fold(0u32, u32::saturating_add)))
    }

    /// One segment, fine, over `span` (none without one): the segments of a
    /// container that keeps none because it was fine all along.
    pub fn fine_since(span: Option<(Timestamp, u32)>) -> Segments {
        Segments(span.map(|(start, runs)| Segment(start, runs, Seen::Ok)).into_iter().collect())
    }

    /// Fine in every run, since no later than `span` began: nothing to keep.
    pub fn fine_throughout(&self, span: Option<(Timestamp, u32)>) -> bool {
        match (self.0.as_slice(), span) {
            ([only], Some((start, _))) => only.2 == Seen::Ok && only.0 <= start,
            ([only], None) => only.2 == Seen::Ok,
            _ => false,
        }
    }

    /// Adds this run's state, then drops segments that ended before the
    /// longest window.
    pub fn push(&mut self, at: Timestamp, seen: Seen) {
        match self.0.last_mut() {
            Some(last) if last.2 == seen && at >= last.0 => last.1 = last.1.saturating_add(1),
            _ => self.0.push(Segment(at, 1, seen)),
        }
        let horizon = at - KEPT;
        // Segment i ended when segment i + 1 began.
        let drop = self.0.windows(2).take_while(|w| w[1].0 < horizon).count();
        self.0.drain(..drop);
    }

    /// The figures at `now`.
    pub fn figures(&self, now: Timestamp) -> Uptime {
        let [day, week, month] = WINDOWS.map(|(hours, _)| self.share(now, SignedDuration::from_hours(hours)));
        Uptime { day, week, month, maintenance_seconds: self.time_in(now, KEPT, Seen::Maintenance) }
    }

    /// Runs of each segment within `[now - window, now]`, its runs spread evenly
    /// over the time it lasted.
    fn runs_in(&self, now: Timestamp, window: SignedDuration) -> impl Iterator<Item = (Seen, f64)> + '_ {
        let from = now - window;
        self.0.iter().enumerate().map(move |(i, s)| {
            let end = self.0.get(i + 1).map_or(now, |next| next.0).max(s.0);
            let lasted = end.duration_since(s.0).as_secs_f64();
            let overlap = end.min(now).duration_since(s.0.max(from)).as_secs_f64().max(0.0);
            let runs = if lasted <= 0.0 {
                if s.0 >= from { f64::from(s.1) } else { 0.0 }
            } else {
                f64::from(s.1) * overlap / lasted
            };
            (s.2, runs)
        })
    }

    fn share(&self, now: Timestamp, window: SignedDuration) -> Option<f64> {
        let (mut ok, mut counted) = (0.0, 0.0);
        for (seen, runs) in self.runs_in(now, window) {
            match seen {
                Seen::Ok => {
                    ok += runs;
                    counted += runs;
                }
                Seen::Problem => counted += runs,
                Seen::Maintenance => {}
            }
        }
        (counted > 0.0).then(|| (ok / counted).clamp(0.0, 1.0))
    }

    /// Seconds of `[now - window, now]` spent in `state`.
    fn time_in(&self, now: Timestamp, window: SignedDuration, state: Seen) -> i64 {
        let from = now - window;
        self.0
            .iter()
            .enumerate()
            .filter(|(_, s)| s.2 == state)
            .map(|(i, s)| {
                let end = self.0.get(i + 1).map_or(now, |next| next.0);
                end.min(now).duration_since(s.0.max(from)).as_secs().max(0)
            })
            .sum()
    }
}

/// `99.3 %`, `100 %`, `–` (nothing counted).
pub fn percent(share: Option<f64>) -> String {
    match share {
        None => "–".to_owned(),
        Some(s) if s >= 1.0 => "100 %".to_owned(),
        // Never rounds up to 100 % what was not.
        Some(s) => format!("{:.1} %", (s * 1000.0).floor() / 10.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: i64) -> Timestamp {
        Timestamp::from_second(1_795_624_200 + minutes * 60).unwrap()
    }

    #[test]
    fn a_month_of_five_minute_runs_is_a_few_segments() {
        let mut s = Segments::default();
        // 30 days of runs, down for one hour (12 runs) on day 29 and one hour of maintenance on day 20.
        for run in 0..(30 * 288) {
            let minute = run * 5;
            let seen = match minute {
                m if (29 * 1440..29 * 1440 + 60).contains(&m) => Seen::Problem,
                m if (20 * 1440..20 * 1440 + 60).contains(&m) => Seen::Maintenance,
                _ => Seen::Ok,
            };
            s.push(t(minute), seen);
        }
        assert_eq!(s.0.len(), 5, "{:?}", s.0);
        let u = s.figures(t(30 * 1440 - 5));
        assert_eq!(percent(u.day), "95.8 %", "12 of 288 runs down: {u:?}");
        assert_eq!(percent(u.week), "99.4 %");
        assert_eq!(percent(u.month), "99.8 %");
        assert_eq!(u.maintenance_seconds, 3600);
        assert!(!u.perfect());
        assert!(serde_json::to_string(&s).unwrap().len() < 200, "{}", serde_json::to_string(&s).unwrap());
    }

    #[test]
    fn old_segments_go_and_maintenance_is_not_counted() {
        let mut s = Segments::default();
        s.push(t(0), Seen::Problem);
        s.push(t(5), Seen::Ok);
        s.push(t(31 * 1440), Seen::Ok);
        assert_eq!(s.0.len(), 1, "the problem ended 31 days ago: {:?}", s.0);
        let mut m = Segments::default();
        m.push(t(0), Seen::Maintenance);
        assert_eq!(m.figures(t(5)).day, None, "nothing counted");
        m.push(t(5), Seen::Ok);
        assert_eq!(m.figures(t(10)).day, Some(1.0));
        assert_eq!(percent(Some(0.99999)), "99.9 %");
        assert_eq!(percent(Some(1.0)), "100 %");
    }
}
