//! The hostile-input table of the README, row by row: each kind of bad input
//! and what envdash does with it. Runs the real binary unless a row needs to
//! step between two stages of a run.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Renders `input` into a new folder; returns (status.json, stderr, site folder).
fn render(input: &Path) -> (Value, String, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let assert = Command::cargo_bin("envdash")
        .unwrap()
        .env("ENVDASH_NOW", "2026-11-25T16:30:00Z")
        .env_remove("RUST_LOG")
        .args(["render", "--input"])
        .arg(input)
        .arg("--out")
        .arg(out.path())
        // A render that hangs fails the test instead of hanging the suite.
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let status = serde_json::from_str(&fs::read_to_string(out.path().join("status.json")).unwrap()).unwrap();
    (status, stderr, out)
}

fn env<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["environments"].as_array().unwrap().iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

fn names(e: &Value) -> Vec<String> {
    e["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["containers"].as_array().unwrap())
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

fn all_site_text(dir: &Path) -> String {
    let mut text = String::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().map(Result::unwrap).filter(|e| e.file_type().is_file()) {
        text.push_str(&String::from_utf8_lossy(&fs::read(entry.path()).unwrap()));
    }
    text
}

#[test]
fn the_whole_corpus_renders_each_file_once() {
    let (s, _, _) = render(&corpus());
    let files = fs::read_dir(corpus()).unwrap().count();
    let envs = s["environments"].as_array().unwrap();
    assert_eq!(envs.len(), files, "every corpus file is one environment");
    let mut pages: Vec<&str> = envs.iter().map(|e| e["page"].as_str().unwrap()).collect();
    pages.sort();
    pages.dedup();
    assert_eq!(pages.len(), files, "every page is its own");
}

#[test]
fn invalid_utf8_is_replaced_and_reported() {
    let (s, stderr, _) = render(&corpus());
    let e = env(&s, "invalid-utf8");
    assert_eq!(names(e), ["web\u{fffd}\u{fffd}", "\u{fffd}("]);
    assert!(stderr.contains("invalid-utf8.txt:2: invalid UTF-8 replaced with U+FFFD"), "{stderr}");
}

#[test]
fn nul_bytes_skip_a_line_and_a_binary_file_is_unknown() {
    let (s, _, _) = render(&corpus());
    let e = env(&s, "nul-bytes");
    assert_eq!(names(e), ["web"]);
    assert_eq!(e["warnings"][0], "nul-bytes.txt:3: line contains NUL bytes; skipped");
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("bin.txt"), [0u8; 4096]).unwrap();
    let (s, _, _) = render(dir.path());
    assert_eq!(env(&s, "bin")["status"], "unknown");
}

#[test]
fn a_10_mb_line_is_skipped_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = b"h1\n".to_vec();
    text.extend(std::iter::repeat_n(b'a', 10 << 20));
    text.extend(b",Up 1 day,x:1\nweb,Up 1 day,x:1\n");
    fs::write(dir.path().join("long.txt"), text).unwrap();
    let (s, _, out) = render(dir.path());
    let e = env(&s, "long");
    assert_eq!(names(e), ["web"]);
    assert_eq!(e["warnings"][0], "long.txt:2: line is 10485773 bytes long (limit 65536); skipped");
    assert!(fs::metadata(out.path().join("long.html")).unwrap().len() < 100_000);
}

#[test]
fn a_million_line_file_renders_with_its_warnings_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::with_capacity(7_000_000);
    text.push_str("h1\nweb,Up 1 day,x:1\n");
    for _ in 0..1_000_000 {
        text.push_str("x,y\n");
    }
    fs::write(dir.path().join("big.txt"), text).unwrap();
    let (s, _, _) = render(dir.path());
    let e = env(&s, "big");
    assert_eq!(e["counts"]["warnings"], 1_000_000);
    assert_eq!(e["warnings"].as_array().unwrap().len(), 100, "only the first ones are listed");
    assert_eq!(names(e), ["web"]);
}

