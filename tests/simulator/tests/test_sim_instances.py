"""RunInstances placement, DescribeInstances filters, stop/start timing, ModifyInstancePlacement, instance status."""

import time

import pytest

from dhsim.testing import capacity_of, describe_host, expect_error, instance_states, wait_for_state

AMI = "ami-12c6146b"

WORLD = {
    "latency": {"stop": 30, "start": 20, "force_stop": 1, "jitter": 0.2},
    "hosts": [
        {"name": "failed", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "under-assessment"},
        {"name": "spare", "availability_zone": "us-east-1a", "instance_family": "m5", "tags": {"Role": "Reserved"}},
        {"name": "other_az", "availability_zone": "us-east-1b", "instance_family": "m5"},
        {"name": "small", "availability_zone": "us-east-1a", "instance_type": "m5.4xlarge"},
    ],
    "instances": [
        {"name": "web", "host": "failed", "instance_type": "m5.large", "count": 2},
        {"name": "db", "host": "failed", "instance_type": "m5.2xlarge", "hang_on_stop": True},
        {"name": "cold", "host": "failed", "instance_type": "m5.4xlarge", "state": "stopped"},
        {"name": "locked", "host": "spare", "instance_type": "m5.large", "disable_api_stop": True},
    ],
}


@pytest.fixture
def world(simulator):
    ids = simulator.load_scenario(WORLD)
    return simulator.client("ec2"), ids["hosts"], ids["instances"]


def run(ec2, instance_type="m5.large", count=1, **placement):
    result = ec2.run_instances(ImageId=AMI, MinCount=count, MaxCount=count, InstanceType=instance_type, Placement=placement)
    return [i["InstanceId"] for i in result["Instances"]]


def placement_of(ec2, instance_id):
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["Placement"]


def test_run_instances_on_host(world, simulator):
    ec2, hosts = world[:2]
    simulator.control.configure(latency={"start": 100})
    [iid] = run(ec2, "m5.xlarge", HostId=hosts["spare"], Affinity="host")
    placement = placement_of(ec2, iid)
    assert placement["HostId"] == hosts["spare"]
    assert placement["Tenancy"] == "host"
    assert placement["Affinity"] == "host"
    assert placement["AvailabilityZone"] == "us-east-1a"
    assert instance_states(ec2, [iid])[iid] == "pending"
    wait_for_state(ec2, [iid], "running")
    assert iid in [i["InstanceId"] for i in describe_host(ec2, hosts["spare"])["Instances"]]


def test_run_instances_placement_validation(world):
    ec2, hosts = world[:2]
    expect_error(run, "InvalidHostID.NotFound", 400, ec2, HostId="h-0123456789abcdef0")
    expect_error(run, "InvalidHostID.Malformed", 400, ec2, HostId="bogus")
    expect_error(run, "InvalidHostState", 400, ec2, HostId=hosts["failed"])
    expect_error(run, "ZonesMismatched", 400, ec2, HostId=hosts["spare"], AvailabilityZone="us-east-1b")
    expect_error(run, "UnsupportedInstanceTypeOnHost", 400, ec2, "c5.large", HostId=hosts["spare"])
    expect_error(run, "UnsupportedInstanceTypeOnHost", 400, ec2, "m5.large", HostId=hosts["small"])
    run(ec2, "m5.4xlarge", 6, HostId=hosts["small"])
    expect_error(run, "InsufficientCapacityOnHost", 400, ec2, "m5.4xlarge", HostId=hosts["small"])
    expect_error(run, "IncompatibleHostRequirements", 400, ec2, "m5.large", Tenancy="host")


def test_auto_placement_launch(world, simulator):
    ec2, hosts = world[:2]
    ec2.modify_hosts(HostIds=[hosts["other_az"]], AutoPlacement="on")
    [iid] = run(ec2, "m5.large", Tenancy="host", AvailabilityZone="us-east-1b")
    assert placement_of(ec2, iid)["HostId"] == hosts["other_az"]
    assert simulator.control.world()["hosts"]


