"""Scenario loader: builds hosts, instances and faults from a YAML/dict description."""

from . import capacity, ec2_hosts, preflight_sim
from .documents import read_mapping
from .faults import FAULTS
from .state import SIM
from .throttle import THROTTLE

DEFAULT_AMI = "ami-12c6146b"
HOST_KEYS = {"name", "availability_zone", "instance_family", "instance_type", "state", "auto_placement", "host_recovery",
             "host_maintenance", "tags", "count", "allocation_time", "reservation_id",
             "available_after"}
INSTANCE_KEYS = {"name", "host", "instance_type", "count", "state", "affinity", "hang_on_stop", "disable_api_stop", "platform",
                 "tags", "availability_zone", "image_id", "stop_latency", "start_latency", "force_latency", "events",
                 "system_status", "instance_status", "tenancy", "root_device", "asg", "host_resource_group",
                 "license_configuration", "public_ip", "impaired_since"}
TOP_KEYS = {"region", "time_scale", "latency", "seed", "hosts", "instances", "faults", "quotas", "default_quota", "name", "description",
            "ec2_rate_limits"}


class ScenarioError(ValueError):
    """A scenario that cannot be built."""


def read(source):
    """Parse a scenario from a path, YAML text or dict."""
    return read_mapping(source, ScenarioError, "a scenario")


def _on_off(value, default):
    if value is None:
        return default
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


def _check_keys(kind, item, allowed):
    unknown = set(item) - allowed
    if unknown:
        raise ScenarioError("unknown %s keys: %s (allowed: %s)" % (kind, ", ".join(sorted(unknown)), ", ".join(sorted(allowed))))


def _names(item, default):
    name = item.get("name") or default
    count = item.get("count")
    if count is None:
        return [name]
    return ["%s-%d" % (name, index) for index in range(int(count))]


def load(source):
    """Build a scenario into the moto backends; returns {"hosts": {name: id}, "instances": {name: id}}."""
    data = read(source)
    _check_keys("scenario", data, TOP_KEYS)
    region = data.get("region") or SIM.region
    with SIM.lock:
        SIM.configure(time_scale=data.get("time_scale"), latency=data.get("latency"), seed=data.get("seed"))
        if data.get("default_quota") is not None:
            SIM.default_quota = int(data["default_quota"])
        for family, limit in (data.get("quotas") or {}).items():
            SIM.quotas[family] = int(limit)
        _rate_limits(data.get("ec2_rate_limits"))
        backend = ec2_hosts.backend_for(region)
        zones = [z.name for z in backend.describe_availability_zones()]
        hosts = {}
        for index, item in enumerate(data.get("hosts") or []):
            _check_keys("host", item, HOST_KEYS)
            zone = item.get("availability_zone") or zones[0]
            if zone not in zones:
                raise ScenarioError("host %r: unknown availability zone %s" % (item.get("name"), zone))
            itype, family = item.get("instance_type"), item.get("instance_family")
            if bool(itype) == bool(family):
                raise ScenarioError("host %r: give exactly one of instance_type and instance_family" % item.get("name"))
            if itype and not capacity.is_known_type(itype):
                raise ScenarioError("host %r: unknown instance type %s" % (item.get("name"), itype))
            if family and (capacity.family_info(family) is None or not capacity.family_info(family)["multi"]):
                raise ScenarioError("host %r: family %s does not support multiple instance types" % (item.get("name"), family))
            for name in _names(item, "host%d" % index):
                host = ec2_hosts.create_host(
                    backend, zone, itype, family, _on_off(item.get("auto_placement"), "off"), _on_off(item.get("host_recovery"), "off"),
                    _on_off(item.get("host_maintenance"), "on"), {str(k): str(v) for k, v in (item.get("tags") or {}).items()},
                    state=item.get("state") or "available")
                if item.get("allocation_time") is not None:
                    ec2_hosts.host_meta(host)["allocation_time"] = _moment("host %r: allocation_time" % name, item["allocation_time"])
                ec2_hosts.host_meta(host)["reservation_id"] = item.get("reservation_id")  # DescribeHosts HostReservationId
                if item.get("available_after") is not None:
                    try:
                        ec2_hosts.set_available_after(host, item["available_after"])
                    except (ValueError, TypeError) as exc:
                        raise ScenarioError("host %r: available_after: %s" % (name, exc)) from exc
                hosts[name] = host.id
                SIM.names["hosts"][name] = host.id
        instances = {}
        for index, item in enumerate(data.get("instances") or []):
            _check_keys("instance", item, INSTANCE_KEYS)
            for name in _names(item, "instance%d" % index):
                instances[name] = _create_instance(backend, region, zones, hosts, name, item).id
                SIM.names["instances"][name] = instances[name]
        for item in data.get("faults") or []:
            spec = dict(item)
            ref = spec.pop("instance_id_name", None) or spec.pop("instance", None)
            if ref:
                if ref not in instances:
                    raise ScenarioError("fault refers to unknown instance name %r" % ref)
                spec["instance_id"] = instances[ref]
            FAULTS.add(**spec)
    return {"hosts": hosts, "instances": instances}


