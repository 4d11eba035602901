# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: write when every task of the run started to $BENCH_TASK_TIMELINE_OUT (JSON).

The benchmark (benchmarks/run.py) splits a run's wall time with it: start-up, each module task, each group of small
tasks, and the end. It only reads; the playbook's own output is unchanged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: task_timeline
type: aggregate
short_description: Record when each task started
description:
  - 'Writes C({"tasks": [{"name": NAME, "action": ACTION, "file": FILE, "started": EPOCH}], "ended": EPOCH}) to the
    file named by E(BENCH_TASK_TIMELINE_OUT) when the playbook ends.'
requirements:
  - enabled in callbacks_enabled
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.tasks = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        path = task.get_path() or ""
        self.tasks.append(dict(name=task.get_name(), action=task.action, file=os.path.basename(path.rsplit(":", 1)[0]),
                               started=time.time()))

    def v2_playbook_on_stats(self, stats):
        out = os.environ.get("BENCH_TASK_TIMELINE_OUT")
        if out:
            with open(out, "w", encoding="utf-8") as handle:
                json.dump(dict(tasks=self.tasks, ended=time.time()), handle, indent=1)
