# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight rules of docs/preflight.md, one test per rule, default and opt-in."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import preflight
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError


def instance(**extra):
    base = {"InstanceId": "i-0123456789abcdef0", "InstanceType": "m5.large", "State": {"Name": "running"}, "RootDeviceType": "ebs",
            "Placement": {"HostId": "h-0123456789abcdef0", "Tenancy": "host"}, "Tags": []}
    base.update(extra)
    return base


def test_a_plain_ebs_instance_is_movable_without_notes():
    verdict = preflight.classify(instance())
    assert verdict["movable"] and verdict["rule"] is None and verdict["notes"] == [] and verdict["overrides"] == {}
    assert preflight.classify(instance())["reason"] is None


def test_an_instance_store_root_is_always_skipped_even_with_every_opt_in():
    verdict = preflight.classify(instance(RootDeviceType="instance-store"), allow=preflight.ALLOW_CHOICES)
    assert not verdict["movable"] and verdict["rule"] == "instance-store-root"
    assert "cannot be stopped" in preflight.classify(instance(RootDeviceType="instance-store"))["reason"]


def test_instance_store_volumes_are_skipped_unless_opted_in():
    facts = {"instance_store": True}
    verdict = preflight.classify(instance(InstanceType="m5d.large"), facts=facts)
    assert verdict["rule"] == "instance-store-volumes" and "loses their data" in verdict["reason"]
    assert preflight.classify(instance(InstanceType="m5d.large"), facts=facts, allow=["instance-store-volumes"])["movable"]


def test_stop_protection_is_skipped_unless_opted_in_then_lifted():
    facts = {"stop_protected": True}
    assert preflight.classify(instance(), facts=facts)["rule"] == "stop-protection"
    verdict = preflight.classify(instance(), facts=facts, allow=["stop-protection"])
    assert verdict["movable"] and verdict["lift_stop_protection"]


GROUP_ARN = "arn:aws:resource-groups:us-east-1:123456789012:group/g"
LICENSE_ARN = "arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-1"


@pytest.mark.parametrize("extra, rule, allow, group", [
    ({"Tags": [{"Key": "aws:autoscaling:groupName", "Value": "web-asg"}]}, "auto-scaling", "auto-scaling",
     "Auto Scaling group web-asg"),
    ({"Placement": {"HostId": "h-0123456789abcdef0", "HostResourceGroupArn": GROUP_ARN}}, "host-resource-group",
     "host-resource-group", "host resource group " + GROUP_ARN),
    ({"Licenses": [{"LicenseConfigurationArn": LICENSE_ARN}]}, "host-resource-group", "host-resource-group",
     "License Manager configuration " + LICENSE_ARN),
])
def test_group_members_are_skipped_with_the_group_named_unless_opted_in(extra, rule, allow, group):
    verdict = preflight.classify(instance(**extra))
    assert verdict["rule"] == rule and not verdict["movable"]
    assert group in verdict["reason"]
    assert preflight.classify(instance(**extra), allow=[allow])["movable"]


def test_mac_instances_are_refused_unless_opted_in_and_then_get_their_own_timeouts():
    assert preflight.classify(instance(InstanceType="mac2.metal"))["rule"] == "mac"
    verdict = preflight.classify(instance(InstanceType="mac2.metal"), allow=["mac"], options={"mac_stop_timeout": 1000, "mac_start_timeout": 5000})
    assert verdict["movable"]
    assert verdict["overrides"] == {"stop_timeout": 1000.0, "start_timeout": 5000.0, "force_stop_after": 500.0}


@pytest.mark.parametrize("state", ["pending", "stopping", "shutting-down"])
def test_an_instance_still_in_transition_after_the_wait_is_skipped(state):
    verdict = preflight.classify(instance(State={"Name": state}))
    assert verdict["rule"] == "transitional-state" and state in verdict["reason"]


