"""End-of-run bookkeeping shared by the serial run and the xdist controller: which records to
drop, the baseline's meta values, the upload, and reporting a failure without a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Callable

import pytest

from difftest.changes.repository import head_commit
from difftest.changes.scan import FileHasher
from difftest.errors import DifftestError, StorageError
from difftest.model import COLLECT_SUFFIX
from difftest.runners.pytest.options import Settings
from difftest.runners.pytest.plan import ALWAYS_META, PYTEST_CONFIG_KEY, RunPlan
from difftest.runners.pytest.store import upload
from difftest.storage.baseline import (
    COMMIT_META,
    INCOMPLETE_ITEMS_META,
    PYTEST_CONFIG_META,
    Baseline,
    incomplete_items,
)


def deleted_file_records(plan: RunPlan) -> list[str]:
    """Records of test files that no longer exist: nothing can run them again."""
    root = Path(plan.root)
    gone = {f for f in plan.selection.recorded_files if not (root / f).exists()}
    nodeids = [n for n, f in plan.recorded.items() if f in gone]
    return sorted([*nodeids, *(f + COLLECT_SUFFIX for f in gone)])


def merged_meta(
    plan: RunPlan,
    always: Mapping[str, Iterable[str]],
    import_roots: Iterable[str],
    baseline: Baseline,
    items: Mapping[str, Iterable[str]],
    incomplete: Iterable[str],
) -> dict[str, str]:
    """Meta values after this run: always-run marks replaced for the files collected now, what
    collecting each test file left incomplete found (``items`` of the files collected now), and
    the commit checked out ("" when there is none to tell: no stale one is left behind)."""
    merged = {f: list(ids) for f, ids in plan.always.items()}
    for file, ids in always.items():
        if ids:
            merged[file] = sorted(ids)
        else:
            merged.pop(file, None)
    roots = sorted({*plan.import_roots, *import_roots})
    meta = baseline.meta()
    config = {
        "value": plan.env.get(PYTEST_CONFIG_KEY),
        "parts": plan.config_parts,
        "earlier": _earlier_configs(meta.get(PYTEST_CONFIG_META), plan.env.get(PYTEST_CONFIG_KEY)),
    }
    found = incomplete_items(meta)
    left_out = set(incomplete)
    for file, ids in items.items():
        if file in left_out:
            found[file] = sorted(ids)
        else:
            found.pop(file, None)
    return {
        INCOMPLETE_ITEMS_META: json.dumps(found, sort_keys=True),
        ALWAYS_META: json.dumps(merged, sort_keys=True),
        "import_roots": json.dumps(roots),
        PYTEST_CONFIG_META: json.dumps(config, sort_keys=True),
        COMMIT_META: head_commit(plan.root) or "",
    }


#: How many earlier pytest configurations a baseline can describe a change from.
_EARLIER_CONFIGS = 8


def _earlier_configs(stored: str | None, now: str | None) -> list[list[Any]]:
    """The parts of the configurations tests were recorded under before this run's (``now``),
    as [value, parts] pairs, the latest last: tests a partial run did not re-record still name
    theirs."""
    try:
        old = json.loads(stored or "{}")
        earlier = {str(v): dict(p) for v, p in old.get("earlier", [])}
        earlier.pop(str(old["value"]), None)
        earlier[str(old["value"])] = dict(old["parts"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
    earlier.pop(str(now), None)
    return [[v, p] for v, p in list(earlier.items())[-_EARLIER_CONFIGS:]]


def refresh_stat_cache(config: pytest.Config, baseline: Baseline, hasher: FileHasher) -> None:
    """A read-only run stores only the hashes it computed; failing to is not worth failing for."""
    if hasher.updated:
        try:
            baseline.update_stat_cache(hasher.updated)
        except StorageError as exc:
            say(config, f"difftest: warning: the file hash cache was not saved: {exc}")


def say(config: pytest.Config, line: str, *, red: bool = False) -> None:
    """A line on the terminal (nothing when the terminal reporter is disabled)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line, red=red)


def finish_session(
    session: pytest.Session,
    settings: Settings,
    plan: RunPlan,
    baseline: Baseline | None,
    hasher: FileHasher,
    write: Callable[[], None] | None,
) -> None:
    """The end of a run that owns the baseline: ``write`` stores what was recorded (then the
    baseline is uploaded if configured); a run that only selected keeps its computed hashes.
    A failure is one red line and exit status 3, never a traceback."""
    config = session.config
    try:
        if write is not None:
            write()
            if settings.upload and settings.remote_url:
                say(config, "difftest: " + upload(settings.remote_url, Path(plan.db_path)))
        elif baseline is not None:
            refresh_stat_cache(config, baseline, hasher)
    except DifftestError as exc:
        say(config, f"difftest: ERROR: {exc}", red=True)
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
