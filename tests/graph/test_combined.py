from __future__ import annotations

import dataclasses

import networkx as nx
import pytest

from difftest.changes.scan import FileHasher
from difftest.changes.state import CurrentState
from difftest.errors import BaselineCorruptError, BaselineVersionError
from difftest.graph.combined import MemoryIndex, add_records, from_json, records, to_json
from difftest.model import Dependency, TestRecord
from difftest.selection.engine import select

RECS = [
    TestRecord(
        "tests/test_a.py::test_one",
        "tests/test_a.py",
        "passed",
        0.25,
        (
            Dependency("src/a.py", "h1", "<module>", "m1"),
            Dependency("src/a.py", "h1", "f", "f1"),
            Dependency("data.csv", "d1", "<data>", "d1"),
            Dependency("<env>/python", "CPython 3.12", "<env>", "CPython 3.12"),
        ),
    ),
    TestRecord(
        "tests/test_b.py::test_two",
        "tests/test_b.py",
        "failed",
        0.5,
        (Dependency("src/a.py", "h1", "g", "g1"),),
    ),
]


def test_records_survive_a_json_round_trip_byte_for_byte():
    graph = nx.DiGraph()
    add_records(graph, RECS, target="tests:tests")
    text = to_json(graph)
    again, _ = from_json(text)
    expected = [
        dataclasses.replace(r, deps=tuple(sorted(r.deps, key=lambda d: (d.key, d.name))))
        for r in sorted(RECS, key=lambda r: r.nodeid)
    ]
    assert list(records(again)) == expected
    assert to_json(again) == text


def test_a_foreign_or_newer_graph_file_is_refused_with_the_fix():
    with pytest.raises(BaselineCorruptError, match="not a difftest graph"):
        from_json('{"nodes": []}')
    with pytest.raises(BaselineVersionError, match="rebuilds it"):
        from_json('{"format": "difftest-graph", "version": 99}')
    with pytest.raises(BaselineCorruptError, match="not valid JSON"):
        from_json('{"format": ')


def test_selection_over_memory_records_matches_the_recorded_fingerprints(tmp_path):
    index = MemoryIndex(RECS)
    current = CurrentState(FileHasher(tmp_path), env={"<env>/python": "CPython 3.12"})
    selection = select(index, current)
    # Every file is absent from tmp_path, so both tests ran against something different now.
    assert set(selection.affected) == {"tests/test_a.py::test_one", "tests/test_b.py::test_two"}
    assert any(r.kind == "unsettled" for r in selection.affected["tests/test_b.py::test_two"])
