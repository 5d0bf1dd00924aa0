"""``difftest explain NODEID``: would this test run now, and why (or why not)?

The answer comes from the same :func:`~difftest.selection.engine.select` call the pytest plugin
makes, against the files on disk under ``--root``.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from difftest.changes.environment import (
    CWD_KEY,
    DIST_PREFIX,
    DISTRIBUTIONS_KEY,
    PYTHON_KEY,
    SHADOW_PREFIX,
    SPAWN_ENVIRON_KEY,
    VAR_PREFIX,
    remember_environ,
)
from difftest.changes.scan import FileHasher
from difftest.changes.state import CurrentState
from difftest.cli.error_handler import EXIT_OK
from difftest.model import COLLECT_SUFFIX, ENV_PREFIX, TestRecord, block_of
from difftest.selection.engine import explain_key_change, select
from difftest.selection.importcheck import SubprocessImportCheck
from difftest.storage.baseline import ALWAYS_RUN_META, Baseline

#: Environment items this command values itself, as the pytest plugin does (variables from this
#: command's own environment: run it where pytest would run).
_COMPUTED = (DIST_PREFIX, SHADOW_PREFIX, DISTRIBUTIONS_KEY, VAR_PREFIX, SPAWN_ENVIRON_KEY, CWD_KEY)


def _front_end_values(baseline: Baseline, record: TestRecord) -> dict[str, str]:
    """Values for the environment items only the pytest plugin knows (its configuration, plugins).

    This command cannot compute them, so it takes them as recorded (this test's value, else
    one recorded value) and says so.
    """
    assumed: dict[str, str] = {}
    for _, key, value in sorted(baseline.versions()):
        if key.startswith(ENV_PREFIX) and key != PYTHON_KEY and not key.startswith(_COMPUTED):
            assumed.setdefault(key, value)
    assumed.update((dep.key, dep.version) for dep in record.deps if dep.key in assumed)
    return assumed


def _collection_changes(state: CurrentState, record: TestRecord) -> list[str]:
    recorded: dict[str, dict[str, str]] = {}
    for dep in record.deps:
        recorded.setdefault(dep.key, {})[dep.name] = dep.fingerprint
    return [
        line
        for key, blocks in sorted(recorded.items())
        for line in explain_key_change(state, key, blocks)
    ]


def _blocks(record: TestRecord) -> set[tuple[str, str]]:
    return {(dep.key, block_of(dep.name)) for dep in record.deps}


def explain_command(nodeid: str, db: Path, root: Path) -> int:
    # Variables count with their values now, here (not as an earlier run in this process, a
    # pytest session calling it, took them).
    remember_environ()
    with Baseline.open_existing(db) as baseline:
        record = baseline.record(nodeid)
        if record is None:
            print(f"{nodeid}: not recorded: it would run as a new test")
            known = [row[0] for row in baseline.tests()]
            close = difflib.get_close_matches(nodeid, known, n=3, cutoff=0.6)
            if close:
                print(f"  recorded tests with similar ids: {', '.join(close)}")
            return EXIT_OK
        assumed = _front_end_values(baseline, record)
        always = json.loads(baseline.meta().get(ALWAYS_RUN_META) or "{}")
        import_roots = baseline.import_roots()
        state = CurrentState(
            FileHasher(root, baseline.stat_cache()), env=assumed, import_roots=import_roots
        )
        check = SubprocessImportCheck(root, import_roots)
        selection = select(
            baseline,
            state,
            reason_limit=len(record.deps) + 1,
            importable=check,
            watch=check.watch,
        )
    count = f"{len(record.deps)} dependenc{'y' if len(record.deps) == 1 else 'ies'}"
    if nodeid.endswith(COLLECT_SUFFIX):
        changes = _collection_changes(state, record)
        if changes:
            print(f"{record.file}: collected: what importing it depends on changed")
            for line in changes:
                print(f"  - {line}")
        elif record.file in selection.files_to_collect:
            print(f"{record.file}: collected: a test in it is selected")
        else:
            print(
                f"{record.file}: not collected: none of its {count} changed and no test in it "
                "is selected"
            )
    elif nodeid in selection.affected:
        print(f"{nodeid}: selected")
        for reason in selection.affected[nodeid]:
            print(f"  - {reason}")
    elif nodeid in always.get(record.file, ()):
        print(f"{nodeid}: selected: it is marked diff_always, so it runs every time")
    else:
        narrowed = [c for key, name, c in selection.changed if (key, name) in _blocks(record)]
        if narrowed:
            print(
                f"{nodeid}: not selected: import-time code it depends on changed, but the code "
                "it ran does not refer to any name the change binds"
            )
            for change in narrowed:
                print(f"  - {change}")
        else:
            print(f"{nodeid}: not selected: none of its {count} changed")
    # A test's answer depends on its own items; whether a file is collected, on all of them.
    own = {dep.key for dep in record.deps}
    for key in sorted(k for k in assumed if k in own or nodeid.endswith(COLLECT_SUFFIX)):
        print(f"  note: {key} is compared by the pytest plugin, not here (taken as unchanged)")
    for warning in state.warnings:
        print(f"  warning: {warning}")
    return EXIT_OK
