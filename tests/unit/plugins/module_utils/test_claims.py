# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pool-host claims against moto's DynamoDB."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.claims import all_claims
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.claims import claim_pool_host
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.claims import claimable
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.claims import claimed_by
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.claims import claims_for
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.claims import release_claim
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import list_records
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseLostError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from conftest import TABLE

FAILED_A = "h-0aaaaaaaaaaaaaaaa"
FAILED_B = "h-0bbbbbbbbbbbbbbbb"
POOL_1 = "h-01111111111111111"
POOL_2 = "h-02222222222222222"


NOW = 1795000000.0


@pytest.fixture
def dynamodb(migration_table):
    """The simulator's table (DynamoDB's atomic conditional writes), both failed hosts' records leased."""
    for failed_host, run_id in ((FAILED_A, "run-a"), (FAILED_B, "run-b")):
        lease(migration_table, failed_host, run_id)
    return migration_table


def lease(dynamodb, failed_host, run_id, break_lock=False):
    """The record of ``failed_host`` with its lease held by ``run_id`` (claims are written under it)."""
    record = MigrationRecord(dynamodb, TABLE, failed_host, run_id, wall_clock=lambda: NOW)
    record.acquire(lease_seconds=60, break_lock=break_lock)
    return record


def claim_item(dynamodb, pool_host):
    return dynamodb.get_item(TableName=TABLE, Key={"HostId": {"S": "claim#" + pool_host}}, ConsistentRead=True).get("Item")


def test_claim_is_stored_under_its_own_key(dynamodb):
    assert claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_A, "run-a", wall_clock=lambda: 1795000000.7) is True
    assert claim_item(dynamodb, POOL_1) == {
        "HostId": {"S": "claim#" + POOL_1},
        "ClaimedFor": {"S": FAILED_A},
        "ClaimRunId": {"S": "run-a"},
        "ClaimGeneration": {"N": "1"},
        "ClaimedAt": {"N": "1795000000"},
        "ExpirationTime": {"N": str(1795000000 + 7 * 86400)},
    }
    assert claimed_by(dynamodb, TABLE, POOL_1) == FAILED_A
    assert claimed_by(dynamodb, TABLE, POOL_2) is None


def test_two_failed_hosts_one_pool_host_exactly_one_wins(dynamodb):
    results = {}
    barrier = threading.Barrier(2)

    def claim(failed_host, run_id):
        barrier.wait()
        results[failed_host] = claim_pool_host(dynamodb, TABLE, POOL_1, failed_host, run_id)

    threads = [threading.Thread(target=claim, args=args) for args in ((FAILED_A, "run-a"), (FAILED_B, "run-b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [False, True]
    winner = [host for host, won in results.items() if won][0]
    assert claimed_by(dynamodb, TABLE, POOL_1) == winner
    loser = FAILED_B if winner == FAILED_A else FAILED_A
    assert claim_pool_host(dynamodb, TABLE, POOL_1, loser, "run-a" if loser == FAILED_A else "run-b") is False
    assert claims_for(dynamodb, TABLE, loser) == []


def test_same_failed_host_reclaims(dynamodb):
    assert claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_A, "run-a") is True
    assert claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_A, "run-a") is True
    lease(dynamodb, FAILED_A, "run-resumed", break_lock=True)
    assert claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_A, "run-resumed") is True
    assert claim_item(dynamodb, POOL_1)["ClaimRunId"] == {"S": "run-resumed"}
    assert claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_B, "run-b") is False


def test_release_only_by_the_claiming_host(dynamodb):
    claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_A, "run-a")
    assert release_claim(dynamodb, TABLE, POOL_1, FAILED_B, "run-b") is False
    assert claimed_by(dynamodb, TABLE, POOL_1) == FAILED_A
    assert release_claim(dynamodb, TABLE, POOL_1, FAILED_A, "run-a") is True
    assert release_claim(dynamodb, TABLE, POOL_1, FAILED_A, "run-a") is False
    assert claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_B, "run-b") is True


def test_claims_for_lists_one_failed_hosts_claims(dynamodb):
    claim_pool_host(dynamodb, TABLE, POOL_2, FAILED_A, "run-a")
    claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_A, "run-a")
    claim_pool_host(dynamodb, TABLE, "h-03333333333333333", FAILED_B, "run-b")
    assert claims_for(dynamodb, TABLE, FAILED_A) == [POOL_1, POOL_2]
    assert claims_for(dynamodb, TABLE, FAILED_B) == ["h-03333333333333333"]
    assert [item["HostId"] for item in list_records(dynamodb, TABLE)] == [FAILED_A, FAILED_B]


