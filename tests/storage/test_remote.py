"""Remote baselines on a real S3-compatible server (moto) and on the file system."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

from difftest.errors import BaselineCorruptError, BaselineVersionError, RemoteError, StorageError
from difftest.storage.baseline import Baseline
from difftest.storage.remote import (
    CURRENT,
    DOWNLOADED,
    MISSING,
    FileRemote,
    S3Remote,
    open_remote,
)


def leftovers(directory: Path) -> list[str]:
    """Temporary files a download or upload left behind."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.fixture
def local(tmp_path: Path, baselines) -> Path:
    """A baseline with two tests and a stat cache, as a test run leaves it."""
    path = baselines.make(
        tmp_path / "work" / "baseline.db",
        [
            baselines.record("tests/test_a.py::test_one", ("src/app.py", "add")),
            baselines.record("tests/test_a.py::test_two", ("src/app.py", "sub"), outcome="failed"),
        ],
        recorded_at=1000.0,
        edges=[("src/app.py", "data/table.csv", "data")],
    )
    with Baseline.open_existing(path) as baseline:
        baseline.update_stat_cache({"src/app.py": (123, 45, 67, 89, "hash")})
    return path


# --------------------------------------------------------------------------- S3
@pytest.mark.s3
def test_a_baseline_uploaded_to_s3_downloads_with_the_same_records(
    s3, local: Path, tmp_path: Path, baselines
) -> None:
    bucket = s3.bucket()
    remote = open_remote(f"s3://{bucket}/main/baseline.db")
    remote.upload(local)
    assert s3.keys(bucket) == ["main/baseline.db"]

    dest = tmp_path / "dev" / ".difftest" / "baseline.db"
    assert remote.download(dest) is True
    assert baselines.content(dest) == baselines.content(local)
    with Baseline.open_existing(dest) as copy:
        assert copy.stat_cache() == {}  # machine-local mtimes are not shared
    assert leftovers(dest.parent) == []


@pytest.mark.s3
def test_a_local_copy_replaced_by_another_baseline_is_downloaded_again(
    s3, local: Path, tmp_path: Path, baselines
) -> None:
    url = f"s3://{s3.bucket()}/baseline.db"
    open_remote(url).upload(local)
    dest = tmp_path / "dev" / "baseline.db"
    assert open_remote(url).fetch(dest) == DOWNLOADED
    other = baselines.make(tmp_path / "other.db", [baselines.record("tests/test_o.py::test_o")])
    with Baseline.open(other) as foreign:
        foreign.write([], meta={"created_at": "2020-01-01T00:00:00Z"})
    shutil.copyfile(other, dest)  # the sidecar stays, naming the object it came from
    assert open_remote(url).fetch(dest) == DOWNLOADED
    assert "tests/test_o.py::test_o" not in baselines.content(dest)["records"]


def test_an_unchanged_object_is_not_downloaded_again(
    s3, local: Path, tmp_path: Path, baselines
) -> None:
    bucket = s3.bucket()
    url = f"s3://{bucket}/baseline.db"
    remote = open_remote(url)
    remote.upload(local)
    dest = tmp_path / "dev" / "baseline.db"
    assert remote.fetch(dest) == DOWNLOADED
    sidecar = dest.with_name("baseline.db.etag")
    etag = s3.client.head_object(Bucket=bucket, Key="baseline.db")["ETag"]
    with Baseline.open_existing(dest) as copy:
        created = copy.meta()["created_at"]
    assert json.loads(sidecar.read_text()) == {"url": url, "etag": etag, "created_at": created}

    # Work on the local copy: if the second fetch downloaded, this record would be gone.
    with Baseline.open_existing(dest) as copy:
        copy.write([baselines.record("tests/test_local.py::test_only_here")])
    assert open_remote(url).fetch(dest) == CURRENT
    assert "tests/test_local.py::test_only_here" in baselines.content(dest)["records"]

    # A new object (new ETag) is downloaded and replaces the local copy.
    baselines.make(local, [baselines.record("tests/test_b.py::test_new")])
    remote.upload(local)
    assert open_remote(url).fetch(dest) == DOWNLOADED
    records = baselines.content(dest)["records"]
    assert "tests/test_local.py::test_only_here" not in records
    assert "tests/test_b.py::test_new" in records
    new_etag = s3.client.head_object(Bucket=bucket, Key="baseline.db")["ETag"]
    assert new_etag != etag
    assert json.loads(sidecar.read_text())["etag"] == new_etag


