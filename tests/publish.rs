//! `envdash publish` and `envdash run` against a real S3 server (s3s-fs over HTTP on
//! 127.0.0.1, see `support/s3.rs`), running the real binary.

mod support;

use std::path::Path;
use std::time::Duration;

use assert_cmd::assert::Assert;
use support::s3::S3Server;

const BUCKET: &str = "dash-bucket";

/// The files of a small site; hidden files are what a render leaves beside them.
const SITE: &[(&str, &str)] = &[
    ("index.html", "<!doctype html><title>all</title><a href=app-1.html>app-1</a>"),
    ("app-1.html", "<!doctype html><title>app-1</title>ok"),
    ("app-2.html", "<!doctype html><title>app-2</title>problem"),
    ("status.json", "{\"environments\":[]}\n"),
    ("badges/app-1.json", "{\"status\":\"ok\"}\n"),
    (".envdash-manifest", "app-1.html\napp-2.html\n"),
    (".envdash-Xyz123.tmp", "half a page"),
];

/// The keys of `SITE` under `prefix/`, sorted.
fn site_keys(prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> =
        SITE.iter().filter(|(rel, _)| !rel.starts_with('.')).map(|(rel, _)| format!("{prefix}/{rel}")).collect();
    keys.sort();
    keys
}

fn write_site(root: &Path, files: &[(&str, &str)]) {
    for (rel, body) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

fn new_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_site(dir.path(), SITE);
    dir
}

/// `envdash publish` of `site` to the test server's `BUCKET`, with `extra` flags.
fn publish(server: &S3Server, site: &Path, extra: &[&str]) -> Assert {
    let endpoint = server.endpoint();
    server
        .envdash()
        .args(["publish", "--site"])
        .arg(site)
        .args(["--bucket", BUCKET, "--endpoint-url", &endpoint, "--path-style"])
        .args(extra)
        .assert()
}

