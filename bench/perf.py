"""Performance: difftest and pytest-testmon against plain pytest, on the same trees.

(a) **Recording overhead**: wall time of a from-scratch baseline run (``pytest --diff-baseline``
    with ``.difftest/`` removed; ``pytest --testmon`` with ``.testmondata`` removed) over a plain
    ``pytest`` run of the same suite, per Python version; median of ``reps`` runs each,
    interleaved so that machine noise hits all three alike.
    The same loop times **coverage.py alone** (``coverage run -m pytest``, no contexts, the
    core difftest uses: sys.monitoring on 3.12+, the C tracer before, measuring only the
    project's files): the floor under any recorder built on coverage.py, difftest's and
    testmon's alike.
(b) **No-change run**: ``pytest --diff`` (and testmon's ``pytest --testmon``) right after a
    baseline, nothing edited, over ``pytest --collect-only -q``: what it costs to learn that
    nothing needs to run.
(c) **Selection at scale**: a generated suite (gensuite.py, 50,000 tests in the full run); after
    both baselines, one function body of one module is edited and the harness times
    (i) ``pytest --diff`` end to end, (ii) the selection step alone, calling the engine in the
    venv's Python: ``select(b, CurrentState(FileHasher(root, b.stat_cache()), env,
    import_roots=b.import_roots()))`` with ``env`` the recorded pytest-configuration values the
    plugin would pass (the bare call without them or the import roots is timed too: it sees the
    pytest configuration as unknown and selects everything), and
    (iii) testmon's ``pytest --testmon`` end to end (its data file copied back before each run).

Every run uses ``-p bench_report`` (what ran is counted, so a timing of a run that selected the
wrong tests is visible) and the other tool disabled with ``-p no:...``. Bytecode caching is on,
as on a developer's machine; one warm-up run per tree fills the caches before timing.

Run alone: ``python bench/perf.py [--quick]``; ``bench/run.py`` runs it with the mutation benchmark.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gensuite
from common import (
    NO_DIFFTEST,
    NO_TESTMON,
    WORK,
    BenchError,
    Timing,
    Venv,
    check_blocked,
    copy_tree,
    fetch_sdist,
    log,
    make_venv,
    median,
    pytest_env,
    ratio,
    remove_tool_data,
    run,
)
from projects import Project, by_name

_SELECT_SCRIPT = r"""
import json, sys, time
from pathlib import Path
from difftest.storage.baseline import Baseline
from difftest.changes.scan import FileHasher
from difftest.changes.state import CurrentState
from difftest.selection.engine import select

root, db, reps = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
b = Baseline.open_existing(db)
opened = time.perf_counter() - t0
# Values only the pytest plugin can compute (its configuration and plugin set), taken as
# recorded, the way `difftest explain` does; without them every test looks affected.
front_end = {}
for _, key, value in sorted(b.versions()):
    if key.startswith("<env>/pytest"):
        front_end.setdefault(key, value)
out = {"open_seconds": opened, "recorded_tests": b.test_count(), "front_end_env": sorted(front_end)}
for label, env in (("", front_end), ("bare_", None)):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        hasher = FileHasher(root, b.stat_cache())
        roots = b.import_roots() if env is not None else None
        sel = select(b, CurrentState(hasher, env, import_roots=roots))
        times.append(time.perf_counter() - t)
    out.update({
        label + "select_seconds": times,
        label + "affected": len(sel.affected),
        label + "run_all": None if sel.run_all is None else str(sel.run_all),
        label + "changed": [list(c) for c in sel.changed[:10]],
        label + "files_to_collect": len(sel.files_to_collect),
    })
