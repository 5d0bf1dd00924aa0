"""Import modules in a fresh interpreter: does the changed import-time code still run?

Narrowing an import-time change (:mod:`difftest.selection.narrowing`) is only sound when the
modules it reaches still import: a module that raises on import fails every test that imports
it. The check runs in a subprocess so that nothing it imports leaks into the test session (and
into what the session records)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection, Sequence
from pathlib import Path

from difftest.graph.modules import ModuleIndex

_SCRIPT = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        print(f"{name} does not import ({type(exc).__name__}: {exc})", file=sys.stderr)
        sys.exit(3)
"""
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
        env = dict(os.environ)
        roots = [str(self.root / r) if r else str(self.root) for r in self.import_roots]
        # The session's own path too: pytest's `pythonpath`, rootdir and conftest insertions.
        here = [p for p in sys.path if p and os.path.isdir(p)]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*roots, *here]))
        env.pop("COVERAGE_PROCESS_START", None)
        try:
            done = subprocess.run(
                [self.python, "-c", _SCRIPT, *modules],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"importing the changed modules could not be checked ({exc})"
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            return lines[-1] if lines else f"importing them exited with {done.returncode}"
        return None
