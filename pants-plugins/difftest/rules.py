"""The plugin's rules: recording inside pytest sandboxes, the selection plan, running a batch.

- :class:`DifftestPytestPluginSetupRequest` injects the recorder into every python_test sandbox
  (a copy of the difftest engine and the recorder under ``.difftest/pants/engine/``, loaded by
  pytest through a ``pytest11`` entry point of a stub distribution in the test's source root).
- :func:`plan_difftest` loads the recorded graph, asks Pants for each candidate target's
  dependency closure, reads the current content of every file the records name, and decides per
  target with the engine's ``select()``.
- :func:`run_difftest_batch` runs one batch of selected targets the way Pants' pytest runner
  does, with the per-test deselection file added to the sandbox when some tests are unaffected.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pants.backend.python.goals.pytest_runner import (
    PytestPluginSetup,
    PytestPluginSetupRequest,
    PyTestRequest,
    TestSetup,
    TestSetupRequest,
)
from pants.backend.python.subsystems.pytest import PyTest, PythonTestFieldSet
from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.target_types import PythonRequirementsField, PythonTestSourceField
from pants.backend.python.util_rules.ancestor_files import AncestorFiles, AncestorFilesRequest
from pants.backend.python.util_rules.pex_environment import PexEnvironment
from pants.core.goals.test import TestExtraEnv, TestResult, TestSubsystem
from pants.core.util_rules.config_files import ConfigFiles, ConfigFilesRequest
from pants.core.util_rules.environments import EnvironmentName, SingleEnvironmentNameRequest
from pants.core.util_rules.subprocess_environment import SubprocessEnvironment
from pants.engine.addresses import Address, Addresses
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import (
    EMPTY_DIGEST,
    CreateDigest,
    Digest,
    DigestContents,
    DigestSubset,
    FileContent,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
    Snapshot,
)
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    AllTargets,
    Dependencies,
    DependenciesRequest,
    SourcesField,
    SourcesPaths,
    SourcesPathsRequest,
    Target,
    TransitiveTargets,
    TransitiveTargetsRequest,
)
from pants.engine.unions import UnionRule
from pants.source.source_root import SourceRoot, SourceRootRequest
from pants.util.logging import LogLevel
from pants.util.memo import memoized

from difftest import artifact
from difftest.artifact import Decision, EnvSnapshot, TargetInfo
from difftest.changes.environment import value_of_var
from difftest.model import digest
from difftest.subsystem import DifftestSubsystem, NoRecordsPolicy

#: Sandbox directory of everything the plugin injects (difftest never records files under
#: `.difftest/`, so the engine copy and the selection file are invisible to the records).
SANDBOX_DIR = ".difftest/pants"
ENGINE_DIR = f"{SANDBOX_DIR}/engine"
SELECT_FILE = f"{SANDBOX_DIR}/select.json"
#: Per target of a batch: which sandbox root entries are the target's (``<safe>.json``).
TARGETS_DIR = f"{SANDBOX_DIR}/targets"
#: The recorder (``sandbox_recorder.py``), importable once the engine directory is on sys.path.
RECORDER_MODULE = "difftest_pants_sandbox"
#: The stub module pytest loads through a ``pytest11`` entry point, and its distribution's
#: metadata; both go in the test's source root (on sys.path in the sandbox).
STUB_MODULE = "_difftest_pants_recorder"
STUB_DIST_INFO = f"{STUB_MODULE}-0.dist-info"
#: Where the recorder writes, inside Pants' `extra-output/` (TestResult.extra_output).
OUTPUT_DIR = "difftest"
_EXTRA_OUTPUT_DIR = "extra-output"
#: Root files whose pytest settings make the `<env>/pytest-config` value.
PYTEST_CONFIG_FILES = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini")

_STUB_SOURCE = f'''"""Injected by the difftest Pants plugin: pytest loads it through a pytest11 entry point.

