"""Run every benchmark and write bench/results.md and bench/results.json.

    python bench/run.py            # the full run
    python bench/run.py --quick    # a smoke check: fewer mutants, one project, one repeat

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mutation
import perf
import scenarios
from common import BENCH, REPO, BenchError, log, machine, make_venv, tree_digest
from projects import PROJECTS, by_name

#: Projects the timings (a) and (b) use; the mutation benchmark uses all of PROJECTS.
PERF_PROJECTS = ["more-itertools", "toolz", "boltons"]

TARGETS = {
    "difftest_safety_pct": 100.0,
    "selected_share_ratio": 1.25,
    "select_seconds_50k": 0.2,
    "baseline_over_plain_312": 1.2,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="difftest vs pytest-testmon: mutation safety, selectivity, speed"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke check: fewer mutants and repeats, small generated suite",
    )
    parser.add_argument(
        "--pythons",
        default="3.12,3.11",
        help="comma-separated Python versions (default 3.12,3.11; the first runs the mutants and the scale test)",
    )
    parser.add_argument("--seed", type=int, default=mutation.DEFAULT_SEED, help="mutant seed")
    parser.add_argument(
        "--jobs", type=int, default=3, help="pytest runs in parallel per mutant (default 3)"
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["mutation", "scenarios", "perf", "scale"],
        help="leave a part out (repeatable)",
    )
    parser.add_argument(
        "--out", type=Path, default=BENCH, help="folder of results.md/results.json (default bench/)"
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite results.md from the results.json in --out, running nothing",
    )
    ns = parser.parse_args(argv)
    if ns.render_only:
        results = json.loads((ns.out / "results.json").read_text())
        results["headline"] = headline(results)
        (ns.out / "results.md").write_text(render_markdown(results))
        return 0
    pythons = [p.strip() for p in ns.pythons.split(",") if p.strip()]

    started = time.time()
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if ns.quick else "full",
        "machine": machine(),
        "difftest_tree_digest": tree_digest(REPO / "src"),
        "seed": ns.seed,
        "targets": TARGETS,
        "durations_seconds": {},
        "load_average": {"start": _loadavg()},
        "notes": [],
        "errors": [],
    }
    try:
        venvs = {v: make_venv(v) for v in pythons}
        results["versions"] = {v: venv.versions() for v, venv in venvs.items()}
        main_venv = venvs[pythons[0]]

        if "mutation" not in ns.skip:
            t = time.time()
            projects = by_name(["more-itertools"]) if ns.quick else list(PROJECTS)
            try:
                results["mutation"] = mutation.run_benchmark(
                    main_venv, projects, quick=ns.quick, seed=ns.seed, jobs=ns.jobs
                )
            except BenchError as exc:
                results["errors"].append(f"mutation: {exc}")
                log(f"mutation benchmark failed: {exc}")
            results["durations_seconds"]["mutation"] = round(time.time() - t, 1)

        if "scenarios" not in ns.skip:
            t = time.time()
            try:
                results["scenarios"] = scenarios.run_all(main_venv)
            except BenchError as exc:
                results["errors"].append(f"scenarios: {exc}")
                log(f"scenarios failed: {exc}")
            results["durations_seconds"]["scenarios"] = round(time.time() - t, 1)

        if "perf" not in ns.skip:
            t = time.time()
            # 9, not 5: on a toolz run of half a second, this machine's drift moved the
            # ratio of 5-run medians between 1.5x and 1.9x for the same code.
            reps = 1 if ns.quick else 9
            overhead = []
            for version in pythons:
                for project in by_name(PERF_PROJECTS[:1] if ns.quick else PERF_PROJECTS):
                    try:
                        overhead.append(perf.bench_project(venvs[version], project, reps))
                    except BenchError as exc:
                        results["errors"].append(f"perf {project.name} on {version}: {exc}")
                        log(f"perf failed: {exc}")
            results["overhead"] = overhead
            results["durations_seconds"]["perf"] = round(time.time() - t, 1)

        if "scale" not in ns.skip:
            t = time.time()
            modules, per_file, reps = (20, 100, 1) if ns.quick else (500, 100, 3)
            try:
                results["scale"] = perf.bench_scale(main_venv, modules, per_file, reps)
            except BenchError as exc:
                results["errors"].append(f"scale: {exc}")
                log(f"scale benchmark failed: {exc}")
            results["durations_seconds"]["scale"] = round(time.time() - t, 1)
    except BenchError as exc:
        results["errors"].append(str(exc))
        log(f"benchmark failed: {exc}")
    except Exception:
        results["errors"].append(traceback.format_exc())
        raise
    finally:
        results["durations_seconds"]["total"] = round(time.time() - started, 1)
        results["load_average"]["end"] = _loadavg()
        results["headline"] = headline(results)
        ns.out.mkdir(parents=True, exist_ok=True)
        (ns.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (ns.out / "results.md").write_text(render_markdown(results))
        log(
            f"wrote {ns.out / 'results.md'} and results.json in {results['durations_seconds']['total']:.0f} s"
        )
    return 1 if results["errors"] else 0


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------- figures
def headline(results: dict[str, Any]) -> dict[str, Any]:
    h: dict[str, Any] = {}
    mut = results.get("mutation", {}).get("summary")
    if mut:
        h["mutants"] = mut["mutants"]
        h["mutants_valid"] = mut["valid"]
        h["mutants_killed"] = mut["killed"]
        for tool in mutation.TOOLS:
            h[f"{tool}_safety_pct"] = mut[tool]["safety_pct"]
            h[f"{tool}_safety_killed_pct"] = mut[tool]["safety_killed_pct"]
            h[f"{tool}_mean_selected_share"] = mut[tool]["mean_selected_share"]
        h["selected_share_ratio_difftest_over_testmon"] = mut[
            "selected_share_ratio_difftest_over_testmon"
        ]
    for entry in results.get("overhead", []):
        key = f"{entry['project'].split('==')[0]}@{entry['python']}"
        h[f"baseline_over_plain[{key}]"] = {
            "difftest": entry["ratios"]["difftest_baseline_over_plain"],
            "testmon": entry["ratios"]["testmon_baseline_over_plain"],
            "coverage.py alone": entry["ratios"].get("coverage_alone_over_plain"),
        }
        h[f"nochange_over_collect_only[{key}]"] = {
            "difftest": entry["ratios"]["difftest_nochange_over_collect_only"],
            "testmon": entry["ratios"]["testmon_nochange_over_collect_only"],
        }
    if results.get("scenarios"):
        for tool in mutation.TOOLS:
            h[f"{tool}_scenarios_safe"] = sum(
                1 for r in results["scenarios"] if not r[tool]["missed"]
            )
        h["scenarios"] = len(results["scenarios"])
    scale = results.get("scale")
    if scale:
        h["scale_tests"] = scale["tests"]
        h["select_seconds_median"] = scale["select_direct"]["select_median_seconds"]
        h["difftest_onefile_seconds"] = scale["timings"]["difftest-onefile"]["median"]
        h["testmon_onefile_seconds"] = scale["timings"]["testmon-onefile"]["median"]
        h["collect_only_seconds"] = scale["timings"]["collect-only"]["median"]
    return h


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}%"


def _share(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, unit: str = "") -> str:
    return "n/a" if x is None else f"{x:.3g}{unit}"


def render_markdown(results: dict[str, Any]) -> str:
    out: list[str] = []
    w = out.append
    w("# difftest benchmark results\n")
    w(
        f"Written by `python bench/run.py{' --quick' if results['mode'] == 'quick' else ''}` on {results['date']} "
        f"({results['mode']} run, {results['durations_seconds'].get('total', 0):.0f} s). "
        "See bench/README.md for what each figure means and how it is measured.\n"
    )
    m = results["machine"]
    w(
        f"Machine: {m['nproc']} CPUs, {m['platform']}. difftest source digest `{results['difftest_tree_digest']}`.\n"
    )
    if results.get("versions"):
        w("| Python venv | Python | pytest | coverage | pytest-testmon | difftest |")
        w("|---|---|---|---|---|---|")
        for v, ver in results["versions"].items():
            w(
                f"| {v} | {ver['python']} | {ver['pytest']} | {ver['coverage']} | {ver['pytest-testmon']} | {ver['difftest']} |"
            )
        w("")
    load = results.get("load_average")
    if load:
        w(
            f"Load average (1, 5, 15 min) at the start {load.get('start')}, at the end {load.get('end')}: "
            f"timings are only as clean as the machine was idle.\n"
        )
    for note in results.get("notes", []):
        w(f"- note: {note}")
    if results.get("notes"):
        w("")
    if results["errors"]:
        w("## Errors\n")
        for e in results["errors"]:
            w("```\n" + e.strip() + "\n```")
        w("")

    w("## Headline\n")
    w("| figure | difftest | pytest-testmon | target |")
    w("|---|---|---|---|")
    mut = results.get("mutation", {}).get("summary")
    if mut:
        w(
            f"| mutants where every failing test was selected ({mut['valid']} mutants, {mut['killed']} with failing tests) | "
            f"{_pct(mut['difftest']['safety_pct'])} | {_pct(mut['testmon']['safety_pct'])} | difftest 100% |"
        )
        w(
            f"| same, counting only mutants with failing tests | {_pct(mut['difftest']['safety_killed_pct'])} | {_pct(mut['testmon']['safety_killed_pct'])} | |"
        )
        w(
            f"| mean share of tests selected | {_share(mut['difftest']['mean_selected_share'])} | {_share(mut['testmon']['mean_selected_share'])} | |"
        )
        w(
            f"| ... for function-body mutants ({mut['function_body']}) | {_share(mut['difftest']['mean_selected_share_function_body'])} | {_share(mut['testmon']['mean_selected_share_function_body'])} | |"
        )
        w(
            f"| ... for import-time mutants ({mut['import_time']}) | {_share(mut['difftest']['mean_selected_share_import_time'])} | {_share(mut['testmon']['mean_selected_share_import_time'])} | |"
        )
        w(
            f"| ratio of mean selected share, difftest / testmon | {_num(mut['selected_share_ratio_difftest_over_testmon'])} | | ≤ 1.25 |"
        )
        w(
            f"| (mean share of tests that actually fail: the floor) | {_share(mut.get('mean_failing_share'))} | | |"
        )
    if results.get("scenarios"):
        sc = results["scenarios"]
        safe = {t: sum(1 for r in sc if not r[t]["missed"]) for t in mutation.TOOLS}
        w(
            f"| hand-written hard cases where every failing test was selected (of {len(sc)}) | "
            f"{safe['difftest']} | {safe['testmon']} | |"
        )
    # (label, difftest ratio, testmon ratio or None): one headline row per project and Python.
    overhead_rows = [
        (
            "baseline run / plain pytest",
            "difftest_baseline_over_plain",
            "testmon_baseline_over_plain",
        ),
        (
            "baseline run / plain pytest run just before it, median of the rounds",
            "difftest_baseline_over_plain_paired",
            "testmon_baseline_over_plain_paired",
        ),
        (
            "coverage.py alone (`coverage run -m pytest`, no contexts: the floor) / plain pytest",
            "coverage_alone_over_plain",
            None,
        ),
        (
            "coverage.py alone / plain pytest run just before it, median of the rounds",
            "coverage_alone_over_plain_paired",
            None,
        ),
        (
            "coverage.py started, measuring no file (`include` matches none) / plain pytest",
            "coverage_idle_over_plain",
            None,
        ),
        (
            "coverage.py measuring no file / plain pytest run just before it, median of the rounds",
            "coverage_idle_over_plain_paired",
            None,
        ),
        (
            "coverage.py started where difftest starts it (`-p bench_coverage_idle`), measuring "
            "no file / plain pytest",
            "coverage_idle_plugin_over_plain",
            None,
        ),
        (
            "coverage.py started where difftest starts it, measuring no file / plain pytest run "
            "just before it, median of the rounds",
            "coverage_idle_plugin_over_plain_paired",
            None,
        ),
        (
            "bare per-test line recorder on sys.monitoring, no coverage.py, nothing stored "
            "(`-p bench_lines_floor`, 3.12+) / plain pytest",
            "lines_floor_over_plain",
            None,
        ),
        (
            "bare per-test line recorder / plain pytest run just before it, median of the rounds",
            "lines_floor_over_plain_paired",
            None,
        ),
        (
            "baseline run / coverage.py alone",
            "difftest_baseline_over_coverage_alone",
            "testmon_baseline_over_coverage_alone",
        ),
        (
            "first `--diff-static` run (records, no coverage) / plain pytest",
            "static_first_over_plain",
            None,
        ),
        (
            "first `--diff-static` run / plain pytest run just before it, median of the rounds",
            "static_first_over_plain_paired",
            None,
        ),
        (
            "no-change run / `pytest --collect-only`",
            "difftest_nochange_over_collect_only",
            "testmon_nochange_over_collect_only",
        ),
        (
            "no-change run / `pytest --collect-only` run just before it, median of the rounds",
            "difftest_nochange_over_collect_only_paired",
            "testmon_nochange_over_collect_only_paired",
        ),
    ]
    for label, ours, peer in overhead_rows:
        for entry in results.get("overhead", []):
            r = entry["ratios"]
            if r.get(ours) is None:  # not timed in this run, or not on this Python
                continue
            name = f"{entry['project']}, Python {entry['python']}"
            theirs = f" {_num(r[peer], 'x')} " if peer else " "
            target = " "
            if ours.startswith("difftest_baseline_over_plain") and entry["python"] == "3.12":
                target = f" ≤ {TARGETS['baseline_over_plain_312']}x "
            elif "nochange_over_collect_only" in ours:
                target = " < 1x "
            w(f"| {label} ({name}) | {_num(r[ours], 'x')} |{theirs}|{target}|")
    scale = results.get("scale")
    if scale:
        sd = scale["select_direct"]
        t = scale["timings"]
        w(
            f"| {scale['tests']:,} tests, one function edited: selection step alone (`select()`, median) | {sd['select_median_seconds']:.3f} s | | ≤ 0.2 s |"
        )
        w(
            f"| {scale['tests']:,} tests, one function edited: end-to-end run (median) | {t['difftest-onefile']['median']:.2f} s | {t['testmon-onefile']['median']:.2f} s | |"
        )
        w(
            f"| ... tests run (expected {scale['expected_selected']}) | {scale['tests_ran']['difftest-onefile']} | {scale['tests_ran']['testmon-onefile']} | |"
        )
        w(
            f"| {scale['tests']:,} tests: `pytest --collect-only -q` for comparison | {t['collect-only']['median']:.2f} s | | |"
        )
    w("")

    if "mutation" in results:
        _render_mutation(results["mutation"], w)
    if results.get("scenarios"):
        _render_scenarios(results["scenarios"], w)
    if results.get("overhead"):
        _render_overhead(results["overhead"], w)
    if scale:
        _render_scale(scale, w)
    w("## Durations\n")
    for k, v in results["durations_seconds"].items():
        w(f"- {k}: {v:.0f} s")
    w("")
    return "\n".join(out)


def _render_mutation(res: dict[str, Any], w: Any) -> None:
    w(f"## Mutation safety and selectivity (seed {res['seed']}, Python {res['python']})\n")
    unsafe: list[tuple[str, dict[str, Any]]] = []
    for proj in res["projects"].values():
        s = proj["summary"]
        w(
            f"### {proj['spec']}: {proj['tests']} tests, {s['mutants']} mutants ({s['import_time']} import-time, {s['function_body']} function-body), {s['killed']} with failing tests\n"
        )
        w(f"{proj['why']}.\n")
        for note in proj["notes"]:
            w(f"- note: {note}")
        w(
            f"- safety: difftest {_pct(s['difftest']['safety_pct'])}, testmon {_pct(s['testmon']['safety_pct'])}; "
            f"mean selected: difftest {_share(s['difftest']['mean_selected_share'])}, testmon {_share(s['testmon']['mean_selected_share'])} "
            f"(ratio {_num(s['selected_share_ratio_difftest_over_testmon'])})\n"
        )
        w("| mutant | edit | failing | difftest ran | testmon ran |")
        w("|---|---|---|---|---|")
        for r in proj["mutants"]:
            if r["status"] != "ok":
                w(f"| {r['id']} | {r['description']} | excluded: {r['why']} | | |")
                continue
            cells = []
            for tool in mutation.TOOLS:
                e = r[tool]
                cell = str(e["selected"])
                if e.get("error"):
                    cell += f" (error: {e['error']})"
                if e["missed"]:
                    cell += f" **MISSED {len(e['missed'])}**"
                    unsafe.append((tool, r))
                if e.get("baseline_changed_by_diff"):
                    cell += " (baseline file bytes changed by --diff)"
                if e.get("flaky_not_counted"):
                    cell += f" (flaky, not counted: {len(e['flaky_not_counted'])})"
                cells.append(cell)
            fail = str(len(r["failing"])) + (
                f" + {len(r['collect_errors'])} collection errors" if r["collect_errors"] else ""
            )
            desc = r["description"].replace("|", "\\|")
            w(f"| {r['id']} | {desc} | {fail} | {cells[0]} | {cells[1]} |")
        w("")
    w("### Unsafe mutants\n")
    if not unsafe:
        w("None: every test that failed in the full run was selected by both tools.\n")
    for tool, r in unsafe:
        e = r[tool]
        w(
            f"- **{tool}** missed {len(e['missed'])} failing test(s) on {r['id']}: {r['description']}"
        )
        for t in e["missed"][:20]:
            w(f"  - `{t}`")
        if e.get("output_tail"):
            w(
                "  <details><summary>tool output (tail)</summary>\n\n```\n"
                + e["output_tail"]
                + "\n```\n</details>"
            )
    w("")
    cmds = next(iter(res["projects"].values()))["commands"] if res["projects"] else {}
    if cmds:
        w("Commands (per project tree; the venv's python):\n")
        for k, v in cmds.items():
            w(f"- {k}: `{v}`")
        w("")


def _render_scenarios(records: list[dict[str, Any]], w: Any) -> None:
    w("## Hand-written hard cases (scenarios.py)\n")
    w(
        "One tiny project each: baseline, one edit, then the full run, `pytest --diff` and `pytest --testmon`.\n"
    )
    w("| scenario | edit | failing | difftest | testmon |")
    w("|---|---|---|---|---|")
    for r in records:
        cells = []
        for tool in mutation.TOOLS:
            e = r[tool]
            missed = e["missed"]
            cells.append(
                f"**MISSED** {', '.join(missed)}" if missed else f"safe (ran {len(e['ran'])})"
            )
        edit = r["edit"].replace("|", "\\|")
        w(
            f"| {r['name']}: {r['what']} | `{edit}` | {', '.join(r['failing'])} | {cells[0]} | {cells[1]} |"
        )
    w("")


def _render_overhead(entries: list[dict[str, Any]], w: Any) -> None:
    w("## Recording overhead and no-change runs (medians, seconds)\n")
    w(
        "| project | Python | plain | bare line recorder | coverage.py idle, started by a plugin | coverage.py measuring nothing | coverage.py alone | difftest baseline | testmon baseline | collect-only | difftest no-change | testmon no-change | `--diff-static` first | `--diff-static` no change |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for e in entries:
        t = e["timings"]
        cols = [
            "plain",
            "lines-floor",
            "coverage-idle-plugin",
            "coverage-idle",
            "coverage-alone",
            "difftest-baseline",
            "testmon-baseline",
            "collect-only",
            "difftest-nochange",
            "testmon-nochange",
            "static-first",
            "static-nochange",
        ]
        w(
            f"| {e['project']} | {e['python']} | "
            + " | ".join(f"{t[c]['median']:.2f}" if c in t else "-" for c in cols)
            + " |"
        )
    w("\nRaw timings:\n")
    for e in entries:
        for k, t in e["timings"].items():
            w(
                f"- {e['project']} / {e['python']} / {k}: {t['seconds']} (`{t['cmd']}`; {e['tests_ran'].get(k, '?')} tests ran)"
            )
    w("")


def _render_scale(s: dict[str, Any], w: Any) -> None:
    w(
        f"## Selection at scale: {s['tests']:,} generated tests ({s['modules']} modules x {s['tests_per_file']} tests), Python {s['python']}\n"
    )
    w(
        f"Changed: one function body in `{s['changed_file']}` ({s['expected_selected']} tests call it).\n"
    )
    sd = s["select_direct"]
    w(
        f"- `{sd['code']}` (env = the recorded {', '.join(sd['front_end_env'])} values, as the plugin passes them): "
        f"median {sd['select_median_seconds']:.4f} s, first call {sd['select_first_seconds']:.4f} s "
        f"(all: {[round(x, 4) for x in sd['select_seconds']]}); opening the baseline {sd['open_seconds']:.4f} s; "
        f"{sd['affected']} tests affected of {sd['recorded_tests']} records; changed: {sd['changed']}"
    )
    w(
        f"- bare `{sd['bare_code']}`: median {sd['bare_select_median_seconds']:.4f} s "
        f"(all: {[round(x, 4) for x in sd['bare_select_seconds']]}); {sd['bare_affected']} tests affected "
        f"(without the plugin's values the pytest configuration reads as changed); changed: {sd['bare_changed']}"
    )
    w(
        f"- data sizes: difftest baseline {s['data_sizes_bytes']['difftest']:,} bytes, .testmondata {s['data_sizes_bytes']['testmon']:,} bytes"
    )
    for k, t in s["timings"].items():
        w(
            f"- {k}: {t['seconds']} s (median {t['median']:.2f}; {s['tests_ran'].get(k, '?')} tests ran; `{t['cmd']}`)"
        )
    w("")


if __name__ == "__main__":
    raise SystemExit(main())
