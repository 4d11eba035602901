# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host health classes (docs/health.md): every row of the table, the replacement heuristic, then the reads
against the simulator (calls, pagination, regions)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import health
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import AwsApiError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseLostError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import describe_hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from conftest import TABLE
from conftest import create_migration_table

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def ago(seconds):
    return NOW - datetime.timedelta(seconds=seconds)


def status(instance_id, system="ok", events=(), impaired_since=None):
    details = [{"Name": "reachability", "Status": "failed" if system == "impaired" else "passed"}]
    if impaired_since is not None:
        details[0]["ImpairedSince"] = impaired_since
    return {"InstanceId": instance_id, "SystemStatus": {"Status": system, "Details": details}, "Events": list(events)}


def host(state, recovery="off", maintenance="off", **extra):
    return dict({"HostId": "h-0123456789abcdef0", "State": state, "HostRecovery": recovery, "HostMaintenance": maintenance}, **extra)


def classify(entry, statuses=(), **options):
    options.setdefault("now", NOW)
    return health.classify_host(entry, list(statuses), **options)


# --------------------------------------------------------------------------- the table, row by row

@pytest.mark.parametrize("state", ["released", "released-permanent-failure"])
def test_row_1_released_hosts_are_gone_whatever_else_holds(state):
    classified, reasons, recovery = classify(host(state, recovery="on", maintenance="on"), [status("i-01234567", "impaired")])
    assert (classified, recovery) == (health.GONE, None)
    assert reasons == ["host is %s: nothing is left to fail over" % state]


def test_row_2_under_assessment_without_host_recovery_has_failed():
    classified, reasons, recovery = classify(host("under-assessment"), [status("i-01234567", "impaired", impaired_since=ago(5))])
    assert (classified, recovery) == (health.FAILED, None)
    assert "AWS host recovery is off: AWS is not recovering it" in reasons[0]


def test_row_3_under_assessment_with_host_recovery_but_ignored_has_failed():
    classified, reasons, recovery = classify(host("under-assessment", recovery="on"), [status("i-01234567", "impaired", impaired_since=ago(5))],
                                             ignore_aws_recovery=True)
    assert (classified, recovery) == (health.FAILED, None)
    assert "ignore_aws_recovery is set" in reasons[0]


def test_row_4_recovery_within_the_grace_period_is_degraded_from_the_earliest_impaired_since():
    statuses = [status("i-01234567", "impaired", impaired_since=ago(100)), status("i-89abcdef", "impaired", impaired_since=ago(300))]
    classified, reasons, recovery = classify(host("under-assessment", recovery="on"), statuses, grace_period=900)
    assert classified == health.DEGRADED
    assert reasons == ["AWS host recovery in progress since 2026-03-01T11:55:00Z; a failover waits until 2026-03-01T12:10:00Z"]
    assert recovery == {"InProgress": True, "Since": "2026-03-01T11:55:00Z", "SinceReported": True,
                        "GraceEnds": "2026-03-01T12:10:00Z", "SecondsLeft": 600.0}


def test_row_4_without_impaired_since_recovery_counts_from_now_or_the_assumed_start_and_says_so():
    classified, reasons, recovery = classify(host("under-assessment", recovery="on"), [status("i-01234567", "not-applicable")], grace_period=60)
    assert classified == health.DEGRADED
    assert recovery["Since"] == "2026-03-01T12:00:00Z" and recovery["SinceReported"] is False and recovery["SecondsLeft"] == 60.0
    assert "no instance reports when its system status became impaired: counted from 2026-03-01T12:00:00Z" in reasons[0]
    classified, reasons, recovery = classify(host("under-assessment", recovery="on"), [], grace_period=120,
                                             recovery_assumed_start="2026-03-01T11:58:30Z")
    assert (classified, recovery["Since"], recovery["SecondsLeft"]) == (health.DEGRADED, "2026-03-01T11:58:30Z", 30.0)


def test_row_5_recovery_past_the_grace_period_has_failed():
    classified, reasons, recovery = classify(host("under-assessment", recovery="on"), [status("i-01234567", "impaired", impaired_since=ago(901))])
    assert classified == health.FAILED
    assert reasons[0].startswith("AWS host recovery has not finished within the grace period")
    assert recovery["InProgress"] is False and recovery["SecondsLeft"] == 0.0
    assumed = classify(host("under-assessment", recovery="on"), [], grace_period=10, recovery_assumed_start=ago(11))
    assert assumed[0] == health.FAILED