print(json.dumps(out))
"""


class _Runner:
    """Runs one tool's pytest command in one tree, checks it, counts what ran."""

    def __init__(self, venv: Venv, reports: Path, timeout: float) -> None:
        self.venv = venv
        self.reports = reports
        self.timeout = timeout
        reports.mkdir(parents=True, exist_ok=True)

    def __call__(
        self,
        root: Path,
        args: list[str],
        what: str,
        ok: tuple[int, ...] = (0, 5),
        launcher: list[str] | None = None,
    ) -> tuple[float, int]:
        """``launcher``: what starts pytest instead of ``python -m pytest``."""
        report = self.reports / "last.json"
        report.unlink(missing_ok=True)
        cmd = [*(launcher or self.venv.pytest()), "-p", "bench_report", *args]
        res = run(cmd, cwd=root, timeout=self.timeout, env=pytest_env(report))
        if res.timed_out or res.returncode not in ok:
            why = (
                f"timed out after {self.timeout:.0f} s"
                if res.timed_out
                else f"exited {res.returncode}"
            )
            raise BenchError(f"{what} {why}: {' '.join(cmd)}\n  in {root}\n{res.tail()}")
        if not report.exists():
            return res.seconds, -1
        data = json.loads(report.read_text())
        wrong = check_blocked(args, data.get("plugins", []))
        if wrong is not None:
            raise BenchError(f"{what}: {wrong}: {' '.join(cmd)}\n  in {root}")
        return res.seconds, len(data["tests"])

    def cmd(self, args: list[str], launcher: list[str] | None = None) -> list[str]:
        return [*(launcher or ["python", "-m", "pytest"]), "-p", "bench_report", *args]


def _version(venv: Venv) -> tuple[int, ...]:
    return tuple(map(int, venv.version.split(".")))


def _coverage_alone(venv: Venv, base: Path, tree: Path, *, idle: bool = False) -> list[str]:
    """``coverage run`` measuring the way difftest does (its core, the project's files only),
    with no contexts and its data file outside the tree. ``idle``: measuring no file at all,
    which still costs coverage.py's handling of the first call of every function the run makes
    (pytest's own included) and deciding, once per file, not to measure it."""
    name = "coverage-idle" if idle else "coverage-alone"
    rc = base / f"{name}.ini"
    core = "sysmon" if _version(venv) >= (3, 12) else "ctrace"
    include = base / "no-such-directory" if idle else tree.resolve()
    rc.write_text(
        f"[run]\ncore = {core}\ndata_file = {base / (name + '.data')}\ninclude = {include}/*\n"
        "disable_warnings = no-data-collected\n"
    )
    return [venv.python, "-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest"]


def _commands(targets: list[str]) -> dict[str, list[str]]:
    return {
        "plain": [*NO_DIFFTEST, *NO_TESTMON, "-q", *targets],
        "collect-only": [*NO_DIFFTEST, *NO_TESTMON, "-q", "--collect-only", *targets],
        "difftest-baseline": [*NO_TESTMON, "-q", "--diff-baseline", *targets],
        "difftest-diff": [*NO_TESTMON, "-q", "--diff", *targets],
        "difftest-static": [*NO_TESTMON, "-q", "--diff-static", *targets],
        "testmon": [*NO_DIFFTEST, "-q", "--testmon", *targets],
    }


def _remove_testmon(root: Path) -> None:
    for name in (".testmondata", ".testmondata-shm", ".testmondata-wal"):
        (root / name).unlink(missing_ok=True)


