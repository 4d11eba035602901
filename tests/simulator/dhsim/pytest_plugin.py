"""pytest plugin: an in-process simulator server and a per-test `simulator` fixture.

Load it with ``pytest_plugins = ["dhsim.pytest_plugin"]`` or ``-p dhsim.pytest_plugin``, with tests/simulator on the
Python path. The server runs once per session (per xdist worker); every test starts from a clean state.
"""

import os

import boto3
import pytest
from botocore.config import Config

from .client import SimulatorControl
from .server import SimulatorServer

DEFAULT_TIME_SCALE = float(os.environ.get("DHSIM_TIME_SCALE", "0.01"))
REGION = "us-east-1"


class SimulatorHandle:
    """What the `simulator` fixture yields."""

    def __init__(self, server):
        self.server = server
        self.endpoint = server.endpoint
        self.region = REGION
        self.control = SimulatorControl(self.endpoint)

    @property
    def env(self):
        """Environment variables that point AWS SDKs and Ansible modules at the simulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, service, region=None, retries=1, access_key="testing", secret_key="testing", **config):
        """boto3 client on the simulator; retries is the total attempt count (1 = no retry, so faults are seen as injected)."""
        cfg = Config(retries={"total_max_attempts": retries, "mode": "standard"}, **config)
        return boto3.client(service, region_name=region or self.region, endpoint_url=self.endpoint,
                            aws_access_key_id=access_key, aws_secret_access_key=secret_key, config=cfg)

    def load_scenario(self, scenario, reset=True):
        """Shortcut for control.load_scenario."""
        return self.control.load_scenario(scenario, reset=reset)


@pytest.fixture(scope="session")
def dhsim_server():
    """One simulator server for the whole session (per xdist worker)."""
    server = SimulatorServer("127.0.0.1", 0, time_scale=DEFAULT_TIME_SCALE, region=REGION)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def simulator(dhsim_server):  # pylint: disable=redefined-outer-name
    """A clean simulator for one test: .endpoint, .control, .client(service), .env, .load_scenario()."""
    dhsim_server.reset()
    handle = SimulatorHandle(dhsim_server)
    yield handle