def test_a_zero_grace_period_fails_a_recovering_host_at_once():
    assert classify(host("under-assessment", recovery="on"), [], grace_period=0)[0] == health.FAILED


def test_row_6_permanent_failure_without_host_maintenance_has_failed():
    classified, reasons, recovery = classify(host("permanent-failure", recovery="on"))
    assert (classified, recovery) == (health.FAILED, None)
    assert "AWS host maintenance is off" in reasons[0]


def test_row_7_permanent_failure_with_host_maintenance_is_degraded_naming_the_candidates():
    classified, reasons, dummy = classify(host("permanent-failure", maintenance="on"), replacement_candidates=["h-0aaaaaaaaaaaaaaaa", "h-0bbbbbbbbbbbbbbbb"])
    assert classified == health.DEGRADED
    assert reasons == ["AWS host maintenance will move the instances; candidate replacement(s): h-0aaaaaaaaaaaaaaaa, h-0bbbbbbbbbbbbbbbb"]
    assert "none allocated yet" in classify(host("permanent-failure", maintenance="on"))[1][0]


def test_row_7_with_ignore_aws_recovery_has_failed():
    classified, reasons, dummy = classify(host("permanent-failure", maintenance="on"), ignore_aws_recovery=True)
    assert classified == health.FAILED and "ignore_aws_recovery is set" in reasons[0]


def test_row_8_pending_is_degraded():
    classified, reasons, dummy = classify(host("pending"), [status("i-01234567", "impaired")])
    assert classified == health.DEGRADED and "pending" in reasons[0]


def test_row_9_an_available_host_with_an_impaired_instance_has_failed():
    classified, reasons, dummy = classify(host("available"), [status("i-01234567", "impaired"), status("i-89abcdef")])
    assert classified == health.FAILED
    assert reasons == ["instance i-01234567 has an impaired system status on an available host"]


@pytest.mark.parametrize("code", ["instance-retirement", "instance-stop", "system-maintenance", "system-reboot", "instance-reboot"])
def test_row_10_a_scheduled_event_degrades_an_available_host_with_one_reason_per_event(code):
    events = [{"Code": code, "Description": "x", "NotBefore": datetime.datetime(2026, 3, 9, 4, 0, tzinfo=datetime.timezone.utc)},
              {"Code": "system-reboot", "Description": "y", "NotBefore": "2026-03-10T00:00:00Z"}]
    classified, reasons, dummy = classify(host("available"), [status("i-01234567", events=events)])
    assert classified == health.DEGRADED
    assert reasons == ["instance i-01234567 has a scheduled %s event not before 2026-03-09T04:00:00Z" % code,
                       "instance i-01234567 has a scheduled system-reboot event not before 2026-03-10T00:00:00Z"]


def test_row_11_completed_events_are_ignored_and_a_quiet_host_is_healthy():
    done = {"Code": "instance-retirement", "Description": "[Completed] retired"}
    assert classify(host("available"), [status("i-01234567", events=[done])]) == (health.HEALTHY, [], None)
    assert classify(host("available")) == (health.HEALTHY, [], None)


@pytest.mark.parametrize("code", ["AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED", "AWS_EC2_DEDICATED_HOST_ACCESSREVOKED_RETIREMENT_SCHEDULED"])
def test_an_aws_health_retirement_event_fails_a_host_the_table_finds_healthy_or_degraded(code):
    assert classify(host("available"), health_events=[code]) == (
        health.FAILED, ["AWS Health reports %s for the host: it will be retired: its instances move now" % code], None)
    classified, reasons, dummy = classify(host("pending"), health_events=[code])
    assert classified == health.FAILED and "pending" in reasons[0] and code in reasons[1]


def test_an_aws_health_maintenance_event_degrades_a_healthy_host_and_never_lessens_a_worse_class():
    code = "AWS_EC2_DEDICATED_HOST_POWER_MAINTENANCE_SCHEDULED"
    assert classify(host("available"), health_events=[code]) == (
        health.DEGRADED, ["AWS Health reports %s for the host: AWS has announced work on it" % code], None)
    classified, reasons, dummy = classify(host("available"), [status("i-01234567", "impaired")], health_events=[code])
    assert classified == health.FAILED and len(reasons) == 2
    # A code AWS adds later counts as maintenance, named in the reason.
    assert classify(host("available"), health_events=["AWS_EC2_DEDICATED_HOST_NEW_KIND"])[0] == health.DEGRADED