def bench_project(venv: Venv, project: Project, reps: int) -> dict[str, Any]:
    """(a) and (b) for one real project on one Python version."""
    source = fetch_sdist(project.name, project.version)
    base = WORK / "perf" / venv.version / project.name
    trees = {
        name: copy_tree(source, base / name) for name in ("plain", "difftest", "testmon", "static")
    }
    cmds = _commands(list(project.test_args))
    runner = _Runner(venv, base / "reports", timeout=1800)
    timings = {k: Timing(k, runner.cmd(v)) for k, v in cmds.items()}
    timings["testmon-baseline"] = Timing("testmon-baseline", runner.cmd(cmds["testmon"]))
    timings["testmon-nochange"] = Timing("testmon-nochange", runner.cmd(cmds["testmon"]))
    timings["difftest-nochange"] = Timing("difftest-nochange", runner.cmd(cmds["difftest-diff"]))
    timings["static-first"] = Timing("static-first", runner.cmd(cmds["difftest-static"]))
    timings["static-nochange"] = Timing("static-nochange", runner.cmd(cmds["difftest-static"]))
    alone = _coverage_alone(venv, base, trees["plain"])
    timings["coverage-alone"] = Timing(
        "coverage-alone", runner.cmd(cmds["plain"], ["python", *alone[1:]])
    )
    idle = _coverage_alone(venv, base, trees["plain"], idle=True)
    timings["coverage-idle"] = Timing(
        "coverage-idle", runner.cmd(cmds["plain"], ["python", *idle[1:]])
    )
    # Floors started where difftest starts recording: coverage.py idle, and on 3.12+ a bare
    # per-test line recorder on sys.monitoring (bench/plugins/).
    floors = {"coverage-idle-plugin": [*cmds["plain"], "-p", "bench_coverage_idle"]}
    if _version(venv) >= (3, 12):
        floors["lines-floor"] = [*cmds["plain"], "-p", "bench_lines_floor"]
    for label, args in floors.items():
        timings[label] = Timing(label, runner.cmd(args))
    counts: dict[str, int] = {}

    log(f"perf {project.name} on {venv.version}: warm-up")
    for name, tree in trees.items():
        runner(tree, cmds["plain"], f"warm-up in {name}", ok=(0, 1))
    log(
        f"perf {project.name} on {venv.version}: {reps} x (plain, difftest baseline, testmon "
        "baseline, first --diff-static run, coverage.py alone, coverage.py measuring nothing, "
        f"{', '.join(floors)})"
    )
    for _ in range(reps):
        secs, counts["plain"] = runner(trees["plain"], cmds["plain"], "plain pytest", ok=(0, 1))
        timings["plain"].seconds.append(secs)
        remove_tool_data(trees["difftest"])
        secs, counts["difftest-baseline"] = runner(
            trees["difftest"], cmds["difftest-baseline"], "difftest baseline", ok=(0, 1)
        )
        timings["difftest-baseline"].seconds.append(secs)
        _remove_testmon(trees["testmon"])
        secs, counts["testmon-baseline"] = runner(
            trees["testmon"], cmds["testmon"], "testmon baseline", ok=(0, 1)
        )
        timings["testmon-baseline"].seconds.append(secs)
        remove_tool_data(trees["static"])
        secs, counts["static-first"] = runner(
            trees["static"], cmds["difftest-static"], "difftest --diff-static, first run", ok=(0, 1)
        )
        timings["static-first"].seconds.append(secs)
        secs, counts["coverage-alone"] = runner(
            trees["plain"], cmds["plain"], "coverage.py alone", ok=(0, 1), launcher=alone
        )
        timings["coverage-alone"].seconds.append(secs)
        secs, counts["coverage-idle"] = runner(
            trees["plain"], cmds["plain"], "coverage.py measuring nothing", ok=(0, 1), launcher=idle
        )
        timings["coverage-idle"].seconds.append(secs)
        for label, args in floors.items():
            secs, counts[label] = runner(trees["plain"], args, label, ok=(0, 1))
            timings[label].seconds.append(secs)
    log(
        f"perf {project.name} on {venv.version}: {reps} x (collect-only, difftest no-change, testmon no-change)"
    )
    for _ in range(reps):
        secs, counts["collect-only"] = runner(trees["plain"], cmds["collect-only"], "collect-only")
        timings["collect-only"].seconds.append(secs)
        secs, counts["difftest-nochange"] = runner(
            trees["difftest"], cmds["difftest-diff"], "difftest no-change --diff"
        )
        timings["difftest-nochange"].seconds.append(secs)
        secs, counts["testmon-nochange"] = runner(
            trees["testmon"], cmds["testmon"], "testmon no-change"
        )
        timings["testmon-nochange"].seconds.append(secs)
        secs, counts["static-nochange"] = runner(
            trees["static"], cmds["difftest-static"], "difftest --diff-static, no change"
        )
        timings["static-nochange"].seconds.append(secs)
    del timings["testmon"], timings["difftest-diff"], timings["difftest-static"]
    for tree in trees.values():
        remove_tool_data(tree)

    med = {k: t.median for k, t in timings.items()}

    def paired(label: str, reference: str = "plain") -> float | None:
        """Median over rounds of ``label``'s time over the ``reference`` run of the same round
        (run just before it): a slow stretch of the machine then weighs on both sides of each
        ratio."""
        rounds = zip(timings[label].seconds, timings[reference].seconds)
        return ratio(statistics.median(a / b for a, b in rounds), 1.0)

    return {
        "project": project.spec,
        "python": venv.version,
        "reps": reps,
        "tests_ran": counts,
        "timings": {k: t.as_dict() for k, t in timings.items()},
        "ratios": {
            "difftest_baseline_over_plain": ratio(med["difftest-baseline"], med["plain"]),
            "testmon_baseline_over_plain": ratio(med["testmon-baseline"], med["plain"]),
            "difftest_baseline_over_plain_paired": paired("difftest-baseline"),
            "testmon_baseline_over_plain_paired": paired("testmon-baseline"),
            "static_first_over_plain_paired": paired("static-first"),
            "coverage_alone_over_plain": ratio(med["coverage-alone"], med["plain"]),
            "coverage_alone_over_plain_paired": paired("coverage-alone"),
            "coverage_idle_over_plain": ratio(med["coverage-idle"], med["plain"]),
            "coverage_idle_over_plain_paired": paired("coverage-idle"),
            "coverage_idle_plugin_over_plain": ratio(med["coverage-idle-plugin"], med["plain"]),
            "coverage_idle_plugin_over_plain_paired": paired("coverage-idle-plugin"),
            "lines_floor_over_plain": ratio(med["lines-floor"], med["plain"])
            if "lines-floor" in med
            else None,
            "lines_floor_over_plain_paired": paired("lines-floor")
            if "lines-floor" in med
            else None,
            "difftest_baseline_over_coverage_alone": ratio(
                med["difftest-baseline"], med["coverage-alone"]
            ),
            "testmon_baseline_over_coverage_alone": ratio(
                med["testmon-baseline"], med["coverage-alone"]
            ),
            "difftest_nochange_over_collect_only": ratio(
                med["difftest-nochange"], med["collect-only"]
            ),
            "testmon_nochange_over_collect_only": ratio(
                med["testmon-nochange"], med["collect-only"]
            ),
            "difftest_nochange_over_collect_only_paired": paired(
                "difftest-nochange", "collect-only"
            ),
            "testmon_nochange_over_collect_only_paired": paired("testmon-nochange", "collect-only"),
            "difftest_nochange_over_plain": ratio(med["difftest-nochange"], med["plain"]),
            "static_first_over_plain": ratio(med["static-first"], med["plain"]),
            "static_nochange_over_collect_only": ratio(med["static-nochange"], med["collect-only"]),
        },
    }


