"""EC2 API request throttling: EC2's token buckets, off by default.

Two kinds of bucket, both per account and region as in EC2 (the simulator has one account; a bucket is kept per region):

- a request bucket per API action: one request takes one token;
- a resource bucket for RunInstances, TerminateInstances, StartInstances and StopInstances: a request takes one
  token per instance it names.

A request passes only when its request bucket holds a token and its resource bucket (if the action has one) holds a
token per instance; then both are drawn. A refused request draws nothing and answers ``RequestLimitExceeded`` (HTTP
503). Buckets start full and refill continuously (floats) at their rate per second of wall-clock time, up to their
maximum; the simulator's time scale does not change them.

Sizes and refill rates: EC2 developer guide, "Request throttling for the Amazon EC2 API" (see
``../shared/reference/ec2-capacity-and-limits.md`` section 2 and the simulator README).
"""

import math
import threading
import time
from urllib.parse import parse_qsl

# Category defaults: (bucket maximum, refill per second).
NON_MUTATING = (100.0, 20.0)
MUTATING = (50.0, 5.0)
UNFILTERED_UNPAGINATED = (50.0, 10.0)
NON_MUTATING_PREFIXES = ("Describe", "List", "Search", "Get")

# Actions with their own values ("uncategorized" in AWS's table, or named in it).
REQUEST_LIMITS = {
    "StartInstances": (5.0, 2.0),
    "RunInstances": (5.0, 2.0),
    "TerminateInstances": (100.0, 5.0),
    "CreateTags": (100.0, 10.0),
    "DeleteTags": (100.0, 10.0),
    "DescribeHostReservations": (5.0, 2.0),
    "DescribeHostReservationOfferings": (5.0, 2.0),
    "PurchaseHostReservation": (5.0, 2.0),
    "GetHostReservationPurchasePreview": (5.0, 2.0),
}

# Called without a filter and without pagination, these use the "unfiltered and unpaginated" bucket.
UNFILTERED_ACTIONS = ("DescribeInstances", "DescribeInstanceStatus")
UNFILTERED_SUFFIX = " (unfiltered, unpaginated)"

# Resource buckets, drained by the number of instances in the request.
RESOURCE_LIMITS = {
    "RunInstances": (1000.0, 2.0),
    "TerminateInstances": (1000.0, 20.0),
    "StartInstances": (1000.0, 2.0),
    "StopInstances": (1000.0, 20.0),
}

THROTTLE_CODE = "RequestLimitExceeded"
THROTTLE_STATUS = 503
THROTTLE_MESSAGE = "Request limit exceeded."


def is_filtered_or_paginated(params):
    """True when a query request carries a filter (Filter.N.*) or pagination (MaxResults, NextToken).

    InstanceId.N alone does not count: AWS's wording names only filters and pagination, so a DescribeInstances with
    just instance ids is treated as unfiltered (the stricter reading).
    """
    for key in params:
        if key.startswith("Filter.") or key in ("MaxResults", "NextToken"):
            return True
    return False


def request_bucket_for(action, params):
    """(bucket name, (maximum, refill)) of an action's request bucket."""
    if action in UNFILTERED_ACTIONS:
        if is_filtered_or_paginated(params):
            return action, NON_MUTATING
        return action + UNFILTERED_SUFFIX, UNFILTERED_UNPAGINATED
    if action in REQUEST_LIMITS:
        return action, REQUEST_LIMITS[action]
    if action.startswith(NON_MUTATING_PREFIXES):
        return action, NON_MUTATING
    return action, MUTATING


def instance_count(action, params, instance_ids):
    """How many instances a request asks for (drains the resource bucket)."""
    if action == "RunInstances":
        try:
            return max(1, int(params.get("MaxCount") or params.get("MinCount") or 1))
        except ValueError:
            return 1
    return max(1, len(instance_ids))


class Bucket:
    """A token bucket with a float refill."""

    def __init__(self, maximum, refill, now):
        self.maximum = float(maximum)
        self.refill = float(refill)
        self.tokens = float(maximum)
        self.updated = now

    def level(self, now):
        """Tokens available at time now (refills first)."""
        if now > self.updated:
            self.tokens = min(self.maximum, self.tokens + (now - self.updated) * self.refill)
            self.updated = now
        return self.tokens

    def to_dict(self, now):
        """Plain view."""
        return {"maximum": self.maximum, "refill": self.refill, "tokens": round(self.level(now), 6)}


