"""AllocateHosts, DescribeHosts, ModifyHosts, ReleaseHosts and host states."""

import pytest

from dhsim.testing import capacity_of, describe_host, expect_error, wait_for_state

AMI = "ami-12c6146b"


def allocate(ec2, **kwargs):
    params = {"AvailabilityZone": "us-east-1a", "Quantity": 1}
    params.update(kwargs)
    return ec2.allocate_hosts(**params)["HostIds"]


def launch(ec2, host_id, instance_type, count=1):
    result = ec2.run_instances(ImageId=AMI, MinCount=count, MaxCount=count, InstanceType=instance_type, Placement={"HostId": host_id})
    return [i["InstanceId"] for i in result["Instances"]]


def test_allocate_defaults_and_fields(simulator):
    ec2 = simulator.client("ec2")
    [multi] = allocate(ec2, InstanceFamily="m5", TagSpecifications=[{"ResourceType": "dedicated-host", "Tags": [{"Key": "Role", "Value": "Reserved"}]}])
    [single] = allocate(ec2, InstanceType="m5.large", HostRecovery="on", AutoPlacement="on")
    host = describe_host(ec2, multi)
    assert host["State"] == "available"
    assert host["AutoPlacement"] == "off"
    assert host["HostRecovery"] == "off"
    assert host["HostMaintenance"] == "on"
    assert host["AllowsMultipleInstanceTypes"] == "on"
    assert host["HostProperties"] == {"Cores": 48, "Sockets": 2, "TotalVCpus": 96, "InstanceFamily": "m5"}
    assert host["Tags"] == [{"Key": "Role", "Value": "Reserved"}]
    assert host["Instances"] == []
    assert host["MemberOfServiceLinkedResourceGroup"] is False
    assert "AllocationTime" in host and "ReleaseTime" not in host
    assert capacity_of(host, "m5.8xlarge") == (2, 2)
    assert capacity_of(host, "m5.16xlarge") == (1, 1)
    one = describe_host(ec2, single)
    assert one["AllowsMultipleInstanceTypes"] == "off"
    assert one["HostProperties"]["InstanceType"] == "m5.large"
    assert one["AutoPlacement"] == "on" and one["HostRecovery"] == "on"
    assert one["AvailableCapacity"] == {"AvailableVCpus": 96, "AvailableInstanceCapacity": [
        {"InstanceType": "m5.large", "AvailableCapacity": 48, "TotalCapacity": 48}]}


def test_allocate_type_family_rules(simulator):
    ec2 = simulator.client("ec2")
    expect_error(allocate, "InvalidParameterCombination", 400, ec2, InstanceType="m5.large", InstanceFamily="m5")
    expect_error(allocate, "MissingParameter", 400, ec2)
    expect_error(allocate, "UnsupportedHostConfiguration", 400, ec2, InstanceFamily="m5d")
    expect_error(allocate, "InvalidParameterValue", 400, ec2, InstanceFamily="m5", AvailabilityZone="us-east-1z")


def test_client_token_idempotency(simulator):
    ec2 = simulator.client("ec2")
    first = allocate(ec2, InstanceFamily="m5", Quantity=2, ClientToken="tok-1")
    again = allocate(ec2, InstanceFamily="m5", Quantity=2, ClientToken="tok-1")
    assert first == again
    assert len(ec2.describe_hosts()["Hosts"]) == 2
    expect_error(allocate, "IdempotentParameterMismatch", 400, ec2, InstanceFamily="m5", Quantity=3, ClientToken="tok-1")
    hosts = ec2.describe_hosts(Filter=[{"Name": "client-token", "Values": ["tok-1"]}])["Hosts"]
    assert sorted(h["HostId"] for h in hosts) == sorted(first)
    assert hosts[0]["ClientToken"] == "tok-1"


def test_host_quota(simulator):
    ec2 = simulator.client("ec2")
    simulator.control.set_quota("m5", 2)
    ids = allocate(ec2, InstanceFamily="m5", Quantity=2)
    expect_error(allocate, "HostLimitExceeded", 400, ec2, InstanceType="m5.large")
    allocate(ec2, InstanceFamily="c5")
    ec2.release_hosts(HostIds=[ids[0]])
    allocate(ec2, InstanceType="m5.large")


def test_default_quota_is_ten(simulator):
    ec2 = simulator.client("ec2")
    allocate(ec2, InstanceFamily="r5", Quantity=10)
    expect_error(allocate, "HostLimitExceeded", 400, ec2, InstanceFamily="r5")


