"""The environment a test ran against: Python, installed distributions and their versions.

A distribution change re-selects the tests whose imports reach that distribution (through the
distributions it requires), and the tests whose code looked it up by name or enumerated every
distribution (``importlib.metadata``); a Python change re-selects everything.
"""

from __future__ import annotations

import csv
import os
import platform
import re
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from difftest.changes.scan import FileHasher, iter_project_files
from difftest.model import ABSENT, ENV_PREFIX, digest

PYTHON_KEY = ENV_PREFIX + "python"
DIST_PREFIX = ENV_PREFIX + "dist/"
#: An environment variable project code read: a digest of its value (never the value: the
#: baseline is shared), or "unset".
VAR_PREFIX = ENV_PREFIX + "var/"
#: Set by pytest and its plugins for one run or one worker: never what a test depends on. Not
#: every ``PYTEST_`` name: ``PYTEST_BASE_URL`` (pytest-base-url) and the like are the user's.
_RUN_VARS = ("PYTEST_CURRENT_TEST", "PYTEST_VERSION", "PYTEST_XDIST_", "COV_CORE_", "DIFFTEST_")
#: The environment a process started from project code inherits: the run's environment at its
#: start, but for the run's own variables (``_RUN_VARS``) and ``_SESSION_VARS``, as
#: :func:`spawn_environ_value` gives it (never the values).
SPAWN_ENVIRON_KEY = ENV_PREFIX + "spawn-environ"
#: Where the run started, relative to the project root (:func:`cwd_value`): a test that opens
#: a relative path (``open("data.txt")``, ``os.listdir()``) reads another file, or none, when
#: pytest starts from another directory, though no file changed.
CWD_KEY = ENV_PREFIX + "cwd"
#: Variables that differ from one shell session, terminal or CI job to the next, but that no
#: program's behaviour depends on: left out of :data:`SPAWN_ENVIRON_KEY`, or every test that
#: starts a process would run again in every new terminal and every CI run. Any other variable
#: that changes run to run re-runs those tests, and ``--diff-v`` names it.
_SESSION_VARS = frozenset(
    {
        # the shell and the terminal
        *("_", "PWD", "OLDPWD", "SHLVL", "COLUMNS", "LINES", "LS_COLORS", "WINDOWID"),
        *("TERM_SESSION_ID", "XDG_SESSION_ID", "DBUS_SESSION_BUS_ADDRESS", "GPG_TTY"),
        *("TMUX", "TMUX_PANE", "STY", "INVOCATION_ID", "JOURNAL_STREAM"),
        *("SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY", "SSH_AUTH_SOCK"),
        # a CI run: its number, commit and per-step files and tokens
        *("GITHUB_RUN_ID", "GITHUB_RUN_NUMBER", "GITHUB_RUN_ATTEMPT", "GITHUB_SHA"),
        *("GITHUB_JOB", "GITHUB_ACTION", "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STATE"),
        *("GITHUB_PATH", "GITHUB_STEP_SUMMARY", "RUNNER_TRACKING_ID"),
        *("ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        *("CI_JOB_ID", "CI_JOB_URL", "CI_JOB_TOKEN", "CI_JOB_STARTED_AT", "CI_PIPELINE_ID"),
        *("CI_PIPELINE_IID", "CI_PIPELINE_URL", "CI_COMMIT_SHA", "CI_COMMIT_SHORT_SHA"),
        *("BUILD_NUMBER", "BUILD_ID", "BUILD_URL", "BUILD_TAG", "EXECUTOR_NUMBER"),
    }
)
#: The process environment when the run started (before any conftest could change it).
_environ_at_start: dict[str, str] | None = None
_cwd_at_start: str | None = None
#: A pytest option project code read (``config.getoption("--runslow")``): a digest of its
#: value, "absent" if no such option is registered now.
OPTION_PREFIX = ENV_PREFIX + "option/"
#: The parsed options of this run (pytest's ``config.option``), once the front end tells them.
_options: Any = None
#: A top-level module a test tried to import and could not: "absent" until it can be imported
#: (its distribution's name may differ: ``yaml`` comes with PyYAML).
MODULE_PREFIX = ENV_PREFIX + "module/"
#: A top-level module a test imported, by name: which project files would provide it in the
#: directories modules are imported from (``tests/yaml.py``, ``src/app/__init__.py``), or
#: "absent". Those directories come before site-packages on ``sys.path``, and some before
#: others (pytest puts a test directory first), so a new one can change what the import runs.
SHADOW_PREFIX = ENV_PREFIX + "shadow/"
#: Every installed distribution, as code that enumerates them sees them (``entry_points()``,
#: ``distributions()``, ``packages_distributions()``: plugin discovery): a digest of their
#: names, versions and entry points. Installing, removing or upgrading any one changes it.
DISTRIBUTIONS_KEY = ENV_PREFIX + "distributions"
#: A top-level module imported from outside both the project and every installation (a sibling
#: project installed in editable mode, a ``pythonpath`` entry such as ``../shared``): a digest
#: of its files, "installed" once an installation holds it, or "absent".
SOURCE_PREFIX = ENV_PREFIX + "source/"


def python_fingerprint(
    optimize: int | None = None, warnoptions: Iterable[str] | None = None
) -> str:
    """The interpreter the tests run in: implementation, version, platform, ``-O`` level
    (asserts and ``if __debug__:`` blocks of project code run only without it) and warning
    options (``-W``, ``PYTHONWARNINGS``, ``-X dev``, ``-b``: ``-W error`` fails a test whose code
    warns, and pytest shows deprecation warnings its own way only when there are none), in
    ``sys.warnoptions``' order (a later option wins). ``optimize``, ``warnoptions``: those of
    the interpreter the tests run in when it is not this one (xdist workers)."""
    level = sys.flags.optimize if optimize is None else optimize
    flags = f" -{'O' * level}" if level > 0 else ""
    options = sys.warnoptions if warnoptions is None else warnoptions
    # Quoted as a shell would need them: one option with a space (a message to match) stays
    # one, and the value reads as the command line that gives it.
    flags += "".join(f"{_WARNOPTION_FLAG}{shlex.quote(option)}" for option in options)
    return f"{platform.python_implementation()} {platform.python_version()} {sys.platform}{flags}"


#: What comes before each warning option in :func:`python_fingerprint`.
_WARNOPTION_FLAG = " -W "


def describe_python_change(was: str, now: str) -> str:
    """Why ``<env>/python`` changed from ``was`` to ``now`` (values of
    :func:`python_fingerprint`)."""
    interpreter, _, options = now.partition(_WARNOPTION_FLAG)
    before, _, options_before = was.partition(_WARNOPTION_FLAG)
    if interpreter != before or options == options_before:
        return f"python is now {now}"
    shown = (_WARNOPTION_FLAG + options).strip() if options else "none"
    return f"python's warning options (-W, PYTHONWARNINGS) are now {shown}"


def child_optimize() -> int:
    """The ``-O`` level of a Python this process starts without ``-O`` (as pytest-xdist starts
    its workers): what ``PYTHONOPTIMIZE`` gives, read as CPython reads it."""
    value = os.environ.get("PYTHONOPTIMIZE", "")
    if not value:
        return 0
    try:
        level = int(value)
    except ValueError:
        return 1
    return 1 if level < 0 else level


def child_warnoptions() -> list[str]:
    """The ``sys.warnoptions`` of a Python this process starts without ``-W``, ``-X dev`` or
    ``-b`` (as pytest-xdist starts its workers): what ``PYTHONDEVMODE`` and ``PYTHONWARNINGS``
    give, in CPython's order, each option once (as CPython keeps them)."""
    found: list[str] = []
    given = ["default"] if os.environ.get("PYTHONDEVMODE") else []
    given.extend(os.environ.get("PYTHONWARNINGS", "").split(","))
    for option in given:
        if option and option not in found:
            found.append(option)
    return found


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_key(name: str) -> str:
    return DIST_PREFIX + normalize(name)


def module_key(name: str) -> str:
    return MODULE_PREFIX + name


def shadow_key(name: str) -> str:
    return SHADOW_PREFIX + name


def module_files(root: str, name: str) -> tuple[str, str]:
    """The files that make ``name`` a module or a regular package of import root ``root``."""
    prefix = root + "/" if root else ""
    return (f"{prefix}{name}.py", f"{prefix}{name}/__init__.py")


def source_key(name: str) -> str:
    return SOURCE_PREFIX + name


@lru_cache(maxsize=1)
def _installation_dirs() -> tuple[str, ...]:
    """Where installed and standard modules live: the interpreter's and the environment's
    prefixes, and every site directory."""
    import site
    import sysconfig

    found = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    found.update(sysconfig.get_paths().values())
    try:
        found.update(site.getsitepackages())
        found.add(site.getusersitepackages())
    except AttributeError:  # an old virtualenv's site module
        pass
    return tuple(sorted({os.path.realpath(d) for d in found if d}))


def _module_locations(name: str) -> list[str] | None:
    """The file of top-level module ``name``, or its package's directories; None when it is
    built in, frozen, or cannot be found."""
    import importlib.util

    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None) if module is not None else None
    if spec is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
    if spec is None:
        return None
    search = spec.submodule_search_locations
    if search is not None:
        return [os.fsdecode(entry) for entry in search]
    origin = spec.origin
    return [origin] if spec.has_location and isinstance(origin, str) else None


