"""What a test touches at run time: executed lines (coverage.py), files read, modules imported.

Three probes, all active only while recording:

- :class:`CoverageProbe` measures executed lines with coverage.py, one dynamic context per scope
  (a test, a test file's collection, a higher-scoped fixture's setup, the rest of the session).
- :class:`RuntimeProbe` patches ``builtins.open``/``io.open`` (and ``os.open``, ``io.FileIO``,
  ``sqlite3.connect``) and ``importlib.import_module``: a read of a project data file, or a
  dynamic import, is credited to the module being imported if one is (an import-time edge of
  the graph), else to the innermost open scope. It also patches
  the ways a process is started (``subprocess``, ``os.fork``, ``os.system``, ...): what another
  process runs is not measured, so a scope whose project code started one depends on every
  project file.
- Listing a project directory (``os.listdir``/``os.scandir``: ``glob``, ``os.walk``,
  ``Path.iterdir``) from project code is a read of the directory's listing (a data dependency
  whose version is a hash of the names in it), credited the same way as a file read.
- :class:`Scope` also snapshots ``sys.modules``, so modules first imported inside it are known.

:class:`RuntimeProbe` also notes instances that outlive a test (held by project modules, or a
higher-scoped fixture's value): a test calling their methods may read what another test stored
on them (:meth:`RuntimeProbe.share`).
"""

from __future__ import annotations

import argparse
import builtins
import collections.abc
import functools
import importlib
import importlib.machinery
import io
import itertools
import operator
import os
import sys
import sysconfig
import threading
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR
from types import (
    BuiltinFunctionType,
    CodeType,
    FrameType,
    FunctionType,
    MethodType,
    ModuleType,
)
from typing import Any, Callable

import pytest

from difftest.changes.blocks import (
    InstanceState,
    Sharing,
    parse_tree,
    sharing_of,
)
from difftest.changes.environment import (
    CWD_KEY,
    DISTRIBUTIONS_KEY,
    dist_key,
    module_files,
    option_key,
    tracked_var,
    var_key,
)
from difftest.changes.scan import is_data_path, is_project_path, listing_key, top_packages
from difftest.errors import SourceError
from difftest.graph.modules import EXTERNAL_PREFIX
from difftest.model import COLLECT_SUFFIX, digest

#: Coverage context of everything outside tests, collection and fixture setups.
SESSION_CONTEXT = "<session>"
#: Prefix of the coverage context of a higher-scoped fixture's setup.
FIXTURE_CONTEXT = "<fixture>"

_MISSING = object()

#: The sharing facts of a file that cannot be read or parsed: nothing to credit.
_NO_SHARING = Sharing(frozenset(), {})

#: A function the coverage probe runs in two scopes in a row when it starts, to check that it
#: reads what coverage.py measured (line 2 runs on each call). Its file does not exist.
_CANARY_FILE = ".difftest-canary.py"
_CANARY = "def canary():\n    return 1\n"
_CANARY_SCOPE = "<canary>"


class ProjectPaths:
    """Maps paths to root-relative POSIX paths of project files (caches and venvs excluded).

    ``repository``: the top of the work tree the root lies in, when it lies above the root (a
    project in a monorepo, see ``repository.repository_top``). Files there outside the root
    count when read as data (a sibling directory's fixtures), as ``../``-relative paths: the
    baseline stays portable between clones of the repository."""

    def __init__(self, root: Path, *, repository: Path | None = None) -> None:
        self.root = root
        prefixes = [os.path.abspath(root), os.path.realpath(root)]
        #: The root's own absolute spellings.
        self.roots = frozenset(os.path.normpath(p) for p in prefixes)
        self._prefixes = [p.rstrip(os.sep) + os.sep for p in dict.fromkeys(prefixes)]
        self._cache: dict[str, str | None] = {}
        self._data_cache: dict[str, str | None] = {}
        #: Top-level packages named like a skipped directory (``scan.top_packages``).
        self.packages = top_packages(root)
        #: Each absolute spelling of the repository's top, with the root spelt the same way.
        self._outside: list[tuple[str, str]] = []
        if repository is not None:
            for spelling in (os.path.abspath, os.path.realpath):
                top, below = spelling(repository), spelling(root)
                entry = (top.rstrip(os.sep) + os.sep, below)
                if below.startswith(entry[0]) and entry not in self._outside:
                    self._outside.append(entry)
        # Installed code outside the root but in the repository (a virtualenv with an unusual
        # name) is no data dependency: its packages count by version.
        self._libraries = [d.rstrip(os.sep) + os.sep for d in _library_dirs()] if repository else []

    def is_project(self, rel: str) -> bool:
        """``scan.is_project_path`` under this root."""
        return is_project_path(rel, self.packages)

    def is_data(self, rel: str) -> bool:
        """``scan.is_data_path`` under this root."""
        return is_data_path(rel, self.packages)

    def rel(self, path: str) -> str | None:
        """``path`` relative to the root, or None outside it or in a skipped directory."""
        return self._relative(path, self._cache, self.is_project)

    def rel_data(self, path: str) -> str | None:
        """Like :meth:`rel`, for a file read as data: build output directories count too
        (``scan.is_data_path``)."""
        return self._relative(path, self._data_cache, self.is_data, outside=True)

    def _relative(
        self,
        path: str,
        cache: dict[str, str | None],
        counts: Callable[[str], bool],
        *,
        outside: bool = False,
    ) -> str | None:
        """``outside``: whether a path in the repository outside the root counts."""
        absolute = os.path.isabs(path)
        if absolute:
            cached = cache.get(path, _MISSING)
            if cached is not _MISSING:
                return cached  # type: ignore[return-value]
        full = os.path.normpath(path if absolute else os.path.abspath(path))
        rel: str | None = None
        for prefix in self._prefixes:
            if full.startswith(prefix):
                rel = full[len(prefix) :].replace(os.sep, "/")
                if not counts(rel):
                    rel = None
                break
        else:
            rel = self._outside_rel(full) if outside else None
        if absolute:
            cache[path] = rel
        return rel

    def _outside_rel(self, full: str) -> str | None:
        """A data file in the repository but outside the root, as a ``../`` path."""
        if any(full.startswith(d) for d in self._libraries):
            return None
        for top, root in self._outside:
            if full + os.sep == top or full.startswith(top):
                in_top = full[len(top) :].replace(os.sep, "/")
                if not is_data_path(in_top):
                    return None
                return os.path.relpath(full, root).replace(os.sep, "/")
        return None

    def rel_source(self, path: str) -> str | None:
        """Like :meth:`rel`, for Python sources only."""
        rel = self.rel(path)
        return rel if rel is not None and rel.endswith(".py") else None


@dataclass
class Scope:
    """One stretch of run time whose reads and imports are gathered together."""

    key: str
    file: str | None = None
    data: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)
    #: Whether project code started a process (a subprocess, a fork) during the scope.
    spawned: bool = False
    #: ``sys.modules`` when the scope opened (a shallow copy: cheap, and new modules are
    #: appended at the end of the dict).
    modules_before: dict[str, Any] = field(default_factory=dict)

    def new_modules(self) -> list[str]:
        """Names added to ``sys.modules`` since the scope opened."""
        before = self.modules_before
        if len(sys.modules) == len(before) and next(reversed(sys.modules), None) == next(
            reversed(before), None
        ):
            return []  # the usual case: nothing was imported
        return [name for name in sys.modules if name not in before]


#: (module, attribute) of every way to start a process: ``subprocess.Popen`` (all of
#: ``subprocess``'s functions, ``os.popen``), forks (``multiprocessing``'s fork method,
#: ``os.spawn*``), ``os.system``, ``os.posix_spawn*`` and ``multiprocessing``'s spawn and
#: forkserver methods (``_posixsubprocess.fork_exec``, looked up at call time there).
_SPAWNERS = (
    ("os", "fork"),
    ("os", "forkpty"),
    ("os", "system"),
    ("os", "posix_spawn"),
    ("os", "posix_spawnp"),
    ("_posixsubprocess", "fork_exec"),
)


