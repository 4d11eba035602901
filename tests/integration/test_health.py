"""Host health (docs/health.md) end to end: host_health_info run by ansible-playbook, and the failover
waiting for AWS host recovery or deferring to AWS host maintenance, against the simulator."""

import json
import subprocess
import time

import pytest

from dhsim.client import ControlAPIError

from conftest import ANSIBLE_PLAYBOOK
from conftest import instance_view
from conftest import playbook_env
from conftest import read_record
from conftest import start_playbook
from conftest import finish_playbook
from conftest import state_changing_calls
from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import on_host
from scenarios import pool_host
from scenarios import world


def host(name, state="available", **extra):
    return dict({"name": name, "availability_zone": "us-east-1a", "instance_family": "m5", "state": state}, **extra)


def health_info(simulator, tmp_path, **options):
    """host_health_info's result, run as one task by ansible-playbook."""
    out = tmp_path / "health.json"
    playbook = tmp_path / "health.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Classify\n"
        "      dedicated_hosts.failover.host_health_info: %s\n"
        "      register: health\n"
        "    - name: Keep the result\n"
        "      ansible.builtin.copy:\n"
        "        content: '{{ health | to_json }}'\n"
        "        dest: %s\n"
        "        mode: '0644'\n" % (json.dumps(options), out)
    )
    result = subprocess.run([ANSIBLE_PLAYBOOK, str(playbook)], env=playbook_env(simulator), capture_output=True, text=True,
                            timeout=120, check=False, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


def test_every_row_of_the_table_through_host_health_info(simulator, tmp_path):
    loaded = time.time()  # the load sets "recovering" impaired 60 s before its own moment, after this one
    ids = load(simulator, world(
        [
            host("released", "released"),
            host("released_pf", "released-permanent-failure"),
            host("assessed_no_recovery", "under-assessment", host_recovery="off"),
            host("recovering", "under-assessment", host_recovery="on"),
            host("recovery_overdue", "under-assessment", host_recovery="on"),
            host("broken_no_maintenance", "permanent-failure", host_maintenance="off"),
            host("broken_maintained", "permanent-failure", host_maintenance="on", tags={"App": "db"}, allocation_time=7200),
            host("aws_replacement", "pending", tags={"App": "db"}),
            host("impaired", tags={"App": "x"}),
            host("retiring", tags={"App": "y"}),
            host("quiet", tags={"App": "z"}),
        ],
        [
            on_host("recovering", "r1", impaired_since=60),
            on_host("recovery_overdue", "o1", impaired_since=700),
            on_host("impaired", "i1", system_status="impaired"),
            on_host("retiring", "e1", events=[{"code": "instance-retirement", "not_before": "2030-01-01T00:00:00Z"},
                                              {"code": "system-reboot", "not_before": "2030-01-02T00:00:00Z",
                                               "description": "[Completed] rebooted"}]),
            on_host("quiet", "q1"),
        ],
    ))
    hosts = ids["hosts"]

    result = health_info(simulator, tmp_path, aws_recovery_grace_period=600)
    elapsed = time.time() - loaded

    by_id = dict((entry["host_id"], entry) for entry in result["hosts"])
    classes = dict((name, by_id[host_id]["health"]) for name, host_id in hosts.items())
    assert classes == {
        "released": "gone", "released_pf": "gone",                     # row 1
        "assessed_no_recovery": "failed",                              # row 2
        "recovering": "degraded",                                      # row 4
        "recovery_overdue": "failed",                                  # row 5
        "broken_no_maintenance": "failed",                             # row 6
        "broken_maintained": "degraded",                               # row 7
        "aws_replacement": "degraded",                                 # row 8
        "impaired": "failed",                                          # row 9
        "retiring": "degraded",                                        # row 10
        "quiet": "healthy",                                            # row 11
    }
    assert result["summary"] == {"healthy": 1, "degraded": 4, "failed": 4, "gone": 2}
    recovering = by_id[hosts["recovering"]]
    # 540 s of grace were left at the load (ImpairedSince has whole seconds); the module read the host within ``elapsed``.
    assert recovering["aws_recovery"]["in_progress"] is True
    assert 539 - elapsed <= recovering["aws_recovery"]["seconds_left"] <= 541
    assert "a failover waits until %s" % recovering["aws_recovery"]["grace_ends"] in recovering["reasons"][0]
    assert "within the grace period" in by_id[hosts["recovery_overdue"]]["reasons"][0]
    maintained = by_id[hosts["broken_maintained"]]
    assert maintained["maintenance_replacement_candidates"] == [hosts["aws_replacement"]]
    assert hosts["aws_replacement"] in maintained["reasons"][0]
    retiring = by_id[hosts["retiring"]]
    assert retiring["reasons"] == ["instance %s has a scheduled instance-retirement event not before 2030-01-01T00:00:00Z"
                                   % ids["instances"]["e1"]]
    assert [event["code"] for event in retiring["instances"][0]["events"]] == ["instance-retirement", "system-reboot"]

    ignored = health_info(simulator, tmp_path, host_ids=[hosts["recovering"], hosts["broken_maintained"]], ignore_aws_recovery=True,
                          health=["failed"])
    assert [entry["health"] for entry in ignored["hosts"]] == ["failed", "failed"]  # row 3 and row 7 ignored


def recovering_world(grace_instances=1):
    return world(
        [failed_host(state="under-assessment", host_recovery="on"), pool_host()],
        [on_failed("web", count=grace_instances)],
    )


def test_the_failover_waits_for_aws_recovery_then_proceeds_after_the_grace_period(simulator, migration_table, run_playbook):
    ids = load(simulator, recovering_world())
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "aws_recovery_grace_period": "3", "poll_interval": "0.25"})

    assert result.returncode == 0, result
    assert "AWS host recovery in progress since" in result.stdout
    assert simulator.control.call_count("ec2", "DescribeHosts") >= 3  # the first read, then the wait's re-reads
    assert instance_view(simulator, ids["instances"].values())[ids["instances"]["web-0"]][:2] == ("running", pool)
    assert read_record(simulator, failed)["State"] == "complete"


