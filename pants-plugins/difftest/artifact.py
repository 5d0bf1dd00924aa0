"""The difftest graph of a Pants repository, and the per-target decisions made from it.

Pure functions over plain values (no Pants engine types), so they can be tested directly.

The artifact is the engine's combined networkx graph (:mod:`difftest.graph.combined`) in its
deterministic JSON form, with Pants' side added:

- ``target:<address>`` nodes (kind "target") with ``fingerprint`` (the target's BUILD-file
  field values) and, for python_test targets, ``test_file``;
- ``depends_on`` edges between targets (Pants' declared and inferred dependencies),
  ``owns`` edges from a target to its source files, ``contains`` edges to its recorded tests.

Environment dependencies in the records (``<env>/python``, ``<env>/pytest-config``,
``<env>/dist/NAME``) are stored with the values Pants' configuration gave them when the records
came in (see :class:`EnvSnapshot`), not the sandbox's values: the plugin computes those without
running anything, so a requirement bump re-selects exactly the tests whose records reach that
distribution.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import networkx as nx

from difftest.changes.environment import VAR_PREFIX
from difftest.changes.scan import (
    directory_of_key,
    is_directory_key,
    listing_names_of_files,
)
from difftest.changes.state import CurrentState
from difftest.graph.combined import MemoryIndex, add_records, from_json, records, to_json
from difftest.model import (
    ABSENT,
    COLLECT_SUFFIX,
    DATA_BLOCK,
    DIRECTORY,
    ENV_PREFIX,
    Dependency,
    TestRecord,
    digest,
)
from difftest.selection.engine import select

RECORDS_FORMAT = "difftest-pants-records"
RECORDS_VERSION = 1
ARTIFACT_META = {
    "producer": "difftest Pants plugin",
    "records": f"{RECORDS_FORMAT}/{RECORDS_VERSION}",
}
PYTHON_KEY = ENV_PREFIX + "python"
PYTEST_CONFIG_KEY = ENV_PREFIX + "pytest-config"
DIST_PREFIX = ENV_PREFIX + "dist/"
MODULE_PREFIX = ENV_PREFIX + "module/"
DISTRIBUTIONS_KEY = ENV_PREFIX + "distributions"
SOURCE_PREFIX = ENV_PREFIX + "source/"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- records in
@dataclass(frozen=True)
class RecordFile:
    """One test file's records, as the injected conftest wrote them."""

    file: str
    collected: tuple[str, ...]
    records: tuple[TestRecord, ...]


def parse_record_file(text: str, source: str) -> RecordFile:
    doc = json.loads(text)
    if doc.get("format") != RECORDS_FORMAT or doc.get("version") != RECORDS_VERSION:
        raise ValueError(
            f"{source} is not a difftest Pants record file of version {RECORDS_VERSION}"
        )
    recs = tuple(
        TestRecord(
            r["nodeid"],
            r["file"],
            r["outcome"],
            float(r["duration"]),
            tuple(Dependency(*d) for d in r["deps"]),
        )
        for r in doc["records"]
    )
    return RecordFile(doc["file"], tuple(doc["collected"]), recs)


