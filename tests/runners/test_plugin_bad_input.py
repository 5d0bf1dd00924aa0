"""Input difftest cannot use: it says so, runs what might be affected, and never crashes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pytester_project import Project, ran

from difftest.runners.pytest.store import set_aside
from difftest.storage.baseline import SCHEMA_VERSION, Baseline

FILES = {
    "app.py": "def one():\n    return 1\n",
    "tests/test_app.py": "from app import one\n\ndef test_one():\n    assert one() == 1\n",
    "tests/test_plain.py": "def test_plain():\n    pass\n",
}


@pytest.fixture
def recorded(project: Project) -> Project:
    project.write(FILES)
    assert project.baseline().ret == 0
    return project


def test_a_syntax_error_selects_every_test_that_used_the_file_and_warns(recorded: Project) -> None:
    recorded.edit("app.py", "return 1", "return (1")
    result = recorded.diff()
    result.stdout.fnmatch_lines(
        [
            "difftest: warning: cannot parse app.py:*SyntaxError*",
            "difftest: 2 changed blocks in 1 file; *",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*difftest*")
    assert "tests/test_plain.py::test_plain" not in ran(result)
    assert result.ret == pytest.ExitCode.INTERRUPTED  # the test file cannot import app
    recorded.edit("app.py", "return (1", "return 1")
    assert ran(recorded.diff()) == []  # back to what was recorded


def test_a_test_file_that_fails_to_collect_is_collected_again_next_time(project: Project) -> None:
    project.write(
        {**FILES, "tests/test_broken.py": "import not_a_module\n\ndef test_x():\n    pass\n"}
    )
    project.baseline()
    assert project.records()["tests/test_broken.py::<collect>"].outcome == "error"
    result = project.diff()
    result.stdout.fnmatch_lines(["*ERROR collecting tests/test_broken.py*"])


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda db: db.write_bytes(b"this is not a database at all"), id="garbage"),
        pytest.param(lambda db: db.write_bytes(db.read_bytes()[:3000]), id="truncated"),
    ],
)
@pytest.mark.parametrize("mode", ["--diff", "--diff-baseline"])
def test_an_unreadable_baseline_is_set_aside_with_a_warning_and_everything_runs(
    recorded: Project, damage, mode: str
) -> None:
    damage(recorded.db)
    result = recorded.run(mode)
    result.stdout.fnmatch_lines(
        [
            f"difftest: WARNING: the baseline {recorded.db} cannot be used: *. Everything runs; "
            f"it was moved to {recorded.db}.corrupt; *",
            "difftest*: the baseline * could not be read: everything runs; 2 of 2 tests selected",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    assert result.ret == 0
    assert (recorded.path / ".difftest" / "baseline.db.corrupt").exists()
    if mode == "--diff-baseline":
        assert sorted(n for n in recorded.records() if "<collect>" not in n) == [
            "tests/test_app.py::test_one",
            "tests/test_plain.py::test_plain",
        ]
        assert ran(recorded.diff()) == []
    else:
        assert not recorded.db.exists()


def test_a_baseline_of_another_format_version_is_set_aside_and_rebuilt(recorded: Project) -> None:
    recorded.sql("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    result = recorded.baseline()
    result.stdout.fnmatch_lines(
        [
            "difftest: WARNING: *has baseline format version 99; "
            f"this difftest reads version {SCHEMA_VERSION}*"
        ]
    )
    assert len(ran(result)) == 2
    with Baseline.open_existing(recorded.db) as baseline:
        assert baseline.meta()["format_version"] == str(SCHEMA_VERSION)


def test_a_baseline_set_aside_never_replaces_one_set_aside_before(tmp_path: Path) -> None:
    db = tmp_path / "baseline.db"
    for n in range(3):
        db.write_text(f"broken {n}")
        set_aside(db)
    assert not db.exists()
    assert [(tmp_path / name).read_text() for name in sorted(os.listdir(tmp_path))] == [
        "broken 0",
        "broken 1",
        "broken 2",
    ]
