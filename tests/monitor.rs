//! The monitoring features end to end: expected topology, unreachable and stale
//! data, crash loops across runs, version drift, known issues, groups. Times
//! come from `ENVDASH_NOW`, never the wall clock.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use serde_json::Value;

fn envdash(now: &str) -> Command {
    let mut cmd = Command::cargo_bin("envdash").unwrap();
    cmd.env("ENVDASH_NOW", now).env_remove("RUST_LOG").env_remove("ENVDASH_CONFIG");
    cmd
}

/// A folder of input files and a config, written fresh for each test.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(files: &[(&str, &str)], config: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("in")).unwrap();
        for (name, text) in files {
            fs::write(dir.path().join("in").join(name), text).unwrap();
        }
        fs::write(dir.path().join("envdash.toml"), config).unwrap();
        Case { dir }
    }

    fn input(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join("in").join(name)
    }

    fn out(&self) -> std::path::PathBuf {
        self.dir.path().join("site")
    }

    /// Renders at `now`; returns stderr.
    fn render(&self, now: &str) -> String {
        let out = envdash(now)
            .args(["render", "--input"])
            .arg(self.dir.path().join("in"))
            .arg("--out")
            .arg(self.out())
            .arg("--config")
            .arg(self.dir.path().join("envdash.toml"))
            .assert()
            .success();
        String::from_utf8_lossy(&out.get_output().stderr).into_owned()
    }

    fn status(&self) -> Value {
        serde_json::from_str(&fs::read_to_string(self.out().join("status.json")).unwrap()).unwrap()
    }

    fn page(&self, name: &str) -> String {
        fs::read_to_string(self.out().join(name)).unwrap()
    }
}

fn env<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["environments"].as_array().unwrap().iter().find(|e| e["name"] == name).unwrap()
}

fn host<'a>(e: &'a Value, name: &str) -> &'a Value {
    e["hosts"].as_array().unwrap().iter().find(|h| h["name"] == name).unwrap_or_else(|| panic!("no host {name}"))
}