def test_aws_health_events_leave_the_recovery_and_maintenance_rows_to_aws():
    retire = ["AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED"]
    assert classify(host("permanent-failure", maintenance="on"), health_events=retire)[0] == health.DEGRADED
    assert classify(host("released"), health_events=retire)[0] == health.GONE


def test_health_events_of_takes_host_ids_and_arns_and_refuses_what_it_cannot_read():
    code = "AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED"
    resources = ["arn:aws:ec2:us-east-1:123456789012:dedicated-host/h-0123456789abcdef0", "h-0123456789abcdef1",
                 "h-0123456789abcdef0", "i-0123456789abcdef0"]
    assert health.health_events_of(code, resources) == {"h-0123456789abcdef0": [code], "h-0123456789abcdef1": [code]}
    assert health.health_events_of(None, []) == {}
    with pytest.raises(InvalidInputError, match="not an AWS Health Dedicated Host event code"):
        health.health_events_of("AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", resources)
    with pytest.raises(InvalidInputError, match="needs health_event_code"):
        health.health_events_of("", resources)
    with pytest.raises(InvalidInputError, match="malformed"):
        health.health_events_of(code, ["h-xyz"])


# --------------------------------------------------------------------------- replacement candidates

def described(host_id, allocated, state="available", zone="us-east-1a", family="m5", instance_type=None, tags=None):
    properties = {"InstanceFamily": family}
    if instance_type:
        properties["InstanceType"] = instance_type
    return {"HostId": host_id, "State": state, "AvailabilityZone": zone, "HostProperties": properties,
            "AllowsMultipleInstanceTypes": "off" if instance_type else "on", "AllocationTime": ago(allocated),
            "Tags": [{"Key": key, "Value": value} for key, value in sorted((tags or {}).items())]}


def test_candidates_are_later_like_hosts_of_the_zone_with_the_same_user_tags():
    tags = {"Name": "db", "CostCenter": "42"}
    failed = dict(described("h-00000000000000000", 1000, state="permanent-failure", tags=dict(tags, **{"aws:cloudformation:stack-name": "x"})),
                  HostMaintenance="on")
    zone = [
        failed,
        described("h-00000000000000001", 10, tags=tags),  # the replacement
        described("h-00000000000000002", 10, state="pending", tags=dict(tags, **{"aws:x": "y"})),  # aws: tags do not count
        described("h-00000000000000003", 2000, tags=tags),  # allocated before the failed host
        described("h-00000000000000004", 10, zone="us-east-1b", tags=tags),
        described("h-00000000000000005", 10, family="c5", tags=tags),
        described("h-00000000000000006", 10, tags=dict(tags, Name="other")),
        described("h-00000000000000007", 10, tags=dict(tags, FailoverFor="h-00000000000000000")),  # claimed by a failover
        described("h-00000000000000008", 10, state="released", tags=tags),
        described("h-00000000000000009", 10, instance_type="m5.large", tags=tags),  # single-type: not the same kind
    ]
    assert health.maintenance_replacement_candidates(failed, zone) == ["h-00000000000000001", "h-00000000000000002"]


def test_a_single_type_host_matches_hosts_of_the_same_instance_type():
    failed = described("h-00000000000000000", 1000, state="permanent-failure", instance_type="c5.large")
    zone = [failed, described("h-00000000000000001", 5, instance_type="c5.large", family="c5"),
            described("h-00000000000000002", 5, instance_type="c5.xlarge", family="c5")]
    assert health.maintenance_replacement_candidates(failed, zone) == ["h-00000000000000001"]


# --------------------------------------------------------------------------- reads against the simulator

