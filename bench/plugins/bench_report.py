"""A pytest plugin the benchmark loads with ``-p bench_report``: what ran, and how it ended.

It writes one JSON file (path in ``$BENCH_REPORT``) with every test that ran (its nodeid and
whether any phase failed, subtests included), every collection error and the distributions
whose plugins were loaded, so the harness never
has to parse terminal output or map junitxml class names back to node ids.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_ran: dict[str, str] = {}
_collect_errors: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    previous = _ran.get(report.nodeid, "passed")
    if report.failed:
        _ran[report.nodeid] = "failed"
    elif report.skipped and report.when in ("setup", "call") and previous == "passed":
        _ran[report.nodeid] = "skipped"
    else:
        _ran.setdefault(report.nodeid, previous)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _collect_errors.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("BENCH_REPORT")
    if not path:
        return
    loaded = session.config.pluginmanager.list_plugin_distinfo()
    data: dict[str, Any] = {
        "exitstatus": int(exitstatus),
        # Distributions whose pytest plugins were loaded: the harness checks the tools it
        # blocked stayed out.
        "plugins": sorted({str(dist.project_name) for _, dist in loaded}),
        "tests": _ran,
        "collect_errors": sorted(set(_collect_errors)),
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
