"""A pytest plugin the benchmark loads with ``-p bench_coverage_idle``: coverage.py started the
way difftest starts it (from ``pytest_load_initial_conftests``, pytest already imported, with the
core difftest uses), measuring no file at all.

What it costs is the least a recorder built on coverage.py pays on that project: importing
coverage.py, and its handling of the first call of every function the run makes after that,
before it decides once per file not to measure it. ``coverage run`` (the "coverage.py measuring
nothing" timing) pays the same from before pytest is imported, so for pytest's start-up too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import coverage
import pytest

_started: list[Any] = []


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    nowhere = Path(early_config.rootpath) / "no-such-directory"
    cov = coverage.Coverage(data_file=None, config_file=False, include=[f"{nowhere}/*"])
    cov.set_option("run:core", "sysmon" if sys.version_info >= (3, 12) else "ctrace")
    cov.start()
    _started.append(cov)


def pytest_unconfigure(config: pytest.Config) -> None:
    while _started:
        _started.pop().stop()
