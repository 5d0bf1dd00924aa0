"""The Pants benchmark: the difftest Pants plugin against Pants' own change detection.

    python bench/pants/run.py            # the full run
    python bench/pants/run.py --quick    # a smoke check: 4 edits, 2 repetitions of each timing

On a copy of examples/monorepo (a fresh git repository in a temporary directory), with the
repository's ./pants launcher (Pants 2.17.1), a copy of the plugin and engine taken at the start
(`--pythonpath`), and one pantsd for the whole run:

1. Selection and safety. The baseline is recorded once (`pants difftest ::`); its artifact is kept.
   Every scripted edit is applied to that baseline (tree reset, artifact copied back), then
   - `pants --test-force difftest ::` (what difftest runs),
   - `pants --changed-since=HEAD --changed-dependents=transitive test --force --report`
     (what Pants' own selection runs),
   - `pants test --force --report ::` (the ground truth: which tests fail),
   and undone. Every figure comes from parsing the runs' output (summary lines, difftest's plan)
   and the JUnit XML reports `pants test --report` writes.
2. Cost, with warm pantsd: wall time of whole `pants` client processes, interleaved repetitions,
   medians, ratios: (a) no change, (b) one fresh function-body edit in a shared module.

Writes results.md and results.json (default: bench/pants/). Needs only Python 3.9+ (stdlib),
git, and network access to PyPI for Pants' first resolves. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLE = REPO / "examples" / "monorepo"
PANTS = REPO / "pants"
CACHE = REPO / "bench" / "work" / "pants-cache"
ARTIFACT = ".difftest/pants-graph.json"
TIMEOUT = 900

TARGETS = {"difftest_safety_pct": 100.0, "test_case_ratio_below": 0.5}

# `✓ ADDR succeeded in 3.90s (cached locally): 2 tests ran, 1 deselected as unaffected.`
SUMMARY = re.compile(
    r"^([✓✕xX]) (\S+) (succeeded|failed) in ([\d.]+)s(?: \(([^)]*)\))?"
    r"(?:: (\d+) tests? ran(?:, (\d+) deselected as unaffected)?)?\.?$"
)
PLAN_RUN = re.compile(r"^  run   (\S+): (.*)$")
PLAN_TEST = re.compile(r"^        (\S+::\S+): (.*)$")
PLAN_HEAD = re.compile(r"^difftest: (\d+) python_test targets, (\d+) to run")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d\d \[(INFO|DEBUG)\]")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- edits
# An edit is a list of operations on the repository copy, recorded as data in results.json:
# ("replace", path, old, new): `old` must occur exactly once; ("create", path, text);
# ("delete", path).
Op = tuple


def apply_ops(repo: Path, ops: list[Op]) -> None:
    for op in ops:
        path = repo / op[1]
        if op[0] == "replace":
            text = path.read_text()
            if text.count(op[2]) != 1:
                raise BenchError(f"edit: {op[2]!r} occurs {text.count(op[2])} times in {op[1]}")
            path.write_text(text.replace(op[2], op[3]))
        elif op[0] == "create":
            if path.exists():
                raise BenchError(f"edit: {op[1]} exists")
            path.write_text(op[2])
        elif op[0] == "delete":
            path.unlink()
        else:
            raise BenchError(f"unknown edit operation {op[0]}")


MATH = "src/python/shared/mathutil.py"
TEXT = "src/python/shared/text.py"
CONFIG = "src/python/shared/config.py"
INVOICE = "src/python/billing/invoice.py"
CONFTEST = "tests/python/billing/conftest.py"

EDITS: list[dict[str, Any]] = [
    {
        "name": "shared-body-break",
        "what": "function body in a shared module used by two packages: `mathutil.add` "
        "(called by billing's invoice and by the shared tests) made off by one",
        "ops": [("replace", MATH, "    return a + b\n", "    return a + b + 1\n")],
    },
    {
        "name": "shared-body-same",
        "what": "function body in a shared module, same behaviour: `mathutil.clamp` rewritten "
        "as `min(high, max(low, value))`",
        "ops": [
            ("replace", MATH, "max(low, min(high, value))", "min(high, max(low, value))"),
        ],
    },
    {
        "name": "shared-body-text",
        "what": "function body in a shared module used by two packages: `text.slug` joins "
        "with `_` (used by catalog and by the shared tests)",
        "ops": [("replace", TEXT, 'return "-".join(', 'return "_".join(')],
    },
    {
        "name": "module-constant",
        "what": "module-level constant in a shared module: `config._HERE` points one "
        "directory too deep (every reader of the settings breaks)",
        "ops": [
            (
                "replace",
                CONFIG,
                "_HERE = os.path.dirname(os.path.abspath(__file__))",
                '_HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")',
            )
        ],
    },
    {
        "name": "dataclass-field",
        "what": "a dataclass with a field default added to `billing/invoice.py` (class-body, "
        "import-time code; the sample has no classes to change)",
        "ops": [
            (
                "replace",
                INVOICE,
                "from shared import config, mathutil\n",
                "from dataclasses import dataclass\n\nfrom shared import config, mathutil\n\n\n"
                "@dataclass\nclass Line:\n    price: int\n    qty: int = 1\n",
            )
        ],
    },
    {
        "name": "decorator-removed",
        "what": "decorator change: `@pytest.fixture` removed from the `lines` fixture in "
        "billing's conftest",
        "ops": [("replace", CONFTEST, "@pytest.fixture\ndef lines", "def lines")],
    },
    {
        "name": "conftest-fixture-body",
        "what": "conftest fixture body: `big_order` returns 20 items instead of 10",
        "ops": [("replace", CONFTEST, "return [(100, 10)]", "return [(100, 20)]")],
    },
    {
        "name": "data-file-edit",
        "what": "data file edit: currency in `shared/data/settings.json` EUR -> USD",
        "ops": [
            ("replace", "src/python/shared/data/settings.json", '"EUR"', '"USD"'),
        ],
    },
    {
        "name": "data-file-delete",
        "what": "data file deleted: `shared/data/overrides.json` (the tax-rate override)",
        "ops": [("delete", "src/python/shared/data/overrides.json")],
    },
    {
        "name": "requirement-bump",
        "what": "requirements.txt: six==1.16.0 -> six==1.17.0",
        "ops": [("replace", "requirements.txt", "six==1.16.0", "six==1.17.0")],
    },
    {
        "name": "build-file-edit",
        "what": "BUILD-file edit: a `timeout` override for test_mathutil.py in "
        "`tests/python/shared/BUILD`",
        "ops": [
            (
                "replace",
                "tests/python/shared/BUILD",
                'python_tests(name="tests")',
                'python_tests(name="tests", overrides={"test_mathutil.py": {"timeout": 120}})',
            )
        ],
    },
    {
        "name": "new-module",
        "what": "new source file `shared/units.py`, imported and used by `billing/invoice.py`",
        "ops": [
            (
                "create",
                "src/python/shared/units.py",
                '"""Money units."""\n\n\ndef cents(amount):\n    return round(amount * 100)\n',
            ),
            (
                "replace",
                INVOICE,
                "from shared import config, mathutil\n",
                "from shared import config, mathutil, units\n",
            ),
            (
                "replace",
                INVOICE,
                'return f"{amount:.2f} {config.currency()}"',
                'return f"{units.cents(amount) / 100:.2f} {config.currency()}"',
            ),
        ],
    },
    {
        "name": "comment-only",
        "what": "comments only, in `shared/text.py` (one at module level, one in a body)",
        "ops": [
            ("replace", TEXT, "import six\n", "import six  # the one third-party requirement\n"),
            (
                "replace",
                TEXT,
                'def slug(text):\n    return "-"',
                'def slug(text):\n    # lower-case words joined by dashes\n    return "-"',
            ),
        ],
    },
    {
        "name": "formatting-only",
        "what": "formatting only, in `shared/mathutil.py`: `clamp`'s call split over lines, "
        "blank lines removed",
        "ops": [
            (
                "replace",
                MATH,
                "    return max(low, min(high, value))",
                "    return max(\n        low,\n        min(high, value),\n    )",
            ),
            ("replace", MATH, "    return a * b\n\n\n", "    return a * b\n\n"),
        ],
    },
    {
        "name": "test-file-edit",
        "what": "test file edit: `test_items.py::test_plain` asserts a wrong value",
        "ops": [
            (
                "replace",
                "tests/python/catalog/test_items.py",
                'assert "mug".upper() == "MUG"',
                'assert "mug".upper() == "MUGS"',
            )
        ],
    },
]
QUICK_EDITS = ["shared-body-break", "conftest-fixture-body", "data-file-delete", "comment-only"]


def cost_edit(nonce: int) -> list[Op]:
    """(b): a function body in a shared module, with a value never seen before (no cache hit)."""
    return [("replace", MATH, "    return a * b\n", f"    return a * b + 0 * {nonce}\n")]


# --------------------------------------------------------------------------- processes
def run(argv: list[str], cwd: Path, timeout: float = TIMEOUT) -> tuple[int, str, float]:
    """(exit code, stdout+stderr, wall seconds); the process group is killed on timeout."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise BenchError(f"timed out after {timeout}s: {' '.join(argv)}\n{out[-3000:]}") from exc
    return proc.returncode, ANSI.sub("", out), time.perf_counter() - t


