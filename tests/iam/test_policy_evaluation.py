"""docs/iam-policy.json evaluated against the requests a failover makes (allowed) and against attacks (denied).

The simulator does not evaluate conditions (docs/iam.md), so the tag and attribute conditions are proven here with
tests/iam/evaluator.py. ``Ec2`` below builds each request's authorization context as AWS's service authorization
reference describes it for Amazon EC2 (per resource: ``aws:ResourceTag/<key>`` from the resource's tags now,
``ec2:Tenancy`` for instances; per request: ``aws:RequestTag/<key>``, ``aws:TagKeys``, ``ec2:AutoPlacement``,
``ec2:Attribute/<name>``; the implicit ``ec2:CreateTags`` of ``AllocateHosts`` with ``ec2:CreateAction``) and applies
an allowed request's effect, so that a sequence (tag first, then release) is evaluated as AWS would see it. The tags
the failover sends come from the engine itself (plugins/module_utils/hosts.py).
"""

import itertools
import json
import os
import sys

import pytest

from evaluator import UnsupportedPolicy
from evaluator import authorized
from evaluator import condition_holds
from evaluator import decide

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS_PATH = os.path.join(REPO_ROOT, ".work", "collections")
if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import hosts  # noqa: E402  pylint: disable=wrong-import-position

ACCOUNT = "111122223333"
REGION = "us-east-1"
FAILED = "h-0123456789abcdef0"
OUTCOME_TAGS = [{"Key": "FailoverOutcome", "Value": "succeeded"}, {"Key": "FailoverRunId", "Value": "run-1"},
                {"Key": "FailoverAt", "Value": "2026-12-03T10:00:00Z"}]


def load(name):
    with open(os.path.join(REPO_ROOT, "docs", name), encoding="utf-8") as handle:
        return json.load(handle)


RUN_POLICY = load("iam-policy.json")
RELEASE_FAILED_HOST_POLICY = load("iam-policy-release-failed-host.json")


def tag_context(tags, prefix):
    return dict(("%s/%s" % (prefix, key), value) for key, value in tags.items())


