"""A test's outcome from the reports of its phases (setup, call, teardown)."""

from __future__ import annotations

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
