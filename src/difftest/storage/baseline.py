"""The baseline artifact: a versioned SQLite file of what every test last ran against.

Why SQLite: a small change is answered with a few indexed queries, without loading the file
whole; writes are transactional (a crash mid-write rolls back, never leaves half an artifact);
it holds only data (no pickle), so a baseline from an untrusted remote is safe to open once
its schema has been checked; and one file is easy to upload, download and merge.

Schema, version 3 (``PRAGMA application_id`` = 0x44494654, "DIFT"):

``meta(key, value)``
    ``format_version``; ``tool`` ("difftest"); ``created_at``/``updated_at`` (ISO UTC);
    ``import_roots`` (JSON list of root-relative directories modules are imported from);
    ``commit`` (git HEAD when last written, if known).
``version(id, key, hash)``
    A file (root-relative POSIX path) or environment item (``<env>/...``) as some test saw it:
    ``hash`` is the content hash, or the environment value.
``depset(id, digest, base_id)``
    A distinct set of dependencies; tests that ran against the same things share one. A depset
    with a ``base_id`` holds its own ``dep`` rows and those of that base depset (one level: a
    base has none). The tests of one file share most of what they depend on (the import-time
    blocks of every module their file imports), so each batch stores that common part once per
    file, as a base, and each test's depset holds only the rest: on more-itertools, 2,000 rows
    instead of 79,000.
``dep(depset_id, version_id, name, fingerprint)``
    One member of a depset: block ``name`` of that version, with its checksum then.
``test(nodeid, file, depset_id, outcome, duration, recorded_at)``
    The last record of each test (and ``<file>::<collect>`` rows for test-file collection).
``stat_cache(path, mtime_ns, size, hash, ctime_ns, ino)``
    Local cache of content hashes, so unchanged files are not re-read. Not merged or uploaded.
    ``ctime_ns`` and ``ino`` came later, within version 3: they are nullable, and a file without
    them gains them when its stat cache is next written. That needs no new version: an older
    difftest reads such a file as before and names its columns when it writes, so its rows have
    them NULL; a row without them is never trusted, only hashed again.
``edge(src, dst, kind)``
    Import-graph edges seen at run time that static parsing cannot see (``kind`` "import" for a
    dynamic import, "data" for a file read while a module was being imported).
``names(key, hash, facts)``
    For each Python file version, the names its import-time statements bind and use and the
    names its functions mention (JSON, :mod:`difftest.changes.names`): what lets a change to a
    constant or a decorator select only the tests that can see it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from difftest.errors import BaselineCorruptError, BaselineVersionError, StorageError
from difftest.model import (
    COLLECT_SUFFIX,
    FACTS_TAIL,
    INCOMPLETE,
    UNSETTLED_OUTCOMES,
    Dependency,
    TestRecord,
    digest,
)

#: meta key: JSON object {test file: [nodeids marked diff_always]}, so they run even when the file
#: is not collected for any other reason.
ALWAYS_RUN_META = "always_run"
#: Meta key of the pytest configuration of the last recording run (the pytest plugin's): its
#: value and what each part of it was, so that a later run can say what changed.
PYTEST_CONFIG_META = "pytest_config"
#: Meta key of the git commit checked out when a recording run last wrote the baseline.
COMMIT_META = "commit"
#: Meta key: JSON object {test file: [what collecting it found]} for the test files whose
#: collection record is incomplete, so that a merge can tell whether its inputs saw them all.
INCOMPLETE_ITEMS_META = "incomplete_items"

SCHEMA_VERSION = 3


def incomplete_items(meta: Mapping[str, str]) -> dict[str, list[str]]:
    """:data:`INCOMPLETE_ITEMS_META` of a baseline's meta values: empty when it has none, or one
    no reader can trust (then no merge counts those files complete)."""
    try:
        found = json.loads(meta.get(INCOMPLETE_ITEMS_META) or "{}")
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {
        f: [str(n) for n in ids]
        for f, ids in found.items()
        if isinstance(f, str) and isinstance(ids, list)
    }


#: A LIKE pattern for name facts written by the current analysis.
_CURRENT = "%" + FACTS_TAIL
APPLICATION_ID = 0x44494654
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE version (id INTEGER PRIMARY KEY, key TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (key, hash));
CREATE TABLE depset (id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE, base_id INTEGER);
CREATE INDEX depset_by_base ON depset (base_id);
CREATE TABLE dep (
    depset_id INTEGER NOT NULL,
    version_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (depset_id, version_id, name)
) WITHOUT ROWID;
CREATE INDEX dep_by_version ON dep (version_id);
CREATE TABLE test (
    nodeid TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    depset_id INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    duration REAL NOT NULL,
    recorded_at REAL NOT NULL
);
CREATE INDEX test_by_depset ON test (depset_id);
CREATE INDEX test_by_file ON test (file);
CREATE TABLE stat_cache (path TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL, hash TEXT NOT NULL, ctime_ns INTEGER, ino INTEGER);
CREATE TABLE edge (src TEXT NOT NULL, dst TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (src, dst, kind)) WITHOUT ROWID;
CREATE TABLE names (key TEXT NOT NULL, hash TEXT NOT NULL, facts TEXT NOT NULL, PRIMARY KEY (key, hash)) WITHOUT ROWID;
"""
_EXPECTED_OBJECTS = {
    ("table", "meta"),
    ("table", "version"),
    ("table", "depset"),
    ("table", "dep"),
    ("table", "test"),
    ("table", "stat_cache"),
    ("table", "edge"),
    ("table", "names"),
    ("index", "dep_by_version"),
    ("index", "depset_by_base"),
    ("index", "test_by_depset"),
    ("index", "test_by_file"),
}

