"""The baseline as the plugin uses it: fetched from a remote, opened (or set aside when it is
unreadable), written in batches, uploaded."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from difftest.errors import DifftestError, StorageError
from difftest.model import Dependency, TestRecord
from difftest.storage.baseline import Baseline, StatRow

if TYPE_CHECKING:
    from difftest.runners.pytest.spool import Spool

Edge = tuple[str, str, str]
#: Suffix of a baseline file set aside because it could not be read.
CORRUPT_SUFFIX = ".corrupt"
#: Seconds of writing batches in the run's own process before a helper process takes over the
#: rest: about what starting one costs (an interpreter, difftest's storage modules) on a core the
#: tests may need. Since a batch stores what its tests of one file share once (baseline format
#: 3), toolz's 193 tests write in under 0.02 s and more-itertools' 664 in about 0.035 s.
SPOOL_AFTER = 0.1
#: Tests to record from which the helper starts as soon as they are collected: started only
#: when a batch is due, it is still importing while the first batches wait on its pipe. With
#: depsets stored flat (format 2) that cost 0.3 s more on more-itertools' 664 tests, and the
#: helper started at 400; writing them now costs less than starting it (more-itertools, 11
#: interleaved rounds: 4.34 s of CPU time with the helper never started early, 4.48 s with it).
SPOOL_TESTS = 2000


def ensure_db_dir(path: Path, *, ignore_all: bool) -> None:
    """Create the baseline's directory; the default ``.difftest/`` gets a ``.gitignore`` of ``*``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if ignore_all:
        gitignore = path.parent / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("*\n")


def download(url: str, dest: Path, *, ignore_all: bool) -> str:
    """Fetch the remote baseline to ``dest``; a failure aborts the run (pytest.UsageError)."""
    from difftest.storage.remote import open_remote

    try:
        ensure_db_dir(dest, ignore_all=ignore_all)
        found = open_remote(url).download(dest)
    except (DifftestError, OSError) as exc:
        raise pytest.UsageError(
            f"difftest: could not download the baseline from {url}: {exc}\n"
            "The run stops rather than select tests without the baseline. Fix the remote (or "
            "the credentials), or run without --diff-remote / diff_remote_url."
        ) from exc
    if found:
        return f"baseline downloaded from {url}"
    return f"no baseline at {url} yet"


def upload(url: str, src: Path) -> str:
    from difftest.storage.remote import open_remote

    open_remote(url).upload(src)
    return f"baseline uploaded to {url}"


def set_aside(path: Path) -> Path:
    """Move an unreadable baseline out of the way (``<db>.corrupt``, or ``<db>.corrupt.N`` beside
    one set aside before), keeping it for inspection: one never replaces another."""
    target = path.with_name(path.name + CORRUPT_SUFFIX)
    n = 0
    while target.exists() or target.is_symlink():
        n += 1
        target = path.with_name(f"{path.name}{CORRUPT_SUFFIX}.{n}")
    os.replace(path, target)
    return target


@dataclass
class Opened:
    """The baseline of this run (None: there is none, or it could not be read) and what to say."""

    baseline: Baseline | None
    notes: list[str] = field(default_factory=list)
    #: Why the stored records cannot be used (the run then runs everything).
    unusable: str | None = None


def unreadable(path: Path, exc: Exception, *, rebuild: bool) -> tuple[str, str]:
    """(warning line, run-everything reason) for a baseline that could not be read."""
    try:
        moved: str = str(set_aside(path))
        where = f"it was moved to {moved}"
    except OSError as move_error:
        where = f"it could not be moved aside ({move_error}); delete it"
    fix = (
        "a new baseline is recorded by this run"
        if rebuild
        else "record a new one with `pytest --diff-baseline`"
    )
    detail = str(exc).split(". Delete it", 1)[0]
    return (
        f"WARNING: the baseline {path} cannot be used: {detail.rstrip('.')}. Everything runs; {where}; {fix}.",
        f"the baseline {path} could not be read: everything runs",
    )


