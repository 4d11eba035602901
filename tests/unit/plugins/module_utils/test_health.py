# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host health classes (docs/health.md): the table itself, then the reads against the simulator."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import health


def status(instance_id, system="ok", events=()):
    return {"InstanceId": instance_id, "SystemStatus": {"Status": system}, "Events": list(events)}


@pytest.mark.parametrize("state, expected", [
    ("under-assessment", health.FAILED),
    ("permanent-failure", health.FAILED),
    ("pending", health.DEGRADED),
    ("released", health.GONE),
    ("released-permanent-failure", health.GONE),
])
def test_each_host_state_has_its_class_whatever_the_instances(state, expected):
    classified, reasons = health.classify_host({"State": state}, [status("i-01234567", "impaired")])
    assert classified == expected
    assert len(reasons) == 1 and state in reasons[0]


def test_an_available_host_with_an_impaired_instance_has_failed():
    classified, reasons = health.classify_host({"State": "available"}, [status("i-01234567", "impaired"), status("i-89abcdef")])
    assert classified == health.FAILED
    assert reasons == ["instance i-01234567 has an impaired system status on an available host"]


@pytest.mark.parametrize("code", ["instance-retirement", "system-maintenance", "system-reboot", "instance-stop", "instance-reboot"])
def test_a_scheduled_event_degrades_an_available_host(code):
    classified, reasons = health.classify_host({"State": "available"}, [status("i-01234567", events=[{"Code": code, "Description": "x"}])])
    assert classified == health.DEGRADED
    assert reasons and "i-01234567" in reasons[0]


def test_completed_events_are_ignored_and_a_quiet_host_is_healthy():
    done = {"Code": "instance-retirement", "Description": "[Completed] retired"}
    assert health.classify_host({"State": "available"}, [status("i-01234567", events=[done])]) == (health.HEALTHY, [])
    assert health.classify_host({"State": "available"}, []) == (health.HEALTHY, [])


def test_host_health_reads_hosts_instances_and_status_in_few_calls(simulator):
    ids = simulator.load_scenario({
        "hosts": [
            {"name": "failed", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "permanent-failure"},
            {"name": "ok", "availability_zone": "us-east-1a", "instance_family": "m5"},
            {"name": "sick", "availability_zone": "us-east-1b", "instance_type": "c5.large"},
        ],
        "instances": [
            {"name": "a", "host": "failed", "instance_type": "m5.large", "count": 2},
            {"name": "b", "host": "ok", "instance_type": "m5.xlarge", "state": "stopped"},
            {"name": "c", "host": "sick", "instance_type": "c5.large", "system_status": "impaired"},
        ],
    })
    simulator.control.reset_calls()

    report = dict((host["HostId"], host) for host in health.host_health(simulator.client("ec2")))

    assert report[ids["hosts"]["failed"]]["Health"] == health.FAILED
    assert report[ids["hosts"]["ok"]]["Health"] == health.HEALTHY
    assert report[ids["hosts"]["sick"]]["Health"] == health.FAILED
    assert sorted(entry["InstanceId"] for entry in report[ids["hosts"]["failed"]]["Instances"]) == sorted(
        [ids["instances"]["a-0"], ids["instances"]["a-1"]])
    assert report[ids["hosts"]["ok"]]["Instances"][0]["State"] == "stopped"  # stopped instances that target the host count
    counts = simulator.control.calls()["counts"]["ec2"]
    assert counts == {"DescribeHosts": 1, "DescribeInstances": 1, "DescribeInstanceStatus": 1}


def test_an_unknown_host_id_is_reported_as_not_found(simulator):
    simulator.load_scenario({"hosts": [], "instances": []})
    with pytest.raises(Exception) as caught:
        health.host_health(simulator.client("ec2"), host_ids=["h-0123456789abcdef0"])
    assert "h-0123456789abcdef0" in str(caught.value)
