"""DynamoDB write capacity units, computed from item sizes (moto reports a constant ConsumedCapacity).

Every PutItem, UpdateItem and DeleteItem that reaches moto's DynamoDB backend (BatchWriteItem and TransactWriteItems
go through the same backend methods) is measured: the item's size before and after the write, by DynamoDB's
documented item-size rules, and the write units it consumed.

Item size (DynamoDB developer guide, "DynamoDB item sizes and formats", CapacityUnitCalculations.html): the sum over
attributes of the attribute name's UTF-8 bytes plus the value's size:

- String: UTF-8 bytes; Binary: raw bytes; Boolean and Null: 1 byte;
- Number: 1 byte per two significant digits (leading and trailing zeros trimmed, rounded up) plus 1 byte;
- List and Map: 3 bytes plus, per element, the element's size plus 1 byte (a Map element also counts its key's
  UTF-8 bytes);
- String, Number and Binary sets: the sum of their elements' sizes.

Write units: 1 WCU per started 1 KB (1024 bytes) of the item, at least 1. PutItem and UpdateItem cost the larger of
the item before and after the write, DeleteItem the deleted item, a TransactWriteItems write twice as much. A write
whose condition fails still costs the item's size (at least 1 WCU) and is recorded with ``ok: false``.
"""

import base64
import math
import threading
import time

from moto.dynamodb.models import DynamoDBBackend

_ORIGINAL = {}
_CURRENT = threading.local()
KB = 1024


def number_size(text):
    """Bytes of a DynamoDB Number given as its decimal text."""
    digits = str(text).strip().lstrip("+-").lower()
    mantissa = digits.split("e", maxsplit=1)[0].replace(".", "")
    significant = mantissa.strip("0")
    return int(math.ceil(len(significant) / 2.0)) + 1


def _utf8(text):
    return len(str(text).encode("utf-8"))


def _binary(value):
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    try:
        return len(base64.b64decode(value))
    except (ValueError, TypeError):
        return _utf8(value)


def value_size(kind, value):
    """Bytes of one typed value (kind is S, N, B, BOOL, NULL, L, M, SS, NS, BS)."""
    if kind == "S":
        return _utf8(value)
    if kind == "N":
        return number_size(value)
    if kind == "B":
        return _binary(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(v) for v in value)
    if kind == "NS":
        return sum(number_size(v) for v in value)
    if kind == "BS":
        return sum(_binary(v) for v in value)
    if kind == "L":
        return 3 + sum(typed_size(v) + 1 for v in value)
    if kind == "M":
        return 3 + sum(_utf8(k) + typed_size(v) + 1 for k, v in value.items())
    return _utf8(value)


def typed_size(typed):
    """Bytes of a value as moto's DynamoType or as a {"S": "..."} style dict."""
    if hasattr(typed, "type") and hasattr(typed, "value"):
        return value_size(typed.type, typed.value)
    [(kind, value)] = typed.items()
    return value_size(kind, value)


def item_size(attrs):
    """Bytes of an item ({name: DynamoType} as moto's Item.attrs, or {name: {"S": ...}}); 0 for no item."""
    if not attrs:
        return 0
    attrs = getattr(attrs, "attrs", attrs)
    return sum(_utf8(name) + typed_size(value) for name, value in attrs.items())


def write_units(size_bytes):
    """WCU of a write touching an item of this many bytes: ceil(size / 1 KB), at least 1."""
    return max(1, int(math.ceil(size_bytes / float(KB))))