def open_for_run(path: Path, *, record: bool, ignore_all: bool) -> Opened:
    """Open the baseline: created when recording, None (run everything) when only selecting
    without one; an unreadable file is set aside with a warning."""
    exists = path.exists() and path.stat().st_size > 0
    if not exists and not record:
        return Opened(None, unusable=f"no baseline at {path}: everything runs")
    if record:
        ensure_db_dir(path, ignore_all=ignore_all)
    try:
        return Opened(Baseline.open(path, create=record))
    except (StorageError, sqlite3.DatabaseError) as exc:
        warning, reason = unreadable(path, exc, rebuild=record)
        if not record:
            return Opened(None, [warning], unusable=reason)
        return Opened(Baseline.open(path, create=True), [warning], unusable=reason)


class BatchWriter:
    """Writes records in batches, one transaction each; the first write of a forced rebuild
    (or of a baseline that could not be read) drops every earlier record. With ``spool`` (what
    starts a helper process, :mod:`~difftest.runners.pytest.spool`), once writing has taken
    ``spool_after`` seconds (default :data:`SPOOL_AFTER`) the helper writes the batches that
    follow; the last write waits for it, then is this process's own."""

    def __init__(
        self,
        baseline: Baseline,
        *,
        replace_all: bool,
        names_of: Callable[[str, str], str | None] | None = None,
        spool: Callable[[], Spool] | None = None,
        spool_after: float | None = None,
        cached_names: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.baseline = baseline
        self._replace_all = replace_all
        self._names_of = names_of
        self._start_spool = spool
        self._spool_after = SPOOL_AFTER if spool_after is None else spool_after
        #: Seconds this process spent writing batches so far.
        self._writing = 0.0
        self._spool: Spool | None = None
        #: Name facts worked out already (no parsing), sent with the batches to the spool.
        self._cached_names = cached_names
        self._sent_names: set[tuple[str, str]] = set()
        self.written = 0

    def expect(self, tests: int) -> None:
        """``tests`` will be recorded: enough of them, and the helper starts now, ready by the
        time the first batch is."""
        if tests >= SPOOL_TESTS:
            self._start_helper()

    def _start_helper(self) -> None:
        if self._start_spool is not None:
            self._spool, self._start_spool = self._start_spool(), None

    def write(
        self,
        records: Iterable[TestRecord],
        *,
        edges: Iterable[Edge] = (),
        remove: Iterable[str] = (),
        stat_cache: Mapping[str, StatRow] | None = None,
        meta: Mapping[str, str] | None = None,
        last: bool = False,
        names: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        """``last``: the run's final write, which also deletes what no test references any
        more (once per run: doing it per batch made recording quadratic in the suite size)."""
        records = list(records)
        if not last and self._writing >= self._spool_after:
            self._start_helper()
        spool = self._spool
        if spool is not None and not last and not remove and stat_cache is None and not meta:
            from difftest.runners.pytest.spool import shared_deps

            edges = list(edges)
            unique = shared_deps(records)
            rows = [*names, *self._names_to_send(unique.values())]
            if spool.send(records, unique, edges, rows, self._replace_all):
                self._replace_all = False
                self.written += len(records)
                return
        if spool is not None and (last or spool.failed is not None):
            self._spool = None
            spool.finish()  # raises if a batch handed over was not written
        started = time.perf_counter()
        self.baseline.write(
            records,
            edges=edges,
            remove=remove,
            stat_cache=stat_cache,
            meta=meta,
            replace_all=self._replace_all,
            collect=last,
            names_of=self._names_of,
            names=names,
            durable=last,
        )
        self._writing += time.perf_counter() - started
        self._replace_all = False
        self.written += len(records)

    def _names_to_send(self, deps: Iterable[Dependency]) -> list[tuple[str, str, str]]:
        """Name facts of the Python file versions among a batch's dependencies (each once) not
        sent yet, where worked out already."""
        if self._cached_names is None:
            return []
        wanted = {(d.key, d.version) for d in deps if d.key.endswith(".py")}
        wanted -= self._sent_names
        rows = []
        for key, version in sorted(wanted):
            facts = self._cached_names(key, version)
            if facts is not None:
                rows.append((key, version, facts))
                self._sent_names.add((key, version))
        return rows

    def close(self) -> None:
        """Stop a spool still running (a run that ended before its last write)."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
