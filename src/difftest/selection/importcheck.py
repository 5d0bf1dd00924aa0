"""Import modules in a fresh interpreter: does the changed import-time code still run?

Narrowing an import-time change (:mod:`difftest.selection.narrowing`) is only sound when the
modules it reaches still import: a module that raises on import fails every test that imports
it. The check runs in a subprocess so that nothing it imports leaks into the test session (and
into what the session records)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from difftest.errors import SourceError
from difftest.graph.modules import ModuleIndex

if TYPE_CHECKING:
    from difftest.selection.narrowing import Watched

_SCRIPT = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        print(f"{name} does not import ({type(exc).__name__}: {exc})", file=sys.stderr)
        sys.exit(3)
"""
#: Runs the watch script as a file: its directory is not put on sys.path (where it would hide
#: project modules named like difftest's own).
_WATCH = "import runpy, sys; runpy.run_path(sys.argv.pop(1), run_name='__main__')"
#: Seconds an import check may take before the change is taken as not narrowable.
TIMEOUT = 120.0


class SubprocessImportCheck:
    """``check(paths) -> None`` when every root-relative Python file imports as a module, else a
    sentence saying which does not and why."""

    def __init__(
        self,
        root: Path,
        import_roots: Sequence[str],
        python: str = sys.executable,
    ) -> None:
        self.root = root
        self.import_roots = list(import_roots) or [""]
        self.index = ModuleIndex(self.import_roots, ())
        self.python = python
        self._done: dict[tuple[str, ...], str | None] = {}

    def __call__(self, paths: Collection[str]) -> str | None:
        key = tuple(sorted(paths))
        if key not in self._done:
            self._done[key] = self._check(key)
        return self._done[key]

    def _check(self, paths: Sequence[str]) -> str | None:
        modules = []
        for path in paths:
            name = self.index.module_of(path)
            if name is None:
                return f"{path} could not be checked (it is not a module under the import roots)"
            modules.append(name)
        if not modules:
            return None
        done = self._run(["-c", _SCRIPT, *modules])
        if isinstance(done, str):
            return f"importing the changed modules could not be checked ({done})"
        if done.returncode != 0:
            return _last_line(done)
        return None

    def watch(
        self, paths: Collection[str], functions: Collection[tuple[str, str]]
    ) -> Watched | str:
        """Import the modules of ``paths`` (root-relative files; those that are no module under
        the import roots are left out), watching ``functions`` ((file, qualified name))
        whenever import-time code calls them (:mod:`difftest.selection.watch_imports`)."""
        # Imported here, as in _lines_of: every run makes a check, few runs use it.
        from difftest.selection import watch_imports
        from difftest.selection.narrowing import Watched

        modules = sorted({m for p in paths if (m := self.index.module_of(p)) is not None})
        spec = json.dumps({"modules": modules, "watched": self._lines_of(functions)})
        done = self._run(["-c", _WATCH, str(watch_imports.__file__), str(self.root), spec])
        if isinstance(done, str):
            return f"the project's modules could not be imported to watch it ({done})"
        if done.returncode != 0:
            return f"the project's modules could not be imported to watch it: {_last_line(done)}"
        try:
            raw = json.loads(done.stdout.strip().splitlines()[-1])
            return Watched(
                ran=frozenset((str(f), str(q)) for f, q in raw["ran"]),
                read=frozenset((str(f), str(n)) for f, n in raw["read"]),
                wrote=frozenset((str(f), str(n)) for f, n in raw["wrote"]),
                listed=frozenset(map(str, raw["listed"])),
                kept=frozenset(map(str, raw["kept"])),
                unwatched=frozenset(map(str, raw["unwatched"])),
            )
        except (ValueError, KeyError, TypeError, IndexError):
            return "the watch of the project's modules printed something unexpected"

    def _lines_of(self, functions: Collection[tuple[str, str]]) -> list[tuple[str, str, int, int]]:
        """(file, qualified name, first line, last line) of each function block: the watch
        knows a function's code, and the code of what is nested in it, by where it lies (a
        function that is gone or does not parse now is left out, so it does not run there)."""
        from difftest.changes.blocks import block_defs, first_line, parse_tree

        wanted: dict[str, set[str]] = {}
        for file, qualname in functions:
            wanted.setdefault(file, set()).add(qualname)
        found = []
        for file, names in sorted(wanted.items()):
            try:
                tree = parse_tree((self.root / file).read_bytes(), file)
            except (OSError, SourceError):
                continue
            for qualname, node in block_defs(tree):
                if qualname in names and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    last = node.end_lineno or node.lineno
                    found.append((file, qualname, first_line(node), last))
        return found

    def _run(self, args: Sequence[str]) -> subprocess.CompletedProcess[str] | str:
        env = dict(os.environ)
        roots = [str(self.root / r) if r else str(self.root) for r in self.import_roots]
        # The session's own path too: pytest's `pythonpath`, rootdir and conftest insertions.
        here = [p for p in sys.path if p and os.path.isdir(p)]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*roots, *here]))
        env.pop("COVERAGE_PROCESS_START", None)
        try:
            return subprocess.run(
                [self.python, *args],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"importing them exited with {done.returncode}"
