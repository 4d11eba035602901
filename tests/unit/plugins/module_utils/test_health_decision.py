# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health check's decision over plain scan results, record lists and leases (module_utils/health_decision.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dedicated_hosts.failover.plugins.filter.health_check import health_decision as decision_filter
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health_decision import health_decision

H1, H2, H3, H4 = "h-00000001", "h-00000002", "h-00000003", "h-00000004"


def host(host_id, health, instances=1, state=None, tags=None, **fields):
    states = {"healthy": "available", "degraded": "under-assessment", "failed": "permanent-failure", "gone": "released"}
    return dict({"host_id": host_id, "health": health, "state": state or states[health], "availability_zone": "us-east-1a",
                 "reasons": ["because %s" % health] if health != "healthy" else [],
                 "instances": [{"instance_id": "i-%08d" % number} for number in range(instances)], "tags": tags or {}}, **fields)


def scan(region, *hosts, **counts):
    summary = dict({"healthy": 0, "degraded": 0, "failed": 0, "gone": 0}, **counts)
    for entry in hosts:
        summary[entry["health"]] += 1
    return {"region": region, "hosts": list(hosts), "summary": summary}


def records(region, *entries):
    return {"region": region, "records": list(entries)}


def lease(host_id, state, **fields):
    return {"status": {"hostId": host_id},
            "lease": dict({"state": state, "run_id": "run-1", "owner": "ops@bastion", "expires_at_iso": "2026-01-31T12:00:00Z"}, **fields)}


def decide(scans, record_lists=None, leases=None, reserved_tags=None):
    return health_decision(scans, record_lists if record_lists is not None else [records("us-east-1")], leases or [], reserved_tags)


def actions(decision):
    return dict((row["host_id"], row["action"]) for row in decision["hosts"])


def test_failed_hosts_with_instances_are_targets_and_degraded_ones_only_reported():
    decision = decide([scan("us-east-1", host(H1, "failed"), host(H2, "degraded"), host(H3, "failed", instances=0), host(H4, "healthy"),
                            healthy=5)])
    assert decision["failover_targets"] == [{"host_id": H1, "region": "us-east-1"}]
    assert actions(decision) == {H1: "to fail over", H2: "reported", H3: "nothing left on it to fail over"}
    assert decision["counts"] == {"healthy": 6, "degraded": 1, "failed": 2, "gone": 0}
    assert list(decision) == ["counts", "hosts", "failover_targets", "live_leases", "resumable", "cancelled",
                              "stale_leases_elsewhere", "missing_tables"]
    assert decision["hosts"][0] == {"host_id": H1, "region": "us-east-1", "availability_zone": "us-east-1a", "state": "permanent-failure",
                                    "health": "failed", "reasons": ["because failed"], "instances": 1, "pool": False,
                                    "action": "to fail over"}


def test_counts_add_up_over_regions_and_each_host_keeps_its_region():
    decision = decide([scan("us-east-1", host(H1, "failed"), healthy=2), scan("eu-west-1", host(H2, "failed"), gone=1)])
    assert decision["counts"] == {"healthy": 2, "degraded": 0, "failed": 2, "gone": 1}
    assert decision["failover_targets"] == [{"host_id": H1, "region": "us-east-1"}, {"host_id": H2, "region": "eu-west-1"}]
    assert [row["region"] for row in decision["hosts"]] == ["us-east-1", "eu-west-1"]


def test_a_live_lease_hands_off_even_a_failed_host():
    decision = decide([scan("us-east-1", host(H1, "failed"), host(H2, "healthy"))], leases=[lease(H1, "held"), lease(H2, "held")])
    assert decision["failover_targets"] == []
    assert decision["live_leases"] == [H1, H2]
    expected = "left alone: run run-1 (ops@bastion) holds the lease until 2026-01-31T12:00:00Z"
    assert actions(decision) == {H1: expected, H2: expected}  # a healthy host under a live lease is reported too


def test_an_expired_lease_resumes_the_failover_unless_the_host_is_released():
    leases = [lease(H1, "expired"), lease(H2, "stuck"), lease(H3, "free"), lease(H4, "expired")]
    decision = decide([scan("us-east-1", host(H1, "healthy"), host(H2, "degraded", instances=0), host(H3, "failed"), host(H4, "gone"))],
                      leases=leases)
    assert decision["failover_targets"] == [{"host_id": H3, "region": "us-east-1"}, {"host_id": H1, "region": "us-east-1"},
                                            {"host_id": H2, "region": "us-east-1"}]
    assert decision["resumable"] == [H1, H2, H3]
    assert actions(decision) == {H1: "failover to resume (lease expired)", H2: "failover to resume (lease expired)",
                                 H3: "failover to resume (lease expired)", H4: "lease expired, host released: nothing to resume"}
    assert decision["stale_leases_elsewhere"] == []


