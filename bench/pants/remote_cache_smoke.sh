#!/usr/bin/env bash
# Smoke check of Pants' REAPI remote cache against a local BuildGrid server (tests/pants/buildgrid.py).
#
# Two copies, A and B, of a tiny repository (the launcher ./pants, a plain-Pants pants.toml and
# tests/pants_smoke/) each run `./pants --no-pantsd test tests/pants_smoke::` with their own, empty
# local caches (--local-store-dir, --named-caches-dir). A runs the test and writes the remote cache;
# B must get the test's result "(cached remotely)". Exit 0 when it does, 1 otherwise.
#
#   bash bench/pants/remote_cache_smoke.sh [WORKDIR]     (default: a new directory under $TMPDIR)
#
# WORKDIR keeps the copies, the Pants logs and BuildGrid's config and log. The Pants install (./pants)
# and the BuildGrid venv are shared through ${DIFFTEST_PANTS_HOME:-~/.cache/difftest-pants}.
# Takes 3-6 minutes on 2 CPUs (the first use also installs BuildGrid, 1-2 minutes).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-$(mktemp -d "${TMPDIR:-/tmp}/difftest-remote-cache-smoke.XXXXXX")}"
python="${DIFFTEST_SMOKE_PYTHON:-python3}"
mkdir -p "${work}"
work="$(cd "${work}" && pwd)"
echo "== remote cache smoke in ${work}"

# ---------------------------------------------------------------- BuildGrid
# shellcheck source=bench/pants/buildgrid.sh
source "${repo}/bench/pants/buildgrid.sh"
start_buildgrid "${work}" "${python}"

# ---------------------------------------------------------------- the two copies
make_copy() {  # make_copy DIR
  local dir="$1"
  rm -rf "${dir}"
  mkdir -p "${dir}/tests"
  cp "${repo}/pants" "${dir}/pants"
  cp -R "${repo}/tests/pants_smoke" "${dir}/tests/pants_smoke"
  rm -rf "${dir}/tests/pants_smoke/__pycache__"
  {
    cat <<TOML
[GLOBAL]
pants_version = "2.17.1"
backend_packages = ["pants.backend.python"]
remote_cache_read = true
remote_cache_write = true
remote_store_address = "${address}"
remote_instance_name = ""

[anonymous-telemetry]
enabled = false

[python]
interpreter_constraints = ["==3.11.*"]
enable_resolves = false

[python-infer]
use_rust_parser = true

TOML
    # The locally built pex tool's pin, as in the project's pants.toml (./pants provides the file).
    awk '/^\[pex-cli\]/ { on = 1; print; next } /^\[/ { on = 0 } on' "${repo}/pants.toml"
  } >"${dir}/pants.toml"
}

run_copy() {  # run_copy NAME: prints the log's path
  local dir="${work}/$1"
  (
    cd "${dir}"
    ./pants --no-pantsd \
      --local-store-dir="${dir}/.cache/lmdb_store" \
      --named-caches-dir="${dir}/.cache/named_caches" \
      --stats-log \
      test tests/pants_smoke:: >"${work}/$1.log" 2>&1
  ) || {
    cat "${work}/$1.log" >&2
    echo "error: ./pants test failed in copy $1 (log above)" >&2
    exit 1
  }
}

make_copy "${work}/A"
make_copy "${work}/B"

start=${SECONDS}
run_copy A
echo "== A (empty caches, writes the remote cache): $((SECONDS - start)) s"
grep -E '^[✓✕] ' "${work}/A.log" || true

start=${SECONDS}
run_copy B
echo "== B (empty local caches, reads the remote cache): $((SECONDS - start)) s"
grep -E '^[✓✕] ' "${work}/B.log" || true
grep -E 'remote_cache_requests(_cached|_uncached)?: ' "${work}/B.log" || true

if grep -qE '^✓ tests/pants_smoke/test_smoke\.py:tests succeeded in .*\(cached remotely\)' "${work}/B.log"; then
  echo "OK: copy B's test result came from the remote cache"
else
  echo "FAIL: copy B's test did not come from the remote cache (see ${work}/B.log)" >&2
  exit 1
fi