fn stdout(assert: &Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

fn stderr(assert: &Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

fn server_with_bucket() -> S3Server {
    let server = S3Server::start();
    server.create_bucket(BUCKET);
    server.clear_requests();
    server
}

#[test]
fn first_publish_uploads_every_file_and_a_second_uploads_none() {
    let server = server_with_bucket();
    let site = new_site();

    let first = publish(&server, site.path(), &["--prefix", "dash"]).success();
    assert!(stdout(&first).contains("uploaded 5, unchanged 0, deleted 0 in "), "{}", stdout(&first));
    assert_eq!(server.keys(BUCKET), site_keys("dash"), "hidden files stay home");
    assert_eq!(server.get(BUCKET, "dash/app-2.html"), b"<!doctype html><title>app-2</title>problem");
    assert_eq!(server.keys_sent("PUT", BUCKET).len(), 5);

    server.clear_requests();
    let second = publish(&server, site.path(), &["--prefix", "dash"]).success();
    assert!(stdout(&second).contains("uploaded 0, unchanged 5, deleted 0 in "), "{}", stdout(&second));
    assert_eq!(server.keys_sent("PUT", BUCKET), Vec::<String>::new(), "an unchanged site makes no PUT");
}

#[test]
fn changing_one_page_uploads_only_that_page() {
    let server = server_with_bucket();
    let site = new_site();
    // No prefix: keys are the relative paths, without a leading slash.
    publish(&server, site.path(), &[]).success();
    assert!(server.keys(BUCKET).contains(&"badges/app-1.json".to_owned()));

    server.clear_requests();
    write_site(site.path(), &[("app-2.html", "<!doctype html><title>app-2</title>ok now")]);
    let again = publish(&server, site.path(), &[]).success();
    assert!(stdout(&again).contains("uploaded 1, unchanged 4, deleted 0"), "{}", stdout(&again));
    assert_eq!(server.keys_sent("PUT", BUCKET), ["app-2.html"]);
    assert_eq!(server.get(BUCKET, "app-2.html"), b"<!doctype html><title>app-2</title>ok now");
}

#[test]
fn delete_removes_stale_objects_and_leaves_everything_outside_the_prefix() {
    let server = S3Server::start();
    server.create_bucket(BUCKET);
    let outside = ["dashboard/keep.html", "dash.html", "other/dash/keep.html"];
    for key in ["dash/old.html"].iter().chain(&outside) {
        server.put(BUCKET, key, "old");
    }
    let site = new_site();

    let kept = publish(&server, site.path(), &["--prefix", "dash"]).success();
    assert!(stdout(&kept).contains("deleted 0"));
    assert!(server.head(BUCKET, "dash/old.html").is_some(), "without --delete nothing is removed");

    server.clear_requests();
    let deleted = publish(&server, site.path(), &["--prefix", "dash/", "--delete"]).success();
    assert!(stdout(&deleted).contains("uploaded 0, unchanged 5, deleted 1"), "{}", stdout(&deleted));
    assert_eq!(server.keys_sent("DELETE", BUCKET), ["dash/old.html"]);
    let mut expected = site_keys("dash");
    expected.extend(outside.iter().map(|k| (*k).to_owned()));
    expected.sort();
    assert_eq!(server.keys(BUCKET), expected);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let server = S3Server::start();
    server.create_bucket(BUCKET);
    server.put(BUCKET, "dash/old.html", "old");
    server.put(BUCKET, "dash/app-1.html", "an older app-1 page");
    server.clear_requests();
    let site = new_site();

    let dry = publish(&server, site.path(), &["--prefix", "dash", "--delete", "--dry-run"]).success();
    let out = stdout(&dry);
    for line in ["upload dash/app-1.html (changed)", "upload dash/app-2.html (new)", "delete dash/old.html"] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    assert!(out.contains("dry run: would upload 5, unchanged 0, would delete 1"), "{out}");
    let changing: Vec<_> =
        server.requests().into_iter().filter(|r| !["GET", "HEAD"].contains(&r.method.as_str())).collect();
    assert_eq!(changing, [], "a dry run only reads");
    assert_eq!(server.keys(BUCKET), ["dash/app-1.html", "dash/old.html"]);
    assert_eq!(server.get(BUCKET, "dash/app-1.html"), b"an older app-1 page");
}

#[test]
fn objects_carry_content_type_and_cache_control() {
    let server = server_with_bucket();
    let site = new_site();
    write_site(site.path(), &[("style.css", "body{}"), ("logo.png", "\u{89}PNG")]);
    publish(&server, site.path(), &["--prefix", "dash"]).success();

    let short = Some("max-age=60, must-revalidate");
    for (key, content_type, cache_control) in [
        ("dash/index.html", "text/html; charset=utf-8", short),
        ("dash/app-1.html", "text/html; charset=utf-8", short),
        ("dash/status.json", "application/json; charset=utf-8", short),
        ("dash/badges/app-1.json", "application/json; charset=utf-8", short),
        ("dash/style.css", "text/css; charset=utf-8", None),
        ("dash/logo.png", "image/png", None),
    ] {
        let head = server.head(BUCKET, key).unwrap_or_else(|| panic!("{key} was not uploaded"));
        assert_eq!(head.content_type(), Some(content_type), "{key}");
        assert_eq!(head.cache_control(), cache_control, "{key}");
        assert_eq!(head.content_encoding(), None, "{key}: stored as sent, not aws-chunked");
    }

    // A configured Cache-Control, and the checksum setting for picky S3-compatible servers.
    publish(
        &server,
        site.path(),
        &["--prefix", "other", "--cache-control", "no-cache", "--checksums", "when-required"],
    )
    .success();
    let head = server.head(BUCKET, "other/status.json").unwrap();
    assert_eq!(head.cache_control(), Some("no-cache"));
    assert_eq!(head.content_type(), Some("application/json; charset=utf-8"));
}

#[test]
fn index_pages_are_uploaded_last() {
    let server = server_with_bucket();
    let site = new_site();
    let pages: Vec<(String, String)> =
        (0..40).map(|i| (format!("env-{i:02}.html"), format!("<p>environment {i}</p>"))).collect();
    let pages: Vec<(&str, &str)> = pages.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    write_site(site.path(), &pages);
    write_site(site.path(), &[("team/index.html", "<p>team</p>"), ("zzz.html", "<p>last by name</p>")]);

    publish(&server, site.path(), &["--prefix", "dash", "--concurrency", "8"]).success();
    let puts = server.keys_sent("PUT", BUCKET);
    assert_eq!(puts.len(), 5 + 40 + 2);
    assert_eq!(&puts[puts.len() - 2..], ["dash/team/index.html", "dash/index.html"], "{puts:?}");
    assert!(!puts[..puts.len() - 2].iter().any(|k| k.ends_with("index.html")));

    // A change to the master page and one environment: the environment goes first.
    server.clear_requests();
    write_site(site.path(), &[("index.html", "<p>new master</p>"), ("zzz.html", "<p>changed</p>")]);
    publish(&server, site.path(), &["--prefix", "dash"]).success();
    assert_eq!(server.keys_sent("PUT", BUCKET), ["dash/zzz.html", "dash/index.html"]);
}

#[test]
fn server_stopped_mid_publish_fails_deletes_nothing_and_a_rerun_finishes() {
    let mut server = S3Server::start();
    server.create_bucket(BUCKET);
    server.put(BUCKET, "dash/old.html", "stale");
    let site = new_site();
    let pages: Vec<(String, String)> = (0..40).map(|i| (format!("env-{i:02}.html"), format!("<p>{i}</p>"))).collect();
    let pages: Vec<(&str, &str)> = pages.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    write_site(site.path(), &pages);
    let total = 5 + 40;

    // The in-process server closes its listener and drops every open connection on
    // the 7th object PUT: to the client that is the server process dying mid-sync.
    server.stop_after_puts(6);
    let failed = publish(&server, site.path(), &["--prefix", "dash", "--delete", "--concurrency", "3"]).code(2);
    let err = stderr(&failed);
    assert!(server.stops_within(Duration::from_secs(5)), "the fault stopped the server");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(&format!("cannot reach {}", server.endpoint())), "{err}");
    assert!(err.contains("nothing deleted"), "{err}");
    assert!(err.contains("dash/env-"), "names a failed object: {err}");

    server.restart();
    let stored = server.keys(BUCKET);
    assert!(stored.contains(&"dash/old.html".to_owned()), "no delete after a failed upload");
    assert!(!stored.contains(&"dash/index.html".to_owned()), "the master page waits for all others");
    let stored_pages = stored.len() - 1;
    // With 3 in flight, the 7th PUT is sent only after 4 were answered (and stored).
    assert!((4..total).contains(&stored_pages), "{stored:?}");

    let rerun = publish(&server, site.path(), &["--prefix", "dash", "--delete"]).success();
    let expected = format!("uploaded {}, unchanged {stored_pages}, deleted 1 in ", total - stored_pages);
    assert!(stdout(&rerun).contains(&expected), "{} vs {expected}", stdout(&rerun));
    assert_eq!(server.keys(BUCKET).len(), total);
    assert!(server.head(BUCKET, "dash/old.html").is_none());

    let third = publish(&server, site.path(), &["--prefix", "dash", "--delete"]).success();
    assert!(stdout(&third).contains(&format!("uploaded 0, unchanged {total}, deleted 0")));
}

#[test]
fn wrong_bucket_gives_one_clear_line() {
    let server = server_with_bucket();
    let site = new_site();
    let endpoint = server.endpoint();
    let out = server
        .envdash()
        .args(["publish", "--site"])
        .arg(site.path())
        .args(["--bucket", "no-such-bucket", "--endpoint-url", &endpoint, "--path-style"])
        .assert()
        .code(2);
    assert_eq!(
        stderr(&out),
        format!("error: bucket no-such-bucket does not exist at {endpoint}: check --bucket / ENVDASH_BUCKET\n")
    );
    assert_eq!(server.keys_sent("PUT", "no-such-bucket"), Vec::<String>::new());
}

#[test]
fn wrong_credentials_and_unreachable_endpoints_say_what_to_check() {
    let server = server_with_bucket();
    let site = new_site();
    let bad_keys = server
        .envdash()
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .args(["publish", "--site"])
        .arg(site.path())
        .args(["--bucket", BUCKET, "--endpoint-url", &server.endpoint(), "--path-style"])
        .assert()
        .code(2);
    let err = stderr(&bad_keys);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("rejected the AWS credentials (SignatureDoesNotMatch)"), "{err}");
    assert!(err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");

    // Nothing listens on port 1 of the loopback.
    let unreachable = server
        .envdash()
        .args(["publish", "--site"])
        .arg(site.path())
        .args(["--bucket", BUCKET, "--endpoint-url", "http://127.0.0.1:1", "--path-style"])
        .assert()
        .code(2);
    let err = stderr(&unreachable);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: cannot reach http://127.0.0.1:1 ("), "{err}");
    assert!(err.contains("check --endpoint-url"), "{err}");
}

#[test]
fn an_endpoint_that_never_answers_is_given_up_on_saying_how_long_was_waited() {
    // Accepts every connection and never says a word: a hung server or a proxy
    // that swallows requests.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let site = new_site();
    let started = std::time::Instant::now();
    let out = assert_cmd::Command::cargo_bin("envdash")
        .unwrap()
        .env_remove("RUST_LOG")
        .envs([("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s"), ("AWS_REGION", "us-east-1")])
        .envs([("AWS_EC2_METADATA_DISABLED", "true"), ("AWS_MAX_ATTEMPTS", "2")])
        .env("AWS_CONFIG_FILE", site.path().join("none"))
        .args(["publish", "--site"])
        .arg(site.path())
        .args(["--bucket", BUCKET, "--endpoint-url", &endpoint, "--path-style", "--timeout", "1"])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2);
    let took = started.elapsed().as_secs_f64();
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    let prefix = format!("error: no answer from {endpoint} after ");
    assert!(err.starts_with(&prefix), "{err}");
    assert!(err.contains(" s (2 attempts of up to 1 s each): check --endpoint-url"), "{err}");
    // The time it gives is the time it waited: both attempts, and no more than the
    // run (give or take the rounding of its one decimal).
    let said: f64 = err[prefix.len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(said >= 2.0 && said <= took + 0.05, "said {said} s, the run took {took:.2} s: {err}");
}

#[test]
fn aws_endpoint_url_is_honoured_like_the_aws_cli() {
    let server = server_with_bucket();
    let site = new_site();
    server
        .envdash()
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .args(["publish", "--site"])
        .arg(site.path())
        .args(["--bucket", BUCKET, "--path-style"])
        .assert()
        .success();
    assert_eq!(server.keys(BUCKET).len(), 5);
}

#[test]
fn a_missing_site_folder_is_reported_before_any_request() {
    let server = server_with_bucket();
    let dir = tempfile::tempdir().unwrap();
    let out = publish(&server, &dir.path().join("site"), &[]).code(2);
    assert!(stderr(&out).contains("render it first"), "{}", stderr(&out));
    assert_eq!(server.requests(), []);
}

fn legacy_input() -> tempfile::TempDir {
    let input = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("demo.txt"), "app-1.demo.example.io\nweb,Up 3 weeks,nginx:1.25\n").unwrap();
    input
}

