"""Fleet mode: a read-only EC2 that answers the health scan's describes for thousands of generated hosts.

moto keeps every object as a full model and renders each response through templates; a fleet of 5,000 hosts and
50,000 instances makes that too slow to set up and to page through. Fleet mode generates a compact fleet from a seed
(hosts per region, instances per host, which hosts are failed or degraded and how) and serves, over EC2's query
protocol, only what a scan reads: DescribeHosts, DescribeInstances, DescribeInstanceStatus, DescribeRegions,
DescribeAvailabilityZones, and STS GetCallerIdentity. The fleet has no DynamoDB table: DynamoDB reads answer
ResourceNotFoundException, as in a region where no failover ever ran. Pagination follows EC2 (MaxResults bounds,
NextToken, MaxResults not combinable with ids); the data of a region is chosen by the request's signing region;
responses are serialised from botocore's EC2 model, so a boto3 client parses them as it parses EC2's. Every other
call is refused with UnsupportedOperation: nothing in the fleet changes.

    python tests/simulator/server.py --port 0 --fleet fleet.yml   # first line: AWS_ENDPOINT_URL=http://...

Control routes (JSON): GET /_dhsim/health, GET /_dhsim/fleet (what was generated and the health class each
failed or degraded host must get), GET /_dhsim/calls[?log=1] (counts, and pages and items by action),
POST /_dhsim/calls/reset.
"""

import base64
import datetime
import fnmatch
import gc
import hashlib
import json
import random
import re
import threading
import time
import uuid
from collections import OrderedDict
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import botocore.session
from werkzeug.serving import WSGIRequestHandler

from . import capacity
from .documents import read_mapping
from .faults import identify, render_error
from .serving import ThreadedServer

PREFIX = "/_dhsim"
ACCOUNT_ID = "123456789012"
SPEC_KEYS = {"seed", "regions", "hosts", "instances_per_host", "failed", "degraded", "account_id"}
DEFAULT_SPEC = {"seed": 20260101, "regions": ["us-east-1"], "hosts": 100, "instances_per_host": 10, "failed": 3, "degraded": 2,
                "account_id": ACCOUNT_ID}
