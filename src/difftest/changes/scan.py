"""What is on disk now: content hashes of files, read only when their stat changed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from stat import S_ISDIR, S_ISLNK, S_IXUSR

from difftest.model import (
    ABSENT,
    DANGLING_PREFIX,
    DIRECTORY,
    EXECUTABLE_MARK,
    EXTENSIONS,
    LINK_MARK,
    LISTING,
    NO_EXTENSIONS,
    digest,
)

#: (mtime_ns, size, ctime_ns, inode, content hash): the hash is trusted while all four are
#: unchanged. mtime and size alone miss a same-size rewrite whose mtime is put back
#: (reproducible archives, Nix's mtime 1, ``cp -p``, ``touch -r``, ``rsync -t``): the kernel
#: sets ctime on every write and nothing sets it back, and a file replaced by a rename has a
#: new inode. Like git, st_dev is left out: it is not stable across remounts (NFS,
#: containers), where it would only cost a re-hash of everything.
StatEntry = tuple[int, int, int, int, str]

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
#: names), unless they are packages there too (:func:`top_packages`): deeper down they are
#: ordinary packages (``myapp/build/``, ``myapp/env/``).
TOP_SKIP_DIRS = frozenset({"build", "dist", "venv", "env", ".env"})
#: Top-level build output directories: they hold no sources (a copy of them at most), but a test
#: may read what a build put there (generated data, a built wheel it inspects).
BUILD_OUTPUT_DIRS = frozenset({"build", "dist"})
#: Names a virtualenv takes at the top of a project: skipped there when they are one
#: (:func:`top_packages`).
_ENV_NAMES = frozenset({"venv", "env", ".env", ".venv"})
#: What a virtualenv or conda environment holds, whatever its name.
_ENVIRONMENT_MARKS = ("pyvenv.cfg", "conda-meta", "bin/python", "Scripts/python.exe")
#: Names in ``SKIP_DIRS`` that installed code lives under, but that a project's own data takes
#: too (test fixtures): a read there counts, unless it is in an installation
#: (:func:`is_data_path`).
_INSTALLED_NAMES = frozenset({".venv", "node_modules", "site-packages"})
#: Hidden tool state that changes with every run, or is large, left out of "every project file"
#: (what a started process may read, :func:`iter_project_tree`) and of listings on top of
#: ``SKIP_DIRS``: a test that starts a process would otherwise run again after every run.
TOOL_STATE_DIRS = frozenset({".hypothesis", ".cache"})
#: A file changed this recently may change again within the file system's timestamp
#: granularity without its stat (``StatEntry``) changing: such hashes are not cached.
RACY_WINDOW_NS = 2_000_000_000


def top_packages(root: Path | str) -> frozenset[str]:
    """The top-level directories named like a virtualenv or build output (``TOP_SKIP_DIRS``,
    ``.venv``) that hold sources or data, and are not skipped there: Python packages (with an
    ``__init__.py``, which neither ever has), and directories with a virtualenv's name that
    are none (``env/staging.json``: no ``pyvenv.cfg``, no interpreter, no ``conda-meta``)."""
    found = set()
    for name in TOP_SKIP_DIRS | _ENV_NAMES:
        top = os.path.join(root, name)
        if os.path.isfile(os.path.join(top, "__init__.py")) or (
            name in _ENV_NAMES
            and os.path.isdir(top)
            and not any(os.path.lexists(os.path.join(top, m)) for m in _ENVIRONMENT_MARKS)
        ):
            found.add(name)
    return frozenset(found)


def top_packages_of_files(files: Collection[str]) -> frozenset[str]:
    """:func:`top_packages` for a set of root-relative files instead of a disk."""
    found = {n for n in TOP_SKIP_DIRS | _ENV_NAMES if f"{n}/__init__.py" in files}
    below: set[str] = set()
    environments: set[str] = set()
    for path in files:
        top, sep, rest = path.partition("/")
        if sep and top in _ENV_NAMES:
            below.add(top)
            if any(rest == m or rest.startswith(m + "/") for m in _ENVIRONMENT_MARKS):
                environments.add(top)
    return frozenset(found | (below - environments))


def is_skipped_dir(name: str, depth: int, packages: AbstractSet[str] = frozenset()) -> bool:
    """Whether a directory ``name`` found ``depth`` levels below the root holds no sources
    (``packages``: the root's :func:`top_packages`)."""
    return (
        name in SKIP_DIRS
        or name.endswith(".egg-info")
        or (depth == 0 and name in TOP_SKIP_DIRS and name not in packages)
    )


def is_project_path(rel: str, packages: AbstractSet[str] = frozenset()) -> bool:
    """Whether a root-relative POSIX path lies outside the skipped directories (``packages``:
    the root's :func:`top_packages`)."""
    parts = rel.split("/")[:-1]
    return not any(is_skipped_dir(part, depth, packages) for depth, part in enumerate(parts))


def _is_skipped_data_dir(
    parts: list[str], depth: int, packages: AbstractSet[str] = frozenset()
) -> bool:
    """Whether what lies below ``parts[depth]`` is no data dependency: tool state, the
    project's own environment at the top, or an installation's ``site-packages``."""
    name = parts[depth]
    if name in SKIP_DIRS:
        return name not in _INSTALLED_NAMES or _in_installation(parts, depth, packages)
    if depth == 0:
        return name in TOP_SKIP_DIRS - BUILD_OUTPUT_DIRS and name not in packages
    return False


def _in_installation(parts: list[str], depth: int, packages: AbstractSet[str]) -> bool:
    """Whether ``parts[depth]`` (one of ``_INSTALLED_NAMES``) is a real installation's: the
    project's own virtualenv at the top (:func:`top_packages`), or a site directory laid out
    as an installation lays it out (``lib/python3.12/site-packages``, ``Lib/site-packages``).
    Never ``node_modules``: Python code does not read there, project code does."""
    name = parts[depth]
    if name == ".venv":
        return depth == 0 and name not in packages
    if name == "node_modules":
        return False
    above = parts[max(depth - 2, 0) : depth]
    return (len(above) == 2 and above[0] in ("lib", "lib64") and above[1].startswith("python")) or (
        above[-1:] == ["Lib"]
    )


def is_data_path(rel: str, packages: AbstractSet[str] = frozenset()) -> bool:
    """Whether a root-relative POSIX path counts when read as data: not in tool state (caches,
    version control), the project's own virtualenv or an installation's ``site-packages``, whose
    files count by their distributions' versions. Unlike sources, files under directories that
    only take those names count (``node_modules/``, ``tests/fixtures/site-packages/``, a
    fixture's ``.venv/`` or ``.egg-info/``, a top-level ``env/`` that is no virtualenv), and so
    do the top-level build output directories (``BUILD_OUTPUT_DIRS``)."""
    parts = rel.split("/")
    return not any(_is_skipped_data_dir(parts, d, packages) for d in range(len(parts) - 1))


def _directory_key(rel_dir: str, last: str) -> str:
    return f"{rel_dir}/{last}" if rel_dir else last


def _key_directory(key: str, last: str) -> str | None:
    if key == last:
        return ""
    return key[: -len(last) - 1] if key.endswith("/" + last) else None


def listing_key(rel_dir: str) -> str:
    """The dependency key of the listing of a root-relative directory ("" for the root)."""
    return _directory_key(rel_dir, LISTING)


def listed_dir(key: str) -> str | None:
    """The root-relative directory whose listing ``key`` stands for, or None for other keys."""
    return _key_directory(key, LISTING)


def extensions_key(rel_dir: str) -> str:
    """The dependency key of the extension modules in a root-relative directory ("" for the
    root)."""
    return _directory_key(rel_dir, EXTENSIONS)


def extensions_dir(key: str) -> str | None:
    """The root-relative directory whose extension modules ``key`` stands for, or None."""
    return _key_directory(key, EXTENSIONS)


def directory_of_key(key: str) -> tuple[str, Callable[[Iterable[str]], str]] | None:
    """For a key that stands for something of a directory (its listing, its extension
    modules): the root-relative directory, and how the names in it (as :func:`listing_names`
    gives them) make the key's version. None for a file's key."""
    directory = listed_dir(key)
    if directory is not None:
        return directory, listing_digest_of
    directory = extensions_dir(key)
    if directory is not None:
        return directory, extensions_value
    return None


def is_directory_key(key: str) -> bool:
    """Whether ``key`` stands for something of a directory (its listing, its extension
    modules), not for a file."""
    return directory_of_key(key) is not None


def extensions_value(names: Iterable[str]) -> str:
    """The version of an :func:`extensions_key`, from the names in its directory (as
    :func:`listing_names` gives them): the extension modules' names, comma-joined, or
    ``NO_EXTENSIONS``. Builds for any interpreter count: which one imports is the
    interpreter's choice, and a rebuild changes what imports them by their content already."""
    return ",".join(sorted(n for n in names if is_extension_module(n))) or NO_EXTENSIONS


def listing_digest(root: Path, rel_dir: str) -> str | None:
    """A hash of the names in a directory (sub-directories marked), or None if it is not one.
    Caches, virtualenvs and compiled files are left out: they come and go with every run."""
    names = listing_names(root, rel_dir)
    return None if names is None else listing_digest_of(names)


def listing_digest_of(names: Iterable[str]) -> str:
    """The version of a directory listing: a hash of its entry names (as :func:`listing_names`
    gives them, sub-directories ending in "/"), in any order."""
    return digest("\n".join(sorted(names)).encode())


def _listed(
    name: str, is_dir: bool, depth: int, packages: AbstractSet[str] = frozenset()
) -> str | None:
    """How an entry found ``depth`` levels below the root appears in a listing (None: not)."""
    if is_dir:
        skipped = is_skipped_dir(name, depth, packages) or name in TOOL_STATE_DIRS
        return None if skipped else name + "/"
    return None if name.endswith((".pyc", ".pyo")) or is_tool_state_file(name) else name


def is_tool_state_file(name: str) -> bool:
    """Whether a file named ``name`` is run-written tool state: coverage.py's data files
    (``.coverage``, and ``.coverage.<host>.<pid>.<random>`` while a parallel run lasts)."""
    return name == ".coverage" or name.startswith(".coverage.")


def listing_names(root: Path, rel_dir: str) -> list[str] | None:
    """The names in a directory on disk, as a listing counts them, or None if it is not one."""
    full = os.path.join(root, rel_dir) if rel_dir else str(root)
    depth = rel_dir.count("/") + 1 if rel_dir else 0
    packages = frozenset() if rel_dir else top_packages(root)
    try:
        with os.scandir(full) as entries:
            found = (_listed(e.name, e.is_dir(), depth, packages) for e in entries)
            return [name for name in found if name is not None]
    except OSError:
        return None


def listing_names_of_files(files: Collection[str], rel_dir: str) -> list[str] | None:
    """The names a directory would list if it held exactly these files (root-relative POSIX
    paths) and the directories they imply; None if no file lies below it (no such directory).
    The same rules as :func:`listing_names`, for a file set instead of a disk (Pants' sandbox
    view of a target)."""
    prefix = rel_dir + "/" if rel_dir else ""
    depth = rel_dir.count("/") + 1 if rel_dir else 0
    packages = frozenset() if rel_dir else top_packages_of_files(files)
    names: set[str] = set()
    below = False
    for path in files:
        if not path.startswith(prefix) or len(path) == len(prefix):
            continue
        below = True
        name, sep, _ = path[len(prefix) :].partition("/")
        listed = _listed(name, bool(sep), depth, packages)
        if listed is not None:
            names.add(listed)
    return sorted(names) if below else None


def iter_module_files(root: Path) -> Iterator[str]:
    """Root-relative POSIX paths of the project's .py files and extension modules
    (virtualenvs and caches skipped)."""
    return (p for p in iter_project_files(root) if p.endswith(".py") or is_extension_module(p))


def is_extension_module(path: str) -> bool:
    """Whether ``path`` may be an extension module (``fast.cpython-312-x86_64-linux-gnu.so``,
    ``fast.abi3.so``, ``fast.pyd``), whichever interpreter it was built for."""
    name = path.rpartition("/")[2]
    return name.endswith((".so", ".pyd")) and name.partition(".")[0].isidentifier()


def _walk(base: str, prefix: str, packages: AbstractSet[str]) -> Iterator[str]:
    """``prefix`` + the POSIX paths relative to ``base`` of the files below it, skipping what
    :func:`is_project_path` skips as if ``base`` were the root."""
    for dirpath, dirnames, filenames in os.walk(base):
        rel = os.path.relpath(dirpath, base)
        inner = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        depth = inner.count("/")
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not is_skipped_dir(d, depth, packages)
            and not os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg"))
        )
        for name in sorted(filenames):
            yield prefix + inner + name


