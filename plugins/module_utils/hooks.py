# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSM Run Command hooks around the move of an instance: send, poll, classify, with a bound on those in flight.

A pre-stop hook runs on a running instance before its stop (drain, flush, quiesce); a post-start hook on an instance
once it runs on its new host (warm up, verify). The migration's poll loop drives a ``HookRunner`` per hook: it queues
instances, and each tick ``tick()`` sends what the bound allows (one SendCommand for up to 50 instances: every
instance of a hook shares its document and parameters) and reads every command still running with one paginated
ListCommandInvocations, so a hook never holds up the move of another instance. Each instance's timeout is counted from
its own SendCommand.

An instance whose SSM agent is not online (DescribeInstanceInformation) cannot run a hook: for a pre-stop hook that is
known at once (``check_agents`` before the first stop), and the hook's failure policy applies with the reason
``AGENT_OFFLINE``; a post-start hook waits, within its timeout, for the agent of the restarted instance to come back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import Mapping
from typing import Optional

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import error_code
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import is_client_error
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import paginate
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError

# Phases of an instance's record entry while its hook runs (schema.PHASES lists them among the move's phases).
PRE_STOP_HOOK = "pre-stop-hook"
POST_START_HOOK = "post-start-hook"
HOOK_PHASES = (PRE_STOP_HOOK, POST_START_HOOK)

# What a failing, timed-out or unreachable hook does to its instance (docs/operator-guide.md#hooks-around-the-move):
# skip: the instance is left where it is, not stopped, with the hook's output as the reason (pre-stop only: after
# the start the instance has already moved); fail: the instance fails; ignore: the move goes on as if it succeeded.
HOOK_KINDS = ("pre_stop", "post_start")
FAILURE_POLICIES = {"pre_stop": ("skip", "fail", "ignore"), "post_start": ("fail", "ignore")}
DEFAULT_FAILURE_POLICY = dict((kind, default_of(kind + "_hook_failure")) for kind in HOOK_KINDS)
# Five minutes: a drain that takes longer is better handled by the operator than waited for.
DEFAULT_TIMEOUT = dict((kind, default_of(kind + "_ssm_document_timeout")) for kind in HOOK_KINDS)
DEFAULT_CONCURRENCY = default_of("hook_concurrency")  # the most instance ids one SendCommand takes
SEND_BATCH = 50
AGENT_BATCH = 50  # instance ids per DescribeInstanceInformation filter
# SendCommand's TimeoutSeconds (delivery) is at least 30 seconds.
MIN_DELIVERY_TIMEOUT = 30
# The most output kept per instance (ListCommandInvocations gives up to 2,500 characters per plugin).
OUTPUT_CHARS = 1000

AGENT_OFFLINE = "SSM agent not online"

SUCCESS = "success"
FAILED = "failed"
TIMED_OUT = "timeout"
OFFLINE = "offline"
# SSM's final invocation statuses; anything else (Pending, InProgress, Delayed, Cancelling) is still running.
FINAL_STATUSES = {
    "Success": SUCCESS,
    "Failed": FAILED,
    "Cancelled": FAILED,
    "Terminated": FAILED,
    "InvalidPlatform": FAILED,
    "AccessDenied": FAILED,
    "TimedOut": TIMED_OUT,
    "DeliveryTimedOut": TIMED_OUT,
    "ExecutionTimedOut": TIMED_OUT,
    "Undeliverable": OFFLINE,
}


class Hook(object):
    """One configured hook: an SSM document run with its parameters, a timeout and a failure policy."""

    def __init__(self, kind: str, document: str, parameters: Optional[Dict[str, List[str]]] = None, timeout: Optional[float] = None,
                 on_failure: Optional[str] = None) -> None:
        self.kind = kind
        self.document = document
        self.parameters = parameters or {}
        self.timeout = float(DEFAULT_TIMEOUT[kind] if timeout is None else timeout)
        self.on_failure = on_failure or DEFAULT_FAILURE_POLICY[kind]
        self.phase = PRE_STOP_HOOK if kind == "pre_stop" else POST_START_HOOK

    @property
    def label(self) -> str:
        return f"{self.kind.replace('_', '-')} hook {self.document}"


