"""The dedicated_hosts inventory plugin run by ansible-inventory against the simulator."""

import json
import os
import subprocess

from conftest import ANSIBLE_PLAYBOOK
from conftest import playbook_env
from scenarios import load
from scenarios import world

ANSIBLE_INVENTORY = os.path.join(os.path.dirname(ANSIBLE_PLAYBOOK), "ansible-inventory")

WORLD = world(
    [
        {"name": "sick", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "under-assessment", "host_recovery": "on",
         "tags": {"Environment": "prod"}},
        {"name": "broken", "availability_zone": "us-east-1b", "instance_type": "c5.large", "state": "permanent-failure",
         "host_maintenance": "off", "tags": {"Environment": "prod"}},
        {"name": "pool", "availability_zone": "us-east-1a", "instance_family": "m5", "tags": {"Role": "Reserved"}},
    ],
    [{"name": "db", "host": "sick", "instance_type": "m5.large"}, {"name": "batch", "host": "broken", "instance_type": "c5.large"}],
)

CONFIG = """plugin: dedicated_hosts.failover.dedicated_hosts
aws_recovery_grace_period: 600
keyed_groups:
  - key: dedicated_host_tags.Environment | default('none')
    prefix: env
"""


def plain(value):
    """ansible-inventory marks values from inventory plugins as unsafe ({"__ansible_unsafe": value}): unwrap them."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def listing(simulator, tmp_path, **options):
    return plain(json.loads(inventory(simulator, tmp_path, "--list", **options).stdout))


def inventory(simulator, tmp_path, *arguments, config=CONFIG, name="fleet.dedicated_hosts.yml"):
    source = tmp_path / name
    source.write_text(config)
    result = subprocess.run([ANSIBLE_INVENTORY, "-i", str(source)] + list(arguments), env=playbook_env(simulator), capture_output=True,
                            text=True, timeout=120, check=False, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_graph_groups_the_hosts_by_health_state_zone_family_pool_and_keyed_groups(simulator, tmp_path):
    hosts = load(simulator, WORLD)["hosts"]

    graph = inventory(simulator, tmp_path, "--graph").stdout

    lines = [line.strip(" |-") for line in graph.splitlines()]
    for group, members in {
        "@health_degraded:": [hosts["sick"]],
        "@health_failed:": [hosts["broken"]],
        "@health_healthy:": [hosts["pool"]],
        "@state_under_assessment:": [hosts["sick"]],
        "@az_us_east_1b:": [hosts["broken"]],
        "@family_c5:": [hosts["broken"]],
        "@pool:": [hosts["pool"]],
        "@env_prod:": sorted([hosts["sick"], hosts["broken"]]),
    }.items():
        assert group in lines, graph
        start = lines.index(group) + 1
        assert lines[start:start + len(members)] == members, (group, graph)


def test_list_gives_each_host_its_variables(simulator, tmp_path):
    ids = load(simulator, WORLD)
    hosts = ids["hosts"]

    variables = listing(simulator, tmp_path)["_meta"]["hostvars"]
    assert set(variables) == set(hosts.values())
    sick = variables[hosts["sick"]]
    assert sick["health"] == "degraded" and sick["state"] == "under-assessment" and sick["region"] == "us-east-1"
    assert sick["aws_recovery"]["in_progress"] is True and 590 <= sick["aws_recovery"]["seconds_left"] <= 600
    assert sick["instance_ids"] == [ids["instances"]["db"]] and sick["dedicated_host_tags"] == {"Environment": "prod"}
    assert sick["ansible_connection"] == "local" and sick["dedicated_host_id"] == hosts["sick"]
    broken = variables[hosts["broken"]]
    assert (broken["health"], broken["instance_family"], broken["instance_type"]) == ("failed", "c5", "c5.large")
    assert broken["reasons"] == ["host is in permanent-failure and AWS host maintenance is off: AWS will not move its instances"]
    [row] = broken["capacity"]["available_instance_capacity"]
    assert row["instance_type"] == "c5.large" and row["total_capacity"] - row["available_capacity"] == 1  # the one instance
    assert broken["maintenance_replacement_candidates"] == []


def test_each_read_is_live_and_options_change_the_classes(simulator, tmp_path):
    hosts = load(simulator, WORLD)["hosts"]
    config = CONFIG + "ignore_aws_recovery: true\nregions: [us-east-1]\n"

    first = listing(simulator, tmp_path, config=config)
    simulator.control.set_host_state(hosts["pool"], "released")
    second = listing(simulator, tmp_path, config=config)

    assert first["_meta"]["hostvars"][hosts["sick"]]["health"] == "failed"  # recovery ignored
    assert first["_meta"]["hostvars"][hosts["pool"]]["health"] == "healthy"
    assert second["_meta"]["hostvars"][hosts["pool"]]["health"] == "gone"
    assert hosts["pool"] in second["health_gone"]["hosts"]


def test_a_region_without_hosts_gives_an_empty_inventory(simulator, tmp_path):
    load(simulator, WORLD)
    assert listing(simulator, tmp_path, config=CONFIG + "regions: [eu-west-1]\n")["_meta"]["hostvars"] == {}
