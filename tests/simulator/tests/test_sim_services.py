"""DynamoDB TableId and TTL, SNS to SQS, IAM enforcement with resource-scoped policies."""

import json
import threading
import uuid

from dhsim.testing import expect_error, make_table


def test_describe_table_has_table_id_and_ttl(simulator):
    ddb = simulator.client("dynamodb")
    make_table(ddb, "runs")
    table = ddb.describe_table(TableName="runs")["Table"]
    assert str(uuid.UUID(table["TableId"])) == table["TableId"]
    assert ddb.describe_table(TableName="runs")["Table"]["TableId"] == table["TableId"]
    ddb.update_time_to_live(TableName="runs", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    ttl = ddb.describe_time_to_live(TableName="runs")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}


def test_sns_publish_reaches_sqs(simulator):
    sns, sqs = simulator.client("sns"), simulator.client("sqs")
    topic = sns.create_topic(Name="events")["TopicArn"]
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sns.publish(TopicArn=topic, Message="host failed")
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert json.loads(message["Body"])["Message"] == "host failed"


def _user_with_policy(simulator, statements):
    iam = simulator.client("iam")
    iam.create_user(UserName="runner")
    iam.put_user_policy(UserName="runner", PolicyName="scoped",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName="runner")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_iam_dynamodb_resource_scoping(simulator):
    ddb = simulator.client("dynamodb")
    make_table(ddb, "table-a")
    make_table(ddb, "table-b")
    arn_a = ddb.describe_table(TableName="table-a")["Table"]["TableArn"]
    access, secret = _user_with_policy(simulator, [{"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": arn_a}])
    simulator.control.set_iam(True)
    scoped = simulator.client("dynamodb", access_key=access, secret_key=secret)
    update = {"Key": {"pk": {"S": "x"}}, "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"S": "1"}}}
    scoped.update_item(TableName="table-a", **update)
    denied = expect_error(scoped.update_item, "AccessDeniedException", 400, TableName="table-b", **update)
    assert "dynamodb:UpdateItem" in denied["Error"]["Message"]
    expect_error(scoped.get_item, "AccessDeniedException", 400, TableName="table-a", Key={"pk": {"S": "x"}})
    simulator.control.set_iam(False)
    assert ddb.get_item(TableName="table-a", Key={"pk": {"S": "x"}})["Item"]["v"] == {"S": "1"}


def test_iam_sns_resource_scoping(simulator):
    sns = simulator.client("sns")
    topic_a = sns.create_topic(Name="topic-a")["TopicArn"]
    topic_b = sns.create_topic(Name="topic-b")["TopicArn"]
    access, secret = _user_with_policy(simulator, [{"Effect": "Allow", "Action": "sns:Publish", "Resource": topic_a}])
    simulator.control.set_iam(True)
    scoped = simulator.client("sns", access_key=access, secret_key=secret)
    scoped.publish(TopicArn=topic_a, Message="ok")
    expect_error(scoped.publish, "AccessDenied", 403, TopicArn=topic_b, Message="no")


def test_iam_sqs_and_eventbridge_resource_scoping(simulator):
    prefix = "arn:aws:%s:us-east-1:123456789012:"
    access, secret = _user_with_policy(simulator, [
        {"Effect": "Allow", "Action": ["sqs:CreateQueue", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"], "Resource": prefix % "sqs" + "events-*"},
        {"Effect": "Allow", "Action": ["events:PutRule", "events:DescribeRule"], "Resource": prefix % "events" + "rule/events-*"},
    ])
    simulator.control.set_iam(True)
    sqs = simulator.client("sqs", access_key=access, secret_key=secret)
    events = simulator.client("events", access_key=access, secret_key=secret)
    # A queue is named by QueueName before it exists, and by its URL afterwards.
    url = sqs.create_queue(QueueName="events-a")["QueueUrl"]
    assert sqs.get_queue_url(QueueName="events-a")["QueueUrl"] == url
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    expect_error(sqs.create_queue, "AccessDenied", 403, QueueName="other-a")
    events.put_rule(Name="events-a-rule", EventPattern=json.dumps({"source": ["aws.health"]}))
    assert events.describe_rule(Name="events-a-rule")["Name"] == "events-a-rule"
    expect_error(events.put_rule, "AccessDenied", 403, Name="other-rule", EventPattern=json.dumps({"source": ["aws.health"]}))
    simulator.control.set_iam(False)


def test_iam_ec2_resource_scoping(simulator):
    ids = simulator.load_scenario({
        "hosts": [{"name": "a", "instance_family": "m5"}, {"name": "b", "instance_family": "m5"}],
        "instances": [{"name": "mine", "host": "a"}, {"name": "other", "host": "a"}],
    })
    mine, other, host_b = ids["instances"]["mine"], ids["instances"]["other"], ids["hosts"]["b"]
    prefix = "arn:aws:ec2:us-east-1:123456789012:"
    access, secret = _user_with_policy(simulator, [
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:StopInstances", "ec2:ModifyInstancePlacement"], "Resource": prefix + "instance/" + mine},
        {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": prefix + "dedicated-host/*"},
    ])
    simulator.control.set_iam(True)
    scoped = simulator.client("ec2", access_key=access, secret_key=secret)
    scoped.describe_instances(InstanceIds=[mine, other])
    scoped.stop_instances(InstanceIds=[mine], Force=True)
    expect_error(scoped.stop_instances, "AccessDenied", 403, InstanceIds=[mine, other], Force=True)
    # ModifyInstancePlacement with a HostId also needs the host's ARN, which this policy does not grant.
    expect_error(scoped.modify_instance_placement, "AccessDenied", 403, InstanceId=mine, HostId=host_b)
    scoped.create_tags(Resources=[host_b], Tags=[{"Key": "k", "Value": "v"}])
    expect_error(scoped.create_tags, "AccessDenied", 403, Resources=[mine], Tags=[{"Key": "k", "Value": "v"}])
    expect_error(scoped.allocate_hosts, "AccessDenied", 403, InstanceFamily="m5", AvailabilityZone="us-east-1a", Quantity=1)
    simulator.control.set_iam(False)


def test_dynamodb_reads_and_writes_of_one_item_at_once_never_fail(simulator):
    # moto alone answers a 500 when a projected read iterates an item while a write adds to it.
    ddb = simulator.client("dynamodb")
    make_table(ddb, "runs")
    # A large item makes each read's walk over it long enough for writes to land during it.
    ddb.put_item(TableName="runs", Item=dict({"pk": {"S": "h-1"}}, **{"a%d" % index: {"N": "1"} for index in range(2000)}))
    errors = []

    def write(writer):
        client = simulator.client("dynamodb")
        for index in range(50):
            try:
                client.update_item(TableName="runs", Key={"pk": {"S": "h-1"}}, UpdateExpression="SET #name = :value",
                                   ExpressionAttributeNames={"#name": "w%d_%d" % (writer, index)},
                                   ExpressionAttributeValues={":value": {"N": str(index)}})
            except Exception as error:  # pylint: disable=broad-except
                errors.append(error)

    def read():
        client = simulator.client("dynamodb")
        for _index in range(100):
            try:
                client.get_item(TableName="runs", Key={"pk": {"S": "h-1"}}, ProjectionExpression="pk, w0_0", ConsistentRead=True)
            except Exception as error:  # pylint: disable=broad-except
                errors.append(error)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(3)] + [threading.Thread(target=read) for _reader in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ddb.get_item(TableName="runs", Key={"pk": {"S": "h-1"}})["Item"]) == 1 + 2000 + 3 * 50
