"""extensions/awx/assets.json, the job templates as code for `awx import`, checked against AWX's documented rules.

AWX's survey rules (api/v2/job_templates/N/survey_spec/): every question has question_name, variable, type and
required; type is one of AWX's; multiple-choice questions carry their choices and a default among them; integer
bounds are integers. Schedules take an RFC 5545 rrule as one line: DTSTART with a TZID, then an RRULE.
"""

import json
import os
import re

import pytest
import yaml
from dateutil.rrule import rrulestr

from conftest import REPO_ROOT
from conftest import instance_view
from conftest import state_changing_calls
from scenarios import failed_host
from scenarios import load
from scenarios import on_host
from scenarios import pool_host
from scenarios import world
from test_health_check import STATS
from test_health_check import custom_stats

ASSETS = os.path.join(REPO_ROOT, "extensions", "awx", "assets.json")
SURVEY_TYPES = {"text", "textarea", "password", "multiplechoice", "multiselect", "integer", "float"}
REQUIRED_KEYS = {"question_name", "variable", "type", "required"}
FAILOVER_PLAYBOOK = "playbooks/failover.yml"
HEALTH_PLAYBOOK = "playbooks/health_check.yml"
ABORT_PLAYBOOK = "playbooks/abort.yml"


@pytest.fixture(scope="module")
def assets():
    with open(ASSETS, encoding="utf-8") as handle:
        return json.load(handle)


def templates_by_playbook(assets):
    return dict((template["playbook"], template) for template in assets["job_templates"])


