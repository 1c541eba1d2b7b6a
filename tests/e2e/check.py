#!/usr/bin/env python3
"""Assertions of the end-to-end test (tests/e2e/run.sh), on what its runs left in WORK.

Compares what envdash published (local site, the S3 bucket) with what the Docker
engines say about their containers (`docker inspect`, in WORK/truth). Each check
is a group of assertions; the last line is `N passed, M failed`.

    python3 tests/e2e/check.py WORK
"""

import csv
import json
import os
import re
import sys
import traceback
from pathlib import Path

import boto3

WORK = Path(sys.argv[1])
PREFIX = "dash/"
ALPHA, BETA = "e2e-alpha", "e2e_beta"
UNREACHABLE = "perry-1.alpha.e2e.test"
NO_DOCKER = "es-1.beta.e2e.test"
EMPTY = "rundeck-1.beta.e2e.test"
# Hosts with containers and the names the test started there.
EXPECTED = {
    (ALPHA, "app-1.alpha.e2e.test"): {"web", "job_fail", "migrate", "sick"},
    (ALPHA, "api-1.alpha.e2e.test"): {"crashloop", "never_started", "api", "frozen"},
    (BETA, "app-1.beta.e2e.test"): {"web", "worker", "warming"},
    (BETA, EMPTY): set(),
}
# The states the test set up, as the engine must report them: name -> (state, health, exit code).
SETUP = {
    "web": ("running", "none", None),
    "job_fail": ("exited", "none", 3),
    "migrate": ("exited", "none", 0),
    "sick": ("running", "unhealthy", None),
    "crashloop": ("restarting", "none", 1),
    "never_started": ("created", "none", None),
    "api": ("running", "healthy", None),
    "frozen": ("paused", "none", None),
    "worker": ("exited", "none", 2),
    "warming": ("running", "starting", None),
}
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def load(path):
    return json.loads(Path(path).read_text())


def truth():
    """(env, host) -> {name: (state, health, exit_code)} from `docker inspect`."""
    out = {}
    for (env, host) in EXPECTED:
        seen = {}
        for c in load(WORK / "truth" / f"{host}.json"):
            st = c["State"]
            health = (st.get("Health") or {}).get("Status", "none")
            exit_code = st["ExitCode"] if st["Status"] in ("exited", "restarting") else None
            seen[c["Name"].lstrip("/")] = (st["Status"], health, exit_code)
        out[(env, host)] = seen
    return out


def site_hosts(status):
    """(env, host) -> host entry of a status.json."""
    return {(e["name"], h["name"]): h for e in status["environments"] for h in e["hosts"]}


# The test's envdash.toml allows these containers to exit with code 0.
ALLOW_EXIT_ZERO = {"migrate"}


def is_problem(name, state, health, exit_code):
    if state == "exited" and exit_code == 0 and name in ALLOW_EXIT_ZERO:
        return False
    return state != "running" or health == "unhealthy"


STATUS = {}  # the published status.json, loaded by main()
TRUTH = {}  # (env, host) -> {name: (state, health, exit code)}, from the engines


@check
def engines_report_the_states_set_up():
    for key, names in EXPECTED.items():
        got = TRUTH[key]
        assert set(got) == names, f"{key}: engine lists {sorted(got)}, expected {sorted(names)}"
        for name, fact in got.items():
            assert fact == SETUP[name], f"{key[1]} {name}: engine says {fact}, test set up {SETUP[name]}"


@check
def playbook_run_succeeded_and_reported_the_upload():
    log = (WORK / "run1.log").read_text()
    recap = dict(re.findall(r"^(\S+)\s+: (ok=.*)$", log, re.M))
    assert recap, "no PLAY RECAP in run1.log"
    for host, line in recap.items():
        assert "failed=0" in line, f"{host} failed: {line}"
    assert "unreachable=0" in recap[UNREACHABLE] and "ignored=1" in recap[UNREACHABLE], recap[UNREACHABLE]
    assert "changed=1" in recap["localhost"], f"the publish should report changed: {recap['localhost']}"
    m = re.search(r"uploaded (\d+), unchanged (\d+), deleted (\d+)", log)
    assert m and int(m.group(1)) > 0, f"envdash uploaded nothing: {m and m.group(0)}"


