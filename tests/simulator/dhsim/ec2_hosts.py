"""EC2 Dedicated Host and instance behaviour added to moto's EC2 backend and response classes."""

import base64
import copy
import datetime
import fnmatch
import re
import time

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.ec2.models.hosts import Host
from moto.ec2.models.instances import Instance, InstancePlacement
from moto.ec2.responses import EC2Response
from moto.ec2 import utils as ec2_utils
from werkzeug.exceptions import HTTPException

from . import capacity
from .state import SIM, DEFAULT_ACCOUNT

HOST_STATES = ("available", "under-assessment", "permanent-failure", "released", "released-permanent-failure", "pending")
FAILED_HOST_STATES = ("under-assessment", "permanent-failure")
RELEASED_STATES = ("released", "released-permanent-failure")
CONSUMING_STATES = ("pending", "running", "stopping", "shutting-down")
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
EVENT_CODES = ("instance-reboot", "system-reboot", "system-maintenance", "instance-retirement", "instance-stop")
HOST_FILTERS = ("auto-placement", "availability-zone", "client-token", "host-reservation-id", "instance-type", "state", "tag-key")
STATUS_FILTERS = ("availability-zone", "event.code", "event.description", "event.instance-event-id", "instance-state-code",
                  "instance-state-name", "instance-status.status", "instance-status.reachability", "system-status.status",
                  "system-status.reachability")
HOST_ID_RE = re.compile(r"^h-([0-9a-f]{8}|[0-9a-f]{17})$")

_ORIGINAL = {}


class SimServerError(HTTPException):
    """An EC2 server-side error (HTTP 5xx) in EC2's XML error format."""

    def __init__(self, code, message, status=500):
        super().__init__()
        self.code = status
        self.error_code = code
        self.description = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code><Message>%s</Message>'
                            '</Error></Errors><RequestID>%s</RequestID></Response>' % (code, message, int(time.time() * 1000)))

    def get_headers(self, *args, **kwargs):
        return [("Content-Type", "text/xml")]


def client_error(code, message):
    """An EC2 client error (HTTP 400)."""
    return EC2ClientError(code, message)


def host_state_error(host_id, state, what="complete the operation"):
    """InvalidHostState for a host that is not available."""
    return client_error("InvalidHostState", "The Dedicated Host %s must be in the available state to %s (it is %s)." % (host_id, what, state))


def no_room_error(host_id, what="launch or start the instance"):
    """InsufficientCapacityOnHost for a full host."""
    return client_error("InsufficientCapacityOnHost", "There is not enough capacity on the Dedicated Host %s to %s." % (host_id, what))


def zone_error(zone, host):
    """ZonesMismatched between an instance and a host."""
    return client_error("ZonesMismatched", "The Availability Zone for the instance (%s) does not match that of the Dedicated Host %s (%s)."
                        % (zone, host.id, host.zone))


def type_error(instance_type, host_id):
    """UnsupportedInstanceTypeOnHost."""
    return client_error("UnsupportedInstanceTypeOnHost", "The instance type %s is not supported on Dedicated Host %s." % (instance_type, host_id))


def now_utc():
    """Timezone-aware now."""
    return datetime.datetime.now(datetime.timezone.utc)


# --------------------------------------------------------------------------- per-object metadata

def host_meta(host):
    """Simulator data kept on a moto Host."""
    meta = getattr(host, "_dhsim", None)
    if meta is None:
        meta = {"host_maintenance": "on", "client_token": None, "release_time": None, "pending_until": None,
                "allocation_time": now_utc(), "name": None, "reservation_id": None}
        host._dhsim = meta
    return meta


def inst_meta(instance):
    """Simulator data kept on a moto Instance."""
    meta = getattr(instance, "_dhsim", None)
    if meta is None:
        meta = {"hang_on_stop": False, "stop_latency": None, "start_latency": None, "force_latency": None,
                "deadline": None, "target": None, "events": [], "system_status": None, "instance_status": None,
                "impaired_since": None, "impaired_seen": None, "name": None}
        instance._dhsim = meta
    return meta


def _truthy(value):
    return value is True or str(value).lower() == "true"


def host_family(host):
    """Instance family of a host."""
    if host.instance_family:
        return host.instance_family
    return capacity.split_type(host.instance_type)[0]


def host_supports(host, instance_type):
    """True when the host accepts this instance type."""
    if host.instance_type:
        return host.instance_type == instance_type
    family, size = capacity.split_type(instance_type)
    return family == host.instance_family and size in capacity.supported_sizes(family)


def set_state(instance, name):
    """Set an instance's state name and code."""
    instance._state.name = name
    instance._state.code = STATE_CODES[name]


# --------------------------------------------------------------------------- lookups

def iter_backends():
    """All EC2 backends the simulator has seen."""
    return list(SIM.backends)


def backend_for(region=None, account=DEFAULT_ACCOUNT):
    """The EC2 backend of a region (registered for deadline processing)."""
    backend = ec2_backends[account][region or SIM.region]
    SIM.register_backend(backend)
    return backend


def host_instances(backend, host_id, consuming_only=True):
    """Instances placed on or targeting a host."""
    result = []
    for instance in backend.all_instances():
        if instance.placement.host_id != host_id:
            continue
        if consuming_only and instance.state not in CONSUMING_STATES:
            continue
        result.append(instance)
    return result


def get_host(backend, host_id):
    """Find a host or raise the EC2 error AWS gives."""
    if not host_id or not HOST_ID_RE.match(host_id):
        raise client_error("InvalidHostID.Malformed", 'Invalid id: "%s" (expecting "h-...")' % host_id)
    host = backend.hosts.get(host_id)
    if host is None:
        raise client_error("InvalidHostID.NotFound", "The Dedicated Host ID '%s' does not exist" % host_id)
    return host


