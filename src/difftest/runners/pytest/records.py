"""Turn what a test touched into its :class:`~difftest.model.TestRecord`, per the dependency model.

A record lists, for every Python file in the test's import closure, the file's import-time blocks;
the function blocks the test executed (and those executed at import or collection time in files
of its closure); the data files it read or its closure read at import time; and the environment
(Python, pytest configuration, the distributions its closure imports and what they require).
"""

from __future__ import annotations

import ast
import itertools
import os
import sys
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from difftest.changes.blocks import FileBlocks, Sharing, parse_tree
from difftest.changes.environment import (
    CWD_KEY,
    PYTHON_KEY,
    SPAWN_ENVIRON_KEY,
    current_value,
    cwd_value,
    dist_key,
    distributions_for_modules,
    installed,
    missing_modules,
    module_files,
    module_key,
    outside_sources,
    python_fingerprint,
    shadow_key,
    shadow_value,
    source_key,
    sources_digest,
)
from difftest.changes.imports import doctest_imports
from difftest.changes.names import blocks_and_names, names_reader
from difftest.changes.scan import (
    BUILD_OUTPUT_DIRS,
    FileHasher,
    extensions_key,
    iter_build_output_tree,
    iter_module_files,
    iter_project_tree,
    listing_key,
)
from difftest.changes.state import UNPARSEABLE
from difftest.errors import SourceError
from difftest.graph.modules import EXTERNAL_PREFIX, Closure, ImportGraph, ModuleIndex
from difftest.model import (
    ABSENT,
    AT_IMPORT,
    DATA_BLOCK,
    ENV_BLOCK,
    ENV_PREFIX,
    MODULE_BLOCK,
    SPAWN_BLOCK,
    Dependency,
    TestRecord,
)
from difftest.runners.pytest.prefetch import Prefetcher
from difftest.runners.pytest.probes import ProjectPaths

Edge = tuple[str, str, str]
#: Standard library modules (known on Python 3.10+): no distribution provides them.
_STDLIB: frozenset[str] = frozenset(getattr(sys, "stdlib_module_names", ()))


@dataclass(frozen=True)
class FileFacts:
    """One Python file as the recording run saw it: its version and blocks."""

    path: str
    version: str
    blocks: FileBlocks | None
    import_deps: tuple[Dependency, ...]
    #: Name facts (:mod:`difftest.changes.names`) as stored in the baseline, JSON.
    names: str | None = None

    def doctest_deps(self) -> list[Dependency]:
        """A doctest's dependencies in its own file: every docstring there may hold its code."""
        if self.blocks is None:
            return []
        return [
            Dependency(self.path, self.version, b.name, b.checksum)
            for b in self.blocks.doctest_blocks()
        ]

    def all_function_deps(self) -> list[Dependency]:
        if self.blocks is None:
            return []
        return [
            Dependency(self.path, self.version, b.name, b.checksum)
            for b in self.blocks.blocks
            if b.kind == "function"
        ]

    def function_deps(self, lines: Iterable[int], prefix: str = "") -> list[Dependency]:
        """Dependencies on the functions whose bodies contain any of ``lines``, their names
        prefixed with ``prefix``."""
        if self.blocks is None:
            return []
        return [
            Dependency(self.path, self.version, prefix + b.name, b.checksum)
            for b in self.blocks.functions_at(lines)
        ]


