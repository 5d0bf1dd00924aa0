from __future__ import annotations

from difftest.graph.modules import ImportGraph, ModuleIndex

FILES = {
    "src/pkg/__init__.py": b"",
    "src/pkg/a.py": b"from .b import X\nimport requests\n",
    "src/pkg/b.py": b"import importlib\nX = 1\ndef f():\n    importlib.import_module('pkg.c')\n",
    "src/pkg/c.py": b"Y = 2\n",
    "src/pkg/unused.py": b"Z = 3\n",
    "tests/test_a.py": b"from pkg.a import X\n",
}


def graph() -> ImportGraph:
    index = ModuleIndex(["src", "tests"], FILES)
    return ImportGraph(index, FILES.get)


def test_module_names_come_from_the_longest_import_root():
    index = ModuleIndex(["", "src"], FILES)
    assert index.module_of("src/pkg/a.py") == "pkg.a"
    assert index.module_of("src/pkg/__init__.py") == "pkg"
    assert index.files_for("pkg.a.X") == ["src/pkg/__init__.py", "src/pkg/a.py"]


def test_the_closure_follows_imports_at_any_depth_and_package_inits():
    closure = graph().closure(["tests/test_a.py"])
    assert closure.files == {
        "tests/test_a.py",
        "src/pkg/a.py",
        "src/pkg/b.py",
        "src/pkg/c.py",
        "src/pkg/__init__.py",
    }
    assert "requests" in closure.external


def test_run_time_edges_join_the_closure():
    g = graph()
    g.add_edge("src/pkg/c.py", "src/pkg/unused.py", "import")
    g.add_edge("src/pkg/c.py", "data/table.csv", "data")
    closure = g.closure(["tests/test_a.py"])
    assert "src/pkg/unused.py" in closure.files
    assert closure.data == {"data/table.csv"}


def test_an_unparseable_file_is_still_in_the_closure():
    files = dict(FILES, **{"src/pkg/c.py": b"def (:\n"})
    g = ImportGraph(ModuleIndex(["src", "tests"], files), files.get)
    assert "src/pkg/c.py" in g.closure(["tests/test_a.py"]).files
