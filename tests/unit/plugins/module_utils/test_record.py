# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration record and its lease, against moto's DynamoDB, with injected clocks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import boto3
import botocore
import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import ConditionFailed
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import list_records
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseHeldError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseLostError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import CANCEL_POLL_SECONDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import QUIET_BEFORE_TAKEOVER_SECONDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import STUCK_OWNER
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_clock
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_margin
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_state
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import request_cancel
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.status import status_document
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import iso_time
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import parse_iso_time
from conftest import TABLE

HOST = "h-0123456789abcdef0"
POOL = "h-0fedcba9876543210"
I1 = "i-0000000000000000a"
I2 = "i-0000000000000000b"
I3 = "i-0000000000000000c"
I4 = "i-0000000000000000d"
START = 1795000000.0  # 2026-11-18T...


class Clock(object):
    """A wall clock and a monotonic clock that only move when told to."""

    def __init__(self, wall=START, mono=1000.0):
        self.wall = wall
        self.mono = mono

    def advance(self, seconds):
        self.wall += seconds
        self.mono += seconds

    def wall_clock(self):
        return self.wall

    def monotonic(self):
        return self.mono


class SlowClient(object):
    """A DynamoDB client whose writes take ``delay`` seconds on the given clock."""

    def __init__(self, client, clock, delay):
        self._client = client
        self._clock = clock
        self._delay = delay

    def __getattr__(self, name):
        method = getattr(self._client, name)
        if name not in ("put_item", "update_item"):
            return method

        def slow(*args, **kwargs):
            self._clock.advance(self._delay)
            return method(*args, **kwargs)

        return slow


class CountingClient(object):
    """A DynamoDB client that notes every call it makes."""

    def __init__(self, client, calls):
        self._client = client
        self._calls = calls

    def __getattr__(self, name):
        method = getattr(self._client, name)
        if name.startswith("_") or not callable(method) or name in ("get_paginator", "can_paginate"):
            return method

        def counted(*args, **kwargs):
            self._calls.append((name, kwargs))
            return method(*args, **kwargs)

        return counted


@pytest.fixture
def clock():
    return Clock()


def make(dynamodb, clock, run_id="run-a", owner=None, host=HOST, client=None):
    return MigrationRecord(
        client or dynamodb,
        TABLE,
        host,
        run_id,
        owner=owner or "%s@bastion" % run_id,
        wall_clock=clock.wall_clock,
        monotonic=clock.monotonic,
    )


def raw_item(dynamodb, host=HOST):
    return dynamodb.get_item(TableName=TABLE, Key={"HostId": {"S": host}}, ConsistentRead=True).get("Item")


def initialised(dynamodb, clock, run_id="run-a", lease_seconds=30):
    record = make(dynamodb, clock, run_id)
    record.acquire(lease_seconds)
    record.initialise_instances(
        {
            I1: {"targetHostId": POOL, "originalState": "running", "instanceType": "m5.large"},
            I2: {"targetHostId": POOL, "originalState": "stopped", "instanceType": "m5.large"},
            I3: {"status": "skipped", "errorMessage": "instance is terminated"},
        }
    )
    return record


# ----------------------------------------------------------------------------- create and numbers


def test_acquire_creates_record_with_numbers(dynamodb, clock):
    record = make(dynamodb, clock)
    outcome = record.acquire(30)
    assert outcome["created"] and not outcome["resumed"] and not outcome["taken_over"]
    raw = raw_item(dynamodb)
    assert raw["State"] == {"S": "processing"}
    assert raw["CreatedAt"] == {"N": str(int(START))}
    assert raw["UpdatedAt"] == {"N": str(int(START))}
    assert raw["LeaseRunId"] == {"S": "run-a"}
    assert raw["LeaseOwner"] == {"S": "run-a@bastion"}
    assert float(raw["LeaseExpiresAt"]["N"]) == START + 30
    assert raw["LeaseVersion"] == {"N": "1"}
    assert record.item["TotalInstances"] == 0


def test_fractional_values_are_stored_as_numbers(dynamodb, clock):
    clock.wall = START + 0.25
    record = make(dynamodb, clock)
    record.acquire(7.5)
    record.set_fields(AllocatedHosts=[{"hostId": POOL, "allocationTime": 12.5}])
    raw = raw_item(dynamodb)
    assert float(raw["LeaseExpiresAt"]["N"]) == START + 7.75
    assert raw["LeaseSeconds"] == {"N": "7.5"}
    assert raw["AllocatedHosts"]["L"][0]["M"]["allocationTime"] == {"N": "12.5"}
    assert record.load()["AllocatedHosts"] == [{"hostId": POOL, "allocationTime": 12.5}]


def test_invalid_input_is_refused_before_any_call(dynamodb, clock):
    with pytest.raises(InvalidInputError):
        make(dynamodb, clock, host="h-bad")
    with pytest.raises(InvalidInputError):
        make(dynamodb, clock).acquire(2)
    record = initialised(dynamodb, clock)
    with pytest.raises(InvalidInputError):
        record.update_instances({I1: {"status": "done"}})
    with pytest.raises(InvalidInputError):
        record.update_instances({I1: {"phase": "moving"}})
    with pytest.raises(InvalidInputError):
        record.update_instances({"i-nothex": {"status": "failed"}})
    with pytest.raises(InvalidInputError):
        record.set_fields(TotalInstances=4)


