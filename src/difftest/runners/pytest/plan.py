"""The decisions of a run, made once before collection (on the xdist controller when there is
one): which tests are affected, what is recorded, and the environment values of this run.

A :class:`RunPlan` is a plain value: it goes to xdist workers as JSON, so that every process
deselects exactly the same tests.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from difftest.changes.environment import (
    PYTHON_KEY,
    child_optimize,
    child_warnoptions,
    python_fingerprint,
)
from difftest.changes.scan import FileHasher
from difftest.changes.state import CurrentState
from difftest.errors import StorageError
from difftest.model import COLLECT_SUFFIX, ENV_PREFIX, Reason, digest
from difftest.runners.pytest.options import EARLY_OPTIONS, Settings, registered_options
from difftest.runners.pytest.store import Opened, open_for_run, unreadable
from difftest.selection.engine import Selection, select
from difftest.selection.importcheck import SubprocessImportCheck
from difftest.storage.baseline import ALWAYS_RUN_META, PYTEST_CONFIG_META, Baseline

PYTEST_CONFIG_KEY = ENV_PREFIX + "pytest-config"
#: Meta key of the baseline listing the tests marked ``diff_always``, per test file.
ALWAYS_META = ALWAYS_RUN_META
#: Ini keys that cannot change a test's outcome (difftest's own, marker descriptions).
_NEUTRAL_INI = ("markers",)
#: Command-line options pytest applies itself that can change outcomes (``-W error`` fails
#: tests that warn, ``--runxfail`` runs xfail tests, ``-p`` adds or blocks plugins).
_OUTCOME_OPTIONS = (
    "pythonwarnings",
    "runxfail",
    "importmode",
    "strict_markers",
    "strict_config",
    "strict",
    "plugins",
    "assertmode",
    "confcutdir",
    "noconftest",
    "log_level",  # what caplog captures
    # The root logger's level is the lowest of the handlers', so caplog captures more; a
    # logger disabled logs nothing; caplog.text is formatted as the log file is.
    "log_cli_level",
    "log_file_level",
    "logger_disable",
    "log_format",
    "log_date_format",
    "doctest_continue_on_failure",
    "doctest_ignore_import_errors",
)
#: Every option of pytest itself (7.0 to 9): those outside ``_OUTCOME_OPTIONS`` choose what
#: runs and how it is reported, not what a test's outcome is.
_PYTEST_OPTIONS = frozenset(
    """assertmode basetemp cacheclear cacheshow capture code_highlight collect_in_virtualenv
    collectonly color confcutdir continue_on_collection_errors debug deselect
    disable_plugin_autoload disable_warnings doctest_continue_on_failure
    doctest_ignore_import_errors doctestglob doctestmodules doctestreport durations
    durations_min failedfirst fold_skipped force_short_summary fulltrace help ignore ignore_glob
    importmode inifilename junitprefix keepduplicates keyword last_failed_no_failures lf
    log_auto_indent log_cli_date_format log_cli_format log_cli_level log_date_format log_file
    log_file_date_format log_file_format log_file_level log_file_mode log_format log_level
    logger_disable markers markexpr max_warnings maxfail newfirst no_header no_summary
    noconftest override_ini pastebin plugins pyargs pythonwarnings reportchars rootdir runxfail
    setuponly setupplan setupshow show_fixtures_per_test showcapture showfixtures showlocals
    stepwise stepwise_reset stepwise_skip strict strict_config strict_markers tbstyle trace
    traceconfig usepdb usepdb_cls verbose version xfail_tb xmlpath""".split()  # noqa: SIM905
)
#: Options of common plugins that change no outcome, by the module each plugin is loaded from:
#: parallel runs and shards (each shard has its own values, and one run merges their records),
#: coverage, reports, test selection, and values a plugin draws anew on every run
#: (pytest-randomly's seed, xdist's run id). Such an option is neutral only while its plugin's
#: module is loaded: another plugin's option of the same name (``--group``, ``--css``) counts.
_NEUTRAL_PLUGIN_OPTIONS: dict[str, frozenset[str]] = {
    module: frozenset(dests.split())
    for module, dests in {
        "xdist": """numprocesses maxprocesses dist tx rsyncdir rsyncignore looponfail
            max_worker_restart testrunuid maxschedchunk distload""",
        "pytest_cov": """cov_source cov_report cov_config no_cov no_cov_on_fail cov_fail_under
            cov_append cov_branch cov_context cov_precision cov_reset""",
        "pytest_split": """splits group splitting_algorithm durations_path store_durations
            clean_durations""",
        "pytest_shard": "shard_id num_shards",
        "pytest_test_groups": "test_group test_group_count test_group_random_seed",
        "pytest_randomly": "randomly_seed randomly_dont_reset_seed randomly_dont_reorganize",
        "pytest_html": "htmlpath self_contained_html css",
        "pytest_metadata": "metadata json_metadata metadata_from_json",
        "pytest_jsonreport": """json_report json_report_file json_report_omit
            json_report_summary json_report_indent json_report_verbosity""",
        "allure_pytest": "allure_report_dir clean_alluredir",
        "pytest_instafail": "instafail",
        "_hypothesis_pytestplugin": "hypothesis_show_statistics hypothesis_verbosity",
        "testmon": """testmon testmon_noselect testmon_nocollect testmon_forceselect no_testmon
            testmon_env tlf testmon_readonly""",
        "pytest_picked": "picked parent_branch",
    }.items()
}


#: Ini keys of common plugins that change no outcome, by the plugin's module, as above:
#: xdist's looponfail roots (their default is where pytest starts) and rsync lists.
_NEUTRAL_PLUGIN_INI: dict[str, tuple[str, ...]] = {
    "xdist": ("looponfailroots", "rsyncdirs", "rsyncignore"),
}


def _neutral_plugin_ini() -> tuple[str, ...]:
    return tuple(k for m, keys in _NEUTRAL_PLUGIN_INI.items() if m in sys.modules for k in keys)


def _neutral_plugin_options() -> frozenset[str]:
    """The options of :data:`_NEUTRAL_PLUGIN_OPTIONS` whose plugin is loaded."""
    loaded = [dests for module, dests in _NEUTRAL_PLUGIN_OPTIONS.items() if module in sys.modules]
    return frozenset().union(*loaded)


def _stable(value: Any, root: Path) -> str:
    """An ini value as text that does not depend on where the checkout lives."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_stable(v, root) for v in value) + "]"
    if isinstance(value, Path):
        try:
            return value.relative_to(root).as_posix()
        except ValueError:
            return value.as_posix()
    return str(value)


