//! Property tests: the parsers never panic on any input (our bounded stand-in for
//! a fuzzer, run in CI; interesting inputs it found live in tests/corpus), and
//! for any generated fleet the site tells the truth, whatever the thread count.

use std::fs;
use std::path::Path;

use envdash::config::RenderConfig;
use envdash::parse::{MAX_LISTED_WARNINGS, parse_file};
use envdash::settings::Settings;
use envdash::status::{State, parse_status};
use proptest::prelude::*;
use serde_json::Value;

/// Pieces that make the parsers' branches meet: layouts, separators, quotes,
/// line ends, BOMs, statuses, invalid bytes.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b",".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"host,name,image,state,status,gathered_at\n".to_vec()),
        Just(b"app-1.demo.example.io\n".to_vec()),
        Just(b"web,Up 3 weeks (healthy),nginx:1.25\n".to_vec()),
        Just(b"Exited (137) 2 hours ago".to_vec()),
        Just(b"Restarting (1) 5 seconds ago".to_vec()),
        Just(b"unreachable".to_vec()),
        Just(b"docker-unavailable".to_vec()),
        Just(b"Cannot connect to the Docker daemon".to_vec()),
        Just(b"2026-11-25T16:30:00Z".to_vec()),
        Just(b"(".to_vec()),
        Just(b")".to_vec()),
        Just(vec![0]),
        Just(vec![0xff, 0xfe]),
        proptest::collection::vec(any::<u8>(), 0..12),
        "[a-z0-9 .:/_-]{0,12}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_give_a_result_or_a_warning(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_parse(&bytes);
    }

    #[test]
    fn structured_noise_gives_a_result_or_a_warning(parts in proptest::collection::vec(token(), 0..60)) {
        check_parse(&parts.concat());
    }

    #[test]
    fn any_status_text_gives_a_state(text in "\\PC{0,40}", prefix in prop_oneof![Just(""), Just("Up "), Just("Exited ("), Just("Restarting (")]) {
        let raw = format!("{prefix}{text}");
        let parsed = parse_status(&raw);
        if parsed.exit_code.is_some() {
            prop_assert!(matches!(parsed.state, State::Exited | State::Restarting), "{raw:?} → {parsed:?}");
        }
        if parsed.state == State::Running || parsed.state == State::Paused {
            prop_assert!(raw.trim().to_ascii_lowercase().starts_with("up"), "{raw:?} → {parsed:?}");
        }
    }
}

fn check_parse(bytes: &[u8]) {
    let parsed = parse_file(bytes);
    assert!(parsed.warnings.len() <= MAX_LISTED_WARNINGS);
    assert!(parsed.warning_count >= parsed.warnings.len());
    assert!(parsed.error.is_some() || !parsed.hosts.is_empty(), "nothing read, yet no error");
    for (line, _) in &parsed.warnings {
        assert!(*line <= bytes.iter().filter(|&&b| b == b'\n').count() + 1, "warning on a line that is not there");
    }
}

/// One generated container: its status, and whether it must count as a problem.
const STATUSES: [(&str, bool); 9] = [
    ("Up 3 weeks", false),
    ("Up 41 minutes (healthy)", false),
    ("Up 5 seconds (health: starting)", false),
    ("Up 2 hours (unhealthy)", true),
    ("Up 6 days (Paused)", true),
    ("Exited (0) 10 minutes ago", true),
    ("Exited (137) 3 hours ago", true),
    ("Created", true),
    ("Dead", true),
];

/// A fleet: environments of hosts of containers (indexes into STATUSES).
fn fleet() -> impl Strategy<Value = Vec<Vec<Vec<usize>>>> {
    let host = proptest::collection::vec(0..STATUSES.len(), 0..6);
    let env = proptest::collection::vec(host, 1..4);
    proptest::collection::vec(env, 1..6)
}

fn write_fleet(dir: &Path, fleet: &[Vec<Vec<usize>>]) {
    for (e, hosts) in fleet.iter().enumerate() {
        let mut text = String::new();
        let csv = e % 2 == 1;
        if csv {
            text.push_str("host,name,status,image\n");
        }
        for (h, containers) in hosts.iter().enumerate() {
            if !csv {
                text.push_str(&format!("host-{h}.env-{e}.example.io\n"));
            } else if containers.is_empty() {
                text.push_str(&format!("host-{h}.env-{e}.example.io,,,\n"));
            }
            for (c, &status) in containers.iter().enumerate() {
                let row = format!("svc-{c},{},registry.example.io/svc-{c}:1.{c}", STATUSES[status].0);
                if csv {
                    text.push_str(&format!("host-{h}.env-{e}.example.io,{row}\n"));
                } else {
                    text.push_str(&format!("{row}\n"));
                }
            }
        }
        fs::write(dir.join(format!("env-{e}.txt")), text).unwrap();
    }
}

fn render_with_threads(input: &Path, out: &Path, threads: usize) -> Value {
    let cfg = RenderConfig {
        input: input.to_path_buf(),
        out: out.to_path_buf(),
        templates: None,
        title: "props".into(),
        refresh_seconds: 300,
        now: "2026-11-25T16:30:00Z".parse().unwrap(),
        settings: Settings { stale_after: Some("off".into()), ..Settings::default() },
        junit: None,
        prometheus: None,
        badges: false,
        notify: envdash::alert::NotifyMode::Queue,
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| envdash::site::render_site(&cfg)).unwrap();
    serde_json::from_str(&fs::read_to_string(out.join("status.json")).unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_fleet_is_told_truly_and_the_same_on_any_thread_count(fleet in fleet()) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        fs::create_dir_all(&input).unwrap();
        write_fleet(&input, &fleet);
        let one = render_with_threads(&input, &dir.path().join("one"), 1);
        let three = render_with_threads(&input, &dir.path().join("three"), 3);

        let envs = one["environments"].as_array().unwrap();
        prop_assert_eq!(envs.len(), fleet.len(), "every environment exactly once");
        for (e, hosts) in fleet.iter().enumerate() {
            let name = format!("env-{e}");
            let found: Vec<&Value> = envs.iter().filter(|x| x["name"] == name.as_str()).collect();
            prop_assert_eq!(found.len(), 1);
            let expected_problems = hosts.iter().flatten().filter(|&&s| STATUSES[s].1).count();
            let expected_containers = hosts.iter().map(Vec::len).sum::<usize>();
            prop_assert_eq!(found[0]["counts"]["problems"].as_u64().unwrap() as usize, expected_problems);
            prop_assert_eq!(found[0]["counts"]["containers"].as_u64().unwrap() as usize, expected_containers);
            prop_assert_eq!(found[0]["status"].as_str().unwrap(), if expected_problems > 0 { "problem" } else { "ok" });
        }
        for entry in walkdir::WalkDir::new(dir.path().join("one")).into_iter().map(Result::unwrap).filter(|e| e.file_type().is_file()) {
            let rel = entry.path().strip_prefix(dir.path().join("one")).unwrap();
            prop_assert_eq!(fs::read(entry.path()).unwrap(), fs::read(dir.path().join("three").join(rel)).unwrap(), "{:?} differs", rel);
        }
        prop_assert_eq!(one, three);
    }
}
