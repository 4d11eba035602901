# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Dedicated Host capacity model the planner packs instances with. Pure functions, no AWS calls.

Model (docs/capacity.md has the sources):

* A host of a modelled family is ``sockets`` NUMA nodes of ``cores / sockets`` cores. An instance that
  needs ``c`` cores must fit inside one socket; one bigger than a socket needs an empty host. This
  reproduces every number AWS publishes (c5.2xlarge max 8, r5/m5 8xlarge max 2, the four example mixes
  and the c5 DescribeHosts example).
* T3 hosts are a budget of 192 slots: nano to medium use 1, large 2, xlarge 4, 2xlarge 8.
* Whatever the model says, a plan never puts more instances of a size on an existing host than the
  host's reported ``AvailableCapacity`` for that size.
* Hosts the model does not cover (single-type hosts, families without data, hosts whose occupancy the
  model cannot reproduce) take one size only, up to the reported count for that size; that is exactly
  what AWS's ``AvailableInstanceCapacity`` promises.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from typing import Any
from typing import Dict
from typing import Iterable
from typing import List
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Tuple

# Families whose hosts can run several sizes at once (EC2 User Guide, "Dedicated Host instance capacity
# configurations"). Only some of them are modelled in FAMILIES; the others are packed conservatively.
MULTI_TYPE_FAMILIES = frozenset(
    ["a1", "m5", "m5n", "m6i", "m7i", "t3", "c5", "c5n", "c6i", "c7i", "r5", "r5n", "r6i", "r7i"]
)

T3_SLOTS = 192

_SIZE_RE = re.compile(r"^(\d+)xlarge$")
_SIZE_RANK = {"nano": 1, "micro": 2, "small": 3, "medium": 4, "large": 8, "xlarge": 16}