# (family, host instance type or None for a multi-size host, the types of the instances on it), in turn.
HOST_LAYOUTS = (
    ("m5", "m5.large", ("m5.large",)),
    ("c5", None, ("c5.large", "c5.xlarge")),
    ("r5", "r5.large", ("r5.large",)),
)
# How a failed host fails, in turn; each is `failed` in docs/health.md's table (permanent failure with AWS host
# maintenance off, under assessment with AWS host recovery off, an impaired instance on an available host).
FAILED_KINDS = ("permanent-failure", "under-assessment-recovery-off", "impaired-instance")
# A degraded host is available with one instance under a scheduled event (one code per host, in turn).
DEGRADED_EVENTS = ("system-maintenance", "instance-retirement", "instance-stop", "system-reboot")
AZ_LETTERS = ("a", "b", "c")
LAUNCHED = datetime.datetime(2025, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
RUNNING = {"Code": 16, "Name": "running"}

# MaxResults bounds of the paginated actions, and the id parameter each refuses to combine with MaxResults.
PAGE_BOUNDS = {"DescribeHosts": (5, 500), "DescribeInstances": (5, 1000), "DescribeInstanceStatus": (5, 1000)}
ID_PARAMETERS = {"DescribeHosts": ("HostId", "hostSet"), "DescribeInstances": ("InstanceId", "instancesSet"),
                 "DescribeInstanceStatus": ("InstanceId", "instancesSet")}
_MODEL = []
_MODEL_LOCK = threading.Lock()


class FleetError(Exception):
    """An EC2 error answer: code, message, HTTP status."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class SpecError(ValueError):
    """A fleet description that cannot be generated."""


def ec2_model():
    """botocore's EC2 service model (loaded once: about a quarter of a second)."""
    with _MODEL_LOCK:
        if not _MODEL:
            _MODEL.append(botocore.session.get_session().get_service_model("ec2"))
        return _MODEL[0]


# --------------------------------------------------------------------------- the fleet

def read_spec(source):
    """A fleet description from a mapping, YAML text or a .yml path, completed with the defaults and checked."""
    data = dict(read_mapping(source, SpecError, "a fleet description"))
    unknown = set(data) - SPEC_KEYS
    if unknown:
        raise SpecError("unknown fleet keys: %s (allowed: %s)" % (", ".join(sorted(unknown)), ", ".join(sorted(SPEC_KEYS))))
    spec = dict(DEFAULT_SPEC, **data)
    if isinstance(spec["regions"], str):
        spec["regions"] = [part.strip() for part in spec["regions"].split(",") if part.strip()]
    for key in ("hosts", "instances_per_host", "failed", "degraded", "seed"):
        spec[key] = int(spec[key])
        if spec[key] < 0:
            raise SpecError("%s must not be negative" % key)
    if not spec["regions"]:
        raise SpecError("a fleet needs at least one region")
    if spec["failed"] + spec["degraded"] > spec["hosts"]:
        raise SpecError("failed + degraded (%d) exceeds the number of hosts (%d)" % (spec["failed"] + spec["degraded"], spec["hosts"]))
    if spec["instances_per_host"] < 1 and (spec["failed"] or spec["degraded"]):
        raise SpecError("failed and degraded hosts need at least one instance per host")
    return spec


def _hex(rng, digits=17):
    return "%0*x" % (digits, rng.getrandbits(4 * digits))


class Region:
    """The hosts, reservations and instance statuses of one region, in id order."""

    def __init__(self, name):
        self.name = name
        self.hosts = []
        self.instances = []  # (reservation id, instance) in launch order: the order DescribeInstances pages through
        self.statuses = []
        self.host_index = {}
        self.instance_index = {}
        self.status_index = {}
        self.expected = {}  # host id -> (health class, kind) for every host that is not healthy


class Fleet:
    """A generated fleet; deterministic for a given description."""

    def __init__(self, spec):
        self.spec = read_spec(spec)
        self.account_id = str(self.spec["account_id"])
        self.regions = OrderedDict((name, Region(name)) for name in self.spec["regions"])
        self._generate()

    def _generate(self):
        # Hundreds of thousands of small dicts that live as long as the process: the cyclic collector's passes over
        # them while they are built would take longer than building them.
        gc.disable()
        try:
            self._build()
        finally:
            gc.enable()
            gc.freeze()

    def _build(self):
        spec = self.spec
        rng = random.Random(spec["seed"])
        total = spec["hosts"]
        picked = rng.sample(range(total), spec["failed"] + spec["degraded"])
        failed = {index: FAILED_KINDS[n % len(FAILED_KINDS)] for n, index in enumerate(sorted(picked[:spec["failed"]]))}
        degraded = {index: DEGRADED_EVENTS[n % len(DEGRADED_EVENTS)] for n, index in enumerate(sorted(picked[spec["failed"]:]))}
        names = list(self.regions)
        capacities = {}
        for index in range(total):
            # Hosts are dealt to the regions in turn, so each region gets an even share (and failures land in all of them).
            region = self.regions[names[index % len(names)]]
            layout = HOST_LAYOUTS[index % len(HOST_LAYOUTS)]
            self._add_host(rng, region, index, layout, failed.get(index), degraded.get(index), capacities)

    def _add_host(self, rng, region, index, layout, failed_kind, event_code, capacities):
        family, host_type, instance_types = layout
        az = region.name + AZ_LETTERS[(index // len(self.regions)) % len(AZ_LETTERS)]
        host_id = "h-" + _hex(rng)
        count = self.spec["instances_per_host"]
        types = [instance_types[n % len(instance_types)] for n in range(count)]
        key = (family, host_type, tuple(types))
        if key not in capacities:
            capacities[key] = capacity.host_capacity(family, host_type, types)
        state, recovery, maintenance = "available", "on", "on"
        if failed_kind == "permanent-failure":
            state, maintenance = "permanent-failure", "off"
        elif failed_kind == "under-assessment-recovery-off":
            state, recovery = "under-assessment", "off"
        properties = {"Cores": capacity.FAMILIES[family]["cores"], "Sockets": capacity.FAMILIES[family]["sockets"],
                      "TotalVCpus": capacity.FAMILIES[family]["vcpus"]}
        if host_type:
            properties["InstanceType"] = host_type
        else:
            properties["InstanceFamily"] = family
        host = {
            "HostId": host_id, "AutoPlacement": "off", "AvailabilityZone": az, "AvailabilityZoneId": _az_id(az),
            "AvailableCapacity": capacities[key], "HostProperties": properties, "State": state, "HostRecovery": recovery,
            "HostMaintenance": maintenance, "AllowsMultipleInstanceTypes": "off" if host_type else "on",
            "AllocationTime": LAUNCHED, "OwnerId": self.account_id, "MemberOfServiceLinkedResourceGroup": False,
            "Tags": [{"Key": "Name", "Value": "fleet-%s-%05d" % (region.name, index)}], "Instances": [],
        }
        reservation_id = "r-" + _hex(rng)
        for position, instance_type in enumerate(types):
            instance = _instance(rng, host, az, instance_type, position, self.account_id)
            host["Instances"].append({"InstanceId": instance["InstanceId"], "InstanceType": instance_type, "OwnerId": self.account_id})
            status = _status(instance, az)
            if failed_kind == "permanent-failure" or (failed_kind == "impaired-instance" and position == 0):
                _impair(status)
            if event_code and position == 0:
                status["Events"] = [_event(rng, event_code)]
            region.instances.append((reservation_id, instance))
            region.instance_index[instance["InstanceId"]] = instance
            region.statuses.append(status)
            region.status_index[instance["InstanceId"]] = status
        region.hosts.append(host)
        region.host_index[host_id] = host
        if failed_kind:
            region.expected[host_id] = ("failed", failed_kind)
        elif event_code:
            region.expected[host_id] = ("degraded", event_code)

    def summary(self):
        """What was generated: per region the counts and the hosts that must be found failed or degraded."""
        regions = {}
        for name, region in self.regions.items():
            by_class = {"failed": {}, "degraded": {}}
            for host_id, (health, kind) in sorted(region.expected.items()):
                by_class[health][host_id] = kind
            regions[name] = {"hosts": len(region.hosts), "instances": len(region.instances),
                             "failed": by_class["failed"], "degraded": by_class["degraded"]}
        return {"spec": self.spec, "regions": regions,
                "expected": {"hosts": sum(r["hosts"] for r in regions.values()),
                             "instances": sum(r["instances"] for r in regions.values()),
                             "failed": sum(len(r["failed"]) for r in regions.values()),
                             "degraded": sum(len(r["degraded"]) for r in regions.values())}}


def _az_id(az):
    """EC2's zone id: us-west-2b -> usw2-az2."""
    parts = az[:-1].split("-")
    return "%s%s%s-az%d" % (parts[0], "".join(p[0] for p in parts[1:-1]), parts[-1], AZ_LETTERS.index(az[-1]) + 1)


def _instance(rng, host, az, instance_type, position, account_id):
    family, size = capacity.split_type(instance_type)
    vcpus = capacity.SIZE_VCPUS[size]
    address = "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    instance_id = "i-" + _hex(rng)
    dns = "ip-%s.ec2.internal" % address.replace(".", "-")
    subnet, vpc = "subnet-" + _hex(rng), "vpc-0a1b2c3d4e5f60718"
    return {
        "InstanceId": instance_id, "ImageId": "ami-0abcdef1234567890", "State": dict(RUNNING), "PrivateDnsName": dns,
        "PublicDnsName": "", "StateTransitionReason": "", "AmiLaunchIndex": position, "ProductCodes": [],
        "InstanceType": instance_type, "LaunchTime": LAUNCHED,
        "Placement": {"AvailabilityZone": az, "GroupName": "", "Tenancy": "host", "HostId": host["HostId"], "Affinity": "host"},
        "Monitoring": {"State": "disabled"}, "SubnetId": subnet, "VpcId": vpc, "PrivateIpAddress": address,
        "Architecture": "x86_64", "RootDeviceType": "ebs", "RootDeviceName": "/dev/xvda",
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"AttachTime": LAUNCHED, "DeleteOnTermination": True,
                                                                    "Status": "attached", "VolumeId": "vol-" + _hex(rng)}}],
        "VirtualizationType": "hvm", "ClientToken": "", "Hypervisor": "xen", "EbsOptimized": True, "EnaSupport": True,
        "SourceDestCheck": True, "SecurityGroups": [{"GroupName": "default", "GroupId": "sg-0123456789abcdef0"}],
        "Tags": [{"Key": "Name", "Value": "%s-%02d" % (host["Tags"][0]["Value"], position)}, {"Key": "Family", "Value": family}],
        "NetworkInterfaces": [{
            "NetworkInterfaceId": "eni-" + _hex(rng), "SubnetId": subnet, "VpcId": vpc, "OwnerId": account_id,
            "Status": "in-use", "MacAddress": "0e:%02x:%02x:%02x:%02x:%02x" % tuple(rng.randrange(256) for dummy in range(5)),
            "PrivateIpAddress": address, "PrivateDnsName": dns, "SourceDestCheck": True, "InterfaceType": "interface",
            "Groups": [{"GroupName": "default", "GroupId": "sg-0123456789abcdef0"}],
            "Attachment": {"AttachmentId": "eni-attach-" + _hex(rng), "DeviceIndex": 0, "Status": "attached",
                           "AttachTime": LAUNCHED, "DeleteOnTermination": True, "NetworkCardIndex": 0},
            "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": address, "PrivateDnsName": dns}],
        }],
        "CpuOptions": {"CoreCount": vcpus // 2, "ThreadsPerCore": 2},
        "CapacityReservationSpecification": {"CapacityReservationPreference": "open"},
        "HibernationOptions": {"Configured": False},
        "MetadataOptions": {"State": "applied", "HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled",
                            "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"},
        "EnclaveOptions": {"Enabled": False}, "PlatformDetails": "Linux/UNIX", "UsageOperation": "RunInstances",
        "UsageOperationUpdateTime": LAUNCHED, "MaintenanceOptions": {"AutoRecovery": "default"}, "CurrentInstanceBootMode": "legacy-bios",
        "PrivateDnsNameOptions": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False, "EnableResourceNameDnsAAAARecord": False},
    }


