# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failback: the plan that moves the instances of a host's last failover back to that host.

The last failover's record (keyed by the original host) names the instances it moved: the entries with status
``success``, each with its ``targetHostId``. The plan moves back exactly those (or the ``instance_ids`` among
them), each in the state it is in now, once the original host is ``available`` and healthy by the health table
(``health.classify_host``) and has room for them by the capacity rules (``capacity.pack``). An instance that is
no longer on the host the failover put it on, or is gone, is skipped with the reason. Stop protection is read as the
failover's preflight reads it (``preflight.gather_facts``): a protected instance's placement carries
``lift_stop_protection``, so ``instance_placement`` lifts it for the move and restores it, as in a failover.

The failback keeps its own record, keyed ``failback#<original host>`` (``ids.record_key``), with the failover
record's schema, lease and fencing; ``instance_placement`` moves the instances and writes their phases there. On
a resumed failback the original state of each instance is the one its record kept from the first run, so an
instance the interrupted run had stopped is started again. The decisions are in docs/record-schema.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from typing import Any
from typing import Callable
from typing import Container
from typing import Dict
from typing import Iterable
from typing import List
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Tuple

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import capacity
from ansible_collections.dedicated_hosts.failover.plugins.module_utils import health
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import paginate
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import CapacityError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseHeldError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import describe_host
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILBACK_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import record_key
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_instance_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import holder_message
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_state
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.preflight import STOP_PROTECTION_NOTE
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.preflight import gather_facts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.preflight import original_state
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import ENDED_STATES

GONE_STATES = ("shutting-down", "terminated")
# A failover record in these states with a lease in these states is a failover still at work.
IN_PROGRESS_STATES = ("pending", "processing")
LIVE_LEASE_STATES = ("held", "unleased")
TARGET_SOURCE = "failback"
DESCRIBE_CHUNK = 200


def moved_instances(failover_record: Mapping[str, Any]) -> Dict[str, str]:
    """{instance id: the host the failover put it on} for every instance the failover moved (status ``success``)."""
    return dict((instance_id, entry["targetHostId"]) for instance_id, entry in failover_record["InstanceMigrations"].items()
                if entry.get("status") == "success" and entry.get("targetHostId"))


def check_failover_over(host_id: str, failover_record: Optional[Mapping[str, Any]], now: float) -> None:
    """Refuse a host without a failover record, or whose failover is still in progress under a live lease."""
    if failover_record is None:
        raise NotFoundError(f"host {host_id} has no failover record: there is nothing to fail back. Nothing was changed",
                            host_id=host_id)
    if failover_record["State"] in IN_PROGRESS_STATES and lease_state(failover_record, None, now) in LIVE_LEASE_STATES:
        raise LeaseHeldError(
            f"the failover of host {host_id} is still {failover_record['State']} ({holder_message(host_id, failover_record)}): "
            "fail back once it is over. Nothing was changed",
            host_id=host_id, holder_run_id=failover_record.get("LeaseRunId"),
        )


def check_requested(host_id: str, moved: Mapping[str, str], instance_ids: Optional[Iterable[str]]) -> Dict[str, str]:
    """The moved instances ``instance_ids`` names (all of them when it is empty); an id the failover did not move is refused."""
    wanted = [validate_instance_id(value, what="instance_ids item") for value in instance_ids or []]
    unknown = [instance_id for instance_id in wanted if instance_id not in moved]
    if unknown:
        raise InvalidInputError(
            f"instance_ids: {', '.join(unknown)} not moved by the last failover of host {host_id} "
            f"(it moved: {', '.join(sorted(moved)) or 'none'}). Nothing was changed",
            unknown_instance_ids=unknown,
        )
    return dict((instance_id, moved[instance_id]) for instance_id in wanted) if wanted else dict(moved)


def original_host_health(ec2: Any, host: Mapping[str, Any]) -> Tuple[str, List[str]]:
    """(health class, reasons) of the original host by the health table, from its instances' status now."""
    on_host = health.describe_host_instances(ec2, [host["HostId"]])
    statuses = health.describe_instance_statuses(ec2, [instance["InstanceId"] for instance in on_host]) if on_host else {}
    health_class, reasons, _recovery = health.classify_host(host, list(statuses.values()))
    return health_class, reasons


