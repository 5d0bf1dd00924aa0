"""A test's outcome from the reports of its phases (setup, call, teardown); whether a test file's
collection ended complete."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from typing import Any

import pytest

#: Worse outcomes win when a test's phases disagree (a teardown error after a pass is an error).
_RANK = {"passed": 0, "skipped": 1, "xfailed": 2, "xpassed": 3, "failed": 4, "error": 5}


def phase_outcome(report: pytest.TestReport) -> str:
    """The outcome one phase (setup, call, teardown) contributes to the test's record."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if report.failed:
            return "failed"
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        return "xpassed" if xfail else "passed"
    if report.failed:
        return "error"
    if report.skipped:
        return "xfailed" if xfail else "skipped"
    return "passed"


def worst(a: str, b: str) -> str:
    return a if _RANK.get(a, 5) >= _RANK.get(b, 5) else b


def collected_items(results: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """What collecting each test file found, in any of several processes (xdist workers): the
    union of their results' ``items`` (test file -> node ids)."""
    items: dict[str, set[str]] = {}
    for result in results:
        for file, ids in result.get("items", {}).items():
            items.setdefault(file, set()).update(ids)
    return items


def incomplete_files(
    items: Mapping[str, Iterable[str]], finished: Container[str], recorded: Container[str]
) -> set[str]:
    """The test files of ``items`` (test file -> what collecting it found) that some test of
    theirs leaves incomplete: it ran to its end nowhere (``finished``) and had no record before
    the run (``recorded``)."""
    return {
        file
        for file, ids in items.items()
        if any(n not in finished and n not in recorded for n in ids)
    }
