"""The plugin's pure logic: records in, the graph, and per-target decisions."""

from __future__ import annotations

import json
from pathlib import Path

from difftest import artifact
from difftest.artifact import EnvSnapshot, TargetInfo
from difftest.changes import scan
from difftest.changes.blocks import parse_blocks
from difftest.model import (
    COLLECT_SUFFIX,
    DATA_BLOCK,
    ENV_BLOCK,
    SPAWN_BLOCK,
    Dependency,
    TestRecord,
    digest,
)

ENV = EnvSnapshot(
    python="ic:==3.11.*",
    pytest_config="cfg",
    dists=(("six", "req:six==1.16.0"),),
    tool_dists=frozenset({"pytest"}),
    tool="tool:pytest==7.0.1",
    transitive="transitive:1",
)
LIB = b"def f():\n    return 1\n\n\ndef g():\n    return 2\n"
TEST = b"from lib import f, g\n\n\ndef test_f():\n    assert f() == 1\n\n\ndef test_g():\n    assert g() == 2\n"


def _blocks(path: str, content: bytes, names: list[str]) -> list[Dependency]:
    blocks = parse_blocks(content, path).by_name()
    return [Dependency(path, digest(content), n, blocks[n].checksum) for n in names]


def _records(*, six: bool = False) -> list[TestRecord]:
    common = _blocks("lib.py", LIB, ["<module>"]) + _blocks("test_x.py", TEST, ["<module>"])
    env = [Dependency("<env>/python", "sandbox", ENV_BLOCK, "sandbox")]
    if six:
        env.append(Dependency("<env>/dist/six", "1.16.0", ENV_BLOCK, "1.16.0"))
    data = [Dependency("data.json", digest(b"{}"), DATA_BLOCK, digest(b"{}"))]
    return artifact.with_env(
        [
            TestRecord(
                "test_x.py" + COLLECT_SUFFIX, "test_x.py", "passed", 0.0, tuple(common + env)
            ),
            TestRecord(
                "test_x.py::test_f",
                "test_x.py",
                "passed",
                0.1,
                tuple(common + _blocks("lib.py", LIB, ["f"]) + env + data),
            ),
            TestRecord(
                "test_x.py::test_g",
                "test_x.py",
                "passed",
                0.1,
                tuple(common + _blocks("lib.py", LIB, ["g"]) + env),
            ),
        ],
        ENV,
    )


def _with_deps(nodeid, extra):
    """The sample records, with ``extra`` dependencies added to the test ``nodeid``."""
    return [
        TestRecord(
            r.nodeid, r.file, r.outcome, r.duration, r.deps + (extra if r.nodeid == nodeid else ())
        )
        for r in _records()
    ]


def _decide(recs, contents, env=ENV, fingerprint="fp", stored="fp", sandbox=None):
    return artifact.decide(
        "t:x",
        "test_x.py",
        recs,
        stored,
        fingerprint,
        contents,
        sandbox if sandbox is not None else set(contents),
        env,
        in_pants_selection=True,
    )


def test_unchanged_target_is_skipped_and_a_function_edit_selects_only_its_test() -> None:
    now = {"lib.py": LIB, "test_x.py": TEST, "data.json": b"{}"}
    assert not _decide(_records(), now).run
    edited = dict(now, **{"lib.py": LIB.replace(b"return 2", b"return 3")})
    decision = _decide(_records(), edited)
    assert decision.run
    assert [n for n, _ in decision.affected] == ["test_x.py::test_g"]
    assert decision.deselect == ("test_x.py::test_f",)


def test_deleted_data_file_and_file_left_out_of_the_sandbox_select() -> None:
    now = {"lib.py": LIB, "test_x.py": TEST}
    decision = _decide(_records(), now)
    assert [n for n, _ in decision.affected] == ["test_x.py::test_f"]
    # The file still exists in the workspace, but a BUILD edit left it out of the sandbox.
    decision = _decide(
        _records(), dict(now, **{"data.json": b"{}"}), sandbox={"lib.py", "test_x.py"}
    )
    assert [n for n, _ in decision.affected] == ["test_x.py::test_f"]


def test_build_definition_change_and_missing_records() -> None:
    now = {"lib.py": LIB, "test_x.py": TEST, "data.json": b"{}"}
    decision = _decide(_records(), now, fingerprint="new")
    assert decision.run and decision.deselect == () and "BUILD" in decision.reasons[0]
    decision = _decide([], now)
    assert decision.run and decision.fallback
    decision = artifact.decide(
        "t:x", "test_x.py", [], None, "fp", now, set(now), ENV, in_pants_selection=False
    )
    assert not decision.run and decision.fallback


