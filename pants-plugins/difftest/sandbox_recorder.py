"""The pytest plugin the difftest Pants plugin injects into each pytest sandbox.

This file is not imported by Pants: the plugin copies its text into the sandbox as
``.difftest/pants/engine/difftest_pants_sandbox.py``, next to a copy of the difftest engine (a
directory difftest never records). pytest loads it at start-up through a ``pytest11`` entry point:
the plugin also puts a stub module (``_difftest_pants_recorder.py``) and its
``_difftest_pants_recorder-0.dist-info/`` in the test's source root, a directory on ``sys.path``
in the sandbox; the stub puts the engine directory on ``sys.path`` and re-exports this module's
hooks. No root ``conftest.py`` is injected, so a repository's own root conftest is recorded like
any other. It runs on the tests' interpreter under Pants' pytest tool, and does two things:

- records, per test, what it ran against (the engine's pytest recorder, started when pytest
  loads the initial conftests, before any is imported; coverage.py comes from Pants' pytest
  tool, networkx is not needed), and writes one JSON file per test file to
  ``extra-output/difftest/`` (Pants returns it as the result's ``extra_output``, also on cache
  hits). A run that pytest-cov measures (``pants test --use-coverage``) records nothing:
  coverage.py measures one way at a time, and the targets' stored records stay as they were;
- when ``.difftest/pants/select.json`` is in the sandbox (``pants difftest`` puts it there),
  deselects the recorded tests it lists as unaffected; a run where everything was deselected
  exits 0, not pytest's 5.

The sandbox root also holds Pants' machinery (pex directories, ``__run.sh``, ``extra-output/``,
``.coveragerc``, the JUnit XML), which is not in the workspace. ``.difftest/pants/targets/*.json``
(one per target of the batch) name the root entries that belong to the targets' view of the
workspace: a directory listing of the root, and the "every project file" dependencies of a test
that started a process, keep only those (and never the injected stub files).

The shared injected files must not depend on the target: batched targets share one sandbox.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

__all__ = [
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_load_initial_conftests",
    "pytest_report_collectionfinish",
    "pytest_sessionfinish",
    "pytest_testnodedown",
]

#: The sandbox root (this file is ``.difftest/pants/engine/difftest_pants_sandbox.py``).
_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
_ENGINE = os.path.join(_ROOT, ".difftest", "pants", "engine")
_SELECT = os.path.join(_ROOT, ".difftest", "pants", "select.json")
_TARGETS = os.path.join(_ROOT, ".difftest", "pants", "targets")
_OUT = os.path.join(_ROOT, "extra-output", "difftest")
#: Version of the per-file record JSON (read back by the plugin's artifact module).
RECORDS_VERSION = 1
#: The injected entry-point stub and its metadata directory (rules.py STUB_MODULE/STUB_DIST_INFO):
#: in a source root, but not the repository's; dropped from records, listings and file sets.
STUB_FILE = "_difftest_pants_recorder.py"
STUB_DIST_INFO = "_difftest_pants_recorder-0.dist-info"

if _ENGINE not in sys.path:
    sys.path.insert(0, _ENGINE)


def _load(name):
    # A non-literal dynamic import: difftest's static import scanner must not see the engine
    # (it lives outside the recorded project), and it is imported before recording starts.
    loader = __import__("importlib")
    return loader.import_module(name)


#: What was imported before the engine: what it loads (``sysconfig``), a plain run does not.
_PRELOADED = frozenset(sys.modules)
_recorder_mod = _load("difftest.runners.pytest.recorder")
_probes_mod = _load("difftest.runners.pytest.probes")
# Every test runs at its sandbox's root: a relative path names the same file each time.
_probes_mod.RuntimeProbe.credits_cwd = False
_records_mod = _load("difftest.runners.pytest.records")
_scan_mod = _load("difftest.changes.scan")
_model_mod = _load("difftest.model")
_plan_mod = _load("difftest.runners.pytest.plan")
_env_mod = _load("difftest.changes.environment")
_outcomes_mod = _load("difftest.runners.pytest.outcomes")
#: The workeroutput key of an xdist worker's records (the controller writes the record files).
XDIST_OUTPUT = "difftest_pants_records"


def safe_name(path):
    """A flat file name for a root-relative test file path."""
    return path.replace("/", "__").replace(":", "_") + ".json"


def _dep_json(dep):
    return [dep.key, dep.version, dep.name, dep.fingerprint]


def is_injected(key):
    """Whether a root-relative path (or listing key) is one of the injected stub files."""
    parts = key.split("/")
    return parts[-1] == STUB_FILE or STUB_DIST_INFO in parts


#: Root entries Pants puts in every pytest sandbox for itself: the named caches (``.cache``,
#: where the pex venvs live) and the pex files.
_MACHINERY = (".cache",)
_MACHINERY_SUFFIX = ".pex"


def is_machinery(key, roots):
    """Whether a root-relative path (or directory key) is under Pants' machinery at the sandbox
    root, outside the targets' view: ``.cache/pex_root``, the ``*.pex`` directories. Tests reach
    it only through the interpreter and pytest (a failure's traceback reads the pex's source
    lines); what it holds is valued by the requirements and the interpreter. Kept, such a key is
    missing from the view at decision time, and the test runs again every time. Any other path
    outside the view stays (a file the test wrote at the root: were the workspace to bring one
    there, the test must run)."""
    if roots is None or key.startswith(_model_mod.ENV_PREFIX):
        return False
    of_directory = _scan_mod.directory_of_key(key)
    path = key if of_directory is None else of_directory[0]
    top = path.split("/")[0]
    if top + "/" in roots or top in roots:
        return False
    return top in _MACHINERY or top.endswith(_MACHINERY_SUFFIX)


def root_entries(directory):
    """The sandbox root's entries in the view of the batch's targets (the union of what the
    plugin wrote per target), or None when no target file is there (then nothing is filtered)."""
    if not os.path.isdir(directory):
        return None
    found = set()
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json"):
            with open(os.path.join(directory, name), encoding="utf-8") as fh:
                found.update(json.load(fh).get("root", ()))
    return frozenset(found)


def keep_entry(rel_dir, name, roots):
    """Whether an entry ``name`` of directory ``rel_dir`` (as ``scan.listing_names`` gives it)
    counts: not an injected stub, and at the root only the targets' own entries."""
    if name.rstrip("/") in (STUB_FILE, STUB_DIST_INFO):
        return False
    return rel_dir != "" or roots is None or name in roots


