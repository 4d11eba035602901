# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration record's schema: its states, the instance entries and the rules that derive one from another.

Here: the phases and statuses of an instance, the states of a record, ``normalise_item`` (a record of any age,
the reference system's included, with every attribute present), the exact counters, generations, the instance
map's changes (``merge_initial``, ``apply_instance_changes``) and the final state. Plain values in, plain values
out: no AWS call. The attributes are described in ``docs/record-schema.md``. Not here: reading and writing the
table (dynamodb.py, record.py), the lease and the cancel request (lease.py), the status document (status.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
from typing import Any
from typing import Dict
from typing import Mapping
from typing import Optional

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import POST_START_HOOK
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import PRE_STOP_HOOK
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_instance_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import to_epoch

# Phases of one instance, in order. An instance that was stopped before the failover goes
# pending -> placed -> verified. The hook phases (hooks.py) are reached only when SSM hooks are set.
PHASES = ("pending", PRE_STOP_HOOK, "stopping", "force-stopping", "stopped", "placed", "starting", "running", POST_START_HOOK, "verified")
STATUSES = ("pending", "in-progress", "success", "failed", "skipped")
DONE_STATUSES = ("success", "failed", "skipped")
RECORD_STATES = ("pending", "processing", "complete", "failed", "cancelled", "healthy")
FINISHED_STATES = ("complete", "failed", "cancelled")
DEFAULT_TTL_SECONDS = 7 * 86400

LEASE_FIELDS = ("LeaseOwner", "LeaseRunId", "LeaseExpiresAt", "LeaseSeconds")
COUNTER_FIELDS = ("TotalInstances", "SuccessfulMigrations", "FailedMigrations", "SkippedMigrations")
# A failover that ended so: the next acquire starts a new generation. A cancelled one is resumed in its own
# generation, keeping its plan, claims and instance map.
ENDED_STATES = ("complete", "failed")
# Attributes of one failover that the next one (a new generation) must not inherit; Plan, ReplacementHostIds and
# AllocatedHosts are emptied, not removed.
GENERATION_FIELDS = ("ReservedHostId", "PlanHosts", "PlanPreflight", "AllocationClientToken", "AllocationClientTokens", "Settlement",
                     "ErrorDetails")
# Phases in which an instance is neither where nor in the state the failover found it.
MID_MOVE_PHASES = ("stopping", "force-stopping", "stopped", "placed", "starting")
# An instance entry's flag: this failover turned the instance's stop protection off and has not turned it on again.
STOP_PROTECTION_LIFTED = "stopProtectionLifted"
# The fields of a PlanPreflight entry (preflight's settings for one instance's move, stored with the plan) and the
# placement keys of instance_placement they stand for.
PLAN_PREFLIGHT_FIELDS = (("forceStopAfter", "force_stop_after"), ("stopTimeout", "stop_timeout"), ("startTimeout", "start_timeout"),
                         ("notes", "notes"), ("liftStopProtection", "lift_stop_protection"))
# Instance fields the record computes itself.
COMPUTED_INSTANCE_FIELDS = ("phaseTimes", "startTime", "endTime")


# --------------------------------------------------------------------------- normalisation


def _default_phase(status):
    return "verified" if status == "success" else "pending"


def normalise_instance(entry: Mapping[str, Any], default_target: Optional[str] = None) -> Dict[str, Any]:
    """One InstanceMigrations entry with every field present (reference entries lack most of them)."""
    entry = dict(entry or {})
    status = entry.get("status") or "pending"
    normal = dict(entry)
    normal.update(
        status=status,
        phase=entry.get("phase") or _default_phase(status),
        phaseTimes=dict(entry.get("phaseTimes") or {}),
        startTime=entry.get("startTime"),
        endTime=entry.get("endTime"),
        retryCount=int(entry.get("retryCount") or 0),
        errorMessage=entry.get("errorMessage"),
        # Reference entries have no target: the reference moved every instance to ReservedHostId.
        targetHostId=entry["targetHostId"] if "targetHostId" in entry else default_target,
        originalState=entry.get("originalState"),
        instanceType=entry.get("instanceType"),
        forceStopUsed=bool(entry.get("forceStopUsed")),
    )
    return normal


def count_instances(migrations: Mapping[str, Mapping[str, Any]]) -> Dict[str, int]:
    """Exact counters from the instance map."""
    statuses = [entry.get("status") for entry in migrations.values()]
    return {
        "TotalInstances": len(statuses),
        "SuccessfulMigrations": statuses.count("success"),
        "FailedMigrations": statuses.count("failed"),
        "SkippedMigrations": statuses.count("skipped"),
    }


def _as_int(value):
    """A stored count or version (Number, numeric string or missing) as an int."""
    return int(to_epoch(value) or 0)


def normalise_item(item: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """A record (plain values) with every attribute present; idempotent.

    Missing newer fields get defaults, ``CreatedAt``/``UpdatedAt`` become epoch Numbers (the reference
    sometimes wrote an ISO string) and the counters are recomputed from the instance map when there is one.
    """
    if item is None:
        return None
    normal = copy.deepcopy(dict(item))
    reserved = normal.get("ReservedHostId") or None
    normal["State"] = normal.get("State") or "pending"
    normal["CreatedAt"] = to_epoch(normal.get("CreatedAt"))
    normal["UpdatedAt"] = to_epoch(normal.get("UpdatedAt"))
    if normal["UpdatedAt"] is None:
        normal["UpdatedAt"] = normal["CreatedAt"]
    normal["ReservedHostId"] = reserved
    replacements = normal.get("ReplacementHostIds")
    normal["ReplacementHostIds"] = list(replacements) if replacements else ([reserved] if reserved else [])
    migrations = normal.get("InstanceMigrations") or {}
    normal["InstanceMigrations"] = dict(
        (instance_id, normalise_instance(entry, reserved)) for instance_id, entry in migrations.items()
    )
    if normal["InstanceMigrations"]:
        normal.update(count_instances(normal["InstanceMigrations"]))
    else:
        for name in COUNTER_FIELDS:
            normal[name] = _as_int(normal.get(name))
    for name in ("ErrorDetails", "ExpirationTime", "AllocationClientToken", "RunId") + LEASE_FIELDS:
        normal.setdefault(name, None)
    for name in ("LeaseVersion", "RecordVersion", "PlanVersion"):
        normal[name] = _as_int(normal.get(name))
    normal["Generation"] = generation(normal)
    normal["Plan"] = dict(normal.get("Plan") or {})
    normal["AllocatedHosts"] = list(normal.get("AllocatedHosts") or [])
    return normal


def new_generation(update: Any, item: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Start the next failover of a host whose last one finished; returns the instance map it keeps.

    Original states and the plan are read anew: the plan fields, the hosts allocated and their ClientTokens, the
    settlement and the error go, and ``Generation`` counts up. ``PlanVersion`` goes on counting, so the new
    generation's ClientTokens are new (EC2 would hand back the last generation's hosts for an old one). Only the
    entries of instances the last generation left part-way (stopped by it, not restored: ``MID_MOVE_PHASES``)
    stay, so that their original state is not mistaken for the state the failover left them in, and so do those
    whose stop protection it lifted and did not restore.
    """
    kept = dict((instance_id, entry) for instance_id, entry in item["InstanceMigrations"].items()
                if (entry.get("status") not in ("success", "skipped") and entry.get("phase") in MID_MOVE_PHASES)
                or entry.get(STOP_PROTECTION_LIFTED))
    update.set("InstanceMigrations", kept)
    update.set("Generation", generation(item) + 1)
    update.set("Plan", {})
    update.set("ReplacementHostIds", [])
    update.set("AllocatedHosts", [])
    if item.get("PlanVersion"):
        update.set("PlanVersion", int(item["PlanVersion"]) + 1)
    for name in GENERATION_FIELDS:
        update.remove(name)
    return kept


def generation(item: Optional[Mapping[str, Any]]) -> int:
    """The generation of a record: 1 for its first failover (and for records that predate generations)."""
    return _as_int((item or {}).get("Generation")) or 1


def final_state(migrations: Mapping[str, Mapping[str, Any]]) -> str:
    """``complete`` when no instance failed and none is left to do (or there are none), else ``failed``."""
    statuses = [entry.get("status") for entry in migrations.values()]
    unfinished = [status for status in statuses if status not in DONE_STATUSES]
    return "failed" if ("failed" in statuses or unfinished) else "complete"


def plan_preflight_entry(placement):
    """A placement's preflight settings as the record's PlanPreflight keeps them (the unset ones left out)."""
    return dict((field, placement[key]) for field, key in PLAN_PREFLIGHT_FIELDS if placement.get(key) is not None)


def placement_settings(entry):
    """The placement keys of a PlanPreflight ``entry`` (the inverse of ``plan_preflight_entry``)."""
    return dict((key, (entry or {})[field]) for field, key in PLAN_PREFLIGHT_FIELDS if (entry or {}).get(field) is not None)


# --------------------------------------------------------------------------- instance map changes


def _new_instance(spec, now_iso):
    status = spec.get("status") or "pending"
    entry = normalise_instance({"status": status, "phase": "pending", "phaseTimes": {"pending": now_iso}})
    for key in ("targetHostId", "originalState", "instanceType", "errorMessage"):
        if spec.get(key) is not None:
            entry[key] = spec[key]
    if status == "skipped":
        entry["endTime"] = now_iso
    return entry


def _validate_initial(instance_id, spec):
    validate_instance_id(instance_id)
    status = spec.get("status") or "pending"
    if status not in ("pending", "skipped"):
        raise InvalidInputError(
            f"instance {instance_id}: an initial status must be pending or skipped, got {status!r}", value=status
        )


def merge_initial(migrations: Mapping[str, Mapping[str, Any]], instances: Mapping[str, Mapping[str, Any]],
                  now_iso: str) -> Dict[str, Dict[str, Any]]:
    """The instance map after initialising ``instances``; entries that already progressed are kept.

    New instances are added. An existing ``pending`` or ``skipped`` entry takes the new classification
    (status, reason, target, type) and keeps its history; any other entry (in progress, done or failed)
    keeps everything and only gets missing fields filled. The original state of an instance is never
    overwritten (a resumed run sees the instance as the previous run left it). Entries not named are kept.
    """
    result = copy.deepcopy(migrations)
    for instance_id, spec in instances.items():
        spec = dict(spec or {})
        _validate_initial(instance_id, spec)
        current = result.get(instance_id)
        if current is None:
            result[instance_id] = _new_instance(spec, now_iso)
            continue
        entry = dict(current)
        if current["status"] in ("pending", "skipped"):
            entry.update(_reclassified(current, spec, now_iso))
        for key in ("targetHostId", "originalState", "instanceType"):
            if entry.get(key) is None and spec.get(key) is not None:
                entry[key] = spec[key]
        result[instance_id] = entry
    return result


def _reclassified(current, spec, now_iso):
    status = spec.get("status") or "pending"
    changes = {"status": status, "errorMessage": spec.get("errorMessage")}
    for key in ("targetHostId", "instanceType"):
        if spec.get(key) is not None:
            changes[key] = spec[key]
    if status == "skipped":
        changes["endTime"] = current.get("endTime") if current["status"] == "skipped" else now_iso
    else:
        changes["endTime"] = None
    return changes


def _check_instance_change(instance_id, change):
    validate_instance_id(instance_id)
    computed = [key for key in change if key in COMPUTED_INSTANCE_FIELDS]
    if computed:
        raise InvalidInputError(
            f"instance {instance_id}: {', '.join(sorted(computed))} are set by the record itself", value=computed
        )
    if "status" in change and change["status"] not in STATUSES:
        raise InvalidInputError(
            f"instance {instance_id}: status {change['status']!r} is not one of {', '.join(STATUSES)}",
            value=change["status"],
        )
    for phase in change.get("phasesPassed") or []:
        if phase not in PHASES:
            raise InvalidInputError(f"instance {instance_id}: phase {phase!r} is not one of {', '.join(PHASES)}", value=phase)
    if "phase" in change and change["phase"] not in PHASES:
        raise InvalidInputError(
            f"instance {instance_id}: phase {change['phase']!r} is not one of {', '.join(PHASES)}",
            value=change["phase"],
        )
    if "retryCount" in change and (isinstance(change["retryCount"], bool) or int(change["retryCount"]) < 0):
        raise InvalidInputError(f"instance {instance_id}: retryCount must be a count >= 0", value=change["retryCount"])


def _apply_status(entry, new_status, change, now_iso):
    old_status = entry["status"]
    if new_status == old_status:
        return
    if new_status in ("in-progress", "success", "failed") and not entry.get("startTime"):
        entry["startTime"] = now_iso
    if new_status in DONE_STATUSES:
        entry["endTime"] = now_iso
    elif old_status in DONE_STATUSES:
        entry["endTime"] = None
    if new_status in ("in-progress", "success") and "errorMessage" not in change:
        entry["errorMessage"] = None
    entry["status"] = new_status


def apply_instance_changes(migrations: Mapping[str, Mapping[str, Any]], changes: Mapping[str, Mapping[str, Any]],
                           now_iso: str) -> Dict[str, Dict[str, Any]]:
    """The instance map after ``changes`` ({instance id: {field: value}}); a repeated change is a no-op.

    ``phaseTimes[phase]`` is set when the phase changes, ``startTime`` when the instance is first
    in progress (or done), ``endTime`` when it becomes success, failed or skipped (cleared if it is
    reopened). An instance not yet in the map is added.
    """
    result = copy.deepcopy(migrations)
    for instance_id, change in changes.items():
        change = dict(change or {})
        _check_instance_change(instance_id, change)
        entry = copy.deepcopy(result.get(instance_id) or _new_instance({}, now_iso))
        if "status" in change:
            _apply_status(entry, change["status"], change, now_iso)
        # phasesPassed: phases reached and left again between two writes, so the timeline keeps them.
        for phase in list(change.get("phasesPassed") or []) + ([change["phase"]] if "phase" in change else []):
            if phase != entry["phase"]:
                entry["phaseTimes"][phase] = now_iso
                entry["phase"] = phase
        for key, value in change.items():
            if key in ("status", "phase", "phasesPassed"):
                continue
            if key == "retryCount":
                value = int(value)
            elif key == "forceStopUsed":
                value = bool(value)
            entry[key] = value
        result[instance_id] = entry
    return result


def failure_summary(migrations: Mapping[str, Mapping[str, Any]]) -> Optional[str]:
    """An ErrorDetails text for a failed record: which instances failed and which were left undone."""
    failed = sorted(iid for iid, entry in migrations.items() if entry.get("status") == "failed")
    undone = sorted(iid for iid, entry in migrations.items() if entry.get("status") not in DONE_STATUSES)
    parts = []
    if failed:
        reasons = [f"{iid} ({(migrations[iid].get('errorMessage') or 'no reason recorded')[:200]})" for iid in failed]
        parts.append(f"{len(failed)} of {len(migrations)} instance(s) failed: {'; '.join(reasons)}")
    if undone:
        parts.append(f"{len(undone)} instance(s) were not migrated: {', '.join(undone)}")
    return ". ".join(parts) or None
