//! `--junit`, `--prometheus`, `--badges` and `--fail-on` end to end: the real
//! binary on folders of files, its JUnit checked by `xmllint` against the JUnit
//! schema Jenkins reads and its metrics by `promtool` (both installed by
//! `scripts/install-test-deps`; a test fails, never skips, without them).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::Command;
use serde_json::{Value, json};

const NOW: &str = "2026-11-25T16:30:00Z";
/// `NOW` in seconds since the epoch.
const NOW_SECONDS: i64 = 1_795_624_200;

fn envdash() -> Command {
    let mut cmd = Command::cargo_bin("envdash").unwrap();
    cmd.env("ENVDASH_NOW", NOW).env_remove("RUST_LOG").env_remove("ENVDASH_BUCKET").env_remove("ENVDASH_CONFIG");
    cmd
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd")
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// Writes `files` (name, content) into a new input folder.
fn input(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

/// Where one run writes: the site, the JUnit file and the metrics file.
struct Out {
    _dir: tempfile::TempDir,
    site: PathBuf,
    junit: PathBuf,
    prom: PathBuf,
}

impl Out {
    fn new() -> Out {
        let dir = tempfile::tempdir().unwrap();
        let (site, junit, prom) =
            (dir.path().join("site"), dir.path().join("junit.xml"), dir.path().join("envdash.prom"));
        Out { _dir: dir, site, junit, prom }
    }

    /// `envdash render` with every report on, plus `extra` arguments.
    fn render(&self, input: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
        envdash()
            .args(["render", "--badges", "--input"])
            .arg(input)
            .arg("--out")
            .arg(&self.site)
            .arg("--junit")
            .arg(&self.junit)
            .arg("--prometheus")
            .arg(&self.prom)
            .args(extra)
            .assert()
    }

    fn status(&self) -> Value {
        serde_json::from_str(&read(self.site.join("status.json"))).unwrap()
    }

    fn badge(&self, stem: &str) -> Value {
        serde_json::from_str(&read(self.site.join("badges").join(format!("{stem}.json")))).unwrap()
    }
}

/// Runs a tool the tests need; its absence is a failure, not a reason to skip.
fn tool(name: &str, args: &[&OsStr], stdin: Option<&Path>) -> std::process::Output {
    let mut cmd = std::process::Command::new(name);
    cmd.args(args);
    if let Some(path) = stdin {
        cmd.stdin(Stdio::from(fs::File::open(path).unwrap()));
    }
    cmd.output().unwrap_or_else(|e| panic!("cannot run {name} ({e}): scripts/install-test-deps installs it"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fails unless `xmllint` finds the file valid against the JUnit schema.
fn assert_junit_valid(file: &Path) {
    let out =
        tool("xmllint", &[OsStr::new("--noout"), OsStr::new("--schema"), schema().as_os_str(), file.as_os_str()], None);
    assert!(out.status.success(), "{} is not valid JUnit:\n{}\n{}", file.display(), text(&out.stderr), read(file));
}

/// Evaluates an XPath expression on the file, as text (values decoded).
fn xpath(file: &Path, expr: &str) -> String {
    let out = tool("xmllint", &[OsStr::new("--xpath"), OsStr::new(expr), file.as_os_str()], None);
    assert!(out.status.success(), "xpath {expr}: {}", text(&out.stderr));
    let s = text(&out.stdout);
    s.strip_suffix('\n').unwrap_or(&s).to_owned()
}

/// Fails unless `promtool check metrics` accepts the file, and unless what
/// promtool 2.42 leaves unchecked holds too: each family's HELP and TYPE once and
/// before its samples, all samples of a family together, no series twice (which
/// node_exporter would reject).
fn assert_metrics_valid(file: &Path) {
    let out = tool("promtool", &[OsStr::new("check"), OsStr::new("metrics")], Some(file));
    assert!(out.status.success(), "promtool rejects {}:\n{}{}", file.display(), text(&out.stdout), text(&out.stderr));
    let mut families = HashSet::new();
    let mut current = String::new();
    let mut series = HashSet::new();
    for line in read(file).lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            current = rest.split(' ').next().unwrap().to_owned();
            assert!(families.insert(current.clone()), "{current} is described twice");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            // Counters end in `_total`, as Prometheus names them; the rest are gauges.
            let kind = if current.ends_with("_total") { "counter" } else { "gauge" };
            assert_eq!(rest, format!("{current} {kind}"), "TYPE must follow HELP");
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(name, current, "a sample outside its family: {line}");
            let (key, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(series.insert(key.to_owned()), "series twice: {key}");
        }
    }
}

/// The value of the sample whose name and labels are `series`.
fn sample(metrics: &str, series: &str) -> i64 {
    let line = metrics
        .lines()
        .find(|l| l.strip_prefix(series).is_some_and(|rest| rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no sample {series} in\n{metrics}"));
    line.rsplit_once(' ').unwrap().1.parse().unwrap()
}

fn envs(status: &Value) -> &Vec<Value> {
    status["environments"].as_array().unwrap()
}

fn count(e: &Value, key: &str) -> i64 {
    e["counts"][key].as_i64().unwrap()
}

#[test]
fn junit_of_the_fixtures_is_valid_and_fails_exactly_what_is_wrong() {
    let out = Out::new();
    out.render(&fixtures(), &[]).success();
    assert_junit_valid(&out.junit);
    let status = out.status();

    assert_eq!(xpath(&out.junit, "count(/testsuites/testsuite)"), envs(&status).len().to_string());
    for (i, e) in envs(&status).iter().enumerate() {
        let name = e["name"].as_str().unwrap();
        let suite = format!("/testsuites/testsuite[@id=\"{i}\"]");
        assert_eq!(xpath(&out.junit, &format!("string({suite}/@name)")), name, "suites in name order");
        // One test for the input file, one per host, one per container (missing ones too).
        let tests = 1 + count(e, "hosts") + count(e, "containers") + count(e, "missing");
        assert_eq!(xpath(&out.junit, &format!("string({suite}/@tests)")), tests.to_string(), "{name}");
        assert_eq!(xpath(&out.junit, &format!("count({suite}/testcase)")), tests.to_string(), "{name}");
        let failures = count(e, "problems") + count(e, "unreachable") + i64::from(e["status"] == "stale");
        assert_eq!(xpath(&out.junit, &format!("string({suite}/@failures)")), failures.to_string(), "{name}");
        assert_eq!(xpath(&out.junit, &format!("count({suite}/testcase/failure)")), failures.to_string(), "{name}");
        assert_eq!(
            xpath(&out.junit, &format!("string({suite}/properties/property[@name='status']/@value)")),
            e["status"]
        );
    }

    let logspout = "//testsuite[@name='demo-int']/testcase[@classname='demo-int.app-2_demo-int_cwds_example_io' and @name='logspout']/failure";
    assert_eq!(xpath(&out.junit, &format!("string({logspout}/@type)")), "exited");
    assert_eq!(
        xpath(&out.junit, &format!("string({logspout}/@message)")),
        "exited, exit code 137: killed (SIGKILL), often out of memory"
    );
    let details = xpath(&out.junit, &format!("string({logspout})"));
    assert!(details.contains("status: Exited (137) 2 hours ago"), "{details}");
    assert!(details.contains("host: app-2.demo-int.cwds.example.io"), "{details}");

    // With docker inspect's columns: an OOM kill is its own kind, and the body has
    // the facts behind the reason and the last log lines.
    let es = "//testsuite[@name='integration']/testcase[@classname='integration.es-1_integration_cwds_example_io' and @name='elasticsearch']/failure";
    assert_eq!(xpath(&out.junit, &format!("string({es}/@type)")), "oom_killed");
    assert_eq!(xpath(&out.junit, &format!("string({es}/@message)")), "exited, killed: out of memory (exit code 137)");
    let details = xpath(&out.junit, &format!("string({es})"));
    assert!(details.contains("reason: killed: out of memory at 16:05 UTC after 5 days up\n"), "{details}");
    assert!(details.contains("finished at: 2026-11-25T16:05:11Z\n"), "{details}");
    assert!(details.contains("last log lines:\n[2026-11-25T16:04:58,120][WARN ]"), "{details}");
    let cans = "//testsuite[@name='integration']/testcase[@name='cans_api']/failure";
    let details = xpath(&out.junit, &format!("string({cans})"));
    assert!(details.contains("restart count: 17\nrestart policy: always\n"), "{details}");
    assert!(details.contains("CANS_DB_URL is not set"), "{details}");

    let perry = "//testsuite[@name='qa']/testcase[@classname='qa.perry-1_qa_cwds_example_io']/failure";
    assert_eq!(xpath(&out.junit, &format!("string({perry}/@type)")), "unreachable");
    assert!(xpath(&out.junit, &format!("string({perry}/@message)")).contains("Connection timed out"));

    let junit = read(&out.junit);
    assert!(junit.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    assert!(junit.contains(" timestamp=\"2026-11-25T16:30:00\" "), "UTC without a zone, as the schema wants");
}

#[test]
fn metrics_of_the_fixtures_pass_promtool_and_agree_with_status_json() {
    let out = Out::new();
    out.render(&fixtures(), &[]).success();
    assert_metrics_valid(&out.prom);
    let metrics = read(&out.prom);
    let status = out.status();

    assert_eq!(sample(&metrics, "envdash_last_run_timestamp_seconds"), NOW_SECONDS);
    let totals = &status["totals"];
    for s in ["ok", "problem", "unknown"] {
        assert_eq!(sample(&metrics, &format!("envdash_environments{{status=\"{s}\"}}")), totals[s].as_i64().unwrap());
    }
    for e in envs(&status) {
        let env = format!("{{env=\"{}\"}}", e["name"].as_str().unwrap());
        for (family, key) in [
            ("envdash_environment_hosts", "hosts"),
            ("envdash_environment_containers", "containers"),
            ("envdash_environment_problems", "problems"),
            ("envdash_environment_unreachable_hosts", "unreachable"),
            ("envdash_parse_warnings", "warnings"),
        ] {
            assert_eq!(sample(&metrics, &format!("{family}{env}")), count(e, key), "{family}{env}");
        }
        let status_series = format!(
            "envdash_environment_status{{env=\"{}\",status=\"{}\",page=\"{}\"}}",
            e["name"].as_str().unwrap(),
            e["status"].as_str().unwrap(),
            e["page"].as_str().unwrap()
        );
        assert_eq!(sample(&metrics, &status_series), 1);
    }
    let problems: i64 = envs(&status).iter().map(|e| count(e, "problems")).sum();
    let flagged = metrics.lines().filter(|l| l.starts_with("envdash_container_problem{") && l.ends_with(" 1")).count();
    assert_eq!(flagged as i64, problems);

    let logspout = r#"env="demo-int",host="app-2.demo-int.cwds.example.io",container="logspout""#;
    assert_eq!(
        sample(&metrics, &format!("envdash_container_up{{{logspout},image=\"gliderlabs/logspout:v3.2.6\"}}")),
        0
    );
    assert_eq!(sample(&metrics, &format!("envdash_container_problem{{{logspout}}}")), 1);
    assert_eq!(sample(&metrics, &format!("envdash_container_exit_code{{{logspout}}}")), 137);
    // Restart counts and OOM kills, for containers gathered with docker inspect only.
    assert!(!metrics.contains(&format!("envdash_container_restarts_total{{{logspout}}}")), "legacy: no count");
    let cans = r#"env="integration",host="api-1.integration.cwds.example.io",container="cans_api""#;
    assert_eq!(sample(&metrics, &format!("envdash_container_restarts_total{{{cans}}}")), 17);
    assert_eq!(sample(&metrics, &format!("envdash_container_oom_killed{{{cans}}}")), 0);
    let es = r#"env="integration",host="es-1.integration.cwds.example.io",container="elasticsearch""#;
    assert_eq!(sample(&metrics, &format!("envdash_container_oom_killed{{{es}}}")), 1);
    assert_eq!(sample(&metrics, &format!("envdash_container_state{{{logspout},state=\"exited\",health=\"none\"}}")), 1);
    assert_eq!(sample(&metrics, r#"envdash_host_up{env="qa",host="perry-1.qa.cwds.example.io"}"#), 0);
    assert_eq!(sample(&metrics, r#"envdash_host_up{env="qa",host="app-1.qa.cwds.example.io"}"#), 1);
}

#[test]
fn badges_follow_the_environments_and_leave_other_files_alone() {
    let dir = input(&[
        ("good.txt", b"h1.example.io\nweb,Up 3 weeks,nginx:1.25\n"),
        ("bad.txt", b"h1.example.io\nweb,Exited (1) 2 hours ago,nginx:1.25\nworker,Dead,app:2\n"),
        ("empty.txt", b""),
    ]);
    let out = Out::new();
    out.render(dir.path(), &[]).success();
    assert_eq!(
        out.badge("good"),
        json!({"schemaVersion": 1, "label": "good", "message": "ok", "color": "brightgreen"})
    );
    assert_eq!(out.badge("bad"), json!({"schemaVersion": 1, "label": "bad", "message": "2 problems", "color": "red"}));
    assert_eq!(
        out.badge("empty"),
        json!({"schemaVersion": 1, "label": "empty", "message": "unknown", "color": "lightgrey"})
    );

    // An environment that is gone loses its badge; files envdash did not write stay.
    fs::write(out.site.join("badges/README.txt"), "keep me").unwrap();
    fs::remove_file(dir.path().join("bad.txt")).unwrap();
    out.render(dir.path(), &[]).success();
    let mut names: Vec<String> = fs::read_dir(out.site.join("badges"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["README.txt", "empty.json", "good.json"]);

    // Without --badges there are none.
    let plain = tempfile::tempdir().unwrap();
    envdash().args(["render", "--input"]).arg(dir.path()).arg("--out").arg(plain.path()).assert().success();
    assert!(!plain.path().join("badges").exists());
}

#[test]
fn hostile_names_are_escaped_in_every_output() {
    let container = "a\"b\nc<d>&é";
    let host = "h\"1<x>&é";
    let env_name = "q\"u<o>&t é";
    // A CSV field may hold a newline when quoted; quotes inside are doubled.
    let csv = "host,name,status,image\n\"h\"\"1<x>&é\",\"a\"\"b\nc<d>&é\",Exited (1) 1 hour ago,x:1\n";
    let dir = input(&[(&format!("{env_name}.txt"), csv.as_bytes()), ("ctl\u{1}x.txt", b"h\nweb,Up 1 second,x:1\n")]);
    let out = Out::new();
    out.render(dir.path(), &[]).success();

    assert_junit_valid(&out.junit);
    let junit = read(&out.junit);
    assert!(junit.contains(r#"name="a&quot;b&#10;c&lt;d&gt;&amp;é""#), "{junit}");
    let suite = "/testsuites/testsuite[@id='1']";
    assert_eq!(xpath(&out.junit, &format!("string({suite}/@name)")), env_name);
    assert_eq!(xpath(&out.junit, &format!("string({suite}/testcase[failure]/@name)")), container);
    assert_eq!(
        xpath(&out.junit, &format!("string({suite}/testcase[failure]/@classname)")),
        format!("{env_name}.{host}")
    );
    assert!(xpath(&out.junit, &format!("string({suite}/testcase/failure)")).contains(&format!("host: {host}\n")));
    // XML 1.0 cannot carry U+0001 at all, not even as a reference.
    assert_eq!(xpath(&out.junit, "string(/testsuites/testsuite[@id='0']/@name)"), "ctl\u{FFFD}x");

    assert_metrics_valid(&out.prom);
    let metrics = read(&out.prom);
    let labels = r#"env="q\"u<o>&t é",host="h\"1<x>&é",container="a\"b\nc<d>&é""#;
    assert_eq!(sample(&metrics, &format!("envdash_container_up{{{labels},image=\"x:1\"}}")), 0);
    assert_eq!(sample(&metrics, &format!("envdash_container_exit_code{{{labels}}}")), 1);
    assert_eq!(sample(&metrics, "envdash_environment_problems{env=\"ctl\u{1}x\"}"), 0);

    let status = out.status();
    let page = envs(&status).iter().find(|e| e["name"] == env_name).unwrap()["page"].as_str().unwrap().to_owned();
    let badge = out.badge(page.strip_suffix(".html").unwrap());
    assert_eq!(badge["label"], env_name);
    assert_eq!(badge["message"], "1 problem");
    assert_eq!(out.badge("ctl-x")["label"], "ctl\u{1}x");
}

#[test]
fn hostile_log_lines_are_escaped_or_cut_in_every_output() {
    // What a crashing program printed: markup, colours and a cursor move, invalid
    // UTF-8, NUL, a carriage return, and a last line of 1 MB.
    let mut logs: Vec<u8> =
        b"<script>alert(1)</script>\n\x1b[31mred\x1b[0m \x1b]0;title\x07text\n\xff\xfe bad\n".to_vec();
    logs.extend_from_slice(b"nul\x00here\rback\n");
    logs.extend(std::iter::repeat_n(b'x', 1 << 20));
    logs.extend_from_slice(b" the end");
    let mut csv =
        b"host,name,image,state,status,exit_code,logs\nh1,job,img:1,exited,Exited (3) 1 minute ago,3,\"".to_vec();
    csv.extend_from_slice(&logs);
    csv.extend_from_slice(b"\"\nh1,web,img:1,running,Up 2 days,,\n");
    // Beside it, files without the new columns: CSV and the legacy layout.
    let dir = input(&[
        ("hostile.txt", &csv),
        ("plain.txt", b"host,name,image,status\nh1,web,img:1,Exited (1) 1 minute ago\n"),
        ("legacy.txt", b"h1\nweb,Exited (137) 1 minute ago,img:1\n"),
    ]);
    let out = Out::new();
    let stderr = text(&out.render(dir.path(), &[]).success().get_output().stderr);
    assert!(stderr.contains("hostile.txt:2: row is"), "the cut is reported with file and line: {stderr}");

    let status = out.status();
    let env = |name: &str| envs(&status).iter().find(|e| e["name"] == name).unwrap().clone();
    let hostile = env("hostile");
    let job = &hostile["hosts"][0]["containers"][0];
    assert_eq!((&job["name"], &job["exit_code"]), (&"job".into(), &3.into()), "the row is kept: {job}");
    let kept = job["logs"].as_str().unwrap();
    assert!(kept.ends_with("xxx the end") && kept.len() <= 16 * 1024 + 3, "its log keeps its end, cut: {}", kept.len());
    assert!(!kept.contains(['\u{1b}', '\0', '\r', '\u{7}']), "no control characters: {kept:?}");
    // The same text, shorter, keeps every line: the early lines are kept as text.
    let head = &csv[..csv.iter().position(|&b| b == b'"').unwrap() + 1];
    let short = [head, &logs[..logs.len() - (1 << 20) - 8], b"\"\n"].concat();
    let dir2 = input(&[("short.txt", &short)]);
    let out2 = Out::new();
    out2.render(dir2.path(), &[]).success();
    let job2 = out2.status()["environments"][0]["hosts"][0]["containers"][0].clone();
    assert_eq!(
        job2["logs"].as_str().unwrap(),
        "<script>alert(1)</script>\nred text\n\u{fffd}\u{fffd} bad\nnul\u{fffd}here\nback",
        "colours and titles gone, controls shown as U+FFFD, a carriage return a line break"
    );
    let page = read(out2.site.join("short.html"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;") && !page.contains("<script>alert"), "{page}");
    assert_junit_valid(&out2.junit);
    assert!(xpath(&out2.junit, "string(//testcase[@name='job']/failure)").contains("red text"));

    // The big one: every page and report stays whole and small, the XML valid.
    for file in fs::read_dir(&out.site).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()) {
        let bytes = fs::read(&file).unwrap();
        assert!(bytes.len() < 2 << 20, "{} is {} bytes", file.display(), bytes.len());
        assert!(!bytes.contains(&0) && !bytes.contains(&0x1b), "{} holds a control byte", file.display());
    }
    assert_junit_valid(&out.junit);
    assert_metrics_valid(&out.prom);
    // The files without the new columns read as they always did.
    assert_eq!(env("plain")["hosts"][0]["containers"][0]["exit_code"], 1);
    assert_eq!(env("legacy")["hosts"][0]["containers"][0]["exit_code"], 137);
    assert!(env("legacy")["hosts"][0]["containers"][0].get("logs").is_none());
}

#[test]
fn an_unusable_file_is_an_error_in_junit_and_unknown_elsewhere() {
    let dir = input(&[("empty.txt", b""), ("good.txt", b"h1.example.io\nweb,Up 3 weeks,nginx:1.25\n")]);
    let out = Out::new();
    out.render(dir.path(), &[]).success();
    assert_junit_valid(&out.junit);
    let suite = "/testsuites/testsuite[@name='empty']";
    assert_eq!(
        xpath(&out.junit, &format!("concat({suite}/@tests, ' ', {suite}/@errors, ' ', {suite}/@failures)")),
        "1 1 0"
    );
    assert_eq!(xpath(&out.junit, &format!("string({suite}/testcase/error/@type)")), "unreadable");
    assert!(!xpath(&out.junit, &format!("string({suite}/testcase/error/@message)")).is_empty());
    assert_eq!(xpath(&out.junit, "count(//failure)"), "0");

    assert_metrics_valid(&out.prom);
    let metrics = read(&out.prom);
    assert_eq!(sample(&metrics, r#"envdash_environment_status{env="empty",status="unknown",page="empty.html"}"#), 1);
    assert_eq!(sample(&metrics, r#"envdash_environments{status="unknown"}"#), 1);
    assert_eq!(out.badge("empty")["message"], "unknown");

    out.render(dir.path(), &["--fail-on", "problem"]).code(0);
    out.render(dir.path(), &["--fail-on", "unknown"]).code(1);
    out.render(dir.path(), &["--fail-on", "problem,unknown"]).code(1);
}

#[test]
fn fail_on_exits_1_after_everything_is_written() {
    let out = Out::new();
    let failed = out.render(&fixtures(), &["--fail-on", "problem"]).code(1);
    let stdout = text(&failed.get_output().stdout);
    assert!(stdout.contains("exit code 1 (--fail-on): demo-int (problem)"), "{stdout}");
    for file in [out.site.join("index.html"), out.site.join("status.json"), out.junit.clone(), out.prom.clone()] {
        assert!(file.is_file(), "{} was written before exiting", file.display());
    }
    assert!(out.site.join("badges/demo-int.json").is_file());

    // Not asked, or nothing in that state: 0.
    out.render(&fixtures(), &[]).code(0);
    out.render(&fixtures(), &["--fail-on", "unknown"]).code(0);
    let ok = input(&[("a.txt", b"h1.example.io\nweb,Up 3 weeks,nginx:1.25\n")]);
    out.render(ok.path(), &["--fail-on", "any"]).code(0);
    out.render(ok.path(), &["--fail-on", "problem,unknown,stale,known"]).code(0);
    // -q keeps stdout empty, not the exit code.
    let quiet = envdash()
        .args(["-q", "render", "--fail-on", "any", "--input"])
        .arg(fixtures())
        .arg("--out")
        .arg(&out.site)
        .assert()
        .code(1);
    assert!(quiet.get_output().stdout.is_empty());

    // `run` without a bucket renders, then fails the same way.
    let work = tempfile::tempdir().unwrap();
    envdash()
        .current_dir(work.path())
        .args(["run", "--fail-on", "problem", "--input"])
        .arg(fixtures())
        .assert()
        .code(1)
        .stdout(predicates::str::contains("no bucket given"));
    assert!(work.path().join("site/index.html").is_file());

    // A status that does not exist is a usage error.
    let bad = out.render(&fixtures(), &["--fail-on", "sometimes"]).code(2);
    assert!(text(&bad.get_output().stderr).contains("sometimes"));
}

#[test]
fn reports_are_replaced_atomically_and_a_missing_folder_fails_before_rendering() {
    let out = Out::new();
    out.render(&fixtures(), &[]).success();
    let first = (read(&out.junit), read(&out.prom));
    out.render(&fixtures(), &[]).success();
    assert_eq!((read(&out.junit), read(&out.prom)), first, "the same input gives the same bytes");
    let mut names: Vec<String> = fs::read_dir(out.junit.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // The lock that keeps two runs apart and the folder the next run builds in stay.
        .filter(|n| n != ".site.envdash-lock" && n != ".site.envdash-build")
        .collect();
    names.sort();
    assert_eq!(names, ["envdash.prom", "junit.xml", "site"], "no temporary files left");
    for dir in [out.site.clone(), out.site.join("badges")] {
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{}: {leftovers:?}", dir.display());
    }

    let fresh = tempfile::tempdir().unwrap();
    let site = fresh.path().join("site");
    let missing = fresh.path().join("no-such-folder/junit.xml");
    let failed = envdash()
        .args(["render", "--input"])
        .arg(fixtures())
        .arg("--out")
        .arg(&site)
        .arg("--junit")
        .arg(&missing)
        .assert()
        .code(2);
    let stderr = text(&failed.get_output().stderr);
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(!site.join("index.html").exists(), "nothing rendered");
}

#[test]
fn help_documents_the_reports_and_exit_codes() {
    let help = text(&envdash().args(["render", "--help"]).assert().success().get_output().stdout);
    for flag in ["--junit <FILE>", "--prometheus <FILE>", "--badges", "--fail-on <STATUS>", "problem", "unknown", "any"]
    {
        assert!(help.contains(flag), "render --help lacks {flag}:\n{help}");
    }
    let run = text(&envdash().args(["run", "--help"]).assert().success().get_output().stdout);
    assert!(run.contains("--fail-on"));
    let top = text(&envdash().arg("--help").assert().success().get_output().stdout);
    for line in ["0  ran fine", "1  --fail-on", "2  the tool failed"] {
        assert!(top.contains(line), "--help lacks {line:?}:\n{top}");
    }
}
