from __future__ import annotations

import ast

from difftest.changes.imports import imported_names


def names(source: str, package: str = "pkg.sub") -> set[str]:
    return imported_names(ast.parse(source), package)


def test_every_import_statement_counts_wherever_it_is():
    source = "import a\ndef f():\n    import b.c\ntry:\n    from d import e\nexcept ImportError:\n    pass\n"
    assert names(source) == {"a", "b.c", "d", "d.e"}


def test_relative_imports_are_made_absolute():
    assert names("from . import x\nfrom ..y import z\n") == {
        "pkg.sub",
        "pkg.sub.x",
        "pkg.y",
        "pkg.y.z",
    }


def test_literal_dynamic_imports_count():
    source = 'import importlib\nm = importlib.import_module("plugins.fast")\nn = __import__("other")\nr = importlib.import_module(".rel", "pkg")\n'
    assert {"plugins.fast", "other", "pkg.rel"} <= names(source)


def test_computed_dynamic_imports_are_left_to_run_time_recording():
    assert names("import importlib\nimportlib.import_module(name)\n") == {"importlib"}