# --------------------------------------------------------------------------- environment
@dataclass(frozen=True)
class EnvSnapshot:
    """The environment as Pants' configuration describes it now.

    ``dists`` maps a normalized distribution name to what pins it (requirement strings of the
    python_requirement targets naming it, and the locked version when a lockfile is used);
    ``tool_dists`` are the distributions of Pants' pytest tool, all pinned by ``tool``;
    any other distribution (a transitive requirement) gets ``transitive``: a digest of every
    requirement and lockfile, so it changes whenever any of them does. ``variables`` are the
    environment variables Pants gives one target's tests (``extra_env_vars``, pass-through ones
    valued from Pants' own environment), stored as the pytest plugin stores them; a test sees
    no other variable, so reading one never changes.
    """

    python: str
    pytest_config: str
    dists: tuple[tuple[str, str], ...]
    tool_dists: frozenset[str]
    tool: str
    transitive: str
    variables: tuple[tuple[str, str], ...] = ()

    def value(self, key: str) -> str:
        if key.startswith(VAR_PREFIX):
            name = key[len(VAR_PREFIX) :]
            for variable, value in self.variables:
                if variable == name:
                    return value
        if key == PYTHON_KEY:
            return self.python
        if key == PYTEST_CONFIG_KEY:
            return self.pytest_config
        if key.startswith(DIST_PREFIX):
            name = normalize(key[len(DIST_PREFIX) :])
            for dist, pinned in self.dists:
                if dist == name:
                    return pinned
            if name in self.tool_dists:
                return self.tool
            return self.transitive
        if key.startswith((MODULE_PREFIX, SOURCE_PREFIX)) or key == DISTRIBUTIONS_KEY:
            # A module a test could not import or found outside the sandbox's sources, or every
            # distribution (a test enumerated them): any requirement or lockfile change may
            # bring one or change one.
            return self.transitive
        return "unknown:" + key


def with_env(recs: Iterable[TestRecord], env: EnvSnapshot) -> list[TestRecord]:
    """The records with every environment dependency valued as Pants sees it now."""
    out = []
    for rec in recs:
        deps = []
        for dep in rec.deps:
            if dep.key.startswith(ENV_PREFIX):
                value = env.value(dep.key)
                dep = Dependency(dep.key, value, dep.name, value)
            deps.append(dep)
        out.append(TestRecord(rec.nodeid, rec.file, rec.outcome, rec.duration, tuple(deps)))
    return out


# --------------------------------------------------------------------------- the graph
def load(text: str | None, source: str) -> tuple[nx.DiGraph, list[str]]:
    """The artifact's graph (empty when there is none); warnings for an unusable artifact."""
    if not text:
        return nx.DiGraph(), []
    try:
        graph, _meta = from_json(text, source)
    except Exception as exc:  # corrupt, or a foreign version: start again, and say so
        return nx.DiGraph(), [
            f"{exc} Every given test target runs, and `pants difftest` records a new artifact."
        ]
    return graph, []


def dump(graph: nx.DiGraph) -> str:
    return to_json(graph, ARTIFACT_META)


def target_node(address: str) -> str:
    return f"target:{address}"


def target_records(graph: nx.DiGraph, address: str) -> list[TestRecord]:
    node = target_node(address)
    if node not in graph:
        return []
    tests = sorted(t for _, t, d in graph.out_edges(node, data=True) if d.get("rel") == "contains")
    sub = graph.subgraph([*tests, *(n for t in tests for n in graph.successors(t))])
    return list(records(sub))


def target_fingerprint(fields: Mapping[str, str]) -> str:
    return digest("\n".join(f"{k}={v}" for k, v in sorted(fields.items())).encode())


@dataclass(frozen=True)
class TargetInfo:
    """What Pants says about one target now."""

    address: str
    fingerprint: str
    sources: tuple[str, ...]
    depends_on: tuple[str, ...]
    test_file: str | None = None


def update_structure(graph: nx.DiGraph, infos: Iterable[TargetInfo]) -> None:
    """Set target nodes, their ``owns`` and ``depends_on`` edges, from Pants' current view.

    A target's stored ``fingerprint`` is left alone: it is the one its records were made with
    (set by :func:`replace_target_records`)."""
    for info in infos:
        node = target_node(info.address)
        if node in graph:
            graph.remove_edges_from(
                [
                    (s, t)
                    for s, t, d in graph.out_edges(node, data=True)
                    if d.get("rel") in ("owns", "depends_on")
                ]
            )
            graph.nodes[node]["kind"] = "target"
        else:
            graph.add_node(node, kind="target")
        if info.test_file is not None:
            graph.nodes[node]["test_file"] = info.test_file
        for path in info.sources:
            fnode = f"file:{path}"
            if fnode not in graph:
                graph.add_node(fnode, kind="file", key=path, name=DATA_BLOCK)
            graph.add_edge(node, fnode, rel="owns")
        for dep in info.depends_on:
            dnode = target_node(dep)
            if dnode not in graph:
                graph.add_node(dnode, kind="target")
            graph.add_edge(node, dnode, rel="depends_on")