def _limits(value, name):
    if isinstance(value, dict):
        maximum, refill = value.get("maximum"), value.get("refill")
    else:
        maximum, refill = value
    maximum, refill = float(maximum), float(refill)
    if maximum < 0 or refill < 0 or math.isnan(maximum) or math.isnan(refill):
        raise ValueError("bucket %s: maximum and refill must be >= 0" % name)
    return maximum, refill


class EC2Throttle:
    """EC2's request and resource token buckets; answers whether a request may pass."""

    def __init__(self, clock=time.monotonic):
        self.lock = threading.Lock()
        self.clock = clock
        self.enabled = False
        self.request_overrides = {}
        self.resource_overrides = {}
        self.buckets = {}
        self.passed = {}
        self.throttled = {}
        self.throttled_by = {}

    def reset(self):
        """Off, no overrides, full buckets, no counts."""
        with self.lock:
            self.enabled = False
            self.request_overrides = {}
            self.resource_overrides = {}
            self._clear()

    def _clear(self):
        self.buckets = {}
        self.passed = {}
        self.throttled = {}
        self.throttled_by = {}

    def configure(self, enabled=None, requests=None, resources=None, reset_buckets=False):
        """Switch throttling on or off and/or override sizes ({action: [maximum, refill]} or {action: {maximum, refill}}).

        Switching it on (from off), changing overrides or reset_buckets refills every bucket and clears the counts.
        """
        parsed_requests = {str(k): _limits(v, k) for k, v in (requests or {}).items()}
        parsed_resources = {str(k): _limits(v, k) for k, v in (resources or {}).items()}
        with self.lock:
            refill = bool(reset_buckets or parsed_requests or parsed_resources)
            if enabled is not None:
                enabled = bool(enabled)
                refill = refill or (enabled and not self.enabled)
                self.enabled = enabled
            self.request_overrides.update(parsed_requests)
            self.resource_overrides.update(parsed_resources)
            if refill:
                self._clear()
        return self.snapshot()

    def _bucket(self, key, limits, now):
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = Bucket(limits[0], limits[1], now)
        return bucket

    def check(self, info, body=b"", query_string=""):
        """None when the request passes (tokens drawn); else the name of the bucket that refused it."""
        if not self.enabled or (info.service or "") != "ec2" or not info.action:
            return None
        text = body.decode("utf-8", "replace") if body else ""
        params = dict(parse_qsl(text) + parse_qsl(query_string or ""))
        action = info.action
        name, limits = request_bucket_for(action, params)
        limits = self.request_overrides.get(name, self.request_overrides.get(action, limits))
        region = info.region or "-"
        with self.lock:
            now = self.clock()
            request = self._bucket((region, "request", name), limits, now)
            resource = needed = None
            if action in RESOURCE_LIMITS:
                resource = self._bucket((region, "resource", action), self.resource_overrides.get(action, RESOURCE_LIMITS[action]), now)
                needed = instance_count(action, params, info.instance_ids)
            refused = None
            if request.level(now) < 1.0:
                refused = "request:" + name
            elif resource is not None and resource.level(now) < needed:
                refused = "resource:" + action
            if refused:
                self.throttled[action] = self.throttled.get(action, 0) + 1
                self.throttled_by[refused] = self.throttled_by.get(refused, 0) + 1
                return refused
            request.tokens -= 1.0
            if resource is not None:
                resource.tokens -= needed
            self.passed[action] = self.passed.get(action, 0) + 1
            return None

    def snapshot(self):
        """Switch, overrides, bucket levels and counts as plain data."""
        with self.lock:
            now = self.clock()
            buckets = {}
            for (region, kind, name), bucket in sorted(self.buckets.items()):
                buckets.setdefault(region, {}).setdefault(kind, {})[name] = bucket.to_dict(now)
            return {
                "enabled": self.enabled,
                "request_overrides": {k: list(v) for k, v in self.request_overrides.items()},
                "resource_overrides": {k: list(v) for k, v in self.resource_overrides.items()},
                "buckets": buckets,
                "passed": dict(self.passed),
                "throttled": dict(self.throttled),
                "throttled_by_bucket": dict(self.throttled_by),
                "throttled_total": sum(self.throttled.values()),
            }


THROTTLE = EC2Throttle()
