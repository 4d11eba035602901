# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plan_replacement against the project's simulator (EC2 + DynamoDB)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import claims
from ansible_collections.dedicated_hosts.failover.plugins.module_utils import cleanup
from ansible_collections.dedicated_hosts.failover.plugins.module_utils import hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils import preflight
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.cleanup import release_unused_hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import CapacityError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseHeldError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseLostError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import recorded_plan
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import recorded_plan_hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.planner import plan_replacement
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.settlement import settle_failover
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.settlement import spare_client_token
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.settlement import spare_config
from conftest import SimulatedWorld
from conftest import TABLE
from dhsim.testing import wait_for_state

RUN_ID = "run-0000000000000001"
OTHER_FAILED = "h-0000000000000000f"

FAILED_HOST = {"name": "failed", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "permanent-failure",
               "host_recovery": "on", "host_maintenance": "off",
               "tags": {"Name": "app-host-1", "CostCenter": "cc-42", "Role": "Reserved", "FailoverFor": "h-00000000"}}


def scenario(*extra_hosts, **kwargs):
    instances = kwargs.get("instances") or [
        {"name": "web", "host": "failed", "instance_type": "m5.large", "count": 2},
        {"name": "api", "host": "failed", "instance_type": "m5.xlarge"},
        {"name": "report", "host": "failed", "instance_type": "m5.4xlarge", "state": "stopped"},
    ]
    return {"hosts": [FAILED_HOST] + list(extra_hosts), "instances": instances}


def pool_host(name, **overrides):
    host = {"name": name, "availability_zone": "us-east-1a", "instance_family": "m5", "tags": {"Role": "Reserved"}}
    host.update(overrides)
    return host


class World(SimulatedWorld):
    def __init__(self, sim, spec):
        super().__init__(sim, spec)
        self.failed = self.host("failed")

    def record(self, run_id=RUN_ID):
        record = MigrationRecord(self.dynamodb, TABLE, self.failed, run_id)
        record.acquire(lease_seconds=60)
        return record

    def plan(self, record=None, check_mode=False, **options):
        options.setdefault("allocation_retry_delay", 0)
        if record is None and not check_mode:
            record = self.record()
        return plan_replacement(self.ec2, self.dynamodb, TABLE, self.failed, record=record,
                                run_id=None if check_mode else RUN_ID, check_mode=check_mode, sleep=lambda _s: None,
                                **options)

    def describe(self, host_id):
        return self.ec2.describe_hosts(HostIds=[host_id])["Hosts"][0]

    def tags(self, host_id):
        return dict((tag["Key"], tag["Value"]) for tag in self.describe(host_id).get("Tags", []))

    def calls(self, action):
        return self.simulator.control.call_count("ec2", action)

    def item(self):
        return get_record(self.dynamodb, TABLE, self.failed)


def claim_for_another_failover(world, pool_host_id, run_id="run-other"):
    """Claim ``pool_host_id`` for OTHER_FAILED, whose failover holds its own lease."""
    MigrationRecord(world.dynamodb, TABLE, OTHER_FAILED, run_id).acquire(lease_seconds=60)
    return claims.claim_pool_host(world.dynamodb, TABLE, pool_host_id, OTHER_FAILED, run_id)


def targets(result):
    return dict((entry["instance_id"], entry["target_host_id"]) for entry in result["plan"]["placements"])


def test_pool_host_is_claimed_tagged_and_recorded(simulator):
    world = World(simulator, scenario(pool_host("pool")))
    pool = world.host("pool")
    result = world.plan()
    plan = result["plan"]
    assert result["changed"] is True
    assert set(targets(result).values()) == {pool}
    assert len(plan["placements"]) == 4  # the stopped instance is planned too
    assert plan["pool_host_ids"] == [pool]
    assert plan["allocated_host_ids"] == []
    assert plan["unplaced"] == []
    states = dict((entry["instance_id"], entry["original_state"]) for entry in plan["placements"])
    assert states[world.instance("report")] == "stopped"
    assert states[world.instance("web-0")] == "running"
    assert claims.claims_for(world.dynamodb, TABLE, world.failed) == [pool]
    assert world.tags(pool)["FailoverFor"] == world.failed
    item = world.item()
    assert item["Plan"] == targets(result)
    assert item["ReplacementHostIds"] == [pool]
    assert item["ReservedHostId"] == pool
    assert item["InstanceMigrations"][world.instance("api")]["targetHostId"] == pool
    assert item["InstanceMigrations"][world.instance("report")]["originalState"] == "stopped"
    assert item["TotalInstances"] == 4
    assert world.calls("AllocateHosts") == 0


def test_the_stored_plan_is_the_one_instance_placement_moves_with_preflights_settings(simulator):
    instances = [{"name": "web", "host": "failed", "instance_type": "m5.large"},
                 {"name": "win", "host": "failed", "instance_type": "m5.large", "platform": "windows"}]
    world = World(simulator, scenario(pool_host("pool"), instances=instances))
    plan = world.plan(windows_force_stop_after=900)["plan"]
    moved_keys = ("instance_id", "target_host_id", "force_stop_after", "stop_timeout", "start_timeout", "notes", "lift_stop_protection")
    expected = [dict((key, entry[key]) for key in moved_keys if key in entry) for entry in plan["placements"]]
    stored = recorded_plan(world.item(), world.failed)
    assert stored == expected
    assert by_instance(stored)[world.instance("win")]["force_stop_after"] == 900
    assert "force_stop_after" not in by_instance(stored)[world.instance("web")]
    assert recorded_plan_hosts(world.item()) == plan["pool_host_ids"]


def by_instance(placements):
    return dict((entry["instance_id"], entry) for entry in placements)


def test_one_paginated_describe_instances_for_the_failed_host(simulator):
    world = World(simulator, scenario(pool_host("pool")))
    simulator.control.reset_calls()
    world.plan(check_mode=True)
    assert world.calls("DescribeInstances") == 1


def test_rerun_returns_the_same_plan_without_changes(simulator):
    world = World(simulator, scenario(pool_host("pool-a"), pool_host("pool-b")))
    record = world.record()
    first = world.plan(record=record)
    simulator.control.reset_calls()
    second = world.plan(record=record)
    assert second["plan"]["placements"] == first["plan"]["placements"]
    assert second["changed"] is False
    assert world.calls("CreateTags") == 0
    assert world.calls("AllocateHosts") == 0


def test_larger_sizes_go_first_and_pool_hosts_in_host_id_order(simulator):
    instances = [{"name": "big", "host": "failed", "instance_type": "m5.12xlarge", "count": 2},
                 {"name": "small", "host": "failed", "instance_type": "m5.large", "count": 4, "state": "stopped"}]
    world = World(simulator, scenario(pool_host("pool-a"), pool_host("pool-b"), instances=instances))
    first_pool, second_pool = sorted([world.host("pool-a"), world.host("pool-b")])
    result = world.plan(check_mode=True)
    by_id = targets(result)
    assert by_id[world.instance("big-0")] == first_pool
    assert by_id[world.instance("big-1")] == first_pool
    assert set(by_id[world.instance("small-%d" % index)] for index in range(4)) == {second_pool}