def iter_project_files(root: Path) -> Iterator[str]:
    """Root-relative POSIX paths of the project's files (virtualenvs and caches skipped)."""
    return _walk(str(root), "", top_packages(root))


def _walk_tree(base: str, prefix: str, packages: AbstractSet[str]) -> Iterator[str]:
    """``prefix`` + the POSIX paths relative to ``base`` of everything below it a process may
    read: files, hidden ones too, and directories (ending in "/"); a symbolic link to a
    directory as a file (its target is what it stands for, and is not walked). Skipped: what
    :func:`_walk` skips, tool state (``TOOL_STATE_DIRS``, :func:`is_tool_state_file`) and
    compiled files."""
    for dirpath, dirnames, filenames in os.walk(base):
        rel = os.path.relpath(dirpath, base)
        inner = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        depth = inner.count("/")
        kept = []
        for d in sorted(dirnames):
            if (
                is_skipped_dir(d, depth, packages)
                or d in TOOL_STATE_DIRS
                or os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg"))
            ):
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                yield prefix + inner + d
            else:
                kept.append(d)
                yield prefix + inner + d + "/"
        dirnames[:] = kept
        for name in sorted(filenames):
            if not name.endswith((".pyc", ".pyo")) and not is_tool_state_file(name):
                yield prefix + inner + name


