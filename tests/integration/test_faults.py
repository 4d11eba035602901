"""Faults injected into the simulator during playbooks/failover.yml, and what the failover does about them.

botocore's own retries are switched off for every playbook run here (AWS_MAX_ATTEMPTS=1, standard mode),
so the retries the tests count in the simulator's call log are the collection's own.

Covered elsewhere, not repeated here (tests/integration/test_failover.py):
- a stop that hangs until forced: test_a_stop_that_hangs_is_forced_after_force_stop_after;
- InsufficientInstanceCapacity on start that never clears (that instance fails and stays stopped on its
  target, the others succeed, record and summary say why):
  test_an_instance_whose_start_keeps_failing_fails_alone_and_the_run_says_why.
The catalogue of faults is docs/faults-and-bad-input.md.
"""

import time

from conftest import TABLE
from conftest import finish_playbook
from conftest import instance_view
from conftest import read_record
from conftest import start_playbook
from conftest import state_changing_calls
from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import pool_host
from scenarios import world

# Only the collection's retries act: botocore makes exactly one attempt per call.
NO_SDK_RETRIES = {"AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}


def run(simulator, run_playbook, extra_vars, **kwargs):
    return run_playbook("failover.yml", extra_vars, env=NO_SDK_RETRIES, **kwargs)


def attempts(simulator, service, action=None, instance_id=None):
    """The codes the simulator answered, in order, for one service (and action, and instance)."""
    return [entry["code"] for entry in simulator.control.call_log()
            if entry["service"] == service and (action is None or entry["action"] == action)
            and (instance_id is None or instance_id in (entry.get("instance_ids") or []))]


def injected_then_ok(simulator, service):
    """{action: (injected failures, calls that succeeded)} for the actions of ``service`` that saw a fault."""
    found = {}
    for entry in simulator.control.call_log():
        if entry["service"] != service:
            continue
        injected, ok = found.get(entry["action"], (0, 0))
        found[entry["action"]] = (injected + (1 if entry.get("injected") else 0), ok + (1 if entry["code"] == "OK" else 0))
    return dict((action, counts) for action, counts in found.items() if counts[0])


def test_throttling_on_30_percent_of_every_service_is_retried_and_the_failover_completes(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=3), on_failed("cold", state="stopped")]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    topic_arn = simulator.client("sns").create_topic(Name="host-failover")["TopicArn"]
    simulator.control.reset_calls()
    simulator.control.add_faults([
        {"service": "ec2", "code": "RequestLimitExceeded", "rate": 0.3, "seed": 11},
        {"service": "dynamodb", "code": "ProvisionedThroughputExceededException", "rate": 0.3, "seed": 12},
        {"service": "sns", "code": "Throttled", "rate": 0.3, "seed": 13},
    ])

    result = run(simulator, run_playbook, {"failed_host_id": failed, "notification_topic_arn": topic_arn})
    simulator.control.clear_faults()

    assert result.returncode == 0, result
    record = read_record(simulator, failed)
    assert record["State"] == "complete"
    assert (record["SuccessfulMigrations"], record["FailedMigrations"]) == (4, 0)
    view = instance_view(simulator, ids["instances"].values())
    assert all(entry[1] == pool for entry in view.values())
    assert result.report(failed)["notification_errors"] == []
    # Every service was throttled, and every throttled action was retried until it went through.
    for service in ("ec2", "dynamodb", "sns"):
        seen = injected_then_ok(simulator, service)
        assert seen, "no call to %s was throttled" % service
        for action, (injected, ok) in seen.items():
            assert ok >= 1, "%s %s: %d throttled, never retried to success" % (service, action, injected)
            codes = attempts(simulator, service, action)
            assert codes[-1] == "OK", (service, action, codes)


