"""The one-way data flow of docs/architecture.md, checked on the imports of src/difftest."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "difftest"
CORE = {"model", "errors", "config"}
STAGES = ["changes", "graph", "selection", "runners", "cli", "storage"]
# Front ends (runners, cli) may use storage: they load records and write them back.
ALLOWED = {
    "changes": set(),
    "graph": {"changes"},
    "selection": {"changes", "graph"},
    "runners": {"changes", "graph", "selection", "storage"},
    "cli": {"changes", "graph", "selection", "storage"},
    "storage": {"changes"},
}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "difftest" or len(parts) < 2:
        return None
    return parts[1]


def test_every_stage_imports_only_earlier_stages_and_the_core():
    offences = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if len(rel.parts) == 1:
            continue  # the package __init__, __main__ and core modules
        own = rel.parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                target = _stage(node.module)
            elif isinstance(node, ast.Import):
                target = next((_stage(a.name) for a in node.names if _stage(a.name)), None)
            else:
                continue
            if target and target != own and target not in CORE and target not in ALLOWED[own]:
                offences.append(f"{rel}:{node.lineno} imports difftest.{target}")
    assert offences == []


def test_the_core_imports_no_stage():
    for name in CORE:
        path = SRC / f"{name}.py"
        if path.exists():
            tree = ast.parse(path.read_text())
            imported = {
                n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
            }
            assert not {m for m in imported if _stage(m) in STAGES}, name


def test_every_public_name_is_listed_once_and_imports_from_the_package():
    import difftest

    # The package's __init__ imports its API on first use: each name in __all__ must have a
    # module to come from, and come from it.
    assert sorted(difftest.__all__) == sorted(difftest._PUBLIC)
    for name in difftest.__all__:
        value = getattr(difftest, name)
        assert getattr(value, "__module__", None) == difftest._PUBLIC[name], name
    assert not hasattr(difftest, "no_such_name")