def test_pool_matching_uses_tag_values_zone_and_state(simulator):
    world = World(simulator, scenario(
        pool_host("wrong-value", tags={"Role": "Spare"}),
        pool_host("other-zone", availability_zone="us-east-1b"),
        pool_host("not-available", state="under-assessment"),
        pool_host("other-family", instance_family="c5"),
        pool_host("good", tags={"Role": "Reserved", "Team": "ops"}),
    ))
    result = world.plan(check_mode=True, reserved_tags={"Role": "Reserved", "Team": "ops"})
    assert set(targets(result).values()) == {world.host("good")}


def test_allocation_when_the_pool_is_empty(simulator):
    world = World(simulator, scenario())
    result = world.plan()
    plan = result["plan"]
    assert len(plan["allocated_host_ids"]) == 1
    new_host = plan["allocated_host_ids"][0]
    assert set(targets(result).values()) == {new_host}
    assert plan["client_token"] == "failover-%s-v1" % world.failed
    assert plan["plan_version"] == 1
    host = world.describe(new_host)
    assert host["AvailabilityZone"] == "us-east-1a"
    assert host["AllowsMultipleInstanceTypes"] == "on"
    assert host["HostProperties"]["InstanceFamily"] == "m5"
    assert host["AutoPlacement"] == "off"
    assert host["HostRecovery"] == "on"
    assert host["HostMaintenance"] == "off"
    # Cost-allocation tags kept; pool tags and the old FailoverFor are not copied.
    assert world.tags(new_host) == {
        "Name": "app-host-1", "CostCenter": "cc-42", "FailoverFor": world.failed, "FailoverAllocatedFor": world.failed}
    found = world.ec2.describe_hosts(Filter=[{"Name": "client-token", "Values": [plan["client_token"]]}])["Hosts"]
    assert [entry["HostId"] for entry in found] == [new_host]
    item = world.item()
    assert item["AllocationClientToken"] == plan["client_token"]
    assert item["PlanVersion"] == 1
    assert [entry["hostId"] for entry in item["AllocatedHosts"]] == [new_host]
    assert item["ReplacementHostIds"] == [new_host]


def test_single_size_family_is_allocated_by_instance_type(simulator):
    failed = dict(FAILED_HOST, instance_family=None, instance_type="m5d.2xlarge")
    del failed["instance_family"]
    spec = {"hosts": [failed], "instances": [{"name": "db", "host": "failed", "instance_type": "m5d.2xlarge"}]}
    world = World(simulator, spec)
    # m5d has instance-store volumes: preflight skips the instance unless the operator opts in.
    result = world.plan(preflight_allow=["instance-store-volumes"])
    host = world.describe(result["plan"]["allocated_host_ids"][0])
    assert host["HostProperties"]["InstanceType"] == "m5d.2xlarge"
    assert host["AllowsMultipleInstanceTypes"] == "off"


def test_resumed_run_finds_hosts_already_allocated_with_the_stored_token(simulator):
    world = World(simulator, scenario())
    record = world.record()
    token = hosts.client_token(world.failed, 1)
    # A run stored its token, AllocateHosts succeeded, and the run died before storing the plan.
    record.set_fields(AllocationClientToken=token, PlanVersion=1)
    allocated = world.ec2.allocate_hosts(AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=1, AutoPlacement="off",
                                         ClientToken=token)["HostIds"]
    simulator.control.reset_calls()
    result = world.plan(record=record)
    assert world.calls("AllocateHosts") == 0
    assert result["plan"]["allocated_host_ids"] == allocated
    assert set(targets(result).values()) == set(allocated)
    assert [entry["hostId"] for entry in world.item()["AllocatedHosts"]] == allocated


def test_rerun_after_allocation_allocates_nothing_more(simulator):
    world = World(simulator, scenario())
    record = world.record()
    first = world.plan(record=record)
    simulator.control.reset_calls()
    again = world.plan(record=record)
    assert again["plan"] == first["plan"]
    assert again["changed"] is False
    assert world.calls("AllocateHosts") == 0


def test_idempotent_parameter_mismatch_bumps_the_plan_version(simulator):
    world = World(simulator, scenario())
    token = hosts.client_token(world.failed, 1)
    world.ec2.allocate_hosts(AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=2, ClientToken=token)
    result = world.plan()
    plan = result["plan"]
    assert plan["plan_version"] == 2
    assert plan["client_token"] == "failover-%s-v2" % world.failed
    assert world.item()["AllocationClientToken"] == plan["client_token"]
    assert world.item()["PlanVersion"] == 2
    assert len(plan["allocated_host_ids"]) == 1


def test_allocate_hosts_false_fails_naming_each_instance_before_any_change(simulator):
    world = World(simulator, scenario())
    with pytest.raises(CapacityError) as caught:
        world.plan(allocate_hosts=False)
    message = caught.value.message
    for name in ("web-0", "web-1", "api", "report"):
        assert world.instance(name) in message
    assert "allocate_hosts is false" in message
    assert len(caught.value.details["unplaced"]) == 4
    assert world.calls("AllocateHosts") == 0
    assert claims.claims_for(world.dynamodb, TABLE, world.failed) == []
    assert world.item()["Plan"] == {}


def test_max_new_hosts_caps_allocation(simulator):
    instances = [{"name": "big", "host": "failed", "instance_type": "m5.12xlarge", "count": 2}]
    spec = scenario(pool_host("pool"), instances=instances)
    spec["instances"].append({"name": "resident", "host": "pool", "instance_type": "m5.12xlarge"})
    world = World(simulator, spec)
    result = world.plan(check_mode=True, max_new_hosts=1)
    assert sorted(targets(result).values()) == sorted([world.host("pool"), "new-1"])
    assert result["plan"]["would_allocate"][0]["InstanceFamily"] == "m5"
    assert result["plan"]["would_allocate"][0]["quantity"] == 1
    with pytest.raises(CapacityError) as caught:
        world.plan(max_new_hosts=0)
    assert "max_new_hosts is 0" in caught.value.message
    assert [entry["instance_id"] for entry in caught.value.details["unplaced"]] in (
        [world.instance("big-0")], [world.instance("big-1")])


