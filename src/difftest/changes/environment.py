"""The environment a test ran against: Python, installed distributions and their versions.

A distribution change re-selects the tests whose imports reach that distribution (through the
distributions it requires); a Python change re-selects everything.
"""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Iterable, Mapping
from functools import lru_cache

from difftest.model import ENV_PREFIX

PYTHON_KEY = ENV_PREFIX + "python"
DIST_PREFIX = ENV_PREFIX + "dist/"


def python_fingerprint() -> str:
    return f"{platform.python_implementation()} {platform.python_version()} {sys.platform}"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_key(name: str) -> str:
    return DIST_PREFIX + normalize(name)


@lru_cache(maxsize=1)
def _metadata() -> tuple[dict[str, str], dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """(dist -> version, dist -> required dists, top-level module -> dists), for what is installed."""
    from importlib import metadata

    versions: dict[str, str] = {}
    requires: dict[str, frozenset[str]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        key = normalize(name)
        if key in versions:  # the first on sys.path wins, as for imports
            continue
        versions[key] = dist.version
        reqs = set()
        for req in dist.requires or ():
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
            if match and "extra ==" not in req.replace('"', "").replace("'", ""):
                reqs.add(normalize(match.group(1)))
        requires[key] = frozenset(reqs)
    modules: dict[str, set[str]] = {}
    for top, dists in metadata.packages_distributions().items():
        modules.setdefault(top, set()).update(normalize(d) for d in dists)
    return versions, requires, {k: frozenset(v) for k, v in modules.items()}


def installed() -> Mapping[str, str]:
    """Normalized distribution name -> version of everything importable."""
    return _metadata()[0]


def distributions_for_modules(top_level: Iterable[str]) -> set[str]:
    """The distributions providing these top-level modules, and everything they require."""
    _, requires, modules = _metadata()
    todo = [d for name in top_level for d in modules.get(name, ())]
    seen: set[str] = set()
    while todo:
        dist = todo.pop()
        if dist not in seen:
            seen.add(dist)
            todo.extend(requires.get(dist, ()))
    return seen


def current_value(key: str) -> str:
    """The value of an environment key now (a dist's version, or "absent")."""
    if key == PYTHON_KEY:
        return python_fingerprint()
    if key.startswith(DIST_PREFIX):
        return installed().get(key[len(DIST_PREFIX) :], "absent")
    return "unknown"
