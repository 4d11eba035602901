"""Least privilege: the playbooks run with nothing but docs/iam-policy.json (and setup with docs/iam-policy-setup.json).

The simulator enforces IAM here (moto's checks, plus resource ARNs for DynamoDB, SNS and the EC2 actions that take
them; condition keys are not evaluated, see docs/iam.md). Users, policies and access keys are made with boto3 before
enforcement is switched on; from then on every AWS call, the test's own included, needs an IAM user's keys.
"""

import json
import os
import re
import secrets

from boto3.dynamodb.types import TypeDeserializer
from dhsim.testing import expect_error

from conftest import REPO_ROOT
from conftest import TABLE
from conftest import make_migration_table

POLICY = os.path.join(REPO_ROOT, "docs", "iam-policy.json")
SETUP_POLICY = os.path.join(REPO_ROOT, "docs", "iam-policy-setup.json")
SSM_HOOKS_POLICY = os.path.join(REPO_ROOT, "docs", "iam-policy-ssm-hooks.json")
ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
TOPIC_NAME = "host-failover"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:" + TOPIC_NAME
EVENT_QUEUE = "dedicated-host-health-events"  # the name docs/iam-policy-setup.json is written for


def read_policy(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def world(hosts, instances):
    return {"region": "us-east-1", "seed": 7, "latency": {"stop": 20, "start": 15, "force_stop": 3, "jitter": 0.2},
            "hosts": hosts, "instances": instances}


def failed_host(**extra):
    return dict({"name": "failed", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "permanent-failure",
                 "host_maintenance": "off", "tags": {"Name": "app-1", "CostCenter": "42"}}, **extra)


def pool_host(**extra):
    return dict({"name": "pool", "availability_zone": "us-east-1a", "instance_family": "m5", "state": "available",
                 "tags": {"Role": "Reserved"}}, **extra)


def on_failed(name, instance_type="m5.large", **extra):
    return dict({"name": name, "host": "failed", "instance_type": instance_type, "state": "running", "affinity": "host"}, **extra)


class Credentials:
    """An IAM user of the simulator with one managed policy and one access key."""

    def __init__(self, simulator, name, document):
        iam = simulator.client("iam")
        iam.create_user(UserName=name)
        policy_arn = iam.create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]
        iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        self.simulator = simulator
        self.access_key = key["AccessKeyId"]
        self.secret_key = key["SecretAccessKey"]

    @property
    def env(self):
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def client(self, service):
        return self.simulator.client(service, access_key=self.access_key, secret_key=self.secret_key)


def record(credentials, host_id, table=TABLE):
    item = credentials.client("dynamodb").get_item(TableName=table, Key={"HostId": {"S": host_id}}, ConsistentRead=True).get("Item")
    deserializer = TypeDeserializer()
    return dict((key, deserializer.deserialize(value)) for key, value in (item or {}).items())


def placements(credentials, instance_ids):
    result = credentials.client("ec2").describe_instances(InstanceIds=list(instance_ids))
    return dict((instance["InstanceId"], (instance["State"]["Name"], instance["Placement"].get("HostId")))
                for reservation in result["Reservations"] for instance in reservation["Instances"])


DENIALS = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "AuthFailure",
           "InvalidClientTokenId", "SignatureDoesNotMatch")


def denied_calls(simulator, access_key):
    """(service, action, code) of the calls made with ``access_key`` that IAM refused."""
    return [(entry["service"], entry["action"], entry["code"]) for entry in simulator.control.call_log()
            if entry.get("access_key") == access_key and (entry["code"] in DENIALS or entry["status"] == 403)]


def enforce_iam(simulator):
    """Users first, then enforcement: the three users every test here needs."""
    admin = Credentials(simulator, "test-admin", ADMIN_POLICY)
    setup = Credentials(simulator, "failover-setup", read_policy(SETUP_POLICY))
    operator = Credentials(simulator, "failover-operator", read_policy(POLICY))
    simulator.control.set_iam(True)
    # Enforcement bites: the test's default dummy key is not an IAM user.
    expect_error(simulator.client("ec2").describe_hosts, "AuthFailure", 401)
    return admin, setup, operator