def check_original_host(ec2: Any, host_id: str) -> Dict[str, Any]:
    """The original host's DescribeHosts entry, once it is ``available`` and healthy; refused with the reason otherwise."""
    host = describe_host(ec2, host_id)
    health_class, reasons = original_host_health(ec2, host)
    if host.get("State") != "available" or health_class != health.HEALTHY:
        raise InvalidInputError(
            f"original host {host_id} is {host.get('State')} and {health_class} ({'; '.join(reasons) or 'not available'}): "
            "instances go back only to an available, healthy host. Nothing was changed",
            host_id=host_id, state=host.get("State"), health=health_class, reasons=reasons,
        )
    return host


def describe_instances(ec2: Any, instance_ids: Iterable[str]) -> Dict[str, Dict[str, Any]]:
    """{instance id: DescribeInstances entry} of ``instance_ids``; an id EC2 no longer knows is absent."""
    found = {}
    ordered = sorted(instance_ids)
    for start in range(0, len(ordered), DESCRIBE_CHUNK):
        result = paginate(ec2, "describe_instances", Filters=[{"Name": "instance-id", "Values": ordered[start:start + DESCRIBE_CHUNK]}])
        for reservation in result.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                found[instance["InstanceId"]] = instance
    return found


def skip_reason(instance_id: str, described: Optional[Mapping[str, Any]], failover_target: str, host_id: str) -> Optional[str]:
    """Why an instance stays where it is, or None when it goes back (it is on the failover's host, or already back)."""
    if described is None:
        return f"instance {instance_id} no longer exists"
    state = (described.get("State") or {}).get("Name")
    if state in GONE_STATES:
        return f"instance {instance_id} is {state}"
    current = (described.get("Placement") or {}).get("HostId")
    if current not in (failover_target, host_id):
        return (f"instance {instance_id} is on host {current or 'none (not on a Dedicated Host)'} now, not on {failover_target} "
                "where the failover put it: left where it is")
    return None


