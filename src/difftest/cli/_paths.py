"""Where the baseline is, for the subcommands that take ``--db`` and ``--root``."""

from __future__ import annotations

from pathlib import Path

from difftest.config import DEFAULT_DB
from difftest.errors import DifftestError
from difftest.storage.remote import is_url


def baseline_path(db: str | None, root: str | None) -> Path:
    """``--db`` as given, or ``.difftest/baseline.db`` under ``--root`` (default: cwd)."""
    if db and is_url(db):
        raise DifftestError(
            f"{db} is a URL; this command works on a local baseline file. Fetch it first with "
            f"`difftest download {db} --db PATH`, then pass that PATH."
        )
    if root is not None and not Path(root).is_dir():
        raise DifftestError(
            f"--root {root} is not a directory. Give the project's root directory, the one "
            "pytest ran in."
        )
    if db:
        return Path(db)
    return Path(root or ".") / DEFAULT_DB