def outside_sources(name: str) -> list[str] | None:
    """Where top-level module ``name`` is imported from, when no installation holds it and it is
    not a project module (the caller knows those): a sibling project installed in editable mode,
    whose edits change no version, or a ``pythonpath`` entry outside the project. None for an
    installed, standard, built-in or missing module."""
    locations = _module_locations(name)
    if not locations:
        return None
    installed_in = _installation_dirs()
    outside = [
        path
        for path in (os.path.realpath(p) for p in locations)
        if not any(path == d or path.startswith(d + os.sep) for d in installed_in)
    ]
    return sorted(outside) or None


def source_value(name: str) -> str:
    """The value of :func:`source_key` ``(name)`` now."""
    found = outside_sources(name)
    if found is None:
        return ABSENT if _module_locations(name) is None else "installed"
    return sources_digest(found)


def sources_digest(locations: Iterable[str]) -> str:
    """A digest of the content of the files at ``locations`` (what :func:`outside_sources`
    gives): the files of each directory, caches left out, or the file itself."""
    parts: list[str] = []
    for location in locations:
        if os.path.isdir(location):
            root = Path(location)
            rels = [r for r in iter_project_files(root) if not r.endswith((".pyc", ".pyo"))]
        else:
            root, rels = Path(location).parent, [Path(location).name]
        hasher = FileHasher(root)
        parts.extend(f"{rel} {hasher.hash(rel) or ABSENT}" for rel in rels)
    return f"{len(parts)} files:" + digest("\0".join(parts).encode("utf-8", "surrogateescape"))