def kept_states(failback_record: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """The original state each instance has in a failback record still in progress (a resumed failback keeps them)."""
    if failback_record is None or failback_record["State"] in ENDED_STATES:
        return {}
    return dict((instance_id, entry["originalState"]) for instance_id, entry in failback_record["InstanceMigrations"].items()
                if entry.get("originalState"))


def check_room(host: Mapping[str, Any], movable: Sequence[str], described: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse when the instances not on the original host already do not all fit there (capacity rules)."""
    listed = set(entry.get("InstanceId") for entry in host.get("Instances") or [])
    needing_room = [{"instance_id": instance_id, "instance_type": described[instance_id].get("InstanceType")}
                    for instance_id in movable if instance_id not in listed]
    packed = capacity.pack(needing_room, [capacity.host_capacity(host, source=TARGET_SOURCE)],
                           no_new_hosts_reason="a failback moves instances back to their original host only")
    if packed["unplaced"]:
        raise CapacityError(
            f"{len(packed['unplaced'])} of {len(movable)} instance(s) do not fit back on host {host['HostId']}; nothing has been stopped: "
            + "; ".join(f"{entry['instance_id']} ({entry['instance_type']}): {entry['reason']}" for entry in packed["unplaced"]),
            host_id=host["HostId"], unplaced=packed["unplaced"],
        )


def skipped_result(instance_id: str, described: Optional[Mapping[str, Any]], failover_target: str, reason: str) -> Dict[str, Any]:
    """A per-instance result shaped like instance_placement's, for an instance the failback leaves where it is."""
    state = ((described or {}).get("State") or {}).get("Name")
    return {"instance_id": instance_id, "instance_type": (described or {}).get("InstanceType"), "status": "skipped",
            "source_host_id": ((described or {}).get("Placement") or {}).get("HostId") or failover_target,
            "target_host_id": None, "original_state": state, "final_state": state, "reason": reason, "changed": False}


def back_placement(instance_id: str, state: str, failover_target: str, host_id: str,
                   protected: Container[str]) -> Dict[str, Any]:
    """instance_placement's placement of one instance going back; a stop-protected one has it lifted and restored."""
    lift = instance_id in protected
    return {"instance_id": instance_id, "target_host_id": host_id, "original_state": state,
            "notes": [f"back from {failover_target}"] + ([STOP_PROTECTION_NOTE] if lift else []), "lift_stop_protection": lift}


def plan_lines(host_id: str, placements: Sequence[Mapping[str, Any]], described: Mapping[str, Mapping[str, Any]],
               requested: Mapping[str, str], skipped: Sequence[Mapping[str, Any]]) -> List[str]:
    """The plan for humans: a headline, then one line per instance."""
    lines = [f"Failback to {host_id} (available, healthy): {len(placements)} instance(s) go back, {len(skipped)} skipped"]
    lines.extend(f"{placement['instance_id']} ({described[placement['instance_id']].get('InstanceType')}, "
                 f"{placement['original_state']}): {requested[placement['instance_id']]} -> {host_id}" for placement in placements)
    lines.extend(f"{result['instance_id']} skipped: {result['reason']}" for result in skipped)
    return lines


def plan_failback(ec2: Any, dynamodb: Any, table: str, host_id: str, instance_ids: Optional[Iterable[str]] = None,
                  record: Any = None, wall_clock: Callable[[], float] = time.time) -> Dict[str, Any]:
    """The failback plan of original host ``host_id``; refuses (raises) before any change when it cannot be done.

    ``record`` is the failback's MigrationRecord, its lease held by the caller: the plan's instances are written to
    it (moved ones ``pending``, skipped ones with their reason). Without it (check mode, or the check before the
    lease is taken) nothing is written. Returns ``{"changed", "plan"}``; the plan has ``host_id``, ``record_key``,
    ``failover_run_id``, ``placements`` (instance_placement's option), ``skipped`` (per-instance results), ``host``
    (state, health) and ``lines`` (the plan for humans).
    """
    validate_host_id(host_id, what="option failed_host_id")
    ec2 = retrying(ec2)
    failover_record = get_record(dynamodb, table, host_id)
    check_failover_over(host_id, failover_record, wall_clock())
    requested = check_requested(host_id, moved_instances(failover_record), instance_ids)
    host = check_original_host(ec2, host_id)
    described = describe_instances(ec2, list(requested))
    reasons = dict((instance_id, skip_reason(instance_id, described.get(instance_id), target, host_id))
                   for instance_id, target in requested.items())
    movable = sorted(instance_id for instance_id, reason in reasons.items() if reason is None)
    check_room(host, movable, described)
    kept = kept_states(record.item if record is not None else get_record(dynamodb, table, record_key(host_id, FAILBACK_RECORD)))
    states = dict((instance_id, kept.get(instance_id) or original_state(described[instance_id])) for instance_id in movable)
    # Read as the failover's preflight reads it: protection turned on since the failover must not make the stop fail.
    facts = gather_facts(ec2, [described[instance_id] for instance_id in movable])
    protected = set(instance_id for instance_id, fact in facts.items() if fact["stop_protected"])
    changed = False
    if record is not None:
        entries = dict((instance_id, {"targetHostId": host_id, "originalState": states[instance_id], "status": "pending",
                                      "instanceType": described[instance_id].get("InstanceType")}) for instance_id in movable)
        entries.update((instance_id, {"status": "skipped", "errorMessage": reason}) for instance_id, reason in reasons.items() if reason)
        record.initialise_instances(entries)
        changed = record.changed
        # The record keeps the state an instance had when the failback first saw it (merge_initial never overwrites it).
        states = dict((instance_id, record.item["InstanceMigrations"][instance_id]["originalState"]) for instance_id in movable)
    placements = [back_placement(instance_id, states[instance_id], requested[instance_id], host_id, protected)
                  for instance_id in movable]
    skipped = [skipped_result(instance_id, described.get(instance_id), requested[instance_id], reasons[instance_id])
               for instance_id in sorted(reasons) if reasons[instance_id]]
    plan = {"host_id": host_id, "record_key": record_key(host_id, FAILBACK_RECORD), "failover_run_id": failover_record.get("RunId"),
            "placements": placements, "skipped": skipped, "host": {"state": host.get("State"), "health": health.HEALTHY},
            "lines": plan_lines(host_id, placements, described, requested, skipped)}
    return {"changed": changed, "plan": plan}
