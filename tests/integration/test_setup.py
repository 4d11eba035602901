"""playbooks/setup.yml: the table (on-demand, TTL), the topic and, with event_queue_name, the event trigger (the SQS
queue, its policy and the EventBridge rule for AWS Health's Dedicated Host events), idempotently."""

import json

import yaml

from conftest import REPO_ROOT
from conftest import TABLE
from conftest import state_changing_calls

EVENT_QUEUE = "dedicated-host-health-events"
EVENT_RULE = EVENT_QUEUE + "-aws-health"
# What changes the event trigger (STATE_CHANGING of conftest covers the table and the topic).
EVENT_CHANGES = {("sqs", "CreateQueue"), ("sqs", "SetQueueAttributes"), ("sqs", "DeleteQueue"), ("events", "PutRule"),
                 ("events", "PutTargets"), ("events", "RemoveTargets"), ("events", "EnableRule"), ("events", "DeleteRule")}


def event_changes(simulator):
    return sorted((entry["service"], entry["action"]) for entry in simulator.control.call_log()
                  if (entry["service"], entry["action"]) in EVENT_CHANGES)


def the_rule_task():
    with open("%s/playbooks/setup.yml" % REPO_ROOT, encoding="utf-8") as handle:
        (play,) = yaml.safe_load(handle)
    (task,) = [task for task in play["tasks"] if "amazon.aws.cloudwatchevent_rule" in task]
    return task["amazon.aws.cloudwatchevent_rule"]


def test_setup_creates_the_table_with_ttl_and_the_topic_then_changes_nothing(simulator, run_playbook):
    first = run_playbook("setup.yml", {"notification_topic_name": "host-failover", "notification_email": "ops@example.com"}, fast=False)

    assert first.returncode == 0, first
    assert "changed=3" in first.stdout
    dynamodb = simulator.client("dynamodb")
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "HostId", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ExpirationTime"}
    sns = simulator.client("sns")
    topic_arn = [topic["TopicArn"] for topic in sns.list_topics()["Topics"] if topic["TopicArn"].endswith(":host-failover")][0]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [(entry["Protocol"], entry["Endpoint"]) for entry in subscriptions] == [("email", "ops@example.com")]
    assert "notification_topic_arn=%s" % topic_arn in first.stdout
    # Without event_queue_name, no queue and no rule.
    assert simulator.client("sqs").list_queues().get("QueueUrls", []) == []
    assert simulator.client("events").list_rules()["Rules"] == []
    assert "no event queue" in first.stdout

    simulator.control.reset_calls()
    second = run_playbook("setup.yml", {"notification_topic_name": "host-failover", "notification_email": "ops@example.com"}, fast=False)

    assert second.returncode == 0, second
    assert "changed=0" in second.stdout
    assert not [key for key in state_changing_calls(simulator) if key[1] in ("CreateTable", "UpdateTimeToLive", "CreateTopic", "Subscribe")]


def test_setup_with_event_queue_name_creates_the_queue_its_policy_and_the_health_rule_then_changes_nothing(simulator, run_playbook):
    first = run_playbook("setup.yml", {"event_queue_name": EVENT_QUEUE, "aws_region": "eu-west-1"}, fast=False)

    assert first.returncode == 0, first
    assert "changed=5" in first.stdout  # the table, its TTL, the queue, its policy, the rule; no topic
    sqs, events = simulator.client("sqs", region="eu-west-1"), simulator.client("events", region="eu-west-1")
    queue_url = sqs.get_queue_url(QueueName=EVENT_QUEUE)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "Policy"])["Attributes"]
    queue_arn = attributes["QueueArn"]
    assert queue_arn == "arn:aws:sqs:eu-west-1:123456789012:" + EVENT_QUEUE
    rule = events.describe_rule(Name=EVENT_RULE)
    assert rule["State"] == "ENABLED"
    # The rule: AWS Health's EC2 events of the codes the rulebook reacts to (test_eda_rulebook.py compares the codes).
    pattern = json.loads(rule["EventPattern"])
    assert pattern == {"source": ["aws.health"], "detail-type": ["AWS Health Event"],
                       "detail": {"service": ["EC2"], "eventTypeCode": the_rule_task()["event_pattern"]["detail"]["eventTypeCode"]}}
    assert [(target["Id"], target["Arn"]) for target in events.list_targets_by_rule(Rule=EVENT_RULE)["Targets"]] == [(EVENT_QUEUE, queue_arn)]
    # The queue policy: EventBridge may send to this queue for this rule, and nothing else is allowed.
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"], statement["Resource"]) == (
        "Allow", {"Service": "events.amazonaws.com"}, "sqs:SendMessage", queue_arn)
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule["Arn"]}}
    # Nothing in the default region: the trigger goes where the hosts are.
    assert simulator.client("sqs").list_queues().get("QueueUrls", []) == []
    # What the rulebook activation is given.
    assert "sqs_queue_name=%s sqs_queue_region=eu-west-1" % EVENT_QUEUE in first.stdout

    simulator.control.reset_calls()
    second = run_playbook("setup.yml", {"event_queue_name": EVENT_QUEUE, "aws_region": "eu-west-1"}, fast=False)

    assert second.returncode == 0, second
    assert "changed=0" in second.stdout
    assert event_changes(simulator) == []

    # A rule someone disabled is enabled again, and only that changes.
    events.disable_rule(Name=EVENT_RULE)
    simulator.control.reset_calls()
    third = run_playbook("setup.yml", {"event_queue_name": EVENT_QUEUE, "aws_region": "eu-west-1"}, fast=False)

    assert third.returncode == 0, third
    assert "changed=1" in third.stdout
    assert event_changes(simulator) == [("events", "EnableRule")]
    assert events.describe_rule(Name=EVENT_RULE)["State"] == "ENABLED"


def test_setup_in_check_mode_creates_no_queue_and_no_rule(simulator, run_playbook):
    result = run_playbook("setup.yml", {"event_queue_name": EVENT_QUEUE}, check=True, fast=False)

    assert result.returncode == 0, result
    assert "event queue %s: would be created with its policy and rule" % EVENT_QUEUE in " ".join(result.stdout.split())
    assert simulator.client("sqs").list_queues().get("QueueUrls", []) == []
    assert simulator.client("events").list_rules()["Rules"] == []
    assert event_changes(simulator) == []


def test_setup_refuses_an_event_queue_name_sqs_would_refuse_before_any_aws_call(simulator, run_playbook):
    result = run_playbook("setup.yml", {"event_queue_name": "health/events"}, fast=False)

    assert result.returncode != 0, result
    assert "event_queue_name 'health/events' is not a queue name this setup can use" in result.output
    assert simulator.control.calls()["counts"] == {}
