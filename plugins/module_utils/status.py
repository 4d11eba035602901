# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status document of a migration record: what ``migration_record_info`` returns under ``status``.

The reference system's GetMigrationStatus shape (camelCase), extended with the lease, the cancel request and the
replacement hosts; ``migrationSummary`` counts skipped instances as done. Not here: the record's attributes and
their rules (schema.py), the lease's own view of a record (``lease.lease_info``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import math
from typing import Any
from typing import Dict

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import cancel_request_for
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import COUNTER_FIELDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import count_instances
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import normalise_item


def _percentage(done, total):
    if not total:
        return 100
    return int(math.floor(done * 100.0 / total + 0.5))


def migration_summary(item: Dict[str, Any]) -> Dict[str, Any]:
    """The reference's ``migrationSummary``, with skipped instances counted as done."""
    counts = count_instances(item["InstanceMigrations"]) if item["InstanceMigrations"] else dict(
        (name, item[name]) for name in COUNTER_FIELDS
    )
    total = counts["TotalInstances"]
    done = counts["SuccessfulMigrations"] + counts["FailedMigrations"] + counts["SkippedMigrations"]
    # A cancelled record is finished: the instances it left unmoved (status pending) are not in progress.
    cancelled = max(total - done, 0) if item.get("State") == "cancelled" else 0
    return {
        "totalInstances": total,
        "successfulMigrations": counts["SuccessfulMigrations"],
        "failedMigrations": counts["FailedMigrations"],
        "skippedMigrations": counts["SkippedMigrations"],
        "cancelledMigrations": cancelled,
        "inProgressMigrations": max(total - done - cancelled, 0),
        "progressPercentage": _percentage(done + cancelled, total),
    }


def status_document(item: Dict[str, Any]) -> Dict[str, Any]:
    """The camelCase status document of a record (the reference's GetMigrationStatus shape, extended)."""
    item = normalise_item(item)
    lease = None
    if item.get("LeaseRunId"):
        lease = {
            "owner": item["LeaseOwner"],
            "runId": item["LeaseRunId"],
            "expiresAt": item["LeaseExpiresAt"],
            "version": item["LeaseVersion"],
        }
    return {
        "hostId": item.get("HostId"),
        "state": item["State"],
        "reservedHostId": item["ReservedHostId"],
        "replacementHostIds": list(item["ReplacementHostIds"]),
        "createdAt": item["CreatedAt"],
        "updatedAt": item["UpdatedAt"],
        "migrationSummary": migration_summary(item),
        "instanceMigrations": copy.deepcopy(item["InstanceMigrations"]),
        "errorDetails": item["ErrorDetails"],
        "expirationTime": item["ExpirationTime"],
        "runId": item["RunId"],
        "lease": lease,
        # The cancel request addressed to the record's last run (a pending one while that run still holds the lease).
        "cancel": copy.deepcopy(cancel_request_for(item, item["RunId"])),
        "hostRecoveryTurnedOff": item.get("HostRecoveryTurnedOff"),
    }
