# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Releasing the replacement hosts that failovers allocated and no longer use: ``release_unused_hosts``.

Not here: host facts (hosts.py), the settlement of one failover's hosts (settlement.py). A failover still in
progress keeps its hosts: its record is in progress, or its lease is live by ``lease.lease_state`` (expiry plus
the holder's margin), as a takeover would judge it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
import uuid
from typing import Any
from typing import Callable
from typing import Dict
from typing import Iterable
from typing import Mapping
from typing import Optional

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import claims
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import aws_errors
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import list_records
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import ALLOCATED_TAG
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import DEFAULT_RESERVED_TAGS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import FAILOVER_TAG
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import describe_hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import instances_on
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import matches_tags
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import release_refusals
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import tag_dict
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_state

ALLOCATION_TOKEN_PREFIX = "failover-"
LIVE_RECORD_STATES = ("pending", "processing")


def _live_failovers(records, now):
    """Failed host ids whose failover may still use its hosts: in progress (a crashed run resumes) or holding a lease
    that no other run could take over yet (``lease_state``: expiry plus the holder's margin)."""
    live = set()
    for item in records:
        if item.get("State") in LIVE_RECORD_STATES or lease_state(item, None, now) == "held":
            live.add(item["HostId"])
    return live


def _release_held(ec2, dynamodb, table, unused, described, records, kept, wall_clock):
    """ReleaseHosts of those ``unused`` hosts a release claim holds; the released ids.

    The claim is written only while the record of the failover that allocated the host is unleased and unchanged
    since ``records`` was read, so a failover of that host which started since keeps it; one that starts while
    the claim exists plans without it. The claims end once EC2 has answered.
    """
    run_id = f"release-{uuid.uuid4().hex}"
    versions = dict((item["HostId"], int(item.get("RecordVersion") or 0)) for item in records)
    owners = dict((host["HostId"], tag_dict(host)[FAILOVER_TAG]) for host in described)
    held = []
    for host_id in unused:
        if claims.claim_for_release(dynamodb, table, host_id, owners[host_id], versions.get(owners[host_id], 0), run_id,
                                    wall_clock=wall_clock):
            held.append(host_id)
        else:
            kept.append({"host_id": host_id, "reason": f"the failover of {owners[host_id]} started meanwhile (or claimed it)"})
    if not held:
        return []
    try:
        with aws_errors("ReleaseHosts", f"releasing {', '.join(held)} failed"):
            response = ec2.release_hosts(aws_retry=True, HostIds=held)
    finally:
        for host_id in held:
            claims.end_release_claim(dynamodb, table, host_id, run_id)
    refused = release_refusals(response)
    kept.extend({"host_id": host_id, "reason": f"ReleaseHosts refused it: {refused[host_id]}"} for host_id in sorted(refused))
    return [host_id for host_id in held if host_id not in refused]


def release_unused_hosts(ec2: Any, dynamodb: Any, table: str, reserved_tags: Optional[Mapping[str, str]] = None,
                         host_ids: Optional[Iterable[str]] = None, check_mode: bool = False,
                         wall_clock: Callable[[], float] = time.time) -> Dict[str, Any]:
    """Release the replacement hosts failovers allocated that ended up unused; idempotent.

    A host is released when all of these hold: it is ``available``; a failover allocated it (its ClientToken is a
    failover's, or a record lists it in ``AllocatedHosts``); it carries FailoverFor and FailoverAllocatedFor; it is not a pool host (it lacks
    ``reserved_tags``); no instance is on it or targets it (running or stopped); it holds no reservation; and neither
    a claim nor its FailoverFor ties it to a failover still in progress. ``host_ids`` limits the search to those hosts.
    Returns ``{"changed", "released_host_ids" (or what would be released in check mode), "kept": [{host_id, reason}]}``.
    """
    ec2 = retrying(ec2)
    dynamodb = retrying(dynamodb)
    reserved = dict((str(key), str(value)) for key, value in (DEFAULT_RESERVED_TAGS if reserved_tags is None else reserved_tags).items())
    if host_ids:
        names = []
        for value in host_ids:
            value = validate_host_id(value, what="release_host_ids item")
            if value not in names:
                names.append(value)
        candidates = describe_hosts(ec2, host_ids=names)
    else:
        candidates = describe_hosts(ec2, filters={"tag-key": [FAILOVER_TAG], "state": ["available"]})
    records = list_records(dynamodb, table)
    allocated = set(entry.get("hostId") for item in records for entry in item.get("AllocatedHosts") or [])
    live = _live_failovers(records, wall_clock())
    claimed = claims.all_claims(dynamodb, table)
    kept = []
    unused = []
    for host in sorted(candidates, key=lambda entry: entry["HostId"]):
        host_id = host["HostId"]
        tags = tag_dict(host)
        reason = None
        if host.get("State") != "available":
            reason = f"it is {host.get('State')}"
        elif not (str(host.get("ClientToken") or "").startswith(ALLOCATION_TOKEN_PREFIX) or host_id in allocated):
            reason = "no failover allocated it"
        elif FAILOVER_TAG not in tags:
            reason = f"it has no {FAILOVER_TAG} tag"
        elif reserved and matches_tags(host, reserved):
            reason = f"it is a pool host (tags {reserved})"
        elif ALLOCATED_TAG not in tags:
            reason = f"it has no {ALLOCATED_TAG} tag, which a failover sets only when it allocates a host (docs/iam.md)"
        elif claimed.get(host_id) in live:
            reason = f"it is claimed by the failover of {claimed[host_id]}, still in progress"
        elif tags[FAILOVER_TAG] in live:
            reason = f"the failover of {tags[FAILOVER_TAG]} is still in progress"
        elif host.get("HostReservationId"):
            reason = f"it holds the reservation {host['HostReservationId']}: a reserved host cannot be released before the term ends"
        if reason:
            kept.append({"host_id": host_id, "reason": reason})
        else:
            unused.append(host_id)
    occupied = instances_on(ec2, unused)
    for host_id in list(unused):
        if occupied[host_id]:
            kept.append({"host_id": host_id, "reason": f"{len(occupied[host_id])} instance(s) on it (running or stopped): "
                                                       f"{', '.join(sorted(occupied[host_id]))}"})
            unused.remove(host_id)
    released = []
    if unused and not check_mode:
        released = _release_held(ec2, dynamodb, table, unused, candidates, records, kept, wall_clock)
    return {
        "changed": bool(released),
        "released_host_ids": unused if check_mode else released,
        "kept": sorted(kept, key=lambda entry: entry["host_id"]),
    }
