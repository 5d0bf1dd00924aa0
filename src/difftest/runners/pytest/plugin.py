"""The pytest plugin (entry point ``difftest``): options, and the classes each kind of run needs.

Nothing happens unless ``--diff``, ``--diff-baseline`` or ``--diff-static`` is given: the hook classes are
registered in ``pytest_configure`` only then (as pytest's own ``--lf`` does).

- serial run: :class:`Selector` (+ :class:`Recorder` with ``--diff-baseline``) and
  :class:`LocalRun`, which owns the baseline;
- xdist controller: :class:`ControllerRun` decides, hands the plan to the workers, merges what
  they recorded and is the only process that writes the baseline;
- xdist worker: :class:`Selector` from the controller's plan (+ :class:`Recorder` and
  :class:`WorkerRun` when recording).
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import gc
import os
import sys
from typing import TYPE_CHECKING

import pytest

from difftest.runners.pytest.options import (
    EARLY_OPTIONS,
    Settings,
    add_options,
    registered_options,
    resolve,
    wants_recording,
)

if TYPE_CHECKING:
    from difftest.runners.pytest.recorder import Recorder

# The rest of the plugin is imported only when difftest is enabled: a plain pytest run pays
# for the options alone.
RECORDER = pytest.StashKey["Recorder"]()
#: ``sys.modules`` before any conftest and before difftest's recording modules were imported: a
#: project import of one of these finds it loaded; what difftest loads, a plain run does not.
PRELOADED = pytest.StashKey[frozenset[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def _xdist_controller_args(namespace: argparse.Namespace) -> bool:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return False
    return bool(getattr(namespace, "numprocesses", None)) or getattr(
        namespace, "dist", "no"
    ) not in ("no", None)


def _start_recorder(config: pytest.Config, *, static: bool) -> Recorder:
    from difftest.changes.repository import repository_top
    from difftest.runners.pytest.recorder import Recorder

    preloaded = config.stash.get(PRELOADED, None)
    recorder = Recorder(
        config.rootpath,
        static=static,
        preloaded=preloaded,
        repository=repository_top(config.rootpath),
    )
    recorder.probe.watch_options(config.option)
    config.stash[RECORDER] = recorder
    config.add_cleanup(recorder.close)
    return recorder


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # Recording starts before the initial conftests are imported, so what they run and read at
    # import time is seen. The xdist controller runs no tests and records nothing.
    early_config.stash[PRELOADED] = frozenset(sys.modules)
    # Before the conftests: what is registered now is pytest's and installed plugins'.
    early_config.stash[EARLY_OPTIONS] = registered_options(early_config)
    from difftest.changes.environment import remember_environ, remember_options

    remember_environ()  # variables count with their values from before any conftest ran
    remember_options(early_config.option)  # filled in as pytest parses the options
    namespace = early_config.known_args_namespace
    if (
        wants_recording(namespace)
        and not _xdist_controller_args(namespace)
        and not getattr(namespace, "collectonly", False)
    ):
        static = bool(getattr(namespace, "diff_static", False))
        if static or _other_measurement(namespace) is None:
            recorder = _start_recorder(early_config, static=static)
            if not os.environ.get("PYTEST_XDIST_WORKER"):  # workers leave the cores to tests
                recorder.start_helper()


def _other_measurement(namespace: argparse.Namespace, ours: Recorder | None = None) -> str | None:
    from difftest.runners.pytest.probes import other_measurement

    return other_measurement(namespace, getattr(ours and ours.coverage, "measurement", None))


def _leave_the_heap_at_exit() -> None:
    """At exit the interpreter's last collections walk and free every object still there: the
    whole session (items, reports), coverage.py's tables and difftest's graph. On toolz (193
    tests, 0.45 s in all) that was 0.05 s more than in a plain run. The process ends anyway:
    frozen objects are left to the operating system. What remains to be done by finalizers of
    objects in reference cycles (which Python does not promise to run at exit) is not done;
    every ``atexit`` handler (logging's shutdown among them) runs as before, and an object
    freed by its last reference going away is freed as before."""
    gc.freeze()


def _loaded_before_recording(config: pytest.Config, recorder: Recorder) -> dict[str, str]:
    """Project modules pytest imported before recording could start (a plugin given with
    ``-p``, ``PYTEST_PLUGINS`` or an installed ``pytest11`` entry point of the project itself),
    by name, with their root-relative files."""
    found: dict[str, str] = {}
    for name in config.stash.get(PRELOADED, frozenset()):
        file = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(file, str) and name.split(".")[0] != "difftest":
            rel = recorder.paths.rel_source(file)
            if rel is not None:
                found[name] = rel
    return found


def _replay_preloaded(config: pytest.Config, recorder: Recorder) -> list[str]:
    """What the project modules imported before recording read while they were imported,
    found by importing them again (:mod:`~difftest.runners.pytest.replay`); a warning for
    each one that could not be imported again, whose reads stay unknown."""
    modules = _loaded_before_recording(config, recorder)
    if not modules:
        return []
    from difftest.changes.repository import repository_top
    from difftest.runners.pytest.replay import replay_imports

    top = repository_top(config.rootpath)
    found = replay_imports(str(config.rootpath), str(top) if top else None, sorted(modules))
    if found is None:
        failed = sorted(modules)
    else:
        edges, failed = found
        recorder.add_import_edges(edges)
    files = sorted({modules[m] for m in failed if m in modules})
    if not files:
        return []
    return [
        f"{', '.join(files)}: imported before recording could start (a -p option, "
        "PYTEST_PLUGINS or an installed pytest11 entry point), and could not be imported again "
        "in a fresh interpreter: the files and environment variables they read when imported "
        "are not recorded. Load them from the root conftest.py (pytest_plugins = [...]), or mark "
        "the tests that depend on what they read @pytest.mark.diff_always."
    ]


def _dry(config: pytest.Config) -> bool:
    """Runs that execute no test bodies record nothing."""
    return bool(
        config.getoption("collectonly", False)
        or config.getoption("setuponly", False)
        or config.getoption("setupplan", False)
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "diff_always: difftest runs this test every time, whatever changed "
        "(with --diff, --diff-baseline and --diff-static).",
    )
    early = config.stash.get(RECORDER, None)
    try:
        settings = resolve(config)
        if settings.enabled:
            atexit.unregister(_leave_the_heap_at_exit)  # once, if pytest runs again in-process
            atexit.register(_leave_the_heap_at_exit)
            if settings.record and _dry(config):
                settings = dataclasses.replace(settings, record=False, force=False, upload=False)
            if settings.record and not settings.static:
                why = _other_measurement(config.known_args_namespace, early)
                if why is not None:
                    raise pytest.UsageError(
                        "difftest: --diff-baseline measures what each test runs with "
                        f"coverage.py, and {why}: coverage.py measures one way at a time, so "
                        "one of the two would lose its data. Record the baseline in a run "
                        "without it (with pytest-cov: add --no-cov); runs that only select "
                        "(--diff, --diff-static) work alongside it."
                    )
            early = _register(config, settings, early)
    finally:
        if early is not None:
            early.close()


def _register(config: pytest.Config, settings: Settings, early: Recorder | None) -> Recorder | None:
    """Register the hook classes of this run; returns the early recorder if it is not used."""
    from difftest.changes.environment import refresh
    from difftest.errors import DifftestError
    from difftest.runners.pytest import xdist
    from difftest.runners.pytest.local import LocalRun
    from difftest.runners.pytest.plan import make_plan
    from difftest.runners.pytest.selector import Selector
    from difftest.runners.pytest.store import download

    refresh()  # distribution metadata is read afresh on every run
    manager = config.pluginmanager
    if xdist.is_worker(config):
        plan = xdist.worker_plan(config)
        if plan is None:  # the controller runs without difftest: nothing to do here
            return early
        manager.register(Selector(plan, verbose=settings.verbose), "difftest-selector")
        if plan.record:
            worker_recorder = early or _start_recorder(config, static=settings.static)
            # A worker's warnings are not shown (the controller prints the status line); what
            # its replay finds is recorded all the same.
            _replay_preloaded(config, worker_recorder)
            manager.register(worker_recorder, "difftest-recorder")
            manager.register(
                xdist.WorkerRun(config, settings, plan, worker_recorder), "difftest-worker"
            )
            return None
        return early

    notes = []
    if settings.remote_url is not None:
        notes.append(
            download(settings.remote_url, settings.db_path, ignore_all=settings.default_db)
        )
    try:
        plan, baseline, hasher = make_plan(
            config, settings, notes, workers=xdist.is_controller(config)
        )
    except (DifftestError, OSError) as exc:
        raise pytest.UsageError(
            f"difftest: the baseline {settings.db_path} cannot be opened or created: {exc}. "
            "Check that its directory is writable, or choose another path with --diff-db."
        ) from exc
    if xdist.is_controller(config):
        manager.register(
            xdist.ControllerRun(config, settings, plan, baseline, hasher), "difftest-controller"
        )
        return early
    manager.register(Selector(plan, verbose=settings.verbose), "difftest-selector")
    recorder: Recorder | None = None
    if settings.record:
        recorder = early or _start_recorder(config, static=settings.static)
        plan.selection.warnings.extend(_replay_preloaded(config, recorder))
        manager.register(recorder, "difftest-recorder")
    manager.register(LocalRun(config, settings, plan, baseline, hasher, recorder), "difftest-run")
    return None if recorder is not None else early