def test_writes_without_a_record_fail_clearly(dynamodb, clock):
    with pytest.raises(NotFoundError):
        make(dynamodb, clock).update_instances({I1: {"status": "in-progress"}})


def test_missing_table_is_reported(empty_dynamodb, clock):
    with pytest.raises(NotFoundError) as error:
        make(empty_dynamodb, clock).load()
    assert "HostMigrationQueue not found" in error.value.message
    with pytest.raises(NotFoundError):
        list_records(empty_dynamodb, TABLE)


# ----------------------------------------------------------------------------- exactness


def test_repeated_update_never_counts_twice(dynamodb, clock):
    record = initialised(dynamodb, clock)
    change = {I1: {"status": "success", "phase": "verified"}}
    first = record.update_instances(change)
    assert record.changed
    version = first["RecordVersion"]
    clock.advance(5)
    second = record.update_instances(change)
    assert not record.changed
    assert second["RecordVersion"] == version
    stored = record.load()
    assert stored["SuccessfulMigrations"] == 1
    assert stored["SkippedMigrations"] == 1
    assert stored["TotalInstances"] == 3
    assert stored["InstanceMigrations"][I1]["endTime"] == iso_time(START)


def test_concurrent_writers_of_one_run_are_merged_exactly(dynamodb, clock):
    writer = initialised(dynamodb, clock)
    other = make(dynamodb, clock)  # the same run in another thread or process, with its own (stale) copy
    other.load()
    writer.update_instances({I1: {"status": "success"}})
    other.update_instances({I2: {"status": "failed", "errorMessage": "InsufficientInstanceCapacity"}})
    stored = writer.load()
    assert stored["InstanceMigrations"][I1]["status"] == "success"
    assert stored["InstanceMigrations"][I2]["status"] == "failed"
    assert (stored["SuccessfulMigrations"], stored["FailedMigrations"], stored["SkippedMigrations"]) == (1, 1, 1)
    assert raw_item(dynamodb)["FailedMigrations"] == {"N": "1"}


def test_one_update_item_for_many_instances(dynamodb, clock):
    initialised(dynamodb, clock)
    calls = []
    record = make(dynamodb, clock, client=CountingClient(dynamodb, calls))
    record.update_instances(
        {I1: {"status": "in-progress", "phase": "stopping"}, I2: {"status": "in-progress", "phase": "placed", "forceStopUsed": True}}
    )
    assert [name for name, _params in calls] == ["get_item", "update_item"]
    assert "LeaseRunId" in calls[1][1]["ExpressionAttributeNames"].values()


def test_phase_times_start_and_end(dynamodb, clock):
    record = initialised(dynamodb, clock)
    clock.advance(10)
    record.update_instances({I1: {"status": "in-progress", "phase": "stopping"}})
    clock.advance(10)
    record.update_instances({I1: {"phase": "force-stopping", "forceStopUsed": True}})
    clock.advance(10)
    record.update_instances({I1: {"phase": "stopped"}})
    clock.advance(10)
    item = record.update_instances({I1: {"status": "failed", "phase": "stopped", "errorMessage": "boom", "retryCount": 1}})
    entry = item["InstanceMigrations"][I1]
    assert entry["phaseTimes"] == {
        "pending": iso_time(START),
        "stopping": iso_time(START + 10),
        "force-stopping": iso_time(START + 20),
        "stopped": iso_time(START + 30),
    }
    assert entry["startTime"] == iso_time(START + 10)
    assert entry["endTime"] == iso_time(START + 40)
    assert entry["forceStopUsed"] is True and entry["retryCount"] == 1 and entry["errorMessage"] == "boom"
    # retried: back in progress, the end time and the error go; the start time stays
    clock.advance(10)
    entry = record.update_instances({I1: {"status": "in-progress", "phase": "placed", "retryCount": 2}})["InstanceMigrations"][I1]
    assert entry["endTime"] is None and entry["errorMessage"] is None
    assert entry["startTime"] == iso_time(START + 10)
    assert record.item["FailedMigrations"] == 0


def test_update_adds_an_unknown_instance(dynamodb, clock):
    record = initialised(dynamodb, clock)
    item = record.update_instances({I4: {"status": "in-progress", "targetHostId": POOL}})
    assert item["TotalInstances"] == 4
    assert item["InstanceMigrations"][I4]["targetHostId"] == POOL


def test_initialise_keeps_progress_on_resume(dynamodb, clock):
    record = initialised(dynamodb, clock)
    record.update_instances({I1: {"status": "in-progress", "phase": "stopped"}})
    version = record.item["RecordVersion"]
    # the same initialisation again writes nothing
    record.initialise_instances({I1: {"targetHostId": POOL, "originalState": "running"}})
    assert not record.changed and record.item["RecordVersion"] == version
    # a resumed run sees I1 stopped (the previous run stopped it) and I3 now movable
    record.initialise_instances(
        {
            I1: {"targetHostId": "h-11111111111111111", "originalState": "stopped"},
            I3: {"targetHostId": POOL, "originalState": "running"},
        }
    )
    migrations = record.item["InstanceMigrations"]
    assert migrations[I1]["status"] == "in-progress" and migrations[I1]["phase"] == "stopped"
    assert migrations[I1]["originalState"] == "running"
    assert migrations[I1]["targetHostId"] == POOL
    assert migrations[I3]["status"] == "pending" and migrations[I3]["endTime"] is None
    assert migrations[I3]["errorMessage"] is None
    assert I2 in migrations  # not named again: kept
    assert record.item["SkippedMigrations"] == 0 and record.item["TotalInstances"] == 3


