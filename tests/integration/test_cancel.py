"""Cancel a running failover: playbooks/abort.yml, Ctrl-C (SIGINT), the health check, and cancel at random moments.

What a cancel must leave (docs/guarantees.md, "Cancel"): every instance in the state it had before, on exactly one
host: its planned target when this failover had begun to move it (stopped it), else the failed host, untouched,
with status ``pending`` and the reason; the record ``cancelled`` (or ``complete`` when the cancel came after the
last stop), counters equal to the instance map, no lease left.

The random-moment trials write the cancel request with the engine function abort.yml calls (an ansible-playbook
start would blur the moment by seconds). ``CANCEL_TRIALS`` (default 3) sets their number, ``CANCEL_BASE_SEED``
(default 4003) the first seed, ``CANCEL_SEED`` replays one; ``make cancel-chaos`` runs 10 from a fresh base seed.
Every trial prints ``cancel seed=<seed> cancel_at_call=<n> delay=<s>s ...``.
"""

import getpass
import os
import random
import signal
import socket
import sys
import time

import pytest

from conftest import COLLECTIONS_PATH
from conftest import TABLE
from conftest import finish_playbook
from conftest import instance_view
from conftest import read_record
from conftest import start_playbook
from scenarios import failed_host
from scenarios import load
from scenarios import on_host
from scenarios import pool_host
from scenarios import world
from support_runs import assert_record_consistent
from support_runs import key_calls
from support_runs import signal_group
from support_runs import wait_for
from test_health_check import health_check
from test_health_check import report

if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError  # noqa: E402
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import request_cancel  # noqa: E402

TRIALS = int(os.environ.get("CANCEL_TRIALS") or 3)
# The default seeds cover a cancel mid-move (4003, 4005) and one after the last stop (4004).
BASE_SEED = int(os.environ.get("CANCEL_BASE_SEED") or 4003)
SEEDS = [int(os.environ["CANCEL_SEED"])] if os.environ.get("CANCEL_SEED") else [BASE_SEED + index for index in range(TRIALS)]
# A move slow enough to be caught half-way: one instance at a time, stops of about 3 s.
SLOW = {"stop": 300, "start": 100, "force_stop": 100, "jitter": 0.2}
# Uncancelled, the 12-instance move of the trials makes about 150 AWS calls from the start of the playbook to its
# end (most of them the poller's DescribeInstances): a cancel point up to 160 also falls before the lease is taken,
# after the last stop, and after the end.
MAX_CANCEL_CALL = 160


def slow_host(simulator, count=6, latency=None):
    ids = load(simulator, world([failed_host(), pool_host()], [on_host("failed", "web", count=count, system_status="ok")],
                                latency=latency or SLOW))
    return ids["hosts"]["failed"], ids["instances"]


def stopped_by(simulator, access_key):
    return set(sum((list(ids) for _action, _code, ids in key_calls(simulator, access_key, actions=("StopInstances",))), []))


def assert_cancelled_cleanly(simulator, failed, instances, access_key, original="running"):
    """Moved instances are on their target, the others untouched on the failed host, all in their original state."""
    record = read_record(simulator, failed)
    assert_record_consistent(record)
    stopped = stopped_by(simulator, access_key)
    view = instance_view(simulator, instances)
    migrations = record["InstanceMigrations"]
    for instance_id in instances:
        entry = migrations[instance_id]
        if instance_id in stopped:
            assert entry["status"] == "success", (instance_id, entry)
            assert view[instance_id][:2] == (original, record["Plan"][instance_id]) and view[instance_id][3] == "host", view[instance_id]
        else:
            assert entry["status"] == "pending" and entry["errorMessage"].startswith("cancelled before it was stopped: left where it is"), entry
            assert view[instance_id][:2] == (original, failed), view[instance_id]
    left = [instance_id for instance_id in instances if instance_id not in stopped]
    assert record["State"] == ("cancelled" if left else "complete"), record
    return record, left


def start_failover(simulator, failed, access_key, extra=None):
    variables = {"failed_host_id": failed, "poll_interval": "0.1", "failover_concurrency": "1", "force_stop_after": "30"}
    variables.update(extra or {})
    return start_playbook(simulator, "failover.yml", variables, env={"AWS_ACCESS_KEY_ID": access_key})


def abort_as_alice(run_playbook, variables, access_key):
    """abort.yml asked by alice (USER); LOGNAME keeps Ansible's own local user real (it reads LOGNAME first), so "~alice" is never expanded."""
    return run_playbook("abort.yml", variables, env={"AWS_ACCESS_KEY_ID": access_key, "USER": "alice", "LOGNAME": getpass.getuser()})


def first_stop_sent(simulator, access_key):
    return wait_for(lambda: stopped_by(simulator, access_key), timeout=120)


