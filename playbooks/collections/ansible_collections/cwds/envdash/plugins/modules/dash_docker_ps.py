#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License: see the envdash repository.
"""Ansible module of the cwds.envdash collection, used by its dash role: one
host's containers, with the reasons behind their states, in one round trip.

Runs on the environment host: `docker ps -a` (one JSON object per container),
then one `docker inspect` of all of them, reduced here to what envdash shows,
then, for containers that look like problems, the last lines of `docker logs`,
with secrets replaced by `[redacted]` before anything leaves the host. One
deadline covers every docker call. Docker failing is data, not a task failure:
the result says what Docker said, and envdash shows it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dash_docker_ps
short_description: List a host's containers with exit reasons, restart counts and log tails
description:
  - Runs C(docker ps -a), one C(docker inspect) of every container listed, and
    C(docker logs --tail) of the containers that look like problems, all within
    one deadline, and returns one record per container for envdash.
  - Log lines and health-check output pass through the redaction patterns on
    the host; only redacted text is returned.
  - Never fails because of Docker; C(rc), C(error) and C(timed_out) say what happened.
version_added: "1.0.0"
options:
  timeout:
    description: Seconds all docker calls together may take.
    type: int
    default: 60
  ps_args:
    description: Extra arguments for C(docker ps -a), for example C([--filter, label=team=cwds]).
    type: list
    elements: str
    default: []
  inspect:
    description:
      - Run the one C(docker inspect) of every container, and C(docker logs) of the
        problem-looking ones. C(false) lists with C(docker ps -a) only, as the
        original playbook did (no exit reasons, restart counts or logs).
    type: bool
    default: true
  log_lines:
    description: Last lines of C(docker logs) kept per problem container; 0 gathers no logs.
    type: int
    default: 20
  log_bytes:
    description: At most this many bytes of log per container (the last ones, whole lines).
    type: int
    default: 16384
  redact:
    description: Regular expressions (Python syntax); every match in logs, health output, commands and errors becomes C([redacted]).
    type: list
    elements: str
    default: []
  docker:
    description: The docker command.
    type: str
    default: docker
author:
  - cwds devops
"""

EXAMPLES = r"""
- name: List every container
  cwds.envdash.dash_docker_ps:
    timeout: 60
    log_lines: 20
    redact: ['(?i)password\s*[=:]\s*\S+']
  register: dash_ps
"""

RETURN = r"""
docker_rc:
  description: 0 when docker answered, 124 when it did not within the timeout, else docker's exit code (127 not found).
  type: int
  returned: always
error:
  description: What docker printed on failure (or why logs are missing), redacted.
  type: str
  returned: always
timed_out:
  description: The deadline passed (the listing, or only some logs, are missing).
  type: bool
  returned: always
containers:
  description: One record per container, fields as the envdash CSV layout names them.
  type: list
  elements: dict
  returned: always
"""

import calendar
import json
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

REDACTED = "[redacted]"
# Health-check output and errors are kept short; logs have their own limit.
TEXT_LIMIT = 2048
# A log line longer than this is cut (a minified payload, a progress bar), so
# that one line never pushes the lines before it out of the log tail.
LINE_LIMIT = 4096
# Containers per `docker inspect` call: the argument list stays far below ARG_MAX.
INSPECT_CHUNK = 1000
# `docker logs` calls at once.
LOG_WORKERS = 8
# A container whose restart count reached this and that started again within
# CRASH_WINDOW seconds is treated as a problem here (envdash judges it finally).
CRASH_RESTARTS = 3
CRASH_WINDOW = 600


class Deadline:
    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()


class TimedOut(Exception):
    pass


def run(argv, deadline, merge=False):
    """(rc, stdout, stderr) of argv, killed when the deadline passes."""
    left = deadline.left()
    if left <= 0:
        raise TimedOut()
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge else subprocess.PIPE,
            timeout=left,
        )
    except subprocess.TimeoutExpired:
        raise TimedOut()
    except OSError as e:  # docker not installed, not executable
        return 127, b"", str(e).encode()
    return done.returncode, done.stdout or b"", done.stderr or b""


def text(data):
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else (data or "")


class Redactor:
    def __init__(self, patterns):
        self.patterns = [re.compile(p) for p in patterns]

    def __call__(self, value):
        for p in self.patterns:
            value = p.sub(REDACTED, value)
        return value


# Terminal escape sequences: CSI (colours, cursor moves); OSC (titles, links),
# up to BEL or ESC \\ and never past its line; any other escape (`ESC ( B`):
# intermediates and one final byte. A lone ESC is left to CONTROLS.
ESCAPES = re.compile(
    r"\x1b\[[\x20-\x3f]*[\x40-\x7e]?"
    r"|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"
)
# Control characters other than tab and line feed (NUL among them), DEL and C1.
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value):
    """What a program printed, fit to travel in a CSV field and be shown:
    escapes removed, carriage returns made line breaks, other control
    characters replaced by U+FFFD."""
    value = ESCAPES.sub("", value).replace("\r\n", "\n").replace("\r", "\n")
    return CONTROLS.sub("\ufffd", value)


def short(value, limit=TEXT_LIMIT):
    value = value.strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def tail(data, lines, limit):
    """The last `lines` lines of data, at most `limit` bytes: whole lines, but
    for a line longer than LINE_LIMIT (or `limit`), which keeps its start and "…"."""
    kept = data.splitlines()[-lines:] if lines > 0 else []
    longest = max(min(limit - 1, LINE_LIMIT), 4)
    out, size = [], 0
    for line in reversed(kept):
        if len(line.encode("utf-8")) > longest:
            line = line.encode("utf-8")[: longest - 3].decode("utf-8", errors="ignore") + "…"
        size += len(line.encode("utf-8")) + 1
        if size > limit:
            break
        out.append(line)
    return "\n".join(reversed(out))