def iter_project_tree(root: Path) -> Iterator[str]:
    """Root-relative POSIX paths of everything in the project a process started from it may
    read or list (:func:`_walk_tree`): hidden files count (``.env``, ``.config/app.ini``),
    directories end in "/"."""
    return _walk_tree(str(root), "", top_packages(root))


def iter_build_output_tree(root: Path) -> Iterator[str]:
    """:func:`iter_project_tree` of the top-level build output directories (as
    :func:`iter_build_output_files` walks them), those directories included."""
    for top in sorted(BUILD_OUTPUT_DIRS - top_packages(root)):
        full = os.path.join(root, top)
        if os.path.isdir(full):
            yield top + "/"
            yield from _walk_tree(full, top + "/", frozenset())


def iter_build_output_files(root: Path) -> Iterator[str]:
    """Root-relative POSIX paths of the files in the top-level build output directories
    (``BUILD_OUTPUT_DIRS`` that are no packages: :func:`top_packages`), skipping what
    :func:`is_data_path` skips there."""
    for top in sorted(BUILD_OUTPUT_DIRS - top_packages(root)):
        yield from _walk(os.path.join(root, top), top + "/", frozenset())


def _same_stat(cached: StatEntry, st: os.stat_result) -> bool:
    return (
        cached[0] == st.st_mtime_ns
        and cached[1] == st.st_size
        and cached[2] == st.st_ctime_ns
        and cached[3] == st.st_ino
    )


