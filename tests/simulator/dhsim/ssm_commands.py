"""SSM Run Command as the failover's hooks use it, with injectable outcomes.

moto's SendCommand answers every invocation ``Success`` at once and has neither ListCommandInvocations nor
DescribeInstanceInformation. Here every running EC2 instance of the simulator has an online SSM agent unless a rule
says otherwise, and an invocation is ``InProgress`` for its drawn duration, then ends with its rule's outcome:

- ``success``: ``Success``, response code 0, the rule's ``output`` on standard output;
- ``failed``: ``Failed``, response code 1 (or the rule's ``code``), the ``output`` on standard output and error;
- ``timeout``: stays ``InProgress`` (the command hangs; whoever waits decides when it has taken too long);
- ``offline``: the agent's PingStatus is ``ConnectionLost``; ``unregistered``: the instance is not managed at all
  (absent from DescribeInstanceInformation). SendCommand naming such an instance is refused with
  ``InvalidInstanceId``, as SSM refuses instances whose agent it cannot reach.

Rules match by instance, by document or both; the most specific one wins (instance and document, then instance,
then document). Control API: ``POST /_dhsim/ssm/outcomes``, ``GET /_dhsim/ssm/invocations``.
"""

import base64
import datetime
import json
import threading
import time
import uuid

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ssm.responses import SimpleSystemManagerResponse

from . import ec2_hosts
from .state import SIM

OUTCOMES = ("success", "failed", "timeout", "offline", "unregistered")
AGENT_DOWN = {"offline": "ConnectionLost", "unregistered": None}
# Seconds (before the time scale) an invocation runs when its rule gives none: a short drain script.
DEFAULT_SECONDS = 5.0
# SSM's page sizes: DescribeInstanceInformation 5..50, ListCommandInvocations 1..50.
PAGE_LIMITS = {"DescribeInstanceInformation": (5, 50), "ListCommandInvocations": (1, 50)}
# The most instance ids one SendCommand takes.
MAX_SEND_INSTANCES = 50
# ListCommandInvocations' plugin Output is truncated to this many characters (GetCommandInvocation has the whole text).
LISTED_OUTPUT_CHARS = 2500


class SsmError(ServiceException):
    """An SSM error answer (JSON protocol)."""


class CommandWorld:
    """Outcome rules and the invocations sent, process-wide like the rest of the simulator's state."""

    def __init__(self):
        self.lock = threading.RLock()
        self.rules = []
        self.invocations = {}  # (command id, instance id) -> invocation dict
        self.order = []  # (command id, instance id) in the order sent

    def reset(self):
        with self.lock:
            self.rules = []
            self.invocations = {}
            self.order = []

    def set_outcome(self, outcome, instance_id=None, document=None, output="", code=None, seconds=None):
        if outcome not in OUTCOMES:
            raise ValueError("outcome must be one of %s, got %r" % (", ".join(OUTCOMES), outcome))
        if not instance_id and not document:
            raise ValueError("an outcome rule names an instance_id, a document or both")
        if outcome in AGENT_DOWN and document:
            raise ValueError("%s concerns the instance's agent, not a document: give instance_id only" % outcome)
        rule = {"outcome": outcome, "instance_id": instance_id, "document": document, "output": str(output or ""),
                "code": code, "seconds": None if seconds is None else float(seconds)}
        with self.lock:
            self.rules = [existing for existing in self.rules
                          if (existing["instance_id"], existing["document"]) != (instance_id, document)]
            self.rules.append(rule)
        return rule

    def rule_for(self, instance_id, document=None):
        with self.lock:
            for wanted in ((instance_id, document), (instance_id, None), (None, document)):
                for rule in self.rules:
                    if (rule["instance_id"], rule["document"]) == wanted:
                        return rule
        return {"outcome": "success", "output": "", "code": None, "seconds": None}

    def agent_state(self, instance_id):
        """``Online``, ``ConnectionLost`` or None (not managed)."""
        outcome = self.rule_for(instance_id)["outcome"]
        return AGENT_DOWN[outcome] if outcome in AGENT_DOWN else "Online"

    def snapshot(self):
        with self.lock:
            return {"rules": [dict(rule) for rule in self.rules],
                    "invocations": [_public(self.invocations[key]) for key in self.order]}


