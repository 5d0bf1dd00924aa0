"""The `difftest` command as a whole: help, exit codes, the error handler."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from difftest.cli import main as cli_main
from difftest.cli.error_handler import EXIT_ERROR, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE
from difftest.cli.main import main

SUBCOMMANDS = ("merge", "inspect", "explain", "download", "upload")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "difftest", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_python_dash_m_difftest_help_lists_every_subcommand() -> None:
    done = run("--help")
    assert done.returncode == EXIT_OK
    assert done.stdout.startswith("usage: difftest")
    for name in SUBCOMMANDS:
        assert f"    {name} " in done.stdout


def test_every_subcommand_has_help_that_states_its_defaults() -> None:
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as info:
            cli_main.build_parser().parse_args([name, "--help"])
        assert info.value.code == 0
    help_text = subprocess.run(
        [sys.executable, "-m", "difftest", "download", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    help_text = " ".join(help_text.split())
    assert "default: .difftest/baseline.db under --root" in help_text
    assert "default: the current directory" in help_text


def test_a_command_line_that_does_not_parse_exits_with_the_usage_code() -> None:
    done = run("no-such-command")
    assert done.returncode == EXIT_USAGE
    assert "invalid choice: 'no-such-command'" in done.stderr
    assert run().returncode == EXIT_USAGE
    assert main(["merge", "out.db"]) == EXIT_USAGE


def test_a_difftest_error_is_one_line_on_stderr_and_exit_code_one(tmp_path: Path) -> None:
    done = run("inspect", "--root", str(tmp_path))
    assert done.returncode == EXIT_ERROR
    assert done.stdout == ""
    assert done.stderr.startswith("difftest: error: no baseline at ")
    assert "pytest --diff-baseline" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_baseline_path_that_is_a_directory_is_an_error_naming_it_not_a_bug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "baseline.db").mkdir()
    for args in (
        ["inspect", str(tmp_path / "baseline.db")],
        ["explain", "--db", str(tmp_path / "baseline.db"), "tests/test_a.py::test_a"],
        ["upload", "--db", str(tmp_path / "baseline.db"), str(tmp_path / "copy.db")],
    ):
        assert main(args) == EXIT_ERROR, args
        err = capsys.readouterr().err
        assert "baseline.db is a directory, not a baseline file" in err
        assert "Traceback" not in err


def test_a_root_that_is_not_a_directory_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no-such-project")
    for args in (
        ["explain", "tests/test_a.py::test_a", "--root", missing],
        ["inspect", "--root", missing],
    ):
        assert main(args) == EXIT_ERROR, args
        assert f"--root {missing} is not a directory" in capsys.readouterr().err


def test_a_merge_output_that_cannot_be_written_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.db"
    assert main(["merge", str(source), str(_empty_baseline(tmp_path))]) == EXIT_OK
    (tmp_path / "afile").write_text("")
    capsys.readouterr()
    assert main(["merge", str(tmp_path / "afile" / "out.db"), str(source)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "cannot write the merged baseline to " in err and "afile" in err
    assert "Traceback" not in err


def test_a_file_system_error_is_reported_with_the_path_not_as_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied", "/ro/baseline.db")

    monkeypatch.setattr(cli_main, "merge_command", refused)
    assert main(["merge", "out.db", "in.db"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("difftest: error: Permission denied (/ro/baseline.db).")
    assert "Traceback" not in err


def _empty_baseline(tmp_path: Path) -> Path:
    from difftest.storage.baseline import Baseline

    path = tmp_path / "empty.db"
    Baseline.open(path).close()
    return path


def test_an_unexpected_exception_is_reported_as_a_bug_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cli_main, "merge_command", broken)
    assert main(["merge", "out.db", "in.db"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "internal error (a bug in difftest" in err
    assert "ZeroDivisionError: boom" in err


def test_a_url_where_a_local_baseline_is_expected_says_to_download_it_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["inspect", "s3://difftest-ci/baseline.db"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "s3://difftest-ci/baseline.db is a URL" in err
    assert "difftest download s3://difftest-ci/baseline.db --db PATH" in err
