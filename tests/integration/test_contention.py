"""Contention: runs started at the same moment for the same failed host, or for two failed hosts that want
the same pool host, or while the first run is between two module tasks for longer than its lease. Each run has its
own access key, so the call log says which run did what."""

import time
import uuid

import pytest

from conftest import finish_playbook
from conftest import instance_view
from conftest import read_record
from conftest import start_playbook
from dhsim.testing import lease_keepers
from scenarios import failed_host
from scenarios import load
from scenarios import on_host
from scenarios import pool_host
from scenarios import world
from support_runs import EC2_CHANGES
from support_runs import all_host_ids
from support_runs import assert_record_consistent
from support_runs import claims_in_table
from support_runs import key_calls
from support_runs import only_refused_writes
from support_runs import wait_for


def start_together(simulator, runs):
    """Start every (variables, access key) run at once; returns their outcomes, in order."""
    started = [start_playbook(simulator, "failover.yml", variables, env={"AWS_ACCESS_KEY_ID": key}) for variables, key in runs]
    return [finish_playbook(run) for run in started]


def test_two_runs_for_the_same_host_started_together_one_works_the_other_is_refused(simulator, migration_table):
    ids = load(simulator, world([failed_host(), pool_host()], [on_host("failed", "web", count=2)],
                                latency={"stop": 300, "start": 200, "jitter": 0}))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    keys = ("AKIARUNONE", "AKIARUNTWO")

    outcomes = start_together(simulator, [({"failed_host_id": failed}, key) for key in keys])

    assert sorted(outcome.returncode == 0 for outcome in outcomes) == [False, True], outcomes
    winner = [index for index, outcome in enumerate(outcomes) if outcome.returncode == 0][0]
    loser = outcomes[1 - winner]
    record = read_record(simulator, failed)
    assert record["State"] == "complete"
    assert "is locked by run %s" % record["RunId"] in loser.output, loser
    # The refused run changed nothing: no EC2 change, and no write but a refused conditional one.
    refused = key_calls(simulator, keys[1 - winner])
    assert not [call for call in refused if call[0] in EC2_CHANGES], refused
    assert only_refused_writes(refused), refused
    assert all(view[:2] == ("running", pool) for view in instance_view(simulator, ids["instances"].values()).values())
    assert_record_consistent(record)


def two_failed_hosts_one_pool_host():
    # The pool host runs three m5.4xlarge on one socket: room for three more, the instances of one failed host.
    return world(
        [failed_host("failed-a"), failed_host("failed-b"), pool_host()],
        [on_host("failed-a", "a", "m5.4xlarge", count=3), on_host("failed-b", "b", "m5.4xlarge", count=3),
         {"name": "resident", "host": "pool", "instance_type": "m5.4xlarge", "count": 3, "state": "running"}],
        latency={"stop": 100, "start": 100, "force_stop": 50, "jitter": 0.2},
    )


def instances_of(ids, prefix):
    return [iid for name, iid in ids["instances"].items() if name.startswith(prefix + "-")]


@pytest.mark.parametrize("allocate_hosts", ["true", "false"])
def test_two_failed_hosts_competing_for_one_pool_host(simulator, migration_table, allocate_hosts):
    ids = load(simulator, two_failed_hosts_one_pool_host())
    pool = ids["hosts"]["pool"]
    hosts = {"a": ids["hosts"]["failed-a"], "b": ids["hosts"]["failed-b"]}
    keys = {"a": "AKIAFAILEDA", "b": "AKIAFAILEDB"}
    scenario_hosts = all_host_ids(simulator)

    outcomes = dict(zip("ab", start_together(simulator, [
        ({"failed_host_id": hosts[name], "allocate_hosts": allocate_hosts}, keys[name]) for name in "ab"])))

    # Exactly one failover claims the pool host, and moves its instances there.
    claims = claims_in_table(simulator)
    assert list(claims) == [pool], claims
    winner = [name for name in "ab" if hosts[name] == claims[pool]][0]
    other = "b" if winner == "a" else "a"
    assert outcomes[winner].returncode == 0, outcomes[winner]
    assert read_record(simulator, hosts[winner])["ReplacementHostIds"] == [pool]
    assert all(view[:2] == ("running", pool) for view in instance_view(simulator, instances_of(ids, winner)).values())
    assert not [call for call in key_calls(simulator, keys[winner]) if call[0] == "AllocateHosts"]
    new_hosts = all_host_ids(simulator) - scenario_hosts
    other_calls = key_calls(simulator, keys[other])

    if allocate_hosts == "true":
        # The other allocates one new host and moves its instances there.
        assert outcomes[other].returncode == 0, outcomes[other]
        assert len(new_hosts) == 1, new_hosts
        record = read_record(simulator, hosts[other])
        assert record["ReplacementHostIds"] == sorted(new_hosts)
        assert all(view[:2] == ("running", record["ReplacementHostIds"][0])
                   for view in instance_view(simulator, instances_of(ids, other)).values())
        assert [call[1] for call in other_calls if call[0] == "AllocateHosts"] == ["OK"]
        assert_record_consistent(record)
    else:
        # The other fails before stopping anything, naming what does not fit.
        assert outcomes[other].returncode != 0, outcomes[other]
        assert not new_hosts
        assert not [call for call in other_calls if call[0] in EC2_CHANGES], other_calls
        assert "have no place" in outcomes[other].output, outcomes[other]
        for iid in instances_of(ids, other):
            assert iid in outcomes[other].output
        assert "allocate_hosts is false" in outcomes[other].output, outcomes[other]
        assert all(view[:2] == ("running", hosts[other]) for view in instance_view(simulator, instances_of(ids, other)).values())
        record = read_record(simulator, hosts[other])
        assert record["State"] == "failed", record
        assert_record_consistent(record)


