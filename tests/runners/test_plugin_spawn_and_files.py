"""What a test that starts a process depends on, and what a file's version holds beyond its
content (its executable bit, a symbolic link's target): each change must re-select the tests
that see it, and leave the others alone."""

from __future__ import annotations

import os
import stat
import sys
import textwrap

import pytest
from pytester_project import Project, ran

CLI_TEST = """
    import subprocess
    import sys

    def test_cli():
        out = subprocess.run(
            [sys.executable, "-m", "pkg.cli"], capture_output=True, text=True, check=True
        ).stdout
        assert out == {expected!r}

    def test_other():
        pass
    """


def _cli(main: str, expected: str) -> dict[str, str]:
    """A project whose test runs ``pkg.cli`` (its ``main`` body given) in a child process."""
    return {
        "pkg/__init__.py": "",
        "pkg/cli.py": "import os\n\ndef main():\n"
        + textwrap.indent(textwrap.dedent(main).strip() + "\n", "    ")
        + "\nif __name__ == '__main__':\n    main()\n",
        "tests/test_cli.py": CLI_TEST.format(expected=expected),
    }


def test_hidden_files_a_started_process_reads_reselect_the_test_that_started_it(
    project: Project,
) -> None:
    project.write(
        {
            **_cli(
                """
                env = dict(l.strip().split("=", 1) for l in open(".env") if "=" in l)
                cfg = dict(l.strip().split("=", 1) for l in open(".config/app.ini") if "=" in l)
                print(env["GREETING"], cfg["color"])
                """,
                "hello blue\n",
            ),
            ".env": "GREETING=hello\n",
            ".config/app.ini": "color=blue\n",
        }
    )
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []

    project.write({".config/app.ini": "color=red\n"})
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_cli.py::test_cli"]
    result.stdout.fnmatch_lines(["*file .config/app.ini changed (not all the test ran*"])
    result.assert_outcomes(failed=1)
    project.write({".config/app.ini": "color=blue\n"})
    project.baseline()

    project.write({".env": "GREETING=bye\n"})
    assert ran(project.diff()) == ["tests/test_cli.py::test_cli"]


def test_tool_state_a_run_writes_does_not_reselect_a_test_that_starts_a_process(
    project: Project,
) -> None:
    project.write(
        {
            **_cli("print('ok')", "ok\n"),
            ".hypothesis/examples/a/b": "1",
            ".pytest_cache/v/cache/x": "1",
            ".cache/tool/x": "1",
        }
    )
    project.baseline().assert_outcomes(passed=2)
    project.write(
        {
            ".coverage": "data",
            ".coverage.host.1.2": "data",
            ".hypothesis/examples/a/c": "2",
            ".pytest_cache/v/cache/y": "2",
            ".cache/tool/y": "2",
            "tests/__pycache__/test_cli.cpython-312.pyc": "x",
        }
    )
    assert ran(project.diff()) == []


@pytest.mark.parametrize(
    ("existing", "added"),
    [
        ({"plugins/core/a.py": "NAME = 'core'\n"}, "plugins/extra/b.py"),
        ({"inbox/.gitkeep": ""}, "inbox/job1.txt"),
        ({"inbox/.gitkeep": ""}, "data/new/deep.txt"),
    ],
    ids=["only-a-subdirectory", "only-a-hidden-file", "a-new-directory-tree"],
)
def test_a_file_added_to_any_directory_reselects_a_test_that_starts_a_process(
    project: Project, existing: dict[str, str], added: str
) -> None:
    project.write(
        {
            **_cli(
                """
                found = sorted(f for d in ("plugins", "inbox", "data")
                               for _, _, fs in os.walk(d) for f in fs if not f.startswith("."))
                print(len(found))
                """,
                "1\n" if "plugins/core/a.py" in existing else "0\n",
            ),
            **existing,
        }
    )
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []
    project.write({added: "x\n"})
    result = project.diff()
    assert ran(result) == ["tests/test_cli.py::test_cli"]
    result.assert_outcomes(failed=1)


def test_an_empty_directory_gaining_a_file_reselects_a_test_that_starts_a_process(
    project: Project,
) -> None:
    project.write(_cli("print(len(os.listdir('inbox')))", "0\n"))
    (project.path / "inbox").mkdir()
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []
    project.write({"inbox/job.txt": "x\n"})
    assert ran(project.diff()) == ["tests/test_cli.py::test_cli"]


