#!/usr/bin/env python3
"""Assertions of the end-to-end test (tests/e2e/run.sh), on what its runs left in WORK.

Compares what envdash published (local site, the S3 bucket) with what the
Docker engines said at the moment the playbook asked them: run.sh's `docker`
on the hosts keeps each answer to `ps` and `inspect` in WORK/truth. A container
that moves (the crash loop) is compared with the phase the engine reported
then, so no check races a container. Each check is a group of assertions; the
last line is `N passed, M failed`.

    python3 tests/e2e/check.py WORK
"""

import csv
import io
import json
import os
import re
import sys
import traceback
from pathlib import Path

import boto3
import jsonschema

WORK = Path(sys.argv[1])
PREFIX = "dash/"
ALPHA, BETA = "e2e-alpha", "e2e_beta"
UNREACHABLE = "perry-1.alpha.e2e.test"  # every packet dropped: an SSH timeout
NO_DOCKER = "es-1.beta.e2e.test"  # no daemon at its socket
DENIED = "jenkins-1.beta.e2e.test"  # the user may not use its daemon
HUNG = "queue-1.beta.e2e.test"  # its daemon accepts and never answers
EMPTY = "rundeck-1.beta.e2e.test"  # a filter that matches nothing
THROUGH_JUMP = "api-1.alpha.e2e.test"
WITH_BECOME = "app-1.beta.e2e.test"
SECRET = "hunter2-e2e-secret"
USER = "envdash-e2e"
# Hosts with containers and the names the test started there.
EXPECTED = {
    (ALPHA, "app-1.alpha.e2e.test"): {"web", "job_fail", "migrate", "sick", "hog"},
    (ALPHA, THROUGH_JUMP): {"crashloop", "never_started", "api", "frozen"},
    (BETA, WITH_BECOME): {"web", "worker", "warming"},
    (BETA, EMPTY): set(),
}
# The states the test set up, as the engine must report them: name -> the
# states (docker ps) and exit codes (docker inspect) it may show, its health and
# OOM flag. Only the crash loop moves: between two restarts it is `restarting`,
# and for a moment `running`; ps and inspect, asked one after the other, may
# even catch it in different phases. Every phase is a crash loop.
SETUP = {
    "web": ({"running"}, {None}, "none", False),
    "job_fail": ({"exited"}, {3}, "none", False),
    "migrate": ({"exited"}, {0}, "none", False),
    "sick": ({"running"}, {None}, "unhealthy", False),
    "hog": ({"exited"}, {137}, "none", True),
    "crashloop": ({"restarting", "running"}, {1, None}, "none", False),
    "never_started": ({"created"}, {None}, "none", False),
    "api": ({"running"}, {None}, "healthy", False),
    "frozen": ({"paused"}, {None}, "none", False),
    "worker": ({"exited"}, {2}, "none", False),
    "warming": ({"running"}, {None}, "starting", False),
}
# What envdash must call a problem, whichever phase the engine reported: the
# envdash.toml of the test allows `migrate` to exit with code 0.
PROBLEMS = {"job_fail", "sick", "hog", "crashloop", "never_started", "frozen", "worker"}
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def load(path):
    return json.loads(Path(path).read_text())


def truth():
    """(env, host) -> {name: facts} from the engine's answers at the moment of gathering."""
    out = {}
    for env, host in EXPECTED:
        ps = {}
        for line in (WORK / "truth-run1" / f"{host}.ps.json").read_text().splitlines():
            if line.strip().startswith("{"):
                row = json.loads(line)
                ps[row["Names"]] = row
        inspect_file = WORK / "truth-run1" / f"{host}.inspect.json"
        inspected = load(inspect_file) if inspect_file.exists() and inspect_file.read_text().strip() else []
        seen = {}
        for c in inspected:
            st = c["State"]
            name = c["Name"].lstrip("/")
            # State and status text as `docker ps` said them (envdash reads those
            # from the ps row); the rest as `docker inspect` said them.
            seen[name] = {
                "state": ps[name]["State"],
                "status": ps[name]["Status"],
                "health": (st.get("Health") or {}).get("Status", "none"),
                "exit_code": st["ExitCode"] if st["Status"] in ("exited", "restarting", "dead") else None,
                "oom": st["OOMKilled"],
                "restart_count": c["RestartCount"],
            }
        assert set(seen) == set(ps), f"{host}: ps listed {sorted(ps)}, inspect {sorted(seen)}"
        out[(env, host)] = seen
    return out


