"""Project files, file hashes, importorskip, and installed distributions."""

from __future__ import annotations

import ast
import email
import importlib.metadata
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from difftest.changes import environment
from difftest.changes.imports import imported_names
from difftest.changes.scan import (
    FileHasher,
    extensions_key,
    is_data_path,
    is_project_path,
    iter_module_files,
    listing_names,
    listing_names_of_files,
    top_packages,
)


def test_build_and_env_directories_are_skipped_only_at_the_top(tmp_path: Path) -> None:
    for rel in (
        "build/lib/app.py",
        "env/pyvenv.cfg",
        "env/lib/x.py",
        "src/app/build/steps.py",
        "src/app/env/vars.py",
        "src/app/fast.cpython-312-x86_64-linux-gnu.so",
        "src/app/libfoo-1.2.so",
        "build/lib/app/fast.abi3.so",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    # Extension modules are modules too; a library that is not one (no module name) is not.
    assert sorted(iter_module_files(tmp_path)) == [
        "src/app/build/steps.py",
        "src/app/env/vars.py",
        "src/app/fast.cpython-312-x86_64-linux-gnu.so",
    ]
    assert is_project_path("src/app/build/steps.py")
    assert not is_project_path("build/lib/app.py")
    assert not is_project_path("src/__pycache__/app.cpython-312.pyc")


def test_a_top_level_directory_named_like_a_virtualenv_counts_when_it_is_a_package(
    tmp_path: Path,
) -> None:
    files = ["env/__init__.py", "env/settings.py", "venv/pyvenv.cfg", "venv/lib/x.py", "app.py"]
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert top_packages(tmp_path) == {"env"}
    assert sorted(iter_module_files(tmp_path)) == ["app.py", "env/__init__.py", "env/settings.py"]
    assert is_project_path("env/settings.py", top_packages(tmp_path))
    assert not is_project_path("env/settings.py")
    # The disk and a file set (Pants' sandbox view) list the root alike.
    assert sorted(listing_names(tmp_path, "") or []) == ["app.py", "env/"]
    assert listing_names_of_files(files, "") == ["app.py", "env/"]


def test_a_top_level_directory_named_like_a_virtualenv_that_is_none_holds_project_files(
    tmp_path: Path,
) -> None:
    files = ["env/staging.json", "venv/bin/python", "venv/lib/x.py", ".venv/pyvenv.cfg", "a.py"]
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert top_packages(tmp_path) == {"env"}
    assert is_data_path("env/staging.json", top_packages(tmp_path))
    assert not is_data_path("venv/lib/x.py", top_packages(tmp_path))
    # The disk and a file set (Pants' sandbox view) list the root alike.
    assert sorted(listing_names(tmp_path, "") or []) == ["a.py", "env/"]
    assert listing_names_of_files(files, "") == ["a.py", "env/"]


def test_data_counts_under_names_of_installed_code_unless_laid_out_as_an_installation() -> None:
    for rel in (
        "node_modules/lib/package.json",
        "tests/fixtures/site-packages/foo/version.txt",
        "tests/fixtures/demo.egg-info/PKG-INFO",
        "tests/fixtures/.venv/pyvenv.cfg",
        "dist/app-1.0.whl",
        ".env",
    ):
        assert is_data_path(rel), rel
    for rel in (
        ".venv/lib/python3.12/site-packages/certifi/cacert.pem",
        "services/api/.venv/lib/python3.12/site-packages/certifi/cacert.pem",
        "tools/Lib/site-packages/x.txt",
        "env/lib/python3.12/site-packages/x.txt",
        ".git/HEAD",
        "src/__pycache__/app.cpython-312.pyc",
        "a/.pytest_cache/v/x",
    ):
        assert not is_data_path(rel), rel


def test_a_files_version_marks_its_executable_bit_and_where_a_link_points(
    tmp_path: Path,
) -> None:
    (tmp_path / "run.sh").write_text("echo hi\n")
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    plain = FileHasher(tmp_path).hash("run.sh")
    (tmp_path / "run.sh").chmod(0o755)
    executable = FileHasher(tmp_path).hash("run.sh")
    assert plain is not None and executable is not None and executable != plain
    assert executable.startswith(plain)
    os.symlink("run.sh", tmp_path / "link.sh")
    os.symlink("v1", tmp_path / "current")
    linked = FileHasher(tmp_path).hash("link.sh")
    assert linked is not None and linked.startswith(executable) and linked != executable
    was = FileHasher(tmp_path).data_version("current")
    (tmp_path / "current").unlink()
    os.symlink("v2", tmp_path / "current")
    assert FileHasher(tmp_path).data_version("current") != was
    assert FileHasher(tmp_path).data_version("v1") == "directory"
    unmarked = FileHasher(tmp_path)
    unmarked.marks_modes = False  # as Pants values a sandbox: by content alone
    assert unmarked.hash("link.sh") == plain
    assert unmarked.data_version("current") == "directory"


def test_a_chmod_is_seen_through_the_stat_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "run.sh"
    script.write_text("echo hi\n")
    _clock_ahead(monkeypatch)
    first = FileHasher(tmp_path)
    plain = first.hash("run.sh")
    assert "run.sh" in first.updated
    script.chmod(0o755)
    assert FileHasher(tmp_path, first.updated).hash("run.sh") != plain


def test_the_environment_a_started_process_inherits_names_what_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(environment, "_environ_at_start", {"HOME": "/root", "MODE": "a"})
    was = environment.spawn_environ_value()
    assert "/root" not in was
    monkeypatch.setattr(
        environment,
        "_environ_at_start",
        {"HOME": "/root", "APP_MODE": "dev", "OLDPWD": "/x", "PYTEST_XDIST_WORKER": "gw1"},
    )
    now = environment.spawn_environ_value()
    assert environment.describe_spawn_environ_change(was, now) == (
        "the environment a started process inherits changed (APP_MODE set, MODE unset)"
    )
    monkeypatch.setattr(environment, "_environ_at_start", {"HOME": "/root", "APP_MODE": "x"})
    assert environment.spawn_environ_value() != now
    assert environment.describe_spawn_environ_change(now, environment.spawn_environ_value()) == (
        "the environment a started process inherits changed (APP_MODE changed)"
    )
    assert environment.current_value(environment.SPAWN_ENVIRON_KEY).startswith("2 variables ")


def _clock_ahead(monkeypatch: pytest.MonkeyPatch, seconds: float = 60) -> float:
    """Move the clock FileHasher reads on, so that files written now count as settled (their
    ctime cannot be set back); returns the new time."""
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + int(seconds * 1e9))
    return time.time_ns() / 1e9


