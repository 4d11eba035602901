"""Makes the dhsim package importable and provides its fixtures to the simulator's own tests."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from dhsim import pytest_plugin  # noqa: E402  pylint: disable=wrong-import-position

dhsim_server = pytest_plugin.dhsim_server
simulator = pytest_plugin.simulator
