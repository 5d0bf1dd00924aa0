"""Selection hooks, the way pytest's ``--lf`` does it: unaffected recorded test files are not
collected (so not imported), unaffected recorded tests are deselected, one status line says so,
and "no tests ran" becomes success when difftest is why."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from difftest.runners.pytest.plan import RunPlan
from difftest.runners.pytest.report import Tally, reasons_for, status_lines, verbose_lines


class Selector:
    def __init__(self, plan: RunPlan, *, verbose: bool) -> None:
        self.plan = plan
        self.root = Path(plan.root)
        self.verbose = verbose
        self.tally = Tally()
        self._tests_per_file = Counter(plan.recorded.values())

    def _rel(self, path: Path) -> str | None:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return None

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        plan = self.plan
        if plan.selection.run_all is not None:
            return None
        rel = self._rel(collection_path)
        if rel is None or rel not in plan.selection.recorded_files or plan.must_collect(rel):
            return None
        self.tally.skipped_files[rel] = self._tests_per_file.get(rel, 0)
        return True

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            always = item.get_closest_marker("diff_always") is not None
            reasons = reasons_for(self.plan, item.nodeid, always)
            if reasons is None:
                drop.append(item)
            else:
                keep.append(item)
                self.tally.selected.append((item.nodeid, reasons))
        if drop:
            self.tally.deselected += len(drop)
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_report_collectionfinish(self) -> list[str]:
        lines = status_lines(self.plan, self.tally)
        if self.verbose:
            lines = verbose_lines(self.plan, self.tally) + lines
        return lines

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and self.tally.skipped_anything:
            session.exitstatus = pytest.ExitCode.OK
