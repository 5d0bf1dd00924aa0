"""The record builder on its own: what a record holds, without a pytest run."""

from __future__ import annotations

from pathlib import Path

from difftest.changes.scan import FileHasher
from difftest.model import ABSENT, DATA_BLOCK, Dependency
from difftest.runners.pytest.probes import ProjectPaths
from difftest.runners.pytest.records import RecordBuilder


class _PerFileBuilder(RecordBuilder):
    shadow_paths = True  # as the Pants sandbox plugin builds records


def test_a_dangling_link_where_a_module_would_shadow_an_import_counts_as_absent(
    tmp_path: Path,
) -> None:
    """A link to nothing imports as nothing: once it points at a file, that file shadows
    ``import yaml``, so the record must hold the path absent, as for no link at all."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("import yaml\n\ndef test_a():\n    pass\n")
    (tmp_path / "tests" / "yaml.py").symlink_to("nowhere.py")
    paths = ProjectPaths(tmp_path)
    builder = _PerFileBuilder(paths, FileHasher(tmp_path), cache_size=100, env={})
    builder.import_roots.add("tests")
    record = builder.record("tests/test_a.py::test_a", "tests/test_a.py", "passed", 0.0)
    for path in ("tests/yaml.py", "tests/yaml/__init__.py", "yaml.py", "yaml/__init__.py"):
        assert Dependency(path, ABSENT, DATA_BLOCK, ABSENT) in record.deps, path