def test_insufficient_instance_capacity_that_clears_after_two_attempts_succeeds_on_the_third(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web")]))
    failed, pool, web = ids["hosts"]["failed"], ids["hosts"]["pool"], ids["instances"]["web"]
    simulator.control.add_fault("ec2", "StartInstances", "InsufficientInstanceCapacity", instance_id=web, count=2)

    result = run(simulator, run_playbook, {"failed_host_id": failed})

    assert result.returncode == 0, result
    assert attempts(simulator, "ec2", "StartInstances", web) == ["InsufficientInstanceCapacity", "InsufficientInstanceCapacity", "OK"]
    entry = read_record(simulator, failed)["InstanceMigrations"][web]
    assert entry["status"] == "success" and entry["retryCount"] == 2
    assert instance_view(simulator, [web])[web][:2] == ("running", pool)


def test_a_target_host_that_filled_up_after_planning_gets_its_instance_moved_to_another_host_of_the_plan(simulator, migration_table):
    # The pool host has room for one m5.12xlarge (a resident takes the other socket): the plan puts one
    # instance there and allocates a host for the other. Before the starts, someone else launches an
    # m5.12xlarge on the pool host: the start there is refused with InsufficientCapacityOnHost.
    ids = load(simulator, world(
        [failed_host(), pool_host()],
        [on_failed("huge", "m5.12xlarge", count=2, force_latency=400),
         {"name": "resident", "host": "pool", "instance_type": "m5.12xlarge", "state": "running"}],
    ))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    huge = [ids["instances"]["huge-0"], ids["instances"]["huge-1"]]
    started = start_playbook(simulator, "failover.yml", {"failed_host_id": failed}, env=NO_SDK_RETRIES)
    deadline = time.time() + 60
    plan = {}
    while time.time() < deadline and not plan:
        plan = (read_record(simulator, failed) or {}).get("Plan") or {}
        time.sleep(0.1)
    assert sorted(plan.values()).count(pool) == 1, plan
    to_pool = [instance_id for instance_id in huge if plan[instance_id] == pool][0]
    new_host = [plan[instance_id] for instance_id in huge if plan[instance_id] != pool][0]
    simulator.client("ec2").run_instances(ImageId="ami-12c6146b", InstanceType="m5.12xlarge", MinCount=1, MaxCount=1,
                                          Placement={"HostId": pool, "Tenancy": "host"})
    result = finish_playbook(started)

    assert result.returncode == 0, result
    assert "InsufficientCapacityOnHost" in attempts(simulator, "ec2", "StartInstances", to_pool)
    view = instance_view(simulator, huge)
    assert view[to_pool][:2] == ("running", new_host)
    record = read_record(simulator, failed)
    assert record["State"] == "complete"
    assert record["InstanceMigrations"][to_pool]["targetHostId"] == new_host
    assert record["Plan"][to_pool] == new_host  # a resumed run keeps it where it is
    placements = [entry for entry in simulator.control.call_log()
                  if entry["action"] == "ModifyInstancePlacement" and to_pool in (entry.get("instance_ids") or [])]
    assert len(placements) == 2


def test_a_target_host_that_filled_up_with_no_other_room_leaves_the_instance_stopped_with_a_clear_status(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=2)]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]
    stuck = ids["instances"]["web-1"]
    simulator.control.add_fault("ec2", "StartInstances", "InsufficientCapacityOnHost", instance_id=stuck, count=None)

    result = run(simulator, run_playbook, {"failed_host_id": failed, "start_attempts": "2"})

    assert result.returncode != 0, result
    entry = read_record(simulator, failed)["InstanceMigrations"][stuck]
    assert entry["status"] == "failed"
    assert "InsufficientCapacityOnHost" in entry["errorMessage"] and "no other host of the plan had room" in entry["errorMessage"]
    assert instance_view(simulator, [stuck])[stuck][:2] == ("stopped", pool)
    assert instance_view(simulator, [ids["instances"]["web-0"]])[ids["instances"]["web-0"]][:2] == ("running", pool)
    assert stuck in result.stdout[result.stdout.index("Failover of %s: FAILED" % failed):]


def test_host_allocation_refused_twice_is_retried_and_succeeds(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host()], [on_failed("web")]))
    failed = ids["hosts"]["failed"]
    simulator.control.add_fault("ec2", "AllocateHosts", "InsufficientHostCapacity", count=2)

    result = run(simulator, run_playbook, {"failed_host_id": failed})

    assert result.returncode == 0, result
    assert attempts(simulator, "ec2", "AllocateHosts") == ["InsufficientHostCapacity", "InsufficientHostCapacity", "OK"]
    assert read_record(simulator, failed)["State"] == "complete"


def test_allocation_attempts_and_retry_delay_are_honoured(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host()], [on_failed("web")]))
    failed = ids["hosts"]["failed"]
    simulator.control.add_fault("ec2", "AllocateHosts", "InsufficientHostCapacity", count=4)

    refused = run(simulator, run_playbook, {"failed_host_id": failed, "allocation_attempts": "2", "allocation_retry_delay": "0"})
    assert refused.returncode != 0 and "after 2 attempt(s)" in refused.output, refused
    assert attempts(simulator, "ec2", "AllocateHosts") == ["InsufficientHostCapacity"] * 2

    simulator.control.reset_calls()
    result = run(simulator, run_playbook, {"failed_host_id": failed, "allocation_attempts": "3", "allocation_retry_delay": "1.5"})

    assert result.returncode == 0, result
    calls = [entry for entry in simulator.control.call_log() if entry["action"] == "AllocateHosts"]
    assert [entry["code"] or "OK" for entry in calls] == ["InsufficientHostCapacity", "InsufficientHostCapacity", "OK"]
    gaps = [later["time"] - earlier["time"] for earlier, later in zip(calls, calls[1:])]
    assert gaps[0] >= 1.5 and gaps[1] >= 3.0, gaps  # 1.5 s, then doubled


