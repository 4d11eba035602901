"""The eda suite: ansible-rulebook (from .work/venv-eda, with Java 17) runs the rulebook of extensions/eda against
the simulator's SQS. The integration suite's helpers (tests/integration/conftest.py) are reused under their own
module name."""

import os
import sys

INTEGRATION_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration")
if INTEGRATION_PATH not in sys.path:
    sys.path.insert(0, INTEGRATION_PATH)  # scenarios.py, support_runs.py

from reuse import integration_helpers  # noqa: E402  pylint: disable=wrong-import-position

integration = integration_helpers()  # also puts tests/simulator on sys.path for the plugin below

pytest_plugins = ["dhsim.pytest_plugin"]

run_playbook = integration.run_playbook  # the fixture
# What support_runs.py imports from "conftest".
TABLE = integration.TABLE
read_record = integration.read_record
