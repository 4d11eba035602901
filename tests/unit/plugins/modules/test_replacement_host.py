# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replacement_host module, driven through main() against the project's simulator."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import claims
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from ansible_collections.dedicated_hosts.failover.plugins.modules import replacement_host
from conftest import TABLE
from conftest import create_migration_table
from conftest import run_module_main

RUN_ID = "run-0000000000000001"
SCENARIO = {
    "hosts": [
        {"name": "failed", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "permanent-failure",
         "tags": {"Name": "app-host-1", "Team": "web"}},
        {"name": "pool", "availability_zone": "us-east-1a", "instance_family": "m5", "tags": {"Role": "Reserved"}},
    ],
    "instances": [
        {"name": "web", "host": "failed", "instance_type": "m5.8xlarge", "count": 2},
        {"name": "api", "host": "failed", "instance_type": "m5.4xlarge"},
    ],
}


@pytest.fixture
def world(simulator):  # pylint: disable=redefined-outer-name
    names = simulator.load_scenario(SCENARIO)
    dynamodb = simulator.client("dynamodb")
    create_migration_table(dynamodb)
    names["dynamodb"] = dynamodb
    names["ec2"] = simulator.client("ec2")
    names["failed"] = names["hosts"]["failed"]
    names["pool"] = names["hosts"]["pool"]
    names["sim"] = simulator
    return names


def run_module(world, args, check_mode=False):  # pylint: disable=redefined-outer-name
    """main() with ``args`` against the simulator; returns (failed, result)."""
    args = dict(args, endpoint_url=world["sim"].endpoint, region="us-east-1")
    args.setdefault("allocation_retry_delay", 0)
    return run_module_main(replacement_host, args, check_mode)


def take_lease(world):  # pylint: disable=redefined-outer-name
    MigrationRecord(world["dynamodb"], TABLE, world["failed"], RUN_ID).acquire(lease_seconds=60)


def test_plans_claims_and_allocates(world):  # pylint: disable=redefined-outer-name
    take_lease(world)
    failed, result = run_module(world, dict(failed_host_id=world["failed"], run_id=RUN_ID, max_new_hosts=1))
    assert not failed, result
    assert result["changed"] is True
    plan = result["plan"]
    # Two 8xlarge fill the pool host's sockets' 16-core slots; the 4xlarge still fits beside them.
    assert plan["pool_host_ids"] == [world["pool"]]
    assert plan["allocated_host_ids"] == []
    assert sorted(entry["target_host_id"] for entry in plan["placements"]) == [world["pool"]] * 3
    assert set(plan["placements"][0]) == {"instance_id", "instance_type", "target_host_id", "target_source", "original_state",
                                          "notes", "lift_stop_protection"}
    assert result["failed_host"]["instance_family"] == "m5"
    assert claims.claims_for(world["dynamodb"], TABLE, world["failed"]) == [world["pool"]]
    assert get_record(world["dynamodb"], TABLE, world["failed"])["ReservedHostId"] == world["pool"]

    failed, again = run_module(world, dict(failed_host_id=world["failed"], run_id=RUN_ID, max_new_hosts=1))
    assert not failed, again
    assert again["changed"] is False
    assert again["plan"] == plan


def test_allocates_when_the_pool_tags_do_not_match(world):  # pylint: disable=redefined-outer-name
    take_lease(world)
    failed, result = run_module(world, dict(failed_host_id=world["failed"], run_id=RUN_ID, reserved_tags={"Role": "Spare"}))
    assert not failed, result
    assert len(result["plan"]["allocated_host_ids"]) == 1
    assert result["plan"]["client_token"] == "failover-%s-v1" % world["failed"]
    tags = world["ec2"].describe_hosts(HostIds=result["plan"]["allocated_host_ids"])["Hosts"][0]["Tags"]
    assert dict((tag["Key"], tag["Value"]) for tag in tags) == {
        "Name": "app-host-1", "Team": "web", "FailoverFor": world["failed"], "FailoverAllocatedFor": world["failed"]}


def test_check_mode_needs_no_run_and_changes_nothing(world):  # pylint: disable=redefined-outer-name
    failed, result = run_module(world, dict(failed_host_id=world["failed"], reserved_tags={"Role": "Spare"}), check_mode=True)
    assert not failed, result
    assert result["changed"] is False
    assert result["plan"]["allocated_host_ids"] == ["new-1"]
    assert result["plan"]["would_allocate"] == [{
        "instance_family": "m5", "quantity": 1, "availability_zone": "us-east-1a",
        "client_token": "failover-%s-v1" % world["failed"], "placeholder_host_ids": ["new-1"]}]
    assert world["sim"].control.call_count("ec2", "AllocateHosts") == 0
    assert get_record(world["dynamodb"], TABLE, world["failed"]) is None


