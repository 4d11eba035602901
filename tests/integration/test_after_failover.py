"""Cost and what happens after a failover: reservations, price class and allocation time in the plan; the caps on
new hosts; named target hosts; the failed host's outcome tags and release; consumed pool hosts, unused claims and
pool replenishment (docs/capacity.md)."""

import re

import pytest

from conftest import instance_view
from conftest import read_record
from conftest import state_changing_calls
from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import on_host
from scenarios import pool_host
from scenarios import world
from support_runs import claims_in_table

RESERVATION = "hr-0123456789abcdef0"
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def flat(text):
    """Output with Ansible's line wrapping undone (long list items are folded onto indented lines)."""
    return re.sub(r"\s+", " ", text)


def host_tags(simulator, host_id):
    return dict((tag["Key"], tag["Value"]) for tag in describe(simulator, host_id).get("Tags", []))


def describe(simulator, host_id):
    return simulator.client("ec2").describe_hosts(HostIds=[host_id])["Hosts"][0]


def two_pool_hosts_one_instance_each():
    # Each pool host runs one m5.12xlarge: room for exactly one more, so each takes one of the failed host's.
    return world(
        [failed_host(), pool_host("pool-a"), pool_host("pool-b")],
        [on_failed("huge", "m5.12xlarge", count=2),
         on_host("pool-a", "resident-a", "m5.12xlarge"), on_host("pool-b", "resident-b", "m5.12xlarge")],
    )


def test_plan_and_record_show_reservations_price_class_and_allocation_time(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(reservation_id=RESERVATION), pool_host()],
                                [on_failed("web"), on_failed("huge", "m5.24xlarge", state="stopped")]))
    failed, pool = ids["hosts"]["failed"], ids["hosts"]["pool"]

    preview = run_playbook("failover.yml", {"failed_host_id": failed}, check=True)
    result = run_playbook("failover.yml", {"failed_host_id": failed, "host_hourly_prices": {"m5": 5.069}})

    assert preview.returncode == 0, preview
    assert "failed host %s: reserved (%s), it keeps its reservation" % (failed, RESERVATION) in flat(preview.stdout)
    assert "new host new-1 (to be allocated): on-demand, price unknown" in flat(preview.stdout)
    assert result.returncode == 0, result
    record = read_record(simulator, failed)
    (new,) = [entry["hostId"] for entry in record["AllocatedHosts"]]
    allocated_at = describe(simulator, new)["AllocationTime"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert record["AllocatedHosts"][0]["allocationTime"] == allocated_at
    hosts = dict((entry["hostId"], entry) for entry in record["PlanHosts"])
    assert hosts[failed]["role"] == "failed" and hosts[failed]["reservationId"] == RESERVATION
    assert hosts[pool]["role"] == "pool" and hosts[pool]["reservationId"] is None
    assert (hosts[new]["role"], hosts[new]["priceClass"], float(hosts[new]["hourlyPrice"]), hosts[new]["allocationTime"]) == (
        "new", "on-demand", 5.069, allocated_at)
    assert "new host %s allocated at %s: on-demand, 5.069 USD/hour" % (new, allocated_at) in flat(result.stdout)
    assert "pool host %s: no reservation" % pool in flat(result.stdout)
    assert "new host %s allocated at %s for this failover" % (new, allocated_at) in flat(result.stdout)


@pytest.mark.parametrize("variables, expected", [
    ({"max_new_hosts": "1"}, "the 1 new host(s) max_new_hosts allows are full"),
    ({"max_new_hosts": "0"}, "max_new_hosts is 0"),
    ({"allocate_hosts": "false"}, "allocate_hosts is false"),
])
def test_the_caps_on_new_hosts_stop_the_failover_before_any_change(simulator, migration_table, run_playbook, variables, expected):
    # Two m5.24xlarge (one stopped: it holds no capacity on the failed host) need two new hosts.
    ids = load(simulator, world([failed_host()], [on_failed("huge", "m5.24xlarge"), on_failed("cold", "m5.24xlarge", state="stopped")]))
    failed = ids["hosts"]["failed"]
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", dict(variables, failed_host_id=failed))

    assert result.returncode != 0, result
    assert expected in result.output and "have no place" in result.output
    assert not [key for key in state_changing_calls(simulator) if key[0] == "ec2"]
    assert instance_view(simulator, [ids["instances"]["huge"]])[ids["instances"]["huge"]][:2] == ("running", failed)
    assert "FailoverOutcome" not in host_tags(simulator, failed)  # it never had a plan: nothing to settle


def test_a_named_target_host_is_filled_before_the_pool(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host(), dict(pool_host("target"), tags={"Name": "aws-replacement"})],
                                [on_failed("web", count=2)]))
    failed, pool, target = ids["hosts"]["failed"], ids["hosts"]["pool"], ids["hosts"]["target"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "target_host_ids": target})

    assert result.returncode == 0, result
    assert all(view[:2] == ("running", target) for view in instance_view(simulator, ids["instances"].values()).values())
    assert "(target host)" in flat(result.stdout)
    assert read_record(simulator, failed)["ReplacementHostIds"] == [target]
    assert claims_in_table(simulator) == {target: failed}
    assert host_tags(simulator, target)["FailoverFor"] == failed
    assert host_tags(simulator, pool) == {"Role": "Reserved"}  # the pool host was neither claimed nor tagged


