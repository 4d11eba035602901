# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health check's decision: what a scan found, what to report and which hosts to fail over.

Failed over: every failed host that still has instances and no live lease, and every host not released whose
failover stopped with its lease expired (the failover resumes it; its own preflight still decides). A host under
a live lease is reported and never a target. A host whose failover was cancelled is reported ("cancelled, not
resumed") and never a target: only an explicit failover.yml run resumes it.

Plain values in (host_health_info's hosts and summary per region, migration_record_info's record lists and the
leases of the failovers in flight), plain values out; the health_check role calls it through the
``health_decision`` filter and only reports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Optional

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import CLASSES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import DEGRADED
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import FAILED
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import GONE

# Lease states (lease.py) of a record in flight: a live run holds it, or the failover stopped and can resume.
LIVE_LEASE_STATES = ("held",)
STALE_LEASE_STATES = ("expired", "stuck", "free")
CANCELLED = "cancelled"


def _in_pool(tags: dict, reserved_tags: dict) -> bool:
    """Whether a host carries every reserved tag (a pool host); never without reserved tags."""
    return bool(reserved_tags) and all(key in tags and tags[key] == value for key, value in reserved_tags.items())


def _action(host: dict, live: dict, stale_ids: list, cancelled: dict, target_ids: list) -> str:
    """What the health check does about one reported host (first match wins)."""
    host_id = host["host_id"]
    if host_id in cancelled and host_id not in live:
        request = cancelled[host_id].get("cancel") or {}
        return (f"cancelled, not resumed (by {request.get('requestedBy', 'unknown')} at {request.get('requestedAt', 'an unknown time')});"
                f" run failover.yml -e failed_host_id={host_id} to resume it")
    if host_id in live:
        holder = live[host_id]
        return f"left alone: run {holder.get('run_id')} ({holder.get('owner')}) holds the lease until {holder.get('expires_at_iso')}"
    if host_id in stale_ids:
        return "lease expired, host released: nothing to resume" if host["health"] == GONE else "failover to resume (lease expired)"
    if host_id in target_ids:
        return "to fail over"
    if host["health"] == FAILED:
        return "nothing left on it to fail over"
    return "reported"


def health_decision(scans: list, record_lists: list, leases: list, reserved_tags: dict = None) -> dict:
    """The health check's summary of one scan: counts, reported hosts, failover targets, leases, missing tables.

    ``scans``: one ``{"region", "hosts", "summary"}`` per region (host_health_info's results).
    ``record_lists``: one ``{"region", "records"}`` per migration table read, ``records`` None where the table is missing.
    ``leases``: one ``{"status", "lease"}`` per failover in flight (migration_record_info by host id).
    ``reserved_tags``: the pool's tags; a reported host carrying them all is marked ``pool``.
    """
    reserved_tags = reserved_tags or {}
    hosts = [dict(host, region=scan["region"]) for scan in scans for host in scan["hosts"]]
    counts = dict((health, sum(scan["summary"][health] for scan in scans)) for health in CLASSES)
    missing_tables = [listing["region"] for listing in record_lists if listing.get("records") is None]

    def host_id_of(lease_read: dict) -> Optional[str]:
        return (lease_read.get("status") or {}).get("hostId")

    def lease_state(lease_read: dict) -> Optional[str]:
        return (lease_read.get("lease") or {}).get("state")

    live_ids = [host_id_of(read) for read in leases if lease_state(read) in LIVE_LEASE_STATES]
    # The first live lease read of a host names its holder.
    live = {}
    for read in leases:
        if lease_state(read) in LIVE_LEASE_STATES:
            live.setdefault(host_id_of(read), read["lease"])
    stale_ids = [host_id_of(read) for read in leases if lease_state(read) in STALE_LEASE_STATES]
    scanned_ids = [host["host_id"] for host in hosts]
    cancelled_records = [record for listing in record_lists for record in listing.get("records") or [] if record.get("state") == CANCELLED]
    # The first cancelled record of a host gives its cancel request.
    cancelled = {}
    for record in cancelled_records:
        cancelled.setdefault(record.get("hostId"), record)

    failing = [host for host in hosts
               if host["health"] == FAILED and host["host_id"] not in live and host["host_id"] not in cancelled and host.get("instances")]
    resumed = [host for host in hosts if host["host_id"] in stale_ids and host["health"] != GONE]
    # One target per host, where it was first named, in the region it was last found in.
    target_regions = {}
    for host in failing + resumed:
        target_regions[host["host_id"]] = host["region"]
    targets = [{"host_id": host_id, "region": region} for host_id, region in target_regions.items()]

    rows = [
        {
            "host_id": host["host_id"],
            "region": host["region"],
            "availability_zone": host.get("availability_zone"),
            "state": host.get("state"),
            "health": host["health"],
            "reasons": host.get("reasons"),
            "instances": len(host.get("instances") or []),
            "pool": _in_pool(host.get("tags") or {}, reserved_tags),
            "action": _action(host, live, stale_ids, cancelled, list(target_regions)),
        }
        for host in hosts
        if host["health"] in (DEGRADED, FAILED) or host["host_id"] in live or host["host_id"] in stale_ids
    ]
    return {
        "counts": counts,
        "hosts": rows,
        "failover_targets": targets,
        "live_leases": live_ids,
        "resumable": [host["host_id"] for host in resumed],
        "cancelled": [record.get("hostId") for record in cancelled_records],
        "stale_leases_elsewhere": [host_id for host_id in stale_ids if host_id not in scanned_ids],
        "missing_tables": missing_tables,
    }