def pytest_config_value(config: pytest.Config) -> str:
    """The ``<env>/pytest-config`` value (see :func:`pytest_config_lines`)."""
    return config_value(pytest_config_lines(config))


def config_value(lines: Iterable[str]) -> str:
    return digest("\n".join(lines).encode())


def pytest_config_lines(config: pytest.Config) -> list[str]:
    """What makes the ``<env>/pytest-config`` value: the ini values (difftest's own left out),
    the command-line options pytest and installed plugins apply that can change outcomes, the
    pytest version and the installed plugins with their versions."""
    lines = [f"pytest=={pytest.__version__}"]
    inidict = getattr(getattr(config, "_parser", None), "_inidict", {})
    # With strict markers, a marker no longer declared fails its tests' collection.
    neutral = (() if _strict_markers(config) else _NEUTRAL_INI) + _neutral_plugin_ini()
    for name in sorted(inidict):
        if name.startswith("diff_") or name in neutral:
            continue
        try:
            value = config.getini(name)
        except (ValueError, TypeError, pytest.UsageError):
            continue
        lines.append(f"{name}={_stable(value, config.rootpath)}")
    # Keys no one has registered yet, as written: a conftest below the root registers its own
    # only as collection reaches it, and its fixtures may read them (`getini`).
    raw: Any = getattr(config, "_inicfg", None)
    if raw is None:
        raw = getattr(config, "inicfg", {})  # pytest < 9
    for name in sorted(str(k) for k in raw if k not in inidict):
        if not name.startswith("diff_") and name not in neutral:
            value = getattr(raw[name], "value", raw[name])  # pytest 9: a ConfigValue
            lines.append(f"{name}={_stable(value, config.rootpath)}")
    for name in _OUTCOME_OPTIONS:
        value = getattr(config.option, name, None)
        if value not in (None, False, []):
            lines.append(f"option {name}={_stable(value, config.rootpath)}")
    # `-s` for a debugging session changes nothing a test sees that `fd` capture does not;
    # `--capture=sys` leaves sys.stdout without a file descriptor.
    capture = getattr(config.option, "capture", None)
    if capture not in (None, "fd", "no"):
        lines.append(f"option capture={capture}")
    plugins_env = os.environ.get("PYTEST_PLUGINS")
    if plugins_env:
        lines.append(f"option PYTEST_PLUGINS={plugins_env}")
    # Where every module may be imported from first, for this process and those it starts.
    python_path = os.environ.get("PYTHONPATH")
    if python_path:
        entries = (
            Path(os.path.abspath(entry or os.curdir)) for entry in python_path.split(os.pathsep)
        )
        lines.append(f"option PYTHONPATH={_stable(list(entries), config.rootpath)}")
    lines.extend(_plugin_options(config))
    plugins = set()
    for _plugin, dist in config.pluginmanager.list_plugin_distinfo():
        name = getattr(dist, "project_name", None) or dist.metadata["name"]
        plugins.add(f"{name}=={dist.version}")
    lines.extend(f"plugin {p}" for p in sorted(plugins))
    return lines


