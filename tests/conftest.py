"""Shared fixtures: a real S3-compatible server (moto's), baselines built from plain records, and
real git."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from difftest.model import Dependency, TestRecord
from difftest.storage.baseline import Baseline

# Inside a Pants sandbox the source roots reach sys.path through PEX_EXTRA_SYS_PATH, as paths relative
# to the sandbox. Make them absolute, so that a child process started in another directory
# (`python -m difftest` with cwd=tmp_path) still finds them. Outside Pants this does nothing.
for _name in ("PEX_EXTRA_SYS_PATH", "__PEX_EXTRA_SYS_PATH__"):
    if os.environ.get(_name):
        os.environ[_name] = os.pathsep.join(
            os.path.abspath(entry) for entry in os.environ[_name].split(os.pathsep) if entry
        )


# --------------------------------------------------------------------------- git


@pytest.fixture
def git() -> Callable[..., str]:
    """Run real git in a directory (``git(path, "commit", "-qm", "one")``): its output."""

    def run(where: Path, *args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=where,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    return run


# --------------------------------------------------------------------------- S3
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m moto.server`` on 127.0.0.1 and a free port, for the whole session."""
    log_dir = tmp_path_factory.mktemp("moto")
    for _attempt in range(3):
        port = _free_port()
        endpoint = f"http://127.0.0.1:{port}"
        with open(log_dir / f"moto-{port}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(f"{endpoint}/moto-api/"):
                try:
                    yield endpoint
                finally:
                    _stop(proc)
                return
            time.sleep(0.1)
        _stop(proc)  # the port was taken meanwhile, or the server did not start: try another
    logs = "\n".join(p.read_text(errors="replace") for p in log_dir.iterdir())
    pytest.fail(f"moto server did not start on 127.0.0.1:\n{logs}")


@dataclass
class S3:
    """The running server, reset for one test, with dummy credentials in the environment."""

    endpoint: str
    client: Any

    def bucket(self, name: str = "difftest-ci") -> str:
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        response = self.client.list_objects_v2(Bucket=bucket)
        return sorted(str(item["Key"]) for item in response.get("Contents", ()))


@pytest.fixture(scope="session")
def s3_admin(s3_endpoint: str) -> Any:
    """A boto3 client of the test server, for arranging and checking objects directly."""
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def use_dummy_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str) -> None:
    """Point boto3 at ``endpoint`` with dummy credentials; no real AWS settings can leak in."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3(s3_endpoint: str, s3_admin: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3:
    request = urllib.request.Request(f"{s3_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    use_dummy_aws(monkeypatch, tmp_path, s3_endpoint)
    return S3(s3_endpoint, s3_admin)


@pytest.fixture
def refused_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """An endpoint on 127.0.0.1 where nothing listens, with dummy credentials set."""
    endpoint = f"http://127.0.0.1:{_free_port()}"
    use_dummy_aws(monkeypatch, tmp_path, endpoint)
    return endpoint


# --------------------------------------------------------------------------- baselines
class Baselines:
    """Build and read baselines from plain records, with made-up hashes."""

    @staticmethod
    def record(nodeid: str, *deps: tuple[str, str], outcome: str = "passed") -> TestRecord:
        """A record of ``nodeid`` depending on (file, block) pairs."""
        return TestRecord(
            nodeid,
            nodeid.split("::", 1)[0],
            outcome,
            0.01,
            tuple(Dependency(path, f"v-{path}", name, f"fp-{path}-{name}") for path, name in deps),
        )

    @staticmethod
    def make(
        path: Path,
        records: Sequence[TestRecord],
        *,
        recorded_at: float | None = None,
        edges: Sequence[tuple[str, str, str]] = (),
        meta: dict[str, str] | None = None,
    ) -> Path:
        with Baseline.open(path) as baseline:
            baseline.write(records, recorded_at=recorded_at, edges=edges, meta=meta)
        return path

    @staticmethod
    def set_format_version(path: Path, version: str) -> None:
        """Pretend ``path`` was written by another format version."""
        conn = sqlite3.connect(str(path))
        with conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (version,))
        conn.close()

    @staticmethod
    def content(path: Path) -> dict[str, Any]:
        """Everything a baseline records about tests, for whole-content comparisons."""
        with Baseline.open_existing(path) as baseline:
            return {
                "records": {r.nodeid: r for r in baseline.records()},
                "recorded_at": baseline.recorded_at(),
                "edges": sorted(baseline.edges()),
            }


@pytest.fixture
def baselines() -> Baselines:
    return Baselines()