def test_a_pre_failover_task_longer_than_the_lease_keeps_it_and_a_second_run_is_refused(simulator, migration_table, tmp_path):
    """Between module tasks the lease keeper renews the lease: a hook lasting several leases loses nothing, a second
    run started during it is refused, and no keeper is left once the run has ended."""
    ids = load(simulator, world([failed_host(), pool_host()], [on_host("failed", "web", count=2)]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    sleeping, go_on = tmp_path / "sleeping", tmp_path / "go-on"
    hook = tmp_path / "slow.yml"
    # The hook lasts until the test lets it go on: past the lease and its margin, and until the second run is refused.
    hook.write_text("""
- name: Say that the hook has started
  ansible.builtin.file:
    path: %s
    state: touch
    mode: "0600"
- name: Wait for the test
  ansible.builtin.wait_for:
    path: %s
    timeout: 300
""" % (sleeping, go_on))
    marker = "LEASE_KEEPER_TEST=%s" % uuid.uuid4().hex  # in the environment of every process of the run, the keeper's too
    variables = {"failed_host_id": failed, "failover_lease_seconds": "3", "pre_failover_tasks": str(hook)}
    first = start_playbook(simulator, "failover.yml", variables,
                           env=dict([("AWS_ACCESS_KEY_ID", "AKIAKEPT"), marker.split("=")]))

    try:
        if not wait_for(sleeping.exists, timeout=120):
            pytest.fail("the hook never started: %s" % finish_playbook(first).output)
        during = read_record(simulator, failed)
        assert lease_keepers(marker.encode()), "no lease keeper runs while the hook sleeps"
        # Past the lease and its margin since the hook started: without a keeper the lease would be free for the taking.
        time.sleep(5)
        renewed = read_record(simulator, failed)
        assert renewed["LeaseRunId"] == during["LeaseRunId"] and renewed["LeaseVersion"] > during["LeaseVersion"], renewed
        assert float(renewed["LeaseExpiresAt"]) > time.time(), renewed
        second = finish_playbook(start_playbook(simulator, "failover.yml", {"failed_host_id": failed, "failover_lease_seconds": "3"},
                                                env={"AWS_ACCESS_KEY_ID": "AKIASECOND"}))
    finally:
        go_on.touch()  # the hook ends, also when a check above failed
    outcome = finish_playbook(first)

    assert second.returncode != 0, second
    assert "is locked by run %s" % during["LeaseRunId"] in second.output, second
    refused = key_calls(simulator, "AKIASECOND")
    assert not [call for call in refused if call[0] in EC2_CHANGES], refused
    assert only_refused_writes(refused), refused
    assert outcome.returncode == 0, outcome
    assert "no longer holds the lease" not in outcome.output, outcome
    record = read_record(simulator, failed)
    assert record["State"] == "complete" and record["RunId"] == during["LeaseRunId"]
    assert_record_consistent(record)
    assert all(view[:2] == ("running", pool) for view in instance_view(simulator, ids["instances"].values()).values())
    # The keeper ended with the run (it looks at the run's process every second).
    assert wait_for(lambda: not lease_keepers(marker.encode()), timeout=5), lease_keepers(marker.encode())
