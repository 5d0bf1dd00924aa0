"""Changes a test depends on without calling the changed code: each must re-select the test
(and leave unrelated tests alone)."""

from __future__ import annotations

import bz2
import importlib
import importlib.machinery
import io
import os
import shutil
import sqlite3
import tarfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pytester_project import Project, ran

from difftest.changes.scan import extensions_dir
from difftest.storage.baseline import Baseline

UNRELATED = {"tests/test_unrelated.py": "def test_unrelated():\n    assert 1 + 1 == 2\n"}


def test_editing_a_module_constant_reselects_tests_that_call_a_function_using_it(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "settings.py": "RATE = 2\n",
            "pricing.py": """
                from settings import RATE

                def price(amount):
                    return amount * RATE
                """,
            "tests/test_pricing.py": """
                from pricing import price

                def test_price():
                    assert price(10) >= 20
                """,
        }
    )
    project.baseline()
    project.edit("settings.py", "RATE = 2", "RATE = 3")
    assert ran(project.diff()) == ["tests/test_pricing.py::test_price"]


def test_editing_a_class_attribute_reselects_tests_that_use_the_class(project: Project) -> None:
    project.write(
        {
            **UNRELATED,
            "shapes.py": """
                class Triangle:
                    sides = 3

                    def describe(self):
                        return f"{self.sides} sides"
                """,
            "tests/test_shapes.py": """
                from shapes import Triangle

                def test_describe():
                    assert Triangle().describe().endswith("sides")
                """,
        }
    )
    project.baseline()
    project.edit("shapes.py", "sides = 3", "sides = 4")
    assert ran(project.diff()) == ["tests/test_shapes.py::test_describe"]


def test_editing_a_registration_decorator_reselects_tests_of_the_registry(project: Project) -> None:
    project.write(
        {
            **UNRELATED,
            "registry.py": """
                HANDLERS = {}

                def register(name):
                    def wrap(func):
                        HANDLERS[name] = func
                        return func
                    return wrap
                """,
            "handlers.py": """
                from registry import register

                @register("greet")
                def greet():
                    return "hello"
                """,
            "tests/test_registry.py": """
                import handlers  # registers the handlers
                from registry import HANDLERS

                def test_greet_is_registered():
                    assert HANDLERS["greet"]() == "hello"
                """,
        }
    )
    project.baseline()
    project.edit("handlers.py", '@register("greet")', '@register("hi")')
    result = project.diff()
    assert ran(result) == ["tests/test_registry.py::test_greet_is_registered"]
    assert result.ret == 1  # and it fails, as it should


def test_editing_a_dataclass_default_reselects_tests_that_build_it(project: Project) -> None:
    project.write(
        {
            **UNRELATED,
            "options.py": """
                from dataclasses import dataclass

                @dataclass
                class Options:
                    retries: int = 3
                """,
            "tests/test_options.py": """
                from options import Options

                def test_default_retries():
                    assert Options().retries == 3
                """,
        }
    )
    project.baseline()
    project.edit("options.py", "retries: int = 3", "retries: int = 5")
    result = project.diff()
    assert ran(result) == ["tests/test_options.py::test_default_retries"]
    assert result.ret == 1


def test_editing_a_data_file_read_by_code_reselects_the_tests_that_read_it(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "data/greeting.txt": "hello\n",
            "loader.py": """
                def greeting():
                    with open("data/greeting.txt") as fh:
                        return fh.read().strip()
                """,
            "tests/test_loader.py": """
                from loader import greeting

                def test_greeting():
                    assert greeting() == "hello"

                def test_nothing_read():
                    assert True
                """,
        }
    )
    project.baseline()
    (project.path / "data" / "greeting.txt").write_text("bonjour\n")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_loader.py::test_greeting"]
    result.stdout.fnmatch_lines(["*changed: file data/greeting.txt changed"])