def _passed():
    return {"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]}


def _status(instance, az):
    return {"InstanceId": instance["InstanceId"], "AvailabilityZone": az, "AvailabilityZoneId": _az_id(az), "InstanceState": dict(RUNNING),
            "InstanceStatus": _passed(), "SystemStatus": _passed(), "AttachedEbsStatus": _passed()}


def _impair(status):
    since = LAUNCHED + datetime.timedelta(days=30)
    status["SystemStatus"] = {"Status": "impaired", "Details": [{"Name": "reachability", "Status": "failed", "ImpairedSince": since}]}


def _event(rng, code):
    not_before = datetime.datetime(2026, 12, 15, 3, 0, tzinfo=datetime.timezone.utc)
    return {"InstanceEventId": "instance-event-" + _hex(rng), "Code": code,
            "Description": "The instance is scheduled for %s" % code.replace("-", " "),
            "NotBefore": not_before, "NotAfter": not_before + datetime.timedelta(hours=2)}


# --------------------------------------------------------------------------- EC2 query protocol: requests and answers

def serialise(shape, value, out):
    """Append the EC2 XML of value (CamelCase member names of the botocore shape) to out; unknown members raise KeyError."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        for name, item in value.items():
            member = members[name]
            tag = member.serialization.get("name", name)
            out.append("<%s>" % tag)
            serialise(member, item, out)
            out.append("</%s>" % tag)
    elif kind == "list":
        tag = shape.member.serialization.get("name", "member")
        for item in value:
            out.append("<%s>" % tag)
            serialise(shape.member, item, out)
            out.append("</%s>" % tag)
    elif kind == "boolean":
        out.append("true" if value else "false")
    elif kind == "timestamp":
        out.append(value.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    else:
        out.append(escape(str(value)))


def ec2_response(action, result):
    """The body EC2 sends for a successful action: its <ActionResponse> with a request id and the result's members."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' % action,
           "<requestId>%s</requestId>" % uuid.uuid4()]
    serialise(ec2_model().operation_model(action).output_shape, result, out)
    out.append("</%sResponse>" % action)
    return "".join(out).encode("utf-8")


