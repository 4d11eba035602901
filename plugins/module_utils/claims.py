# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Claims on pool hosts, so that two concurrent failovers never pick the same replacement host.

A claim is an item of the migration table keyed ``HostId = "claim#<pool host id>"`` with ``ClaimedFor`` (the
failed host), ``ClaimRunId`` (the run that wrote it), ``ClaimGeneration`` (the failover of that host it belongs
to, ``Generation`` of its record), ``ClaimedAt`` and ``ExpirationTime`` (epoch seconds; the table's TTL).

Every claim write is one TransactWriteItems: the claim's own condition plus a ConditionCheck that the failed
host's record is still leased by the writing run, so a run that lost its lease can neither take nor delete a
claim the new holder relies on. A claim is *stale* when it has expired, or when the failover it belongs to is
over (its record is gone, finished and unleased, or on a later generation); a stale claim on a host that is back
in the pool may be taken over. Readers of migration records ignore these items.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import Mapping
from typing import Optional

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import error_code
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import CLAIM_PREFIX
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import ConditionFailed
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import WRITE_ATTEMPTS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import call_table
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import deserialize_item
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import scan_table
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import table_errors
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import ConflictError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lost_error
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import DEFAULT_TTL_SECONDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import ENDED_STATES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import generation

# A claim outlives its failover by as long as the record does (record.finalize's TTL), and is refreshed by each
# re-claim; DynamoDB deletes expired items only eventually, so readers treat an expired claim as stale themselves.
CLAIM_TTL_SECONDS = DEFAULT_TTL_SECONDS
# ``ClaimedFor`` of the short claim release_unused_hosts takes on a host right before it releases it.
RELEASE_HOLDER = "release-unused"
RELEASE_CLAIM_SECONDS = 600


class ClaimRefused(Exception):
    """The claim's own condition failed: another failover (or a release) holds it."""


class RecordChanged(Exception):
    """The ConditionCheck on the record failed: the lease (or the record) is not what the writer expected."""


def claim_key(pool_host_id: str) -> str:
    """The table key of the claim on ``pool_host_id``."""
    return CLAIM_PREFIX + validate_host_id(pool_host_id, what="pool host id")


def _record_check(table, host_id, run_id=None, record_version=None):
    """A ConditionCheck on ``host_id``'s record: leased by ``run_id``, or (``record_version``) unchanged since read."""
    check = {"TableName": table, "Key": {"HostId": {"S": host_id}}}
    if run_id is not None:
        check.update(ConditionExpression="LeaseRunId = :run", ExpressionAttributeValues={":run": {"S": str(run_id)}})
    elif record_version:
        check.update(ConditionExpression="RecordVersion = :version AND attribute_not_exists(LeaseRunId)",
                     ExpressionAttributeValues={":version": {"N": str(int(record_version))}})
    else:
        check.update(ConditionExpression="attribute_not_exists(HostId) OR attribute_not_exists(LeaseRunId)")
    return {"ConditionCheck": check}


def _transact(dynamodb, table, check, write):
    """TransactWriteItems of ``check`` (a ConditionCheck on a record) and ``write`` (on a claim).

    Raises RecordChanged or ClaimRefused for a failed condition; retried on DynamoDB's transaction conflicts.
    """
    for _attempt in range(WRITE_ATTEMPTS):
        with table_errors("TransactWriteItems", table):  # what is re-raised here becomes the engine's error
            try:
                retrying(dynamodb).transact_write_items(aws_retry=True, TransactItems=[check, write])
                return
            except Exception as error:  # botocore errors, whatever their class
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code") for reason in (getattr(error, "response", {}).get("CancellationReasons") or [])]
                if reasons[:1] == ["ConditionalCheckFailed"]:
                    raise RecordChanged()
                if reasons[1:2] == ["ConditionalCheckFailed"]:
                    raise ClaimRefused()
                if "TransactionConflict" not in reasons:
                    raise
    raise ConflictError(f"the claims of the migration table {table} kept conflicting under {WRITE_ATTEMPTS} attempts")


def _claim_item(key, holder, run_id, claim_generation, now, seconds):
    return {
        "HostId": {"S": key},
        "ClaimedFor": {"S": holder},
        "ClaimRunId": {"S": str(run_id)},
        "ClaimGeneration": {"N": str(int(claim_generation))},
        "ClaimedAt": {"N": str(int(now))},
        "ExpirationTime": {"N": str(int(now + seconds))},
    }


def read_claim(dynamodb: Any, table: str, pool_host_id: str) -> Optional[Dict[str, Any]]:
    """The claim on ``pool_host_id`` (plain values), or None."""
    response = call_table(dynamodb, table, "GetItem", "get_item", Key={"HostId": {"S": claim_key(pool_host_id)}}, ConsistentRead=True)
    return deserialize_item(response.get("Item")) or None


def is_stale(dynamodb: Any, table: str, claim: Mapping[str, Any], now: float) -> bool:
    """True when ``claim`` no longer protects anything: expired, or its failover is over.

    Its failover is over when the holder's record is gone, ended (``complete`` or ``failed``) with no lease, or
    has moved on to a later generation than the claim's.
    """
    if claim.get("ExpirationTime") is not None and float(claim["ExpirationTime"]) <= now:
        return True
    if claim.get("ClaimedFor") == RELEASE_HOLDER:
        return False
    record = get_record(dynamodb, table, claim["ClaimedFor"])
    if record is None:
        return True
    if record.get("State") in ENDED_STATES and not record.get("LeaseRunId"):
        return True
    return generation(record) > int(claim.get("ClaimGeneration") or 1)


def claimable(dynamodb: Any, table: str, pool_host_id: str, failed_host_id: str, take_stale: bool = False,
              wall_clock: Callable[[], float] = time.time) -> bool:
    """Whether a claim of ``pool_host_id`` for ``failed_host_id`` would succeed now (reads only: check mode)."""
    claim = read_claim(dynamodb, table, pool_host_id)
    if claim is None or claim.get("ClaimedFor") == failed_host_id:
        return True
    return bool(take_stale) and is_stale(dynamodb, table, claim, wall_clock())


def claim_pool_host(dynamodb: Any, table: str, pool_host_id: str, failed_host_id: str, run_id: str, claim_generation: int = 1,
                    take_stale: bool = False, wall_clock: Callable[[], float] = time.time) -> bool:
    """Claim ``pool_host_id`` for ``failed_host_id`` as run ``run_id``, which must hold the failed host's lease.

    True if claimed now or already claimed for the same failed host (the claim then records ``run_id``, the
    generation and a new expiry); False if another failover holds it. With ``take_stale`` (the host is back in
    the pool) a stale claim of another failover is taken over, conditional on it being exactly the claim read.
    Raises LeaseLostError when ``run_id`` no longer holds the lease (nothing is written then).
    """
    key = claim_key(pool_host_id)
    validate_host_id(failed_host_id, what="failed host id")
    now = wall_clock()
    check = _record_check(table, failed_host_id, run_id=run_id)
    put = {"TableName": table, "Item": _claim_item(key, failed_host_id, run_id, claim_generation, now, CLAIM_TTL_SECONDS),
           "ConditionExpression": "attribute_not_exists(HostId) OR ClaimedFor = :failed",
           "ExpressionAttributeValues": {":failed": {"S": failed_host_id}}}
    try:
        _transact(dynamodb, table, check, {"Put": put})
        return True
    except RecordChanged:
        raise lost_error(failed_host_id, run_id, get_record(dynamodb, table, failed_host_id))
    except ClaimRefused:
        if not take_stale:
            return False
    claim = read_claim(dynamodb, table, pool_host_id)
    if claim is not None:
        if not is_stale(dynamodb, table, claim, now):
            return False
        put.update(ConditionExpression="ClaimedFor = :holder AND ClaimRunId = :holder_run",
                   ExpressionAttributeValues={":holder": {"S": claim["ClaimedFor"]},
                                              ":holder_run": {"S": str(claim.get("ClaimRunId"))}})
    try:
        _transact(dynamodb, table, check, {"Put": put})
    except RecordChanged:
        raise lost_error(failed_host_id, run_id, get_record(dynamodb, table, failed_host_id))
    except ClaimRefused:
        return False  # someone else took it over first
    return True


def release_claim(dynamodb: Any, table: str, pool_host_id: str, failed_host_id: str, run_id: str) -> bool:
    """Give back the claim on ``pool_host_id`` if ``failed_host_id`` holds it; True if it was deleted.

    Run ``run_id`` must hold the failed host's lease (LeaseLostError otherwise, and nothing is deleted).
    """
    key = claim_key(pool_host_id)
    validate_host_id(failed_host_id, what="failed host id")
    delete = {"TableName": table, "Key": {"HostId": {"S": key}}, "ConditionExpression": "ClaimedFor = :failed",
              "ExpressionAttributeValues": {":failed": {"S": failed_host_id}}}
    try:
        _transact(dynamodb, table, _record_check(table, failed_host_id, run_id=run_id), {"Delete": delete})
    except RecordChanged:
        raise lost_error(failed_host_id, run_id, get_record(dynamodb, table, failed_host_id))
    except ClaimRefused:
        return False
    return True


def claim_for_release(dynamodb: Any, table: str, host_id: str, owner_host_id: Optional[str], owner_record_version: Optional[int],
                      run_id: str, wall_clock: Callable[[], float] = time.time) -> bool:
    """Hold ``host_id`` for release_unused_hosts; True if held, False if a failover claimed it or its owner moved.

    One transaction: no claim exists on the host (any claim refuses it, a stale one too), and the record of
    ``owner_host_id`` (the failover that allocated the host) is unleased and still at ``owner_record_version``, as
    it was when the host was found unused (0: the record is absent or unleased). A failover of the owner that
    starts before this write changes the record and refuses it; one named onto the host after it sees the claim.
    """
    key = claim_key(host_id)
    now = wall_clock()
    put = {"TableName": table, "Item": _claim_item(key, RELEASE_HOLDER, run_id, 1, now, RELEASE_CLAIM_SECONDS),
           "ConditionExpression": "attribute_not_exists(HostId)"}
    try:
        _transact(dynamodb, table, _record_check(table, validate_host_id(owner_host_id, what="FailoverFor tag"),
                                                 record_version=owner_record_version), {"Put": put})
    except (RecordChanged, ClaimRefused):
        return False
    return True


def end_release_claim(dynamodb: Any, table: str, host_id: str, run_id: str) -> None:
    """Delete the release claim ``run_id`` holds on ``host_id`` (the host is released, or kept after all)."""
    try:
        call_table(dynamodb, table, "DeleteItem", "delete_item", Key={"HostId": {"S": claim_key(host_id)}},
                   ConditionExpression="ClaimedFor = :holder AND ClaimRunId = :run",
                   ExpressionAttributeValues={":holder": {"S": RELEASE_HOLDER}, ":run": {"S": str(run_id)}})
    except ConditionFailed:
        pass  # not (or no longer) this release's claim


def claimed_by(dynamodb: Any, table: str, pool_host_id: str) -> Optional[str]:
    """The failed host id that holds the claim on ``pool_host_id`` (``release-unused`` during a release), or None."""
    return (read_claim(dynamodb, table, pool_host_id) or {}).get("ClaimedFor")


def _scan_claims(dynamodb, table, expression, values):
    """``{pool host id: claim}`` of the claims matching ``expression`` (one paginated Scan)."""
    return dict((item["HostId"][len(CLAIM_PREFIX):], item) for item in scan_table(dynamodb, table, expression, values))


def claims_for(dynamodb: Any, table: str, failed_host_id: str, claim_generation: Optional[int] = None) -> List[str]:
    """The pool host ids claimed for ``failed_host_id`` (only those of ``claim_generation`` when given), sorted."""
    validate_host_id(failed_host_id, what="failed host id")
    found = _scan_claims(dynamodb, table, "begins_with(HostId, :claim) AND ClaimedFor = :failed",
                         {":claim": {"S": CLAIM_PREFIX}, ":failed": {"S": failed_host_id}})
    return sorted(host_id for host_id, claim in found.items()
                  if claim_generation is None or int(claim.get("ClaimGeneration") or 1) == int(claim_generation))


def all_claims(dynamodb: Any, table: str) -> Dict[str, Optional[str]]:
    """``{pool host id: failed host id}`` of every claim in the table (one paginated Scan)."""
    found = _scan_claims(dynamodb, table, "begins_with(HostId, :claim)", {":claim": {"S": CLAIM_PREFIX}})
    return dict((host_id, claim.get("ClaimedFor")) for host_id, claim in found.items())