class FactsCache:
    """Parsed files, least recently used evicted beyond ``maxsize`` entries."""

    def __init__(self, hasher: FileHasher, maxsize: int) -> None:
        self.hasher = hasher
        self.maxsize = maxsize
        self._read_names = names_reader(hasher)
        #: (path, version) pairs whose name facts the baseline holds already: not computed again.
        self.known_names: set[tuple[str, str]] = set()
        #: Whether name facts are wanted at all (the Pants artifact holds none).
        self.want_names = True
        self._entries: OrderedDict[str, FileFacts] = OrderedDict()
        #: The helper analysing files beside the tests, if one runs.
        self.prefetch: Prefetcher | None = None
        #: Trees the import graph parsed, until their blocks are first needed.
        self._trees: dict[str, ast.Module] = {}

    def offer_tree(self, path: str, tree: ast.Module) -> None:
        if path not in self._entries:
            self._trees[path] = tree

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, path: str) -> FileFacts:
        version = self.hasher.hash(path) or ABSENT
        facts = self._cached(path, version)
        if facts is not None:
            self._entries.move_to_end(path)
            return facts
        facts = self._parse(path, version)
        self._entries[path] = facts
        self._entries.move_to_end(path)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return facts

    def _cached(self, path: str, version: str) -> FileFacts | None:
        facts = self._entries.get(path)
        return facts if facts is not None and facts.version == version else None

    def _wants_names(self, path: str, version: str) -> bool:
        """Whether name facts are worked out for this file version (the baseline may hold
        them already)."""
        return self.want_names and (path, version) not in self.known_names

    def _parse(self, path: str, version: str) -> FileFacts:
        if version == ABSENT:
            return FileFacts(path, version, None, (Dependency(path, ABSENT, MODULE_BLOCK, ABSENT),))
        tree = self._trees.pop(path, None)
        wanted = self._wants_names(path, version)
        done = self.prefetch.take(path, version) if self.prefetch is not None else None
        if tree is None and done is not None and (done.names is not None or not wanted):
            names = done.names if wanted else None
            return FileFacts(
                path, version, done.blocks, _import_deps(path, version, done.blocks), names
            )
        try:
            if tree is None:
                tree = parse_tree(self.hasher.read(path), path)
            blocks, facts = blocks_and_names(tree, path, names=wanted)
            names = facts.to_json() if facts is not None else None
        except (SourceError, OSError, RecursionError):
            # Every block of an unparseable file fingerprints as such: fixing it re-selects.
            return FileFacts(
                path, version, None, (Dependency(path, version, MODULE_BLOCK, UNPARSEABLE),)
            )
        return FileFacts(path, version, blocks, _import_deps(path, version, blocks), names)

    def names_wanted(self, path: str) -> bool | None:
        """Whether name facts are wanted for a file not analysed yet (None: it is, or it does
        not exist)."""
        version = self.hasher.hash(path)
        if version is None or self._cached(path, version) is not None:
            return None
        return self._wants_names(path, version)

    def cached_names(self, path: str, version: str) -> str | None:
        """Name facts of ``path`` at ``version`` if worked out already (never parses)."""
        facts = self._cached(path, version)
        return facts.names if facts is not None else None

    def names_of(self, path: str, version: str) -> str | None:
        """Name facts of ``path`` at ``version``, from the cache or read again (None: the file
        is no longer that version)."""
        facts = self._cached(path, version)
        if facts is not None:
            return facts.names
        return self._read_names(path, version)


def _on_the_way(directory: str, name: str) -> list[str]:
    """``name`` in the root and in every directory down to ``directory``."""
    parts = directory.split("/") if directory else []
    return ["/".join([*parts[:i], name]) for i in range(len(parts) + 1)]


def _import_deps(path: str, version: str, blocks: FileBlocks) -> tuple[Dependency, ...]:
    return tuple(Dependency(path, version, b.name, b.checksum) for b in blocks.import_blocks)


def discover_import_roots(paths: ProjectPaths) -> set[str]:
    """Root-relative directories modules are imported from: ``sys.path`` entries under the root,
    and the directory each imported project module's name is relative to."""
    roots = {""}
    root = os.path.normpath(os.path.abspath(paths.root))
    for entry in sys.path:
        if not entry:
            continue
        full = os.path.normpath(os.path.abspath(entry))
        if full == root:
            roots.add("")
            continue
        rel = paths.rel(full)
        if rel is not None:
            roots.add(rel)
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str) or not name:
            continue
        rel = paths.rel_source(filename)
        if rel is None:
            continue
        suffix = name.replace(".", "/")
        suffix += "/__init__.py" if rel.endswith("__init__.py") else ".py"
        if rel == suffix:
            roots.add("")
        elif rel.endswith("/" + suffix):
            roots.add(rel[: -len(suffix) - 1])
    return roots