#[test]
fn a_csv_file_of_many_blocks_keeps_every_multi_line_field_whole() {
    // Over 10 MB: read in 4 MB blocks cut after line breaks, which here fall
    // inside quoted fields as often as not. Each field must come out whole.
    let dir = tempfile::tempdir().unwrap();
    let log = |i: usize| format!("row {i} starts\n{}\nrow {i}, \"quoted\", ends", "x".repeat(i % 300));
    let mut text = String::from("host,name,image,state,status,logs\n");
    for i in 0..50_000 {
        text.push_str(&format!(
            "h{},c{i},img:1,exited,Exited (1) 1 hour ago,\"{}\"\n",
            i / 1000,
            log(i).replace('"', "\"\"")
        ));
    }
    assert!(text.len() > 10 << 20, "{} bytes", text.len());
    fs::write(dir.path().join("blocks.txt"), text).unwrap();
    let (s, _, _) = render(dir.path());
    let e = env(&s, "blocks");
    assert_eq!(e["warnings"].as_array().unwrap().len(), 0, "{}", e["warnings"]);
    let containers: Vec<&Value> =
        e["hosts"].as_array().unwrap().iter().flat_map(|h| h["containers"].as_array().unwrap()).collect();
    assert_eq!(containers.len(), 50_000);
    for (i, c) in containers.iter().enumerate() {
        assert_eq!(c["name"], format!("c{i}"));
        assert_eq!(c["logs"], log(i), "c{i}");
    }
}

#[test]
fn crlf_and_bom_are_read_as_plain_text() {
    let (s, _, _) = render(&corpus());
    let e = env(&s, "crlf-bom");
    assert_eq!(e["hosts"][0]["name"], "h1.example.io");
    assert_eq!(names(e), ["web"]);
    assert_eq!(e["warnings"].as_array().unwrap().len(), 0);
    assert_eq!(env(&s, "lonely-bom")["status"], "unknown");
}

#[test]
fn html_and_script_in_every_field_stay_text() {
    let (s, _, out) = render(&corpus());
    let e = env(&s, "html-everywhere");
    assert_eq!(names(e), ["<script>alert(1)</script>"]);
    let site = all_site_text(out.path());
    for raw in ["<script>alert", "<img src=x", "<svg onload", "<b>h</b>", "<i>", "<b>.txt"] {
        // JSON escapes nothing of this, so look only at the pages.
        for page in fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "html"))
        {
            let html = fs::read_to_string(&page).unwrap();
            assert!(!html.contains(raw), "{} contains {raw}", page.display());
        }
    }
    assert!(site.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
}

#[test]
fn dot_dot_and_control_characters_in_names_become_safe_page_names() {
    let (s, _, out) = render(&corpus());
    let e = env(&s, "control-\u{1}-name\u{7f}");
    assert_eq!(e["page"], "control-name.html");
    let e = env(&s, "weird ..name <b>");
    assert_eq!(e["page"], "weird-name-b.html");
    for entry in fs::read_dir(out.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{name:?}");
    }
}

#[test]
fn duplicate_hosts_are_merged_with_a_warning() {
    let (s, _, _) = render(&corpus());
    let e = env(&s, "duplicate-hosts");
    assert_eq!(e["hosts"].as_array().unwrap().len(), 2);
    assert_eq!(names(e), ["a", "c", "b"]);
    assert_eq!(
        e["warnings"][0],
        "duplicate-hosts.txt:5: host h1.example.io already listed on line 1; containers merged"
    );
}

#[test]
fn duplicate_environment_names_in_nested_folders_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    for (f, status) in [("a/prod.txt", "Up 1 day"), ("b/prod.txt", "Exited (1) 1 hour ago"), ("prod.txt", "Up 2 days")]
    {
        fs::create_dir_all(dir.path().join(f).parent().unwrap()).unwrap();
        fs::write(dir.path().join(f), format!("h\nweb,{status},x:1\n")).unwrap();
    }
    let (s, _, _) = render(dir.path());
    let mut got: Vec<(String, String)> = s["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e["page"].as_str().unwrap().to_owned()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("a/prod".into(), "a-prod.html".into()),
            ("b/prod".into(), "b-prod.html".into()),
            ("prod".into(), "prod.html".into())
        ]
    );
}

#[test]
fn a_symlink_loop_is_reported_and_the_rest_renders() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("ok.txt"), "h\nweb,Up 1 day,x:1\n").unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/loop")).unwrap();
    let (s, stderr, _) = render(dir.path());
    assert!(stderr.contains("sub/loop: symlink loop, not followed"), "{stderr}");
    assert_eq!(s["environments"].as_array().unwrap().len(), 1);
}