def test_host_health_reads_a_region_in_one_call_of_each_kind(simulator):
    ids = simulator.load_scenario({
        "hosts": [
            {"name": "failed", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "permanent-failure", "host_maintenance": "off"},
            {"name": "ok", "availability_zone": "us-east-1a", "instance_family": "m5"},
            {"name": "sick", "availability_zone": "us-east-1b", "instance_type": "c5.large"},
        ],
        "instances": [
            {"name": "a", "host": "failed", "instance_type": "m5.large", "count": 2},
            {"name": "b", "host": "ok", "instance_type": "m5.xlarge", "state": "stopped"},
            {"name": "c", "host": "sick", "instance_type": "c5.large", "system_status": "impaired"},
            {"name": "shared", "instance_type": "m5.large"},  # default tenancy: not read
        ],
    })
    simulator.control.reset_calls()

    report = dict((entry["HostId"], entry) for entry in health.host_health(simulator.client("ec2")))

    assert report[ids["hosts"]["failed"]]["Health"] == health.FAILED
    assert report[ids["hosts"]["ok"]]["Health"] == health.HEALTHY
    assert report[ids["hosts"]["sick"]]["Health"] == health.FAILED
    assert sorted(entry["InstanceId"] for entry in report[ids["hosts"]["failed"]]["Instances"]) == sorted(
        [ids["instances"]["a-0"], ids["instances"]["a-1"]])
    assert report[ids["hosts"]["ok"]]["Instances"][0]["State"] == "stopped"  # stopped instances that target the host count
    sick = report[ids["hosts"]["sick"]]["Instances"][0]
    assert sick["SystemStatus"] == "impaired" and sick["ImpairedSince"].endswith("Z")
    assert report[ids["hosts"]["sick"]]["InstanceType"] == "c5.large" and report[ids["hosts"]["ok"]]["InstanceFamily"] == "m5"
    counts = simulator.control.calls()["counts"]["ec2"]
    assert counts == {"DescribeHosts": 1, "DescribeInstances": 1, "DescribeInstanceStatus": 1}
    assert health.summary(report.values()) == {"healthy": 1, "degraded": 0, "failed": 2, "gone": 0}


def test_maintenance_candidates_cost_one_describe_hosts_for_named_hosts_and_none_for_a_region(simulator):
    ids = simulator.load_scenario({
        "hosts": [
            {"name": "failed", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "permanent-failure",
             "host_maintenance": "on", "tags": {"App": "db"}, "allocation_time": 3600},
            {"name": "replacement", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "pending", "tags": {"App": "db"}},
            {"name": "pool", "availability_zone": "us-east-1a", "instance_family": "m5", "tags": {"App": "db", "Role": "Reserved"}},
        ],
        "instances": [{"name": "a", "host": "failed", "instance_type": "m5.large"}],
    })
    failed = ids["hosts"]["failed"]
    simulator.control.reset_calls()

    [entry] = health.host_health(simulator.client("ec2"), host_ids=[failed])

    assert entry["Health"] == health.DEGRADED
    assert entry["MaintenanceReplacementCandidates"] == [ids["hosts"]["replacement"]]
    assert ids["hosts"]["replacement"] in entry["Reasons"][0]
    assert simulator.control.call_count("ec2", "DescribeHosts") == 2
    simulator.control.reset_calls()
    region = dict((item["HostId"], item) for item in health.host_health(simulator.client("ec2")))
    assert region[failed]["MaintenanceReplacementCandidates"] == [ids["hosts"]["replacement"]]
    assert simulator.control.call_count("ec2", "DescribeHosts") == 1
    ignored = health.host_health(simulator.client("ec2"), host_ids=[failed], ignore_aws_recovery=True)[0]
    assert ignored["Health"] == health.FAILED and ignored["MaintenanceReplacementCandidates"] == [ids["hosts"]["replacement"]]


def test_recovery_timing_comes_from_the_instances_impaired_since(simulator):
    ids = simulator.load_scenario({
        "hosts": [{"name": "sick", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "under-assessment", "host_recovery": "on"}],
        "instances": [{"name": "a", "host": "sick", "impaired_since": 1000}, {"name": "b", "host": "sick", "impaired_since": 10}],
    })
    [entry] = health.host_health(simulator.client("ec2"), host_ids=[ids["hosts"]["sick"]], grace_period=900)
    assert entry["Health"] == health.FAILED and entry["AwsRecovery"]["InProgress"] is False
    [entry] = health.host_health(simulator.client("ec2"), host_ids=[ids["hosts"]["sick"]], grace_period=2000)
    assert entry["Health"] == health.DEGRADED and 950 <= entry["AwsRecovery"]["SecondsLeft"] <= 1001


