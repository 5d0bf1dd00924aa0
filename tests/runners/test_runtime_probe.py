"""The run-time probe sees files a test looks at through pathlib on every supported Python, and
leaves none of the file functions it patched (those of pathlib, tarfile, bz2, tokenize,
linecache, os, sqlite3 and the package loader) behind when it is uninstalled."""

from __future__ import annotations

import ast
import builtins
import bz2
import gc
import glob
import importlib.machinery
import io
import linecache
import os
import pathlib
import sqlite3
import sqlite3.dbapi2
import sys
import tarfile
import tokenize
import types
from pathlib import Path
from typing import Any

import pytest

from difftest.changes.blocks import Sharing, sharing_of
from difftest.changes.repository import repository_top
from difftest.changes.scan import listing_key
from difftest.runners.pytest import probes
from difftest.runners.pytest.probes import ProjectPaths, RuntimeProbe


def _probe_functions() -> list[str]:
    """The functions of the probe module that the file functions of the standard library are
    now (none once the probe is uninstalled)."""
    candidates: list[Any] = [builtins.open, io.open, os.stat, os.listdir, os.scandir, os.open]
    candidates += [os.lstat, os.access]
    candidates += [sqlite3.connect, sqlite3.dbapi2.connect]
    # The package loader's resource functions (importlib.resources on 3.9).
    loader = importlib.machinery.SourceFileLoader
    candidates += [getattr(loader, name, None) for name in ("open_resource", "is_resource")]
    candidates += [tarfile.bltn_open, bz2._builtin_open]  # type: ignore[attr-defined]
    candidates += [tokenize._builtin_open, linecache.getlines]  # type: ignore[attr-defined]
    # pathlib's accessor (Python 3.9 and 3.10) and Path.glob's globber (3.13 on).
    for owner in (getattr(pathlib, "_NormalAccessor", None), getattr(glob, "_StringGlobber", None)):
        for name in ("stat", "lstat", "open", "listdir", "scandir"):
            candidates.append(getattr(owner, name, None))
    return [
        f.__name__
        for f in candidates
        if getattr(getattr(f, "__code__", None), "co_filename", "").endswith("probes.py")
    ]


def test_a_test_that_looks_at_files_through_pathlib_depends_on_them(tmp_path: Path) -> None:
    (tmp_path / "flags").mkdir()
    (tmp_path / "flags" / "level.txt").write_text("1\n")
    probe = RuntimeProbe(ProjectPaths(tmp_path))
    probe.install()
    try:
        scope = probe.push("tests/test_flags.py::test_flags", "tests/test_flags.py")
        assert not (tmp_path / "flags" / "local.cfg").exists()
        assert (tmp_path / "flags" / "level.txt").read_text() == "1\n"
        assert [p.name for p in (tmp_path / "flags").iterdir()] == ["level.txt"]
        probe.pop(scope)
        globbing = probe.push("tests/test_flags.py::test_glob", "tests/test_flags.py")
        assert [p.name for p in (tmp_path / "flags").glob("*.txt")] == ["level.txt"]
        probe.pop(globbing)
    finally:
        probe.uninstall()
    assert {"flags/local.cfg", "flags/level.txt", listing_key("flags")} <= scope.data
    assert listing_key("flags") in globbing.data


def test_uninstalling_the_probe_restores_every_file_function_it_patched(tmp_path: Path) -> None:
    probe = RuntimeProbe(ProjectPaths(tmp_path))
    probe.install()
    try:
        assert _probe_functions()
    finally:
        probe.uninstall()
    assert _probe_functions() == []


_REGISTRY = """
class Registry:
    def __init__(self):
        self._values = {}

    def value(self, key):
        if key not in self._values:
            self._values[key] = key * 2
        return self._values[key]


class Cache:
    def __init__(self):
        self._found = {}

    def get(self, key):
        return self._found.setdefault(key, str(key))


REGISTRY = None
CACHES = []
"""


def _import_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> Any:
    """Module ``name`` of ``source``, written to ``tmp_path`` and imported from there."""
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    # Set and dropped, so that teardown takes the module imported here out of sys.modules
    # again: a later in-process pytester run may import a module of that name of its own.
    monkeypatch.setitem(sys.modules, name, None)
    del sys.modules[name]
    return importlib.import_module(name)


def _import_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    return _import_from(tmp_path, monkeypatch, "registry", _REGISTRY)


def test_instances_a_module_comes_to_hold_between_two_looks_are_found_by_the_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = _import_registry(tmp_path, monkeypatch)
    probe = RuntimeProbe(ProjectPaths(tmp_path))
    probe.share_module_globals()
    assert probe.shared == {}
    # A global bound again (a singleton made on first use), then a container filled in place.
    registry.REGISTRY = registry.Registry()
    probe.share_module_globals()
    assert len(probe.shared["registry.py"]) == 1
    registry.CACHES.append(registry.Cache())
    probe.share_module_globals()
    assert len(probe.shared["registry.py"]) == 2


