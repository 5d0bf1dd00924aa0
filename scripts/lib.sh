# Shared helpers for the scripts: find a Python by minor version and make a venv with difftest.
# shellcheck shell=bash

find_python() {  # find_python 3.12 -> path of a python3.12 binary
  local want="$1" candidate
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/"$want".*/bin/python"$want"; do
      [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
  fi
  candidate="$(command -v "python$want" || true)"
  [ -n "$candidate" ] && { echo "$candidate"; return 0; }
  echo "error: Python $want not found (looked in pyenv and on PATH). Install it, e.g. 'pyenv install $want'." >&2
  return 1
}

ensure_venv() {  # ensure_venv DIR VERSION [EXTRAS]: a venv with difftest installed editable
  local dir="$1" version="$2" extras="${3:-dev}" python
  if [ ! -x "$dir/bin/python" ] || [ ! -f "$dir/.difftest-ready" ] || [ pyproject.toml -nt "$dir/.difftest-ready" ]; then
    python="$(find_python "$version")"
    rm -rf "$dir"
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --upgrade pip
    "$dir/bin/python" -m pip install --quiet -e ".[$extras]"
    touch "$dir/.difftest-ready"
  fi
}
