#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: migration_record
short_description: Create, lease, update and finalize the migration record of a failed Dedicated Host
version_added: 0.1.0
description:
  - Manages the DynamoDB migration record of one failed (source) Dedicated Host, the single item that tracks a failover.
  - V(acquire) creates the record, or resumes an existing one, and takes its lease. A lease held by another live run
    refuses the call with a message naming the holder and the expiry; an expired lease (past its expiry plus a safety
    margin) is taken over, which is how a crashed run is resumed; O(break_lock=true) takes over a live one.
  - In an C(ansible-playbook) run (not in check mode), V(acquire) also starts the run's lease keeper, a detached process
    that renews the lease every third of it between the run's tasks too, while C(ansible-playbook) runs and is not
    stopped; it ends with that process or once the record is finalized, released or taken over (C(docs/guarantees.md)).
  - V(renew) extends the lease, V(release) clears it, V(update_instance) records the status and phase of one instance,
    V(finalize) sets the final state (C(complete) or C(failed)), the expiry time (TTL) and releases the lease.
  - Every write is conditional on the lease being held by O(run_id), and the counters are recomputed from the
    instance map on every write, so repeating a task never counts an instance twice.
  - The record schema, the phases and the lease rules are in C(docs/record-schema.md).
author:
  - Dedicated Hosts Failover maintainers (@dedicated-hosts)
options:
  host_id:
    description:
      - The failed (source) Dedicated Host whose record this is (V(h-) followed by 8 or 17 hex digits).
      - With O(record=failback), the original host of the failback whose record this is.
    type: str
    required: true
  action:
    description:
      - V(acquire) creates or resumes the record and takes the lease.
      - V(renew) extends the lease by O(lease_seconds).
      - V(release) clears the lease (a no-op when it is already released).
      - V(update_instance) records the status, phase and details of O(instance_id).
      - V(finalize) sets C(State) to C(complete) (no instance failed and none is left to do) or C(failed)
        (also whenever O(error_details) is given), sets C(ExpirationTime) O(ttl_days) ahead and releases the lease.
        A run asked to cancel that left instances unmoved because of it gets C(cancelled).
      - V(cancel) asks the live run of the host's failover to stop (C(playbooks/abort.yml) uses it) with a conditional
        write of a cancel request, addressed to the run that holds the lease, on a C(processing) record. That run's
        M(dedicated_hosts.failover.instance_placement) sees it at its next poll, stops no further instance, finishes
        those already stopped, and the run ends with C(State=cancelled). Fails when no live run is there to cancel;
        asking again changes nothing. O(run_id) is not needed. With O(record=failback) it cancels the running
        failback to the host (C(abort.yml -e failback=true)), which ends the same way.
    type: str
    required: true
    choices: [acquire, renew, release, update_instance, finalize, cancel]
  run_id:
    description:
      - The identifier of this failover run; every write is conditional on the lease being held by it.
      - Required for every O(action) but V(acquire), which generates one when it is omitted and returns it.
    type: str
  owner:
    description:
      - Who holds the lease, for humans (shown to a run that is refused). Defaults to V(user@host) of the controller.
    type: str
  lease_seconds:
    description:
      - Length of the lease taken by V(acquire) or extended by V(renew), in seconds (at least 3).
      - A run stops changing anything once less than its safety margin, V(max(1, 0.1 * lease_seconds)) seconds,
        is left on its own clock; another run may take the lease over one margin after it expired.
    type: float
    default: 120
  break_lock:
    description:
      - With V(acquire), take over a lease that another run still holds. Only for an operator who knows that run is gone.
    type: bool
    default: false
  instance_id:
    description:
      - With V(update_instance), the instance to update (required then). An instance not yet in the record is added.
    type: str
  status:
    description:
      - With V(update_instance), the new status of the instance.
      - V(in-progress) sets C(startTime) the first time; V(success), V(failed) and V(skipped) set C(endTime).
    type: str
    choices: [pending, in-progress, success, failed, skipped]
  phase:
    description:
      - With V(update_instance), the phase the instance reached; its time is recorded in C(phaseTimes).
    type: str
    choices: [pending, pre-stop-hook, stopping, force-stopping, stopped, placed, starting, running, post-start-hook, verified]
  error_message:
    description:
      - With V(update_instance), why the instance failed or was skipped.
    type: str
  force_stop_used:
    description:
      - With V(update_instance), whether the instance had to be force-stopped.
    type: bool
  retry_count:
    description:
      - With V(update_instance), how many times the migration of the instance was retried (an absolute count, not an increment).
    type: int
  target_host_id:
    description:
      - With V(update_instance), the replacement host the instance goes to.
    type: str
  error_details:
    description:
      - With V(finalize), the overall error to record. When omitted and the record fails, a summary of the failed
        and unfinished instances is recorded.
    type: str
  ttl_days:
    description:
      - With V(finalize), days until DynamoDB's TTL removes the record.
    type: float
    default: 7
  abort_reason:
    description:
      - With V(cancel), why the failover is cancelled; recorded with the request and shown in the summary,
        the notification and the status document.
    type: str
  requested_by:
    description:
      - With V(cancel), who asks, for humans. Defaults to V(user@host) of the controller.
    type: str
