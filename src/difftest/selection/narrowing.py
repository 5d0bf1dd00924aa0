"""Narrow an import-time change to the tests that can see it.

Every test that imported a module depends on the module's import-time blocks. When such a block
changes, the engine asks this module which of those tests can see the change:

1. The changed statements are found by comparing the stored name facts of the recorded version
   with the file now (:mod:`difftest.changes.names`). If any of them does more than bind names,
   if statements that stayed were reordered, or if either side has no facts, nothing is narrowed.
2. The changed names spread through every import-time statement of the project that mentions
   one: a statement that only binds names (``TIMEOUT = LIMIT * 2``, ``def f(x=LIMIT)``, ``from m
   import LIMIT``) adds the names it binds; any other (a call, a registration) marks its module:
   every test that imported that module is selected.
3. The modules whose import-time code the change reaches are imported in a fresh interpreter: a
   change that breaks importing (``1 / LIMIT`` with ``LIMIT = 0``) fails every importer, so
   nothing is narrowed then.
4. A test is selected when it ran a function that mentions a changed name; ran a function (or
   imported a module whose import-time code) that finds objects by itself (``sys.modules``,
   ``globals()``, ``import_module``, ``__subclasses__()``, reading source, unpickling); ran one
   that reads the names of an object handed to it (``vars(obj)``, ``getattr(obj, name)``) and
   also ran code that mentions a *referring* name (the changed names, the changed module's name,
   and whatever any import-time statement binds from them, with the name of a module whose
   namespace now holds one), since that object has to reach the reader through such code; or
   imported a marked module or a test module or conftest that imports a changed name or
   star-imports a changed module (pytest collects tests, fixtures and hooks from those by name,
   which no function there need mention). A function that only imports modules by name and
   that the test ran only at import time (``@name`` in its record) is watched while the
   project's modules are imported now (:mod:`difftest.selection.watch_imports`): it counts only
   if it read a changed name or did anything the watch cannot follow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from difftest.changes.names import (
    FINDS_MODULES,
    IMPORT_MARK,
    IMPORTS,
    IMPURE,
    PURE,
    REACHES,
    READS,
    NameFacts,
    Statement,
)
from difftest.model import ABSENT, MODULE_BLOCK, block_of

#: Module names that frameworks read by convention (Django's settings, a Flask config): their
#: names are read by code that is not the project's.
_CONFIG = r"settings|config|conf$"
#: pytest finds tests, fixtures, hooks and setup methods in these by name, unseen.
_TESTS = r"^conftest$|^test_|_test$"
_UNNARROWED = re.compile(f"{_CONFIG}|{_TESTS}", re.IGNORECASE)
_TESTS_RE = re.compile(_TESTS)


def _test_file(key: str) -> bool:
    """A test module or a conftest (which the watch does not import)."""
    return key.endswith(".py") and _TESTS_RE.search(key.rsplit("/", 1)[-1][:-3]) is not None


#: ``(files) -> None`` when every file imports now, else why not.
ImportCheck = Callable[[Collection[str]], "str | None"]


@dataclass(frozen=True)
class Watched:
    """What functions that import modules by computed names did while the project's modules
    were imported (:mod:`difftest.selection.watch_imports`): files are root-relative."""

    #: (file, qualified name) of each watched function that ran
    ran: frozenset[tuple[str, str]]
    #: (module file, attribute) read, written or listed (``__dict__``, ``dir()``)
    read: frozenset[tuple[str, str]]
    wrote: frozenset[tuple[str, str]]
    listed: frozenset[str]
    #: project modules they got hold of that something other than a module namespace keeps
    kept: frozenset[str]
    #: project modules they got hold of whose attributes could not be watched
    unwatched: frozenset[str]


#: ``(module files, [(file, qualname)]) -> Watched``, or why the watch could not be kept.
WatchCheck = Callable[[Collection[str], Collection[tuple[str, str]]], "Watched | str"]


@dataclass
class Narrowed:
    """The outcome for the deferred changes of one run."""

    #: version id -> None (not narrowed: every dependent test is selected) or the depset ids
    #: that can see the change, each with why.
    verdicts: dict[int, dict[int, str] | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _combined(statements: Sequence[Statement]) -> dict[str, tuple[str, ...]]:
    """Per identity, everything it stands for (statements binding the same names count as one:
    ``x = 1`` ... ``x = 2``)."""
    parts: dict[str, list[str]] = {}
    for identity, kind, fingerprint, _uses in statements:
        parts.setdefault(identity, []).extend((kind, fingerprint))
    return {k: tuple(v) for k, v in parts.items()}


def _bound(identity: str, scope: str) -> list[str]:
    """The names a statement binds, and the class whose body holds it (a class-body edit
    changes what the class is)."""
    names = [] if identity.startswith("#") else identity.split(",")
    if scope:
        names.append(scope.split(".")[-1].split("#")[0])
    return names


def _uses(statements: Sequence[Statement], identity: str) -> set[str]:
    return {w for s in statements if s[0] == identity for w in s[3].split()}


def changed_names(old: NameFacts, new: NameFacts) -> set[str] | None:
    """The names whose binding differs between two versions of a file, or None when the change
    does more than bind names (or reorders what stayed)."""
    names: set[str] = set()
    changed = False
    for scope in set(old.scopes) | set(new.scopes):
        before = old.scopes.get(scope, [])
        after = new.scopes.get(scope, [])
        parts_before = _combined(before)
        parts_after = _combined(after)
        common = set(parts_before) & set(parts_after)
        if [s[0] for s in before if s[0] in common] != [s[0] for s in after if s[0] in common]:
            return None  # statements that stayed now run in another order
        for identity in set(parts_before) | set(parts_after):
            was, now = parts_before.get(identity), parts_after.get(identity)
            if was == now:
                continue
            changed = True
            kinds = {*(was or ())[0::2], *(now or ())[0::2]}
            if kinds - {PURE}:
                return None
            names.update(_bound(identity, scope))
            if identity == "__all__":
                # What a star import binds changes with the strings in __all__.
                names.update(_uses(before, identity) ^ _uses(after, identity))
    return names if changed else None


@dataclass
class _Spread:
    names: set[str]
    marked: set[str]
    touched: set[str]
    #: Names that may refer to a changed value or to a namespace holding one: the changed
    #: names, the changed module's name, and whatever any import-time statement binds from them.
    referring: set[str] = field(default_factory=set)
    #: Test modules and conftests that import a changed name or star-import a changed module:
    #: pytest finds tests, fixtures and hooks in them by name.
    collected: dict[str, str] = field(default_factory=dict)


def _names_file(dotted: str, key: str) -> bool:
    """Whether the module an import names may be file ``key`` (how far it is from the root
    depends on ``sys.path``)."""
    path = key[:-3].replace("/", ".").removesuffix(".__init__")
    dotted = dotted.lstrip(".")
    return path == dotted or path.endswith("." + dotted)


def module_name(key: str) -> str:
    """The name code uses for the module of ``key`` (its package's, for ``__init__.py``)."""
    parts = key[:-3].split("/")
    if parts[-1] == "__init__" and len(parts) > 1:
        return parts[-2]
    return parts[-1]


class _Project:
    """Every import-time statement of the project, indexed by the identifiers it mentions."""

    def __init__(self, facts: Mapping[str, Sequence[NameFacts]]) -> None:
        self.by_word: dict[str, list[tuple[str, str, Statement]]] = {}
        for key, versions in facts.items():
            for version in versions:
                for scope, statements in version.scopes.items():
                    for stmt in statements:
                        for word in stmt[3].split():
                            self.by_word.setdefault(word, []).append((key, scope, stmt))
        #: file -> how its import-time code reads names it does not mention
        self.dynamic = {k: max(v.dynamic for v in vs) for k, vs in facts.items()}
        self.facts = facts
        self.imported = [
            word[len(IMPORT_MARK) :] for word in self.by_word if word.startswith(IMPORT_MARK)
        ]

    def narrowable(self, key: str) -> bool:
        """Whether the tests importing ``key`` are the only code that can read its names: it is
        imported by an import statement of the project (not only by a framework, a plugin
        loader or ``importlib``), and it is no pytest plugin or configuration module."""
        stem = key.rsplit("/", 1)[-1][:-3]
        if self.dynamic.get(key, 0) >= FINDS_MODULES or _UNNARROWED.search(stem):
            return False
        dotted = key[:-3].replace("/", ".").removesuffix(".__init__")
        for name in self.imported:
            parts = name.split(".")
            for end in range(len(parts), 0, -1):
                prefix = ".".join(parts[:end])
                if dotted == prefix or dotted.endswith("." + prefix):
                    return True
        return False

    def _follow(
        self, seeds: set[str], *, only_binding: bool
    ) -> tuple[set[str], set[str], set[str]]:
        """(names, files whose statements pass them on, files whose statements use them
        otherwise). ``only_binding``: statements that do more than bind names stop the spread
        (they mark their file); otherwise every statement passes names on, and a statement
        binding one also passes on its module's name (its namespace now holds the value)."""
        names = set(seeds)
        touched: set[str] = set()
        marked: set[str] = set()
        todo = list(seeds)
        done: set[int] = set()
        while todo:
            word = todo.pop()
            for key, scope, stmt in self.by_word.get(word, ()):
                if id(stmt) in done:
                    continue
                done.add(id(stmt))
                if only_binding and stmt[1] == IMPURE:
                    marked.add(key)
                    continue
                touched.add(key)
                bound = _bound(stmt[0], scope)
                if not only_binding and bound:
                    bound.append(module_name(key))
                for name in bound:
                    if name not in names:
                        names.add(name)
                        todo.append(name)
        return names, touched, marked

    def spread(self, seeds: set[str], changed_files: Collection[str]) -> _Spread:
        """Propagate changed names through import-time statements (see the module docstring)."""
        names, touched, marked = self._follow(seeds, only_binding=True)
        marked |= {k for k, level in self.dynamic.items() if level >= FINDS_MODULES}
        referring, _, _ = self._follow(
            names | {module_name(k) for k in changed_files}, only_binding=False
        )
        spread = _Spread(names, marked, touched, referring)
        spread.collected = self._collected(names, changed_files)
        return spread

    def _collected(self, names: set[str], changed_files: Collection[str]) -> dict[str, str]:
        """The test modules and conftests whose namespace the change reaches, with why: pytest
        collects tests (``from checks import DoubleChecks as TestDouble``), fixtures and hooks
        from what they import, under any name, which no function of theirs need mention."""
        starred = set(changed_files)
        stars = self.star_imports
        # A module star-importing a changed module holds its names, and passes them on by a
        # star import of its own.
        grown = True
        while grown:
            grown = False
            for key, modules in stars.items():
                if key not in starred and any(_names_file(m, k) for m in modules for k in starred):
                    starred.add(key)
                    grown = True
        found: dict[str, str] = {}
        for key, versions in self.facts.items():
            if not _test_file(key):
                continue
            if any(_names_file(m, k) for m in stars.get(key, ()) for k in starred):
                found[key] = (
                    f"pytest collects by name what {key} star-imports from a changed module"
                )
                continue
            imported = sorted(
                name
                for version in versions
                for statements in version.scopes.values()
                for stmt in statements
                if stmt[1] == IMPORTS
                for name in stmt[0].split(",")
                if name in names and self._collectable(name, version)
            )
            if imported:
                found[key] = f"pytest collects by name what {key} imports: {imported[0]} changed"
        return found

    @cached_property
    def star_imports(self) -> dict[str, list[str]]:
        """file -> the dotted names of the modules it star-imports at module level."""
        return {
            key: [
                word[len(IMPORT_MARK) : -2]
                for version in versions
                for stmt in version.scopes.get("", ())
                if stmt[0] == "*"
                for word in stmt[3].split()
                if word.startswith(IMPORT_MARK) and word.endswith(".*")
            ]
            for key, versions in self.facts.items()
        }

    def _collectable(self, name: str, version: NameFacts) -> bool:
        """Whether pytest may pick up ``name``, imported into a test module or conftest, by
        itself: a test by its name, a fixture, or anything no function there mentions (an
        autouse fixture, ``pytestmark``, a test class under a name of pytest's
        ``python_classes``); a name the tests mention reaches them through their code."""
        if name.lower().startswith("test") or name in self.fixtures:
            return True
        return not any(name in uses for _level, uses in version.functions.values())

    @cached_property
    def fixtures(self) -> set[str]:
        """Names bound by statements mentioning ``fixture`` (``@pytest.fixture(autouse=True)``):
        a change to one may apply it to tests that do not ask for it."""
        return {
            name
            for versions in self.facts.values()
            for version in versions
            for statements in version.scopes.values()
            for stmt in statements
            if "fixture" in stmt[3].split()
            for name in _bound(stmt[0], "")
        }


@dataclass
class _Hits:
    #: Blocks whose dependents can see the change, each with why (block "*": every block of a
    #: version nothing is known of).
    found: dict[tuple[int, str], str] = field(default_factory=dict)
    #: Blocks that read names handed to them: such a dependent sees the change if it also ran a
    #: block of ``mentions``, which mentions a referring name.
    readers: dict[tuple[int, str], str] = field(default_factory=dict)
    mentions: set[tuple[int, str]] = field(default_factory=set)
    #: Functions that import modules by computed names: their dependents see the change, unless
    #: they only ran them at import time and a watch shows they read nothing changed.
    finders: dict[tuple[int, str], str] = field(default_factory=dict)
    #: What the watch showed, once asked: None, the finders are harmless; else why not.
    watch: str | None = "not watched"


def _hits(
    spread: _Spread,
    dynamic: Mapping[str, int],
    stored: Mapping[int, NameFacts],
    versions: Sequence[tuple[int, str, str]],
) -> _Hits:
    out = _Hits()
    hits, readers, mentions = out.found, out.readers, out.mentions
    for vid, key, hash_ in versions:
        version = stored.get(vid)
        level = dynamic.get(key, 0)
        if key in spread.collected:
            hits[(vid, MODULE_BLOCK)] = spread.collected[key]
        elif key in spread.marked:
            hits[(vid, MODULE_BLOCK)] = (
                f"{key} finds objects by itself at import time (sys.modules, globals()...)"
                if level >= FINDS_MODULES
                else f"{key} uses a changed name at import time in a way that is not only binding"
            )
        elif level == READS:
            readers[(vid, MODULE_BLOCK)] = f"{key} reads namespaces dynamically at import time"
            refers = {
                word
                for stmt in (version.scopes.get("", ()) if version is not None else ())
                if stmt[1] == IMPURE
                for word in stmt[3].split()
                if word in spread.referring
            }
            if refers:
                # What it reads can be handed over by its own statements, which no function
                # of a test's mentions (`globals().update(vars(limits))`).
                hits[(vid, MODULE_BLOCK)] = (
                    f"{key} reads namespaces dynamically at import time, in code naming "
                    f"{', '.join(sorted(refers)[:3])}"
                )
        if version is None:
            if key.endswith(".py") and hash_ != ABSENT:
                # What its functions mention was not recorded: any may use a changed name.
                hits[(vid, "*")] = f"nothing is known of the names {key} uses"
            continue
        for qualname, (reads, uses) in version.functions.items():
            used = uses & spread.names
            if used:
                hits[(vid, qualname)] = f"{key}::{qualname} uses {', '.join(sorted(used)[:3])}"
            elif reads == REACHES:
                hits[(vid, qualname)] = f"{key}::{qualname} finds objects by itself"
            elif reads == FINDS_MODULES:
                out.finders[(vid, qualname)] = f"{key}::{qualname} imports modules by name"
            elif reads == READS:
                why = f"{key}::{qualname} reads namespaces dynamically"
                if uses & spread.referring:
                    hits[(vid, qualname)] = why
                else:
                    readers[(vid, qualname)] = why
            if uses & spread.referring:
                mentions.add((vid, qualname))
    return out


def _watch_verdict(
    spread: _Spread, watched: Watched | str, wanted: set[tuple[str, str]]
) -> str | None:
    """None when the functions ``wanted`` ran while importing the project now and can have
    handed on nothing of the change; else why not."""
    if isinstance(watched, str):
        return watched
    missing = wanted - watched.ran
    if missing:
        file, qualname = sorted(missing)[0]
        return f"{file}::{qualname} did not run when the project's modules were imported"
    if watched.unwatched:
        return f"the attributes of {sorted(watched.unwatched)[0]} could not be watched"
    if watched.listed:
        return f"it listed the names of {sorted(watched.listed)[0]}"
    if watched.wrote:
        file, name = sorted(watched.wrote)[0]
        return f"it set {name} on {file}"
    changed = sorted((f, n) for f, n in watched.read if n in spread.names or f in spread.marked)
    if changed:
        file, name = changed[0]
        return f"it read {name} of {file}"
    if watched.kept:
        return f"it kept hold of module {sorted(watched.kept)[0]}"
    return None


def _called_by_tests(
    facts: Mapping[str, Sequence[NameFacts]],
    versions: Sequence[tuple[int, str, str]],
    stored: Mapping[int, NameFacts],
) -> set[str] | None:
    """The names of the functions that code test modules and conftests run when imported may
    call (the watch imports neither): what their statements that do more than bind names
    mention, and what the functions of those names mention, to a fixed point. None when such a
    file's facts are unknown."""
    todo: list[str] = []
    for vid, key, hash_ in versions:
        if not _test_file(key):
            continue
        version = stored.get(vid)
        if version is None:
            if hash_ != ABSENT:
                return None
            continue
        for statements in version.scopes.values():
            todo.extend(w for s in statements if s[1] == IMPURE for w in s[3].split())
    uses: dict[str, set[str]] = {}
    for versions_of_file in facts.values():
        for version in versions_of_file:
            for qualname, (_level, words) in version.functions.items():
                uses.setdefault(qualname.rsplit(".", 1)[-1], set()).update(words)
    called: set[str] = set()
    while todo:
        word = todo.pop()
        if word not in called:
            called.add(word)
            todo.extend(uses.get(word, ()))
    return called


def _watch_finders(
    hits: Mapping[frozenset[str], _Hits],
    spreads: Mapping[frozenset[str], _Spread],
    versions: Sequence[tuple[int, str, str]],
    current: Callable[[str], NameFacts | None],
    stale_keys: Collection[str],
    watch: WatchCheck | None,
    at_import: Collection[tuple[int, str]],
    tests_call: Callable[[], set[str] | None],
) -> None:
    """Import the project's modules now, watching the functions that import modules by name
    and that tests depend on for having run them at import time (``at_import``: (version,
    function)), once for every change; then say for each change whether what they did can have
    handed any of it on (``_Hits.watch``)."""
    keys = {vid: key for vid, key, _ in versions}
    ran = {n: {f for f in h.finders if f in at_import} for n, h in hits.items()}
    functions = {(keys[vid], q) for found in ran.values() for vid, q in found}
    if not functions:
        return
    if watch is None:
        for h in hits.values():
            h.watch = "it was not watched"
        return
    modules = sorted(
        {
            key
            for _, key, hash_ in versions
            if key.endswith(".py")
            and not _test_file(key)
            and (current(key) is not None if key in stale_keys else hash_ != ABSENT)
        }
    )
    watched = watch(modules, sorted(functions))
    called = tests_call()
    for names, h in hits.items():
        wanted = {(keys[vid], q) for vid, q in ran[names]}
        unseen = sorted(f for f in wanted if called is None or f[1].rsplit(".", 1)[-1] in called)
        h.watch = (
            f"{unseen[0][0]}::{unseen[0][1]} may be called by a test module or conftest when it "
            "is imported, which the watch does not import"
            if unseen
            else _watch_verdict(spreads[names], watched, wanted)
        )


def narrow(
    deferred: Mapping[int, str],
    stored: Mapping[int, NameFacts],
    versions: Sequence[tuple[int, str, str]],
    current: Callable[[str], NameFacts | None],
    stale_keys: Collection[str],
    deps_of_versions: Callable[[Sequence[int]], list[tuple[int, int, str, str]]],
    importable: ImportCheck,
    watch: WatchCheck | None = None,
) -> Narrowed:
    """Decide which tests can see the import-time changes of ``deferred`` (version id -> file).

    ``stored``: the name facts of recorded Python file versions; ``current(path)``: a file's
    facts now; ``stale_keys``: files that differ from some recorded version. Each recorded
    version is judged by what differs between it and now."""
    out = Narrowed()
    facts: dict[str, list[NameFacts]] = {}
    for vid, key, _hash in versions:
        if vid in stored:
            facts.setdefault(key, []).append(stored[vid])
    for key in stale_keys:
        now = current(key) if key.endswith(".py") else None
        if now is not None:
            facts.setdefault(key, []).append(now)
    project = _Project(facts)

    seeds: dict[int, frozenset[str]] = {}
    for vid, key in deferred.items():
        out.verdicts[vid] = None
        old, new = stored.get(vid), current(key)
        if old is None or new is None or not project.narrowable(key):
            continue
        changed = changed_names(old, new)
        if changed is not None:
            seeds[vid] = frozenset(changed)
    if not seeds:
        return out

    spreads = {
        names: project.spread(set(names), [deferred[v] for v, n in seeds.items() if n == names])
        for names in set(seeds.values())
    }
    touched = {deferred[vid] for vid in seeds}
    for spread in spreads.values():
        touched |= spread.touched - spread.marked
    problem = importable(sorted(touched))
    if problem is not None:
        out.warnings.append(
            f"after the change, {problem} (imported in a fresh interpreter), so the change is "
            "not narrowed: every test that imported the changed modules runs."
        )
        return out

    hits = {
        names: _hits(spread, project.dynamic, stored, versions) for names, spread in spreads.items()
    }
    wanted = sorted(
        {
            vid
            for h in hits.values()
            for part in (h.found, h.readers, h.mentions, h.finders)
            for vid, _ in part
        }
    )
    rows = deps_of_versions(wanted)
    at_import = {(vid, block_of(name)) for _, vid, name, _ in rows if block_of(name) != name}
    _watch_finders(
        hits,
        spreads,
        versions,
        current,
        stale_keys,
        watch,
        at_import,
        lambda: _called_by_tests(facts, versions, stored),
    )
    for names, h in hits.items():
        why: dict[int, str] = {}
        reading: dict[int, str] = {}
        mentioning: set[int] = set()
        for depset_id, vid, name, _fp in rows:
            block = block_of(name)
            reason = h.found.get((vid, block)) or h.found.get((vid, "*"))
            if reason is None and (vid, block) in h.finders:
                if block == name:
                    reason = h.finders[(vid, block)]
                elif h.watch is not None:
                    reason = f"{h.finders[(vid, block)]} at import time, and {h.watch}"
            if reason is not None and depset_id not in why:
                why[depset_id] = reason
            if (vid, block) in h.readers:
                reading.setdefault(depset_id, h.readers[(vid, block)])
            if (vid, block) in h.mentions:
                mentioning.add(depset_id)
        for depset_id in mentioning:
            if depset_id in reading and depset_id not in why:
                why[depset_id] = (
                    reading[depset_id] + ", and a test code path refers to what changed"
                )
        for vid, seed in seeds.items():
            if seed == names:
                out.verdicts[vid] = why
    return out