def wait_for_calls(simulator, action, count, timeout=60):
    deadline = time.time() + timeout
    while simulator.control.call_count("ec2", action) < count:
        assert time.time() < deadline, "the playbook never re-read the host"
        time.sleep(0.1)


def test_the_failover_ends_recovered_by_aws_when_aws_finishes_during_the_wait(simulator, migration_table, tmp_path):
    ids = load(simulator, recovering_world(grace_instances=2))
    failed = ids["hosts"]["failed"]
    simulator.control.reset_calls()

    started = start_playbook(simulator, "failover.yml", {"failed_host_id": failed, "aws_recovery_grace_period": "120", "poll_interval": "0.2"},
                             report_dir=str(tmp_path / "reports"))
    wait_for_calls(simulator, "DescribeHosts", 2)  # the first read, then the wait has begun
    recovery = simulator.control.complete_host_recovery(failed)
    result = finish_playbook(started, timeout=120)

    assert result.returncode == 0, result
    assert "RECOVERED BY AWS" in result.stdout and "nothing was changed" in result.stdout
    assert state_changing_calls(simulator) == {}
    assert read_record(simulator, failed) is None
    view = instance_view(simulator, ids["instances"].values())
    assert set(entry[:2] for entry in view.values()) == {("running", recovery["replacement_host_id"])}
    assert result.report(failed)["outcome"] == "recovered by AWS"


def maintained_world():
    return world(
        [failed_host(host_maintenance="on", allocation_time=3600),
         dict(failed_host("aws_replacement", state="pending", host_maintenance="on"), tags={"Name": "failed", "CostCenter": "42"}),
         pool_host()],
        [on_failed("web")],
    )


def test_a_host_under_aws_maintenance_is_deferred_naming_the_replacement_without_any_change(simulator, migration_table, run_playbook):
    ids = load(simulator, maintained_world())
    failed, replacement = ids["hosts"]["failed"], ids["hosts"]["aws_replacement"]
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": failed})

    assert result.returncode != 0, result
    assert "DEFERRED TO AWS MAINTENANCE" in result.stdout
    assert "candidate replacement(s): %s" % replacement in result.output
    assert "rerun with ignore_aws_recovery=true, or name AWS's replacement with target_host_ids=%s" % replacement in result.output
    assert state_changing_calls(simulator) == {}
    assert read_record(simulator, failed) is None
    assert result.report(failed)["outcome"] == "deferred to AWS maintenance"


