"""EC2's token buckets (off by default) and DynamoDB write capacity accounting."""

import pytest

from dhsim.capacity_units import item_size, number_size, write_units
from dhsim.testing import expect_error, make_table
from dhsim.throttle import THROTTLE, request_bucket_for

WORLD = {
    "hosts": [{"name": "src", "instance_family": "m5"}],
    "instances": [{"name": "web", "host": "src", "count": 12}],
}


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(THROTTLE, "clock", fake)
    return fake


def throttled_codes(control):
    return [(e["action"], e["status"], e["code"], e.get("throttled")) for e in control.call_log() if e.get("throttled")]


def test_off_by_default(simulator, clock):
    ec2 = simulator.client("ec2")
    ids = simulator.load_scenario(WORLD)["instances"]
    for dummy in range(8):
        ec2.start_instances(InstanceIds=[ids["web-0"]])
    assert simulator.control.ec2_rate_limits()["enabled"] is False
    assert throttled_codes(simulator.control) == []


def test_start_instances_request_bucket_5_refill_2(simulator, clock):
    ids = simulator.load_scenario(dict(WORLD, ec2_rate_limits=True))["instances"]
    ec2 = simulator.client("ec2")
    for dummy in range(5):
        ec2.start_instances(InstanceIds=[ids["web-0"]])          # running: a no-op success that still costs a token
    expect_error(ec2.start_instances, "RequestLimitExceeded", 503, InstanceIds=[ids["web-0"]])
    clock.advance(0.4)                                             # 0.8 tokens: still refused
    expect_error(ec2.start_instances, "RequestLimitExceeded", 503, InstanceIds=[ids["web-0"]])
    clock.advance(0.1)                                             # 1.0 token
    ec2.start_instances(InstanceIds=[ids["web-0"]])
    expect_error(ec2.start_instances, "RequestLimitExceeded", 503, InstanceIds=[ids["web-0"]])
    clock.advance(100)                                             # refills to the maximum, not beyond
    for dummy in range(5):
        ec2.start_instances(InstanceIds=[ids["web-0"]])
    expect_error(ec2.start_instances, "RequestLimitExceeded", 503, InstanceIds=[ids["web-0"]])
    state = simulator.control.ec2_rate_limits()
    assert state["throttled"] == {"StartInstances": 4}
    assert state["throttled_by_bucket"] == {"request:StartInstances": 4}
    bucket = state["buckets"]["us-east-1"]["request"]["StartInstances"]
    assert (bucket["maximum"], bucket["refill"]) == (5.0, 2.0)
    resource = state["buckets"]["us-east-1"]["resource"]["StartInstances"]
    assert (resource["maximum"], resource["refill"]) == (1000.0, 2.0)
    assert resource["tokens"] == 995.0                             # refilled to 1000, then 5 one-instance requests
    log = throttled_codes(simulator.control)
    assert log == [("StartInstances", 503, "RequestLimitExceeded", "request:StartInstances")] * 4


def test_resource_bucket_counts_instances_and_both_must_pass(simulator, clock):
    ids = simulator.load_scenario(WORLD)["instances"]
    simulator.control.set_ec2_rate_limits(True, resources={"StopInstances": [10, 20]})
    ec2 = simulator.client("ec2")
    first = [ids["web-%d" % n] for n in range(8)]
    ec2.stop_instances(InstanceIds=first)                          # 8 of 10 tokens
    expect_error(ec2.stop_instances, "RequestLimitExceeded", 503, InstanceIds=[ids["web-%d" % n] for n in range(8, 11)])
    state = simulator.control.ec2_rate_limits()
    assert state["throttled_by_bucket"] == {"resource:StopInstances": 1}
    # The refused request drew nothing from its request bucket (50, mutating) either.
    assert state["buckets"]["us-east-1"]["request"]["StopInstances"]["tokens"] == 49.0
    assert state["buckets"]["us-east-1"]["resource"]["StopInstances"]["tokens"] == 2.0
    world = {i["instance_id"]: i["state"] for i in simulator.control.world()["instances"]}
    assert all(world[ids["web-%d" % n]] == "running" for n in range(8, 11))
    clock.advance(0.06)                                            # 2 + 1.2 tokens
    ec2.stop_instances(InstanceIds=[ids["web-%d" % n] for n in range(8, 11)])


def test_float_refill(simulator, clock):
    simulator.load_scenario(WORLD)
    simulator.control.set_ec2_rate_limits(True, requests={"AllocateHosts": {"maximum": 1, "refill": 0.3}})
    ec2 = simulator.client("ec2")
    ec2.allocate_hosts(AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=1)
    clock.advance(3)                                               # 0.9 tokens
    expect_error(ec2.allocate_hosts, "RequestLimitExceeded", 503, AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=1)
    clock.advance(0.4)                                             # 1.02 tokens
    ec2.allocate_hosts(AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=1)


def test_describe_instances_unfiltered_bucket_is_separate(simulator, clock):
    ids = simulator.load_scenario(dict(WORLD, ec2_rate_limits=True))["instances"]
    ec2 = simulator.client("ec2")
    for dummy in range(50):
        ec2.describe_instances(InstanceIds=[ids["web-0"]])          # ids only: unfiltered and unpaginated (50 / 10)
    expect_error(ec2.describe_instances, "RequestLimitExceeded", 503)
    ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": [ids["web-0"]]}])   # the 100 / 20 bucket
    ec2.describe_instances(MaxResults=5)
    buckets = simulator.control.ec2_rate_limits()["buckets"]["us-east-1"]["request"]
    assert buckets["DescribeInstances (unfiltered, unpaginated)"]["maximum"] == 50.0
    assert buckets["DescribeInstances (unfiltered, unpaginated)"]["refill"] == 10.0
    assert buckets["DescribeInstances"]["maximum"] == 100.0 and buckets["DescribeInstances"]["tokens"] == 98.0


