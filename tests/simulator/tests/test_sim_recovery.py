"""AWS host recovery in the simulator: ImpairedSince, allocation times from scenarios, complete_host_recovery."""

import datetime
import time

import pytest

from dhsim.client import ControlAPIError
from dhsim.testing import describe_host


def world(**instance):
    return {
        "hosts": [
            {"name": "sick", "availability_zone": "us-east-1b", "instance_type": "c5.large", "state": "under-assessment",
             "host_recovery": "on", "host_maintenance": "off", "auto_placement": "on", "tags": {"Name": "db", "Team": "data"},
             "allocation_time": "2025-06-01T00:00:00Z"},
        ],
        "instances": [
            dict({"name": "db", "host": "sick", "instance_type": "c5.large"}, **instance),
            {"name": "off", "host": "sick", "instance_type": "c5.large", "state": "stopped"},
        ],
    }


def system_status(ec2, instance_id):
    return ec2.describe_instance_status(InstanceIds=[instance_id], IncludeAllInstances=True)["InstanceStatuses"][0]["SystemStatus"]


def test_allocation_time_and_impaired_since_come_from_the_scenario(simulator):
    ids = simulator.load_scenario(world(impaired_since="2026-01-02T03:04:05Z"))
    ec2 = simulator.client("ec2")
    assert describe_host(ec2, ids["hosts"]["sick"])["AllocationTime"] == datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)
    status = system_status(ec2, ids["instances"]["db"])
    assert status["Status"] == "impaired"
    assert status["Details"][0]["ImpairedSince"] == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)


def test_impaired_since_is_kept_between_reads_and_settable_as_seconds_ago(simulator):
    ids = simulator.load_scenario(world())
    ec2 = simulator.client("ec2")
    first = system_status(ec2, ids["instances"]["db"])["Details"][0]["ImpairedSince"]
    assert system_status(ec2, ids["instances"]["db"])["Details"][0]["ImpairedSince"] == first
    simulator.control.set_instance_status("db", impaired_since=600)
    since = system_status(ec2, ids["instances"]["db"])["Details"][0]["ImpairedSince"]
    age = (datetime.datetime.now(datetime.timezone.utc) - since).total_seconds()
    assert 599 <= age <= 660
    simulator.control.set_instance_status("db", impaired_since="30 seconds ago")
    since = system_status(ec2, ids["instances"]["db"])["Details"][0]["ImpairedSince"]
    assert 29 <= (datetime.datetime.now(datetime.timezone.utc) - since).total_seconds() <= 90
    with pytest.raises(ControlAPIError):
        simulator.control.set_instance_status("db", impaired_since="yesterday")


def test_complete_host_recovery_moves_running_instances_to_a_like_replacement(simulator):
    ids = simulator.load_scenario(world())
    ec2 = simulator.client("ec2")
    old = describe_host(ec2, ids["hosts"]["sick"])

    result = simulator.control.complete_host_recovery("sick")

    new_id = result["replacement_host_id"]
    assert result["moved_instance_ids"] == [ids["instances"]["db"]]
    assert describe_host(ec2, ids["hosts"]["sick"])["State"] == "released-permanent-failure"
    new = describe_host(ec2, new_id)
    assert new["State"] == "available" and new_id != old["HostId"]
    for key in ("AvailabilityZone", "HostProperties", "HostRecovery", "HostMaintenance", "AutoPlacement", "AllowsMultipleInstanceTypes"):
        assert new[key] == old[key], key
    assert sorted(new["Tags"], key=lambda tag: tag["Key"]) == sorted(old["Tags"], key=lambda tag: tag["Key"])
    assert new["AllocationTime"] > old["AllocationTime"]
    placements = dict((i["InstanceId"], (i["Placement"]["HostId"], i["State"]["Name"]))
                      for r in ec2.describe_instances()["Reservations"] for i in r["Instances"])
    assert placements[ids["instances"]["db"]] == (new_id, "running")
    assert placements[ids["instances"]["off"]] == (ids["hosts"]["sick"], "stopped")  # only running instances move
    assert system_status(ec2, ids["instances"]["db"])["Status"] == "ok"


