"""What project modules pytest imported before recording could start read while they were
imported: a plugin given with ``-p``, ``PYTEST_PLUGINS`` or a ``pytest11`` entry point of the
project itself runs its import-time code before any difftest hook.

They are imported again in a fresh interpreter, with the same ``sys.path``, under the run-time
probe; the files and environment variables each read while it was imported come back as
import-time edges of the graph (``(module file, what it read, kind)``), as if the recording run
had seen the import itself. Run as a script (``python replay.py ROOT REPOSITORY MODULES PATH``),
it prints one JSON object: ``{"edges": [[src, dst, kind], ...], "failed": [module, ...]}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence

Edge = tuple[str, str, str]

#: How long the fresh interpreter may take to import the modules again.
TIMEOUT_SECONDS = 120


def replay_imports(
    root: str, repository: str | None, modules: Sequence[str]
) -> tuple[list[Edge], list[str]] | None:
    """The import-time edges of ``modules`` and the modules that failed to import again, or
    None when the interpreter could not tell (it failed or took too long)."""
    argv = [
        sys.executable,
        os.path.abspath(__file__),
        root,
        repository or "",
        json.dumps(sorted(modules)),
        json.dumps([p for p in sys.path if isinstance(p, str)]),
    ]
    from difftest.changes.environment import environ_at_start

    # The variables as the run started, before any plugin's import-time code could set some.
    env = dict(environ_at_start(), PYTHONDONTWRITEBYTECODE="1")
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, env=env, cwd=root
        )
        found = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    if not isinstance(found, dict):
        return None
    # Reading a module's source to import it is importing it, which the import graph has.
    edges = [
        (str(s), str(d), str(k))
        for s, d, k in found.get("edges", ())
        if not (k == "data" and str(d).endswith(".py"))
    ]
    return edges, [str(m) for m in found.get("failed", ())]


def main(argv: Sequence[str]) -> int:
    import importlib
    from pathlib import Path

    root, repository, modules, path = argv[0], argv[1], json.loads(argv[2]), json.loads(argv[3])
    sys.path[:] = [p for p in path if isinstance(p, str)]
    from difftest.changes.environment import remember_environ
    from difftest.runners.pytest.probes import ProjectPaths, RuntimeProbe

    remember_environ()

    probe = RuntimeProbe(
        ProjectPaths(Path(root), repository=Path(repository) if repository else None)
    )
    failed: list[str] = []
    probe.install()
    try:
        for name in modules:
            try:
                importlib.import_module(name)
            except BaseException:  # any failure: the module is named as not imported again
                failed.append(name)
    finally:
        probe.uninstall()
    sys.stdout.write(json.dumps({"edges": sorted(probe.take_edges()), "failed": failed}) + "\n")
    return 0


if __name__ == "__main__":
    # Run as a script: the package is importable through the path the parent passed.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(here))))
    raise SystemExit(main(sys.argv[1:]))
