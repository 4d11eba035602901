# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host_health_info module against the simulator."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import health
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import utc_datetime
from ansible_collections.dedicated_hosts.failover.plugins.modules import host_health_info

WORLD = {
    "hosts": [
        {"name": "failed", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "under-assessment",
         "host_recovery": "on", "tags": {"Team": "web"}},
        {"name": "spare", "availability_zone": "us-east-1a", "instance_family": "m5", "tags": {"Role": "Reserved"}},
    ],
    "instances": [{"name": "web", "host": "failed", "instance_type": "m5.large"}],
}


def test_classifies_the_named_host_with_snake_case_keys_and_tags_kept(simulator, run_module):
    ids = simulator.load_scenario(WORLD)
    failed, result = run_module(host_health_info, {"host_ids": [ids["hosts"]["failed"]], "endpoint_url": simulator.endpoint,
                                                   "aws_recovery_grace_period": 0})
    assert not failed, result
    assert result["changed"] is False
    host = result["hosts"][0]
    assert host["host_id"] == ids["hosts"]["failed"]
    assert (host["state"], host["health"], host["host_recovery"]) == ("under-assessment", "failed", "on")
    assert host["tags"]["Team"] == "web" and "team" not in host["tags"]  # tag keys are not snake_cased
    assert host["instances"][0]["instance_id"] == ids["instances"]["web"]
    assert host["instances"][0]["system_status"] == "impaired" and host["instances"][0]["events"] == []
    assert (host["availability_zone"], host["instance_family"], host["instance_type"]) == ("us-east-1a", "m5", None)
    assert host["aws_recovery"]["in_progress"] is False and host["aws_recovery"]["since"].endswith("Z")
    assert host["maintenance_replacement_candidates"] == [] and host["host_maintenance"] == "on"
    assert "available_capacity" in host
    assert result["summary"] == {"healthy": 0, "degraded": 0, "failed": 1, "gone": 0}


def test_without_ids_every_host_is_classified(simulator, run_module):
    simulator.load_scenario(WORLD)
    failed, result = run_module(host_health_info, {"endpoint_url": simulator.endpoint})
    assert not failed, result
    assert result["summary"] == {"healthy": 1, "degraded": 1, "failed": 0, "gone": 0}  # AWS recovery gets 900 s


def test_the_grace_period_and_ignore_aws_recovery_decide_a_recovering_host(simulator, run_module):
    ids = simulator.load_scenario(WORLD)
    failed_id = ids["hosts"]["failed"]
    failed, result = run_module(host_health_info, {"host_ids": [failed_id], "endpoint_url": simulator.endpoint})
    assert not failed, result
    host = result["hosts"][0]
    assert host["health"] == "degraded" and host["aws_recovery"]["in_progress"] is True
    assert 899 <= host["aws_recovery"]["seconds_left"] <= 900
    assert host["reasons"][0].startswith("AWS host recovery in progress since ")
    failed, result = run_module(host_health_info, {"host_ids": [failed_id], "endpoint_url": simulator.endpoint, "ignore_aws_recovery": True})
    assert result["hosts"][0]["health"] == "failed" and result["hosts"][0]["aws_recovery"] is None
    failed, result = run_module(host_health_info, {"host_ids": [failed_id], "endpoint_url": simulator.endpoint,
                                                   "aws_recovery_assumed_start": "2020-01-01T00:00:00Z"})
    # The instance reports ImpairedSince: the assumed start only applies when none does.
    assert result["hosts"][0]["health"] == "degraded"


def test_wait_for_aws_recovery_rereads_the_host_until_the_grace_period_ends(simulator, run_module, monkeypatch):
    ids = simulator.load_scenario(WORLD)
    failed_id = ids["hosts"]["failed"]
    failed, result = run_module(host_health_info, {"host_ids": [failed_id], "endpoint_url": simulator.endpoint})
    assert result["hosts"][0]["health"] == "degraded" and result["recovered_by_aws"] == []  # without the wait: one read
    # The engine's clock starts 10 s after the impairment and moves half a second a call, whatever the load: the
    # wait's start, then its first read in the grace period (10.5 s), its second after it (11 s).
    start, calls = utc_datetime(result["hosts"][0]["instances"][0]["impaired_since"]) + datetime.timedelta(seconds=10), []
    monkeypatch.setattr(health, "utc_now", lambda: calls.append(1) or start + datetime.timedelta(seconds=0.5 * (len(calls) - 1)))
    grace = 10.7
    simulator.control.reset_calls()
    failed, result = run_module(host_health_info, {"host_ids": [failed_id], "endpoint_url": simulator.endpoint, "aws_recovery_grace_period": grace,
                                                   "wait_for_aws_recovery": True, "aws_recovery_poll_interval": 0.2})
    assert not failed, result
    assert result["changed"] is False and result["recovered_by_aws"] == []
    assert result["hosts"][0]["health"] == "failed" and result["hosts"][0]["aws_recovery"]["in_progress"] is False
    assert simulator.control.call_count("ec2", "DescribeHosts") == 2  # in progress at the first read, over at the second


def test_health_selects_the_hosts_returned_but_the_summary_counts_all(simulator, run_module):
    ids = simulator.load_scenario(WORLD)
    failed, result = run_module(host_health_info, {"endpoint_url": simulator.endpoint, "health": ["healthy"]})
    assert not failed, result
    assert [host["host_id"] for host in result["hosts"]] == [ids["hosts"]["spare"]]
    assert result["summary"] == {"healthy": 1, "degraded": 1, "failed": 0, "gone": 0}


def test_bad_timing_options_fail_before_any_call(simulator, run_module):
    simulator.load_scenario(WORLD)
    simulator.control.reset_calls()
    failed, result = run_module(host_health_info, {"endpoint_url": simulator.endpoint, "aws_recovery_grace_period": -1})
    assert failed and "aws_recovery_grace_period must be 0 or more" in result["msg"]
    failed, result = run_module(host_health_info, {"endpoint_url": simulator.endpoint, "aws_recovery_assumed_start": "soon"})
    assert failed and "'soon' is not an ISO 8601 time" in result["msg"]
    failed, result = run_module(host_health_info, {"endpoint_url": simulator.endpoint, "health": ["sick"]})
    assert failed and "health" in result["msg"]
    failed, result = run_module(host_health_info, {"endpoint_url": simulator.endpoint, "wait_for_aws_recovery": True,
                                                   "aws_recovery_poll_interval": 0})
    assert failed and "aws_recovery_poll_interval must be more than 0" in result["msg"]
    assert simulator.control.calls()["total"] == 0


def test_a_malformed_id_fails_before_any_call(simulator, run_module):
    simulator.load_scenario(WORLD)
    simulator.control.reset_calls()
    failed, result = run_module(host_health_info, {"host_ids": ["h-nothex00"], "endpoint_url": simulator.endpoint})
    assert failed and "'h-nothex00' is malformed" in result["msg"]
    assert simulator.control.calls()["total"] == 0


def test_an_unknown_host_fails_naming_it(simulator, run_module):
    simulator.load_scenario(WORLD)
    failed, result = run_module(host_health_info, {"host_ids": ["h-0123456789abcdef0"], "endpoint_url": simulator.endpoint})
    assert failed and "h-0123456789abcdef0 not found" in result["msg"]
