"""Options: one group, ini keys, command line over ini, values checked with clear errors."""

from __future__ import annotations

import pytest
from pytester_project import Project, ran

from difftest.config import OPTIONS

TEST = {"tests/test_a.py": "def test_a():\n    pass\n\ndef test_b():\n    pass\n"}


def test_every_option_is_in_the_help_with_its_default(project: Project) -> None:
    result = project.run("--help")
    result.stdout.fnmatch_lines(["difftest: run only the tests affected by changes:"])
    text = result.stdout.str()
    for option in OPTIONS:
        assert option.flag in text
        assert "Default" in option.help
        if option.ini:
            assert option.ini in text


def test_nothing_changes_without_a_difftest_flag(project: Project) -> None:
    project.write(TEST)
    result = project.run()
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("difftest*")
    assert not project.db.exists()


def test_the_db_path_comes_from_the_ini_file(project: Project) -> None:
    project.write(TEST)
    project.pytester.makeini("[pytest]\naddopts = -v\ndiff_db = state/tests.db\n")
    project.baseline()
    assert (project.path / "state" / "tests.db").exists()
    assert not project.db.exists()
    assert ran(project.diff()) == []


def test_the_command_line_overrides_the_ini_file(project: Project) -> None:
    project.write(TEST)
    project.pytester.makeini(
        "[pytest]\naddopts = -v\ndiff_db = state/tests.db\ndiff_batch_size = not-a-number\n"
    )
    result = project.baseline()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*difftest: ini option diff_batch_size must be a positive integer such as 20, got 'not-a-number'*"
        ]
    )
    result = project.baseline("--diff-batch-size", "1", "--diff-db", "cli.db")
    assert result.ret == 0
    assert (project.path / "cli.db").exists()
    assert not (project.path / "state" / "tests.db").exists()
    assert len(project.records(project.path / "cli.db")) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--diff-batch-size", "0"],
            "*--diff-batch-size must be a positive integer such as 20, got '0'*",
        ),
        (["--diff-cache-size", "x"], "*--diff-cache-size must be a positive integer*"),
        (["--diff-remote", "ftp://host/b.db"], "*--diff-remote must be a URL of the form s3://*"),
        (
            ["--diff-upload"],
            "*--diff-upload uploads a recorded baseline and needs --diff-baseline*",
        ),
        (["--diff-baseline", "--diff-upload"], "*--diff-upload needs a remote*"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_allowed_form(
    project: Project, args: list[str], message: str
) -> None:
    project.write(TEST)
    result = project.run("--diff", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_small_batches_and_cache_still_record_every_test(project: Project) -> None:
    files = {
        f"tests/test_{i}.py": f"import helper\n\ndef test_{i}():\n    assert helper.f({i}) == {i}\n"
        for i in range(5)
    }
    project.write({**files, "helper.py": "def f(x):\n    return x\n"})
    project.pytester.makeini(
        "[pytest]\npythonpath = .\naddopts = -v\ndiff_batch_size = 2\ndiff_cache_size = 1\n"
    )
    project.baseline()
    records = project.records()
    assert len(records) == 10
    assert all(
        any(d.name == "f" for d in r.deps) for n, r in records.items() if "<collect>" not in n
    )
    project.edit("helper.py", "return x", "return x + 0")
    assert len(ran(project.diff())) == 5


def test_collect_only_shows_the_selection_and_records_nothing(project: Project) -> None:
    project.write(TEST)
    project.baseline()
    before = project.records()
    project.edit("tests/test_a.py", "def test_b():\n    pass", "def test_b():\n    assert 1")
    result = project.baseline("--collect-only")
    result.stdout.fnmatch_lines(
        ["difftest: 1 changed block in 1 file; 1 of 2 tests selected", "*<Function test_b>"]
    )
    assert project.records() == before


def test_a_baseline_path_that_cannot_be_created_is_a_usage_error(project: Project) -> None:
    project.write({**TEST, "occupied": "a file, not a directory\n"})
    result = project.baseline("--diff-db", "occupied/baseline.db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*difftest: the baseline *occupied/baseline.db cannot be opened or created:*"]
    )
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize(("args", "frozen"), [((), False), (("--diff-baseline",), True)])
def test_a_difftest_run_leaves_what_remains_at_exit_to_the_operating_system(
    project: Project, args: tuple[str, ...], frozen: bool
) -> None:
    """The interpreter's last collections would walk and free the whole session; a run
    without difftest's flags is left as it is."""
    project.write(
        {
            "conftest.py": """
                import atexit
                import gc
                import pathlib

                BEFORE = gc.get_freeze_count()  # not 0 on every Python

                # Registered before difftest's handler, so it runs after it.
                atexit.register(
                    lambda: pathlib.Path("frozen.txt").write_text(
                        str(gc.get_freeze_count() - BEFORE)
                    )
                )
                """,
            "tests/test_a.py": "def test_a():\n    pass\n",
        }
    )
    project.subprocess(*args).assert_outcomes(passed=1)
    assert (int((project.path / "frozen.txt").read_text()) > 0) is frozen
