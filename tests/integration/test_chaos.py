"""Crash and resume: a failover killed at a random moment and run again ends as if it had never been killed.

Each trial starts ``playbooks/failover.yml`` against the simulator (with latencies, and a short lease),
kills the run's whole process group with SIGKILL at a random point, and runs it again as an operator
would: waiting for the lease to expire (even seeds) or with ``break_lock=true`` (odd seeds). Then it
checks the world, the record, the claims and the call log (docs/guarantees.md lists the checks).

The kill point is drawn from the trial's seed as "after the run's N-th AWS call, plus a short delay",
so a seed replays the same point of the run on a faster or slower machine:

    CHAOS_SEED=1234 .venv/bin/python -m pytest -p no:cacheprovider -rA tests/integration/test_chaos.py

``CHAOS_TRIALS`` (default 3) sets the number of trials, ``CHAOS_BASE_SEED`` (default 1000) the first
seed; ``make chaos`` runs 20 trials from a fresh base seed. Every trial prints
``chaos seed=<seed> mode=<mode> kill_at_call=<n> ... killed_after=<s>s``.

The pause test (SIGSTOP, takeover, SIGCONT) checks fencing: a run that lost its lease while it was
paused makes no EC2 change once it is resumed.
"""

import os
import random
import re
import signal
import time

import pytest

from conftest import finish_playbook
from conftest import instance_view
from conftest import read_record
from conftest import start_playbook
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
from support_runs import kill_group
from support_runs import log_position
from support_runs import only_refused_writes
from support_runs import signal_group
from support_runs import takeover_time
from support_runs import wait_for
from support_runs import wait_for_lease_expiry

LEASE = "5"
TRIALS = int(os.environ.get("CHAOS_TRIALS") or 3)
BASE_SEED = int(os.environ.get("CHAOS_BASE_SEED") or 1000)
SEEDS = [int(os.environ["CHAOS_SEED"])] if os.environ.get("CHAOS_SEED") else [BASE_SEED + index for index in range(TRIALS)]
# The first run makes about 40 AWS calls with this scenario; a kill point past its last call is a rerun
# after success, which is a case too.
MAX_KILL_CALL = 42


def chaos_world(seed):
    """A failed host whose instances need the pool host (room for one m5.12xlarge) and one new host."""
    return world(
        [failed_host(), pool_host()],
        [
            on_host("failed", "web", count=2),
            on_host("failed", "graceful", "m5.large", system_status="ok"),  # a graceful stop, not a forced one
            on_host("failed", "cold", "m5.xlarge", state="stopped"),
            on_host("failed", "big", "m5.12xlarge"),
            on_host("failed", "api", "m5.4xlarge"),
            {"name": "resident", "host": "pool", "instance_type": "m5.12xlarge", "state": "running"},
        ],
        latency={"stop": 60, "start": 50, "force_stop": 40, "jitter": 0.3},
        seed=seed,
    )


def kill_at_call(simulator, process, access_key, call, delay):
    """SIGKILL the run's process group after its ``call``-th AWS call and ``delay`` more seconds.

    Returns True when the run was killed, False when it finished first.
    """
    while process.poll() is None:
        if len(key_calls(simulator, access_key)) >= call:
            time.sleep(delay)
            break
        time.sleep(0.03)
    if process.poll() is not None:
        process.communicate(timeout=30)
        return False
    kill_group(process)
    return True


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: "seed=%d" % seed)
def test_a_run_killed_at_a_random_moment_is_resumed_by_a_rerun(simulator, migration_table, seed):
    rng = random.Random(seed)
    mode = "break_lock" if seed % 2 else "wait"
    call, delay = rng.randint(1, MAX_KILL_CALL), round(rng.uniform(0.0, 0.4), 2)
    ids = load(simulator, chaos_world(seed))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    movable = dict((iid, "stopped" if name == "cold" else "running") for name, iid in ids["instances"].items() if name != "resident")
    scenario_hosts = all_host_ids(simulator)
    variables = {"failed_host_id": failed, "failover_lease_seconds": LEASE, "poll_interval": "0.1"}

    started = time.time()
    first = start_playbook(simulator, "failover.yml", variables, env={"AWS_ACCESS_KEY_ID": "AKIACHAOSFIRST"})
    killed = kill_at_call(simulator, first[0], "AKIACHAOSFIRST", call, delay)
    killed_after = time.time() - started
    line = "chaos seed=%d mode=%s kill_at_call=%d delay=%.2fs killed_after=%.1fs%s" % (
        seed, mode, call, delay, killed_after, "" if killed else " (the run had finished)")
    print(line)

    before = read_record(simulator, failed) or {"InstanceMigrations": {}}
    succeeded_before = sorted(iid for iid, entry in before["InstanceMigrations"].items() if entry["status"] == "success")
    waited = 0.0
    rerun_vars = dict(variables)
    if mode == "wait":
        waited = wait_for_lease_expiry(simulator, failed)
    else:
        rerun_vars["break_lock"] = "true"
    rerun = finish_playbook(start_playbook(simulator, "failover.yml", rerun_vars, env={"AWS_ACCESS_KEY_ID": "AKIACHAOSRERUN"}))
    print("%s waited=%.1fs rerun_rc=%d succeeded_before=%d" % (line, waited, rerun.returncode, len(succeeded_before)))

    assert rerun.returncode == 0, (line, rerun)
    record = read_record(simulator, failed)
    assert record["State"] == "complete", (line, record)
    plan = record["Plan"]
    assert sorted(plan) == sorted(movable), (line, plan)
    # Every movable instance is on its planned host, in the state it had before the failover.
    view = instance_view(simulator, movable)
    for iid, state in movable.items():
        assert view[iid][0] == state and view[iid][1] == plan[iid] and view[iid][3] == "host", (line, iid, view[iid], plan[iid])
        assert record["InstanceMigrations"][iid]["status"] == "success", (line, iid, record["InstanceMigrations"][iid])
    # An instance that had succeeded before the kill was not stopped again.
    stopped_again = [ids_ for _action, _code, ids_ in key_calls(simulator, "AKIACHAOSRERUN", actions=("StopInstances",))
                     if set(ids_) & set(succeeded_before)]
    assert not stopped_again, (line, succeeded_before, stopped_again)
    # One replacement host was allocated, once, and it is the one the record names and the plan uses.
    new_hosts = all_host_ids(simulator) - scenario_hosts
    assert len(new_hosts) == 1, (line, new_hosts)
    assert new_hosts == set(entry["hostId"] for entry in record["AllocatedHosts"]), (line, new_hosts, record["AllocatedHosts"])
    assert set(record["ReplacementHostIds"]) == set(plan.values()) <= new_hosts | {pool}, (line, record["ReplacementHostIds"], plan)
    # Counters match the map, no lease is held, and the only claims are those of the pool hosts the plan uses.
    assert_record_consistent(record)
    used_pool = set(plan.values()) & {pool}
    assert claims_in_table(simulator) == dict((host_id, failed) for host_id in used_pool), (line, claims_in_table(simulator))


