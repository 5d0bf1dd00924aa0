"""What is on disk now: content hashes of files, read only when their stat changed."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from difftest.changes.blocks import digest

StatEntry = tuple[int, int, str]  # (mtime_ns, size, content hash)

#: Directories never searched for project sources, at any depth.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "node_modules",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".difftest",
        ".eggs",
        "site-packages",
        ".pants.d",
        ".idea",
        ".vscode",
    }
)
#: Directories skipped only at the top of the project (build output, conventional virtualenv
#: names): deeper down they are ordinary packages (``myapp/build/``, ``myapp/env/``).
TOP_SKIP_DIRS = frozenset({"build", "dist", "venv", "env", ".env"})
#: A file changed this recently may change again within the file system's timestamp
#: granularity without its (mtime, size) changing: such hashes are not cached.
RACY_WINDOW_NS = 2_000_000_000


def is_skipped_dir(name: str, depth: int) -> bool:
    """Whether a directory ``name`` found ``depth`` levels below the root holds no sources."""
    return name in SKIP_DIRS or name.endswith(".egg-info") or (depth == 0 and name in TOP_SKIP_DIRS)


def is_project_path(rel: str) -> bool:
    """Whether a root-relative POSIX path lies outside the skipped directories."""
    parts = rel.split("/")[:-1]
    return not any(is_skipped_dir(part, depth) for depth, part in enumerate(parts))


def iter_python_files(root: Path) -> Iterator[str]:
    """Root-relative POSIX paths of the project's .py files (virtualenvs and caches skipped)."""
    return (path for path in iter_project_files(root) if path.endswith(".py"))


def iter_project_files(root: Path) -> Iterator[str]:
    """Root-relative POSIX paths of the project's files (virtualenvs and caches skipped)."""
    root_str = str(root)
    for dirpath, dirnames, filenames in os.walk(root_str):
        rel = os.path.relpath(dirpath, root_str)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        depth = prefix.count("/")
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not is_skipped_dir(d, depth)
            and not os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg"))
        )
        for name in sorted(filenames):
            yield prefix + name


class FileHasher:
    """Content hashes of root-relative files, reusing a stat cache from the last run."""

    def __init__(self, root: Path, cache: Mapping[str, StatEntry] | None = None) -> None:
        self.root = root
        self._cache: dict[str, StatEntry] = dict(cache or {})
        self._now: dict[str, str | None] = {}
        self.updated: dict[str, StatEntry] = {}

    def hash(self, path: str) -> str | None:
        """Content hash of ``path`` now, or None if it does not exist (or is not a file)."""
        if path in self._now:
            return self._now[path]
        full = os.path.join(self.root, path)
        try:
            st = os.stat(full)
        except OSError:
            self._now[path] = None
            return None
        cached = self._cache.get(path)
        if cached is not None and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
            value: str | None = cached[2]
        else:
            try:
                with open(full, "rb") as fh:
                    data = fh.read()
            except (IsADirectoryError, PermissionError, FileNotFoundError):
                value = None
            else:
                value = digest(data)
                if time.time_ns() - st.st_mtime_ns > RACY_WINDOW_NS:
                    self.updated[path] = (st.st_mtime_ns, st.st_size, value)
        self._now[path] = value
        return value

    def read(self, path: str) -> bytes:
        with open(os.path.join(self.root, path), "rb") as fh:
            return fh.read()