class FamilySpec:
    """Capacity data of one instance family on a Dedicated Host.

    ``sizes`` maps size -> cores per instance (or slots per instance when ``slots`` is set);
    ``mixable`` is the set of sizes a multi-type host of the family may mix (None: all of them).
    """

    def __init__(self, name: str, sockets: int, cores: int, sizes: Mapping[str, int], multi_type: bool = True,
                 slots: Optional[int] = None, mixable: Optional[Iterable[str]] = None,
                 max_counts: Optional[Mapping[str, int]] = None) -> None:
        self.name = name
        self.sockets = sockets
        self.cores = cores
        self.sizes = dict(sizes)
        self.multi_type = multi_type
        self.slots = slots
        self.mixable = frozenset(mixable) if mixable else None
        self._max_counts = dict(max_counts or {})

    @property
    def cores_per_socket(self) -> int:
        return self.cores // self.sockets

    def max_count(self, size: str) -> int:
        """Instances of ``size`` an empty host holds (0 for a size the family lacks)."""
        if size not in self.sizes:
            return 0
        if size in self._max_counts:
            return self._max_counts[size]
        need = self.sizes[size]
        if self.slots:
            return self.slots // need
        if need <= self.cores_per_socket:
            return self.sockets * (self.cores_per_socket // need)
        return self.cores // need


def _spec(name, sockets, cores, sizes, **kwargs):
    return FamilySpec(name, sockets, cores, sizes, **kwargs)


_M5_SIZES = {"large": 1, "xlarge": 2, "2xlarge": 4, "4xlarge": 8, "8xlarge": 16, "12xlarge": 24, "16xlarge": 32,
             "24xlarge": 48, "metal": 48}
_X6I_SIZES = {"large": 1, "xlarge": 2, "2xlarge": 4, "4xlarge": 8, "8xlarge": 16, "12xlarge": 24, "16xlarge": 32,
              "24xlarge": 48, "32xlarge": 64, "metal": 64}

FAMILIES = {
    "m5": _spec("m5", 2, 48, _M5_SIZES),
    "r5": _spec("r5", 2, 48, _M5_SIZES),
    # c5.12xlarge, c5.24xlarge and c5.metal appear in no source: a c5 host is 36 cores.
    "c5": _spec("c5", 2, 36, {"large": 1, "xlarge": 2, "2xlarge": 4, "4xlarge": 8, "9xlarge": 18, "18xlarge": 36}),
    "m6i": _spec("m6i", 2, 64, _X6I_SIZES),
    "c6i": _spec("c6i", 2, 64, _X6I_SIZES),
    "r6i": _spec("r6i", 2, 64, _X6I_SIZES),
    # T3: 48 cores, up to 192 instances; sizes weigh slots, not cores.
    "t3": _spec("t3", 1, 48, {"nano": 1, "micro": 1, "small": 1, "medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8},
                slots=T3_SLOTS),
    # A1: 16 cores (one vCPU per core); a multi-type A1 host mixes only xlarge and 2xlarge.
    "a1": _spec("a1", 1, 16, {"medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16},
                mixable=("xlarge", "2xlarge")),
}


def split_type(instance_type: str) -> Tuple[str, Optional[str]]:
    """``"m5.4xlarge"`` -> ``("m5", "4xlarge")``; a value without a dot gives ``(value, None)``."""
    if not instance_type or "." not in instance_type:
        return instance_type, None
    family, size = instance_type.split(".", 1)
    return family, size


def family_spec(family: Optional[str]) -> Optional[FamilySpec]:
    return FAMILIES.get(family)


def supports_multiple_types(instance_type: str) -> bool:
    """Whether a host allocated for this type's family (InstanceFamily) can run the type among others."""
    family, size = split_type(instance_type)
    if family not in MULTI_TYPE_FAMILIES:
        return False
    spec = FAMILIES.get(family)
    if spec is not None and spec.mixable is not None and size not in spec.mixable:
        return False
    return True


def size_rank(instance_type: str) -> int:
    """A number that orders sizes of one family from small to large (cores or slots when known)."""
    family, size = split_type(instance_type)
    spec = FAMILIES.get(family)
    if spec is not None and size in spec.sizes:
        return spec.sizes[size] * 16
    if size in _SIZE_RANK:
        return _SIZE_RANK[size]
    match = _SIZE_RE.match(size or "")
    if match:
        return 16 * int(match.group(1))
    if size == "metal" or (size or "").startswith("metal"):
        return 1 << 20
    return 0


def reported_capacity(host: Mapping[str, Any]) -> Optional[Dict[str, int]]:
    """``{instance type: AvailableCapacity}`` from a DescribeHosts entry, or None when EC2 reported none.

    Sizes missing from a reported list count as 0: AWS lists the sizes that still have room.
    """
    entries = (host.get("AvailableCapacity") or {}).get("AvailableInstanceCapacity")
    if not entries:
        return None
    return dict((entry["InstanceType"], int(entry.get("AvailableCapacity", 0))) for entry in entries)


def reported_totals(host: Mapping[str, Any]) -> Dict[str, int]:
    entries = (host.get("AvailableCapacity") or {}).get("AvailableInstanceCapacity") or []
    return dict((entry["InstanceType"], int(entry.get("TotalCapacity", 0))) for entry in entries)


def reconstruct_sockets(spec: FamilySpec, instance_types: Iterable[str]) -> Tuple[List[int], List[str]]:
    """Free cores per socket after placing ``instance_types`` best-fit decreasing, and those that did not fit.

    Returns ``(free, misfits)``; the instances an AWS host lists all consume capacity, so a misfit means
    the model cannot reproduce the host's occupancy.
    """
    free = [spec.cores_per_socket] * spec.sockets
    misfits = []
    for instance_type in sorted(instance_types, key=lambda value: (-size_rank(value), value)):
        size = split_type(instance_type)[1]
        if size not in spec.sizes:
            misfits.append(instance_type)
            continue
        if not _take_cores(free, spec.sizes[size], spec.cores_per_socket):
            misfits.append(instance_type)
    return free, misfits


def _take_cores(free, need, per_socket):
    """Take ``need`` cores from the sockets (best fit); False, unchanged, when they do not fit."""
    if need <= per_socket:
        candidates = [index for index, cores in enumerate(free) if cores >= need]
        if not candidates:
            return False
        best = min(candidates, key=lambda index: (free[index], index))
        free[best] -= need
        return True
    # Bigger than a socket: only on an empty host; it fills whole sockets in order.
    if any(cores != per_socket for cores in free):
        return False
    remaining = need
    for index in range(len(free)):
        used = min(remaining, free[index])
        free[index] -= used
        remaining -= used
    return remaining == 0


def model_available(spec: FamilySpec, free: Sequence[int], empty: bool, slots_free: Optional[int] = None) -> Dict[str, int]:
    """The model's AvailableCapacity per size for a host in the given state (``{size: count}``)."""
    result = {}
    for size, need in spec.sizes.items():
        if spec.slots:
            count = min(slots_free // need, spec.max_count(size))
        elif need <= spec.cores_per_socket:
            count = min(sum(cores // need for cores in free), spec.max_count(size))
        else:
            count = spec.max_count(size) if empty else 0
        result[size] = count
    return result


class HostCapacity:
    """One host's room while a plan is packed: ``fits`` / ``place`` instances of a type.

    Modes: ``cores`` (per-socket model), ``slots`` (T3), ``reported`` (one size per host, up to the
    reported count: single-type hosts, families without data, hosts the model cannot reproduce).
    """

    def __init__(self, host_id: str, family: Optional[str], mode: str, instance_type: Optional[str] = None,
                 spec: Optional[FamilySpec] = None, free: Optional[List[int]] = None, slots_free: Optional[int] = None,
                 empty: bool = True, reported: Optional[Mapping[str, int]] = None, source: str = "pool",
                 config: Optional[Mapping[str, str]] = None, notes: Optional[List[str]] = None) -> None:
        self.host_id = host_id
        self.family = family
        self.mode = mode
        self.instance_type = instance_type
        self.spec = spec
        self.free = list(free) if free is not None else None
        self.slots_free = slots_free
        self.empty = empty
        self.reported = reported
        self.source = source
        self.config = config
        self.notes = list(notes or [])
        self.planned = {}

    def __repr__(self):
        return f"HostCapacity({self.host_id}, {self.family}, {self.mode}, planned={self.planned!r})"

    @property
    def planned_count(self) -> int:
        return sum(self.planned.values())

    def why_not(self, instance_type: str) -> Optional[str]:
        """None when one more ``instance_type`` fits, else the reason it does not."""
        family, size = split_type(instance_type)
        if family != self.family:
            return f"host {self.host_id} is a {self.family} host"
        if self.instance_type is not None and instance_type != self.instance_type:
            return f"host {self.host_id} runs only {self.instance_type}"
        if self.reported is not None and self.planned.get(instance_type, 0) + 1 > self.reported.get(instance_type, 0):
            return f"host {self.host_id} reports room for {self.reported.get(instance_type, 0)} {instance_type}"
        if self.mode == "reported":
            other = [value for value in self.planned if value != instance_type]
            if other:
                return f"host {self.host_id} is not modelled and already takes {other[0]}"
            if self.reported is None:
                return f"host {self.host_id} reports no capacity"
            return None
        spec = self.spec
        if size not in spec.sizes:
            return f"{instance_type} is not a size the model knows for {self.family} hosts"
        if spec.mixable is not None and size not in spec.mixable:
            return f"a multi-type {self.family} host mixes only {', '.join(sorted(spec.mixable))}"
        need = spec.sizes[size]
        if self.mode == "slots":
            if need > self.slots_free:
                return f"host {self.host_id} has {self.slots_free} of {spec.slots} slots free, {instance_type} needs {need}"
            return None
        if need > spec.cores_per_socket:
            if not self.empty or any(cores != spec.cores_per_socket for cores in self.free):
                return f"{instance_type} needs a whole empty host ({need} cores, a socket has {spec.cores_per_socket})"
            return None
        if not any(cores >= need for cores in self.free):
            free = "/".join(str(cores) for cores in self.free)
            return f"no socket of host {self.host_id} has {need} free cores (free per socket: {free})"
        return None

    def fits(self, instance_type: str) -> bool:
        return self.why_not(instance_type) is None

    def place(self, instance_type: str) -> None:
        reason = self.why_not(instance_type)
        if reason is not None:
            raise ValueError(reason)
        size = split_type(instance_type)[1]
        if self.mode == "cores":
            _take_cores(self.free, self.spec.sizes[size], self.spec.cores_per_socket)
        elif self.mode == "slots":
            self.slots_free -= self.spec.sizes[size]
        self.planned[instance_type] = self.planned.get(instance_type, 0) + 1
        self.empty = False

    def available(self) -> Dict[str, int]:
        """What the host can still take, per instance type, in its current planned state."""
        if self.mode == "reported":
            if not self.reported:
                return {}
            if self.planned:
                only = next(iter(self.planned))
                return {only: max(self.reported.get(only, 0) - self.planned[only], 0)}
            return dict(self.reported)
        sizes = model_available(self.spec, self.free or [], self.empty, self.slots_free)
        result = {}
        for size, count in sizes.items():
            instance_type = f"{self.family}.{size}"
            if self.spec.mixable is not None and size not in self.spec.mixable:
                continue
            if self.reported is not None:
                count = min(count, self.reported.get(instance_type, 0) - self.planned.get(instance_type, 0))
            result[instance_type] = max(count, 0)
        return result


def host_family(host: Mapping[str, Any]) -> Optional[str]:
    """The instance family of a DescribeHosts entry (single-type hosts name only their type); None if unknown."""
    properties = host.get("HostProperties") or {}
    return properties.get("InstanceFamily") or split_type(properties.get("InstanceType") or "")[0] or None


def host_capacity(host: Mapping[str, Any], source: str = "pool") -> HostCapacity:
    """A HostCapacity for a DescribeHosts entry: occupancy rebuilt from ``Instances``, bounded by what EC2 reports."""
    properties = host.get("HostProperties") or {}
    family = host_family(host)
    # HostProperties.InstanceType is omitted when the host allows several types.
    single_type = properties.get("InstanceType") if host.get("AllowsMultipleInstanceTypes") != "on" else None
    reported = reported_capacity(host)
    present = [entry.get("InstanceType") for entry in host.get("Instances") or []]
    spec = FAMILIES.get(family)
    common = dict(host_id=host["HostId"], family=family, reported=reported, source=source, empty=not present)
    if single_type or spec is None:
        if reported is None and spec is not None and single_type:
            # No report: the model's count for the type, less the instances the host lists.
            size = split_type(single_type)[1]
            reported = {single_type: max(spec.max_count(size) - present.count(single_type), 0)}
            common["reported"] = reported
        return HostCapacity(mode="reported", instance_type=single_type, spec=spec, **common)
    if spec.slots:
        used = sum(spec.sizes.get(split_type(value)[1], spec.slots) for value in present)
        return HostCapacity(mode="slots", spec=spec, slots_free=max(spec.slots - used, 0), **common)
    free, misfits = reconstruct_sockets(spec, present)
    if misfits:
        note = f"the per-socket model cannot place {', '.join(misfits)} next to the other instances; planning by the reported capacity"
        return HostCapacity(mode="reported", spec=spec, notes=[note], **common)
    return HostCapacity(mode="cores", spec=spec, free=free, **common)


def new_host_config(instance_type: str) -> Dict[str, str]:
    """The AllocateHosts parameters a new host for this type needs: InstanceFamily when the family mixes sizes."""
    if supports_multiple_types(instance_type):
        return {"InstanceFamily": split_type(instance_type)[0]}
    return {"InstanceType": instance_type}


def config_key(config: Mapping[str, str]) -> Optional[str]:
    return config.get("InstanceFamily") or config.get("InstanceType")


def new_host_capacity(host_id: str, config: Mapping[str, str], template: Optional[Mapping[str, Any]] = None,
                      first_type: Optional[str] = None) -> HostCapacity:
    """An empty host as AllocateHosts would give it; ``template`` (the failed host) supplies data the model lacks.

    ``first_type`` is the type the host is opened for: an empty host always takes one of its own family.
    """
    family = config.get("InstanceFamily") or split_type(config["InstanceType"])[0]
    spec = FAMILIES.get(family)
    common = dict(host_id=host_id, family=family, source="allocated", config=dict(config), empty=True)
    if config.get("InstanceType"):
        instance_type = config["InstanceType"]
        count = _empty_count(instance_type, spec, template)
        return HostCapacity(mode="reported", instance_type=instance_type, spec=spec, reported={instance_type: count}, **common)
    if spec is None:
        totals = reported_totals(template) if template and host_family(template) == family else {}
        if not totals and first_type:
            # Without data, count on one instance per host: an empty host takes any size of its family.
            totals = {first_type: 1}
        return HostCapacity(mode="reported", reported=totals or None, notes=[f"no capacity data for {family}"], **common)
    if spec.slots:
        return HostCapacity(mode="slots", spec=spec, slots_free=spec.slots, **common)
    return HostCapacity(mode="cores", spec=spec, free=[spec.cores_per_socket] * spec.sockets, **common)


def _empty_count(instance_type, spec, template):
    size = split_type(instance_type)[1]
    if spec is not None and size in spec.sizes:
        return spec.max_count(size)
    if template:
        total = reported_totals(template).get(instance_type)
        if total:
            return total
    return 1


def _reason_none_fits(instance_type, hosts):
    if not hosts:
        return "no pool host in the availability zone"
    reasons = [host.why_not(instance_type) for host in hosts]
    return f"no room on {'; '.join(reason for reason in reasons if reason)}"


# Existing hosts are filled in this order of their source: hosts the operator named, pool hosts, then the others.
FILL_ORDER = {"target": 0, "pool": 1}


def pack(instances: Sequence[Mapping[str, Any]], hosts: Sequence[HostCapacity], max_new_hosts: int = 0,
         no_new_hosts_reason: Optional[str] = None, template: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Place instances on hosts: larger sizes first; named target hosts, pool hosts (each by host id), other existing
    hosts, then new hosts.

    ``instances``: list of ``{"instance_id", "instance_type"}``. ``hosts``: HostCapacity objects (their
    planned state is updated). New hosts are opened on demand, at most ``max_new_hosts``, with ids
    ``new-1``, ``new-2``...; ``no_new_hosts_reason`` explains why none may be opened (for the report).
    Returns ``{"placements": [{instance_id, instance_type, target_host_id, target_source}],
    "new_hosts": [HostCapacity], "unplaced": [{instance_id, instance_type, reason}]}``.
    """
    existing = sorted(hosts, key=lambda host: (FILL_ORDER.get(host.source, len(FILL_ORDER)), host.host_id))
    new_hosts = []
    placements = []
    unplaced = []
    ordered = sorted(instances, key=lambda entry: (-size_rank(entry["instance_type"]), entry["instance_type"],
                                                   entry["instance_id"]))
    for entry in ordered:
        instance_type = entry["instance_type"]
        target = None
        for host in existing + new_hosts:
            if host.fits(instance_type):
                target = host
                break
        if target is None:
            why = _reason_none_fits(instance_type, existing)
            if len(new_hosts) >= max_new_hosts:
                if no_new_hosts_reason:
                    why += f"; {no_new_hosts_reason}"
                elif max_new_hosts:
                    why += f"; the {max_new_hosts} new host(s) max_new_hosts allows are full"
                unplaced.append({"instance_id": entry["instance_id"], "instance_type": instance_type, "reason": why})
                continue
            candidate = new_host_capacity(f"new-{len(new_hosts) + 1}", new_host_config(instance_type), template,
                                          first_type=instance_type)
            reason = candidate.why_not(instance_type)
            if reason is not None:
                unplaced.append({"instance_id": entry["instance_id"], "instance_type": instance_type,
                                 "reason": f"{why}; it does not fit an empty host either: {reason}"})
                continue
            new_hosts.append(candidate)
            target = candidate
        target.place(instance_type)
        placements.append({
            "instance_id": entry["instance_id"],
            "instance_type": instance_type,
            "target_host_id": target.host_id,
            "target_source": target.source,
        })
    placements.sort(key=lambda item: item["instance_id"])
    return {"placements": placements, "new_hosts": new_hosts, "unplaced": unplaced}
