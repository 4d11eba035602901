"""The integration suite's helpers for the suites that reuse them (tests/installed, tests/eda).

pytest imports every suite's conftest.py under the one name ``conftest``, so a suite that wants the integration
suite's fixtures and helpers loads tests/integration/conftest.py again under a name of its own.
"""

import importlib.util
import os
import sys

INTEGRATION_PATH = os.path.dirname(os.path.abspath(__file__))
MODULE_NAME = "integration_conftest"


def integration_helpers():
    """tests/integration/conftest.py as the module ``integration_conftest`` (loaded once)."""
    if MODULE_NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(MODULE_NAME, os.path.join(INTEGRATION_PATH, "conftest.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[MODULE_NAME]
