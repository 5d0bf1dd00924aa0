"""The shared vocabulary: frozen values passed between the stages.

Stages: changes -> graph -> selection -> front ends (pytest, Pants, CLI) -> storage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import NamedTuple


def digest(data: bytes) -> str:
    """A 128-bit content hash: wide enough that collisions are not a concern."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


#: Name of the block holding what a module runs at import time outside class bodies: module-level
#: statements, decorators, signatures, defaults and docstrings of module-level functions. Class
#: bodies are blocks of their own (kind "class"). A test that imported a module depends on all of
#: the module's import-time blocks.
MODULE_BLOCK = "<module>"
#: Name of the block (kind "doctests") holding a file's module and class docstrings that contain
#: doctest examples: the code of the doctests of the module and its classes, which only those
#: doctests depend on (a function's docstring is part of the function's block).
DOCSTRINGS_BLOCK = "<docstrings>"
#: Prefix of a function's name in a dependency on it that only code run at import or
#: collection time gave (``@register``): the test did not run the function itself, it imported
#: a module whose import ran it. Its fingerprint is the function block's.
AT_IMPORT = "@"
#: Name of the pseudo-block standing for a whole non-Python file (its content hash).
DATA_BLOCK = "<data>"
#: Name of the pseudo-block standing for a whole project file (its content hash) that a test
#: depends on because it started a process (a subprocess, a fork) from project code: what that
#: process ran and read is not measured, so every project file counts.
SPAWN_BLOCK = "<spawned>"
#: Last part of the key of a directory's listing (``plugins/<listing>``; ``<listing>`` alone for
#: the root), a data dependency whose version is a hash of the names in the directory: a test
#: that listed a directory (``os.listdir``, ``glob``, ``Path.iterdir``) sees files come and go.
LISTING = "<listing>"
#: Last part of the key of the extension modules in a directory (``app/<extensions>``), a data
#: dependency whose version names them (or is :data:`NO_EXTENSIONS`): one built in place
#: (Cython, mypyc, ``build_ext --inplace``) imports before a .py of the same name, or provides
#: a module whose import failed, so what a test that imported that directory's modules runs
#: changes with no .py changing.
EXTENSIONS = "<extensions>"
#: Version of an :data:`EXTENSIONS` key of a directory that holds no extension module.
NO_EXTENSIONS = "none"
#: Name of the pseudo-block of an environment item (its value is the version and fingerprint).
ENV_BLOCK = "<env>"
#: Fingerprint of a file that did not exist when a test looked for it.
ABSENT = "absent"
#: Version of a data dependency that is a directory now: a test that checked for a path
#: (``os.path.exists``, ``Path.is_dir``) while nothing was there runs again when a directory
#: appears there, as it does when a file does.
DIRECTORY = "directory"
#: Version prefix of a data dependency that is a symbolic link to nothing now: ``lexists`` and
#: ``islink`` see it, reading it fails. Followed by a hash of where it points.
DANGLING_PREFIX = "dangling:"
#: Appended to the content hash of an executable file in its version: ``chmod -x`` and a checkout
#: that flips a file's mode (100755 -> 100644) change what a test that runs it sees.
EXECUTABLE_MARK = "+x"
#: Appended to the version of a symbolic link (to a file or a directory), followed by a hash of
#: where it points: retargeting ``releases/current`` from ``v1`` to ``v2`` changes it, whatever
#: the two hold.
LINK_MARK = "+link:"
#: Prefix of dependency keys that are not files: the Python version, a distribution, pytest's config.
ENV_PREFIX = "<env>/"
#: The version of the name-facts analysis (:mod:`difftest.changes.names`) that wrote a file's
#: facts. Raised whenever the analysis changes what a function or statement counts as: facts of
#: an earlier analysis are not trusted (the file is judged as if nothing were known of it) and are
#: computed again on the next ``--diff-baseline`` run.
FACTS_VERSION = 8
#: How the JSON of facts of this version ends (keys are sorted: "v" comes last).
FACTS_TAIL = f'"v":{FACTS_VERSION}}}'
#: Suffix of the pseudo test id that records what collecting a test file depends on.
COLLECT_SUFFIX = "::<collect>"
#: The outcome of a test file's collection record when some test collected from the file neither
#: ran to its end in the recording run (deselected with ``-k``, ``--deselect`` or a shard's
#: filter, left by ``-x``, interrupted) nor had a record already: the file is collected again
#: until every test in it has a record, so those tests run as new.
INCOMPLETE = "incomplete"
#: Outcomes that are re-selected until they pass.
UNSETTLED_OUTCOMES = ("failed", "error", INCOMPLETE)


@dataclass(frozen=True)
class Block:
    """A unit of code whose fingerprint is compared between runs.

    ``name`` is the qualified name (``func``, ``Class``, ``Class.method``) or :data:`MODULE_BLOCK`.
    ``start``/``end`` bound the lines whose execution makes a test depend on this block: a
    function's body; for import-time blocks (kind "module" or "class") they span the source.
    """

    name: str
    kind: str  # "module" | "class" | "function" | "doctests"
    start: int
    end: int
    checksum: str


class Dependency(NamedTuple):
    """One thing a test ran against.

    ``key`` is a root-relative POSIX file path or an ``<env>/...`` key; ``version`` the file's
    content hash (or the environment value) at the time; ``name`` a block name, DATA_BLOCK for a
    whole file, or ENV_BLOCK; ``fingerprint`` the block checksum (or the version again).

    A named tuple, not a dataclass: a recording run hashes and compares hundreds of thousands of
    these (a record's dependencies are de-duplicated), and a tuple does both in C, four times
    as fast.
    """

    key: str
    version: str
    name: str
    fingerprint: str


@dataclass(frozen=True)
class TestRecord:
    """What one test (or one test file's collection) ran against, and how it ended."""

    __test__ = False  # not a pytest test class, despite the name

    nodeid: str
    file: str
    #: "passed" | "failed" | "skipped" | "xfailed" | "xpassed" | "error", or for a collection
    #: record INCOMPLETE.
    outcome: str
    duration: float
    deps: tuple[Dependency, ...]


@dataclass(frozen=True)
class Reason:
    """Why a test was selected; ``kind`` is a short stable slug, ``detail`` human text."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


Dependencies = tuple[Dependency, ...]


def block_of(name: str) -> str:
    """The block a dependency's name stands for (:data:`AT_IMPORT` dropped)."""
    return name[len(AT_IMPORT) :] if name.startswith(AT_IMPORT) else name
