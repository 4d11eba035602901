# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import capacity


def compare_with_reported(host):
    """``{instance type: {"model": n, "reported": m}}`` for each size where the capacity model and EC2's reported
    capacity of ``host`` disagree."""
    if host.mode == "reported" or host.reported is None:
        return {}
    model = capacity.model_available(host.spec, host.free or [], host.empty, host.slots_free)
    differences = {}
    for size, count in model.items():
        if host.spec.mixable is not None and size not in host.spec.mixable:
            continue
        instance_type = f"{host.family}.{size}"
        reported = host.reported.get(instance_type, 0)
        if reported != count:
            differences[instance_type] = {"model": count, "reported": reported}
    return differences


# Maximum count per size on an empty host (ec2-capacity-and-limits.md §1.2 and §1.4).
EMPTY_HOST_MAXIMUMS = {
    "m5": {"large": 48, "xlarge": 24, "2xlarge": 12, "4xlarge": 6, "8xlarge": 2, "12xlarge": 2, "16xlarge": 1,
           "24xlarge": 1, "metal": 1},
    "r5": {"large": 48, "xlarge": 24, "2xlarge": 12, "4xlarge": 6, "8xlarge": 2, "12xlarge": 2, "16xlarge": 1,
           "24xlarge": 1, "metal": 1},
    "c5": {"large": 36, "xlarge": 18, "2xlarge": 8, "4xlarge": 4, "9xlarge": 2, "18xlarge": 1},
    "t3": {"nano": 192, "micro": 192, "small": 192, "medium": 192, "large": 96, "xlarge": 48, "2xlarge": 24},
    "m6i": {"large": 64, "xlarge": 32, "2xlarge": 16, "4xlarge": 8, "8xlarge": 4, "12xlarge": 2, "16xlarge": 2,
            "24xlarge": 1, "32xlarge": 1, "metal": 1},
    "c6i": {"large": 64, "xlarge": 32, "2xlarge": 16, "4xlarge": 8, "8xlarge": 4, "12xlarge": 2, "16xlarge": 2,
            "24xlarge": 1, "32xlarge": 1, "metal": 1},
    "r6i": {"large": 64, "xlarge": 32, "2xlarge": 16, "4xlarge": 8, "8xlarge": 4, "12xlarge": 2, "16xlarge": 2,
            "24xlarge": 1, "32xlarge": 1, "metal": 1},
    "a1": {"medium": 16, "large": 8, "xlarge": 4, "2xlarge": 2, "4xlarge": 1},
}

# Mixes AWS says fit on one host (dedicated-hosts-limits).
AWS_EXAMPLE_MIXES = [
    ("r5", {"4xlarge": 4, "2xlarge": 4}),
    ("m5", {"4xlarge": 4, "2xlarge": 4}),
    ("r5", {"12xlarge": 1, "4xlarge": 1, "2xlarge": 1, "xlarge": 5, "large": 2}),
    ("m5", {"12xlarge": 1, "4xlarge": 1, "2xlarge": 1, "xlarge": 5, "large": 2}),
    ("c5", {"9xlarge": 1, "4xlarge": 2, "xlarge": 1}),
    ("c5", {"4xlarge": 4, "xlarge": 1, "large": 2}),
]


def instances_of(family, counts, prefix="1"):
    result = []
    number = 0
    for size, count in sorted(counts.items()):
        for _instance in range(count):
            number += 1
            result.append({"instance_id": "i-%s%016x" % (prefix, number), "instance_type": "%s.%s" % (family, size)})
    return result


def described_host(host_id, family, instances=(), available=None, multi=True, instance_type=None, vcpus=None):
    """A DescribeHosts entry as EC2 returns it."""
    host = {
        "HostId": host_id,
        "State": "available",
        "AvailabilityZone": "us-east-1a",
        "AllowsMultipleInstanceTypes": "on" if multi else "off",
        "HostProperties": {"InstanceFamily": family, "Sockets": 2},
        "Instances": [{"InstanceId": "i-%017x" % (index + 1), "InstanceType": value} for index, value in enumerate(instances)],
    }
    if instance_type:
        host["HostProperties"]["InstanceType"] = instance_type
    if available is not None:
        host["AvailableCapacity"] = {
            "AvailableVCpus": vcpus if vcpus is not None else 0,
            "AvailableInstanceCapacity": [
                {"InstanceType": key, "AvailableCapacity": value[0], "TotalCapacity": value[1]}
                for key, value in sorted(available.items())
            ],
        }
    return host


def empty_pool_host(host_id, family):
    return capacity.host_capacity(described_host(host_id, family))