def test_capacity_error_lists_the_instances(world):  # pylint: disable=redefined-outer-name
    take_lease(world)
    failed, result = run_module(world, dict(failed_host_id=world["failed"], run_id=RUN_ID, reserved_tags={"Role": "Spare"},
                                            allocate_hosts=False))
    assert failed
    assert "allocate_hosts is false" in result["msg"]
    assert len(result["unplaced"]) == 3
    assert set(result["unplaced"][0]) == {"instance_id", "instance_type", "reason"}


def test_allocation_failure_names_the_quota(world):  # pylint: disable=redefined-outer-name
    take_lease(world)
    world["sim"].control.set_quota(family="m5", limit=2)
    failed, result = run_module(world, dict(failed_host_id=world["failed"], run_id=RUN_ID, reserved_tags={"Role": "Spare"},
                                            allocation_attempts=2))
    assert failed
    assert result["quota"] == "Running Dedicated m5 Hosts"
    assert "HostLimitExceeded" in result["msg"]


@pytest.mark.parametrize("args,check_mode,expected", [
    (dict(failed_host_id="h-123"), True, "failed_host_id"),
    (dict(failed_host_id="h-0123456789abcdef0"), False, "run_id is required"),
    (dict(failed_host_id="h-0123456789abcdef0", instances=["i-xyz"]), True, "i-xyz"),
    (dict(failed_host_id="h-0123456789abcdef0", run_id=RUN_ID, max_new_hosts=-1), False, "max_new_hosts"),
    (dict(failed_host_id="h-0123456789abcdef0", target_host_ids=["h-xyz"]), True, "target_host_ids item"),
    (dict(failed_host_id="h-0123456789abcdef0", host_hourly_prices={"m5": "cheap"}), True, "host_hourly_prices"),
    (dict(action="settle"), True, "failed_host_id is required for action=settle"),
    (dict(action="settle", failed_host_id="h-0123456789abcdef0"), False, "run_id is required"),
    (dict(action="release_unused", release_host_ids=["h-nope"]), True, "release_host_ids item"),
])
def test_bad_input_is_refused_before_any_call(world, args, check_mode, expected):  # pylint: disable=redefined-outer-name
    world["sim"].control.reset_calls()
    failed, result = run_module(world, args, check_mode=check_mode)
    assert failed
    assert expected in result["msg"]
    assert world["sim"].control.calls()["total"] == 0


def test_without_a_record_the_lease_must_be_taken_first(world):  # pylint: disable=redefined-outer-name
    failed, result = run_module(world, dict(failed_host_id=world["failed"], run_id=RUN_ID))
    assert failed
    assert "take its lease first" in result["msg"]


def test_a_lease_held_by_another_run_is_refused(world):  # pylint: disable=redefined-outer-name
    take_lease(world)
    failed, result = run_module(world, dict(failed_host_id=world["failed"], run_id="run-someone-else"))
    assert failed
    assert world["sim"].control.call_count("ec2", "AllocateHosts") == 0
    assert claims.claims_for(world["dynamodb"], TABLE, world["failed"]) == []


def test_settle_after_the_plan_tags_the_failed_host_and_retags_the_pool_host(world):  # pylint: disable=redefined-outer-name
    take_lease(world)
    failed, planned = run_module(world, dict(failed_host_id=world["failed"], run_id=RUN_ID, max_new_hosts=1))
    assert not failed, planned
    failed, preview = run_module(world, dict(action="settle", failed_host_id=world["failed"], planned=planned["plan"],
                                             release_failed_host=True), check_mode=True)
    assert not failed, preview
    assert preview["changed"] is False
    assert "would tag the failed host %s FailoverOutcome=succeeded" % world["failed"] in preview["settlement"]["lines"]

    failed, result = run_module(world, dict(action="settle", failed_host_id=world["failed"], run_id=RUN_ID,
                                            failover_error="stopped by the operator"))
    assert not failed, result
    assert result["changed"] is True
    assert result["settlement"]["outcome"] == "failed"  # the error given decides, as finalize does
    assert result["settlement"]["returned_claim_host_ids"] == [world["pool"]]  # nothing moved: the claim goes back
    tags = world["ec2"].describe_hosts(HostIds=[world["failed"]])["Hosts"][0]["Tags"]
    assert dict((tag["Key"], tag["Value"]) for tag in tags)["FailoverOutcome"] == "failed"
    assert claims.claims_for(world["dynamodb"], TABLE, world["failed"]) == []


def test_release_unused_in_check_mode_lists_and_changes_nothing(world):  # pylint: disable=redefined-outer-name
    allocation_tags = [{"Key": key, "Value": world["failed"]} for key in ("FailoverFor", "FailoverAllocatedFor")]
    idle = world["ec2"].allocate_hosts(
        AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=1, ClientToken="failover-%s-v1" % world["failed"],
        TagSpecifications=[{"ResourceType": "dedicated-host", "Tags": allocation_tags}])["HostIds"][0]
    failed, result = run_module(world, dict(action="release_unused"), check_mode=True)
    assert not failed, result
    assert (result["changed"], result["released_host_ids"], result["kept"]) == (False, [idle], [])
    assert world["sim"].control.call_count("ec2", "ReleaseHosts") == 0