def find_host_anywhere(host_id):
    """(backend, host) for a host id in any known backend, or (None, None)."""
    for backend in iter_backends():
        if host_id in backend.hosts:
            return backend, backend.hosts[host_id]
    return None, None


def find_instance_anywhere(instance_id):
    """(backend, instance) for an instance id in any known backend, or (None, None)."""
    for backend in iter_backends():
        instance = backend.get_instance_by_id(instance_id)
        if instance is not None:
            return backend, instance
    return None, None


def host_capacity(backend, host, extra_types=()):
    """AvailableCapacity of a host (optionally as if extra instances were added)."""
    running = [i.instance_type for i in host_instances(backend, host.id)] + list(extra_types)
    return capacity.host_capacity(host_family(host), host.instance_type, running)


def host_fits(backend, host, new_types):
    """True when new instances of these types fit next to the host's current ones."""
    running = [i.instance_type for i in host_instances(backend, host.id)]
    return capacity.fits(host_family(host), running + list(new_types))


# --------------------------------------------------------------------------- deadlines

def tick():
    """Apply every state transition whose deadline has passed."""
    current = time.time()
    with SIM.lock:
        for backend in iter_backends():
            for host in list(backend.hosts.values()):
                meta = host_meta(host)
                if meta["pending_until"] is not None and meta["pending_until"] <= current:
                    meta["pending_until"] = None
                    if host.state == "pending":
                        host.state = "available"
            for instance in backend.all_instances():
                meta = getattr(instance, "_dhsim", None)
                if not meta or meta["deadline"] is None or meta["deadline"] > current:
                    continue
                target = meta["target"]
                meta["deadline"] = None
                meta["target"] = None
                if target == "stopped" and instance.state == "stopping":
                    _ORIGINAL["instance_stop"](instance)
                elif target == "running" and instance.state == "pending":
                    _ORIGINAL["instance_start"](instance)


# --------------------------------------------------------------------------- host creation and views

def create_host(backend, zone, instance_type=None, instance_family=None, auto_placement="off", host_recovery="off",
                host_maintenance="on", tags=None, state="available", client_token=None):
    """Create a host directly in the backend (no quota or token checks)."""
    if bool(instance_type) == bool(instance_family):
        raise ValueError("give exactly one of instance_type and instance_family")
    host = Host(host_recovery or "off", zone, instance_type, instance_family, auto_placement or "off", backend)
    host.auto_placement = auto_placement or "off"
    if instance_type:
        host.instance_family = None
    meta = host_meta(host)
    meta["host_maintenance"] = host_maintenance or "on"
    meta["client_token"] = client_token
    backend.hosts[host.id] = host
    if tags:
        host.add_tags(tags)
    set_host_state(host, state)
    SIM.register_backend(backend)
    return host


def set_host_state(host, state):
    """Move a host to any allocation state."""
    if state not in HOST_STATES:
        raise ValueError("unknown host state %r (known: %s)" % (state, ", ".join(HOST_STATES)))
    meta = host_meta(host)
    host.state = state
    meta["pending_until"] = None
    if state in RELEASED_STATES:
        meta["release_time"] = meta["release_time"] or now_utc()
    else:
        meta["release_time"] = None


def _zone_id(backend, zone):
    try:
        for item in backend.describe_availability_zones():
            if item.name == zone:
                return item.zone_id
    except Exception:  # pylint: disable=broad-except
        return None
    return None


def host_view(backend, host):
    """The DescribeHosts entry of a host."""
    meta = host_meta(host)
    family = host_family(host)
    info = capacity.family_info(family) or {"cores": 0, "sockets": 0, "vcpus": 0}
    props = {"Cores": info["cores"], "Sockets": info["sockets"], "TotalVCpus": info["vcpus"], "InstanceFamily": family}
    if host.instance_type:
        props["InstanceType"] = host.instance_type
    running = host_instances(backend, host.id)
    view = {
        "HostId": host.id,
        "State": host.state,
        "AvailabilityZone": host.zone,
        "AvailabilityZoneId": _zone_id(backend, host.zone),
        "AutoPlacement": host.auto_placement,
        "HostRecovery": host.host_recovery,
        "HostMaintenance": meta["host_maintenance"],
        "AllowsMultipleInstanceTypes": "off" if host.instance_type else "on",
        "HostProperties": props,
        "Instances": [{"InstanceId": i.id, "InstanceType": i.instance_type, "OwnerId": backend.account_id} for i in running],
        "AvailableCapacity": capacity.host_capacity(family, host.instance_type, [i.instance_type for i in running]),
        "AllocationTime": meta["allocation_time"],
        "OwnerId": backend.account_id,
        "MemberOfServiceLinkedResourceGroup": False,
        "Tags": [{"Key": t["key"], "Value": t["value"]} for t in host.get_tags()],
    }
    if meta["release_time"]:
        view["ReleaseTime"] = meta["release_time"]
    if meta["client_token"]:
        view["ClientToken"] = meta["client_token"]
    if meta["reservation_id"]:
        view["HostReservationId"] = meta["reservation_id"]
    return view


def _filter_match(value, patterns):
    if value is None:
        return False
    values = value if isinstance(value, (list, tuple, set)) else [value]
    return any(fnmatch.fnmatchcase(str(v), p) for v in values for p in patterns)


def _host_filter_value(host, name):
    meta = host_meta(host)
    return {
        "auto-placement": host.auto_placement,
        "availability-zone": host.zone,
        "client-token": meta["client_token"],
        "host-reservation-id": meta["reservation_id"],
        "instance-type": host.instance_type,
        "state": host.state,
        "tag-key": [t["key"] for t in host.get_tags()],
    }[name]


