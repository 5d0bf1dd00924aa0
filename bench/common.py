"""Shared plumbing of the benchmarks: subprocesses with time limits, virtualenvs, sdists, copies.

Everything the benchmarks fetch or build lives under ``bench/work/`` (git-ignored).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "work"
PLUGINS = BENCH / "plugins"

#: The peer, pinned: the version the results are quoted against.
TESTMON = "pytest-testmon==2.2.0"
#: What every benchmark venv gets besides difftest and the project's own test deps.
BASE_PACKAGES = ("pytest", "coverage", TESTMON)

#: Files and folders that are never copied between trees: caches and both tools' data.
_NOT_COPIED = (
    "__pycache__",
    ".pytest_cache",
    ".testmondata",
    ".testmondata-shm",
    ".testmondata-wal",
    ".difftest",
    "*.pyc",
)


class BenchError(Exception):
    """A benchmark step that cannot go on; the message says which step and why."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- subprocesses
@dataclass
class Result:
    cmd: list[str]
    cwd: str
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    timed_out: bool = False

    def tail(self, lines: int = 25) -> str:
        text = (self.stdout + "\n" + self.stderr).strip().splitlines()
        return "\n".join(text[-lines:])


def run(
    cmd: Sequence[str],
    *,
    cwd: Path | str,
    timeout: float,
    env: Mapping[str, str | None] | None = None,
    check: bool = False,
    what: str = "",
) -> Result:
    """Run ``cmd`` in its own process group; on timeout the whole group is killed.

    ``env`` is added to this process's environment (a None value removes the variable).

    With ``check`` a non-zero exit or a timeout raises BenchError naming ``what``.
    """
    full_env = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        cwd=str(cwd),
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    seconds = time.perf_counter() - start
    result = Result(list(cmd), str(cwd), proc.returncode, seconds, out, err, timed_out)
    if check and (timed_out or proc.returncode != 0):
        why = f"timed out after {timeout:.0f} s" if timed_out else f"exited {proc.returncode}"
        raise BenchError(f"{what or 'command'} {why}: {' '.join(cmd)}\n  in {cwd}\n{result.tail()}")
    return result


# --------------------------------------------------------------------------- pythons and venvs
def find_python(version: str) -> Path:
    """The pyenv interpreter for ``version`` ("3.12"), else one on PATH."""
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    matches = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    if matches:
        return Path(matches[-1])
    found = shutil.which(f"python{version}")
    if found:
        return Path(found)
    raise BenchError(
        f"no Python {version}: looked in {root}/versions/{version}.*/bin and on PATH. "
        f"Install it (e.g. `pyenv install {version}`) or drop it with --pythons."
    )


@dataclass
class Venv:
    path: Path
    version: str  # "3.12"

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    def pytest(self) -> list[str]:
        return [self.python, "-m", "pytest"]

    def versions(self) -> dict[str, str]:
        code = (
            "import json, sys, importlib.metadata as m\n"
            "out = {'python': sys.version.split()[0]}\n"
            "for d in ('pytest', 'coverage', 'pytest-testmon', 'difftest', 'networkx'):\n"
            "    try: out[d] = m.version(d)\n"
            "    except m.PackageNotFoundError: out[d] = None\n"
            "print(json.dumps(out))\n"
        )
        res = run([self.python, "-c", code], cwd=WORK, timeout=60, check=True, what="version probe")
        return dict(json.loads(res.stdout))


def make_venv(version: str, extra: Iterable[str] = ()) -> Venv:
    """``bench/work/venv-<version>``: pytest, coverage, the pinned testmon, the projects' test
    deps and difftest from this checkout (always reinstalled, so results match the tree)."""
    WORK.mkdir(parents=True, exist_ok=True)
    venv = Venv(WORK / f"venv-{version}", version)
    wanted = sorted({*BASE_PACKAGES, *extra})
    marker = venv.path / "bench-packages.json"
    if not (marker.exists() and json.loads(marker.read_text()) == wanted):
        if venv.path.exists():
            shutil.rmtree(venv.path)
        log(f"creating {venv.path.relative_to(REPO)} ({find_python(version)})")
        run(
            [str(find_python(version)), "-m", "venv", str(venv.path)],
            cwd=WORK,
            timeout=300,
            check=True,
            what="venv",
        )
        run(
            [venv.python, "-m", "pip", "install", "-q", *wanted],
            cwd=WORK,
            timeout=900,
            check=True,
            what=f"pip install into venv-{version}",
        )
        marker.write_text(json.dumps(wanted))
    log(f"installing difftest from {REPO} into venv-{version}")
    run(
        [venv.python, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(REPO)],
        cwd=WORK,
        timeout=900,
        check=True,
        what="pip install difftest",
    )
    # difftest's own dependencies (networkx, tomli) without touching the pinned packages
    run(
        [venv.python, "-m", "pip", "install", "-q", str(REPO)],
        cwd=WORK,
        timeout=900,
        check=True,
        what="pip install difftest deps",
    )
    return venv