def site_hosts(status):
    """(env, host) -> host entry of a status.json."""
    return {(e["name"], h["name"]): h for e in status["environments"] for h in e["hosts"]}


def containers(status):
    """(host, name) -> container entry of a status.json."""
    return {(h[1], c["name"]): c for h, entry in site_hosts(status).items() for c in entry["containers"]}


STATUS = {}  # the published status.json, loaded by main()
TRUTH = {}  # (env, host) -> {name: facts}, as the engines said at gathering


@check
def engines_reported_the_states_set_up():
    for key, names in EXPECTED.items():
        got = TRUTH[key]
        assert set(got) == names, f"{key}: engine listed {sorted(got)}, expected {sorted(names)}"
        for name, f in got.items():
            states, codes, health, oom = SETUP[name]
            said = (f["state"], f["exit_code"], f["health"], f["oom"])
            assert f["state"] in states and f["exit_code"] in codes and (f["health"], f["oom"]) == (health, oom), (
                f"{key[1]} {name}: engine said {said}, set up {SETUP[name]}"
            )


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


# What the tarball must hold for the playbook to run from an installed copy.
COLLECTION_FILES = [
    "MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "playbooks/cwds_dash.yml",
    "plugins/modules/dash_docker_ps.py", "roles/dash/meta/argument_specs.yml", "roles/dash/meta/main.yml",
    "roles/dash/defaults/main.yml", "roles/dash/vars/main.yml", "roles/dash/templates/env.csv.j2",
    *(f"roles/dash/tasks/{t}.yml" for t in ("validate", "gather", "write", "publish")),
]


@check
def the_collection_ran_from_its_installed_tarball():
    files = {f.rstrip("/").removeprefix("./") for f in (WORK / "collection.files").read_text().split()}
    missing = [f for f in COLLECTION_FILES if f not in files]
    assert not missing, f"the tarball lacks {missing}"
    stray = sorted(f for f in files if "__pycache__" in f or f.endswith(".pyc") or f.split("/")[0] in ("envs", "site"))
    assert not stray, f"the tarball holds {stray}"
    # The one copy Ansible could find for `cwds.envdash.cwds_dash`: the installed one.
    listed = load(WORK / "collection.json")
    where = [path for path, found in listed.items() if "cwds.envdash" in found]
    assert where == [str(WORK / "collections" / "ansible_collections")], listed
    # Run 1 ran its plays, the checks first, and its role's tasks.
    log = (WORK / "run1.log").read_text()
    plays = re.findall(r"^PLAY \[(.*)\] \*", log, re.M)
    assert plays[:2] == ["Check the variables on the controller before any host is touched",
                         "Check every host's variables before any host is touched"], plays
    assert "TASK [cwds.envdash.dash : List every container with docker ps -a, inspect and logs]" in log, log
    # Run 5 went through playbooks/cwds-dash.yml, the same plays.
    assert re.findall(r"^PLAY \[(.*)\] \*", (WORK / "run5.log").read_text(), re.M) == plays