#[test]
fn a_file_that_disappears_mid_run_is_unknown() {
    // Between listing the folder and reading the file: the two stages, called as a run does.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("gone.txt"), "h\nweb,Up 1 day,x:1\n").unwrap();
    let (files, _) = envdash::discover::discover(dir.path()).unwrap();
    fs::remove_file(dir.path().join("gone.txt")).unwrap();
    let env = envdash::site::load_environment(&files[0], "gone.html");
    assert_eq!(env.status, envdash::model::EnvStatus::Unknown);
    assert!(env.error.unwrap().starts_with("cannot read"));
}

#[test]
fn pipes_sockets_devices_and_folders_named_txt_are_unknown_and_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("ok.txt"), "h\nweb,Up 1 day,x:1\n").unwrap();
    // A pipe nobody writes to: a plain read would wait for a writer forever.
    let fifo = std::ffi::CString::new(root.join("pipe.txt").into_os_string().into_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let _socket = std::os::unix::net::UnixListener::bind(root.join("socket.txt")).unwrap();
    // A device that never ends.
    std::os::unix::fs::symlink("/dev/zero", root.join("zero.txt")).unwrap();
    fs::create_dir(root.join("folder.txt")).unwrap();
    fs::write(root.join("folder.txt/inside.txt"), "h\nweb,Up 1 day,x:1\n").unwrap();
    let (s, stderr, _) = render(root);
    for (name, what) in [
        ("pipe", "a FIFO (named pipe)"),
        ("socket", "a socket"),
        ("zero", "a character device"),
        ("folder", "a folder"),
    ] {
        let e = env(&s, name);
        assert_eq!(e["status"], "unknown", "{name}");
        let error = e["error"].as_str().unwrap();
        assert!(error.contains(&format!("it is {what}, not a regular file")), "{name}: {error}");
        assert!(stderr.contains(&format!("{name}.txt: cannot read")), "{name} on stderr: {stderr}");
    }
    for name in ["ok", "inside"] {
        assert_eq!(env(&s, name)["status"], "ok", "{name} renders beside them");
    }
}

#[test]
fn a_file_that_grows_while_it_is_read_gives_whole_rows() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growing.txt");
    let row = |i: usize| format!("svc_{i:07},Up 3 weeks,registry.example.io/svc:1.0.{i}\n");
    let mut file = fs::File::create(&path).unwrap();
    file.write_all(b"h.example.io\n").unwrap();
    let first = 50_000;
    for i in 0..first {
        file.write_all(row(i).as_bytes()).unwrap();
    }
    // Appending goes on while envdash reads, each row in two writes, so the file
    // often ends in the middle of a row.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = first;
            while !stop.load(Ordering::Relaxed) {
                let text = row(i);
                let (a, b) = text.split_at(text.len() / 2);
                file.write_all(a.as_bytes()).unwrap();
                file.write_all(b.as_bytes()).unwrap();
                i += 1;
            }
            i
        })
    };
    let (s, _, _) = render(dir.path());
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    let e = env(&s, "growing");
    assert_eq!(e["status"], "ok", "{e:#}");
    let containers = e["hosts"][0]["containers"].as_array().unwrap();
    assert!(containers.len() >= first && containers.len() <= written, "{} rows of {written}", containers.len());
    // Every row shown is a row as written: none cut short at the end.
    for (i, c) in containers.iter().enumerate() {
        assert_eq!(c["name"], format!("svc_{i:07}"));
        assert_eq!(c["version"], format!("1.0.{i}"), "row {i} is whole");
    }
    for w in e["warnings"].as_array().unwrap() {
        assert!(w.as_str().unwrap().contains("changed while it was read"), "{w}");
    }
}

#[test]
fn odd_status_texts_are_unknown_not_crashes() {
    let (s, _, _) = render(&corpus());
    let e = env(&s, "status-oddities");
    let states: Vec<&str> =
        e["hosts"][0]["containers"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["running", "exited", "restarting", "exited", "paused", "unknown", "unknown"]);
    let d = &e["hosts"][0]["containers"][3];
    assert_eq!(d["exit_code"], Value::Null, "an exit code that does not fit is not invented");
}
