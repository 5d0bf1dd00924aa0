"""Merge baselines: the shards of parallel CI jobs (or of machines) into one artifact.

For each test a record of a failure (or an error, or an incomplete collection) wins over one of
a pass: when in doubt, the test runs until a run records it passing. Otherwise the newest record
wins (by the time it was recorded; on a tie, the input listed later). The run-time import edges
of every input are kept. The machine-local stat cache is
not merged. The output is written to a temporary file and renamed into place, so a failed merge
leaves the previous output as it was.

Inputs and the output may be local paths or remote URLs (see :mod:`difftest.storage.remote`).
An input that is a directory, or a URL ending in ``/``, stands for every ``.db`` file directly
inside it. Every input must be a baseline of this format version: anything else is refused,
naming the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from difftest.errors import RemoteError, StorageError
from difftest.model import COLLECT_SUFFIX, INCOMPLETE, UNSETTLED_OUTCOMES, TestRecord
from difftest.storage.baseline import (
    ALWAYS_RUN_META,
    COMMIT_META,
    INCOMPLETE_ITEMS_META,
    PYTEST_CONFIG_META,
    Baseline,
    incomplete_items,
)
from difftest.storage.remote import is_url, open_remote


@dataclass
class MergeResult:
    """What a merge read and wrote."""

    output: str
    #: The baselines read, after expanding directories and prefixes, in order.
    inputs: list[str] = field(default_factory=list)
    #: Records (tests and collection records) in the output.
    records: int = 0
    #: Records dropped because another input had a newer record of the same test.
    superseded: int = 0
    edges: int = 0
    #: Test files every input left incomplete, whose tests between them all have a record.
    completed: int = 0
    #: Test files the output leaves incomplete: a test of theirs ran to its end in no input.
    incomplete: int = 0


@dataclass
class _Winner:
    recorded_at: float
    record: TestRecord


def _unwritable(output: Path, exc: OSError) -> str:
    return (
        f"cannot write the merged baseline to {output}: {exc.strerror or exc}. Choose an OUTPUT "
        "in a writable directory (the inputs were left as they were)."
    )


def _rank(record: TestRecord, recorded_at: float) -> tuple[bool, bool, float]:
    """Which of two records of one test a merge keeps: the unsettled one, then the newer. A job
    that saw the test fail outweighs a later one that saw it pass (a flaky test, another
    machine): it runs again, and the next recording settles it.

    A test file's collection record is "incomplete" in a job that left some of its tests out
    (a ``-k`` shard). Another job's complete one outweighs it: every test that job collected
    from the file ran there, so the merge holds a record of each. Were the file's tests
    different now, what that record depends on (the file, what collecting it read) changed,
    and the file is collected again."""
    incomplete = record.outcome == INCOMPLETE and record.nodeid.endswith(COLLECT_SUFFIX)
    return (record.outcome in UNSETTLED_OUTCOMES and not incomplete, not incomplete, recorded_at)


def merge_files(inputs: Sequence[tuple[str, Path]], output: Path) -> MergeResult:
    """Merge the local baselines ``inputs`` ((label, path) pairs) into ``output`` atomically."""
    if not inputs:
        raise StorageError("nothing to merge: give at least one input baseline.")
    result = MergeResult(str(output), [label for label, _ in inputs])
    newest: dict[str, _Winner] = {}
    edges: set[tuple[str, str, str]] = set()
    names: dict[tuple[str, str], str] = {}
    import_roots: list[str] = []
    always_run: dict[str, set[str]] = {}
    # What collecting each incomplete test file found, per input that left it incomplete; None
    # where an input did not say (a baseline from before difftest kept it).
    found: dict[str, set[str] | None] = {}
    # The commit comes from the input recorded last (its newest record, then its update time).
    latest: tuple[tuple[float, str], dict[str, str]] | None = None
    for label, path in inputs:
        if not path.is_file():
            raise StorageError(f"cannot merge {label}: no such file.")
        with Baseline.open_existing(path) as baseline:
            meta = baseline.meta()
            stamps = baseline.recorded_at()
            items = incomplete_items(meta)
            for rec in baseline.records():
                when = stamps[rec.nodeid]
                if rec.outcome == INCOMPLETE and rec.nodeid.endswith(COLLECT_SUFFIX):
                    ids = items.get(rec.file)
                    so_far = found.get(rec.file, set())
                    found[rec.file] = None if ids is None or so_far is None else so_far | set(ids)
                kept = newest.get(rec.nodeid)
                if kept is not None:
                    result.superseded += 1
                    if _rank(kept.record, kept.recorded_at) > _rank(rec, when):
                        continue
                newest[rec.nodeid] = _Winner(when, rec)
            edges.update(baseline.edges())
            names.update(((k, h), f) for k, h, f in baseline.names())
            import_roots.extend(r for r in baseline.import_roots() if r not in import_roots)
            for file, nodeids in _always_run(meta, label).items():
                always_run.setdefault(file, set()).update(nodeids)
        recency = (max(stamps.values(), default=0.0), meta.get("updated_at", ""))
        if latest is None or recency >= latest[0]:
            latest = (recency, meta)

    # A file every input left incomplete is complete when, between them, each test collecting
    # it found has a record: the jobs split its tests (`-k`, a sharding plugin).
    left: dict[str, list[str]] = {}
    for nodeid, winner in list(newest.items()):
        rec = winner.record
        if rec.outcome != INCOMPLETE or not nodeid.endswith(COLLECT_SUFFIX):
            continue
        collected = found.get(rec.file)
        if collected is not None and all(n in newest for n in collected):
            newest[nodeid] = _Winner(winner.recorded_at, dataclasses.replace(rec, outcome="passed"))
            result.completed += 1
            continue
        result.incomplete += 1
        if collected is not None:
            left[rec.file] = sorted(collected)
    out_meta = {"import_roots": json.dumps(import_roots), INCOMPLETE_ITEMS_META: json.dumps(left)}
    if always_run:
        out_meta[ALWAYS_RUN_META] = json.dumps(
            {f: sorted(n) for f, n in always_run.items()}, sort_keys=True
        )
    if latest is not None:
        for key in (COMMIT_META, PYTEST_CONFIG_META):
            if key in latest[1]:
                out_meta[key] = latest[1][key]

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".merge")
    except OSError as exc:
        raise StorageError(_unwritable(output, exc)) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        with Baseline.open(tmp) as merged:
            merged.write(
                (w.record for w in newest.values()),
                edges=sorted(edges),
                meta=out_meta,
                names=[(k, h, f) for (k, h), f in sorted(names.items())],
            )
            # each test keeps the time it was recorded in its input
            merged.set_recorded_at({n: w.recorded_at for n, w in newest.items()})
        os.replace(tmp, output)
    except OSError as exc:
        raise StorageError(_unwritable(output, exc)) from exc
    finally:
        tmp.unlink(missing_ok=True)
    result.records = len(newest)
    result.edges = len(edges)
    return result


def _expand_local(spec: str) -> list[tuple[str, Path]]:
    path = Path(spec)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix == ".db" and p.is_file())
        if not found:
            raise StorageError(f"cannot merge {spec}: the directory holds no .db files.")
        return [(str(p), p) for p in found]
    if not path.exists():
        raise StorageError(f"cannot merge {spec}: no such file or directory.")
    return [(spec, path)]


def _fetch_remote(spec: str, workdir: Path) -> list[tuple[str, Path]]:
    remote = open_remote(spec)
    urls = remote.list() if remote.is_prefix else [spec]
    if not urls:
        raise RemoteError(f"cannot merge {spec}: there are no .db baselines under it.")
    fetched: list[tuple[str, Path]] = []
    for url in urls:
        fd, name = tempfile.mkstemp(dir=workdir, suffix=".db")
        os.close(fd)
        dest = Path(name)
        if not remote.entry(url).download(dest):
            raise RemoteError(f"cannot merge {url}: there is no baseline there.")
        fetched.append((url, dest))
    return fetched


def merge(output: str, inputs: Sequence[str]) -> MergeResult:
    """Merge ``inputs`` (paths, directories, URLs, URL prefixes) into ``output`` (path or URL).

    A remote output is written by merging into a temporary file and uploading it.
    """
    if not inputs:
        raise StorageError("nothing to merge: give at least one input baseline.")
    target = open_remote(output) if is_url(output) else None
    if target is not None and target.is_prefix:
        raise RemoteError(
            f"cannot merge into {output}: it names a directory or prefix. Name the output file, "
            "e.g. s3://bucket/baseline.db."
        )
    if target is None and Path(output).is_dir():
        raise StorageError(f"cannot merge into {output}: it is a directory. Name the output file.")
    with tempfile.TemporaryDirectory(prefix="difftest-merge-") as tmpdir:
        workdir = Path(tmpdir) / "inputs"
        workdir.mkdir()
        files: list[tuple[str, Path]] = []
        for spec in inputs:
            files.extend(_fetch_remote(spec, workdir) if is_url(spec) else _expand_local(spec))
        if target is None:
            result = merge_files(files, Path(output))
        else:
            merged = Path(tmpdir) / "merged.db"
            result = merge_files(files, merged)
            target.upload(merged)
        result.output = output
        return result


def _always_run(meta: dict[str, str], label: str) -> dict[str, list[str]]:
    """The always-run markers an input recorded; refuse a malformed value rather than drop it."""
    raw = meta.get(ALWAYS_RUN_META)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
        return {str(f): [str(n) for n in ids] for f, ids in value.items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise StorageError(
            f"cannot merge {label}: its always-run list is malformed ({exc}). "
            "Re-record it with `pytest --diff-baseline`."
        ) from exc
