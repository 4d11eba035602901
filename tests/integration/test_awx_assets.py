"""extensions/awx/assets.json, the job templates as code for `awx import`, checked against AWX's documented rules.

AWX's survey rules (api/v2/job_templates/N/survey_spec/): every question has question_name, variable, type and
required; type is one of AWX's; multiple-choice questions carry their choices and a default among them; integer
bounds are integers. Schedules take an RFC 5545 rrule as one line: DTSTART with a TZID, then an RRULE.
"""

import json
import os
import re
import sys

import pytest
import yaml
from dateutil.rrule import rrulestr

from conftest import COLLECTIONS_PATH
from conftest import REPO_ROOT
from conftest import create_migration_table
from conftest import instance_view
from conftest import read_record
from conftest import state_changing_calls
from scenarios import failed_host
from scenarios import load
from scenarios import on_host
from scenarios import pool_host
from scenarios import world
from test_health_check import STATS
from test_health_check import custom_stats

if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import SETTINGS  # noqa: E402

ASSETS = os.path.join(REPO_ROOT, "extensions", "awx", "assets.json")
SURVEY_TYPES = {"text", "textarea", "password", "multiplechoice", "multiselect", "integer", "float"}
REQUIRED_KEYS = {"question_name", "variable", "type", "required"}
FAILOVER_PLAYBOOK = "playbooks/failover.yml"
HEALTH_PLAYBOOK = "playbooks/health_check.yml"
STATUS_PLAYBOOK = "playbooks/migration_status.yml"
ABORT_PLAYBOOK = "playbooks/abort.yml"
FAILBACK_PLAYBOOK = "playbooks/failback.yml"
# The SSM hook questions of the failover survey (docs/variables.md): the documents, their timeouts and failure policies.
HOOK_QUESTIONS = {"pre_stop_ssm_document", "pre_stop_ssm_document_timeout", "pre_stop_hook_failure",
                  "post_start_ssm_document", "post_start_ssm_document_timeout", "post_start_hook_failure"}


