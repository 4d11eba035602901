# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dedicated_hosts.failover.plugins.filter.settings import setting
from ansible_collections.dedicated_hosts.failover.plugins.filter.settings import valid_topic_arn
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import SETTINGS


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset_values_take_the_default(value):
    assert setting(value, "failover_host_concurrency") == 10


def test_the_default_comes_from_the_table_or_the_playbook():
    assert setting(None, "max_new_hosts") == SETTINGS["max_new_hosts"].default
    assert setting(None, "reserved_tags") == {"Role": "Reserved"}
    assert setting(None, "aws_region", default="eu-west-1") == "eu-west-1"
    assert setting("us-east-1", "aws_region", default="eu-west-1") == "us-east-1"


def test_a_returned_default_is_a_copy():
    setting(None, "reserved_tags")["Role"] = "Spare"
    assert setting(None, "reserved_tags") == {"Role": "Reserved"}


@pytest.mark.parametrize("value, expected", [("false", False), ("False", False), ("no", False), ("0", False), (False, False),
                                             ("true", True), ("yes", True), ("1", True), (True, True)])
def test_booleans_from_strings(value, expected):
    assert setting(value, "force") is expected


def test_numbers_from_strings():
    assert setting("4", "failover_host_concurrency") == 4
    assert setting("0.25", "poll_interval") == 0.25
    assert setting(0, "max_new_hosts") == 0


def test_lists_accept_comma_separated_strings():
    assert setting("h-01234567, h-89abcdef,", "failed_host_ids") == ["h-01234567", "h-89abcdef"]
    assert setting(["h-01234567", ""], "failed_host_ids") == ["h-01234567"]
    assert setting("", "failed_host_ids") == []


def test_lists_accept_json_text():
    assert setting("[]", "failed_host_ids") == []
    assert setting('["h-01234567"]', "failed_host_ids") == ["h-01234567"]


def test_dictionaries_accept_json_text():
    assert setting('{"Role": "Spare"}', "reserved_tags") == {"Role": "Spare"}
    assert setting({"m5": 5.069}, "host_hourly_prices") == {"m5": 5.069}


@pytest.mark.parametrize("value, name", [("many", "failover_concurrency"), ("maybe", "force"), ("1.5.2", "stop_timeout"),
                                         ("[1,", "failed_host_ids"), ("Role=Spare", "reserved_tags"),
                                         ('["not", "a", "dict"]', "reserved_tags")])
def test_values_that_do_not_convert_fail_naming_the_variable(value, name):
    with pytest.raises(AnsibleFilterError) as caught:
        setting(value, name)
    assert name in str(caught.value)
    assert repr(value) in str(caught.value)


def test_unknown_variable_is_refused():
    with pytest.raises(AnsibleFilterError, match="unknown variable 'stop_timout'.*defaults.py"):
        setting("x", "stop_timout")


@pytest.mark.parametrize("value, message", [
    ("-1", "stop_timeout: '-1' is not allowed: it must be greater than 0"),
    ("0", "stop_timeout: '0' is not allowed"),
    ("nan", "stop_timeout: 'nan' is not a finite number"),
    ("inf", "stop_timeout: 'inf' is not a finite number"),
])
def test_numbers_out_of_bounds_are_refused_naming_the_value(value, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(")):
        setting(value, "stop_timeout")


def test_bounds_apply_to_given_values_not_to_the_default():
    assert setting(None, "failover_concurrency") is None
    assert setting("", "failover_concurrency") is None
    assert setting("4", "failover_concurrency") == 4
    with pytest.raises(AnsibleFilterError, match="failover_concurrency: '0' is not allowed: it must be 1 or more"):
        setting("0", "failover_concurrency")
    assert setting("0", "max_new_hosts") == 0
    with pytest.raises(AnsibleFilterError, match="max_new_hosts: '-1' is not allowed: it must be 0 or more"):
        setting("-1", "max_new_hosts")


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
