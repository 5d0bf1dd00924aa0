"""The scenario table of the README, one behaviour per test, through real pytest runs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytester_project import Project, ran

from difftest.cli.error_handler import EXIT_OK
from difftest.cli.main import main
from difftest.model import COLLECT_SUFFIX
from difftest.storage.baseline import Baseline

APP = {
    "app/__init__.py": "",
    "app/calc.py": """
        def add(a, b):
            return a + b

        def mul(a, b):
            return a * b
        """,
    "tests/test_add.py": """
        from app.calc import add

        def test_add():
            assert add(1, 2) == 3

        def test_add_zero():
            assert add(0, 0) == 0
        """,
    "tests/test_mul.py": """
        from app.calc import mul

        def test_mul():
            assert mul(2, 3) == 6
        """,
}


@pytest.fixture
def app(project: Project) -> Project:
    project.write(APP)
    return project


def test_first_baseline_runs_and_records_every_test(app: Project) -> None:
    result = app.baseline()
    assert result.ret == 0
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["difftest (recording): no recorded tests yet*3 of 3 tests selected"]
    )
    assert sorted(app.records()) == [
        "tests/test_add.py" + COLLECT_SUFFIX,
        "tests/test_add.py::test_add",
        "tests/test_add.py::test_add_zero",
        "tests/test_mul.py" + COLLECT_SUFFIX,
        "tests/test_mul.py::test_mul",
    ]
    assert (app.path / ".difftest" / ".gitignore").read_text() == "*\n"


def test_diff_without_a_baseline_runs_everything_and_creates_nothing(app: Project) -> None:
    result = app.diff()
    assert result.ret == 0
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["difftest: no baseline at *: everything runs; 3 of 3 tests selected"]
    )
    assert not app.db.exists()


def test_no_changes_runs_nothing_and_exits_zero(app: Project) -> None:
    app.baseline()
    for result in (app.diff(), app.baseline()):
        assert result.ret == 0
        assert ran(result) == []
        result.stdout.fnmatch_lines(
            ["difftest*: 0 changed blocks in 0 files; 0 of 3 tests selected"]
        )


def test_editing_a_function_selects_only_the_tests_that_ran_it(app: Project) -> None:
    app.baseline()
    app.edit("app/calc.py", "return a * b", "return b * a")
    result = app.diff()
    assert ran(result) == ["tests/test_mul.py::test_mul"]
    result.stdout.fnmatch_lines(["difftest: 1 changed block in 1 file; 1 of 3 tests selected"])
    assert result.ret == 0


def test_diff_is_read_only(app: Project) -> None:
    app.baseline()
    before = app.records()
    app.edit("app/calc.py", "return a * b", "return b * a")
    app.diff()
    assert app.records() == before
    assert ran(app.diff()) == ["tests/test_mul.py::test_mul"]


def test_incremental_baseline_reruns_affected_tests_and_updates_their_records(
    app: Project,
) -> None:
    app.baseline()
    before = app.records()
    app.edit("app/calc.py", "return a * b", "return b * a")
    result = app.baseline()
    assert ran(result) == ["tests/test_mul.py::test_mul"]
    after = app.records()
    assert after["tests/test_mul.py::test_mul"] != before["tests/test_mul.py::test_mul"]
    assert after["tests/test_add.py::test_add"] == before["tests/test_add.py::test_add"]
    assert ran(app.diff()) == []


def test_a_new_test_file_runs_its_tests_and_is_recorded(app: Project) -> None:
    app.baseline()
    app.write(tests__test_new="def test_new():\n    assert True\n")
    result = app.diff()
    assert ran(result) == ["tests/test_new.py::test_new"]
    app.baseline()
    assert "tests/test_new.py::test_new" in app.records()
    assert ran(app.diff()) == []


def test_a_new_test_in_a_recorded_file_runs(app: Project) -> None:
    app.baseline()
    app.edit(
        "tests/test_mul.py",
        "def test_mul():",
        "def test_mul_one():\n    assert mul(1, 1) == 1\n\ndef test_mul():",
    )
    # The file's module block changed too (a new def). Import-time edits of test files are not
    # narrowed (pytest finds tests and fixtures by name), so its other test runs as well.
    assert ran(app.diff()) == ["tests/test_mul.py::test_mul", "tests/test_mul.py::test_mul_one"]


def test_a_new_source_file_runs_the_tests_that_import_it(app: Project) -> None:
    app.baseline()
    app.write({"app/extra.py": "def triple(x):\n    return 3 * x\n"})
    assert ran(app.diff()) == []  # nothing uses it yet
    app.edit("app/calc.py", "def mul(a, b):", "from app.extra import triple\n\ndef mul(a, b):")
    assert ran(app.diff()) == [
        "tests/test_add.py::test_add",
        "tests/test_add.py::test_add_zero",
        "tests/test_mul.py::test_mul",
    ]


def test_failing_tests_are_reselected_until_they_pass(app: Project) -> None:
    app.baseline()
    app.edit("app/calc.py", "return a * b", "return a * b + 1")
    result = app.baseline()
    assert ran(result) == ["tests/test_mul.py::test_mul"]
    assert result.ret == 1
    for _ in range(2):  # nothing changed, but it failed last time
        result = app.diff()
        assert ran(result) == ["tests/test_mul.py::test_mul"]
        result.stdout.fnmatch_lines(["*1 of 3 tests selected (1 failed last time)"])
    app.baseline()
    app.edit("app/calc.py", "return a * b + 1", "return a * b")
    assert ran(app.baseline()) == ["tests/test_mul.py::test_mul"]
    assert ran(app.diff()) == []


def test_a_setup_error_is_recorded_as_error_and_reselected(project: Project) -> None:
    project.write(
        tests__test_fx="""
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("no")

        def test_uses_broken(broken):
            pass

        def test_fine():
            pass
        """
    )
    project.baseline()
    assert project.records()["tests/test_fx.py::test_uses_broken"].outcome == "error"
    assert ran(project.diff()) == ["tests/test_fx.py::test_uses_broken"]


def test_skipped_and_xfail_tests_are_recorded_and_deselected(project: Project) -> None:
    project.write(
        tests__test_marks="""
        import pytest

        @pytest.mark.skip(reason="later")
        def test_skipped():
            pass

        @pytest.mark.xfail(reason="known")
        def test_xfailed():
            assert False

        @pytest.mark.xfail(reason="fixed?")
        def test_xpassed():
            pass
        """
    )
    project.baseline()
    outcomes = {k: r.outcome for k, r in project.records().items() if "<collect>" not in k}
    assert outcomes == {
        "tests/test_marks.py::test_skipped": "skipped",
        "tests/test_marks.py::test_xfailed": "xfailed",
        "tests/test_marks.py::test_xpassed": "xpassed",
    }
    for result in (project.diff(), project.baseline()):
        assert ran(result) == []
        assert result.ret == 0


def test_force_rebuilds_the_baseline_from_a_full_run(app: Project) -> None:
    app.baseline()
    app.sql("UPDATE test SET outcome = 'skipped'")
    result = app.baseline("--diff-force")
    assert len(ran(result)) == 3
    result.stdout.fnmatch_lines(["difftest (recording): --diff-force*3 of 3 tests selected"])
    assert {r.outcome for r in app.records().values()} == {"passed"}


def test_force_without_baseline_is_a_usage_error(app: Project) -> None:
    result = app.run("--diff", "--diff-force")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--diff-force*only applies with --diff-baseline*"])


def test_a_deleted_test_loses_its_record(app: Project) -> None:
    app.baseline()
    app.edit("tests/test_add.py", "def test_add_zero():\n    assert add(0, 0) == 0\n", "")
    app.baseline()
    assert "tests/test_add.py::test_add_zero" not in app.records()
    assert "tests/test_add.py::test_add" in app.records()


def test_a_deleted_test_file_loses_its_records(app: Project) -> None:
    app.baseline()
    (app.path / "tests" / "test_mul.py").unlink()
    assert app.baseline().ret == 0
    assert not [n for n in app.records() if n.startswith("tests/test_mul.py")]


def test_records_of_files_not_collected_in_a_partial_run_are_kept(app: Project) -> None:
    app.baseline()
    app.edit("app/calc.py", "return a + b", "return b + a")
    app.baseline("tests/test_mul.py")
    assert "tests/test_add.py::test_add" in app.records()
    assert ran(app.diff()) == ["tests/test_add.py::test_add", "tests/test_add.py::test_add_zero"]


def test_always_marked_tests_run_every_time(project: Project) -> None:
    project.write(
        tests__test_always_run="""
        import pytest

        @pytest.mark.diff_always
        def test_always_run():
            pass

        def test_other():
            pass
        """
    )
    project.baseline()
    for result in (project.diff(), project.baseline()):
        assert ran(result) == ["tests/test_always_run.py::test_always_run"]
        result.stdout.fnmatch_lines(["*1 of 2 tests selected (1 always-run)"])


def test_unaffected_test_files_are_not_imported(app: Project) -> None:
    app.write(
        tests__test_boom="""
        with open("imported.log", "a") as fh:  # a write, which is no dependency
            fh.write("test_boom.py was imported\\n")

        def test_quiet():
            pass
        """
    )
    app.baseline()
    log = app.path / "imported.log"
    log.unlink()
    app.run()
    assert log.exists()  # plain pytest imports it
    log.unlink()
    app.edit("app/calc.py", "return a * b", "return b * a")
    result = app.diff()
    assert result.ret == 0
    assert ran(result) == ["tests/test_mul.py::test_mul"]
    assert not log.exists()


def test_verbose_prints_the_reason_of_every_selected_test(app: Project) -> None:
    app.baseline()
    app.edit("app/calc.py", "return a * b", "return b * a")
    app.write(tests__test_new="def test_new():\n    pass\n")
    result = app.diff("--diff-v")
    result.stdout.fnmatch_lines(
        [
            "difftest: baseline *baseline.db (3 recorded tests)",
            "difftest: changed: app/calc.py::mul changed",
            "difftest: 1 unaffected test files not collected: tests/test_add.py",
            "difftest: selected tests/test_mul.py::test_mul",
            "    changed: app/calc.py::mul changed",
            "difftest: selected tests/test_new.py::test_new",
            "    new: new test: no record yet",
        ]
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_the_baseline_tells_the_commit_it_was_recorded_at(
    app: Project, workers: list[str], git: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    git(app.path, "init", "-q")
    git(app.path, "add", "-A")
    git(app.path, "commit", "-qm", "one")
    app.baseline(*workers).assert_outcomes(passed=3)
    first = git(app.path, "rev-parse", "HEAD")
    with Baseline.open_existing(app.db) as baseline:
        assert baseline.meta()["commit"] == first
    capsys.readouterr()
    assert main(["inspect", "--root", str(app.path)]) == EXIT_OK
    assert f"commit:         {first}" in capsys.readouterr().out

    app.edit("app/calc.py", "return a + b", "return b + a")
    git(app.path, "commit", "-qam", "two")
    app.baseline(*workers)
    with Baseline.open_existing(app.db) as baseline:
        assert baseline.meta()["commit"] == git(app.path, "rev-parse", "HEAD") != first
