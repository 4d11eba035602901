"""Command line start/stop, scenario loading and the control API."""

import os
import signal
import subprocess
import sys

import boto3
import pytest

from dhsim.client import ControlAPIError, SimulatorControl

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(HERE, "scenarios", "demo.yml")


def test_cli_prints_endpoint_world_and_stops_on_sigterm():
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), "--port", "0", "--scenario", DEMO, "--time-scale", "0.01"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("AWS_ENDPOINT_URL=http://127.0.0.1:")
        endpoint = first.split("=", 1)[1]
        table = []
        for line in proc.stdout:
            table.append(line)
            if "INSTANCES" in line:
                break
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")
        hosts = ec2.describe_hosts()["Hosts"]
        assert {h["State"] for h in hosts} == {"permanent-failure", "available"}
        text = "".join(table)
        assert "permanent-failure" in text and "Role=Reserved" in text
        world = SimulatorControl(endpoint).world()
        assert {i["name"] for i in world["instances"]} >= {"web-0", "web-1", "api", "db", "report"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_module_entry_point_without_scenario():
    env = dict(os.environ, PYTHONPATH=HERE)
    proc = subprocess.Popen([sys.executable, "-m", "dhsim", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("AWS_ENDPOINT_URL=http://127.0.0.1:")
        assert SimulatorControl(line.split("=", 1)[1]).health()["status"] == "ok"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_demo_scenario(simulator):
    ids = simulator.load_scenario(DEMO)
    assert set(ids["hosts"]) == {"failed", "reserved", "healthy"}
    assert {"web-0", "web-1", "api", "db", "report"} <= set(ids["instances"])
    ec2 = simulator.client("ec2")
    reserved = ec2.describe_hosts(Filter=[{"Name": "tag-key", "Values": ["Role"]}])["Hosts"]
    assert [h["HostId"] for h in reserved] == [ids["hosts"]["reserved"]]
    assert reserved[0]["AllowsMultipleInstanceTypes"] == "on"
    failed = ec2.describe_hosts(HostIds=[ids["hosts"]["failed"]])["Hosts"][0]
    assert failed["State"] == "permanent-failure"
    assert len(failed["Instances"]) == 4
    stopped = ec2.describe_instances(Filters=[{"Name": "host-id", "Values": [ids["hosts"]["failed"]]},
                                              {"Name": "instance-state-name", "Values": ["stopped"]}])
    assert [i["InstanceId"] for r in stopped["Reservations"] for i in r["Instances"]] == [ids["instances"]["report"]]
    assert simulator.control.config()["latency"]["stop"] == 6.0


def test_scenario_yaml_text_and_errors(simulator):
    ids = simulator.load_scenario("hosts:\n  - {name: h, instance_type: c5.large, count: 2}\ninstances:\n  - {name: x, host: h-0, instance_type: c5.large}\n")
    assert set(ids["hosts"]) == {"h-0", "h-1"}
    with pytest.raises(ControlAPIError) as err:
        simulator.load_scenario({"hosts": [{"name": "h", "instance_family": "m5", "colour": "red"}]})
    assert err.value.status == 400 and "colour" in str(err.value)
    with pytest.raises(ControlAPIError):
        simulator.load_scenario({"hosts": [{"name": "h", "instance_type": "m5.4xlarge"}],
                                 "instances": [{"name": "i", "host": "h", "instance_type": "m5.4xlarge", "count": 7}]})
    with pytest.raises(ControlAPIError) as err:
        simulator.load_scenario({"hosts": [{"name": "h", "instance_type": "m5.large"}],
                                 "instances": [{"name": "i", "host": "h", "instance_type": "m5.xlarge"}]})
    assert "does not support" in str(err.value)


def test_scenario_host_on_off_and_states(simulator):
    ids = simulator.load_scenario({"hosts": [{"name": "a", "instance_family": "r5", "auto_placement": True, "host_recovery": "on",
                                              "state": "under-assessment"}]})
    host = simulator.client("ec2").describe_hosts(HostIds=[ids["hosts"]["a"]])["Hosts"][0]
    assert (host["AutoPlacement"], host["HostRecovery"], host["State"]) == ("on", "on", "under-assessment")


def test_control_api_misc(simulator):
    control = simulator.control
    assert control.health()["status"] == "ok"
    config = control.configure(time_scale=0.5, latency={"stop": 1})
    assert config["time_scale"] == 0.5 and config["latency"]["stop"] == 1.0
    with pytest.raises(ControlAPIError):
        control.configure(latency={"nap": 1})
    assert control.set_quota("m5", 3, default=4) == {"default_quota": 4, "quotas": {"m5": 3}}
    assert control.get_quota()["quotas"] == {"m5": 3}
    with pytest.raises(ControlAPIError) as err:
        control.set_host_state("h-0123456789abcdef0", "available")
    assert err.value.status == 404
    ids = simulator.load_scenario({"hosts": [{"name": "a", "instance_family": "m5"}]})
    with pytest.raises(ControlAPIError):
        control.set_host_state("a", "broken")
    assert control.set_host_state("a", "pending")["host_id"] == ids["hosts"]["a"]
    with pytest.raises(ControlAPIError) as err:
        control._call("GET", "/nothing")  # pylint: disable=protected-access
    assert err.value.status == 404
    control.reset()
    assert control.config()["time_scale"] == 0.01
    assert simulator.client("ec2").describe_hosts()["Hosts"] == []


def test_instance_behaviour_and_latency_reset(simulator):
    ids = simulator.load_scenario({"instances": [{"name": "a"}]})
    iid = ids["instances"]["a"]
    simulator.control.set_instance_behaviour(iid, stop_latency=2, hang_on_stop=False)
    ec2 = simulator.client("ec2")
    ec2.stop_instances(InstanceIds=[iid])
    [record] = simulator.control.latencies(iid)
    assert 0.016 <= record["seconds"] <= 0.024
    simulator.control.reset_latencies()
    assert simulator.control.latencies() == []
