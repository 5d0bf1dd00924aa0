"""A local BuildGrid server: an REAPI remote cache for Pants, on 127.0.0.1 only.

BuildGrid serves CAS, ByteStream and the ActionCache from memory (a cache-only configuration: no
execution service, no database). It needs Python 3.13 (BuildGrid 0.9.1), so it runs from its own
virtualenv, created once under ``${DIFFTEST_PANTS_HOME:-~/.cache/difftest-pants}/buildgrid-venv``.

In a test::

    from buildgrid import BuildGrid, buildgrid_server  # noqa: F401  (a session fixture)

    def test_remote_cache(buildgrid_server: BuildGrid) -> None:
        ... f"--remote-store-address={buildgrid_server.address}" ...

Elsewhere::

    with start_buildgrid(workdir) as grid:      # or: grid = start_buildgrid(workdir); grid.stop()
        args = grid.pants_args()                # --remote-cache-read --remote-cache-write ...

From a shell: ``python tests/pants/buildgrid.py serve --workdir DIR [--address-file FILE]`` starts it,
prints the address and serves until SIGTERM or SIGINT.

Environment: ``DIFFTEST_PANTS_HOME`` (the cache directory ./pants uses too), ``DIFFTEST_BUILDGRID_PYTHON``
(a Python 3.13 interpreter; default: pyenv's newest 3.13, then ``python3.13`` on PATH).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

try:
    import pytest
except ImportError:  # run as a script by a Python without pytest
    pytest = None  # type: ignore[assignment]

BUILDGRID_VERSION = "0.9.1"
#: What an install must match to be reused; change it to force a fresh install.
INSTALL_SPEC = f"buildgrid=={BUILDGRID_VERSION} layout=1"
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class BuildGridError(RuntimeError):
    """BuildGrid could not be installed or started; the message says why and what to do."""


# --------------------------------------------------------------------------- install
def pants_home() -> Path:
    """The cache directory ./pants uses (its venv-2.17.1 lives there too)."""
    home = os.environ.get("DIFFTEST_PANTS_HOME")
    if home:
        return Path(home)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "difftest-pants"


def find_python313() -> str:
    """A Python 3.13 interpreter: $DIFFTEST_BUILDGRID_PYTHON, pyenv's newest 3.13, python3.13."""
    chosen = os.environ.get("DIFFTEST_BUILDGRID_PYTHON")
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise BuildGridError(f"DIFFTEST_BUILDGRID_PYTHON={chosen} is not an executable")
        return chosen
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        versions = Path(root, "versions")
        found = sorted(
            versions.glob("3.13.*/bin/python3.13") if root else [],
            key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parts[-3].split(".")],
        )
        if found:
            return str(found[-1])
    on_path = shutil.which("python3.13")
    if on_path:
        return on_path
    raise BuildGridError(
        f"BuildGrid {BUILDGRID_VERSION} needs CPython 3.13, and none was found: looked for "
        "$(pyenv root)/versions/3.13.*/bin/python3.13 and python3.13 on PATH. Install one "
        "(e.g. 'pyenv install 3.13') or set DIFFTEST_BUILDGRID_PYTHON=/path/to/python3.13."
    )


