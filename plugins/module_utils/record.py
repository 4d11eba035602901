# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One failover's migration record (a DynamoDB item) as one run writes it: ``MigrationRecord``.

One item per failed host, keyed ``HostId``, with the reference system's attribute names so that its records keep
working (they load with defaults). MigrationRecord takes, renews, fences and releases the record's lease (the
rules are in lease.py's docstring), writes the instance map and finalizes the record. Every write a run makes is
conditional on ``LeaseRunId`` being its run id, so a run that lost its lease cannot change the record. Counters
are recomputed from the instance map on every write, so a repeated or retried write never counts twice.

Not here: the value codec and table calls (dynamodb.py), the schema and instance-map rules (schema.py), lease
states, errors and the cancel request (lease.py), the status document (status.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time
from typing import Any
from typing import Dict
from typing import Iterable
from typing import Optional
from typing import Tuple

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import WRITE_ATTEMPTS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import ConditionFailed
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import Update
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import call_table
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import deserialize_item
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import plain
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import serialize_item
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import storable
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import ConflictError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseHeldError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseLostError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_record_key
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import CANCEL_FIELD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import CANCEL_POLL_SECONDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import DEFAULT_LEASE_SECONDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import QUIET_BEFORE_TAKEOVER_SECONDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import STUCK_OWNER
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import cancel_request_for
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import cancel_text
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import default_owner
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import held_error
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_clock
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_info
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_margin
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_state
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lost_error
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import request_cancel
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import validate_lease_seconds
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import COUNTER_FIELDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import DEFAULT_TTL_SECONDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import DONE_STATUSES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import ENDED_STATES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import FINISHED_STATES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import LEASE_FIELDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import apply_instance_changes
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import count_instances
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import failure_summary
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import final_state
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import merge_initial
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import new_generation
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import normalise_item
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import iso_time
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import to_epoch

# Attributes set_fields() may not touch: the key, the lease, the versions and what is derived.
PROTECTED_FIELDS = ("HostId", "InstanceMigrations", "LeaseVersion", "RecordVersion", "RunId", "CreatedAt", "UpdatedAt",
                    "Generation") + (
    LEASE_FIELDS + COUNTER_FIELDS
)
# EC2 actions that change something: fence_client() checks the lease before each request for them.
FENCED_EC2_ACTIONS = ("StopInstances", "StartInstances", "ModifyInstancePlacement", "AllocateHosts", "ReleaseHosts",
                      "ModifyHosts", "CreateTags", "DeleteTags", "ModifyInstanceAttribute")


def final_outcome(item: Dict[str, Any], run_id: str, error_details: Optional[str] = None) -> Tuple[str, Optional[str]]:
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
        return "cancelled", f"{cancel_text(request)}; {failure_summary(migrations)}"
    return state, error_details if error_details is not None else (failure_summary(migrations) if state == "failed" else None)


class MigrationRecord(object):
    """The migration record of ``host_id`` as written by run ``run_id``.

    ``wall_clock`` (epoch seconds) and ``monotonic`` are injectable for tests. The methods that write are
    serialised by a lock, so one object may be shared by the threads of one run.
    """

    def __init__(self, dynamodb_client, table, host_id, run_id, owner=None, wall_clock=time.time, monotonic=lease_clock):
        self.host_id = validate_record_key(host_id)
        if not run_id or not isinstance(run_id, str):
            raise InvalidInputError(f"run_id must be a non-empty string, got {run_id!r}", value=run_id)
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

    def now(self) -> float:
        """Wall-clock epoch seconds (the injected clock)."""
        return self._wall_clock()

    def now_iso(self) -> str:
        return iso_time(self.now())

    def load(self) -> Optional[Dict[str, Any]]:
        """Read the record (strongly consistent); the normalised item, or None when there is none."""
        self.item = get_record(self._client, self.table, self.host_id)
        return self.item

    def _current(self):
        item = self.item if self.item is not None else self.load()
        if item is None:
            raise NotFoundError(f"there is no migration record for host {self.host_id}", host_id=self.host_id)
        return item

    # ----------------------------------------------------------------- lease

    @property
    def lease_seconds(self) -> Optional[float]:
        return self._lease_seconds

    def holds_lease(self) -> bool:
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

    def check_acquire(self, item: Optional[Dict[str, Any]], now: float, break_lock: bool = False) -> Dict[str, Any]:
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
                f"host {self.host_id} has a record in processing without a lease (another system's run, such as the reference "
                f"system's), last updated at {iso_time(updated)}; it is taken over once it has not changed for "
                f"{QUIET_BEFORE_TAKEOVER_SECONDS} s (after {iso_time(updated + QUIET_BEFORE_TAKEOVER_SECONDS)}), or run "
                "with break_lock=true",
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

    def preview_acquire(self, lease_seconds: float = DEFAULT_LEASE_SECONDS, break_lock: bool = False) -> Dict[str, Any]:
        """acquire() without writing (check mode): reads the record and returns what acquire would do."""
        validate_lease_seconds(lease_seconds)
        return self.check_acquire(self.load(), self.now(), break_lock)

    def acquire(self, lease_seconds: float = DEFAULT_LEASE_SECONDS, break_lock: bool = False) -> Dict[str, Any]:
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
            f"could not take the lease on host {self.host_id}: the record kept changing under {WRITE_ATTEMPTS} attempts",
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
        update = Update()
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
        update.require(f"attribute_exists({update.name('HostId')})")
        update.require_version("LeaseVersion", item["LeaseVersion"])
        update.require_version("RecordVersion", item["RecordVersion"])
        if item.get("LeaseRunId"):
            update.require_equal("LeaseRunId", item["LeaseRunId"])
        else:
            update.require(f"attribute_not_exists({update.name('LeaseRunId')})")
        self._update(update)

    def renew(self, lease_seconds: Optional[float] = None) -> Dict[str, Any]:
        """Extend the lease by ``lease_seconds`` (default: the length it was taken with).

        Raises LeaseLostError when the record's ``LeaseRunId`` is no longer this run's.
        """
        with self._lock:
            seconds = lease_seconds or self._lease_seconds or (self.item or {}).get("LeaseSeconds") or DEFAULT_LEASE_SECONDS
            seconds = validate_lease_seconds(seconds)
            started = self._monotonic()
            now = self.now()
            update = Update()
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

    def heartbeat(self) -> bool:
        """Renew when more than a third of the lease has elapsed since the last take/renew; True if renewed."""
        with self._lock:
            if not self.holds_lease():
                raise LeaseLostError(
                    f"run {self.run_id} does not hold the lease on host {self.host_id} in this process",
                    host_id=self.host_id,
                    run_id=self.run_id,
                )
            elapsed = max(self._monotonic() - self._renewed_at, self.now() - self._renewed_at_wall)
            if elapsed > self._lease_seconds / 3.0:
                self.renew()
                return True
            return False

    def keep_lease(self) -> float:
        """heartbeat(), then fence(): before each of many EC2 changes in a row; the seconds left."""
        with self._lock:
            self.heartbeat()
            return self._check_fence()

    def remaining(self) -> Optional[float]:
        """Seconds until fence() starts refusing (None without a lease): the lesser on the lease clock and the wall clock."""
        if not self.holds_lease():
            return None
        usable = self._lease_seconds - lease_margin(self._lease_seconds)
        return min(self._renewed_at + usable - self._monotonic(), self._renewed_at_wall + usable - self.now())

    def fence(self) -> float:
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
                f"run {self.run_id} does not hold the lease on host {self.host_id} in this process",
                host_id=self.host_id,
                run_id=self.run_id,
            )
        if left < 0:
            raise LeaseLostError(
                f"the lease of run {self.run_id} on host {self.host_id} is within {lease_margin(self._lease_seconds):.1f} s "
                "of expiring on this run's clock; it stops changing anything",
                host_id=self.host_id,
                run_id=self.run_id,
            )
        return left

    def fence_client(self, client: Any, actions: Iterable[str] = FENCED_EC2_ACTIONS) -> Any:
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
            events.register(f"before-send.{service}.{action}", _fence_request,
                            unique_id=f"dedicated-hosts-fence-{service}-{action}-{id(self)}")
        return client

    # ----------------------------------------------------------------- cancel request (see lease.request_cancel)

    _cancel = None  # the request addressed to this run, once seen
    _cancel_read_at = None  # monotonic time of the last read of the request

    def cancel_request(self) -> Optional[Dict[str, Any]]:
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

    def request_cancel(self, requested_by: Optional[str] = None, reason: Optional[str] = None,
                       check_mode: bool = False) -> Tuple[bool, Dict[str, Any]]:
        """Ask the run that holds the lease to stop (see lease.request_cancel()); returns ``(changed, request)``."""
        changed, request = request_cancel(self._client, self.table, self.host_id, requested_by, reason, now=self.now(),
                                          check_mode=check_mode)
        self.changed = changed and not check_mode
        if self.changed:
            self.load()
        return changed, request

    def cancel_own_run(self, requested_by: str, reason: Optional[str] = None) -> Dict[str, Any]:
        """Write a cancel request addressed to this run itself (a signal asked it to stop); returns the request."""
        self._cancel = request_cancel(self._client, self.table, self.host_id, requested_by, reason, now=self.now(),
                                      run_id=self.run_id)[1]
        return self._cancel

    def release(self) -> bool:
        """Clear the lease if this run holds it; True if it did. Releasing a released lease is a no-op."""
        with self._lock:
            update = Update()
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

    def check_owner(self, item: Optional[Dict[str, Any]]) -> None:
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
                f"could not update the record of host {self.host_id}: it kept changing under {WRITE_ATTEMPTS} attempts",
                host_id=self.host_id,
            )

    @staticmethod
    def _set_migrations(update, migrations):
        update.set("InstanceMigrations", migrations)
        for name, value in count_instances(migrations).items():
            update.set(name, value)

    def initialise_instances(self, instances: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
        """Add the instances of the host to the record, keeping entries that already progressed (resume).

        ``instances`` maps instance id -> ``{targetHostId, originalState, instanceType, status
        (pending|skipped), errorMessage (the reason when skipped)}``. Returns the new item.
        """

        def build(item: Dict[str, Any]) -> Optional[Update]:
            merged = merge_initial(item["InstanceMigrations"], instances, self.now_iso())
            if merged == item["InstanceMigrations"] and not self._counters_stale(item):
                return None
            update = Update()
            self._set_migrations(update, merged)
            return update

        return self._write(build)

    @staticmethod
    def _counters_stale(item):
        """True when the stored counters are not those of the map (a reference record, say)."""
        return any(item.get(name) != value for name, value in count_instances(item["InstanceMigrations"]).items())

    def update_instances(self, changes: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
        """Apply ``changes`` ({instance id: {status, phase, errorMessage, forceStopUsed, retryCount,
        targetHostId, ...}}) in ONE UpdateItem, with the counters recomputed; returns the new item.
        A change that is already in the record writes nothing.
        """
        if not changes:
            self.changed = False
            return self._current()

        def build(item: Dict[str, Any]) -> Optional[Update]:
            merged = apply_instance_changes(item["InstanceMigrations"], changes, self.now_iso())
            if merged == item["InstanceMigrations"]:
                return None
            update = Update()
            self._set_migrations(update, merged)
            return update

        return self._write(build)

    def set_fields(self, **attributes: Any) -> Dict[str, Any]:
        """SET top-level attributes (ReservedHostId, ReplacementHostIds, Plan, PlanVersion,
        AllocationClientToken, AllocatedHosts, ErrorDetails, ...) in one conditional write; None removes one.
        Setting ReplacementHostIds also sets ReservedHostId to its first host unless that is given too.
        """
        protected = sorted(name for name in attributes if name in PROTECTED_FIELDS)
        if protected:
            raise InvalidInputError(f"set_fields cannot change {', '.join(protected)}", value=protected)
        attributes = dict(attributes)
        if attributes.get("ReplacementHostIds") and "ReservedHostId" not in attributes:
            attributes["ReservedHostId"] = list(attributes["ReplacementHostIds"])[0]

        def build(item: Dict[str, Any]) -> Optional[Update]:
            wanted = dict((name, plain(storable(value))) for name, value in attributes.items())
            if all(item.get(name) == value for name, value in wanted.items()):
                return None
            update = Update()
            for name, value in wanted.items():
                if value is None:
                    update.remove(name)
                else:
                    update.set(name, value)
            return update

        return self._write(build)

    def preview_finalize(self, item: Optional[Dict[str, Any]] = None, error_details: Optional[str] = None) -> str:
        """The State that finalize() would write for ``item`` (default: the current record)."""
        item = item or self._current()
        return final_outcome(item, self.run_id, error_details)[0]

    def is_finalized_by_run(self, item: Dict[str, Any]) -> bool:
        """True when ``item`` was finalized by this run (finalize again is then a no-op)."""
        return not item.get("LeaseRunId") and item.get("RunId") == self.run_id and item["State"] in FINISHED_STATES

    def finalize(self, error_details: Optional[str] = None, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> Dict[str, Any]:
        """Finish the record: State complete or failed (from the instance map; always failed when
        ``error_details`` is given), ExpirationTime in ``ttl_seconds``, ErrorDetails (given, or a summary
        of the failures), lease released.
        Finalizing again after a successful finalize by the same run is a no-op.
        """
        ttl = float(ttl_seconds)
        if ttl <= 0:
            raise InvalidInputError(f"ttl_seconds must be positive, got {ttl_seconds!r}", value=ttl_seconds)
        with self._lock:
            item = self.load()
            if item is not None and self.is_finalized_by_run(item):
                self.changed = False
                return item

            def build(current: Dict[str, Any]) -> Update:
                migrations = current["InstanceMigrations"]
                state, details = final_outcome(current, self.run_id, error_details)
                update = Update()
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
