# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host health: read hosts, their instances and instance status in a few paginated calls, and classify.

The classes and reasons are the table in docs/health.md: ``healthy``, ``degraded`` (reported, never acted
on automatically), ``failed`` (a failover candidate) and ``gone`` (released: nothing left to fail over).
AWS's own host recovery gets a grace period before a host under assessment counts as failed, and a host
that AWS host maintenance will evacuate is only degraded, unless ``ignore_aws_recovery`` is set.
Never cached: every call reads EC2 afresh. Not here: DescribeHosts, a host's instances and its tags (hosts.py,
which the planner shares), the times it reports (times.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import Iterable
from typing import List
from typing import Optional
from typing import Tuple

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import aws_errors
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import chunks
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import paginate
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import AwsApiError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import FAILOVER_TAG
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import FILTER_VALUES_MAX
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import HOSTS_PAGE_SIZE
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import INSTANCES_PAGE_SIZE
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import RELEASED_STATES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import describe_host_instances
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import describe_hosts
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hosts import tag_dict
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import iso_time
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import utc_datetime
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import utc_now

HEALTHY = "healthy"
DEGRADED = "degraded"
FAILED = "failed"
GONE = "gone"
CLASSES = (HEALTHY, DEGRADED, FAILED, GONE)

AWS_RECOVERY_GRACE_PERIOD = default_of("aws_recovery_grace_period")

# DescribeInstanceStatus takes at most 100 instance ids a call (the page sizes are hosts.py's).
STATUS_IDS_PER_CALL = 100
# Above this many instances, paging through the region's status (1000 a page) takes fewer calls than
# asking for them 100 ids at a time.
REGION_STATUS_THRESHOLD = 300

REPLACEMENT_STATES = ("available", "pending")
# Scheduled events on a host's instances: the host is still usable, but AWS has announced work.
EVENT_CODES = ("instance-retirement", "instance-stop", "system-maintenance", "system-reboot", "instance-reboot")
# AWS Health's Dedicated Host event codes (EventBridge, extensions/eda): a host AWS will retire must be emptied
# now, so it counts as failed; announced maintenance only makes it degraded. Any other code of the family
# (AWS adds codes) counts as degraded with its code in the reason.
HEALTH_EVENT_PREFIX = "AWS_EC2_DEDICATED_HOST_"
HEALTH_EVENT_CLASSES = {
    "AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED": FAILED,
    "AWS_EC2_DEDICATED_HOST_ACCESSREVOKED_RETIREMENT_SCHEDULED": FAILED,
    "AWS_EC2_DEDICATED_HOST_NETWORK_MAINTENANCE_SCHEDULED": DEGRADED,
    "AWS_EC2_DEDICATED_HOST_POWER_MAINTENANCE_SCHEDULED": DEGRADED,
    "AWS_EC2_DEDICATED_HOST_MAINTENANCE_SCHEDULED": DEGRADED,
}
# Health events apply to hosts EC2 still runs normally; AWS's own recovery and maintenance rows decide the others.
HEALTH_EVENT_STATES = ("available", "pending")
SEVERITY = (HEALTHY, DEGRADED, FAILED)


def recovery_started(instance_statuses: Iterable[Dict[str, Any]]) -> Optional[datetime.datetime]:
    """The earliest ``ImpairedSince`` of the instances' system status details, or None when none reports one."""
    moments = [
        utc_datetime(detail["ImpairedSince"])
        for status in instance_statuses
        for detail in (status.get("SystemStatus") or {}).get("Details") or []
        if detail.get("ImpairedSince")
    ]
    return min(moments) if moments else None


def _aws_recovery(instance_statuses, now, grace_period, assumed_start):
    """When AWS host recovery began, when its grace ends, and whether it is still within it."""
    since = recovery_started(instance_statuses)
    known = since is not None
    if not known:
        since = utc_datetime(assumed_start) or now
    grace_ends = since + datetime.timedelta(seconds=grace_period)
    return {
        "InProgress": now < grace_ends,
        "Since": iso_time(since),
        "SinceReported": known,
        "GraceEnds": iso_time(grace_ends),
        "SecondsLeft": max(0.0, round((grace_ends - now).total_seconds(), 3)),
    }


def _under_assessment(host, instance_statuses, now, grace_period, ignore_aws_recovery, assumed_start):
    if host.get("HostRecovery") != "on":
        return FAILED, ["host is under-assessment and AWS host recovery is off: AWS is not recovering it"], None
    if ignore_aws_recovery:
        return FAILED, ["host is under-assessment; AWS host recovery is on but ignore_aws_recovery is set"], None
    recovery = _aws_recovery(instance_statuses, now, grace_period, assumed_start)
    origin = "" if recovery["SinceReported"] else (
        f" (no instance reports when its system status became impaired: counted from {recovery['Since']})")
    if recovery["InProgress"]:
        return DEGRADED, [f"AWS host recovery in progress since {recovery['Since']}; "
                          f"a failover waits until {recovery['GraceEnds']}{origin}"], recovery
    return FAILED, [f"AWS host recovery has not finished within the grace period ({grace_period:g}s since {recovery['Since']}, "
                    f"ended {recovery['GraceEnds']}){origin}"], recovery


def _permanent_failure(host, ignore_aws_recovery, candidates):
    if host.get("HostMaintenance") != "on":
        return FAILED, ["host is in permanent-failure and AWS host maintenance is off: AWS will not move its instances"]
    if ignore_aws_recovery:
        return FAILED, ["host is in permanent-failure; AWS host maintenance is on but ignore_aws_recovery is set"]
    listed = ", ".join(candidates) if candidates else "none allocated yet"
    return DEGRADED, [f"AWS host maintenance will move the instances; candidate replacement(s): {listed}"]


def _available(instance_statuses):
    impaired = sorted(
        status["InstanceId"] for status in instance_statuses if (status.get("SystemStatus") or {}).get("Status") == "impaired"
    )
    if impaired:
        return FAILED, [f"instance {instance_id} has an impaired system status on an available host" for instance_id in impaired]
    reasons = []
    for status in sorted(instance_statuses, key=lambda entry: entry["InstanceId"]):
        for event in status.get("Events") or []:
            if event.get("Code") in EVENT_CODES and not (event.get("Description") or "").startswith("[Completed]"):
                not_before = iso_time(utc_datetime(event.get("NotBefore"))) or "an unknown time"
                reasons.append(f"instance {status['InstanceId']} has a scheduled {event['Code']} event not before {not_before}")
    return (DEGRADED, reasons) if reasons else (HEALTHY, [])


def classify_host(host: Dict[str, Any], instance_statuses: List[Dict[str, Any]], now: Optional[datetime.datetime] = None,
                  grace_period: float = AWS_RECOVERY_GRACE_PERIOD, ignore_aws_recovery: bool = False,
                  recovery_assumed_start: Any = None, replacement_candidates: Iterable[str] = (),
                  health_events: Iterable[str] = ()) -> Tuple[str, List[str], Optional[Dict[str, Any]]]:
    """(class, reasons, AWS recovery timing or None) of one DescribeHosts entry: the table of docs/health.md, first row wins.

    ``instance_statuses`` are the DescribeInstanceStatus entries of the host's instances.
    ``recovery_assumed_start`` is when AWS recovery counts as begun if no instance reports ``ImpairedSince``
    (default ``now``: the grace runs from the first read). ``replacement_candidates`` only name the hosts
    AWS host maintenance may have allocated, in the reason. ``health_events`` are the AWS Health event codes
    reported for the host (rows 8 to 11: the worse class wins).
    """
    now = now or utc_now()
    state = host.get("State")
    if state in RELEASED_STATES:
        return GONE, [f"host is {state}: nothing is left to fail over"], None
    if state == "under-assessment":
        return _under_assessment(host, instance_statuses, now, grace_period, ignore_aws_recovery, recovery_assumed_start)
    if state == "permanent-failure":
        health, reasons = _permanent_failure(host, ignore_aws_recovery, replacement_candidates)
        return health, reasons, None
    if state == "pending":
        health, reasons = DEGRADED, ["host is pending: it is being modified or recovered and accepts no starts"]
    elif state == "available":
        health, reasons = _available(instance_statuses)
    else:
        return HEALTHY, [], None
    return _with_health_events(health, reasons, health_events) + (None,)


def _with_health_events(health, reasons, codes):
    """The worse of the table's class and that of the AWS Health events reported for the host, with their reasons."""
    for code in sorted(set(codes)):
        event_health = HEALTH_EVENT_CLASSES.get(code, DEGRADED)
        consequence = "it will be retired: its instances move now" if event_health == FAILED else "AWS has announced work on it"
        reasons = reasons + [f"AWS Health reports {code} for the host: {consequence}"]
        health = max(health, event_health, key=SEVERITY.index)
    return health, reasons


def health_events_of(code: Optional[str], resources: Optional[Iterable[Any]]) -> Dict[str, List[str]]:
    """``{host_id: [code]}`` for the hosts among an AWS Health event's ``resources`` (host ids or dedicated-host
    ARNs; other resources are ignored). Raises InvalidInputError for a code outside the Dedicated Host family, or
    hosts without a code."""
    hosts = []
    for resource in resources or []:
        host_id = str(resource).rsplit("/", 1)[-1].strip()
        if host_id.startswith("h-") and host_id not in hosts:
            hosts.append(validate_host_id(host_id))
    if code and not code.startswith(HEALTH_EVENT_PREFIX):
        raise InvalidInputError(f"health_event_code {code!r} is not an AWS Health Dedicated Host event code ({HEALTH_EVENT_PREFIX}...)",
                                value=code)
    if hosts and not code:
        raise InvalidInputError("health_event_resources needs health_event_code: the event's code decides what it means")
    return dict((host_id, [code]) for host_id in hosts)


def _user_tags(host):
    return dict((key, value) for key, value in tag_dict(host).items() if not key.lower().startswith("aws:") and key != FAILOVER_TAG)


def _host_kind(host):
    """What the host runs: its family when it allows several instance types, else its one instance type."""
    properties = host.get("HostProperties") or {}
    if host.get("AllowsMultipleInstanceTypes") == "on" or not properties.get("InstanceType"):
        return ("family", properties.get("InstanceFamily"))
    return ("type", properties.get("InstanceType"))


def needs_replacement_candidates(host: Dict[str, Any]) -> bool:
    return host.get("State") == "permanent-failure" and host.get("HostMaintenance") == "on"


def maintenance_replacement_candidates(host: Dict[str, Any], zone_hosts: Iterable[Dict[str, Any]]) -> List[str]:
    """Hosts that look like the replacement AWS host maintenance allocated for ``host``, sorted by id.

    AWS does not link the two; the replacement keeps the AZ, the instance type or family and the tags, and
    is allocated after the failed host. Hosts a failover claimed (the FailoverFor tag) are not candidates.
    """
    allocated = utc_datetime(host.get("AllocationTime"))
    tags = _user_tags(host)
    candidates = []
    for other in zone_hosts:
        other_allocated = utc_datetime(other.get("AllocationTime"))
        if (
            other["HostId"] == host["HostId"]
            or other.get("AvailabilityZone") != host.get("AvailabilityZone")
            or other.get("State") not in REPLACEMENT_STATES
            or FAILOVER_TAG in tag_dict(other)
            or _host_kind(other) != _host_kind(host)
            or _user_tags(other) != tags
            or (allocated is not None and (other_allocated is None or other_allocated <= allocated))
        ):
            continue
        candidates.append(other["HostId"])
    return sorted(candidates)


def listed_instances(host: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The instances DescribeHosts lists on a host (those running there), shaped like DescribeInstances entries."""
    return [
        {"InstanceId": entry["InstanceId"], "InstanceType": entry.get("InstanceType"), "State": {"Name": "running"},
         "Placement": {"HostId": host["HostId"], "AvailabilityZone": host.get("AvailabilityZone"), "Tenancy": "host"}}
        for entry in host.get("Instances") or []
    ]


def describe_region_instance_statuses(ec2: Any, page_size: int = INSTANCES_PAGE_SIZE) -> Dict[str, Dict[str, Any]]:
    """The region's whole status list (stopped instances included), page by page, by instance id."""
    result = paginate(ec2, "describe_instance_status", IncludeAllInstances=True, MaxResults=page_size)
    return dict((status["InstanceId"], status) for status in result.get("InstanceStatuses", []))


def describe_instance_statuses(ec2: Any, instance_ids: Iterable[str], page_size: int = INSTANCES_PAGE_SIZE) -> Dict[str, Dict[str, Any]]:
    """Status entries (system status, scheduled events) by instance id; DescribeInstanceStatus has no host filter.

    For a few instances: InstanceIds in chunks of 100 (the API takes no MaxResults with ids). For many:
    the region's whole status list, page by page, joined by instance id.
    """
    wanted = set(instance_ids)
    if len(wanted) > REGION_STATUS_THRESHOLD:
        region = describe_region_instance_statuses(ec2, page_size)
        return dict((instance_id, status) for instance_id, status in region.items() if instance_id in wanted)
    statuses = {}
    for chunk in chunks(sorted(wanted), STATUS_IDS_PER_CALL):
        result = paginate(ec2, "describe_instance_status", InstanceIds=chunk, IncludeAllInstances=True)
        for status in result.get("InstanceStatuses", []):
            statuses[status["InstanceId"]] = status
    return statuses


def _status_summary(status):
    system = (status or {}).get("SystemStatus") or {}
    since = recovery_started([status]) if status else None
    return {
        "SystemStatus": system.get("Status"),
        "ImpairedSince": iso_time(since),
        "Events": [
            {
                "Code": event.get("Code"),
                "Description": event.get("Description"),
                "NotBefore": iso_time(utc_datetime(event.get("NotBefore"))),
                "NotAfter": iso_time(utc_datetime(event.get("NotAfter"))),
                "InstanceEventId": event.get("InstanceEventId"),
            }
            for event in (status or {}).get("Events") or []
        ],
    }


def summarise_instance(instance: Dict[str, Any], status: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    placement = instance.get("Placement", {})
    summary = {
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
    summary.update(_status_summary(status))
    return summary


def _zone_hosts(ec2, hosts, region_scan, page_size):
    """Hosts of every AZ where a host needs maintenance replacement candidates: the hosts already read when
    they are the whole region, else one DescribeHosts filtered by those AZs."""
    zones = sorted(set(host.get("AvailabilityZone") for host in hosts if needs_replacement_candidates(host)))
    if not zones:
        return []
    if region_scan:
        return hosts
    return describe_hosts(ec2, filters={"availability-zone": zones}, page_size=page_size)


def host_health(ec2: Any, host_ids: Optional[List[str]] = None, filters: Optional[Dict[str, Any]] = None,
                grace_period: float = AWS_RECOVERY_GRACE_PERIOD, ignore_aws_recovery: bool = False,
                recovery_assumed_start: Any = None, now: Optional[datetime.datetime] = None,
                page_sizes: Optional[Dict[str, int]] = None,
                health_events: Optional[Dict[str, List[str]]] = None) -> List[Dict[str, Any]]:
    """Each host with its health class, reasons, instances and capacity, in CamelCase as EC2 names them.

    Named hosts, and up to 200 hosts, have their instances read with DescribeInstances filtered by host id.
    A larger fleet is classified from what DescribeHosts lists on each host (its running instances) and the
    region's DescribeInstanceStatus pages, and only the hosts found degraded or failed have their instances
    (stopped ones too) read with DescribeInstances: the calls grow with pages and with the hosts that need
    attention, not with the fleet. ``health_events`` maps host ids to the AWS Health event codes reported for
    them (classify_host). ``page_sizes`` ({"hosts": n, "instances": n}) only exists for tests.
    """
    ec2 = retrying(ec2)
    page_sizes = dict({"hosts": HOSTS_PAGE_SIZE, "instances": INSTANCES_PAGE_SIZE}, **(page_sizes or {}))
    region_scan = not host_ids and not filters
    hosts = describe_hosts(ec2, host_ids=host_ids, filters=filters, page_size=page_sizes["hosts"])
    fleet = not host_ids and len(hosts) > FILTER_VALUES_MAX
    zone_hosts = _zone_hosts(ec2, hosts, region_scan, page_sizes["hosts"])

    def classify(host: Dict[str, Any], by_host: Dict[str, List[Dict[str, Any]]],
                 statuses: Dict[str, Dict[str, Any]]) -> Tuple[str, List[str], Optional[Dict[str, Any]], List[str]]:
        host_statuses = [statuses[entry["InstanceId"]] for entry in by_host.get(host["HostId"], []) if entry["InstanceId"] in statuses]
        candidates = maintenance_replacement_candidates(host, zone_hosts) if needs_replacement_candidates(host) else []
        return classify_host(
            host, host_statuses, now=now, grace_period=grace_period, ignore_aws_recovery=ignore_aws_recovery,
            recovery_assumed_start=recovery_assumed_start, replacement_candidates=candidates,
            health_events=(health_events or {}).get(host["HostId"], ()),
        ) + (candidates,)

    if fleet:
        by_host = dict((host["HostId"], listed_instances(host)) for host in hosts)
        statuses = describe_region_instance_statuses(ec2, page_size=page_sizes["instances"])
        now = now or utc_now()  # once the statuses are in: no impairment they report lies after it
        attention = [host["HostId"] for host in hosts if classify(host, by_host, statuses)[0] in (DEGRADED, FAILED)]
        by_host.update((host_id, []) for host_id in attention)
        details = describe_host_instances(ec2, attention, page_size=page_sizes["instances"]) if attention else []
    else:
        by_host = {}
        details = describe_host_instances(ec2, [host["HostId"] for host in hosts], page_size=page_sizes["instances"]) if hosts else []
        statuses = describe_instance_statuses(ec2, [instance["InstanceId"] for instance in details],
                                              page_size=page_sizes["instances"]) if details else {}
        now = now or utc_now()  # once the statuses are in: no impairment they report lies after it
    for instance in details:
        by_host.setdefault(instance["Placement"]["HostId"], []).append(instance)
    report = []
    for host in sorted(hosts, key=lambda entry: entry["HostId"]):
        host_instances = sorted(by_host.get(host["HostId"], []), key=lambda entry: entry["InstanceId"])
        health, reasons, recovery, candidates = classify(host, by_host, statuses)
        properties = host.get("HostProperties") or {}
        report.append(
            {
                "HostId": host["HostId"],
                "State": host.get("State"),
                "Health": health,
                "Reasons": reasons,
                "AvailabilityZone": host.get("AvailabilityZone"),
                "InstanceFamily": properties.get("InstanceFamily"),
                "InstanceType": properties.get("InstanceType"),
                "HostProperties": properties,
                "HostRecovery": host.get("HostRecovery"),
                "HostMaintenance": host.get("HostMaintenance"),
                "AllocationTime": iso_time(utc_datetime(host.get("AllocationTime"))),
                "AwsRecovery": recovery,
                "MaintenanceReplacementCandidates": candidates,
                "AvailableCapacity": host.get("AvailableCapacity", {}),
                "Tags": tag_dict(host),
                "Instances": [summarise_instance(instance, statuses.get(instance["InstanceId"])) for instance in host_instances],
            }
        )
    return report


def summary(report: Iterable[Dict[str, Any]]) -> Dict[str, int]:
    """How many hosts of each class a host_health() report holds."""
    counts = dict((health, 0) for health in CLASSES)
    for host in report:
        counts[host["Health"]] += 1
    return counts


# --------------------------------------------------------------------------- the failover and AWS's own moves

# Where the record notes that a failover turned the failed host's recovery off (docs/record-schema.md).
RECOVERY_TURNED_OFF_FIELD = "HostRecoveryTurnedOff"


def recovery_turned_off(item: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The record's note that a failover turned AWS host recovery off on the failed host, or None."""
    return (item or {}).get(RECOVERY_TURNED_OFF_FIELD) or None


def settings_before_failover(host: Dict[str, Any], item: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The failed host's DescribeHosts entry as it was before the failover: with ``HostRecovery`` on again when the
    record says a failover turned it off (replacements are allocated with the failed host's settings)."""
    if recovery_turned_off(item) and host.get("HostRecovery") == "off":
        return dict(host, HostRecovery="on")
    return host


def turn_off_host_recovery(ec2: Any, host: Dict[str, Any], record: Any = None, run_id: Optional[str] = None,
                           check_mode: bool = False) -> Optional[str]:
    """Turn AWS host recovery off on the failed host before the failover moves its instances, so that AWS and the
    failover never move the same instances. Returns a note (a string) when something was, or would be, done.

    The intent is written to the record first (so a run that dies right after the call leaves the record saying who
    turned it off), then ModifyHosts, fenced by the lease. A host whose recovery is already off changes nothing.
    In check mode nothing is written or changed.
    """
    if host.get("HostRecovery") != "on":
        return None
    host_id = host["HostId"]
    if check_mode:
        return f"would turn AWS host recovery off on {host_id} before any instance is stopped"
    record.set_fields(**{RECOVERY_TURNED_OFF_FIELD: {"runId": run_id, "at": iso_time(utc_now()), "previous": "on"}})
    record.heartbeat()
    record.fence()
    with aws_errors("ModifyHosts", f"turning AWS host recovery off on {host_id} failed; nothing has been stopped"):
        result = ec2.modify_hosts(aws_retry=True, HostIds=[host_id], HostRecovery="off")
    for failure in result.get("Unsuccessful") or []:
        problem = failure.get("Error") or {}
        raise AwsApiError(f"ModifyHosts refused to turn AWS host recovery off on {host_id}: {problem.get('Message')} "
                          f"({problem.get('Code')}); nothing has been stopped", code=problem.get("Code"), operation="ModifyHosts",
                          host_id=host_id)
    return f"AWS host recovery turned off on {host_id} so that AWS does not move the instances the failover moves"


def is_maintenance_replacement(failed_host: Dict[str, Any], host: Dict[str, Any]) -> bool:
    """Whether ``host`` looks like the replacement AWS host maintenance allocated for ``failed_host``."""
    return maintenance_replacement_candidates(failed_host, [host]) == [host["HostId"]]


def wait_until_available(describe: Callable[[List[str]], Iterable[Dict[str, Any]]], host_ids: Iterable[str], timeout: float,
                         interval: float = 5.0, sleep: Callable[[float], Any] = time.sleep,
                         monotonic: Callable[[], float] = time.monotonic,
                         on_wait: Optional[Callable[[], Any]] = None) -> Dict[str, Dict[str, Any]]:
    """Re-read ``host_ids`` (``describe(ids)`` -> DescribeHosts entries) until none is ``pending`` or ``timeout``
    seconds pass; ``on_wait()`` runs before each pause (the caller renews its lease there). Returns the last entries
    by host id."""
    deadline = monotonic() + float(timeout)
    while True:
        hosts = dict((host["HostId"], host) for host in describe(sorted(host_ids)))
        if not any(host.get("State") == "pending" for host in hosts.values()) or monotonic() >= deadline:
            return hosts
        if on_wait is not None:
            on_wait()
        sleep(min(float(interval), max(deadline - monotonic(), 0.0)))


# --------------------------------------------------------------------------- waiting for AWS host recovery

# At most about this many re-reads over the grace period (every 30 s for the default 900 s): the wait stays cheap
# and its output short, while a short grace is still watched every poll interval.
RECOVERY_READS = 30


def recovery_poll_interval(poll_interval: float, grace_period: float) -> float:
    """Seconds between two reads of a host under AWS recovery: ``poll_interval``, or a thirtieth of the grace
    period when that is longer."""
    return max(float(poll_interval), float(grace_period) / RECOVERY_READS)


def awaiting_aws_recovery(host: dict) -> bool:
    """Whether a host_health() entry is under AWS host recovery within its grace period, with instances still on it."""
    return bool((host.get("AwsRecovery") or {}).get("InProgress")) and bool(host.get("Instances"))


def recovered_by_aws(before: dict, after: dict) -> bool:
    """Whether AWS finished a host's recovery between two host_health() entries of it: the host is released, or
    the instances it had have left it."""
    return after["Health"] == GONE or (bool(before.get("Instances")) and not after.get("Instances"))


def wait_for_aws_recovery(read: Callable[[], List[Dict[str, Any]]], poll_interval: float, sleep: Callable[[float], Any] = time.sleep,
                          monotonic: Callable[[], float] = time.monotonic) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Re-read hosts (``read()`` -> a host_health() report) every ``poll_interval`` seconds while any is
    awaiting AWS recovery (awaiting_aws_recovery): until AWS finishes or the grace period ends. Returns the last
    report and the ids of the hosts AWS recovered meanwhile (recovered_by_aws against the first read).

    ``read`` must count recovery from a fixed start (``recovery_assumed_start``), so that the grace period ends.
    The wait also gives up one poll after the longest grace left at the first read, in case a host's
    ``ImpairedSince`` moves on.
    """
    first = report = read()
    waiting = [host for host in report if awaiting_aws_recovery(host)]
    deadline = monotonic() + max([host["AwsRecovery"]["SecondsLeft"] for host in waiting] or [0.0]) + float(poll_interval)
    while waiting and monotonic() < deadline:
        sleep(float(poll_interval))
        report = read()
        waiting = [host for host in report if awaiting_aws_recovery(host)]
    before = dict((host["HostId"], host) for host in first)
    recovered = [host["HostId"] for host in report if recovered_by_aws(before.get(host["HostId"], {}), host)]
    return report, recovered


def host_health_after_aws_recovery(ec2: Any, poll_interval: float, grace_period: float = AWS_RECOVERY_GRACE_PERIOD,
                                   recovery_assumed_start: Any = None, sleep: Callable[[float], Any] = time.sleep,
                                   **options: Any) -> Tuple[List[Dict[str, Any]], List[str]]:
    """host_health(), re-read while a host awaits AWS recovery (wait_for_aws_recovery, at the recovery_poll_interval
    cadence). Recovery that no instance dates counts from ``recovery_assumed_start``, or from the start of the wait.
    Returns the last report and the ids of the hosts AWS recovered meanwhile."""
    start = recovery_assumed_start or utc_now()

    def read() -> List[Dict[str, Any]]:
        return host_health(ec2, grace_period=grace_period, recovery_assumed_start=start, **options)

    return wait_for_aws_recovery(read, recovery_poll_interval(poll_interval, grace_period), sleep=sleep)
