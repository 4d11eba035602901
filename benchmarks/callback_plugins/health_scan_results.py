# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: write what every host_health_info task found to $BENCH_HEALTH_SCAN_OUT (JSON).

The fleet scan benchmark (benchmarks/run.py, B5) compares it with what the fleet generated, whichever playbook ran
the scan. It only reads results; the playbook's own output is unchanged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: health_scan_results
type: aggregate
short_description: Record the health class of every host a host_health_info task returned
description:
  - 'Writes C({"scans": [{"hosts": {HOST_ID: HEALTH}, "summary": {HEALTH: COUNT}}]}) to the file named by
    E(BENCH_HEALTH_SCAN_OUT) when the playbook ends.'
requirements:
  - enabled in callbacks_enabled
"""

import json
import os

from ansible.plugins.callback import CallbackBase

MODULE = "host_health_info"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "health_scan_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.scans = []

    def v2_runner_on_ok(self, result):
        if not result._task.action.endswith(MODULE):  # pylint: disable=protected-access
            return
        data = result._result  # pylint: disable=protected-access
        for one in data.get("results", [data]):
            if "hosts" in one:
                self.scans.append({"hosts": dict((host["host_id"], host["health"]) for host in one["hosts"]),
                                   "summary": one.get("summary", {})})

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BENCH_HEALTH_SCAN_OUT")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"scans": self.scans}, handle)
