"""Analyse project files in a helper process while the tests run.

A recording run needs the blocks, name facts and imports of every project file a test reaches,
and its run-time probe what the code of some keeps between tests (``blocks.Sharing``). Working
them out is CPU work in the run's own process: on more-itertools, about 1 s of a run whose tests
take 4.6 s. With a second core, a helper process does it for the files imported by
collection. It starts when recording does, before the conftests are imported, and works while
pytest still collects (the files imported by the first test file, usually the package under
test, then the rest at the end of collection); the recorder holds its first batches of records
until the answers are in. The helper runs the same functions (:func:`analyse`) and sends their
results back as JSON; the recorder uses an answer only for the file version it was asked about
and never waits for one. Records due while the helper still works (the end of a short run) are
built from both: the recorder analyses the unanswered files from the last one back and stops
where the helper got to. A file that changed meanwhile, a helper that failed or hangs, or a file
imported later: the recorder works it out itself, as it does without a helper.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from difftest.changes.blocks import (
    FileBlocks,
    InstanceState,
    Sharing,
    parse_tree,
    sharing_of,
    stateful_functions,
)
from difftest.changes.imports import imported_names
from difftest.changes.names import blocks_and_names
from difftest.errors import SourceError
from difftest.model import Block, digest
from difftest.runners.pytest.helpers import spawn_helper, stop_helper

#: A request: (root-relative path, its package for relative imports, whether name facts are
#: wanted).
Request = tuple[str, str, bool]


@dataclass(frozen=True)
class Analysed:
    """One file version as the helper saw it."""

    version: str
    blocks: FileBlocks
    names: str | None
    #: Dotted names it imports, relative imports resolved against ``package``.
    imports: frozenset[str]
    package: str
    #: What the run-time probe asks of a file when its code reads a file or holds an instance
    #: beyond a test (:meth:`Prefetcher.sharing`).
    sharing: Sharing


_NO_BLOCKS = FileBlocks(blocks=(), _functions=())


def analyse(root: Path, path: str, package: str, names: bool) -> dict[str, Any]:
    """What the recorder needs of one file, as JSON-ready data (``error``: it does not parse,
    which the recorder then finds out, and reports, itself)."""
    with open(root / path, "rb") as fh:
        data = fh.read()
    out: dict[str, Any] = {"path": path, "version": digest(data), "package": package}
    try:
        tree = parse_tree(data, path)
        # Worked out once for the blocks, the name facts and what the file's code keeps.
        stateful = stateful_functions(tree)
        blocks, facts = blocks_and_names(tree, path, names=names, stateful=stateful)
        out["imports"] = sorted(imported_names(tree, package))
        kept = sharing_of(tree, stateful)
        out["keeping"] = sorted(kept.keeping)
        out["states"] = {
            name: [sorted(state.readers), sorted(state.lines)]
            for name, state in kept.states.items()
        }
    except (SourceError, RecursionError, ValueError):
        out["error"] = True
        return out
    out["blocks"] = [[b.name, b.kind, b.start, b.end, b.checksum] for b in blocks.blocks]
    out["names"] = facts.to_json() if facts is not None else None
    return out


def _decode(raw: dict[str, Any]) -> Analysed | None:
    if raw.get("error"):
        return None
    blocks = tuple(Block(str(n), str(k), int(s), int(e), str(c)) for n, k, s, e, c in raw["blocks"])
    # blocks_from_tree lists the function blocks last, in order of their first line.
    functions = tuple(b for b in blocks if b.kind == "function")
    states = {
        str(name): InstanceState(frozenset(map(int, readers)), frozenset(map(int, lines)))
        for name, (readers, lines) in raw["states"].items()
    }
    return Analysed(
        version=str(raw["version"]),
        blocks=FileBlocks(blocks=blocks, _functions=functions),
        names=raw["names"],
        imports=frozenset(map(str, raw["imports"])),
        package=str(raw["package"]),
        sharing=Sharing(frozenset(map(int, raw["keeping"])), states),
    )


class Prefetcher:
    """One helper process and the answers it sent so far."""

    def __init__(self, root: Path) -> None:
        self._proc: subprocess.Popen[bytes] | None = spawn_helper(
            "difftest.runners.pytest.prefetch", [str(root)], root
        )
        self._pending: set[str] = set()
        #: Every path asked for, in the order the helper works through them.
        self._order: list[str] = []
        self._answers: dict[str, Analysed | None] = {}
        self._imports: dict[str, Analysed] = {}
        self._buffer = b""
        #: Requests not written to the helper yet (its stdin does not block: a full pipe waits
        #: here, so neither side can block the other).
        self._unsent = b""
        self._last = False
        self._owner = threading.get_ident()
        if self._proc is not None and self._proc.stdin is not None:
            os.set_blocking(self._proc.stdin.fileno(), False)

    def submit(self, requests: Iterable[Request], *, last: bool = True) -> None:
        """Ask for these files; ``last``: no more requests follow (the helper ends once it has
        answered them)."""
        if self._proc is None or self._last:
            return
        wanted = list(requests)
        if wanted:
            self._unsent += json.dumps(wanted).encode() + b"\n"
            self._pending.update(path for path, _, _ in wanted)
            self._order.extend(path for path, _, _ in wanted)
        self._last = last
        self._send()

    def _send(self) -> None:
        """Write what the helper's stdin takes now; close it after the last request."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.closed:
            return
        try:
            while self._unsent:
                written = os.write(proc.stdin.fileno(), self._unsent)
                self._unsent = self._unsent[written:]
            if self._last:
                proc.stdin.close()
        except BlockingIOError:
            return
        except OSError:
            self.close()

    def busy(self) -> bool:
        """Whether answers are still to come (reads those that arrived, without waiting)."""
        self._read()
        return bool(self._pending)

    def unanswered(self) -> list[str]:
        """The paths asked for and not answered yet (those that arrived are read first), in the
        order the helper works through them."""
        self._read()
        return [path for path in self._order if path in self._pending]

    def waiting_for(self, path: str) -> bool:
        """Whether ``path`` was asked for and not answered yet (reads what arrived first)."""
        if path in self._pending:
            self._read()
        return path in self._pending

    def take(self, path: str, version: str) -> Analysed | None:
        """The answer for ``path`` at ``version``, or None (not asked for, not answered yet,
        another version): never waits, so a slow or stuck helper cannot hold the run up. The
        answer is handed out once (the recorder keeps what it needs); its imports and sharing
        facts stay, for :meth:`imports` and :meth:`sharing`."""
        found = self._answer(path, version)
        if found is not None:
            # Kept before the answer goes: :meth:`sharing` may look from another thread.
            self._imports[path] = Analysed(
                version, _NO_BLOCKS, None, found.imports, found.package, found.sharing
            )
            del self._answers[path]
        return found

    def sharing(self, path: str, version: str) -> Sharing | None:
        """The :class:`Sharing` facts of ``path`` at ``version``, if the helper answered for it
        (never waits). The run-time probe asks from whatever thread of a test read a file: only
        in the thread that runs the recorder (and made this) are answers read from the pipe,
        elsewhere those read so far are looked at, so no two threads read it at once."""
        if path in self._pending and threading.get_ident() == self._owner:
            self._read()
        found = self._imports.get(path) or self._answers.get(path)
        return found.sharing if found is not None and found.version == version else None

    def imports(self, path: str, version: str, package: str) -> frozenset[str] | None:
        """What ``path`` at ``version`` imports (relative imports resolved against ``package``),
        if the helper answered for it."""
        found = self._imports.get(path) or self._answer(path, version)
        if found is None or found.version != version or found.package != package:
            return None
        return found.imports

    def _answer(self, path: str, version: str) -> Analysed | None:
        if path in self._pending:
            self._read()
        found = self._answers.get(path)
        return found if found is not None and found.version == version else None

    def _read(self) -> None:
        """Read the answers that arrived, without waiting for more."""
        self._send()
        proc = self._proc
        if proc is None or proc.stdout is None or not self._pending:
            return
        fd = proc.stdout.fileno()
        while True:
            ready, _, _ = select.select([fd], [], [], 0)
            if not ready:
                return
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self.close()  # the helper is gone: whatever it did not answer is parsed here
                return
            lines = (self._buffer + chunk).split(b"\n")
            self._buffer = lines.pop()
            for line in lines:
                try:
                    raw = json.loads(line)
                    path = str(raw["path"])
                    self._answers[path] = _decode(raw)
                except (ValueError, KeyError, TypeError):
                    self.close()
                    return
                self._pending.discard(path)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        self._pending.clear()
        if proc is not None:
            stop_helper(proc)


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:  # one list of requests per line, until the run closes stdin
        for path, package, names in json.loads(line):
            try:
                answer = analyse(root, path, package, names)
            except OSError:
                answer = {"path": path, "version": "", "error": True}
            out.write(json.dumps(answer, separators=(",", ":")).encode() + b"\n")
            out.flush()
    return 0
