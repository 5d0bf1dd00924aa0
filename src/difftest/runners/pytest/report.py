"""What difftest says: one status line, warnings, and with ``--diff-v`` the reasons per test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from difftest.model import Reason
from difftest.runners.pytest.plan import RunPlan

NEW_TEST = Reason("new", "new test: no record yet")
ALWAYS_RUN = Reason("always", "always-run marker (@pytest.mark.diff_always)")


@dataclass
class Tally:
    """The counts behind the status line."""

    selected: list[tuple[str, list[Reason]]] = field(default_factory=list)
    deselected: int = 0
    #: Recorded test files skipped before import -> number of recorded tests in them.
    skipped_files: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.selected) + self.deselected + sum(self.skipped_files.values())

    @property
    def skipped_anything(self) -> bool:
        return self.deselected > 0 or bool(self.skipped_files)


def reasons_for(plan: RunPlan, nodeid: str, always: bool) -> list[Reason] | None:
    """Why a collected test runs, or None when difftest deselects it."""
    selection = plan.selection
    if selection.run_all is not None:
        return [selection.run_all]
    found = selection.affected.get(nodeid)
    if found is not None:
        return found
    if nodeid not in plan.recorded:
        return [NEW_TEST]
    if always:
        return [ALWAYS_RUN]
    return None


def status_lines(plan: RunPlan, tally: Tally) -> list[str]:
    """The status line (with the warnings before it)."""
    lines = [f"difftest: {note}" for note in plan.notes]
    lines.extend(f"difftest: warning: {w}" for w in plan.selection.warnings)
    selection = plan.selection
    what = selection.run_all.detail if selection.run_all is not None else selection.summary()
    kinds: dict[str, int] = {}
    for _nodeid, reasons in tally.selected:
        kind = reasons[0].kind if reasons else "changed"
        kinds[kind] = kinds.get(kind, 0) + 1
    extras = [
        f"{kinds[k]} {label}"
        for k, label in (
            ("new", "new"),
            ("unsettled", "failed last time"),
            ("always", "always-run"),
        )
        if kinds.get(k)
    ]
    counts = f"{len(tally.selected)} of {tally.total} tests selected"
    if extras and selection.run_all is None:
        counts += f" ({', '.join(extras)})"
    if plan.static:
        mode = " (static)" if plan.record else " (static, not saved)"
    else:
        mode = " (recording)" if plan.record else ""
    lines.append(f"difftest{mode}: {what}; {counts}")
    return lines


def verbose_lines(plan: RunPlan, tally: Tally) -> list[str]:
    """``--diff-v``: the baseline, each change, the skipped files, and why each test runs."""
    lines = [f"difftest: baseline {plan.db_path} ({plan.recorded_count} recorded tests)"]
    for _key, _name, text in plan.selection.changed:
        lines.append(f"difftest: changed: {text}")
    if tally.skipped_files:
        lines.append(
            f"difftest: {len(tally.skipped_files)} unaffected test files not collected: "
            + ", ".join(sorted(tally.skipped_files))
        )
    for nodeid, reasons in tally.selected:
        lines.append(f"difftest: selected {nodeid}")
        lines.extend(f"    {reason}" for reason in reasons)
    return lines


def tally_from_ids(plan: RunPlan, ids: Sequence[str], exists: Mapping[str, bool]) -> Tally:
    """The tally on the xdist controller, from the test ids a worker collected (and kept: a
    recorded, unaffected test among them can only be marked always-run)."""
    chosen = set(ids)
    tally = Tally()
    for nodeid in ids:
        tally.selected.append((nodeid, reasons_for(plan, nodeid, always=True) or []))
    for nodeid, file in plan.recorded.items():
        if nodeid not in chosen and exists.get(file, False):
            tally.deselected += 1
    return tally
