"""playbooks/failover.yml end to end against the simulator."""

import time

import pytest

from conftest import TABLE
from conftest import finish_playbook
from conftest import instance_view
from conftest import read_record
from conftest import start_playbook
from conftest import sns_inbox
from conftest import state_changing_calls
from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import pool_host
from scenarios import world

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:host-failover"


def host_tags(simulator, host_id):
    host = simulator.client("ec2").describe_hosts(HostIds=[host_id])["Hosts"][0]
    return dict((tag["Key"], tag["Value"]) for tag in host.get("Tags", []))


def calls_by_key(simulator, access_key):
    """The state-changing calls made with one access key (one run's credentials)."""
    changing = {"StopInstances", "StartInstances", "ModifyInstancePlacement", "AllocateHosts", "CreateTags", "DeleteTags",
                "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "Publish"}
    return [(entry["action"], entry["code"]) for entry in simulator.control.call_log()
            if entry.get("access_key") == access_key and entry["action"] in changing]


@pytest.mark.compat
def test_pool_host_takes_every_instance_stopped_ones_stay_stopped_and_affinity_is_kept(simulator, migration_table, run_playbook):
    ids = load(simulator, world(
        [failed_host(), pool_host()],
        [on_failed("web", count=2), on_failed("api", "m5.xlarge", affinity="default"), on_failed("cold", "m5.2xlarge", state="stopped")],
    ))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    instances = ids["instances"]

    result = run_playbook("failover.yml", {"failed_host_id": failed})

    assert result.returncode == 0, result
    view = instance_view(simulator, instances.values())
    assert view[instances["web-0"]] == ("running", pool, "host", "host")
    assert view[instances["web-1"]] == ("running", pool, "host", "host")
    assert view[instances["api"]] == ("running", pool, "default", "host")
    assert view[instances["cold"]] == ("stopped", pool, "host", "host")
    assert simulator.control.call_count("ec2", "AllocateHosts") == 0
    # The cold instance was placed but never started.
    starts = [entry for entry in simulator.control.call_log() if entry["action"] == "StartInstances"]
    assert instances["cold"] not in sum((entry["instance_ids"] for entry in starts), [])

    record = read_record(simulator, failed)
    assert record["State"] == "complete"
    assert (record["TotalInstances"], record["SuccessfulMigrations"], record["FailedMigrations"]) == (4, 4, 0)
    assert record["ReservedHostId"] == pool
    assert "LeaseRunId" not in record  # the finished run released its lease
    assert record["ExpirationTime"] > time.time() + 6 * 86400
    cold = record["InstanceMigrations"][instances["cold"]]
    assert cold["status"] == "success" and cold["originalState"] == "stopped"
    assert "starting" not in cold["phaseTimes"] and "placed" in cold["phaseTimes"]
    web = record["InstanceMigrations"][instances["web-0"]]
    # On a permanent-failure host the system status is impaired: the stop is forced at once.
    assert {"force-stopping", "stopped", "placed", "starting", "running", "verified"} <= set(web["phaseTimes"])

    assert host_tags(simulator, pool).get("FailoverFor") == failed
    report = result.report(failed)
    assert report["outcome"] == "succeeded"
    assert sorted(entry["instance_id"] for entry in report["instances"]) == sorted(instances.values())
    assert "SUCCEEDED" in result.stdout


def test_without_a_pool_host_one_host_is_allocated_like_the_failed_one(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host()], [on_failed("web", count=2), on_failed("big", "m5.4xlarge")]))
    failed = ids["hosts"]["failed"]

    result = run_playbook("failover.yml", {"failed_host_id": failed})

    assert result.returncode == 0, result
    assert simulator.control.call_count("ec2", "AllocateHosts") == 1
    record = read_record(simulator, failed)
    new_hosts = record["ReplacementHostIds"]
    assert len(new_hosts) == 1 and new_hosts[0] != failed
    host = simulator.client("ec2").describe_hosts(HostIds=new_hosts)["Hosts"][0]
    assert host["AvailabilityZone"] == "us-east-1a"
    assert host["HostProperties"]["InstanceFamily"] == "m5" and host["AllowsMultipleInstanceTypes"] == "on"
    assert host["AutoPlacement"] == "off" and host["HostMaintenance"] == "off"  # copied from the failed host
    tags = host_tags(simulator, new_hosts[0])
    assert tags["FailoverFor"] == failed and tags["CostCenter"] == "42"
    assert set(state for state, host_id, _affinity, _tenancy in instance_view(simulator, ids["instances"].values()).values()) == {"running"}
    assert all(view[1] == new_hosts[0] for view in instance_view(simulator, ids["instances"].values()).values())


