# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host health: read hosts, their instances and instance status in a few paginated calls, and classify.

The classes and reasons are the table in docs/health.md: ``healthy``, ``degraded`` (reported, never acted
on automatically) and ``failed`` (a failover candidate). Released hosts are ``gone``: there is nothing
left to fail over. Never cached: every call reads EC2 afresh.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import botocore
except ImportError:
    pass  # the modules report the missing library through AnsibleAWSModule

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import error_code
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import paginate
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError

HEALTHY = "healthy"
DEGRADED = "degraded"
FAILED = "failed"
GONE = "gone"

# DescribeHosts allows up to 500 results a page, DescribeInstances and DescribeInstanceStatus 1000;
# a filter takes at most 200 values.
HOSTS_PAGE_SIZE = 500
INSTANCES_PAGE_SIZE = 1000
FILTER_VALUES_MAX = 200
STATUS_IDS_PER_CALL = 100

_STATE_RULES = {
    "under-assessment": (FAILED, "host is under-assessment: AWS detected an issue and blocks launches on it"),
    "permanent-failure": (FAILED, "host is in permanent-failure: AWS will not restart its instances"),
    "pending": (DEGRADED, "host is pending: it is being modified or recovered and accepts no starts"),
    "released": (GONE, "host is released"),
    "released-permanent-failure": (GONE, "host is released-permanent-failure: AWS released it after a permanent failure"),
}
# Scheduled events on a host's instances: the host is still usable, but AWS has announced work.
_EVENT_REASONS = {
    "instance-retirement": "instance %s is scheduled for retirement",
    "system-maintenance": "instance %s has scheduled system maintenance",
    "system-reboot": "instance %s has a scheduled system reboot",
    "instance-stop": "instance %s is scheduled to be stopped",
    "instance-reboot": "instance %s has a scheduled instance reboot",
}
NOT_FOUND_CODES = ("InvalidHostID.NotFound", "InvalidHostId.NotFound")
LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped"]


def classify_host(host, instance_statuses):
    """The health class of one DescribeHosts entry and the reasons, given its instances' status entries."""
    state = host.get("State")
    if state in _STATE_RULES:
        health, reason = _STATE_RULES[state]
        return health, [reason]
    reasons = []
    impaired = sorted(
        status["InstanceId"] for status in instance_statuses if status.get("SystemStatus", {}).get("Status") == "impaired"
    )
    for instance_id in impaired:
        reasons.append("instance %s has an impaired system status on an available host" % instance_id)
    for status in instance_statuses:
        for event in status.get("Events", []):
            if event.get("Description", "").startswith("[Completed]"):
                continue
            template = _EVENT_REASONS.get(event.get("Code"))
            if template:
                reasons.append(template % status["InstanceId"])
    if impaired:
        return FAILED, reasons
    if reasons:
        return DEGRADED, reasons
    return HEALTHY, []


def _chunks(values, size):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def describe_hosts(ec2, host_ids=None, filters=None):
    """DescribeHosts, all pages; named hosts that do not exist raise NotFoundError naming them."""
    params = {}
    if host_ids:
        params["HostIds"] = list(host_ids)
    else:
        params["MaxResults"] = HOSTS_PAGE_SIZE
    if filters:
        params["Filter"] = [{"Name": name, "Values": list(values) if isinstance(values, (list, tuple)) else [values]}
                            for name, values in sorted(filters.items())]
    try:
        hosts = paginate(ec2, "describe_hosts", **params).get("Hosts", [])
    except botocore.exceptions.ClientError as error:
        if error_code(error) not in NOT_FOUND_CODES:
            raise
        hosts = []
    missing = sorted(set(host_ids or ()) - set(host["HostId"] for host in hosts))
    if missing:
        raise NotFoundError("Dedicated Host(s) %s not found in this region (check the id and aws_region)" % ", ".join(missing), host_ids=missing)
    return hosts


def describe_host_instances(ec2, host_ids):
    """Every live instance on (or targeting) the given hosts, one paginated call per 200 hosts."""
    instances = []
    for chunk in _chunks(sorted(host_ids), FILTER_VALUES_MAX):
        result = paginate(
            ec2,
            "describe_instances",
            Filters=[{"Name": "host-id", "Values": chunk}, {"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}],
            MaxResults=INSTANCES_PAGE_SIZE,
        )
        for reservation in result.get("Reservations", []):
            instances.extend(reservation.get("Instances", []))
    return instances


def describe_instance_statuses(ec2, instance_ids):
    """Status entries (system status, scheduled events) by instance id; DescribeInstanceStatus has no host filter.

    It has no instance-id filter either, and takes InstanceIds without MaxResults: chunks of 100 ids.
    """
    statuses = {}
    for chunk in _chunks(sorted(instance_ids), STATUS_IDS_PER_CALL):
        result = paginate(ec2, "describe_instance_status", InstanceIds=chunk, IncludeAllInstances=True)
        for status in result.get("InstanceStatuses", []):
            statuses[status["InstanceId"]] = status
    return statuses


def summarise_instance(instance):
    placement = instance.get("Placement", {})
    return {
        "InstanceId": instance["InstanceId"],
        "InstanceType": instance.get("InstanceType"),
        "State": instance.get("State", {}).get("Name"),
        "HostId": placement.get("HostId"),
        "Affinity": placement.get("Affinity"),
        "Tenancy": placement.get("Tenancy"),
        "AvailabilityZone": placement.get("AvailabilityZone"),
        "PublicIpAddress": instance.get("PublicIpAddress"),
        "Platform": instance.get("Platform"),
    }


def host_health(ec2, host_ids=None, filters=None):
    """Each host with its health class, reasons, instances and capacity, in CamelCase as EC2 names them."""
    ec2 = retrying(ec2)
    hosts = describe_hosts(ec2, host_ids=host_ids, filters=filters)
    instances = describe_host_instances(ec2, [host["HostId"] for host in hosts]) if hosts else []
    statuses = describe_instance_statuses(ec2, [instance["InstanceId"] for instance in instances]) if instances else {}
    by_host = {}
    for instance in instances:
        by_host.setdefault(instance.get("Placement", {}).get("HostId"), []).append(instance)
    report = []
    for host in sorted(hosts, key=lambda entry: entry["HostId"]):
        host_instances = sorted(by_host.get(host["HostId"], []), key=lambda entry: entry["InstanceId"])
        host_statuses = [statuses[entry["InstanceId"]] for entry in host_instances if entry["InstanceId"] in statuses]
        health, reasons = classify_host(host, host_statuses)
        report.append(
            {
                "HostId": host["HostId"],
                "State": host.get("State"),
                "Health": health,
                "Reasons": reasons,
                "AvailabilityZone": host.get("AvailabilityZone"),
                "HostProperties": host.get("HostProperties", {}),
                "HostRecovery": host.get("HostRecovery"),
                "HostMaintenance": host.get("HostMaintenance"),
                "AvailableCapacity": host.get("AvailableCapacity", {}),
                "Tags": dict((tag["Key"], tag["Value"]) for tag in host.get("Tags", [])),
                "Instances": [summarise_instance(instance) for instance in host_instances],
            }
        )
    return report
