"""Selection hooks, the way pytest's ``--lf`` does it: unaffected recorded test files are not
collected (so not imported), unaffected recorded tests are deselected, one status line says so,
and "no tests ran" becomes success when difftest is why."""

from __future__ import annotations

import fnmatch
import os
from collections import Counter
from pathlib import Path

import pytest

from difftest.changes.scan import iter_project_files
from difftest.runners.pytest.plan import RunPlan
from difftest.runners.pytest.report import Tally, reasons_for, status_lines, verbose_lines


def clashing_test_files(root: Path, patterns: list[str]) -> frozenset[str]:
    """Root-relative test files (``patterns``: pytest's ``python_files``) that another test file
    shares its module name with, as pytest's ``prepend`` and ``append`` import modes name them:
    the file's name under the packages (directories with ``__init__.py``) above it."""
    packages: dict[str, bool] = {}

    def is_package(directory: str) -> bool:
        if directory not in packages:
            packages[directory] = bool(directory) and os.path.isfile(
                os.path.join(root, directory, "__init__.py")
            )
        return packages[directory]

    by_name: dict[str, list[str]] = {}
    for rel in iter_project_files(root):
        directory, _, name = rel.rpartition("/")
        if not name.endswith(".py") or not any(fnmatch.fnmatch(name, p) for p in patterns):
            continue
        parts = [name[:-3]]
        while is_package(directory):
            directory, _, package = directory.rpartition("/")
            parts.append(package)
        by_name.setdefault(".".join(reversed(parts)), []).append(rel)
    return frozenset(f for files in by_name.values() if len(files) > 1 for f in files)


class Selector:
    def __init__(self, plan: RunPlan, *, verbose: bool) -> None:
        self.plan = plan
        self.root = Path(plan.root)
        self.verbose = verbose
        self.tally = Tally()
        self._tests_per_file = Counter(plan.recorded.values())
        self._clashes: frozenset[str] | None = None

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
        if rel in self._clashing(config):
            return None
        self.tally.skipped_files[rel] = self._tests_per_file.get(rel, 0)
        return True

    def _clashing(self, config: pytest.Config) -> frozenset[str]:
        """Test files that share their module name with another test file of the project
        (``tests/a/test_x.py`` and ``tests/c/test_x.py``, neither in a package): pytest's
        default import modes cannot import both, and a full run stops with "import file
        mismatch". They are always collected, so a run that selects one of them fails the same
        way (a new file, a removed ``__init__.py``, are how a clash starts)."""
        if self._clashes is None:
            self._clashes = frozenset()
            if str(config.getoption("importmode", "prepend")) != "importlib":
                patterns = [str(p) for p in config.getini("python_files")]
                self._clashes = clashing_test_files(self.root, patterns)
        return self._clashes

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