def test_instances_that_need_two_hosts_get_the_pool_host_and_a_new_one(simulator, migration_table, run_playbook):
    # The pool host already runs one m5.12xlarge: it has room for one more, not two.
    ids = load(simulator, world(
        [failed_host(), pool_host()],
        [on_failed("huge", "m5.12xlarge", count=2), {"name": "resident", "host": "pool", "instance_type": "m5.12xlarge", "state": "running"}],
    ))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]

    result = run_playbook("failover.yml", {"failed_host_id": failed})

    assert result.returncode == 0, result
    view = instance_view(simulator, [ids["instances"]["huge-0"], ids["instances"]["huge-1"]])
    targets = sorted(host_id for _state, host_id, _affinity, _tenancy in view.values())
    assert pool in targets and len(set(targets)) == 2
    assert simulator.control.call_count("ec2", "AllocateHosts") == 1
    assert read_record(simulator, failed)["ReplacementHostIds"][0] == pool


def test_a_multi_size_pool_host_is_packed_by_the_per_socket_rules(simulator, migration_table, run_playbook):
    # AWS's own example: a c5 host running 2 x c5.4xlarge and 4 x c5.2xlarge has 8 vCPUs free but no
    # c5.2xlarge slot (4 free cores on each socket). Counting vCPUs alone would put the c5.2xlarge there.
    ids = load(simulator, world(
        [dict(failed_host(), instance_family="c5"), dict(pool_host(), instance_family="c5")],
        [on_failed("batch", "c5.2xlarge"), on_failed("small", "c5.xlarge", count=2),
         {"name": "big", "host": "pool", "instance_type": "c5.4xlarge", "count": 2, "state": "running"},
         {"name": "mid", "host": "pool", "instance_type": "c5.2xlarge", "count": 4, "state": "running"}],
    ))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]

    result = run_playbook("failover.yml", {"failed_host_id": failed})

    assert result.returncode == 0, result
    view = instance_view(simulator, [ids["instances"][name] for name in ("batch", "small-0", "small-1")])
    assert view[ids["instances"]["small-0"]][1] == pool and view[ids["instances"]["small-1"]][1] == pool
    batch_host = view[ids["instances"]["batch"]][1]
    assert batch_host not in (pool, failed)
    assert simulator.control.call_count("ec2", "AllocateHosts") == 1


@pytest.mark.compat
def test_an_instance_whose_start_keeps_failing_fails_alone_and_the_run_says_why(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=3)]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    stuck = ids["instances"]["web-1"]
    simulator.control.add_fault("ec2", "StartInstances", "InsufficientInstanceCapacity", instance_id=stuck, count=None)

    result = run_playbook("failover.yml", {"failed_host_id": failed})

    assert result.returncode != 0, result
    record = read_record(simulator, failed)
    assert record["State"] == "failed"
    assert (record["SuccessfulMigrations"], record["FailedMigrations"]) == (2, 1)
    entry = record["InstanceMigrations"][stuck]
    assert entry["status"] == "failed" and "InsufficientInstanceCapacity" in entry["errorMessage"]
    # Three start attempts, then the role's one retry pass with three more: five retries in all.
    assert entry["retryCount"] == 5
    assert stuck in record["ErrorDetails"]
    view = instance_view(simulator, ids["instances"].values())
    assert view[stuck][0] == "stopped" and view[stuck][1] == pool  # left stopped on its target, not lost
    assert [view[ids["instances"][name]][:2] for name in ("web-0", "web-2")] == [("running", pool)] * 2
    summary = result.stdout[result.stdout.index("Failover of %s: FAILED" % failed):]
    assert stuck in summary and "InsufficientInstanceCapacity" in summary
    assert "Next:" in summary
    assert result.report(failed)["outcome"] == "failed"


