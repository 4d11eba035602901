"""Fleet mode: a generated, read-only EC2 for scans of thousands of hosts (dhsim/fleet.py)."""

import math
import os
import signal
import subprocess
import sys

import boto3
import pytest

from dhsim.client import SimulatorControl
from dhsim.fleet import Fleet, FleetServer, SpecError
from dhsim.testing import expect_error

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = {"seed": 7, "regions": ["us-east-1", "us-west-2"], "hosts": 120, "instances_per_host": 3, "failed": 7, "degraded": 5}
PER_REGION_HOSTS = 60
PER_REGION_INSTANCES = 180


@pytest.fixture(scope="module", name="fleet_server")
def _fleet_server():
    server = FleetServer(SPEC)
    server.start()
    yield server
    server.stop()


@pytest.fixture(name="control")
def _control(fleet_server):
    control = SimulatorControl(fleet_server.endpoint)
    control.reset_calls()
    return control


def client(server, service="ec2", region="us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=server.endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def all_pages(ec2, method, key, **params):
    pages = list(ec2.get_paginator(method).paginate(**params))
    return pages, [item for page in pages for item in page[key]]


def instances_of(pages):
    return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]


def test_hosts_page_through_without_duplicates_or_gaps(fleet_server, control):
    ec2 = client(fleet_server)
    pages, hosts = all_pages(ec2, "describe_hosts", "Hosts", MaxResults=7)
    ids = [h["HostId"] for h in hosts]
    assert len(ids) == len(set(ids)) == PER_REGION_HOSTS
    assert set(ids) == {h["HostId"] for h in fleet_server.fleet.regions["us-east-1"].hosts}
    assert len(pages) == math.ceil(PER_REGION_HOSTS / 7.0)
    assert "NextToken" not in pages[-1] and all("NextToken" in page for page in pages[:-1])
    row = control.calls()["by_action"]["DescribeHosts"]
    assert (row["calls"], row["pages"], row["continued"], row["items"]) == (len(pages), len(pages), len(pages) - 1, PER_REGION_HOSTS)


def test_instances_page_by_instance_and_keep_every_one(fleet_server):
    ec2 = client(fleet_server)
    host_ids = [h["HostId"] for h in fleet_server.fleet.regions["us-east-1"].hosts[:9]]
    # 27 instances in pages of 5: reservations (one per host) are split across pages, as EC2 does.
    pages = list(ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "host-id", "Values": host_ids}, {"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]}],
        MaxResults=5))
    instances = instances_of(pages)
    assert [len(instances_of([page])) for page in pages] == [5, 5, 5, 5, 5, 2]
    ids = [i["InstanceId"] for i in instances]
    assert len(ids) == len(set(ids)) == 27
    assert {i["Placement"]["HostId"] for i in instances} == set(host_ids)
    assert {i["Placement"]["Tenancy"] for i in instances} == {"host"}
    dummy, everything = all_pages(ec2, "describe_instances", "Reservations", MaxResults=1000)
    assert sum(len(r["Instances"]) for r in everything) == PER_REGION_INSTANCES


def test_instance_status_pages_and_include_all(fleet_server):
    ec2 = client(fleet_server)
    pages, statuses = all_pages(ec2, "describe_instance_status", "InstanceStatuses", MaxResults=50, IncludeAllInstances=True)
    ids = [s["InstanceId"] for s in statuses]
    assert len(ids) == len(set(ids)) == PER_REGION_INSTANCES
    assert len(pages) == 4
    chosen = ids[:3]
    by_id = ec2.describe_instance_status(InstanceIds=chosen)["InstanceStatuses"]
    assert sorted(s["InstanceId"] for s in by_id) == sorted(chosen)