def test_injected_insufficient_host_capacity(simulator):
    ec2 = simulator.client("ec2")
    simulator.control.add_fault("ec2", "AllocateHosts", "InsufficientHostCapacity", count=1)
    expect_error(allocate, "InsufficientHostCapacity", 500, ec2, InstanceFamily="m5")
    assert len(allocate(ec2, InstanceFamily="m5")) == 1


def test_capacity_follows_running_instances(simulator):
    ec2 = simulator.client("ec2")
    simulator.control.configure(latency={"force_stop": 50})
    [host_id] = allocate(ec2, InstanceFamily="c5")
    ids = launch(ec2, host_id, "c5.4xlarge", 2) + launch(ec2, host_id, "c5.2xlarge", 4)
    host = describe_host(ec2, host_id)
    assert host["AvailableCapacity"]["AvailableVCpus"] == 8
    assert capacity_of(host, "c5.xlarge") == (2, 18)
    assert capacity_of(host, "c5.large") == (4, 36)
    assert capacity_of(host, "c5.2xlarge")[0] == 0
    assert sorted(i["InstanceId"] for i in host["Instances"]) == sorted(ids)
    ec2.stop_instances(InstanceIds=ids[:2], Force=True)
    assert len(describe_host(ec2, host_id)["Instances"]) == 6, "stopping instances still consume capacity"
    wait_for_state(ec2, ids[:2], "stopped", timeout=5)
    host = describe_host(ec2, host_id)
    assert sorted(i["InstanceId"] for i in host["Instances"]) == sorted(ids[2:])
    assert host["AvailableCapacity"]["AvailableVCpus"] == 40


def test_t3_host(simulator):
    ec2 = simulator.client("ec2")
    [host_id] = allocate(ec2, InstanceFamily="t3")
    host = describe_host(ec2, host_id)
    assert capacity_of(host, "t3.nano") == (192, 192)
    launch(ec2, host_id, "t3.2xlarge", 2)
    assert capacity_of(describe_host(ec2, host_id), "t3.nano") == (176, 192)


def test_describe_filters(simulator):
    ec2 = simulator.client("ec2")
    [a] = allocate(ec2, InstanceType="m5.large", TagSpecifications=[{"ResourceType": "dedicated-host", "Tags": [{"Key": "Role", "Value": "Reserved"}]}])
    [b] = allocate(ec2, InstanceFamily="m5", AvailabilityZone="us-east-1b", AutoPlacement="on")
    simulator.control.set_host_state(b, "under-assessment")

    def ids(*filters):
        return sorted(h["HostId"] for h in ec2.describe_hosts(Filter=list(filters))["Hosts"])

    assert ids({"Name": "state", "Values": ["available"]}) == [a]
    assert ids({"Name": "state", "Values": ["under-assessment"]}) == [b]
    assert ids({"Name": "availability-zone", "Values": ["us-east-1b"]}) == [b]
    assert ids({"Name": "instance-type", "Values": ["m5.large"]}) == [a]
    assert ids({"Name": "tag-key", "Values": ["Role"]}) == [a]
    assert ids({"Name": "auto-placement", "Values": ["on"]}) == [b]
    assert ids({"Name": "host-reservation-id", "Values": ["hr-1"]}) == []
    expect_error(ec2.describe_hosts, "InvalidParameterValue", 400, Filter=[{"Name": "tag:Role", "Values": ["Reserved"]}])


def test_pagination(simulator):
    ec2 = simulator.client("ec2")
    created = allocate(ec2, InstanceFamily="m5", Quantity=7)
    page = ec2.describe_hosts(MaxResults=5)
    assert len(page["Hosts"]) == 5 and page["NextToken"]
    rest = ec2.describe_hosts(MaxResults=5, NextToken=page["NextToken"])
    assert len(rest["Hosts"]) == 2 and "NextToken" not in rest
    seen = [h["HostId"] for p in ec2.get_paginator("describe_hosts").paginate(PaginationConfig={"PageSize": 5}) for h in p["Hosts"]]
    assert sorted(seen) == sorted(created)
    expect_error(ec2.describe_hosts, "InvalidParameterValue", 400, MaxResults=3)
    expect_error(ec2.describe_hosts, "InvalidParameterValue", 400, MaxResults=501)
    expect_error(ec2.describe_hosts, "InvalidParameterCombination", 400, MaxResults=5, HostIds=[created[0]])


def test_unknown_and_malformed_host_ids(simulator):
    ec2 = simulator.client("ec2")
    expect_error(ec2.describe_hosts, "InvalidHostID.NotFound", 400, HostIds=["h-0123456789abcdef0"])
    expect_error(ec2.describe_hosts, "InvalidHostID.Malformed", 400, HostIds=["host-1"])