fn container<'a>(h: &'a Value, name: &str) -> &'a Value {
    h["containers"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

const NOW: &str = "2026-11-25T16:30:00Z";
const FRESH: &str = "stale_after = \"off\"\n";

#[test]
fn missing_expected_host_and_container_are_problem_rows() {
    let case = Case::new(
        &[("demo.txt", "app-1.demo.io\nweb,Up 3 weeks,nginx:1\n")],
        r#"
stale_after = "off"
[[expect]]
hosts = ["app-1.{env}.io", "app-2.{env}.io"]
containers = ["web", "logspout"]
"#,
    );
    case.render(NOW);
    let s = case.status();
    let e = env(&s, "demo");
    assert_eq!(e["status"], "problem");
    assert_eq!(e["counts"]["missing"], 1);
    assert_eq!(e["counts"]["unreachable"], 1);
    assert_eq!(e["degraded"], true);
    let logspout = container(host(e, "app-1.demo.io"), "logspout");
    assert_eq!(logspout["state"], "missing");
    assert_eq!(logspout["status"], "expected, not found");
    assert_eq!(logspout["problem"], true);
    assert_eq!(host(e, "app-2.demo.io")["reach"], "missing");
    let page = case.page("demo.html");
    assert!(page.contains("✖ MISSING"));
    assert!(page.contains("✖ missing"));
    assert!(page.contains("expected, not found (with web, logspout)"));

    // Without a config nothing is expected and nothing is invented.
    let plain = Case::new(&[("demo.txt", "app-1.demo.io\nweb,Up 3 weeks,nginx:1\n")], FRESH);
    plain.render(NOW);
    let s = plain.status();
    assert_eq!(env(&s, "demo")["status"], "ok");
    assert_eq!(env(&s, "demo")["hosts"].as_array().unwrap().len(), 1);
}

#[test]
fn unreachable_host_is_never_all_green() {
    let case = Case::new(
        &[(
            "qa.txt",
            "host,name,image,state,status,error\napp-1.qa.io,web,nginx:1,running,Up 2 days,\nperry-1.qa.io,,,unreachable,,ssh: connect to host port 22: Connection timed out\nes-1.qa.io,,,docker-unavailable,,Cannot connect to the Docker daemon\n",
        )],
        FRESH,
    );
    case.render(NOW);
    let s = case.status();
    let e = env(&s, "qa");
    assert_eq!(e["status"], "problem");
    assert_eq!(e["degraded"], true);
    assert_eq!(e["counts"]["unreachable"], 2);
    assert_eq!(host(e, "perry-1.qa.io")["reach"], "unreachable");
    assert_eq!(host(e, "es-1.qa.io")["reach"], "docker_unavailable");
    let page = case.page("qa.html");
    assert!(page.contains("✖ UNREACHABLE") && page.contains("Connection timed out"));
    assert!(page.contains("✖ DOCKER NOT RUNNING"));
    assert!(case.page("index.html").contains("2 of 3 hosts not reporting"));
}

#[test]
fn old_data_is_stale_and_grey() {
    let case = Case::new(
        &[
            ("old.txt", "h\nweb,Up 3 weeks,nginx:1\n"),
            ("new.txt", "h\nweb,Up 3 weeks,nginx:1\n"),
            ("csv.txt", "host,name,image,status,gathered_at\nh,web,nginx:1,Up 3 weeks,2026-11-25T15:00:00Z\n"),
        ],
        "",
    );
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_624_200); // 2026-11-25T16:30:00Z
    let set = |name: &str, age_minutes: u64| {
        let f = fs::File::options().write(true).open(case.input(name)).unwrap();
        f.set_modified(now - Duration::from_secs(age_minutes * 60)).unwrap();
    };
    set("old.txt", 20);
    set("new.txt", 4);
    set("csv.txt", 1); // its gathered_at column wins over the file time
    case.render(NOW);
    let s = case.status();
    assert_eq!(s["stale_after_seconds"], 900);
    assert_eq!(env(&s, "old")["status"], "stale");
    assert_eq!(env(&s, "old")["stale"], true);
    assert_eq!(env(&s, "old")["age_seconds"], 1200);
    assert_eq!(env(&s, "new")["status"], "ok");
    assert_eq!(env(&s, "csv")["status"], "stale");
    assert_eq!(env(&s, "csv")["data_time"], "2026-11-25T15:00:00Z");
    let page = case.page("old.html");
    assert!(page.contains("◷ STALE DATA"));
    assert!(page.contains("Stale data:"));
    assert!(page.contains(r#"data-stale-after="900""#), "pages carry the threshold for their own warning");
    let index = case.page("index.html");
    assert!(index.contains(r#"<li class="card s-stale">"#));
    assert!(index.contains("20 min before this run"));

    // The threshold is configurable and can be turned off.
    fs::write(case.dir.path().join("envdash.toml"), "stale_after = \"30m\"\n").unwrap();
    case.render(NOW);
    assert_eq!(env(&case.status(), "old")["status"], "ok");
    assert_eq!(env(&case.status(), "csv")["status"], "stale");
    fs::write(case.dir.path().join("envdash.toml"), FRESH).unwrap();
    case.render(NOW);
    assert_eq!(env(&case.status(), "csv")["status"], "ok");
    assert!(case.page("old.html").contains(r#"data-stale-after="0""#));
}

#[test]
fn crash_loop_across_runs_with_problem_since() {
    let case = Case::new(&[], FRESH);
    let run = |now: &str, rows: &str| {
        fs::write(case.input("demo.txt"), format!("h1\n{rows}")).unwrap();
        case.render(now);
        case.status()
    };
    let s = run("2026-11-25T16:00:00Z", "web,Up 3 hours,nginx:1\ndb,Exited (1) 2 hours ago,pg:15\n");
    let h = host(env(&s, "demo"), "h1");
    assert_eq!(container(h, "db")["since"], "2026-11-25T14:00:00Z", "from its status text");
    assert!(container(h, "web").get("restarts").is_none());
    // web's uptime goes backwards three times within the window: a crash loop.
    run("2026-11-25T16:05:00Z", "web,Up 20 seconds,nginx:1\ndb,Exited (1) 2 hours ago,pg:15\n");
    run("2026-11-25T16:10:00Z", "web,Up 1 second,nginx:1\ndb,Exited (1) 2 hours ago,pg:15\n");
    let s = run("2026-11-25T16:15:00Z", "web,Up 3 seconds,nginx:1\ndb,Exited (1) 3 hours ago,pg:15\n");
    let e = env(&s, "demo");
    let web = container(host(e, "h1"), "web");
    assert_eq!(web["restarts"], 3);
    assert_eq!(web["crash_loop"], true);
    assert_eq!(web["problem"], true);
    assert_eq!(web["since"], "2026-11-25T16:15:00Z");
    assert_eq!(container(host(e, "h1"), "db")["since"], "2026-11-25T14:00:00Z", "kept across runs");
    let page = case.page("demo.html");
    assert!(page.contains("↻ crash loop"));
    assert!(page.contains("3 restarts seen"));
    assert!(page.contains(r#"problem since <time datetime="2026-11-25T14:00:00Z">"#));
    // The strip on the master page shows the four runs.
    let index = case.page("index.html");
    assert_eq!(index.matches(r#"<i class="problem""#).count(), 4, "{index}");
    let history: Value = serde_json::from_str(&case.page("history/demo.json")).unwrap();
    assert_eq!(history["runs"].as_array().unwrap().len(), 4);
}

#[test]
fn version_drift_and_ha_drift() {
    let prod =
        "app-1\nintake,Up 1 day,r/intake:1.0\napp-2\nintake,Up 1 day,r/intake:1.0\napi-1\ncans,Up 1 day,r/cans:2.0\n";
    let uat =
        "app-1\nintake,Up 1 day,r/intake:1.0\napp-2\nintake,Up 1 day,r/intake:1.1\napi-1\ncans,Up 1 day,r/cans:2.0\n";
    let dev =
        "app-1\nintake,Up 1 day,r/intake:1.2\napp-2\nintake,Up 1 day,r/intake:1.2\napi-1\ncans,Up 1 day,r/cans:2.0\n";
    let case = Case::new(&[("prod.txt", prod), ("uat.txt", uat), ("dev.txt", dev)], FRESH);
    case.render(NOW);
    let s = case.status();
    let v = &s["versions"];
    assert_eq!(v["reference"], "prod");
    assert_eq!(v["environments"], serde_json::json!(["dev", "prod", "uat"]));
    let intake = v["services"].as_array().unwrap().iter().find(|x| x["name"] == "intake").unwrap();
    assert_eq!(intake["drift"], true);
    assert_eq!(intake["cells"]["uat"]["ha_drift"], true);
    assert_eq!(intake["cells"]["uat"]["hosts"], serde_json::json!(["app-1: 1.0", "app-2: 1.1"]));
    assert_eq!(intake["cells"]["dev"]["differs"], true);
    assert_eq!(intake["cells"]["dev"]["ha_drift"], false);
    assert_eq!(intake["cells"]["prod"]["differs"], false);
    let cans = v["services"].as_array().unwrap().iter().find(|x| x["name"] == "cans").unwrap();
    assert_eq!(cans["drift"], false);
    let page = case.page("versions.html");
    assert!(page.contains(r#"<td class="drift" title="app-1: 1.0, app-2: 1.1">⚠ 1.0, 1.1</td>"#), "{page}");
    assert!(page.contains(r#"<td class="differs">≠ 1.2</td>"#));

    // The reference is configurable.
    fs::write(case.dir.path().join("envdash.toml"), format!("{FRESH}reference = \"dev\"\n")).unwrap();
    case.render(NOW);
    let s = case.status();
    let intake = s["versions"]["services"].as_array().unwrap().iter().find(|x| x["name"] == "intake").unwrap().clone();
    assert_eq!(intake["cells"]["prod"]["differs"], true);
    assert_eq!(intake["cells"]["dev"]["differs"], false);
}

#[test]
fn known_issues_active_expired_and_upcoming() {
    let case = Case::new(
        &[
            ("perf.txt", "h1\napi,Up 3 days (Paused),r/api:1\nweb,Up 3 days,r/web:1\n"),
            ("qa.txt", "h1\ndb,Exited (1) 1 hour ago,pg:15\n"),
        ],
        r#"
stale_after = "off"
known_issues_file = "known.toml"
"#,
    );
    fs::write(
        case.dir.path().join("known.toml"),
        r#"
[[known]]
environment = "perf"
container = "api"
text = "Paused for the load test <OPS-1>"
expires = "2026-11-26T00:00:00Z"

[[known]]
environment = "qa"
text = "old outage, long over"
expires = "2026-11-20T00:00:00Z"

[[known]]
environment = "prod"
text = "Database upgrade"
start = "2026-11-28T02:00:00Z"
"#,
    )
    .unwrap();
    let stderr = case.render(NOW);
    assert!(stderr.contains("known issue for qa (\"old outage, long over\") expired"), "{stderr}");
    let s = case.status();
    let perf = env(&s, "perf");
    assert_eq!(perf["status"], "known");
    assert_eq!(perf["counts"]["known"], 1);
    assert_eq!(perf["counts"]["problems"], 0);
    assert_eq!(container(host(perf, "h1"), "api")["known"], "Paused for the load test <OPS-1>");
    assert_eq!(env(&s, "qa")["status"], "problem", "an expired entry hides nothing");
    assert_eq!(s["notices"]["active"][0]["environment"], "perf");
    assert_eq!(s["notices"]["upcoming"][0]["text"], "Database upgrade");
    assert_eq!(s["notices"]["active"].as_array().unwrap().len(), 1);
    let index = case.page("index.html");
    assert!(index.contains("⚑ Known issues"));
    assert!(index.contains("Paused for the load test &lt;OPS-1&gt;"));
    assert!(index.contains("Upcoming maintenance"));
    assert!(index.contains("Database upgrade"));
    assert!(!index.contains("old outage"));
    assert!(index.contains(r#"<li class="card s-known">"#));
    let page = case.page("perf.html");
    assert!(page.contains(r#"<tr class="known">"#));
    assert!(page.contains("known: Paused for the load test &lt;OPS-1&gt;"));

    // Once it expires, the problem is a problem again.
    case.render("2026-11-26T00:00:01Z");
    assert_eq!(env(&case.status(), "perf")["status"], "problem");
}

#[test]
fn groups_make_sections_in_order() {
    let ok = "h\nweb,Up 1 day,r/web:1\n";
    let case = Case::new(
        &[("prod.txt", ok), ("preint.txt", ok), ("dev.txt", ok), ("misc.txt", ok)],
        r#"
stale_after = "off"
[[group]]
name = "Prod"
environments = ["prod", "preint"]
[[group]]
name = "Non-Prod"
environments = ["dev*", "qa"]
"#,
    );
    case.render(NOW);
    let s = case.status();
    assert_eq!(env(&s, "prod")["group"], "Prod");
    assert_eq!(env(&s, "dev")["group"], "Non-Prod");
    assert!(env(&s, "misc").get("group").is_none());
    let index = case.page("index.html");
    let at = |text: &str| index.find(text).unwrap_or_else(|| panic!("no {text}"));
    assert!(at(">Prod</h2>") < at("preint.html"));
    assert!(at("prod.html") < at(">Non-Prod</h2>"));
    assert!(at(">Non-Prod</h2>") < at("dev.html"));
    assert!(at("dev.html") < at(">Other</h2>"));
    assert!(at(">Other</h2>") < at("misc.html"));
}

#[test]
fn a_bad_config_fails_with_its_path() {
    let case = Case::new(&[("a.txt", "h\nweb,Up 1 day,r:1\n")], "[[expect]]\nhostz = []\n");
    let out = envdash(NOW)
        .args(["render", "--input"])
        .arg(case.dir.path().join("in"))
        .arg("--out")
        .arg(case.out())
        .arg("--config")
        .arg(case.dir.path().join("envdash.toml"))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("envdash.toml") && stderr.contains("hostz"), "{stderr}");
    assert!(!Path::new(&case.out()).exists());
}
