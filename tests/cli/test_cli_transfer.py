"""`difftest upload`, `download` and `merge` against a real S3-compatible server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from difftest.cli.error_handler import EXIT_ERROR, EXIT_OK
from difftest.cli.main import main
from difftest.storage.baseline import INCOMPLETE_ITEMS_META, Baseline
from difftest.storage.remote import open_remote


def difftest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a child process (it inherits the fixture's AWS environment)."""
    return subprocess.run(
        [sys.executable, "-m", "difftest", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def ci(tmp_path: Path, baselines) -> Path:
    """A CI checkout whose test run left a baseline in the default place."""
    root = tmp_path / "ci"
    baselines.make(
        root / ".difftest" / "baseline.db",
        [
            baselines.record("tests/test_a.py::test_one", ("src/app.py", "add")),
            baselines.record("tests/test_a.py::test_two", ("src/app.py", "sub")),
        ],
    )
    return root


@pytest.mark.s3
def test_ci_uploads_and_a_developer_downloads_then_finds_the_copy_current(
    s3, ci: Path, tmp_path: Path, baselines
) -> None:
    bucket = s3.bucket()
    url = f"s3://{bucket}/baselines/main.db"
    done = difftest("upload", url, cwd=ci)
    assert (done.returncode, done.stderr) == (EXIT_OK, "")
    assert done.stdout == f"uploaded .difftest/baseline.db (2 records) to {url}\n"

    dev = tmp_path / "dev"
    dev.mkdir()
    done = difftest("download", url, "--root", str(dev), cwd=tmp_path)
    assert (done.returncode, done.stderr) == (EXIT_OK, "")
    local = dev / ".difftest" / "baseline.db"
    assert done.stdout == f"downloaded {url} to {local}\n"
    assert baselines.content(local) == baselines.content(ci / ".difftest" / "baseline.db")

    done = difftest("download", url, cwd=dev)
    assert done.returncode == EXIT_OK
    assert done.stdout == (
        f".difftest/baseline.db is up to date: {url} has not changed since it was downloaded\n"
    )


@pytest.mark.s3
def test_downloading_a_baseline_that_is_not_there_fails_unless_missing_is_ok(
    s3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = s3.bucket()
    url = f"s3://{bucket}/baselines/main.db"
    assert main(["download", url, "--root", str(tmp_path)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith(f"difftest: error: no baseline at {url}.")
    assert "--missing-ok" in err
    assert main(["download", url, "--root", str(tmp_path), "--missing-ok"]) == EXIT_OK
    assert "no baseline at" in capsys.readouterr().out
    assert not (tmp_path / ".difftest").exists()


@pytest.mark.s3
def test_an_unreachable_server_is_exit_code_one_with_the_endpoint_named(
    refused_endpoint: str, ci: Path
) -> None:
    before = (ci / ".difftest" / "baseline.db").read_bytes()
    for command in ("download", "upload"):
        done = difftest(command, "s3://difftest-ci/main.db", cwd=ci)
        assert done.returncode == EXIT_ERROR
        assert done.stderr.startswith("difftest: error: cannot ")
        assert f"no connection to {refused_endpoint}" in done.stderr
        assert "Traceback" not in done.stderr
    assert (ci / ".difftest" / "baseline.db").read_bytes() == before


@pytest.mark.s3
def test_merging_job_baselines_from_a_prefix_into_the_shared_baseline(
    s3, tmp_path: Path, baselines, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = s3.bucket()
    for job, nodeid, when in (
        ("unit", "t.py::test_u", 10.0),
        ("integration", "t.py::test_i", 20.0),
    ):
        path = baselines.make(tmp_path / f"{job}.db", [baselines.record(nodeid)], recorded_at=when)
        open_remote(f"s3://{bucket}/run-123/job-{job}.db").upload(path)
    assert main(["merge", f"s3://{bucket}/baseline.db", f"s3://{bucket}/run-123/"]) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        f"read s3://{bucket}/run-123/job-integration.db",
        f"read s3://{bucket}/run-123/job-unit.db",
        f"merged 2 baselines into s3://{bucket}/baseline.db: 2 records, 0 run-time import edges",
    ]
    assert open_remote(f"s3://{bucket}/baseline.db").download(tmp_path / "merged.db")
    assert baselines.content(tmp_path / "merged.db")["recorded_at"] == {
        "t.py::test_u": 10.0,
        "t.py::test_i": 20.0,
    }


def test_merging_local_files_and_directories_reports_dropped_duplicates(
    tmp_path: Path, baselines, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    baselines.make(results / "a.db", [baselines.record("t.py::test_x")], recorded_at=1.0)
    baselines.make(results / "b.db", [baselines.record("t.py::test_x")], recorded_at=2.0)
    extra = baselines.make(tmp_path / "extra.db", [baselines.record("t.py::test_y")])
    out = tmp_path / "merged.db"
    assert main(["merge", str(out), str(results), str(extra)]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"merged 3 baselines into {out}: 2 records, 1 older duplicates dropped, "
        "0 run-time import edges"
    )
    assert baselines.content(out)["recorded_at"]["t.py::test_x"] == 2.0


def test_merging_a_file_of_another_format_version_is_exit_code_one_naming_it(
    tmp_path: Path, baselines, capsys: pytest.CaptureFixture[str]
) -> None:
    good = baselines.make(tmp_path / "good.db", [baselines.record("t.py::test_x")])
    old = baselines.make(tmp_path / "old.db", [baselines.record("t.py::test_y")])
    baselines.set_format_version(old, "0")
    assert main(["merge", str(tmp_path / "out.db"), str(good), str(old)]) == EXIT_ERROR
    assert f"difftest: error: {old} has baseline format version 0" in capsys.readouterr().err
    assert not (tmp_path / "out.db").exists()


def test_merging_shards_says_which_test_files_they_recorded_in_full_between_them(
    tmp_path: Path, baselines, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each shard ran part of a.py; b.py's test_2 ran in none.
    held = {"a.py": ["a.py::test_1", "a.py::test_2"], "b.py": ["b.py::test_1", "b.py::test_2"]}
    shards = [
        baselines.make(
            tmp_path / f"shard{i}.db",
            [
                baselines.record("a.py::<collect>", outcome="incomplete"),
                baselines.record("b.py::<collect>", outcome="incomplete"),
                baselines.record(f"a.py::test_{i}"),
                *([baselines.record("b.py::test_1")] if i == 1 else []),
            ],
            meta={INCOMPLETE_ITEMS_META: json.dumps(held)},
        )
        for i in (1, 2)
    ]
    out = tmp_path / "merged.db"
    assert main(["merge", str(out), *map(str, shards)]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "1 test file recorded in part by each input, in full between them",
        "1 test file with tests no input ran to their end: `pytest --diff` collects it and runs "
        "those tests",
    ]
    records = baselines.content(out)["records"]
    assert records["a.py::<collect>"].outcome == "passed"
    assert records["b.py::<collect>"].outcome == "incomplete"
    with Baseline.open_existing(out) as merged:
        assert json.loads(merged.meta()[INCOMPLETE_ITEMS_META]) == {"b.py": held["b.py"]}