def test_set_fields(dynamodb, clock):
    record = initialised(dynamodb, clock)
    item = record.set_fields(ReplacementHostIds=[POOL, "h-11111111111111111"], Plan={I1: POOL}, PlanVersion=1, AllocationClientToken="tok-1")
    assert item["ReservedHostId"] == POOL
    assert item["Plan"] == {I1: POOL}
    version = item["RecordVersion"]
    record.set_fields(Plan={I1: POOL}, PlanVersion=1)
    assert not record.changed and record.item["RecordVersion"] == version
    item = record.set_fields(AllocationClientToken=None)
    assert item["AllocationClientToken"] is None
    assert "AllocationClientToken" not in raw_item(dynamodb)


# ----------------------------------------------------------------------------- lease


def test_live_lease_refuses_another_run(dynamodb, clock):
    make(dynamodb, clock, "run-a", owner="alice@laptop").acquire(60)
    clock.advance(30)
    with pytest.raises(LeaseHeldError) as error:
        make(dynamodb, clock, "run-b").acquire(60)
    message = error.value.message
    assert message == (
        "host %s is locked by run run-a (alice@laptop) until %s; wait for the lease to expire or run with break_lock=true"
        % (HOST, iso_time(START + 60))
    )
    assert error.value.details["holder"] == "alice@laptop"
    assert error.value.details["expires_at"] == iso_time(START + 60)
    assert raw_item(dynamodb)["LeaseRunId"] == {"S": "run-a"}


def test_takeover_only_after_expiry_plus_margin(dynamodb, clock):
    holder = make(dynamodb, clock, "run-a")
    holder.acquire(30)
    margin = lease_margin(30)
    assert margin == 3.0
    clock.advance(30 + margin - 0.5)  # expired, but within the margin
    with pytest.raises(LeaseHeldError):
        make(dynamodb, clock, "run-b").acquire(30)
    clock.advance(1.0)
    taker = make(dynamodb, clock, "run-b")
    outcome = taker.acquire(30)
    assert outcome["taken_over"] and outcome["resumed"] and not outcome["broke_lock"]
    assert outcome["previous_run_id"] == "run-a" and outcome["previous_owner"] == "run-a@bastion"
    assert taker.item["LeaseRunId"] == "run-b" and taker.item["RunId"] == "run-b"
    assert taker.item["LeaseVersion"] == 2


def test_margin_has_a_floor_of_one_second():
    assert lease_margin(3) == 1.0
    assert lease_margin(10) == 1.0
    assert lease_margin(120) == 12.0


def test_lost_lease_stops_every_write(dynamodb, clock):
    holder = initialised(dynamodb, clock, "run-a", lease_seconds=30)
    clock.advance(40)
    make(dynamodb, clock, "run-b").acquire(30)
    with pytest.raises(LeaseLostError) as error:
        holder.renew()
    assert "now held by run run-b" in error.value.message
    with pytest.raises(LeaseLostError):
        holder.fence()
    with pytest.raises(LeaseLostError):
        holder.update_instances({I1: {"status": "success"}})
    with pytest.raises(LeaseLostError):
        holder.set_fields(ReservedHostId=POOL)
    with pytest.raises(LeaseLostError):
        holder.finalize()
    with pytest.raises(LeaseLostError):
        holder.release()
    stored = raw_item(dynamodb)
    assert stored["LeaseRunId"] == {"S": "run-b"}
    assert stored["InstanceMigrations"]["M"][I1]["M"]["status"] == {"S": "pending"}


def test_break_lock_takes_a_live_lease(dynamodb, clock):
    holder = make(dynamodb, clock, "run-a")
    holder.acquire(60)
    outcome = make(dynamodb, clock, "run-b").acquire(60, break_lock=True)
    assert outcome["taken_over"] and outcome["broke_lock"] and outcome["previous_run_id"] == "run-a"
    with pytest.raises(LeaseLostError):
        holder.renew()


def test_stale_takeover_loses_the_race(dynamodb, clock):
    make(dynamodb, clock, "run-a").acquire(30)
    clock.advance(60)
    late = make(dynamodb, clock, "run-c")
    stale = late.load()  # run-c saw the expired lease ...
    make(dynamodb, clock, "run-b").acquire(30)  # ... but run-b took it first
    with pytest.raises(ConditionFailed):
        late._take(stale, clock.wall, 30)
    with pytest.raises(LeaseHeldError):
        late.acquire(30)  # read again: run-b holds a live lease


def test_same_run_reacquires_its_own_lease(dynamodb, clock):
    make(dynamodb, clock, "run-a").acquire(30)
    again = make(dynamodb, clock, "run-a")
    outcome = again.acquire(30)
    assert outcome["lease_state"] == "ours" and not outcome["taken_over"]
    assert again.item["LeaseVersion"] == 2


def test_fence_uses_the_monotonic_time_at_the_start_of_the_call(dynamodb, clock):
    record = make(dynamodb, clock, client=SlowClient(dynamodb, clock, delay=2.0))
    record.acquire(30)  # the PutItem took 2 s
    assert record.remaining() == pytest.approx(30 - 3 - 2)
    clock.mono += 24.9
    assert record.fence() == pytest.approx(0.1)
    clock.mono += 0.2
    with pytest.raises(LeaseLostError) as error:
        record.fence()
    assert "within 3.0 s of expiring" in error.value.message