def test_requirement_bump_selects_only_tests_reaching_the_distribution() -> None:
    now = {"lib.py": LIB, "test_x.py": TEST, "data.json": b"{}"}
    recs = _records(six=True)
    recs = [
        r
        if r.nodeid != "test_x.py::test_g"
        else TestRecord(
            r.nodeid, r.file, r.outcome, r.duration, tuple(d for d in r.deps if "six" not in d.key)
        )
        for r in recs
    ]
    bumped = EnvSnapshot(
        ENV.python,
        ENV.pytest_config,
        (("six", "req:six==1.17.0"),),
        ENV.tool_dists,
        ENV.tool,
        "transitive:2",
    )
    decision = _decide(recs, now, env=bumped)
    assert [n for n, _ in decision.affected] == ["test_x.py::test_f"]
    assert "six" in " ".join(decision.reasons)


def test_a_module_a_test_could_not_import_is_valued_by_every_requirement_and_lockfile() -> None:
    # Which requirement would bring it is unknown: any change of them may.
    assert ENV.value("<env>/module/yaml") == ENV.transitive


def test_every_distribution_a_test_enumerated_is_valued_by_every_requirement_and_lockfile() -> None:
    # Entry-point discovery sees every installed distribution: any requirement may add one.
    assert ENV.value("<env>/distributions") == ENV.transitive
    assert ENV.value("<env>/source/shared") == ENV.transitive


def test_graph_round_trip_is_deterministic_and_drops_vanished_tests() -> None:
    graph, warnings = artifact.load("", "a")
    assert warnings == []
    artifact.update_structure(
        graph, [TargetInfo("t:x", "fp", ("test_x.py",), ("lib:lib",), "test_x.py")]
    )
    raw = _records()
    rec_file = artifact.RecordFile(
        "test_x.py", ("test_x.py::test_f", "test_x.py::test_g"), tuple(raw)
    )
    assert artifact.replace_target_records(graph, "t:x", "fp", [rec_file], ENV) == 2
    text = artifact.dump(graph)
    again, _ = artifact.load(text, "a")
    assert artifact.dump(again) == text
    assert json.loads(text)["version"] == 1
    assert {r.nodeid for r in artifact.target_records(again, "t:x")} == {
        "test_x.py" + COLLECT_SUFFIX,
        "test_x.py::test_f",
        "test_x.py::test_g",
    }
    # test_g disappeared from the file: its record goes.
    only_f = artifact.RecordFile("test_x.py", ("test_x.py::test_f",), tuple(raw[:2]))
    artifact.replace_target_records(again, "t:x", "fp", [only_f], ENV)
    assert "test:test_x.py::test_g" not in again
    assert artifact.drop_targets(again, []) == ["lib:lib", "t:x"]


def test_a_corrupt_artifact_is_replaced_with_a_warning() -> None:
    graph, warnings = artifact.load("{not json", ".difftest/pants-graph.json")
    assert graph.number_of_nodes() == 0 and "Every given test target runs" in warnings[0]


def _view(tmp_path: Path, files: dict[str, bytes]) -> None:
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)


def test_a_listing_is_computed_from_the_view_as_the_sandbox_listed_it(tmp_path: Path) -> None:
    now = {"lib.py": LIB, "test_x.py": TEST, "data/a.json": b"{}", "data/sub/b.json": b"[]"}
    # The sandbox's directory: the view's files, and what a run leaves (caches, compiled files).
    _view(tmp_path, {**now, "data/__pycache__/m.cpython-311.pyc": b"", "data/c.pyc": b""})
    listed = scan.listing_digest(tmp_path, "data")
    assert listed == scan.listing_digest_of(scan.listing_names_of_files(now, "data") or [])
    assert scan.listing_names_of_files(now, "data") == ["a.json", "sub/"]
    assert scan.listing_names_of_files(now, "nothing") is None
    key = scan.listing_key("data")
    assert (
        artifact.referenced_paths(
            [
                TestRecord(
                    "test_x.py::t",
                    "test_x.py",
                    "passed",
                    0.0,
                    (Dependency(key, "v", "<data>", "v"),),
                )
            ]
        )
        == set()
    )
    recs = _with_deps("test_x.py::test_g", (Dependency(key, listed, DATA_BLOCK, listed),))
    now["data.json"] = b"{}"
    assert not _decide(recs, now).run
    # Content edits inside the directory do not change its listing; a new file does.
    assert not _decide(recs, dict(now, **{"data/a.json": b"{1}"})).run
    decision = _decide(recs, dict(now, **{"data/new.json": b""}))
    assert [n for n, _ in decision.affected] == ["test_x.py::test_g"]
    assert "directory data gained or lost files" in decision.reasons[0]
    # The file still exists in the workspace, but left the target's sandbox: the listing changed.
    decision = _decide(recs, now, sandbox=set(now) - {"data/a.json"})
    assert [n for n, _ in decision.affected] == ["test_x.py::test_g"]


