# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Move a set of instances to their planned Dedicated Hosts in one call.

Each instance goes through stop (graceful, forced after a bound, or forced at once), ModifyInstancePlacement
(HostId = target, Tenancy host, its own affinity kept) and, when it was running before, start and
verification. One poller serves every instance in flight: each poll tick makes one DescribeInstances for
all of them, computes every state transition, acts with batched calls and writes every change of the tick
to the migration record with one UpdateItem.

Every decision is taken from EC2's current state, so a run that stopped half-way (a crash, a lost lease)
is resumed by calling ``migrate`` again: an instance already on its target host in its original state is
a success that changed nothing, one already stopped goes on to the placement, one already placed is
started.

Phases written to the record, in order: pending, pre-stop-hook, stopping, force-stopping, stopped, placed,
starting, running, post-start-hook, verified (an instance that was stopped before the failover goes pending ->
stopped/placed -> verified; the hook phases only with SSM hooks, hooks.py).

``move_instances`` is the whole of one instance_placement call around the Migration: the plan read from the record
(``recorded_plan``: what replacement_host stored, each instance's current target) unless one is given, the lease
renewed, the failed host's state read, a retry pass counted, stop protection lifted before and restored after, SIGINT and SIGTERM
turned into a cancel (signal_cancel.py) and the record finalized after one, and the module's result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import Iterable
from typing import List
from typing import Optional
from typing import Tuple

from ansible_collections.amazon.aws.plugins.module_utils.transformation import camel_dict_to_snake_dict

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import capacity as host_room
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import DESCRIBE_RATE_LIMIT
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import THROTTLING_CODES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import TokenBucket
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import api_error
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import chunks
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import error_code
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import is_client_error
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import paginate
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import request_budget_file
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import FailoverError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseLostError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import HOOK_KINDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import POST_START_HOOK
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import PRE_STOP_HOOK
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import HookRunner
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import describe_host
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILBACK_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILOVER_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_instance_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import cancel_text
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.preflight import set_stop_protection
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import PHASES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import STOP_PROTECTION_LIFTED
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import placement_settings
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.signal_cancel import SignalCancel

# Defaults of the options (the module documents the reasoning; see docs too).
DEFAULTS = dict(
    concurrency=None,  # None: every instance at once (0 or less is refused by the module)
    force_stop_after=default_of("force_stop_after"),  # graceful stop gets two minutes, then StopInstances Force=true
    stop_timeout=default_of("stop_timeout"),  # ten minutes, the ceiling of botocore's InstanceStopped waiter and AWS's "post a request for help"
    start_timeout=default_of("start_timeout"),  # ten minutes, the ceiling of botocore's InstanceRunning waiter
    poll_interval=default_of("poll_interval"),  # one DescribeInstances a second for the whole host, far below EC2's 20 per second refill
    start_attempts=default_of("start_attempts"),
    start_backoff=None,  # seconds before the second start attempt (doubles each time); default 2 x poll_interval
    force_stop_immediately=False,
    rollback=True,
    check_mode=False,
    spare_host_ids=(),  # further hosts of the plan an instance may be moved to when its target is full
    request_budget_file=None,  # the run's shared EC2 request buckets (aws.request_budget_file); None: this process's own
    pre_stop_hook=None,  # hooks.Hook run on each running instance before its stop
    post_start_hook=None,  # hooks.Hook run on each instance once it runs on its new host
    hook_concurrency=None,  # hook invocations in flight at once, per hook (None: hooks.DEFAULT_CONCURRENCY)
)

# The least time between two progress lines of a move (a line is said only when the instances' phases changed).
PROGRESS_SECONDS = 5.0

# The client-side buckets hold one token less than EC2's and refill a tenth slower: calls leave a client paced
# exactly at EC2's rate, but network and server jitter bunch them on arrival, and several hosts share one budget.
BUCKET_MARGIN = 0.9


def _under(limits):
    """(burst, refill) a little under EC2's ``limits``."""
    burst, refill = limits
    return max(1.0, burst - 1.0), refill * BUCKET_MARGIN


# A start refused with InsufficientCapacityOnHost (the target host filled up since planning) moves the
# instance to another host of the plan with room, at most this many times per instance.
MAX_REPLACEMENTS = 2

# Ids per StopInstances / StartInstances request: few requests (StartInstances' bucket holds 5) while a
# request stays small.
STOP_BATCH = 50
START_BATCH = 50
# Values per DescribeInstances filter.
DESCRIBE_CHUNK = 200

# Client-side token buckets per action (maximum, refill per second), from EC2's published request limits.
RATE_LIMITS = {
    "DescribeInstances": DESCRIBE_RATE_LIMIT,
    "DescribeInstanceStatus": DESCRIBE_RATE_LIMIT,
    "StopInstances": (50, 5.0),
    "ModifyInstancePlacement": (50, 5.0),
    "StartInstances": (5, 2.0),
}
# EC2's resource buckets, drawn by the number of instances a request names: one host is far from them, an
# Availability Zone's worth of hosts sharing the run's budget is not (1,000 starts, then 2 a second).
RESOURCE_LIMITS = {
    "StopInstances": (1000, 20.0),
    "StartInstances": (1000, 2.0),
}

CAPACITY_CODES = ("InsufficientInstanceCapacity", "InsufficientCapacityOnHost", "InsufficientHostCapacity")
# Errors worth a bounded retry pass by the caller: capacity, throttling, and states that settle.
RETRYABLE_CODES = CAPACITY_CODES + THROTTLING_CODES + ("IncorrectInstanceState", "InvalidInstanceState", "InvalidHostState")
# Errors that concern the whole request, not one of its instances: a failed batch is not split for them.
REQUEST_WIDE_CODES = THROTTLING_CODES + ("UnauthorizedOperation", "AuthFailure", "Blocked", "OptInRequired", "DryRunOperation")

GONE_STATES = ("terminated", "shutting-down")
# Steps of an instance in flight that nothing has been done to yet: a cancel leaves it where it is (a pre-stop hook
# may be running on it: the instance is not stopped, whatever the hook does).
UNBEGUN_STEPS = ("stop", "settle", PRE_STOP_HOOK)


def _state_of(description):
    return ((description or {}).get("State") or {}).get("Name")


def _host_of(description):
    return ((description or {}).get("Placement") or {}).get("HostId")


def _error_text(error):
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Message") or str(error)


class InstanceMove(object):
    """What the migration knows and has done for one instance."""

    def __init__(self, instance_id, target_host_id, original_state=None, instance_type=None, earlier_retries=0):
        self.instance_id = instance_id
        self.instance_type = instance_type
        # retryCount in the record counts every retry of the instance: earlier runs' and this one's.
        self.earlier_retries = earlier_retries
        self.target_host_id = target_host_id
        self.original_state = original_state
        self.status = "pending"
        self.phase = "pending"
        self.step = None  # what happens next: stop, wait-stop, settle, place, start, backoff, wait-start, verify
        self.done = False
        self.changed = False
        self.attempts = 0
        self.force_stop_used = False
        self.want_force = False
        self.force_sent = False
        self.stopped_seen = 0
        self.not_before = 0.0
        self.rollback = False
        self.error = None
        self.error_code = None
        self.retryable = False
        self.source_host_id = None
        self.current_host_id = None
        self.affinity = None
        self.public_ip_before = None
        self.public_ip_after = None
        self.final_state = None
        self.planned_actions = []
        self.marks = {}
        self.attempts_here = 0  # start attempts on the current target host
        self.moved_from = []  # targets left because they were full at start time
        self.hooks = {}  # hook kind -> hooks.HookOutcome.as_dict(), once the hook ended on this instance
        self.timings = {}  # preflight's force_stop_after, stop_timeout and start_timeout of this instance, when it set them

    @property
    def wants_running(self) -> bool:
        return self.original_state == "running"

    def since(self, mark: str, now: float) -> Optional[float]:
        start = self.marks.get(mark)
        return None if start is None else now - start

    def span(self, first: str, last: str) -> Optional[float]:
        if first not in self.marks or last not in self.marks:
            return None
        return round(self.marks[last] - self.marks[first], 3)

    def result(self) -> Dict[str, Any]:
        return dict(
            instance_id=self.instance_id,
            instance_type=self.instance_type,
            status=self.status,
            changed=self.changed,
            phase=self.phase,
            attempts=self.attempts,
            force_stop_used=self.force_stop_used,
            timings=dict(
                stop_seconds=self.span("stop_requested", "stopped"),
                placement_seconds=self.span("place_requested", "placed"),
                start_seconds=self.span("start_requested", "running"),
                total_seconds=self.span("admitted", "finished"),
            ),
            source_host_id=self.source_host_id,
            target_host_id=self.target_host_id,
            original_state=self.original_state,
            final_state=self.final_state,
            public_ip_before=self.public_ip_before,
            public_ip_after=self.public_ip_after,
            error=self.error,
            error_code=self.error_code,
            retryable=self.retryable,
            rolled_back=self.rollback and self.final_state == "running",
            replaced_from=list(self.moved_from),
            planned_actions=list(self.planned_actions),
            hooks=[self.hooks[kind] for kind in HOOK_KINDS if kind in self.hooks],
        )


class Migration(object):
    """One migration of a set of instances; ``run()`` returns the per-instance results."""

    def __init__(self, ec2_client, record, placements, options=None, sleep=time.sleep, monotonic=time.monotonic, interrupted=None,
                 progress=None, ssm_client=None):
        self.record = record
        self.options = dict(DEFAULTS)
        self.options.update({key: value for key, value in (options or {}).items() if value is not None})
        self.check_mode = bool(self.options["check_mode"])
        # Check mode changes nothing, so it needs no lease to fence with.
        self.ec2 = retrying(ec2_client) if self.check_mode else _fenced(ec2_client, record)
        self.poll_interval = float(self.options["poll_interval"])
        backoff = self.options["start_backoff"]
        self.start_backoff = float(backoff) if backoff is not None else 2.0 * self.poll_interval
        self._sleep = sleep
        self._monotonic = monotonic
        shared = self.options["request_budget_file"]
        self.buckets = dict(
            (action, TokenBucket(*_under(limits), monotonic=monotonic, sleep=sleep, shared_file=shared, name=action))
            for action, limits in RATE_LIMITS.items()
        )
        self.resource_buckets = dict(
            (action, TokenBucket(*_under(limits), monotonic=monotonic, sleep=sleep, shared_file=shared, name=f"{action} instances"))
            for action, limits in RESOURCE_LIMITS.items()
        )
        self.moves = self._build_moves(placements)
        self.spare_hosts = set(move.target_host_id for move in self.moves)
        for host_id in self.options["spare_host_ids"] or ():
            self.spare_hosts.add(validate_host_id(host_id, what="spare_host_ids item"))
        self.queue = list(self.moves)
        self.in_flight = []
        self.observed = {}
        self.changes = {}
        self.ticks = 0
        self.writes = 0
        self.now = monotonic()
        self.interrupted = interrupted
        self.cancel = None
        self.requested = False  # whether this tick sent a stop or start request
        self.progress = progress
        self.started = monotonic()
        self._progress_said = None  # (counts, monotonic time) of the last progress line
        self.hook_runners = dict(
            (kind, HookRunner(ssm_client, self.options[kind + "_hook"], self.options["hook_concurrency"], monotonic=monotonic,
                              before_send=record.keep_lease))
            for kind in HOOK_KINDS if self.options[kind + "_hook"] is not None and not self.check_mode)

    # ------------------------------------------------------------------ setup

    def _build_moves(self, placements):
        moves, seen = [], set()
        known = self._recorded_instances()
        for placement in placements or []:
            instance_id = validate_instance_id(placement.get("instance_id"), what="placements instance_id")
            target = validate_host_id(placement.get("target_host_id"), what=f"target_host_id of {instance_id}")
            if instance_id in seen:
                raise InvalidInputError(f"instance {instance_id} appears twice in placements", instance_id=instance_id)
            seen.add(instance_id)
            original = placement.get("original_state") or known.get(instance_id, {}).get("originalState")
            if original not in (None, "running", "stopped"):
                raise InvalidInputError(
                    f"original_state of {instance_id} must be running or stopped, got {original!r}", instance_id=instance_id
                )
            instance_type = placement.get("instance_type") or known.get(instance_id, {}).get("instanceType")
            earlier_retries = int(known.get(instance_id, {}).get("retryCount") or 0)
            moves.append(InstanceMove(instance_id, target, original, instance_type, earlier_retries))
            # Preflight's per-instance timings (Windows and Mac instances, docs/preflight.md) override the run's.
            moves[-1].timings = {key: float(placement[key]) for key in ("force_stop_after", "stop_timeout", "start_timeout")
                                 if placement.get(key) is not None}
        return moves

    def _recorded_instances(self):
        item = self.record.item or {}
        return item.get("InstanceMigrations") or {}

    @property
    def limit(self) -> int:
        concurrency = int(self.options["concurrency"] or 0)
        return concurrency if concurrency > 0 else max(1, len(self.moves))

    # ------------------------------------------------------------------ main loop

    def run(self) -> List[Dict[str, Any]]:
        try:
            if self.check_mode:
                return self._plan_only()
            if "pre_stop" in self.hook_runners:
                # One look at every agent before the first stop: an instance that cannot run its hook is known at once.
                self.hook_runners["pre_stop"].check_agents([move.instance_id for move in self.moves])
            wait = self.poll_interval
            while True:
                started = self._monotonic()
                self.requested = False
                self._tick()
                if all(move.done for move in self.moves):
                    self._say_progress(final=True)
                    break
                self._say_progress()
                # Right after a stop or start request, look again after a quarter of the interval, then back off to the
                # interval: a quick stop or start is seen at once, a slow one costs two or three extra describes.
                wait = self.poll_interval / 4.0 if self.requested else min(self.poll_interval, wait * 2.0)
                # A steady cadence: the time a tick takes (describe, actions, record write) is not added to the wait.
                self._sleep(max(0.0, wait - (self._monotonic() - started)))
        except LeaseLostError as error:
            details = dict(error.details)
            details["instances"] = self.results()
            raise LeaseLostError(
                f"{error.message}; the migration stopped acting at once: every instance is left where it is, and a run that takes "
                "the lease again resumes from there",
                **details
            )
        except FailoverError as error:
            error.details["instances"] = self.results()
            raise
        except Exception as error:  # botocore errors after their retries
            if not is_client_error(error):
                raise
            failure = api_error(error, getattr(error, "operation_name", "EC2 call"))
            failure.details["instances"] = self.results()
            raise failure
        return self.results()

    def _tick(self):
        self.ticks += 1
        self.now = self._monotonic()
        self.record.heartbeat()
        self._observe()
        self._check_cancel()
        self._admit()
        # Observing can take long on a slow or throttled API: renew (when a third of the lease has passed)
        # right before acting too, so that a live run is not fenced off by a lease it could have renewed.
        self.record.heartbeat()
        self._act()
        self._flush()

    def results(self) -> List[Dict[str, Any]]:
        return [move.result() for move in self.moves]

    # ------------------------------------------------------------------ progress

    def progress_counts(self) -> Tuple[Tuple[Tuple[str, int], ...], Tuple[Tuple[str, int], ...]]:
        """(instances finished by status, instances in flight by phase), each in a fixed order."""
        finished = [(status, sum(1 for move in self.moves if move.done and move.status == status))
                    for status in ("success", "failed", "skipped", "pending")]
        moving = [(phase, sum(1 for move in self.moves if not move.done and move.phase == phase)) for phase in PHASES]
        return tuple((name, count) for name, count in finished if count), tuple((name, count) for name, count in moving if count)

    def progress_line(self, counts: Optional[Tuple[Tuple[Tuple[str, int], ...], Tuple[Tuple[str, int], ...]]] = None) -> str:
        finished, moving = counts or self.progress_counts()
        done = sum(count for dummy, count in finished)
        now = self._monotonic()
        in_flight = [move for move in self.moves if not move.done and "admitted" in move.marks]
        slowest = min(in_flight, key=lambda move: move.marks["admitted"]) if in_flight else None
        line = f"{done}/{len(self.moves)} instances done"
        if finished:
            line += f" ({', '.join(f'{count} {name}' for name, count in finished)})"
        line += f" after {int(now - self.started)} s"
        if moving:
            line += f"; moving: {', '.join(f'{count} {name}' for name, count in moving)}"
        if slowest:
            line += f"; slowest: {slowest.instance_id} {slowest.phase} for {int(now - slowest.marks['admitted'])} s"
        return line

    def _say_progress(self, final=False):
        """A progress line when the counts changed, at most every PROGRESS_SECONDS (always at the end)."""
        if self.progress is None:
            return
        counts, now = self.progress_counts(), self._monotonic()
        said = self._progress_said
        if said is not None and (said[0] == counts or (not final and now - said[1] < PROGRESS_SECONDS)):
            return
        self._progress_said = (counts, now)
        self.progress(self.progress_line(counts))

    # ------------------------------------------------------------------ cancel

    def _check_cancel(self):
        """A cancel request (playbooks/abort.yml, or a signal the module caught) stops every move not yet begun.

        Instances already stopping, stopped or placed by this failover go on as planned (placed and started);
        the others are left where they are, untouched, with status ``pending`` and the reason.
        """
        if self.cancel is None:
            signal_name = self.interrupted() if self.interrupted else None
            if signal_name:
                self.cancel = self.record.cancel_own_run(
                    f"signal {signal_name} to run {self.record.run_id}", "the run was interrupted (Ctrl-C, or a job cancel)")
            else:
                self.cancel = self.record.cancel_request()
            if self.cancel is None:
                return
        for move in list(self.queue) + [move for move in self.in_flight if move.step in UNBEGUN_STEPS]:
            was_stopped = (move.original_state or _state_of(self.observed.get(move.instance_id))) == "stopped"
            self._finish(move, "pending", error=f"cancelled before it was {'moved' if was_stopped else 'stopped'}: "
                                                f"left where it is ({cancel_text(self.cancel)})")

    # ------------------------------------------------------------------ observation

    def _describe(self, instance_ids):
        found = {}
        for chunk in chunks(list(instance_ids), DESCRIBE_CHUNK):
            self.buckets["DescribeInstances"].take()
            result = paginate(self.ec2, "describe_instances", Filters=[{"Name": "instance-id", "Values": chunk}])
            for reservation in result.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    found[instance["InstanceId"]] = instance
        return found

    def _observe(self):
        upcoming = self.queue[:self.limit]
        ids = [move.instance_id for move in self.in_flight + upcoming]
        if not ids:
            return
        self.observed = self._describe(ids)
        self.now = self._monotonic()
        for move in list(self.in_flight):
            self._advance(move, self.observed.get(move.instance_id))

    def _advance(self, move, description):
        state = _state_of(description)
        if description is None or state in GONE_STATES:
            self._finish(move, "failed", error=f"instance {move.instance_id} disappeared during the migration (state {state or 'not found'})")
            return
        move.current_host_id = _host_of(description)
        move.final_state = state
        handler = getattr(self, "_on_" + move.step.replace("-", "_"), None)
        if handler is not None:
            handler(move, description, state)

    def _on_settle(self, move, description, state):
        if state == "running":
            self._ready_to_stop(move)
        elif state == "stopped":
            self._after_stopped(move, description)
        elif move.since("admitted", self.now) >= self.options["start_timeout"]:
            self._finish(move, "failed", error=f"instance stayed {state} for {self.options['start_timeout']}s; it was not stopped")

    def _on_wait_stop(self, move, description, state):
        if state == "stopped":
            move.marks["stopped"] = self.now
            self._set_phase(move, "stopped")
            self._after_stopped(move, description)
            return
        waited = move.since("stop_requested", self.now)
        stop_timeout = move.timings.get("stop_timeout", self.options["stop_timeout"])
        if waited >= stop_timeout:
            how = "a forced stop was also requested" if move.force_sent else "no forced stop was requested"
            self._finish(
                move,
                "failed",
                error=f"instance did not stop within {stop_timeout}s (state {state}; {how}); it is left on host {move.current_host_id}",
                code="StopTimeout",
            )
        elif not move.force_sent and waited >= move.timings.get("force_stop_after", self.options["force_stop_after"]):
            move.want_force = True

    def _on_wait_start(self, move, description, state):
        if state == "running":
            move.marks["running"] = self.now
            move.public_ip_after = description.get("PublicIpAddress")
            if move.rollback:
                self._finish(move, "failed", error=move.error, code=move.error_code, retryable=move.retryable)
                return
            self._set_phase(move, "running")
            move.step = "verify"
            # The description that says running also says where: verify now, not a poll interval later.
            self._on_verify(move, description, state)
            return
        if state == "stopped":
            move.stopped_seen += 1
            if move.stopped_seen >= 2:
                reason = description.get("StateReason") or {}
                code = reason.get("Code") or "StartFailed"
                capacity = "insufficient" in (reason.get("Message") or code).lower() and "capacity" in (reason.get("Message") or code).lower()
                self._start_failed(move, "InsufficientInstanceCapacity" if capacity else code, reason.get("Message") or "instance went back to stopped")
            return
        move.stopped_seen = 0
        start_timeout = move.timings.get("start_timeout", self.options["start_timeout"])
        if move.since("start_sent", self.now) >= start_timeout:
            if move.rollback:
                self._start_failed(move, "StartTimeout", f"it did not reach running within {start_timeout}s")
                return
            self._finish(
                move, "failed", code="StartTimeout", retryable=True,
                error=f"instance did not reach running within {start_timeout}s after StartInstances (state {state})",
            )

    def _on_verify(self, move, description, state):
        expected = move.original_state
        if state == expected and move.current_host_id == move.target_host_id:
            move.public_ip_after = description.get("PublicIpAddress")
            if expected == "running" and "post_start" in self.hook_runners:
                self._start_post_hook(move)
                return
            self._finish(move, "success", phase="verified")
        elif state == "stopped" and expected == "running":
            self._start_failed(move, "StartFailed", "instance went back to stopped after running")
        elif move.current_host_id != move.target_host_id:
            self._finish(move, "failed", error=f"instance is on host {move.current_host_id}, not on its target host", code="WrongHost")
        elif move.since("admitted", self.now) >= self.options["start_timeout"] + self.options["stop_timeout"]:
            self._finish(move, "failed", error=f"instance is {state}, expected {expected}", code="UnexpectedState")

    # ------------------------------------------------------------------ admission and first decision

    def _admit(self):
        admitted = []
        while self.queue and len(self.in_flight) < self.limit:
            move = self.queue.pop(0)
            self.in_flight.append(move)
            move.marks["admitted"] = self.now
            admitted.append(move)
            self._decide(move, self.observed.get(move.instance_id))
        # An impaired instance is force-stopped at once, after its pre-stop hook when it has one.
        self._check_impaired([move for move in admitted if move.step in ("stop", PRE_STOP_HOOK) and not move.want_force])

    def _decide(self, move, description):
        state = _state_of(description)
        if description is None or state in GONE_STATES:
            reason = "does not exist" if description is None else f"is {state}"
            self._finish(move, "skipped", error=f"instance {move.instance_id} {reason}; nothing to move", changed=False)
            return
        move.source_host_id = move.current_host_id = _host_of(description)
        move.instance_type = move.instance_type or description.get("InstanceType")
        move.affinity = (description.get("Placement") or {}).get("Affinity")
        move.public_ip_before = description.get("PublicIpAddress")
        move.final_state = state
        if move.original_state is None:
            move.original_state = "stopped" if state == "stopped" else "running"
        on_target = move.current_host_id == move.target_host_id
        if on_target and (state == move.original_state or (state == "running" and move.original_state == "stopped")):
            move.public_ip_after = move.public_ip_before
            if state == "running" and "post_start" in self.hook_runners and \
                    self._recorded_instances().get(move.instance_id, {}).get("phase") == POST_START_HOOK:
                self._start_post_hook(move)  # an earlier run moved it and ended while its post-start hook ran
                return
            self._finish(move, "success", phase="verified", changed=False)
            return
        self._set(move, status="in-progress", targetHostId=move.target_host_id, originalState=move.original_state)
        if state == "running":
            self._ready_to_stop(move)
        elif state == "stopping":
            self._set_phase(move, "stopping")
            move.marks["stop_requested"] = self.now
            move.step = "wait-stop"
            move.want_force = bool(self.options["force_stop_immediately"])
        elif state == "stopped":
            self._after_stopped(move, description)
        elif state == "pending" and on_target:
            self._set_phase(move, "starting")
            move.marks["start_sent"] = move.marks["start_requested"] = self.now
            move.step = "wait-start"
        else:
            move.step = "settle"

    def _ready_to_stop(self, move):
        """A running instance is stopped next, after its pre-stop hook when there is one."""
        move.want_force = bool(self.options["force_stop_immediately"])
        runner = self.hook_runners.get("pre_stop")
        if runner is None or "pre_stop" in move.hooks:
            move.step = "stop"
            return
        move.step = PRE_STOP_HOOK
        self._set_phase(move, PRE_STOP_HOOK)
        runner.request(move.instance_id)

    def _check_impaired(self, moves):
        """Instances whose system status is impaired are force-stopped at once (hardware trouble)."""
        if not moves:
            return
        for chunk in chunks([move.instance_id for move in moves], 100):
            self.buckets["DescribeInstanceStatus"].take()
            try:
                result = paginate(self.ec2, "describe_instance_status", InstanceIds=chunk, IncludeAllInstances=True)
            except Exception as error:  # advisory only: a failed status read means a graceful stop first
                if not is_client_error(error):
                    raise
                continue
            impaired = set(
                status["InstanceId"] for status in result.get("InstanceStatuses", [])
                if (status.get("SystemStatus") or {}).get("Status") == "impaired"
            )
            for move in moves:
                if move.instance_id in impaired:
                    move.want_force = True

    def _after_stopped(self, move, description):
        placement = (description or {}).get("Placement") or {}
        if placement.get("HostId") == move.target_host_id and placement.get("Tenancy", "host") == "host":
            move.marks.setdefault("placed", self.now)
            self._set_phase(move, "placed")
            move.step = "start" if move.wants_running else "verify"
        else:
            self._set_phase(move, "stopped")
            move.step = "place"

    # ------------------------------------------------------------------ actions

    def _act(self):
        self._hooks()
        self._force_stops()
        self._graceful_stops()
        self._placements()
        self._starts()

    # ------------------------------------------------------------------ hooks

    def _start_post_hook(self, move):
        move.step = POST_START_HOOK
        self._set_phase(move, POST_START_HOOK)
        self.hook_runners["post_start"].request(move.instance_id)

    def _hooks(self):
        """Send and read the hooks (in the tick that reads the instances), then move on every instance whose hook ended."""
        for kind, runner in sorted(self.hook_runners.items()):
            runner.tick(wait_for_agents=kind == "post_start")
            step = PRE_STOP_HOOK if kind == "pre_stop" else POST_START_HOOK
            for move in self._ready(step):
                outcome = runner.outcome(move.instance_id)
                if outcome is not None:
                    self._hook_ended(move, kind, runner.hook, outcome)

    def _hook_ended(self, move, kind, hook, outcome):
        move.hooks[kind] = outcome.as_dict(hook)
        message = move.hooks[kind]["message"]
        self._set(move, hooks=dict((name, entry["message"]) for name, entry in move.hooks.items()))
        policy = "ignore" if outcome.succeeded else hook.on_failure
        if kind == "pre_stop":
            where = f"{message}; the instance was not stopped and stays running on host {move.current_host_id}"
            if policy == "ignore":
                move.step = "stop"
            elif policy == "skip":
                self._finish(move, "skipped", error=where, code="PreStopHookFailed", changed=False)
            else:
                self._finish(move, "failed", error=where, code="PreStopHookFailed")
        elif policy == "ignore":
            self._finish(move, "success", phase="verified")
        else:
            # Phase running, where it is: the host that received it counts as such when the failover is settled.
            self._finish(move, "failed", phase="running", code="PostStartHookFailed",
                         error=f"{message}; the instance runs on its new host {move.current_host_id}")

    def _ready(self, step):
        return [move for move in self.in_flight if not move.done and move.step == step]

    def _force_stops(self):
        moves = [move for move in self.in_flight if not move.done and move.want_force and not move.force_sent
                 and move.step in ("stop", "wait-stop")]
        for batch in chunks(moves, STOP_BATCH):
            for move, error in self._batched("StopInstances", "stop_instances", batch, Force=True):
                if error is not None:
                    self._call_failed(move, "StopInstances (forced)", error)
                    continue
                move.force_sent = move.force_stop_used = move.changed = True
                move.marks.setdefault("stop_requested", self.now)
                move.step = "wait-stop"
                self._set_phase(move, "force-stopping")
                self._set(move, forceStopUsed=True)

    def _graceful_stops(self):
        for batch in chunks(self._ready("stop"), STOP_BATCH):
            for move, error in self._batched("StopInstances", "stop_instances", batch):
                if error is not None:
                    self._call_failed(move, "StopInstances", error)
                    continue
                move.marks["stop_requested"] = self.now
                move.step = "wait-stop"
                move.changed = True
                self._set_phase(move, "stopping")

    def _placements(self):
        for move in self._ready("place"):
            params = dict(InstanceId=move.instance_id, HostId=move.target_host_id, Tenancy="host")
            if move.affinity in ("default", "host"):
                params["Affinity"] = move.affinity
            self.buckets["ModifyInstancePlacement"].take()
            self.record.keep_lease()
            move.marks["place_requested"] = self._monotonic()
            try:
                self.ec2.modify_instance_placement(aws_retry=True, **params)
            except Exception as error:
                if not is_client_error(error):
                    raise
                self._placement_failed(move, error)
                continue
            move.marks["placed"] = self._monotonic()
            move.current_host_id = move.target_host_id
            move.changed = True
            self._set_phase(move, "placed")
            move.step = "start" if move.wants_running else "verify"

    def _placement_failed(self, move, error):
        code = error_code(error)
        message = f"ModifyInstancePlacement to host {move.target_host_id} failed: {_error_text(error)} ({code})"
        move.error, move.error_code, move.retryable = message, code, code in RETRYABLE_CODES
        if move.wants_running and self.options["rollback"] and not self.options["force_stop_immediately"]:
            move.rollback = True
            move.error = f"{message}; restarted on its source host {move.current_host_id}"
            move.step = "start"
            return
        self._finish(move, "failed", error=f"{message}; instance left stopped on host {move.current_host_id}",
                     code=code, retryable=move.retryable)

    def _starts(self):
        now = self._monotonic()
        moves = [move for move in self._ready("start") if move.not_before <= now]
        for batch in chunks(moves, START_BATCH):
            for move, error in self._batched("StartInstances", "start_instances", batch):
                if not move.rollback:
                    move.attempts += 1
                    move.attempts_here += 1
                if error is not None:
                    self._start_failed(move, error_code(error), _error_text(error))
                    continue
                move.marks.setdefault("start_requested", self.now)
                move.marks["start_sent"] = self._monotonic()
                move.stopped_seen = 0
                move.step = "wait-start"
                move.changed = True
                if not move.rollback:
                    self._set_phase(move, "starting")
                    if move.attempts > 1:
                        self._set(move, retryCount=move.earlier_retries + move.attempts - 1)

    def _start_failed(self, move, code, message):
        if move.rollback:
            self._finish(move, "failed", error=f"{move.error}; restarting it there failed too: {message} ({code})",
                         code=move.error_code, retryable=move.retryable)
            return
        if code == "InsufficientCapacityOnHost" and self._move_elsewhere(move, message):
            return
        if code in CAPACITY_CODES and move.attempts_here < int(self.options["start_attempts"]):
            move.step = "start"
            move.not_before = self._monotonic() + self.start_backoff * (2 ** (move.attempts - 1))
            self._set(move, retryCount=move.earlier_retries + move.attempts, errorMessage=f"start attempt {move.attempts}: {message} ({code})")
            return
        self._finish(
            move,
            "failed",
            error=f"StartInstances failed after {move.attempts} attempt(s): {message} ({code}); "
                  f"instance left stopped on host {move.current_host_id}{self._full_note(move, code)}",
            code=code,
            retryable=code in RETRYABLE_CODES,
        )

    def _full_note(self, move, code):
        if code != "InsufficientCapacityOnHost":
            return ""
        moved_from = f", after moving from {', '.join(move.moved_from)}" if move.moved_from else ""
        return f" (its target, full; no other host of the plan had room{moved_from})"

    def _unstarted_on(self, host_id, other):
        """Instance types this migration will still start on ``host_id`` (not yet in DescribeHosts' Instances)."""
        return [move.instance_type for move in self.moves
                if move is not other and not move.done and move.wants_running and move.target_host_id == host_id
                and move.step in ("stop", "wait-stop", "settle", "place", "start") and move.instance_type]

    def _move_elsewhere(self, move, message):
        """Re-plan one instance whose target host is full: place it on another host of the plan with room.

        Bounded (MAX_REPLACEMENTS per instance); only hosts this failover already holds (the plan's targets and
        ``spare_host_ids``) are candidates, so no other failover's claimed host is taken. Returns True when the
        instance was given a new target (it is then placed there and started by the next ticks).
        """
        if move.rollback or len(move.moved_from) >= MAX_REPLACEMENTS or not move.instance_type:
            return False
        candidates = sorted(self.spare_hosts - set([move.target_host_id]) - set(move.moved_from))
        if not candidates:
            return False
        try:
            hosts = paginate(self.ec2, "describe_hosts", HostIds=candidates).get("Hosts", [])
        except Exception as error:  # advisory: without a fresh view the instance stays on its target
            if not is_client_error(error):
                raise
            return False
        for host in sorted(hosts, key=lambda entry: entry["HostId"]):
            if host.get("State") != "available":
                continue
            room = host_room.host_capacity(host)
            for instance_type in self._unstarted_on(host["HostId"], move):
                if room.why_not(instance_type) is None:
                    room.place(instance_type)
            if room.why_not(move.instance_type) is not None:
                continue
            full = move.target_host_id
            move.moved_from.append(full)
            move.target_host_id = host["HostId"]
            move.attempts_here = 0
            move.step = "place"
            move.not_before = 0.0
            note = f"start on host {full} failed: {message} (InsufficientCapacityOnHost); moving it to host {host['HostId']}"
            self._set(move, targetHostId=move.target_host_id, errorMessage=note)
            self._replan_record(move)
            return True
        return False

    def _replan_record(self, move):
        """Keep the record's Plan in step with the instance's new target, so that a resumed run keeps it there."""
        item = self.record.item or {}
        plan = item.get("Plan")
        if self.check_mode or not isinstance(plan, dict) or plan.get(move.instance_id) == move.target_host_id:
            return
        plan = dict(plan)
        plan[move.instance_id] = move.target_host_id
        self.record.set_fields(Plan=plan)

    def _call_failed(self, move, operation, error):
        code = error_code(error)
        self._finish(move, "failed", error=f"{operation} failed: {_error_text(error)} ({code}); "
                                           f"instance left {move.final_state} on host {move.current_host_id}",
                     code=code, retryable=code in RETRYABLE_CODES)

    def _batched(self, action, method, moves, **params):
        """Call ``method`` for the moves' instances in one request; yields (move, error or None).

        EC2 fails the whole request for one bad instance; on such an error the instances are tried one by
        one, so a single bad instance does not fail the others.
        """
        self.record.keep_lease()  # a paced loop can outlast a third of the lease: renew, then fence
        # The tokens last, right before the call: a renewal between them would delay the call and bunch it with the next.
        self.buckets[action].take()
        self.resource_buckets[action].take(len(moves))
        self.requested = True
        ids = [move.instance_id for move in moves]
        try:
            getattr(self.ec2, method)(InstanceIds=ids, aws_retry=True, **params)
        except Exception as error:
            if not is_client_error(error):
                raise
            if len(moves) == 1 or error_code(error) in REQUEST_WIDE_CODES:
                return [(move, error) for move in moves]
            return [self._single(action, method, move, **params) for move in moves]
        return [(move, None) for move in moves]

    def _single(self, action, method, move, **params):
        self.record.keep_lease()  # a paced loop can outlast a third of the lease: renew, then fence
        self.buckets[action].take()
        self.resource_buckets[action].take()
        try:
            getattr(self.ec2, method)(InstanceIds=[move.instance_id], aws_retry=True, **params)
        except Exception as error:
            if not is_client_error(error):
                raise
            return move, error
        return move, None

    # ------------------------------------------------------------------ record

    def _set(self, move, **fields):
        self.changes.setdefault(move.instance_id, {}).update(fields)

    def _set_phase(self, move, phase):
        if move.phase != phase:
            pending = self.changes.setdefault(move.instance_id, {})
            if "phase" in pending:
                pending.setdefault("phasesPassed", []).append(pending["phase"])
            move.phase = phase
            pending["phase"] = phase

    def _finish(self, move, status, phase=None, error=None, code=None, retryable=False, changed=None):
        move.done = True
        move.status = status
        move.marks["finished"] = self._monotonic()
        if changed is not None:
            move.changed = changed
        if phase:
            self._set_phase(move, phase)
        move.error, move.error_code, move.retryable = error, code if error else None, bool(retryable) if error else False
        for runner in self.hook_runners.values():
            runner.forget(move.instance_id)
        fields = dict(status=status, errorMessage=error)
        if move.force_stop_used:
            fields["forceStopUsed"] = True
        self._set(move, **fields)
        if move in self.in_flight:
            self.in_flight.remove(move)
        if move in self.queue:
            self.queue.remove(move)

    def _flush(self):
        changes = self._unrecorded(self.changes)
        self.changes = {}
        if changes and not self.check_mode:
            self.record.update_instances(changes)
            self.writes += 1

    def _unrecorded(self, changes):
        """Drop the changes the record already holds (an already-finished instance rewrites nothing)."""
        recorded = self._recorded_instances()
        kept = {}
        for instance_id, fields in changes.items():
            current = recorded.get(instance_id) or {}
            if any(current.get(key) != value for key, value in fields.items() if key != "phasesPassed"):
                kept[instance_id] = fields
        return kept

    # ------------------------------------------------------------------ check mode

    def _plan_only(self):
        self.now = self._monotonic()
        self.observed = self._describe([move.instance_id for move in self.moves])
        for move in list(self.moves):
            self.queue.remove(move)
            move.marks["admitted"] = self.now
            self._decide(move, self.observed.get(move.instance_id))
            if move.done:
                continue
            move.planned_actions = self._planned(move)
            self._finish(move, "success", changed=True)
        self.changes = {}
        return self.results()

    def _planned(self, move):
        actions = []
        if move.step in ("stop", "wait-stop", "settle"):
            actions.append("force-stop" if move.want_force else "stop")
        if move.step in ("stop", "wait-stop", "settle", "place"):
            actions.append("modify-placement")
        if move.wants_running and move.step != "wait-start":
            actions.append("start")
        return actions


def _fenced(ec2_client, record: MigrationRecord):
    """The EC2 client with retries, every attempt of every change fenced by the record's lease (retries included)."""
    return record.fence_client(retrying(ec2_client))


def lift_stop_protection(ec2_client: Any, record: MigrationRecord, instance_ids: List[str]) -> Dict[str, str]:
    """Turn stop protection off for ``instance_ids`` before their move; ``{instance id: error}`` of those it could not.

    The lift is recorded (schema.STOP_PROTECTION_LIFTED) before the call, so whichever run holds the lease later (this
    one, or the rerun after a crash) knows to turn it on again; the call is fenced like every EC2 change.
    """
    if not instance_ids:
        return {}
    ec2_client = _fenced(ec2_client, record)
    record.update_instances({instance_id: {STOP_PROTECTION_LIFTED: True} for instance_id in instance_ids})
    record.keep_lease()
    errors = set_stop_protection(ec2_client, instance_ids, False)
    if errors:
        record.update_instances({instance_id: {STOP_PROTECTION_LIFTED: False} for instance_id in errors})
    return errors


def restore_stop_protection(ec2_client: Any, record: MigrationRecord) -> Tuple[Optional[List[str]], Dict[str, str]]:
    """Turn stop protection on again for every instance the record says was lifted (by this run or an earlier one).

    Returns ``(restored ids, {instance id: error})``; ``(None, {})`` when this run no longer holds the lease (expired,
    or taken over with ``break_lock``): the holder restores it then, so a run that lost its lease never changes an instance the holder is moving.
    """
    lifted = sorted(instance_id for instance_id, entry in ((record.item or {}).get("InstanceMigrations") or {}).items()
                    if entry.get(STOP_PROTECTION_LIFTED))
    if not lifted:
        return [], {}
    try:
        # A conditional renew, not only the local fence: a run whose lock was broken learns it here, before acting.
        record.renew()
        errors = set_stop_protection(_fenced(ec2_client, record), lifted, True)
    except LeaseLostError:
        return None, {}
    restored = [instance_id for instance_id in lifted if instance_id not in errors]
    record.update_instances({instance_id: {STOP_PROTECTION_LIFTED: False} for instance_id in restored})
    return restored, errors


# Set (by the collection's action plugins) to a file the task's action plugin reads while the module runs and shows
# line by line: the move's progress, live in ansible-playbook's output.
PROGRESS_FILE_ENV = "DEDICATED_HOSTS_FAILOVER_PROGRESS_FILE"


def progress_writer(prefix: str) -> Optional[Callable[[str], None]]:
    """A ``progress`` callable appending ``prefix: line`` to the run's progress file, or None without one."""
    path = os.environ.get(PROGRESS_FILE_ENV)
    if not path:
        return None

    def write(line: str) -> None:
        try:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(f"{prefix}: {line}\n")
        except OSError:
            pass  # nobody reads it any more (ansible-playbook exited on a cancel): the move goes on regardless

    return write


def migrate(ec2_client: Any, record: MigrationRecord, placements: List[Dict[str, Any]], options: Optional[Dict[str, Any]] = None,
            sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
            interrupted: Optional[Callable[[], Optional[str]]] = None, progress: Optional[Callable[[str], None]] = None,
            ssm_client: Any = None) -> List[Dict[str, Any]]:
    """Move ``placements`` (dicts with instance_id, target_host_id, original_state) and return per-instance results.

    ``record`` is a MigrationRecord whose lease the caller holds; ``options`` keys are those of DEFAULTS.
    ``interrupted`` (optional) returns the name of a signal the caller caught, or None: a signal cancels the
    migration like a cancel request in the record. ``progress`` (optional) is called with a line saying where the
    instances are, when that changes, at most every PROGRESS_SECONDS, and once at the end. Raises LeaseLostError
    (with the results so far under ``instances``) as soon as the lease is lost. ``ssm_client`` runs the hooks of
    ``options`` (``pre_stop_hook``, ``post_start_hook``); it is needed only with one of them.
    """
    return Migration(ec2_client, record, placements, options, sleep=sleep, monotonic=monotonic, interrupted=interrupted,
                     progress=progress, ssm_client=ssm_client).run()


def summarize(results: List[Dict[str, Any]]) -> Dict[str, int]:
    """Counts of the per-instance results by status, plus changed and force-stopped counts."""
    summary = dict(total=len(results), success=0, failed=0, skipped=0, pending=0, changed=0, force_stopped=0)
    for result in results:
        summary[result["status"]] = summary.get(result["status"], 0) + 1
        summary["changed"] += 1 if result["changed"] else 0
        summary["force_stopped"] += 1 if result["force_stop_used"] else 0
    return summary


# Host states in which the failed host's instances cannot be reached: a graceful stop would only wait for force_stop_after.
UNREACHABLE_HOST_STATES = ("under-assessment",)

# Options of move_instances() besides those of the Migration (DEFAULTS).
MOVE_DEFAULTS = dict(
    failed_host_id=None,  # the host the record is kept for (for a failback, the host the instances go back to)
    record_kind=FAILOVER_RECORD,
    retry=False,  # a retry pass: each instance's retryCount goes up by one
    instance_ids=None,  # only these instances of the plan (None: all of them)
    lease_seconds=None,  # the lease length renewed at the start (None: the length the lease was taken with)
)


def host_is_unreachable(ec2_client: Any, host_id: str) -> bool:
    """Whether the failed host is under-assessment, so that its instances are force-stopped at once."""
    try:
        host = describe_host(retrying(ec2_client), host_id)
    except NotFoundError:
        raise NotFoundError(f"failed host {host_id} was not found; set force_stop_immediately to move its instances anyway",
                            host_id=host_id) from None
    return host.get("State") in UNREACHABLE_HOST_STATES


def recorded_plan(item: Optional[Dict[str, Any]], failed_host_id: str) -> List[Dict[str, Any]]:
    """The plan stored in the record (by replacement_host) as placements, by instance id.

    Each instance goes to its current target (``Plan``, which a move off a full host keeps in step) with preflight's
    settings for its move (``PlanPreflight``); its original state and type are the instance map's (see Migration).
    Raises InvalidInputError when the record holds no plan.
    """
    item = item or {}
    plan = item.get("Plan") or {}
    # PlanHosts is written with every plan, an empty one (nothing movable) too.
    if not plan and not item.get("PlanHosts"):
        raise InvalidInputError(f"the migration record of {failed_host_id} holds no plan: plan with replacement_host first "
                                "(outside check mode), or pass placements", host_id=failed_host_id)
    preflight = item.get("PlanPreflight") or {}
    return [dict(placement_settings(preflight.get(instance_id)), instance_id=instance_id, target_host_id=plan[instance_id])
            for instance_id in sorted(plan)]


def recorded_plan_hosts(item: Optional[Dict[str, Any]]) -> List[str]:
    """The hosts of the record's plan (targets, pool and allocated hosts, PlanHosts), and every target in its Plan.

    An instance whose target filled up may go to any of them: they are this failover's, claimed or allocated by it.
    """
    item = item or {}
    hosts = set(entry.get("hostId") for entry in item.get("PlanHosts") or [] if entry.get("role") != "failed")
    hosts.update((item.get("Plan") or {}).values())
    return sorted(host_id for host_id in hosts if host_id)


def select_instances(placements: List[Dict[str, Any]], instance_ids: Optional[List[str]]) -> List[Dict[str, Any]]:
    """The placements of ``instance_ids`` (all of them for None); an instance outside the plan is refused."""
    if instance_ids is None:
        return placements
    planned = set(placement["instance_id"] for placement in placements)
    unknown = [instance_id for instance_id in instance_ids if instance_id not in planned]
    if unknown:
        raise InvalidInputError(f"instance_ids not in the plan: {', '.join(unknown)}", instance_ids=unknown)
    wanted = set(instance_ids)
    return [placement for placement in placements if placement["instance_id"] in wanted]


def count_retry(record: MigrationRecord, placements: Iterable[Dict[str, Any]]) -> None:
    """A retry pass counts once more in each instance's retryCount."""
    migrations = (record.item or {}).get("InstanceMigrations", {})
    record.update_instances({
        placement["instance_id"]: {"retryCount": int(migrations.get(placement["instance_id"], {}).get("retryCount") or 0) + 1}
        for placement in placements
    })


def move_instances(ec2_client: Any, record: MigrationRecord, placements: Optional[List[Dict[str, Any]]] = None,
                   options: Optional[Dict[str, Any]] = None, ssm_client: Any = None, progress: Optional[Callable[[str], None]] = None,
                   check_mode: bool = False) -> Dict[str, Any]:
    """One instance_placement call: move the plan and return the module's result.

    The plan is ``placements`` when given, else the one stored in the record (``recorded_plan``); ``instance_ids`` in
    ``options`` narrows it to those instances (a retry of some). ``spare_host_ids`` left None are the hosts of the
    record's plan (``recorded_plan_hosts``). ``record`` is a MigrationRecord whose lease the caller took; it is renewed
    at once, so that this process's own monotonic deadline starts now (in check mode it is only read). ``options``
    takes the keys of DEFAULTS and MOVE_DEFAULTS; ``failed_host_id`` is required. ``force_stop_immediately`` left None
    is derived from the failed host's state (DescribeHosts; never for a failback). A placement's
    ``lift_stop_protection`` turns its stop protection off before the move and on again after it, whatever the
    outcome; its ``notes`` are returned with its result, with a note on the stop protection.

    SIGINT or SIGTERM during the move cancels it like a cancel request; ansible-playbook exits on the same signal, so
    no role is left to finish the record and this call finalizes it itself (``final_state``). Returns ``changed``,
    ``instances`` (per-instance results), ``summary``, ``force_stop_immediately``, ``cancel`` and ``final_state``.
    """
    options = dict(options or {})
    settings = {name: options.pop(name, default) for name, default in MOVE_DEFAULTS.items()}
    failed_host_id = validate_host_id(settings["failed_host_id"], what="failed_host_id")
    force_now = options.get("force_stop_immediately")
    if force_now is None:
        force_now = settings["record_kind"] != FAILBACK_RECORD and host_is_unreachable(ec2_client, failed_host_id)
    if check_mode:
        record.load()
    else:
        record.renew(lease_seconds=settings["lease_seconds"])
    if placements is None:
        placements = recorded_plan(record.item, failed_host_id)
    placements = select_instances(placements, settings["instance_ids"])
    if settings["retry"] and not check_mode:
        count_retry(record, placements)
    if options.get("spare_host_ids") is None:
        options["spare_host_ids"] = recorded_plan_hosts(record.item)
    options.update(force_stop_immediately=force_now, check_mode=check_mode)
    if options.get("request_budget_file") is None:
        options["request_budget_file"] = request_budget_file(ec2_client.meta.region_name)
    lifted = [placement["instance_id"] for placement in placements if placement.get("lift_stop_protection")]
    lift_errors, restore_errors, restored = {}, {}, []
    with SignalCancel() as interruption:
        if not check_mode:
            lift_errors = lift_stop_protection(ec2_client, record, lifted)
        try:
            results = migrate(ec2_client, record, placements, options, interrupted=interruption, progress=progress, ssm_client=ssm_client)
        finally:
            if not check_mode:
                restored, restore_errors = restore_stop_protection(ec2_client, record)
    cancel = None if check_mode else record.cancel_request()
    final_state = None
    if interruption.signal_name and not check_mode:
        # ansible-playbook and its worker exit on the same signal: no role is left to finish the record, so this
        # process does (state, TTL, lease released), once every instance it had begun to move is done.
        final_state = record.finalize()["State"]
    for result in results:
        if result["status"] == "pending" and not result["source_host_id"]:
            result["source_host_id"] = failed_host_id  # left where it is by a cancel, before it was read
    _note_stop_protection(results, placements, lifted, {**restore_errors, **lift_errors}, restored)
    return dict(
        changed=any(result["changed"] for result in results),
        instances=results,
        summary=summarize(results),
        force_stop_immediately=force_now,
        cancel=camel_dict_to_snake_dict(cancel) if cancel else None,
        final_state=final_state,
    )


def _note_stop_protection(results, placements, lifted, errors, restored):
    """Each result gets its placement's notes, and a note on its stop protection when it was lifted."""
    notes = {placement["instance_id"]: placement.get("notes") or [] for placement in placements}
    for result in results:
        instance_id = result["instance_id"]
        result["notes"] = list(notes.get(instance_id) or [])
        if instance_id in errors:
            result["notes"].append(f"stop protection could not be changed: {errors[instance_id]}")
        elif instance_id in (restored or []):
            result["notes"].append("stop protection was lifted for the move and restored")
        elif restored is None and instance_id in lifted:
            result["notes"].append("stop protection is left lifted for the run that holds the lease, which restores it")