def git(repo: Path, *args: str) -> str:
    code, out, _ = run(["git", *args], repo, 120)
    if code != 0:
        raise BenchError(f"git {' '.join(args)}: {out}")
    return out


class Pants:
    """./pants in one repository copy, pantsd on, one cache directory."""

    def __init__(self, repo: Path, cache: Path, code: Path) -> None:
        self.repo = repo
        self.prefix = [
            str(PANTS),
            "--pantsd",
            f"--pythonpath=['{code / 'pants-plugins'}', '{code / 'src'}']",
            f"--named-caches-dir={cache / 'named'}",
            f"--local-store-dir={cache / 'lmdb'}",
        ]

    def __call__(self, *args: str) -> dict[str, Any]:
        load = _loadavg()
        code, out, seconds = run([*self.prefix, *args], self.repo)
        return {
            "args": list(args),
            "exit_code": code,
            "seconds": round(seconds, 3),
            "load_before": load,
            "output": out,
        }

    def stop_pantsd(self) -> list[int]:
        """SIGTERM (then SIGKILL) the pantsd of this repository copy only: the pid files under
        its `.pids/`, checked against the process title (`pantsd [<this repo>]`)."""
        killed = []
        for pid_file in self.repo.glob(".pids/*/pantsd/pid"):
            try:
                pid = int(pid_file.read_text().strip())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except (OSError, ValueError):
                continue
            if f"pantsd [{self.repo}]" not in cmdline:
                continue
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.2)
            else:
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        return killed