#: ``os.open``'s flags: the access mode bits, and "only if a directory".
_ACCESS_MODE = getattr(os, "O_ACCMODE", os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def _database_file(database: Any, uri: bool) -> str | bytes | os.PathLike[Any] | None:
    """The file ``sqlite3.connect(database, uri=uri)`` opens, or None for a database in
    memory."""
    if not isinstance(database, str):
        return database if isinstance(database, (bytes, os.PathLike)) else None
    if not uri or not database.startswith("file:"):
        return None if database in ("", ":memory:") else database
    parts = urllib.parse.urlsplit(database)
    query = urllib.parse.parse_qs(parts.query)
    if parts.path in ("", ":memory:") or query.get("mode") == ["memory"]:
        return None
    return urllib.parse.unquote(parts.path)


def _read_mode(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    mode = args[0] if args else kwargs.get("mode", "r")
    return isinstance(mode, str) and ("r" in mode or "+" in mode)


class _Unbound(functools.partial):  # type: ignore[type-arg]
    """A patched function that behaves like the built-in it replaces where a Python function
    would not: held as a class attribute (``opener = open``) it does not become a method, and
    it pickles by its public name (``os.stat``), so ``pool.map(os.stat, paths)`` still works.
    A call costs about 0.1 µs more than a function's."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return str(vars(self)["__qualname__"])


def _as_builtin(function: Callable[..., Any], module: str, name: str) -> Any:
    """``function`` (which wraps the original of ``module.name``) as an :class:`_Unbound`."""
    unbound = _Unbound(function)
    vars(unbound).update(
        __module__=module,
        __name__=name,
        __qualname__=name,
        __doc__=function.__doc__,
        __wrapped__=getattr(function, "__wrapped__", function),
    )
    return unbound


def _fd_path(fd: int) -> str | None:
    """The path of the directory (or file) open as ``fd``, as the system tells it now: Linux
    through ``/proc``, macOS through ``F_GETPATH``; None where it cannot. Asked at the read, not
    noted when the descriptor was opened: descriptors are closed, duplicated and reused, and
    some are opened in C."""
    try:
        path = os.readlink(f"/proc/self/fd/{fd}")
    except (OSError, ValueError):
        pass
    else:
        # Not "socket:[…]", "anon_inode:…", nor a directory deleted meanwhile.
        return path if os.path.isabs(path) and not path.endswith(" (deleted)") else None
    try:
        import fcntl

        flag = getattr(fcntl, "F_GETPATH", None)
        if flag is None:
            return None
        found = fcntl.fcntl(fd, flag, bytes(1024))
    except (ImportError, OSError, ValueError):
        return None
    path = os.fsdecode(found.partition(b"\0")[0])
    return path if os.path.isabs(path) else None


def _at(path: Any, dir_fd: Any) -> Any:
    """What ``path`` names when given with ``dir_fd`` (``os.open(name, dir_fd=fd)``, ``os.stat``,
    ``os.access``): the path under the directory open as ``dir_fd``; None when that directory
    cannot be told."""
    if dir_fd is None:
        return path
    name = os.fsdecode(os.fspath(path))
    if os.path.isabs(name):
        return name  # the system ignores dir_fd then
    directory = _fd_path(dir_fd) if isinstance(dir_fd, int) else None
    return None if directory is None else os.path.join(directory, name)


#: The standard library's ways to read one variable by name (``os.environ[name]`` aside), and
#: functions that read the variables a string names (``os.path.expandvars("$HOME/x")``,
#: ``string.Template(...).substitute(os.environ)``, through a ``ChainMap`` when given keywords):
#: whoever called them read the variable. Reading them all (``os.environ.items()``, ``.copy()``,
#: comparing) is no such read: CI runs differ in variables (a run id, a commit) that code
#: copying the environment does not use.
def _by_name() -> frozenset[CodeType]:
    import ntpath
    import posixpath
    import string

    functions: list[Any] = [
        os.getenv,
        getattr(os, "getenvb", None),  # POSIX only
        collections.abc.Mapping.get,
        collections.abc.Mapping.__contains__,
        collections.abc.MutableMapping.setdefault,
        posixpath.expandvars,
        ntpath.expandvars,
        collections.ChainMap.__getitem__,
        string.Template.substitute,
        string.Template.safe_substitute,
    ]
    codes = [f.__code__ for f in functions if isinstance(getattr(f, "__code__", None), CodeType)]
    # substitute's own lookups are made by a function defined inside it (re.sub calls it).
    nested = [c for code in codes for c in code.co_consts if isinstance(c, CodeType)]
    return frozenset(codes + nested)


_BY_NAME = _by_name()


#: Reads of the whole environment, or of variables a test is about to set: none is a read by
#: name, whoever called them. Copying (``os.environ.copy()``, ``.items()``, ``.values()``,
#: emptying it as ``mock.patch.dict`` does on the way out) reads every variable, and CI runs
#: differ in variables such code does not use; ``monkeypatch`` keeps a value to restore it.
def _whole_readers() -> frozenset[CodeType]:
    abc = collections.abc
    functions: list[Any] = [
        type(os.environ).copy,
        abc.ItemsView.__iter__,
        abc.ValuesView.__iter__,
        abc.ValuesView.__contains__,
        abc.MutableMapping.popitem,
        abc.MutableMapping.clear,
        pytest.MonkeyPatch.setitem,
        pytest.MonkeyPatch.delitem,
        pytest.MonkeyPatch.setenv,
        pytest.MonkeyPatch.delenv,
    ]
    return frozenset(
        f.__code__ for f in functions if isinstance(getattr(f, "__code__", None), CodeType)
    )


_WHOLE_READERS = _whole_readers()


#: How pytest reads an option for who asks (the asker is the reader).
_OPTION_READERS = frozenset({pytest.Config.getoption.__code__})


class _Unfound:
    """The last finder on ``sys.meta_path``: the import system asks it only about modules no
    other finder found, that is, about an import that is about to fail."""

    def __init__(self, probe: RuntimeProbe) -> None:
        self.probe = probe

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if not self.probe.paused:
            try:
                if path is None:
                    self.probe.on_missing(fullname, sys._getframe(1))
                else:
                    self.probe.on_missing_submodule(fullname, path, sys._getframe(1))
            except Exception:  # never let bookkeeping break the code under test
                pass
        return None


class RuntimeProbe:
    """Patches ``open``, the import system's ``get_data`` and ``importlib.import_module`` to see
    data reads and dynamic imports.

    Events are credited, in order of preference, to: the project module being imported when it
    happened (the innermost ``<module>`` frame of a project file: an edge of the import graph),
    the innermost open scope (the running test, a fixture's setup, the collected file), or the
    innermost project frame's file (an edge, e.g. a conftest hook reading a file).
    """

    #: Whether a relative path makes what ran depend on where the run started
    #: (:data:`~difftest.changes.environment.CWD_KEY`): not where every run starts in the same
    #: place (a Pants sandbox's root).
    credits_cwd = True

    def __init__(self, paths: ProjectPaths) -> None:
        self.paths = paths
        self.scopes: list[Scope] = []
        self.edges: set[tuple[str, str, str]] = set()
        #: Reads by project functions that may keep what they read, until :meth:`take_edges`
        #: looks the functions up: (file name, project file, first line, node, kind).
        self._kept_reads: set[tuple[str, str, int, str, str]] = set()
        self.paused = False
        self._code_files: dict[str, str | None] = {}
        #: project file -> the state of its classes that have instances outliving a test
        #: (:meth:`share`)
        self.shared: dict[str, list[InstanceState]] = {}
        self._states: dict[tuple[str, str], InstanceState | None] = {}
        #: Where :class:`Sharing` facts worked out beside the tests are found, by file and
        #: content hash (the analysis helper's, :meth:`~difftest.runners.pytest.prefetch.
        #: Prefetcher.sharing`): a file found there is not parsed here.
        self.analysed: Callable[[str, str], Sharing | None] | None = None
        #: project file -> its :class:`Sharing` facts (:meth:`_sharing`)
        self._analysed: dict[str, Sharing] = {}
        #: id of a module -> (the module, its globals when last looked at, :meth:`_held_by`)
        self._held: dict[int, tuple[ModuleType, list[object], list[object]]] = {}
        #: (sys.modules' values when last looked at, the project modules among them)
        self._modules: tuple[list[Any], list[ModuleType]] = ([], [])
        #: id -> type of the values :meth:`share` looked at, and of code (never shared): a
        #: later value of one of these kinds is passed over at once (most module globals are).
        self._seen_kinds: dict[int, type] = {id(k): k for k in _CODE if k is not type}
        self._orig_open: Callable[..., Any] = builtins.open
        self._orig_io_open: Callable[..., Any] = io.open
        self._orig_import_module: Callable[..., ModuleType] = importlib.import_module
        self._open = _as_builtin(self._make_open(self._orig_open), "io", "open")
        self._io_open = (
            self._open
            if self._orig_io_open is self._orig_open
            else _as_builtin(self._make_open(io.open), "io", "open")
        )
        self._import_module = _as_builtin(
            self._make_import_module(self._orig_import_module), "importlib", "import_module"
        )
        self._orig_listdir: Callable[..., Any] = os.listdir
        self._orig_scandir: Callable[..., Any] = os.scandir
        self._listdir = _as_builtin(self._make_listing(self._orig_listdir), "os", "listdir")
        self._orig_stat: Callable[..., Any] = os.stat
        self._stat = _as_builtin(self._make_stat(self._orig_stat), "os", "stat")
        self._orig_lstat: Callable[..., Any] = os.lstat
        self._lstat = _as_builtin(self._make_stat(self._orig_lstat), "os", "lstat")
        self._scandir = _as_builtin(self._make_listing(self._orig_scandir), "os", "scandir")
        # Crediting looks up the files of the frames on the stack, which asks where the run is
        # for a relative one ("<frozen posixpath>"): that ask is the probe's own.
        self._crediting_cwd = threading.local()
        self._orig_getcwd: Callable[..., Any] = os.getcwd
        self._getcwd = _as_builtin(self._make_cwd(self._orig_getcwd), "os", "getcwd")
        self._orig_getcwdb: Callable[..., Any] = os.getcwdb
        self._getcwdb = _as_builtin(self._make_cwd(self._orig_getcwdb), "os", "getcwdb")
        #: (set of os.supports_*, function added to it): the patched functions stand in the
        #: sets their originals are in, so `os.stat in os.supports_follow_symlinks` holds.
        self._supports: list[tuple[set[Any], Any]] = []
        #: Project code started a process outside any scope (at import or configuration time).
        self.spawned_outside = False
        self._patches: list[tuple[Any, str, Any, Any]] = []
        self._unfound = _Unfound(self)
        self._watched_options: Any = None
        self.installed = False

    # ------------------------------------------------------------------ patching
    def install(self) -> None:
        builtins.open = self._open
        io.open = self._io_open
        importlib.import_module = self._import_module
        os.listdir = self._listdir
        os.stat = self._stat
        os.scandir = self._scandir
        self._install_spawn_patches()
        self._install_check_patches()
        self._install_cwd_patches()
        self._install_held_patches()
        self._install_descriptor_patches()
        self._install_loader_patch()
        self._install_resource_patches()
        self._install_linecache_patch()
        self._install_environ_patch()
        self._install_metadata_patch()
        self._install_ctypes_patch()
        sys.meta_path.append(self._unfound)
        self._join_supports()
        self.installed = True

    def _join_supports(self) -> None:
        """Put each patched ``os`` function in the ``os.supports_*`` sets its original is in:
        the standard library (``shutil.rmtree``, ``shutil.copystat``) and projects choose how
        to call them by those sets."""
        replaced = [
            (self._orig_stat, self._stat),
            (self._orig_lstat, self._lstat),
            (self._orig_listdir, self._listdir),
            (self._orig_scandir, self._scandir),
            *((orig, patched) for owner, _, orig, patched in self._patches if owner is os),
        ]
        for name in (
            "supports_dir_fd",
            "supports_fd",
            "supports_follow_symlinks",
            "supports_effective_ids",
        ):
            found = getattr(os, name, None)
            if not isinstance(found, set):
                continue
            for orig, patched in replaced:
                if orig in found and patched not in found:
                    found.add(patched)
                    self._supports.append((found, patched))

    def _install_held_patches(self) -> None:
        """Some standard library modules hold the file functions they found when they were
        imported, not ``open``, ``io.open``, ``os.stat``, ``os.listdir`` and ``os.scandir`` as
        they are now: pathlib's accessor before Python 3.11 (``Path.exists``, ``Path.iterdir``,
        ``Path.glob``, on 3.10 ``Path.read_text`` and ``Path.cwd`` too), the globber of
        ``Path.glob`` from 3.13,
        and ``tarfile``, ``bz2`` and ``tokenize`` (their own name for ``open``). Without this,
        what goes through them would go unseen. They are imported here, not looked up in
        ``sys.modules``: one first imported while a probe is installed would keep that probe's
        functions once it is gone, and a later probe (another session in the process) would not
        know them."""
        import bz2
        import glob
        import pathlib
        import tarfile
        import tokenize

        functions = (
            ("stat", self._orig_stat, self._stat),
            ("lstat", self._orig_lstat, self._lstat),
            ("open", self._orig_io_open, self._io_open),
            ("listdir", self._orig_listdir, self._listdir),
            ("scandir", self._orig_scandir, self._scandir),
            ("getcwd", self._orig_getcwd, self._getcwd),  # Path.cwd() before 3.11
        )
        for owner in (
            getattr(pathlib, "_NormalAccessor", None),
            getattr(glob, "_StringGlobber", None),
        ):
            if not isinstance(owner, type):
                continue
            for attr, orig, patched in functions:
                held = vars(owner).get(attr)
                if held is not None and getattr(owner, attr) is orig:
                    # Held on the class, a function would become a method: the builtins it
                    # replaces do not.
                    setattr(owner, attr, staticmethod(patched))
                    self._patches.append((owner, attr, held, patched))
        for module, attr in (
            (tarfile, "bltn_open"),
            (bz2, "_builtin_open"),
            (tokenize, "_builtin_open"),
        ):
            if getattr(module, attr, None) is self._orig_open:
                setattr(module, attr, self._open)
                self._patches.append((module, attr, self._orig_open, self._open))

    def _install_cwd_patches(self) -> None:
        """Asking where the run is (``os.getcwd``, hence ``Path.cwd()``, ``Path.absolute()``
        and ``os.path.abspath`` of a relative path): what code builds from the answer names
        other files when the run starts elsewhere."""
        for attr, orig, patched in (
            ("getcwd", self._orig_getcwd, self._getcwd),
            ("getcwdb", self._orig_getcwdb, self._getcwdb),
        ):
            setattr(os, attr, patched)
            self._patches.append((os, attr, orig, patched))

    def _make_cwd(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        probe = self
        crediting = self._crediting_cwd

        @functools.wraps(orig)
        def getcwd() -> Any:
            if probe.credits_cwd and not probe.paused and not getattr(crediting, "on", False):
                crediting.on = True
                try:
                    probe._credit(CWD_KEY, sys._getframe(1), project_only=True, keepers=False)
                except Exception:  # never let bookkeeping break the code under test
                    pass
                finally:
                    crediting.on = False
            return orig()

        return getcwd

    def _install_check_patches(self) -> None:
        """Other ways to ask whether a file is there: ``os.lstat`` (``os.path.lexists``,
        ``os.path.islink``, ``Path.is_symlink``) and ``os.access``; and ``os.readlink``."""
        os.lstat = self._lstat
        self._patches.append((os, "lstat", self._orig_lstat, self._lstat))
        orig_access: Callable[..., Any] = os.access
        probe = self

        @functools.wraps(orig_access)
        def access(path: Any, *args: Any, **kwargs: Any) -> bool:
            result: bool = orig_access(path, *args, **kwargs)
            if not probe.paused and isinstance(path, (str, bytes, os.PathLike)):
                try:
                    found = _at(path, kwargs.get("dir_fd"))
                    if found is None:
                        probe.on_unknown_read(sys._getframe(1))
                        return result
                    try:
                        directory = S_ISDIR(probe._orig_stat(found).st_mode)
                    except OSError:
                        directory = False  # absent: what ran depends on it staying so
                    if not directory:
                        probe.on_stat(found, sys._getframe(1))
                except Exception:  # never let bookkeeping break the code under test
                    pass
            return result

        unbound_access = _as_builtin(access, "os", "access")
        os.access = unbound_access
        self._patches.append((os, "access", orig_access, unbound_access))
        # Where a link points (`os.readlink`, `Path.readlink`): a link's version holds it.
        orig_readlink: Callable[..., Any] = os.readlink

        @functools.wraps(orig_readlink)
        def readlink(path: Any, *args: Any, **kwargs: Any) -> Any:
            result = orig_readlink(path, *args, **kwargs)
            if not probe.paused and isinstance(path, (str, bytes, os.PathLike)):
                try:
                    probe.on_stat_at(path, kwargs.get("dir_fd"), sys._getframe(1))
                except Exception:  # never let bookkeeping break the code under test
                    pass
            return result

        unbound_readlink = _as_builtin(readlink, "os", "readlink")
        os.readlink = unbound_readlink
        self._patches.append((os, "readlink", orig_readlink, unbound_readlink))

    def _install_descriptor_patches(self) -> None:
        """Files opened without ``open``: ``os.open`` (then read with ``os.read`` or
        ``os.fdopen``) and SQLite databases, which ``sqlite3.connect``'s C code opens itself."""
        import _io
        import sqlite3
        import sqlite3.dbapi2

        orig_os_open: Callable[..., Any] = os.open
        os_open = _as_builtin(self._make_os_open(orig_os_open), "os", "open")
        # posix.open is os.open under the name of the module os takes it from; _io.open is
        # io.open (patched with open).
        for module, attr, orig_function, patched_function in (
            (os, "open", orig_os_open, os_open),
            (sys.modules.get(os.name), "open", orig_os_open, os_open),
            (_io, "open", self._orig_io_open, self._io_open),
        ):
            if module is not None and getattr(module, attr, None) is orig_function:
                setattr(module, attr, patched_function)
                self._patches.append((module, attr, orig_function, patched_function))
        self._install_fileio_patch()
        orig_connect: Callable[..., Any] = sqlite3.connect
        connect = _as_builtin(self._make_connect(orig_connect), "sqlite3", "connect")
        for module in (sqlite3, sqlite3.dbapi2):
            if getattr(module, "connect", None) is orig_connect:
                module.connect = connect  # type: ignore[attr-defined]
                self._patches.append((module, "connect", orig_connect, connect))

    def _install_fileio_patch(self) -> None:
        """``io.FileIO(path)`` (also ``_io.FileIO``), the raw file ``open`` builds in C, which
        some code opens itself. A built-in class takes no patch: a subclass stands in for it
        under both names, and makes the built-in class's own instances (what ``open`` returns
        holds one too): ``isinstance`` and ``issubclass`` answer for the stand-in as for the
        class, a subclass project code derives from it meanwhile works as one of the class.
        Only ``type(f) is io.FileIO`` tells them apart. ``open`` does not go through it."""
        import _io

        orig: Any = io.FileIO
        probe = self

        class _StandIn(type):
            def __instancecheck__(cls, instance: Any) -> bool:
                if cls is FileIO:
                    return isinstance(instance, orig)
                return type.__instancecheck__(cls, instance)

            def __subclasscheck__(cls, subclass: Any) -> bool:
                if cls is FileIO:
                    return issubclass(subclass, orig)
                return type.__subclasscheck__(cls, subclass)

        class FileIO(orig, metaclass=_StandIn):  # type: ignore[misc]
            __slots__ = ()
            __doc__ = orig.__doc__

            def __new__(cls, file: Any, mode: Any = "r", *args: Any, **kwargs: Any) -> Any:
                if (
                    not probe.paused
                    and isinstance(file, (str, bytes, os.PathLike))
                    and _read_mode((mode,), kwargs)
                ):
                    try:
                        probe.on_read(file, sys._getframe(1))
                    except Exception:  # never let bookkeeping break the code under test
                        pass
                if cls is FileIO:
                    return orig(file, mode, *args, **kwargs)
                return orig.__new__(cls, file, mode, *args, **kwargs)

        FileIO.__module__, FileIO.__qualname__ = orig.__module__, orig.__qualname__
        for module in (io, _io):
            if getattr(module, "FileIO", None) is orig:
                setattr(module, "FileIO", FileIO)  # noqa: B010 (_io's stubs have no FileIO)
                self._patches.append((module, "FileIO", orig, FileIO))

    def _install_loader_patch(self) -> None:
        """Package data read through the import system's loaders (``pkgutil.get_data``) goes
        through ``io.open_code`` or ``io.FileIO``, not ``open``."""
        owner: Any = next(
            (c for c in importlib.machinery.SourceFileLoader.__mro__ if "get_data" in vars(c)),
            None,
        )
        if owner is None:
            return
        orig: Callable[..., Any] = owner.get_data
        probe = self

        @functools.wraps(orig)
        def get_data(loader: Any, path: Any) -> Any:
            # Every import reads its source through here: those reads return at once.
            if not probe.paused and not str(path).endswith((".py", ".pyc")):
                try:
                    probe.on_read(path, sys._getframe(1))
                except Exception:
                    pass
            return orig(loader, path)

        owner.get_data = get_data
        self._patches.append((owner, "get_data", orig, get_data))

    def _install_resource_patches(self) -> None:
        """Python 3.9's ``importlib.resources`` (``read_text``, ``open_binary``,
        ``is_resource``, ``contents``) asks the package's loader, which opens the file with
        ``_io.FileIO``, and checks and lists with the import system's own ``posix`` functions:
        none of them is a function the probe patched. Later versions go through pathlib."""
        events: dict[str, Callable[[str, FrameType | None], None]] = {
            "open_resource": self.on_read,
            "is_resource": self.on_stat,
            "contents": self.on_list,
        }
        for attr, event in events.items():
            owner: Any = next(
                (c for c in importlib.machinery.SourceFileLoader.__mro__ if attr in vars(c)),
                None,
            )
            if owner is None:
                continue
            orig: Callable[..., Any] = vars(owner)[attr]
            patched = self._make_resource(orig, event)
            setattr(owner, attr, patched)
            self._patches.append((owner, attr, orig, patched))

    def _install_linecache_patch(self) -> None:
        """Source read through ``linecache`` (``inspect.getsource``, a traceback or warning
        rendered by project code): it keeps what it read for the whole process, so a second
        reader of a file gets it from there without opening anything."""
        import linecache

        orig: Callable[..., list[str]] = linecache.getlines
        probe = self

        @functools.wraps(orig)
        def getlines(filename: str, *args: Any, **kwargs: Any) -> list[str]:
            if (
                not probe.paused
                and isinstance(filename, str)
                and not (filename.startswith("<") and filename.endswith(">"))
            ):
                try:
                    # A test formatting a traceback would otherwise have the keepers of every
                    # function on its stack worked out, parsing each file: 0.1 s a file.
                    probe.on_read(filename, sys._getframe(1), keepers=False)
                except Exception:  # never let bookkeeping break the code under test
                    pass
                # Seen: the read linecache makes through tokenize.open is no other one.
                probe.paused = True
                try:
                    return orig(filename, *args, **kwargs)
                finally:
                    probe.paused = False
            return orig(filename, *args, **kwargs)

        linecache.getlines = getlines
        self._patches.append((linecache, "getlines", orig, getlines))

    def _install_environ_patch(self) -> None:
        """``os.environ[name]``, which ``os.environ.get``, ``in`` and ``os.getenv`` go through,
        and ``os.environb[name]`` (``os.getenvb``), a view of the same variables by bytes: both
        are instances of one class."""
        environ = os.environ
        # Only where the platform has one (POSIX); a stand-in no mapping is.
        environb: Any = getattr(os, "environb", _MISSING)
        orig: Callable[..., Any] = type(environ).__getitem__
        probe = self

        @functools.wraps(orig)
        def __getitem__(mapping: Any, key: Any) -> Any:
            now: Any = None
            try:
                now = orig(mapping, key)
                return now
            finally:
                if not probe.paused:
                    try:
                        if mapping is environ and isinstance(key, str):
                            probe.on_env(key, now, sys._getframe(1))
                        elif mapping is environb and isinstance(key, bytes):
                            # Named as os.environ names it (decoded the same way).
                            value = None if now is None else os.fsdecode(now)
                            probe.on_env(os.fsdecode(key), value, sys._getframe(1))
                    except Exception:
                        pass

        owner: Any = type(environ)
        owner.__getitem__ = __getitem__
        self._patches.append((owner, "__getitem__", orig, __getitem__))

    def _install_metadata_patch(self) -> None:
        """The path finder's ``find_distributions``, through which ``importlib.metadata`` (and
        its backport) finds installed distributions: by name (``version("x")``), or all of them
        (``entry_points()``, ``distributions()``)."""
        finder: Any = importlib.machinery.PathFinder
        held = vars(finder).get("find_distributions")  # a staticmethod (a classmethod on 3.9)
        orig: Callable[..., Any] | None = getattr(finder, "find_distributions", None)
        if held is None or orig is None:
            return
        probe = self

        @functools.wraps(orig)
        def find_distributions(*args: Any, **kwargs: Any) -> Any:
            if not probe.paused:
                context = kwargs.get("context", args[0] if args else None)
                try:
                    probe.on_distributions(getattr(context, "name", None), sys._getframe(1))
                except Exception:
                    pass
            return orig(*args, **kwargs)

        finder.find_distributions = staticmethod(find_distributions)
        self._patches.append((finder, "find_distributions", held, find_distributions))

    def _install_ctypes_patch(self) -> None:
        """``ctypes.CDLL`` (``cdll.LoadLibrary``, ``PyDLL``): a shared library loaded by path
        (a project's C core built in place) is read like a data file, though the dynamic
        loader opens it in C. A bare name (``libc.so.6``) is the system's to find."""
        import ctypes

        owner: Any = ctypes.CDLL
        orig: Callable[..., Any] = owner.__init__
        probe = self

        @functools.wraps(orig)
        def __init__(lib: Any, name: Any, *args: Any, **kwargs: Any) -> None:
            if not probe.paused and isinstance(name, (str, bytes, os.PathLike)):
                try:
                    path = os.fsdecode(os.fspath(name))
                    if os.sep in path or "/" in path:
                        probe.on_read(path, sys._getframe(1))
                except Exception:
                    pass
            orig(lib, name, *args, **kwargs)

        owner.__init__ = __init__
        self._patches.append((owner, "__init__", orig, __init__))

    def _install_spawn_patches(self) -> None:
        import subprocess

        targets: list[tuple[Any, str]] = [(subprocess.Popen, "_execute_child")]
        for module_name, attr in _SPAWNERS:
            try:
                targets.append((importlib.import_module(module_name), attr))
            except ImportError:
                continue
        for owner, attr in targets:
            orig = getattr(owner, attr, None)
            if orig is None:
                continue
            patched = self._make_spawn(orig)
            setattr(owner, attr, patched)
            self._patches.append((owner, attr, orig, patched))
        self._install_pool_patches()

    def _install_pool_patches(self) -> None:
        """Work handed to a process pool (``ProcessPoolExecutor.submit``, ``map``;
        ``multiprocessing.Pool.apply_async``, ``map``, ``imap``) runs in its worker processes,
        which may have been started before the test (a pool a module made at import, another
        test's): what they run is not measured here, as for a process the test started. A
        ``ThreadPool`` runs its work in this process, where it is measured."""
        import concurrent.futures.process
        import multiprocessing.pool

        for owner, attr in (
            (concurrent.futures.process.ProcessPoolExecutor, "submit"),
            (multiprocessing.pool.Pool, "_check_running"),  # every way to hand work over
        ):
            orig: Callable[..., Any] | None = vars(owner).get(attr)
            if orig is None:
                continue
            patched = self._make_handover(orig, multiprocessing.pool.ThreadPool)
            setattr(owner, attr, patched)
            self._patches.append((owner, attr, orig, patched))

    def uninstall(self) -> None:
        """Restore the originals (unless someone patched over us: then we only go quiet)."""
        self.paused = True
        if builtins.open is self._open:
            builtins.open = self._orig_open
        if io.open is self._io_open:
            io.open = self._orig_io_open
        if importlib.import_module is self._import_module:
            importlib.import_module = self._orig_import_module
        if os.listdir is self._listdir:
            os.listdir = self._orig_listdir
        if os.stat is self._stat:
            os.stat = self._orig_stat
        if os.scandir is self._scandir:
            os.scandir = self._orig_scandir
        if self._unfound in sys.meta_path:
            sys.meta_path.remove(self._unfound)
        if self._watched_options is not None:
            self._watched_options.__class__ = argparse.Namespace
            self._watched_options = None
        for owner, attr, orig, patched in reversed(self._patches):
            if getattr(owner, attr, None) is patched:
                setattr(owner, attr, orig)
        self._patches.clear()
        for found, patched in self._supports:
            found.discard(patched)
        self._supports.clear()
        self.installed = False

    def _make_open(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        probe = self

        @functools.wraps(orig)
        def open(file: Any, *args: Any, **kwargs: Any) -> Any:
            if (
                not probe.paused
                and isinstance(file, (str, bytes, os.PathLike))
                and _read_mode(args, kwargs)
            ):
                try:
                    probe.on_read(file, sys._getframe(1))
                except Exception:  # never let bookkeeping break the code under test
                    pass
            return orig(file, *args, **kwargs)

        return open

    def _make_import_module(self, orig: Callable[..., ModuleType]) -> Callable[..., ModuleType]:
        probe = self

        @functools.wraps(orig)
        def import_module(name: str, package: str | None = None) -> ModuleType:
            module = orig(name, package)
            if not probe.paused:
                try:
                    probe.on_import(module, sys._getframe(1))
                except Exception:
                    pass
            return module

        return import_module

    def _make_listing(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        probe = self

        entries = orig is self._orig_scandir

        @functools.wraps(orig)
        def listing(path: Any = ".") -> Any:
            if not probe.paused:
                try:
                    if isinstance(path, (str, bytes, os.PathLike)):
                        probe.on_list(path, sys._getframe(1), entries=entries)
                    elif isinstance(path, int):  # a directory open as a descriptor (os.fwalk)
                        directory = _fd_path(path)
                        if directory is None:
                            probe.on_unknown_read(sys._getframe(1))
                        else:
                            probe.on_list(directory, sys._getframe(1), entries=entries)
                except Exception:
                    pass
            return orig(path)

        return listing

    def _make_stat(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        probe = self

        @functools.wraps(orig)
        def patched_stat(path: Any, *args: Any, **kwargs: Any) -> Any:
            found = None
            try:
                found = orig(path, *args, **kwargs)
                return found
            finally:
                if (
                    not probe.paused
                    and isinstance(path, (str, bytes, os.PathLike))
                    and (found is None or not S_ISDIR(found.st_mode))
                ):
                    try:
                        probe.on_stat_at(path, kwargs.get("dir_fd"), sys._getframe(1))
                    except Exception:
                        pass

        return patched_stat

    def _make_os_open(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        probe = self

        @functools.wraps(orig)
        def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> Any:
            if (
                not probe.paused
                and isinstance(path, (str, bytes, os.PathLike))
                and isinstance(flags, int)
                and flags & _ACCESS_MODE != os.O_WRONLY
                and not flags & _O_DIRECTORY
            ):
                try:
                    named = _at(path, kwargs.get("dir_fd"))
                    if named is None:
                        probe.on_unknown_read(sys._getframe(1))
                    else:
                        probe.on_descriptor(named, sys._getframe(1))
                except Exception:
                    pass
            return orig(path, flags, *args, **kwargs)

        return os_open

    def _make_connect(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        probe = self

        @functools.wraps(orig)
        def connect(database: Any, *args: Any, **kwargs: Any) -> Any:
            if not probe.paused:
                try:
                    # uri is connect's seventh parameter after the database.
                    uri = kwargs.get("uri", args[6] if len(args) > 6 else False)
                    path = _database_file(database, bool(uri))
                    if path is not None:
                        probe.on_descriptor(path, sys._getframe(1))
                except Exception:
                    pass
            return orig(database, *args, **kwargs)

        return connect

    def _make_resource(
        self, orig: Callable[..., Any], event: Callable[[str, FrameType | None], None]
    ) -> Callable[..., Any]:
        probe = self

        @functools.wraps(orig)
        def resource(loader: Any, *args: Any) -> Any:
            if not probe.paused:
                try:
                    # The path as the loader forms it: the resource beside the package's
                    # __init__.py (for contents, the package's directory).
                    event(os.path.join(os.path.dirname(loader.path), *args[:1]), sys._getframe(1))
                except Exception:
                    pass
            return orig(loader, *args)

        return resource

    def _make_handover(self, orig: Callable[..., Any], in_process: type) -> Callable[..., Any]:
        probe = self

        @functools.wraps(orig)
        def handover(pool: Any, *args: Any, **kwargs: Any) -> Any:
            if not probe.paused and not isinstance(pool, in_process):
                try:
                    probe.on_spawn(sys._getframe(1))
                except Exception:  # never let bookkeeping break the code under test
                    pass
            return orig(pool, *args, **kwargs)

        return handover

    def _make_spawn(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        probe = self

        @functools.wraps(orig)
        def spawn(*args: Any, **kwargs: Any) -> Any:
            if not probe.paused:
                try:
                    probe.on_spawn(sys._getframe(1))
                except Exception:
                    pass
            return orig(*args, **kwargs)

        return spawn

    # ------------------------------------------------------------------ events
    def _code_file(self, filename: str) -> str | None:
        rel = self._code_files.get(filename, _MISSING)
        if rel is _MISSING:
            rel = self.paths.rel_source(filename)
            self._code_files[filename] = rel  # type: ignore[assignment]
        return rel  # type: ignore[return-value]

    def _frames(self, frame: FrameType | None) -> tuple[str | None, str | None]:
        """(file of the innermost project module being imported, innermost project file)."""
        innermost: str | None = None
        while frame is not None:
            rel = self._code_file(frame.f_code.co_filename)
            if rel is not None:
                if frame.f_code.co_name == "<module>":
                    return rel, innermost or rel
                if innermost is None:
                    innermost = rel
            frame = frame.f_back
        return None, innermost

    def on_read(self, file: Any, frame: FrameType | None, *, keepers: bool = True) -> None:
        """``keepers``: whether a project function on the stack may keep what was read for
        later tests (not for ``linecache``, which keeps it itself and is seen at every
        lookup)."""
        path = os.fsdecode(os.fspath(file))
        self._relative(path, frame)
        rel = self.paths.rel_data(path)
        if rel is None or rel.endswith((".pyc", ".pyo")):
            return
        # Source read as text (run with exec, parsed, checked for a header) is data like any
        # other file, but only when project code reads it: pytest reads each test module to
        # rewrite its asserts.
        self._credit(rel, frame, project_only=rel.endswith(".py"), keepers=keepers)

    def on_descriptor(self, file: Any, frame: FrameType | None) -> None:
        """A file opened other than through ``open`` (``os.open``, ``sqlite3.connect``): a read
        like ``open``'s, directories aside (``os.fwalk`` and ``shutil.rmtree`` open those to
        walk them)."""
        path = os.fsdecode(os.fspath(file))
        if self.paths.rel_data(path) is None:
            return
        try:
            if S_ISDIR(self._orig_stat(path).st_mode):
                return
        except OSError:
            pass  # absent: what ran depends on it staying so
        self.on_read(path, frame)

    def on_stat(self, file: Any, frame: FrameType | None) -> None:
        """Whether a file exists, or its size or time, was asked (``os.path.exists``,
        ``Path.is_file``): code that reads an optional file only when it is there depends on it
        too, absent or not. Directories (left out by the caller) and Python files count
        otherwise (listings, imports)."""
        path = os.fsdecode(os.fspath(file))
        self._relative(path, frame)
        rel = self.paths.rel_data(path)
        if rel and not rel.endswith((".py", ".pyc", ".pyo")):
            self._credit(rel, frame)

    def on_stat_at(self, path: Any, dir_fd: Any, frame: FrameType | None) -> None:
        """:meth:`on_stat` for a path given with ``dir_fd`` (``os.stat(name, dir_fd=fd)``):
        where the directory cannot be told, what was checked is unknown."""
        found = _at(path, dir_fd)
        if found is None:
            self.on_unknown_read(frame)
        else:
            self.on_stat(found, frame)

    def _relative(self, path: str, frame: FrameType | None) -> None:
        """Project code named a file by a path relative to the working directory: which file
        that is depends on where the run started."""
        if self.credits_cwd and not os.path.isabs(path):
            self._credit(CWD_KEY, frame, project_only=True, keepers=False)

    def on_list(self, directory: Any, frame: FrameType | None, *, entries: bool = False) -> None:
        """A directory listed from project code, or by a plugin's fixture while a test or a
        fixture is set up (pytest-datadir copying a test's data directory); pytest's own
        collection does not count. ``entries``: listed with ``os.scandir``, whose entries
        carry each file's ``stat`` (:meth:`on_entries`)."""
        named = os.fsdecode(os.fspath(directory))
        self._relative(named, frame)
        path = os.path.abspath(named)
        rel = "" if path in self.paths.roots else self.paths.rel_data(path)
        # Caches and tool state (.difftest, __pycache__, .pytest_cache) come and go with runs:
        # walking into them is no dependency, as their names are none in a listing.
        if rel and not self.paths.is_data(rel + "/"):
            return
        if rel is not None and os.path.isdir(path):
            self._credit(listing_key(rel), frame, project_only=True, in_tests=True)
            if entries:
                self.on_entries(path, frame)

    def on_entries(self, directory: str, frame: FrameType | None) -> None:
        """Project code scanned a project directory with ``os.scandir`` itself: each entry's
        ``stat()`` (a file's size, its times) is read without calling ``os.stat``, so every
        file listed counts as looked at, whether the code looked or not. The ways that only
        take names from it (``glob``, ``os.walk``, ``pathlib``) are the standard library's
        frames, and pass."""
        if frame is None or self._code_file(frame.f_code.co_filename) is None:
            return
        with self._orig_scandir(directory) as found:
            files = [entry.path for entry in found if not entry.is_dir()]
        for path in files:
            self.on_stat(path, frame)

    def on_unknown_read(self, frame: FrameType | None) -> None:
        """Project code read a file or listed a directory given by a descriptor whose path the
        system does not tell (``os.open(name, dir_fd=fd)`` where neither ``/proc`` nor
        ``F_GETPATH`` answers): as for a process it started, what it read is not known, so it
        depends on every project file."""
        self.on_spawn(frame)

    def _credit(
        self,
        node: str,
        frame: FrameType | None,
        *,
        kind: str = "data",
        project_only: bool = False,
        in_tests: bool = False,
        keepers: bool = True,
    ) -> None:
        """Credit a data read (a file, a listing; ``kind`` "import": a module looked for) to the
        module being imported, else the innermost scope, else the innermost project file (an
        edge). ``project_only``: only when project code is on the stack, or (``in_tests``) a
        test or fixture scope is open. ``keepers``: also to the modules of the functions on
        the stack that may keep what they read."""
        importing, innermost = self._frames(frame)
        if project_only and innermost is None:
            testing = self.scopes and not self.scopes[-1].key.endswith(COLLECT_SUFFIX)
            if not (in_tests and testing):
                return
        if importing is not None:
            self.edges.add((importing, node, kind))
        elif self.scopes:
            scope = self.scopes[-1]
            (scope.imports if kind == "import" else scope.data).add(node)
        elif innermost is not None:
            self.edges.add((innermost, node, kind))
        if innermost is not None and keepers:
            # Read by a function that may keep what it found for later tests (a memo, a cache in
            # module state or on an instance a fixture shares): those tests read it without
            # reading this, so every test that imported the function's module depends on it.
            # Which functions those are is looked up when the edges are taken, by then mostly
            # from the analysis helper: looked up at the read, the files on the stack were often
            # not analysed yet and were parsed here (boltons: five files, 0.04 s a run).
            kept = self._kept_reads
            while frame is not None:
                code = frame.f_code
                rel = self._code_file(code.co_filename)
                if rel is not None and code.co_name != "<module>":
                    kept.add((code.co_filename, rel, code.co_firstlineno, node, kind))
                frame = frame.f_back

    def take_edges(self) -> set[tuple[str, str, str]]:
        """The edges seen since the last call: reads and imports credited to project files,
        and to the files of the functions on the stack at a read that may keep what they read
        for later tests (:func:`difftest.changes.blocks.keeping_lines`)."""
        # Another thread of a test may add to them meanwhile: what is taken is a copy (made
        # in one step), and only that is removed, so nothing added since is lost.
        edges = set(self.edges)
        self.edges.difference_update(edges)
        kept = list(self._kept_reads)
        self._kept_reads.difference_update(kept)
        for filename, rel, first, node, kind in kept:
            if first in self._sharing(filename, rel).keeping:
                edges.add((rel, node, kind))
        return edges

    def _sharing(self, filename: str, rel: str) -> Sharing:
        """The :class:`Sharing` facts of a project file, worked out once per run: the helper's
        for the file as it is now, else from parsing it here. Only the facts are kept, not the
        parsed tree: a tree is thousands of objects, which every full garbage collection of the
        run would walk (on boltons, five kept trees, 19,000 objects, cost 0.09 s in all)."""
        found = self._analysed.get(rel)
        if found is not None:
            return found
        try:
            # Read past the probe (not paused: another thread's reads count meanwhile).
            with self._orig_open(filename, "rb") as source:
                content = source.read()
        except OSError:
            found = _NO_SHARING  # gone: nothing of it can be read any more
        else:
            if self.analysed is not None:
                found = self.analysed(rel, digest(content))
            if found is None:
                try:
                    found = sharing_of(parse_tree(content, rel))
                except (SourceError, RecursionError):
                    found = _NO_SHARING
        self._analysed[rel] = found
        return found

    def share(self, value: object) -> None:
        """Note that ``value`` outlives a test (a module global, a higher-scoped fixture's
        value): the state its project classes keep (:func:`difftest.changes.blocks.
        instance_state`) goes into :attr:`shared`."""
        kind = type(value)
        if id(kind) in self._seen_kinds:
            return
        self._seen_kinds[id(kind)] = kind
        for cls in kind.__mro__:
            filename = getattr(sys.modules.get(cls.__module__), "__file__", None)
            if not isinstance(filename, str):
                continue
            rel = self._code_file(filename)
            if rel is None or (rel, cls.__qualname__) in self._states:
                continue
            state = self._sharing(filename, rel).states.get(cls.__qualname__)
            self._states[(rel, cls.__qualname__)] = state
            if state is not None:
                self.shared.setdefault(rel, []).append(state)

    def share_module_globals(self) -> None:
        """:meth:`share` the instances that project modules hold at module level, in their
        classes' attributes, in the variables their functions close over (``get =
        _make_getter()``), or inside plain containers there (``_BACKENDS = {"db": {"default":
        Backend()}}``; :data:`_HELD_DEPTH` levels down, the first :data:`_HELD_SCANNED` items
        of each value), now."""
        for module in self._project_modules():
            values = list(self._held_by(module))
            for value in values:
                if isinstance(value, type):
                    # The module's own classes: instances kept in class attributes.
                    if value.__module__ == module.__name__:
                        values.extend(v for v in list(vars(value).values()) if not _is_code(v))
                else:
                    self._share_value(value, _HELD_DEPTH, [_HELD_SCANNED])

    # share_module_globals runs once per batch of records over the globals of every project
    # module: what it looks at is worked out again only when sys.modules, or a module's globals,
    # no longer hold the same objects (a C-speed comparison), not per batch.
    def _project_modules(self) -> list[ModuleType]:
        now = list(sys.modules.values())
        known = self._modules
        if not _same_objects(known[0], now):
            found = []
            for module in now:
                filename = getattr(module, "__file__", None)
                if isinstance(filename, str) and self._code_file(filename) is not None:
                    found.append(module)
            self._modules = known = (now, found)
        return known[1]

    def _held_by(self, module: ModuleType) -> list[object]:
        """The module's globals that may hold an instance: all but modules, functions without
        a closure (which hold nothing, and never will: most of a test module) and other code,
        values of kinds already looked at (:meth:`share`), and the interpreter's
        ``__builtins__``."""
        try:
            now = list(vars(module).values())
        except TypeError:
            return []
        known = self._held.get(id(module))
        if known is not None and known[0] is module and _same_objects(known[1], now):
            return known[2]
        builtin = vars(builtins)
        seen = self._seen_kinds
        held = [
            v
            for v in now
            if v is not builtin
            and (
                isinstance(v, type)  # its class attributes may hold one
                or (type(v) is FunctionType and v.__closure__)  # so may what it closes over
                or type(v) in _CONTAINERS
                or not (id(type(v)) in seen or _is_code(v))
            )
        ]
        self._held[id(module)] = (module, now, held)
        return held

    def _share_value(self, value: object, depth: int, budget: list[int]) -> None:
        """:meth:`share` ``value``, or what it holds when it is a plain container or a function
        with a closure, ``depth`` levels of them down, looking at ``budget[0]`` items at most
        (what is left is passed on)."""
        kind = type(value)
        if kind in _CONTAINERS or kind is FunctionType:
            if depth > 0 and budget[0] > 0:
                held = _cells(value) if isinstance(value, FunctionType) else _items(value)
                try:
                    items = list(itertools.islice(held, budget[0]))
                except RuntimeError:  # changed size while read (another thread)
                    return
                budget[0] -= len(items)
                seen = self._seen_kinds
                for item in items:
                    kind = type(item)
                    # Most items are of kinds looked at already: passed over without a call.
                    if kind in _CONTAINERS or kind is FunctionType or id(kind) not in seen:
                        self._share_value(item, depth - 1, budget)
        elif id(kind) not in self._seen_kinds and not _is_code(value):
            self.share(value)

    def on_spawn(self, frame: FrameType | None) -> None:
        """A process is being started: it counts when project code started it (pytest's and
        plugins' own processes do not)."""
        _, innermost = self._frames(frame)
        if innermost is None:
            return
        if self.scopes:
            self.scopes[-1].spawned = True
        else:
            self.spawned_outside = True

    def module_node(self, module: ModuleType) -> str | None:
        """The graph node of an imported module: its project file (an extension module's or a
        sourceless one's is data, by content), or ``ext:<top-level>``."""
        name = getattr(module, "__name__", None)
        if not isinstance(name, str):
            return None
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str):
            rel = self.paths.rel(filename)
            if rel is not None:
                return rel
        return EXTERNAL_PREFIX + name.partition(".")[0]

    def on_import(self, module: ModuleType, frame: FrameType | None) -> None:
        node = self.module_node(module)
        if node is None:
            return
        _, caller = self._frames(frame)
        if self.scopes:
            self.scopes[-1].imports.add(node)
        if caller is not None and caller != node:
            self.edges.add((caller, node, "import"))

    def on_env(self, name: str, now: str | None, frame: FrameType | None) -> None:
        """Environment variable ``name`` was read (``now``: its value, None if unset) by name:
        when project code is on the stack, what ran depends on it, as on a data file. A library
        reading it for project code counts too (``shutil.which`` reads ``PATH``,
        ``os.path.expanduser`` ``HOME``, a client its proxy settings): what it returns
        depends on the value."""
        while frame is not None and frame.f_code in _BY_NAME:
            frame = frame.f_back  # os.getenv, os.environ.get
        if frame is None or not tracked_var(name, now):
            return
        caller: FrameType | None = frame
        while caller is not None and self._code_file(caller.f_code.co_filename) is None:
            if caller.f_code in _WHOLE_READERS:
                return
            caller = caller.f_back
        if caller is not None:
            self._credit(var_key(name), frame, project_only=True)

    def on_distributions(self, name: str | None, frame: FrameType | None) -> None:
        """Installed distributions were looked up: distribution ``name`` (installed or not), or
        all of them (``name`` None: entry points, plugin discovery). When a test or fixture,
        or project code, asked (not pytest starting up), what ran depends on what it found,
        even through a library (``pluggy``'s plugin loading)."""
        key = dist_key(name) if isinstance(name, str) and name else DISTRIBUTIONS_KEY
        self._credit(key, frame, project_only=True, in_tests=True)

    def watch_options(self, namespace: Any) -> None:
        """Notice project code reading a pytest option (``config.getoption("--runslow")``,
        ``config.option.runslow``): what ran depends on its value, as on a variable's. pytest's
        own options too (``getoption("verbose") > 1`` turning on a debug branch): those that
        change outcomes for every test are part of the configuration as well
        (``pytest_config_value``), the others only for the tests whose code read them."""
        if type(namespace) is not argparse.Namespace:
            return
        probe = self
        known = self._code_files  # file name -> project file, None when it is no project's

        class WatchedOptions(argparse.Namespace):
            # pytest and its plugins read options tens of times per test: those reads return
            # after a frame and a dict lookup.
            def __getattribute__(self, name: str) -> Any:
                value = object.__getattribute__(self, name)
                if name[0] != "_" and not probe.paused:
                    frame: FrameType | None = sys._getframe(1)
                    if frame is not None and frame.f_code in _OPTION_READERS:
                        frame = frame.f_back
                    if frame is not None and known.get(frame.f_code.co_filename, "") is not None:
                        try:
                            probe.on_option(name, frame)
                        except Exception:
                            pass
                return value

        namespace.__class__ = WatchedOptions
        self._watched_options = namespace

    def on_option(self, name: str, frame: FrameType | None) -> None:
        """``frame`` read option ``name`` (``Config.getoption`` already skipped)."""
        if frame is None or self._code_file(frame.f_code.co_filename) is None:
            return  # pytest's or a plugin's own reading
        if not name.startswith("diff"):
            self._credit(option_key(name), frame, project_only=True)

    def on_missing(self, name: str, frame: FrameType | None) -> None:
        """Project code tried to import top-level module ``name``, which cannot be imported
        (``try: import yaml``, ``pytest.importorskip("yaml")``): what ran depends on it staying
        absent (pytest's or a plugin's own optional imports do not count)."""
        self._credit(EXTERNAL_PREFIX + name, frame, kind="import", project_only=True)

    def on_missing_submodule(self, name: str, path: Iterable[Any], frame: FrameType | None) -> None:
        """Project code tried to import submodule ``name`` of a package whose directories are
        ``path``, and none holds it (``try: from app import extra``, ``from .local_settings
        import *``): what ran depends on what would provide it staying absent: a module, a
        package, or a bare directory (a namespace package)."""
        last = name.rpartition(".")[2]
        for entry in path:
            if not isinstance(entry, (str, bytes, os.PathLike)):
                continue
            directory = os.fsdecode(os.fspath(entry))
            for candidate in module_files(directory, last):
                rel = self.paths.rel(candidate)
                if rel is not None:
                    self._credit(rel, frame, kind="import", project_only=True)
            rel = self.paths.rel(os.path.join(directory, last))
            if rel is not None:
                self._credit(rel, frame, project_only=True)

    # ------------------------------------------------------------------ scopes
    def push(self, key: str, file: str | None = None) -> Scope:
        scope = Scope(key, file, modules_before=sys.modules.copy())
        self.scopes.append(scope)
        return scope

    def pop(self, scope: Scope) -> Scope:
        """Close ``scope``: what it first imported joins its imports."""
        if self.scopes and self.scopes[-1] is scope:
            self.scopes.pop()
        elif scope in self.scopes:
            self.scopes.remove(scope)
        for name in scope.new_modules():
            module = sys.modules.get(name)
            if module is not None:
                node = self.module_node(module)
                if node is not None:
                    scope.imports.add(node)
        scope.modules_before = {}  # scopes are kept until their batch is written
        return scope


_CODE = (
    type,
    ModuleType,
    FunctionType,
    BuiltinFunctionType,
    MethodType,
    staticmethod,
    classmethod,
    property,
)


_CONTAINERS = (dict, list, tuple, set, frozenset)
#: How many items, in all, of a container a project module holds (or of the variables a function
#: it holds closes over) are looked at for shared instances.
_HELD_SCANNED = 1000
#: How many levels of containers and closures are looked into.
_HELD_DEPTH = 3


def _same_objects(before: list[Any], now: list[Any]) -> bool:
    """Whether two lists hold the same objects in the same order (compared by identity: no
    ``__eq__`` of the code under test runs)."""
    return len(before) == len(now) and all(map(operator.is_, before, now))


def _items(container: Any) -> Iterable[object]:
    return container.values() if type(container) is dict else container  # type: ignore[no-any-return]


def _cells(func: FunctionType) -> Iterator[object]:
    """The values of the variables ``func`` closes over (unset ones left out)."""
    for cell in func.__closure__ or ():
        try:
            yield cell.cell_contents
        except ValueError:
            continue


def _is_code(value: object) -> bool:
    """Classes, modules, functions and their wrappers: no instance whose state could be kept."""
    return isinstance(value, _CODE)


def other_measurement(namespace: Any, ours: object = None) -> str | None:
    """Why another coverage.py measurement than ``ours`` runs in this process (``namespace``:
    pytest's parsed options), or None. coverage.py measures one way at a time: a second
    measurement pauses the first, so one of the two would lose its lines (and stopping them out
    of order fails)."""
    if getattr(namespace, "cov_source", None) and not getattr(namespace, "no_cov", False):
        return "pytest-cov measures this run (--cov)"
    coverage = sys.modules.get("coverage")
    current = getattr(getattr(coverage, "Coverage", None), "current", None)
    if callable(current) and current() not in (None, ours):
        return (
            "coverage.py already measures this process (`coverage run`, or a plugin that starts it)"
        )
    return None


def _library_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    return sorted({paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths})


def _start_quietly(cov: Any) -> None:
    """``cov.start()``, without the call stack coverage.py's collector notes for its debug
    output: ``inspect.stack()`` reads the source of every frame, and recording starts deep in
    pytest's hooks (40 ms of a more-itertools run)."""
    collector: Any = sys.modules.get("coverage.collector")
    noted = getattr(collector, "short_stack", None)
    if callable(noted):
        collector.short_stack = lambda *args, **kwargs: "(started by difftest)"
    try:
        cov.start()
    finally:
        if callable(noted):
            collector.short_stack = noted


class CoverageProbe:
    """Executed lines per scope (a test, a collected file, a fixture setup, the rest of the
    session), measured with coverage.py on the files under the root. Data stays in memory and
    is harvested once per batch of tests.

    Scopes are told apart by taking the lines coverage.py's collector gathered since the last
    switch, straight from its in-memory table, and clearing that table in place (as coverage.py
    does itself when it saves data). Its public way, one dynamic context per scope, writes the
    table to an SQLite database at every switch: on more-itertools (664 tests) that was 1.0 s of
    a 4.5 s recording overhead, against a few milliseconds this way. The collector's table is
    not public API, so it is checked when measuring starts; a coverage.py whose collector looks
    different gets dynamic contexts (``use_contexts``), which give the same lines.

    With sys.monitoring (Python 3.12+), coverage.py turns off a line's event once it reports:
    every switch turns the events of the lines just taken back on, so that each scope sees every
    line it runs. Only the code objects holding those lines are re-armed (their local events set
    off and on again). ``sys.monitoring.restart_events`` would do it too, but it re-arms every
    event of every code object: each test then re-instruments, and calls coverage.py's start
    handler for, every function pytest itself runs. That was about a third of the recording
    overhead on more-itertools. Where coverage.py's monitor looks different, or a line taken has
    no known code object, the switch falls back to ``restart_events``. Measured on a 1000-test
    synthetic suite, the sys.monitoring core kept running cost about half of the C tracer
    started and stopped around each test.

    Shape checks cannot tell a coverage.py that fills or re-arms its table differently, so the
    probe also checks what it reads when it starts (:meth:`_check_reading`).
    """

    def __init__(self, root: Path, *, use_contexts: bool = False) -> None:
        import coverage

        self._root = os.path.abspath(root)
        self._cov = coverage.Coverage(
            data_file=None,
            config_file=False,
            include=[os.path.join(os.path.abspath(root), "*")],
            omit=[os.path.join(d, "*") for d in _library_dirs()],
        )
        #: Whether the sys.monitoring core was asked for (coverage.py falls back to its C tracer
        #: where it cannot use it; running that continuously is slower, never wrong).
        self.sysmon = sys.version_info >= (3, 12)
        try:
            self._cov.set_option("run:core", "sysmon" if self.sysmon else "ctrace")
        except Exception:  # older coverage.py: no "core" setting, the C tracer is the default
            self.sysmon = False
        self._cov.set_option(
            "run:disable_warnings",
            [
                "already-imported",
                "module-not-imported",
                "module-not-measured",
                "module-not-python",
                "no-data-collected",
                "no-ctracer",
                "include-ignored",
                "couldnt-parse",
                "no-sysmon",
                "no-sysmon-context",
            ],
        )
        self.running = False
        self.context = SESSION_CONTEXT
        #: Whether scopes are told apart with coverage.py's dynamic contexts (else: by reading
        #: its collector's table, see above).
        self.use_contexts = use_contexts
        #: The collector's table (measured file -> executed lines), once measuring started.
        self._table: dict[str, Any] | None = None
        self._mapped: Callable[[str], str] = str
        #: Lines taken from the table and not harvested yet: context -> file -> lines.
        self._taken: dict[str, dict[str, set[int]]] = {}
        #: coverage.py's sys.monitoring tracer, when its code objects can be re-armed one by one.
        self._monitor: Any = None
        #: id of a file's line set in the table -> line -> the traced code object holding it (a
        #: tuple of them where several do: not lists, which the garbage collector would visit).
        self._code_at: dict[int, dict[int, CodeType | tuple[CodeType, ...]]] = {}
        #: How many of the monitor's code objects ``_code_at`` holds.
        self._indexed = 0
        #: Scopes during which another coverage.py measurement paused this one (it started
        #: inside a test, say): what they ran is not all known.
        self.unmeasured: set[str] = set()
        self._paused_by_other = False
        self._own_stop = False
        #: Whether this measurement had to stop while another one still ran on top of it
        #: (started in a test and never stopped): coverage.py stops only the measurement on
        #: top, so this one is left paused under it, and every later scope is unmeasured.
        self._abandoned = False

    @property
    def measurement(self) -> object:
        """The coverage.py measurement this probe runs."""
        return self._cov

    def start(self, context: str) -> None:
        if not self.running and not self._abandoned:
            _start_quietly(self._cov)
            self.running = True
            self._watch_pauses()
            if self._table is None and not self.use_contexts:
                self._find_table()
                if not self.use_contexts:
                    self._check_reading()
            elif not self.use_contexts:
                # Each start makes a new tracer (which re-arms every event itself).
                self._find_monitor(getattr(self._cov, "_collector", None))
        self.switch(context)

    def _watch_pauses(self) -> None:
        """Notice another coverage.py measurement pausing this one: coverage.py pauses the
        running collector when another one starts, and resumes it when that one stops."""
        collector: Any = getattr(self._cov, "_collector", None)
        pause, resume = getattr(collector, "pause", None), getattr(collector, "resume", None)
        if not callable(pause) or not callable(resume) or hasattr(pause, "difftest_watch"):
            return

        def paused() -> None:
            if not self._own_stop:
                self._paused_by_other = True
                self.unmeasured.add(self.context)
            pause()

        def resumed() -> None:
            self._paused_by_other = False
            resume()

        paused.difftest_watch = True  # type: ignore[attr-defined]
        collector.pause, collector.resume = paused, resumed

    def _find_table(self) -> None:
        collector = getattr(self._cov, "_collector", None)
        table = getattr(collector, "data", None)
        mapped = getattr(collector, "cached_mapped_file", None)
        if (
            type(table) is dict
            and getattr(collector, "branch", True) is False
            and not getattr(collector, "static_context", None)
            and callable(mapped)
            and all(type(v) is set for v in table.values())
        ):
            self._table, self._mapped = table, mapped
            self._find_monitor(collector)
        else:
            self.use_contexts = True

    def _find_monitor(self, collector: Any) -> None:
        self._monitor, self._code_at, self._indexed = None, {}, 0
        tracers = getattr(collector, "tracers", None)
        if not self.sysmon or type(tracers) is not list or len(tracers) != 1:
            return
        monitor = tracers[0]
        if (
            type(getattr(monitor, "myid", None)) is int
            and type(getattr(monitor, "code_objects", None)) is list
            and type(getattr(monitor, "code_infos", None)) is dict
        ):
            self._monitor = monitor

    def _check_reading(self) -> None:
        """Run a canary function in two scopes in a row and fall back to a slower way of
        reading coverage.py if either scope misses its line: to ``restart_events`` if the
        targeted re-arming did not bring the line back, to dynamic contexts if the table does
        not get it at all. The shape checks above cannot tell a coverage.py that keeps its
        table's shape but fills or re-arms it differently; without this, such a version would
        silently drop dependencies."""
        self._take()  # what ran before stays with the scope it ran in
        previous, self.context = self.context, _CANARY_SCOPE
        try:
            namespace: dict[str, Any] = {}
            exec(compile(_CANARY, os.path.join(self._root, _CANARY_FILE), "exec"), namespace)
            canary = namespace["canary"]
            if not self._sees(canary) and self._monitor is not None:
                self._monitor = None
                if self._sees(canary):
                    return
            if not self._sees(canary):
                self.use_contexts = True
        finally:
            self._take()
            self._taken.pop(_CANARY_SCOPE, None)
            self.context = previous

    def _sees(self, canary: Callable[[], object]) -> bool:
        """Whether the line ``canary`` runs is taken in each of two scopes in a row."""
        seen = []
        for _ in range(2):
            self._take()
            canary()
            self._take()
            files = self._taken.pop(_CANARY_SCOPE, {})
            seen.append(any(2 in v for k, v in files.items() if k.endswith(_CANARY_FILE)))
        return all(seen)

    def _check_tracer(self) -> None:
        """Without sys.monitoring, coverage.py measures through the thread's trace function: a
        test that replaces it (``sys.settrace``, a tracing tool under test) runs unmeasured from
        then until the next start, so the scope counts as unmeasured."""
        if self.sysmon or self._paused_by_other:
            return
        tracers = getattr(getattr(self._cov, "_collector", None), "tracers", None)
        if not tracers or any(type(t).__name__ == "SysMonitor" for t in tracers):
            return
        current = sys.gettrace()
        if not any(current is t or getattr(current, "__self__", None) is t for t in tracers):
            self.unmeasured.add(self.context)

    def switch(self, context: str) -> None:
        if self.running:
            self._check_tracer()
            if self.use_contexts:
                self._cov.switch_context(context)
                if self.sysmon:
                    sys.monitoring.restart_events()  # type: ignore[attr-defined, unused-ignore]
            else:
                self._take()
        self.context = context
        if self._paused_by_other or self._abandoned:
            self.unmeasured.add(context)

    def _take(self, *, rearm: bool = True) -> None:
        """Credit what the collector gathered since the last switch to the current scope, and
        (``rearm``, with sys.monitoring) turn the events of the lines taken back on."""
        table = self._table
        if not table:
            return
        into = self._taken.setdefault(self.context, {})
        # While another measurement has paused this one, its monitoring tool is released:
        # nothing to re-arm (resuming arms every event again).
        rearm = rearm and self.sysmon and not self._paused_by_other
        codes: dict[int, CodeType] | None = {} if rearm and self._monitor is not None else None
        for filename, lines in list(table.items()):
            if lines:
                into.setdefault(self._mapped(filename), set()).update(lines)
                if codes is not None and not self._codes_of(lines, codes):
                    codes = None
                lines.clear()  # in place: the tracer holds on to this set
        if not rearm:
            return
        monitoring: Any = sys.monitoring  # type: ignore[attr-defined, unused-ignore]
        if codes is None:
            monitoring.restart_events()
            return
        self._rearm(codes.values())

    def _rearm(self, codes: Iterable[CodeType]) -> None:
        """Turn the local events of ``codes`` off and on again: lines coverage.py disabled
        report once more."""
        monitoring: Any = sys.monitoring  # type: ignore[attr-defined, unused-ignore]
        tool = self._monitor.myid
        for code in codes:
            events = monitoring.get_local_events(tool, code)
            monitoring.set_local_events(tool, code, 0)
            monitoring.set_local_events(tool, code, events)

    def _codes_of(self, lines: set[int], into: dict[int, CodeType]) -> bool:
        """Add the code objects that reported ``lines`` (a file's set in the table) to ``into``;
        False when some line has none known."""
        by_line = self._code_at.get(id(lines))
        if by_line is None or any(line not in by_line for line in lines):
            self._index_new_code()
            by_line = self._code_at.get(id(lines))
            if by_line is None:
                return False
        for line in lines:
            found = by_line.get(line)
            if found is None:
                return False
            if isinstance(found, tuple):
                for code in found:
                    into[id(code)] = code
            else:
                into[id(found)] = found
        return True

    def _index_new_code(self) -> None:
        codes = self._monitor.code_objects
        infos = self._monitor.code_infos
        for code in codes[self._indexed :]:
            data = getattr(infos.get(id(code)), "file_data", None)
            if data is None:
                continue  # not measured
            by_line = self._code_at.setdefault(id(data), {})
            for _start, _end, line in code.co_lines():
                if line is None:
                    continue
                found = by_line.get(line)
                if found is None:
                    by_line[line] = code
                elif isinstance(found, tuple):
                    if found[-1] is not code:
                        by_line[line] = (*found, code)
                elif found is not code:
                    by_line[line] = (found, code)
        self._indexed = len(codes)

    def pause(self) -> None:
        """Between tests: the C tracer stops; sys.monitoring, cheap when idle, keeps running
        (stopping and starting it would re-arm every event each time)."""
        if not self.sysmon:
            self.stop()

    def stop(self) -> None:
        if self.running:
            self._check_tracer()
            if self._paused_by_other:
                self._abandoned = True
            else:
                self._own_stop = True
                try:
                    self._cov.stop()
                finally:
                    self._own_stop = False
            self.running = False
            if not self.use_contexts:
                self._take(rearm=False)  # coverage.py re-arms every event when it starts again

    def harvest(self) -> dict[str, dict[str, set[int]]]:
        """context -> measured file -> executed lines, since the last harvest."""
        if not self.use_contexts:
            if self.running:
                self._take()
            taken, self._taken = self._taken, {}
            return {c: files for c, files in taken.items() if files}
        data = self._cov.get_data()
        result: dict[str, dict[str, set[int]]] = {}
        for filename in data.measured_files():
            if filename.endswith(_CANARY_FILE):
                continue  # the start check's, when it chose this way of reading
            for line, contexts in data.contexts_by_lineno(filename).items():
                for context in contexts:
                    result.setdefault(context, {}).setdefault(filename, set()).add(line)
        data.erase()
        return result


class NoCoverage:
    """The coverage probe of ``--diff-static``: nothing is measured, every context is empty."""

    running = False
    sysmon = False
    context = SESSION_CONTEXT
    unmeasured: frozenset[str] = frozenset()

    def start(self, context: str) -> None:
        self.context = context

    def switch(self, context: str) -> None:
        self.context = context

    def pause(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def harvest(self) -> dict[str, dict[str, set[int]]]:
        return {}


def iter_plugin_files(plugins: Iterable[object], paths: ProjectPaths) -> set[str]:
    """Project files registered as pytest plugins (``-p``, ``pytest_plugins``), conftests aside:
    their hooks can change any test's outcome."""
    files = set()
    for plugin in plugins:
        if isinstance(plugin, ModuleType):
            filename = getattr(plugin, "__file__", None)
            if isinstance(filename, str):
                rel = paths.rel_source(filename)
                if rel is not None and rel.rpartition("/")[2] != "conftest.py":
                    files.add(rel)
    return files