def test_windows_gets_a_longer_graceful_stop():
    verdict = preflight.classify(instance(Platform="windows"), options={"windows_force_stop_after": 900})
    assert verdict["movable"] and verdict["overrides"] == {"force_stop_after": 900.0}


def test_a_public_ip_that_is_not_an_elastic_ip_is_noted():
    auto = instance(PublicIpAddress="54.1.2.3", NetworkInterfaces=[{"Association": {"PublicIp": "54.1.2.3", "IpOwnerId": "amazon"}}])
    elastic = instance(PublicIpAddress="54.1.2.4", NetworkInterfaces=[{"Association": {"PublicIp": "54.1.2.4", "IpOwnerId": "123456789012"}}])
    assert any("54.1.2.3" in note and "not an Elastic IP" in note for note in preflight.classify(auto)["notes"])
    assert preflight.classify(elastic)["notes"] == []


def test_unknown_opt_ins_are_refused():
    assert preflight.check_allow("mac stop-protection".split()) == ("mac", "stop-protection")
    with pytest.raises(InvalidInputError):
        preflight.check_allow(["everything"])


def test_wait_until_settled_polls_until_nothing_is_in_transition():
    answers = [[instance(State={"Name": "stopping"})], [instance(State={"Name": "stopped"})]]
    sleeps = []
    result = preflight.wait_until_settled(lambda: answers.pop(0), 60, interval=2, sleep=sleeps.append)
    assert result[0]["State"]["Name"] == "stopped" and sleeps == [2]


def test_wait_until_settled_gives_up_after_the_timeout():
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    result = preflight.wait_until_settled(lambda: [instance(State={"Name": "pending"})], 10, interval=3, sleep=sleep, monotonic=lambda: clock[0])
    assert result[0]["State"]["Name"] == "pending" and clock[0] >= 10


def test_an_instance_this_failover_is_already_moving_is_not_waited_for_or_skipped():
    verdict = preflight.classify(instance(State={"Name": "stopping"}), facts={"in_progress": True})
    assert verdict["movable"]
    calls = []
    result = preflight.wait_until_settled(lambda: calls.append(1) or [instance(State={"Name": "stopping"})], 60,
                                          sleep=lambda _s: None, ignore={"i-0123456789abcdef0"})
    assert result[0]["State"]["Name"] == "stopping" and calls == [1]


class AttributeReader(object):
    """An EC2 client whose DescribeInstanceAttribute answers only once two calls are in flight together."""

    def __init__(self, protected):
        self.protected = protected
        self.together = threading.Barrier(2, timeout=5)
        self.attribute_calls = []

    def describe_instance_types(self, aws_retry=False, InstanceTypes=()):
        return {"InstanceTypes": [{"InstanceType": name, "InstanceStorageSupported": name.startswith("m5d")} for name in InstanceTypes]}

    def describe_instance_attribute(self, aws_retry=False, InstanceId=None, Attribute=None):
        self.attribute_calls.append((InstanceId, Attribute))
        self.together.wait()
        return {"DisableApiStop": {"Value": InstanceId in self.protected}}


def test_gather_facts_reads_stop_protection_of_several_instances_at_once():
    instances = [{"InstanceId": "i-%08x" % number, "InstanceType": "m5d.large" if number == 3 else "m5.large"} for number in range(4)]
    instances.append({"InstanceId": "i-000000ff", "InstanceType": "m5.large", "RootDeviceType": "instance-store"})
    ec2 = AttributeReader(protected={"i-00000001"})

    facts = preflight.gather_facts(ec2, instances)

    # Read one at a time, the first call would wait for a second one forever (the barrier breaks after 5 s).
    assert sorted(call[0] for call in ec2.attribute_calls) == ["i-%08x" % number for number in range(4)]
    assert [facts["i-%08x" % number]["stop_protected"] for number in range(4)] == [False, True, False, False]
    assert facts["i-00000003"]["instance_store"] and not facts["i-00000000"]["instance_store"]
    assert facts["i-000000ff"] == {"instance_store": False, "stop_protected": False}
