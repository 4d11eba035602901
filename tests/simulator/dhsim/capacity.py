"""Dedicated Host capacity tables and the per-socket packing model."""

SRC_LIMITS = "AWS EC2 User Guide, dedicated-hosts-limits (instance capacity configurations)"
SRC_PRICE = "AWS Price List API, productFamily 'Dedicated Host' (2019-09-20 dump)"
SRC_CH = "CloudHealth amazon-pricing ec2-dhi-price-list.rb @@CAPACITY_HASH"
SRC_3P = "awsdedicatedcalculator dedicated_hosts.json (third party, unverified)"
SRC_T3 = "AWS EC2 User Guide, Burstable T3 instances on Dedicated Hosts"

# vCPUs of each size for the x86 families below (1 physical core = 2 vCPUs).
SIZE_VCPUS = {
    "nano": 2, "micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4, "2xlarge": 8,
    "4xlarge": 16, "8xlarge": 32, "9xlarge": 36, "12xlarge": 48, "16xlarge": 64,
    "18xlarge": 72, "24xlarge": 96, "32xlarge": 128,
}

# T3 slot weights (derived from AWS's per-size maxima: 192 slots per host).
T3_SLOTS = {"nano": 1, "micro": 1, "small": 1, "medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8}
T3_SLOT_BUDGET = 192

_M5_MAX = {"large": 48, "xlarge": 24, "2xlarge": 12, "4xlarge": 6, "8xlarge": 2, "12xlarge": 2, "16xlarge": 1, "24xlarge": 1, "metal": 1}
_C5_MAX = {"large": 36, "xlarge": 18, "2xlarge": 8, "4xlarge": 4, "9xlarge": 2, "18xlarge": 1}
_X6I_MAX = {"large": 64, "xlarge": 32, "2xlarge": 16, "4xlarge": 8, "8xlarge": 4, "12xlarge": 2, "16xlarge": 2, "24xlarge": 1, "32xlarge": 1, "metal": 1}

# family -> sockets, physical cores, host vCPUs, multi-size support, max instances per size (empty host), sources
FAMILIES = {
    "m5": {"sockets": 2, "cores": 48, "vcpus": 96, "multi": True, "max": _M5_MAX,
           "source": "; ".join([SRC_PRICE, SRC_CH, SRC_LIMITS, SRC_3P + " (8xlarge, 16xlarge)"])},
    "r5": {"sockets": 2, "cores": 48, "vcpus": 96, "multi": True, "max": dict(_M5_MAX),
           "source": "; ".join([SRC_CH, SRC_LIMITS + " (max 2 r5.8xlarge)", SRC_PRICE + " (vCPU 96)", SRC_3P])},
    "m5d": {"sockets": 2, "cores": 48, "vcpus": 96, "multi": False, "max": dict(_M5_MAX),
            "source": SRC_PRICE + " (same values as m5); single-type only per " + SRC_LIMITS},
    "c5": {"sockets": 2, "cores": 36, "vcpus": 72, "multi": True, "max": _C5_MAX,
           "source": "; ".join([SRC_PRICE, SRC_CH, SRC_LIMITS + " (72 vCPUs, TotalCapacity 18/36)"])},
    "c5d": {"sockets": 2, "cores": 36, "vcpus": 72, "multi": False, "max": dict(_C5_MAX),
            "source": SRC_PRICE + " (same values as c5); single-type only per " + SRC_LIMITS},
    "t3": {"sockets": 2, "cores": 48, "vcpus": 96, "multi": True, "slots": T3_SLOT_BUDGET,
           "max": {"nano": 192, "micro": 192, "small": 192, "medium": 192, "large": 96, "xlarge": 48, "2xlarge": 24},
           "source": SRC_T3 + " (48 cores, 192 instances, per-size maxima); sockets from " + SRC_3P + "; host vCPUs derived (48 x 2)"},
    "m6i": {"sockets": 2, "cores": 64, "vcpus": 128, "multi": True, "max": _X6I_MAX, "source": SRC_3P},
    "c6i": {"sockets": 2, "cores": 64, "vcpus": 128, "multi": True, "max": dict(_X6I_MAX), "source": SRC_3P},
    "r6i": {"sockets": 2, "cores": 64, "vcpus": 128, "multi": True, "max": dict(_X6I_MAX), "source": SRC_3P},
}


class CapacityError(ValueError):
    """Raised for an instance type the capacity tables do not know."""


def split_type(instance_type):
    """Split 'm5.large' into ('m5', 'large')."""
    family, dummy, size = (instance_type or "").partition(".")
    return family, size


def family_info(family):
    """Return the table row for a family, or None."""
    return FAMILIES.get(family)


def supported_sizes(family):
    """Sizes of a family, in table order."""
    info = FAMILIES.get(family)
    return list(info["max"]) if info else []


def is_known_type(instance_type):
    """True when the tables know this instance type."""
    family, size = split_type(instance_type)
    info = FAMILIES.get(family)
    return bool(info) and size in info["max"]


def type_vcpus(instance_type):
    """vCPUs of an instance type (metal = the whole host)."""
    family, size = split_type(instance_type)
    info = FAMILIES.get(family)
    if not info or size not in info["max"]:
        raise CapacityError("unknown instance type %s" % instance_type)
    if size == "metal":
        return info["vcpus"]
    return SIZE_VCPUS[size]


def type_cores(instance_type):
    """Physical cores an instance type uses."""
    return type_vcpus(instance_type) // 2


def _cores_per_socket(info):
    return info["cores"] // info["sockets"]


def _empty_max(info, size):
    """Per-socket packing maximum on an empty host."""
    cps = _cores_per_socket(info)
    cores = info["vcpus"] // 2 if size == "metal" else SIZE_VCPUS[size] // 2
    if cores <= cps:
        return info["sockets"] * (cps // cores)
    return info["cores"] // cores


def pack(family, instance_types):
    """Pack instances on an empty host of the family.

    Returns the free resources (list of free cores per socket, or [free slots] for T3), or None when they do not fit.
    Instances are placed largest first, each into the fullest socket that still has room (best fit);
    an instance larger than one socket needs the whole host.
    """
    info = FAMILIES[family]
    if "slots" in info:
        used = sum(T3_SLOTS[split_type(t)[1]] for t in instance_types)
        free = info["slots"] - used
        return [free] if free >= 0 else None
    cps = _cores_per_socket(info)
    free = [cps] * info["sockets"]
    for cores in sorted((type_cores(t) for t in instance_types), reverse=True):
        if cores > cps:
            if any(f != cps for f in free):
                return None
            free = [0] * info["sockets"]
            continue
        fits = [i for i, f in enumerate(free) if f >= cores]
        if not fits:
            return None
        best = min(fits, key=lambda i: (free[i], i))
        free[best] -= cores
    return free


def fits(family, instance_types):
    """True when all the instances fit together on one host of the family."""
    return pack(family, instance_types) is not None


def available_for_size(family, free, size):
    """How many more instances of a size fit, given the free resources from pack()."""
    info = FAMILIES[family]
    if free is None:
        return 0
    if "slots" in info:
        return free[0] // T3_SLOTS[size]
    cps = _cores_per_socket(info)
    cores = info["vcpus"] // 2 if size == "metal" else SIZE_VCPUS[size] // 2
    if cores <= cps:
        return sum(f // cores for f in free)
    return 1 if all(f == cps for f in free) and info["cores"] >= cores else 0


def host_capacity(family, host_instance_type, running_types):
    """AvailableCapacity and totals for a host.

    host_instance_type is set for single-type hosts and None for multi-size hosts.
    Returns a dict shaped like the EC2 AvailableCapacity structure.
    """
    info = FAMILIES[family]
    free = pack(family, running_types)
    if host_instance_type:
        sizes = [split_type(host_instance_type)[1]]
    else:
        sizes = list(info["max"])
    rows = []
    for size in sizes:
        rows.append({
            "InstanceType": "%s.%s" % (family, size),
            "AvailableCapacity": available_for_size(family, free, size),
            "TotalCapacity": info["max"][size],
        })
    if "slots" in info:
        free_slots = free[0] if free else 0
        available_vcpus = (info["vcpus"] * free_slots) // info["slots"]
    else:
        available_vcpus = max(0, info["vcpus"] - sum(type_vcpus(t) for t in running_types))
    return {"AvailableVCpus": available_vcpus, "AvailableInstanceCapacity": rows}


def self_check():
    """Verify that the packing model reproduces every table maximum; returns a list of mismatches."""
    problems = []
    for family, info in FAMILIES.items():
        for size, expected in info["max"].items():
            if "slots" in info:
                got = info["slots"] // T3_SLOTS[size]
            else:
                got = _empty_max(info, size)
            if got != expected:
                problems.append("%s.%s: table %s, model %s" % (family, size, expected, got))
    return problems