class Ec2(object):
    """Hosts and instances of one account, and the EC2 requests the tests make against a set of policies."""

    def __init__(self, policies):
        self.policies = policies
        self.hosts = {}
        self.instances = {}
        self._ids = itertools.count(1)

    def add_host(self, tags=None):
        host_id = "h-%017x" % next(self._ids)
        self.hosts[host_id] = dict(tags or {})
        return host_id

    def add_instance(self, tenancy="host", instance_type="m5.large"):
        instance_id = "i-%017x" % next(self._ids)
        self.instances[instance_id] = {"tenancy": tenancy, "InstanceType": instance_type, "UserData": "", "DisableApiStop": "true"}
        return instance_id

    @staticmethod
    def host_arn(host_id):
        return "arn:aws:ec2:%s:%s:dedicated-host/%s" % (REGION, ACCOUNT, host_id)

    @staticmethod
    def instance_arn(instance_id):
        return "arn:aws:ec2:%s:%s:instance/%s" % (REGION, ACCOUNT, instance_id)

    def host_context(self, host_id):
        tags = self.hosts[host_id]
        return dict(tag_context(tags, "aws:ResourceTag"), **tag_context(tags, "ec2:ResourceTag"))

    def instance_context(self, instance_id):
        return {"ec2:Tenancy": self.instances[instance_id]["tenancy"]}

    def _allowed(self, action, resources):
        return authorized(self.policies, {"action": action, "resources": resources})

    # ------------------------------------------------------------------ the calls (boto3's parameters)

    def allocate_hosts(self, TagSpecifications=(), AutoPlacement="off", Quantity=1, **_config):  # pylint: disable=invalid-name
        tags = dict((tag["Key"], tag["Value"]) for spec in TagSpecifications for tag in spec["Tags"])
        new_arn = self.host_arn("h-%017x" % 0)  # the host does not exist yet
        request = dict(tag_context(tags, "aws:RequestTag"), **{"aws:TagKeys": sorted(tags), "ec2:AutoPlacement": AutoPlacement,
                                                               "ec2:Quantity": str(Quantity)})
        allowed = self._allowed("ec2:AllocateHosts", [(new_arn, request)])
        if tags:  # tagging on creation is authorised as ec2:CreateTags with ec2:CreateAction
            allowed = allowed and self._allowed("ec2:CreateTags", [(new_arn, dict(request, **{"ec2:CreateAction": "AllocateHosts"}))])
        return [self.add_host(tags) for _count in range(Quantity)] if allowed else None

    def create_tags(self, Resources, Tags):  # pylint: disable=invalid-name
        tags = dict((tag["Key"], tag["Value"]) for tag in Tags)
        request = dict(tag_context(tags, "aws:RequestTag"), **{"aws:TagKeys": sorted(tags)})
        if not self._allowed("ec2:CreateTags", [(self.host_arn(host), dict(self.host_context(host), **request)) for host in Resources]):
            return False
        for host in Resources:
            self.hosts[host].update(tags)
        return True

    def delete_tags(self, Resources, Tags):  # pylint: disable=invalid-name
        request = {"aws:TagKeys": sorted(tag["Key"] for tag in Tags)}
        request.update(("aws:RequestTag/%s" % tag["Key"], tag["Value"]) for tag in Tags if "Value" in tag)
        if not self._allowed("ec2:DeleteTags", [(self.host_arn(host), dict(self.host_context(host), **request)) for host in Resources]):
            return False
        for host in Resources:
            for tag in Tags:
                if "Value" not in tag or self.hosts[host].get(tag["Key"]) == tag["Value"]:
                    self.hosts[host].pop(tag["Key"], None)
        return True

    def release_hosts(self, HostIds):  # pylint: disable=invalid-name
        if not self._allowed("ec2:ReleaseHosts", [(self.host_arn(host), self.host_context(host)) for host in HostIds]):
            return False
        for host in HostIds:
            del self.hosts[host]
        return True

    def modify_instance_attribute(self, InstanceId, **attribute):  # pylint: disable=invalid-name
        if len(attribute) != 1:
            raise ValueError("EC2 takes one attribute at a time (InvalidParameterCombination)")
        name, wrapped = next(iter(attribute.items()))
        value = wrapped["Value"]
        value = str(value).lower() if isinstance(value, bool) else str(value)
        context = dict(self.instance_context(InstanceId), **{"ec2:Attribute/%s" % name: value})
        if not self._allowed("ec2:ModifyInstanceAttribute", [(self.instance_arn(InstanceId), context)]):
            return False
        self.instances[InstanceId][name] = value
        return True

    def stop_instances(self, InstanceIds, Force=False):  # pylint: disable=invalid-name,unused-argument
        return self._allowed("ec2:StopInstances", [(self.instance_arn(i), self.instance_context(i)) for i in InstanceIds])

    def start_instances(self, InstanceIds):  # pylint: disable=invalid-name
        return self._allowed("ec2:StartInstances", [(self.instance_arn(i), self.instance_context(i)) for i in InstanceIds])

    def modify_instance_placement(self, InstanceId, HostId):  # pylint: disable=invalid-name
        return self._allowed("ec2:ModifyInstancePlacement", [(self.instance_arn(InstanceId), self.instance_context(InstanceId)),
                                                             (self.host_arn(HostId), self.host_context(HostId))])


@pytest.fixture
def ec2():
    return Ec2([RUN_POLICY])


def reserved():
    return [{"Key": key, "Value": value} for key, value in sorted(hosts.DEFAULT_RESERVED_TAGS.items())]


# ---------------------------------------------------------------------------------------------------- what a failover does