#: The stat_cache columns added within version 3 (see the module docstring), in their order.
_LATER_STAT_COLUMNS = ("ctime_ns", "ino")
#: A stat cache row: (mtime_ns, size, ctime_ns, inode, content hash).
StatRow = tuple[int, int, int, int, str]

_FIX = "Delete it (difftest rebuilds it on the next `pytest --diff-baseline`) or fetch a good copy."


def _write_fix(exc: sqlite3.DatabaseError) -> str:
    """What to do when a write failed: a file or directory that may not be written is the
    user's to open up; anything else is a damaged file."""
    if isinstance(exc, sqlite3.OperationalError) and any(
        words in str(exc) for words in ("readonly", "unable to open", "disk I/O", "full")
    ):
        return (
            "Check that the file and its directory are writable by this user and that the disk "
            "has room (or record elsewhere with --diff-db)."
        )
    return _FIX


_T = TypeVar("_T")


def _chunks(items: Sequence[_T], size: int = 500) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _depset_digest(deps: Iterable[Dependency], base: str = "") -> str:
    text = "\n".join(sorted(f"{d.key}\0{d.version}\0{d.name}\0{d.fingerprint}" for d in deps))
    # A layered depset's digest names its base, so it never equals a flat depset's.
    return digest(f"base {base}\n{text}".encode() if base else text.encode())


#: The fewest dependencies common to a file's tests that are stored once, as a base. Low, so
#: that nearly every baseline (and test) holds layered depsets: a base saves rows only from a
#: few dependencies up, but costs next to nothing below that.
_MIN_BASE = 2


def _layer(records: Sequence[TestRecord]) -> dict[int, frozenset[Dependency]]:
    """index in ``records`` -> the dependencies it shares with the other records of its test
    file in this batch (where there are enough to be worth a base depset)."""
    by_file: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        by_file.setdefault(rec.file, []).append(i)
    bases: dict[int, frozenset[Dependency]] = {}
    for members in by_file.values():
        if len(members) < 2:
            continue
        common = set(records[members[0]].deps)
        for i in members[1:]:
            common.intersection_update(records[i].deps)
            if len(common) < _MIN_BASE:
                break
        if len(common) >= _MIN_BASE:
            base = frozenset(common)
            for i in members:
                bases[i] = base
    return bases


