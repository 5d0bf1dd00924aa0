"""pytest-xdist: the same selection and the same records as a serial run; only the controller
writes the baseline."""

from __future__ import annotations

import shutil

import pytest
from pytester_project import Project, ran

from difftest.model import TestRecord

pytest.importorskip("xdist")

FILES = {
    "app/__init__.py": "",
    "app/core.py": """
        import json

        SCALE = 2

        def scale(x):
            return x * SCALE

        def dump(x):
            return json.dumps(x)
        """,
    "tests/conftest.py": """
        import pytest

        @pytest.fixture(scope="session")
        def base():
            return 10
        """,
    **{
        f"tests/test_{name}.py": f"""
        from app.core import scale, dump

        def test_{name}_scale(base):
            assert scale(base) == 20

        def test_{name}_dump():
            assert dump([1]) == "[1]"
        """
        for name in ("alpha", "beta", "gamma")
    },
    "tests/test_plain.py": "def test_plain():\n    pass\n",
}


def comparable(records: dict[str, TestRecord]) -> dict[str, tuple[str, list[tuple[str, str, str]]]]:
    return {
        nodeid: (r.outcome, sorted((d.key, d.name, d.fingerprint) for d in r.deps))
        for nodeid, r in records.items()
    }


@pytest.fixture
def files(project: Project) -> Project:
    project.write(FILES)
    return project


def test_a_baseline_recorded_with_two_workers_equals_the_serial_one(files: Project) -> None:
    serial = files.run("--diff-baseline")
    assert serial.ret == 0
    serial_records = comparable(files.records())
    shutil.rmtree(files.path / ".difftest")
    parallel = files.run("--diff-baseline", "-n", "2")
    assert parallel.ret == 0
    parallel.stdout.fnmatch_lines(
        ["difftest (recording): no recorded tests yet*7 of 7 tests selected"]
    )
    assert comparable(files.records()) == serial_records
    assert not list(files.path.glob(".difftest/worker-*"))


def test_two_workers_select_and_record_what_a_serial_run_would(files: Project) -> None:
    assert files.run("--diff-baseline").ret == 0
    before = files.records()
    nothing = files.run("--diff", "-n", "2")
    assert nothing.ret == 0
    assert ran(nothing) == []
    nothing.stdout.fnmatch_lines(["difftest: 0 changed blocks in 0 files; 0 of 7 tests selected"])

    files.edit("app/core.py", "return x * SCALE", "return SCALE * x")
    serial = files.run("--diff")
    parallel = files.run("--diff-baseline", "-n", "2")
    assert (
        ran(parallel)
        == ran(serial)
        == [
            "tests/test_alpha.py::test_alpha_scale",
            "tests/test_beta.py::test_beta_scale",
            "tests/test_gamma.py::test_gamma_scale",
        ]
    )
    parallel.stdout.fnmatch_lines(
        ["difftest (recording): 1 changed block in 1 file; 3 of 7 tests selected"]
    )
    after = files.records()
    assert sorted(after) == sorted(before)
    assert after["tests/test_plain.py::test_plain"] == before["tests/test_plain.py::test_plain"]
    assert (
        after["tests/test_alpha.py::test_alpha_scale"]
        != before["tests/test_alpha.py::test_alpha_scale"]
    )
    assert ran(files.run("--diff")) == []


def test_a_file_whose_tests_ran_on_different_workers_is_complete_only_if_all_of_them_ran(
    files: Project,
) -> None:
    assert files.run("--diff-baseline", "-n", "2").ret == 0
    collects = {n: r.outcome for n, r in files.records().items() if n.endswith("<collect>")}
    assert set(collects.values()) == {"passed"}
    assert ran(files.run("--diff")) == []

    shutil.rmtree(files.path / ".difftest")
    assert files.run("--diff-baseline", "-n", "2", "-k", "not test_beta_dump").ret == 0
    collects = {n: r.outcome for n, r in files.records().items() if n.endswith("<collect>")}
    assert collects.pop("tests/test_beta.py::<collect>") == "incomplete"
    assert set(collects.values()) == {"passed"}
    assert ran(files.run("--diff", "-n", "2")) == ["tests/test_beta.py::test_beta_dump"]
