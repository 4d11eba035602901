# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one ISO 8601 formatter and parser: every kind of time the engine meets gives the record's format."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
from decimal import Decimal

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import iso_time
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import utc_datetime

MOMENT = datetime.datetime(2026, 11, 27, 5, 40, 0, 750000, tzinfo=datetime.timezone.utc)


def test_epochs_datetimes_and_iso_text_format_alike_to_the_second():
    paris = MOMENT.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    for moment in (MOMENT.timestamp(), Decimal(str(MOMENT.timestamp())), MOMENT, paris, MOMENT.replace(tzinfo=None),
                   "2026-11-27T05:40:00.75Z", "2026-11-27T06:40:00+01:00"):
        assert iso_time(moment) == "2026-11-27T05:40:00Z"
    assert iso_time(None) is None


def test_utc_datetime_reads_iso_text_and_refuses_anything_else():
    assert utc_datetime("2026-11-27T06:40:00.750+01:00") == MOMENT
    assert utc_datetime("2026-11-27 05:40:00.75") == MOMENT  # no zone means UTC
    assert utc_datetime(MOMENT.replace(tzinfo=None)) == MOMENT
    assert utc_datetime("") is None and utc_datetime(None) is None
    with pytest.raises(ValueError):
        utc_datetime("soon")
