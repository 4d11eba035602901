"""Fault injection, API latency injection and call accounting."""

import itertools
import json
import random
import re
import threading
import time
import uuid
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

# HTTP status used when a fault does not give one (each service's real value).
DEFAULT_STATUS = {
    "RequestLimitExceeded": 503,
    "InsufficientInstanceCapacity": 500,
    "InsufficientHostCapacity": 500,
    "InsufficientCapacity": 500,
    "InternalError": 500,
    "InternalFailure": 500,
    "InternalServerError": 500,
    "ServiceUnavailable": 503,
    "Unavailable": 503,
    "ProvisionedThroughputExceededException": 400,
    "ThrottlingException": 400,
    "RequestThrottled": 400,
    "Throttled": 429,
    "Throttling": 400,
}

DEFAULT_MESSAGE = {
    "RequestLimitExceeded": "Request limit exceeded.",
    "InsufficientInstanceCapacity": "We currently do not have sufficient capacity in the Availability Zone you requested.",
    "InsufficientHostCapacity": "There is not enough capacity to fulfill your Dedicated Host request.",
    "ProvisionedThroughputExceededException": "The level of configured provisioned throughput for the table was exceeded.",
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
    "Throttled": "Rate exceeded",
}

JSON_NAMESPACE = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810",
    "sqs": "com.amazonaws.sqs",
}

_INSTANCE_KEY = re.compile(r"^InstanceIds?(\.\d+)?$|^InstanceId\.\d+$")
_INSTANCE_ID = re.compile(r"\bi-[0-9a-f]{8,17}\b")


class RequestInfo:
    """Service, action, region, protocol and instance ids of one AWS request."""

    def __init__(self, service, action, region, protocol, instance_ids, access_key=None, iam_actions=None):
        self.access_key = access_key
        self.iam_actions = iam_actions  # the IAM actions AWS checks, where they differ from the API action
        self.service = service
        self.action = action
        self.region = region
        self.protocol = protocol
        self.instance_ids = instance_ids


# IAM has no TransactWriteItems action: AWS authorises each operation of the transaction as its own action.
TRANSACT_WRITE_IAM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def transact_write_iam_actions(body):
    """``[(IAM action, table name)]`` of a TransactWriteItems request body (a dict)."""
    found = []
    for item in body.get("TransactItems") or []:
        for kind, operation in item.items():
            if kind in TRANSACT_WRITE_IAM_ACTIONS and isinstance(operation, dict):
                found.append((TRANSACT_WRITE_IAM_ACTIONS[kind], operation.get("TableName") or ""))
    return found


def identify(environ, body):
    """Work out what an AWS request is from its headers and body."""
    service = region = None
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=([^/]+)/\d+/([^/]+)/([^/]+)/aws4_request", auth)
    access_key = match.group(1) if match else None
    if match:
        region, service = match.group(2), match.group(3).lower()
    target = environ.get("HTTP_X_AMZ_TARGET")
    action = None
    protocol = "query"
    if target:
        prefix, dummy, action = target.partition(".")
        protocol = "json"
        if not service:
            service = "dynamodb" if prefix.startswith("DynamoDB") else prefix.lower()
    else:
        text = body.decode("utf-8", "replace") if body else ""
        pairs = parse_qsl(text) + parse_qsl(environ.get("QUERY_STRING", ""))
        values = dict(pairs)
        action = values.get("Action")
        if service == "ec2":
            protocol = "ec2"
        ids = [v for k, v in pairs if _INSTANCE_KEY.match(k)]
        return RequestInfo(service, action, region, protocol, ids, access_key)
    text = body.decode("utf-8", "replace") if body else ""
    iam_actions = None
    if service == "dynamodb" and action == "TransactWriteItems":
        try:
            iam_actions = sorted(set(name for name, _table in transact_write_iam_actions(json.loads(text or "{}"))))
        except ValueError:
            iam_actions = None
    return RequestInfo(service, action, region, protocol, sorted(set(_INSTANCE_ID.findall(text))), access_key, iam_actions)


def render_error(info, code, message, status):
    """Build (status, headers, body) for an error in the request's protocol."""
    request_id = str(uuid.uuid4())
    if info.protocol == "json":
        namespace = JSON_NAMESPACE.get(info.service)
        body = json.dumps({"__type": "%s#%s" % (namespace, code) if namespace else code, "message": message})
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id), ("X-Amzn-ErrorType", code)]
        if info.service == "sqs":
            headers.append(("x-amzn-query-error", "%s;%s" % (code, "Sender" if status < 500 else "Receiver")))
    elif info.protocol == "ec2":
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors>'
                '<RequestID>%s</RequestID></Response>' % (escape(code), escape(message), request_id))
        headers = [("Content-Type", "text/xml")]
    else:
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error>'
                '<RequestId>%s</RequestId></ErrorResponse>' % ("Sender" if status < 500 else "Receiver", escape(code), escape(message), request_id))
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    data = body.encode("utf-8")
    headers.append(("Content-Length", str(len(data))))
    return status, headers, data


