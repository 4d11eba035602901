# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hosts.plan_replacement against the project's simulator (EC2 + DynamoDB)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import claims
from ansible_collections.dedicated_hosts.failover.plugins.module_utils import hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import CapacityError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import get_record
from conftest import TABLE
from conftest import create_migration_table

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


class World(object):
    def __init__(self, sim, spec):
        self.sim = sim
        self.names = sim.load_scenario(spec)
        self.ec2 = sim.client("ec2")
        self.dynamodb = sim.client("dynamodb")
        create_migration_table(self.dynamodb)
        self.failed = self.names["hosts"]["failed"]

    def host(self, name):
        return self.names["hosts"][name]

    def instance(self, name):
        return self.names["instances"][name]

    def record(self, run_id=RUN_ID):
        record = MigrationRecord(self.dynamodb, TABLE, self.failed, run_id)
        record.acquire(lease_seconds=60)
        return record

    def plan(self, record=None, check_mode=False, **options):
        options.setdefault("allocation_retry_delay", 0)
        if record is None and not check_mode:
            record = self.record()
        return hosts.plan_replacement(self.ec2, self.dynamodb, TABLE, self.failed, record=record,
                                      run_id=None if check_mode else RUN_ID, check_mode=check_mode, sleep=lambda _s: None,
                                      **options)

    def describe(self, host_id):
        return self.ec2.describe_hosts(HostIds=[host_id])["Hosts"][0]

    def tags(self, host_id):
        return dict((tag["Key"], tag["Value"]) for tag in self.describe(host_id).get("Tags", []))

    def calls(self, action):
        return self.sim.control.call_count("ec2", action)

    def item(self):
        return get_record(self.dynamodb, TABLE, self.failed)


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
    assert world.tags(new_host) == {"Name": "app-host-1", "CostCenter": "cc-42", "FailoverFor": world.failed}
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


def test_pool_host_claimed_by_another_failover_is_skipped(simulator):
    # Each pool host has room for one of the two 12xlarge; the one claimed elsewhere is replaced by a new host.
    instances = [{"name": "big", "host": "failed", "instance_type": "m5.12xlarge", "count": 2}]
    spec = scenario(pool_host("taken"), pool_host("free"), instances=instances)
    spec["instances"] += [{"name": "resident-a", "host": "taken", "instance_type": "m5.12xlarge"},
                          {"name": "resident-b", "host": "free", "instance_type": "m5.12xlarge"}]
    world = World(simulator, spec)
    taken, free = world.host("taken"), world.host("free")
    assert claims.claim_pool_host(world.dynamodb, TABLE, taken, OTHER_FAILED, "run-other")
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
    record = world.record()
    item_before = world.item()
    simulator.control.reset_calls()
    result = hosts.plan_replacement(world.ec2, world.dynamodb, TABLE, world.failed, check_mode=True, max_new_hosts=2,
                                    allocate_hosts=True)
    assert result["changed"] is False
    assert world.calls("AllocateHosts") == 0
    assert world.calls("CreateTags") == 0
    assert claims.claims_for(world.dynamodb, TABLE, world.failed) == []
    assert world.item() == item_before
    assert "FailoverFor" not in world.tags(world.host("pool"))
    assert result["plan"]["would_allocate"] == []
    assert record.item is not None
    assert len(instances_before["Reservations"]) > 0


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
        hosts.plan_replacement(world.ec2, world.dynamodb, TABLE, "h-0123456789abcdef0", check_mode=True)
    assert "h-0123456789abcdef0" in caught.value.message
    simulator.control.set_host_state(world.failed, "released")
    with pytest.raises(InvalidInputError) as caught:
        world.plan(check_mode=True)
    assert "released" in caught.value.message


def test_malformed_ids_are_refused_before_any_call(simulator):
    world = World(simulator, scenario())
    simulator.control.reset_calls()
    with pytest.raises(InvalidInputError):
        hosts.plan_replacement(world.ec2, world.dynamodb, TABLE, "h-xyz", check_mode=True)
    with pytest.raises(InvalidInputError):
        hosts.plan_replacement(world.ec2, world.dynamodb, TABLE, world.failed, check_mode=True, instance_ids=["i-nope"])
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
    assert hosts.classify_instance({"RootDeviceType": "instance-store"})
    assert hosts.classify_instance({"RootDeviceType": "ebs"}) is None
