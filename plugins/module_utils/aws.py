# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS client support shared by the engine: retries on throttling for every call, error codes, error handling, pagination.

The engine takes boto3 clients (from ``AnsibleAWSModule.client`` or from tests) and wraps them here, so
that every call it makes is retried on throttling and transient errors, DynamoDB's and SNS's codes
included (amazon.aws's default list has neither). The error codes the engine acts on are listed here once
(THROTTLING_CODES, the NotFound codes of each kind of resource), and ``aws_errors`` is the one place a botocore
error becomes the engine's error (``missing_returns`` for a read that treats a missing resource as no result).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import functools
import json
import os
import threading
import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import Iterable
from typing import Iterator
from typing import List
from typing import Optional

try:
    import fcntl
except ImportError:  # not a POSIX system: each process keeps its own buckets
    fcntl = None

try:
    import botocore
except ImportError:
    pass  # the modules report the missing library through AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import AwsApiError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError

# The throttling and transient codes of every service the engine calls, the one list: every call retries them
# (AWSRetry's own list holds the first seven; DynamoDB's and SNS's codes are not in it), and placement's retry
# passes and batch splitting treat them as passing.
THROTTLING_CODES = (
    "RequestLimitExceeded",
    "Throttling",
    "TooManyRequestsException",
    "Unavailable",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "ThrottlingException",  # DynamoDB and others
    "EC2ThrottledException",
    "ProvisionedThroughputExceededException",  # DynamoDB
    "InternalServerError",  # DynamoDB
    "Throttled",  # SNS (HTTP 429)
    "KMSThrottling",  # SNS with an encrypted topic: KMS throttled the topic's key (KMSThrottlingException)
)
# The codes that say a named resource does not exist, one list per kind of resource.
HOST_NOT_FOUND_CODES = ("InvalidHostID.NotFound", "InvalidHostId.NotFound")
TABLE_NOT_FOUND_CODES = ("ResourceNotFoundException",)
# EC2's request bucket for describe calls (maximum, refill per second): client-side buckets keep within it.
DESCRIBE_RATE_LIMIT = (100, 20.0)
RETRIES = 10  # attempts in all, as AWSRetry counts them
RETRY_DELAY = 0.5
RETRY_MAX_DELAY = 15


def retry_decorator() -> Callable:
    """AWSRetry's jittered backoff on THROTTLING_CODES, with the bounds above (read at each call: tests lower them)."""
    return AWSRetry.jittered_backoff(
        retries=RETRIES, delay=RETRY_DELAY, max_delay=RETRY_MAX_DELAY, catch_extra_error_codes=list(THROTTLING_CODES),
    )


def retrying(client: Any) -> RetryingBotoClientWrapper:
    """Wrap a boto3 client so that ``client.op(..., aws_retry=True)`` retries; wrapping twice is a no-op."""
    if isinstance(client, RetryingBotoClientWrapper):
        return client
    return RetryingBotoClientWrapper(client, retry_decorator())


def error_code(error: BaseException) -> Optional[str]:
    """AWS's error code of a botocore ClientError, or None for anything else."""
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code")


def chunks(items: List[Any], size: int) -> List[List[Any]]:
    """``items`` (a list) in consecutive lists of at most ``size``: one request's worth each."""
    return [items[start:start + size] for start in range(0, len(items), size)]


def api_error(error: BaseException, operation: str, message: Optional[str] = None, **details: Any) -> AwsApiError:
    """An AwsApiError for a botocore error, naming the operation and AWS's code and message."""
    code = error_code(error)
    aws_message = (getattr(error, "response", None) or {}).get("Error", {}).get("Message") or str(error)
    text = message or f"{operation} failed"
    return AwsApiError(f"{text}: {aws_message} ({code or type(error).__name__})", code=code, operation=operation, **details)


@contextlib.contextmanager
def aws_errors(operation: str, message: Optional[str] = None, not_found_codes: Iterable[str] = (),
               not_found: Optional[Callable[[], NotFoundError]] = None, **details: Any) -> Iterator[None]:
    """The one place a botocore ClientError becomes the engine's error, after amazon.aws's AWSErrorHandler.

    A ClientError raised inside becomes ``not_found()`` (a NotFoundError) when its code is one of
    ``not_found_codes``, else an AwsApiError naming ``operation`` (api_error, with ``message`` and ``details``).
    A caller that handles some codes itself catches the AwsApiError and reads its ``code``.
    """
    try:
        yield
    except botocore.exceptions.ClientError as error:
        if not_found is not None and error_code(error) in not_found_codes:
            raise not_found() from error
        raise api_error(error, operation, message, **details) from error


def missing_returns(not_found_codes: Iterable[str], default: Callable[[], Any]) -> Callable:
    """A decorator after amazon.aws's ``list_error_handler``: a read whose ClientError has one of ``not_found_codes``
    (a resource it names does not exist) returns ``default()`` instead.

    Any other error goes on unchanged: the modules report it with fail_json_aws and the inventory with fail_aws,
    with all that botocore tells.
    """
    def decorate(read):
        @functools.wraps(read)
        def handler(*args, **kwargs):
            try:
                return read(*args, **kwargs)
            except botocore.exceptions.ClientError as error:
                if error_code(error) not in not_found_codes:
                    raise
                return default()
        return handler
    return decorate


def paginate(client: Any, operation: str, **params: Any) -> Dict[str, Any]:
    """All pages of ``operation`` as one result; the whole pagination is retried on throttling."""
    raw = client.client if isinstance(client, RetryingBotoClientWrapper) else client

    @retry_decorator()
    def _all_pages():
        return raw.get_paginator(operation).paginate(**params).build_full_result()

    return _all_pages()


def is_client_error(error: BaseException) -> bool:
    """Whether ``error`` is a botocore ClientError (an answer from AWS, with a code)."""
    return isinstance(error, botocore.exceptions.ClientError)


# Set (by the collection's action plugins) to a folder that lives as long as the ansible-playbook run: the EC2
# request buckets of every module process of the run are kept there, one file per region.
REQUEST_BUDGET_DIR_ENV = "DEDICATED_HOSTS_FAILOVER_REQUEST_BUDGET_DIR"


def request_budget_file(region: Optional[str]) -> Optional[str]:
    """The file of the run's shared EC2 request buckets for ``region``, or None when the run has none."""
    folder = os.environ.get(REQUEST_BUDGET_DIR_ENV)
    if not folder or not os.path.isdir(folder):
        return None
    return os.path.join(folder, f"ec2-request-buckets-{region or 'default'}.json")


class TokenBucket(object):
    """A client-side token bucket, so that the calls of a run stay within EC2's request limits.

    A taker reserves its tokens under a lock and waits outside it, so tokens go out in turn and threads share a
    bucket safely. With ``shared_file`` the bucket's state lives in that file, read and written under an exclusive
    lock (flock), so every process that names the file draws from one bucket: the hosts of one failover run share
    one EC2 request budget (plugins/plugin_utils/forked_module.py names the file; docs/performance.md).
    """

    def __init__(self, capacity: float, rate: float, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, shared_file: Optional[str] = None, name: str = "bucket") -> None:
        self._lock = threading.Lock()
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._monotonic = monotonic
        self._sleep = sleep
        self._state = [self.capacity, monotonic()]  # tokens (negative: reserved ahead), and when they were counted
        self._shared_file = shared_file if fcntl is not None else None
        self._name = name

    def take(self, count: float = 1) -> float:
        """Take ``count`` tokens, waiting until the bucket holds them; returns the seconds waited."""
        with self._held_state() as state:
            now = self._monotonic()
            tokens = min(self.capacity, state[0] + max(0.0, now - state[1]) * self.rate)
            waited = max(0.0, (count - tokens) / self.rate)
            state[:] = [tokens - count, now]
        if waited:
            self._sleep(waited)
        return waited

    @contextlib.contextmanager
    def _held_state(self):
        with self._lock:
            if self._shared_file is None:
                yield self._state
                return
            try:
                descriptor = os.open(self._shared_file, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                # The run's folder is gone (ansible-playbook exited on a cancel while this module finishes the
                # instances already moving): go on with this process's own bucket, from the shared one's last state.
                self._shared_file = None
                yield self._state
                return
            with os.fdopen(descriptor, "r+", encoding="utf-8") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    text = handle.read()
                    buckets = json.loads(text) if text.strip() else {}
                    state = buckets.setdefault(self._name, list(self._state))
                    yield state
                    self._state = list(state)
                    handle.seek(0)
                    handle.truncate()
                    handle.write(json.dumps(buckets))
                    handle.flush()
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