def test_a_stop_that_hangs_is_forced_after_force_stop_after(simulator, migration_table, run_playbook):
    ids = load(simulator, world(
        [dict(failed_host(), state="available"), pool_host()],
        [on_failed("db", hang_on_stop=True, system_status="ok"), on_failed("web", system_status="impaired")],
    ))
    failed = ids["hosts"]["failed"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "force_stop_after": "0.5"})

    assert result.returncode == 0, result
    record = read_record(simulator, failed)
    db = record["InstanceMigrations"][ids["instances"]["db"]]
    assert db["forceStopUsed"] is True
    assert {"stopping", "force-stopping", "stopped"} <= set(db["phaseTimes"])
    stops = [entry for entry in simulator.control.call_log() if entry["action"] == "StopInstances"]
    assert len(stops) == 3  # graceful for db, forced at once for the impaired web, forced for db after the bound


def test_a_second_run_is_refused_while_the_first_holds_the_lease(simulator, migration_table, tmp_path):
    # A 20 s stop: the first run still holds the lease when the second, started once the lease is taken, gets to it,
    # however slowly a loaded machine starts ansible-playbook (6 s were not enough at a load of 10 on 2 cores).
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=2)],
                                latency={"stop": 2000, "force_stop": 2000, "start": 200, "jitter": 0}))
    failed = ids["hosts"]["failed"]
    first = start_playbook(simulator, "failover.yml", {"failed_host_id": failed, "stop_timeout": "60"},
                           env={"AWS_ACCESS_KEY_ID": "AKIAFIRSTRUN"})
    deadline = time.time() + 60
    while time.time() < deadline and not (read_record(simulator, failed) or {}).get("LeaseRunId"):
        time.sleep(0.2)
    second = finish_playbook(start_playbook(simulator, "failover.yml", {"failed_host_id": failed},
                                            env={"AWS_ACCESS_KEY_ID": "AKIASECONDRUN"}))
    outcome = finish_playbook(first)

    assert outcome.returncode == 0, outcome
    assert second.returncode != 0, second
    holder = read_record(simulator, failed)["RunId"]
    assert "is locked by run %s" % holder in second.output
    # The second run changed nothing: at most its refused conditional write, which changes nothing.
    assert all(action == "UpdateItem" and code == "ConditionalCheckFailedException" for action, code in calls_by_key(simulator, "AKIASECONDRUN"))


def test_a_rerun_after_success_changes_nothing_in_ec2(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=2)]))
    failed = ids["hosts"]["failed"]
    assert run_playbook("failover.yml", {"failed_host_id": failed}).returncode == 0
    before = instance_view(simulator, ids["instances"].values())
    simulator.control.reset_calls()

    rerun = run_playbook("failover.yml", {"failed_host_id": failed})

    assert rerun.returncode == 0, rerun
    assert not [key for key in state_changing_calls(simulator) if key[0] == "ec2"]
    assert instance_view(simulator, ids["instances"].values()) == before
    assert read_record(simulator, failed)["State"] == "complete"


