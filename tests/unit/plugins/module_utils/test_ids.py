# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import ids
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError


@pytest.mark.parametrize("value", ["h-0123456789abcdef0", "h-01234567"])
def test_host_ids_with_8_or_17_hex_digits_are_accepted(value):
    assert ids.validate_host_id(value) == value


@pytest.mark.parametrize(
    "value", ["h-0123456789ABCDEF0", "h-0123456", "h-0123456789abcdef", "i-0123456789abcdef0", "h_01234567", "", None, 12, " h-01234567"]
)
def test_malformed_host_ids_are_refused_naming_the_value(value):
    with pytest.raises(InvalidInputError) as caught:
        ids.validate_host_id(value)
    assert repr(value) in caught.value.message


@pytest.mark.parametrize("value", ["i-0123456789abcdef0", "i-89abcdef"])
def test_instance_ids_are_accepted(value):
    assert ids.validate_instance_id(value) == value


@pytest.mark.parametrize("value", ["h-0123456789abcdef0", "i-xyz12345", "i-0123456789abcdef01"])
def test_malformed_instance_ids_are_refused(value):
    with pytest.raises(InvalidInputError, match="malformed"):
        ids.validate_instance_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:sns:us-east-1:123456789012:host-failover",
        "arn:aws-cn:sns:cn-north-1:123456789012:host-failover",
        "arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts.fifo",
    ],
)
def test_topic_arns_of_the_three_partitions_are_accepted(value):
    assert ids.validate_topic_arn(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:sqs:us-east-1:123456789012:queue",
        "arn:aws:sns:us-east-1:12345:topic",
        "arn:aws-iso:sns:us-east-1:123456789012:topic",
        "arn:aws:sns::123456789012:topic",
        "arn:aws:sns:us-east-1:123456789012:bad topic",
        "not-an-arn",
    ],
)
def test_malformed_topic_arns_are_refused(value):
    with pytest.raises(InvalidInputError) as caught:
        ids.validate_topic_arn(value)
    assert value in caught.value.message


def test_parse_arn_splits_the_parts():
    parts = ids.parse_arn("arn:aws:dynamodb:eu-west-1:123456789012:table/HostMigrationQueue", service="dynamodb")
    assert parts == {
        "partition": "aws",
        "service": "dynamodb",
        "region": "eu-west-1",
        "account": "123456789012",
        "resource": "table/HostMigrationQueue",
    }


@pytest.mark.parametrize("value", ["HostMigrationQueue", "a.b-c_d"])
def test_table_names(value):
    assert ids.validate_table_name(value) == value


@pytest.mark.parametrize("value", ["ab", "bad name", "x" * 256])
def test_bad_table_names(value):
    with pytest.raises(InvalidInputError):
        ids.validate_table_name(value)


@pytest.mark.parametrize(
    "validate, value",
    [
        (ids.validate_host_id, "h-0123456789abcdef0\n"),
        (ids.validate_instance_id, "i-0123456789abcdef0\n"),
        (ids.validate_topic_arn, "arn:aws:sns:us-east-1:123456789012:host-failover\n"),
        (ids.parse_arn, "arn:aws:sns:us-east-1:123456789012:host-failover\n"),
        (ids.validate_table_name, "HostMigrationQueue\n"),
        (ids.validate_role_arn, "arn:aws:iam::123456789012:role/dedicated-hosts-failover\n"),
        (ids.validate_session_name, "night-shift\n"),
    ],
)
def test_a_trailing_newline_is_refused(validate, value):
    # A module called directly (not through the playbook's normalisation) gets the value as it was typed.
    with pytest.raises(InvalidInputError, match="malformed"):
        validate(value)


@pytest.mark.parametrize("value", ["arn:aws:iam::123456789012:role/dedicated-hosts-failover",
                                   "arn:aws-cn:iam::123456789012:role/ops/failover@night", "arn:aws:iam::123456789012:role/a"])
def test_role_arns_are_accepted(value):
    assert ids.validate_role_arn(value) == value


@pytest.mark.parametrize("value", ["arn:aws:iam::12345:role/x", "arn:aws:iam:us-east-1:123456789012:role/x",
                                   "arn:aws:iam::123456789012:user/x", "arn:aws:sts::123456789012:role/x", "role/x",
                                   "arn:aws:iam::123456789012:role/" + "n" * 65])
def test_malformed_role_arns_are_refused(value):
    with pytest.raises(InvalidInputError, match="malformed|not an iam ARN"):
        ids.validate_role_arn(value)


@pytest.mark.parametrize("value, accepted", [("night-shift", True), ("a", False), ("x" * 65, False), ("on call", False),
                                             ("ops+1=a,b.c@d_e-f", True)])
def test_session_names_are_those_sts_accepts(value, accepted):
    if accepted:
        assert ids.validate_session_name(value) == value
    else:
        with pytest.raises(InvalidInputError, match="malformed"):
            ids.validate_session_name(value)


def test_a_failback_record_is_keyed_by_the_prefix_and_the_host_id():
    assert ids.record_key("h-01234567") == "h-01234567"
    assert ids.record_key("h-01234567", "failback") == "failback#h-01234567"
    assert ids.validate_record_key("failback#h-01234567") == "failback#h-01234567"


@pytest.mark.parametrize("value", ["failback#", "failback#h-xyz", "claim#h-01234567", "failback#failback#h-01234567"])
def test_record_keys_other_than_a_host_or_its_failback_are_refused(value):
    with pytest.raises(InvalidInputError, match="malformed"):
        ids.validate_record_key(value)


def test_an_unknown_record_kind_is_refused():
    with pytest.raises(InvalidInputError, match="record must be one of failover, failback"):
        ids.record_key("h-01234567", "claim")
