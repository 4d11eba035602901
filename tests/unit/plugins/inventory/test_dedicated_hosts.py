# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dedicated_hosts inventory plugin: host variables and groups from a live host_health() read."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.inventory.data import InventoryData

from ansible_collections.dedicated_hosts.failover.plugins.inventory import dedicated_hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils import health

WORLD = {
    "hosts": [
        {"name": "sick", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "under-assessment", "host_recovery": "on",
         "tags": {"App": "db"}},
        {"name": "broken", "availability_zone": "us-east-1b", "instance_type": "c5.large", "state": "permanent-failure",
         "host_maintenance": "off"},
        {"name": "pool", "availability_zone": "us-east-1a", "instance_family": "m5", "tags": {"Role": "Reserved"}},
        {"name": "gone", "availability_zone": "us-east-1a", "instance_family": "r5", "state": "released-permanent-failure"},
    ],
    "instances": [{"name": "db", "host": "sick", "instance_type": "m5.large"}, {"name": "batch", "host": "broken", "instance_type": "c5.large"}],
}


class Options(dedicated_hosts.InventoryModule):
    """The plugin with its options given as a dict (ansible-inventory sets them from the YAML file)."""

    def __init__(self, options):
        super(Options, self).__init__()
        self.inventory = InventoryData()
        self.options = dict({"compose": {}, "groups": {}, "keyed_groups": [], "strict": False, "reserved_tags": {"Role": "Reserved"}}, **options)

    def get_option(self, option, hostvars=None):
        return self.options[option]


def populate(simulator, **options):
    plugin = Options(options)
    for entry in health.host_health(simulator.client("ec2"), grace_period=options.get("grace_period", 900)):
        plugin._add(dedicated_hosts.host_vars(entry, "us-east-1"))  # pylint: disable=protected-access
    return plugin.inventory


def members(inventory, group):
    return sorted(host.name for host in inventory.groups[group].get_hosts())


def test_each_dedicated_host_is_an_inventory_host_with_its_health_variables(simulator):
    ids = simulator.load_scenario(WORLD)["hosts"]
    inventory = populate(simulator)

    sick = inventory.get_host(ids["sick"]).get_vars()
    assert sick["dedicated_host_id"] == ids["sick"] and sick["health"] == "degraded" and sick["state"] == "under-assessment"
    assert sick["reasons"][0].startswith("AWS host recovery in progress since")
    assert sick["aws_recovery"]["in_progress"] is True and set(sick["aws_recovery"]) >= {"since", "grace_ends"}
    assert (sick["availability_zone"], sick["region"], sick["instance_family"], sick["instance_type"]) == ("us-east-1a", "us-east-1", "m5", None)
    assert len(sick["instance_ids"]) == 1 and sick["dedicated_host_tags"] == {"App": "db"}
    assert sick["capacity"]["available_v_cpus"] == 94 and sick["ansible_connection"] == "local"
    broken = inventory.get_host(ids["broken"]).get_vars()
    assert broken["health"] == "failed" and broken["instance_type"] == "c5.large" and broken["aws_recovery"] is None
    assert broken["maintenance_replacement_candidates"] == []


def test_hosts_are_grouped_by_health_state_zone_family_and_pool(simulator):
    ids = simulator.load_scenario(WORLD)["hosts"]
    inventory = populate(simulator)

    assert members(inventory, "health_degraded") == [ids["sick"]]
    assert members(inventory, "health_failed") == [ids["broken"]]
    assert members(inventory, "health_healthy") == [ids["pool"]]
    assert members(inventory, "health_gone") == [ids["gone"]]
    assert members(inventory, "state_under_assessment") == [ids["sick"]]
    assert members(inventory, "state_released_permanent_failure") == [ids["gone"]]
    assert members(inventory, "az_us_east_1a") == sorted([ids["sick"], ids["pool"], ids["gone"]])
    assert members(inventory, "family_c5") == [ids["broken"]]
    assert members(inventory, "pool") == [ids["pool"]]


def test_without_reserved_tags_there_is_no_pool(simulator):
    simulator.load_scenario(WORLD)
    inventory = populate(simulator, reserved_tags={})
    assert "pool" not in inventory.groups


@pytest.mark.parametrize("prefix, value, expected", [
    ("state", "released-permanent-failure", "state_released_permanent_failure"),
    ("az", "eu-west-1a", "az_eu_west_1a"),
    ("family", "m5", "family_m5"),
])
def test_group_names_hold_only_word_characters(prefix, value, expected):
    assert dedicated_hosts.group_name(prefix, value) == expected


def test_the_default_region_comes_from_the_aws_configuration(monkeypatch):
    plugin = Options({"regions": [], "region": None, "profile": None})
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert plugin._regions() == ["eu-central-1"]  # pylint: disable=protected-access
    plugin.options["regions"] = ["us-west-2", "ap-south-1"]
    assert plugin._regions() == ["us-west-2", "ap-south-1"]  # pylint: disable=protected-access
