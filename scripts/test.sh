#!/usr/bin/env bash
# Every check the project runs: lint, types, the test suite on Python 3.12 and 3.9.
# Set-up (venvs with difftest and its dev dependencies) happens on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_venv .venv 3.12
ensure_venv .venv39 3.9

echo "== lint and types"
.venv/bin/ruff check src tests pants-plugins bench scripts
.venv/bin/ruff format --check src tests pants-plugins bench scripts
.venv/bin/mypy

echo "== tests on Python 3.12"
.venv/bin/python -m pytest -n 2 "$@"
echo "== tests on Python 3.9"
.venv39/bin/python -m pytest -n 2 "$@"
