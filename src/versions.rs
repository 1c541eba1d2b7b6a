//! The version matrix: services (container names) as rows, environments as
//! columns, each cell the image version(s) found. A cell differs when its
//! versions are not the reference environment's; it drifts (HA drift) when the
//! same container runs different versions on different hosts of one environment.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use serde::Serialize;

use crate::model::Environment;
use crate::status::State;

/// What one environment runs of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The versions, sorted; when there are more than [`MAX_LISTED`], the most
    /// common ones (most containers first).
    pub versions: Vec<String>,
    /// How many different versions the environment runs of the service.
    pub distinct: usize,
    /// Its containers in the environment (usually one per host).
    pub containers: usize,
    /// How many of them run `versions[0]` when the versions are many.
    #[serde(skip_serializing_if = "is_zero")]
    pub most_common: usize,
    /// `host: version` for each host, only when a few hosts disagree: when many
    /// do, the environment's page has the detail.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// The hosts of this environment run different versions of the service.
    pub ha_drift: bool,
    /// The versions are not those of the reference environment.
    pub differs: bool,
    /// Identifies the whole set of versions, listed or not: cells compare by it.
    #[serde(skip)]
    fingerprint: u64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// At most this many versions and hosts are kept per cell: a matrix is for
/// reading, and what a cell holds must not grow with the fleet's variety.
pub const MAX_LISTED: usize = 3;

/// One environment's cells, by service name.
pub type EnvVersions = BTreeMap<String, Cell>;

/// Collects the versions of one environment. Each container is remembered by
/// its place (8 bytes), not by its host and version (32): a million containers
/// take 8 MB here while their cells are made.
pub fn of(env: &Environment) -> EnvVersions {
    let mut seen: BTreeMap<&str, Vec<(u32, u32)>> = BTreeMap::new();
    for (h, host) in env.hosts.iter().enumerate() {
        for (i, c) in host.containers.iter().enumerate() {
            if c.state != State::Missing && !c.version.is_empty() {
                seen.entry(&c.name).or_default().push((h as u32, i as u32));
            }
        }
    }
    seen.into_iter()
        .map(|(name, places)| {
            let found = places.iter().map(|&(h, i)| {
                let host = &env.hosts[h as usize];
                (host.name.as_str(), host.containers[i as usize].version.as_str())
            });
            (name.to_owned(), cell(found, places.len()))
        })
        .collect()
}

/// The cell of one service from its `len` `(host, version)` pairs.
fn cell<'a>(found: impl Iterator<Item = (&'a str, &'a str)> + Clone, len: usize) -> Cell {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, v) in found.clone() {
        *counts.entry(v).or_default() += 1;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for v in counts.keys() {
        v.hash(&mut hasher);
    }
    let distinct = counts.len();
    let ha_drift = distinct > 1;
    let (versions, most_common) = if distinct <= MAX_LISTED {
        (counts.keys().map(|v| (*v).to_owned()).collect(), 0)
    } else {
        let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let most = by_count[0].1;
        (by_count.iter().take(MAX_LISTED).map(|(v, _)| (*v).to_owned()).collect(), most)
    };
    let mut hosts = Vec::new();
    if ha_drift && len <= 2 * MAX_LISTED {
        hosts.extend(found.map(|(h, v)| format!("{h}: {v}")));
    }
    Cell {
        versions,
        distinct,
        containers: len,
        most_common,
        hosts,
        ha_drift,
        differs: false,
        fingerprint: hasher.finish(),
    }
}

/// One row of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    /// By environment name; an environment without the service has no cell.
    pub cells: BTreeMap<String, Cell>,
    /// Some cell differs from the reference or drifts.
    pub drift: bool,
}

/// The whole matrix.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Matrix {
    /// The environment others are compared with, when it exists.
    pub reference: Option<String>,
    pub environments: Vec<String>,
    pub services: Vec<Service>,
}