def test_a_named_target_keeps_the_operators_tag_that_shares_the_pool_tag_key(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), dict(pool_host("target"), tags={"Role": "App", "Name": "app-spare"})],
                                [on_failed("web")]))
    failed, target = ids["hosts"]["failed"], ids["hosts"]["target"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "target_host_ids": target})

    assert result.returncode == 0, result
    assert instance_view(simulator, [ids["instances"]["web"]])[ids["instances"]["web"]][:2] == ("running", target)
    assert host_tags(simulator, target) == {"Role": "App", "Name": "app-spare", "FailoverFor": failed}
    assert ("ec2", "DeleteTags") not in state_changing_calls(simulator)


@pytest.mark.parametrize("bad, expected", [
    ("other-zone", "is in us-east-1b, not in the failed host's zone us-east-1a"),
    ("other-family", "is a c5 host; the failed host's instances are m5"),
    ("busy-state", "is under-assessment, not available"),
    ("h-0123456789abcdef0", "not found"),
])
def test_a_bad_target_host_is_refused_before_any_change(simulator, migration_table, run_playbook, bad, expected):
    ids = load(simulator, world(
        [failed_host(), pool_host(), pool_host("other-zone", availability_zone="us-east-1b"),
         pool_host("other-family", instance_family="c5"), pool_host("busy-state", state="under-assessment")],
        [on_failed("web")]))
    failed = ids["hosts"]["failed"]
    target = ids["hosts"].get(bad, bad)
    simulator.control.reset_calls()

    result = run_playbook("failover.yml", {"failed_host_id": failed, "target_host_ids": target})

    assert result.returncode != 0, result
    assert "target_host_ids" in result.output and expected in result.output and target in result.output, result
    assert not [key for key in state_changing_calls(simulator) if key[0] == "ec2"]
    assert claims_in_table(simulator) == {}
    assert instance_view(simulator, [ids["instances"]["web"]])[ids["instances"]["web"]][:2] == ("running", failed)


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
def test_the_failed_host_is_tagged_with_the_outcome(simulator, migration_table, run_playbook, outcome):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=2)]))
    failed = ids["hosts"]["failed"]
    if outcome == "failed":
        simulator.control.add_fault("ec2", "StartInstances", "InsufficientInstanceCapacity", instance_id=ids["instances"]["web-1"],
                                    count=None)

    result = run_playbook("failover.yml", {"failed_host_id": failed, "start_attempts": "1"})

    assert (result.returncode == 0) == (outcome == "succeeded"), result
    tags = host_tags(simulator, failed)
    assert tags["FailoverOutcome"] == outcome
    assert tags["FailoverRunId"] == read_record(simulator, failed)["RunId"]
    assert re.match(ISO + "$", tags["FailoverAt"])
    assert "failed host %s tagged FailoverOutcome=%s" % (failed, outcome) in flat(result.stdout)
    assert read_record(simulator, failed)["Settlement"]["outcome"] == outcome


def test_release_failed_host_releases_the_emptied_host(simulator, migration_table, run_playbook):
    ids = load(simulator, world([failed_host(), pool_host()], [on_failed("web", count=2), on_failed("cold", state="stopped")]))
    failed = ids["hosts"]["failed"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "release_failed_host": "true"})

    assert result.returncode == 0, result
    host = describe(simulator, failed)
    assert host["State"] == "released-permanent-failure"
    assert host_tags(simulator, failed)["FailoverOutcome"] == "succeeded"  # tagged before it was released
    assert "failed host %s released" % failed in flat(result.stdout)
    assert read_record(simulator, failed)["Settlement"]["failedHostReleased"] is True


