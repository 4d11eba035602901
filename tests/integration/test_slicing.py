"""AWX job slicing: two slices of one failover job run at once, each on its part of the inventory plugin's
health_failed group, against one pool (docs/awx.md, "Many hosts at once: job slicing").

The slices are two ansible-playbook processes with disjoint --limit partitions (AWX gives each slice job its part
of the inventory; --limit is the same restriction from the command line, localhost included for the first play).
"""

import collections

from conftest import finish_playbook
from conftest import migration_window
from conftest import read_record
from conftest import start_playbook
from scenarios import failed_host
from scenarios import load
from scenarios import on_host
from scenarios import pool_host
from scenarios import world

FAILED = ("failed-a", "failed-b", "failed-c", "failed-d")
POOL = ("pool-a", "pool-b", "pool-c")  # one short: a slice allocates the fourth host
INVENTORY = "plugin: dedicated_hosts.failover.dedicated_hosts\n"


def test_two_slices_at_once_move_every_instance_once_and_never_claim_a_host_twice(simulator, migration_table, tmp_path):
    ids = load(simulator, world(
        [failed_host(name) for name in FAILED] + [pool_host(name) for name in POOL],
        [on_host(name, "vm-%s" % name, count=2) for name in FAILED],
        # About 5 s of stop and 3 s of start: long against the second-resolution phase times the overlap is read from.
        latency={"stop": 500, "start": 300, "jitter": 0},
    ))
    failed = [ids["hosts"][name] for name in FAILED]
    source = tmp_path / "fleet.dedicated_hosts.yml"
    source.write_text(INVENTORY)
    slices = [failed[:2], failed[2:]]
    started = [
        start_playbook(simulator, "failover.yml", {"failover_inventory_group": "health_failed"},
                       env={"AWS_ACCESS_KEY_ID": "AKIASLICE%d" % number},
                       extra_args=["-i", str(source), "--limit", ",".join(["localhost"] + hosts)])
        for number, hosts in enumerate(slices)
    ]
    runs = [finish_playbook(run, timeout=600) for run in started]

    assert [run.returncode for run in runs] == [0, 0], runs
    # Each slice counts its own hosts, not the group's in the whole inventory.
    assert all("Failing over 2 hosts" in run.output for run in runs), runs
    records = dict((host, read_record(simulator, host)) for host in failed)
    assert all(record["State"] == "complete" and record["SuccessfulMigrations"] == 2 for record in records.values()), records
    # Each slice failed over its own hosts only: one run id per slice.
    assert records[slices[0][0]]["RunId"] == records[slices[0][1]]["RunId"] != records[slices[1][0]]["RunId"] == records[slices[1][1]]["RunId"]
    # The slices ran at once: their moves overlapped.
    (first_start, first_end), (second_start, second_end) = (migration_window(records[hosts[0]]) for hosts in slices)
    assert first_start < second_end and second_start < first_end, "the two slices' moves did not overlap"
    # No host claimed twice: the replacement hosts of the four failovers are disjoint.
    targets = [set(record["ReplacementHostIds"]) for record in records.values()]
    assert sum(len(hosts) for hosts in targets) == len(set().union(*targets)), targets
    # No instance moved twice, every instance moved: one placement and one start each, and each runs off its failed host.
    log = simulator.control.call_log()
    placed = collections.Counter(instance for entry in log if entry["action"] == "ModifyInstancePlacement" and entry["code"] == "OK"
                                 for instance in entry["instance_ids"])
    started_ids = collections.Counter(instance for entry in log if entry["action"] == "StartInstances" and entry["code"] == "OK"
                                      for instance in entry["instance_ids"])
    instances = [instance for name, instance in ids["instances"].items() if name.startswith("vm-")]
    assert len(instances) == 8
    assert placed == started_ids == collections.Counter(instances)
    ec2 = simulator.client("ec2")
    reservations = ec2.describe_instances(InstanceIds=instances)["Reservations"]
    for instance in (i for reservation in reservations for i in reservation["Instances"]):
        assert instance["State"]["Name"] == "running" and instance["Placement"]["HostId"] not in failed, instance
