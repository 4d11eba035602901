# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stdout callback for scripts: print the status document of migration_status.yml, and nothing else."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: status_document
type: stdout
version_added: 0.1.0
short_description: Print only the status document of a migration_status run, as JSON
description:
  - For scripts that read a failover's progress. With this stdout callback,
    C(ansible-playbook dedicated_hosts.failover.migration_status -e status_format=json) prints the status
    document (the camelCase shape of the reference system, see docs/record-schema.md) on stdout as one JSON value,
    and nothing else. Without O(ignore:failed_host_id), the value is the list of the records' status documents.
  - A failed task prints its message on stderr, and ansible-playbook exits non-zero as usual (2 when there is no
    record for the host).
  - Warnings and deprecations go to stderr; no play, task or recap line is printed.
requirements:
  - set as the stdout callback, for example E(ANSIBLE_STDOUT_CALLBACK=dedicated_hosts.failover.status_document)
"""

EXAMPLES = r"""
# ANSIBLE_STDOUT_CALLBACK=dedicated_hosts.failover.status_document \
#   ansible-playbook dedicated_hosts.failover.migration_status -e failed_host_id=h-0123456789abcdef0 \
#   -e status_format=json | jq -r .state
"""

import json

from ansible.plugins.callback import CallbackBase

# The fact migration_status.yml sets to the document when status_format is json.
DOCUMENT_FACT = "status_document"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "dedicated_hosts.failover.status_document"

    def v2_runner_on_ok(self, result):
        facts = result._result.get("ansible_facts") or {}  # pylint: disable=protected-access
        if DOCUMENT_FACT in facts:
            self._display.display(json.dumps(facts[DOCUMENT_FACT], sort_keys=True, default=str))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if ignore_errors:
            return
        data, task = result._result, result._task  # pylint: disable=protected-access
        self._display.display("%s: %s" % (task.get_name(), data.get("msg") or data.get("stderr") or "failed"), stderr=True)

    def v2_runner_on_unreachable(self, result):
        self._display.display("%s: unreachable: %s" % (result._host.get_name(), result._result.get("msg", "")), stderr=True)  # pylint: disable=protected-access

    def v2_playbook_on_no_hosts_matched(self):
        self._display.display("no hosts matched", stderr=True)