class SandboxHasher(_scan_mod.FileHasher):
    """File hashes from the sandbox; a directory listing (and its extension modules) without
    Pants' machinery at the root and without the injected stub files (the plugin computes the
    same listing from the target's file set at decision time: ``scan.listing_names_of_files``)."""

    def __init__(self, root, roots):
        super().__init__(root)
        self.roots = roots

    def hash(self, path):
        of_directory = _scan_mod.directory_of_key(path)
        if of_directory is None:
            return super().hash(path)
        directory, version_of = of_directory
        names = _scan_mod.listing_names(self.root, directory)
        if names is None:
            return None
        return version_of([n for n in names if keep_entry(directory, n, self.roots)])


class SandboxRecordBuilder(_records_mod.RecordBuilder):
    """The engine's record builder; "every project file" (a test that started a process) is
    every sandbox file under the targets' root entries, the injected stub files left out."""

    roots = None
    # The sandbox's files are what Pants values, not import roots.
    shadow_paths = True
    # Pants values modules from outside the sandbox by its requirements and lockfiles.
    count_outside_sources = False
    in_pants_sandbox = True

    def project_files(self):
        for path in super().project_files():
            top, sep, _ = path.partition("/")
            if self.roots is not None and top + sep not in self.roots:
                continue
            if not is_injected(path):
                yield path


