"""One networkx graph of tests, the blocks and files they ran against, and (in Pants) targets.

Nodes are strings with a ``kind`` attribute:

- ``test:<nodeid>`` (kind "test"; ``file``, ``outcome``, ``duration``, optional ``target``);
- ``block:<path>::<name>`` (kind "block") for a block of a Python file;
- ``file:<path>`` (kind "file") for a whole file read as data, or owned by a target;
- ``env:<key>`` (kind "env") for the Python version, a distribution, the pytest configuration;
- ``target:<address>`` (kind "target") for a Pants target.

Edges:

- test -> block/file/env, ``rel="ran_against"`` with the ``version`` and ``fingerprint`` seen;
- target -> test, ``rel="contains"``; target -> target, ``rel="depends_on"``;
  target -> file, ``rel="owns"``.

The graph serialises to deterministic JSON (sorted nodes and edges, no timestamps), so the same
inputs give the same bytes: Pants can cache it and users can diff it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import networkx as nx

from difftest.errors import BaselineCorruptError, BaselineVersionError
from difftest.model import (
    COLLECT_SUFFIX,
    DATA_BLOCK,
    ENV_BLOCK,
    ENV_PREFIX,
    INCOMPLETE,
    UNSETTLED_OUTCOMES,
    Dependency,
    TestRecord,
    digest,
)

GRAPH_FORMAT = "difftest-graph"
GRAPH_VERSION = 1


def dep_node(dep: Dependency) -> str:
    if dep.key.startswith(ENV_PREFIX) or dep.name == ENV_BLOCK:
        return f"env:{dep.key}"
    if dep.name == DATA_BLOCK:
        return f"file:{dep.key}"
    return f"block:{dep.key}::{dep.name}"


def add_records(
    graph: nx.DiGraph, records: Iterable[TestRecord], target: str | None = None
) -> None:
    """Add (or replace) the records of tests; ``target`` ties them to a Pants target."""
    for rec in records:
        node = f"test:{rec.nodeid}"
        if node in graph:
            graph.remove_edges_from(list(graph.out_edges(node)))
        attrs: dict[str, Any] = {
            "kind": "test",
            "file": rec.file,
            "outcome": rec.outcome,
            "duration": round(rec.duration, 3),
        }
        if target is not None:
            attrs["target"] = target
            graph.add_node(f"target:{target}", kind="target")
            graph.add_edge(f"target:{target}", node, rel="contains")
        graph.add_node(node, **attrs)
        for dep in rec.deps:
            dnode = dep_node(dep)
            if dnode not in graph:
                graph.add_node(dnode, kind=dnode.split(":", 1)[0], key=dep.key, name=dep.name)
            graph.add_edge(
                node, dnode, rel="ran_against", version=dep.version, fingerprint=dep.fingerprint
            )


def records(graph: nx.DiGraph) -> Iterator[TestRecord]:
    """The test records held in ``graph``, in nodeid order."""
    for node in sorted(n for n, k in graph.nodes(data="kind") if k == "test"):
        data = graph.nodes[node]
        deps = []
        for _, dnode, edge in graph.out_edges(node, data=True):
            if edge.get("rel") != "ran_against":
                continue
            target = graph.nodes[dnode]
            deps.append(
                Dependency(target["key"], edge["version"], target["name"], edge["fingerprint"])
            )
        deps.sort(key=lambda d: (d.key, d.name))
        yield TestRecord(
            node[len("test:") :],
            data["file"],
            data["outcome"],
            float(data["duration"]),
            tuple(deps),
        )


def prune_tests(graph: nx.DiGraph, keep: Iterable[str]) -> None:
    """Drop test nodes not in ``keep`` (nodeids), and nodes no test refers to any more."""
    wanted = {f"test:{n}" for n in keep}
    graph.remove_nodes_from(
        [n for n, k in graph.nodes(data="kind") if k == "test" and n not in wanted]
    )
    graph.remove_nodes_from(
        [
            n
            for n, k in list(graph.nodes(data="kind"))
            if k in ("block", "env") and graph.in_degree(n) == 0
        ]
    )


def to_json(graph: nx.DiGraph, meta: Mapping[str, str] | None = None) -> str:
    nodes = [{"id": n, **dict(sorted(graph.nodes[n].items()))} for n in sorted(graph.nodes)]
    edges = [
        {"source": s, "target": t, **dict(sorted(d.items()))}
        for s, t, d in sorted(graph.edges(data=True), key=lambda e: (e[0], e[1]))
    ]
    doc = {
        "format": GRAPH_FORMAT,
        "version": GRAPH_VERSION,
        "meta": dict(sorted((meta or {}).items())),
        "nodes": nodes,
        "edges": edges,
    }
    return json.dumps(doc, sort_keys=True, indent=1) + "\n"


def from_json(text: str, source: str = "graph") -> tuple[nx.DiGraph, dict[str, str]]:
    fix = "Delete it; difftest rebuilds it on the next recording run."
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineCorruptError(f"{source} is not valid JSON ({exc}). {fix}") from exc
    if not isinstance(doc, dict) or doc.get("format") != GRAPH_FORMAT:
        raise BaselineCorruptError(f"{source} is not a difftest graph. {fix}")
    if doc.get("version") != GRAPH_VERSION:
        raise BaselineVersionError(
            f"{source} has graph format version {doc.get('version')}; this difftest reads "
            f"version {GRAPH_VERSION}. {fix}"
        )
    graph: nx.DiGraph = nx.DiGraph()
    try:
        for node in doc["nodes"]:
            attrs = dict(node)
            graph.add_node(attrs.pop("id"), **attrs)
        for edge in doc["edges"]:
            attrs = dict(edge)
            graph.add_edge(attrs.pop("source"), attrs.pop("target"), **attrs)
        meta = {str(k): str(v) for k, v in doc.get("meta", {}).items()}
        for node, kind in graph.nodes(data="kind"):
            if kind is None:
                raise KeyError(f"node {node} has no kind")
    except (KeyError, TypeError, AttributeError) as exc:
        raise BaselineCorruptError(f"{source} is malformed ({exc}). {fix}") from exc
    return graph, meta


class MemoryIndex:
    """A :class:`difftest.selection.engine.RecordIndex` over records held in memory."""

    def __init__(self, recs: Iterable[TestRecord]) -> None:
        self._versions: dict[tuple[str, str], int] = {}
        self._deps: dict[int, list[tuple[int, int, str, str]]] = {}
        self._tests: dict[int, list[tuple[str, str, int]]] = {}
        self._unsettled: list[tuple[str, str, str]] = []
        self._files: dict[str, int] = {}
        self._collected: set[str] = set()
        depsets: dict[str, int] = {}
        for rec in recs:
            key = digest(
                "\n".join(
                    f"{d.key}\0{d.version}\0{d.name}\0{d.fingerprint}" for d in rec.deps
                ).encode()
            )
            depset = depsets.get(key)
            if depset is None:
                depset = depsets[key] = len(depsets) + 1
                for dep in rec.deps:
                    vid = self._versions.setdefault((dep.key, dep.version), len(self._versions) + 1)
                    self._deps.setdefault(vid, []).append((depset, vid, dep.name, dep.fingerprint))
            self._tests.setdefault(depset, []).append((rec.nodeid, rec.file, depset))
            self._files[rec.file] = self._files.get(rec.file, 0) + 1
            if rec.outcome in UNSETTLED_OUTCOMES:
                self._unsettled.append((rec.nodeid, rec.file, rec.outcome))
            if rec.nodeid.endswith(COLLECT_SUFFIX):
                self._collected.add(rec.file)

    def is_empty(self) -> bool:
        return not self._files

    def versions(self) -> list[tuple[int, str, str]]:
        return [(vid, key, hash_) for (key, hash_), vid in self._versions.items()]

    def deps_of_versions(self, version_ids: Sequence[int]) -> list[tuple[int, int, str, str]]:
        return [row for vid in version_ids for row in self._deps.get(vid, ())]

    def names_of_versions(self, version_ids: Sequence[int]) -> dict[int, str]:
        return {}  # not recorded here: import-time changes are not narrowed

    def tests_of_depsets(self, depset_ids: Sequence[int]) -> list[tuple[str, str, int]]:
        return [row for d in depset_ids for row in self._tests.get(d, ())]

    def unsettled_tests(self) -> list[tuple[str, str, str]]:
        # A test file recorded without a collection record may hold tests with none of their own.
        missing = sorted(set(self._files) - self._collected)
        return [*self._unsettled, *((f + COLLECT_SUFFIX, f, INCOMPLETE) for f in missing)]

    def test_files(self) -> dict[str, int]:
        return dict(self._files)