def test_fence_without_a_lease(dynamodb, clock):
    with pytest.raises(LeaseLostError):
        make(dynamodb, clock).fence()


def test_fence_client_checks_the_lease_before_every_ec2_change_it_sends(dynamodb, clock):
    # An unreachable endpoint: a request that got past the fence would fail with a connection error.
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    record = make(dynamodb, clock)
    record.acquire(30)
    wrapped = retrying(ec2)
    assert record.fence_client(wrapped) is wrapped
    clock.mono += 27.5  # past deadline - margin: the run must not act any more
    for call in (lambda: ec2.stop_instances(InstanceIds=["i-0123456789abcdef0"]),
                 lambda: ec2.allocate_hosts(AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=1)):
        with pytest.raises(LeaseLostError):
            call()
    plain = object()
    assert record.fence_client(plain) is plain  # a client without botocore's events is left alone


def test_renew_and_heartbeat(dynamodb, clock):
    record = make(dynamodb, clock)
    record.acquire(30)
    clock.advance(5)
    assert record.heartbeat() is False
    assert record.load()["LeaseVersion"] == 1
    clock.advance(6)  # 11 s > 30 / 3
    assert record.heartbeat() is True
    item = record.load()
    assert item["LeaseVersion"] == 2
    assert item["LeaseExpiresAt"] == START + 11 + 30
    assert record.remaining() == pytest.approx(27)
    clock.advance(25)
    assert record.fence() == pytest.approx(2)
    info = record.renew(60)
    assert info["seconds"] == 60 and info["version"] == 3
    assert record.remaining() == pytest.approx(54)


def test_heartbeat_keeps_a_long_run_alive(dynamodb, clock):
    record = make(dynamodb, clock)
    record.acquire(30)
    other = make(dynamodb, clock, "run-b")
    for _tick in range(20):  # 200 s of work, checking in every 10 s
        clock.advance(10)
        record.heartbeat()
        record.fence()
        with pytest.raises(LeaseHeldError):
            other.acquire(30)


def test_release_then_another_run_takes_it_without_takeover(dynamodb, clock):
    record = make(dynamodb, clock)
    record.acquire(30)
    assert record.release() is True
    assert record.release() is False
    assert not record.holds_lease()
    outcome = make(dynamodb, clock, "run-b").acquire(30)
    assert outcome["lease_state"] == "free" and not outcome["taken_over"]


# ----------------------------------------------------------------------------- finalize


def test_finalize_complete_with_ttl(dynamodb, clock):
    record = initialised(dynamodb, clock)
    record.update_instances({I1: {"status": "success", "phase": "verified"}, I2: {"status": "success", "phase": "verified"}})
    item = record.finalize()
    assert item["State"] == "complete"
    assert item["ExpirationTime"] == int(START) + 7 * 86400
    assert item["ErrorDetails"] is None
    assert item["LeaseRunId"] is None and item["RunId"] == "run-a"
    assert raw_item(dynamodb)["ExpirationTime"] == {"N": str(int(START) + 7 * 86400)}
    assert not record.holds_lease()
    again = record.finalize()
    assert not record.changed and again["State"] == "complete"


def test_finalize_failed_on_partial_failure(dynamodb, clock):
    record = initialised(dynamodb, clock)
    record.update_instances({I1: {"status": "success"}, I2: {"status": "failed", "errorMessage": "StartInstances: capacity"}})
    item = record.finalize(ttl_seconds=3600)
    assert item["State"] == "failed"
    assert item["ExpirationTime"] == int(START) + 3600
    assert item["ErrorDetails"] == "1 of 3 instance(s) failed: %s (StartInstances: capacity)" % I2


def test_finalize_failed_when_instances_were_left(dynamodb, clock):
    record = initialised(dynamodb, clock)
    item = record.finalize(error_details="capacity: 1 instance has no place")
    assert item["State"] == "failed" and item["ErrorDetails"] == "capacity: 1 instance has no place"


def test_finalize_without_instances_is_complete(dynamodb, clock):
    record = make(dynamodb, clock)
    record.acquire(30)
    assert record.finalize()["State"] == "complete"
    assert status_document(record.item)["migrationSummary"]["progressPercentage"] == 100


def test_finalize_with_an_error_before_any_instance_was_recorded_is_failed(dynamodb, clock):
    # A failover refused at planning (no place for its instances) has an empty map: it did not complete.
    record = make(dynamodb, clock)
    record.acquire(30)
    assert record.preview_finalize(error_details="2 of 2 movable instance(s) have no place") == "failed"
    item = record.finalize(error_details="2 of 2 movable instance(s) have no place")
    assert item["State"] == "failed" and item["ErrorDetails"] == "2 of 2 movable instance(s) have no place"