def test_a_released_host_cannot_be_recovered(simulator):
    simulator.load_scenario(world())
    simulator.control.set_host_state("sick", "released")
    with pytest.raises(ControlAPIError) as caught:
        simulator.control.complete_host_recovery("sick")
    assert caught.value.status == 400 and "nothing to recover" in str(caught.value)


def test_modify_hosts_turns_host_recovery_off_and_aws_then_does_not_recover_the_host(simulator):
    ids = simulator.load_scenario(world())
    ec2 = simulator.client("ec2")
    sick = ids["hosts"]["sick"]

    result = ec2.modify_hosts(HostIds=[sick], HostRecovery="off")

    assert (result["Successful"], result["Unsuccessful"]) == ([sick], [])
    assert describe_host(ec2, sick)["HostRecovery"] == "off"
    with pytest.raises(ControlAPIError, match="host recovery off"):
        simulator.control.complete_host_recovery("sick")
    assert describe_host(ec2, sick)["State"] == "under-assessment"
    assert ec2.describe_instances(InstanceIds=[ids["instances"]["db"]])["Reservations"][0]["Instances"][0]["Placement"]["HostId"] == sick


def maintained():
    return {"hosts": [{"name": "old", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "permanent-failure",
                       "host_maintenance": "on", "host_recovery": "on", "tags": {"Name": "web"}, "allocation_time": 3600}],
            "instances": [{"name": "web", "host": "old", "instance_type": "m5.large"}]}


def test_a_maintenance_replacement_is_a_like_pending_host_that_becomes_available(simulator):
    ids = simulator.load_scenario(maintained())
    ec2 = simulator.client("ec2")
    old = describe_host(ec2, ids["hosts"]["old"])

    replacement_id = simulator.control.allocate_maintenance_replacement("old", available_after=0.5)["replacement_host_id"]

    replacement = describe_host(ec2, replacement_id)
    assert replacement["State"] == "pending"
    assert [replacement[key] for key in ("AvailabilityZone", "HostProperties", "HostRecovery", "HostMaintenance")] == [
        old[key] for key in ("AvailabilityZone", "HostProperties", "HostRecovery", "HostMaintenance")]
    assert replacement["Tags"] == old["Tags"] and replacement["AllocationTime"] > old["AllocationTime"]
    assert describe_host(ec2, old["HostId"])["Instances"] == old["Instances"]  # AWS has moved nothing yet
    deadline = time.time() + 10
    while describe_host(ec2, replacement_id)["State"] == "pending":
        assert time.time() < deadline, "the replacement never became available"
        time.sleep(0.1)
    assert describe_host(ec2, replacement_id)["State"] == "available"


def test_a_pending_host_from_a_scenario_becomes_available_after_its_delay(simulator):
    scenario = maintained()
    scenario["hosts"].append({"name": "new", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "pending",
                              "available_after": 2.0})
    ids = simulator.load_scenario(scenario)
    ec2 = simulator.client("ec2")
    assert describe_host(ec2, ids["hosts"]["new"])["State"] == "pending"
    time.sleep(2.2)
    assert describe_host(ec2, ids["hosts"]["new"])["State"] == "available"
    with pytest.raises(ControlAPIError, match="only a pending host"):
        simulator.control.set_host_state("old", "available", available_after=1)
    assert describe_host(ec2, ids["hosts"]["old"])["State"] == "permanent-failure"


def test_no_maintenance_replacement_for_a_host_with_host_maintenance_off(simulator):
    scenario = maintained()
    scenario["hosts"][0]["host_maintenance"] = "off"
    simulator.load_scenario(scenario)
    with pytest.raises(ControlAPIError, match="host maintenance off"):
        simulator.control.allocate_maintenance_replacement("old")
