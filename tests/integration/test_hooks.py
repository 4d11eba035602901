"""Hooks around the move: the operator's task files before and after it, and SSM documents around each instance's stop
and start (docs/operator-guide.md#hooks-around-the-move), run by ansible-playbook against the simulator's SSM."""

import json

import pytest

from conftest import instance_view
from conftest import read_record
from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import pool_host
from scenarios import world

DRAIN = "Drain-App"
WARM_UP = "Warm-Up"


def three_on_the_failed_host(simulator):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("app", count=3)]))
    return ids["hosts"]["failed"], ids["hosts"]["pool"], [ids["instances"]["app-%d" % index] for index in range(3)]


def calls(simulator, *actions):
    """(index in the call log, action, instance ids) of each call of ``actions``, in the order the simulator answered them."""
    return [(index, entry["action"], entry["instance_ids"]) for index, entry in enumerate(simulator.control.call_log())
            if entry["action"] in actions and entry["code"] == "OK"]


def first_call_naming(log, action, instance_id):
    return min(index for index, name, instance_ids in log if name == action and instance_id in instance_ids)


def named_by(log, action):
    return set(instance_id for dummy, name, instance_ids in log if name == action for instance_id in instance_ids)


def task_file(tmp_path, name, tasks):
    path = tmp_path / name
    path.write_text(tasks)
    return str(path)


def test_the_pre_and_post_failover_task_files_see_the_plan_and_the_results(simulator, migration_table, run_playbook, tmp_path):
    failed, pool, instances = three_on_the_failed_host(simulator)
    seen_plan, seen_results = tmp_path / "plan.json", tmp_path / "results.json"
    pre = task_file(tmp_path, "pre.yml", """
- name: Keep the plan
  ansible.builtin.copy:
    content: "{{ host_failover_plan | to_json }}"
    dest: %s
    mode: "0600"
""" % seen_plan)
    post = task_file(tmp_path, "post.yml", """
- name: Keep the results
  ansible.builtin.copy:
    content: "{{ host_failover_results | to_json }}"
    dest: %s
    mode: "0600"
""" % seen_results)

    result = run_playbook("failover.yml", {"failed_host_id": failed, "pre_failover_tasks": pre, "post_failover_tasks": post})

    assert result.returncode == 0, result
    plan = json.loads(seen_plan.read_text())
    assert dict((entry["instance_id"], entry["target_host_id"]) for entry in plan["placements"]) == dict((i, pool) for i in instances)
    results = json.loads(seen_results.read_text())
    assert sorted((entry["instance_id"], entry["status"], entry["target_host_id"]) for entry in results) == \
        sorted((instance_id, "success", pool) for instance_id in instances)


def test_a_failing_pre_failover_task_stops_the_failover_before_any_instance_is_stopped(simulator, migration_table, run_playbook, tmp_path):
    failed, dummy, instances = three_on_the_failed_host(simulator)
    pre = task_file(tmp_path, "freeze.yml", """
- name: Refuse during the change freeze
  ansible.builtin.fail:
    msg: change freeze until 06:00, ask the release manager
""")

    result = run_playbook("failover.yml", {"failed_host_id": failed, "pre_failover_tasks": pre})

    assert result.returncode != 0, result
    assert "pre_failover_tasks failed at task 'Refuse during the change freeze': change freeze until 06:00" in result.stdout
    assert "no instance was stopped" in result.stdout
    assert calls(simulator, "StopInstances", "SendCommand") == []
    assert set(instance_view(simulator, instances).values()) == {("running", failed, "host", "host")}
    record = read_record(simulator, failed)
    assert record["State"] == "failed"
    assert "change freeze until 06:00" in record["ErrorDetails"]
    assert not record.get("LeaseRunId")


def test_a_failing_post_failover_task_fails_the_run_after_the_move(simulator, migration_table, run_playbook, tmp_path):
    failed, pool, instances = three_on_the_failed_host(simulator)
    post = task_file(tmp_path, "smoke.yml", """
- name: Smoke-test the service
  ansible.builtin.fail:
    msg: health endpoint answered 503
""")

    result = run_playbook("failover.yml", {"failed_host_id": failed, "post_failover_tasks": post})

    assert result.returncode != 0, result
    assert "post_failover_tasks failed at task 'Smoke-test the service': health endpoint answered 503" in result.stdout
    assert set(instance_view(simulator, instances).values()) == {("running", pool, "host", "host")}
    record = read_record(simulator, failed)
    assert record["SuccessfulMigrations"] == 3
    assert "health endpoint answered 503" in record["ErrorDetails"]


