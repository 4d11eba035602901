"""playbooks/health_check.yml: scan regions, report degraded and failed hosts, fail the failed ones over when asked."""

import json
import time

from conftest import TABLE
from conftest import instance_view
from conftest import read_record
from conftest import state_changing_calls
from conftest import summary_lines
from scenarios import failed_host
from scenarios import load
from scenarios import on_host
from scenarios import pool_host
from scenarios import world
from test_multi_host import SLOW_ENOUGH_TO_OVERLAP
from test_multi_host import migration_window

# The JSON result format keeps the custom stats parseable (the default callback prints them on one line).
STATS = {"ANSIBLE_SHOW_CUSTOM_STATS": "1", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
RETIREMENT = [{"code": "instance-retirement", "not_before": "2030-01-01T00:00:00Z", "not_after": "2030-01-01T02:00:00Z"}]


def custom_stats(result):
    """The set_stats data the run published (the ``RUN:`` line the default callback prints after CUSTOM STATS)."""
    text = result.stdout[result.stdout.index("CUSTOM STATS"):]
    line = next(line for line in text.splitlines() if line.strip().startswith("RUN:"))
    return json.loads(line.split("RUN:", 1)[1])


def report(result):
    with open("%s/health-check.json" % result.health_report_dir, encoding="utf-8") as handle:
        return json.load(handle)


def health_check(run_playbook, tmp_path, extra_vars=None):
    variables = {"health_report_dir": str(tmp_path / "health")}
    variables.update(extra_vars or {})
    result = run_playbook("health_check.yml", variables, env=STATS)
    result.health_report_dir = variables["health_report_dir"]
    return result


def mixed_fleet(simulator, latency=None):
    """One healthy, one degraded (a scheduled retirement) and two failed hosts, each with instances, and two pool hosts."""
    return load(simulator, world(
        [pool_host("healthy", tags={"Name": "healthy"}), pool_host("degraded", tags={"Name": "degraded"}),
         failed_host("first"), failed_host("second"), pool_host("pool-a"), pool_host("pool-b")],
        [on_host("healthy", "steady"), on_host("degraded", "retiring", events=RETIREMENT),
         on_host("first", "web", count=2), on_host("second", "api", count=2)],
        latency=latency,
    ))


def put_record_with_lease(simulator, host_id, instance_ids, expires_in):
    """A failover left in processing by a run that holds (expires_in > 0) or lost (< 0) its lease."""
    now = time.time()
    simulator.client("dynamodb").put_item(TableName=TABLE, Item={
        "HostId": {"S": host_id}, "State": {"S": "processing"}, "CreatedAt": {"N": str(int(now) - 900)},
        "UpdatedAt": {"N": str(int(now) - 60)}, "TotalInstances": {"N": str(len(instance_ids))},
        "SuccessfulMigrations": {"N": "0"}, "FailedMigrations": {"N": "0"},
        "InstanceMigrations": {"M": dict((instance_id, {"M": {"status": {"S": "pending"}, "retryCount": {"N": "0"}}})
                                         for instance_id in instance_ids)},
        "LeaseOwner": {"S": "ops@bastion"}, "LeaseRunId": {"S": "run-elsewhere"}, "LeaseExpiresAt": {"N": str(now + expires_in)},
        "LeaseSeconds": {"N": "20"}, "LeaseVersion": {"N": "1"},
    })


def test_a_region_without_hosts_scans_cleanly_and_reports_nothing(simulator, migration_table, run_playbook, tmp_path):
    result = health_check(run_playbook, tmp_path, {"aws_regions": "us-east-1"})

    assert result.returncode == 0, result
    assert summary_lines(result) == ["Health check of us-east-1 at %s: 0 host(s): 0 healthy, 0 degraded, 0 failed, 0 gone"
                                     % report(result)["scanned_at"]]
    assert custom_stats(result)["failed_host_ids"] == []
    assert report(result)["hosts"] == []


def test_report_only_classifies_the_hosts_and_changes_nothing(simulator, migration_table, run_playbook, tmp_path):
    ids = mixed_fleet(simulator)
    hosts = ids["hosts"]
    simulator.control.reset_calls()

    result = health_check(run_playbook, tmp_path)

    assert result.returncode == 0, result
    assert state_changing_calls(simulator) == {}
    stats = custom_stats(result)
    assert sorted(stats["failed_host_ids"]) == sorted([hosts["first"], hosts["second"]])
    assert stats["health_check_summary"]["counts"] == {"healthy": 3, "degraded": 1, "failed": 2, "gone": 0}
    rows = dict((row["host_id"], row) for row in report(result)["hosts"])
    assert set(rows) == {hosts["degraded"], hosts["first"], hosts["second"]}
    assert rows[hosts["degraded"]]["health"] == "degraded" and rows[hosts["degraded"]]["action"] == "reported"
    assert any("instance-retirement" in reason for reason in rows[hosts["degraded"]]["reasons"])
    assert rows[hosts["first"]]["health"] == "failed" and rows[hosts["first"]]["state"] == "permanent-failure"
    # One line per degraded or failed host: region, host, state, class, then the action and the reasons.
    lines = summary_lines(result)
    for name in ("degraded", "first", "second"):
        row = rows[hosts[name]]
        host_lines = [line.split()[:4] for line in lines if line.startswith("us-east-1 ") and hosts[name] in line]
        assert host_lines == [["us-east-1", hosts[name], row["state"], row["health"]]]
    assert lines[-1] == "auto_failover=false: nothing is changed. To fail over: %s" % ", ".join(sorted([hosts["first"], hosts["second"]]))
    assert "No host to fail over" in result.stdout
    assert read_record(simulator, hosts["first"]) is None


def test_auto_failover_fails_the_failed_hosts_over_in_parallel_and_leaves_the_others_alone(simulator, migration_table, run_playbook, tmp_path):
    ids = mixed_fleet(simulator, latency=SLOW_ENOUGH_TO_OVERLAP)
    hosts, instances = ids["hosts"], ids["instances"]
    untouched = [instances["steady"], instances["retiring"]]
    before = instance_view(simulator, untouched)

    result = health_check(run_playbook, tmp_path, {"auto_failover": "true"})

    assert result.returncode == 0, result
    records = [read_record(simulator, hosts[name]) for name in ("first", "second")]
    assert [record["State"] for record in records] == ["complete", "complete"]
    assert {record["ReservedHostId"] for record in records} == {hosts["pool-a"], hosts["pool-b"]}
    (first_start, first_end), (second_start, second_end) = (migration_window(record) for record in records)
    assert first_start < second_end and second_start < first_end, "the two hosts' moves did not overlap"
    moved = instance_view(simulator, [instances[name] for name in ("web-0", "web-1", "api-0", "api-1")])
    assert all(view[0] == "running" and view[1] in (hosts["pool-a"], hosts["pool-b"]) for view in moved.values()), moved
    assert instance_view(simulator, untouched) == before
    assert read_record(simulator, hosts["healthy"]) is None and read_record(simulator, hosts["degraded"]) is None
    assert "Failing over 2 host(s)" in "\n".join(summary_lines(result))


def test_a_failover_whose_lease_expired_is_resumed(simulator, migration_table, run_playbook, tmp_path):
    # The host only looks degraded now, so only its stale record makes the health check act on it.
    ids = load(simulator, world([pool_host("degraded", tags={"Name": "degraded"}), pool_host("pool")],
                                [on_host("degraded", "retiring", events=RETIREMENT)]))
    degraded, retiring = ids["hosts"]["degraded"], ids["instances"]["retiring"]
    put_record_with_lease(simulator, degraded, [retiring], expires_in=-600)
    created = read_record(simulator, degraded)["CreatedAt"]

    result = health_check(run_playbook, tmp_path, {"auto_failover": "true"})

    assert result.returncode == 0, result
    record = read_record(simulator, degraded)
    assert record["State"] == "complete" and record["CreatedAt"] == created
    assert record.get("LeaseRunId") in (None, "")
    assert instance_view(simulator, [retiring])[retiring][:2] == ("running", ids["hosts"]["pool"])
    assert report(result)["resumable"] == [degraded]
    assert any(degraded in line and "failover to resume (lease expired)" in line for line in summary_lines(result))


def test_a_host_under_a_live_lease_is_reported_and_left_alone(simulator, migration_table, run_playbook, tmp_path):
    ids = load(simulator, world([failed_host(), pool_host()], [on_host("failed", "web")]))
    failed, web = ids["hosts"]["failed"], ids["instances"]["web"]
    put_record_with_lease(simulator, failed, [web], expires_in=600)
    simulator.control.reset_calls()

    result = health_check(run_playbook, tmp_path, {"auto_failover": "true"})

    assert result.returncode == 0, result
    assert state_changing_calls(simulator) == {}
    assert read_record(simulator, failed)["LeaseRunId"] == "run-elsewhere"
    assert instance_view(simulator, [web])[web][:2] == ("running", failed)
    assert custom_stats(result)["failed_host_ids"] == []
    assert report(result)["live_leases"] == [failed]
    assert any(failed in line and "left alone: run run-elsewhere (ops@bastion) holds the lease until" in line for line in summary_lines(result))


def test_a_failover_that_fails_makes_the_health_check_fail(simulator, migration_table, run_playbook, tmp_path):
    # The failed host's zone has no pool host and allocation is off: its plan cannot place its instance.
    ids = load(simulator, world([failed_host(availability_zone="us-east-1b"), pool_host()], [on_host("failed", "web")]))

    result = health_check(run_playbook, tmp_path, {"auto_failover": "true", "allocate_hosts": "false"})

    assert result.returncode != 0, result
    assert "Failover of %s: FAILED" % ids["hosts"]["failed"] in result.output


def test_a_scan_that_cannot_read_the_hosts_fails_and_changes_nothing(simulator, migration_table, run_playbook, tmp_path):
    load(simulator, world([failed_host(), pool_host()], [on_host("failed", "web")]))
    simulator.control.reset_calls()
    simulator.control.add_fault("ec2", "DescribeHosts", "UnauthorizedOperation")

    result = health_check(run_playbook, tmp_path, {"auto_failover": "true"})

    assert result.returncode != 0, result
    assert "UnauthorizedOperation" in result.output
    assert state_changing_calls(simulator) == {}


def test_each_failed_host_is_failed_over_in_its_own_region(simulator, migration_table, run_playbook, tmp_path):
    east = load(simulator, world([failed_host("east"), pool_host("east-pool")], [on_host("east", "east-web")]))
    west = load(simulator, world([failed_host("west", availability_zone="us-west-2a"), pool_host("west-pool", availability_zone="us-west-2a")],
                                 [on_host("west", "west-web")], region="us-west-2"))
    east_web, west_web = east["instances"]["east-web"], west["instances"]["west-web"]

    # One table for both regions (migration_table_region); each host is read and moved in its own region.
    result = health_check(run_playbook, tmp_path, {"aws_regions": "us-east-1,us-west-2", "auto_failover": "true",
                                                   "migration_table_region": "us-east-1"})

    assert result.returncode == 0, result
    assert read_record(simulator, east["hosts"]["east"])["State"] == "complete"
    assert read_record(simulator, west["hosts"]["west"])["State"] == "complete"
    assert instance_view(simulator, [east_web])[east_web][:2] == ("running", east["hosts"]["east-pool"])
    west_view = simulator.client("ec2", region="us-west-2").describe_instances(InstanceIds=[west_web])["Reservations"][0]["Instances"][0]
    assert (west_view["State"]["Name"], west_view["Placement"]["HostId"]) == ("running", west["hosts"]["west-pool"])
    moves = set((entry["region"], tuple(entry.get("instance_ids") or ())) for entry in simulator.control.call_log()
                if entry["action"] == "ModifyInstancePlacement")
    assert moves == {("us-east-1", (east_web,)), ("us-west-2", (west_web,))}
    assert sorted(line.split()[0] for line in summary_lines(result) if line.startswith("us-")) == ["us-east-1", "us-west-2"]


def test_one_notification_per_scan_and_a_failure_to_notify_does_not_fail_it(simulator, migration_table, run_playbook, tmp_path):
    mixed_fleet(simulator)
    topic_arn = simulator.client("sns").create_topic(Name="host-failover")["TopicArn"]
    simulator.control.reset_calls()

    sent = health_check(run_playbook, tmp_path, {"notification_topic_arn": topic_arn})
    simulator.control.add_fault("sns", "Publish", "AuthorizationError")
    refused = health_check(run_playbook, tmp_path, {"notification_topic_arn": topic_arn})

    assert sent.returncode == 0, sent
    assert refused.returncode == 0, refused
    publishes = [entry["code"] for entry in simulator.control.call_log() if entry["action"] == "Publish"]
    assert publishes == ["OK", "AuthorizationError"]
    assert "Could not notify %s" % topic_arn in refused.output


def test_a_malformed_region_is_refused_before_any_aws_call(simulator, migration_table, run_playbook, tmp_path):
    simulator.control.reset_calls()

    result = health_check(run_playbook, tmp_path, {"aws_regions": "us-east-1,useast1"})

    assert result.returncode != 0, result
    assert "aws_regions: useast1 is not a region name" in result.output
    assert simulator.control.call_log() == []


def test_an_aws_health_retirement_event_fails_an_available_host_over_and_maintenance_only_reports(
        simulator, migration_table, run_playbook, tmp_path):
    # The two hosts the events name are in service, not in the pool: only "pool" can receive the instances.
    ids = load(simulator, world([pool_host("retiring", tags={"Role": "App"}), pool_host("maintained", tags={"Role": "App"}), pool_host("pool")],
                                [on_host("retiring", "web", count=2), on_host("maintained", "api")]))
    hosts, instances = ids["hosts"], ids["instances"]
    untouched = instance_view(simulator, [instances["api"]])
    # What the rulebook hands on from an EventBridge event (extensions/eda): the code and the event's resources.
    retire = {"auto_failover": "true", "health_event_code": "AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED",
              "health_event_host_ids": ["arn:aws:ec2:us-east-1:123456789012:dedicated-host/%s" % hosts["retiring"]]}
    maintain = {"auto_failover": "true", "health_event_code": "AWS_EC2_DEDICATED_HOST_NETWORK_MAINTENANCE_SCHEDULED",
                "health_event_host_ids": [hosts["maintained"]]}

    maintained = health_check(run_playbook, tmp_path / "maintain", maintain)
    retired = health_check(run_playbook, tmp_path / "retire", retire)

    assert maintained.returncode == 0, maintained
    row = next(row for row in report(maintained)["hosts"] if row["host_id"] == hosts["maintained"])
    assert row["health"] == "degraded" and "AWS_EC2_DEDICATED_HOST_NETWORK_MAINTENANCE_SCHEDULED" in " ".join(row["reasons"]), row
    assert report(maintained)["failover_targets"] == []
    assert retired.returncode == 0, retired
    assert [target["host_id"] for target in report(retired)["failover_targets"]] == [hosts["retiring"]]
    record = read_record(simulator, hosts["retiring"])
    assert (record["State"], record["SuccessfulMigrations"], record["ReservedHostId"]) == ("complete", 2, hosts["pool"]), record
    assert all(view[:2] == ("running", hosts["pool"]) for view in instance_view(simulator, [instances["web-0"], instances["web-1"]]).values())
    assert instance_view(simulator, [instances["api"]]) == untouched and read_record(simulator, hosts["maintained"]) is None