def test_every_call_of_a_failover_is_allowed(ec2):
    failed = ec2.add_host({"Name": "app-1", "CostCenter": "42"})
    pool = ec2.add_host(dict(hosts.DEFAULT_RESERVED_TAGS))
    target = ec2.add_host({"Role": "App"})  # a host the operator names in target_host_ids
    instance = ec2.add_instance()
    failed_host = {"Tags": [{"Key": key, "Value": value} for key, value in ec2.hosts[failed].items()]}
    allocation = hosts.cost_allocation_tags(failed_host, hosts.DEFAULT_RESERVED_TAGS) + hosts.allocation_tags(FAILED)

    # Planning: allocate with the engine's tags, mark the claimed pool host and the named target.
    (new,) = ec2.allocate_hosts(AvailabilityZone="us-east-1a", InstanceFamily="m5", Quantity=1, AutoPlacement="off",
                                ClientToken=hosts.client_token(FAILED, 1),
                                TagSpecifications=[{"ResourceType": "dedicated-host", "Tags": allocation}])
    assert ec2.create_tags(Resources=[pool, target], Tags=[{"Key": hosts.FAILOVER_TAG, "Value": FAILED}])
    # The move: stop protection lifted (opted in), stop, placement, start, protection restored.
    assert ec2.modify_instance_attribute(InstanceId=instance, DisableApiStop={"Value": False})
    assert ec2.stop_instances(InstanceIds=[instance], Force=True)
    assert ec2.modify_instance_placement(InstanceId=instance, HostId=new)
    assert ec2.start_instances(InstanceIds=[instance])
    assert ec2.modify_instance_attribute(InstanceId=instance, DisableApiStop={"Value": True})
    # Settlement: outcome tags on the failed host, the consumed pool host out of the pool, a spare allocated.
    assert ec2.create_tags(Resources=[failed], Tags=OUTCOME_TAGS)
    assert ec2.delete_tags(Resources=[pool], Tags=reserved())
    spare = reserved() + hosts.allocation_tags(FAILED)
    assert ec2.allocate_hosts(InstanceFamily="m5", Quantity=1, AutoPlacement="off",
                              TagSpecifications=[{"ResourceType": "dedicated-host", "Tags": spare}])
    # release_unused_hosts: a host the failover allocated and nobody used.
    assert ec2.release_hosts(HostIds=[new])
    assert ec2.hosts[pool] == {hosts.FAILOVER_TAG: FAILED}
    assert ec2.hosts[target] == {"Role": "App", hosts.FAILOVER_TAG: FAILED}


def test_releasing_the_failed_host_needs_the_opt_in_policy():
    base = Ec2([RUN_POLICY])
    opted_in = Ec2([RUN_POLICY, RELEASE_FAILED_HOST_POLICY])
    for world in (base, opted_in):
        failed = world.add_host({"Name": "app-1"})
        assert world.create_tags(Resources=[failed], Tags=OUTCOME_TAGS)
        assert world.release_hosts(HostIds=[failed]) is (world is opted_in)


# ---------------------------------------------------------------------------------------------------- attacks

def test_tagging_an_arbitrary_host_failover_for_does_not_make_it_releasable(ec2):
    victim = ec2.add_host({"Name": "database"})
    assert ec2.create_tags(Resources=[victim], Tags=[{"Key": hosts.FAILOVER_TAG, "Value": FAILED}])  # allowed: harmless
    assert ec2.release_hosts(HostIds=[victim]) is False
    assert victim in ec2.hosts


def test_tagging_an_arbitrary_host_with_an_outcome_does_not_make_it_releasable(ec2):
    victim = ec2.add_host({"Name": "database"})
    assert ec2.create_tags(Resources=[victim], Tags=OUTCOME_TAGS)
    assert ec2.release_hosts(HostIds=[victim]) is False


@pytest.mark.parametrize("tags", [
    [{"Key": hosts.ALLOCATED_TAG, "Value": FAILED}],
    [{"Key": hosts.FAILOVER_TAG, "Value": FAILED}, {"Key": hosts.ALLOCATED_TAG, "Value": FAILED}],
    [{"Key": "FailoverOutcome", "Value": "failed"}, {"Key": hosts.ALLOCATED_TAG, "Value": FAILED}],
])
def test_the_allocation_tag_cannot_be_set_on_an_existing_host(ec2, tags):
    victim = ec2.add_host({"Name": "database"})
    assert ec2.create_tags(Resources=[victim], Tags=tags) is False
    assert ec2.release_hosts(HostIds=[victim]) is False
    assert ec2.hosts[victim] == {"Name": "database"}