def test_filters(fleet_server):
    ec2 = client(fleet_server, region="us-west-2")
    region = fleet_server.fleet.regions["us-west-2"]
    failed_states = ec2.describe_hosts(Filter=[{"Name": "state", "Values": ["permanent-failure", "under-assessment"]}])["Hosts"]
    assert {h["HostId"] for h in failed_states} == {h["HostId"] for h in region.hosts if h["State"] != "available"}
    assert failed_states and {h["State"] for h in failed_states} <= {"permanent-failure", "under-assessment"}
    zone = ec2.describe_hosts(Filter=[{"Name": "availability-zone", "Values": ["us-west-2b"]}], MaxResults=500)["Hosts"]
    assert zone and {h["AvailabilityZone"] for h in zone} == {"us-west-2b"}
    assert len(ec2.describe_hosts(Filter=[{"Name": "tag-key", "Values": ["Name"]}])["Hosts"]) == PER_REGION_HOSTS
    assert ec2.describe_hosts(Filter=[{"Name": "tag-key", "Values": ["Role"]}])["Hosts"] == []
    wildcard = ec2.describe_hosts(Filter=[{"Name": "tag:Name", "Values": ["fleet-us-west-2-0000*"]}])["Hosts"]
    assert len(wildcard) == 5
    stopped = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["stopped"]}], MaxResults=1000)
    assert stopped["Reservations"] == []
    tenancy = ec2.describe_instances(Filters=[{"Name": "tenancy", "Values": ["host"]}, {"Name": "availability-zone", "Values": ["us-west-2a"]}],
                                     MaxResults=1000)
    assert {i["Placement"]["AvailabilityZone"] for r in tenancy["Reservations"] for i in r["Instances"]} == {"us-west-2a"}
    impaired = ec2.describe_instance_status(Filters=[{"Name": "system-status.status", "Values": ["impaired"]}], MaxResults=1000)
    assert impaired["InstanceStatuses"] and {s["SystemStatus"]["Status"] for s in impaired["InstanceStatuses"]} == {"impaired"}
    expect_error(ec2.describe_hosts, "InvalidParameterValue", 400, Filter=[{"Name": "colour", "Values": ["red"]}])


@pytest.mark.parametrize("method, low, high", [("describe_hosts", 5, 500), ("describe_instances", 5, 1000),
                                               ("describe_instance_status", 5, 1000)])
def test_max_results_bounds(fleet_server, method, low, high):
    call = getattr(client(fleet_server), method)
    call(MaxResults=low)
    call(MaxResults=high)
    expect_error(call, "InvalidParameterValue", 400, MaxResults=low - 1)
    expect_error(call, "InvalidParameterValue", 400, MaxResults=high + 1)


def test_ids_and_max_results_do_not_combine(fleet_server):
    ec2 = client(fleet_server)
    region = fleet_server.fleet.regions["us-east-1"]
    host_id, instance_id = region.hosts[0]["HostId"], region.instances[0][1]["InstanceId"]
    expect_error(ec2.describe_hosts, "InvalidParameterCombination", 400, HostIds=[host_id], MaxResults=5)
    expect_error(ec2.describe_instances, "InvalidParameterCombination", 400, InstanceIds=[instance_id], MaxResults=5)
    expect_error(ec2.describe_instance_status, "InvalidParameterCombination", 400, InstanceIds=[instance_id], MaxResults=5)
    assert [h["HostId"] for h in ec2.describe_hosts(HostIds=[host_id])["Hosts"]] == [host_id]


def test_bad_pagination_token(fleet_server):
    ec2 = client(fleet_server)
    expect_error(ec2.describe_hosts, "InvalidPaginationToken", 400, MaxResults=5, NextToken="not-a-token")
    token = ec2.describe_hosts(MaxResults=5)["NextToken"]
    # A token belongs to its listing: the same token with other filters is refused rather than answered from the wrong list.
    expect_error(ec2.describe_hosts, "InvalidPaginationToken", 400, MaxResults=5, NextToken=token,
                 Filter=[{"Name": "state", "Values": ["available"]}])


def test_read_only(fleet_server, control):
    ec2 = client(fleet_server)
    region = fleet_server.fleet.regions["us-east-1"]
    host_id, instance_id = region.hosts[0]["HostId"], region.instances[0][1]["InstanceId"]
    error = expect_error(ec2.stop_instances, "UnsupportedOperation", 400, InstanceIds=[instance_id])
    assert "read-only" in error["Error"]["Message"]
    expect_error(ec2.modify_hosts, "UnsupportedOperation", 400, HostIds=[host_id], AutoPlacement="on")
    expect_error(ec2.allocate_hosts, "UnsupportedOperation", 400, AvailabilityZone="us-east-1a", InstanceType="m5.large", Quantity=1)
    dynamodb = client(fleet_server, "dynamodb")
    expect_error(dynamodb.put_item, "UnsupportedOperation", 400, TableName="HostMigrationQueue", Item={"HostId": {"S": host_id}})
    # Reads find no table, as in a region where no failover ever ran.
    expect_error(dynamodb.scan, "ResourceNotFoundException", 400, TableName="HostMigrationQueue")
    assert ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"
    assert client(fleet_server, "sts").get_caller_identity()["Account"] == "123456789012"
    counts = control.calls()["counts"]
    assert counts["ec2"]["StopInstances"] == 1 and control.calls()["by_action"]["StopInstances"]["errors"] == 1