# --------------------------------------------------------------------------- parsing
def summary_lines(out: str) -> dict[str, dict[str, Any]]:
    """address -> {ok, seconds, source, ran, deselected} from the per-target summary lines."""
    found: dict[str, dict[str, Any]] = {}
    for line in out.splitlines():
        m = SUMMARY.match(line.rstrip())
        if m:
            found[m.group(2)] = {
                "ok": m.group(3) == "succeeded",
                "seconds": float(m.group(4)),
                "source": m.group(5) or "ran",
                "ran": int(m.group(6)) if m.group(6) else None,
                "deselected": int(m.group(7)) if m.group(7) else 0,
            }
    return found


def plan(out: str) -> dict[str, Any]:
    """difftest's plan: the header counts and, per target to run, its reason and (when some tests
    are deselected) the affected node ids it lists."""
    head = None
    targets: dict[str, dict[str, Any]] = {}
    current = None
    for line in out.splitlines():
        m = PLAN_HEAD.match(line)
        if m:
            head = {"targets": int(m.group(1)), "to_run": int(m.group(2)), "line": line}
            continue
        m = PLAN_RUN.match(line)
        if m:
            current = targets[m.group(1)] = {"why": m.group(2), "affected": {}}
            continue
        m = PLAN_TEST.match(line)
        if m and current is not None:
            current["affected"][m.group(1)] = m.group(2)
            continue
        current = None
    if head is None:
        raise BenchError("no difftest plan header in the output")
    return {"head": head, "targets": targets}


def test_file(address: str) -> str:
    """`tests/python/billing/test_tax.py:tests` -> `tests/python/billing/test_tax.py`."""
    return address.split(":", 1)[0]


def junit(report_dir: Path) -> dict[str, dict[str, str]]:
    """test file -> {node id: passed|failed|error|skipped} from `pants test --report` files.
    A collection error (pytest's testcase with an empty classname) becomes `FILE::<collect>`."""
    found: dict[str, dict[str, str]] = {}
    for xml in sorted(report_dir.glob("*.xml")):
        for case in ET.parse(xml).getroot().iter("testcase"):
            cls, name = case.get("classname", ""), case.get("name", "")
            if cls:
                file = cls.replace(".", "/") + ".py"
                nodeid = f"{file}::{name}"
            else:
                file = name.replace(".", "/") + ".py"
                nodeid = f"{file}::<collect>"
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = {"failure": "failed"}.get(child.tag, child.tag)
            found.setdefault(file, {})[nodeid] = outcome
    return found


def trimmed(out: str, limit: int = 6000) -> str:
    """The output without Pants' timestamped log lines, at most `limit` characters (the end)."""
    kept = "\n".join(line for line in out.splitlines() if not LOG_LINE.match(line))
    return kept if len(kept) <= limit else "...\n" + kept[-limit:]


# --------------------------------------------------------------------------- repository
class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.baseline_artifact: bytes | None = None

    @classmethod
    def create(cls, parent: Path) -> Repo:
        root = parent / "monorepo"
        shutil.copytree(
            EXAMPLE, root, ignore=shutil.ignore_patterns(".difftest", ".pants.d", ".pids", "dist")
        )
        git(root, "init", "-q")
        git(root, "config", "user.email", "bench@example.invalid")
        git(root, "config", "user.name", "bench")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "baseline")
        # pantsd's pid directory must not look like a change to git (nor be cleaned away).
        with (root / ".git" / "info" / "exclude").open("a") as fh:
            fh.write("/.pids/\n")
        return cls(root)

    def keep_artifact(self) -> None:
        self.baseline_artifact = (self.root / ARTIFACT).read_bytes()

    def reset(self) -> None:
        """Back to the recorded baseline: the committed tree, the baseline artifact."""
        git(self.root, "reset", "-q", "--hard", "HEAD")
        # Untracked files (a created module); .difftest/, .pants.d/, dist/ are git-ignored.
        git(self.root, "clean", "-fdq")
        if git(self.root, "status", "--porcelain").strip():
            raise BenchError("the repository copy is not clean after a reset")
        if self.baseline_artifact is not None:
            (self.root / ARTIFACT).write_bytes(self.baseline_artifact)

    def reports(self, name: str) -> Path:
        return self.root / "dist" / "bench" / name


