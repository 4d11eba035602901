"""playbooks/failback.yml end to end against the simulator: a host is failed over, made healthy again, and the
instances its failover moved go back to it."""

import json
import time

import pytest

from conftest import finish_playbook
from conftest import instance_view
from conftest import read_record
from conftest import start_playbook
from conftest import state_changing_calls
from conftest import task_message
from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import on_host
from scenarios import pool_host
from scenarios import world
from support_runs import assert_record_consistent
from support_runs import key_calls
from support_runs import kill_group
from support_runs import wait_for
from test_cancel import abort_as_alice

FAILBACK_KEY = "failback#%s"
SUMMARY = "dedicated_hosts.failover.host_failback : Summary"
# Results as JSON, so that the tests read the printed plan and summary (conftest.task_message).
JSON_RESULTS = {"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}


def failed_over(simulator, run_playbook, spec, failover_vars=None):
    """Load ``spec`` (a scenario, or the ids of one loaded), fail its ``failed`` host over and make that host available
    and healthy again; returns the ids."""
    ids = spec if "instances" in spec and isinstance(spec["instances"], dict) else load(simulator, spec)
    failed = ids["hosts"]["failed"]
    result = run_playbook("failover.yml", dict({"failed_host_id": failed}, **(failover_vars or {})))
    assert result.returncode == 0, result
    simulator.control.set_host_state(failed, "available")
    return ids


def stop_by_hand(simulator, instance_id):
    ec2 = simulator.client("ec2")
    ec2.stop_instances(InstanceIds=[instance_id])
    assert wait_for(lambda: instance_view(simulator, [instance_id])[instance_id][0] == "stopped", 30)


def move_by_hand(simulator, instance_id, host_id):
    stop_by_hand(simulator, instance_id)
    simulator.client("ec2").modify_instance_placement(InstanceId=instance_id, HostId=host_id)


def moved_ids(calls):
    return sorted(set(instance_id for _action, _code, ids in calls for instance_id in ids))


def summary(result):
    return task_message(result.stdout, SUMMARY)


def test_exactly_the_moved_instances_go_back_each_in_its_current_state(simulator, migration_table, run_playbook):
    spec = world(
        [failed_host(), pool_host(), pool_host("other", tags={"Role": "App"})],
        [on_failed("web", count=2), on_failed("cold", state="stopped"), on_failed("mover"), on_failed("stays")],
    )
    ids = load(simulator, spec)
    moved = [ids["instances"][name] for name in ("web-0", "web-1", "cold", "mover")]
    # The failover moves all but "stays" (instance_ids), which never leaves the original host.
    failed_over(simulator, run_playbook, ids, {"instance_ids": ",".join(moved)})
    failed, pool, other = ids["hosts"]["failed"], ids["hosts"]["pool"], ids["hosts"]["other"]
    instances = ids["instances"]
    assert instance_view(simulator, moved)[instances["mover"]][1] == pool
    failover_before = read_record(simulator, failed)
    stop_by_hand(simulator, instances["web-1"])  # an operator stopped it after the failover: it stays stopped
    move_by_hand(simulator, instances["mover"], other)  # moved elsewhere since: left where it is
    simulator.control.reset_calls()

    result = run_playbook("failback.yml", {"failed_host_id": failed}, env=dict(JSON_RESULTS, AWS_ACCESS_KEY_ID="AKIAFAILBACK"))

    assert result.returncode == 0, result
    view = instance_view(simulator, instances.values())
    assert view[instances["web-0"]][:2] == ("running", failed)
    assert view[instances["web-1"]][:2] == ("stopped", failed)
    assert view[instances["cold"]][:2] == ("stopped", failed)
    assert view[instances["mover"]][:2] == ("stopped", other)
    assert view[instances["stays"]][:2] == ("running", failed)
    placed = key_calls(simulator, "AKIAFAILBACK", actions=("ModifyInstancePlacement",))
    assert moved_ids(placed) == sorted(instances[name] for name in ("web-0", "web-1", "cold"))
    assert moved_ids(key_calls(simulator, "AKIAFAILBACK", actions=("StopInstances",))) == [instances["web-0"]]
    assert moved_ids(key_calls(simulator, "AKIAFAILBACK", actions=("StartInstances",))) == [instances["web-0"]]

    record = read_record(simulator, FAILBACK_KEY % failed)
    assert record["State"] == "complete"
    assert_record_consistent(record)
    assert (record["TotalInstances"], record["SuccessfulMigrations"], record["SkippedMigrations"]) == (4, 3, 1)
    entries = record["InstanceMigrations"]
    assert [entries[instances[name]]["originalState"] for name in ("web-0", "web-1", "cold")] == ["running", "stopped", "stopped"]
    assert entries[instances["mover"]]["errorMessage"] == (
        "instance %s is on host %s now, not on %s where the failover put it: left where it is" % (instances["mover"], other, pool))
    assert read_record(simulator, failed) == failover_before  # the failover's record is untouched
    lines = summary(result)
    assert lines[0] == "Failback to %s: SUCCEEDED" % failed
    assert any(line.startswith(instances["mover"]) and "skipped" in line for line in lines)
    report = json.load(open(result.report_dir + "/failback-%s.json" % failed, encoding="utf-8"))
    assert report["outcome"] == "succeeded" and report["status"]["hostId"] == FAILBACK_KEY % failed


@pytest.mark.parametrize("state, reason", [
    ("under-assessment", "is under-assessment and failed"),
    ("permanent-failure", "is permanent-failure and failed"),
])
def test_an_original_host_that_is_not_healthy_is_refused_and_nothing_changes(simulator, migration_table, run_playbook, state, reason):
    spec = world([failed_host(), pool_host()], [on_failed("web", count=2)])
    ids = failed_over(simulator, run_playbook, spec)
    failed = ids["hosts"]["failed"]
    simulator.control.set_host_state(failed, state)
    placed_before = instance_view(simulator, ids["instances"].values())
    simulator.control.reset_calls()

    result = run_playbook("failback.yml", {"failed_host_id": failed}, env=JSON_RESULTS)

    assert result.returncode != 0, result
    assert "original host %s %s" % (failed, reason) in result.output
    assert "instances go back only to an available, healthy host. Nothing was changed" in result.output
    assert state_changing_calls(simulator) == {}
    assert read_record(simulator, FAILBACK_KEY % failed) is None
    assert instance_view(simulator, ids["instances"].values()) == placed_before
    assert summary(result)[0] == "Failback to %s: FAILED" % failed


def test_an_instance_that_fails_to_go_back_makes_the_run_fail_after_the_summary(simulator, migration_table, run_playbook):
    spec = world([failed_host(), pool_host()], [on_failed("web", count=2)])
    ids = failed_over(simulator, run_playbook, spec)
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    stuck, moved = ids["instances"]["web-1"], ids["instances"]["web-0"]
    simulator.control.add_fault("ec2", "ModifyInstancePlacement", "UnsupportedInstanceTypeOnHost", instance_id=stuck, count=None)

    result = run_playbook("failback.yml", {"failed_host_id": failed}, env=JSON_RESULTS)

    assert result.returncode != 0, result
    view = instance_view(simulator, [stuck, moved])
    assert view[moved][:2] == ("running", failed)
    assert view[stuck][:2] == ("running", pool)  # started again where it was
    record = read_record(simulator, FAILBACK_KEY % failed)
    assert record["State"] == "failed"
    assert (record["TotalInstances"], record["SuccessfulMigrations"], record["FailedMigrations"]) == (2, 1, 1)
    assert_record_consistent(record)
    lines = summary(result)
    assert lines[0] == "Failback to %s: FAILED" % failed
    assert any(line.startswith(stuck) and "UnsupportedInstanceTypeOnHost" in line for line in lines)
    assert "Failback to %s failed" % failed in result.output


def test_a_host_without_a_failover_record_is_refused(simulator, migration_table, run_playbook):
    ids = load(simulator, world([pool_host("original")], [on_host("original", "web")]))
    simulator.control.reset_calls()

    result = run_playbook("failback.yml", {"failed_host_id": ids["hosts"]["original"]})

    assert result.returncode != 0, result
    assert "host %s has no failover record: there is nothing to fail back" % ids["hosts"]["original"] in result.output
    assert state_changing_calls(simulator) == {}


def test_check_mode_prints_the_plan_and_changes_nothing(simulator, migration_table, run_playbook):
    spec = world([failed_host(), pool_host()], [on_failed("web"), on_failed("cold", state="stopped")])
    ids = failed_over(simulator, run_playbook, spec)
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    simulator.control.reset_calls()

    result = run_playbook("failback.yml", {"failed_host_id": failed}, check=True, env=JSON_RESULTS)

    assert result.returncode == 0, result
    assert state_changing_calls(simulator) == {}
    assert read_record(simulator, FAILBACK_KEY % failed) is None
    assert set(view[1] for view in instance_view(simulator, ids["instances"].values()).values()) == {pool}
    plan = task_message(result.stdout, "dedicated_hosts.failover.host_failback : Show the plan")
    assert plan[0] == "Failback to %s (available, healthy): 2 instance(s) go back, 0 skipped" % failed
    assert "%s (m5.large, stopped): %s -> %s" % (ids["instances"]["cold"], pool, failed) in plan
    assert summary(result)[0] == "Failback to %s: PLANNED (check mode: nothing was changed)" % failed


def test_instance_ids_moves_back_only_those_and_an_id_the_failover_did_not_move_is_refused(simulator, migration_table, run_playbook):
    spec = world([failed_host(), pool_host()], [on_failed("web", count=3), on_failed("stays")])
    ids = load(simulator, spec)
    web = [ids["instances"]["web-%d" % index] for index in range(3)]
    failed_over(simulator, run_playbook, ids, {"instance_ids": ",".join(web)})  # a failover with instance_ids too
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    stays = ids["instances"]["stays"]
    assert instance_view(simulator, web + [stays]) == dict(
        [(instance_id, ("running", pool, "host", "host")) for instance_id in web] + [(stays, ("running", failed, "host", "host"))])
    simulator.control.reset_calls()

    refused = run_playbook("failback.yml", {"failed_host_id": failed, "instance_ids": "%s,%s" % (web[0], stays)})

    assert refused.returncode != 0, refused
    assert "instance_ids: %s not moved by the last failover of host %s" % (stays, failed) in refused.output
    assert state_changing_calls(simulator) == {}

    result = run_playbook("failback.yml", {"failed_host_id": failed, "instance_ids": web[1]})

    assert result.returncode == 0, result
    view = instance_view(simulator, web)
    assert [view[instance_id][:2] for instance_id in web] == [("running", pool), ("running", failed), ("running", pool)]
    assert set(read_record(simulator, FAILBACK_KEY % failed)["InstanceMigrations"]) == {web[1]}


def test_a_failback_killed_mid_way_is_resumed_and_its_record_disturbs_no_failover_reader(simulator, migration_table, run_playbook):
    # No pool host: the failover allocates one, which release_unused_hosts may release once the failback emptied it.
    spec = world([failed_host()], [on_failed("web", count=3), on_failed("cold", state="stopped")],
                 latency={"stop": 150, "start": 100, "force_stop": 40, "jitter": 0.2})
    ids = failed_over(simulator, run_playbook, spec)
    failed = ids["hosts"]["failed"]
    states = dict((instance_id, "stopped" if name == "cold" else "running") for name, instance_id in ids["instances"].items())
    failover_record = read_record(simulator, failed)
    allocated = failover_record["ReplacementHostIds"]
    variables = {"failed_host_id": failed, "failover_lease_seconds": "5", "poll_interval": "0.1"}

    first = start_playbook(simulator, "failback.yml", variables, env={"AWS_ACCESS_KEY_ID": "AKIAFAILBACKFIRST"})
    # Killed once some instances are stopped and before every one is back.
    assert wait_for(lambda: key_calls(simulator, "AKIAFAILBACKFIRST", actions=("StopInstances",)), 120, interval=0.02)
    time.sleep(0.3)
    kill_group(first[0])
    left = read_record(simulator, FAILBACK_KEY % failed)
    assert left["State"] == "processing" and left["LeaseRunId"]

    # Meanwhile the failback's record is no failover to the other readers of the table.
    listing = run_playbook("migration_status.yml", {}, env=JSON_RESULTS)
    assert listing.returncode == 0, listing
    assert "failback#" not in task_message(listing.stdout, "Print the status document").__repr__()
    status = run_playbook("migration_status.yml", {"failed_host_id": failed, "failback": "true"}, env=JSON_RESULTS)
    assert status.returncode == 0, status
    assert task_message(status.stdout, "Print the status document")["hostId"] == FAILBACK_KEY % failed
    health = run_playbook("health_check.yml", {})
    assert health.returncode == 0, health
    assert "failback#" not in health.stdout

    rerun = finish_playbook(start_playbook(simulator, "failback.yml", dict(variables, break_lock="true"),
                                           env={"AWS_ACCESS_KEY_ID": "AKIAFAILBACKRERUN"}))

    assert rerun.returncode == 0, rerun
    view = instance_view(simulator, states)
    assert dict((instance_id, view[instance_id][:2]) for instance_id in states) == dict(
        (instance_id, (state, failed)) for instance_id, state in states.items())
    record = read_record(simulator, FAILBACK_KEY % failed)
    assert record["State"] == "complete"
    assert_record_consistent(record)
    assert (record["TotalInstances"], record["SuccessfulMigrations"]) == (4, 4)
    assert dict((instance_id, entry["originalState"]) for instance_id, entry in record["InstanceMigrations"].items()) == states
    assert read_record(simulator, failed) == failover_record

    release = run_playbook("release_unused_hosts.yml", {})
    assert release.returncode == 0, release
    released = simulator.client("ec2").describe_hosts(HostIds=allocated)["Hosts"]
    assert [host["State"] for host in released] == ["released"] * len(allocated)


def stop_protection(simulator, instance_id):
    return simulator.client("ec2").describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiStop")["DisableApiStop"]["Value"]


def test_an_instance_protected_since_the_failover_goes_back_and_is_protected_again(simulator, migration_table, run_playbook):
    spec = world([failed_host(), pool_host()], [on_failed("web"), on_failed("guarded")])
    ids = failed_over(simulator, run_playbook, spec)
    failed = ids["hosts"]["failed"]
    guarded, web = ids["instances"]["guarded"], ids["instances"]["web"]
    simulator.client("ec2").modify_instance_attribute(InstanceId=guarded, DisableApiStop={"Value": True})
    simulator.control.reset_calls()

    result = run_playbook("failback.yml", {"failed_host_id": failed}, env=dict(JSON_RESULTS, AWS_ACCESS_KEY_ID="AKIAFAILBACKGUARD"))

    assert result.returncode == 0, result
    view = instance_view(simulator, [guarded, web])
    assert (view[guarded][:2], view[web][:2]) == (("running", failed), ("running", failed))
    assert (stop_protection(simulator, guarded), stop_protection(simulator, web)) == (True, False)
    changes = [(action, ids) for action, _code, ids in key_calls(simulator, "AKIAFAILBACKGUARD", actions=("ModifyInstanceAttribute",))]
    assert changes == [("ModifyInstanceAttribute", (guarded,))] * 2  # lifted, then restored; web's never touched
    entry = read_record(simulator, FAILBACK_KEY % failed)["InstanceMigrations"][guarded]
    assert (entry["status"], entry["stopProtectionLifted"]) == ("success", False)
    assert any(line.startswith(guarded) and "stop protection was lifted for the move and restored" in line for line in summary(result))


def test_abort_cancels_a_running_failback_and_only_an_explicit_failback_resumes_it(simulator, migration_table, run_playbook):
    # Stops of about 3 s, one instance at a time: slow enough for the cancel to come half-way.
    spec = world([failed_host(), pool_host()], [on_failed("web", count=6, system_status="ok")],
                 latency={"stop": 300, "start": 100, "force_stop": 100, "jitter": 0.2})
    ids = failed_over(simulator, run_playbook, spec)
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    instances = sorted(ids["instances"].values())
    failover_record = read_record(simulator, failed)
    nothing = run_playbook("abort.yml", {"failed_host_id": failed, "failback": "true"})
    assert nothing.returncode != 0 and "nothing to cancel: there is no failback record for host %s" % failed in nothing.output, nothing
    variables = {"failed_host_id": failed, "poll_interval": "0.1", "failover_concurrency": "1", "force_stop_after": "30"}
    running = start_playbook(simulator, "failback.yml", variables, env={"AWS_ACCESS_KEY_ID": "AKIAFAILBACKSLOW"})
    assert wait_for(lambda: key_calls(simulator, "AKIAFAILBACKSLOW", actions=("StopInstances",)), 120), finish_playbook(running)

    abort = abort_as_alice(run_playbook, {"failed_host_id": failed, "failback": "true", "abort_reason": '"keep them on the pool"'},
                           "AKIAFAILBACKABORT")
    outcome = finish_playbook(running)

    assert abort.returncode == 0, abort
    assert "to stop the failback to %s" % failed in abort.stdout
    assert outcome.returncode != 0, outcome
    assert "Failback to %s cancelled: cancel requested by alice@" % failed in outcome.output, outcome
    assert "keep them on the pool; " in " ".join(outcome.output.split()), outcome
    record = read_record(simulator, FAILBACK_KEY % failed)
    assert record["State"] == "cancelled" and record["CancelRequest"]["runId"] == record["RunId"]
    assert_record_consistent(record)
    # Every instance in the state it had, on one host: back once its stop was sent, else untouched where the failover put it.
    stopped = moved_ids(key_calls(simulator, "AKIAFAILBACKSLOW", actions=("StopInstances",)))
    left = [instance_id for instance_id in instances if instance_id not in stopped]
    assert stopped and left
    view = instance_view(simulator, instances)
    assert dict((instance_id, view[instance_id][:2]) for instance_id in instances) == dict(
        (instance_id, ("running", failed if instance_id in stopped else pool)) for instance_id in instances)
    entries = record["InstanceMigrations"]
    assert sorted(instance_id for instance_id in instances if entries[instance_id]["status"] == "success") == stopped
    assert all(entries[instance_id]["status"] == "pending" for instance_id in left), entries
    assert record["SuccessfulMigrations"] == len(stopped)
    assert read_record(simulator, failed) == failover_record

    resumed = run_playbook("failback.yml", {"failed_host_id": failed})

    assert resumed.returncode == 0, resumed
    view = instance_view(simulator, instances)
    assert [view[instance_id][:2] for instance_id in instances] == [("running", failed)] * len(instances)
    record = read_record(simulator, FAILBACK_KEY % failed)
    assert (record["State"], record["SuccessfulMigrations"]) == ("complete", len(instances))
    assert_record_consistent(record)
