"""Partial runs record only the tests that ran: a change stays visible to the tests that did not."""

from __future__ import annotations

import pytest
from pytester_project import Project, ran

from difftest.storage.baseline import INCOMPLETE_ITEMS_META
from difftest.storage.merge import merge_files

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


@pytest.mark.parametrize(
    "args",
    [
        ["-k", "test_one or test_three"],
        ["--deselect", "tests/test_first.py::test_two"],
        ["tests/test_first.py::test_one", "tests/test_second.py"],
    ],
    ids=["keyword", "deselect", "one-test-of-the-file"],
)
def test_a_test_a_first_partial_baseline_did_not_run_runs_as_new_until_it_is_recorded(
    project: Project, args: list[str]
) -> None:
    project.write(FILES)
    assert ran(project.baseline(*args)) == [
        "tests/test_first.py::test_one",
        "tests/test_second.py::test_three",
    ]
    assert project.records()["tests/test_first.py::<collect>"].outcome == "incomplete"
    assert project.records()["tests/test_second.py::<collect>"].outcome == "passed"
    # Nothing changed, yet test_two has no record: its file is collected again and it runs.
    first = project.diff()
    assert ran(first) == ["tests/test_first.py::test_two"]
    first.stdout.fnmatch_lines(["*1 of 3 tests selected (1 new)*"])
    assert ran(project.diff()) == ["tests/test_first.py::test_two"]  # --diff records nothing
    assert ran(project.baseline()) == ["tests/test_first.py::test_two"]
    assert project.records()["tests/test_first.py::<collect>"].outcome == "passed"
    assert ran(project.diff()) == []


def test_a_test_stopped_before_its_end_gets_no_record_and_its_file_runs_again(
    project: Project,
) -> None:
    project.write(
        {
            **FILES,
            "tests/test_first.py": """
                from shared import value

                def test_one():
                    assert value() == 1

                def test_stopped():
                    raise KeyboardInterrupt

                def test_after():
                    assert value() == 1
                """,
        }
    )
    result = project.subprocess("--diff-baseline")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    records = project.records()
    assert "tests/test_first.py::test_stopped" not in records
    assert "tests/test_first.py::test_after" not in records
    assert records["tests/test_first.py::<collect>"].outcome == "incomplete"
    project.edit("tests/test_first.py", "raise KeyboardInterrupt", "pass")
    # test_one ran to its end before the interrupt; test_second.py was collected, never run.
    # (In a subprocess as the baseline: pytester sets PYTHONPATH there, part of the config.)
    assert ran(project.subprocess("--diff")) == [
        "tests/test_first.py::test_after",
        "tests/test_first.py::test_stopped",
        "tests/test_second.py::test_three",
    ]


def test_a_test_file_recorded_without_its_collection_record_is_collected_again(
    project: Project,
) -> None:
    # What a run stopped for good (kill -9) between two batches leaves: some of a new file's
    # tests are recorded, its collection record is not.
    project.write(FILES)
    project.baseline()
    project.sql("DELETE FROM test WHERE nodeid = ?", ("tests/test_first.py::<collect>",))
    project.sql("DELETE FROM test WHERE nodeid = ?", ("tests/test_first.py::test_two",))
    assert ran(project.diff()) == ["tests/test_first.py::test_two"]


def merge_shards(
    project: Project, *keywords: str, args: tuple[str, ...] = (), unsaid: int | None = None
) -> None:
    """Record FILES in one `-k` shard per keyword, each into its own baseline, and merge them
    into the project's. Shard number ``unsaid`` keeps no record of what incomplete files held,
    as baselines from before difftest kept it."""
    project.write(FILES)
    shards = []
    for keyword in keywords:
        assert ran(project.baseline("-k", keyword, *args))
        if len(shards) == unsaid:
            project.sql("DELETE FROM meta WHERE key = ?", (INCOMPLETE_ITEMS_META,))
        shards.append(project.db.rename(project.path / f"shard{len(shards)}.db"))
    merge_files([(str(p), p) for p in shards], project.db)


def test_a_baseline_merged_from_shards_that_split_by_file_collects_no_unaffected_file(
    project: Project,
) -> None:
    # Each `-k` shard collects every file and leaves the other shard's out: its collection
    # record of those is incomplete. The other shard's complete one counts in the merge.
    merge_shards(project, "test_first", "test_second")
    records = project.records()
    assert records["tests/test_first.py::<collect>"].outcome == "passed"
    assert records["tests/test_second.py::<collect>"].outcome == "passed"
    result = project.diff()
    assert ran(result) == []
    result.stdout.fnmatch_lines(["*collected 0 items*"])
    project.edit("shared.py", "return 1", "return 0 + 1")
    assert ran(project.diff()) == DEPENDENT


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_baseline_merged_from_shards_that_split_a_file_between_them_collects_it_no_more(
    project: Project, workers: tuple[str, ...]
) -> None:
    # Neither shard saw all of test_first.py; each says what collecting it found, and between
    # them every test of it has a record.
    merge_shards(project, "test_one", "test_two or test_three", args=workers)
    assert project.records()["tests/test_first.py::<collect>"].outcome == "passed"
    result = project.diff()
    assert ran(result) == []
    result.stdout.fnmatch_lines(["*collected 0 items*"])


def test_a_test_no_shard_ran_keeps_its_file_incomplete_in_the_merge_and_runs(
    project: Project,
) -> None:
    merge_shards(project, "test_one", "test_three")
    assert project.records()["tests/test_first.py::<collect>"].outcome == "incomplete"
    assert ran(project.diff()) == ["tests/test_first.py::test_two"]


def test_a_shard_baseline_that_does_not_say_what_it_collected_keeps_its_files_incomplete(
    project: Project,
) -> None:
    merge_shards(project, "test_one", "test_two or test_three", unsaid=0)
    assert project.records()["tests/test_first.py::<collect>"].outcome == "incomplete"
    assert ran(project.diff()) == []  # collected, but every test has a record
