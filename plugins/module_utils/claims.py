# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Claims on pool hosts, so that two concurrent failovers never pick the same replacement host.

A claim is an item of the migration table keyed ``HostId = "claim#<pool host id>"`` with
``ClaimedFor`` (the failed host), ``ClaimRunId`` and ``ClaimedAt`` (epoch seconds). It is taken with a
conditional PutItem: it succeeds when the pool host is unclaimed or already claimed for the same
failed host (a resumed run re-claims its own hosts), and fails when another failed host holds it.
Readers of migration records ignore these items.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import error_code
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import paginate
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import CLAIM_PREFIX
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import ConditionFailed
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import call_table
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import deserialize_item
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import table_error


def claim_key(pool_host_id):
    """The table key of the claim on ``pool_host_id``."""
    return CLAIM_PREFIX + validate_host_id(pool_host_id, what="pool host id")


def claim_pool_host(dynamodb, table, pool_host_id, failed_host_id, run_id, wall_clock=time.time):
    """Claim ``pool_host_id`` for ``failed_host_id``; True if claimed now or already claimed for the same
    failed host (the claim then records ``run_id``), False if another failed host holds it."""
    key = claim_key(pool_host_id)
    validate_host_id(failed_host_id, what="failed host id")
    item = {
        "HostId": {"S": key},
        "ClaimedFor": {"S": failed_host_id},
        "ClaimRunId": {"S": str(run_id)},
        "ClaimedAt": {"N": str(int(wall_clock()))},
    }
    try:
        call_table(
            dynamodb,
            table,
            "PutItem",
            "put_item",
            Item=item,
            ConditionExpression="attribute_not_exists(HostId) OR ClaimedFor = :failed",
            ExpressionAttributeValues={":failed": {"S": failed_host_id}},
        )
    except ConditionFailed:
        return False
    return True


def release_claim(dynamodb, table, pool_host_id, failed_host_id):
    """Give back the claim on ``pool_host_id`` if ``failed_host_id`` holds it; True if it was deleted."""
    key = claim_key(pool_host_id)
    validate_host_id(failed_host_id, what="failed host id")
    try:
        call_table(
            dynamodb,
            table,
            "DeleteItem",
            "delete_item",
            Key={"HostId": {"S": key}},
            ConditionExpression="ClaimedFor = :failed",
            ExpressionAttributeValues={":failed": {"S": failed_host_id}},
        )
    except ConditionFailed:
        return False
    return True


def claimed_by(dynamodb, table, pool_host_id):
    """The failed host id that holds the claim on ``pool_host_id``, or None."""
    response = call_table(dynamodb, table, "GetItem", "get_item", Key={"HostId": {"S": claim_key(pool_host_id)}}, ConsistentRead=True)
    return deserialize_item(response.get("Item")).get("ClaimedFor")


def _scan_claims(dynamodb, table, expression, values):
    """``{pool host id: failed host id}`` of the claims matching ``expression`` (one paginated Scan)."""
    try:
        result = paginate(
            retrying(dynamodb),
            "scan",
            TableName=table,
            FilterExpression=expression,
            ExpressionAttributeValues=values,
            ConsistentRead=True,
        )
    except Exception as error:  # botocore errors, whatever their class
        if error_code(error) is None:
            raise
        raise table_error(error, "Scan", table)
    found = {}
    for raw in result.get("Items", []):
        item = deserialize_item(raw)
        found[item["HostId"][len(CLAIM_PREFIX):]] = item.get("ClaimedFor")
    return found


def claims_for(dynamodb, table, failed_host_id):
    """The pool host ids claimed for ``failed_host_id``, sorted (one paginated Scan)."""
    validate_host_id(failed_host_id, what="failed host id")
    return sorted(_scan_claims(dynamodb, table, "begins_with(HostId, :claim) AND ClaimedFor = :failed",
                               {":claim": {"S": CLAIM_PREFIX}, ":failed": {"S": failed_host_id}}))


def all_claims(dynamodb, table):
    """``{pool host id: failed host id}`` of every claim in the table (one paginated Scan)."""
    return _scan_claims(dynamodb, table, "begins_with(HostId, :claim)", {":claim": {"S": CLAIM_PREFIX}})