notes:
  - In check mode nothing is written; the record is read and the module reports what would happen, failing as it
    would without check mode (for instance when another live run holds the lease).
extends_documentation_fragment:
  - dedicated_hosts.failover.record
  - dedicated_hosts.failover.record.kind
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Take the lease on the failed host's record (creates or resumes it)
  dedicated_hosts.failover.migration_record:
    host_id: h-0123456789abcdef0
    action: acquire
    run_id: "{{ failover_run_id }}"
    lease_seconds: 120
  register: lock

- name: Record that an instance is being stopped
  dedicated_hosts.failover.migration_record:
    host_id: h-0123456789abcdef0
    action: update_instance
    run_id: "{{ failover_run_id }}"
    instance_id: i-0123456789abcdef0
    status: in-progress
    phase: stopping

- name: Record a failed instance
  dedicated_hosts.failover.migration_record:
    host_id: h-0123456789abcdef0
    action: update_instance
    run_id: "{{ failover_run_id }}"
    instance_id: i-0123456789abcdef0
    status: failed
    error_message: "InsufficientCapacity on h-0fedcba9876543210"
    retry_count: 1

- name: Finish the record, keep it for 7 days and release the lease
  dedicated_hosts.failover.migration_record:
    host_id: h-0123456789abcdef0
    action: finalize
    run_id: "{{ failover_run_id }}"
    ttl_days: 7

- name: Ask the running failover of h-0123456789abcdef0 to stop
  dedicated_hosts.failover.migration_record:
    host_id: h-0123456789abcdef0
    action: cancel
    abort_reason: "application team asked to keep the instances where they are"

- name: Take over the lease of a run that is known to be gone
  dedicated_hosts.failover.migration_record:
    host_id: h-0123456789abcdef0
    action: acquire
    break_lock: true

