"""The plugin's rules under Pants' RuleRunner: the rule graph, the injected files, the plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest
from pants.backend.python import register as python_backend
from pants.backend.python.goals.pytest_runner import PytestPluginSetup
from pants.core import register as core
from pants.engine.addresses import Address
from pants.engine.fs import EMPTY_DIGEST
from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import RuleRunner

from difftest import artifact, register
from difftest.changes.blocks import parse_blocks
from difftest.changes.environment import VAR_PREFIX
from difftest.goals import DifftestAffected
from difftest.model import COLLECT_SUFFIX, ENV_BLOCK, Dependency, TestRecord, digest
from difftest.rules import (
    ENGINE_DIR,
    RECORDER_MODULE,
    STUB_DIST_INFO,
    STUB_MODULE,
    DifftestPlan,
    DifftestPlanRequest,
    DifftestPytestPluginSetupRequest,
    SandboxView,
    SandboxViewRequest,
    injected_files,
    stub_files,
)

ARGS = ["--python-infer-use-rust-parser", "--difftest-artifact=graph.json"]
LIB = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
TEST = "from lib.mod import f, g\n\n\ndef test_f():\n    assert f() == 1\n\n\ndef test_g():\n    assert g() == 2\n"


@pytest.fixture(scope="module")
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *core.rules(),
            *python_backend.rules(),
            *register.rules(),
            QueryRule(DifftestPlan, [DifftestPlanRequest]),
            QueryRule(SandboxView, [SandboxViewRequest]),
            QueryRule(PytestPluginSetup, [DifftestPytestPluginSetupRequest]),
        ],
        target_types=[*core.target_types(), *python_backend.target_types()],
    )
    runner.write_files(
        {
            "lib/BUILD": "python_sources()",
            "lib/mod.py": LIB,
            "tests/BUILD": "python_tests()",
            "tests/test_mod.py": TEST,
            "other/BUILD": "python_tests()",
            "other/test_other.py": "def test_other():\n    assert True\n",
        }
    )
    runner.set_options(ARGS)
    return runner


def _record(nodeid: str, lib_block: str) -> TestRecord:
    lib = parse_blocks(LIB.encode(), "lib/mod.py").by_name()
    test = parse_blocks(TEST.encode(), "tests/test_mod.py").by_name()
    deps = [
        Dependency("lib/mod.py", digest(LIB.encode()), "<module>", lib["<module>"].checksum),
        Dependency(
            "tests/test_mod.py", digest(TEST.encode()), "<module>", test["<module>"].checksum
        ),
    ]
    if lib_block:
        deps.append(
            Dependency("lib/mod.py", digest(LIB.encode()), lib_block, lib[lib_block].checksum)
        )
    return TestRecord(nodeid, "tests/test_mod.py", "passed", 0.0, tuple(deps))


def _write_records(
    rule_runner: RuleRunner,
    plan: DifftestPlan,
    fingerprint: str,
    extra: Mapping[str, Dependency] = {},
) -> None:
    """graph.json with records of both tests of tests/test_mod.py (test_f runs f, test_g g),
    ``extra`` adding a dependency to a test."""
    graph, _ = artifact.load("", "graph.json")
    artifact.update_structure(graph, plan.infos)
    recs = [
        _record("tests/test_mod.py" + COLLECT_SUFFIX, ""),
        _record("tests/test_mod.py::test_f", "f"),
        _record("tests/test_mod.py::test_g", "g"),
    ]
    recs = [replace(r, deps=(*r.deps, extra[r.nodeid])) if r.nodeid in extra else r for r in recs]
    rf = artifact.RecordFile(
        "tests/test_mod.py", ("tests/test_mod.py::test_f", "tests/test_mod.py::test_g"), tuple(recs)
    )
    artifact.replace_target_records(
        graph, "tests/test_mod.py", fingerprint, [rf], plan.env_for("tests/test_mod.py")
    )
    rule_runner.write_files({"graph.json": artifact.dump(graph)})


def test_injected_files_hold_the_engine_the_recorder_and_an_entry_point_stub() -> None:
    paths = [f.path for f in injected_files()]
    assert f"{ENGINE_DIR}/{RECORDER_MODULE}.py" in paths
    assert f"{ENGINE_DIR}/difftest/runners/pytest/recorder.py" in paths
    assert f"{ENGINE_DIR}/difftest/graph/modules.py" in paths
    assert "conftest.py" not in paths
    assert paths == sorted(paths)
    assert injected_files() == injected_files()
    stub = {f.path: f.content.decode() for f in stub_files("tests/python")}
    assert (
        f"[pytest11]\ndifftest_pants = {STUB_MODULE}\n"
        == (stub[f"tests/python/{STUB_DIST_INFO}/entry_points.txt"])
    )
    assert f"from {RECORDER_MODULE} import *" in stub[f"tests/python/{STUB_MODULE}.py"]
    assert {f.path for f in stub_files(".")} == {
        f"{STUB_MODULE}.py",
        f"{STUB_DIST_INFO}/METADATA",
        f"{STUB_DIST_INFO}/entry_points.txt",
    }
    # The recorder, which runs in the sandbox without this module, knows the same names.
    recorder = Path(__file__).with_name("sandbox_recorder.py").read_text()
    assert f'STUB_FILE = "{STUB_MODULE}.py"' in recorder
    assert f'STUB_DIST_INFO = "{STUB_DIST_INFO}"' in recorder


def test_plan_without_records_falls_back_and_with_records_selects_tests(
    rule_runner: RuleRunner,
) -> None:
    test_addr = Address("tests", relative_file_path="test_mod.py")
    other_addr = Address("other", relative_file_path="test_other.py")
    rule_runner.write_files({"graph.json": ""})  # no records (an empty artifact)
    plan = rule_runner.request(DifftestPlan, [DifftestPlanRequest((other_addr, test_addr))])
    assert [(d.address, d.run, d.fallback) for d in plan.decisions] == [
        ("other/test_other.py", True, True),
        ("tests/test_mod.py", True, True),
    ]
    fingerprint = {i.address: i.fingerprint for i in plan.infos}["tests/test_mod.py"]
    assert {i.address for i in plan.infos} >= {"lib/mod.py", "tests/test_mod.py"}

    # Record both tests of tests/test_mod.py, then edit g(): only test_g runs.
    _write_records(rule_runner, plan, fingerprint)

    plan = rule_runner.request(DifftestPlan, [DifftestPlanRequest((test_addr,))])
    (decision,) = plan.decisions
    assert not decision.run

    rule_runner.write_files({"lib/mod.py": LIB.replace("return 2", "return 3")})
    plan = rule_runner.request(DifftestPlan, [DifftestPlanRequest((test_addr,))])
    (decision,) = plan.decisions
    assert decision.run and decision.deselect == ("tests/test_mod.py::test_f",)
    assert [n for n, _ in decision.affected] == ["tests/test_mod.py::test_g"]

    # With --changed-since style candidates (all_tests), an unlisted target without records is
    # left to Pants' selection.
    plan = rule_runner.request(DifftestPlan, [DifftestPlanRequest((test_addr,), all_tests=True)])
    assert [(d.address, d.run) for d in plan.decisions] == [
        ("other/test_other.py", False),
        ("tests/test_mod.py", True),
    ]
    rule_runner.write_files({"lib/mod.py": LIB})


def test_difftest_affected_lists_tests_with_reasons_and_writes_the_spec_file(
    rule_runner: RuleRunner,
) -> None:
    test_addr = Address("tests", relative_file_path="test_mod.py")
    rule_runner.write_files({"graph.json": ""})
    plan = rule_runner.request(DifftestPlan, [DifftestPlanRequest((test_addr,))])
    _write_records(
        rule_runner, plan, {i.address: i.fingerprint for i in plan.infos}["tests/test_mod.py"]
    )
    args = [*ARGS, "--difftest-spec-file=out/affected.txt"]
    spec = Path(rule_runner.build_root, "out/affected.txt")
    rule_runner.write_files({"lib/mod.py": LIB.replace("return 2", "return 3")})
    try:
        result = rule_runner.run_goal_rule(DifftestAffected, global_args=args, args=["::"])
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines() == [
            "difftest: 2 python_test targets, 2 to run (1 without recorded data), 0 unaffected.",
            "  run   other/test_other.py: runs in full: no recorded data: falls back to Pants' "
            "dependency graph, which selects it",
            "  run   tests/test_mod.py: 1 of 2 recorded tests run (and any new test): "
            "changed: lib/mod.py::g changed",
            "        tests/test_mod.py::test_g: changed: lib/mod.py::g changed",
        ]
        assert "wrote 2 target addresses to out/affected.txt" in result.stderr
        assert spec.read_text() == "other/test_other.py\ntests/test_mod.py\n"

        # Nothing affected: an empty spec file (`pants --spec-files=FILE test` runs nothing).
        rule_runner.write_files({"lib/mod.py": LIB})
        result = rule_runner.run_goal_rule(DifftestAffected, global_args=args, args=["tests::"])
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines() == [
            "difftest: 1 python_test targets, 0 to run, 1 unaffected."
        ]
        assert "nothing is affected: wrote an empty out/affected.txt" in result.stderr
        assert spec.read_text() == ""
    finally:
        rule_runner.write_files({"lib/mod.py": LIB})
        rule_runner.set_options(ARGS)


def test_sandbox_view_has_the_closure_ancestor_inits_and_pytest_config(
    rule_runner: RuleRunner,
) -> None:
    # Last in this module: the files stay (a RuleRunner does not see deletions).
    rule_runner.write_files({"pytest.ini": "[pytest]\n", "lib/__init__.py": ""})
    view = rule_runner.request(
        SandboxView, [SandboxViewRequest(Address("tests", relative_file_path="test_mod.py"))]
    )
    assert view.files == ("lib/__init__.py", "lib/mod.py", "pytest.ini", "tests/test_mod.py")


def test_runs_measured_with_use_coverage_get_nothing_injected(rule_runner: RuleRunner) -> None:
    target = rule_runner.get_target(Address("tests", relative_file_path="test_mod.py"))
    request = DifftestPytestPluginSetupRequest(target)
    recorded = rule_runner.request(PytestPluginSetup, [request])
    assert recorded.digest != EMPTY_DIGEST
    rule_runner.set_options([*ARGS, "--test-use-coverage"])
    try:
        measured = rule_runner.request(PytestPluginSetup, [request])
    finally:
        rule_runner.set_options(ARGS)
    assert measured.digest == EMPTY_DIGEST


def test_the_test_goals_extra_environment_and_timeouts_count_as_pytest_configuration(
    rule_runner: RuleRunner,
) -> None:
    # Every test runs with them: a change re-runs every test that recorded the configuration.
    addr = Address("other", relative_file_path="test_other.py")
    rule_runner.write_files({"graph.json": ""})

    def configuration(*args: str) -> str:
        rule_runner.set_options([*ARGS, *args])
        plan = rule_runner.request(DifftestPlan, [DifftestPlanRequest((addr,))])
        return plan.env.pytest_config

    plain = configuration()
    assert configuration("--test-extra-env-vars=['APP_MODE=dev']") != plain
    assert configuration("--test-timeout-default=1") != plain
    assert configuration() == plain


def test_a_changed_value_of_a_passed_through_variable_selects_the_tests_that_read_it(
    rule_runner: RuleRunner,
) -> None:
    # `extra_env_vars=["APP_MODE"]` gives the tests Pants' own value of APP_MODE: the option's
    # text does not change with it, so the value itself must be part of the plan.
    addr = Address("tests", relative_file_path="test_mod.py")
    reads = Dependency(VAR_PREFIX + "APP_MODE", "", ENV_BLOCK, "")
    rule_runner.write_files({"graph.json": ""})

    def plan_with(env: dict[str, str], *args: str) -> DifftestPlan:
        rule_runner.set_options([*ARGS, *args], env=env)
        return rule_runner.request(DifftestPlan, [DifftestPlanRequest((addr,))])

    try:
        for option, build in (
            ("--test-extra-env-vars=['APP_MODE']", "python_tests()"),
            ("--subprocess-environment-env-vars=['APP_MODE']", "python_tests()"),  # any process
            ("--test-extra-env-vars=[]", "python_tests(extra_env_vars=['APP_MODE'])"),
        ):
            rule_runner.write_files({"tests/BUILD": build})
            plan = plan_with({"APP_MODE": "dev"}, option)
            fingerprint = {i.address: i.fingerprint for i in plan.infos}["tests/test_mod.py"]
            _write_records(rule_runner, plan, fingerprint, {"tests/test_mod.py::test_g": reads})
            assert not plan_with({"APP_MODE": "dev"}, option).decisions[0].run, option
            variables = dict(plan_with({"APP_MODE": "dev"}, option).env_for(str(addr)).variables)
            assert variables["APP_MODE"] != "unset" and "PATH" in variables
            for env, now in (({"APP_MODE": "prod"}, "changed"), ({}, "is now unset")):
                (decision,) = plan_with(env, option).decisions
                assert decision.run and decision.deselect == ("tests/test_mod.py::test_f",)
                assert decision.reasons == (f"changed: environment variable APP_MODE {now}",)
    finally:
        rule_runner.write_files({"tests/BUILD": "python_tests()", "graph.json": ""})
        rule_runner.set_options(ARGS)


def test_an_unreadable_artifact_runs_every_candidate_whatever_pants_selected(
    rule_runner: RuleRunner,
) -> None:
    # `--changed-since` makes every python_test target a candidate (all_tests) and Pants' own
    # selection the roots: with no usable records, all of them run, not only the roots.
    for text in ("{not json", ""):
        rule_runner.write_files({"graph.json": text})
        plan = rule_runner.request(DifftestPlan, [DifftestPlanRequest((), all_tests=True)])
        assert plan.decisions and all(d.run for d in plan.decisions), text
        assert any("Every given test target runs" in w for w in plan.warnings), text


def test_targets_sharing_a_test_file_always_run_since_their_records_cannot_be_told_apart(
    rule_runner: RuleRunner,
) -> None:
    rule_runner.write_files(
        {
            "graph.json": "",
            # As `parametrize` makes them: two targets, one file.
            "shared/BUILD": (
                "python_tests(name='a', sources=['test_backend.py'], extra_env_vars=['B=a'])\n"
                "python_tests(name='b', sources=['test_backend.py'], extra_env_vars=['B=b'])\n"
            ),
            "shared/test_backend.py": "def test_backend():\n    pass\n",
        }
    )
    plan = rule_runner.request(DifftestPlan, [DifftestPlanRequest((), all_tests=True)])
    shared = [d for d in plan.decisions if d.test_file == "shared/test_backend.py"]
    assert len(shared) == 2 and all(d.run for d in shared)
    assert all("their records cannot be told apart" in d.describe() for d in shared)


def test_a_pytest_config_file_below_the_root_counts_as_pytest_configuration(
    rule_runner: RuleRunner,
) -> None:
    # Pants hands pytest the config files of a test's directory and its parents.
    addr = Address("other", relative_file_path="test_other.py")
    rule_runner.write_files({"graph.json": ""})

    def configuration() -> str:
        return rule_runner.request(DifftestPlan, [DifftestPlanRequest((addr,))]).env.pytest_config

    plain = configuration()
    rule_runner.write_files({"tests/pytest.ini": "[pytest]\n"})
    nested = configuration()
    assert nested != plain
    rule_runner.write_files({"tests/pytest.ini": "[pytest]\nfilterwarnings = error\n"})
    assert configuration() not in (plain, nested)