def test_a_finished_record_acquired_again_starts_a_fresh_generation(dynamodb, clock):
    record = initialised(dynamodb, clock)
    record.set_fields(Plan={I1: POOL, I2: POOL}, PlanVersion=2, AllocationClientToken="failover-%s-v2" % HOST,
                      AllocationClientTokens=["failover-%s-v1" % HOST, "failover-%s-v2" % HOST], ReplacementHostIds=[POOL],
                      AllocatedHosts=[{"hostId": POOL, "allocationTime": "2026-11-18T00:00:00Z"}], Settlement={"outcome": "succeeded"})
    record.update_instances({I1: {"status": "success", "phase": "verified"}, I2: {"status": "success", "phase": "verified"}})
    record.finalize()
    assert record.item["Generation"] == 1
    again = make(dynamodb, clock, "run-b")
    outcome = again.acquire(30)
    assert outcome["lease_state"] == "free"
    item = again.load()
    assert item["State"] == "processing" and item["ExpirationTime"] is None
    assert item["Generation"] == 2
    assert (item["InstanceMigrations"], item["Plan"], item["ReplacementHostIds"], item["ReservedHostId"], item["AllocatedHosts"]) == (
        {}, {}, [], None, [])
    assert item["AllocationClientToken"] is None and "AllocationClientTokens" not in item and "Settlement" not in item
    assert item["PlanVersion"] == 3  # the next plan gets ClientTokens no earlier generation used
    assert (item["TotalInstances"], item["SuccessfulMigrations"], item["SkippedMigrations"]) == (0, 0, 0)
    # Taking the lease over inside one generation (a resume) keeps everything.
    resumed = make(dynamodb, clock, "run-c")
    resumed.acquire(30, break_lock=True)
    assert resumed.item["Generation"] == 2 and resumed.item["PlanVersion"] == 3


def test_a_new_generation_keeps_only_instances_the_last_one_left_part_way(dynamodb, clock):
    record = initialised(dynamodb, clock)
    record.update_instances({I1: {"status": "failed", "phase": "stopped", "errorMessage": "placement refused"},
                             I2: {"status": "failed", "phase": "pending", "errorMessage": "stop refused"}})
    record.finalize()
    again = make(dynamodb, clock, "run-b")
    again.acquire(30)
    item = again.load()
    # I1 was running and is stopped now because of the failover: its original state must survive. I2 never moved.
    assert sorted(item["InstanceMigrations"]) == [I1]
    assert item["InstanceMigrations"][I1]["originalState"] == "running"
    assert (item["TotalInstances"], item["FailedMigrations"]) == (1, 1)


# ----------------------------------------------------------------------------- reference records


def reference_item():
    """A record as the reference system leaves it when its execution dies mid-migration."""
    return {
        "HostId": {"S": HOST},
        "State": {"S": "processing"},
        "CreatedAt": {"N": "1750564800"},
        "UpdatedAt": {"S": "2025-06-22T04:03:00.000Z"},
        "ReservedHostId": {"S": POOL},
        "TotalInstances": {"N": "3"},
        "SuccessfulMigrations": {"N": "1"},
        "FailedMigrations": {"N": "0"},
        "InstanceMigrations": {
            "M": {
                I1: {
                    "M": {
                        "status": {"S": "success"},
                        "startTime": {"S": "2025-06-22T04:00:00Z"},
                        "endTime": {"S": "2025-06-22T04:03:00Z"},
                        "errorMessage": {"NULL": True},
                        "retryCount": {"N": "0"},
                    }
                },
                I2: {
                    "M": {
                        "status": {"S": "in-progress"},
                        "startTime": {"S": "2025-06-22T04:03:00Z"},
                        "endTime": {"NULL": True},
                        "errorMessage": {"NULL": True},
                        "retryCount": {"N": "0"},
                    }
                },
                I3: {
                    "M": {
                        "status": {"S": "pending"},
                        "startTime": {"NULL": True},
                        "endTime": {"NULL": True},
                        "errorMessage": {"NULL": True},
                        "retryCount": {"N": "0"},
                    }
                },
            }
        },
    }


def test_reference_record_loads_with_defaults(dynamodb, clock):
    dynamodb.put_item(TableName=TABLE, Item=reference_item())
    item = make(dynamodb, clock).load()
    assert item["UpdatedAt"] == parse_iso_time("2025-06-22T04:03:00Z") == 1750564980
    assert item["SkippedMigrations"] == 0 and item["LeaseVersion"] == 0 and item["RecordVersion"] == 0
    assert item["ReplacementHostIds"] == [POOL]
    assert item["LeaseRunId"] is None and item["Plan"] == {}
    entry = item["InstanceMigrations"][I1]
    assert entry["phase"] == "verified" and entry["phaseTimes"] == {} and entry["targetHostId"] == POOL
    assert entry["forceStopUsed"] is False and entry["originalState"] is None
    assert item["InstanceMigrations"][I2]["phase"] == "pending"
    assert lease_state(item, "run-a", clock.wall) == "stuck"
    document = status_document(item)
    assert document["updatedAt"] == 1750564980
    assert document["migrationSummary"] == {
        "totalInstances": 3,
        "successfulMigrations": 1,
        "failedMigrations": 0,
        "skippedMigrations": 0,
        "cancelledMigrations": 0,
        "inProgressMigrations": 2,
        "progressPercentage": 33,
    }


