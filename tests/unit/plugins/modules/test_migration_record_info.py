# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration_record_info module, driven through main() against moto's DynamoDB."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from ansible_collections.dedicated_hosts.failover.plugins.modules import migration_record_info
from conftest import TABLE
from conftest import run_module_main

HOST = "h-0123456789abcdef0"
OTHER = "h-11111111111111111"
POOL = "h-0fedcba9876543210"
I1 = "i-0000000000000000a"
I2 = "i-0000000000000000b"
I3 = "i-0000000000000000c"


def run_module(args, check_mode=False):
    """main() with ``args``; returns (failed, result)."""
    return run_module_main(migration_record_info, args, check_mode)


def ok(args, check_mode=False):
    failed, result = run_module(args, check_mode)
    assert not failed, result
    assert result["changed"] is False
    return result


@pytest.fixture
def records(dynamodb):
    """HOST in progress (one success, one skipped, one pending), OTHER complete, a claim, a reference record."""
    record = MigrationRecord(dynamodb, TABLE, HOST, "run-a", owner="ops@bastion")
    record.acquire(120)
    record.set_fields(ReplacementHostIds=[POOL])
    record.initialise_instances(
        {
            I1: {"targetHostId": POOL, "originalState": "running"},
            I2: {"targetHostId": POOL, "originalState": "running"},
            I3: {"status": "skipped", "errorMessage": "terminated"},
        }
    )
    record.update_instances({I1: {"status": "success", "phase": "verified"}})
    done = MigrationRecord(dynamodb, TABLE, OTHER, "run-b")
    done.acquire(120)
    done.finalize()
    dynamodb.put_item(
        TableName=TABLE,
        Item={"HostId": {"S": "claim#" + POOL}, "ClaimedFor": {"S": HOST}, "ClaimRunId": {"S": "run-a"}, "ClaimedAt": {"N": "1"}},
    )
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            "HostId": {"S": "h-22222222222222222"},
            "State": {"S": "healthy"},
            "UpdatedAt": {"S": "2025-06-22T04:00:00.000Z"},
            "HealthyNotificationSent": {"BOOL": True},
        },
    )
    return dynamodb


def test_read_one_record(records):
    result = ok(dict(host_id=HOST))
    assert result["found"] is True
    status = result["status"]
    assert status["hostId"] == HOST and status["state"] == "processing"
    assert status["reservedHostId"] == POOL
    assert status["migrationSummary"] == {
        "totalInstances": 3,
        "successfulMigrations": 1,
        "failedMigrations": 0,
        "skippedMigrations": 1,
        "cancelledMigrations": 0,
        "inProgressMigrations": 1,
        "progressPercentage": 67,
    }
    assert status["instanceMigrations"][I1]["phase"] == "verified"
    assert result["record"]["instance_migrations"][I3]["error_message"] == "terminated"
    assert result["lease"]["state"] == "held" and result["lease"]["owner"] == "ops@bastion"


def test_missing_record_is_not_a_failure(records):
    result = ok(dict(host_id="h-33333333333333333"))
    assert result["found"] is False
    assert result["status"] is None and result["record"] is None and result["lease"] is None


def test_reference_record_reads_with_defaults(records):
    result = ok(dict(host_id="h-22222222222222222"))
    assert result["status"]["state"] == "healthy"
    assert result["status"]["updatedAt"] == 1750564800
    assert result["status"]["migrationSummary"]["progressPercentage"] == 100
    assert result["lease"]["state"] == "free"


def test_list_records_ignores_claims(records):
    result = ok(dict())
    assert [doc["hostId"] for doc in result["records"]] == [HOST, OTHER, "h-22222222222222222"]
    assert result["count"] == 3


def test_list_records_by_state(records):
    assert [doc["hostId"] for doc in ok(dict(state="complete"))["records"]] == [OTHER]
    assert [doc["hostId"] for doc in ok(dict(state="failed"))["records"]] == []


def test_never_writes_even_outside_check_mode(records):
    before = records.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    ok(dict(host_id=HOST))
    ok(dict(), check_mode=True)
    assert records.scan(TableName=TABLE, ConsistentRead=True)["Items"] == before


def test_bad_input(records):
    failed, result = run_module(dict(host_id="claim#" + POOL))
    assert failed and "host_id" in result["msg"]
    failed, result = run_module(dict(host_id=HOST, state="complete"))
    assert failed and "mutually exclusive" in result["msg"]


def test_a_failback_record_is_read_and_listed_only_with_record_failback(records):
    failback = MigrationRecord(records, TABLE, "failback#" + OTHER, "run-c")
    failback.acquire(120)
    failback.initialise_instances({I1: {"targetHostId": OTHER, "originalState": "running"}})

    assert [doc["hostId"] for doc in ok(dict())["records"]] == [HOST, OTHER, "h-22222222222222222"]
    assert [doc["hostId"] for doc in ok(dict(state="processing"))["records"]] == [HOST]
    assert [doc["hostId"] for doc in ok(dict(record="failback"))["records"]] == ["failback#" + OTHER]
    one = ok(dict(host_id=OTHER, record="failback"))
    assert one["status"]["hostId"] == "failback#" + OTHER and one["status"]["migrationSummary"]["totalInstances"] == 1
    assert ok(dict(host_id=OTHER))["status"]["state"] == "complete"  # the failover's own record
