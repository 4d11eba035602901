# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease of a migration record, and the cancel request addressed to the run that holds it.

Here: the lease clock and margin, what a record's lease fields mean (``lease_state``, ``lease_info``), the
messages and errors that name the holder, the run's identity (``default_owner``, ``new_run_id``) and the cancel
request (``request_cancel``: an operator asks the holder to stop). Taking, renewing, fencing and releasing the
lease are MigrationRecord's (record.py); the attributes are in schema.py.

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
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import math
import socket
import sys
import time
import uuid
from typing import Any
from typing import Dict
from typing import Optional
from typing import Tuple

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import ConditionFailed
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import Update
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import call_table
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import ConflictError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseHeldError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseLostError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILBACK_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import record_kind
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_record_key
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import iso_time
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import to_epoch

# previous_owner reported when a record left in processing without a lease (a reference-system run) is taken over
STUCK_OWNER = "unknown (record left in processing without a lease)"
# How long such a record must have gone without an update before it is taken over without break_lock. The
# reference system writes nothing for up to about 30 minutes while it retries AllocateHosts (180 x 10 s).
QUIET_BEFORE_TAKEOVER_SECONDS = 2400
DEFAULT_LEASE_SECONDS = default_of("failover_lease_seconds")
MIN_LEASE_SECONDS = 3.0


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


def lease_margin(lease_seconds: float) -> float:
    """The safety margin of a lease: ``max(1.0, 0.1 * lease_seconds)`` seconds."""
    return max(1.0, 0.1 * float(lease_seconds))


def validate_lease_seconds(value: Any) -> float:
    """``value`` as a float, if it is a usable lease length (at least MIN_LEASE_SECONDS)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"lease_seconds must be a number, got {value!r}", value=value)
    if math.isnan(seconds) or math.isinf(seconds) or seconds < MIN_LEASE_SECONDS:
        raise InvalidInputError(
            f"lease_seconds must be at least {MIN_LEASE_SECONDS} seconds (its safety margin is max(1, 10%) of it), got {value!r}",
            value=value,
        )
    return seconds


def lease_state(item: Optional[Dict[str, Any]], run_id: Optional[str], now: float) -> str:
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


def lease_info(item: Optional[Dict[str, Any]], run_id: Optional[str] = None, now: Optional[float] = None) -> Dict[str, Any]:
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


def holder_message(host_id: str, item: Dict[str, Any]) -> str:
    expires = item.get("LeaseExpiresAt")
    until = iso_time(expires) if expires is not None else "an unknown time"
    return (
        f"host {host_id} is locked by run {item.get('LeaseRunId')} ({item.get('LeaseOwner') or 'unknown owner'}) until {until}; "
        "wait for the lease to expire or run with break_lock=true"
    )


def held_error(host_id: str, item: Dict[str, Any]) -> LeaseHeldError:
    expires = item.get("LeaseExpiresAt")
    seconds = item.get("LeaseSeconds") or DEFAULT_LEASE_SECONDS
    return LeaseHeldError(
        holder_message(host_id, item),
        holder=item.get("LeaseOwner"),
        holder_run_id=item.get("LeaseRunId"),
        expires_at=iso_time(expires) if expires is not None else None,
        takeover_after=iso_time(expires + lease_margin(seconds)) if expires is not None else None,
    )


def lost_error(host_id: str, run_id: str, item: Optional[Dict[str, Any]]) -> LeaseLostError:
    """The LeaseLostError for run ``run_id``, naming who holds the lease now, if anyone."""
    if item is None:
        text = f"there is no migration record for host {host_id} any more"
    elif item.get("LeaseRunId"):
        text = f"it is now held by run {item.get('LeaseRunId')} ({item.get('LeaseOwner') or 'unknown owner'})"
    else:
        text = "it has been released"
    return LeaseLostError(
        f"run {run_id} no longer holds the lease on host {host_id}: {text}",
        host_id=host_id,
        run_id=run_id,
        holder_run_id=(item or {}).get("LeaseRunId"),
    )


def default_owner() -> str:
    """``user@host`` of this process, for the lease."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment
        user = "unknown"
    return f"{user}@{socket.gethostname() or 'localhost'}"


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex[:16]}"


