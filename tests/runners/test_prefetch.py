"""The helper process that analyses project files while the tests run answers exactly what the
recorder would work out itself, and only for the file version it was asked about; when it
cannot answer, the recorder is left to do the work, never waiting on it forever."""

from __future__ import annotations

import os
import select
import signal
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from difftest.changes.blocks import Sharing, parse_blocks, parse_tree, sharing_of
from difftest.changes.imports import imported_names
from difftest.changes.names import blocks_and_names
from difftest.changes.scan import FileHasher
from difftest.model import TestRecord, digest
from difftest.runners.pytest import local, prefetch, probes, recorder, records, store
from difftest.runners.pytest.prefetch import Analysed, Prefetcher, Request
from difftest.runners.pytest.probes import ProjectPaths
from difftest.runners.pytest.records import RecordBuilder
from difftest.runners.pytest.spool import Spool

MODULE = textwrap.dedent(
    """\
    import os
    from .sibling import LIMIT

    class Shape:
        sides = LIMIT

        def area(self):
            return os.sep

    def helper(x=LIMIT):
        return x * 2
    """
)


REGISTRY = textwrap.dedent(
    """\
    class Registry:
        def __init__(self):
            self.items = []

        def add(self, item):
            self.items.append(item)

        def count(self):
            return len(self.items)

    _SEEN = {}

    def settings(path):
        if path not in _SEEN:
            _SEEN[path] = open(path).read()
        return _SEEN[path]

    REGISTRY = Registry()
    """
)


def _project(root: Path) -> None:
    (root / "pkg").mkdir()
    (root / "pkg" / "registry.py").write_text(REGISTRY)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "sibling.py").write_text("LIMIT = 3\n")
    (root / "pkg" / "shapes.py").write_text(MODULE)
    (root / "pkg" / "broken.py").write_text("def f(:\n")


def _version(root: Path, path: str) -> str:
    return digest((root / path).read_bytes())


@contextmanager
def _asked(root: Path, *requests: Request) -> Iterator[Prefetcher]:
    """A helper for the sample project, asked for ``requests`` and waited for; stopped
    afterwards."""
    _project(root)
    helper = Prefetcher(root)
    helper.submit(requests)
    try:
        _answered(helper)
        yield helper
    finally:
        helper.close()


def _answered(helper: Prefetcher) -> None:
    deadline = time.monotonic() + 60
    while helper.busy():
        assert time.monotonic() < deadline, "the helper did not answer within a minute"
        time.sleep(0.01)


def test_the_helper_answers_what_the_recorder_would_work_out_itself(tmp_path: Path) -> None:
    with _asked(tmp_path, ("pkg/shapes.py", "pkg", True), ("pkg/sibling.py", "pkg", False)) as h:
        shapes = h.take("pkg/shapes.py", _version(tmp_path, "pkg/shapes.py"))
        sibling = h.take("pkg/sibling.py", _version(tmp_path, "pkg/sibling.py"))
    tree = parse_tree(MODULE, "pkg/shapes.py")
    blocks, facts = blocks_and_names(tree, "pkg/shapes.py")
    assert shapes is not None and sibling is not None
    assert shapes.blocks == blocks
    assert shapes.blocks.functions_at([11]) == blocks.functions_at([11])
    assert facts is not None and shapes.names == facts.to_json()
    assert shapes.imports == imported_names(tree, "pkg")
    assert "pkg.sibling" in shapes.imports
    assert sibling.names is None  # not asked for


def test_an_answer_is_handed_out_once_and_its_imports_stay(tmp_path: Path) -> None:
    with _asked(tmp_path, ("pkg/shapes.py", "pkg", True)) as helper:
        version = _version(tmp_path, "pkg/shapes.py")
        answer = helper.take("pkg/shapes.py", version)
        assert answer is not None
        assert helper.take("pkg/shapes.py", version) is None
        assert helper.imports("pkg/shapes.py", version, "pkg") == answer.imports
        assert helper.imports("pkg/shapes.py", digest(b""), "pkg") is None
        # resolved against another package, relative imports would name other modules
        assert helper.imports("pkg/shapes.py", version, "") is None


