#!/usr/bin/env bash
# The difftest Pants plugin with Pants' REAPI remote cache (a local BuildGrid, tests/pants/buildgrid.py):
# a second checkout with empty local caches and no recorded graph gets every record back from the
# remote cache instead of re-running tests.
#
#   bash bench/pants/remote_cache_plugin.sh [WORKDIR]    (default: a new directory under $TMPDIR)
#
# 1. Checkout A (a git copy of examples/monorepo, empty local caches, remote cache read + write)
#    runs `pants difftest ::`: every python_test target runs and is recorded into
#    .difftest/pants-graph.json.
# 2. Checkout B (another copy, its own empty --local-store-dir and --named-caches-dir, no .difftest/)
#    runs `pants difftest ::`. Checked: every target is reported "(cached remotely)", with the same
#    number of tests as in A (no test re-ran; the records came back as the results' extra output),
#    and B's rebuilt .difftest/pants-graph.json is byte-identical to A's.
# 3. The same function-body edit in both; A, then B, runs `pants difftest ::`. Checked: both print
#    the same selection (targets, tests, reasons) and run the same tests; B's results come from the
#    remote cache again (A's selective run wrote them); the two graphs are byte-identical again.
#
# Exit 0 only when every check passes. WORKDIR keeps the checkouts, the Pants logs, the caches and
# BuildGrid's config and log. The plugin (pants-plugins/ and src/) is copied into WORKDIR/plugin
# first, so both checkouts inject byte-identical engine files even while the working tree changes.
# Takes 4-8 minutes on 2 CPUs (the first use also installs BuildGrid, 1-2 minutes).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-$(mktemp -d "${TMPDIR:-/tmp}/difftest-remote-cache-plugin.XXXXXX")}"
python="${DIFFTEST_SMOKE_PYTHON:-python3}"
mkdir -p "${work}"
work="$(cd "${work}" && pwd)"
total_start=${SECONDS}
echo "== difftest plugin + remote cache in ${work}"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# ---------------------------------------------------------------- BuildGrid
# shellcheck source=bench/pants/buildgrid.sh
source "${repo}/bench/pants/buildgrid.sh"
start_buildgrid "${work}" "${python}"

# ---------------------------------------------------------------- the plugin and the checkouts
rm -rf "${work}/plugin"
mkdir -p "${work}/plugin"
cp -R "${repo}/pants-plugins" "${repo}/src" "${work}/plugin/"
find "${work}/plugin" -name __pycache__ -type d -prune -exec rm -rf {} +

make_checkout() {  # make_checkout NAME
  local dir="${work}/$1"
  rm -rf "${dir}" "${work}/caches/$1"
  cp -R "${repo}/examples/monorepo" "${dir}"
  rm -rf "${dir}/.difftest"
  find "${dir}" -name __pycache__ -type d -prune -exec rm -rf {} +
  (
    cd "${dir}"
    git init -q
    git config user.email remote-cache@example.invalid
    git config user.name remote-cache
    git add -A
    git commit -qm initial
  )
}

run_difftest() {  # run_difftest NAME STEP: `pants difftest ::` in checkout NAME, log in NAME-STEP.log
  local name="$1" log="${work}/$1-$2.log" start=${SECONDS} code=0
  (
    cd "${work}/${name}"
    "${repo}/pants" --no-pantsd \
      "--pythonpath=['${work}/plugin/pants-plugins', '${work}/plugin/src']" \
      --local-store-dir="${work}/caches/${name}/lmdb_store" \
      --named-caches-dir="${work}/caches/${name}/named_caches" \
      --remote-cache-read --remote-cache-write \
      --remote-store-address="${address}" --remote-instance-name= \
      --stats-log \
      difftest :: >"${log}" 2>&1
  ) || code=$?
  echo "== ${name}, ${2}: pants difftest :: exited ${code} in $((SECONDS - start)) s"
  if [[ ${code} -ne 0 ]]; then
    tail -40 "${log}" >&2
    fail "pants difftest :: failed in checkout ${name} (${log})"
  fi
}

results() {  # results LOG: the result lines, one per target
  grep -E '^[✓✕] ' "$1" || true
}

selection() {  # selection LOG: the decisions and per-target test counts, without timings and cache sources
  grep -E '^difftest: [0-9]+ python_test targets|^  (run|skip)  |^        [^ ]+::' "$1" || true
  results "$1" | sed -E 's/ in [0-9.]+s( \([^)]*\))?//'
}

