"""`difftest inspect`: the summary, one test's dependencies, one file's dependents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from difftest.cli.error_handler import EXIT_ERROR, EXIT_OK
from difftest.cli.main import main
from difftest.model import Dependency, TestRecord
from difftest.storage.baseline import SCHEMA_VERSION


@pytest.fixture
def project(tmp_path: Path, baselines) -> Path:
    records = [
        baselines.record(
            "tests/test_app.py::test_add", ("src/app.py", "<module>"), ("src/app.py", "add")
        ),
        baselines.record(
            "tests/test_app.py::test_sub", ("src/app.py", "<module>"), ("src/app.py", "sub")
        ),
        baselines.record("tests/test_db.py::test_query", ("src/db.py", "query"), outcome="failed"),
        baselines.record("tests/test_db.py::test_later", outcome="skipped"),
        baselines.record("tests/test_app.py::<collect>", ("tests/test_app.py", "<module>")),
        TestRecord(
            "tests/test_db.py::test_table",
            "tests/test_db.py",
            "passed",
            0.25,
            (
                Dependency("data/table.csv", "c0ffee" * 5, "<data>", "c0ffee" * 5),
                Dependency("<env>/python", "CPython 3.12.1 linux", "<env>", "CPython 3.12.1 linux"),
            ),
        ),
    ]
    baselines.make(
        tmp_path / ".difftest" / "baseline.db",
        records,
        recorded_at=1_700_000_000.0,
        edges=[("src/app.py", "data/table.csv", "data")],
        meta={"commit": "0123abcd", "import_roots": json.dumps(["src", "tests"])},
    )
    return tmp_path


def test_the_summary_counts_tests_files_and_outcomes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", "--root", str(project)]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"baseline:       {project / '.difftest' / 'baseline.db'}" in out
    assert f"format version: {SCHEMA_VERSION}" in out
    assert "commit:         0123abcd" in out
    assert "tests:          5 in 2 test files (+1 collection records)" in out
    assert "outcomes:       failed 1, passed 3, skipped 1" in out
    assert "files tracked:  4 (+1 environment items)" in out
    assert "import roots:   src, tests" in out
    assert "run-time edges: 1" in out


def test_the_summary_as_json_holds_the_same_facts(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = project / ".difftest" / "baseline.db"
    assert main(["inspect", str(db), "--json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert info["format_version"] == SCHEMA_VERSION
    assert info["tests"] == 5
    assert info["collection_records"] == 1
    assert info["test_files"] == 2
    assert info["files"] == 4
    assert info["outcomes"] == {"failed": 1, "passed": 3, "skipped": 1}
    assert info["commit"] == "0123abcd"
    assert info["created_at"] and info["updated_at"]


def test_inspecting_a_test_lists_its_files_blocks_and_environment(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["inspect", "--root", str(project), "--test"]
    assert main([*args, "tests/test_app.py::test_add"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "tests/test_app.py::test_add"
    assert out[1] == "  outcome passed in 0.010s, recorded 2023-11-14T22:13:20Z"
    assert out[2] == "  depends on 1 files (2 blocks):"
    assert out[3] == "    src/app.py"
    # block names with the first 12 characters of their fingerprints
    assert out[4].split() == ["<module>", "fp-src/app.p"]
    assert out[5].split() == ["add", "fp-src/app.p"]

    assert main([*args, "tests/test_db.py::test_table", "--json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert info["files"] == {
        "data/table.csv": {"version": "c0ffee" * 5, "blocks": {"<data>": "c0ffee" * 5}}
    }
    assert info["environment"] == {"python": "CPython 3.12.1 linux"}
    assert info["duration"] == 0.25


def test_inspecting_an_unknown_test_fails_and_suggests_close_ids(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["inspect", "--root", str(project), "--test", "tests/test_app.py::test_ad"])
    assert code == EXIT_ERROR
    err = capsys.readouterr().err
    assert "has no record of tests/test_app.py::test_ad" in err
    assert "Did you mean: tests/test_app.py::test_add" in err


def test_inspecting_a_file_lists_the_tests_depending_on_it_with_their_blocks(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", "--root", str(project), "--file", "src/app.py"]) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        "2 recorded tests depend on src/app.py:",
        "  tests/test_app.py::test_add: <module>, add",
        "  tests/test_app.py::test_sub: <module>, sub",
    ]
    absolute = str(project / "src" / "db.py")
    assert main(["inspect", "--root", str(project), "--file", absolute, "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out) == {
        "file": "src/db.py",
        "tests": {"tests/test_db.py::test_query": ["query"]},
    }


def test_inspecting_a_file_no_test_uses_says_so_and_suggests_recorded_names(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", "--root", str(project), "--file", "./src/ap.py"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("no recorded test depends on src/ap.py (")
    assert "recorded files with similar names: src/app.py" in out