def test_category_table():
    assert request_bucket_for("DescribeHosts", {}) == ("DescribeHosts", (100.0, 20.0))
    assert request_bucket_for("DescribeInstanceStatus", {"Filter.1.Name": "x"}) == ("DescribeInstanceStatus", (100.0, 20.0))
    assert request_bucket_for("DescribeInstanceStatus", {})[1] == (50.0, 10.0)
    assert request_bucket_for("StopInstances", {}) == ("StopInstances", (50.0, 5.0))
    assert request_bucket_for("ModifyInstancePlacement", {}) == ("ModifyInstancePlacement", (50.0, 5.0))
    assert request_bucket_for("AllocateHosts", {}) == ("AllocateHosts", (50.0, 5.0))
    assert request_bucket_for("CreateTags", {}) == ("CreateTags", (100.0, 10.0))
    assert request_bucket_for("RunInstances", {}) == ("RunInstances", (5.0, 2.0))
    assert request_bucket_for("TerminateInstances", {}) == ("TerminateInstances", (100.0, 5.0))
    assert request_bucket_for("GetHostReservationPurchasePreview", {}) == ("GetHostReservationPurchasePreview", (5.0, 2.0))


def test_only_ec2_is_throttled_and_reset_switches_it_off(simulator, clock):
    simulator.load_scenario(dict(WORLD, ec2_rate_limits={"requests": {"DescribeHosts": [1, 0]}}))
    ec2 = simulator.client("ec2")
    sns = simulator.client("sns")
    ec2.describe_hosts()
    expect_error(ec2.describe_hosts, "RequestLimitExceeded", 503)
    for dummy in range(5):
        sns.list_topics()
    assert simulator.control.calls()["counts"]["ec2"]["DescribeHosts"] == 2
    simulator.control.reset()
    assert simulator.control.ec2_rate_limits()["enabled"] is False
    ec2.describe_hosts()


def test_bad_rate_limit_settings(simulator):
    from dhsim.client import ControlAPIError  # pylint: disable=import-outside-toplevel

    with pytest.raises(ControlAPIError):
        simulator.control.set_ec2_rate_limits(True, requests={"StartInstances": [-1, 2]})
    with pytest.raises(ControlAPIError):
        simulator.load_scenario(dict(WORLD, ec2_rate_limits={"bogus": 1}))


# --------------------------------------------------------------------------- DynamoDB write units

def test_item_size_rules():
    assert number_size("0") == 1
    assert number_size("12345") == 4            # 5 significant digits: 3 bytes + 1
    assert number_size("-1.500") == 2           # "15"
    assert number_size("1700000000") == 2       # trailing zeros trimmed: "17"
    item = {"HostId": {"S": "h-0123"}, "N": {"N": "42"}, "Ok": {"BOOL": True}, "Nil": {"NULL": True},
            "L": {"L": [{"S": "ab"}, {"N": "1"}]}, "M": {"M": {"k": {"S": "xyz"}}}}
    # HostId 6+6, N 1+2, Ok 2+1, Nil 3+1, L 1+(3 + (2+1) + (2+1)), M 1+(3 + (1+3+1))
    assert item_size(item) == 12 + 3 + 3 + 4 + 10 + 9
    assert write_units(0) == 1 and write_units(1024) == 1 and write_units(1025) == 2


def test_dynamodb_write_units_are_measured(simulator):
    ddb = simulator.client("dynamodb")
    make_table(ddb)
    ddb.put_item(TableName="runs", Item={"pk": {"S": "a"}, "data": {"S": "x" * 2000}})                       # 2007 bytes: 2 WCU
    ddb.update_item(TableName="runs", Key={"pk": {"S": "a"}}, UpdateExpression="SET more = :m",
                    ExpressionAttributeValues={":m": {"S": "y" * 1200}})                                       # 3211 bytes: 4 WCU
    ddb.update_item(TableName="runs", Key={"pk": {"S": "a"}}, UpdateExpression="REMOVE more, #d",
                    ExpressionAttributeNames={"#d": "data"})                                                   # before 3211: 4 WCU
    expect_error(ddb.put_item, "ConditionalCheckFailedException", 400, TableName="runs", Item={"pk": {"S": "a"}},
                 ConditionExpression="attribute_not_exists(pk)")                                            # fails, still 1 WCU
    ddb.delete_item(TableName="runs", Key={"pk": {"S": "a"}})
    writes = simulator.control.dynamodb_writes(table="runs")
    assert [(w["action"], w["bytes"], w["wcu"], w["ok"]) for w in writes["writes"]] == [
        ("PutItem", 2007, 2, True), ("UpdateItem", 3211, 4, True), ("UpdateItem", 3211, 4, True),
        ("PutItem", 3, 1, False), ("DeleteItem", 3, 1, True)]
    assert writes["totals"]["runs"] == {"writes": 5, "wcu": 12, "max_item_bytes": 3211, "failed": 1}
    log = [e for e in simulator.control.call_log() if e["service"] == "dynamodb" and e["action"] in ("PutItem", "UpdateItem", "DeleteItem")]
    assert [e.get("wcu") for e in log] == [2, 4, 4, 1, 1]
    simulator.control.reset_dynamodb_writes()
    assert simulator.control.dynamodb_writes()["writes"] == []
