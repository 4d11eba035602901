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


def default_owner():
    """``user@host`` of this process, for the lease."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment
        user = "unknown"
    return "%s@%s" % (user, socket.gethostname() or "localhost")


def new_run_id():
    return "run-%s" % uuid.uuid4().hex[:16]


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


def _cancel_words(host_id):
    """(kind, host, missing record, subject, whose lease) for the cancel messages of the record keyed ``host_id``.

    A failover's texts stay as they were; a failback's name the failback (docs/troubleshooting.md lists both).
    """
    kind, host = record_kind(host_id)
    if kind == FAILBACK_RECORD:
        return kind, host, "failback record", "failback to host %s" % host, "the failback to host %s" % host
    return kind, host, "migration record", "failover of host %s" % host, "host %s" % host


def _check_cancellable(host_id, item, now):
    """Raise NotFoundError unless ``item`` is a processing record whose lease a live run holds."""
    kind, host, missing, subject, lease_of = _cancel_words(host_id)
    if item is None:
        raise NotFoundError("nothing to cancel: there is no %s for host %s" % (missing, host), host_id=host_id)
    if item["State"] != "processing":
        raise NotFoundError(
            "nothing to cancel: the %s is not running (its record is %s, last run %s)"
            % (subject, item["State"], item.get("RunId") or "unknown"),
            host_id=host_id, state=item["State"],
        )
    if lease_state(item, None, now) != "held":
        why = "its run %s stopped renewing it" % item["LeaseRunId"] if item.get("LeaseRunId") else "the record has no lease"
        raise NotFoundError(
            "nothing to cancel: no live run holds the lease of %s (%s); a %s that was killed is resumed by "
            "running %s.yml again" % (lease_of, why, kind, kind),
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
        raise ConflictError("the %s changed hands while it was being cancelled (now run %s); ask again"
                            % (_cancel_words(host_id)[3], current["LeaseRunId"]), host_id=host_id)
    return True, request