COMMANDS = CommandWorld()


def _public(invocation):
    view = dict(invocation)
    view["status"] = _status(invocation)
    return view


def _status(invocation):
    if invocation["outcome"] == "timeout" or time.time() < invocation["done_at"]:
        return "InProgress"
    return "Success" if invocation["outcome"] == "success" else "Failed"


def _running_instances(region):
    backend = ec2_hosts.backend_for(region)
    return [instance for reservation in backend.all_reservations() for instance in reservation.instances
            if instance.state == "running"]


def _managed(region):
    """[(instance, ping status)] of the instances SSM knows: running ones whose rule does not unregister them."""
    found = []
    for instance in _running_instances(region):
        ping = COMMANDS.agent_state(instance.id)
        if ping is not None:
            found.append((instance, ping))
    return sorted(found, key=lambda pair: pair[0].id)


def _page(items, body, action):
    low, high = PAGE_LIMITS[action]
    size = body.get("MaxResults") or high
    if not low <= int(size) <= high:
        raise SsmError("ValidationException", "MaxResults must be between %d and %d" % (low, high))
    offset = 0
    if body.get("NextToken"):
        try:
            offset = int(base64.b64decode(body["NextToken"]).decode("ascii"))
        except (ValueError, TypeError) as exc:
            raise SsmError("InvalidNextToken", "The specified token is not valid.") from exc
    page = items[offset:offset + int(size)]
    following = offset + int(size)
    token = base64.b64encode(str(following).encode("ascii")).decode("ascii") if following < len(items) else None
    return page, token


def _body(response):
    try:
        return json.loads(response.body or "{}")
    except (TypeError, ValueError):
        return {}


def _filter_ids(body):
    wanted = None
    for entry in (body.get("Filters") or []) + (body.get("InstanceInformationFilterList") or []):
        key = entry.get("Key") or entry.get("key")
        if key not in ("InstanceIds", "InstanceId"):
            raise SsmError("InvalidInstanceInformationFilterValue", "filter %s is not supported by the simulator" % key)
        values = entry.get("Values") or entry.get("valueSet") or []
        wanted = set(values) if wanted is None else wanted & set(values)
    return wanted


def describe_instance_information(self):
    body = _body(self)
    wanted = _filter_ids(body)
    rows = []
    for instance, ping in _managed(self.region):
        if wanted is not None and instance.id not in wanted:
            continue
        rows.append({"InstanceId": instance.id, "PingStatus": ping, "ResourceType": "EC2Instance", "AgentVersion": "3.3.0.0",
                     "PlatformType": "Linux", "LastPingDateTime": datetime.datetime.now(datetime.timezone.utc)})
    page, token = _page(rows, body, "DescribeInstanceInformation")
    result = {"InstanceInformationList": page}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def send_command(self):
    body = _body(self)
    document = body.get("DocumentName")
    instance_ids = list(body.get("InstanceIds") or [])
    if not document:
        raise SsmError("ValidationException", "DocumentName is required")
    if not instance_ids or len(instance_ids) > MAX_SEND_INSTANCES:
        raise SsmError("ValidationException", "InstanceIds must name 1 to %d instances" % MAX_SEND_INSTANCES)
    online = set(instance.id for instance, ping in _managed(self.region) if ping == "Online")
    unreachable = [instance_id for instance_id in instance_ids if instance_id not in online]
    if unreachable:
        raise SsmError("InvalidInstanceId", "Instances %s not in a valid state for account %s"
                       % (unreachable, self.current_account))
    command_id = str(uuid.uuid4())
    now = time.time()
    requested = datetime.datetime.now(datetime.timezone.utc)
    with COMMANDS.lock:
        for instance_id in instance_ids:
            rule = COMMANDS.rule_for(instance_id, document)
            seconds = DEFAULT_SECONDS if rule.get("seconds") is None else rule["seconds"]
            invocation = {"command_id": command_id, "instance_id": instance_id, "document": document,
                          "parameters": body.get("Parameters") or {}, "outcome": rule["outcome"], "output": rule["output"],
                          "code": rule.get("code"), "sent_at": now, "done_at": now + seconds * SIM.time_scale}
            COMMANDS.invocations[(command_id, instance_id)] = invocation
            COMMANDS.order.append((command_id, instance_id))
    command = {"CommandId": command_id, "DocumentName": document, "InstanceIds": instance_ids,
               "Parameters": body.get("Parameters") or {}, "RequestedDateTime": requested, "Status": "InProgress",
               "TargetCount": len(instance_ids), "CompletedCount": 0, "ErrorCount": 0,
               "TimeoutSeconds": body.get("TimeoutSeconds") or 3600, "Comment": body.get("Comment") or ""}
    return ActionResult({"Command": command})


