# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dedicated_hosts.failover.plugins.filter import report

MOVED = {
    "instance_id": "i-0123456789abcdef0",
    "instance_type": "m5.large",
    "source_host_id": "h-0123456789abcdef0",
    "target_host_id": "h-0fedcba9876543210",
    "original_state": "running",
    "final_state": "running",
    "status": "success",
    "timings": {"total_seconds": 31.25},
    "attempts": 1,
    "force_stop_used": True,
    "public_ip_before": "3.3.3.3",
    "public_ip_after": "4.4.4.4",
    "error": None,
}
FAILED = dict(MOVED, instance_id="i-89abcdef", status="failed", final_state="stopped", force_stop_used=False,
              public_ip_before=None, public_ip_after=None, error="StartInstances failed: InsufficientInstanceCapacity")


def test_summary_table_aligns_one_line_per_instance():
    lines = report.summary_table([MOVED, FAILED])
    assert len(lines) == 3
    assert lines[0].startswith("instance")
    assert lines[1].index("m5.large") == lines[2].index("m5.large") == lines[0].index("type")
    assert "3.3.3.3 -> 4.4.4.4" in lines[1]
    assert "InsufficientInstanceCapacity" in lines[2]


def test_summary_markdown_has_a_row_per_instance():
    table = report.summary_markdown([MOVED, FAILED]).splitlines()
    assert table[0].startswith("| instance |")
    assert len(table) == 4
    assert "| failed |" in table[3]


def test_instance_line_names_force_stop_ip_change_and_error():
    assert "force-stopped" in report.instance_line(MOVED)
    assert "public IP 3.3.3.3 -> 4.4.4.4" in report.instance_line(MOVED)
    assert report.instance_line(FAILED).endswith("InsufficientInstanceCapacity")


def test_plan_lines_cover_placements_skips_allocations_and_misfits():
    plan = {
        "placements": [{"instance_id": "i-01234567", "instance_type": "m5.large", "target_host_id": "h-89abcdef", "target_source": "pool"}],
        "skipped": [{"instance_id": "i-11111111", "reason": "instance-store root device"}],
        "allocated_host_ids": ["h-22222222"],
        "unplaced": [{"instance_id": "i-33333333", "reason": "no m5.24xlarge room"}],
    }
    lines = report.plan_lines(plan)
    assert lines == [
        "i-01234567 (m5.large) -> h-89abcdef (pool host)",
        "i-11111111 skipped: instance-store root device",
        "new host h-22222222 allocated for this failover",
        "i-33333333 has no place: no m5.24xlarge room",
    ]
    assert report.plan_lines({}) == ["nothing to move"]


def test_summary_message_counts_what_a_cancel_left():
    summary = {"totalInstances": 3, "successfulMigrations": 1, "failedMigrations": 0, "skippedMigrations": 0, "cancelledMigrations": 2}
    message = report.summary_message([MOVED], "h-01234567", "cancelled", summary, "cancel requested by alice", "resume later")
    assert "Instances: 3 total, 1 moved, 0 failed, 0 skipped, 2 left where they were by the cancel" in message


def test_summary_message_lists_each_instance_and_the_next_step_on_failure():
    message = report.summary_message([MOVED, FAILED], "h-01234567", "failed",
                                     {"totalInstances": 2, "successfulMigrations": 1, "failedMigrations": 1}, "", "rerun")
    assert "FAILED" in message.splitlines()[0]
    assert "Instances: 2 total, 1 moved, 1 failed, 0 skipped" in message
    assert "i-89abcdef failed" in message
    assert message.endswith("Next: rerun")