@pytest.mark.compat
def test_check_mode_prints_the_plan_and_changes_nothing(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=2), on_failed("cold", state="stopped")]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": failed, "notification_topic_arn": TOPIC_ARN}, check=True)

    assert result.returncode == 0, result
    assert state_changing_calls(simulator) == {}
    for instance_id in ids["instances"].values():
        assert "%s (m5.large) -> %s (pool host)" % (instance_id, pool) in result.stdout
    assert read_record(simulator, failed) is None
    assert "PLANNED" in result.stdout


@pytest.mark.compat
@pytest.mark.parametrize("bad, expected", [
    ("h-12345", "is malformed"),
    ("i-0123456789abcdef0", "is malformed"),
    ("h-0123456789abcdef0", "not found"),
])
def test_malformed_and_unknown_host_ids_are_refused_before_any_change(simulator, migration_table, run_playbook, bad, expected):
    load(simulator, world([failed_host(), pool_host()], [on_failed("web")]))
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": bad})

    assert result.returncode != 0, result
    assert expected in result.output and bad in result.output
    assert state_changing_calls(simulator) == {}


@pytest.mark.compat
@pytest.mark.parametrize("force", ["false", "False", "no", "0", ""])
def test_a_healthy_host_is_refused_when_force_is_any_false_string(simulator, migration_table, run_playbook, force):
    ids = load(simulator, world([dict(failed_host(), state="available"), pool_host()], [on_failed("web", system_status="ok")]))
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": ids["hosts"]["failed"], "force": force})

    assert result.returncode != 0, result
    assert "looks healthy" in result.output
    assert state_changing_calls(simulator) == {}


def test_force_true_fails_over_a_healthy_host(simulator, migration_table, run_playbook):
    ids = load(simulator, world([dict(failed_host(), state="available"), pool_host()], [on_failed("web", system_status="ok")]))

    result = run_playbook("failover.yml", {"failed_host_id": ids["hosts"]["failed"], "force": "true"})

    assert result.returncode == 0, result
    assert instance_view(simulator, ids["instances"].values())[ids["instances"]["web"]][:2] == ("running", ids["hosts"]["pool"])


def test_notifications_reach_an_sqs_subscriber(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=2)]))
    failed = ids["hosts"]["failed"]
    topic_arn, inbox = sns_inbox(simulator)

    result = run_playbook("failover.yml", {"failed_host_id": failed, "notification_topic_arn": topic_arn})

    assert result.returncode == 0, result
    messages = inbox()
    subjects = [message["Subject"] for message in messages]
    assert subjects == ["EC2 Dedicated Host Failover - Failover of %s started" % failed,
                        "EC2 Dedicated Host Failover - Succeeded: %s" % failed]
    assert all(subject.isascii() and len(subject) < 100 for subject in subjects)
    final = messages[1]["Message"]
    assert "Instances: 2 total, 2 moved, 0 failed, 0 skipped" in final
    for instance_id in ids["instances"].values():
        assert instance_id in final


def test_migration_status_shows_live_progress_while_a_slow_failover_runs(simulator, migration_table, run_playbook):
    # The slow instance's graceful stop hangs until it is forced 20 s later: a window, however loaded
    # the machine, in which the fast instance is done and the slow one is not.
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("fast"), on_failed("slow", hang_on_stop=True, system_status="ok")]))
    failed = ids["hosts"]["failed"]
    running = start_playbook(simulator, "failover.yml", {"failed_host_id": failed, "poll_interval": "0.1", "force_stop_after": "20", "stop_timeout": "60"})
    seen = []
    deadline = time.time() + 120
    while running[0].poll() is None and time.time() < deadline:
        status = run_playbook("migration_status.yml", {"failed_host_id": failed}, fast=False)
        if status.returncode == 0 and "state: processing" in status.stdout:
            seen.append(status.stdout)
            if "progressPercentage: 50" in status.stdout:
                break
    outcome = finish_playbook(running)

    assert outcome.returncode == 0, outcome
    assert any("progressPercentage: 50" in text and "in-progress" in text for text in seen), seen
    final = run_playbook("migration_status.yml", {"failed_host_id": failed}, fast=False)
    assert "progressPercentage: 100" in final.stdout and "state: complete" in final.stdout


