# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The instance_placement module against the simulator."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import PROGRESS_FILE_ENV
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from ansible_collections.dedicated_hosts.failover.plugins.modules import instance_placement
from conftest import TABLE
from conftest import create_migration_table
from conftest import run_module_main

RUN_ID = "run-module-test"
STATE_CHANGING = ("StopInstances", "StartInstances", "ModifyInstancePlacement")


def world(simulator, failed_state="available", take_lease=True):
    ids = simulator.load_scenario(dict(
        seed=3,
        # No jitter: the two hung guests are forced in one call and stop together, so their starts share one call.
        latency=dict(jitter=0),
        hosts=[
            dict(name="failed", availability_zone="us-east-1a", instance_family="m5", state=failed_state),
            dict(name="target", availability_zone="us-east-1a", instance_family="m5", state="available"),
        ],
        instances=[
            dict(name="web", host="failed", instance_type="m5.large", count=2, state="running", hang_on_stop=True),
            dict(name="cold", host="failed", instance_type="m5.large", state="stopped"),
        ],
    ))
    dynamodb = create_migration_table(simulator.client("dynamodb"))
    if take_lease:
        MigrationRecord(dynamodb, TABLE, ids["hosts"]["failed"], RUN_ID).acquire(lease_seconds=60)
    simulator.control.reset_calls()
    return ids


def args(simulator, ids, **extra):
    params = dict(
        failed_host_id=ids["hosts"]["failed"],
        run_id=RUN_ID,
        placements=[
            dict(instance_id=instance_id, target_host_id=ids["hosts"]["target"])
            for name, instance_id in sorted(ids["instances"].items())
        ],
        poll_interval=0.05,
        force_stop_after=0.3,
        endpoint_url=simulator.endpoint,
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
    )
    params.update(extra)
    return params


def changing_calls(simulator):
    counts = simulator.control.calls()["counts"].get("ec2", {})
    return sum(counts.get(action, 0) for action in STATE_CHANGING)


def test_moves_every_instance(simulator):
    ids = world(simulator)
    failed, result = run_module_main(instance_placement, args(simulator, ids))
    assert not failed, result
    assert result["changed"] is True
    assert result["summary"]["success"] == 3 and result["summary"]["failed"] == 0
    assert result["summary"]["force_stopped"] == 2  # the hung guests were forced after force_stop_after
    assert result["force_stop_immediately"] is False
    by_id = dict((item["instance_id"], item) for item in result["instances"])
    assert by_id[ids["instances"]["cold"]]["final_state"] == "stopped"
    assert by_id[ids["instances"]["web-0"]]["final_state"] == "running"
    counts = simulator.control.calls()["counts"]
    assert counts["ec2"]["StartInstances"] == 1
    assert counts["ec2"]["DescribeHosts"] == 1  # to derive force_stop_immediately

    # Run again: everything is in place, nothing changes.
    simulator.control.reset_calls()
    failed, again = run_module_main(instance_placement, args(simulator, ids))
    assert not failed, again
    assert again["changed"] is False
    assert all(item["status"] == "success" and not item["changed"] for item in again["instances"])
    assert changing_calls(simulator) == 0


def test_under_assessment_host_forces_at_once(simulator):
    ids = world(simulator, failed_state="under-assessment")
    failed, result = run_module_main(instance_placement, args(simulator, ids, force_stop_after=60))
    assert not failed, result
    assert result["force_stop_immediately"] is True
    running = [item for item in result["instances"] if item["original_state"] == "running"]
    assert all(item["force_stop_used"] and item["status"] == "success" for item in running)
    assert simulator.control.calls()["counts"]["ec2"]["StopInstances"] == 1


def test_check_mode_changes_nothing(simulator):
    ids = world(simulator)
    failed, result = run_module_main(instance_placement, args(simulator, ids), check_mode=True)
    assert not failed, result
    assert result["changed"] is True
    assert all(item["planned_actions"] for item in result["instances"])
    assert changing_calls(simulator) == 0
    dynamodb = simulator.control.calls()["counts"].get("dynamodb", {})
    assert not dynamodb.get("UpdateItem") and not dynamodb.get("PutItem")


