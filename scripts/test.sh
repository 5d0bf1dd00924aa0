#!/usr/bin/env bash
# Every check the project runs: lint, types, the test suite under Pants 2.17.1 (pytest 7.0.1 on
# Python 3.11) and with plain pytest on Python 3.12 and 3.9, and on 3.10 and 3.13 where this
# machine has them.
# Set-up (venvs with difftest and its dev dependencies; ./pants installs Pants) happens on first use.
# Arguments go to the plain pytest runs. DIFFTEST_SKIP_PANTS=1 leaves out the Pants run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_venv .venv 3.12
ensure_venv .venv39 3.9

echo "== lint and types"
.venv/bin/ruff check src tests pants-plugins bench scripts
.venv/bin/ruff format --check src tests pants-plugins bench scripts
.venv/bin/mypy

if [ "${DIFFTEST_SKIP_PANTS:-}" != "1" ]; then
  # No pantsd: one invocation gains nothing from the daemon, and none is left running afterwards.
  echo "== tests under Pants 2.17.1 (pytest 7.0.1, Python 3.11)"
  ./pants --no-pantsd test ::
  # The plugin's own tests need Pants' Python 3.9 and pantsbuild.pants.testutil (the Pants venv),
  # while the project's tests run on 3.11 under Pants: run them with the Pants venv's pytest.
  echo "== Pants plugin tests (RuleRunner, Pants' Python 3.9)"
  PYTHONPATH=pants-plugins:src "$(DIFFTEST_PANTS_PRINT_VENV=1 ./pants)/bin/python" \
    -m pytest -q -p no:cacheprovider pants-plugins/difftest
fi

echo "== tests on Python 3.12"
.venv/bin/python -m pytest -n 2 "$@"
echo "== tests on Python 3.9 (the real-Pants end-to-end tests ran above already)"
.venv39/bin/python -m pytest -n 2 -m "not pants" "$@"
# The other supported versions without a run above: each has its own ways of reaching files and
# code (Python 3.10's pathlib goes through functions it bound at import, which the probe missed).
for version in 3.10 3.13; do
  if find_python "$version" >/dev/null 2>&1; then
    ensure_venv ".venv${version/./}" "$version"
    echo "== tests on Python $version"
    ".venv${version/./}/bin/python" -m pytest -n 2 -m "not pants" "$@"
  else
    echo "== Python $version not found (pyenv or PATH): its run is left out"
  fi
done
