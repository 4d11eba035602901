# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""failback.plan_failback against the project's simulator (EC2 + DynamoDB)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import failback
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import list_records
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import serialize_item
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import CapacityError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseHeldError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from conftest import SimulatedWorld
from conftest import TABLE
from dhsim.testing import wait_for_state

RUN_ID = "run-00000000000000fb"


def host(name, **extra):
    return dict({"name": name, "availability_zone": "us-east-1a", "instance_family": "m5", "state": "available"}, **extra)


def on(host_name, name, instance_type="m5.large", **extra):
    return dict({"name": name, "host": host_name, "instance_type": instance_type, "state": "running", "affinity": "host"}, **extra)


class World(SimulatedWorld):
    """The original host (available, emptied by a failover) and the replacement host its instances run on now."""

    def __init__(self, sim, instances=None, hosts=()):
        super().__init__(sim, {"hosts": [host("original"), host("replacement"), host("elsewhere")] + list(hosts),
                               "instances": instances or [on("replacement", "web", count=2), on("replacement", "cold", state="stopped")]})
        self.original = self.host("original")
        self.replacement = self.host("replacement")

    def failover_record(self, moved, **fields):
        """The failover record of the original host: ``moved`` (names) succeeded onto the replacement host."""
        entries = dict((self.instance(name), {"status": "success", "phase": "verified", "targetHostId": self.replacement})
                       for name in moved)
        item = dict({"HostId": self.original, "State": "complete", "RunId": "run-failover", "InstanceMigrations": entries}, **fields)
        self.dynamodb.put_item(TableName=TABLE, Item=serialize_item(item))

    def plan(self, record=None, instance_ids=None):
        return failback.plan_failback(self.ec2, self.dynamodb, TABLE, self.original, instance_ids=instance_ids, record=record)

    def lease(self):
        record = MigrationRecord(self.dynamodb, TABLE, "failback#" + self.original, RUN_ID)
        record.acquire(lease_seconds=60)
        return record


def states(result):
    return dict((entry["instance_id"], entry["original_state"]) for entry in result["plan"]["placements"])


def test_the_instances_the_failover_moved_go_back_each_in_its_state_now(simulator):
    world = World(simulator, instances=[on("replacement", "web", count=2), on("replacement", "cold", state="stopped"),
                                        on("replacement", "resident")])
    world.failover_record(["web-0", "web-1", "cold"])

    result = world.plan()

    assert states(result) == {world.instance("web-0"): "running", world.instance("web-1"): "running", world.instance("cold"): "stopped"}
    assert set(entry["target_host_id"] for entry in result["plan"]["placements"]) == {world.original}
    assert result["plan"]["skipped"] == []
    assert result["changed"] is False
    assert get_record(world.dynamodb, TABLE, "failback#" + world.original) is None  # no record given: nothing written


def test_a_host_without_a_failover_record_is_refused(simulator):
    world = World(simulator)
    with pytest.raises(NotFoundError, match="has no failover record: there is nothing to fail back"):
        world.plan()


def test_a_failover_still_processing_under_a_live_lease_is_refused(simulator):
    world = World(simulator)
    world.failover_record(["web-0"], State="processing", LeaseRunId="run-live", LeaseOwner="ops@bastion",
                          LeaseExpiresAt=int(time.time()) + 600, LeaseSeconds=600, LeaseVersion=1)
    with pytest.raises(LeaseHeldError, match="the failover of host %s is still processing" % world.original):
        world.plan()


def test_a_failover_whose_lease_expired_does_not_block_the_failback(simulator):
    world = World(simulator)
    world.failover_record(["web-0"], State="processing", LeaseRunId="run-gone", LeaseOwner="ops@bastion",
                          LeaseExpiresAt=int(time.time()) - 600, LeaseSeconds=60, LeaseVersion=1)
    assert list(states(world.plan())) == [world.instance("web-0")]


def test_instance_ids_narrow_the_set_and_an_id_the_failover_did_not_move_is_refused(simulator):
    world = World(simulator)
    world.failover_record(["web-0", "web-1"])
    assert list(states(world.plan(instance_ids=[world.instance("web-1")]))) == [world.instance("web-1")]
    with pytest.raises(InvalidInputError, match="instance_ids: %s not moved by the last failover" % world.instance("cold")):
        world.plan(instance_ids=[world.instance("web-0"), world.instance("cold")])


