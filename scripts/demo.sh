#!/usr/bin/env bash
# The main job on the bundled example (examples/shop): record a baseline, make edits, and let
# `pytest --diff` run only the tests each edit can break.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_venv .venv 3.12
PY="$PWD/.venv/bin/python"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r examples/shop/. "$work/"
cd "$work"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Each edit is undone before the next one, so every step shows what one edit selects.
undo() { cp "$OLDPWD/examples/shop/$1" "$1"; }

step "1. Record the baseline: every test runs once, with coverage"
"$PY" -m pytest --diff-baseline -q

step "2. Nothing changed: nothing runs"
"$PY" -m pytest --diff -q

step "3. Edit a function body (pricing.discount): only its test runs"
sed -i 's/(100 - percent)/(100 - percent * 1)/' src/shop/pricing.py
"$PY" -m pytest --diff --diff-v -q

undo src/shop/pricing.py
step "4. Edit a module constant (pricing.TAX_RATE): the tests that imported it run, and one fails"
sed -i 's/TAX_RATE = 0.20/TAX_RATE = 0.25/' src/shop/pricing.py
"$PY" -m pytest --diff --diff-v -q || true

undo src/shop/pricing.py
step "5. Edit a data file read by code (prices.json): its reader runs"
sed -i 's/3.5/3.75/' src/shop/data/prices.json
"$PY" -m pytest --diff --diff-v -q || true

undo src/shop/data/prices.json
step "6. Edit a dataclass default (Product.stock): every test runs, since tests/conftest.py imports the catalog"
sed -i 's/stock: int = 0/stock: int = 1/' src/shop/catalog.py
"$PY" -m pytest --diff --diff-v -q || true
