"""Start the simulator: python tests/simulator/server.py --port 0 --scenario tests/simulator/scenarios/demo.yml."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dhsim.__main__ import main  # noqa: E402  pylint: disable=wrong-import-position

if __name__ == "__main__":
    sys.exit(main())
