#!/usr/bin/env bash
# The default test run (what CI runs): every suite except those marked slow.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m pytest -m "not slow" --timeout=600 -q "$@"