def test_modify_hosts(simulator):
    ec2 = simulator.client("ec2")
    [single, multi] = allocate(ec2, InstanceType="m5.large") + allocate(ec2, InstanceFamily="m5")
    result = ec2.modify_hosts(HostIds=[single, multi, "h-0123456789abcdef0"], AutoPlacement="on", HostRecovery="on", HostMaintenance="off")
    assert sorted(result["Successful"]) == sorted([single, multi])
    assert result["Unsuccessful"][0]["ResourceId"] == "h-0123456789abcdef0"
    assert result["Unsuccessful"][0]["Error"]["Code"] == "InvalidHostID.NotFound"
    host = describe_host(ec2, single)
    assert (host["AutoPlacement"], host["HostRecovery"], host["HostMaintenance"]) == ("on", "on", "off")
    launch(ec2, single, "m5.large")
    blocked = ec2.modify_hosts(HostIds=[single], InstanceFamily="m5")
    assert blocked["Successful"] == [] and blocked["Unsuccessful"][0]["Error"]["Code"] == "InvalidHostState"
    wrong = ec2.modify_hosts(HostIds=[multi], InstanceFamily="c5")
    assert wrong["Unsuccessful"][0]["Error"]["Code"] == "InvalidParameterValue"
    assert ec2.modify_hosts(HostIds=[multi], InstanceType="m5.xlarge")["Successful"] == [multi]
    host = describe_host(ec2, multi)
    assert host["AllowsMultipleInstanceTypes"] == "off" and host["HostProperties"]["InstanceType"] == "m5.xlarge"
    expect_error(ec2.modify_hosts, "InvalidParameterCombination", 400, HostIds=[multi], InstanceType="m5.large", InstanceFamily="m5")


def test_modify_hosts_type_change_pends(simulator):
    ec2 = simulator.client("ec2")
    simulator.control.configure(latency={"host_modify": 500})
    [host_id] = allocate(ec2, InstanceType="m5.large")
    ec2.modify_hosts(HostIds=[host_id], InstanceFamily="m5")
    assert describe_host(ec2, host_id)["State"] == "pending"
    expect_error(launch, "InvalidHostState", 400, ec2, host_id, "m5.large")


def test_release_hosts(simulator):
    ec2 = simulator.client("ec2")
    [busy, idle] = allocate(ec2, InstanceFamily="m5", Quantity=2)
    [failed] = allocate(ec2, InstanceFamily="m5")
    simulator.control.set_host_state(failed, "permanent-failure")
    [iid] = launch(ec2, busy, "m5.large")
    result = ec2.release_hosts(HostIds=[busy, idle, failed])
    assert sorted(result["Successful"]) == sorted([idle, failed])
    assert result["Unsuccessful"][0]["ResourceId"] == busy
    assert result["Unsuccessful"][0]["Error"]["Code"] == "InvalidHostState"
    assert iid in result["Unsuccessful"][0]["Error"]["Message"]
    assert describe_host(ec2, idle)["State"] == "released"
    assert "ReleaseTime" in describe_host(ec2, idle)
    assert describe_host(ec2, failed)["State"] == "released-permanent-failure"
    ec2.stop_instances(InstanceIds=[iid], Force=True)
    wait_for_state(ec2, [iid], "stopped")
    assert ec2.release_hosts(HostIds=[busy])["Successful"] == [busy]


@pytest.mark.parametrize("state", ["available", "under-assessment", "permanent-failure", "released", "released-permanent-failure", "pending"])
def test_host_states_via_control(simulator, state):
    ec2 = simulator.client("ec2")
    [host_id] = allocate(ec2, InstanceFamily="m5")
    assert simulator.control.set_host_state(host_id, state)["state"] == state
    host = describe_host(ec2, host_id)
    assert host["State"] == state
    assert ("ReleaseTime" in host) == state.startswith("released")


def test_host_tags_via_create_tags(simulator):
    ec2 = simulator.client("ec2")
    [host_id] = allocate(ec2, InstanceFamily="m5")
    ec2.create_tags(Resources=[host_id], Tags=[{"Key": "Role", "Value": "Reserved"}])
    assert describe_host(ec2, host_id)["Tags"] == [{"Key": "Role", "Value": "Reserved"}]
    ec2.delete_tags(Resources=[host_id], Tags=[{"Key": "Role"}])
    assert describe_host(ec2, host_id)["Tags"] == []
