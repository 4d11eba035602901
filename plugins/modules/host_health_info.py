#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: host_health_info
short_description: Classify EC2 Dedicated Hosts as healthy, degraded, failed or gone
version_added: 0.1.0
author:
  - Dedicated Hosts Failover maintainers (@dedicated-hosts)
description:
  - Reads Dedicated Hosts, their instances and the instances' status with a few paginated calls
    and classifies each host as V(healthy), V(degraded), V(failed) or V(gone) (released), with the reasons.
  - For named hosts, DescribeInstances is filtered by host id; for a whole region the calls page through
    the region (DescribeHosts 500 a page, DescribeInstances and DescribeInstanceStatus 1000 a page), so a
    fleet of thousands of hosts takes tens of calls.
  - The classification table is in the collection's C(docs/health.md). A host under assessment whose AWS
    host recovery is on stays V(degraded) for O(aws_recovery_grace_period) seconds; a host in permanent
    failure whose AWS host maintenance is on stays V(degraded), with the hosts that look like AWS's replacement.
  - With O(wait_for_aws_recovery), it waits while a host it reads is under AWS host recovery within the grace
    period with instances on it, re-reading the hosts, and returns the last reading and RV(recovered_by_aws).
  - Never changes anything, and never answers from a cache.
options:
  host_ids:
    description:
      - The hosts to classify. Each must be C(h-) followed by 8 or 17 hex digits.
      - Without it, every host of the region (optionally narrowed by O(filters)) is classified.
    type: list
    elements: str
    default: []
  filters:
    description:
      - 'DescribeHosts filters, for example C({"availability-zone": "us-east-1a", "state": "available"}).'
    type: dict
    default: {}
  aws_recovery_grace_period:
    description:
      - Seconds AWS host recovery is given, from the earliest C(ImpairedSince) of the host's instances,
        before a host under assessment counts as V(failed).
    type: float
    default: 900
  aws_recovery_assumed_start:
    description:
      - When AWS host recovery counts as begun if no instance of the host reports C(ImpairedSince),
        as an ISO 8601 time (UTC when no offset is given). Without it, recovery counts as beginning now.
      - The failover passes the start of its own wait, so that it waits the grace period once, not forever.
    type: str
  ignore_aws_recovery:
    description:
      - Classify a host under assessment, or in permanent failure, as V(failed) even when AWS host recovery
        or AWS host maintenance is on.
    type: bool
    default: false
  health_event_code:
    description:
      - The code of an AWS Health event reported for the hosts of O(health_event_resources), for example
        V(AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED) (the rulebook in extensions/eda passes it).
      - On an V(available) or V(pending) host, a retirement code makes the host V(failed), a maintenance code
        (or another code of the C(AWS_EC2_DEDICATED_HOST_) family) at least V(degraded); the reasons name the code.
        Hosts in other states are classified as without it (docs/health.md).
    type: str
  health_event_resources:
    description:
      - The resources of that event (its C(resources) in EventBridge, or C(entityValue) in AWS Health), as host
        ids or dedicated-host ARNs. Other resources are ignored.
    type: list
    elements: str
    default: []
  wait_for_aws_recovery:
    description:
      - Re-read the hosts while any is under AWS host recovery within O(aws_recovery_grace_period) and still has
        instances on it, until AWS releases the host or moves its instances off it, or the grace period ends
        (then the host is V(failed)). Recovery that no instance dates counts from O(aws_recovery_assumed_start),
        or from the first read.
      - The hosts are re-read every O(aws_recovery_poll_interval) seconds, or every thirtieth of the grace period
        when that is longer (every 30 s for the default 900 s).
    type: bool
    default: false
    version_added: 0.2.0
  aws_recovery_poll_interval:
    description:
      - The shortest time between two reads of O(wait_for_aws_recovery), in seconds.
    type: float
    default: 1
    version_added: 0.2.0
  health:
    description:
      - Only return hosts of these classes. RV(summary) still counts every host read.
    type: list
    elements: str
    choices: [healthy, degraded, failed, gone]
    default: [healthy, degraded, failed, gone]
