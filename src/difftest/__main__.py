"""``python -m difftest``: the same as the ``difftest`` command."""

from __future__ import annotations

from difftest.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