def replace_target_records(
    graph: nx.DiGraph,
    address: str,
    fingerprint: str,
    files: Iterable[RecordFile],
    env: EnvSnapshot,
) -> int:
    """Merge what one run of a target recorded: its tests' records are replaced, and tests no
    longer collected from a collected file are dropped. Returns the number of test records."""
    node = target_node(address)
    taken = 0
    for rec_file in files:
        new = with_env(rec_file.records, env)
        add_records(graph, new, target=address)
        taken += sum(1 for r in new if not r.nodeid.endswith(COLLECT_SUFFIX))
        collect_ok = any(
            r.nodeid == rec_file.file + COLLECT_SUFFIX and r.outcome == "passed" for r in new
        )
        if collect_ok:
            keep = set(rec_file.collected) | {rec_file.file + COLLECT_SUFFIX}
            gone = [
                t
                for _, t, d in list(graph.out_edges(node, data=True))
                if d.get("rel") == "contains"
                and graph.nodes[t].get("file") == rec_file.file
                and t[len("test:") :] not in keep
            ]
            graph.remove_nodes_from(gone)
    if node in graph:
        graph.nodes[node]["fingerprint"] = fingerprint
        graph.nodes[node]["kind"] = "target"
    _prune(graph)
    return taken


def drop_targets(graph: nx.DiGraph, keep: Iterable[str]) -> list[str]:
    """Remove target nodes (and their tests) not in ``keep``; returns the removed addresses."""
    wanted = {target_node(a) for a in keep}
    gone = [n for n, k in graph.nodes(data="kind") if k == "target" and n not in wanted]
    tests = [t for n in gone for t in graph.successors(n) if graph.nodes[t].get("kind") == "test"]
    graph.remove_nodes_from([*gone, *tests])
    _prune(graph)
    return sorted(n[len("target:") :] for n in gone)


def _prune(graph: nx.DiGraph) -> None:
    graph.remove_nodes_from(
        [
            n
            for n, k in list(graph.nodes(data="kind"))
            if k in ("block", "env") and graph.in_degree(n) == 0
        ]
    )
    graph.remove_nodes_from(
        [n for n, k in list(graph.nodes(data="kind")) if k == "file" and graph.degree(n) == 0]
    )


# --------------------------------------------------------------------------- decisions
class ViewHasher:
    """The files of one target's sandbox, with their current workspace content.

    A file outside the sandbox counts as absent: that is what the test would see there. The
    listing of a directory (a ``DIR/<listing>`` key) and its extension modules (``DIR/<extensions>``)
    are computed from the sandbox's file set by the rules the injected recorder listed the
    directory with in the sandbox (``scan.listing_names_of_files`` and ``scan.listing_names``,
    then ``listing_digest_of`` or ``extensions_value``)."""

    def __init__(self, contents: Mapping[str, bytes], sandbox: Iterable[str]) -> None:
        self._files = frozenset(sandbox)
        self._contents = {p: c for p, c in contents.items() if p in self._files}
        self._hashes: dict[str, str | None] = {}

    def hash(self, path: str) -> str | None:
        if path in self._hashes:
            return self._hashes[path]
        of_directory = directory_of_key(path)
        if of_directory is not None:
            directory, version_of = of_directory
            names = listing_names_of_files(self._files, directory)
            found = None if names is None else version_of(names)
        elif path in self._contents:
            found = digest(self._contents[path])
        else:
            found = None
        self._hashes[path] = found
        return found

    def data_version(self, path: str) -> str:
        """Like ``FileHasher.data_version``: in a sandbox, a directory is there when a file of
        the view is under it."""
        found = self.hash(path)
        if found is not None:
            return found
        return DIRECTORY if listing_names_of_files(self._files, path) is not None else ABSENT

    def read(self, path: str) -> bytes:
        return self._contents[path]


