"""The event trigger end to end: playbooks/setup.yml creates the queue, its policy and the EventBridge rule; an AWS
Health event for a Dedicated Host is put to EventBridge (PutEvents), whose rule delivers it to the queue; ansible-rulebook
reads it with the rulebook of extensions/eda, whose rule runs the health check, which fails the host over.

In AWS only AWS Health itself emits events of source aws.health (PutEvents refuses "aws." sources to anyone else);
moto's EventBridge accepts them and routes them through the rules like any other event, which is what the test needs.
In AWX the rule's action is run_job_template (the health-check template, whose survey sets auto_failover); here the
same rule runs the same playbook with the same extra variables through run_playbook, plus what the survey would
add. Everything else is the shipped rulebook: its condition, its source and its variables.

The rulebook's codes (AWS Health's Dedicated Host codes as docs/awx.md lists them) include no impairment event: an
impaired host shows in DescribeHosts and its instances' status checks, which the health check reads. So retirement is
the event that fails a host over here; maintenance only degrades it (docs/health.md).
"""

import json
import os
import signal
import subprocess
import sys
import time

import yaml

from conftest import integration
from scenarios import load
from scenarios import on_host
from scenarios import pool_host
from scenarios import world
from support_runs import wait_for

REPO_ROOT = integration.REPO_ROOT
RULEBOOK = os.path.join(REPO_ROOT, "extensions", "eda", "rulebooks", "dedicated_host_events.yml")
ANSIBLE_RULEBOOK = os.path.join(REPO_ROOT, ".work", "venv-eda", "bin", "ansible-rulebook")
QUEUE = "dedicated-host-health-events"
# What the health-check job template's survey adds in AWX (extensions/awx/assets.json), and the suite's fast timings.
SURVEY = dict(integration.FAST, auto_failover=True)


def health_event(host_id, code, account="123456789012", region="us-east-1"):
    """An AWS Health event as EventBridge delivers it to an SQS target."""
    return {
        "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "AWS Health Event", "source": "aws.health",
        "account": account, "time": "2026-12-04T04:00:00Z", "region": region,
        "resources": ["arn:aws:ec2:%s:%s:dedicated-host/%s" % (region, account, host_id)],
        "detail": {
            "eventArn": "arn:aws:health:%s::event/EC2/%s/%s_1" % (region, code, code), "service": "EC2", "eventTypeCode": code,
            "eventTypeCategory": "scheduledChange", "startTime": "Fri, 11 Dec 2026 04:00:00 GMT",
            "eventDescription": [{"language": "en_US", "latestDescription": "The Dedicated Host is scheduled for retirement."}],
            "affectedEntities": [{"entityValue": host_id}],
        },
    }


def rulebook_for_the_test(tmp_path, report_dir):
    """The shipped rulebook, its run_job_template action turned into run_playbook of the template's playbook."""
    with open(RULEBOOK, encoding="utf-8") as handle:
        rulesets = yaml.safe_load(handle)
    (rule,) = rulesets[0]["rules"]
    job = rule["action"].pop("run_job_template")
    extra_vars = dict(job["job_args"]["extra_vars"], health_report_dir=report_dir, **SURVEY)
    rule["action"]["run_playbook"] = {"name": os.path.join(REPO_ROOT, "playbooks", "health_check.yml"), "extra_vars": extra_vars}
    path = tmp_path / "rulebook.yml"
    path.write_text(yaml.safe_dump(rulesets), encoding="utf-8")
    return path, extra_vars


