"""A pytester project with the difftest plugin active in the inner runs.

The outer run disables the plugin (``-p no:difftest`` in pyproject's addopts); inner runs load
it from its entry point. Inner runs are in-process (fast) unless a test needs a subprocess.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import coverage  # noqa: F401
import pytest
from pytester_project import Project

# Imported once here, so that in-process inner runs (pytester restores sys.modules after each)
# do not import and assertion-rewrite the plugin again every time.
import difftest.runners.pytest.local
import difftest.runners.pytest.plugin
import difftest.runners.pytest.recorder
import difftest.runners.pytest.selector
import difftest.runners.pytest.xdist  # noqa: F401

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _pytest11_entry_points() -> dict[str, str]:
    """The ``pytest11`` entry points (name -> module) of what is installed."""
    found = metadata.entry_points()
    group = (
        found.select(group="pytest11") if hasattr(found, "select") else found.get("pytest11", ())
    )
    return {ep.name: ep.value for ep in group}


@pytest.fixture(scope="session", autouse=True)
def _plugin_entry_point(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The plugin's ``pytest11`` entry point, through which the inner runs load it.

    An installed difftest provides it (the venvs of scripts/test.sh install it in editable mode).
    Pants runs these tests from sources, with no installed distribution: there the metadata
    pyproject.toml declares is written to a directory appended to sys.path, and to PYTHONPATH for
    subprocess runs and xdist workers, as an installation would provide it.
    """
    if "difftest" in _pytest11_entry_points():
        yield
        return
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    site = tmp_path_factory.mktemp("entry-point")
    info = site / f"{project['name']}-{project['version']}.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    groups = project["entry-points"]
    info.joinpath("entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in eps.items())
            for group, eps in groups.items()
        )
    )
    # pytest-xdist starts local workers with the sys.path it saw at start-up (xdist.plugin._sys_path),
    # in which Pants' source roots are relative to the sandbox, while the workers start in the inner
    # run's directory: make them absolute, and add the entry point's directory.
    xdist_sys_path = getattr(sys.modules.get("xdist.plugin"), "_sys_path", None)
    saved_xdist_sys_path = list(xdist_sys_path) if isinstance(xdist_sys_path, list) else None
    with pytest.MonkeyPatch.context() as mp:
        sys.path.append(str(site))  # after the sources, as site-packages would be
        pythonpath = os.environ.get("PYTHONPATH")
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [pythonpath, str(site)])))
        if isinstance(xdist_sys_path, list):
            xdist_sys_path[:] = [os.path.abspath(p) if p else p for p in xdist_sys_path]
            xdist_sys_path.append(str(site))
        assert _pytest11_entry_points().get("difftest") == groups["pytest11"]["difftest"]
        try:
            yield
        finally:
            sys.path.remove(str(site))
            if isinstance(xdist_sys_path, list) and saved_xdist_sys_path is not None:
                xdist_sys_path[:] = saved_xdist_sys_path


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Project:
    # The project's modules are compiled afresh on every run: an edit within the same second
    # that keeps a file's size must not be hidden by a stale .pyc.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makeini("[pytest]\npythonpath = .\naddopts = -v\n")
    return Project(pytester)
