# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration_record module, driven through main() against moto's DynamoDB."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from unittest import mock

from ansible_collections.dedicated_hosts.failover.plugins.modules import migration_record
from conftest import TABLE
from conftest import run_module_main

HOST = "h-0123456789abcdef0"
POOL = "h-0fedcba9876543210"
I1 = "i-0000000000000000a"


def run_module(args, check_mode=False):
    """main() with ``args``; returns (failed, result)."""
    return run_module_main(migration_record, args, check_mode)


def table_items(dynamodb):
    return dynamodb.scan(TableName=TABLE, ConsistentRead=True)["Items"]


def ok(args, check_mode=False):
    failed, result = run_module(args, check_mode)
    assert not failed, result
    return result


def acquire(run_id="run-a", **extra):
    args = dict(host_id=HOST, action="acquire", run_id=run_id, owner="%s@bastion" % run_id)
    args.update(extra)
    return ok(args)


def test_acquire_creates_the_record(dynamodb):
    result = acquire()
    assert result["changed"] is True
    assert result["run_id"] == "run-a"
    assert result["record"]["host_id"] == HOST and result["record"]["state"] == "processing"
    assert result["record"]["lease_run_id"] == "run-a"
    assert result["status"]["hostId"] == HOST
    assert result["status"]["migrationSummary"]["progressPercentage"] == 100
    assert result["lease"]["state"] == "none" and result["lease"]["created"] is True
    assert result["lease"]["owner"] == "run-a@bastion" and result["lease"]["seconds"] == 120
    assert len(table_items(dynamodb)) == 1


def test_acquire_generates_a_run_id(dynamodb):
    result = ok(dict(host_id=HOST, action="acquire"))
    assert result["run_id"].startswith("run-")
    assert result["record"]["lease_run_id"] == result["run_id"]
    assert "@" in result["record"]["lease_owner"]


def test_acquire_refused_while_another_run_holds_the_lease(dynamodb):
    acquire("run-a")
    failed, result = run_module(dict(host_id=HOST, action="acquire", run_id="run-b"))
    assert failed
    assert result["msg"].startswith("host %s is locked by run run-a (run-a@bastion) until " % HOST)
    assert result["msg"].endswith("; wait for the lease to expire or run with break_lock=true")
    assert result["holder"] == "run-a@bastion"
    broken = acquire("run-b", break_lock=True)
    assert broken["lease"]["taken_over"] is True and broken["lease"]["broke_lock"] is True
    assert broken["lease"]["previous_run_id"] == "run-a"


def test_bad_host_id_fails_before_any_call(dynamodb):
    with mock.patch.object(migration_record.FailoverModule, "record_client") as record_client:
        failed, result = run_module(dict(host_id="h-12345", action="acquire"))
    assert failed and "h-12345" in result["msg"]
    record_client.assert_not_called()
    failed, result = run_module(dict(host_id=HOST, action="update_instance", run_id="run-a", instance_id="i-zz"))
    assert failed and "i-zz" in result["msg"]
    failed, result = run_module(dict(host_id=HOST, action="acquire", lease_seconds=1))
    assert failed and "lease_seconds" in result["msg"]


def test_required_options(dynamodb):
    failed, result = run_module(dict(host_id=HOST, action="renew"))
    assert failed and "run_id" in result["msg"]
    failed, result = run_module(dict(host_id=HOST, action="update_instance", run_id="run-a"))
    assert failed and "instance_id" in result["msg"]


def test_update_instance_is_exact_and_idempotent(dynamodb):
    acquire()
    args = dict(host_id=HOST, action="update_instance", run_id="run-a", instance_id=I1, status="success", phase="verified", target_host_id=POOL)
    first = ok(args)
    assert first["changed"] is True
    assert first["status"]["migrationSummary"]["successfulMigrations"] == 1
    entry = first["record"]["instance_migrations"][I1]
    assert entry["status"] == "success" and entry["target_host_id"] == POOL and "phase_times" in entry
    assert first["status"]["instanceMigrations"][I1]["phaseTimes"]["verified"]
    second = ok(args)
    assert second["changed"] is False
    assert second["status"]["migrationSummary"]["successfulMigrations"] == 1
    assert second["record"]["record_version"] == first["record"]["record_version"]


def test_update_instance_by_a_run_without_the_lease_fails(dynamodb):
    acquire("run-a")
    failed, result = run_module(dict(host_id=HOST, action="update_instance", run_id="run-b", instance_id=I1, status="failed"))
    assert failed and "run run-b no longer holds the lease" in result["msg"]
    failed, result = run_module(
        dict(host_id=HOST, action="update_instance", run_id="run-b", instance_id=I1, status="failed"), check_mode=True
    )
    assert failed and "run run-b no longer holds the lease" in result["msg"]