class RecordBuilder:
    """Builds records against the import graph of the project, built once per run."""

    #: Whether what would shadow an imported module is one dependency per file rather than
    #: one per module name (:meth:`_shadow_deps`).
    shadow_paths = False
    #: Whether a module imported from outside the project and every installation counts by
    #: its files' content (not in a Pants sandbox: Pants values those keys by its requirements,
    #: and a pex may run its wheels from a cache outside any site directory).
    count_outside_sources = True

    #: Whether records go to the Pants plugin, which values files by content alone and
    #: environment keys by its own configuration (the Pants record builder sets it).
    in_pants_sandbox = False

    def __init__(
        self,
        paths: ProjectPaths,
        hasher: FileHasher,
        *,
        cache_size: int,
        env: Mapping[str, str],
        edges: Iterable[Edge] = (),
        import_roots: Iterable[str] = (),
        preloaded: Iterable[str] = (),
    ) -> None:
        """``preloaded``: the modules imported before any project code ran."""
        self.paths = paths
        self._real_root = os.path.realpath(paths.root)
        self.hasher = hasher
        if self.in_pants_sandbox:
            # Pants' view of the workspace knows each file's content, not its mode or links:
            # versions marked with those would differ from its values on every run.
            hasher.marks_modes = False
        self.facts = FactsCache(hasher, cache_size)
        python = python_fingerprint()
        self.env_deps: tuple[Dependency, ...] = (
            Dependency(PYTHON_KEY, python, ENV_BLOCK, python),
            *(Dependency(k, v, ENV_BLOCK, v) for k, v in sorted(env.items())),
        )
        self.import_roots = set(import_roots)
        self.plugin_files: set[str] = set()
        #: Lines executed outside tests and fixture setups (configuration, collection): they ran
        #: at import time for whichever test file came first, so every test whose closure holds
        #: the file depends on the functions they ran.
        self.import_time: dict[str, set[int]] = {}
        self._edges: set[Edge] = set(edges)
        self._graph: ImportGraph | None = None
        self._closures: dict[str, Closure] = {}
        self._conftests: dict[str, tuple[str, ...]] = {}
        self._missing_conftests: dict[str, tuple[Dependency, ...]] = {}
        self._dist_cache: dict[str, tuple[Dependency, ...]] = {}
        self._shadow_cache: dict[str, tuple[Dependency, ...]] = {}
        self._preloaded = frozenset(preloaded)
        self._tops: dict[str, str] = {}
        self._import_deps_cache: dict[tuple[str, int, bool], tuple[Dependency, ...]] = {}
        self._spawn_deps: tuple[Dependency, ...] | None = None
        #: Files the analysis helper was asked for.
        self._prefetched: set[str] = set()

    # ------------------------------------------------------------------ graph
    @property
    def graph(self) -> ImportGraph:
        if self._graph is None:
            self.import_roots |= discover_import_roots(self.paths)
            index = ModuleIndex(sorted(self.import_roots), iter_module_files(Path(self.paths.root)))
            self._graph = ImportGraph(index, self._read, self.facts.offer_tree, self._imports_of)
            for src, dst, kind in self._edges:
                self._graph.add_edge(src, dst, kind)
        return self._graph

    def use_prefetch(self, helper: Prefetcher) -> None:
        """Have ``helper`` analyse the files asked for with :meth:`prefetch` (the recorder
        starts it, before pytest collects)."""
        if self.facts.prefetch is None:
            self.facts.prefetch = helper
        else:
            helper.close()

    def prefetch(self, files: Iterable[str], *, last: bool = True) -> None:
        """Ask the helper to analyse ``files`` (Python sources) while the tests run (those not
        asked for before); ``last``: no more requests follow."""
        prefetch = self.facts.prefetch
        if prefetch is None:
            return
        files = [f for f in files if f not in self._prefetched]
        self._prefetched.update(files)
        # Packages as the import graph will see them, without building the graph now: it
        # learns the import roots when records are first due (an answer for another package is
        # not used).
        index = ModuleIndex(sorted(self.import_roots | discover_import_roots(self.paths)), ())
        requests = []
        for path in files:
            names = self.facts.names_wanted(path)
            if names is not None:
                requests.append((path, index.package_of(path), names))
        prefetch.submit(requests, last=last)

    def sharing(self, path: str, version: str) -> Sharing | None:
        """What the helper found ``path`` at ``version`` keeps between tests (None: no helper,
        not answered yet, or another version)."""
        prefetch = self.facts.prefetch
        return prefetch.sharing(path, version) if prefetch is not None else None

    def analysing(self) -> bool:
        """Whether the helper has answers to come: until then, writing records would wait."""
        return self.facts.prefetch is not None and self.facts.prefetch.busy()

    def analyse_rest(self) -> None:
        """Analyse here the files the helper has not answered yet, starting from the last one
        it will come to, while it goes on from the first: records due now need every one, and
        the two meet in the middle instead of both analysing the same files. Each answer that
        arrives is read before the next file; those already in are used as they are."""
        prefetch = self.facts.prefetch
        if prefetch is None:
            return
        for path in reversed(prefetch.unanswered()):
            if not prefetch.waiting_for(path):
                break  # the helper got here: it answered every file before this one too
            self.graph.expand(path)  # its imports; the tree goes on to its facts
            self.facts.get(path)

    def close(self) -> None:
        if self.facts.prefetch is not None:
            self.facts.prefetch.close()

    def _imports_of(self, path: str) -> Iterable[str] | None:
        prefetch = self.facts.prefetch
        if prefetch is None:
            return None
        package = self.graph.index.package_of(path)
        return prefetch.imports(path, self.hasher.hash(path) or ABSENT, package)

    def _read(self, path: str) -> bytes | None:
        if self.hasher.hash(path) is None:
            return None
        try:
            return self.hasher.read(path)
        except OSError:
            return None

    def add_edges(self, edges: Iterable[Edge]) -> list[Edge]:
        """Add run-time edges; returns the ones that are new."""
        new = [e for e in edges if e not in self._edges]
        if new:
            self._edges.update(new)
            if self._graph is not None:
                for src, dst, kind in new:
                    self._graph.add_edge(src, dst, kind)
            self._closures.clear()
        return new

    def closure(self, roots: Iterable[str]) -> Closure:
        result = Closure()
        for node in roots:
            part = self._closures.get(node)
            if part is None:
                part = self._closures[node] = self.graph.closure([node])
            result.files |= part.files
            result.data |= part.data
            result.external |= part.external
        return result

    def conftests(self, file: str) -> tuple[str, ...]:
        """The conftest.py files that apply to a test file: one per directory above it."""
        directory = file.rpartition("/")[0]
        found = self._conftests.get(directory)
        if found is None:
            files = self.graph.index.files
            candidates = _on_the_way(directory, "conftest.py")
            found = self._conftests[directory] = tuple(c for c in candidates if c in files)
        return found

    def missing_conftests(self, file: str) -> tuple[Dependency, ...]:
        """A test file's dependency on the ``conftest.py`` and ``__init__.py`` files that do not
        exist between the root and it: a new conftest can override its fixtures or hooks, a
        new ``__init__.py`` changes the name it is imported under."""
        directory = file.rpartition("/")[0]
        found = self._missing_conftests.get(directory)
        if found is None:
            files = self.graph.index.files
            candidates = _on_the_way(directory, "conftest.py")
            candidates += _on_the_way(directory, "__init__.py")[1:]
            found = self._missing_conftests[directory] = tuple(
                Dependency(path, ABSENT, DATA_BLOCK, ABSENT)
                for path in candidates
                if path not in files and self.hasher.hash(path) is None
            )
        return found

    def runtime_gaps(self, file: str, nodes: Iterable[str]) -> list[str]:
        """The nodes among ``nodes`` (files, data files, ``ext:`` modules) that the closure of
        ``file`` does not reach yet; externals only when a distribution provides them."""
        closure = self.closure([file])
        gaps = []
        for node in sorted(nodes):
            if node.startswith(EXTERNAL_PREFIX):
                name = node[len(EXTERNAL_PREFIX) :]
                if name not in closure.external and self._dist_deps(name):
                    gaps.append(node)
            elif node != file and node not in closure.files and node not in closure.data:
                gaps.append(node)
        return gaps

    # ------------------------------------------------------------------ records
    def _dist_deps(self, name: str) -> tuple[Dependency, ...]:
        """The environment dependencies an import of top-level module ``name`` brings: the
        distributions providing it and what they require, or its absence."""
        found = self._dist_cache.get(name)
        if found is None:
            if name in _STDLIB:
                found = ()
            else:
                versions = installed()
                deps = [
                    Dependency(
                        dist_key(d), versions.get(d, ABSENT), ENV_BLOCK, versions.get(d, ABSENT)
                    )
                    for d in sorted(distributions_for_modules([name]))
                ]
                if not deps and missing_modules([name]):
                    deps.append(Dependency(module_key(name), ABSENT, ENV_BLOCK, ABSENT))
                elif self.count_outside_sources:
                    outside = outside_sources(name)
                    if outside is not None and self._outside_project(outside):
                        # Imported from sources no version describes: their content does.
                        value = sources_digest(outside)
                        deps.append(Dependency(source_key(name), value, ENV_BLOCK, value))
                found = tuple(deps)
            self._dist_cache[name] = found
        return found

    def _outside_project(self, locations: Iterable[str]) -> bool:
        """Whether any of ``locations`` (real paths) lies outside the project's sources: project
        files count by their blocks already, but not those in a skipped directory (code a build
        generated into ``build/``, put on ``sys.path``)."""
        root = self._real_root
        return any(
            p != root
            and (
                not p.startswith(root + os.sep)
                or not self.paths.is_project(p[len(root) + 1 :].replace(os.sep, "/") + "/")
            )
            for p in locations
        )

    def _top_names(self, files: Iterable[str]) -> set[str]:
        """The top-level module names of these project files; not ``conftest``: pytest imports
        each conftest.py from its own directory, so one elsewhere shadows nothing."""
        tops = self._tops
        for path in files:
            if path not in tops:
                name = self.graph.index.module_of(path)
                tops[path] = name.partition(".")[0] if name else ""
        found = {tops[path] for path in files}
        found.discard("")
        found.discard("conftest")
        return found

    def _shadow_deps(self, name: str) -> tuple[Dependency, ...]:
        """What would shadow top-level module ``name``: which project files provide it in the
        directories modules are imported from (:func:`shadow_value`). Those come before
        site-packages and the standard library on ``sys.path``, and one may come before another
        (pytest puts a test directory first): a new ``tests/yaml.py`` changes what ``import
        yaml`` runs, a new ``tests/app/`` package hides ``src/app/``. Built-in modules cannot
        be shadowed (their finder comes first), nor modules imported before any project code
        ran (pytest's own imports: an import of one finds it in ``sys.modules``).
        With :attr:`shadow_paths`, one dependency per file that would, absent now (no file
        there: a dangling link imports as nothing too), instead of one per name (the Pants
        plugin values a sandbox's files, not its import roots)."""
        found = self._shadow_cache.get(name)
        if found is None:
            found = ()
            if name not in sys.builtin_module_names and name not in self._preloaded:
                roots = self.graph.index.roots
                if self.shadow_paths:
                    found = tuple(
                        Dependency(path, ABSENT, DATA_BLOCK, ABSENT)
                        for root in sorted(roots)
                        for path in module_files(root, name)
                        if not self.hasher.is_file(path)
                    )
                else:
                    value = shadow_value(self.hasher.is_file, roots, name)
                    found = (Dependency(shadow_key(name), value, ENV_BLOCK, value),)
                # So would an extension module built in an import root. Not for an import root
                # that does not exist (a sys.path entry as a process was started): its absence
                # says nothing of the project, and another process (an xdist worker) may not
                # have that entry at all.
                found += tuple(
                    dep
                    for dep in (self._extensions_dep(root) for root in sorted(roots))
                    if dep.version != ABSENT
                )
            self._shadow_cache[name] = found
        return found

    def _import_deps(self, path: str, whole_file: bool) -> tuple[Dependency, ...]:
        """What importing ``path`` makes a test depend on: its import-time blocks and the
        functions that ran at import or collection time (``whole_file``: all its functions).
        The same for every test whose closure holds the file, so kept until more import-time
        lines are seen (they only ever grow)."""
        lines = self.import_time.get(path, ())
        key = (path, len(lines), whole_file)
        found = self._import_deps_cache.get(key)
        if found is None:
            facts = self.facts.get(path)
            # Measured, these ran at import time (AT_IMPORT); not measured, any may run in a test.
            functions = (
                facts.all_function_deps() if whole_file else facts.function_deps(lines, AT_IMPORT)
            )
            directory = path.rpartition("/")[0]
            found = (*facts.import_deps, *functions, self._extensions_dep(directory))
            self._import_deps_cache[key] = found
        return found

    def _text_doctest_imports(self, path: str) -> set[str]:
        """The project files a text file's doctest imports (`>>> from app import limits`): a
        module it imports that an earlier test had imported already runs no line of it, yet
        its examples read what that module's import-time code made."""
        text = self._read(path)
        if text is None:
            return set()
        names = doctest_imports(text.decode("utf-8", "replace"), "")
        return {f for dotted in names for f in self.graph.index.files_for(dotted)}

    def _extensions_dep(self, directory: str) -> Dependency:
        """A dependency on the extension modules in a project directory that modules are
        imported from: one built there later imports before a .py of the same name, or where
        an import failed."""
        key = extensions_key(directory)
        version = self.hasher.data_version(key)
        return Dependency(key, version, DATA_BLOCK, version)

    def project_files(self) -> Iterable[str]:
        """Root-relative paths of every project file, hidden ones too, and of every directory
        (ending in "/"), including the top-level ``build/`` and ``dist/`` and what a build wrote
        there (the candidates of :meth:`spawn_deps`)."""
        root = Path(self.paths.root)
        return itertools.chain(iter_project_tree(root), iter_build_output_tree(root))

    def spawn_deps(self) -> tuple[Dependency, ...]:
        """What a process started from project code may have run or read: every project file by
        content, hidden ones too (``.env``, ``.config/app.ini``); the listing of every directory
        (so a file added anywhere counts, even where only sub-directories or hidden files were),
        of ``build/`` and ``dist/`` even while they do not exist; and the environment it
        inherits (:func:`~difftest.changes.environment.spawn_environ_value`), but not under
        Pants, which decides what a sandbox's processes get. Tool state that changes with every
        run is left out (``.git``, ``.coverage``, caches: ``scan.iter_project_tree``). Files the
        run itself writes are kept: when in doubt the test runs again. Worked out once a run."""
        if self._spawn_deps is None:
            deps = []
            directories = {"", *(d for d in BUILD_OUTPUT_DIRS if d not in self.paths.packages)}
            for path in self.project_files():
                if path.endswith("/"):
                    directories.add(path[:-1])
                    continue
                directories.add(path.rpartition("/")[0])
                version = self.hasher.data_version(path)
                if version != ABSENT:
                    deps.append(Dependency(path, version, SPAWN_BLOCK, version))
            for directory in sorted(directories):
                key = listing_key(directory)
                version = self.hasher.hash(key) or ABSENT
                deps.append(Dependency(key, version, DATA_BLOCK, version))
            if not self.in_pants_sandbox:
                for key in (SPAWN_ENVIRON_KEY, CWD_KEY):  # a started process inherits both
                    value = self._env_value(key)
                    deps.append(Dependency(key, value, ENV_BLOCK, value))
            self._spawn_deps = tuple(deps)
        return self._spawn_deps

    def _env_value(self, key: str) -> str:
        return cwd_value(self.hasher.root) if key == CWD_KEY else current_value(key)

    def record(
        self,
        nodeid: str,
        file: str,
        outcome: str,
        duration: float,
        *,
        roots: Iterable[str] = (),
        data: Iterable[str] = (),
        executed: Mapping[str, set[int]] | None = None,
        spawned: bool = False,
        whole_files: bool = False,
        docstrings_of: str | None = None,
    ) -> TestRecord:
        """The record of one test (or ``<file>::<collect>``) that touched these things;
        ``spawned``: project code started a process, so every project file is a dependency;
        ``whole_files`` (static mode, nothing measured): every block of every closure file;
        ``docstrings_of``: a doctest's file, every function of which it depends on (its code
        is in their docstrings, so what it mentions is theirs)."""
        executed = executed or {}
        start = {file, *roots, *self.conftests(file), *self.plugin_files}
        start.update(f for f in executed if f.endswith(".py"))
        if docstrings_of is not None and not docstrings_of.endswith(".py"):
            start.update(self._text_doctest_imports(docstrings_of))
        closure = self.closure(sorted(start))
        deps: list[Dependency] = list(self.env_deps)
        for path in sorted(closure.files):
            deps.extend(self._import_deps(path, whole_files))
        for path, lines in sorted(executed.items()):
            if path.endswith(".py"):
                deps.extend(self.facts.get(path).function_deps(lines))
        if docstrings_of is not None and docstrings_of.endswith(".py"):
            deps.extend(self.facts.get(docstrings_of).doctest_deps())
        for path in sorted(closure.data | set(data)):
            if path.startswith(ENV_PREFIX):  # an environment variable read like a file
                value = self._env_value(path)
                deps.append(Dependency(path, value, ENV_BLOCK, value))
                continue
            version = self.hasher.data_version(path)
            deps.append(Dependency(path, version, DATA_BLOCK, version))
        for name in sorted(closure.external):
            deps.extend(self._dist_deps(name))
        for name in sorted(closure.external | self._top_names(closure.files)):
            deps.extend(self._shadow_deps(name))
        deps.extend(self.missing_conftests(file))
        if spawned:
            deps.extend(self.spawn_deps())
        return TestRecord(nodeid, file, outcome, duration, tuple(dict.fromkeys(deps)))
