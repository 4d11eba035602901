"""Every playbook by its FQCN, from the installed collection, with Ansible's defaults, against the simulator."""

import json
import os
import subprocess

from conftest import ANSIBLE_BIN
from conftest import TABLE
from conftest import instance_view
from conftest import read_record
from conftest import state_changing_calls
from conftest import summary_lines
from conftest import task_message
from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import on_host
from scenarios import pool_host
from scenarios import world

FAILOVER_SUMMARY = "dedicated_hosts.failover.host_failover : Summary"


def printed_lines(result):
    """The lines of the output as a reader sees them, without the JSON quoting of a list item."""
    return [line.strip().rstrip(",").strip('"') for line in result.stdout.splitlines()]


def test_the_collection_installs_with_its_dependencies_into_an_empty_collections_path(installation, simulator):
    listing = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-galaxy"), "collection", "list", "--format", "json"], cwd=installation.home,
                             env=installation.env(simulator), capture_output=True, text=True, check=False)

    assert listing.returncode == 0, listing.stderr
    # Nothing but what this installation put into the home folder's default collections path (the ansible namespace
    # is ansible-core's own).
    found = dict((os.path.realpath(path), sorted(name for name in names if not name.startswith("ansible.")))
                 for path, names in json.loads(listing.stdout).items())
    assert dict((path, names) for path, names in found.items() if names) == {
        os.path.realpath(installation.collections): ["amazon.aws", "community.aws", "dedicated_hosts.failover"]}
    assert sorted(os.listdir(installation.collections)) == ["amazon", "community", "dedicated_hosts"]
    assert "dedicated_hosts.failover:0.1.0 was installed successfully" in installation.install_output


def fleet_of_one_failed_host(simulator):
    ids = load(simulator, world([failed_host(), pool_host()],
                                [on_failed("web", count=2), on_failed("cold", "m5.xlarge", state="stopped")]))
    return ids["hosts"]["failed"], ids["hosts"]["pool"], ids["instances"]


def test_setup_then_a_failover_in_check_mode_that_only_prints_the_plan(simulator, run_installed):
    failed, pool, instances = fleet_of_one_failed_host(simulator)

    setup = run_installed("setup", {"notification_topic_name": "host-failover"}, fast=False)
    simulator.control.reset_calls()
    plan = run_installed("failover", {"failed_host_id": failed}, check=True)

    assert setup.returncode == 0, setup
    assert simulator.client("dynamodb").describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "ExpirationTime"}
    assert "notification_topic_arn=arn:aws:sns:us-east-1:123456789012:host-failover" in printed_lines(setup)
    assert plan.returncode == 0, plan
    assert state_changing_calls(simulator) == {}
    assert task_message(plan.stdout, FAILOVER_SUMMARY)[0] == "Failover of %s: PLANNED (check mode: nothing was changed)" % failed
    assert "%s (m5.large) -> %s (pool host)" % (instances["web-0"], pool) in plan.stdout
    assert read_record(simulator, failed) is None


def test_a_failover_its_status_and_an_abort_with_nothing_to_cancel(simulator, migration_table, run_installed):
    failed, pool, instances = fleet_of_one_failed_host(simulator)

    failover = run_installed("failover", {"failed_host_id": failed})
    status = run_installed("migration_status", {"failed_host_id": failed}, fast=False)
    abort = run_installed("abort", {"failed_host_id": failed}, fast=False)

    assert failover.returncode == 0, failover
    record = read_record(simulator, failed)
    assert record["State"] == "complete"
    assert (record["TotalInstances"], record["SuccessfulMigrations"], record["FailedMigrations"]) == (3, 3, 0)
    assert instance_view(simulator, instances.values()) == {
        instances["web-0"]: ("running", pool, "host", "host"), instances["web-1"]: ("running", pool, "host", "host"),
        instances["cold"]: ("stopped", pool, "host", "host")}
    summary = task_message(failover.stdout, FAILOVER_SUMMARY)
    assert summary[0] == "Failover of %s: SUCCEEDED" % failed
    assert sorted(row.split()[0] for row in summary[2:]) == sorted(instances.values())

    assert status.returncode == 0, status
    document = task_message(status.stdout, "Print the status document")
    assert (document["state"], document["reservedHostId"]) == ("complete", pool)
    assert document["migrationSummary"]["successfulMigrations"] == 3

    assert abort.returncode != 0
    assert "nothing to cancel: the failover of host %s is not running (its record is complete" % failed in abort.stdout
    assert read_record(simulator, failed)["State"] == "complete"


