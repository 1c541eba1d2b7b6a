//! Alerts end to end: the real binary, run after run on changing input, against
//! a real HTTP server (tests/support/hooks.rs) for the webhook, Slack and Teams
//! notifiers and a real SMTP server (aiosmtpd, tests/support/smtp_server.py)
//! for email, both on 127.0.0.1. Every run's time is fixed with ENVDASH_NOW.

mod support;

use std::fs;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::hooks::{Answer, Hooks};

const START: i64 = 1_795_624_200; // 2026-11-25T16:30:00Z

fn at(minute: i64) -> String {
    jiff::Timestamp::from_second(START + minute * 60).unwrap().to_string()
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_envdash"))
}

fn venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(python.exists(), "{} missing: run scripts/install-test-deps (it installs aiosmtpd)", python.display());
    python
}

/// aiosmtpd on a port of its own; mails land in `dir`, one file each.
struct Smtp {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Smtp {
    fn start() -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut child = Command::new(venv_python())
            .arg(script)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("the SMTP server said no port within 60 s");
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the SMTP server printed {line:?}, not a port"));
        Smtp { child, port, dir }
    }

    /// Every mail received so far, oldest first, as text.
    fn mails(&self) -> Vec<String> {
        let mut files: Vec<(u64, PathBuf)> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .map(|p| (p.file_stem().unwrap().to_string_lossy().parse().unwrap(), p))
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| fs::read_to_string(p).unwrap()).collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An input folder, a site folder and a config, run after run.
struct Bench {
    _dir: tempfile::TempDir,
    input: PathBuf,
    out: PathBuf,
    config: PathBuf,
    env: Vec<(String, String)>,
}

impl Bench {
    fn new(notify: &str) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let (input, out, config) = (dir.path().join("envs"), dir.path().join("site"), dir.path().join("envdash.toml"));
        fs::create_dir_all(&input).unwrap();
        fs::write(&config, format!("stale_after = \"off\"\nsite_url = \"https://dash.example.io/\"\n{notify}"))
            .unwrap();
        Bench { _dir: dir, input, out, config, env: Vec::new() }
    }

    /// `prod.txt` with containers web, db and api on app-1, `down` of them exited.
    fn prod(&self, down: &[&str]) {
        let mut text = String::from("host,name,image,state,status\n");
        for name in ["web", "db", "api"] {
            let (state, status) =
                if down.contains(&name) { ("exited", "Exited (1) 1 minute ago") } else { ("running", "Up 3 days") };
            text.push_str(&format!("app-1.prod.example.io,{name},img:1,{state},{status}\n"));
        }
        fs::write(self.input.join("prod.txt"), text).unwrap();
    }

