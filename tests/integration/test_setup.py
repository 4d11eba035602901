"""playbooks/setup.yml: the table (on-demand, TTL) and the topic, idempotently."""

from conftest import TABLE
from conftest import state_changing_calls


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

    simulator.control.reset_calls()
    second = run_playbook("setup.yml", {"notification_topic_name": "host-failover", "notification_email": "ops@example.com"}, fast=False)

    assert second.returncode == 0, second
    assert "changed=0" in second.stdout
    assert not [key for key in state_changing_calls(simulator) if key[1] in ("CreateTable", "UpdateTimeToLive", "CreateTopic", "Subscribe")]