def error_code_from_body(body):
    """Extract an AWS error code from an XML or JSON error body."""
    if not body:
        return None
    text = body[:4000].decode("utf-8", "replace")
    match = re.search(r"<Code>([^<]+)</Code>", text)
    if match:
        return match.group(1)
    match = re.search(r'"__type"\s*:\s*"([^"]+)"', text)
    if match:
        return match.group(1).split("#")[-1]
    return None


class FaultRule:
    """One injected fault: match a request, then fail it and/or delay it."""

    _ids = itertools.count(1)

    def __init__(self, service, action=None, code=None, message=None, status=None, count=None, rate=None,
                 seed=None, instance_id=None, delay=None):
        if not service:
            raise ValueError("a fault needs a service")
        if code is None and not delay:
            raise ValueError("a fault needs a code, a delay or both")
        if rate is not None and not 0.0 <= float(rate) <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self.id = next(self._ids)
        self.service = service.lower()
        self.action = action
        self.code = code
        self.message = message or DEFAULT_MESSAGE.get(code, "Injected fault %s" % code)
        self.status = int(status) if status is not None else DEFAULT_STATUS.get(code, 400)
        self.count = None if count is None else int(count)
        self.rate = None if rate is None else float(rate)
        self.seed = seed
        self.rng = random.Random(seed)
        self.instance_id = instance_id
        self.delay = float(delay) if delay else 0.0
        self.fired = 0
        self.seen = 0

    def matches(self, info):
        """True when the rule applies to this request (ignoring count and rate)."""
        if self.service != (info.service or ""):
            return False
        if self.action and self.action != info.action:
            return False
        if self.instance_id and self.instance_id not in info.instance_ids:
            return False
        return True

    def to_dict(self):
        """JSON view of the rule."""
        return {
            "id": self.id, "service": self.service, "action": self.action, "code": self.code, "message": self.message,
            "status": self.status, "count": self.count, "rate": self.rate, "seed": self.seed,
            "instance_id": self.instance_id, "delay": self.delay, "fired": self.fired, "seen": self.seen,
            "exhausted": self.count is not None and self.fired >= self.count,
        }


class FaultRegistry:
    """The active fault rules."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    def add(self, **spec):
        """Add a rule; returns its dict view."""
        rule = FaultRule(**spec)
        with self.lock:
            self.rules.append(rule)
        return rule.to_dict()

    def clear(self):
        """Remove every rule."""
        with self.lock:
            self.rules = []

    def remove(self, rule_id):
        """Remove one rule by id."""
        with self.lock:
            self.rules = [r for r in self.rules if r.id != int(rule_id)]

    def list(self):
        """All rules as dicts."""
        with self.lock:
            return [r.to_dict() for r in self.rules]

    def decide(self, info):
        """Return (error rule or None, total delay in seconds) for a request."""
        delay = 0.0
        failing = None
        with self.lock:
            for rule in self.rules:
                if not rule.matches(info):
                    continue
                rule.seen += 1
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if rule.rate is not None and rule.rng.random() >= rule.rate:
                    continue
                if rule.code is None:
                    rule.fired += 1
                    delay += rule.delay
                    continue
                if failing is None:
                    rule.fired += 1
                    delay += rule.delay
                    failing = rule
        return failing, delay


class CallLog:
    """Counts and a detailed log of every AWS call the simulator answered."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.entries = []

    def record(self, info, status, code, injected=False, duration=0.0, extra=None):
        """Add one call (extra: more fields for the log entry, e.g. throttled, wcu)."""
        service = info.service or "unknown"
        action = info.action or "unknown"
        with self.lock:
            self.counts.setdefault(service, {})
            self.counts[service][action] = self.counts[service].get(action, 0) + 1
            self.entries.append({
                "time": time.time(), "service": service, "action": action, "region": info.region,
                "instance_ids": list(info.instance_ids), "status": status, "code": code or "OK",
                "injected": injected, "duration": round(duration, 6), "access_key": info.access_key,
            })
            if info.iam_actions:
                self.entries[-1]["iam_actions"] = list(info.iam_actions)
            if extra:
                self.entries[-1].update(extra)

    def reset(self):
        """Forget every call."""
        with self.lock:
            self.counts = {}
            self.entries = []

    def snapshot(self, with_log=False):
        """Counts (and the log when asked) as plain data."""
        with self.lock:
            total = sum(sum(v.values()) for v in self.counts.values())
            data = {"counts": json.loads(json.dumps(self.counts)), "total": total}
            if with_log:
                data["log"] = [dict(e) for e in self.entries]
            return data


FAULTS = FaultRegistry()
CALLS = CallLog()