@pytest.mark.parametrize("family", sorted(EMPTY_HOST_MAXIMUMS))
def test_empty_host_maximums_match_the_reference(family):
    spec = capacity.family_spec(family)
    assert dict((size, spec.max_count(size)) for size in spec.sizes) == EMPTY_HOST_MAXIMUMS[family]


@pytest.mark.parametrize("family", sorted(set(EMPTY_HOST_MAXIMUMS) - {"a1"}))
def test_packing_reaches_each_maximum_and_not_one_more(family):
    for size, maximum in EMPTY_HOST_MAXIMUMS[family].items():
        result = capacity.pack(instances_of(family, {size: maximum + 1}), [empty_pool_host("h-0000000a", family)])
        on_pool = [item for item in result["placements"] if item["target_host_id"] == "h-0000000a"]
        assert len(on_pool) == maximum, size
        assert len(result["unplaced"]) == 1, size


@pytest.mark.parametrize("family,mix", AWS_EXAMPLE_MIXES)
def test_every_aws_example_mix_fits_on_one_host(family, mix):
    result = capacity.pack(instances_of(family, mix), [empty_pool_host("h-0000000a", family)])
    assert result["unplaced"] == []
    assert result["new_hosts"] == []
    assert set(item["target_host_id"] for item in result["placements"]) == {"h-0000000a"}
    assert len(result["placements"]) == sum(mix.values())


@pytest.mark.parametrize("family,mix", AWS_EXAMPLE_MIXES)
def test_every_aws_example_mix_fits_on_one_new_host(family, mix):
    result = capacity.pack(instances_of(family, mix), [], max_new_hosts=1)
    assert result["unplaced"] == []
    assert [host.host_id for host in result["new_hosts"]] == ["new-1"]
    assert result["new_hosts"][0].config == {"InstanceFamily": family}


C5_EXAMPLE = described_host(
    "h-0c5c5c5c5c5c5c5c5",
    "c5",
    instances=["c5.4xlarge"] * 2 + ["c5.2xlarge"] * 4,
    available={"c5.xlarge": (2, 18), "c5.large": (4, 36)},
    vcpus=8,
)


def test_c5_describe_hosts_example_is_reproduced():
    host = capacity.host_capacity(C5_EXAMPLE)
    assert host.mode == "cores"
    assert host.free == [2, 2]  # 4 vCPUs left on each socket
    assert compare_with_reported(host) == {}
    available = host.available()
    assert available["c5.xlarge"] == 2
    assert available["c5.large"] == 4
    assert available["c5.2xlarge"] == 0  # 8 vCPUs are free, but not on one socket


def test_c5_example_host_takes_two_xlarge_but_no_2xlarge():
    host = capacity.host_capacity(C5_EXAMPLE)
    result = capacity.pack(instances_of("c5", {"2xlarge": 1, "xlarge": 2}), [host])
    assert [item["instance_type"] for item in result["placements"]] == ["c5.xlarge", "c5.xlarge"]
    assert len(result["unplaced"]) == 1
    unplaced = result["unplaced"][0]
    assert unplaced["instance_type"] == "c5.2xlarge"
    assert "h-0c5c5c5c5c5c5c5c5 reports room for 0 c5.2xlarge" in unplaced["reason"]


def test_m5_8xlarge_max_two_per_host_and_the_third_opens_a_new_host():
    result = capacity.pack(instances_of("m5", {"8xlarge": 3}), [empty_pool_host("h-0000000a", "m5")], max_new_hosts=2)
    targets = sorted(item["target_host_id"] for item in result["placements"])
    assert targets == ["h-0000000a", "h-0000000a", "new-1"]
    assert result["unplaced"] == []


def test_m5_third_8xlarge_is_unplaced_without_new_hosts_and_says_why():
    result = capacity.pack(
        instances_of("m5", {"8xlarge": 3}),
        [empty_pool_host("h-0000000a", "m5")],
        no_new_hosts_reason="allocate_hosts is false",
    )
    assert len(result["unplaced"]) == 1
    reason = result["unplaced"][0]["reason"]
    assert "no socket of host h-0000000a has 16 free cores" in reason
    assert "allocate_hosts is false" in reason


def test_t3_host_takes_192_nano_and_not_193():
    result = capacity.pack(instances_of("t3", {"nano": 193}), [empty_pool_host("h-0000000a", "t3")])
    assert len(result["placements"]) == 192
    assert len(result["unplaced"]) == 1
    assert "0 of 192 slots free" in result["unplaced"][0]["reason"]


def test_t3_slots_mix_sizes():
    # 12 x 2xlarge (96 slots) + 24 x large (48) + 48 nano (48) = 192 slots
    mix = {"2xlarge": 12, "large": 24, "nano": 48}
    result = capacity.pack(instances_of("t3", mix), [empty_pool_host("h-0000000a", "t3")])
    assert result["unplaced"] == []
    result = capacity.pack(instances_of("t3", dict(mix, micro=1)), [empty_pool_host("h-0000000a", "t3")])
    assert len(result["unplaced"]) == 1