def test_ignore_aws_recovery_fails_over_a_host_under_aws_maintenance(simulator, migration_table, run_playbook):
    ids = load(simulator, maintained_world())
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "ignore_aws_recovery": "true"})

    assert result.returncode == 0, result
    assert instance_view(simulator, [ids["instances"]["web"]])[ids["instances"]["web"]][:2] == ("running", pool)


def test_ignore_aws_recovery_does_not_wait_for_aws_recovery(simulator, migration_table, run_playbook):
    ids = load(simulator, recovering_world())
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "ignore_aws_recovery": "true"})

    assert result.returncode == 0, result
    assert "AWS host recovery in progress" not in result.stdout
    assert instance_view(simulator, [ids["instances"]["web-0"]])[ids["instances"]["web-0"]][:2] == ("running", pool)


def test_after_the_grace_period_the_failover_turns_aws_recovery_off_before_it_stops_anything(simulator, migration_table, run_playbook):
    ids = load(simulator, recovering_world())
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": failed, "aws_recovery_grace_period": "0"})

    assert result.returncode == 0, result
    assert "AWS host recovery turned off on %s" % failed in result.stdout
    ec2_log = [entry["action"] for entry in simulator.control.call_log() if entry["service"] == "ec2"]
    assert ec2_log.count("ModifyHosts") == 1
    assert ec2_log.index("ModifyHosts") < ec2_log.index("StopInstances")
    assert simulator.client("ec2").describe_hosts(HostIds=[failed])["Hosts"][0]["HostRecovery"] == "off"
    record = read_record(simulator, failed)
    assert (record["State"], record["HostRecoveryTurnedOff"]["previous"]) == ("complete", "on")
    assert instance_view(simulator, [ids["instances"]["web-0"]])[ids["instances"]["web-0"]][:2] == ("running", pool)
    with pytest.raises(ControlAPIError, match="host recovery off"):  # AWS can no longer move them too
        simulator.control.complete_host_recovery(failed)


def test_check_mode_leaves_aws_recovery_on_and_says_it_would_turn_it_off(simulator, migration_table, run_playbook):
    ids = load(simulator, recovering_world())
    failed = ids["hosts"]["failed"]
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": failed, "ignore_aws_recovery": "true"}, check=True)

    assert result.returncode == 0, result
    assert "would turn AWS host recovery off on %s before any instance is stopped" % failed in result.stdout
    assert state_changing_calls(simulator) == {}
    assert simulator.client("ec2").describe_hosts(HostIds=[failed])["Hosts"][0]["HostRecovery"] == "on"


def test_a_pending_replacement_from_aws_maintenance_is_waited_for_and_used_as_the_target(
        simulator, migration_table, run_playbook, tmp_path):
    ids = load(simulator, world(
        [failed_host(host_maintenance="on", allocation_time=3600), pool_host()],
        [on_failed("web")],
    ))
    failed, web = ids["hosts"]["failed"], ids["instances"]["web"]
    replacement = simulator.control.allocate_maintenance_replacement(failed)["replacement_host_id"]

    deferred = run_playbook("failover.yml", {"failed_host_id": failed})
    assert deferred.returncode != 0 and "target_host_ids=%s" % replacement in deferred.output, deferred
    simulator.control.reset_calls()

    started = start_playbook(simulator, "failover.yml", {"failed_host_id": failed, "target_host_ids": replacement, "settle_timeout": "60"},
                             report_dir=str(tmp_path / "reports"))
    # Two reads in preflight, the failed host and the target in planning, then the wait's first read: AWS finishes now.
    wait_for_calls(simulator, "DescribeHosts", 5)
    simulator.control.set_host_state(replacement, "available")
    result = finish_playbook(started, timeout=120)

    assert result.returncode == 0, result
    assert "waited for %s (allocated by AWS host maintenance) to become available" % replacement in result.stdout
    assert instance_view(simulator, [web])[web][:2] == ("running", replacement)
    assert read_record(simulator, failed)["ReplacementHostIds"] == [replacement]
