"""Partial runs record only the tests that ran: a change stays visible to the tests that did not."""

from __future__ import annotations

import pytest
from pytester_project import Project, ran

FILES = {
    "shared.py": "def value():\n    return 1\n",
    "tests/test_first.py": """
        from shared import value

        def test_one():
            assert value() == 1

        def test_two():
            assert value() + 1 == 2
        """,
    "tests/test_second.py": """
        from shared import value

        def test_three():
            assert value() == 1
        """,
}
DEPENDENT = [
    "tests/test_first.py::test_one",
    "tests/test_first.py::test_two",
    "tests/test_second.py::test_three",
]


@pytest.fixture
def changed(project: Project) -> Project:
    project.write(FILES)
    project.baseline()
    project.edit("shared.py", "return 1", "return 0 + 1")
    return project


@pytest.mark.parametrize(
    ("args", "recorded_now"),
    [
        (["-k", "test_one"], ["tests/test_first.py::test_one"]),
        (["tests/test_second.py"], ["tests/test_second.py::test_three"]),
        (["tests/test_first.py::test_two"], ["tests/test_first.py::test_two"]),
        (
            ["--deselect", "tests/test_first.py::test_one"],
            ["tests/test_first.py::test_two", "tests/test_second.py::test_three"],
        ),
    ],
    ids=["keyword", "one-file", "one-test", "deselect"],
)
def test_a_partial_baseline_run_leaves_the_change_visible_to_the_tests_it_did_not_run(
    changed: Project, args: list[str], recorded_now: list[str]
) -> None:
    before = changed.records()
    assert ran(changed.baseline(*args)) == recorded_now
    after = changed.records()
    assert sorted(after) == sorted(before)  # nothing was dropped
    assert ran(changed.diff()) == sorted(set(DEPENDENT) - set(recorded_now))
    assert ran(changed.baseline()) == sorted(set(DEPENDENT) - set(recorded_now))
    assert ran(changed.diff()) == []
