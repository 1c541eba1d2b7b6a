"""The dashboard playbook refuses wrong variables before it touches any host.

Runs the real `ansible-playbook playbooks/cwds-dash.yml` (the collection's
playbook, found next to it) against an inventory of three SSH hosts whose
`ssh` is a stand-in that writes down every call and fails it. A wrong value,
given with -e or in the inventory, must stop the run with the validation's own
message, with no `ssh` call at all and no file written; the right values must
get as far as every host (so the stand-in would have seen a contact).

    .venv/bin/python -m unittest discover -s tests/playbook   (scripts/test runs it)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks/cwds-dash.yml"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
# The environment hosts and their addresses (TEST-NET-1: nothing answers there).
ADDRESSES = {"app-1.alpha.test": "192.0.2.11", "app-2.alpha.test": "192.0.2.12", "app-1.beta.test": "192.0.2.13"}

FAKE_SSH = """#!/bin/sh
# Stands in for ssh: notes the call, then fails it as an unreachable host does.
printf '%s\\n' "$*" >>"$(dirname "$0")/ssh-calls.log"
echo "ssh: connect to host: stand-in for the test" >&2
exit 255
"""


class Run:
    """One ansible-playbook run in a fresh folder; `beta_vars` are YAML lines for
    the beta group, `host_vars` for app-1.beta.test."""

    def __init__(self, *extra, beta_vars="", host_vars=""):
        self.dir = Path(tempfile.mkdtemp(prefix="envdash-validation-"))
        ssh = self.dir / "ssh"
        ssh.write_text(FAKE_SSH)
        ssh.chmod(0o755)
        inventory = self.dir / "inventory.yml"
        inventory.write_text(f"""\
