# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SSM hook engine against the simulator's SSM Run Command (botocore's Stubber for answers it cannot give)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import AGENT_OFFLINE
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import Hook
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import HookRunner
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import hook_from_options
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.hooks import hooks_from_options

DOCUMENT = "Drain-App"
COMMAND_ID = "5d9f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"


class Clock(object):
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def world(simulator, count=3):
    ids = simulator.load_scenario({
        "hosts": [{"name": "h", "instance_family": "m5"}],
        "instances": [{"name": "app", "host": "h", "count": count}],
    })["instances"]
    return [ids["app-%d" % index] for index in range(count)]


def drive(runner, instance_ids, wait_for_agents=False, ticks=200):
    """Tick until every instance has an outcome (the simulator's commands take a few hundredths of a second)."""
    for dummy in range(ticks):
        runner.tick(wait_for_agents=wait_for_agents)
        if all(runner.outcome(instance_id) for instance_id in instance_ids):
            return dict((instance_id, runner.outcome(instance_id)) for instance_id in instance_ids)
        time.sleep(0.01)
    raise AssertionError("hooks still running: %s" % sorted(runner.running))


def sends(simulator):
    return [entry for entry in simulator.control.call_log() if entry["action"] == "SendCommand"]


def test_options_are_checked_before_any_call():
    assert hook_from_options("pre_stop", None) is None
    hook = hook_from_options("pre_stop", " Drain-App ", {"wait": 5, "targets": ["a", "b"]}, 12)
    assert (hook.document, hook.parameters, hook.timeout, hook.on_failure) == ("Drain-App", {"wait": ["5"], "targets": ["a", "b"]}, 12.0, "skip")
    assert hook_from_options("post_start", "Warm", on_failure=None).on_failure == "fail"
    with pytest.raises(InvalidInputError, match="nothing is left to skip"):
        hook_from_options("post_start", "Warm", on_failure="skip")
    with pytest.raises(InvalidInputError, match="pre_stop_ssm_document must name"):
        hook_from_options("pre_stop", "  ")
    with pytest.raises(InvalidInputError, match="pre_stop_ssm_document_timeout must be greater than 0"):
        hook_from_options("pre_stop", DOCUMENT, timeout=0)
    with pytest.raises(InvalidInputError, match="post_start_ssm_document_parameters.mode must be a string"):
        hook_from_options("post_start", DOCUMENT, {"mode": {"nested": 1}})


def module_hook_options(**options):
    """instance_placement's hook options with their defaults."""
    defaults = dict(hook_concurrency=50)
    for kind, policy in (("pre_stop", "skip"), ("post_start", "fail")):
        defaults.update({kind + "_ssm_document": None, kind + "_ssm_document_parameters": {}, kind + "_ssm_document_timeout": 300.0,
                         kind + "_hook_failure": policy})
    defaults.update(options)
    return defaults


def test_the_module_options_give_each_hook_or_none():
    hooks = hooks_from_options(module_hook_options(post_start_ssm_document="Warm-Up", post_start_ssm_document_parameters={"wait": 5},
                                                   post_start_hook_failure="ignore"))
    assert sorted(hooks) == ["post_start_hook", "pre_stop_hook"]
    assert hooks["pre_stop_hook"] is None
    warm_up = hooks["post_start_hook"]
    assert (warm_up.kind, warm_up.document, warm_up.parameters, warm_up.on_failure) == ("post_start", "Warm-Up", {"wait": ["5"]}, "ignore")
    with pytest.raises(InvalidInputError, match="hook_concurrency must be at least 1, got 0"):
        hooks_from_options(module_hook_options(hook_concurrency=0))
    with pytest.raises(InvalidInputError, match="pre_stop_ssm_document_timeout must be greater than 0"):
        hooks_from_options(module_hook_options(pre_stop_ssm_document=DOCUMENT, pre_stop_ssm_document_timeout=0))


def test_one_send_command_for_every_instance_and_each_outcome_with_its_output(simulator):
    instances = world(simulator)
    simulator.control.set_ssm_outcome("success", document=DOCUMENT, output="drained 12 connections")
    simulator.control.set_ssm_outcome("failed", instance_id=instances[1], document=DOCUMENT, output="queue not empty", code=2)
    runner = HookRunner(simulator.client("ssm"), Hook("pre_stop", DOCUMENT, {"wait": ["3"]}))
    simulator.control.reset_calls()
    for instance_id in instances:
        runner.request(instance_id)

    outcomes = drive(runner, instances)

    assert [outcomes[instance_id].status for instance_id in instances] == ["success", "failed", "success"]
    assert outcomes[instances[0]].output == "drained 12 connections"
    assert outcomes[instances[1]].describe(runner.hook).startswith("pre-stop hook Drain-App failed: status Failed, exit code 2 (command ")
    assert outcomes[instances[1]].describe(runner.hook).endswith("): queue not empty")
    sent = sends(simulator)
    assert [sorted(entry["instance_ids"]) for entry in sent] == [sorted(instances)]
    invocations = simulator.control.ssm_invocations()["invocations"]
    assert set(entry["parameters"]["wait"][0] for entry in invocations) == {"3"}