def root_entries(files: Collection[str]) -> list[str]:
    """The sandbox root's entries that belong to the target's view (sub-directories end in "/"):
    what the recorder keeps of the root when it lists it or hashes every file for a test that
    started a process. Everything else at the root is Pants' machinery (pex directories,
    ``__run.sh``, ``extra-output/``, ``.coveragerc``, the JUnit XML)."""
    return listing_names_of_files(files, "") or []


@dataclass(frozen=True)
class Decision:
    """Whether one python_test target runs, which of its recorded tests are deselected, why."""

    address: str
    test_file: str
    run: bool
    reasons: tuple[str, ...] = ()
    #: Recorded tests known to be unaffected: deselected inside the target.
    deselect: tuple[str, ...] = ()
    #: Recorded tests that must run, with why: (node id, reasons).
    affected: tuple[tuple[str, tuple[str, ...]], ...] = ()
    recorded: int = 0
    #: No usable records: Pants' own dependency graph decided.
    fallback: bool = False

    def describe(self) -> str:
        why = "; ".join(self.reasons)
        if not self.run:
            return why or f"unaffected (none of its {self.recorded} recorded tests is)"
        if self.fallback or not self.deselect:
            return "runs in full: " + why
        return (
            f"{len(self.affected)} of {self.recorded} recorded tests run (and any new test): {why}"
        )


def referenced_paths(recs: Iterable[TestRecord]) -> set[str]:
    """The files the records name (directory listings and environment items are not files:
    listings are computed from the sandbox's file set)."""
    return {
        d.key
        for r in recs
        for d in r.deps
        if not d.key.startswith(ENV_PREFIX) and not is_directory_key(d.key)
    }


def decide(
    address: str,
    test_file: str,
    recs: list[TestRecord],
    stored_fingerprint: str | None,
    fingerprint: str,
    contents: Mapping[str, bytes],
    sandbox: Iterable[str],
    env: EnvSnapshot,
    *,
    in_pants_selection: bool,
    select_tests: bool = True,
) -> Decision:
    """Decide for one target. ``in_pants_selection``: whether Pants' own selection (the target
    roots, e.g. from ``--changed-since``) includes it; used only when there are no records."""
    tests = [r for r in recs if not r.nodeid.endswith(COLLECT_SUFFIX)]
    if not recs:
        if in_pants_selection:
            return Decision(
                address,
                test_file,
                True,
                ("no recorded data: falls back to Pants' dependency graph, which selects it",),
                fallback=True,
            )
        return Decision(
            address,
            test_file,
            False,
            ("no recorded data, and Pants' dependency graph does not select it",),
            fallback=True,
        )
    if stored_fingerprint != fingerprint:
        return Decision(
            address, test_file, True, ("its BUILD-file definition changed",), recorded=len(tests)
        )
    envs = {d.key: env.value(d.key) for r in recs for d in r.deps if d.key.startswith(ENV_PREFIX)}
    state = CurrentState(ViewHasher(contents, sandbox), envs)  # type: ignore[arg-type]
    selection = select(MemoryIndex(recs), state)
    if selection.run_all is not None:
        return Decision(address, test_file, True, (str(selection.run_all),), recorded=len(tests))
    affected = {n: tuple(str(r) for r in rs) for n, rs in sorted(selection.affected.items())}
    must_collect = test_file in selection.files_to_collect
    if not affected and not must_collect:
        return Decision(address, test_file, False, (), recorded=len(tests))
    reasons = sorted({r for rs in affected.values() for r in rs})[:5]
    if not affected:
        reasons = [f"collecting {test_file} depends on something that changed"]
    deselect = sorted(r.nodeid for r in tests if r.nodeid not in affected) if select_tests else []
    return Decision(
        address,
        test_file,
        True,
        tuple(reasons),
        deselect=tuple(deselect),
        affected=tuple(affected.items()),
        recorded=len(tests),
    )
