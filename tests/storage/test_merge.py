"""Merging baselines: newest record per test, edges combined, inputs local or remote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from difftest.errors import BaselineCorruptError, BaselineVersionError, RemoteError, StorageError
from difftest.model import TestRecord
from difftest.storage.baseline import ALWAYS_RUN_META, Baseline
from difftest.storage.merge import merge, merge_files
from difftest.storage.remote import open_remote


@pytest.fixture
def shards(tmp_path: Path, baselines) -> tuple[Path, Path]:
    """Two job baselines sharing test_shared: the integration job recorded it later."""
    unit = baselines.make(
        tmp_path / "results" / "unit.db",
        [
            baselines.record("tests/test_a.py::test_shared", ("src/app.py", "old")),
            baselines.record("tests/test_a.py::test_unit", ("src/app.py", "add")),
        ],
        recorded_at=1000.0,
        edges=[("src/app.py", "data/a.csv", "data")],
        meta={"commit": "aaa", "import_roots": json.dumps(["src"]), "pytest_config": "unit"},
    )
    integration = baselines.make(
        tmp_path / "results" / "integration.db",
        [
            baselines.record(
                "tests/test_a.py::test_shared", ("src/app.py", "new"), outcome="failed"
            ),
            baselines.record("tests/test_b.py::test_integration", ("src/db.py", "query")),
        ],
        recorded_at=2000.0,
        edges=[("src/db.py", "plugins.x", "import")],
        meta={
            "commit": "bbb",
            "import_roots": json.dumps(["src", "tests"]),
            "pytest_config": "integration",
        },
    )
    return unit, integration


def test_merging_overlapping_baselines_keeps_the_newest_record_of_each_test(
    shards: tuple[Path, Path], tmp_path: Path, baselines
) -> None:
    unit, integration = shards
    for order, out in (((unit, integration), "a.db"), ((integration, unit), "b.db")):
        result = merge(str(tmp_path / out), [str(p) for p in order])
        assert result.records == 3
        assert result.superseded == 1
        merged = baselines.content(tmp_path / out)
        assert merged["records"] == {
            "tests/test_a.py::test_shared": baselines.record(
                "tests/test_a.py::test_shared", ("src/app.py", "new"), outcome="failed"
            ),
            "tests/test_a.py::test_unit": baselines.record(
                "tests/test_a.py::test_unit", ("src/app.py", "add")
            ),
            "tests/test_b.py::test_integration": baselines.record(
                "tests/test_b.py::test_integration", ("src/db.py", "query")
            ),
        }
        assert merged["recorded_at"] == {
            "tests/test_a.py::test_shared": 2000.0,
            "tests/test_a.py::test_unit": 1000.0,
            "tests/test_b.py::test_integration": 2000.0,
        }
        assert merged["edges"] == [
            ("src/app.py", "data/a.csv", "data"),
            ("src/db.py", "plugins.x", "import"),
        ]


def test_a_failure_in_one_input_wins_over_a_later_pass_of_the_same_test(
    tmp_path: Path, baselines
) -> None:
    failed = baselines.record("tests/test_a.py::test_flaky", ("src/app.py", "f"), outcome="failed")
    passed = baselines.record("tests/test_a.py::test_flaky", ("src/app.py", "f"))
    first = baselines.make(tmp_path / "one.db", [failed], recorded_at=1000.0)
    later = baselines.make(tmp_path / "two.db", [passed], recorded_at=2000.0)
    for order, out in (((first, later), "a.db"), ((later, first), "b.db")):
        merge(str(tmp_path / out), [str(p) for p in order])
        merged = baselines.content(tmp_path / out)
        assert merged["records"] == {"tests/test_a.py::test_flaky": failed}


def test_a_merged_baseline_has_the_newest_commit_and_configuration_every_import_root_and_no_stat_cache(
    shards: tuple[Path, Path], tmp_path: Path
) -> None:
    unit, integration = shards
    with Baseline.open_existing(unit) as baseline:
        baseline.update_stat_cache({"src/app.py": (1, 2, 3, 4, "local-hash")})
    for order, out in (((unit, integration), "a.db"), ((integration, unit), "b.db")):
        merge(str(tmp_path / out), [str(p) for p in order])
        with Baseline.open_existing(tmp_path / out) as merged:
            assert merged.meta()["commit"] == "bbb"  # integration.db recorded last
            assert merged.meta()["pytest_config"] == "integration"
            assert merged.import_roots() == ["src", "tests"]
            assert merged.stat_cache() == {}


def test_a_directory_input_stands_for_every_db_file_in_it(
    shards: tuple[Path, Path], tmp_path: Path, baselines
) -> None:
    (tmp_path / "results" / "notes.txt").write_text("not a baseline")
    result = merge(str(tmp_path / "out.db"), [str(tmp_path / "results")])
    assert result.inputs == [str(p) for p in sorted(shards)]
    assert len(baselines.content(tmp_path / "out.db")["records"]) == 3


def test_an_input_of_another_format_version_is_refused_naming_it(
    shards: tuple[Path, Path], tmp_path: Path, baselines
) -> None:
    unit, integration = shards
    baselines.set_format_version(integration, "99")
    out = baselines.make(tmp_path / "out.db", [baselines.record("t.py::test_previous")])
    before = out.read_bytes()
    with pytest.raises(BaselineVersionError) as info:
        merge(str(out), [str(unit), str(integration)])
    assert f"{integration} has baseline format version 99" in str(info.value)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.db", "results"]


def test_a_corrupt_input_fails_the_merge_and_leaves_the_output_as_it_was(
    shards: tuple[Path, Path], tmp_path: Path, baselines
) -> None:
    unit, _ = shards
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"junk" * 1000)
    out = baselines.make(tmp_path / "out.db", [baselines.record("t.py::test_previous")])
    before = out.read_bytes()
    with pytest.raises(BaselineCorruptError, match=str(junk)):
        merge(str(out), [str(unit), str(junk)])
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    ("inputs", "complaint"),
    [
        (["missing.db"], "no such file or directory"),
        (["empty-dir"], "holds no .db files"),
        ([], "give at least one input"),
    ],
)
def test_unusable_inputs_are_refused_naming_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inputs: list[str], complaint: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(StorageError, match=complaint) as info:
        merge("out.db", inputs)
    assert all(name in str(info.value) for name in inputs)
    assert not (tmp_path / "out.db").exists()


@pytest.mark.s3
def test_merging_an_s3_prefix_into_a_local_file_reads_every_baseline_under_it(
    s3, shards: tuple[Path, Path], tmp_path: Path, baselines
) -> None:
    bucket = s3.bucket()
    unit, integration = shards
    open_remote(f"s3://{bucket}/run-123/job-unit.db").upload(unit)
    open_remote(f"s3://{bucket}/run-123/job-integration.db").upload(integration)
    open_remote(f"s3://{bucket}/run-124/job-unit.db").upload(integration)
    result = merge(str(tmp_path / "out.db"), [f"s3://{bucket}/run-123/"])
    assert result.inputs == [
        f"s3://{bucket}/run-123/job-integration.db",
        f"s3://{bucket}/run-123/job-unit.db",
    ]
    merged = baselines.content(tmp_path / "out.db")
    assert merged["recorded_at"] == {
        "tests/test_a.py::test_shared": 2000.0,
        "tests/test_a.py::test_unit": 1000.0,
        "tests/test_b.py::test_integration": 2000.0,
    }


@pytest.mark.s3
def test_a_fully_remote_merge_downloads_merges_and_uploads(
    s3, shards: tuple[Path, Path], tmp_path: Path, baselines
) -> None:
    bucket = s3.bucket()
    unit, integration = shards
    open_remote(f"s3://{bucket}/run-123/job-unit.db").upload(unit)
    open_remote(f"s3://{bucket}/run-123/job-integration.db").upload(integration)
    merge(f"s3://{bucket}/baseline.db", [f"s3://{bucket}/run-123/"])
    assert s3.keys(bucket) == [
        "baseline.db",
        "run-123/job-integration.db",
        "run-123/job-unit.db",
    ]
    assert open_remote(f"s3://{bucket}/baseline.db").download(tmp_path / "dev.db")
    local = merge(str(tmp_path / "local.db"), [str(unit), str(integration)])
    assert local.records == 3
    assert baselines.content(tmp_path / "dev.db") == baselines.content(tmp_path / "local.db")


@pytest.mark.s3
def test_an_empty_or_missing_remote_input_fails_the_merge(s3, tmp_path: Path) -> None:
    bucket = s3.bucket()
    with pytest.raises(
        RemoteError, match=f"cannot merge s3://{bucket}/run-9/: there are no .db baselines"
    ):
        merge(str(tmp_path / "out.db"), [f"s3://{bucket}/run-9/"])
    with pytest.raises(
        RemoteError, match=f"cannot merge s3://{bucket}/gone.db: there is no baseline there"
    ):
        merge(str(tmp_path / "out.db"), [f"s3://{bucket}/gone.db"])
    with pytest.raises(RemoteError, match="names a directory or prefix"):
        merge(f"s3://{bucket}/out/", [f"s3://{bucket}/run-9/"])
    assert not (tmp_path / "out.db").exists()
    assert s3.keys(bucket) == []


def test_a_corrupt_remote_input_is_refused_naming_its_url_and_no_temporary_file(
    s3, tmp_path: Path
) -> None:
    bucket = s3.bucket()
    s3.client.put_object(Bucket=bucket, Key="run-1/broken.db", Body=b"not a baseline")
    with pytest.raises(BaselineCorruptError) as raised:
        merge(str(tmp_path / "out.db"), [f"s3://{bucket}/run-1/broken.db"])
    assert f"s3://{bucket}/run-1/broken.db" in str(raised.value)
    assert "local copy" not in str(raised.value) and "difftest-merge" not in str(raised.value)
    assert not (tmp_path / "out.db").exists()


def test_merging_keeps_every_inputs_always_run_markers(tmp_path):
    first = tmp_path / "a.db"
    second = tmp_path / "b.db"
    for path, file, nodeid in (
        (first, "t_a.py", "t_a.py::smoke"),
        (second, "t_b.py", "t_b.py::smoke"),
    ):
        with Baseline.open(path) as baseline:
            baseline.write(
                [TestRecord(nodeid, file, "passed", 0.1, ())],
                meta={ALWAYS_RUN_META: json.dumps({file: [nodeid]})},
            )
    merge_files([("a", first), ("b", second)], tmp_path / "out.db")
    with Baseline.open_existing(tmp_path / "out.db") as merged:
        assert json.loads(merged.meta()[ALWAYS_RUN_META]) == {
            "t_a.py": ["t_a.py::smoke"],
            "t_b.py": ["t_b.py::smoke"],
        }


def test_the_name_facts_of_every_input_are_kept_for_the_versions_the_output_uses(
    tmp_path: Path, baselines
) -> None:
    def shard(name: str, nodeid: str, path: str) -> Path:
        facts = {(path, f"v-{path}"): f'{{"facts": "{path}"}}'}
        with Baseline.open(tmp_path / name) as baseline:
            baseline.write(
                [baselines.record(nodeid, (path, "<module>"))],
                names_of=lambda key, version: facts.get((key, version)),
            )
        return tmp_path / name

    unit = shard("unit.db", "tests/test_a.py::test_a", "src/a.py")
    other = shard("other.db", "tests/test_b.py::test_b", "src/b.py")
    merge(str(tmp_path / "out.db"), [str(unit), str(other)])
    with Baseline.open_existing(tmp_path / "out.db") as merged:
        assert sorted(merged.names()) == [
            ("src/a.py", "v-src/a.py", '{"facts": "src/a.py"}'),
            ("src/b.py", "v-src/b.py", '{"facts": "src/b.py"}'),
        ]
