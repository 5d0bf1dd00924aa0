"""The environment a test ran against: installed distributions, Python, pytest's configuration."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest
from pytester_project import Project, ran

from difftest.changes.environment import PYTHON_KEY


def install_fake_distribution(site: Path, version: str) -> None:
    """A tiny distribution ``fakedist`` (module ``fakedist``) installed in ``site``."""
    for old in site.glob("fakedist-*.dist-info"):
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    (site / "fakedist").mkdir(parents=True, exist_ok=True)
    (site / "fakedist" / "__init__.py").write_text("def answer():\n    return 42\n")
    info = site / f"fakedist-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakedist\nVersion: {version}\n")
    (info / "top_level.txt").write_text("fakedist\n")


@pytest.fixture
def site(
    project: Project, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    path = tmp_path_factory.mktemp("site-packages")
    install_fake_distribution(path, "1.0")
    monkeypatch.syspath_prepend(str(path))
    return path


@pytest.fixture
def empty_site(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site directory on ``sys.path`` where nothing is installed yet."""
    path = tmp_path_factory.mktemp("later-site-packages")
    monkeypatch.syspath_prepend(str(path))
    return path


def test_upgrading_a_distribution_reselects_the_tests_that_import_it(
    project: Project, site: Path
) -> None:
    project.write(
        {
            "tests/test_fake.py": "import fakedist\n\ndef test_answer():\n    assert fakedist.answer() == 42\n",
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline()
    assert ran(project.diff()) == []
    install_fake_distribution(site, "2.0")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_fake.py::test_answer"]
    result.stdout.fnmatch_lines(
        ["difftest: changed: dist/fakedist is now 2.0", "*environment changed: dist/fakedist*"]
    )


@pytest.mark.parametrize("shadow", ["tests/fakedist.py", "tests/fakedist/__init__.py"])
def test_a_project_module_created_under_an_installed_modules_name_reselects_its_importers(
    project: Project, site: Path, shadow: str
) -> None:
    project.write(
        {
            "tests/test_fake.py": "import fakedist\n\ndef test_answer():\n    assert fakedist.answer() == 42\n",
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline()
    # pytest puts tests/ before site-packages on sys.path: this module is imported instead.
    project.write({shadow: "def answer():\n    return 0\n"})
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_fake.py::test_answer"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"difftest: changed: shadow/fakedist is now {shadow}"])


def test_what_would_shadow_an_import_is_one_dependency_per_module_however_many_import_roots(
    project: Project, site: Path
) -> None:
    test = "import fakedist\n\ndef test_answer():\n    assert fakedist.answer() == 42\n"
    # Each test directory without an __init__.py is put on sys.path: 20 import roots.
    project.write({f"tests/area{i}/test_area{i}.py": test for i in range(20)})
    project.baseline().assert_outcomes(passed=20)
    record = project.records()["tests/area7/test_area7.py::test_answer"]
    shadows = {d.key: d.version for d in record.deps if d.key.startswith("<env>/shadow/")}
    assert shadows == {
        "<env>/shadow/fakedist": "absent",
        "<env>/shadow/test_area7": "tests/area7/test_area7.py",
    }
    assert not [d.key for d in record.deps if "fakedist" in d.key and "<env>" not in d.key]
    # Whether it shadows the installed one depends on the order directories join sys.path:
    # every importer runs.
    project.write({"tests/area3/fakedist.py": "def answer():\n    return 0\n"})
    result = project.diff("--diff-v")
    assert len(ran(result)) == 20
    result.stdout.fnmatch_lines(
        ["difftest: changed: shadow/fakedist is now tests/area3/fakedist.py"]
    )


def test_installing_a_missing_optional_distribution_reselects_the_tests_that_tried_it(
    project: Project, empty_site: Path
) -> None:
    site = empty_site
    project.write(
        {
            "tests/test_optional.py": """
                try:
                    import fakedist
                except ImportError:
                    fakedist = None

                def test_works_either_way():
                    assert fakedist is None or fakedist.answer() == 42
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline()
    install_fake_distribution(site, "1.0")
    assert ran(project.diff()) == ["tests/test_optional.py::test_works_either_way"]


def _install_plugin_distribution(site: Path, name: str, group: str) -> None:
    """Distribution ``name`` (no modules) with an entry point ``name`` in ``group``."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{name} = json:loads\n")


def test_installing_a_distribution_reselects_the_tests_that_looked_installed_ones_up(
    project: Project, empty_site: Path
) -> None:
    """Entry-point plugin discovery and ``version()`` import nothing of what they find, so no
    import ties the tests to a distribution installed later: the lookups themselves do."""
    project.write(
        {
            "app/__init__.py": "",
            "app/plugins.py": """
                from importlib.metadata import PackageNotFoundError, entry_points, version

                def plugins():
                    found = entry_points()
                    if hasattr(found, "select"):
                        found = found.select(group="app.plugins")
                    else:  # Python 3.9
                        found = found.get("app.plugins", ())
                    return sorted(ep.name for ep in found)

                def fakedist_version():
                    try:
                        return version("fakedist")
                    except PackageNotFoundError:
                        return None
                """,
            "tests/test_plugins.py": """
                from app.plugins import fakedist_version, plugins

                def test_no_plugins():
                    assert plugins() == []

                def test_fakedist_absent():
                    assert fakedist_version() is None
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=3)
    assert ran(project.diff()) == []

    _install_plugin_distribution(empty_site, "fancy-plugin", "app.plugins")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_plugins.py::test_no_plugins"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the installed distributions changed*entry points*"])

    install_fake_distribution(empty_site, "1.0")
    result = project.diff("--diff-v")
    assert "tests/test_plugins.py::test_fakedist_absent" in ran(result)
    assert "tests/test_plain.py::test_plain" not in ran(result)
    result.stdout.fnmatch_lines(["difftest: changed: dist/fakedist is now 1.0"])


def test_editing_a_module_imported_from_outside_the_project_reselects_its_importers(
    project: Project, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sibling project on ``sys.path`` (a ``pythonpath`` entry such as ``../shared``, or an
    editable install's path entry) is neither the project's nor an installed version's."""
    shared = tmp_path_factory.mktemp("shared")
    (shared / "sharedpkg").mkdir()
    (shared / "sharedpkg" / "__init__.py").write_text("from sharedpkg.values import VALUE\n")
    (shared / "sharedpkg" / "values.py").write_text("VALUE = 1\n")
    editable = tmp_path_factory.mktemp("editable")
    (editable / "siblingmod.py").write_text("def helper():\n    return 5\n")
    monkeypatch.syspath_prepend(str(editable))
    project.pytester.makeini(f"[pytest]\npythonpath = . {shared}\naddopts = -v\n")
    project.write(
        {
            "tests/test_shared.py": "import sharedpkg\n\ndef test_value():\n    assert sharedpkg.VALUE == 1\n",
            "tests/test_sibling.py": """
                def test_helper():
                    import siblingmod

                    assert siblingmod.helper() == 5
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=3)
    assert ran(project.diff()) == []

    Project._replace(shared / "sharedpkg" / "values.py", "VALUE = 2\n")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_shared.py::test_value"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["difftest: changed: module sharedpkg, imported from sources outside the project*"]
    )
    Project._replace(shared / "sharedpkg" / "values.py", "VALUE = 1\n")
    project.baseline()

    Project._replace(editable / "siblingmod.py", "def helper():\n    return 6\n")
    result = project.diff()
    assert ran(result) == ["tests/test_sibling.py::test_helper"]
    result.assert_outcomes(failed=1)


def test_installing_a_module_a_skipped_test_missed_reselects_it_whatever_distribution_brings_it(
    project: Project, empty_site: Path
) -> None:
    site = empty_site
    project.write(
        {
            "tests/test_backends.py": """
                import pytest

                @pytest.mark.parametrize("backend", ["json", "fancy"])
                def test_backend(backend):
                    lib = pytest.importorskip(backend)
                    assert lib.loads("[1]") == [1]
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=2, skipped=1)
    # Module `fancy`, from a distribution of another name, whose loads is broken.
    (site / "fancy.py").write_text("def loads(text):\n    return text\n")
    info = site / "Fancy_Lib-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Fancy-Lib\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("fancy\n")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_backends.py::test_backend[fancy]"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["difftest: changed: module/fancy is now importable"])


def test_reinstalling_a_local_build_under_the_same_version_reselects_the_tests_that_import_it(
    project: Project, empty_site: Path
) -> None:
    """``pip install .`` of the project into the test environment (as tox does): the tests run
    the installed copy, which a rebuild changes without changing its version."""

    def install(answer: int) -> None:
        package = empty_site / "localpkg"
        package.mkdir(exist_ok=True)
        code = f"def answer():\n    return {answer}\n"
        (package / "__init__.py").write_text(code)
        info = empty_site / "localpkg-0.1.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: localpkg\nVersion: 0.1.0\n")
        (info / "top_level.txt").write_text("localpkg\n")
        (info / "direct_url.json").write_text('{"url": "file:///src/localpkg", "dir_info": {}}')
        digest = hashlib.sha256(code.encode()).hexdigest()
        (info / "RECORD").write_text(f"localpkg/__init__.py,sha256={digest},{len(code)}\n")

    install(42)
    project.write(
        {
            "tests/test_local.py": """
                import localpkg

                def test_answer():
                    assert localpkg.answer() == 42
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline()
    assert ran(project.diff()) == []
    install(43)
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_local.py::test_answer"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["difftest: changed: dist/localpkg is now 0.1.0 (files *)"])


def test_an_environment_variable_project_code_reads_reselects_its_tests_when_it_changes(
    project: Project, empty_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APP_DATABASE_URL", raising=False)
    monkeypatch.delenv("APP_LIBRARY_FLAG", raising=False)
    # A library reading a variable for project code: what it returns depends on the value.
    (empty_site / "somelib.py").write_text(
        "import os\n\ndef flag():\n    return os.environ.get('APP_LIBRARY_FLAG', 'off')\n"
    )
    project.write(
        {
            "tests/test_db.py": """
                import os

                import pytest

                @pytest.mark.skipif(not os.getenv("APP_DATABASE_URL"), reason="no database")
                def test_db():
                    assert os.environ["APP_DATABASE_URL"].startswith("postgres:")
                """,
            "tests/test_other.py": """
                import os

                import somelib

                def test_own_variable(monkeypatch):
                    monkeypatch.setenv("APP_MODE", "test")
                    assert os.environ["APP_MODE"] == "test"

                def test_library():
                    assert somelib.flag() in ("off", "on")

                def test_copies_the_environment():
                    # Every variable, none by name: CI runs differ in variables it does not use.
                    assert len(dict(os.environ.items())) == len(os.environ.copy())
                """,
        }
    )
    project.baseline().assert_outcomes(passed=3, skipped=1)
    assert ran(project.diff()) == []
    # What a test sets itself is no dependency, though monkeypatch reads it to restore it.
    monkeypatch.setenv("APP_MODE", "prod")
    assert ran(project.diff()) == []
    monkeypatch.setenv("APP_LIBRARY_FLAG", "on")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_other.py::test_library"]
    result.stdout.fnmatch_lines(
        ["difftest: changed: environment variable APP_LIBRARY_FLAG is now set"]
    )
    project.baseline()
    monkeypatch.setenv("APP_DATABASE_URL", "sqlite://secret-host-42")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_db.py::test_db"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["difftest: changed: environment variable APP_DATABASE_URL is now set"]
    )
    assert b"secret-host-42" not in project.db.read_bytes()  # only a digest is kept


def test_a_test_option_the_projects_conftest_reads_reselects_what_it_can_change(
    project: Project,
) -> None:
    """pytest's documented ``--runslow``: tests skipped without the option run with it."""
    project.write(
        {
            "tests/conftest.py": """
                import pytest

                def pytest_addoption(parser):
                    parser.addoption("--runslow", action="store_true", default=False)

                def pytest_configure(config):
                    config.addinivalue_line("markers", "slow: needs --runslow")

                def pytest_collection_modifyitems(config, items):
                    if not config.getoption("--runslow"):
                        for item in items:
                            if "slow" in item.keywords:
                                item.add_marker(pytest.mark.skip(reason="needs --runslow"))
                """,
            "tests/test_speed.py": """
                import pytest

                @pytest.mark.slow
                def test_slow():
                    assert 1 + 1 == 3

                def test_fast():
                    pass
                """,
        }
    )
    project.baseline().assert_outcomes(passed=1, skipped=1)
    assert ran(project.diff("-v")) == []  # an option no project code reads
    result = project.diff("--runslow", "--diff-v")
    assert ran(result) == ["tests/test_speed.py::test_fast", "tests/test_speed.py::test_slow"]
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["difftest: changed: pytest option runslow changed"])


def test_a_pytest_option_project_code_reads_reselects_its_readers(project: Project) -> None:
    """pytest applies ``-v`` to reports only, but a conftest may turn on a branch with it."""
    project.write(
        {
            "tests/conftest.py": """
                import pytest

                DEBUG = {}

                @pytest.fixture
                def debug(pytestconfig):
                    return pytestconfig.getoption("verbose") > 1
                """,
            "tests/test_debug.py": "def test_debug(debug):\n    assert not debug\n",
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=2)
    result = project.diff("-vv", "--diff-v")
    assert ran(result) == ["tests/test_debug.py::test_debug"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["difftest: changed: pytest option verbose changed"])


def test_an_ini_value_a_conftest_below_the_root_registers_is_configuration(
    project: Project,
) -> None:
    project.pytester.makeini("[pytest]\npythonpath = .\naddopts = -v\nmyflag = a\n")
    project.write(
        {
            "tests/sub/conftest.py": """
                import pytest

                def pytest_addoption(parser):
                    parser.addini("myflag", "a flag", default="a")

                @pytest.fixture
                def flag(request):
                    return request.config.getini("myflag")
                """,
            "tests/sub/test_flag.py": "def test_flag(flag):\n    assert flag == 'a'\n",
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []
    project.pytester.makeini("[pytest]\npythonpath = .\naddopts = -v\nmyflag = b\n")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/sub/test_flag.py::test_flag", "tests/test_plain.py::test_plain"]
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["difftest: changed: the pytest configuration changed: ini myflag"])


def test_a_different_python_reselects_everything(project: Project) -> None:
    project.write(
        tests__test_a="def test_a():\n    pass\n", tests__test_b="def test_b():\n    pass\n"
    )
    project.baseline()
    project.sql("UPDATE version SET hash = 'CPython 3.0.0 linux' WHERE key = ?", (PYTHON_KEY,))
    project.sql(
        "UPDATE dep SET fingerprint = 'CPython 3.0.0 linux' WHERE version_id IN "
        "(SELECT id FROM version WHERE key = ?)",
        (PYTHON_KEY,),
    )
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_a.py::test_a", "tests/test_b.py::test_b"]
    result.stdout.fnmatch_lines(
        ["difftest: changed: python is now CPython*", "*environment changed: python*"]
    )


OPTIONAL_CHECK = {
    "app.py": "def half(n):\n    assert n % 2 == 0, 'odd'\n    return n // 2\n",
    "tests/test_half.py": "from app import half\n\ndef test_half():\n    half(3)\n",
    "tests/test_plain.py": "def test_plain():\n    pass\n",
}


def test_a_baseline_recorded_under_python_dash_o_reselects_everything_without_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # -O strips project asserts: test_half passes only under it.
    project.write(OPTIONAL_CHECK)
    monkeypatch.setenv("PYTHONOPTIMIZE", "1")
    project.subprocess("--diff-baseline").assert_outcomes(passed=2)
    assert ran(project.subprocess("--diff")) == []
    monkeypatch.delenv("PYTHONOPTIMIZE")
    result = project.subprocess("--diff", "--diff-v")
    assert ran(result) == ["tests/test_half.py::test_half", "tests/test_plain.py::test_plain"]
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["difftest: changed: python is now CPython *", "*AssertionError: odd"]
    )
    assert " -O" not in "".join(result.outlines)


def test_python_dash_o_with_xdist_workers_is_judged_by_the_workers_interpreter(
    project: Project,
) -> None:
    """pytest-xdist starts its workers without the controller's -O: the tests run without it,
    so the records and the controller's view of the environment must agree on that."""
    pytest.importorskip("xdist")
    project.write(OPTIONAL_CHECK)
    dash_o = (sys.executable, "-O", "-m", "pytest", "-p", "no:cacheprovider", "-n", "2")
    project.pytester.run(*dash_o, "--diff-baseline").assert_outcomes(passed=1, failed=1)
    # The workers ran without -O: nothing changed, the failing test runs again.
    result = project.pytester.run(*dash_o, "--diff", "--diff-v")
    assert ran(result) == ["tests/test_half.py::test_half"]
    result.stdout.fnmatch_lines(["*1 failed*"])


DEPRECATED_CALL = {
    "app.py": """
        import warnings

        def old_api():
            warnings.warn("use new_api", DeprecationWarning)
            return 1
        """,
    "tests/test_old.py": "from app import old_api\n\ndef test_old():\n    assert old_api() == 1\n",
    "tests/test_plain.py": "def test_plain():\n    pass\n",
}
BOTH_TESTS = ["tests/test_old.py::test_old", "tests/test_plain.py::test_plain"]


@pytest.mark.parametrize("given_by", ["PYTHONWARNINGS", "-W"])
def test_python_warning_options_given_later_reselect_everything_and_say_so(
    project: Project, monkeypatch: pytest.MonkeyPatch, given_by: str
) -> None:
    """``-W error`` (or ``PYTHONWARNINGS=error``) turns a warning into a failure: a test that
    passed under no warning options may fail under them, though no file changed."""
    project.write(DEPRECATED_CALL)
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    python = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider")
    project.pytester.run(*python, "--diff-baseline").assert_outcomes(passed=2, warnings=1)
    assert ran(project.pytester.run(*python, "--diff")) == []
    if given_by == "-W":
        python = (sys.executable, "-W", "error::DeprecationWarning", *python[1:])
    else:
        monkeypatch.setenv("PYTHONWARNINGS", "error::DeprecationWarning")
    result = project.pytester.run(*python, "--diff", "--diff-v")
    assert ran(result) == BOTH_TESTS
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "difftest: changed: python's warning options (-W, PYTHONWARNINGS) are now"
            " -W error::DeprecationWarning",
            "*environment changed: python*",
        ]
    )
    # Recorded under them, nothing is left to select but the failing test.
    project.pytester.run(*python, "--diff-baseline").assert_outcomes(passed=1, failed=1)
    assert ran(project.pytester.run(*python, "--diff")) == ["tests/test_old.py::test_old"]


def test_python_warning_options_with_xdist_workers_are_judged_by_the_workers_interpreter(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-xdist starts its workers with the controller's environment (PYTHONWARNINGS) but
    not its -W options: the tests run under the first only."""
    pytest.importorskip("xdist")
    project.write(DEPRECATED_CALL)
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    python = (sys.executable, "-W", "ignore::ImportWarning", "-m", "pytest")
    xdist = (*python, "-p", "no:cacheprovider", "-n", "2")
    project.pytester.run(*xdist, "--diff-baseline").assert_outcomes(passed=2, warnings=1)
    assert ran(project.pytester.run(*xdist, "--diff")) == []  # the controller's -W is not theirs
    monkeypatch.setenv("PYTHONWARNINGS", "error::DeprecationWarning")
    result = project.pytester.run(*xdist, "--diff", "--diff-v")
    assert ran(result) == BOTH_TESTS
    result.assert_outcomes(passed=1, failed=1)


_VARIABLE_READS = {
    "os.environb": 'os.environb.get(b"APP_MODE", b"").decode()',
    "os.getenvb": '(os.getenvb(b"APP_MODE") or b"").decode()',
    "os.path.expandvars": 'os.path.expandvars("${APP_MODE}")',
    "string.Template": 'string.Template("$APP_MODE").substitute(os.environ)',
    "string.Template with keywords": (
        'string.Template("$APP_MODE$suffix").safe_substitute(os.environ, suffix="")'
    ),
    "os.environ.keys()": 'os.environ.copy()["APP_MODE"] if "APP_MODE" in os.environ.keys() else ""',
    "collections.ChainMap": 'collections.ChainMap(os.environ, {}).get("APP_MODE")',
}


@pytest.mark.parametrize("read", sorted(_VARIABLE_READS))
def test_a_variable_project_code_reads_by_bytes_or_through_a_template_reselects_its_tests(
    project: Project, monkeypatch: pytest.MonkeyPatch, read: str
) -> None:
    if read.startswith("os.") and read.endswith("b") and not os.supports_bytes_environ:
        pytest.skip("no environment by bytes here")
    monkeypatch.setenv("APP_MODE", "a")
    project.write(
        {
            "app.py": (
                "import collections\nimport os\nimport string\n\n"
                f"def mode():\n    return {_VARIABLE_READS[read]}\n"
            ),
            "tests/test_mode.py": "import app\n\ndef test_mode():\n    assert app.mode() == 'a'\n",
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []
    monkeypatch.setenv("APP_MODE", "b")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_mode.py::test_mode"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["difftest: changed: environment variable APP_MODE changed"])


def test_a_variable_the_standard_library_reads_for_project_code_reselects_its_tests(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``os.path.expanduser`` reads ``HOME`` for the project; ``PYTEST_BASE_URL`` is named like
    pytest's own variables but is the user's (pytest-base-url)."""
    home = project.pytester.path / "home"
    monkeypatch.setenv("HOME", str(home / "a"))
    monkeypatch.setenv("PYTEST_BASE_URL", "http://a.test")
    project.write(
        {
            "app.py": """
                import os

                def config_dir():
                    return os.path.expanduser("~/.app")

                def base_url():
                    return os.environ.get("PYTEST_BASE_URL")
                """,
            "tests/test_home.py": """
                import app

                def test_home():
                    assert app.config_dir().endswith("a/.app")
                """,
            "tests/test_url.py": """
                import app

                def test_url():
                    assert app.base_url() == "http://a.test"
                """,
            "tests/test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    project.baseline().assert_outcomes(passed=3)
    assert ran(project.diff()) == []
    monkeypatch.setenv("HOME", str(home / "b"))
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_home.py::test_home"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["difftest: changed: environment variable HOME changed"])
    monkeypatch.setenv("HOME", str(home / "a"))
    monkeypatch.setenv("PYTEST_BASE_URL", "http://b.test")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_url.py::test_url"]
    result.assert_outcomes(failed=1)


def test_editing_the_pytest_configuration_reselects_everything(project: Project) -> None:
    project.write(
        tests__test_a="def test_a():\n    pass\n", tests__test_b="def test_b():\n    pass\n"
    )
    project.baseline()
    project.pytester.makeini("[pytest]\npythonpath = .\naddopts = -v\nxfail_strict = true\n")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_a.py::test_a", "tests/test_b.py::test_b"]
    result.stdout.fnmatch_lines(
        [
            # pytest 9 calls the setting strict_xfail
            "difftest: changed: the pytest configuration changed: ini *xfail*",
            "*environment changed: pytest-config*",
        ]
    )
    # A partial run records one test under the new configuration; the other is still described
    # by what changed since its own.
    project.baseline("tests/test_b.py")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_a.py::test_a"]
    result.stdout.fnmatch_lines(
        ["difftest: changed: the pytest configuration changed: ini *xfail*"]
    )


def test_a_command_line_option_that_changes_outcomes_reselects_everything(project: Project) -> None:
    project.write(
        tests__test_warns="import warnings\n\ndef test_warns():\n    warnings.warn('old')\n",
        tests__test_b="def test_b():\n    pass\n",
    )
    project.baseline()
    assert ran(project.diff("--tb=short", "-x")) == []  # reporting and stopping change nothing
    result = project.diff("-W", "error::UserWarning")
    assert ran(result) == ["tests/test_b.py::test_b", "tests/test_warns.py::test_warns"]
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*environment changed: pytest-config*"])


_OUTCOME_FLAGS = {
    "--log-cli-level": (["--log-cli-level=DEBUG"], "option log_cli_level"),
    "--capture=sys": (["--capture=sys"], "option capture"),
}
# pytest 7.3 added --log-disable; Pants' tool pytest (7.0.1) has no such option to test.
if tuple(int(part) for part in pytest.__version__.split(".")[:2]) >= (7, 3):
    _OUTCOME_FLAGS["--log-disable"] = (["--log-disable=app"], "option logger_disable")


@pytest.mark.parametrize("flag", sorted(_OUTCOME_FLAGS))
def test_logging_and_capture_options_that_change_what_a_test_sees_reselect_everything(
    project: Project, flag: str
) -> None:
    args, part = _OUTCOME_FLAGS[flag]
    project.write(
        {
            "app.py": """
                import logging

                def work():
                    logging.getLogger("app").debug("detail")
                    logging.getLogger("app").warning("careful")
                """,
            "tests/test_log.py": """
                import sys

                import app

                def test_log(caplog):
                    app.work()
                    assert caplog.messages == ["careful"]

                def test_stdout():
                    assert sys.stdout.fileno() >= 0
                """,
        }
    )
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff("-s")) == []  # debugging output is no change of configuration
    result = project.diff("--diff-v", *args)
    assert len(ran(result)) == 2
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([f"difftest: changed: the pytest configuration changed: {part}"])


def test_a_marker_undeclared_under_strict_markers_or_a_plugin_named_by_variable_reselects(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.pytester.makeini(
        "[pytest]\npythonpath = .\naddopts = --strict-markers\nmarkers =\n    slow: slow tests\n"
    )
    project.write(
        {
            "tests/test_slow.py": "import pytest\n\n@pytest.mark.slow\ndef test_slow():\n    pass\n",
            "failing_plugin.py": """
                import pytest

                @pytest.fixture(autouse=True)
                def broken():
                    yield
                    raise RuntimeError("teardown")
                """,
        }
    )
    project.baseline().assert_outcomes(passed=1)
    # pytest before 7.1 imports PYTEST_PLUGINS before it applies the pythonpath ini key.
    monkeypatch.syspath_prepend(str(project.pytester.path))
    monkeypatch.setenv("PYTEST_PLUGINS", "failing_plugin")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_slow.py::test_slow"]
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*configuration changed: option PYTEST_PLUGINS*"])
    monkeypatch.delenv("PYTEST_PLUGINS")
    project.pytester.makeini("[pytest]\npythonpath = .\naddopts = --strict-markers\nmarkers =\n")
    result = project.diff("--diff-v")
    # Selected, it fails to collect (in a fresh interpreter; in-process, markers linger).
    result.stdout.fnmatch_lines(
        [
            "difftest: changed: the pytest configuration changed: ini markers",
            "difftest: selected tests/test_slow.py::test_slow",
        ]
    )


def test_an_installed_plugins_option_that_changes_outcomes_reselects_everything(
    project: Project,
) -> None:
    """The plugin applies its option to every test (``--timeout``, ``--asyncio-mode``): no
    project code reads it, yet every outcome may change with it."""
    project.write(
        {
            "lengthcheck.py": """
                import pytest

                def pytest_addoption(parser):
                    parser.addoption("--max-name", type=int, default=None)
                    parser.addoption("--report-title", default="tests")
                    parser.addoption("--min-name", type=int, default=3)

                def pytest_runtest_call(item):
                    limit = item.config.getoption("max_name")
                    if limit is not None and len(item.name) > limit:
                        pytest.fail(f"{item.name} is longer than {limit}")
                """,
            "tests/test_a.py": "def test_a():\n    pass\n",
            "tests/test_long_name.py": "def test_long_name():\n    pass\n",
        }
    )
    project.pytester.syspathinsert()
    project.baseline("-p", "lengthcheck").assert_outcomes(passed=2)
    assert ran(project.diff("-p", "lengthcheck")) == []
    # At its default, given or not, an option is no change.
    assert ran(project.diff("-p", "lengthcheck", "--report-title=tests")) == []
    # A value that is false but not the default is a change too.
    result = project.diff("-p", "lengthcheck", "--min-name=0")
    assert ran(result) == ["tests/test_a.py::test_a", "tests/test_long_name.py::test_long_name"]
    result = project.diff("-p", "lengthcheck", "--max-name=8", "--diff-v")
    assert ran(result) == ["tests/test_a.py::test_a", "tests/test_long_name.py::test_long_name"]
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["difftest: changed: the pytest configuration changed: plugin option max_name"]
    )


def test_options_of_parallel_runs_and_shards_are_no_configuration_change(
    project: Project,
) -> None:
    """They are neutral while their plugins are loaded (here stand-ins under the plugins'
    module names); another plugin's option of the same name counts."""
    project.write(
        {
            "pytest_split.py": """
                def pytest_addoption(parser):
                    parser.addoption("--splits", type=int, default=None)
                    parser.addoption("--group", type=int, default=None)
                """,
            "pytest_randomly.py": """
                import random

                def pytest_addoption(parser):
                    parser.addoption("--randomly-seed", default=None)

                def pytest_configure(config):
                    # As pytest-randomly does: a seed drawn anew on every run.
                    config.option.randomly_seed = random.randrange(2**32)
                """,
            "groups.py": """
                import pytest

                def pytest_addoption(parser):
                    parser.addoption("--group", default=None)

                def pytest_runtest_call(item):
                    group = item.config.getoption("group")
                    if group is not None and group not in item.name:
                        pytest.fail(f"{item.name} is not in group {group}")
                """,
            "tests/test_a.py": "def test_a():\n    pass\n",
        }
    )
    project.pytester.syspathinsert()
    plugins = ("-p", "pytest_split", "-p", "pytest_randomly")
    project.baseline(*plugins).assert_outcomes(passed=1)
    assert ran(project.diff(*plugins, "--splits=4", "--group=1")) == []

    project.baseline("-p", "groups").assert_outcomes(passed=1)
    result = project.diff("-p", "groups", "--group=b", "--diff-v")
    assert ran(result) == ["tests/test_a.py::test_a"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the pytest configuration changed: plugin option group*"])


def test_difftest_options_in_the_ini_file_do_not_count_as_a_configuration_change(
    project: Project,
) -> None:
    project.write(tests__test_a="def test_a():\n    pass\n")
    project.baseline()
    project.pytester.makeini("[pytest]\npythonpath = .\naddopts = -v\ndiff_batch_size = 7\n")
    assert ran(project.diff()) == []


def test_a_changed_pythonpath_reselects_everything_and_the_same_entries_spelled_otherwise_do_not(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What PYTHONPATH puts first on ``sys.path`` can shadow any module, in this process and in
    every process a test starts: no record tells which tests would import from it."""
    project.write(
        tests__test_a="def test_a():\n    pass\n",
        tests__test_b="def test_b():\n    pass\n",
    )
    (project.path / "vendor").mkdir()
    monkeypatch.setenv("PYTHONPATH", str(project.path / "vendor"))
    project.baseline().assert_outcomes(passed=2)
    monkeypatch.setenv("PYTHONPATH", "vendor")  # the same directory, relative to the start
    assert ran(project.diff()) == []
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["vendor", str(project.path / "lib")]))
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_a.py::test_a", "tests/test_b.py::test_b"]
    result.stdout.fnmatch_lines(["*configuration changed: option PYTHONPATH*"])
    monkeypatch.delenv("PYTHONPATH")
    assert len(ran(project.diff())) == 2
