"""The collection's modules run in a fork of the controller on the local connection, and in their own Python
process (Ansible's ordinary path) anywhere else; both give the same result (plugins/plugin_utils/forked_module.py).
Forked, a long move shows its progress while it runs."""

import json
import os
import re
import subprocess
import sys

from conftest import ANSIBLE_PLAYBOOK
from conftest import playbook_env
from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import pool_host
from scenarios import world

HOST = "h-0123456789abcdef0"
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Read a record
      dedicated_hosts.failover.migration_record_info:
        host_id: "{{ host_id }}"
      environment: "{{ task_environment | default({}) }}"
      register: record
    - name: Show it
      ansible.builtin.debug:
        msg: "RESULT={{ record | to_json }}"
"""
MOVE_TASK = "Move every planned instance (stop, change placement, start) in one call"
# What Ansible prints (-vvv) when it builds a module's AnsiballZ payload to run it in a new Python process.
ORDINARY_PATH = "Using module file"


def run(simulator, tmp_path, *extra, env=None):
    playbook = tmp_path / "read.yml"
    playbook.write_text(PLAYBOOK)
    command = [ANSIBLE_PLAYBOOK, "-vvv", str(playbook), "-e", "host_id=%s" % HOST] + list(extra)
    done = subprocess.run(command, cwd=str(tmp_path), env=env or playbook_env(simulator), capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    line = next(line for line in done.stdout.splitlines() if '"msg": "RESULT=' in line)
    result = json.loads(json.loads("{%s}" % line.strip().rstrip(","))["msg"][len("RESULT="):])
    return done.stdout, result


def test_on_the_local_connection_the_module_runs_in_a_fork(simulator, migration_table, tmp_path):
    output, result = run(simulator, tmp_path)
    assert ORDINARY_PATH not in output
    assert result["found"] is False and result["failed"] is False
    assert result["record"] is None and result["status"] is None


def test_another_interpreter_takes_ansibles_ordinary_path_with_the_same_result(simulator, migration_table, tmp_path):
    # The same Python under another name: the host's interpreter is not the controller's, so no fork.
    other = tmp_path / "python"
    os.symlink(sys.executable, str(other))
    forked_output, forked = run(simulator, tmp_path)
    output, ordinary = run(simulator, tmp_path, "-e", "ansible_python_interpreter=%s" % other)
    assert ORDINARY_PATH in output and "migration_record_info" in output.split(ORDINARY_PATH, 1)[1].splitlines()[0]
    assert ordinary == forked


def test_the_tasks_environment_keyword_reaches_the_forked_module(simulator, migration_table, tmp_path):
    # The simulator's endpoint only in the task's environment keyword: without it the module would call real AWS.
    env = playbook_env(simulator)
    endpoint = env.pop("AWS_ENDPOINT_URL")
    output, result = run(simulator, tmp_path, "-e", json.dumps({"task_environment": {"AWS_ENDPOINT_URL": endpoint}}), env=env)
    assert ORDINARY_PATH not in output
    assert result["found"] is False and result["failed"] is False


def long_move(simulator, run_playbook, extra_vars=None):
    """Fail over a host of three instances that take about a second to move; returns the move task's output, the
    progress lines in it and the failed host."""
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=3)], latency={"stop": 800, "start": 400, "jitter": 0}))
    failed = ids["hosts"]["failed"]
    result = run_playbook("failover.yml", dict(extra_vars or {}, failed_host_id=failed))
    assert result.returncode == 0, result
    task = "TASK [dedicated_hosts.failover.host_failover : %s]" % MOVE_TASK
    move_output = result.stdout[result.stdout.index(task):]
    move_output = move_output[:move_output.index("\nTASK [")]
    return move_output, [line for line in move_output.splitlines() if line.startswith("  %s: " % failed)], failed


def test_a_long_move_shows_its_progress_while_it_runs(simulator, migration_table, run_playbook):
    move_output, lines, failed = long_move(simulator, run_playbook)
    # Shown before the task's own result, while the instances were moving; the last one says how it ended.
    assert len(lines) >= 2 and "moving:" in lines[0], move_output
    assert move_output.index(lines[0]) < move_output.index("changed: [%s]" % failed)
    assert re.search(r": 3/3 instances done \(3 success\) after \d+ s$", lines[-1]), lines


def test_failover_progress_false_shows_no_progress_line(simulator, migration_table, run_playbook):
    # As the command line and an AWX survey give it: the string "false".
    move_output, lines, failed = long_move(simulator, run_playbook, {"failover_progress": "false"})
    assert "changed: [%s]" % failed in move_output
    assert lines == [], move_output