class FileHasher:
    """Content hashes of root-relative files, reusing a stat cache from the last run (a copy
    of the project elsewhere has new inodes and ctimes: it re-hashes once, then caches).

    A file's version is its content hash, marked when the file is executable (a script a test
    runs, ``os.access(path, os.X_OK)``) and, for a symbolic link, with where it points
    (``releases/current -> v2``): a ``chmod`` or a retargeted link changes what a test sees
    with no content changing. Files that are neither keep the bare hash, as before."""

    #: Whether versions carry the executable bit and link targets (off where another valuer,
    #: such as Pants' view of a sandbox, knows only content: the two must agree).
    marks_modes = True

    def __init__(self, root: Path, cache: Mapping[str, StatEntry] | None = None) -> None:
        self.root = root
        self._cache: dict[str, StatEntry] = dict(cache or {})
        self._now: dict[str, str | None] = {}
        self.updated: dict[str, StatEntry] = {}

    def hash(self, path: str) -> str | None:
        """Version of ``path`` now (its content hash, see the class), or None if it does not
        exist (or is not a file)."""
        if path in self._now:
            return self._now[path]
        directory = listed_dir(path)
        if directory is not None:
            self._now[path] = listing_digest(self.root, directory)
            return self._now[path]
        directory = extensions_dir(path)
        full = os.path.join(self.root, path if directory is None else directory)
        link: str | None = None
        try:
            st = os.lstat(full)
            if S_ISLNK(st.st_mode):
                link = os.readlink(full)
                st = os.stat(full)
        except OSError:
            self._now[path] = None
            return None
        cached = self._cache.get(path)
        if cached is not None and _same_stat(cached, st):
            value: str | None = cached[4]
        elif directory is not None:
            # A directory's mtime changes as entries come and go: one stat answers a later run.
            names = listing_names(self.root, directory) if S_ISDIR(st.st_mode) else None
            value = None if names is None else extensions_value(names)
            if value is not None:
                self._settled(path, st, value)
        else:
            try:
                with open(full, "rb") as fh:
                    data = fh.read()
            except (IsADirectoryError, PermissionError, FileNotFoundError):
                value = None
            else:
                value = digest(data)
                self._settled(path, st, value)
        if value is not None and directory is None and self.marks_modes:
            # Marked after the cache: the cache holds content, and a chmod moves the ctime.
            value += _marks(st, link)
        self._now[path] = value
        return value

    def _settled(self, path: str, st: os.stat_result, value: str) -> None:
        """Cache ``value`` unless the file changed too recently for its stat to show the next
        change. ctime counts too: a rewrite that put an old mtime back is recent all the same,
        and ctime has the same granularity as mtime."""
        changed = max(st.st_mtime_ns, st.st_ctime_ns)
        if time.time_ns() - changed > RACY_WINDOW_NS:
            self.updated[path] = (st.st_mtime_ns, st.st_size, st.st_ctime_ns, st.st_ino, value)

    def is_file(self, path: str) -> bool:
        return self.hash(path) is not None

    def data_version(self, path: str) -> str:
        """The version of ``path`` as a data dependency: its :meth:`hash`, else whether a
        directory (through a symbolic link: marked with its target), a dangling symbolic link
        or nothing is there."""
        found = self.hash(path)
        if found is not None:
            return found
        full = os.path.join(self.root, path)
        if os.path.isdir(full):
            if self.marks_modes and os.path.islink(full):
                try:
                    return DIRECTORY + _link_mark(os.readlink(full))
                except OSError:
                    pass
            return DIRECTORY
        try:
            target = os.readlink(full)
        except OSError:
            return ABSENT
        return DANGLING_PREFIX + digest(os.fsencode(target))

    def read(self, path: str) -> bytes:
        with open(os.path.join(self.root, path), "rb") as fh:
            return fh.read()


def _link_mark(target: str) -> str:
    return LINK_MARK + digest(os.fsencode(target))


def _marks(st: os.stat_result, link: str | None) -> str:
    """What a file's version adds to its content hash: the executable bit, a link's target."""
    marks = EXECUTABLE_MARK if st.st_mode & S_IXUSR else ""
    return marks if link is None else marks + _link_mark(link)
