"""Files read, looked at and listed other than through ``open`` and paths: the raw file class,
the modules ``io`` and ``os`` take their functions from, descriptors of directories, and the
entries of ``os.scandir``. Each must re-select the test that did it (and leave unrelated tests
alone)."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest
from pytester_project import Project, ran

import difftest.runners.pytest.probes

UNRELATED = {"tests/test_unrelated.py": "def test_unrelated():\n    assert 1 + 1 == 2\n"}

#: How a test reads data/value.txt (which holds "1"), as the body of ``read()`` in app.py.
_READS = {
    "io.FileIO": """
        with io.FileIO("data/value.txt") as raw:
            # What open returns still holds an io.FileIO, as far as code can check.
            with open(os.devnull, "rb") as buffered:
                assert isinstance(buffered.raw, io.FileIO)
            assert issubclass(io.FileIO, io.RawIOBase) and isinstance(raw, io.RawIOBase)
            return raw.read().decode()
        """,
    "_io.FileIO": """
        with _io.FileIO("data/value.txt", mode="r") as raw:
            return raw.read().decode()
        """,
    "_io.open": """
        with _io.open("data/value.txt") as fh:
            return fh.read()
        """,
    "posix.open": """
        fd = posix.open("data/value.txt", posix.O_RDONLY)
        try:
            return os.read(fd, 100).decode()
        finally:
            os.close(fd)
        """,
    "os.open with dir_fd": """
        directory = os.open("data", os.O_RDONLY)
        try:
            fd = os.open("value.txt", os.O_RDONLY, dir_fd=directory)
            try:
                return os.read(fd, 100).decode()
            finally:
                os.close(fd)
        finally:
            os.close(directory)
        """,
    "os.stat with dir_fd": """
        directory = os.open("data", os.O_RDONLY)
        try:
            return str(os.stat("value.txt", dir_fd=directory).st_size)
        finally:
            os.close(directory)
        """,
    "the stat of an os.scandir entry": """
        for entry in os.scandir("data"):
            if entry.name == "value.txt":
                return str(entry.stat().st_size)
        """,
}

_NEEDS_DIR_FD = {"os.open with dir_fd", "os.stat with dir_fd"}


def _app(body: str) -> str:
    return "import _io\nimport io\nimport os\nimport posix\n\n\ndef read():\n" + "".join(
        f"    {line}\n" for line in textwrap.dedent(body).strip("\n").splitlines()
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX reads")
@pytest.mark.parametrize("reader", sorted(_READS))
def test_a_data_file_read_or_looked_at_other_than_through_open_reselects_the_test_when_it_changes(
    project: Project, reader: str
) -> None:
    if reader in _NEEDS_DIR_FD and os.stat not in os.supports_dir_fd:
        pytest.skip("no dir_fd here")
    _assert_reselected(
        project, _READS[reader], "'1'", {"data/value.txt": "1"}, {"data/value.txt": "22"}
    )


def _assert_reselected(
    project: Project, body: str, expected: str, before: dict[str, str], after: dict[str, str]
) -> None:
    """A test asserting that ``app.read()`` (``body``) returns ``expected`` with the files
    ``before``: recorded, left alone while nothing changes, re-selected (and failing) once the
    files are as ``after``."""
    test = f"import app\n\n\ndef test_read():\n    assert app.read() == {expected}\n"
    project.write({**UNRELATED, **before, "app.py": _app(body), "tests/test_read.py": test})
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []
    project.write(after)
    result = project.diff()
    assert ran(result) == ["tests/test_read.py::test_read"]
    result.assert_outcomes(failed=1)


#: How a test counts the files under data/sub by listing a directory open as a descriptor.
_FD_LISTINGS = {
    "os.listdir of a descriptor": """
        fd = os.open("data/sub", os.O_RDONLY)
        try:
            return len(os.listdir(fd))
        finally:
            os.close(fd)
        """,
    "os.fwalk": """
        return sum(len(files) for _, _, files, _ in os.fwalk("data"))
        """,
}


@pytest.mark.skipif(not hasattr(os, "fwalk"), reason="no directory descriptors here")
@pytest.mark.parametrize("lister", sorted(_FD_LISTINGS))
def test_adding_a_file_to_a_directory_listed_through_a_descriptor_reselects_the_test(
    project: Project, lister: str
) -> None:
    _assert_reselected(
        project, _FD_LISTINGS[lister], "1", {"data/sub/a.txt": "a"}, {"data/sub/b.txt": "b"}
    )


@pytest.mark.skipif(os.open not in os.supports_dir_fd, reason="no dir_fd here")
def test_a_read_under_a_directory_descriptor_the_system_cannot_name_depends_on_every_file(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where neither ``/proc`` nor ``F_GETPATH`` tells what directory a descriptor is open on,
    what was read under it is not known: the test depends on every project file."""
    monkeypatch.setattr(difftest.runners.pytest.probes, "_fd_path", lambda fd: None)
    project.write(
        {
            **UNRELATED,
            "data/value.txt": "1",
            "app.py": _app(_READS["os.open with dir_fd"]),
            "tests/test_read.py": "import app\n\n\ndef test_read():\n    assert app.read() == '1'\n",
        }
    )
    project.baseline().assert_outcomes(passed=2)
    assert ran(project.diff()) == []
    project.write({"data/value.txt": "22"})
    result = project.diff()
    assert ran(result) == ["tests/test_read.py::test_read"]
    result.assert_outcomes(failed=1)