def test_regions_are_separate(fleet_server):
    east, west = client(fleet_server), client(fleet_server, region="us-west-2")
    east_ids = {h["HostId"] for h in east.describe_hosts()["Hosts"]}
    west_ids = {h["HostId"] for h in west.describe_hosts()["Hosts"]}
    assert len(east_ids) == len(west_ids) == PER_REGION_HOSTS and not east_ids & west_ids
    assert {h["AvailabilityZone"][:-1] for h in west.describe_hosts()["Hosts"]} == {"us-west-2"}
    expect_error(west.describe_hosts, "InvalidHostID.NotFound", 400, HostIds=[sorted(east_ids)[0]])
    elsewhere = client(fleet_server, region="eu-west-1")
    assert elsewhere.describe_hosts()["Hosts"] == [] and elsewhere.describe_instances(MaxResults=5)["Reservations"] == []
    assert [r["RegionName"] for r in east.describe_regions()["Regions"]] == ["us-east-1", "us-west-2"]
    assert [z["ZoneName"] for z in west.describe_availability_zones()["AvailabilityZones"]] == ["us-west-2a", "us-west-2b", "us-west-2c"]


def test_same_seed_same_fleet_other_seed_other_fleet():
    first, second, other = Fleet(SPEC), Fleet(SPEC), Fleet(dict(SPEC, seed=8))
    assert first.summary() == second.summary()
    assert [h["HostId"] for h in first.regions["us-east-1"].hosts] == [h["HostId"] for h in second.regions["us-east-1"].hosts]
    assert [h["HostId"] for h in first.regions["us-east-1"].hosts] != [h["HostId"] for h in other.regions["us-east-1"].hosts]


def test_failed_and_degraded_hosts_are_what_the_summary_says(fleet_server):
    summary = SimulatorControl(fleet_server.endpoint).fleet()
    assert summary["expected"] == {"hosts": 120, "instances": 360, "failed": 7, "degraded": 5}
    kinds = {}
    for name, expected in summary["regions"].items():
        ec2 = client(fleet_server, region=name)
        hosts = {h["HostId"]: h for h in ec2.describe_hosts()["Hosts"]}
        statuses = {s["InstanceId"]: s for s in ec2.describe_instance_status(IncludeAllInstances=True)["InstanceStatuses"]}
        for host_id, host in hosts.items():
            mine = [statuses[i["InstanceId"]] for i in host["Instances"]]
            impaired = [s for s in mine if s["SystemStatus"]["Status"] == "impaired"]
            events = [e["Code"] for s in mine for e in s.get("Events", [])]
            if host_id in expected["failed"]:
                kind = expected["failed"][host_id]
                kinds[kind] = kinds.get(kind, 0) + 1
                if kind == "permanent-failure":
                    assert (host["State"], host["HostMaintenance"], len(impaired)) == ("permanent-failure", "off", len(mine))
                elif kind == "under-assessment-recovery-off":
                    assert (host["State"], host["HostRecovery"], impaired) == ("under-assessment", "off", [])
                else:
                    assert (host["State"], len(impaired)) == ("available", 1)
            elif host_id in expected["degraded"]:
                assert (host["State"], impaired, events) == ("available", [], [expected["degraded"][host_id]])
            else:
                assert (host["State"], impaired, events) == ("available", [], [])
    assert kinds == {"permanent-failure": 3, "under-assessment-recovery-off": 2, "impaired-instance": 2}


def test_spec_errors():
    with pytest.raises(SpecError, match="unknown fleet keys: colour"):
        Fleet({"colour": "red"})
    with pytest.raises(SpecError, match="exceeds the number of hosts"):
        Fleet({"hosts": 3, "failed": 2, "degraded": 2})


def test_command_line_fleet_mode(tmp_path):
    spec = tmp_path / "fleet.yml"
    spec.write_text("regions: [us-east-1]\nhosts: 12\ninstances_per_host: 2\nfailed: 1\ndegraded: 1\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), "--port", "0", "--fleet", str(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("AWS_ENDPOINT_URL=http://127.0.0.1:")
        endpoint = first.split("=", 1)[1]
        assert SimulatorControl(endpoint).health()["mode"] == "fleet"
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")
        assert len(ec2.describe_hosts()["Hosts"]) == 12
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
