"""Static import extraction: which modules a source file can import.

Every import statement counts, wherever it is (module level, functions, try/except, doctest
examples in strings), and so do `importlib.import_module("literal")`, `__import__("literal")` and
`pytest.importorskip("literal")` calls. Names are made absolute;
resolving them to files is the graph stage's job.
"""

from __future__ import annotations

import ast

from difftest.changes.blocks import walk


def _resolve_relative(name: str | None, level: int, package: str) -> str | None:
    if level == 0:
        return name
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if name:
        base.append(name)
    return ".".join(base) if base else None


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def doctest_imports(text: str, package: str) -> set[str]:
    """Modules imported by the doctest examples in ``text`` (`>>> import limits`)."""
    found: set[str] = set()
    for line in text.splitlines():
        source = line.strip()
        if not source.startswith(">>> ") or "import" not in source:
            continue
        try:
            example = ast.parse(source[4:])
        except SyntaxError:
            continue
        found |= imported_names(example, package)
    return found


def imported_names(tree: ast.Module, package: str) -> set[str]:
    """Absolute dotted names a module may import. ``package`` is the module's package
    (``a.b`` for ``a/b/c.py`` and for ``a/b/__init__.py``), used for relative imports.

    For ``from a import b`` both ``a`` and ``a.b`` are returned: ``b`` may be a submodule.
    """
    names: set[str] = set()
    for node in walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ">>>" in node.value:
            names |= doctest_imports(node.value, package)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(node.module, node.level, package)
            if base is None:
                continue
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif (
            isinstance(node, ast.Call)
            and _call_name(node.func)
            in (
                "import_module",
                "__import__",
                "importorskip",
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            target = node.args[0].value
            if isinstance(target, str) and target:
                level = len(target) - len(target.lstrip("."))
                anchor = package
                if level and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    anchor = str(node.args[1].value)
                resolved = _resolve_relative(target.lstrip(".") or None, level, anchor)
                if resolved:
                    names.add(resolved)
    return names
