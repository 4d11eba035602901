# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: write when every task of the run started, and what its results were, to
$BENCH_TASK_TIMELINE_OUT (JSON).

The benchmark (benchmarks/run.py) splits a run's wall time with it: start-up, each module task, each group of small
tasks, and the end; and counts the run's task results and the module processes it started. It only reads; the
playbook's own output is unchanged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: task_timeline
type: aggregate
short_description: Record when each task started
description:
  - 'Writes C({"tasks": [{"name": NAME, "action": ACTION, "file": FILE, "started": EPOCH}], "results": [{"action": ACTION,
    "status": ok|failed|skipped|unreachable, "item": BOOL, "loop": BOOL}], "ended": EPOCH}) to the file named by
    E(BENCH_TASK_TIMELINE_OUT) when the playbook ends.'
  - A result is what a callback receives for one host of one task, and for each item of a loop; a loop's own result
    (C(loop) true) only gathers its items' results.'
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
        self.results = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        path = task.get_path() or ""
        self.tasks.append(dict(name=task.get_name(), action=task.action, file=os.path.basename(path.rsplit(":", 1)[0]),
                               started=time.time()))

    def _result(self, result, status, item=False):
        # A loop's own result only gathers its items' results: "loop" tells it apart.
        self.results.append(dict(action=result._task.action, status=status, item=item,
                                 loop=not item and "results" in result._result))

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_runner_item_on_ok(self, result):
        self._result(result, "ok", item=True)

    def v2_runner_item_on_failed(self, result):
        self._result(result, "failed", item=True)

    def v2_runner_item_on_skipped(self, result):
        self._result(result, "skipped", item=True)

    def v2_playbook_on_stats(self, stats):
        out = os.environ.get("BENCH_TASK_TIMELINE_OUT")
        if out:
            with open(out, "w", encoding="utf-8") as handle:
                json.dump(dict(tasks=self.tasks, results=self.results, ended=time.time()), handle, indent=1)