def test_status_format_json_prints_the_status_document_alone_for_scripts(simulator, migration_table, run_installed):
    failed, pool, _instances = fleet_of_one_failed_host(simulator)
    assert run_installed("failover", {"failed_host_id": failed}).returncode == 0
    callback = {"ANSIBLE_STDOUT_CALLBACK": "dedicated_hosts.failover.status_document"}

    text = run_installed("migration_status", {"failed_host_id": failed}, fast=False)
    scripted = run_installed("migration_status", {"failed_host_id": failed, "status_format": "json"}, fast=False, env=callback)
    listed = run_installed("migration_status", {"status_format": "json"}, fast=False, env=callback)
    missing = run_installed("migration_status", {"failed_host_id": "h-0000000000000000f", "status_format": "json"}, fast=False, env=callback)
    without_callback = run_installed("migration_status", {"failed_host_id": failed, "status_format": "json"}, fast=False)
    bad = run_installed("migration_status", {"failed_host_id": failed, "status_format": "yaml"}, fast=False, env=callback)

    assert scripted.returncode == 0, scripted
    # stdout is one JSON value and nothing else: the document the text format shows.
    document = json.loads(scripted.stdout)
    assert document == task_message(text.stdout, "Print the status document")
    assert (document["hostId"], document["state"], document["reservedHostId"]) == (failed, "complete", pool)
    assert listed.returncode == 0, listed
    assert [record["hostId"] for record in json.loads(listed.stdout)] == [failed]
    assert missing.returncode == 2 and missing.stdout == "", missing
    assert "No migration record for h-0000000000000000f in %s" % TABLE in missing.stderr
    assert without_callback.returncode != 0
    assert "set ANSIBLE_STDOUT_CALLBACK=dedicated_hosts.failover.status_document (nothing was read)" in without_callback.stdout
    assert "Read the record" not in without_callback.stdout
    assert bad.returncode == 2 and bad.stdout == "" and "status_format must be text or json, got 'yaml'" in bad.stderr, bad


def test_failed_host_ids_fails_both_hosts_over_within_the_default_forks(simulator, migration_table, run_installed):
    ids = load(simulator, world([failed_host("first"), failed_host("second"), pool_host("pool-a"), pool_host("pool-b")],
                                [on_host("first", "web", count=2), on_host("second", "api")]))
    hosts, instances = ids["hosts"], ids["instances"]

    result = run_installed("failover", {"failed_host_ids": "%s,%s" % (hosts["first"], hosts["second"])})

    assert result.returncode == 0, result
    assert task_message(result.stdout, "Say how many hosts fail over at once") == (
        "Failing over 2 hosts, all at once (failover_host_concurrency 10, Ansible's forks 5).")
    records = [read_record(simulator, hosts[name]) for name in ("first", "second")]
    assert [record["State"] for record in records] == ["complete", "complete"]
    assert {record["ReservedHostId"] for record in records} == {hosts["pool-a"], hosts["pool-b"]}
    view = instance_view(simulator, instances.values())
    assert view[instances["web-0"]][1] == view[instances["web-1"]][1] == records[0]["ReservedHostId"]
    assert view[instances["api"]][1] == records[1]["ReservedHostId"]
    assert {state for state, _host, _affinity, _tenancy in view.values()} == {"running"}
    assert "Failover of %s: SUCCEEDED" % hosts["first"] in printed_lines(result)
    assert "Failover of %s: SUCCEEDED" % hosts["second"] in printed_lines(result)


def test_the_health_check_prints_a_readable_summary_and_fails_the_failed_host_over(simulator, migration_table, run_installed, tmp_path):
    ids = load(simulator, world([pool_host("healthy", tags={"Name": "healthy"}), failed_host(), pool_host()],
                                [on_host("healthy", "steady"), on_failed("web", count=2)]))
    hosts, instances = ids["hosts"], ids["instances"]

    result = run_installed("health_check", {"auto_failover": "true", "health_report_dir": str(tmp_path / "health")})

    assert result.returncode == 0, result
    lines = summary_lines(result)
    assert lines[0].startswith("Health check of us-east-1 at ") and lines[0].endswith(": 3 host(s): 2 healthy, 0 degraded, 1 failed, 0 gone")
    assert lines[-1] == "Failing over 1 host(s): %s" % hosts["failed"]
    # Each line of the summary is a line of the output, not an escaped "\n" inside one long string.
    assert set(lines) <= set(printed_lines(result))
    record = read_record(simulator, hosts["failed"])
    assert (record["State"], record["ReservedHostId"], record["SuccessfulMigrations"]) == ("complete", hosts["pool"], 2)
    view = instance_view(simulator, instances.values())
    assert view[instances["web-0"]][:2] == view[instances["web-1"]][:2] == ("running", hosts["pool"])
    assert view[instances["steady"]][:2] == ("running", hosts["healthy"])
    assert "Failover of %s: SUCCEEDED" % hosts["failed"] in printed_lines(result)


def test_release_unused_hosts_releases_the_replacement_host_nobody_uses(simulator, migration_table, run_installed):
    ids = load(simulator, world([failed_host("done"), pool_host("unused", tags={"Name": "unused"})], []))
    done, unused = ids["hosts"]["done"], ids["hosts"]["unused"]
    simulator.client("ec2").create_tags(Resources=[unused], Tags=[{"Key": key, "Value": done} for key in ("FailoverFor", "FailoverAllocatedFor")])
    simulator.client("dynamodb").put_item(TableName=TABLE, Item={
        "HostId": {"S": done}, "State": {"S": "complete"}, "InstanceMigrations": {"M": {}},
        "AllocatedHosts": {"L": [{"M": {"hostId": {"S": unused}, "allocationTime": {"S": "2026-11-27T08:00:00Z"}}}]}})

    result = run_installed("release_unused_hosts", fast=False)

    assert result.returncode == 0, result
    assert "Released: %s" % unused in printed_lines(result)
    assert simulator.client("ec2").describe_hosts(HostIds=[unused])["Hosts"][0]["State"] == "released"
