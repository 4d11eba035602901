"""playbooks/release_unused_hosts.yml: replacement hosts a failover allocated and nobody uses are released; everything
else is kept, with the reason; check mode lists; a second run changes nothing."""

import time

from conftest import TABLE
from conftest import state_changing_calls
from test_after_failover import flat
from scenarios import failed_host
from scenarios import load
from scenarios import on_host
from scenarios import pool_host
from scenarios import world


def replacement(name, **extra):
    return dict({"name": name, "availability_zone": "us-east-1a", "instance_family": "m5", "state": "available",
                 "tags": {"Name": name}}, **extra)


def build(simulator):
    """A finished failover of ``done`` that allocated five hosts, and a live one of ``live`` that allocated one."""
    spec = world(
        [failed_host("done"), failed_host("live"), pool_host(),
         replacement("unused-a"), replacement("unused-b"), replacement("busy"),
         replacement("cold"), replacement("reserved", reservation_id="hr-0123456789abcdef0"),
         replacement("in-use"), replacement("not-ours")],
        [on_host("busy", "web"), on_host("cold", "batch", state="stopped")],
    )
    ids = load(simulator, spec)
    hosts = ids["hosts"]
    ec2 = simulator.client("ec2")
    for name in ("unused-a", "unused-b", "busy", "cold", "reserved", "in-use", "not-ours"):
        failed = hosts["live" if name == "in-use" else "done"]
        ec2.create_tags(Resources=[hosts[name]], Tags=[{"Key": key, "Value": failed} for key in ("FailoverFor", "FailoverAllocatedFor")])
    # The pool host that the finished failover consumed is tagged FailoverFor too, and still a pool host here.
    ec2.create_tags(Resources=[hosts["pool"]], Tags=[{"Key": "FailoverFor", "Value": hosts["done"]}])
    dynamodb = simulator.client("dynamodb")
    allocated = [{"M": {"hostId": {"S": hosts[name]}, "allocationTime": {"S": "2026-11-27T08:00:00Z"}}}
                 for name in ("unused-a", "unused-b", "busy", "cold", "reserved", "pool")]
    dynamodb.put_item(TableName=TABLE, Item={"HostId": {"S": hosts["done"]}, "State": {"S": "complete"},
                                             "AllocatedHosts": {"L": allocated}, "InstanceMigrations": {"M": {}}})
    dynamodb.put_item(TableName=TABLE, Item={
        "HostId": {"S": hosts["live"]}, "State": {"S": "processing"}, "LeaseRunId": {"S": "run-live"},
        "LeaseOwner": {"S": "ops@bastion"}, "LeaseExpiresAt": {"N": str(int(time.time()) + 600)}, "LeaseSeconds": {"N": "600"},
        "AllocatedHosts": {"L": [{"M": {"hostId": {"S": hosts["in-use"]}, "allocationTime": {"S": "2026-11-27T08:00:00Z"}}}]},
        "InstanceMigrations": {"M": {}}})
    simulator.control.reset_calls()
    return hosts


def states(simulator, host_ids):
    hosts = simulator.client("ec2").describe_hosts(HostIds=list(host_ids))["Hosts"]
    return dict((host["HostId"], host["State"]) for host in hosts)


def test_check_mode_lists_the_unused_hosts_and_changes_nothing(simulator, migration_table, run_playbook):
    hosts = build(simulator)

    result = run_playbook("release_unused_hosts.yml", check=True, fast=False)

    assert result.returncode == 0, result
    assert "Would release: %s" % ", ".join(sorted([hosts["unused-a"], hosts["unused-b"]])) in flat(result.stdout)
    assert state_changing_calls(simulator) == {}
    assert set(states(simulator, hosts.values()).values()) <= {"available", "permanent-failure"}


def test_only_unused_replacement_hosts_are_released_and_a_rerun_changes_nothing(simulator, migration_table, run_playbook):
    hosts = build(simulator)

    limited = run_playbook("release_unused_hosts.yml", {"release_host_ids": "%s,%s" % (hosts["unused-a"], hosts["busy"])}, fast=False)
    everything = run_playbook("release_unused_hosts.yml", fast=False)
    calls_before_rerun = simulator.control.call_count("ec2", "ReleaseHosts")
    rerun = run_playbook("release_unused_hosts.yml", fast=False)

    assert limited.returncode == 0, limited
    assert "Released: %s" % hosts["unused-a"] in flat(limited.stdout)
    assert "%s kept: 1 instance(s) on it (running or stopped)" % hosts["busy"] in flat(limited.stdout)
    assert everything.returncode == 0, everything
    assert "Released: %s" % hosts["unused-b"] in flat(everything.stdout)
    after = states(simulator, hosts.values())
    assert after[hosts["unused-a"]] == after[hosts["unused-b"]] == "released"
    for kept in ("busy", "cold", "reserved", "in-use", "not-ours", "pool"):
        assert after[hosts[kept]] == "available", kept
    output = flat(everything.stdout)
    assert "%s kept: 1 instance(s) on it (running or stopped)" % hosts["cold"] in output
    assert "%s kept: it holds the reservation hr-0123456789abcdef0" % hosts["reserved"] in output
    assert "%s kept: the failover of %s is still in progress" % (hosts["in-use"], hosts["live"]) in output
    assert "%s kept: no failover allocated it" % hosts["not-ours"] in output
    assert "%s kept: it is a pool host" % hosts["pool"] in output
    assert rerun.returncode == 0, rerun
    assert "Released: nothing" in flat(rerun.stdout)
    assert simulator.control.call_count("ec2", "ReleaseHosts") == calls_before_rerun
