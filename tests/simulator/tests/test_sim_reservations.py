"""Hosts with a Dedicated Host Reservation, AllocationTime, and ReleaseHosts' refusals."""

import datetime


def _world(simulator):
    return simulator.load_scenario({"hosts": [
        {"name": "reserved", "instance_family": "m5", "reservation_id": "hr-0123456789abcdef0"},
        {"name": "plain", "instance_family": "m5"},
        {"name": "busy", "instance_family": "m5"},
    ], "instances": [{"name": "web", "host": "busy"}, {"name": "cold", "host": "busy", "state": "stopped"}]})


def test_a_scenario_reservation_is_described_and_filtered(simulator):
    ids = _world(simulator)
    ec2 = simulator.client("ec2")
    hosts = dict((host["HostId"], host) for host in ec2.describe_hosts()["Hosts"])
    assert hosts[ids["hosts"]["reserved"]]["HostReservationId"] == "hr-0123456789abcdef0"
    assert "HostReservationId" not in hosts[ids["hosts"]["plain"]]
    found = ec2.describe_hosts(Filters=[{"Name": "host-reservation-id", "Values": ["hr-0123456789abcdef0"]}])["Hosts"]
    assert [host["HostId"] for host in found] == [ids["hosts"]["reserved"]]


def test_every_host_has_an_allocation_time(simulator):
    ids = _world(simulator)
    ec2 = simulator.client("ec2")
    new = ec2.allocate_hosts(AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=1)["HostIds"][0]
    for host in ec2.describe_hosts(HostIds=[ids["hosts"]["plain"], new])["Hosts"]:
        assert isinstance(host["AllocationTime"], datetime.datetime)


def test_release_hosts_refuses_a_reserved_host_and_one_running_instances(simulator):
    ids = _world(simulator)
    ec2 = simulator.client("ec2")
    reserved, busy, plain = ids["hosts"]["reserved"], ids["hosts"]["busy"], ids["hosts"]["plain"]

    result = ec2.release_hosts(HostIds=[reserved, busy, plain])

    assert result["Successful"] == [plain]
    refused = dict((entry["ResourceId"], entry["Error"]) for entry in result["Unsuccessful"])
    assert refused[reserved]["Code"] == "InvalidHostState" and "hr-0123456789abcdef0" in refused[reserved]["Message"]
    assert refused[busy]["Code"] == "InvalidHostState" and ids["instances"]["web"] in refused[busy]["Message"]
    states = dict((host["HostId"], host["State"]) for host in ec2.describe_hosts(HostIds=[reserved, busy, plain])["Hosts"])
    assert states == {reserved: "available", busy: "available", plain: "released"}