def test_t3_occupancy_is_counted_in_slots():
    host = capacity.host_capacity(described_host("h-0000000a", "t3", instances=["t3.2xlarge"] * 23 + ["t3.large"] * 3))
    assert host.slots_free == 192 - 23 * 8 - 3 * 2
    result = capacity.pack(instances_of("t3", {"large": 2}), [host])
    assert len(result["placements"]) == 1


def test_fragmentation_free_cores_split_over_sockets_do_not_fit_a_larger_size():
    # 2 x 8xlarge: 8 cores free on each socket, 16 in all, yet no third 8xlarge (16 cores).
    host = capacity.host_capacity(described_host("h-0000000a", "m5", instances=["m5.8xlarge"] * 2))
    assert host.free == [8, 8]
    result = capacity.pack(instances_of("m5", {"8xlarge": 1, "4xlarge": 2}), [host])
    assert sorted(item["instance_type"] for item in result["placements"]) == ["m5.4xlarge", "m5.4xlarge"]
    assert [item["instance_type"] for item in result["unplaced"]] == ["m5.8xlarge"]


def test_fragmentation_reported_by_ec2_wins_over_the_reconstruction():
    # 2 x 8xlarge + 2 x 2xlarge: EC2 placed the 2xlarge on different sockets (4 cores free on each), so it
    # offers no 4xlarge; best-fit reconstruction would put both on one socket and leave room for one.
    host = capacity.host_capacity(described_host(
        "h-0000000a", "m5", instances=["m5.8xlarge"] * 2 + ["m5.2xlarge"] * 2, vcpus=16,
        available={"m5.2xlarge": (2, 12), "m5.xlarge": (4, 24), "m5.large": (8, 48)}))
    assert host.free == [0, 8]
    assert compare_with_reported(host) == {"m5.4xlarge": {"model": 1, "reported": 0}}
    result = capacity.pack(instances_of("m5", {"4xlarge": 1, "2xlarge": 2}), [host])
    assert sorted(item["instance_type"] for item in result["placements"]) == ["m5.2xlarge", "m5.2xlarge"]
    assert [item["instance_type"] for item in result["unplaced"]] == ["m5.4xlarge"]
    assert "reports room for 0 m5.4xlarge" in result["unplaced"][0]["reason"]


def test_size_bigger_than_a_socket_needs_an_empty_host():
    host = capacity.host_capacity(described_host("h-0000000a", "m5", instances=["m5.large"]))
    result = capacity.pack(instances_of("m5", {"16xlarge": 1}), [host])
    assert "needs a whole empty host" in result["unplaced"][0]["reason"]


def test_larger_sizes_are_placed_first():
    # Small instances listed first; the 24xlarge still takes the empty pool host and the small ones a new one.
    instances = instances_of("m5", {"large": 4}, prefix="1") + instances_of("m5", {"24xlarge": 1}, prefix="2")
    result = capacity.pack(instances, [empty_pool_host("h-0000000a", "m5")], max_new_hosts=1)
    by_type = dict((item["instance_type"], item["target_host_id"]) for item in result["placements"])
    assert by_type == {"m5.24xlarge": "h-0000000a", "m5.large": "new-1"}


def test_pool_hosts_are_used_first_in_host_id_order():
    hosts = [empty_pool_host("h-0000000c", "m5"), empty_pool_host("h-0000000a", "m5"), empty_pool_host("h-0000000b", "m5")]
    result = capacity.pack(instances_of("m5", {"12xlarge": 5}), hosts, max_new_hosts=2)
    targets = [item["target_host_id"] for item in result["placements"]]
    assert targets == ["h-0000000a", "h-0000000a", "h-0000000b", "h-0000000b", "h-0000000c"]
    assert result["new_hosts"] == []


def test_multi_host_split_over_pool_and_new_hosts():
    instances = instances_of("m5", {"8xlarge": 8})
    pool = [empty_pool_host("h-0000000a", "m5"), empty_pool_host("h-0000000b", "m5")]
    result = capacity.pack(instances, pool, max_new_hosts=2)
    counts = {}
    for item in result["placements"]:
        counts[item["target_host_id"]] = counts.get(item["target_host_id"], 0) + 1
    assert counts == {"h-0000000a": 2, "h-0000000b": 2, "new-1": 2, "new-2": 2}
    assert [item["target_source"] for item in result["placements"]].count("allocated") == 4


