"""Preflight rules (docs/preflight.md) end to end: playbooks/failover.yml against the simulator."""

from conftest import instance_view
from conftest import read_record
from conftest import start_playbook
from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import pool_host
from scenarios import world
from support_runs import key_calls
from support_runs import kill_group
from support_runs import wait_for

HRG = "arn:aws:resource-groups:us-east-1:123456789012:group/mac-hosts"


def test_instances_that_must_not_be_stopped_are_skipped_with_their_reason(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [
        on_failed("web", public_ip="auto"),
        on_failed("store", root_device="instance-store"),
        on_failed("scaled", asg="web-asg"),
        on_failed("grouped", host_resource_group=HRG),
        on_failed("protected", disable_api_stop=True),
        on_failed("win", platform="windows"),
    ]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    names = ids["instances"]

    result = run_playbook("failover.yml", {"failed_host_id": failed})

    assert result.returncode == 0, result
    view = instance_view(simulator, names.values())
    assert view[names["web"]][:2] == ("running", pool)
    assert view[names["win"]][:2] == ("running", pool)
    for name in ("store", "scaled", "grouped", "protected"):
        assert view[names[name]][:2] == ("running", failed), name
    record = read_record(simulator, failed)
    migrations = record["InstanceMigrations"]
    expected = {"store": "instance-store root device", "scaled": "Auto Scaling group web-asg", "grouped": HRG,
                "protected": "stop protection"}
    for name, text in expected.items():
        assert migrations[names[name]]["status"] == "skipped"
        assert text in migrations[names[name]]["errorMessage"]
        assert text in result.stdout, name
    assert record["State"] == "complete" and record["SkippedMigrations"] == 4 and record["SuccessfulMigrations"] == 2
    report = result.report(failed)
    statuses = dict((entry["instance_id"], entry["status"]) for entry in report["instances"])
    assert statuses[names["store"]] == "skipped" and statuses[names["web"]] == "success"
    web = [entry for entry in report["instances"] if entry["instance_id"] == names["web"]][0]
    assert any("not an Elastic IP" in note for note in web["notes"])
    win = [entry for entry in report["plan"]["placements"] if entry["instance_id"] == names["win"]][0]
    assert win["force_stop_after"] == 600.0
    # Nothing was ever asked to stop an instance preflight skipped.
    stopped = sum((entry["instance_ids"] for entry in simulator.control.call_log() if entry["action"] == "StopInstances"), [])
    assert not set(stopped) & set(names[name] for name in expected)


def test_stop_protection_is_lifted_for_the_move_and_restored_when_opted_in(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("protected", disable_api_stop=True)]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    instance_id = ids["instances"]["protected"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "preflight_allow": "stop-protection"})

    assert result.returncode == 0, result
    assert instance_view(simulator, [instance_id])[instance_id][:2] == ("running", pool)
    attribute = simulator.client("ec2").describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiStop")
    assert attribute["DisableApiStop"]["Value"] is True
    assert read_record(simulator, failed)["InstanceMigrations"][instance_id]["status"] == "success"


def test_a_run_killed_right_after_lifting_stop_protection_leaves_it_to_the_rerun_to_restore(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("protected", disable_api_stop=True)],
                                latency={"stop": 300, "start": 100, "jitter": 0}))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    instance_id = ids["instances"]["protected"]
    inputs = {"failed_host_id": failed, "preflight_allow": "stop-protection", "failover_lease_seconds": "5"}
    running = start_playbook(simulator, "failover.yml", inputs, env={"AWS_ACCESS_KEY_ID": "AKIALIFTKILLED"})
    lifted = wait_for(lambda: key_calls(simulator, "AKIALIFTKILLED", actions=("ModifyInstanceAttribute",)), 120)
    kill_group(running[0])
    assert lifted, "the run never lifted stop protection"
    assert read_record(simulator, failed)["InstanceMigrations"][instance_id]["stopProtectionLifted"] is True

    rerun = run_playbook("failover.yml", dict(inputs, break_lock="true"))

    assert rerun.returncode == 0, rerun
    assert instance_view(simulator, [instance_id])[instance_id][:2] == ("running", pool)
    attribute = simulator.client("ec2").describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiStop")
    assert attribute["DisableApiStop"]["Value"] is True
    entry = read_record(simulator, failed)["InstanceMigrations"][instance_id]
    assert entry["status"] == "success" and entry["stopProtectionLifted"] is False


def test_instance_store_volumes_are_skipped_by_default_and_moved_when_opted_in(simulator, migration_table, run_playbook):
    hosts = [dict(failed_host(), instance_family=None, instance_type="m5d.large"),
             dict(pool_host(), instance_family=None, instance_type="m5d.large")]
    for host in hosts:
        host.pop("instance_family")
    ids = load(simulator, world(hosts, [on_failed("scratch", "m5d.large")]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    instance_id = ids["instances"]["scratch"]

    first = run_playbook("failover.yml", {"failed_host_id": failed})

    assert first.returncode == 0, first
    assert instance_view(simulator, [instance_id])[instance_id][:2] == ("running", failed)
    assert "instance-store volumes" in read_record(simulator, failed)["InstanceMigrations"][instance_id]["errorMessage"]

    second = run_playbook("failover.yml", {"failed_host_id": failed, "preflight_allow": "instance-store-volumes"})

    assert second.returncode == 0, second
    assert instance_view(simulator, [instance_id])[instance_id][:2] == ("running", pool)


def test_an_instance_caught_stopping_is_waited_for_then_moved_and_left_stopped(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("leaving", state="stopping", stop_latency=150)]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    instance_id = ids["instances"]["leaving"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "settle_timeout": "30"})

    assert result.returncode == 0, result
    assert instance_view(simulator, [instance_id])[instance_id][:2] == ("stopped", pool)
    entry = read_record(simulator, failed)["InstanceMigrations"][instance_id]
    assert entry["status"] == "success" and entry["originalState"] == "stopped"