all:
  vars:
    ansible_connection: ssh
    ansible_ssh_executable: {ssh}
    ansible_python_interpreter: /usr/bin/python3
  hosts:
    localhost: {{ansible_connection: local, ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"}}
  children:
    dash_envs:
      children:
        alpha:
          vars: {{dash_env: e-alpha}}
          hosts:
            app-1.alpha.test: {{ansible_host: {ADDRESSES['app-1.alpha.test']}}}
            app-2.alpha.test: {{ansible_host: {ADDRESSES['app-2.alpha.test']}}}
        beta:
          vars:
            dash_env: e-beta
{beta_vars}
          hosts:
            app-1.beta.test:
              ansible_host: {ADDRESSES['app-1.beta.test']}
{host_vars}
""")
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "playbooks/ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(self.dir / "tmp"),
            # Only the collection next to the playbook: no copy installed elsewhere.
            "ANSIBLE_COLLECTIONS_PATH": str(self.dir / "no-collections"),
        }
        self.envs = self.dir / "envs"
        out = subprocess.run(
            [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(PLAYBOOK),
             "-e", f"dash_input_dir={self.envs}", "-e", f"dash_site_dir={self.dir / 'site'}",
             "-e", f"dash_envdash_bin={shutil.which('true')}", *extra],
            capture_output=True, text=True, timeout=300, env=env, cwd=self.dir,
        )
        self.rc, self.stdout, self.stderr = out.returncode, out.stdout, out.stderr
        calls = self.dir / "ssh-calls.log"
        self.ssh_calls = calls.read_text().splitlines() if calls.exists() else []
        self.env_files = {p.name: p.read_text() for p in self.envs.glob("*.txt")} if self.envs.exists() else None
        # Task names without their role (`TASK [cwds.envdash.dash : name]`).
        self.tasks = re.findall(r"^TASK \[(?:\S+ : )?(.*?)\] \*", self.stdout, re.M)
        # `fatal: [host]: FAILED! => {...}`: the failed result as JSON.
        self.failures = {
            host: json.loads(body)
            for host, body in re.findall(r"^fatal: \[(.*?)\]: FAILED! => (\{.*\})$", self.stdout, re.M)
        }
        shutil.rmtree(self.dir)

    def __str__(self):
        return f"rc {self.rc}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


class WrongValuesStopTheRunBeforeAnyHost(unittest.TestCase):
    def assert_stopped_untouched(self, run, failed_hosts):
        self.assertNotEqual(run.rc, 0, run)
        self.assertEqual(run.ssh_calls, [], f"a host was contacted\n{run}")
        self.assertEqual(sorted(run.failures), sorted(failed_hosts), run)
        self.assertNotIn("List every container with docker ps -a, inspect and logs", run.tasks, run)
        self.assertIsNone(run.env_files, "environment files were written")

    def test_a_word_for_a_boolean_on_the_command_line(self):
        run = Run("-e", '{"dash_docker_become": "yes please"}')
        self.assert_stopped_untouched(run, ["localhost"])
        msg = run.failures["localhost"]["msg"]
        self.assertTrue(msg.startswith("Validation of arguments failed:"), msg)
        self.assertIn("argument 'dash_docker_become' is of type str and we were unable to convert to bool", msg)
        self.assertIn("The value 'yes please' is not a valid boolean", msg)

    def test_a_number_for_a_bucket_name(self):
        # JSON: a number (-e dash_bucket=42 would be the text "42", which is text).
        run = Run("-e", '{"dash_bucket": 42}')
        self.assert_stopped_untouched(run, ["localhost"])
        msg = run.failures["localhost"]["msg"]
        self.assertIn("Not text: dash_bucket is 42 (int). These variables are of type str", msg)

    def test_a_word_for_a_number(self):
        run = Run("-e", "dash_docker_ps_timeout=soon")
        self.assert_stopped_untouched(run, ["localhost"])
        msg = run.failures["localhost"]["msg"]
        self.assertIn("argument 'dash_docker_ps_timeout' is of type str and we were unable to convert to int", msg)

    def test_a_wrong_host_variable_stops_every_host(self):
        run = Run(host_vars='              dash_docker_become: "yes please"')
        self.assert_stopped_untouched(run, ["app-1.beta.test"])
        msg = run.failures["app-1.beta.test"]["msg"]
        self.assertIn("argument 'dash_docker_become' is of type str and we were unable to convert to bool", msg)
        # The right hosts stopped too: none went on to the second check (only the
        # controller's play got there).
        self.assertEqual(run.tasks.count("Check that the text variables hold text"), 1, run)

    def test_a_number_for_an_environment_name_in_a_group(self):
        run = Run(beta_vars="            dash_env: 2026")
        self.assert_stopped_untouched(run, ["app-1.beta.test"])
        self.assertIn("Not text: dash_env is 2026 (int)", run.failures["app-1.beta.test"]["msg"])


class RightValuesReachEveryHost(unittest.TestCase):
    def test_the_checks_pass_and_every_host_is_asked(self):
        # The same kinds of values, right: the stand-in ssh must then see every
        # host, or its silence above would prove nothing.
        run = Run("-e", '{"dash_docker_become": true, "dash_bucket": "", "dash_docker_ps_timeout": 5}',
                  host_vars="              dash_docker_become: false")
        self.assertEqual(run.rc, 0, run)
        self.assertEqual(run.failures, {}, run)
        self.assertEqual(run.tasks.count("Check that the text variables hold text"), 2, run)
        contacted = sorted(host for host, address in ADDRESSES.items() if any(address in c for c in run.ssh_calls))
        self.assertEqual(contacted, sorted(ADDRESSES), f"the stand-in ssh saw {run.ssh_calls}")
        # Unreachable hosts are data: each one is a row of its environment's file.
        self.assertEqual(sorted(run.env_files), ["e-alpha.txt", "e-beta.txt"], run)
        for host in ADDRESSES:
            env = "e-alpha.txt" if "alpha" in host else "e-beta.txt"
            self.assertRegex(run.env_files[env], rf'(?m)^"{re.escape(host)}","","","unreachable"', run.env_files)


if __name__ == "__main__":
    unittest.main()
