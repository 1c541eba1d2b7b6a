"""An Ansible callback for the end-to-end test: when each task started, one line
per task (`<unix time> <task name>`) in the file E2E_TASK_TIMES names, so that
tests/e2e/check.py can time the gathering task itself, not Ansible's start-up.
Enabled by run.sh with ANSIBLE_CALLBACK_PLUGINS and ANSIBLE_CALLBACKS_ENABLED.
"""

import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_times
type: aggregate
short_description: notes when each task starts (tests/e2e)
description: Appends `<unix time> <task name>` to the file named by E2E_TASK_TIMES.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task, is_conditional):
        path = os.environ.get("E2E_TASK_TIMES")
        if path:
            with open(path, "a") as f:
                f.write(f"{time.time():.3f} {task.get_name()}\n")
