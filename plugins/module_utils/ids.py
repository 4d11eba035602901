# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of the identifiers the collection accepts, done before any AWS call."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from typing import Any
from typing import Dict
from typing import Optional
from typing import Tuple

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError

# EC2 ids carry 8 (older resources) or 17 lowercase hex digits after the prefix.
HOST_ID_PATTERN = re.compile(r"^h-(?:[0-9a-f]{8}|[0-9a-f]{17})\Z")
INSTANCE_ID_PATTERN = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})\Z")
_ARN_PATTERN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
    r"(?P<account>\d{12}|):(?P<resource>.+)\Z"
)
_TOPIC_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}(?:\.fifo)?\Z")
_TABLE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,255}\Z")
_ROLE_PATH_PATTERN = re.compile(r"^role/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}\Z")
_SESSION_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{2,64}\Z")

# The migration table holds two kinds of record per host: its failover's, keyed by the host id, and its failback's,
# keyed by this prefix and the host id (docs/record-schema.md).
FAILOVER_RECORD = "failover"
FAILBACK_RECORD = "failback"
RECORD_KINDS = (FAILOVER_RECORD, FAILBACK_RECORD)
FAILBACK_KEY_PREFIX = "failback#"


def _require_string(value, what):
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}", value=value)


def _require_match(value, what, pattern, expected):
    """``value`` if it is a string that ``pattern`` matches; else an InvalidInputError saying what was ``expected``."""
    _require_string(value, what)
    if not pattern.match(value):
        raise InvalidInputError(f"{what} {value!r} is malformed: {expected}", value=value)
    return value


def validate_host_id(value: Any, what: str = "host id") -> str:
    """Return ``value`` if it is a Dedicated Host id (``h-`` and 8 or 17 hex digits)."""
    return _require_match(value, what, HOST_ID_PATTERN, "expected 'h-' followed by 8 or 17 lowercase hex digits")


def record_key(host_id: str, kind: str = FAILOVER_RECORD, what: str = "host id") -> str:
    """The migration table key of the ``kind`` record of ``host_id``: the host id, or ``failback#<host id>``."""
    validate_host_id(host_id, what=what)
    if kind not in RECORD_KINDS:
        raise InvalidInputError(f"record must be one of {', '.join(RECORD_KINDS)}, got {kind!r}", value=kind)
    return FAILBACK_KEY_PREFIX + host_id if kind == FAILBACK_RECORD else host_id


def validate_record_key(value: Any, what: str = "host id") -> str:
    """Return ``value`` if it keys a migration record: a host id, or ``failback#`` and a host id."""
    _require_string(value, what)
    host_id = value[len(FAILBACK_KEY_PREFIX):] if value.startswith(FAILBACK_KEY_PREFIX) else value
    if not HOST_ID_PATTERN.match(host_id):
        raise InvalidInputError(
            f"{what} {value!r} is malformed: expected 'h-' followed by 8 or 17 lowercase hex digits, alone or after {FAILBACK_KEY_PREFIX!r}",
            value=value,
        )
    return value


def record_kind(key: str) -> Tuple[str, str]:
    """``(kind, host id)`` of the record keyed ``key``: ``(FAILBACK_RECORD, <host>)`` for ``failback#<host>``."""
    if key.startswith(FAILBACK_KEY_PREFIX):
        return FAILBACK_RECORD, key[len(FAILBACK_KEY_PREFIX):]
    return FAILOVER_RECORD, key


def validate_instance_id(value: Any, what: str = "instance id") -> str:
    """Return ``value`` if it is an instance id (``i-`` and 8 or 17 hex digits)."""
    return _require_match(value, what, INSTANCE_ID_PATTERN, "expected 'i-' followed by 8 or 17 lowercase hex digits")


def parse_arn(value: Any, service: Optional[str] = None, what: str = "ARN") -> Dict[str, str]:
    """Split an ARN of the aws, aws-cn or aws-us-gov partition; optionally require its service."""
    _require_string(value, what)
    match = _ARN_PATTERN.match(value)
    if not match:
        raise InvalidInputError(
            f"{what} {value!r} is malformed: expected arn:<aws|aws-cn|aws-us-gov>:<service>:<region>:<account>:<resource>",
            value=value,
        )
    parts = match.groupdict()
    if service is not None and parts["service"] != service:
        raise InvalidInputError(
            f"{what} {value!r} is not an {service} ARN (its service is {parts['service']!r})", value=value
        )
    return parts


def validate_topic_arn(value: Any, what: str = "notification topic ARN") -> str:
    """Return ``value`` if it is an SNS topic ARN with a region, an account and a valid topic name."""
    parts = parse_arn(value, service="sns", what=what)
    if not parts["region"] or not parts["account"] or not _TOPIC_NAME_PATTERN.match(parts["resource"]):
        raise InvalidInputError(
            f"{what} {value!r} is malformed: expected arn:<partition>:sns:<region>:<12-digit account>:<topic name>",
            value=value,
        )
    return value


def validate_role_arn(value: Any, what: str = "role ARN") -> str:
    """Return ``value`` if it is an IAM role ARN (``arn:<partition>:iam::<account>:role/<path><name>``)."""
    parts = parse_arn(value, service="iam", what=what)
    if parts["region"] or not parts["account"] or not _ROLE_PATH_PATTERN.match(parts["resource"]):
        raise InvalidInputError(
            f"{what} {value!r} is malformed: expected arn:<partition>:iam::<12-digit account>:role/<name>", value=value
        )
    return value


def validate_session_name(value: Any, what: str = "role session name") -> str:
    """Return ``value`` if STS accepts it as a RoleSessionName (2 to 64 of A-Z a-z 0-9 and +=,.@_-)."""
    return _require_match(value, what, _SESSION_NAME_PATTERN, "STS takes 2 to 64 characters of A-Z a-z 0-9 and +=,.@_-")


def validate_table_name(value: Any, what: str = "migration table name") -> str:
    """Return ``value`` if it is a valid DynamoDB table name."""
    return _require_match(value, what, _TABLE_NAME_PATTERN, "DynamoDB table names are 3 to 255 characters of A-Z a-z 0-9 _ - .")