@pytest.mark.parametrize("takeover", ["after_expiry", "break_lock", "finished_while_suspended"])
def test_a_paused_run_that_lost_its_lease_changes_nothing_once_resumed(simulator, migration_table, takeover):
    """SIGSTOP past the lease and its margin, another run takes over; with ``finished_while_suspended`` that run
    finishes the whole failover (and releases the lease) before the first one wakes, as after a laptop's sleep."""
    ids = load(simulator, world(
        [failed_host(), pool_host()],
        [on_host("failed", "web", count=3, system_status="ok")],
        latency={"stop": 300, "start": 100, "force_stop": 100, "jitter": 0.1},
    ))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    variables = {"failed_host_id": failed, "failover_lease_seconds": LEASE, "poll_interval": "0.1", "force_stop_after": "30"}
    paused = start_playbook(simulator, "failover.yml", variables, env={"AWS_ACCESS_KEY_ID": "AKIAPAUSED"})

    # Pause it while its instances are stopping: a stop was sent and recorded.
    def mid_migration():
        record = read_record(simulator, failed) or {}
        phases = [entry.get("phase") for entry in (record.get("InstanceMigrations") or {}).values()]
        return record if "stopping" in phases else None

    record = wait_for(mid_migration, timeout=120)
    if not record:
        ended = finish_playbook(paused)
        print(ended.output)
        pytest.fail("the run ended (rc=%s) before any instance was stopping" % ended.returncode)
    signal_group(paused[0], signal.SIGSTOP)
    paused_run = record["LeaseRunId"]
    resume_after = takeover_time(read_record(simulator, failed))

    taker_vars = dict(variables)
    if takeover in ("after_expiry", "finished_while_suspended"):
        wait_for_lease_expiry(simulator, failed)
    else:
        taker_vars["break_lock"] = "true"
    taker = start_playbook(simulator, "failover.yml", taker_vars, env={"AWS_ACCESS_KEY_ID": "AKIATAKER"})
    assert wait_for(lambda: (read_record(simulator, failed) or {}).get("RunId") not in (None, paused_run), timeout=120)
    # The paused run comes back past its lease (and its margin), while the other run works.
    time.sleep(max(0.0, resume_after + 0.5 - time.time()))
    if takeover == "finished_while_suspended":
        outcome = finish_playbook(taker)
        assert not read_record(simulator, failed).get("LeaseRunId")
    position = log_position(simulator)
    signal_group(paused[0], signal.SIGCONT)
    resumed = finish_playbook(paused)
    if takeover != "finished_while_suspended":
        outcome = finish_playbook(taker)

    assert outcome.returncode == 0, outcome
    assert resumed.returncode != 0, resumed
    # The run that lost its lease says so: its renewal, a write or the fence refused it.
    assert re.search(r"%s no longer holds the lease|the lease of run %s on host \S+ is within" % (paused_run, paused_run),
                     resumed.output), resumed
    after = key_calls(simulator, "AKIAPAUSED", since=position)
    assert not [call for call in after if call[0] in EC2_CHANGES], after
    assert only_refused_writes(after), after
    record = read_record(simulator, failed)
    assert record["State"] == "complete" and record["RunId"] != paused_run
    assert_record_consistent(record)
    assert all(view[:2] == ("running", pool) for view in instance_view(simulator, ids["instances"].values()).values())