- name: Take the lease of the failback to h-0123456789abcdef0 (its record is failback#h-0123456789abcdef0)
  dedicated_hosts.failover.migration_record:
    host_id: h-0123456789abcdef0
    record: failback
    action: acquire
    run_id: "{{ failback_run_id }}"

- name: Ask the running failback to h-0123456789abcdef0 to stop
  dedicated_hosts.failover.migration_record:
    host_id: h-0123456789abcdef0
    record: failback
    action: cancel
    abort_reason: "the original host is to be inspected first"
"""

RETURN = r"""
run_id:
  description: The run id used (generated by V(acquire) when none was given).
  returned: always
  type: str
  sample: run-4f6c2a9d0e1b7c35
record:
  description:
    - The record after the action (before it, in check mode), normalised (missing fields get defaults) and with
      snake_case keys. Empty when there is no record (check mode before the first V(acquire)).
  returned: always
  type: dict
  sample:
    host_id: h-0123456789abcdef0
    state: processing
    reserved_host_id: h-0fedcba9876543210
    replacement_host_ids: [h-0fedcba9876543210]
    created_at: 1795758617
    updated_at: 1795758640
    total_instances: 1
    successful_migrations: 0
    failed_migrations: 0
    skipped_migrations: 0
    instance_migrations:
      i-0123456789abcdef0:
        status: in-progress
        phase: stopping
        phase_times: {pending: "2026-11-27T05:50:17Z", stopping: "2026-11-27T05:50:40Z"}
        start_time: "2026-11-27T05:50:40Z"
        end_time: null
        retry_count: 0
        error_message: null
        target_host_id: h-0fedcba9876543210
        original_state: running
        instance_type: m5.large
        force_stop_used: false
    lease_owner: ops@bastion
    lease_run_id: run-4f6c2a9d0e1b7c35
    lease_expires_at: 1795758760.5
    lease_seconds: 120
    lease_version: 1
    run_id: run-4f6c2a9d0e1b7c35
    record_version: 3
status:
  description:
    - The status document of the record (camelCase, the reference system's shape); see C(docs/record-schema.md).
  returned: when the record exists
  type: dict
  contains:
    hostId:
      description: The failed host.
      type: str
    state:
      description: V(pending), V(processing), V(complete), V(failed), V(cancelled) (V(healthy) in reference-system records).
      type: str
    reservedHostId:
      description: The first replacement host.
      type: str
    replacementHostIds:
      description: Every replacement host.
      type: list
      elements: str
    createdAt:
      description: Epoch seconds.
      type: float
    updatedAt:
      description: Epoch seconds.
      type: float
    migrationSummary:
      description:
        - C(totalInstances), C(successfulMigrations), C(failedMigrations), C(skippedMigrations),
          C(cancelledMigrations) (left unmoved by a cancel, in a C(cancelled) record), C(inProgressMigrations) (not
          finished yet) and C(progressPercentage) (skipped and cancelled count as done; 100 without instances).
      type: dict
    instanceMigrations:
      description: Instance id to its entry (status, phase, phaseTimes, startTime, endTime, retryCount, errorMessage, ...).
      type: dict
    errorDetails:
      description: The overall error, if any.
      type: str
    expirationTime:
      description: TTL epoch seconds, once finalized.
      type: int
    runId:
      description: The run that last held the lease.
      type: str
    lease:
      description: C(owner), C(runId), C(expiresAt) and C(version) of the current lease; null when released.
      type: dict
    cancel:
      description:
        - The cancel request addressed to the record's last run (C(runId), C(requestedBy), C(reason), C(requestedAt));
          null when there is none. While that run still holds the lease, the cancel is pending.
      type: dict
lease:
  description: The lease after the action and, for V(acquire), how it was obtained.
  returned: always
  type: dict
  contains:
    state:
      description:
        - Where the lease stood before the action for this run. V(none) (no record), V(free), V(stuck) (a
          C(processing) record that never had a lease and has not changed for 2400 s), V(unleased) (such a record
          changed more recently, where another system may be at work on it; taken only with O(break_lock)), V(ours),
          V(expired) or V(held) (another live run).
      type: str
    owner:
      description: Holder (user@host), null when released.
      type: str
    run_id:
      description: Holder's run id, null when released.
      type: str
    expires_at:
      description: Expiry, epoch seconds.
      type: float
    expires_at_iso:
      description: Expiry as an ISO 8601 UTC time.
      type: str
    seconds:
      description: Length of the lease.
      type: float
    version:
      description: Incremented by every take and renewal.
      type: int
    created:
      description: V(acquire) created the record.
      type: bool
    resumed:
      description: V(acquire) resumed an existing record.
      type: bool
    taken_over:
      description: V(acquire) took over an expired or stuck lease, or broke a live one.
      type: bool
    broke_lock:
      description: V(acquire) took over a live lease (O(break_lock=true)).
      type: bool
    previous_owner:
      description: Holder of the lease that was taken over (a fixed text for a record left in processing without a lease).
      type: str
    previous_run_id:
      description: Run id of the lease that was taken over.
      type: str
    kept_while_pid:
      description:
        - With V(acquire), the ansible-playbook process while which a detached lease keeper renews the lease every
          third of it, between this run's module tasks too; it ends with that process, or once the record is
          finalized, released or taken over. Null in check mode and when the module runs in no ansible-playbook run.
      type: int
final_state:
  description: With V(finalize), the state written (or that would be written, in check mode).
  returned: when O(action=finalize)
  type: str
  sample: complete
cancel:
  description: With V(cancel), the cancel request written (or that would be written, or that already stood).
  returned: when O(action=cancel)
  type: dict
  contains:
    run_id:
      description: The run asked to stop (the one that holds the lease).
      type: str
    requested_by:
      description: Who asked.
      type: str
    reason:
      description: O(abort_reason), when given.
      type: str
    requested_at:
      description: When, ISO 8601 UTC.
      type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.transformation import camel_dict_to_snake_dict

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.base import FailoverModule
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import record_key
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_instance_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import DEFAULT_LEASE_SECONDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_info
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_state
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import new_run_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import validate_lease_seconds
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import start_lease_keeper
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import stop_lease_keeper
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import PHASES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import STATUSES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import apply_instance_changes
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.status import status_document

ACTIONS = ("acquire", "renew", "release", "update_instance", "finalize", "cancel")
# update_instance option -> InstanceMigrations field
INSTANCE_OPTIONS = (
    ("status", "status"),
    ("phase", "phase"),
    ("error_message", "errorMessage"),
    ("force_stop_used", "forceStopUsed"),
    ("retry_count", "retryCount"),
    ("target_host_id", "targetHostId"),
)


def validate(params):
    """Check every id and number before any AWS call."""
    validate_host_id(params["host_id"], what="option host_id")
    if params.get("instance_id") is not None:
        validate_instance_id(params["instance_id"], what="option instance_id")
    if params.get("target_host_id") is not None:
        validate_host_id(params["target_host_id"], what="option target_host_id")
    validate_lease_seconds(params["lease_seconds"])
    if params["ttl_days"] <= 0:
        raise InvalidInputError("option ttl_days must be positive, got %r" % params["ttl_days"], value=params["ttl_days"])


def instance_change(params):
    return dict((field, params[option]) for option, field in INSTANCE_OPTIONS if params.get(option) is not None)


def do_acquire(record, params, check_mode):
    if check_mode:
        outcome = record.preview_acquire(params["lease_seconds"], params["break_lock"])
        return True, outcome
    outcome = record.acquire(params["lease_seconds"], params["break_lock"])
    return True, outcome


def do_renew(record, params, check_mode):
    if check_mode:
        record.check_owner(record.item)
        return True, {}
    record.renew(params["lease_seconds"])
    return True, {}


def do_release(record, params, check_mode):
    if check_mode:
        item = record.item
        if item is None or not item.get("LeaseRunId"):
            return False, {}
        record.check_owner(item)
        return True, {}
    return record.release(), {}


def do_update_instance(record, params, check_mode):
    changes = {params["instance_id"]: instance_change(params)}
    if check_mode:
        item = record.item
        record.check_owner(item)
        merged = apply_instance_changes(item["InstanceMigrations"], changes, record.now_iso())
        return merged != item["InstanceMigrations"], {}
    record.update_instances(changes)
    return record.changed, {}


def do_finalize(record, params, check_mode):
    ttl_seconds = params["ttl_days"] * 86400.0
    if check_mode:
        item = record.item
        if item is not None and record.is_finalized_by_run(item):
            return False, {"final_state": item["State"]}
        record.check_owner(item)
        return True, {"final_state": record.preview_finalize(item, params["error_details"])}
    item = record.finalize(error_details=params["error_details"], ttl_seconds=ttl_seconds)
    return record.changed, {"final_state": item["State"]}


def do_cancel(record, params, check_mode):
    changed, request = record.request_cancel(params["requested_by"], params["abort_reason"], check_mode=check_mode)
    return changed, {"cancel": camel_dict_to_snake_dict(request)}


HANDLERS = dict(
    acquire=do_acquire,
    renew=do_renew,
    release=do_release,
    update_instance=do_update_instance,
    finalize=do_finalize,
    cancel=do_cancel,
)


def run(module):
    params = module.params
    validate(params)
    run_id = params["run_id"] or new_run_id()
    record = MigrationRecord(module.record_client("dynamodb"), params["table"], record_key(params["host_id"], params["record"]), run_id,
                             owner=params["owner"])
    if params["action"] in ("finalize", "release") and not module.check_mode:
        # The run's last write: its lease keeper is gone before it, so no renewal of the keeper's follows it.
        stop_lease_keeper(params["table"], record.host_id, run_id)
    # acquire reads the record itself; the other actions start from the record as it is now.
    before = None if params["action"] == "acquire" else record.load()
    prior_lease_state = lease_state(before, run_id, record.now())
    changed, extra = HANDLERS[params["action"]](record, params, module.check_mode)
    item = record.item
    lease = lease_info(item)
    if params["action"] == "acquire":
        lease.update(extra)
        lease["state"] = lease.pop("lease_state")
        # The lease held between this run's module tasks too (lease_keeper.py), with a client of its own.
        lease["kept_while_pid"] = None if module.check_mode else start_lease_keeper(
            module.record_client("dynamodb"), params["table"], record.host_id, run_id, record.owner, params["lease_seconds"])
        extra = {}
    else:
        lease["state"] = prior_lease_state
    result = dict(changed=changed, run_id=run_id, record=camel_dict_to_snake_dict(item) if item else {}, lease=lease)
    if item is not None:
        result["status"] = status_document(item)
    result.update(extra)
    return result


def main():
    argument_spec = dict(
        host_id=dict(type="str", required=True),
        action=dict(type="str", required=True, choices=list(ACTIONS)),
        run_id=dict(type="str"),
        owner=dict(type="str"),
        lease_seconds=dict(type="float", default=DEFAULT_LEASE_SECONDS),
        break_lock=dict(type="bool", default=default_of("break_lock")),
        instance_id=dict(type="str"),
        status=dict(type="str", choices=list(STATUSES)),
        phase=dict(type="str", choices=list(PHASES)),
        error_message=dict(type="str"),
        force_stop_used=dict(type="bool"),
        retry_count=dict(type="int"),
        target_host_id=dict(type="str"),
        error_details=dict(type="str"),
        ttl_days=dict(type="float", default=default_of("record_ttl_days")),
        abort_reason=dict(type="str"),
        requested_by=dict(type="str"),
    )
    module = FailoverModule(
        argument_spec,
        record_options=True,
        record_kind=True,
        required_if=[
            ("action", "renew", ["run_id"]),
            ("action", "release", ["run_id"]),
            ("action", "update_instance", ["run_id", "instance_id"]),
            ("action", "finalize", ["run_id"]),
        ],
    )
    module.run(run)


if __name__ == "__main__":
    main()
