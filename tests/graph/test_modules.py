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


def test_an_extension_module_is_data_in_the_closure_of_what_imports_it():
    files = {
        "src/pkg/__init__.py": b"",
        "src/pkg/wrap.py": b"from pkg import fast\n",
        "src/pkg/fast.py": b"def pure(): ...\n",  # the pure-Python fallback beside the build
        "src/pkg/fast.cpython-312-x86_64-linux-gnu.so": b"\x7fELF",
        "src/speedups.abi3.so": b"\x7fELF",
        "tests/test_wrap.py": b"from pkg.wrap import *\nimport speedups\n",
    }
    index = ModuleIndex(["src", "tests"], files)
    assert index.files_for("pkg.fast") == [
        "src/pkg/__init__.py",
        "src/pkg/fast.py",
        "src/pkg/fast.cpython-312-x86_64-linux-gnu.so",
    ]
    closure = ImportGraph(index, files.get).closure(["tests/test_wrap.py"])
    assert closure.data == {"src/pkg/fast.cpython-312-x86_64-linux-gnu.so", "src/speedups.abi3.so"}
    assert "src/pkg/fast.py" in closure.files
    assert "speedups" not in closure.external  # the project's own module, not an installed one