extends_documentation_fragment:
  - dedicated_hosts.failover.assume_role
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Classify one host before failing it over
  dedicated_hosts.failover.host_health_info:
    host_ids:
      - h-0123456789abcdef0
  register: health

- name: Find the failed hosts of a region
  dedicated_hosts.failover.host_health_info:
    region: eu-west-1
    health: [failed]
  register: fleet

- name: List them
  ansible.builtin.debug:
    msg: "{{ fleet.hosts | map(attribute='host_id') | list }}"

- name: Wait while AWS recovers the host, then read it
  dedicated_hosts.failover.host_health_info:
    host_ids:
      - h-0123456789abcdef0
    wait_for_aws_recovery: true
  register: after_recovery

- name: Count the classes, giving AWS recovery five minutes
  dedicated_hosts.failover.host_health_info:
    aws_recovery_grace_period: 300
  register: counts
"""

RETURN = r"""
hosts:
  description: One entry per host of the requested classes, sorted by host id.
  returned: always
  type: list
  elements: dict
  contains:
    host_id:
      description: The host id.
      type: str
      sample: h-0123456789abcdef0
    state:
      description: The host's allocation state as EC2 reports it.
      type: str
      sample: permanent-failure
    health:
      description: V(healthy), V(degraded), V(failed) or V(gone).
      type: str
      sample: failed
    reasons:
      description: Why the host has that class; empty for a healthy host.
      type: list
      elements: str
      sample: ["host is in permanent-failure and AWS host maintenance is off: AWS will not move its instances"]
    availability_zone:
      description: The host's availability zone.
      type: str
      sample: us-east-1a
    instance_family:
      description: The host's instance family.
      type: str
      sample: m5
    instance_type:
      description: The host's one instance type; null when the host allows several types of its family.
      type: str
      sample: m5.large
    host_properties:
      description: Cores, sockets, vCPUs, instance family (and type for a single-type host).
      type: dict
    host_recovery:
      description: Whether AWS host recovery is on.
      type: str
      sample: "on"
    host_maintenance:
      description: Whether AWS host maintenance is on.
      type: str
      sample: "on"
    allocation_time:
      description: When the host was allocated (ISO 8601, UTC).
      type: str
      sample: "2026-01-31T12:00:00Z"
    aws_recovery:
      description:
        - AWS host recovery's timing, for a host under assessment with host recovery on that is classified
          against the grace period; null otherwise.
      type: dict
      contains:
        in_progress:
          description: Whether the grace period is still running (the host is then V(degraded)).
          type: bool
        since:
          description: When recovery began (ISO 8601, UTC).
          type: str
        since_reported:
          description: Whether an instance reported that time (C(ImpairedSince)); if not, O(aws_recovery_assumed_start) or now was used.
          type: bool
        grace_ends:
          description: When the grace period ends (ISO 8601, UTC).
          type: str
        seconds_left:
          description: Seconds until the grace period ends; 0 once it has.
          type: float
    maintenance_replacement_candidates:
      description:
        - For a host in permanent failure with AWS host maintenance on, the hosts that look like the replacement
          AWS allocated (same AZ, instance type or family and tags, allocated later, available or pending, not
          claimed by a failover). Empty for any other host.
      type: list
      elements: str
      sample: [h-0fedcba9876543210]
    available_capacity:
      description: The host's available capacity as EC2 reports it.
      type: dict
    tags:
      description: The host's tags as a dict.
      type: dict
    instances:
      description: The live instances on or targeting the host (not terminated or shutting down).
      type: list
      elements: dict
      contains:
        instance_id:
          description: The instance id.
          type: str
        instance_type:
          description: The instance type.
          type: str
        state:
          description: The instance state name.
          type: str
        host_id:
          description: The host the instance is on or targets.
          type: str
        affinity:
          description: The instance's host affinity.
          type: str
        tenancy:
          description: The instance's tenancy.
          type: str
        availability_zone:
          description: The instance's availability zone.
          type: str
        platform:
          description: V(windows) for a Windows instance, else null.
          type: str
        public_ip_address:
          description: The public IPv4 address, if any.
          type: str
        system_status:
          description: The instance's system status (V(ok), V(impaired), V(not-applicable) for a stopped instance, ...).
          type: str
        impaired_since:
          description: When the system status became impaired (ISO 8601, UTC), if EC2 says.
          type: str
        events:
          description: The instance's scheduled events, completed ones included (their description starts with C([Completed])).
          type: list
          elements: dict
          contains:
            code:
              description: The event code, for example V(instance-retirement).
              type: str
            description:
              description: The event description.
              type: str
            not_before:
              description: The earliest start of the event (ISO 8601, UTC).
              type: str
            not_after:
              description: The latest end of the event (ISO 8601, UTC).
              type: str
            instance_event_id:
              description: The event id.
              type: str