def test_plan_lines_show_each_hosts_reservation_and_a_new_hosts_allocation_time_and_price():
    plan = {"placements": [], "allocated_host_ids": ["h-22222222"], "hosts": [
        {"host_id": "h-11111111", "role": "failed", "reservation_id": "hr-0123456789abcdef0"},
        {"host_id": "h-33333333", "role": "target", "reservation_id": None},
        {"host_id": "h-44444444", "role": "pool", "reservation_id": "hr-1"},
        {"host_id": "h-22222222", "role": "new", "reservation_id": None, "allocation_time": "2026-11-27T09:00:00Z",
         "price_class": "on-demand", "hourly_price": 5.069},
        {"host_id": "new-1", "role": "new", "reservation_id": None, "allocation_time": None, "price_class": "on-demand",
         "hourly_price": None},
        {"host_id": "h-55555555", "role": "new", "reservation_id": "hr-2", "allocation_time": "2026-11-27T09:00:00Z",
         "price_class": "reserved", "hourly_price": None},
    ]}
    assert report.plan_lines(plan) == [
        "failed host h-11111111: reserved (hr-0123456789abcdef0), it keeps its reservation",
        "named target host h-33333333: no reservation",
        "pool host h-44444444: reserved (hr-1)",
        "new host h-22222222 allocated at 2026-11-27T09:00:00Z: on-demand, 5.069 USD/hour",
        "new host new-1 (to be allocated): on-demand, price unknown",
        "new host h-55555555 allocated at 2026-11-27T09:00:00Z: reserved (hr-2)",
    ]


SKIPPED = dict(MOVED, instance_id="i-01234567", status="skipped", target_host_id=None, reason="instance-store root device")
UNTOUCHED = dict(MOVED, instance_id="i-76543210", status="untouched", target_host_id=None, reason=report.UNTOUCHED_REASON)


def test_left_on_failed_host_counts_skipped_and_untouched_instances():
    assert report.left_on_failed_host([MOVED, FAILED], "h-01234567") == ""
    assert report.left_on_failed_host([MOVED, SKIPPED, dict(SKIPPED, instance_id="i-01234568")], "h-01234567") == \
        "2 instance(s) left on failed host h-01234567: skipped"
    assert report.left_on_failed_host([SKIPPED, UNTOUCHED, UNTOUCHED], "h-01234567") == \
        "3 instance(s) left on failed host h-01234567: 1 skipped, 2 untouched (not in instance_ids)"


def test_summary_headline_puts_what_stays_on_the_host_in_the_first_line():
    assert report.summary_headline([MOVED], "h-01234567", "succeeded") == "Failover of h-01234567: SUCCEEDED"
    assert report.summary_headline([MOVED, SKIPPED], "h-01234567", "planned", check_mode=True) == (
        "Failover of h-01234567: PLANNED (check mode: nothing was changed); 1 instance(s) left on failed host h-01234567: skipped")
    message = report.summary_message([MOVED, SKIPPED], "h-01234567", "succeeded", {}, "", "nothing")
    assert message.splitlines()[0] == "Failover of Dedicated Host h-01234567: SUCCEEDED; 1 instance(s) left on failed host h-01234567: skipped"


def test_untouched_results_are_the_hosts_instances_that_instance_ids_leaves_out():
    instances = [{"instance_id": "i-0000000b", "instance_type": "m5.large", "state": "stopped"},
                 {"instance_id": "i-0000000a", "instance_type": "m5.xlarge", "state": "running"}]
    assert report.untouched_results(instances, [], "h-01234567") == []
    assert report.untouched_results(instances, ["i-0000000a"], "h-01234567") == [
        {"instance_id": "i-0000000b", "instance_type": "m5.large", "status": "untouched", "source_host_id": "h-01234567",
         "target_host_id": None, "original_state": "stopped", "final_state": "stopped", "reason": report.UNTOUCHED_REASON}]


def test_the_timeline_lists_untouched_instances_with_the_skipped_ones():
    timeline = report.report_timeline([UNTOUCHED], {"instanceMigrations": {}})
    assert (timeline["instances"], timeline["skipped"]) == ([], [{"instance_id": "i-76543210", "reason": report.UNTOUCHED_REASON}])