@check
def environment_files_are_csv_with_one_row_per_container():
    envs = WORK / "envs"
    files = sorted(p.name for p in envs.iterdir())
    assert files == [f"{ALPHA}.txt", f"{BETA}.txt"], f"input folder holds {files}"
    assert not (WORK / "envs.new").exists() and not (WORK / "envs.old").exists(), "swap folders left behind"
    for env in (ALPHA, BETA):
        with open(envs / f"{env}.txt", newline="") as f:
            rows = list(csv.reader(f, strict=True))
        header = rows[0]
        assert header[:6] == ["host", "name", "image", "state", "status", "error"], header
        assert all(len(r) == len(header) for r in rows), f"{env}: rows of uneven width"
        rows = [dict(zip(header, r)) for r in rows[1:]]
        for r in rows:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["gathered_at"]), f"{env}: gathered_at {r}"
        for (e, host), names in EXPECTED.items():
            if e != env:
                continue
            listed = {r["name"] for r in rows if r["host"] == host and r["name"]}
            assert listed == names, f"{env}/{host}: file lists {sorted(listed)}"
        if env == ALPHA:
            fail = next(r for r in rows if r["name"] == "job_fail")
            # Docker prints the command in quotes, escaping the inner ones as \": all must survive.
            assert fail["command"].startswith('"sh -c \'echo \\"a,b\\"'), f"command field mangled: {fail['command']!r}"
        if env == BETA:
            assert any(r["host"] == EMPTY and r["name"] == "" and r["state"] == "" for r in rows), "no row for the empty host"


@check
def every_container_is_published_with_the_engine_state():
    hosts = site_hosts(STATUS)
    for key, facts in TRUTH.items():
        assert key in hosts, f"{key} missing from status.json"
        shown = {c["name"]: c for c in hosts[key]["containers"]}
        assert set(shown) == set(facts), f"{key}: shown {sorted(shown)}, engine {sorted(facts)}"
        assert hosts[key]["reach"] == "ok", f"{key}: reach {hosts[key]['reach']}"
        for name, (state, health, exit_code) in facts.items():
            c = shown[name]
            assert c["state"] == state, f"{key[1]} {name}: shown {c['state']}, engine {state}"
            assert c["health"] == health, f"{key[1]} {name}: health {c['health']}, engine {health}"
            if state == "exited":
                assert c["exit_code"] == exit_code, f"{name}: exit code {c['exit_code']}, engine {exit_code}"
            assert c["image"] == "localhost/e2e-busybox" and c["version"] == "1.0", (name, c["image"], c["version"])


@check
def the_right_containers_are_problems():
    hosts = site_hosts(STATUS)
    problems = set()
    for key, facts in TRUTH.items():
        for c in hosts[key]["containers"]:
            state, health, exit_code = facts[c["name"]]
            want = is_problem(c["name"], state, health, exit_code)
            assert c["problem"] == want, f"{key[1]} {c['name']}: problem={c['problem']}, expected {want}"
            if c["problem"]:
                problems.add((key[1], c["name"]))
    assert problems == {
        ("app-1.alpha.e2e.test", "job_fail"),
        ("app-1.alpha.e2e.test", "sick"),
        ("api-1.alpha.e2e.test", "crashloop"),
        ("api-1.alpha.e2e.test", "never_started"),
        ("api-1.alpha.e2e.test", "frozen"),
        ("app-1.beta.e2e.test", "worker"),
    }, sorted(problems)


@check
def unreachable_and_docker_less_hosts_are_shown():
    hosts = site_hosts(STATUS)
    h = hosts.get((ALPHA, UNREACHABLE))
    assert h, f"{UNREACHABLE} missing"
    assert h["reach"] == "unreachable" and h["containers"] == [], h
    assert "ssh" in h.get("detail", "").lower(), f"no reason given: {h}"
    h = hosts.get((BETA, NO_DOCKER))
    assert h, f"{NO_DOCKER} missing"
    assert h["reach"] == "docker_unavailable", h
    assert "Cannot connect to the Docker daemon" in h.get("detail", ""), h
    h = hosts.get((BETA, EMPTY))
    assert h and h["reach"] == "ok" and h["containers"] == [], h


@check
def both_environments_present_with_problem_status():
    envs = {e["name"]: e for e in STATUS["environments"]}
    assert set(envs) == {ALPHA, BETA}, f"environments: {sorted(envs)}"
    assert envs[ALPHA]["counts"]["hosts"] == 3 and envs[BETA]["counts"]["hosts"] == 3, envs
    assert envs[ALPHA]["counts"]["containers"] == 8 and envs[BETA]["counts"]["containers"] == 3
    for e in envs.values():
        assert e["status"] == "problem", (e["name"], e["status"])
        assert e["layout"] == "csv" and e["counts"]["warnings"] == 0, (e["name"], e["warnings"])
        # data_time is the oldest gathered_at of the file: this run's, so not stale.
        assert e.get("data_time") and e.get("stale") is False, (e["name"], e.get("data_time"), e.get("stale"))