class Baseline:
    """An open baseline file. Use :meth:`open` (existing or new) or :meth:`open_existing`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(cls, path: Path | str, *, create: bool = True) -> Baseline:
        """Open ``path``; create an empty baseline if it does not exist and ``create`` is set.

        Raises BaselineCorruptError for a file that is not a difftest baseline and
        BaselineVersionError for one written by an incompatible format version.
        """
        path = Path(path)
        if path.is_dir():
            raise StorageError(
                f"{path} is a directory, not a baseline file. Give the path of the baseline "
                "itself (by default .difftest/baseline.db under the project's root)."
            )
        exists = path.exists() and path.stat().st_size > 0
        if not exists and not create:
            raise StorageError(f"no baseline at {path}. Record one with `pytest --diff-baseline`.")
        if exists:
            with open(path, "rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
            if head != _SQLITE_MAGIC:
                raise BaselineCorruptError(
                    f"{path} is not a difftest baseline (not an SQLite file). {_FIX}"
                )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            conn.execute("PRAGMA trusted_schema = OFF")
            conn.execute("PRAGMA cell_size_check = ON")
            if not exists:
                cls._create(conn)
            baseline = cls(path, conn)
            baseline._check()
            return baseline
        except sqlite3.DatabaseError as exc:
            raise BaselineCorruptError(f"{path} is corrupt or truncated ({exc}). {_FIX}") from exc

    @classmethod
    def open_existing(cls, path: Path | str) -> Baseline:
        return cls.open(path, create=False)

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [
                ("format_version", str(SCHEMA_VERSION)),
                ("tool", "difftest"),
                ("created_at", now),
                ("updated_at", now),
            ],
        )
        conn.execute("COMMIT")

    def _check(self) -> None:
        (app_id,) = self._conn.execute("PRAGMA application_id").fetchone()
        objects = {
            (row[0], row[1])
            for row in self._conn.execute(
                "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            )
        }
        if app_id != APPLICATION_ID or ("table", "meta") not in objects:
            raise BaselineCorruptError(
                f"{self.path} is an SQLite file but not a difftest baseline. {_FIX}"
            )
        version = self.meta().get("format_version")
        if version != str(SCHEMA_VERSION):
            raise BaselineVersionError(
                f"{self.path} has baseline format version {version}; this difftest reads version "
                f"{SCHEMA_VERSION}. Rebuild it with `pytest --diff-baseline --diff-force`, or use "
                "the difftest release that wrote it."
            )
        if objects != _EXPECTED_OBJECTS:
            raise BaselineCorruptError(
                f"{self.path} does not have the tables of a version {SCHEMA_VERSION} baseline "
                f"(unexpected: {sorted(objects ^ _EXPECTED_OBJECTS)}). {_FIX}"
            )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Baseline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def check_integrity(self) -> None:
        """Read every page (``PRAGMA quick_check``): for files that came from elsewhere.

        Opening checks only the header and the schema; a file damaged further in (a bad upload,
        a bit flip) would otherwise fail later, half-way through a run.
        """
        try:
            problems = [
                str(row[0]) for row in self._conn.execute("PRAGMA quick_check") if row[0] != "ok"
            ]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems:
            first = problems[0].splitlines()
            detail = first[1] if len(first) > 1 and first[0].startswith("***") else first[0]
            raise BaselineCorruptError(f"{self.path} is corrupt ({detail}). {_FIX}")

    def backup_to(self, target: Path) -> None:
        """Write a consistent copy of this baseline to ``target`` (SQLite's backup API).

        The copy is taken inside a read transaction, so a concurrent writer never leaves it
        half-updated. ``target`` is overwritten in place: callers that need the replacement to
        be atomic write to a temporary file and rename it (see :func:`atomic_copy`).
        """
        try:
            dest = sqlite3.connect(str(target))
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"could not create {target} ({exc}): is it writable?") from exc
        try:
            self._conn.backup(dest)
        except sqlite3.DatabaseError as exc:
            raise BaselineCorruptError(f"{self.path} could not be copied ({exc}). {_FIX}") from exc
        finally:
            dest.close()

    @contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it or none of it. (The connection is in autocommit
        mode, so statements outside a transaction each commit, and sync, on their own.)

        Without ``durable`` the commit is not synced (a run's intermediate batches: syncing
        each was a third of what a baseline run spent storing). The rollback journal is still
        written first, so a crashed or killed process leaves the last committed state. An
        operating-system crash or power loss before the run's final, synced write can leave the
        file damaged, which reading it reports as corrupt (with how to rebuild it)."""
        conn = self._conn
        try:
            if not durable:
                conn.execute("PRAGMA synchronous = OFF")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                if not durable:
                    conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"could not write the baseline {self.path}: {exc}. {_write_fix(exc)}"
            ) from exc

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        try:
            return list(self._conn.execute(sql, params))
        except sqlite3.DatabaseError as exc:
            raise BaselineCorruptError(f"{self.path} could not be read ({exc}). {_FIX}") from exc

    # ----------------------------------------------------------------- reading
    def meta(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._conn.execute("SELECT key, value FROM meta")}

    def import_roots(self) -> list[str]:
        raw = self.meta().get("import_roots")
        return [str(r) for r in json.loads(raw)] if raw else []

    def is_empty(self) -> bool:
        return not self._query("SELECT 1 FROM test LIMIT 1")

    def test_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM test")[0][0])

    def versions(self) -> list[tuple[int, str, str]]:
        """Every (version id, key, hash) some recorded test ran against."""
        return [
            (int(i), str(k), str(h)) for i, k, h in self._query("SELECT id, key, hash FROM version")
        ]

    def names_of_versions(self, version_ids: Sequence[int]) -> dict[int, str]:
        """The stored name facts (:mod:`difftest.changes.names`, JSON) of these Python file
        versions; versions without facts are left out."""
        found: dict[int, str] = {}
        for chunk in _chunks(list(version_ids)):
            marks = ",".join("?" * len(chunk))
            for vid, facts in self._query(
                "SELECT v.id, n.facts FROM version v JOIN names n ON n.key = v.key AND n.hash = v.hash "
                f"WHERE v.id IN ({marks})",
                chunk,
            ):
                found[int(vid)] = str(facts)
        return found

    def names_keys(self) -> set[tuple[str, str]]:
        """The (key, hash) versions whose name facts are stored, by the current analysis."""
        return {
            (str(k), str(h))
            for k, h in self._query("SELECT key, hash FROM names WHERE facts LIKE ?", (_CURRENT,))
        }

    def names(self) -> list[tuple[str, str, str]]:
        """Every stored (key, hash, name facts) row."""
        return [
            (str(k), str(h), str(f))
            for k, h, f in self._query("SELECT key, hash, facts FROM names")
        ]

    def deps_of_versions(self, version_ids: Sequence[int]) -> list[tuple[int, int, str, str]]:
        """(depset id, version id, block name, fingerprint) rows for the given versions: a row
        of a base depset is given for each depset on it too."""
        rows: list[tuple[int, int, str, str]] = []
        for chunk in _chunks(list(version_ids)):
            marks = ",".join("?" * len(chunk))
            rows.extend(
                (int(d), int(v), str(n), str(f))
                for d, v, n, f in self._query(
                    f"SELECT depset_id, version_id, name, fingerprint FROM dep WHERE version_id IN ({marks})",
                    chunk,
                )
            )
        on: dict[int, list[int]] = {}
        for chunk in _chunks(sorted({row[0] for row in rows})):
            marks = ",".join("?" * len(chunk))
            for depset_id, base_id in self._query(
                f"SELECT id, base_id FROM depset WHERE base_id IN ({marks})", chunk
            ):
                on.setdefault(int(base_id), []).append(int(depset_id))
        if on:
            rows.extend((d, v, n, f) for base, v, n, f in rows if base in on for d in on[base])
        return rows

    def tests_of_depsets(self, depset_ids: Sequence[int]) -> list[tuple[str, str, int]]:
        """(nodeid, file, depset id) of the tests recorded with the given depsets."""
        rows: list[tuple[str, str, int]] = []
        for chunk in _chunks(list(depset_ids)):
            marks = ",".join("?" * len(chunk))
            rows.extend(
                (str(n), str(f), int(d))
                for n, f, d in self._query(
                    f"SELECT nodeid, file, depset_id FROM test WHERE depset_id IN ({marks})", chunk
                )
            )
        return rows

    def tests(self) -> list[tuple[str, str, str, float]]:
        """(nodeid, file, outcome, duration) of every recorded test."""
        return [
            (str(n), str(f), str(o), float(d))
            for n, f, o, d in self._query("SELECT nodeid, file, outcome, duration FROM test")
        ]

    def unsettled_tests(self) -> list[tuple[str, str, str]]:
        """(nodeid, file, outcome) of tests whose last outcome was a failure or an error, and of
        test files' collection records that are :data:`INCOMPLETE`; a test file recorded without
        a collection record (a run stopped before writing it) counts as incomplete too."""
        marks = ", ".join("?" * len(UNSETTLED_OUTCOMES))
        return [
            (str(n), str(f), str(o))
            for n, f, o in self._query(
                f"SELECT nodeid, file, outcome FROM test WHERE outcome IN ({marks}) "
                "UNION ALL SELECT f.file || ?, f.file, ? FROM (SELECT DISTINCT file FROM test) f "
                "WHERE NOT EXISTS (SELECT 1 FROM test c WHERE c.nodeid = f.file || ?)",
                (*UNSETTLED_OUTCOMES, COLLECT_SUFFIX, INCOMPLETE, COLLECT_SUFFIX),
            )
        ]

    def test_files(self) -> dict[str, int]:
        """Recorded test files with their number of records."""
        return {
            str(f): int(c) for f, c in self._query("SELECT file, COUNT(*) FROM test GROUP BY file")
        }

    def record(self, nodeid: str) -> TestRecord | None:
        rows = self._query(
            "SELECT file, outcome, duration, depset_id FROM test WHERE nodeid = ?", (nodeid,)
        )
        if not rows:
            return None
        file, outcome, duration, depset_id = rows[0]
        deps = tuple(
            Dependency(str(k), str(h), str(n), str(f))
            for k, h, n, f in self._query(
                "SELECT DISTINCT v.key, v.hash, d.name, d.fingerprint FROM dep d "
                "JOIN version v ON v.id = d.version_id WHERE d.depset_id = ? "
                "OR d.depset_id = (SELECT base_id FROM depset WHERE id = ?) ORDER BY v.key, d.name",
                (depset_id, depset_id),
            )
        )
        return TestRecord(str(nodeid), str(file), str(outcome), float(duration), deps)

    def records(self) -> Iterator[TestRecord]:
        """Every record, depsets shared; for merge and export (loads the file whole)."""
        own: dict[int, list[Dependency]] = {}
        for depset_id, key, hash_, name, fp in self._query(
            "SELECT d.depset_id, v.key, v.hash, d.name, d.fingerprint FROM dep d JOIN version v ON v.id = d.version_id"
        ):
            own.setdefault(int(depset_id), []).append(
                Dependency(str(key), str(hash_), str(name), str(fp))
            )
        by_depset = dict(own)
        for depset_id, base_id in self._query(
            "SELECT id, base_id FROM depset WHERE base_id IS NOT NULL"
        ):
            by_depset[int(depset_id)] = own.get(int(depset_id), []) + own.get(int(base_id), [])
        for nodeid, file, outcome, duration, depset_id, _ in self._query(
            "SELECT nodeid, file, outcome, duration, depset_id, recorded_at FROM test ORDER BY nodeid"
        ):
            deps = tuple(
                sorted(set(by_depset.get(int(depset_id), ())), key=lambda d: (d.key, d.name, d))
            )
            yield TestRecord(str(nodeid), str(file), str(outcome), float(duration), deps)

    def recorded_at(self) -> dict[str, float]:
        return {str(n): float(t) for n, t in self._query("SELECT nodeid, recorded_at FROM test")}

    def dependents_of_key(self, key: str) -> list[tuple[str, str, str]]:
        """(nodeid, block name, fingerprint) of tests depending on ``key`` (a file or env key)."""
        return [
            (str(n), str(b), str(f))
            for n, b, f in self._query(
                "SELECT DISTINCT t.nodeid, d.name, d.fingerprint FROM version v JOIN dep d ON d.version_id = v.id "
                "JOIN depset s ON s.id = d.depset_id OR s.base_id = d.depset_id "
                "JOIN test t ON t.depset_id = s.id WHERE v.key = ? ORDER BY t.nodeid, d.name",
                (key,),
            )
        ]

    def stat_cache(self) -> dict[str, StatRow]:
        """The cached stat and hash of each file. Rows an older difftest wrote lack the ctime and
        inode (the whole table does in a file it created): they are left out, so those files
        are hashed again, as a same-size rewrite with its mtime put back would go unseen."""
        if not self._has_later_stat_columns(self._conn):
            return {}
        return {
            str(p): (int(m), int(s), int(c), int(i), str(h))
            for p, m, s, c, i, h in self._query(
                "SELECT path, mtime_ns, size, ctime_ns, ino, hash FROM stat_cache "
                "WHERE ctime_ns IS NOT NULL AND ino IS NOT NULL"
            )
        }

    def _has_later_stat_columns(self, conn: sqlite3.Connection) -> bool:
        try:
            columns = {str(row[1]) for row in conn.execute("PRAGMA table_info(stat_cache)")}
        except sqlite3.DatabaseError as exc:
            raise BaselineCorruptError(f"{self.path} could not be read ({exc}). {_FIX}") from exc
        return all(c in columns for c in _LATER_STAT_COLUMNS)

    def _store_stat_cache(
        self, conn: sqlite3.Connection, stat_cache: Mapping[str, StatRow]
    ) -> None:
        """Within a write transaction (so two writers never both add the columns)."""
        if not stat_cache:
            return
        if not self._has_later_stat_columns(conn):
            for column in _LATER_STAT_COLUMNS:
                conn.execute(f"ALTER TABLE stat_cache ADD COLUMN {column} INTEGER")
        conn.executemany(
            "INSERT OR REPLACE INTO stat_cache (path, mtime_ns, size, ctime_ns, ino, hash) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ((p, m, s, c, i, h) for p, (m, s, c, i, h) in stat_cache.items()),
        )

    def edges(self) -> list[tuple[str, str, str]]:
        return [
            (str(s), str(d), str(k)) for s, d, k in self._query("SELECT src, dst, kind FROM edge")
        ]

    # ----------------------------------------------------------------- writing
    def write(
        self,
        records: Iterable[TestRecord],
        *,
        remove: Iterable[str] = (),
        stat_cache: Mapping[str, StatRow] | None = None,
        edges: Iterable[tuple[str, str, str]] = (),
        meta: Mapping[str, str] | None = None,
        replace_all: bool = False,
        recorded_at: float | None = None,
        collect: bool = True,
        names_of: Callable[[str, str], str | None] | None = None,
        names: Iterable[tuple[str, str, str]] = (),
        durable: bool = True,
    ) -> None:
        """Store ``records`` (replacing earlier records of the same tests) in one transaction.

        ``remove`` drops tests that no longer exist; ``replace_all`` drops every earlier record
        first (a forced full rebuild). With ``collect``, unreferenced versions and depsets are
        deleted; a run writing many batches collects once, in its last write (until then the
        leftovers are unreachable from any test, so no query sees them). ``names_of(key, hash)``
        gives the name facts of a Python file version first stored here (None: not known);
        ``names`` are (key, hash, facts) rows to keep as they are (a merge). Without
        ``durable`` the commit is not synced to disk (see :meth:`_transaction`).
        """
        now = time.time() if recorded_at is None else recorded_at
        with self._transaction(durable=durable) as conn:
            if replace_all:
                for table in ("test", "dep", "depset", "version", "edge", "names"):
                    conn.execute(f"DELETE FROM {table}")
            conn.executemany("DELETE FROM test WHERE nodeid = ?", ((n,) for n in remove))
            # Given facts go in first, so that ``names_of`` is not asked for them again.
            conn.executemany(
                "INSERT OR IGNORE INTO names (key, hash, facts) VALUES (?, ?, ?)", names
            )
            batch = list(records)
            bases = _layer(batch)
            base_digests: dict[int, str] = {}
            rows = []
            depset_ids: dict[str, int] = {}
            #: digest -> (its own dependencies, its base's digest or "")
            new: dict[str, tuple[Sequence[Dependency], str]] = {}

            def stored(digest_: str) -> bool:
                if digest_ in depset_ids or digest_ in new:
                    return True
                row = conn.execute("SELECT id FROM depset WHERE digest = ?", (digest_,)).fetchone()
                if row is not None:
                    depset_ids[digest_] = int(row[0])
                return row is not None

            for i, rec in enumerate(batch):
                base = bases.get(i)
                if base is None:
                    own: Sequence[Dependency] = rec.deps
                    base_digest = ""
                else:
                    own = [d for d in rec.deps if d not in base]
                    base_digest = base_digests.get(id(base), "")
                    if not base_digest:
                        base_digest = base_digests[id(base)] = _depset_digest(base)
                        if not stored(base_digest):
                            new[base_digest] = (tuple(base), "")
                digest_ = _depset_digest(own, base_digest)
                rows.append((rec, digest_))
                if not stored(digest_):
                    new[digest_] = (own, base_digest)
            if new:
                wanted = {(d.key, d.version) for deps, _ in new.values() for d in deps}
                version_ids = self._intern_versions(wanted)
                if names_of is not None:
                    self._store_names(wanted, names_of)
                # A base comes before the depsets on it (``new`` keeps insertion order).
                for digest_, (deps, base_digest) in new.items():
                    cursor = conn.execute(
                        "INSERT INTO depset (digest, base_id) VALUES (?, ?)",
                        (digest_, depset_ids[base_digest] if base_digest else None),
                    )
                    depset_id = depset_ids[digest_] = int(cursor.lastrowid or 0)
                    conn.executemany(
                        "INSERT OR IGNORE INTO dep (depset_id, version_id, name, fingerprint) "
                        "VALUES (?, ?, ?, ?)",
                        (
                            (depset_id, version_ids[(d.key, d.version)], d.name, d.fingerprint)
                            for d in deps
                        ),
                    )
            conn.executemany(
                "INSERT OR REPLACE INTO test (nodeid, file, depset_id, outcome, duration, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (rec.nodeid, rec.file, depset_ids[digest_], rec.outcome, rec.duration, now)
                    for rec, digest_ in rows
                ),
            )
            conn.executemany("INSERT OR IGNORE INTO edge (src, dst, kind) VALUES (?, ?, ?)", edges)
            if stat_cache is not None:
                self._store_stat_cache(conn, stat_cache)
            if collect:
                conn.execute(
                    "DELETE FROM depset WHERE id NOT IN (SELECT depset_id FROM test) AND id NOT IN "
                    "(SELECT s.base_id FROM depset s JOIN test t ON t.depset_id = s.id "
                    "WHERE s.base_id IS NOT NULL)"
                )
                conn.execute("DELETE FROM dep WHERE depset_id NOT IN (SELECT id FROM depset)")
                conn.execute("DELETE FROM version WHERE id NOT IN (SELECT version_id FROM dep)")
                conn.execute(
                    "DELETE FROM names WHERE NOT EXISTS "
                    "(SELECT 1 FROM version v WHERE v.key = names.key AND v.hash = names.hash)"
                )
                if names_of is not None:
                    self._refresh_names(names_of)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("updated_at", stamp), *((meta or {}).items())],
            )

    def update_stat_cache(self, stat_cache: Mapping[str, StatRow]) -> None:
        """Refresh the local hash cache alone (read-only selection runs do this)."""
        with self._transaction() as conn:
            self._store_stat_cache(conn, stat_cache)

    def set_recorded_at(self, stamps: Mapping[str, float]) -> None:
        """Set when each of these tests was recorded (merge keeps every input's times)."""
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE test SET recorded_at = ? WHERE nodeid = ?",
                ((when, nodeid) for nodeid, when in stamps.items()),
            )

    def clear_stat_cache(self) -> None:
        """Drop the local hash cache: its mtimes mean nothing on another machine (uploads)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM stat_cache")

    def _store_names(
        self, versions: set[tuple[str, str]], names_of: Callable[[str, str], str | None]
    ) -> None:
        """Name facts for the Python file versions that have none yet (each is computed once)."""
        conn = self._conn
        python = sorted(v for v in versions if v[0].endswith(".py"))
        have: set[tuple[str, str]] = set()
        for chunk in _chunks([k for k, _ in python]):
            marks = ",".join("?" * len(chunk))
            have.update(
                (str(k), str(h))
                for k, h in conn.execute(
                    f"SELECT key, hash FROM names WHERE key IN ({marks}) AND facts LIKE ?",
                    [*chunk, _CURRENT],
                )
            )
        rows = []
        for key, hash_ in python:
            if (key, hash_) not in have:
                facts = names_of(key, hash_)
                if facts is not None:
                    rows.append((key, hash_, facts))
        conn.executemany("INSERT OR REPLACE INTO names (key, hash, facts) VALUES (?, ?, ?)", rows)

    def _refresh_names(self, names_of: Callable[[str, str], str | None]) -> None:
        """Facts written by an earlier analysis: computed again where the file is still that
        version, else dropped (either way, never trusted: see ``FACTS_VERSION``)."""
        conn = self._conn
        stale = conn.execute(
            "SELECT key, hash FROM names WHERE facts NOT LIKE ?", (_CURRENT,)
        ).fetchall()
        for key, hash_ in stale:
            facts = names_of(str(key), str(hash_))
            if facts is None:
                conn.execute("DELETE FROM names WHERE key = ? AND hash = ?", (key, hash_))
            else:
                conn.execute(
                    "UPDATE names SET facts = ? WHERE key = ? AND hash = ?", (facts, key, hash_)
                )

    def _intern_versions(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Ids of these (key, hash) versions, inserting the missing ones: a few statements per
        batch rather than two per version."""
        conn = self._conn
        conn.executemany("INSERT OR IGNORE INTO version (key, hash) VALUES (?, ?)", sorted(keys))
        names = sorted({k for k, _ in keys})
        found: dict[tuple[str, str], int] = {}
        for chunk in _chunks(names):
            marks = ", ".join("?" * len(chunk))
            for vid, key, hash_ in conn.execute(
                f"SELECT id, key, hash FROM version WHERE key IN ({marks})", chunk
            ):
                if (key, hash_) in keys:
                    found[(str(key), str(hash_))] = int(vid)
        return found


def atomic_copy(src: Path, dst: Path) -> None:
    """Copy a baseline so that ``dst`` is either the old file or the complete new one."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        source = sqlite3.connect(str(src))
        target = sqlite3.connect(str(tmp))
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
