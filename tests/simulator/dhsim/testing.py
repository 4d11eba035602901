"""Small helpers for tests that talk to the simulator with boto3."""

import os
import time

from botocore.exceptions import ClientError


def expect_error(call, code, status=None, *args, **kwargs):
    """Run call(*args, **kwargs), require a ClientError with this code (and HTTP status); returns the error response."""
    try:
        call(*args, **kwargs)
    except ClientError as exc:
        error = exc.response["Error"]
        got_status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        if error.get("Code") != code or (status is not None and got_status != status):
            raise AssertionError("expected %s/%s, got %s/%s: %s" % (code, status, error.get("Code"), got_status, error.get("Message"))) from exc
        return exc.response
    raise AssertionError("expected %s, the call succeeded" % code)


def make_table(ddb, name="runs"):
    """A pay-per-request DynamoDB table keyed by the string ``pk``."""
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def instance_states(ec2, instance_ids):
    """{instance id: state name}."""
    result = ec2.describe_instances(InstanceIds=list(instance_ids))
    return {i["InstanceId"]: i["State"]["Name"] for r in result["Reservations"] for i in r["Instances"]}


def wait_for_state(ec2, instance_ids, state, timeout=10.0, interval=0.02):
    """Poll DescribeInstances until every instance is in state; returns the seconds waited."""
    started = time.time()
    while True:
        states = instance_states(ec2, instance_ids)
        if all(s == state for s in states.values()):
            return time.time() - started
        if time.time() - started > timeout:
            raise AssertionError("timed out waiting for %s: %s" % (state, states))
        time.sleep(interval)


def describe_host(ec2, host_id):
    """One DescribeHosts entry."""
    return ec2.describe_hosts(HostIds=[host_id])["Hosts"][0]


def capacity_of(host, instance_type):
    """(available, total) for one instance type of a DescribeHosts entry, or (0, 0) when not listed."""
    for row in host["AvailableCapacity"]["AvailableInstanceCapacity"]:
        if row["InstanceType"] == instance_type:
            return row["AvailableCapacity"], row["TotalCapacity"]
    return 0, 0


def lease_keepers(marker):
    """Pids of the processes named ``lease-keeper`` (the failover's lease keeper) whose environment holds ``marker``
    (bytes, ``NAME=value``). Linux only: it reads /proc."""
    found = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/comm", "rb") as comm, open(f"/proc/{name}/environ", "rb") as environ:
                if comm.read().strip() == b"lease-keeper" and marker in environ.read().split(b"\0"):
                    found.append(int(name))
        except (OSError, ValueError):
            continue  # not a process, or one that ended meanwhile
    return found
