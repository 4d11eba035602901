#!/usr/bin/env bash
# The demo command's body (make demo runs scripts/bootstrap.sh first).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/demo.py "$@"
