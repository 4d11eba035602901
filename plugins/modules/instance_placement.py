#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: instance_placement
short_description: Move the instances of a failed Dedicated Host to their planned hosts
version_added: 0.1.0
author:
  - Dedicated Hosts Failover maintainers (@dedicated-hosts)
description:
  - Moves a set of instances to their target Dedicated Hosts in one call; stop, ModifyInstancePlacement
    (C(HostId) the target, C(Tenancy=host), the instance's own affinity kept) and, for an instance that was
    running, start and verification. An instance that was stopped stays stopped; it succeeds once placed.
  - Stops are batched (one StopInstances request for many instances) and graceful; an instance still
    C(stopping) after O(force_stop_after) seconds is force-stopped. Instances are force-stopped at once when
    the failed host is C(under-assessment) (see O(force_stop_immediately)) or when their system status is
    C(impaired).
  - One poller serves every instance in flight (one DescribeInstances per poll tick), and starts are batched
    and paced to stay inside EC2's StartInstances request limit (a bucket of 5 requests refilling 2 per second).
    When a batched request fails because of one instance, the others are retried one by one.
  - Capacity errors on start (C(InsufficientInstanceCapacity), C(InsufficientCapacityOnHost)) get
    O(start_attempts) attempts with a growing pause between them.
  - When ModifyInstancePlacement fails for an instance that was running, the instance is started again where
    it is (its source host) unless O(force_stop_immediately) is in effect, and the result says so.
  - Each instance's phase (C(pending), C(stopping), C(force-stopping), C(stopped), C(placed), C(starting),
    C(running), C(verified)) is written to the host's migration record as it goes, with one write per poll
    tick for every instance that changed.
  - The caller (the C(host_failover) role) holds the host's lease under O(run_id). The module renews it at
    once and on every tick, and checks before each EC2 change that the lease has comfortably not expired;
    if the lease is lost, it stops acting at once and fails, leaving every instance where it is. Calling the
    module again (after taking the lease again) resumes from EC2's current state; an instance already on its
    target host in its original state is reported as a success that changed nothing.
  - A failed instance does not fail the task; see RV(instances) and RV(summary). The task fails on bad input,
    a lost lease, or an AWS error that concerns the whole migration.
  - In check mode nothing is changed and nothing is written; RV(instances[].planned_actions) says what would be done.
  - A cancel request in the record (C(playbooks/abort.yml), or M(dedicated_hosts.failover.migration_record) with
    O(dedicated_hosts.failover.migration_record#module:action=cancel)) is seen at the next poll tick (read at most once
    a second). No further instance is stopped, every instance already stopping, stopped or placed is finished as
    planned, and the others are left where they are with status V(pending) and the reason; see RV(cancel).
  - SSM hooks (opt-in) run around each instance's move, inside this one call and its poll loop. With
    O(pre_stop_ssm_document), each running instance runs that SSM document (Run Command) before its stop, and it is
    stopped only once the hook succeeded (or failed under O(pre_stop_hook_failure=ignore)). With
    O(post_start_ssm_document), each instance that was running runs that document once it runs on its new host.
    Hooks are sent with one SendCommand for up to 50 instances and read with one ListCommandInvocations per command
    per poll tick, so a hook never holds up another instance's move; at most O(hook_concurrency) invocations of a
    hook are in flight. Instances whose SSM agent is not online (one DescribeInstanceInformation before the first
    stop) get their failure policy at once, with the reason C(SSM agent not online). In check mode no hook runs.
  - A cancel request seen while an instance's pre-stop hook runs leaves the instance where it is, not stopped.
  - SIGINT or SIGTERM (Ctrl-C, an AWX job cancel) during the move takes the same path, and the module then finishes
    the record itself (V(cancelled), lease released), since ansible-playbook exits on the same signal. A second
    signal stops the module at once; the lease and a resumed run cover that, as after a crash.
options:
  failed_host_id:
    description:
      - The failed (source) host; the migration record is keyed by it. C(h-) followed by 8 or 17 hex digits.
      - With O(record=failback), the original host the instances go back to; the failback's record is keyed by it.
    type: str
    required: true
  run_id:
    description:
      - The run id under which the lease of the migration record is held.
    type: str
    required: true
  placements:
    description:
      - The instances to move and their target hosts, for a caller with a plan of its own (the failback's, say).
      - Omitted, the module moves the plan M(dedicated_hosts.failover.replacement_host) stored in the migration record
        (C(Plan), C(PlanPreflight)), each instance to its current target (a start refused on a full host may have moved
        it to another host of the plan since), with preflight's timings, notes and stop protection lift, and its
        original state and type from the record's instance map. A record with no plan is refused. See O(instance_ids).
    type: list
    elements: dict
    suboptions:
      instance_id:
        description: The instance, C(i-) followed by 8 or 17 hex digits.
        type: str
        required: true
      target_host_id:
        description: The host to move it to.
        type: str
        required: true
      original_state:
        description:
          - The instance's state before the failover. A V(running) instance is started on its target host;
            a V(stopped) one stays stopped.
          - Defaults to the state recorded in the migration record, else to the instance's current state
            (V(stopped) if stopped, V(running) otherwise).
        type: str
        choices: [running, stopped]
      force_stop_after:
        description:
          - This instance's graceful stop time before Force, when preflight set one (Windows and Mac instances,
            docs/preflight.md); defaults to O(force_stop_after).
        type: float
      stop_timeout:
        description: This instance's stop timeout, when preflight set one (Mac instances); defaults to O(stop_timeout).
        type: float
      start_timeout:
        description: This instance's start timeout, when preflight set one (Mac instances); defaults to O(start_timeout).
        type: float
      notes:
        description: Preflight's notes on the instance (for example a public IPv4 address that will change); returned as they are.
        type: list
        elements: str
      lift_stop_protection:
        description:
          - Turn stop protection (C(DisableApiStop)) off before the move and on again after it, whatever the outcome.
            Preflight sets it only when the operator opted in (C(preflight_allow=stop-protection)).
          - The lift is recorded in the instance's C(stopProtectionLifted) before the call. Whichever run holds the
            lease when a move ends turns it on again for every instance the record says was lifted, this run's or a
            crashed run's; a run that lost its lease leaves it to the holder.
        type: bool
        default: false
  instance_ids:
    description:
      - Only these instances of the plan (O(placements), else the record's); omitted, every instance of the plan.
      - With O(retry=true), the instances a retry pass moves again, each to its current target in the record.
      - An instance that is not in the plan is refused as bad input.
    type: list
    elements: str
    version_added: 0.2.0
  concurrency:
    description:
      - At most this many instances are in flight (between stop and verified) at once; when one finishes the
        next one enters.
      - Omitted (or V(null)), every instance moves at once. V(0) or a negative number is refused as bad input.
    type: int
  spare_host_ids:
    description:
      - Further hosts of the plan (claimed or allocated by this failover) besides the targets of the instances moved.
      - When a start is refused with C(InsufficientCapacityOnHost) because the target host filled up after
        planning, the instance is moved (ModifyInstancePlacement again, then started) to another of these hosts
        or of the moved instances' targets that has room for it, at most twice; when none has room it is left stopped
        on its target and fails with a message saying so. The record's C(Plan) is updated with its new target.
      - Omitted, the hosts of the plan stored in the record (C(PlanHosts) and the targets in C(Plan)), so that a retry
        of one instance may use every host of the plan; none when the record holds no plan. V([]) names none.
    type: list
    elements: str
  force_stop_after:
    description:
      - Seconds an instance may stay C(stopping) after a graceful stop before it is force-stopped.
      - AWS performs a hard shutdown itself when the OS does not shut down "within a few minutes", and reports
        of graceful stops longer than 120 seconds exist; two minutes bounds the outage of a hung guest
        while leaving a healthy OS the time to shut down cleanly.
    type: float
    default: 120
  stop_timeout:
    description:
      - Seconds after the first stop request after which an instance that has still not stopped fails.
      - Ten minutes is the ceiling of botocore's C(InstanceStopped) waiter (15 s x 40) and the point after
        which AWS asks users to request help for an instance stuck in C(stopping).
    type: float
    default: 600
  start_timeout:
    description:
      - Seconds one start attempt may take to reach C(running) on the target host.
      - Measured starts take 5 to 30 seconds; ten minutes is the ceiling of botocore's C(InstanceRunning) waiter.
    type: float
    default: 600
  poll_interval:
    description:
      - Seconds between poll ticks (one DescribeInstances for every instance in flight, one record write).
      - Each instance's C(stopped) and C(running) are seen up to this long late, so the interval adds to the
        downtime; one DescribeInstances a second for a whole host stays far below EC2's request limit
        (a bucket of 100 refilling 20 a second), even with several hosts failed over at once.
      - Right after a tick that sent a stop or start request, the next tick comes after a quarter of the interval,
        and the wait doubles back to the interval; a quick stop or start is seen at once, a slow one costs two or
        three more DescribeInstances.
    type: float
    default: 1
  start_attempts:
    description:
      - StartInstances attempts per instance when a start fails for capacity reasons
        (C(InsufficientInstanceCapacity), C(InsufficientCapacityOnHost)).
      - The pause before attempt n+1 is 2 x O(poll_interval) x 2^(n-1) seconds.
    type: int
    default: 3
  lease_seconds:
    description:
      - Length of the lease on the migration record, renewed while the module runs.
    type: float
    default: 120
  force_stop_immediately:
    description:
      - Force-stop every instance at once instead of a graceful stop first.
      - Defaults to V(true) when the failed host is C(under-assessment) (its instances are unreachable, a graceful
        stop would only wait for O(force_stop_after)) and V(false) otherwise; the module reads the host for this.
      - With O(record=failback) it defaults to V(false), since the instances are on the healthy hosts the failover put them on.
    type: bool
  rollback:
    description:
      - When ModifyInstancePlacement fails for an instance that was running, start it again on the host it is
        on. The instance is still reported as failed.
    type: bool
    default: true
  retry:
    description:
      - This call is a retry pass for instances that failed; each one's C(retryCount) in the record goes up by one.
        Name them with O(instance_ids).
    type: bool
    default: false
  pre_stop_ssm_document:
    description:
      - The SSM document (name or ARN, for example C(AWS-RunShellScript) or your own drain document) run through SSM
        Run Command on each running instance before its stop (drain, flush, quiesce). Omitted, no pre-stop hook runs.
      - A resumed run runs it again on an instance still running on the failed host, never on one already stopped or
        moved; write the document so that running it twice does no harm.
    type: str
    version_added: 0.2.0
  pre_stop_ssm_document_parameters:
    description:
      - The document's parameters (SendCommand C(Parameters)); a value may be a string or a list of strings.
    type: dict
    version_added: 0.2.0
    default: {}
  pre_stop_ssm_document_timeout:
    description:
      - Seconds the pre-stop hook may take on one instance, counted from its SendCommand; after that it counts as failed
        (timed out). The command itself is not cancelled; it ends with the instance's stop, or by its own timeout.
    type: float
    version_added: 0.2.0
    default: 300
  pre_stop_hook_failure:
    description:
      - What a failed, timed-out or unreachable (SSM agent not online) pre-stop hook does to its instance.
      - V(skip) leaves the instance running on the failed host, not stopped, with status V(skipped) and the hook's
        output as the reason; the others move. V(fail) does the same with status V(failed) (the run fails).
        V(ignore) stops and moves the instance as if the hook had succeeded; the hook's output is in RV(instances[].hooks).
    type: str
    version_added: 0.2.0
    choices: [skip, fail, ignore]
    default: skip
  post_start_ssm_document:
    description:
      - The SSM document run on each instance that was running before the failover once it runs on its new host
        (warm up, verify). Omitted, no post-start hook runs. The instance's agent may take a moment to connect after the
        start, so the hook waits for it, within O(post_start_ssm_document_timeout).
    type: str
    version_added: 0.2.0
  post_start_ssm_document_parameters:
    description:
      - The document's parameters (SendCommand C(Parameters)); a value may be a string or a list of strings.
    type: dict
    version_added: 0.2.0
    default: {}
  post_start_ssm_document_timeout:
    description:
      - Seconds the post-start hook may take on one instance, counted from its SendCommand (and, before that, the
        longest wait for the instance's SSM agent to come online).
    type: float
    version_added: 0.2.0
    default: 300
  post_start_hook_failure:
    description:
      - What a failed, timed-out or unreachable post-start hook does to its instance, which has already moved and runs
        on its new host either way.
      - V(fail) reports the instance as V(failed) with the hook's output in its error (the run fails); V(ignore)
        reports it as a success, the hook's output in RV(instances[].hooks). There is no V(skip), since nothing is left to skip.
    type: str
    version_added: 0.2.0
    choices: [fail, ignore]
    default: fail
  hook_concurrency:
    description:
      - At most this many invocations of each hook are in flight at once (the others wait for a slot, their timeout not
        yet counting). The move's own O(concurrency) bounds the instances in flight too.
    type: int
    version_added: 0.2.0
    default: 50
  progress:
    description:
      - Show a line saying where the instances are while the move runs (when that changes, at most every 5 seconds, and
        once at the end), under the task in ansible-playbook's output and an AWX job's.
      - V(false) shows none, for quiet job logs; the task's result, the record and its status document are the same either way.
      - The lines are shown only where the module runs in a fork of the controller (the local connection); elsewhere
        there are none either way.
    type: bool
    default: true
extends_documentation_fragment:
  - dedicated_hosts.failover.assume_role
  - dedicated_hosts.failover.record
  - dedicated_hosts.failover.record.kind
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Move the instances of h-0123456789abcdef0 to the hosts replacement_host planned (the plan in the record)
  dedicated_hosts.failover.instance_placement:
    failed_host_id: h-0123456789abcdef0
    run_id: "{{ lease.run_id }}"
    concurrency: 10
  register: migration

- name: Drain each instance through SSM before its stop, and warm it up once it runs on its new host
  dedicated_hosts.failover.instance_placement:
    failed_host_id: h-0123456789abcdef0
    run_id: "{{ lease.run_id }}"
    pre_stop_ssm_document: AWS-RunShellScript
    pre_stop_ssm_document_parameters:
      commands: ["systemctl stop app-worker", "/opt/app/bin/drain --wait 60"]
    pre_stop_ssm_document_timeout: 120
    pre_stop_hook_failure: skip
    post_start_ssm_document: AWS-RunShellScript
    post_start_ssm_document_parameters:
      commands: ["/opt/app/bin/self-test"]
  register: migration

- name: Report each instance
  ansible.builtin.debug:
    msg: "{{ item.instance_id }}: {{ item.status }} ({{ item.phase }}) {{ item.error or '' }}"
  loop: "{{ migration.instances }}"

- name: Retry the instances that failed for a retryable reason, once, each to its current target
  dedicated_hosts.failover.instance_placement:
    failed_host_id: h-0123456789abcdef0
    run_id: "{{ lease.run_id }}"
    retry: true
    instance_ids: >-
      {{ migration.instances | selectattr('status', 'equalto', 'failed') | selectattr('retryable')
         | map(attribute='instance_id') | list }}
  when: migration.instances | selectattr('status', 'equalto', 'failed') | selectattr('retryable') | list | length > 0

- name: Move two instances to hosts of your choosing (a plan of your own)
  dedicated_hosts.failover.instance_placement:
    failed_host_id: h-0123456789abcdef0
    run_id: "{{ lease.run_id }}"
    placements:
      - {instance_id: i-0123456789abcdef0, target_host_id: h-0fedcba9876543210}
      - {instance_id: i-0fedcba9876543210, target_host_id: h-0fedcba9876543210, original_state: stopped}
"""

RETURN = r"""
instances:
  description: One result per instance moved (of O(placements), else of the record's plan, narrowed by O(instance_ids)), in the plan's order.
  returned: always
  type: list
  elements: dict
  contains:
    instance_id:
      description: The instance.
      type: str
    status:
      description:
        - V(success), V(failed) or V(skipped) (the instance no longer exists or is terminated).
        - V(pending) when a cancel request left the instance where it was, untouched.
      type: str
    changed:
      description: Whether this run changed the instance (an instance already in place reports V(false)).
      type: bool
    phase:
      description: The last phase reached.
      type: str
      sample: verified
    attempts:
      description: StartInstances attempts made for the instance.
      type: int
    force_stop_used:
      description: Whether the instance was force-stopped.
      type: bool
    timings:
      description: Seconds spent stopping, placing and starting, and in total (V(null) for a step not done).
      type: dict
      sample: {stop_seconds: 41.2, placement_seconds: 0.4, start_seconds: 17.9, total_seconds: 65.3}
    source_host_id:
      description: The host the instance was on when the module first saw it.
      type: str
    target_host_id:
      description: Its target host.
      type: str
    original_state:
      description: V(running) or V(stopped), the state the instance is restored to.
      type: str
    final_state:
      description: The instance's state when last seen.
      type: str
    public_ip_before:
      description: The public IPv4 address before the move (it changes across a stop and start unless it is an Elastic IP).
      type: str
    public_ip_after:
      description: The public IPv4 address after the move.
      type: str
    error:
      description: Why the instance failed or was skipped, and where it is left.
      type: str
    error_code:
      description: AWS's error code, or V(StopTimeout), V(StartTimeout), V(WrongHost), V(UnexpectedState).
      type: str
    retryable:
      description: Whether a later retry may succeed (capacity, throttling, transient states).
      type: bool
    rolled_back:
      description: Whether the instance was started again on its source host after a placement failure.
      type: bool
    replaced_from:
      description:
        - The targets the instance left because they were full at start time (C(InsufficientCapacityOnHost));
          RV(instances[].target_host_id) is where it was moved instead.
      type: list
      elements: str
    planned_actions:
      description: In check mode, what would be done (V(stop), V(force-stop), V(modify-placement), V(start)).
      type: list
      elements: str
    hooks:
      description: The SSM hooks that ended on the instance (none without hooks), pre-stop first.
      type: list
      elements: dict
      contains:
        hook:
          description: V(pre_stop) or V(post_start).
          type: str
        document:
          description: The SSM document.
          type: str
        status:
          description: V(success), V(failed), V(timeout) or V(offline) (the SSM agent was not online).
          type: str
        command_id:
          description: The SSM command id (V(null) when the hook was not sent).
          type: str
        output:
          description: The end of the hook's output (at most 1,000 characters).
          type: str
        message:
          description: One line saying how the hook ended, with its output; also in the record's C(hooks) of the instance.
          type: str
summary:
  description: Counts of the results.
  returned: always
  type: dict
  sample: {total: 8, success: 7, failed: 1, skipped: 0, changed: 8, force_stopped: 1}
force_stop_immediately:
  description: Whether every instance was force-stopped at once (given, or derived from the failed host's state).
  returned: always
  type: bool
cancel:
  description:
    - The cancel request addressed to this run, when there was one; V(null) otherwise. The instances it left unmoved
      have RV(instances[].status=pending) and the reason in RV(instances[].error).
  returned: always
  type: dict
  contains:
    run_id:
      description: The run the request was addressed to.
      type: str
    requested_by:
      description: Who asked (user@host, the AWX user, or the signal that interrupted the run).
      type: str
    reason:
      description: Why (O(dedicated_hosts.failover.migration_record#module:abort_reason)); absent when none was given.
      type: str
    requested_at:
      description: When, ISO 8601 UTC.
      type: str
final_state:
  description:
    - The record state the module wrote itself after a signal (V(cancelled), or V(complete)/V(failed) when nothing was
      left to cancel); V(null) when the role finishes the record, as usual.
  returned: always
  type: str
"""

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.base import FailoverModule
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import DEFAULT_CONCURRENCY
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import DEFAULT_FAILURE_POLICY
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import DEFAULT_TIMEOUT
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import FAILURE_POLICIES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import HOOK_KINDS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import hooks_from_options
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import record_key
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_instance_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import move_instances
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import progress_writer
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord

# The module's options that the engine's move_instances() takes as they are.
MOVE_OPTIONS = ("failed_host_id", "instance_ids", "concurrency", "spare_host_ids", "force_stop_after", "stop_timeout", "start_timeout", "poll_interval",
                "start_attempts", "force_stop_immediately", "rollback", "retry", "lease_seconds", "hook_concurrency")


def validate(params):
    """Refuse bad input before any AWS call; returns the hooks (pre_stop_hook, post_start_hook) of the options."""
    validate_host_id(params["failed_host_id"], what="failed_host_id")
    if not (params["run_id"] or "").strip():
        raise InvalidInputError("run_id must be a non-empty string")
    for index, placement in enumerate(params["placements"] or []):
        validate_instance_id(placement["instance_id"], what=f"placements[{index}].instance_id")
        validate_host_id(placement["target_host_id"], what=f"placements[{index}].target_host_id")
    for index, instance_id in enumerate(params["instance_ids"] or []):
        validate_instance_id(instance_id, what=f"instance_ids[{index}]")
    for option in ("force_stop_after", "stop_timeout", "start_timeout", "poll_interval", "lease_seconds"):
        if params[option] <= 0:
            raise InvalidInputError(f"{option} must be greater than 0, got {params[option]}")
    if params["start_attempts"] < 1:
        raise InvalidInputError(f"start_attempts must be at least 1, got {params['start_attempts']}")
    if params["concurrency"] is not None and params["concurrency"] <= 0:
        raise InvalidInputError(
            f"concurrency must be 1 or more (omit it to move every instance at once), got {params['concurrency']}",
            value=params["concurrency"],
        )
    for index, host_id in enumerate(params["spare_host_ids"] or []):
        validate_host_id(host_id, what=f"spare_host_ids[{index}]")
    return hooks_from_options(params)


def run(module):
    params = module.params
    hooks = validate(params)
    ec2 = module.aws_client("ec2")
    # The hooks run in the hosts' account, like the EC2 calls; without a hook no SSM client (and no SSM permission) is needed.
    ssm = module.aws_client("ssm") if any(hooks.values()) and not module.check_mode else None
    record = MigrationRecord(module.record_client("dynamodb"), params["table"], record_key(params["failed_host_id"], params["record"]),
                             params["run_id"])
    options = dict(hooks, record_kind=params["record"], **{name: params[name] for name in MOVE_OPTIONS})
    progress = progress_writer(params["failed_host_id"]) if params["progress"] else None
    return move_instances(ec2, record, params["placements"], options, ssm_client=ssm, progress=progress, check_mode=module.check_mode)


def main():
    placement_spec = dict(
        instance_id=dict(type="str", required=True),
        target_host_id=dict(type="str", required=True),
        original_state=dict(type="str", choices=["running", "stopped"]),
        force_stop_after=dict(type="float"),
        stop_timeout=dict(type="float"),
        start_timeout=dict(type="float"),
        notes=dict(type="list", elements="str"),
        lift_stop_protection=dict(type="bool", default=False),
    )
    argument_spec = dict(
        failed_host_id=dict(type="str", required=True),
        run_id=dict(type="str", required=True),
        placements=dict(type="list", elements="dict", options=placement_spec),
        instance_ids=dict(type="list", elements="str"),
        concurrency=dict(type="int"),
        spare_host_ids=dict(type="list", elements="str"),
        force_stop_after=dict(type="float", default=default_of("force_stop_after")),
        stop_timeout=dict(type="float", default=default_of("stop_timeout")),
        start_timeout=dict(type="float", default=default_of("start_timeout")),
        poll_interval=dict(type="float", default=default_of("poll_interval")),
        start_attempts=dict(type="int", default=default_of("start_attempts")),
        lease_seconds=dict(type="float", default=default_of("failover_lease_seconds")),
        force_stop_immediately=dict(type="bool"),
        rollback=dict(type="bool", default=True),
        retry=dict(type="bool", default=False),
        hook_concurrency=dict(type="int", default=DEFAULT_CONCURRENCY),
        progress=dict(type="bool", default=default_of("failover_progress")),
    )
    for kind in HOOK_KINDS:
        argument_spec.update({
            kind + "_ssm_document": dict(type="str"),
            kind + "_ssm_document_parameters": dict(type="dict", default=default_of(kind + "_ssm_document_parameters")),
            kind + "_ssm_document_timeout": dict(type="float", default=DEFAULT_TIMEOUT[kind]),
            kind + "_hook_failure": dict(type="str", choices=list(FAILURE_POLICIES[kind]), default=DEFAULT_FAILURE_POLICY[kind]),
        })
    module = FailoverModule(argument_spec=argument_spec, record_options=True, assume_role=True, record_kind=True)
    module.run(run)


if __name__ == "__main__":
    main()
