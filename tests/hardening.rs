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

/// Holds the lock of the output folder `out` the way a run does, naming `pid`.
fn hold_lock(out: &Path) -> fs::File {
    let path = out.parent().unwrap().join(format!(".{}.envdash-lock", out.file_name().unwrap().to_string_lossy()));
    let mut file = fs::File::options().create(true).truncate(true).write(true).open(path).unwrap();
    file.try_lock().expect("nothing else holds the lock in this test");
    std::io::Write::write_all(&mut file, format!("{}\n", std::process::id()).as_bytes()).unwrap();
    file
}

/// Lines of a child's stderr, as they come, until it closes.
fn lines_of(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let (lines, said) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    said
}

#[test]
fn overlapping_runs_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let (old_in, new_in, out) = (dir.path().join("old"), dir.path().join("new"), dir.path().join("site"));
    fleet(&old_in, 40, "Up 3 weeks");
    fleet(&new_in, 40, "Exited (1) 2 minutes ago");
    assert!(render(&old_in, &out, OLD).status().unwrap().success());
    // A run in the middle of its build holds the lock beside the output folder; the
    // test holds it the same way, for as long as it likes, so that nothing here
    // depends on how fast a run is.
    let held = hold_lock(&out);
    let mut second = render(&new_in, &out, NEW).spawn().unwrap();
    let said = lines_of(&mut second);
    let waiting = std::iter::from_fn(|| said.recv_timeout(Duration::from_secs(30)).ok())
        .find(|line| line.contains("another envdash run is writing"));
    assert!(waiting.is_some(), "the second run did not say it waits");
    assert!(second.try_wait().unwrap().is_none(), "the second run went on while the first held the site");
    assert_eq!(whole_site(&out), "old", "nothing was written while the first run held the site");
    drop(held);
    let status = second.wait().unwrap();
    let rest: Vec<String> = said.iter().collect();
    assert!(status.success(), "{rest:?}");
    // The second ran after the first, on the first one's site: the new site is whole.
    assert_eq!(whole_site(&out), "new");
}

#[test]
fn a_run_never_waits_forever_for_a_stuck_one() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("in"), dir.path().join("site"));
    fleet(&input, 40, "Up 3 weeks");
    assert!(render(&input, &out, OLD).status().unwrap().success());
    let _held = hold_lock(&out);
    let started = Instant::now();
    let run = render(&input, &out, NEW).env("ENVDASH_LOCK_WAIT", "1.5").output().unwrap();
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    let line = err.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(line.contains(&format!("envdash (pid {})", std::process::id())), "names the holder: {line}");
    assert!(line.contains("ENVDASH_LOCK_WAIT"), "says what to change: {line}");
    // The time it says it waited is the time it waited: at least the limit, and no
    // more than the whole run took.
    let said: f64 = line.split("for all the ").nth(1).and_then(|r| r.split(' ').next()).unwrap().parse().unwrap();
    assert!(said >= 1.5 && said <= took.as_secs_f64() + 0.05, "said {said} s, took {took:?}: {line}");
    assert_eq!(whole_site(&out), "old", "the stuck run's site is left alone");
}