@check
def every_host_was_reached_over_ssh_as_the_user():
    logs = {p.stem: p.read_text() for p in (WORK / "ssh").glob("*.log")}
    for host in ["app-1.alpha.e2e.test", THROUGH_JUMP, WITH_BECOME, NO_DOCKER, EMPTY, DENIED, HUNG]:
        assert f"Accepted publickey for {USER} from" in logs[host], f"{host}: no key login by {USER}:\n{logs[host]}"
        assert "for root" not in logs[host], f"{host}: root logged in"
    # The host behind the jump host was reached from the jump host's address, and
    # the controller could not have reached it directly.
    assert f"Accepted publickey for {USER} from 10.77.0.1 " in logs[THROUGH_JUMP], logs[THROUGH_JUMP]
    assert f"Accepted publickey for {USER} from 10.66.0.1 " in logs["jump"], logs["jump"]
    assert (WORK / "far-direct").read_text().strip() == "no", "the controller reaches the far host without the jump"


@check
def an_unreachable_host_costs_no_more_than_the_timeouts():
    timeout, ssh_timeout = (int(x) for x in (WORK / "limits").read_text().split())
    # The gathering task alone, from its start to the next task's (run.sh notes
    # when each task starts): the SSH timeout was really waited for (packets
    # dropped, not a refused port), and the hung daemon's timeout ran beside it,
    # not after it. The margin is for Ansible's own work on a busy machine.
    took = float((WORK / "gather.seconds").read_text())
    assert took >= ssh_timeout - 0.5, f"gathering took {took} s: the unreachable host did not time out"
    assert took <= max(timeout, ssh_timeout) + 5, f"gathering took {took} s: the timeouts ({timeout}, {ssh_timeout} s) ran one after the other"


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
        assert {"restart_count", "exit_code", "oom_killed", "started_at", "logs"} <= set(header), header
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
            assert fail["command"].startswith('"sh -c \'echo \\"job: starting, step \\\\\\"a,b\\\\\\"\\"'), (
                f"command field mangled: {fail['command']!r}"
            )
        if env == BETA:
            assert any(r["host"] == EMPTY and r["name"] == "" and r["state"] == "" for r in rows), "no row for the empty host"


@check
def every_container_is_published_as_the_engine_reported_it():
    hosts = site_hosts(STATUS)
    for key, facts in TRUTH.items():
        assert key in hosts, f"{key} missing from status.json"
        shown = {c["name"]: c for c in hosts[key]["containers"]}
        assert set(shown) == set(facts), f"{key}: shown {sorted(shown)}, engine {sorted(facts)}"
        assert hosts[key]["reach"] == "ok", f"{key}: reach {hosts[key]['reach']}"
        for name, f in facts.items():
            c = shown[name]
            where = f"{key[1]} {name}"
            assert c["state"] == f["state"], f"{where}: shown {c['state']}, engine {f['state']}"
            assert c["health"] == f["health"], f"{where}: health {c['health']}, engine {f['health']}"
            assert c["status"] == f["status"], f"{where}: status {c['status']!r}, engine {f['status']!r}"
            # The exit code comes from inspect, or from ps's status text when inspect
            # found the container running (only the crash loop can be caught so).
            if f["exit_code"] is not None:
                assert c["exit_code"] == f["exit_code"], f"{where}: exit code {c['exit_code']}, engine {f['exit_code']}"
            assert c.get("oom_killed", False) == f["oom"], f"{where}: oom_killed {c.get('oom_killed')}, engine {f['oom']}"
            assert c["restart_count"] == f["restart_count"], f"{where}: restarts {c['restart_count']}, engine {f['restart_count']}"
            assert c["image"] == "localhost/e2e-busybox" and c["version"] == "1.0", (name, c["image"], c["version"])


@check
def the_right_containers_are_problems_and_a_crash_loop_is_one_in_any_phase():
    shown = containers(STATUS)
    problems = {name for (_, name), c in shown.items() if c["problem"]}
    assert problems == PROBLEMS, f"problems: {sorted(problems)}, expected {sorted(PROBLEMS)}"
    loop = shown[(THROUGH_JUMP, "crashloop")]
    state = TRUTH[(ALPHA, THROUGH_JUMP)]["crashloop"]["state"]
    assert loop.get("crash_loop") is True, f"crashloop caught {state}: not a crash loop: {loop}"
    assert "restart" in loop.get("reason", ""), f"crashloop caught {state}: reason {loop.get('reason')!r}"
    others = {name for (_, name), c in shown.items() if c.get("crash_loop")}
    assert others == {"crashloop"}, f"crash loops: {sorted(others)}"


