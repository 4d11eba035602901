# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retries on every service's throttling code, counted by the simulator, and error helpers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import aws


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(aws, "RETRY_DELAY", 0.01)
    monkeypatch.setattr(aws, "RETRY_MAX_DELAY", 0.05)


@pytest.mark.parametrize("service, action, code, call", [
    ("ec2", "DescribeHosts", "RequestLimitExceeded", lambda client: client.describe_hosts(aws_retry=True)),
    ("dynamodb", "ListTables", "ProvisionedThroughputExceededException", lambda client: client.list_tables(aws_retry=True)),
    ("dynamodb", "ListTables", "ThrottlingException", lambda client: client.list_tables(aws_retry=True)),
    ("sns", "ListTopics", "Throttled", lambda client: client.list_topics(aws_retry=True)),
])
def test_each_services_throttling_code_is_retried_until_the_call_succeeds(simulator, service, action, code, call):
    simulator.control.add_fault(service, action, code, count=3)
    client = aws.retrying(simulator.client(service))  # the boto3 client itself does not retry (1 attempt)

    call(client)

    log = [entry["code"] for entry in simulator.control.call_log() if entry["action"] == action]
    assert log == [code, code, code, "OK"]


def test_retries_give_up_after_their_bound(simulator, monkeypatch):
    monkeypatch.setattr(aws, "RETRIES", 2)
    simulator.control.add_fault("sns", "ListTopics", "Throttled", count=None)
    client = aws.retrying(simulator.client("sns"))

    with pytest.raises(Exception) as caught:
        client.list_topics(aws_retry=True)

    assert aws.error_code(caught.value) == "Throttled"
    assert aws.http_status(caught.value) == 429
    assert simulator.control.call_count("sns", "ListTopics") == 2  # AWSRetry counts attempts, not retries


def test_an_error_that_is_not_transient_is_not_retried(simulator):
    client = aws.retrying(simulator.client("ec2"))
    with pytest.raises(Exception) as caught:
        client.describe_hosts(HostIds=["h-0123456789abcdef0"], aws_retry=True)
    assert aws.error_code(caught.value) == "InvalidHostID.NotFound"
    assert simulator.control.call_count("ec2", "DescribeHosts") == 1
    error = aws.api_error(caught.value, "DescribeHosts")
    assert error.code == "InvalidHostID.NotFound" and error.operation == "DescribeHosts"
    assert "DescribeHosts failed" in error.message


def test_paginate_retries_the_whole_pagination(simulator):
    simulator.control.add_fault("ec2", "DescribeInstances", "RequestLimitExceeded", count=1)
    result = aws.paginate(simulator.client("ec2"), "describe_instances")
    assert result["Reservations"] == []
    assert simulator.control.call_count("ec2", "DescribeInstances") == 2


def test_wrapping_twice_is_harmless(simulator):
    client = aws.retrying(simulator.client("ec2"))
    assert aws.retrying(client) is client
