"""Hosts in another account: assume_role_arn for the EC2 side, the table and the topic on the run's credentials."""

from conftest import instance_view
from conftest import read_record
from conftest import state_changing_calls
from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import pool_host
from scenarios import world
from test_health_check import STATS

ROLE_ARN = "arn:aws:iam::123456789012:role/dedicated-hosts-failover"
CALLER_KEY = "AKIAFAILOVERCALLER"


def test_assume_role_arn_moves_the_hosts_with_the_role_and_keeps_the_record_on_the_callers_credentials(
        simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=2)]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": failed, "assume_role_arn": ROLE_ARN,
                                           "assume_role_external_id": "night-shift-42", "assume_role_session_name": "night-shift"},
                          env={"AWS_ACCESS_KEY_ID": CALLER_KEY})

    log = simulator.control.call_log()  # the run's calls only: the checks below read with the harness's own key
    assert result.returncode == 0, result
    assert read_record(simulator, failed)["State"] == "complete"
    assert all(view[:2] == ("running", pool) for view in instance_view(simulator, ids["instances"].values()).values())
    keys = dict((service, set(entry["access_key"] for entry in log if entry["service"] == service)) for service in ("sts", "ec2", "dynamodb"))
    assert keys["sts"] == {CALLER_KEY} and keys["dynamodb"] == {CALLER_KEY}
    assert keys["ec2"] and CALLER_KEY not in keys["ec2"], keys  # every EC2 call with the role's temporary keys
    for key in keys["ec2"] | {CALLER_KEY}:
        assert key not in result.output


def test_a_malformed_role_arn_is_refused_before_any_change(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web")]))
    failed = ids["hosts"]["failed"]
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": failed, "assume_role_arn": "arn:aws:iam::12345:role/x"})

    assert result.returncode != 0
    assert "assume_role_arn 'arn:aws:iam::12345:role/x' is malformed" in result.output, result
    assert state_changing_calls(simulator) == {}
    assert [entry for entry in simulator.control.call_log() if entry["service"] == "sts"] == []


def test_the_health_check_scans_and_fails_over_with_the_role(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web")]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    simulator.control.reset_calls()

    result = run_playbook("health_check.yml", {"auto_failover": "true", "assume_role_arn": ROLE_ARN},
                          env=dict(STATS, AWS_ACCESS_KEY_ID=CALLER_KEY))

    scans = [entry["access_key"] for entry in simulator.control.call_log() if entry["action"] == "DescribeHosts"]
    assert result.returncode == 0, result
    assert read_record(simulator, failed)["State"] == "complete"
    assert instance_view(simulator, ids["instances"].values())[ids["instances"]["web"]][:2] == ("running", pool)
    assert scans and CALLER_KEY not in scans
