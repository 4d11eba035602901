# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What happens to the hosts after a failover: ``settle_failover`` (class Settlement).

The failed host is tagged with the outcome (and released when asked and empty), claimed hosts that received
instances leave the pool, unused claims go back and, when asked, spares replace the pool hosts consumed. Not
here: host facts (hosts.py), the plan (planner.py), releasing hosts no failover uses any more (cleanup.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import Mapping
from typing import Optional

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import claims
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import aws_errors
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.capacity import host_family
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import AwsApiError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import ALLOCATION_CAPACITY_CODES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import CLIENT_TOKEN_MAX
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import DEFAULT_RESERVED_TAGS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import FAILOVER_TAG
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import RELEASED_STATES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import allocation_tags
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import allocation_time
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import cost_allocation_tags
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import describe_host
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import describe_hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import host_options
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import hosts_for_tokens
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import instances_on
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import matches_tags
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import quota_name
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import release_refusals
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import tag_dict
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import final_state
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import generation
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import iso_time

OUTCOME_TAGS = ("FailoverOutcome", "FailoverRunId", "FailoverAt")
# An instance whose placement was changed is on its target host, whatever happened after.
RECEIVED_PHASES = ("placed", "starting", "running", "verified")
SETTLE_DEFAULTS = dict(
    reserved_tags=DEFAULT_RESERVED_TAGS,
    allocate_hosts=default_of("allocate_hosts"),
    max_new_hosts=default_of("max_new_hosts"),
    release_failed_host=default_of("release_failed_host"),
    replenish_pool=default_of("replenish_pool"),
)


# Result keys of a spare and the record's names for them.
SPARE_FIELDS = (("host_id", "hostId"), ("replaces", "replaces"), ("client_token", "clientToken"), ("allocation_time", "allocationTime"))


def spare_client_token(failed_host_id: str, version: int, pool_host_id: str) -> str:
    """The AllocateHosts ClientToken of the spare that replaces ``pool_host_id`` (``spare-<failed>-v<n>-<pool host>``)."""
    return f"spare-{failed_host_id}-v{version}-{pool_host_id}"[:CLIENT_TOKEN_MAX]


def spare_config(pool_host: Mapping[str, Any]) -> Dict[str, Any]:
    """AllocateHosts parameters for a spare like ``pool_host``: same zone, family (or single type) and settings."""
    properties = pool_host.get("HostProperties") or {}
    if pool_host.get("AllowsMultipleInstanceTypes") == "off" and properties.get("InstanceType"):
        config = {"InstanceType": properties["InstanceType"]}
    else:
        config = {"InstanceFamily": host_family(pool_host)}
    config.update(AvailabilityZone=pool_host["AvailabilityZone"], AutoPlacement="off")
    for field in ("HostRecovery", "HostMaintenance"):
        if pool_host.get(field) in ("on", "off"):
            config[field] = pool_host[field]
    return config


class Settlement(object):
    """What happens to the hosts after a failover (``settle()``); every change is fenced by the run's lease.

    * the failed host is tagged with the outcome (FailoverOutcome, FailoverRunId, FailoverAt);
    * with ``release_failed_host`` it is released when nothing is left on it, running or stopped (a reserved host
      cannot be released before its term ends: reported, never an error);
    * claimed hosts that received instances lose the pool tags (each ``reserved_tags`` key whose value is the pool
      value; a named target's Role=App stays) and carry FailoverFor;
      their claims stay (they record which failover took the host);
    * claims on hosts that received nothing go back to the pool (the claim is deleted, the host's tags are left);
    * with ``replenish_pool``, one spare per pool host consumed, within what ``max_new_hosts`` leaves, each allocated
      once (ClientToken stored in the record's ``Settlement`` before AllocateHosts is called).

    A failover that stopped before it had a plan (bad input, no capacity) has nothing to settle: the planner already
    gave its claims back, and the failed host is not tagged. In check mode nothing changes; with ``planned`` (the plan
    of a check-mode run) it previews the settlement of that plan as if every instance moved.
    """

    def __init__(self, ec2: Any, dynamodb: Any, table: str, failed_host_id: str, record: Any = None, run_id: Optional[str] = None,
                 check_mode: bool = False, failover_error: Optional[str] = None, planned: Optional[Mapping[str, Any]] = None,
                 wall_clock: Callable[[], float] = time.time, **options: Any) -> None:
        self.ec2 = retrying(ec2)
        self.dynamodb = retrying(dynamodb)
        self.table = table
        self.failed_host_id = validate_host_id(failed_host_id, what="failed_host_id")
        self.record = record
        self.run_id = run_id
        self.check_mode = check_mode
        self.failover_error = failover_error or None
        self.planned = planned
        self.wall_clock = wall_clock
        self.options, self.reserved_tags = host_options(SETTLE_DEFAULTS, options)
        if not check_mode:
            if record is None or not run_id:
                raise InvalidInputError("a run id and the migration record are required outside check mode")
            record.fence_client(self.ec2)  # fence every attempt of CreateTags, DeleteTags, ReleaseHosts and AllocateHosts
            self.item = record.item or {}
        else:
            self.item = get_record(self.dynamodb, table, self.failed_host_id) or {}
        self.changed = False
        self.lines = []
        self.notes = []

    def _guard(self):
        """Right before a change: renew the lease if due, then make sure this run still holds it."""
        self.record.heartbeat()
        self.record.fence()

    def _tag_host(self, method, operation, host_id, **params):
        """One tagging call on one host, its error reported with the operation and the host."""
        with aws_errors(operation, f"{operation} on {host_id} failed"):
            return getattr(self.ec2, method)(aws_retry=True, Resources=[host_id], **params)

    def _say(self, done, to_do):
        """One line of what the settlement did (or, in check mode, would do)."""
        self.lines.append(("would " + to_do) if self.check_mode else done)

    # ------------------------------------------------------------------ what happened

    def _outcome(self):
        if self.planned is not None:
            return "succeeded"  # the preview assumes every planned instance moves
        if self.record is not None:
            state = self.record.preview_finalize(error_details=self.failover_error)
        else:
            state = "failed" if self.failover_error else final_state(self.item.get("InstanceMigrations") or {})
        return "succeeded" if state == "complete" else "failed"

    def _received(self):
        """Host ids that received at least one instance of the failed host."""
        if self.planned is not None:
            return set(entry["target_host_id"] for entry in self.planned.get("placements") or [])
        return set(entry.get("targetHostId") for entry in (self.item.get("InstanceMigrations") or {}).values()
                   if entry.get("targetHostId") and (entry.get("phase") in RECEIVED_PHASES or entry.get("status") == "success"))

    def _held(self):
        held = set(claims.claims_for(self.dynamodb, self.table, self.failed_host_id, claim_generation=generation(self.item)))
        if self.planned is not None:
            held |= set(self.planned.get("target_host_ids") or []) | set(self.planned.get("pool_host_ids") or [])
        return held

    # ------------------------------------------------------------------ steps

    def _tag_outcome(self, outcome):
        wanted = {"FailoverOutcome": outcome, "FailoverRunId": str(self.run_id or "check-mode"),
                  "FailoverAt": iso_time(self.wall_clock())}
        tags = tag_dict(self.host)
        if self.host.get("State") in RELEASED_STATES:
            self.notes.append(f"the failed host {self.failed_host_id} is {self.host['State']}: not tagged")
            return {}
        if tags.get("FailoverOutcome") == outcome and tags.get("FailoverRunId") == wanted["FailoverRunId"]:
            return dict((key, tags.get(key)) for key in OUTCOME_TAGS)
        self._say(f"failed host {self.failed_host_id} tagged FailoverOutcome={outcome}",
                  f"tag the failed host {self.failed_host_id} FailoverOutcome={outcome}")
        if not self.check_mode:
            self._guard()
            self._tag_host("create_tags", "CreateTags", self.failed_host_id, Tags=[{"Key": key, "Value": wanted[key]} for key in OUTCOME_TAGS])
            self.changed = True
        return wanted

    def _retag(self, hosts):
        """Claimed hosts that received instances: no longer spare (pool tags removed), FailoverFor set."""
        retagged = []
        for host in hosts:
            host_id = host["HostId"]
            tags = tag_dict(host)
            # Only a pool tag with its pool value goes: the same key with another value is the operator's (Role=App).
            pool_keys = sorted(key for key, value in self.reserved_tags.items() if tags.get(key) == value)
            needs_mark = tags.get(FAILOVER_TAG) != self.failed_host_id
            if not pool_keys and not needs_mark:
                continue
            retagged.append(host_id)
            change = f"{host_id} out of the pool (tags removed: {', '.join(pool_keys) or 'none'}), tagged {FAILOVER_TAG}={self.failed_host_id}"
            self._say("host " + change, "take host " + change)
            if self.check_mode:
                continue
            self._guard()
            for key in pool_keys:  # one key a call, with its value: EC2 deletes it only if the value still matches
                self._tag_host("delete_tags", "DeleteTags", host_id, Tags=[{"Key": key, "Value": self.reserved_tags[key]}])
            if needs_mark:
                self._tag_host("create_tags", "CreateTags", host_id, Tags=[{"Key": FAILOVER_TAG, "Value": self.failed_host_id}])
            self.changed = True
        return retagged

    def _return_claims(self, host_ids):
        for host_id in host_ids:
            self._say(f"unused claim on {host_id} returned to the pool", f"return the unused claim on {host_id} to the pool")
            if not self.check_mode:
                self._guard()
                if claims.release_claim(self.dynamodb, self.table, host_id, self.failed_host_id, self.run_id):
                    self.changed = True
        return list(host_ids)

    def _release_failed_host(self):
        """Release the failed host when asked and when nothing is left on it; (released, why not)."""
        if not self.options["release_failed_host"]:
            return False, "release_failed_host is false"
        if self.host.get("State") in RELEASED_STATES:
            return False, f"it is already {self.host['State']}"
        left = instances_on(self.ec2, [self.failed_host_id])[self.failed_host_id]
        if self.planned is not None:
            moving = set(entry["instance_id"] for entry in self.planned.get("placements") or [])
            left = [instance_id for instance_id in left if instance_id not in moving]
        if left:
            return False, f"{len(left)} instance(s) are still on it (running or stopped): {', '.join(sorted(left))}"
        if self.host.get("HostReservationId"):
            return False, (f"it holds the reservation {self.host['HostReservationId']}: a reserved host cannot be released before the reservation term "
                           "ends")
        self._say(f"failed host {self.failed_host_id} released", f"release the failed host {self.failed_host_id}")
        if self.check_mode:
            return True, None
        self._guard()
        try:
            with aws_errors("ReleaseHosts"):
                response = self.ec2.release_hosts(aws_retry=True, HostIds=[self.failed_host_id])
        except AwsApiError as error:
            return False, f"ReleaseHosts refused it: {error.code}"
        refused = release_refusals(response)
        if self.failed_host_id in refused:
            return False, f"ReleaseHosts refused it: {refused[self.failed_host_id]}"
        self.changed = True
        return True, None

    def _replenish(self, consumed, described, settlement):
        """One spare per consumed pool host, within what max_new_hosts leaves; returns the spare entries."""
        spares = dict((entry["replaces"], dict(entry)) for entry in settlement.get("spares") or [])
        if not self.options["replenish_pool"] or not consumed:
            return [spares[key] for key in sorted(spares)]
        if self.planned is not None:
            allocated = len(self.planned.get("allocated_host_ids") or [])
        else:
            allocated = len(self.item.get("AllocatedHosts") or [])
        budget = max(int(self.options["max_new_hosts"]) - allocated, 0) if self.options["allocate_hosts"] else 0
        version = int(self.item.get("PlanVersion") or 0) or 1
        for index, pool_id in enumerate(sorted(consumed)):
            if pool_id in spares and spares[pool_id].get("hostId"):
                continue
            if index >= budget:
                why = "allocate_hosts is false" if not self.options["allocate_hosts"] else (
                    f"max_new_hosts ({int(self.options['max_new_hosts'])}) is used up by the {allocated} host(s) this failover allocated")
                self.notes.append(f"pool host {pool_id} not replenished: {why}")
                continue
            entry = spares.setdefault(pool_id, {"replaces": pool_id, "clientToken": spare_client_token(self.failed_host_id, version, pool_id)})
            if self.check_mode:
                self._say("", f"allocate a spare for the pool in place of {pool_id}")
                continue
            found = hosts_for_tokens(self.ec2, [entry["clientToken"]])
            if not found:
                self.record.set_fields(Settlement=dict(settlement, spares=[spares[key] for key in sorted(spares)]))
                found = self._allocate_spare(described[pool_id], entry["clientToken"])
            if found:
                entry.update(hostId=found[0]["HostId"], allocationTime=allocation_time(found[0]))
        return [spares[key] for key in sorted(spares)]

    def _allocate_spare(self, pool_host, token):
        tags = ([{"Key": key, "Value": value} for key, value in sorted(self.reserved_tags.items())]
                + cost_allocation_tags(pool_host, self.reserved_tags) + allocation_tags(self.failed_host_id))
        params = dict(spare_config(pool_host), Quantity=1, ClientToken=token,
                      TagSpecifications=[{"ResourceType": "dedicated-host", "Tags": tags}])
        self._guard()
        try:
            with aws_errors("AllocateHosts", f"allocating a spare in place of {pool_host['HostId']} failed"):
                host_ids = self.ec2.allocate_hosts(aws_retry=True, **params).get("HostIds") or []
        except AwsApiError as error:
            if error.code not in ALLOCATION_CAPACITY_CODES:
                raise
            self.notes.append(f"no spare allocated in place of {pool_host['HostId']}: {error.code}; raise the Service Quotas "
                              f"quota '{quota_name(host_family(pool_host))}' (Amazon EC2) or retry later")
            return []
        self.changed = True
        return describe_hosts(self.ec2, host_ids=host_ids) if host_ids else []

    # ------------------------------------------------------------------ run

    def run(self) -> Dict[str, Any]:
        self.host = describe_host(self.ec2, self.failed_host_id)
        attempted = self.planned is not None or bool(self.item.get("Plan")) or bool(self.item.get("InstanceMigrations"))
        if not attempted:
            self.notes.append("the failover stopped before it had a plan: nothing to settle")
            return self._result(None, {}, [], [], [], (False, "the failover never had a plan"), [])
        outcome = self._outcome()
        received = self._received()
        held = self._held()
        settlement = dict(self.item.get("Settlement") or {})
        used = sorted(held & received)
        described = dict((host["HostId"], host) for host in describe_hosts(self.ec2, host_ids=used)) if used else {}
        consumed = set(settlement.get("consumedPoolHostIds") or []) | set(
            host_id for host_id, host in described.items() if self.reserved_tags and matches_tags(host, self.reserved_tags))
        for host_id in sorted(consumed - set(described)):  # consumed by an earlier settle of this failover
            described[host_id] = describe_host(self.ec2, host_id)
        tags = self._tag_outcome(outcome)
        retagged = self._retag([described[host_id] for host_id in used])
        returned = self._return_claims(sorted(held - received))
        released = self._release_failed_host()
        settlement.update(consumedPoolHostIds=sorted(consumed))
        spares = self._replenish(consumed, described, settlement)
        for entry in self.item.get("AllocatedHosts") or []:
            self.lines.append(f"new host {entry.get('hostId')} allocated at {entry.get('allocationTime')} for this failover")
        for spare in spares:
            if spare.get("hostId") and not self.check_mode:
                self.lines.append(f"spare {spare['hostId']} allocated at {spare.get('allocationTime')} in place of {spare['replaces']}")
        return self._result(outcome, tags, retagged, returned, sorted(consumed), released, spares, settlement)

    def _result(self, outcome, tags, retagged, returned, consumed, released, spares, settlement=None):
        released_now, why_not = released
        if not released_now and outcome is not None and self.options["release_failed_host"]:
            self.lines.append(f"failed host {self.failed_host_id} not released: {why_not}")
        before = settlement or {}
        released_ever = (bool(released_now) and not self.check_mode) or bool(before.get("failedHostReleased"))
        summary = {
            "outcome": outcome,
            "runId": self.run_id,
            "consumedPoolHostIds": consumed,
            # What earlier settlements of this failover did stays recorded: a rerun that finds nothing left to do
            # writes nothing.
            "retaggedHostIds": sorted(set(retagged) | set(before.get("retaggedHostIds") or [])),
            "returnedClaimHostIds": sorted(set(returned) | set(before.get("returnedClaimHostIds") or [])),
            "failedHostReleased": released_ever,
            "failedHostNotReleased": None if released_ever else why_not,
            "spares": spares,
            "notes": self.notes,
        }
        if settlement is not None and not self.check_mode:
            stored = dict(settlement, **summary)
            if stored != self.item.get("Settlement"):
                self.record.set_fields(Settlement=stored)
                self.changed = True
        return {
            "changed": self.changed,
            "settlement": {
                "outcome": outcome,
                "failed_host": {"host_id": self.failed_host_id, "outcome_tags": tags, "released": summary["failedHostReleased"],
                                "not_released_because": why_not,
                                "reservation_id": self.host.get("HostReservationId")},
                "consumed_pool_host_ids": consumed,
                "retagged_host_ids": retagged,
                "returned_claim_host_ids": returned,
                "spares": [dict((key, spare.get(name)) for key, name in SPARE_FIELDS) for spare in spares],
                "lines": self.lines + self.notes,
                "notes": self.notes,
            },
        }


def settle_failover(ec2: Any, dynamodb: Any, table: str, failed_host_id: str, record: Any = None, run_id: Optional[str] = None,
                    check_mode: bool = False, failover_error: Optional[str] = None, planned: Optional[Mapping[str, Any]] = None,
                    wall_clock: Callable[[], float] = time.time, **options: Any) -> Dict[str, Any]:
    """Settle the hosts after the failover of ``failed_host_id`` (class Settlement); ``record`` holds the lease of ``run_id``.

    ``options``: reserved_tags, allocate_hosts, max_new_hosts, release_failed_host, replenish_pool.
    Returns ``{"changed", "settlement"}``.
    """
    return Settlement(ec2, dynamodb, table, failed_host_id, record=record, run_id=run_id, check_mode=check_mode,
                      failover_error=failover_error, planned=planned, wall_clock=wall_clock, **options).run()
