"""Another coverage.py measurement in the same process (pytest-cov's ``--cov``, ``coverage run``):
coverage.py measures one way at a time, so recording stops with a message, and selecting works."""

from __future__ import annotations

import sys

import pytest
from pytester_project import Project, ran

FILES = {
    "app.py": "def one():\n    return 1\n",
    "tests/test_app.py": "from app import one\n\ndef test_one():\n    assert one() == 1\n",
}


def _refused(result: pytest.RunResult, why: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: difftest: --diff-baseline *{why}*--no-cov*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_recording_in_a_run_pytest_cov_measures_stops_with_a_message_and_records_nothing(
    project: Project,
) -> None:
    project.write(FILES)
    _refused(project.subprocess("--cov=.", "--diff-baseline"), "pytest-cov measures this run")
    assert not project.db.exists()


def test_a_run_pytest_cov_measures_selects_and_reports_coverage(project: Project) -> None:
    project.write(FILES)
    assert project.subprocess("--diff-baseline").ret == 0
    project.edit("app.py", "return 1", "return 2")
    result = project.subprocess("--cov=.", "--cov-report=term", "--diff", "-v")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*test_one FAILED*", "TOTAL *"])


def test_recording_with_no_cov_records_as_usual(project: Project) -> None:
    project.write(FILES)
    assert project.subprocess("--cov=.", "--no-cov", "--diff-baseline").ret == 0
    assert "tests/test_app.py::test_one" in project.records()


def test_recording_under_coverage_run_stops_with_a_message(project: Project) -> None:
    project.write(FILES)
    result = project.pytester.run(
        sys.executable, "-m", "coverage", "run", "-m", "pytest", "-p", "no:cacheprovider",
        "--diff-baseline",
    )  # fmt: skip
    _refused(result, "coverage.py already measures this process")


def test_a_test_that_measures_coverage_itself_is_selected_by_any_change(project: Project) -> None:
    # Its own coverage.py measurement pauses difftest's while it runs: what the test ran then is
    # not known, so its record depends on every project file.
    project.write(
        {
            "app.py": "def one():\n    return 1\n",
            "tests/test_app.py": """
                import coverage
                from app import one

                def test_measures_itself():
                    cov = coverage.Coverage(data_file=None, config_file=False)
                    cov.start()
                    value = one()
                    cov.stop()
                    assert value == 1

                def test_plain():
                    assert one() == 1
            """,
        }
    )
    assert project.baseline().ret == 0
    project.edit("app.py", "return 1", "return 2")
    result = project.diff("-v", "--diff-v")
    assert sorted(ran(result)) == [
        "tests/test_app.py::test_measures_itself",
        "tests/test_app.py::test_plain",
    ]
    result.stdout.fnmatch_lines(
        ["*app.py changed (not all the test ran was measured: *another coverage.py measurement*"]
    )


def test_a_measurement_a_test_leaves_running_ends_no_run_and_later_tests_run_on_any_change(
    project: Project,
) -> None:
    # coverage.py stops only the measurement on top: difftest's stays paused under the leaked
    # one, and every test from then on depends on every project file.
    project.write(
        {
            "app.py": "def one():\n    return 1\n",
            "tests/test_app.py": """
                import coverage
                from app import one

                def test_leaks():
                    coverage.Coverage(data_file=None, config_file=False).start()
                    assert one() == 1

                def test_after():
                    assert one() == 1
            """,
        }
    )
    # In a process of its own: the leaked measurement must not outlive the run.
    result = project.subprocess("--diff-baseline")
    assert result.ret == 0, result.stdout.str()
    assert set(project.records()) >= {
        "tests/test_app.py::test_leaks",
        "tests/test_app.py::test_after",
    }
    project.edit("app.py", "return 1", "return 2")
    assert sorted(ran(project.subprocess("--diff", "-v"))) == [
        "tests/test_app.py::test_after",
        "tests/test_app.py::test_leaks",
    ]