# --------------------------------------------------------------------------- part 1
def baseline(pants: Pants, repo: Repo) -> dict[str, Any]:
    log("baseline: pants difftest :: (records every target; starts pantsd)")
    rec = pants("difftest", "::")
    if rec["exit_code"] != 0:
        raise BenchError(f"baseline difftest run failed:\n{trimmed(rec['output'])}")
    recorded = summary_lines(rec["output"])
    repo.keep_artifact()
    log("baseline: pants test --force --report :: (plain, no recorder)")
    full = pants(
        "--no-difftest-record",
        "test",
        "--force",
        "--report",
        "--report-dir=dist/bench/baseline",
        "::",
    )
    if full["exit_code"] != 0:
        raise BenchError(f"baseline full run failed:\n{trimmed(full['output'])}")
    tests = junit(repo.reports("baseline"))
    return {
        "difftest": {
            "seconds": rec["seconds"],
            "targets": {a: s["ran"] for a, s in recorded.items()},
            "output": trimmed(rec["output"]),
        },
        "full": {
            "seconds": full["seconds"],
            "targets": sorted(summary_lines(full["output"])),
            "tests": {f: sorted(ids) for f, ids in tests.items()},
            "output": trimmed(full["output"]),
        },
        "n_targets": len(summary_lines(full["output"])),
        "n_tests": sum(len(ids) for ids in tests.values()),
    }


def measure_edit(
    pants: Pants, repo: Repo, edit: dict[str, Any], base_tests: dict[str, list[str]]
) -> dict[str, Any]:
    name = edit["name"]
    repo.reset()
    apply_ops(repo.root, edit["ops"])
    changed = git(repo.root, "status", "--porcelain").splitlines()

    d = pants("--test-force", "difftest", "::")
    c = pants(
        "--no-difftest-record",
        "--changed-since=HEAD",
        "--changed-dependents=transitive",
        "test",
        "--force",
        "--report",
        f"--report-dir=dist/bench/{name}/changed",
    )
    f = pants(
        "--no-difftest-record",
        "test",
        "--force",
        "--report",
        f"--report-dir=dist/bench/{name}/full",
        "::",
    )
    repo.reset()

    # Ground truth.
    full_summary = summary_lines(f["output"])
    full_tests = junit(repo.reports(f"{name}/full"))
    failing = sorted(
        n for ids in full_tests.values() for n, o in ids.items() if o in ("failed", "error")
    )
    for address, s in full_summary.items():
        # A target that failed without a failing test case in its report (e.g. a broken
        # conftest): the target itself counts as a failing unit.
        if not s["ok"] and not any(n.startswith(test_file(address) + "::") for n in failing):
            failing.append(f"{test_file(address)}::<target failed>")
    if not full_summary:
        raise BenchError(f"{name}: no summary lines in the full run:\n{trimmed(f['output'])}")

    # What difftest ran.
    dplan = plan(d["output"])
    dsum = summary_lines(d["output"])
    ran: dict[str, list[str]] = {}
    checks: list[str] = []
    for address, s in dsum.items():
        file = test_file(address)
        now = sorted(full_tests.get(file, {}))
        if s["deselected"]:
            listed = set(dplan["targets"].get(address, {}).get("affected", {}))
            new = {n for n in now if n not in set(base_tests.get(file, []))}
            tests = sorted(listed | new)
        else:
            tests = now
        if s["ran"] is not None and s["ran"] != len(
            [t for t in tests if not t.endswith("<collect>")]
        ):
            checks.append(
                f"{address}: difftest says {s['ran']} tests ran, the harness derived {len(tests)}"
            )
        ran[address] = tests
    if set(dplan["targets"]) != set(dsum):
        checks.append(f"planned {sorted(dplan['targets'])} but summary lines for {sorted(dsum)}")
    d_cases = sum(s["ran"] if s["ran"] is not None else len(ran[a]) for a, s in dsum.items())

    def difftest_ran(unit: str) -> bool:
        file = unit.split("::", 1)[0]
        addresses = [a for a in dsum if test_file(a) == file]
        if not addresses:
            return False
        if unit.endswith(("::<collect>", "::<target failed>")):
            return True
        return any(unit in ran[a] for a in addresses)

    missed = [u for u in failing if not difftest_ran(u)]

    # What Pants' own selection ran.
    csum = summary_lines(c["output"])
    ctests = junit(repo.reports(f"{name}/changed"))
    c_cases = sum(len(ctests.get(test_file(a), {})) for a in csum)

    result = {
        "name": name,
        "what": edit["what"],
        "ops": [list(op) for op in edit["ops"]],
        "git_status": changed,
        "full": {
            "targets": len(full_summary),
            "tests": sum(len(v) for v in full_tests.values()),
            "failing": failing,
            "exit_code": f["exit_code"],
            "seconds": f["seconds"],
        },
        "difftest": {
            "targets": sorted(dsum),
            "n_targets": len(dsum),
            "n_tests": d_cases,
            "tests": ran,
            "exit_code": d["exit_code"],
            "seconds": d["seconds"],
            "sources": sorted({s["source"] for s in dsum.values()}),
            "plan": dplan["head"]["line"],
            "reasons": {a: t["why"] for a, t in dplan["targets"].items()},
            "checks": checks,
            "output": trimmed(d["output"]),
        },
        "pants": {
            "targets": sorted(csum),
            "n_targets": len(csum),
            "n_tests": c_cases,
            "exit_code": c["exit_code"],
            "seconds": c["seconds"],
            "sources": sorted({s["source"] for s in csum.values()}),
            "output": trimmed(c["output"]),
        },
        "missed": missed,
        "safe": not missed,
        "difftest_failed_iff_full_failed": (d["exit_code"] != 0) == bool(failing),
    }
    log(
        f"  {name}: full run {len(failing)} failing; difftest {len(dsum)} targets / {d_cases} tests; "
        f"pants --changed-since {len(csum)} targets / {c_cases} tests; "
        + ("safe" if not missed else f"MISSED {missed}")
        + (f"; CHECK {checks}" if checks else "")
    )
    return result