def _clock_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written just now are hashed but not cached (their ctime cannot be set back): with
    the clock a minute on, the inner runs cache them as a later run would."""
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + 60 * 10**9)


_COLOUR = {
    **UNRELATED,
    "colour.txt": "red\n",
    "tests/test_colour.py": """
        def test_colour():
            with open("colour.txt") as fh:
                assert fh.read() == "red\\n"
        """,
}


def test_a_data_file_rewritten_at_its_size_with_its_mtime_put_back_reselects_its_tests(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unpacking a reproducible archive, Nix store files (mtime 1), `cp -p`, `touch -r` and
    # `rsync -t` change content and keep size and mtime.
    project.write(_COLOUR)
    colour = project.path / "colour.txt"
    os.utime(colour, ns=(10**9, 10**9))
    _clock_ahead(monkeypatch)
    project.baseline()
    assert ran(project.diff()) == []
    with Baseline.open_existing(project.db) as baseline:
        assert "colour.txt" in baseline.stat_cache()

    colour.write_text("blu\n")
    os.utime(colour, ns=(10**9, 10**9))
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_colour.py::test_colour"]
    result.stdout.fnmatch_lines(["*changed: file colour.txt changed"])


def test_a_copy_of_the_project_elsewhere_hashes_its_files_again_selects_nothing_and_caches_them(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project.write(_COLOUR)
    _clock_ahead(monkeypatch)
    project.baseline()
    with Baseline.open_existing(project.db) as baseline:
        cached = baseline.stat_cache()
    assert "colour.txt" in cached

    # Another checkout or machine: mtimes kept (copy2, as `cp -p` or `rsync -t`), new inodes.
    copy = tmp_path_factory.mktemp("elsewhere") / "project"
    shutil.copytree(project.path, copy)
    monkeypatch.chdir(copy)
    assert ran(project.run("--diff")) == []
    with Baseline.open_existing(copy / ".difftest" / "baseline.db") as baseline:
        recached = baseline.stat_cache()
    assert recached.keys() == cached.keys()
    for key, entry in recached.items():
        directory = extensions_dir(key)  # its directory's stat stands for it
        assert entry[3] == os.stat(copy / (key if directory is None else directory)).st_ino


def test_files_of_the_repository_outside_the_root_that_tests_read_check_or_list_reselect_them(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A project in a monorepo (its own pytest.ini, below the work tree's top) whose tests use
    # a sibling directory's fixtures.
    (project.path / ".git").mkdir()
    project.write(
        {
            "shared/fixtures/users.json": '{"admin": "ada"}',
            "app/pytest.ini": "[pytest]\npythonpath = .\naddopts = -v\n",
            "app/tests/test_shared.py": """
                import json
                from pathlib import Path

                SHARED = Path(__file__).parents[2] / "shared"

                def test_reads():
                    with open(SHARED / "fixtures" / "users.json") as fh:
                        assert json.load(fh)["admin"] == "ada"

                def test_checks():
                    assert not (SHARED / "optional.cfg").exists()

                def test_lists():
                    assert sorted(p.name for p in (SHARED / "fixtures").glob("*.json")) == [
                        "users.json"
                    ]

                def test_lists_the_top():
                    names = [p.name for p in SHARED.parent.iterdir() if p.is_dir() and p.name[0] != "."]
                    assert sorted(names) == ["app", "shared"]

                def test_reads_nothing():
                    assert True
                """,
        }
    )
    app = project.path / "app"
    monkeypatch.chdir(app)
    project.baseline().assert_outcomes(passed=5)
    with Baseline.open_existing(app / ".difftest" / "baseline.db") as baseline:
        reads = {r.nodeid: {d.key for d in r.deps} for r in baseline.records()}
    # Portable: relative to the root, as every other key.
    assert "../shared/fixtures/users.json" in reads["tests/test_shared.py::test_reads"]

    project.write({"shared/fixtures/users.json": '{"admin": "bob"}'})
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_shared.py::test_reads"]
    result.stdout.fnmatch_lines(["*changed: file ../shared/fixtures/users.json changed"])
    project.write({"shared/fixtures/users.json": '{"admin": "ada"}'})

    project.write({"shared/optional.cfg": "debug = true\n"})
    assert ran(project.diff()) == ["tests/test_shared.py::test_checks"]
    (project.path / "shared" / "optional.cfg").unlink()

    project.write({"shared/fixtures/groups.json": "{}"})
    assert ran(project.diff()) == ["tests/test_shared.py::test_lists"]
    (project.path / "shared" / "fixtures" / "groups.json").unlink()

    (project.path / "docs").mkdir()
    assert ran(project.diff()) == ["tests/test_shared.py::test_lists_the_top"]


def test_files_outside_the_root_count_only_within_the_work_tree_that_holds_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No work tree above the root: a file outside it (a user's config, another checkout) is
    # no dependency, as before; the root at the top of its work tree has no outside either.
    project.write(
        {
            "elsewhere.json": "{}",
            "app/pytest.ini": "[pytest]\naddopts = -v\n",
            "app/tests/test_elsewhere.py": """
                from pathlib import Path

                def test_reads():
                    assert (Path(__file__).parents[2] / "elsewhere.json").read_text() == "{}"
                """,
        }
    )
    app = project.path / "app"
    monkeypatch.chdir(app)
    for marker_at in (None, app):
        if marker_at is not None:
            (marker_at / ".git").write_text("gitdir: elsewhere\n")  # a worktree's marker
        project.baseline("--diff-force").assert_outcomes(passed=1)
        with Baseline.open_existing(app / ".difftest" / "baseline.db") as baseline:
            keys = {d.key for r in baseline.records() for d in r.deps}
        assert "app/tests/test_elsewhere.py" not in keys  # sanity: what is kept is in the root
        assert "tests/test_elsewhere.py" in keys
        assert not any(k.startswith("../") for k in keys)


def test_editing_package_data_read_through_pkgutil_get_data_reselects_the_tests_that_read_it(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "app/__init__.py": "",
            "app/rates.json": '{"rate": 1}\n',
            "app/rates.py": """
                import json
                import pkgutil

                def rate():
                    return json.loads(pkgutil.get_data("app", "rates.json"))["rate"]
                """,
            "tests/test_rates.py": """
                from app.rates import rate

                def test_rate():
                    assert rate() == 1

                def test_nothing_read():
                    assert True
                """,
        }
    )
    project.baseline()
    (project.path / "app" / "rates.json").write_text('{"rate": 2}\n')
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_rates.py::test_rate"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*changed: file app/rates.json changed"])


#: Package data looked at through ``importlib.resources`` (Python 3.9 asks the package's loader,
#: which opens, checks and lists with functions of its own): (the test's check, the change
#: that breaks it).
_RESOURCE_READS: dict[str, tuple[str, dict[str, str]]] = {
    "read_text": ('resources.read_text("app", "rates.json") == "1"', {"app/rates.json": "2"}),
    "open_binary": (
        'resources.open_binary("app", "rates.json").read() == b"1"',
        {"app/rates.json": "2"},
    ),
    "files": (
        'resources.files("app").joinpath("rates.json").read_text() == "1"',
        {"app/rates.json": "2"},
    ),
    "is_resource": ('not resources.is_resource("app", "local.json")', {"app/local.json": "{}"}),
    "contents": ('"extra.json" not in list(resources.contents("app"))', {"app/extra.json": "{}"}),
}


@pytest.mark.parametrize("reader", sorted(_RESOURCE_READS))
def test_package_data_looked_at_through_importlib_resources_reruns_the_test_when_it_changes(
    project: Project, reader: str
) -> None:
    check, change = _RESOURCE_READS[reader]
    project.write(
        {
            **UNRELATED,
            "app/__init__.py": "",
            "app/rates.json": "1",
            "tests/test_data.py": "import warnings\nfrom importlib import resources\n\n"
            "warnings.simplefilter('ignore', DeprecationWarning)  # the legacy API, 3.11 and 3.12\n"
            f"\n\ndef test_data():\n    assert {check}\n",
        }
    )
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []
    project.write(change)
    result = project.diff()
    assert ran(result) == ["tests/test_data.py::test_data"]
    result.assert_outcomes(failed=1)


def test_source_looked_up_through_inspect_reruns_every_test_that_looked_even_from_linecache(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "app.py": "def f():\n    return 1\n\n\ndef g():\n    return 2\n",
            # g never runs. The first test's lookup reads app.py through tokenize's own name for
            # open; linecache keeps the lines, so the second one reads nothing.
            "tests/test_source.py": """
                import inspect

                import app

                def test_g_source():
                    assert "return 2" in inspect.getsource(app.g)

                def test_no_print():
                    assert "print(" not in inspect.getsource(app)
                """,
        }
    )
    project.baseline().assert_outcomes(passed=3)
    assert ran(project.diff()) == []
    project.edit("app.py", "    return 2", "    print('g')\n    return 3")
    result = project.diff("--diff-v")
    assert ran(result) == [
        "tests/test_source.py::test_g_source",
        "tests/test_source.py::test_no_print",
    ]
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*changed: file app.py changed"])


def test_editing_a_python_file_that_code_reads_as_text_reselects_the_tests_that_read_it(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "settings_file.py": "# Rates, read by conf.load\nRATE = 1\n",
            "conf.py": """
                def load():
                    namespace = {}
                    with open("settings_file.py") as fh:
                        exec(fh.read(), namespace)
                    return namespace["RATE"]

                def header():
                    with open("settings_file.py") as fh:
                        return fh.readline()
                """,
            "tests/test_conf.py": """
                from conf import header, load

                def test_rate():
                    assert load() == 1

                def test_header():
                    assert header().startswith("# Rates")
                """,
        }
    )
    project.baseline()
    project.edit("settings_file.py", "RATE = 1", "RATE = 2")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_conf.py::test_header", "tests/test_conf.py::test_rate"]
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*changed: file settings_file.py changed"])
    project.edit("settings_file.py", "RATE = 2", "RATE = 1")
    project.baseline()
    # A comment is no code, but a test that reads the file sees it.
    project.edit("settings_file.py", "# Rates", "# Prices")
    result = project.diff()
    assert "tests/test_conf.py::test_header" in ran(result)
    result.assert_outcomes(failed=1, passed=len(ran(result)) - 1)


def test_a_test_that_replaces_the_trace_function_depends_on_every_file(project: Project) -> None:
    """Before Python 3.12 coverage.py measures through the trace function, which a test of a
    tracing tool may replace: what it runs afterwards is not measured."""
    project.write(
        {
            **UNRELATED,
            "app.py": "def f():\n    return 1\n\n\ndef g():\n    return 2\n",
            "tests/test_app.py": """
                import sys

                from app import f, g

                def test_tracing_tool():
                    sys.settrace(None)
                    assert f() == 1

                def test_later():
                    assert g() == 2
                """,
        }
    )
    project.baseline()
    project.edit("app.py", "return 1", "return 11")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_app.py::test_tracing_tool"]
    result.assert_outcomes(failed=1)


@pytest.mark.parametrize(
    "check",
    [
        'os.path.exists("local.json")',
        'os.access("local.json", os.R_OK)',
        'os.path.lexists("local.json")',
    ],
)
def test_creating_an_optional_file_that_code_checks_for_first_reselects_the_tests_that_checked(
    project: Project, check: str
) -> None:
    project.write(
        {
            **UNRELATED,
            "app.py": f"""
                import json
                import os

                def settings():
                    found = {{"level": 1}}
                    if {check}:  # only a check while it is absent
                        with open("local.json") as fh:
                            found.update(json.load(fh))
                    return found
                """,
            "tests/test_app.py": """
                from app import settings

                def test_level():
                    assert settings()["level"] == 1
                """,
        }
    )
    project.baseline()
    assert ran(project.diff()) == []
    project.write({"local.json": '{"level": 2}'})
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_app.py::test_level"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*changed: file local.json was created"])


def test_creating_a_dangling_symlink_where_code_checks_for_a_link_reselects_the_tests_that_checked(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "app.py": """
                import os

                def mode():
                    return "custom" if os.path.islink("hook") else "default"
                """,
            "tests/test_app.py": """
                from app import mode

                def test_mode():
                    assert mode() == "default"
                """,
        }
    )
    project.baseline()
    assert ran(project.diff()) == []
    # It points at nothing: there is no content to hash, yet the check now sees it.
    project.path.joinpath("hook").symlink_to("nowhere")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_app.py::test_mode"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*changed: dangling link hook was created"])
    project.path.joinpath("hook").unlink()
    project.path.joinpath("hook").symlink_to("elsewhere")
    project.edit("app.py", '"custom" if', '"default" if')
    project.baseline().assert_outcomes(passed=1)
    project.path.joinpath("hook").unlink()
    project.path.joinpath("hook").symlink_to("app.py")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_app.py::test_mode"]
    result.stdout.fnmatch_lines(["*changed: file hook changed"])


def test_creating_a_directory_that_code_checks_for_reselects_the_tests_that_checked(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "app.py": """
                import os

                def plugins():
                    # only a stat while it is absent
                    return sorted(os.listdir("plugins")) if os.path.isdir("plugins") else []
                """,
            "tests/test_app.py": """
                from app import plugins

                def test_no_plugins():
                    assert plugins() == []
                """,
        }
    )
    project.baseline()
    assert ran(project.diff()) == []
    project.write({"plugins/extra.py": "NAME = 'extra'\n"})
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_app.py::test_no_plugins"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*changed: directory plugins was created"])


@pytest.mark.parametrize(
    ("optional_import", "created", "change"),
    [
        ("from app import extra", "app/extra.py", "app/extra.py::<module> changed"),
        ("from app import extra", "app/extra/__init__.py", "app/extra/__init__.py::<module>*"),
        # A bare directory is a namespace package: the import succeeds.
        ("from app import extra", "app/extra/data.txt", "directory app/extra was created"),
        ("from . import extra", "app/extra.py", "app/extra.py::<module> changed"),
        ("import extra", "extra.py", "shadow/extra is now extra.py"),
    ],
)
def test_creating_a_module_that_an_optional_import_missed_reselects_the_tests_that_tried_it(
    project: Project, optional_import: str, created: str, change: str
) -> None:
    project.write(
        {
            **UNRELATED,
            "app/__init__.py": "",
            "app/core.py": f"""
                try:
                    {optional_import}
                except ImportError:
                    extra = None

                def has_extra():
                    return extra is not None
                """,
            "tests/test_core.py": """
                from app.core import has_extra

                def test_no_extra():
                    assert not has_extra()
                """,
        }
    )
    project.baseline()
    assert ran(project.diff()) == []
    project.write({created: "ENABLED = True\n"})
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_core.py::test_no_extra"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"difftest: changed: {change}"])


def test_creating_a_file_a_test_looked_for_reselects_it(project: Project) -> None:
    project.write(
        {
            **UNRELATED,
            "tests/test_local.py": """
                from pathlib import Path

                def test_local_settings():
                    try:
                        text = Path("local.cfg").read_text()
                    except FileNotFoundError:
                        text = ""
                    assert "broken" not in text
                """,
        }
    )
    project.baseline()
    (project.path / "local.cfg").write_text("broken\n")
    result = project.diff()
    assert ran(result) == ["tests/test_local.py::test_local_settings"]
    assert result.ret == 1


#: How a test looks at files through pathlib (on Python 3.9 and 3.10 pathlib calls the functions
#: it bound when it was imported, not os.stat, io.open, os.listdir and os.scandir as they are
#: now), and the edit that must re-run it: (test body, edit).
_PATHLIB_LOOKS = {
    "Path.exists on a missing file, which is then created": (
        'assert not Path("flags/local.cfg").exists()',
        {"flags/local.cfg": "on\n"},
    ),
    "Path.is_file on a missing file, which is then created": (
        'assert not Path("flags/local.cfg").is_file()',
        {"flags/local.cfg": "on\n"},
    ),
    "Path.read_text of a file, which is then edited": (
        'assert Path("flags/level.txt").read_text() == "1\\n"',
        {"flags/level.txt": "2\n"},
    ),
    "Path.open of a file, which is then edited": (
        'with Path("flags/level.txt").open() as fh:\n        assert fh.read() == "1\\n"',
        {"flags/level.txt": "2\n"},
    ),
    "Path.iterdir of a directory, to which a file is then added": (
        'assert sorted(p.name for p in Path("flags").iterdir()) == ["level.txt"]',
        {"flags/extra.txt": "x\n"},
    ),
    "Path.glob in a directory, to which a matching file is then added": (
        'assert [p.name for p in Path("flags").glob("*.txt")] == ["level.txt"]',
        {"flags/extra.txt": "x\n"},
    ),
}


@pytest.mark.parametrize("look", sorted(_PATHLIB_LOOKS))
def test_a_test_that_looked_at_files_through_pathlib_reruns_when_they_change(
    project: Project, look: str
) -> None:
    body, edit = _PATHLIB_LOOKS[look]
    project.write(
        {
            **UNRELATED,
            "flags/level.txt": "1\n",
            "tests/test_flags.py": (
                "from pathlib import Path\n\n\ndef test_flags():\n    " + body + "\n"
            ),
        }
    )
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []
    project.write(edit)
    result = project.diff()
    assert ran(result) == ["tests/test_flags.py::test_flags"]
    result.assert_outcomes(failed=1)


def _tar(path: Path, names: list[str]) -> None:
    with tarfile.open(path, "w") as tar:
        for name in names:
            data = name.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _database(path: Path, rows: int) -> None:
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE item (n INTEGER)")
        db.executemany("INSERT INTO item VALUES (?)", [(n,) for n in range(rows)])
    db.close()


_COUNT_ITEMS = "    assert db.execute('SELECT count(*) FROM item').fetchone() == (1,)\n"

#: Files read without calling ``open`` as the probe patched it: through standard-library
#: modules that hold the built-in ``open`` they found at import (``tarfile``, ``bz2``), or opened
#: by ``os.open`` or by C code (``sqlite3``): (test module, write the file, change it).
_READS_WITHOUT_OPEN: dict[str, tuple[str, Callable[[Path], None], Callable[[Path], None]]] = {
    "tarfile.open": (
        'import tarfile\n\n\ndef test_read():\n    with tarfile.open("data/bundle", "r:") as tar:\n'
        '        assert tar.getnames() == ["a.txt"]\n',
        lambda path: _tar(path, ["a.txt"]),
        lambda path: _tar(path, ["a.txt", "b.txt"]),
    ),
    "bz2.open": (
        'import bz2\n\n\ndef test_read():\n    with bz2.open("data/bundle") as fh:\n'
        '        assert fh.read() == b"1\\n"\n',
        lambda path: path.write_bytes(bz2.compress(b"1\n")),
        lambda path: path.write_bytes(bz2.compress(b"2\n")),
    ),
    "os.open": (
        "import os\n\n\ndef test_read():\n    fd = os.open('data/bundle', os.O_RDONLY)\n"
        "    try:\n        assert os.read(fd, 100) == b'1\\n'\n    finally:\n        os.close(fd)\n",
        lambda path: path.write_bytes(b"1\n"),
        lambda path: path.write_bytes(b"2\n"),
    ),
    "sqlite3.connect": (
        "import sqlite3\n\n\ndef test_read():\n    db = sqlite3.connect('data/bundle')\n"
        + _COUNT_ITEMS,
        lambda path: _database(path, 1),
        lambda path: _database(path, 2),
    ),
    "tokenize.open": (
        'import tokenize\n\n\ndef test_read():\n    with tokenize.open("data/bundle") as fh:\n'
        '        assert fh.read() == "1\\n"\n',
        lambda path: path.write_bytes(b"1\n"),
        lambda path: path.write_bytes(b"2\n"),
    ),
    "sqlite3.connect(uri=True)": (
        "from sqlite3 import connect\n\n\ndef test_read():\n"
        "    db = connect('file:data/bundle?mode=ro', uri=True)\n" + _COUNT_ITEMS,
        lambda path: _database(path, 1),
        lambda path: _database(path, 2),
    ),
}


@pytest.mark.parametrize("reader", sorted(_READS_WITHOUT_OPEN))
def test_a_test_that_read_a_file_without_calling_open_reruns_when_it_changes(
    project: Project, reader: str
) -> None:
    module, write, change = _READS_WITHOUT_OPEN[reader]
    project.write({**UNRELATED, "tests/test_read.py": module})
    data = project.path / "data" / "bundle"
    data.parent.mkdir()
    write(data)
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []
    before = data.stat().st_mtime
    change(data)
    os.utime(data, (before + 2, before + 2))  # an edit later on, whatever the clock's step
    result = project.diff()
    assert ran(result) == ["tests/test_read.py::test_read"]
    result.assert_outcomes(failed=1)


def test_editing_a_data_file_read_at_import_time_reselects_tests_importing_the_module(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "templates/page.html": "<p>{name}</p>\n",
            "render.py": """
                import os

                HERE = os.path.dirname(os.path.abspath(__file__))
                with open(os.path.join(HERE, "templates", "page.html")) as fh:
                    PAGE = fh.read()
                """,
            "view.py": """
                import render

                def page(name):
                    return render.PAGE.format(name=name)
                """,
            "tests/test_view.py": """
                from view import page

                def test_page():
                    assert page("x") == "<p>x</p>\\n"
                """,
            # Collected second: render is imported already, its read is not seen again.
            "tests/test_view_again.py": """
                from view import page

                def test_page_again():
                    assert page("y") == "<p>y</p>\\n"
                """,
        }
    )
    project.baseline()
    (project.path / "templates" / "page.html").write_text("<b>{name}</b>\n")
    result = project.diff()
    assert ran(result) == [
        "tests/test_view.py::test_page",
        "tests/test_view_again.py::test_page_again",
    ]
    assert result.ret == 1


def test_editing_a_module_imported_with_a_computed_name_reselects_its_users(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "plugins/__init__.py": "",
            "plugins/alpha.py": "VALUE = 1\nprint('alpha loaded')\n",
            "plugins/beta.py": "VALUE = 2\n",
            "loader.py": """
                import importlib

                def load(name):
                    return importlib.import_module("plugins." + name)
                """,
            "tests/test_runtime_import.py": """
                from loader import load

                def test_alpha_value():
                    assert load("al" + "pha").VALUE == 1

                def test_alpha_again():  # alpha is imported already: only the import hook sees it
                    assert load("al" + "pha").VALUE > 0
                """,
            "tests/test_import_time.py": """
                from loader import load

                BETA = load("be" + "ta")

                def test_beta_value():
                    assert BETA.VALUE == 2
                """,
        }
    )
    project.baseline()
    # The import is credited to loader.py, the code that made it: every test that can reach the
    # loader depends on the modules it was seen loading.
    project.edit("plugins/alpha.py", "VALUE = 1", "VALUE = 10")
    selected = ran(project.diff())
    assert "tests/test_runtime_import.py::test_alpha_value" in selected
    assert "tests/test_runtime_import.py::test_alpha_again" in selected
    assert "tests/test_unrelated.py::test_unrelated" not in selected
    project.edit("plugins/alpha.py", "VALUE = 10", "VALUE = 1")
    project.edit("plugins/beta.py", "VALUE = 2", "VALUE = 20")
    selected = ran(project.diff())
    assert "tests/test_import_time.py::test_beta_value" in selected
    assert "tests/test_unrelated.py::test_unrelated" not in selected


def test_editing_a_conftest_fixture_reselects_only_the_tests_using_it(project: Project) -> None:
    project.write(
        {
            "tests/conftest.py": """
                import pytest

                @pytest.fixture
                def number():
                    return 1

                @pytest.fixture
                def word():
                    return "a"
                """,
            "tests/test_fixtures.py": """
                def test_number(number):
                    assert number == 1

                def test_word(word):
                    assert word == "a"
                """,
        }
    )
    project.baseline()
    project.edit("tests/conftest.py", "return 1", "return 2")
    result = project.diff()
    assert ran(result) == ["tests/test_fixtures.py::test_number"]


def test_a_package_created_under_a_project_packages_name_earlier_on_the_path_reselects_its_users(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "pytest.ini": "[pytest]\npythonpath = src\n",
            "src/app/__init__.py": "",
            "src/app/core.py": "def find():\n    return 1\n",
            "tests/test_core.py": "from app.core import find\n\ndef test_find():\n    assert find() == 1\n",
        }
    )
    project.baseline()
    assert ran(project.diff()) == []
    # pytest puts tests/ before src/ on sys.path: `import app` now finds this one.
    project.write({"tests/app/__init__.py": ""})
    result = project.diff("--diff-v")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "difftest: changed: shadow/app is now src/app/__init__.py,tests/app/__init__.py",
            "difftest: 1 unaffected test files not collected: tests/test_unrelated.py",
            "*ModuleNotFoundError: No module named 'app.core'",
        ]
    )


def test_a_new_module_shadowing_a_standard_module_only_difftests_recorder_loads_reselects_its_users(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In subprocesses: the outer run has difftest's recording modules, and what they import,
    # loaded. Difftest's recorder loads sysconfig; a plain pytest run does not, unless an
    # installed plugin does (pytest-cov): none is loaded but difftest.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugin = ("-p", "difftest.runners.pytest.plugin")
    project.write(
        {
            **UNRELATED,
            "tests/test_platform.py": """
                def test_platform():
                    import sysconfig

                    assert sysconfig.get_platform()
                """,
        }
    )
    assert project.subprocess(*plugin, "--diff-baseline").ret == 0
    project.write({"tests/sysconfig.py": "def get_platform():\n    return ''\n"})
    assert project.subprocess().ret == 1  # a plain run imports this one
    result = project.subprocess(*plugin, "--diff", "--diff-v")
    assert ran(result) == ["tests/test_platform.py::test_platform"]
    result.stdout.fnmatch_lines(["difftest: changed: shadow/sysconfig is now tests/sysconfig.py"])
    result.assert_outcomes(failed=1)


def test_a_new_conftest_overriding_a_fixture_reselects_the_tests_below_it(project: Project) -> None:
    number = "import pytest\n\n@pytest.fixture\ndef number():\n    return {}\n"
    project.write(
        {
            "tests/conftest.py": number.format(1),
            "tests/sub/test_below.py": "def test_below(number):\n    assert number == 1\n",
            "tests/test_beside.py": "def test_beside(number):\n    assert number == 1\n",
        }
    )
    project.baseline()
    project.write({"tests/sub/conftest.py": number.format(2)})
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/sub/test_below.py::test_below"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*changed: file tests/sub/conftest.py was created"])
    project.edit("tests/sub/conftest.py", "return 2", "return 1")
    project.baseline().assert_outcomes(passed=1)
    # A new __init__.py changes the name the tests below it are imported under.
    project.write({"tests/sub/__init__.py": ""})
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/sub/test_below.py::test_below"]
    result.stdout.fnmatch_lines(["*changed: file tests/sub/__init__.py was created"])


def test_editing_a_session_fixture_reselects_every_test_using_it_not_only_the_first(
    project: Project,
) -> None:
    project.write(
        {
            "tests/conftest.py": """
                import pytest

                def connect():
                    return {"connected": True}

                @pytest.fixture(scope="session")
                def db():
                    return connect()
                """,
            "tests/test_one.py": "def test_one(db):\n    assert db['connected']\n",
            "tests/test_two.py": "def test_two(db):\n    assert db['connected']\n",
            "tests/test_three.py": "def test_three():\n    pass\n",
        }
    )
    project.baseline()
    project.edit("tests/conftest.py", 'return {"connected": True}', 'return {"connected": 1}')
    assert ran(project.diff()) == ["tests/test_one.py::test_one", "tests/test_two.py::test_two"]


@pytest.mark.parametrize("scope", ["module", "session"])
def test_what_a_fixtures_teardown_runs_reselects_the_tests_using_it_not_the_test_it_ran_after(
    project: Project, scope: str
) -> None:
    """The teardown runs inside the last test of the fixture's scope, which need not use it:
    selecting that test alone sets nothing up, passes, and an incremental baseline would then
    forget the teardown for good."""
    project.write(
        {
            "res.py": """
                class Res:
                    def close(self):
                        return True
                """,
            "tests/conftest.py": f"""
                import pytest

                import res

                @pytest.fixture(scope="{scope}")
                def handle():
                    r = res.Res()
                    yield r
                    r.close()
                """,
            "tests/test_m.py": """
                def test_a(handle):
                    assert handle

                def test_b():
                    pass
                """,
            "tests/test_z.py": "def test_z():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=3)
    project.edit("res.py", "return True", "raise RuntimeError('closed twice')")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_m.py::test_a"]
    result.assert_outcomes(passed=1, errors=1)
    result = project.baseline()
    result.assert_outcomes(passed=1, errors=1)
    assert ran(project.diff()) == ["tests/test_m.py::test_a"]  # still failing: still selected


def test_editing_a_function_run_at_import_time_reselects_tests_of_its_module(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "limits.py": """
                def compute():
                    return 5

                LIMIT = compute()
                """,
            "tests/test_limits.py": """
                import limits

                def test_limit():
                    assert limits.LIMIT == 5
                """,
        }
    )
    project.baseline()
    project.edit("limits.py", "return 5", "return 6")
    result = project.diff()
    assert ran(result) == ["tests/test_limits.py::test_limit"]
    assert result.ret == 1


def test_editing_a_helper_module_under_tests_reselects_its_users(project: Project) -> None:
    project.write(
        {
            **UNRELATED,
            "tests/helpers.py": "def make_user():\n    return {'name': 'ann'}\n",
            "tests/test_users.py": """
                from helpers import make_user

                def test_user():
                    assert make_user()["name"] == "ann"
                """,
        }
    )
    project.baseline()
    project.edit("tests/helpers.py", "'ann'", "'bob'")
    result = project.diff()
    assert ran(result) == ["tests/test_users.py::test_user"]
    assert result.ret == 1


def test_editing_parametrize_data_from_a_helper_reselects_the_parametrized_tests(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "cases.py": "def cases():\n    return [(1, 2), (2, 4)]\n",
            "tests/test_cases.py": """
                import pytest
                from cases import cases

                @pytest.mark.parametrize("n, doubled", cases())
                def test_double(n, doubled):
                    assert n * 2 == doubled
                """,
        }
    )
    project.baseline()
    project.edit("cases.py", "(2, 4)", "(2, 5)")
    result = project.diff()
    assert ran(result) == [
        "tests/test_cases.py::test_double[1-2]",
        "tests/test_cases.py::test_double[2-5]",
    ]


def test_editing_a_conftest_hook_that_runs_at_collection_reselects_the_tests_it_applies_to(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "tests/api/conftest.py": """
                import pytest

                def pytest_collection_modifyitems(items):
                    for item in items:
                        if "slow" in item.name:
                            item.add_marker(pytest.mark.skip(reason="slow"))
                """,
            "tests/api/test_api.py": """
                def test_slow_path():
                    pass

                def test_fast_path():
                    pass
                """,
        }
    )
    project.baseline()
    project.edit("tests/api/conftest.py", '"slow" in item.name', '"fast" in item.name')
    assert ran(project.diff()) == [
        "tests/api/test_api.py::test_fast_path",
        "tests/api/test_api.py::test_slow_path",
    ]


def test_run_time_edges_are_kept_for_runs_that_do_not_repeat_the_dynamic_import(
    project: Project,
) -> None:
    project.write(
        {
            "plugins/__init__.py": "",
            "plugins/alpha.py": "VALUE = 1\nprint('alpha loaded')\n",
            "loader.py": """
                import importlib

                def load(name):
                    return importlib.import_module("plugins." + name)

                def version():
                    return 1
                """,
            "tests/test_load.py": """
                from loader import load

                def test_load():
                    assert load("al" + "pha").VALUE == 1
                """,
            "tests/test_version.py": """
                from loader import version

                def test_version():
                    assert version() == 1
                """,
        }
    )
    project.baseline()
    project.edit("loader.py", "return 1", "return 0 + 1")
    assert ran(project.baseline()) == ["tests/test_version.py::test_version"]
    # test_version was recorded again in a run that never imported plugins.alpha: the stored
    # edge loader.py -> plugins/alpha.py still puts alpha in its closure.
    # (An edit that does more than bind a name: every test that imported alpha can see it.)
    project.edit("plugins/alpha.py", "alpha loaded", "alpha is loaded")
    assert ran(project.diff()) == [
        "tests/test_load.py::test_load",
        "tests/test_version.py::test_version",
    ]


def test_code_run_only_in_a_subprocess_reselects_the_test_that_started_it(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "app.py": "def answer():\n    return 42\n",
            "answer.txt": "42\n",
            "tests/test_cli.py": """
                import os
                import subprocess
                import sys

                ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
                CODE = "import app; print(app.answer(), open('answer.txt').read().strip())"

                def test_cli():
                    out = subprocess.run(
                        [sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True,
                        env={**os.environ, "PYTHONPATH": ROOT}, check=True,
                    ).stdout.split()
                    assert out == ["42", "42"]
                """,
        }
    )
    project.baseline()
    project.edit("app.py", "return 42", "return 41")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_cli.py::test_cli"]
    assert (
        "app.py changed (not all the test ran was measured: it started a process"
        in result.stdout.str()
    )
    result.assert_outcomes(failed=1)
    project.edit("app.py", "return 41", "return 42")
    project.baseline()
    project.edit("answer.txt", "42", "41")  # read by the subprocess alone
    assert ran(project.diff()) == ["tests/test_cli.py::test_cli"]
    project.edit("answer.txt", "41", "42")
    project.baseline()
    assert ran(project.diff()) == []
    project.write({"plugins/extra.py": "NAME = 'extra'\n"})  # a file the subprocess may find
    assert ran(project.diff()) == ["tests/test_cli.py::test_cli"]


def test_a_session_fixture_starting_a_process_makes_its_users_depend_on_every_file(
    project: Project,
) -> None:
    project.write(
        {
            "server.py": "PORT = 8000\n",
            "tests/conftest.py": """
                import subprocess
                import sys

                import pytest

                @pytest.fixture(scope="session")
                def server():
                    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
                    yield proc
                    proc.kill()
                    proc.wait()
                """,
            "tests/test_one.py": "def test_one(server):\n    assert server.poll() is None\n",
            "tests/test_two.py": "def test_two(server):\n    assert server.poll() is None\n",
            "tests/test_three.py": "def test_three():\n    pass\n",
        }
    )
    project.baseline()
    project.edit("server.py", "8000", "8001")
    assert ran(project.diff()) == ["tests/test_one.py::test_one", "tests/test_two.py::test_two"]


def test_adding_a_plugin_file_to_a_directory_scanned_at_import_reselects_its_users(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "plugins/__init__.py": "",
            "plugins/alpha.py": "NAME = 'alpha'\n",
            "registry.py": """
                import importlib
                import os

                HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins")
                NAMES = sorted(
                    importlib.import_module("plugins." + f[:-3]).NAME
                    for f in os.listdir(HERE)
                    if f.endswith(".py") and f != "__init__.py"
                )
                """,
            "tests/test_registry.py": """
                from registry import NAMES

                def test_only_alpha():
                    assert NAMES == ["alpha"]
                """,
        }
    )
    project.baseline()
    project.write({"plugins/beta.py": "NAME = 'beta'\n"})  # no recorded file changed
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_registry.py::test_only_alpha"]
    result.stdout.fnmatch_lines(["*directory plugins gained or lost files*"])
    result.assert_outcomes(failed=1)


def test_adding_a_file_to_a_data_directory_a_plugins_fixture_copies_reselects_its_users(
    project: Project, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fixture of an installed plugin (as pytest-datadir's) lists a test's data directory: no
    project code is on the stack, but a test is being set up."""
    site = tmp_path_factory.mktemp("site-packages")
    (site / "datadir_plugin.py").write_text(
        "import shutil\n\nimport pytest\n\n\n@pytest.fixture\n"
        "def datadir(request, tmp_path):\n"
        "    shutil.copytree(request.path.parent / 'data', tmp_path / 'data')\n"
        "    return tmp_path / 'data'\n"
    )
    monkeypatch.syspath_prepend(str(site))
    project.write(
        {
            **UNRELATED,
            "tests/data/a.txt": "a\n",
            "tests/test_data.py": """
                def test_files(datadir):
                    assert sorted(p.name for p in datadir.iterdir()) == ["a.txt"]
                """,
        }
    )
    project.baseline("-p", "datadir_plugin")
    project.write({"tests/data/b.txt": "b\n"})
    result = project.diff("-p", "datadir_plugin", "--diff-v")
    assert ran(result) == ["tests/test_data.py::test_files"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*changed: directory tests/data gained or lost files"])


def test_a_test_walking_the_project_is_not_reselected_by_caches_and_difftests_own_files(
    project: Project,
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "tests/test_walk.py": """
                import os

                def test_walk():
                    assert any("__init__.py" in files for _, _, files in os.walk("."))
                """,
        }
    )
    project.baseline()
    for rel in (".difftest/spool-1", ".pytest_cache/v/x", "pkg/__pycache__/mod.cpython-312.pyc"):
        (project.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (project.path / rel).write_text("x")
    assert ran(project.diff()) == []
    project.write({"pkg/new.py": ""})
    assert ran(project.diff()) == ["tests/test_walk.py::test_walk"]


def test_removing_a_file_from_a_directory_a_test_globs_reselects_it(project: Project) -> None:
    project.write(
        {
            **UNRELATED,
            "templates/a.html": "<a>\n",
            "templates/b.html": "<b>\n",
            "tests/test_templates.py": """
                import glob
                import os

                ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

                def test_some_templates():
                    assert glob.glob(os.path.join(ROOT, "templates", "*.html"))
                """,
        }
    )
    project.baseline()
    (project.path / "templates" / "b.html").unlink()
    assert ran(project.diff()) == ["tests/test_templates.py::test_some_templates"]
    project.baseline()  # records the smaller listing: nothing changed since
    assert ran(project.diff()) == []


_MEMO_LOADER = {
    **UNRELATED,
    "settings.json": '{"level": 1}',
    "conf.py": """
        import json
        import os
        from functools import lru_cache
        from pathlib import Path

        @lru_cache(maxsize=None)
        def load():
            settings = json.loads(Path(__file__).with_name("settings.json").read_text())
            return {**settings, "mode": os.environ.get("APP_MODE", "dev")}
        """,
    "tests/test_first.py": """
        import conf

        def test_first():
            assert conf.load() == {"level": 1, "mode": "dev"}
        """,
    "tests/test_second.py": """
        import conf

        def test_second():
            assert conf.load() == {"level": 1, "mode": "dev"}
        """,
}


def test_a_data_file_a_memoized_loader_read_for_an_earlier_test_reselects_every_test_that_reads_the_memo(
    project: Project,
) -> None:
    # The second test gets the loaded settings from the memo, never reading the file itself.
    project.write(_MEMO_LOADER)
    project.baseline()
    # Finding which functions keep state reads their source: difftest's read, no dependency.
    data = {
        d.key
        for d in project.records()["tests/test_first.py::test_first"].deps
        if d.name == "<data>"
    }
    assert "settings.json" in data and "conf.py" not in data
    project.write({"settings.json": '{"level": 2}'})
    result = project.diff()
    assert ran(result) == ["tests/test_first.py::test_first", "tests/test_second.py::test_second"]
    result.assert_outcomes(failed=2)


def test_an_environment_variable_a_memoized_loader_read_reselects_every_test_that_reads_the_memo(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APP_MODE", raising=False)
    project.write(_MEMO_LOADER)
    project.baseline()
    monkeypatch.setenv("APP_MODE", "prod")
    result = project.diff()
    assert ran(result) == ["tests/test_first.py::test_first", "tests/test_second.py::test_second"]
    result.assert_outcomes(failed=2)


_SINGLETON_CACHE = {
    **UNRELATED,
    "settings.json": '{"level": 1}',
    "registry.py": """
        import json
        from pathlib import Path

        class Registry:
            def __init__(self):
                self._settings = None
                self._values = {}

            def settings(self):
                if self._settings is None:
                    self._settings = json.loads(Path(__file__).with_name("settings.json").read_text())
                return self._settings

            def value(self, key):
                if key not in self._values:
                    self._values[key] = self._compute(key)
                return self._values[key]

            def _compute(self, key):
                return key * 2

        REGISTRY = Registry()
        """,
    "tests/test_first.py": """
        from registry import REGISTRY

        def test_first():
            assert REGISTRY.settings() == {"level": 1}
            assert REGISTRY.value(2) == 4
        """,
    "tests/test_second.py": """
        from registry import REGISTRY

        def test_second():
            assert REGISTRY.settings() == {"level": 1}
            assert REGISTRY.value(2) == 4
        """,
}


def _both_run_and_fail(project: Project) -> None:
    """The second test got what it checks from state the first one left: both must run."""
    result = project.diff()
    assert ran(result) == ["tests/test_first.py::test_first", "tests/test_second.py::test_second"]
    result.assert_outcomes(failed=2)


def test_a_data_file_a_module_level_instance_cached_for_an_earlier_test_reselects_every_test_using_the_instance(
    project: Project,
) -> None:
    project.write(_SINGLETON_CACHE)
    project.baseline()
    project.write({"settings.json": '{"level": 2}'})
    _both_run_and_fail(project)


def test_editing_a_method_whose_result_a_module_level_instance_caches_reselects_every_test_using_the_instance(
    project: Project,
) -> None:
    project.write(_SINGLETON_CACHE)
    project.baseline()
    project.edit("registry.py", "return key * 2", "return key * 3")
    _both_run_and_fail(project)


def _load_users() -> dict[str, str]:
    """Two test files whose tests check what ``conf.load()`` returns."""
    test = 'import conf\n\ndef test_{0}():\n    assert conf.load() == {{"level": 1}}\n'
    return {f"tests/test_{n}.py": test.format(n) for n in ("first", "second")}


def test_a_data_file_a_closure_cached_for_an_earlier_test_reselects_every_test_reading_the_closure(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "settings.json": '{"level": 1}',
            "conf.py": """
                import json
                from pathlib import Path

                def _loader():
                    found = {}

                    def load():
                        if not found:
                            found.update(json.loads(Path(__file__).with_name("settings.json").read_text()))
                        return found

                    return load

                load = _loader()
                """,
            **_load_users(),
        }
    )
    project.baseline()
    project.write({"settings.json": '{"level": 2}'})
    _both_run_and_fail(project)


_ALIASED_CACHE_LOADERS = {
    "a cache a function returns": """
        def _cache():
            return _FOUND

        def load():
            cache = _cache()
            if "settings" not in cache:
                cache["settings"] = json.loads(SETTINGS.read_text())
            return cache["settings"]
        """,
    "a local alias of a module dict": """
        def load():
            cache = _FOUND
            if "settings" not in cache:
                cache["settings"] = json.loads(SETTINGS.read_text())
            return cache["settings"]
        """,
    "a local alias of an instance's dict": """
        class _Store:
            def __init__(self):
                self.found = _FOUND

            def load(self):
                cache = self.found
                if "settings" not in cache:
                    cache["settings"] = json.loads(SETTINGS.read_text())
                return cache["settings"]

        load = _Store().load
        """,
}


@pytest.mark.parametrize("kept_in", sorted(_ALIASED_CACHE_LOADERS))
def test_a_data_file_a_loader_kept_through_a_local_name_for_an_earlier_test_reselects_every_test_reading_it(
    project: Project, kept_in: str
) -> None:
    header = """
        import json
        from pathlib import Path

        SETTINGS = Path(__file__).with_name("settings.json")
        _FOUND = {}
        """
    project.write(
        {
            **UNRELATED,
            "settings.json": '{"level": 1}',
            "conf.py": textwrap.dedent(header) + textwrap.dedent(_ALIASED_CACHE_LOADERS[kept_in]),
            **_load_users(),
        }
    )
    project.baseline()
    project.write({"settings.json": '{"level": 2}'})
    _both_run_and_fail(project)


def test_a_loader_that_only_changes_what_it_parsed_leaves_other_tests_to_their_own_reads(
    project: Project,
) -> None:
    uses = "import conf\n\ndef test_{0}():\n    assert {1}\n"
    project.write(
        {
            **UNRELATED,
            "rows.csv": "n\n1\n",
            "conf.py": """
                import csv
                from pathlib import Path

                def rows():
                    with open(Path(__file__).with_name("rows.csv")) as fh:
                        found = list(csv.DictReader(fh))
                    for row in found:
                        row["n"] = int(row["n"])
                    return found

                def other():
                    return 1
                """,
            "tests/test_first.py": uses.format("first", 'conf.rows() == [{"n": 1}]'),
            "tests/test_second.py": uses.format("second", "conf.other() == 1"),
        }
    )
    project.baseline()
    project.write({"rows.csv": "n\n2\n"})
    result = project.diff()
    assert ran(result) == ["tests/test_first.py::test_first"]
    result.assert_outcomes(failed=1)


def _registry_held(held: str, test: str) -> dict[str, str]:
    """The Registry of ``_SINGLETON_CACHE`` held by ``held`` instead of ``REGISTRY``, and two
    tests made from ``test`` (``NAME`` stands for their names)."""
    return {
        "settings.json": _SINGLETON_CACHE["settings.json"],
        "registry.py": _SINGLETON_CACHE["registry.py"].replace("REGISTRY = Registry()", held),
        "tests/test_first.py": test.replace("NAME", "first"),
        "tests/test_second.py": test.replace("NAME", "second"),
    }


def _shared_by_a_session_fixture(check: str) -> dict[str, str]:
    """Two tests using one Registry a session fixture makes; a test outside the fixture's
    directory and one inside that does not use it."""
    return {
        **_registry_held("", "def test_NAME(registry):\n    assert " + check + "\n"),
        "other/test_unrelated.py": UNRELATED["tests/test_unrelated.py"],
        "tests/conftest.py": """
            import pytest
            from registry import Registry

            @pytest.fixture(scope="session")
            def registry():
                yield Registry()
            """,
        "tests/test_other.py": "def test_other():\n    assert True\n",
    }


def test_a_data_file_an_instance_shared_by_a_session_fixture_cached_for_an_earlier_test_reselects_every_test_it_may_reach(
    project: Project,
) -> None:
    project.write(_shared_by_a_session_fixture('registry.settings() == {"level": 1}'))
    project.baseline()
    project.write({"settings.json": '{"level": 2}'})
    # The read counts for every test that imports registry.py, as the conftest does for all
    # three under tests/: which of them the fixture reaches is not known when the file is read.
    result = project.diff()
    assert ran(result) == [
        "tests/test_first.py::test_first",
        "tests/test_other.py::test_other",
        "tests/test_second.py::test_second",
    ]
    result.assert_outcomes(failed=2, passed=1)


def test_editing_a_method_whose_result_an_instance_shared_by_a_session_fixture_caches_reselects_every_test_using_it(
    project: Project,
) -> None:
    project.write(_shared_by_a_session_fixture("registry.value(2) == 4"))
    project.baseline()
    project.edit("registry.py", "return key * 2", "return key * 3")
    _both_run_and_fail(project)


def test_editing_a_method_whose_result_an_instance_made_in_another_module_caches_reselects_every_test_using_it(
    project: Project,
) -> None:
    uses = "from app import REGISTRY\n\ndef test_NAME():\n    assert REGISTRY.value(2) == 4\n"
    project.write(
        {
            **_registry_held("", uses),
            "app.py": "from registry import Registry\n\nREGISTRY = Registry()\n",
            # Makes a Registry of its own: its constructor reads nothing another test stored.
            "tests/test_fresh.py": "import app\nfrom registry import Registry\n\n"
            "def test_fresh():\n    assert Registry() is not app.REGISTRY\n",
        }
    )
    project.baseline()
    project.edit("registry.py", "return key * 2", "return key * 3")
    _both_run_and_fail(project)


_HELD_FURTHER = {
    "two containers down": (
        'REGISTRIES = {"default": [Registry()]}',
        "from registry import REGISTRIES\n\ndef test_NAME():\n"
        "    assert REGISTRIES['default'][0].value(2) == 4\n",
    ),
    "in a closure": (
        # Indented as the line it replaces in _SINGLETON_CACHE's registry.py.
        "def _holder():\n            one = Registry()\n\n            def get():\n"
        "                return one\n\n            return get\n\n        get_registry = _holder()",
        "from registry import get_registry\n\ndef test_NAME():\n"
        "    assert get_registry().value(2) == 4\n",
    ),
}


@pytest.mark.parametrize("held", sorted(_HELD_FURTHER))
def test_editing_a_method_whose_result_an_instance_held_further_in_caches_reselects_every_test_using_it(
    project: Project, held: str
) -> None:
    project.write(_registry_held(*_HELD_FURTHER[held]))
    project.baseline()
    project.edit("registry.py", "return key * 2", "return key * 3")
    _both_run_and_fail(project)


def test_editing_a_method_whose_result_an_instance_held_in_a_module_dict_caches_reselects_every_test_using_it(
    project: Project,
) -> None:
    uses = (
        "from registry import REGISTRIES\n\n"
        "def test_NAME():\n    assert REGISTRIES['default'].value(2) == 4\n"
    )
    project.write(_registry_held('REGISTRIES = {"default": Registry()}', uses))
    project.baseline()
    project.edit("registry.py", "return key * 2", "return key * 3")
    _both_run_and_fail(project)


def _standard_extension_module() -> tuple[str, Path]:
    """(name, file) of a standard-library extension module built as a shared library: a copy
    in a project package imports as a module of the package under the same name."""
    for name in ("_bisect", "_json", "_heapq", "_random", "array"):
        file = getattr(importlib.import_module(name), "__file__", None)
        if file and file.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            return name, Path(file)
    raise AssertionError("no standard extension module is a shared library in this Python")


def test_rebuilding_a_project_extension_module_reselects_the_tests_that_import_it(
    project: Project,
) -> None:
    """An extension module (a Cython or C build in place) runs no Python line that coverage
    could see, so what imports it depends on its file's content."""
    name, library = _standard_extension_module()
    built = project.path / "app" / library.name  # app/_bisect.cpython-312-x86_64-linux-gnu.so
    project.write(
        {
            "app/__init__.py": "",
            "app/wrap.py": f"from app import {name}\n\ndef wrapped():\n    return {name}\n",
            "tests/test_direct.py": f"import app.{name}\n\ndef test_direct():\n    pass\n",
            "tests/test_wrap.py": (
                "from app.wrap import wrapped\n\ndef test_wrap():\n    assert wrapped()\n"
            ),
            "tests/test_dynamic.py": f"""
                import importlib

                def test_dynamic():
                    assert importlib.import_module("app." + "{name}")
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    built.write_bytes(library.read_bytes())
    project.baseline().assert_outcomes(passed=4)
    assert ran(project.diff()) == []

    with built.open("ab") as out:
        out.write(b"\0" * 64)  # a rebuild: new content (appended: the library stays loadable)
    result = project.diff("--diff-v")
    assert ran(result) == [
        "tests/test_direct.py::test_direct",
        "tests/test_dynamic.py::test_dynamic",
        "tests/test_wrap.py::test_wrap",
    ]
    result.stdout.fnmatch_lines([f"difftest: changed: file app/{library.name} changed"])


def test_rebuilding_a_shared_library_project_code_loads_with_ctypes_reselects_its_users(
    project: Project,
) -> None:
    """The dynamic loader opens the library in C: loading it by path is the read."""
    _, library = _standard_extension_module()  # any shared library will do
    project.write(
        {
            "app/__init__.py": "",
            "app/native.py": """
                import ctypes
                import os

                LIB = ctypes.CDLL(os.path.join(os.path.dirname(__file__), "libcore.so"))
                """,
            "tests/test_import_time.py": "import app.native\n\ndef test_loaded():\n    assert app.native.LIB\n",
            "tests/test_run_time.py": """
                import ctypes
                from pathlib import Path

                def test_loads():
                    assert ctypes.cdll.LoadLibrary(str(Path("app/libcore.so").resolve()))
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    built = project.path / "app" / "libcore.so"
    built.write_bytes(library.read_bytes())
    project.baseline().assert_outcomes(passed=3)
    assert ran(project.diff()) == []

    with built.open("ab") as out:
        out.write(b"\0" * 64)  # a rebuild (appended: the loaded library stays valid)
    result = project.diff("--diff-v")
    assert ran(result) == [
        "tests/test_import_time.py::test_loaded",
        "tests/test_run_time.py::test_loads",
    ]
    result.stdout.fnmatch_lines(["difftest: changed: file app/libcore.so changed"])


def test_an_extension_module_built_beside_a_python_module_reselects_its_importers(
    project: Project,
) -> None:
    """An extension module imports before a .py of the same name (Cython's pure-Python mode,
    mypyc, compiled in place): the .py's content is unchanged, what its importers run is not."""
    name, library = _standard_extension_module()
    project.write(
        {
            "app/__init__.py": "",
            f"app/{name}.py": "PURE = True\n",
            "tests/test_pure.py": f"""
                from app import {name}

                def test_pure():
                    assert getattr({name}, "PURE", False)
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []

    (project.path / "app" / library.name).write_bytes(library.read_bytes())
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_pure.py::test_pure"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [f"difftest: changed: extension modules in app are now {library.name}*"]
    )


def test_removing_an_extension_module_that_shadowed_a_python_module_reselects_its_importers(
    project: Project,
) -> None:
    name, library = _standard_extension_module()
    project.write(
        {
            "app/__init__.py": "",
            f"app/{name}.py": "PURE = True\n",
            "tests/test_built.py": f"""
                from app import {name}

                def test_built():
                    assert not hasattr({name}, "PURE")
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    built = project.path / "app" / library.name
    built.write_bytes(library.read_bytes())
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []  # recorded with the build there: nothing changed
    assert ran(project.diff()) == []  # nor when the directory's state comes from the cache

    built.unlink()
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_built.py::test_built"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [f"difftest: changed: extension modules in app were removed ({library.name})"]
    )


def test_an_optional_extension_module_built_later_reselects_the_fallbacks_users(
    project: Project,
) -> None:
    """``try: from speedups import _fast`` with a pure-Python fallback: the import failed when
    the baseline was recorded; building the extension changes what the importers run. Here
    the directory it is built in holds no module a test imported (a namespace package)."""
    name, library = _standard_extension_module()
    project.write(
        {
            "app/__init__.py": "",
            "app/speed.py": f"""
                try:
                    from speedups import {name} as impl
                    FAST = True
                except ImportError:
                    FAST = False
                """,
            "speedups/README.txt": "Built in place: python setup.py build_ext --inplace\n",
            "tests/test_speed.py": """
                from app.speed import FAST

                def test_pure_fallback():
                    assert not FAST
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []

    (project.path / "speedups" / library.name).write_bytes(library.read_bytes())
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_speed.py::test_pure_fallback"]
    result.assert_outcomes(failed=1)


def test_what_a_build_wrote_under_build_or_dist_is_a_dependency_of_its_readers(
    project: Project,
) -> None:
    """Those directories hold no sources, but code generated there (put on ``sys.path``) and
    data files there (a built wheel a test inspects) are what the tests ran against."""
    project.write(
        {
            "conftest.py": """
                import os
                import sys

                sys.path.insert(0, os.path.join(os.path.dirname(__file__), "build", "gen"))
                """,
            "build/gen/messages_pb2.py": "VERSION = 1\n",
            "dist/manifest.json": '{"files": 3}\n',
            "tests/test_generated.py": """
                import messages_pb2

                def test_generated():
                    assert messages_pb2.VERSION == 1
                """,
            "tests/test_dist.py": """
                import json
                from pathlib import Path

                def test_manifest():
                    assert json.loads(Path("dist/manifest.json").read_text())["files"] == 3
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=3)
    assert ran(project.diff()) == []

    project.write({"build/gen/messages_pb2.py": "VERSION = 2\n"})
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_generated.py::test_generated"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*module messages_pb2, imported from sources outside*"])

    project.write({"build/gen/messages_pb2.py": "VERSION = 1\n", "dist/manifest.json": "{}\n"})
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_dist.py::test_manifest"]
    result.stdout.fnmatch_lines(["difftest: changed: file dist/manifest.json changed"])


def test_a_top_level_package_named_like_a_virtualenv_or_build_output_is_tracked_by_block(
    project: Project,
) -> None:
    """A top-level env/, venv/, build/ or dist/ is skipped as a virtualenv or build output,
    unless it holds an ``__init__.py``: then it is a package like any other."""
    project.write(
        {
            "env/__init__.py": "",
            "env/settings.py": """
                DEBUG = False

                def name():
                    return "prod"
                """,
            "build/__init__.py": "",
            "build/steps.py": "def steps():\n    return 3\n",
            "tests/test_settings.py": """
                from env.settings import DEBUG, name

                def test_debug():
                    assert not DEBUG

                def test_name():
                    assert name() == "prod"
                """,
            "tests/test_steps.py": """
                from build.steps import steps

                def test_steps():
                    assert steps() == 3
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=4)
    assert ran(project.diff()) == []

    project.edit("env/settings.py", '"prod"', '"dev"')
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_settings.py::test_name"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*env/settings.py::name*"])

    project.edit("env/settings.py", '"dev"', '"prod"')
    project.edit("build/steps.py", "3", "4")
    result = project.diff()
    assert ran(result) == ["tests/test_steps.py::test_steps"]
    result.assert_outcomes(failed=1)


def test_a_process_a_test_starts_depends_on_what_a_build_wrote_under_build_and_dist(
    project: Project,
) -> None:
    """What the process reads is not seen, so a test starting one depends on every project file:
    the files in the top-level build/ and dist/ too, and whether those directories exist."""
    check = """
        import subprocess
        import sys

        def test_{name}():
            subprocess.run([sys.executable, "-c", {code!r}], check=True)
        """
    project.write(
        {
            "dist/manifest.json": '{"files": 3}\n',
            "tests/test_manifest.py": check.format(
                name="manifest",
                code="import json; assert json.load(open('dist/manifest.json'))['files'] == 3",
            ),
            "tests/test_clean.py": check.format(
                name="clean", code="import os; assert not os.path.exists('build')"
            ),
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=3)
    assert ran(project.diff()) == []

    project.write({"dist/manifest.json": '{"files": 4}\n'})
    result = project.diff("--diff-v")
    assert sorted(ran(result)) == [
        "tests/test_clean.py::test_clean",
        "tests/test_manifest.py::test_manifest",
    ]
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*file dist/manifest.json changed*"])

    project.write({"dist/manifest.json": '{"files": 3}\n'})
    assert ran(project.diff()) == []
    project.write({"build/lib/app.py": ""})
    result = project.diff()
    assert sorted(ran(result)) == [
        "tests/test_clean.py::test_clean",
        "tests/test_manifest.py::test_manifest",
    ]
    result.assert_outcomes(passed=1, failed=1)


@pytest.mark.parametrize(
    "memo",
    [
        """
        def get(key, _memo={}):
            if key not in _memo:
                _memo[key] = _compute(key)
            return _memo[key]
        """,
        """
        class _Getter:
            _cache = {}

            def __call__(self, key):
                if key not in self._cache:
                    self._cache[key] = _compute(key)
                return self._cache[key]

        def get(key):
            return _Getter()(key)
        """,
        """
        import functools

        get = functools.lru_cache(maxsize=None)(lambda key: _compute(key))
        """,
    ],
    ids=["mutable-default", "class-attribute-through-self", "memo-around-a-lambda"],
)
def test_a_test_that_hits_a_memo_an_earlier_test_filled_is_reselected_when_what_filled_it_changes(
    project: Project, memo: str
) -> None:
    # The second test never runs `_compute`: the first one stored its result.
    project.write(
        {
            **UNRELATED,
            "calc.py": "def _compute(key):\n    return key * 10\n\n" + textwrap.dedent(memo),
            "tests/test_a.py": "from calc import get\n\ndef test_a():\n    assert get(2) == 20\n",
            "tests/test_b.py": "from calc import get\n\ndef test_b():\n    assert get(2) == 20\n",
        }
    )
    project.baseline()
    project.edit("calc.py", "key * 10", "key * 11")
    assert ran(project.diff()) == ["tests/test_a.py::test_a", "tests/test_b.py::test_b"]


@pytest.mark.parametrize(
    ("source", "edit"),
    [
        (
            """
            from registry import register

            def on_start():
                return "start"

            def on_stop():
                return "stop"

            for _handler in map(register, [on_start, on_stop]):
                pass
            """,
            ("[on_start, on_stop]", "[on_start]"),
        ),
        (
            """
            from registry import Base

            Csv = type("Csv", (Base,), {"kind": "csv"})
            Json = type("Json", (Base,), {"kind": "json"})
            """,
            ('"kind": "json"', '"kind": "yaml"'),
        ),
    ],
    ids=["map-over-a-registering-function", "type-with-a-registering-base"],
)
def test_an_import_time_builtin_call_that_runs_project_code_reselects_the_tests_of_what_it_ran(
    project: Project, source: str, edit: tuple[str, str]
) -> None:
    project.write(
        {
            **UNRELATED,
            "registry.py": """
                HANDLERS = []

                def register(func):
                    HANDLERS.append(func)
                    return func

                class Base:
                    def __init_subclass__(cls, **kwargs):
                        super().__init_subclass__(**kwargs)
                        HANDLERS.append(cls.kind)
                """,
            "handlers.py": source,
            "tests/test_handlers.py": """
                import handlers
                from registry import HANDLERS

                def test_two_registered():
                    assert len(HANDLERS) == 2
                """,
        }
    )
    project.baseline()
    project.edit("handlers.py", *edit)
    assert ran(project.diff()) == ["tests/test_handlers.py::test_two_registered"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_pointing_a_symlinked_module_at_another_file_reselects_the_tests_that_ran_it(
    project: Project,
) -> None:
    project.write(
        {
            **UNRELATED,
            "shared/impl.py": "def f():\n    return 1\n",
            "shared/impl2.py": "def f():\n    return 2\n",
            "tests/test_app.py": "from app import f\n\ndef test_f():\n    assert f() == 1\n",
        }
    )
    os.symlink("shared/impl.py", project.path / "app.py")
    project.baseline()
    assert ran(project.diff()) == []
    (project.path / "app.py").unlink()
    os.symlink("shared/impl2.py", project.path / "app.py")
    result = project.diff()
    assert ran(result) == ["tests/test_app.py::test_f"]
    result.assert_outcomes(failed=1)


def test_recording_leaves_the_file_functions_behaving_as_the_builtins_they_stand_in_for(
    project: Project,
) -> None:
    project.write(
        {
            "app/__init__.py": "",
            "app/data.txt": "hello\n",
            "app/helpers.py": """
                import os

                HERE = os.path.dirname(__file__)

                class Reader:
                    opener = open  # a builtin held on a class does not become a method
                    lister = os.listdir

                    def read(self):
                        with self.opener(os.path.join(HERE, "data.txt")) as fh:
                            return fh.read()

                    def names(self):
                        return self.lister(HERE)
                """,
            "tests/test_builtins.py": """
                import os
                import pickle

                from app.helpers import Reader

                def test_held_on_a_class():
                    assert Reader().read() == "hello\\n"
                    assert "data.txt" in Reader().names()

                def test_in_the_supports_sets():
                    assert os.stat in os.supports_follow_symlinks
                    assert os.open in os.supports_dir_fd
                    assert os.scandir in os.supports_fd

                def test_pickled_by_name():
                    assert pickle.loads(pickle.dumps(os.stat)) is os.stat
                    assert pickle.loads(pickle.dumps(open)) is open
                """,
        }
    )
    project.baseline().assert_outcomes(passed=3)
    # Once the run is over, the originals are back, alone in the sets.
    supports = os.supports_follow_symlinks | os.supports_fd | os.supports_dir_fd
    assert type(os.stat).__name__ == "builtin_function_or_method"
    assert all(type(f).__name__ == "builtin_function_or_method" for f in supports)


def test_a_new_test_file_whose_module_name_clashes_with_a_recorded_one_fails_as_a_full_run_does(
    project: Project,
) -> None:
    # Neither directory is a package: pytest imports both files as the module `test_x`.
    project.write({"tests/a/test_x.py": "def test_one():\n    pass\n"})
    project.baseline()
    project.write({"tests/c/test_x.py": "def test_three():\n    pass\n"})
    full = project.run("-p", "no:difftest")
    assert full.ret == pytest.ExitCode.INTERRUPTED  # "import file mismatch"
    result = project.diff()
    assert result.ret == full.ret
    result.stdout.fnmatch_lines(["*import file mismatch*"])


def test_what_a_plugin_module_given_with_dash_p_reads_when_imported_reselects_its_tests(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest imports `-p` plugins before any difftest hook runs: what they read then is found by
    # importing them again in a fresh interpreter.
    monkeypatch.delenv("APP_PLUGIN_MODE", raising=False)
    project.write(
        {
            **UNRELATED,
            "tox.ini": """
                [pytest]
                pythonpath = .
                addopts = -v -p app.plug
                """,
            "app/__init__.py": "",
            "app/conf.json": '{"limit": 5}',
            "app/settings.py": """
                import json
                import os
                import pathlib

                DATA = json.loads((pathlib.Path(__file__).parent / "conf.json").read_text())
                MODE = os.environ.get("APP_PLUGIN_MODE", "a")
                """,
            "app/plug.py": """
                import pytest

                from app import settings

                @pytest.fixture
                def limit():
                    return settings.DATA["limit"]
                """,
            "tests/test_settings.py": """
                from app import settings

                def test_limit(limit):
                    assert limit < 10

                def test_mode():
                    assert settings.MODE == "a"
                """,
        }
    )
    project.subprocess("--diff-baseline").assert_outcomes(passed=3)
    assert ran(project.subprocess("--diff")) == []
    # A plugin serves every test: every test depends on what it imports, and what that reads.
    everything = [
        "tests/test_settings.py::test_limit",
        "tests/test_settings.py::test_mode",
        "tests/test_unrelated.py::test_unrelated",
    ]
    project.write({"app/conf.json": '{"limit": 50}'})
    assert ran(project.subprocess("--diff")) == everything
    project.write({"app/conf.json": '{"limit": 5}'})
    monkeypatch.setenv("APP_PLUGIN_MODE", "b")
    assert ran(project.subprocess("--diff")) == everything


@pytest.mark.parametrize(
    "first",
    ["", '"""Keep value under key."""', "global _LAST"],
    ids=["plain", "docstring", "global"],
)
@pytest.mark.parametrize("holder", ["session fixture", "module global"])
def test_a_test_reading_what_an_earlier_test_stored_on_a_shared_instance_depends_on_what_computed_it(
    project: Project, holder: str, first: str
) -> None:
    # test_rate finds the value test_warm stored: it never runs `rate`, yet an edit there fails it.
    # (A docstring or `global` is no line that runs: the storing method must be seen to run.)
    fixture = holder == "session fixture"
    project.write(
        {
            **UNRELATED,
            "app/__init__.py": "",
            "app/store.py": """
                class Store:
                    def __init__(self):
                        self._data = {}

                    def put(self, key, value):
                        DOC
                        self._data[key] = value

                    def get_or(self, key, compute):
                        if key not in self._data:
                            self._data[key] = compute()
                        return self._data[key]

                STORE = Store()

                def rate():
                    return 10

                def warm(store):
                    store.put("rate", rate())
                """.replace("DOC", first),
            "tests/conftest.py": """
                import pytest

                from app.store import STORE, Store

                @pytest.fixture(scope="session")
                def store():
                    return Store() if FRESH else STORE
                """.replace("FRESH", repr(fixture)),
            "tests/test_a.py": "from app.store import warm\n\ndef test_warm(store):\n    warm(store)\n",
            "tests/test_b.py": """
                from app.store import rate

                def test_rate(store):
                    assert store.get_or("rate", rate) == 10
                """,
        }
    )
    project.baseline()
    project.edit("app/store.py", "return 10", "return 11")
    assert ran(project.diff()) == ["tests/test_a.py::test_warm", "tests/test_b.py::test_rate"]
