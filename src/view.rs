//! What environment pages see of the model: lazy template objects over one
//! shared `Arc<Environment>`.
//!
//! Converting a whole environment into template values up front (serde) cost
//! more than rendering it; these views hand out each field only when a template
//! asks for it. Field names are the same as in `status.json`, plus a few
//! derived ones documented on each view.

use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use crate::model::{Container, Environment, Host};
use crate::status::exit_code_meaning;

/// An environment. Fields as in `status.json`; `hosts` in file order.
#[derive(Debug)]
pub struct EnvView(pub Arc<Environment>);

/// Hosts of an environment, in a chosen order.
#[derive(Debug)]
pub struct HostList {
    env: Arc<Environment>,
    order: Vec<usize>,
}

/// A host. Fields as in `status.json`, plus `problems` (how many of its containers
/// are problems) and `has_problem` (unreachable or any problem container).
#[derive(Debug)]
pub struct HostView {
    env: Arc<Environment>,
    host: usize,
}

#[derive(Debug)]
struct ContainerList {
    env: Arc<Environment>,
    host: usize,
}

/// A container. Fields as in `status.json`, plus `exit_meaning` (what its exit
/// code usually means, or none).
#[derive(Debug)]
struct ContainerView {
    env: Arc<Environment>,
    host: usize,
    index: usize,
}

impl HostList {
    /// All hosts of `env`, those that need attention first, otherwise in file order.
    pub fn problems_first(env: &Arc<Environment>) -> HostList {
        let mut order: Vec<usize> = (0..env.hosts.len()).collect();
        order.sort_by_key(|&i| !env.hosts[i].has_problem());
        HostList { env: env.clone(), order }
    }
}

impl HostView {
    fn host(&self) -> &Host {
        &self.env.hosts[self.host]
    }
}

impl ContainerView {
    fn container(&self) -> &Container {
        &self.env.hosts[self.host].containers[self.index]
    }
}

fn str_key(key: &Value) -> Option<&str> {
    key.as_str()
}

impl Object for EnvView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let env = &self.0;
        Some(match str_key(key)? {
            "name" => Value::from(env.name.as_str()),
            "page" => Value::from(env.page.as_str()),
            "source" => Value::from(env.source.as_str()),
            "status" => Value::from(env.status.as_str()),
            "counts" => Value::from_serialize(env.counts),
            "layout" => Value::from_serialize(env.layout),
            "error" => Value::from_serialize(&env.error),
            "warnings" => Value::from_serialize(&env.warnings),
            "data_time" => Value::from_serialize(env.data_time),
            "age_seconds" => Value::from(env.age_seconds),
            "stale" => Value::from(env.stale),
            "degraded" => Value::from(env.degraded),
            "group" => Value::from_serialize(&env.group),
            "hosts" => Value::from_object(HostList { env: env.clone(), order: (0..env.hosts.len()).collect() }),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "name",
            "page",
            "source",
            "status",
            "counts",
            "layout",
            "error",
            "warnings",
            "data_time",
            "age_seconds",
            "stale",
            "degraded",
            "group",
            "hosts",
        ])
    }
}

impl Object for HostList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let host = *self.order.get(key.as_usize()?)?;
        Some(Value::from_object(HostView { env: self.env.clone(), host }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.order.len())
    }
}

impl Object for HostView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let host = self.host();
        Some(match str_key(key)? {
            "name" => Value::from(host.name.as_str()),
            "reach" => Value::from_serialize(host.reach),
            "detail" => Value::from_serialize(&host.detail),
            "known" => Value::from_serialize(&host.known),
            "problems" => Value::from(host.problems()),
            "has_problem" => Value::from(host.has_problem()),
            "containers" => Value::from_object(ContainerList { env: self.env.clone(), host: self.host }),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["name", "reach", "detail", "known", "problems", "has_problem", "containers"])
    }
}

impl Object for ContainerList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let index = key.as_usize()?;
        (index < self.env.hosts[self.host].containers.len())
            .then(|| Value::from_object(ContainerView { env: self.env.clone(), host: self.host, index }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.env.hosts[self.host].containers.len())
    }
}

impl Object for ContainerView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let c = self.container();
        Some(match str_key(key)? {
            "name" => Value::from(c.name.as_str()),
            "image" => Value::from(c.image.as_str()),
            "version" => Value::from(c.version.as_str()),
            "status" => Value::from(c.status.as_str()),
            "state" => Value::from(c.state.as_str()),
            "health" => Value::from(c.health.as_str()),
            "exit_code" => Value::from(c.exit_code),
            "exit_meaning" => Value::from(c.exit_code.and_then(exit_code_meaning)),
            "problem" => Value::from(c.problem),
            "known" => Value::from_serialize(&c.known),
            "since" => Value::from_serialize(c.since),
            "restarts" => Value::from(c.restarts),
            "crash_loop" => Value::from(c.crash_loop),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "name",
            "image",
            "version",
            "status",
            "state",
            "health",
            "exit_code",
            "exit_meaning",
            "problem",
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Arc<Environment> {
        let mut ok = Host::new("ok-host");
        ok.containers.push(Container::from_row("web", "Up 3 weeks", "nginx:1", None));
        let mut bad = Host::new("bad-host");
        bad.containers.push(Container::from_row("db", "Exited (137) 1 hour ago", "pg:15", None));
        let mut env = Environment::new("e", "e.html", "e.txt");
        env.hosts = vec![ok, bad];
        env.finish();
        Arc::new(env)
    }

    #[test]
    fn views_expose_fields_and_order() {
        let env = env();
        let jinja = minijinja::Environment::new();
        let ctx = minijinja::context! { env => Value::from_object(EnvView(env.clone())), hosts => Value::from_object(HostList::problems_first(&env)) };
        let out = jinja
            .render_str(
                "{{ env.name }} {{ env.status }} {{ env.counts.problems }}|{% for h in hosts %}{{ h.name }}:{{ h.problems }}:{% for c in h.containers %}{{ c.name }}/{{ c.state }}/{{ c.exit_code }}/{{ c.exit_meaning }}/{{ c.problem }}{% endfor %};{% endfor %}|{{ env.hosts|map(attribute='name')|join(',') }}",
                ctx,
            )
            .unwrap();
        assert_eq!(
            out,
            "e problem 1|bad-host:1:db/exited/137/killed (SIGKILL), often out of memory/True;ok-host:0:web/running/None/None/False;|ok-host,bad-host"
        );
    }
}
