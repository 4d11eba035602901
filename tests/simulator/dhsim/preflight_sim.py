"""Instance traits the failover's preflight reads: instance-store root, Auto Scaling and host resource group
membership, License Manager configurations, auto-assigned public IPv4 addresses, and instances caught mid-stop.

Scenario keys (see README): ``root_device``, ``asg``, ``host_resource_group``, ``license_configuration``,
``public_ip`` and ``state: stopping`` / ``state: pending``.
"""

import time

from moto.ec2.models.elastic_network_interfaces import NetworkInterface

from . import ec2_hosts
from .state import SIM

ASG_TAG = "aws:autoscaling:groupName"
PUBLIC_IP_CHOICES = ("auto", "elastic")
_ORIGINAL = {}


def _association(self):
    """moto reports every public IP as owned by the account (an Elastic IP); an auto-assigned one is owned by ``amazon``."""
    association = _ORIGINAL["association"].fget(self)
    instance = getattr(self, "instance", None)
    meta = getattr(instance, "_dhsim", None) or {}
    if association and meta.get("public_ip") == "auto":
        association["ipOwnerId"] = "amazon"
    return association


def install():
    if _ORIGINAL:
        return
    _ORIGINAL["association"] = NetworkInterface.association
    NetworkInterface.association = property(_association)


def creation_tags(item, tags):
    """The instance's tags with the Auto Scaling group's (a scenario may set the reserved ``aws:`` key; the API may not)."""
    if item.get("asg"):
        tags[ASG_TAG] = str(item["asg"])
    return tags


def apply(instance, item):
    """Apply the preflight scenario keys of ``item`` to a freshly created moto instance."""
    meta = ec2_hosts.inst_meta(instance)
    if item.get("root_device"):
        if item["root_device"] not in ("ebs", "instance-store"):
            raise ValueError("root_device must be ebs or instance-store")
        instance.root_device_type = item["root_device"]
    if item.get("host_resource_group"):
        instance.placement.host_resource_group_arn = str(item["host_resource_group"])
    if item.get("license_configuration"):
        instance.licenses = [{"LicenseConfigurationArn": str(item["license_configuration"])}]
    public_ip = item.get("public_ip")
    if public_ip is not None:
        if public_ip not in PUBLIC_IP_CHOICES:
            raise ValueError("public_ip must be one of %s" % ", ".join(PUBLIC_IP_CHOICES))
        meta["public_ip"] = public_ip


def start_transition(instance, state):
    """Leave the instance ``stopping`` (or ``pending``) for its drawn stop (or start) latency."""
    meta = ec2_hosts.inst_meta(instance)
    if state == "stopping":
        ec2_hosts.set_state(instance, "stopping")
        meta["target"] = "stopped"
        meta["deadline"] = time.time() + SIM.draw("stop", meta["stop_latency"])
    elif state == "pending":
        ec2_hosts.Instance.stop(instance)
        ec2_hosts.set_state(instance, "pending")
        meta["target"] = "running"
        meta["deadline"] = time.time() + SIM.draw("start", meta["start_latency"])