def shadow_value(is_file: Callable[[str], bool], roots: Iterable[str], name: str) -> str:
    """The value of :func:`shadow_key` ``(name)``: the root-relative files among
    :func:`module_files` of every import root that exist, comma-joined, or "absent"."""
    found = [
        path
        for root in sorted({r.strip("/") for r in roots})
        for path in module_files(root, name)
        if is_file(path)
    ]
    return ",".join(found) or ABSENT


def remember_environ() -> None:
    """Take the environment as it is at the start of a run: a variable counts with the value it
    had then (what a conftest or a test sets later is the project's doing, the same each run);
    so does the working directory (:func:`cwd_value`)."""
    global _environ_at_start, _cwd_at_start
    _environ_at_start = dict(os.environ)
    _cwd_at_start = os.getcwd()


def cwd_value(root: str | os.PathLike[str]) -> str:
    """The value of :data:`CWD_KEY`: the directory the run started in (as
    :func:`remember_environ` took it), relative to the project root ``root``, so that the same
    layout on another machine gives the same value."""
    cwd = _cwd_at_start if _cwd_at_start is not None else os.getcwd()
    return Path(os.path.relpath(cwd, root)).as_posix()


def environ_at_start() -> dict[str, str]:
    """The environment as :func:`remember_environ` took it (as it is now, if it did not)."""
    return dict(_environ_at_start if _environ_at_start is not None else os.environ)


def spawn_environ_value() -> str:
    """The value of :data:`SPAWN_ENVIRON_KEY` now: the number of variables and a digest of them
    all, then for each its name and a short digest of its value (enough to name what changed,
    :func:`describe_spawn_environ_change`; the whole digest is what tells a change)."""
    environ = sorted(
        (name, value)
        for name, value in environ_at_start().items()
        if name not in _SESSION_VARS and not name.startswith(_RUN_VARS)
    )
    whole = digest("\0".join(f"{n}={v}" for n, v in environ).encode("utf-8", "surrogateescape"))
    marks = ";".join(f"{n}={digest(v.encode('utf-8', 'surrogateescape'))[:4]}" for n, v in environ)
    return f"{len(environ)} variables {whole};{marks}"


def _spawn_environ_marks(value: str) -> dict[str, str] | None:
    head, sep, marks = value.partition(";")
    if not sep and not head.endswith(" variables"):
        return None
    return dict(m.partition("=")[::2] for m in marks.split(";") if m)