def test_describe_instances_filters(world):
    ec2, hosts, inst = world

    def ids(*filters):
        result = ec2.describe_instances(Filters=list(filters))
        return sorted(i["InstanceId"] for r in result["Reservations"] for i in r["Instances"])

    on_failed = sorted([inst["web-0"], inst["web-1"], inst["db"], inst["cold"]])
    assert ids({"Name": "host-id", "Values": [hosts["failed"]]}) == on_failed
    assert ids({"Name": "host-id", "Values": [hosts["failed"]]}, {"Name": "instance-state-name", "Values": ["stopped"]}) == [inst["cold"]]
    assert ids({"Name": "affinity", "Values": ["host"]}) == sorted(on_failed + [inst["locked"]])
    assert ids({"Name": "tenancy", "Values": ["host"]}) == sorted(on_failed + [inst["locked"]])
    assert ids({"Name": "tag:Name", "Values": ["db"]}) == [inst["db"]]
    [plain] = run(ec2, "m5.large")
    assert ids({"Name": "tenancy", "Values": ["default"]}) == [plain]
    expect_error(ec2.describe_instances, "InvalidParameterValue", 400, Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    cold = placement_of(ec2, inst["cold"])
    assert cold["HostId"] == hosts["failed"] and cold["Affinity"] == "host"


def test_stop_protection(world):
    ec2, inst = world[0], world[2]
    expect_error(ec2.stop_instances, "OperationNotPermitted", 400, InstanceIds=[inst["locked"]])
    ec2.modify_instance_attribute(InstanceId=inst["locked"], DisableApiStop={"Value": False})
    ec2.stop_instances(InstanceIds=[inst["locked"]])
    ec2.modify_instance_attribute(InstanceId=inst["web-0"], DisableApiStop={"Value": True})
    expect_error(ec2.stop_instances, "OperationNotPermitted", 400, InstanceIds=[inst["web-0"], inst["web-1"]])
    assert instance_states(ec2, [inst["web-1"]])[inst["web-1"]] == "running", "a refused call changes nothing"


def test_stop_and_start_take_time(world, simulator):
    ec2, hosts, inst = world
    simulator.control.set_host_state(hosts["failed"], "available")
    web = inst["web-0"]
    started = time.time()
    answer = ec2.stop_instances(InstanceIds=[web])["StoppingInstances"][0]
    assert answer["CurrentState"]["Name"] == "stopping" and answer["PreviousState"]["Name"] == "running"
    assert instance_states(ec2, [web])[web] == "stopping"
    wait_for_state(ec2, [web], "stopped")
    waited = time.time() - started
    [record] = simulator.control.latencies(web)
    assert record["action"] == "stop"
    assert 0.24 <= record["seconds"] <= 0.36, "30 s x 0.01 with 20% jitter"
    assert waited >= record["seconds"]
    state = ec2.describe_instances(InstanceIds=[web])["Reservations"][0]["Instances"][0]
    assert state["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    again = ec2.stop_instances(InstanceIds=[web])["StoppingInstances"][0]
    assert again["CurrentState"]["Name"] == "stopped" and again["PreviousState"]["Name"] == "stopped"
    answer = ec2.start_instances(InstanceIds=[web])["StartingInstances"][0]
    assert answer["CurrentState"]["Name"] == "pending"
    wait_for_state(ec2, [web], "running")
    noop = ec2.start_instances(InstanceIds=[web])["StartingInstances"][0]
    assert noop["CurrentState"]["Name"] == "running" and noop["PreviousState"]["Name"] == "running"
    kinds = [r["action"] for r in simulator.control.latencies(web)]
    assert kinds == ["stop", "start"]


def test_hang_until_forced(world, simulator):
    ec2, inst = world[0], world[2]
    db = inst["db"]
    ec2.stop_instances(InstanceIds=[db])
    time.sleep(0.5)
    assert instance_states(ec2, [db])[db] == "stopping", "graceful stop of a hanging instance never completes"
    expect_error(ec2.start_instances, "IncorrectInstanceState", 400, InstanceIds=[db])
    forced = ec2.stop_instances(InstanceIds=[db], Force=True)["StoppingInstances"][0]
    assert forced["CurrentState"]["Name"] == "stopping"
    wait_for_state(ec2, [db], "stopped", timeout=2)
    assert [r["action"] for r in simulator.control.latencies(db)] == ["stop", "force_stop"]


def test_start_claims_capacity(world, simulator):
    ec2, hosts, inst = world
    simulator.control.set_host_state(hosts["failed"], "available")
    cold = inst["cold"]
    free = capacity_of(describe_host(ec2, hosts["failed"]), "m5.4xlarge")[0]
    ids = run(ec2, "m5.4xlarge", free, HostId=hosts["failed"])
    assert capacity_of(describe_host(ec2, hosts["failed"]), "m5.4xlarge")[0] == 0
    expect_error(ec2.start_instances, "InsufficientCapacityOnHost", 400, InstanceIds=[cold])
    ec2.terminate_instances(InstanceIds=ids[:1])
    ec2.start_instances(InstanceIds=[cold])
    assert capacity_of(describe_host(ec2, hosts["failed"]), "m5.4xlarge")[0] == 0


def test_start_on_unavailable_host(world):
    ec2, inst = world[0], world[2]
    expect_error(ec2.start_instances, "InvalidHostState", 400, InstanceIds=[inst["cold"]])


def test_injected_insufficient_instance_capacity(world, simulator):
    ec2, hosts, inst = world
    ec2.modify_instance_placement(InstanceId=inst["cold"], HostId=hosts["spare"])
    simulator.control.add_fault("ec2", "StartInstances", "InsufficientInstanceCapacity", count=1, instance_id=inst["cold"])
    expect_error(ec2.start_instances, "InsufficientInstanceCapacity", 500, InstanceIds=[inst["cold"]])
    ec2.start_instances(InstanceIds=[inst["cold"]])
    wait_for_state(ec2, [inst["cold"]], "running")


def test_modify_instance_placement_rules(world):
    ec2, hosts, inst = world
    cold, web = inst["cold"], inst["web-0"]
    expect_error(ec2.modify_instance_placement, "InvalidInstanceState", 400, InstanceId=web, HostId=hosts["spare"])
    expect_error(ec2.modify_instance_placement, "InvalidHostID.NotFound", 400, InstanceId=cold, HostId="h-0123456789abcdef0")
    expect_error(ec2.modify_instance_placement, "InvalidHostID.Malformed", 400, InstanceId=cold, HostId="nope")
    expect_error(ec2.modify_instance_placement, "InvalidHostState", 400, InstanceId=cold, HostId=hosts["failed"])
    expect_error(ec2.modify_instance_placement, "ZonesMismatched", 400, InstanceId=cold, HostId=hosts["other_az"])
    expect_error(ec2.modify_instance_placement, "InvalidRequest", 400, InstanceId=cold, Tenancy="default")
    expect_error(ec2.modify_instance_placement, "InvalidInstanceID.NotFound", 400, InstanceId="i-0123456789abcdef0", Affinity="host")
    expect_error(ec2.modify_instance_placement, "MissingParameter", 400, InstanceId=cold)
    ec2.modify_instance_placement(InstanceId=cold, HostId=hosts["small"], Tenancy="host")
    assert placement_of(ec2, cold)["HostId"] == hosts["small"]
    assert ec2.modify_instance_placement(InstanceId=web, Affinity="default")["Return"] is True
    assert placement_of(ec2, web)["Affinity"] == "default"


def test_modify_placement_does_not_claim_capacity(world):
    ec2, hosts, inst = world
    before = describe_host(ec2, hosts["spare"])["AvailableCapacity"]
    assert ec2.modify_instance_placement(InstanceId=inst["cold"], HostId=hosts["spare"], Affinity="host", Tenancy="host")["Return"] is True
    assert describe_host(ec2, hosts["spare"])["AvailableCapacity"] == before
    ec2.start_instances(InstanceIds=[inst["cold"]])
    assert capacity_of(describe_host(ec2, hosts["spare"]), "m5.4xlarge")[0] == capacity_of({"AvailableCapacity": before}, "m5.4xlarge")[0] - 1


def test_unsupported_type_on_target(world):
    ec2, inst = world[0], world[2]
    [large_only] = ec2.allocate_hosts(AvailabilityZone="us-east-1a", InstanceType="m5.large", Quantity=1)["HostIds"]
    expect_error(ec2.modify_instance_placement, "UnsupportedInstanceTypeOnHost", 400, InstanceId=inst["cold"], HostId=large_only)


def test_instance_status_impaired_and_events(world, simulator):
    ec2, hosts, inst = world
    statuses = {s["InstanceId"]: s for s in ec2.describe_instance_status()["InstanceStatuses"]}
    assert inst["cold"] not in statuses, "stopped instances need IncludeAllInstances"
    assert statuses[inst["web-0"]]["SystemStatus"]["Status"] == "impaired"
    assert statuses[inst["web-0"]]["SystemStatus"]["Details"][0]["Status"] == "failed"
    assert statuses[inst["web-0"]]["InstanceStatus"]["Status"] == "ok"
    assert statuses[inst["locked"]]["SystemStatus"]["Status"] == "ok"
    all_statuses = {s["InstanceId"]: s for s in ec2.describe_instance_status(IncludeAllInstances=True)["InstanceStatuses"]}
    assert all_statuses[inst["cold"]]["SystemStatus"]["Status"] == "not-applicable"
    assert all_statuses[inst["cold"]]["InstanceState"]["Name"] == "stopped"
    simulator.control.set_host_state(hosts["failed"], "permanent-failure")
    assert ec2.describe_instance_status(InstanceIds=[inst["web-1"]])["InstanceStatuses"][0]["SystemStatus"]["Status"] == "impaired"
    simulator.control.set_host_state(hosts["failed"], "available")
    assert ec2.describe_instance_status(InstanceIds=[inst["web-1"]])["InstanceStatuses"][0]["SystemStatus"]["Status"] == "ok"
    simulator.control.set_instance_events(inst["web-1"], [{"code": "instance-retirement", "not_before": "2030-01-01T00:00:00Z"}])
    [status] = ec2.describe_instance_status(InstanceIds=[inst["web-1"]])["InstanceStatuses"]
    assert status["Events"][0]["Code"] == "instance-retirement"
    assert status["Events"][0]["NotBefore"].year == 2030
    found = ec2.describe_instance_status(Filters=[{"Name": "event.code", "Values": ["instance-retirement"]}])["InstanceStatuses"]
    assert [s["InstanceId"] for s in found] == [inst["web-1"]]
    simulator.control.set_instance_status(inst["locked"], system="impaired")
    impaired = ec2.describe_instance_status(Filters=[{"Name": "system-status.status", "Values": ["impaired"]}])["InstanceStatuses"]
    assert [s["InstanceId"] for s in impaired] == [inst["locked"]]


def test_scenario_events_and_unknown_event_code(simulator):
    ids = simulator.load_scenario({"instances": [{"name": "a", "events": [{"code": "system-maintenance"}]}]})
    ec2 = simulator.client("ec2")
    status = ec2.describe_instance_status(InstanceIds=[ids["instances"]["a"]], IncludeAllInstances=True)["InstanceStatuses"][0]
    assert status["Events"][0]["Code"] == "system-maintenance"
    with pytest.raises(Exception):
        simulator.control.set_instance_events(ids["instances"]["a"], [{"code": "bogus"}])