def _strict_markers(config: pytest.Config) -> bool:
    if getattr(config.option, "strict_markers", False) or getattr(config.option, "strict", False):
        return True
    inidict = getattr(getattr(config, "_parser", None), "_inidict", {})
    for name in ("strict_markers", "strict"):
        if name in inidict:
            try:
                if config.getini(name):
                    return True
            except (ValueError, TypeError, pytest.UsageError):
                continue
    return False


def config_parts(lines: Iterable[str]) -> dict[str, str]:
    """What each line of :func:`pytest_config_lines` is about ("ini xfail_strict", "plugin
    option timeout", "plugin pytest-timeout"), with a digest of its value: a later run can name
    what changed without the baseline holding the values (a command line may carry a secret)."""
    parts = {}
    for line in lines:
        if line.startswith(("option ", "plugin option ")):
            name, _, value = line.partition("=")
        elif line.startswith(("plugin ", "pytest==")):
            name, _, value = line.partition("==")
        else:
            name, _, value = line.partition("=")
            name = "ini " + name
        parts[name] = digest(value.encode())[:16]
    return parts


def describe_config_change(was: Mapping[str, str], now: Mapping[str, str]) -> str | None:
    """Why ``<env>/pytest-config`` changed, from the :func:`config_parts` of then and now."""
    changed = sorted(n for n in was.keys() | now.keys() if was.get(n) != now.get(n))
    if not changed:
        return None
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    return f"the pytest configuration changed: {shown}"


def _plugin_options(config: pytest.Config) -> list[str]:
    """Installed plugins' options set to other than their defaults (``--timeout=1``,
    ``--asyncio-mode=auto``, ``--ds=settings.ci``): those plugins apply them to every test.
    Options the project's conftests register are not here: a test depends on one when project
    code reads it (``RuntimeProbe.watch_options``)."""
    early = config.stash.get(EARLY_OPTIONS, None)
    if early is None:
        early = registered_options(config)
    neutral = _neutral_plugin_options()
    lines = []
    for dest, default in sorted(early.items()):
        if dest in _PYTEST_OPTIONS or dest in neutral or dest.startswith("diff"):
            continue
        value = getattr(config.option, dest, None)
        # Unknown defaults (pytest 7 keeps none it was not given) read as unset when empty; a
        # known one is compared as it is (``--retries=0`` against 3, ``store_false`` flags).
        if value == default or (default is None and value in (None, False, "", [], ())):
            continue
        text = _stable(value, config.rootpath)
        if " at 0x" in text:  # an object without a value of its own: its type stands for it
            text = type(value).__qualname__
        lines.append(f"plugin option {dest}={text}")
    return lines