def describe_spawn_environ_change(was: str, now: str) -> str:
    """Why :data:`SPAWN_ENVIRON_KEY` changed from ``was`` to ``now`` (values of
    :func:`spawn_environ_value`): the variables set, unset or changed."""
    what = "the environment a started process inherits changed"
    before, after = _spawn_environ_marks(was), _spawn_environ_marks(now)
    if before is None or after is None:
        return what
    changes = [
        f"{name} {'unset' if name not in after else 'set' if name not in before else 'changed'}"
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]
    if not changes:
        return what  # only a value whose short digest is the same: the whole digest differs
    shown = ", ".join(changes[:3]) + (f" and {len(changes) - 3} more" if len(changes) > 3 else "")
    return f"{what} ({shown})"


def option_key(name: str) -> str:
    return OPTION_PREFIX + name


def remember_options(namespace: Any) -> None:
    """The options of this run (read when an ``<env>/option/`` key is valued)."""
    global _options
    _options = namespace


def option_value(name: str) -> str:
    if _options is None:
        return "unknown"
    found = vars(_options).get(name, _ABSENT_OPTION)
    if found is _ABSENT_OPTION:
        return "absent"
    return "value:" + digest(repr(found).encode("utf-8", "replace"))


_ABSENT_OPTION = object()


def var_key(name: str) -> str:
    return VAR_PREFIX + name


def tracked_var(name: str, now: str | None) -> bool:
    """Whether a read of variable ``name`` (value ``now``) is a dependency: it is no run's own,
    and still has the value it had when the run started."""
    if name.startswith(_RUN_VARS) or _environ_at_start is None:
        return False
    return now == _environ_at_start.get(name)


def var_value(name: str) -> str:
    start = _environ_at_start if _environ_at_start is not None else os.environ
    return value_of_var(start.get(name))


def value_of_var(value: str | None) -> str:
    """How a variable's value is stored: "unset", or a digest of it."""
    if value is None:
        return "unset"
    return "set:" + digest(value.encode("utf-8", "surrogateescape"))


#: A line of a header block, as the email parser (policy compat32) tells one: a field, a
#: continuation, or an envelope line. Anything else (the blank separator) ends the block.
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")
_FIELDS = ("Name", "Version", "Requires-Dist")


def _core_fields(dist: Any) -> dict[str, list[str]]:
    """Name, Version and Requires-Dist of a distribution (lower-case field name -> values, in
    order), read as ``dist.metadata`` reads them. Its email parser takes about a millisecond
    per distribution, which every run paid for every installed distribution; the header block
    is all these fields need."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if text is None:  # an egg-info file, or no metadata at all: the library's own way
        message = dist.metadata
        return {f.lower(): list(message.get_all(f) or ()) for f in _FIELDS}
    fields: dict[str, list[str]] = {}
    values: list[str] | None = None
    for line in text.split("\n"):  # read_text has turned every line ending into "\n"
        if not _HEADER_LINE.match(line):
            break
        if line[0] in " \t":
            if values is not None:
                values[-1] += "\n" + line
        elif not line.startswith("From "):
            name, _, value = line.partition(":")
            if name:
                values = fields.setdefault(name.lower(), [])
                values.append(value.lstrip(" \t"))
    return {f.lower(): [v.rstrip("\r\n") for v in fields.get(f.lower(), ())] for f in _FIELDS}


#: Joins a locally built distribution's version and a digest of the files it installed.
_FILES_MARK = " (files "


@lru_cache(maxsize=1)
def _distributions() -> tuple[dict[str, str], dict[str, frozenset[str]], tuple[Any, ...]]:
    """(dist -> version, dist -> required dists, (dist, distribution object) pairs), for what
    is installed. Each distribution's metadata is read once."""
    from importlib import metadata

    versions: dict[str, str] = {}
    requires: dict[str, frozenset[str]] = {}
    found = []
    for dist in metadata.distributions():
        fields = _core_fields(dist)
        name = next(iter(fields["name"]), None)
        if not name:
            continue
        key = normalize(name)
        if key in versions:  # the first on sys.path wins, as for imports
            continue
        found.append((key, dist))
        version = next(iter(fields["version"]), None) or dist.version
        if dist.read_text("direct_url.json") is not None:
            # Installed from a local directory or file (often the project itself, with `pip
            # install .`): a new build keeps its version, so the files it installed count too.
            record = dist.read_text("RECORD") or ""
            version += _FILES_MARK + digest(record.encode()) + ")"
        versions[key] = version
        listed = fields["requires-dist"]
        if not listed and dist.read_text("requires.txt") is not None:
            listed = dist.requires or []  # an egg-info's requirements
        reqs = set()
        for req in listed:
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
            if match and "extra ==" not in req.replace('"', "").replace("'", ""):
                reqs.add(normalize(match.group(1)))
        requires[key] = frozenset(reqs)
    return versions, requires, tuple(found)


