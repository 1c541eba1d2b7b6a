"""Unit tests of the collection's module (plugins/modules/dash_docker_ps.py of
cwds.envdash) and of the dash role's default redaction patterns. The
end-to-end test runs the module against real Docker daemons over SSH; these
cover what real Docker cannot be made to do on demand (a `docker logs` that
hangs) and the edges of redaction and log cutting.

    .venv/bin/python -m unittest discover -s tests/playbook   (scripts/test runs it)
"""

import importlib.util
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "playbooks/collections/ansible_collections/cwds/envdash"
ROLE = COLLECTION / "roles/dash"
MODULES = COLLECTION / "plugins/modules"
spec = importlib.util.spec_from_file_location("dash_docker_ps", MODULES / "dash_docker_ps.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
DEFAULTS = yaml.safe_load((ROLE / "defaults/main.yml").read_text())


class DefaultRedaction(unittest.TestCase):
    redact = module.Redactor(DEFAULTS["dash_log_redact"])

    def test_common_secret_forms_are_redacted(self):
        secrets = {
            "db password=hunter2 ok": "hunter2",
            "PASSWORD: 's3cr3t-value'": "s3cr3t-value",
            "export API_KEY=abcd1234efgh": "abcd1234efgh",
            '{"client_secret": "x9y8z7w6"}': "x9y8z7w6",
            "Authorization: Bearer abc.def.ghijklmnop": "ghijklmnop",
            "postgres://app:pa55w0rd@db:5432/x": "pa55w0rd",
            "key AKIAIOSFODNN7EXAMPLE here": "AKIAIOSFODNN7EXAMPLE",
            "token ghp_abcdefghijklmnopqrstuvwxyz0123456789": "ghp_abcdefghij",
            "slack xoxb-1234567890-abcdefghij": "xoxb-1234567890",
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N": "dozjgNryP4J3",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----": "MIIEowIBAAKCAQEA",
        }
        for line, secret in secrets.items():
            out = self.redact(line)
            self.assertNotIn(secret, out, line)
            self.assertIn("[redacted]", out, line)

    def test_ordinary_lines_are_left_alone(self):
        for line in [
            "normal line: connected to db at 10.0.0.1:5432",
            "tokens: 5 processed, authentication module loaded",
            "auth ok for user bob",
            "GET /api/v1/keys 200 12ms",
        ]:
            self.assertEqual(self.redact(line), line)


class LogTail(unittest.TestCase):
    def test_last_lines_within_the_byte_limit_and_whole(self):
        text = "\n".join(f"line {i:03d} " + "x" * 20 for i in range(100))
        self.assertEqual(module.tail(text, 3, 10_000).splitlines(), [f"line {i:03d} " + "x" * 20 for i in (97, 98, 99)])
        cut = module.tail(text, 50, 100)
        self.assertLessEqual(len(cut.encode()), 100)
        self.assertTrue(all(l.startswith("line ") and l.endswith("x" * 20) for l in cut.splitlines()), cut)
        self.assertEqual(module.tail(text, 0, 10_000), "")

    def test_a_very_long_line_is_cut_not_dropped(self):
        text = "first\n" + "y" * 1_000_000 + " end\nlast"
        cut = module.tail(text, 20, 16384)
        lines = cut.splitlines()
        self.assertEqual([lines[0], lines[-1]], ["first", "last"], "the lines around it stay")
        self.assertEqual(lines[1], "y" * (4096 - 3) + "…")
        self.assertLessEqual(len(cut.encode()), 16384)
        # Cut inside a character: never half of one.
        self.assertEqual(module.tail("é" * 5000, 1, 400), "é" * 198 + "…")
        # A limit below the line limit still keeps the cut line.
        self.assertEqual(module.tail("z" * 10_000, 5, 4096), "z" * 4092 + "…")


class Clean(unittest.TestCase):
    def test_escapes_go_controls_show_and_text_stays(self):
        printed = (
            "<b>html</b> \x1b[1;31mred\x1b[0m \x1b]0;a title\x07shown \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ "
            "nul\x00here\r\nnext\rover \x7f\x85 é\tok"
        )
        self.assertEqual(module.clean(printed), "<b>html</b> red shown link nul\ufffdhere\nnext\nover \ufffd\ufffd é\tok")
        # tput sgr0 (a charset escape, then a CSI); an OSC cut short ends at its line;
        # a lone ESC is shown and takes nothing with it.
        self.assertEqual(module.clean("a\x1b(B\x1b[mb"), "ab")
        self.assertEqual(module.clean("\x1b]0;cut\nnext"), "\nnext")
        self.assertEqual(module.clean("\x1b]0;t\x1b[31mred"), "red")
        self.assertEqual(module.clean("end\x1b\nnext"), "end\ufffd\nnext")

    def test_colours_cannot_hide_a_secret_from_redaction(self):
        redact = module.Redactor(DEFAULTS["dash_log_redact"])
        coloured = "\x1b[36mpassword\x1b[0m=hunter2"
        self.assertNotIn("hunter2", redact(module.clean(coloured)))


class ReduceInspect(unittest.TestCase):
    def test_an_oom_kill_is_reported_as_such(self):
        # Captured from `docker inspect` of a container killed by the kernel's OOM
        # killer under `--memory 8m` (trimmed to the fields the module reads).
        captured = {"Id": "f00d", "RestartCount": 0, "HostConfig": {"RestartPolicy": {"Name": "no"}},
                    "State": {"Status": "exited", "Running": False, "OOMKilled": True, "Dead": False,
                              "ExitCode": 137, "Error": "", "StartedAt": "2026-11-25T16:20:00.1Z",
                              "FinishedAt": "2026-11-25T16:20:04.9Z"}}
        out = module.reduce_inspect(captured, module.Redactor([]))
        self.assertEqual((out["oom_killed"], out["exit_code"], out["finished_at"]), (True, 137, "2026-11-25T16:20:04.9Z"))
        running = {"Id": "c0de", "RestartCount": 7, "HostConfig": {"RestartPolicy": {"Name": "always"}},
                   "State": {"Status": "running", "OOMKilled": False, "ExitCode": 0,
                             "StartedAt": "2026-11-25T16:29:00Z", "FinishedAt": "0001-01-01T00:00:00Z"}}
        out = module.reduce_inspect(running, module.Redactor([]))
        self.assertEqual((out["oom_killed"], out["restart_count"], out["restart_policy"]), (False, 7, "always"))
        self.assertNotIn("exit_code", out, "a running container has no exit code to report")


def fake_docker(folder, hang_on_logs):
    """A docker that answers ps and inspect with one exited container and, for
    logs, hangs. Real Docker cannot be made to hang `docker logs` on demand."""
    ps = {"Names": "job", "Image": "x:1", "State": "exited", "Status": "Exited (1) 1 minute ago", "ID": "abc"}
    inspect = [{"Id": "abc", "Name": "/job", "RestartCount": 0, "HostConfig": {"RestartPolicy": {"Name": "no"}},
                "State": {"Status": "exited", "ExitCode": 1, "OOMKilled": False, "Error": "",
                          "StartedAt": "2026-11-25T16:20:00Z", "FinishedAt": "2026-11-25T16:21:00Z"}}]
    # The secret in colour, as a logger with colours on prints it.
    logs = "exec sleep 600" if hang_on_logs else 'printf "job: \\033[36mpassword\\033[0m=topsecret\\n"; echo job: failed'
    path = Path(folder) / "docker"
    path.write_text(
        "#!/bin/sh\n"
        f"case \"$1\" in\n"
        f"  ps) echo '{json.dumps(ps)}' ;;\n"
        f"  inspect) echo '{json.dumps(inspect)}' ;;\n"
        f"  logs) {logs} ;;\n"
        "esac\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def run_module(args):
    """The module as Ansible runs it: `ansible localhost -m dash_docker_ps`."""
    started = time.monotonic()
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible"), "localhost", "-c", "local", "-M", str(MODULES),
         "-m", "dash_docker_ps", "-a", json.dumps(args), "-o"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "false"},
    )
    took = time.monotonic() - started
    line = out.stdout.strip().splitlines()[-1]
    head, body = line.split(" => ", 1)
    result = json.loads(body)
    result["failed"] = "FAILED" in head
    return result, took


