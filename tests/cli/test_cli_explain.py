"""`difftest explain`: the selection decision for one test, against the files on disk now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from difftest.changes.blocks import parse_blocks
from difftest.changes.environment import VAR_PREFIX, python_fingerprint, value_of_var
from difftest.changes.names import names_reader
from difftest.changes.scan import FileHasher
from difftest.cli.error_handler import EXIT_ERROR, EXIT_OK
from difftest.cli.main import main
from difftest.model import Dependency, TestRecord, digest
from difftest.storage.baseline import ALWAYS_RUN_META, Baseline

APP = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
TESTS = "from app import add, sub\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
PYTHON = Dependency("<env>/python", python_fingerprint(), "<env>", python_fingerprint())


def deps(root: Path, path: str, *names: str) -> tuple[Dependency, ...]:
    data = (root / path).read_bytes()
    blocks = parse_blocks(data, path).by_name()
    return tuple(Dependency(path, digest(data), n, blocks[n].checksum) for n in names)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "test_app.py").write_text(TESTS)
    app = deps(tmp_path, "app.py", "<module>", "add", "sub")
    with Baseline.open(tmp_path / ".difftest" / "baseline.db") as baseline:
        baseline.write(
            [
                TestRecord(
                    "test_app.py::test_add", "test_app.py", "passed", 0.1, (*app[:2], PYTHON)
                ),
                TestRecord("test_app.py::test_sub", "test_app.py", "passed", 0.1, (app[0], app[2])),
                TestRecord("test_app.py::test_flaky", "test_app.py", "failed", 0.1, app[:1]),
                TestRecord(
                    "test_app.py::test_configured",
                    "test_app.py",
                    "passed",
                    0.1,
                    (*app[:1], Dependency("<env>/pytest-config", "cfg1", "<env>", "cfg1")),
                ),
                TestRecord(
                    "test_app.py::<collect>",
                    "test_app.py",
                    "passed",
                    0.1,
                    (*deps(tmp_path, "test_app.py", "<module>"), app[0]),
                ),
            ]
        )
    return tmp_path


def explain(project: Path, capsys: pytest.CaptureFixture[str], nodeid: str) -> list[str]:
    assert main(["explain", nodeid, "--root", str(project)]) == EXIT_OK
    return capsys.readouterr().out.splitlines()


def test_an_untouched_test_is_not_selected_and_the_dependencies_are_counted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert explain(project, capsys, "test_app.py::test_add") == [
        "test_app.py::test_add: not selected: none of its 3 dependencies changed"
    ]


def test_a_changed_function_selects_the_tests_that_ran_it_and_names_the_block(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "app.py").write_text(APP.replace("return a + b", "return b + a + 0"))
    assert explain(project, capsys, "test_app.py::test_add") == [
        "test_app.py::test_add: selected",
        "  - changed: app.py::add changed",
    ]
    assert explain(project, capsys, "test_app.py::test_sub") == [
        "test_app.py::test_sub: not selected: none of its 2 dependencies changed"
    ]


def test_a_deleted_file_selects_every_test_that_imported_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "app.py").unlink()
    lines = explain(project, capsys, "test_app.py::test_sub")
    assert lines[0] == "test_app.py::test_sub: selected"
    assert "  - changed: app.py::<module> was removed (file deleted)" in lines


def test_a_test_that_failed_last_time_is_selected_until_it_passes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert explain(project, capsys, "test_app.py::test_flaky") == [
        "test_app.py::test_flaky: selected",
        "  - unsettled: last outcome was failed: it runs until it passes",
    ]


def test_an_unrecorded_test_would_run_as_new_and_close_ids_are_suggested(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = explain(project, capsys, "test_app.py::test_ad")
    assert lines[0] == "test_app.py::test_ad: not recorded: it would run as a new test"
    assert lines[1].startswith("  recorded tests with similar ids: test_app.py::test_add")


def test_environment_items_only_pytest_knows_are_named_as_not_checked(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert explain(project, capsys, "test_app.py::test_configured") == [
        "test_app.py::test_configured: not selected: none of its 2 dependencies changed",
        "  note: <env>/pytest-config is compared by the pytest plugin, not here "
        "(taken as unchanged)",
    ]


def test_a_test_marked_diff_always_is_explained_as_selected_every_time(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Baseline.open(project / ".difftest" / "baseline.db") as baseline:
        baseline.write(
            [], meta={ALWAYS_RUN_META: json.dumps({"test_app.py": ["test_app.py::test_sub"]})}
        )
    assert explain(project, capsys, "test_app.py::test_sub") == [
        "test_app.py::test_sub: selected: it is marked diff_always, so it runs every time"
    ]


def test_an_environment_variable_is_compared_with_its_value_where_explain_runs(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIFFTEST_EXPLAIN_MODE", "a")
    recorded = value_of_var("a")
    variable = Dependency(VAR_PREFIX + "DIFFTEST_EXPLAIN_MODE", recorded, "<env>", recorded)
    with Baseline.open(project / ".difftest" / "baseline.db") as baseline:
        baseline.write(
            [TestRecord("test_app.py::test_mode", "test_app.py", "passed", 0.1, (variable,))]
        )
    assert explain(project, capsys, "test_app.py::test_mode") == [
        "test_app.py::test_mode: not selected: none of its 1 dependency changed"
    ]
    monkeypatch.setenv("DIFFTEST_EXPLAIN_MODE", "b")
    assert explain(project, capsys, "test_app.py::test_mode") == [
        "test_app.py::test_mode: selected",
        "  - changed: environment variable DIFFTEST_EXPLAIN_MODE changed",
    ]


def test_a_collection_record_explains_whether_its_file_is_imported(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # whether a file is collected depends on every test in it, so every assumption is named
    note = (
        "  note: <env>/pytest-config is compared by the pytest plugin, not here "
        "(taken as unchanged)"
    )
    assert explain(project, capsys, "test_app.py::<collect>") == [
        "test_app.py: collected: a test in it is selected",  # test_flaky failed last time
        note,
    ]
    with Baseline.open_existing(project / ".difftest" / "baseline.db") as baseline:
        baseline.write([], remove=["test_app.py::test_flaky"])
    assert explain(project, capsys, "test_app.py::<collect>") == [
        "test_app.py: not collected: none of its 2 dependencies changed and no test in it is "
        "selected",
        note,
    ]
    (project / "app.py").write_text("import os\n" + APP)
    assert explain(project, capsys, "test_app.py::<collect>") == [
        "test_app.py: collected: what importing it depends on changed",
        "  - app.py::<module> changed",
        note,
    ]


def test_explaining_without_a_baseline_is_an_error_saying_how_to_record_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "t.py::test_x", "--root", str(tmp_path)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "no baseline at" in err
    assert "pytest --diff-baseline" in err


def test_an_import_time_edit_the_test_cannot_see_is_explained_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "app.py").write_text("LIMIT = 1\n\n\n" + APP)
    (tmp_path / "test_app.py").write_text(TESTS)
    records = [
        TestRecord(
            f"test_app.py::test_{name}",
            "test_app.py",
            "passed",
            0.1,
            (
                *deps(tmp_path, "app.py", "<module>", name),
                *deps(tmp_path, "test_app.py", "<module>"),
            ),
        )
        for name in ("add", "sub")
    ]
    with Baseline.open(tmp_path / ".difftest" / "baseline.db") as baseline:
        baseline.write(records, names_of=names_reader(FileHasher(tmp_path)))
    (tmp_path / "app.py").write_text("LIMIT = 2\n\n\n" + APP.replace("a + b", "a + b + LIMIT - 1"))
    assert explain(tmp_path, capsys, "test_app.py::test_sub") == [
        "test_app.py::test_sub: not selected: import-time code it depends on changed, but the "
        "code it ran does not refer to any name the change binds",
        "  - app.py::<module> changed",
    ]
    assert explain(tmp_path, capsys, "test_app.py::test_add") == [
        "test_app.py::test_add: selected",
        "  - changed: app.py::add changed",
    ]
