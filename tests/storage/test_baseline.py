"""The SQLite baseline: refusing what it cannot read, atomic writes, per-test state, clean-up."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from difftest.changes.names import READS, NameFacts
from difftest.errors import BaselineCorruptError, BaselineVersionError, StorageError
from difftest.model import TestRecord
from difftest.storage.baseline import SCHEMA_VERSION, Baseline


def many_records(baselines, count: int = 300) -> list[TestRecord]:
    return [
        baselines.record(
            f"tests/test_m.py::test_{i}", *((f"src/m{j}.py", f"f{i}") for j in range(20))
        )
        for i in range(count)
    ]


def test_a_file_of_garbage_bytes_is_refused_as_not_a_baseline(tmp_path: Path) -> None:
    path = tmp_path / "baseline.db"
    path.write_bytes(b"\x00\x13garbage, not a database" * 100)
    with pytest.raises(BaselineCorruptError) as info:
        Baseline.open_existing(path)
    message = str(info.value)
    assert str(path) in message
    assert "not a difftest baseline (not an SQLite file)" in message
    assert "Delete it" in message
    assert path.read_bytes().startswith(b"\x00\x13garbage")  # left for the user to look at


@pytest.mark.parametrize("keep", ["header only", "half"])
def test_a_truncated_baseline_is_reported_as_corrupt_or_truncated(
    tmp_path: Path, baselines, keep: str
) -> None:
    path = baselines.make(tmp_path / "baseline.db", many_records(baselines))
    data = path.read_bytes()
    path.write_bytes(data[:100] if keep == "header only" else data[: len(data) // 2])
    with pytest.raises(BaselineCorruptError, match="is corrupt or truncated") as info:
        Baseline.open_existing(path)
    assert "fetch a good copy" in str(info.value)


def test_an_sqlite_file_of_another_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('format_version', '1')")
    conn.commit()
    conn.close()
    with pytest.raises(BaselineCorruptError, match="an SQLite file but not a difftest baseline"):
        Baseline.open_existing(path)


def test_a_baseline_of_another_format_version_is_refused_with_what_to_do(
    tmp_path: Path, baselines
) -> None:
    path = baselines.make(tmp_path / "baseline.db", [baselines.record("t.py::test_a")])
    baselines.set_format_version(path, "99")
    with pytest.raises(BaselineVersionError) as info:
        Baseline.open_existing(path)
    message = str(info.value)
    assert f"{path} has baseline format version 99" in message
    assert f"this difftest reads version {SCHEMA_VERSION}" in message
    assert "pytest --diff-baseline --diff-force" in message


def test_opening_a_missing_baseline_says_how_to_record_one(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"no baseline at .*pytest --diff-baseline"):
        Baseline.open_existing(tmp_path / "absent.db")
    assert not (tmp_path / "absent.db").exists()


def test_a_write_that_fails_halfway_leaves_the_previous_content(tmp_path: Path, baselines) -> None:
    path = baselines.make(
        tmp_path / "baseline.db",
        [baselines.record("t.py::test_a", ("app.py", "f")), baselines.record("t.py::test_b")],
        recorded_at=100.0,
    )
    before = baselines.content(path)

    def half_then_crash() -> Iterator[TestRecord]:
        yield baselines.record("t.py::test_a", ("app.py", "g"))
        yield baselines.record("t.py::test_new")
        raise RuntimeError("the test run died")

    with Baseline.open_existing(path) as baseline:
        with pytest.raises(RuntimeError, match="the test run died"):
            baseline.write(half_then_crash(), recorded_at=200.0)
        # the connection is usable again: the failed transaction was rolled back
        baseline.write([baselines.record("t.py::test_c")], recorded_at=300.0)
    after = baselines.content(path)
    assert after["records"]["t.py::test_a"] == before["records"]["t.py::test_a"]
    assert "t.py::test_new" not in after["records"]
    assert after["recorded_at"] == {**before["recorded_at"], "t.py::test_c": 300.0}


def test_an_unsynced_batch_is_committed_and_a_failed_one_leaves_the_last_commit(
    tmp_path: Path, baselines
) -> None:
    path = baselines.make(tmp_path / "baseline.db", [baselines.record("t.py::test_a")])

    def crash() -> Iterator[TestRecord]:
        yield baselines.record("t.py::test_lost")
        raise RuntimeError("the test run died")

    with Baseline.open_existing(path) as baseline:
        baseline.write([baselines.record("t.py::test_b")], collect=False, durable=False)
        assert set(baselines.content(path)["records"]) == {"t.py::test_a", "t.py::test_b"}
        with pytest.raises(RuntimeError):
            baseline.write(crash(), collect=False, durable=False)
        # and the next write syncs again
        (level,) = baseline._conn.execute("PRAGMA synchronous").fetchone()
        assert level == 2
    assert set(baselines.content(path)["records"]) == {"t.py::test_a", "t.py::test_b"}


def test_writing_some_tests_leaves_the_other_tests_records_unchanged(
    tmp_path: Path, baselines
) -> None:
    path = baselines.make(
        tmp_path / "baseline.db",
        [
            baselines.record("t.py::test_a", ("app.py", "f")),
            baselines.record("t.py::test_b", ("app.py", "g"), outcome="failed"),
        ],
        recorded_at=100.0,
    )
    before = baselines.content(path)
    with Baseline.open_existing(path) as baseline:  # a partial run (-k test_a)
        baseline.write([baselines.record("t.py::test_a", ("lib.py", "h"))], recorded_at=200.0)
    after = baselines.content(path)
    assert after["records"]["t.py::test_b"] == before["records"]["t.py::test_b"]
    assert after["recorded_at"]["t.py::test_b"] == 100.0
    assert after["records"]["t.py::test_a"] == baselines.record("t.py::test_a", ("lib.py", "h"))
    assert after["recorded_at"]["t.py::test_a"] == 200.0


def test_versions_no_test_refers_to_any_more_are_collected(tmp_path: Path, baselines) -> None:
    path = baselines.make(
        tmp_path / "baseline.db",
        [
            baselines.record("t.py::test_a", ("old.py", "f"), ("shared.py", "s")),
            baselines.record("t.py::test_b", ("gone.py", "g"), ("shared.py", "s")),
        ],
    )
    with Baseline.open_existing(path) as baseline:
        baseline.write(
            [baselines.record("t.py::test_a", ("new.py", "f"), ("shared.py", "s"))],
            remove=["t.py::test_b"],
        )
        keys = sorted(key for _, key, _ in baseline.versions())
        assert keys == ["new.py", "shared.py"]
        assert baseline.dependents_of_key("old.py") == []
        conn = sqlite3.connect(str(path))
        try:
            (depsets,) = conn.execute("SELECT COUNT(*) FROM depset").fetchone()
            (orphans,) = conn.execute(
                "SELECT COUNT(*) FROM dep WHERE version_id NOT IN (SELECT id FROM version)"
            ).fetchone()
        finally:
            conn.close()
    assert depsets == 1
    assert orphans == 0


def test_batches_written_without_collecting_are_read_correctly_and_the_last_write_collects(
    tmp_path: Path, baselines
) -> None:
    path = baselines.make(
        tmp_path / "baseline.db", [baselines.record("t.py::test_a", ("old.py", "f"))]
    )
    with Baseline.open_existing(path) as baseline:
        # Batches of a recording run: test_b reuses the depset test_c brings in the same batch,
        # test_a's old depset is left behind until the run's last write.
        baseline.write(
            [
                baselines.record("t.py::test_a", ("new.py", "f")),
                baselines.record("t.py::test_b", ("new.py", "f")),
            ],
            collect=False,
        )
        baseline.write([baselines.record("t.py::test_c", ("new.py", "f"))], collect=False)
        assert baseline.dependents_of_key("old.py") == []
        assert sorted(n for n, _, _ in baseline.dependents_of_key("new.py")) == [
            "t.py::test_a",
            "t.py::test_b",
            "t.py::test_c",
        ]
        assert sorted(key for _, key, _ in baseline.versions()) == ["new.py", "old.py"]
        baseline.write([], collect=True)
        assert sorted(key for _, key, _ in baseline.versions()) == ["new.py"]
    conn = sqlite3.connect(str(path))
    try:
        (depsets,) = conn.execute("SELECT COUNT(*) FROM depset").fetchone()
    finally:
        conn.close()
    assert depsets == 1


def test_an_integrity_check_finds_damage_that_opening_does_not(tmp_path: Path, baselines) -> None:
    path = baselines.make(tmp_path / "baseline.db", many_records(baselines))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = b"\xff" * 2000
    path.write_bytes(bytes(data))
    # opening succeeds (the header and schema look fine); reading every page does not
    with (
        Baseline.open_existing(path) as baseline,
        pytest.raises(BaselineCorruptError, match=r"is corrupt \(") as info,
    ):
        baseline.check_integrity()
    assert str(path) in str(info.value)


def test_an_intact_baseline_passes_the_integrity_check(tmp_path: Path, baselines) -> None:
    path = baselines.make(tmp_path / "baseline.db", many_records(baselines, 20))
    with Baseline.open_existing(path) as baseline:
        baseline.check_integrity()
        assert baseline.test_count() == 20


def test_a_backup_copy_holds_the_same_records_and_the_stat_cache_can_be_dropped(
    tmp_path: Path, baselines
) -> None:
    path = baselines.make(
        tmp_path / "baseline.db", many_records(baselines, 5), edges=[("a", "b", "import")]
    )
    with Baseline.open_existing(path) as baseline:
        baseline.update_stat_cache({"src/m0.py": (1, 2, 3, 4, "h")})
        baseline.backup_to(tmp_path / "copy.db")
    with Baseline.open_existing(tmp_path / "copy.db") as copy:
        assert copy.stat_cache() == {"src/m0.py": (1, 2, 3, 4, "h")}
        copy.clear_stat_cache()
        assert copy.stat_cache() == {}
    assert baselines.content(tmp_path / "copy.db") == baselines.content(path)


def test_refreshing_the_stat_cache_of_many_files_commits_once(tmp_path: Path, baselines) -> None:
    # Autocommit would sync the file once per row: seconds for a few thousand files.
    path = baselines.make(tmp_path / "baseline.db", [baselines.record("t.py::test_a")])
    statements: list[str] = []
    with Baseline.open_existing(path) as baseline:
        baseline._conn.set_trace_callback(statements.append)
        baseline.update_stat_cache({f"src/f{i}.py": (i, i, i, i, "h") for i in range(500)})
        baseline.set_recorded_at({"t.py::test_a": 5.0})
        baseline._conn.set_trace_callback(None)
        assert len(baseline.stat_cache()) == 500
        assert baseline.recorded_at() == {"t.py::test_a": 5.0}
    assert [s for s in statements if s in ("BEGIN IMMEDIATE", "COMMIT")] == [
        "BEGIN IMMEDIATE",
        "COMMIT",
        "BEGIN IMMEDIATE",
        "COMMIT",
    ]


_OLD_STAT_CACHE = (
    "CREATE TABLE stat_cache (path TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, "
    "size INTEGER NOT NULL, hash TEXT NOT NULL)"
)


def test_a_stat_cache_without_ctime_and_inode_from_an_older_difftest_is_never_trusted(
    tmp_path: Path, baselines
) -> None:
    path = baselines.make(tmp_path / "baseline.db", [baselines.record("t.py::test_a")])
    conn = sqlite3.connect(str(path))
    with conn:
        conn.execute("DROP TABLE stat_cache")
        conn.execute(_OLD_STAT_CACHE)
        conn.execute("INSERT INTO stat_cache VALUES ('data.txt', 1, 4, 'old-hash')")
    conn.close()
    with Baseline.open_existing(path) as baseline:
        assert baseline.test_count() == 1
        # (mtime, size) alone cannot tell a same-size rewrite with its mtime put back.
        assert baseline.stat_cache() == {}
        baseline.update_stat_cache({"app.py": (1, 2, 3, 4, "h")})
    with Baseline.open_existing(path) as baseline:
        assert baseline.stat_cache() == {"app.py": (1, 2, 3, 4, "h")}

    # An older difftest keeps reading and writing the file it names the columns of; what it
    # writes lacks the ctime and inode, so it is hashed again rather than trusted.
    conn = sqlite3.connect(str(path))
    with conn:
        conn.execute(
            "INSERT OR REPLACE INTO stat_cache (path, mtime_ns, size, hash) "
            "VALUES ('app.py', 1, 2, 'older-hash')"
        )
        assert sorted(conn.execute("SELECT path, mtime_ns, size, hash FROM stat_cache")) == [
            ("app.py", 1, 2, "older-hash"),
            ("data.txt", 1, 4, "old-hash"),
        ]
    conn.close()
    with Baseline.open_existing(path) as baseline:
        assert baseline.stat_cache() == {}


def test_name_facts_given_with_a_write_are_not_computed_again(tmp_path: Path, baselines) -> None:
    asked: list[tuple[str, str]] = []

    def names_of(key: str, version: str) -> str | None:
        asked.append((key, version))
        return NameFacts().to_json()

    given = NameFacts(dynamic=READS).to_json()
    record = baselines.record("t.py::test_a", ("src/given.py", "<module>"), ("src/new.py", "f"))
    with Baseline.open(tmp_path / "b.db") as baseline:
        baseline.write(
            [record], names=[("src/given.py", "v-src/given.py", given)], names_of=names_of
        )
        stored = {(k, h): f for k, h, f in baseline.names()}
    assert asked == [("src/new.py", "v-src/new.py")]
    assert stored[("src/given.py", "v-src/given.py")] == given


def test_name_facts_of_an_earlier_analysis_are_computed_again_or_dropped_on_the_next_write(
    tmp_path: Path, baselines
) -> None:
    old = '{"d":0,"f":{},"s":{}}'  # no analysis version: written before FACTS_VERSION 2
    current = NameFacts(dynamic=READS).to_json()
    records = [
        baselines.record("t.py::test_a", ("src/same.py", "<module>")),
        baselines.record("t.py::test_b", ("src/edited.py", "<module>")),
    ]
    with Baseline.open(tmp_path / "b.db") as baseline:
        baseline.write(
            records,
            names=[
                ("src/same.py", "v-src/same.py", old),
                ("src/edited.py", "v-src/edited.py", old),
            ],
        )
        assert baseline.names_keys() == set()  # not trusted: as if nothing were known
        baseline.write(
            [baselines.record("t.py::test_c", ("src/other.py", "<module>"))],
            # The file is still that version for same.py, no longer for edited.py.
            names_of=lambda key, version: current if key != "src/edited.py" else None,
        )
        stored = {k: f for k, _h, f in baseline.names()}
        assert baseline.names_keys() == {
            ("src/same.py", "v-src/same.py"),
            ("src/other.py", "v-src/other.py"),
        }
    assert stored == {"src/same.py": current, "src/other.py": current}


def _count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(str(path))
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def test_what_the_tests_of_one_file_share_is_stored_once_and_read_back_in_every_record(
    tmp_path: Path, baselines
) -> None:
    shared = [(f"src/m{j}.py", "<module>") for j in range(10)]
    records = [
        baselines.record(f"tests/test_a.py::test_{i}", *shared, (f"src/f{i}.py", "f"))
        for i in range(3)
    ] + [baselines.record("tests/test_b.py::test_alone", *shared)]
    path = baselines.make(tmp_path / "baseline.db", records)

    # The 10 shared rows once, one own row per test of test_a.py; test_b.py's test ran against
    # exactly the shared part, so its depset is that same base.
    assert _count(path, "SELECT COUNT(*) FROM dep") == 10 + 3
    assert _count(path, "SELECT COUNT(*) FROM depset WHERE base_id IS NOT NULL") == 3
    with Baseline.open_existing(path) as baseline:
        assert {r.nodeid: (r.file, set(r.deps)) for r in baseline.records()} == {
            r.nodeid: (r.file, set(r.deps)) for r in records
        }
        for rec in records:
            assert set(baseline.record(rec.nodeid).deps) == set(rec.deps)  # type: ignore[union-attr]
        assert sorted(n for n, _, _ in baseline.dependents_of_key("src/m3.py")) == [
            "tests/test_a.py::test_0",
            "tests/test_a.py::test_1",
            "tests/test_a.py::test_2",
            "tests/test_b.py::test_alone",
        ]
        assert [n for n, _, _ in baseline.dependents_of_key("src/f1.py")] == [
            "tests/test_a.py::test_1"
        ]
        # What selection asks: the depsets holding a version, then their tests.
        (vid,) = [v for v, key, _ in baseline.versions() if key == "src/m3.py"]
        depsets = sorted({d for d, _, _, _ in baseline.deps_of_versions([vid])})
        assert sorted(n for n, _, _ in baseline.tests_of_depsets(depsets)) == sorted(
            r.nodeid for r in records
        )
        (own,) = [v for v, key, _ in baseline.versions() if key == "src/f2.py"]
        depsets = sorted({d for d, _, _, _ in baseline.deps_of_versions([own])})
        assert [n for n, _, _ in baseline.tests_of_depsets(depsets)] == ["tests/test_a.py::test_2"]


def test_a_shared_part_is_kept_while_a_test_stands_on_it_and_collected_after(
    tmp_path: Path, baselines
) -> None:
    shared = [("src/lib.py", "<module>"), ("src/lib.py", "K")]
    path = baselines.make(
        tmp_path / "baseline.db",
        [baselines.record(f"t.py::test_{i}", *shared, ("src/own.py", f"f{i}")) for i in range(2)],
    )
    with Baseline.open_existing(path) as baseline:
        # test_0 alone is re-recorded (a `-k` run): it no longer shares a batch with test_1,
        # whose depset still stands on the old base.
        baseline.write([baselines.record("t.py::test_0", ("src/other.py", "g"))])
        assert [n for n, _, _ in baseline.dependents_of_key("src/lib.py")] == [
            "t.py::test_1",
            "t.py::test_1",
        ]
        assert set(baseline.record("t.py::test_1").deps) == {  # type: ignore[union-attr]
            *baselines.record("t.py::test_1", *shared, ("src/own.py", "f1")).deps
        }
        baseline.write([], remove=["t.py::test_1"])
        assert sorted(key for _, key, _ in baseline.versions()) == ["src/other.py"]
    assert _count(path, "SELECT COUNT(*) FROM depset") == 1
    assert _count(path, "SELECT COUNT(*) FROM dep") == 1


def test_a_write_the_file_system_refuses_says_to_make_it_writable_not_to_delete_it() -> None:
    from difftest.storage.baseline import _FIX, _write_fix

    refused = _write_fix(sqlite3.OperationalError("attempt to write a readonly database"))
    assert "writable" in refused and "Delete it" not in refused
    assert _write_fix(sqlite3.DatabaseError("database disk image is malformed")) == _FIX