def test_a_file_modified_just_now_is_hashed_but_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = tmp_path / "fresh.py"
    fresh.write_text("x = 1\n")
    settled = tmp_path / "settled.py"
    settled.write_text("x = 2\n")
    now = _clock_ahead(monkeypatch)
    os.utime(fresh, (now, now))
    hasher = FileHasher(tmp_path)
    assert hasher.hash("fresh.py") and hasher.hash("settled.py")
    # A same-size edit of the fresh file within the timestamp granularity could keep its
    # stat: its hash must be read again next time.
    assert set(hasher.updated) == {"settled.py"}


def test_a_file_rewritten_just_now_with_its_mtime_put_back_is_hashed_but_not_cached(
    tmp_path: Path,
) -> None:
    restored = tmp_path / "restored.txt"
    restored.write_text("red\n")
    past = time.time() - 60
    os.utime(restored, (past, past))
    hasher = FileHasher(tmp_path)
    assert hasher.hash("restored.txt")
    # Its ctime says it changed just now: a second such rewrite could keep the whole stat.
    assert hasher.updated == {}


def test_a_same_size_rewrite_with_its_mtime_put_back_is_hashed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files unpacked from a reproducible archive, Nix store files (mtime 1), `cp -p`,
    # `touch -r` and `rsync -t` all change content and keep size and mtime.
    colour = tmp_path / "colour.txt"
    colour.write_text("red\n")
    os.utime(colour, ns=(1_000_000_000, 1_000_000_000))
    _clock_ahead(monkeypatch)
    first = FileHasher(tmp_path)
    red = first.hash("colour.txt")
    assert set(first.updated) == {"colour.txt"}
    assert FileHasher(tmp_path, first.updated).hash("colour.txt") == red

    cached_ctime = colour.stat().st_ctime_ns
    deadline = time.monotonic() + 5
    while True:  # until the file system's ctime granularity shows the rewrite
        colour.write_text("blu\n")
        os.utime(colour, ns=(1_000_000_000, 1_000_000_000))
        if colour.stat().st_ctime_ns != cached_ctime or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert FileHasher(tmp_path, first.updated).hash("colour.txt") != red


def test_a_cached_hash_is_trusted_only_while_mtime_size_ctime_and_inode_all_match(
    tmp_path: Path,
) -> None:
    (tmp_path / "data.txt").write_text("data\n")
    st = os.stat(tmp_path / "data.txt")
    stat = (st.st_mtime_ns, st.st_size, st.st_ctime_ns, st.st_ino)
    assert FileHasher(tmp_path, {"data.txt": (*stat, "cached")}).hash("data.txt") == "cached"
    for field in range(4):
        other = tuple(v + 1 if i == field else v for i, v in enumerate(stat))
        cache = {"data.txt": (*other, "cached")}
        assert FileHasher(tmp_path, cache).hash("data.txt") not in (None, "cached"), field


