//! `envdash render` end to end: the real binary on folders of files.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const NOW: &str = "2026-11-25T16:30:00Z";

fn envdash() -> Command {
    let mut cmd = Command::cargo_bin("envdash").unwrap();
    cmd.env("ENVDASH_NOW", NOW).env_remove("RUST_LOG").env_remove("ENVDASH_BUCKET");
    cmd
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

fn status(out: &Path) -> Value {
    serde_json::from_str(&read(out.join("status.json"))).unwrap()
}

fn env<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["environments"].as_array().unwrap().iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

/// The files under `root`, relative to it, sorted.
fn site_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(root).unwrap().to_path_buf())
        .collect();
    files.sort();
    files
}

/// Writes `files` (name, content) into a new input folder.
fn input(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    dir
}

fn render(input: &Path, out: &Path) -> assert_cmd::assert::Assert {
    envdash().args(["render", "--input"]).arg(input).arg("--out").arg(out).assert()
}

/// `envdash render --input IN --out OUT --templates DIR`, to add arguments to and run.
fn render_with_templates(input: &Path, out: &Path, templates: &Path) -> Command {
    let mut cmd = envdash();
    cmd.args(["render", "--input"]).arg(input).arg("--out").arg(out).arg("--templates").arg(templates);
    cmd
}

#[test]
fn fixtures_render_every_environment() {
    let out = tempfile::tempdir().unwrap();
    let site = out.path().join("site");
    let assert = render(&fixtures(), &site).success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("rendered 10 environments"), "{stdout}");
    assert!(stdout.contains(&format!("open {}", site.join("index.html").display())), "{stdout}");

    let s = status(&site);
    assert_eq!(s["generated_at"], NOW);
    let names: Vec<&str> = s["environments"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["demo-int", "dev", "integration", "perf", "preint", "prod", "qa", "sandbox", "training", "uat"]);
    for e in s["environments"].as_array().unwrap() {
        let page = e["page"].as_str().unwrap();
        assert!(site.join(page).is_file(), "{page}");
        assert_eq!(e["source"], format!("{}.txt", e["name"].as_str().unwrap()));
        for key in ["hosts", "containers", "problems"] {
            assert!(e["counts"][key].is_u64(), "{key}");
        }
        for h in e["hosts"].as_array().unwrap() {
            for c in h["containers"].as_array().unwrap() {
                for key in ["name", "image", "version", "status", "state", "health", "exit_code", "problem"] {
                    assert!(c.get(key).is_some(), "container lacks {key}: {c}");
                }
            }
        }
    }
    assert_eq!(env(&s, "prod")["status"], "ok");
    assert_eq!(env(&s, "prod")["layout"], "csv");
    assert_eq!(env(&s, "preint")["layout"], "legacy");
    assert_eq!(env(&s, "demo-int")["status"], "problem");
    assert_eq!(env(&s, "qa")["status"], "problem", "an unreachable host is a problem");
    assert_eq!(env(&s, "qa")["counts"]["unreachable"], 1);

    // The exited logspout of demo-int, as the engine said.
    let demo = env(&s, "demo-int");
    let app2 =
        demo["hosts"].as_array().unwrap().iter().find(|h| h["name"] == "app-2.demo-int.cwds.example.io").unwrap();
    let logspout = app2["containers"].as_array().unwrap().iter().find(|c| c["name"] == "logspout").unwrap();
    assert_eq!(logspout["state"], "exited");
    assert_eq!(logspout["exit_code"], 137);
    assert_eq!(logspout["problem"], true);
    assert_eq!(logspout["image"], "gliderlabs/logspout");
    assert_eq!(logspout["version"], "v3.2.6");

    let index = read(site.join("index.html"));
    assert!(index.contains("LAST UPDATED"));
    assert!(index.contains("2026-11-25 16:30 UTC"));
    // The script reloads the page (a sandboxed page refuses <meta http-equiv=refresh>)
    // and shows the line that says so; without script the page claims nothing.
    assert!(!index.contains("http-equiv"));
    assert!(index.contains(r#"data-refresh="300""#));
    assert!(index.contains(r#"<span id="reloads" hidden> · this page reloads every 5 min</span>"#));
    assert!(index.contains("2 of 21 containers not running"));
    // Problem environments come before OK ones.
    assert!(index.find("demo-int.html").unwrap() < index.find("prod.html").unwrap());
    assert!(index.find("qa.html").unwrap() < index.find("preint.html").unwrap());
    // Self-contained: nothing loaded from elsewhere.
    for page in
        fs::read_dir(&site).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "html"))
    {
        let html = read(&page);
        for bad in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import", "url(http"] {
            assert!(!html.contains(bad), "{} has {bad}", page.display());
        }
    }
}

/// The values of `attr="…"` in `html`.
fn attributes<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let open = format!(" {attr}=\"");
    html.match_indices(&open)
        .map(|(at, _)| {
            let value = &html[at + open.len()..];
            &value[..value.find('"').unwrap()]
        })
        .collect()
}

