"""DynamoDB, SNS and IAM additions: TableId, resource-scoped IAM checks, IAM enforcement switch."""

import json
import uuid

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.sns.responses import SNSResponse

_ORIGINAL = {}

# DynamoDB actions that name tables somewhere other than a top-level TableName.
_BATCH_ACTIONS = ("BatchGetItem", "BatchWriteItem")
_TRANSACT_ACTIONS = ("TransactGetItems", "TransactWriteItems")


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
    if action in _BATCH_ACTIONS:
        names.extend((body.get("RequestItems") or {}).keys())
    if action in _TRANSACT_ACTIONS:
        for item in body.get("TransactItems") or []:
            for operation in item.values():
                if isinstance(operation, dict) and operation.get("TableName"):
                    names.append(operation["TableName"])
    return sorted(set(names))


def _dynamodb_authorize(self, resource="*"):
    names = _dynamodb_table_names(self)
    if not names:
        return _ORIGINAL["authorize"](self, resource)
    for name in names:
        arn = name if name.startswith("arn:") else "arn:aws:dynamodb:%s:%s:table/%s" % (self.region, self.current_account, name)
        _ORIGINAL["authorize"](self, arn)
    return None


def _sns_determine_resource(self):
    for key in ("TopicArn", "TargetArn", "ResourceArn"):
        value = self._get_param(key)
        if value:
            return value
    if self._get_action() == "CreateTopic" and self._get_param("Name"):
        return "arn:aws:sns:%s:%s:%s" % (self.region, self.current_account, self._get_param("Name"))
    return "*"


def set_iam_enforcement(enabled):
    """Turn moto's IAM checks on (every later call is authenticated and authorised) or off."""
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if enabled else float("inf")
    ActionAuthenticatorMixin.request_count = 0


def install():
    """Patch moto's DynamoDB and SNS classes (idempotent)."""
    if _ORIGINAL:
        return
    _ORIGINAL["table_describe"] = Table.describe
    _ORIGINAL["authorize"] = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action
    Table.describe = _table_describe
    DynamoHandler._authenticate_and_authorize_normal_action = _dynamodb_authorize
    SNSResponse._determine_resource = _sns_determine_resource
