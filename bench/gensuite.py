"""A generated project with many trivial tests, for selection time at scale.

``modules`` source modules ``genpkg/mod_NNN.py`` (each importing ``genpkg/common.py``, ten small
functions), and as many test files ``tests/test_mod_NNN.py`` with ``tests_per_file`` tests each;
test ``j`` calls function ``f{j % 10}`` of its module. Editing one function body of one module
therefore affects ``tests_per_file / 10`` tests. The tests raise AssertionError themselves rather
than use ``assert``: pytest's assertion rewriting of 50,000 asserts alone takes minutes, and
that is not what is measured.
"""

from __future__ import annotations

import shutil
from pathlib import Path

FUNCTIONS = 10

_COMMON = '''"""Shared by every generated module."""


def base(x):
    return x * 2 - x
'''

_INI = """[pytest]
pythonpath = .
testpaths = tests
"""


def _module(i: int) -> str:
    lines = [f'"""Generated module {i}."""', "", "from genpkg import common", ""]
    for f in range(FUNCTIONS):
        lines += ["", f"def f{f}(x):", f"    return common.base(x) + {f}", ""]
    return "\n".join(lines)


def _tests(i: int, count: int) -> str:
    lines = [f"from genpkg import mod_{i:03d} as m", ""]
    for j in range(count):
        f = j % FUNCTIONS
        lines += [
            "",
            f"def test_{j:03d}():",
            f"    if m.f{f}({j}) != {j + f}:",
            "        raise AssertionError",
            "",
        ]
    return "\n".join(lines)


def generate(root: Path, modules: int, tests_per_file: int) -> Path:
    """Write the project at ``root`` (replacing what is there); return ``root``."""
    if root.exists():
        shutil.rmtree(root)
    (root / "genpkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pytest.ini").write_text(_INI)
    (root / "genpkg" / "__init__.py").write_text("")
    (root / "genpkg" / "common.py").write_text(_COMMON)
    for i in range(modules):
        (root / "genpkg" / f"mod_{i:03d}.py").write_text(_module(i))
        (root / "tests" / f"test_mod_{i:03d}.py").write_text(_tests(i, tests_per_file))
    return root


def change_one_function(root: Path, module: int, function: int = 3) -> str:
    """Edit the body of ``f{function}`` in one module (same result, different code); return
    the root-relative path changed."""
    rel = f"genpkg/mod_{module:03d}.py"
    path = root / rel
    text = path.read_text()
    old = f"    return common.base(x) + {function}\n"
    if old not in text:
        raise ValueError(f"{rel} has no f{function} body to change")
    path.write_text(text.replace(old, f"    return common.base(x) + {function} + 0\n", 1))
    return rel


def restore_function(root: Path, module: int, function: int = 3) -> None:
    path = root / f"genpkg/mod_{module:03d}.py"
    text = path.read_text()
    path.write_text(text.replace(f"+ {function} + 0\n", f"+ {function}\n", 1))
