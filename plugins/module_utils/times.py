# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Times as the collection writes and reads them: ISO 8601 UTC strings and epoch seconds.

The one formatter (``iso_time``) and the one parser (``parse_iso_time``) of the collection, and the conversions
built on them. Every time the record, the reports and the tags carry is written here, to the second, as the
reference system writes times: ``2026-11-27T05:40:00Z``. The lease clock (monotonic) is in lease.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re
from decimal import Decimal
from typing import Any
from typing import Optional
from typing import Union

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_ISO_PATTERN = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$"
)


def utc_now() -> datetime.datetime:
    """Now, as a timezone-aware UTC datetime."""
    return datetime.datetime.now(datetime.timezone.utc)


def iso_time(moment: Any) -> Optional[str]:
    """``moment`` (epoch seconds, a datetime (naive means UTC) or ISO 8601 text) as ISO 8601 UTC to the second.

    None stays None; text that is not an ISO 8601 time raises ValueError.
    """
    if isinstance(moment, (int, float, Decimal)) and not isinstance(moment, bool):
        moment = datetime.datetime.fromtimestamp(float(moment), tz=datetime.timezone.utc)
    else:
        moment = utc_datetime(moment)
    if moment is None:
        return None
    return moment.astimezone(datetime.timezone.utc).strftime(ISO_FORMAT)


def parse_iso_time(text: str) -> Optional[Union[int, float]]:
    """Epoch seconds of an ISO 8601 time (``Z``, an offset or none meaning UTC); None if unparsable."""
    match = _ISO_PATTERN.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction = float("0." + match.group(7)) if match.group(7) else 0.0
    offset = datetime.timedelta(0)
    zone = match.group(8)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc) - offset
    return plain_number(Decimal(str(moment.timestamp() + fraction)))


def utc_datetime(value: Any) -> Optional[datetime.datetime]:
    """A timezone-aware datetime from a datetime (naive means UTC) or an ISO 8601 string; None and "" give None.

    Raises ValueError for a string that is not an ISO 8601 time.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=datetime.timezone.utc)
    epoch = parse_iso_time(str(value))
    if epoch is None:
        raise ValueError(f"{value!r} is not an ISO 8601 time")
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)


def to_epoch(value: Any) -> Optional[Union[int, float]]:
    """Epoch seconds from a Number or an ISO string (the reference's ``UpdatedAt`` is sometimes one)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, str):
        try:
            return plain_number(Decimal(value))
        except ArithmeticError:
            return parse_iso_time(value)
    return None


def plain_number(number: Decimal) -> Union[int, float]:
    """A Decimal as an int when it is integral, else a float."""
    if number == number.to_integral_value():
        return int(number)
    return float(number)