def hook_from_options(kind: str, document: Optional[str], parameters: Optional[Dict[str, Any]] = None, timeout: Optional[float] = None,
                      on_failure: Optional[str] = None) -> Optional[Hook]:
    """A Hook for ``kind`` (pre_stop or post_start) from the module's options, or None without a document.

    Raises InvalidInputError (before any AWS call) for an empty document name, parameters that are not a mapping of
    names to strings or lists of strings, a timeout of 0 or less, or a failure policy the hook does not take.
    """
    if document is None or not str(document).strip():
        if document is not None:
            raise InvalidInputError(f"{kind}_ssm_document must name an SSM document, got an empty string")
        return None
    if on_failure is not None and on_failure not in FAILURE_POLICIES[kind]:
        why = " (the instance has already moved when a post-start hook runs: nothing is left to skip)" if on_failure == "skip" else ""
        raise InvalidInputError(f"{kind}_hook_failure must be one of {', '.join(FAILURE_POLICIES[kind])}, got {on_failure!r}{why}",
                                value=on_failure)
    if timeout is not None and float(timeout) <= 0:
        raise InvalidInputError(f"{kind}_ssm_document_timeout must be greater than 0, got {timeout}", value=timeout)
    return Hook(kind, str(document).strip(), _ssm_parameters(kind, parameters), timeout, on_failure)


def hooks_from_options(options: Mapping[str, Any]) -> Dict[str, Optional[Hook]]:
    """The migration's ``pre_stop_hook`` and ``post_start_hook`` from instance_placement's hook options.

    ``options`` holds ``hook_concurrency`` and, for each kind, ``<kind>_ssm_document``, ``<kind>_ssm_document_parameters``,
    ``<kind>_ssm_document_timeout`` and ``<kind>_hook_failure``. Raises InvalidInputError (before any AWS call) as
    hook_from_options() does, and for a ``hook_concurrency`` below 1.
    """
    concurrency = options["hook_concurrency"]
    if concurrency < 1:
        raise InvalidInputError(f"hook_concurrency must be at least 1, got {concurrency}", value=concurrency)
    return {f"{kind}_hook": hook_from_options(kind, options[f"{kind}_ssm_document"], options[f"{kind}_ssm_document_parameters"],
                                              options[f"{kind}_ssm_document_timeout"], options[f"{kind}_hook_failure"])
            for kind in HOOK_KINDS}


def _ssm_parameters(kind, parameters):
    """SendCommand's Parameters: every value a list of strings (a single string or number becomes a list of one)."""
    if parameters in (None, ""):
        return {}
    if not isinstance(parameters, dict):
        raise InvalidInputError(f"{kind}_ssm_document_parameters must be a mapping of parameter names to values", value=parameters)
    converted = {}
    for name, value in parameters.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(item, (dict, list)) for item in values):
            raise InvalidInputError(f"{kind}_ssm_document_parameters.{name} must be a string or a list of strings", value=value)
        converted[str(name)] = [str(item) for item in values]
    return converted


class HookOutcome(object):
    """How a hook ended on one instance: ``status`` is success, failed, timeout or offline."""

    def __init__(self, status: str, output: Optional[str] = "", command_id: Optional[str] = None, reason: Optional[str] = None) -> None:
        self.status = status
        self.output = (output or "").strip()[-OUTPUT_CHARS:]
        self.command_id = command_id
        self.reason = reason

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS

    def describe(self, hook: Hook) -> str:
        """A line for the instance's error or notes: which hook, how it ended, and its output."""
        if self.status == OFFLINE:
            text = f"{hook.label} did not run: {self.reason or AGENT_OFFLINE}"
        elif self.status == TIMED_OUT:
            text = f"{hook.label} did not finish within {_seconds(hook.timeout)}s"
        elif self.status == FAILED:
            text = f"{hook.label} failed: {self.reason}" if self.reason else f"{hook.label} failed"
        else:
            text = f"{hook.label} succeeded"
        if self.command_id:
            text += f" (command {self.command_id})"
        return f"{text}: {self.output}" if self.output else text

    def as_dict(self, hook: Hook) -> Dict[str, Any]:
        return dict(hook=hook.kind, document=hook.document, status=self.status, command_id=self.command_id,
                    output=self.output, message=self.describe(hook))