def test_an_unleased_record_is_neither_live_nor_resumed():
    decision = decide([scan("us-east-1", host(H1, "degraded"))], leases=[lease(H1, "unleased")])
    assert (decision["failover_targets"], decision["live_leases"], decision["resumable"]) == ([], [], [])
    assert actions(decision) == {H1: "reported"}


def test_expired_leases_on_hosts_not_scanned_are_named_not_resumed():
    decision = decide([scan("us-east-1", host(H1, "healthy"))], leases=[lease(H2, "expired"), lease(H1, "held")])
    assert decision["stale_leases_elsewhere"] == [H2]
    assert decision["failover_targets"] == []


def test_a_cancelled_failover_is_reported_with_its_request_and_never_resumed():
    cancelled = [{"hostId": H1, "state": "cancelled", "cancel": {"requestedBy": "ops@bastion", "requestedAt": "2026-01-31T11:00:00Z"}},
                 {"hostId": H2, "state": "cancelled", "cancel": None},
                 {"hostId": H3, "state": "complete"}]
    decision = decide([scan("us-east-1", host(H1, "failed"), host(H2, "failed"), host(H3, "failed"))], [records("us-east-1", *cancelled)])
    assert decision["failover_targets"] == [{"host_id": H3, "region": "us-east-1"}]
    assert decision["cancelled"] == [H1, H2]
    assert actions(decision)[H1] == ("cancelled, not resumed (by ops@bastion at 2026-01-31T11:00:00Z); "
                                     "run failover.yml -e failed_host_id=%s to resume it" % H1)
    assert actions(decision)[H2] == ("cancelled, not resumed (by unknown at an unknown time); "
                                     "run failover.yml -e failed_host_id=%s to resume it" % H2)


def test_a_live_lease_over_a_cancelled_record_names_the_holder():
    decision = decide([scan("us-east-1", host(H1, "failed"))], [records("us-east-1", {"hostId": H1, "state": "cancelled"})],
                      leases=[lease(H1, "held")])
    assert actions(decision)[H1].startswith("left alone: run run-1")
    assert decision["failover_targets"] == []


def test_gone_hosts_are_counted_never_reported_nor_targets():
    decision = decide([scan("us-east-1", host(H1, "gone", instances=2))])
    assert decision["hosts"] == [] and decision["failover_targets"] == []
    assert decision["counts"]["gone"] == 1


def test_aws_recovery_and_maintenance_hosts_stay_degraded_and_reported():
    recovering = host(H1, "degraded", state="under-assessment", reasons=["AWS host recovery in progress since ..."])
    maintained = host(H2, "degraded", state="permanent-failure", reasons=["AWS host maintenance will move the instances"])
    decision = decide([scan("us-east-1", recovering, maintained)])
    assert decision["failover_targets"] == []
    assert [(row["state"], row["action"]) for row in decision["hosts"]] == [("under-assessment", "reported"), ("permanent-failure", "reported")]


def test_pool_hosts_carry_every_reserved_tag():
    spare = {"Role": "Spare", "Team": "ops"}
    decision = decide([scan("us-east-1", host(H1, "failed", tags=spare), host(H2, "failed", tags={"Role": "Spare"}),
                            host(H3, "failed", tags=spare))], reserved_tags=spare)
    assert [row["pool"] for row in decision["hosts"]] == [True, False, True]
    assert [row["pool"] for row in decide([scan("us-east-1", host(H1, "failed", tags=spare))])["hosts"]] == [False]


def test_a_missing_table_is_named_and_its_region_has_no_records():
    decision = decide([scan("us-east-1", host(H1, "failed"))], [{"region": "us-east-1", "records": None}, records("eu-west-1")])
    assert decision["missing_tables"] == ["us-east-1"]
    assert decision["failover_targets"] == [{"host_id": H1, "region": "us-east-1"}]


def test_a_host_both_failing_and_resumable_is_one_target():
    decision = decide([scan("us-east-1", host(H1, "failed"))], leases=[lease(H1, "expired")])
    assert decision["failover_targets"] == [{"host_id": H1, "region": "us-east-1"}]
    assert actions(decision) == {H1: "failover to resume (lease expired)"}


def test_the_filter_reads_the_roles_registered_loop_results():
    scan_results = [{"hosts": [host(H1, "failed")], "summary": {"healthy": 1, "degraded": 0, "failed": 1, "gone": 0},
                     "health_check_region": "us-east-1", "ansible_loop_var": "health_check_region"}]
    listings = [{"failed": True, "msg": "DynamoDB table HostMigrationQueue not found", "health_check_table_region": "us-east-1",
                 "ansible_loop_var": "health_check_table_region"}]
    decision = decision_filter(scan_results, listings, None, {})
    assert decision["failover_targets"] == [{"host_id": H1, "region": "us-east-1"}]
    assert decision["missing_tables"] == ["us-east-1"]