def test_extension_modules_are_computed_from_the_view_as_the_sandbox_found_them(
    tmp_path: Path,
) -> None:
    now = {"lib.py": LIB, "test_x.py": TEST, "data.json": b"{}", "app/fast.py": b"X = 1\n"}
    _view(tmp_path, {**now, "app/__pycache__/fast.cpython-311.pyc": b""})
    key = scan.extensions_key("app")
    found = scan.FileHasher(tmp_path).hash(key)
    assert found == artifact.ViewHasher(now, now).hash(key) == "none"
    dep = Dependency(key, "none", DATA_BLOCK, "none")
    # Not a file: the sandbox's file set gives its value.
    assert (
        artifact.referenced_paths([TestRecord("test_x.py::t", "test_x.py", "passed", 0.0, (dep,))])
        == set()
    )
    recs = _with_deps("test_x.py::test_g", (dep,))
    assert not _decide(recs, now).run
    decision = _decide(recs, dict(now, **{"app/fast.cpython-311-x86_64-linux-gnu.so": b""}))
    assert [n for n, _ in decision.affected] == ["test_x.py::test_g"]
    assert "extension modules in app are now fast.cpython-311" in decision.reasons[0]


def test_a_directory_appearing_where_a_test_found_nothing_is_seen_as_the_sandbox_saw_it(
    tmp_path: Path,
) -> None:
    now = {"lib.py": LIB, "test_x.py": TEST, "data.json": b"{}"}
    later = dict(now, **{"plugins/extra.py": b"NAME = 1\n"})
    _view(tmp_path, later)
    # The recorder in the sandbox and the plugin deciding from the view agree on each version.
    assert scan.FileHasher(tmp_path).data_version("plugins") == "directory"
    assert artifact.ViewHasher(later, later).data_version("plugins") == "directory"
    assert artifact.ViewHasher(now, now).data_version("plugins") == "absent"
    assert scan.FileHasher(tmp_path).data_version("nothing") == "absent"
    recs = _with_deps("test_x.py::test_g", (Dependency("plugins", "absent", DATA_BLOCK, "absent"),))
    assert not _decide(recs, now).run
    decision = _decide(recs, later)
    assert [n for n, _ in decision.affected] == ["test_x.py::test_g"]
    assert "directory plugins was created" in decision.reasons[0]


def test_a_root_listing_keeps_only_the_views_entries() -> None:
    files = ["pyproject.toml", "src/a/b.py", "tests/t.py", "src/a/__init__.py"]
    assert artifact.root_entries(files) == ["pyproject.toml", "src/", "tests/"]
    hasher = artifact.ViewHasher({}, files)
    assert hasher.hash(scan.listing_key("")) == scan.listing_digest_of(
        ["pyproject.toml", "src/", "tests/"]
    )
    assert hasher.hash(scan.listing_key("src/a")) == scan.listing_digest_of(["__init__.py", "b.py"])


def test_a_test_that_started_a_process_depends_on_every_view_file() -> None:
    now = {"lib.py": LIB, "test_x.py": TEST, "data.json": b"{}", "README.txt": b"x"}
    spawned = tuple(
        Dependency(p, digest(c), SPAWN_BLOCK, digest(c)) for p, c in sorted(now.items())
    )
    recs = _with_deps("test_x.py::test_f", spawned)
    assert not _decide(recs, now).run
    decision = _decide(recs, dict(now, **{"README.txt": b"y"}))
    assert [n for n, _ in decision.affected] == ["test_x.py::test_f"]
    # A file that is in the workspace but not in the target's sandbox any more counts as deleted.
    decision = _decide(recs, now, sandbox=set(now) - {"README.txt"})
    assert [n for n, _ in decision.affected] == ["test_x.py::test_f"]