def test_a_region_scan_pages_through_every_call(simulator):
    simulator.load_scenario({
        "hosts": [{"name": "h", "availability_zone": "us-east-1a", "instance_type": "m5.large", "count": 12}],
        "instances": [{"name": "i", "host": "h-%d" % index, "instance_type": "m5.large"} for index in range(12)],
    })
    simulator.control.reset_calls()

    report = health.host_health(simulator.client("ec2"), page_sizes={"hosts": 5, "instances": 5})

    assert len(report) == 12 and all(len(entry["Instances"]) == 1 for entry in report)
    counts = simulator.control.calls()["counts"]["ec2"]
    assert counts["DescribeHosts"] == 3  # 5 + 5 + 2
    assert counts["DescribeInstances"] == 3


def test_many_instances_read_their_status_region_wide_a_page_at_a_time(simulator, monkeypatch):
    monkeypatch.setattr(health, "REGION_STATUS_THRESHOLD", 4)
    monkeypatch.setattr(health, "FILTER_VALUES_MAX", 3)  # more hosts than one host-id filter: read the region's host instances
    ids = simulator.load_scenario({
        "hosts": [{"name": "h", "availability_zone": "us-east-1a", "instance_family": "m5", "count": 4}],
        "instances": [{"name": "i%d" % index, "host": "h-%d" % index, "instance_type": "m5.large", "count": 3} for index in range(4)]
        + [{"name": "impaired", "host": "h-2", "instance_type": "m5.large", "system_status": "impaired"}],
    })
    simulator.control.reset_calls()

    report = dict((entry["HostId"], entry) for entry in health.host_health(simulator.client("ec2"), page_sizes={"instances": 5}))

    assert report[ids["hosts"]["h-2"]]["Health"] == health.FAILED
    assert sum(len(entry["Instances"]) for entry in report.values()) == 13
    log = [entry for entry in simulator.control.call_log() if entry["action"] == "DescribeInstanceStatus"]
    assert len(log) == 3 and not any(entry["instance_ids"] for entry in log)  # 13 statuses, 5 a page, no InstanceIds
    # A fleet is classified from DescribeHosts' instance lists: only the failed host's instances are described.
    described = [entry for entry in simulator.control.call_log() if entry["action"] == "DescribeInstances"]
    assert len(described) == 1
    assert report[ids["hosts"]["h-2"]]["Instances"][0]["AvailabilityZone"] == "us-east-1a"


def test_a_region_without_hosts_reads_nothing_else(simulator):
    simulator.load_scenario({"hosts": [], "instances": [{"name": "shared"}]})
    simulator.control.reset_calls()
    assert health.host_health(simulator.client("ec2", region="eu-west-1")) == []
    assert simulator.control.calls()["counts"]["ec2"] == {"DescribeHosts": 1}


def test_an_unknown_host_id_is_reported_as_not_found(simulator):
    simulator.load_scenario({"hosts": [], "instances": []})
    with pytest.raises(NotFoundError) as caught:
        health.host_health(simulator.client("ec2"), host_ids=["h-0123456789abcdef0"])
    assert "h-0123456789abcdef0" in str(caught.value)


# --------------------------------------------------------------------------- the failover and AWS's own moves

def recovering_host(simulator, state="under-assessment"):
    """(EC2 client, a record whose lease run-a holds, the host's DescribeHosts entry) of a host with recovery on."""
    ids = simulator.load_scenario({"hosts": [{"name": "sick", "availability_zone": "us-east-1a", "instance_family": "m5", "state": state,
                                              "host_recovery": "on"}]})
    dynamodb = simulator.client("dynamodb")
    create_migration_table(dynamodb)
    record = MigrationRecord(dynamodb, TABLE, ids["hosts"]["sick"], "run-a")
    record.acquire(lease_seconds=60)
    ec2 = retrying(simulator.client("ec2"))
    return ec2, record, describe_hosts(ec2, host_ids=[ids["hosts"]["sick"]])[0]


def test_turning_host_recovery_off_writes_the_record_first_then_calls_modify_hosts_once(simulator):
    ec2, record, sick = recovering_host(simulator)
    note = health.turn_off_host_recovery(ec2, sick, record=record, run_id="run-a")
    assert note.startswith("AWS host recovery turned off on %s" % sick["HostId"])
    assert describe_hosts(ec2, host_ids=[sick["HostId"]])[0]["HostRecovery"] == "off"
    assert health.recovery_turned_off(record.load())["runId"] == "run-a"
    log = [(entry["service"], entry["action"]) for entry in simulator.control.call_log()]
    assert log.index(("dynamodb", "UpdateItem"), log.index(("dynamodb", "PutItem")) + 1) < log.index(("ec2", "ModifyHosts"))
    assert health.turn_off_host_recovery(ec2, dict(sick, HostRecovery="off"), record=record, run_id="run-a") is None
    assert simulator.control.call_count("ec2", "ModifyHosts") == 1