def test_each_instance_times_out_on_its_own_clock(simulator):
    instances = world(simulator, count=2)
    simulator.control.set_ssm_outcome("timeout", instance_id=instances[0])
    simulator.control.set_ssm_outcome("success", instance_id=instances[1], seconds=6000)
    clock = Clock()
    runner = HookRunner(simulator.client("ssm"), Hook("pre_stop", DOCUMENT, timeout=30), monotonic=clock)
    runner.request(instances[0])
    runner.tick()
    clock.now += 20
    runner.request(instances[1])
    runner.tick()
    clock.now += 10  # the first has run 30 s, the second 10 s

    runner.tick()

    assert runner.outcome(instances[0]).status == "timeout"
    assert runner.outcome(instances[0]).describe(runner.hook).startswith("pre-stop hook Drain-App did not finish within 30s (command ")
    assert runner.outcome(instances[1]) is None
    assert list(runner.running) == [instances[1]]


def test_the_bound_holds_invocations_back_until_a_slot_frees(simulator):
    instances = world(simulator, count=3)
    simulator.control.set_ssm_outcome("success", instance_id=instances[0], seconds=1)
    simulator.control.set_ssm_outcome("timeout", instance_id=instances[1])
    simulator.control.set_ssm_outcome("timeout", instance_id=instances[2])
    runner = HookRunner(simulator.client("ssm"), Hook("pre_stop", DOCUMENT), concurrency=2)
    simulator.control.reset_calls()
    for instance_id in instances:
        runner.request(instance_id)

    runner.tick()
    assert (sorted(runner.running), runner.queued) == (sorted(instances[:2]), [instances[2]])
    drive(runner, [instances[0]])  # the tick that sees it end sends the third

    assert sorted(runner.running) == sorted(instances[1:])
    assert [entry["instance_ids"] for entry in sends(simulator)] == [sorted(instances[:2]), [instances[2]]]


def test_instances_without_an_online_agent_end_at_once_and_are_never_sent(simulator):
    instances = world(simulator, count=3)
    simulator.control.set_ssm_outcome("offline", instance_id=instances[0])
    simulator.control.set_ssm_outcome("unregistered", instance_id=instances[1])
    runner = HookRunner(simulator.client("ssm"), Hook("pre_stop", DOCUMENT))
    simulator.control.reset_calls()

    assert runner.check_agents(instances) == sorted(instances[:2])
    for instance_id in instances:
        runner.request(instance_id)

    assert [runner.outcome(instance_id).reason for instance_id in instances[:2]] == [AGENT_OFFLINE, AGENT_OFFLINE]
    assert drive(runner, [instances[2]])[instances[2]].succeeded
    assert [entry["instance_ids"] for entry in sends(simulator)] == [[instances[2]]]
    describes = [entry for entry in simulator.control.call_log() if entry["action"] == "DescribeInstanceInformation"]
    assert len(describes) == 1


def test_an_agent_lost_after_the_check_fails_only_its_own_instance(simulator):
    instances = world(simulator, count=2)
    runner = HookRunner(simulator.client("ssm"), Hook("pre_stop", DOCUMENT))
    runner.check_agents(instances)
    simulator.control.set_ssm_outcome("offline", instance_id=instances[0])
    for instance_id in instances:
        runner.request(instance_id)

    outcomes = drive(runner, instances)

    assert outcomes[instances[0]].status == "offline"
    assert "SendCommand refused it" in outcomes[instances[0]].reason
    assert outcomes[instances[1]].succeeded


def test_a_post_start_hook_waits_for_the_agent_within_its_timeout(simulator):
    instances = world(simulator, count=2)
    simulator.control.set_ssm_outcome("offline", instance_id=instances[0])
    simulator.control.set_ssm_outcome("offline", instance_id=instances[1])
    clock = Clock()
    runner = HookRunner(simulator.client("ssm"), Hook("post_start", "Warm-Up", timeout=60), monotonic=clock)
    for instance_id in instances:
        runner.request(instance_id)
    runner.tick(wait_for_agents=True)
    assert sorted(runner.queued) == sorted(instances)
    simulator.control.set_ssm_outcome("success", instance_id=instances[1])  # its agent connects again
    clock.now += 60

    runner.tick(wait_for_agents=True)

    assert runner.outcome(instances[0]).status == "offline"
    assert runner.outcome(instances[0]).reason == "SSM agent not online within 60s of the start"
    assert list(runner.running) == [instances[1]]


def test_statuses_the_simulator_never_gives_are_classified():
    """Undeliverable and TimedOut come from SSM itself; a command SSM does not list yet is looked at again."""
    client = boto3.client("ssm", region_name="us-east-1")
    stubber = Stubber(client)
    ids = ["i-0123456789abcdef0", "i-0123456789abcdef1"]
    stubber.add_response("send_command", {"Command": {"CommandId": COMMAND_ID}})
    stubber.add_client_error("list_command_invocations", service_error_code="InvalidCommandId", http_status_code=400)
    stubber.add_response("list_command_invocations", {"CommandInvocations": [
        {"CommandId": COMMAND_ID, "InstanceId": ids[0], "Status": "Undeliverable", "CommandPlugins": []},
        {"CommandId": COMMAND_ID, "InstanceId": ids[1], "Status": "TimedOut",
         "CommandPlugins": [{"Name": "aws:runShellScript", "ResponseCode": 124, "Output": "still draining"}]},
    ]})
    runner = HookRunner(client, Hook("pre_stop", DOCUMENT))
    for instance_id in ids:
        runner.request(instance_id)
    with stubber:
        runner.tick()
        runner.tick()
        assert runner.outcome(ids[0]) is None
        runner.tick()
    assert (runner.outcome(ids[0]).status, runner.outcome(ids[0]).reason) == ("offline", AGENT_OFFLINE)
    assert (runner.outcome(ids[1]).status, runner.outcome(ids[1]).output) == ("timeout", "still draining")
