# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared setup of the unit tests: the collection path and dummy AWS settings.

``<repo>/.work/collections`` (made by scripts/bootstrap.sh) holds this collection (a symlink to the
checkout) and amazon.aws / community.aws, so ``ansible_collections.dedicated_hosts.failover`` imports.
Credentials are dummies and AWS_ENDPOINT_URL is cleared, so no test can reach real AWS; moto's
``mock_aws`` serves the calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

import boto3
import pytest
from moto import mock_aws

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS_PATH = os.path.join(REPO_ROOT, ".work", "collections")

SIMULATOR_PATH = os.path.join(REPO_ROOT, "tests", "simulator")

for _path in (COLLECTIONS_PATH, SIMULATOR_PATH):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# The `simulator` fixture (an in-process EC2 + DynamoDB + SNS simulator; tests/simulator/README.md).
pytest_plugins = ["dhsim.pytest_plugin"]

DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# Settings of the developer's shell that would send the calls elsewhere.
UNSET_AWS_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL")

os.environ.update(DUMMY_AWS_ENV)
for _name in UNSET_AWS_ENV:
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def aws_test_environment(monkeypatch):
    """Every test runs with the dummy AWS settings, even if an earlier test changed them."""
    for name, value in DUMMY_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in UNSET_AWS_ENV:
        monkeypatch.delenv(name, raising=False)


TABLE = "HostMigrationQueue"


class ModuleExit(Exception):
    """Raised in place of a module's exit_json / fail_json, carrying its result."""

    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(result)
        self.result = result
        self.failed = failed


def _exit_json(self, **kwargs):  # pylint: disable=unused-argument
    kwargs.setdefault("changed", False)
    raise ModuleExit(kwargs, failed=False)


def _fail_json(self, **kwargs):  # pylint: disable=unused-argument
    raise ModuleExit(kwargs, failed=True)


def run_module_main(module, args, check_mode=False):
    """The module's main() in this process with ``args``; returns (failed, result)."""
    from unittest import mock  # pylint: disable=import-outside-toplevel

    from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel
    from ansible.module_utils.testing import patch_module_args  # pylint: disable=import-outside-toplevel

    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with mock.patch.object(basic.AnsibleModule, "exit_json", _exit_json):
            with mock.patch.object(basic.AnsibleModule, "fail_json", _fail_json):
                with pytest.raises(ModuleExit) as exited:
                    module.main()
    return exited.value.failed, exited.value.result


def create_migration_table(dynamodb):
    """The migration table as playbooks/setup.yml makes it."""
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "HostId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "HostId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


class SimulatedWorld(object):
    """A scenario loaded into the simulator, with its EC2 and DynamoDB clients and the migration table made."""

    def __init__(self, simulator, spec):
        self.simulator = simulator
        self.names = simulator.load_scenario(spec)
        self.hosts = self.names["hosts"]
        self.instances = self.names["instances"]
        self.ec2 = simulator.client("ec2")
        self.dynamodb = create_migration_table(simulator.client("dynamodb"))

    def host(self, name):
        return self.hosts[name]

    def instance(self, name):
        return self.instances[name]


@pytest.fixture
def run_module():
    """run_module(module, args, check_mode=False) -> (failed, result)."""
    return run_module_main


@pytest.fixture
def empty_dynamodb():
    """moto's DynamoDB with no table yet; returns its client (moto serves every AWS call while the test runs)."""
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def dynamodb(empty_dynamodb):  # pylint: disable=redefined-outer-name
    """moto's DynamoDB with the migration table made; returns its client."""
    return create_migration_table(empty_dynamodb)


@pytest.fixture
def migration_table(simulator):  # pylint: disable=redefined-outer-name
    """The migration table in the simulator; returns its DynamoDB client."""
    return create_migration_table(simulator.client("dynamodb"))


@pytest.fixture
def fast_retries(monkeypatch):
    """The engine's retries of throttled and transient AWS errors in milliseconds instead of seconds."""
    from ansible_collections.dedicated_hosts.failover.plugins.module_utils import aws  # pylint: disable=import-outside-toplevel

    monkeypatch.setattr(aws, "RETRY_DELAY", 0.01)
    monkeypatch.setattr(aws, "RETRY_MAX_DELAY", 0.05)