/// Builds the matrix from each environment's versions (in environment order).
/// `reference` defaults to `prod` when such an environment exists.
pub fn matrix(per_env: Vec<(String, EnvVersions)>, reference: Option<&str>) -> Matrix {
    let environments: Vec<String> = per_env.iter().map(|(n, _)| n.clone()).collect();
    let reference = reference.or(Some("prod")).filter(|r| environments.iter().any(|e| e == r)).map(str::to_owned);
    let reference_cells: Option<BTreeMap<String, u64>> = reference
        .as_ref()
        .and_then(|r| per_env.iter().find(|(n, _)| n == r))
        .map(|(_, cells)| cells.iter().map(|(name, c)| (name.clone(), c.fingerprint)).collect());
    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    for (env, cells) in per_env {
        for (name, mut cell) in cells {
            let reference = reference_cells.as_ref().and_then(|r| r.get(&name));
            cell.differs = reference.is_some_and(|f| *f != cell.fingerprint);
            let service =
                services.entry(name.clone()).or_insert_with(|| Service { name, cells: BTreeMap::new(), drift: false });
            service.drift |= cell.differs || cell.ha_drift;
            service.cells.insert(env.clone(), cell);
        }
    }
    Matrix { reference, environments, services: services.into_values().collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Container, Host};

    fn env(name: &str, rows: &[(&str, &str, &str)]) -> Environment {
        let mut env = Environment::new(name, "", "");
        for (host, c, image) in rows {
            if !env.hosts.iter().any(|h| h.name == *host) {
                env.hosts.push(Host::new(host));
            }
            let h = env.hosts.iter_mut().find(|h| h.name == *host).unwrap();
            h.containers.push(Container::from_row(c, "Up 1 day", image, None));
        }
        env
    }

    #[test]
    fn drift_against_reference_and_between_hosts() {
        let prod = env(
            "prod",
            &[
                ("app-1", "intake", "r/intake:1.0"),
                ("app-2", "intake", "r/intake:1.0"),
                ("api-1", "cans", "r/cans:2.0"),
            ],
        );
        let uat = env(
            "uat",
            &[
                ("app-1", "intake", "r/intake:1.0"),
                ("app-2", "intake", "r/intake:1.1"),
                ("api-1", "cans", "r/cans:2.0"),
            ],
        );
        let dev =
            env("dev", &[("app-1", "intake", "r/intake:1.2"), ("api-1", "cans", "r/cans:2.0"), ("x", "extra", "e:1")]);
        let m = matrix(vec![("dev".into(), of(&dev)), ("prod".into(), of(&prod)), ("uat".into(), of(&uat))], None);
        assert_eq!(m.reference.as_deref(), Some("prod"));
        let intake = m.services.iter().find(|s| s.name == "intake").unwrap();
        assert!(intake.drift);
        let u = &intake.cells["uat"];
        assert_eq!(
            (u.versions.clone(), u.ha_drift, u.differs),
            (vec!["1.0".to_string(), "1.1".to_string()], true, true)
        );
        assert_eq!(u.hosts, ["app-1: 1.0", "app-2: 1.1"]);
        let d = &intake.cells["dev"];
        assert_eq!((d.ha_drift, d.differs), (false, true));
        assert!(!intake.cells["prod"].differs);
        let cans = m.services.iter().find(|s| s.name == "cans").unwrap();
        assert!(!cans.drift);
        let extra = m.services.iter().find(|s| s.name == "extra").unwrap();
        assert!(!extra.cells["dev"].differs, "nothing to compare with");
    }

    #[test]
    fn many_versions_are_counted_not_listed() {
        // Twenty hosts, each its own build, two of them the same.
        let mut rows: Vec<(String, String)> =
            (0..20).map(|h| (format!("app-{h}"), format!("r/intake:1.{}", h.max(1)))).collect();
        rows[0].1 = "r/intake:1.1".into();
        let rows: Vec<(&str, &str, &str)> = rows.iter().map(|(h, i)| (h.as_str(), "intake", i.as_str())).collect();
        let c = &of(&env("uat", &rows))["intake"];
        assert_eq!((c.distinct, c.containers, c.most_common, c.ha_drift), (19, 20, 2, true));
        assert_eq!(c.versions, ["1.1", "1.10", "1.11"], "the most common first, then by name");
        assert!(c.hosts.is_empty(), "twenty hosts are the environment page's detail");
        // Cells compare by every version, not only those listed.
        let mut other = rows.clone();
        other[19].2 = "r/intake:9.9";
        let m = matrix(vec![("prod".into(), of(&env("prod", &rows))), ("uat".into(), of(&env("uat", &other)))], None);
        assert!(m.services[0].cells["uat"].differs);
        assert_eq!(m.services[0].cells["uat"].versions, m.services[0].cells["prod"].versions);
    }

    #[test]
    fn no_reference_when_it_does_not_exist() {
        let m = matrix(vec![("a".into(), of(&env("a", &[("h", "x", "i:1")])))], Some("prod"));
        assert_eq!(m.reference, None);
        assert!(!m.services[0].drift);
    }
}