@pytest.mark.parametrize("code", ["InsufficientHostCapacity", "HostLimitExceeded"])
def test_allocation_errors_are_retried_then_name_the_quota(simulator, code):
    world = World(simulator, scenario())
    simulator.control.add_fault("ec2", "AllocateHosts", code)
    with pytest.raises(CapacityError) as caught:
        world.plan(allocation_attempts=3)
    assert world.calls("AllocateHosts") == 3
    assert "Running Dedicated m5 Hosts" in caught.value.message
    assert caught.value.details["quota"] == "Running Dedicated m5 Hosts"
    assert caught.value.details["code"] == code
    assert "nothing has been stopped" in caught.value.message
    states = world.ec2.describe_instances(InstanceIds=[world.instance("api")])["Reservations"][0]["Instances"][0]["State"]
    assert states["Name"] == "running"


def test_failed_allocation_gives_back_the_pool_claims_it_took(simulator):
    instances = [{"name": "big", "host": "failed", "instance_type": "m5.12xlarge", "count": 2}]
    spec = scenario(pool_host("pool"), instances=instances)
    spec["instances"].append({"name": "resident", "host": "pool", "instance_type": "m5.12xlarge"})
    world = World(simulator, spec)
    simulator.control.add_fault("ec2", "AllocateHosts", "InsufficientHostCapacity")
    with pytest.raises(CapacityError):
        world.plan(allocation_attempts=1)
    assert claims.claims_for(world.dynamodb, TABLE, world.failed) == []
    assert "FailoverFor" not in world.tags(world.host("pool"))


def test_host_limit_from_the_quota(simulator):
    world = World(simulator, scenario())
    simulator.control.set_quota(family="m5", limit=1)
    with pytest.raises(CapacityError) as caught:
        world.plan(allocation_attempts=2)
    assert caught.value.details["code"] == "HostLimitExceeded"
    assert world.calls("AllocateHosts") == 2


def test_transient_allocation_failure_then_success(simulator):
    world = World(simulator, scenario())
    simulator.control.add_fault("ec2", "AllocateHosts", "InsufficientHostCapacity", count=1)
    result = world.plan(allocation_attempts=3)
    assert len(result["plan"]["allocated_host_ids"]) == 1
    assert world.calls("AllocateHosts") == 2


def test_allocation_retry_waits_double_up_to_the_cap_and_renew_the_lease_meanwhile(simulator):
    world = World(simulator, scenario())
    simulator.control.add_fault("ec2", "AllocateHosts", "InsufficientHostCapacity", count=3)
    clock = {"now": 1795000000.0}
    record = MigrationRecord(world.dynamodb, TABLE, world.failed, RUN_ID, wall_clock=lambda: clock["now"],
                             monotonic=lambda: clock["now"])
    record.acquire(lease_seconds=30)
    version = world.item()["LeaseVersion"]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock["now"] += seconds

    result = plan_replacement(world.ec2, world.dynamodb, TABLE, world.failed, record=record, run_id=RUN_ID,
                              sleep=sleep, allocation_attempts=4, allocation_retry_delay=100)

    assert len(result["plan"]["allocated_host_ids"]) == 1 and world.calls("AllocateHosts") == 4
    # Waits of 100, 200 and 300 s (400 capped), each slept in slices of at most 10 s.
    assert sum(slept) == 600 and max(slept) == 10
    assert world.item()["LeaseVersion"] - version >= 600 // 30  # a 30 s lease renewed all along the 10 minutes


def test_pool_host_claimed_by_another_failover_is_skipped(simulator):
    # Each pool host has room for one of the two 12xlarge; the one claimed elsewhere is replaced by a new host.
    instances = [{"name": "big", "host": "failed", "instance_type": "m5.12xlarge", "count": 2}]
    spec = scenario(pool_host("taken"), pool_host("free"), instances=instances)
    spec["instances"] += [{"name": "resident-a", "host": "taken", "instance_type": "m5.12xlarge"},
                          {"name": "resident-b", "host": "free", "instance_type": "m5.12xlarge"}]
    world = World(simulator, spec)
    taken, free = world.host("taken"), world.host("free")
    assert claim_for_another_failover(world, taken)
    result = world.plan()
    used = sorted(targets(result).values())
    assert taken not in used
    assert result["plan"]["pool_host_ids"] == [free]
    assert len(result["plan"]["allocated_host_ids"]) == 1
    assert claims.claims_for(world.dynamodb, TABLE, world.failed) == [free]
    assert claims.claimed_by(world.dynamodb, TABLE, taken) == OTHER_FAILED
    assert "FailoverFor" not in world.tags(taken)
    assert any(taken in note for note in result["notes"])


def test_check_mode_changes_nothing_and_reports_the_allocation(simulator):
    world = World(simulator, scenario(pool_host("pool", tags={"Role": "Reserved"})), )
    instances_before = world.ec2.describe_instances()
    world.record()  # the run holds the lease
    item_before = world.item()
    simulator.control.reset_calls()
    result = plan_replacement(world.ec2, world.dynamodb, TABLE, world.failed, check_mode=True, max_new_hosts=2,
                              allocate_hosts=True)
    assert result["changed"] is False
    assert world.calls("AllocateHosts") == 0
    assert world.calls("CreateTags") == 0
    assert claims.claims_for(world.dynamodb, TABLE, world.failed) == []
    assert world.item() == item_before
    assert "FailoverFor" not in world.tags(world.host("pool"))
    assert result["plan"]["would_allocate"] == []
    assert world.ec2.describe_instances()["Reservations"] == instances_before["Reservations"]


def test_check_mode_reports_hosts_it_would_allocate(simulator):
    world = World(simulator, scenario())
    result = world.plan(check_mode=True)
    plan = result["plan"]
    assert plan["allocated_host_ids"] == ["new-1"]
    assert plan["would_allocate"] == [{"InstanceFamily": "m5", "quantity": 1, "availability_zone": "us-east-1a",
                                       "client_token": "failover-%s-v1" % world.failed, "placeholder_host_ids": ["new-1"]}]
    assert world.calls("AllocateHosts") == 0


def test_stored_plan_is_dropped_when_its_host_is_gone(simulator):
    world = World(simulator, scenario(pool_host("pool-a"), pool_host("pool-b")))
    record = world.record()
    first = world.plan(record=record)
    used = first["plan"]["pool_host_ids"][0]
    simulator.control.set_host_state(used, "under-assessment")
    second = world.plan(record=record)
    assert used not in set(targets(second).values())
    assert any("no longer available" in note for note in second["notes"])
    # The claim on the host no longer used goes back to the pool.
    assert used not in claims.claims_for(world.dynamodb, TABLE, world.failed)
    assert world.item()["Plan"] == targets(second)


def test_only_the_requested_instances_are_planned(simulator):
    world = World(simulator, scenario(pool_host("pool")))
    result = world.plan(check_mode=True, instance_ids=[world.instance("api")])
    assert list(targets(result)) == [world.instance("api")]
    with pytest.raises(InvalidInputError) as caught:
        world.plan(check_mode=True, instance_ids=["i-0123456789abcdef0"])
    assert "i-0123456789abcdef0" in caught.value.message