@check
def pages_show_every_container_and_host():
    site = WORK / "site"
    index = (site / "index.html").read_text()
    for env in STATUS["environments"]:
        assert env["name"] in index, f"{env['name']} not on index.html"
        page = (site / env["page"]).read_text()
        for h in env["hosts"]:
            assert h["name"] in page, f"{h['name']} not on {env['page']}"
            for c in h["containers"]:
                assert c["name"] in page, f"{c['name']} not on {env['page']}"
    alpha = (site / next(e["page"] for e in STATUS["environments"] if e["name"] == ALPHA)).read_text()
    assert re.search(r"(?i)unreachable", alpha), "the alpha page does not say a host is unreachable"


@check
def objects_are_in_the_bucket():
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
    listed = s3.list_objects_v2(Bucket=os.environ["BUCKET"], Prefix=PREFIX)
    keys = {o["Key"] for o in listed.get("Contents", [])}
    site = {f"{PREFIX}{p.relative_to(WORK / 'site')}" for p in (WORK / "site").rglob("*") if p.is_file()}
    site = {k for k in site if not k.rsplit("/", 1)[-1].startswith(".")}
    want = {f"{PREFIX}index.html", f"{PREFIX}status.json"} | {f"{PREFIX}{e['page']}" for e in STATUS["environments"]}
    assert want <= keys, f"missing from the bucket: {sorted(want - keys)}"
    assert site <= keys, f"site files not in the bucket: {sorted(site - keys)}"
    obj = s3.get_object(Bucket=os.environ["BUCKET"], Key=f"{PREFIX}status.json")
    assert json.loads(obj["Body"].read()) == STATUS, "status.json in the bucket differs from the site's"
    page = s3.get_object(Bucket=os.environ["BUCKET"], Key=f"{PREFIX}index.html")
    assert page["ContentType"].startswith("text/html"), page["ContentType"]


@check
def publish_without_changes_reports_ok():
    log = (WORK / "run2.log").read_text()
    assert "List every container" not in log, "the publish-only run gathered again"
    m = re.search(r"uploaded (\d+), unchanged (\d+), deleted (\d+)", log)
    assert m, f"no upload summary in run2.log:\n{log}"
    assert int(m.group(1)) == 0 and int(m.group(3)) == 0, f"second publish changed the bucket: {m.group(0)}"
    recap = dict(re.findall(r"^(\S+)\s+: (ok=.*)$", log, re.M))
    assert "changed=0" in recap["localhost"] and "failed=0" in recap["localhost"], recap["localhost"]
    again = load(WORK / "site-again" / "status.json")
    assert again == STATUS, "the same input at the same time rendered differently"


@check
def failed_run_keeps_the_previous_files():
    rc = int((WORK / "run3.rc").read_text())
    assert rc != 0, "run 3 should have failed"
    before, after = WORK / "envs-after-run1", WORK / "envs"
    names = sorted(p.name for p in after.iterdir())
    assert names == sorted(p.name for p in before.iterdir()), names
    for name in names:
        assert (after / name).read_bytes() == (before / name).read_bytes(), f"{name} changed by a failed run"
    assert not (WORK / "envs.new").exists(), "the failed run left a half-written folder"


@check
def legacy_layout_renders_the_same_containers():
    legacy = load(WORK / "site-legacy" / "status.json")
    assert {e["name"]: e["layout"] for e in legacy["environments"]} == {ALPHA: "legacy", BETA: "legacy"}
    new, old = site_hosts(STATUS), site_hosts(legacy)
    fields = ("name", "image", "version", "state", "health", "exit_code", "problem")
    for key in EXPECTED:
        assert key in old, f"{key} missing from the legacy rendering"
        a = sorted(tuple(c[f] for f in fields) for c in new[key]["containers"])
        b = sorted(tuple(c[f] for f in fields) for c in old[key]["containers"])
        assert a == b, f"{key}: CSV {a} != legacy {b}"
    assert old[(BETA, NO_DOCKER)]["reach"] == "docker_unavailable", old[(BETA, NO_DOCKER)]
    for e in legacy["environments"]:
        assert e["counts"]["warnings"] == 0, e["warnings"]


def main():
    global STATUS, TRUTH
    try:
        STATUS = load(WORK / "site" / "status.json")
        TRUTH = truth()
    except Exception:  # noqa: BLE001 - nothing to check without them
        traceback.print_exc()
        print(f"0 passed, {len(CHECKS)} failed")
        return 1
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report every check, then fail
            failed += 1
            detail = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
            print(f"FAIL {fn.__name__}: {detail}")
        else:
            passed += 1
            print(f"ok   {fn.__name__}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