def test_host_allocation_refused_for_good_fails_cleanly_before_any_instance_is_stopped(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host()], [on_failed("web", count=2)]))
    failed = ids["hosts"]["failed"]
    simulator.control.add_fault("ec2", "AllocateHosts", "InsufficientHostCapacity", count=None)

    result = run(simulator, run_playbook, {"failed_host_id": failed})

    assert result.returncode != 0, result
    assert attempts(simulator, "ec2", "AllocateHosts") == ["InsufficientHostCapacity"] * 3
    assert "InsufficientHostCapacity" in result.output and "nothing has been stopped" in result.output
    changing = state_changing_calls(simulator)
    assert not [key for key in changing if key[1] in ("StopInstances", "ModifyInstancePlacement", "StartInstances")], changing
    assert set(entry[0] for entry in instance_view(simulator, ids["instances"].values()).values()) == {"running"}
    assert read_record(simulator, failed)["State"] == "failed"


def test_the_host_quota_reached_is_reported_with_the_quota_to_raise(simulator, migration_table, run_playbook):
    # The failed host itself counts towards the quota of one m5 host: AllocateHosts answers HostLimitExceeded.
    ids = load(simulator, world([failed_host()], [on_failed("web")], quotas={"m5": 1}))
    failed = ids["hosts"]["failed"]

    result = run(simulator, run_playbook, {"failed_host_id": failed})

    assert result.returncode != 0, result
    assert attempts(simulator, "ec2", "AllocateHosts") == ["HostLimitExceeded"] * 3
    assert "HostLimitExceeded" in result.output and "Running Dedicated m5 Hosts" in result.output
    assert simulator.control.call_count("ec2", "StopInstances") == 0


def test_sns_unavailable_does_not_stop_the_failover_and_is_reported(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=2)]))
    failed = ids["hosts"]["failed"]
    topic_arn = simulator.client("sns").create_topic(Name="host-failover")["TopicArn"]
    simulator.control.add_fault("sns", "Publish", "ServiceUnavailable", count=None)

    result = run(simulator, run_playbook, {"failed_host_id": failed, "notification_topic_arn": topic_arn})

    assert result.returncode == 0, result
    assert read_record(simulator, failed)["State"] == "complete"
    errors = result.report(failed)["notification_errors"]
    assert len(errors) == 2 and all("ServiceUnavailable" in error for error in errors), errors  # the start and the summary
    assert "Could not notify %s" % topic_arn in result.output  # the module's warning (stderr)
    # Each notification was tried four times (the collection's three retries of a transient error).
    assert attempts(simulator, "sns", "Publish") == ["ServiceUnavailable"] * 8


def test_dynamodb_throttled_and_briefly_unavailable_is_retried_and_the_failover_completes(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=2)]))
    failed = ids["hosts"]["failed"]
    simulator.control.add_faults([
        {"service": "dynamodb", "code": "ServiceUnavailable", "count": 3},
        {"service": "dynamodb", "action": "UpdateItem", "code": "ThrottlingException", "count": 3},
    ])

    result = run(simulator, run_playbook, {"failed_host_id": failed})

    assert result.returncode == 0, result
    record = read_record(simulator, failed)
    assert record["State"] == "complete" and record["SuccessfulMigrations"] == 2
    injected = [entry for entry in simulator.control.call_log() if entry["service"] == "dynamodb" and entry.get("injected")]
    assert len(injected) == 6  # three calls unavailable, then three writes throttled
    assert [entry["code"] for entry in injected][:3] == ["ServiceUnavailable"] * 3
    for action, (failures, ok) in injected_then_ok(simulator, "dynamodb").items():
        assert ok >= 1 and attempts(simulator, "dynamodb", action)[-1] == "OK", (action, failures)


def test_a_missing_migration_table_fails_before_any_ec2_change_and_says_to_run_setup(simulator, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web")]))
    failed = ids["hosts"]["failed"]
    simulator.control.reset_calls()

    result = run(simulator, run_playbook, {"failed_host_id": failed})

    assert result.returncode != 0, result
    assert "DynamoDB table %s not found" % TABLE in result.output and "playbooks/setup.yml" in result.output
    assert state_changing_calls(simulator) == {}
    assert instance_view(simulator, ids["instances"].values())[ids["instances"]["web"]][0] == "running"