def test_unknown_and_released_hosts(simulator):
    world = World(simulator, scenario())
    with pytest.raises(NotFoundError) as caught:
        plan_replacement(world.ec2, world.dynamodb, TABLE, "h-0123456789abcdef0", check_mode=True)
    assert "h-0123456789abcdef0" in caught.value.message
    simulator.control.set_host_state(world.failed, "released")
    with pytest.raises(InvalidInputError) as caught:
        world.plan(check_mode=True)
    assert "released" in caught.value.message


def test_malformed_ids_are_refused_before_any_call(simulator):
    world = World(simulator, scenario())
    simulator.control.reset_calls()
    with pytest.raises(InvalidInputError):
        plan_replacement(world.ec2, world.dynamodb, TABLE, "h-xyz", check_mode=True)
    with pytest.raises(InvalidInputError):
        plan_replacement(world.ec2, world.dynamodb, TABLE, world.failed, check_mode=True, instance_ids=["i-nope"])
    assert simulator.control.calls()["total"] == 0


def test_client_token_and_tag_helpers():
    assert hosts.client_token("h-0123456789abcdef0", 3) == "failover-h-0123456789abcdef0-v3"
    assert hosts.client_token("h-0123456789abcdef0", 1, group=1) == "failover-h-0123456789abcdef0-v1-2"
    assert len(hosts.client_token("h-0123456789abcdef0", 10 ** 60)) == 64
    host = {"Tags": [{"Key": "Role", "Value": "Reserved"}, {"Key": "aws:cloudformation:stack-name", "Value": "x"},
                     {"Key": "Owner", "Value": "ops"}, {"Key": "FailoverFor", "Value": "h-00000000"}]}
    assert hosts.cost_allocation_tags(host, {"Role": "Reserved"}) == [{"Key": "Owner", "Value": "ops"}]
    assert hosts.matches_tags(host, {"Role": "Reserved", "Owner": "ops"})
    assert not hosts.matches_tags(host, {"Role": "Spare"})
    assert preflight.classify({"RootDeviceType": "instance-store"})["reason"]
    assert preflight.classify({"RootDeviceType": "ebs"})["reason"] is None


# ---------------------------------------------------------------------------------------------------- named targets

def test_a_named_target_is_filled_first_claimed_and_tagged(simulator):
    world = World(simulator, scenario(pool_host("pool"), pool_host("target", tags={"Name": "aws-replacement"})))
    target = world.host("target")
    result = world.plan(target_host_ids=[target])
    plan = result["plan"]
    assert set(targets(result).values()) == {target}
    assert set(entry["target_source"] for entry in plan["placements"]) == {"target"}
    assert (plan["target_host_ids"], plan["pool_host_ids"]) == ([target], [])
    assert claims.claims_for(world.dynamodb, TABLE, world.failed) == [target]
    assert world.tags(target)["FailoverFor"] == world.failed
    assert world.item()["ReplacementHostIds"] == [target]
    # A rerun keeps the stored plan and the source of its hosts.
    again = world.plan(record=world.record(), target_host_ids=[target])
    assert again["plan"]["target_host_ids"] == [target] and again["changed"] is False


@pytest.mark.parametrize("bad, expected", [
    ("zone", "is in us-east-1b, not in the failed host's zone us-east-1a"),
    ("family", "is a c5 host; the failed host's instances are m5"),
    ("state", "is under-assessment, not available"),
    ("failed", "is the failed host itself"),
    ("claimed", "is claimed by the failover of %s" % OTHER_FAILED),
    ("h-0123456789abcdef0", "not found"),
])
def test_a_bad_target_is_refused_before_any_change(simulator, bad, expected):
    world = World(simulator, scenario(pool_host("pool"), pool_host("zone", availability_zone="us-east-1b"),
                                      pool_host("family", instance_family="c5"), pool_host("state", state="under-assessment"),
                                      pool_host("claimed")))
    claim_for_another_failover(world, world.host("claimed"))
    target = world.names["hosts"].get(bad, bad)
    record = world.record()
    simulator.control.reset_calls()
    with pytest.raises(InvalidInputError) as caught:
        world.plan(record=record, target_host_ids=[target])
    assert "target_host_ids" in caught.value.message and expected in caught.value.message and target in caught.value.message
    assert [world.calls(action) for action in ("CreateTags", "AllocateHosts")] == [0, 0]
    assert [simulator.control.call_count("dynamodb", action) for action in ("PutItem", "TransactWriteItems")] == [0, 0]
    assert claims.claims_for(world.dynamodb, TABLE, world.failed) == []


# ---------------------------------------------------------------------------------------------------- cost