def test_the_failover_and_the_status_run_with_only_the_documented_policy(simulator, run_playbook):
    ids = simulator.load_scenario(world(
        [failed_host(host_recovery="on"), pool_host()],
        # The pool host runs one m5.12xlarge and has room for one more: the failover claims it, tags it and
        # allocates a second host (tagged at allocation). Host recovery is on: the failover turns it off.
        [on_failed("huge", "m5.12xlarge", count=2), on_failed("cold", state="stopped"),
         {"name": "resident", "host": "pool", "instance_type": "m5.12xlarge", "state": "running"}],
    ))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    admin, setup, operator = enforce_iam(simulator)

    made = run_playbook("setup.yml", {"notification_topic_name": TOPIC_NAME, "event_queue_name": EVENT_QUEUE}, env=setup.env, fast=False)
    assert made.returncode == 0, made
    assert denied_calls(simulator, setup.access_key) == []
    assert admin.client("events").list_targets_by_rule(Rule=EVENT_QUEUE + "-aws-health")["Targets"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "notification_topic_arn": TOPIC_ARN}, env=operator.env)

    assert result.returncode == 0, result
    assert denied_calls(simulator, operator.access_key) == []
    moved = [ids["instances"][name] for name in ("huge-0", "huge-1", "cold")]
    view = placements(admin, moved)
    assert [view[instance][0] for instance in moved] == ["running", "running", "stopped"]
    targets = set(view[instance][1] for instance in moved)
    assert pool in targets and failed not in targets and len(targets) == 2
    item = record(admin, failed)
    assert item["State"] == "complete" and item["SuccessfulMigrations"] == 3
    logged = set(entry["action"] for entry in simulator.control.call_log() if entry.get("access_key") == operator.access_key)
    assert {"AllocateHosts", "CreateTags", "ModifyHosts", "StopInstances", "ModifyInstancePlacement", "StartInstances", "Publish"} <= logged

    status = run_playbook("migration_status.yml", {"failed_host_id": failed}, env=operator.env)
    assert status.returncode == 0, status
    assert re.search(r"\bstate\W+complete\b", status.stdout), status
    assert denied_calls(simulator, operator.access_key) == []


def test_the_failback_runs_with_only_the_documented_policy(simulator, run_playbook):
    ids = simulator.load_scenario(world([failed_host(), pool_host()], [on_failed("web"), on_failed("cold", state="stopped")]))
    failed = ids["hosts"]["failed"]
    admin, setup, operator = enforce_iam(simulator)
    assert run_playbook("setup.yml", {"notification_topic_name": TOPIC_NAME}, env=setup.env, fast=False).returncode == 0
    assert run_playbook("failover.yml", {"failed_host_id": failed}, env=operator.env).returncode == 0
    simulator.control.set_host_state(failed, "available")

    result = run_playbook("failback.yml", {"failed_host_id": failed, "notification_topic_arn": TOPIC_ARN}, env=operator.env)

    assert result.returncode == 0, result
    assert denied_calls(simulator, operator.access_key) == []
    assert placements(admin, ids["instances"].values()) == {ids["instances"]["web"]: ("running", failed),
                                                            ids["instances"]["cold"]: ("stopped", failed)}
    assert record(admin, "failback#" + failed)["State"] == "complete"
    published = [entry for entry in simulator.control.call_log()
                 if entry.get("access_key") == operator.access_key and entry["action"] == "Publish" and entry["status"] == 200]
    assert len(published) == 1  # the failback's summary (the failover had no topic)


def test_a_failover_that_cannot_get_capacity_gives_its_pool_claim_back_with_only_the_policy(simulator, run_playbook):
    # Two m5 hosts exist and the quota is two: the pool host is claimed, AllocateHosts is refused, the claim
    # is deleted again and nothing is stopped.
    ids = simulator.load_scenario(world(
        [failed_host(), pool_host()],
        [on_failed("huge", "m5.12xlarge", count=2), {"name": "resident", "host": "pool", "instance_type": "m5.12xlarge", "state": "running"}],
    ))
    simulator.control.set_quota("m5", 2)
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    admin, setup, operator = enforce_iam(simulator)
    assert run_playbook("setup.yml", env=setup.env, fast=False).returncode == 0

    result = run_playbook("failover.yml", {"failed_host_id": failed}, env=operator.env)

    assert result.returncode != 0, result
    allocations = [entry["code"] for entry in simulator.control.call_log()
                   if entry.get("access_key") == operator.access_key and entry["action"] == "AllocateHosts"]
    assert allocations and set(allocations) == {"HostLimitExceeded"}, result
    assert denied_calls(simulator, operator.access_key) == []
    logged = [entry["action"] for entry in simulator.control.call_log() if entry.get("access_key") == operator.access_key]
    assert "TransactWriteItems" in logged and "StopInstances" not in logged, (logged, result)  # the claim given back
    assert record(admin, "claim#" + pool) == {}