def test_the_helper_tells_what_a_files_code_keeps_between_tests_and_that_stays_after_the_answer(
    tmp_path: Path,
) -> None:
    # What the run-time probe would otherwise parse the file for itself (a module-level
    # instance's class, a function that keeps what it reads).
    with _asked(tmp_path, ("pkg/registry.py", "pkg", True)) as helper:
        version = _version(tmp_path, "pkg/registry.py")
        answer = helper.take("pkg/registry.py", version)
        assert answer is not None and answer.sharing is not None
        assert answer.sharing == sharing_of(parse_tree(REGISTRY, "pkg/registry.py"))
        assert set(answer.sharing.states) == {"Registry"} and answer.sharing.keeping
        assert helper.sharing("pkg/registry.py", version) == answer.sharing
        assert helper.sharing("pkg/registry.py", digest(b"REGISTRY = None\n")) is None
        assert helper.sharing("pkg/shapes.py", _version(tmp_path, "pkg/shapes.py")) is None


def test_sharing_facts_are_read_from_the_pipe_only_in_the_thread_that_runs_the_recorder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run-time probe asks from whatever thread of a test read a file: a read of the pipe
    # there would race the recorder's own reads.
    _project(tmp_path)
    helper = Prefetcher(tmp_path)
    assert helper._proc is not None and helper._proc.stdout is not None
    version = _version(tmp_path, "pkg/registry.py")
    found: list[Sharing | None] = []
    try:
        helper.submit([("pkg/registry.py", "pkg", True)])
        ready, _, _ = select.select([helper._proc.stdout.fileno()], [], [], 60)
        assert ready, "the helper did not answer within a minute"
        with monkeypatch.context() as patched:
            patched.setattr(helper, "_read", lambda: pytest.fail("another thread read the pipe"))
            other = threading.Thread(
                target=lambda: found.append(helper.sharing("pkg/registry.py", version))
            )
            other.start()
            other.join()
        assert found == [None]  # answered, not read yet
        here = helper.sharing("pkg/registry.py", version)  # read now
        assert here is not None and "Registry" in here.states
        assert helper.take("pkg/registry.py", version) is not None
        other = threading.Thread(
            target=lambda: found.append(helper.sharing("pkg/registry.py", version))
        )
        other.start()
        other.join()
        assert found[-1] == here  # kept once taken, for every thread
    finally:
        helper.close()


def test_an_answer_is_used_only_for_the_file_version_it_was_about(tmp_path: Path) -> None:
    with _asked(tmp_path, ("pkg/sibling.py", "pkg", True)) as helper:
        assert helper.take("pkg/sibling.py", digest(b"LIMIT = 4\n")) is None
        assert helper.take("pkg/sibling.py", _version(tmp_path, "pkg/sibling.py")) is not None


def test_a_file_that_does_not_parse_is_left_to_the_recorder(tmp_path: Path) -> None:
    with _asked(tmp_path, ("pkg/broken.py", "pkg", True), ("pkg/gone.py", "pkg", True)) as h:
        assert h.take("pkg/broken.py", _version(tmp_path, "pkg/broken.py")) is None
        assert h.take("pkg/gone.py", "") is None
        assert not h.busy()


def test_a_helper_that_died_leaves_every_file_to_the_recorder_without_waiting(
    tmp_path: Path,
) -> None:
    _project(tmp_path)
    helper = Prefetcher(tmp_path)
    assert helper._proc is not None
    helper._proc.kill()
    helper._proc.wait()
    helper.submit([("pkg/sibling.py", "pkg", True)])
    _answered(helper)
    assert helper.take("pkg/sibling.py", _version(tmp_path, "pkg/sibling.py")) is None
    helper.close()


def test_an_answer_not_there_yet_is_not_waited_for(tmp_path: Path) -> None:
    _project(tmp_path)
    helper = Prefetcher(tmp_path)
    assert helper._proc is not None
    os.kill(helper._proc.pid, signal.SIGSTOP)  # a helper that has not got to it yet
    try:
        helper.submit([("pkg/shapes.py", "pkg", True)])
        started = time.monotonic()
        assert helper.take("pkg/shapes.py", _version(tmp_path, "pkg/shapes.py")) is None
        assert time.monotonic() - started < 0.05
        os.kill(helper._proc.pid, signal.SIGCONT)
        _answered(helper)
        assert helper.take("pkg/shapes.py", _version(tmp_path, "pkg/shapes.py")) is not None
    finally:
        helper.close()


