"""Hand-written scenarios: the known hard cases for coverage-based selection, one tiny project each.

Random mutants rarely land on these, so each gets its own project: a baseline on the original,
one edit, then the same three runs as the mutation benchmark (full run = ground truth,
``pytest --diff``, ``pytest --testmon``) and the same safety check.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import WORK, BenchError, Venv, log
from mutation import TOOLS, _args, _missed, _pytest_run


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    files: dict[str, str]
    edit_path: str
    #: Replaced by ``new`` in ``edit_path``; empty: ``edit_path`` is created with ``new``.
    old: str
    new: str


_INI = "[pytest]\npythonpath = .\n"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="memoized-function",
        what="a functools.lru_cache function called by two tests; its body edited. Only the first "
        "test to call it executes the body, the second gets the cached value",
        files={
            "pkg/__init__.py": "",
            "pkg/mod.py": "import functools\n\n\n@functools.lru_cache(maxsize=None)\ndef cached():\n    return 1\n",
            "tests/test_cache.py": "from pkg import mod\n\n\ndef test_c1():\n    assert mod.cached() == 1\n\n\n"
            "def test_c2():\n    assert mod.cached() == 1\n",
        },
        edit_path="pkg/mod.py",
        old="    return 1\n",
        new="    return 2\n",
    ),
    Scenario(
        name="lazy-module-cache",
        what="a module-level dict filled on first use by a helper; the helper's body edited",
        files={
            "pkg/__init__.py": "",
            "pkg/conf.py": "_CACHE = {}\n\n\ndef _load():\n    return {'level': 1}\n\n\n"
            "def get(key):\n    if not _CACHE:\n        _CACHE.update(_load())\n    return _CACHE[key]\n",
            "tests/test_a.py": "from pkg import conf\n\n\ndef test_a():\n    assert conf.get('level') == 1\n",
            "tests/test_b.py": "from pkg import conf\n\n\ndef test_b():\n    assert conf.get('level') == 1\n",
        },
        edit_path="pkg/conf.py",
        old="{'level': 1}",
        new="{'level': 2}",
    ),
    Scenario(
        name="singleton-instance-cache",
        what="a module-level instance caching a method's results; the method's body edited",
        files={
            "pkg/__init__.py": "",
            "pkg/registry.py": "class Registry:\n    def __init__(self):\n        self._values = {}\n\n"
            "    def value(self, key):\n        if key not in self._values:\n"
            "            self._values[key] = self._compute(key)\n        return self._values[key]\n\n"
            "    def _compute(self, key):\n        return key * 2\n\n\nREGISTRY = Registry()\n",
            "tests/test_a.py": "from pkg.registry import REGISTRY\n\n\ndef test_a():\n"
            "    assert REGISTRY.value(2) == 4\n",
            "tests/test_b.py": "from pkg.registry import REGISTRY\n\n\ndef test_b():\n"
            "    assert REGISTRY.value(2) == 4\n",
        },
        edit_path="pkg/registry.py",
        old="return key * 2",
        new="return key * 3",
    ),
    Scenario(
        name="home-made-memo-decorator",
        what="a function memoized by a closure-based decorator of the same module; its body edited",
        files={
            "pkg/__init__.py": "",
            "pkg/calc.py": "def remember(func):\n    found = {}\n\n    def wrapper(key):\n"
            "        if key not in found:\n            found[key] = func(key)\n"
            "        return found[key]\n\n    return wrapper\n\n\n"
            "@remember\ndef double(key):\n    return key * 2\n",
            "tests/test_a.py": "from pkg.calc import double\n\n\ndef test_a():\n    assert double(2) == 4\n",
            "tests/test_b.py": "from pkg.calc import double\n\n\ndef test_b():\n    assert double(2) == 4\n",
        },
        edit_path="pkg/calc.py",
        old="return key * 2",
        new="return key * 3",
    ),
    Scenario(
        name="function-run-at-import",
        what="a module constant computed by calling a function at import time; the function's body edited",
        files={
            "pkg/__init__.py": "",
            "pkg/mod.py": "def build():\n    return 1\n\n\nVALUE = build()\n",
            "tests/test_value.py": "from pkg.mod import VALUE\n\n\ndef test_value():\n    assert VALUE == 1\n",
        },
        edit_path="pkg/mod.py",
        old="    return 1\n",
        new="    return 2\n",
    ),
    Scenario(
        name="registration-decorator",
        what="a decorator that registers functions at import time; the decorator's body edited",
        files={
            "pkg/__init__.py": "",
            "pkg/registry.py": "REGISTRY = {}\n\n\ndef register(f):\n    REGISTRY[f.__name__] = 1\n    return f\n",
            "pkg/handlers.py": "from pkg.registry import register\n\n\n@register\ndef handle():\n    return 0\n",
            "tests/test_registry.py": "import pkg.handlers\nfrom pkg.registry import REGISTRY\n\n\n"
            "def test_registered():\n    assert REGISTRY['handle'] == 1\n",
        },
        edit_path="pkg/registry.py",
        old="REGISTRY[f.__name__] = 1",
        new="REGISTRY[f.__name__] = 2",
    ),
    Scenario(
        name="session-fixture",
        what="a session-scoped fixture in conftest.py used by two tests; its body edited. It runs "
        "once, in the first test's setup",
        files={
            "tests/conftest.py": "import pytest\n\n\n@pytest.fixture(scope='session')\ndef value():\n    return 10\n",
            "tests/test_s.py": "def test_s1(value):\n    assert value == 10\n\n\ndef test_s2(value):\n    assert value == 10\n",
        },
        edit_path="tests/conftest.py",
        old="    return 10\n",
        new="    return 20\n",
    ),
    Scenario(
        name="parametrize-at-collection",
        what="parametrize values produced by a source function at collection time; its body edited "
        "so that a new, failing parameter appears",
        files={
            "pkg/__init__.py": "",
            "pkg/mod.py": "def params():\n    return [1, 2]\n",
            "tests/test_p.py": "import pytest\nfrom pkg import mod\n\n\n@pytest.mark.parametrize('x', mod.params())\n"
            "def test_p(x):\n    assert x < 3\n",
        },
        edit_path="pkg/mod.py",
        old="[1, 2]",
        new="[1, 4]",
    ),
    Scenario(
        name="constant-imported-by-name",
        what="`from a import LIMIT` in another module, used in a function the test calls; LIMIT edited",
        files={
            "pkg/__init__.py": "",
            "pkg/a.py": "LIMIT = 3\n",
            "pkg/b.py": "from pkg.a import LIMIT\n\n\ndef ok(x):\n    return x < LIMIT\n",
            "tests/test_b.py": "from pkg.b import ok\n\n\ndef test_ok():\n    assert ok(2)\n",
        },
        edit_path="pkg/a.py",
        old="LIMIT = 3",
        new="LIMIT = 2",
    ),
    Scenario(
        name="inherited-class-attribute",
        what="a class attribute of a base class in another module, read through a subclass",
        files={
            "pkg/__init__.py": "",
            "pkg/base.py": "class Base:\n    size = 3\n",
            "pkg/child.py": "from pkg.base import Base\n\n\nclass Child(Base):\n    def double(self):\n        return self.size * 2\n",
            "tests/test_child.py": "from pkg.child import Child\n\n\ndef test_double():\n    assert Child().double() == 6\n",
        },
        edit_path="pkg/base.py",
        old="size = 3",
        new="size = 4",
    ),
    Scenario(
        name="data-file-read-at-import",
        what="a module reads a data file at import time; the data file edited",
        files={
            "pkg/__init__.py": "",
            "pkg/settings.txt": "7\n",
            "pkg/settings.py": "from pathlib import Path\n\nLEVEL = int((Path(__file__).parent / 'settings.txt').read_text())\n",
            "tests/test_settings.py": "from pkg.settings import LEVEL\n\n\ndef test_level():\n    assert LEVEL == 7\n",
        },
        edit_path="pkg/settings.txt",
        old="7\n",
        new="8\n",
    ),
    Scenario(
        name="class-found-by-name-in-a-data-file",
        what="a helper finds a class with pkgutil.resolve_name from a name in a data file, another "
        "lists its attributes; the class attribute edited (no code the test runs names it)",
        files={
            "pkg/__init__.py": "from . import plugins\n",
            "pkg/plugins.py": "class Plugin:\n    options = {'a': 1}\n",
            "pkg/spec.txt": "pkg.plugins:Plugin\n",
            "pkg/tools.py": "import pkgutil\nfrom pathlib import Path\n\n\ndef load():\n"
            "    return pkgutil.resolve_name((Path(__file__).parent / 'spec.txt').read_text().strip())\n"
            "\n\ndef dump(obj):\n    return dict(vars(obj))\n",
            "tests/test_tools.py": "from pkg.tools import dump, load\n\n\ndef test_dump():\n"
            "    assert {'a': 1} in dump(load()).values()\n",
        },
        edit_path="pkg/plugins.py",
        old="{'a': 1}",
        new="{'a': 2}",
    ),
    Scenario(
        name="package-data-read-with-get-data",
        what="a package data file read with pkgutil.get_data (through the import system's loader, "
        "not open); the data file edited",
        files={
            "pkg/__init__.py": "",
            "pkg/rates.json": '{"rate": 1}\n',
            "pkg/rates.py": "import json\nimport pkgutil\n\n\ndef rate():\n"
            "    return json.loads(pkgutil.get_data('pkg', 'rates.json'))['rate']\n",
            "tests/test_rates.py": "from pkg.rates import rate\n\n\ndef test_rate():\n"
            "    assert rate() == 1\n",
        },
        edit_path="pkg/rates.json",
        old='"rate": 1',
        new='"rate": 2',
    ),
    Scenario(
        name="python-file-run-with-exec",
        what="a Python file read as text and run with exec (never imported); the file edited",
        files={
            "pkg/__init__.py": "",
            "pkg/defaults.py": "LEVEL = 1\n",
            "pkg/conf.py": "from pathlib import Path\n\n\ndef level():\n    namespace = {}\n"
            "    exec((Path(__file__).parent / 'defaults.py').read_text(), namespace)\n"
            "    return namespace['LEVEL']\n",
            "tests/test_conf.py": "from pkg.conf import level\n\n\ndef test_level():\n"
            "    assert level() == 1\n",
        },
        edit_path="pkg/defaults.py",
        old="LEVEL = 1",
        new="LEVEL = 2",
    ),
    Scenario(
        name="new-conftest-overrides-a-fixture",
        what="a conftest.py created in a test sub-directory overrides a fixture of the parent "
        "conftest",
        files={
            "tests/conftest.py": "import pytest\n\n\n@pytest.fixture\ndef number():\n    return 1\n",
            "tests/sub/test_number.py": "def test_number(number):\n    assert number == 1\n",
        },
        edit_path="tests/sub/conftest.py",
        old="",
        new="import pytest\n\n\n@pytest.fixture\ndef number():\n    return 2\n",
    ),
    Scenario(
        name="skipped-module-becomes-importable",
        what="a test skipped by pytest.importorskip for a missing module; the module created",
        files={
            "tests/test_optional.py": "import pytest\n\n\n@pytest.mark.parametrize('name', ['json', 'fancyjson'])\n"
            "def test_loads(name):\n    lib = pytest.importorskip(name)\n    assert lib.loads('[1]') == [1]\n",
        },
        edit_path="fancyjson.py",
        old="",
        new="def loads(text):\n    return text\n",
    ),
)


def _write(root: Path, scenario: Scenario) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text(_INI)
    for rel, text in scenario.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def run_scenario(venv: Venv, scenario: Scenario) -> dict[str, Any]:
    base = WORK / "scenarios" / scenario.name
    trees = {name: base / name for name in ("full", "difftest", "testmon")}
    for tree in trees.values():
        _write(tree, scenario)
    args = {k: [a for a in v if a != "tests"] for k, v in _args_for_scenarios().items()}
    reports = base / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    for name, key in (("difftest", "difftest-baseline"), ("testmon", "testmon")):
        out = _pytest_run(venv, trees[name], args[key], reports / f"{name}-baseline.json", 300)
        if out.error or out.failed:
            raise BenchError(
                f"scenario {scenario.name}: {name} baseline failed ({out.error})\n{out.output_tail}"
            )
    for tree in trees.values():
        path = tree / scenario.edit_path
        if not scenario.old:
            if path.exists():
                raise BenchError(f"scenario {scenario.name}: {scenario.edit_path} exists")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(scenario.new)
            continue
        text = path.read_text()
        if scenario.old not in text:
            raise BenchError(
                f"scenario {scenario.name}: {scenario.old!r} not in {scenario.edit_path}"
            )
        path.write_text(text.replace(scenario.old, scenario.new, 1))
    outcomes = {
        name: _pytest_run(venv, trees[name], args[name], reports / f"{name}.json", 300)
        for name in trees
    }
    truth = outcomes["full"]
    record: dict[str, Any] = {
        "name": scenario.name,
        "what": scenario.what,
        "edit": f"{scenario.edit_path}: {scenario.old.strip()!r} -> {scenario.new.strip()!r}"
        if scenario.old
        else f"{scenario.edit_path} created",
        "failing": sorted(truth.failed),
        "tests": len(truth.tests),
    }
    for tool in TOOLS:
        out = outcomes[tool]
        record[tool] = {
            "ran": sorted(out.tests),
            "missed": ["<tool run failed>"] if out.error else _missed(truth, out, set()),
        }
        if out.error:
            record[tool]["error"] = out.error
            record[tool]["output_tail"] = out.output_tail
    return record


def _args_for_scenarios() -> dict[str, list[str]]:
    from projects import Project

    return _args(Project(name="scenario", version="0", sources=(), test_args=()))


def run_all(venv: Venv) -> list[dict[str, Any]]:
    records = []
    for scenario in SCENARIOS:
        rec = run_scenario(venv, scenario)
        log(
            f"scenario {scenario.name}: {len(rec['failing'])} failing; "
            + ", ".join(
                f"{t} ran {len(rec[t]['ran'])}, missed {len(rec[t]['missed'])}" for t in TOOLS
            )
        )
        records.append(rec)
    return records


if __name__ == "__main__":
    import json

    from common import make_venv

    print(json.dumps(run_all(make_venv("3.12")), indent=2))
