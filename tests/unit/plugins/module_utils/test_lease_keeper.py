# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease keeper: its decisions on a fake clock and a scripted run process, the run found in a fake /proc, and
one real detached keeper against the simulator's table."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys
import time

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import lease_keeper
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import RUN_ALIVE
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import RUN_GONE
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import RUN_PID_ENV
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import RUN_STOPPED
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import RunProcess
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import find_run_process
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import keep_lease
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import keeper_pid_file
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import start_lease_keeper
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import stop_lease_keeper
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from conftest import TABLE
from dhsim.testing import lease_keepers

HOST = "h-0123456789abcdef0"
LEASE = 30.0


class Clock(object):
    """The wall clock and the lease clock, moved by the keeper's own sleeps only."""

    def __init__(self):
        self.now = 1795000000.0

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class ScriptedRun(object):
    """A run process whose state at each of the keeper's looks is ``script[look]`` (the last one repeats)."""

    def __init__(self, script, on_look=None):
        self.script = list(script)
        self.looks = 0
        self.on_look = on_look or {}

    def state(self):
        state = self.script[min(self.looks, len(self.script) - 1)]
        self.on_look.get(self.looks, lambda: None)()
        self.looks += 1
        return state


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def held(migration_table, clock):
    """The record with run-a's lease (LEASE seconds), and a MigrationRecord the keeper renews with."""
    MigrationRecord(migration_table, TABLE, HOST, "run-a", wall_clock=clock.time, monotonic=clock.time).acquire(LEASE)
    return MigrationRecord(migration_table, TABLE, HOST, "run-a", wall_clock=clock.time, monotonic=clock.time)


def lease_of(migration_table):
    item = get_record(migration_table, TABLE, HOST)
    return item.get("LeaseRunId"), item.get("LeaseVersion"), item.get("LeaseExpiresAt")


def test_it_renews_every_third_of_the_lease_while_the_run_is_alive_and_ends_with_it(migration_table, clock, held):
    # One look a second: 10 s is a third of the lease. Alive for 35 looks, then gone.
    run = ScriptedRun([RUN_ALIVE] * 35 + [RUN_GONE])
    started = clock.now

    assert keep_lease(held, run, LEASE, clock=clock.time, sleep=clock.sleep) == "run ended"

    # Renewed at 10, 20 and 30 s (versions 2 to 4); the last expiry is 30 s after the last renewal.
    assert lease_of(migration_table) == ("run-a", 4, started + 30 + LEASE)
    assert clock.now - started == 35  # it ended at the first look that found the run gone


def test_a_stopped_run_gets_no_renewal_and_one_that_is_resumed_does(migration_table, clock, held):
    started = clock.now
    run = ScriptedRun([RUN_STOPPED] * 50 + [RUN_ALIVE] + [RUN_GONE])

    assert keep_lease(held, run, LEASE, clock=clock.time, sleep=clock.sleep) == "run ended"

    # Nothing while stopped (the lease ran out at 30 s, no other run took it), one renewal when it went on.
    assert lease_of(migration_table) == ("run-a", 2, started + 50 + LEASE)


def test_it_ends_without_a_renewal_when_the_run_is_gone_at_once(migration_table, clock, held):
    before = lease_of(migration_table)

    assert keep_lease(held, ScriptedRun([RUN_GONE]), LEASE, clock=clock.time, sleep=clock.sleep) == "run ended"

    assert lease_of(migration_table) == before and clock.now == 1795000000.0


def test_it_never_extends_a_lease_another_run_took_over(migration_table, clock, held):
    def taken_over():  # at 15 s, after one renewal by the keeper, another run breaks the lock
        MigrationRecord(migration_table, TABLE, HOST, "run-b", wall_clock=clock.time, monotonic=clock.time).acquire(LEASE, break_lock=True)

    run = ScriptedRun([RUN_ALIVE], on_look={15: taken_over})

    assert keep_lease(held, run, LEASE, clock=clock.time, sleep=clock.sleep) == "lease lost"

    # The taker's lease as it wrote it at 15 s, untouched by the refused renewal at 20 s.
    assert lease_of(migration_table) == ("run-b", 3, 1795000000.0 + 15 + LEASE)
    assert run.looks == 21


@pytest.mark.parametrize("end", ["finalize", "release"])
def test_it_ends_at_its_first_renewal_after_the_run_finalized_or_released_the_record(migration_table, clock, held, end):
    def ended():
        record = MigrationRecord(migration_table, TABLE, HOST, "run-a", wall_clock=clock.time, monotonic=clock.time)
        record.finalize() if end == "finalize" else record.release()

    run = ScriptedRun([RUN_ALIVE], on_look={3: ended})

    assert keep_lease(held, run, LEASE, clock=clock.time, sleep=clock.sleep) == "lease lost"

    item = get_record(migration_table, TABLE, HOST)
    assert not item.get("LeaseRunId") and item["State"] == ("complete" if end == "finalize" else "processing")
    assert run.looks == 11  # the refused renewal at 10 s ended it