@check
def problems_say_why_with_their_last_log_lines():
    shown = containers(STATUS)
    job = shown[("app-1.alpha.e2e.test", "job_fail")]
    assert job["reason"].startswith("exited 3 at "), job["reason"]
    assert "job: starting" in job["logs"] and job["logs"].rstrip().endswith("job: giving up"), job["logs"]
    assert "job: [redacted]" in job["logs"], f"the secret line was not redacted: {job['logs']!r}"
    hog = shown[("app-1.alpha.e2e.test", "hog")]
    assert hog["reason"].startswith("killed: out of memory"), hog["reason"]
    assert "hog: filling memory" in hog["logs"], hog
    sick = shown[("app-1.alpha.e2e.test", "sick")]
    assert "health check: curl: (7) Failed to connect" in sick["reason"], sick["reason"]
    assert "curl: (7)" in sick["health_output"], sick
    loop = shown[(THROUGH_JUMP, "crashloop")]
    assert "crashloop: cannot open /data" in loop["logs"], loop
    worker = shown[(WITH_BECOME, "worker")]
    assert worker["logs"].strip() == "worker: no queue", worker
    # The page shows the same: the exit code, the reason and the lines printed.
    page = (WORK / "site-run1" / next(e["page"] for e in STATUS["environments"] if e["name"] == ALPHA)).read_text()
    assert "exited 3 at " in page and "<summary>Last log lines of job_fail</summary>" in page, "no reason or log block"
    assert "job: giving up" in page and "job: [redacted]" in page, "the log lines are not on the page"
    # Healthy containers: nothing gathered beyond their state, though web and api
    # printed lines ("web: listening on 8080", "api: ready").
    for key in [("app-1.alpha.e2e.test", "web"), (THROUGH_JUMP, "api"), (WITH_BECOME, "web")]:
        assert "logs" not in shown[key] and "reason" not in shown[key], (key, shown[key])
    with open(WORK / "envs-after-run1" / f"{ALPHA}.txt", newline="") as f:
        logs = {r["name"]: r["logs"] for r in csv.DictReader(f) if r["name"] in ("web", "api")}
    assert logs == {"web": "", "api": ""}, f"a healthy container's log was gathered: {logs}"


@check
def the_secret_never_leaves_the_host():
    for folder in ("envs", "site"):
        for p in (WORK / folder).rglob("*"):
            if p.is_file():
                assert SECRET.encode() not in p.read_bytes(), f"the secret is in {p}"
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
    for o in s3.list_objects_v2(Bucket=os.environ["BUCKET"], Prefix=PREFIX).get("Contents", []):
        body = s3.get_object(Bucket=os.environ["BUCKET"], Key=o["Key"])["Body"].read()
        assert SECRET.encode() not in body, f"the secret is in s3://{os.environ['BUCKET']}/{o['Key']}"
    assert SECRET not in (WORK / "run1.log").read_text(), "the secret is in the playbook's output"


@check
def hosts_not_reporting_are_shown_with_their_reason():
    hosts = site_hosts(STATUS)
    h = hosts.get((ALPHA, UNREACHABLE))
    assert h, f"{UNREACHABLE} missing"
    assert h["reach"] == "unreachable" and h["containers"] == [], h
    assert "timed out" in h.get("detail", "").lower(), f"not an SSH timeout: {h}"
    h = hosts[(BETA, NO_DOCKER)]
    assert h["reach"] == "docker_unavailable", h
    assert "Cannot connect to the Docker daemon" in h.get("detail", ""), h
    h = hosts[(BETA, DENIED)]
    assert h["reach"] == "docker_unavailable", h
    assert "permission denied" in h.get("detail", ""), f"not Docker's own message: {h}"
    h = hosts[(BETA, HUNG)]
    assert h["reach"] == "docker_unavailable", h
    timeout = (WORK / "limits").read_text().split()[0]
    assert h.get("detail") == f"docker ps did not answer within {timeout} s", h
    h = hosts[(BETA, EMPTY)]
    assert h["reach"] == "ok" and h["containers"] == [], h