def test_cap_on_new_hosts_leaves_the_rest_unplaced_naming_each():
    result = capacity.pack(instances_of("m5", {"8xlarge": 6}), [], max_new_hosts=2)
    assert len(result["placements"]) == 4
    assert len(result["unplaced"]) == 2
    for entry in result["unplaced"]:
        assert entry["instance_id"].startswith("i-")
        assert "max_new_hosts" in entry["reason"]


def test_reported_capacity_bounds_the_model():
    # The model would take 6 x 4xlarge on this empty host, EC2 says 1.
    host = capacity.host_capacity(described_host("h-0000000a", "m5", available={"m5.4xlarge": (1, 6)}))
    assert compare_with_reported(host)["m5.4xlarge"] == {"model": 6, "reported": 1}
    result = capacity.pack(instances_of("m5", {"4xlarge": 2}), [host])
    assert len(result["placements"]) == 1
    assert "reports room for 1 m5.4xlarge" in result["unplaced"][0]["reason"]


def test_host_the_model_cannot_reproduce_is_packed_by_its_report_one_size_only():
    # Three 16xlarge cannot be on one m5 host by the model: plan by the report, one size per host.
    host = capacity.host_capacity(described_host("h-0000000a", "m5", instances=["m5.16xlarge"] * 3,
                                                 available={"m5.large": (4, 48), "m5.xlarge": (2, 24)}))
    assert host.mode == "reported"
    assert host.notes
    result = capacity.pack(instances_of("m5", {"xlarge": 1, "large": 5}), [host])
    assert [item["instance_type"] for item in result["placements"]] == ["m5.xlarge"]
    assert len(result["unplaced"]) == 5


def test_single_type_host_takes_only_its_type_up_to_its_report():
    host = capacity.host_capacity(described_host("h-0000000a", "m5", multi=False, instance_type="m5.large",
                                                 available={"m5.large": (3, 48)}))
    assert host.mode == "reported"
    result = capacity.pack(instances_of("m5", {"large": 4, "xlarge": 1}), [host])
    assert len(result["placements"]) == 3
    reasons = dict((entry["instance_type"], entry["reason"]) for entry in result["unplaced"])
    assert "runs only m5.large" in reasons["m5.xlarge"]
    assert "reports room for 3 m5.large" in reasons["m5.large"]


def test_other_family_hosts_are_not_used():
    result = capacity.pack(instances_of("m5", {"large": 1}), [empty_pool_host("h-0000000a", "c5")])
    assert "h-0000000a is a c5 host" in result["unplaced"][0]["reason"]


def test_allocation_config_family_or_type():
    assert capacity.new_host_config("m5.large") == {"InstanceFamily": "m5"}
    assert capacity.new_host_config("t3.nano") == {"InstanceFamily": "t3"}
    assert capacity.new_host_config("a1.xlarge") == {"InstanceFamily": "a1"}
    assert capacity.new_host_config("a1.large") == {"InstanceType": "a1.large"}  # A1 mixes xlarge and 2xlarge only
    assert capacity.new_host_config("x1e.32xlarge") == {"InstanceType": "x1e.32xlarge"}
    assert capacity.new_host_config("m7i.large") == {"InstanceFamily": "m7i"}


def test_a1_multi_type_host_mixes_only_xlarge_and_2xlarge():
    host = capacity.host_capacity(described_host("h-0000000a", "a1"))
    result = capacity.pack(instances_of("a1", {"xlarge": 2, "2xlarge": 1, "large": 1}), [host])
    assert sorted(item["instance_type"] for item in result["placements"]) == ["a1.2xlarge", "a1.xlarge", "a1.xlarge"]
    assert "mixes only 2xlarge, xlarge" in result["unplaced"][0]["reason"]


def test_single_type_family_uses_the_failed_hosts_reported_totals():
    template = described_host("h-0000000f", "x1e", multi=False, instance_type="x1e.8xlarge",
                              available={"x1e.8xlarge": (0, 4)})
    result = capacity.pack(instances_of("x1e", {"8xlarge": 5}), [], max_new_hosts=2, template=template)
    assert [host.config for host in result["new_hosts"]] == [{"InstanceType": "x1e.8xlarge"}] * 2
    assert [item["target_host_id"] for item in result["placements"]].count("new-1") == 4
    assert result["unplaced"] == []


def test_unmodelled_family_without_data_counts_one_instance_per_new_host():
    result = capacity.pack(instances_of("z9q", {"2xlarge": 2}), [], max_new_hosts=2)
    assert sorted(item["target_host_id"] for item in result["placements"]) == ["new-1", "new-2"]


def test_split_type_and_rank():
    assert capacity.split_type("m5.4xlarge") == ("m5", "4xlarge")
    assert capacity.size_rank("m5.24xlarge") > capacity.size_rank("m5.12xlarge") > capacity.size_rank("m5.large")
    assert capacity.size_rank("t3.2xlarge") > capacity.size_rank("t3.nano")