def test_requests_asked_in_waves_are_all_answered(tmp_path: Path) -> None:
    _project(tmp_path)
    helper = Prefetcher(tmp_path)
    try:
        helper.submit([("pkg/shapes.py", "pkg", True)], last=False)
        _answered(helper)
        helper.submit([("pkg/sibling.py", "pkg", True)], last=True)
        _answered(helper)
        for path in ("pkg/shapes.py", "pkg/sibling.py"):
            assert helper.take(path, _version(tmp_path, path)) is not None
    finally:
        helper.close()


def test_asking_for_more_than_a_pipe_holds_does_not_block_the_run(tmp_path: Path) -> None:
    _project(tmp_path)
    helper = Prefetcher(tmp_path)
    assert helper._proc is not None
    # A helper that reads nothing for now (a busy one): the pipe fills up whatever the timing.
    os.kill(helper._proc.pid, signal.SIGSTOP)
    try:
        many = [(f"pkg/missing_{i:05}.py", "pkg", True) for i in range(5000)]  # ~200 KB
        started = time.monotonic()
        helper.submit(many, last=True)
        assert time.monotonic() - started < 0.5
        assert helper._unsent  # the rest waits here, not in a blocked write
        os.kill(helper._proc.pid, signal.SIGCONT)
        _answered(helper)
        assert helper.take("pkg/missing_04999.py", "") is None
        assert not helper._unsent
    finally:
        helper.close()


def test_a_recording_run_uses_its_helpers_and_stores_what_a_run_without_them_stores(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/sibling.py": "LIMIT = 3\n",
            "pkg/shapes.py": MODULE,
            "tests/test_shapes.py": """
                from pkg.shapes import Shape, helper

                def test_area():
                    assert Shape().area()

                def test_helper():
                    assert helper() == 6
                """,
        }
    )
    used = {"answers": 0, "batches": 0}
    take, send = Prefetcher.take, Spool.send

    def counted_take(self: Prefetcher, path: str, version: str) -> Analysed | None:
        # A run this short ends before the helper answers (and never waits for it): here, the
        # answers are waited for, so that the records are built from them.
        _answered(self)
        found = take(self, path, version)
        used["answers"] += found is not None
        return found

    def counted_send(self: Spool, *args: Any) -> bool:
        sent = send(self, *args)
        used["batches"] += sent
        return sent

    monkeypatch.setattr(Prefetcher, "take", counted_take)
    monkeypatch.setattr(Spool, "send", counted_send)
    monkeypatch.setattr(recorder, "helper_possible", lambda: True)
    monkeypatch.setattr(local, "helper_possible", lambda: True)
    monkeypatch.setattr(store, "SPOOL_AFTER", 0.0)  # the helper writes from the first batch
    project.baseline("--diff-batch-size", "1").assert_outcomes(passed=2)
    with_helpers = _what_ran_against(project.records())
    assert used["answers"] >= 2 and used["batches"] >= 1

    monkeypatch.setattr(recorder, "helper_possible", lambda: False)
    monkeypatch.setattr(local, "helper_possible", lambda: False)
    project.baseline("--diff-force", "--diff-batch-size", "1").assert_outcomes(passed=2)
    assert _what_ran_against(project.records()) == with_helpers


