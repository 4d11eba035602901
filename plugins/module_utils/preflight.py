# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight rules: which instances of a failed host may be stopped and moved, and how.

Every rule is listed in docs/preflight.md with its default and its opt-in. ``classify`` is pure (plain values in,
plain values out) so the rules are unit-tested directly; ``gather_facts`` and ``wait_until_settled`` make the few
EC2 calls the rules need (DescribeInstanceTypes, DescribeInstanceAttribute, DescribeInstances). ``original_state`` is
the state a movable instance must have again on its new host. Not here: where the instances go (planner.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from typing import Callable
from typing import Dict
from typing import Iterable
from typing import List
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Tuple

try:
    import botocore
except ImportError:
    pass  # the modules report the missing library through AnsibleAWSModule

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import DESCRIBE_RATE_LIMIT
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import TokenBucket
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import error_code
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError

# The opt-ins an operator may give in ``preflight_allow``.
ALLOW_INSTANCE_STORE = "instance-store-volumes"
ALLOW_STOP_PROTECTION = "stop-protection"
ALLOW_AUTO_SCALING = "auto-scaling"
ALLOW_HOST_RESOURCE_GROUP = "host-resource-group"
ALLOW_MAC = "mac"
ALLOW_CHOICES = (ALLOW_INSTANCE_STORE, ALLOW_STOP_PROTECTION, ALLOW_AUTO_SCALING, ALLOW_HOST_RESOURCE_GROUP, ALLOW_MAC)

ASG_TAG = "aws:autoscaling:groupName"
TRANSITIONAL_STATES = ("pending", "stopping", "shutting-down")
# The note of an instance whose stop protection the move lifts (instance_placement restores it).
STOP_PROTECTION_NOTE = "stop protection is lifted for the move and restored after"
MAC_FAMILIES = ("mac1", "mac2", "mac2-m2", "mac2-m2pro", "mac2-m1ultra", "mac-m4", "mac-m4pro")

DEFAULTS = dict(
    preflight_allow=(),
    # AWS advises against forcing a Windows stop: a graceful shutdown gets ten minutes before Force.
    windows_force_stop_after=default_of("windows_force_stop_after"),
    # A Mac instance stays stopping about 15 minutes and its target host may still be scrubbing: hours, not minutes.
    mac_stop_timeout=default_of("mac_stop_timeout"),
    mac_start_timeout=default_of("mac_start_timeout"),
    settle_timeout=default_of("settle_timeout"),
)


def check_allow(values: Optional[Iterable[Any]]) -> Tuple[str, ...]:
    """The opt-ins as a sorted tuple; InvalidInputError naming an unknown one."""
    allow = tuple(sorted(set(str(value).strip() for value in (values or ()) if str(value).strip())))
    unknown = [value for value in allow if value not in ALLOW_CHOICES]
    if unknown:
        raise InvalidInputError(
            f"preflight_allow: unknown value(s) {', '.join(unknown)} (allowed: {', '.join(ALLOW_CHOICES)})",
            value=unknown,
        )
    return allow


def original_state(instance: Mapping[str, Any]) -> str:
    """``running`` or ``stopped``: the state the instance must be in again on its new host."""
    state = (instance.get("State") or {}).get("Name")
    return "running" if state in ("pending", "running") else "stopped"


def is_mac(instance_type: Optional[str]) -> bool:
    family = (instance_type or "").split(".")[0]
    return family in MAC_FAMILIES or family.startswith("mac")


def is_windows(instance: Mapping[str, Any]) -> bool:
    return (instance.get("Platform") or "").lower() == "windows"


def _tags(instance):
    return dict((tag.get("Key"), tag.get("Value")) for tag in instance.get("Tags") or [])


def public_ip_note(instance: Mapping[str, Any]) -> Optional[str]:
    """A note when the instance's public IPv4 address is not an Elastic IP (it changes on stop and start)."""
    address = instance.get("PublicIpAddress")
    if not address:
        return None
    for interface in instance.get("NetworkInterfaces") or []:
        association = interface.get("Association") or {}
        if association.get("PublicIp") == address and association.get("IpOwnerId") not in (None, "amazon"):
            return None  # an Elastic IP (owned by the account) stays with the instance
    return f"public IPv4 {address} is not an Elastic IP: it changes when the instance is stopped and started"


def classify(instance: Mapping[str, Any], facts: Optional[Mapping[str, Any]] = None, allow: Iterable[str] = (),
             options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """One instance's preflight verdict.

    ``facts``: ``{"instance_store": bool, "stop_protected": bool, "in_progress": bool}`` (from ``gather_facts``;
    ``in_progress``: an earlier run of this failover is already moving the instance, so its transition is expected). ``allow``: opt-ins.
    Returns ``{"movable", "rule", "reason", "notes", "overrides", "lift_stop_protection"}``; ``rule`` names the rule
    that skipped the instance (None when movable); ``overrides`` are per-instance timings for the migration.
    """
    facts = facts or {}
    allow = set(allow or ())
    opts = dict(DEFAULTS)
    opts.update((key, value) for key, value in (options or {}).items() if value is not None)
    verdict = {"movable": True, "rule": None, "reason": None, "notes": [], "overrides": {}, "lift_stop_protection": False}

    def skip(rule, reason):
        verdict.update(movable=False, rule=rule, reason=reason)
        return verdict

    state = (instance.get("State") or {}).get("Name")
    if state in TRANSITIONAL_STATES and not facts.get("in_progress"):
        return skip("transitional-state", f"the instance was still {state} when preflight gave up waiting ({opts['settle_timeout']}s)")
    if instance.get("RootDeviceType") == "instance-store":
        return skip("instance-store-root", "instance-store root device: the instance cannot be stopped, so it cannot move to another host")
    if facts.get("instance_store") and ALLOW_INSTANCE_STORE not in allow:
        return skip("instance-store-volumes", "EBS root with instance-store volumes: stopping it loses their data "
                    f"(opt in with preflight_allow={ALLOW_INSTANCE_STORE})")
    group = _tags(instance).get(ASG_TAG)
    if group and ALLOW_AUTO_SCALING not in allow:
        return skip("auto-scaling", f"member of Auto Scaling group {group}: the group would replace it while it is stopped "
                    f"(suspend the group's processes and opt in with preflight_allow={ALLOW_AUTO_SCALING})")
    hrg = (instance.get("Placement") or {}).get("HostResourceGroupArn")
    licenses = [entry.get("LicenseConfigurationArn") for entry in instance.get("Licenses") or [] if entry.get("LicenseConfigurationArn")]
    if (hrg or licenses) and ALLOW_HOST_RESOURCE_GROUP not in allow:
        what = f"host resource group {hrg}" if hrg else f"License Manager configuration {', '.join(licenses)}"
        return skip("host-resource-group", f"placed through {what}: License Manager places it, not a named host "
                    f"(opt in with preflight_allow={ALLOW_HOST_RESOURCE_GROUP})")
    if is_mac(instance.get("InstanceType")):
        if ALLOW_MAC not in allow:
            return skip("mac", "Mac instance: a stop takes about 15 minutes and the host is then scrubbed for up to hours "
                        f"(opt in with preflight_allow={ALLOW_MAC})")
        verdict["overrides"] = {"stop_timeout": float(opts["mac_stop_timeout"]), "start_timeout": float(opts["mac_start_timeout"]),
                                "force_stop_after": float(opts["mac_stop_timeout"]) / 2.0}
        verdict["notes"].append(f"Mac instance: stop timeout {opts['mac_stop_timeout']}s, start timeout {opts['mac_start_timeout']}s")
    if facts.get("stop_protected"):
        if ALLOW_STOP_PROTECTION not in allow:
            return skip("stop-protection", "stop protection (DisableApiStop) is on "
                        f"(opt in with preflight_allow={ALLOW_STOP_PROTECTION} to lift it for the move and restore it after)")
        verdict["lift_stop_protection"] = True
        verdict["notes"].append(STOP_PROTECTION_NOTE)
    if is_windows(instance):
        force_after = float(opts["windows_force_stop_after"])
        verdict["overrides"].setdefault("force_stop_after", force_after)
        verdict["notes"].append(f"Windows: graceful stop gets {force_after}s before Force")
    note = public_ip_note(instance)
    if note:
        verdict["notes"].append(note)
    return verdict


# DescribeInstanceAttribute calls in flight at once while preflight reads stop protection.
ATTRIBUTE_READERS = 8


def gather_facts(ec2: Any, instances: Sequence[Mapping[str, Any]]) -> Dict[str, Dict[str, bool]]:
    """``{instance id: {"instance_store", "stop_protected"}}``: DescribeInstanceTypes once, DescribeInstanceAttribute per instance."""
    types = sorted(set(entry.get("InstanceType") for entry in instances if entry.get("InstanceType")))
    storage = {}
    for start in range(0, len(types), 100):
        try:
            result = ec2.describe_instance_types(aws_retry=True, InstanceTypes=types[start:start + 100])
        except botocore.exceptions.ClientError as error:
            if error_code(error) != "InvalidInstanceType":
                raise
            result = {"InstanceTypes": []}
        for entry in result.get("InstanceTypes") or []:
            storage[entry["InstanceType"]] = bool(entry.get("InstanceStorageSupported"))
    bucket = TokenBucket(*DESCRIBE_RATE_LIMIT)

    def stop_protected(entry):
        if entry.get("RootDeviceType") == "instance-store":
            return False
        bucket.take()
        answer = ec2.describe_instance_attribute(aws_retry=True, InstanceId=entry["InstanceId"], Attribute="disableApiStop")
        return bool((answer.get("DisableApiStop") or {}).get("Value"))

    # One call per instance (the attribute has no batch form): several at once, so a full host is read in
    # a fraction of the time, paced by EC2's describe bucket.
    with ThreadPoolExecutor(max_workers=ATTRIBUTE_READERS) as pool:
        protected = list(pool.map(stop_protected, instances))
    return dict(
        (entry["InstanceId"], {"instance_store": storage.get(entry.get("InstanceType"), False), "stop_protected": stop})
        for entry, stop in zip(instances, protected)
    )


def wait_until_settled(describe: Callable[[], List[Dict[str, Any]]], timeout: float, interval: float = 5.0,
                       sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
                       ignore: Iterable[str] = ()) -> List[Dict[str, Any]]:
    """Call ``describe()`` (a list of instances) until none is pending, stopping or shutting-down, or ``timeout`` passes.

    ``ignore``: instance ids not waited for (those an earlier run of this failover is already moving).
    """
    deadline = monotonic() + float(timeout)
    while True:
        instances = describe()
        busy = [entry for entry in instances if (entry.get("State") or {}).get("Name") in TRANSITIONAL_STATES
                and entry.get("InstanceId") not in ignore]
        if not busy or monotonic() >= deadline:
            return instances
        sleep(min(float(interval), max(deadline - monotonic(), 0.0)))


def set_stop_protection(ec2: Any, instance_ids: Iterable[str], value: bool) -> Dict[str, str]:
    """ModifyInstanceAttribute DisableApiStop for each instance; returns the ids that failed with their error."""
    failed = {}
    for instance_id in instance_ids:
        try:
            ec2.modify_instance_attribute(aws_retry=True, InstanceId=instance_id, DisableApiStop={"Value": bool(value)})
        except botocore.exceptions.ClientError as error:
            failed[instance_id] = f"{error_code(error)}: {error}"
    return failed