def _moment(what, value):
    try:
        return ec2_hosts.parse_moment(value)
    except ValueError as exc:
        raise ScenarioError("%s must be an ISO 8601 time or a number of seconds ago: %s" % (what, exc)) from exc


def _rate_limits(value):
    """ec2_rate_limits: true | false | {enabled, requests: {action: [max, refill]}, resources: {...}}."""
    if value is None:
        return
    if isinstance(value, bool):
        THROTTLE.configure(enabled=value, reset_buckets=True)
        return
    if not isinstance(value, dict):
        raise ScenarioError("ec2_rate_limits must be true, false or a mapping")
    _check_keys("ec2_rate_limits", value, {"enabled", "requests", "resources"})
    THROTTLE.configure(enabled=value.get("enabled", True), requests=value.get("requests"), resources=value.get("resources"),
                       reset_buckets=True)


def _create_instance(backend, region, zones, hosts, name, item):
    itype = item.get("instance_type") or "m5.large"
    host = None
    if item.get("host"):
        if item["host"] not in hosts:
            raise ScenarioError("instance %r: unknown host %r" % (name, item["host"]))
        host = backend.hosts[hosts[item["host"]]]
        if not ec2_hosts.host_supports(host, itype):
            raise ScenarioError("instance %r: host %s does not support %s" % (name, item["host"], itype))
    zone = host.zone if host else (item.get("availability_zone") or zones[0])
    state = item.get("state") or "running"
    if state not in ("running", "stopped", "stopping", "pending"):
        raise ScenarioError("instance %r: state must be running, stopped, stopping or pending" % name)
    if host is not None and state in ("running", "stopping", "pending") and not ec2_hosts.host_fits(backend, host, [itype]):
        raise ScenarioError("instance %r: host %s has no capacity left for %s" % (name, item["host"], itype))
    tags = {str(k): str(v) for k, v in (item.get("tags") or {}).items()}
    tags.setdefault("Name", name)
    preflight_sim.creation_tags(item, tags)
    reservation = backend.run_instances(
        item.get("image_id") or DEFAULT_AMI, 1, None, [], instance_type=itype, is_instance_type_default=False, placement=zone,
        region_name=region, tags={"instance": tags}, disable_api_stop=bool(item.get("disable_api_stop")))
    instance = reservation.instances[0]
    meta = ec2_hosts.inst_meta(instance)
    meta["name"] = name
    meta["hang_on_stop"] = bool(item.get("hang_on_stop"))
    for key in ("stop_latency", "start_latency", "force_latency", "system_status", "instance_status"):
        if item.get(key) is not None:
            meta[key] = item[key]
    if item.get("impaired_since") is not None:
        meta["impaired_since"] = _moment("instance %r: impaired_since" % name, item["impaired_since"])
    if host is not None:
        instance.placement.host_id = host.id
        instance.placement.tenancy = "host"
        instance.placement.affinity = item.get("affinity") or "host"
    elif item.get("tenancy"):
        instance.placement.tenancy = item["tenancy"]
    # moto's default AMI is a Windows image; a scenario instance is Linux unless it says ``platform: windows``.
    instance.platform = item.get("platform") or None
    if item.get("events"):
        ec2_hosts.set_instance_events(instance, item["events"])
    try:
        preflight_sim.apply(instance, item)
    except ValueError as error:
        raise ScenarioError("instance %r: %s" % (name, error))
    if state == "stopped":
        ec2_hosts.Instance.stop(instance)
    elif state in ("stopping", "pending"):
        preflight_sim.start_transition(instance, state)
    return instance