def test_a_variable_set_for_the_run_reselects_a_test_that_starts_a_process(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(_cli("print(os.environ.get('APP_MODE', 'prod'))", "prod\n"))
    monkeypatch.delenv("APP_MODE", raising=False)
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []

    monkeypatch.setenv("APP_MODE", "dev")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_cli.py::test_cli"]
    result.stdout.fnmatch_lines(["*changed: *spawn-environ*"])
    result.assert_outcomes(failed=1)

    project.baseline()
    monkeypatch.setenv("APP_MODE", "prod")
    assert ran(project.diff()) == ["tests/test_cli.py::test_cli"]


def test_variables_of_a_shell_session_or_a_ci_run_do_not_reselect_a_test_that_starts_a_process(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(_cli("print('ok')", "ok\n"))
    monkeypatch.setenv("OLDPWD", "/somewhere")
    monkeypatch.setenv("GITHUB_RUN_ID", "1")
    project.baseline().assert_outcomes(passed=2)
    monkeypatch.setenv("OLDPWD", "/elsewhere")
    monkeypatch.setenv("GITHUB_RUN_ID", "2")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    assert ran(project.diff()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="no executable bit")
def test_a_chmod_reselects_tests_that_run_or_check_the_file(project: Project) -> None:
    project.write(
        {
            "scripts/hello.sh": "#!/bin/sh\necho hi\n",
            "tests/test_sh.py": """
                import os
                import stat
                import subprocess

                def test_script():
                    out = subprocess.run(["scripts/hello.sh"], capture_output=True, text=True)
                    assert out.stdout == "hi\\n"

                def test_mode():
                    assert os.stat("scripts/hello.sh").st_mode & stat.S_IXUSR

                def test_other():
                    pass
                """,
        }
    )
    script = project.path / "scripts/hello.sh"
    script.chmod(0o755)
    project.baseline().assert_outcomes(passed=3)
    assert ran(project.diff()) == []

    script.chmod(script.stat().st_mode & ~(stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    result = project.diff()
    assert sorted(ran(result)) == ["tests/test_sh.py::test_mode", "tests/test_sh.py::test_script"]
    result.assert_outcomes(failed=2)

    script.chmod(0o755)
    assert ran(project.diff()) == []  # as the baseline saw it
    script.chmod(0o644)
    project.baseline().assert_outcomes(failed=2)
    script.chmod(0o755)  # what `git checkout` does to a file whose mode went 100644 -> 100755
    result = project.diff()
    assert sorted(ran(result)) == ["tests/test_sh.py::test_mode", "tests/test_sh.py::test_script"]
    result.assert_outcomes(passed=2)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_retargeting_a_symbolic_link_reselects_tests_that_read_through_it(
    project: Project,
) -> None:
    project.write(
        {
            "releases/v1/data.txt": "same\n",
            "releases/v2/data.txt": "same\n",
            "releases/a.txt": "x\n",
            "releases/b.txt": "x\n",
            "rel.py": """
                import os

                def current_release():
                    return os.path.basename(os.path.realpath("releases/current"))

                def linked():
                    return open("releases/link.txt").read()

                def link_text():
                    return os.readlink("releases/link.txt")
                """,
            "tests/test_rel.py": """
                from rel import current_release, link_text, linked

                def test_current():
                    assert current_release() == "v1"

                def test_link_text():
                    assert link_text() == "a.txt"

                def test_linked():
                    assert linked() == "x\\n"

                def test_other():
                    pass
                """,
        }
    )
    os.symlink("v1", project.path / "releases/current")
    os.symlink("a.txt", project.path / "releases/link.txt")
    project.baseline().assert_outcomes(passed=4)
    assert ran(project.diff()) == []

    (project.path / "releases/current").unlink()
    os.symlink("v2", project.path / "releases/current")
    (project.path / "releases/link.txt").unlink()
    os.symlink("b.txt", project.path / "releases/link.txt")
    result = project.diff()
    assert sorted(ran(result)) == [
        "tests/test_rel.py::test_current",
        "tests/test_rel.py::test_link_text",
        "tests/test_rel.py::test_linked",
    ]
    result.assert_outcomes(passed=1, failed=2)


def test_data_under_directories_named_like_installed_code_counts_unless_it_is_installed(
    project: Project,
) -> None:
    """A top-level env/ that is no virtualenv, node_modules/, and fixtures named like an
    installation (site-packages/, .egg-info/, .venv/) hold the project's own data."""
    project.write(
        {
            "env/staging.json": "postgres\n",
            "node_modules/lib/package.json": "1.0.0\n",
            "tests/fixtures/site-packages/foo/version.txt": "1.0\n",
            "tests/fixtures/demo.egg-info/PKG-INFO": "Version: 1.0\n",
            "tests/fixtures/.venv/pyvenv.cfg": "home = /usr\n",
            "tests/test_data.py": """
                import os

                def read(path):
                    with open(path) as f:
                        return f.read()

                def test_env():
                    assert read("env/staging.json") == "postgres\\n"

                def test_lib():
                    assert read("node_modules/lib/package.json") == "1.0.0\\n"

                def test_site():
                    site = "tests/fixtures/site-packages"
                    assert [read(f"{site}/{d}/version.txt") for d in os.listdir(site)] == ["1.0\\n"]

                def test_egg():
                    assert read("tests/fixtures/demo.egg-info/PKG-INFO") == "Version: 1.0\\n"

                def test_venv():
                    assert read("tests/fixtures/.venv/pyvenv.cfg") == "home = /usr\\n"

                def test_other():
                    pass
                """,
        }
    )
    project.baseline().assert_outcomes(passed=6)
    assert ran(project.diff()) == []
    project.write(
        {
            "env/staging.json": "sqlite\n",
            "node_modules/lib/package.json": "2.0.0\n",
            "tests/fixtures/site-packages/foo/version.txt": "2.0\n",
            "tests/fixtures/demo.egg-info/PKG-INFO": "Version: 2.0\n",
            "tests/fixtures/.venv/pyvenv.cfg": "home = /opt\n",
        }
    )
    result = project.diff()
    assert sorted(ran(result)) == [
        f"tests/test_data.py::test_{name}" for name in ("egg", "env", "lib", "site", "venv")
    ]
    result.assert_outcomes(failed=5)


def test_a_test_that_opens_a_relative_path_reruns_when_pytest_starts_from_another_directory(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(
        {
            "data.txt": "root\n",
            "tests/data.txt": "tests\n",
            "tests/test_relative.py": """
                import os
                from pathlib import Path

                def test_here():
                    assert (Path.cwd() / "data.txt").read_text() == "root\\n"

                def test_open():
                    with open("data.txt") as found:
                        assert found.read() == "root\\n"

                def test_listed():
                    assert "data.txt" in os.listdir()
                """,
            "tests/test_anchored.py": """
                from pathlib import Path

                def test_anchored():
                    assert (Path(__file__).parent / "data.txt").read_text() == "tests\\n"
                """,
        }
    )
    project.baseline().assert_outcomes(passed=4)
    assert ran(project.diff()) == []
    monkeypatch.chdir(project.path / "tests")  # the ini above is still found: the same root
    result = project.diff("--diff-v")
    # pytest reports ids relative to where it starts.
    assert ran(result) == [
        "test_relative.py::test_here",
        "test_relative.py::test_listed",
        "test_relative.py::test_open",
    ]
    result.assert_outcomes(passed=1, failed=2)  # tests/ has a data.txt, not the root's one
    result.stdout.fnmatch_lines(["*pytest now starts in 'tests', not '.'*"])
    # --diff records nothing: the baseline still holds what they passed against.
    assert len(ran(project.diff())) == 3
    project.baseline().assert_outcomes(passed=1, failed=2)
    monkeypatch.chdir(project.path)
    result = project.diff("--diff-v")
    assert ran(result) == [
        "tests/test_relative.py::test_here",
        "tests/test_relative.py::test_listed",
        "tests/test_relative.py::test_open",
    ]
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*pytest now starts in '.', not 'tests'*"])
    project.baseline().assert_outcomes(passed=3)
    assert ran(project.diff()) == []


_POOLS = {
    # Its worker starts at the first work handed over: test_a's.
    "concurrent.futures": (
        "from concurrent.futures import ProcessPoolExecutor\n\nPOOL = ProcessPoolExecutor(1)\n"
        "close = POOL.shutdown\n",
        "POOL.submit(int, '3').result()",
        "POOL.submit(calc.double, 2).result()",
    ),
    # Its worker starts with it, while the first test file that imports it is collected.
    "multiprocessing": (
        "import multiprocessing\n\nPOOL = multiprocessing.get_context('fork').Pool(1)\n"
        "def close():\n    POOL.close()\n    POOL.join()\n",
        "POOL.apply(int, ('3',))",
        "POOL.apply(calc.double, (2,))",
    ),
}


@pytest.mark.parametrize("kind", sorted(_POOLS))
def test_work_handed_to_a_process_pool_another_test_started_reselects_the_test_on_any_change(
    project: Project, kind: str
) -> None:
    make_pool, warm_up, hand_over = _POOLS[kind]
    project.write(
        {
            "calc.py": "def double(x):\n    return x * 2\n\ndef triple(x):\n    return x * 3\n",
            "workers.py": make_pool,
            "tests/conftest.py": """
                import sys

                def pytest_unconfigure():
                    if "workers" in sys.modules:  # no worker outlives the run
                        sys.modules["workers"].close()
                """,
            "tests/test_a.py": f"""
                from workers import POOL

                def test_a():
                    assert {warm_up} == 3
                """,
            "tests/test_pool.py": f"""
                import calc
                from workers import POOL

                def test_pool():
                    assert {hand_over} == 4

                def test_here():
                    assert calc.triple(1) == 3
                """,
        }
    )
    project.baseline().assert_outcomes(passed=3)
    assert ran(project.diff()) == []
    project.edit("calc.py", "return x * 2", "return x + 2 + 1")
    result = project.diff("--diff-v")
    # test_a started the worker (or collecting its file did): it depends on every file too.
    assert ran(result) == ["tests/test_a.py::test_a", "tests/test_pool.py::test_pool"]
    result.assert_outcomes(passed=1, failed=1)
