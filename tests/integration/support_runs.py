"""Helpers for the tests that interrupt, pause and race failover runs (test_chaos.py, test_contention.py).

Every run gets its own AWS access key, so the simulator's call log says which run made which call.
"""

import os
import signal
import time

from conftest import TABLE
from conftest import read_record

# The EC2 calls that change something: a run that lost its lease (or never had it) must make none.
EC2_CHANGES = ("StopInstances", "StartInstances", "ModifyInstancePlacement", "AllocateHosts", "CreateTags", "DeleteTags",
               "ReleaseHosts", "ModifyHosts")
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "Publish")
LEASE_FIELDS = ("LeaseOwner", "LeaseRunId", "LeaseExpiresAt", "LeaseSeconds")


def key_calls(simulator, access_key, since=0, actions=None):
    """(action, code, instance ids) of the calls made with ``access_key``, from log position ``since`` on."""
    log = simulator.control.call_log()[since:]
    return [(entry["action"], entry["code"], tuple(entry.get("instance_ids") or ())) for entry in log
            if entry.get("access_key") == access_key and (actions is None or entry["action"] in actions)]


def log_position(simulator):
    return len(simulator.control.call_log())


def only_refused_writes(calls):
    """True when every write among ``calls`` is a conditional write DynamoDB refused (which changes nothing)."""
    return all(code in ("ConditionalCheckFailedException", "TransactionCanceledException")
               for action, code, _ids in calls if action in WRITES)


def signal_group(process, signum):
    """Send ``signum`` to the run's whole process group (ansible-playbook, its workers and the module)."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def kill_group(process):
    signal_group(process, signal.SIGKILL)
    process.communicate(timeout=30)


def wait_for(predicate, timeout, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def lease_margin(lease_seconds):
    return max(1.0, 0.1 * float(lease_seconds))


def takeover_time(record):
    """Wall time after which another run may take the record's lease over (None when no lease is held)."""
    if not record or not record.get("LeaseRunId"):
        return None
    return float(record["LeaseExpiresAt"]) + lease_margin(record.get("LeaseSeconds") or 120)


def wait_for_lease_expiry(simulator, host_id, slack=0.3):
    """Sleep, as an operator would, until the host's lease may be taken over; returns the seconds waited."""
    started = time.time()
    while True:
        after = takeover_time(read_record(simulator, host_id))
        if after is None or time.time() >= after + slack:
            return time.time() - started
        time.sleep(min(after + slack - time.time(), 1.0))


def claims_in_table(simulator, table=TABLE):
    """{pool host id: failed host id} of every claim# item."""
    from boto3.dynamodb.types import TypeDeserializer  # pylint: disable=import-outside-toplevel

    items = simulator.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    deserializer = TypeDeserializer()
    found = {}
    for item in items:
        key = deserializer.deserialize(item["HostId"])
        if key.startswith("claim#"):
            found[key[len("claim#"):]] = deserializer.deserialize(item["ClaimedFor"])
    return found


def all_host_ids(simulator):
    return set(host["HostId"] for host in simulator.client("ec2").describe_hosts()["Hosts"])


def assert_record_consistent(record):
    """Counters equal what the instance map says, and no lease is left held."""
    statuses = [entry["status"] for entry in record["InstanceMigrations"].values()]
    assert record["TotalInstances"] == len(statuses), record
    assert record["SuccessfulMigrations"] == statuses.count("success"), record
    assert record["FailedMigrations"] == statuses.count("failed"), record
    assert record.get("SkippedMigrations", 0) == statuses.count("skipped"), record
    held = dict((name, record[name]) for name in LEASE_FIELDS if record.get(name) not in (None, ""))
    assert not held, "lease left held: %s" % held
