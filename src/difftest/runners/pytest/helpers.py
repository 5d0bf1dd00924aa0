"""Helper processes beside a recording run: whether one can run, and how one starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: A helper's start: isolated (``-I``: neither the project root nor ``PYTHON*`` variables can
#: shadow a module), importing the difftest this process imported (from a source tree or a PEX,
#: not on the plain interpreter's path, its folder goes first; an installed one is found where
#: it is), then ``main(args)`` of the named module.
_BOOT = (
    "import importlib, sys; d = sys.argv[1]; d in sys.path or sys.path.insert(0, d); "
    "sys.exit(importlib.import_module(sys.argv[2]).main(sys.argv[3:]))"
)


def helper_possible() -> bool:
    """Whether a helper can run beside the tests: a second core, and pipes ``select`` can wait
    on (not on Windows)."""
    if sys.platform == "win32":
        return False
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return cores >= 2


def spawn_helper(module: str, args: list[str], cwd: Path) -> subprocess.Popen[bytes] | None:
    """Start ``module.main(args)`` in a helper process, talking over its stdin and stdout (None
    if it cannot start: the run then does the helper's work itself)."""
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                _BOOT,
                str(Path(__file__).resolve().parents[3]),
                module,
                *args,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=str(cwd),
            env=_helper_env(),
        )
    except OSError:
        return None


def _helper_env() -> dict[str, str]:
    """No coverage.py subprocess hook (pytest-cov's) should measure a helper."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COV_CORE_") and k != "COVERAGE_PROCESS_START"
    }


def stop_helper(proc: subprocess.Popen[bytes]) -> None:
    """Stop a helper now (if it still runs) and release its pipes."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