class _PantsRecording:
    """Recording and selection hooks of one sandboxed pytest process."""

    def __init__(self, root):
        from pathlib import Path

        self.root = Path(root)
        self.records = []
        self.collected = {}
        self.deselect = {}
        self.deselected = 0
        self.prefix = ""
        self.roots = root_entries(_TARGETS)
        if os.path.exists(_SELECT):
            with open(_SELECT, encoding="utf-8") as fh:
                raw = json.load(fh)
            self.deselect = {f: set(ids) for f, ids in raw.get("deselect", {}).items()}
        self.recorder = None
        #: Why this run records nothing (another coverage.py measurement runs in it).
        self.not_recording = None
        #: The tests deselected as unaffected (keeping their stored records): node id -> file.
        self.kept = {}
        #: What each xdist worker recorded (the controller's view).
        self.worker_outputs = []

    def start(self, early_config):
        """Start recording (before any conftest is imported: every conftest, the repository's
        root one included, is seen), unless another coverage.py measurement runs in this
        process (``pants test --use-coverage``): coverage.py measures one way at a time, so the
        run then records nothing, and the targets' stored records stay as they were."""
        why = _probes_mod.other_measurement(early_config.known_args_namespace)
        if why is not None:
            self.not_recording = why
            return
        _env_mod.remember_environ()  # variables count with their values before any conftest
        self.recorder = _recorder_mod.Recorder(self.root, preloaded=_PRELOADED)

    def _sink(self, records, edges):
        self.records.extend(records)

    def configure(self, config):
        config.addinivalue_line(
            "markers", "diff_always: difftest runs this test every time, whatever changed."
        )
        if self.recorder is None:
            return
        _env_mod.refresh()
        hasher = SandboxHasher(self.root, self.roots)
        env = {_plan_mod.PYTEST_CONFIG_KEY: _plan_mod.pytest_config_value(config)}
        builder = SandboxRecordBuilder(
            self.recorder.paths,
            hasher,
            cache_size=100000,
            env=env,
            preloaded=self.recorder.preloaded,
        )
        builder.roots = self.roots
        builder.facts.want_names = False  # the Pants artifact holds no name facts
        # Node ids are relative to pytest's rootdir, which depends on the arguments when there is
        # no ini file (a batch of targets may give another one): store them root-relative.
        prefix = self._rel(config.rootpath)
        self.prefix = "" if prefix in (None, "", ".") else prefix + "/"
        # The tests deselected as unaffected keep their stored records: their files are complete
        # without them (a test deselected any other way, `-k`, leaves its file incomplete).
        self.kept = {
            nodeid[len(self.prefix) :]: file
            for file, ids in self.deselect.items()
            for nodeid in ids
            if nodeid.startswith(self.prefix)
        }
        self.recorder.bind(builder, self._sink, batch_size=50, recorded=self.kept)
        config.pluginmanager.register(self.recorder, "difftest-pants-recorder")

    def _rel(self, path):
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return None

    def modify_items(self, config, items):
        keep, drop = [], []
        for item in items:
            rel = self._rel(item.path)
            nodeid = self.prefix + item.nodeid
            if rel is not None:
                self.collected.setdefault(rel, []).append(nodeid)
            skip = self.deselect.get(rel)
            if skip and nodeid in skip and item.get_closest_marker("diff_always") is None:
                drop.append(item)
            else:
                keep.append(item)
        if drop:
            self.deselected += len(drop)
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def status(self, items):
        lines = []
        if self.deselect:
            lines.append(
                f"difftest: {len(items)} selected, {self.deselected} deselected as unaffected"
            )
        if self.not_recording is not None:
            lines.append(f"difftest: not recording, {self.not_recording}")
        return lines

    def finish(self, session):
        if session.exitstatus == 5 and self.deselected:
            session.exitstatus = 0
        if self.recorder is None:
            return
        try:
            result = self.recorder.finish()
        finally:
            self.recorder.close()
        config = session.config
        if hasattr(config, "workerinput"):
            # An xdist worker records the tests it ran; the controller, the one writer of the
            # record files, merges every worker's (each worker writing its own lost the others').
            config.workeroutput[XDIST_OUTPUT] = json.dumps(
                {
                    "records": [self._record_json(r) for r in self.records],
                    "collected": self.collected,
                    "items": result.items,
                    "finished": result.finished,
                }
            )
            return
        self._write()

    def _record_json(self, rec):
        return {
            "nodeid": rec.nodeid
            if rec.nodeid.endswith(_model_mod.COLLECT_SUFFIX)
            else self.prefix + rec.nodeid,
            "file": rec.file,
            "outcome": rec.outcome,
            "duration": round(rec.duration, 3),
            "deps": [
                _dep_json(d)
                for d in rec.deps
                if not is_injected(d.key) and not is_machinery(d.key, self.roots)
            ],
        }

    def _merged(self):
        """This process's records and every xdist worker's, by node id; and the collected node
        ids by test file."""
        by_id = {}
        collected = {f: set(ids) for f, ids in self.collected.items()}
        outputs = [json.loads(text) for text in self.worker_outputs]
        for rec in [self._record_json(r) for r in self.records] + [
            r for out in outputs for r in out["records"]
        ]:
            seen = by_id.get(rec["nodeid"])
            if seen is None:
                by_id[rec["nodeid"]] = rec
                continue
            # Every worker collects every file: one collection record each.
            seen["outcome"] = _outcomes_mod.worst(seen["outcome"], rec["outcome"])
            known = {tuple(d) for d in seen["deps"]}
            seen["deps"] += [d for d in rec["deps"] if tuple(d) not in known]
        for out in outputs:
            for file, ids in out["collected"].items():
                collected.setdefault(file, set()).update(ids)
        if outputs:
            # Each worker ran its share of a file's tests: the file is complete when every test
            # collected from it ran to its end on some worker, or kept its stored record.
            finished = {n for out in outputs for n in out["finished"]}
            incomplete = _outcomes_mod.incomplete_files(
                _outcomes_mod.collected_items(outputs), finished, self.kept
            )
            for rec in by_id.values():
                if rec["nodeid"].endswith(_model_mod.COLLECT_SUFFIX) and rec["outcome"] in (
                    "passed",
                    _model_mod.INCOMPLETE,
                ):
                    complete = rec["file"] not in incomplete
                    rec["outcome"] = "passed" if complete else _model_mod.INCOMPLETE
        return by_id, collected

    def _write(self):
        by_id, collected = self._merged()
        by_file = {}
        for rec in by_id.values():
            by_file.setdefault(rec["file"], []).append(rec)
        os.makedirs(_OUT, exist_ok=True)
        for file in sorted(set(by_file) | set(collected)):
            doc = {
                "format": "difftest-pants-records",
                "version": RECORDS_VERSION,
                "file": file,
                "collected": sorted(collected.get(file, ())),
                "deselected": sorted(self.deselect.get(file, ())),
                "records": sorted(by_file.get(file, ()), key=lambda r: r["nodeid"]),
            }
            path = os.path.join(_OUT, safe_name(file))
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, sort_keys=True, indent=0)


_PLUGIN = _PantsRecording(_ROOT)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    _PLUGIN.start(early_config)


def pytest_configure(config):
    _PLUGIN.configure(config)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    _PLUGIN.modify_items(config, items)


def pytest_report_collectionfinish(config, items):
    return _PLUGIN.status(items)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    _PLUGIN.finish(session)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    output = getattr(node, "workeroutput", {}).get(XDIST_OUTPUT)
    if output:
        _PLUGIN.worker_outputs.append(output)