def test_a_pre_stop_hook_runs_on_every_instance_before_its_stop(simulator, migration_table, run_playbook):
    failed, pool, instances = three_on_the_failed_host(simulator)
    simulator.control.set_ssm_outcome("success", document=DRAIN, output="drained")

    result = run_playbook("failover.yml", {"failed_host_id": failed, "pre_stop_ssm_document": DRAIN,
                                           "pre_stop_ssm_document_parameters": {"wait": "30"}})

    assert result.returncode == 0, result
    log = calls(simulator, "SendCommand", "StopInstances")
    for instance_id in instances:
        assert first_call_naming(log, "SendCommand", instance_id) < first_call_naming(log, "StopInstances", instance_id)
    # One SendCommand for the three (they share the document and its parameters).
    assert [sorted(instance_ids) for dummy, name, instance_ids in log if name == "SendCommand"] == [sorted(instances)]
    assert [entry["parameters"] for entry in simulator.control.ssm_invocations()["invocations"]] == [{"wait": ["30"]}] * 3
    assert set(instance_view(simulator, instances).values()) == {("running", pool, "host", "host")}
    migrations = read_record(simulator, failed)["InstanceMigrations"]
    for instance_id in instances:
        assert migrations[instance_id]["phaseTimes"]["pre-stop-hook"] <= migrations[instance_id]["phaseTimes"]["force-stopping"]
        assert migrations[instance_id]["hooks"]["pre_stop"].startswith("pre-stop hook Drain-App succeeded (command ")


def test_a_failing_pre_stop_hook_leaves_its_instance_running_on_the_failed_host_skipped_with_the_output(
        simulator, migration_table, run_playbook):
    failed, pool, instances = three_on_the_failed_host(simulator)
    simulator.control.set_ssm_outcome("failed", instance_id=instances[1], document=DRAIN, output="42 sessions still open", code=3)

    result = run_playbook("failover.yml", {"failed_host_id": failed, "pre_stop_ssm_document": DRAIN})

    assert result.returncode == 0, result  # skipped instances do not fail the run (fail_on_skipped does)
    view = instance_view(simulator, instances)
    assert view[instances[1]] == ("running", failed, "host", "host")
    assert [view[instances[0]], view[instances[2]]] == [("running", pool, "host", "host")] * 2
    assert instances[1] not in named_by(calls(simulator, "StopInstances"), "StopInstances")
    record = read_record(simulator, failed)
    entry = record["InstanceMigrations"][instances[1]]
    assert (entry["status"], entry["phase"]) == ("skipped", "pre-stop-hook")
    assert "pre-stop hook Drain-App failed: status Failed, exit code 3" in entry["errorMessage"]
    assert "42 sessions still open" in entry["errorMessage"]
    assert (record["SuccessfulMigrations"], record["SkippedMigrations"], record["State"]) == (2, 1, "complete")
    assert "42 sessions still open" in result.stdout


@pytest.mark.parametrize("policy", ["fail", "ignore"])
def test_a_failing_pre_stop_hook_under_fail_or_ignore(simulator, migration_table, run_playbook, policy):
    failed, pool, instances = three_on_the_failed_host(simulator)
    simulator.control.set_ssm_outcome("failed", instance_id=instances[0], document=DRAIN, output="flush failed")

    result = run_playbook("failover.yml", {"failed_host_id": failed, "pre_stop_ssm_document": DRAIN, "pre_stop_hook_failure": policy})

    record = read_record(simulator, failed)
    entry = record["InstanceMigrations"][instances[0]]
    stopped = named_by(calls(simulator, "StopInstances"), "StopInstances")
    if policy == "fail":
        assert result.returncode != 0, result
        assert instance_view(simulator, [instances[0]])[instances[0]] == ("running", failed, "host", "host")
        assert instances[0] not in stopped
        assert entry["status"] == "failed" and "flush failed" in entry["errorMessage"]
        assert record["State"] == "failed"
    else:
        assert result.returncode == 0, result
        assert instance_view(simulator, [instances[0]])[instances[0]] == ("running", pool, "host", "host")
        assert entry["status"] == "success"
        assert "flush failed" in entry["hooks"]["pre_stop"]
    assert stopped >= set(instances[1:])


def test_a_hook_that_does_not_finish_in_time_counts_as_failed(simulator, migration_table, run_playbook):
    failed, pool, instances = three_on_the_failed_host(simulator)
    simulator.control.set_ssm_outcome("timeout", instance_id=instances[2], document=DRAIN)

    result = run_playbook("failover.yml", {"failed_host_id": failed, "pre_stop_ssm_document": DRAIN, "pre_stop_ssm_document_timeout": "1"})

    assert result.returncode == 0, result
    entry = read_record(simulator, failed)["InstanceMigrations"][instances[2]]
    assert entry["status"] == "skipped"
    assert "pre-stop hook Drain-App did not finish within 1s" in entry["errorMessage"]
    assert instance_view(simulator, instances)[instances[2]] == ("running", failed, "host", "host")
    assert instances[2] not in named_by(calls(simulator, "StopInstances"), "StopInstances")