def _response_code(invocation, status):
    if status == "InProgress":
        return -1
    if status == "Success":
        return 0
    return int(invocation["code"]) if invocation["code"] is not None else 1


def _invocation(command_id, instance_id):
    with COMMANDS.lock:
        invocation = COMMANDS.invocations.get((command_id, instance_id))
    if invocation is None:
        raise SsmError("InvocationDoesNotExist", "An invocation of command %s on %s does not exist" % (command_id, instance_id))
    return invocation


def get_command_invocation(self):
    body = _body(self)
    invocation = _invocation(body.get("CommandId"), body.get("InstanceId"))
    status = _status(invocation)
    done = status != "InProgress"
    return ActionResult({
        "CommandId": invocation["command_id"], "InstanceId": invocation["instance_id"], "DocumentName": invocation["document"],
        "Status": status, "StatusDetails": status, "ResponseCode": _response_code(invocation, status),
        "StandardOutputContent": invocation["output"] if done else "",
        "StandardErrorContent": invocation["output"] if done and status == "Failed" else "",
    })


def list_command_invocations(self):
    body = _body(self)
    command_id = body.get("CommandId")
    with COMMANDS.lock:
        keys = [key for key in COMMANDS.order if (not command_id or key[0] == command_id)
                and (not body.get("InstanceId") or key[1] == body["InstanceId"])]
        invocations = [COMMANDS.invocations[key] for key in keys]
    if command_id and not invocations:
        raise SsmError("InvalidCommandId", "Invalid command id %s" % command_id)
    rows = []
    for invocation in invocations:
        status = _status(invocation)
        row = {"CommandId": invocation["command_id"], "InstanceId": invocation["instance_id"],
               "DocumentName": invocation["document"], "Status": status, "StatusDetails": status,
               "RequestedDateTime": datetime.datetime.fromtimestamp(invocation["sent_at"], datetime.timezone.utc)}
        if body.get("Details"):
            done = status != "InProgress"
            row["CommandPlugins"] = [{"Name": "aws:runShellScript", "Status": status,
                                      "ResponseCode": _response_code(invocation, status),
                                      "Output": invocation["output"][:LISTED_OUTPUT_CHARS] if done else ""}]
        rows.append(row)
    page, token = _page(rows, body, "ListCommandInvocations")
    result = {"CommandInvocations": page}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


_PATCHES = {
    "send_command": send_command,
    "get_command_invocation": get_command_invocation,
    "list_command_invocations": list_command_invocations,
    "describe_instance_information": describe_instance_information,
}


def install():
    for name, method in _PATCHES.items():
        setattr(SimpleSystemManagerResponse, name, method)