def test_ssm_hooks_run_with_the_opt_in_policy_and_stop_nothing_without_it(simulator, run_playbook):
    ids = simulator.load_scenario(world([failed_host(), pool_host()], [on_failed("web", count=2)]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    instances = [ids["instances"]["web-0"], ids["instances"]["web-1"]]
    # Users before enforcement: the operator with iam-policy.json and the opt-in SSM policy attached besides it.
    hooked = Credentials(simulator, "failover-operator-hooks", read_policy(POLICY))
    iam = simulator.client("iam")
    ssm_policy = iam.create_policy(PolicyName="failover-ssm-hooks", PolicyDocument=read_policy(SSM_HOOKS_POLICY))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="failover-operator-hooks", PolicyArn=ssm_policy)
    admin, setup, operator = enforce_iam(simulator)
    assert run_playbook("setup.yml", env=setup.env, fast=False).returncode == 0
    hooks = {"failed_host_id": failed, "pre_stop_ssm_document": "Drain-App", "post_start_ssm_document": "Warm-Up"}

    refused = run_playbook("failover.yml", hooks, env=operator.env)

    assert refused.returncode != 0, refused
    assert [(service, action) for service, action, _code in denied_calls(simulator, operator.access_key)] == [
        ("ssm", "DescribeInstanceInformation")]
    logged = [entry["action"] for entry in simulator.control.call_log() if entry.get("access_key") == operator.access_key]
    assert "StopInstances" not in logged

    result = run_playbook("failover.yml", hooks, env=hooked.env)

    assert result.returncode == 0, result
    assert denied_calls(simulator, hooked.access_key) == []
    assert set(placements(admin, instances).values()) == {("running", pool)}
    logged = set(entry["action"] for entry in simulator.control.call_log() if entry.get("access_key") == hooked.access_key)
    assert {"DescribeInstanceInformation", "SendCommand", "ListCommandInvocations"} <= logged


def test_the_same_credentials_are_refused_another_table(simulator, run_playbook):
    ids = simulator.load_scenario(world([failed_host(), pool_host()], [on_failed("web")]))
    failed = ids["hosts"]["failed"]
    admin, setup, operator = enforce_iam(simulator)
    for table in (TABLE, "OtherMigrationQueue"):
        make_migration_table(admin.client("dynamodb"), table)
    del setup

    status = run_playbook("migration_status.yml", {"migration_table": "OtherMigrationQueue"}, env=operator.env)
    assert status.returncode != 0, status
    assert "AccessDenied" in status.output, status

    result = run_playbook("failover.yml", {"failed_host_id": failed, "migration_table": "OtherMigrationQueue"}, env=operator.env)
    assert result.returncode != 0, result
    assert "AccessDenied" in result.output and "OtherMigrationQueue" in result.output, result
    denied = denied_calls(simulator, operator.access_key)
    assert denied and set(service for service, _action, _code in denied) == {"dynamodb"}
    logged = [entry["action"] for entry in simulator.control.call_log() if entry.get("access_key") == operator.access_key]
    assert not set(logged) & {"StopInstances", "StartInstances", "ModifyInstancePlacement", "AllocateHosts", "CreateTags"}
    assert record(admin, failed, table="OtherMigrationQueue") == {}


def test_no_credential_appears_in_output_reports_record_or_notifications(simulator, migration_table, run_playbook, tmp_path):
    access_key = "AKIAFAKEFAKE1234ABCD"
    secret_key = "wJalrXUtnFEMI/K7MDENG/" + secrets.token_urlsafe(24)
    ids = simulator.load_scenario(world([failed_host(), pool_host()], [on_failed("web", count=2), on_failed("cold", state="stopped")]),
                                  reset=False)
    failed = ids["hosts"]["failed"]
    sns, sqs = simulator.client("sns"), simulator.client("sqs")
    topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
    queue_url = sqs.create_queue(QueueName="failover-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    env = {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}

    result = run_playbook("failover.yml", {"failed_host_id": failed, "notification_topic_arn": topic_arn, "notify_each_instance": "true"},
                          env=env)
    status = run_playbook("migration_status.yml", {"failed_host_id": failed}, env=env)
    # At -vvv Ansible prints module invocations: amazon.aws shows the access key id there (it treats key ids as
    # public, docs/iam.md) but masks the secret.
    verbose = run_playbook("migration_status.yml", {"failed_host_id": failed}, env=dict(env, ANSIBLE_VERBOSITY="3"))

    assert result.returncode == 0, result
    assert status.returncode == 0, status
    assert verbose.returncode == 0 and "module_args" in verbose.output, verbose
    for secret in (secret_key, secret_key[:12], secret_key[-12:]):
        assert secret not in verbose.output
    assert any(entry.get("access_key") == access_key for entry in simulator.control.call_log())  # the keys were used
    texts = {"failover output": result.output, "status output": status.output}
    for name in sorted(os.listdir(result.report_dir)):
        with open(os.path.join(result.report_dir, name), encoding="utf-8") as handle:
            texts["report " + name] = handle.read()
    assert any(name.startswith("report ") for name in texts)
    item = simulator.client("dynamodb").scan(TableName=migration_table)["Items"]
    texts["record"] = json.dumps(item)
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            break
        messages.extend(batch)
    assert messages
    texts["notifications"] = json.dumps(messages)
    for name, text in texts.items():
        for secret in (access_key, secret_key, secret_key[:12], secret_key[-12:]):
            assert secret not in text, "%s shows a credential" % name
