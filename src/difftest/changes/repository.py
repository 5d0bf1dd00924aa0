"""The version-controlled work tree a project lies in: its top, and the commit checked out.

Read from the files git keeps (``HEAD``, loose and packed refs), not by running git: a baseline
is written at the end of every recording run, and starting a process there would cost more than
the rest of the write on a short suite.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: What marks the top of a version-controlled work tree (``.git`` is a file in a worktree or a
#: submodule).
REPOSITORY_MARKERS = (".git", ".hg")

_OBJECT_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


def _marker_above(root: Path | str) -> tuple[Path, Path] | None:
    """The nearest directory at or above ``root`` holding a :data:`REPOSITORY_MARKERS` entry,
    and that entry."""
    here = Path(os.path.abspath(root))
    for directory in (here, *here.parents):
        for name in REPOSITORY_MARKERS:
            marker = directory / name
            if marker.exists():
                return directory, marker
    return None


def repository_top(root: Path | str) -> Path | None:
    """The top of the version-controlled work tree that holds ``root``, when it lies above
    ``root`` (a project in a monorepo): None when ``root`` is the top itself or is in none."""
    found = _marker_above(root)
    if found is None or found[0] == Path(os.path.abspath(root)):
        return None
    return found[0]


def head_commit(root: Path | str) -> str | None:
    """The commit git has checked out in the work tree holding ``root`` (``git rev-parse
    HEAD``), or None: no git work tree there, no commit yet, or files it cannot read."""
    found = _marker_above(root)
    if found is None or found[1].name != ".git":
        return None
    try:
        return _resolve_head(_git_dir(found[1]))
    except (OSError, UnicodeDecodeError):
        return None


def _git_dir(marker: Path) -> Path:
    """The git directory behind a ``.git`` entry: itself, or where a worktree's or a
    submodule's ``.git`` file points (``gitdir: PATH``, relative to the file)."""
    if marker.is_dir():
        return marker
    text = marker.read_text(encoding="utf-8").strip()
    if not text.startswith("gitdir:"):
        raise OSError(f"{marker}: not a gitdir link")
    return marker.parent / text[len("gitdir:") :].strip()


def _resolve_head(git_dir: Path) -> str | None:
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    # A worktree keeps its own HEAD; its branches live in the main repository ("commondir").
    common = git_dir
    if (git_dir / "commondir").is_file():
        common = git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()
    for _ in range(5):  # a symbolic ref may name another one
        if not head.startswith("ref:"):
            return head if _OBJECT_ID.fullmatch(head) else None
        ref = head[len("ref:") :].strip()
        found = _read_ref(git_dir, common, ref)
        if found is None:
            return None  # a branch with no commit yet
        head = found
    return None


def _read_ref(git_dir: Path, common: Path, ref: str) -> str | None:
    for base in dict.fromkeys((git_dir, common)):
        loose = base / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip()
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            object_id, _, name = line.partition(" ")
            if name == ref and _OBJECT_ID.fullmatch(object_id):
                return object_id
    return None