def test_other_tags_cannot_be_set_or_a_host_allocated_without_the_failover_tags(ec2):
    victim = ec2.add_host({"Name": "database"})
    assert ec2.create_tags(Resources=[victim], Tags=[{"Key": "Role", "Value": "Reserved"}]) is False
    assert ec2.allocate_hosts(InstanceFamily="m5", TagSpecifications=[
        {"ResourceType": "dedicated-host", "Tags": [{"Key": hosts.FAILOVER_TAG, "Value": FAILED}]}]) is None
    assert ec2.allocate_hosts(InstanceFamily="m5", AutoPlacement="on", TagSpecifications=[
        {"ResourceType": "dedicated-host", "Tags": hosts.allocation_tags(FAILED)}]) is None


@pytest.mark.parametrize("tags", [
    [{"Key": "Role"}],
    [{"Key": "Role", "Value": "App"}],
    [{"Key": "Name"}],
])
def test_an_operators_tags_cannot_be_stripped(ec2, tags):
    host = ec2.add_host({"Role": "App", "Name": "web-1"})
    # Tagging it FailoverFor first does not help: DeleteTags depends only on the pool tag's value.
    assert ec2.create_tags(Resources=[host], Tags=[{"Key": hosts.FAILOVER_TAG, "Value": FAILED}])
    assert ec2.delete_tags(Resources=[host], Tags=tags) is False
    assert ec2.hosts[host] == {"Role": "App", "Name": "web-1", hosts.FAILOVER_TAG: FAILED}


def test_a_pool_host_loses_only_its_pool_tag_and_not_its_other_tags(ec2):
    pool = ec2.add_host({"Role": "Reserved", "Name": "spare-1", hosts.ALLOCATED_TAG: FAILED})
    assert ec2.delete_tags(Resources=[pool], Tags=[{"Key": "Name"}]) is False
    assert ec2.delete_tags(Resources=[pool], Tags=[{"Key": hosts.ALLOCATED_TAG}]) is False
    assert ec2.delete_tags(Resources=[pool], Tags=[{"Key": "Role"}, {"Key": "Name"}]) is False
    assert ec2.delete_tags(Resources=[pool], Tags=[{"Key": "Role", "Value": "Reserved"}])  # what settlement does
    assert ec2.hosts[pool] == {"Name": "spare-1", hosts.ALLOCATED_TAG: FAILED}


@pytest.mark.parametrize("attribute", [
    {"UserData": {"Value": "IyEvYmluL3NoCmN1cmwgaHR0cDovL2V2aWwuZXhhbXBsZSB8IHNo"}},
    {"InstanceType": {"Value": "m5.24xlarge"}},
    {"DisableApiTermination": {"Value": False}},
    {"InstanceInitiatedShutdownBehavior": {"Value": "terminate"}},
])
def test_no_instance_attribute_but_stop_protection_can_be_modified(ec2, attribute):
    instance = ec2.add_instance()
    before = dict(ec2.instances[instance])
    assert ec2.modify_instance_attribute(InstanceId=instance, **attribute) is False
    assert ec2.instances[instance] == before


def test_instances_that_do_not_run_on_dedicated_hosts_are_out_of_reach(ec2):
    shared = ec2.add_instance(tenancy="default")
    host = ec2.add_host({hosts.ALLOCATED_TAG: FAILED})
    assert ec2.modify_instance_attribute(InstanceId=shared, DisableApiStop={"Value": False}) is False
    assert ec2.stop_instances(InstanceIds=[shared]) is False
    assert ec2.modify_instance_placement(InstanceId=shared, HostId=host) is False


def test_a_request_naming_several_resources_needs_every_one_allowed(ec2):
    ours = ec2.add_host({hosts.ALLOCATED_TAG: FAILED})
    theirs = ec2.add_host({"Name": "database"})
    assert ec2.release_hosts(HostIds=[ours, theirs]) is False
    assert set(ec2.hosts) == {ours, theirs}


