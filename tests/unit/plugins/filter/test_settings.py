# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dedicated_hosts.failover.plugins.filter.settings import setting
from ansible_collections.dedicated_hosts.failover.plugins.filter.settings import valid_topic_arn


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset_values_take_the_default(value):
    assert setting(value, 7, "int") == 7


@pytest.mark.parametrize("value, expected", [("false", False), ("False", False), ("no", False), ("0", False), (False, False),
                                             ("true", True), ("yes", True), ("1", True), (True, True)])
def test_booleans_from_strings(value, expected):
    assert setting(value, None, "bool") is expected


def test_numbers_from_strings():
    assert setting("4", 0, "int") == 4
    assert setting("0.25", 1.0, "float") == 0.25
    assert setting(0, 2, "int") == 0


def test_lists_accept_comma_separated_strings():
    assert setting("h-01234567, h-89abcdef,", [], "list") == ["h-01234567", "h-89abcdef"]
    assert setting(["h-01234567", ""], [], "list") == ["h-01234567"]
    assert setting("", [], "list") == []


def test_lists_accept_json_text():
    assert setting("[]", None, "list") == []
    assert setting('["h-01234567"]', None, "list") == ["h-01234567"]


def test_dictionaries_accept_json_text():
    assert setting('{"Role": "Spare"}', {}, "dict") == {"Role": "Spare"}
    assert setting({"m5": 5.069}, {}, "dict") == {"m5": 5.069}


@pytest.mark.parametrize("value, kind", [("many", "int"), ("maybe", "bool"), ("1.5.2", "float"), ("[1,", "list"), ("Role=Spare", "dict"),
                                         ('["not", "a", "dict"]', "dict")])
def test_values_that_do_not_convert_fail_naming_the_variable(value, kind):
    with pytest.raises(AnsibleFilterError) as caught:
        setting(value, None, kind, "failover_concurrency")
    assert "failover_concurrency" in str(caught.value)
    assert repr(value) in str(caught.value)


def test_unknown_kind_is_refused():
    with pytest.raises(AnsibleFilterError, match="unknown kind"):
        setting("x", None, "complex")


@pytest.mark.parametrize("value, kwargs, message", [
    ("-1", dict(greater_than=0), "stop_timeout: '-1' is not allowed: it must be greater than 0"),
    ("0", dict(greater_than=0), "stop_timeout: '0' is not allowed"),
    ("nan", dict(greater_than=0), "stop_timeout: 'nan' is not a finite number"),
    ("inf", dict(), "stop_timeout: 'inf' is not a finite number"),
])
def test_numbers_out_of_bounds_are_refused_naming_the_value(value, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(")):
        setting(value, 600, "float", "stop_timeout", **kwargs)


def test_bounds_apply_to_given_values_not_to_the_default():
    assert setting(None, None, "int", "failover_concurrency", minimum=1) is None
    assert setting("", None, "int", "failover_concurrency", minimum=1) is None
    assert setting("4", None, "int", "failover_concurrency", minimum=1) == 4
    with pytest.raises(AnsibleFilterError, match="failover_concurrency: '0' is not allowed: it must be 1 or more"):
        setting("0", None, "int", "failover_concurrency", minimum=1)
    assert setting("0", 2, "int", "max_new_hosts", minimum=0) == 0


def test_valid_topic_arn():
    arn = "arn:aws:sns:us-east-1:123456789012:host-failover"
    assert valid_topic_arn(arn) == arn
    assert valid_topic_arn(" %s " % arn) == arn
    assert valid_topic_arn(None) == ""
    assert valid_topic_arn("") == ""
    for bad in ("host-failover", "arn:aws:sns:us-east-1:1234:host-failover", "arn:aws:sqs:us-east-1:123456789012:inbox"):
        with pytest.raises(AnsibleFilterError, match="notification_topic_arn") as caught:
            valid_topic_arn(bad)
        assert bad in str(caught.value)
