# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration table in DynamoDB: the value codec, update expressions and table calls.

Here: plain Python values to and from DynamoDB's typed attribute values (``plain``, ``storable``, ``serialize``,
``serialize_item``, ``deserialize_item``), the UpdateItem expression builder (``Update``), table calls with retries
and their errors (``call_table``, ``scan_table``, ``ConditionFailed``, ``table_errors``), and the reads every
reader shares: ``get_record`` and ``list_records`` (records normalised by schema.py; pool-host claims, the
``claim#`` items, left out). Not here: what a record holds (schema.py), the lease (lease.py), one run's writes
(record.py), claims (claims.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
from decimal import Decimal
from typing import Any
from typing import ContextManager
from typing import Dict
from typing import List
from typing import Mapping
from typing import Optional

try:
    from boto3.dynamodb.types import TypeDeserializer
    from boto3.dynamodb.types import TypeSerializer
except ImportError:
    pass  # the modules report the missing library through AnsibleAWSModule

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import TABLE_NOT_FOUND_CODES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import aws_errors
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import error_code
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import paginate
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import retrying
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILBACK_KEY_PREFIX
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILBACK_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import FAILOVER_RECORD
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_record_key
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import RECORD_STATES
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.schema import normalise_item
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import plain_number

CLAIM_PREFIX = "claim#"
# Attempts of a conditional write that found the item changed under it (re-read and recomputed each time).
WRITE_ATTEMPTS = 5


# --------------------------------------------------------------------------- values


def plain(value: Any) -> Any:
    """A deserialised DynamoDB value with Decimals turned into int/float and sets into sorted lists."""
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, dict):
        return dict((key, plain(inner)) for key, inner in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(inner) for inner in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(inner) for inner in value)
    if isinstance(value, (bytes, bytearray)) or type(value).__name__ == "Binary":
        return bytes(getattr(value, "value", value))
    return value


def _decimal(value):
    """A float as the Decimal DynamoDB stores (TypeSerializer refuses floats)."""
    if math.isnan(value) or math.isinf(value):
        raise InvalidInputError(f"cannot store {value!r} in DynamoDB: not a finite number", value=value)
    return Decimal(repr(value))


def storable(value: Any) -> Any:
    """``value`` with floats as Decimals and tuples as lists, ready for TypeSerializer."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return _decimal(value)
    if isinstance(value, dict):
        return dict((str(key), storable(inner)) for key, inner in value.items())
    if isinstance(value, (list, tuple)):
        return [storable(inner) for inner in value]
    return value


def serialize(value: Any) -> Dict[str, Any]:
    """A DynamoDB typed attribute value (``{"S": ...}``, ``{"N": ...}``, ``{"M": ...}`` ...)."""
    return TypeSerializer().serialize(storable(value))


def serialize_item(item: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    return dict((key, serialize(value)) for key, value in item.items())


def deserialize_item(attributes: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """A DynamoDB item (typed attribute values) as plain Python values."""
    deserializer = TypeDeserializer()
    return dict((key, plain(deserializer.deserialize(value))) for key, value in (attributes or {}).items())


class Update(object):
    """An UpdateItem expression being built, with placeholders for every name and value."""

    def __init__(self) -> None:
        self._names = {}
        self._values = {}
        self._sets = []
        self._removes = []
        self._conditions = []

    def name(self, attribute: str) -> str:
        for placeholder, existing in self._names.items():
            if existing == attribute:
                return placeholder
        placeholder = f"#n{len(self._names)}"
        self._names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self._values)}"
        self._values[placeholder] = serialize(value)
        return placeholder

    def set(self, attribute: str, value: Any) -> None:
        self._sets.append(f"{self.name(attribute)} = {self.value(value)}")

    def increment(self, attribute: str) -> None:
        name = self.name(attribute)
        self._sets.append(f"{name} = if_not_exists({name}, {self.value(0)}) + {self.value(1)}")

    def set_if_missing(self, attribute: str, value: Any) -> None:
        name = self.name(attribute)
        self._sets.append(f"{name} = if_not_exists({name}, {self.value(value)})")

    def remove(self, attribute: str) -> None:
        self._removes.append(self.name(attribute))

    def require(self, condition: str) -> None:
        self._conditions.append(condition)

    def require_equal(self, attribute: str, value: Any) -> None:
        self.require(f"{self.name(attribute)} = {self.value(value)}")

    def require_version(self, attribute: str, version: int) -> None:
        """The attribute still has ``version`` (0 also matches a record that never had it)."""
        name = self.name(attribute)
        if version:
            self.require(f"{name} = {self.value(version)}")
        else:
            self.require(f"attribute_not_exists({name}) OR {name} = {self.value(0)}")

    def params(self) -> Dict[str, Any]:
        clauses = []
        if self._sets:
            clauses.append("SET " + ", ".join(self._sets))
        if self._removes:
            clauses.append("REMOVE " + ", ".join(self._removes))
        params = {"UpdateExpression": " ".join(clauses), "ExpressionAttributeNames": dict(self._names)}
        if self._values:
            params["ExpressionAttributeValues"] = dict(self._values)
        if self._conditions:
            # parentheses only where needed: DynamoDB refuses redundant ones
            params["ConditionExpression"] = " AND ".join(
                f"({condition})" if " OR " in condition else condition for condition in self._conditions
            )
        return params


# --------------------------------------------------------------------------- table access


def is_claim_key(host_key: Any) -> bool:
    return isinstance(host_key, str) and host_key.startswith(CLAIM_PREFIX)


def is_conditional_failure(error: BaseException) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def table_errors(operation: str, table: str) -> ContextManager[None]:
    """aws_errors for a call on ``table``: NotFoundError when the table does not exist, else AwsApiError."""
    return aws_errors(operation, not_found_codes=TABLE_NOT_FOUND_CODES, not_found=lambda: NotFoundError(
        f"DynamoDB table {table} not found (create it with playbooks/setup.yml or pass the right table/table_region)",
        table=table,
    ))


class ConditionFailed(Exception):
    """A conditional write did not apply (DynamoDB's ConditionalCheckFailedException)."""


def call_table(client: Any, table: str, operation: str, method: str, **params: Any) -> Dict[str, Any]:
    """``client.method(TableName=table, **params)`` with retries; a failed condition raises ConditionFailed,
    a missing table NotFoundError and any other AWS error AwsApiError."""
    with table_errors(operation, table):
        try:
            return getattr(retrying(client), method)(TableName=table, aws_retry=True, **params)
        except Exception as error:  # botocore errors, whatever their class
            if is_conditional_failure(error):
                raise ConditionFailed()
            raise


def scan_table(dynamodb_client: Any, table: str, expression: str, values: Mapping[str, Any],
               names: Optional[Mapping[str, str]] = None) -> List[Dict[str, Any]]:
    """The items of ``table`` that match the filter ``expression`` (one paginated, consistent Scan), as plain values."""
    params = dict(TableName=table, FilterExpression=expression, ExpressionAttributeValues=values, ConsistentRead=True)
    if names:
        params["ExpressionAttributeNames"] = names
    with table_errors("Scan", table):
        result = paginate(retrying(dynamodb_client), "scan", **params)
    return [deserialize_item(raw) for raw in result.get("Items", [])]


def get_record(dynamodb_client: Any, table: str, host_id: str) -> Optional[Dict[str, Any]]:
    """The normalised record of ``host_id`` (strongly consistent read), or None; never writes."""
    validate_record_key(host_id)
    response = call_table(dynamodb_client, table, "GetItem", "get_item", Key={"HostId": {"S": host_id}}, ConsistentRead=True)
    raw = response.get("Item")
    return normalise_item(deserialize_item(raw)) if raw else None


def list_records(dynamodb_client: Any, table: str, state: Optional[str] = None, kind: str = FAILOVER_RECORD) -> List[Dict[str, Any]]:
    """Every migration record of ``table`` of ``kind`` (normalised, by HostId), optionally only those in ``state``.

    One paginated Scan; pool-host claims (``claim#`` items) are left out, and so are failback records
    (``failback#`` items) unless ``kind`` is ``failback``, when they are all that is listed.
    """
    names = {"#h": "HostId"}
    values = {":claim": {"S": CLAIM_PREFIX}, ":failback": {"S": FAILBACK_KEY_PREFIX}}
    expression = f"NOT begins_with(#h, :claim) AND {'' if kind == FAILBACK_RECORD else 'NOT '}begins_with(#h, :failback)"
    if state is not None:
        if state not in RECORD_STATES:
            raise InvalidInputError(f"state {state!r} is not one of {', '.join(RECORD_STATES)}", value=state)
        names["#s"] = "State"
        values[":state"] = {"S": state}
        expression += " AND #s = :state"
    items = [normalise_item(item) for item in scan_table(dynamodb_client, table, expression, values, names=names)]
    return sorted((item for item in items if not is_claim_key(item.get("HostId"))
                   and str(item.get("HostId")).startswith(FAILBACK_KEY_PREFIX) == (kind == FAILBACK_RECORD)),
                  key=lambda item: item["HostId"])
