"""Batches written by the helper process hold what the run would have written itself; a helper
that fails is reported at the end, and what it committed before stays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from difftest.errors import StorageError
from difftest.model import TestRecord
from difftest.runners.pytest.spool import Spool
from difftest.runners.pytest.store import SPOOL_TESTS, BatchWriter
from difftest.storage.baseline import Baseline


def _batches(baselines) -> list[list[TestRecord]]:
    shared = baselines.record("t.py::x", ("app.py", "<module>"), ("app.py", "Shape")).deps
    return [
        [
            TestRecord(f"t.py::test_{b}_{i}", "t.py", "passed", 0.1, (*shared, *extra.deps))
            for i, extra in enumerate(
                [baselines.record("t.py::y", ("app.py", f"f{b}")), baselines.record("t.py::z")]
            )
        ]
        for b in range(3)
    ]


def _write(path: Path, batches: list[list[TestRecord]], spool: Spool | None) -> None:
    with Baseline.open(path) as baseline:
        writer = BatchWriter(
            baseline, replace_all=True, spool=spool and (lambda: spool), spool_after=0
        )
        for batch in batches:
            writer.write(batch, edges=[("app.py", "data.json", "data")])
        writer.write([], meta={"k": "v"}, last=True)


def test_batches_written_by_the_helper_are_what_the_run_would_have_written(
    tmp_path: Path, baselines
) -> None:
    batches = _batches(baselines)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    here, there = tmp_path / "one" / "b.db", tmp_path / "two" / "b.db"
    _write(here, batches, None)
    _write(there, batches, Spool(there, tmp_path))
    written, expected = baselines.content(there), baselines.content(here)
    del written["recorded_at"], expected["recorded_at"]  # when, not what
    assert written == expected
    assert len(written["records"]) == 6


def test_a_helper_that_failed_is_reported_and_the_batches_it_committed_stay(
    tmp_path: Path, baselines
) -> None:
    first, second, third = _batches(baselines)
    path = tmp_path / "b.db"
    Baseline.open(path).close()
    spool = Spool(path, tmp_path)
    with Baseline.open(path) as baseline:
        writer = BatchWriter(baseline, replace_all=True, spool=lambda: spool, spool_after=0)
        writer.write(first)
        # A batch the helper cannot write (here: not a batch at all); it takes no more.
        assert spool._proc is not None and spool._proc.stdin is not None
        spool._proc.stdin.write(b"not a batch\n")
        writer.write(second)
        with pytest.raises(StorageError, match="writing this run's records to the baseline"):
            writer.write(third, last=True)
    stored = set(baselines.content(path)["records"])
    assert {r.nodeid for r in first} <= stored
    assert not {r.nodeid for r in second} & stored


def _starts(path: Path, root: Path) -> tuple[Callable[[], Spool], list[Spool]]:
    """What starts a helper writing to ``path``, and the helpers it started."""
    started: list[Spool] = []

    def start() -> Spool:
        started.append(Spool(path, root))
        return started[-1]

    return start, started


def test_the_helper_starts_only_once_writing_took_as_long_as_starting_it_would(
    tmp_path: Path, baselines
) -> None:
    first, second, third = _batches(baselines)
    path = tmp_path / "b.db"
    start, started = _starts(path, tmp_path)

    with Baseline.open(path) as baseline:
        writer = BatchWriter(baseline, replace_all=True, spool=start, spool_after=3600)
        for batch in (first, second, third):
            writer.write(batch)
        writer.write([], last=True)
    assert not started
    assert len(baselines.content(path)["records"]) == 6

    with Baseline.open(path) as baseline:
        writer = BatchWriter(baseline, replace_all=True, spool=start, spool_after=1e-9)
        writer.write(first)  # nothing written yet: the run writes it
        assert not started
        writer.write(second)
        writer.write(third)
        assert len(started) == 1 and writer.written == 6
        writer.write([], last=True)
    assert set(baselines.content(path)["records"]) == {r.nodeid for r in (*first, *second, *third)}


def test_a_run_with_many_tests_to_record_starts_the_helper_as_soon_as_they_are_collected(
    tmp_path: Path, baselines
) -> None:
    path = tmp_path / "b.db"
    start, started = _starts(path, tmp_path)

    with Baseline.open(path) as baseline:
        writer = BatchWriter(baseline, replace_all=True, spool=start, spool_after=3600)
        writer.expect(SPOOL_TESTS - 1)
        assert not started
        writer.expect(SPOOL_TESTS)
        assert len(started) == 1
        for batch in _batches(baselines):
            writer.write(batch)
        writer.write([], last=True)
    assert len(baselines.content(path)["records"]) == 6