It puts the difftest engine ({ENGINE_DIR}/ under the sandbox root) on sys.path and
re-exports the hooks of the recorder there ({RECORDER_MODULE}).
"""

import os
import sys


def _engine():
    here = os.path.dirname(os.path.abspath(__file__))
    while True:
        candidate = os.path.join(here, *"{ENGINE_DIR}".split("/"))
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            raise ImportError("difftest: the injected engine ({ENGINE_DIR}) is missing")
        here = parent


if _engine() not in sys.path:
    sys.path.insert(0, _engine())

from {RECORDER_MODULE} import *  # noqa: E402,F401,F403
'''
_STUB_METADATA = f"Metadata-Version: 2.1\nName: {STUB_MODULE}\nVersion: 0\n"
_STUB_ENTRY_POINTS = f"[pytest11]\ndifftest_pants = {STUB_MODULE}\n"


# --------------------------------------------------------------------------- injection
@memoized
def injected_files() -> tuple[FileContent, ...]:
    """The engine's sources (from the package this plugin runs with) and the recorder, sorted.

    Byte for byte the same for every target: the content is part of every test process's cache
    key, and batched targets merge it."""
    import difftest.model

    package = Path(difftest.model.__file__).resolve().parent
    files = []
    for path in sorted(package.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if path.suffix not in (".py", ".typed"):
            continue
        rel = path.relative_to(package.parent).as_posix()
        files.append(FileContent(f"{ENGINE_DIR}/{rel}", path.read_bytes()))
    recorder = Path(__file__).with_name("sandbox_recorder.py").read_bytes()
    files.append(FileContent(f"{ENGINE_DIR}/{RECORDER_MODULE}.py", recorder))
    return tuple(sorted(files, key=lambda f: f.path))


def stub_files(source_root: str) -> tuple[FileContent, ...]:
    """The entry-point stub and its ``.dist-info`` in a source root ("." for the build root)."""
    prefix = "" if source_root in ("", ".") else source_root.strip("/") + "/"
    return (
        FileContent(f"{prefix}{STUB_MODULE}.py", _STUB_SOURCE.encode()),
        FileContent(f"{prefix}{STUB_DIST_INFO}/METADATA", _STUB_METADATA.encode()),
        FileContent(f"{prefix}{STUB_DIST_INFO}/entry_points.txt", _STUB_ENTRY_POINTS.encode()),
    )


def target_file(address: Address, view_files: Collection[str]) -> FileContent:
    """``.difftest/pants/targets/<address>.json``: the sandbox root entries of the target's
    view (the recorder leaves the root's other entries, Pants' machinery, out)."""
    doc = {"address": str(address), "root": artifact.root_entries(view_files)}
    text = json.dumps(doc, sort_keys=True) + "\n"
    return FileContent(f"{TARGETS_DIR}/{address.path_safe_spec}.json", text.encode())


@dataclass(frozen=True)
class SandboxViewRequest:
    address: Address


@dataclass(frozen=True)
class SandboxView:
    """The workspace files a python_test target's pytest sandbox holds, as Pants builds it
    (``setup_pytest_for_target``): the sources of its closure, the existing ancestor
    ``__init__.py``/``__init__.pyi`` files, and the pytest config files it discovers."""

    files: tuple[str, ...]


@rule(desc="The files of a python_test sandbox", level=LogLevel.DEBUG)
async def sandbox_view(request: SandboxViewRequest, pytest: PyTest) -> SandboxView:
    transitive = await Get(TransitiveTargets, TransitiveTargetsRequest([request.address]))
    with_sources = [t for t in transitive.closure if t.has_field(SourcesField)]
    paths = await MultiGet(
        Get(SourcesPaths, SourcesPathsRequest(t[SourcesField])) for t in with_sources
    )
    files = {f for p in paths for f in p.files}
    test_dirs = sorted(
        {
            os.path.dirname(f)
            for t, p in zip(with_sources, paths)
            if t.address == request.address
            for f in p.files
        }
    )
    ancestors, config = await MultiGet(
        Get(
            AncestorFiles,
            AncestorFilesRequest(
                input_files=tuple(sorted(files)), requested=("__init__.py", "__init__.pyi")
            ),
        ),
        Get(ConfigFiles, ConfigFilesRequest, pytest.config_request(test_dirs)),
    )
    files.update(ancestors.snapshot.files)
    files.update(config.snapshot.files)
    return SandboxView(tuple(sorted(files)))


class DifftestPytestPluginSetupRequest(PytestPluginSetupRequest):
    @classmethod
    def is_applicable(cls, target: Target) -> bool:
        return target.has_field(PythonTestSourceField)


@rule(desc="Inject the difftest recorder", level=LogLevel.DEBUG)
async def inject_recorder(
    request: DifftestPytestPluginSetupRequest,
    difftest: DifftestSubsystem,
    test_subsystem: TestSubsystem,
) -> PytestPluginSetup:
    # With --use-coverage, pytest-cov measures the run: coverage.py measures one way at a time,
    # and the injected stub in the source root would be reported as a file without source.
    # The plugin stays out of the sandbox; the targets' stored records stay as they were.
    if not difftest.record or test_subsystem.use_coverage:
        return PytestPluginSetup(EMPTY_DIGEST)
    view, source_root = await MultiGet(
        Get(SandboxView, SandboxViewRequest(request.target.address)),
        Get(SourceRoot, SourceRootRequest, SourceRootRequest.for_target(request.target)),
    )
    injected = await Get(
        Digest,
        CreateDigest(
            [
                *injected_files(),
                *stub_files(source_root.path),
                target_file(request.target.address, view.files),
            ]
        ),
    )
    return PytestPluginSetup(injected)


# --------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class DifftestPlanRequest:
    """``roots``: the python_test targets Pants itself selected (the command line's specs, or with
    ``--changed-since`` the changed targets and their dependents). The candidates are the roots,
    or with ``all_tests`` every python_test target of the repository."""

    roots: tuple[Address, ...]
    all_tests: bool = False


@dataclass(frozen=True)
class DifftestPlan:
    decisions: tuple[Decision, ...]
    field_sets: tuple[PythonTestFieldSet, ...]
    #: Pants' view of the candidates and every target in their closures.
    infos: tuple[TargetInfo, ...]
    graph_text: str
    env: EnvSnapshot
    warnings: tuple[str, ...]
    #: Every target address in the repository (records of other targets are dropped).
    existing: tuple[str, ...]
    #: Per candidate address: the environment variables its tests get (EnvSnapshot.variables).
    variables: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def selected(self) -> list[tuple[PythonTestFieldSet, Decision]]:
        return [(fs, d) for fs, d in zip(self.field_sets, self.decisions) if d.run]

    def env_for(self, address: str) -> EnvSnapshot:
        """The environment one target's tests run in."""
        return dataclasses.replace(self.env, variables=dict(self.variables).get(address, ()))


