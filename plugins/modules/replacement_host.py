#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: replacement_host
short_description: Plan, claim and allocate replacement Dedicated Host capacity for a failed host, and settle the hosts after it
version_added: 0.1.0
description:
  - Reads the failed Dedicated Host and its instances (one paginated C(DescribeInstances) filtered by C(host-id); terminated
    and shutting-down instances are left out) and plans a target host for every movable instance.
  - An instance whose root device is instance store cannot be stopped, so it cannot move; it is reported under
    RV(plan.skipped) with the reason and recorded as skipped.
  - Pool hosts are the C(available) hosts of the failed host's Availability Zone that carry every tag of O(reserved_tags)
    (EC2 filters on tag keys only, so the values are compared by the module).
  - Instances are packed by the host's real capacity rules, larger sizes first, pool hosts first (in host id order), then
    new hosts. A host is a set of sockets and an instance must fit inside one socket unless it is bigger than a socket, in
    which case it needs an empty host; T3 hosts are 192 slots. The module never puts more instances of a size on an existing
    host than the C(AvailableCapacity) EC2 reports for that size. C(docs/capacity.md) describes the model and its sources.
  - The pool hosts used are claimed in the migration table with conditional writes, so that no concurrent failover can
    take them; a pool host already claimed for another failed host is skipped. Claimed pool hosts are tagged
    C(FailoverFor=<failed host>).
  - What the pool lacks is allocated with C(AllocateHosts) (O(allocate_hosts), at most O(max_new_hosts) hosts) in the same
    zone, for the instance family when the family supports several sizes on one host and for the instance type otherwise,
    with auto-placement off, host recovery and host maintenance as on the failed host, the failed host's tags (except the
    pool tags and C(aws:) tags), C(FailoverFor=<failed host>) and C(FailoverAllocatedFor=<failed host>), all set by
    C(AllocateHosts) itself (C(TagSpecifications)). C(FailoverAllocatedFor) is never set any other way, and the IAM policy
    lets a failover release only hosts that carry it (C(docs/iam.md)).
  - Allocation is idempotent. Its C(ClientToken) (C(failover-<failed host>-v<plan version>)) is stored in the record before
    C(AllocateHosts) is called, and a resumed run first looks for hosts already allocated with that token. EC2's
    C(IdempotentParameterMismatch) starts a new plan version.
  - C(InsufficientHostCapacity) and C(HostLimitExceeded) are retried O(allocation_attempts) times with a doubling delay,
    then the task fails naming the Service Quotas quota to raise. Nothing has been stopped at that point.
  - If not every movable instance has a place, the task fails naming each instance and why, before anything is claimed,
    allocated or stopped.
  - The plan is stored in the migration record (C(Plan), C(PlanVersion), C(AllocationClientToken), C(ReplacementHostIds),
    C(AllocatedHosts)) and every instance gets its target there. A rerun for the same failed host returns the stored plan
    while its target hosts are still available and still have room for the instances not moved yet.
  - The caller (the C(host_failover) role) holds the host's lease under O(run_id); the module renews it and checks it
    before each EC2 change.
  - In check mode nothing is written, claimed, tagged or allocated; the plan names placeholder hosts (C(new-1), ...) and
    RV(plan.would_allocate) lists the C(AllocateHosts) requests a real run would make.
  - Hosts named in O(target_host_ids) (for example the replacement AWS allocated for a host in C(permanent-failure)) are
    checked (they exist, are C(available), in the failed host's zone, of its instance family and not claimed by another
    failover; a bad one fails the task before anything is claimed, tagged or allocated), claimed like pool hosts and
    filled first. A named host that is still V(pending) and looks like the replacement AWS host maintenance allocated
    for the failed host (same zone, instance type or family and tags, allocated after it) is waited for until it is
    V(available) (at most O(settle_timeout), the lease renewed meanwhile); in check mode it is planned onto as it is.
  - Once the plan is stored, and only when the plan moves at least one instance, AWS host recovery is turned off on the
    failed host (C(ModifyHosts HostRecovery=off)) when it is on, so that AWS and the failover never move the same
    instances. The record's C(HostRecoveryTurnedOff) is written before the call (which the lease fences); hosts
    allocated later for this failover still get the failed host's setting from before. In check mode RV(notes) says
    it would, and nothing is changed.
  - RV(plan.hosts) lists every host of the plan with its reservation (C(HostReservationId)); new hosts also with their
    allocation time and hourly price class (V(on-demand) unless they hold a reservation; the price comes from
    O(host_hourly_prices), else it is unknown). The record keeps the list as C(PlanHosts).
  - O(action=settle) runs after the failover, while the run still holds the lease (the C(host_failover) role calls it
    right before it finalizes the record). It tags the failed host with the outcome (C(FailoverOutcome),
    C(FailoverRunId), C(FailoverAt)); with O(release_failed_host) releases it when no instance, running or stopped, is
    left on it (a host with a reservation cannot be released before the term ends, which is reported and never an error); takes the
    claimed hosts that received instances out of the pool (C(DeleteTags) of each O(reserved_tags) tag whose key and value
    both match, so a target's C(Role=App) stays; C(FailoverFor) set); returns claims on hosts that received nothing;
    and with O(replenish_pool) allocates one spare (same zone and family, tagged with O(reserved_tags)) for each pool
    host consumed, within what O(max_new_hosts) leaves, idempotently.
    What it did is stored in the record's C(Settlement). In check mode with O(planned) it previews the settlement of
    that plan as if every instance moved.
  - O(action=release_unused) releases the replacement hosts failovers allocated that ended up unused (no instance on
    them, running or stopped; not pool hosts; no reservation; tagged C(FailoverAllocatedFor) at allocation; not tied to
    a failover in progress by a claim or by C(FailoverFor)). In check mode it lists them.
    C(playbooks/release_unused_hosts.yml) wraps it.
  - O(action=failback) plans the failback to O(failed_host_id), the original host of a failover. The instances its last
    failover record names as moved (status C(success)), or the O(instances) among them (an id it did not move fails
    the task), go back to it, each in the state it is in now. The task fails with the reason, before anything is
    written, when the host has no failover record, its failover is still C(processing) under a live lease, the host
    is not C(available) and healthy by the health table (C(docs/health.md)), or the instances do not all fit on it by
    the capacity rules. An instance no longer on the host the failover put it on, or gone, is skipped with the reason.
    With O(run_id) (the run that holds the failback's lease, C(dedicated_hosts.failover.migration_record) with
    C(record=failback)) and not in check mode, the plan's instances are written to the failback's record. The failback
    claims and allocates nothing. C(playbooks/failback.yml) runs it through the C(host_failback) role.
author:
  - Dedicated Hosts Failover maintainers (@dedicated-hosts)
options:
  action:
    description:
      - V(plan) plans, claims and allocates; V(settle) settles the hosts after the failover; V(release_unused) releases
        replacement hosts that ended up unused; V(failback) plans the failback to the original host O(failed_host_id).
    type: str
    choices: [plan, settle, release_unused, failback]
    default: plan
  failed_host_id:
    description:
      - The failed (source) Dedicated Host, V(h-) followed by 8 or 17 hex digits.
      - With O(action=failback), the original host the instances of its last failover go back to.
      - Required unless O(action=release_unused).
    type: str
  run_id:
    description:
      - The run id that holds the lease on the host's migration record (from C(dedicated_hosts.failover.migration_record)).
      - Required unless in check mode.
    type: str
  instances:
    description:
      - Only plan these instances of the failed host (instance ids).
      - Default is every movable instance on the host.
      - With O(action=failback), only these of the instances the last failover moved.
    type: list
    elements: str
  reserved_tags:
    description:
      - Tags that mark pool hosts; a pool host carries all of them with these values.
    type: dict
    default: {Role: Reserved}
  allocate_hosts:
    description:
      - Allocate new hosts when the pool is short. With V(false), the task fails when the pool cannot take every instance.
    type: bool
    default: true
  max_new_hosts:
    description:
      - The most hosts this failover may allocate (0 or more).
    type: int
    default: 2
  allocation_attempts:
    description:
      - How many times C(AllocateHosts) is tried when EC2 answers C(InsufficientHostCapacity) or C(HostLimitExceeded).
    type: int
    default: 3
  allocation_retry_delay:
    description:
      - Seconds before the second C(AllocateHosts) attempt; the delay doubles after each attempt, up to 300 s per
        wait. The lease is renewed while it waits, so the retries may last longer than the lease (the reference
        system retried for about 30 minutes; O(allocation_attempts=12) with the default delay waits about 30 minutes).
    type: float
    default: 5.0
  preflight_allow:
    description:
      - Preflight opt-ins (docs/preflight.md); without them such instances are skipped with their reason.
      - V(instance-store-volumes) moves EBS-root instances that have instance-store volumes (their data is lost).
      - V(stop-protection) lifts stop protection (C(DisableApiStop)) for the move; M(dedicated_hosts.failover.instance_placement) restores it.
      - V(auto-scaling) moves members of an Auto Scaling group (suspend the group's processes first).
      - V(host-resource-group) moves instances placed through a host resource group or a License Manager configuration.
      - V(mac) moves Mac instances, with O(mac_stop_timeout) and O(mac_start_timeout).
    type: list
    elements: str
    choices: [instance-store-volumes, stop-protection, auto-scaling, host-resource-group, mac]
    default: []
  windows_force_stop_after:
    description:
      - Seconds a Windows instance's graceful stop gets before C(Force) (AWS advises against forcing Windows).
      - Ignored on an unreachable host or for an impaired instance, which are forced at once.
    type: float
    default: 600.0
  mac_stop_timeout:
    description: Seconds a Mac instance gets to stop (its graceful stop gets half of it before C(Force)).
    type: float
    default: 3600.0
  mac_start_timeout:
    description: Seconds a Mac instance gets to be running on its new host.
    type: float
    default: 7200.0
  target_host_ids:
    description:
      - Hosts the operator names as preferred targets, filled before pool hosts (V(h-) ids).
    type: list
    elements: str
    default: []
  host_hourly_prices:
    description:
      - USD per hour of an on-demand host, by instance family (a dict such as C(m5) to V(5.069)), shown for new hosts.
      - Prices vary by region and change, so none are built in; a family not listed shows V(price unknown).
    type: dict
    default: {}
  release_failed_host:
    description:
      - With O(action=settle), release the failed host when no instance (running or stopped) is left on it.
    type: bool
    default: false
  replenish_pool:
    description:
      - With O(action=settle), allocate one spare for each pool host the failover consumed, within O(max_new_hosts).
    type: bool
    default: false
  failover_error:
    description:
      - With O(action=settle), the error that ended the failover, if any; the outcome is then V(failed).
    type: str
  planned:
    description:
      - With O(action=settle) in check mode, the plan (RV(plan)) whose settlement to preview.
    type: dict
  release_host_ids:
    description:
      - With O(action=release_unused), consider only these hosts (default every host tagged C(FailoverFor)).
    type: list
    elements: str
    default: []
  settle_timeout:
    description:
      - Seconds preflight waits for instances in V(pending), V(stopping) or V(shutting-down) to settle before
        classifying them; one still in such a state then is skipped with its reason.
      - Also the longest wait for a V(pending) host of O(target_host_ids) that AWS host maintenance allocated for
        the failed host; one still V(pending) then is refused before anything is claimed, allocated or stopped.
    type: float
    default: 600.0
extends_documentation_fragment:
  - dedicated_hosts.failover.assume_role
  - dedicated_hosts.failover.record
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Plan replacement capacity for a failed host (the lease is held under lease.run_id)
  dedicated_hosts.failover.replacement_host:
    failed_host_id: h-0123456789abcdef0
    run_id: "{{ lease.run_id }}"
  register: replacement

- name: Move the instances as planned
  dedicated_hosts.failover.instance_placement:
    failed_host_id: h-0123456789abcdef0
    run_id: "{{ lease.run_id }}"
    placements: "{{ replacement.plan.placements }}"

- name: Use only the reserved pool (Role=Spare, Team=Platform); never allocate
  dedicated_hosts.failover.replacement_host:
    failed_host_id: h-0123456789abcdef0
    run_id: "{{ lease.run_id }}"
    reserved_tags:
      Role: Spare
      Team: Platform
    allocate_hosts: false

- name: See where the instances would go and what would be allocated
  dedicated_hosts.failover.replacement_host:
    failed_host_id: h-0123456789abcdef0
  check_mode: true
  register: preview

- name: After the failover, tag the failed host, release it if empty and replenish the pool
  dedicated_hosts.failover.replacement_host:
    action: settle
    failed_host_id: h-0123456789abcdef0
    run_id: "{{ lease.run_id }}"
    release_failed_host: true
    replenish_pool: true

- name: Release replacement hosts that ended up unused
  dedicated_hosts.failover.replacement_host:
    action: release_unused

- name: Check the original host and plan the failback to it (reads only)
  dedicated_hosts.failover.replacement_host:
    action: failback
    failed_host_id: h-0123456789abcdef0
  check_mode: true
  register: failback
"""

RETURN = r"""
plan:
  description: Where every movable instance goes.
  returned: success
  type: dict
  contains:
    placements:
      description:
        - One entry per instance, by instance id, with C(instance_id), C(instance_type), C(target_host_id),
          C(target_source) (V(target), V(pool) or V(allocated)), C(original_state) (V(running) or V(stopped), the state to
          restore), and preflight's C(notes), C(lift_stop_protection) and per-instance timings.
        - The plan is stored in the migration record too; C(dedicated_hosts.failover.instance_placement) without
          C(placements) moves it from there.
        - With O(action=failback), C(instance_id), C(target_host_id), C(original_state), C(notes) and
          C(lift_stop_protection) only, the placements C(dedicated_hosts.failover.instance_placement) takes with
          C(record=failback); the failback's record holds no plan.
      type: list
      elements: dict
      sample:
        - {instance_id: i-0123456789abcdef0, instance_type: m5.xlarge, target_host_id: h-0fedcba9876543210,
           target_source: pool, original_state: running}
    target_host_ids:
      description: The hosts of O(target_host_ids) the plan uses (claimed for this failover and tagged C(FailoverFor)).
      type: list
      elements: str
    pool_host_ids:
      description: The pool hosts used (claimed for this failover and tagged C(FailoverFor)).
      type: list
      elements: str
    hosts:
      description:
        - The failed host, then every host the plan uses, each with C(host_id), C(role) (V(failed), V(target),
          V(pool) or V(new)), C(instance_family) and C(reservation_id) (null without a reservation); new hosts also with
          C(allocation_time) (null for a check-mode placeholder), C(price_class) (V(on-demand) or V(reserved)) and
          C(hourly_price) (USD per hour from O(host_hourly_prices); null when unknown).
      type: list
      elements: dict
    allocated_host_ids:
      description: The hosts allocated for this failover that the plan uses (placeholders C(new-N) in check mode).
      type: list
      elements: str
    client_token:
      description: The C(AllocateHosts) ClientToken of the plan version; null when nothing was ever allocated.
      type: str
      sample: failover-h-0123456789abcdef0-v1
    plan_version:
      description: The plan version (a new version is needed only when allocation parameters change).
      type: int
      sample: 1
    unplaced:
      description: Always empty on success (an instance without a place fails the task).
      type: list
      elements: dict
    skipped:
      description: Instances that cannot move, with C(instance_id), C(instance_type) and C(reason).
      type: list
      elements: dict
    host_id:
      description: With O(action=failback), the original host the instances go back to.
      returned: when O(action=failback)
      type: str
    record_key:
      description: With O(action=failback), the key of the failback's record (C(failback#<original host>)).
      returned: when O(action=failback)
      type: str
      sample: failback#h-0123456789abcdef0
    failover_run_id:
      description: With O(action=failback), the run of the failover whose moves the failback undoes.
      returned: when O(action=failback)
      type: str
    host:
      description: With O(action=failback), the original host's C(state) and C(health).
      returned: when O(action=failback)
      type: dict
    lines:
      description: With O(action=failback), the plan for people, a headline and one line per instance.
      returned: when O(action=failback)
      type: list
      elements: str
    would_allocate:
      description:
        - In check mode, the C(AllocateHosts) requests a real run would make, each with C(instance_family) or
          C(instance_type), C(quantity), C(availability_zone), C(client_token) and C(placeholder_host_ids).
      returned: in check mode
      type: list
      elements: dict
failed_host:
  description: The failed host as read, with C(host_id), C(state), C(availability_zone) and C(instance_family).
  returned: success
  type: dict
  sample: {host_id: h-0123456789abcdef0, state: permanent-failure, availability_zone: us-east-1a, instance_family: m5}
notes:
  description: Why a stored plan was replaced, or a pool host skipped; AWS host recovery turned off (or, in check mode,
    that it would be); a wait for AWS's replacement host.
  returned: success
  type: list
  elements: str
unplaced:
  description: On failure for lack of capacity, each instance without a place with C(instance_id), C(instance_type) and C(reason).
  returned: failure
  type: list
  elements: dict
quota:
  description: On an allocation failure, the Service Quotas quota to raise (for example C(Running Dedicated m5 Hosts)).
  returned: failure
  type: str
settlement:
  description: What O(action=settle) did (or in check mode would do).
  returned: when O(action=settle)
  type: dict
  contains:
    outcome:
      description: V(succeeded) or V(failed); null when the failover stopped before it had a plan (nothing is settled).
      type: str
    failed_host:
      description: C(host_id), C(outcome_tags), C(released), C(not_released_because) and C(reservation_id).
      type: dict
    consumed_pool_host_ids:
      description: Pool hosts that received instances (no longer spare).
      type: list
      elements: str
    retagged_host_ids:
      description: Claimed hosts whose pool tags were removed and that were tagged C(FailoverFor).
      type: list
      elements: str
    returned_claim_host_ids:
      description: Hosts whose claim went back to the pool (they received nothing).
      type: list
      elements: str
    spares:
      description: Spares allocated for the pool, each with C(host_id), C(replaces), C(client_token) and C(allocation_time).
      type: list
      elements: dict
    lines:
      description: What was done (check mode; what would be done), one line each, then the notes.
      type: list
      elements: str
    notes:
      description: Why something was not done (a pool host not replenished, a host not tagged).
      type: list
      elements: str
released_host_ids:
  description: With O(action=release_unused), the hosts released (in check mode, those that would be).
  returned: when O(action=release_unused)
  type: list
  elements: str
kept:
  description: With O(action=release_unused), the hosts considered and kept, each with C(host_id) and C(reason).
  returned: when O(action=release_unused)
  type: list
  elements: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.transformation import camel_dict_to_snake_dict

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.base import FailoverModule
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.cleanup import release_unused_hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.failback import plan_failback
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import hourly_prices
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILBACK_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILOVER_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import record_key
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_instance_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.planner import plan_replacement
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.settlement import settle_failover


def validate(params, check_mode):
    if params["action"] == "release_unused":
        for value in params["release_host_ids"]:
            validate_host_id(value, what="option release_host_ids item")
        return
    if not params["failed_host_id"]:
        raise InvalidInputError("failed_host_id is required for action=%s" % params["action"])
    validate_host_id(params["failed_host_id"], what="option failed_host_id")
    for value in params["instances"] or []:
        validate_instance_id(value, what="option instances item")
    for value in params["target_host_ids"]:
        validate_host_id(value, what="option target_host_ids item")
    hourly_prices(params["host_hourly_prices"])
    if not check_mode and not (params["run_id"] or "").strip():
        raise InvalidInputError("run_id is required (the run that holds the lease), except in check mode")
    if params["max_new_hosts"] < 0:
        raise InvalidInputError("max_new_hosts must be 0 or more, got %s" % params["max_new_hosts"])
    if params["allocation_attempts"] < 1:
        raise InvalidInputError("allocation_attempts must be at least 1, got %s" % params["allocation_attempts"])
    if params["allocation_retry_delay"] < 0:
        raise InvalidInputError("allocation_retry_delay must be 0 or more, got %s" % params["allocation_retry_delay"])


def held_record(module, dynamodb, kind=FAILOVER_RECORD):
    """The host's ``kind`` record, its lease renewed by this process (the role took it); None in check mode."""
    params = module.params
    if module.check_mode:
        return None
    key = record_key(params["failed_host_id"], kind)
    record = MigrationRecord(dynamodb, params["table"], key, params["run_id"])
    if record.load() is None:
        raise NotFoundError(
            "there is no migration record %s: take its lease first (dedicated_hosts.failover.migration_record)" % key,
            host_id=params["failed_host_id"],
        )
    # The role took the lease; this process renews it so that its own monotonic deadline starts now.
    record.renew()
    return record


def settle(module, dynamodb):
    params = module.params
    return settle_failover(
        module.aws_client("ec2"), dynamodb, params["table"], params["failed_host_id"], record=held_record(module, dynamodb),
        run_id=params["run_id"], check_mode=module.check_mode, failover_error=params["failover_error"],
        planned=params["planned"] if module.check_mode else None, reserved_tags=params["reserved_tags"],
        allocate_hosts=params["allocate_hosts"], max_new_hosts=params["max_new_hosts"],
        release_failed_host=params["release_failed_host"], replenish_pool=params["replenish_pool"],
    )


def run(module):
    params = module.params
    validate(params, module.check_mode)
    dynamodb = module.record_client("dynamodb")
    if params["action"] == "release_unused":
        return release_unused_hosts(module.aws_client("ec2"), dynamodb, params["table"], reserved_tags=params["reserved_tags"],
                                    host_ids=params["release_host_ids"], check_mode=module.check_mode)
    if params["action"] == "settle":
        return settle(module, dynamodb)
    if params["action"] == "failback":
        return plan_failback(module.aws_client("ec2"), dynamodb, params["table"], params["failed_host_id"], instance_ids=params["instances"],
                             record=held_record(module, dynamodb, FAILBACK_RECORD))
    record = held_record(module, dynamodb)
    result = plan_replacement(
        module.aws_client("ec2"),
        dynamodb,
        params["table"],
        params["failed_host_id"],
        record=record,
        run_id=params["run_id"],
        instance_ids=params["instances"],
        check_mode=module.check_mode,
        reserved_tags=params["reserved_tags"],
        allocate_hosts=params["allocate_hosts"],
        max_new_hosts=params["max_new_hosts"],
        allocation_attempts=params["allocation_attempts"],
        allocation_retry_delay=params["allocation_retry_delay"],
        preflight_allow=params["preflight_allow"],
        windows_force_stop_after=params["windows_force_stop_after"],
        mac_stop_timeout=params["mac_stop_timeout"],
        mac_start_timeout=params["mac_start_timeout"],
        settle_timeout=params["settle_timeout"],
        target_host_ids=params["target_host_ids"],
        host_hourly_prices=params["host_hourly_prices"],
    )
    plan = result["plan"]
    if "would_allocate" in plan:
        plan["would_allocate"] = [camel_dict_to_snake_dict(entry) for entry in plan["would_allocate"]]
    return dict(changed=result["changed"], plan=plan, failed_host=result["failed_host"], notes=result["notes"])


def main():
    argument_spec = dict(
        action=dict(type="str", default="plan", choices=["plan", "settle", "release_unused", "failback"]),
        failed_host_id=dict(type="str"),
        run_id=dict(type="str"),
        instances=dict(type="list", elements="str"),
        reserved_tags=dict(type="dict", default=default_of("reserved_tags")),
        allocate_hosts=dict(type="bool", default=default_of("allocate_hosts")),
        max_new_hosts=dict(type="int", default=default_of("max_new_hosts")),
        allocation_attempts=dict(type="int", default=default_of("allocation_attempts")),
        allocation_retry_delay=dict(type="float", default=default_of("allocation_retry_delay")),
        preflight_allow=dict(type="list", elements="str", default=default_of("preflight_allow"),
                             choices=["instance-store-volumes", "stop-protection", "auto-scaling", "host-resource-group", "mac"]),
        windows_force_stop_after=dict(type="float", default=default_of("windows_force_stop_after")),
        mac_stop_timeout=dict(type="float", default=default_of("mac_stop_timeout")),
        mac_start_timeout=dict(type="float", default=default_of("mac_start_timeout")),
        settle_timeout=dict(type="float", default=default_of("settle_timeout")),
        target_host_ids=dict(type="list", elements="str", default=default_of("target_host_ids")),
        host_hourly_prices=dict(type="dict", default=default_of("host_hourly_prices")),
        release_failed_host=dict(type="bool", default=default_of("release_failed_host")),
        replenish_pool=dict(type="bool", default=default_of("replenish_pool")),
        failover_error=dict(type="str"),
        planned=dict(type="dict"),
        release_host_ids=dict(type="list", elements="str", default=default_of("release_host_ids")),
    )
    module = FailoverModule(argument_spec=argument_spec, record_options=True, assume_role=True)
    module.run(run)


if __name__ == "__main__":
    main()