# ---------------------------------------------------------------------------------------------------- the evaluator itself

@pytest.mark.parametrize("operator, key, expected, context, holds", [
    ("StringEquals", "ec2:Tenancy", "host", {"ec2:Tenancy": "host"}, True),
    ("StringEquals", "EC2:TENANCY", "host", {"ec2:Tenancy": "host"}, True),  # key names are case-insensitive
    ("StringEquals", "ec2:Tenancy", "host", {"ec2:Tenancy": "Host"}, False),  # values are not
    ("StringEquals", "ec2:Tenancy", ["dedicated", "host"], {"ec2:Tenancy": "host"}, True),
    ("StringEquals", "ec2:Tenancy", "host", {}, False),
    ("StringEqualsIfExists", "ec2:Tenancy", "host", {}, True),
    ("StringEqualsIfExists", "ec2:Tenancy", "host", {"ec2:Tenancy": "default"}, False),
    ("StringNotEquals", "ec2:Tenancy", "host", {}, True),
    ("StringNotEquals", "ec2:Tenancy", "host", {"ec2:Tenancy": "host"}, False),
    ("StringLike", "aws:ResourceTag/Name", "web-*", {"aws:ResourceTag/Name": "web-1"}, True),
    ("Null", "aws:ResourceTag/FailoverAllocatedFor", "false", {}, False),
    ("Null", "aws:ResourceTag/FailoverAllocatedFor", "false", {"aws:ResourceTag/FailoverAllocatedFor": "h-1"}, True),
    ("Null", "aws:TagKeys", "true", {"aws:TagKeys": []}, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["Role"], {"aws:TagKeys": ["Role"]}, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["Role"], {"aws:TagKeys": ["Role", "Name"]}, False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["Role"], {}, True),  # vacuous: why the policy adds a Null check
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["Role"], {"aws:TagKeys": ["Role", "Name"]}, True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["Role"], {}, False),
    ("Bool", "aws:SecureTransport", True, {"aws:SecureTransport": "true"}, True),
    ("NumericLessThanEquals", "ec2:Quantity", "2", {"ec2:Quantity": "3"}, False),
])
def test_condition_semantics(operator, key, expected, context, holds):
    assert condition_holds(operator, key, expected, context) is holds


def test_explicit_deny_wins_and_wildcards_match_actions_and_resources():
    allow = {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "ec2:DescribeHosts", "Resource": "arn:aws:ec2:*:*:dedicated-host/h-?1"}
    policies = [{"Statement": [allow]}, {"Statement": [deny]}]
    assert decide(policies, "EC2:describehosts", "arn:aws:ec2:us-east-1:1:dedicated-host/h-01", {}) == "ExplicitDeny"
    assert decide(policies, "ec2:DescribeHosts", "arn:aws:ec2:us-east-1:1:dedicated-host/h-011", {}) == "Allow"
    assert decide(policies, "ec2:ReleaseHosts", "arn:aws:ec2:us-east-1:1:dedicated-host/h-011", {}) == "ImplicitDeny"


def test_semantics_it_does_not_implement_are_refused():
    with pytest.raises(UnsupportedPolicy):
        condition_holds("StringEquals", "aws:TagKeys", "Role", {"aws:TagKeys": ["Role"]})
    with pytest.raises(UnsupportedPolicy):
        condition_holds("DateGreaterThan", "aws:CurrentTime", "2026-01-01", {"aws:CurrentTime": "2026-02-01"})
    with pytest.raises(UnsupportedPolicy):
        decide([{"Statement": [{"Effect": "Allow", "NotAction": "ec2:*", "Resource": "*"}]}], "s3:GetObject", "*", {})


def test_the_evaluator_reads_every_operator_the_shipped_policies_use():
    for policy in (RUN_POLICY, RELEASE_FAILED_HOST_POLICY, load("iam-policy-setup.json")):
        for statement in policy["Statement"]:
            for operator, keys in (statement.get("Condition") or {}).items():
                for key, expected in keys.items():
                    condition_holds(operator, key, expected, {})  # raises UnsupportedPolicy for an unknown operator
