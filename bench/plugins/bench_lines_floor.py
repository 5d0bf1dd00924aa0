"""A pytest plugin the benchmark loads with ``-p bench_lines_floor`` on Python 3.12+: the least
a per-test line recorder can do, written straight on ``sys.monitoring`` without coverage.py.

From ``pytest_load_initial_conftests`` on, the first call of each function turns on line events
for it if its file is the project's (under the rootdir, outside site-packages). Each line seen is
added to the running test's set once, its event then disabled, and every event is re-enabled when
the next test starts, so each test sees its own lines. Nothing is stored, mapped to blocks or
written: what this costs is a floor under any recorder of lines per test, difftest's included.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from types import CodeType
from typing import Any

import pytest

_lines: dict[str | None, dict[str, set[int]]] = {}
_test: list[str | None] = [None]
_project: dict[str, bool] = {}
_tool: list[int] = []


def _start(code: CodeType, offset: int) -> Any:
    mon = sys.monitoring
    filename = code.co_filename
    wanted = _project.get(filename)
    if wanted is None:
        wanted = _project[filename] = filename.startswith(_root[0]) and _SITE not in filename
    if wanted:
        mon.set_local_events(_tool[0], code, mon.events.LINE)
    return mon.DISABLE


def _line(code: CodeType, line: int) -> Any:
    _lines.setdefault(_test[0], {}).setdefault(code.co_filename, set()).add(line)
    return sys.monitoring.DISABLE


_root: list[str] = [""]
_SITE = os.sep + "site-packages" + os.sep


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    mon = sys.monitoring
    _root[0] = str(early_config.rootpath) + os.sep
    for tool in range(3, 6):
        if mon.get_tool(tool) is None:
            mon.use_tool_id(tool, "bench_lines_floor")
            _tool.append(tool)
            break
    else:
        raise RuntimeError("bench_lines_floor: no free sys.monitoring tool id")
    mon.register_callback(_tool[0], mon.events.PY_START, _start)
    mon.register_callback(_tool[0], mon.events.LINE, _line)
    mon.set_events(_tool[0], mon.events.PY_START)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, Any, None]:
    _test[0] = item.nodeid
    sys.monitoring.restart_events()
    yield
    _test[0] = None


def pytest_unconfigure(config: pytest.Config) -> None:
    if _tool:
        sys.monitoring.set_events(_tool[0], 0)
        sys.monitoring.free_tool_id(_tool.pop())
