"""The coverage probe credits executed lines to the scope they ran in, whichever way it reads
coverage.py: from its collector's table, or (on a coverage.py it does not know) with dynamic
contexts."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from difftest.runners.pytest.probes import CoverageProbe

SOURCE = textwrap.dedent(
    """\
    def f():
        return 1

    def g():
        return 2

    def gen():
        yield 1
        yield 2
    """
)


def _load(root: Path) -> ModuleType:
    path = root / "probed.py"
    path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location("probed", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _probed_lines(probe: CoverageProbe, root: Path) -> dict[str, set[int]]:
    """Stop ``probe`` and harvest it: scope -> lines of probed.py it ran."""
    probe.stop()
    filename = str(root / "probed.py")
    return {ctx: files.get(filename, set()) for ctx, files in probe.harvest().items()}


def _started(
    root: Path, restarts: list[None] | None = None, *, use_contexts: bool = False
) -> tuple[ModuleType, CoverageProbe]:
    """probed.py loaded and a probe measuring it in scope "a", with the ``restarts`` of
    coverage.py's own start forgotten."""
    module = _load(root)
    probe = CoverageProbe(root, use_contexts=use_contexts)
    probe.start("a")
    if restarts is not None:
        restarts.clear()
    return module, probe


def _measure(root: Path, *, use_contexts: bool) -> tuple[bool, dict[str, set[int]]]:
    module, probe = _started(root, use_contexts=use_contexts)
    module.f()
    probe.switch("b")
    module.f()  # again, in another scope: a line reported once must report again
    module.g()
    generator = module.gen()
    next(generator)
    probe.switch("a")
    next(generator)  # resumed in another scope
    return probe.use_contexts, _probed_lines(probe, root)


def test_lines_are_credited_to_the_scope_that_ran_them_read_from_the_collector(
    tmp_path: Path,
) -> None:
    used_contexts, lines = _measure(tmp_path, use_contexts=False)
    assert not used_contexts, "this coverage.py's collector table was not recognised"
    assert lines == {"a": {2, 9}, "b": {2, 5, 8}}


def test_reading_the_collector_gives_the_lines_dynamic_contexts_give(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    _, from_table = _measure(tmp_path / "one", use_contexts=False)
    _, from_contexts = _measure(tmp_path / "two", use_contexts=True)
    assert from_table == from_contexts


def test_a_harvest_returns_each_line_once(tmp_path: Path) -> None:
    module, probe = _started(tmp_path)
    module.f()
    first = probe.harvest()
    probe.switch("b")
    module.g()
    probe.stop()
    second = probe.harvest()
    filename = str(tmp_path / "probed.py")
    assert first == {"a": {filename: {2}}}
    assert second == {"b": {filename: {5}}}


needs_sysmon = pytest.mark.skipif(
    not CoverageProbe(Path.cwd()).sysmon,
    reason="coverage.py measures with sys.monitoring from Python 3.12 and its 'core' setting on",
)


@pytest.fixture
def restarts(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """Each call of ``sys.monitoring.restart_events`` (which re-arms every event)."""
    calls: list[None] = []
    real = sys.monitoring.restart_events

    def counted() -> None:
        calls.append(None)
        real()

    monkeypatch.setattr(sys.monitoring, "restart_events", counted)
    return calls


@needs_sysmon
def test_a_switch_re_arms_only_the_code_that_reported_without_restarting_every_event(
    tmp_path: Path, restarts: list[None]
) -> None:
    module, probe = _started(tmp_path, restarts)
    module.f()
    probe.switch("b")
    module.f()
    module.g()
    probe.switch("a")
    module.g()
    assert _probed_lines(probe, tmp_path) == {"a": {2, 5}, "b": {2, 5}}
    assert restarts == []


@needs_sysmon
def test_a_coverage_monitor_of_another_shape_still_gets_every_line_again(
    tmp_path: Path,
) -> None:
    module, probe = _started(tmp_path)
    probe._monitor = None  # as if coverage.py's tracer had no code objects to re-arm
    module.f()
    probe.switch("b")
    module.f()
    assert _probed_lines(probe, tmp_path) == {"a": {2}, "b": {2}}


@needs_sysmon
def test_code_first_run_after_the_last_switch_is_re_armed_too(
    tmp_path: Path, restarts: list[None]
) -> None:
    module, probe = _started(tmp_path, restarts)
    module.f()
    probe.switch("b")
    exec(
        compile("\n\ndef late():\n    return 3\n", str(tmp_path / "probed.py"), "exec"),
        vars(module),
    )
    module.late()  # a code object coverage.py met after the index was built
    probe.switch("c")
    module.late()
    module.f()
    assert _probed_lines(probe, tmp_path) == {"a": {2}, "b": {3, 4}, "c": {2, 4}}
    assert restarts == []


def test_a_coverage_py_whose_table_no_longer_gets_the_lines_is_read_through_dynamic_contexts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = CoverageProbe._find_table

    def elsewhere(self: CoverageProbe) -> None:
        found(self)
        self._table = {"elsewhere.py": set()}  # right shape, but coverage.py fills another

    monkeypatch.setattr(CoverageProbe, "_find_table", elsewhere)
    used_contexts, lines = _measure(tmp_path, use_contexts=False)
    assert used_contexts
    assert lines == {"a": {2, 9}, "b": {2, 5, 8}}


@needs_sysmon
def test_a_re_arming_that_does_not_bring_lines_back_falls_back_to_restarting_every_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restarts: list[None]
) -> None:
    monkeypatch.setattr(CoverageProbe, "_rearm", lambda self, codes: None)
    module, probe = _started(tmp_path, restarts)
    module.f()
    probe.switch("b")
    module.f()
    assert _probed_lines(probe, tmp_path) == {"a": {2}, "b": {2}}
    assert not probe.use_contexts
    assert restarts, "lines were re-armed without restart_events, which this test broke"


def test_a_scope_another_coverage_measurement_paused_is_noted_and_the_next_one_is_measured(
    tmp_path: Path,
) -> None:
    import coverage

    module, probe = _started(tmp_path)
    module.f()
    probe.switch("b")
    other = coverage.Coverage(data_file=None, config_file=False)
    other.start()  # pauses the probe's measurement: what "b" runs now is not seen
    module.g()
    other.stop()
    probe.switch("c")
    module.f()
    module.g()
    lines = _probed_lines(probe, tmp_path)
    assert probe.unmeasured == {"b"}
    assert lines["a"] == {2} and lines["c"] == {2, 5}


def test_the_start_check_leaves_nothing_of_its_own_in_a_harvest(tmp_path: Path) -> None:
    probe = CoverageProbe(tmp_path)
    probe.start("a")
    probe.stop()
    assert probe.harvest() == {}


def test_starting_does_not_read_the_call_stack_and_leaves_coverage_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import coverage.collector

    noted = coverage.collector.short_stack

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the call stack was read")

    monkeypatch.setattr("inspect.stack", refuse)
    module, probe = _started(tmp_path)
    module.f()
    probe.stop()
    assert coverage.collector.short_stack is noted
    assert probe.harvest() == {"a": {str(tmp_path / "probed.py"): {2}}}