class Query:
    """The parameters of one EC2 query request."""

    def __init__(self, pairs):
        self.values = dict(pairs)
        self.ids = {}
        filters = {}
        for key, value in pairs:
            match = re.match(r"^(HostId|InstanceId|RegionName|ZoneName)\.(\d+)$", key)
            if match:
                self.ids.setdefault(match.group(1), []).append(value)
                continue
            match = re.match(r"^Filter\.(\d+)\.(Name|Value\.\d+)$", key)
            if match:
                entry = filters.setdefault(int(match.group(1)), {"name": None, "values": []})
                if match.group(2) == "Name":
                    entry["name"] = value
                else:
                    entry["values"].append(value)
        self.filters = [(entry["name"], entry["values"]) for dummy, entry in sorted(filters.items())]

    def get(self, key, default=None):
        return self.values.get(key, default)

    def flag(self, key):
        return str(self.values.get(key, "false")).lower() == "true"

    def digest(self, action, region):
        """What a NextToken must belong to: the action, region, ids and filters (not the page size)."""
        key = json.dumps([action, region, self.ids, self.filters, self.flag("IncludeAllInstances")], sort_keys=True)
        return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def _tags(item):
    return {tag["Key"]: tag["Value"] for tag in item.get("Tags", [])}


# Filter name -> the values an item has for it (EC2 filter names the scan and the role use, and a few more).
HOST_FILTERS = {
    "availability-zone": lambda h: [h["AvailabilityZone"]],
    "state": lambda h: [h["State"]],
    "instance-type": lambda h: [h["HostProperties"].get("InstanceType", "")],
    "auto-placement": lambda h: [h["AutoPlacement"]],
    "tag-key": lambda h: list(_tags(h)),
    "client-token": lambda h: [h.get("ClientToken", "")],
    "host-reservation-id": lambda h: [h.get("HostReservationId", "")],
}
INSTANCE_FILTERS = {
    "host-id": lambda i: [i["Placement"]["HostId"]],
    "placement-host-id": lambda i: [i["Placement"]["HostId"]],
    "tenancy": lambda i: [i["Placement"]["Tenancy"]],
    "instance-state-name": lambda i: [i["State"]["Name"]],
    "instance-state-code": lambda i: [str(i["State"]["Code"])],
    "availability-zone": lambda i: [i["Placement"]["AvailabilityZone"]],
    "instance-id": lambda i: [i["InstanceId"]],
    "instance-type": lambda i: [i["InstanceType"]],
    "tag-key": lambda i: list(_tags(i)),
}
STATUS_FILTERS = {
    "availability-zone": lambda s: [s["AvailabilityZone"]],
    "instance-state-name": lambda s: [s["InstanceState"]["Name"]],
    "instance-state-code": lambda s: [str(s["InstanceState"]["Code"])],
    "system-status.status": lambda s: [s["SystemStatus"]["Status"]],
    "instance-status.status": lambda s: [s["InstanceStatus"]["Status"]],
    "event.code": lambda s: [e["Code"] for e in s.get("Events", [])],
}


