# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The placement engine against the simulator (EC2 + DynamoDB), with the real MigrationRecord."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import signal
import time
import types

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import hook_from_options
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import TokenBucket
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseLostError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILBACK_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import record_key
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import request_cancel
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import Migration
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import PROGRESS_FILE_ENV
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import lift_stop_protection
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import migrate
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import move_instances
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import progress_writer
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import recorded_plan
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import recorded_plan_hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import restore_stop_protection
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import summarize
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from conftest import SimulatedWorld
from conftest import TABLE

RUN_ID = "run-placement-test"
STATE_CHANGING = ("StopInstances", "StartInstances", "ModifyInstancePlacement")
FAST = dict(poll_interval=0.05, force_stop_after=30.0, stop_timeout=60.0, start_timeout=30.0)


def scenario(instances, failed_state="available", extra_hosts=()):
    hosts = [
        dict(name="failed", availability_zone="us-east-1a", instance_family="m5", state=failed_state),
        dict(name="target", availability_zone="us-east-1a", instance_family="m5", state="available"),
    ]
    hosts.extend(extra_hosts)
    return dict(seed=7, latency=dict(stop=20, start=15, force_stop=3, jitter=0.2), hosts=hosts, instances=instances)


class World(SimulatedWorld):
    """A loaded scenario, its clients, a table and a record whose lease this run holds."""

    def __init__(self, simulator, instances, failed_state="available", extra_hosts=(), lease_seconds=60.0, monotonic=time.monotonic):
        super().__init__(simulator, scenario(instances, failed_state, extra_hosts))
        self.record = MigrationRecord(self.dynamodb, TABLE, self.hosts["failed"], RUN_ID, owner="tester@host", monotonic=monotonic)
        self.record.acquire(lease_seconds=lease_seconds)
        simulator.control.reset_calls()

    def placements(self, names, target="target", original_state=None):
        return [
            dict(instance_id=self.instances[name], target_host_id=self.hosts[target], original_state=original_state)
            for name in names
        ]

    def describe(self, name):
        result = self.ec2.describe_instances(InstanceIds=[self.instances[name]])
        return result["Reservations"][0]["Instances"][0]

    def calls(self, service="ec2"):
        return self.simulator.control.calls()["counts"].get(service, {})

    def changing_calls(self):
        counts = self.calls()
        return dict((action, counts.get(action, 0)) for action in STATE_CHANGING)

    def log(self, action):
        return [entry for entry in self.simulator.control.call_log() if entry["action"] == action]


def by_id(results):
    return dict((result["instance_id"], result) for result in results)


def test_happy_path_running_and_stopped_instances_batched(simulator):
    world = World(simulator, [
        dict(name="web", host="failed", instance_type="m5.large", count=6, state="running", affinity="host"),
        dict(name="api", host="failed", instance_type="m5.large", count=2, state="running", affinity="default"),
        dict(name="cold", host="failed", instance_type="m5.large", state="stopped", affinity="host"),
    ])
    names = ["web-%d" % i for i in range(6)] + ["api-0", "api-1", "cold"]
    results = migrate(world.ec2, world.record, world.placements(names), FAST)

    assert [result["instance_id"] for result in results] == [world.instances[name] for name in names]
    for result in results:
        assert result["status"] == "success", result
        assert result["changed"] is True
        assert result["phase"] == "verified"
        assert result["error"] is None
        assert result["source_host_id"] == world.hosts["failed"]
        assert result["target_host_id"] == world.hosts["target"]
        assert result["force_stop_used"] is False
    for name in names[:-1]:
        description = world.describe(name)
        assert description["State"]["Name"] == "running"
        assert description["Placement"]["HostId"] == world.hosts["target"]
        assert description["Placement"]["Tenancy"] == "host"
    # The affinity of each instance is kept, not forced to host.
    assert world.describe("web-0")["Placement"]["Affinity"] == "host"
    assert world.describe("api-0")["Placement"]["Affinity"] == "default"

    # A stopped instance stays stopped: placed, never started.
    cold = by_id(results)[world.instances["cold"]]
    assert cold["original_state"] == "stopped"
    assert cold["final_state"] == "stopped"
    assert cold["attempts"] == 0
    assert cold["timings"]["start_seconds"] is None
    assert world.describe("cold")["State"]["Name"] == "stopped"
    assert world.describe("cold")["Placement"]["HostId"] == world.hosts["target"]

    web = by_id(results)[world.instances["web-0"]]
    assert web["attempts"] == 1
    assert web["original_state"] == "running" and web["final_state"] == "running"
    assert web["public_ip_before"] and web["public_ip_after"]
    assert all(web["timings"][key] is not None for key in ("stop_seconds", "placement_seconds", "start_seconds", "total_seconds"))

    # Batched: one StopInstances for the 8 running instances, one placement each, and starts batched
    # per poll tick (instances whose stop completed in the same tick start together; jitter may split them).
    calls = world.changing_calls()
    assert calls["StopInstances"] == 1 and calls["ModifyInstancePlacement"] == 9
    started = [entry["instance_ids"] for entry in world.log("StartInstances")]
    assert sorted(sum(started, [])) == sorted(world.instances[name] for name in names[:-1])
    assert len(started) < 8 and max(len(ids) for ids in started) > 1

    item = world.record.load()
    for name in names:
        entry = item["InstanceMigrations"][world.instances[name]]
        assert entry["status"] == "success" and entry["phase"] == "verified"
        assert entry["endTime"]
    assert item["SuccessfulMigrations"] == 9 and item["FailedMigrations"] == 0
    assert summarize(results) == dict(total=9, success=9, failed=0, skipped=0, pending=0, changed=9, force_stopped=0)


def test_record_written_once_per_tick(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=6, state="running")])
    names = ["web-%d" % i for i in range(6)]
    migration = Migration(world.ec2, world.record, world.placements(names), FAST)
    results = migration.run()
    assert all(result["status"] == "success" for result in results)
    updates = world.calls("dynamodb").get("UpdateItem", 0)
    # Every write of the run is one UpdateItem for all the instances that changed in that tick
    # (the lease of 60 s is not renewed during this short run).
    assert updates == migration.writes
    assert 1 <= migration.writes <= migration.ticks
    # Six instances each going through pending -> stopping -> placed/starting -> running -> verified would
    # need at least 24 writes if written one by one.
    assert migration.writes < 12
    item = world.record.load()
    assert item["TotalInstances"] == 6 and item["SuccessfulMigrations"] == 6