def test_a_run_that_lost_its_lease_does_not_turn_host_recovery_off(simulator):
    ec2, record, sick = recovering_host(simulator)
    MigrationRecord(simulator.client("dynamodb"), TABLE, sick["HostId"], "run-b").acquire(lease_seconds=60, break_lock=True)
    with pytest.raises(LeaseLostError) as caught:
        health.turn_off_host_recovery(ec2, sick, record=record, run_id="run-a")
    assert "run-a" in str(caught.value)
    assert simulator.control.call_count("ec2", "ModifyHosts") == 0
    assert describe_hosts(ec2, host_ids=[sick["HostId"]])[0]["HostRecovery"] == "on"


def test_modify_hosts_refusing_the_host_is_an_error_that_names_it(simulator):
    ec2, record, sick = recovering_host(simulator)
    simulator.control.set_host_state(sick["HostId"], "released")
    with pytest.raises(AwsApiError) as caught:
        health.turn_off_host_recovery(ec2, sick, record=record, run_id="run-a")
    assert caught.value.code == "InvalidHostState" and sick["HostId"] in caught.value.message
    assert "nothing has been stopped" in caught.value.message


def test_settings_before_failover_restore_recovery_only_when_the_record_says_a_failover_turned_it_off():
    off = host("under-assessment", recovery="off")
    noted = {"HostRecoveryTurnedOff": {"runId": "run-a", "at": "2026-01-01T00:00:00Z", "previous": "on"}}
    assert health.settings_before_failover(off, noted)["HostRecovery"] == "on"
    assert health.settings_before_failover(off, {})["HostRecovery"] == "off"
    assert off["HostRecovery"] == "off"  # the live entry is left as it is


def test_wait_until_available_rereads_until_no_host_is_pending_and_calls_on_wait_between():
    answers = [[{"HostId": "h-01234567", "State": "pending"}], [{"HostId": "h-01234567", "State": "pending"}],
               [{"HostId": "h-01234567", "State": "available"}]]
    waits, pauses = [], []
    hosts = health.wait_until_available(lambda ids: answers.pop(0), ["h-01234567"], timeout=60, interval=2,
                                        sleep=pauses.append, monotonic=lambda: 0.0, on_wait=lambda: waits.append(1))
    assert hosts["h-01234567"]["State"] == "available"
    assert (len(waits), pauses) == (2, [2.0, 2.0])


def test_wait_until_available_gives_up_at_its_timeout():
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    hosts = health.wait_until_available(lambda ids: [{"HostId": "h-01234567", "State": "pending"}], ["h-01234567"], timeout=5,
                                        interval=2, sleep=sleep, monotonic=lambda: clock[0])
    assert hosts["h-01234567"]["State"] == "pending" and clock[0] == 5.0


def test_a_maintenance_replacement_matches_zone_kind_tags_and_a_later_allocation():
    failed = host("permanent-failure", maintenance="on", AvailabilityZone="us-east-1a", HostProperties={"InstanceFamily": "m5"},
                  AllowsMultipleInstanceTypes="on", AllocationTime=ago(3600), Tags=[{"Key": "Name", "Value": "web"}])
    replacement = dict(failed, HostId="h-0fedcba9876543210", State="pending", AllocationTime=ago(60))
    assert health.is_maintenance_replacement(failed, replacement)
    assert not health.is_maintenance_replacement(failed, dict(replacement, Tags=[{"Key": "Name", "Value": "db"}]))
    assert not health.is_maintenance_replacement(failed, dict(replacement, AllocationTime=ago(7200)))


def recovery_entry(host_id="h-01234567", in_progress=True, instances=1, health="degraded", seconds_left=60.0):
    """A host_health() entry of a host under AWS recovery (or after it)."""
    return {"HostId": host_id, "Health": health, "Instances": [{"InstanceId": "i-%08d" % number} for number in range(instances)],
            "AwsRecovery": {"InProgress": in_progress, "SecondsLeft": seconds_left if in_progress else 0.0} if health != "gone" else None}