def test_abort_playbook_cancels_a_running_failover_cleanly(simulator, migration_table, run_playbook):
    failed, instances = slow_host(simulator)
    sns, sqs = simulator.client("sns"), simulator.client("sqs")
    topic_arn = sns.create_topic(Name="host-failover")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    running = start_failover(simulator, failed, "AKIACANCELRUN", {"notification_topic_arn": topic_arn})
    assert first_stop_sent(simulator, "AKIACANCELRUN"), finish_playbook(running)

    abort = abort_as_alice(run_playbook, {"failed_host_id": failed, "abort_reason": '"app team keeps the rest"'}, "AKIACANCELABORT")
    outcome = finish_playbook(running)

    assert abort.returncode == 0, abort
    assert "to stop the failover of %s" % failed in abort.stdout
    assert outcome.returncode != 0, outcome
    assert "Failover of %s cancelled: cancel requested by alice@" % failed in outcome.output, outcome
    assert "cancel requested by alice@%s at " % socket.gethostname() in outcome.output
    assert "app team keeps the rest; " in " ".join(outcome.output.split()), outcome
    record, left = assert_cancelled_cleanly(simulator, failed, instances.values(), "AKIACANCELRUN")
    assert left and record["State"] == "cancelled"
    assert record["CancelRequest"]["reason"] == "app team keeps the rest"
    assert record["CancelRequest"]["runId"] == record["RunId"]
    # The abort playbook wrote one conditional UpdateItem and changed nothing in EC2.
    abort_calls = key_calls(simulator, "AKIACANCELABORT")
    assert [call[0] for call in abort_calls if call[0] not in ("GetItem",)] == ["UpdateItem"], abort_calls
    # The summary and the notification say it was cancelled, by whom, and count what was left.
    assert "Failover of %s: CANCELLED" % failed in outcome.stdout
    bodies = [message["Body"] for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]]
    final = [body for body in bodies if "Cancelled: %s" % failed in body]
    assert final and "%d left where they were by the cancel" % len(left) in final[0], bodies


def test_abort_with_nothing_to_cancel_fails_clearly_and_check_mode_writes_nothing(simulator, migration_table, run_playbook):
    failed, _instances = slow_host(simulator, count=1)

    nothing = run_playbook("abort.yml", {"failed_host_id": failed})
    bad = run_playbook("abort.yml", {"failed_host_id": "h-123"})
    assert nothing.returncode != 0 and "nothing to cancel: there is no migration record for host %s" % failed in nothing.output, nothing
    assert bad.returncode != 0 and "Nothing was read or changed" in bad.output, bad

    running = start_failover(simulator, failed, "AKIACANCELCHECK")
    assert first_stop_sent(simulator, "AKIACANCELCHECK"), finish_playbook(running)
    checked = run_playbook("abort.yml", {"failed_host_id": failed}, check=True, env={"AWS_ACCESS_KEY_ID": "AKIACANCELPREVIEW"})
    outcome = finish_playbook(running)

    assert checked.returncode == 0 and "Would ask run" in checked.stdout, checked
    assert not [call for call in key_calls(simulator, "AKIACANCELPREVIEW") if call[0] != "GetItem"]
    assert outcome.returncode == 0, outcome
    assert read_record(simulator, failed)["State"] == "complete"
    again = run_playbook("abort.yml", {"failed_host_id": failed})
    assert again.returncode != 0 and "is not running (its record is complete" in again.output, again


def test_ctrl_c_cancels_the_move_like_abort(simulator, migration_table):
    failed, instances = slow_host(simulator)
    running = start_failover(simulator, failed, "AKIACANCELSIGINT")
    assert first_stop_sent(simulator, "AKIACANCELSIGINT"), finish_playbook(running)

    # What a terminal does on Ctrl-C: SIGINT to ansible-playbook's process group. ansible-playbook forwards it to
    # its worker, which forwards it to the module's group, and both exit at once; the module finishes on its own.
    signal_group(running[0], signal.SIGINT)
    interrupted = finish_playbook(running)
    assert interrupted.returncode != 0, interrupted

    def finished():
        item = read_record(simulator, failed)
        return item if item and item["State"] != "processing" else None

    record = wait_for(finished, timeout=120)
    if not record:
        left = read_record(simulator, failed)
        pytest.fail("the record is still processing: cancel %s, lease %s, instances %s; the interrupted run printed:\n%s" % (
            left.get("CancelRequest"), dict((key, value) for key, value in left.items() if key.startswith("Lease")),
            dict((key, (entry["status"], entry["phase"])) for key, entry in left["InstanceMigrations"].items()),
            interrupted.output[-3000:]))
    assert record["CancelRequest"]["requestedBy"].startswith("signal SIGINT to run ")
    record, left = assert_cancelled_cleanly(simulator, failed, instances.values(), "AKIACANCELSIGINT")
    assert left and record["ExpirationTime"]