def _tag_values(key):
    """A filter getter for tag:KEY: the tag's value, if the item has the tag."""
    def values(item):
        tags = _tags(item)
        return [tags[key]] if key in tags else []
    return values


def _matcher(filters, table):
    """One predicate for all filters: any value of a filter matches (with EC2's * and ? wildcards), every filter must."""
    checks = []
    for name, values in filters:
        if name and name.startswith("tag:"):
            getter = _tag_values(name[4:])
        elif name in table:
            getter = table[name]
        else:
            raise FleetError("InvalidParameterValue", "The filter '%s' is invalid" % name)
        if not values:
            raise FleetError("InvalidParameterValue", "The filter '%s' has no values" % name)
        exact = set(v for v in values if "*" not in v and "?" not in v)
        patterns = [v for v in values if v not in exact]
        checks.append((getter, exact, patterns))

    def matches(item):
        for getter, exact, patterns in checks:
            have = getter(item)
            if not any(v in exact or any(fnmatch.fnmatchcase(v, p) for p in patterns) for v in have):
                return False
        return True
    return matches


class FleetEC2:
    """Answers the read-only EC2 actions from a Fleet."""

    def __init__(self, fleet):
        self.fleet = fleet
        self._selections = OrderedDict()  # digest -> the filtered items, so the later pages of a listing do not filter again
        self._lock = threading.Lock()

    def region(self, name):
        """The region's data; a region outside the fleet has no hosts and no instances."""
        return self.fleet.regions.get(name) or Region(name)

    def answer(self, action, query, region_name):
        """(body, items returned, whether a NextToken was returned) for one EC2 request; FleetError for an EC2 error."""
        handler = getattr(self, "_" + re.sub(r"(?<!^)([A-Z])", r"_\1", action).lower(), None) if action else None
        if handler is None or action not in READ_ONLY_ACTIONS:
            raise FleetError("UnsupportedOperation", "The fleet simulator is read-only and answers only %s; %s is not served"
                             % (", ".join(sorted(READ_ONLY_ACTIONS)), action))
        if query.flag("DryRun"):
            raise FleetError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
        return handler(query, self.region(region_name))

    def _page(self, action, query, region, select):
        """Bounds-check MaxResults, resolve NextToken and slice the selection; returns (items, next token or None)."""
        low, high = PAGE_BOUNDS[action]
        id_key, id_set = ID_PARAMETERS[action]
        raw = query.get("MaxResults")
        if raw is not None and query.ids.get(id_key):
            raise FleetError("InvalidParameterCombination", "The parameter %s cannot be used with the parameter maxResults" % id_set)
        limit = None
        if raw is not None:
            try:
                limit = int(raw)
            except ValueError as exc:
                raise FleetError("InvalidParameterValue", "Invalid value '%s' for maxResults" % raw) from exc
            if not low <= limit <= high:
                raise FleetError("InvalidParameterValue", "Value ( %s ) for parameter maxResults is invalid. Expecting a value between %d and %d."
                                 % (raw, low, high))
        digest = query.digest(action, region.name)
        offset = 0
        token = query.get("NextToken")
        if token:
            offset = _read_token(token, digest)
        with self._lock:
            items = self._selections.get(digest)
        if items is None or not token:
            items = select()
            with self._lock:
                self._selections[digest] = items
                while len(self._selections) > 32:
                    self._selections.popitem(last=False)
        if offset > len(items):
            raise FleetError("InvalidPaginationToken", "The pagination token is not valid.")
        end = len(items) if limit is None else offset + limit
        return items[offset:end], (_token(digest, end) if end < len(items) else None)

    @staticmethod
    def _known(ids, index, code, noun):
        for value in ids:
            if not re.match(r"^%s-[0-9a-f]{8}([0-9a-f]{9})?$" % noun[0], value):
                raise FleetError(code.replace("NotFound", "Malformed"), "Invalid id: \"%s\"" % value)
        missing = [value for value in ids if value not in index]
        if missing:
            plural = len(missing) > 1
            raise FleetError(code, "The %s ID%s '%s' do%s not exist" % (noun, "s" if plural else "", ", ".join(missing), "" if plural else "es"))

    def _describe_hosts(self, query, region):
        ids = query.ids.get("HostId", [])
        self._known(ids, region.host_index, "InvalidHostID.NotFound", "host")
        match = _matcher(query.filters, HOST_FILTERS)

        def select():
            hosts = [region.host_index[h] for h in ids] if ids else region.hosts
            return [h for h in hosts if match(h)]
        hosts, token = self._page("DescribeHosts", query, region, select)
        return _result("DescribeHosts", {"Hosts": hosts}, token), len(hosts), token is not None

    def _describe_instances(self, query, region):
        ids = query.ids.get("InstanceId", [])
        self._known(ids, region.instance_index, "InvalidInstanceID.NotFound", "instance")
        hosts = _exact_values(query.filters, "host-id")
        match = _matcher(query.filters, INSTANCE_FILTERS)

        def select():
            if ids:
                wanted = set(ids)
                candidates = [(r, i) for r, i in region.instances if i["InstanceId"] in wanted]
            elif hosts is not None:
                # host-id without wildcards: read only those hosts' instances rather than the whole region.
                wanted = set(hosts)
                candidates = [(r, i) for r, i in region.instances if i["Placement"]["HostId"] in wanted]
            else:
                candidates = region.instances
            return [(r, i) for r, i in candidates if match(i)]
        pairs, token = self._page("DescribeInstances", query, region, select)
        reservations = []
        for reservation_id, instance in pairs:
            # A reservation's instances stay together in one entry; a page boundary may split it, as on EC2.
            if reservations and reservations[-1]["ReservationId"] == reservation_id:
                reservations[-1]["Instances"].append(instance)
            else:
                reservations.append({"ReservationId": reservation_id, "OwnerId": self.fleet.account_id, "Groups": [], "Instances": [instance]})
        return _result("DescribeInstances", {"Reservations": reservations}, token), len(pairs), token is not None

    def _describe_instance_status(self, query, region):
        ids = query.ids.get("InstanceId", [])
        self._known(ids, region.status_index, "InvalidInstanceID.NotFound", "instance")
        include_all = query.flag("IncludeAllInstances")
        match = _matcher(query.filters, STATUS_FILTERS)

        def select():
            statuses = [region.status_index[i] for i in ids] if ids else region.statuses
            # Without IncludeAllInstances EC2 reports running instances only.
            return [s for s in statuses if (include_all or s["InstanceState"]["Name"] == "running") and match(s)]
        statuses, token = self._page("DescribeInstanceStatus", query, region, select)
        return _result("DescribeInstanceStatus", {"InstanceStatuses": statuses}, token), len(statuses), token is not None

    def _describe_regions(self, query, dummy_region):
        names = query.ids.get("RegionName") or list(self.fleet.regions)
        regions = [{"RegionName": name, "Endpoint": "ec2.%s.amazonaws.com" % name, "OptInStatus": "opt-in-not-required"} for name in names]
        return ec2_response("DescribeRegions", {"Regions": regions}), len(regions), False

    def _describe_availability_zones(self, query, region):
        zones = [{"ZoneName": region.name + letter, "ZoneId": _az_id(region.name + letter), "State": "available",
                  "RegionName": region.name, "ZoneType": "availability-zone", "OptInStatus": "opt-in-not-required",
                  "GroupName": region.name, "NetworkBorderGroup": region.name, "Messages": []} for letter in AZ_LETTERS]
        wanted = query.ids.get("ZoneName")
        if wanted:
            zones = [z for z in zones if z["ZoneName"] in wanted]
        return ec2_response("DescribeAvailabilityZones", {"AvailabilityZones": zones}), len(zones), False


