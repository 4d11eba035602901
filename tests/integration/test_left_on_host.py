"""Instances a failover leaves on the failed host: skipped by preflight (reported first, fail_on_skipped) and those
that instance_ids leaves out (moved: only the named ones), end to end against the simulator."""

import re

import pytest

from conftest import instance_view
from conftest import read_record
from conftest import sns_inbox
from conftest import state_changing_calls
from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import pool_host
from scenarios import world


def skipping_world():
    return world([failed_host(), pool_host()],
                 [on_failed("web"), on_failed("store", root_device="instance-store", count=2)])


def summary_block(result):
    """The summary task's output with whitespace collapsed (the default callback wraps its YAML list)."""
    block = result.stdout.split(": Summary] ", 1)[1].split("TASK [", 1)[0]
    return " ".join(block.split())


def summary_first_line(result):
    """The summary's first line: the item before the table's header row."""
    return re.search(r"msg: - '?(Failover of .*?)'? - instance ", summary_block(result)).group(1)


def test_skipped_instances_are_named_in_the_first_line_of_the_summary_and_the_notification(simulator, migration_table, run_playbook):
    ids = load(simulator, skipping_world())
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    topic_arn, messages = sns_inbox(simulator)

    result = run_playbook("failover.yml", {"failed_host_id": failed, "notification_topic_arn": topic_arn})

    assert result.returncode == 0, result
    headline = "2 instance(s) left on failed host %s: skipped" % failed
    assert summary_first_line(result) == "Failover of %s: SUCCEEDED; %s" % (failed, headline)
    final = messages()[-1]
    assert final["Message"].splitlines()[0] == "Failover of Dedicated Host %s: SUCCEEDED; %s" % (failed, headline)
    assert final["Subject"] == "EC2 Dedicated Host Failover - Succeeded: %s (2 instance(s) left on it)" % failed
    view = instance_view(simulator, ids["instances"].values())
    assert view[ids["instances"]["web"]][:2] == ("running", pool)
    assert [view[ids["instances"]["store-%d" % index]][:2] for index in (0, 1)] == [("running", failed)] * 2


def test_fail_on_skipped_makes_the_run_fail_after_the_summary(simulator, migration_table, run_playbook):
    ids = load(simulator, skipping_world())
    failed = ids["hosts"]["failed"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "fail_on_skipped": "true"})

    assert result.returncode != 0, result
    stores = sorted(ids["instances"]["store-%d" % index] for index in (0, 1))
    assert "2 skipped instance(s) stay on the failed host (%s;" % ", ".join(stores) in result.output
    assert "fail_on_skipped is set" in result.output
    assert summary_first_line(result).endswith("left on failed host %s: skipped" % failed)
    assert result.stdout.index(": Summary] ") < result.stdout.index("fail_on_skipped is set")
    assert read_record(simulator, failed)["State"] == "complete"  # the failover itself succeeded
    assert result.report(failed)["outcome"] == "succeeded"


def test_fail_on_skipped_false_as_a_string_keeps_the_exit_status_zero(simulator, migration_table, run_playbook):
    ids = load(simulator, skipping_world())
    result = run_playbook("failover.yml", {"failed_host_id": ids["hosts"]["failed"], "fail_on_skipped": "false"})
    assert result.returncode == 0, result


def subset_world():
    return world([failed_host(), pool_host()], [on_failed("web", count=2), on_failed("cold", state="stopped")])


def test_instance_ids_moves_only_those_and_reports_the_others_untouched(simulator, migration_table, run_playbook):
    ids = load(simulator, subset_world())
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    chosen, left = [ids["instances"]["web-1"], ids["instances"]["cold"]], sorted([ids["instances"]["web-0"]])
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": failed, "instance_ids": ",".join(chosen)})

    assert result.returncode == 0, result
    view = instance_view(simulator, ids["instances"].values())
    assert [view[instance_id][:2] for instance_id in chosen] == [("running", pool), ("stopped", pool)]
    assert view[left[0]][:2] == ("running", failed)
    assert summary_first_line(result) == ("Failover of %s: SUCCEEDED; 1 instance(s) left on failed host %s: untouched (not in instance_ids)"
                                          % (failed, failed))
    assert re.search(r"%s m5.large %s - running running untouched .* not in instance_ids" % (left[0], failed), summary_block(result))
    assert set(read_record(simulator, failed)["InstanceMigrations"]) == set(chosen)
    stopped = [entry for entry in simulator.control.call_log() if entry["action"] == "StopInstances"]
    assert set(instance_id for entry in stopped for instance_id in entry.get("instance_ids") or []) == {chosen[0]}
    assert [entry["instance_id"] for entry in result.report(failed)["instances"] if entry["status"] == "untouched"] == left


def test_an_instance_id_not_on_the_host_is_refused_before_anything_changes(simulator, migration_table, run_playbook):
    ids = load(simulator, subset_world())
    failed = ids["hosts"]["failed"]
    elsewhere = ids["instances"]["web-0"][:-1] + ("0" if ids["instances"]["web-0"][-1] != "0" else "1")
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": failed, "instance_ids": [ids["instances"]["web-1"], elsewhere]})

    assert result.returncode != 0, result
    assert "instance_ids: %s not on Dedicated Host %s" % (elsewhere, failed) in result.output
    assert "Nothing was changed" in result.output
    assert state_changing_calls(simulator) == {}
    assert read_record(simulator, failed) is None


@pytest.mark.parametrize("extra, expected", [
    ({"instance_ids": "i-xyz"}, "instance id 'i-xyz' is malformed"),
    ({"failed_host_ids": "h-0123456789abcdef0,h-0123456789abcdef1", "instance_ids": "i-0123456789abcdef0"},
     "instance_ids names instances of one host"),
])
def test_bad_instance_ids_are_refused_before_anything_is_read(simulator, migration_table, run_playbook, extra, expected):
    simulator.control.reset_calls()
    result = run_playbook("failover.yml", dict({"failed_host_id": "h-0123456789abcdef0"}, **extra))
    assert result.returncode != 0, result
    assert expected in result.output
    assert simulator.control.calls()["counts"].get("ec2", {}) == {}
