//! Crash safety and overlapping runs: the output folder always holds a whole
//! site, the previous one or the new one, whatever happens to a run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const OLD: &str = "2026-11-25T16:30:00Z";
const NEW: &str = "2026-11-25T16:35:00Z";

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_envdash"))
}

/// `envs` environment files in which every container has `status`.
fn fleet(dir: &Path, envs: usize, status: &str) {
    fs::create_dir_all(dir).unwrap();
    for e in 0..envs {
        let mut text = String::new();
        for h in 0..8 {
            text.push_str(&format!("host-{h}.env-{e:03}.example.io\n"));
            for c in 0..30 {
                text.push_str(&format!("svc_{c:02},{status},registry.example.io/svc_{c:02}:1.{c}.0\n"));
            }
        }
        fs::write(dir.join(format!("env-{e:03}.txt")), text).unwrap();
    }
}

fn render(input: &Path, out: &Path, now: &str) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env("ENVDASH_NOW", now)
        .env_remove("RUST_LOG")
        .args(["-j", "1", "run", "--input"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Checks that `out` holds one whole site and says which run made it.
fn whole_site(out: &Path) -> &'static str {
    let status: Value = serde_json::from_str(&fs::read_to_string(out.join("status.json")).unwrap()).unwrap();
    let (run, word) = match status["generated_at"].as_str().unwrap() {
        OLD => ("old", "✔ OK"),
        NEW => ("new", "✖ PROBLEM"),
        other => panic!("a site from no run: {other}"),
    };
    let index = fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains(&format!(r#"<time datetime="{}">"#, status["generated_at"].as_str().unwrap())));
    let envs = status["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 40, "every environment is in the site");
    for env in envs {
        let page = fs::read_to_string(out.join(env["page"].as_str().unwrap())).unwrap();
        assert!(page.contains(word), "{} does not belong to the {run} site", env["page"]);
        assert_eq!(env["status"], if run == "old" { "ok" } else { "problem" });
    }
    let manifest = fs::read_to_string(out.join(".envdash-manifest")).unwrap();
    for file in manifest.lines() {
        assert!(out.join(file).is_file(), "{file} is listed but missing");
    }
    run
}

#[test]
fn a_killed_render_leaves_the_previous_or_the_new_site_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (old_in, new_in, out) = (dir.path().join("old"), dir.path().join("new"), dir.path().join("site"));
    fleet(&old_in, 40, "Up 3 weeks");
    fleet(&new_in, 40, "Exited (1) 2 minutes ago");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("robots.txt"), "not envdash's").unwrap();

    // How long a whole run takes here, to spread the kills over it.
    let start = Instant::now();
    assert!(render(&new_in, &dir.path().join("probe"), NEW).status().unwrap().success());
    let full = start.elapsed();

    let mut outcomes = Vec::new();
    for round in 0..12u32 {
        assert!(render(&old_in, &out, OLD).status().unwrap().success());
        assert_eq!(whole_site(&out), "old");
        let mut child = render(&new_in, &out, NEW).spawn().unwrap();
        // Deterministic spread from the very start to past the end of a run.
        std::thread::sleep(full * (round * 11 % 13) / 10);
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        outcomes.push(whole_site(&out));
        assert_eq!(fs::read_to_string(out.join("robots.txt")).unwrap(), "not envdash's");
    }
    assert!(outcomes.contains(&"old"), "no kill landed before the swap: {outcomes:?}");
    // A run after a killed one cleans up what the killed one left.
    assert!(render(&new_in, &out, NEW).status().unwrap().success());
    assert_eq!(whole_site(&out), "new");
    let leftovers: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("envdash-") && !n.ends_with("envdash-build") && !n.ends_with("envdash-lock"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn overlapping_runs_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let (old_in, new_in, out) = (dir.path().join("old"), dir.path().join("new"), dir.path().join("site"));
    fleet(&old_in, 40, "Up 3 weeks");
    fleet(&new_in, 40, "Exited (1) 2 minutes ago");
    // The first run holds the site, and stays in the middle of its build until the
    // test lets it go: one of its input files is a named pipe, which it blocks
    // reading until the test writes to it. A fast run can then not finish before
    // the second one starts.
    let gate = old_in.join("zz-gate.txt");
    assert!(Command::new("mkfifo").arg(&gate).status().unwrap().success());
    let mut first = render(&old_in, &out, OLD).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.path().join(".site.envdash-build").exists() {
        assert!(Instant::now() < deadline, "the first run never started building");
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut second = render(&new_in, &out, NEW).spawn().unwrap();
    let (lines, said) = std::sync::mpsc::channel();
    let stderr = second.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let line = line.unwrap();
            let _ = lines.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let waiting = std::iter::from_fn(|| said.recv_timeout(Duration::from_secs(30)).ok())
        .any(|line| line.contains("another envdash run is writing"));
    // Let the first run go. The pipe is opened without blocking, and again until
    // the first run is reading it, so that a first run that died fails the test
    // instead of hanging it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut writer = loop {
        use std::os::unix::fs::OpenOptionsExt;
        match fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&gate) {
            Ok(w) => break w,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                assert!(first.try_wait().unwrap().is_none(), "the first run ended before reading its input");
                assert!(Instant::now() < deadline, "the first run never read its input");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("cannot open {}: {e}", gate.display()),
        }
    };
    std::io::Write::write_all(&mut writer, b"host-0.gate.example.io\nsvc,Up 3 weeks,img:1\n").unwrap();
    drop(writer);
    let first = first.wait_with_output().unwrap();
    let second_status = second.wait().unwrap();
    let waited = reader.join().unwrap();
    assert!(first.status.success() && second_status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(waiting, "the second run did not wait for the first: {waited}");
    // The second ran after the first, on the first one's site: the new site is whole.
    assert_eq!(whole_site(&out), "new");
}