recovered_by_aws:
  description:
    - With O(wait_for_aws_recovery), the ids of the hosts AWS recovered during the call (released, or their
      instances moved off them since the first read). Empty without it.
  returned: always
  type: list
  elements: str
  sample: [h-0123456789abcdef0]
  version_added: 0.2.0
summary:
  description: How many hosts of each health class were read (before O(health) selects the hosts returned).
  returned: always
  type: dict
  sample: {healthy: 10, degraded: 1, failed: 1, gone: 0}
"""

from ansible_collections.amazon.aws.plugins.module_utils.transformation import camel_dict_to_snake_dict

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.base import FailoverModule
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import default_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import AWS_RECOVERY_GRACE_PERIOD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import CLASSES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import health_events_of
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import host_health
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import host_health_after_aws_recovery
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import summary
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import utc_datetime


def run(module):
    params = module.params
    for host_id in params["host_ids"]:
        validate_host_id(host_id)
    if params["aws_recovery_grace_period"] < 0:
        raise InvalidInputError("aws_recovery_grace_period must be 0 or more, not %s" % params["aws_recovery_grace_period"])
    try:
        assumed_start = utc_datetime(params["aws_recovery_assumed_start"])
    except ValueError:
        module.fail_json(msg="aws_recovery_assumed_start %r is not an ISO 8601 time" % params["aws_recovery_assumed_start"])
    if params["aws_recovery_poll_interval"] <= 0:
        raise InvalidInputError("aws_recovery_poll_interval must be more than 0, not %s" % params["aws_recovery_poll_interval"])
    options = dict(
        host_ids=params["host_ids"],
        filters=params["filters"],
        grace_period=params["aws_recovery_grace_period"],
        ignore_aws_recovery=params["ignore_aws_recovery"],
        recovery_assumed_start=assumed_start,
        health_events=health_events_of(params["health_event_code"], params["health_event_resources"]),
    )
    if params["wait_for_aws_recovery"]:
        report, recovered = host_health_after_aws_recovery(module.aws_client("ec2"), params["aws_recovery_poll_interval"], **options)
    else:
        report, recovered = host_health(module.aws_client("ec2"), **options), []
    hosts = [camel_dict_to_snake_dict(host, ignore_list=["Tags"]) for host in report if host["Health"] in params["health"]]
    return dict(changed=False, hosts=hosts, recovered_by_aws=recovered, summary=summary(report))


def main():
    module = FailoverModule(
        argument_spec=dict(
            host_ids=dict(type="list", elements="str", default=[]),
            filters=dict(type="dict", default={}),
            aws_recovery_grace_period=dict(type="float", default=AWS_RECOVERY_GRACE_PERIOD),
            aws_recovery_assumed_start=dict(type="str"),
            ignore_aws_recovery=dict(type="bool", default=default_of("ignore_aws_recovery")),
            health_event_code=dict(type="str"),
            health_event_resources=dict(type="list", elements="str", default=default_of("health_event_host_ids")),
            wait_for_aws_recovery=dict(type="bool", default=False),
            aws_recovery_poll_interval=dict(type="float", default=default_of("poll_interval")),
            health=dict(type="list", elements="str", choices=list(CLASSES), default=list(CLASSES)),
        ),
        assume_role=True,
    )
    module.run(run)


if __name__ == "__main__":
    main()
