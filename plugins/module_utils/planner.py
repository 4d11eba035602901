# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The placement plan of one failover: where every instance of the failed host goes, and the capacity it needs.

``plan_replacement`` reads the failed host and its instances, finds the pool hosts (available, same AZ,
carrying the reserved tags), packs the movable instances with the capacity model (pool hosts first),
claims the pool hosts it uses (conditional writes in the migration table), allocates what the pool lacks
with an idempotent AllocateHosts and stores the plan in the record. A rerun for the same failed host
returns the stored plan while it is still valid. If not every movable instance has a place, it raises
CapacityError before anything is claimed, allocated or stopped. In check mode it makes no
state-changing call and reports what it would allocate. Not here: host facts (hosts.py), the instance
preflight rules (preflight.py), what happens to the hosts after the failover (settlement.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import Iterable
from typing import Optional

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import capacity
from ansible_collections.dedicated_hosts.failover.plugins.module_utils import claims
from ansible_collections.dedicated_hosts.failover.plugins.module_utils import preflight
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import aws_errors
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.capacity import host_family
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import AwsApiError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import CapacityError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import is_maintenance_replacement
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import settings_before_failover
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import turn_off_host_recovery
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import wait_until_available
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import ALLOCATION_CAPACITY_CODES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import DEFAULT_RESERVED_TAGS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import FAILOVER_TAG
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import allocation_tags
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import allocation_time
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import client_token
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import cost_allocation_tags
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import describe_failed_host
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import describe_host_instances
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import describe_hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import find_pool_hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import host_entry
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import host_options
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import hosts_for_tokens
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import hourly_prices
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import matches_tags
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import quota_name
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import tag_dict
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_instance_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.preflight import original_state
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import generation
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import plan_preflight_entry

MAX_VERSION_BUMPS = 3
# The allocation retry delay doubles after each attempt up to this; a wait is slept in slices with the lease renewed.
MAX_ALLOCATION_RETRY_WAIT = 300.0
WAIT_SLICE_SECONDS = 10.0
# Where the packing puts instances first: hosts the operator named, then pool hosts, then the rest (capacity.pack).
TARGET_SOURCE = "target"
CLAIMED_SOURCES = (TARGET_SOURCE, "pool")
DEFAULTS = dict(
    reserved_tags=DEFAULT_RESERVED_TAGS,
    allocate_hosts=default_of("allocate_hosts"),
    max_new_hosts=default_of("max_new_hosts"),
    allocation_attempts=default_of("allocation_attempts"),
    allocation_retry_delay=default_of("allocation_retry_delay"),
    target_host_ids=default_of("target_host_ids"),
    host_hourly_prices=default_of("host_hourly_prices"),
)


def _usable(host, availability_zone, allocated=False):
    """A host that can take instances: available, in the zone (a host allocated for the failover may still be pending)."""
    states = ("available", "pending") if allocated else ("available",)
    return host.get("State") in states and host.get("AvailabilityZone") == availability_zone


class ReplacementPlanner(object):
    """One planning run for one failed host; ``run()`` returns ``{"changed", "plan", ...}``."""

    def __init__(self, ec2: Any, dynamodb: Any, table: str, failed_host_id: str, record: Any = None, run_id: Optional[str] = None,
                 instance_ids: Optional[Iterable[str]] = None, check_mode: bool = False, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic, **options: Any) -> None:
        self.ec2 = retrying(ec2)
        self.dynamodb = retrying(dynamodb) if dynamodb is not None else None
        self.table = table
        self.failed_host_id = validate_host_id(failed_host_id, what="failed_host_id")
        self.instance_ids = None
        if instance_ids is not None:
            self.instance_ids = [validate_instance_id(value, what="instances item") for value in instance_ids]
        self.record = record
        self.run_id = run_id
        self.check_mode = check_mode
        if not check_mode and record is not None:
            record.fence_client(self.ec2)  # fence every attempt of AllocateHosts and CreateTags, retries included
        self.sleep = sleep
        self.monotonic = monotonic
        self.options, self.reserved_tags = host_options(DEFAULTS, options)
        self.target_host_ids = []
        for value in self.options["target_host_ids"] or []:
            value = validate_host_id(value, what="target_host_ids item")
            if value not in self.target_host_ids:
                self.target_host_ids.append(value)
        self.prices = hourly_prices(self.options["host_hourly_prices"])
        self.preflight_allow = preflight.check_allow(self.options.get("preflight_allow"))
        self.preflight_options = dict(preflight.DEFAULTS, settle_interval=5.0)
        self.preflight_options.update((key, self.options[key]) for key in self.preflight_options if key in self.options)
        self.preflight_notes = {}
        self.instance_facts = {}
        if not check_mode and (record is None or not run_id):
            raise InvalidInputError("a run id and the migration record are required outside check mode")
        self.changed = False
        self.notes = []
        self._item = None
        if record is None and self.dynamodb is not None:
            # Check mode without a run: read the record, if any, for a stored plan.
            self._item = get_record(self.dynamodb, table, self.failed_host_id)

    # ------------------------------------------------------------------ reading

    @property
    def item(self) -> Dict[str, Any]:
        if self.record is not None:
            return self.record.item or {}
        return self._item or {}

    def _read_source(self):
        self.host = describe_failed_host(self.ec2, self.failed_host_id)
        self.availability_zone = self.host.get("AvailabilityZone")
        # Preflight: instances still pending, stopping or shutting-down are waited for, then classified; those an
        # earlier run of this failover is already moving are not (the migration picks them up where they are).
        in_progress = set(instance_id for instance_id, entry in (self.item.get("InstanceMigrations") or {}).items()
                          if (entry or {}).get("status") not in (None, "skipped", "success"))
        instances = preflight.wait_until_settled(
            self._describe_source_instances, self.preflight_options["settle_timeout"],
            interval=self.preflight_options["settle_interval"], sleep=self.sleep, monotonic=self.monotonic, ignore=in_progress)
        instances = sorted(instances, key=lambda entry: entry["InstanceId"])
        # The host-id filter also matches stopped instances that target the host; keep exactly those on it.
        self.on_host = dict(
            (entry["InstanceId"], entry) for entry in instances
            if (entry.get("Placement") or {}).get("HostId") in (None, self.failed_host_id)
        )
        self.instance_facts = preflight.gather_facts(self.ec2, list(self.on_host.values()))
        for instance_id in in_progress & set(self.instance_facts):
            self.instance_facts[instance_id]["in_progress"] = True
        recorded = self.item.get("InstanceMigrations") or {}
        stored_plan = self.item.get("Plan") or {}
        if self.instance_ids is not None:
            unknown = [value for value in self.instance_ids if value not in self.on_host and value not in stored_plan]
            if unknown:
                raise InvalidInputError(
                    f"instances not on Dedicated Host {self.failed_host_id}: {', '.join(unknown)}",
                    instance_ids=unknown,
                )
            wanted = set(self.instance_ids)
        else:
            wanted = set(self.on_host) | set(stored_plan)
        self.movable = {}
        self.skipped = []
        for instance_id in sorted(wanted):
            instance = self.on_host.get(instance_id)
            if instance is None:
                continue  # moved by an earlier run of this plan
            verdict = preflight.classify(instance, facts=self.instance_facts.get(instance_id), allow=self.preflight_allow,
                                         options=self.preflight_options)
            if not verdict["movable"]:
                self.skipped.append({"instance_id": instance_id, "instance_type": instance.get("InstanceType"),
                                     "reason": verdict["reason"], "rule": verdict["rule"]})
                continue
            entry = recorded.get(instance_id) or {}
            state = entry.get("originalState")
            if not state and entry and entry.get("status") != "pending":
                # A reference-system entry: it had begun to move this instance, and it moved only running ones.
                state = "running"
                verdict["notes"].append("original state unknown (a reference-system record): treated as running, "
                                        "the only state the reference system moved")
            state = state or original_state(instance)
            self.movable[instance_id] = {
                "instance_id": instance_id,
                "instance_type": instance.get("InstanceType"),
                "original_state": state,
            }
            self.preflight_notes[instance_id] = dict(verdict["overrides"], notes=verdict["notes"],
                                                     lift_stop_protection=verdict["lift_stop_protection"])
        # Instances of the stored plan no longer on the failed host were moved already; they keep their target.
        self.moved = {}
        for instance_id, target in stored_plan.items():
            if instance_id in wanted and instance_id not in self.on_host and instance_id in recorded:
                entry = recorded[instance_id]
                self.moved[instance_id] = {
                    "instance_id": instance_id,
                    "instance_type": entry.get("instanceType"),
                    "original_state": entry.get("originalState"),
                    "target_host_id": target,
                }

    def _describe_source_instances(self):
        """The failed host's instances; renews the lease when due, since the settle wait can outlast it."""
        if not self.check_mode:
            self.record.heartbeat()
        return describe_host_instances(self.ec2, [self.failed_host_id])

    def _allocated_ids(self):
        return [entry.get("hostId") for entry in self.item.get("AllocatedHosts") or [] if entry.get("hostId")]

    def _source_of(self, host_id):
        """``allocated``, ``target`` (named by the operator) or ``pool``: where a host of a stored plan came from."""
        if host_id in self._allocated_ids():
            return "allocated"
        return TARGET_SOURCE if host_id in self.target_host_ids else "pool"

    def _check_targets(self):
        """The hosts of ``target_host_ids`` by id, once each is known to be usable; InvalidInputError before any change."""
        if not self.target_host_ids:
            return {}
        try:
            found = dict((host["HostId"], host) for host in describe_hosts(self.ec2, host_ids=self.target_host_ids))
        except NotFoundError as error:
            raise InvalidInputError(f"target_host_ids: {error.message}; nothing was changed", target_host_ids=self.target_host_ids)
        found = self._await_aws_replacements(found)
        family = host_family(self.host)
        problems = []
        for host_id in self.target_host_ids:
            host = found[host_id]
            if host_id == self.failed_host_id:
                problems.append(f"{host_id} is the failed host itself")
            elif host.get("AvailabilityZone") != self.availability_zone:
                problems.append(f"{host_id} is in {host.get('AvailabilityZone')}, not in the failed host's zone {self.availability_zone}")
            elif host.get("State") == "pending" and is_maintenance_replacement(self.host, host):
                settle_timeout = float(self.preflight_options["settle_timeout"])
                problems.append(f"{host_id}, the replacement AWS host maintenance allocated, was still pending after {settle_timeout:g}s (settle_timeout)")
            elif host.get("State") != "available":
                problems.append(f"{host_id} is {host.get('State')}, not available")
            elif host_family(host) != family:
                problems.append(f"{host_id} is a {host_family(host)} host; the failed host's instances are {family}")
            else:
                holder = claims.claimed_by(self.dynamodb, self.table, host_id) if self.dynamodb is not None else None
                if holder not in (None, self.failed_host_id):
                    problems.append(f"{host_id} is claimed by the failover of {holder}")
        if problems:
            raise InvalidInputError(f"target_host_ids refused, nothing was changed: {'; '.join(problems)}",
                                    target_host_ids=self.target_host_ids)
        return found

    def _await_aws_replacements(self, found):
        """Named targets that AWS host maintenance allocated for the failed host and that are still ``pending``, waited
        for until they are available (at most ``settle_timeout``, the lease renewed meanwhile); check mode takes them
        as they will be."""
        waiting = sorted(host_id for host_id, host in found.items()
                         if host.get("State") == "pending" and is_maintenance_replacement(self.host, host))
        if not waiting:
            return found
        if self.check_mode:
            self.notes.append(f"would wait for {', '.join(waiting)} (allocated by AWS host maintenance, pending) to become available")
            return dict(found, **dict((host_id, dict(found[host_id], State="available")) for host_id in waiting))
        ready = wait_until_available(lambda host_ids: describe_hosts(self.ec2, host_ids=host_ids), waiting,
                                     self.preflight_options["settle_timeout"], interval=self.preflight_options["settle_interval"],
                                     sleep=self.sleep, on_wait=self.record.heartbeat)
        self.notes.extend(f"waited for {host_id} (allocated by AWS host maintenance) to become available"
                          for host_id in waiting if ready[host_id].get("State") == "available")
        return dict(found, **ready)

    # ------------------------------------------------------------------ stored plan

    def _stored_plan(self):
        """The stored plan as placements when it still places every movable instance, else None."""
        stored = self.item.get("Plan") or {}
        if not stored or any(instance_id not in stored for instance_id in self.movable):
            return None
        pending = dict((instance_id, stored[instance_id]) for instance_id in self.movable)
        targets = sorted(set(pending.values()))
        hosts = self._describe(targets)
        allocated = set(self._allocated_ids())
        for target in targets:
            host = hosts.get(target)
            if host is None or not _usable(host, self.availability_zone, allocated=target in allocated):
                self.notes.append(f"stored plan dropped: host {target} is no longer available in {self.availability_zone}")
                return None
            room = capacity.host_capacity(host)
            for instance_id in sorted(pending):
                if pending[instance_id] != target:
                    continue
                reason = room.why_not(self.movable[instance_id]["instance_type"])
                if reason:
                    self.notes.append(f"stored plan dropped: {instance_id} no longer fits: {reason}")
                    return None
                room.place(self.movable[instance_id]["instance_type"])
        placements = []
        for instance_id, entry in self.movable.items():
            target = pending[instance_id]
            placements.append(dict(entry, target_host_id=target, target_source=self._source_of(target)))
        return placements

    # ------------------------------------------------------------------ packing

    def _describe(self, host_ids):
        """DescribeHosts entries by id (one call), remembered for tagging."""
        if not host_ids:
            return {}
        hosts = dict((host["HostId"], host) for host in describe_hosts(self.ec2, host_ids=sorted(host_ids)))
        self.described.update(hosts)
        return hosts

    def _candidates(self, pool, held, found, named):
        """``{host id: (DescribeHosts entry, source)}`` of every host this failover may use.

        The hosts the operator named (``named``), pool hosts, hosts it already claimed (even if their pool
        tags changed since) and hosts already allocated for it (recorded, or found by the ClientToken after a crash).
        """
        allocated_ids = set(self._allocated_ids()) | set(host["HostId"] for host in found)
        by_id = {}
        for host in pool:
            self.described[host["HostId"]] = host
            by_id[host["HostId"]] = (host, "pool")
        for host_id, host in named.items():
            self.described[host_id] = host
            by_id[host_id] = (host, TARGET_SOURCE)
        extra = (set(held) | allocated_ids) - set(by_id) - {self.failed_host_id}
        for host_id, host in self._describe(extra).items():
            if _usable(host, self.availability_zone, allocated=host_id in allocated_ids):
                by_id[host_id] = (host, "allocated" if host_id in allocated_ids else "pool")
        return by_id

    def _pack(self, candidates, excluded):
        allocate = bool(self.options["allocate_hosts"])
        max_new = int(self.options["max_new_hosts"]) if allocate else 0
        reason = None
        if not allocate:
            reason = "allocate_hosts is false"
        elif max_new == 0:
            reason = "max_new_hosts is 0"
        hosts = [capacity.host_capacity(host, source=source)
                 for host_id, (host, source) in sorted(candidates.items()) if host_id not in excluded]
        return capacity.pack(list(self.movable.values()), hosts, max_new_hosts=max_new, no_new_hosts_reason=reason,
                             template=self.host)

    def _claim(self, result, held, excluded):
        """Claim the pool hosts the packing used; False when one is taken by another failover (it is excluded)."""
        used = sorted(set(item["target_host_id"] for item in result["placements"] if item["target_source"] in CLAIMED_SOURCES))
        for host_id in used:
            if host_id in held:
                continue
            # A stale claim (its failover is over) is taken over only on a host the operator put back in the pool.
            in_pool = host_id in self.described and matches_tags(self.described[host_id], self.reserved_tags)
            if self.check_mode:
                ok = claims.claimable(self.dynamodb, self.table, host_id, self.failed_host_id, take_stale=in_pool)
            else:
                ok = claims.claim_pool_host(self.dynamodb, self.table, host_id, self.failed_host_id, self.run_id,
                                            claim_generation=generation(self.item), take_stale=in_pool)
            if not ok:
                self.notes.append(f"pool host {host_id} is claimed by another failover; not used")
                excluded.add(host_id)
                return False
            if not self.check_mode:
                held.add(host_id)
                self.new_claims.append(host_id)
                self.changed = True
        return True

    def _release_new_claims(self):
        for host_id in self.new_claims:
            claims.release_claim(self.dynamodb, self.table, host_id, self.failed_host_id, self.run_id)
        self.new_claims = []

    # ------------------------------------------------------------------ allocation

    def _used_tokens(self):
        """Every AllocateHosts ClientToken this failover has stored, across plan versions.

        Records written before the list existed have only ``AllocationClientToken``: the tokens of that version.
        """
        tokens = set(self.item.get("AllocationClientTokens") or [])
        if self.item.get("AllocationClientToken"):
            version = int(self.item.get("PlanVersion") or 0) or 1
            tokens.update(client_token(self.failed_host_id, version, index)
                          for index in range(max(int(self.options["max_new_hosts"]), 1)))
        return sorted(tokens)

    def _allocate(self, groups, version, tags):
        """AllocateHosts for each group ``(config, quantity)``; returns (host id lists per group, version)."""
        bumps = 0
        while True:
            base = client_token(self.failed_host_id, version)
            # Every token is kept, not only this version's, so that a rerun finds what any earlier attempt allocated.
            tokens = set(self.item.get("AllocationClientTokens") or []) | set(
                client_token(self.failed_host_id, version, index) for index in range(len(groups)))
            self.record.set_fields(AllocationClientToken=base, PlanVersion=version, AllocationClientTokens=sorted(tokens))
            try:
                ids = [self._allocate_group(config, quantity, client_token(self.failed_host_id, version, index), tags)
                       for index, (config, quantity) in enumerate(groups)]
                return ids, version
            except _ParameterMismatch:
                bumps += 1
                if bumps > MAX_VERSION_BUMPS:
                    raise CapacityError(
                        f"AllocateHosts kept answering IdempotentParameterMismatch for plan versions up to {version}",
                        failed_host_id=self.failed_host_id,
                    )
                version += 1

    def _allocate_group(self, config, quantity, token, tags):
        params = dict(config)
        params.update(
            AvailabilityZone=self.availability_zone,
            Quantity=quantity,
            AutoPlacement="off",
            ClientToken=token,
            TagSpecifications=[{"ResourceType": "dedicated-host", "Tags": tags}],
        )
        settings = settings_before_failover(self.host, self.item)  # the failover may have turned recovery off
        for field in ("HostRecovery", "HostMaintenance"):
            if settings.get(field) in ("on", "off"):
                params[field] = settings[field]
        attempts = max(int(self.options["allocation_attempts"]), 1)
        delay = float(self.options["allocation_retry_delay"])
        for attempt in range(attempts):
            self.record.heartbeat()  # planning can take long on a slow API: renew if due, then fence
            self.record.fence()
            try:
                with aws_errors("AllocateHosts", f"allocating {quantity:d} Dedicated Host(s) failed"):
                    response = self.ec2.allocate_hosts(aws_retry=True, **params)
            except AwsApiError as error:
                if error.code == "IdempotentParameterMismatch":
                    raise _ParameterMismatch()
                if error.code in ALLOCATION_CAPACITY_CODES and attempt + 1 < attempts:
                    self._wait(min(delay * (2 ** attempt), MAX_ALLOCATION_RETRY_WAIT))
                    continue
                if error.code in ALLOCATION_CAPACITY_CODES:
                    raise self._capacity_error(error.code, config, quantity, attempts)
                raise
            self.changed = True
            return list(response.get("HostIds") or [])
        raise AssertionError("unreachable")

    def _wait(self, seconds):
        """Sleep ``seconds`` in slices, renewing the lease when due, so a long retry wait never outlasts it."""
        left = float(seconds)
        while left > 0:
            pause = min(left, WAIT_SLICE_SECONDS)
            self.sleep(pause)
            left -= pause
            self.record.heartbeat()

    def _capacity_error(self, code, config, quantity, attempts):
        what = config.get("InstanceFamily") or config.get("InstanceType")
        family = capacity.split_type(what)[0]
        quota = quota_name(family)
        if code == "HostLimitExceeded":
            message = (
                f"AllocateHosts refused {quantity} {what} host(s) in {self.availability_zone} after {attempts} attempt(s): HostLimitExceeded. "
                f"Raise the Service Quotas quota '{quota}' (Amazon EC2) in this region, or add {family} hosts to the pool "
                f"(tags {self.reserved_tags}); nothing has been stopped"
            )
        else:
            message = (
                f"AllocateHosts found no capacity for {quantity} {what} host(s) in {self.availability_zone} after {attempts} attempt(s): "
                f"InsufficientHostCapacity. EC2 has no {family} hosts free in that zone now: retry later or add hosts to the pool "
                f"(tags {self.reserved_tags}); if the account is at its limit, raise the Service Quotas quota '{quota}'; nothing has been stopped"
            )
        return CapacityError(message, code=code, quota=quota, availability_zone=self.availability_zone,
                             instance_family=family, quantity=quantity)

    # ------------------------------------------------------------------ run

    def run(self) -> Dict[str, Any]:
        self.new_claims = []
        self.described = {}
        self._found = []
        self._read_source()
        named = self._check_targets()
        version = int(self.item.get("PlanVersion") or 0) or 1
        # Claims of an earlier generation (a finished failover of this host) are not this failover's.
        held = set(claims.claims_for(self.dynamodb, self.table, self.failed_host_id, claim_generation=generation(self.item)))
        if self.item.get("Plan") or (self.item and not self.movable):
            placements = self._stored_plan() if self.movable else []
            if placements is not None and self._claim({"placements": placements}, held, set()):
                # A later attempt may have allocated under a newer token and died before storing its plan: recorded now.
                self._found = hosts_for_tokens(self.ec2, self._used_tokens())
                return self._done(self._finish(placements, version, new_groups=[], held=held))
            self._release_new_claims()
        return self._done(self._replan(version, held, named))

    def _replan(self, version, held, named):
        found = hosts_for_tokens(self.ec2, self._used_tokens())
        pool = find_pool_hosts(self.ec2, self.availability_zone, self.reserved_tags, exclude={self.failed_host_id})
        candidates = self._candidates(pool, held, found, named)
        excluded = set()
        for _attempt in range(len(candidates) + 1):
            result = self._pack(candidates, excluded)
            if result["unplaced"]:
                self._release_new_claims()
                raise self._unplaced_error(result)
            if self._claim(result, held, excluded):
                break
        groups = []
        for host in result["new_hosts"]:
            key = capacity.config_key(host.config)
            for group in groups:
                if capacity.config_key(group[0]) == key:
                    group[1].append(host.host_id)
                    break
            else:
                groups.append((host.config, [host.host_id]))
        if groups and found:
            version += 1  # this token already gave hosts: a different quantity needs a new one
        self._found = found
        return self._finish(result["placements"], version, new_groups=groups, held=held)

    def _unplaced_error(self, result):
        lines = [f"{entry['instance_id']} ({entry['instance_type']}): {entry['reason']}" for entry in result["unplaced"]]
        return CapacityError(
            f"{len(lines)} of {len(self.movable)} movable instance(s) of {self.failed_host_id} have no place; "
            f"nothing has been claimed, allocated or stopped: {' | '.join(lines)}",
            failed_host_id=self.failed_host_id,
            unplaced=result["unplaced"],
        )

    def _finish(self, placements, version, new_groups, held):
        placements = [dict(entry, original_state=self.movable[entry["instance_id"]]["original_state"]) for entry in placements]
        for entry in placements:  # preflight's per-instance timings and notes (docs/preflight.md)
            entry.update(self.preflight_notes.get(entry["instance_id"]) or {"notes": [], "lift_stop_protection": False})
        would_allocate = []
        new_ids = []
        if new_groups:
            tags = cost_allocation_tags(self.host, self.reserved_tags) + allocation_tags(self.failed_host_id)
            if self.check_mode:
                for index, (config, placeholders) in enumerate(new_groups):
                    would_allocate.append(dict(config, quantity=len(placeholders), availability_zone=self.availability_zone,
                                               client_token=client_token(self.failed_host_id, version, index),
                                               placeholder_host_ids=placeholders))
            else:
                try:
                    id_lists, version = self._allocate([(config, len(placeholders)) for config, placeholders in new_groups], version, tags)
                except CapacityError:
                    self._release_new_claims()  # the failover cannot go on: the pool hosts go back
                    raise
                mapping = {}
                for (config, placeholders), host_ids in zip(new_groups, id_lists):
                    if len(host_ids) != len(placeholders):
                        raise CapacityError(f"AllocateHosts returned {len(host_ids)} host(s) for {len(placeholders)} requested",
                                            host_ids=host_ids)
                    mapping.update(zip(placeholders, host_ids))
                    new_ids.extend(host_ids)
                for entry in placements:
                    entry["target_host_id"] = mapping.get(entry["target_host_id"], entry["target_host_id"])
        if new_ids:
            self._describe(new_ids)  # their AllocationTime and reservation, for the plan and the record
        for entry in self.moved.values():
            placements.append(dict(entry, target_source=self._source_of(entry["target_host_id"])))
        placements.sort(key=lambda entry: entry["instance_id"])
        target_ids, pool_ids, allocated_ids = [
            sorted(set(entry["target_host_id"] for entry in placements if entry["target_source"] == source))
            for source in (TARGET_SOURCE, "pool", "allocated")]
        plan = {
            "placements": placements,
            "target_host_ids": target_ids,
            "pool_host_ids": pool_ids,
            "allocated_host_ids": allocated_ids,
            "client_token": client_token(self.failed_host_id, version) if (new_groups or self.item.get("AllocationClientToken")
                                                                           or allocated_ids) else None,
            "plan_version": version,
            "unplaced": [],
            "skipped": self.skipped,
        }
        plan["hosts"] = self._plan_hosts(plan)
        if self.check_mode:
            plan["would_allocate"] = would_allocate
            return plan
        self._tag_pool_hosts(target_ids + pool_ids)
        self._store(plan, new_ids, held)
        return plan

    def _plan_hosts(self, plan):
        """Every host of the plan (the failed one first) with its reservation; new hosts with allocation time and price."""
        real = [host_id for host_id in plan["target_host_ids"] + plan["pool_host_ids"] + plan["allocated_host_ids"]
                if host_id not in self.described and not host_id.startswith("new-")]
        self._describe(real)
        family = host_family(self.host)
        entries = [host_entry(self.host, "failed", self.prices)]
        for role, key in ((TARGET_SOURCE, "target_host_ids"), ("pool", "pool_host_ids"), ("new", "allocated_host_ids")):
            for host_id in plan[key]:
                entries.append(host_entry(self.described.get(host_id) or {"HostId": host_id}, role, self.prices, family=family))
        return entries

    def _tag_pool_hosts(self, pool_ids):
        """Mark the claimed hosts (named targets and pool hosts) with FailoverFor."""
        if not pool_ids:
            return
        missing = [host_id for host_id in pool_ids if host_id not in self.described]
        self._describe(missing)
        untagged = [host_id for host_id in pool_ids if tag_dict(self.described[host_id]).get(FAILOVER_TAG) != self.failed_host_id]
        if untagged:
            self.record.heartbeat()
            self.record.fence()
            with aws_errors("CreateTags", f"tagging pool hosts {', '.join(untagged)} failed"):
                self.ec2.create_tags(aws_retry=True, Resources=untagged, Tags=[{"Key": FAILOVER_TAG, "Value": self.failed_host_id}])
            self.changed = True

    def _store(self, plan, new_ids, held):
        """Write the plan to the record (nothing when it is already there) and return unused claims."""
        allocated = list(self.item.get("AllocatedHosts") or [])
        known = set(self._allocated_ids())
        for host_id, allocated_at in [(host["HostId"], allocation_time(host)) for host in self._found] + [
                (host_id, allocation_time(self.described.get(host_id) or {})) for host_id in new_ids]:
            if host_id not in known:
                allocated.append({"hostId": host_id, "allocationTime": allocated_at})
                known.add(host_id)
        preflight = [(entry["instance_id"], plan_preflight_entry(entry)) for entry in plan["placements"]]
        fields = {
            "Plan": dict((entry["instance_id"], entry["target_host_id"]) for entry in plan["placements"]),
            "ReplacementHostIds": plan["target_host_ids"] + plan["pool_host_ids"] + plan["allocated_host_ids"],
            "PlanVersion": plan["plan_version"],
            "AllocatedHosts": allocated,
            "PlanHosts": [dict((_camel(key), value) for key, value in entry.items()) for entry in plan["hosts"]],
            # Preflight's settings for each instance's move: instance_placement reads them with the plan.
            "PlanPreflight": dict((instance_id, settings) for instance_id, settings in preflight if settings),
        }
        if plan["client_token"]:
            fields["AllocationClientToken"] = plan["client_token"]
        self.record.set_fields(**fields)
        self.changed = self.changed or self.record.changed
        # Every instance gets its target (pending) or its reason (skipped); entries that progressed are kept.
        instances = {}
        for entry in plan["placements"]:
            if entry["instance_id"] in self.movable:
                instances[entry["instance_id"]] = {"targetHostId": entry["target_host_id"], "originalState": entry["original_state"],
                                                   "instanceType": entry["instance_type"], "status": "pending"}
        for entry in self.skipped:
            instances[entry["instance_id"]] = {"instanceType": entry["instance_type"], "status": "skipped", "errorMessage": entry["reason"]}
        if instances:
            self.record.initialise_instances(instances)
            self.changed = self.changed or self.record.changed
        # Claims this failover holds on pool hosts the plan no longer uses go back to the pool.
        for host_id in sorted(set(held) - set(plan["pool_host_ids"]) - set(plan["target_host_ids"])):
            claims.release_claim(self.dynamodb, self.table, host_id, self.failed_host_id, self.run_id)
            self.changed = True

    def _done(self, plan):
        """The result, once AWS host recovery is off on the failed host: the plan is stored and its capacity secured
        (a failover that cannot go on leaves AWS's recovery alone), and the next step stops instances."""
        if any(entry["instance_id"] in self.movable for entry in plan["placements"]):
            note = turn_off_host_recovery(self.ec2, self.host, record=self.record, run_id=self.run_id, check_mode=self.check_mode)
            if note:
                self.notes.append(note)
                self.changed = self.changed or not self.check_mode
        return self._result(plan)

    def _result(self, plan):
        return {
            "changed": self.changed,
            "plan": plan,
            "failed_host": {
                "host_id": self.failed_host_id,
                "state": self.host.get("State"),
                "availability_zone": self.availability_zone,
                "instance_family": (self.host.get("HostProperties") or {}).get("InstanceFamily"),
            },
            "notes": self.notes,
        }


class _ParameterMismatch(Exception):
    """AllocateHosts refused a reused ClientToken with other parameters."""


def _camel(name):
    head, _sep, tail = name.partition("_")
    return head + "".join(part.capitalize() for part in tail.split("_")) if tail else head


def plan_replacement(ec2: Any, dynamodb: Any, table: str, failed_host_id: str, record: Any = None, run_id: Optional[str] = None,
                     instance_ids: Optional[Iterable[str]] = None, check_mode: bool = False, sleep: Callable[[float], None] = time.sleep,
                     monotonic: Callable[[], float] = time.monotonic, **options: Any) -> Dict[str, Any]:
    """Plan (and, outside check mode, claim and allocate) replacement capacity for ``failed_host_id``.

    ``options``: reserved_tags (dict), allocate_hosts (bool), max_new_hosts (int >= 0), allocation_attempts,
    allocation_retry_delay (seconds, doubled after each attempt). ``record`` is the host's MigrationRecord with
    the lease held by ``run_id`` (optional in check mode). Returns ``{"changed", "plan", "failed_host", "notes"}``.
    """
    planner = ReplacementPlanner(ec2, dynamodb, table, failed_host_id, record=record, run_id=run_id,
                                 instance_ids=instance_ids, check_mode=check_mode, sleep=sleep, monotonic=monotonic, **options)
    return planner.run()
