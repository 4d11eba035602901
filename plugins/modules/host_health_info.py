#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: host_health_info
short_description: Classify EC2 Dedicated Hosts as healthy, degraded or failed
version_added: 0.1.0
author:
  - Dedicated Hosts Failover maintainers (@dedicated-hosts)
description:
  - Reads Dedicated Hosts, their instances and the instances' status with a few paginated calls
    (DescribeHosts, DescribeInstances filtered by host id, DescribeInstanceStatus joined by instance id)
    and classifies each host as V(healthy), V(degraded), V(failed) or V(gone) (released), with the reasons.
  - The classification table is in the collection's C(docs/health.md).
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
extends_documentation_fragment:
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
  register: fleet

- name: List them
  ansible.builtin.debug:
    msg: "{{ fleet.hosts | selectattr('health', 'equalto', 'failed') | map(attribute='host_id') | list }}"
"""

RETURN = r"""
hosts:
  description: One entry per host, sorted by host id.
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
    availability_zone:
      description: The host's availability zone.
      type: str
    host_properties:
      description: Cores, sockets, vCPUs, instance family (and type for a single-type host).
      type: dict
    host_recovery:
      description: Whether AWS host recovery is on.
      type: str
    host_maintenance:
      description: Whether AWS host maintenance is on.
      type: str
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
        public_ip_address:
          description: The public IPv4 address, if any.
          type: str
counts:
  description: How many hosts of each health class were found.
  returned: always
  type: dict
  sample: {healthy: 10, degraded: 1, failed: 1, gone: 0}
"""

from ansible_collections.amazon.aws.plugins.module_utils.transformation import camel_dict_to_snake_dict

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.base import FailoverModule
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import DEGRADED
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import FAILED
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import GONE
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import HEALTHY
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import host_health
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_host_id


def run(module):
    for host_id in module.params["host_ids"]:
        validate_host_id(host_id)
    report = host_health(module.aws_client("ec2"), host_ids=module.params["host_ids"], filters=module.params["filters"])
    hosts = [camel_dict_to_snake_dict(host, ignore_list=["Tags"]) for host in report]
    counts = dict((health, 0) for health in (HEALTHY, DEGRADED, FAILED, GONE))
    for host in hosts:
        counts[host["health"]] += 1
    return dict(changed=False, hosts=hosts, counts=counts)


def main():
    module = FailoverModule(argument_spec=dict(host_ids=dict(type="list", elements="str", default=[]), filters=dict(type="dict", default={})))
    module.run(run)


if __name__ == "__main__":
    main()
