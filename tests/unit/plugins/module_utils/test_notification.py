# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A failover notice: retried on SNS throttling and transient errors (counted by the simulator), never raising."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import notification
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError

SUBJECT = "Failover of h-0123456789abcdef0 started"


pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture(name="topic")
def topic_fixture(simulator):
    """(SNS client without retries of its own, topic ARN), the call log cleared."""
    sns = simulator.client("sns")
    topic_arn = sns.create_topic(Name="host-failover")["TopicArn"]
    simulator.control.reset_calls()
    return sns, topic_arn


def publishes(simulator):
    return [entry["code"] for entry in simulator.control.call_log() if entry["action"] == "Publish"]


def test_a_notice_is_published_with_its_subject(simulator, topic):
    sns, topic_arn = topic
    result = notification.publish_notice(sns, topic_arn, SUBJECT, "body")
    assert result["published"] and result["changed"] and result["error"] is None
    assert result["message_id"] and result["subject"] == SUBJECT
    assert publishes(simulator) == ["OK"]


@pytest.mark.parametrize("code", ["Throttled", "KMSThrottling", "ServiceUnavailable", "InternalError"])
def test_throttling_and_transient_errors_are_retried_until_the_notice_goes_through(simulator, topic, code):
    sns, topic_arn = topic
    simulator.control.add_fault("sns", "Publish", code, count=3)

    result = notification.publish_notice(sns, topic_arn, SUBJECT, "body")

    assert result["published"], result
    assert publishes(simulator) == [code, code, code, "OK"]


def test_a_transient_error_that_lasts_is_given_up_after_four_attempts_and_returned(simulator, topic):
    sns, topic_arn = topic
    simulator.control.add_fault("sns", "Publish", "ServiceUnavailable", count=None)

    result = notification.publish_notice(sns, topic_arn, SUBJECT, "body")

    assert (result["published"], result["changed"], result["message_id"]) == (False, False, None)
    assert result["error"].startswith("publishing to %s failed" % topic_arn) and "(ServiceUnavailable)" in result["error"]
    assert publishes(simulator) == ["ServiceUnavailable"] * notification.PUBLISH_ATTEMPTS


def test_an_error_that_is_not_transient_is_returned_at_once_without_credentials(simulator, topic):
    sns, topic_arn = topic
    simulator.control.add_fault("sns", "Publish", "AuthorizationError", count=None)

    result = notification.publish_notice(sns, topic_arn, SUBJECT, "body")

    assert not result["published"] and "(AuthorizationError)" in result["error"]
    assert "testing" not in result["error"]  # the access key and the secret of the client
    assert publishes(simulator) == ["AuthorizationError"]


def test_throttling_answers_are_retried_with_a_stubbed_client():
    sns = boto3.client("sns", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
    topic_arn = "arn:aws:sns:us-east-1:123456789012:host-failover"
    with Stubber(sns) as stubber:
        stubber.add_client_error("publish", service_error_code="Throttled", http_status_code=429)
        stubber.add_client_error("publish", service_error_code="KMSThrottling", http_status_code=400)
        stubber.add_response("publish", {"MessageId": "m-1"})
        result = notification.publish_notice(sns, topic_arn, SUBJECT, "body")
        stubber.assert_no_pending_responses()
    assert result["published"] and result["message_id"] == "m-1"


class FlakyConnection(object):
    """An SNS client whose first ``failures`` publishes get no answer."""

    def __init__(self, failures):
        self.failures = failures
        self.calls = 0

    def publish(self, **request):
        self.calls += 1
        if self.calls <= self.failures:
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com/")
        return {"MessageId": "m-%d" % self.calls}


def test_a_request_sns_never_answered_is_retried():
    client = FlakyConnection(failures=3)
    result = notification.publish_notice(client, "arn:aws:sns:us-east-1:123456789012:host-failover", SUBJECT, "body")
    assert result["published"] and client.calls == 4


def test_no_answer_from_sns_is_returned_not_raised():
    sns = boto3.client("sns", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", config=notification.client_config())
    result = notification.publish_notice(sns, "arn:aws:sns:us-east-1:123456789012:host-failover", SUBJECT, "body")
    assert not result["published"] and "Could not connect" in result["error"]


def test_the_clients_config_leaves_the_retries_to_the_notice():
    assert notification.client_config().retries == {"total_max_attempts": 1}


def test_check_mode_publishes_nothing_and_says_it_would(simulator, topic):
    sns, topic_arn = topic
    result = notification.publish_notice(sns, topic_arn, SUBJECT, "body", check_mode=True)
    assert (result["changed"], result["published"], result["error"]) == (True, False, None)
    assert publishes(simulator) == []


@pytest.mark.parametrize("topic_arn", ["host-failover", "arn:aws:sqs:us-east-1:123456789012:inbox",
                                       "arn:aws:sns:us-east-1:1234:host-failover", "arn:aws:sns::123456789012:host-failover"])
def test_a_malformed_topic_is_refused_before_any_call(simulator, topic, topic_arn):
    sns, _topic_arn = topic
    with pytest.raises(InvalidInputError):
        notification.publish_notice(sns, topic_arn, SUBJECT, "body")
    with pytest.raises(InvalidInputError):
        notification.topic_region(topic_arn)
    assert publishes(simulator) == []


def test_the_topics_region_is_where_the_notice_goes():
    assert notification.topic_region("arn:aws-cn:sns:cn-north-1:123456789012:host-failover") == "cn-north-1"


def test_the_subject_is_ascii_single_line_and_short():
    subject = notification.sns_subject("Failover \u2705 done\nfor " + "h" * 200)
    assert subject.isascii()
    assert "\n" not in subject
    assert len(subject) < 100
    assert subject.endswith("...")
    assert notification.sns_subject("  Failover\tof  h-1 ") == "Failover of h-1"