# DynamoDB reads a scan may make (the health check lists the migration records): the fleet has no table.
DYNAMODB_READS = ("DescribeTable", "GetItem", "BatchGetItem", "Query", "Scan")
READ_ONLY_ACTIONS = ("DescribeHosts", "DescribeInstances", "DescribeInstanceStatus", "DescribeRegions", "DescribeAvailabilityZones")


def _exact_values(filters, name):
    """The values of one filter when it has no wildcard (None otherwise, or when it is absent)."""
    for filter_name, values in filters:
        if filter_name == name and not any("*" in v or "?" in v for v in values):
            return values
    return None


def _result(action, result, token):
    if token:
        result["NextToken"] = token
    return ec2_response(action, result)


def _token(digest, offset):
    return base64.urlsafe_b64encode(json.dumps({"q": digest, "o": offset}).encode("utf-8")).decode("ascii")


def _read_token(token, digest):
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8"))
        if data["q"] != digest:
            raise ValueError("token of another listing")
        return int(data["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise FleetError("InvalidPaginationToken", "The pagination token is not valid for this request.") from exc


def caller_identity(account_id):
    """STS GetCallerIdentity's answer."""
    return ('<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
            "<Arn>arn:aws:iam::%s:user/fleet-scan</Arn><UserId>AIDAFLEETSCAN00000000</UserId><Account>%s</Account>"
            "</GetCallerIdentityResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
            % (account_id, account_id, uuid.uuid4())).encode("utf-8")


# --------------------------------------------------------------------------- call log

class FleetCalls:
    """Every request: counts by service and action, and pages, items and bytes by action."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.entries = []

    def record(self, entry):
        with self.lock:
            self.entries.append(entry)

    def snapshot(self, with_log=False):
        """{"counts": {service: {action: n}}, "total", "by_action": {action: {calls, pages, continued, items, errors, bytes, seconds}}}."""
        with self.lock:
            entries = [dict(e) for e in self.entries]
        counts, by_action = {}, {}
        for entry in entries:
            service_counts = counts.setdefault(entry["service"], {})
            service_counts[entry["action"]] = service_counts.get(entry["action"], 0) + 1
            row = by_action.setdefault(entry["action"], {"calls": 0, "pages": 0, "continued": 0, "items": 0, "errors": 0, "bytes": 0,
                                                         "seconds": 0.0, "regions": {}})
            row["calls"] += 1
            row["regions"][entry["region"]] = row["regions"].get(entry["region"], 0) + 1
            if entry["code"] == "OK":
                row["pages"] += 1
                row["items"] += entry["items"]
                row["continued"] += 1 if entry["continued"] else 0
            else:
                row["errors"] += 1
            row["bytes"] += entry["bytes"]
            row["seconds"] = round(row["seconds"] + entry["duration"], 4)
        data = {"counts": counts, "total": len(entries), "by_action": by_action}
        if with_log:
            data["log"] = entries
        return data


# --------------------------------------------------------------------------- WSGI application and server

class FleetApp:
    """WSGI app: the control routes and the read-only EC2 (and STS) of one fleet."""

    def __init__(self, fleet):
        self.fleet = fleet
        self.ec2 = FleetEC2(fleet)
        self.calls = FleetCalls()
        self.routes = {
            ("GET", "/health"): lambda query: {"status": "ok", "mode": "fleet", "spec": fleet.spec},
            ("GET", "/fleet"): lambda query: fleet.summary(),
            ("GET", "/calls"): lambda query: self.calls.snapshot(with_log=bool(query.get("log"))),
            ("GET", "/calls/log"): lambda query: self.calls.snapshot(with_log=True),
            ("POST", "/calls/reset"): self._reset_calls,
        }

    def _reset_calls(self, dummy_query):
        self.calls.reset()
        return {"status": "ok"}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            return self._control(environ, start_response, path[len(PREFIX):].rstrip("/") or "/")
        started = time.time()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        info = identify(environ, body)
        pairs = parse_qsl(body.decode("utf-8", "replace")) + parse_qsl(environ.get("QUERY_STRING", ""))
        query = Query(pairs)
        items, continued, token = 0, bool(query.get("NextToken")), False
        try:
            if info.service == "ec2":
                data, items, token = self.ec2.answer(info.action, query, info.region or "us-east-1")
            elif info.service == "sts" and info.action == "GetCallerIdentity":
                data = caller_identity(self.fleet.account_id)
            elif info.service == "dynamodb" and info.action in DYNAMODB_READS:
                raise FleetError("ResourceNotFoundException", "Requested resource not found: the fleet simulator has no DynamoDB table")
            else:
                raise FleetError("UnsupportedOperation", "The fleet simulator is read-only and serves EC2 describes, STS "
                                 "GetCallerIdentity and DynamoDB reads (no table) only; %s %s is not served" % (info.service, info.action))
            status, code, headers = 200, "OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))]
        except FleetError as error:
            status, headers, data = render_error(info, error.code, error.message, error.status)
            code = error.code
        self.calls.record({"time": started, "service": info.service, "action": info.action, "region": info.region, "status": status,
                           "code": code, "items": items, "continued": continued, "next_token": token,
                           "max_results": query.get("MaxResults"), "ids": sum(len(v) for v in query.ids.values()),
                           "filters": [name for name, dummy in query.filters], "bytes": len(data),
                           "duration": round(time.time() - started, 4)})
        start_response("%d %s" % (status, "OK" if status == 200 else "Error"), headers)
        return [data]

    def _control(self, environ, start_response, path):
        handler = self.routes.get((environ.get("REQUEST_METHOD", "GET").upper(), path))
        if handler is None:
            status, result = 404, {"error": "no control route %s %s%s in fleet mode" % (environ.get("REQUEST_METHOD"), PREFIX, path)}
        else:
            status, result = 200, handler(dict(parse_qsl(environ.get("QUERY_STRING", ""))))
        data = json.dumps(result, default=str).encode("utf-8")
        start_response("%d %s" % (status, "OK" if status == 200 else "Not Found"),
                       [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


class _QuietHandler(WSGIRequestHandler):
    """No log line per request."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code="-", size="-"):
        """Do not log successful requests."""


class FleetServer(ThreadedServer):
    """A fleet on a werkzeug threaded server in a background thread (same interface as SimulatorServer)."""

    thread_name = "dhsim-fleet"

    def __init__(self, spec, host="127.0.0.1", port=0):
        self.fleet = Fleet(spec)
        ec2_model()  # load the model before serving so the first page is not slower than the rest
        self.app = FleetApp(self.fleet)
        self.host = host
        self.port = port

    def request_handler(self):
        return _QuietHandler


def format_summary(summary):
    """The generated fleet as a few readable lines."""
    lines = ["", "FLEET (read-only: DescribeHosts, DescribeInstances, DescribeInstanceStatus, DescribeRegions, DescribeAvailabilityZones)"]
    for name, region in summary["regions"].items():
        lines.append("  %-12s %6d hosts %7d instances  failed %3d  degraded %3d" % (
            name, region["hosts"], region["instances"], len(region["failed"]), len(region["degraded"])))
        for health in ("failed", "degraded"):
            for host_id, kind in region[health].items():
                lines.append("    %-9s %s  %s" % (health, host_id, kind))
    return "\n".join(lines)
