//! The version matrix: services (container names) as rows, environments as
//! columns, each cell the image version(s) found. A cell differs when its
//! versions are not the reference environment's; it drifts (HA drift) when the
//! same container runs different versions on different hosts of one environment.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::Environment;
use crate::status::State;

/// What one environment runs of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// Distinct versions, sorted (the first few).
    pub versions: Vec<String>,
    /// `host: version` for each host, only when the hosts disagree.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// The hosts of this environment run different versions of the service.
    pub ha_drift: bool,
    /// The versions are not those of the reference environment.
    pub differs: bool,
}

/// At most this many versions and hosts are kept per cell: a matrix is for reading.
const MAX_LISTED: usize = 6;

/// One environment's cells, by service name.
pub type EnvVersions = BTreeMap<String, Cell>;

/// Collects the versions of one environment.
pub fn of(env: &Environment) -> EnvVersions {
    let mut seen: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for host in &env.hosts {
        for c in host.containers.iter().filter(|c| c.state != State::Missing && !c.version.is_empty()) {
            seen.entry(&c.name).or_default().push((&host.name, &c.version));
        }
    }
    seen.into_iter()
        .map(|(name, found)| {
            let versions: BTreeSet<&str> = found.iter().map(|(_, v)| *v).collect();
            let ha_drift = versions.len() > 1;
            let mut hosts = Vec::new();
            if ha_drift {
                hosts.extend(found.iter().take(MAX_LISTED).map(|(h, v)| format!("{h}: {v}")));
                if found.len() > MAX_LISTED {
                    hosts.push(format!("and {} more hosts", found.len() - MAX_LISTED));
                }
            }
            let versions = versions.into_iter().take(MAX_LISTED).map(str::to_owned).collect();
            (name.to_owned(), Cell { versions, hosts, ha_drift, differs: false })
        })
        .collect()
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
    let reference_cells = reference.as_ref().and_then(|r| per_env.iter().find(|(n, _)| n == r)).map(|(_, v)| v.clone());
    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    for (env, cells) in per_env {
        for (name, mut cell) in cells {
            let reference_versions = reference_cells.as_ref().and_then(|r| r.get(&name)).map(|c| &c.versions);
            cell.differs = reference_versions.is_some_and(|v| *v != cell.versions);
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
    fn no_reference_when_it_does_not_exist() {
        let m = matrix(vec![("a".into(), of(&env("a", &[("h", "x", "i:1")])))], Some("prod"));
        assert_eq!(m.reference, None);
        assert!(!m.services[0].drift);
    }
}
