"""DynamoDB, SNS and IAM additions: TableId, resource-scoped IAM checks (DynamoDB, SNS, SQS, EventBridge, EC2), IAM
enforcement switch."""

import functools
import json
import re
import threading
import uuid

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.ec2.responses import EC2Response
from moto.events.responses import EventsHandler
from moto.sns.responses import SNSResponse
from moto.sqs.responses import SQSResponse

from .faults import transact_write_iam_actions

_ORIGINAL = {}

# DynamoDB actions that name tables somewhere other than a top-level TableName.
_BATCH_ACTIONS = ("BatchGetItem", "BatchWriteItem")
_TRANSACT_ACTIONS = ("TransactGetItems", "TransactWriteItems")
# DynamoDB applies each conditional write and transaction atomically; moto's handlers check and then write, so
# concurrent requests are serialised here to keep "exactly one conditional writer wins" true.
_WRITE_ACTIONS = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_WRITE_LOCK = threading.RLock()


def _table_describe(self, base_key="TableDescription"):
    result = _ORIGINAL["table_describe"](self, base_key)
    if not getattr(self, "_dhsim_table_id", None):
        self._dhsim_table_id = str(uuid.uuid4())
    result[base_key]["TableId"] = self._dhsim_table_id
    return result


def _dynamodb_table_names(handler):
    try:
        body = json.loads(handler.raw_body or b"{}")
    except (TypeError, ValueError):
        return []
    action = handler._get_action()
    names = []
    if body.get("TableName"):
        names.append(body["TableName"])
    if ":table/" in str(body.get("ResourceArn") or ""):  # ListTagsOfResource, TagResource, UntagResource
        names.append(body["ResourceArn"])
    if action in _BATCH_ACTIONS:
        names.extend((body.get("RequestItems") or {}).keys())
    if action in _TRANSACT_ACTIONS:
        for item in body.get("TransactItems") or []:
            for operation in item.values():
                if isinstance(operation, dict) and operation.get("TableName"):
                    names.append(operation["TableName"])
    return sorted(set(names))


def _table_arn(handler, name):
    return name if name.startswith("arn:") else "arn:aws:dynamodb:%s:%s:table/%s" % (handler.region, handler.current_account, name)


def _dynamodb_authorize(self, resource="*"):
    if self._get_action() == "TransactWriteItems":
        try:
            body = json.loads(self.raw_body or b"{}")
        except (TypeError, ValueError):
            body = {}
        for action, name in sorted(set(transact_write_iam_actions(body))):
            self._get_action = lambda action=action: action  # what moto's IAMRequest names the action after
            try:
                _ORIGINAL["authorize"](self, _table_arn(self, name))
            finally:
                del self._get_action
        return None
    names = _dynamodb_table_names(self)
    if not names:
        return _ORIGINAL["authorize"](self, resource)
    for name in names:
        _ORIGINAL["authorize"](self, _table_arn(self, name))
    return None


def _sns_determine_resource(self):
    for key in ("TopicArn", "TargetArn", "ResourceArn"):
        value = self._get_param(key)
        if value:
            return value
    if self._get_action() == "CreateTopic" and self._get_param("Name"):
        return "arn:aws:sns:%s:%s:%s" % (self.region, self.current_account, self._get_param("Name"))
    return "*"


def _sqs_determine_resource(self):
    # moto finds the ARN of an existing queue only; CreateQueue and GetQueueUrl name the queue by QueueName.
    name = self._get_param("QueueName")
    if name:
        return "arn:aws:sqs:%s:%s:%s" % (self.region, self.current_account, name)
    return _ORIGINAL["sqs_determine_resource"](self)


def _events_determine_resource(self):
    # Rule actions name the rule as Name (PutRule, DescribeRule, EnableRule, ...) or Rule (PutTargets, ListTargetsByRule).
    name = self._get_param("Rule") or self._get_param("Name")
    if name and not self._get_param("EventBusName"):
        return "arn:aws:events:%s:%s:rule/%s" % (self.region, self.current_account, name)
    return "*"


# EC2 actions that AWS authorises against resource ARNs (the service authorization reference): the request parameters
# that name those resources and the resource type of each id prefix. Every other EC2 action is checked against "*",
# as AWS does for describe actions.
_EC2_RESOURCE_PARAMS = {
    "StopInstances": r"^InstanceId\.\d+$",
    "StartInstances": r"^InstanceId\.\d+$",
    "ModifyInstancePlacement": r"^(InstanceId|HostId)$",
    "DescribeInstanceAttribute": r"^InstanceId$",
    "ModifyInstanceAttribute": r"^InstanceId$",
    "CreateTags": r"^ResourceId\.\d+$",
    "DeleteTags": r"^ResourceId\.\d+$",
    "ModifyHosts": r"^HostId\.\d+$",
    "ReleaseHosts": r"^HostId\.\d+$",
}
_EC2_RESOURCE_TYPES = {"i-": "instance", "h-": "dedicated-host"}
# Actions that create the resource: AWS checks the type's wildcard ARN (the id does not exist yet).
_EC2_CREATES = {"AllocateHosts": "dedicated-host/*"}


def _ec2_resource_arns(handler):
    action = handler._get_action()
    prefix = "arn:aws:ec2:%s:%s:" % (handler.region, handler.current_account)
    if action in _EC2_CREATES:
        return [prefix + _EC2_CREATES[action]]
    pattern = _EC2_RESOURCE_PARAMS.get(action)
    if not pattern:
        return []
    arns = []
    for key, values in sorted((handler.querystring or {}).items()):
        if re.match(pattern, key):
            for value in values:
                kind = _EC2_RESOURCE_TYPES.get(value[:2])
                arns.append(prefix + ("%s/%s" % (kind, value) if kind else value))
    return sorted(set(arns))


def _ec2_authorize(self, resource="*"):
    arns = _ec2_resource_arns(self)
    if not arns:
        return _ORIGINAL["authorize"](self, resource)
    for arn in arns:
        _ORIGINAL["authorize"](self, arn)
    return None


def set_iam_enforcement(enabled):
    """Turn moto's IAM checks on (every later call is authenticated and authorised) or off."""
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if enabled else float("inf")
    ActionAuthenticatorMixin.request_count = 0


def _serialised(method):
    @functools.wraps(method)
    def write(self, *args, **kwargs):
        with _WRITE_LOCK:
            return method(self, *args, **kwargs)
    return write


def install():
    """Patch moto's DynamoDB, SNS, SQS, EventBridge and EC2 classes (idempotent)."""
    if _ORIGINAL:
        return
    for name in _WRITE_ACTIONS:
        setattr(DynamoHandler, name, _serialised(getattr(DynamoHandler, name)))
    _ORIGINAL["table_describe"] = Table.describe
    _ORIGINAL["authorize"] = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action
    Table.describe = _table_describe
    DynamoHandler._authenticate_and_authorize_normal_action = _dynamodb_authorize
    EC2Response._authenticate_and_authorize_normal_action = _ec2_authorize
    SNSResponse._determine_resource = _sns_determine_resource
    _ORIGINAL["sqs_determine_resource"] = SQSResponse._determine_resource
    SQSResponse._determine_resource = _sqs_determine_resource
    EventsHandler._determine_resource = _events_determine_resource
