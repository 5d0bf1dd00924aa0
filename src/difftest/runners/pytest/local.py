"""A run in one process (no xdist): it records, writes the baseline and uploads it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from difftest.changes.scan import FileHasher
from difftest.errors import DifftestError
from difftest.model import TestRecord
from difftest.runners.pytest.helpers import helper_possible
from difftest.runners.pytest.options import Settings
from difftest.runners.pytest.plan import RunPlan
from difftest.runners.pytest.store import BatchWriter
from difftest.runners.pytest.writer import deleted_file_records, finish_session, merged_meta
from difftest.storage.baseline import Baseline

if TYPE_CHECKING:  # recording-only modules: a selecting run does not import them
    from difftest.runners.pytest.recorder import Recorder
    from difftest.runners.pytest.records import Edge, RecordBuilder


def make_builder(
    recorder: Recorder, hasher: FileHasher, plan: RunPlan, settings: Settings
) -> RecordBuilder:
    from difftest.runners.pytest.records import RecordBuilder

    return RecordBuilder(
        recorder.paths,
        hasher,
        cache_size=settings.cache_size,
        env=plan.env,
        edges=plan.edges,
        import_roots=plan.import_roots,
        preloaded=recorder.preloaded,
    )


class LocalRun:
    """Owns the baseline of a serial run: batches go in as tests finish, the rest at the end."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        plan: RunPlan,
        baseline: Baseline | None,
        hasher: FileHasher,
        recorder: Recorder | None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.plan = plan
        self.baseline = baseline
        self.hasher = hasher
        self.recorder = recorder
        self.error: DifftestError | None = None
        self.writer: BatchWriter | None = None
        if recorder is not None and baseline is not None:
            from difftest.runners.pytest.spool import Spool

            builder = make_builder(recorder, hasher, plan, settings)
            if not plan.replace_all:
                builder.facts.known_names = baseline.names_keys()
            db_path, root = baseline.path, recorder.paths.root
            self.writer = BatchWriter(
                baseline,
                replace_all=plan.replace_all,
                names_of=builder.facts.names_of,
                spool=(lambda: Spool(db_path, root)) if helper_possible() else None,
                cached_names=builder.facts.cached_names,
            )
            recorder.bind(
                builder,
                self._write_batch,
                batch_size=settings.batch_size,
                recorded=plan.recorded,
                prefetch=True,
            )

    def _write_batch(self, records: list[TestRecord], edges: list[Edge]) -> None:
        if self.writer is None or self.error is not None:
            return
        try:
            self.writer.write(records, edges=edges)
        except DifftestError as exc:
            self.error = exc  # reported once, at the end of the run

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.writer is not None:
            self.writer.expect(len(session.items))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            recording = self.recorder is not None and self.writer is not None
            finish_session(
                session,
                self.settings,
                self.plan,
                self.baseline,
                self.hasher,
                self._write_rest if recording else None,
            )
        finally:
            if self.writer is not None:
                self.writer.close()
            if self.recorder is not None:
                self.recorder.close()
            if self.baseline is not None:
                self.baseline.close()

    def _write_rest(self) -> None:
        assert self.recorder is not None and self.writer is not None and self.baseline is not None
        result = self.recorder.finish()
        if self.error is not None:
            raise self.error
        self.writer.write(
            [],
            remove=[*result.removed, *deleted_file_records(self.plan)],
            stat_cache=self.hasher.updated,
            meta=merged_meta(
                self.plan,
                result.always,
                result.import_roots,
                self.baseline,
                result.items,
                result.incomplete,
            ),
            last=True,
        )