edit_clamp() {  # edit_clamp DIR: a function-body edit (shared/mathutil.py::clamp)
  local file="$1/src/python/shared/mathutil.py"
  grep -q 'max(low, min(high, value))' "${file}" || fail "the clamp() body to edit is not in ${file}"
  sed -i 's/max(low, min(high, value))/min(high, max(low, value))/' "${file}"
}

graph_a="${work}/A/.difftest/pants-graph.json"
graph_b="${work}/B/.difftest/pants-graph.json"

same_graph() {  # same_graph WHEN
  [[ -s "${graph_a}" && -s "${graph_b}" ]] || fail "$1: a checkout has no .difftest/pants-graph.json"
  if cmp -s "${graph_a}" "${graph_b}"; then
    echo "OK: $1: B's .difftest/pants-graph.json is byte-identical to A's ($(wc -c <"${graph_a}") bytes, sha256 $(sha256sum "${graph_a}" | cut -c1-16)...)"
  else
    diff -u "${graph_a}" "${graph_b}" | head -40 >&2 || true
    fail "$1: B's .difftest/pants-graph.json differs from A's (diff above)"
  fi
}

make_checkout A
make_checkout B

# ---------------------------------------------------------------- 1. A records everything
run_difftest A record
results "${work}/A-record.log"
grep -E 'remote_cache_requests(_cached|_uncached)?: ' "${work}/A-record.log" || true
[[ $(results "${work}/A-record.log" | grep -c '^✓ ') -eq 6 ]] || fail "A: expected 6 targets to succeed"
grep -q 'cached remotely' <(results "${work}/A-record.log") \
  && echo "note: some of A's results were already in the remote cache (a reused BuildGrid?)"
grep -q '6 to run (6 without recorded data)' "${work}/A-record.log" || fail "A: expected 6 targets without records"
[[ -s "${graph_a}" ]] || fail "A: no .difftest/pants-graph.json written"
echo "OK: A ran and recorded 6 targets: $(grep -o 'wrote .difftest/pants-graph.json ([0-9]* test records)' "${work}/A-record.log")"

# ---------------------------------------------------------------- 2. B: empty local caches, no artifact
[[ ! -e "${work}/B/.difftest" && ! -e "${work}/caches/B" ]] || fail "B: not a fresh checkout"
run_difftest B fresh
results "${work}/B-fresh.log"
grep -E 'remote_cache_requests(_cached|_uncached)?: ' "${work}/B-fresh.log" || true
[[ $(results "${work}/B-fresh.log" | grep -c '^✓ .*(cached remotely)') -eq 6 ]] \
  || fail "B: not every one of the 6 targets was reported (cached remotely): a test re-ran"
[[ $(results "${work}/B-fresh.log" | grep -vc '(cached remotely)') -eq 0 ]] \
  || fail "B: a result that is not (cached remotely)"
echo "OK: B: all 6 targets (cached remotely): no test re-ran"
if diff <(selection "${work}/A-record.log") <(selection "${work}/B-fresh.log") >/dev/null; then
  echo "OK: B: the same targets, with the same test counts, as A's recording run"
else
  diff <(selection "${work}/A-record.log") <(selection "${work}/B-fresh.log") >&2 || true
  fail "B: targets or test counts differ from A's"
fi
same_graph "after B's first run"

# ---------------------------------------------------------------- 3. the same edit in both
edit_clamp "${work}/A"
edit_clamp "${work}/B"
run_difftest A edit
run_difftest B edit
selected="$(selection "${work}/A-edit.log")"  # (not `selection | grep -q`: SIGPIPE under pipefail)
echo "-- A's selection after the edit:"
echo "${selected}"
grep -q '^  run ' <<<"${selected}" || fail "A: the edit selected nothing"
if diff <(selection "${work}/A-edit.log") <(selection "${work}/B-edit.log") >/dev/null; then
  echo "OK: after the edit, B selects and runs the same targets and tests as A"
else
  diff <(selection "${work}/A-edit.log") <(selection "${work}/B-edit.log") >&2 || true
  fail "after the edit, B's selection differs from A's (diff above: < A, > B)"
fi
n_edit=$(results "${work}/A-edit.log" | wc -l)
if [[ $(results "${work}/B-edit.log" | grep -c '(cached remotely)') -eq ${n_edit} ]]; then
  echo "OK: B's ${n_edit} selective results came from the remote cache (A's run wrote them)"
else
  results "${work}/B-edit.log" >&2
  fail "after the edit, B re-ran a test A had already run with the same selection"
fi
same_graph "after the edit"

echo "PASS: all checks passed in $((SECONDS - total_start)) s"