@dataclass
class RunPlan:
    """Everything decided before collection."""

    root: str
    record: bool
    selection: Selection
    #: nodeid -> file of every recorded test (``<collect>`` records excluded).
    recorded: dict[str, str] = field(default_factory=dict)
    #: test file -> nodeids marked ``diff_always`` when the file was last collected.
    always: dict[str, list[str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    import_roots: list[str] = field(default_factory=list)
    #: Lines to show (warnings about the baseline, remote transfers).
    notes: list[str] = field(default_factory=list)
    #: Drop every earlier record on the first write (forced rebuild, unreadable baseline).
    replace_all: bool = False
    db_path: str = ""
    recorded_count: int = 0
    #: ``--diff-static``: records hold whole import closures, nothing is measured.
    static: bool = False
    #: :func:`config_parts` of this run's pytest configuration.
    config_parts: dict[str, str] = field(default_factory=dict)

    def must_collect(self, path: str) -> bool:
        return self.selection.must_collect(path) or path in self.always

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> str:
        s = self.selection
        return json.dumps(
            {
                "root": self.root,
                "record": self.record,
                "selection": {
                    "run_all": [s.run_all.kind, s.run_all.detail] if s.run_all else None,
                    "affected": {k: [[r.kind, r.detail] for r in v] for k, v in s.affected.items()},
                    "recorded_files": s.recorded_files,
                    "files_to_collect": sorted(s.files_to_collect),
                    "changed": [list(c) for c in s.changed],
                    "warnings": s.warnings,
                },
                "recorded": self.recorded,
                "always": self.always,
                "env": self.env,
                "edges": [list(e) for e in self.edges],
                "import_roots": self.import_roots,
                "notes": self.notes,
                "replace_all": self.replace_all,
                "db_path": self.db_path,
                "recorded_count": self.recorded_count,
                "static": self.static,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RunPlan:
        raw = json.loads(text)
        s = raw["selection"]
        selection = Selection(
            run_all=Reason(*s["run_all"]) if s["run_all"] else None,
            affected={k: [Reason(*r) for r in v] for k, v in s["affected"].items()},
            recorded_files={str(k): int(v) for k, v in s["recorded_files"].items()},
            files_to_collect=set(s["files_to_collect"]),
            changed=[(str(a), str(b), str(c)) for a, b, c in s["changed"]],
            warnings=list(s["warnings"]),
        )
        return cls(
            root=raw["root"],
            record=raw["record"],
            selection=selection,
            recorded=dict(raw["recorded"]),
            always={k: list(v) for k, v in raw["always"].items()},
            env=dict(raw["env"]),
            edges=[(str(a), str(b), str(c)) for a, b, c in raw["edges"]],
            import_roots=list(raw["import_roots"]),
            notes=list(raw["notes"]),
            replace_all=bool(raw["replace_all"]),
            db_path=raw["db_path"],
            recorded_count=int(raw["recorded_count"]),
            static=bool(raw.get("static", False)),
        )


def _read(
    baseline: Baseline, hasher: FileHasher, env: Mapping[str, str], parts: Mapping[str, str]
) -> RunPlanParts:
    """``parts``: the :func:`config_parts` of the pytest configuration now."""
    import_roots = baseline.import_roots()
    check = SubprocessImportCheck(hasher.root, import_roots)
    state = CurrentState(hasher, env, import_roots=import_roots)
    meta = baseline.meta()
    reasons = {}
    try:
        stored = json.loads(meta.get(PYTEST_CONFIG_META) or "{}")
        # A partial run records its tests under the configuration of the day; the others keep
        # theirs, described by what the runs that recorded them kept.
        known = {
            **{str(v): p for v, p in stored.get("earlier", [])},
            str(stored["value"]): stored["parts"],
        }
        for value, was in known.items():
            why = describe_config_change(dict(was), parts)
            if why is not None:
                reasons[(PYTEST_CONFIG_KEY, value)] = why
    except (ValueError, KeyError, TypeError, AttributeError):
        pass  # none stored (or unreadable): a change is described by its value
    selection = select(baseline, state, importable=check, watch=check.watch, env_reasons=reasons)
    recorded = {
        nodeid: file
        for nodeid, file, _outcome, _duration in baseline.tests()
        if not nodeid.endswith(COLLECT_SUFFIX)
    }
    try:
        always_raw = json.loads(meta.get(ALWAYS_META) or "{}")
        always = {str(k): [str(n) for n in v] for k, v in always_raw.items()}
    except (ValueError, AttributeError, TypeError):
        always = {}
    return RunPlanParts(selection, recorded, always, baseline.edges(), import_roots)


@dataclass
class RunPlanParts:
    selection: Selection
    recorded: dict[str, str]
    always: dict[str, list[str]]
    edges: list[tuple[str, str, str]]
    import_roots: list[str]


def make_plan(
    config: pytest.Config, settings: Settings, notes: Iterable[str] = (), *, workers: bool = False
) -> tuple[RunPlan, Baseline | None, FileHasher]:
    """Open the baseline and decide. Returns the plan, the open baseline (None when there is
    none or it was unreadable and only selecting) and the file hasher (its stat cache grows).
    ``workers``: the tests run in pytest-xdist workers, which this process starts without its
    ``-O`` and ``-W`` options: their interpreter is what the records hold."""
    root = config.rootpath
    lines = pytest_config_lines(config)
    configured = config_parts(lines)
    env = {PYTEST_CONFIG_KEY: config_value(lines)}
    now = env
    if workers:
        now = {**env, PYTHON_KEY: python_fingerprint(child_optimize(), child_warnoptions())}
    plan_notes = list(notes)
    opened: Opened = open_for_run(
        settings.db_path, record=settings.record, ignore_all=settings.default_db
    )
    plan_notes.extend(opened.notes)
    baseline = opened.baseline
    hasher = FileHasher(root)
    parts = RunPlanParts(Selection(), {}, {}, [], [])
    run_all: Reason | None = None
    if opened.unusable is not None:
        run_all = Reason("no-baseline", opened.unusable)
    elif baseline is not None:
        try:
            hasher = FileHasher(root, baseline.stat_cache())
            parts = _read(baseline, hasher, now, configured)
        except (StorageError, sqlite3.DatabaseError) as exc:
            baseline.close()
            warning, reason = unreadable(settings.db_path, exc, rebuild=settings.record)
            plan_notes.append(warning)
            run_all = Reason("no-baseline", reason)
            parts = RunPlanParts(Selection(), {}, {}, [], [])
            hasher = FileHasher(root)
            baseline = (
                open_for_run(settings.db_path, record=True, ignore_all=settings.default_db).baseline
                if settings.record
                else None
            )
    selection = parts.selection
    if settings.force:
        run_all = Reason("forced", "--diff-force: the baseline is rebuilt from a full run")
    if run_all is not None:
        selection = Selection(run_all=run_all, warnings=selection.warnings)
    plan = RunPlan(
        root=str(root),
        record=settings.record,
        selection=selection,
        recorded=parts.recorded if run_all is None else {},
        always=parts.always,
        env=env,
        edges=[] if settings.force else parts.edges,
        import_roots=parts.import_roots,
        notes=plan_notes,
        replace_all=settings.force,
        db_path=str(settings.db_path),
        recorded_count=len(parts.recorded),
        static=settings.static,
        config_parts=configured,
    )
    return plan, baseline, hasher
