# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS client support shared by the engine: retries on throttling for every call, error codes, pagination.

The engine takes boto3 clients (from ``AnsibleAWSModule.client`` or from tests) and wraps them here, so
that every call it makes is retried on throttling and transient errors, DynamoDB's and SNS's codes
included (amazon.aws's default list has neither).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

try:
    import botocore
except ImportError:
    pass  # the modules report the missing library through AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import AwsApiError

# Added to AWSRetry's own list (RequestLimitExceeded, Unavailable, ServiceUnavailable, InternalFailure,
# InternalError, TooManyRequestsException, Throttling).
EXTRA_RETRY_CODES = (
    "ProvisionedThroughputExceededException",  # DynamoDB
    "ThrottlingException",  # DynamoDB and others
    "InternalServerError",  # DynamoDB
    "Throttled",  # SNS (HTTP 429)
    "KMSThrottlingException",  # SNS with an encrypted topic
    "EC2ThrottledException",
)
# EC2's request bucket for describe calls (maximum, refill per second): client-side buckets keep within it.
DESCRIBE_RATE_LIMIT = (100, 20.0)
RETRIES = 10  # attempts in all, as AWSRetry counts them
RETRY_DELAY = 0.5
RETRY_MAX_DELAY = 15


def retry_decorator(retries=None, delay=None, max_delay=None, extra_codes=()):
    """AWSRetry's jittered backoff with the collection's extra throttling codes (module defaults when not given)."""
    return AWSRetry.jittered_backoff(
        retries=RETRIES if retries is None else retries,
        delay=RETRY_DELAY if delay is None else delay,
        max_delay=RETRY_MAX_DELAY if max_delay is None else max_delay,
        catch_extra_error_codes=list(EXTRA_RETRY_CODES) + list(extra_codes),
    )


def retrying(client):
    """Wrap a boto3 client so that ``client.op(..., aws_retry=True)`` retries; wrapping twice is a no-op."""
    if isinstance(client, RetryingBotoClientWrapper):
        return client
    return RetryingBotoClientWrapper(client, retry_decorator())


def error_code(error):
    """AWS's error code of a botocore ClientError, or None for anything else."""
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code")


def http_status(error):
    response = getattr(error, "response", None) or {}
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def api_error(error, operation, message=None):
    """An AwsApiError for a botocore error, naming the operation and AWS's code and message."""
    code = error_code(error)
    aws_message = (getattr(error, "response", None) or {}).get("Error", {}).get("Message") or str(error)
    text = message or "%s failed" % operation
    return AwsApiError("%s: %s (%s)" % (text, aws_message, code or type(error).__name__), code=code, operation=operation)


def paginate(client, operation, **params):
    """All pages of ``operation`` as one result; the whole pagination is retried on throttling."""
    raw = client.client if isinstance(client, RetryingBotoClientWrapper) else client

    @retry_decorator()
    def _all_pages():
        return raw.get_paginator(operation).paginate(**params).build_full_result()

    return _all_pages()


def is_client_error(error):
    return isinstance(error, botocore.exceptions.ClientError)


class TokenBucket(object):
    """A client-side token bucket, so that the calls of one module stay within EC2's request limits.

    Safe to share between threads: a taker holds the lock while it waits, so tokens go out in turn.
    """

    def __init__(self, capacity, rate, monotonic=time.monotonic, sleep=time.sleep):
        self._lock = threading.Lock()
        self.capacity = float(capacity)
        self.rate = float(rate)
        self.tokens = float(capacity)
        self._monotonic = monotonic
        self._sleep = sleep
        self._stamp = monotonic()

    def _refill(self):
        now = self._monotonic()
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self._stamp) * self.rate)
        self._stamp = now

    def take(self):
        """Take one token, waiting for it when the bucket is empty; returns the seconds waited."""
        with self._lock:
            self._refill()
            waited = 0.0
            if self.tokens < 1.0:
                waited = (1.0 - self.tokens) / self.rate
                self._sleep(waited)
                self._refill()
                self.tokens = max(self.tokens, 1.0)
            self.tokens -= 1.0
            return waited