def bench_scale(venv: Venv, modules: int, per_file: int, reps: int) -> dict[str, Any]:
    """(c): selection after a one-file change on a generated suite of modules x per_file tests."""
    base = WORK / "scale"
    if base.exists():
        shutil.rmtree(base)
    trees = {
        name: gensuite.generate(base / name, modules, per_file) for name in ("difftest", "testmon")
    }
    total = modules * per_file
    cmds = _commands([])
    runner = _Runner(venv, base / "reports", timeout=5400)
    out: dict[str, Any] = {
        "tests": total,
        "modules": modules,
        "tests_per_file": per_file,
        "python": venv.version,
    }
    timings: dict[str, Timing] = {}

    def timed(label: str, tree: str, args: list[str], n: int, ok: tuple[int, ...] = (0, 5)) -> int:
        t = timings.setdefault(label, Timing(label, runner.cmd(args)))
        ran = -1
        for _ in range(n):
            secs, ran = runner(trees[tree], args, label, ok=ok)
            t.seconds.append(secs)
            log(f"  {label}: {secs:.2f} s, {ran} tests ran")
        return ran

    log(f"scale: {total} generated tests; warm-up collection")
    for name in trees:
        runner(trees[name], cmds["collect-only"], f"warm-up collect in {name}")
    ran: dict[str, int] = {}
    ran["collect-only"] = timed("collect-only", "difftest", cmds["collect-only"], reps)
    log("scale: difftest baseline (recording every test)")
    ran["difftest-baseline"] = timed("difftest-baseline", "difftest", cmds["difftest-baseline"], 1)
    log("scale: testmon baseline (recording every test)")
    ran["testmon-baseline"] = timed("testmon-baseline", "testmon", cmds["testmon"], 1)
    pristine = base / "testmondata.pristine"
    shutil.copy2(trees["testmon"] / ".testmondata", pristine)
    ran["difftest-nochange"] = timed("difftest-nochange", "difftest", cmds["difftest-diff"], reps)
    ran["testmon-nochange"] = timed("testmon-nochange", "testmon", cmds["testmon"], 1)

    module = modules // 2
    for tree in trees.values():
        out["changed_file"] = gensuite.change_one_function(tree, module)
    out["expected_selected"] = per_file // gensuite.FUNCTIONS
    ran["difftest-onefile"] = timed("difftest-onefile", "difftest", cmds["difftest-diff"], reps)
    for _ in range(reps):
        shutil.copy2(pristine, trees["testmon"] / ".testmondata")
        _remove_testmon_wal(trees["testmon"])
        ran["testmon-onefile"] = timed("testmon-onefile", "testmon", cmds["testmon"], 1)

    log("scale: the selection step alone (engine called directly)")
    db = trees["difftest"] / ".difftest" / "baseline.db"
    res = run(
        [venv.python, "-c", _SELECT_SCRIPT, str(trees["difftest"]), str(db), str(max(reps, 5))],
        cwd=trees["difftest"],
        timeout=1800,
        check=True,
        what="direct select()",
    )
    direct = json.loads(res.stdout.strip().splitlines()[-1])
    out["select_direct"] = {
        **direct,
        "select_median_seconds": round(median(direct["select_seconds"]), 4),
        "select_first_seconds": round(direct["select_seconds"][0], 4),
        "bare_select_median_seconds": round(median(direct["bare_select_seconds"]), 4),
        "code": (
            "select(b, CurrentState(FileHasher(root, b.stat_cache()), env,"
            " import_roots=b.import_roots()))"
        ),
        "bare_code": "select(b, CurrentState(FileHasher(root, b.stat_cache())))",
    }
    for name in trees:
        gensuite.restore_function(trees[name], module)
    out["tests_ran"] = ran
    out["timings"] = {k: t.as_dict() for k, t in timings.items()}
    med = {k: t.median for k, t in timings.items()}
    out["ratios"] = {
        "difftest_onefile_over_collect_only": ratio(med["difftest-onefile"], med["collect-only"]),
        "testmon_onefile_over_collect_only": ratio(med["testmon-onefile"], med["collect-only"]),
        "difftest_onefile_over_testmon_onefile": ratio(
            med["difftest-onefile"], med["testmon-onefile"]
        ),
    }
    db_size = db.stat().st_size if db.exists() else None
    tm_size = pristine.stat().st_size
    out["data_sizes_bytes"] = {"difftest": db_size, "testmon": tm_size}
    return out