def variables_of(entries: Iterable[str], *envs: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The variables a target's tests get, as ``pants test`` gives them: ``envs`` in order, each
    over the ones before (``[subprocess-environment]``'s, ``[test]``'s, the target's own). A
    name of ``entries`` without a value and unset in Pants' environment is "unset"."""
    values: dict[str, str | None] = {entry.partition("=")[0]: None for entry in entries}
    for env in envs:
        values.update(env)
    return tuple(sorted((name, value_of_var(value)) for name, value in values.items()))


def fingerprint_of(tgt: Target) -> str:
    """The target's BUILD-file field values (sources globs, explicit dependencies, timeouts,
    environment variables, ...), not its files' content."""
    fields = {
        f"{type(f).__module__}.{type(f).__name__}": repr(getattr(f, "value", None))
        for f in tgt.field_values.values()
    }
    fields["<type>"] = tgt.alias
    return artifact.target_fingerprint(fields)


def pytest_config_value(contents: Iterable[FileContent]) -> str:
    """The pytest settings in the config files (a pyproject.toml: only its [tool.pytest])."""
    parts = []
    for fc in sorted(contents, key=lambda c: c.path):
        if fc.path.rpartition("/")[2] == "pyproject.toml":
            try:
                import tomli

                section = tomli.loads(fc.content.decode()).get("tool", {}).get("pytest", {})
                parts.append(f"{fc.path}=" + json.dumps(section, sort_keys=True, default=str))
            except Exception:
                parts.append(f"{fc.path}=" + digest(fc.content))
        else:
            parts.append(f"{fc.path}={digest(fc.content)}")
    return digest("\n".join(parts).encode()) if parts else "none"


def lockfile_versions(contents: Iterable[FileContent]) -> dict[str, str]:
    """project name -> "lock:VERSION" from Pants/pex lockfiles (JSON after `//` header lines)."""
    found: dict[str, str] = {}
    for fc in contents:
        body = "\n".join(
            line
            for line in fc.content.decode(errors="replace").splitlines()
            if not line.startswith("//")
        )
        try:
            for resolve in json.loads(body).get("locked_resolves", ()):
                for req in resolve.get("locked_requirements", ()):
                    found[artifact.normalize(req["project_name"])] = f"lock:{req['version']}"
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return found


@memoized
def pytest_tool_dists() -> frozenset[str]:
    """Distributions of Pants' default pytest tool lockfile (pytest, pluggy, coverage, ...)."""
    from importlib import resources

    # Also pytest's platform- or version-conditional requirements, which a lock may leave out.
    names = {
        "pytest",
        "pluggy",
        "iniconfig",
        "py",
        "attrs",
        "packaging",
        "coverage",
        "tomli",
        "atomicwrites",
        "colorama",
        "exceptiongroup",
        "importlib-metadata",
        "zipp",
        "typing-extensions",
        "pytest-cov",
        "pytest-xdist",
        "execnet",
        "pytest-forked",
    }
    try:
        text = resources.read_text("pants.backend.python.subsystems", "pytest.lock")
        names |= set(lockfile_versions([FileContent("pytest.lock", text.encode())]))
    except (OSError, ModuleNotFoundError):
        pass
    return frozenset(names)


@rule(desc="Decide which tests difftest runs", level=LogLevel.DEBUG)
async def plan_difftest(
    request: DifftestPlanRequest,
    difftest: DifftestSubsystem,
    python_setup: PythonSetup,
    pytest: PyTest,
    all_targets: AllTargets,
    test_subsystem: TestSubsystem,
    subprocess_environment: SubprocessEnvironment,
) -> DifftestPlan:
    roots = set(request.roots)
    candidates = tuple(
        PythonTestFieldSet.create(t)
        for t in sorted(all_targets, key=lambda t: t.address)
        if PythonTestFieldSet.is_applicable(t)
        and not PythonTestFieldSet.opt_out(t)
        and (request.all_tests or t.address in roots)
    )
    # What variables each candidate's tests get, valued in the environment it runs in: a name
    # given without a value (`APP_MODE`) passes Pants' own value through, and a change of that
    # value must select the tests that read it.
    env_names = await MultiGet(
        Get(
            EnvironmentName,
            SingleEnvironmentNameRequest,
            SingleEnvironmentNameRequest.from_field_sets([fs], str(fs.address)),
        )
        for fs in candidates
    )
    distinct = list(dict.fromkeys(env_names))
    test_envs = dict(
        zip(distinct, await MultiGet(Get(TestExtraEnv, EnvironmentName, n) for n in distinct))
    )
    # PATH, and [subprocess-environment]'s (LANG, LC_ALL, SSL_CERT_FILE, ... by default): every
    # process Pants runs from a pex gets them.
    process_envs = {
        name: {"PATH": os.pathsep.join(pex_env.path), **pex_env.subprocess_environment_dict}
        for name, pex_env in zip(
            distinct, await MultiGet(Get(PexEnvironment, EnvironmentName, n) for n in distinct)
        )
    }
    target_envs = await MultiGet(
        Get(
            EnvironmentVars,
            {
                EnvironmentVarsRequest(fs.extra_env_vars.sorted()): EnvironmentVarsRequest,
                name: EnvironmentName,
            },
        )
        for fs, name in zip(candidates, env_names)
    )
    test_entries = list(getattr(test_subsystem.options, "extra_env_vars", None) or ())
    every_process_entries = list(getattr(subprocess_environment.options, "env_vars", None) or ())
    variables = {
        fs.address: variables_of(
            (*every_process_entries, *test_entries, *fs.extra_env_vars.sorted()),
            process_envs[name],
            test_envs[name].env,
            target_env,
        )
        for fs, name, target_env in zip(candidates, env_names, target_envs)
    }

    artifact_contents, config_contents = await MultiGet(
        Get(DigestContents, PathGlobs([difftest.artifact])),
        # Pants gives pytest the config files of each test's directory and its parents, not
        # only the root's: one anywhere (`tests/models/pytest.ini`) counts.
        Get(
            DigestContents,
            PathGlobs([*PYTEST_CONFIG_FILES, *(f"**/{name}" for name in PYTEST_CONFIG_FILES)]),
        ),
    )
    graph_text = artifact_contents[0].content.decode() if artifact_contents else ""
    graph, warnings = artifact.load(graph_text, difftest.artifact)
    if artifact_contents and not graph_text.strip():
        warnings.append(
            f"{difftest.artifact} is empty, not a difftest artifact. Every given test target "
            "runs, and `pants difftest` records a new artifact."
        )
    # An artifact that cannot be read tells nothing: every candidate runs, whatever Pants'
    # own selection (`--changed-since`) holds.
    unusable = bool(warnings)

    transitive = await MultiGet(
        Get(TransitiveTargets, TransitiveTargetsRequest([fs.address])) for fs in candidates
    )
    closure_targets: dict[Address, Target] = {}
    for tt in transitive:
        for tgt in tt.closure:
            closure_targets.setdefault(tgt.address, tgt)
    ordered = [closure_targets[a] for a in sorted(closure_targets)]
    with_sources = [t for t in ordered if t.has_field(SourcesField)]
    with_deps = [t for t in ordered if t.has_field(Dependencies)]
    sources_paths = await MultiGet(
        Get(SourcesPaths, SourcesPathsRequest(t[SourcesField])) for t in with_sources
    )
    dependencies = await MultiGet(
        Get(Addresses, DependenciesRequest(t[Dependencies])) for t in with_deps
    )
    sources = {t.address: tuple(sorted(p.files)) for t, p in zip(with_sources, sources_paths)}
    deps = {t.address: tuple(sorted(str(a) for a in d)) for t, d in zip(with_deps, dependencies)}
    infos = {}
    for tgt in ordered:
        owned = sources.get(tgt.address, ())
        infos[tgt.address] = TargetInfo(
            str(tgt.address),
            fingerprint_of(tgt),
            owned,
            deps.get(tgt.address, ()),
            owned[0] if owned and tgt.has_field(PythonTestSourceField) else None,
        )

    # The environment as Pants' configuration has it now.
    requirements: dict[str, set[str]] = {}
    every_requirement = []
    for tgt in all_targets:
        if tgt.has_field(PythonRequirementsField):
            for req in tgt[PythonRequirementsField].value or ():
                name = artifact.normalize(req.project_name)
                requirements.setdefault(name, set()).add(str(req))
                every_requirement.append(str(req))
    lock_contents = DigestContents([])
    if python_setup.enable_resolves:
        lock_contents = await Get(
            DigestContents, PathGlobs(sorted(set(python_setup.resolves.values())))
        )
    locked = lockfile_versions(lock_contents)
    dists = {
        name: "req:" + ",".join(sorted(reqs)) + (f"|{locked[name]}" if name in locked else "")
        for name, reqs in requirements.items()
    }
    for name, version in locked.items():
        dists.setdefault(name, version)
    env = EnvSnapshot(
        python="ic:" + ",".join(python_setup.interpreter_constraints),
        # Every test runs with [test]'s extra environment variables and default timeouts.
        pytest_config=f"{pytest_config_value(config_contents)}|{pytest.version}|{pytest.args}"
        + "|"
        + digest(
            json.dumps(
                [
                    test_entries,
                    test_subsystem.timeout_default,
                    test_subsystem.timeout_maximum,
                ]
            ).encode()
        ),
        dists=tuple(sorted(dists.items())),
        tool_dists=pytest_tool_dists(),
        tool="tool:" + ",".join(pytest.all_requirements),
        transitive="transitive:"
        + digest(
            "\n".join(
                sorted(every_requirement) + [fc.path + digest(fc.content) for fc in lock_contents]
            ).encode()
        ),
    )

    # What the records name, read now, in the view of each target's sandbox.
    per_target = {fs.address: artifact.target_records(graph, str(fs.address)) for fs in candidates}
    views = await MultiGet(
        Get(SandboxView, SandboxViewRequest(fs.address))
        for fs in candidates
        if per_target[fs.address]
    )
    sandbox: dict[Address, set[str]] = {fs.address: set() for fs in candidates}
    for fs, view in zip([fs for fs in candidates if per_target[fs.address]], views):
        sandbox[fs.address] = set(view.files)
    wanted: set[str] = set()
    for address, recs in per_target.items():
        wanted |= artifact.referenced_paths(recs) & sandbox[address]
    contents: dict[str, bytes] = {}
    if wanted:
        read = await Get(DigestContents, PathGlobs(sorted(wanted)))
        contents = {fc.path: fc.content for fc in read}

    # A test file owned by several python_test targets (`parametrize`d fields, an overlapping
    # glob) has one set of records for all of them, from whichever ran last: none of those
    # targets can be judged by them, so each runs in full.
    owners: dict[str, list[str]] = {}
    for tgt in all_targets:
        if tgt.has_field(PythonTestSourceField):
            owners.setdefault(tgt[PythonTestSourceField].file_path, []).append(str(tgt.address))

    decisions = []
    for fs in candidates:
        address = str(fs.address)
        node = graph.nodes.get(artifact.target_node(address), {})
        info = infos[fs.address]
        others = [a for a in owners.get(info.test_file or "", ()) if a != address]
        if others:
            decisions.append(
                artifact.Decision(
                    address,
                    info.test_file or "",
                    True,
                    (
                        f"{info.test_file} is also the test file of {', '.join(sorted(others))}: "
                        "their records cannot be told apart",
                    ),
                    fallback=True,
                )
            )
            continue
        decisions.append(
            artifact.decide(
                address,
                info.test_file or "",
                per_target[fs.address],
                node.get("fingerprint"),
                info.fingerprint,
                contents,
                sandbox[fs.address],
                dataclasses.replace(env, variables=variables[fs.address]),
                in_pants_selection=(
                    unusable or fs.address in roots or difftest.no_records == NoRecordsPolicy.RUN
                ),
                select_tests=difftest.select_tests and difftest.record,
            )
        )
    return DifftestPlan(
        decisions=tuple(decisions),
        field_sets=tuple(candidates),
        infos=tuple(infos[a] for a in sorted(infos)),
        graph_text=graph_text,
        env=env,
        warnings=tuple(warnings),
        existing=tuple(sorted(str(t.address) for t in all_targets)),
        variables=tuple((str(a), v) for a, v in sorted(variables.items())),
    )


# --------------------------------------------------------------------------- running a batch
@dataclass(frozen=True)
class DifftestBatchRequest:
    batch: PyTestRequest.Batch
    #: JSON of {"deselect": {test file: [node ids]}}; empty: nothing deselected (the process is
    #: then exactly the one `pants test` runs, and shares its cache entries).
    select_json: str


@dataclass(frozen=True)
class DifftestBatchResult:
    result: TestResult
    #: (path, text) of every record file the batch wrote (under `extra-output/difftest/`).
    record_files: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class WorkspaceFileRequest:
    path: str
    text: str


@dataclass(frozen=True)
class WorkspaceFile:
    digest: Digest


@rule(level=LogLevel.DEBUG)
async def workspace_file(request: WorkspaceFileRequest) -> WorkspaceFile:
    digest_ = await Get(Digest, CreateDigest([FileContent(request.path, request.text.encode())]))
    return WorkspaceFile(digest_)


def select_json(decisions: Iterable[Decision]) -> str:
    deselect = {d.test_file: list(d.deselect) for d in decisions if d.deselect}
    if not deselect:
        return ""
    return json.dumps({"deselect": deselect}, sort_keys=True)


@rule(desc="Run Pytest for difftest", level=LogLevel.DEBUG)
async def run_difftest_batch(
    request: DifftestBatchRequest, test_subsystem: TestSubsystem
) -> DifftestBatchResult:
    batch = request.batch
    setup = await Get(
        TestSetup, TestSetupRequest(batch.elements, batch.partition_metadata, is_debug=False)
    )
    process = setup.process
    if request.select_json:
        select_digest = await Get(
            Digest, CreateDigest([FileContent(SELECT_FILE, request.select_json.encode())])
        )
        merged = await Get(Digest, MergeDigests([process.input_digest, select_digest]))
        process = dataclasses.replace(process, input_digest=merged)
    result = await Get(FallibleProcessResult, Process, process)
    xml_results = None
    if setup.results_file_name:
        xml_results = await Get(
            Snapshot, DigestSubset(result.output_digest, PathGlobs([setup.results_file_name]))
        )
    extra = await Get(
        Snapshot, DigestSubset(result.output_digest, PathGlobs([f"{_EXTRA_OUTPUT_DIR}/**"]))
    )
    extra = await Get(Snapshot, RemovePrefix(extra.digest, _EXTRA_OUTPUT_DIR))
    contents = await Get(DigestContents, Digest, extra.digest)
    record_files = tuple(
        (fc.path, fc.content.decode())
        for fc in contents
        if fc.path.startswith(OUTPUT_DIR + "/") and fc.path.endswith(".json")
    )
    return DifftestBatchResult(
        TestResult.from_batched_fallible_process_result(
            result,
            batch=batch,
            output_setting=test_subsystem.output,
            xml_results=xml_results,
            extra_output=extra,
        ),
        record_files,
    )


def rules():
    return [
        *collect_rules(),
        UnionRule(PytestPluginSetupRequest, DifftestPytestPluginSetupRequest),
    ]