@pytest.mark.parametrize("case", ["instance-left", "reserved"])
def test_release_failed_host_keeps_a_host_with_an_instance_left_or_a_reservation(simulator, migration_table, run_playbook, case):
    extra = {"reservation_id": RESERVATION} if case == "reserved" else {}
    instances = [on_failed("web")] + ([on_failed("ephemeral", root_device="instance-store")] if case == "instance-left" else [])
    ids = load(simulator, world([failed_host(**extra), pool_host()], instances))
    failed = ids["hosts"]["failed"]

    result = run_playbook("failover.yml", {"failed_host_id": failed, "release_failed_host": "true"})

    assert result.returncode == 0, result
    assert describe(simulator, failed)["State"] == "permanent-failure"
    assert simulator.control.call_count("ec2", "ReleaseHosts") == 0
    why = ("1 instance(s) are still on it (running or stopped): %s" % ids["instances"]["ephemeral"] if case == "instance-left"
           else "it holds the reservation %s: a reserved host cannot be released before the reservation term ends" % RESERVATION)
    assert "failed host %s not released: %s" % (failed, why) in flat(result.stdout)
    assert host_tags(simulator, failed)["FailoverOutcome"] == "succeeded"


def test_a_consumed_pool_host_leaves_the_pool_and_an_unused_claim_goes_back(simulator, migration_table, run_playbook):
    ids = load(simulator, two_pool_hosts_one_instance_each())
    failed = ids["hosts"]["failed"]
    stuck = ids["instances"]["huge-1"]
    # huge-1 cannot be stopped: it never reaches its pool host, which then received nothing.
    simulator.control.add_fault("ec2", "StopInstances", "UnsupportedOperation", instance_id=stuck, count=None)

    result = run_playbook("failover.yml", {"failed_host_id": failed})

    assert result.returncode != 0, result
    plan = read_record(simulator, failed)["Plan"]
    consumed, unused = plan[ids["instances"]["huge-0"]], plan[stuck]
    assert consumed != unused and {consumed, unused} == {ids["hosts"]["pool-a"], ids["hosts"]["pool-b"]}
    assert host_tags(simulator, consumed)["FailoverFor"] == failed and "Role" not in host_tags(simulator, consumed)
    assert host_tags(simulator, unused)["Role"] == "Reserved"  # back in the pool, its tags untouched
    assert claims_in_table(simulator) == {consumed: failed}
    settlement = read_record(simulator, failed)["Settlement"]
    assert settlement["returnedClaimHostIds"] == [unused] and settlement["consumedPoolHostIds"] == [consumed]
    assert host_tags(simulator, failed)["FailoverOutcome"] == "failed"


def test_replenish_pool_allocates_a_spare_per_consumed_pool_host_within_max_new_hosts(simulator, migration_table, run_playbook):
    ids = load(simulator, two_pool_hosts_one_instance_each())
    failed = ids["hosts"]["failed"]
    before = set(host["HostId"] for host in simulator.client("ec2").describe_hosts()["Hosts"])

    result = run_playbook("failover.yml", {"failed_host_id": failed, "replenish_pool": "true", "max_new_hosts": "1"})

    assert result.returncode == 0, result
    spares = set(host["HostId"] for host in simulator.client("ec2").describe_hosts()["Hosts"]) - before
    assert len(spares) == 1, spares
    (spare,) = spares
    host = describe(simulator, spare)
    assert host["AvailabilityZone"] == "us-east-1a" and host["HostProperties"]["InstanceFamily"] == "m5"
    assert host_tags(simulator, spare)["Role"] == "Reserved"
    settlement = read_record(simulator, failed)["Settlement"]
    assert [entry["hostId"] for entry in settlement["spares"]] == [spare]
    consumed = sorted(settlement["consumedPoolHostIds"])
    assert consumed == sorted([ids["hosts"]["pool-a"], ids["hosts"]["pool-b"]])
    assert "pool host %s not replenished: max_new_hosts (1)" % consumed[1] in flat(result.stdout)
    assert "spare %s allocated at" % spare in flat(result.stdout)