def test_a_cancelled_failover_is_reported_not_resumed_by_the_health_check_and_resumed_by_failover(
        simulator, migration_table, run_playbook, tmp_path):
    failed, instances = slow_host(simulator, count=3)
    running = start_failover(simulator, failed, "AKIACANCELHEALTH")
    assert first_stop_sent(simulator, "AKIACANCELHEALTH"), finish_playbook(running)
    request_cancel(simulator.client("dynamodb"), TABLE, failed, "alice@bastion", "freeze")
    assert finish_playbook(running).returncode != 0
    _record, left = assert_cancelled_cleanly(simulator, failed, instances.values(), "AKIACANCELHEALTH")
    assert left

    scan = health_check(run_playbook, tmp_path, {"auto_failover": "true"})

    assert scan.returncode == 0, scan
    row = next(row for row in report(scan)["hosts"] if row["host_id"] == failed)
    assert row["action"].startswith("cancelled, not resumed (by alice@bastion at "), row
    assert failed not in [target["host_id"] for target in report(scan)["failover_targets"]]
    assert read_record(simulator, failed)["State"] == "cancelled"
    assert not stopped_by(simulator, "playbook-health_check")

    resumed = run_playbook("failover.yml", {"failed_host_id": failed})
    assert resumed.returncode == 0, resumed
    record = read_record(simulator, failed)
    assert record["State"] == "complete"
    assert_record_consistent(record)
    view = instance_view(simulator, instances.values())
    assert all(view[instance_id][:2] == ("running", record["Plan"][instance_id]) for instance_id in instances.values()), view


def cancel_at_call(simulator, process, access_key, host_id, call, delay):
    """Write a cancel request after the run's ``call``-th AWS call and ``delay`` more seconds.

    Returns what happened: ``requested``, ``nothing to cancel`` (no live run: before the lease, or after the end).
    """
    while process.poll() is None and len(key_calls(simulator, access_key)) < call:
        time.sleep(0.03)
    time.sleep(delay)
    try:
        request_cancel(simulator.client("dynamodb"), TABLE, host_id, "chaos@test", "trial")
    except NotFoundError:
        return "nothing to cancel"
    return "requested"


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: "seed=%d" % seed)
def test_a_cancel_at_a_random_moment_of_a_12_instance_move_leaves_everything_whole(simulator, migration_table, seed):
    rng = random.Random(seed)
    call, delay = rng.randint(1, MAX_CANCEL_CALL), round(rng.uniform(0.0, 0.5), 2)
    ids = load(simulator, world(
        [failed_host(), pool_host("pool-a"), pool_host("pool-b")],
        [on_host("failed", "web", count=8, system_status="ok"), on_host("failed", "big", "m5.4xlarge", count=2),
         on_host("failed", "cold", state="stopped", count=2)],
        latency={"stop": 80, "start": 50, "force_stop": 40, "jitter": 0.3}, seed=seed,
    ))
    failed, instances = ids["hosts"]["failed"], ids["instances"]
    original = dict((iid, "stopped" if name.startswith("cold") else "running") for name, iid in instances.items())
    access_key = "AKIACANCELCHAOS"
    started = time.time()
    running = start_failover(simulator, failed, access_key, {"failover_concurrency": "3", "failover_lease_seconds": "20"})
    what = cancel_at_call(simulator, running[0], access_key, failed, call, delay)
    cancelled_after = time.time() - started
    outcome = finish_playbook(running)
    record = read_record(simulator, failed)
    left = [iid for iid, entry in record["InstanceMigrations"].items() if entry["status"] == "pending"]
    line = "cancel seed=%d cancel_at_call=%d delay=%.2fs cancelled_after=%.1fs %s rc=%d state=%s left=%d calls=%d" % (
        seed, call, delay, cancelled_after, what, outcome.returncode, record["State"], len(left), len(key_calls(simulator, access_key)))
    print(line)

    assert_record_consistent(record)
    view = instance_view(simulator, original)
    migrations = record["InstanceMigrations"]
    assert sorted(migrations) == sorted(original), (line, migrations)
    for instance_id, state in original.items():
        entry = migrations[instance_id]
        # On exactly one host, in its original state: its target once moved, else the failed host, untouched.
        where = record["Plan"][instance_id] if entry["status"] == "success" else failed
        assert view[instance_id][:2] == (state, where), (line, instance_id, entry, view[instance_id])
        assert entry["status"] in ("success", "pending"), (line, instance_id, entry)
        if entry["status"] == "pending":
            assert entry["errorMessage"].startswith("cancelled before it was"), (line, entry)
    # cancelled when the cancel left any instance unmoved; complete when it came after the last stop, or found no live run.
    assert record["State"] == ("cancelled" if left else "complete"), (line, record["State"], left)
    assert (outcome.returncode != 0) == bool(left), (line, outcome)
    if left:
        assert "cancel requested by chaos@test" in outcome.output, (line, outcome)
    moved_by_this_run = stopped_by(simulator, access_key)
    assert set(iid for iid in moved_by_this_run) <= set(iid for iid, entry in migrations.items() if entry["status"] == "success"), line