@check
def both_environments_present_with_problem_status():
    envs = {e["name"]: e for e in STATUS["environments"]}
    assert set(envs) == {ALPHA, BETA}, f"environments: {sorted(envs)}"
    assert envs[ALPHA]["counts"]["hosts"] == 3 and envs[BETA]["counts"]["hosts"] == 5, envs
    assert envs[ALPHA]["counts"]["containers"] == 9 and envs[BETA]["counts"]["containers"] == 3
    for e in envs.values():
        assert e["status"] == "problem", (e["name"], e["status"])
        assert e["layout"] == "csv" and e["counts"]["warnings"] == 0, (e["name"], e["warnings"])
        # data_time is the oldest gathered_at of the file: this run's, so not stale.
        assert e.get("data_time") and e.get("stale") is False, (e["name"], e.get("data_time"), e.get("stale"))


@check
def pages_show_every_container_and_host():
    site = WORK / "site-run1"
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
    # The last run (5) published last: the bucket holds its status.json.
    obj = s3.get_object(Bucket=os.environ["BUCKET"], Key=f"{PREFIX}status.json")
    assert json.loads(obj["Body"].read()) == load(WORK / "site" / "status.json"), "status.json in the bucket differs"
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
    before, after = WORK / "envs-after-run1", WORK / "envs-after-run3"
    names = sorted(p.name for p in after.iterdir())
    assert names == sorted(p.name for p in before.iterdir()), names
    for name in names:
        assert (after / name).read_bytes() == (before / name).read_bytes(), f"{name} changed by a failed run"
    assert not (WORK / "envs.new").exists(), "the failed run left a half-written folder"


def hooks():
    """The webhooks received, in order."""
    files = sorted((p for p in (WORK / "hooks").glob("*.json") if p.stem.isdigit()), key=lambda p: int(p.stem))
    return [json.loads(p.read_text()) for p in files]


