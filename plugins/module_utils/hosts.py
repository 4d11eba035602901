# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dedicated Host facts shared by the planner, the settlement, the cleanup and the health check.

Here: reading hosts and their instances from EC2 (``describe_hosts``, the one DescribeHosts reader, which
``describe_host``, ``describe_failed_host``, ``find_pool_hosts``, ``hosts_for_tokens`` and the health check call with
their filters; ``describe_host_instances``, ``instances_on``), what a host's tags mean
(``tag_dict``, ``matches_tags``, the FailoverFor and FailoverAllocatedFor tags, the tags a new host carries),
AllocateHosts ClientTokens, Service Quotas names and hourly prices. No state-changing call. Not here: the
placement plan (planner.py), what happens to the hosts after a failover (settlement.py), releasing unused hosts
(cleanup.py), the capacity model (capacity.py), host health (health.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from typing import Any
from typing import Container
from typing import Dict
from typing import List
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Tuple

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import HOST_NOT_FOUND_CODES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import chunks
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import missing_returns
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import paginate
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.capacity import host_family
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import iso_time

DEFAULT_RESERVED_TAGS = default_of("reserved_tags")
FAILOVER_TAG = "FailoverFor"
# Set only through AllocateHosts' TagSpecifications, never by CreateTags: the IAM policy lets a failover release
# only hosts that carry it, so tagging an arbitrary host cannot make it releasable (docs/iam.md).
ALLOCATED_TAG = "FailoverAllocatedFor"
CLIENT_TOKEN_MAX = 64
RELEASED_STATES = ("released", "released-permanent-failure")
# EC2 answers these when it cannot give hosts now; retried a few times, then reported with the quota to raise.
ALLOCATION_CAPACITY_CODES = ("InsufficientHostCapacity", "HostLimitExceeded")

# DescribeHosts allows up to 500 results a page, DescribeInstances and DescribeInstanceStatus 1000;
# a filter takes at most 200 values.
HOSTS_PAGE_SIZE = 500
INSTANCES_PAGE_SIZE = 1000
FILTER_VALUES_MAX = 200
LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped"]


Host = Dict[str, Any]  # a DescribeHosts entry, as EC2 names its fields


def client_token(failed_host_id: str, version: int, group: int = 0) -> str:
    """The AllocateHosts ClientToken of a plan version (``failover-<host>-v<n>``, ``-<k>`` for a further group)."""
    token = f"failover-{failed_host_id}-v{version:d}"
    if group:
        token += f"-{group + 1:d}"
    return token[:CLIENT_TOKEN_MAX]


def quota_name(family: str) -> str:
    """The Service Quotas quota (Amazon EC2) that caps the Dedicated Hosts of ``family`` in a region."""
    return f"Running Dedicated {family} Hosts"


def hourly_prices(prices: Optional[Mapping[str, Any]]) -> Dict[str, float]:
    """``host_hourly_prices`` checked: {family: USD per hour >= 0}; prices vary by region and change, none are built in."""
    checked = {}
    for family, price in (prices or {}).items():
        try:
            value = float(price)
        except (TypeError, ValueError):
            value = -1.0
        if not value >= 0 or value == float("inf"):
            raise InvalidInputError(f"host_hourly_prices: the price of {family} must be a number of USD per hour, 0 or more, got {price!r}",
                                    value=price)
        checked[str(family)] = value
    return checked


def host_entry(host: Host, role: str, prices: Mapping[str, float], family: Optional[str] = None) -> Dict[str, Any]:
    """One host of the plan: its reservation and, for a new host, its allocation time and hourly price class.

    A new host is on-demand unless it holds a reservation; its price is the operator's ``host_hourly_prices`` figure
    for its family, else unknown. ``host`` may be a check-mode placeholder (only ``HostId``).
    """
    reservation = host.get("HostReservationId") or None
    family = host_family(host) or family
    entry = {"host_id": host["HostId"], "role": role, "instance_family": family, "reservation_id": reservation}
    if role == "new":
        entry["allocation_time"] = iso_time(host.get("AllocationTime") or None)
        entry["price_class"] = "reserved" if reservation else "on-demand"
        entry["hourly_price"] = None if reservation else prices.get(family)
    return entry


def allocation_time(host: Host) -> str:
    """When EC2 allocated ``host`` (ISO 8601 UTC); now when it does not say yet."""
    return iso_time(host.get("AllocationTime") or time.time())


def tag_dict(resource: Mapping[str, Any]) -> Dict[str, str]:
    """A resource's ``Tags`` list as ``{key: value}``."""
    return dict((tag["Key"], tag["Value"]) for tag in resource.get("Tags") or [])


def host_options(defaults: Mapping[str, Any], options: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """``defaults`` updated with the given options (None counts as not given), and the reserved tags as strings."""
    merged = dict(defaults)
    merged.update((key, value) for key, value in options.items() if value is not None)
    if int(merged["max_new_hosts"]) < 0:
        raise InvalidInputError(f"max_new_hosts must be 0 or more, got {merged['max_new_hosts']!r}")
    return merged, dict((str(key), str(value)) for key, value in (merged["reserved_tags"] or {}).items())


def matches_tags(host: Host, reserved_tags: Mapping[str, Any]) -> bool:
    """Whether a host carries every reserved tag with its value (compared here: EC2 filters keys only)."""
    tags = tag_dict(host)
    return all(key in tags and tags[key] == str(value) for key, value in reserved_tags.items())


def cost_allocation_tags(host: Host, reserved_tags: Mapping[str, str]) -> List[Dict[str, str]]:
    """The failed host's user tags a replacement keeps: all but the pool tags, ``aws:`` ones and the failover's own."""
    return [
        {"Key": key, "Value": value}
        for key, value in sorted(tag_dict(host).items())
        if key not in reserved_tags and not key.lower().startswith("aws:") and key not in (FAILOVER_TAG, ALLOCATED_TAG)
    ]


def allocation_tags(failed_host_id: str) -> List[Dict[str, str]]:
    """The tags every host a failover allocates carries from its creation: FailoverFor and FailoverAllocatedFor."""
    return [{"Key": FAILOVER_TAG, "Value": failed_host_id}, {"Key": ALLOCATED_TAG, "Value": failed_host_id}]


def _filter_list(filters):
    return [{"Name": name, "Values": list(values) if isinstance(values, (list, tuple)) else [values]}
            for name, values in sorted(filters.items())]


@missing_returns(HOST_NOT_FOUND_CODES, default=list)
def _host_pages(ec2, params):
    """Every page of one DescribeHosts; none when a named host does not exist (EC2 then fails the whole call)."""
    return paginate(ec2, "describe_hosts", **params).get("Hosts", [])


def describe_hosts(ec2: Any, host_ids: Optional[Sequence[str]] = None, filters: Optional[Mapping[str, Any]] = None,
                   page_size: int = HOSTS_PAGE_SIZE) -> List[Host]:
    """DescribeHosts, all pages, retried: the engine's one reader of hosts. Named hosts that do not exist raise
    NotFoundError naming them; any other error is botocore's."""
    params = {}
    if host_ids:
        params["HostIds"] = list(host_ids)
    else:
        params["MaxResults"] = page_size
    if filters:
        params["Filter"] = _filter_list(filters)
    hosts = _host_pages(ec2, params)
    missing = sorted(set(host_ids or ()) - set(host["HostId"] for host in hosts))
    if missing:
        raise NotFoundError(f"Dedicated Host(s) {', '.join(missing)} not found in this region (check the id and aws_region)",
                            host_ids=missing)
    return hosts


def describe_host(ec2: Any, host_id: str) -> Host:
    """One named host's DescribeHosts entry; NotFoundError when EC2 does not know it."""
    return describe_hosts(ec2, host_ids=[host_id])[0]


def _instances(result):
    return [instance for reservation in result.get("Reservations", []) for instance in reservation.get("Instances", [])]


def describe_host_instances(ec2: Any, host_ids: Sequence[str], page_size: int = INSTANCES_PAGE_SIZE) -> List[Dict[str, Any]]:
    """Every live instance on (or targeting) the given hosts, one paginated call per 200 hosts."""
    instances = []
    for chunk in chunks(sorted(host_ids), FILTER_VALUES_MAX):
        instances.extend(_instances(paginate(
            ec2,
            "describe_instances",
            Filters=[{"Name": "host-id", "Values": chunk}, {"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}],
            MaxResults=page_size,
        )))
    return instances


def describe_failed_host(ec2: Any, host_id: str) -> Host:
    """The failed host's DescribeHosts entry; NotFoundError when EC2 does not know it, InvalidInputError when released."""
    host = describe_host(ec2, host_id)
    if host.get("State") in RELEASED_STATES:
        raise InvalidInputError(
            f"Dedicated Host {host_id} is {host['State']}: it has no instances left to fail over",
            host_id=host_id, state=host["State"],
        )
    return host


def find_pool_hosts(ec2: Any, availability_zone: str, reserved_tags: Mapping[str, str], exclude: Container[str] = ()) -> List[Host]:
    """Available hosts in the AZ carrying every reserved tag, by host id."""
    filters = {"availability-zone": [availability_zone], "state": ["available"]}
    if reserved_tags:
        filters["tag-key"] = sorted(reserved_tags)
    hosts = describe_hosts(ec2, filters=filters)
    return sorted(
        (host for host in hosts if host["HostId"] not in exclude and matches_tags(host, reserved_tags)),
        key=lambda host: host["HostId"],
    )


def hosts_for_tokens(ec2: Any, tokens: Sequence[str]) -> List[Host]:
    """Hosts AllocateHosts already gave for any of these ClientTokens (released ones left out)."""
    if not tokens:
        return []
    hosts = describe_hosts(ec2, filters={"client-token": sorted(set(tokens))})
    return [host for host in hosts if host.get("State") not in RELEASED_STATES]


def instances_on(ec2: Any, host_ids: Sequence[str]) -> Dict[str, List[str]]:
    """``{host id: [instance ids]}`` of the live instances (running, stopped, ...) placed on or targeting each host."""
    found = dict((host_id, []) for host_id in host_ids)
    if not host_ids:
        return found
    for instance in describe_host_instances(ec2, list(host_ids)):
        host_id = (instance.get("Placement") or {}).get("HostId")
        if host_id in found:
            found[host_id].append(instance["InstanceId"])
    return found


def release_refusals(response: Mapping[str, Any]) -> Dict[str, str]:
    """``{host id: "Code: Message"}`` of the hosts a ReleaseHosts answer lists as unsuccessful."""
    refusals = {}
    for entry in response.get("Unsuccessful") or []:
        problem = entry.get("Error") or {}
        refusals[entry.get("ResourceId")] = f"{problem.get('Code')}: {problem.get('Message')}"
    return refusals