def playbook_inputs(playbook):
    """The variables a playbook normalises: the keys of every `*_inputs` fact it sets."""
    with open(os.path.join(REPO_ROOT, playbook), encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    names = set()
    for play in plays:
        for task in play.get("tasks", []):
            for fact, value in (task.get("ansible.builtin.set_fact") or {}).items():
                if fact.endswith("_inputs") and isinstance(value, dict):
                    names.update(value)
    return names


def documented_variables():
    """The public variables of docs/variables.md (the first column of its tables)."""
    with open(os.path.join(REPO_ROOT, "docs", "variables.md"), encoding="utf-8") as handle:
        return set(re.findall(r"^\| `([a-z0-9_]+)`", handle.read(), re.MULTILINE))


def accepted_variables(playbook):
    """What the playbook accepts; a playbook not written yet is held to its documented variables."""
    if os.path.exists(os.path.join(REPO_ROOT, playbook)):
        return playbook_inputs(playbook)
    return documented_variables()


def test_every_survey_question_follows_awx_rules(assets):
    surveys = [template["related"]["survey_spec"] for template in assets["job_templates"]]
    assert len(surveys) == 3
    for survey in surveys:
        assert {"name", "description", "spec"} <= set(survey)
        variables = [question["variable"] for question in survey["spec"]]
        assert len(variables) == len(set(variables)), variables
        for question in survey["spec"]:
            assert REQUIRED_KEYS <= set(question), question
            assert question["type"] in SURVEY_TYPES, question
            assert isinstance(question["required"], bool), question
            if question["type"] in ("multiplechoice", "multiselect"):
                assert isinstance(question["choices"], list) and question["choices"], question
                if "default" in question:
                    defaults = question["default"].split("\n") if question["type"] == "multiselect" else [question["default"]]
                    assert set(defaults) <= set(question["choices"]), question
            if question["type"] in ("integer", "float"):
                bounds = [question[key] for key in ("min", "max") if question.get(key) is not None]
                number = int if question["type"] == "integer" else (int, float)
                assert all(isinstance(bound, number) and not isinstance(bound, bool) for bound in bounds), question
                assert bounds == sorted(bounds), question
                if "default" in question and question["default"] not in ("", None):
                    assert bounds[0] <= question["default"] <= bounds[-1], question
            for key in ("min", "max"):
                assert question.get(key) is None or isinstance(question[key], int), question


def test_the_failover_survey_asks_what_the_issue_needs_and_leaves_the_host_without_default(assets):
    failover = templates_by_playbook(assets)[FAILOVER_PLAYBOOK]
    questions = dict((question["variable"], question) for question in failover["related"]["survey_spec"]["spec"])
    assert set(questions) == {"failed_host_id", "migration_table", "notification_topic_arn", "failover_concurrency", "force"}
    # A default would be sent with every launch and override the workflow's failed_host_ids artifact.
    host = questions["failed_host_id"]
    assert host["type"] == "text" and host["required"] is False and "default" not in host
    assert questions["force"]["type"] == "multiplechoice"
    assert questions["force"]["choices"] == ["true", "false"] and questions["force"]["default"] == "false"
    assert questions["failover_concurrency"]["type"] == "integer" and questions["failover_concurrency"]["min"] == 1
    # Check mode is the job type, prompted on launch, not a survey variable.
    assert "check_mode" not in questions and "ansible_check_mode" not in questions
    assert failover["job_type"] == "run" and failover["ask_job_type_on_launch"] is True
    # A second host's failover must not queue behind the first.
    assert failover["allow_simultaneous"] is True
    assert failover["survey_enabled"] is True


def test_the_health_check_survey_and_forks(assets):
    health = templates_by_playbook(assets)[HEALTH_PLAYBOOK]
    questions = dict((question["variable"], question) for question in health["related"]["survey_spec"]["spec"])
    assert questions["aws_regions"]["type"] == "text"
    assert questions["auto_failover"]["type"] == "multiplechoice" and questions["auto_failover"]["default"] == "false"
    # Forks bound the hosts failed over at once: at least failover_host_concurrency's default (docs/variables.md).
    for template in assets["job_templates"]:
        assert template["forks"] >= 10, template["name"]


def test_the_abort_template_comes_last_and_asks_for_the_host_and_the_reason(assets):
    abort = assets["job_templates"][-1]
    assert abort["playbook"] == ABORT_PLAYBOOK and abort["survey_enabled"] is True
    questions = dict((question["variable"], question) for question in abort["related"]["survey_spec"]["spec"])
    assert set(questions) == {"failed_host_id", "abort_reason"}
    assert questions["failed_host_id"]["required"] is True and questions["failed_host_id"]["type"] == "text"
    assert questions["abort_reason"]["required"] is False
    # It runs while the failover job runs, and its check mode (the job type) writes nothing.
    assert abort["allow_simultaneous"] is True and abort["ask_job_type_on_launch"] is True


@pytest.mark.parametrize("playbook", [FAILOVER_PLAYBOOK, HEALTH_PLAYBOOK, ABORT_PLAYBOOK])
def test_every_survey_variable_is_a_public_variable_of_its_playbook(assets, playbook):
    template = templates_by_playbook(assets)[playbook]
    accepted = accepted_variables(playbook)
    assert accepted, playbook
    surveyed = [question["variable"] for question in template["related"]["survey_spec"]["spec"]]
    assert [name for name in surveyed if name not in accepted] == []


def test_the_schedule_is_an_rrule_awx_accepts(assets):
    health = templates_by_playbook(assets)[HEALTH_PLAYBOOK]
    schedules = health["related"]["schedules"]
    assert len(schedules) == 1
    rule = schedules[0]["rrule"]
    # AWX's form: one line, DTSTART with a time zone, a space, then the RRULE.
    assert re.fullmatch(r"DTSTART;TZID=[A-Za-z_/+-]+:\d{8}T\d{6} RRULE:[A-Z]+=[^ ]+", rule), rule
    parsed = rrulestr(rule.replace(" RRULE:", "\nRRULE:"), forceset=False)
    first, second = parsed[0], parsed[1]
    assert (second - first).total_seconds() == 15 * 60
    assert first.tzinfo is not None
    assert schedules[0]["natural_key"]["unified_job_template"] == health["natural_key"]


def test_the_workflow_runs_health_check_then_approval_then_failover(assets):
    keys = dict((json.dumps(template["natural_key"], sort_keys=True), template) for template in assets["job_templates"])
    (workflow,) = assets["workflow_job_templates"]
    nodes = dict((node["identifier"], node) for node in workflow["related"]["workflow_nodes"])
    for node in nodes.values():
        assert node["natural_key"]["workflow_job_template"] == workflow["natural_key"]
        if "unified_job_template" in node:
            assert json.dumps(node["unified_job_template"], sort_keys=True) in keys, node["identifier"]
        for link in ("success_nodes", "failure_nodes", "always_nodes"):
            for target in node["related"][link]:
                assert target["identifier"] in nodes and target["workflow_job_template"] == workflow["natural_key"]

    def template_of(node):
        return keys[json.dumps(node["unified_job_template"], sort_keys=True)]["playbook"]

    def followers(node):
        return [nodes[target["identifier"]] for target in node["related"]["success_nodes"]]

    children = set(target["identifier"] for node in nodes.values() for link in ("success_nodes", "failure_nodes", "always_nodes")
                   for target in node["related"][link])
    (root,) = [node for name, node in nodes.items() if name not in children]
    assert template_of(root) == HEALTH_PLAYBOOK
    # The scan inside the workflow only reports: the failover waits for the approval.
    assert root["extra_data"].get("auto_failover") == "false"
    (approval,) = followers(root)
    assert "unified_job_template" not in approval and approval["related"]["create_approval_template"]["name"]
    (failover,) = followers(approval)
    assert template_of(failover) == FAILOVER_PLAYBOOK
    # The hosts come from the health check's set_stats artifact: nothing on the node may override them.
    assert not {"failed_host_id", "failed_host_ids"} & set(failover["extra_data"])
    assert followers(failover) == []


def test_references_point_at_objects_in_the_file(assets):
    defined = set()
    for kind in ("execution_environments", "projects", "inventory", "job_templates", "workflow_job_templates"):
        defined.update(json.dumps(entry["natural_key"], sort_keys=True) for entry in assets[kind])
    for template in assets["job_templates"]:
        for field in ("project", "inventory", "execution_environment"):
            assert json.dumps(template[field], sort_keys=True) in defined, (template["name"], field)
    for project in assets["projects"]:
        assert json.dumps(project["default_environment"], sort_keys=True) in defined


def launch_variables(template, *layers):
    """The extra variables AWX gives a job: the survey's defaults, then each layer (node data, artifacts) on top."""
    variables = dict((question["variable"], question["default"]) for question in template["related"]["survey_spec"]["spec"]
                     if question.get("default") not in (None, ""))
    for layer in layers:
        variables.update(layer)
    return variables


def test_the_workflow_hands_the_failed_hosts_from_the_health_check_to_the_failover(simulator, migration_table, run_playbook, assets):
    """The workflow as AWX runs it, node by node, against the simulator (the approval granted)."""
    ids = load(simulator, world(
        [failed_host("broken", host_maintenance="off"), pool_host("pool"), pool_host("steady", tags={"Name": "steady"})],
        [on_host("broken", "web", count=2), on_host("steady", "calm")],
    ))
    templates = templates_by_playbook(assets)
    (workflow,) = assets["workflow_job_templates"]
    nodes = dict((node["identifier"], node) for node in workflow["related"]["workflow_nodes"])
    simulator.control.reset_calls()

    scan = run_playbook("health_check.yml", launch_variables(templates[HEALTH_PLAYBOOK], nodes["health-check"]["extra_data"]), env=STATS)
    assert scan.returncode == 0, scan
    artifacts = custom_stats(scan)
    assert artifacts["failed_host_ids"] == [ids["hosts"]["broken"]]
    assert state_changing_calls(simulator) == {}  # the scan before the approval changes nothing

    failover_variables = launch_variables(templates[FAILOVER_PLAYBOOK], nodes["fail-over-failed-hosts"]["extra_data"], artifacts)
    assert failover_variables["failed_host_ids"] == [ids["hosts"]["broken"]] and "failed_host_id" not in failover_variables
    moved = run_playbook("failover.yml", failover_variables)
    assert moved.returncode == 0, moved
    view = instance_view(simulator, ids["instances"].values())
    assert [view[ids["instances"][name]][:2] for name in ("web-0", "web-1")] == [("running", ids["hosts"]["pool"])] * 2
    assert view[ids["instances"]["calm"]][:2] == ("running", ids["hosts"]["steady"])


def test_the_workflow_failover_succeeds_doing_nothing_when_nothing_failed(simulator, migration_table, run_playbook, assets):
    load(simulator, world([pool_host("steady", tags={"Name": "steady"})], [on_host("steady", "calm")]))
    templates = templates_by_playbook(assets)
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", launch_variables(templates[FAILOVER_PLAYBOOK], {"failed_host_ids": []}))

    assert result.returncode == 0, result
    assert "nothing to do" in result.stdout
    assert state_changing_calls(simulator) == {}