class FakeClock(object):
    """sleep() moves monotonic() on; each read() answers the next report, or the last one again."""

    def __init__(self, reports):
        self.now, self.pauses, self.reports, self.reads = 0.0, [], list(reports), 0

    def sleep(self, seconds):
        self.pauses.append(seconds)
        self.now += seconds

    def monotonic(self):
        return self.now

    def read(self):
        self.reads += 1
        return self.reports.pop(0) if len(self.reports) > 1 else self.reports[0]

    def wait(self, poll_interval):
        return health.wait_for_aws_recovery(self.read, poll_interval, sleep=self.sleep, monotonic=self.monotonic)


def test_the_recovery_poll_is_the_poll_interval_or_a_thirtieth_of_the_grace_period():
    assert health.recovery_poll_interval(1, 900) == 30.0
    assert health.recovery_poll_interval(5, 60) == 5.0
    assert health.recovery_poll_interval(0.25, 0) == 0.25


def test_the_wait_rereads_until_the_grace_period_ends_and_the_host_is_failed():
    clock = FakeClock([[recovery_entry(seconds_left=60)], [recovery_entry(seconds_left=30)],
                       [recovery_entry(in_progress=False, health="failed")]])
    report, recovered = clock.wait(30.0)
    assert report[0]["Health"] == "failed" and recovered == []
    assert (clock.reads, clock.pauses) == (3, [30.0, 30.0])


def test_the_wait_ends_when_aws_moves_the_instances_off_the_host():
    clock = FakeClock([[recovery_entry(instances=2)], [recovery_entry(instances=0)]])
    report, recovered = clock.wait(5.0)
    assert recovered == ["h-01234567"] and report[0]["Instances"] == []
    assert clock.pauses == [5.0]


def test_the_wait_ends_when_aws_releases_the_host():
    clock = FakeClock([[recovery_entry()], [recovery_entry()], [recovery_entry(health="gone", instances=0)]])
    report, recovered = clock.wait(5.0)
    assert recovered == ["h-01234567"] and clock.reads == 3


def test_a_host_not_awaiting_recovery_is_read_once():
    clock = FakeClock([[recovery_entry(in_progress=False, health="failed"), recovery_entry("h-89abcdef", health="degraded", instances=0)]])
    report, recovered = clock.wait(5.0)
    assert (clock.reads, clock.pauses, recovered) == (1, [], [])  # no instances: nothing for AWS to move; not recovered


def test_the_wait_lasts_while_any_host_awaits_recovery_and_names_only_those_aws_recovered():
    first = [recovery_entry("h-01234567"), recovery_entry("h-89abcdef", seconds_left=20)]
    clock = FakeClock([first, [recovery_entry("h-01234567", instances=0), recovery_entry("h-89abcdef", seconds_left=10)],
                       [recovery_entry("h-01234567", instances=0), recovery_entry("h-89abcdef", in_progress=False, health="failed")]])
    report, recovered = clock.wait(10.0)
    assert recovered == ["h-01234567"] and clock.reads == 3


def test_the_wait_gives_up_one_poll_after_the_longest_grace_left_at_the_first_read():
    clock = FakeClock([[recovery_entry(seconds_left=25)]])  # a host whose recovery never seems to end
    report, recovered = clock.wait(10.0)
    assert report[0]["AwsRecovery"]["InProgress"] and recovered == []
    assert clock.pauses == [10.0, 10.0, 10.0, 10.0] and clock.now == 40.0


def test_host_health_after_aws_recovery_counts_undated_recovery_from_the_start_of_the_wait(monkeypatch):
    starts, pauses = [], []
    start = datetime.datetime(2026, 1, 31, 12, 0, tzinfo=datetime.timezone.utc)
    monkeypatch.setattr(health, "utc_now", lambda: start)

    def fake_host_health(ec2, grace_period, recovery_assumed_start, **options):
        starts.append(recovery_assumed_start)
        return [recovery_entry(in_progress=len(starts) < 3, health="degraded" if len(starts) < 3 else "failed")]

    monkeypatch.setattr(health, "host_health", fake_host_health)
    report, recovered = health.host_health_after_aws_recovery(None, 1.0, grace_period=90, host_ids=["h-01234567"], sleep=pauses.append)
    assert starts == [start, start, start] and pauses == [3.0, 3.0]
    assert report[0]["Health"] == "failed" and recovered == []