def test_hang_until_forced(simulator):
    world = World(simulator, [
        dict(name="db", host="failed", instance_type="m5.large", state="running", hang_on_stop=True),
        dict(name="web", host="failed", instance_type="m5.large", state="running"),
    ])
    options = dict(FAST, force_stop_after=0.5)
    results = by_id(migrate(world.ec2, world.record, world.placements(["db", "web"]), options))
    db = results[world.instances["db"]]
    assert db["status"] == "success"
    assert db["force_stop_used"] is True
    assert db["timings"]["stop_seconds"] >= 0.5
    assert results[world.instances["web"]]["force_stop_used"] is False
    stops = world.log("StopInstances")
    assert len(stops) == 2  # one graceful batch, one forced
    assert stops[1]["instance_ids"] == [world.instances["db"]]
    assert world.record.load()["InstanceMigrations"][world.instances["db"]]["forceStopUsed"] is True
    assert "force-stopping" in world.record.item["InstanceMigrations"][world.instances["db"]]["phaseTimes"]


def test_stop_timeout_fails_that_instance_only(simulator):
    world = World(simulator, [
        dict(name="stuck", host="failed", instance_type="m5.large", state="running", hang_on_stop=True, force_latency=100000),
        dict(name="web", host="failed", instance_type="m5.large", state="running"),
    ])
    options = dict(FAST, force_stop_after=0.3, stop_timeout=1.0)
    results = by_id(migrate(world.ec2, world.record, world.placements(["stuck", "web"]), options))
    stuck = results[world.instances["stuck"]]
    assert stuck["status"] == "failed"
    assert stuck["phase"] == "force-stopping"
    assert stuck["force_stop_used"] is True
    assert stuck["error_code"] == "StopTimeout"
    assert "did not stop within 1.0s" in stuck["error"] and "forced stop" in stuck["error"]
    assert stuck["retryable"] is False
    assert results[world.instances["web"]]["status"] == "success"
    assert world.describe("stuck")["Placement"]["HostId"] == world.hosts["failed"]
    entry = world.record.load()["InstanceMigrations"][world.instances["stuck"]]
    assert entry["status"] == "failed" and "did not stop" in entry["errorMessage"]


def test_force_stop_immediately_and_impaired_status(simulator):
    world = World(simulator, [
        dict(name="sick", host="failed", instance_type="m5.large", state="running", hang_on_stop=True),
        dict(name="web", host="failed", instance_type="m5.large", state="running", hang_on_stop=True),
    ])
    simulator.control.set_instance_status(world.instances["sick"], system="impaired")
    # An impaired instance is forced at once, without waiting for force_stop_after.
    options = dict(FAST, force_stop_after=0.5)
    results = by_id(migrate(world.ec2, world.record, world.placements(["sick", "web"]), options))
    sick, web = results[world.instances["sick"]], results[world.instances["web"]]
    assert sick["status"] == web["status"] == "success"
    assert sick["force_stop_used"] and web["force_stop_used"]
    assert sick["timings"]["stop_seconds"] < web["timings"]["stop_seconds"]
    first_stop = world.log("StopInstances")[0]
    assert first_stop["instance_ids"] == [world.instances["sick"]]


def test_force_stop_immediately_option_forces_every_instance(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=3, state="running", hang_on_stop=True)])
    options = dict(FAST, force_stop_immediately=True)
    results = migrate(world.ec2, world.record, world.placements(["web-0", "web-1", "web-2"]), options)
    assert all(result["status"] == "success" and result["force_stop_used"] for result in results)
    assert len(world.log("StopInstances")) == 1


def test_insufficient_capacity_twice_then_success(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=4, state="running")])
    unlucky = world.instances["web-1"]
    simulator.control.add_fault("ec2", "StartInstances", "InsufficientInstanceCapacity", count=2, instance_id=unlucky)
    results = by_id(migrate(world.ec2, world.record, world.placements(["web-%d" % i for i in range(4)]), dict(FAST, start_attempts=3)))
    assert all(result["status"] == "success" for result in results.values())
    assert results[unlucky]["attempts"] >= 2
    assert world.describe("web-1")["State"]["Name"] == "running"
    assert world.record.load()["InstanceMigrations"][unlucky]["retryCount"] >= 1
    # The batch that failed because of one instance was split: the others started in that same tick.
    others = [results[world.instances[name]] for name in ("web-0", "web-2", "web-3")]
    assert all(result["attempts"] == 1 for result in others)


def test_capacity_never_clears_fails_that_instance_clearly(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=3, state="running")])
    unlucky = world.instances["web-2"]
    simulator.control.add_fault("ec2", "StartInstances", "InsufficientInstanceCapacity", instance_id=unlucky)
    results = by_id(migrate(world.ec2, world.record, world.placements(["web-0", "web-1", "web-2"]), dict(FAST, start_attempts=3)))
    failed = results[unlucky]
    assert failed["status"] == "failed"
    assert failed["attempts"] == 3
    assert failed["retryable"] is True
    assert failed["error_code"] == "InsufficientInstanceCapacity"
    assert "after 3 attempt(s)" in failed["error"] and "left stopped on host %s" % world.hosts["target"] in failed["error"]
    assert failed["phase"] == "placed"
    assert results[world.instances["web-0"]]["status"] == "success"
    assert results[world.instances["web-1"]]["status"] == "success"
    item = world.record.load()
    assert item["FailedMigrations"] == 1 and item["SuccessfulMigrations"] == 2


def test_batch_split_on_per_instance_error(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=3, state="running")])
    bad = world.instances["web-0"]
    simulator.control.add_fault("ec2", "StartInstances", "UnsupportedOperation", instance_id=bad)
    results = by_id(migrate(world.ec2, world.record, world.placements(["web-0", "web-1", "web-2"]), FAST))
    assert results[bad]["status"] == "failed" and results[bad]["error_code"] == "UnsupportedOperation"
    assert results[bad]["retryable"] is False
    assert results[world.instances["web-1"]]["status"] == "success"
    assert results[world.instances["web-2"]]["status"] == "success"
    assert world.changing_calls()["StartInstances"] == 4  # the batch, then one per instance


