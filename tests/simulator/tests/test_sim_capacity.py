"""Capacity tables and the per-socket packing model against the numbers AWS publishes."""

import pytest

from dhsim import capacity


def test_model_reproduces_every_table_maximum():
    assert not capacity.self_check()


@pytest.mark.parametrize("instance_type,expected", [
    ("m5.large", 48), ("m5.xlarge", 24), ("m5.2xlarge", 12), ("m5.4xlarge", 6), ("m5.8xlarge", 2), ("m5.12xlarge", 2),
    ("m5.16xlarge", 1), ("m5.24xlarge", 1), ("r5.8xlarge", 2), ("c5.large", 36), ("c5.xlarge", 18), ("c5.2xlarge", 8),
    ("c5.4xlarge", 4), ("c5.9xlarge", 2), ("c5.18xlarge", 1), ("t3.nano", 192), ("t3.large", 96), ("t3.2xlarge", 24),
])
def test_empty_host_totals(instance_type, expected):
    family, size = capacity.split_type(instance_type)
    cap = capacity.host_capacity(family, None, [])
    row = [r for r in cap["AvailableInstanceCapacity"] if r["InstanceType"] == instance_type][0]
    assert row["TotalCapacity"] == expected
    assert row["AvailableCapacity"] == expected
    assert capacity.available_for_size(family, capacity.pack(family, []), size) == expected


def test_aws_c5_describe_hosts_example():
    cap = capacity.host_capacity("c5", None, ["c5.4xlarge"] * 2 + ["c5.2xlarge"] * 4)
    rows = {r["InstanceType"]: (r["AvailableCapacity"], r["TotalCapacity"]) for r in cap["AvailableInstanceCapacity"]}
    assert cap["AvailableVCpus"] == 8
    assert rows["c5.xlarge"] == (2, 18)
    assert rows["c5.large"] == (4, 36)
    assert rows["c5.2xlarge"][0] == 0


@pytest.mark.parametrize("family,mix", [
    ("m5", ["m5.4xlarge"] * 4 + ["m5.2xlarge"] * 4),
    ("r5", ["r5.12xlarge", "r5.4xlarge", "r5.2xlarge"] + ["r5.xlarge"] * 5 + ["r5.large"] * 2),
    ("c5", ["c5.9xlarge"] + ["c5.4xlarge"] * 2 + ["c5.xlarge"]),
    ("c5", ["c5.4xlarge"] * 4 + ["c5.xlarge"] + ["c5.large"] * 2),
])
def test_aws_documented_mixes_fit(family, mix):
    assert capacity.fits(family, mix)


def test_limits():
    assert not capacity.fits("r5", ["r5.8xlarge"] * 3)
    assert not capacity.fits("m5", ["m5.16xlarge", "m5.large"])
    assert not capacity.fits("c5", ["c5.2xlarge"] * 9)
    assert not capacity.fits("t3", ["t3.nano"] * 193)
    assert capacity.fits("t3", ["t3.2xlarge"] * 23 + ["t3.nano"] * 8)


def test_single_type_host_lists_only_its_type():
    cap = capacity.host_capacity("m5", "m5.large", ["m5.large"] * 3)
    assert cap == {"AvailableVCpus": 90, "AvailableInstanceCapacity": [{"InstanceType": "m5.large", "AvailableCapacity": 45, "TotalCapacity": 48}]}