@pytest.mark.s3
def test_a_cached_etag_of_another_url_or_of_a_broken_copy_is_not_trusted(
    s3, local: Path, tmp_path: Path
) -> None:
    bucket = s3.bucket()
    open_remote(f"s3://{bucket}/one.db").upload(local)
    open_remote(f"s3://{bucket}/two.db").upload(local)  # same bytes, same ETag
    dest = tmp_path / "baseline.db"
    assert open_remote(f"s3://{bucket}/one.db").fetch(dest) == DOWNLOADED
    assert open_remote(f"s3://{bucket}/two.db").fetch(dest) == DOWNLOADED
    dest.write_bytes(b"scribbled over")
    assert open_remote(f"s3://{bucket}/two.db").fetch(dest) == DOWNLOADED
    Baseline.open_existing(dest).close()


@pytest.mark.s3
def test_a_missing_object_downloads_nothing_and_keeps_the_local_copy(s3, local: Path) -> None:
    bucket = s3.bucket()
    before = local.read_bytes()
    remote = open_remote(f"s3://{bucket}/never-uploaded.db")
    assert remote.download(local) is False
    assert remote.fetch(local.with_name("fresh.db")) == MISSING
    assert local.read_bytes() == before
    assert not local.with_name("fresh.db").exists()
    assert leftovers(local.parent) == []


@pytest.mark.s3
def test_a_missing_bucket_is_an_error_naming_the_bucket_and_the_endpoint(s3, local: Path) -> None:
    before = local.read_bytes()
    remote = open_remote("s3://no-such-bucket/baseline.db")
    with pytest.raises(RemoteError) as info:
        remote.download(local)
    message = str(info.value)
    assert "the bucket 'no-such-bucket' does not exist" in message
    assert s3.endpoint in message
    assert "AWS_ENDPOINT_URL_S3" in message
    assert local.read_bytes() == before
    assert leftovers(local.parent) == []
    with pytest.raises(RemoteError, match="does not exist"):
        remote.upload(local)
    with pytest.raises(RemoteError, match="does not exist"):
        open_remote("s3://no-such-bucket/run/").list()


@pytest.mark.s3
def test_a_refused_connection_fails_within_seconds_and_says_what_to_check(
    refused_endpoint: str, local: Path
) -> None:
    before = local.read_bytes()
    started = time.monotonic()
    with pytest.raises(RemoteError) as info:
        open_remote("s3://difftest-ci/baseline.db").download(local)
    assert time.monotonic() - started < 15
    message = str(info.value)
    assert "cannot download s3://difftest-ci/baseline.db: no connection to" in message
    assert refused_endpoint in message
    assert "AWS_ENDPOINT_URL" in message
    assert local.read_bytes() == before
    assert leftovers(local.parent) == []
    with pytest.raises(RemoteError, match=r"cannot upload to .*no connection"):
        open_remote("s3://difftest-ci/baseline.db").upload(local)


