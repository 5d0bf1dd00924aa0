"""End to end: the real ./pants with the difftest plugin on a copy of examples/monorepo.

One git repository per session, scripted edits, and assertions on exactly which targets and which
tests ran. Slow (each Pants run without pantsd costs 1-3 minutes here): marked `pants`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.pants

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "monorepo"
RAN = re.compile(
    r"^([✓✕xX]) (\S+) (succeeded|failed) in [\d.]+s(?: \(([^)]*)\))?(?:: (\d+) tests? ran)?"
)

#: difftest-affected's plan lines: "  run   ADDRESS: why" and, under it, "        NODEID: reasons".
PLAN_RUN = re.compile(r"^  run   (\S+): ")
PLAN_TEST = re.compile(r"^        (\S+::\S+): (.*)$")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture(scope="session")
def pants_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = os.environ.get("DIFFTEST_E2E_PANTS_CACHE")
    return Path(shared) if shared else tmp_path_factory.mktemp("pants-cache")


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "monorepo"
    shutil.copytree(EXAMPLE, repo)
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "e2e@example.invalid")
    _git(repo, "config", "user.name", "e2e")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "initial")
    return repo


def pants(
    repo: Path, cache: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    argv = [
        str(ROOT / "pants"),
        "--no-pantsd",
        f"--pythonpath=['{ROOT / 'pants-plugins'}', '{ROOT / 'src'}']",
        f"--named-caches-dir={cache / 'named'}",
        f"--local-store-dir={cache / 'lmdb'}",
        *args,
    ]
    proc = subprocess.run(
        argv,
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )
    return proc.returncode, proc.stdout + proc.stderr


def ran(output: str) -> dict[str, int | None]:
    """target address -> number of tests that ran in it."""
    found: dict[str, int | None] = {}
    for line in output.splitlines():
        m = RAN.match(line)
        if m:
            found[m.group(2)] = int(m.group(5)) if m.group(5) else None
    return found


def affected(output: str) -> dict[str, dict[str, str]]:
    """The plan's targets to run -> their affected tests -> reasons (difftest-affected's stdout)."""
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in output.splitlines():
        m = PLAN_RUN.match(line)
        if m:
            current = found[m.group(1)] = {}
            continue
        m = PLAN_TEST.match(line)
        if m:
            current[m.group(1)] = m.group(2)
    return found


def edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    text = file.read_text()
    assert old in text, (path, old)
    file.write_text(text.replace(old, new))


def test_records_then_runs_only_affected_targets_and_tests(repo: Path, pants_cache: Path) -> None:
    code, out = pants(repo, pants_cache, "difftest", "::")
    assert code == 0, out
    assert "6 to run (6 without recorded data)" in out
    assert ran(out) == {
        "tests/python/billing/test_invoice.py:tests": 4,
        "tests/python/billing/test_tax.py:tests": 2,
        "tests/python/catalog/test_items.py:tests": 3,
        "tests/python/shared/test_config.py:tests": 2,
        "tests/python/shared/test_mathutil.py:tests": 3,
        "tests/python/shared/test_text.py:tests": 2,
    }
    graph = (repo / ".difftest" / "pants-graph.json").read_text()
    assert (
        '"format": "difftest-graph"' in graph
        and "target:tests/python/shared/test_text.py:tests" in graph
    )

    # A function body used by two test files: only the tests that executed it run.
    edit(
        repo,
        "src/python/shared/mathutil.py",
        "max(low, min(high, value))",
        "min(high, max(low, value))",
    )
    # A fixture body in the conftest: only the test using it.
    edit(
        repo,
        "tests/python/billing/conftest.py",
        "return [(100, 10)]",
        "order = [(100, 10)]\n    return order",
    )

    # difftest-affected, with the edits pending: what runs and why, written for `pants test`.
    code, out = pants(repo, pants_cache, "difftest-affected", "::")
    assert code == 0, out
    assert ran(out) == {}  # it runs nothing
    assert "difftest: 6 python_test targets, 3 to run, 3 unaffected." in out
    clamp = "changed: src/python/shared/mathutil.py::clamp changed"
    assert affected(out) == {
        "tests/python/billing/test_invoice.py:tests": {
            "tests/python/billing/test_invoice.py::test_discount_is_capped": clamp,
            "tests/python/billing/test_invoice.py::test_discounted": clamp,
        },
        "tests/python/billing/test_tax.py:tests": {
            "tests/python/billing/test_tax.py::test_tax": (
                "changed: tests/python/billing/conftest.py::big_order changed"
            ),
        },
        "tests/python/shared/test_mathutil.py:tests": {
            "tests/python/shared/test_mathutil.py::test_clamp": clamp,
        },
    }
    assert (repo / ".difftest" / "affected-targets.txt").read_text() == (
        "tests/python/billing/test_invoice.py:tests\n"
        "tests/python/billing/test_tax.py:tests\n"
        "tests/python/shared/test_mathutil.py:tests\n"
    )
    assert "wrote 3 target addresses to .difftest/affected-targets.txt" in out
    assert (repo / ".difftest" / "pants-graph.json").read_text() == graph  # left alone

    code, out = pants(repo, pants_cache, "difftest", "::")
    assert code == 0, out
    assert ran(out) == {
        "tests/python/billing/test_invoice.py:tests": 2,
        "tests/python/billing/test_tax.py:tests": 1,
        "tests/python/shared/test_mathutil.py:tests": 1,
    }
    assert "tests/python/billing/test_invoice.py::test_discount_is_capped" in out
    assert "tests/python/billing/test_tax.py::test_tax" in out
    assert "tests/python/billing/test_invoice.py::test_total" not in out

    # Nothing changed since: nothing runs.
    code, out = pants(repo, pants_cache, "difftest", "::")
    assert code == 0, out
    assert ran(out) == {} and "nothing to run" in out

    # A requirements bump: only the tests whose records reach six; a deleted data file: only the
    # test that read it; a BUILD edit: only the target whose definition changed.
    edit(repo, "requirements.txt", "six==1.16.0", "six==1.17.0")
    (repo / "src/python/shared/data/overrides.json").unlink()
    edit(
        repo,
        "tests/python/shared/BUILD",
        'python_tests(name="tests")',
        'python_tests(name="tests", overrides={"test_mathutil.py": {"timeout": 120}})',
    )
    code, out = pants(repo, pants_cache, "difftest", "::")
    assert code != 0, out  # the tax tests now fail: the override file is gone
    # As `pants test` does, the output of the failing target is shown.
    assert "FAILURES" in out and "test_tax.py" in out.split("FAILURES", 1)[1], out
    assert ran(out) == {
        "tests/python/shared/test_text.py:tests": 2,  # six
        "tests/python/catalog/test_items.py:tests": 3,  # six
        "tests/python/shared/test_config.py:tests": 2,  # overrides.json
        "tests/python/billing/test_invoice.py:tests": 1,  # test_label reads the settings
        "tests/python/billing/test_tax.py:tests": 2,  # overrides.json
        "tests/python/shared/test_mathutil.py:tests": 3,  # its BUILD definition
    }
    assert "tests/python/billing/test_invoice.py::test_label" in out
    assert "its BUILD-file definition changed" in out
    assert "dist/six" in out and "overrides.json was deleted" in out


def test_use_coverage_runs_are_measured_by_pytest_cov_and_record_nothing(
    repo: Path, pants_cache: Path
) -> None:
    # coverage.py measures one way at a time: the plugin stays out of sandboxes that pytest-cov
    # measures (its recorder there made every target fail, and its stub file broke the report).
    code, out = pants(repo, pants_cache, "test", "--use-coverage", "::")
    assert code == 0, out
    assert set(ran(out)) == {
        "tests/python/billing/test_invoice.py:tests",
        "tests/python/billing/test_tax.py:tests",
        "tests/python/catalog/test_items.py:tests",
        "tests/python/shared/test_config.py:tests",
        "tests/python/shared/test_mathutil.py:tests",
        "tests/python/shared/test_text.py:tests",
    }
    assert "✕" not in out
    assert re.search(r"^TOTAL\s+\d+\s+\d+\s+\d+%$", out, re.M), out
    assert "_difftest_pants_recorder" not in out

    code, out = pants(repo, pants_cache, "difftest", "--test-use-coverage", "::")
    assert code == 0, out
    assert "difftest: nothing is recorded with --test-use-coverage" in out
    assert "(0 test records)" in out


def test_a_passed_through_variable_selects_its_readers_when_pants_value_of_it_changes(
    repo: Path, pants_cache: Path
) -> None:
    # `extra_env_vars=["APP_MODE"]` hands the tests Pants' own APP_MODE: nothing in the
    # repository changes with it. The tests run on two xdist workers, whose records all count.
    (repo / "tests/python/shared/test_mode.py").write_text(
        "import os\n\n\n"
        "def test_mode():\n"
        '    assert os.environ.get("APP_MODE", "dev") in ("dev", "staging")\n\n\n'
        "def test_mode_is_named():\n"
        '    assert os.environ.get("APP_MODE", "dev")\n\n\n'
        "def test_other():\n"
        "    assert True\n"
    )
    edit(
        repo,
        "tests/python/shared/BUILD",
        'python_tests(name="tests")',
        'python_tests(name="tests", extra_env_vars=["APP_MODE"], xdist_concurrency=2)',
    )
    args = ("--pytest-xdist-enabled", "difftest", "tests/python/shared::")
    code, out = pants(repo, pants_cache, *args, env={"APP_MODE": "dev"})
    assert code == 0, out
    assert ran(out)["tests/python/shared/test_mode.py:tests"] == 3

    code, out = pants(repo, pants_cache, *args, env={"APP_MODE": "dev"})
    assert code == 0 and ran(out) == {}, out

    code, out = pants(repo, pants_cache, *args, env={"APP_MODE": "prod"})
    assert code != 0, out
    assert ran(out) == {"tests/python/shared/test_mode.py:tests": 2}
    assert "test_mode.py::test_mode: changed: environment variable APP_MODE changed" in out
    assert "test_mode.py::test_mode_is_named: changed: environment variable APP_MODE" in out

    # test_mode failed: it runs until it passes, for that reason only (the traceback pytest
    # showed read Pants' own pex files, which are no dependency of the test). test_mode_is_named
    # passed, on the other worker: its new record counts.
    code, out = pants(
        repo, pants_cache, "difftest-affected", "tests/python/shared::", env={"APP_MODE": "prod"}
    )
    assert code == 0, out
    assert affected(out) == {
        "tests/python/shared/test_mode.py:tests": {
            "tests/python/shared/test_mode.py::test_mode": (
                "unsettled: last outcome was failed: it runs until it passes"
            )
        }
    }
