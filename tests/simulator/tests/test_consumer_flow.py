"""Consumer-side flow: move three instances off a failed host onto the reserved host with plain boto3."""

import time

from dhsim.testing import capacity_of

SCENARIO = {
    "latency": {"stop": 20, "start": 15, "force_stop": 3, "jitter": 0.2},
    "hosts": [
        {"name": "failed", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "permanent-failure"},
        {"name": "reserved", "availability_zone": "us-east-1a", "instance_family": "m5", "tags": {"Role": "Reserved"}},
    ],
    "instances": [
        {"name": "web", "host": "failed", "instance_type": "m5.large", "count": 2},
        {"name": "app", "host": "failed", "instance_type": "m5.2xlarge"},
    ],
}


def _instances(ec2, **kwargs):
    result = ec2.describe_instances(**kwargs)
    return [i for r in result["Reservations"] for i in r["Instances"]]


def test_move_instances_to_reserved_host(simulator):
    ids = simulator.load_scenario(SCENARIO)
    ec2 = simulator.client("ec2")
    failed = ec2.describe_hosts(Filter=[{"Name": "state", "Values": ["permanent-failure"]}])["Hosts"][0]
    reserved = ec2.describe_hosts(Filter=[{"Name": "tag-key", "Values": ["Role"]}, {"Name": "state", "Values": ["available"]}])["Hosts"][0]
    assert failed["HostId"] == ids["hosts"]["failed"] and reserved["HostId"] == ids["hosts"]["reserved"]
    moving = [i["InstanceId"] for i in _instances(ec2, Filters=[{"Name": "host-id", "Values": [failed["HostId"]]}])]
    assert len(moving) == 3
    before = reserved["AvailableCapacity"]

    ec2.stop_instances(InstanceIds=moving)
    deadline = time.time() + 10
    while True:
        states = {i["InstanceId"]: i["State"]["Name"] for i in _instances(ec2, InstanceIds=moving)}
        if set(states.values()) == {"stopped"}:
            break
        assert set(states.values()) <= {"stopping", "stopped"}
        assert time.time() < deadline, states
        time.sleep(0.02)

    for instance_id in moving:
        result = ec2.modify_instance_placement(InstanceId=instance_id, HostId=reserved["HostId"], Tenancy="host", Affinity="host")
        assert result["Return"] is True
    ec2.start_instances(InstanceIds=moving)
    deadline = time.time() + 10
    while {i["State"]["Name"] for i in _instances(ec2, InstanceIds=moving)} != {"running"}:
        assert time.time() < deadline
        time.sleep(0.02)

    for instance in _instances(ec2, InstanceIds=moving):
        assert instance["Placement"]["HostId"] == reserved["HostId"]
        assert instance["Placement"]["Tenancy"] == "host"
        assert instance["Placement"]["Affinity"] == "host"
    after = ec2.describe_hosts(HostIds=[reserved["HostId"]])["Hosts"][0]
    assert sorted(i["InstanceId"] for i in after["Instances"]) == sorted(moving)
    assert after["AvailableCapacity"]["AvailableVCpus"] == before["AvailableVCpus"] - (2 + 2 + 8)
    assert capacity_of(after, "m5.large")[0] == capacity_of({"AvailableCapacity": before}, "m5.large")[0] - 6
    assert ec2.describe_hosts(HostIds=[failed["HostId"]])["Hosts"][0]["Instances"] == []
    latencies = simulator.control.latencies()
    assert sorted({r["action"] for r in latencies}) == ["start", "stop"]
    assert len(latencies) == 6
