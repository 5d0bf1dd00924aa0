"""The coverage probe credits executed lines to the scope they ran in, whichever way it reads
coverage.py: from its collector's table, or (on a coverage.py it does not know) with dynamic
contexts."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType

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


def _measure(root: Path, *, use_contexts: bool) -> tuple[bool, dict[str, set[int]]]:
    module = _load(root)
    probe = CoverageProbe(root, use_contexts=use_contexts)
    probe.start("a")
    module.f()
    probe.switch("b")
    module.f()  # again, in another scope: a line reported once must report again
    module.g()
    generator = module.gen()
    next(generator)
    probe.switch("a")
    next(generator)  # resumed in another scope
    probe.stop()
    harvested = probe.harvest()
    filename = str(root / "probed.py")
    return probe.use_contexts, {ctx: files.get(filename, set()) for ctx, files in harvested.items()}


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
    module = _load(tmp_path)
    probe = CoverageProbe(tmp_path)
    probe.start("a")
    module.f()
    first = probe.harvest()
    probe.switch("b")
    module.g()
    probe.stop()
    second = probe.harvest()
    filename = str(tmp_path / "probed.py")
    assert first == {"a": {filename: {2}}}
    assert second == {"b": {filename: {5}}}