# --------------------------------------------------------------------------- sdists and trees
def fetch_sdist(name: str, version: str) -> Path:
    """Download and unpack the sdist of ``name==version`` into bench/work/src/; return its root."""
    sdists = WORK / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    unpacked = WORK / "src"
    unpacked.mkdir(parents=True, exist_ok=True)
    norm = name.replace("-", "_").lower()
    archives = [
        p
        for p in sdists.glob("*.tar.gz")
        if p.name.replace("-", "_").lower().startswith(f"{norm}_{version}.")
    ]
    if not archives:
        log(f"downloading sdist {name}=={version}")
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(sdists),
                f"{name}=={version}",
            ],
            cwd=WORK,
            timeout=600,
            check=True,
            what=f"pip download {name}=={version}",
        )
        archives = [
            p
            for p in sdists.glob("*.tar.gz")
            if p.name.replace("-", "_").lower().startswith(f"{norm}_{version}.")
        ]
    if not archives:
        raise BenchError(f"pip downloaded no .tar.gz sdist for {name}=={version} into {sdists}")
    archive = archives[0]
    root = unpacked / archive.name[: -len(".tar.gz")]
    if not root.exists():
        with tarfile.open(archive) as tar:
            top = {m.name.split("/")[0] for m in tar.getmembers()}
            if len(top) != 1:
                raise BenchError(f"{archive} has no single top folder ({sorted(top)[:5]})")
            if sys.version_info >= (3, 12):
                tar.extractall(unpacked, filter="data")
            else:
                tar.extractall(unpacked)
            extracted = unpacked / top.pop()
        if extracted != root:
            extracted.rename(root)
    return root


def copy_tree(src: Path, dst: Path) -> Path:
    """A fresh copy of ``src`` at ``dst`` without caches or either tool's data."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*_NOT_COPIED), symlinks=True)
    ensure_pytest_root(dst)
    return dst


def has_pytest_config(root: Path) -> bool:
    checks = {
        "pytest.ini": "",
        "pytest.toml": "",
        "pyproject.toml": "[tool.pytest",
        "tox.ini": "[pytest]",
        "setup.cfg": "[tool:pytest]",
    }
    for name, marker in checks.items():
        path = root / name
        if path.is_file() and marker in path.read_text(errors="replace"):
            return True
    return False


def ensure_pytest_root(root: Path) -> None:
    """Make ``root`` pytest's rootdir. A project without pytest configuration of its own would
    otherwise pick up this repository's pyproject.toml (the trees sit under bench/work/), and
    with it difftest's own addopts; an empty pytest.ini stops that search."""
    if not has_pytest_config(root):
        (root / "pytest.ini").write_text("[pytest]\n")


def remove_tool_data(root: Path) -> None:
    for name in (".testmondata", ".testmondata-shm", ".testmondata-wal"):
        (root / name).unlink(missing_ok=True)
    shutil.rmtree(root / ".difftest", ignore_errors=True)


def tree_digest(root: Path, patterns: Iterable[str] = ("**/*.py",)) -> str:
    h = hashlib.sha256()
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- figures
def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "harness_python": sys.version.split()[0],
    }


#: Keep a tool's pytest plugin out of a run. pytest blocks an installed plugin by the name of
#: its entry point: difftest's is "difftest", testmon's "pytest-testmon" (``-p no:testmon``
#: blocks nothing: testmon's plugin, which imports coverage.py, was loaded in every "plain" run).
NO_DIFFTEST = ["-p", "no:difftest"]
NO_TESTMON = ["-p", "no:pytest-testmon"]
#: Distribution names of the tools' plugins, as the report plugin lists what was loaded.
TOOL_DISTS = {"difftest": NO_DIFFTEST, "pytest-testmon": NO_TESTMON}


def check_blocked(args: list[str], loaded: list[str]) -> str | None:
    """Why a run with ``args`` is not what it claims (a tool it blocks was loaded), or None."""
    for dist, block in TOOL_DISTS.items():
        blocked = any(args[i : i + 2] == block for i in range(len(args) - 1))
        if blocked and dist in loaded:
            return f"{dist} was loaded although {' '.join(block)} was given"
    return None


def pytest_env(report: Path | None = None, bytecode: bool = True) -> dict[str, str | None]:
    """Environment of every measured pytest run: our reporting plugin importable, and .pyc
    files written as a user's machine would (timings) or not at all (mutants: a file changed
    twice within one second is more than .pyc invalidation by mtime can see)."""
    env: dict[str, str | None] = {
        "PYTHONPATH": str(PLUGINS),
        "PYTHONHASHSEED": "0",
        "PY_COLORS": "0",
        "COLUMNS": "120",
    }
    if report is not None:
        env["BENCH_REPORT"] = str(report)
    env["PYTHONDONTWRITEBYTECODE"] = None if bytecode else "1"
    return env


@dataclass
class Timing:
    """Raw wall times of one measured command, in seconds."""

    label: str
    cmd: list[str]
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return median(self.seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "cmd": " ".join(self.cmd),
            "seconds": [round(s, 3) for s in self.seconds],
            "median": round(self.median, 3),
        }
