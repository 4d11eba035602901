"""SSM Run Command with injectable outcomes: agents, SendCommand, ListCommandInvocations, GetCommandInvocation."""

import time

from dhsim.testing import expect_error

DOCUMENT = "Drain-App"


def _world(simulator, count=3):
    return simulator.load_scenario({
        "hosts": [{"name": "h", "instance_family": "m5"}],
        "instances": [{"name": "app", "host": "h", "count": count}, {"name": "cold", "host": "h", "state": "stopped"}],
    })["instances"]


def _settled(ssm, command_id, instance_id):
    deadline = time.time() + 10
    while True:
        answer = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        if answer["Status"] != "InProgress" or time.time() > deadline:
            return answer
        time.sleep(0.02)


def test_running_instances_have_online_agents_unless_a_rule_takes_them_offline(simulator):
    ids = _world(simulator)
    simulator.control.set_ssm_outcome("offline", instance_id="app-1")
    simulator.control.set_ssm_outcome("unregistered", instance_id=ids["app-2"])
    ssm = simulator.client("ssm")
    pages = ssm.get_paginator("describe_instance_information").paginate(
        Filters=[{"Key": "InstanceIds", "Values": sorted(ids.values())}], PaginationConfig={"PageSize": 5})
    seen = dict((row["InstanceId"], row["PingStatus"]) for page in pages for row in page["InstanceInformationList"])
    # The stopped instance and the unregistered one are not listed; the offline one has lost its connection.
    assert seen == {ids["app-0"]: "Online", ids["app-1"]: "ConnectionLost"}


def test_a_command_runs_for_its_time_then_ends_with_each_instances_outcome(simulator):
    ids = _world(simulator)
    control = simulator.control
    # Long enough (300 s at the suite's time scale of 0.01: 3 s) that the first listing sees every command still running.
    control.set_ssm_outcome("failed", instance_id="app-1", document=DOCUMENT, output="connections still open", code=3, seconds=300)
    control.set_ssm_outcome("timeout", instance_id="app-2")
    control.set_ssm_outcome("success", document=DOCUMENT, output="drained", seconds=300)
    ssm = simulator.client("ssm")
    targets = [ids["app-0"], ids["app-1"], ids["app-2"]]
    command = ssm.send_command(DocumentName=DOCUMENT, InstanceIds=targets, Parameters={"wait": ["5"]})["Command"]

    listed = ssm.list_command_invocations(CommandId=command["CommandId"], Details=True)["CommandInvocations"]
    assert [row["Status"] for row in listed] == ["InProgress"] * 3
    done = _settled(ssm, command["CommandId"], ids["app-0"])
    assert (done["Status"], done["ResponseCode"], done["StandardOutputContent"]) == ("Success", 0, "drained")
    failed = _settled(ssm, command["CommandId"], ids["app-1"])
    assert (failed["Status"], failed["ResponseCode"], failed["StandardErrorContent"]) == ("Failed", 3, "connections still open")
    listed = dict((row["InstanceId"], row) for row in
                  ssm.list_command_invocations(CommandId=command["CommandId"], Details=True)["CommandInvocations"])
    assert listed[ids["app-2"]]["Status"] == "InProgress"  # a hung command never ends by itself
    assert listed[ids["app-1"]]["CommandPlugins"][0]["Output"] == "connections still open"
    sent = control.ssm_invocations()["invocations"]
    assert [(entry["instance_id"], entry["parameters"]) for entry in sent] == [(target, {"wait": ["5"]}) for target in targets]


def test_send_command_refuses_instances_whose_agent_it_cannot_reach(simulator):
    ids = _world(simulator)
    simulator.control.set_ssm_outcome("offline", instance_id="app-1")
    ssm = simulator.client("ssm")
    expect_error(ssm.send_command, "InvalidInstanceId", DocumentName=DOCUMENT, InstanceIds=[ids["app-0"], ids["app-1"]])
    expect_error(ssm.send_command, "InvalidInstanceId", DocumentName=DOCUMENT, InstanceIds=[ids["cold"]])
    expect_error(ssm.get_command_invocation, "InvocationDoesNotExist", CommandId="0b1c2d3e-0000-0000-0000-000000000000",
                 InstanceId=ids["app-0"])
    assert simulator.control.ssm_invocations()["invocations"] == []


def test_a_reset_forgets_rules_and_invocations(simulator):
    ids = _world(simulator, count=1)
    simulator.control.set_ssm_outcome("failed", document=DOCUMENT)
    simulator.client("ssm").send_command(DocumentName=DOCUMENT, InstanceIds=[ids["app-0"]])
    simulator.control.reset()
    assert simulator.control.ssm_invocations() == {"rules": [], "invocations": []}