def test_reference_record_stuck_in_processing_is_resumed(dynamodb, clock):
    dynamodb.put_item(TableName=TABLE, Item=reference_item())
    record = make(dynamodb, clock)
    outcome = record.acquire(30)
    assert outcome["taken_over"] and outcome["lease_state"] == "stuck" and outcome["previous_run_id"] is None
    assert outcome["previous_owner"] == STUCK_OWNER
    raw = raw_item(dynamodb)
    assert raw["UpdatedAt"] == {"N": str(int(START))}
    assert raw["CreatedAt"] == {"N": "1750564800"}
    assert raw["SkippedMigrations"] == {"N": "0"}
    # I1 was moved already (it is no longer on the failed host); I2 and I3 still are
    record.initialise_instances({I2: {"targetHostId": POOL, "originalState": "running"}, I3: {"targetHostId": POOL, "originalState": "running"}})
    assert record.item["InstanceMigrations"][I1]["status"] == "success"
    assert record.item["InstanceMigrations"][I2]["status"] == "in-progress"
    record.update_instances({I2: {"status": "success", "phase": "verified"}, I3: {"status": "success", "phase": "verified"}})
    record.update_instances({I2: {"status": "success", "phase": "verified"}})  # repeated
    item = record.finalize()
    assert item["State"] == "complete"
    assert (item["TotalInstances"], item["SuccessfulMigrations"], item["FailedMigrations"]) == (3, 3, 0)
    assert raw_item(dynamodb)["SuccessfulMigrations"] == {"N": "3"}


def test_a_reference_record_updated_recently_is_taken_over_only_with_break_lock_or_once_quiet(dynamodb, clock):
    item = reference_item()
    item["UpdatedAt"] = {"S": iso_time(clock.wall - 600)}
    dynamodb.put_item(TableName=TABLE, Item=item)
    record = make(dynamodb, clock)
    with pytest.raises(LeaseHeldError) as caught:
        record.acquire(30)
    assert "has a record in processing without a lease" in caught.value.message
    assert "after %s" % iso_time(clock.wall - 600 + QUIET_BEFORE_TAKEOVER_SECONDS) in caught.value.message
    assert raw_item(dynamodb)["UpdatedAt"] == item["UpdatedAt"]  # nothing written
    assert lease_state(record.load(), "run-a", clock.wall) == "unleased"

    broke = record.acquire(30, break_lock=True)
    assert broke["taken_over"] and broke["broke_lock"] and broke["lease_state"] == "unleased"


def test_a_reference_record_quiet_for_the_documented_age_is_taken_over(dynamodb, clock):
    item = reference_item()
    item["UpdatedAt"] = {"S": iso_time(clock.wall - QUIET_BEFORE_TAKEOVER_SECONDS)}
    dynamodb.put_item(TableName=TABLE, Item=item)
    outcome = make(dynamodb, clock).acquire(30)
    assert outcome["lease_state"] == "stuck" and outcome["taken_over"] and not outcome["broke_lock"]


def test_reference_healthy_record_reads_and_resumes(dynamodb, clock):
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            "HostId": {"S": HOST},
            "State": {"S": "healthy"},
            "UpdatedAt": {"S": "2025-06-22T04:00:00.000Z"},
            "application-health": {"S": "ok"},
            "health-check-results": {"S": "{\"healthy\": 2}"},
            "HealthyNotificationSent": {"BOOL": True},
        },
    )
    record = make(dynamodb, clock)
    item = record.load()
    assert item["State"] == "healthy" and item["CreatedAt"] is None and item["TotalInstances"] == 0
    assert item["HealthyNotificationSent"] is True
    document = status_document(item)
    assert document["state"] == "healthy" and document["migrationSummary"]["progressPercentage"] == 100
    outcome = record.acquire(30)
    assert outcome["lease_state"] == "free" and not outcome["taken_over"]
    assert record.item["CreatedAt"] == int(START) and record.item["application-health"] == "ok"


def test_parse_iso_time_variants():
    assert parse_iso_time("2025-06-22T04:00:00Z") == 1750564800
    assert parse_iso_time("2025-06-22T04:00:00.500Z") == 1750564800.5
    assert parse_iso_time("2025-06-22T06:00:00+02:00") == 1750564800
    assert parse_iso_time("yesterday") is None


# ----------------------------------------------------------------------------- status document and listing


def test_status_document_numbers(dynamodb, clock):
    record = initialised(dynamodb, clock)
    record.update_instances({I1: {"status": "success"}, I2: {"status": "failed"}, I4: {"status": "in-progress"}})
    document = status_document(record.item)
    assert document["migrationSummary"] == {
        "totalInstances": 4,
        "successfulMigrations": 1,
        "failedMigrations": 1,
        "skippedMigrations": 1,
        "cancelledMigrations": 0,
        "inProgressMigrations": 1,
        "progressPercentage": 75,
    }
    assert document["hostId"] == HOST and document["state"] == "processing"
    assert document["lease"] == {"owner": "run-a@bastion", "runId": "run-a", "expiresAt": START + 30, "version": 1}
    assert set(document) >= {"hostId", "state", "reservedHostId", "createdAt", "updatedAt", "migrationSummary", "instanceMigrations", "errorDetails"}


def test_progress_rounds_like_the_reference():
    migrations = {I1: {"status": "success"}, I2: {"status": "success"}, I3: {"status": "pending"}}
    summary = status_document({"HostId": HOST, "State": "processing", "InstanceMigrations": migrations})["migrationSummary"]
    assert summary["progressPercentage"] == 67 and summary["inProgressMigrations"] == 1
    empty = status_document({"HostId": HOST, "State": "complete"})["migrationSummary"]
    assert empty == {
        "totalInstances": 0,
        "successfulMigrations": 0,
        "failedMigrations": 0,
        "skippedMigrations": 0,
        "cancelledMigrations": 0,
        "inProgressMigrations": 0,
        "progressPercentage": 100,
    }
    skipped_only = status_document({"HostId": HOST, "InstanceMigrations": {I1: {"status": "skipped"}}})
    assert skipped_only["migrationSummary"]["progressPercentage"] == 100


