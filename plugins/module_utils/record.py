# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration record of one failed host (a DynamoDB item) and the lease that guards it.

One item per failed host, keyed ``HostId``, with the reference system's attribute names so that its
records keep working (they load with defaults). The schema, the phases and the lease are described
in ``docs/record-schema.md``.

Lease safety, in short:

* a run takes or renews the lease with a conditional write and notes the time at the start of that
  call on ``lease_clock`` (a monotonic clock that keeps counting while the machine sleeps) and on the
  wall clock; its own deadline is each of those times plus ``lease_seconds``;
* ``fence()`` fails once either clock passes its ``deadline - margin``, so neither a suspended laptop
  (whose plain monotonic clock stops) nor a wall clock set back keeps a run acting on an old lease;
* ``keep_lease()`` renews when a third of the lease has passed and then fences: loops that issue many
  paced EC2 calls call it before each one, so a live run never fences itself off;
* another run takes the lease over only when its wall clock is past ``LeaseExpiresAt + margin``;
* ``margin = max(1.0, 0.1 * lease_seconds)``, so a holder stops acting at least one margin before the
  lease expires, and a taker waits one margin after it: two margins of slack, which absorb clock
  differences between machines of up to one margin.

Every write a run makes is conditional on ``LeaseRunId`` being its run id, so a run that lost its
lease cannot change the record. Counters are recomputed from the instance map on every write, so a
repeated or retried write never counts twice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import getpass
import math
import re
import socket
import sys
import threading
import time
import uuid
from decimal import Decimal

try:
    from boto3.dynamodb.types import TypeDeserializer
    from boto3.dynamodb.types import TypeSerializer
except ImportError:
    pass  # the modules report the missing library through AnsibleAWSModule

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import api_error
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import error_code
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import paginate
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import ConflictError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseHeldError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseLostError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILBACK_KEY_PREFIX
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILBACK_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILOVER_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_instance_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_record_key

# Phases of one instance, in order. An instance that was stopped before the failover goes
# pending -> placed -> verified.
PHASES = ("pending", "stopping", "force-stopping", "stopped", "placed", "starting", "running", "verified")
STATUSES = ("pending", "in-progress", "success", "failed", "skipped")
DONE_STATUSES = ("success", "failed", "skipped")
RECORD_STATES = ("pending", "processing", "complete", "failed", "cancelled", "healthy")
FINISHED_STATES = ("complete", "failed", "cancelled")

CLAIM_PREFIX = "claim#"
# previous_owner reported when a record left in processing without a lease (a reference-system run) is taken over
STUCK_OWNER = "unknown (record left in processing without a lease)"
# How long such a record must have gone without an update before it is taken over without break_lock. The
# reference system writes nothing for up to about 30 minutes while it retries AllocateHosts (180 x 10 s).
QUIET_BEFORE_TAKEOVER_SECONDS = 2400
DEFAULT_LEASE_SECONDS = 120.0
MIN_LEASE_SECONDS = 3.0
DEFAULT_TTL_SECONDS = 7 * 86400
WRITE_ATTEMPTS = 5

LEASE_FIELDS = ("LeaseOwner", "LeaseRunId", "LeaseExpiresAt", "LeaseSeconds")
COUNTER_FIELDS = ("TotalInstances", "SuccessfulMigrations", "FailedMigrations", "SkippedMigrations")
# Attributes set_fields() may not touch: the key, the lease, the versions and what is derived.
PROTECTED_FIELDS = ("HostId", "InstanceMigrations", "LeaseVersion", "RecordVersion", "RunId", "CreatedAt", "UpdatedAt",
                    "Generation") + (
    LEASE_FIELDS + COUNTER_FIELDS
)
# EC2 actions that change something: fence_client() checks the lease before each request for them.
FENCED_EC2_ACTIONS = ("StopInstances", "StartInstances", "ModifyInstancePlacement", "AllocateHosts", "ReleaseHosts",
                      "ModifyHosts", "CreateTags", "DeleteTags", "ModifyInstanceAttribute")
# A failover that ended so: the next acquire starts a new generation. A cancelled one is resumed in its own
# generation, keeping its plan, claims and instance map.
ENDED_STATES = ("complete", "failed")
# Attributes of one failover that the next one (a new generation) must not inherit; Plan, ReplacementHostIds and
# AllocatedHosts are emptied, not removed.
GENERATION_FIELDS = ("ReservedHostId", "PlanHosts", "AllocationClientToken", "AllocationClientTokens", "Settlement",
                     "ErrorDetails")
# Phases in which an instance is neither where nor in the state the failover found it.
MID_MOVE_PHASES = ("stopping", "force-stopping", "stopped", "placed", "starting")
# An instance entry's flag: this failover turned the instance's stop protection off and has not turned it on again.
STOP_PROTECTION_LIFTED = "stopProtectionLifted"
# Instance fields the record computes itself.
COMPUTED_INSTANCE_FIELDS = ("phaseTimes", "startTime", "endTime")


# --------------------------------------------------------------------------- time and numbers


def _suspend_aware_clock():
    """A monotonic clock that counts the time the machine is suspended, where the platform has one.

    ``time.monotonic()`` stops during suspend on Linux and macOS; ``CLOCK_BOOTTIME`` (Linux) and macOS's
    ``CLOCK_MONOTONIC`` do not.
    """
    clock_id = getattr(time, "CLOCK_BOOTTIME", None)
    if clock_id is None and sys.platform == "darwin":
        clock_id = getattr(time, "CLOCK_MONOTONIC", None)
    if clock_id is None:
        return time.monotonic
    return lambda: time.clock_gettime(clock_id)


# The clock of the lease's local deadline (see the module docstring).
lease_clock = _suspend_aware_clock()


