"""pytest-xdist: the controller decides and is the only writer; workers select and record.

The controller writes the :class:`RunPlan` to a temporary directory and passes its path to each
worker through ``workerinput``. A recording worker writes its records (in batches) to its own
SQLite file in that directory and returns what the final write needs through ``workeroutput``.
At the end the controller merges every worker file into the baseline: even a worker that crashed
keeps the batches it committed, and a test that crashed its worker is recorded as failed, so it
runs again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from difftest.changes.scan import FileHasher
from difftest.errors import DifftestError
from difftest.model import COLLECT_SUFFIX, INCOMPLETE, TestRecord
from difftest.runners.pytest.options import Settings
from difftest.runners.pytest.outcomes import (
    collected_items,
    incomplete_files,
    phase_outcome,
    worst,
)
from difftest.runners.pytest.plan import RunPlan
from difftest.runners.pytest.report import status_lines, tally_from_ids, verbose_lines
from difftest.runners.pytest.store import BatchWriter
from difftest.runners.pytest.writer import deleted_file_records, finish_session, merged_meta, say
from difftest.storage.baseline import Baseline

if TYPE_CHECKING:  # recording-only modules: a selecting run does not import them
    from difftest.runners.pytest.recorder import Recorder, RecordingResult
    from difftest.runners.pytest.records import Edge

PLAN_INPUT = "difftest_plan"
OUTPUT = "difftest_result"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """Whether this process hands tests to xdist workers (xdist's own test for it)."""
    return (
        not is_worker(config)
        and config.getoption("dist", "no") not in ("no", None)
        and not config.getoption("collectonly", False)
    )


def worker_plan(config: pytest.Config) -> RunPlan | None:
    path = getattr(config, "workerinput", {}).get(PLAN_INPUT)
    return RunPlan.from_json(Path(path).read_text()) if path else None


class ControllerRun:
    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        plan: RunPlan,
        baseline: Baseline | None,
        hasher: FileHasher,
    ) -> None:
        self.config = config
        self.settings = settings
        self.plan = plan
        self.baseline = baseline
        self.hasher = hasher
        self.dir = Path(tempfile.mkdtemp(prefix="difftest-xdist-"))
        self.plan_path = self.dir / "plan.json"
        self.plan_path.write_text(plan.to_json())
        self.results: list[dict[str, Any]] = []
        self.failures: dict[str, str] = {}
        self.reported = False
        self.skipped_anything = False

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[PLAN_INPUT] = str(self.plan_path)

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.reported:
            return
        self.reported = True
        root = Path(self.plan.root)
        exists = {f: (root / f).exists() for f in set(self.plan.recorded.values())}
        tally = tally_from_ids(self.plan, ids, exists)
        self.skipped_anything = tally.skipped_anything
        lines = status_lines(self.plan, tally)
        if self.settings.verbose:
            lines = verbose_lines(self.plan, tally) + lines
        for line in lines:
            say(self.config, line)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failures[report.nodeid] = worst(
                self.failures.get(report.nodeid, "passed"), phase_outcome(report)
            )

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", {}).get(OUTPUT)
        if output:
            self.results.append(json.loads(output))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and (
            self.skipped_anything or (not self.reported and self.plan.recorded)
        ):
            session.exitstatus = pytest.ExitCode.OK
        try:
            recording = self.plan.record and self.baseline is not None
            finish_session(
                session,
                self.settings,
                self.plan,
                self.baseline,
                self.hasher,
                self._merge if recording else None,
            )
        finally:
            if self.baseline is not None:
                self.baseline.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def _merge(self) -> None:
        from difftest.changes.names import names_reader

        assert self.baseline is not None
        writer = BatchWriter(
            self.baseline, replace_all=self.plan.replace_all, names_of=names_reader(self.hasher)
        )
        size = self.settings.batch_size
        seen: set[str] = set()
        stat_cache = dict(self.hasher.updated)
        items = collected_items(self.results)
        finished = {n for result in self.results for n in result.get("finished", ())}
        incomplete = incomplete_files(items, finished, self.plan.recorded)
        for path in sorted(self.dir.glob("worker-*.db")):
            with Baseline.open_existing(path) as worker:
                batch: list[TestRecord] = []
                for record in worker.records():
                    seen.add(record.nodeid)
                    if record.nodeid.endswith(COLLECT_SUFFIX) and record.outcome in (
                        "passed",
                        INCOMPLETE,
                    ):
                        # Each worker ran its share of the file's tests: all workers' say.
                        outcome = INCOMPLETE if record.file in incomplete else "passed"
                        record = dataclasses.replace(record, outcome=outcome)
                    batch.append(record)
                    if len(batch) >= size:
                        writer.write(batch)
                        batch = []
                writer.write(batch, edges=worker.edges(), names=worker.names())
                stat_cache.update(worker.stat_cache())
        # A test whose worker crashed under it left no record: record it as failed so it runs.
        crashed = [
            TestRecord(
                nodeid,
                self.plan.recorded.get(nodeid) or nodeid.split("::", 1)[0],
                outcome,
                0.0,
                (),
            )
            for nodeid, outcome in sorted(self.failures.items())
            if nodeid not in seen
        ]
        removed = set(deleted_file_records(self.plan))
        always: dict[str, list[str]] = {}
        roots: set[str] = set()
        for result in self.results:
            removed.update(result["removed"])
            always.update(result["always"])
            roots.update(result["import_roots"])
        writer.write(
            crashed,
            remove=sorted(removed),
            stat_cache=stat_cache,
            meta=merged_meta(self.plan, always, roots, self.baseline, items, incomplete),
            last=True,
        )


class WorkerRun:
    """A recording worker: records go to its own file, handed to the controller at the end."""

    def __init__(
        self, config: pytest.Config, settings: Settings, plan: RunPlan, recorder: Recorder
    ) -> None:
        from difftest.runners.pytest.local import make_builder

        self.config = config
        self.recorder = recorder
        self.hasher = FileHasher(Path(plan.root))
        workerid = str(config.workerinput.get("workerid", "gw"))  # type: ignore[attr-defined]
        directory = Path(config.workerinput[PLAN_INPUT]).parent  # type: ignore[attr-defined]
        self.baseline = Baseline.open(directory / f"worker-{workerid}-{os.getpid()}.db")
        builder = make_builder(recorder, self.hasher, plan, settings)
        self.writer = BatchWriter(self.baseline, replace_all=False, names_of=builder.facts.names_of)
        self.error: DifftestError | None = None
        recorder.bind(
            builder,
            self._write_batch,
            batch_size=settings.batch_size,
            recorded=plan.recorded,
        )

    def _write_batch(self, records: list[TestRecord], edges: list[Edge]) -> None:
        if self.error is None:
            try:
                self.writer.write(records, edges=edges)
            except DifftestError as exc:
                self.error = exc

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            result: RecordingResult = self.recorder.finish()
            self.writer.write([], stat_cache=self.hasher.updated)
            if self.error is not None:
                raise self.error
            self.config.workeroutput[OUTPUT] = json.dumps(  # type: ignore[attr-defined]
                {
                    "removed": result.removed,
                    "always": result.always,
                    "import_roots": result.import_roots,
                    "items": result.items,
                    "finished": result.finished,
                }
            )
        except DifftestError as exc:
            say(self.config, f"difftest: ERROR: {exc}", red=True)
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        finally:
            self.recorder.close()
            self.baseline.close()
