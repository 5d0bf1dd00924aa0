"""Remote baselines from the plugin: fetched before selection, uploaded after recording, and a
failure stops the run instead of running without a baseline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pytester_project import Project, ran

FILES = {
    "app.py": "def one():\n    return 1\n\ndef two():\n    return 2\n",
    "tests/test_app.py": """
        from app import one, two

        def test_one():
            assert one() == 1

        def test_two():
            assert two() == 2
        """,
}


@pytest.fixture
def remote(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project.write(FILES)
    return tmp_path_factory.mktemp("bucket") / "main" / "baseline.db"


def test_a_baseline_uploaded_by_ci_is_downloaded_by_a_fresh_checkout(
    project: Project, remote: Path
) -> None:
    url = remote.as_uri()
    result = project.baseline("--diff-upload", "--diff-remote", url)
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"difftest: baseline uploaded to {url}"])
    assert remote.exists()

    shutil.rmtree(project.path / ".difftest")  # a developer's fresh checkout
    project.edit("app.py", "return 2", "return 1 + 1")
    result = project.diff("--diff-remote", url)
    result.stdout.fnmatch_lines(
        [
            f"difftest: baseline downloaded from {url}",
            "difftest: 1 changed block in 1 file; 1 of 2 tests selected",
        ]
    )
    assert ran(result) == ["tests/test_app.py::test_two"]
    assert (project.path / ".difftest" / ".gitignore").exists()


def test_the_remote_can_come_from_the_ini_file(project: Project, remote: Path) -> None:
    project.pytester.makeini(
        f"[pytest]\npythonpath = .\naddopts = -v\ndiff_remote_url = {remote.as_uri()}\n"
    )
    assert project.baseline("--diff-upload").ret == 0
    assert remote.exists()


def test_a_missing_remote_baseline_means_everything_runs(project: Project, remote: Path) -> None:
    result = project.diff("--diff-remote", remote.as_uri())
    result.stdout.fnmatch_lines(
        [
            f"difftest: no baseline at {remote.as_uri()} yet",
            "*: everything runs; 2 of 2 tests selected",
        ]
    )
    assert result.ret == 0


def test_an_unusable_remote_stops_the_run(project: Project, remote: Path) -> None:
    remote.parent.mkdir(parents=True)
    remote.write_bytes(b"SQLite format 3\x00 but garbage after the header")
    result = project.diff("--diff-remote", remote.as_uri())
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: difftest: could not download the baseline from {remote.as_uri()}: *",
            "The run stops rather than select tests without the baseline.*",
        ]
    )
    assert ran(result) == []
    assert "Traceback" not in result.stderr.str()
