"""playbooks/failover.yml with several hosts (failed_host_ids): in parallel, each with its own lease and record."""

from conftest import migration_window
from conftest import read_record
from conftest import state_changing_calls
from scenarios import failed_host
from scenarios import load
from scenarios import on_host
from scenarios import pool_host
from scenarios import world

# Each move takes about 5 s of stop and 3 s of start: long against the second-resolution phase times
# and the start-up offset of the two hosts' module processes on a loaded machine.
SLOW_ENOUGH_TO_OVERLAP = {"stop": 500, "start": 300, "jitter": 0}


def two_failed_hosts(simulator):
    return load(simulator, world(
        [failed_host("first"), failed_host("second"),
         pool_host("pool-a"), pool_host("pool-b")],
        [on_host("first", "web", count=2), on_host("second", "api", count=2)],
        latency=SLOW_ENOUGH_TO_OVERLAP,
    ))


def test_failed_host_ids_fails_every_host_over_in_parallel(simulator, migration_table, run_playbook):
    ids = two_failed_hosts(simulator)
    first, second = ids["hosts"]["first"], ids["hosts"]["second"]

    result = run_playbook("failover.yml", {"failed_host_ids": "%s,%s" % (first, second)}, env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"})

    assert result.returncode == 0, result
    records = [read_record(simulator, host) for host in (first, second)]
    assert [record["State"] for record in records] == ["complete", "complete"]
    assert [record["SuccessfulMigrations"] for record in records] == [2, 2]
    pools = {ids["hosts"]["pool-a"], ids["hosts"]["pool-b"]}
    # Each failover claimed a pool host of its own: no instance of one landed on the other's.
    assert {records[0]["ReservedHostId"], records[1]["ReservedHostId"]} == pools
    (first_start, first_end), (second_start, second_end) = (migration_window(record) for record in records)
    assert first_start < second_end and second_start < first_end, "the two hosts' moves did not overlap"
    assert "Failover of %s: SUCCEEDED" % first in result.output and "Failover of %s: SUCCEEDED" % second in result.output
    # The artifact an AWX workflow reads holds every host's outcome, not only the last one's.
    stats = result.output[result.output.index("CUSTOM STATS"):]
    assert "%s: succeeded" % first in stats and "%s: succeeded" % second in stats, stats
    replacement_ids = stats[stats.index("failover_replacement_host_ids"):]
    assert all(pool in replacement_ids for pool in pools), stats


def test_failover_host_concurrency_one_moves_the_hosts_one_after_the_other(simulator, migration_table, run_playbook):
    ids = two_failed_hosts(simulator)
    first, second = ids["hosts"]["first"], ids["hosts"]["second"]

    result = run_playbook("failover.yml", {"failed_host_ids": [first, second], "failover_host_concurrency": "1"})

    assert result.returncode == 0, result
    windows = sorted(migration_window(read_record(simulator, host)) for host in (first, second))
    assert windows[0][1] <= windows[1][0], "with one host at a time the moves must not overlap: %s" % windows


def test_an_empty_failed_host_ids_list_does_nothing_and_succeeds(simulator, migration_table, run_playbook):
    two_failed_hosts(simulator)
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_ids": []})

    assert result.returncode == 0, result
    assert "nothing to do" in result.output
    assert state_changing_calls(simulator) == {}
    assert simulator.control.call_count("ec2", "DescribeHosts") == 0


def test_one_malformed_id_in_the_list_refuses_every_host_before_anything_is_read(simulator, migration_table, run_playbook):
    ids = two_failed_hosts(simulator)
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_ids": [ids["hosts"]["first"], "h-12345"]})

    assert result.returncode != 0, result
    assert "'h-12345' is malformed" in result.output
    assert state_changing_calls(simulator) == {}
    assert simulator.control.call_count("ec2", "DescribeHosts") == 0
    assert read_record(simulator, ids["hosts"]["first"]) is None


def test_a_malformed_target_host_id_is_refused_before_anything_is_read(simulator, migration_table, run_playbook):
    ids = two_failed_hosts(simulator)
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": ids["hosts"]["first"], "target_host_ids": "h-zz"})

    assert result.returncode != 0, result
    assert "'h-zz' is malformed" in result.output and "'%s' is malformed" % ids["hosts"]["first"] not in result.output
    assert simulator.control.call_count("ec2", "DescribeHosts") == 0 and state_changing_calls(simulator) == {}


def test_one_host_failing_fails_the_run_but_not_the_other_host(simulator, migration_table, run_playbook):
    ids = load(simulator, world(
        [failed_host("first"), failed_host("second", availability_zone="us-east-1b"),
         pool_host("pool-a")],
        [on_host("first", "web"), on_host("second", "api")],
    ))
    first, second = ids["hosts"]["first"], ids["hosts"]["second"]

    # The second host's zone has no pool host and allocation is off: its plan cannot place its instance.
    result = run_playbook("failover.yml", {"failed_host_ids": [first, second], "allocate_hosts": "false"})

    assert result.returncode != 0, result
    assert read_record(simulator, first)["State"] == "complete"
    assert "Failover of %s: SUCCEEDED" % first in result.output
    assert "Failover of %s: FAILED" % second in result.output