def selection_summary(edits: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(edits)
    killed = [e for e in edits if e["full"]["failing"]]
    dt = sum(e["difftest"]["n_tests"] for e in edits)
    pt = sum(e["pants"]["n_tests"] for e in edits)
    dg = sum(e["difftest"]["n_targets"] for e in edits)
    pg = sum(e["pants"]["n_targets"] for e in edits)
    return {
        "edits": n,
        "edits_with_failures": len(killed),
        "safe_edits": sum(e["safe"] for e in edits),
        "safety_pct": 100.0 * sum(e["safe"] for e in edits) / n if n else None,
        "safety_pct_edits_with_failures": (
            100.0 * sum(e["safe"] for e in killed) / len(killed) if killed else None
        ),
        "failing_tests_total": sum(len(e["full"]["failing"]) for e in edits),
        "difftest_tests_total": dt,
        "pants_tests_total": pt,
        "difftest_tests_mean": dt / n if n else None,
        "pants_tests_mean": pt / n if n else None,
        "test_case_ratio": dt / pt if pt else None,
        "difftest_targets_total": dg,
        "pants_targets_total": pg,
        "target_ratio": dg / pg if pg else None,
        "edits_difftest_ran_more_tests": [
            e["name"] for e in edits if e["difftest"]["n_tests"] > e["pants"]["n_tests"]
        ],
        "difftest_detected_all": all(e["difftest_failed_iff_full_failed"] for e in edits),
        "harness_checks": [c for e in edits for c in e["difftest"]["checks"]],
    }


# --------------------------------------------------------------------------- part 2
COST_TOOLS: dict[str, list[str]] = {
    "difftest": ["difftest", "::"],
    "pants test": ["--no-difftest-record", "test", "::"],
    "pants test (recorder on)": ["test", "::"],
    "pants test --changed-since": [
        "--no-difftest-record",
        "--changed-since=HEAD",
        "--changed-dependents=transitive",
        "test",
    ],
}


def cost(pants: Pants, repo: Repo, reps: int) -> dict[str, Any]:
    tools = list(COST_TOOLS)
    nonce_base = random.SystemRandom().randrange(10**6, 10**7)
    counter = [0]

    def fresh_nonce() -> int:
        counter[0] += 1
        return nonce_base * 1000 + counter[0]

    def one(scenario: str, tool: str) -> dict[str, Any]:
        repo.reset()
        ops = cost_edit(fresh_nonce()) if scenario == "one-file change" else []
        apply_ops(repo.root, ops)
        r = pants(*COST_TOOLS[tool])
        repo.reset()
        if r["exit_code"] != 0:
            raise BenchError(f"{scenario} / {tool} failed:\n{trimmed(r['output'])}")
        s = summary_lines(r["output"])
        return {
            "seconds": r["seconds"],
            "load_before": r["load_before"],
            "edit": [list(op) for op in ops],
            "targets": len(s),
            # Pants' own per-target times ("succeeded in 1.02s") of the targets whose process ran.
            "ran_process_seconds": round(
                sum(v["seconds"] for v in s.values() if v["source"] == "ran"), 2
            ),
            "sources": {
                src: sum(v["source"] == src for v in s.values())
                for src in {v["source"] for v in s.values()}
            },
            "tests_ran": sum(v["ran"] or 0 for v in s.values()) if tool == "difftest" else None,
            "plan": plan(r["output"])["head"]["line"] if tool == "difftest" else None,
        }

    out: dict[str, Any] = {"reps": reps, "tools": {t: " ".join(a) for t, a in COST_TOOLS.items()}}
    for scenario in ("no change", "one-file change"):
        log(f"cost: {scenario}: warm-up, one run per tool")
        warm = {t: one(scenario, t)["seconds"] for t in tools}
        runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
        for i in range(reps):
            order = tools if i % 2 == 0 else tools[::-1]
            for t in order:
                runs[t].append(one(scenario, t))
            log(f"  rep {i + 1}: " + ", ".join(f"{t} {runs[t][-1]['seconds']:.2f}s" for t in tools))
        med = {t: statistics.median(r["seconds"] for r in runs[t]) for t in tools}
        out[scenario] = {
            "warmup_seconds": warm,
            "runs": runs,
            "median_seconds": med,
            "ratio_difftest_over_pants_test": med["difftest"] / med["pants test"],
            "ratio_recorder_on_over_pants_test": med["pants test (recorder on)"]
            / med["pants test"],
            "ratio_difftest_over_changed_since": med["difftest"]
            / med["pants test --changed-since"],
        }
    return out


# --------------------------------------------------------------------------- main
def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def tree_digest(*roots: Path, rel: Path = REPO) -> str:
    h = hashlib.sha256()
    for root in roots:
        for p in sorted(root.rglob("*.py")):
            if "__pycache__" in p.parts or "egg-info" in str(p):
                continue
            h.update(str(p.relative_to(rel)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def snapshot_code(dest: Path) -> Path:
    """Copy the plugin and the engine (`pants-plugins/difftest`, `src/difftest`) as they are now:
    the benchmark measures this copy, whatever is edited in the checkout while it runs."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("pants-plugins/difftest", "src/difftest"):
        shutil.copytree(REPO / part, dest / part, ignore=ignore)
    return dest


def checkout_state() -> dict[str, Any]:
    def q(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": q("rev-parse", "HEAD"),
        "dirty_files": q("status", "--porcelain", "--", "src", "pants-plugins").splitlines(),
        "plugin_and_engine_digest": tree_digest(REPO / "pants-plugins" / "difftest", REPO / "src"),
    }


def pants_version() -> str:
    m = re.search(r'pants_version\s*=\s*"([^"]+)"', (EXAMPLE / "pants.toml").read_text())
    return m.group(1) if m else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="difftest's Pants plugin vs Pants' --changed-since"
    )
    parser.add_argument("--quick", action="store_true", help="4 edits, 2 repetitions per timing")
    parser.add_argument("--out", type=Path, default=HERE, help="folder of results.md/json")
    parser.add_argument(
        "--reps", type=int, default=None, help="timed repetitions (default 5, quick 2)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository copy")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite results.md from results.json"
    )
    ns = parser.parse_args(argv)
    if ns.render_only:
        results = json.loads((ns.out / "results.json").read_text())
        (ns.out / "results.md").write_text(render(results))
        return 0
    reps = ns.reps or (2 if ns.quick else 5)
    edits = [e for e in EDITS if not ns.quick or e["name"] in QUICK_EDITS]

    started = time.time()
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if ns.quick else "full",
        "machine": {
            "nproc": os.cpu_count(),
            "platform": platform.platform(),
            "harness_python": sys.version.split()[0],
        },
        "pants_version": pants_version(),
        "checkout": checkout_state(),
        "targets": TARGETS,
        "load_average": {"start": _loadavg()},
        "durations_seconds": {},
        "errors": [],
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="difftest-pants-bench-"))
    code = snapshot_code(tmp / "code")
    results["measured_code_digest"] = tree_digest(
        code / "pants-plugins" / "difftest", code / "src", rel=code
    )
    repo = Repo.create(tmp)
    pants = Pants(repo.root, CACHE, code)
    results["repository_copy"] = str(repo.root)
    results["command_prefix"] = (
        f"{PANTS.relative_to(REPO)} --pantsd --pythonpath=['<snapshot>/pants-plugins', "
        f"'<snapshot>/src'] --named-caches-dir=bench/work/pants-cache/named "
        f"--local-store-dir=bench/work/pants-cache/lmdb"
    )
    log(f"repository copy: {repo.root}; Pants caches: {CACHE}")
    try:
        t = time.time()
        base = results["baseline"] = baseline(pants, repo)
        results["durations_seconds"]["baseline"] = round(time.time() - t, 1)
        log(f"baseline: {base['n_targets']} targets, {base['n_tests']} tests")

        t = time.time()
        measured = []
        for edit in edits:
            log(f"edit {edit['name']}: {edit['what']}")
            try:
                measured.append(measure_edit(pants, repo, edit, base["full"]["tests"]))
            except BenchError as exc:
                results["errors"].append(f"edit {edit['name']}: {exc}")
                log(f"  failed: {exc}")
                repo.reset()
        results["edits"] = measured
        results["selection"] = selection_summary(measured)
        results["durations_seconds"]["selection"] = round(time.time() - t, 1)

        t = time.time()
        try:
            results["cost"] = cost(pants, repo, reps)
        except BenchError as exc:
            results["errors"].append(f"cost: {exc}")
            log(f"cost failed: {exc}")
        results["durations_seconds"]["cost"] = round(time.time() - t, 1)
    except BenchError as exc:
        results["errors"].append(str(exc))
        log(f"failed: {exc}")
    finally:
        results["pantsd_stopped"] = pants.stop_pantsd()
        if not ns.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        results["load_average"]["end"] = _loadavg()
        results["durations_seconds"]["total"] = round(time.time() - started, 1)
        end_state = checkout_state()
        if end_state != results["checkout"]:
            results["checkout_at_end"] = end_state
    ns.out.mkdir(parents=True, exist_ok=True)
    (ns.out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    (ns.out / "results.md").write_text(render(results))
    log(
        f"wrote {ns.out / 'results.md'} and results.json ({results['durations_seconds']['total']:.0f} s)"
    )
    return 1 if results["errors"] else 0


# --------------------------------------------------------------------------- results.md
def _f(x: float | None, fmt: str = "{:.2f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def _codes(items: list[str], short: bool = False) -> str:
    """`a`, `b`: with short, only the part after the last slash."""
    return ", ".join("`" + (x.rsplit("/", 1)[-1] if short else x) + "`" for x in items)


def render(r: dict[str, Any]) -> str:
    out: list[str] = []
    w: Callable[[str], None] = out.append
    quick = " --quick" if r["mode"] == "quick" else ""
    w("# Pants benchmark: the difftest plugin vs `pants --changed-since`\n")
    w(
        f"Written by `python bench/pants/run.py{quick}` on {r['date']} ({r['mode']} run, "
        f'{r["durations_seconds"].get("total", 0):.0f} s). See bench/README.md ("The Pants '
        'benchmark") for the method.\n'
    )
    m = r["machine"]
    la = r["load_average"]
    w(
        f"Machine: {m['nproc']} CPUs, {m['platform']}; load average (1/5/15 min) {la.get('start')} "
        f"at the start, {la.get('end')} at the end: the machine is shared, so timings are only as "
        f"clean as it was idle (the load before every timed run is in results.json). Pants "
        f"{r['pants_version']} (./pants), pantsd on for every run. Checkout "
        f"`{r['checkout']['commit'][:12]}`, plugin+engine digest "
        f"`{r['checkout']['plugin_and_engine_digest']}`"
        + (
            f" (uncommitted changes in {len(r['checkout']['dirty_files'])} file(s) under src/ or "
            "pants-plugins/)"
            if r["checkout"]["dirty_files"]
            else ""
        )
        + ".\n"
    )
    w(
        "The plugin and engine measured are a copy taken at the start (`pants-plugins/difftest`, "
        f"`src/difftest`; digest `{r.get('measured_code_digest', '?')}`), so edits to the checkout "
        "while the benchmark runs do not reach it"
        + (
            f" (there were some: the checkout's digest at the end was "
            f"`{r['checkout_at_end']['plugin_and_engine_digest']}`)"
            if r.get("checkout_at_end")
            else ""
        )
        + ".\n"
    )
    if r["errors"]:
        w("## Errors\n")
        for e in r["errors"]:
            w(f"```\n{e[:3000]}\n```")
        w("")

    base = r.get("baseline")
    if base:
        w(
            f"Sample monorepo: examples/monorepo, {base['n_targets']} python_test targets, "
            f"{base['n_tests']} tests. Baseline recording (`pants difftest ::`, pantsd starting): "
            f"{base['difftest']['seconds']:.1f} s.\n"
        )

    s = r.get("selection")
    c = r.get("cost")
    w("## Headline\n")
    w("| figure | value | target |")
    w("|---|---|---|")
    if s:
        w(
            f"| mutation safety: edits where every test failing in the full run was run by difftest "
            f"| {s['safe_edits']}/{s['edits']} = {_f(s['safety_pct'], '{:.0f}%')} "
            f"({_f(s['safety_pct_edits_with_failures'], '{:.0f}%')} of the "
            f"{s['edits_with_failures']} edits that broke a test) | 100% |"
        )
        w(
            f"| test cases run, difftest vs `pants --changed-since=HEAD --changed-dependents=transitive test` "
            f"(total over {s['edits']} edits; mean per edit) | {s['difftest_tests_total']} vs "
            f"{s['pants_tests_total']} ({_f(s['difftest_tests_mean'], '{:.1f}')} vs "
            f"{_f(s['pants_tests_mean'], '{:.1f}')}): ratio **{_f(s['test_case_ratio'])}** | < 0.5 |"
        )
        w(
            f"| python_test targets run, difftest vs Pants (total) | {s['difftest_targets_total']} vs "
            f"{s['pants_targets_total']}: ratio **{_f(s['target_ratio'])}** | |"
        )
    if c:
        for scenario in ("no change", "one-file change"):
            x = c.get(scenario)
            if not x:
                continue
            med = x["median_seconds"]
            w(
                f"| wall time, {scenario}, warm pantsd: `pants difftest ::` / `pants test ::` "
                f"(median of {c['reps']}) | {med['difftest']:.2f} s / {med['pants test']:.2f} s = "
                f"**{x['ratio_difftest_over_pants_test']:.2f}** | |"
            )
        for scenario in ("no change", "one-file change"):
            x = c.get(scenario)
            if x:
                med = x["median_seconds"]
                w(
                    f"| wall time, {scenario}: `pants test ::` with the recorder injected / without "
                    f"| {med['pants test (recorder on)']:.2f} s / {med['pants test']:.2f} s = "
                    f"{x['ratio_recorder_on_over_pants_test']:.2f} | |"
                )
        x = c.get("one-file change")
        if x and "ratio_difftest_over_changed_since" in x:
            med = x["median_seconds"]
            w(
                "| wall time, one-file change: `pants difftest ::` / `pants --changed-since=HEAD "
                f"--changed-dependents=transitive test` | {med['difftest']:.2f} s / "
                f"{med['pants test --changed-since']:.2f} s = "
                f"{x['ratio_difftest_over_changed_since']:.2f} | |"
            )
    w("")

    if r.get("edits"):
        w("## Selection and safety, per edit\n")
        w(
            "Each edit is applied to the recorded baseline, measured, and undone. *failing*: tests "
            "failing in the full run (`pants test --force ::`, the ground truth). *difftest*: "
            "`pants difftest ::`. *Pants*: `pants --changed-since=HEAD "
            "--changed-dependents=transitive test`. Cells are targets / test cases.\n"
        )
        w("| edit | failing | difftest | Pants | safe | difftest's reasons (per target) |")
        w("|---|---|---|---|---|---|")
        for e in r["edits"]:
            reasons = "; ".join(
                f"`{a.split('/')[-1]}`: {why}"
                for a, why in sorted(e["difftest"]["reasons"].items())
            )
            safe = "yes" if e["safe"] else "**MISSED** " + ", ".join(f"`{u}`" for u in e["missed"])
            w(
                f"| `{e['name']}`: {e['what']} | {len(e['full']['failing'])} | "
                f"{e['difftest']['n_targets']} / {e['difftest']['n_tests']} | "
                f"{e['pants']['n_targets']} / {e['pants']['n_tests']} | {safe} | "
                f"{reasons.replace('|', '/') or 'nothing to run'} |"
            )
        w("")
        w("Failing tests per edit, and the tests difftest ran:\n")
        for e in r["edits"]:
            ran = sorted(t for ts in e["difftest"]["tests"].values() for t in ts)
            w(
                f"- `{e['name']}`: failing {_codes(e['full']['failing']) or 'none'}; "
                f"difftest ran {_codes(ran, short=True) or 'nothing'}; "
                f"Pants ran {_codes(e['pants']['targets'], short=True) or 'nothing'}."
            )
        w("")
        if s and s["harness_checks"]:
            w("Harness consistency checks that did not hold:\n")
            for chk in s["harness_checks"]:
                w(f"- {chk}")
            w("")
        if s and not s["difftest_detected_all"]:
            w(
                "Edits where difftest's exit code disagrees with the full run's: "
                + ", ".join(
                    e["name"] for e in r["edits"] if not e["difftest_failed_iff_full_failed"]
                )
                + "\n"
            )

    if c:
        w("## Cost (warm pantsd)\n")
        w(
            "Wall time of the whole `./pants` client process, pantsd already running and warm. One "
            "untimed warm-up run per tool and scenario, then "
            f"{c['reps']} repetitions, the tools interleaved (the order reversed every other "
            "repetition). Each run starts from the recorded baseline (tree reset, baseline artifact "
            "copied back). *one-file change*: `mathutil.mul`'s body becomes `a * b + 0 * N` with an "
            "N never used before (also not in earlier benchmark runs: a random base), so neither "
            "tool can get the affected targets from Pants' caches; the other targets are memoized "
            "by pantsd for `pants test`. `pants test` is run with `--no-difftest-record` (the plugin "
            "installed but not injecting its recorder: Pants' own pytest processes); "
            "*recorder on* is `pants test` with the plugin's default, recording.\n"
        )
        for k, v in c["tools"].items():
            w(f"- *{k}*: `pants {v}`")
        w("")
        for scenario in ("no change", "one-file change"):
            x = c.get(scenario)
            if not x:
                continue
            w(f"### {scenario}\n")
            w(
                "| tool | median s | runs (s) | warm-up s | pytest processes that ran: summed "
                "per-target seconds, median | what ran (last run) |"
            )
            w("|---|---|---|---|---|---|")
            for t, runs in x["runs"].items():
                last = runs[-1]
                what = f"{last['targets']} targets" + "".join(
                    f", {n} {src}" for src, n in sorted(last["sources"].items())
                )
                if last.get("plan"):
                    what += f"; {last['plan']} ({last['tests_ran']} tests ran)"
                w(
                    f"| {t} | {x['median_seconds'][t]:.2f} | "
                    f"{', '.join(_f(q['seconds']) for q in runs)} | "
                    f"{x['warmup_seconds'][t]:.2f} | "
                    f"{statistics.median(q['ran_process_seconds'] for q in runs):.2f} | {what} |"
                )
            w("")

    w("## Durations\n")
    for k, v in r["durations_seconds"].items():
        w(f"- {k}: {v:.0f} s")
    w("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
