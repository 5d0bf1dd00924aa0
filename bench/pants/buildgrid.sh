# Sourced by the remote-cache scripts: start_buildgrid WORKDIR PYTHON starts a local BuildGrid
# (tests/pants/buildgrid.py) in the background, stops it when the script exits, and sets
# `address` to the grpc://127.0.0.1:PORT it serves. Its config and log stay in WORKDIR/buildgrid.

start_buildgrid() {
  local work="$1" python="$2" repo
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  local address_file="${work}/buildgrid/address"
  rm -f "${address_file}"
  mkdir -p "${work}/buildgrid"
  "${python}" "${repo}/tests/pants/buildgrid.py" serve --workdir "${work}/buildgrid" \
    --address-file "${address_file}" >"${work}/buildgrid/serve.log" 2>&1 &
  buildgrid_pid=$!
  trap stop_buildgrid EXIT
  while [[ ! -s "${address_file}" ]]; do
    if ! kill -0 "${buildgrid_pid}" 2>/dev/null; then
      cat "${work}/buildgrid/serve.log" >&2
      echo "error: BuildGrid did not start (log above)" >&2
      exit 1
    fi
    sleep 1
  done
  address="$(cat "${address_file}")"
  echo "== BuildGrid serving ${address}"
}

stop_buildgrid() {
  if kill -0 "${buildgrid_pid}" 2>/dev/null; then
    kill -TERM "${buildgrid_pid}" 2>/dev/null || true
    wait "${buildgrid_pid}" 2>/dev/null || true
  fi
}
