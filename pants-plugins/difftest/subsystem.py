"""The `[difftest]` options of the Pants plugin.

The options belong to the `difftest` goal (a goal and a subsystem cannot share a name in Pants),
so `pants help difftest` shows them; the recorder injected into `pants test` reads them too.
"""

from __future__ import annotations

from enum import Enum

from pants.engine.goal import GoalSubsystem
from pants.option.option_types import BoolOption, EnumOption, StrOption
from pants.util.strutil import softwrap

DEFAULT_ARTIFACT = ".difftest/pants-graph.json"
DEFAULT_SPEC_FILE = ".difftest/affected-targets.txt"


class NoRecordsPolicy(Enum):
    """What happens to a python_test target with no recorded data."""

    PANTS = "pants"
    RUN = "run"


class DifftestSubsystem(GoalSubsystem):
    name = "difftest"
    help = softwrap(
        """
        Run only the python_test targets a change can affect, and inside them only the affected
        tests; record what every test ran against (the recorded graph is `[difftest].artifact`).
        `pants difftest ::` records and selects; with `--changed-since=REF` every python_test
        target with records is considered (Pants' own selection decides only for targets without
        records). `pants difftest-affected ::` lists what is affected and why, and writes a spec
        file for `pants --spec-files=FILE test`.
        """
    )

    artifact = StrOption(
        default=DEFAULT_ARTIFACT,
        help=softwrap(
            f"""
            Build-root-relative path of the recorded graph (deterministic JSON: the targets, the
            tests they contain and what each test ran against). `pants difftest` reads it to
            select and rewrites it after each run. Pants ignores dot-directories: with the default
            `{DEFAULT_ARTIFACT}`, add `pants_ignore.add = ["!/.difftest/"]` to `[GLOBAL]`.
            """
        ),
        advanced=False,
    )
    record = BoolOption(
        default=True,
        help=softwrap(
            """
            Inject the difftest recorder (a copy of the difftest engine, loaded by pytest as a
            `pytest11` plugin, so a repository's own root `conftest.py` is recorded too) into
            the pytest sandbox of every python_test target, in `pants test` as in
            `pants difftest`. Each run then writes its records to `extra-output/difftest/`
            (replayed on local and remote cache hits). Turn off to leave pytest runs
            untouched: nothing new is recorded, `pants difftest` still decides from the records
            stored before (a target whose files changed since runs), and a selected target
            runs in full. Runs with
            `--test-use-coverage` are left untouched too (pytest-cov measures them, and
            coverage.py measures one way at a time): they record nothing, and the stored records
            stay as they were.
            """
        ),
    )
    select_tests = BoolOption(
        default=True,
        help=softwrap(
            """
            Inside a selected python_test target, run only the affected recorded tests (and any
            test with no record); the others are deselected. Off: a selected target runs in full.
            """
        ),
    )
    no_records = EnumOption(
        default=NoRecordsPolicy.PANTS,
        help=softwrap(
            """
            What `pants difftest` does with a python_test target that has no recorded data (never
            run under the plugin, or its records could not be read).
            `pants` (the default): fall back to Pants' own dependency graph: the target runs if it
            is among the target roots (`pants difftest ::` runs it; with `--changed-since` it runs
            if it is among Pants' changed targets and their dependents).
            `run`: run it whatever Pants' selection says.
            Targets with records are always decided from their records.
            """
        ),
    )
    spec_file = StrOption(
        default=DEFAULT_SPEC_FILE,
        help=softwrap(
            """
            Where `pants difftest-affected` writes the addresses of the affected python_test
            targets, one per line, for `pants --spec-files=FILE test` (an empty file runs
            nothing). Build-root-relative.
            """
        ),
    )
