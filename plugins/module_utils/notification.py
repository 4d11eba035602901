# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One failover notice published to an SNS topic, retried on throttling and transient errors, never raising.

A notice is a report, not a step of the failover: a topic that cannot be reached must not stop or fail a failover
that has moved instances. So an error of the publish comes back as ``published: false`` and the error's text (AWS's
code and message, no credentials), for the role to report. The retries are AWSRetry's on THROTTLING_CODES, and on no
answer at all, with fewer attempts than the engine's other calls (a notice that waits longer holds the failover up
for nothing) and botocore's own retries off, so that every attempt is counted once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any
from typing import Dict

try:
    import botocore
    import botocore.config

    # What a publish retries: AWS's answers (those with a THROTTLING_CODES code) and no answer at all (connection
    # refused or reset, a timeout).
    RETRIED_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)
except ImportError:
    RETRIED_ERRORS = ()  # the module reports the missing library through AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import aws
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import AwsApiError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import parse_arn
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_topic_arn

SUBJECT_LIMIT = 99  # SNS subjects must be under 100 characters
PUBLISH_ATTEMPTS = 4  # in all, as AWSRetry counts them: the first and three retries
# The code NoticeRetry gives a request SNS never answered (connection refused or reset, a timeout).
NO_ANSWER = "NoAnswer"


class NoticeRetry(AWSRetry):
    """AWSRetry that also retries a request SNS never answered (botocore's own retries are off: client_config)."""

    base_class = RETRIED_ERRORS

    @staticmethod
    def status_code_from_exception(error: Exception) -> str:
        return aws.error_code(error) or NO_ANSWER


def publish_retry() -> Any:
    """NoticeRetry's jittered backoff on THROTTLING_CODES and on no answer, bounded at PUBLISH_ATTEMPTS (the delays
    read at each call: tests lower them)."""
    return NoticeRetry.jittered_backoff(
        retries=PUBLISH_ATTEMPTS, delay=aws.RETRY_DELAY, max_delay=aws.RETRY_MAX_DELAY,
        catch_extra_error_codes=list(aws.THROTTLING_CODES) + [NO_ANSWER],
    )


def client_config() -> Any:
    """The SNS client's botocore config: one attempt a call, so that publish_retry alone counts the attempts."""
    return botocore.config.Config(retries={"total_max_attempts": 1})


def topic_region(topic_arn: str, what: str = "option topic_arn") -> str:
    """The region of a valid SNS topic ARN, where the publish must go; InvalidInputError for anything else."""
    validate_topic_arn(topic_arn, what=what)
    return parse_arn(topic_arn)["region"]


def sns_subject(subject: str) -> str:
    """An SNS subject: ASCII only, one line, under 100 characters (SNS refuses any other)."""
    text = " ".join(str(subject).split())
    text = text.encode("ascii", "replace").decode("ascii")
    return text if len(text) <= SUBJECT_LIMIT else text[:SUBJECT_LIMIT - 3] + "..."


def publish_notice(client: Any, topic_arn: str, subject: str, message: str, check_mode: bool = False) -> Dict[str, Any]:
    """Publish one notice to ``topic_arn`` (validated first) with a boto3 SNS ``client`` of the topic's region; never
    raises for an AWS or connection error.

    Returns ``changed`` and ``published`` (both true once SNS took it; in check mode ``changed`` as it would be and
    nothing sent), ``message_id``, the ``subject`` sent, and ``error`` (None, or why it was not published).
    """
    validate_topic_arn(topic_arn, what="option topic_arn")
    subject = sns_subject(subject)
    result = dict(changed=True, published=False, message_id=None, subject=subject, error=None)
    if check_mode:
        return result
    client = RetryingBotoClientWrapper(client, publish_retry())
    try:
        with aws.aws_errors("Publish", f"publishing to {topic_arn} failed"):
            answer = client.publish(TopicArn=topic_arn, Subject=subject, Message=message, aws_retry=True)
    except AwsApiError as error:
        return dict(result, changed=False, error=error.message)
    except botocore.exceptions.BotoCoreError as error:  # no answer from SNS: connection, endpoint, credentials
        return dict(result, changed=False, error=f"publishing to {topic_arn} failed: {error}")
    return dict(result, published=True, message_id=answer.get("MessageId"))
