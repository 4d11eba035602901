#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: migration_record_info
short_description: Read the migration record of a failed Dedicated Host, or list records by state
version_added: 0.1.0
description:
  - With O(host_id), reads that host's migration record and returns its status document (the reference system's
    GetMigrationStatus shape) and the normalised record. A host without a record is not an error (RV(found=false)).
  - Without O(host_id), lists every migration record of the table, optionally only those in O(state), as status documents.
  - Records written by the reference system (without lease fields, counters or phases) read with defaults.
  - Pool-host claims (C(claim#) items of the same table) are never returned. The module never writes.
author:
  - Dedicated Hosts Failover maintainers (@dedicated-hosts)
options:
  host_id:
    description:
      - The failed (source) Dedicated Host whose record to read (V(h-) followed by 8 or 17 hex digits).
      - Omit it to list records.
      - With O(record=failback), the original host whose failback record to read.
    type: str
  state:
    description:
      - When listing, return only records in this state.
      - Failback records are listed only with O(record=failback), and then only they are.
    type: str
    choices: [pending, processing, complete, failed, cancelled, healthy]
extends_documentation_fragment:
  - dedicated_hosts.failover.record
  - dedicated_hosts.failover.record.kind
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Show the progress of a failover
  dedicated_hosts.failover.migration_record_info:
    host_id: h-0123456789abcdef0
  register: migration

- name: Print the summary
  ansible.builtin.debug:
    var: migration.status.migrationSummary
  when: migration.found

- name: List failovers still running
  dedicated_hosts.failover.migration_record_info:
    state: processing
  register: running

- name: Read a table in another region
  dedicated_hosts.failover.migration_record_info:
    host_id: h-0123456789abcdef0
    table: HostMigrationQueue
    table_region: eu-west-1

- name: Show the progress of the failback to h-0123456789abcdef0
  dedicated_hosts.failover.migration_record_info:
    host_id: h-0123456789abcdef0
    record: failback
"""

RETURN = r"""
found:
  description: Whether the host has a record.
  returned: when O(host_id) is given
  type: bool
  sample: true
status:
  description:
    - The status document of the record, camelCase (see C(docs/record-schema.md)); null when there is no record.
  returned: when O(host_id) is given
  type: dict
  contains:
    hostId:
      description: The failed host.
      type: str
    state:
      description: V(pending), V(processing), V(complete), V(failed), V(cancelled) (V(healthy) in reference-system records).
      type: str
    reservedHostId:
      description: The first replacement host.
      type: str
    replacementHostIds:
      description: Every replacement host.
      type: list
      elements: str
    createdAt:
      description: Epoch seconds.
      type: float
    updatedAt:
      description: Epoch seconds.
      type: float
    migrationSummary:
      description:
        - C(totalInstances), C(successfulMigrations), C(failedMigrations), C(skippedMigrations),
          C(cancelledMigrations) (left unmoved by a cancel, in a C(cancelled) record), C(inProgressMigrations) (not
          finished yet) and C(progressPercentage) (skipped and cancelled count as done; 100 without instances).
      type: dict
    instanceMigrations:
      description: Instance id to its entry (status, phase, phaseTimes, startTime, endTime, retryCount, errorMessage, ...).
      type: dict
    errorDetails:
      description: The overall error, if any.
      type: str
    expirationTime:
      description: TTL epoch seconds, once finalized.
      type: int
    runId:
      description: The run that last held the lease.
      type: str
    lease:
      description: C(owner), C(runId), C(expiresAt) and C(version) of the current lease; null when there is none.
      type: dict
    cancel:
      description:
        - The cancel request addressed to the record's last run (C(runId), C(requestedBy), C(reason), C(requestedAt));
          null when there is none. While that run still holds the lease, the cancel is pending.
      type: dict
  sample:
    hostId: h-0123456789abcdef0
    state: processing
    reservedHostId: h-0fedcba9876543210
    replacementHostIds: [h-0fedcba9876543210]
    createdAt: 1795758617
    updatedAt: 1795758640
    migrationSummary:
      totalInstances: 3
      successfulMigrations: 2
      failedMigrations: 0
      skippedMigrations: 0
      inProgressMigrations: 1
      progressPercentage: 67
    instanceMigrations:
      i-0123456789abcdef0:
        status: success
        phase: verified
        startTime: "2026-11-27T05:50:40Z"
        endTime: "2026-11-27T05:53:02Z"
        retryCount: 0
    errorDetails: null
    expirationTime: null
    runId: run-4f6c2a9d0e1b7c35
    lease: {owner: ops@bastion, runId: run-4f6c2a9d0e1b7c35, expiresAt: 1795758760.5, version: 2}
record:
  description:
    - The normalised record with snake_case keys (missing fields of reference-system records get defaults); null when
      there is no record.
  returned: when O(host_id) is given
  type: dict
lease:
  description:
    - The record's lease with its standing now. C(state) is V(free), V(stuck) (a C(processing) record that never had
      a lease and has not changed for 2400 s, taken over by the next run), V(unleased) (such a record changed more
      recently, taken over only with O(ignore:break_lock)), V(expired) (past expiry plus the safety margin) or
      V(held).
    - Null when there is no record.
  returned: when O(host_id) is given
  type: dict
  sample: {state: held, owner: ops@bastion, run_id: run-4f6c2a9d0e1b7c35, expires_at: 1795758760.5,
           expires_at_iso: "2026-11-27T05:52:40Z", seconds: 120, version: 2}
records:
  description: The status documents of the records listed, by host id.
  returned: when O(host_id) is not given
  type: list
  elements: dict
count:
  description: How many records were listed.
  returned: when O(host_id) is not given
  type: int
  sample: 2
"""

import time

from ansible_collections.amazon.aws.plugins.module_utils.transformation import camel_dict_to_snake_dict

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.base import FailoverModule
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import get_record
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.dynamodb import list_records
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import record_key
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_info
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import RECORD_STATES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.status import status_document


def read_one(client, table, host_id):
    item = get_record(client, table, host_id)
    if item is None:
        return dict(changed=False, found=False, status=None, record=None, lease=None)
    lease = lease_info(item, run_id=None, now=time.time())
    return dict(changed=False, found=True, status=status_document(item), record=camel_dict_to_snake_dict(item), lease=lease)


def read_all(client, table, state, kind):
    records = [status_document(item) for item in list_records(client, table, state=state, kind=kind)]
    return dict(changed=False, records=records, count=len(records))


def run(module):
    params = module.params
    client = module.record_client("dynamodb")
    if params["host_id"] is not None:
        return read_one(client, params["table"], record_key(params["host_id"], params["record"], what="option host_id"))
    return read_all(client, params["table"], params["state"], params["record"])


def main():
    argument_spec = dict(
        host_id=dict(type="str"),
        state=dict(type="str", choices=list(RECORD_STATES)),
    )
    module = FailoverModule(argument_spec, record_options=True, record_kind=True, mutually_exclusive=[("host_id", "state")])
    module.run(run)


if __name__ == "__main__":
    main()
