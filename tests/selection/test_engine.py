from __future__ import annotations

from pathlib import Path

from difftest.changes.blocks import parse_blocks
from difftest.changes.scan import FileHasher
from difftest.changes.state import CurrentState
from difftest.model import COLLECT_SUFFIX, DATA_BLOCK, Dependency, TestRecord, digest
from difftest.selection.engine import select
from difftest.storage.baseline import Baseline

APP = "LIMIT = 3\n\ndef double(x):\n    return x * 2\n\ndef triple(x):\n    return x * 3\n"


def deps_on(root: Path, path: str, *names: str) -> tuple[Dependency, ...]:
    data = (root / path).read_bytes()
    version = digest(data)
    if names == (DATA_BLOCK,):
        return (Dependency(path, version, DATA_BLOCK, version),)
    blocks = parse_blocks(data, path).by_name()
    return tuple(Dependency(path, version, n, blocks[n].checksum) for n in names)


def setup_project(tmp_path: Path) -> Baseline:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "table.csv").write_text("a,b\n")
    baseline = Baseline.open(tmp_path / "b.db")
    baseline.write(
        [
            TestRecord(
                "t.py::test_double",
                "t.py",
                "passed",
                0.1,
                deps_on(tmp_path, "app.py", "<module>", "double"),
            ),
            TestRecord(
                "t.py::test_triple",
                "t.py",
                "passed",
                0.1,
                deps_on(tmp_path, "app.py", "<module>", "triple"),
            ),
            TestRecord(
                "u.py::test_table",
                "u.py",
                "passed",
                0.1,
                deps_on(tmp_path, "table.csv", DATA_BLOCK),
            ),
            TestRecord("t.py" + COLLECT_SUFFIX, "t.py", "passed", 0.0, ()),
            TestRecord("u.py" + COLLECT_SUFFIX, "u.py", "passed", 0.0, ()),
        ]
    )
    return baseline


def state(root: Path) -> CurrentState:
    return CurrentState(FileHasher(root))


def test_an_empty_baseline_runs_everything(tmp_path):
    selection = select(Baseline.open(tmp_path / "b.db"), state(tmp_path))
    assert selection.run_all is not None
    assert selection.must_collect("anything.py")


def test_nothing_is_selected_when_nothing_changed(tmp_path):
    selection = select(setup_project(tmp_path), state(tmp_path))
    assert selection.affected == {}
    assert not selection.must_collect("t.py") and not selection.must_collect("u.py")
    assert selection.must_collect("new_test.py")


def test_a_function_edit_selects_only_the_tests_that_ran_it(tmp_path):
    baseline = setup_project(tmp_path)
    (tmp_path / "app.py").write_text(APP.replace("x * 3", "x * 4"))
    selection = select(baseline, state(tmp_path))
    assert list(selection.affected) == ["t.py::test_triple"]
    assert "app.py::triple changed" in str(selection.affected["t.py::test_triple"][0])
    assert selection.summary() == "1 changed block in 1 file"


def test_a_module_level_edit_selects_every_test_that_imported_the_module(tmp_path):
    baseline = setup_project(tmp_path)
    (tmp_path / "app.py").write_text(APP.replace("LIMIT = 3", "LIMIT = 4"))
    assert set(select(baseline, state(tmp_path)).affected) == {
        "t.py::test_double",
        "t.py::test_triple",
    }


def test_a_data_file_edit_or_deletion_selects_its_readers(tmp_path):
    baseline = setup_project(tmp_path)
    (tmp_path / "table.csv").write_text("a,b,c\n")
    assert set(select(baseline, state(tmp_path)).affected) == {"u.py::test_table"}
    (tmp_path / "table.csv").unlink()
    selection = select(baseline, state(tmp_path))
    assert set(selection.affected) == {"u.py::test_table"}
    assert "was deleted" in str(selection.affected["u.py::test_table"][0])


def test_a_syntax_error_selects_every_dependent_and_warns(tmp_path):
    baseline = setup_project(tmp_path)
    (tmp_path / "app.py").write_text(APP + "\ndef broken(:\n")
    selection = select(baseline, state(tmp_path))
    assert set(selection.affected) == {"t.py::test_double", "t.py::test_triple"}
    assert any("app.py" in w for w in selection.warnings)


def test_failed_tests_stay_selected_until_they_pass(tmp_path):
    baseline = setup_project(tmp_path)
    record = baseline.record("t.py::test_double")
    assert record is not None
    baseline.write([TestRecord(record.nodeid, record.file, "failed", 0.1, record.deps)])
    assert list(select(baseline, state(tmp_path)).affected) == ["t.py::test_double"]


def test_a_record_of_one_test_does_not_absorb_a_change_another_test_depends_on(tmp_path):
    baseline = setup_project(tmp_path)
    (tmp_path / "app.py").write_text(APP.replace("LIMIT = 3", "LIMIT = 4"))
    # A partial run re-records only test_double against the new app.py.
    baseline.write(
        [
            TestRecord(
                "t.py::test_double",
                "t.py",
                "passed",
                0.1,
                deps_on(tmp_path, "app.py", "<module>", "double"),
            )
        ]
    )
    assert list(select(baseline, state(tmp_path)).affected) == ["t.py::test_triple"]


def test_an_environment_change_selects_the_tests_that_depended_on_it(tmp_path):
    baseline = setup_project(tmp_path)
    baseline.write(
        [
            TestRecord(
                "v.py::test_env",
                "v.py",
                "passed",
                0.1,
                (Dependency("<env>/dist/foo", "1.0", "<env>", "1.0"),),
            )
        ]
    )
    selection = select(baseline, CurrentState(FileHasher(tmp_path), env={"<env>/dist/foo": "1.1"}))
    assert list(selection.affected) == ["v.py::test_env"]
    assert "dist/foo is now 1.1" in str(selection.affected["v.py::test_env"][0])
    assert "environment changed: dist/foo" in selection.summary()
