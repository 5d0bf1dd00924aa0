"""The recording side of ``--diff-baseline``: pytest hooks that watch each test (setup, call and
teardown) and each test file's collection, and hand finished records to a writer in batches.

Started as early as possible (before the initial conftests are imported) so that what runs at
import time is seen: coverage runs from then until collection ends, with one context per
collected file, and afterwards only while a test (or a higher-scoped fixture's setup) runs.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import sys
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from difftest.changes.blocks import InstanceState
from difftest.model import COLLECT_SUFFIX, INCOMPLETE, TestRecord
from difftest.runners.pytest.helpers import helper_possible
from difftest.runners.pytest.outcomes import incomplete_files, phase_outcome, worst
from difftest.runners.pytest.prefetch import Prefetcher
from difftest.runners.pytest.probes import (
    FIXTURE_CONTEXT,
    SESSION_CONTEXT,
    CoverageProbe,
    NoCoverage,
    ProjectPaths,
    RuntimeProbe,
    Scope,
    iter_plugin_files,
)
from difftest.runners.pytest.records import Edge, RecordBuilder

Sink = Callable[[list[TestRecord], list[Edge]], None]
_UNSEEN: Any = object()


@dataclass
class _Running:
    nodeid: str
    file: str
    scope: Scope
    fixturenames: tuple[str, ...]
    outcome: str = "passed"
    duration: float = 0.0
    #: A doctest: its code is a docstring of ``file``, which no coverage line points at.
    doctest: bool = False
    #: Its teardown was reported: it ran to its end (not interrupted, not stopped by
    #: ``pytest.exit``).
    finished: bool = False


@dataclass
class _Collected:
    file: str
    outcome: str
    scope: Scope


@dataclass
class _Fixture:
    """What the setup and teardown of a higher-scoped fixture touched (shared by every test
    using it)."""

    argname: str
    baseid: str
    lines: dict[str, set[int]] = field(default_factory=dict)
    data: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)
    spawned: bool = False
    #: Set up, with a teardown of its own (after a ``yield``, a finalizer) still to run.
    open: bool = False
    #: While its teardown runs: (the scope of what it reads, the context it interrupted).
    tearing: tuple[Scope, str] | None = None

    def applies_to(self, nodeid: str) -> bool:
        base = self.baseid
        return not base or nodeid == base or nodeid.startswith((base + "::", base + "/"))


@dataclass
class RecordingResult:
    """What the writer needs once every test ran."""

    removed: list[str]
    #: test file -> nodeids marked diff_always, for the files collected in this run.
    always: dict[str, list[str]]
    collected_files: list[str]
    import_roots: list[str]
    #: test file -> what collecting it found (:meth:`Recorder.expected`), for the files collected.
    items: dict[str, list[str]] = field(default_factory=dict)
    #: nodeids of the tests that ran to their end.
    finished: list[str] = field(default_factory=list)
    #: The collected test files whose collection record this run wrote incomplete.
    incomplete: list[str] = field(default_factory=list)


def _merge(into: dict[str, set[int]], lines: Mapping[str, set[int]]) -> None:
    for path, found in lines.items():
        into.setdefault(path, set()).update(found)


#: How many batches of tests may wait for the helper's analysis before records wait for it.
_MAX_HELD_BATCHES = 50


class Recorder:
    """Probes and pending records of one recording process (serial run or xdist worker)."""

    def __init__(
        self,
        root: Path,
        *,
        static: bool = False,
        preloaded: frozenset[str] | None = None,
        repository: Path | None = None,
    ) -> None:
        """``static``: no coverage; each record holds every block of its import closure.
        ``preloaded``: ``sys.modules`` taken before this module was imported (default: now).
        ``repository``: the work tree's top above the root, whose files count when read."""
        self.paths = ProjectPaths(root, repository=repository)
        #: Modules imported before any project code ran (pytest's and its plugins'): a project
        #: import of one finds it in ``sys.modules``, whatever files appear later. Not what
        #: difftest's recording imports (``sysconfig``): a plain run does not have them loaded.
        self.preloaded = frozenset(sys.modules) if preloaded is None else preloaded
        self.probe = RuntimeProbe(self.paths)
        self.static = static
        self.coverage: CoverageProbe | NoCoverage = NoCoverage() if static else CoverageProbe(root)
        self.probe.install()
        self.coverage.start(SESSION_CONTEXT)
        self.closed = False
        self.builder: RecordBuilder | None = None
        self._sink: Sink | None = None
        self.batch_size = 20
        self.recorded: Mapping[str, str] = {}
        self._current: _Running | None = None
        self._tests: list[_Running] = []
        #: Tests that ran, held with what they ran (context -> lines) until the teardown of a
        #: higher-scoped fixture they use has run (:meth:`_waits`), and every test after them.
        self._held: list[_Running] = []
        self._held_lines: dict[str, dict[str, set[int]]] = {}
        self._collects: list[_Collected] = []
        self._fixtures: dict[str, _Fixture] = {}
        self._children: dict[str, set[str]] = {}
        self._collected_files: set[str] = set()
        self._always: dict[str, set[str]] = {}
        #: test file -> the node id of its collector.
        self._file_nodes: dict[str, str] = {}
        #: id of a shared instance's state -> what the tests that stored on such an instance
        #: ran (file -> lines), so far in this run: a later test reading it depends on that.
        self._fed: dict[int, dict[str, set[int]]] = {}
        #: Import-time edges found for modules imported before recording (:meth:`add_import_edges`).
        self._early_edges: list[Edge] = []
        #: A module's ``__file__`` -> (the real path coverage.py reports its lines under, the
        #: project path it was imported by) when that path is a symbolic link, else None.
        self._links: dict[str, tuple[str, str] | None] = {}
        #: Tests that ran to their end in this run.
        self._finished: set[str] = set()
        #: Collection records, held until the end of the run, when it is known whether every
        #: test collected from their file has a record (:data:`INCOMPLETE`).
        self._collect_records: dict[str, TestRecord] = {}
        #: Test files whose collection started a process: their tests depend on it too.
        self._spawning_files: set[str] = set()
        self._prefetch = False
        #: The analysis helper started before a builder was bound (:meth:`start_helper`).
        self._helper: Prefetcher | None = None
        #: Whether the analysis helper was asked for what the first test file imported.
        self._asked_early = False

    def bind(
        self,
        builder: RecordBuilder,
        sink: Sink,
        *,
        batch_size: int,
        recorded: Mapping[str, str],
        prefetch: bool = False,
    ) -> None:
        """Start producing records: ``sink`` receives each batch (records, new run-time edges).
        ``prefetch``: once collected, the project's files are analysed by a helper process
        (:mod:`~difftest.runners.pytest.prefetch`) while the tests run, where a core is free
        for it (not in an xdist worker: the workers use the cores)."""
        self.builder = builder
        self._sink = sink
        self.batch_size = batch_size
        self.recorded = recorded
        self._prefetch = prefetch and helper_possible()
        if self._prefetch:
            self.start_helper()  # unless it started before the conftests
        helper, self._helper = self._helper, None
        if helper is not None:
            if self._prefetch:
                builder.use_prefetch(helper)
                self.probe.analysed = builder.sharing
            else:
                helper.close()

    def start_helper(self) -> None:
        """Start the analysis helper now, before the conftests are imported: it takes about
        as long to start (an interpreter, difftest's analysis modules) as pytest takes from
        here to collecting the first test file, when it is first asked for files (on toolz it
        was still starting when collection ended). :meth:`bind` with ``prefetch`` uses it;
        otherwise it is stopped there or by :meth:`close`."""
        if self._helper is None and not self.closed and helper_possible():
            self.probe.paused = True  # the helper is difftest's process, not the project's
            try:
                self._helper = Prefetcher(self.paths.root)
            finally:
                self.probe.paused = False

    def add_import_edges(self, edges: list[Edge]) -> None:
        """Import-time edges of modules imported before recording could start, found by
        importing them again elsewhere: they join the graph with the first batch."""
        self._early_edges.extend(edges)

    def close(self) -> None:
        """Stop measuring and restore every patched function (idempotent)."""
        if not self.closed:
            self.closed = True
            self.coverage.stop()
            self.probe.uninstall()
            if self._helper is not None:
                self._helper.close()
                self._helper = None
            if self.builder is not None:
                self.builder.close()

    def _file_of(self, path: Any) -> str | None:
        return self.paths.rel(str(path)) if path is not None else None

    # ------------------------------------------------------------------ collection
    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, None]:
        # Before pytest 8 a Package is a File too (its path is the __init__.py): not a test file.
        is_file = isinstance(collector, pytest.File) and not isinstance(collector, pytest.Package)
        file = self._file_of(collector.path) if is_file else None
        if file is None or self.closed:
            yield
            return
        key = file + COLLECT_SUFFIX
        self._file_nodes[file] = collector.nodeid
        scope = self.probe.push(key, file)
        previous = self.coverage.context
        self.coverage.switch(key)
        outcome = yield
        self.coverage.switch(previous)
        self.probe.pop(scope)
        try:
            report = outcome.get_result()
        except BaseException:
            status = "error"
        else:
            status = "passed" if report.passed else "skipped" if report.skipped else "error"
        if status == "passed":
            self._collected_files.add(file)
        self._collects.append(_Collected(file, status, scope))
        if self._prefetch and self.builder is not None and not self._asked_early:
            # The first test file usually imports the package under test: the helper starts on
            # it while pytest collects the rest.
            self._asked_early = True
            self._ask_helper([file], last=False)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.passed:
            self._children[report.nodeid] = {getattr(n, "nodeid", "") for n in report.result}

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # Before anything deselects: the always-run marks of every collected test are kept.
        for item in items:
            if item.get_closest_marker("diff_always") is not None:
                file = self._file_of(item.path)
                if file is not None:
                    self._always.setdefault(file, set()).add(item.nodeid)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.coverage.switch(SESSION_CONTEXT)
        self.coverage.pause()
        if self.builder is not None:
            plugins = session.config.pluginmanager.get_plugins()
            self.builder.plugin_files = iter_plugin_files(plugins, self.paths)
            if self._prefetch:
                self._ask_helper([self._file_of(item.path) for item in session.items], last=True)

    def _ask_helper(self, files: list[str | None], *, last: bool) -> None:
        """Ask the analysis helper for ``files`` and every project module imported so far."""
        assert self.builder is not None
        found = [getattr(m, "__file__", None) for m in list(sys.modules.values())]
        wanted = {self.paths.rel_source(f) for f in found if isinstance(f, str)}
        wanted.update(files)
        self.builder.prefetch(
            sorted(f for f in wanted if f is not None and f.endswith(".py")), last=last
        )

    # ------------------------------------------------------------------ tests
    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, Any, None]:
        file = self._file_of(item.path)
        if file is None or self.closed or self.builder is None:
            yield
            return
        scope = self.probe.push(item.nodeid, file)
        running = _Running(
            item.nodeid,
            file,
            scope,
            tuple(getattr(item, "fixturenames", ())),
            doctest=type(item).__name__ == "DoctestItem",
        )
        self._current = running
        self.coverage.start(item.nodeid)
        try:
            yield
        finally:
            self.coverage.pause()
            self.probe.pop(scope)
            self._current = None
            # A test stopped before its end (Ctrl-C) has no outcome: it gets no record, so it
            # runs again (its file is incomplete, or its earlier record is what selected it).
            if running.finished:
                self._tests.append(running)
                self._finished.add(running.nodeid)
            if len(self._tests) >= self.batch_size and not self._analysing():
                self.flush()

    def _analysing(self) -> bool:
        """Whether to hold the pending tests until the helper's answers are in (records would
        wait for them), up to a limit."""
        return (
            self.builder is not None
            and len(self._tests) < _MAX_HELD_BATCHES * self.batch_size
            and self.builder.analysing()
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        running = self._current
        if running is not None and report.nodeid == running.nodeid:
            running.duration += report.duration
            running.outcome = worst(running.outcome, phase_outcome(report))
            running.finished = report.when == "teardown"

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, Any, None]:
        if self._current is None or fixturedef.scope == "function":
            yield
            return
        # A higher-scoped fixture is set up once, inside the first test that needs it: what the
        # setup runs is kept apart and credited to every test using the fixture.
        key = f"{FIXTURE_CONTEXT}{fixturedef.baseid}::{fixturedef.argname}"
        facts = self._fixtures.setdefault(key, _Fixture(fixturedef.argname, fixturedef.baseid))
        # Finalizers run last in, first out: this one after the fixture's own teardown.
        fixturedef.addfinalizer(lambda: self._torn_down(facts))
        scope = self.probe.push(key)
        previous = self.coverage.context
        self.coverage.switch(key)
        try:
            yield
        finally:
            self.coverage.switch(previous)
            self.probe.pop(scope)
            # Its teardown runs inside whichever test comes last in its scope, which may not use
            # it: what it runs is the fixture's too, and the tests using it wait for it. Only a
            # project's fixture: a plugin's (a database set up for every test) would hold every
            # record to the end of the run for teardown code that is no project's.
            if len(getattr(fixturedef, "_finalizers", ())) > 1 and self._projects(fixturedef):
                facts.open = True
                fixturedef.addfinalizer(lambda: self._tearing_down(facts, key))
            # The tests sharing the value read what the first of them stored on it.
            result = getattr(fixturedef, "cached_result", None)
            if isinstance(result, tuple) and len(result) == 3 and result[2] is None:
                self.probe.share(result[0])
            facts.data |= scope.data
            facts.imports |= scope.imports
            facts.spawned |= scope.spawned

    def _projects(self, fixturedef: pytest.FixtureDef[Any]) -> bool:
        """Whether the fixture's function is the project's (a conftest's, a test file's)."""
        func: Any = getattr(fixturedef, "func", None)
        code = getattr(inspect.unwrap(func) if callable(func) else func, "__code__", None)
        return code is not None and self.paths.rel_source(code.co_filename) is not None

    def _tearing_down(self, facts: _Fixture, key: str) -> None:
        if self._current is not None and facts.tearing is None:
            facts.tearing = (self.probe.push(key), self.coverage.context)
            self.coverage.switch(key)

    def _torn_down(self, facts: _Fixture) -> None:
        facts.open = False
        if facts.tearing is not None:
            scope, previous = facts.tearing
            facts.tearing = None
            self.coverage.switch(previous)
            self.probe.pop(scope)
            facts.data |= scope.data
            facts.imports |= scope.imports
            facts.spawned = facts.spawned or bool(scope.spawned)

    def _waits(self, t: _Running) -> bool:
        """Whether the record of ``t`` waits for the teardown of a fixture it uses."""
        return any(
            f.open and f.argname in t.fixturenames and f.applies_to(t.nodeid)
            for f in self._fixtures.values()
        )

    # ------------------------------------------------------------------ records
    def flush(self) -> None:
        """Turn the pending tests and collections into records and hand them to the sink, one
        batch at a time: tests held for the helper's analysis (up to 50 batches, at the end of
        a short suite all of them) reach the writer as the records are built, so it writes one
        batch while the next is built."""
        builder, sink = self.builder, self._sink
        if builder is None or sink is None:
            return
        if not self._tests and not self._collects and not self._held:
            return
        self.probe.paused = True
        try:
            if builder.analysing():
                builder.analyse_rest()
            tests: dict[str, dict[str, set[int]]] = {}
            collects: dict[str, dict[str, set[int]]] = {}
            aliases = self._linked_modules()
            for context, measured in self.coverage.harvest().items():
                lines: dict[str, set[int]] = {}
                for filename, found in measured.items():
                    rel = self.paths.rel_source(filename)
                    if rel is not None:
                        lines[rel] = found
                    for alias in aliases.get(filename, ()):
                        lines[alias] = set(found)
                if context.startswith(FIXTURE_CONTEXT):
                    if context in self._fixtures:
                        _merge(self._fixtures[context].lines, lines)
                elif context == SESSION_CONTEXT or context.endswith(COLLECT_SUFFIX) or not context:
                    # Run at import or collection time: whoever imports the file depends on it.
                    _merge(builder.import_time, lines)
                    if context.endswith(COLLECT_SUFFIX):
                        collects[context] = lines
                else:
                    tests[context] = lines
            for nodeid, lines in self._held_lines.items():
                _merge(tests.setdefault(nodeid, {}), lines)
            self._held_lines = {}
            if not self.static:
                self.probe.share_module_globals()
            taken = self.probe.take_edges()
            if self._early_edges:
                taken.update(self._early_edges)
                self._early_edges = []
            new_edges = builder.add_edges(sorted(taken))
            records: list[TestRecord] = []
            for c in self._collects:
                if c.scope.spawned:
                    self._spawning_files.add(c.file)
                # What collecting a file imported or read beyond its static imports becomes an
                # edge of the file, so its tests depend on it too.
                kinds = {n: "data" for n in c.scope.data}
                kinds.update({n: "import" for n in c.scope.imports})
                gaps = builder.runtime_gaps(c.file, kinds)
                new_edges += builder.add_edges((c.file, node, kinds[node]) for node in gaps)
                self._collect_records[c.file] = builder.record(
                    c.file + COLLECT_SUFFIX,
                    c.file,
                    c.outcome,
                    0.0,
                    roots=c.scope.imports,
                    data=c.scope.data,
                    executed=collects.get(c.file + COLLECT_SUFFIX),
                    spawned=c.scope.spawned
                    or self.probe.spawned_outside
                    or self._unmeasured(c.file + COLLECT_SUFFIX),
                    whole_files=self.static,
                )
            pending, self._tests = [*self._held, *self._tests], []
            # Records are built in the order the tests ran (what an earlier test stored on a
            # shared instance feeds a later one's): the first test waiting holds all after it.
            cut = next((i for i, t in enumerate(pending) if self._waits(t)), len(pending))
            pending, self._held = pending[:cut], pending[cut:]
            for t in self._held:
                if t.nodeid in tests:
                    self._held_lines[t.nodeid] = tests.pop(t.nodeid)
            self._collects.clear()
            size = max(1, self.batch_size)
            for start in range(0, max(1, len(pending)), size):
                records.extend(
                    self._test_record(builder, t, tests) for t in pending[start : start + size]
                )
                sink(records, new_edges)
                records, new_edges = [], []
        finally:
            self.probe.paused = False

    def _linked_modules(self) -> dict[str, list[str]]:
        """Real path -> the project paths of modules imported through a symbolic link to it
        (``app.py -> shared/impl.py``). coverage.py reports lines under the real path; the
        module's own path depends on them too, so pointing the link elsewhere selects the tests
        that ran its functions. Each ``__file__`` is looked at once."""
        found: dict[str, list[str]] = {}
        for module in list(sys.modules.values()):
            name = getattr(module, "__file__", None)
            if not isinstance(name, str):
                continue
            link = self._links.get(name, _UNSEEN)
            if link is _UNSEEN:
                link = self._links[name] = self._link_of(name)
            if link is not None:
                found.setdefault(link[0], []).append(link[1])
        return found

    def _link_of(self, name: str) -> tuple[str, str] | None:
        full = os.path.abspath(name)
        rel = self.paths.rel_source(full)
        if rel is None:
            return None
        real = os.path.realpath(full)
        return (real, rel) if real != full else None

    def _unmeasured(self, context: str) -> bool:
        """Whether what a scope ran is not all known: another coverage.py measurement paused
        this one during it, or during import-time code, a collection or a fixture setup (which
        every test may depend on). Its record then depends on every project file, as if it had
        started a process."""
        lost = self.coverage.unmeasured
        return context in lost or any(c.startswith("<") or c.endswith(COLLECT_SUFFIX) for c in lost)

    def _test_record(
        self, builder: RecordBuilder, t: _Running, tests: Mapping[str, dict[str, set[int]]]
    ) -> TestRecord:
        """The record of a test that ran: its lines (``tests``: context -> file -> lines), with
        what its higher-scoped fixtures ran, imported and read when they were set up."""
        executed = {path: set(found) for path, found in tests.get(t.nodeid, {}).items()}
        roots = set(t.scope.imports)
        data = set(t.scope.data)
        names = set(t.fixturenames)
        spawned = (
            t.scope.spawned
            or t.file in self._spawning_files
            or self.probe.spawned_outside
            or self._unmeasured(t.nodeid)
        )
        for fixture in self._fixtures.values():
            if fixture.argname in names and fixture.applies_to(t.nodeid):
                _merge(executed, fixture.lines)
                roots |= fixture.imports
                data |= fixture.data
                spawned = spawned or fixture.spawned
        # A test that ran a method of a class with instances outliving a test may have read
        # what an earlier test stored on one (a cache a method fills): it depends on what
        # stores there, and on what the earlier tests that stored there ran, which computed
        # what they stored (`warm(store)` storing `rate()`: the reader never runs `rate`).
        # (Copies of what the test ran are made only for a test that stored.)
        read: list[tuple[str, InstanceState]] = []
        wrote: list[InstanceState] = []
        for path, states in self.probe.shared.items():
            ran = executed.get(path)
            if ran:
                for state in states:
                    if not state.readers.isdisjoint(ran):
                        read.append((path, state))
                    if not state.lines.isdisjoint(ran):
                        wrote.append(state)
        if wrote:
            own = {path: set(found) for path, found in executed.items()}
            for state in wrote:
                _merge(self._fed.setdefault(id(state), {}), own)
        for path, state in read:
            executed[path] |= state.lines
            _merge(executed, self._fed.get(id(state), {}))
        return builder.record(
            t.nodeid,
            t.file,
            t.outcome,
            t.duration,
            roots=roots,
            data=data,
            executed=executed,
            spawned=spawned,
            whole_files=self.static,
            docstrings_of=t.file if t.doctest else None,
        )

    def _gone(self, nodeid: str) -> bool:
        """Whether a recorded test no longer exists: the deepest collector above it that was
        collected in this run did not yield it."""
        parts = nodeid.split("[", 1)[0].split("::")
        chain = ["::".join(parts[:i]) for i in range(1, len(parts))]
        for i in range(len(chain) - 1, -1, -1):
            children = self._children.get(chain[i])
            if children is not None:
                child = chain[i + 1] if i + 1 < len(chain) else nodeid
                return child not in children
        return False

    def expected(self, file: str) -> set[str]:
        """What collecting ``file`` found, as far as this run went: its tests, and the classes
        this run did not collect (``pytest file::test_a`` leaves a class beside it unopened),
        which have no record and so keep the file incomplete."""
        node = self._file_nodes.get(file, file)
        if node not in self._children:
            # Collected for a node id (`pytest file::test_a`): pytest reports only what matched,
            # and what else the file holds is unknown.
            return {node + "::<not collected>"}
        found: set[str] = set()
        todo = [node]
        while todo:
            for child in self._children.get(todo.pop(), ()):
                if child in self._children:
                    todo.append(child)
                else:
                    found.add(child)
        return found

    def finish(self) -> RecordingResult:
        """Flush what is pending, then the collection records; what the final write needs."""
        for fixture in self._fixtures.values():
            fixture.open = False  # torn down outside any test (after `-x`): nothing was seen
        self.flush()
        incomplete: list[str] = []
        if self._sink is not None and self._collect_records:
            held, self._collect_records = self._collect_records, {}
            incomplete = sorted(
                incomplete_files(
                    {f: self.expected(f) for f, r in held.items() if r.outcome == "passed"},
                    self._finished,
                    self.recorded,
                )
            )
            left_out = set(incomplete)
            self._sink(
                [
                    dataclasses.replace(record, outcome=INCOMPLETE) if file in left_out else record
                    for file, record in sorted(held.items())
                ],
                [],
            )
        removed = sorted(
            nodeid
            for nodeid, file in self.recorded.items()
            if file in self._collected_files and self._gone(nodeid)
        )
        roots = sorted(self.builder.import_roots) if self.builder is not None else []
        return RecordingResult(
            removed=removed,
            always={f: sorted(self._always.get(f, ())) for f in sorted(self._collected_files)},
            collected_files=sorted(self._collected_files),
            import_roots=roots,
            items={f: sorted(self.expected(f)) for f in sorted(self._collected_files)},
            finished=sorted(self._finished),
            incomplete=incomplete,
        )
