"""Helpers for the plugin's pytester tests: a project with difftest active in the inner runs."""

from __future__ import annotations

import os
import sqlite3
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from difftest.model import TestRecord
from difftest.storage.baseline import Baseline


class Project:
    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path = pytester.path
        self.db = pytester.path / ".difftest" / "baseline.db"

    def write(self, files: dict[str, str] | None = None, **kw: str) -> None:
        """Write files (``{"pkg/mod.py": source}``; keyword names use ``__`` for ``/``)."""
        items = dict(files or {})
        items.update({k.replace("__", "/") + ".py": v for k, v in kw.items()})
        for rel, text in items.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            self._replace(target, textwrap.dedent(text).lstrip("\n"))

    def edit(self, rel: str, old: str, new: str) -> None:
        target = self.path / rel
        text = target.read_text()
        assert old in text, f"{old!r} not in {rel}"
        self._replace(target, text.replace(old, new))

    @staticmethod
    def _replace(target: Path, text: str) -> None:
        """Write ``text``; a rewrite moves the mtime on by whole seconds, as edits over time
        would, whatever the file system's timestamp granularity."""
        old = target.stat().st_mtime if target.exists() else None
        target.write_text(text)
        if old is not None:
            later = max(old + 2, time.time())
            os.utime(target, (later, later))

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest("-p", "no:cacheprovider", *args)

    def subprocess(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)

    def baseline(self, *args: str) -> pytest.RunResult:
        return self.run("--diff-baseline", *args)

    def diff(self, *args: str) -> pytest.RunResult:
        return self.run("--diff", *args)

    def records(self, db: Path | None = None) -> dict[str, TestRecord]:
        with Baseline.open_existing(db or self.db) as baseline:
            return {r.nodeid: r for r in baseline.records()}

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        conn = sqlite3.connect(str(self.db))
        with conn:
            conn.execute(statement, params)
        conn.close()


_STATUSES = ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS")


def ran(result: pytest.RunResult) -> list[str]:
    """Node ids of the tests that ran, from the ``-v`` progress lines (serial or xdist)."""
    names = set()
    for line in result.outlines:
        words = line.split()
        if any(w in _STATUSES for w in words):
            names.update(w for w in words if "::" in w and not w.startswith("<"))
    return sorted(names)
