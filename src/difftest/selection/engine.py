"""The decision: which recorded tests ran against something that is different now, and why.

The front end passes in the stored records (anything with the :class:`RecordIndex` methods, such
as :class:`difftest.storage.baseline.Baseline`) and the current state. Only the versions that
differ from now are looked at, so a small change is answered without reading every record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from difftest.changes.environment import (
    CWD_KEY,
    DISTRIBUTIONS_KEY,
    OPTION_PREFIX,
    PYTHON_KEY,
    SOURCE_PREFIX,
    SPAWN_ENVIRON_KEY,
    VAR_PREFIX,
    describe_python_change,
    describe_spawn_environ_change,
)
from difftest.changes.scan import extensions_dir, listed_dir
from difftest.changes.state import UNPARSEABLE, CurrentState
from difftest.model import (
    ABSENT,
    COLLECT_SUFFIX,
    DANGLING_PREFIX,
    DATA_BLOCK,
    DIRECTORY,
    ENV_BLOCK,
    ENV_PREFIX,
    MODULE_BLOCK,
    NO_EXTENSIONS,
    SPAWN_BLOCK,
    Reason,
    block_of,
)

if TYPE_CHECKING:
    from difftest.changes.names import NameFacts
    from difftest.selection.narrowing import ImportCheck, WatchCheck


class RecordIndex(Protocol):
    def is_empty(self) -> bool: ...
    def versions(self) -> list[tuple[int, str, str]]: ...
    def deps_of_versions(self, version_ids: Sequence[int]) -> list[tuple[int, int, str, str]]: ...
    def names_of_versions(self, version_ids: Sequence[int]) -> dict[int, str]: ...
    def tests_of_depsets(self, depset_ids: Sequence[int]) -> list[tuple[str, str, int]]: ...
    def unsettled_tests(self) -> list[tuple[str, str, str]]: ...
    def test_files(self) -> dict[str, int]: ...


@dataclass
class Selection:
    """What must run. Recorded tests not in ``affected`` are safe to skip; tests with no record
    (new tests, files never recorded) always run."""

    run_all: Reason | None = None
    affected: dict[str, list[Reason]] = field(default_factory=dict)
    #: Recorded test files, with their number of records (collection pseudo-tests included).
    recorded_files: dict[str, int] = field(default_factory=dict)
    #: Recorded test files that must be collected: an affected or unsettled test lives there.
    files_to_collect: set[str] = field(default_factory=set)
    #: (key, block name, why) for every changed thing some recorded test depends on.
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def must_collect(self, path: str) -> bool:
        return (
            self.run_all is not None
            or path not in self.recorded_files
            or path in self.files_to_collect
        )

    def changed_files(self) -> set[str]:
        return {key for key, _, _ in self.changed}

    def summary(self) -> str:
        """e.g. "3 changed blocks in 2 files" (environment items counted apart)."""
        files = {k for k, _, _ in self.changed if not k.startswith(ENV_PREFIX)}
        blocks = [c for c in self.changed if not c[0].startswith(ENV_PREFIX)]
        env = sorted({k[len(ENV_PREFIX) :] for k, _, _ in self.changed if k.startswith(ENV_PREFIX)})
        parts = [
            f"{len(blocks)} changed block{'s' * (len(blocks) != 1)} in {len(files)} file{'s' * (len(files) != 1)}"
        ]
        if env:
            parts.append("environment changed: " + ", ".join(env))
        return "; ".join(parts)


def _describe(key: str, name: str, now: str, was: str = "") -> str:
    if key.startswith(VAR_PREFIX):
        variable = key[len(VAR_PREFIX) :]
        if now == "unset" or was == "unset":
            return f"environment variable {variable} is now {'unset' if now == 'unset' else 'set'}"
        return f"environment variable {variable} changed"
    if key.startswith(OPTION_PREFIX):
        option = key[len(OPTION_PREFIX) :]
        if now == "absent":
            return f"pytest option {option} is no longer registered"
        return f"pytest option {option} changed"
    if key.startswith(SOURCE_PREFIX):
        module = key[len(SOURCE_PREFIX) :]
        if now == ABSENT:
            return f"module {module} (imported from outside the project) can no longer be found"
        if now == "installed":
            return f"module {module} is now imported from an installation, not from sources"
        return (
            f"module {module}, imported from sources outside the project (an editable install,"
            f" a pythonpath entry, a build directory), changed: now {now.partition(':')[0]}"
        )
    if key == DISTRIBUTIONS_KEY:
        count = now.partition(" ")[0]
        return (
            f"the installed distributions changed (now {count}): the test looked through all"
            " of them (entry points, plugin discovery)"
        )
    if key == PYTHON_KEY:
        return describe_python_change(was, now)
    if key == SPAWN_ENVIRON_KEY:
        return describe_spawn_environ_change(was, now)
    if key == CWD_KEY:
        return (
            f"pytest now starts in {now!r}, not {was!r} (relative to the root): a relative path"
            " the test opens or lists names another file"
        )
    if key.startswith(ENV_PREFIX) or name == ENV_BLOCK:
        return f"{key[len(ENV_PREFIX) :]} is now {now}"
    if name == DATA_BLOCK:
        directory = extensions_dir(key)
        if directory is not None:
            where = directory or "."
            if now == ABSENT:
                return f"directory {where} was deleted"
            if now == NO_EXTENSIONS:
                return f"extension modules in {where} were removed ({was})"
            return (
                f"extension modules in {where} are now {now} (one imports before a .py of the"
                " same name, or where an import failed)"
            )
        directory = listed_dir(key)
        if directory is not None:
            where = f"directory {directory or '.'}"
            return f"{where} " + ("was deleted" if now == ABSENT else "gained or lost files")
        if now == DIRECTORY:
            return f"directory {key} was created" if was == ABSENT else f"{key} is now a directory"
        if now.startswith(DANGLING_PREFIX):
            return f"dangling link {key} " + ("was created" if was == ABSENT else "changed")
        if was == DIRECTORY:
            return f"directory {key} " + ("was deleted" if now == ABSENT else "is now a file")
        if was == ABSENT:
            return f"file {key} was created"
        return f"file {key} " + ("was deleted" if now == ABSENT else "changed")
    if name == SPAWN_BLOCK:
        return (
            f"file {key} "
            + ("was deleted" if now == ABSENT else "changed")
            + " (not all the test ran was measured: it started a process, or another"
            " coverage.py measurement or trace function held difftest's off)"
        )
    if now == UNPARSEABLE:
        return f"{key} does not parse (every test that used it runs)"
    name = block_of(name)
    if now == ABSENT:
        return f"{key}::{name} was removed" + (" (file deleted)" if name == "<module>" else "")
    return f"{key}::{name} changed"


def _import_time(state: CurrentState, key: str, name: str, was: str, now: str) -> bool:
    """Whether a changed dependency is an import-time block of a Python file that still parses."""
    if not key.endswith(".py") or {was, now} & {ABSENT, UNPARSEABLE}:
        return False
    if name == MODULE_BLOCK:
        return True
    blocks = state.blocks(key)
    block = blocks.by_name().get(name) if blocks is not None else None
    return block is not None and block.kind == "class"


def select(
    index: RecordIndex,
    state: CurrentState,
    *,
    reason_limit: int = 5,
    importable: ImportCheck | None = None,
    watch: WatchCheck | None = None,
    env_reasons: Mapping[tuple[str, str], str] | None = None,
) -> Selection:
    """Compare what each recorded test ran against with ``state``.

    ``env_reasons``: what the front end knows of why an environment item changed from a
    recorded value, ``(key, recorded value) -> why`` (what in the pytest configuration).

    With ``importable`` (see :mod:`difftest.selection.narrowing`), a change to import-time code
    selects only the importers that can see it; without it, every importer. ``watch`` tells
    what functions that import modules by name did at import time; without it, they count as
    seeing every change."""
    selection = Selection()
    if index.is_empty():
        selection.run_all = Reason("no-baseline", "no recorded tests yet: everything runs")
        return selection
    selection.recorded_files = index.test_files()

    versions = index.versions()
    stale: dict[int, str] = {}
    for version_id, key, recorded in versions:
        if state.version(key) != recorded:
            stale[version_id] = key

    depset_reasons: dict[int, list[Reason]] = {}
    seen_changes: set[tuple[str, str]] = set()
    #: (version id, block) -> (why, depsets) of import-time changes awaiting narrowing
    deferred: dict[tuple[int, str], tuple[str, list[int]]] = {}

    def add(depset_id: int, text: str) -> None:
        reasons = depset_reasons.setdefault(depset_id, [])
        if len(reasons) < reason_limit:
            reasons.append(Reason("changed", text))

    if stale:
        for depset_id, version_id, name, fingerprint in index.deps_of_versions(sorted(stale)):
            key = stale[version_id]
            now = state.fingerprint(key, name)
            if now == fingerprint:
                continue
            text = (env_reasons or {}).get((key, fingerprint)) or _describe(
                key, name, now, fingerprint
            )
            block = block_of(name)  # `@f` (run at import time) and `f` are one block
            if (key, block) not in seen_changes:
                seen_changes.add((key, block))
                selection.changed.append((key, block, text))
            if importable is not None and _import_time(state, key, name, fingerprint, now):
                deferred.setdefault((version_id, name), (text, []))[1].append(depset_id)
            else:
                add(depset_id, text)
    selection.changed.sort()

    if deferred:
        # Imported here: only a run with import-time changes narrows them.
        from difftest.changes.names import NameFacts
        from difftest.selection.narrowing import narrow

        vids = sorted({vid for vid, _ in deferred})
        python = [vid for vid, key, _ in versions if key.endswith(".py")]
        stored: dict[int, NameFacts] = {}
        for vid, text in index.names_of_versions(python).items():
            try:
                stored[vid] = NameFacts.from_json(text)
            except (ValueError, KeyError, TypeError):
                continue  # unreadable facts: that version is judged as if it had none
        assert importable is not None
        narrowed = narrow(
            {vid: stale[vid] for vid in vids},
            stored,
            versions,
            state.names,
            set(stale.values()),
            index.deps_of_versions,
            importable,
            watch,
        )
        state.warnings.extend(narrowed.warnings)
        # A test whose code is not Python (a text file's doctest) mentions names no analysis
        # sees: narrowing cannot leave it out.
        opaque = {
            depset_id: file
            for _nodeid, file, depset_id in index.tests_of_depsets(
                sorted({d for _text, depsets in deferred.values() for d in depsets})
            )
            if not file.endswith(".py")
        }
        for (vid, _name), (text, depsets) in deferred.items():
            verdict = narrowed.verdicts.get(vid)
            for depset_id in depsets:
                if verdict is None:
                    add(depset_id, text)
                elif depset_id in verdict:
                    add(depset_id, f"{text}: {verdict[depset_id]}")
                elif depset_id in opaque:
                    add(
                        depset_id, f"{text}: {opaque[depset_id]} is no Python whose names are known"
                    )

    # A changed test file may hold new tests, which only collecting it finds (an edit that only
    # adds a test function selects none of the file's recorded tests).
    selection.files_to_collect.update(
        key for key in stale.values() if key in selection.recorded_files
    )
    if depset_reasons:
        for nodeid, file, depset_id in index.tests_of_depsets(sorted(depset_reasons)):
            selection.files_to_collect.add(file)
            if not nodeid.endswith(COLLECT_SUFFIX):
                selection.affected[nodeid] = list(depset_reasons[depset_id])
    for nodeid, file, outcome in index.unsettled_tests():
        selection.files_to_collect.add(file)
        if not nodeid.endswith(COLLECT_SUFFIX):
            selection.affected.setdefault(nodeid, []).append(
                Reason("unsettled", f"last outcome was {outcome}: it runs until it passes")
            )
    selection.warnings = list(state.warnings)
    return selection


def explain_key_change(state: CurrentState, key: str, recorded: Mapping[str, str]) -> list[str]:
    """Human lines for each block of ``key`` whose fingerprint differs from ``recorded``."""
    return [
        _describe(key, name, now, fp)
        for name, fp in sorted(recorded.items())
        if (now := state.fingerprint(key, name)) != fp
    ]
