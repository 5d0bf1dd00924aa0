"""Remote baselines: share the artifact between CI jobs and developers.

Two kinds of location, chosen by :func:`open_remote` from the URL:

``file:///abs/path/baseline.db`` (or a plain path)
    A file on a local or network file system.
``s3://bucket/key.db``
    An object in Amazon S3 or an S3-compatible store (``AWS_ENDPOINT_URL_S3`` or
    ``AWS_ENDPOINT_URL`` point boto3 elsewhere). Needs the ``difftest[s3]`` extra.

A URL ending in ``/`` (or naming a directory) is a *prefix*: :meth:`Remote.list` gives the
``.db`` files directly inside it, for merging the baselines of parallel jobs.

Guarantees, for both kinds:

- a download lands in a temporary file next to the destination, is checked page by page as a
  baseline of this format version, and only then renamed over the destination: a failed,
  partial or corrupt download never touches the local copy;
- an upload sends a consistent snapshot (SQLite's backup API, machine-local stat cache dropped),
  as a single S3 PUT or a temporary file renamed into place: readers never see half an object;
- S3 downloads are cached by ETag: the ETag of the last download is kept beside the local copy
  (``<dest>.etag``, with the downloaded baseline's creation time) and sent as
  ``If-None-Match`` while the local copy is still that baseline, so an unchanged object is not
  fetched again;
- every failure raises :class:`~difftest.errors.RemoteError` (or a baseline error naming the
  URL), saying what failed, why, and what to check. There is no silent fallback to running
  without a baseline.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from difftest.errors import BaselineCorruptError, RemoteError, StorageError
from difftest.storage.baseline import Baseline

#: What :meth:`Remote.fetch` did: fetched a new copy, found the local copy current, found nothing.
DOWNLOADED = "downloaded"
CURRENT = "current"
MISSING = "missing"

#: Attempts per S3 request (the first try included), so a refused connection fails in seconds.
S3_MAX_ATTEMPTS = 3
S3_CONNECT_TIMEOUT = 5.0
S3_READ_TIMEOUT = 60.0
_S3_INSTALL_HINT = "s3:// remotes need boto3: pip install 'difftest[s3]'"
#: Environment variables that change which client boto3 makes (cache key of _S3_CLIENTS).
_S3_CLIENT_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
#: Clients made in this process (making one takes a few hundred milliseconds).
_S3_CLIENTS: dict[tuple[str | None, ...], Any] = {}


def open_remote(url: str) -> Remote:
    """The remote for ``url``: ``s3://bucket/key``, ``file:///abs/path``, or a plain path."""
    if url.startswith("s3://"):
        return S3Remote.from_url(url)
    if url.startswith("file:"):
        return FileRemote.from_url(url)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise RemoteError(
            f"unsupported remote {url!r}: difftest stores baselines at s3://bucket/key or "
            f"file:///absolute/path, not {scheme}://."
        )
    return FileRemote(Path(url), url)


def is_url(text: str) -> bool:
    """Whether ``text`` names a remote by URL (rather than a plain local path)."""
    return "://" in text or text.startswith("file:")


class Remote(ABC):
    """One remote location: a baseline file/object, or a prefix (directory) holding several."""

    url: str

    @property
    @abstractmethod
    def is_prefix(self) -> bool:
        """True when the URL names a directory or prefix rather than one baseline."""

    @abstractmethod
    def fetch(self, dest: Path) -> str:
        """Bring ``dest`` up to date: DOWNLOADED, CURRENT (nothing to fetch), or MISSING."""

    @abstractmethod
    def upload(self, src: Path) -> None:
        """Publish a consistent snapshot of the baseline at ``src``."""

    @abstractmethod
    def list(self) -> list[str]:
        """URLs of the ``.db`` baselines directly inside this prefix, sorted."""

    def entry(self, url: str) -> Remote:
        """The remote for ``url``, one of the URLs :meth:`list` gave (sharing any connection)."""
        return open_remote(url)

    def download(self, dest: Path) -> bool:
        """Make ``dest`` a copy of the remote baseline; False when there is nothing there."""
        return self.fetch(dest) != MISSING

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def _require_object(self, action: str) -> None:
        if self.is_prefix:
            raise RemoteError(
                f"cannot {action} {self.url}: it names a directory or prefix, not a baseline file. "
                "Name the file, e.g. s3://bucket/baselines/baseline.db."
            )