def _seconds(value):
    return int(value) if float(value).is_integer() else value


class HookRunner(object):
    """Runs one Hook on the instances queued to it, driven by ``tick()`` from the migration's poll loop."""

    def __init__(self, ssm_client, hook: Hook, concurrency: Optional[int] = None, monotonic: Callable[[], float] = time.monotonic,
                 before_send: Optional[Callable[[], Any]] = None) -> None:
        self.ssm = retrying(ssm_client)
        self.hook = hook
        self.limit = int(concurrency or DEFAULT_CONCURRENCY)
        self._monotonic = monotonic
        self._before_send = before_send  # the migration's lease check: a hook is a change it must hold the lease for
        self.queued = []  # instance ids waiting for a slot (or, after a start, for their agent)
        self.queued_at = {}
        self.running = {}  # instance id -> (command id, monotonic time sent)
        self.outcomes = {}
        self.offline = set()  # agents known not to be online (check_agents)
        self.sends = 0
        self.polls = 0

    # ------------------------------------------------------------------ agents

    def check_agents(self, instance_ids: List[str]) -> List[str]:
        """Record which of ``instance_ids`` have no online SSM agent (DescribeInstanceInformation); returns them."""
        online = self._online(instance_ids)
        self.offline.update(instance_id for instance_id in instance_ids if instance_id not in online)
        return sorted(instance_id for instance_id in instance_ids if instance_id not in online)

    def _online(self, instance_ids):
        online = set()
        ids = sorted(set(instance_ids))
        for start in range(0, len(ids), AGENT_BATCH):
            chunk = ids[start:start + AGENT_BATCH]
            result = paginate(self.ssm, "describe_instance_information", Filters=[{"Key": "InstanceIds", "Values": chunk}])
            online.update(entry["InstanceId"] for entry in result.get("InstanceInformationList", [])
                          if entry.get("PingStatus") == "Online")
        return online

    # ------------------------------------------------------------------ queue and outcomes

    def request(self, instance_id: str) -> None:
        """Run the hook on ``instance_id`` (at the next tick, when a slot is free); an agent known offline ends at once."""
        if instance_id in self.outcomes or instance_id in self.running or instance_id in self.queued:
            return
        if instance_id in self.offline:
            self.outcomes[instance_id] = HookOutcome(OFFLINE, reason=AGENT_OFFLINE)
            return
        self.queued.append(instance_id)
        self.queued_at[instance_id] = self._monotonic()

    def outcome(self, instance_id: str) -> Optional[HookOutcome]:
        """The instance's HookOutcome once the hook has ended on it, else None."""
        return self.outcomes.get(instance_id)

    def forget(self, instance_id: str) -> None:
        """Stop waiting for the hook on ``instance_id`` (a cancel); a command already sent runs on by itself."""
        if instance_id in self.queued:
            self.queued.remove(instance_id)
        self.running.pop(instance_id, None)

    @property
    def in_flight(self) -> int:
        return len(self.running)

    # ------------------------------------------------------------------ tick

    def tick(self, wait_for_agents: bool = False) -> None:
        """Read the commands still running, end the timed-out ones, then send to queued instances as slots allow.

        ``wait_for_agents``: queued instances whose agent is not online yet stay queued until the hook's timeout
        (counted from when they were queued), instead of being sent at once; a restarted instance's agent takes a
        moment to connect again.
        """
        self._poll()
        self._time_out()
        self._send(wait_for_agents)

    def _poll(self):
        commands = sorted(set(command_id for command_id, dummy in self.running.values()))
        for command_id in commands:
            self.polls += 1
            try:
                result = paginate(self.ssm, "list_command_invocations", CommandId=command_id, Details=True)
            except Exception as error:
                if not is_client_error(error):
                    raise
                if error_code(error) == "InvalidCommandId":
                    continue  # SSM lists a command a moment after SendCommand answered: look again next tick
                raise
            for invocation in result.get("CommandInvocations", []):
                instance_id = invocation.get("InstanceId")
                if self.running.get(instance_id, (None,))[0] != command_id:
                    continue
                status = FINAL_STATUSES.get(invocation.get("Status"))
                if status is None:
                    continue
                plugins = invocation.get("CommandPlugins") or []
                output = "\n".join(plugin.get("Output") or "" for plugin in plugins).strip()
                codes = [plugin.get("ResponseCode") for plugin in plugins if plugin.get("ResponseCode") not in (None, 0, -1)]
                reason = f"status {invocation.get('Status')}" + (f", exit code {codes[0]}" if codes else "")
                if status == OFFLINE:
                    reason = AGENT_OFFLINE
                self._end(instance_id, HookOutcome(status, output, command_id, None if status == SUCCESS else reason))

    def _time_out(self):
        now = self._monotonic()
        for instance_id, (command_id, sent_at) in sorted(self.running.items()):
            if now - sent_at >= self.hook.timeout:
                self._end(instance_id, HookOutcome(TIMED_OUT, command_id=command_id))

    def _end(self, instance_id, outcome):
        self.running.pop(instance_id, None)
        self.outcomes[instance_id] = outcome

    def _send(self, wait_for_agents):
        free = self.limit - len(self.running)
        if free <= 0 or not self.queued:
            return
        candidates = list(self.queued)
        if wait_for_agents:
            online = self._online(candidates)
            now = self._monotonic()
            for instance_id in [instance_id for instance_id in candidates if instance_id not in online]:
                if now - self.queued_at[instance_id] >= self.hook.timeout:
                    self.queued.remove(instance_id)
                    self.outcomes[instance_id] = HookOutcome(OFFLINE, reason=f"{AGENT_OFFLINE} within {_seconds(self.hook.timeout)}s of the start")
            candidates = [instance_id for instance_id in candidates if instance_id in online]
        ready = candidates[:free]
        for start in range(0, len(ready), SEND_BATCH):
            self._send_batch(ready[start:start + SEND_BATCH])

    def _send_batch(self, instance_ids):
        """One SendCommand for ``instance_ids``; when SSM refuses the request, each instance is sent alone."""
        if self._before_send is not None:
            self._before_send()
        try:
            command_id = self._send_command(instance_ids)
        except Exception as error:
            if not is_client_error(error):
                raise
            if len(instance_ids) > 1:
                for instance_id in instance_ids:
                    self._send_batch([instance_id])
                return
            self.queued.remove(instance_ids[0])
            message = (getattr(error, "response", None) or {}).get("Error", {}).get("Message") or str(error)
            status = OFFLINE if error_code(error) == "InvalidInstanceId" else FAILED
            what = AGENT_OFFLINE if status == OFFLINE else "not sent"
            self.outcomes[instance_ids[0]] = HookOutcome(status, reason=f"{what}: SendCommand refused it: {message} ({error_code(error)})")
            return
        sent_at = self._monotonic()
        for instance_id in instance_ids:
            self.queued.remove(instance_id)
            self.running[instance_id] = (command_id, sent_at)

    def _send_command(self, instance_ids):
        self.sends += 1
        params = dict(DocumentName=self.hook.document, InstanceIds=list(instance_ids),
                      TimeoutSeconds=max(MIN_DELIVERY_TIMEOUT, int(self.hook.timeout + 0.999)),
                      Comment=f"dedicated_hosts.failover {self.hook.kind.replace('_', '-')}")
        if self.hook.parameters:
            params["Parameters"] = self.hook.parameters
        return self.ssm.send_command(aws_retry=True, **params)["Command"]["CommandId"]
