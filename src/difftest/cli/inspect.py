"""``difftest inspect DB``: what a baseline holds, what one test depends on, who uses one file."""

from __future__ import annotations

import difflib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from difftest.cli.error_handler import EXIT_OK
from difftest.errors import DifftestError
from difftest.model import COLLECT_SUFFIX, DATA_BLOCK, ENV_PREFIX, SPAWN_BLOCK
from difftest.storage.baseline import COMMIT_META, Baseline


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _short(fingerprint: str) -> str:
    return fingerprint[:12]


def file_key(path: str, root: Path) -> str:
    """The baseline's key for ``path``: root-relative and POSIX (``<env>/`` keys pass through)."""
    if path.startswith(ENV_PREFIX):
        return path
    given = Path(path)
    if given.is_absolute():
        try:
            given = given.resolve().relative_to(root.resolve())
        except ValueError:
            return given.as_posix()
    key = given.as_posix()
    while key.startswith("./"):
        key = key[2:]
    return key


def summary(baseline: Baseline) -> dict[str, Any]:
    meta = baseline.meta()
    rows = baseline.tests()
    tests = [row for row in rows if not row[0].endswith(COLLECT_SUFFIX)]
    keys = {key for _, key, _ in baseline.versions()}
    files = [k for k in keys if not k.startswith(ENV_PREFIX)]
    return {
        "path": str(baseline.path),
        "format_version": int(meta.get("format_version", "0")),
        "created_at": meta.get("created_at"),
        "updated_at": meta.get("updated_at"),
        "commit": meta.get(COMMIT_META) or None,
        "tests": len(tests),
        "collection_records": len(rows) - len(tests),
        "test_files": len({row[1] for row in rows}),
        "files": len(files),
        "environment_items": len(keys) - len(files),
        "outcomes": dict(sorted(Counter(row[2] for row in tests).items())),
        "import_roots": baseline.import_roots(),
        "runtime_edges": len(baseline.edges()),
    }


def _print_summary(info: dict[str, Any]) -> None:
    outcomes = ", ".join(f"{name} {count}" for name, count in info["outcomes"].items())
    collection = info["collection_records"]
    lines = [
        ("baseline", info["path"]),
        ("format version", str(info["format_version"])),
        ("created", info["created_at"] or "unknown"),
        ("updated", info["updated_at"] or "unknown"),
        ("commit", info["commit"] or "unknown"),
        (
            "tests",
            f"{info['tests']} in {info['test_files']} test files"
            + (f" (+{collection} collection records)" if collection else ""),
        ),
        ("outcomes", outcomes or "none"),
        ("files tracked", f"{info['files']} (+{info['environment_items']} environment items)"),
        ("import roots", ", ".join(r or "." for r in info["import_roots"]) or "none recorded"),
        ("run-time edges", str(info["runtime_edges"])),
    ]
    for label, value in lines:
        print(f"{label + ':':<16}{value}")


def dependencies_of_test(baseline: Baseline, nodeid: str) -> dict[str, Any]:
    record = baseline.record(nodeid)
    if record is None:
        known = [row[0] for row in baseline.tests()]
        close = difflib.get_close_matches(nodeid, known, n=3, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise DifftestError(
            f"{baseline.path} has no record of {nodeid}: it has not run with difftest recording "
            f"(`pytest --diff-baseline`), or its id is spelled differently.{hint}"
        )
    files: dict[str, dict[str, Any]] = {}
    environment: dict[str, str] = {}
    for dep in record.deps:
        if dep.key.startswith(ENV_PREFIX):
            environment[dep.key[len(ENV_PREFIX) :]] = dep.version
        else:
            entry = files.setdefault(dep.key, {"version": dep.version, "blocks": {}})
            entry["blocks"][dep.name] = dep.fingerprint
    return {
        "nodeid": record.nodeid,
        "file": record.file,
        "outcome": record.outcome,
        "duration": record.duration,
        "recorded_at": _iso(baseline.recorded_at()[nodeid]),
        "files": files,
        "environment": environment,
    }


def _print_test(info: dict[str, Any]) -> None:
    files: dict[str, dict[str, Any]] = info["files"]
    blocks = sum(len(f["blocks"]) for f in files.values())
    print(info["nodeid"])
    print(f"  outcome {info['outcome']} in {info['duration']:.3f}s, recorded {info['recorded_at']}")
    print(f"  depends on {len(files)} files ({blocks} blocks):")
    for path, entry in sorted(files.items()):
        names: dict[str, str] = entry["blocks"]
        if list(names) == [DATA_BLOCK]:
            print(f"    {path}  (data file {_short(entry['version'])})")
            continue
        if list(names) == [SPAWN_BLOCK]:
            print(
                f"    {path}  (any change: not all the test ran was measured"
                f" {_short(entry['version'])})"
            )
            continue
        print(f"    {path}")
        for name, fingerprint in sorted(names.items()):
            print(f"      {name:<40} {_short(fingerprint)}")
    if info["environment"]:
        print("  environment:")
        for key, value in sorted(info["environment"].items()):
            print(f"    {key} = {value}")


def file_dependents(baseline: Baseline, key: str) -> dict[str, Any]:
    tests: dict[str, list[str]] = {}
    for nodeid, block, _ in baseline.dependents_of_key(key):
        tests.setdefault(nodeid, []).append(block)
    info: dict[str, Any] = {"file": key, "tests": tests}
    if not tests:
        known = sorted({k for _, k, _ in baseline.versions()})
        info["similar"] = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    return info


def _print_dependents(info: dict[str, Any]) -> None:
    tests: dict[str, list[str]] = info["tests"]
    if not tests:
        similar = info.get("similar") or []
        hint = f" (recorded files with similar names: {', '.join(similar)})" if similar else ""
        print(f"no recorded test depends on {info['file']}{hint}")
        return
    print(f"{len(tests)} recorded tests depend on {info['file']}:")
    for nodeid, blocks in sorted(tests.items()):
        print(f"  {nodeid}: {', '.join(blocks)}")


def inspect_command(
    db: Path, *, test: str | None, file: str | None, root: Path, as_json: bool
) -> int:
    with Baseline.open_existing(db) as baseline:
        if test is not None:
            info, show = dependencies_of_test(baseline, test), _print_test
        elif file is not None:
            info, show = file_dependents(baseline, file_key(file, root)), _print_dependents
        else:
            info, show = summary(baseline), _print_summary
    if as_json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        show(info)
    return EXIT_OK
