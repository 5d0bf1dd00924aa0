"""The bench's timed runs block the other tool by its plugin's name, and refuse a run that loaded
it anyway: a block flag naming no plugin blocks nothing, and every "plain" run would then carry
the other tool's cost (it did, with ``-p no:testmon``, until 2026-11-23)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def _bench_common() -> ModuleType:
    """bench/common.py, loaded from its file (the bench is no package)."""
    name = "difftest_bench_common"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "common.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up while being made
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_the_bench_blocks_difftest_by_the_name_of_its_pytest_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set(project["entry-points"]["pytest11"])
    common = _bench_common()
    flag, value = common.NO_DIFFTEST
    assert flag == "-p"
    assert value.startswith("no:")
    assert value[len("no:") :] in names


def test_a_timed_run_that_loaded_a_tool_it_blocked_is_refused() -> None:
    common = _bench_common()
    args = [*common.NO_DIFFTEST, *common.NO_TESTMON, "-q", "tests"]
    why = common.check_blocked(args, ["pluggy", "pytest-testmon"])
    assert why is not None
    assert "pytest-testmon was loaded" in why
    assert " ".join(common.NO_TESTMON) in why
    why = common.check_blocked(args, ["difftest"])
    assert why is not None and "difftest was loaded" in why


def test_a_timed_run_that_loaded_only_what_it_did_not_block_passes() -> None:
    common = _bench_common()
    assert (
        common.check_blocked([*common.NO_DIFFTEST, "-q", "--testmon"], ["pytest-testmon"]) is None
    )
    assert common.check_blocked(["-q", "--diff-baseline"], ["difftest", "pytest-testmon"]) is None
    assert common.check_blocked([*common.NO_DIFFTEST, *common.NO_TESTMON], ["pluggy"]) is None