def lease_margin(lease_seconds):
    """The safety margin of a lease: ``max(1.0, 0.1 * lease_seconds)`` seconds."""
    return max(1.0, 0.1 * float(lease_seconds))


def validate_lease_seconds(value):
    """``value`` as a float, if it is a usable lease length (at least MIN_LEASE_SECONDS)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError("lease_seconds must be a number, got %r" % (value,), value=value)
    if math.isnan(seconds) or math.isinf(seconds) or seconds < MIN_LEASE_SECONDS:
        raise InvalidInputError(
            "lease_seconds must be at least %s seconds (its safety margin is max(1, 10%%) of it), got %r"
            % (MIN_LEASE_SECONDS, value),
            value=value,
        )
    return seconds


def iso_time(epoch):
    """ISO 8601 UTC with seconds, as the reference writes times: ``2026-11-27T05:40:00Z``."""
    moment = datetime.datetime.fromtimestamp(float(epoch), tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_ISO_PATTERN = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_iso_time(text):
    """Epoch seconds of an ISO 8601 time (``Z``, an offset or none meaning UTC); None if unparsable."""
    match = _ISO_PATTERN.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction = float("0." + match.group(7)) if match.group(7) else 0.0
    offset = datetime.timedelta(0)
    zone = match.group(8)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc) - offset
    return _plain_number(Decimal(str(moment.timestamp() + fraction)))


def to_epoch(value):
    """Epoch seconds from a Number or an ISO string (the reference's ``UpdatedAt`` is sometimes one)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Decimal):
        return _plain_number(value)
    if isinstance(value, str):
        try:
            return _plain_number(Decimal(value))
        except ArithmeticError:
            return parse_iso_time(value)
    return None


def _plain_number(number):
    """A Decimal as an int when it is integral, else a float."""
    if number == number.to_integral_value():
        return int(number)
    return float(number)


# --------------------------------------------------------------------------- DynamoDB conversion


def plain(value):
    """A deserialised DynamoDB value with Decimals turned into int/float and sets into sorted lists."""
    if isinstance(value, Decimal):
        return _plain_number(value)
    if isinstance(value, dict):
        return dict((key, plain(inner)) for key, inner in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(inner) for inner in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(inner) for inner in value)
    if isinstance(value, (bytes, bytearray)) or type(value).__name__ == "Binary":
        return bytes(getattr(value, "value", value))
    return value


def _decimal(value):
    """A float as the Decimal DynamoDB stores (TypeSerializer refuses floats)."""
    if math.isnan(value) or math.isinf(value):
        raise InvalidInputError("cannot store %r in DynamoDB: not a finite number" % (value,), value=value)
    return Decimal(repr(value))


def storable(value):
    """``value`` with floats as Decimals and tuples as lists, ready for TypeSerializer."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return _decimal(value)
    if isinstance(value, dict):
        return dict((str(key), storable(inner)) for key, inner in value.items())
    if isinstance(value, (list, tuple)):
        return [storable(inner) for inner in value]
    return value


def serialize(value):
    """A DynamoDB typed attribute value (``{"S": ...}``, ``{"N": ...}``, ``{"M": ...}`` ...)."""
    return TypeSerializer().serialize(storable(value))


def serialize_item(item):
    return dict((key, serialize(value)) for key, value in item.items())


def deserialize_item(attributes):
    """A DynamoDB item (typed attribute values) as plain Python values."""
    deserializer = TypeDeserializer()
    return dict((key, plain(deserializer.deserialize(value))) for key, value in (attributes or {}).items())


# --------------------------------------------------------------------------- normalisation


def _default_phase(status):
    return "verified" if status == "success" else "pending"


def normalise_instance(entry, default_target=None):
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


def count_instances(migrations):
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


def normalise_item(item):
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


def new_generation(update, item):
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


def generation(item):
    """The generation of a record: 1 for its first failover (and for records that predate generations)."""
    return _as_int((item or {}).get("Generation")) or 1


def final_state(migrations):
    """``complete`` when no instance failed and none is left to do (or there are none), else ``failed``."""
    statuses = [entry.get("status") for entry in migrations.values()]
    unfinished = [status for status in statuses if status not in DONE_STATUSES]
    return "failed" if ("failed" in statuses or unfinished) else "complete"


def lease_state(item, run_id, now):
    """Where the lease of ``item`` stands for ``run_id`` at wall time ``now``.

    ``none`` (no record), ``free`` (no lease), ``stuck`` (a ``processing`` record that never had a lease and
    has not changed for QUIET_BEFORE_TAKEOVER_SECONDS: a reference-system run that died; it counts as expired),
    ``unleased`` (such a record updated more recently: a reference run may still be at work; it counts as
    held), ``ours``, ``expired`` (past expiry plus the holder's margin, so it may be taken over) or ``held``
    (another live run).
    """
    if item is None:
        return "none"
    holder = item.get("LeaseRunId")
    if not holder:
        if item.get("State") == "processing" and not item.get("LeaseVersion"):
            updated = to_epoch(item.get("UpdatedAt")) or 0
            return "stuck" if now - updated >= QUIET_BEFORE_TAKEOVER_SECONDS else "unleased"
        return "free"
    if holder == run_id:
        return "ours"
    expires = to_epoch(item.get("LeaseExpiresAt")) or 0
    seconds = to_epoch(item.get("LeaseSeconds")) or DEFAULT_LEASE_SECONDS
    if now > expires + lease_margin(seconds):
        return "expired"
    return "held"


def lease_info(item, run_id=None, now=None):
    """The lease fields of a record, snake_case, with the expiry as an ISO time too."""
    if item is None:
        return {"state": "none"}
    expires = item.get("LeaseExpiresAt")
    info = {
        "owner": item.get("LeaseOwner"),
        "run_id": item.get("LeaseRunId"),
        "expires_at": expires,
        "expires_at_iso": iso_time(expires) if expires is not None else None,
        "seconds": item.get("LeaseSeconds"),
        "version": item.get("LeaseVersion"),
    }
    if now is not None:
        info["state"] = lease_state(item, run_id, now)
    return info


def holder_message(host_id, item):
    expires = item.get("LeaseExpiresAt")
    until = iso_time(expires) if expires is not None else "an unknown time"
    return "host %s is locked by run %s (%s) until %s; wait for the lease to expire or run with break_lock=true" % (
        host_id,
        item.get("LeaseRunId"),
        item.get("LeaseOwner") or "unknown owner",
        until,
    )


def held_error(host_id, item):
    expires = item.get("LeaseExpiresAt")
    seconds = item.get("LeaseSeconds") or DEFAULT_LEASE_SECONDS
    return LeaseHeldError(
        holder_message(host_id, item),
        holder=item.get("LeaseOwner"),
        holder_run_id=item.get("LeaseRunId"),
        expires_at=iso_time(expires) if expires is not None else None,
        takeover_after=iso_time(expires + lease_margin(seconds)) if expires is not None else None,
    )


def lost_error(host_id, run_id, item):
    """The LeaseLostError for run ``run_id``, naming who holds the lease now, if anyone."""
    if item is None:
        text = "there is no migration record for host %s any more" % host_id
    elif item.get("LeaseRunId"):
        text = "it is now held by run %s (%s)" % (item.get("LeaseRunId"), item.get("LeaseOwner") or "unknown owner")
    else:
        text = "it has been released"
    return LeaseLostError(
        "run %s no longer holds the lease on host %s: %s" % (run_id, host_id, text),
        host_id=host_id,
        run_id=run_id,
        holder_run_id=(item or {}).get("LeaseRunId"),
    )


# --------------------------------------------------------------------------- cancel request
# An operator (playbooks/abort.yml) or a signal to the module asks the run that holds the lease to stop.
# The request is one attribute beside the lease, addressed to that run by its id, so a later run of the
# same host (an explicit resume) is not cancelled by it. instance_placement reads it at its polls.

CANCEL_FIELD = "CancelRequest"
# instance_placement reads the request at most this often: one small consistent read a second at most.
CANCEL_POLL_SECONDS = 1.0


def cancel_request_for(item, run_id):
    """The cancel request of ``item`` addressed to ``run_id`` ({runId, requestedBy, reason, requestedAt}), or None."""
    request = (item or {}).get(CANCEL_FIELD)
    if isinstance(request, dict) and run_id and request.get("runId") == run_id:
        return request
    return None


def cancel_text(request):
    """``cancel requested by <who> at <when>[: <reason>]``."""
    text = "cancel requested by %s at %s" % (request.get("requestedBy") or "unknown", request.get("requestedAt") or "an unknown time")
    return text + (": %s" % request["reason"] if request.get("reason") else "")


def _check_cancellable(host_id, item, now):
    """Raise NotFoundError unless ``item`` is a processing record whose lease a live run holds."""
    if item is None:
        raise NotFoundError("nothing to cancel: there is no migration record for host %s" % host_id, host_id=host_id)
    if item["State"] != "processing":
        raise NotFoundError(
            "nothing to cancel: the failover of host %s is not running (its record is %s, last run %s)"
            % (host_id, item["State"], item.get("RunId") or "unknown"),
            host_id=host_id, state=item["State"],
        )
    if lease_state(item, None, now) != "held":
        why = "its run %s stopped renewing it" % item["LeaseRunId"] if item.get("LeaseRunId") else "the record has no lease"
        raise NotFoundError(
            "nothing to cancel: no live run holds the lease of host %s (%s); a failover that was killed is resumed by "
            "running failover.yml again" % (host_id, why),
            host_id=host_id, state=item["State"],
        )


def request_cancel(dynamodb_client, table, host_id, requested_by=None, reason=None, now=None, check_mode=False, run_id=None):
    """Ask the run that is failing ``host_id`` over (``run_id``, default whichever holds the lease) to stop.

    One conditional write on a live processing record (State ``processing``, the lease of the run the request
    names); asking again while a request for that run stands changes nothing. Returns ``(changed, request)``.
    Raises NotFoundError when no live run is there to cancel, LeaseLostError when ``run_id`` no longer holds the
    lease; in check mode nothing is written.
    """
    validate_record_key(host_id)
    now = time.time() if now is None else now
    client = retrying(dynamodb_client)
    item = get_record(client, table, host_id)
    if run_id and (item or {}).get("LeaseRunId") != run_id:
        raise lost_error(host_id, run_id, item)
    _check_cancellable(host_id, item, now)
    existing = cancel_request_for(item, item["LeaseRunId"])
    if existing:
        return False, existing
    request = {"runId": item["LeaseRunId"], "requestedBy": requested_by or default_owner(), "requestedAt": iso_time(now)}
    if reason:
        request["reason"] = reason
    if check_mode:
        return True, request
    update = _Update()
    update.set(CANCEL_FIELD, request)
    update.require_equal("State", "processing")
    update.require_equal("LeaseRunId", item["LeaseRunId"])
    try:
        call_table(client, table, "UpdateItem", "update_item", Key={"HostId": {"S": host_id}}, **update.params())
    except ConditionFailed:
        # The run finished, or another run took the lease, between the read and the write.
        current = get_record(client, table, host_id)
        _check_cancellable(host_id, current, now)
        raise ConflictError("the failover of host %s changed hands while it was being cancelled (now run %s); ask again"
                            % (host_id, current["LeaseRunId"]), host_id=host_id)
    return True, request


def final_outcome(item, run_id, error_details=None):
    """``(State, ErrorDetails)`` that finalize writes for ``item`` as run ``run_id``.

    An error given by the caller means the run did not finish its work, even when it failed before any instance
    reached the map (no place for them, say): ``failed``. A run asked to cancel that left instances unmoved
    because of it is ``cancelled``; one whose cancel came after its last stop finished everything, and its state
    is that of the instance map (``complete`` or ``failed``).
    """
    migrations = item["InstanceMigrations"]
    if error_details:
        return "failed", error_details
    state = final_state(migrations)
    request = cancel_request_for(item, run_id)
    if request and any(entry.get("status") not in DONE_STATUSES for entry in migrations.values()):
        return "cancelled", "%s; %s" % (cancel_text(request), failure_summary(migrations))
    return state, error_details if error_details is not None else (failure_summary(migrations) if state == "failed" else None)


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
            "instance %s: an initial status must be pending or skipped, got %r" % (instance_id, status), value=status
        )


def merge_initial(migrations, instances, now_iso):
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
            "instance %s: %s are set by the record itself" % (instance_id, ", ".join(sorted(computed))), value=computed
        )
    if "status" in change and change["status"] not in STATUSES:
        raise InvalidInputError(
            "instance %s: status %r is not one of %s" % (instance_id, change["status"], ", ".join(STATUSES)),
            value=change["status"],
        )
    for phase in change.get("phasesPassed") or []:
        if phase not in PHASES:
            raise InvalidInputError("instance %s: phase %r is not one of %s" % (instance_id, phase, ", ".join(PHASES)), value=phase)
    if "phase" in change and change["phase"] not in PHASES:
        raise InvalidInputError(
            "instance %s: phase %r is not one of %s" % (instance_id, change["phase"], ", ".join(PHASES)),
            value=change["phase"],
        )
    if "retryCount" in change and (isinstance(change["retryCount"], bool) or int(change["retryCount"]) < 0):
        raise InvalidInputError("instance %s: retryCount must be a count >= 0" % instance_id, value=change["retryCount"])


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


def apply_instance_changes(migrations, changes, now_iso):
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


def failure_summary(migrations):
    """An ErrorDetails text for a failed record: which instances failed and which were left undone."""
    failed = sorted(iid for iid, entry in migrations.items() if entry.get("status") == "failed")
    undone = sorted(iid for iid, entry in migrations.items() if entry.get("status") not in DONE_STATUSES)
    parts = []
    if failed:
        reasons = ["%s (%s)" % (iid, (migrations[iid].get("errorMessage") or "no reason recorded")[:200]) for iid in failed]
        parts.append("%d of %d instance(s) failed: %s" % (len(failed), len(migrations), "; ".join(reasons)))
    if undone:
        parts.append("%d instance(s) were not migrated: %s" % (len(undone), ", ".join(undone)))
    return ". ".join(parts) or None


# --------------------------------------------------------------------------- status document


def _percentage(done, total):
    if not total:
        return 100
    return int(math.floor(done * 100.0 / total + 0.5))


def migration_summary(item):
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


def status_document(item):
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


# --------------------------------------------------------------------------- table access


def is_claim_key(host_key):
    return isinstance(host_key, str) and host_key.startswith(CLAIM_PREFIX)


def is_conditional_failure(error):
    return error_code(error) == "ConditionalCheckFailedException"


def table_error(error, operation, table):
    """A NotFoundError for a missing table, else an AwsApiError."""
    if error_code(error) == "ResourceNotFoundException":
        return NotFoundError(
            "DynamoDB table %s not found (create it with playbooks/setup.yml or pass the right table/table_region)" % table,
            table=table,
        )
    return api_error(error, operation)


class ConditionFailed(Exception):
    """A conditional write did not apply (DynamoDB's ConditionalCheckFailedException)."""


def call_table(client, table, operation, method, **params):
    """``client.method(TableName=table, **params)`` with retries; a failed condition raises ConditionFailed,
    a missing table NotFoundError and any other AWS error AwsApiError."""
    try:
        return getattr(retrying(client), method)(TableName=table, aws_retry=True, **params)
    except Exception as error:  # botocore errors, whatever their class
        if is_conditional_failure(error):
            raise ConditionFailed()
        if error_code(error) is None:
            raise
        raise table_error(error, operation, table)


def get_record(dynamodb_client, table, host_id):
    """The normalised record keyed ``host_id`` (strongly consistent read), or None; never writes."""
    validate_record_key(host_id)
    response = call_table(dynamodb_client, table, "GetItem", "get_item", Key={"HostId": {"S": host_id}}, ConsistentRead=True)
    raw = response.get("Item")
    return normalise_item(deserialize_item(raw)) if raw else None


def list_records(dynamodb_client, table, state=None, kind=FAILOVER_RECORD):
    """Every migration record of ``table`` of ``kind`` (normalised, by HostId), optionally only those in ``state``.

    One paginated Scan; pool-host claims (``claim#`` items) are left out, and so are failback records
    (``failback#`` items) unless ``kind`` is ``failback``, when they are all that is listed.
    """
    names = {"#h": "HostId"}
    values = {":claim": {"S": CLAIM_PREFIX}, ":failback": {"S": FAILBACK_KEY_PREFIX}}
    expression = "NOT begins_with(#h, :claim) AND %sbegins_with(#h, :failback)" % ("" if kind == FAILBACK_RECORD else "NOT ")
    if state is not None:
        if state not in RECORD_STATES:
            raise InvalidInputError("state %r is not one of %s" % (state, ", ".join(RECORD_STATES)), value=state)
        names["#s"] = "State"
        values[":state"] = {"S": state}
        expression += " AND #s = :state"
    try:
        result = paginate(
            retrying(dynamodb_client),
            "scan",
            TableName=table,
            FilterExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ConsistentRead=True,
        )
    except Exception as error:  # botocore errors, whatever their class
        if error_code(error) is None:
            raise
        raise table_error(error, "Scan", table)
    items = [normalise_item(deserialize_item(raw)) for raw in result.get("Items", [])]
    return sorted((item for item in items if not is_claim_key(item.get("HostId"))
                   and str(item.get("HostId")).startswith(FAILBACK_KEY_PREFIX) == (kind == FAILBACK_RECORD)),
                  key=lambda item: item["HostId"])


def default_owner():
    """``user@host`` of this process, for the lease."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment
        user = "unknown"
    return "%s@%s" % (user, socket.gethostname() or "localhost")


def new_run_id():
    return "run-%s" % uuid.uuid4().hex[:16]


class _Update(object):
    """An UpdateItem expression being built, with placeholders for every name and value."""

    def __init__(self):
        self._names = {}
        self._values = {}
        self._sets = []
        self._removes = []
        self._conditions = []

    def name(self, attribute):
        for placeholder, existing in self._names.items():
            if existing == attribute:
                return placeholder
        placeholder = "#n%d" % len(self._names)
        self._names[placeholder] = attribute
        return placeholder

    def value(self, value):
        placeholder = ":v%d" % len(self._values)
        self._values[placeholder] = serialize(value)
        return placeholder

    def set(self, attribute, value):
        self._sets.append("%s = %s" % (self.name(attribute), self.value(value)))

    def increment(self, attribute):
        name = self.name(attribute)
        self._sets.append("%s = if_not_exists(%s, %s) + %s" % (name, name, self.value(0), self.value(1)))

    def set_if_missing(self, attribute, value):
        name = self.name(attribute)
        self._sets.append("%s = if_not_exists(%s, %s)" % (name, name, self.value(value)))

    def remove(self, attribute):
        self._removes.append(self.name(attribute))

    def require(self, condition):
        self._conditions.append(condition)

    def require_equal(self, attribute, value):
        self.require("%s = %s" % (self.name(attribute), self.value(value)))

    def require_version(self, attribute, version):
        """The attribute still has ``version`` (0 also matches a record that never had it)."""
        name = self.name(attribute)
        if version:
            self.require("%s = %s" % (name, self.value(version)))
        else:
            self.require("attribute_not_exists(%s) OR %s = %s" % (name, name, self.value(0)))

    def params(self):
        clauses = []
        if self._sets:
            clauses.append("SET " + ", ".join(self._sets))
        if self._removes:
            clauses.append("REMOVE " + ", ".join(self._removes))
        params = {"UpdateExpression": " ".join(clauses), "ExpressionAttributeNames": dict(self._names)}
        if self._values:
            params["ExpressionAttributeValues"] = dict(self._values)
        if self._conditions:
            # parentheses only where needed: DynamoDB refuses redundant ones
            params["ConditionExpression"] = " AND ".join(
                "(%s)" % condition if " OR " in condition else condition for condition in self._conditions
            )
        return params


class MigrationRecord(object):
    """The migration record of ``host_id`` as written by run ``run_id``.

    ``wall_clock`` (epoch seconds) and ``monotonic`` are injectable for tests. The methods that write are
    serialised by a lock, so one object may be shared by the threads of one run.
    """

    def __init__(self, dynamodb_client, table, host_id, run_id, owner=None, wall_clock=time.time, monotonic=lease_clock):
        self.host_id = validate_record_key(host_id)
        if not run_id or not isinstance(run_id, str):
            raise InvalidInputError("run_id must be a non-empty string, got %r" % (run_id,), value=run_id)
        self.table = table
        self.run_id = run_id
        self.owner = owner or default_owner()
        self.item = None
        self.changed = False
        self._client = retrying(dynamodb_client)
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._lease_seconds = None
        self._renewed_at = None  # monotonic time at the start of the last successful take/renew
        self._renewed_at_wall = None  # and its wall-clock time

    # ----------------------------------------------------------------- low-level access

    def _key(self):
        return {"HostId": {"S": self.host_id}}

    def _call(self, operation, method, **params):
        return call_table(self._client, self.table, operation, method, **params)

    def _update(self, update):
        response = self._call("UpdateItem", "update_item", Key=self._key(), ReturnValues="ALL_NEW", **update.params())
        self.item = normalise_item(deserialize_item(response.get("Attributes")))
        return self.item

    def now(self):
        """Wall-clock epoch seconds (the injected clock)."""
        return self._wall_clock()

    def now_iso(self):
        return iso_time(self.now())

    def load(self):
        """Read the record (strongly consistent); the normalised item, or None when there is none."""
        self.item = get_record(self._client, self.table, self.host_id)
        return self.item

    def _current(self):
        item = self.item if self.item is not None else self.load()
        if item is None:
            raise NotFoundError("there is no migration record for host %s" % self.host_id, host_id=self.host_id)
        return item

    # ----------------------------------------------------------------- lease

    @property
    def lease_seconds(self):
        return self._lease_seconds

    def holds_lease(self):
        """True if this object took or renewed the lease (fence() may still refuse when it is too old)."""
        return self._renewed_at is not None

    def _hold(self, started, started_wall, lease_seconds):
        self._lease_seconds = lease_seconds
        self._renewed_at = started
        self._renewed_at_wall = started_wall

    def _drop(self):
        self._lease_seconds = None
        self._renewed_at = None
        self._renewed_at_wall = None

    def check_acquire(self, item, now, break_lock=False):
        """What acquire() would do with ``item`` at wall time ``now``; raises LeaseHeldError when refused."""
        state = lease_state(item, self.run_id, now)
        outcome = {
            "lease_state": state,
            "created": state == "none",
            "resumed": state != "none",
            "taken_over": state in ("stuck", "unleased", "expired", "held"),
            "broke_lock": state in ("held", "unleased"),
            "previous_owner": None,
            "previous_run_id": None,
            "previous_lease_expires_at": None,
        }
        if state == "held" and not break_lock:
            raise held_error(self.host_id, item)
        if state == "unleased" and not break_lock:
            updated = to_epoch(item.get("UpdatedAt")) or 0
            raise LeaseHeldError(
                "host %s has a record in processing without a lease (another system's run, such as the reference "
                "system's), last updated at %s; it is taken over once it has not changed for %d s (after %s), or run "
                "with break_lock=true" % (self.host_id, iso_time(updated), QUIET_BEFORE_TAKEOVER_SECONDS,
                                          iso_time(updated + QUIET_BEFORE_TAKEOVER_SECONDS)),
                holder=STUCK_OWNER, holder_run_id=None, expires_at=None,
                takeover_after=iso_time(updated + QUIET_BEFORE_TAKEOVER_SECONDS))
        if state in ("stuck", "unleased"):
            outcome["previous_owner"] = STUCK_OWNER
        if state in ("expired", "held"):
            outcome.update(
                previous_owner=item.get("LeaseOwner"),
                previous_run_id=item.get("LeaseRunId"),
                previous_lease_expires_at=item.get("LeaseExpiresAt"),
            )
        return outcome

    def preview_acquire(self, lease_seconds=DEFAULT_LEASE_SECONDS, break_lock=False):
        """acquire() without writing (check mode): reads the record and returns what acquire would do."""
        validate_lease_seconds(lease_seconds)
        return self.check_acquire(self.load(), self.now(), break_lock)

    def acquire(self, lease_seconds=DEFAULT_LEASE_SECONDS, break_lock=False):
        """Create or resume the record and take its lease.

        Returns ``{created, resumed, taken_over, broke_lock, lease_state, previous_owner, previous_run_id,
        previous_lease_expires_at}``. Raises LeaseHeldError when another live run holds the lease and
        ``break_lock`` is false.
        """
        lease_seconds = validate_lease_seconds(lease_seconds)
        with self._lock:
            for _attempt in range(WRITE_ATTEMPTS):
                item = self.load()
                started = self._monotonic()
                now = self.now()
                outcome = self.check_acquire(item, now, break_lock)
                try:
                    if item is None:
                        self._create(now, lease_seconds)
                    else:
                        self._take(item, now, lease_seconds)
                except ConditionFailed:
                    continue  # someone wrote in between: look again
                self._hold(started, now, lease_seconds)
                self.changed = True
                return outcome
        raise ConflictError(
            "could not take the lease on host %s: the record kept changing under %d attempts" % (self.host_id, WRITE_ATTEMPTS),
            host_id=self.host_id,
        )

    def _lease_values(self, now, lease_seconds):
        return {
            "LeaseOwner": self.owner,
            "LeaseRunId": self.run_id,
            "LeaseExpiresAt": round(now + lease_seconds, 3),
            "LeaseSeconds": lease_seconds,
        }

    def _create(self, now, lease_seconds):
        item = {
            "HostId": self.host_id,
            "State": "processing",
            "CreatedAt": int(now),
            "UpdatedAt": int(now),
            "InstanceMigrations": {},
            "ReplacementHostIds": [],
            "Plan": {},
            "PlanVersion": 0,
            "AllocatedHosts": [],
            "RunId": self.run_id,
            "LeaseVersion": 1,
            "RecordVersion": 1,
        }
        item.update(count_instances({}))
        item.update(self._lease_values(now, lease_seconds))
        self._call(
            "PutItem",
            "put_item",
            Item=serialize_item(item),
            ConditionExpression="attribute_not_exists(HostId)",
        )
        self.item = normalise_item(item)

    def _take(self, item, now, lease_seconds):
        """Take the lease of an existing record, provided neither the lease nor the data changed since read.

        A record that ended (``complete`` or ``failed``) starts a new generation (``new_generation``).
        """
        update = _Update()
        for name, value in self._lease_values(now, lease_seconds).items():
            update.set(name, value)
        update.set("State", "processing")
        update.set("RunId", self.run_id)
        update.set("UpdatedAt", int(now))
        update.set_if_missing("CreatedAt", int(now))
        migrations = item["InstanceMigrations"]
        if item.get("State") in ENDED_STATES:
            migrations = new_generation(update, item)
        for name, value in count_instances(migrations).items():
            if migrations or item.get("State") in ENDED_STATES:
                update.set(name, value)
            else:
                update.set_if_missing(name, 0)
        update.increment("LeaseVersion")
        update.increment("RecordVersion")
        update.remove("ExpirationTime")  # a finished record being resumed must not expire under the run
        update.require("attribute_exists(%s)" % update.name("HostId"))
        update.require_version("LeaseVersion", item["LeaseVersion"])
        update.require_version("RecordVersion", item["RecordVersion"])
        if item.get("LeaseRunId"):
            update.require_equal("LeaseRunId", item["LeaseRunId"])
        else:
            update.require("attribute_not_exists(%s)" % update.name("LeaseRunId"))
        self._update(update)

    def renew(self, lease_seconds=None):
        """Extend the lease by ``lease_seconds`` (default: the length it was taken with).

        Raises LeaseLostError when the record's ``LeaseRunId`` is no longer this run's.
        """
        with self._lock:
            seconds = lease_seconds or self._lease_seconds or (self.item or {}).get("LeaseSeconds") or DEFAULT_LEASE_SECONDS
            seconds = validate_lease_seconds(seconds)
            started = self._monotonic()
            now = self.now()
            update = _Update()
            update.set("LeaseExpiresAt", round(now + seconds, 3))
            update.set("LeaseSeconds", seconds)
            update.increment("LeaseVersion")
            update.require_equal("LeaseRunId", self.run_id)
            try:
                self._update(update)
            except ConditionFailed:
                self._drop()
                raise lost_error(self.host_id, self.run_id, self.load())
            self._hold(started, now, seconds)
            self.changed = True
            return lease_info(self.item)

    def heartbeat(self):
        """Renew when more than a third of the lease has elapsed since the last take/renew; True if renewed."""
        with self._lock:
            if not self.holds_lease():
                raise LeaseLostError(
                    "run %s does not hold the lease on host %s in this process" % (self.run_id, self.host_id),
                    host_id=self.host_id,
                    run_id=self.run_id,
                )
            elapsed = max(self._monotonic() - self._renewed_at, self.now() - self._renewed_at_wall)
            if elapsed > self._lease_seconds / 3.0:
                self.renew()
                return True
            return False

    def keep_lease(self):
        """heartbeat(), then fence(): before each of many EC2 changes in a row; the seconds left."""
        with self._lock:
            self.heartbeat()
            return self._check_fence()

    def remaining(self):
        """Seconds until fence() starts refusing (None without a lease): the lesser on the lease clock and the wall clock."""
        if not self.holds_lease():
            return None
        usable = self._lease_seconds - lease_margin(self._lease_seconds)
        return min(self._renewed_at + usable - self._monotonic(), self._renewed_at_wall + usable - self.now())

    def fence(self):
        """Raise LeaseLostError unless this run's lease comfortably has not expired; call before each EC2 change.

        Local only (no AWS call): the deadline is the time at the start of the last successful take/renew
        plus the lease length, on the lease clock and on the wall clock, and the lease must still have more
        than the margin left on both.
        """
        return self._check_fence()

    def _check_fence(self):
        left = self.remaining()
        if left is None:
            raise LeaseLostError(
                "run %s does not hold the lease on host %s in this process" % (self.run_id, self.host_id),
                host_id=self.host_id,
                run_id=self.run_id,
            )
        if left < 0:
            raise LeaseLostError(
                "the lease of run %s on host %s is within %.1f s of expiring on this run's clock; it stops changing anything"
                % (self.run_id, self.host_id, lease_margin(self._lease_seconds)),
                host_id=self.host_id,
                run_id=self.run_id,
            )
        return left

    def fence_client(self, client, actions=FENCED_EC2_ACTIONS):
        """Fence every HTTP request ``client`` sends for ``actions``, right before it is sent; returns ``client``.

        The explicit fence() before each EC2 change leaves gaps: a client-side rate limiter may wait after
        it, and retries (botocore's, and amazon.aws's backoff on throttling, which can last longer than a
        lease margin) send the same request again later without a new check. A ``before-send`` handler
        checks the lease for every attempt, so a run that lost its lease during such a wait sends nothing
        (the call raises LeaseLostError, which no retry catches). ``client`` may be a boto3 client or one
        wrapped for retries; one without botocore's event system is returned unchanged.
        """
        raw = getattr(client, "client", client)
        meta = getattr(raw, "meta", None)
        events = getattr(meta, "events", None)
        service_model = getattr(meta, "service_model", None)
        if events is None or service_model is None:
            return client
        service = service_model.service_id.hyphenize()

        def _fence_request(**_kwargs):
            self._check_fence()

        for action in actions:
            events.register("before-send.%s.%s" % (service, action), _fence_request,
                            unique_id="dedicated-hosts-fence-%s-%s-%d" % (service, action, id(self)))
        return client

    # ----------------------------------------------------------------- cancel request (see request_cancel)

    _cancel = None  # the request addressed to this run, once seen
    _cancel_read_at = None  # monotonic time of the last read of the request

    def cancel_request(self):
        """The cancel request addressed to this run, or None; read from the table at most every CANCEL_POLL_SECONDS."""
        if self._cancel is None:
            self._cancel = cancel_request_for(self.item, self.run_id)
        now = self._monotonic()
        if self._cancel is None and (self._cancel_read_at is None or now - self._cancel_read_at >= CANCEL_POLL_SECONDS):
            self._cancel_read_at = now
            response = self._call("GetItem", "get_item", Key=self._key(), ConsistentRead=True,
                                  ProjectionExpression="#c", ExpressionAttributeNames={"#c": CANCEL_FIELD})
            self._cancel = cancel_request_for(deserialize_item(response.get("Item")), self.run_id)
        return self._cancel

    def request_cancel(self, requested_by=None, reason=None, check_mode=False):
        """Ask the run that holds the lease to stop (see request_cancel()); returns ``(changed, request)``."""
        changed, request = request_cancel(self._client, self.table, self.host_id, requested_by, reason, now=self.now(),
                                          check_mode=check_mode)
        self.changed = changed and not check_mode
        if self.changed:
            self.load()
        return changed, request

    def cancel_own_run(self, requested_by, reason=None):
        """Write a cancel request addressed to this run itself (a signal asked it to stop); returns the request."""
        self._cancel = request_cancel(self._client, self.table, self.host_id, requested_by, reason, now=self.now(),
                                      run_id=self.run_id)[1]
        return self._cancel

    def release(self):
        """Clear the lease if this run holds it; True if it did. Releasing a released lease is a no-op."""
        with self._lock:
            update = _Update()
            for name in LEASE_FIELDS:
                update.remove(name)
            update.require_equal("LeaseRunId", self.run_id)
            self._drop()
            try:
                self._update(update)
            except ConditionFailed:
                item = self.load()
                self.changed = False
                if item is None or not item.get("LeaseRunId"):
                    return False
                raise lost_error(self.host_id, self.run_id, item)
            self.changed = True
            return True

    # ----------------------------------------------------------------- data writes

    def check_owner(self, item):
        """Raise LeaseLostError unless ``item``'s lease is this run's (what every write is conditional on)."""
        if item is None or item.get("LeaseRunId") != self.run_id:
            raise lost_error(self.host_id, self.run_id, item)

    def _write(self, build):
        """Apply ``build(item) -> _Update or None`` to the current record, as this run, exactly once.

        Each write is conditional on this run's lease and on the record version it was computed from;
        when another writer of the same run got in between, the record is read again and the change
        recomputed. None from ``build`` means nothing to change (no write).
        """
        with self._lock:
            item = self._current()
            for _attempt in range(WRITE_ATTEMPTS):
                self.check_owner(item)
                update = build(item)
                if update is None:
                    self.changed = False
                    return item
                update.set("UpdatedAt", int(self.now()))
                update.increment("RecordVersion")
                update.require_equal("LeaseRunId", self.run_id)
                update.require_version("RecordVersion", item["RecordVersion"])
                try:
                    result = self._update(update)
                except ConditionFailed:
                    item = self.load()
                    if item is None:
                        raise lost_error(self.host_id, self.run_id, None)
                else:
                    self.changed = True
                    return result
            self.changed = False
            raise ConflictError(
                "could not update the record of host %s: it kept changing under %d attempts" % (self.host_id, WRITE_ATTEMPTS),
                host_id=self.host_id,
            )

    @staticmethod
    def _set_migrations(update, migrations):
        update.set("InstanceMigrations", migrations)
        for name, value in count_instances(migrations).items():
            update.set(name, value)

    def initialise_instances(self, instances):
        """Add the instances of the host to the record, keeping entries that already progressed (resume).

        ``instances`` maps instance id -> ``{targetHostId, originalState, instanceType, status
        (pending|skipped), errorMessage (the reason when skipped)}``. Returns the new item.
        """

        def build(item):
            merged = merge_initial(item["InstanceMigrations"], instances, self.now_iso())
            if merged == item["InstanceMigrations"] and not self._counters_stale(item):
                return None
            update = _Update()
            self._set_migrations(update, merged)
            return update

        return self._write(build)

    @staticmethod
    def _counters_stale(item):
        """True when the stored counters are not those of the map (a reference record, say)."""
        return any(item.get(name) != value for name, value in count_instances(item["InstanceMigrations"]).items())

    def update_instances(self, changes):
        """Apply ``changes`` ({instance id: {status, phase, errorMessage, forceStopUsed, retryCount,
        targetHostId, ...}}) in ONE UpdateItem, with the counters recomputed; returns the new item.
        A change that is already in the record writes nothing.
        """
        if not changes:
            self.changed = False
            return self._current()

        def build(item):
            merged = apply_instance_changes(item["InstanceMigrations"], changes, self.now_iso())
            if merged == item["InstanceMigrations"]:
                return None
            update = _Update()
            self._set_migrations(update, merged)
            return update

        return self._write(build)

    def set_fields(self, **attributes):
        """SET top-level attributes (ReservedHostId, ReplacementHostIds, Plan, PlanVersion,
        AllocationClientToken, AllocatedHosts, ErrorDetails, ...) in one conditional write; None removes one.
        Setting ReplacementHostIds also sets ReservedHostId to its first host unless that is given too.
        """
        protected = sorted(name for name in attributes if name in PROTECTED_FIELDS)
        if protected:
            raise InvalidInputError("set_fields cannot change %s" % ", ".join(protected), value=protected)
        attributes = dict(attributes)
        if attributes.get("ReplacementHostIds") and "ReservedHostId" not in attributes:
            attributes["ReservedHostId"] = list(attributes["ReplacementHostIds"])[0]

        def build(item):
            wanted = dict((name, plain(storable(value))) for name, value in attributes.items())
            if all(item.get(name) == value for name, value in wanted.items()):
                return None
            update = _Update()
            for name, value in wanted.items():
                if value is None:
                    update.remove(name)
                else:
                    update.set(name, value)
            return update

        return self._write(build)

    def preview_finalize(self, item=None, error_details=None):
        """The State that finalize() would write for ``item`` (default: the current record)."""
        item = item or self._current()
        return final_outcome(item, self.run_id, error_details)[0]

    def is_finalized_by_run(self, item):
        """True when ``item`` was finalized by this run (finalize again is then a no-op)."""
        return not item.get("LeaseRunId") and item.get("RunId") == self.run_id and item["State"] in FINISHED_STATES

    def finalize(self, error_details=None, ttl_seconds=DEFAULT_TTL_SECONDS):
        """Finish the record: State complete or failed (from the instance map; always failed when
        ``error_details`` is given), ExpirationTime in ``ttl_seconds``, ErrorDetails (given, or a summary
        of the failures), lease released.
        Finalizing again after a successful finalize by the same run is a no-op.
        """
        ttl = float(ttl_seconds)
        if ttl <= 0:
            raise InvalidInputError("ttl_seconds must be positive, got %r" % (ttl_seconds,), value=ttl_seconds)
        with self._lock:
            item = self.load()
            if item is not None and self.is_finalized_by_run(item):
                self.changed = False
                return item

            def build(current):
                migrations = current["InstanceMigrations"]
                state, details = final_outcome(current, self.run_id, error_details)
                update = _Update()
                update.set("State", state)
                update.set("ExpirationTime", int(self.now() + ttl))
                for name, value in count_instances(migrations).items():
                    update.set(name, value)
                if details is None:
                    update.remove("ErrorDetails")
                else:
                    update.set("ErrorDetails", details)
                for name in LEASE_FIELDS:
                    update.remove(name)
                return update

            try:
                result = self._write(build)
            except LeaseLostError:
                # The write may have been applied with its answer lost, and the retry then found the lease gone.
                item = self.load()
                if item is None or not self.is_finalized_by_run(item):
                    raise
                self.changed, result = True, item
            self._drop()
            return result