def start_rulebook(simulator, tmp_path, rulebook, variables):
    inventory = tmp_path / "inventory.yml"
    # As an execution environment's inventory would: the controller's own Python runs the modules.
    localhost = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": localhost}}}), encoding="utf-8")
    activation_vars = tmp_path / "vars.yml"
    activation_vars.write_text(yaml.safe_dump(variables), encoding="utf-8")
    env = integration.playbook_env(simulator)
    # ansible-rulebook runs ansible-playbook (and checks for ansible-galaxy) from PATH: the suite's own.
    env["PATH"] = integration.ANSIBLE_BIN + os.pathsep + env.get("PATH", "")
    output = open(tmp_path / "ansible-rulebook.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    process = subprocess.Popen([ANSIBLE_RULEBOOK, "--rulebook", str(rulebook), "--inventory", str(inventory), "--vars", str(activation_vars)],
                               cwd=str(tmp_path), env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    return process, tmp_path / "ansible-rulebook.log"


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def put_event(events, event):
    """PutEvents of ``event`` as AWS Health would emit it; EventBridge adds the envelope (id, account, time, region)."""
    entry = {"Source": event["source"], "DetailType": event["detail-type"], "Resources": event["resources"], "Detail": json.dumps(event["detail"])}
    (result,) = events.put_events(Entries=[entry])["Entries"]
    assert "EventId" in result, result


def test_an_aws_health_retirement_event_through_eventbridge_fails_the_host_over_through_the_rulebook(simulator, run_playbook, tmp_path):
    ids = load(simulator, world([pool_host("retiring"), pool_host("pool")], [on_host("retiring", "web", count=2)]))
    retiring, pool, instances = ids["hosts"]["retiring"], ids["hosts"]["pool"], list(ids["instances"].values())
    setup = run_playbook("setup.yml", {"event_queue_name": QUEUE}, fast=False)
    assert setup.returncode == 0, setup
    sqs, events = simulator.client("sqs"), simulator.client("events")
    queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    # Through EventBridge: an instance's AWS Health event, which the rule's pattern leaves out, then the host's retirement.
    put_event(events, health_event(pool, "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"))
    put_event(events, health_event(retiring, "AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED"))
    # Straight onto the queue: an event of another source, which the rulebook's condition must let pass.
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(dict(health_event(pool, "AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED"),
                                                                     source="aws.ec2")))
    queued = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert queued["ApproximateNumberOfMessages"] == "2"  # the retirement the rule delivered and the other source's event
    report_dir = str(tmp_path / "health")
    rulebook, extra_vars = rulebook_for_the_test(tmp_path, report_dir)

    process, log = start_rulebook(simulator, tmp_path, rulebook, {"sqs_queue_region": simulator.region, "sqs_queue_name": QUEUE})
    try:
        def finished():
            record = integration.read_record(simulator, retiring)
            return record if record and record["State"] != "processing" and os.path.exists(os.path.join(report_dir, "health-check.json")) else None

        record = wait_for(finished, timeout=240)
        time.sleep(2)  # a second rule firing would have started by now
    finally:
        stop(process)
    printed = log.read_text(encoding="utf-8")

    assert record, printed
    assert (record["State"], record["SuccessfulMigrations"], record["ReservedHostId"]) == ("complete", 2, pool), record
    assert all(view[:2] == ("running", pool) for view in integration.instance_view(simulator, instances).values())
    with open(os.path.join(report_dir, "health-check.json"), encoding="utf-8") as handle:
        scan = json.load(handle)
    row = next(row for row in scan["hosts"] if row["host_id"] == retiring)
    assert row["health"] == "failed", row
    assert "AWS Health reports AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED for the host" in " ".join(row["reasons"]), row
    # The rule fired once: the event of another source started nothing, and the pool host was never failed over.
    assert printed.count("PLAY [Check the health of the Dedicated Hosts]") == 1, printed
    assert integration.read_record(simulator, pool) is None
    # Every variable the rule hands on is one the health check reads.
    with open(os.path.join(REPO_ROOT, "playbooks", "health_check.yml"), encoding="utf-8") as handle:
        playbook = handle.read()
    assert all("%s | default(none)" % name in playbook for name in extra_vars if name not in SURVEY and name != "health_report_dir")
    # Both messages were taken off the queue.
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
