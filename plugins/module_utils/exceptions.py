# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors the engine raises; modules turn them into ``fail_json`` with the details attached."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any
from typing import Optional


class FailoverError(Exception):
    """Base of every engine error: a message for the operator and details for the result."""

    def __init__(self, message: str, **details: Any) -> None:
        super(FailoverError, self).__init__(message)
        self.message = message
        self.details = details


class InvalidInputError(FailoverError):
    """A value given by the caller is malformed or inconsistent; raised before any AWS call."""


class NotFoundError(FailoverError):
    """A host, instance, table or record the caller named does not exist."""


class LeaseHeldError(FailoverError):
    """Another live run holds the host's lease."""


class LeaseLostError(FailoverError):
    """This run's lease expired or was taken over; it must stop changing anything."""


class ConflictError(FailoverError):
    """A conditional write lost against a concurrent writer more often than it may retry."""


class CapacityError(FailoverError):
    """Not every movable instance has a place; nothing has been stopped."""


class AwsApiError(FailoverError):
    """An AWS call failed after its retries; ``code`` is AWS's error code."""

    def __init__(self, message: str, code: Optional[str] = None, operation: Optional[str] = None, **details: Any) -> None:
        super(AwsApiError, self).__init__(message, code=code, operation=operation, **details)
        self.code = code
        self.operation = operation
