# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dedicated_hosts.failover.plugins.filter.report import report_timeline

MOVED = "i-0123456789abcdef0"
STUCK = "i-0fedcba9876543210"
COLD = "i-00000000000000001"
SKIPPED = "i-00000000000000002"


def entry(status, original_state, phase_times, end=None):
    return {"status": status, "originalState": original_state, "phaseTimes": phase_times, "endTime": end,
            "startTime": min(phase_times.values()), "instanceType": "m5.large", "targetHostId": "h-0fedcba9876543210"}


RECORD = {"instanceMigrations": {
    MOVED: entry("success", "running", {"pending": "2026-11-27T05:40:00Z", "stopping": "2026-11-27T05:40:10Z",
                                        "stopped": "2026-11-27T05:40:40Z", "placed": "2026-11-27T05:40:41Z",
                                        "starting": "2026-11-27T05:40:41Z", "running": "2026-11-27T05:41:01Z",
                                        "verified": "2026-11-27T05:41:02Z"}, "2026-11-27T05:41:02Z"),
    STUCK: entry("failed", "running", {"pending": "2026-11-27T05:40:00Z", "force-stopping": "2026-11-27T05:40:10Z",
                                       "stopped": "2026-11-27T05:40:20Z", "placed": "2026-11-27T05:40:21Z"}, "2026-11-27T05:40:50Z"),
    COLD: entry("success", "stopped", {"pending": "2026-11-27T05:40:00Z", "placed": "2026-11-27T05:40:12.000Z"}),
    SKIPPED: dict(entry("skipped", "running", {"pending": "2026-11-27T05:40:00Z"}), errorMessage="Auto Scaling group web"),
}}


def states(row):
    return [phase["state"] for phase in row["phases"]]


def test_a_resumed_run_draws_every_instance_from_the_record_alone():
    timeline = report_timeline([], RECORD)
    rows = dict((row["instance_id"], row) for row in timeline["instances"])
    assert sorted(rows) == sorted([MOVED, STUCK, COLD])
    assert timeline["skipped"] == [{"instance_id": SKIPPED, "reason": "Auto Scaling group web"}]
    assert timeline["started"] == "2026-11-27T05:40:10Z" and timeline["span_seconds"] == 51.0
    moved = rows[MOVED]
    assert states(moved) == ["done", "done", "done"]
    assert [(phase["offset_seconds"], phase["seconds"]) for phase in moved["phases"]] == [(0.0, 30.0), (30.0, 1.0), (31.0, 20.0)]
    # The start that never completed failed, from the end of the placement to the instance's end time.
    stuck = rows[STUCK]
    assert stuck["failed"] and states(stuck) == ["done", "done", "failed"]
    assert (stuck["phases"][2]["offset_seconds"], stuck["phases"][2]["seconds"]) == (11.0, 29.0)
    assert states(rows[COLD]) == ["not-needed", "done", "not-needed"]


def test_the_results_exact_durations_win_over_the_records_seconds():
    result = {"instance_id": MOVED, "status": "success", "original_state": "running",
              "timings": {"stop_seconds": 29.5, "placement_seconds": 0.25, "start_seconds": 19.75}}
    (row,) = [row for row in report_timeline([result], RECORD)["instances"] if row["instance_id"] == MOVED]
    assert [phase["seconds"] for phase in row["phases"]] == [29.5, 0.25, 19.75]
    # Each phase begins no earlier than the one before it ended.
    ends = [phase["offset_seconds"] + phase["seconds"] for phase in row["phases"]]
    assert all(after["offset_seconds"] >= end for after, end in zip(row["phases"][1:], ends))


def test_nothing_moved_gives_an_empty_timeline():
    assert report_timeline([], {}) == {"started": None, "span_seconds": 0.0, "instances": [], "skipped": []}