def _reachable(root: object) -> list[object]:
    """Every object reachable from ``root`` through containers and instances (not through
    modules, classes or functions: those are the program's, not what ``root`` keeps)."""
    seen: set[int] = set()
    found: list[object] = []
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType, types.FunctionType)):
            continue
        seen.add(id(obj))
        found.append(obj)
        stack.extend(gc.get_referents(obj))
    return found


def test_the_probe_keeps_what_a_parsed_file_shares_between_tests_and_not_its_syntax_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every full garbage collection of the run walks whatever the probe keeps: a syntax tree
    # is tens of thousands of objects, the facts drawn from it a few.
    registry = _import_registry(tmp_path, monkeypatch)
    probe = RuntimeProbe(ProjectPaths(tmp_path))  # no analysis helper: it parses the file
    registry.REGISTRY = registry.Registry()
    registry.CACHES.append(registry.Cache())
    probe.share_module_globals()
    assert len(probe.shared["registry.py"]) == 2  # both classes' state, from one parse
    assert not any(isinstance(o, ast.AST) for o in _reachable(probe))


_KEEPER = """\
_SEEN = {}


def load(path):
    if path not in _SEEN:
        with open(path) as f:
            _SEEN[path] = f.read()
    return _SEEN[path]


def plain(path):
    with open(path) as f:
        return f.read()
"""


def test_which_functions_on_the_stack_keep_what_they_read_is_looked_up_when_the_edges_are_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At the read, the analysis helper has often not come to the files on the stack yet: looked
    # up then, each was parsed in the run as well. By the time the edges are taken, it has.
    (tmp_path / "kept.txt").write_text("kept\n")
    (tmp_path / "read.txt").write_text("read\n")
    keeper = _import_from(tmp_path, monkeypatch, "keeper", _KEEPER)
    parsed: list[str] = []
    parse = probes.parse_tree
    monkeypatch.setattr(
        probes, "parse_tree", lambda src, path: parsed.append(path) or parse(src, path)
    )
    answers: dict[str, Sharing] = {}
    probe = RuntimeProbe(ProjectPaths(tmp_path))
    probe.analysed = lambda rel, version: answers.get(rel)
    probe.install()
    try:
        scope = probe.push("test_keeper.py::test_reads")
        keeper.load(str(tmp_path / "kept.txt"))
        keeper.plain(str(tmp_path / "read.txt"))
        probe.pop(scope)
    finally:
        probe.uninstall()
    assert parsed == []  # nothing was looked up at the reads
    answers["keeper.py"] = sharing_of(parse(_KEEPER, "keeper.py"))  # the helper answers
    edges = probe.take_edges()
    # Only the function that keeps what it read makes its module depend on the file.
    assert ("keeper.py", "kept.txt", "data") in edges
    assert not any(node == "read.txt" for _, node, _ in edges)
    assert parsed == []
    assert probe.take_edges() == set()  # taken once


def test_files_of_the_work_tree_outside_the_root_are_data_by_their_way_up_from_the_root(
    tmp_path: Path,
) -> None:
    top = tmp_path / "repo"
    root = top / "services" / "app"
    root.mkdir(parents=True)
    (top / ".git").mkdir()
    assert repository_top(root) == top
    assert repository_top(top) is None  # the root at the top has no outside
    paths = ProjectPaths(root, repository=top)
    assert paths.rel_data(str(top / "shared" / "users.json")) == "../../shared/users.json"
    assert paths.rel_data(str(top / "services" / "other" / "a.txt")) == "../other/a.txt"
    assert paths.rel_data(str(top)) == "../.."  # the top itself, listed
    assert paths.rel_data(str(root / "data.txt")) == "data.txt"
    # Caches, virtualenvs and what lies beyond the work tree are not; data a test reads from
    # a directory named like installed code is.
    assert paths.rel_data(str(top / ".venv" / "lib" / "x.py")) is None
    assert paths.rel_data(str(top / "node_modules" / "x.json")) == "../../node_modules/x.json"
    assert paths.rel_data(str(tmp_path / "elsewhere.json")) is None
    # Only data: a module there is not a project file.
    assert paths.rel(str(top / "shared" / "helpers.py")) is None
    # Another spelling of the top (a symlink to it) gives the same keys.
    link = tmp_path / "link"
    link.symlink_to(top)
    linked = ProjectPaths(link / "services" / "app", repository=link)
    assert linked.rel_data(str(top / "shared" / "users.json")) == "../../shared/users.json"
    assert linked.rel_data(str(link / "shared" / "users.json")) == "../../shared/users.json"