@pytest.mark.parametrize("state", ["under-assessment", "permanent-failure", "pending"])
def test_an_original_host_not_available_is_refused_with_its_state(simulator, state):
    world = World(simulator)
    world.failover_record(["web-0"])
    simulator.control.set_host_state(world.original, state)
    with pytest.raises(InvalidInputError, match="original host %s is %s and" % (world.original, state)):
        world.plan()


def test_an_available_original_host_with_an_impaired_instance_is_refused_as_failed(simulator):
    world = World(simulator, instances=[on("replacement", "web"), on("original", "stays")])
    world.failover_record(["web"])
    simulator.control.set_instance_status(world.instance("stays"), system="impaired")
    with pytest.raises(InvalidInputError, match="is available and failed .*impaired system status") as refused:
        world.plan()
    assert refused.value.details["health"] == "failed"


def test_instances_gone_or_moved_elsewhere_since_are_skipped_with_the_reason(simulator):
    world = World(simulator)
    world.failover_record(["web-0", "web-1", "cold"])
    world.ec2.terminate_instances(InstanceIds=[world.instance("web-0")])
    world.ec2.modify_instance_placement(InstanceId=world.instance("cold"), HostId=world.host("elsewhere"))

    result = world.plan()

    assert list(states(result)) == [world.instance("web-1")]
    reasons = dict((entry["instance_id"], entry["reason"]) for entry in result["plan"]["skipped"])
    assert reasons[world.instance("web-0")] in ("instance %s is terminated" % world.instance("web-0"),
                                                "instance %s is shutting-down" % world.instance("web-0"))
    assert reasons[world.instance("cold")] == "instance %s is on host %s now, not on %s where the failover put it: left where it is" % (
        world.instance("cold"), world.host("elsewhere"), world.replacement)


def test_instances_that_do_not_fit_on_the_original_host_are_refused_before_anything_is_written(simulator):
    # An m5.24xlarge needs a whole empty host; the original host runs an instance launched there since.
    world = World(simulator, instances=[on("replacement", "huge", "m5.24xlarge"), on("original", "squatter")])
    world.failover_record(["huge"])
    record = world.lease()
    with pytest.raises(CapacityError, match="1 of 1 instance\\(s\\) do not fit back on host %s" % world.original):
        world.plan(record=record)
    assert record.load()["InstanceMigrations"] == {}


def test_the_record_gets_the_plan_and_a_resumed_failback_keeps_the_original_states(simulator):
    world = World(simulator)
    world.failover_record(["web-0", "web-1", "cold"])
    world.ec2.modify_instance_placement(InstanceId=world.instance("cold"), HostId=world.host("elsewhere"))
    record = world.lease()

    first = world.plan(record=record)

    assert first["changed"] is True
    entries = record.item["InstanceMigrations"]
    assert dict((instance_id, (entry["status"], entry.get("originalState"))) for instance_id, entry in entries.items()) == {
        world.instance("web-0"): ("pending", "running"), world.instance("web-1"): ("pending", "running"),
        world.instance("cold"): ("skipped", None)}
    assert (record.item["TotalInstances"], record.item["SkippedMigrations"]) == (3, 1)
    # The run is killed after it stopped web-0: the rerun still starts it again on the original host.
    world.ec2.stop_instances(InstanceIds=[world.instance("web-0")])
    wait_for_state(world.ec2, [world.instance("web-0")], "stopped")

    again = world.plan(record=record)

    assert states(again)[world.instance("web-0")] == "running"
    assert again["changed"] is False


def test_failback_records_are_listed_apart_from_failover_records(simulator):
    world = World(simulator)
    world.failover_record(["web-0"])
    world.lease()
    assert [item["HostId"] for item in list_records(world.dynamodb, TABLE)] == [world.original]
    assert [item["HostId"] for item in list_records(world.dynamodb, TABLE, kind="failback")] == ["failback#" + world.original]
