"""Mutation safety and selectivity: difftest and pytest-testmon on the same real projects and mutants.

For each project (an sdist from PyPI, see projects.py) three copies of the tree are made:
``full`` (plain pytest, the ground truth), ``difftest`` and ``testmon``. Each tool records its
baseline on the unmutated tree. Then, for every mutant (mutants.py), the same edit is written
into all three copies and, in parallel:

* ``full``: ``pytest`` with both tools disabled. The tests that fail are the ground truth
  (plus test files that fail to collect);
* ``difftest``: ``pytest --diff`` (read-only: the baseline stays the unmutated one; the harness
  checks that the baseline file did not change);
* ``testmon``: ``pytest --testmon`` after copying its unmutated ``.testmondata`` back, since
  every testmon run writes new data.

What ran in each is read from a tiny reporting plugin (plugins/bench_report.py), not from the
terminal. A mutant is *safe* for a tool when every test failing in the full run ran (or its file
failed to collect) in the tool's run. A miss is confirmed by a second full run, so a flaky test
is not blamed on a tool.

Run alone: ``python bench/mutation.py [--quick] [--project NAME]``; ``bench/run.py`` runs it
with the performance benchmarks and writes the results files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    NO_DIFFTEST,
    NO_TESTMON,
    WORK,
    BenchError,
    Venv,
    copy_tree,
    fetch_sdist,
    log,
    make_venv,
    pytest_env,
    remove_tool_data,
    run,
    tree_digest,
)
from mutants import Mutant, generate
from projects import Project, by_name

TOOLS = ("difftest", "testmon")
DEFAULT_SEED = 20240601


@dataclass
class RunOutcome:
    """What one pytest run did, as the reporting plugin saw it."""

    exitstatus: int | None
    tests: dict[str, str]  # nodeid -> passed | failed | skipped
    collect_errors: list[str]
    seconds: float
    timed_out: bool = False
    error: str | None = None  # set when the run produced no report
    output_tail: str = ""

    @property
    def failed(self) -> set[str]:
        return {t for t, o in self.tests.items() if o == "failed"}


def _pytest_run(
    venv: Venv, root: Path, args: list[str], report: Path, timeout: float
) -> RunOutcome:
    report.unlink(missing_ok=True)
    # Every run of a tree writes its report to the same path, moved after: a test that starts a
    # process depends on the environment it inherits, which must be the same each run, as a
    # user's would be (a path per run re-ran boltons' one such test on every mutant).
    slot = report.parent / f"current-{root.name}.json"
    slot.unlink(missing_ok=True)
    res = run(
        [*venv.pytest(), "-p", "bench_report", *args],
        cwd=root,
        timeout=timeout,
        env=pytest_env(slot, bytecode=False),
    )
    if slot.exists():
        slot.replace(report)
    tail = res.tail(40)
    if res.timed_out:
        return RunOutcome(
            None,
            {},
            [],
            res.seconds,
            timed_out=True,
            error=f"timed out after {timeout:.0f} s",
            output_tail=tail,
        )
    if not report.exists():
        return RunOutcome(
            res.returncode,
            {},
            [],
            res.seconds,
            error=f"no report (exit {res.returncode})",
            output_tail=tail,
        )
    data = json.loads(report.read_text())
    return RunOutcome(
        data["exitstatus"], data["tests"], data["collect_errors"], res.seconds, output_tail=tail
    )


@dataclass
class ProjectSetup:
    project: Project
    copies: dict[str, Path]  # "full" | "difftest" | "testmon" -> tree
    all_tests: set[str]
    pristine_failures: set[str]
    testmon_pristine: Path
    difftest_digest: str
    timeout: float
    commands: dict[str, list[str]]
    notes: list[str] = field(default_factory=list)


def _args(project: Project) -> dict[str, list[str]]:
    targets = list(project.test_args)
    return {
        "full": [*NO_DIFFTEST, *NO_TESTMON, "-q", *targets],
        "difftest-baseline": [*NO_TESTMON, "-q", "--diff-baseline", *targets],
        "difftest": [*NO_TESTMON, "-q", "--diff", "--diff-v", *targets],
        "testmon": [*NO_DIFFTEST, "-q", "--testmon", *targets],
    }


def _dir_digest(path: Path) -> str:
    if not path.exists():
        return "missing"
    return tree_digest(path, ("**/*",))


def setup_project(venv: Venv, project: Project, base: Path) -> ProjectSetup:
    source = fetch_sdist(project.name, project.version)
    base.mkdir(parents=True, exist_ok=True)
    copies = {name: copy_tree(source, base / name) for name in ("full", "difftest", "testmon")}
    args = _args(project)
    reports = base / "reports"
    reports.mkdir(exist_ok=True)
    notes: list[str] = []

    log(f"{project.name}: full run of the unmutated tree")
    full = _pytest_run(venv, copies["full"], args["full"], reports / "pristine-full.json", 1800)
    if full.error or not full.tests:
        raise BenchError(
            f"{project.spec}: the unmutated test suite did not run ({full.error})\n{full.output_tail}"
        )
    timeout = max(180.0, 10 * full.seconds)
    if full.failed:
        notes.append(
            f"{len(full.failed)} tests fail on the unmutated tree and are left out of the ground truth"
        )

    log(f"{project.name}: difftest baseline")
    base_run = _pytest_run(
        venv,
        copies["difftest"],
        args["difftest-baseline"],
        reports / "difftest-baseline.json",
        3600,
    )
    if base_run.error:
        raise BenchError(
            f"{project.spec}: `pytest --diff-baseline` failed ({base_run.error})\n{base_run.output_tail}"
        )
    log(f"{project.name}: testmon baseline")
    tm_run = _pytest_run(
        venv, copies["testmon"], args["testmon"], reports / "testmon-baseline.json", 3600
    )
    if tm_run.error:
        raise BenchError(
            f"{project.spec}: `pytest --testmon` failed ({tm_run.error})\n{tm_run.output_tail}"
        )
    testmon_pristine = base / "testmondata.pristine"
    shutil.copy2(copies["testmon"] / ".testmondata", testmon_pristine)

    # No change: both tools should select nothing (a sanity check, reported).
    dt_none = _pytest_run(
        venv, copies["difftest"], args["difftest"], reports / "difftest-nochange.json", timeout
    )
    tm_none = _pytest_run(
        venv, copies["testmon"], args["testmon"], reports / "testmon-nochange.json", timeout
    )
    shutil.copy2(testmon_pristine, copies["testmon"] / ".testmondata")
    for tool, outcome in (("difftest", dt_none), ("testmon", tm_none)):
        if outcome.error:
            notes.append(f"{tool} no-change run failed: {outcome.error}")
        elif outcome.tests:
            notes.append(f"{tool} selected {len(outcome.tests)} tests with no change at all")
    return ProjectSetup(
        project=project,
        copies=copies,
        all_tests=set(full.tests),
        pristine_failures=full.failed,
        testmon_pristine=testmon_pristine,
        difftest_digest=_dir_digest(copies["difftest"] / ".difftest"),
        timeout=timeout,
        commands={k: [*venv.pytest(), "-p", "bench_report", *v] for k, v in args.items()},
        notes=notes,
    )


def _test_file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _missed(truth: RunOutcome, tool: RunOutcome, ignore: set[str]) -> list[str]:
    """Tests failing in the full run that the tool neither ran nor hit a collection error for;
    files failing to collect in the full run that the tool did not try to collect."""
    tool_ce = {_test_file(c) for c in tool.collect_errors}
    missed = [
        t
        for t in sorted(truth.failed - ignore)
        if t not in tool.tests and _test_file(t) not in tool_ce
    ]
    for ce in truth.collect_errors:
        f = _test_file(ce)
        if f not in tool_ce and not any(_test_file(t) == f for t in tool.tests):
            missed.append(f"{ce} (collection error)")
    return missed


def run_mutant(setup: ProjectSetup, venv: Venv, mutant: Mutant, jobs: int) -> dict[str, Any]:
    copies = setup.copies
    reports = copies["full"].parent / "reports"
    original = (copies["full"] / mutant.path).read_bytes()
    mutated = mutant.apply(original)
    for root in copies.values():
        (root / mutant.path).write_bytes(mutated)
    shutil.copy2(setup.testmon_pristine, copies["testmon"] / ".testmondata")
    for suffix in ("-wal", "-shm"):
        (copies["testmon"] / f".testmondata{suffix}").unlink(missing_ok=True)
    args = _args(setup.project)
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {
                name: pool.submit(
                    _pytest_run,
                    venv,
                    copies[name],
                    args[name],
                    reports / f"{name}.json",
                    setup.timeout,
                )
                for name in ("full", "difftest", "testmon")
            }
            outcomes = {name: f.result() for name, f in futures.items()}
        truth = outcomes["full"]
        record: dict[str, Any] = {
            **mutant.as_dict(),
            "description": mutant.describe(),
            "total_tests": len(setup.all_tests),
        }
        if truth.timed_out or truth.error:
            record["status"] = "excluded"
            record["why"] = f"full run: {truth.error}"
            return record
        failing = sorted(truth.failed - setup.pristine_failures)
        record["status"] = "ok"
        record["failing"] = failing
        record["collect_errors"] = truth.collect_errors
        record["killed"] = bool(failing or truth.collect_errors)
        record["seconds"] = {name: round(o.seconds, 2) for name, o in outcomes.items()}
        missed_any = False
        for tool in TOOLS:
            out = outcomes[tool]
            entry: dict[str, Any] = {
                "selected": len(out.tests),
                "share": len(out.tests) / len(setup.all_tests),
            }
            if out.error:
                entry["error"] = out.error
                entry["output_tail"] = out.output_tail
                entry["missed"] = ["<tool run failed>"] if record["killed"] else []
            else:
                entry["missed"] = _missed(truth, out, setup.pristine_failures)
            if entry["missed"]:
                missed_any = True
                entry["output_tail"] = out.output_tail
            record[tool] = entry
        if missed_any:
            # Confirm the misses with a second full run: a flaky test is no tool's fault.
            again = _pytest_run(
                venv, copies["full"], args["full"], reports / "full-again.json", setup.timeout
            )
            still = again.failed | {f"{c} (collection error)" for c in again.collect_errors}
            for tool in TOOLS:
                missed = record[tool]["missed"]
                confirmed = [m for m in missed if m in still or m == "<tool run failed>"]
                if len(confirmed) != len(missed):
                    record[tool]["flaky_not_counted"] = sorted(set(missed) - set(confirmed))
                record[tool]["missed"] = confirmed
        digest = _dir_digest(copies["difftest"] / ".difftest")
        if digest != setup.difftest_digest:
            record["difftest"]["baseline_changed_by_diff"] = True
        return record
    finally:
        for root in copies.values():
            (root / mutant.path).write_bytes(original)


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    valid = [r for r in records if r.get("status") == "ok"]
    killed = [r for r in valid if r["killed"]]
    out: dict[str, Any] = {
        "mutants": len(records),
        "valid": len(valid),
        "excluded": len(records) - len(valid),
        "killed": len(killed),
        "import_time": sum(1 for r in valid if r["scope"] == "import-time"),
        "function_body": sum(1 for r in valid if r["scope"] == "function-body"),
    }
    out["mean_failing_share"] = _mean([len(r["failing"]) / r["total_tests"] for r in valid])
    for tool in TOOLS:
        safe = [r for r in valid if not r[tool]["missed"]]
        safe_killed = [r for r in killed if not r[tool]["missed"]]
        shares = [r[tool]["share"] for r in valid]
        out[tool] = {
            "safe": len(safe),
            "safety_pct": round(100 * len(safe) / len(valid), 2) if valid else None,
            "safe_killed": len(safe_killed),
            "safety_killed_pct": round(100 * len(safe_killed) / len(killed), 2) if killed else None,
            "mean_selected_share": round(statistics.mean(shares), 4) if shares else None,
            "mean_selected_share_import_time": _mean(
                [r[tool]["share"] for r in valid if r["scope"] == "import-time"]
            ),
            "mean_selected_share_function_body": _mean(
                [r[tool]["share"] for r in valid if r["scope"] == "function-body"]
            ),
            "errors": sum(1 for r in valid if r[tool].get("error")),
            "unsafe": [r["id"] for r in valid if r[tool]["missed"]],
        }
    d, t = out["difftest"]["mean_selected_share"], out["testmon"]["mean_selected_share"]
    out["selected_share_ratio_difftest_over_testmon"] = (
        round(d / t, 3) if d is not None and t else None
    )
    return out


def _mean(values: list[float]) -> float | None:
    return round(statistics.mean(values), 4) if values else None


def run_benchmark(
    venv: Venv, projects: list[Project], *, quick: bool, seed: int, jobs: int
) -> dict[str, Any]:
    results: dict[str, Any] = {"seed": seed, "python": venv.version, "projects": {}}
    all_records: list[dict[str, Any]] = []
    for project in projects:
        base = WORK / "mutation" / project.name
        setup = setup_project(venv, project, base)
        count = max(4, project.mutants // 4) if quick else project.mutants
        mutants = generate(project.name, setup.copies["full"], project.sources, count, seed)
        log(
            f"{project.name}: {len(mutants)} mutants, {len(setup.all_tests)} tests, timeout {setup.timeout:.0f} s per run"
        )
        records = []
        for i, mutant in enumerate(mutants, 1):
            rec = run_mutant(setup, venv, mutant, jobs)
            records.append(rec)
            if rec["status"] == "ok":
                log(
                    f"  {i}/{len(mutants)} {mutant.describe()}: {len(rec['failing'])} failing; "
                    + ", ".join(
                        f"{t} ran {rec[t]['selected']}{' MISSED ' + str(len(rec[t]['missed'])) if rec[t]['missed'] else ''}"
                        for t in TOOLS
                    )
                )
            else:
                log(f"  {i}/{len(mutants)} {mutant.describe()}: excluded ({rec['why']})")
        for root in setup.copies.values():
            remove_tool_data(root)
        total = len(setup.all_tests)
        all_records.extend(records)
        results["projects"][project.name] = {
            "spec": project.spec,
            "why": project.why,
            "tests": total,
            "pristine_failures": sorted(setup.pristine_failures),
            "notes": setup.notes,
            "commands": {k: " ".join(v) for k, v in setup.commands.items()},
            "summary": summarize(records),
            "mutants": records,
        }
    results["summary"] = summarize(all_records)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a quarter of the mutants (at least 4 per project)"
    )
    parser.add_argument(
        "--project", action="append", help="only this project (repeatable); default: all"
    )
    parser.add_argument(
        "--python", default="3.12", help="Python version of the venv (default 3.12)"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"mutant seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--jobs", type=int, default=3, help="pytest runs in parallel per mutant (default 3)"
    )
    parser.add_argument(
        "--out", type=Path, default=WORK / "mutation.json", help="where the raw JSON goes"
    )
    ns = parser.parse_args(argv)
    try:
        venv = make_venv(ns.python)
        results = run_benchmark(
            venv, by_name(ns.project), quick=ns.quick, seed=ns.seed, jobs=ns.jobs
        )
    except BenchError as exc:
        print(f"mutation benchmark failed: {exc}", file=sys.stderr)
        return 2
    ns.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results["summary"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