#[test]
fn run_without_a_bucket_renders_only() {
    let server = server_with_bucket();
    let input = legacy_input();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    // An endpoint in the environment catches any request that should not be made.
    let run = server
        .envdash()
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .args(["run", "--input"])
        .arg(input.path())
        .arg("--out")
        .arg(&out_dir)
        .assert()
        .success();
    let out = stdout(&run);
    assert!(out.contains("no bucket given"), "{out}");
    assert!(out.contains(&out_dir.display().to_string()), "{out}");
    assert!(out_dir.join("index.html").is_file() && out_dir.join("status.json").is_file());
    assert_eq!(server.requests(), [], "rendering only makes no request");

    // Without --out it renders into site/ of the working folder.
    let default = server.envdash().current_dir(work.path()).args(["run", "--input"]).arg(input.path()).assert();
    assert!(stdout(&default.success()).contains("no bucket given"));
    assert!(work.path().join("site/index.html").is_file());
}

#[test]
fn run_with_a_bucket_renders_then_publishes() {
    let server = server_with_bucket();
    let input = legacy_input();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let run = server
        .envdash()
        .env("ENVDASH_BUCKET", BUCKET)
        .args(["run", "--input"])
        .arg(input.path())
        .arg("--out")
        .arg(&out_dir)
        .args(["--prefix", "dash", "--endpoint-url", &server.endpoint(), "--path-style"])
        .assert()
        .success();
    let out = stdout(&run);
    let keys = server.keys(BUCKET);
    assert!(keys.contains(&"dash/index.html".to_owned()) && keys.contains(&"dash/status.json".to_owned()), "{keys:?}");
    assert!(keys.iter().all(|k| !k.contains("/.")), "no hidden files: {keys:?}");
    assert!(out.contains(&format!("uploaded {}, unchanged 0, deleted 0", keys.len())), "{out}");
    assert_eq!(server.keys_sent("PUT", BUCKET).last().map(String::as_str), Some("dash/index.html"));
}

