"""Fault injection for EC2, DynamoDB, SNS and SQS, API delay, and call accounting."""

import time

from dhsim.testing import expect_error, make_table


def test_ec2_fault_first_n_calls(simulator):
    ec2 = simulator.client("ec2")
    fault = simulator.control.add_fault("ec2", "DescribeHosts", "RequestLimitExceeded", count=2)
    assert fault["status"] == 503
    expect_error(ec2.describe_hosts, "RequestLimitExceeded", 503)
    expect_error(ec2.describe_hosts, "RequestLimitExceeded", 503)
    assert ec2.describe_hosts()["Hosts"] == []
    [state] = simulator.control.faults()
    assert state["fired"] == 2 and state["seen"] == 3 and state["exhausted"]
    ec2.describe_instances()


def test_ec2_fault_always_and_clear(simulator):
    ec2 = simulator.client("ec2")
    simulator.control.add_fault("ec2", "StopInstances", "UnauthorizedOperation", status=403, count=None)
    for dummy in range(3):
        expect_error(ec2.stop_instances, "UnauthorizedOperation", 403, InstanceIds=["i-0123456789abcdef0"])
    simulator.control.clear_faults()
    expect_error(ec2.stop_instances, "InvalidInstanceID.NotFound", 400, InstanceIds=["i-0123456789abcdef0"])


def _pattern(simulator, seed):
    simulator.control.clear_faults()
    simulator.control.add_fault("ec2", "DescribeHosts", "RequestLimitExceeded", rate=0.3, seed=seed)
    ec2 = simulator.client("ec2")
    outcome = []
    for dummy in range(30):
        try:
            ec2.describe_hosts()
            outcome.append(0)
        except ec2.exceptions.ClientError:
            outcome.append(1)
    return outcome


def test_ec2_fault_rate_is_seeded(simulator):
    first = _pattern(simulator, 7)
    second = _pattern(simulator, 7)
    assert first == second
    assert 0 < sum(first) < 30


def test_dynamodb_faults(simulator):
    ddb = simulator.client("dynamodb")
    make_table(ddb)
    simulator.control.add_fault("dynamodb", "PutItem", "ProvisionedThroughputExceededException", count=1)
    simulator.control.add_fault("dynamodb", "UpdateItem", "ThrottlingException", count=1)
    expect_error(ddb.put_item, "ProvisionedThroughputExceededException", 400, TableName="runs", Item={"pk": {"S": "a"}})
    ddb.put_item(TableName="runs", Item={"pk": {"S": "a"}})
    update = {"TableName": "runs", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}}
    err = expect_error(ddb.update_item, "ThrottlingException", 400, **update)
    assert "throughput" in err["Error"]["Message"]
    ddb.update_item(**update)
    assert ddb.get_item(TableName="runs", Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1"}


def test_sns_and_sqs_faults(simulator):
    sns = simulator.client("sns")
    sqs = simulator.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    simulator.control.add_fault("sns", "Publish", "Throttled", count=1)
    simulator.control.add_fault("sqs", "SendMessage", "RequestThrottled", count=1, status=403)
    expect_error(sns.publish, "Throttled", 429, TopicArn=topic, Message="hi")
    sns.publish(TopicArn=topic, Message="hi")
    expect_error(sqs.send_message, "RequestThrottled", 403, QueueUrl=queue, MessageBody="x")
    sqs.send_message(QueueUrl=queue, MessageBody="x")


def test_fault_for_one_instance(simulator):
    ids = simulator.load_scenario({"instances": [{"name": "a", "state": "stopped"}, {"name": "b", "state": "stopped"}],
                                   "faults": [{"service": "ec2", "action": "StartInstances", "code": "InsufficientInstanceCapacity",
                                               "count": None, "instance_id_name": "a"}]})
    ec2 = simulator.client("ec2")
    expect_error(ec2.start_instances, "InsufficientInstanceCapacity", 500, InstanceIds=[ids["instances"]["a"]])
    ec2.start_instances(InstanceIds=[ids["instances"]["b"]])


def test_delay_fault(simulator):
    ec2 = simulator.client("ec2")
    simulator.control.configure(time_scale=1.0)
    simulator.control.add_fault("ec2", "DescribeHosts", delay=0.3, count=1)
    started = time.time()
    ec2.describe_hosts()
    assert time.time() - started >= 0.3
    started = time.time()
    ec2.describe_hosts()
    assert time.time() - started < 0.3


def test_call_accounting(simulator):
    ids = simulator.load_scenario({"instances": [{"name": "a"}]})
    iid = ids["instances"]["a"]
    ec2 = simulator.client("ec2")
    simulator.control.add_fault("ec2", "StopInstances", "RequestLimitExceeded", count=1)
    ec2.describe_hosts()
    ec2.describe_hosts()
    expect_error(ec2.stop_instances, "RequestLimitExceeded", 503, InstanceIds=[iid])
    ec2.stop_instances(InstanceIds=[iid])
    expect_error(ec2.describe_hosts, "InvalidHostID.NotFound", 400, HostIds=["h-0123456789abcdef0"])
    calls = simulator.control.calls()
    assert calls["counts"]["ec2"] == {"DescribeHosts": 3, "StopInstances": 2}
    assert calls["total"] == 5
    log = simulator.control.call_log()
    stops = [e for e in log if e["action"] == "StopInstances"]
    assert [e["code"] for e in stops] == ["RequestLimitExceeded", "OK"]
    assert [e["status"] for e in stops] == [503, 200]
    assert stops[0]["injected"] and not stops[1]["injected"]
    assert stops[1]["instance_ids"] == [iid]
    assert log[-1]["code"] == "InvalidHostID.NotFound" and log[-1]["status"] == 400
    assert simulator.control.call_count("ec2", "DescribeHosts") == 3
    simulator.control.reset_calls()
    assert simulator.control.calls() == {"counts": {}, "total": 0}