# --------------------------------------------------------------------------- helpers
def _temp_next_to(dest: Path, tag: str) -> Path:
    """A fresh empty file in ``dest``'s directory, so that renaming it over ``dest`` is atomic."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=f".{tag}")
    os.close(fd)
    return Path(name)


def _verified(tmp: Path, url: str, dest: Path) -> None:
    """Check that the downloaded ``tmp`` is a whole baseline of this format version.

    Errors keep their family (corrupt, foreign version) but name ``url`` instead of the
    temporary file, and say that the local copy was left alone.
    """
    # Only a copy that holds something is worth naming (a merge downloads into a new, empty one).
    had_copy = dest.is_file() and dest.stat().st_size > 0
    kept = f" The local copy {dest} was left as it was." if had_copy else ""
    if tmp.stat().st_size == 0:
        raise BaselineCorruptError(f"{url} is empty, not a difftest baseline.{kept}")
    try:
        with Baseline.open_existing(tmp) as baseline:
            baseline.check_integrity()
    except StorageError as exc:
        message = str(exc).replace(str(tmp), url)
        raise type(exc)(f"{message}{kept}") from exc


def _replace_verified(
    dest: Path, url: str, fill: Callable[[Path], None], etag: str | None = None
) -> None:
    """Fill a temporary file next to ``dest``, check it, and only then rename it over ``dest``.

    ``etag`` (S3) is remembered beside ``dest`` once it holds the new copy.
    """
    try:
        tmp = _temp_next_to(dest, "download")
    except OSError as exc:
        raise RemoteError(
            f"could not save {url} to {dest}: {exc}. Check that {dest.parent} can be created "
            "and written."
        ) from exc
    try:
        fill(tmp)
        _verified(tmp, url, dest)
        _forget_etag(dest)
        os.replace(tmp, dest)
        if etag is not None:
            _write_etag(dest, url, etag)
    except OSError as exc:
        raise RemoteError(
            f"could not save {url} to {dest}: {exc}. Check that {dest.parent} is writable and "
            "the disk is not full."
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _snapshot(src: Path, target: Path) -> None:
    """Write a consistent, portable copy of the baseline at ``src`` to ``target``.

    ``src`` must be a baseline (a corrupt or foreign file is refused before anything is sent);
    the machine-local stat cache is left out, its mtimes mean nothing elsewhere.
    """
    with Baseline.open_existing(src) as baseline:
        baseline.backup_to(target)
    with Baseline.open_existing(target) as snapshot:
        snapshot.clear_stat_cache()


def _usable(path: Path) -> bool:
    """Whether a local copy opens as a baseline (only then may a cached ETag vouch for it)."""
    if not path.is_file():
        return False
    try:
        Baseline.open_existing(path).close()
    except StorageError:
        return False
    return True


def _etag_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".etag")


def _lineage(path: Path) -> str:
    """What tells the baseline downloaded to ``path`` from another file put there later: when it
    was first created (kept by every copy, upload and download of it, and by the runs that add
    records to it)."""
    with Baseline.open_existing(path) as baseline:
        return baseline.meta().get("created_at", "")


def _read_etag(dest: Path, url: str) -> str | None:
    """The ETag of the object ``dest`` was downloaded from, if it came from ``url`` and ``dest``
    is still that baseline (with whatever runs added to it), not another one put in its place."""
    try:
        data = json.loads(_etag_path(dest).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("url") != url:
            return None
        etag, lineage = data.get("etag"), data.get("created_at")
        if isinstance(etag, str) and isinstance(lineage, str) and lineage == _lineage(dest):
            return etag
    except (OSError, ValueError, StorageError):
        pass
    return None


def _write_etag(dest: Path, url: str, etag: str) -> None:
    sidecar = _etag_path(dest)
    tmp = _temp_next_to(sidecar, "tmp")
    try:
        record = {"url": url, "etag": etag, "created_at": _lineage(dest)}
        tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
        os.replace(tmp, sidecar)
    finally:
        tmp.unlink(missing_ok=True)


def _forget_etag(dest: Path) -> None:
    _etag_path(dest).unlink(missing_ok=True)


# --------------------------------------------------------------------------- file://
class FileRemote(Remote):
    """A baseline file (or a directory of them) on a mounted file system."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url
        self._as_uri = url.startswith("file:")

    @classmethod
    def from_url(cls, url: str) -> FileRemote:
        parsed = urllib.parse.urlparse(url)
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            raise RemoteError(
                f"{url!r} is not a usable file URL: it must hold an absolute path, as in "
                "file:///home/me/baselines/baseline.db (three slashes), or pass a plain path."
            )
        from urllib.request import url2pathname  # slow to import: only for file: URLs

        return cls(Path(url2pathname(parsed.path)), url)

    @property
    def is_prefix(self) -> bool:
        return self.url.endswith("/") or self.path.is_dir()

    def fetch(self, dest: Path) -> str:
        self._require_object("download")
        if not self.path.exists():
            return MISSING
        try:
            # A copy without the source checkout's stat cache: its stats are of other files.
            _replace_verified(dest, self.url, lambda tmp: _snapshot(self.path, tmp))
        except OSError as exc:
            raise RemoteError(f"could not read {self.url}: {exc}. Check its permissions.") from exc
        return DOWNLOADED

    def upload(self, src: Path) -> None:
        self._require_object("upload to")
        try:
            tmp = _temp_next_to(self.path, "upload")
            try:
                _snapshot(src, tmp)
                os.replace(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise RemoteError(
                f"could not write {self.url}: {exc}. Check that the directory exists or can be "
                "created, is writable, and the disk is not full."
            ) from exc

    def list(self) -> list[str]:
        if not self.path.is_dir():
            raise RemoteError(
                f"{self.url} is not a directory: nothing to list. Pass a directory holding .db "
                "files, or the baseline file itself."
            )
        files = sorted(p for p in self.path.iterdir() if p.suffix == ".db" and p.is_file())
        return [p.resolve().as_uri() if self._as_uri else str(p) for p in files]


# --------------------------------------------------------------------------- s3://
class S3Remote(Remote):
    """An object (or a prefix of objects) in S3 or an S3-compatible store."""

    def __init__(self, bucket: str, key: str) -> None:
        self.bucket = bucket
        self.key = key
        self.url = f"s3://{bucket}/{key}"
        self._client: Any = None

    @classmethod
    def from_url(cls, url: str) -> S3Remote:
        parsed = urllib.parse.urlparse(url)
        bucket, key = parsed.netloc, parsed.path.lstrip("/")
        if not 3 <= len(bucket) <= 63:
            raise RemoteError(
                f"{url!r} does not name an S3 bucket (bucket names have 3 to 63 characters): "
                "use s3://bucket/path/baseline.db."
            )
        return cls(bucket, key)

    @property
    def is_prefix(self) -> bool:
        return self.key == "" or self.key.endswith("/")

    def entry(self, url: str) -> Remote:
        remote = S3Remote.from_url(url)
        remote._client = self._client
        return remote

    # ------------------------------------------------------------- the client
    @staticmethod
    def endpoint() -> str | None:
        """The endpoint from the environment (None: boto3's default, AWS itself)."""
        return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None

    def client(self) -> Any:
        if self._client is not None:
            return self._client
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise RemoteError(f"cannot use {self.url}: {_S3_INSTALL_HINT}") from exc
        key = tuple(os.environ.get(name) for name in _S3_CLIENT_ENV)
        client = _S3_CLIENTS.get(key)
        if client is None:
            config = Config(
                retries={"max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"},
                connect_timeout=S3_CONNECT_TIMEOUT,
                read_timeout=S3_READ_TIMEOUT,
            )
            try:
                client = boto3.session.Session().client(
                    "s3", endpoint_url=self.endpoint(), config=config
                )
            except Exception as exc:  # botocore raises ValueError and its own errors here
                raise RemoteError(
                    f"cannot set up an S3 client for {self.url}: {exc}. Check AWS_ENDPOINT_URL / "
                    "AWS_ENDPOINT_URL_S3 (a full URL such as http://127.0.0.1:9000) and "
                    "AWS_DEFAULT_REGION."
                ) from exc
            _S3_CLIENTS[key] = client
        self._client = client
        return client

    def _where(self) -> str:
        if self._client is not None:
            return str(self._client.meta.endpoint_url)
        return self.endpoint() or "the default AWS endpoint"

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn boto3's exceptions into a RemoteError that says what to check."""
        from botocore import exceptions as boto

        where = self._where()
        try:
            yield
        except boto.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "?"))
            text = str(error.get("Message") or exc)
            if code == "NoSuchBucket":
                raise RemoteError(
                    f"cannot {action} {self.url}: the bucket {self.bucket!r} does not exist at "
                    f"{where}. Create it, fix the bucket name, or point AWS_ENDPOINT_URL_S3 at "
                    "the server that has it."
                ) from exc
            if code in {
                "AccessDenied",
                "403",
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "ExpiredToken",
                "InvalidToken",
            }:
                raise RemoteError(
                    f"cannot {action} {self.url}: access denied by {where} ({code}: {text}). "
                    "Check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                    "AWS_PROFILE) and that they allow this on the bucket."
                ) from exc
            raise RemoteError(
                f"cannot {action} {self.url}: {where} answered {code}: {text}."
            ) from exc
        except (boto.NoCredentialsError, boto.PartialCredentialsError) as exc:
            raise RemoteError(
                f"cannot {action} {self.url}: no usable AWS credentials ({exc}). Set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where an "
                "instance role is available."
            ) from exc
        except boto.ConnectionError as exc:
            raise RemoteError(
                f"cannot {action} {self.url}: no connection to {where} ({exc}). Check the "
                "network, and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 if you use an "
                "S3-compatible server."
            ) from exc
        except boto.BotoCoreError as exc:
            raise RemoteError(f"cannot {action} {self.url} at {where}: {exc}.") from exc

    # ------------------------------------------------------------- operations
    def fetch(self, dest: Path) -> str:
        self._require_object("download")
        client = self.client()
        request = {"Bucket": self.bucket, "Key": self.key}
        etag = _read_etag(dest, self.url) if _usable(dest) else None
        if etag is not None:
            request["IfNoneMatch"] = etag
        from botocore.exceptions import ClientError

        with self._errors("download"):
            try:
                response = client.get_object(**request)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in ("304", "NotModified"):
                    return CURRENT
                if code in ("NoSuchKey", "404"):
                    return MISSING
                raise

        def receive(tmp: Path) -> None:
            with open(tmp, "wb") as fh, self._errors("download"):
                shutil.copyfileobj(response["Body"], fh, 1 << 20)

        new_etag = response.get("ETag")
        _replace_verified(dest, self.url, receive, new_etag if isinstance(new_etag, str) else None)
        return DOWNLOADED

    def upload(self, src: Path) -> None:
        self._require_object("upload to")
        client = self.client()
        with tempfile.TemporaryDirectory() as tmpdir:
            snapshot = Path(tmpdir) / "snapshot.db"
            _snapshot(src, snapshot)
            # One PUT: S3 makes the object visible whole or not at all.
            with open(snapshot, "rb") as body, self._errors("upload to"):
                client.put_object(Bucket=self.bucket, Key=self.key, Body=body)

    def list(self) -> list[str]:
        client = self.client()
        prefix = self.key if self.is_prefix else self.key + "/"
        keys: list[str] = []
        with self._errors("list"):
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            )
            for page in pages:
                keys.extend(
                    str(item["Key"])
                    for item in page.get("Contents", ())
                    if str(item["Key"]).endswith(".db")
                )
        return [f"s3://{self.bucket}/{key}" for key in sorted(keys)]