def test_a_renewal_that_fails_for_another_reason_is_tried_again_at_the_next_look(migration_table, clock, held):
    class Flaky(object):
        def __init__(self):
            self.calls = 0

        def renew(self, seconds):
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("the network is down")
            return held.renew(seconds)

    flaky = Flaky()

    assert keep_lease(flaky, ScriptedRun([RUN_ALIVE] * 12 + [RUN_GONE]), LEASE, clock=clock.time, sleep=clock.sleep) == "run ended"

    assert flaky.calls == 2 and lease_of(migration_table) == ("run-a", 2, 1795000000.0 + 11 + LEASE)


# ------------------------------------------------------------------ the run's process, from a fake /proc


def fake_process(proc, pid, ppid, command, state="S", start="1000"):
    folder = proc / str(pid)
    folder.mkdir()
    rest = ["0"] * 17 + [start, "0", "0"]
    (folder / "stat").write_text("%d (%s) %s %d %s\n" % (pid, os.path.basename(command[0])[:15], state, ppid, " ".join(rest)))
    (folder / "cmdline").write_bytes(b"\0".join(arg.encode() for arg in command) + b"\0")


PLAYBOOK = ["/venv/bin/python3", "/venv/bin/ansible-playbook", "failover.yml"]


@pytest.fixture
def proc(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()
    # ansible-runner (70) runs ansible-playbook (80), whose worker (90, a fork: the same command) runs the module.
    fake_process(proc, 70, 1, ["/usr/bin/python3", "/usr/bin/ansible-runner", "run"])
    fake_process(proc, 80, 70, PLAYBOOK, start="2000")
    fake_process(proc, 90, 80, PLAYBOOK, start="2100")
    return proc


def test_the_run_is_the_topmost_ansible_playbook_above_the_module_not_its_worker(proc):
    run = find_run_process(parent_pid=90, proc=str(proc), environ={})

    assert (run.pid, run.start_time) == (80, "2000")
    # A module started through a shell (Ansible's ordinary path) finds the same process.
    fake_process(proc, 95, 90, ["/bin/sh", "-c", "python3 AnsiballZ_migration_record.py"])
    assert find_run_process(parent_pid=95, proc=str(proc), environ={}).pid == 80


def test_a_playbook_run_by_a_task_of_another_playbook_is_its_own_run(proc):
    fake_process(proc, 100, 90, ["/bin/sh", "-c", "ansible-playbook inner.yml"])
    fake_process(proc, 110, 100, ["ansible-playbook", "inner.yml"], start="3000")
    fake_process(proc, 120, 110, ["ansible-playbook", "inner.yml"], start="3100")

    assert find_run_process(parent_pid=120, proc=str(proc), environ={}).pid == 110


def test_without_an_ansible_playbook_ancestor_it_is_the_pid_the_action_plugin_passed_or_none(proc):
    fake_process(proc, 200, 1, ["/usr/bin/python3", "embedding-app.py"], start="4000")
    fake_process(proc, 210, 200, ["/usr/bin/python3", "embedding-app.py"], start="4100")

    passed = find_run_process(parent_pid=210, proc=str(proc), environ={RUN_PID_ENV: "200"})
    assert (passed.pid, passed.start_time) == (200, "4000")
    assert find_run_process(parent_pid=210, proc=str(proc), environ={}) is None
    assert find_run_process(parent_pid=210, proc=str(proc), environ={RUN_PID_ENV: "999"}) is None  # gone already


@pytest.mark.parametrize("state, expected", [
    ("S", RUN_ALIVE), ("R", RUN_ALIVE), ("D", RUN_ALIVE), ("T", RUN_STOPPED), ("t", RUN_STOPPED), ("Z", RUN_GONE),
])
def test_the_state_of_the_run_comes_from_its_stat(tmp_path, state, expected):
    fake_process(tmp_path, 80, 1, PLAYBOOK, state=state, start="2000")

    assert RunProcess(80, "2000", proc=str(tmp_path)).state() == expected


def test_a_run_that_ended_or_whose_pid_another_process_took_is_gone(tmp_path):
    fake_process(tmp_path, 80, 1, ["/usr/bin/sleep", "60"], start="9999")

    assert RunProcess(80, "2000", proc=str(tmp_path)).state() == RUN_GONE
    assert RunProcess(81, "2000", proc=str(tmp_path)).state() == RUN_GONE


def test_without_proc_a_process_is_alive_while_signal_0_reaches_it():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert RunProcess(child.pid).state() == RUN_ALIVE
    finally:
        child.kill()
        child.wait()
    assert RunProcess(child.pid).state() == RUN_GONE


# ------------------------------------------------------------------ one real keeper


def keepers_of(run_pid):
    """Pids of the lease keepers whose environment names ``run_pid`` as the run (Linux only)."""
    return lease_keepers(f"{RUN_PID_ENV}={run_pid}".encode())


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="the keeper's name and environment are read from /proc")
def test_a_detached_keeper_renews_while_its_run_lives_holds_none_of_its_descriptors_and_ends_with_it(simulator, migration_table):
    # The "run": a process the keeper follows through RUN_PID_ENV (pytest has no ansible-playbook above it), which
    # also marks the keeper: its environment in /proc is that of the Python that started it.
    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    reader, writer = os.pipe()
    try:
        MigrationRecord(migration_table, TABLE, HOST, "run-a").acquire(3)
        env = dict(os.environ, **{RUN_PID_ENV: str(run.pid)})
        starter = subprocess.Popen([sys.executable, "-c", STARTER % {
            "endpoint": simulator.endpoint, "table": TABLE, "host": HOST, "writer": writer}],
            env=env, pass_fds=(writer,), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.close(writer)
        writer = None
        out, err = starter.communicate(timeout=60)  # returns at once: the keeper holds neither stdout nor stderr
        assert starter.returncode == 0 and out.strip() == str(run.pid), err
        # Nor the other descriptors of the process that started it: the pipe's write end is closed everywhere.
        assert os.read(reader, 1) == b""
        keepers = keepers_of(run.pid)
        assert len(keepers) == 1, keepers
        version = get_record(migration_table, TABLE, HOST)["LeaseVersion"]
        deadline = time.time() + 20
        while get_record(migration_table, TABLE, HOST)["LeaseVersion"] < version + 2 and time.time() < deadline:
            time.sleep(0.2)
        assert get_record(migration_table, TABLE, HOST)["LeaseVersion"] >= version + 2  # a renewal a second

        run.kill()
        run.wait()
        deadline = time.time() + 5
        while keepers_of(run.pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not keepers_of(run.pid)
    finally:
        os.close(reader)
        if writer is not None:
            os.close(writer)
        if run.poll() is None:
            run.kill()
            run.wait()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="the keeper's name and environment are read from /proc")
def test_the_runs_last_write_stops_its_keeper_first_and_no_renewal_follows(simulator, migration_table):
    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        MigrationRecord(migration_table, TABLE, HOST, "run-a").acquire(3)
        env = dict(os.environ, **{RUN_PID_ENV: str(run.pid)})
        starter = subprocess.run([sys.executable, "-c", STARTER % {"endpoint": simulator.endpoint, "table": TABLE, "host": HOST}],
                                 env=env, capture_output=True, text=True, timeout=60, check=False)
        assert starter.returncode == 0, starter.stderr
        deadline = time.time() + 10
        while not os.path.exists(keeper_pid_file(TABLE, HOST, "run-a")) and time.time() < deadline:
            time.sleep(0.05)
        assert len(keepers_of(run.pid)) == 1

        assert stop_lease_keeper(TABLE, HOST, "run-a") is True
        assert not keepers_of(run.pid)  # gone when stop returns, while its run still lives
        assert not os.path.exists(keeper_pid_file(TABLE, HOST, "run-a"))
        version = get_record(migration_table, TABLE, HOST)["LeaseVersion"]
        time.sleep(2.5)  # more than a renewal period of the 3 s lease
        assert get_record(migration_table, TABLE, HOST)["LeaseVersion"] == version
        assert stop_lease_keeper(TABLE, HOST, "run-a") is False  # nothing left to stop
    finally:
        run.kill()
        run.wait()


# Started as its own Python, as a module process is; prints what start_lease_keeper returned.
STARTER = """
import sys
sys.path[:0] = %(paths)r
import boto3
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import start_lease_keeper
client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=%%(endpoint)r)
print(start_lease_keeper(client, %%(table)r, %%(host)r, "run-a", "run-a@test", 3.0))
""" % {"paths": sys.path}


def test_a_process_of_no_run_starts_no_keeper(migration_table, monkeypatch):
    monkeypatch.delenv(RUN_PID_ENV, raising=False)
    monkeypatch.setattr(lease_keeper, "find_run_process", lambda: None)
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))

    assert start_lease_keeper(migration_table, TABLE, HOST, "run-a", "run-a@test", 3.0) is None