@check
def one_webhook_per_change_and_none_in_between():
    counts = {run: int((WORK / f"hooks-after-{run}").read_text()) for run in ("run1", "run2", "run4", "run5")}
    # Run 1 is envdash's first (no history anywhere): one summary of what is open.
    # Run 2 renders the same again at the same time: nothing. Run 4: web stopped.
    # Run 5: web started again.
    assert counts == {"run1": 1, "run2": 1, "run4": 2, "run5": 3}, counts
    received = hooks()
    schema = json.loads((Path(__file__).parents[2] / "contrib/webhook/envdash-webhook.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for body in received:
        errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, f"a webhook body is not what the schema says: {errors}"
    first, down, up = received
    assert first["first_run"] is True and first["title"].startswith("envdash is watching: "), first["title"]
    open_names = {c.get("container") for c in first["changes"]}
    assert {"job_fail", "crashloop", "hog"} <= open_names, open_names
    changes = [(c["change"], c.get("host"), c.get("container")) for c in down["changes"]]
    assert changes == [("down", "app-1.alpha.e2e.test", "web")], changes
    assert down["changes"][0]["problem"] == "exited", down["changes"][0]
    # The alert says why, with the last lines web printed before it stopped.
    assert down["changes"][0]["state"].startswith("exited 137"), down["changes"][0]["state"]
    assert down["changes"][0].get("logs") == ["web: listening on 8080"], down["changes"][0]
    changes = [(c["change"], c.get("host"), c.get("container")) for c in up["changes"]]
    assert changes == [("recovered", "app-1.alpha.e2e.test", "web")], changes


@check
def a_crash_loop_stays_one_from_run_to_run_by_its_count():
    # Run 4, two minutes of the run's clock after run 1: the engine's count grew
    # (its back-off may have left room for a single restart), and whichever phase
    # the listing caught, it is still a crash loop, so no recovery was sent.
    run4 = containers(load(WORK / "site-run4" / "status.json"))
    loop = run4[(THROUGH_JUMP, "crashloop")]
    first = TRUTH[(ALPHA, THROUGH_JUMP)]["crashloop"]["restart_count"]
    grew = loop["restart_count"] > first
    # Between restarts (the back-off) the engine says `restarting`; caught up, it
    # has restarted since run 1.
    assert grew or loop["state"] == "restarting", f"count {first} in run 1, run 4 caught {loop['state']}: {loop}"
    assert loop.get("crash_loop") is True and loop["problem"], f"run 4 caught {loop['state']}: {loop}"


@check
def legacy_layout_renders_the_same_containers():
    legacy = load(WORK / "site-legacy" / "status.json")
    assert {e["name"]: e["layout"] for e in legacy["environments"]} == {ALPHA: "legacy", BETA: "legacy"}
    new, old = site_hosts(STATUS), site_hosts(legacy)
    # The crash loop moves between the two listings, and the legacy layout has no
    # restart counts: compared are the containers that hold still.
    fields = ("name", "image", "version", "state", "health", "problem")
    for key in EXPECTED:
        assert key in old, f"{key} missing from the legacy rendering"
        a = sorted(tuple(c[f] for f in fields) for c in new[key]["containers"] if c["name"] != "crashloop")
        b = sorted(tuple(c[f] for f in fields) for c in old[key]["containers"] if c["name"] != "crashloop")
        assert a == b, f"{key}: CSV {a} != legacy {b}"
    assert old[(BETA, NO_DOCKER)]["reach"] == "docker_unavailable", old[(BETA, NO_DOCKER)]
    for e in legacy["environments"]:
        assert e["counts"]["warnings"] == 0, e["warnings"]


@check
def inspect_and_logs_cost_is_measured_and_lists_the_same_containers():
    # Figures for the record, not limits: the time each mode took per host
    # (five module runs each, one SSH round trip per run) and the bytes the
    # extra columns add to an environment file.
    for host in ("app-1.alpha.e2e.test", THROUGH_JUMP, WITH_BECOME):
        cost = load(WORK / f"cost-{host}.json")
        assert cost["failed"] == 0 and len(cost["ps"]) == len(cost["full"]) == 5, cost
        ps_only = {frozenset(c["name"] for c in run) for run in cost["ps"]}
        full = {frozenset(c["name"] for c in run) for run in cost["full"]}
        assert ps_only == full, f"{host}: ps only saw {ps_only}, with inspect {full}"
        assert all("restart_count" in c for run in cost["full"] for c in run), f"{host}: inspect gave nothing"
        assert not any("restart_count" in c for run in cost["ps"] for c in run), f"{host}: inspect ran anyway"
        print(f"     {host}: {cost['ps_seconds'] / 5:.2f} s per gathering with docker ps only, "
              f"{cost['full_seconds'] / 5:.2f} s with inspect and logs ({len(cost['full'][-1])} containers)")
    base = ["host", "name", "image", "state", "status", "error", "gathered_at", "id", "created_at", "ports", "command"]
    path = WORK / "envs-after-run1" / f"{ALPHA}.txt"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in base if c not in rows[0]]
    assert not missing, f"{path.name} lacks {missing}"
    lean = io.StringIO()
    w = csv.DictWriter(lean, base, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    full = path.stat().st_size
    print(f"     {path.name}: {full} bytes, {full - len(lean.getvalue().encode())} of them inspect and log columns "
          f"({len(rows)} rows)")


def main():
    global STATUS, TRUTH
    try:
        STATUS = load(WORK / "site-run1" / "status.json")
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