#[test]
fn pages_are_csp_safe_and_load_only_their_own_assets() {
    // What Jenkins serves archived files under: `sandbox; default-src 'none';
    // img-src 'self'; style-src 'self';`. The browser suite checks the pages under
    // that header; this checks the files, for every page the fixtures make.
    let out = tempfile::tempdir().unwrap();
    let site = out.path().join("site");
    envdash()
        .args(["render", "--input"])
        .arg(fixtures())
        .arg("--config")
        .arg(fixtures().join("envdash.toml"))
        .arg("--out")
        .arg(&site)
        .assert()
        .success();
    let mut pages = 0;
    for entry in walkdir::WalkDir::new(&site).into_iter().map(Result::unwrap) {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "html") {
            continue;
        }
        pages += 1;
        // Every page is at the top of the site, so `assets/…` is the right relative path.
        assert_eq!(path.parent().unwrap(), site, "{} is in a subfolder", path.display());
        let html = read(path);
        for inline in
            ["<style", " style=", "=\"data:", "url(data:", "http-equiv", " onload=", " onclick=", "javascript:"]
        {
            assert!(!html.contains(inline), "{} has {inline}", path.display());
        }
        // Scripts only from a file of the site, and only envdash's.
        assert_eq!(html.matches("<script").count(), 1, "{}", path.display());
        let scripts = attributes(&html, "src");
        assert_eq!(scripts.len(), 1, "{}: {scripts:?}", path.display());
        let stylesheet = html.find(r#"<link rel="stylesheet" href="assets/envdash.css?v="#);
        assert!(stylesheet.is_some(), "{}", path.display());
        assert!(html.contains(r#"<link rel="icon" type="image/svg+xml" href="assets/favicon.svg?v="#));
        for reference in scripts.into_iter().chain(attributes(&html, "href")).filter(|r| r.starts_with("assets/")) {
            let file = reference.split('?').next().unwrap();
            assert!(site.join(file).is_file(), "{} refers to {reference}, which is not there", path.display());
        }
    }
    assert!(pages >= 13, "{pages} pages");
    let css = read(site.join("assets/envdash.css"));
    for class in ["page-index", "page-env", "page-versions", "page-incidents"] {
        assert!(css.contains(&format!(".{class} ")), "the stylesheet has no rules for .{class}");
    }
    assert!(read(site.join("assets/favicon.svg")).starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(read(site.join("assets/envdash.js")).contains("getElementById(\"filter\")"));
    // The assets are envdash's files: in its manifest, so publish and the next run
    // know them.
    let manifest = read(site.join(".envdash-manifest"));
    for asset in ["assets/envdash.css", "assets/envdash.js", "assets/favicon.svg"] {
        assert!(manifest.lines().any(|l| l == asset), "{asset} not in the manifest:\n{manifest}");
    }
}

#[test]
fn assets_can_be_overridden_and_pages_ask_for_the_new_ones() {
    let dir = input(&[("a.txt", b"h\nweb,Up 1 second,x:1\n")]);
    let out = tempfile::tempdir().unwrap();
    fs::create_dir_all(out.path().join("assets")).unwrap();
    fs::write(out.path().join("assets/logo.png"), "someone's logo").unwrap();
    render(dir.path(), out.path()).success();
    let version = |page: &str| {
        let html = read(out.path().join(page));
        let at = html.find("assets/envdash.css?v=").unwrap() + "assets/envdash.css?v=".len();
        html[at..at + 8].to_owned()
    };
    let builtin = version("a.html");
    assert!(builtin.bytes().all(|b| b.is_ascii_hexdigit()), "{builtin}");
    assert_eq!(version("index.html"), builtin);

    // Rendering again changes nothing, and someone's file in assets/ stays,
    // without a word about envdash's own files there.
    let again = render(dir.path(), out.path()).success();
    let stderr = String::from_utf8_lossy(&again.get_output().stderr).into_owned();
    assert!(!stderr.contains("not envdash's"), "{stderr}");
    assert_eq!(version("a.html"), builtin);
    assert_eq!(read(out.path().join("assets/logo.png")), "someone's logo");

    let templates = input(&[("assets/envdash.css", b"body{color:rebeccapurple}")]);
    render_with_templates(dir.path(), out.path(), templates.path()).assert().success();
    assert_eq!(read(out.path().join("assets/envdash.css")), "body{color:rebeccapurple}");
    assert!(read(out.path().join("assets/envdash.js")).contains("location.reload"), "the others stay built in");
    assert_ne!(version("a.html"), builtin, "a changed stylesheet has a new address");
    assert_eq!(read(out.path().join("assets/logo.png")), "someone's logo");
}

#[test]
fn environment_page_shows_hosts_states_and_unreadable_lines() {
    let out = tempfile::tempdir().unwrap();
    let assert = render(&fixtures(), out.path()).success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("demo-int.txt:5: expected NAME,STATUS,IMAGE, found 2 fields"), "{stderr}");
    let page = read(out.path().join("demo-int.html"));
    assert!(page.contains("demo-int.txt:5: expected NAME,STATUS,IMAGE, found 2 fields"));
    assert!(page.contains("2 lines could not be read"));
    assert!(page.contains("Source: <code>demo-int.txt</code>"));
    // State in words, not colour alone; exit code explained.
    assert!(page.contains("✖ exited"));
    assert!(page.contains("✔ running"));
    assert!(page.contains(r#"title="exit code 137: killed (SIGKILL), often out of memory""#));
    // The host with a problem is listed before healthy hosts.
    assert!(page.find("app-2.demo-int").unwrap() < page.find("app-1.demo-int").unwrap());
    let qa = read(out.path().join("qa.html"));
    assert!(qa.contains("UNREACHABLE"));
    assert!(qa.contains("Connection timed out"));
}

#[test]
fn problems_say_why_and_show_their_last_log_lines_escaped() {
    let header = "host,name,image,state,status,restart_count,exit_code,oom_killed,started_at,finished_at,restart_policy,health_output,logs\n";
    let rows = "h1,job,x:1,exited,Exited (3) 5 minutes ago,0,3,false,2026-11-25T16:20:00Z,2026-11-25T16:24:00Z,no,,\"starting\n<script>alert(1)</script> & done\"\n\
                h1,hog,x:1,exited,Exited (137) 1 minute ago,0,137,true,2026-11-25T16:28:00Z,2026-11-25T16:29:00Z,no,,\n\
                h1,web,x:1,running,Up 2 hours,0,,false,2026-11-25T14:30:00Z,,always,,\n";
    let dir = input(&[("demo.txt", format!("{header}{rows}").as_bytes())]);
    let out = tempfile::tempdir().unwrap();
    render(dir.path(), out.path()).success();
    let s = status(out.path());
    let containers = env(&s, "demo")["hosts"][0]["containers"].as_array().unwrap().clone();
    let [job, hog, web] = &containers[..] else { panic!("{containers:?}") };
    assert_eq!(job["reason"], "exited 3 at 16:24 UTC after 4 min up");
    assert_eq!(job["logs"], "starting\n<script>alert(1)</script> & done");
    assert_eq!(
        (&hog["reason"], &hog["oom_killed"]),
        (&"killed: out of memory at 16:29 UTC after 1 min up".into(), &true.into())
    );
    assert!(web.get("reason").is_none() && web.get("logs").is_none(), "{web}");
    assert_eq!(web["restart_policy"], "always");

    let page = read(out.path().join("demo.html"));
    assert!(page.contains("exited 3 at 16:24 UTC after 4 min up"), "the reason in words");
    assert!(page.contains("✖ out of memory"), "an OOM kill says so where the state is");
    // The log tail: collapsed, escaped, and only for the container it belongs to.
    let details = page.split("<details>").nth(1).expect("a log block").split("</details>").next().unwrap();
    assert!(details.contains("<summary>Last log lines of job</summary>"), "{details}");
    assert!(
        details.contains("<pre>starting\n&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; done</pre>"),
        "{details}"
    );
    assert!(!page.contains("<script>alert"), "log text never reaches the page as markup");
    assert_eq!(page.matches("<details>").count(), 1, "only containers with logs get a block");
}

#[test]
fn hostile_names_are_escaped_and_slugged() {
    let dir = input(&[
        ("a b<i>.txt", b"h1.example.io\n<script>alert(1)</script>,Up 1 second,x:1\n"),
        ("ctl\u{1}\u{7f}.txt", b"h\nweb,Up 1 second,x:1\n"),
    ]);
    let out = tempfile::tempdir().unwrap();
    render(dir.path(), out.path()).success();
    let s = status(out.path());
    let e = env(&s, "a b<i>");
    assert_eq!(e["page"], "a-b-i.html");
    let page = read(out.path().join("a-b-i.html"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    assert!(!page.contains("<script>alert"));
    let index = read(out.path().join("index.html"));
    assert!(index.contains("a b&lt;i&gt;"));
    assert!(!index.contains("<i>"));
    assert_eq!(env(&s, "ctl\u{1}\u{7f}")["page"], "ctl.html");
}

#[test]
fn one_broken_file_never_stops_the_others() {
    let dir = input(&[
        ("empty.txt", b""),
        ("binary.txt", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0\x01\0\0\0"),
        ("latin1.txt", &[0xe9u8, 0xe8, 0xe0, 0xff, 0xfe, 0x80, 0x81, 0x82, 0x83, 0x84]),
        ("good.txt", b"h1.example.io\nweb,Up 3 weeks,nginx:1.25\n"),
        ("crlf.txt", b"\xEF\xBB\xBFh1.example.io\r\n\r\nweb,Up 3 weeks,nginx:1.25,,\r\nbad line here\r\n"),
    ]);
    let out = tempfile::tempdir().unwrap();
    let assert = render(dir.path(), out.path()).success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let s = status(out.path());
    for (name, why) in [("empty", "empty"), ("binary", "binary"), ("latin1", "")] {
        let e = env(&s, name);
        assert_eq!(e["status"], "unknown", "{name}");
        assert!(e["error"].as_str().unwrap().contains(why), "{name}: {}", e["error"]);
        assert!(stderr.contains(&format!("{name}.txt")), "{stderr}");
        assert!(read(out.path().join(format!("{name}.html"))).contains("could not be used"));
    }
    assert_eq!(env(&s, "good")["status"], "ok");
    assert_eq!(env(&s, "crlf")["status"], "ok");
    assert_eq!(env(&s, "crlf")["counts"]["containers"], 1);
    assert_eq!(env(&s, "crlf")["warnings"][0], "crlf.txt:4: expected a host name or NAME,STATUS,IMAGE; skipped");
    assert_eq!(s["totals"]["unknown"], 3);
    assert!(stderr.contains("latin1.txt: no host or container could be read"), "{stderr}");
    let index = read(out.path().join("index.html"));
    assert!(index.contains("UNKNOWN"));
}

#[test]
fn a_file_that_cannot_be_read_is_unknown_not_missing() {
    let dir = input(&[("good.txt", b"h\nweb,Up 1 second,x:1\n")]);
    std::os::unix::fs::symlink(dir.path().join("moved-away"), dir.path().join("gone.txt")).unwrap();
    let out = tempfile::tempdir().unwrap();
    render(dir.path(), out.path()).success();
    let s = status(out.path());
    let gone = env(&s, "gone");
    assert_eq!(gone["status"], "unknown");
    assert!(gone["error"].as_str().unwrap().starts_with("cannot read"), "{gone}");
    assert_eq!(env(&s, "good")["status"], "ok");
}

#[test]
fn rendering_is_identical_whatever_the_thread_count() {
    let one = tempfile::tempdir().unwrap();
    let four = tempfile::tempdir().unwrap();
    envdash().args(["-j", "1", "render", "--input"]).arg(fixtures()).arg("--out").arg(one.path()).assert().success();
    envdash().args(["-j", "4", "render", "--input"]).arg(fixtures()).arg("--out").arg(four.path()).assert().success();
    let names = site_files(one.path());
    assert_eq!(names, site_files(four.path()));
    assert!(names.len() >= 22, "{names:?}");
    for name in names {
        assert_eq!(fs::read(one.path().join(&name)).unwrap(), fs::read(four.path().join(&name)).unwrap(), "{name:?}");
    }
}

/// One huge environment (read while its history is, its outputs made on two
/// threads) among more small ones than the render takes at once (its workers
/// render the next while the last are written): the same site on one thread
/// and on four, run after run, and what the history carries comes through.
#[test]
fn a_huge_environment_among_many_renders_the_same_on_any_thread_count() {
    // 100 hosts of 1000 containers: over 4 MB and over 50 000 containers.
    let huge = |run: u32| {
        let mut text = String::with_capacity(6_000_000);
        for h in 0..100 {
            text.push_str(&format!("h{h:03}.huge.example.io\n"));
            if run == 2 && h == 0 {
                text.push_str("Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n");
                continue;
            }
            for c in 0..1000 {
                let status = match (run, h, c) {
                    (2, 1, 7) => "Exited (1) 1 minute ago",
                    (2, 2, 3) => "Up 30 seconds",
                    _ => "Up 2 hours",
                };
                text.push_str(&format!("c{c:04},{status},registry.example.io/svc{}:1.{}\n", c % 50, c % 7));
            }
        }
        text
    };
    let small = |i: usize, run: u32| {
        let web = if run == 2 && i.is_multiple_of(5) { "Exited (137) 1 minute ago" } else { "Up 3 hours" };
        format!("app-1.e{i:02}.example.io\nweb,{web},web:1.{i}\ndb,Up 3 hours,postgres:16\n")
    };
    let [one, four] = [(); 2].map(|_| tempfile::tempdir().unwrap());
    let inputs = [1, 2].map(|run| {
        let mut files: Vec<(String, Vec<u8>)> = vec![("huge.txt".into(), huge(run).into_bytes())];
        files.extend((0..40).map(|i| (format!("e{i:02}.txt"), small(i, run).into_bytes())));
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        input(&refs)
    });
    for (run, now) in [(0, "2026-11-25T16:30:00Z"), (1, "2026-11-25T16:35:00Z")] {
        for (threads, out) in [("1", &one), ("4", &four)] {
            envdash()
                .env("ENVDASH_NOW", now)
                .args(["-q", "-j", threads, "render", "--input"])
                .arg(inputs[run].path())
                .arg("--out")
                .arg(out.path())
                .assert()
                .success();
        }
        if run == 0 {
            fs::copy(one.path().join("history/huge.json"), inputs[0].path().join("first-history.json")).unwrap();
        }
    }
    let names = site_files(one.path());
    assert_eq!(names, site_files(four.path()));
    assert!(names.len() >= 2 * 41, "{names:?}");
    for name in names {
        assert_eq!(fs::read(one.path().join(&name)).unwrap(), fs::read(four.path().join(&name)).unwrap(), "{name:?}");
    }
    let s = status(one.path());
    let names: Vec<&str> = s["environments"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!((names.len(), &names), (41, &sorted), "every environment once, in name order");
    let e = env(&s, "huge");
    assert_eq!(e["counts"]["containers"], 99_000);
    let container = |host: usize, name: &str| {
        let h = &e["hosts"].as_array().unwrap()[host];
        h["containers"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap().clone()
    };
    assert_eq!(container(1, "c0007")["problem"], true);
    assert_eq!(container(1, "c0007")["since"], "2026-11-25T16:33:30Z", "stopped 1 to 2 minutes ago");
    assert_eq!(container(1, "c0006")["problem"], false);
    assert_eq!(container(2, "c0003")["restarts"], 1, "its uptime went backwards since the last run");
    assert!(container(2, "c0004").get("restarts").is_none());
    assert_eq!(env(&s, "e05")["status"], "problem");
    // A host not heard from keeps what its history knew, untouched.
    let history = |p: PathBuf| -> Value { serde_json::from_str(&read(p)).unwrap() };
    let (before, after) =
        (history(inputs[0].path().join("first-history.json")), history(one.path().join("history/huge.json")));
    let h000 = &after["hosts"]["h000.huge.example.io"];
    assert_eq!(h000.as_object().map(|m| m.len()), Some(1000));
    assert_eq!(h000, &before["hosts"]["h000.huge.example.io"]);
    assert_ne!(after["hosts"]["h002.huge.example.io"], before["hosts"]["h002.huge.example.io"]);
}

#[test]
fn with_history_off_the_history_file_keeps_only_the_alerts_and_reads_them_back() {
    let dir = input(&[("qa.txt", b"h1\nweb,Exited (1) 2 minutes ago,x:1\n")]);
    let config = tempfile::tempdir().unwrap();
    let config = config.path().join("envdash.toml");
    fs::write(&config, "history_runs = 0\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = |now: &str| {
        envdash()
            .env("ENVDASH_NOW", now)
            .args(["render", "--input"])
            .arg(dir.path())
            .arg("--config")
            .arg(&config)
            .arg("--out")
            .arg(out.path())
            .assert()
            .success();
        serde_json::from_str::<Value>(&read(out.path().join("history/qa.json"))).unwrap()
    };
    let first = run(NOW);
    assert_eq!((&first["hosts"], &first["runs"]), (&serde_json::json!({}), &serde_json::json!([])), "{first}");
    let incidents = first["alerts"]["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{first}");
    // Five minutes later the same problem is the same incident: the file was read back.
    let again = run("2026-11-25T16:35:00Z");
    assert_eq!(again["alerts"]["incidents"], first["alerts"]["incidents"]);
}

#[test]
fn override_template_is_used() {
    let templates = input(&[(
        "index.html",
        b"{% extends \"base.html\" %}{% block body %}CUSTOM {{ environments|length }} {{ title }}{% endblock %}",
    )]);
    let out = tempfile::tempdir().unwrap();
    render_with_templates(&fixtures(), out.path(), templates.path())
        .args(["--title", "Ops <board>"])
        .assert()
        .success();
    let index = read(out.path().join("index.html"));
    assert!(index.contains("CUSTOM 10 Ops &lt;board&gt;"), "{index}");
    // Templates not overridden stay built in.
    assert!(read(out.path().join("prod.html")).contains("app-1.prod.cwds.example.io"));
}

#[test]
fn broken_override_template_fails_before_writing_anything() {
    let templates = input(&[("env.html", b"{% for %}")]);
    let out = tempfile::tempdir().unwrap();
    let site = out.path().join("site");
    let assert = render_with_templates(&fixtures(), &site, templates.path()).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.starts_with("error: the template "), "{stderr}");
    assert!(stderr.contains(&templates.path().join("env.html").display().to_string()), "{stderr}");
    assert!(!site.exists(), "nothing written");
}

#[test]
fn missing_input_and_unwritable_output_exit_2_with_the_path() {
    let out = tempfile::tempdir().unwrap();
    let missing = out.path().join("no-such-folder");
    let assert = render(&missing, &out.path().join("site")).code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!out.path().join("site").exists());

    let file = out.path().join("a-file");
    fs::write(&file, "x").unwrap();
    let assert = render(&fixtures(), &file.join("site")).code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("cannot create the output folder"), "{stderr}");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
}

#[test]
fn pages_of_removed_environments_are_cleaned_up_but_foreign_files_stay() {
    let dir = input(&[("a.txt", b"h\nweb,Up 1 second,x:1\n"), ("b.txt", b"h\nweb,Up 1 second,x:1\n")]);
    let out = tempfile::tempdir().unwrap();
    fs::write(out.path().join("robots.txt"), "keep me").unwrap();
    render(dir.path(), out.path()).success();
    assert!(out.path().join("b.html").exists());
    fs::remove_file(dir.path().join("b.txt")).unwrap();
    render(dir.path(), out.path()).success();
    assert!(!out.path().join("b.html").exists());
    assert!(out.path().join("a.html").exists());
    assert_eq!(read(out.path().join("robots.txt")), "keep me");
    let leftovers: Vec<_> = fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn nested_folders_and_clashing_names() {
    let dir = input(&[
        ("east/prod.txt", b"h\nweb,Up 1 second,x:1\n"),
        ("west/prod.txt", b"h\nweb,Exited (1) 1 hour ago,x:1\n"),
    ]);
    let out = tempfile::tempdir().unwrap();
    render(dir.path(), out.path()).success();
    let s = status(out.path());
    assert_eq!(env(&s, "east/prod")["status"], "ok");
    assert_eq!(env(&s, "west/prod")["status"], "problem");
    assert_eq!(env(&s, "east/prod")["page"], "east-prod.html");
}

#[test]
fn quiet_hides_warnings_and_refresh_is_configurable() {
    let out = tempfile::tempdir().unwrap();
    let assert = envdash()
        .args(["-q", "render", "--refresh", "0", "--input"])
        .arg(fixtures())
        .arg("--out")
        .arg(out.path())
        .assert()
        .success();
    assert!(assert.get_output().stderr.is_empty());
    assert!(assert.get_output().stdout.is_empty());
    let index = read(out.path().join("index.html"));
    assert!(index.contains(r#"data-refresh="0""#));
    assert!(!index.contains("reloads every"));
}

#[test]
fn help_and_version() {
    let help = envdash().arg("--help").assert().success();
    let text = String::from_utf8_lossy(&help.get_output().stdout).into_owned();
    for word in ["render", "publish", "run", "Exit codes", "RUST_LOG"] {
        assert!(text.contains(word), "--help lacks {word}");
    }
    let version = envdash().arg("--version").assert().success();
    assert!(String::from_utf8_lossy(&version.get_output().stdout).contains(env!("CARGO_PKG_VERSION")));
}
