"""The root ``conftest.py`` the difftest Pants plugin injects into each pytest sandbox.

This file is not imported by Pants: the plugin copies its text into the sandbox, next to a copy
of the difftest engine under ``.difftest/pants/engine/`` (a directory difftest never records).
It runs on the tests' interpreter under Pants' pytest tool, and does two things:

- records, per test, what it ran against (the engine's pytest recorder; coverage.py comes from
  Pants' pytest tool, networkx is not needed), and writes one JSON file per test file to
  ``extra-output/difftest/`` (Pants returns it as the result's ``extra_output``, also on cache hits);
- when ``.difftest/pants/select.json`` is in the sandbox (``pants difftest`` puts it there),
  deselects the recorded tests it lists as unaffected; a run where everything was deselected
  exits 0, not pytest's 5.

The injected file must not depend on the target: batched targets share one sandbox.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_ENGINE = os.path.join(_HERE, ".difftest", "pants", "engine")
_SELECT = os.path.join(_HERE, ".difftest", "pants", "select.json")
_OUT = os.path.join(_HERE, "extra-output", "difftest")
#: Version of the per-file record JSON (read back by the plugin's artifact module).
RECORDS_VERSION = 1
#: This file, as the records would name it: dropped from every record (it is not in the workspace).
_SELF = "conftest.py"

if _ENGINE not in sys.path:
    sys.path.insert(0, _ENGINE)


def _load(name):
    # A non-literal dynamic import: difftest's static import scanner must not see the engine
    # (it lives outside the recorded project), and it is imported before recording starts.
    loader = __import__("importlib")
    return loader.import_module(name)


_recorder_mod = _load("difftest.runners.pytest.recorder")
_records_mod = _load("difftest.runners.pytest.records")
_scan_mod = _load("difftest.changes.scan")
_model_mod = _load("difftest.model")
_plan_mod = _load("difftest.runners.pytest.plan")
_env_mod = _load("difftest.changes.environment")


def safe_name(path):
    """A flat file name for a root-relative test file path."""
    return path.replace("/", "__").replace(":", "_") + ".json"


def _dep_json(dep):
    return [dep.key, dep.version, dep.name, dep.fingerprint]


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
        if os.path.exists(_SELECT):
            with open(_SELECT, encoding="utf-8") as fh:
                raw = json.load(fh)
            self.deselect = {f: set(ids) for f, ids in raw.get("deselect", {}).items()}
        # Started now, while the root conftest is imported: every other conftest is seen.
        self.recorder = _recorder_mod.Recorder(self.root)

    def _sink(self, records, edges):
        self.records.extend(records)

    def configure(self, config):
        config.addinivalue_line(
            "markers", "diff_always: difftest runs this test every time, whatever changed."
        )
        _env_mod.refresh()
        hasher = _scan_mod.FileHasher(self.root)
        env = {_plan_mod.PYTEST_CONFIG_KEY: _plan_mod.pytest_config_value(config)}
        builder = _records_mod.RecordBuilder(
            self.recorder.paths, hasher, cache_size=100000, env=env
        )
        self.recorder.bind(builder, self._sink, batch_size=50, recorded={})
        # Node ids are relative to pytest's rootdir, which depends on the arguments when there is
        # no ini file (a batch of targets may give another one): store them root-relative.
        prefix = self._rel(config.rootpath)
        self.prefix = "" if prefix in (None, "", ".") else prefix + "/"
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
        if self.deselect:
            return [f"difftest: {len(items)} selected, {self.deselected} deselected as unaffected"]
        return []

    def finish(self, session):
        if session.exitstatus == 5 and self.deselected:
            session.exitstatus = 0
        try:
            self.recorder.finish()
        finally:
            self.recorder.close()
        self._write()

    def _write(self):
        by_file = {}
        for rec in self.records:
            by_file.setdefault(rec.file, []).append(rec)
        os.makedirs(_OUT, exist_ok=True)
        for file in sorted(set(by_file) | set(self.collected)):
            recs = []
            for rec in sorted(by_file.get(file, ()), key=lambda r: r.nodeid):
                deps = [_dep_json(d) for d in rec.deps if d.key != _SELF]
                recs.append(
                    {
                        "nodeid": rec.nodeid
                        if rec.nodeid.endswith(_model_mod.COLLECT_SUFFIX)
                        else self.prefix + rec.nodeid,
                        "file": rec.file,
                        "outcome": rec.outcome,
                        "duration": round(rec.duration, 3),
                        "deps": deps,
                    }
                )
            doc = {
                "format": "difftest-pants-records",
                "version": RECORDS_VERSION,
                "file": file,
                "collected": sorted(self.collected.get(file, ())),
                "deselected": sorted(self.deselect.get(file, ())),
                "records": recs,
            }
            path = os.path.join(_OUT, safe_name(file))
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, sort_keys=True, indent=0)


_PLUGIN = _PantsRecording(_HERE)


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