class WriteLog:
    """Every measured DynamoDB write."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []

    def reset(self):
        """Forget every write."""
        with self.lock:
            self.entries = []

    def add(self, entry):
        """Remember one write (and attach it to the current request for the call log)."""
        with self.lock:
            self.entries.append(entry)
        pending = getattr(_CURRENT, "writes", None)
        if pending is not None:
            pending.append(entry)

    def snapshot(self, table=None):
        """Writes (optionally of one table) and totals per table."""
        with self.lock:
            entries = [dict(e) for e in self.entries if table is None or e["table"] == table]
        totals = {}
        for entry in entries:
            total = totals.setdefault(entry["table"], {"writes": 0, "wcu": 0, "max_item_bytes": 0, "failed": 0})
            total["writes"] += 1
            total["wcu"] += entry["wcu"]
            total["max_item_bytes"] = max(total["max_item_bytes"], entry["bytes"])
            total["failed"] += 0 if entry["ok"] else 1
        return {"writes": entries, "totals": totals}


WRITES = WriteLog()


def begin_request(action):
    """Called by the server before moto handles a request: writes measured now belong to it."""
    _CURRENT.writes = []
    _CURRENT.action = action


def end_request():
    """Called after moto answered: (number of writes, WCU) measured for this request."""
    writes = getattr(_CURRENT, "writes", None) or []
    _CURRENT.writes = None
    _CURRENT.action = None
    return len(writes), sum(w["wcu"] for w in writes)


def _existing(backend, table_name, key_attrs):
    try:
        table = backend.get_table(table_name)
        hash_value, range_value = backend.get_keys_value(table, key_attrs)
        return table, table.get_item(hash_value, range_value)
    except Exception:  # pylint: disable=broad-except
        return None, None


def _key_of(table, attrs):
    if table is None:
        return {}
    names = [table.hash_key_attr] + ([table.range_key_attr] if getattr(table, "range_key_attr", None) else [])
    return {n: attrs[n] for n in names if n in attrs}


def _key_text(key):
    parts = []
    for name, value in sorted((key or {}).items()):
        [(dummy, raw)] = value.items() if isinstance(value, dict) else [(None, getattr(value, "value", value))]
        parts.append("%s=%s" % (name, raw))
    return ",".join(parts)


def _record(action, table_name, key, before, after, ok):
    size = max(before, after)
    wcu = write_units(size)
    request_action = getattr(_CURRENT, "action", None)
    if request_action == "TransactWriteItems":
        wcu *= 2
    WRITES.add({
        "time": time.time(), "table": table_name, "action": action, "request": request_action or action, "key": _key_text(key),
        "bytes_before": before, "bytes_after": after, "bytes": size, "wcu": wcu, "ok": ok,
    })


def _put_item(self, table_name, item_attrs, *args, **kwargs):
    table = None
    try:
        table = self.get_table(table_name)
    except Exception:  # pylint: disable=broad-except
        return _ORIGINAL["put_item"](self, table_name, item_attrs, *args, **kwargs)
    key = _key_of(table, item_attrs)
    dummy, old = _existing(self, table_name, key)
    before = item_size(old)
    try:
        result = _ORIGINAL["put_item"](self, table_name, item_attrs, *args, **kwargs)
    except Exception:
        _record("PutItem", table.name, key, before, 0, False)
        raise
    _record("PutItem", table.name, key, before, item_size(result) if result is not None else item_size(item_attrs), True)
    return result


def _update_item(self, table_name, key, *args, **kwargs):
    table, old = _existing(self, table_name, key)
    if table is None:
        return _ORIGINAL["update_item"](self, table_name, key, *args, **kwargs)
    before = item_size(old)
    try:
        result = _ORIGINAL["update_item"](self, table_name, key, *args, **kwargs)
    except Exception:
        _record("UpdateItem", table.name, key, before, 0, False)
        raise
    _record("UpdateItem", table.name, key, before, item_size(result), True)
    return result


def _delete_item(self, table_name, key, *args, **kwargs):
    table, old = _existing(self, table_name, key)
    if table is None:
        return _ORIGINAL["delete_item"](self, table_name, key, *args, **kwargs)
    before = item_size(old)
    try:
        result = _ORIGINAL["delete_item"](self, table_name, key, *args, **kwargs)
    except Exception:
        _record("DeleteItem", table.name, key, before, 0, False)
        raise
    _record("DeleteItem", table.name, key, before, 0, True)
    return result


def install():
    """Wrap moto's DynamoDB backend write methods (idempotent)."""
    if _ORIGINAL:
        return
    for name, func in (("put_item", _put_item), ("update_item", _update_item), ("delete_item", _delete_item)):
        _ORIGINAL[name] = getattr(DynamoDBBackend, name)
        setattr(DynamoDBBackend, name, func)
