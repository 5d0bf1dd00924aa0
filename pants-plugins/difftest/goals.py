"""The `difftest` and `difftest-affected` goals."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from pants.backend.python.goals.pytest_runner import PyTestRequest
from pants.backend.python.subsystems.pytest import PythonTestFieldSet
from pants.base.build_environment import get_buildroot
from pants.core.goals.test import ShowOutput, TestFieldSet, TestRequest, TestResult, TestSubsystem
from pants.core.util_rules.environments import (
    ChosenLocalEnvironmentName,
    EnvironmentName,
    SingleEnvironmentNameRequest,
)
from pants.core.util_rules.partitions import Partitions
from pants.engine.console import Console
from pants.engine.fs import Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.internals.session import RunId
from pants.engine.process import ProcessResultMetadata
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule, rule
from pants.engine.target import (
    NoApplicableTargetsBehavior,
    TargetRootsToFieldSets,
    TargetRootsToFieldSetsRequest,
)
from pants.util.collections import partition_sequentially
from pants.util.logging import LogLevel
from pants.vcs.changed import Changed

from difftest import artifact
from difftest.artifact import RecordFile
from difftest.rules import (
    DifftestBatchRequest,
    DifftestBatchResult,
    DifftestPlan,
    DifftestPlanRequest,
    WorkspaceFile,
    WorkspaceFileRequest,
    select_json,
)
from difftest.subsystem import DifftestSubsystem

logger = logging.getLogger(__name__)

_SOURCE = {
    ProcessResultMetadata.Source.MEMOIZED: "memoized",
    ProcessResultMetadata.Source.RAN: "ran",
    ProcessResultMetadata.Source.HIT_LOCALLY: "cached locally",
    ProcessResultMetadata.Source.HIT_REMOTELY: "cached remotely",
}


class DifftestGoal(Goal):
    subsystem_cls = DifftestSubsystem
    environment_behavior = Goal.EnvironmentBehavior.USES_ENVIRONMENTS


class DifftestAffectedSubsystem(GoalSubsystem):
    name = "difftest-affected"
    help = (
        "List the python_test targets (and tests) a change affects, with the reasons, and write "
        "their addresses to `[difftest].spec_file` for `pants --spec-files=FILE test`."
    )


class DifftestAffected(Goal):
    subsystem_cls = DifftestAffectedSubsystem
    environment_behavior = Goal.EnvironmentBehavior.USES_ENVIRONMENTS


@dataclass(frozen=True)
class DifftestGoalPlanRequest:
    """The plan for the target roots of the goal named ``goal`` (with ``--changed-since``, every
    python_test target is a candidate)."""

    goal: str


@rule(desc="Decide which python_test targets difftest runs", level=LogLevel.DEBUG)
async def plan_for_goal(request: DifftestGoalPlanRequest, changed: Changed) -> DifftestPlan:
    """What both goals decide from: the python_test target roots, their records, the workspace."""
    roots_to_field_sets = await Get(
        TargetRootsToFieldSets,
        TargetRootsToFieldSetsRequest(
            TestFieldSet,
            goal_description=f"The `{request.goal}` goal",
            no_applicable_targets_behavior=NoApplicableTargetsBehavior.ignore,
        ),
    )
    roots = tuple(
        sorted(
            t.address for t in roots_to_field_sets.targets if PythonTestFieldSet.is_applicable(t)
        )
    )
    # With --changed-since, Pants' changed targets miss deleted files and files no target owns:
    # every python_test target is then a candidate, and the records decide.
    plan_request = DifftestPlanRequest(roots, all_tests=bool(changed.since or changed.diffspec))
    # The plan needs no environment (no process runs): passing one would be an error.
    return await Get(DifftestPlan, DifftestPlanRequest, plan_request)


def plan_lines(plan: DifftestPlan) -> list[str]:
    """The decisions as both goals print them: per target to run, its affected tests and why."""
    lines = [f"difftest: WARNING: {w}" for w in plan.warnings]
    run = [d for d in plan.decisions if d.run]
    fallback = [d for d in run if d.fallback]
    lines.append(
        f"difftest: {len(plan.decisions)} python_test targets, {len(run)} to run"
        + (f" ({len(fallback)} without recorded data)" if fallback else "")
        + f", {len(plan.decisions) - len(run)} unaffected."
    )
    for d in plan.decisions:
        if d.run:
            lines.append(f"  run   {d.address}: {d.describe()}")
            if d.deselect:
                for nodeid, reasons in d.affected:
                    lines.append(f"        {nodeid}: {'; '.join(reasons)}")
        elif d.fallback:
            lines.append(f"  skip  {d.address}: {d.describe()}")
    return lines


@goal_rule
async def run_difftest(
    console: Console,
    difftest: DifftestSubsystem,
    test_subsystem: TestSubsystem,
    workspace: Workspace,
    run_id: RunId,
    local_env: ChosenLocalEnvironmentName,
) -> DifftestGoal:
    plan = await Get(DifftestPlan, DifftestGoalPlanRequest("difftest"))
    for line in plan_lines(plan):
        console.print_stderr(line)
    if difftest.record and test_subsystem.use_coverage:
        console.print_stderr(
            "difftest: nothing is recorded with --test-use-coverage (pytest-cov measures these "
            "runs, and coverage.py measures one way at a time): targets run in full and keep "
            "their stored records. Run `pants difftest` without it to record."
        )

    selected = plan.selected()
    decision_of = {fs.address: d for fs, d in selected}
    results: tuple[TestResult, ...] = ()
    batch_results: tuple[DifftestBatchResult, ...] = ()
    if selected:
        partitions = await Get(
            Partitions,
            {
                PyTestRequest.PartitionRequest(
                    tuple(fs for fs, _ in selected)
                ): TestRequest.PartitionRequest,
                local_env.val: EnvironmentName,
            },
        )
        batches = [
            PyTestRequest.Batch(PyTestRequest.tool_name, tuple(batch), partition.metadata)
            for partition in partitions
            for batch in partition_sequentially(
                partition.elements,
                key=lambda x: str(x.address),
                size_target=test_subsystem.batch_size,
                size_max=2 * test_subsystem.batch_size,
            )
        ]
        environment_names = await MultiGet(
            Get(
                EnvironmentName,
                SingleEnvironmentNameRequest,
                SingleEnvironmentNameRequest.from_field_sets(batch.elements, batch.description),
            )
            for batch in batches
        )
        batch_results = await MultiGet(
            Get(
                DifftestBatchResult,
                {
                    DifftestBatchRequest(
                        batch, select_json(decision_of[fs.address] for fs in batch.elements)
                    ): DifftestBatchRequest,
                    env_name: EnvironmentName,
                },
            )
            for batch, env_name in zip(batches, environment_names)
        )
        results = tuple(r.result for r in batch_results)

    # Records from every result (also replayed from local and remote caches).
    record_files: dict[str, RecordFile] = {}
    for batch_result in batch_results:
        for path, text in batch_result.record_files:
            try:
                rf = artifact.parse_record_file(text, path)
            except (ValueError, KeyError, TypeError) as exc:
                console.print_stderr(f"difftest: WARNING: unreadable records {path}: {exc}")
                continue
            record_files[rf.file] = rf

    exit_code = 0
    if results:
        console.print_stderr("")
    for result in sorted(results):
        if result.exit_code is None or result.result_metadata is None:
            continue
        if result.exit_code != 0:
            exit_code = result.exit_code
        ok = result.exit_code == 0
        sigil = console.sigil_succeeded() if ok else console.sigil_failed()
        source = _SOURCE[result.result_metadata.source(run_id)]
        elapsed = (result.result_metadata.total_elapsed_ms or 0) / 1000
        for address in result.addresses:
            d = decision_of[address]
            rf = record_files.get(d.test_file)
            ran = ""
            if rf is not None:
                n = sum(1 for r in rf.records if not r.nodeid.endswith("::<collect>"))
                ran = f": {n} test{'s' * (n != 1)} ran"
                if d.deselect:
                    ran += f", {len(d.deselect)} deselected as unaffected"
            where = "" if source == "ran" else f" ({source})"
            console.print_stderr(
                f"{sigil} {address} {'succeeded' if ok else 'failed'} in {elapsed:.2f}s{where}{ran}."
            )
        # The test output, as `pants test` shows it (`[test].output`, "failed" by default).
        show = result.output_setting
        if show == ShowOutput.ALL or (show == ShowOutput.FAILED and not ok):
            output = "".join(f"\n{text}" for text in (result.stdout, result.stderr) if text)
            if output.strip():
                console.print_stderr(output.rstrip() + "\n")
    if not results:
        console.print_stderr("difftest: nothing to run.")

    # Write the graph back.
    graph, _ = artifact.load(plan.graph_text, difftest.artifact)
    artifact.update_structure(graph, plan.infos)
    fingerprints = {i.address: i.fingerprint for i in plan.infos}
    for _, d in selected:
        rf = record_files.get(d.test_file)
        if rf is not None:
            artifact.replace_target_records(
                graph, d.address, fingerprints[d.address], [rf], plan.env_for(d.address)
            )
    artifact.drop_targets(graph, plan.existing)
    text = artifact.dump(graph)
    on_disk = os.path.join(get_buildroot(), difftest.artifact)
    if not plan.graph_text and os.path.isfile(on_disk) and os.path.getsize(on_disk) > 0:
        # Pants could not read it (pants_ignore, dist/): writing would replace every target's
        # records with this run's.
        console.print_stderr(
            f"difftest: ERROR: {difftest.artifact} exists but Pants cannot read it (it is ignored: "
            "`pants_ignore`, or under `dist/`), so it was not overwritten and every test ran as "
            f"if nothing were recorded. Add `!/{difftest.artifact}` to [GLOBAL].pants_ignore.add, "
            "or set [difftest].artifact to a path Pants reads."
        )
        return DifftestGoal(exit_code=exit_code)
    if text != plan.graph_text:
        written = await Get(WorkspaceFile, WorkspaceFileRequest(difftest.artifact, text))
        workspace.write_digest(written.digest)
        tests = sum(1 for _, k in graph.nodes(data="kind") if k == "test")
        console.print_stderr(f"difftest: wrote {difftest.artifact} ({tests} test records).")
    return DifftestGoal(exit_code=exit_code)


@goal_rule
async def difftest_affected(
    console: Console,
    difftest: DifftestSubsystem,
    workspace: Workspace,
) -> DifftestAffected:
    plan = await Get(DifftestPlan, DifftestGoalPlanRequest("difftest-affected"))
    for line in plan_lines(plan):
        console.print_stdout(line)
    addresses = [d.address for d in plan.decisions if d.run]
    text = "".join(f"{a}\n" for a in addresses)
    written = await Get(WorkspaceFile, WorkspaceFileRequest(difftest.spec_file, text))
    workspace.write_digest(written.digest)
    command = f"`pants --spec-files={difftest.spec_file} test`"
    if addresses:
        n = len(addresses)
        console.print_stderr(
            f"difftest: wrote {n} target address{'es' * (n != 1)} to {difftest.spec_file}: "
            f"{command} runs {'them' if n != 1 else 'it'}."
        )
    else:
        console.print_stderr(
            f"difftest: nothing is affected: wrote an empty {difftest.spec_file} "
            f"({command} runs nothing)."
        )
    return DifftestAffected(exit_code=0)


def rules():
    return [*collect_rules(), *Changed.rules()]