def test_resume_from_mid_way(simulator):
    world = World(simulator, [
        # Stopped by a previous run, still on the failed host: goes on to the placement.
        dict(name="stopped", host="failed", instance_type="m5.large", state="stopped"),
        # Already placed on the target by a previous run: only started.
        dict(name="placed", host="target", instance_type="m5.large", state="stopped"),
        # Already done: running on its target.
        dict(name="done", host="target", instance_type="m5.large", state="running"),
    ])
    placements = world.placements(["stopped", "placed", "done"], original_state="running")
    results = by_id(migrate(world.ec2, world.record, placements, FAST))
    stopped, placed, done = (results[world.instances[name]] for name in ("stopped", "placed", "done"))
    assert stopped["status"] == placed["status"] == done["status"] == "success"
    assert stopped["changed"] and placed["changed"]
    assert done["changed"] is False and done["phase"] == "verified" and done["attempts"] == 0
    calls = world.changing_calls()
    assert calls["StopInstances"] == 0
    assert calls["ModifyInstancePlacement"] == 1
    assert sorted(world.log("StartInstances")[0]["instance_ids"]) == sorted([world.instances["stopped"], world.instances["placed"]])
    for name in ("stopped", "placed", "done"):
        assert world.describe(name)["State"]["Name"] == "running"
        assert world.describe(name)["Placement"]["HostId"] == world.hosts["target"]