def test_list_records_ignores_claims_and_filters_by_state(dynamodb, clock):
    initialised(dynamodb, clock)
    other = make(dynamodb, clock, "run-b", host="h-11111111111111111")
    other.acquire(30)
    other.finalize()
    dynamodb.put_item(
        TableName=TABLE,
        Item={"HostId": {"S": "claim#" + POOL}, "ClaimedFor": {"S": HOST}, "ClaimRunId": {"S": "run-a"}, "ClaimedAt": {"N": "1"}},
    )
    items = list_records(dynamodb, TABLE)
    assert [item["HostId"] for item in items] == ["h-0123456789abcdef0", "h-11111111111111111"]
    assert [item["HostId"] for item in list_records(dynamodb, TABLE, state="complete")] == ["h-11111111111111111"]
    assert [item["HostId"] for item in list_records(dynamodb, TABLE, state="processing")] == [HOST]
    with pytest.raises(InvalidInputError):
        list_records(dynamodb, TABLE, state="done")


# ----------------------------------------------------------------------------- cancel request


def test_cancel_request_is_addressed_to_the_live_run_and_asking_again_changes_nothing(dynamodb, clock):
    record = initialised(dynamodb, clock)
    changed, request = request_cancel(dynamodb, TABLE, HOST, "alice@bastion", "app team asked", now=clock.wall)
    assert changed and request == {"runId": "run-a", "requestedBy": "alice@bastion", "reason": "app team asked",
                                   "requestedAt": iso_time(clock.wall)}
    assert record.cancel_request() == request
    again, same = request_cancel(dynamodb, TABLE, HOST, "bob@bastion", now=clock.wall)
    assert not again and same == request
    # The lease and the record version are untouched: the run's own conditional writes go on.
    item = record.load()
    assert item["LeaseRunId"] == "run-a" and item["CancelRequest"] == request
    record.update_instances({I1: {"status": "in-progress", "phase": "stopping"}})
    assert record.changed


def test_cancel_in_check_mode_writes_nothing(dynamodb, clock):
    initialised(dynamodb, clock)
    before = raw_item(dynamodb)
    changed, request = request_cancel(dynamodb, TABLE, HOST, "alice@bastion", now=clock.wall, check_mode=True)
    assert changed and request["runId"] == "run-a" and "reason" not in request
    assert raw_item(dynamodb) == before


@pytest.mark.parametrize("situation, message", [
    ("no record", "there is no migration record for host"),
    ("finished", "is not running (its record is complete, last run run-a)"),
    ("expired", "no live run holds the lease of host %s (its run run-a stopped renewing it)" % HOST),
])
def test_nothing_to_cancel_is_a_clear_error(dynamodb, clock, situation, message):
    if situation != "no record":
        record = initialised(dynamodb, clock)
        if situation == "finished":
            record.update_instances({I1: {"status": "success"}, I2: {"status": "success"}})
            record.finalize()
        else:
            clock.advance(30 + 3 + 0.1)  # past the lease and its margin
    with pytest.raises(NotFoundError) as raised:
        request_cancel(dynamodb, TABLE, HOST, "alice@bastion", now=clock.wall)
    assert message in raised.value.message and raised.value.message.startswith("nothing to cancel: ")


@pytest.mark.parametrize("situation, message", [
    ("no record", "nothing to cancel: there is no failback record for host %s" % HOST),
    ("finished", "nothing to cancel: the failback to host %s is not running (its record is complete, last run run-a)" % HOST),
    ("expired", "nothing to cancel: no live run holds the lease of the failback to host %s (its run run-a stopped renewing it); "
                "a failback that was killed is resumed by running failback.yml again" % HOST),
])
def test_nothing_to_cancel_names_the_failback_of_a_failback_record(dynamodb, clock, situation, message):
    key = "failback#" + HOST
    if situation != "no record":
        record = make(dynamodb, clock, host=key)
        record.acquire(30)
        if situation == "finished":
            record.finalize()
        else:
            clock.advance(30 + 3 + 0.1)
    with pytest.raises(NotFoundError) as raised:
        request_cancel(dynamodb, TABLE, key, "alice@bastion", now=clock.wall)
    assert raised.value.message == message


def test_a_cancel_request_is_read_at_most_once_a_second(dynamodb, clock):
    calls = []
    record = make(dynamodb, clock, client=CountingClient(dynamodb, calls))
    record.acquire(30)

    def reads():
        return [name for name, _kwargs in calls].count("get_item")

    before = reads()
    assert record.cancel_request() is None
    assert record.cancel_request() is None
    assert reads() == before + 1
    request_cancel(dynamodb, TABLE, HOST, "alice@bastion", now=clock.wall)
    clock.advance(CANCEL_POLL_SECONDS)
    assert record.cancel_request()["requestedBy"] == "alice@bastion"
    assert reads() == before + 2
    # Once seen, it is not read again.
    clock.advance(CANCEL_POLL_SECONDS)
    assert record.cancel_request()["requestedBy"] == "alice@bastion" and reads() == before + 2


