"""--diff-static: the import-graph mode of pytest-delta, with per-test records and no coverage."""

from __future__ import annotations

import pytest
from pytester_project import Project, ran

FILES = {
    "app/__init__.py": "",
    "app/shared.py": "def double(x):\n    return 2 * x\n",
    "app/alone.py": "def triple(x):\n    return 3 * x\n",
    "tests/unit/conftest.py": ("import pytest\n\n@pytest.fixture\ndef base():\n    return 10\n"),
    "tests/unit/test_shared.py": (
        "from app.shared import double\n\n"
        "def test_double(base):\n    assert double(base) == 20\n\n"
        "def test_double_zero():\n    assert double(0) == 0\n"
    ),
    "tests/test_alone.py": "from app.alone import triple\n\ndef test_triple():\n    assert triple(2) == 6\n",
}


@pytest.fixture()
def static(project: Project) -> Project:
    project.write(FILES)
    return project


def test_the_first_run_runs_everything_and_the_next_one_nothing(static: Project) -> None:
    first = static.run("--diff-static")
    assert first.ret == 0
    first.stdout.fnmatch_lines(
        ["difftest (static): no recorded tests yet: everything runs; 3 of 3 tests selected"]
    )
    assert (static.path / ".difftest" / "static.db").exists()
    assert not (static.path / ".difftest" / "baseline.db").exists()
    second = static.run("--diff-static")
    assert second.ret == 0
    assert ran(second) == []
    second.stdout.fnmatch_lines(["difftest (static): 0 changed blocks in 0 files; 0 of 3 tests*"])


def test_a_change_runs_the_test_files_whose_import_closure_holds_it(static: Project) -> None:
    static.run("--diff-static")
    static.edit("app/shared.py", "return 2 * x", "return x + x")
    assert ran(static.run("--diff-static")) == [
        "tests/unit/test_shared.py::test_double",
        "tests/unit/test_shared.py::test_double_zero",
    ]
    static.edit("app/alone.py", "return 3 * x", "return 3 * x  # a comment changes nothing")
    assert ran(static.run("--diff-static")) == []


def test_a_conftest_change_runs_the_tests_below_it(static: Project) -> None:
    static.run("--diff-static")
    static.edit("tests/unit/conftest.py", "return 10", "return 11")
    result = static.run("--diff-static")
    assert ran(result) == [
        "tests/unit/test_shared.py::test_double",
        "tests/unit/test_shared.py::test_double_zero",
    ]
    result.assert_outcomes(passed=1, failed=1)
    # The failing test runs until it passes; the test that passed is settled.
    assert ran(static.run("--diff-static")) == ["tests/unit/test_shared.py::test_double"]


def test_no_save_selects_without_changing_the_records(static: Project) -> None:
    static.run("--diff-static")
    static.edit("app/alone.py", "return 3 * x", "return x * 3")
    for _ in range(2):
        result = static.run("--diff-static", "--diff-no-save")
        assert ran(result) == ["tests/test_alone.py::test_triple"]
        result.stdout.fnmatch_lines(
            ["difftest (static, not saved): 1 changed block in 1 file; 1 of 3 tests selected"]
        )
    assert ran(static.run("--diff-static")) == ["tests/test_alone.py::test_triple"]
    assert ran(static.run("--diff-static")) == []


def test_a_partial_run_does_not_absorb_a_change_other_tests_depend_on(static: Project) -> None:
    static.run("--diff-static")
    static.edit("app/shared.py", "return 2 * x", "return x + x")
    assert ran(static.run("--diff-static", "-k", "zero")) == [
        "tests/unit/test_shared.py::test_double_zero"
    ]
    assert ran(static.run("--diff-static")) == ["tests/unit/test_shared.py::test_double"]


def test_a_data_file_read_by_a_test_is_a_dependency_too(static: Project) -> None:
    static.write(
        {
            "data/rate.txt": "3\n",
            "tests/test_rate.py": (
                "import os\n\nHERE = os.path.dirname(os.path.abspath(__file__))\n\n"
                "def test_rate():\n"
                "    with open(os.path.join(HERE, '..', 'data', 'rate.txt')) as fh:\n"
                "        assert int(fh.read()) == 3\n"
            ),
        }
    )
    static.run("--diff-static")
    static.edit("data/rate.txt", "3", "4")
    assert ran(static.run("--diff-static")) == ["tests/test_rate.py::test_rate"]


def test_the_always_run_marker_and_forced_rebuild_apply(static: Project) -> None:
    static.write(
        {
            "tests/test_canary.py": (
                "import pytest\n\n@pytest.mark.diff_always\ndef test_canary():\n    pass\n"
            )
        }
    )
    static.run("--diff-static")
    assert ran(static.run("--diff-static")) == ["tests/test_canary.py::test_canary"]
    forced = static.run("--diff-static", "--diff-force")
    assert len(ran(forced)) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--diff-static", "--diff"], "*--diff-static is a mode of its own*"),
        (["--diff-static", "--diff-baseline"], "*--diff-static is a mode of its own*"),
        (["--diff", "--diff-no-save"], "*--diff-no-save applies to --diff-static*"),
    ],
)
def test_mixing_static_mode_with_the_other_modes_is_refused(
    static: Project, args: list[str], message: str
) -> None:
    result = static.run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_two_workers_select_what_a_serial_run_selects(static: Project) -> None:
    assert static.run("--diff-static", "-n", "2").ret == 0
    static.edit("app/shared.py", "return 2 * x", "return x + x")
    serial = static.run("--diff-static", "--diff-no-save")
    parallel = static.run("--diff-static", "-n", "2")
    assert (
        ran(parallel)
        == ran(serial)
        == [
            "tests/unit/test_shared.py::test_double",
            "tests/unit/test_shared.py::test_double_zero",
        ]
    )
    assert ran(static.run("--diff-static")) == []