def test_bad_ids_are_refused_before_any_call(dynamodb):
    with pytest.raises(InvalidInputError):
        claim_pool_host(dynamodb, TABLE, "h-xyz", FAILED_A, "run-a")
    with pytest.raises(InvalidInputError):
        claim_pool_host(dynamodb, TABLE, POOL_1, "claim#" + POOL_2, "run-a")
    with pytest.raises(InvalidInputError):
        claims_for(dynamodb, TABLE, "i-0123456789abcdef0")


def test_missing_table(dynamodb):
    with pytest.raises(NotFoundError):
        claim_pool_host(dynamodb, "NoSuchTable", POOL_1, FAILED_A, "run-a")
    with pytest.raises(NotFoundError):
        claims_for(dynamodb, "NoSuchTable", FAILED_A)


def test_all_claims_lists_every_claim_with_its_failed_host_and_no_record(dynamodb):  # pylint: disable=redefined-outer-name
    assert all_claims(dynamodb, TABLE) == {}
    claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_A, "run-a")
    claim_pool_host(dynamodb, TABLE, POOL_2, FAILED_B, "run-b")
    assert all_claims(dynamodb, TABLE) == {POOL_1: FAILED_A, POOL_2: FAILED_B}
    assert claims_for(dynamodb, TABLE, FAILED_B) == [POOL_2]


def test_a_run_that_lost_its_lease_can_neither_claim_nor_delete_the_new_holders_claim(dynamodb):
    claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_A, "run-a")
    lease(dynamodb, FAILED_A, "run-new", break_lock=True)  # the old run is paused; another run takes over

    with pytest.raises(LeaseLostError) as caught:
        release_claim(dynamodb, TABLE, POOL_1, FAILED_A, "run-a")
    assert "now held by run run-new" in caught.value.message
    with pytest.raises(LeaseLostError):
        claim_pool_host(dynamodb, TABLE, POOL_2, FAILED_A, "run-a")

    assert claimed_by(dynamodb, TABLE, POOL_1) == FAILED_A
    assert claim_item(dynamodb, POOL_1)["ClaimRunId"] == {"S": "run-a"}
    assert claims_for(dynamodb, TABLE, FAILED_A) == [POOL_1]
    assert release_claim(dynamodb, TABLE, POOL_1, FAILED_A, "run-new") is True


def test_a_claim_of_a_finished_failover_is_taken_over_only_on_a_host_back_in_the_pool(dynamodb):
    record = lease(dynamodb, FAILED_A, "run-a")
    claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_A, "run-a", wall_clock=lambda: NOW)
    # While A's failover runs, its claim holds even for a host back in the pool.
    assert claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_B, "run-b", take_stale=True, wall_clock=lambda: NOW) is False
    assert claimable(dynamodb, TABLE, POOL_1, FAILED_B, take_stale=True, wall_clock=lambda: NOW) is False
    record.finalize()

    assert claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_B, "run-b", wall_clock=lambda: NOW) is False
    assert claimable(dynamodb, TABLE, POOL_1, FAILED_B, take_stale=True, wall_clock=lambda: NOW) is True
    assert claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_B, "run-b", take_stale=True, wall_clock=lambda: NOW) is True
    assert claimed_by(dynamodb, TABLE, POOL_1) == FAILED_B
    assert claim_item(dynamodb, POOL_1)["ClaimRunId"] == {"S": "run-b"}


def test_an_expired_claim_is_stale_even_while_its_failover_is_unfinished(dynamodb):
    claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_A, "run-a", wall_clock=lambda: NOW)
    expiry = int(claim_item(dynamodb, POOL_1)["ExpirationTime"]["N"])
    assert claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_B, "run-b", take_stale=True, wall_clock=lambda: expiry - 1) is False
    assert claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_B, "run-b", take_stale=True, wall_clock=lambda: expiry) is True


def test_claims_of_an_earlier_generation_are_not_the_new_generations(dynamodb):
    claim_pool_host(dynamodb, TABLE, POOL_1, FAILED_A, "run-a")
    claim_pool_host(dynamodb, TABLE, POOL_2, FAILED_A, "run-a", claim_generation=2)
    assert claims_for(dynamodb, TABLE, FAILED_A) == [POOL_1, POOL_2]
    assert claims_for(dynamodb, TABLE, FAILED_A, claim_generation=1) == [POOL_1]
    assert claims_for(dynamodb, TABLE, FAILED_A, claim_generation=2) == [POOL_2]
