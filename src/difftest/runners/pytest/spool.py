"""Write a recording run's batches of records in a process of its own.

Storing a batch is SQLite work in the run's process: on more-itertools (77,000 dependency rows)
it was a third of what a baseline run added to the tests' wall time. With a second core, the run
hands its batches to a helper process, which writes each (one transaction per batch, as the run
would) while the next tests run; a short run writes its first batches itself
(:class:`~difftest.runners.pytest.store.BatchWriter` decides when the helper starts). The run's
final write (what no test references any more, the meta values, the hash cache) waits for the
helper to finish, then is the run's own.

Name facts the run has worked out already travel with the batches; the helper reads the others
from the files, as the run would. If a batch fails to write, the helper writes no more (it still
reads them, so that the run never waits on the pipe); if it stops taking batches, the run writes
the rest itself. Either way the failure is reported at the end, as a failed batch write is: the
baseline keeps every batch committed before, and the tests whose records were lost run again
next time.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from difftest.changes.names import names_reader
from difftest.changes.scan import FileHasher
from difftest.errors import DifftestError, StorageError
from difftest.model import Dependency, TestRecord
from difftest.runners.pytest.helpers import spawn_helper, stop_helper
from difftest.storage.baseline import Baseline

Edge = tuple[str, str, str]
NameRow = tuple[str, str, str]


def shared_deps(records: Iterable[TestRecord]) -> dict[int, Dependency]:
    """A batch's dependencies, each once. Records share most of them (a file's import-time
    blocks are the same objects in every record that imports it): telling them apart by
    identity keeps this cheap for the run's process."""
    return {id(d): d for r in records for d in r.deps}


def _encode(
    records: Sequence[TestRecord],
    unique: Mapping[int, Dependency],
    edges: Iterable[Edge],
    names: Iterable[NameRow],
    replace_all: bool,
) -> bytes:
    # Each dependency is sent once per batch (``unique``: :func:`shared_deps`), records refer
    # to it by position.
    positions = {key: at for at, key in enumerate(unique)}
    table = list(unique.values())  # named tuples: JSON arrays
    encoded = [
        [r.nodeid, r.file, r.outcome, r.duration, [positions[id(d)] for d in r.deps]]
        for r in records
    ]
    batch = {
        "d": table,
        "r": encoded,
        "e": [list(e) for e in edges],
        "n": [list(n) for n in names],
        "x": replace_all,
    }
    return json.dumps(batch, separators=(",", ":")).encode() + b"\n"


def _decode(line: bytes) -> tuple[list[TestRecord], list[Edge], list[NameRow], bool]:
    raw: Any = json.loads(line)
    table = [Dependency(str(k), str(v), str(n), str(f)) for k, v, n, f in raw["d"]]
    records = [
        TestRecord(str(n), str(f), str(o), float(t), tuple(table[i] for i in refs))
        for n, f, o, t, refs in raw["r"]
    ]
    edges = [(str(s), str(d), str(k)) for s, d, k in raw["e"]]
    names = [(str(k), str(h), str(f)) for k, h, f in raw["n"]]
    return records, edges, names, bool(raw["x"])


class Spool:
    """The helper process that writes batches, seen from the run."""

    def __init__(self, db_path: Path, root: Path) -> None:
        self._proc: subprocess.Popen[bytes] | None = spawn_helper(
            "difftest.runners.pytest.spool", [str(db_path.resolve()), str(root.resolve())], root
        )
        #: Why the helper can take no more batches (None: it can).
        self.failed: str | None = None

    def send(
        self,
        records: Sequence[TestRecord],
        unique: Mapping[int, Dependency],
        edges: Iterable[Edge],
        names: Iterable[NameRow],
        replace_all: bool,
    ) -> bool:
        """Hand a batch over (``unique``: its :func:`shared_deps`); False if the helper cannot
        take it (the caller writes it)."""
        proc = self._proc
        if proc is None or proc.stdin is None or self.failed is not None:
            return False
        try:
            proc.stdin.write(_encode(records, unique, edges, names, replace_all))
            proc.stdin.flush()
        except OSError as exc:
            self.failed = f"it stopped taking batches ({exc})"
            return False
        return True

    def finish(self) -> None:
        """Wait until every batch handed over is written; raise StorageError if any was not."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        out = b""
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            out = proc.stdout.read() if proc.stdout is not None else b""
        except OSError:
            pass
        status = proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        try:
            result: Any = json.loads(out)
            error = result.get("error") if isinstance(result, dict) else "no answer"
        except ValueError:
            error = f"it exited with status {status} without saying why"
        if error is None and self.failed is not None:
            error = self.failed
        if error is not None:
            raise StorageError(
                f"the process writing this run's records to the baseline failed: {error}. The "
                "baseline keeps what was written before; the tests whose records were not "
                "written run again next time (or run `pytest --diff-baseline` again now)."
            )

    def close(self) -> None:
        """Stop the helper without waiting for it (a run that ends on an error)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_helper(proc)


def main(argv: list[str]) -> int:
    db_path, root = Path(argv[0]), Path(argv[1])
    # Reading the pipe on a thread of its own keeps the run from waiting on a full pipe while
    # a batch is written.
    lines: queue.Queue[bytes | None] = queue.Queue()

    def read() -> None:
        for line in sys.stdin.buffer:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    names_of = names_reader(FileHasher(root))
    written = 0
    error: str | None = None
    try:
        baseline = Baseline.open(db_path, create=False)
    except DifftestError as exc:
        error = str(exc)
    while True:
        line = lines.get()
        if line is None:
            break
        if error is not None:
            continue  # every batch is read, so that the run is never left waiting on the pipe
        try:
            records, edges, names, replace_all = _decode(line)
            baseline.write(
                records,
                edges=edges,
                names=names,
                replace_all=replace_all,
                collect=False,
                durable=False,
                names_of=names_of,
            )
            written += len(records)
        except DifftestError as exc:
            error = str(exc)
        except Exception as exc:  # a bug: said, not hidden
            error = f"{type(exc).__name__}: {exc}"
    answer = {"written": written} if error is None else {"error": error}
    sys.stdout.buffer.write(json.dumps(answer).encode())
    sys.stdout.flush()
    return 0
