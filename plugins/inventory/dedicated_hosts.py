# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: dedicated_hosts
short_description: EC2 Dedicated Hosts as inventory, grouped by health
version_added: 0.1.0
author:
  - Dedicated Hosts Failover maintainers (@dedicated-hosts)
description:
  - One inventory host per EC2 Dedicated Host (named by its host id), classified live as V(healthy),
    V(degraded), V(failed) or V(gone) by the table of the collection's C(docs/health.md), the same
    classification as the M(dedicated_hosts.failover.host_health_info) module.
  - 'Groups: C(health_<class>), C(state_<state>), C(az_<zone>), C(family_<family>) (dashes become underscores)
    and C(pool) (the hosts carrying every O(reserved_tags)); plus O(groups) and O(keyed_groups).'
  - Each host has C(ansible_connection=local) because the hosts are not SSH targets; a play that targets them runs
    its tasks on the controller, for example M(dedicated_hosts.failover.host_health_info) or the failover role
    with C(inventory_hostname) as the host id.
  - Every run reads EC2 afresh, with the calls growing by pages, not by hosts (DescribeHosts 500 a page,
    DescribeInstances and DescribeInstanceStatus 1000 a page). The plugin has no cache option, because a
    cached health class or instance list could start or skip a failover wrongly.
  - Uses a YAML configuration file whose name ends with C(dedicated_hosts.yml) or C(dedicated_hosts.yaml).
options:
  plugin:
    description: The name of this plugin; it makes the file an inventory source of this plugin.
    required: true
    choices: [dedicated_hosts.failover.dedicated_hosts]
    type: str
  regions:
    description:
      - The regions to read. Without it, the one region of O(region), C(AWS_REGION) or the AWS configuration.
    type: list
    elements: str
    default: []
  filters:
    description:
      - 'DescribeHosts filters, for example C({"availability-zone": "us-east-1a"}).'
    type: dict
    default: {}
  aws_recovery_grace_period:
    description:
      - Seconds AWS host recovery is given, from the earliest C(ImpairedSince) of a host's instances, before a
        host under assessment counts as V(failed).
    type: float
    default: 900
  ignore_aws_recovery:
    description:
      - Classify hosts under AWS host recovery or AWS host maintenance as V(failed) at once.
    type: bool
    default: false
  reserved_tags:
    description:
      - The tags (key and value) that mark the pool hosts failovers move instances to; such hosts are in C(pool).
    type: dict
    default: {Role: Reserved}
extends_documentation_fragment:
  - constructed
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
  - amazon.aws.assume_role.plugins
notes:
  - 'Host variables: C(dedicated_host_id), C(health), C(reasons), C(state), C(availability_zone), C(region),
    C(instance_family), C(instance_type), C(instance_ids), C(capacity) (the host''s available capacity),
    C(dedicated_host_tags), C(aws_recovery), C(maintenance_replacement_candidates) and C(ansible_connection).'
  - The host's tags are C(dedicated_host_tags), not C(tags), because C(tags) is a reserved name in Ansible.
"""

EXAMPLES = r"""
# inventories/fleet.dedicated_hosts.yml
plugin: dedicated_hosts.failover.dedicated_hosts
regions:
  - us-east-1
  - eu-west-1
aws_recovery_grace_period: 600
keyed_groups:
  - key: dedicated_host_tags.Environment | default('none')
    prefix: env

# Then: ansible-inventory -i inventories/fleet.dedicated_hosts.yml --graph
# and, to fail over every failed host one after another:
#   - hosts: health_failed
#     gather_facts: false
#     tasks:
#       - ansible.builtin.include_role:
#           name: dedicated_hosts.failover.host_failover
#         vars:
#           host_failover_failed_host_id: "{{ inventory_hostname }}"
#           host_failover_aws_region: "{{ region }}"
"""

try:
    import boto3
    import botocore
except ImportError:
    pass  # require_aws_sdk() reports it

from ansible.errors import AnsibleError
from ansible_collections.amazon.aws.plugins.module_utils.transformation import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.plugin_utils.inventory import AWSInventoryBase

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import FailoverError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health import host_health


def group_name(prefix, value):
    """``prefix_value`` with the characters group names may not hold (dashes, dots, ...) as underscores."""
    text = "%s_%s" % (prefix, value)
    return "".join(character if character.isalnum() or character == "_" else "_" for character in text)


def host_vars(entry, region):
    """The inventory variables of one host_health() entry."""
    return {
        "dedicated_host_id": entry["HostId"],
        "health": entry["Health"],
        "reasons": entry["Reasons"],
        "state": entry["State"],
        "availability_zone": entry["AvailabilityZone"],
        "region": region,
        "instance_family": entry["InstanceFamily"],
        "instance_type": entry["InstanceType"],
        "instance_ids": [instance["InstanceId"] for instance in entry["Instances"]],
        "capacity": camel_dict_to_snake_dict(entry["AvailableCapacity"]),
        "dedicated_host_tags": entry["Tags"],
        "aws_recovery": camel_dict_to_snake_dict(entry["AwsRecovery"]) if entry["AwsRecovery"] else None,
        "maintenance_replacement_candidates": entry["MaintenanceReplacementCandidates"],
        "ansible_connection": "local",
    }


def carries_tags(tags, reserved_tags):
    return bool(reserved_tags) and all(tags.get(key) == str(value) for key, value in reserved_tags.items())


class InventoryModule(AWSInventoryBase):
    NAME = "dedicated_hosts.failover.dedicated_hosts"
    INVENTORY_FILE_SUFFIXES = ("dedicated_hosts.yml", "dedicated_hosts.yaml")

    def _regions(self):
        regions = self.get_option("regions")
        if regions:
            return regions
        region = self.region or boto3.session.Session(profile_name=self.get_option("profile") or None).region_name
        if not region:
            raise AnsibleError("%s: set regions (or region, AWS_REGION or a region in the AWS configuration)" % self.NAME)
        return [region]

    def _read_region(self, region):
        try:
            return host_health(
                self.client("ec2", region=region),
                filters=self.get_option("filters"),
                grace_period=self.get_option("aws_recovery_grace_period"),
                ignore_aws_recovery=self.get_option("ignore_aws_recovery"),
            )
        except FailoverError as error:
            raise AnsibleError("%s: %s in %s" % (self.NAME, error.message, region))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            self.fail_aws("Failed to read the Dedicated Hosts of %s" % region, exception=error)

    def _add(self, variables):
        host = variables["dedicated_host_id"]
        self.inventory.add_host(host)
        for name, value in variables.items():
            self.inventory.set_variable(host, name, value)
        groups = [
            group_name("health", variables["health"]),
            group_name("state", variables["state"]),
            group_name("az", variables["availability_zone"]),
            group_name("family", variables["instance_family"]),
        ]
        if carries_tags(variables["dedicated_host_tags"], self.get_option("reserved_tags")):
            groups.append("pool")
        for group in groups:
            self.inventory.add_group(group)
            self.inventory.add_child(group, host)
        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        for region in self._regions():
            for entry in self._read_region(region):
                self._add(host_vars(entry, region))