def test_the_plan_lists_each_hosts_reservation_and_new_hosts_allocation_time_and_price(simulator):
    spec = scenario(pool_host("pool"))
    spec["hosts"][0] = dict(FAILED_HOST, reservation_id="hr-0123456789abcdef0")
    spec["instances"].append({"name": "huge", "host": "failed", "instance_type": "m5.24xlarge", "state": "stopped"})
    world = World(simulator, spec)
    preview = world.plan(check_mode=True)["plan"]
    assert preview["hosts"][-1] == {"host_id": "new-1", "role": "new", "instance_family": "m5", "reservation_id": None,
                                    "allocation_time": None, "price_class": "on-demand", "hourly_price": None}

    plan = world.plan(host_hourly_prices={"m5": "5.069"})["plan"]

    by_role = dict((entry["role"], entry) for entry in plan["hosts"])
    assert by_role["failed"] == {"host_id": world.failed, "role": "failed", "instance_family": "m5",
                                 "reservation_id": "hr-0123456789abcdef0"}
    assert by_role["pool"]["reservation_id"] is None and "price_class" not in by_role["pool"]
    (new,) = plan["allocated_host_ids"]
    allocated_at = world.describe(new)["AllocationTime"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert by_role["new"] == {"host_id": new, "role": "new", "instance_family": "m5", "reservation_id": None,
                              "allocation_time": allocated_at, "price_class": "on-demand", "hourly_price": 5.069}
    item = world.item()
    assert item["AllocatedHosts"] == [{"hostId": new, "allocationTime": allocated_at}]
    assert [entry["role"] for entry in item["PlanHosts"]] == ["failed", "pool", "new"]
    assert item["PlanHosts"][-1]["hourlyPrice"] == 5.069 and item["PlanHosts"][-1]["priceClass"] == "on-demand"


def test_host_entry_and_hourly_prices():
    reserved_new = {"HostId": "h-01234567", "HostReservationId": "hr-1", "HostProperties": {"InstanceType": "c5.large"},
                    "AllocationTime": "2026-11-27T09:00:00Z"}
    assert hosts.host_entry(reserved_new, "new", {"c5": 2.0}) == {
        "host_id": "h-01234567", "role": "new", "instance_family": "c5", "reservation_id": "hr-1",
        "allocation_time": "2026-11-27T09:00:00Z", "price_class": "reserved", "hourly_price": None}
    assert hosts.hourly_prices({"m5": "5.1", "c5": 0}) == {"m5": 5.1, "c5": 0.0}
    for bad in ({"m5": -1}, {"m5": "cheap"}, {"m5": None}, {"m5": float("nan")}):
        with pytest.raises(InvalidInputError):
            hosts.hourly_prices(bad)
    assert hosts.quota_name("m5") == "Running Dedicated m5 Hosts"


# ---------------------------------------------------------------------------------------------------- after the failover

TWO_POOL_HOSTS = dict(instances=[
    {"name": "huge", "host": "failed", "instance_type": "m5.12xlarge", "count": 2},
    {"name": "resident-a", "host": "pool-a", "instance_type": "m5.12xlarge"},
    {"name": "resident-b", "host": "pool-b", "instance_type": "m5.12xlarge"},
])


def move(world, record, placements):
    """What instance_placement does, in short: stop, place on the target, record success."""
    ids = [entry["instance_id"] for entry in placements]
    world.ec2.stop_instances(InstanceIds=ids, Force=True)
    wait_for_state(world.ec2, ids, "stopped")
    for entry in placements:
        world.ec2.modify_instance_placement(InstanceId=entry["instance_id"], HostId=entry["target_host_id"])
    record.update_instances(dict((instance_id, {"status": "success", "phase": "verified"}) for instance_id in ids))


def settle(world, record, **options):
    return settle_failover(world.ec2, world.dynamodb, TABLE, world.failed, record=record, run_id=RUN_ID, **options)


def test_settle_tags_the_outcome_takes_the_consumed_pool_host_out_of_the_pool_and_is_idempotent(simulator):
    world = World(simulator, scenario(pool_host("pool", tags={"Role": "Reserved", "Team": "ops"})))
    pool = world.host("pool")
    record = world.record()
    move(world, record, world.plan(record=record)["plan"]["placements"])

    result = settle(world, record, reserved_tags={"Role": "Reserved"})

    settlement = result["settlement"]
    assert result["changed"] is True and settlement["outcome"] == "succeeded"
    tags = world.tags(world.failed)
    assert (tags["FailoverOutcome"], tags["FailoverRunId"]) == ("succeeded", RUN_ID) and tags["FailoverAt"].endswith("Z")
    assert world.tags(pool) == {"Team": "ops", "FailoverFor": world.failed}
    assert settlement["consumed_pool_host_ids"] == settlement["retagged_host_ids"] == [pool]
    assert claims.claims_for(world.dynamodb, TABLE, world.failed) == [pool]  # the claim says which failover took it
    assert world.item()["Settlement"]["consumedPoolHostIds"] == [pool]
    simulator.control.reset_calls()
    again = settle(world, record, reserved_tags={"Role": "Reserved"})
    assert again["changed"] is False
    assert [world.calls(action) for action in ("CreateTags", "DeleteTags", "ReleaseHosts", "AllocateHosts")] == [0, 0, 0, 0]


def test_settle_keeps_an_operators_tag_that_shares_a_pool_key_but_not_its_value(simulator):
    # A named target tagged Role=App is not a pool host: its Role is the operator's and stays.
    world = World(simulator, scenario(pool_host("target", tags={"Role": "App", "Team": "web"})))
    target = world.host("target")
    record = world.record()
    move(world, record, world.plan(record=record, target_host_ids=[target])["plan"]["placements"])

    settlement = settle(world, record, reserved_tags={"Role": "Reserved"})["settlement"]

    assert world.tags(target) == {"Role": "App", "Team": "web", "FailoverFor": world.failed}
    assert settlement["consumed_pool_host_ids"] == [] and settlement["retagged_host_ids"] == []
    assert world.calls("DeleteTags") == 0


def test_settle_returns_the_claim_on_a_host_that_received_nothing(simulator):
    world = World(simulator, scenario(pool_host("pool-a"), pool_host("pool-b"), **TWO_POOL_HOSTS))
    record = world.record()
    placements = world.plan(record=record)["plan"]["placements"]
    moved, unmoved = placements
    move(world, record, [moved])

    settlement = settle(world, record, failover_error="huge-1 could not be stopped")["settlement"]

    assert settlement["outcome"] == "failed"
    assert settlement["returned_claim_host_ids"] == [unmoved["target_host_id"]]
    assert claims.claims_for(world.dynamodb, TABLE, world.failed) == [moved["target_host_id"]]
    assert world.tags(unmoved["target_host_id"])["Role"] == "Reserved"  # its tags are left as they are
    assert "Role" not in world.tags(moved["target_host_id"])
    assert world.tags(world.failed)["FailoverOutcome"] == "failed"


@pytest.mark.parametrize("case", ["empty", "instance-left", "reserved"])
def test_release_failed_host_only_when_nothing_is_left_and_no_reservation(simulator, case):
    spec = scenario(pool_host("pool"))
    if case == "reserved":
        spec["hosts"][0] = dict(FAILED_HOST, reservation_id="hr-0123456789abcdef0")
    world = World(simulator, spec)
    record = world.record()
    placements = world.plan(record=record)["plan"]["placements"]
    move(world, record, placements[1:] if case == "instance-left" else placements)

    settlement = settle(world, record, release_failed_host=True)["settlement"]

    released = case == "empty"
    assert settlement["failed_host"]["released"] is released
    assert world.describe(world.failed)["State"] == ("released-permanent-failure" if released else "permanent-failure")
    assert world.calls("ReleaseHosts") == (1 if released else 0)
    if case == "instance-left":
        assert settlement["failed_host"]["not_released_because"] == (
            "1 instance(s) are still on it (running or stopped): %s" % placements[0]["instance_id"])
    if case == "reserved":
        assert "reservation hr-0123456789abcdef0" in settlement["failed_host"]["not_released_because"]
    assert world.tags(world.failed)["FailoverOutcome"] == ("succeeded" if case != "instance-left" else "failed")


def test_replenish_pool_allocates_one_spare_per_consumed_pool_host_within_max_new_hosts_once(simulator):
    world = World(simulator, scenario(pool_host("pool-a", host_recovery="on"), pool_host("pool-b"), **TWO_POOL_HOSTS))
    record = world.record()
    move(world, record, world.plan(record=record)["plan"]["placements"])
    consumed = sorted([world.host("pool-a"), world.host("pool-b")])

    settlement = settle(world, record, replenish_pool=True, max_new_hosts=1)["settlement"]

    (spare,) = settlement["spares"]
    assert spare["replaces"] == consumed[0]
    assert spare["client_token"] == spare_client_token(world.failed, 1, consumed[0])
    host = world.describe(spare["host_id"])
    assert (host["AvailabilityZone"], host["HostProperties"]["InstanceFamily"], host["AutoPlacement"]) == ("us-east-1a", "m5", "off")
    assert world.tags(spare["host_id"])["Role"] == "Reserved"
    assert any("%s not replenished: max_new_hosts (1)" % consumed[1] in note for note in settlement["notes"])
    assert world.calls("AllocateHosts") == 1
    again = settle(world, record, replenish_pool=True, max_new_hosts=1)
    assert world.calls("AllocateHosts") == 1 and again["settlement"]["spares"][0]["host_id"] == spare["host_id"]
    # allocate_hosts=false allows no spare at all.
    none = settle_failover(world.ec2, world.dynamodb, TABLE, world.failed, check_mode=True, replenish_pool=True,
                           allocate_hosts=False, max_new_hosts=5)["settlement"]
    assert any("%s not replenished: allocate_hosts is false" % consumed[1] in note for note in none["notes"])


def test_spare_config_copies_the_pool_hosts_zone_family_and_settings():
    multi = {"HostId": "h-01234567", "AvailabilityZone": "us-east-1a", "AllowsMultipleInstanceTypes": "on", "HostRecovery": "on",
             "HostMaintenance": "off", "AutoPlacement": "on", "HostProperties": {"InstanceFamily": "m5"}}
    assert spare_config(multi) == {"InstanceFamily": "m5", "AvailabilityZone": "us-east-1a", "AutoPlacement": "off",
                                   "HostRecovery": "on", "HostMaintenance": "off"}
    single = dict(multi, AllowsMultipleInstanceTypes="off", HostProperties={"InstanceType": "c5.large", "InstanceFamily": "c5"})
    assert spare_config(single)["InstanceType"] == "c5.large" and "InstanceFamily" not in spare_config(single)


def test_check_mode_settle_previews_a_plan_without_any_change(simulator):
    world = World(simulator, scenario(pool_host("pool")))
    plan = world.plan(check_mode=True)["plan"]
    simulator.control.reset_calls()

    result = settle_failover(world.ec2, world.dynamodb, TABLE, world.failed, check_mode=True, planned=plan,
                             release_failed_host=True, replenish_pool=True)

    lines = result["settlement"]["lines"]
    assert result["changed"] is False
    assert "would tag the failed host %s FailoverOutcome=succeeded" % world.failed in lines
    assert "would release the failed host %s" % world.failed in lines
    assert "would allocate a spare for the pool in place of %s" % world.host("pool") in lines
    changes = ("CreateTags", "DeleteTags", "ReleaseHosts", "AllocateHosts")
    assert [world.calls(action) for action in changes] == [0, 0, 0, 0]
    assert [simulator.control.call_count("dynamodb", action)
            for action in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems")] == [0, 0, 0, 0]


def test_settle_changes_nothing_once_the_lease_is_lost(simulator):
    world = World(simulator, scenario(pool_host("pool")))
    clock = {"now": 0.0}
    record = MigrationRecord(world.dynamodb, TABLE, world.failed, RUN_ID, monotonic=lambda: clock["now"])
    record.acquire(lease_seconds=30)
    move(world, record, world.plan(record=record)["plan"]["placements"])
    MigrationRecord(world.dynamodb, TABLE, world.failed, "run-taker").acquire(lease_seconds=30, break_lock=True)
    clock["now"] = 29.0
    simulator.control.reset_calls()

    with pytest.raises(LeaseLostError):
        settle(world, record, release_failed_host=True)

    assert [world.calls(action) for action in ("CreateTags", "DeleteTags", "ReleaseHosts", "AllocateHosts")] == [0, 0, 0, 0]
    assert [simulator.control.call_count("dynamodb", action) for action in ("DeleteItem", "TransactWriteItems")] == [0, 0]


def test_a_failover_without_a_plan_has_nothing_to_settle(simulator):
    world = World(simulator, scenario(pool_host("pool")))
    record = world.record()
    simulator.control.reset_calls()

    result = settle(world, record, failover_error="no place", release_failed_host=True)

    assert result["changed"] is False and result["settlement"]["outcome"] is None
    assert "FailoverOutcome" not in world.tags(world.failed)
    assert world.calls("CreateTags") == 0


# ---------------------------------------------------------------------------------------------------- unused hosts

def test_release_unused_hosts_releases_only_idle_hosts_a_failover_allocated(simulator):
    world = World(simulator, scenario(pool_host("pool"), instances=[{"name": "web", "host": "failed"}]))
    token = hosts.client_token(world.failed, 1)
    tags = [{"ResourceType": "dedicated-host", "Tags": hosts.allocation_tags(world.failed)}]
    idle, busy = world.ec2.allocate_hosts(AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=2, ClientToken=token,
                                          TagSpecifications=tags)["HostIds"]
    world.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.large",
                            Placement={"HostId": busy, "Tenancy": "host", "AvailabilityZone": "us-east-1a"})
    world.ec2.create_tags(Resources=[world.host("pool")], Tags=[{"Key": "FailoverFor", "Value": world.failed}])
    # Tagged FailoverFor afterwards, not at allocation: the IAM policy would refuse its release, so it is kept.
    (untagged,) = world.ec2.allocate_hosts(AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=1,
                                           ClientToken=hosts.client_token(world.failed, 2))["HostIds"]
    world.ec2.create_tags(Resources=[untagged], Tags=[{"Key": "FailoverFor", "Value": world.failed}])
    simulator.control.reset_calls()

    preview = release_unused_hosts(world.ec2, world.dynamodb, TABLE, check_mode=True)
    assert preview["released_host_ids"] == [idle] and preview["changed"] is False and world.calls("ReleaseHosts") == 0
    kept = dict((entry["host_id"], entry["reason"]) for entry in preview["kept"])
    assert kept[untagged].startswith("it has no FailoverAllocatedFor tag")
    assert kept[world.host("pool")].startswith("no failover allocated it")
    assert kept[busy].startswith("1 instance(s) on it")

    # While the failover is in progress, its hosts are left alone.
    record = world.record()
    assert release_unused_hosts(world.ec2, world.dynamodb, TABLE)["released_host_ids"] == []
    record.finalize()

    done = release_unused_hosts(world.ec2, world.dynamodb, TABLE)
    assert done["released_host_ids"] == [idle] and done["changed"] is True
    assert world.describe(idle)["State"] == "released"
    again = release_unused_hosts(world.ec2, world.dynamodb, TABLE)
    assert again == {"changed": False, "released_host_ids": [], "kept": again["kept"]} and world.calls("ReleaseHosts") == 1
    with pytest.raises(InvalidInputError):
        release_unused_hosts(world.ec2, world.dynamodb, TABLE, host_ids=["h-nope"])


# ---------------------------------------------------------------------------------------------------- AWS's own moves

def test_planning_turns_aws_host_recovery_off_after_the_plan_is_stored_and_records_it(simulator):
    world = World(simulator, scenario(pool_host("pool")))
    simulator.control.reset_calls()
    result = world.plan()
    assert world.describe(world.failed)["HostRecovery"] == "off"
    assert world.calls("ModifyHosts") == 1
    note = world.item()["HostRecoveryTurnedOff"]
    assert (note["runId"], note["previous"]) == (RUN_ID, "on") and note["at"].endswith("Z")
    assert any(line.startswith("AWS host recovery turned off on %s" % world.failed) for line in result["notes"])
    # A resumed run finds it off and the record saying so: no second call.
    again = world.plan(record=world.record())
    assert world.calls("ModifyHosts") == 1
    assert not any("host recovery" in line for line in again["notes"])


def test_check_mode_only_says_it_would_turn_host_recovery_off(simulator):
    world = World(simulator, scenario(pool_host("pool")))
    simulator.control.reset_calls()
    result = world.plan(check_mode=True)
    assert "would turn AWS host recovery off on %s before any instance is stopped" % world.failed in result["notes"]
    assert world.calls("ModifyHosts") == 0
    assert world.describe(world.failed)["HostRecovery"] == "on"
    assert world.item() is None


def test_a_failover_that_cannot_place_its_instances_leaves_aws_recovery_on(simulator):
    world = World(simulator, scenario())
    with pytest.raises(CapacityError):
        world.plan(allocate_hosts=False)
    assert world.describe(world.failed)["HostRecovery"] == "on"
    assert world.calls("ModifyHosts") == 0
    assert "HostRecoveryTurnedOff" not in world.item()


def test_hosts_allocated_after_recovery_was_turned_off_keep_the_failed_hosts_setting(simulator):
    world = World(simulator, scenario())
    record = world.record()
    record.set_fields(HostRecoveryTurnedOff={"runId": "run-earlier", "at": "2026-01-01T00:00:00Z", "previous": "on"})
    world.ec2.modify_hosts(HostIds=[world.failed], HostRecovery="off")
    plan = world.plan(record=record)["plan"]
    assert world.describe(plan["allocated_host_ids"][0])["HostRecovery"] == "on"


def maintained_scenario(replacement_state="pending", **replacement):
    failed = dict(FAILED_HOST, host_maintenance="on", host_recovery="off", allocation_time=3600, tags={"Name": "app-host-1"})
    aws_replacement = dict({"name": "aws", "availability_zone": "us-east-1a", "instance_family": "m5", "state": replacement_state,
                            "host_maintenance": "on", "tags": {"Name": "app-host-1"}}, **replacement)
    return {"hosts": [failed, aws_replacement], "instances": [{"name": "web", "host": "failed", "instance_type": "m5.large"}]}


def test_a_pending_replacement_from_aws_maintenance_is_waited_for_with_the_lease_renewed(simulator):
    world = World(simulator, maintained_scenario())
    record = MigrationRecord(world.dynamodb, TABLE, world.failed, RUN_ID)
    record.acquire(lease_seconds=3)
    version = world.item()["LeaseVersion"]
    aws = world.host("aws")
    pauses = []

    def sleep(seconds):
        # The first pause outlasts a third of the lease (the next check renews it); AWS finishes during the second.
        pauses.append(seconds)
        if len(pauses) == 1:
            time.sleep(1.2)
        else:
            simulator.control.set_host_state(aws, "available")

    result = plan_replacement(world.ec2, world.dynamodb, TABLE, world.failed, record=record, run_id=RUN_ID,
                              target_host_ids=[aws], settle_interval=0.2, sleep=sleep)
    assert pauses == [0.2, 0.2]
    assert set(targets(result).values()) == {aws} and result["plan"]["target_host_ids"] == [aws]
    assert "waited for %s (allocated by AWS host maintenance) to become available" % aws in result["notes"]
    assert world.item()["LeaseVersion"] > version  # renewed while waiting
    assert claims.claims_for(world.dynamodb, TABLE, world.failed) == [aws]


def test_check_mode_plans_onto_a_pending_aws_replacement_without_waiting(simulator):
    world = World(simulator, maintained_scenario())
    aws = world.host("aws")
    result = world.plan(check_mode=True, target_host_ids=[aws])
    assert set(targets(result).values()) == {aws}
    assert "would wait for %s (allocated by AWS host maintenance, pending) to become available" % aws in result["notes"]
    assert world.describe(aws)["State"] == "pending"


def test_an_aws_replacement_still_pending_after_settle_timeout_is_refused_before_any_change(simulator):
    world = World(simulator, maintained_scenario())
    record = world.record()
    simulator.control.reset_calls()
    with pytest.raises(InvalidInputError) as caught:
        world.plan(record=record, target_host_ids=[world.host("aws")], settle_timeout=0.3, settle_interval=0.1)
    assert "%s, the replacement AWS host maintenance allocated, was still pending after 0.3s" % world.host("aws") in caught.value.message
    assert [world.calls(action) for action in ("CreateTags", "AllocateHosts", "ModifyHosts")] == [0, 0, 0]


def test_a_pending_host_that_is_not_aws_replacement_is_refused_at_once(simulator):
    world = World(simulator, maintained_scenario(tags={"Name": "another-app"}))
    simulator.control.reset_calls()
    with pytest.raises(InvalidInputError) as caught:
        world.plan(target_host_ids=[world.host("aws")], settle_timeout=5, settle_interval=0.1)
    assert "%s is pending, not available" % world.host("aws") in caught.value.message  # not "still pending after 5s"
    assert world.calls("DescribeHosts") == 2  # the failed host, then the target once: no wait


# ---------------------------------------------------------------------------------------------------- allocation across plan versions

class Crash(Exception):
    """The run dies right after EC2 answered (its process is killed before it writes anything more)."""


def crash_after_allocate_hosts(world):
    """Make the next AllocateHosts of ``world.ec2`` kill the run once EC2 has allocated the hosts."""
    def crash(**_kwargs):
        world.ec2.meta.events.unregister("after-call.ec2.AllocateHosts", unique_id="crash")
        raise Crash()
    world.ec2.meta.events.register("after-call.ec2.AllocateHosts", crash, unique_id="crash")


def allocated_for(world):
    """The live hosts tagged FailoverFor=<the failed host> (what AllocateHosts gave this failover)."""
    hosts_found = world.ec2.describe_hosts(Filter=[{"Name": "tag-key", "Values": ["FailoverFor"]}])["Hosts"]
    return [host for host in hosts_found if host["HostId"] != world.failed and host["State"] != "released"
            and dict((tag["Key"], tag["Value"]) for tag in host["Tags"])["FailoverFor"] == world.failed]


def test_two_crashes_across_plan_versions_leak_no_allocated_host(simulator):
    world = World(simulator, scenario(instances=[{"name": "big", "host": "failed", "instance_type": "m5.24xlarge"}]))
    record = world.record()
    crash_after_allocate_hosts(world)
    with pytest.raises(Crash):
        world.plan(record=record)  # first crash: v1's host is allocated, the plan is not stored
    # v1's host is under assessment when the rerun plans: it allocates another host (v2) and crashes again.
    (first,) = [host["HostId"] for host in allocated_for(world)]
    simulator.control.set_host_state(first, "under-assessment")
    crash_after_allocate_hosts(world)
    with pytest.raises(Crash):
        world.plan(record=record)  # second crash: v2's host is allocated, the plan is not stored
    simulator.control.set_host_state(first, "available")
    allocated = sorted(host["HostId"] for host in allocated_for(world))
    assert len(allocated) == 2 and first in allocated
    simulator.control.reset_calls()

    result = world.plan(record=record)

    assert world.calls("AllocateHosts") == 0
    assert len(result["plan"]["allocated_host_ids"]) == 1
    assert sorted(entry["hostId"] for entry in world.item()["AllocatedHosts"]) == allocated


def test_a_failover_that_starts_while_the_release_checks_its_hosts_keeps_them(simulator, monkeypatch):
    world = World(simulator, scenario())
    tags = [{"ResourceType": "dedicated-host", "Tags": hosts.allocation_tags(world.failed)}]
    (idle,) = world.ec2.allocate_hosts(AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=1,
                                       ClientToken=hosts.client_token(world.failed, 1), TagSpecifications=tags)["HostIds"]
    world.record().finalize()
    instances_on = hosts.instances_on

    def failover_starts_meanwhile(ec2, host_ids):
        found = instances_on(ec2, host_ids)
        world.record(run_id="run-new")  # after the scan found the failover over, before ReleaseHosts
        return found
    monkeypatch.setattr(cleanup, "instances_on", failover_starts_meanwhile)
    simulator.control.reset_calls()

    result = release_unused_hosts(world.ec2, world.dynamodb, TABLE)

    assert result["released_host_ids"] == [] and result["changed"] is False
    assert result["kept"] == [{"host_id": idle, "reason": "the failover of %s started meanwhile (or claimed it)" % world.failed}]
    assert world.calls("ReleaseHosts") == 0 and world.describe(idle)["State"] == "available"
    assert claims.read_claim(world.dynamodb, TABLE, idle) is None


def test_a_release_holds_its_host_until_ec2_answers(simulator):
    world = World(simulator, scenario(instances=[{"name": "web", "host": "failed"}]))
    record = world.record()
    crash_after_allocate_hosts(world)
    with pytest.raises(Crash):
        world.plan(record=record)  # the host is allocated under the failover's token, the plan is not stored
    (held,) = [host["HostId"] for host in allocated_for(world)]
    # While a failover's record is leased, even by a run that died, its hosts cannot be held for release.
    assert not claims.claim_for_release(world.dynamodb, TABLE, held, world.failed, world.item()["RecordVersion"], "release-test")
    seen = []

    def claim_during_release_hosts(**_kwargs):
        seen.append(claims.claimed_by(world.dynamodb, TABLE, held))
    ec2 = simulator.client("ec2")  # world.ec2 is fenced by the failover's lease
    ec2.meta.events.register("before-call.ec2.ReleaseHosts", claim_during_release_hosts)
    record.finalize(error_details="the run died")

    assert release_unused_hosts(ec2, world.dynamodb, TABLE, host_ids=[held])["released_host_ids"] == [held]
    assert seen == [claims.RELEASE_HOLDER]
    assert claims.read_claim(world.dynamodb, TABLE, held) is None  # the claim ends once EC2 answered


# ---------------------------------------------------------------------------------------------------- claims and the lease

def test_the_preflight_settle_wait_keeps_renewing_the_lease(simulator):
    world = World(simulator, scenario(pool_host("pool"), instances=[{"name": "web", "host": "failed", "hang_on_stop": True},
                                                                    {"name": "api", "host": "failed"}]))
    world.ec2.stop_instances(InstanceIds=[world.instance("web")])  # stays stopping: preflight waits the whole settle_timeout
    clock = {"now": 1795000000.0}
    record = MigrationRecord(world.dynamodb, TABLE, world.failed, RUN_ID, wall_clock=lambda: clock["now"],
                             monotonic=lambda: clock["now"])
    record.acquire(lease_seconds=30)
    other = MigrationRecord(world.dynamodb, TABLE, world.failed, "run-other", wall_clock=lambda: clock["now"])
    refused = []

    def sleep(seconds):
        clock["now"] += seconds
        try:
            other.acquire(lease_seconds=30)  # a takeover without break_lock is possible only once the lease expired
        except LeaseHeldError:
            refused.append(clock["now"])

    result = plan_replacement(world.ec2, world.dynamodb, TABLE, world.failed, record=record, run_id=RUN_ID,
                              sleep=sleep, monotonic=lambda: clock["now"], settle_timeout=120, settle_interval=5)

    assert clock["now"] >= 1795000000.0 + 120  # waited four leases long
    assert len(refused) == 24  # every takeover attempt during the wait was refused
    assert [entry["instance_id"] for entry in result["plan"]["skipped"]] == [world.instance("web")]
    assert world.item()["LeaseRunId"] == RUN_ID


def test_a_pool_host_tagged_back_into_the_pool_after_its_failover_finished_is_claimed_again(simulator):
    spec = scenario(pool_host("pool"), instances=[{"name": "web", "host": "failed"}])
    world = World(simulator, spec)
    pool = world.host("pool")
    # Failover A (another failed host) consumed the pool host, finished, and the operator tagged it back into the pool.
    first = MigrationRecord(world.dynamodb, TABLE, OTHER_FAILED, "run-other")
    first.acquire(lease_seconds=60)
    assert claims.claim_pool_host(world.dynamodb, TABLE, pool, OTHER_FAILED, "run-other")
    first.finalize()
    simulator.control.reset_calls()

    result = world.plan()

    assert result["plan"]["pool_host_ids"] == [pool] and result["plan"]["allocated_host_ids"] == []
    assert world.calls("AllocateHosts") == 0
    assert claims.claimed_by(world.dynamodb, TABLE, pool) == world.failed


def test_a_claim_of_a_failover_in_progress_is_never_taken_over(simulator):
    world = World(simulator, scenario(pool_host("pool"), instances=[{"name": "web", "host": "failed"}]))
    pool = world.host("pool")
    assert claim_for_another_failover(world, pool)

    result = world.plan()

    assert result["plan"]["pool_host_ids"] == [] and len(result["plan"]["allocated_host_ids"]) == 1
    assert claims.claimed_by(world.dynamodb, TABLE, pool) == OTHER_FAILED