def _encode_token(offset):
    return base64.urlsafe_b64encode(("dhsim:%d" % offset).encode()).decode()


def _decode_token(token):
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, dummy, number = text.partition(":")
        if prefix != "dhsim":
            raise ValueError(token)
        return int(number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise client_error("InvalidPaginationToken", "The pagination token '%s' is invalid." % token) from exc


def _paginate(items, max_results, token, low, high):
    if max_results is None and token is None:
        return items, None
    if max_results is not None:
        max_results = int(max_results)
        if max_results < low or max_results > high:
            raise client_error("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d."
                               % (max_results, low, high))
    start = _decode_token(token) if token else 0
    size = max_results or high
    page = items[start:start + size]
    next_token = _encode_token(start + size) if start + size < len(items) else None
    return page, next_token


# --------------------------------------------------------------------------- response methods

def _register(self):
    SIM.register_backend(self.ec2_backend)
    tick()


def _check_on_off(name, value):
    if value is not None and value not in ("on", "off"):
        raise client_error("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected: 'on' | 'off'." % (value, name))


def _host_type_config(instance_type, instance_family):
    """Validate the type/family pair of AllocateHosts or ModifyHosts; returns the family."""
    if instance_type and instance_family:
        raise client_error("InvalidParameterCombination", "You cannot specify InstanceFamily and InstanceType in the same request.")
    if instance_type:
        if not capacity.is_known_type(instance_type):
            raise client_error("UnsupportedHostConfiguration", "The instance type '%s' is not supported on Dedicated Hosts in this simulator." % instance_type)
        return capacity.split_type(instance_type)[0]
    if instance_family:
        info = capacity.family_info(instance_family)
        if info is None or not info["multi"]:
            raise client_error("UnsupportedHostConfiguration",
                               "The instance family '%s' does not support multiple instance types on a Dedicated Host." % instance_family)
        return instance_family
    return None


def allocate_hosts(self):
    """AllocateHosts with type/family rules, defaults, idempotency and quota."""
    _register(self)
    backend = self.ec2_backend
    instance_type = self._get_param("InstanceType")
    instance_family = self._get_param("InstanceFamily")
    if not instance_type and not instance_family:
        raise client_error("MissingParameter", "The request must contain the parameter instanceType or instanceFamily.")
    family = _host_type_config(instance_type, instance_family)
    zone = self._get_param("AvailabilityZone")
    zone_id = self._get_param("AvailabilityZoneId")
    zones = {z.name: z.zone_id for z in backend.describe_availability_zones()}
    if not zone and zone_id:
        zone = next((name for name, zid in zones.items() if zid == zone_id), None)
        if zone is None:
            raise client_error("InvalidParameterValue", "Invalid availability zone id: [%s]" % zone_id)
    if not zone:
        raise client_error("MissingParameter", "The request must contain the parameter availabilityZone.")
    if zone not in zones:
        raise client_error("InvalidParameterValue", "Invalid availability zone: [%s]" % zone)
    asset_ids = self._get_param("AssetIds", [])
    quantity = self._get_int_param("Quantity")
    if quantity is None:
        quantity = len(asset_ids) or None
    if quantity is None:
        raise client_error("MissingParameter", "The request must contain the parameter quantity.")
    if quantity < 1:
        raise client_error("InvalidParameterValue", "Value (%s) for parameter quantity is invalid. Expected a positive integer." % quantity)
    auto_placement = self._get_param("AutoPlacement") or "off"
    host_recovery = self._get_param("HostRecovery") or "off"
    host_maintenance = self._get_param("HostMaintenance") or "on"
    for name, value in (("autoPlacement", auto_placement), ("hostRecovery", host_recovery), ("hostMaintenance", host_maintenance)):
        _check_on_off(name, value)
    tags = self._parse_tag_specification().get("dedicated-host", {})
    token = self._get_param("ClientToken")
    self.error_on_dryrun()
    fingerprint = repr((instance_type, instance_family, zone, quantity, auto_placement, host_recovery, host_maintenance, sorted(tags.items())))
    with SIM.lock:
        tokens = backend.__dict__.setdefault("_dhsim_tokens", {})
        if token and token in tokens:
            previous, host_ids = tokens[token]
            if previous != fingerprint:
                raise client_error("IdempotentParameterMismatch",
                                   "The client token '%s' was already used with different request parameters." % token)
            return ActionResult({"HostIds": list(host_ids)})
        in_use = [h for h in backend.hosts.values() if h.state not in RELEASED_STATES and host_family(h) == family]
        limit = SIM.quota_for(family)
        if len(in_use) + quantity > limit:
            raise client_error("HostLimitExceeded",
                               "You have requested more Dedicated Hosts than your current limit of %d for the %s family allows." % (limit, family))
        hosts = [create_host(backend, zone, instance_type, instance_family, auto_placement, host_recovery, host_maintenance,
                             tags, client_token=token) for dummy in range(quantity)]
        host_ids = [h.id for h in hosts]
        if token:
            tokens[token] = (fingerprint, host_ids)
    return ActionResult({"HostIds": host_ids})


def describe_hosts(self):
    """DescribeHosts with capacity, instances, filters and pagination."""
    _register(self)
    backend = self.ec2_backend
    host_ids = self._get_param("HostIds", [])
    max_results = self._get_param("MaxResults")
    token = self._get_param("NextToken")
    filters = self._filters_from_querystring()
    if host_ids and max_results is not None:
        raise client_error("InvalidParameterCombination", "The parameter hostSet cannot be used with the parameter maxResults")
    for name in filters:
        if name not in HOST_FILTERS:
            raise client_error("InvalidParameterValue", "The filter '%s' is invalid" % name)
    with SIM.lock:
        if host_ids:
            hosts = [get_host(backend, host_id) for host_id in host_ids]
        else:
            hosts = list(backend.hosts.values())
        for name, values in filters.items():
            hosts = [h for h in hosts if _filter_match(_host_filter_value(h, name), values)]
        page, next_token = _paginate(hosts, max_results, token, 5, 500)
        result = {"Hosts": [host_view(backend, h) for h in page]}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def _unsuccessful(host_id, code, message):
    return {"Error": {"Code": code, "Message": message}, "ResourceId": host_id}


def modify_hosts(self):
    """ModifyHosts with per-host Successful/Unsuccessful results."""
    _register(self)
    backend = self.ec2_backend
    host_ids = self._get_param("HostIds", [])
    auto_placement = self._get_param("AutoPlacement")
    host_recovery = self._get_param("HostRecovery")
    host_maintenance = self._get_param("HostMaintenance")
    instance_type = self._get_param("InstanceType")
    instance_family = self._get_param("InstanceFamily")
    for name, value in (("autoPlacement", auto_placement), ("hostRecovery", host_recovery), ("hostMaintenance", host_maintenance)):
        _check_on_off(name, value)
    new_family = _host_type_config(instance_type, instance_family)
    successful, unsuccessful = [], []
    with SIM.lock:
        for host_id in host_ids:
            host = backend.hosts.get(host_id)
            if not HOST_ID_RE.match(host_id or ""):
                unsuccessful.append(_unsuccessful(host_id, "InvalidHostID.Malformed", 'Invalid id: "%s"' % host_id))
                continue
            if host is None:
                unsuccessful.append(_unsuccessful(host_id, "InvalidHostID.NotFound", "The Dedicated Host ID '%s' does not exist" % host_id))
                continue
            if host.state in RELEASED_STATES:
                unsuccessful.append(_unsuccessful(host_id, "InvalidHostState", "The Dedicated Host %s is %s." % (host_id, host.state)))
                continue
            if new_family:
                problem = _type_change_problem(backend, host, new_family, instance_type, instance_family)
                if problem:
                    unsuccessful.append(_unsuccessful(host_id, problem[0], problem[1]))
                    continue
            if auto_placement is not None:
                host.auto_placement = auto_placement
            if host_recovery is not None:
                host.host_recovery = host_recovery
            if host_maintenance is not None:
                host_meta(host)["host_maintenance"] = host_maintenance
            if new_family:
                host.instance_type = instance_type or None
                host.instance_family = instance_family or None
                delay = SIM.draw("host_modify")
                if delay > 0 and host.state == "available":
                    host.state = "pending"
                    host_meta(host)["pending_until"] = time.time() + delay
            successful.append(host_id)
    return ActionResult({"Successful": successful, "Unsuccessful": unsuccessful})


def _type_change_problem(backend, host, new_family, instance_type, instance_family):
    if new_family != host_family(host):
        return ("InvalidParameterValue", "The instance family of Dedicated Host %s (%s) cannot be changed to %s." % (host.id, host_family(host), new_family))
    if host.state != "available":
        return ("InvalidHostState", "The Dedicated Host %s must be in the available state to change its instance type support." % host.id)
    running = host_instances(backend, host.id)
    if instance_family and host.instance_type and running:
        return ("InvalidHostState", "Stop all instances on Dedicated Host %s before it can support multiple instance types." % host.id)
    if instance_type and any(i.instance_type != instance_type for i in running):
        return ("InvalidHostState", "Dedicated Host %s has running instances of other types than %s." % (host.id, instance_type))
    return None


def release_hosts(self):
    """ReleaseHosts refusing hosts that still run instances."""
    _register(self)
    backend = self.ec2_backend
    host_ids = self._get_param("HostIds", [])
    successful, unsuccessful = [], []
    with SIM.lock:
        for host_id in host_ids:
            host = backend.hosts.get(host_id)
            if not HOST_ID_RE.match(host_id or ""):
                unsuccessful.append(_unsuccessful(host_id, "InvalidHostID.Malformed", 'Invalid id: "%s"' % host_id))
            elif host is None:
                unsuccessful.append(_unsuccessful(host_id, "InvalidHostID.NotFound", "The Dedicated Host ID '%s' does not exist" % host_id))
            elif host.state in RELEASED_STATES:
                unsuccessful.append(_unsuccessful(host_id, "InvalidHostState", "The Dedicated Host %s is already %s." % (host_id, host.state)))
            elif host_meta(host)["reservation_id"]:
                unsuccessful.append(_unsuccessful(
                    host_id, "InvalidHostState",
                    "Dedicated Host %s is associated with the Dedicated Host Reservation %s and cannot be released before "
                    "the reservation term ends." % (host_id, host_meta(host)["reservation_id"])))
            elif host_instances(backend, host_id):
                unsuccessful.append(_unsuccessful(
                    host_id, "InvalidHostState",
                    "Dedicated Host %s has running instances (%s); stop or terminate them before releasing it."
                    % (host_id, ", ".join(i.id for i in host_instances(backend, host_id)))))
            else:
                set_host_state(host, "released-permanent-failure" if host.state == "permanent-failure" else "released")
                successful.append(host_id)
    return ActionResult({"Successful": successful, "Unsuccessful": unsuccessful})


def _auto_place(backend, instance_type, zone, claims):
    """Pick an auto-placement host with room; returns (host, reason code)."""
    compatible = [h for h in backend.hosts.values()
                  if h.state == "available" and h.auto_placement == "on" and host_supports(h, instance_type) and (zone is None or h.zone == zone)]
    for host in compatible:
        if host_fits(backend, host, claims.get(host.id, []) + [instance_type]):
            return host, None
    return None, ("InsufficientCapacityOnHost" if compatible else "IncompatibleHostRequirements")


def _no_host_error(reason, instance_type):
    if reason == "InsufficientCapacityOnHost":
        return client_error("InsufficientCapacityOnHost",
                            "There is not enough capacity on the Dedicated Hosts with auto-placement on to launch or start %s." % instance_type)
    return client_error("IncompatibleHostRequirements",
                        "There are no available or compatible Dedicated Hosts available on which to launch or start the instance (%s)." % instance_type)


def _check_target_host(backend, host, instance_type, zone, new_types):
    if host.state != "available":
        raise host_state_error(host.id, host.state)
    if zone and host.zone != zone:
        raise zone_error(zone, host)
    if not host_supports(host, instance_type):
        raise type_error(instance_type, host.id)
    if not host_fits(backend, host, new_types):
        raise no_room_error(host.id)


def run_instances(self):
    """RunInstances honouring Placement HostId, Tenancy and Affinity."""
    _register(self)
    backend = self.ec2_backend
    placement = self._get_param("Placement") or {}
    host_id = placement.get("HostId")
    tenancy = placement.get("Tenancy")
    affinity = placement.get("Affinity")
    instance_type = self._get_param("InstanceType") or "m1.small"
    count = int(self._get_param("MinCount") or 1)
    if affinity is not None and affinity not in ("default", "host"):
        raise client_error("InvalidAffinity", "Affinity %s is invalid; expected default | host." % affinity)
    if host_id and tenancy not in (None, "host"):
        raise client_error("InvalidParameterCombination", "A Dedicated Host ID can only be used with tenancy 'host'.")
    if host_id or affinity:
        tenancy = tenancy or "host"
    if affinity and tenancy != "host":
        raise client_error("InvalidParameterCombination", "Affinity can only be set for instances with tenancy 'host'.")
    with SIM.lock:
        host = None
        if tenancy == "host":
            zone = placement.get("AvailabilityZone")
            subnet_id = self._get_param("SubnetId")
            if subnet_id:
                zone = backend.get_subnet(subnet_id).availability_zone
            if host_id:
                host = get_host(backend, host_id)
                _check_target_host(backend, host, instance_type, zone, [instance_type] * count)
            else:
                host, reason = _auto_place(backend, instance_type, zone, {})
                if host is None:
                    raise _no_host_error(reason, instance_type)
                if not host_fits(backend, host, [instance_type] * count):
                    raise client_error("InsufficientCapacityOnHost", "There is not enough capacity on Dedicated Host %s for %d instances." % (host.id, count))
            if not subnet_id:
                self.params.setdefault("Placement", {})["AvailabilityZone"] = host.zone
        result = _ORIGINAL["run_instances"](self)
        reservation = result.result
        for instance in reservation.instances:
            meta = inst_meta(instance)
            if host is not None:
                instance.placement.host_id = host.id
                instance.placement.tenancy = "host"
                instance.placement.affinity = affinity or "default"
            elif tenancy:
                instance.placement.tenancy = tenancy
            delay = SIM.draw("start")
            SIM.record_latency(instance.id, "launch", delay)
            set_state(instance, "pending")
            meta["target"] = "running"
            meta["deadline"] = time.time() + delay
    return result


def _state_dict(name):
    return {"Code": STATE_CODES[name], "Name": name}


def stop_instances(self):
    """StopInstances with stopping -> stopped after a drawn latency, Force and hang handling."""
    _register(self)
    backend = self.ec2_backend
    instance_ids = self._get_param("InstanceIds", [])
    force = _truthy(self._get_param("Force"))
    skip_os = _truthy(self._get_param("SkipOsShutdown"))
    self.error_on_dryrun()
    out = []
    with SIM.lock:
        instances = backend.get_multi_instances_by_id(instance_ids)
        for instance in instances:
            if _truthy(instance.disable_api_stop):
                raise client_error("OperationNotPermitted",
                                   "The instance '%s' may not be stopped. Modify its 'disableApiStop' instance attribute and try again." % instance.id)
            if instance.state in ("terminated", "shutting-down"):
                raise client_error("IncorrectInstanceState", "This instance '%s' is not in a state from which it can be stopped." % instance.id)
            if getattr(instance, "root_device_type", "ebs") == "instance-store":
                raise client_error("UnsupportedOperation",
                                   "The instance '%s' does not have an 'ebs' root device type and cannot be stopped." % instance.id)
        current = time.time()
        for instance in instances:
            meta = inst_meta(instance)
            previous = instance.state
            if previous in ("running", "pending"):
                set_state(instance, "stopping")
                meta["target"] = "stopped"
                if force or skip_os:
                    delay = SIM.draw("force_stop", meta["force_latency"])
                    SIM.record_latency(instance.id, "force_stop" if force else "skip_os_shutdown", delay)
                    meta["deadline"] = current + delay
                elif meta["hang_on_stop"]:
                    SIM.record_latency(instance.id, "stop", None, note="hangs until a forced stop")
                    meta["deadline"] = None
                else:
                    delay = SIM.draw("stop", meta["stop_latency"])
                    SIM.record_latency(instance.id, "stop", delay)
                    meta["deadline"] = current + delay
            elif previous == "stopping" and (force or skip_os):
                delay = SIM.draw("force_stop", meta["force_latency"])
                SIM.record_latency(instance.id, "force_stop" if force else "skip_os_shutdown", delay)
                if meta["deadline"] is None or meta["deadline"] > current + delay:
                    meta["deadline"] = current + delay
                    meta["target"] = "stopped"
            out.append({"InstanceId": instance.id, "CurrentState": _state_dict(instance.state), "PreviousState": _state_dict(previous)})
    return ActionResult({"StoppingInstances": out})


def _start_target(backend, instance, claims):
    """Choose the host a stopped host-tenancy instance starts on, checking capacity."""
    placement = instance.placement
    affinity = getattr(placement, "affinity", None) or "default"
    itype = instance.instance_type
    host = backend.hosts.get(placement.host_id) if placement.host_id else None
    usable = host is not None and host.state == "available" and host_supports(host, itype)
    if affinity == "host" and placement.host_id:
        if host is None or host.state != "available":
            state = host.state if host is not None else "unknown"
            raise host_state_error(placement.host_id, state, "start instance %s" % instance.id)
        if not usable:
            raise client_error("IncompatibleHostRequirements",
                               "Dedicated Host %s does not support instance type %s of instance %s." % (host.id, itype, instance.id))
        if not host_fits(backend, host, claims.get(host.id, []) + [itype]):
            raise no_room_error(host.id, "start the instance %s" % instance.id)
        return host
    if usable and host_fits(backend, host, claims.get(host.id, []) + [itype]):
        return host
    other, reason = _auto_place(backend, itype, placement.zone, claims)
    if other is not None:
        return other
    if usable:
        raise no_room_error(host.id, "start the instance %s" % instance.id)
    if host is not None and host.state != "available":
        raise host_state_error(host.id, host.state, "start instance %s" % instance.id)
    raise _no_host_error(reason, itype)


def start_instances(self):
    """StartInstances with capacity claimed at start time and stopped -> pending -> running."""
    _register(self)
    backend = self.ec2_backend
    instance_ids = self._get_param("InstanceIds", [])
    self.error_on_dryrun()
    out = []
    with SIM.lock:
        instances = backend.get_multi_instances_by_id(instance_ids)
        for instance in instances:
            if instance.state in ("stopping", "shutting-down", "terminated"):
                raise client_error("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be started." % instance.id)
        claims = {}
        targets = {}
        for instance in instances:
            if instance.state == "stopped" and instance.placement.tenancy == "host":
                host = _start_target(backend, instance, claims)
                claims.setdefault(host.id, []).append(instance.instance_type)
                targets[instance.id] = host
        current = time.time()
        for instance in instances:
            previous = instance.state
            if previous == "stopped":
                meta = inst_meta(instance)
                if instance.id in targets:
                    instance.placement.host_id = targets[instance.id].id
                set_state(instance, "pending")
                delay = SIM.draw("start", meta["start_latency"])
                SIM.record_latency(instance.id, "start", delay)
                meta["target"] = "running"
                meta["deadline"] = current + delay
            out.append({"InstanceId": instance.id, "CurrentState": _state_dict(instance.state), "PreviousState": _state_dict(previous)})
    return ActionResult({"StartingInstances": out})


def modify_instance_placement(self):
    """ModifyInstancePlacement (not in moto): affinity, host, tenancy, host resource group."""
    _register(self)
    backend = self.ec2_backend
    instance_id = self._get_param("InstanceId")
    affinity = self._get_param("Affinity")
    host_id = self._get_param("HostId")
    tenancy = self._get_param("Tenancy")
    group_arn = self._get_param("HostResourceGroupArn")
    group_name = self._get_param("GroupName")
    group_id = self._get_param("GroupId")
    partition = self._get_param("PartitionNumber")
    if not instance_id:
        raise client_error("MissingParameter", "The request must contain the parameter instanceId.")
    if not any(v is not None for v in (affinity, host_id, tenancy, group_arn, group_name, group_id, partition)):
        raise client_error("MissingParameter", "The request must contain at least one of affinity, hostId, tenancy, groupName or hostResourceGroupArn.")
    if affinity is not None and affinity not in ("default", "host"):
        raise client_error("InvalidAffinity", "Affinity %s is invalid; expected default | host." % affinity)
    with SIM.lock:
        instance = backend.get_instance(instance_id)
        placement = instance.placement
        needs_stopped = any(v is not None for v in (host_id, tenancy, group_name, group_id, partition, group_arn))
        if needs_stopped and instance.state != "stopped":
            raise client_error("InvalidInstanceState",
                               "The instance '%s' is not in the stopped state. To modify the host ID, tenancy, placement group or partition "
                               "of an instance, the instance must be in the stopped state (current state: %s)." % (instance_id, instance.state))
        new_tenancy = tenancy or placement.tenancy
        if placement.tenancy == "host" and tenancy in ("default", "dedicated"):
            raise client_error("InvalidRequest", "You can't change the tenancy of instance %s from host to %s." % (instance_id, tenancy))
        if host_id is not None:
            if tenancy not in (None, "host"):
                raise client_error("InvalidParameterCombination", "A Dedicated Host ID can only be used with tenancy 'host'.")
            new_tenancy = "host"
        if (group_name or group_id or partition is not None) and new_tenancy == "host":
            raise client_error("InvalidParameterCombination", "Placement groups are not supported for instances on Dedicated Hosts.")
        if group_arn and new_tenancy != "host":
            raise client_error("InvalidParameterCombination", "A host resource group requires tenancy 'host'.")
        if affinity == "host" and new_tenancy != "host":
            raise client_error("InvalidParameterCombination", "Affinity 'host' requires tenancy 'host'.")
        host = None
        if host_id is not None:
            host = get_host(backend, host_id)
            if host.state != "available":
                raise host_state_error(host_id, host.state)
            if host.zone != placement.zone:
                raise zone_error(placement.zone, host)
            if not host_supports(host, instance.instance_type):
                raise type_error(instance.instance_type, host_id)
        placement.tenancy = new_tenancy
        if host is not None:
            placement.host_id = host.id
        if affinity is not None:
            placement.affinity = affinity
        elif new_tenancy == "host" and getattr(placement, "affinity", None) is None:
            placement.affinity = "default"
        if group_arn:
            placement.host_resource_group_arn = group_arn
    return ActionResult({"Return": True})


def _status_block(status, impaired_since=None):
    if status == "not-applicable":
        return {"Status": "not-applicable"}
    detail = {"Name": "reachability", "Status": {"ok": "passed", "impaired": "failed"}.get(status, status)}
    if status == "impaired" and impaired_since:
        detail["ImpairedSince"] = impaired_since
    return {"Status": status, "Details": [detail]}


def instance_statuses(backend, instance):
    """(system status, instance status) of an instance."""
    meta = inst_meta(instance)
    if instance.state != "running":
        return "not-applicable", "not-applicable"
    system = meta["system_status"]
    if system is None:
        host = backend.hosts.get(instance.placement.host_id) if instance.placement.host_id else None
        system = "impaired" if host is not None and host.state in FAILED_HOST_STATES else "ok"
    return system, meta["instance_status"] or "ok"


def _impaired_since(meta, impaired):
    """The set ImpairedSince, else when the simulator first reported the instance impaired (kept, as EC2 keeps it)."""
    if not impaired:
        meta["impaired_seen"] = None
        return None
    if meta.get("impaired_seen") is None:
        meta["impaired_seen"] = now_utc()
    return meta["impaired_since"] or meta["impaired_seen"]


def _status_view(backend, instance):
    meta = inst_meta(instance)
    system, inst_status = instance_statuses(backend, instance)
    since = _impaired_since(meta, "impaired" in (system, inst_status))
    return {
        "InstanceId": instance.id,
        "AvailabilityZone": instance.placement.zone,
        "InstanceState": _state_dict(instance.state),
        "SystemStatus": _status_block(system, since),
        "InstanceStatus": _status_block(inst_status, since),
        "Events": [dict(e) for e in meta["events"]],
    }


def _status_filter_value(view, name):
    events = view["Events"]
    return {
        "availability-zone": view["AvailabilityZone"],
        "event.code": [e["Code"] for e in events],
        "event.description": [e.get("Description", "") for e in events],
        "event.instance-event-id": [e["InstanceEventId"] for e in events],
        "instance-state-code": str(view["InstanceState"]["Code"]),
        "instance-state-name": view["InstanceState"]["Name"],
        "instance-status.status": view["InstanceStatus"]["Status"],
        "instance-status.reachability": [d["Status"] for d in view["InstanceStatus"].get("Details", [])],
        "system-status.status": view["SystemStatus"]["Status"],
        "system-status.reachability": [d["Status"] for d in view["SystemStatus"].get("Details", [])],
    }[name]


def describe_instance_status(self):
    """DescribeInstanceStatus with host-derived system status and scheduled events."""
    _register(self)
    backend = self.ec2_backend
    instance_ids = self._get_param("InstanceIds", [])
    include_all = _truthy(self._get_param("IncludeAllInstances"))
    filters = self._filters_from_querystring()
    max_results = self._get_param("MaxResults")
    token = self._get_param("NextToken")
    if instance_ids and max_results is not None:
        raise client_error("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
    for name in filters:
        if name not in STATUS_FILTERS:
            raise client_error("InvalidParameterValue", "The filter '%s' is invalid" % name)
    with SIM.lock:
        instances = backend.get_multi_instances_by_id(instance_ids) if instance_ids else backend.all_instances()
        if not include_all:
            instances = [i for i in instances if i.state == "running"]
        views = [_status_view(backend, i) for i in instances]
        for name, values in filters.items():
            views = [v for v in views if _filter_match(_status_filter_value(v, name), values)]
        page, next_token = _paginate(views, max_results, token, 5, 1000)
    result = {"InstanceStatuses": page}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def set_instance_events(instance, events):
    """Replace an instance's scheduled events (list of dicts with code, description, not_before, not_after)."""
    meta = inst_meta(instance)
    converted = []
    for index, event in enumerate(events or []):
        code = event.get("code") or event.get("Code")
        if code not in EVENT_CODES:
            raise ValueError("unknown event code %r (known: %s)" % (code, ", ".join(EVENT_CODES)))
        not_before = _parse_time(event.get("not_before") or event.get("NotBefore")) or now_utc() + datetime.timedelta(days=14)
        not_after = _parse_time(event.get("not_after") or event.get("NotAfter")) or not_before + datetime.timedelta(hours=2)
        item = {
            "InstanceEventId": event.get("id") or "instance-event-%017x" % (abs(hash((instance.id, index, code))) % (16 ** 17)),
            "Code": code,
            "Description": event.get("description") or event.get("Description") or "The instance is scheduled for %s" % code.replace("-", " "),
            "NotBefore": not_before,
            "NotAfter": not_after,
        }
        deadline = _parse_time(event.get("not_before_deadline") or event.get("NotBeforeDeadline"))
        if deadline:
            item["NotBeforeDeadline"] = deadline
        converted.append(item)
    meta["events"] = converted
    return converted


def parse_moment(value):
    """A UTC datetime from an ISO 8601 time, or from a number of seconds ago (int, float or "N seconds ago")."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return now_utc() - datetime.timedelta(seconds=value)
    text = str(value).strip()
    if text.endswith("seconds ago"):
        return now_utc() - datetime.timedelta(seconds=float(text[:-len("seconds ago")]))
    return _parse_time(text)


def _replacement_like(backend, host, state="available"):
    """A host as AWS allocates to replace ``host``: same AZ, properties, settings and tags, allocated now."""
    return create_host(backend, host.zone, host.instance_type, None if host.instance_type else host.instance_family,
                       host.auto_placement, host.host_recovery, host_meta(host)["host_maintenance"],
                       {t["key"]: t["value"] for t in host.get_tags()}, state=state)


def set_available_after(host, seconds):
    """A ``pending`` host becomes ``available`` after ``seconds`` (wall time, not scaled), as tick() applies."""
    if host.state != "pending":
        raise ValueError("host %s is %s: only a pending host becomes available later" % (host.id, host.state))
    host_meta(host)["pending_until"] = time.time() + float(seconds)


def allocate_maintenance_replacement(backend, host, available_after=None):
    """What AWS host maintenance does first for a degraded host: a like replacement in ``pending``, which becomes
    ``available`` after ``available_after`` seconds (never, when None); the instances stay on the old host."""
    if host.state in RELEASED_STATES:
        raise ValueError("host %s is %s: there is nothing to replace" % (host.id, host.state))
    if host_meta(host)["host_maintenance"] != "on":
        raise ValueError("host %s has host maintenance off: AWS allocates no replacement" % host.id)
    replacement = _replacement_like(backend, host, state="pending")
    if available_after is not None:
        set_available_after(replacement, available_after)
    return replacement


def complete_host_recovery(backend, host):
    """What AWS does when host recovery succeeds: a replacement host with the same AZ, properties, settings and
    tags, the running instances moved onto it with their ids, and the old host released-permanent-failure.
    A host whose recovery is off (ModifyHosts HostRecovery=off) is not recovered."""
    if host.state in RELEASED_STATES:
        raise ValueError("host %s is %s: there is nothing to recover" % (host.id, host.state))
    if host.host_recovery != "on":
        raise ValueError("host %s has host recovery off: AWS does not recover it" % host.id)
    replacement = _replacement_like(backend, host)
    moved = []
    for instance in host_instances(backend, host.id, consuming_only=False):
        if instance.state != "running":
            continue
        instance.placement.host_id = replacement.id
        instance_meta = inst_meta(instance)
        instance_meta["system_status"] = None
        instance_meta["impaired_since"] = None
        moved.append(instance.id)
    set_host_state(host, "released-permanent-failure")
    return replacement, sorted(moved)


def _parse_time(value):
    if value is None or isinstance(value, datetime.datetime):
        return value
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


# --------------------------------------------------------------------------- install

def _passes_filter_dict(instance, filter_dict):
    """moto's instance filter, answering unknown filter names with an EC2 error instead of an HTTP 500."""
    try:
        return _ORIGINAL["passes_filter_dict"](instance, filter_dict)
    except NotImplementedError as exc:
        unknown = [n for n in filter_dict if n not in ec2_utils.filter_dict_attribute_mapping and not n.startswith("tag")]
        raise client_error("InvalidParameterValue", "The filter '%s' is invalid" % (unknown[0] if unknown else "?")) from exc


def install():
    """Patch moto's EC2 classes (idempotent)."""
    if _ORIGINAL:
        return
    _ORIGINAL["passes_filter_dict"] = ec2_utils.passes_filter_dict
    ec2_utils.passes_filter_dict = _passes_filter_dict
    _ORIGINAL["run_instances"] = EC2Response.run_instances
    _ORIGINAL["instance_stop"] = Instance.stop
    _ORIGINAL["instance_start"] = Instance.start
    InstancePlacement.affinity = None
    InstancePlacement.host_resource_group_arn = None
    ec2_utils.filter_dict_attribute_mapping.update({
        "host-id": "placement.host_id",
        "affinity": "placement.affinity",
        "tenancy": "placement.tenancy",
        "placement-group-name": "placement.group_name",
    })
    for name, func in (("allocate_hosts", allocate_hosts), ("describe_hosts", describe_hosts), ("modify_hosts", modify_hosts),
                       ("release_hosts", release_hosts), ("run_instances", run_instances), ("stop_instances", stop_instances),
                       ("start_instances", start_instances), ("modify_instance_placement", modify_instance_placement),
                       ("describe_instance_status", describe_instance_status)):
        setattr(EC2Response, name, func)


def world(backend):
    """Hosts and instances of a backend as plain data (for tables and the control API)."""
    tick()
    names_h = {v: k for k, v in SIM.names["hosts"].items()}
    names_i = {v: k for k, v in SIM.names["instances"].items()}
    hosts = []
    for host in backend.hosts.values():
        view = host_view(backend, host)
        hosts.append({
            "name": names_h.get(host.id), "host_id": host.id, "state": host.state, "availability_zone": host.zone,
            "instance_family": view["HostProperties"]["InstanceFamily"], "instance_type": host.instance_type,
            "auto_placement": host.auto_placement, "tags": {t["Key"]: t["Value"] for t in view["Tags"]},
            "available_vcpus": view["AvailableCapacity"]["AvailableVCpus"], "total_vcpus": view["HostProperties"]["TotalVCpus"],
            "available_capacity": {r["InstanceType"]: r["AvailableCapacity"] for r in view["AvailableCapacity"]["AvailableInstanceCapacity"]},
            "running_instances": [i["InstanceId"] for i in view["Instances"]],
        })
    instances = []
    for instance in backend.all_instances():
        instances.append({
            "name": names_i.get(instance.id), "instance_id": instance.id, "instance_type": instance.instance_type,
            "state": instance.state, "host_id": instance.placement.host_id, "tenancy": instance.placement.tenancy,
            "affinity": getattr(instance.placement, "affinity", None), "availability_zone": instance.placement.zone,
            "tags": {t["key"]: t["value"] for t in instance.get_tags()},
        })
    return copy.deepcopy({"hosts": hosts, "instances": instances})