def test_original_state_comes_from_the_record_on_resume(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", state="stopped")])
    instance_id = world.instances["web"]
    world.record.initialise_instances({instance_id: dict(targetHostId=world.hosts["target"], originalState="running")})
    results = migrate(world.ec2, world.record, world.placements(["web"]), FAST)
    assert results[0]["original_state"] == "running" and results[0]["final_state"] == "running"


def test_already_done_instances_change_nothing(simulator):
    world = World(simulator, [
        dict(name="web", host="target", instance_type="m5.large", state="running"),
        dict(name="cold", host="target", instance_type="m5.large", state="stopped"),
    ])
    placements = world.placements(["web"], original_state="running") + world.placements(["cold"], original_state="stopped")
    results = migrate(world.ec2, world.record, placements, FAST)
    assert all(result["status"] == "success" and result["changed"] is False for result in results)
    assert world.changing_calls() == {"StopInstances": 0, "StartInstances": 0, "ModifyInstancePlacement": 0}


class ShiftedClock(object):
    """``time.monotonic()`` moved on by hand: a stalled process, or slow calls, without the wait."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self):
        return time.monotonic() + self.offset


def test_lease_lost_stops_further_ec2_changes(simulator):
    monotonic = ShiftedClock()
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=3, state="running")],
                  lease_seconds=6.0, monotonic=monotonic)
    other = MigrationRecord(world.dynamodb, TABLE, world.hosts["failed"], "run-other", owner="other@host")
    taken = {}

    def sleep(seconds):
        time.sleep(seconds)
        if not taken:
            # This process stalls past its lease and another run breaks the lock meanwhile.
            taken["calls"] = world.changing_calls()
            other.acquire(lease_seconds=60.0, break_lock=True)
            monotonic.offset += 5.0

    migration = Migration(world.ec2, world.record, world.placements(["web-0", "web-1", "web-2"]), FAST,
                          sleep=sleep, monotonic=monotonic)
    with pytest.raises(LeaseLostError) as caught:
        migration.run()
    assert "run-other" in caught.value.message
    assert "left where it is" in caught.value.message
    assert len(caught.value.details["instances"]) == 3
    assert taken["calls"]["StopInstances"] == 1
    assert world.changing_calls() == taken["calls"]  # nothing changed in EC2 after the takeover
    item = world.record.load()
    assert item["LeaseRunId"] == "run-other"


def test_a_tick_of_paced_placements_longer_than_the_lease_renews_it_and_moves_everything(simulator):
    # Each ModifyInstancePlacement takes 1 s of the run's clock: 12 of them in one tick outlast the 6 s lease.
    monotonic = ShiftedClock()
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=12, state="stopped")],
                  lease_seconds=6.0, monotonic=monotonic)
    version = world.record.load()["LeaseVersion"]

    def slow_call(**_kwargs):
        monotonic.offset += 1.0
    world.ec2.meta.events.register("after-call.ec2.ModifyInstancePlacement", slow_call)

    results = migrate(world.ec2, world.record, world.placements(["web-%d" % index for index in range(12)]), FAST,
                      monotonic=monotonic)

    assert [result["status"] for result in results] == ["success"] * 12
    assert world.changing_calls()["ModifyInstancePlacement"] == 12
    # Renewed within the paced loop (a renewal at most every third of the lease: 2 s here), not once per tick.
    assert world.record.load()["LeaseVersion"] - version >= 12 // 2 - 1


def test_the_lease_is_kept_and_fenced_before_each_change(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", state="running")])
    fenced = []
    original = world.record.keep_lease

    def keep_lease():
        fenced.append(True)
        return original()

    world.record.keep_lease = keep_lease
    migrate(world.ec2, world.record, world.placements(["web"]), FAST)
    assert len(fenced) == sum(world.changing_calls().values()) == 3


def test_check_mode_makes_no_change_and_no_write(simulator):
    world = World(simulator, [
        dict(name="web", host="failed", instance_type="m5.large", count=2, state="running"),
        dict(name="cold", host="failed", instance_type="m5.large", state="stopped"),
        dict(name="done", host="target", instance_type="m5.large", state="running"),
    ])
    before = world.record.load()
    simulator.control.reset_calls()
    results = by_id(migrate(world.ec2, world.record, world.placements(["web-0", "web-1", "cold", "done"]), dict(FAST, check_mode=True)))
    assert world.changing_calls() == {"StopInstances": 0, "StartInstances": 0, "ModifyInstancePlacement": 0}
    dynamodb = world.calls("dynamodb")
    assert not any(dynamodb.get(action) for action in ("UpdateItem", "PutItem", "DeleteItem"))
    assert results[world.instances["web-0"]]["planned_actions"] == ["stop", "modify-placement", "start"]
    assert results[world.instances["cold"]]["planned_actions"] == ["modify-placement"]
    assert results[world.instances["web-0"]]["changed"] is True
    assert results[world.instances["done"]]["changed"] is False and results[world.instances["done"]]["planned_actions"] == []
    assert world.record.load()["RecordVersion"] == before["RecordVersion"]
    assert world.describe("web-0")["State"]["Name"] == "running"


def test_bounded_concurrency(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=5, state="running")])
    names = ["web-%d" % i for i in range(5)]
    results = migrate(world.ec2, world.record, world.placements(names), dict(FAST, concurrency=2))
    assert all(result["status"] == "success" for result in results)
    stops = world.log("StopInstances")
    assert len(stops) >= 3
    assert all(len(entry["instance_ids"]) <= 2 for entry in stops)
    assert sum(len(entry["instance_ids"]) for entry in stops) == 5
    # A new instance is stopped only after an earlier one finished: the third stop comes after a start.
    starts = world.log("StartInstances")
    assert starts[0]["time"] <= stops[1]["time"]


def test_placement_failure_restarts_on_source(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=2, state="running")],
                  extra_hosts=[dict(name="elsewhere", availability_zone="us-east-1b", instance_family="m5", state="available")])
    placements = world.placements(["web-0"], target="elsewhere") + world.placements(["web-1"])
    results = by_id(migrate(world.ec2, world.record, placements, FAST))
    failed = results[world.instances["web-0"]]
    assert failed["status"] == "failed"
    assert failed["error_code"] == "ZonesMismatched"
    assert failed["rolled_back"] is True
    assert "restarted on its source host" in failed["error"]
    assert world.describe("web-0")["State"]["Name"] == "running"
    assert world.describe("web-0")["Placement"]["HostId"] == world.hosts["failed"]
    assert results[world.instances["web-1"]]["status"] == "success"


def test_missing_instance_is_skipped(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", state="running")])
    placements = world.placements(["web"]) + [dict(instance_id="i-0123456789abcdef0", target_host_id=world.hosts["target"])]
    results = migrate(world.ec2, world.record, placements, FAST)
    assert results[0]["status"] == "success"
    assert results[1]["status"] == "skipped" and "does not exist" in results[1]["error"]


def test_token_bucket_paces_calls():
    now = {"t": 0.0}
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now["t"] += seconds

    bucket = TokenBucket(5, 2.0, monotonic=lambda: now["t"], sleep=sleep)
    for _call in range(5):
        assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.5)
    assert bucket.take() == pytest.approx(0.5)
    assert sum(slept) == pytest.approx(1.0)


def test_a_full_target_moves_the_instance_to_another_host_of_the_plan_with_room(simulator):
    spare = dict(name="spare", availability_zone="us-east-1a", instance_family="m5", state="available")
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", state="running")], extra_hosts=[spare])
    web = world.instances["web"]
    # The target host filled up after planning: its starts are refused with InsufficientCapacityOnHost.
    simulator.control.add_fault("ec2", "StartInstances", "InsufficientCapacityOnHost", instance_id=web, count=1)
    world.record.set_fields(Plan={web: world.hosts["target"]})
    results = by_id(migrate(world.ec2, world.record, world.placements(["web"]),
                            dict(FAST, start_attempts=3, spare_host_ids=[world.hosts["spare"]])))
    result = results[web]
    assert result["status"] == "success"
    assert result["target_host_id"] == world.hosts["spare"]
    assert result["replaced_from"] == [world.hosts["target"]]
    described = world.describe("web")
    assert described["State"]["Name"] == "running" and described["Placement"]["HostId"] == world.hosts["spare"]
    assert len(world.log("ModifyInstancePlacement")) == 2
    item = world.record.load()
    assert item["Plan"][web] == world.hosts["spare"]
    assert item["InstanceMigrations"][web]["targetHostId"] == world.hosts["spare"]


def test_a_full_target_with_no_other_room_leaves_the_instance_stopped_there(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=2, state="running")])
    stuck = world.instances["web-1"]
    simulator.control.add_fault("ec2", "StartInstances", "InsufficientCapacityOnHost", instance_id=stuck)
    results = by_id(migrate(world.ec2, world.record, world.placements(["web-0", "web-1"]), dict(FAST, start_attempts=2)))
    failed = results[stuck]
    assert failed["status"] == "failed" and failed["error_code"] == "InsufficientCapacityOnHost"
    assert failed["attempts"] == 2 and failed["replaced_from"] == []
    assert "no other host of the plan had room" in failed["error"]
    assert "left stopped on host %s" % world.hosts["target"] in failed["error"]
    assert world.describe("web-1")["State"]["Name"] == "stopped"
    assert results[world.instances["web-0"]]["status"] == "success"


def test_concurrency_none_moves_every_instance_at_once(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=3, state="running")])
    migration = Migration(world.ec2, world.record, world.placements(["web-0", "web-1", "web-2"]), dict(FAST, concurrency=None))
    assert migration.limit == 3


# ------------------------------------------------------------------ cancel


def cancel_after_first_stop(world, cancel):
    """A sleep that calls ``cancel()`` once the first StopInstances has been answered (the move has begun)."""
    done = []

    def sleep(seconds):
        if not done and world.log("StopInstances"):
            done.append(cancel())
        time.sleep(seconds)

    return sleep


def assert_cancelled_after_the_first_batch(world, results, names, reason_part):
    results = by_id(results)
    stopped = set(sum((entry["instance_ids"] for entry in world.log("StopInstances")), []))
    moved = [name for name in names if world.instances[name] in stopped]
    left = [name for name in names if name not in moved]
    assert len(moved) == 2 and len(left) == 3, (moved, left)
    item = world.record.load()
    for name in moved:
        assert results[world.instances[name]]["status"] == "success"
        assert world.describe(name)["State"]["Name"] == "running"
        assert world.describe(name)["Placement"]["HostId"] == world.hosts["target"]
    for name in left:
        result = results[world.instances[name]]
        assert result["status"] == "pending" and result["changed"] is False
        assert result["error"].startswith("cancelled before it was stopped: left where it is (cancel requested by %s" % reason_part)
        assert world.describe(name)["State"]["Name"] == "running"
        assert world.describe(name)["Placement"]["HostId"] == world.hosts["failed"]
        entry = item["InstanceMigrations"][world.instances[name]]
        assert entry["status"] == "pending" and entry["errorMessage"] == result["error"]
    assert summarize(list(results.values()))["pending"] == 3
    assert item["SuccessfulMigrations"] == 2 and item["TotalInstances"] == 5


def test_a_cancel_request_stops_no_further_instance_and_finishes_those_begun(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=5, state="running")])
    names = ["web-%d" % i for i in range(5)]
    world.record.initialise_instances(dict((world.instances[name], {"targetHostId": world.hosts["target"]}) for name in names))

    def cancel():
        return request_cancel(world.dynamodb, TABLE, world.hosts["failed"], "alice@bastion", "keep the rest")

    results = Migration(world.ec2, world.record, world.placements(names), dict(FAST, concurrency=2),
                        sleep=cancel_after_first_stop(world, cancel)).run()
    assert_cancelled_after_the_first_batch(world, results, names, "alice@bastion")
    assert world.record.cancel_request()["reason"] == "keep the rest"


def test_a_signal_cancels_like_a_request_and_says_so_in_the_record(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=5, state="running")])
    names = ["web-%d" % i for i in range(5)]
    caught = []
    results = Migration(world.ec2, world.record, world.placements(names), dict(FAST, concurrency=2),
                        sleep=cancel_after_first_stop(world, lambda: caught.append("SIGINT")),
                        interrupted=lambda: caught[0] if caught else None).run()
    assert_cancelled_after_the_first_batch(world, results, names, "signal SIGINT to run %s" % RUN_ID)
    request = world.record.load()["CancelRequest"]
    assert request["runId"] == RUN_ID and request["requestedBy"] == "signal SIGINT to run %s" % RUN_ID


def test_a_cancel_before_the_first_poll_stops_nothing(simulator):
    world = World(simulator, [
        dict(name="web", host="failed", instance_type="m5.large", count=2, state="running"),
        dict(name="cold", host="failed", instance_type="m5.large", state="stopped"),
    ])
    request_cancel(world.dynamodb, TABLE, world.hosts["failed"], "alice@bastion")
    results = migrate(world.ec2, world.record, world.placements(["web-0", "web-1", "cold"]), FAST)
    assert [result["status"] for result in results] == ["pending"] * 3
    assert "cancelled before it was moved" in by_id(results)[world.instances["cold"]]["error"]
    assert world.changing_calls() == dict((action, 0) for action in STATE_CHANGING)


# ---------------------------------------------------------------------------------------------------- stop protection

def stop_protected(world, name):
    answer = world.ec2.describe_instance_attribute(InstanceId=world.instances[name], Attribute="disableApiStop")
    return answer["DisableApiStop"]["Value"]


def protected_world(simulator, **options):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", state="running")], **options)
    world.ec2.modify_instance_attribute(InstanceId=world.instances["web"], DisableApiStop={"Value": True})
    return world


def test_the_lift_is_recorded_before_stop_protection_is_turned_off(simulator):
    world = protected_world(simulator)
    seen = []

    def before_lift(**_kwargs):
        seen.append(world.record.load()["InstanceMigrations"][world.instances["web"]].get("stopProtectionLifted"))
    world.ec2.meta.events.register("before-call.ec2.ModifyInstanceAttribute", before_lift)

    assert lift_stop_protection(world.ec2, world.record, [world.instances["web"]]) == {}
    assert seen == [True] and stop_protected(world, "web") is False


def test_the_run_that_holds_the_lease_restores_what_a_crashed_run_lifted(simulator):
    world = protected_world(simulator, lease_seconds=5.0)
    crashed = world.record
    lift_stop_protection(world.ec2, crashed, [world.instances["web"]])  # and the run dies here
    holder = MigrationRecord(world.dynamodb, TABLE, world.hosts["failed"], "run-rerun", owner="tester@host")
    holder.acquire(lease_seconds=60.0, break_lock=True)
    ec2 = simulator.client("ec2")

    results = migrate(ec2, holder, world.placements(["web"]), FAST)
    restored, errors = restore_stop_protection(ec2, holder)

    assert [result["status"] for result in results] == ["success"]
    assert (restored, errors) == ([world.instances["web"]], {})
    assert stop_protected(world, "web") is True
    assert holder.load()["InstanceMigrations"][world.instances["web"]]["stopProtectionLifted"] is False


def test_a_run_that_lost_its_lease_leaves_the_restore_to_the_holder(simulator):
    world = protected_world(simulator, lease_seconds=5.0)
    lift_stop_protection(world.ec2, world.record, [world.instances["web"]])
    MigrationRecord(world.dynamodb, TABLE, world.hosts["failed"], "run-other", owner="other@host").acquire(
        lease_seconds=60.0, break_lock=True)
    simulator.control.reset_calls()

    assert restore_stop_protection(world.ec2, world.record) == (None, {})
    assert world.calls().get("ModifyInstanceAttribute", 0) == 0
    assert stop_protected(world, "web") is False  # the holder's StopInstances is not refused


def test_a_move_waits_for_the_instances_another_host_of_the_run_drew_from_the_shared_start_budget(simulator, tmp_path):
    world = World(simulator, [dict(name=name, host="failed", instance_type="m5.large", state="running") for name in ("web", "db")])
    shared = tmp_path / "ec2-request-buckets-us-east-1.json"
    # Another host of the run has just started 1,001 instances: the resource bucket is one instance in debt.
    shared.write_text(json.dumps({"StartInstances instances": [-1.0, time.monotonic()]}))
    started = time.time()
    results = by_id(migrate(world.ec2, world.record, world.placements(["web", "db"]), dict(FAST, request_budget_file=str(shared))))
    assert all(result["status"] == "success" for result in results.values()), results
    # Two instances at 2 a second, three tokens short: about 1.5 s before StartInstances may go.
    [start] = world.log("StartInstances")
    assert start["time"] - started >= 1.4
    state = json.loads(shared.read_text())
    assert set(state) >= {"StartInstances", "StartInstances instances", "StopInstances instances", "DescribeInstances"}


def test_progress_lines_say_where_the_instances_are_and_end_with_the_outcome(simulator):
    world = World(simulator, [dict(name=name, host="failed", instance_type="m5.large", state="running") for name in ("web", "db")])
    lines = []
    results = migrate(world.ec2, world.record, world.placements(["web", "db"]), FAST, progress=lines.append)
    assert all(result["status"] == "success" for result in results)
    assert re.match(r"0/2 instances done after \d+ s; moving: 2 [a-z-]+; slowest: i-[0-9a-f]+ [a-z-]+ for \d+ s$", lines[0]), lines
    assert lines[-1].startswith("2/2 instances done (2 success) after ") and "moving" not in lines[-1]
    # A line only when the counts changed: never the same line twice in a row.
    assert all(before != after for before, after in zip(lines, lines[1:]))


def test_progress_is_said_at_most_every_progress_seconds_but_always_at_the_end():
    clock = {"t": 0.0}
    lines = []
    migration = Migration.__new__(Migration)
    migration.moves, migration.progress, migration._progress_said = [], lines.append, None
    migration._monotonic, migration.started = (lambda: clock["t"]), 0.0
    counts = iter([((), (("stopping", 1),)), ((), (("stopped", 1),)), ((), (("running", 1),)), ((("success", 1),), ())])
    migration.progress_counts = lambda: next(counts)
    migration.moves = [types.SimpleNamespace(done=True, marks={})]
    migration._say_progress()
    clock["t"] = 1.0
    migration._say_progress()  # changed, but only a second later: not said
    clock["t"] = 6.0
    migration._say_progress()
    clock["t"] = 7.0
    migration._say_progress(final=True)
    assert lines == ["0/1 instances done after 0 s; moving: 1 stopping", "0/1 instances done after 6 s; moving: 1 running",
                     "1/1 instances done (1 success) after 7 s"]


def test_the_progress_writer_appends_lines_and_ignores_a_folder_that_is_gone(tmp_path, monkeypatch):
    monkeypatch.delenv(PROGRESS_FILE_ENV, raising=False)
    assert progress_writer("h-1") is None
    folder = tmp_path / "run"
    folder.mkdir()
    monkeypatch.setenv(PROGRESS_FILE_ENV, str(folder / "progress"))
    write = progress_writer("h-1")
    write("0/2 instances done")
    assert (folder / "progress").read_text() == "h-1: 0/2 instances done\n"
    (folder / "progress").unlink()
    folder.rmdir()
    write("1/2 instances done")  # no error: the move goes on


# ---------------------------------------------------------------------------------------------------- SSM hooks


def with_hooks(pre_stop=None, post_start=None, **options):
    return dict(FAST, pre_stop_hook=hook_from_options("pre_stop", pre_stop), post_start_hook=hook_from_options("post_start", post_start),
                **options)


def test_a_cancel_while_a_pre_stop_hook_runs_leaves_the_instance_where_it_is(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=2, state="running")])
    simulator.control.set_ssm_outcome("timeout", instance_id=world.instances["web-0"])  # its drain hangs
    names = ["web-0", "web-1"]
    world.record.initialise_instances(dict((world.instances[name], {"targetHostId": world.hosts["target"]}) for name in names))
    cancelled = []

    def cancel_once_web_1_stops(seconds):
        if not cancelled and world.log("StopInstances"):
            cancelled.append(request_cancel(world.dynamodb, TABLE, world.hosts["failed"], "alice@bastion", "stop the drill"))
        time.sleep(seconds)

    results = by_id(Migration(world.ec2, world.record, world.placements(names), with_hooks("Drain-App"),
                              sleep=cancel_once_web_1_stops, ssm_client=simulator.client("ssm")).run())

    web_0, web_1 = results[world.instances["web-0"]], results[world.instances["web-1"]]
    assert (web_0["status"], web_0["phase"]) == ("pending", "pre-stop-hook")
    assert web_0["error"].startswith("cancelled before it was stopped: left where it is")
    assert world.instances["web-0"] not in sum((entry["instance_ids"] for entry in world.log("StopInstances")), [])
    assert world.describe("web-0")["State"]["Name"] == "running"
    assert (web_1["status"], world.describe("web-1")["Placement"]["HostId"]) == ("success", world.hosts["target"])


def test_a_resumed_run_runs_no_pre_stop_hook_on_an_instance_already_stopped_and_finishes_a_post_start_hook(simulator):
    world = World(simulator, [
        dict(name="stopped-by-the-first-run", host="failed", instance_type="m5.large", state="stopped"),
        dict(name="moved-by-the-first-run", host="target", instance_type="m5.large", state="running"),
    ])
    first, second = world.instances["stopped-by-the-first-run"], world.instances["moved-by-the-first-run"]
    target = world.hosts["target"]
    world.record.initialise_instances(dict((instance_id, {"targetHostId": target, "originalState": "running"}) for instance_id in (first, second)))
    world.record.update_instances({second: {"status": "in-progress", "phase": "post-start-hook"}})

    results = by_id(migrate(world.ec2, world.record, world.placements(["stopped-by-the-first-run", "moved-by-the-first-run"]),
                            with_hooks("Drain-App", "Warm-Up"), ssm_client=simulator.client("ssm")))

    sent = [(entry["document"], entry["instance_id"]) for entry in simulator.control.ssm_invocations()["invocations"]]
    assert sorted(sent) == sorted([("Warm-Up", first), ("Warm-Up", second)])
    assert [results[first]["status"], results[second]["status"]] == ["success", "success"]
    assert [hook["hook"] for hook in results[first]["hooks"]] == ["post_start"]
    assert world.describe("stopped-by-the-first-run")["Placement"]["HostId"] == target


# ---------------------------------------------------------------------------------------------------- move_instances


def move_options(world, **options):
    return dict(dict(FAST, failed_host_id=world.hosts["failed"]), **options)


def test_instances_of_an_under_assessment_host_are_force_stopped_at_once(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=2, state="running", hang_on_stop=True)],
                  failed_state="under-assessment")
    result = move_instances(world.ec2, world.record, world.placements(["web-0", "web-1"]), move_options(world))
    assert result["force_stop_immediately"] is True
    assert [(item["status"], item["force_stop_used"]) for item in result["instances"]] == [("success", True)] * 2
    assert world.calls()["DescribeHosts"] == 1
    assert [entry["instance_ids"] for entry in world.log("StopInstances")] == [[world.instances["web-0"], world.instances["web-1"]]]


def test_a_failback_does_not_read_the_host_and_stops_gracefully(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", state="running")], failed_state="under-assessment")
    failback = MigrationRecord(world.dynamodb, TABLE, record_key(world.hosts["failed"], FAILBACK_RECORD), RUN_ID, owner="tester@host")
    failback.acquire(lease_seconds=60.0)
    result = move_instances(world.ec2, failback, world.placements(["web"]), move_options(world, record_kind=FAILBACK_RECORD))
    assert result["force_stop_immediately"] is False
    assert [item["status"] for item in result["instances"]] == ["success"]
    assert world.calls().get("DescribeHosts", 0) == 0


def test_a_failed_host_that_does_not_exist_is_refused_before_any_change(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", state="running")])
    with pytest.raises(NotFoundError, match="failed host h-0123456789abcdef0 was not found; set force_stop_immediately"):
        move_instances(world.ec2, world.record, world.placements(["web"]), move_options(world, failed_host_id="h-0123456789abcdef0"))
    assert world.changing_calls() == dict((action, 0) for action in STATE_CHANGING)
    assert world.calls("dynamodb").get("UpdateItem", 0) == 0


def test_a_retry_pass_counts_once_more_in_each_instance_retry_count(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=2, state="running")])
    retried, first = world.instances["web-0"], world.instances["web-1"]
    world.record.initialise_instances({instance_id: {"targetHostId": world.hosts["target"]} for instance_id in (retried, first)})
    world.record.update_instances({retried: {"retryCount": 2}})
    result = move_instances(world.ec2, world.record, world.placements(["web-0", "web-1"]), move_options(world, retry=True))
    assert result["summary"]["success"] == 2
    migrations = world.record.load()["InstanceMigrations"]
    assert (migrations[retried]["retryCount"], migrations[first]["retryCount"]) == (3, 1)


def test_stop_protection_is_lifted_for_the_move_restored_after_it_and_noted(simulator):
    world = World(simulator, [dict(name=name, host="failed", instance_type="m5.large", state="running") for name in ("web", "db")])
    world.ec2.modify_instance_attribute(InstanceId=world.instances["web"], DisableApiStop={"Value": True})
    placements = world.placements(["web", "db"])
    placements[0].update(lift_stop_protection=True, notes=["its public IPv4 address will change"])
    result = move_instances(world.ec2, world.record, placements, move_options(world))
    web, db = (by_id(result["instances"])[world.instances[name]] for name in ("web", "db"))
    assert (web["status"], db["status"]) == ("success", "success")
    assert web["notes"] == ["its public IPv4 address will change", "stop protection was lifted for the move and restored"]
    assert db["notes"] == []
    assert stop_protected(world, "web") is True
    assert world.record.load()["InstanceMigrations"][world.instances["web"]]["stopProtectionLifted"] is False


def test_a_signal_during_the_move_cancels_it_and_the_call_finishes_the_record_itself(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=5, state="running")])
    names = ["web-%d" % i for i in range(5)]
    signalled = []

    def interrupt_after_the_first_stop(**_kwargs):
        if not signalled:
            signalled.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C; ansible-playbook exits on it, the move must finish alone
    world.ec2.meta.events.register("after-call.ec2.StopInstances", interrupt_after_the_first_stop)
    handler_before = signal.getsignal(signal.SIGINT)

    result = move_instances(world.ec2, world.record, world.placements(names), move_options(world, concurrency=2))

    assert signal.getsignal(signal.SIGINT) is handler_before
    assert result["final_state"] == "cancelled"
    assert result["cancel"]["run_id"] == RUN_ID and result["cancel"]["requested_by"] == "signal SIGINT to run %s" % RUN_ID
    assert (result["summary"]["success"], result["summary"]["pending"]) == (2, 3)
    left = [item for item in result["instances"] if item["status"] == "pending"]
    assert all(item["source_host_id"] == world.hosts["failed"] for item in left)
    assert all(world.describe(name)["Placement"]["HostId"] == world.hosts["failed"] for name in names
               if world.instances[name] in [item["instance_id"] for item in left])
    item = world.record.load()
    assert (item["State"], item["LeaseRunId"], item["SuccessfulMigrations"]) == ("cancelled", None, 2)


# ---------------------------------------------------------------------------------------------------- the record's plan


def store_plan(world, targets, preflight=None, spare_hosts=()):
    """Write the plan as replacement_host stores it: Plan, PlanHosts, PlanPreflight and the pending instance map.

    ``targets`` maps instance names to host names; ``preflight`` instance names to PlanPreflight entries."""
    plan = dict((world.instances[name], world.hosts[host]) for name, host in targets.items())
    hosts = [{"hostId": world.hosts["failed"], "role": "failed"}]
    hosts.extend({"hostId": world.hosts[name], "role": "pool"} for name in sorted(set(targets.values()) | set(spare_hosts)))
    world.record.set_fields(Plan=plan, PlanHosts=hosts, PlanVersion=1, PlanPreflight=dict(
        (world.instances[name], entry) for name, entry in (preflight or {}).items()))
    described = dict((name, world.describe(name)) for name in targets)
    world.record.initialise_instances(dict(
        (world.instances[name], {"targetHostId": world.hosts[host], "originalState": described[name]["State"]["Name"],
                                 "instanceType": described[name]["InstanceType"], "status": "pending"})
        for name, host in targets.items()))


SPARE_HOST = dict(name="spare", availability_zone="us-east-1a", instance_family="m5", state="available")


def test_without_placements_the_plan_stored_in_the_record_is_moved_with_its_preflight_settings(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", state="running"),
                              dict(name="cold", host="failed", instance_type="m5.large", state="stopped")], extra_hosts=[SPARE_HOST])
    world.ec2.modify_instance_attribute(InstanceId=world.instances["web"], DisableApiStop={"Value": True})
    store_plan(world, {"web": "target", "cold": "spare"},
               preflight={"web": {"notes": ["its public IPv4 address will change"], "liftStopProtection": True, "forceStopAfter": 900}})

    result = move_instances(world.ec2, world.record, None, move_options(world))

    web, cold = (by_id(result["instances"])[world.instances[name]] for name in ("web", "cold"))
    assert [item["instance_id"] for item in result["instances"]] == sorted(world.instances[name] for name in ("web", "cold"))
    assert (web["status"], web["target_host_id"], web["final_state"]) == ("success", world.hosts["target"], "running")
    assert (cold["status"], cold["target_host_id"], cold["final_state"]) == ("success", world.hosts["spare"], "stopped")
    assert web["notes"] == ["its public IPv4 address will change", "stop protection was lifted for the move and restored"]
    assert cold["notes"] == []
    assert world.describe("web")["Placement"]["HostId"] == world.hosts["target"]
    assert world.describe("cold")["Placement"]["HostId"] == world.hosts["spare"]
    assert stop_protected(world, "web") is True


def test_the_recorded_plan_reads_targets_preflight_settings_and_the_hosts_of_the_plan():
    item = {"Plan": {"i-0000000b": "h-0000000a", "i-0000000a": "h-0000000b"},
            "PlanHosts": [{"hostId": "h-0000000f", "role": "failed"}, {"hostId": "h-0000000a", "role": "pool"},
                          {"hostId": "h-0000000b", "role": "pool"}, {"hostId": "h-0000000c", "role": "new"}],
            "PlanPreflight": {"i-0000000a": {"stopTimeout": 1000, "startTimeout": 5000, "notes": ["a Mac"],
                                             "liftStopProtection": False}}}
    assert recorded_plan(item, "h-0000000f") == [
        {"instance_id": "i-0000000a", "target_host_id": "h-0000000b", "stop_timeout": 1000, "start_timeout": 5000,
         "notes": ["a Mac"], "lift_stop_protection": False},
        {"instance_id": "i-0000000b", "target_host_id": "h-0000000a"},
    ]
    assert recorded_plan_hosts(item) == ["h-0000000a", "h-0000000b", "h-0000000c"]
    # An empty plan (nothing was movable) moves nothing; a record without any plan is refused.
    assert recorded_plan({"Plan": {}, "PlanHosts": [{"hostId": "h-0000000f", "role": "failed"}]}, "h-0000000f") == []
    with pytest.raises(InvalidInputError, match="the migration record of h-0000000f holds no plan"):
        recorded_plan({"Plan": {}}, "h-0000000f")


def test_instance_ids_not_in_the_plan_are_refused_before_any_change(simulator):
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", count=2, state="running")])
    store_plan(world, {"web-0": "target"})
    with pytest.raises(InvalidInputError, match="instance_ids not in the plan: %s" % world.instances["web-1"]):
        move_instances(world.ec2, world.record, None, move_options(world, instance_ids=[world.instances["web-1"]]))
    assert world.changing_calls() == dict((action, 0) for action in STATE_CHANGING)


def test_a_retry_of_one_instance_takes_it_to_its_current_target_in_the_record_and_may_use_every_host_of_the_plan(simulator):
    # The other instance stays stopped, so web's starts are requests of their own (the fault counts them).
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", state="running"),
                              dict(name="cold", host="failed", instance_type="m5.large", state="stopped")], extra_hosts=[SPARE_HOST])
    web, other = world.instances["web"], world.instances["cold"]
    store_plan(world, {"web": "target", "cold": "target"}, spare_hosts=["spare"])
    # The target is full at start time: web goes to the spare host of the plan (named only in the record's PlanHosts),
    # where its start is refused too, a retryable failure.
    simulator.control.add_fault("ec2", "StartInstances", "InsufficientCapacityOnHost", instance_id=web, count=2)
    first = by_id(move_instances(world.ec2, world.record, None, move_options(world, start_attempts=1))["instances"])
    assert (first[web]["status"], first[web]["retryable"], first[web]["target_host_id"]) == ("failed", True, world.hosts["spare"])
    assert first[other]["status"] == "success"
    assert world.record.load()["Plan"][web] == world.hosts["spare"]
    simulator.control.reset_calls()

    retried = move_instances(world.ec2, world.record, None, move_options(world, instance_ids=[web], retry=True))

    assert [(item["instance_id"], item["status"], item["target_host_id"]) for item in retried["instances"]] == [
        (web, "success", world.hosts["spare"])]
    assert world.describe("web")["Placement"]["HostId"] == world.hosts["spare"]
    assert [entry["instance_ids"] for entry in world.log("StartInstances")] == [[web]]
    migrations = world.record.load()["InstanceMigrations"]
    assert (migrations[web]["retryCount"], migrations[other]["retryCount"]) == (1, 0)


def full_target_world(simulator):
    """One instance planned onto a target that is full at start time, with a spare host in the record's plan."""
    world = World(simulator, [dict(name="web", host="failed", instance_type="m5.large", state="running")], extra_hosts=[SPARE_HOST])
    store_plan(world, {"web": "target"}, spare_hosts=["spare"])
    simulator.control.add_fault("ec2", "StartInstances", "InsufficientCapacityOnHost", instance_id=world.instances["web"], count=1)
    return world


def test_given_placements_are_moved_as_they_are_with_the_hosts_of_the_records_plan_as_spares(simulator):
    world = full_target_world(simulator)
    result = move_instances(world.ec2, world.record, world.placements(["web"]), move_options(world))
    assert [(item["status"], item["target_host_id"]) for item in result["instances"]] == [("success", world.hosts["spare"])]


def test_spare_host_ids_given_are_the_only_spares_besides_the_targets(simulator):
    world = full_target_world(simulator)
    result = move_instances(world.ec2, world.record, None, move_options(world, spare_host_ids=[], start_attempts=1))
    assert [(item["status"], item["error_code"]) for item in result["instances"]] == [("failed", "InsufficientCapacityOnHost")]
    assert "no other host of the plan had room" in result["instances"][0]["error"]