@lru_cache(maxsize=1)
def _modules() -> dict[str, frozenset[str]]:
    """Top-level module -> distributions providing it (from ``top_level.txt``, else the RECORD
    file list), as ``importlib.metadata.packages_distributions`` computes it."""
    found: dict[str, set[str]] = {}
    for name, dist in _distributions()[2]:
        tops = (dist.read_text("top_level.txt") or "").split()
        if not tops:
            for file in _listed_files(dist):
                parts = file.split("/")
                top = parts[0]
                if len(parts) == 1:
                    if not top.endswith(".py"):
                        continue
                    top = top[:-3]
                elif top.endswith((".dist-info", ".egg-info", ".data")) or top == "..":
                    continue
                tops.append(top)
        for top in tops:
            found.setdefault(top, set()).add(name)
    return {k: frozenset(v) for k, v in found.items()}


def _listed_files(dist: Any) -> list[str]:
    """The files a distribution's RECORD lists. ``dist.files`` would also check that each one
    exists (a ``stat`` per file, 50 ms of a small suite's recording run); a listed file that is
    gone only names a module the distribution may provide, which costs selections, never one."""
    record = dist.read_text("RECORD")
    if record is None:
        return [str(file) for file in dist.files or ()]
    return [row[0] for row in csv.reader(record.splitlines()) if row]


def _metadata() -> tuple[dict[str, str], dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """(dist -> version, dist -> required dists, top-level module -> dists), for what is installed."""
    versions, requires, _ = _distributions()
    return versions, requires, _modules()


@lru_cache(maxsize=1)
def distributions_value() -> str:
    """The value of :data:`DISTRIBUTIONS_KEY` now: what enumerating finds, names, versions and
    entry points (not the files of a local build, which change with every edit of a project
    that CI installs with ``pip install .``, and which its importers depend on already)."""
    versions, _, found = _distributions()
    listed = sorted(
        f"{name} {versions[name].partition(_FILES_MARK)[0]}\n"
        f"{dist.read_text('entry_points.txt') or ''}"
        for name, dist in found
    )
    return f"{len(listed)} installed:" + digest("\0".join(listed).encode("utf-8", "replace"))


def installed() -> Mapping[str, str]:
    """Normalized distribution name -> version of everything importable."""
    return _distributions()[0]


def distributions_for_modules(top_level: Iterable[str]) -> set[str]:
    """The distributions providing these top-level modules, and everything they require."""
    requires = _distributions()[1]
    modules = _modules()
    todo = [d for name in top_level for d in modules.get(name, ())]
    seen: set[str] = set()
    while todo:
        dist = todo.pop()
        if dist not in seen:
            seen.add(dist)
            todo.extend(requires.get(dist, ()))
    return seen


def missing_modules(top_level: Iterable[str]) -> set[str]:
    """The top-level names no installed distribution provides and that cannot be imported now.

    A test that tried such an import (``try: import yaml``, ``pytest.importorskip("yaml")``)
    depends on it staying absent: recording ``<env>/module/<name>`` as "absent" re-selects it
    once the module can be imported, whatever distribution brings it.
    """
    import importlib.util

    modules = _modules()
    missing = set()
    for name in top_level:
        if name in modules or name in sys.modules or not name.isidentifier():
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            missing.add(name)
    return missing


def refresh() -> None:
    """Forget what was installed: the next question reads the metadata again."""
    _distributions.cache_clear()
    _modules.cache_clear()
    distributions_value.cache_clear()


def current_value(key: str) -> str:
    """The value of an environment key now (a dist's version, or "absent")."""
    if key == PYTHON_KEY:
        return python_fingerprint()
    if key.startswith(DIST_PREFIX):
        return installed().get(key[len(DIST_PREFIX) :], "absent")
    if key == DISTRIBUTIONS_KEY:
        return distributions_value()
    if key.startswith(SOURCE_PREFIX):
        return source_value(key[len(SOURCE_PREFIX) :])
    if key.startswith(VAR_PREFIX):
        return var_value(key[len(VAR_PREFIX) :])
    if key == SPAWN_ENVIRON_KEY:
        return spawn_environ_value()
    if key.startswith(OPTION_PREFIX):
        return option_value(key[len(OPTION_PREFIX) :])
    if key.startswith(MODULE_PREFIX):
        return "absent" if missing_modules([key[len(MODULE_PREFIX) :]]) else "importable"
    return "unknown"
