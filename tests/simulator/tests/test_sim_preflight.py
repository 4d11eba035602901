"""Scenario keys for the failover's preflight: instance-store root, groups, licenses, public IPs, mid-stop instances."""

import time

from dhsim.testing import expect_error


def _describe(ec2, instance_id):
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def test_preflight_traits_are_described_as_ec2_does(simulator):
    ids = simulator.load_scenario({
        "hosts": [{"name": "h", "instance_family": "m5"}],
        "instances": [
            {"name": "store", "host": "h", "root_device": "instance-store"},
            {"name": "scaled", "host": "h", "asg": "web-asg"},
            {"name": "grouped", "host": "h", "host_resource_group": "arn:aws:resource-groups:us-east-1:123456789012:group/g",
             "license_configuration": "arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-1"},
            {"name": "auto", "host": "h", "public_ip": "auto"},
        ],
    })["instances"]
    ec2 = simulator.client("ec2")
    assert _describe(ec2, ids["store"])["RootDeviceType"] == "instance-store"
    expect_error(ec2.stop_instances, "UnsupportedOperation", InstanceIds=[ids["store"]])
    tags = dict((tag["Key"], tag["Value"]) for tag in _describe(ec2, ids["scaled"])["Tags"])
    assert tags["aws:autoscaling:groupName"] == "web-asg"
    grouped = _describe(ec2, ids["grouped"])
    assert grouped["Placement"]["HostResourceGroupArn"].endswith(":group/g")
    assert grouped["Licenses"][0]["LicenseConfigurationArn"].endswith("lic-1")
    auto = _describe(ec2, ids["auto"])
    assert auto["NetworkInterfaces"][0]["Association"]["IpOwnerId"] == "amazon"
    assert _describe(ec2, ids["scaled"])["NetworkInterfaces"][0]["Association"]["IpOwnerId"] != "amazon"


def test_an_instance_can_start_out_stopping_and_then_stops(simulator):
    ids = simulator.load_scenario({
        "hosts": [{"name": "h", "instance_family": "m5"}],
        "instances": [{"name": "leaving", "host": "h", "state": "stopping", "stop_latency": 300}],
    })["instances"]
    ec2 = simulator.client("ec2")
    assert _describe(ec2, ids["leaving"])["State"]["Name"] == "stopping"
    deadline = time.time() + 30
    while _describe(ec2, ids["leaving"])["State"]["Name"] != "stopped" and time.time() < deadline:
        time.sleep(0.05)
    assert _describe(ec2, ids["leaving"])["State"]["Name"] == "stopped"