def ensure_buildgrid(home: Path | None = None) -> Path:
    """The ``bgd`` command of a venv with BuildGrid, installed on first use (about 20-140 s).

    The venv is built at its final path (venvs cannot move) and trusted only once its marker,
    written last, matches INSTALL_SPEC; a lock file serialises concurrent first uses.
    """
    venv = (home or pants_home()) / "buildgrid-venv"
    bgd = venv / "bin" / "bgd"
    marker = venv / ".difftest-install-complete"

    def complete() -> bool:
        return bgd.exists() and marker.exists() and marker.read_text() == INSTALL_SPEC

    if complete():
        return bgd
    venv.parent.mkdir(parents=True, exist_ok=True)
    with _locked(venv.parent / ".buildgrid-install.lock"):
        if complete():
            return bgd
        shutil.rmtree(venv, ignore_errors=True)
        python = find_python313()
        log = venv.parent / ".buildgrid-install.log"
        with open(log, "w") as out:
            steps = [
                [python, "-m", "venv", str(venv)],
                [
                    str(venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    f"buildgrid=={BUILDGRID_VERSION}",
                ],
            ]
            for step in steps:
                if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                    tail = "".join(log.read_text(errors="replace").splitlines(True)[-40:])
                    raise BuildGridError(
                        f"installing BuildGrid {BUILDGRID_VERSION} into {venv} failed at "
                        f"{' '.join(step)}:\n{tail}\n(full log: {log})"
                    )
        log.unlink()
        marker.write_text(INSTALL_SPEC)
    return bgd


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- config
def config_yaml(port: int, *, storage_size: str = "512M") -> str:
    """A cache-only server: CAS + ByteStream + ActionCache in memory, instance name ""."""
    return f"""\
description: difftest's test remote cache (CAS, ByteStream, ActionCache in memory).

server:
  - !channel
    address: "{HOST}:{port}"
    insecure-mode: true

authorization:
  method: none

storages:
  - !lru-storage &cas-storage
    size: {storage_size}

caches:
  - !lru-action-cache &action-cache
    storage: *cas-storage
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: true

instances:
  - name: ""
    services:
      - !action-cache
        cache: *action-cache
      - !cas
        storage: *cas-storage
      - !bytestream
        storage: *cas-storage
"""


def write_config(path: Path, port: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_yaml(port))
    return path


def lint_config(bgd: Path, config: Path) -> None:
    done = subprocess.run(
        [str(bgd), "server", "lint", str(config)], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise BuildGridError(f"bgd server lint {config} failed:\n{done.stdout}{done.stderr}")


# --------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class BuildGrid:
    """A running BuildGrid server. ``stop()`` (or leaving the ``with`` block) ends it."""

    port: int
    process: subprocess.Popen[bytes]
    config: Path
    log: Path
    instance_name: str = ""
    _stopped: bool = field(default=False, repr=False)

    @property
    def address(self) -> str:
        """The REAPI address, for Pants' ``remote_store_address``: ``grpc://127.0.0.1:PORT``."""
        return f"grpc://{HOST}:{self.port}"

    def pants_options(self) -> dict[str, object]:
        """The ``[GLOBAL]`` options that make Pants read and write this cache."""
        return {
            "remote_cache_read": True,
            "remote_cache_write": True,
            "remote_store_address": self.address,
            "remote_instance_name": self.instance_name,
        }

    def pants_args(self) -> list[str]:
        """The same options as command-line flags."""
        return [
            "--remote-cache-read",
            "--remote-cache-write",
            f"--remote-store-address={self.address}",
            f"--remote-instance-name={self.instance_name}",
        ]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """Terminate, wait up to 15 s, then kill. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        _stop(self.process)

    def __enter__(self) -> BuildGrid:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_buildgrid(
    workdir: Path, *, timeout: float = START_TIMEOUT, home: Path | None = None
) -> BuildGrid:
    """Install BuildGrid if needed, start a cache-only server on 127.0.0.1 and a free port, and
    return once it accepts TCP connections. Its config and log go to ``workdir``.

    A port taken between choosing and binding makes the server exit: another port is tried
    (3 attempts).
    """
    bgd = ensure_buildgrid(home)
    workdir.mkdir(parents=True, exist_ok=True)
    failures = []
    for attempt in range(3):
        port = free_port()
        config = write_config(workdir / f"buildgrid-{port}.yml", port)
        if attempt == 0:
            lint_config(bgd, config)  # the configs differ only in the port
        log = workdir / f"buildgrid-{port}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [str(bgd), "server", "start", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        grid = BuildGrid(port, process, config, log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if _accepts(port):
                return grid
            time.sleep(0.2)
        grid.stop()
        failures.append(f"--- port {port} (exit code {process.returncode}):\n{grid.log_text()}")
        if process.returncode is not None and process.returncode < 0:
            break  # stopped by the time limit, not a port race
    raise BuildGridError(
        f"BuildGrid did not accept connections on {HOST} within {timeout:.0f} s:\n"
        + "\n".join(failures)
    )


if pytest is not None:

    @pytest.fixture(scope="session")
    def buildgrid_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuildGrid]:
        """A BuildGrid server for the whole session (installed on first use)."""
        with start_buildgrid(tmp_path_factory.mktemp("buildgrid")) as grid:
            yield grid


# --------------------------------------------------------------------------- command line
def _serve(workdir: Path, address_file: Path | None) -> int:
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with start_buildgrid(workdir) as grid:
        print(grid.address, flush=True)
        if address_file is not None:
            tmp = address_file.with_name(address_file.name + ".tmp")
            tmp.write_text(grid.address + "\n")
            tmp.replace(address_file)
        while not stop_requested:
            if grid.process.poll() is not None:
                print(
                    f"BuildGrid exited with {grid.process.returncode}:\n{grid.log_text()}",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.5)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="create the BuildGrid venv if needed and print bgd's path")
    serve = commands.add_parser("serve", help="run a cache-only server until SIGTERM or SIGINT")
    serve.add_argument("--workdir", type=Path, required=True, help="where config and log go")
    serve.add_argument(
        "--address-file", type=Path, help="write grpc://127.0.0.1:PORT here when ready"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print(ensure_buildgrid())
            return 0
        return _serve(args.workdir, args.address_file)
    except BuildGridError as exc:
        print(f"buildgrid: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