@pytest.mark.s3
def test_missing_credentials_are_an_error_saying_how_to_provide_them(
    s3, local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3.bucket()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(RemoteError, match="no usable AWS credentials") as info:
        open_remote(f"s3://{bucket}/baseline.db").upload(local)
    assert "AWS_ACCESS_KEY_ID" in str(info.value)
    assert s3.keys(bucket) == []


@pytest.mark.s3
def test_a_corrupt_object_is_refused_and_the_local_copy_kept(s3, local: Path) -> None:
    bucket = s3.bucket()
    s3.client.put_object(Bucket=bucket, Key="baseline.db", Body=b"<html>proxy error</html>")
    before = local.read_bytes()
    with pytest.raises(BaselineCorruptError) as info:
        open_remote(f"s3://{bucket}/baseline.db").download(local)
    message = str(info.value)
    assert f"s3://{bucket}/baseline.db is not a difftest baseline" in message
    assert f"The local copy {local} was left as it was" in message
    assert local.read_bytes() == before
    assert leftovers(local.parent) == []


@pytest.mark.s3
def test_an_object_damaged_past_its_header_is_refused(s3, tmp_path: Path, baselines) -> None:
    bucket = s3.bucket()
    source = baselines.make(
        tmp_path / "big.db",
        [
            baselines.record(f"t.py::test_{i}", *((f"m{j}.py", f"f{i}") for j in range(20)))
            for i in range(300)
        ],
    )
    data = bytearray(source.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 2000] = b"\xff" * 2000
    s3.client.put_object(Bucket=bucket, Key="damaged.db", Body=bytes(data))
    dest = tmp_path / "dest" / "baseline.db"
    with pytest.raises(BaselineCorruptError, match=f"s3://{bucket}/damaged.db is corrupt"):
        open_remote(f"s3://{bucket}/damaged.db").download(dest)
    assert not dest.exists()
    assert leftovers(dest.parent) == []


@pytest.mark.s3
def test_an_object_of_another_format_version_is_refused_naming_the_url(
    s3, local: Path, tmp_path: Path, baselines
) -> None:
    bucket = s3.bucket()
    future = tmp_path / "future.db"
    future.write_bytes(local.read_bytes())
    baselines.set_format_version(future, "9")
    s3.client.put_object(Bucket=bucket, Key="baseline.db", Body=future.read_bytes())
    with pytest.raises(BaselineVersionError) as info:
        open_remote(f"s3://{bucket}/baseline.db").download(tmp_path / "dest.db")
    assert f"s3://{bucket}/baseline.db has baseline format version 9" in str(info.value)
    assert not (tmp_path / "dest.db").exists()


@pytest.mark.s3
def test_uploading_a_file_that_is_not_a_baseline_sends_nothing(s3, tmp_path: Path) -> None:
    bucket = s3.bucket()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all")
    with pytest.raises(BaselineCorruptError, match="not a difftest baseline"):
        open_remote(f"s3://{bucket}/baseline.db").upload(junk)
    with pytest.raises(StorageError, match="no baseline at"):
        open_remote(f"s3://{bucket}/baseline.db").upload(tmp_path / "absent.db")
    assert s3.keys(bucket) == []


@pytest.mark.s3
def test_listing_a_prefix_gives_the_baselines_directly_inside_it(s3, local: Path) -> None:
    bucket = s3.bucket()
    for key in ("run-1/unit.db", "run-1/integration.db", "run-1/notes.txt", "run-1/old/x.db"):
        s3.client.put_object(Bucket=bucket, Key=key, Body=local.read_bytes())
    s3.client.put_object(Bucket=bucket, Key="run-10/other.db", Body=b"x")
    expected = [f"s3://{bucket}/run-1/integration.db", f"s3://{bucket}/run-1/unit.db"]
    assert open_remote(f"s3://{bucket}/run-1/").list() == expected
    assert open_remote(f"s3://{bucket}/run-1").list() == expected
    assert open_remote(f"s3://{bucket}/run-2/").list() == []


@pytest.mark.s3
def test_an_s3_prefix_is_neither_downloaded_nor_uploaded_to(s3, local: Path) -> None:
    bucket = s3.bucket()
    with pytest.raises(RemoteError, match="names a directory or prefix"):
        open_remote(f"s3://{bucket}/run-1/").download(local)
    with pytest.raises(RemoteError, match="names a directory or prefix"):
        open_remote(f"s3://{bucket}").upload(local)
    assert s3.keys(bucket) == []


def test_an_s3_url_without_a_valid_bucket_name_is_refused() -> None:
    with pytest.raises(RemoteError, match="bucket names have 3 to 63 characters"):
        open_remote("s3://ab/baseline.db")


def test_without_boto3_an_s3_remote_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, local: Path
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(RemoteError, match=r"pip install 'difftest\[s3\]'"):
        open_remote("s3://difftest-ci/baseline.db").download(local)


def test_the_s3_endpoint_comes_from_the_s3_specific_variable_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2")
    assert S3Remote.endpoint() == "http://127.0.0.1:2"
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    assert S3Remote.endpoint() == "http://127.0.0.1:1"


# --------------------------------------------------------------------------- file://
@pytest.mark.parametrize("style", ["file URL", "plain path"])
def test_a_baseline_round_trips_through_a_shared_directory(
    local: Path, tmp_path: Path, baselines, style: str
) -> None:
    shared = tmp_path / "shared" / "ci" / "baseline.db"
    url = shared.as_uri() if style == "file URL" else str(shared)
    remote = open_remote(url)
    assert isinstance(remote, FileRemote)
    remote.upload(local)
    assert leftovers(shared.parent) == []
    dest = tmp_path / "dev" / "baseline.db"
    assert remote.fetch(dest) == DOWNLOADED
    assert baselines.content(dest) == baselines.content(local)
    assert leftovers(dest.parent) == []


def test_a_baseline_fetched_from_another_checkouts_file_leaves_its_stat_cache_behind(
    local: Path, tmp_path: Path
) -> None:
    # `local` is a checkout's own baseline, stat cache included: its stats are of its files.
    dest = tmp_path / "other-checkout" / "baseline.db"
    assert open_remote(local.as_uri()).fetch(dest) == DOWNLOADED
    with Baseline.open_existing(dest) as copy:
        assert copy.stat_cache() == {}
        assert len(list(copy.records())) == 2


def test_a_missing_shared_file_downloads_nothing(local: Path, tmp_path: Path) -> None:
    before = local.read_bytes()
    assert open_remote((tmp_path / "nothing.db").as_uri()).download(local) is False
    assert local.read_bytes() == before


def test_a_corrupt_shared_file_is_refused_and_the_local_copy_kept(
    local: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared.db"
    shared.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    before = local.read_bytes()
    with pytest.raises(BaselineCorruptError, match="corrupt or truncated"):
        open_remote(shared.as_uri()).download(local)
    assert local.read_bytes() == before
    assert leftovers(local.parent) == []


def test_a_failed_upload_leaves_the_shared_file_as_it_was(
    local: Path, tmp_path: Path, baselines
) -> None:
    shared = tmp_path / "shared" / "baseline.db"
    open_remote(str(shared)).upload(local)
    before = shared.read_bytes()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"junk" * 100)
    with pytest.raises(BaselineCorruptError):
        open_remote(str(shared)).upload(junk)
    assert shared.read_bytes() == before
    assert leftovers(shared.parent) == []


def test_listing_a_directory_gives_its_db_files(local: Path, tmp_path: Path) -> None:
    shared = tmp_path / "results"
    shared.mkdir()
    for name in ("b.db", "a.db", "readme.txt"):
        (shared / name).write_bytes(local.read_bytes())
    (shared / "nested").mkdir()
    (shared / "nested" / "c.db").write_bytes(local.read_bytes())
    assert open_remote(str(shared)).list() == [str(shared / "a.db"), str(shared / "b.db")]
    assert open_remote(shared.as_uri() + "/").list() == [
        (shared / "a.db").as_uri(),
        (shared / "b.db").as_uri(),
    ]


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("file://relative/baseline.db", "must hold an absolute path"),
        ("ftp://example.org/baseline.db", "unsupported remote"),
        ("gs://bucket/baseline.db", "not gs://"),
    ],
)
def test_unusable_urls_are_refused_with_the_accepted_forms(url: str, complaint: str) -> None:
    with pytest.raises(RemoteError, match=complaint) as info:
        open_remote(url)
    assert "file:///" in str(info.value)
