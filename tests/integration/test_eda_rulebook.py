"""The Event-Driven Ansible rulebook: ansible-lint (offline, no Java) validates it as a rulebook against the
rulebook schema, and its rule sends Dedicated Host Health events to the health check, never to the failover."""

import json
import os
import re
import subprocess
import sys

import yaml

from conftest import COLLECTIONS_PATH
from conftest import REPO_ROOT

RULEBOOK = os.path.join("extensions", "eda", "rulebooks", "dedicated_host_events.yml")
ANSIBLE_LINT = os.path.join(os.path.dirname(sys.executable), "ansible-lint")
EVENT_SOURCES = os.path.join(COLLECTIONS_PATH, "ansible_collections", "amazon", "aws", "extensions", "eda", "plugins", "event_source")
# AWS Health's Dedicated Host event codes (docs/awx.md).
HOST_EVENT_CODES = {
    "AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED",
    "AWS_EC2_DEDICATED_HOST_ACCESSREVOKED_RETIREMENT_SCHEDULED",
    "AWS_EC2_DEDICATED_HOST_NETWORK_MAINTENANCE_SCHEDULED",
    "AWS_EC2_DEDICATED_HOST_POWER_MAINTENANCE_SCHEDULED",
    "AWS_EC2_DEDICATED_HOST_MAINTENANCE_SCHEDULED",
}


def lint(path, cwd):
    return subprocess.run([ANSIBLE_LINT, "--offline", "-vv", "-f", "json", path], capture_output=True, text=True, check=False, cwd=cwd,
                          env=dict(os.environ, NO_COLOR="1", ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH))


def test_ansible_lint_validates_the_rulebook_as_a_rulebook():
    result = lint(RULEBOOK, REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout or "[]") == []
    assert re.search(r"Examining %s of type rulebook" % re.escape(RULEBOOK), result.stderr), result.stderr


def test_ansible_lint_refuses_a_rulebook_that_breaks_the_schema(tmp_path):
    # The same check on a copy whose action misses the template's name: proof the schema is applied.
    with open(os.path.join(REPO_ROOT, RULEBOOK), encoding="utf-8") as handle:
        rulebook = yaml.safe_load(handle)
    del rulebook[0]["rules"][0]["action"]["run_job_template"]["name"]
    broken = tmp_path / "extensions" / "eda" / "rulebooks" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("---\n" + yaml.safe_dump(rulebook, explicit_start=False), encoding="utf-8")
    result = lint(os.path.relpath(str(broken), str(tmp_path)), str(tmp_path))
    assert result.returncode != 0
    assert "schema[rulebook]" in [issue["check_name"] for issue in json.loads(result.stdout)]


def test_the_rule_runs_the_health_check_for_the_hosts_region_on_dedicated_host_events():
    with open(os.path.join(REPO_ROOT, RULEBOOK), encoding="utf-8") as handle:
        (ruleset,) = yaml.safe_load(handle)
    (source,) = ruleset["sources"]
    (plugin,) = [key for key in source if key != "name"]
    assert plugin == "amazon.aws.aws_sqs_queue"
    # amazon.aws ships the event source the rulebook names.
    assert os.path.isfile(os.path.join(EVENT_SOURCES, plugin.rsplit(".", 1)[1] + ".py"))
    assert source[plugin]["name"] and source[plugin]["region"]

    (rule,) = ruleset["rules"]
    condition = rule["condition"]
    assert 'event.body.source == "aws.health"' in condition
    assert set(re.findall(r"AWS_EC2_[A-Z_]+", condition)) == HOST_EVENT_CODES
    action = rule["action"]
    assert list(action) == ["run_job_template"]
    with open(os.path.join(REPO_ROOT, "extensions", "awx", "assets.json"), encoding="utf-8") as handle:
        templates = dict((template["name"], template) for template in json.load(handle)["job_templates"])
    launched = templates[action["run_job_template"]["name"]]
    # The health check applies the health table; the failover is never launched straight from an event.
    assert launched["playbook"] == "playbooks/health_check.yml"
    assert launched["ask_variables_on_launch"] is True
    assert launched["natural_key"]["organization"]["name"] == action["run_job_template"]["organization"]
    extra_vars = action["run_job_template"]["job_args"]["extra_vars"]
    assert extra_vars["aws_regions"] == "{{ event.body.region }}"
    assert "event.body.resources" in " ".join(extra_vars.values())


def test_the_eventbridge_rule_setup_creates_sends_exactly_the_events_the_rulebook_reacts_to():
    with open(os.path.join(REPO_ROOT, RULEBOOK), encoding="utf-8") as handle:
        (ruleset,) = yaml.safe_load(handle)
    condition = ruleset["rules"][0]["condition"]
    with open(os.path.join(REPO_ROOT, "playbooks", "setup.yml"), encoding="utf-8") as handle:
        (play,) = yaml.safe_load(handle)
    (rule,) = [task["amazon.aws.cloudwatchevent_rule"] for task in play["tasks"] if "amazon.aws.cloudwatchevent_rule" in task]
    pattern = rule["event_pattern"]

    assert pattern["source"] == ["aws.health"] and 'event.body.source == "aws.health"' in condition
    assert pattern["detail-type"] == ["AWS Health Event"] and pattern["detail"]["service"] == ["EC2"]
    codes = pattern["detail"]["eventTypeCode"]
    assert len(codes) == len(set(codes))
    assert set(codes) == set(re.findall(r"AWS_EC2_[A-Z_]+", condition)) == HOST_EVENT_CODES
    # The rule targets the queue setup.yml creates, the queue the activation names in sqs_queue_name.
    assert [target["arn"] for target in rule["targets"]] == ["{{ setup_event_queue.queue_arn }}"]
