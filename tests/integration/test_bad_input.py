"""Bad input to playbooks/failover.yml: each value is refused with an error naming it, before any state-changing call.

The catalogue (value, message, where it is refused) is docs/faults-and-bad-input.md.
"""

import subprocess

import pytest

from conftest import ANSIBLE_PLAYBOOK
from conftest import playbook_env
from conftest import read_record
from conftest import state_changing_calls
from scenarios import failed_host
from scenarios import on_failed
from scenarios import pool_host
from scenarios import world


FAILED_HOST = "<failed>"  # replaced by the scenario's failed host id

# (id, scenario change, extra vars, text the error must contain besides the bad value, the bad value as shown)
CATALOGUE = [
    ("malformed-host-id", None, {"failed_host_id": "h-12345"}, "is malformed", "h-12345"),
    ("instance-id-as-host-id", None, {"failed_host_id": "i-0123456789abcdef0"}, "is malformed", "i-0123456789abcdef0"),
    ("unknown-host", None, {"failed_host_id": "h-0123456789abcdef0"}, "not found", "h-0123456789abcdef0"),
    ("released-host", "released", {}, "is released", FAILED_HOST),
    ("healthy-host-without-force", "healthy", {}, "looks healthy", FAILED_HOST),
    ("healthy-host-force-string-false", "healthy", {"force": "false"}, "looks healthy", FAILED_HOST),
    ("force-not-a-boolean", None, {"force": "maybe"}, "force: 'maybe' is not a valid bool", "maybe"),
    ("topic-arn-not-an-arn", None, {"notification_topic_arn": "host-failover"}, "notification_topic_arn", "host-failover"),
    ("topic-arn-short-account", None, {"notification_topic_arn": "arn:aws:sns:us-east-1:1234:host-failover"},
     "is malformed", "arn:aws:sns:us-east-1:1234:host-failover"),
    ("topic-arn-of-another-service", None, {"notification_topic_arn": "arn:aws:sqs:us-east-1:123456789012:inbox"},
     "is not an sns ARN", "arn:aws:sqs:us-east-1:123456789012:inbox"),
    ("concurrency-zero", None, {"failover_concurrency": "0"}, "failover_concurrency: '0' is not allowed: it must be 1 or more", "0"),
    ("concurrency-negative", None, {"failover_concurrency": "-2"}, "failover_concurrency: '-2' is not allowed", "-2"),
    ("concurrency-not-a-number", None, {"failover_concurrency": "all"}, "failover_concurrency: 'all' is not a valid int", "all"),
    ("force-stop-after-not-a-number", None, {"force_stop_after": "soon"}, "force_stop_after: 'soon' is not a valid float", "soon"),
    ("force-stop-after-negative", None, {"force_stop_after": "-1"}, "force_stop_after: '-1' is not allowed: it must be greater than 0", "-1"),
    ("stop-timeout-zero", None, {"stop_timeout": "0"}, "stop_timeout: '0' is not allowed", "0"),
    ("stop-timeout-not-a-number", None, {"stop_timeout": "10m"}, "stop_timeout: '10m' is not a valid float", "10m"),
    ("start-timeout-negative", None, {"start_timeout": "-600"}, "start_timeout: '-600' is not allowed", "-600"),
    ("start-timeout-not-finite", None, {"start_timeout": "nan"}, "start_timeout: 'nan' is not a finite number", "nan"),
    ("poll-interval-negative", None, {"poll_interval": "-0.5"}, "poll_interval: '-0.5' is not allowed", "-0.5"),
    ("lease-seconds-not-a-number", None, {"failover_lease_seconds": "2min"}, "failover_lease_seconds: '2min' is not a valid float", "2min"),
    ("lease-seconds-negative", None, {"failover_lease_seconds": "-120"}, "failover_lease_seconds: '-120' is not allowed", "-120"),
    ("max-new-hosts-negative", None, {"max_new_hosts": "-1"}, "max_new_hosts: '-1' is not allowed: it must be 0 or more", "-1"),
    ("start-attempts-zero", None, {"start_attempts": "0"}, "start_attempts: '0' is not allowed", "0"),
    ("host-region-not-a-region", None, {"failed_host_regions": {"h-0123456789abcdef0": "us-east-1; true"}},
     "failed_host_regions:", "us-east-1; true is not a region name"),
]


