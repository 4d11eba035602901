# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host_health_info module against the simulator."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
    failed, result = run_module(host_health_info, {"host_ids": [ids["hosts"]["failed"]], "endpoint_url": simulator.endpoint})
    assert not failed, result
    assert result["changed"] is False
    host = result["hosts"][0]
    assert host["host_id"] == ids["hosts"]["failed"]
    assert (host["state"], host["health"], host["host_recovery"]) == ("under-assessment", "failed", "on")
    assert host["tags"]["Team"] == "web" and "team" not in host["tags"]  # tag keys are not snake_cased
    assert host["instances"][0]["instance_id"] == ids["instances"]["web"]
    assert result["counts"] == {"healthy": 0, "degraded": 0, "failed": 1, "gone": 0}


def test_without_ids_every_host_is_classified(simulator, run_module):
    simulator.load_scenario(WORLD)
    failed, result = run_module(host_health_info, {"endpoint_url": simulator.endpoint})
    assert not failed, result
    assert result["counts"] == {"healthy": 1, "degraded": 0, "failed": 1, "gone": 0}


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