def test_renew_release_finalize(dynamodb):
    acquire()
    renewed = ok(dict(host_id=HOST, action="renew", run_id="run-a", lease_seconds=60))
    assert renewed["changed"] is True and renewed["lease"]["version"] == 2 and renewed["lease"]["seconds"] == 60
    ok(dict(host_id=HOST, action="update_instance", run_id="run-a", instance_id=I1, status="failed", error_message="boom"))
    final = ok(dict(host_id=HOST, action="finalize", run_id="run-a", ttl_days=1))
    assert final["changed"] is True and final["final_state"] == "failed"
    assert final["status"]["state"] == "failed" and final["status"]["lease"] is None
    assert final["status"]["errorDetails"] == "1 of 1 instance(s) failed: %s (boom)" % I1
    assert final["record"]["expiration_time"] - final["record"]["updated_at"] == 86400
    again = ok(dict(host_id=HOST, action="finalize", run_id="run-a"))
    assert again["changed"] is False and again["final_state"] == "failed"
    released = ok(dict(host_id=HOST, action="release", run_id="run-a"))
    assert released["changed"] is False


def test_release(dynamodb):
    acquire()
    released = ok(dict(host_id=HOST, action="release", run_id="run-a"))
    assert released["changed"] is True and released["record"]["lease_run_id"] is None
    assert released["lease"]["state"] == "ours"
    again = ok(dict(host_id=HOST, action="release", run_id="run-a"))
    assert again["changed"] is False and again["lease"]["state"] == "free"


def test_check_mode_writes_nothing(dynamodb):
    result = ok(dict(host_id=HOST, action="acquire", run_id="run-a"), check_mode=True)
    assert result["changed"] is True and result["lease"]["state"] == "none" and result["lease"]["created"] is True
    assert result["record"] == {} and "status" not in result
    assert table_items(dynamodb) == []

    acquire("run-a")
    before = table_items(dynamodb)
    failed, result = run_module(dict(host_id=HOST, action="acquire", run_id="run-b"), check_mode=True)
    assert failed and "is locked by run run-a" in result["msg"]
    result = ok(dict(host_id=HOST, action="acquire", run_id="run-b", break_lock=True), check_mode=True)
    assert result["changed"] is True and result["lease"]["state"] == "held" and result["lease"]["broke_lock"] is True
    result = ok(dict(host_id=HOST, action="update_instance", run_id="run-a", instance_id=I1, status="in-progress"), check_mode=True)
    assert result["changed"] is True
    result = ok(dict(host_id=HOST, action="renew", run_id="run-a"), check_mode=True)
    assert result["changed"] is True
    result = ok(dict(host_id=HOST, action="finalize", run_id="run-a"), check_mode=True)
    assert result["changed"] is True and result["final_state"] == "complete"
    result = ok(dict(host_id=HOST, action="release", run_id="run-a"), check_mode=True)
    assert result["changed"] is True
    assert table_items(dynamodb) == before


def test_check_mode_reports_no_change_for_a_repeated_update(dynamodb):
    acquire()
    args = dict(host_id=HOST, action="update_instance", run_id="run-a", instance_id=I1, status="success")
    ok(args)
    assert ok(args, check_mode=True)["changed"] is False


def test_missing_table_fails_clearly(dynamodb):
    failed, result = run_module(dict(host_id=HOST, action="acquire", table="OtherTable"))
    assert failed and "OtherTable not found" in result["msg"]


def test_cancel_asks_the_run_holding_the_lease_and_fails_clearly_without_one(dynamodb):
    failed, result = run_module(dict(host_id=HOST, action="cancel"))
    assert failed and result["msg"] == "nothing to cancel: there is no migration record for host %s" % HOST
    acquire()
    preview = ok(dict(host_id=HOST, action="cancel", abort_reason="freeze", requested_by="alice@bastion"), check_mode=True)
    assert preview["changed"] is True and "CancelRequest" not in table_items(dynamodb)[0]
    result = ok(dict(host_id=HOST, action="cancel", abort_reason="freeze", requested_by="alice@bastion"))
    assert result["changed"] is True
    assert result["cancel"]["run_id"] == "run-a" and result["cancel"]["reason"] == "freeze"
    assert result["status"]["cancel"]["requestedBy"] == "alice@bastion"
    again = ok(dict(host_id=HOST, action="cancel", requested_by="bob@bastion"))
    assert again["changed"] is False and again["cancel"]["requested_by"] == "alice@bastion"


def test_acquire_starts_the_lease_keeper_of_the_run_and_check_mode_does_not(dynamodb):
    with mock.patch.object(migration_record, "start_lease_keeper", return_value=4242) as start:
        result = acquire(lease_seconds=30)
        checked = ok(dict(host_id=HOST, action="acquire", run_id="run-b", break_lock=True), check_mode=True)

    assert result["lease"]["kept_while_pid"] == 4242
    assert start.call_count == 1
    client, table, key, run_id, owner, seconds = start.call_args[0]
    assert (table, key, run_id, owner, seconds) == (TABLE, HOST, "run-a", "run-a@bastion", 30.0)
    assert client.meta.service_model.service_name == "dynamodb"
    assert checked["lease"]["kept_while_pid"] is None


def test_acquire_outside_an_ansible_playbook_run_starts_no_keeper(dynamodb):
    assert acquire()["lease"]["kept_while_pid"] is None