/// The keys of the files pages load, as a render writes them.
const ASSETS: [&str; 3] = ["dash/assets/envdash.css", "dash/assets/envdash.js", "dash/assets/favicon.svg"];

/// A site as `envdash render` makes it, in `work/site`.
fn rendered_site(server: &S3Server, work: &Path) -> std::path::PathBuf {
    let input = legacy_input();
    let site = work.join("site");
    server.envdash().args(["-q", "render", "--input"]).arg(input.path()).arg("--out").arg(&site).assert().success();
    site
}

#[test]
fn assets_are_uploaded_before_any_page() {
    let server = server_with_bucket();
    let work = tempfile::tempdir().unwrap();
    let site = rendered_site(&server, work.path());

    publish(&server, &site, &["--prefix", "dash", "--concurrency", "8"]).success();
    let puts = server.keys_sent("PUT", BUCKET);
    // The three go up together; only when all of them are stored does a page follow.
    let mut first = puts[..3].to_vec();
    first.sort();
    assert_eq!(first, ASSETS, "{puts:?}");
    assert!(puts[3..].iter().any(|k| k.ends_with(".html")), "{puts:?}");
    assert!(puts[3..].iter().all(|k| !k.starts_with("dash/assets/")), "{puts:?}");
    assert_eq!(puts.last().map(String::as_str), Some("dash/index.html"));
    assert_eq!(server.head(BUCKET, ASSETS[0]).unwrap().content_type(), Some("text/css; charset=utf-8"));
    assert_eq!(server.head(BUCKET, ASSETS[2]).unwrap().content_type(), Some("image/svg+xml; charset=utf-8"));

    // A new stylesheet and a changed page: the stylesheet goes first.
    server.clear_requests();
    let css = site.join("assets/envdash.css");
    std::fs::write(&css, std::fs::read_to_string(&css).unwrap() + "\n/* changed */\n").unwrap();
    std::fs::write(site.join("demo.html"), "<!doctype html><title>demo</title>changed").unwrap();
    publish(&server, &site, &["--prefix", "dash"]).success();
    assert_eq!(server.keys_sent("PUT", BUCKET), [ASSETS[0], "dash/demo.html"]);
}