# --------------------------------------------------------------------------- cancel request
# An operator (playbooks/abort.yml) or a signal to the module asks the run that holds the lease to stop.
# The request is one attribute beside the lease, addressed to that run by its id, so a later run of the
# same host (an explicit resume) is not cancelled by it. instance_placement reads it at its polls.

CANCEL_FIELD = "CancelRequest"
# instance_placement reads the request at most this often: one small consistent read a second at most.
CANCEL_POLL_SECONDS = 1.0


def cancel_request_for(item: Optional[Dict[str, Any]], run_id: Optional[str]) -> Optional[Dict[str, Any]]:
    """The cancel request of ``item`` addressed to ``run_id`` ({runId, requestedBy, reason, requestedAt}), or None."""
    request = (item or {}).get(CANCEL_FIELD)
    if isinstance(request, dict) and run_id and request.get("runId") == run_id:
        return request
    return None


def cancel_text(request: Dict[str, Any]) -> str:
    """``cancel requested by <who> at <when>[: <reason>]``."""
    text = f"cancel requested by {request.get('requestedBy') or 'unknown'} at {request.get('requestedAt') or 'an unknown time'}"
    return text + (f": {request['reason']}" if request.get("reason") else "")


def _cancel_words(host_id):
    """(kind, host, missing record, subject, whose lease) for the cancel messages of the record keyed ``host_id``.

    A failover's texts stay as they were; a failback's name the failback (docs/troubleshooting.md lists both).
    """
    kind, host = record_kind(host_id)
    if kind == FAILBACK_RECORD:
        return kind, host, "failback record", f"failback to host {host}", f"the failback to host {host}"
    return kind, host, "migration record", f"failover of host {host}", f"host {host}"


def _check_cancellable(host_id, item, now):
    """Raise NotFoundError unless ``item`` is a processing record whose lease a live run holds."""
    kind, host, missing, subject, lease_of = _cancel_words(host_id)
    if item is None:
        raise NotFoundError(f"nothing to cancel: there is no {missing} for host {host}", host_id=host_id)
    if item["State"] != "processing":
        raise NotFoundError(
            f"nothing to cancel: the {subject} is not running (its record is {item['State']}, last run {item.get('RunId') or 'unknown'})",
            host_id=host_id, state=item["State"],
        )
    if lease_state(item, None, now) != "held":
        why = f"its run {item['LeaseRunId']} stopped renewing it" if item.get("LeaseRunId") else "the record has no lease"
        raise NotFoundError(
            f"nothing to cancel: no live run holds the lease of {lease_of} ({why}); a {kind} that was killed is resumed by running {kind}.yml again",
            host_id=host_id, state=item["State"],
        )


def request_cancel(dynamodb_client: Any, table: str, host_id: str, requested_by: Optional[str] = None, reason: Optional[str] = None,
                   now: Optional[float] = None, check_mode: bool = False, run_id: Optional[str] = None) -> Tuple[bool, Dict[str, Any]]:
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
    update = Update()
    update.set(CANCEL_FIELD, request)
    update.require_equal("State", "processing")
    update.require_equal("LeaseRunId", item["LeaseRunId"])
    try:
        call_table(client, table, "UpdateItem", "update_item", Key={"HostId": {"S": host_id}}, **update.params())
    except ConditionFailed:
        # The run finished, or another run took the lease, between the read and the write.
        current = get_record(client, table, host_id)
        _check_cancellable(host_id, current, now)
        raise ConflictError(f"the {_cancel_words(host_id)[3]} changed hands while it was being cancelled "
                            f"(now run {current['LeaseRunId']}); ask again", host_id=host_id)
    return True, request
