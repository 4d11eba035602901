# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The public variables of docs/variables.md: each one's default, kind and bounds, written once.

The playbooks normalise every input with the ``setting`` filter, which takes the default, kind and bounds from
``SETTINGS`` by the variable's name; the modules' argument specs and the engine take their defaults from
``default_of``. YAML cannot import Python, so the roles' defaults and argument specs, the modules' DOCUMENTATION
and docs/variables.md repeat the values: tests/unit/test_defaults.py proves they agree with this table.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
from typing import Any
from typing import Dict
from typing import NamedTuple
from typing import Optional


class Setting(NamedTuple):
    """One variable: its default (as the playbooks hand it to the roles), kind and, for numbers, bounds.

    ``kind`` is one of the ``setting`` filter's: str, bool, int, float, list, dict. ``minimum`` (inclusive) and
    ``greater_than`` (exclusive) bound a given value, not the default. A whole-number float default is written as
    an int (``120``), so that the playbooks show ``120 s`` as they always have; ``default_of`` gives it as a float.
    """

    default: Any
    kind: str
    minimum: Optional[float] = None
    greater_than: Optional[float] = None


def _seconds(default, minimum=None):
    """A duration: a float greater than 0 (or, with ``minimum``, at least that)."""
    if minimum is None:
        return Setting(default, "float", greater_than=0)
    return Setting(default, "float", minimum=minimum)


SETTINGS: Dict[str, Setting] = {
    # The hosts to fail over and where they are.
    "failed_host_id": Setting("", "str"),
    "failed_host_ids": Setting([], "list"),
    "failed_host_regions": Setting({}, "dict"),
    "failover_inventory_group": Setting("", "str"),
    "failover_host_concurrency": Setting(10, "int", minimum=1),
    "aws_region": Setting("", "str"),
    "aws_regions": Setting([], "list"),  # health_check.yml: empty means aws_region, else the AWS environment's
    "aws_profile": Setting("", "str"),
    "assume_role_arn": Setting("", "str"),
    "assume_role_external_id": Setting("", "str"),
    "assume_role_session_name": Setting("dedicated-hosts-failover", "str"),
    # The migration table and notifications.
    "migration_table": Setting("HostMigrationQueue", "str"),
    "migration_table_region": Setting("", "str"),
    "migration_aws_profile": Setting("", "str"),
    "notification_topic_arn": Setting("", "str"),  # checked by the valid_topic_arn filter, not setting
    "notify_each_instance": Setting(False, "bool"),
    # Capacity (docs/capacity.md).
    "reserved_tags": Setting({"Role": "Reserved"}, "dict"),
    "allocate_hosts": Setting(True, "bool"),
    "max_new_hosts": Setting(2, "int", minimum=0),
    "allocation_attempts": Setting(3, "int", minimum=1),
    "allocation_retry_delay": _seconds(5, minimum=0),
    "target_host_ids": Setting([], "list"),
    "host_hourly_prices": Setting({}, "dict"),
    "release_failed_host": Setting(False, "bool"),
    "replenish_pool": Setting(False, "bool"),
    "release_host_ids": Setting([], "list"),
    # The move: None means every instance at once; 0 or less is refused.
    "failover_concurrency": Setting(None, "int", minimum=1),
    "force_stop_after": _seconds(120),
    "stop_timeout": _seconds(600),
    "start_timeout": _seconds(600),
    "poll_interval": _seconds(1),
    "start_attempts": Setting(3, "int", minimum=1),
    "failover_lease_seconds": _seconds(120),
    "break_lock": Setting(False, "bool"),
    "force": Setting(False, "bool"),
    "instance_ids": Setting([], "list"),
    "fail_on_skipped": Setting(False, "bool"),
    "failover_report_dir": Setting("", "str"),
    "failover_progress": Setting(True, "bool"),
    # Host health (docs/health.md).
    "ignore_aws_recovery": Setting(False, "bool"),
    "aws_recovery_grace_period": _seconds(900, minimum=0),
    "health_event_code": Setting("", "str"),
    "health_event_host_ids": Setting([], "list"),
    "auto_failover": Setting(False, "bool"),
    "health_report_dir": Setting("", "str"),
    # Preflight (docs/preflight.md).
    "preflight_allow": Setting([], "list"),
    "windows_force_stop_after": _seconds(600),
    "mac_stop_timeout": _seconds(3600),
    "mac_start_timeout": _seconds(7200),
    "settle_timeout": _seconds(600),
    # Hooks around the move (docs/operator-guide.md#hooks-around-the-move).
    "pre_failover_tasks": Setting([], "list"),
    "post_failover_tasks": Setting([], "list"),
    "pre_stop_ssm_document": Setting("", "str"),
    "pre_stop_ssm_document_parameters": Setting({}, "dict"),
    "pre_stop_ssm_document_timeout": _seconds(300),
    "pre_stop_hook_failure": Setting("skip", "str"),
    "post_start_ssm_document": Setting("", "str"),
    "post_start_ssm_document_parameters": Setting({}, "dict"),
    "post_start_ssm_document_timeout": _seconds(300),
    "post_start_hook_failure": Setting("fail", "str"),
    "hook_concurrency": Setting(50, "int", minimum=1),  # the most instance ids one SendCommand takes
    # abort.yml, migration_status.yml, setup.yml.
    "abort_reason": Setting("", "str"),
    "failback": Setting(False, "bool"),
    "migration_state": Setting("", "str"),
    "status_format": Setting("text", "str"),
    "notification_topic_name": Setting("", "str"),
    "notification_email": Setting("", "str"),
    "event_queue_name": Setting("", "str"),
    # The roles' record_ttl_days (no playbook input): days a finalized record is kept before DynamoDB's TTL removes it.
    "record_ttl_days": Setting(7, "float", greater_than=0),
}

_KINDS = {"int": int, "float": float}


def default_of(name: str) -> Any:
    """The default of variable ``name`` in its kind (a float default as a float), a copy the caller may change."""
    setting = SETTINGS[name]
    if setting.default is None or setting.kind not in _KINDS:
        return copy.deepcopy(setting.default)
    return _KINDS[setting.kind](setting.default)