def test_a_recording_run_takes_what_code_keeps_between_tests_from_the_helper_not_parsing_it(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/registry.py": REGISTRY,
            "settings.txt": "debug",
            "tests/test_registry.py": """
                from pkg.registry import REGISTRY, settings

                def test_add():
                    REGISTRY.add(1)

                def test_count():
                    assert REGISTRY.count() >= 0

                def test_settings():
                    assert settings("settings.txt") == "debug"

                def test_nothing():
                    pass
                """,
        }
    )
    answered: list[str] = []
    parsed: list[str] = []
    sharing, parse_tree = Prefetcher.sharing, probes.parse_tree

    def waited_sharing(self: Prefetcher, path: str, version: str) -> Sharing | None:
        _answered(self)  # as in the test above: a run this short would end first
        found = sharing(self, path, version)
        if found is not None:
            answered.append(path)
        return found

    def counted_parse_tree(source: bytes, rel: str) -> Any:
        parsed.append(rel)
        return parse_tree(source, rel)

    monkeypatch.setattr(Prefetcher, "sharing", waited_sharing)
    monkeypatch.setattr(probes, "parse_tree", counted_parse_tree)
    monkeypatch.setattr(recorder, "helper_possible", lambda: True)
    project.baseline().assert_outcomes(passed=4)
    with_helper = _what_ran_against(project.records())
    assert "pkg/registry.py" in answered and "pkg/registry.py" not in parsed

    # Without the helper the probe parses the file itself, and the records are the same.
    monkeypatch.setattr(recorder, "helper_possible", lambda: False)
    project.baseline("--diff-force").assert_outcomes(passed=4)
    assert "pkg/registry.py" in parsed
    assert _what_ran_against(project.records()) == with_helper
    # What the shared instance keeps (Registry.add) is a dependency of the test reading it;
    # what the memo kept (settings.txt), of every test of a module importing it.
    ran = {
        n.rpartition("::")[2]: {(d.key, d.name) for d in r.deps}
        for n, r in project.records().items()
    }
    assert ("pkg/registry.py", "Registry.add") in ran["test_count"]
    assert ("pkg/registry.py", "Registry.add") not in ran["test_nothing"]
    assert any(key == "settings.txt" for key, _ in ran["test_nothing"])


def test_tests_held_for_the_helper_reach_the_writer_one_batch_at_a_time(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/sibling.py": "LIMIT = 3\n",
            "tests/test_many.py": """
                import pytest
                from pkg.sibling import LIMIT

                @pytest.mark.parametrize("n", range(5))
                def test_n(n):
                    assert n < LIMIT + 2
                """,
        }
    )
    batches: list[list[str]] = []
    write_batch = local.LocalRun._write_batch

    def counted(self: local.LocalRun, records: list[TestRecord], edges: list[Any]) -> None:
        batches.append([r.nodeid for r in records])
        write_batch(self, records, edges)

    monkeypatch.setattr(local.LocalRun, "_write_batch", counted)
    monkeypatch.setattr(RecordBuilder, "analysing", lambda self: True)  # the helper never ends
    project.baseline("--diff-batch-size", "2").assert_outcomes(passed=5)
    # The collection record comes last, once it is known that every test of the file ran.
    assert [len(b) for b in batches] == [2, 2, 1, 1]
    assert batches[-1] == ["tests/test_many.py::<collect>"]
    assert len(project.records()) >= 5


def test_the_helper_is_asked_for_the_package_while_pytest_still_collects(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/sibling.py": "LIMIT = 3\n",
            "tests/test_a.py": "from pkg.sibling import LIMIT\n\ndef test_a():\n    assert LIMIT\n",
            "tests/test_b.py": "def test_b():\n    pass\n",
        }
    )
    asked: list[tuple[list[str], bool]] = []
    submit = Prefetcher.submit

    def counted(self: Prefetcher, requests: Any, *, last: bool = True) -> None:
        requests = list(requests)
        asked.append(([path for path, _, _ in requests], last))
        submit(self, requests, last=last)

    monkeypatch.setattr(Prefetcher, "submit", counted)
    monkeypatch.setattr(recorder, "helper_possible", lambda: True)
    project.baseline().assert_outcomes(passed=2)
    (first, more), *rest = asked
    assert "pkg/sibling.py" in first and "tests/test_a.py" in first
    assert "tests/test_b.py" not in first  # asked before the second file was collected
    assert more is False  # more requests follow
    assert rest and rest[-1][1] is True  # the end of collection closes the requests
    assert all("pkg/sibling.py" not in wanted for wanted, _ in rest)  # each file asked once