def test_an_instance_without_an_online_agent_is_reported_at_once_and_never_sent_a_hook(simulator, migration_table, run_playbook):
    failed, pool, instances = three_on_the_failed_host(simulator)
    simulator.control.set_ssm_outcome("offline", instance_id=instances[0])

    # A long hook timeout: the offline agent must not be waited for.
    result = run_playbook("failover.yml", {"failed_host_id": failed, "pre_stop_ssm_document": DRAIN, "pre_stop_ssm_document_timeout": "3600"})

    assert result.returncode == 0, result
    entry = read_record(simulator, failed)["InstanceMigrations"][instances[0]]
    assert entry["status"] == "skipped"
    assert "pre-stop hook Drain-App did not run: SSM agent not online" in entry["errorMessage"]
    log = calls(simulator, "SendCommand", "StopInstances", "DescribeInstanceInformation")
    assert instances[0] not in named_by(log, "SendCommand") | named_by(log, "StopInstances")
    assert [name for dummy, name, ids in log if name == "DescribeInstanceInformation"] == ["DescribeInstanceInformation"]
    assert min(index for index, name, ids in log if name == "DescribeInstanceInformation") < min(
        index for index, name, ids in log if name == "StopInstances")


def test_a_post_start_hook_runs_once_each_instance_runs_on_its_new_host(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("app", count=2), on_failed("cold", state="stopped")]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    running, cold = [ids["instances"]["app-0"], ids["instances"]["app-1"]], ids["instances"]["cold"]
    simulator.control.set_ssm_outcome("success", document=WARM_UP, output="caches warm")
    simulator.control.set_ssm_outcome("failed", instance_id=running[1], document=WARM_UP, output="self-test failed: db unreachable")

    result = run_playbook("failover.yml", {"failed_host_id": failed, "post_start_ssm_document": WARM_UP})

    assert result.returncode != 0, result  # a failing post-start hook fails its instance (post_start_hook_failure=fail)
    log = calls(simulator, "StartInstances", "SendCommand")
    for instance_id in running:
        assert first_call_naming(log, "StartInstances", instance_id) < first_call_naming(log, "SendCommand", instance_id)
    assert cold not in named_by(log, "SendCommand")  # it stays stopped: nothing to warm up
    assert set(instance_view(simulator, running + [cold]).values()) == {("running", pool, "host", "host"), ("stopped", pool, "host", "host")}
    migrations = read_record(simulator, failed)["InstanceMigrations"]
    assert (migrations[running[0]]["status"], migrations[running[0]]["phase"]) == ("success", "verified")
    assert migrations[running[0]]["phaseTimes"]["running"] <= migrations[running[0]]["phaseTimes"]["post-start-hook"]
    failed_entry = migrations[running[1]]
    assert (failed_entry["status"], failed_entry["phase"]) == ("failed", "running")
    assert failed_entry["phaseTimes"]["post-start-hook"] >= failed_entry["phaseTimes"]["running"]
    assert "self-test failed: db unreachable" in failed_entry["errorMessage"]
    assert "the instance runs on its new host %s" % pool in failed_entry["errorMessage"]


def test_the_hooks_of_many_instances_are_in_flight_together_bounded_and_never_hold_up_the_move(
        simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("app", count=12)]))
    failed = ids["hosts"]["failed"]
    instances = sorted(ids["instances"].values())
    simulator.control.set_ssm_outcome("success", document=DRAIN, seconds=100)

    result = run_playbook("failover.yml", {"failed_host_id": failed, "pre_stop_ssm_document": DRAIN, "hook_concurrency": "5"})

    assert result.returncode == 0, result
    log = calls(simulator, "SendCommand", "StopInstances")
    sends = [(index, sorted(instance_ids)) for index, name, instance_ids in log if name == "SendCommand"]
    # Five hooks in flight together (one SendCommand), the next five as soon as those end, then the last two.
    assert [len(instance_ids) for dummy, instance_ids in sends] == [5, 5, 2]
    assert sorted(sum((instance_ids for dummy, instance_ids in sends), [])) == instances
    # The first five are stopping while the others' hooks still run: the hooks do not serialise the move.
    first_stop = min(index for index, name, dummy in log if name == "StopInstances")
    assert sends[0][0] < first_stop < sends[2][0]
    assert set(instance_view(simulator, instances)[instance_id][0] for instance_id in instances) == {"running"}
    assert named_by(log, "StopInstances") == set(instances)


def test_a_post_start_skip_policy_is_refused_before_anything_is_read(simulator, migration_table, run_playbook):
    failed, dummy, instances = three_on_the_failed_host(simulator)
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": failed, "post_start_ssm_document": WARM_UP, "post_start_hook_failure": "skip"})

    assert result.returncode != 0, result
    assert "post_start_hook_failure must be fail or ignore (the instance has already moved: nothing is left to skip), got 'skip'" in result.stdout
    assert simulator.control.calls()["counts"] == {}
