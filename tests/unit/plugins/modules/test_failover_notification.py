# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover_notification module against the simulator's SNS."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import base
from ansible_collections.dedicated_hosts.failover.plugins.modules import failover_notification


pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture(name="warnings")
def warnings_fixture(monkeypatch):
    seen = []
    monkeypatch.setattr(base.FailoverModule, "warn", lambda self, warning: seen.append(warning))
    return seen


@pytest.fixture(name="topic_arn")
def topic_arn_fixture(simulator):
    topic_arn = simulator.client("sns").create_topic(Name="host-failover")["TopicArn"]
    simulator.control.reset_calls()
    return topic_arn


def notify(simulator, run_module, topic_arn, check_mode=False, **extra):
    args = dict(topic_arn=topic_arn, subject="EC2 Dedicated Host Failover - Succeeded: h-0123456789abcdef0",
                msg="Failover of Dedicated Host h-0123456789abcdef0: SUCCEEDED", endpoint_url=simulator.endpoint, **extra)
    return run_module(failover_notification, args, check_mode)


def publishes(simulator):
    return [entry["code"] for entry in simulator.control.call_log() if entry["action"] == "Publish"]


def test_the_notice_is_published_in_the_topics_region(simulator, run_module, topic_arn, warnings):
    failed, result = notify(simulator, run_module, topic_arn, region="eu-west-1")
    assert not failed, result
    assert result["changed"] and result["published"] and result["message_id"]
    assert result["error"] is None and warnings == []
    assert [entry["region"] for entry in simulator.control.call_log() if entry["action"] == "Publish"] == ["us-east-1"]


def test_a_topic_that_stays_unavailable_does_not_fail_the_task_and_warns(simulator, run_module, topic_arn, warnings):
    simulator.control.add_fault("sns", "Publish", "ServiceUnavailable", count=None)

    failed, result = notify(simulator, run_module, topic_arn)

    assert not failed, result
    assert (result["changed"], result["published"]) == (False, False)
    assert "ServiceUnavailable" in result["error"]
    assert warnings == ["Could not notify %s: %s" % (topic_arn, result["error"])]
    # Four attempts in all: the module's client adds no retries of botocore's own.
    assert publishes(simulator) == ["ServiceUnavailable"] * 4


def test_check_mode_publishes_nothing(simulator, run_module, topic_arn, warnings):
    failed, result = notify(simulator, run_module, topic_arn, check_mode=True)
    assert not failed, result
    assert (result["changed"], result["published"]) == (True, False)
    assert publishes(simulator) == [] and warnings == []


def test_a_malformed_topic_fails_before_any_call(simulator, run_module, topic_arn):
    failed, result = notify(simulator, run_module, topic_arn.replace(":sns:", ":sqs:"))
    assert failed
    assert "is not an sns ARN" in result["msg"] and "option topic_arn" in result["msg"]
    assert publishes(simulator) == []