def test_a_cancel_request_for_an_earlier_run_does_not_cancel_a_resumed_one(dynamodb, clock):
    initialised(dynamodb, clock)
    request_cancel(dynamodb, TABLE, HOST, "alice@bastion", now=clock.wall)
    clock.advance(40)
    resumed = make(dynamodb, clock, "run-b")
    resumed.acquire(30)
    assert resumed.cancel_request() is None
    assert status_document(resumed.item)["cancel"] is None


def test_fence_refuses_once_the_wall_clock_passed_the_lease_though_the_monotonic_clock_stood_still(dynamodb, clock):
    # A laptop suspended past its lease: a clock that stops during suspend would still show most of it left.
    record = make(dynamodb, clock)
    record.acquire(30)
    clock.wall += 30 - lease_margin(30) + 0.5
    with pytest.raises(LeaseLostError) as caught:
        record.fence()
    assert "within 3.0 s of expiring" in caught.value.message
    assert record.remaining() < 0


def test_fence_refuses_once_the_lease_clock_passed_the_lease_though_the_wall_clock_was_set_back(dynamodb, clock):
    record = make(dynamodb, clock)
    record.acquire(30)
    clock.mono += 30
    clock.wall -= 3600
    with pytest.raises(LeaseLostError):
        record.fence()


@pytest.mark.skipif(not hasattr(time, "CLOCK_BOOTTIME"), reason="CLOCK_BOOTTIME is Linux's")
def test_the_lease_clock_counts_suspend_time_where_the_platform_can():
    assert abs(lease_clock() - time.clock_gettime(time.CLOCK_BOOTTIME)) < 1.0
    assert MigrationRecord(None, TABLE, HOST, "run-a")._monotonic is lease_clock  # pylint: disable=protected-access


def test_keep_lease_renews_once_a_third_of_the_lease_passed_and_then_fences(dynamodb, clock):
    record = make(dynamodb, clock)
    record.acquire(30)
    version = record.load()["LeaseVersion"]
    clock.advance(5)
    assert record.keep_lease() == pytest.approx(30 - 3 - 5)
    assert record.load()["LeaseVersion"] == version  # not yet a third
    clock.advance(6)
    assert record.keep_lease() == pytest.approx(30 - 3)
    assert record.load()["LeaseVersion"] == version + 1
    assert record.load()["LeaseExpiresAt"] == pytest.approx(clock.wall + 30)


def test_a_finalize_whose_write_succeeded_but_whose_response_was_lost_returns_the_finished_record(dynamodb, clock):
    record = initialised(dynamodb, clock)
    record.update_instances({I1: {"status": "success"}, I2: {"status": "success"}})
    lost = []

    def response_lost(**_kwargs):
        # The write is applied; its answer never arrives, and the retry's condition (this run's lease) then fails.
        if not lost:
            lost.append(True)
            raise botocore.exceptions.ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "UpdateItem")
    dynamodb.meta.events.register("after-call.dynamodb.UpdateItem", response_lost)

    item = record.finalize()

    assert lost == [True]
    assert item["State"] == "complete" and item["LeaseRunId"] is None and record.changed is True
    assert get_record(dynamodb, TABLE, HOST)["State"] == "complete"


def test_a_finalize_refused_because_another_run_took_over_still_fails(dynamodb, clock):
    record = initialised(dynamodb, clock, lease_seconds=30)
    clock.advance(31 + lease_margin(30))
    make(dynamodb, clock, "run-b").acquire(30)
    with pytest.raises(LeaseLostError):
        record.finalize()
    assert get_record(dynamodb, TABLE, HOST)["LeaseRunId"] == "run-b"


def test_finalize_after_a_cancel_that_left_instances_is_cancelled_with_exact_counters(dynamodb, clock):
    record = initialised(dynamodb, clock)
    request_cancel(dynamodb, TABLE, HOST, "alice@bastion", "keep them", now=clock.wall)
    record.update_instances({I1: {"status": "success", "phase": "verified"},
                             I2: {"status": "pending", "errorMessage": "cancelled before it was moved: left where it is"}})
    assert record.preview_finalize() == "cancelled"
    item = record.finalize()
    assert item["State"] == "cancelled" and item["LeaseRunId"] is None and item["ExpirationTime"]
    assert item["ErrorDetails"].startswith("cancel requested by alice@bastion at %s: keep them; " % iso_time(START))
    assert item["TotalInstances"] == 3 and item["SuccessfulMigrations"] == 1 and item["SkippedMigrations"] == 1
    document = status_document(item)
    assert document["migrationSummary"]["cancelledMigrations"] == 1
    assert document["migrationSummary"]["inProgressMigrations"] == 0
    assert document["migrationSummary"]["progressPercentage"] == 100
    assert document["cancel"]["requestedBy"] == "alice@bastion"
    assert record.finalize()["State"] == "cancelled" and not record.changed


def test_finalize_after_a_cancel_that_came_after_the_last_stop_is_complete(dynamodb, clock):
    record = initialised(dynamodb, clock)
    request_cancel(dynamodb, TABLE, HOST, "alice@bastion", now=clock.wall)
    record.update_instances({I1: {"status": "success"}, I2: {"status": "success"}})
    item = record.finalize()
    assert item["State"] == "complete" and item["ErrorDetails"] is None
    assert status_document(item)["migrationSummary"]["cancelledMigrations"] == 0