def scenario_for(change):
    if change == "released":
        return world([failed_host(state="released"), pool_host()], [])
    if change == "healthy":
        return world([failed_host(state="available"), pool_host()], [on_failed("web", system_status="ok")])
    return world([failed_host(), pool_host()], [on_failed("web")])


@pytest.mark.parametrize("change, extra_vars, expected, shown", [entry[1:] for entry in CATALOGUE], ids=[entry[0] for entry in CATALOGUE])
def test_bad_input_is_refused_naming_the_value_before_any_change(simulator, migration_table, run_playbook, change, extra_vars, expected, shown):
    ids = simulator.load_scenario(scenario_for(change), reset=False)
    failed = ids["hosts"]["failed"]
    variables = dict({"failed_host_id": failed}, **extra_vars)
    shown = failed if shown == FAILED_HOST else shown
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", variables)

    assert result.returncode != 0, result
    output = result.output.replace("''", "'")  # older ansible-core quotes a quote inside a YAML string by doubling it
    assert expected in output, result
    assert shown in output, result
    assert state_changing_calls(simulator) == {}
    assert read_record(simulator, variables["failed_host_id"]) is None


def run_placement_task(simulator, tmp_path, name, option):
    """One instance_placement task with ``option`` added, run by ansible-playbook; returns the result."""
    playbook = tmp_path / "task.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: %s\n"
        "      dedicated_hosts.failover.instance_placement:\n"
        "        failed_host_id: h-0123456789abcdef0\n"
        "        run_id: run-1\n"
        "        placements: []\n"
        "        %s\n" % (name, option)
    )
    simulator.control.reset_calls()
    return subprocess.run([ANSIBLE_PLAYBOOK, str(playbook)], env=playbook_env(simulator), capture_output=True, text=True,
                          timeout=120, check=False, cwd=str(tmp_path))


def test_an_unknown_module_option_is_refused_by_ansible_before_any_call(simulator, migration_table, tmp_path):
    result = run_placement_task(simulator, tmp_path, "Move with an option that does not exist", "concurency: 4")

    assert result.returncode != 0, result.stdout + result.stderr
    assert "Unsupported parameters" in result.stdout and "concurency" in result.stdout, result.stdout
    assert not simulator.control.call_log()


def test_a_module_refuses_concurrency_zero_before_any_call(simulator, migration_table, tmp_path):
    result = run_placement_task(simulator, tmp_path, "Move with concurrency 0", "concurrency: 0")

    assert result.returncode != 0, result.stdout + result.stderr
    assert "concurrency must be 1 or more" in result.stdout and "got 0" in result.stdout, result.stdout
    assert not simulator.control.call_log()


def test_a_host_with_no_instances_completes_with_nothing_moved(simulator, migration_table, run_playbook):
    ids = simulator.load_scenario(world([failed_host(), pool_host()], []), reset=False)
    failed = ids["hosts"]["failed"]
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": failed})

    assert result.returncode == 0, result
    record = read_record(simulator, failed)
    assert record["State"] == "complete"
    assert (record["TotalInstances"], record["SuccessfulMigrations"], record["FailedMigrations"]) == (0, 0, 0)
    report = result.report(failed)
    assert report["outcome"] == "succeeded"
    assert report["status"]["migrationSummary"]["progressPercentage"] == 100
    moves = ("StopInstances", "StartInstances", "ModifyInstancePlacement", "AllocateHosts")
    assert not [key for key in state_changing_calls(simulator) if key[1] in moves]


def test_a_module_refuses_a_host_id_with_a_trailing_newline_before_any_call(simulator, migration_table, tmp_path):
    result = run_placement_task(simulator, tmp_path, "Move with a spare host id that ends in a newline",
                                'spare_host_ids: ["h-0123456789abcdef0\\n"]')

    assert result.returncode != 0, result.stdout + result.stderr
    assert "spare_host_ids[0] 'h-0123456789abcdef0\\\\n' is malformed" in result.stdout, result.stdout
    assert not simulator.control.call_log()