    fn command(&self, minute: i64, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.env("ENVDASH_NOW", at(minute))
            .env_remove("RUST_LOG")
            .env_remove("ENVDASH_BUCKET")
            .args(args)
            .arg("--input")
            .arg(&self.input)
            .arg("--out")
            .arg(&self.out)
            .arg("--config")
            .arg(&self.config);
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    /// `envdash run` at `minute`; fails the test unless it exits 0.
    fn run(&self, minute: i64) -> (String, String) {
        self.run_with(minute, &["run"])
    }

    fn run_with(&self, minute: i64, args: &[&str]) -> (String, String) {
        let out = self.command(minute, args).output().unwrap();
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(out.status.success(), "run at {minute} min failed:\n{stdout}\n{stderr}");
        (stdout, stderr)
    }

    fn status(&self) -> Value {
        serde_json::from_str(&fs::read_to_string(self.out.join("status.json")).unwrap()).unwrap()
    }
}

/// Validates every body against the generic webhook's JSON Schema
/// (contrib/webhook/envdash-webhook.schema.json), with jsonschema from the test
/// virtualenv.
fn assert_webhook_schema(received: &[support::hooks::Received]) {
    assert!(!received.is_empty(), "no webhook to validate");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/webhook/envdash-webhook.schema.json");
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        jsonschema.Draft202012Validator.check_schema(schema)\n\
        v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())\n\
        bad = [f'body {i}: {e.json_path}: {e.message}' for i, b in enumerate(json.load(sys.stdin)) for e in v.iter_errors(b)]\n\
        print('\\n'.join(bad)); sys.exit(1 if bad else 0)";
    let bodies: Vec<&Value> = received.iter().map(|r| &r.body).collect();
    let out = python_script(script, &[schema.as_os_str()], serde_json::to_string(&bodies).unwrap().as_bytes());
    assert!(
        out.status.success(),
        "webhook bodies against the schema:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn changes(body: &Value) -> Vec<(String, String)> {
    body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["change"].as_str().unwrap().to_owned(), c["container"].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[test]
fn four_runs_one_message_per_change_on_every_channel() {
    let hooks = Hooks::start();
    let smtp = Smtp::start();
    let mut bench = Bench::new(&format!(
        r#"
[[notify]]
kind = "webhook"
url = "{}"
[[notify]]
kind = "slack"
url_env = "TEST_SLACK_WEBHOOK"
[[notify]]
kind = "teams"
url = "{}"
[[notify]]
kind = "email"
smtp = "smtp://127.0.0.1:{}?tls=none"
from = "envdash@example.io"
to = ["oncall@example.io"]
"#,
        hooks.url("/hook"),
        hooks.url("/teams"),
        smtp.port
    ));
    // The Slack URL is a secret: from the environment, never from the file.
    bench.env.push(("TEST_SLACK_WEBHOOK".into(), hooks.url("/slack")));
    let messages =
        |h: &Hooks, s: &Smtp| (h.at("/hook").len(), h.at("/slack").len(), h.at("/teams").len(), s.mails().len());

    // Run 1, all fine (and the first run, with nothing open): nothing is sent.
    bench.prod(&[]);
    bench.run(0);
    assert_eq!(messages(&hooks, &smtp), (0, 0, 0, 0));

    // Run 2: web exits. Exactly one message per notifier, naming it.
    bench.prod(&["web"]);
    let (stdout, _) = bench.run(5);
    assert_eq!(messages(&hooks, &smtp), (1, 1, 1, 1));
    assert!(stdout.contains("notify webhook: sent 1 change"), "{stdout}");
    let hook = &hooks.at("/hook")[0];
    assert_eq!(hook.content_type, "application/json");
    let b = &hook.body;
    assert_eq!((&b["version"], &b["status"], &b["first_run"]), (&"1".into(), &"firing".into(), &false.into()));
    assert_eq!(b["title"], "envdash: 1 down (prod)");
    assert_eq!(changes(b), [("down".to_owned(), "web".to_owned())]);
    let c = &b["changes"][0];
    assert_eq!(
        (&c["environment"], &c["host"], &c["severity"]),
        (&"prod".into(), &"app-1.prod.example.io".into(), &"critical".into())
    );
    assert_eq!(c["state"], "exited 1 (application error)");
    assert_eq!(c["page"], "https://dash.example.io/prod.html");
    // Problem since: when its status says it stopped ("1 minute ago": 60-120 s).
    assert_eq!(c["since"], "2026-11-25T16:33:30Z");
    // Slack: the text fallback and Block Kit sections.
    let slack = &hooks.at("/slack")[0].body;
    assert!(slack["text"].as_str().unwrap().contains("✖ DOWN container prod / app-1.prod.example.io / web"), "{slack}");
    assert_eq!(slack["blocks"][0]["type"], "section");
    assert!(
        slack["blocks"][1]["text"]["text"].as_str().unwrap().starts_with("*<https://dash.example.io/prod.html|prod>*")
    );
    // Teams: an Adaptive Card 1.4 in a message.
    let teams = &hooks.at("/teams")[0].body;
    assert_eq!(teams["type"], "message");
    let card = &teams["attachments"][0];
    assert_eq!(
        (&card["contentType"], &card["content"]["type"], &card["content"]["version"]),
        (&"application/vnd.microsoft.card.adaptive".into(), &"AdaptiveCard".into(), &"1.4".into())
    );
    assert!(card["content"]["body"].to_string().contains("web"), "{card}");
    assert_eq!(card["content"]["actions"][0]["url"], "https://dash.example.io/index.html");
    // Email: one mail to the address, the subject on one line, text and HTML.
    let mail = &smtp.mails()[0];
    assert!(mail.contains("X-Envelope-To: oncall@example.io"), "{mail}");
    assert!(mail.contains("Subject: envdash: 1 down (prod)"), "{mail}");
    assert!(mail.contains("Content-Type: text/plain") && mail.contains("Content-Type: text/html"), "{mail}");

    // Run 3: still exited. Nothing.
    bench.run(10);
    assert_eq!(messages(&hooks, &smtp), (1, 1, 1, 1));

    // Run 4: web recovers. Exactly one recovery per notifier.
    bench.prod(&[]);
    bench.run(15);
    assert_eq!(messages(&hooks, &smtp), (2, 2, 2, 2));
    let b = &hooks.at("/hook")[1].body;
    assert_eq!((&b["status"], changes(b)), (&"resolved".into(), vec![("recovered".to_owned(), "web".to_owned())]));
    assert_eq!(b["changes"][0]["down_seconds"], 690, "down from 16:33:30 to 16:45");
    assert!(smtp.mails()[1].contains("Subject: envdash: 1 recovered (prod)"));

    // What went down is in the incident log and the feed.
    let incidents = fs::read_to_string(bench.out.join("incidents.html")).unwrap();
    assert!(
        incidents.contains("prod &#x2f; app-1.prod.example.io &#x2f; web") && incidents.contains("✔ RECOVERED"),
        "{incidents}"
    );
    assert!(fs::read_to_string(bench.out.join("index.html")).unwrap().contains("href=\"incidents.html\""));
    let feed = fs::read_to_string(bench.out.join("feed.xml")).unwrap();
    assert_eq!(feed.matches("<entry>").count(), 2, "one entry per change: {feed}");
    assert_valid_atom(&bench.out.join("feed.xml"), 2);
    let status = bench.status();
    let notifiers = status["notifications"].as_array().unwrap();
    assert_eq!(notifiers.len(), 4);
    assert!(notifiers.iter().all(|n| n["ok"] == true && n["pending"] == 0), "{notifiers:?}");
    assert_webhook_schema(&hooks.at("/hook"));
}

/// Checks the feed against RFC 4287's rules (tests/support/atom_check.py), and
/// reads it with feedparser (from the test virtualenv), a real Atom reader.
fn assert_valid_atom(feed: &Path, entries: usize) {
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/atom_check.py");
    let out = Command::new(venv_python()).arg(checker).arg(feed).output().unwrap();
    assert!(
        out.status.success(),
        "{} is not valid Atom:\n{}{}",
        feed.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let script = "import feedparser, sys\nf = feedparser.parse(sys.argv[1])\nprint(int(f.bozo), f.version, len(f.entries), len({e.id for e in f.entries}))";
    let out = Command::new(venv_python()).args(["-c", script]).arg(feed).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        said,
        format!("0 atom10 {entries} {entries}"),
        "feedparser: {said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_notifier_hears_only_what_its_filters_let_through() {
    let hooks = Hooks::start();
    let bench = Bench::new(&format!(
        r#"
[[group]]
name = "Prod"
environments = ["preint"]
[[notify]]
name = "prod-pattern"
kind = "webhook"
url = "{}"
environments = ["pro*"]
[[notify]]
name = "prod-group"
kind = "webhook"
url = "{}"
groups = ["Prod"]
[[notify]]
name = "critical-only"
kind = "webhook"
url = "{}"
min_severity = "critical"
"#,
        hooks.url("/pattern"),
        hooks.url("/group"),
        hooks.url("/critical")
    ));
    // prod: web exits (critical); preint: api turns unhealthy (warning); qa: job exits (critical).
    let write = |env: &str, name: &str, status: Option<(&str, &str)>| {
        let (state, status) = status.unwrap_or(("running", "Up 3 days"));
        let text = format!("host,name,image,state,status\napp-1.{env}.example.io,{name},img:1,{state},{status}\n");
        fs::write(bench.input.join(format!("{env}.txt")), text).unwrap();
    };
    write("prod", "web", None);
    write("preint", "api", None);
    write("qa", "job", None);
    bench.run(0);
    assert_eq!(hooks.count(), 0);
    write("prod", "web", Some(("exited", "Exited (1) 1 minute ago")));
    write("preint", "api", Some(("running", "Up 3 days (unhealthy)")));
    write("qa", "job", Some(("exited", "Exited (2) 1 minute ago")));
    bench.run(5);
    let heard = |path: &str| -> Vec<(String, String)> {
        let sent = hooks.at(path);
        assert_eq!(sent.len(), 1, "{path}: one message");
        let body = &sent[0].body;
        body["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["environment"].as_str().unwrap().to_owned(), c["severity"].as_str().unwrap().to_owned()))
            .collect()
    };
    let pair = |env: &str, severity: &str| (env.to_owned(), severity.to_owned());
    assert_eq!(heard("/pattern"), [pair("prod", "critical")], "environments = [\"pro*\"]");
    assert_eq!(heard("/group"), [pair("preint", "warning")], "groups = [\"Prod\"]");
    assert_eq!(heard("/critical"), [pair("prod", "critical"), pair("qa", "critical")], "min_severity = critical");
}

#[test]
fn known_issues_silence_and_a_problem_still_open_when_the_window_ends_is_sent_then() {
    let hooks = Hooks::start();
    // db: a maintenance window that ends at 12 min. api: a known issue with no end in sight.
    let bench = Bench::new(&format!(
        "[[notify]]\nkind = \"webhook\"\nurl = \"{}\"\n\
         [[known]]\nenvironment = \"prod\"\ncontainer = \"db\"\ntext = \"db upgrade OPS-7\"\nstart = \"{}\"\nexpires = \"{}\"\n\
         [[known]]\nenvironment = \"prod\"\ncontainer = \"api\"\ntext = \"api retired, OPS-9\"\n",
        hooks.url("/hook"),
        at(-60),
        at(12)
    ));
    bench.prod(&[]);
    bench.run(0);
    bench.prod(&["db", "api"]);
    bench.run(5);
    bench.run(10);
    assert_eq!(hooks.at("/hook").len(), 0, "both explained: nothing");
    let incidents = fs::read_to_string(bench.out.join("incidents.html")).unwrap();
    for (name, text) in [("db", "db upgrade OPS-7"), ("api", "api retired, OPS-9")] {
        let item = incidents
            .split("<li ")
            .find(|li| li.contains(&format!("app-1.prod.example.io &#x2f; {name}</a>")))
            .unwrap_or_else(|| panic!("no incident for {name}: {incidents}"));
        assert!(item.contains("⚑ KNOWN"), "{item}");
        assert!(item.contains(&format!("Covered by a known issue: {text}; no alert was sent.")), "{item}");
    }
    let (_, stderr) = bench.run_with(15, &["run"]);
    let sent = hooks.at("/hook");
    assert_eq!(sent.len(), 1, "the window ended at 12 min with db still down: {stderr}");
    assert_eq!(changes(&sent[0].body), [("down".to_owned(), "db".to_owned())], "api's known issue holds");
    bench.run(20);
    assert_eq!(hooks.at("/hook").len(), 1);
    let incidents = fs::read_to_string(bench.out.join("incidents.html")).unwrap();
    let db = incidents.split("<li ").find(|li| li.contains("&#x2f; db</a>")).unwrap();
    assert!(db.contains("✖ OPEN") && !db.contains("Covered by"), "db is an open problem now: {db}");
}

#[test]
fn the_incident_log_keeps_thirty_days() {
    let bench = Bench::new("");
    bench.prod(&[]);
    bench.run(0);
    bench.prod(&["web"]);
    bench.run(5);
    bench.prod(&["web", "db"]);
    bench.run(10);
    bench.prod(&["db"]);
    bench.run(15); // web recovered at 15 min; db still down
    let day = 24 * 60;
    let listed = |b: &Bench| {
        let page = fs::read_to_string(b.out.join("incidents.html")).unwrap();
        let history = fs::read_to_string(b.out.join("history/prod.json")).unwrap();
        (page.matches("<li class=").count(), history.matches("\"started\"").count())
    };
    bench.run(30 * day + 10);
    assert_eq!(listed(&bench), (2, 2), "web ended 30 days ago less 5 minutes: still kept");
    bench.run(30 * day + 20);
    assert_eq!(listed(&bench), (1, 1), "web ended more than 30 days ago: gone; db, still open, stays");
    let page = fs::read_to_string(bench.out.join("incidents.html")).unwrap();
    assert!(page.contains("&#x2f; db</a>") && page.contains("✖ OPEN"), "{page}");
}

#[test]
fn reminders_repeat_what_is_still_down() {
    let hooks = Hooks::start();
    let bench = Bench::new(&format!(
        "[alerts]\nremind_every = \"30m\"\n[[notify]]\nkind = \"webhook\"\nurl = \"{}\"\n",
        hooks.url("/hook")
    ));
    bench.prod(&[]);
    bench.run(0);
    bench.prod(&["web"]);
    for minute in [5, 10, 20, 30] {
        bench.run(minute);
    }
    assert_eq!(hooks.at("/hook").len(), 1, "no reminder before 30 minutes");
    bench.run(35);
    let sent = hooks.at("/hook");
    assert_eq!(sent.len(), 2);
    assert_eq!(changes(&sent[1].body), [("still_down".to_owned(), "web".to_owned())]);
    assert_eq!(sent[1].body["title"], "envdash: 1 still down (prod)");
    bench.run(40);
    assert_eq!(hooks.at("/hook").len(), 2, "the next reminder 30 minutes later");
    bench.prod(&[]);
    bench.run(45);
    assert_eq!(changes(&hooks.at("/hook")[2].body), [("recovered".to_owned(), "web".to_owned())]);
    assert_webhook_schema(&hooks.at("/hook"));
}

#[test]
fn a_flapping_container_sends_one_message_with_a_count() {
    let hooks = Hooks::start();
    let bench = Bench::new(&format!("[[notify]]\nkind = \"webhook\"\nurl = \"{}\"\n", hooks.url("/hook")));
    bench.prod(&[]);
    bench.run(0);
    for i in 1..=10 {
        bench.prod(if i % 2 == 1 { &["web"] } else { &[] });
        bench.run(i * 5);
    }
    let sent: Vec<Vec<(String, String)>> = hooks.at("/hook").iter().map(|r| changes(&r.body)).collect();
    let w = |kind: &str| vec![(kind.to_owned(), "web".to_owned())];
    assert_eq!(sent, [w("down"), w("recovered"), w("down"), w("flapping")], "ten flips, four messages");
    assert_eq!(hooks.at("/hook")[3].body["changes"][0]["flips"], 4);
    assert_webhook_schema(&hooks.at("/hook"));
}

#[test]
fn the_first_run_sends_one_summary_of_what_is_open() {
    let hooks = Hooks::start();
    let bench = Bench::new(&format!("[[notify]]\nkind = \"webhook\"\nurl = \"{}\"\n", hooks.url("/hook")));
    bench.prod(&["web", "db"]);
    bench.run(0);
    let sent = hooks.at("/hook");
    assert_eq!(sent.len(), 1, "one summary");
    assert_eq!(sent[0].body["first_run"], true);
    assert_eq!(sent[0].body["title"], "envdash is watching: 2 open (prod)");
    assert_eq!(changes(&sent[0].body), [("open".to_owned(), "db".to_owned()), ("open".to_owned(), "web".to_owned())]);
    bench.run(5);
    assert_eq!(hooks.at("/hook").len(), 1, "nothing repeated");
    assert_webhook_schema(&hooks.at("/hook"));
}

#[test]
fn failing_notifiers_never_stop_the_run_or_the_publish_and_their_message_goes_next_run_once() {
    let hooks = Hooks::start();
    let smtp = Smtp::start();
    let s3 = support::s3::S3Server::start();
    s3.create_bucket("dash");
    // Each attempt may take 2 s; the endpoint that never answers costs 3 of them
    // plus the backoff (1 s, 2 s). The hooks server answers the others at once.
    let bench = Bench::new(&format!(
        r#"
[alerts]
timeout = "2s"
[[notify]]
name = "broken"
kind = "webhook"
url = "{}"
[[notify]]
name = "silent"
kind = "webhook"
url = "{}"
[[notify]]
name = "unknown-mailbox"
kind = "email"
smtp = "smtp://127.0.0.1:{port}?tls=none"
from = "envdash@example.io"
to = ["nobody@example.io"]
[[notify]]
name = "full-mailbox"
kind = "email"
smtp = "smtp://127.0.0.1:{port}?tls=none"
from = "envdash@example.io"
to = ["busy@example.io"]
"#,
        hooks.url("/broken"),
        hooks.url("/silent"),
        port = smtp.port
    ));
    let prom = bench.out.parent().unwrap().join("envdash.prom");
    let endpoint = s3.endpoint();
    let run = |minute: i64| {
        let started = std::time::Instant::now();
        let out = bench
            .command(minute, &["run", "--prometheus", prom.to_str().unwrap()])
            .envs(s3.credentials())
            .args(["--bucket", "dash", "--endpoint-url", &endpoint, "--path-style"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "run at {minute} min: {}{stderr}", String::from_utf8_lossy(&out.stdout));
        (stderr, started.elapsed())
    };
    let rcpts = |who: &str| {
        fs::read_to_string(smtp.dir.path().join("rcpt.log")).unwrap_or_default().lines().filter(|l| *l == who).count()
    };
    hooks.answer("/broken", Answer::Status(500));
    hooks.answer("/silent", Answer::Never);
    bench.prod(&[]);
    run(0);
    bench.prod(&["web"]);
    let (stderr, took) = run(5);
    // What is worth another try is tried three times, with backoff, within the run;
    // an unknown mailbox (550) once.
    assert_eq!(hooks.at("/broken").len(), 3, "{stderr}");
    assert_eq!(hooks.at("/silent").len(), 3, "{stderr}");
    assert_eq!((rcpts("busy@example.io"), rcpts("nobody@example.io")), (3, 1), "{stderr}");
    // The backoff: 1 s before the second attempt, 2 s before the third.
    let broken = hooks.at("/broken");
    let gaps: Vec<Duration> = broken.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(900) && gaps[1] >= Duration::from_millis(1900), "backoff {gaps:?}");
    // Within the run: 3 attempts of at most 2 s and 3 s of backoff for the silent one.
    assert!(took < Duration::from_secs(30), "the run waited {took:?}");
    assert!(stderr.contains("notify broken: 1 change NOT delivered after 3 attempts"), "{stderr}");
    assert!(stderr.contains("127.0.0.1 answered HTTP 500"), "{stderr}");
    let silent = stderr
        .lines()
        .find(|l| l.contains("notify silent: 1 change NOT delivered"))
        .unwrap_or_else(|| panic!("{stderr}"));
    // The wait it reports is the one it made: each attempt's 2 s, not less.
    let waited: f64 = silent
        .split("no answer from 127.0.0.1 after ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{silent}"));
    assert!((2.0..10.0).contains(&waited), "{silent}");
    assert!(stderr.contains("notify unknown-mailbox: 1 change NOT delivered after 1 attempt"), "{stderr}");
    assert!(stderr.contains("(550): 5.1.1 <nobody@example.io>: mailbox unknown"), "the answer is reported: {stderr}");
    assert!(stderr.contains("notify full-mailbox: 1 change NOT delivered after 3 attempts"), "{stderr}");
    assert!(!stderr.contains("/broken") && !stderr.contains("/silent"), "a webhook's URL is its secret: {stderr}");
    // The site was still written and published, and says so.
    let status = bench.status();
    let n = &status["notifications"];
    assert_eq!(
        (&n[0]["name"], &n[0]["ok"], &n[0]["pending"], &n[0]["failures"]),
        (&"broken".into(), &false.into(), &1.into(), &1.into())
    );
    let published: Value = serde_json::from_slice(&s3.get("dash", "status.json")).unwrap();
    assert_eq!(published["notifications"], status["notifications"], "the published status.json is this run's");
    assert!(String::from_utf8(s3.get("dash", "index.html")).unwrap().contains("Alerts are not getting through"));
    let metrics = fs::read_to_string(&prom).unwrap();
    assert!(metrics.contains("envdash_notify_ok{notifier=\"broken\",kind=\"webhook\"} 0"), "{metrics}");
    assert!(metrics.contains("envdash_notify_pending_changes{notifier=\"silent\",kind=\"webhook\"} 1"), "{metrics}");
    assert!(metrics.contains("envdash_notify_ok{notifier=\"unknown-mailbox\",kind=\"email\"} 0"), "{metrics}");
    // Fixed: the next run sends what waited, once; the run after sends nothing.
    hooks.answer("/broken", Answer::Status(200));
    hooks.answer("/silent", Answer::Status(204));
    run(10);
    assert_eq!(changes(&hooks.at("/broken")[3].body), [("down".to_owned(), "web".to_owned())]);
    assert_eq!(hooks.at("/silent").len(), 4);
    run(15);
    assert_eq!((hooks.at("/broken").len(), hooks.at("/silent").len()), (4, 4));
    assert_eq!(bench.status()["notifications"][0]["ok"], true);
}

#[test]
fn a_dry_run_prints_what_would_be_sent_and_changes_no_state() {
    let hooks = Hooks::start();
    let bench = Bench::new(&format!("[[notify]]\nkind = \"webhook\"\nurl = \"{}\"\n", hooks.url("/hook")));
    let state = bench.out.join("history/alerts.json");
    // A dry run on a new site leaves no alert state, so the first real run is
    // still the first: one summary of what is open, not a line per container.
    bench.prod(&["db"]);
    let (stdout, _) = bench.run_with(0, &["run", "--dry-run"]);
    assert!(stdout.contains("would send") && stdout.contains("db"), "{stdout}");
    assert!(!state.exists(), "a dry run wrote {}", state.display());
    bench.run(1);
    let sent = hooks.at("/hook");
    assert_eq!((sent.len(), &sent[0].body["first_run"]), (1, &true.into()), "the first real run's summary");
    bench.prod(&[]);
    bench.run(2);
    hooks.clear();
    let before = fs::read(&state).unwrap();
    bench.prod(&["web"]);
    let (stdout, _) = bench.run_with(5, &["run", "--dry-run"]);
    assert_eq!(fs::read(&state).unwrap(), before, "a dry run leaves the alert state as it was");
    let listed = fs::read_to_string(bench.out.join("incidents.html")).unwrap();
    assert!(!listed.contains("&#x2f; web</a>"), "a dry run lists no incident it did not keep: {listed}");
    assert!(
        stdout.contains("notify webhook (webhook): would send")
            && stdout.contains("✖ DOWN container prod / app-1.prod.example.io / web"),
        "{stdout}"
    );
    assert_eq!(hooks.count(), 0, "nothing sent");
    bench.run(6);
    assert_eq!(
        changes(&hooks.at("/hook")[0].body),
        [("down".to_owned(), "web".to_owned())],
        "the real run still sends it"
    );
}

#[test]
fn notify_test_says_which_notifiers_work() {
    let hooks = Hooks::start();
    let bench = Bench::new(&format!(
        "[[notify]]\nname = \"good\"\nkind = \"slack\"\nurl = \"{}\"\n[[notify]]\nname = \"nowhere\"\nkind = \"webhook\"\nurl_env = \"UNSET_ENVDASH_TEST_URL\"\n",
        hooks.url("/slack")
    ));
    let out = Command::new(bin())
        .env_remove("UNSET_ENVDASH_TEST_URL")
        .args(["notify", "--test", "--config"])
        .arg(&bench.config)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.contains("ok      good (slack): test message delivered"), "{stdout}");
    assert!(stderr.contains("FAILED  nowhere: the variable UNSET_ENVDASH_TEST_URL (url_env) is not set"), "{stderr}");
    let sent = hooks.at("/slack");
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body["text"].as_str().unwrap().contains("envdash test message for good"), "{:?}", sent[0].body);
}

#[test]
fn hostile_names_are_escaped_in_every_channel_and_cannot_inject_mail_headers() {
    let hooks = Hooks::start();
    let smtp = Smtp::start();
    let bench = Bench::new(&format!(
        "[[notify]]\nkind = \"slack\"\nurl = \"{}\"\n[[notify]]\nkind = \"teams\"\nurl = \"{}\"\n[[notify]]\nkind = \"email\"\nsmtp = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"envdash@example.io\"\nto = [\"oncall@example.io\"]\n",
        hooks.url("/slack"),
        hooks.url("/teams"),
        smtp.port
    ));
    // A file name with a line break and a header after it; a container name with markup.
    let env = "prod\r\nBcc: evil@example.io";
    let row = |state: &str, status: &str| {
        format!(
            "host,name,image,state,status\nh1,\"<script>alert(1)</script>*x*[y](http://evil)<!channel>\",img:1,{state},{status}\n"
        )
    };
    fs::write(bench.input.join(format!("{env}.txt")), row("running", "Up 1 day")).unwrap();
    bench.run(0);
    fs::write(bench.input.join(format!("{env}.txt")), row("exited", "Exited (1) 1 minute ago")).unwrap();
    bench.run(5);
    let slack = hooks.at("/slack")[0].body.to_string();
    assert!(!slack.contains("<script>") && !slack.contains("<!channel>"), "{slack}");
    assert!(slack.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{slack}");
    let teams = hooks.at("/teams")[0].body.to_string();
    assert!(teams.contains(r"\\[y\\]\\(http://evil\\)") && teams.contains(r"\\*x\\*"), "{teams}");
    let mail = &smtp.mails()[0];
    let headers = mail.split("\r\n\r\n").next().unwrap();
    assert!(!headers.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "{headers}");
    assert!(!mail.contains("X-Envelope-To: evil@example.io") && mail.contains("X-Envelope-To: oncall@example.io"));
    let html = html_part(mail);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{html}");
    assert!(!html.contains("<script>"), "escaped in the HTML part:\n{html}");
    assert_valid_atom(&bench.out.join("feed.xml"), 1);
}

/// The decoded text/html part of a mail, read by Python's email package.
fn html_part(mail: &str) -> String {
    let script = "import email, email.policy, sys\nm = email.message_from_string(sys.stdin.read(), policy=email.policy.default)\nfor p in m.walk():\n    if p.get_content_type() == 'text/html':\n        print(p.get_content())";
    String::from_utf8_lossy(&python_script(script, &[], mail.as_bytes()).stdout).into_owned()
}

/// Runs `script` with the test virtualenv's Python (`python -c script args…`),
/// `stdin` on its standard input; its output and status.
fn python_script(script: &str, args: &[&std::ffi::OsStr], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(venv_python())
        .args(["-c", script])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_wiped_site_with_its_history_in_s3_repeats_nothing_and_keeps_problem_since() {
    let hooks = Hooks::start();
    let s3 = support::s3::S3Server::start();
    s3.create_bucket("dash");
    let bench = Bench::new(&format!("[[notify]]\nkind = \"webhook\"\nurl = \"{}\"\n", hooks.url("/hook")));
    let endpoint = s3.endpoint();
    let with_bucket = |minute: i64| {
        let out = bench
            .command(minute, &["run"])
            .envs(s3.credentials())
            .args(["--bucket", "dash", "--prefix", "site", "--endpoint-url", &endpoint, "--path-style"])
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{text}");
        text
    };
    bench.prod(&[]);
    with_bucket(0);
    bench.prod(&["web"]);
    with_bucket(5);
    assert_eq!(hooks.at("/hook").len(), 1);
    let since = |b: &Bench| {
        let s = b.status();
        s["environments"][0]["hosts"][0]["containers"][0]["since"].as_str().unwrap().to_owned()
    };
    let first_since = since(&bench);
    // A new Jenkins agent: no site folder at all.
    fs::remove_dir_all(&bench.out).unwrap();
    let said = with_bucket(10);
    assert!(said.contains("restored 2 history files from s3://dash/site/history/"), "{said}");
    assert_eq!(hooks.at("/hook").len(), 1, "nothing repeated: {said}");
    assert_eq!(since(&bench), first_since, "problem since is kept");
    bench.prod(&[]);
    with_bucket(15);
    let sent = hooks.at("/hook");
    assert_eq!(sent.len(), 2);
    assert_eq!(changes(&sent[1].body), [("recovered".to_owned(), "web".to_owned())]);
}

#[test]
fn uptime_counts_runs_and_leaves_maintenance_out() {
    let bench = Bench::new(&format!(
        "[[known]]\nenvironment = \"prod\"\ncontainer = \"db\"\ntext = \"db maintenance\"\nstart = \"{}\"\nexpires = \"{}\"\n",
        at(24),
        at(32)
    ));
    // Eight runs five minutes apart: web down in two, db down under maintenance in two.
    let down: [&[&str]; 8] = [&[], &[], &["web"], &["web"], &[], &["db"], &["db"], &[]];
    for (i, d) in down.iter().enumerate() {
        bench.prod(d);
        bench.run(i as i64 * 5);
    }
    let status = bench.status();
    let env = &status["environments"][0];
    // The environment: 4 runs fine, 2 with a problem, 2 of maintenance not counted.
    assert_eq!(env["uptime"]["24h"].as_f64().unwrap(), 4.0 / 6.0, "{}", env["uptime"]);
    assert_eq!(env["uptime"]["maintenance_seconds"], 600);
    let c = |name: &str| {
        env["hosts"][0]["containers"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap().clone()
    };
    assert_eq!(c("web")["uptime"]["24h"].as_f64().unwrap(), 0.75);
    assert_eq!(
        (c("db")["uptime"]["24h"].as_f64().unwrap(), c("db")["uptime"]["maintenance_seconds"].as_i64().unwrap()),
        (1.0, 600)
    );
    assert!(c("api").get("uptime").is_none(), "fine in every run: no figures to show");
    let index = fs::read_to_string(bench.out.join("index.html")).unwrap();
    assert!(index.contains("Up 66.6 % (24 h) · 66.6 % (7 d) · 66.6 % (30 d) · 10 min maintenance"), "{index}");
    let page = fs::read_to_string(bench.out.join("prod.html")).unwrap();
    assert!(page.contains("Fine in 66.6 % of runs in 24 h"), "{page}");
    assert!(page.contains("<small>up 75.0 % of 30 d</small>"), "web's row: {page}");
    // Thirty days of five-minute runs stay a few segments: the history does not grow with runs.
    let history: Value =
        serde_json::from_str(&fs::read_to_string(bench.out.join("history/prod.json")).unwrap()).unwrap();
    let tracks = &history["hosts"]["app-1.prod.example.io"];
    assert!(tracks["api"].get("u").is_none(), "fine all along: no segments of its own: {tracks}");
    assert_eq!(tracks["web"]["u"].as_array().unwrap().len(), 3, "fine, down, fine: {tracks}");
}