def zero_time(value):
    """Docker writes 0001-01-01T00:00:00Z for a time that never was."""
    return "" if not value or value.startswith("0001-") else value


def looks_like_problem(record):
    state = record.get("state", "")
    if state != "running":
        return True
    if record.get("health") == "unhealthy":
        return True
    restarts = record.get("restart_count")
    return isinstance(restarts, int) and restarts >= CRASH_RESTARTS and record.get("_fresh", False)


def reduce_inspect(c, redact):
    """What envdash needs of one `docker inspect` object."""
    st = c.get("State") or {}
    health = st.get("Health") or {}
    status = st.get("Status", "")
    policy = ((c.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name", "") or "no"
    out = {
        "restart_count": c.get("RestartCount", 0),
        "restart_policy": policy,
        "oom_killed": bool(st.get("OOMKilled", False)),
        "started_at": zero_time(st.get("StartedAt", "")),
        "health": health.get("Status", ""),
    }
    if status in ("exited", "dead", "restarting"):
        out["exit_code"] = st.get("ExitCode", "")
        out["finished_at"] = zero_time(st.get("FinishedAt", ""))
    if st.get("Error"):
        out["error"] = short(redact(clean(st["Error"])))
    if health.get("Status") == "unhealthy" and health.get("Log"):
        out["health_output"] = short(redact(clean(text(health["Log"][-1].get("Output", "")))))
    return out


def fresh(started_at, now):
    """Started within CRASH_WINDOW seconds of now (times as Docker writes them)."""
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)", started_at or "")
    if not m:
        return False

    started = calendar.timegm(tuple(int(x) for x in m.groups()) + (0, 0, 0))
    return now - started < CRASH_WINDOW


def gather(p, deadline):
    result = {"docker_rc": 0, "error": "", "timed_out": False, "containers": []}
    redact = Redactor(p["redact"])
    docker = p["docker"]
    try:
        rc, out, err = run(
            [docker, "ps", "--all", "--no-trunc", "--size=false", "--format", "{{json .}}"] + p["ps_args"], deadline
        )
    except TimedOut:
        result.update(docker_rc=124, timed_out=True, error="docker ps did not answer within %d s" % deadline.seconds)
        return result
    if rc != 0:
        result.update(docker_rc=rc, error=redact(clean(text(err))).strip() or "docker ps failed with exit code %d" % rc)
        return result
    rows = []
    for line in text(out).splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    records = []
    for r in rows:
        records.append(
            {
                "name": r.get("Names", ""),
                "image": r.get("Image", ""),
                "state": r.get("State", ""),
                "status": r.get("Status", ""),
                "id": r.get("ID", ""),
                "created_at": r.get("CreatedAt", ""),
                "ports": r.get("Ports", ""),
                # Commands carry secrets too (`--password=…`).
                "command": redact(r.get("Command", "")),
            }
        )
    if not p["inspect"]:
        result["containers"] = records
        return result
    # One inspect for all (in chunks for huge hosts). A container removed in the
    # meantime makes docker name it on stderr and exit 1; the rest still come.
    by_id = {}
    ids = [r["id"] for r in records if r["id"]]
    try:
        for i in range(0, len(ids), INSPECT_CHUNK):
            rc, out, err = run([docker, "inspect", "--type", "container"] + ids[i : i + INSPECT_CHUNK], deadline)
            try:
                for c in json.loads(text(out) or "[]"):
                    by_id[c.get("Id", "")] = c
            except ValueError:
                pass
    except TimedOut:
        result.update(timed_out=True, error="docker inspect did not answer within %d s" % deadline.seconds)
    now = time.time()
    for r in records:
        c = by_id.get(r["id"])
        if c is None:
            continue
        reduced = reduce_inspect(c, redact)
        r.update(reduced)
        r["_fresh"] = fresh(reduced.get("started_at"), now)
    wanted = [r for r in records if p["log_lines"] > 0 and r.get("id") and looks_like_problem(r)]

    def logs(r):
        try:
            rc, out, _ = run([docker, "logs", "--tail", str(p["log_lines"]), r["id"]], deadline, merge=True)
        except TimedOut:
            return r, None
        # Cleaned before redaction: colour codes around `password=` must not hide it.
        return r, tail(redact(clean(text(out))), p["log_lines"], p["log_bytes"]) if rc == 0 else ""

    if wanted:
        with ThreadPoolExecutor(max_workers=LOG_WORKERS) as pool:
            for r, log in pool.map(logs, wanted):
                if log is None:
                    result["timed_out"] = True
                    result["error"] = result["error"] or "docker logs did not answer within %d s" % deadline.seconds
                    # Said where the log would be, so the page tells why there is none.
                    r["logs"] = "[no log lines: docker logs did not answer within %d s]" % deadline.seconds
                elif log:
                    r["logs"] = log
    for r in records:
        r.pop("_fresh", None)
        r.pop("health", None)
    result["containers"] = records
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            timeout=dict(type="int", default=60),
            ps_args=dict(type="list", elements="str", default=[]),
            inspect=dict(type="bool", default=True),
            log_lines=dict(type="int", default=20),
            log_bytes=dict(type="int", default=16384),
            redact=dict(type="list", elements="str", default=[]),
            docker=dict(type="str", default="docker"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for pattern in p["redact"]:
        try:
            re.compile(pattern)
        except re.error as e:
            module.fail_json(msg="redaction pattern %r is not a regular expression: %s" % (pattern, e))
    result = gather(p, Deadline(max(1, p["timeout"])))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
