# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retries on every service's throttling code, counted by the simulator, error helpers, and the token buckets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

import botocore
import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import aws
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import AwsApiError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import NotFoundError

UNKNOWN_HOST = "h-0123456789abcdef0"


pytestmark = pytest.mark.usefixtures("fast_retries")


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
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
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


def test_aws_errors_turns_a_not_found_code_into_the_callers_not_found_error(simulator):
    client = aws.retrying(simulator.client("ec2"))

    with pytest.raises(NotFoundError) as caught:
        with aws.aws_errors("DescribeHosts", not_found_codes=aws.HOST_NOT_FOUND_CODES,
                            not_found=lambda: NotFoundError("host gone", host_id=UNKNOWN_HOST)):
            client.describe_hosts(HostIds=[UNKNOWN_HOST], aws_retry=True)

    assert caught.value.message == "host gone"
    assert caught.value.details == {"host_id": UNKNOWN_HOST}
    assert aws.error_code(caught.value.__cause__) == "InvalidHostID.NotFound"


def test_aws_errors_turns_any_other_client_error_into_an_aws_api_error_with_the_callers_details(simulator):
    client = aws.retrying(simulator.client("ec2"))

    with pytest.raises(AwsApiError) as caught:
        with aws.aws_errors("DescribeHosts", "reading host-1 failed", not_found_codes=aws.HOST_NOT_FOUND_CODES,
                            not_found=lambda: NotFoundError("host gone"), host_id="host-1"):
            client.describe_hosts(HostIds=["host-1"], aws_retry=True)

    assert caught.value.code == "InvalidHostID.Malformed"
    assert caught.value.operation == "DescribeHosts"
    assert caught.value.message.startswith("reading host-1 failed: ")
    assert caught.value.message.endswith("(InvalidHostID.Malformed)")
    assert caught.value.details["host_id"] == "host-1"


def test_missing_returns_gives_the_default_for_a_not_found_code_and_lets_other_errors_through(simulator):
    ec2 = simulator.client("ec2")

    @aws.missing_returns(aws.HOST_NOT_FOUND_CODES, default=list)
    def read(host_ids):
        return ec2.describe_hosts(HostIds=host_ids)["Hosts"]

    assert read([UNKNOWN_HOST]) == []
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        read(["host-1"])
    assert aws.error_code(caught.value) == "InvalidHostID.Malformed"


def test_paginate_retries_the_whole_pagination(simulator):
    simulator.control.add_fault("ec2", "DescribeInstances", "RequestLimitExceeded", count=1)
    result = aws.paginate(simulator.client("ec2"), "describe_instances")
    assert result["Reservations"] == []
    assert simulator.control.call_count("ec2", "DescribeInstances") == 2


def test_wrapping_twice_is_harmless(simulator):
    client = aws.retrying(simulator.client("ec2"))
    assert aws.retrying(client) is client


class FakeClock(object):
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_buckets_that_share_a_file_draw_from_one_budget(tmp_path):
    clock = FakeClock()
    shared = str(tmp_path / "buckets.json")
    first, second = (aws.TokenBucket(5, 2.0, monotonic=clock.monotonic, sleep=clock.sleep, shared_file=shared, name="StartInstances")
                     for _bucket in range(2))
    for _call in range(5):
        assert first.take() == 0.0
    # The second bucket (another host's process) finds the five tokens gone.
    assert second.take() == pytest.approx(0.5)
    assert first.take() == pytest.approx(0.5)


def test_buckets_of_other_files_or_names_are_independent(tmp_path):
    clock = FakeClock()
    buckets = [aws.TokenBucket(1, 1.0, monotonic=clock.monotonic, sleep=clock.sleep, shared_file=str(tmp_path / file), name=name)
               for file, name in (("a.json", "StartInstances"), ("b.json", "StartInstances"), ("a.json", "StopInstances"))]
    assert [bucket.take() for bucket in buckets] == [0.0, 0.0, 0.0]


def test_takers_reserve_successive_tokens_and_wait_for_them():
    clock = FakeClock()
    bucket = aws.TokenBucket(1, 4.0, monotonic=clock.monotonic, sleep=lambda seconds: None)
    # Nobody sleeps here, as if three threads took at once: each is given its own later slot.
    assert [bucket.take() for _taker in range(3)] == [0.0, pytest.approx(0.25), pytest.approx(0.5)]
    assert bucket.take(count=2) == pytest.approx(1.0)


def test_processes_sharing_the_file_are_paced_together(tmp_path):
    """Three processes take two tokens each from a bucket of two refilling 20 a second: the last waits >= 0.2 s."""
    shared = str(tmp_path / "buckets.json")
    started = time.monotonic()
    children = []
    for _child in range(3):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child exits
            code = 1
            try:
                bucket = aws.TokenBucket(2, 20.0, shared_file=shared, name="StartInstances")
                bucket.take()
                bucket.take()
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    assert all(os.waitpid(pid, 0)[1] == 0 for pid in children)
    # With a bucket each, nobody would wait at all.
    assert time.monotonic() - started >= 0.2 - 0.01


def test_the_runs_budget_file_is_named_by_region_only_inside_a_run(tmp_path, monkeypatch):
    monkeypatch.delenv(aws.REQUEST_BUDGET_DIR_ENV, raising=False)
    assert aws.request_budget_file("us-east-1") is None
    monkeypatch.setenv(aws.REQUEST_BUDGET_DIR_ENV, str(tmp_path / "gone"))
    assert aws.request_budget_file("us-east-1") is None  # the run's folder no longer exists
    monkeypatch.setenv(aws.REQUEST_BUDGET_DIR_ENV, str(tmp_path))
    assert aws.request_budget_file("us-east-1") == str(tmp_path / "ec2-request-buckets-us-east-1.json")
    assert aws.request_budget_file("us-west-2") != aws.request_budget_file("us-east-1")


def test_a_bucket_whose_shared_file_is_gone_goes_on_with_its_own_state(tmp_path):
    clock = FakeClock()
    folder = tmp_path / "run"
    folder.mkdir()
    bucket = aws.TokenBucket(2, 1.0, monotonic=clock.monotonic, sleep=clock.sleep, shared_file=str(folder / "buckets.json"), name="Start")
    assert bucket.take() == 0.0
    (folder / "buckets.json").unlink()
    folder.rmdir()  # ansible-playbook exited (a cancel) and removed its temporary folder
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(1.0)  # the shared state's last count carried on