def test_a_directorys_extension_modules_are_read_again_only_when_its_entries_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "fast.py").write_text("")
    (app / "libfoo-1.2.so").write_text("")  # a library, not a module
    _clock_ahead(monkeypatch)
    key = extensions_key("app")
    first = FileHasher(tmp_path)
    assert first.hash(key) == "none"
    assert first.hash(extensions_key("missing")) is None
    assert first.data_version(extensions_key("missing")) == "absent"
    assert set(first.updated) == {key}  # settled: its directory's stat answers next time

    (app / "fast.cpython-312-x86_64-linux-gnu.so").write_text("")
    (app / "fast.abi3.so").write_text("")
    # A new entry changes the directory's mtime: the cached value is not used.
    second = FileHasher(tmp_path, first.updated)
    assert second.hash(key) == "fast.abi3.so,fast.cpython-312-x86_64-linux-gnu.so"
    assert second.hash(extensions_key("")) == "none"


def test_importorskip_with_a_literal_name_is_an_import() -> None:
    tree = ast.parse('import pytest\nnp = pytest.importorskip("numpy")\n')
    assert "numpy" in imported_names(tree, "")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    info = tmp_path / "tinydist-1.5.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tinydist\nVersion: 1.5\nRequires-Dist: pytest\n"
    )
    (info / "RECORD").write_text("tiny_mod/__init__.py,,\ntinydist-1.5.dist-info/METADATA,,\n")
    (tmp_path / "tiny_mod").mkdir()
    (tmp_path / "tiny_mod" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    environment.refresh()
    yield tmp_path
    environment.refresh()


def test_a_module_maps_to_its_distribution_and_what_it_requires(site: Path) -> None:
    assert environment.installed()["tinydist"] == "1.5"
    dists = environment.distributions_for_modules(["tiny_mod"])
    assert {"tinydist", "pytest", "pluggy"} <= dists


def test_a_module_nothing_provides_and_nothing_can_import_is_missing(site: Path) -> None:
    assert environment.missing_modules(["tiny_mod", "os", "surely_not_installed_xyz"]) == {
        "surely_not_installed_xyz"
    }


def test_every_distribution_counts_by_name_version_and_entry_points_not_by_local_files(
    site: Path,
) -> None:
    """What enumerating the distributions finds: a local rebuild (a new RECORD under the same
    version) leaves it as it was; a new entry point does not."""
    info = site / "tinydist-1.5.dist-info"
    (info / "direct_url.json").write_text('{"url": "file:///src/tinydist", "dir_info": {}}')
    environment.refresh()
    before = environment.distributions_value()
    assert " (files " in environment.installed()["tinydist"]  # its importers see rebuilds

    (info / "RECORD").write_text("tiny_mod/__init__.py,sha256=new,1\n")
    environment.refresh()
    assert environment.distributions_value() == before

    (info / "entry_points.txt").write_text("[app.plugins]\ntiny = tiny_mod:plugin\n")
    environment.refresh()
    assert environment.distributions_value() != before


class _Dist:
    """A distribution whose METADATA is ``text``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.metadata = email.message_from_string(text)

    def read_text(self, name: str) -> str | None:
        return self.text if name == "METADATA" else None


@pytest.mark.parametrize(
    "text",
    [
        "Metadata-Version: 2.1\nName: plain\nVersion: 1.0\nRequires-Dist: a\nRequires-Dist: b>=2\n",
        "Name: folded\nVersion: 2.0\nRequires-Dist: a;\n  python_version < '3.10'\nSummary: x\n",
        "From someone\nname: lower\nVERSION: 3.0\nrequires-dist: c\n",
        "Name: body\nVersion: 4.0\n\nRequires-Dist: not-a-header\nName: not-either\n",
        "Name: no-separator\nVersion: 5.0\nthis line ends the headers\nRequires-Dist: d\n",
        "Name: spaced\t \nVersion:6.0\nRequires-Dist:   e ; extra == 'x'\n",
        "Name: empty\nVersion: 7.0\nKeywords:\n \nRequires-Dist: f\n",
    ],
)
def test_distribution_fields_are_read_as_the_email_parser_reads_them(text: str) -> None:
    fields = environment._core_fields(_Dist(text))
    message = email.message_from_string(text)
    for name in ("Name", "Version", "Requires-Dist"):
        assert fields[name.lower()] == (message.get_all(name) or [])


def test_every_installed_distribution_reads_as_importlib_metadata_reads_it() -> None:
    dists = list(importlib.metadata.distributions())
    assert dists
    for dist in dists:
        fields = environment._core_fields(dist)
        for name in ("Name", "Version", "Requires-Dist"):
            assert fields[name.lower()] == (dist.metadata.get_all(name) or []), (dist, name)


def test_an_egg_info_without_requires_dist_requires_what_its_requires_txt_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "eggdist.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: eggdist\nVersion: 0.3\n")
    (info / "requires.txt").write_text("pytest\n\n[docs]\nsphinx\n")
    (info / "top_level.txt").write_text("egg_mod\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    environment.refresh()
    try:
        assert environment.installed()["eggdist"] == "0.3"
        dists = environment.distributions_for_modules(["egg_mod"])
        assert {"eggdist", "pytest"} <= dists
        assert "sphinx" not in dists
    finally:
        environment.refresh()