#[test]
fn a_publish_that_fails_among_the_assets_uploads_no_page() {
    let mut server = server_with_bucket();
    let work = tempfile::tempdir().unwrap();
    let site = rendered_site(&server, work.path());

    // The server goes away on the second PUT, while the assets are going up.
    server.stop_after_puts(1);
    let failed = publish(&server, &site, &["--prefix", "dash", "--concurrency", "3"]).code(2);
    assert!(server.stops_within(Duration::from_secs(5)), "the fault stopped the server");
    assert!(stderr(&failed).contains("not attempted"), "{}", stderr(&failed));
    server.restart();
    let stored = server.keys(BUCKET);
    assert!(stored.iter().all(|k| ASSETS.contains(&k.as_str())), "a page went up before its assets: {stored:?}");

    server.clear_requests();
    publish(&server, &site, &["--prefix", "dash"]).success();
    let puts = server.keys_sent("PUT", BUCKET);
    let assets_left = ASSETS.len() - stored.len();
    assert!(puts[..assets_left].iter().all(|k| ASSETS.contains(&k.as_str())), "{puts:?}");
    assert!(puts[assets_left..].iter().all(|k| !ASSETS.contains(&k.as_str())), "{puts:?}");
    assert!(server.keys(BUCKET).contains(&"dash/index.html".to_owned()));
}