def load_assets():
    with open(ASSETS, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(name="assets", scope="module")
def assets_fixture():
    return load_assets()


def templates_by_playbook(assets):
    """The first template of each playbook (the failover's sliced template comes after the plain one)."""
    templates = {}
    for template in assets["job_templates"]:
        templates.setdefault(template["playbook"], template)
    return templates


def read_yaml(path):
    with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def playbook_inputs(playbook):
    """The variables a playbook normalises (the keys of every `*_inputs` fact its plays set), and those of the playbooks it imports."""
    names = set()
    for play in read_yaml(playbook):
        if "ansible.builtin.import_playbook" in play:
            names |= playbook_inputs(os.path.join(os.path.dirname(playbook), play["ansible.builtin.import_playbook"]))
        for task in play.get("tasks", []):
            for fact, value in (task.get("ansible.builtin.set_fact") or {}).items():
                if fact.endswith("_inputs") and isinstance(value, dict):
                    names.update(value)
    return names


def playbook_defaults(playbook):
    """{variable: default} of the inputs a playbook normalises with the setting filter (``setting('<name>')``): the table's."""
    with open(os.path.join(REPO_ROOT, playbook), encoding="utf-8") as handle:
        text = handle.read()
    return dict((name, SETTINGS[name].default) for name in re.findall(r"setting\('(\w+)'", text))


def surveys(assets):
    """(name, survey) of every job template and workflow."""
    return [(template["name"], template["related"]["survey_spec"]) for template in assets["job_templates"] + assets["workflow_job_templates"]
            if template["survey_enabled"]]


def test_every_survey_question_follows_awx_rules(assets):
    assert [name for name, _survey in surveys(assets)] == [template["name"] for template in assets["job_templates"]] + [
        workflow["name"] for workflow in assets["workflow_job_templates"]]
    for _name, survey in surveys(assets):
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
    assert set(questions) == {"failed_host_id", "aws_region", "migration_table", "notification_topic_arn", "failover_concurrency",
                              "force"} | HOOK_QUESTIONS
    # A default would be sent with every launch and override the workflow's failed_host_ids artifact.
    # Nor the region: the workflow hands each host's region on (failed_host_regions), aws_region is only the fallback.
    for name in ("failed_host_id", "aws_region"):
        assert questions[name]["type"] == "text" and questions[name]["required"] is False and "default" not in questions[name]
    assert questions["force"]["type"] == "multiplechoice"
    assert questions["force"]["choices"] == ["true", "false"] and questions["force"]["default"] == "false"
    assert questions["failover_concurrency"]["type"] == "integer" and questions["failover_concurrency"]["min"] == 1
    # Check mode is the job type, prompted on launch, not a survey variable.
    assert "check_mode" not in questions and "ansible_check_mode" not in questions
    assert failover["job_type"] == "run" and failover["ask_job_type_on_launch"] is True
    # The hooks are optional, and a launch that leaves them alone gets the playbook's own defaults.
    defaults = playbook_defaults(FAILOVER_PLAYBOOK)
    for name in HOOK_QUESTIONS:
        assert questions[name]["required"] is False, questions[name]
        assert questions[name].get("default", "") == defaults[name], (questions[name], defaults[name])
    assert questions["pre_stop_hook_failure"]["choices"] == ["skip", "fail", "ignore"]
    assert questions["post_start_hook_failure"]["choices"] == ["fail", "ignore"]
    # A second host's failover must not queue behind the first.
    assert failover["allow_simultaneous"] is True
    assert failover["survey_enabled"] is True


def test_the_health_check_survey_and_forks(assets):
    health = templates_by_playbook(assets)[HEALTH_PLAYBOOK]
    questions = dict((question["variable"], question) for question in health["related"]["survey_spec"]["spec"])
    assert questions["aws_regions"]["type"] == "text"
    assert questions["auto_failover"]["type"] == "multiplechoice" and questions["auto_failover"]["default"] == "false"
    # Forks bound the hosts failed over at once: at least failover_host_concurrency's default (docs/variables.md).
    for playbook in (FAILOVER_PLAYBOOK, HEALTH_PLAYBOOK):
        assert templates_by_playbook(assets)[playbook]["forks"] >= 10, playbook


def test_the_abort_template_comes_last_and_asks_for_the_host_the_reason_and_which_run(assets):
    abort = assets["job_templates"][-1]
    assert abort["playbook"] == ABORT_PLAYBOOK and abort["survey_enabled"] is True
    questions = dict((question["variable"], question) for question in abort["related"]["survey_spec"]["spec"])
    assert set(questions) == {"failed_host_id", "abort_reason", "failback"}
    assert questions["failed_host_id"]["required"] is True and questions["failed_host_id"]["type"] == "text"
    assert questions["abort_reason"]["required"] is False
    # A failover unless asked otherwise: the playbook's default.
    assert questions["failback"]["type"] == "multiplechoice" and questions["failback"]["choices"] == ["true", "false"]
    assert questions["failback"]["default"] == "false" and playbook_defaults(ABORT_PLAYBOOK)["failback"] is False
    # It runs while the failover job runs, and its check mode (the job type) writes nothing.
    assert abort["allow_simultaneous"] is True and abort["ask_job_type_on_launch"] is True


def test_the_failback_template_asks_for_the_original_host_and_plans_in_check_mode(assets):
    failback = templates_by_playbook(assets)[FAILBACK_PLAYBOOK]
    questions = dict((question["variable"], question) for question in failback["related"]["survey_spec"]["spec"])
    assert set(questions) == {"failed_host_id", "instance_ids", "aws_region"}
    assert questions["failed_host_id"]["required"] is True and questions["failed_host_id"]["type"] == "text"
    assert "default" not in questions["failed_host_id"]
    assert questions["instance_ids"]["required"] is False and questions["aws_region"]["required"] is False
    # Check mode (the plan only) is the job type, prompted on launch, as for the failover.
    assert failback["job_type"] == "run" and failback["ask_job_type_on_launch"] is True and failback["survey_enabled"] is True
    assert "check_mode" not in questions and "ansible_check_mode" not in questions


def test_every_template_runs_a_playbook_of_the_project_and_asks_only_for_its_inputs(assets):
    assert [template["playbook"] for template in assets["job_templates"]] == [
        FAILOVER_PLAYBOOK, FAILOVER_PLAYBOOK, HEALTH_PLAYBOOK, STATUS_PLAYBOOK, FAILBACK_PLAYBOOK, ABORT_PLAYBOOK]
    for template in assets["job_templates"]:
        assert os.path.isfile(os.path.join(REPO_ROOT, template["playbook"])), template["name"]
        accepted = playbook_inputs(template["playbook"])
        surveyed = [question["variable"] for question in template["related"]["survey_spec"]["spec"]]
        assert [name for name in surveyed if name not in accepted] == [], template["name"]
    # The workflow's answers reach every node: each must be an input of one of its templates' playbooks.
    templates = dict((json.dumps(template["natural_key"], sort_keys=True), template) for template in assets["job_templates"])
    for workflow in assets["workflow_job_templates"]:
        accepted = set()
        for node in workflow["related"]["workflow_nodes"]:
            if "unified_job_template" in node:
                accepted |= playbook_inputs(templates[json.dumps(node["unified_job_template"], sort_keys=True)]["playbook"])
        surveyed = [question["variable"] for question in workflow["related"]["survey_spec"]["spec"]]
        assert surveyed and [name for name in surveyed if name not in accepted] == [], workflow["name"]


def test_the_sliced_failover_splits_the_inventory_plugins_failed_hosts(assets):
    [sliced] = [template for template in assets["job_templates"] if template["job_slice_count"] > 1]
    assert sliced["playbook"] == FAILOVER_PLAYBOOK and sliced["ask_job_slice_count_on_launch"] is True
    extra = yaml.safe_load(sliced["extra_vars"])
    assert extra == {"failover_inventory_group": "health_failed"} and "failover_inventory_group" in playbook_inputs(FAILOVER_PLAYBOOK)
    # The hosts come from the inventory: the survey does not ask for one.
    assert "failed_host_id" not in [question["variable"] for question in sliced["related"]["survey_spec"]["spec"]]
    [inventory] = [entry for entry in assets["inventory"] if entry["natural_key"] == sliced["inventory"]]
    [source] = inventory["related"]["inventory_sources"]
    assert source["source"] == "scm" and source["source_project"] == sliced["project"] and source["update_on_launch"] is True
    config = read_yaml(source["source_path"])
    assert config["plugin"] == "dedicated_hosts.failover.dedicated_hosts"


def test_the_input_check_sees_imported_playbooks():
    # health_check.yml imports failover.yml, so the failover's inputs are the health check's too.
    assert {"failed_host_id", "failed_host_regions", "force"} <= playbook_inputs(FAILOVER_PLAYBOOK)
    assert {"aws_regions", "auto_failover", "failed_host_regions"} <= playbook_inputs(HEALTH_PLAYBOOK)
    assert "failed_host_id" in playbook_inputs(STATUS_PLAYBOOK) and "force" not in playbook_inputs(STATUS_PLAYBOOK)
    assert {"failed_host_id", "abort_reason", "failback"} <= playbook_inputs(ABORT_PLAYBOOK) and "force" not in playbook_inputs(ABORT_PLAYBOOK)
    assert {"failed_host_id", "instance_ids", "aws_region"} <= playbook_inputs(FAILBACK_PLAYBOOK)
    assert "force" not in playbook_inputs(FAILBACK_PLAYBOOK)


def test_the_migration_status_template_shows_a_record_beside_a_running_failover(assets):
    status = templates_by_playbook(assets)[STATUS_PLAYBOOK]
    questions = dict((question["variable"], question) for question in status["related"]["survey_spec"]["spec"])
    assert questions["failed_host_id"]["required"] is False and "default" not in questions["failed_host_id"]
    assert questions["migration_state"]["choices"] == ["pending", "processing", "complete", "failed", "cancelled"]
    # A status job runs while the failover job runs, and several may run at once.
    assert status["allow_simultaneous"] is True and status["job_type"] == "run"


def test_docs_name_every_template(assets):
    with open(os.path.join(REPO_ROOT, "docs", "awx.md"), encoding="utf-8") as handle:
        guide = handle.read()
    for template in assets["job_templates"] + assets["workflow_job_templates"]:
        assert "| %s |" % template["name"] in guide, template["name"]


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


def test_the_workflow_hands_the_failed_hosts_on_with_their_regions(simulator, migration_table, run_playbook, assets):
    """The workflow as AWX runs it, node by node, against the simulator (the approval granted), scanning two regions.

    The credential's region is us-east-1; the host failed in us-west-2 must be failed over there, not looked up in
    us-east-1 ("not found in this region"). Each region keeps its records in its own table (the default).
    """
    east = load(simulator, world(
        [failed_host("broken", host_maintenance="off"), pool_host("pool"), pool_host("steady", tags={"Name": "steady"})],
        [on_host("broken", "web", count=2), on_host("steady", "calm")],
    ))
    west = load(simulator, world(
        [failed_host("west", availability_zone="us-west-2a"), pool_host("west-pool", availability_zone="us-west-2a")],
        [on_host("west", "west-web")], region="us-west-2"))
    create_migration_table(simulator, region="us-west-2")
    templates = templates_by_playbook(assets)
    (workflow,) = assets["workflow_job_templates"]
    nodes = dict((node["identifier"], node) for node in workflow["related"]["workflow_nodes"])
    answers = {"aws_regions": "us-east-1,us-west-2"}  # the workflow's survey, given to every node
    simulator.control.reset_calls()

    scan = run_playbook("health_check.yml", launch_variables(templates[HEALTH_PLAYBOOK], nodes["health-check"]["extra_data"], answers), env=STATS)
    assert scan.returncode == 0, scan
    artifacts = custom_stats(scan)
    broken, far = east["hosts"]["broken"], west["hosts"]["west"]
    assert sorted(artifacts["failed_host_ids"]) == sorted([broken, far])
    assert artifacts["failed_host_regions"] == {broken: "us-east-1", far: "us-west-2"}
    assert state_changing_calls(simulator) == {}  # the scan before the approval changes nothing

    failover_variables = launch_variables(templates[FAILOVER_PLAYBOOK], nodes["fail-over-failed-hosts"]["extra_data"], artifacts, answers)
    assert "failed_host_id" not in failover_variables and "aws_region" not in failover_variables
    moved = run_playbook("failover.yml", failover_variables)
    assert moved.returncode == 0, moved
    view = instance_view(simulator, east["instances"].values())
    assert [view[east["instances"][name]][:2] for name in ("web-0", "web-1")] == [("running", east["hosts"]["pool"])] * 2
    assert view[east["instances"]["calm"]][:2] == ("running", east["hosts"]["steady"])
    west_web = west["instances"]["west-web"]
    west_view = simulator.client("ec2", region="us-west-2").describe_instances(InstanceIds=[west_web])["Reservations"][0]["Instances"][0]
    assert (west_view["State"]["Name"], west_view["Placement"]["HostId"]) == ("running", west["hosts"]["west-pool"])
    assert read_record(simulator, broken)["State"] == "complete"
    assert read_record(simulator, far, region="us-west-2")["State"] == "complete"
    moves = set((entry["region"], entry["instance_ids"][0]) for entry in simulator.control.call_log() if entry["action"] == "ModifyInstancePlacement")
    assert moves == {("us-east-1", east["instances"]["web-0"]), ("us-east-1", east["instances"]["web-1"]), ("us-west-2", west_web)}


def test_the_workflow_failover_succeeds_doing_nothing_when_nothing_failed(simulator, migration_table, run_playbook, assets):
    load(simulator, world([pool_host("steady", tags={"Name": "steady"})], [on_host("steady", "calm")]))
    templates = templates_by_playbook(assets)
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", launch_variables(templates[FAILOVER_PLAYBOOK], {"failed_host_ids": []}))

    assert result.returncode == 0, result
    assert "nothing to do" in result.stdout
    assert state_changing_calls(simulator) == {}