def test_the_helper_starts_before_the_conftests_are_imported_and_is_the_one_asked(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(
        {
            "conftest.py": "import os\nos.environ['DIFFTEST_TEST_CONFTEST'] = 'imported'\n",
            "pkg/__init__.py": "",
            "pkg/sibling.py": "LIMIT = 3\n",
            "tests/test_a.py": "from pkg.sibling import LIMIT\n\ndef test_a():\n    assert LIMIT\n",
        }
    )
    monkeypatch.delenv("DIFFTEST_TEST_CONFTEST", raising=False)
    started: list[tuple[Prefetcher, str | None]] = []
    asked: list[Prefetcher] = []
    closed: list[Prefetcher] = []
    init, submit, close = Prefetcher.__init__, Prefetcher.submit, Prefetcher.close

    def starting(self: Prefetcher, root: Path) -> None:
        started.append((self, os.environ.get("DIFFTEST_TEST_CONFTEST")))
        init(self, root)

    def submitting(self: Prefetcher, requests: Any, *, last: bool = True) -> None:
        asked.append(self)
        submit(self, requests, last=last)

    def closing(self: Prefetcher) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(Prefetcher, "__init__", starting)
    monkeypatch.setattr(Prefetcher, "submit", submitting)
    monkeypatch.setattr(Prefetcher, "close", closing)
    monkeypatch.setattr(recorder, "helper_possible", lambda: True)
    project.baseline().assert_outcomes(passed=1)
    assert [seen for _, seen in started] == [None]  # one helper, started before the conftest
    helper = started[0][0]
    assert asked and all(h is helper for h in asked)
    assert helper in closed

    # A run that turns out to record nothing (--setup-plan runs no test body) stops it.
    started.clear(), closed.clear()
    project.baseline("--setup-plan")
    assert len(started) == 1 and closed == [started[0][0]]


def _what_ran_against(records: dict[str, TestRecord]) -> dict[str, Any]:
    return {n: (r.outcome, sorted(r.deps, key=repr)) for n, r in records.items()}  # not durations


class _HelperAnsweringOneFileAtATime:
    """A helper seen from the run: it answers the files it was asked for in order, one more
    each time the run looks at how far it got (the real one works on beside the run)."""

    def __init__(self, root: Path, files: list[str]) -> None:
        self.root, self.files, self.answered, self.handed_out = root, files, 0, []

    def _progress(self) -> None:
        self.answered = min(self.answered + 1, len(self.files))

    def unanswered(self) -> list[str]:
        self._progress()
        return self.files[self.answered :]

    def waiting_for(self, path: str) -> bool:
        self._progress()
        return path in self.files[self.answered :]

    def busy(self) -> bool:
        return self.answered < len(self.files)

    def _answer(self, path: str, version: str) -> Analysed | None:
        if path not in self.files[: self.answered]:
            return None
        found = prefetch._decode(prefetch.analyse(self.root, path, "pkg", True))
        return found if found is not None and found.version == version else None

    def take(self, path: str, version: str) -> Analysed | None:
        found = self._answer(path, version)
        if found is not None:
            self.handed_out.append(path)
        return found

    def imports(self, path: str, version: str, package: str) -> frozenset[str] | None:
        found = self._answer(path, version)
        return found.imports if found is not None else None

    def close(self) -> None:
        pass


def test_records_due_while_the_helper_still_works_are_analysed_from_the_back_to_meet_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path)
    files = [f"pkg/m{i}.py" for i in range(7)]
    for i, path in enumerate(files):
        (tmp_path / path).write_text(f"X = {i}\n\ndef f():\n    return X\n")
    builder = RecordBuilder(ProjectPaths(tmp_path), FileHasher(tmp_path), cache_size=100, env={})
    helper = _HelperAnsweringOneFileAtATime(tmp_path, files)
    builder.facts.prefetch = helper  # type: ignore[assignment]
    here: list[str] = []
    analyse_here = records.blocks_and_names

    def counted(tree: Any, path: str, *, names: bool = True) -> Any:
        here.append(path)
        return analyse_here(tree, path, names=names)

    monkeypatch.setattr(records, "blocks_and_names", counted)
    builder.analyse_rest()
    assert here == files[::-1][: len(here)], "the run starts from the last file"
    assert 0 < len(here) < len(files)
    for path in files:
        assert builder.facts.get(path).blocks == parse_blocks((tmp_path / path).read_text(), path)
    # Every file was analysed once: by the run from the back, by the helper from the front.
    assert sorted(here + helper.handed_out) == sorted(files)