def put_reference_record(simulator, failed, pool, first, second, updated_at="2025-06-22T04:00:00.000Z"):
    """What the Step Functions system leaves behind when its execution dies mid-way: processing, no lease, an ISO
    UpdatedAt, lower-case entries with nulls, ``first`` begun (in-progress) and ``second`` not yet."""
    simulator.client("dynamodb").put_item(TableName=TABLE, Item={
        "HostId": {"S": failed}, "State": {"S": "processing"}, "CreatedAt": {"N": "1750564800"},
        "UpdatedAt": {"S": updated_at}, "ReservedHostId": {"S": pool},
        "TotalInstances": {"N": "2"}, "SuccessfulMigrations": {"N": "0"}, "FailedMigrations": {"N": "0"},
        "InstanceMigrations": {"M": {
            first: {"M": {"status": {"S": "in-progress"}, "startTime": {"S": "2025-06-22T04:00:00.000Z"}, "endTime": {"NULL": True},
                          "errorMessage": {"NULL": True}, "retryCount": {"N": "0"}}},
            second: {"M": {"status": {"S": "pending"}, "startTime": {"NULL": True}, "endTime": {"NULL": True},
                           "errorMessage": {"NULL": True}, "retryCount": {"N": "0"}}},
        }},
    })


def test_a_reference_system_record_is_read_and_resumed(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=2)]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    first, second = ids["instances"]["web-0"], ids["instances"]["web-1"]
    put_reference_record(simulator, failed, pool, first, second)

    started = time.time()
    result = run_playbook("failover.yml", {"failed_host_id": failed})

    assert result.returncode == 0, result
    record = read_record(simulator, failed)
    assert record["State"] == "complete"
    assert (record["TotalInstances"], record["SuccessfulMigrations"], record["FailedMigrations"]) == (2, 2, 0)
    assert record["CreatedAt"] == 1750564800
    # The reference record's ISO string is replaced by this run's epoch seconds.
    assert int(started) <= record["UpdatedAt"] <= time.time()
    assert record["InstanceMigrations"][first]["startTime"] == "2025-06-22T04:00:00.000Z"
    assert all(view[:2] == ("running", pool) for view in instance_view(simulator, [first, second]).values())


def test_a_recent_reference_record_waits_and_an_instance_it_stopped_is_started_again(simulator, migration_table, run_playbook):
    # The reference run had stopped "stopped-by-reference" (its entry is in-progress), then went quiet.
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("stopped-by-reference", state="stopped"), on_failed("web")]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    first, second = ids["instances"]["stopped-by-reference"], ids["instances"]["web"]
    recently = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 600))
    put_reference_record(simulator, failed, pool, first, second, updated_at=recently)

    refused = run_playbook("failover.yml", {"failed_host_id": failed})
    assert refused.returncode != 0
    assert "has a record in processing without a lease" in refused.output and "break_lock=true" in refused.output
    assert read_record(simulator, failed)["InstanceMigrations"][first]["status"] == "in-progress"
    assert instance_view(simulator, [first])[first][:2] == ("stopped", failed)

    result = run_playbook("failover.yml", {"failed_host_id": failed, "break_lock": "true"})

    assert result.returncode == 0, result
    # The reference moved only running instances: the one it had stopped is started again, not left stopped.
    assert all(view[:2] == ("running", pool) for view in instance_view(simulator, [first, second]).values())
    entry = read_record(simulator, failed)["InstanceMigrations"][first]
    assert entry["status"] == "success" and entry["originalState"] == "running"
    notes = [entry["notes"] for entry in result.report(failed)["instances"] if entry["instance_id"] == first][0]
    assert any(note.startswith("original state unknown (a reference-system record): treated as running") for note in notes), notes