class Deadline(unittest.TestCase):
    def test_a_hanging_docker_logs_is_cut_by_the_same_timeout_and_the_listing_kept(self):
        with tempfile.TemporaryDirectory() as d:
            # 5 s: enough for the fake ps and inspect on a busy machine, so that it is
            # the hung logs that the deadline cuts.
            result, took = run_module({"timeout": 5, "docker": fake_docker(d, hang_on_logs=True)})
        self.assertFalse(result.get("failed"), result)
        self.assertEqual(result["docker_rc"], 0)
        self.assertTrue(result["timed_out"])
        self.assertEqual(result["error"], "docker logs did not answer within 5 s")
        self.assertEqual([c["name"] for c in result["containers"]], ["job"], "the listing is kept")
        self.assertEqual(result["containers"][0]["logs"], "[no log lines: docker logs did not answer within 5 s]")
        self.assertLess(took, 30, "the module waited for the hung docker logs")

    def test_logs_are_gathered_and_redacted_on_the_host(self):
        with tempfile.TemporaryDirectory() as d:
            result, _ = run_module({"timeout": 10, "docker": fake_docker(d, hang_on_logs=False),
                                    "redact": DEFAULTS["dash_log_redact"]})
        job = result["containers"][0]
        self.assertEqual(job["logs"], "job: [redacted]\njob: failed")
        self.assertEqual((job["exit_code"], job["finished_at"], job["restart_policy"]), (1, "2026-11-25T16:21:00Z", "no"))

    def test_log_lines_zero_gathers_no_logs(self):
        with tempfile.TemporaryDirectory() as d:
            result, _ = run_module({"timeout": 10, "docker": fake_docker(d, hang_on_logs=True), "log_lines": 0})
        self.assertFalse(result["timed_out"], "docker logs was called")
        job = result["containers"][0]
        self.assertEqual(job["exit_code"], 1, "inspect still ran")
        self.assertNotIn("logs", job)

    def test_without_inspect_only_the_listing_is_gathered(self):
        with tempfile.TemporaryDirectory() as d:
            result, _ = run_module({"timeout": 10, "docker": fake_docker(d, hang_on_logs=True), "inspect": False})
        self.assertFalse(result["timed_out"], "docker logs was called")
        job = result["containers"][0]
        self.assertEqual((job["name"], job["state"]), ("job", "exited"))
        for key in ("exit_code", "restart_count", "logs"):
            self.assertNotIn(key, job, "docker inspect was called")

    def test_a_bad_redaction_pattern_fails_the_task_with_its_text(self):
        with tempfile.TemporaryDirectory() as d:
            result, _ = run_module({"docker": fake_docker(d, hang_on_logs=False), "redact": ["(unclosed"]})
        self.assertTrue(result.get("failed"), result)
        self.assertIn("'(unclosed' is not a regular expression", result["msg"])


if __name__ == "__main__":
    unittest.main()