def _remove_testmon_wal(root: Path) -> None:
    for suffix in ("-wal", "-shm"):
        (root / f".testmondata{suffix}").unlink(missing_ok=True)


def run_benchmark(
    pythons: list[str],
    projects: list[Project],
    *,
    reps: int,
    scale: tuple[int, int],
    scale_reps: int,
) -> dict[str, Any]:
    results: dict[str, Any] = {"overhead": [], "versions": {}}
    venvs: dict[str, Venv] = {}
    for version in pythons:
        venvs[version] = venv = make_venv(version)
        results["versions"][version] = venv.versions()
        for project in projects:
            results["overhead"].append(bench_project(venv, project, reps))
    modules, per_file = scale
    results["scale"] = bench_scale(venvs[pythons[0]], modules, per_file, scale_reps)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 project, 1 repeat, a 2,000-test generated suite"
    )
    parser.add_argument("--python", action="append", help="Python versions (default 3.12 and 3.11)")
    parser.add_argument("--out", type=Path, default=WORK / "perf.json")
    ns = parser.parse_args(argv)
    pythons = ns.python or ["3.12", "3.11"]
    projects = by_name(None)
    try:
        if ns.quick:
            results = run_benchmark(pythons, projects[:1], reps=1, scale=(20, 100), scale_reps=1)
        else:
            results = run_benchmark(pythons, projects, reps=3, scale=(500, 100), scale_reps=3)
    except BenchError as exc:
        print(f"performance benchmark failed: {exc}", file=sys.stderr)
        return 2
    ns.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2)[:5000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
