# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options of the modules that read or write the migration table.
    DOCUMENTATION = r"""
options:
  table:
    description:
      - The DynamoDB table that holds migration records, leases and pool-host claims.
      - Its partition key is C(HostId) (String); C(playbooks/setup.yml) creates it.
    type: str
    default: HostMigrationQueue
  table_region:
    description:
      - The region of the table (and of the notification topic), when it differs from O(region).
    type: str
  table_profile:
    description:
      - A named AWS profile for the table (and the topic), when they live in another account.
    type: str
"""

    # The record option of the modules that read or write one host's failover or failback record.
    KIND = r"""
options:
  record:
    description:
      - Which record of the host to use. V(failover) is the host's failover record, keyed by the host id.
      - V(failback) is the record of the failback to that (original) host, keyed C(failback#<host id>), with the same
        schema, lease and fencing (C(docs/record-schema.md)); C(playbooks/failback.yml) uses it.
    type: str
    choices: [failover, failback]
    default: failover
    version_added: 0.2.0
"""