def test_bad_ids_fail_before_any_call(simulator):
    ids = world(simulator)
    params = args(simulator, ids)
    params["placements"][0]["instance_id"] = "i-123"
    failed, result = run_module_main(instance_placement, params)
    assert failed
    assert "i-123" in result["msg"] and "malformed" in result["msg"]
    assert simulator.control.calls()["total"] == 0

    params = args(simulator, ids, failed_host_id="h-nothex")
    failed, result = run_module_main(instance_placement, params)
    assert failed and "h-nothex" in result["msg"]
    assert simulator.control.calls()["total"] == 0


def test_lease_not_held_fails_clearly(simulator):
    ids = world(simulator, take_lease=False)
    dynamodb = simulator.client("dynamodb")
    MigrationRecord(dynamodb, TABLE, ids["hosts"]["failed"], "run-someone-else").acquire(lease_seconds=60)
    simulator.control.reset_calls()
    failed, result = run_module_main(instance_placement, args(simulator, ids))
    assert failed
    assert "run-someone-else" in result["msg"]
    assert changing_calls(simulator) == 0


@pytest.mark.parametrize("concurrency", [0, -3])
def test_concurrency_zero_or_negative_is_refused_before_any_call(simulator, concurrency):
    ids = world(simulator)
    failed, result = run_module_main(instance_placement, args(simulator, ids, concurrency=concurrency))
    assert failed
    assert "concurrency must be 1 or more" in result["msg"] and "got %d" % concurrency in result["msg"]
    assert simulator.control.calls()["total"] == 0


def test_an_unknown_option_is_refused_before_any_call(simulator):
    ids = world(simulator)
    failed, result = run_module_main(instance_placement, args(simulator, ids, concurency=4))
    assert failed
    assert "Unsupported parameters" in result["msg"] and "concurency" in result["msg"]
    assert simulator.control.calls()["total"] == 0


def test_progress_lines_are_written_by_default_and_none_with_progress_false(simulator, tmp_path, monkeypatch):
    progress_file = tmp_path / "progress"
    monkeypatch.setenv(PROGRESS_FILE_ENV, str(progress_file))
    ids = world(simulator)
    failed_host = ids["hosts"]["failed"]

    failed, result = run_module_main(instance_placement, args(simulator, ids))
    assert not failed, result
    assert result["summary"]["success"] == 3, result
    lines = progress_file.read_text().splitlines()
    assert lines[-1].startswith("%s: 3/3 instances done (3 success) after " % failed_host), lines
    assert any("moving:" in line for line in lines), lines

    # A second host's move with the lines off: the same move and result, and nothing written.
    progress_file.unlink()
    ids = world(simulator)
    failed, quiet = run_module_main(instance_placement, args(simulator, ids, progress=False))
    assert not failed, quiet
    assert quiet["summary"]["success"] == 3 and quiet["changed"] is True, quiet
    assert not progress_file.exists()


def test_without_placements_a_record_with_no_plan_is_refused_before_any_change(simulator):
    ids = world(simulator)
    params = args(simulator, ids)
    del params["placements"]
    failed, result = run_module_main(instance_placement, params)
    assert failed
    assert "the migration record of %s holds no plan" % ids["hosts"]["failed"] in result["msg"]
    assert changing_calls(simulator) == 0


def test_a_malformed_instance_id_in_instance_ids_fails_before_any_call(simulator):
    ids = world(simulator)
    failed, result = run_module_main(instance_placement, args(simulator, ids, instance_ids=["i-123"]))
    assert failed
    assert "instance_ids[0]" in result["msg"] and "malformed" in result["msg"]
    assert simulator.control.calls()["total"] == 0


def test_instance_ids_moves_only_those_instances_of_the_placements(simulator):
    ids = world(simulator)
    failed, result = run_module_main(instance_placement, args(simulator, ids, instance_ids=[ids["instances"]["cold"]]))
    assert not failed, result
    assert [item["instance_id"] for item in result["instances"]] == [ids["instances"]["cold"]]
